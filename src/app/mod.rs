//! app: the application layer. The flow layer drives it with both
//! directions of every TCP connection, in capture order; UDP datagrams
//! enter through [`AppLayer::datagram`].
//!
//! Each connection gets one [`Dissector`], chosen by content, not port:
//! the [`PROTOCOLS`] registry is asked in order (TLS, DNS over TCP, then
//! HTTP/1.x, which also keeps other text streams). A dissector sees both
//! directions with their [`Role`]; the TLS dissector decrypts with the
//! run's key material and hands the client's plaintext to a child
//! dissector chosen the same way.
//!
//! Output: [`HttpRequest`]s and [`StreamPayload`]s for extraction, and
//! counters of what was not inspected, by reason ([`AppStats`]).
//!
//! Never: let buffered bytes grow past the named limits ([`AppConfig`]),
//! or drop bytes without counting them.

pub mod datagram;
pub mod dns;
pub mod http1;
pub mod http2;
pub mod quic;
pub mod sip;
pub mod sms;
pub mod text;
pub mod tls;

use std::net::SocketAddr;
use std::sync::Arc;

use crate::finding::{AppRef, TlsStats};
pub use crate::flow::Role;
use crate::flow::{Chunk, Ends, Interest, StreamHandler};
use crate::http::{HttpLimits, HttpRequest};
pub use text::StreamPayload;
use tls::keys::KeyStore;

/// Frozen settings of the application layer.
#[derive(Clone, Copy, Debug)]
pub struct AppConfig {
    pub http: HttpLimits,
    pub tls: tls::TlsLimits,
    /// Bytes all connections together may hold of what they gather for
    /// inspection (request heads and bodies, HTTP/2 streams, text);
    /// past it, the connection that grows sends out what it has.
    pub max_held: usize,
}

/// Default of [`AppConfig::max_held`].
pub const MAX_HELD: usize = 64 << 20;

impl Default for AppConfig {
    fn default() -> Self {
        AppConfig { http: HttpLimits::default(), tls: tls::TlsLimits::default(), max_held: MAX_HELD }
    }
}

/// Closed connections kept waiting for keys from later in the capture.
pub const MAX_PARKED: usize = 10_000;

/// Distinct TLS server names kept per capture.
pub const MAX_SERVER_NAMES: usize = 1000;

/// Counters of one capture's application layer.
#[derive(Clone, Debug, Default)]
pub struct AppStats {
    /// Server responses (cannot carry an upload).
    pub response_bytes: u64,
    /// TCP payload of streams that are neither HTTP nor TLS, past what
    /// was kept as text.
    pub other_bytes: u64,
    /// UDP payload not inspected.
    pub udp_bytes: u64,
    /// HTTP/2 client bytes not parsed (after a frame that could not be read).
    pub http2_bytes: u64,
    pub http2: crate::finding::Http2Stats,
    /// Times a connection sent out what it had gathered because all
    /// together held more than [`AppConfig::max_held`].
    pub held_limit_hits: u64,
    pub quic_packets: u64,
    pub quic_bytes: u64,
    pub tls: TlsStats,
    /// Server names of TLS connections (ClientHello SNI), sorted: the
    /// first [`MAX_SERVER_NAMES`] in alphabetical order, so that the list
    /// does not depend on which names came first (nor on which worker of
    /// a capture saw them).
    pub tls_names: Vec<String>,
    /// Server names of QUIC connections, from their Initial packets.
    pub quic_names: Vec<String>,
}

/// Adds `name` to a sorted list of at most [`MAX_SERVER_NAMES`] distinct
/// names, keeping the alphabetically first: one binary search per
/// connection, whatever the number of names.
fn keep_name(list: &mut Vec<String>, name: &str) {
    if let Err(at) = list.binary_search_by(|n| n.as_str().cmp(name))
        && at < MAX_SERVER_NAMES
    {
        list.insert(at, name.to_string());
        list.truncate(MAX_SERVER_NAMES);
    }
}

impl AppStats {
    fn server_name(&mut self, name: &str) {
        keep_name(&mut self.tls_names, name);
    }

    /// The server name of a connection not decrypted.
    fn undecrypted_name(&mut self, name: &str) {
        keep_name(&mut self.tls.server_names, name);
    }

    /// The server name of a QUIC connection (from its Initial packets).
    fn quic_name(&mut self, name: &str) {
        keep_name(&mut self.quic_names, name);
    }
}

/// What dissectors produce; drained by the caller after every frame.
#[derive(Default)]
pub struct Emit {
    pub requests: Vec<HttpRequest>,
    pub streams: Vec<StreamPayload>,
    pub sip: Vec<sip::SipMessage>,
    /// Short messages and mobile identities (SMS over IMS, GSMTAP).
    pub telephony: Vec<Telephony>,
    /// Parts of concatenated SMS over IMS waiting for the rest.
    pub ims_sms: sms::Reassembler,
    pub stats: AppStats,
    /// What TLS connections share: budgets and a scratch buffer.
    pub tls: tls::Shared,
    /// Keep payloads that are not text too (a device profile is loaded:
    /// its byte forms are searched in them).
    pub keep_binary: bool,
}

/// How much of each output list was there before a dissector ran.
#[derive(Clone, Copy)]
struct Marks([usize; 4]);

impl Emit {
    fn marks(&self) -> Marks {
        Marks([self.requests.len(), self.streams.len(), self.sip.len(), self.telephony.len()])
    }

    /// Gives what was made since `m` the app of the connection or
    /// datagram that made it.
    fn attribute(&mut self, m: Marks, app: Option<&Arc<AppRef>>) {
        let Some(app) = app else { return };
        let set = |slot: &mut Option<Arc<AppRef>>| {
            if slot.is_none() {
                *slot = Some(app.clone());
            }
        };
        // `get_mut`: a list drained since the marks were taken is no panic.
        self.requests.get_mut(m.0[0]..).into_iter().flatten().for_each(|r| set(&mut r.app));
        self.streams.get_mut(m.0[1]..).into_iter().flatten().for_each(|r| set(&mut r.app));
        self.sip.get_mut(m.0[2]..).into_iter().flatten().for_each(|r| set(&mut r.app));
        self.telephony.get_mut(m.0[3]..).into_iter().flatten().for_each(|r| set(&mut r.app));
    }
}

/// A short message or a mobile identity, with where it was seen.
#[derive(Debug)]
pub struct Telephony {
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub frame: u64,
    pub ts: crate::util::Timestamp,
    pub what: TelephonyEvent,
    /// The app that sent it, when the capture says.
    pub app: Option<Arc<AppRef>>,
}

#[derive(Debug)]
pub enum TelephonyEvent {
    /// `via`: `ims` (SIP MESSAGE) or `gsmtap`.
    Sms { sms: sms::Sms, via: &'static str },
    /// A mobile identity in a GSM/GPRS layer-3 message (GSMTAP).
    Identity { kind: sms::IdentityKind, value: String, uplink: bool, message: sms::L3Message },
}

/// What a dissector works with besides the bytes.
pub struct Cx<'a> {
    pub out: &'a mut Emit,
    pub cfg: &'a AppConfig,
    pub keys: &'a mut KeyStore,
}

/// In-order bytes of one direction of a connection.
#[derive(Clone, Copy, Debug)]
pub struct Seg<'a> {
    pub role: Role,
    /// Sender and receiver of these bytes.
    pub src: SocketAddr,
    pub dst: SocketAddr,
    /// The capture started in the middle of this direction.
    pub midstream: bool,
    pub chunk: Chunk<'a>,
}

/// What a dissector wants next of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Continue,
    /// Stop copying this direction: its bytes are only counted.
    DropDir,
}

/// What became of a dissector when its connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    Done,
    /// It holds records for keys that may still come (a Decryption
    /// Secrets Block later in the file): keep it until then.
    WaitingForKeys,
}

/// The parser of one connection's application protocol.
pub trait Dissector: Send {
    fn data(&mut self, cx: &mut Cx<'_>, seg: Seg<'_>) -> Verdict;
    /// `len` bytes of the `role` direction were never captured.
    fn gap(&mut self, cx: &mut Cx<'_>, role: Role, len: u64);
    /// The connection ended. `ignored` is the payload of each role's
    /// direction after it was dropped (counted, never copied). `last`:
    /// no more keys can come, so nothing may wait.
    fn close(&mut self, cx: &mut Cx<'_>, ignored: [u64; 2], last: bool) -> Closed;
    /// New key material arrived: retry what waited for it.
    fn keys_added(&mut self, _cx: &mut Cx<'_>) {}
    /// Bytes the connection's buffers hold (what is gathered for
    /// inspection), for the limit on all connections together.
    fn held(&self) -> usize {
        0
    }
    /// All connections together hold too much: give memory back, sending
    /// out what was gathered so far with a note saying why (`why`).
    fn shed(&mut self, _cx: &mut Cx<'_>, _why: &str) {}
}

/// What a probe says of a direction's first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Probe {
    Yes,
    No,
    /// Too few bytes to tell (a TLS record header cut after one byte).
    NeedMore,
}

/// A protocol the registry can recognise by content.
pub struct AppProto {
    pub name: &'static str,
    /// Do these first bytes of a direction start this protocol?
    pub probe: fn(&Seg<'_>) -> Probe,
    pub new: fn(&AppConfig) -> Box<dyn Dissector>,
}

/// First bytes kept while a probe needs more.
const PROBE_MAX: usize = 16;
/// A server's bytes kept while the client has said nothing yet.
const SERVER_FIRST_MAX: usize = 4096;

/// The registry, asked in order; the last one takes anything.
pub const PROTOCOLS: &[AppProto] = &[tls::PROTO, dns::TCP_PROTO, http2::PROTO, sip::PROTO, http1::PROTO];

/// The protocol of a connection whose first bytes are `seg`, or `None`
/// while a probe needs more bytes (`more_to_come`: else the first probe
/// that could say yes is taken).
fn probe(seg: &Seg<'_>, more_to_come: bool) -> Option<&'static AppProto> {
    for p in PROTOCOLS {
        match (p.probe)(seg) {
            Probe::Yes => return Some(p),
            Probe::NeedMore if more_to_come => return None,
            Probe::NeedMore => return Some(p),
            Probe::No => {}
        }
    }
    Some(&http1::PROTO)
}

/// The dissector for a connection whose first bytes are `seg`.
pub fn dissector_for(seg: &Seg<'_>, cfg: &AppConfig) -> Box<dyn Dissector> {
    (probe(seg, false).unwrap_or(&http1::PROTO).new)(cfg)
}

/// The dissector for decrypted plaintext: what the client sent inside
/// TLS is parsed as it would be in clear (SIP over TLS, HTTP/1.x, else
/// text).
pub fn dissector_for_plaintext(cfg: &AppConfig, first: &[u8]) -> Box<dyn Dissector> {
    if sip::starts_sip(first) { (sip::PROTO.new)(cfg) } else { (http1::PROTO.new)(cfg) }
}

/// Per-connection state, one pointer in the flow table: allocated by the
/// connection's first payload, so a flood of handshakes costs nothing here.
#[derive(Default)]
pub struct Conn(Option<Box<ConnState>>);

/// The roles of a connection's two flow directions, and its dissector once
/// the first bytes chose one.
#[derive(Default)]
struct ConnState {
    roles: Option<[Role; 2]>,
    d: Option<Box<dyn Dissector>>,
    /// What its dissector held at its last call (in `AppLayer::held`).
    held: usize,
    /// First bytes of a direction kept while a probe needs more.
    pending: Option<Box<Pending>>,
}

struct Pending {
    dir: usize,
    src: SocketAddr,
    dst: SocketAddr,
    midstream: bool,
    bytes: Vec<u8>,
    frame: u64,
    ts: crate::util::Timestamp,
}

/// Role of the flow direction that sent `data`, when the handshake did
/// not say: by content (a ClientHello or request comes from the client, a
/// ServerHello or response from the server), else the side with the
/// higher port is the client.
fn guess_role(ends: &Ends<'_>, data: &[u8]) -> Role {
    if let Some(r) = ends.role {
        return r;
    }
    if let Some(r) = tls::handshake::hello_role(data) {
        return r;
    }
    match http1_side(data) {
        Some(r) => r,
        None if ends.dst.port() < ends.src.port() => Role::Client,
        None => Role::Server,
    }
}

/// Who sent bytes that start like HTTP/1.x: a response's status line
/// comes from the server, a request line from the client.
pub fn http1_side(data: &[u8]) -> Option<Role> {
    if data.starts_with(b"HTTP/") {
        Some(Role::Server)
    } else if crate::http::head::may_start_request(&data[..data.len().min(32)]) && data.contains(&b' ') {
        Some(Role::Client)
    } else {
        None
    }
}

/// A closed connection waiting for keys, and the app it was attributed to.
/// A closed connection waiting for keys, with its app, and where it
/// closed: (the frame being read then, its first frame), the order of
/// the parked connections.
type Parked = (Box<dyn Dissector>, Option<Arc<AppRef>>, [u64; 2]);

/// The application layer of one capture: key material, output, and
/// connections waiting for keys.
pub struct AppLayer {
    pub cfg: AppConfig,
    pub keys: KeyStore,
    pub out: Emit,
    /// Closed TLS connections holding records for keys not seen yet,
    /// with the app each was attributed to.
    parked: Vec<Parked>,
    /// ClientHellos of QUIC connections being gathered.
    quic: quic::Initials,
    /// GSMTAP links (LAPDm segments) and SMS parts.
    gsmtap: sms::Gsmtap,
    /// Bytes all live connections' dissectors hold.
    held: usize,
    /// Where the last GSMTAP datagram came from (what its events carry).
    gsmtap_last: (SocketAddr, SocketAddr, u64, crate::util::Timestamp),
    /// The frame being read (set by the caller): where a connection that
    /// parks closed.
    pub now: u64,
}

impl AppLayer {
    pub fn new(cfg: AppConfig, keys: KeyStore) -> Self {
        AppLayer {
            cfg,
            keys,
            out: Emit::default(),
            parked: Vec::new(),
            quic: quic::Initials::default(),
            gsmtap: sms::Gsmtap::new(),
            held: 0,
            gsmtap_last: (
                SocketAddr::from(([0, 0, 0, 0], 0)),
                SocketAddr::from(([0, 0, 0, 0], 0)),
                0,
                Default::default(),
            ),
            now: 0,
        }
    }

    fn cx(&mut self) -> Cx<'_> {
        Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys }
    }

    /// Adds key log text found in the capture (a Decryption Secrets
    /// Block) and retries the connections that waited for it, in the
    /// order they parked; `after` gets the output and the parked
    /// connection's place ([`Parked`]) after each. Returns notes on lines
    /// that could not be used.
    pub fn add_secrets(
        &mut self,
        text: &[u8],
        after: &mut dyn FnMut(&mut Emit, [u64; 2]),
    ) -> Vec<tls::keylog::KeyLogNote> {
        let before = self.keys.generation();
        let notes = self.keys.add_embedded(text);
        if self.keys.generation() == before {
            // Nothing new: nothing to retry (an empty block costs nothing).
            return notes;
        }
        let mut parked = std::mem::take(&mut self.parked);
        let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
        parked.retain_mut(|(d, app, at)| {
            let m = cx.out.marks();
            d.keys_added(&mut cx);
            let waiting = d.close(&mut cx, [0, 0], false) == Closed::WaitingForKeys;
            cx.out.attribute(m, app.as_ref());
            after(cx.out, *at);
            waiting
        });
        self.parked = parked;
        notes
    }

    /// End of the capture: SMS parts and LAPDm segments still held come
    /// out (noted as incomplete), then `after(out, None)`; connections
    /// still waiting give up, `after(out, Some(place))` after each.
    pub fn finish(&mut self, after: &mut dyn FnMut(&mut Emit, Option<[u64; 2]>)) {
        let mut done = Vec::new();
        self.out.ims_sms.finish(&mut done);
        let at = self.gsmtap_last;
        for sms in done {
            self.out.telephony.push(Telephony {
                app: None,
                src: at.0,
                dst: at.1,
                frame: at.2,
                ts: at.3,
                what: TelephonyEvent::Sms { sms, via: "ims" },
            });
        }
        let mut events = Vec::new();
        self.gsmtap.finish(&mut events);
        datagram::gsmtap_events(&mut self.out, events, at);
        after(&mut self.out, None);
        let parked = std::mem::take(&mut self.parked);
        let mut cx = self.cx();
        for (mut d, app, place) in parked {
            let m = cx.out.marks();
            d.close(&mut cx, [0, 0], true);
            cx.out.attribute(m, app.as_ref());
            after(cx.out, Some(place));
        }
    }

    /// One UDP datagram.
    pub fn datagram(&mut self, d: datagram::Datagram<'_>, names: &mut dns::Names) {
        let (m, app) = (self.out.marks(), d.app);
        if d.src.port() == datagram::GSMTAP_PORT || d.dst.port() == datagram::GSMTAP_PORT {
            self.gsmtap_last = (d.src, d.dst, d.frame, d.ts);
            let mut events = Vec::new();
            self.gsmtap.datagram(d.payload, &mut events);
            datagram::gsmtap_events(&mut self.out, events, self.gsmtap_last);
        } else {
            datagram::dispatch(&mut self.out, d, names, &mut self.quic);
        }
        self.out.attribute(m, app);
    }

    /// What GSMTAP decoding counted.
    pub fn gsmtap_stats(&self) -> (sms::GsmtapStats, sms::ConcatStats) {
        (self.gsmtap.stats(), self.gsmtap.concat_stats())
    }
}

/// Roles of both flow directions from the first bytes seen on `dir`.
fn guess_roles(ends: &Ends<'_>, dir: usize, data: &[u8]) -> [Role; 2] {
    let r = guess_role(ends, data);
    if dir == 0 { [r, r.peer()] } else { [r.peer(), r] }
}

impl AppLayer {
    /// Hands in-order bytes to the connection's dissector.
    fn feed(&mut self, st: &mut ConnState, seg: Seg<'_>) -> Interest {
        let Some(d) = st.d.as_mut() else { return Interest::Inspect };
        let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
        let v = d.data(&mut cx, seg);
        self.account(st);
        match v {
            Verdict::Continue => Interest::Inspect,
            Verdict::DropDir => Interest::Ignore,
        }
    }

    /// Counts what the connection holds now; when all together hold more
    /// than the limit, it sends out what it has (noted on each request).
    fn account(&mut self, st: &mut ConnState) {
        let Some(d) = st.d.as_mut() else { return };
        let mut now = d.held();
        self.held = self.held.saturating_sub(st.held).saturating_add(now);
        if self.held > self.cfg.max_held && now > 0 {
            let why = format!(
                "all connections together held more than {} bytes for inspection (--max-held)",
                self.cfg.max_held
            );
            let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
            d.shed(&mut cx, &why);
            self.out.stats.held_limit_hits += 1;
            let after = d.held();
            self.held = self.held.saturating_sub(now).saturating_add(after);
            now = after;
        }
        st.held = now;
    }

    /// The connection is gone: what it held is free.
    fn release(&mut self, st: &mut ConnState) {
        self.held = self.held.saturating_sub(std::mem::take(&mut st.held));
    }
}

impl StreamHandler for AppLayer {
    type State = Conn;

    fn data(&mut self, st: &mut Conn, dir: usize, ends: Ends<'_>, chunk: Chunk<'_>) -> Interest {
        let m = self.out.marks();
        let interest = self.conn_data(st, dir, ends, chunk);
        self.out.attribute(m, ends.app);
        interest
    }

    fn gap(&mut self, st: &mut Conn, dir: usize, ends: Ends<'_>, len: u64) {
        let m = self.out.marks();
        self.conn_gap(st, dir, len);
        self.out.attribute(m, ends.app);
    }

    fn close(&mut self, st: Conn, ignored: [u64; 2], app: Option<&Arc<AppRef>>, first_frame: u64) {
        let m = self.out.marks();
        self.conn_close(st, ignored, app, first_frame);
        self.out.attribute(m, app);
    }
}

/// The connection side of the application layer; what each call makes is
/// attributed to the connection's app by the [`StreamHandler`] methods.
impl AppLayer {
    fn conn_data(&mut self, st: &mut Conn, dir: usize, ends: Ends<'_>, chunk: Chunk<'_>) -> Interest {
        let seg = |roles: [Role; 2], chunk| Seg {
            role: roles[dir],
            src: ends.src,
            dst: ends.dst,
            midstream: ends.midstream,
            chunk,
        };
        let st = st.0.get_or_insert_with(Box::default);
        if st.d.is_some() {
            let roles = st.roles.unwrap_or([Role::Client, Role::Server]);
            return self.feed(st, seg(roles, chunk));
        }
        // Still choosing: join the bytes kept for this direction.
        let pending = st.pending.take();
        let joined: Vec<u8>;
        let chunk = match pending {
            Some(p) if p.dir == dir => {
                joined = [&p.bytes[..], chunk.data].concat();
                Chunk { data: &joined, frame: p.frame, ts: p.ts }
            }
            Some(p) => {
                // The other side spoke first. The client's bytes say what
                // the connection is (a server's SETTINGS or banner before
                // the client's HTTP/2 preface or request); the kept bytes
                // go to that dissector first.
                let roles = *st.roles.get_or_insert_with(|| guess_roles(&ends, dir, chunk.data));
                let kept = Chunk { data: &p.bytes, frame: p.frame, ts: p.ts };
                let other = Seg { role: roles[p.dir], src: p.src, dst: p.dst, midstream: p.midstream, chunk: kept };
                let this = seg(roles, chunk);
                let cfg = self.cfg;
                st.d = Some(dissector_for(if this.role == Role::Client { &this } else { &other }, &cfg));
                let _ = self.feed(st, other);
                return self.feed(st, this);
            }
            None => chunk,
        };
        let roles = *st.roles.get_or_insert_with(|| guess_roles(&ends, dir, chunk.data));
        let first = seg(roles, chunk);
        // The server spoke first: wait for the client's bytes to choose,
        // within a bound (a server that sends more before the client says
        // anything is read as it is).
        let server_first = first.role == Role::Server && chunk.data.len() < SERVER_FIRST_MAX;
        let choice = if server_first { None } else { probe(&first, chunk.data.len() < PROBE_MAX) };
        match choice {
            None => {
                st.pending = Some(Box::new(Pending {
                    dir,
                    src: ends.src,
                    dst: ends.dst,
                    midstream: ends.midstream,
                    bytes: chunk.data.to_vec(),
                    frame: chunk.frame,
                    ts: chunk.ts,
                }));
                Interest::Inspect
            }
            Some(p) => {
                st.d = Some((p.new)(&self.cfg));
                self.feed(st, first)
            }
        }
    }

    fn conn_gap(&mut self, st: &mut Conn, dir: usize, len: u64) {
        let Some(st) = st.0.as_deref_mut() else { return };
        let (Some(roles), Some(d)) = (st.roles, st.d.as_mut()) else { return };
        let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
        d.gap(&mut cx, roles[dir], len);
        self.account(st);
    }

    fn conn_close(&mut self, st: Conn, ignored: [u64; 2], app: Option<&Arc<AppRef>>, first_frame: u64) {
        let Some(mut st) = st.0 else { return };
        self.release(&mut st);
        if let (Some(p), Some(roles)) = (st.pending.take(), st.roles) {
            // The connection ended while its first bytes were too few to
            // tell: they go to the protocol that could not say no.
            let chunk = Chunk { data: &p.bytes, frame: p.frame, ts: p.ts };
            let seg = Seg { role: roles[p.dir], src: p.src, dst: p.dst, midstream: p.midstream, chunk };
            let mut d = dissector_for(&seg, &self.cfg);
            let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
            d.data(&mut cx, seg);
            st.d = Some(d);
        }
        let (Some(roles), Some(mut d)) = (st.roles, st.d) else { return };
        let mut by_role = [0; 2];
        for (dir, n) in ignored.into_iter().enumerate() {
            by_role[roles[dir].index()] += n;
        }
        let last = !self.keys.may_grow();
        let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
        if d.close(&mut cx, by_role, last) == Closed::WaitingForKeys {
            if self.parked.len() < MAX_PARKED {
                self.parked.push((d, app.cloned(), [self.now, first_frame]));
            } else {
                // Each waits with little, but their number is the peer's
                // to choose: past the cap they give up at once.
                cx.out.stats.tls.parked_limit += 1;
                d.close(&mut cx, [0, 0], true);
            }
        }
    }
}

#[cfg(test)]
mod tests {

    /// The list kept is the alphabetically first names, whatever order
    /// they came in (the same for any split of the connections).
    #[test]
    fn server_names_kept_do_not_depend_on_their_order() {
        let names: Vec<String> = (0..MAX_SERVER_NAMES + 300).map(|i| format!("h{i:05}.example")).collect();
        let (mut up, mut down) = (Vec::new(), Vec::new());
        for n in &names {
            keep_name(&mut up, n);
            keep_name(&mut up, n);
        }
        for n in names.iter().rev() {
            keep_name(&mut down, n);
        }
        assert_eq!(up, down);
        assert_eq!(up, names[..MAX_SERVER_NAMES]);
    }
    use super::*;
    use crate::util::Timestamp;

    fn layer() -> AppLayer {
        AppLayer::new(AppConfig::default(), KeyStore::new(Default::default()))
    }

    fn ends(src: &str, dst: &str) -> Ends<'static> {
        Ends {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            midstream: false,
            role: Some(Role::Client),
            app: None,
        }
    }

    fn send(app: &mut AppLayer, st: &mut Conn, e: Ends<'_>, data: &[u8]) {
        app.data(st, 0, e, Chunk { data, frame: 1, ts: Timestamp::default() });
    }

    /// HTTP to TCP port 53 (a way through firewalls) is parsed as HTTP,
    /// not taken for DNS.
    #[test]
    fn http_on_the_dns_port_stays_http() {
        let mut app = layer();
        let mut st = Conn::default();
        let e = ends("10.0.0.1:40000", "192.0.2.1:53");
        send(&mut app, &mut st, e, b"GET /x?imei=356938035643809 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(app.out.requests.len(), 1);
        // A DNS query over TCP is still read as one.
        let mut st = Conn::default();
        let q = b"\x00\x1d\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03org\x00\x00\x01\x00\x01";
        send(&mut app, &mut st, e, q);
        assert!(app.out.streams.iter().any(|p| p.dns_query && p.data == b"example.org"));
    }

    /// The server speaks first (an h2c server's SETTINGS before the
    /// client's preface): the client's bytes choose HTTP/2, and the
    /// server's kept bytes go to it first.
    #[test]
    fn the_clients_bytes_choose_when_the_server_speaks_first() {
        let mut app = layer();
        let mut st = Conn::default();
        let c = ends("10.0.0.1:40000", "192.0.2.1:8080");
        let s = Ends { src: c.dst, dst: c.src, midstream: false, role: Some(Role::Server), app: None };
        let settings = [0, 0, 6, 4, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 100];
        app.data(&mut st, 1, s, Chunk { data: &settings, frame: 4, ts: Timestamp::default() });
        let mut client = http2::PREFACE.to_vec();
        let block = [0x82, 0x87, 0x00, 5, b':', b'p', b'a', b't', b'h', 2, b'/', b'x'];
        client.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x5, 0, 0, 0, 1]);
        client.extend_from_slice(&block);
        app.data(&mut st, 0, c, Chunk { data: &client, frame: 6, ts: Timestamp::default() });
        app.close(st, [0, 0], None, 1);
        let r = &app.out.requests;
        assert_eq!(r.len(), 1);
        assert_eq!((r[0].uri().as_str(), r[0].protocol(), r[0].frame), ("/x", "http/2", 6));
    }

    /// A TLS record header cut after its first byte: the probe waits for
    /// more, and the connection is still TLS, its server name read.
    #[test]
    fn a_probe_that_needs_more_waits_for_it() {
        let hello = tls::handshake::tests::hello("late.example");
        for cut in 1..3 {
            let mut app = layer();
            let mut st = Conn::default();
            let e = ends("10.0.0.1:40000", "192.0.2.1:443");
            send(&mut app, &mut st, e, &hello[..cut]);
            send(&mut app, &mut st, e, &hello[cut..]);
            app.close(st, [0, 0], None, 1);
            assert_eq!(app.out.stats.tls_names, ["late.example"], "cut {cut}");
            assert_eq!(app.out.stats.tls.connections, 1);
        }
        // A lone byte that never continues is handed over at the close.
        let mut app = layer();
        let mut st = Conn::default();
        send(&mut app, &mut st, ends("10.0.0.1:40000", "192.0.2.1:443"), &hello[..1]);
        app.close(st, [0, 0], None, 1);
        assert_eq!(app.out.stats.tls.connections, 1);
    }
}
