//! Runs the HTTP conversation files of this folder (see README.md): every
//! file in every chunking must give the same requests and findings.

use std::path::Path;

use serde_json::Value;
use teleaudit::codec::text::url_decode;
use teleaudit::detect::rules::RuleSet;
use teleaudit::detect::{Engine, RequestCtx};
use teleaudit::extract;
use teleaudit::flow::Chunk;
use teleaudit::http::{HttpLimits, HttpRequest, RequestStream};
use teleaudit::util::Timestamp;

/// The bytes a conversation file stands for: LF line ends become CRLF,
/// `\xHH` one byte.
fn wire(text: &str) -> Vec<u8> {
    let crlf = text.replace('\n', "\r\n");
    let b = crlf.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && b.get(i + 1) == Some(&b'x')
            && let Some(v) = b.get(i + 2..i + 4).and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok())
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn parse(bytes: &[u8], piece: usize) -> Vec<HttpRequest> {
    let (src, dst) = ("10.0.0.1:40000".parse().unwrap(), "10.0.0.2:80".parse().unwrap());
    let mut rs = RequestStream::new(HttpLimits::default());
    let mut out = Vec::new();
    for (i, p) in bytes.chunks(piece).enumerate() {
        rs.feed(src, dst, Chunk { data: p, frame: i as u64 + 1, ts: Timestamp::default() }, &mut out);
    }
    rs.close(src, dst, &mut out);
    out
}

fn outcome(reqs: &[HttpRequest], engine: &Engine) -> (Vec<Value>, Vec<Value>) {
    let mut requests = Vec::new();
    let mut findings = Vec::new();
    for r in reqs {
        requests.push(serde_json::json!({
            "method": r.head.method,
            "uri": r.uri(),
            "body": String::from_utf8_lossy(&r.body),
        }));
        let fields = extract::request_fields(r);
        let target = r.uri();
        let path = url_decode(target.split('?').next().unwrap_or("").as_bytes()).0;
        let host = r.host();
        let ctx = RequestCtx {
            dst: None,
            method: &r.head.method,
            host: host.as_deref(),
            path: &path,
            dst_port: 80,
            app: None,
        };
        let all = engine.detect(&ctx, &fields.fields);
        // The scanner copies only fields the engine might match: that must
        // lose nothing.
        let kept = extract::request_fields_where(r, &|n, v| engine.might_match(n, v));
        assert_eq!(engine.detect(&ctx, &kept.fields), all, "{}", r.uri());
        for f in all {
            findings.push(serde_json::json!({
                "rule": engine.rules.rules[f.rule].id,
                "kind": f.kind,
                "field": f.field,
                "encoding": f.encoding,
            }));
        }
    }
    (requests, findings)
}

pub fn check(dir: &Path) {
    let engine = Engine::new(RuleSet::builtin().unwrap(), None);
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    let mut checked = 0;
    for http in files.iter().filter(|p| p.extension().is_some_and(|x| x == "http")) {
        let bytes = wire(&std::fs::read_to_string(http).unwrap());
        let want: Value = serde_json::from_str(&std::fs::read_to_string(http.with_extension("json")).unwrap()).unwrap();
        let (reqs, finds) = outcome(&parse(&bytes, bytes.len()), &engine);
        let name = http.file_name().unwrap().to_string_lossy();
        // Requests: a null body in the expectation means "not compared".
        let want_reqs = want["requests"].as_array().unwrap();
        assert_eq!(reqs.len(), want_reqs.len(), "{name}: {reqs:?}");
        for (got, w) in reqs.iter().zip(want_reqs) {
            assert_eq!(got["method"], w["method"], "{name}");
            assert_eq!(got["uri"], w["uri"], "{name}");
            if !w["body"].is_null() {
                assert_eq!(got["body"], w["body"], "{name}");
            }
        }
        assert_eq!(Value::Array(finds.clone()), want["findings"], "{name}");
        for piece in (1..=64).chain([bytes.len() / 2, bytes.len() - 1]) {
            let again = outcome(&parse(&bytes, piece.max(1)), &engine);
            assert_eq!(again, (reqs.clone(), finds.clone()), "{name} in pieces of {piece}");
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} conversation files");
}
