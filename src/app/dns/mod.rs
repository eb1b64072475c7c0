//! dns: names learnt from DNS answers in the capture, so a request sent
//! without a Host header can still be tied to the name the device looked
//! up. Parses the question and A/AAAA answers of DNS responses over UDP
//! (RFC 1035 wire format, name compression followed with a hop limit).
//!
//! Input: a UDP payload. Output: (address, name) pairs into [`Names`].
//! Never: trust a length or pointer without checking it.

mod tcp;

pub use tcp::TCP_PROTO;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Most compression pointers followed in one name.
const MAX_POINTER_HOPS: usize = 16;
/// Most addresses remembered per capture.
pub const MAX_NAMES: usize = 100_000;
const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const HEADER_LEN: usize = 12;

/// Address-to-name table of one capture.
#[derive(Debug, Default)]
pub struct Names {
    map: HashMap<IpAddr, String>,
}

impl Names {
    pub fn get(&self, ip: &IpAddr) -> Option<&str> {
        self.map.get(ip).map(String::as_str)
    }

    /// Reads a DNS response; remembers its question name for each address
    /// answered. Malformed messages are ignored (DNS is only a hint here).
    pub fn learn(&mut self, msg: &[u8]) {
        let Some(h) = msg.get(..HEADER_LEN) else {
            return;
        };
        let is_response = h[2] & 0x80 != 0;
        let qd = u16::from_be_bytes([h[4], h[5]]);
        let an = u16::from_be_bytes([h[6], h[7]]);
        if !is_response || qd == 0 || an == 0 {
            return;
        }
        let mut pos = HEADER_LEN;
        let mut question = None;
        for _ in 0..qd {
            let Some((name, next)) = read_name(msg, pos) else {
                return;
            };
            question.get_or_insert(name);
            pos = next + 4;
        }
        let Some(question) = question else { return };
        for _ in 0..an {
            let Some((_, next)) = read_name(msg, pos) else {
                return;
            };
            let Some(rr) = msg.get(next..next + 10) else {
                return;
            };
            let rtype = u16::from_be_bytes([rr[0], rr[1]]);
            let rdlen = usize::from(u16::from_be_bytes([rr[8], rr[9]]));
            let Some(rdata) = msg.get(next + 10..next + 10 + rdlen) else {
                return;
            };
            let ip = match (rtype, rdata.len()) {
                (TYPE_A, 4) => Some(IpAddr::V4(Ipv4Addr::new(rdata[0], rdata[1], rdata[2], rdata[3]))),
                (TYPE_AAAA, 16) => <[u8; 16]>::try_from(rdata).ok().map(|b| IpAddr::V6(Ipv6Addr::from(b))),
                _ => None,
            };
            if let Some(ip) = ip
                && (self.map.len() < MAX_NAMES || self.map.contains_key(&ip))
            {
                self.map.insert(ip, question.clone());
            }
            pos = next + 10 + rdlen;
        }
    }
}

/// The name a DNS query asks for (`None` for responses and malformed
/// messages). Device data is sometimes sent as labels of query names.
pub fn query_name(msg: &[u8]) -> Option<String> {
    let h = msg.get(..HEADER_LEN)?;
    let is_query = h[2] & 0x80 == 0;
    let qd = u16::from_be_bytes([h[4], h[5]]);
    if !is_query || qd == 0 {
        return None;
    }
    read_name(msg, HEADER_LEN).map(|(n, _)| n).filter(|n| !n.is_empty())
}

/// Reads a possibly compressed name at `pos`; returns it (lower case, no
/// trailing dot) and the position after it.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut name = String::new();
    let mut end = None;
    let mut hops = 0;
    loop {
        let len = *msg.get(pos)? as usize;
        match len {
            0 => {
                return Some((name, end.unwrap_or(pos + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let ptr = ((l & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
                end.get_or_insert(pos + 2);
                hops += 1;
                if hops > MAX_POINTER_HOPS {
                    return None;
                }
                pos = ptr;
            }
            l if l < 64 => {
                let label = msg.get(pos + 1..pos + 1 + l)?;
                if !name.is_empty() {
                    name.push('.');
                }
                name.extend(label.iter().map(|b| char::from(b.to_ascii_lowercase())));
                pos += 1 + l;
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for eservice.tinno.com A 203.0.113.10, answer name
    /// compressed to the question (pointer 0xc00c), as resolvers send it.
    pub fn response() -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
        for l in ["eservice", "tinno", "com"] {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        m.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 203, 0, 113, 10]);
        m
    }

    #[test]
    fn learns_a_records() {
        let mut n = Names::default();
        n.learn(&response());
        assert_eq!(n.get(&"203.0.113.10".parse().unwrap()), Some("eservice.tinno.com"));
    }

    #[test]
    fn query_names() {
        let mut q = response();
        q[2] = 0x01; // a query
        assert_eq!(query_name(&q).as_deref(), Some("eservice.tinno.com"));
        assert_eq!(query_name(&response()), None);
    }

    #[test]
    fn pointer_loops_end() {
        let mut m = response();
        // Point the answer's name at itself.
        let at = m.len() - 16;
        m[at + 1] = at as u8;
        let mut n = Names::default();
        n.learn(&m);
        assert_eq!(n.get(&"203.0.113.10".parse().unwrap()), None);
    }
}
