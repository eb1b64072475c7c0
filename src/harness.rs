//! Harnesses shared by the fuzz targets (`fuzz/`) and the regression
//! tests that keep their reproducers: each takes arbitrary bytes and must
//! return without panicking, hanging or growing without bound.
#![doc(hidden)]

use std::io::Cursor;
use std::sync::LazyLock;

use crate::capture::{CaptureReader, Linktype, writer::PcapWriter};
use crate::detect::Engine;
use crate::detect::profile::Profile;
use crate::detect::rules::RuleSet;
use crate::extract;
use crate::flow::Chunk;
use crate::http::{HttpLimits, RequestStream};
use crate::scan::{Mode, ScanConfig, scan_reader};
use crate::util::Timestamp;

/// Most frames a harness reads from one input (keeps runs short).
const MAX_FRAMES: usize = 10_000;

static CONFIG: LazyLock<ScanConfig> = LazyLock::new(|| {
    let profile = Profile::parse("fuzz", "imei = \"356938035643809\"\nmac = \"a4:5e:60:12:34:56\"\n").ok();
    ScanConfig::new(Engine::new(RuleSet::builtin().unwrap_or_default(), profile.as_ref()), Mode::Scan)
});

/// Capture reading: the bytes as a capture file.
pub fn capture(data: &[u8]) {
    let Ok(mut r) = CaptureReader::open(Box::new(Cursor::new(data.to_vec()))) else { return };
    for _ in 0..MAX_FRAMES {
        match r.next_frame() {
            Ok(Some(f)) => {
                let _ = (f.number, f.data.len());
            }
            _ => break,
        }
        let _ = r.take_notes();
    }
}

/// Decoding, reassembly and everything after: the first byte picks a link
/// type, the rest is cut into frames by 1-byte lengths, written as a pcap
/// and scanned end to end.
pub fn packets(data: &[u8]) {
    const LINKS: [i32; 10] = [1, 101, 113, 276, 0, 108, 239, 104, 228, 229];
    let Some((&first, mut rest)) = data.split_first() else { return };
    let link = Linktype(LINKS[usize::from(first) % LINKS.len()]);
    let Ok(mut w) = PcapWriter::new(Vec::new(), link, false, false) else { return };
    let mut t = 0;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let _ = w.packet(Timestamp::new(t, 0), &tail[..n]);
        rest = &tail[n..];
        t += 1;
    }
    let pcap = w.into_inner();
    let one = scan_reader("fuzz", Box::new(Cursor::new(pcap.clone())), &CONFIG);
    // The same capture with its connections shared among three workers
    // gives the same report (DESIGN: the order of outputs).
    let three = crate::scan::scan_reader_with("fuzz", Box::new(Cursor::new(pcap)), &CONFIG, 3);
    let shown = |mut r: crate::finding::FileReport| {
        r.stats.elapsed_secs = 0.0;
        format!("{r:?}")
    };
    assert_eq!(shown(one), shown(three), "one worker and three differ");
}

/// HTTP request parsing, extraction and detection: the first byte sets
/// the piece size; pieces whose first byte is 0xff are gaps.
pub fn http(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else { return };
    let piece = usize::from(first % 64) + 1;
    let (src, dst) = ("10.0.0.1:1000".parse().unwrap_or(([0, 0, 0, 0], 0).into()), ([10, 0, 0, 2], 80).into());
    let mut rs = RequestStream::new(HttpLimits { max_head: 4096, max_body: 8192, max_decoded: 65_536 });
    let mut out = Vec::new();
    for (i, p) in rest.chunks(piece).enumerate() {
        if p[0] == 0xff {
            rs.gap(src, dst, p.len() as u64, &mut out);
        } else {
            rs.feed(src, dst, Chunk { data: p, frame: i as u64 + 1, ts: Timestamp::default() }, &mut out);
        }
    }
    rs.close(src, dst, &mut out);
    for req in &out {
        let fields = extract::request_fields(req);
        let ctx = crate::detect::RequestCtx {
            dst: None,
            method: &req.head.method,
            host: None,
            path: "/",
            dst_port: 80,
            app: None,
        };
        let _ = CONFIG.engine.detect(&ctx, &fields.fields);
    }
}

/// A TLS session with known secrets, for the `tls` harness, the hostile
/// TLS tests and the TLS benchmark: the handshake flights in clear (and
/// the Finished messages protected), the ciphers both sides use for what
/// follows, and the key log lines that let a scan decrypt it.
pub struct TlsSession {
    /// Handshake records in order; `true` for the client's.
    pub flights: Vec<(bool, Vec<u8>)>,
    /// Protects the client's records after the handshake.
    pub client: crate::app::tls::crypto::RecordCipher,
    /// Protects the server's records after the handshake.
    pub server: crate::app::tls::crypto::RecordCipher,
    /// NSS key log lines of the session.
    pub keylog: String,
}

/// Which protection a [`TlsSession`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsKind {
    /// TLS 1.3, TLS_AES_128_GCM_SHA256.
    Tls13Aes128Gcm,
    /// TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256.
    Tls12Aes128Gcm,
    /// TLS 1.2, TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, MAC-then-encrypt or
    /// encrypt-then-MAC (RFC 7366).
    Tls12Aes128Cbc { encrypt_then_mac: bool },
}

const EXT_SERVER_NAME: u16 = 0;
const EXT_ENCRYPT_THEN_MAC: u16 = 22;
const EXT_SUPPORTED_VERSIONS: u16 = 43;

/// A TLS record of content type `ct` around `body`, version 1.2 on the wire.
pub fn tls_record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

/// A handshake message: type, 24-bit length, body.
pub fn tls_message(kind: u8, body: &[u8]) -> Vec<u8> {
    let n = body.len() as u32;
    let mut m = vec![kind];
    m.extend_from_slice(&n.to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn ext(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    out.extend_from_slice(&(data.len() as u16).to_be_bytes());
    out.extend_from_slice(data);
}

/// A ClientHello message offering the three suites of [`TlsKind`], with
/// server_name when `sni` is given.
pub fn tls_client_hello(random: &[u8; 32], sni: Option<&str>, encrypt_then_mac: bool) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.push(0); // no session id
    b.extend_from_slice(&[0, 6, 0x13, 0x01, 0xc0, 0x2f, 0xc0, 0x13]);
    b.extend_from_slice(&[1, 0]); // null compression
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let n = name.len() as u16;
        let mut d = (n + 3).to_be_bytes().to_vec();
        d.push(0);
        d.extend_from_slice(&n.to_be_bytes());
        d.extend_from_slice(name.as_bytes());
        ext(&mut exts, EXT_SERVER_NAME, &d);
    }
    if encrypt_then_mac {
        ext(&mut exts, EXT_ENCRYPT_THEN_MAC, &[]);
    }
    ext(&mut exts, EXT_SUPPORTED_VERSIONS, &[4, 3, 4, 3, 3]);
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(&exts);
    tls_message(crate::app::tls::handshake::CLIENT_HELLO, &b)
}

/// A ServerHello message choosing `suite` (TLS 1.3 through
/// supported_versions).
pub fn tls_server_hello(random: &[u8; 32], suite: u16, tls13: bool, encrypt_then_mac: bool) -> Vec<u8> {
    let mut b = vec![3, 3];
    b.extend_from_slice(random);
    b.push(0);
    b.extend_from_slice(&suite.to_be_bytes());
    b.push(0);
    let mut exts = Vec::new();
    if tls13 {
        ext(&mut exts, EXT_SUPPORTED_VERSIONS, &[3, 4]);
    }
    if encrypt_then_mac {
        ext(&mut exts, EXT_ENCRYPT_THEN_MAC, &[]);
    }
    b.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    b.extend_from_slice(&exts);
    tls_message(crate::app::tls::handshake::SERVER_HELLO, &b)
}

/// The secrets of a session, derived from its client random so that
/// many sessions each get their own.
fn secret(client_random: &[u8; 32], label: u8, len: usize) -> Vec<u8> {
    (0..len).map(|i| client_random[i % 32] ^ label ^ (i as u8).wrapping_mul(31)).collect()
}

impl TlsSession {
    /// A full handshake of `kind` for `client_random`.
    pub fn new(kind: TlsKind, client_random: [u8; 32], sni: Option<&str>) -> Option<TlsSession> {
        use crate::app::tls::crypto::{RecordCipher, Side, Version, suite};
        use crate::app::tls::{CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE, handshake};
        let server_random = {
            let mut r = client_random;
            r.reverse();
            r[0] ^= 0x5e;
            r
        };
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let cr = hex(&client_random);
        let etm = matches!(kind, TlsKind::Tls12Aes128Cbc { encrypt_then_mac: true });
        let ch = tls_record(CT_HANDSHAKE, &tls_client_hello(&client_random, sni, etm));
        let mut flights = vec![(true, ch)];
        let finished = |n: usize| tls_message(handshake::FINISHED, &vec![0x46; n]);
        if kind == TlsKind::Tls13Aes128Gcm {
            let s = suite(0x1301)?;
            let [chs, shs, cts, sts] = [1u8, 2, 3, 4].map(|l| secret(&client_random, l, 32));
            let keylog = format!(
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET {cr} {}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {cr} {}\n\
                 CLIENT_TRAFFIC_SECRET_0 {cr} {}\nSERVER_TRAFFIC_SECRET_0 {cr} {}\n",
                hex(&chs),
                hex(&shs),
                hex(&cts),
                hex(&sts)
            );
            let mut sh = tls_record(CT_HANDSHAKE, &tls_server_hello(&server_random, s.id, true, false));
            sh.extend(tls_record(CT_CHANGE_CIPHER_SPEC, &[1]));
            flights.push((false, sh));
            let mut ee = tls_message(handshake::ENCRYPTED_EXTENSIONS, &[0, 0]);
            ee.extend(finished(32));
            let mut server_hs = RecordCipher::tls13(s, &shs).ok()?;
            flights.push((false, server_hs.encrypt(CT_HANDSHAKE, &ee).ok()?));
            let mut client_hs = RecordCipher::tls13(s, &chs).ok()?;
            flights.push((true, client_hs.encrypt(CT_HANDSHAKE, &finished(32)).ok()?));
            let client = RecordCipher::tls13(s, &cts).ok()?;
            let server = RecordCipher::tls13(s, &sts).ok()?;
            return Some(TlsSession { flights, client, server, keylog });
        }
        let s = suite(if kind == TlsKind::Tls12Aes128Gcm { 0xc02f } else { 0xc013 })?;
        let master = secret(&client_random, 0x4d, 48);
        let keylog = format!("CLIENT_RANDOM {cr} {}\n", hex(&master));
        let mut sh = tls_record(CT_HANDSHAKE, &tls_server_hello(&server_random, s.id, false, etm));
        sh.extend(tls_record(CT_HANDSHAKE, &tls_message(14, &[]))); // ServerHelloDone
        flights.push((false, sh));
        let cipher =
            |side| RecordCipher::tls12(s, Version::Tls12, &master, &client_random, &server_random, side, etm).ok();
        let (mut client, mut server) = (cipher(Side::Client)?, cipher(Side::Server)?);
        let mut c = tls_record(CT_HANDSHAKE, &tls_message(16, &[0, 1, 0x42])); // ClientKeyExchange
        c.extend(tls_record(CT_CHANGE_CIPHER_SPEC, &[1]));
        c.extend(client.encrypt(CT_HANDSHAKE, &finished(12)).ok()?);
        flights.push((true, c));
        let mut s = tls_record(CT_CHANGE_CIPHER_SPEC, &[1]);
        s.extend(server.encrypt(CT_HANDSHAKE, &finished(12)).ok()?);
        flights.push((false, s));
        Some(TlsSession { flights, client, server, keylog })
    }
}

/// The sessions of the `tls` harness, by the first input byte.
const TLS_KINDS: [TlsKind; 4] = [
    TlsKind::Tls13Aes128Gcm,
    TlsKind::Tls12Aes128Gcm,
    TlsKind::Tls12Aes128Cbc { encrypt_then_mac: false },
    TlsKind::Tls12Aes128Cbc { encrypt_then_mac: true },
];

fn tls_random(i: usize) -> [u8; 32] {
    [0xc0 + i as u8; 32]
}

/// The harness configuration with the key log of every harness session.
static TLS_CONFIG: LazyLock<ScanConfig> = LazyLock::new(|| {
    let profile = Profile::parse("fuzz", "imei = \"356938035643809\"\nmac = \"a4:5e:60:12:34:56\"\n").ok();
    let mut cfg = ScanConfig::new(Engine::new(RuleSet::builtin().unwrap_or_default(), profile.as_ref()), Mode::Scan);
    let mut log = crate::app::tls::keylog::KeyLog::new();
    for (i, kind) in TLS_KINDS.iter().enumerate() {
        if let Some(s) = TlsSession::new(*kind, tls_random(i), Some("fuzz.example")) {
            log.add(s.keylog.as_bytes());
        }
    }
    cfg.keylog = std::sync::Arc::new(log);
    // Small limits so that inputs of a few kilobytes reach them.
    cfg.app.tls = crate::app::tls::TlsLimits { max_held_per_conn: 4096, max_held_total: 8192, ..Default::default() };
    cfg
});

/// IPv4/TCP packets of one connection, sequence numbers kept per side.
struct TcpWriter {
    w: PcapWriter<Vec<u8>>,
    seq: [u32; 2],
    t: i64,
}

impl TcpWriter {
    const ADDRS: [([u8; 4], u16); 2] = [([10, 0, 0, 1], 40_000), ([10, 0, 0, 2], 443)];

    fn packet(&mut self, from_client: bool, syn: bool, fin: bool, payload: &[u8]) {
        let (s, d) = if from_client { (0, 1) } else { (1, 0) };
        let ((sa, sp), (da, dp)) = (Self::ADDRS[s], Self::ADDRS[d]);
        let mut b = etherparse::PacketBuilder::ipv4(sa, da, 64).tcp(sp, dp, self.seq[s], 65_535);
        if !(syn && from_client) {
            b = b.ack(self.seq[d]);
        }
        if syn {
            b = b.syn();
        }
        if fin {
            b = b.fin();
        }
        let mut out = Vec::with_capacity(40 + payload.len());
        if b.write(&mut out, payload).is_ok() {
            self.t += 1;
            let _ = self.w.packet(Timestamp::new(self.t, 0), &out);
        }
        self.seq[s] = self.seq[s].wrapping_add(payload.len() as u32 + u32::from(syn || fin));
    }

    /// Sends `data` in segments of at most `mss` bytes.
    fn send(&mut self, from_client: bool, data: &[u8], mss: usize) {
        for piece in data.chunks(mss.max(1)) {
            self.packet(from_client, false, false, piece);
        }
    }
}

/// TLS decryption and what follows it. The first byte picks the session
/// (TLS 1.3 AES-GCM, TLS 1.2 AES-GCM, TLS 1.2 AES-CBC with MAC then
/// encrypt or encrypt then MAC; bit 2: no FIN at the end; bits 4-7: the
/// segment size of the handshake, 0 for whole records). Its handshake is
/// real, with keys in the key log, so the rest reaches decryption: it is
/// a list of chunks `op len data`, `op` bit 0 the side (server if set),
/// bits 1-2 what to do with `data`: protect it as application data, as
/// a record of the content type in its first byte, send it raw, or
/// protect it and flip a bit (its first byte says which); bit 3 splits
/// it over two segments; bit 4 multiplies `len` by 64; bit 5 leaves it
/// out of the capture (a gap).
pub fn tls(data: &[u8]) {
    let _ = tls_report(data);
}

fn tls_report(data: &[u8]) -> Option<crate::finding::FileReport> {
    use crate::app::tls::{CT_APPLICATION_DATA, handshake::KEY_UPDATE};
    let (&first, mut rest) = data.split_first()?;
    let which = usize::from(first % 4);
    let mut s = TlsSession::new(TLS_KINDS[which], tls_random(which), Some("fuzz.example"))?;
    let w = PcapWriter::new(Vec::new(), Linktype::RAW, false, false).ok()?;
    let mut tcp = TcpWriter { w, seq: [0x1000_0000, 0x2000_0000], t: 1_600_000_000 };
    tcp.packet(true, true, false, b"");
    tcp.packet(false, true, false, b"");
    tcp.packet(true, false, false, b"");
    let mss = match usize::from(first >> 4) {
        0 => usize::MAX,
        n => n,
    };
    for (from_client, rec) in &s.flights {
        tcp.send(*from_client, rec, mss);
    }
    let mut frames = 0;
    while let Some((&op, tail)) = rest.split_first() {
        let Some((&len, tail)) = tail.split_first() else { break };
        let n = if op & 0x10 != 0 { usize::from(len) * 64 } else { usize::from(len) }.min(tail.len());
        let (chunk, tail) = tail.split_at(n);
        rest = tail;
        let from_client = op & 1 == 0;
        let cipher = if from_client { &mut s.client } else { &mut s.server };
        let bytes = match (op >> 1) & 3 {
            0 => cipher.encrypt(CT_APPLICATION_DATA, chunk).ok(),
            1 => chunk.split_first().and_then(|(&ct, body)| {
                let rec = cipher.encrypt(ct, body).ok();
                // Follow a KeyUpdate the way the receiver will.
                if ct == crate::app::tls::CT_HANDSHAKE && body.first() == Some(&KEY_UPDATE) {
                    let _ = cipher.key_update();
                }
                rec
            }),
            2 => Some(chunk.to_vec()),
            _ => chunk.split_first().and_then(|(&at, body)| {
                let mut rec = cipher.encrypt(CT_APPLICATION_DATA, body).ok()?;
                let i = usize::from(at) % rec.len();
                rec[i] ^= 1 << (at % 8);
                Some(rec)
            }),
        };
        let Some(bytes) = bytes else { continue };
        if op & 0x20 != 0 {
            let side = usize::from(!from_client);
            tcp.seq[side] = tcp.seq[side].wrapping_add(bytes.len() as u32);
            continue;
        }
        let cut = if op & 0x08 != 0 { bytes.len() / 2 } else { bytes.len() };
        for piece in [&bytes[..cut], &bytes[cut..]] {
            if !piece.is_empty() {
                tcp.send(from_client, piece, usize::MAX);
                frames += 1;
            }
        }
        if frames > MAX_FRAMES {
            break;
        }
    }
    if first & 0x04 == 0 {
        tcp.packet(true, false, true, b"");
        tcp.packet(false, false, true, b"");
    }
    Some(scan_reader("fuzz", Box::new(Cursor::new(tcp.w.into_inner())), &TLS_CONFIG))
}

/// Key log parsing: the bytes as a key log.
pub fn keylog(data: &[u8]) {
    let mut log = crate::app::tls::keylog::KeyLog::new();
    let notes = log.add(data);
    assert!(notes.len() <= crate::app::tls::keylog::MAX_NOTES);
    let _ = crate::app::tls::keylog::looks_like_keylog(data);
    let _ = (log.len(), log.get(&[0; 32]), log.master_for_session(&[0; 32]));
}

/// HTTP/2 frames after the client preface: the input is split at each
/// 0xF7 byte into pieces sent alternately by the client and the server,
/// each piece cut once more where its first byte says, so frames and
/// header blocks straddle segments; both HPACK decoders are exercised.
pub fn http2(data: &[u8]) {
    use crate::app::http2::{Http2, PREFACE};
    use crate::app::{AppConfig, AppLayer, Cx, Dissector, Role, Seg};
    use crate::flow::Chunk;
    let mut app = AppLayer::new(AppConfig::default(), crate::app::tls::keys::KeyStore::new(Default::default()));
    let mut d = Http2::new(&app.cfg);
    let (c, s) = ("10.0.0.1:40000".parse().expect("addr"), "10.0.0.2:80".parse().expect("addr"));
    let mut feed = |app: &mut AppLayer, role: Role, bytes: &[u8], frame: u64| {
        let (src, dst) = if role == Role::Client { (c, s) } else { (s, c) };
        let chunk = Chunk { data: bytes, frame, ts: Timestamp::default() };
        let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
        d.data(&mut cx, Seg { role, src, dst, midstream: false, chunk });
    };
    feed(&mut app, Role::Client, PREFACE, 1);
    for (i, piece) in data.split(|b| *b == 0xf7).enumerate() {
        let role = if i % 2 == 0 { Role::Client } else { Role::Server };
        let cut = piece.first().map_or(0, |b| usize::from(*b)).min(piece.len());
        feed(&mut app, role, &piece[..cut], i as u64 + 2);
        feed(&mut app, role, &piece[cut..], i as u64 + 2);
    }
    let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
    d.close(&mut cx, [0, 0], true);
    for r in &app.out.requests {
        let _ = extract::request_fields(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `tls` seed of every session kind decrypts and finds the IMEI
    /// behind TLS; the same bytes with a bit flipped or sent raw do not.
    #[test]
    fn tls_harness_reaches_plaintext() {
        let req = b"POST /u?imei=356938035643809 HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        for first in [0u8, 1, 2, 3, 0x30, 0x11] {
            for (op, found) in [(0u8, true), (2, true), (4, false), (6, false)] {
                let mut input = vec![first, op, req.len() as u8 + u8::from(op != 0)];
                if op != 0 {
                    input.push(if op == 2 { 23 } else { 200 });
                }
                input.extend_from_slice(req);
                input.extend_from_slice(&[1, 5, b'H', b'T', b'T', b'P', b'/']);
                let rep = tls_report(&input).unwrap();
                let imei = rep.findings.iter().any(|f| f.kind == "imei");
                assert_eq!(imei, found, "first {first:#x} op {op}: {:?}", rep.stats.tls);
                assert_eq!(rep.stats.tls.decrypted, 1, "first {first:#x} op {op}: {:?}", rep.stats.tls);
            }
        }
        keylog(b"CLIENT_RANDOM zz\n# x\n\0");
    }
}
