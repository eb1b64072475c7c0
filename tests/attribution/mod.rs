//! App attribution end to end (issue 13): every finding, request record,
//! host and app summary names the app its connection was attributed to,
//! from ptcpdump comments, PCAPdroid trailers and PCAPdroid uid maps, in
//! clear HTTP, decrypted TLS, SIP, SMS and DNS alike; conflicts are
//! decided by the client's first packet and noted; `--app` and rules
//! scoped by `apps` select by app.
//!
//! The captures are the bundled fixture re-written as each tool writes
//! its exports, and conversations of several apps interleaved, built by
//! `support`; the truth (which app sent which frame) is kept beside them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use serde_json::Value;
use teleaudit::capture::writer::{PcapWriter, PcapngWriter};
use teleaudit::capture::{CaptureReader, Linktype};
use teleaudit::util::Timestamp;

use super::support::appmeta::{self as pd, Kind, ends};
use super::support::{self, Link, Net, ts};
use super::{FIXTURE, FIXTURE_KEYS, facts, jsonl, of_type, run, tmpdir, write};

/// A process as ptcpdump names it, and an app as PCAPdroid does.
#[derive(Clone, Copy)]
struct App {
    cmd: &'static str,
    pid: i64,
    uid: i32,
    package: &'static str,
    label: &'static str,
}

const APPS: [App; 3] = [
    App { cmd: "/usr/bin/curl", pid: 4101, uid: 10101, package: "com.tinno.sts", label: "Sales Tracking" },
    App { cmd: "/system/bin/adsdk", pid: 4202, uid: 10202, package: "com.example.ads", label: "Ads SDK" },
    App { cmd: "/opt/fw/telemetryd", pid: 4303, uid: 10303, package: "com.example.weather", label: "Weather" },
];

impl App {
    fn command(&self) -> &'static str {
        self.cmd.rsplit('/').next().unwrap()
    }

    fn comment(&self) -> String {
        format!("PID: {}\nCmd: {}\nArgs: {} --upload", self.pid, self.cmd, self.command())
    }
}

/// Which app a connection (or UDP pair) belongs to: fixed by its ends,
/// the same for both directions.
fn owner_of(pair: (SocketAddr, SocketAddr)) -> usize {
    let (a, b) = if pair.0 <= pair.1 { pair } else { (pair.1, pair.0) };
    let h = a.to_string().bytes().chain(b.to_string().bytes()).fold(7u64, |h, c| h.wrapping_mul(31) + u64::from(c));
    (h % APPS.len() as u64) as usize
}

/// A frame of the fixture: time, bytes, app (index in [`APPS`]), kind.
type FixtureFrame = (Timestamp, Vec<u8>, Option<usize>, Option<Kind>);

/// The fixture's frames (Ethernet) with their IP packets, and the app of
/// each: by its outer ends (a GTP tunnel's packets go to the app of the
/// tunnel), so a connection's packets all have one app.
fn fixture_frames() -> Vec<FixtureFrame> {
    let bytes = std::fs::read(FIXTURE).expect("fixture");
    let mut r = CaptureReader::open(Box::new(std::io::Cursor::new(bytes))).expect("capture");
    let mut out = Vec::new();
    while let Some(f) = r.next_frame().expect("readable") {
        assert_eq!(f.link, Linktype::ETHERNET);
        let ip = &f.data[14..];
        let (owner, kind) = match ends(ip) {
            Some((pair, kind)) => (Some(owner_of(pair)), Some(kind)),
            None => (None, None),
        };
        out.push((f.ts, f.data.to_vec(), owner, kind));
    }
    out
}

/// Scans with the fixture's keys; all JSON lines, values shown.
fn scan(path: &std::path::Path, extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let mut args = vec!["scan", "--format", "jsonl", "--show-values", "--keylog", FIXTURE_KEYS];
    args.extend_from_slice(extra);
    args.push(path.to_str().unwrap());
    let out = run(&args);
    (out.status.code(), jsonl(&out))
}

/// Every finding names the app of its frame, as `name` and `id` give it.
fn assert_attributed(
    lines: &[Value],
    truth: &[Option<usize>],
    name: impl Fn(&App) -> String,
    id: impl Fn(&App) -> i64,
) {
    let findings = of_type(lines, "finding");
    assert!(findings.len() >= 30, "{}", findings.len());
    let mut protocols = BTreeSet::new();
    for f in &findings {
        let frame = f["frame"].as_u64().unwrap() as usize;
        let app = &APPS[truth[frame - 1].unwrap_or_else(|| panic!("frame {frame} has no app: {f}"))];
        assert_eq!(f["app"], name(app).as_str(), "{f}");
        assert_eq!(f["app_id"], id(app), "{f}");
        protocols.insert(f["protocol"].as_str().unwrap().to_string());
    }
    // Clear HTTP, decrypted HTTPS, SIP and both SMS channels.
    for p in ["http/1.1", "sip", "sms/ims", "sms/gsm"] {
        assert!(protocols.contains(p), "{p} not among {protocols:?}");
    }
    assert!(findings.iter().any(|f| !f["tls"].is_null()), "no decrypted finding");
}

/// The fixture as ptcpdump would have written it: each packet commented
/// with its process, except bare ACKs and FINs and the client's segments
/// with data (what a tool that misses packets would write); every
/// finding is attributed to the process of its connection, whether its
/// own packet named it or not, and nothing else changes.
#[test]
fn ptcpdump_comments_attribute_every_finding_of_the_fixture() {
    let frames = fixture_frames();
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).unwrap();
    w.interface(Linktype::ETHERNET, 9).unwrap();
    let mut commented = 0;
    let mut uncommented_findings = BTreeSet::new();
    for (i, (t, data, owner, kind)) in frames.iter().enumerate() {
        let keep = match kind {
            Some(Kind::Data) => {
                let ((src, dst), _) = ends(&data[14..]).unwrap();
                src.port() < dst.port()
            }
            Some(Kind::Bare) | None => false,
            Some(Kind::Syn | Kind::Udp) => true,
        };
        if !keep {
            uncommented_findings.insert(i + 1);
        }
        match owner {
            Some(k) if keep => {
                commented += 1;
                let c = APPS[*k].comment();
                let thread = format!("ThreadId: {}\nThreadName: {}", APPS[*k].pid + 1, APPS[*k].command());
                w.packet_with_options(0, *t, data, &[(1, c.as_bytes()), (1, thread.as_bytes())]).unwrap();
            }
            _ => w.packet(0, *t, data).unwrap(),
        }
    }
    let dir = tmpdir("attr-ptcpdump");
    let p = write(&dir, "sts.pcapng", &w.into_inner());
    let (code, lines) = scan(&p, &[]);
    assert_eq!(code, Some(1));
    let truth: Vec<Option<usize>> = frames.iter().map(|f| f.2).collect();
    assert_attributed(&lines, &truth, |a| a.command().to_string(), |a| a.pid);
    // Some findings are at frames that named no process: attributed by
    // their connection.
    let by_flow = of_type(&lines, "finding")
        .iter()
        .filter(|f| uncommented_findings.contains(&(f["frame"].as_u64().unwrap() as usize)))
        .count();
    assert!(by_flow >= 3, "{by_flow}");
    // The same findings as without comments.
    let (_, plain) = scan(std::path::Path::new(FIXTURE), &[]);
    assert_eq!(facts(&lines), facts(&plain));
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["attribution"]["frames"], commented as u64, "{cap}");
    assert_eq!(cap["attribution"]["conflicts"], 0, "{cap}");
    // Requests records carry it too.
    let out = run(&["requests", "--format", "jsonl", "--keylog", FIXTURE_KEYS, p.to_str().unwrap()]);
    let reqs = jsonl(&out);
    let reqs = of_type(&reqs, "request");
    assert!(reqs.len() >= 15, "{}", reqs.len());
    for r in reqs {
        let frame = r["frame"].as_u64().unwrap() as usize;
        let app = &APPS[truth[frame - 1].unwrap()];
        assert_eq!((r["app"].as_str(), r["app_id"].as_i64()), (Some(app.command()), Some(app.pid)), "{r}");
    }
}

/// The fixture as a PCAPdroid pcap export with dump extensions: every
/// finding names the trailer's app and uid, and the trailers change no
/// finding (the same rules, values, frames and ends as the plain file).
#[test]
fn pcapdroid_trailers_attribute_every_finding_and_change_nothing_else() {
    let frames = fixture_frames();
    let mut w = PcapWriter::new(Vec::new(), Linktype::ETHERNET, false, false).unwrap();
    let mut truth = Vec::new();
    for (t, data, owner, _) in &frames {
        // PCAPdroid sees every packet as its app's (unknown: uid -1).
        let (uid, name) = owner.map_or((-1, ""), |k: usize| (APPS[k].uid, APPS[k].package));
        w.packet(*t, &pd::pcapdroid_frame(&data[14..], uid, name, false)).unwrap();
        truth.push(*owner);
    }
    let dir = tmpdir("attr-pcapdroid");
    let p = write(&dir, "sts.pcap", &w.into_inner());
    let (_, lines) = scan(&p, &[]);
    assert_attributed(&lines, &truth, |a| a.package.to_string(), |a| i64::from(a.uid));
    assert!(of_type(&lines, "error").is_empty(), "{:?}", of_type(&lines, "error"));
    let (_, plain) = scan(std::path::Path::new(FIXTURE), &[]);
    assert_eq!(facts(&lines), facts(&plain));
    // Per-app summary: which kinds each app sent, to which hosts.
    let apps = of_type(&lines, "app");
    let by_name: BTreeMap<&str, &Value> = apps.iter().map(|a| (a["app"].as_str().unwrap(), *a)).collect();
    let findings = of_type(&lines, "finding");
    for app in APPS {
        let mine: Vec<&&Value> = findings.iter().filter(|f| f["app"] == app.package).collect();
        let Some(line) = by_name.get(app.package) else {
            assert!(mine.is_empty());
            continue;
        };
        assert_eq!(line["app_ids"], serde_json::json!([app.uid]), "{line}");
        assert_eq!(line["app_source"], "pcapdroid");
        let total: u64 = line["findings_by_kind"].as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
        assert_eq!(total, mine.len() as u64, "{line}");
        for f in mine {
            let host = f["host"].as_str().map_or_else(|| f["dst"].as_str().unwrap().to_string(), str::to_string);
            let host = host.split(':').next().unwrap().trim_start_matches('[').to_string();
            let hosts = line["hosts"].as_object().unwrap();
            assert!(hosts.keys().any(|h| h.starts_with(&host) || host.starts_with(h.as_str())), "{host} in {line}");
        }
    }
}

/// Several apps interleaved, each with its own connections to shared
/// hosts: packets of the apps alternate frame by frame.
struct Mixed {
    net: Net,
    /// The app of each packet.
    owner: Vec<usize>,
}

/// Three connections per app, all open at once, requests sent in turns;
/// every request carries an IMEI, a MAC and an e-mail in its query.
fn mixed() -> Mixed {
    let mut conns = Vec::new();
    let mut net = Net::default();
    let mut owner = Vec::new();
    let t0 = 1_700_000_000;
    for round in 0..3 {
        for (k, _) in APPS.iter().enumerate() {
            let client = format!("10.1.0.7:{}", 40_000 + round * 10 + k);
            let server = if k == 1 { "198.51.100.9:80".to_string() } else { format!("203.0.113.{}:80", round + 1) };
            let before = net.packets.len();
            let c = net.connect(ts(t0 + round as i64, k as u32 * 1000), &client, &server, 1000 + k as u32, 9000);
            owner.extend(std::iter::repeat_n(k, net.packets.len() - before));
            conns.push((k, c));
        }
    }
    for step in 0..2 {
        for (i, (k, c)) in conns.iter_mut().enumerate() {
            let imei = imei(i * 2 + step);
            let host = if *k == 1 { "ads.example".to_string() } else { format!("api{}.example", i / APPS.len()) };
            let req = format!(
                "GET /v1/ping?imei={imei}&mac=02:1a:2b:3c:4d:{i:02x}&email=user{i}@mail.example&n={step} HTTP/1.1\r\nHost: {host}\r\n\r\n"
            );
            let before = net.packets.len();
            net.send(ts(t0 + 10 + step as i64, i as u32 * 100), c, req.as_bytes(), 40);
            net.reply(ts(t0 + 10 + step as i64, i as u32 * 100 + 50), c, b"HTTP/1.1 204 No Content\r\n\r\n", 1400);
            owner.extend(std::iter::repeat_n(*k, net.packets.len() - before));
        }
    }
    for (k, c) in conns.iter_mut() {
        let before = net.packets.len();
        net.close(ts(t0 + 20, 0), c);
        owner.extend(std::iter::repeat_n(*k, net.packets.len() - before));
    }
    Mixed { net, owner }
}

/// A valid IMEI (Luhn) numbered `n`.
fn imei(n: usize) -> String {
    let body = format!("35693803{:06}", 100_000 + n);
    let sum: u32 = body
        .chars()
        .rev()
        .enumerate()
        .map(|(i, c)| {
            let d = c.to_digit(10).unwrap();
            if i % 2 == 0 {
                let x = d * 2;
                x / 10 + x % 10
            } else {
                d
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The app of each finding, by its client port (each connection has its
/// own), against the truth.
fn check_mixed(lines: &[Value], m: &Mixed, name: impl Fn(&App) -> Value) -> usize {
    let mut by_port = BTreeMap::new();
    for ((_, p), k) in m.net.packets.iter().zip(&m.owner) {
        if let Some(((src, dst), _)) = ends(p) {
            let client = if src.port() >= 40_000 { src } else { dst };
            by_port.insert(client.port(), *k);
        }
    }
    let findings = of_type(lines, "finding");
    for f in &findings {
        let src: SocketAddr = f["src"].as_str().unwrap().parse().unwrap();
        let k = by_port[&src.port()];
        assert_eq!(f["app"], name(&APPS[k]), "{f}");
        assert_eq!(f["app_id"], APPS[k].uid, "{f}");
    }
    findings.len()
}

/// The mixed conversations as a PCAPdroid pcapng export.
fn pcapdroid_pcapng(m: &Mixed) -> Vec<u8> {
    let apps: Vec<(i32, &str, &str)> = APPS.iter().map(|a| (a.uid, a.package, a.label)).collect();
    pd::pcapdroid_pcapng(&m.net, &apps, |i| m.owner[i], false)
}

fn scan_plain(name: &str, bytes: &[u8], extra: &[&str]) -> (Option<i32>, Vec<Value>) {
    let dir = tmpdir(name);
    let p = write(&dir, "c.cap", bytes);
    let mut args = vec!["scan", "--format", "jsonl", "--show-values"];
    args.extend_from_slice(extra);
    args.push(p.to_str().unwrap());
    let out = run(&args);
    (out.status.code(), jsonl(&out))
}

/// Interleaved apps in a PCAPdroid pcapng (uid map blocks, `u-<uid>`
/// comments): each of the 18 requests' three identifiers is attributed
/// to its package, with the uid; the host lines name the apps that
/// contacted them.
#[test]
fn interleaved_apps_in_a_pcapdroid_pcapng() {
    let m = mixed();
    let bytes = pcapdroid_pcapng(&m);
    let (_, lines) = scan_plain("attr-mixed-pcapng", &bytes, &[]);
    let n = check_mixed(&lines, &m, |a| a.package.into());
    let plain = scan_plain("attr-mixed-plain", &support::pcap(&m.net, Link::Raw, false, false), &[]).1;
    assert_eq!(n, of_type(&plain, "finding").len());
    assert_eq!(n, 18 * 3, "{:?}", of_type(&lines, "finding").len());
    let ads = of_type(&lines, "host").into_iter().find(|h| h["host"] == "ads.example").unwrap().clone();
    assert_eq!(ads["apps"], serde_json::json!(["com.example.ads"]), "{ads}");
    let api0 = of_type(&lines, "host").into_iter().find(|h| h["host"] == "api0.example").unwrap().clone();
    let names: Vec<&str> = api0["apps"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(names.len() >= 2 && !names.contains(&"com.example.ads"), "{api0}");
    let app = of_type(&lines, "app").into_iter().find(|a| a["app"] == "com.example.weather").unwrap().clone();
    assert_eq!((app["label"].as_str(), app["requests"].as_u64()), (Some("Weather"), Some(6)), "{app}");
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["attribution"]["flows"], 9, "{cap}");
}

/// Interleaved apps in a PCAPdroid pcap with trailers: the same findings
/// as the plain capture, each with its app.
#[test]
fn interleaved_apps_in_a_pcapdroid_pcap() {
    let m = mixed();
    let apps: Vec<(i32, &str)> = APPS.iter().map(|a| (a.uid, a.package)).collect();
    let bytes = pd::pcapdroid_pcap(&m.net, &apps, |i| m.owner[i], false);
    let (_, lines) = scan_plain("attr-mixed-trailer", &bytes, &[]);
    let plain = scan_plain("attr-mixed-plain2", &support::pcap(&m.net, Link::Ethernet, false, false), &[]).1;
    assert_eq!(check_mixed(&lines, &m, |a| a.package.into()), of_type(&plain, "finding").len());
    assert_eq!(of_type(&lines, "finding").len(), 54);
}

/// A ptcpdump pcapng where a connection's packets name two processes
/// (the server side another one, as on a host that runs both ends): the
/// client's packets decide, the conflict is counted and noted once per
/// connection, whichever side was seen first.
#[test]
fn conflicting_packets_are_decided_by_the_client_and_noted() {
    let mut net = Net::default();
    let mut c = net.connect(ts(1_700_000_000, 0), "10.1.0.7:40001", "10.1.0.8:80", 1, 2);
    let req = format!("GET /?imei={} HTTP/1.1\r\nHost: lan.example\r\n\r\n", imei(1));
    net.send(ts(1_700_000_001, 0), &mut c, req.as_bytes(), 1400);
    net.reply(ts(1_700_000_001, 500), &mut c, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 1400);
    let (client, server) = (APPS[0], APPS[2]);
    for server_first in [false, true] {
        let mut w = PcapngWriter::new(Vec::new());
        w.section(false).unwrap();
        w.interface(Linktype::RAW, 6).unwrap();
        // Without its handshake when the server's packet comes first: the
        // connection is picked up mid-way and the client is not known
        // until its request is read, yet its packets still decide.
        let skip = if server_first { 3 } else { 0 };
        let mut packets: Vec<&(Timestamp, Vec<u8>)> = net.packets.iter().skip(skip).collect();
        if server_first {
            // The server's response: a packet with payload, which opens
            // the connection (a bare ACK would not).
            let i = packets
                .iter()
                .position(|(_, p)| matches!(ends(p), Some(((s, _), Kind::Data)) if s.port() == 80))
                .unwrap();
            let s = packets.remove(i);
            packets.insert(0, s);
        }
        for (t, p) in packets {
            let from_client = ends(p).unwrap().0.0.port() == 40001;
            let who = if from_client { client } else { server };
            w.packet_with_options(0, *t, p, &[(1, who.comment().as_bytes())]).unwrap();
        }
        let (_, lines) = scan_plain("attr-conflict", &w.into_inner(), &[]);
        let f = of_type(&lines, "finding");
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!((f[0]["app"].as_str(), f[0]["app_id"].as_i64()), (Some("curl"), Some(client.pid)), "{f:?}");
        let cap = of_type(&lines, "capture")[0];
        assert_eq!(cap["attribution"]["conflicts"], 1, "{cap}");
        let notes = cap["notes"].to_string();
        assert!(notes.contains("curl") && notes.contains("telemetryd"), "{notes}");
    }
}

/// `--app` reports only what matching apps sent (by name, label or id);
/// what it leaves out is counted, and the exit code follows what is
/// reported.
#[test]
fn app_filter_selects_what_is_reported() {
    let m = mixed();
    let bytes = pcapdroid_pcapng(&m);
    for (glob, want) in [
        ("com.example.*", vec!["com.example.ads", "com.example.weather"]),
        ("Sales*", vec!["com.tinno.sts"]),
        ("uid:10202", vec!["com.example.ads"]),
        ("10303", vec!["com.example.weather"]),
    ] {
        let (code, lines) = scan_plain("attr-filter", &bytes, &["--app", glob]);
        assert_eq!(code, Some(1), "{glob}");
        let got: BTreeSet<&str> = of_type(&lines, "finding").iter().map(|f| f["app"].as_str().unwrap()).collect();
        assert_eq!(got, want.iter().copied().collect(), "{glob}");
        assert_eq!(of_type(&lines, "finding").len(), 18 * want.len(), "{glob}");
        let cap = of_type(&lines, "capture")[0];
        assert_eq!(cap["attribution"]["filtered"], 6 * (3 - want.len()) as u64, "{glob}: {cap}");
        assert_eq!(cap["requests"], 18, "{glob}: every request is still counted");
    }
    let (code, lines) = scan_plain("attr-filter-none", &bytes, &["--app", "org.nobody"]);
    assert_eq!((code, of_type(&lines, "finding").len()), (Some(0), 0));
    // Without attribution, nothing matches an app filter.
    let plain = support::pcap(&m.net, Link::Raw, false, false);
    let (code, lines) = scan_plain("attr-filter-plain", &plain, &["--app", "*"]);
    assert_eq!((code, of_type(&lines, "finding").len()), (Some(0), 0));
}

/// A rule scoped with `apps` applies only to what those apps sent.
#[test]
fn rules_scoped_by_app() {
    let m = mixed();
    let bytes = pcapdroid_pcapng(&m);
    let dir = tmpdir("attr-rule");
    let rule = r#"
[[rule]]
id = "LOCAL-ADS-PING"
title = "Ads SDK ping counter"
severity = "low"
kind = "ads_ping"
pattern = "^[0-9]+$"
keys = ["n"]
[rule.scope]
apps = ["com.example.ads*"]
"#;
    let rules = write(&dir, "r.toml", rule.as_bytes());
    let (_, lines) = scan_plain("attr-rule-scan", &bytes, &["--rules", rules.to_str().unwrap()]);
    let findings = of_type(&lines, "finding");
    let hits: Vec<&&Value> = findings.iter().filter(|f| f["rule"] == "LOCAL-ADS-PING").collect();
    assert_eq!(hits.len(), 6, "{hits:?}");
    assert!(hits.iter().all(|f| f["app"] == "com.example.ads"), "{hits:?}");
}

/// The text report names the app on each request line and sums up per
/// app which kinds went to which hosts.
#[test]
fn text_report_names_the_app_and_sums_up_per_app() {
    let m = mixed();
    let bytes = pcapdroid_pcapng(&m);
    let dir = tmpdir("attr-text");
    let p = write(&dir, "c.pcapng", &bytes);
    let out = run(&["scan", p.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("[app com.example.ads (uid 10202)]"), "{text}");
    let summary = text.split("by app:").nth(1).unwrap_or_else(|| panic!("no per-app summary: {text}"));
    let lines: Vec<&str> = summary.lines().collect();
    let at = lines.iter().position(|l| l.trim_start().starts_with("com.example.ads")).expect("ads line");
    assert_eq!(lines[at].trim(), "com.example.ads (uid 10202)  6 requests", "{summary}");
    // Then its hosts, one line each, until the next app.
    assert_eq!(lines[at + 1].trim(), "ads.example  sent: email x6, imei x6, mac x6", "{summary}");
    assert!(lines[at + 2].trim_start().starts_with("com.example.weather"), "{summary}");
}

/// ptcpdump's own captures: every request is curl's, with the pid of the
/// comments; the TLS connection that was not decrypted and the DNS
/// queries are counted under their process in the capture record.
#[test]
fn ptcpdump_corpus_requests_are_curls() {
    let Some(extra) = support::corpus_extra() else { return };
    let dir = extra.join("ptcpdump");
    let mut requests = 0;
    for (name, cmd, pid) in [
        ("curl-thread.pcapng", "curl", 122_868),
        ("tcp.pcapng", "curl", 345_650),
        ("curl-user.pcapng", "curl", 99_722),
        ("dns.pcapng", "dig", 380_281),
    ] {
        let p = dir.join(name);
        let out = run(&["requests", "--format", "jsonl", p.to_str().unwrap()]);
        let lines = jsonl(&out);
        for r in of_type(&lines, "request") {
            assert_eq!((r["app"].as_str(), r["app_id"].as_i64()), (Some(cmd), Some(pid)), "{name}: {r}");
            requests += 1;
        }
        let cap = of_type(&lines, "capture")[0];
        let apps = cap["apps"].as_array().unwrap();
        assert_eq!(apps.len(), 1, "{name}: {cap}");
        assert_eq!((apps[0]["app"].as_str(), apps[0]["app_id"].as_i64()), (Some(cmd), Some(pid)), "{name}");
        assert_eq!(apps[0]["frames"], cap["frames"], "{name}: every frame is the process's");
        assert_eq!(cap["attribution"]["conflicts"], 0);
    }
    assert_eq!(requests, 2);
}

/// tcpdump's PKTAP sample is read, and its one packet is pid 512's (the
/// header names no command).
#[test]
fn pktap_sample_is_pid_512() {
    let Some(extra) = support::corpus_extra() else { return };
    let p = extra.join("tcpdump/LINKTYPE_PKTAP.pcap");
    let out = run(&["scan", "--format", "jsonl", p.to_str().unwrap()]);
    let lines = jsonl(&out);
    assert!(of_type(&lines, "error").is_empty(), "{:?}", of_type(&lines, "error"));
    let cap = of_type(&lines, "capture")[0];
    // No command name in the header: only the pid is known.
    assert_eq!(cap["apps"][0]["app"], Value::Null, "{cap}");
    assert_eq!(cap["apps"][0]["app_id"], 512);
    assert_eq!(cap["apps"][0]["app_source"], "pktap");
    assert_eq!(cap["not_inspected"]["unsupported_link_frames"], 0);
    let app = of_type(&lines, "app")[0];
    assert_eq!((app["app"].as_str(), app["app_ids"][0].as_i64()), (None, Some(512)));
}

/// A request whose body ends in 32 bytes shaped like a PCAPdroid trailer,
/// in an ordinary Ethernet capture: the bytes are the request's, so its
/// IMEI is found and no app is made up; the same under PCAPdroid's zeroed
/// header but with a CRC that does not match while the IP length covers
/// the bytes.
#[test]
fn trailer_shaped_payload_is_not_a_trailer() {
    let mut tail = 0x0107_2021u32.to_be_bytes().to_vec();
    tail.extend_from_slice(&10999i32.to_be_bytes());
    tail.extend_from_slice(b"com.fake.app\0\0\0\0\0\0\0\0");
    tail.extend_from_slice(&[1, 2, 3, 4]);
    let mut body = format!("imei={}&n=", imei(7)).into_bytes();
    body.resize(body.len().next_multiple_of(4), b'x');
    body.extend_from_slice(&tail);
    let mut req = format!("POST /u HTTP/1.1\r\nHost: t.example\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    req.extend_from_slice(&body);
    let mut net = Net::default();
    net.http(ts(1_700_000_000, 0), "10.1.0.7:40001", "198.51.100.9:80", &req, b"HTTP/1.1 204 No Content\r\n\r\n", 5);
    // As tcpdump writes it (real MAC addresses), and as a zeroed header.
    let zeroed: Vec<(Timestamp, Vec<u8>)> = net
        .packets
        .iter()
        .map(|(t, p)| {
            let mut f = vec![0u8; 12];
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            f.extend_from_slice(p);
            (*t, f)
        })
        .collect();
    let mut w = PcapWriter::new(Vec::new(), Linktype::ETHERNET, false, false).unwrap();
    for (t, f) in &zeroed {
        w.packet(*t, f).unwrap();
    }
    for bytes in [support::pcap(&net, Link::Ethernet, false, false), w.into_inner()] {
        let (code, lines) = scan_plain("attr-fake-trailer", &bytes, &[]);
        let f = of_type(&lines, "finding");
        assert_eq!(code, Some(1));
        assert!(f.iter().any(|f| f["kind"] == "imei" && f["value"] == imei(7)), "{f:?}");
        assert!(f.iter().all(|f| f["app"].is_null()), "{f:?}");
        let cap = of_type(&lines, "capture")[0];
        assert_eq!(cap["attribution"]["frames"], 0, "{cap}");
    }
}

/// Damaged attribution data (a trailer whose CRC does not match, a uid
/// map cut short) is noted on the capture, with its frame; every packet
/// is inspected, so the exit code is the findings' (1), not an error's.
#[test]
fn damaged_attribution_is_a_note_not_an_error() {
    let m = mixed();
    let apps: Vec<(i32, &str)> = APPS.iter().map(|a| (a.uid, a.package)).collect();
    let bad_crc = pd::pcapdroid_pcap(&m.net, &apps, |i| m.owner[i], true);
    let (code, lines) = scan_plain("attr-bad-crc", &bad_crc, &[]);
    assert_eq!(code, Some(1));
    assert!(of_type(&lines, "error").is_empty(), "{:?}", of_type(&lines, "error"));
    assert_eq!(check_mixed(&lines, &m, |a| a.package.into()), 54);
    let cap = of_type(&lines, "capture")[0];
    assert!(cap["attribution"]["notes"].as_u64().unwrap() >= 1, "{cap}");
    let note = &cap["notes"][0];
    assert_eq!(note["frame"], 1, "{cap}");
    assert!(note["message"].as_str().unwrap().contains("bad CRC"), "{cap}");
    let labels: Vec<(i32, &str, &str)> = APPS.iter().map(|a| (a.uid, a.package, a.label)).collect();
    let cut = pd::pcapdroid_pcapng(&m.net, &labels, |i| m.owner[i], true);
    let (code, lines) = scan_plain("attr-cut-map", &cut, &[]);
    assert_eq!(code, Some(1));
    assert!(of_type(&lines, "error").is_empty(), "{:?}", of_type(&lines, "error"));
    // Known by uid only: the map that would name them was cut short.
    assert_eq!(check_mixed(&lines, &m, |_| Value::Null), 54);
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["attribution"]["notes"], 3, "{cap}");
}

/// A uid map written after the handshake of its uid's first connection:
/// the connection took the uid alone, and its request is given the name
/// the map brought.
#[test]
fn a_uid_named_late_names_what_its_packets_made() {
    let mut net = Net::default();
    let req = format!("GET /?imei={} HTTP/1.1\r\nHost: late.example\r\n\r\n", imei(3));
    net.http(ts(1_700_000_000, 0), "10.1.0.7:40001", "198.51.100.9:80", req.as_bytes(), b"HTTP/1.1 204 No\r\n\r\n", 9);
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).unwrap();
    w.interface(Linktype::RAW, 6).unwrap();
    for (i, (t, p)) in net.packets.iter().enumerate() {
        if i == 3 {
            w.custom(teleaudit::capture::appmeta::PCAPDROID_PEN, &pd::uid_map(10777, "com.late.map", "Late")).unwrap();
        }
        w.packet_with_options(0, *t, p, &[(1, b"u-10777")]).unwrap();
    }
    let (_, lines) = scan_plain("attr-late-map", &w.into_inner(), &[]);
    let f = of_type(&lines, "finding");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0]["app"].as_str(), f[0]["app_id"].as_i64()), (Some("com.late.map"), Some(10777)), "{f:?}");
    // One app in the capture record, with all its frames.
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["apps"].as_array().unwrap().len(), 1, "{cap}");
    assert_eq!(cap["apps"][0]["frames"], cap["frames"], "{cap}");
}

/// HTTP/2 in clear (prior knowledge, h2c) from a process named by
/// ptcpdump comments on its SYN only: the stream's request is the
/// process's.
#[test]
fn http2_requests_carry_the_app() {
    let path = format!("/v1/ping?imei={}", imei(11));
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 11]);
    block.extend_from_slice(b"h2c.example");
    let mut client = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    client.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    let n = block.len() as u32;
    client.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8, 1, 0x5, 0, 0, 0, 1]);
    client.extend_from_slice(&block);
    let mut net = Net::default();
    let mut c = net.connect(ts(1_700_000_000, 0), "10.1.0.7:40001", "198.51.100.9:80", 1, 2);
    net.send(ts(1_700_000_001, 0), &mut c, &client, 1400);
    net.close(ts(1_700_000_002, 0), &mut c);
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).unwrap();
    w.interface(Linktype::RAW, 6).unwrap();
    for (i, (t, p)) in net.packets.iter().enumerate() {
        let comment = APPS[1].comment();
        let opts: &[(u16, &[u8])] = if i == 0 { &[(1, comment.as_bytes())] } else { &[] };
        w.packet_with_options(0, *t, p, opts).unwrap();
    }
    let (_, lines) = scan_plain("attr-h2c", &w.into_inner(), &[]);
    let f = of_type(&lines, "finding");
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["protocol"], "http/2", "{f:?}");
    assert_eq!((f[0]["app"].as_str(), f[0]["app_id"].as_i64()), (Some("adsdk"), Some(APPS[1].pid)), "{f:?}");
}
