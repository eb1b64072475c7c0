//! Tests of the TLS dissector: sessions built with a real key schedule,
//! fed in every cut, with right, wrong, missing and late keys.

use super::*;
use crate::app::{AppLayer, Emit};
use keylog::KeyLog;
use keys::KeyStore;

const CLIENT_RANDOM: [u8; 32] = [7; 32];
/// Secrets of the test session (any 32 bytes do: both ends derive
/// from them, as from a key log).
const SECRETS: [(&str, u8); 4] = [
    ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", 1),
    ("SERVER_HANDSHAKE_TRAFFIC_SECRET", 2),
    ("CLIENT_TRAFFIC_SECRET_0", 3),
    ("SERVER_TRAFFIC_SECRET_0", 4),
];

fn record(ct: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![ct, 3, 3];
    r.extend_from_slice(&(body.len() as u16).to_be_bytes());
    r.extend_from_slice(body);
    r
}

fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind, 0, (body.len() >> 8) as u8, body.len() as u8];
    m.extend_from_slice(body);
    m
}

fn keylog(right: bool) -> KeyLog {
    let cr = hex::encode(CLIENT_RANDOM);
    let mut text = String::new();
    for (label, b) in SECRETS {
        let secret = if right { [b; 32] } else { [b ^ 0x55; 32] };
        text.push_str(&format!("{label} {cr} {}\n", hex::encode(secret)));
    }
    let mut log = KeyLog::new();
    assert!(log.add(text.as_bytes()).is_empty());
    log
}

/// Both directions of a TLS 1.3 connection (TLS_AES_128_GCM_SHA256)
/// whose client sends two requests, the first split over two records,
/// with a KeyUpdate between them.
fn session() -> (Vec<u8>, Vec<u8>) {
    let req = b"POST /u HTTP/1.1\r\nHost: api.example.org\r\nContent-Length: 20\r\n\r\nimei=356938035643809";
    session_sending(req, b"GET /second HTTP/1.1\r\n\r\n")
}

/// The same session with other application data from the client: `first`
/// in two records, a KeyUpdate, then `second`.
fn session_sending(req: &[u8], second: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let suite = crypto::suite(0x1301).unwrap();
    let c = |b: u8| RecordCipher::tls13(suite, &[b; 32]).unwrap();
    let mut hello = handshake::tests::hello("api.example.org");
    hello[11..43].copy_from_slice(&CLIENT_RANDOM);
    let mut client = hello;
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[9; 32]);
    sh.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let mut server = record(CT_HANDSHAKE, &message(handshake::SERVER_HELLO, &sh));
    server.extend_from_slice(&record(CT_CHANGE_CIPHER_SPEC, &[1]));
    let mut shs = c(2);
    let ee = message(handshake::ENCRYPTED_EXTENSIONS, &[0, 0]);
    server.extend_from_slice(&shs.encrypt(CT_HANDSHAKE, &ee).unwrap());
    server.extend_from_slice(&shs.encrypt(CT_HANDSHAKE, &message(handshake::FINISHED, &[0; 32])).unwrap());
    let mut sapp = c(4);
    server.extend_from_slice(&sapp.encrypt(CT_APPLICATION_DATA, b"HTTP/1.1 200 OK\r\n\r\n").unwrap());
    client.extend_from_slice(&record(CT_CHANGE_CIPHER_SPEC, &[1]));
    let mut chs = c(1);
    client.extend_from_slice(&chs.encrypt(CT_HANDSHAKE, &message(handshake::FINISHED, &[0; 32])).unwrap());
    let mut capp = c(3);
    client.extend_from_slice(&capp.encrypt(CT_APPLICATION_DATA, &req[..30]).unwrap());
    client.extend_from_slice(&capp.encrypt(CT_APPLICATION_DATA, &req[30..]).unwrap());
    client.extend_from_slice(&capp.encrypt(CT_HANDSHAKE, &message(handshake::KEY_UPDATE, &[0])).unwrap());
    capp.key_update().unwrap();
    client.extend_from_slice(&capp.encrypt(CT_APPLICATION_DATA, second).unwrap());
    (client, server)
}

/// SIP over TLS (port 5061): the decrypted messages are read as SIP,
/// carried by TLS.
#[test]
fn sip_over_tls_is_read_as_sip() {
    let register = b"REGISTER sip:ims.example SIP/2.0\r\nf: <sip:+33612345678@ims.example>\r\nl: 0\r\n\r\n";
    let (client, server) = session_sending(register, b"OPTIONS sip:ims.example SIP/2.0\r\nl: 0\r\n\r\n");
    let app = flights(keylog(true), &[(true, client), (false, server)]);
    let methods: Vec<Option<&str>> = app.out.sip.iter().map(|m| m.method()).collect();
    assert_eq!(methods, [Some("REGISTER"), Some("OPTIONS")]);
    assert!(app.out.sip.iter().all(|m| m.tls.as_deref().is_some_and(|t| t.version == "1.3")));
    assert!(app.out.requests.is_empty() && app.out.streams.is_empty());
}

/// Feeds the session through the application layer, each direction
/// cut at `cut` bytes (client first, then the server's first part,
/// interleaved as a capture would show them).
fn run(log: KeyLog, cuts: (usize, usize)) -> AppLayer {
    let (client, server) = session();
    let mut app = AppLayer::new(AppConfig::default(), KeyStore::new(Arc::new(log)));
    let ca: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let sa: std::net::SocketAddr = "10.0.0.2:443".parse().unwrap();
    let mut d = Tls::new(&app.cfg);
    let hello_len = usize::from(u16::from_be_bytes([client[3], client[4]])) + 5;
    let mut feed = |app: &mut AppLayer, role: Role, data: &[u8], frame: u64| {
        let (src, dst) = if role == Role::Client { (ca, sa) } else { (sa, ca) };
        let seg = Seg { role, src, dst, midstream: false, chunk: Chunk { data, frame, ts: Timestamp::default() } };
        let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
        d.data(&mut cx, seg);
    };
    let (c1, c2) = client[hello_len..].split_at(cuts.0.min(client.len() - hello_len));
    let (s1, s2) = server.split_at(cuts.1.min(server.len()));
    feed(&mut app, Role::Client, &client[..hello_len], 1);
    feed(&mut app, Role::Server, s1, 2);
    feed(&mut app, Role::Server, s2, 3);
    feed(&mut app, Role::Client, c1, 4);
    feed(&mut app, Role::Client, c2, 5);
    let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
    d.close(&mut cx, [0, 0], true);
    app
}

fn uris(out: &Emit) -> Vec<String> {
    out.requests.iter().map(|r| r.uri()).collect()
}

#[test]
fn tls13_decrypts_in_every_cut() {
    let (client, server) = session();
    for cut in 0..client.len().max(server.len()) {
        let app = run(keylog(true), (cut, cut));
        assert_eq!(uris(&app.out), ["/u", "/second"], "cut at {cut}");
        let r = &app.out.requests[0];
        assert_eq!(r.body, b"imei=356938035643809");
        let tls = r.tls.as_deref().unwrap();
        assert_eq!(
            (tls.version, tls.cipher, tls.sni.as_deref()),
            ("1.3", "TLS_AES_128_GCM_SHA256", Some("api.example.org"))
        );
        let t = &app.out.stats.tls;
        assert_eq!((t.connections, t.decrypted, t.server_bytes), (1, 1, 19), "cut at {cut}");
        assert_eq!(app.out.tls.partial + app.out.tls.held, 0, "nothing held after close");
    }
}

#[test]
fn wrong_and_missing_keys_are_counted_not_decrypted() {
    let app = run(keylog(false), (0, 0));
    assert!(app.out.requests.is_empty());
    let t = &app.out.stats.tls;
    assert_eq!((t.decrypted, t.bad_key.0, t.no_key.0), (0, 1, 0));
    let app = run(KeyLog::new(), (0, 0));
    assert!(app.out.requests.is_empty());
    assert_eq!(app.out.stats.tls.no_key.0, 1);
}

#[test]
fn keys_that_arrive_later_open_held_records() {
    let (client, server) = session();
    let mut keys = KeyStore::new(Arc::new(KeyLog::new()));
    keys.set_may_grow(true);
    let mut app = AppLayer::new(AppConfig::default(), keys);
    let ca: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let sa: std::net::SocketAddr = "10.0.0.2:443".parse().unwrap();
    let mut d: Box<dyn Dissector> = Box::new(Tls::new(&app.cfg));
    for (role, data) in [(Role::Client, &client), (Role::Server, &server)] {
        let (src, dst) = if role == Role::Client { (ca, sa) } else { (sa, ca) };
        let seg = Seg { role, src, dst, midstream: false, chunk: Chunk { data, frame: 1, ts: Timestamp::default() } };
        let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
        d.data(&mut cx, seg);
    }
    let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
    assert_eq!(d.close(&mut cx, [0, 0], false), Closed::WaitingForKeys);
    assert!(app.out.tls.held > 0);
    app.parked.push((d, None, [0, 0]));
    let cr = hex::encode(CLIENT_RANDOM);
    let text: String = SECRETS.iter().map(|(l, b)| format!("{l} {cr} {}\n", hex::encode([*b; 32]))).collect();
    assert!(app.add_secrets(text.as_bytes(), &mut |_, _| {}).is_empty());
    assert_eq!(uris(&app.out), ["/u", "/second"]);
    assert_eq!(app.out.tls.held, 0);
    assert_eq!(app.out.stats.tls.decrypted, 1);
}

/// Feeds whole flights in order, `(client?, bytes)`, through one
/// dissector; returns the layer after close.
fn flights(log: KeyLog, flights: &[(bool, Vec<u8>)]) -> AppLayer {
    let mut app = AppLayer::new(AppConfig::default(), KeyStore::new(Arc::new(log)));
    let ca: std::net::SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let sa: std::net::SocketAddr = "10.0.0.2:443".parse().unwrap();
    let mut d = Tls::new(&app.cfg);
    for (i, (client, data)) in flights.iter().enumerate() {
        let (role, src, dst) = if *client { (Role::Client, ca, sa) } else { (Role::Server, sa, ca) };
        let chunk = Chunk { data, frame: i as u64 + 1, ts: Timestamp::default() };
        let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
        d.data(&mut cx, Seg { role, src, dst, midstream: false, chunk });
    }
    let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
    d.close(&mut cx, [0, 0], true);
    app
}

/// A HelloRetryRequest, with the compatibility CCS after it, then the
/// second ClientHello: the real ServerHello is found and the session
/// decrypts.
#[test]
fn hello_retry_request_then_the_real_handshake() {
    let (client, server) = session();
    let hello_len = usize::from(u16::from_be_bytes([client[3], client[4]])) + 5;
    let mut hrr = vec![3, 3];
    hrr.extend_from_slice(&handshake::tests::HRR);
    hrr.extend_from_slice(&[0, 0x13, 0x01, 0, 0, 6, 0, 43, 0, 2, 3, 4]);
    let mut retry = record(CT_HANDSHAKE, &message(handshake::SERVER_HELLO, &hrr));
    retry.extend_from_slice(&record(CT_CHANGE_CIPHER_SPEC, &[1]));
    let app = flights(
        keylog(true),
        &[(true, client[..hello_len].to_vec()), (false, retry), (true, client.clone()), (false, server)],
    );
    assert_eq!(uris(&app.out), ["/u", "/second"]);
    assert_eq!(app.out.stats.tls.decrypted, 1);
}

/// TLS 1.2 renegotiation: the second handshake inside the first
/// session's records, its ChangeCipherSpec protected too; what follows
/// decrypts with the second session's keys (both in the key log).
#[test]
fn tls12_renegotiation_switches_to_the_new_keys() {
    use crate::harness::{TlsKind, TlsSession, tls_client_hello, tls_message, tls_server_hello};
    let s1 = TlsSession::new(TlsKind::Tls12Aes128Gcm, [0x31; 32], Some("reneg.example")).unwrap();
    let (mut c1, mut srv1) = (s1.client.clone(), s1.server.clone());
    let mut f: Vec<(bool, Vec<u8>)> = s1.flights.clone();
    let get = |p: &str| format!("GET {p} HTTP/1.1\r\nHost: reneg.example\r\n\r\n");
    f.push((true, c1.encrypt(CT_APPLICATION_DATA, get("/first").as_bytes()).unwrap()));
    // The second handshake, under the first session's keys.
    let (cr2, sr2, master2) = ([0x77u8; 32], [0x88u8; 32], [0x99u8; 48]);
    let suite = crypto::suite(0xc02f).unwrap();
    f.push((true, c1.encrypt(CT_HANDSHAKE, &tls_client_hello(&cr2, Some("reneg.example"), false)).unwrap()));
    let mut sh = tls_server_hello(&sr2, 0xc02f, false, false);
    sh.extend(tls_message(14, &[]));
    f.push((false, srv1.encrypt(CT_HANDSHAKE, &sh).unwrap()));
    let new = |side| RecordCipher::tls12(suite, Version::Tls12, &master2, &cr2, &sr2, side, false).unwrap();
    let (mut c2, mut srv2) = (new(Side::Client), new(Side::Server));
    let mut cf = c1.encrypt(CT_HANDSHAKE, &tls_message(16, &[0, 1, 0x42])).unwrap();
    cf.extend(c1.encrypt(CT_CHANGE_CIPHER_SPEC, &[1]).unwrap());
    cf.extend(c2.encrypt(CT_HANDSHAKE, &tls_message(handshake::FINISHED, &[0x46; 12])).unwrap());
    f.push((true, cf));
    let mut sf = srv1.encrypt(CT_CHANGE_CIPHER_SPEC, &[1]).unwrap();
    sf.extend(srv2.encrypt(CT_HANDSHAKE, &tls_message(handshake::FINISHED, &[0x46; 12])).unwrap());
    f.push((false, sf));
    f.push((true, c2.encrypt(CT_APPLICATION_DATA, get("/second").as_bytes()).unwrap()));
    let mut log = KeyLog::new();
    log.add(s1.keylog.as_bytes());
    log.add(format!("CLIENT_RANDOM {} {}\n", hex::encode(cr2), hex::encode(master2)).as_bytes());
    let app = flights(log, &f);
    assert_eq!(uris(&app.out), ["/first", "/second"]);
    let t = &app.out.stats.tls;
    assert_eq!((t.decrypted, t.partly, t.bad_records), (1, 0, 0), "{t:?}");
    // Without the second session's key: read in part, and never with the
    // old keys (no records that fail to authenticate).
    let mut first_only = KeyLog::new();
    first_only.add(s1.keylog.as_bytes());
    let app = flights(first_only, &f);
    assert_eq!(uris(&app.out), ["/first"]);
    let t = &app.out.stats.tls;
    assert_eq!((t.decrypted, t.partly, t.bad_records), (1, 1, 0), "{t:?}");
}

/// A first record of one byte "P" (a TLS 1.0 client's 1/n-1 split)
/// is the start of a POST, not an HTTP/2 preface.
#[test]
fn one_byte_first_record_is_not_http2() {
    use crate::harness::{TlsKind, TlsSession};
    let s = TlsSession::new(TlsKind::Tls12Aes128Gcm, [0x41; 32], None).unwrap();
    let mut c = s.client.clone();
    let mut f = s.flights.clone();
    let req = b"POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok";
    let mut data = c.encrypt(CT_APPLICATION_DATA, &req[..1]).unwrap();
    data.extend(c.encrypt(CT_APPLICATION_DATA, &req[1..]).unwrap());
    f.push((true, data));
    let mut log = KeyLog::new();
    log.add(s.keylog.as_bytes());
    let app = flights(log, &f);
    assert_eq!(uris(&app.out), ["/p"]);
    assert_eq!(app.out.stats.http2_bytes, 0);
}
