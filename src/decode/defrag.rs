//! IPv4 and IPv6 fragment reassembly under a memory cap and a timeout.
//!
//! Fragments are keyed by source, destination, protocol and id. Overlap
//! policy: the first copy of a byte wins (bytes already held are never
//! overwritten); a later fragment that disagrees with held bytes is
//! counted as a conflict. A datagram is complete when its last fragment
//! (no more-fragments flag) has arrived and no hole remains.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::util::Timestamp;

/// Named limits of reassembly.
#[derive(Clone, Copy, Debug)]
pub struct DefragLimits {
    /// Bytes held across all incomplete datagrams.
    pub max_bytes: usize,
    /// Seconds (capture clock) an incomplete datagram is kept.
    pub timeout_secs: i64,
}

impl Default for DefragLimits {
    fn default() -> Self {
        DefragLimits { max_bytes: 16 << 20, timeout_secs: 30 }
    }
}

/// Largest IP datagram (16-bit total length).
const MAX_DATAGRAM: usize = 65_535;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub id: u32,
}

#[derive(Debug)]
struct Pending {
    first_seen: Timestamp,
    data: Vec<u8>,
    /// Byte ranges held, sorted and merged.
    have: Vec<(usize, usize)>,
    total: Option<usize>,
    fragments: u64,
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
    pub dropped_over_limit: u64,
}

#[derive(Debug, Default)]
pub struct Defrag {
    pending: HashMap<FragKey, Pending>,
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
        let end = offset + data.len();
        if end > MAX_DATAGRAM {
            self.stats.dropped_over_limit += 1;
            return false;
        }
        self.expire(ts);
        let p = self.pending.entry(key).or_insert_with(|| Pending {
            first_seen: ts,
            data: Vec::new(),
            have: Vec::new(),
            total: None,
            fragments: 0,
        });
        p.fragments += 1;
        if !more {
            p.total = Some(end);
        }
        if p.data.len() < end {
            self.held += end - p.data.len();
            p.data.resize(end, 0);
        }
        // Copy only the bytes not held yet; compare the others.
        let mut at = offset;
        for &(s, e) in p.have.iter().chain(std::iter::once(&(end, end))) {
            if e <= at {
                continue;
            }
            if s > at {
                let stop = s.min(end);
                p.data[at..stop].copy_from_slice(&data[at - offset..stop - offset]);
                at = stop;
            }
            if at >= end {
                break;
            }
            let stop = e.min(end);
            if p.data[at..stop] != data[at - offset..stop - offset] {
                self.stats.conflicts += 1;
            }
            at = stop;
        }
        p.have.push((offset, end));
        p.have.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(p.have.len());
        for (s, e) in p.have.drain(..) {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        p.have = merged;
        let complete = p.total.is_some_and(|t| p.have.first().is_some_and(|&(s, e)| s == 0 && e >= t));
        if complete && let Some(p) = self.pending.remove(&key) {
            self.held -= p.data.len();
            let total = p.total.unwrap_or(0);
            out.clear();
            out.extend_from_slice(&p.data[..total]);
            self.stats.reassembled += 1;
            self.stats.fragments_used += p.fragments;
            return true;
        }
        if self.held > self.limits.max_bytes {
            self.drop_oldest();
        }
        false
    }

    fn expire(&mut self, now: Timestamp) {
        let timeout = self.limits.timeout_secs;
        let before = self.pending.len();
        let mut freed = 0;
        self.pending.retain(|_, p| {
            let keep = now.secs.saturating_sub(p.first_seen.secs) <= timeout;
            if !keep {
                freed += p.data.len();
            }
            keep
        });
        self.held -= freed;
        self.stats.timed_out += (before - self.pending.len()) as u64;
    }

    fn drop_oldest(&mut self) {
        while self.held > self.limits.max_bytes {
            let Some(key) = self.pending.iter().min_by_key(|(_, p)| p.first_seen).map(|(k, _)| *k) else {
                break;
            };
            if let Some(p) = self.pending.remove(&key) {
                self.held -= p.data.len();
                self.stats.dropped_over_limit += 1;
            }
        }
    }

    /// Incomplete datagrams still held (end of capture: never completed).
    pub fn incomplete(&self) -> usize {
        self.pending.len()
    }
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
        let mut d = Defrag::new(DefragLimits { max_bytes: 100, timeout_secs: 5 });
        let mut out = Vec::new();
        d.add(key(), Timestamp::new(1, 0), 0, true, &[1; 8], &mut out);
        let k2 = FragKey { id: 8, ..key() };
        d.add(k2, Timestamp::new(10, 0), 0, true, &[1; 8], &mut out);
        assert_eq!(d.stats.timed_out, 1);
        let k3 = FragKey { id: 9, ..key() };
        d.add(k3, Timestamp::new(10, 0), 1000, true, &[1; 8], &mut out);
        assert!(d.stats.dropped_over_limit >= 1);
        assert!(d.held <= 100);
    }
}
