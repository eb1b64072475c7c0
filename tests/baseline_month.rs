//! Baselines that survive a re-run: next month's captures of the same
//! device repeat last month's leaks with other encrypted payloads, other
//! cells and positions; a baseline of last month suppresses them, and
//! only a truly new leak fails the gate.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{Link, Net, tmpdir, ts};

const IMEI: &str = "356938035643809";
const T0: i64 = 1_483_606_800;

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit")
}

/// A base64url string standing for one RSA-encrypted report.
fn payload(seed: u64) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    support::pseudo_random(seed, 171).iter().map(|b| ALPHABET[usize::from(b % 64)] as char).collect()
}

/// One month of the phone: an STS report (its payload new each time), a
/// geolocation upload with this month's cell and position, and the IMEI
/// to an analytics host; `extra` adds another upload.
fn month(dir: &Path, name: &str, m: u64, extra: Option<&str>) -> PathBuf {
    let mut net = Net::default();
    let t = T0 + m as i64 * 30 * 86_400;
    let sts = format!(
        "GET /eservice/stsReport?reptype=report&msgid=1&repinfo={} HTTP/1.1\r\nHost: eservice.tinno.com\r\n\r\n",
        payload(m)
    );
    net.http(ts(t, 0), "10.20.0.23:41000", "203.0.113.10:80", sts.as_bytes(), b"HTTP/1.1 200 OK\r\n\r\n", 1);
    let geo = format!(
        "POST /geo HTTP/1.1\r\nHost: geo.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        0
    );
    let body = format!(
        "lat=48.{:06}&lon=2.{:06}&mcc=208&mnc=10&lac={}&cid={}",
        850_000 + m * 17,
        350_000 + m * 31,
        12_000 + m,
        48_000 + m * 7
    );
    let geo = geo.replace("Content-Length: 0", &format!("Content-Length: {}", body.len())) + &body;
    net.http(
        ts(t + 60, 0),
        "10.20.0.23:41001",
        "198.51.100.20:80",
        geo.as_bytes(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        2,
    );
    let stats = format!("GET /v1/ping?imei={IMEI} HTTP/1.1\r\nHost: stats.example\r\n\r\n");
    net.http(
        ts(t + 120, 0),
        "10.20.0.23:41002",
        "198.51.100.30:80",
        stats.as_bytes(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        3,
    );
    if let Some(host) = extra {
        let req = format!("GET /v1/boot?imei={IMEI} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        net.http(
            ts(t + 180, 0),
            "10.20.0.23:41003",
            "198.51.100.99:80",
            req.as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            4,
        );
    }
    let p = dir.join(name);
    std::fs::write(&p, support::pcap(&net, Link::Ethernet, false, false)).expect("write capture");
    p
}

fn findings(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON"))
        .filter(|v| v["type"] == "finding")
        .collect()
}

#[test]
fn a_baseline_of_last_month_suppresses_this_months_same_leaks() {
    let dir = tmpdir("baseline-month");
    let base = dir.join("baseline.json");
    let b = base.to_str().unwrap();
    let m1 = month(&dir, "m1.pcap", 1, None);
    let first = run(&["scan", "--format", "jsonl", "--write-baseline", b, m1.to_str().unwrap()]);
    let kinds: Vec<String> = findings(&first).iter().map(|f| f["kind"].as_str().unwrap().to_string()).collect();
    // What the month carries: the STS report, a cell, a position, an IMEI.
    for k in ["endpoint", "cell_location", "geo_location", "imei"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
    // Writing a baseline accepts what it found.
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    // Next month: other payload, cell and position; all suppressed.
    let m2 = month(&dir, "m2.pcap", 2, None);
    let next = run(&["scan", "--format", "jsonl", "--baseline", b, m2.to_str().unwrap()]);
    assert!(findings(&next).is_empty(), "{:?}", findings(&next));
    assert_eq!(next.status.code(), Some(0));
    // A new destination for the IMEI is the one new leak, and fails.
    let m3 = month(&dir, "m3.pcap", 3, Some("new.example"));
    let new = run(&["scan", "--format", "jsonl", "--baseline", b, m3.to_str().unwrap()]);
    let f = findings(&new);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["host"], "new.example");
    assert_eq!(new.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}

/// An identity's value is in its fingerprint: another IMEI to the same
/// host and field is a new leak.
#[test]
fn another_identity_value_is_a_new_leak() {
    let dir = tmpdir("baseline-identity");
    let base = dir.join("baseline.json");
    let b = base.to_str().unwrap();
    let m1 = month(&dir, "m1.pcap", 1, None);
    run(&["scan", "--format", "jsonl", "--write-baseline", b, m1.to_str().unwrap()]);
    let bytes = std::fs::read(&m1).unwrap();
    // The same capture with the IMEI's last two digits changed (still
    // Luhn-valid: 356938035643817).
    let swapped: Vec<u8> = replace(&bytes, IMEI.as_bytes(), b"356938035643817");
    let p = dir.join("other.pcap");
    std::fs::write(&p, swapped).unwrap();
    let out = run(&["scan", "--format", "jsonl", "--baseline", b, p.to_str().unwrap()]);
    let f = findings(&out);
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["kind"], "imei");
    let _ = std::fs::remove_dir_all(&dir);
}

fn replace(hay: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(from) {
            out.extend_from_slice(to);
            i += from.len();
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}
