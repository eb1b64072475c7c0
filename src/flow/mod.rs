//! flow: the connection table and TCP reassembly.
//!
//! Input: decoded TCP segments. Output: per-direction, in-order byte
//! stream pieces ([`Piece`]) handed to a [`StreamHandler`], which owns the
//! application-layer state of each connection (`flow` knows nothing of
//! HTTP). A handler may declare a direction uninteresting (TLS, server
//! responses): from then on its segments are only counted, never copied.
//!
//! Limits (all in [`FlowLimits`], counted in [`FlowStats`]): bytes held for
//! early segments per direction and in total, number of live connections,
//! idle time (capture clock) before a connection is evicted.
//!
//! Never: look into payloads, or let buffered bytes grow past the limits.

pub mod tcp;

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::SocketAddr;

use crate::decode::TcpSegment;
use crate::util::{FnvHasher, Timestamp};
use tcp::HalfStream;
pub use tcp::{Chunk, Piece, Seq};

/// Named limits of the connection table.
#[derive(Clone, Copy, Debug)]
pub struct FlowLimits {
    /// Bytes of early (out-of-order) segments held per direction.
    pub early_per_direction: usize,
    /// Bytes of early segments held across all connections.
    pub early_total: usize,
    /// Live connections; beyond it the longest idle are evicted.
    pub max_flows: usize,
    /// Seconds of capture time without a packet before eviction.
    pub idle_timeout_secs: i64,
}

impl Default for FlowLimits {
    fn default() -> Self {
        FlowLimits { early_per_direction: 1 << 20, early_total: 64 << 20, max_flows: 200_000, idle_timeout_secs: 600 }
    }
}

/// Counters for the summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStats {
    pub flows: u64,
    pub bytes_delivered: u64,
    /// Payload bytes of directions the handler did not want (TLS, ...).
    pub bytes_ignored: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    pub retransmitted_bytes: u64,
    /// Overlapping segments whose bytes disagreed (first copy kept).
    pub overlap_conflicts: u64,
    pub evicted_idle: u64,
    pub evicted_full: u64,
    pub early_total_limit_hits: u64,
}

/// The two ends of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ends {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// No handshake was seen for this direction: the capture started in
    /// the middle of the stream.
    pub midstream: bool,
    /// Who sent this direction, when the handshake said (the SYN's sender
    /// is the client); `None` for a connection picked up mid-way, whose
    /// roles only the application layer can tell from content.
    pub role: Option<Role>,
}

impl Ends {
    /// Direction `d` (0: from the lower address) of the connection `key`;
    /// derived, not stored, to keep the connection table small.
    fn of(key: &Key, d: usize, midstream: bool, role: Option<Role>) -> Ends {
        let (src, dst) = if d == 0 { (key.0, key.1) } else { (key.1, key.0) };
        Ends { src, dst, midstream, role }
    }
}

/// The side of a connection that sent a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    Client,
    Server,
}

impl Role {
    /// The other side.
    pub fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }

    /// 0 for the client, 1 for the server: an index into per-role arrays.
    pub fn index(self) -> usize {
        match self {
            Role::Client => 0,
            Role::Server => 1,
        }
    }
}

/// Whether the handler wants more of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    Inspect,
    Ignore,
}

/// The application layer of a connection.
pub trait StreamHandler {
    type State: Default;
    /// In-order bytes of one direction (`dir` 0 or 1, fixed per flow).
    fn data(&mut self, st: &mut Self::State, dir: usize, ends: Ends, chunk: Chunk<'_>) -> Interest;
    /// Bytes of one direction that were never captured.
    fn gap(&mut self, st: &mut Self::State, dir: usize, ends: Ends, len: u64);
    /// The connection ended (FIN, RST, eviction or end of capture);
    /// `ignored` is the payload of each direction after the handler
    /// declined it, which was counted but never copied.
    fn close(&mut self, st: Self::State, ignored: [u64; 2]);
}

type Key = (SocketAddr, SocketAddr);

struct Flow<S> {
    first_frame: u64,
    last_seen: Timestamp,
    half: [HalfStream; 2],
    ignored: [bool; 2],
    ignored_bytes: [u64; 2],
    /// The direction whose SYN opened the connection, once seen.
    client: Option<usize>,
    state: S,
}

/// The connection table.
pub struct FlowTable<S> {
    flows: HashMap<Key, Flow<S>, BuildHasherDefault<FnvHasher>>,
    limits: FlowLimits,
    early_total: usize,
    packets_since_sweep: u32,
    pub stats: FlowStats,
}

const SWEEP_EVERY: u32 = 1 << 16;

impl<S: Default> FlowTable<S> {
    pub fn new(limits: FlowLimits) -> Self {
        FlowTable {
            flows: HashMap::default(),
            limits,
            early_total: 0,
            packets_since_sweep: 0,
            stats: FlowStats::default(),
        }
    }

    pub fn live(&self) -> usize {
        self.flows.len()
    }

    /// Feeds one TCP segment.
    pub fn segment<H: StreamHandler<State = S>>(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        h: &mut H,
    ) {
        self.packets_since_sweep += 1;
        if self.packets_since_sweep >= SWEEP_EVERY {
            self.packets_since_sweep = 0;
            self.sweep(ts, h);
        }
        let key = if src <= dst { (src, dst) } else { (dst, src) };
        let d = usize::from(src != key.0);
        let flags = seg.flags;
        // A new SYN on a connection that already carried data in that
        // direction is a new connection on a reused port pair.
        if flags.syn && !flags.ack {
            let reused = self.flows.get(&key).is_some_and(|f| f.half[d].delivered > 0 || f.half[d].fin);
            if reused {
                self.close(&key, h);
            }
        }
        if !self.flows.contains_key(&key) {
            // A bare ACK, FIN or RST (the tail of a connection already
            // closed) does not open a connection.
            if !flags.syn && seg.payload.is_empty() {
                return;
            }
            if self.flows.len() >= self.limits.max_flows {
                self.evict_oldest(h);
            }
            self.stats.flows += 1;
            self.flows.insert(
                key,
                Flow {
                    first_frame: frame,
                    last_seen: ts,
                    half: Default::default(),
                    ignored: [false; 2],
                    ignored_bytes: [0; 2],
                    client: None,
                    state: S::default(),
                },
            );
        }
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        flow.last_seen = ts;
        let mut seq = Seq(seg.seq);
        if flags.syn {
            if flow.client.is_none() {
                // SYN alone comes from the client, SYN+ACK from the server.
                flow.client = Some(if flags.ack { 1 - d } else { d });
            }
            flow.half[d].syn(seq);
            // Data in a SYN (TCP Fast Open) starts after the SYN's number.
            seq = seq.advance(1);
        }
        if flow.ignored[d] {
            self.stats.bytes_ignored += seg.payload.len() as u64;
            flow.ignored_bytes[d] += seg.payload.len() as u64;
        } else if !flow.half[d].started() && !flags.syn && seg.payload.len() == 1 {
            // A one-byte segment before anything else of a stream picked up
            // in its middle is a TCP keep-alive probe (the byte before the
            // next sequence number): it cannot start the stream.
        } else if !seg.payload.is_empty() || seg.missing > 0 {
            let role = flow.client.map(|c| if c == d { Role::Client } else { Role::Server });
            let ends = Ends::of(&key, d, !flow.half[d].saw_syn, role);
            let state = &mut flow.state;
            let mut ignore = false;
            let mut deliver = |p: Piece<'_>| {
                if ignore {
                    return;
                }
                match p {
                    Piece::Data(c) => ignore = h.data(state, d, ends, c) == Interest::Ignore,
                    Piece::Gap(n) => h.gap(state, d, ends, n),
                }
            };
            let chunk = Chunk { data: seg.payload, frame, ts };
            let half = &mut flow.half[d];
            let grew = half.segment(seq, chunk, self.limits.early_per_direction, &mut deliver);
            if seg.missing > 0 {
                half.lost(u64::from(seg.missing), &mut deliver);
            }
            self.early_total = self.early_total.saturating_add_signed(grew);
            if self.early_total > self.limits.early_total {
                self.stats.early_total_limit_hits += 1;
                let released = half.finish(&mut deliver);
                self.early_total = self.early_total.saturating_sub(released);
            }
            if ignore {
                flow.ignored[d] = true;
                let released = half.finish(&mut |_| {});
                self.early_total = self.early_total.saturating_sub(released);
            }
        }
        if flags.fin {
            flow.half[d].fin = true;
        }
        if flags.rst || (flow.half[0].fin && flow.half[1].fin) {
            self.close(&key, h);
        }
    }

    fn close<H: StreamHandler<State = S>>(&mut self, key: &Key, h: &mut H) {
        if let Some(flow) = self.flows.remove(key) {
            self.finish_flow(key, flow, h);
        }
    }

    fn finish_flow<H: StreamHandler<State = S>>(&mut self, key: &Key, mut flow: Flow<S>, h: &mut H) {
        for d in 0..2 {
            let role = flow.client.map(|c| if c == d { Role::Client } else { Role::Server });
            let ends = Ends::of(key, d, !flow.half[d].saw_syn, role);
            let state = &mut flow.state;
            let ignored = flow.ignored[d];
            let released = flow.half[d].finish(&mut |p| {
                if ignored {
                    return;
                }
                match p {
                    Piece::Data(c) => {
                        h.data(state, d, ends, c);
                    }
                    Piece::Gap(n) => h.gap(state, d, ends, n),
                }
            });
            self.early_total = self.early_total.saturating_sub(released);
            let hs = &flow.half[d];
            self.stats.bytes_delivered += hs.delivered;
            self.stats.gaps += hs.gaps;
            self.stats.gap_bytes += hs.gap_bytes;
            self.stats.retransmitted_bytes += hs.retransmitted;
            self.stats.overlap_conflicts += hs.conflicts;
        }
        h.close(flow.state, flow.ignored_bytes);
    }

    /// Closes the given connections in the order they started, so output
    /// does not depend on hash order.
    fn finish_keys<H: StreamHandler<State = S>>(&mut self, mut keys: Vec<(u64, Key)>, h: &mut H) {
        keys.sort_unstable_by_key(|(first, _)| *first);
        for (_, k) in keys {
            self.close(&k, h);
        }
    }

    fn sweep<H: StreamHandler<State = S>>(&mut self, now: Timestamp, h: &mut H) {
        let idle = self.limits.idle_timeout_secs;
        let keys: Vec<(u64, Key)> = self
            .flows
            .iter()
            .filter(|(_, f)| now.secs.saturating_sub(f.last_seen.secs) > idle)
            .map(|(k, f)| (f.first_frame, *k))
            .collect();
        self.stats.evicted_idle += keys.len() as u64;
        self.finish_keys(keys, h);
    }

    /// Evicts the eighth of connections idle the longest.
    fn evict_oldest<H: StreamHandler<State = S>>(&mut self, h: &mut H) {
        let mut all: Vec<(Timestamp, u64, Key)> =
            self.flows.iter().map(|(k, f)| (f.last_seen, f.first_frame, *k)).collect();
        all.sort_unstable_by_key(|(t, first, _)| (*t, *first));
        let n = (all.len() / 8).max(1);
        let keys: Vec<(u64, Key)> = all[..n].iter().map(|(_, f, k)| (*f, *k)).collect();
        self.stats.evicted_full += keys.len() as u64;
        self.finish_keys(keys, h);
    }

    /// Ends every connection (end of capture).
    pub fn finish_all<H: StreamHandler<State = S>>(&mut self, h: &mut H) {
        let keys: Vec<(u64, Key)> = self.flows.iter().map(|(k, f)| (f.first_frame, *k)).collect();
        self.finish_keys(keys, h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::TcpFlags;

    /// Records what each direction receives.
    #[derive(Default)]
    struct Record(Vec<(usize, bool, Vec<u8>)>);

    impl StreamHandler for Record {
        type State = ();
        fn data(&mut self, _: &mut (), dir: usize, ends: Ends, chunk: Chunk<'_>) -> Interest {
            self.0.push((dir, ends.midstream, chunk.data.to_vec()));
            Interest::Inspect
        }
        fn gap(&mut self, _: &mut (), _: usize, _: Ends, _: u64) {}
        fn close(&mut self, _: (), _: [u64; 2]) {}
    }

    fn seg(seq: u32, payload: &[u8], syn: bool) -> TcpSegment<'_> {
        TcpSegment {
            src_port: 40000,
            dst_port: 80,
            seq,
            ack: 1,
            flags: TcpFlags { syn, ack: !syn, fin: false, rst: false },
            payload,
            missing: 0,
        }
    }

    #[test]
    fn keepalive_probe_does_not_start_a_midstream_stream() {
        let (c, s) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        let mut t: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let mut h = Record::default();
        let ts = Timestamp::default();
        t.segment(c, s, &seg(999, b"\x00", false), 1, ts, &mut h);
        t.segment(c, s, &seg(1000, b"GET / HTTP/1.1\r\n", false), 2, ts, &mut h);
        assert_eq!(h.0, vec![(0, true, b"GET / HTTP/1.1\r\n".to_vec())]);
        // With a handshake, the stream is not mid-stream.
        let mut t: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let mut h = Record::default();
        t.segment(c, s, &seg(99, b"", true), 1, ts, &mut h);
        t.segment(c, s, &seg(100, b"x", false), 2, ts, &mut h);
        assert_eq!(h.0, vec![(0, false, b"x".to_vec())]);
    }
}
