//! One direction of a TCP connection: puts segments back in sequence
//! order. In-order payload is handed on without a copy; only segments that
//! arrive early are copied, up to a per-direction limit.
//!
//! Overlap policy: the first copy of a byte wins (as Windows and BSD
//! stacks do): bytes already delivered are never delivered again, and an
//! early segment that lands on an already buffered offset keeps the longer
//! of the two copies.

use std::collections::BTreeMap;

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

#[derive(Debug)]
struct Early {
    data: Vec<u8>,
    frame: u64,
    ts: Timestamp,
}

/// Reassembly state of one direction.
#[derive(Debug, Default)]
pub struct HalfStream {
    /// Next expected sequence number; `None` until the first segment.
    next: Option<Seq>,
    /// Stream offset of `next` (bytes delivered plus gaps).
    pub offset: u64,
    /// Segments ahead of `next`, by stream offset.
    early: BTreeMap<u64, Early>,
    pub early_bytes: usize,
    pub fin: bool,
    /// The connection's handshake was seen for this direction (else the
    /// capture picked the stream up in its middle).
    pub saw_syn: bool,
    /// Counters.
    pub delivered: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub retransmitted: u64,
    /// Early segments that overlapped a held one with different bytes
    /// (the held copy is kept). Overlaps with bytes already handed on are
    /// not compared: they are no longer held.
    pub conflicts: u64,
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

    /// Takes one segment; calls `out` for every piece that becomes
    /// in-order. Returns the change in buffered bytes (may be negative).
    pub fn segment<'a>(
        &mut self,
        seq: Seq,
        chunk: Chunk<'a>,
        early_limit: usize,
        out: &mut dyn FnMut(Piece<'_>),
    ) -> isize {
        let before = self.early_bytes as isize;
        let next = *self.next.get_or_insert(seq);
        let delta = next.delta(seq);
        let data = chunk.data;
        if delta <= 0 {
            let skip = delta.unsigned_abs();
            if skip >= data.len() as u64 {
                if !data.is_empty() {
                    self.retransmitted += data.len() as u64;
                }
                return 0;
            }
            self.retransmitted += skip;
            let fresh = &data[skip as usize..];
            self.deliver(Chunk { data: fresh, ..chunk }, out);
            self.drain(out);
        } else if !data.is_empty() {
            let at = self.offset + delta as u64;
            let common = self.early.get(&at).map_or(0, |e| e.data.len().min(data.len()));
            if common > 0 && self.early.get(&at).is_some_and(|e| e.data[..common] != data[..common]) {
                self.conflicts += 1;
            }
            match self.early.get(&at) {
                Some(e) if e.data.len() >= data.len() => self.retransmitted += data.len() as u64,
                old => {
                    // First copy wins: a longer copy only adds its tail.
                    let mut kept = old.map_or_else(Vec::new, |e| e.data.clone());
                    let old_len = kept.len();
                    kept.extend_from_slice(&data[old_len..]);
                    self.early_bytes = self.early_bytes - old_len + kept.len();
                    self.early.insert(at, Early { data: kept, frame: chunk.frame, ts: chunk.ts });
                }
            }
            if self.early_bytes > early_limit {
                // Waiting longer would exceed the limit: give up on the hole.
                self.skip_to_first_early(out);
            }
        }
        self.early_bytes as isize - before
    }

    fn deliver(&mut self, chunk: Chunk<'_>, out: &mut dyn FnMut(Piece<'_>)) {
        let n = chunk.data.len() as u64;
        if n == 0 {
            return;
        }
        out(Piece::Data(chunk));
        self.offset += n;
        self.delivered += n;
        if let Some(s) = self.next.as_mut() {
            *s = s.advance(n as u32);
        }
    }

    /// Delivers buffered segments that are now in order.
    fn drain(&mut self, out: &mut dyn FnMut(Piece<'_>)) {
        while let Some(entry) = self.early.first_entry() {
            let at = *entry.key();
            if at > self.offset {
                break;
            }
            let e = entry.remove();
            self.early_bytes -= e.data.len();
            let skip = (self.offset - at) as usize;
            if skip < e.data.len() {
                self.retransmitted += skip as u64;
                self.deliver(Chunk { data: &e.data[skip..], frame: e.frame, ts: e.ts }, out);
            } else {
                self.retransmitted += e.data.len() as u64;
            }
        }
    }

    /// Records a gap up to the first buffered segment, then delivers.
    fn skip_to_first_early(&mut self, out: &mut dyn FnMut(Piece<'_>)) {
        if let Some((&at, _)) = self.early.first_key_value() {
            let len = at - self.offset;
            if len > 0 {
                out(Piece::Gap(len));
                self.gaps += 1;
                self.gap_bytes += len;
                self.offset = at;
                if let Some(s) = self.next.as_mut() {
                    *s = s.advance(len as u32);
                }
            }
            self.drain(out);
        }
    }

    /// Declares `len` bytes at the current position lost (snaplen cut).
    pub fn lost(&mut self, len: u64, out: &mut dyn FnMut(Piece<'_>)) {
        if len == 0 {
            return;
        }
        out(Piece::Gap(len));
        self.gaps += 1;
        self.gap_bytes += len;
        self.offset += len;
        if let Some(s) = self.next.as_mut() {
            *s = s.advance(len as u32);
        }
        self.drain(out);
    }

    /// Flushes everything still buffered, with gaps over the holes. Returns
    /// the bytes released.
    pub fn finish(&mut self, out: &mut dyn FnMut(Piece<'_>)) -> usize {
        let before = self.early_bytes;
        while !self.early.is_empty() {
            self.skip_to_first_early(out);
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
        let mut out = |p: Piece<'_>| match p {
            Piece::Data(c) => bytes.extend_from_slice(c.data),
            Piece::Gap(n) => gaps.push(n),
        };
        for (i, (off, d)) in segs.iter().enumerate() {
            let chunk = Chunk { data: d, frame: i as u64 + 1, ts: Timestamp::default() };
            h.segment(Seq(u32::MAX - 2).advance(*off), chunk, limit, &mut out);
        }
        h.finish(&mut out);
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
        h.segment(Seq(104), c(b"FGH"), 1 << 20, &mut out);
        h.segment(Seq(104), c(b"XGHIJ"), 1 << 20, &mut out);
        h.segment(Seq(100), c(b"ABCD"), 1 << 20, &mut out);
        assert_eq!(bytes, b"ABCDFGHIJ");
        assert_eq!(h.conflicts, 1);
    }

    #[test]
    fn hole_becomes_gap_at_finish() {
        let (b, g) = run(&[(0, b"abc"), (6, b"ghi")], 1 << 20);
        assert_eq!(b, b"abcghi");
        assert_eq!(g, vec![3]);
    }

    #[test]
    fn early_limit_forces_gap() {
        let (b, g) = run(&[(0, b"ab"), (5, b"fghij"), (10, b"klmno")], 6);
        assert_eq!(b, b"abfghijklmno");
        assert_eq!(g, vec![3]);
    }
}
