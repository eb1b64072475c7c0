//! TLS decryption against tshark on the TLS captures of corpus-extra:
//! with each capture's key log (or, for `derived/*.pcapng`, the keys
//! embedded in it) `teleaudit requests` must rebuild the HTTP/1.x
//! requests tshark 4.0.17 decrypts (method, host, URI, frame), and count
//! the decrypted application bytes tshark counts per direction; with no
//! key at all it must rebuild none and count every TLS connection as not
//! inspected. The expectation is `expected.tsv` beside this file: rows
//! of a table made with tshark, copied unchanged, its commands in the
//! header.
//!
//! The corpus path is `TELEAUDIT_CORPUS_EXTRA`, by default
//! `<repo>/../shared/corpus-extra`; the tests are skipped, saying so,
//! when it is absent, unless CI is set.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use super::{bin, jsonl, of_type, root};

/// One HTTP/1.x request: frame, method, host, URI.
type Request = (u64, String, String, String);

/// What tshark saw in one capture.
#[derive(Default, Debug)]
struct Expected {
    /// The key log, relative to corpus-extra; `None` when the keys are
    /// embedded (Decryption Secrets Blocks).
    keylog: Option<String>,
    tls_connections: u64,
    requests: Vec<Request>,
    client_bytes: u64,
    server_bytes: u64,
}

/// `key=value` pairs of the `extra` column; a value ends at a space.
fn extra(s: &str) -> BTreeMap<&str, &str> {
    s.split(' ').filter_map(|kv| kv.split_once('=')).collect()
}

fn number(kv: &BTreeMap<&str, &str>, key: &str, line: usize) -> u64 {
    kv.get(key).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("expected.tsv:{line}: no number {key}"))
}

/// tshark logs the Host header as sent; teleaudit reports the host
/// without its port (as for cleartext requests).
fn host_without_port(h: &str) -> &str {
    match h.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => h,
    }
}

fn expected() -> BTreeMap<String, Expected> {
    let path = root().join("tests/tls_corpus/expected.tsv");
    let text = std::fs::read_to_string(&path).expect("tests/tls_corpus/expected.tsv");
    let mut by_capture: BTreeMap<String, Expected> = BTreeMap::new();
    for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.starts_with('#') && !l.starts_with("capture\t")) {
        let n = i + 1;
        let c: Vec<&str> = line.split('\t').collect();
        assert_eq!(c.len(), 9, "expected.tsv:{n}: 9 columns");
        let e = by_capture.entry(c[0].to_string()).or_default();
        let kv = extra(c[8]);
        match c[1] {
            "http1" | "http2" => e.requests.push((
                c[2].parse().unwrap_or_else(|_| panic!("expected.tsv:{n}: frame")),
                c[5].to_string(),
                host_without_port(c[6]).to_string(),
                c[7].to_string(),
            )),
            "appdata" => {
                e.client_bytes += number(&kv, "c2s_bytes", n);
                e.server_bytes += number(&kv, "s2c_bytes", n);
            }
            "summary" => {
                e.tls_connections = number(&kv, "tls_connections", n);
                let keylog = kv.get("keylog").unwrap_or_else(|| panic!("expected.tsv:{n}: no keylog"));
                // `keylog=(embedded DSB)`: the keys are in the capture.
                e.keylog = (!keylog.starts_with('(')).then(|| keylog.to_string());
                assert_eq!(
                    (number(&kv, "http1_requests", n) + number(&kv, "http2_client_headers", n)) as usize,
                    e.requests.len(),
                    "expected.tsv:{n}: summary after its requests"
                );
            }
            other => panic!("expected.tsv:{n}: unexpected kind {other}"),
        }
    }
    assert!(by_capture.len() >= 19, "{} captures", by_capture.len());
    by_capture
}

/// Runs `teleaudit requests --format jsonl` with no key log from the
/// environment; returns the requests, sorted, and the capture record.
fn requests(args: &[&str], capture: &Path) -> (Vec<Request>, Value) {
    let out = bin()
        .args(["requests", "--format", "jsonl"])
        .args(args)
        .arg(capture)
        .env_remove("SSLKEYLOGFILE")
        .output()
        .expect("run teleaudit");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{}: {err}", capture.display());
    let lines = jsonl(&out);
    let mut got: Vec<Request> = of_type(&lines, "request")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (r["frame"].as_u64().unwrap_or(0), s("method"), s("host"), s("uri"))
        })
        .collect();
    got.sort();
    let cap = of_type(&lines, "capture").first().map(|v| (*v).clone()).expect("a capture record");
    (got, cap)
}

/// With its key log (or embedded keys): tshark's requests, frames and
/// decrypted byte counts.
#[test]
fn tls_corpus_requests_and_bytes_agree_with_tshark() {
    let Some(dir) = super::support::corpus_extra() else { return };
    for (name, mut want) in expected() {
        let capture = dir.join(&name);
        let keylog = want.keylog.as_ref().map(|k| dir.join(k));
        let args: Vec<&str> = match &keylog {
            Some(k) => vec!["--keylog", k.to_str().unwrap()],
            None => vec![],
        };
        let (got, cap) = requests(&args, &capture);
        want.requests.sort();
        assert_eq!(got, want.requests, "{name}: requests (frame, method, host, uri)");
        let tls = &cap["tls"];
        assert_eq!(tls["client_bytes"], want.client_bytes, "{name}: decrypted client bytes: {tls}");
        assert_eq!(tls["server_bytes"], want.server_bytes, "{name}: decrypted server bytes: {tls}");
        assert_eq!(tls["connections"], want.tls_connections, "{name}: TLS connections: {tls}");
    }
}

/// With no key (none named, none beside, SSLKEYLOGFILE unset): no
/// request, and every TLS connection counted as not inspected. The
/// derived captures carry their keys and are left out.
#[test]
fn tls_corpus_without_keys_opens_nothing() {
    let Some(dir) = super::support::corpus_extra() else { return };
    let mut checked = 0;
    for (name, want) in expected().into_iter().filter(|(_, e)| e.keylog.is_some()) {
        let (got, cap) = requests(&["--no-keylog-beside"], &dir.join(&name));
        assert!(got.is_empty(), "{name}: {got:?}");
        assert_eq!(cap["not_inspected"]["tls_connections"], want.tls_connections, "{name}: {cap}");
        assert_eq!(cap["tls"]["client_bytes"], 0, "{name}");
        checked += 1;
    }
    assert!(checked >= 17, "{checked} captures with a key log");
}

/// QUIC is counted, not decrypted: tshark 4.0.17 shows 59 QUIC packets
/// (in 57 datagrams, two holding two coalesced packets) and 31,245 bytes
/// of UDP payload in hotplace/quic-http3/http3.pcapng; the text report
/// says QUIC is not decrypted, and names its server.
#[test]
fn quic_is_counted_as_not_inspected() {
    let Some(dir) = super::support::corpus_extra() else { return };
    let capture = dir.join("hotplace/quic-http3/http3.pcapng");
    let out = bin().args(["scan", "--format", "jsonl", "--no-keylog-beside"]).arg(&capture).output().expect("run");
    let lines = jsonl(&out);
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["not_inspected"]["quic_packets"], 59, "{cap}");
    assert_eq!(cap["not_inspected"]["quic_bytes"], 31_245, "{cap}");
    // The server name of the client's Initial ClientHello, decrypted from
    // its connection id (tshark: frame 1, SNI www.google.com).
    assert_eq!(cap["quic_server_names"], serde_json::json!(["www.google.com"]), "{cap}");
    let out = bin().args(["scan", "--no-keylog-beside"]).arg(&capture).output().expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("59 QUIC packets") && text.contains("QUIC is not decrypted yet"), "{text}");
}
