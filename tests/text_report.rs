//! The text report at a glance (issue 16): per capture, its distinct
//! leaks once each with counts and times, grouped by destination; the
//! per-request listing only with `--details`; display filters in every
//! format; masking; a header whose host count is the hosts it lists.
//! Captures are written by `support`, never copied.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{Link, Net, ts, wiko};

const FIXTURE: &str = "fixtures/wiko-sts.pcap";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run teleaudit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-text-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn is_leak_line(l: &str) -> bool {
    ["    HIGH ", "    MEDIUM ", "    LOW "].iter().any(|p| l.starts_with(p))
}

/// The destination headings of the leak table: two-space lines followed
/// by a leak line.
fn destinations(text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .windows(2)
        .filter(|w| w[0].starts_with("  ") && !w[0].starts_with("   ") && is_leak_line(w[1]))
        .map(|w| w[0].trim().split("  ").next().unwrap_or("").to_string())
        .collect()
}

/// `N leaks to H hosts` of the capture's header.
fn header_counts(text: &str) -> (usize, usize) {
    let head = text.lines().find(|l| l.contains(" leaks to ") || l.contains(" leak to ")).expect("header");
    let words: Vec<&str> = head.split_whitespace().collect();
    let at = words.iter().position(|w| w.starts_with("leak")).expect("leaks");
    (words[at - 1].parse().unwrap(), words[at + 3 - 1].parse().unwrap())
}

#[test]
fn fixture_shows_each_distinct_leak_once_with_counts() {
    let out = run(&["scan", FIXTURE]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    // No per-request listing by default.
    assert!(!text.lines().any(|l| l.starts_with("  frame ")), "{text}");
    // The four monthly STS reports to Tinno are one leak; Wiko's own
    // server is another.
    let sts: Vec<&str> = text.lines().filter(|l| is_leak_line(l) && l.contains("TA-EP-TINNO-STS")).collect();
    assert_eq!(sts.len(), 2, "{text}");
    let tinno = sts.iter().find(|l| l.contains("GET /eservice/stsReport")).expect("tinno leak");
    assert!(tinno.contains(" x4 ") && tinno.contains("query:repinfo") && tinno.contains("(values vary)"), "{tinno}");
    assert!(tinno.contains("2017-01-05T09:12:03Z .. 2017-04-05T09:12:03Z"), "{tinno}");
    assert!(!tinno.contains("msgid"), "the path is shown without its query: {tinno}");
    // The STS string sent as an SMS over IMS and over GSM: one leak per
    // identifier, twice.
    let sms: Vec<&str> = text.lines().filter(|l| is_leak_line(l) && l.contains("SMS-SUBMIT")).collect();
    assert_eq!(sms.len(), 5, "{text}");
    assert!(sms.iter().all(|l| l.contains(" x2 ")), "{text}");
    // Every leak line is distinct, and the header counts them and the
    // hosts it lists.
    let leaks: Vec<&str> = text.lines().filter(|l| is_leak_line(l)).collect();
    let mut distinct = leaks.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), leaks.len(), "{text}");
    let hosts = destinations(&text);
    assert_eq!(header_counts(&text), (leaks.len(), hosts.len()), "{text}");
    assert_eq!(hosts[..2], ["36105", "eservice.tinno.com"], "sorted by severity then count: {text}");
    // The header says what was not inspected.
    assert!(text.contains("  not inspected: 1 TLS connection (3.5 KB; handshake only, no data: 1)"), "{text}");
    // Masked everywhere: no IMEI or serial in the default report.
    for secret in [wiko::IMEI1, wiko::IMEI2, wiko::SERIAL, &wiko::repinfo(0x5715)] {
        assert!(!text.contains(secret), "unmasked {secret} in:\n{text}");
    }
    assert!(text.contains("= 35***********09"), "{text}");
}

/// One keep-alive connection that uploads the same IMEI 20 times, a
/// second apart, each request with its own sequence number.
fn keepalive_uploads() -> Vec<u8> {
    let mut n = Net::default();
    let t0 = 1_700_000_000;
    let mut c = n.connect(ts(t0, 0), "10.0.0.5:50000", "198.51.100.9:80", 7, 9);
    for i in 0..20i64 {
        let body = format!("imei={}&battery=80", wiko::IMEI1);
        let req = format!(
            "POST /v2/ping?seq={i} HTTP/1.1\r\nHost: telemetry.example.net\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        n.send(ts(t0 + 1 + i, 0), &mut c, req.as_bytes(), 1400);
        n.reply(ts(t0 + 1 + i, 500_000), &mut c, b"HTTP/1.1 204 No Content\r\n\r\n", 1400);
    }
    n.close(ts(t0 + 30, 0), &mut c);
    support::pcap(&n, Link::Ethernet, false, false)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p.to_str().unwrap().to_string()
}

#[test]
fn twenty_identical_uploads_are_one_leak_and_details_lists_them() {
    let dir = tmpdir("keepalive");
    let cap = write(&dir, "keepalive.pcap", &keepalive_uploads());
    let text = stdout(&run(&["scan", &cap]));
    let leaks: Vec<&str> = text.lines().filter(|l| is_leak_line(l)).collect();
    assert_eq!(leaks.len(), 1, "{text}");
    let l = leaks[0];
    assert!(l.contains(" x20 ") && l.contains("imei") && l.contains("POST /v2/ping  body:imei"), "{l}");
    assert!(l.contains("2023-11-14T22:13:21Z .. 2023-11-14T22:13:40Z"), "{l}");
    assert_eq!(destinations(&text), ["telemetry.example.net"]);
    assert_eq!(header_counts(&text), (1, 1));
    assert!(text.contains("(20 findings in 20 of 20 requests; 1 host contacted)"), "{text}");
    assert!(text.contains("  not inspected: nothing"), "{text}");
    assert!(!text.contains(wiko::IMEI1), "{text}");

    // --details (or -v): every request with its finding, then the table.
    for flag in ["--details", "-v"] {
        let detailed = stdout(&run(&["scan", flag, &cap]));
        let frames = detailed.lines().filter(|l| l.starts_with("  frame ") && l.contains("POST /v2/ping?seq=")).count();
        assert_eq!(frames, 20, "{detailed}");
        assert_eq!(
            detailed.lines().filter(|l| l.starts_with("    HIGH   TA-IMEI ") && l.contains("body:imei = ")).count(),
            20
        );
        assert!(detailed.lines().any(|l| l == l.trim_end() && l.contains(" x20 ")), "{detailed}");
        assert!(!detailed.contains(wiko::IMEI1));
    }
}

fn jsonl(args: &[&str]) -> Vec<Value> {
    let mut a = vec!["scan", "--format", "jsonl"];
    a.extend_from_slice(args);
    a.push(FIXTURE);
    stdout(&run(&a)).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

fn kinds_of(lines: &[Value]) -> Vec<String> {
    let mut k: Vec<String> =
        lines.iter().filter(|v| v["type"] == "finding").map(|v| v["kind"].as_str().unwrap_or("").to_string()).collect();
    k.sort();
    k.dedup();
    k
}

#[test]
fn display_filters_select_in_every_format() {
    // Text: only imei leaks.
    let out = run(&["scan", "--kind", "imei", FIXTURE]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1));
    let leaks: Vec<&str> = text.lines().filter(|l| is_leak_line(l)).collect();
    assert_eq!(leaks.len(), 6, "{text}");
    assert!(leaks.iter().all(|l| l.contains(" imei ")), "{text}");
    assert!(
        text.contains("(7 of 33 findings shown, the rest left out by the baseline or the display filters"),
        "{text}"
    );
    assert!(text.contains("26 findings not shown (--kind, --host, --min-severity)"), "{text}");
    assert_eq!(header_counts(&text).1, destinations(&text).len());

    // JSON Lines: kinds, hosts, severities.
    assert_eq!(kinds_of(&jsonl(&["--kind", "imei", "--kind", "serial"])), ["imei", "serial"]);
    let high = jsonl(&["--min-severity", "high"]);
    assert!(!kinds_of(&high).is_empty());
    assert!(high.iter().filter(|v| v["type"] == "finding").all(|v| v["severity"] == "high"));
    assert!(!high.iter().any(|v| v["rule"] == "TA-MODEL"), "the low model rule is left out");
    let hosts = jsonl(&["--host", "*.example"]);
    let f: Vec<&Value> = hosts.iter().filter(|v| v["type"] == "finding").collect();
    assert_eq!(f.len(), 11);
    assert!(f.iter().all(|v| v["host"].as_str().unwrap().ends_with(".example")));

    // SARIF: results are the shown findings.
    let sarif: Value =
        serde_json::from_slice(&run(&["scan", "--format", "sarif", "--kind", "endpoint", FIXTURE]).stdout).unwrap();
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), 5);
    assert!(results.iter().all(|r| r["ruleId"] == "TA-EP-TINNO-STS"));

    // Nothing shown: exit 0 (the exit code counts what is reported), and
    // the capture says why it lists nothing.
    let out = run(&["scan", "--kind", "device_model", "--min-severity", "medium", "--host", "*.example", FIXTURE]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("0 findings in 12 requests; 33 findings left out"), "{text}");

    // A kind no rule reports is warned about.
    let out = run(&["scan", "--kind", "imie", FIXTURE]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("--kind imie: no rule reports this kind"));
    assert_eq!(out.status.code(), Some(0));
}

/// The JSON Lines summary counts what a display filter left out: with
/// `--kind imei`, the other findings.
#[test]
fn the_summary_counts_the_findings_filtered_out() {
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/wiko-sts.pcap");
    let lines = |args: &[&str]| -> Vec<serde_json::Value> {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run");
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect()
    };
    let all = lines(&["scan", "--format", "jsonl", fixture]);
    let imei = lines(&["scan", "--format", "jsonl", "--kind", "imei", fixture]);
    let count = |v: &[serde_json::Value]| v.iter().filter(|l| l["type"] == "finding").count() as u64;
    let summary = imei.iter().find(|l| l["type"] == "summary").expect("summary");
    assert!(count(&imei) > 0 && count(&imei) < count(&all));
    assert_eq!(summary["filtered"].as_u64(), Some(count(&all) - count(&imei)));
}
