//! TLS conversations for fixtures: clear hello messages built from their
//! fields, protected records sealed with teleaudit's own
//! `RecordCipher` under a real key schedule (TLS 1.2 key expansion from
//! a master secret, TLS 1.3 traffic keys from traffic secrets), and the
//! NSS key log lines that open them.
//!
//! The same cipher code seals and opens, so a fixture made here checks
//! record framing, key phases, reassembly and the plaintext's way to
//! HTTP, not the cipher itself: that is checked against RFC 8448's
//! records in `src/app/tls/crypto.rs`. No key exchange is run (no
//! certificate, no real ECDHE share): the secrets are fixed bytes, as a
//! key log hands them to a reader.

use teleaudit::app::tls::crypto::{RecordCipher, Side, Version, suite};

pub const HANDSHAKE: u8 = 22;
pub const CHANGE_CIPHER_SPEC: u8 = 20;
pub const ALERT: u8 = 21;
pub const APPLICATION_DATA: u8 = 23;

pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const ENCRYPTED_EXTENSIONS: u8 = 8;
pub const SERVER_HELLO_DONE: u8 = 14;
pub const CLIENT_KEY_EXCHANGE: u8 = 16;
pub const FINISHED: u8 = 20;

const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;
const GROUP_X25519: u16 = 0x001d;
/// ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256.
const SIGNATURE_SCHEMES: [u16; 3] = [0x0403, 0x0804, 0x0401];
const TLS12_WIRE: u16 = 0x0303;
const TLS13_WIRE: u16 = 0x0304;
/// The record version of a first ClientHello, as most stacks send it.
const TLS10_WIRE: u16 = 0x0301;

/// One record: type, version, 16-bit length, fragment.
pub fn record(content_type: u8, version: u16, fragment: &[u8]) -> Vec<u8> {
    let mut r = vec![content_type];
    r.extend_from_slice(&version.to_be_bytes());
    r.extend_from_slice(&(fragment.len() as u16).to_be_bytes());
    r.extend_from_slice(fragment);
    r
}

/// One handshake message: type, 24-bit length, body.
pub fn handshake(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    m.extend_from_slice(body);
    m
}

fn ext(kind: u16, data: &[u8]) -> Vec<u8> {
    let mut e = kind.to_be_bytes().to_vec();
    e.extend_from_slice(&(data.len() as u16).to_be_bytes());
    e.extend_from_slice(data);
    e
}

fn vec8(b: &[u8]) -> Vec<u8> {
    let mut v = vec![b.len() as u8];
    v.extend_from_slice(b);
    v
}

fn vec16(b: &[u8]) -> Vec<u8> {
    let mut v = (b.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(b);
    v
}

fn u16s(v: &[u16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn alpn(protocols: &[&str]) -> Vec<u8> {
    let list: Vec<u8> = protocols.iter().flat_map(|p| vec8(p.as_bytes())).collect();
    ext(EXT_ALPN, &vec16(&list))
}

/// A ClientHello offering one suite, with SNI and ALPN; for TLS 1.3,
/// supported_versions and an X25519 key share (`share`, 32 bytes).
pub fn client_hello(random: &[u8; 32], session_id: &[u8], suite_id: u16, sni: &str, tls13: Option<&[u8]>) -> Vec<u8> {
    let mut name = vec![0];
    name.extend_from_slice(&vec16(sni.as_bytes()));
    let mut exts = ext(EXT_SERVER_NAME, &vec16(&name));
    exts.extend(ext(EXT_SUPPORTED_GROUPS, &vec16(&u16s(&[GROUP_X25519]))));
    exts.extend(ext(EXT_SIGNATURE_ALGORITHMS, &vec16(&u16s(&SIGNATURE_SCHEMES))));
    exts.extend(alpn(&["http/1.1"]));
    match tls13 {
        Some(share) => {
            exts.extend(ext(EXT_SUPPORTED_VERSIONS, &vec8(&u16s(&[TLS13_WIRE]))));
            let mut ks = u16s(&[GROUP_X25519]);
            ks.extend(vec16(share));
            exts.extend(ext(EXT_KEY_SHARE, &vec16(&ks)));
        }
        None => exts.extend(ext(EXT_EC_POINT_FORMATS, &vec8(&[0]))),
    }
    let mut body = TLS12_WIRE.to_be_bytes().to_vec();
    body.extend_from_slice(random);
    body.extend(vec8(session_id));
    body.extend(vec16(&u16s(&[suite_id])));
    body.extend(vec8(&[0]));
    body.extend(vec16(&exts));
    handshake(CLIENT_HELLO, &body)
}

/// A ServerHello choosing `suite_id`: TLS 1.2 with ALPN http/1.1, or
/// (with a key share) TLS 1.3 by supported_versions, ALPN left to the
/// EncryptedExtensions.
pub fn server_hello(random: &[u8; 32], session_id: &[u8], suite_id: u16, tls13: Option<&[u8]>) -> Vec<u8> {
    let exts = match tls13 {
        Some(share) => {
            let mut e = ext(EXT_SUPPORTED_VERSIONS, &u16s(&[TLS13_WIRE]));
            let mut ks = u16s(&[GROUP_X25519]);
            ks.extend(vec16(share));
            e.extend(ext(EXT_KEY_SHARE, &ks));
            e
        }
        None => {
            let mut e = alpn(&["http/1.1"]);
            e.extend(ext(EXT_EC_POINT_FORMATS, &vec8(&[0])));
            e
        }
    };
    let mut body = TLS12_WIRE.to_be_bytes().to_vec();
    body.extend_from_slice(random);
    body.extend(vec8(session_id));
    body.extend(u16s(&[suite_id]));
    body.push(0);
    body.extend(vec16(&exts));
    handshake(SERVER_HELLO, &body)
}

/// A TLS 1.3 EncryptedExtensions message selecting one ALPN protocol.
pub fn encrypted_extensions(protocol: &str) -> Vec<u8> {
    handshake(ENCRYPTED_EXTENSIONS, &vec16(&alpn(&[protocol])))
}

/// The secrets of one connection and the key log lines that name them.
pub struct Secrets12 {
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub master: [u8; 48],
}

pub struct Secrets13 {
    pub client_random: [u8; 32],
    pub server_random: [u8; 32],
    pub client_handshake: [u8; 32],
    pub server_handshake: [u8; 32],
    pub client_traffic_0: [u8; 32],
    pub server_traffic_0: [u8; 32],
}

impl Secrets12 {
    pub fn keylog(&self) -> String {
        format!("CLIENT_RANDOM {} {}\n", hex::encode(self.client_random), hex::encode(self.master))
    }

    /// The record ciphers of client and server for `suite_id`.
    pub fn ciphers(&self, suite_id: u16) -> (RecordCipher, RecordCipher) {
        let s = suite(suite_id).expect("known suite");
        let make = |side| {
            RecordCipher::tls12(s, Version::Tls12, &self.master, &self.client_random, &self.server_random, side, false)
                .expect("TLS 1.2 suite")
        };
        (make(Side::Client), make(Side::Server))
    }
}

impl Secrets13 {
    pub fn keylog(&self) -> String {
        let cr = hex::encode(self.client_random);
        [
            ("CLIENT_HANDSHAKE_TRAFFIC_SECRET", &self.client_handshake),
            ("SERVER_HANDSHAKE_TRAFFIC_SECRET", &self.server_handshake),
            ("CLIENT_TRAFFIC_SECRET_0", &self.client_traffic_0),
            ("SERVER_TRAFFIC_SECRET_0", &self.server_traffic_0),
        ]
        .iter()
        .map(|(label, s)| format!("{label} {cr} {}\n", hex::encode(s)))
        .collect()
    }
}

/// A TLS 1.3 cipher for one traffic secret of `suite_id`.
pub fn cipher13(suite_id: u16, secret: &[u8]) -> RecordCipher {
    RecordCipher::tls13(suite(suite_id).expect("known suite"), secret).expect("TLS 1.3 suite and secret length")
}

/// A first ClientHello record.
pub fn client_hello_record(hello: &[u8]) -> Vec<u8> {
    record(HANDSHAKE, TLS10_WIRE, hello)
}

/// A clear record of TLS 1.2 wire version (hellos after the first,
/// ChangeCipherSpec).
pub fn clear_record(content_type: u8, fragment: &[u8]) -> Vec<u8> {
    record(content_type, TLS12_WIRE, fragment)
}

/// The ChangeCipherSpec record (also TLS 1.3's middlebox compatibility
/// one).
pub fn change_cipher_spec() -> Vec<u8> {
    clear_record(CHANGE_CIPHER_SPEC, &[1])
}

/// Seals one record.
pub fn seal(c: &mut RecordCipher, content_type: u8, plaintext: &[u8]) -> Vec<u8> {
    c.encrypt(content_type, plaintext).expect("plaintext within a record")
}

/// A warning close_notify alert.
pub const CLOSE_NOTIFY: [u8; 2] = [1, 0];
