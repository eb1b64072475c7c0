//! `-j N` on one capture: its connections are shared among N workers,
//! and the output is the same for every N (DESIGN: order of outputs).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::support::{self, Link, Net, ts};
use super::{jsonl, root, run, tmpdir, walk, write};

/// The lines of a run without what measures the run itself (time, memory).
fn comparable(out: &std::process::Output) -> Vec<Value> {
    let mut lines = jsonl(out);
    for l in &mut lines {
        if let Some(o) = l.as_object_mut() {
            o.remove("elapsed_seconds");
            o.remove("peak_memory_bytes");
        }
    }
    lines
}

/// Scans `path` with each number of workers (and `extra` arguments);
/// every run must give the same lines and exit code as the first.
fn same_for_any_workers(path: &Path, workers: &[usize], extra: &[&str]) -> Vec<Value> {
    let p = path.to_str().unwrap();
    let mut first: Option<(Option<i32>, Vec<Value>)> = None;
    for n in workers {
        let n = n.to_string();
        let mut args = vec!["scan", "--format", "jsonl", "--show-values", "-j", &n];
        args.extend_from_slice(extra);
        args.push(p);
        let out = run(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{}: {err}", path.display());
        let got = (out.status.code(), comparable(&out));
        match &first {
            None => first = Some(got),
            Some(want) => {
                assert_eq!(want.0, got.0, "{}: exit code with -j {n}", path.display());
                assert_eq!(want.1.len(), got.1.len(), "{}: lines with -j {n}", path.display());
                for (a, b) in want.1.iter().zip(&got.1) {
                    assert_eq!(a, b, "{}: -j {n} differs from -j {}", path.display(), workers[0]);
                }
            }
        }
    }
    first.map(|f| f.1).unwrap_or_default()
}

/// Every capture of the corpora and the fixtures (TLS with key logs
/// beside or embedded, HTTP/2, SIP in GTP-U, SMS, PCAPdroid exports):
/// one worker or three, the same lines.
#[test]
fn every_corpus_capture_reads_the_same_with_any_number_of_workers() {
    let mut files: Vec<PathBuf> = Vec::new();
    if let Some(dir) = super::conformance::corpus_dir() {
        files.extend(walk(&dir));
    }
    if let Some(dir) = support::corpus_extra() {
        files.extend(walk(&dir));
    }
    files.extend(walk(&root().join("fixtures")));
    let mut findings = 0;
    for f in &files {
        let lines = same_for_any_workers(f, &[1, 3], &[]);
        findings += lines.iter().filter(|l| l["type"] == "finding").count();
    }
    // The fixtures alone hold dozens: the comparison saw findings.
    assert!(findings > 20, "{findings} findings in {} captures", files.len());
}

const IMEI: &str = "356938035643809";

/// 240 uploads on 240 connections to 12 servers, interleaved; half of
/// them stop in the middle of their body and stay open, so the sweep for
/// idle connections (after 65,536 segments, here those of a long
/// download) closes them together and reports what they sent; the
/// servers are named by DNS only (HTTP/1.0 without Host). With 1, 2 or
/// 5 workers: the same lines, in frame order of the frame that completed
/// each, and the sweep's in the order the connections opened.
#[test]
fn swept_and_interleaved_connections_read_the_same_with_any_number_of_workers() {
    let mut net = Net::default();
    for s in 0..12u8 {
        net.dns(
            ts(100, u32::from(s) * 1000),
            "10.0.0.2:5353",
            "10.0.0.1:53",
            &format!("api{s}.example"),
            [198, 51, 100, s],
        );
    }
    let mut open = Vec::new();
    for i in 0..240u32 {
        let server = format!("198.51.100.{}:80", i % 12);
        let client = format!("10.0.0.2:{}", 20000 + i);
        let t = ts(101 + i64::from(i / 40), (i % 40) * 20_000);
        let mut c = net.connect(t, &client, &server, 1000 + i * 7919, 5000 + i * 104_729);
        let body = format!("imei={IMEI}&n={i}&mac=a4:5e:60:12:{:02x}:{:02x}", i / 256, i % 256);
        if i % 2 == 0 {
            let req = format!(
                "POST /up HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            net.send(ts(160, i * 1000), &mut c, req.as_bytes(), 64);
            net.close(ts(161, i * 1000), &mut c);
        } else {
            // Announced longer than sent: complete only when the
            // connection ends.
            let req = format!(
                "POST /up HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                body.len() + 500
            );
            net.send(ts(160, i * 1000), &mut c, req.as_bytes(), 64);
            open.push(c);
        }
    }
    // A long download, 70,000 segments over a minute: the sweep comes in
    // its middle, when the open uploads have been idle for 30 s.
    let mut d = net.connect(ts(170, 0), "10.0.0.2:40000", "203.0.113.9:80", 77, 99);
    net.send(ts(170, 100_000), &mut d, b"GET /big HTTP/1.1\r\nHost: cdn.example\r\n\r\n", 1400);
    let mut seq_ts = 171_000_000u64;
    for _ in 0..35_000 {
        net.reply(ts((seq_ts / 1_000_000) as i64, (seq_ts % 1_000_000) as u32), &mut d, &[b'x'; 200], 200);
        seq_ts += 1_700;
    }
    let dir = tmpdir("sharded-sweep");
    let path = write(&dir, "sweep.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let lines = same_for_any_workers(&path, &[1, 2, 5], &["--idle-timeout", "20"]);
    let cap = lines.iter().find(|l| l["type"] == "capture").expect("capture record");
    assert_eq!(cap["flows_evicted"], 120, "{cap}");
    let imeis: Vec<&Value> = lines.iter().filter(|l| l["type"] == "finding" && l["kind"] == "imei").collect();
    assert_eq!(imeis.len(), 240);
    // Named by DNS, every one.
    assert!(imeis.iter().all(|f| f["host"].as_str().is_some_and(|h| h.starts_with("api"))), "{imeis:?}");
    // The complete ones first (their frames in order), then the swept
    // ones in the order their connections opened.
    let frames: Vec<u64> = imeis.iter().map(|f| f["frame"].as_u64().unwrap()).collect();
    assert!(frames[..120].windows(2).all(|w| w[0] < w[1]), "{frames:?}");
    assert!(frames[120..].windows(2).all(|w| w[0] < w[1]), "{frames:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
