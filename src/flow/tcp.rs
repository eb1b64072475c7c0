//! One direction of a TCP connection: puts segments back in sequence
//! order. In-order payload is handed on without a copy; only segments that
//! arrive early are copied, up to a per-direction limit.
//!
//! Overlap policy: the first copy of a byte wins (as Windows and BSD
//! stacks do): bytes already delivered are never delivered again, and an
//! early segment that lands on bytes already held keeps the held copy
//! (adding only what it has beyond them at the same offset).
//!
//! What is held is charged at what it costs in memory, not only its
//! payload: a flood of one-byte segments hits the limit as soon as the
//! memory it takes does.

use std::collections::BTreeMap;

use super::FlowStats;
use crate::util::Timestamp;

/// A TCP sequence number: arithmetic wraps at 2^32.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seq(pub u32);

impl Seq {
    /// Signed distance from `self` to `other` (positive: `other` is ahead).
    pub fn delta(self, other: Seq) -> i64 {
        i64::from(other.0.wrapping_sub(self.0) as i32)
    }

    pub fn advance(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}

/// A piece of the byte stream, with the frame that carried it.
#[derive(Clone, Copy, Debug)]
pub struct Chunk<'a> {
    pub data: &'a [u8],
    pub frame: u64,
    pub ts: Timestamp,
}

/// What reassembly produces, in stream order.
#[derive(Debug)]
pub enum Piece<'a> {
    Data(Chunk<'a>),
    /// `len` bytes were never seen; the stream goes on after them.
    Gap(u64),
}

/// What holding one early segment costs besides its bytes: its slot in
/// the B-tree (key, vector header, frame and time: 56 bytes, nodes between
/// half and wholly full, so up to twice that) and the allocator's header.
/// Measured: one million one-byte segments held took 145 MB, 145 bytes
/// each; this and the rounded bytes charge 144.
pub const SEGMENT_OVERHEAD: usize = 128;
/// Allocations are rounded up to this many bytes.
const ALLOC_UNIT: usize = 16;
/// Early segments that touch are merged while the result stays this
/// small: a flood of tiny segments costs a node per 256 bytes, not per
/// byte, and ordinary segments (an MSS is 536 to 1460 bytes) are never
/// merged, so each keeps the frame that carried it.
const COALESCE_MAX: usize = 256;

/// What holding `data` costs against the limits.
fn cost(data: &Vec<u8>) -> usize {
    SEGMENT_OVERHEAD.saturating_add(data.capacity().next_multiple_of(ALLOC_UNIT))
}

#[derive(Debug)]
struct Early {
    data: Vec<u8>,
    frame: u64,
    ts: Timestamp,
}

/// Segments held ahead of the next expected byte; allocated by the first
/// such segment and freed when the last is handed on, so a direction that
/// arrives in order costs one pointer.
#[derive(Debug, Default)]
struct Held {
    /// By stream offset.
    segs: BTreeMap<u64, Early>,
    /// What they cost: bytes plus [`SEGMENT_OVERHEAD`] each.
    cost: usize,
}

/// Reassembly state of one direction: 32 bytes while nothing is held.
/// Its counters go straight to the table's [`FlowStats`].
#[derive(Debug, Default)]
pub struct HalfStream {
    /// Next expected sequence number; `None` until the first segment.
    next: Option<Seq>,
    /// Stream offset of `next` (bytes delivered plus gaps).
    pub offset: u64,
    held: Option<Box<Held>>,
    pub fin: bool,
    /// The connection's handshake was seen for this direction (else the
    /// capture picked the stream up in its middle).
    pub saw_syn: bool,
    /// Some byte of this direction was handed on.
    pub delivered_any: bool,
}

impl HalfStream {
    /// Sets the initial sequence number from a SYN: data starts at ISN+1.
    pub fn syn(&mut self, isn: Seq) {
        self.saw_syn = true;
        if self.next.is_none() {
            self.next = Some(isn.advance(1));
        }
    }

    pub fn started(&self) -> bool {
        self.next.is_some()
    }

    /// What the held early segments cost against the limits.
    pub fn held_cost(&self) -> usize {
        self.held.as_ref().map_or(0, |h| h.cost)
    }

    /// Takes one segment; calls `out` for every piece that becomes
    /// in-order. `early_limit` bounds what held segments cost
    /// ([`SEGMENT_OVERHEAD`] each plus their bytes). Returns the change in
    /// that cost (may be negative).
    pub fn segment<'a>(
        &mut self,
        seq: Seq,
        chunk: Chunk<'a>,
        early_limit: usize,
        st: &mut FlowStats,
        out: &mut dyn FnMut(Piece<'_>),
    ) -> isize {
        let before = self.held_cost() as isize;
        let next = *self.next.get_or_insert(seq);
        let delta = next.delta(seq);
        let data = chunk.data;
        if delta <= 0 {
            let skip = delta.unsigned_abs();
            if skip >= data.len() as u64 {
                st.retransmitted_bytes += data.len() as u64;
                return 0;
            }
            st.retransmitted_bytes += skip;
            let fresh = &data[skip as usize..];
            self.deliver(Chunk { data: fresh, ..chunk }, st, out);
            self.drain(st, out);
        } else if !data.is_empty() {
            let at = self.offset + delta as u64;
            self.hold(at, chunk, st);
            if self.held_cost() > early_limit {
                // Waiting longer would exceed the limit: give up on the
                // holes until what is held fits.
                st.early_limit_hits += 1;
                while self.held_cost() > early_limit {
                    self.skip_to_first_early(st, out);
                }
            }
        }
        self.held_cost() as isize - before
    }

    /// Holds an early segment at stream offset `at`. First copy wins: a
    /// held copy that covers it keeps its bytes (a difference is counted
    /// as a conflict); a longer copy at the same offset only adds its tail.
    fn hold(&mut self, at: u64, chunk: Chunk<'_>, st: &mut FlowStats) {
        let data = chunk.data;
        let len = data.len() as u64;
        let held = self.held.get_or_insert_with(Box::default);
        if let Some((&start, e)) = held.segs.range_mut(..=at).next_back() {
            let end = start + e.data.len() as u64;
            let off = (at - start) as usize;
            let common = e.data.len().saturating_sub(off).min(data.len());
            if common > 0 && e.data[off..off + common] != data[..common] {
                st.overlap_conflicts += 1;
            }
            if end >= at + len {
                st.retransmitted_bytes += len;
                return;
            }
            let adjacent = end == at && e.data.len() + data.len() <= COALESCE_MAX;
            if start == at || adjacent {
                held.cost -= cost(&e.data);
                let kept = e.data.len() - off;
                e.data.extend_from_slice(&data[kept..]);
                held.cost += cost(&e.data);
                if start == at {
                    (e.frame, e.ts) = (chunk.frame, chunk.ts);
                }
                return;
            }
        }
        let mut kept = data.to_vec();
        // A small segment just before a small held one: one node for both.
        let after = at + len;
        if let Some(next) = held.segs.get(&after)
            && next.data.len() + data.len() <= COALESCE_MAX
            && let Some(next) = held.segs.remove(&after)
        {
            held.cost -= cost(&next.data);
            kept.extend_from_slice(&next.data);
            kept.shrink_to_fit();
        }
        held.cost += cost(&kept);
        held.segs.insert(at, Early { data: kept, frame: chunk.frame, ts: chunk.ts });
    }

    fn deliver(&mut self, chunk: Chunk<'_>, st: &mut FlowStats, out: &mut dyn FnMut(Piece<'_>)) {
        let n = chunk.data.len() as u64;
        if n == 0 {
            return;
        }
        out(Piece::Data(chunk));
        self.offset += n;
        st.bytes_delivered += n;
        self.delivered_any = true;
        if let Some(s) = self.next.as_mut() {
            *s = s.advance(n as u32);
        }
    }

    /// Delivers held segments that are now in order; frees the store once
    /// it is empty.
    fn drain(&mut self, st: &mut FlowStats, out: &mut dyn FnMut(Piece<'_>)) {
        let Some(mut held) = self.held.take() else { return };
        while let Some(entry) = held.segs.first_entry() {
            let at = *entry.key();
            if at > self.offset {
                break;
            }
            let e = entry.remove();
            held.cost -= cost(&e.data);
            let skip = (self.offset - at) as usize;
            if skip < e.data.len() {
                st.retransmitted_bytes += skip as u64;
                self.deliver(Chunk { data: &e.data[skip..], frame: e.frame, ts: e.ts }, st, out);
            } else {
                st.retransmitted_bytes += e.data.len() as u64;
            }
        }
        if !held.segs.is_empty() {
            self.held = Some(held);
        }
    }

    /// Records a gap up to the first held segment, then delivers.
    fn skip_to_first_early(&mut self, st: &mut FlowStats, out: &mut dyn FnMut(Piece<'_>)) {
        let Some(at) = self.held.as_ref().and_then(|h| h.segs.first_key_value()).map(|(at, _)| *at) else {
            self.held = None;
            return;
        };
        let len = at - self.offset;
        if len > 0 {
            out(Piece::Gap(len));
            st.gaps += 1;
            st.gap_bytes += len;
            self.offset = at;
            if let Some(s) = self.next.as_mut() {
                *s = s.advance(len as u32);
            }
        }
        self.drain(st, out);
    }

    /// Declares `len` bytes at the current position lost (snaplen cut).
    pub fn lost(&mut self, len: u64, st: &mut FlowStats, out: &mut dyn FnMut(Piece<'_>)) {
        if len == 0 {
            return;
        }
        out(Piece::Gap(len));
        st.gaps += 1;
        st.gap_bytes += len;
        self.offset += len;
        if let Some(s) = self.next.as_mut() {
            *s = s.advance(len as u32);
        }
        self.drain(st, out);
    }

    /// Flushes everything still held, with gaps over the holes. Returns
    /// the cost released.
    pub fn finish(&mut self, st: &mut FlowStats, out: &mut dyn FnMut(Piece<'_>)) -> usize {
        let before = self.held_cost();
        while self.held.is_some() {
            self.skip_to_first_early(st, out);
        }
        before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(segs: &[(u32, &[u8])], limit: usize) -> (Vec<u8>, Vec<u64>) {
        let mut h = HalfStream::default();
        h.syn(Seq(u32::MAX - 3)); // wraps during the test
        let mut bytes = Vec::new();
        let mut gaps = Vec::new();
        let mut st = FlowStats::default();
        let mut out = |p: Piece<'_>| match p {
            Piece::Data(c) => bytes.extend_from_slice(c.data),
            Piece::Gap(n) => gaps.push(n),
        };
        for (i, (off, d)) in segs.iter().enumerate() {
            let chunk = Chunk { data: d, frame: i as u64 + 1, ts: Timestamp::default() };
            h.segment(Seq(u32::MAX - 2).advance(*off), chunk, limit, &mut st, &mut out);
        }
        h.finish(&mut st, &mut out);
        (bytes, gaps)
    }

    #[test]
    fn in_order_across_wrap() {
        let (b, g) = run(&[(0, b"GET "), (4, b"/ HT"), (8, b"TP/1.1")], 1 << 20);
        assert_eq!(b, b"GET / HTTP/1.1");
        assert!(g.is_empty());
    }

    #[test]
    fn reordered_and_retransmitted() {
        let (b, g) = run(&[(4, b"/ HT"), (0, b"GET "), (0, b"GET / "), (8, b"TP/1.1"), (8, b"TP")], 1 << 20);
        assert_eq!(b, b"GET / HTTP/1.1");
        assert!(g.is_empty());
    }

    #[test]
    fn first_copy_wins_and_conflicts_are_counted() {
        let mut h = HalfStream::default();
        h.syn(Seq(99));
        let mut bytes = Vec::new();
        let mut out = |p: Piece<'_>| {
            if let Piece::Data(c) = p {
                bytes.extend_from_slice(c.data)
            }
        };
        let c = |d: &'static [u8]| Chunk { data: d, frame: 1, ts: Timestamp::default() };
        let mut st = FlowStats::default();
        h.segment(Seq(104), c(b"FGH"), 1 << 20, &mut st, &mut out);
        h.segment(Seq(104), c(b"XGHIJ"), 1 << 20, &mut st, &mut out);
        h.segment(Seq(100), c(b"ABCD"), 1 << 20, &mut st, &mut out);
        assert_eq!(bytes, b"ABCDFGHIJ");
        assert_eq!(st.overlap_conflicts, 1);
    }

    #[test]
    fn hole_becomes_gap_at_finish() {
        let (b, g) = run(&[(0, b"abc"), (6, b"ghi")], 1 << 20);
        assert_eq!(b, b"abcghi");
        assert_eq!(g, vec![3]);
    }

    #[test]
    fn early_limit_forces_gap() {
        // Two held segments cost more than the limit, one fits.
        let limit = SEGMENT_OVERHEAD + 16;
        let (b, g) = run(&[(0, b"ab"), (5, b"fghij"), (11, b"lmnop")], limit);
        assert_eq!(b, b"abfghijlmnop");
        assert_eq!(g, vec![3, 1]);
    }

    /// Feeds one-byte segments (stream offsets) to a direction whose first
    /// byte never comes; returns what is held, its cost and the stats.
    fn hold_bytes(offsets: impl Iterator<Item = u32>, limit: usize) -> (usize, usize, FlowStats) {
        let mut h = HalfStream::default();
        h.syn(Seq(0));
        let mut st = FlowStats::default();
        for (i, off) in offsets.enumerate() {
            let chunk = Chunk { data: b"x", frame: i as u64, ts: Timestamp::default() };
            h.segment(Seq(1).advance(off), chunk, limit, &mut st, &mut |_| {});
        }
        let segs = h.held.as_ref().map_or(0, |x| x.segs.len());
        (segs, h.held_cost(), st)
    }

    /// One-byte segments are charged what holding them costs: the limit
    /// holds limit / (overhead + 16) of them, not `limit` of them, and
    /// gives up on a hole for each one past it.
    #[test]
    fn held_segments_are_charged_their_overhead() {
        let limit = 1 << 20;
        let per = SEGMENT_OVERHEAD + ALLOC_UNIT;
        let (segs, cost, st) = hold_bytes((0..100_000).map(|i| 1 + 2 * i), limit);
        assert_eq!(segs, limit / per);
        assert!(cost <= limit);
        assert_eq!(st.early_limit_hits, 100_000 - (limit / per) as u64);
        assert_eq!(st.gaps, st.early_limit_hits);
        assert_eq!(st.bytes_delivered, st.early_limit_hits);
    }

    /// Adjacent small segments share a node, whichever order they come
    /// in; the bytes come out whole.
    #[test]
    fn adjacent_small_segments_are_merged() {
        let (segs, _, st) = hold_bytes(1..=1000, 1 << 20);
        assert_eq!(segs, 1000usize.div_ceil(COALESCE_MAX));
        assert_eq!(st.early_limit_hits, 0);
        let (segs, _, _) = hold_bytes((1..=1000).rev(), 1 << 20);
        assert_eq!(segs, 1000usize.div_ceil(COALESCE_MAX));
        let segs: Vec<(u32, &[u8])> = vec![(3, b"d"), (1, b"b"), (2, b"c"), (4, b"e"), (0, b"a")];
        assert_eq!(run(&segs, 1 << 20), (b"abcde".to_vec(), vec![]));
    }

    /// A copy that lands inside a held (merged) segment is a
    /// retransmission, and a different one a conflict; the first copy is
    /// what comes out.
    #[test]
    fn copies_inside_merged_segments_keep_the_first() {
        let segs: Vec<(u32, &[u8])> = vec![(2, b"c"), (3, b"d"), (4, b"e"), (3, b"X"), (3, b"d"), (0, b"ab")];
        assert_eq!(run(&segs, 1 << 20), (b"abcde".to_vec(), vec![]));
        let mut h = HalfStream::default();
        h.syn(Seq(0));
        let mut st = FlowStats::default();
        for (off, d) in &segs {
            let chunk = Chunk { data: d, frame: 1, ts: Timestamp::default() };
            h.segment(Seq(1).advance(*off), chunk, 1 << 20, &mut st, &mut |_| {});
        }
        assert_eq!((st.overlap_conflicts, st.retransmitted_bytes), (1, 2));
        // Everything was handed on: the store is freed.
        assert!(h.held.is_none());
    }
}
