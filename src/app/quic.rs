//! quic: the server name of QUIC connections, from their Initial packets.
//!
//! QUIC is not decrypted (its later packets need the key log's secrets and
//! its own framing); but a client's Initial packets are protected with
//! keys anyone can derive from their destination connection id (RFC 9001
//! 5.2), so the ClientHello they carry, and its server name, can be read
//! without a key log, as Wireshark does. QUIC v1 only.
//!
//! Input: UDP payloads judged QUIC. Output: server names, in order of
//! first appearance. State: CRYPTO bytes of ClientHellos split over
//! several Initial packets, per connection id, bounded.
//!
//! Never: trust a length or panic on a packet; keep more than the limits.

use std::collections::HashMap;

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use aes_gcm::Aes128Gcm;
use aes_gcm::aead::{AeadInOut, Nonce, Tag};

use super::tls::crypto::{Hash, hkdf_expand_label};
use super::tls::handshake;

/// RFC 9001 5.2: the salt of QUIC v1 Initial secrets.
const INITIAL_SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f,
    0x0a,
];
const VERSION_1: u32 = 1;
const TAG: usize = 16;
/// ClientHello bytes gathered per connection (a post-quantum key share
/// makes it span two or three packets).
const MAX_HELLO: usize = 16 << 10;
/// Connections whose ClientHello is still being gathered.
const MAX_PENDING: usize = 1024;

const FRAME_PADDING: u64 = 0x00;
const FRAME_PING: u64 = 0x01;
const FRAME_ACK: u64 = 0x02;
const FRAME_ACK_ECN: u64 = 0x03;
const FRAME_CRYPTO: u64 = 0x06;

/// A QUIC variable-length integer and its length.
fn varint(b: &[u8]) -> Option<(u64, usize)> {
    let first = *b.first()?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(..len)?;
    let mut v = u64::from(first & 0x3f);
    for x in &bytes[1..] {
        v = (v << 8) | u64::from(*x);
    }
    Some((v, len))
}

/// QUIC v2's version number (RFC 9369), which numbers packet types
/// differently.
const VERSION_2: u32 = 0x6b33_43cf;

/// The fields of a long-header packet this module and the datagram
/// counter need.
pub struct LongHeader<'a> {
    pub version: u32,
    /// An Initial packet (the one type with a token).
    pub initial: bool,
    pub dcid: &'a [u8],
    /// Where the (protected) packet number starts.
    pub pn_offset: usize,
    /// Where the packet ends: coalesced packets follow.
    pub end: usize,
}

/// Parses the long header at the start of `b` (RFC 9000 17.2); `None`
/// for a version negotiation or a Retry (which carry no length) and for
/// a header cut short.
pub fn long_header(b: &[u8]) -> Option<LongHeader<'_>> {
    let mut c = Cur { b, at: 1 };
    let version = u32::from_be_bytes(c.take(4)?.try_into().ok()?);
    if version == 0 {
        return None;
    }
    let dcid_len = usize::from(c.take(1)?[0]);
    let dcid = c.take(dcid_len)?;
    let scid_len = usize::from(c.take(1)?[0]);
    c.take(scid_len)?;
    let kind = (b[0] >> 4) & 0x03;
    let (initial, retry) = if version == VERSION_2 { (kind == 1, kind == 0) } else { (kind == 0, kind == 3) };
    if retry {
        return None;
    }
    if initial {
        let token = c.len()?;
        c.take(token)?;
    }
    let len = c.len()?;
    let pn_offset = c.at;
    Some(LongHeader { version, initial, dcid, pn_offset, end: pn_offset.checked_add(len)? })
}

/// A checked cursor over a packet.
struct Cur<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cur<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }
    fn varint(&mut self) -> Option<u64> {
        let (v, n) = varint(self.b.get(self.at..)?)?;
        self.at += n;
        Some(v)
    }
    fn len(&mut self) -> Option<usize> {
        self.varint().and_then(|v| usize::try_from(v).ok())
    }
}

/// Server names found in a capture's QUIC Initial packets.
#[derive(Default)]
pub struct Initials {
    /// CRYPTO bytes of ClientHellos not whole yet, by destination
    /// connection id.
    pending: HashMap<Vec<u8>, Vec<u8>>,
}

impl Initials {
    /// Reads the client Initial packets of one datagram; returns the
    /// server name when a ClientHello becomes whole.
    pub fn datagram(&mut self, mut d: &[u8]) -> Option<String> {
        // Coalesced packets: each long-header packet carries its length.
        while let Some(&first) = d.first() {
            if first & 0x80 == 0 {
                return None;
            }
            let (name, used) = self.packet(d)?;
            if name.is_some() {
                return name;
            }
            d = d.get(used..)?;
        }
        None
    }

    /// One long-header packet: its server name if it completes a
    /// ClientHello, and its length.
    fn packet(&mut self, p: &[u8]) -> Option<(Option<String>, usize)> {
        let h = long_header(p)?;
        if h.version != VERSION_1 || !h.initial {
            return Some((None, h.end));
        }
        let plain = open_initial(p.get(..h.end)?, h.dcid, h.pn_offset)?;
        let crypto = crypto_frames(&plain)?;
        Some((self.hello(h.dcid, crypto), h.end))
    }

    /// Adds CRYPTO bytes at their offsets; the server name once the
    /// ClientHello is whole.
    fn hello(&mut self, dcid: &[u8], frames: Vec<(usize, &[u8])>) -> Option<String> {
        if !self.pending.contains_key(dcid) && self.pending.len() >= MAX_PENDING {
            return None;
        }
        let buf = self.pending.entry(dcid.to_vec()).or_default();
        for (offset, data) in frames {
            let end = offset.checked_add(data.len())?;
            if end > MAX_HELLO {
                continue;
            }
            if buf.len() < end {
                buf.resize(end, 0);
            }
            buf[offset..end].copy_from_slice(data);
        }
        // A handshake header, then the whole ClientHello.
        let (&kind, rest) = buf.split_first()?;
        let len = rest.get(..3).map(|l| (usize::from(l[0]) << 16) | (usize::from(l[1]) << 8) | usize::from(l[2]))?;
        if kind != handshake::CLIENT_HELLO {
            self.pending.remove(dcid);
            return None;
        }
        let body = rest.get(3..3 + len)?;
        let sni = handshake::client_hello(body).and_then(|ch| ch.sni);
        self.pending.remove(dcid);
        sni
    }
}

/// Removes header protection and decrypts a client Initial packet
/// (RFC 9001 5.2-5.4); returns its payload.
fn open_initial(packet: &[u8], dcid: &[u8], pn_offset: usize) -> Option<Vec<u8>> {
    let (initial, _) = hkdf::Hkdf::<sha2::Sha256>::extract(Some(&INITIAL_SALT_V1), dcid);
    let client = hkdf_expand_label(Hash::Sha256, &initial, "client in", &[], 32).ok()?;
    let key = hkdf_expand_label(Hash::Sha256, &client, "quic key", &[], 16).ok()?;
    let iv = hkdf_expand_label(Hash::Sha256, &client, "quic iv", &[], 12).ok()?;
    let hp = hkdf_expand_label(Hash::Sha256, &client, "quic hp", &[], 16).ok()?;
    // The mask: AES-ECB of 16 bytes sampled 4 bytes after the packet
    // number's start.
    let sample: [u8; 16] = packet.get(pn_offset + 4..pn_offset + 20)?.try_into().ok()?;
    let mut mask = sample.into();
    Aes128::new_from_slice(&hp).ok()?.encrypt_block(&mut mask);
    let mut header = packet.get(..pn_offset)?.to_vec();
    header[0] ^= mask[0] & 0x0f;
    let pn_len = usize::from(header[0] & 0x03) + 1;
    let mut pn: u64 = 0;
    for i in 0..pn_len {
        let b = packet.get(pn_offset + i)? ^ mask[1 + i];
        header.push(b);
        pn = (pn << 8) | u64::from(b);
    }
    let body = packet.get(pn_offset + pn_len..)?;
    let split = body.len().checked_sub(TAG)?;
    let (ct, tag) = body.split_at(split);
    let mut nonce = [0u8; 12];
    nonce.copy_from_slice(&iv);
    for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
        *n ^= p;
    }
    let aead = Aes128Gcm::new_from_slice(&key).ok()?;
    let mut plain = ct.to_vec();
    let nonce = Nonce::<Aes128Gcm>::try_from(&nonce[..]).ok()?;
    let tag = Tag::<Aes128Gcm>::try_from(tag).ok()?;
    aead.decrypt_inout_detached(&nonce, &header, plain.as_mut_slice().into(), &tag).ok()?;
    Some(plain)
}

/// The CRYPTO frames of an Initial payload, (offset, data); `None` at a
/// frame an Initial should not carry.
fn crypto_frames(p: &[u8]) -> Option<Vec<(usize, &[u8])>> {
    let mut c = Cur { b: p, at: 0 };
    let mut out = Vec::new();
    while c.at < p.len() {
        match c.varint()? {
            FRAME_PADDING | FRAME_PING => {}
            kind @ (FRAME_ACK | FRAME_ACK_ECN) => {
                let (_largest, _delay, ranges, _first) = (c.varint()?, c.varint()?, c.varint()?, c.varint()?);
                for _ in 0..ranges {
                    c.varint()?;
                    c.varint()?;
                }
                if kind == FRAME_ACK_ECN {
                    for _ in 0..3 {
                        c.varint()?;
                    }
                }
            }
            FRAME_CRYPTO => {
                let offset = c.len()?;
                let len = c.len()?;
                out.push((offset, c.take(len)?));
            }
            _ => break,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9001 Appendix A.2: the client Initial's first bytes, with the
    /// DCID 8394c8f03e515708: its keys and header protection.
    #[test]
    fn rfc9001_initial_keys() {
        let dcid = hex::decode("8394c8f03e515708").unwrap();
        let (initial, _) = hkdf::Hkdf::<sha2::Sha256>::extract(Some(&INITIAL_SALT_V1), &dcid);
        let client = hkdf_expand_label(Hash::Sha256, &initial, "client in", &[], 32).unwrap();
        assert_eq!(hex::encode(&client), "c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea");
        let key = hkdf_expand_label(Hash::Sha256, &client, "quic key", &[], 16).unwrap();
        assert_eq!(hex::encode(key), "1f369613dd76d5467730efcbe3b1a22d");
        let hp = hkdf_expand_label(Hash::Sha256, &client, "quic hp", &[], 16).unwrap();
        assert_eq!(hex::encode(hp), "9f50449e04a0e810283a1e9933adedd2");
    }

    #[test]
    fn garbage_never_panics() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut q = Initials::default();
        for n in 0..2000usize {
            let p: Vec<u8> = (0..n % 300).map(|_| crate::util::xorshift(&mut x) as u8).collect();
            let mut p = p;
            if let Some(b) = p.first_mut() {
                *b |= 0xc0;
            }
            if p.len() > 5 {
                p[1..5].copy_from_slice(&[0, 0, 0, 1]);
            }
            let _ = q.datagram(&p);
        }
        assert!(q.pending.len() <= MAX_PENDING);
    }
}
