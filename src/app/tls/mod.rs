//! tls: TLS connections, decrypted with the run's key material when it
//! holds their secrets (NSS key log lines, from `--keylog`,
//! `SSLKEYLOGFILE`, a key log beside the capture, or the capture's own
//! Decryption Secrets Blocks), as Wireshark's `packet-tls-utils.c` does.
//!
//! Input: both directions of a connection whose first bytes are a TLS
//! record. Each direction is cut into records (reassembled across TCP
//! segments; whole records in one segment are not copied); clear
//! handshake messages give the randoms, version, suite and extensions;
//! protected records are decrypted with keys derived from the master
//! secret (TLS 1.0-1.2) or the traffic secrets (TLS 1.3, handshake and
//! application phases, KeyUpdate, 0-RTT). The plaintext goes to a child
//! dissector, exactly as cleartext would: HTTP/2 (ALPN h2, both sides,
//! for its HPACK tables), else HTTP/1.x or text (the client's side);
//! requests and streams it produces carry the session's [`TlsInfo`].
//! Other server plaintext is counted (decrypted for the handshake
//! messages it carries: ALPN in TLS 1.3, renegotiation in TLS 1.2; large
//! records only counted once the keys are proven).
//!
//! What cannot be decrypted is counted per connection, once, by reason
//! ([`TlsStats`]): no key, keys that do not authenticate, unsupported
//! suite or version, picked up after the handshake, records lost to a
//! gap, a buffer limit, malformed records.
//!
//! Limits ([`TlsLimits`]): records waiting for keys per connection and in
//! total; partial records count against the same total.
//!
//! Never: panic on a record, trust a length, hold bytes past the limits.

mod account;
pub mod crypto;
pub mod handshake;
pub mod keylog;
pub mod keys;
mod messages;
mod records;

pub use account::count_unsupported;

use std::sync::Arc;

use super::{AppConfig, AppProto, Closed, Cx, Dissector, Probe, Role, Seg, Verdict};
use crate::finding::{TlsInfo, TlsStats};
use crate::flow::Chunk;
use crate::util::Timestamp;
use crypto::{RecordCipher, Side, Suite, Version};
use handshake::{ClientHello, ServerHello};

pub const CT_CHANGE_CIPHER_SPEC: u8 = 20;
pub const CT_ALERT: u8 = 21;
pub const CT_HANDSHAKE: u8 = 22;
pub const CT_APPLICATION_DATA: u8 = 23;
pub const CT_HEARTBEAT: u8 = 24;
const RECORD_HEADER: usize = 5;
/// Largest record fragment TLS allows (2^14 plus expansion, RFC 5246).
const MAX_FRAGMENT: usize = (1 << 14) + 2048;
/// Longest handshake message kept to be parsed; longer ones (certificate
/// chains) are skipped, never buffered.
const MAX_HANDSHAKE_MESSAGE: usize = 64 << 10;
/// Records that fail to authenticate before the first success, when some
/// are expected to (0-RTT data the server rejected, a phase whose secret
/// is missing from the key log).
const TOLERATED_FAILURES: u32 = 8;
/// Server application records at least this long are counted, not
/// decrypted, once the keys are proven (TLS 1.3 session tickets and key
/// updates are far smaller).
const SKIP_SERVER_RECORD: usize = 2048;

/// The reason named for TLS that starts after cleartext on a connection.
pub const STARTTLS: &str = "TLS after a cleartext start (STARTTLS)";

/// Named limits of TLS decryption.
#[derive(Clone, Copy, Debug)]
pub struct TlsLimits {
    /// Record bytes held per connection while its keys are not known yet
    /// (they may come later in a Decryption Secrets Block).
    pub max_held_per_conn: usize,
    /// Record bytes waiting for keys across all connections.
    pub max_held_total: usize,
    /// Bytes of records split across TCP segments, across all
    /// connections (each is at most one record per direction).
    pub max_partial_total: usize,
}

impl Default for TlsLimits {
    fn default() -> Self {
        TlsLimits { max_held_per_conn: 256 << 10, max_held_total: 16 << 20, max_partial_total: 32 << 20 }
    }
}

/// What all TLS connections of a capture share.
#[derive(Debug, Default)]
pub struct Shared {
    /// Bytes of records waiting for keys, and of records and handshake
    /// messages split across segments, across all connections, against
    /// [`TlsLimits`].
    pub held: usize,
    pub partial: usize,
    /// Plaintext of the record being decrypted, reused.
    pub scratch: Vec<u8>,
}

pub const PROTO: AppProto = AppProto { name: "tls", probe, new: |cfg| Box::new(Tls::new(cfg)) };

/// A TLS record header: a known content type, major version 3.
fn probe(seg: &Seg<'_>) -> Probe {
    let known = |t: &u8| (CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(t);
    match seg.chunk.data {
        [t] | [t, 3] if known(t) => Probe::NeedMore,
        [t, 3, minor, ..] if known(t) && *minor <= 4 => Probe::Yes,
        _ => Probe::No,
    }
}

/// Why a direction stopped being decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stop {
    NoKey,
    BadKey,
    Unsupported,
    Midstream,
    Gap,
    Limit,
    Malformed,
}

/// TLS 1.3 key phase of a direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    #[default]
    Early,
    Handshake,
    App,
}

/// TLS 1.3 key changes announced by handshake messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum KeyChange {
    /// Finished: the application phase follows.
    ToApp,
    /// EndOfEarlyData: the handshake phase follows.
    ToHandshake,
    /// KeyUpdate: the next generation of the traffic secret.
    Update,
}

/// Where a record started in the capture.
#[derive(Clone, Copy, Debug, Default)]
struct At {
    frame: u64,
    ts: Timestamp,
}

/// A record waiting for keys or for the ServerHello.
struct Held {
    at: At,
    rec: Vec<u8>,
}

/// The TLS 1.2 parameters a ChangeCipherSpec switches to.
#[derive(Clone)]
struct Params12 {
    version: Version,
    suite: &'static Suite,
    client_random: [u8; 32],
    server_random: [u8; 32],
    session_id: Vec<u8>,
    ticket: Option<Vec<u8>>,
    encrypt_then_mac: bool,
}

/// One direction's state.
#[derive(Default)]
struct Dir {
    /// A record split across segments, and where it started.
    rec: Vec<u8>,
    rec_need: usize,
    rec_at: At,
    /// A handshake message split across records, or bytes to skip.
    hs: Vec<u8>,
    hs_skip: usize,
    /// TLS 1.2: ChangeCipherSpec seen; records are protected with `ccs`.
    ccs: Option<Box<Params12>>,
    /// Boxed: key schedules are large, and most connections never get one.
    cipher: Option<Box<RecordCipher>>,
    phase: Phase,
    /// A key change the record's handshake messages asked for, made once
    /// the record is done (the record itself is under the old keys).
    change: Option<KeyChange>,
    held: Vec<Held>,
    held_bytes: usize,
    stop: Option<Stop>,
    protected_seen: bool,
    /// A record decrypted with the current application keys: they are
    /// right (reset when a renegotiation brings new ones).
    proven: bool,
    /// Application keys were proven at some point: data was read.
    read: bool,
    decrypted: u64,
    failed: u32,
    tolerate: u32,
    record_bytes: u64,
}

/// One TLS connection.
pub struct Tls {
    cfg: AppConfig,
    ch: Option<Box<ClientHello>>,
    sh: Option<Box<ServerHello>>,
    version: Option<Version>,
    suite: Option<&'static Suite>,
    /// An unsupported version or suite, by name.
    unsupported: Option<String>,
    /// TLS 1.2 parameters of the latest ServerHello.
    params: Option<Box<Params12>>,
    /// Sender and receiver of the client's direction.
    client_addrs: Option<(std::net::SocketAddr, std::net::SocketAddr)>,
    alpn: Option<String>,
    info: Option<Arc<TlsInfo>>,
    dirs: [Dir; 2],
    child: Option<Box<dyn Dissector>>,
    /// The child dropped this role's direction.
    child_done: [bool; 2],
    http2: bool,
    /// Key store generation when keys were last looked for.
    keys_seen: u64,
    ignored: [u64; 2],
    counted: bool,
    /// The capture started inside this connection (no handshake seen).
    midstream: bool,
    /// A ServerHello arrived: held records of both directions can go on.
    replay: bool,
}

impl Tls {
    pub fn new(cfg: &AppConfig) -> Self {
        Tls {
            cfg: *cfg,
            ch: None,
            sh: None,
            version: None,
            suite: None,
            unsupported: None,
            params: None,
            client_addrs: None,
            alpn: None,
            info: None,
            dirs: Default::default(),
            child: None,
            child_done: [false; 2],
            http2: false,
            keys_seen: 0,
            ignored: [0; 2],
            counted: false,
            midstream: false,
            replay: false,
        }
    }

    fn stop(&mut self, role: Role, why: Stop) {
        let d = &mut self.dirs[role.index()];
        if d.stop.is_none() {
            d.stop = Some(why);
        }
    }
}

impl Dissector for Tls {
    /// What the child (HTTP inside) holds; TLS's own buffers have limits
    /// of their own (`--max-tls-held`, the partial record budget).
    fn held(&self) -> usize {
        self.child.as_ref().map_or(0, |c| c.held())
    }

    fn shed(&mut self, cx: &mut Cx<'_>, why: &str) {
        let (nr, ns) = (cx.out.requests.len(), (cx.out.streams.len(), cx.out.sip.len()));
        if let Some(c) = self.child.as_mut() {
            c.shed(cx, why);
        }
        self.tag(cx, nr, ns);
    }

    fn data(&mut self, cx: &mut Cx<'_>, seg: Seg<'_>) -> Verdict {
        if !self.counted {
            self.counted = true;
            self.midstream = seg.midstream;
            cx.out.stats.tls.connections += 1;
        }
        let r = seg.role.index();
        if seg.role == Role::Client {
            self.client_addrs.get_or_insert((seg.src, seg.dst));
        }
        if self.dirs[r].stop.is_some() {
            self.dirs[r].record_bytes += seg.chunk.data.len() as u64;
            return Verdict::DropDir;
        }
        if self.keys_seen != cx.keys.generation() {
            self.keys_seen = cx.keys.generation();
            self.keys_added(cx);
        }
        self.feed(cx, seg.role, seg.chunk);
        if self.dirs[r].stop.is_some() {
            // Bytes of a partial record are given up with the direction.
            let d = &mut self.dirs[r];
            cx.out.tls.partial -= d.rec.len() + d.hs.len();
            d.record_bytes += d.rec.len() as u64;
            (d.rec, d.hs) = (Vec::new(), Vec::new());
            Verdict::DropDir
        } else {
            Verdict::Continue
        }
    }

    fn gap(&mut self, cx: &mut Cx<'_>, role: Role, len: u64) {
        let d = &mut self.dirs[role.index()];
        d.record_bytes += len;
        self.stop(role, Stop::Gap);
        if role == Role::Client {
            self.child_gap(cx, len);
        }
    }

    fn close(&mut self, cx: &mut Cx<'_>, ignored: [u64; 2], last: bool) -> Closed {
        if self.keys_seen != cx.keys.generation() {
            // Keys came after this connection's last packet.
            self.keys_seen = cx.keys.generation();
            self.keys_added(cx);
        }
        self.ignored[0] += ignored[0];
        self.ignored[1] += ignored[1];
        for d in &mut self.dirs {
            // A record never finished: its bytes count as not inspected.
            cx.out.tls.partial -= d.rec.len() + d.hs.len();
            d.record_bytes += d.rec.len() as u64;
            (d.rec, d.hs) = (Vec::new(), Vec::new());
        }
        if self.waiting() && !last {
            return Closed::WaitingForKeys;
        }
        for role in [Role::Client, Role::Server] {
            let d = &mut self.dirs[role.index()];
            if !d.held.is_empty() {
                cx.out.tls.held -= d.held_bytes;
                d.held = Vec::new();
                d.held_bytes = 0;
                self.stop(role, Stop::NoKey);
            }
        }
        if let Some(mut c) = self.child.take() {
            let (nr, ns) = (cx.out.requests.len(), (cx.out.streams.len(), cx.out.sip.len()));
            c.close(cx, [0, 0], true);
            self.tag(cx, nr, ns);
        }
        self.account(cx);
        Closed::Done
    }

    fn keys_added(&mut self, cx: &mut Cx<'_>) {
        self.drain(cx, Role::Client);
        self.drain(cx, Role::Server);
    }
}

/// The fragment length of the record whose header starts `b`, if it is
/// a plausible TLS record header.
fn record_len(b: &[u8]) -> Option<usize> {
    let (&ct, &major, len) = (b.first()?, b.get(1)?, b.get(3..5)?);
    let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
    ((CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ct) && major == 3 && n <= MAX_FRAGMENT).then_some(n)
}

/// Handshake messages parsed; others are skipped unbuffered.
fn wanted(kind: u8) -> bool {
    matches!(
        kind,
        handshake::CLIENT_HELLO
            | handshake::SERVER_HELLO
            | handshake::NEW_SESSION_TICKET
            | handshake::END_OF_EARLY_DATA
            | handshake::ENCRYPTED_EXTENSIONS
            | handshake::FINISHED
            | handshake::KEY_UPDATE
    )
}

fn secret_of(s: &keylog::Secrets, role: Role, phase: Phase) -> Option<&[u8]> {
    let v = match (role, phase) {
        (Role::Client, Phase::Early) => &s.client_early,
        (Role::Server, Phase::Early) => return None,
        (Role::Client, Phase::Handshake) => &s.client_handshake,
        (Role::Server, Phase::Handshake) => &s.server_handshake,
        (Role::Client, Phase::App) => &s.client_traffic_0,
        (Role::Server, Phase::App) => &s.server_traffic_0,
    };
    v.as_deref()
}

fn version_name(v: u16) -> String {
    match v {
        0x0300 => "SSL 3.0".to_string(),
        0x0002 => "SSL 2.0".to_string(),
        v => format!("TLS version {v:#06x}"),
    }
}

#[cfg(test)]
mod tests;
