//! Hostile HTTP (issue 11, "nothing lost in silence"): malformed body
//! lengths, Transfer-Encoding shapes, a multipart body past the part
//! limit, and the text-stream reproducer of the `packets` fuzz target.

mod support;

use std::path::PathBuf;

use support::hostile_http as hh;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Writes `bytes` to `rel` when `TELEAUDIT_WRITE_SEEDS` is set; else the
/// file kept in the repository must be what the generator makes.
fn kept_file(rel: &str, bytes: &[u8]) {
    let path = root().join(rel);
    if std::env::var_os("TELEAUDIT_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, bytes).unwrap();
    }
    let kept = std::fs::read(&path).unwrap_or_else(|e| panic!("{rel}: {e} (TELEAUDIT_WRITE_SEEDS=1 writes it)"));
    assert!(kept == bytes, "{rel} differs from its generator (TELEAUDIT_WRITE_SEEDS=1 rewrites it)");
}

/// The reproducer of the text-stream overflow is kept where
/// `fuzz_reproducers_stay_fixed` replays it, and replays cleanly.
#[test]
fn text_stream_gap_reproducer_is_kept_and_replays() {
    let input = hh::text_stream_snaplen_gaps();
    kept_file("tests/fuzz-regressions/packets/text-stream-snaplen-gaps", &input);
    teleaudit::harness::packets(&input);
}

use serde_json::Value;
use std::process::Command;
use support::Link;

/// Runs the binary; its JSON Lines records.
fn run(args: &[&str]) -> Vec<Value> {
    let out = Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit");
    assert!(out.status.code().is_some_and(|c| c <= 1), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .expect("UTF-8 output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|l| l["type"] == t).collect()
}

/// Writes a capture of `net` to a fresh file.
fn capture(name: &str, net: &support::Net) -> String {
    let dir = std::env::temp_dir().join(format!("teleaudit-hostile-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, support::pcap(net, Link::Ethernet, false, false)).unwrap();
    p.to_str().unwrap().to_string()
}

fn request<'a>(reqs: &[&'a Value], uri: &str) -> &'a Value {
    reqs.iter().find(|r| r["uri"] == uri).unwrap_or_else(|| panic!("no request {uri}: {reqs:?}"))
}

fn notes(r: &Value) -> Vec<String> {
    r["notes"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_string()).collect()
}

/// Every malformed Content-Length, with the next request glued to the
/// body or after a line end, in 9-byte segments: the request is noted
/// with the value (escaped, bounded), its body is read and its IMEI
/// found, and the request after it on the connection is still read.
#[test]
fn malformed_lengths_are_noted_and_their_bodies_scanned() {
    let p = capture("bad-lengths.pcap", &hh::bad_lengths_capture(9));
    let lines = run(&["requests", "--format", "jsonl", &p]);
    let reqs = of_type(&lines, "request");
    let cases = 2 * hh::BAD_LENGTHS.len();
    assert_eq!(reqs.len(), 2 * cases, "{reqs:?}");
    for case in 0..cases {
        let (value, crlf) = (hh::BAD_LENGTHS[case % hh::BAD_LENGTHS.len()], case >= hh::BAD_LENGTHS.len());
        let r = request(&reqs, &format!("/upload?case={case}"));
        let want = format!("Content-Length {} is not a valid length", teleaudit::http::body::shown(value.as_bytes()));
        assert!(notes(r).iter().any(|n| n.starts_with(&want)), "case {case}: {:?}", notes(r));
        assert_eq!(r["body_bytes"], hh::form_body().len() + if crlf { 2 } else { 0 }, "case {case}");
        let after = request(&reqs, &format!("/after?case={case}"));
        assert!(notes(after).is_empty(), "case {case}: {:?}", notes(after));
    }
    assert!(lines.iter().all(|l| !l.to_string().contains('\u{1b}')), "a raw control byte in a note");
    let lines = run(&["scan", "--format", "jsonl", &p]);
    let found = of_type(&lines, "finding");
    for case in 0..cases {
        let uri = format!("/upload?case={case}");
        assert!(
            found.iter().any(|f| f["kind"] == "imei" && f["uri"] == uri.as_str() && f["location"] == "body"),
            "case {case}: {found:?}"
        );
    }
}

/// Transfer-Encoding with Content-Length (chunked wins), codings that do
/// not end in chunked (length unknown), an unknown coding: each noted,
/// the IMEI found, the next request read.
#[test]
fn transfer_encoding_shapes_are_noted_and_scanned() {
    let wants = [
        "both Transfer-Encoding: chunked and Content-Length; chunked is used",
        "both Transfer-Encoding: chunked and Content-Length; chunked is used",
        "Transfer-Encoding \"gzip\" does not end in chunked",
        "transfer coding \"x-custom\" not decoded",
        "Transfer-Encoding \"chunked, gzip\" does not end in chunked",
    ];
    for (i, ((what, wire), want)) in hh::transfer_encoding_requests().into_iter().zip(wants).enumerate() {
        let mut net = support::Net::default();
        let mut c = net.connect(support::ts(1_700_000_000, 0), "10.1.0.6:40000", "192.0.2.80:80", 77, 99);
        net.send(support::ts(1_700_000_000, 100_000), &mut c, &wire, 11);
        net.close(support::ts(1_700_000_001, 0), &mut c);
        let p = capture(&format!("te-{i}.pcap"), &net);
        let lines = run(&["requests", "--format", "jsonl", &p]);
        let reqs = of_type(&lines, "request");
        let uris: Vec<&Value> = reqs.iter().map(|r| &r["uri"]).collect();
        assert_eq!(uris, ["/te", "/after?case=0"], "{what}");
        assert!(notes(reqs[0]).iter().any(|n| n.starts_with(want)), "{what}: {:?}", notes(reqs[0]));
        let found = of_type(&run(&["scan", "--format", "jsonl", &p]), "finding")
            .iter()
            .any(|f| f["kind"] == "imei" && f["uri"] == "/te");
        assert!(found, "{what}");
    }
}

/// A multipart body with more parts than the part limit: the limit is
/// noted on the request, and the IMEI in a part past it is still found.
#[test]
fn multipart_past_the_part_limit_is_noted() {
    let parts = teleaudit::extract::multipart::MAX_PARTS + 44;
    let mut net = support::Net::default();
    net.http(
        support::ts(1_700_000_000, 0),
        "10.1.0.7:40000",
        "192.0.2.80:80",
        &hh::many_parts_request(parts),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        5,
    );
    let p = capture("many-parts.pcap", &net);
    let lines = run(&["scan", "--format", "jsonl", &p]);
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["requests_with_notes"], 1, "{cap}");
    let msgs = cap["notes"].to_string();
    assert!(msgs.contains("more than 256 parts in a multipart body; the rest inspected as plain text"), "{msgs}");
    assert!(of_type(&lines, "finding").iter().any(|f| f["kind"] == "imei" && f["uri"] == "/parts"));
}

/// The HTTP request bytes of a few cases are `http` fuzz seeds (first
/// byte: piece size); they are kept in fuzz/corpus/http and replay
/// through the harness.
#[test]
fn http_fuzz_seeds_are_kept_and_replay() {
    let seed = |piece: u8, wire: &[u8]| [&[piece][..], wire].concat();
    let te = hh::transfer_encoding_requests();
    let seeds = [
        ("bad-length-plus", seed(7, &hh::bad_length_request(0, "+12", false))),
        ("bad-length-2pow64", seed(13, &hh::bad_length_request(1, "18446744073709551616", true))),
        ("bad-length-list", seed(3, &hh::bad_length_request(2, "12, 13", false))),
        ("bad-length-control", seed(40, &hh::bad_length_request(3, "1\x1b[2J2", false))),
        ("te-not-chunked", seed(5, &te[4].1)),
        ("multipart-many-parts", seed(63, &hh::many_parts_request(300))),
    ];
    for (name, bytes) in seeds {
        kept_file(&format!("fuzz/corpus/http/{name}"), &bytes);
        teleaudit::harness::http(&bytes);
    }
}
