//! HTTP/2 requests rebuilt from frames written here (a tiny HPACK encoder
//! of literal fields and static indices), fed in every cut.

use super::*;
use crate::app::tls::keys::KeyStore;
use crate::app::{AppLayer, Cx};
use crate::flow::Chunk;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = vec![(n >> 16) as u8, (n >> 8) as u8, n as u8, kind, flags];
    f.extend_from_slice(&stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A literal field without indexing, new name (RFC 7541 6.2.2).
fn literal(name: &str, value: &str) -> Vec<u8> {
    let mut b = vec![0x00, name.len() as u8];
    b.extend_from_slice(name.as_bytes());
    b.push(value.len() as u8);
    b.extend_from_slice(value.as_bytes());
    b
}

/// The client side: a POST whose head spans HEADERS and CONTINUATION
/// (PADDED and PRIORITY set), whose body comes in two DATA frames (one
/// padded), and a GET on another stream that ends with its HEADERS.
fn client() -> Vec<u8> {
    let mut c = PREFACE.to_vec();
    c.extend(frame(SETTINGS, 0, 0, &[0, 1, 0, 0, 0x10, 0]));
    // :method POST (static 3), :scheme https (static 7), then literals.
    let mut block = vec![0x83, 0x87];
    block.extend(literal(":path", "/v1/report?imei=356938035643809"));
    block.extend(literal(":authority", "api.example.net"));
    block.extend(literal("content-type", "application/x-www-form-urlencoded"));
    let (first, rest) = block.split_at(20);
    let mut p = vec![3]; // pad length
    p.extend_from_slice(&[0, 0, 0, 0, 16]); // priority
    p.extend_from_slice(first);
    p.extend_from_slice(&[0; 3]);
    c.extend(frame(HEADERS, PADDED | PRIORITY, 1, &p));
    c.extend(frame(CONTINUATION, END_HEADERS, 1, rest));
    c.extend(frame(DATA, 0, 1, b"mac=a4:5e:60"));
    let mut d = vec![2];
    d.extend_from_slice(b":12:34:56&x=1");
    d.extend_from_slice(&[0, 0]);
    c.extend(frame(DATA, PADDED | END_STREAM, 1, &d));
    let mut get = vec![0x82, 0x87];
    get.extend(literal(":path", "/second"));
    get.extend(literal(":authority", "api.example.net"));
    c.extend(frame(HEADERS, END_HEADERS | END_STREAM, 3, &get));
    c
}

fn run(data: &[u8], cut: usize) -> AppLayer {
    let mut app = AppLayer::new(AppConfig::default(), KeyStore::new(Default::default()));
    let mut d = Http2::new(&app.cfg);
    let (src, dst) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
    for (i, piece) in [&data[..cut], &data[cut..]].into_iter().enumerate() {
        let chunk = Chunk { data: piece, frame: i as u64 + 1, ts: Timestamp::default() };
        let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
        d.data(&mut cx, Seg { role: Role::Client, src, dst, midstream: false, chunk });
    }
    let mut cx = Cx { out: &mut app.out, cfg: &app.cfg, keys: &mut app.keys };
    d.close(&mut cx, [0, 0], true);
    app
}

#[test]
fn requests_rebuilt_in_every_cut() {
    let c = client();
    for cut in 0..=c.len() {
        let app = run(&c, cut);
        let r = &app.out.requests;
        assert_eq!(r.len(), 2, "cut {cut}");
        assert_eq!((r[0].head.method.as_str(), r[0].uri().as_str()), ("POST", "/v1/report?imei=356938035643809"));
        assert_eq!(r[0].host().as_deref(), Some("api.example.net"));
        assert_eq!(r[0].body, b"mac=a4:5e:60:12:34:56&x=1", "cut {cut}");
        assert_eq!((r[0].stream_id, r[0].protocol()), (Some(1), "http/2"));
        assert_eq!(r[0].content_type().as_deref(), Some("application/x-www-form-urlencoded"));
        assert_eq!((r[1].uri().as_str(), r[1].stream_id), ("/second", Some(3)));
        assert!(r.iter().all(|r| r.notes.is_empty()), "cut {cut}: {:?}", r[0].notes);
    }
}

#[test]
fn a_broken_header_block_emits_what_was_open_with_a_note() {
    let c = client();
    // After the POST's head (its CONTINUATION frame), before its body: a
    // HEADERS frame whose block indexes past both tables.
    let data_at = c.windows(12).position(|w| w == b"mac=a4:5e:60").unwrap() - FRAME_HEADER;
    let mut broken = c[..data_at].to_vec();
    broken.extend(frame(HEADERS, END_HEADERS, 5, &[0xff, 0x7f]));
    broken.extend_from_slice(&c[data_at..]);
    let app = run(&broken, broken.len());
    let r = &app.out.requests;
    assert_eq!(r.len(), 1, "the open POST, and nothing after: {r:?}");
    assert_eq!(r[0].uri(), "/v1/report?imei=356938035643809");
    assert!(r[0].notes.iter().any(|n| n.contains("HPACK state lost")), "{:?}", r[0].notes);
    assert!(app.out.stats.http2_bytes > 0, "what follows is counted");
}

#[test]
fn the_preface_is_probed_by_content() {
    let seg = |d: &'static [u8]| Seg {
        role: Role::Client,
        src: "10.0.0.1:1".parse().unwrap(),
        dst: "10.0.0.2:8080".parse().unwrap(),
        midstream: false,
        chunk: Chunk { data: d, frame: 1, ts: Timestamp::default() },
    };
    assert_eq!(probe(&seg(PREFACE)), Probe::Yes);
    assert_eq!(probe(&seg(b"PRI * HT")), Probe::NeedMore);
    assert_eq!(probe(&seg(b"POST / HTTP/1.1\r\n\r\n")), Probe::No);
}

#[test]
fn cookies_are_joined_and_a_lost_table_reference_is_a_note() {
    let mut c = PREFACE.to_vec();
    let mut block = vec![0x82, 0x87];
    block.extend(literal(":path", "/c"));
    block.extend(literal("cookie", "a=1"));
    block.extend(literal("cookie", "imei=356938035643809"));
    c.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    // A block that names a dynamic-table entry never sent (as a capture
    // picked up mid-connection would): the fields before it are kept.
    let mut lost = vec![0x82];
    lost.extend(literal(":path", "/lost"));
    lost.push(0xbe); // index 62: the first dynamic entry, never inserted
    c.extend(frame(HEADERS, END_HEADERS | END_STREAM, 3, &lost));
    let app = run(&c, c.len());
    let r = &app.out.requests;
    assert_eq!(r.len(), 2, "{r:?}");
    assert_eq!(r[0].header("cookie"), Some(&b"a=1; imei=356938035643809"[..]));
    assert_eq!((r[1].head.method.as_str(), r[1].uri().as_str()), ("GET", "/lost"));
    assert!(r[1].notes.iter().any(|n| n.contains("HPACK state lost")), "{:?}", r[1].notes);
    let h = &app.out.stats.http2;
    assert_eq!((h.connections, h.streams, h.bad_blocks), (1, 1, 1));
}

/// A header sent once with incremental indexing and then only as a
/// dynamic-table reference (as clients do for repeated identifiers): the
/// second request carries it too, in every cut.
#[test]
fn dynamic_table_references_across_requests() {
    let indexed = |name: &str, value: &str| {
        let mut b = vec![0x40, name.len() as u8];
        b.extend_from_slice(name.as_bytes());
        b.push(value.len() as u8);
        b.extend_from_slice(value.as_bytes());
        b
    };
    let mut c = PREFACE.to_vec();
    let mut first = vec![0x82, 0x87];
    first.extend(literal(":path", "/one"));
    first.extend(indexed("x-device-id", "356938035643809"));
    c.extend(frame(HEADERS, END_HEADERS | END_STREAM, 1, &first));
    // Index 62: the newest dynamic entry, x-device-id.
    let mut second = vec![0x82, 0x87];
    second.extend(literal(":path", "/two"));
    second.push(0xbe);
    c.extend(frame(HEADERS, END_HEADERS | END_STREAM, 3, &second));
    for cut in 0..=c.len() {
        let app = run(&c, cut);
        let r = &app.out.requests;
        assert_eq!(r.len(), 2, "cut {cut}");
        for q in r {
            assert_eq!(q.header("x-device-id"), Some(&b"356938035643809"[..]), "cut {cut}: {}", q.uri());
        }
    }
}

/// Bodies of streams open at once share the connection's body limit:
/// the second of two 700 KB uploads is cut, and says so.
#[test]
fn open_streams_share_the_body_limit() {
    let mut c = PREFACE.to_vec();
    for stream in [1u32, 3] {
        let mut block = vec![0x83, 0x87];
        block.extend(literal(":path", "/up"));
        c.extend(frame(HEADERS, END_HEADERS, stream, &block));
    }
    let body = vec![b'a'; 700 << 10];
    for stream in [1u32, 3] {
        c.extend(frame(DATA, 0, stream, &body));
    }
    for stream in [1u32, 3] {
        c.extend(frame(DATA, END_STREAM, stream, b""));
    }
    let app = run(&c, c.len());
    let r = &app.out.requests;
    assert_eq!(r.len(), 2);
    let max = AppConfig::default().http.max_body;
    assert_eq!(r[0].body.len(), body.len());
    assert_eq!(r[0].body.len() + r[1].body.len(), max, "together at most one body limit");
    assert!(r[1].notes.iter().any(|n| n.contains("inspection limit")), "{:?}", r[1].notes);
}
