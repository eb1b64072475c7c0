//! TLS handshake messages, as far as decryption and reports need them:
//! ClientHello (random, session id, server name, ALPN offer, ticket,
//! early data, encrypt-then-MAC), ServerHello (random, session id,
//! negotiated version and suite, HelloRetryRequest), EncryptedExtensions
//! (ALPN in TLS 1.3), NewSessionTicket (TLS 1.2 tickets).
//!
//! Pure parsers over one message body through a checked [`Reader`]:
//! every length is checked, nothing panics, unknown extensions are
//! skipped.

use crate::flow::Role;

pub const CLIENT_HELLO: u8 = 1;
pub const SERVER_HELLO: u8 = 2;
pub const NEW_SESSION_TICKET: u8 = 4;
pub const END_OF_EARLY_DATA: u8 = 5;
pub const ENCRYPTED_EXTENSIONS: u8 = 8;
pub const FINISHED: u8 = 20;
pub const KEY_UPDATE: u8 = 24;

const EXT_SERVER_NAME: u16 = 0;
const EXT_ALPN: u16 = 16;
const EXT_ENCRYPT_THEN_MAC: u16 = 22;
const EXT_SESSION_TICKET: u16 = 35;
const EXT_EARLY_DATA: u16 = 42;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const NAME_TYPE_HOST: u8 = 0;
/// Longest DNS name (RFC 1035): longer server names are not names.
const MAX_HOST_NAME: usize = 253;
/// Longest session ticket remembered (resumption by ticket).
const MAX_TICKET: usize = 2048;

/// The ServerHello random that marks a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// A checked view: every read says `None` past the end.
#[derive(Clone, Copy)]
pub struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(b: &'a [u8]) -> Self {
        Reader { b }
    }
    pub fn is_empty(&self) -> bool {
        self.b.is_empty()
    }
    pub fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.b.len() {
            return None;
        }
        let (h, t) = self.b.split_at(n);
        self.b = t;
        Some(h)
    }
    pub fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    pub fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    pub fn u24(&mut self) -> Option<usize> {
        self.bytes(3).map(|b| (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2]))
    }
    /// A vector with a one-byte length.
    pub fn vec8(&mut self) -> Option<Reader<'a>> {
        let n = usize::from(self.u8()?);
        self.bytes(n).map(Reader::new)
    }
    /// A vector with a two-byte length.
    pub fn vec16(&mut self) -> Option<Reader<'a>> {
        let n = usize::from(self.u16()?);
        self.bytes(n).map(Reader::new)
    }
    pub fn rest(&self) -> &'a [u8] {
        self.b
    }
}

/// What a ClientHello says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    pub sni: Option<String>,
    pub encrypt_then_mac: bool,
    /// A TLS 1.2 session ticket offered for resumption.
    pub ticket: Option<Vec<u8>>,
    /// TLS 1.3 0-RTT data follows.
    pub early_data: bool,
}

/// What a ServerHello says.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServerHello {
    pub random: [u8; 32],
    pub session_id: Vec<u8>,
    /// The negotiated version (supported_versions when present).
    pub version: u16,
    pub suite: u16,
    pub encrypt_then_mac: bool,
    pub alpn: Option<String>,
    /// A HelloRetryRequest: a second ClientHello follows.
    pub retry: bool,
}

fn random(r: &mut Reader<'_>) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    out.copy_from_slice(r.bytes(32)?);
    Some(out)
}

fn host_name(mut body: Reader<'_>) -> Option<String> {
    let mut list = body.vec16()?;
    while !list.is_empty() {
        let kind = list.u8()?;
        let name = list.vec16()?.rest();
        if kind == NAME_TYPE_HOST
            && !name.is_empty()
            && name.len() <= MAX_HOST_NAME
            && name.iter().all(|c| c.is_ascii_graphic())
        {
            return Some(crate::util::lossy(name).to_ascii_lowercase());
        }
    }
    None
}

fn alpn_list(mut body: Reader<'_>) -> Option<Vec<String>> {
    let mut list = body.vec16()?;
    let mut out = Vec::new();
    while !list.is_empty() {
        let p = list.vec8()?.rest();
        out.push(crate::util::lossy(p).into_owned());
    }
    Some(out)
}

/// Parses a ClientHello body (after the 4-byte handshake header).
pub fn client_hello(body: &[u8]) -> Option<ClientHello> {
    let mut r = Reader::new(body);
    r.u16()?; // legacy_version
    let mut ch = ClientHello { random: random(&mut r)?, ..ClientHello::default() };
    ch.session_id = r.vec8()?.rest().to_vec();
    r.vec16()?; // cipher suites
    r.vec8()?; // compression methods
    if r.is_empty() {
        return Some(ch);
    }
    let mut exts = r.vec16()?;
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        match kind {
            EXT_SERVER_NAME => ch.sni = host_name(data),
            EXT_ENCRYPT_THEN_MAC => ch.encrypt_then_mac = true,
            EXT_SESSION_TICKET if !data.is_empty() && data.rest().len() <= MAX_TICKET => {
                ch.ticket = Some(data.rest().to_vec());
            }
            EXT_EARLY_DATA => ch.early_data = true,
            _ => {}
        }
    }
    Some(ch)
}

/// Parses a ServerHello body.
pub fn server_hello(body: &[u8]) -> Option<ServerHello> {
    let mut r = Reader::new(body);
    let legacy = r.u16()?;
    let mut sh = ServerHello { random: random(&mut r)?, version: legacy, ..ServerHello::default() };
    sh.retry = sh.random == HRR_RANDOM;
    sh.session_id = r.vec8()?.rest().to_vec();
    sh.suite = r.u16()?;
    r.u8()?; // compression method
    if r.is_empty() {
        return Some(sh);
    }
    let mut exts = r.vec16()?;
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let mut data = exts.vec16()?;
        match kind {
            EXT_SUPPORTED_VERSIONS => sh.version = data.u16()?,
            EXT_ENCRYPT_THEN_MAC => sh.encrypt_then_mac = true,
            EXT_ALPN => sh.alpn = alpn_list(data).and_then(|l| l.into_iter().next()),
            _ => {}
        }
    }
    Some(sh)
}

/// The ALPN protocol an EncryptedExtensions message selects (TLS 1.3).
pub fn encrypted_extensions_alpn(body: &[u8]) -> Option<String> {
    let mut exts = Reader::new(body).vec16()?;
    while !exts.is_empty() {
        let kind = exts.u16()?;
        let data = exts.vec16()?;
        if kind == EXT_ALPN {
            return alpn_list(data).and_then(|l| l.into_iter().next());
        }
    }
    None
}

/// The ticket of a TLS 1.2 NewSessionTicket (lifetime hint, then ticket).
pub fn new_session_ticket_12(body: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader::new(body);
    r.bytes(4)?;
    let t = r.vec16()?.rest();
    (!t.is_empty() && t.len() <= MAX_TICKET).then(|| t.to_vec())
}

/// The record and handshake header of a hello at the start of `b`: its
/// handshake type and body, if `b` starts with a whole handshake record.
fn first_handshake(b: &[u8]) -> Option<(u8, &[u8])> {
    let mut r = Reader::new(b);
    if r.u8()? != super::CT_HANDSHAKE {
        return None;
    }
    r.u16()?;
    let mut rec = r.vec16().unwrap_or_else(|| Reader::new(&b[5.min(b.len())..]));
    let kind = rec.u8()?;
    let len = rec.u24()?;
    let body = rec.rest();
    Some((kind, &body[..len.min(body.len())]))
}

/// Who sent a direction that starts with this TLS hello, if it is one.
pub fn hello_role(b: &[u8]) -> Option<Role> {
    if b.len() < 6 || b[1] != 3 {
        return None;
    }
    match first_handshake(b)?.0 {
        CLIENT_HELLO => Some(Role::Client),
        SERVER_HELLO => Some(Role::Server),
        _ => None,
    }
}

/// The host name a ClientHello asks for, if `b` starts with one.
pub fn client_hello_sni(b: &[u8]) -> Option<String> {
    let (kind, body) = first_handshake(b)?;
    if kind != CLIENT_HELLO {
        return None;
    }
    client_hello(body)?.sni
}

#[cfg(test)]
pub mod tests {
    use super::*;

    pub const HRR: [u8; 32] = HRR_RANDOM;

    /// A minimal ClientHello record with one extension, server_name.
    pub fn hello(name: &str) -> Vec<u8> {
        let mut sni = vec![0, (name.len() + 3) as u8, 0, 0, name.len() as u8];
        sni.extend_from_slice(name.as_bytes());
        let mut ext = vec![0, 0, 0, sni.len() as u8];
        ext.extend_from_slice(&sni);
        let mut body = vec![3, 3];
        body.extend_from_slice(&[0u8; 32]);
        body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
        body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        body.extend_from_slice(&ext);
        let mut hs = vec![1, 0, 0, body.len() as u8];
        hs.extend_from_slice(&body);
        let mut rec = vec![0x16, 3, 1, 0, hs.len() as u8];
        rec.extend_from_slice(&hs);
        rec
    }

    #[test]
    fn finds_the_server_name() {
        assert_eq!(client_hello_sni(&hello("Api.Example.org")).as_deref(), Some("api.example.org"));
        let h = hello("api.example.org");
        // Cut anywhere before the name ends, it is not found; never a panic.
        for cut in 0..h.len() {
            assert_eq!(client_hello_sni(&h[..cut]), None, "cut at {cut}");
        }
        assert_eq!(client_hello_sni(b"GET / HTTP/1.1"), None);
        assert_eq!(hello_role(&h), Some(Role::Client));
    }

    #[test]
    fn server_hello_version_and_retry() {
        let mut body = vec![3, 3];
        body.extend_from_slice(&HRR_RANDOM);
        body.extend_from_slice(&[0, 0x13, 0x02, 0]);
        body.extend_from_slice(&[0, 6, 0, 43, 0, 2, 3, 4]);
        let sh = server_hello(&body).unwrap();
        assert_eq!((sh.version, sh.suite, sh.retry), (0x0304, 0x1302, true));
        for cut in 0..body.len() {
            let _ = server_hello(&body[..cut]);
        }
        // Without extensions: the legacy version is the version.
        let sh = server_hello(&body[..2 + 32 + 4]).unwrap();
        assert_eq!((sh.version, sh.retry), (0x0303, true));
    }
}
