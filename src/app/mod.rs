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
pub mod text;
pub mod tls;

use std::net::SocketAddr;

use crate::finding::TlsStats;
pub use crate::flow::Role;
use crate::flow::{Chunk, Ends, Interest, StreamHandler};
use crate::http::{HttpLimits, HttpRequest};
pub use text::StreamPayload;
use tls::keys::KeyStore;

/// Frozen settings of the application layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct AppConfig {
    pub http: HttpLimits,
    pub tls: tls::TlsLimits,
}

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
    /// Decrypted HTTP/2 client bytes (not parsed yet).
    pub http2_bytes: u64,
    pub quic_packets: u64,
    pub quic_bytes: u64,
    pub tls: TlsStats,
    /// Server names of TLS connections (ClientHello SNI), in order of
    /// first appearance, at most [`MAX_SERVER_NAMES`].
    pub tls_names: Vec<String>,
    /// Names in `tls_names` (false) and `tls.server_names` (true): one
    /// lookup per connection, whatever the number of names.
    names_seen: std::collections::HashSet<(bool, String)>,
}

impl AppStats {
    fn server_name(&mut self, name: &str) {
        if self.tls_names.len() < MAX_SERVER_NAMES && self.names_seen.insert((false, name.to_string())) {
            self.tls_names.push(name.to_string());
        }
    }

    /// The server name of a connection not decrypted.
    fn undecrypted_name(&mut self, name: &str) {
        if self.tls.server_names.len() < MAX_SERVER_NAMES && self.names_seen.insert((true, name.to_string())) {
            self.tls.server_names.push(name.to_string());
        }
    }
}

/// What dissectors produce; drained by the caller after every frame.
#[derive(Default)]
pub struct Emit {
    pub requests: Vec<HttpRequest>,
    pub streams: Vec<StreamPayload>,
    pub stats: AppStats,
    /// Bytes of TLS records waiting for keys, and of records split across
    /// segments, across all connections, against [`tls::TlsLimits`].
    pub tls_held: usize,
    pub tls_partial: usize,
    /// Plaintext of the record being decrypted, reused.
    pub tls_scratch: Vec<u8>,
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
}

/// A protocol the registry can recognise by content.
pub struct AppProto {
    pub name: &'static str,
    /// Do these first bytes of a direction start this protocol?
    pub probe: fn(&Seg<'_>) -> bool,
    pub new: fn(&AppConfig) -> Box<dyn Dissector>,
}

/// The registry, asked in order; the last one takes anything.
pub const PROTOCOLS: &[AppProto] = &[tls::PROTO, dns::TCP_PROTO, http1::PROTO];

/// The dissector for a connection whose first bytes are `seg`.
pub fn dissector_for(seg: &Seg<'_>, cfg: &AppConfig) -> Box<dyn Dissector> {
    let p = PROTOCOLS.iter().find(|p| (p.probe)(seg)).unwrap_or(&http1::PROTO);
    (p.new)(cfg)
}

/// The dissector for decrypted plaintext: what the client sent inside
/// TLS is parsed as it would be in clear (HTTP/1.x, else text).
pub fn dissector_for_plaintext(cfg: &AppConfig) -> Box<dyn Dissector> {
    (http1::PROTO.new)(cfg)
}

/// Per-connection state: the roles of its two flow directions, and its
/// dissector once the first bytes chose one.
#[derive(Default)]
pub struct Conn {
    roles: Option<[Role; 2]>,
    d: Option<Box<dyn Dissector>>,
}

/// Role of the flow direction that sent `data`, when the handshake did
/// not say: by content (a ClientHello or request comes from the client, a
/// ServerHello or response from the server), else the side with the
/// higher port is the client.
fn guess_role(ends: &Ends, data: &[u8]) -> Role {
    if let Some(r) = ends.role {
        return r;
    }
    if let Some(r) = tls::handshake::hello_role(data) {
        return r;
    }
    if data.starts_with(b"HTTP/") {
        return Role::Server;
    }
    if crate::http::head::may_start_request(&data[..data.len().min(32)]) && data.contains(&b' ') {
        return Role::Client;
    }
    if ends.dst.port() < ends.src.port() { Role::Client } else { Role::Server }
}

/// The application layer of one capture: key material, output, and
/// connections waiting for keys.
pub struct AppLayer {
    pub cfg: AppConfig,
    pub keys: KeyStore,
    pub out: Emit,
    /// Closed TLS connections holding records for keys not seen yet.
    parked: Vec<Box<dyn Dissector>>,
}

impl AppLayer {
    pub fn new(cfg: AppConfig, keys: KeyStore) -> Self {
        AppLayer { cfg, keys, out: Emit::default(), parked: Vec::new() }
    }

    fn cx(&mut self) -> Cx<'_> {
        Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys }
    }

    /// Adds key log text found in the capture (a Decryption Secrets
    /// Block) and retries the connections that waited for it. Returns
    /// notes on lines that could not be used.
    pub fn add_secrets(&mut self, text: &[u8]) -> Vec<tls::keylog::KeyLogNote> {
        let notes = self.keys.add_embedded(text);
        let mut parked = std::mem::take(&mut self.parked);
        let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
        parked.retain_mut(|d| {
            d.keys_added(&mut cx);
            d.close(&mut cx, [0, 0], false) == Closed::WaitingForKeys
        });
        self.parked = parked;
        notes
    }

    /// End of the capture: connections still waiting give up.
    pub fn finish(&mut self) {
        let parked = std::mem::take(&mut self.parked);
        let mut cx = self.cx();
        for mut d in parked {
            d.close(&mut cx, [0, 0], true);
        }
    }

    /// One UDP datagram.
    pub fn datagram(&mut self, d: datagram::Datagram<'_>, names: &mut dns::Names) {
        datagram::dispatch(&mut self.out, d, names);
    }
}

impl StreamHandler for AppLayer {
    type State = Conn;

    fn data(&mut self, st: &mut Conn, dir: usize, ends: Ends, chunk: Chunk<'_>) -> Interest {
        let roles = *st.roles.get_or_insert_with(|| {
            let r = guess_role(&ends, chunk.data);
            if dir == 0 { [r, r.peer()] } else { [r.peer(), r] }
        });
        let seg = Seg { role: roles[dir], src: ends.src, dst: ends.dst, midstream: ends.midstream, chunk };
        let cfg = self.cfg;
        let d = st.d.get_or_insert_with(|| dissector_for(&seg, &cfg));
        let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
        match d.data(&mut cx, seg) {
            Verdict::Continue => Interest::Inspect,
            Verdict::DropDir => Interest::Ignore,
        }
    }

    fn gap(&mut self, st: &mut Conn, dir: usize, _ends: Ends, len: u64) {
        let (Some(roles), Some(d)) = (st.roles, st.d.as_mut()) else { return };
        let mut cx = Cx { out: &mut self.out, cfg: &self.cfg, keys: &mut self.keys };
        d.gap(&mut cx, roles[dir], len);
    }

    fn close(&mut self, st: Conn, ignored: [u64; 2]) {
        let (Some(roles), Some(mut d)) = (st.roles, st.d) else { return };
        let mut by_role = [0; 2];
        for (dir, n) in ignored.into_iter().enumerate() {
            by_role[roles[dir].index()] += n;
        }
        let last = !self.keys.may_grow();
        let mut cx = self.cx();
        if d.close(&mut cx, by_role, last) == Closed::WaitingForKeys {
            self.parked.push(d);
        }
    }
}
