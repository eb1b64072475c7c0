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
//! Each connection takes the app or process of its packets, as the
//! capture tool recorded it ([`AppRef`]): the client's first packet that
//! names one decides (a client's packet overrides a server's; before a
//! SYN says who the client is, the higher port is taken for it); packets that name
//! another app are counted as a conflict, and the first few noted.
//!
//! Never: look into payloads, or let buffered bytes grow past the limits.

pub mod tcp;

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::net::SocketAddr;
use std::sync::Arc;

use crate::decode::TcpSegment;
use crate::finding::AppRef;
use crate::util::Timestamp;
use tcp::HalfStream;
pub use tcp::{Chunk, Piece, Seq};

/// Named limits of the connection table.
#[derive(Clone, Copy, Debug)]
pub struct FlowLimits {
    /// Bytes of early (out-of-order) segments held per direction, each
    /// segment charged [`tcp::SEGMENT_OVERHEAD`] besides its payload.
    pub early_per_direction: usize,
    /// Bytes of early segments held across all connections (charged the
    /// same way).
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
    /// Connections attributed to an app, and those whose packets named
    /// more than one.
    pub attributed: u64,
    pub app_conflicts: u64,
    /// The first [`MAX_CONFLICT_NOTES`] conflicts: frame and what it said.
    pub conflict_notes: Vec<(u64, String)>,
    pub evicted_idle: u64,
    pub evicted_full: u64,
    /// Times the total out-of-order limit flushed a direction.
    pub early_total_limit_hits: u64,
    /// Times a direction's out-of-order limit forced a gap (counted in
    /// `gaps` too).
    pub early_limit_hits: u64,
}

/// Conflicting attributions noted one by one, per capture.
pub const MAX_CONFLICT_NOTES: usize = 10;

/// The two ends of a direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ends<'a> {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// No handshake was seen for this direction: the capture started in
    /// the middle of the stream.
    pub midstream: bool,
    /// Who sent this direction, when the handshake said (the SYN's sender
    /// is the client); `None` for a connection picked up mid-way, whose
    /// roles only the application layer can tell from content.
    pub role: Option<Role>,
    /// The app the connection is attributed to, when the capture says.
    pub app: Option<&'a Arc<AppRef>>,
}

impl Ends<'_> {
    /// Direction `d` (0: from the lower address) of the connection `key`;
    /// derived, not stored, to keep the connection table small.
    fn of<'a>(key: &Key, d: usize, midstream: bool, role: Option<Role>, app: Option<&'a Arc<AppRef>>) -> Ends<'a> {
        let (src, dst) = if d == 0 { (key.0, key.1) } else { (key.1, key.0) };
        Ends { src, dst, midstream, role, app }
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
    fn data(&mut self, st: &mut Self::State, dir: usize, ends: Ends<'_>, chunk: Chunk<'_>) -> Interest;
    /// Bytes of one direction that were never captured.
    fn gap(&mut self, st: &mut Self::State, dir: usize, ends: Ends<'_>, len: u64);
    /// The connection ended (FIN, RST, eviction or end of capture);
    /// `ignored` is the payload of each direction after the handler
    /// declined it, which was counted but never copied; `app` the app it
    /// was attributed to.
    /// `first_frame`: the frame that opened the connection (what orders
    /// connections closed together).
    fn close(&mut self, st: Self::State, ignored: [u64; 2], app: Option<&Arc<AppRef>>, first_frame: u64);
}

/// A connection's two ends, the lower first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Key(SocketAddr, SocketAddr);

/// Every field of both ends (so equal keys hash alike, and the encoding
/// is one-to-one: a tag and fixed lengths), in one write of 14 bytes for
/// IPv4: the derived `Hash` of two addresses wrote 44 bytes in eight
/// writes.
impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        let mut b = [0u8; 2 * 27];
        let mut n = 0;
        for a in [self.0, self.1] {
            match a {
                SocketAddr::V4(v) => {
                    b[n] = 4;
                    b[n + 1..n + 5].copy_from_slice(&v.ip().octets());
                    b[n + 5..n + 7].copy_from_slice(&v.port().to_le_bytes());
                    n += 7;
                }
                SocketAddr::V6(v) => {
                    b[n] = 6;
                    b[n + 1..n + 17].copy_from_slice(&v.ip().octets());
                    b[n + 17..n + 19].copy_from_slice(&v.port().to_le_bytes());
                    b[n + 19..n + 23].copy_from_slice(&v.flowinfo().to_le_bytes());
                    b[n + 23..n + 27].copy_from_slice(&v.scope_id().to_le_bytes());
                    n += 27;
                }
            }
        }
        h.write(&b[..n]);
    }
}

/// std's randomly keyed SipHash, fed a key's bytes in one write (each
/// write costs SipHash as much as a block; [`Key`] makes one, and the
/// buffer gathers those of any other key type).
#[derive(Clone, Default)]
struct OneWrite(RandomState);

impl BuildHasher for OneWrite {
    type Hasher = Gathered;
    fn build_hasher(&self) -> Gathered {
        Gathered { sip: self.0.build_hasher(), buf: [0; GATHERED], len: 0 }
    }
}

/// Room for two IPv6 socket addresses as their derived `Hash` writes them.
const GATHERED: usize = 96;

struct Gathered {
    sip: std::hash::DefaultHasher,
    buf: [u8; GATHERED],
    len: usize,
}

impl std::hash::Hasher for Gathered {
    fn write(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(room) => {
                room.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => {
                self.sip.write(&self.buf[..self.len]);
                self.sip.write(bytes);
                self.len = 0;
            }
        }
    }

    fn finish(&self) -> u64 {
        let mut sip = self.sip.clone();
        sip.write(&self.buf[..self.len]);
        sip.finish()
    }
}

/// One connection. Boxed in the table: the table's slots (a key and a
/// pointer, 72 bytes) are what a half-full hash table wastes, and the
/// connection itself is small until it carries data (its reassembly and
/// application-layer state are allocated by the first payload).
struct Flow<S> {
    first_frame: u64,
    last_seen: Timestamp,
    half: [HalfStream; 2],
    ignored_bytes: [u64; 2],
    ignored: [bool; 2],
    /// Some payload was seen in either direction: a flood of handshakes
    /// that never carry a byte is evicted before connections that do.
    payload: bool,
    /// The direction whose SYN opened the connection, once seen.
    client: Option<u8>,
    /// The app its packets named ([`FlowTable::segment_from`]); whether a
    /// client's packet named it; whether another app was named too.
    app: Option<Arc<AppRef>>,
    app_by_client: bool,
    app_conflict: bool,
    state: S,
}

/// The connection table.
///
/// Its keys are the peers' addresses, which a capture chooses: the hash is
/// keyed at random per table (std's SipHash), so crafted keys cannot pile
/// into one bucket (with FNV-1a, 200,000 crafted connections took 64 s
/// instead of 1.2 s). A faster seeded hash (foldhash) was tried and set
/// aside: it does not claim resistance to crafted keys. SipHash is given
/// the key's bytes in one piece ([`OneWrite`]).
pub struct FlowTable<S> {
    flows: HashMap<Key, Box<Flow<S>>, OneWrite>,
    limits: FlowLimits,
    early_total: usize,
    pub stats: FlowStats,
}

/// TCP segments between two sweeps for idle connections
/// ([`FlowTable::sweep`]): the caller counts them across the capture, so
/// that however its connections are shared among tables, each sweeps at
/// the same segments.
pub const SWEEP_EVERY: u64 = 1 << 16;
/// The table gives memory back when it is used this little.
const SHRINK_BELOW: usize = 4;

impl<S: Default> FlowTable<S> {
    pub fn new(limits: FlowLimits) -> Self {
        FlowTable { flows: HashMap::default(), limits, early_total: 0, stats: FlowStats::default() }
    }

    pub fn live(&self) -> usize {
        self.flows.len()
    }

    /// The hash the table files the connection between `a` and `b` under
    /// (tests check that it is keyed).
    pub fn key_hash(&self, a: SocketAddr, b: SocketAddr) -> u64 {
        let key = if a <= b { Key(a, b) } else { Key(b, a) };
        self.flows.hasher().hash_one(key)
    }

    /// Feeds one TCP segment of no known app.
    pub fn segment<H: StreamHandler<State = S>>(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        h: &mut H,
    ) {
        self.segment_from(src, dst, seg, frame, ts, None, h);
    }

    /// Feeds one TCP segment, with the app its capture tool recorded.
    #[allow(clippy::too_many_arguments)]
    pub fn segment_from<H: StreamHandler<State = S>>(
        &mut self,
        src: SocketAddr,
        dst: SocketAddr,
        seg: &TcpSegment<'_>,
        frame: u64,
        ts: Timestamp,
        app: Option<&Arc<AppRef>>,
        h: &mut H,
    ) {
        let key = if src <= dst { Key(src, dst) } else { Key(dst, src) };
        let d = usize::from(src != key.0);
        let flags = seg.flags;
        // A new SYN on a connection that already carried data in that
        // direction is a new connection on a reused port pair.
        if flags.syn && !flags.ack {
            let reused = self.flows.get(&key).is_some_and(|f| f.half[d].delivered_any || f.half[d].fin);
            if reused {
                self.close(&key, h);
            }
        }
        // A bare ACK, FIN or RST (the tail of a connection already closed)
        // does not open a connection.
        let opens = flags.syn || !seg.payload.is_empty();
        if opens && self.flows.len() >= self.limits.max_flows && !self.flows.contains_key(&key) {
            self.evict_oldest(h);
        }
        // One lookup for the segments of known connections.
        let flow = match self.flows.entry(key) {
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                if !opens {
                    return;
                }
                self.stats.flows += 1;
                v.insert(Box::new(Flow {
                    first_frame: frame,
                    last_seen: ts,
                    half: Default::default(),
                    ignored_bytes: [0; 2],
                    ignored: [false; 2],
                    payload: false,
                    client: None,
                    app: None,
                    app_by_client: false,
                    app_conflict: false,
                    state: S::default(),
                }))
            }
        };
        flow.last_seen = ts;
        flow.payload |= !seg.payload.is_empty();
        let mut seq = Seq(seg.seq);
        if flags.syn {
            if flow.client.is_none() {
                // SYN alone comes from the client, SYN+ACK from the server.
                flow.client = Some(if flags.ack { 1 - d as u8 } else { d as u8 });
            }
            flow.half[d].syn(seq);
            // Data in a SYN (TCP Fast Open) starts after the SYN's number.
            seq = seq.advance(1);
        }
        if let Some(a) = app {
            attribute(flow, d, a, frame, src, dst, &mut self.stats);
        }
        if flow.ignored[d] {
            self.stats.bytes_ignored += seg.payload.len() as u64;
            flow.ignored_bytes[d] += seg.payload.len() as u64;
        } else if !flow.half[d].started() && !flags.syn && seg.payload.len() == 1 {
            // A one-byte segment before anything else of a stream picked up
            // in its middle is a TCP keep-alive probe (the byte before the
            // next sequence number): it cannot start the stream.
        } else if !seg.payload.is_empty() || seg.missing > 0 {
            let ends = Ends::of(&key, d, !flow.half[d].saw_syn, role(flow.client, d), flow.app.as_ref());
            let state = &mut flow.state;
            let mut ignore = false;
            // Bytes after the handler declined the direction, in the same
            // drain of held segments: counted with the rest it declined.
            let mut declined = 0u64;
            let mut deliver = |p: Piece<'_>| {
                if ignore {
                    if let Piece::Data(c) = p {
                        declined += c.data.len() as u64;
                    }
                    return;
                }
                match p {
                    Piece::Data(c) => ignore = h.data(state, d, ends, c) == Interest::Ignore,
                    Piece::Gap(n) => h.gap(state, d, ends, n),
                }
            };
            let chunk = Chunk { data: seg.payload, frame, ts };
            let half = &mut flow.half[d];
            let st = &mut self.stats;
            let grew = half.segment(seq, chunk, self.limits.early_per_direction, st, &mut deliver);
            if seg.missing > 0 {
                half.lost(u64::from(seg.missing), st, &mut deliver);
            }
            self.early_total = self.early_total.saturating_add_signed(grew);
            if self.early_total > self.limits.early_total {
                st.early_total_limit_hits += 1;
                let released = half.finish(st, &mut deliver);
                self.early_total = self.early_total.saturating_sub(released);
            }
            if ignore {
                flow.ignored[d] = true;
                let released = half.finish(st, &mut |p| {
                    if let Piece::Data(c) = p {
                        declined += c.data.len() as u64;
                    }
                });
                self.early_total = self.early_total.saturating_sub(released);
                st.bytes_ignored += declined;
                flow.ignored_bytes[d] += declined;
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
            self.finish_flow(key, *flow, h);
        }
    }

    fn finish_flow<H: StreamHandler<State = S>>(&mut self, key: &Key, mut flow: Flow<S>, h: &mut H) {
        for d in 0..2 {
            let ends = Ends::of(key, d, !flow.half[d].saw_syn, role(flow.client, d), flow.app.as_ref());
            let state = &mut flow.state;
            let ignored = flow.ignored[d];
            let released = flow.half[d].finish(&mut self.stats, &mut |p| {
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
        }
        h.close(flow.state, flow.ignored_bytes, flow.app.as_ref(), flow.first_frame);
    }

    /// Closes the given connections in the order they started, so output
    /// does not depend on hash order, calling `after` with each one's
    /// first frame once it is closed.
    fn finish_keys<H: StreamHandler<State = S>>(
        &mut self,
        mut keys: Vec<(u64, Key)>,
        h: &mut H,
        after: &mut dyn FnMut(&mut H, u64),
    ) {
        keys.sort_unstable_by_key(|(first, _)| *first);
        for (first, k) in keys {
            self.close(&k, h);
            after(h, first);
        }
    }

    /// Closes the connections idle for longer than the limit at `now`
    /// (every [`SWEEP_EVERY`] segments of the capture), oldest first;
    /// `after` gets each one's first frame once it is closed, to take out
    /// what it produced.
    pub fn sweep<H: StreamHandler<State = S>>(
        &mut self,
        now: Timestamp,
        h: &mut H,
        after: &mut dyn FnMut(&mut H, u64),
    ) {
        let idle = self.limits.idle_timeout_secs;
        let keys: Vec<(u64, Key)> = self
            .flows
            .iter()
            .filter(|(_, f)| now.secs.saturating_sub(f.last_seen.secs) > idle)
            .map(|(k, f)| (f.first_frame, *k))
            .collect();
        self.stats.evicted_idle += keys.len() as u64;
        self.finish_keys(keys, h, after);
        // A burst of connections that ended leaves the table as large as
        // the burst: give the memory back.
        let len = self.flows.len();
        if self.flows.capacity() > SHRINK_BELOW * len.max(1024) {
            self.flows.shrink_to(2 * len);
        }
    }

    /// Evicts the eighth of connections that matter least: first those
    /// that never carried a byte (so a SYN flood cannot push out an
    /// upload), then those idle the longest.
    fn evict_oldest<H: StreamHandler<State = S>>(&mut self, h: &mut H) {
        let rank = |f: &Flow<S>| (f.payload, f.last_seen, f.first_frame);
        let mut ranks: Vec<(bool, Timestamp, u64)> = self.flows.values().map(|f| rank(f)).collect();
        if ranks.is_empty() {
            return;
        }
        let n = (ranks.len() / 8).max(1);
        let cut = *ranks.select_nth_unstable(n - 1).1;
        drop(ranks);
        // Frames start at most one connection each: exactly `n` rank at or
        // below the cut.
        let keys: Vec<(u64, Key)> =
            self.flows.iter().filter(|(_, f)| rank(f) <= cut).map(|(k, f)| (f.first_frame, *k)).collect();
        self.stats.evicted_full += keys.len() as u64;
        self.finish_keys(keys, h, &mut |_, _| {});
    }

    /// Ends every connection (end of capture).
    pub fn finish_all<H: StreamHandler<State = S>>(&mut self, h: &mut H) {
        self.finish_all_with(h, |_, _| {});
    }

    /// Ends every connection in the order they started, calling `after`
    /// with each one's first frame once it is closed, so that what the
    /// handler produced can be taken out before it piles up (200,000
    /// connections that each hold a byte).
    pub fn finish_all_with<H: StreamHandler<State = S>>(&mut self, h: &mut H, mut after: impl FnMut(&mut H, u64)) {
        let keys: Vec<(u64, Key)> = self.flows.iter().map(|(k, f)| (f.first_frame, *k)).collect();
        self.finish_keys(keys, h, &mut after);
        self.flows = HashMap::default();
    }
}

/// Do two attributions name the same app? The same source and id, and
/// the same name unless one of them has none (a PCAPdroid `u-<uid>`
/// comment read before the uid map named it).
fn same_app(a: &AppRef, b: &AppRef) -> bool {
    a.source == b.source && a.id == b.id && (a.name.is_none() || b.name.is_none() || a.name == b.name)
}

/// Takes the app a packet of direction `d` names into the connection.
fn attribute<S>(
    flow: &mut Flow<S>,
    d: usize,
    app: &Arc<AppRef>,
    frame: u64,
    src: SocketAddr,
    dst: SocketAddr,
    stats: &mut FlowStats,
) {
    // Before a SYN said who the client is (a connection picked up mid-way),
    // the side with the higher port is taken for it, as the application
    // layer does when content does not say.
    let by_client = match flow.client {
        Some(c) => usize::from(c) == d,
        None => src.port() > dst.port(),
    };
    let Some(have) = &flow.app else {
        flow.app = Some(app.clone());
        flow.app_by_client = by_client;
        stats.attributed += 1;
        return;
    };
    if Arc::ptr_eq(have, app) {
        return;
    }
    if same_app(have, app) {
        // The one with the name is the better account of the same app.
        if have.name.is_none() && app.name.is_some() {
            flow.app = Some(app.clone());
        }
        return;
    }
    let replace = by_client && !flow.app_by_client;
    if !flow.app_conflict {
        flow.app_conflict = true;
        stats.app_conflicts += 1;
        if stats.conflict_notes.len() < MAX_CONFLICT_NOTES {
            let (kept, other) = if replace { (app, have) } else { (have, app) };
            let why = if replace { "the client's packets" } else { "the connection's first packets" };
            stats.conflict_notes.push((
                frame,
                format!(
                    "connection {src} -> {dst}: packets name both {} and {}; attributed to {} ({why})",
                    describe(kept),
                    describe(other),
                    kept.display()
                ),
            ));
        }
    }
    if replace {
        flow.app = Some(app.clone());
        flow.app_by_client = true;
    }
}

/// `curl (pid 5, ptcpdump)`.
fn describe(a: &AppRef) -> String {
    match a.id {
        Some(id) if a.name.is_some() => format!("{} ({} {id}, {})", a.display(), a.id_kind(), a.source),
        _ => format!("{} ({})", a.display(), a.source),
    }
}

/// The role of direction `d` given the direction whose SYN opened the
/// connection.
fn role(client: Option<u8>, d: usize) -> Option<Role> {
    client.map(|c| if usize::from(c) == d { Role::Client } else { Role::Server })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key's bytes for the hash are one-to-one: two keys share them
    /// only when they are equal (addresses, ports, IPv6 flow and scope).
    #[test]
    fn keys_write_distinct_bytes() {
        #[derive(Default)]
        struct Bytes(Vec<u8>);
        impl std::hash::Hasher for Bytes {
            fn write(&mut self, b: &[u8]) {
                self.0.extend_from_slice(b);
            }
            fn finish(&self) -> u64 {
                0
            }
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || crate::util::xorshift(&mut x);
        let mut addr = || -> SocketAddr {
            let r = next();
            // Few distinct values of each field, so that keys collide often.
            if r & 1 == 0 {
                SocketAddr::from(([10, 0, 0, (r >> 8) as u8 % 3], (r >> 16) as u16 % 3))
            } else {
                let ip = std::net::Ipv6Addr::from(u128::from((r >> 8) % 3));
                std::net::SocketAddrV6::new(ip, (r >> 16) as u16 % 3, (r >> 24) as u32 % 2, (r >> 32) as u32 % 2).into()
            }
        };
        let mut seen: std::collections::HashMap<Vec<u8>, Key> = std::collections::HashMap::new();
        for _ in 0..20_000 {
            let k = Key(addr(), addr());
            let mut b = Bytes::default();
            std::hash::Hash::hash(&k, &mut b);
            let other = *seen.entry(b.0).or_insert(k);
            assert_eq!(other, k);
        }
    }
    use crate::decode::TcpFlags;

    /// Records what each direction receives.
    #[derive(Default)]
    struct Record(Vec<(usize, bool, Vec<u8>)>);

    impl StreamHandler for Record {
        type State = ();
        fn data(&mut self, _: &mut (), dir: usize, ends: Ends<'_>, chunk: Chunk<'_>) -> Interest {
            self.0.push((dir, ends.midstream, chunk.data.to_vec()));
            Interest::Inspect
        }
        fn gap(&mut self, _: &mut (), _: usize, _: Ends<'_>, _: u64) {}
        fn close(&mut self, _: (), _: [u64; 2], _: Option<&Arc<AppRef>>, _: u64) {}
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

    /// What a connection that sent no payload costs: its slot (key and
    /// box pointer) and its box. Measured: 72-byte slots and a 120-byte
    /// `Flow<Conn>` (a 128-byte allocation); with hashbrown's slack (a
    /// table between 7/16 and 7/8 full, three slots a connection while it
    /// grows) that is about 210 to 350 bytes a connection, against
    /// 5.9 KB before issue 11.
    #[test]
    fn a_quiet_connection_is_small() {
        use std::mem::size_of;
        let slot = size_of::<(Key, Box<Flow<crate::app::Conn>>)>();
        let flow = size_of::<Flow<crate::app::Conn>>();
        assert!(slot <= 72, "slot {slot}");
        assert!(flow <= 128, "flow {flow}");
        assert!(size_of::<HalfStream>() <= 32, "half {}", size_of::<HalfStream>());
    }

    /// Records the app each direction's data came with, and at close.
    #[derive(Default)]
    struct Apps(Vec<Option<String>>);

    impl StreamHandler for Apps {
        type State = ();
        fn data(&mut self, _: &mut (), _: usize, ends: Ends<'_>, _: Chunk<'_>) -> Interest {
            self.0.push(ends.app.map(|a| a.display()));
            Interest::Inspect
        }
        fn gap(&mut self, _: &mut (), _: usize, _: Ends<'_>, _: u64) {}
        fn close(&mut self, _: (), _: [u64; 2], app: Option<&Arc<AppRef>>, _: u64) {
            self.0.push(app.map(|a| format!("closed {}", a.display())));
        }
    }

    fn app(source: &'static str, id: i64, name: Option<&str>) -> Arc<AppRef> {
        Arc::new(AppRef { id: Some(id), name: name.map(str::to_string), label: None, source })
    }

    /// A uid named only by a comment, then by the uid map: the same app,
    /// its name taken, no conflict. A server's packet that named another
    /// app first gives way to the client's once the SYN says who that is.
    #[test]
    fn attribution_takes_the_name_and_lets_the_client_decide() {
        let (c, s) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        let ts = Timestamp::default();
        let mut t: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let mut h = Apps::default();
        let bare = app("pcapdroid", 10123, None);
        let named = app("pcapdroid", 10123, Some("com.example"));
        t.segment_from(c, s, &seg(99, b"", true), 1, ts, Some(&bare), &mut h);
        t.segment_from(c, s, &seg(100, b"GET", false), 2, ts, Some(&named), &mut h);
        t.segment_from(c, s, &seg(103, b" /", false), 3, ts, Some(&bare), &mut h);
        t.finish_all(&mut h);
        assert_eq!(h.0, [Some("com.example".into()), Some("com.example".into()), Some("closed com.example".into())]);
        assert_eq!((t.stats.attributed, t.stats.app_conflicts), (1, 0));
        // The server's SYN+ACK came first, naming another process.
        let mut t: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let mut h = Apps::default();
        let synack = TcpSegment {
            src_port: 80,
            dst_port: 40000,
            flags: TcpFlags { syn: true, ack: true, fin: false, rst: false },
            ..seg(7, b"", true)
        };
        t.segment_from(s, c, &synack, 1, ts, Some(&app("ptcpdump", 9, Some("nginx"))), &mut h);
        t.segment_from(c, s, &seg(100, b"GET", false), 2, ts, Some(&app("ptcpdump", 5, Some("curl"))), &mut h);
        t.finish_all(&mut h);
        assert_eq!(h.0, [Some("curl".into()), Some("closed curl".into())]);
        assert_eq!(t.stats.app_conflicts, 1);
        assert!(
            t.stats.conflict_notes[0].1.contains("attributed to curl (the client's packets)"),
            "{:?}",
            t.stats.conflict_notes
        );
        // A connection of no known app stays so.
        let mut t: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let mut h = Apps::default();
        t.segment(c, s, &seg(100, b"GET", false), 1, ts, &mut h);
        t.finish_all(&mut h);
        assert_eq!(h.0, [None, None]);
    }

    /// Two tables file the same connection under different hashes: the
    /// hash is keyed, so a capture cannot craft keys that collide.
    #[test]
    fn the_table_hash_is_keyed() {
        let (c, s) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        let a: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let b: FlowTable<()> = FlowTable::new(FlowLimits::default());
        assert_eq!(a.key_hash(c, s), a.key_hash(s, c));
        assert_ne!(a.key_hash(c, s), b.key_hash(c, s));
    }

    fn client(i: u32) -> SocketAddr {
        SocketAddr::from(([10, 1, (i >> 8) as u8, i as u8], 40000))
    }

    /// A full table evicts connections that never carried a byte before
    /// older ones that did; every eviction is counted.
    #[test]
    fn a_full_table_evicts_quiet_connections_first() {
        let s: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let limits = FlowLimits { max_flows: 64, ..FlowLimits::default() };
        let mut t: FlowTable<()> = FlowTable::new(limits);
        let mut h = Record::default();
        let ts = Timestamp::default();
        // The oldest connection carries a request; then a flood of SYNs.
        t.segment(client(0), s, &seg(99, b"", true), 1, ts, &mut h);
        t.segment(client(0), s, &seg(100, b"GET / HTTP/1.1\r\n", false), 2, ts, &mut h);
        for i in 1..1000 {
            t.segment(client(i), s, &seg(7, b"", true), u64::from(i) + 2, ts, &mut h);
        }
        t.segment(client(0), s, &seg(116, b"Host: x\r\n\r\n", false), 1003, ts, &mut h);
        t.finish_all(&mut h);
        let sent: Vec<u8> = h.0.iter().flat_map(|(_, _, d)| d.clone()).collect();
        assert_eq!(sent, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(t.stats.flows, 1000);
        assert_eq!(t.stats.evicted_full, 1000 - 64);
        assert_eq!(t.stats.gaps, 0);
    }

    /// The table gives memory back once its connections are gone.
    #[test]
    fn ended_connections_give_their_memory_back() {
        let s: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let mut t: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let mut h = Record::default();
        let ts = Timestamp::default();
        for i in 0..50_000 {
            t.segment(client(i), s, &seg(7, b"", true), u64::from(i) + 1, ts, &mut h);
        }
        let full = t.flows.capacity();
        for i in 0..50_000 {
            let mut rst = seg(8, b"", false);
            rst.flags.rst = true;
            t.segment(client(i), s, &rst, u64::from(i) + 50_001, ts, &mut h);
        }
        assert_eq!(t.live(), 0);
        t.sweep(ts, &mut h, &mut |_, _| {});
        assert!(t.flows.capacity() < full / 8, "{} of {full}", t.flows.capacity());
    }

    /// The total out-of-order limit counts what held segments cost too:
    /// 40 one-byte segments in 4 flows are over a limit of 10 segments'
    /// cost (they hold 40 bytes), each time counted, and what is held
    /// never stays above it.
    #[test]
    fn the_total_limit_charges_the_overhead() {
        let s: SocketAddr = "10.0.0.2:80".parse().unwrap();
        let one = tcp::SEGMENT_OVERHEAD + 16;
        let limits = FlowLimits { early_total: 10 * one, ..FlowLimits::default() };
        let mut t: FlowTable<()> = FlowTable::new(limits);
        let mut h = Record::default();
        let ts = Timestamp::default();
        let mut frame = 0;
        for i in 0..4 {
            frame += 1;
            t.segment(client(i), s, &seg(99, b"", true), frame, ts, &mut h);
        }
        for k in 0..10 {
            for i in 0..4 {
                frame += 1;
                t.segment(client(i), s, &seg(102 + 2 * k, b"x", false), frame, ts, &mut h);
                assert!(t.early_total <= limits.early_total);
            }
        }
        // 40 segments' cost is four times the limit: at least 3 flushes
        // (payload alone, 40 bytes, would be none).
        assert!(t.stats.early_total_limit_hits >= 3, "{}", t.stats.early_total_limit_hits);
        t.finish_all(&mut h);
        assert_eq!(t.early_total, 0);
        assert_eq!(t.stats.bytes_delivered, 40);
    }

    /// Declines every direction at its first bytes; keeps what `close`
    /// is told was declined.
    #[derive(Default)]
    struct Decline(Vec<[u64; 2]>);

    impl StreamHandler for Decline {
        type State = ();
        fn data(&mut self, _: &mut (), _: usize, _: Ends<'_>, _: Chunk<'_>) -> Interest {
            Interest::Ignore
        }
        fn gap(&mut self, _: &mut (), _: usize, _: Ends<'_>, _: u64) {}
        fn close(&mut self, _: (), ignored: [u64; 2], _: Option<&Arc<AppRef>>, _: u64) {
            self.0.push(ignored);
        }
    }

    /// Held bytes that come after the handler declined a direction, in
    /// the same drain or still held, are counted as declined: nothing is
    /// dropped without a count.
    #[test]
    fn bytes_after_a_decline_are_counted() {
        let (c, s) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
        let mut t: FlowTable<()> = FlowTable::new(FlowLimits::default());
        let mut h = Decline::default();
        let ts = Timestamp::default();
        t.segment(c, s, &seg(99, b"", true), 1, ts, &mut h);
        // Held: 1000 bytes right after the hole, 5000 bytes after another.
        t.segment(c, s, &seg(104, &[b'b'; 1000], false), 2, ts, &mut h);
        t.segment(c, s, &seg(1110, &[b'd'; 5000], false), 3, ts, &mut h);
        // The hole fills: its 4 bytes are declined (the handler saw them),
        // the 1000 then drained and the 5000 still held are counted.
        t.segment(c, s, &seg(100, b"aaaa", false), 4, ts, &mut h);
        t.segment(c, s, &seg(6110, b"e", false), 5, ts, &mut h);
        t.finish_all(&mut h);
        assert_eq!(h.0, vec![[6001, 0]]);
        assert_eq!(t.stats.bytes_ignored, 6001);
        assert_eq!(t.early_total, 0);
    }
}
