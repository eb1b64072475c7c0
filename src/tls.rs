//! tls: the server name (SNI) of a TLS ClientHello, so a researcher sees
//! where encrypted uploads went even though their content is not
//! inspected. Parses the first record only; never trusts a length.

const RECORD_HANDSHAKE: u8 = 0x16;
const HANDSHAKE_CLIENT_HELLO: u8 = 1;
const EXT_SERVER_NAME: u16 = 0;
const NAME_TYPE_HOST: u8 = 0;

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

/// The host name a ClientHello asks for, if `b` starts with one.
pub fn client_hello_sni(b: &[u8]) -> Option<String> {
    if *b.first()? != RECORD_HANDSHAKE || *b.get(5)? != HANDSHAKE_CLIENT_HELLO {
        return None;
    }
    // Record header 5, handshake header 4, version 2, random 32.
    let mut at = 5 + 4 + 2 + 32;
    at += 1 + usize::from(*b.get(at)?); // session id
    at += 2 + be16(b, at)?; // cipher suites
    at += 1 + usize::from(*b.get(at)?); // compression methods
    let ext_end = at + 2 + be16(b, at)?;
    at += 2;
    while at + 4 <= ext_end.min(b.len()) {
        let kind = be16(b, at)? as u16;
        let len = be16(b, at + 2)?;
        let body = b.get(at + 4..at + 4 + len)?;
        if kind == EXT_SERVER_NAME {
            // server_name_list: length, then (type, length, name)...
            let name_type = *body.get(2)?;
            let name_len = be16(body, 3)?;
            let name = body.get(5..5 + name_len)?;
            return (name_type == NAME_TYPE_HOST && name.iter().all(|c| c.is_ascii_graphic()))
                .then(|| String::from_utf8_lossy(name).to_ascii_lowercase());
        }
        at += 4 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello with one extension, server_name example.org.
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
        for cut in 0..h.len() {
            assert_eq!(client_hello_sni(&h[..cut]), None, "cut at {cut}");
        }
        assert_eq!(client_hello_sni(b"GET / HTTP/1.1"), None);
    }
}
