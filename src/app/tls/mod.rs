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
//! application phases, KeyUpdate, 0-RTT). The client's plaintext goes to
//! a child dissector (HTTP/1.x, or text), exactly as cleartext would;
//! requests and streams it produces carry the session's [`TlsInfo`].
//! Server plaintext is counted (it is decrypted for the handshake
//! messages it carries: ALPN in TLS 1.3, renegotiation in TLS 1.2).
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

pub mod crypto;
pub mod handshake;
pub mod keylog;
pub mod keys;

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
/// HTTP/2 client connection preface.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n";

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

/// Distinct unsupported suites and versions named per capture; the
/// peer picks them, so past this they are counted under [`OTHER`].
const MAX_UNSUPPORTED_NAMES: usize = 64;
const OTHER: &str = "other suites or versions";

/// Adds a connection not decrypted for an unsupported reason.
pub fn count_unsupported(t: &mut TlsStats, name: &str, bytes: u64) {
    let name = if t.unsupported.len() >= MAX_UNSUPPORTED_NAMES && !t.unsupported.iter().any(|u| u.0 == name) {
        OTHER
    } else {
        name
    };
    match t.unsupported.iter_mut().find(|u| u.0 == name) {
        Some(u) => {
            u.1 += 1;
            u.2 += bytes;
        }
        None => t.unsupported.push((name.to_string(), 1, bytes)),
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
    child_done: bool,
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
            child_done: false,
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

    /// Cuts a direction's bytes into records.
    fn feed(&mut self, cx: &mut Cx<'_>, role: Role, chunk: Chunk<'_>) {
        let r = role.index();
        let mut rest = chunk.data;
        while !rest.is_empty() && self.dirs[r].stop.is_none() {
            let d = &mut self.dirs[r];
            if d.rec.is_empty() {
                if rest.len() >= RECORD_HEADER {
                    let Some(n) = record_len(rest) else {
                        self.stop(role, Stop::Malformed);
                        break;
                    };
                    if rest.len() >= RECORD_HEADER + n {
                        // A whole record in this segment: no copy.
                        let (rec, tail) = rest.split_at(RECORD_HEADER + n);
                        self.record(cx, role, rec, At { frame: chunk.frame, ts: chunk.ts });
                        rest = tail;
                        continue;
                    }
                }
                d.rec_at = At { frame: chunk.frame, ts: chunk.ts };
            }
            let want = if d.rec.len() < RECORD_HEADER { RECORD_HEADER - d.rec.len() } else { d.rec_need - d.rec.len() };
            let take = want.min(rest.len());
            if cx.out.tls_partial + take > self.cfg.tls.max_partial_total {
                self.stop(role, Stop::Limit);
                break;
            }
            d.rec.extend_from_slice(&rest[..take]);
            cx.out.tls_partial += take;
            rest = &rest[take..];
            if d.rec.len() == RECORD_HEADER && d.rec_need == 0 {
                let Some(n) = record_len(&d.rec) else {
                    self.stop(role, Stop::Malformed);
                    break;
                };
                // No reservation for the whole record: a peer that
                // announces 16 KB and sends 300 bytes costs 300.
                d.rec_need = RECORD_HEADER + n;
            }
            if d.rec_need > 0 && d.rec.len() == d.rec_need {
                let rec = std::mem::take(&mut d.rec);
                d.rec_need = 0;
                cx.out.tls_partial -= rec.len();
                let at = d.rec_at;
                self.record(cx, role, &rec, at);
            }
        }
        // What the direction stopped before is counted, not lost.
        self.dirs[r].record_bytes += rest.len() as u64;
    }

    fn record(&mut self, cx: &mut Cx<'_>, role: Role, rec: &[u8], at: At) {
        let d = &mut self.dirs[role.index()];
        d.record_bytes += rec.len() as u64;
        if !d.held.is_empty() || !self.try_record(cx, role, rec, at) {
            self.hold(cx, role, rec, at);
        }
        if std::mem::take(&mut self.replay) {
            self.drain(cx, role.peer());
            self.drain(cx, role);
        }
    }

    /// Processes one record; `false` when it must wait (for the
    /// ServerHello, or for keys).
    fn try_record(&mut self, cx: &mut Cx<'_>, role: Role, rec: &[u8], at: At) -> bool {
        let ct = rec[0];
        let frag = &rec[RECORD_HEADER..];
        let r = role.index();
        let protected = match self.version {
            Some(Version::Tls13) => ct == CT_APPLICATION_DATA,
            Some(_) => self.dirs[r].ccs.is_some(),
            None if self.unsupported.is_some() => {
                self.stop(role, Stop::Unsupported);
                return true;
            }
            None => match ct {
                CT_HANDSHAKE => false,
                // TLS 1.2 sends no CCS before the ServerHello: this is TLS
                // 1.3's compatibility CCS (after a HelloRetryRequest, or
                // before 0-RTT data), which carries nothing.
                CT_CHANGE_CIPHER_SPEC | CT_ALERT | CT_HEARTBEAT => return true,
                // Protected before any hello: picked up mid-way.
                _ if self.ch.is_none() => {
                    self.stop(role, Stop::Midstream);
                    return true;
                }
                // 0-RTT data comes before the ServerHello says which
                // version this is.
                _ => return false,
            },
        };
        if !protected {
            match ct {
                CT_HANDSHAKE => self.handshake(cx, role, frag),
                CT_CHANGE_CIPHER_SPEC if self.version != Some(Version::Tls13) => self.change_cipher_spec(role),
                // Application data in clear before a ChangeCipherSpec:
                // the handshake was not seen whole.
                CT_APPLICATION_DATA => self.stop(role, Stop::Midstream),
                _ => {}
            }
            return true;
        }
        self.dirs[r].protected_seen = true;
        match self.ensure_cipher(cx, role) {
            Ok(()) => {}
            Err(None) => return false,
            Err(Some(why)) => {
                self.stop(role, why);
                return true;
            }
        }
        if role == Role::Server
            && ct == CT_APPLICATION_DATA
            && self.dirs[r].proven
            && frag.len() >= SKIP_SERVER_RECORD
            && self.alpn.as_deref() != Some("h2")
        {
            // Server application data cannot carry an upload: once the
            // keys are proven, large records (downloads) are counted, not
            // decrypted. Small ones still are: in TLS 1.3 they may be
            // session tickets or key updates. (HTTP/2 will need them all
            // for its header tables.)
            if let Some(n) = self.dirs[r].cipher.as_mut().and_then(|c| c.skip(frag)) {
                cx.out.stats.tls.server_bytes += n as u64;
                return true;
            }
        }
        let mut plain = std::mem::take(&mut cx.out.tls_scratch);
        plain.clear();
        let header: [u8; 5] = [rec[0], rec[1], rec[2], rec[3], rec[4]];
        let inner = self.decrypt(cx, role, &header, frag, &mut plain);
        match inner {
            Some(inner) => self.plaintext(cx, role, inner, &plain, at),
            None => {
                let d = &mut self.dirs[r];
                d.failed += 1;
                if d.decrypted > 0 {
                    cx.out.stats.tls.bad_records += 1;
                    if role == Role::Client {
                        // Its plaintext is lost: the parser must not join
                        // what came before and after it.
                        self.child_gap(cx, frag.len() as u64);
                    }
                } else if d.failed > d.tolerate {
                    self.stop(role, Stop::BadKey);
                }
            }
        }
        cx.out.tls_scratch = plain;
        self.after_record(cx, role);
        true
    }

    /// Decrypts with the direction's cipher; in TLS 1.3, on failure, with
    /// the ciphers of the phases after it (a record's phase is not
    /// written on it).
    fn decrypt(
        &mut self,
        cx: &mut Cx<'_>,
        role: Role,
        header: &[u8; 5],
        frag: &[u8],
        plain: &mut Vec<u8>,
    ) -> Option<u8> {
        let d = &mut self.dirs[role.index()];
        let cipher = d.cipher.as_mut()?;
        if let Ok(ct) = cipher.decrypt(header, frag, plain) {
            d.decrypted += 1;
            d.proven |= self.version != Some(Version::Tls13) || d.phase == Phase::App;
            d.read |= d.proven;
            return Some(ct);
        }
        if self.version != Some(Version::Tls13) {
            return None;
        }
        let (suite, ch) = (self.suite?, self.ch.as_ref()?);
        let secrets = cx.keys.secrets(&ch.random)?;
        for phase in [Phase::Handshake, Phase::App] {
            if phase <= d.phase {
                continue;
            }
            let Some(Ok(mut c)) = secret_of(secrets, role, phase).map(|s| RecordCipher::tls13(suite, s)) else {
                continue;
            };
            plain.clear();
            if let Ok(ct) = c.decrypt(header, frag, plain) {
                d.cipher = Some(Box::new(c));
                d.phase = phase;
                d.decrypted += 1;
                d.proven |= phase == Phase::App;
                d.read |= d.proven;
                return Some(ct);
            }
        }
        None
    }

    /// Makes the direction's cipher. `Err(None)`: keys may still come;
    /// `Err(Some(why))`: this direction cannot be decrypted.
    fn ensure_cipher(&mut self, cx: &mut Cx<'_>, role: Role) -> Result<(), Option<Stop>> {
        let d = &mut self.dirs[role.index()];
        if d.cipher.is_some() {
            return Ok(());
        }
        // Keys can only come later from a Decryption Secrets Block.
        let wait = if cx.keys.may_grow() { None } else { Some(Stop::NoKey) };
        if cx.keys.hopeless() {
            return Err(Some(Stop::NoKey));
        }
        let Some(suite) = self.suite else { return Err(Some(Stop::Unsupported)) };
        let Some(ch) = self.ch.as_ref() else { return Err(Some(Stop::Midstream)) };
        if self.version == Some(Version::Tls13) {
            let Some(secrets) = cx.keys.secrets(&ch.random) else { return Err(wait) };
            let first = if role == Role::Client && ch.early_data { Phase::Early } else { Phase::Handshake };
            let start = first.max(d.phase);
            let found = [Phase::Early, Phase::Handshake, Phase::App]
                .into_iter()
                .filter(|p| *p >= start)
                .find_map(|p| secret_of(secrets, role, p).map(|s| (p, s)));
            let Some((phase, secret)) = found else { return Err(wait) };
            if ch.early_data && phase != Phase::Early {
                // 0-RTT data whose secret was not logged: however many
                // records it takes, they cannot authenticate; the
                // handshake's come after them.
                d.tolerate = u32::MAX;
            } else if phase != first {
                // Records of the phases skipped cannot authenticate.
                d.tolerate = TOLERATED_FAILURES;
            }
            d.phase = phase;
            // A secret of the wrong length for the suite cannot be right.
            d.cipher = Some(Box::new(RecordCipher::tls13(suite, secret).map_err(|_| Some(Stop::BadKey))?));
            return Ok(());
        }
        let Some(p) = d.ccs.as_ref() else { return Err(Some(Stop::Midstream)) };
        let resumed = self.sh.as_ref().is_some_and(|sh| !sh.session_id.is_empty() && sh.session_id == p.session_id);
        // Only a resumed session (its id echoed) reuses an earlier
        // master secret; a full handshake made a new one.
        let (sid, ticket): (&[u8], _) = if resumed { (&p.session_id, p.ticket.as_deref()) } else { (&[], None) };
        let Some(master) = cx.keys.master(&p.client_random, sid, ticket) else { return Err(wait) };
        let side = if role == Role::Client { Side::Client } else { Side::Server };
        let cipher = RecordCipher::tls12(
            p.suite,
            p.version,
            &master,
            &p.client_random,
            &p.server_random,
            side,
            p.encrypt_then_mac,
        );
        // A suite its version cannot use: the ServerHello is not one we
        // can follow.
        d.cipher = Some(Box::new(cipher.map_err(|_| Some(Stop::Unsupported))?));
        if let Some(sh) = self.sh.as_ref() {
            cx.keys.learn_session(&sh.session_id, &master);
        }
        Ok(())
    }

    /// TLS 1.0-1.2: the direction's records are protected from now on
    /// with the parameters of the latest ServerHello.
    fn change_cipher_spec(&mut self, role: Role) {
        let d = &mut self.dirs[role.index()];
        d.ccs = self.params.clone();
        d.cipher = None;
        // New keys: not proven until a record decrypts with them.
        d.proven = false;
        if d.ccs.is_none() {
            self.stop(role, Stop::Midstream);
        }
    }

    /// Key changes a record's handshake messages asked for.
    fn after_record(&mut self, cx: &mut Cx<'_>, role: Role) {
        let d = &mut self.dirs[role.index()];
        let next = match d.change.take() {
            None => return,
            Some(KeyChange::Update) => {
                if let Some(c) = d.cipher.as_mut() {
                    // Only TLS 1.3 ciphers get here: the message is
                    // parsed only then.
                    let _ = c.key_update();
                }
                return;
            }
            Some(KeyChange::ToApp) => Phase::App,
            Some(KeyChange::ToHandshake) => Phase::Handshake,
        };
        d.phase = next;
        d.cipher = None;
        let (Some(suite), Some(ch)) = (self.suite, self.ch.as_ref()) else { return };
        if let Some(secret) = cx.keys.secrets(&ch.random).and_then(|s| secret_of(s, role, next)) {
            d.cipher = RecordCipher::tls13(suite, secret).ok().map(Box::new);
        }
    }

    fn plaintext(&mut self, cx: &mut Cx<'_>, role: Role, ct: u8, plain: &[u8], at: At) {
        match ct {
            CT_HANDSHAKE => self.handshake(cx, role, plain),
            // A renegotiation's ChangeCipherSpec, under the old keys: the
            // records after it use the new handshake's.
            CT_CHANGE_CIPHER_SPEC if self.version != Some(Version::Tls13) => self.change_cipher_spec(role),
            CT_APPLICATION_DATA if role == Role::Server => cx.out.stats.tls.server_bytes += plain.len() as u64,
            CT_APPLICATION_DATA => {
                cx.out.stats.tls.client_bytes += plain.len() as u64;
                self.give_child(cx, plain, at);
            }
            _ => {}
        }
    }

    /// The client's plaintext, to HTTP/1.x (or text) as if in clear.
    fn give_child(&mut self, cx: &mut Cx<'_>, plain: &[u8], at: At) {
        if plain.is_empty() {
            return;
        }
        if self.child.is_none() && !self.http2 {
            // ALPN says; without ALPN, only the whole preface does (a
            // first record of one byte "P" is a TLS 1.0 client's 1/n-1
            // split of a POST, not HTTP/2).
            let preface = self.alpn.is_none() && plain.starts_with(H2_PREFACE);
            if self.alpn.as_deref() == Some("h2") || preface {
                self.http2 = true;
            } else {
                self.child = Some(super::dissector_for_plaintext(&self.cfg));
            }
        }
        if self.http2 {
            cx.out.stats.http2_bytes += plain.len() as u64;
            return;
        }
        if self.child_done {
            return;
        }
        let Some((src, dst)) = self.client_addrs else { return };
        let seg = Seg {
            role: Role::Client,
            src,
            dst,
            midstream: false,
            chunk: Chunk { data: plain, frame: at.frame, ts: at.ts },
        };
        let (nr, ns) = (cx.out.requests.len(), cx.out.streams.len());
        if let Some(c) = self.child.as_mut()
            && c.data(cx, seg) == Verdict::DropDir
        {
            self.child_done = true;
        }
        self.tag(cx, nr, ns);
    }

    /// Plaintext of the client that will never be seen (a record that
    /// did not authenticate, a capture gap): the child hears of it as a
    /// gap, as it would in clear.
    fn child_gap(&mut self, cx: &mut Cx<'_>, len: u64) {
        let (nr, ns) = (cx.out.requests.len(), cx.out.streams.len());
        if let Some(c) = self.child.as_mut() {
            c.gap(cx, Role::Client, len);
        }
        self.tag(cx, nr, ns);
    }

    /// Marks what the child produced since `nr`/`ns` as carried by TLS.
    fn tag(&mut self, cx: &mut Cx<'_>, nr: usize, ns: usize) {
        let info = self.info.clone();
        for r in &mut cx.out.requests[nr..] {
            r.tls = info.clone();
        }
        for s in &mut cx.out.streams[ns..] {
            s.tls = info.clone();
        }
    }

    /// Handshake bytes (clear or decrypted) of one direction, cut into
    /// messages.
    fn handshake(&mut self, cx: &mut Cx<'_>, role: Role, mut rest: &[u8]) {
        let r = role.index();
        let u24 = |b: &[u8]| (usize::from(b[1]) << 16) | (usize::from(b[2]) << 8) | usize::from(b[3]);
        while !rest.is_empty() {
            let d = &mut self.dirs[r];
            if d.hs_skip > 0 {
                let n = d.hs_skip.min(rest.len());
                d.hs_skip -= n;
                rest = &rest[n..];
                continue;
            }
            if d.hs.is_empty() && rest.len() >= 4 {
                let (kind, len) = (rest[0], u24(rest));
                if !wanted(kind) || len > MAX_HANDSHAKE_MESSAGE {
                    d.hs_skip = len;
                    rest = &rest[4..];
                    continue;
                }
                if rest.len() >= 4 + len {
                    // A whole message in this record: no copy.
                    let (msg, tail) = rest.split_at(4 + len);
                    self.message(cx, role, kind, &msg[4..]);
                    rest = tail;
                    continue;
                }
            }
            // A message split across records: kept, within the budget of
            // partial records.
            let want = if d.hs.len() < 4 { 4 - d.hs.len() } else { 4 + u24(&d.hs) - d.hs.len() };
            let n = want.min(rest.len());
            if cx.out.tls_partial + n > self.cfg.tls.max_partial_total {
                self.stop(role, Stop::Limit);
                return;
            }
            d.hs.extend_from_slice(&rest[..n]);
            cx.out.tls_partial += n;
            rest = &rest[n..];
            if d.hs.len() < 4 {
                return;
            }
            let (kind, len) = (d.hs[0], u24(&d.hs));
            if !wanted(kind) || len > MAX_HANDSHAKE_MESSAGE {
                cx.out.tls_partial -= d.hs.len();
                d.hs.clear();
                d.hs_skip = len;
            } else if d.hs.len() == 4 + len {
                let msg = std::mem::take(&mut d.hs);
                cx.out.tls_partial -= msg.len();
                self.message(cx, role, kind, &msg[4..]);
            }
        }
    }

    fn message(&mut self, cx: &mut Cx<'_>, role: Role, kind: u8, body: &[u8]) {
        let v13 = self.version == Some(Version::Tls13);
        let d = &mut self.dirs[role.index()];
        match (role, kind) {
            (Role::Client, handshake::CLIENT_HELLO) => {
                let Some(ch) = handshake::client_hello(body) else {
                    self.stop(role, Stop::Malformed);
                    return;
                };
                if let Some(name) = &ch.sni {
                    cx.out.stats.server_name(name);
                }
                // After a HelloRetryRequest the second hello keeps the
                // random; it may not send 0-RTT data.
                match self.ch.as_mut() {
                    Some(old) if old.random == ch.random => old.early_data = false,
                    _ => self.ch = Some(Box::new(ch)),
                }
            }
            (Role::Server, handshake::SERVER_HELLO) => {
                let Some(sh) = handshake::server_hello(body) else { return };
                if sh.retry {
                    return;
                }
                self.server_hello(sh);
            }
            (Role::Server, handshake::ENCRYPTED_EXTENSIONS) => {
                self.alpn = handshake::encrypted_extensions_alpn(body).or(self.alpn.take());
            }
            (Role::Server, handshake::NEW_SESSION_TICKET) if !v13 => {
                let master = self.params.as_ref().and_then(|p| {
                    let sid = self.sh.as_ref().map_or(&[][..], |s| &s.session_id);
                    cx.keys.master(&p.client_random, sid, p.ticket.as_deref())
                });
                if let (Some(t), Some(m)) = (handshake::new_session_ticket_12(body), master) {
                    cx.keys.learn_ticket(&t, &m);
                }
            }
            (_, handshake::FINISHED) if v13 && d.phase < Phase::App => d.change = Some(KeyChange::ToApp),
            (_, handshake::KEY_UPDATE) if v13 => d.change = Some(KeyChange::Update),
            (Role::Client, handshake::END_OF_EARLY_DATA) if v13 => d.change = Some(KeyChange::ToHandshake),
            _ => {}
        }
    }

    fn server_hello(&mut self, sh: ServerHello) {
        let version = Version::from_wire(sh.version);
        let suite = crypto::suite(sh.suite);
        match (version, suite) {
            (Some(v), Some(s)) if s.tls13 == (v == Version::Tls13) => {
                self.version = Some(v);
                self.suite = Some(s);
                self.unsupported = None;
            }
            (None, _) => self.unsupported = Some(version_name(sh.version)),
            _ => {
                self.unsupported = Some(
                    crypto::suite_name(sh.suite)
                        .map_or_else(|| format!("cipher suite {:#06x}", sh.suite), |n| n.to_string()),
                )
            }
        }
        if self.unsupported.is_some() {
            // Also after a renegotiation: nothing of the old session
            // applies to the new one.
            (self.version, self.suite, self.params) = (None, None, None);
        }
        if let Some(a) = &sh.alpn {
            self.alpn = Some(a.clone());
        }
        let sni = self.ch.as_ref().and_then(|c| c.sni.clone());
        self.info = match (self.version, self.suite) {
            (Some(v), Some(s)) => Some(Arc::new(TlsInfo { version: v.as_str(), cipher: s.name, sni })),
            _ => None,
        };
        if let (Some(v), Some(s), Some(ch)) = (self.version, self.suite, self.ch.as_ref())
            && v != Version::Tls13
        {
            self.params = Some(Box::new(Params12 {
                version: v,
                suite: s,
                client_random: ch.random,
                server_random: sh.random,
                session_id: ch.session_id.clone(),
                ticket: ch.ticket.clone(),
                encrypt_then_mac: sh.encrypt_then_mac && ch.encrypt_then_mac,
            }));
        }
        self.sh = Some(Box::new(sh));
        self.replay = true;
    }

    /// Keeps a record until keys (or the ServerHello) arrive, within the
    /// limits.
    fn hold(&mut self, cx: &mut Cx<'_>, role: Role, rec: &[u8], at: At) {
        if self.version.is_some() && cx.keys.hopeless() {
            self.stop(role, Stop::NoKey);
            return;
        }
        let limits = self.cfg.tls;
        let d = &mut self.dirs[role.index()];
        if d.held_bytes + rec.len() > limits.max_held_per_conn || cx.out.tls_held + rec.len() > limits.max_held_total {
            // What is held so far still waits for its keys (the first
            // records of a connection, where requests start); the rest of
            // the direction is given up, and the limit is reported.
            self.stop(role, Stop::Limit);
            return;
        }
        d.held_bytes += rec.len();
        cx.out.tls_held += rec.len();
        d.held.push(Held { at, rec: rec.to_vec() });
    }

    /// Retries the records a direction holds.
    fn drain(&mut self, cx: &mut Cx<'_>, role: Role) {
        let d = &mut self.dirs[role.index()];
        if d.held.is_empty() {
            return;
        }
        let held = std::mem::take(&mut d.held);
        cx.out.tls_held -= d.held_bytes;
        d.held_bytes = 0;
        let mut it = held.into_iter();
        while let Some(h) = it.next() {
            if self.dirs[role.index()].stop.is_some_and(|s| s != Stop::Limit) {
                break;
            }
            if !self.try_record(cx, role, &h.rec, h.at) {
                let d = &mut self.dirs[role.index()];
                let back: Vec<Held> = std::iter::once(h).chain(it).collect();
                d.held_bytes = back.iter().map(|h| h.rec.len()).sum();
                cx.out.tls_held += d.held_bytes;
                d.held = back;
                break;
            }
        }
    }

    fn waiting(&self) -> bool {
        self.dirs.iter().any(|d| !d.held.is_empty() && d.stop.is_none_or(|s| s == Stop::Limit))
    }

    /// Counts the connection once, under its outcome.
    fn account(&mut self, cx: &mut Cx<'_>) {
        let [c, srv] = &self.dirs;
        // The client's direction is what carries uploads: a connection
        // whose client records were all lost is not called decrypted for
        // its server's; one whose records were given up at a limit is not
        // called decrypted either (what they held was not read).
        let limited = self.dirs.iter().any(|d| d.stop == Some(Stop::Limit));
        // Decrypted: application keys proven (not only a handshake's), and
        // the client's not missing or wrong.
        let client_keys_ok = !matches!(c.stop, Some(Stop::NoKey | Stop::BadKey));
        if self.unsupported.is_none() && !limited && (c.read || (srv.read && client_keys_ok)) {
            let t = &mut cx.out.stats.tls;
            t.decrypted += 1;
            // Read, but not to the end: a renegotiated session without
            // keys, a gap, records that stopped parsing.
            if self
                .dirs
                .iter()
                .any(|d| matches!(d.stop, Some(Stop::NoKey | Stop::BadKey | Stop::Gap | Stop::Malformed)))
            {
                t.partly += 1;
            }
            return;
        }
        let bytes: u64 = self.dirs.iter().map(|d| d.record_bytes).sum::<u64>() + self.ignored.iter().sum::<u64>();
        if let Some(sni) = self.ch.as_ref().and_then(|c| c.sni.as_ref()) {
            cx.out.stats.undecrypted_name(sni);
        }
        let keys_known = self.ch.as_ref().is_some_and(|ch| {
            cx.keys.secrets(&ch.random).is_some()
                || cx.keys.master(&ch.random, &ch.session_id, ch.ticket.as_deref()).is_some()
        });
        let t = &mut cx.out.stats.tls;
        if let Some(name) = &self.unsupported {
            count_unsupported(t, name, bytes);
            return;
        }
        let stop = self
            .dirs
            .iter()
            .find_map(|d| d.stop.filter(|s| *s != Stop::NoKey))
            .or(self.dirs.iter().find_map(|d| d.stop));
        let slot = match stop {
            // Records given up at the limit while their keys never came:
            // there was nothing to decrypt them with anyway.
            Some(Stop::Limit) if !keys_known => &mut t.no_key,
            Some(Stop::Limit) => &mut t.limit,
            // Bytes cut out of a record by a capture that starts inside
            // the connection do not parse: that is not malformed TLS.
            _ if self.midstream && self.ch.is_none() => &mut t.midstream,
            Some(Stop::Malformed) => &mut t.malformed,
            _ if self.ch.is_none() && self.dirs.iter().any(|d| d.protected_seen) => &mut t.midstream,
            Some(Stop::BadKey) => &mut t.bad_key,
            Some(Stop::Gap) => &mut t.gap,
            Some(Stop::Midstream) => &mut t.midstream,
            // No hello whole, or no protected record: nothing to decrypt.
            _ if self.ch.is_none() || !self.dirs.iter().any(|d| d.protected_seen) => &mut t.handshake_only,
            _ => &mut t.no_key,
        };
        slot.0 += 1;
        slot.1 += bytes;
    }
}

impl Dissector for Tls {
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
            cx.out.tls_partial -= d.rec.len() + d.hs.len();
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
            cx.out.tls_partial -= d.rec.len() + d.hs.len();
            d.record_bytes += d.rec.len() as u64;
            (d.rec, d.hs) = (Vec::new(), Vec::new());
        }
        if self.waiting() && !last {
            return Closed::WaitingForKeys;
        }
        for role in [Role::Client, Role::Server] {
            let d = &mut self.dirs[role.index()];
            if !d.held.is_empty() {
                cx.out.tls_held -= d.held_bytes;
                d.held = Vec::new();
                d.held_bytes = 0;
                self.stop(role, Stop::NoKey);
            }
        }
        if let Some(mut c) = self.child.take() {
            let (nr, ns) = (cx.out.requests.len(), cx.out.streams.len());
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
