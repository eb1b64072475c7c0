//! http2: HTTP/2 requests inside TLS (ALPN h2) and in clear (issue 10).
//! So far only its HPACK decoder ([`hpack`]): one per direction, fed the
//! header blocks of HEADERS and CONTINUATION frames. The frame reader and
//! the dissector that hands requests to extraction come next; until then
//! decrypted HTTP/2 is counted (`http2_bytes`), not parsed.

pub mod hpack;
