//! Labelled cases by class (issue 14): whole requests, datagrams or
//! packets as real devices send them, each with the identifiers that must
//! be found (kind and value) and decoys that must not. One file per class
//! of problem; [`all`] gathers them. Each case runs on its own client
//! port, so a finding is matched to its case by its ends; a finding of no
//! case is a false alarm.
//!
//! Cases marked `profile` are scored only with the device profile
//! [`PROFILE`] (the kinds that need one); the others are scored both with
//! and without it, and must hold in both.

#![allow(dead_code)] // Values and helpers for the class files to use.

mod geo;
mod nested;

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{Net, ts};

mod keys;
mod tunnels;

/// The device the cases speak of: the profile file's values.
pub const MAC: &str = "a4:5e:60:12:34:56";
pub const IMEI: &str = "356938035643809";
pub const IMSI: &str = "208101234567890";
pub const SERIAL: &str = "WKL3A1B2C3D4";

/// The profile the cases are scored with (TOML).
pub const PROFILE: &str = r#"
name = "evaluation device"
mac = ["a4:5e:60:12:34:56"]
imei = ["356938035643809"]
imsi = ["208101234567890"]
serial = "WKL3A1B2C3D4"
"#;

/// What a case sends, from the client address it is given.
pub type Build = Box<dyn Fn(&mut Net, &str, i64)>;

/// One labelled case.
pub struct ClassCase {
    /// The class of issue 14 it stands for (`geolocation`, `hashed-key`...).
    pub class: &'static str,
    pub what: &'static str,
    /// Writes the case's packets: given the client `ip:port` to send
    /// from and a time in seconds.
    pub build: Build,
    /// (kind, value) pairs that must be found; values compared without
    /// case or separators (a cell: by its cell id, `cid=N` or the value).
    pub must: Vec<(&'static str, String)>,
    /// Only with the profile.
    pub profile: bool,
}

impl ClassCase {
    /// An HTTP request to `server` (`ip:port`) on its own connection.
    pub fn http(class: &'static str, what: &'static str, server: &'static str, request: Vec<u8>) -> ClassCase {
        ClassCase {
            class,
            what,
            build: Box::new(move |net, client, t| {
                let resp = b"HTTP/1.1 204 No Content\r\n\r\n";
                net.http(ts(t, 0), client, server, &request, resp, (t as u32).wrapping_mul(2_654_435_761));
            }),
            must: Vec::new(),
            profile: false,
        }
    }

    pub fn must(mut self, kind: &'static str, value: impl Into<String>) -> ClassCase {
        self.must.push((kind, value.into()));
        self
    }

    /// A case that must give no finding at all (a decoy).
    pub fn clean(self) -> ClassCase {
        self
    }

    pub fn with_profile(mut self) -> ClassCase {
        self.profile = true;
        self
    }
}

/// A POST of `body` with its content type.
pub fn post(host: &str, path: &str, ctype: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A GET of `target` with extra header lines (each ending `\r\n`).
pub fn get(host: &str, target: &str, headers: &str) -> Vec<u8> {
    format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n").into_bytes()
}

mod independent;
mod lan;
mod profile;
mod shapes;

/// Every class's cases.
pub fn all() -> Vec<ClassCase> {
    let mut v = Vec::new();
    v.extend(smoke());
    v.extend(profile::cases());
    v.extend(lan::cases());
    v.extend(tunnels::cases());
    v.extend(geo::cases());
    v.extend(keys::cases());
    v.extend(nested::cases());
    v.extend(independent::cases());
    v.extend(shapes::cases());
    v
}

/// The harness's own check: a plain key and a plain decoy.
fn smoke() -> Vec<ClassCase> {
    vec![
        ClassCase::http(
            "smoke",
            "IMEI under its key",
            "192.0.2.80:80",
            get("t.example", &format!("/s?imei={IMEI}"), ""),
        )
        .must("imei", IMEI),
        ClassCase::http("smoke", "nothing to find", "192.0.2.80:80", get("t.example", "/s?page=2&q=weather", ""))
            .clean(),
    ]
}

/// Results per class.
#[derive(Default, Debug)]
pub struct ClassScores {
    /// class -> (found, must-finds).
    pub recall: BTreeMap<String, (u32, u32)>,
    /// class -> findings that were not a must-find of their case.
    pub false_alarms: BTreeMap<String, Vec<String>>,
    pub misses: Vec<String>,
    pub true_pos: u32,
}

/// The first client port; case `i` sends from `10.1.9.2:(PORT0 + i)`.
pub const PORT0: u16 = 30_000;

/// Builds every case into one capture, scans it with `scan` (given the
/// capture and whether to load the profile), and scores it. With
/// `profile` false, cases that need the profile are left out of recall
/// (but their findings still count against precision: none may be
/// wrong).
pub fn evaluate(cases: &[ClassCase], profile: bool, scan: impl Fn(&[u8]) -> Vec<Value>) -> ClassScores {
    let mut net = Net::default();
    for (i, c) in cases.iter().enumerate() {
        let client = format!("10.1.9.2:{}", PORT0 + i as u16);
        (c.build)(&mut net, &client, 1_700_200_000 + i as i64 * 10);
    }
    let findings = scan(&crate::support::pcap(&net, crate::support::Link::Ethernet, false, false));
    let mut s = ClassScores::default();
    let mut by_case: BTreeMap<usize, Vec<&Value>> = BTreeMap::new();
    for f in &findings {
        let port = |k: &str| f[k].as_str().and_then(|a| a.rsplit(':').next()).and_then(|p| p.parse::<u16>().ok());
        let case = [port("src"), port("dst")]
            .into_iter()
            .flatten()
            .find(|p| (PORT0..PORT0 + cases.len() as u16).contains(p))
            .map(|p| usize::from(p - PORT0));
        match case {
            Some(i) => by_case.entry(i).or_default().push(f),
            None => s.false_alarms.entry("(no case)".into()).or_default().push(f.to_string()),
        }
    }
    for (i, c) in cases.iter().enumerate() {
        let got = by_case.remove(&i).unwrap_or_default();
        let scored = profile || !c.profile;
        let matches = |f: &Value, kind: &str, value: &str| {
            f["kind"] == kind && f["value"].as_str().is_some_and(|v| same(kind, v, value))
        };
        for (kind, value) in &c.must {
            if !scored {
                continue;
            }
            let r = s.recall.entry(c.class.to_string()).or_default();
            r.1 += 1;
            if got.iter().any(|f| matches(f, kind, value)) {
                r.0 += 1;
            } else {
                s.misses.push(format!(
                    "{} / {}: {kind} {value}: got {:?}",
                    c.class,
                    c.what,
                    got.iter().map(|f| format!("{} {}", f["kind"], f["value"])).collect::<Vec<_>>()
                ));
            }
        }
        for f in got {
            if c.must.iter().any(|(k, v)| matches(f, k, v)) {
                s.true_pos += 1;
            } else if !c.profile || profile {
                s.false_alarms.entry(c.class.to_string()).or_default().push(format!("{}: {f}", c.what));
            }
        }
    }
    s
}

/// A found value stands for a labelled one: the same letters and digits
/// in any case; a cell by its cell id.
fn same(kind: &str, found: &str, label: &str) -> bool {
    let norm = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    if kind == "cell_location" && label.contains("cid=") {
        let cid = label.rsplit("cid=").next().unwrap_or("");
        return found.split(',').any(|p| p.ends_with(&format!("={cid}")) || p == cid);
    }
    norm(found) == norm(label)
}
