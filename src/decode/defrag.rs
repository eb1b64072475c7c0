//! IPv4 and IPv6 fragment reassembly under a memory cap and a timeout.
//!
//! Fragments are keyed by source, destination, protocol and id. Overlap
//! policy: the first copy of a byte wins (bytes already held are never
//! overwritten); a later fragment that disagrees with held bytes is
//! counted as a conflict. A datagram is complete when its last fragment
//! (no more-fragments flag) has arrived and no hole remains.
//!
//! Every fragment costs O(log n), whatever is held: the byte ranges of a
//! datagram are a sorted map (a fragment touches only its neighbours), and
//! datagrams wait in a heap ordered by first sight, so the timeout and the
//! memory cap look only at the oldest. The table is keyed by values the
//! capture chooses, so its hash is keyed (std's `RandomState`). What is
//! held is counted as it costs: buffers by capacity, plus the bookkeeping
//! of each datagram and each disjoint range.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::net::IpAddr;

use crate::util::Timestamp;

/// Named limits of reassembly.
#[derive(Clone, Copy, Debug)]
pub struct DefragLimits {
    /// Bytes held across all incomplete datagrams, bookkeeping included;
    /// beyond it the oldest are dropped.
    pub max_bytes: usize,
    /// Seconds (capture clock) an incomplete datagram is kept.
    pub timeout_secs: i64,
    /// Incomplete datagrams held at once; beyond it the oldest is dropped.
    pub max_datagrams: usize,
    /// Fragments (duplicates included) one datagram may take; a datagram
    /// cut finer is dropped. Real ones have a few dozen at most.
    pub max_fragments: u64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits { max_bytes: 16 << 20, timeout_secs: 30, max_datagrams: 16_384, max_fragments: 1024 }
    }
}

/// Largest IP datagram (16-bit total length).
const MAX_DATAGRAM: usize = 65_535;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub id: u32,
}

#[derive(Debug)]
struct Pending {
    first_seen: Timestamp,
    /// Tells this datagram's heap entry from those of earlier datagrams
    /// with the same key.
    serial: u64,
    data: Vec<u8>,
    /// Byte ranges held, `start -> end`, disjoint and not adjacent.
    have: BTreeMap<usize, usize>,
    total: Option<usize>,
    fragments: u64,
    /// Bytes this datagram counts in [`Defrag::held`].
    cost: usize,
}

/// A heap entry: the oldest datagram first.
type Age = Reverse<(Timestamp, u64, FragKey)>;

/// What the allocator adds to each allocation, about.
const ALLOC_OVERHEAD: usize = 16;
/// A B-tree leaf of `usize -> usize`: 11 keys and values, parent link,
/// lengths.
const BTREE_LEAF: usize = 11 * 16 + 16;
/// Bookkeeping of one datagram: its table slot (twice: the table grows
/// by doubling), its heap entry (twice: the heap may hold a stale one
/// and grows by doubling), the leaf of its first range, two allocations.
const DATAGRAM_COST: usize =
    2 * (size_of::<FragKey>() + size_of::<Pending>() + 1) + 2 * size_of::<Age>() + BTREE_LEAF + 2 * ALLOC_OVERHEAD;
/// Each further disjoint range: a leaf's share at its minimum fill (5 of
/// 11 entries), inner nodes included.
const RANGE_COST: usize = 48;

impl Pending {
    fn cost(&self) -> usize {
        DATAGRAM_COST + self.data.capacity() + self.have.len().saturating_sub(1) * RANGE_COST
    }

    fn complete(&self) -> bool {
        self.total.is_some_and(|t| self.have.first_key_value().is_some_and(|(&s, &e)| s == 0 && e >= t))
    }
}

/// Counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    pub fragments: u64,
    pub reassembled: u64,
    /// Fragments that ended up in a reassembled datagram.
    pub fragments_used: u64,
    pub conflicts: u64,
    pub timed_out: u64,
    /// Fragments past 65,535 bytes, and datagrams dropped to stay within
    /// [`DefragLimits::max_bytes`] or [`DefragLimits::max_datagrams`].
    pub dropped_over_limit: u64,
    /// Datagrams dropped at [`DefragLimits::max_fragments`].
    pub too_many_fragments: u64,
}

#[derive(Debug, Default)]
pub struct Defrag {
    pending: HashMap<FragKey, Pending>,
    /// Every pending datagram by first sight (plus stale entries of
    /// datagrams gone, skipped when met and purged when they pile up).
    ages: BinaryHeap<Age>,
    next_serial: u64,
    held: usize,
    limits: DefragLimits,
    pub stats: DefragStats,
}

impl Defrag {
    pub fn new(limits: DefragLimits) -> Self {
        Defrag { limits, ..Default::default() }
    }

    /// Adds a fragment at byte `offset`; `more` is the more-fragments
    /// flag. When it completes its datagram, the payload is written to
    /// `out` and true is returned.
    pub fn add(
        &mut self,
        key: FragKey,
        ts: Timestamp,
        offset: usize,
        more: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> bool {
        self.stats.fragments += 1;
        let Some(end) = offset.checked_add(data.len()).filter(|&e| e <= MAX_DATAGRAM) else {
            self.stats.dropped_over_limit += 1;
            return false;
        };
        self.expire(ts);
        if !self.pending.contains_key(&key) {
            while self.pending.len() >= self.limits.max_datagrams.max(1) && self.drop_oldest() {
                self.stats.dropped_over_limit += 1;
            }
            let serial = self.next_serial;
            self.next_serial += 1;
            let p = Pending {
                first_seen: ts,
                serial,
                data: Vec::new(),
                have: BTreeMap::new(),
                total: None,
                fragments: 0,
                cost: DATAGRAM_COST,
            };
            self.held += p.cost;
            self.pending.insert(key, p);
            self.ages.push(Reverse((ts, serial, key)));
            self.purge_stale_ages();
        }
        let Some(p) = self.pending.get_mut(&key) else { return false };
        p.fragments += 1;
        if p.fragments > self.limits.max_fragments {
            self.remove(&key);
            self.stats.too_many_fragments += 1;
            return false;
        }
        if !more {
            p.total = Some(end);
        }
        if p.data.len() < end {
            // Grow by doubling (within the largest datagram): a datagram
            // sent front to back in tiny pieces must not copy its buffer
            // once per piece.
            let want = end.max(p.data.capacity().saturating_mul(2)).min(MAX_DATAGRAM);
            p.data.reserve_exact(want - p.data.len());
            p.data.resize(end, 0);
        }
        self.stats.conflicts += merge(p, offset, data);
        let cost = p.cost();
        self.held = self.held - p.cost + cost;
        p.cost = cost;
        if p.complete() {
            let total = p.total.unwrap_or(0);
            out.clear();
            out.extend_from_slice(&p.data[..total]);
            self.stats.reassembled += 1;
            self.stats.fragments_used += p.fragments;
            self.remove(&key);
            return true;
        }
        while self.held > self.limits.max_bytes && self.drop_oldest() {
            self.stats.dropped_over_limit += 1;
        }
        false
    }

    /// Drops the datagrams first seen more than the timeout before `now`.
    fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_secs;
        while let Some(Reverse((first_seen, _, _))) = self.oldest() {
            if now.secs.saturating_sub(first_seen.secs) <= timeout {
                break;
            }
            self.drop_oldest();
            self.stats.timed_out += 1;
        }
    }

    /// The heap entry of the oldest datagram still pending; stale entries
    /// on top are discarded on the way.
    fn oldest(&mut self) -> Option<Age> {
        while let Some(&Reverse((ts, serial, key))) = self.ages.peek() {
            if self.pending.get(&key).is_some_and(|p| p.serial == serial) {
                return Some(Reverse((ts, serial, key)));
            }
            self.ages.pop();
        }
        None
    }

    /// Drops the oldest datagram; false when none is held.
    fn drop_oldest(&mut self) -> bool {
        let Some(Reverse((_, _, key))) = self.oldest() else { return false };
        self.ages.pop();
        self.remove(&key);
        true
    }

    fn remove(&mut self, key: &FragKey) {
        if let Some(p) = self.pending.remove(key) {
            self.held -= p.cost;
        }
    }

    /// Rebuilds the heap when entries of datagrams gone (completed ones
    /// leave theirs behind) outnumber the live ones: amortised O(1).
    fn purge_stale_ages(&mut self) {
        if self.ages.len() > 2 * self.pending.len() + 64 {
            self.ages = self.pending.iter().map(|(k, p)| Reverse((p.first_seen, p.serial, *k))).collect();
        }
    }

    /// Incomplete datagrams still held (end of capture: never completed).
    pub fn incomplete(&self) -> usize {
        self.pending.len()
    }

    /// Bytes held for incomplete datagrams, bookkeeping included.
    pub fn held_bytes(&self) -> usize {
        self.held
    }
}

/// Puts `data` at `offset` into `p`: copies the bytes not held yet,
/// compares the others, and merges the ranges it touches. Returns the
/// number of held ranges it disagreed with. Visits only the ranges it
/// touches: O(log n) plus the ranges merged away.
fn merge(p: &mut Pending, offset: usize, data: &[u8]) -> u64 {
    let end = offset + data.len();
    let (mut lo, mut hi) = (offset, end);
    let mut at = offset;
    let mut conflicts = 0;
    let held = |at: usize, stop: usize, buf: &[u8]| u64::from(buf[at..stop] != data[at - offset..stop - offset]);
    // A range starting before the fragment that reaches into (or up to) it.
    if let Some((&s, &e)) = p.have.range(..offset).next_back()
        && e >= offset
    {
        let stop = e.min(end);
        if stop > at {
            conflicts += held(at, stop, &p.data);
            at = stop;
        }
        (lo, hi) = (s, hi.max(e));
        p.have.remove(&s);
    }
    // Ranges starting inside the fragment or right after it.
    while let Some((&s, &e)) = p.have.range(offset..=end).next() {
        if s > at {
            p.data[at..s].copy_from_slice(&data[at - offset..s - offset]);
            at = s;
        }
        let stop = e.min(end);
        if stop > at {
            conflicts += held(at, stop, &p.data);
            at = stop;
        }
        hi = hi.max(e);
        p.have.remove(&s);
    }
    if at < end {
        p.data[at..end].copy_from_slice(&data[at - offset..]);
    }
    if hi > lo {
        p.have.insert(lo, hi);
    }
    conflicts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragKey {
        FragKey { src: "10.0.0.1".parse().unwrap(), dst: "10.0.0.2".parse().unwrap(), proto: 6, id: 7 }
    }

    #[test]
    fn out_of_order_overlapping_duplicated() {
        let whole: Vec<u8> = (0..40u8).collect();
        let mut d = Defrag::new(DefragLimits::default());
        let mut out = Vec::new();
        let t = Timestamp::new(1, 0);
        assert!(!d.add(key(), t, 24, false, &whole[24..], &mut out));
        assert!(!d.add(key(), t, 8, true, &whole[8..16], &mut out));
        assert!(!d.add(key(), t, 8, true, &whole[8..16], &mut out));
        // Overlap with different bytes: the first copy wins.
        let mut evil = whole[12..24].to_vec();
        evil[0] = 0xff;
        assert!(!d.add(key(), t, 12, true, &evil, &mut out));
        assert!(d.add(key(), t, 0, true, &whole[..8], &mut out));
        assert_eq!(out, whole);
        assert_eq!(d.stats.conflicts, 1);
        assert_eq!(d.incomplete(), 0);
    }

    #[test]
    fn timeout_and_memory_cap() {
        // Room for two small datagrams with their bookkeeping, not for
        // one reaching past byte 1,000.
        let max_bytes = 2 * (DATAGRAM_COST + RANGE_COST) + 100;
        let mut d = Defrag::new(DefragLimits { max_bytes, timeout_secs: 5, ..Default::default() });
        let mut out = Vec::new();
        d.add(key(), Timestamp::new(1, 0), 0, true, &[1; 8], &mut out);
        let k2 = FragKey { id: 8, ..key() };
        d.add(k2, Timestamp::new(10, 0), 0, true, &[1; 8], &mut out);
        assert_eq!(d.stats.timed_out, 1);
        let k3 = FragKey { id: 9, ..key() };
        d.add(k3, Timestamp::new(10, 0), 1000, true, &[1; 8], &mut out);
        assert!(d.stats.dropped_over_limit >= 1);
        assert!(d.held <= max_bytes);
    }

    /// Adds the pieces of `whole` in order; the output of each call.
    fn feed(d: &mut Defrag, whole: &[u8], pieces: &[(usize, usize)], out: &mut Vec<u8>) -> Vec<bool> {
        let t = Timestamp::new(1, 0);
        pieces.iter().map(|&(s, e)| d.add(key(), t, s, e < whole.len(), &whole[s..e], out)).collect()
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![Vec::new()];
        }
        let mut all = Vec::new();
        for p in permutations(n - 1) {
            for at in 0..=p.len() {
                let mut q = p.clone();
                q.insert(at, n - 1);
                all.push(q);
            }
        }
        all
    }

    #[test]
    fn overlapping_contained_and_adjacent_pieces_in_every_order() {
        let whole: Vec<u8> = (0..48u8).collect();
        let pieces = [(0, 16), (8, 32), (16, 24), (24, 48), (40, 48)];
        for order in permutations(pieces.len()) {
            let seq: Vec<_> = order.iter().map(|&i| pieces[i]).collect();
            let mut d = Defrag::new(DefragLimits::default());
            let mut out = Vec::new();
            let done = feed(&mut d, &whole, &seq, &mut out);
            // Complete at the first piece after which no hole is left.
            let first = done.iter().position(|&x| x).unwrap_or_else(|| panic!("{seq:?} never completed"));
            let mut covered = [false; 48];
            for &(s, e) in &seq[..=first] {
                covered[s..e].iter_mut().for_each(|c| *c = true);
            }
            assert!(covered.iter().all(|&c| c), "{seq:?} completed with a hole");
            let mut before = [false; 48];
            for &(s, e) in &seq[..first] {
                before[s..e].iter_mut().for_each(|c| *c = true);
            }
            assert!(!before.iter().all(|&c| c), "{seq:?} completed late");
            assert_eq!(d.stats.reassembled, 1);
            assert_eq!(d.stats.conflicts, 0);
            assert_eq!(out, whole, "{seq:?}");
        }
    }

    #[test]
    fn small_pieces_front_to_back_and_back_to_front() {
        let whole: Vec<u8> = (0..200u8).collect();
        let mut pieces: Vec<(usize, usize)> = (0..25).map(|i| (i * 8, i * 8 + 8)).collect();
        for _ in 0..2 {
            let mut d = Defrag::new(DefragLimits::default());
            let mut out = Vec::new();
            let done = feed(&mut d, &whole, &pieces, &mut out);
            assert_eq!(done.iter().position(|&x| x), Some(24));
            assert_eq!(out, whole);
            assert_eq!(d.stats.fragments_used, 25);
            assert_eq!(d.held_bytes(), 0);
            pieces.reverse();
        }
    }

    #[test]
    fn too_many_fragments_drop_the_datagram() {
        let mut d = Defrag::new(DefragLimits { max_fragments: 16, ..Default::default() });
        let mut out = Vec::new();
        for i in 0..40 {
            d.add(key(), Timestamp::new(1, 0), 8 + i * 8, true, b"z", &mut out);
        }
        // Dropped at the 17th and at the 34th (a new datagram by the same key).
        assert_eq!(d.stats.too_many_fragments, 2);
        assert_eq!(d.incomplete(), 1);
    }

    #[test]
    fn held_datagrams_are_capped_and_the_oldest_goes() {
        let mut d = Defrag::new(DefragLimits { max_datagrams: 100, ..Default::default() });
        let mut out = Vec::new();
        for id in 0..1000 {
            d.add(FragKey { id, ..key() }, Timestamp::new(1, 0), 0, true, &[1; 8], &mut out);
        }
        assert_eq!(d.incomplete(), 100);
        assert_eq!(d.stats.dropped_over_limit, 900);
        // The newest are kept: the last one still completes.
        assert!(d.add(FragKey { id: 999, ..key() }, Timestamp::new(1, 0), 8, false, &[2; 8], &mut out));
        assert_eq!(out, [[1; 8], [2; 8]].concat());
    }

    #[test]
    fn timeout_follows_first_sight_even_when_the_clock_goes_back() {
        let mut d = Defrag::new(DefragLimits { timeout_secs: 5, ..Default::default() });
        let mut out = Vec::new();
        d.add(FragKey { id: 1, ..key() }, Timestamp::new(100, 0), 0, true, &[1; 8], &mut out);
        d.add(FragKey { id: 2, ..key() }, Timestamp::new(50, 0), 0, true, &[1; 8], &mut out);
        d.add(FragKey { id: 3, ..key() }, Timestamp::new(103, 0), 0, true, &[1; 8], &mut out);
        // At 104 the datagram from 50 is too old, those of 100 and 103 are not.
        assert_eq!(d.stats.timed_out, 1);
        assert_eq!(d.incomplete(), 3 - 1);
        d.add(FragKey { id: 4, ..key() }, Timestamp::new(106, 0), 0, true, &[1; 8], &mut out);
        assert_eq!(d.stats.timed_out, 2);
    }

    #[test]
    fn completed_datagrams_leave_no_bookkeeping_behind() {
        let mut d = Defrag::new(DefragLimits::default());
        let mut out = Vec::new();
        // Same instant throughout: nothing ever times out.
        for id in 0..10_000 {
            let k = FragKey { id, ..key() };
            d.add(k, Timestamp::new(1, 0), 8, false, &[2; 8], &mut out);
            assert!(d.add(k, Timestamp::new(1, 0), 0, true, &[1; 8], &mut out));
        }
        assert_eq!(d.incomplete(), 0);
        assert_eq!(d.held_bytes(), 0);
        assert!(d.ages.len() <= 64 + 1, "{} heap entries for nothing pending", d.ages.len());
    }
}
