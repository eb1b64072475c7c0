//! Whole-capture throughput: `cargo bench --bench throughput`.
//!
//! Writes (once, under target/) a capture of at least 200 MB where about
//! a tenth of the bytes are HTTP requests (JSON uploads carrying
//! identifiers) and the rest TLS sessions and HTTP downloads, then scans
//! it on one core with the built-in rules and a device profile, in a child
//! process so its peak memory is the scan's alone. Prints MB/s and peak
//! resident memory. Set TELEAUDIT_BENCH_MB to change the size.
//!
//! Then the same for a TLS-heavy capture of the same size: TLS 1.2
//! AES-GCM and TLS 1.3 AES-GCM sessions with their keys in a key log
//! beside it, each a few small HTTP uploads carrying identifiers and a
//! large download; scanned with the keys, it reports MB/s of capture and
//! of decrypted client data next to the cleartext figure. Each scan is
//! followed by `cat` of the same file, timed in the same run: the floor.
//! Then record decryption alone per cipher suite, in MB/s.
//!
//! Last, a capture shaped like real phone traffic: keep-alive
//! connections of small form, JSON and query uploads, each carrying two
//! identifiers, each answered by a few KB (a JSON answer, an image),
//! among TLS sessions without keys: about one request per 7 KB. It is
//! scanned by the release binary itself (`teleaudit scan --format jsonl`
//! with the default rules, output to a sink), median of 3 runs, and
//! reported in MB/s, requests/s, findings/s and peak memory, with `cat`
//! of the same file timed in the same run.

#[path = "../tests/support/mod.rs"]
mod support;

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use support::{Link, Net, pseudo_random, ts};
use teleaudit::capture::writer::PcapWriter;
use teleaudit::detect::Engine;
use teleaudit::detect::profile::Profile;
use teleaudit::detect::rules::RuleSet;
use teleaudit::harness::{TlsKind, TlsSession};
use teleaudit::scan::{Input, Mode, ScanConfig, scan_file};

const PROFILE: &str = "imei = [\"356938035643809\"]\nserial = \"WKL3A1B2C3D4\"\nmac = \"a4:5e:60:12:34:56\"\nandroid_id = \"9774d56d682e549c\"\n";

fn upload(i: u64) -> Vec<u8> {
    let mut events = String::new();
    for e in 0..450 {
        if e > 0 {
            events.push(',');
        }
        events.push_str(&format!(
            r#"{{"ev":"screen_view","t":{},"screen":"home_{e}","dur_ms":{},"net":"wifi","seq":{}}}"#,
            1_600_000_000_000u64 + i * 1000 + e,
            e * 37 % 5000,
            i * 1000 + e
        ));
    }
    let body = format!(
        r#"{{"device":{{"imei":"356938035643809","sn":"WKL3A1B2C3D4","model":"WIKO LENNY3","android_id":"9774d56d682e549c"}},"events":[{events}]}}"#
    );
    format!(
        "POST /v3/batch?app=com.example.app&v=7.1.{i} HTTP/1.1\r\nHost: collect.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\nUser-Agent: okhttp/4.9.0\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

type Writer = PcapWriter<BufWriter<std::fs::File>>;

/// A buffered Ethernet pcap writer at `path`.
fn bench_writer(path: &Path) -> std::io::Result<Writer> {
    let file = std::fs::File::create(path)?;
    PcapWriter::new(BufWriter::with_capacity(1 << 20, file), Link::Ethernet.linktype(), false, false)
}

/// Writes the packets of `net` as Ethernet frames; returns the bytes written.
fn write_net(w: &mut Writer, net: &Net) -> std::io::Result<u64> {
    let mut written = 0;
    for (t, p) in &net.packets {
        let f = Link::Ethernet.frame(p);
        written += 16 + f.len() as u64;
        w.packet(*t, &f)?;
    }
    Ok(written)
}

fn generate(path: &Path, target_bytes: u64) -> std::io::Result<(u64, u64)> {
    let mut w = bench_writer(path)?;
    let tls_server = pseudo_random(1, 64 << 10);
    let download = pseudo_random(2, 128 << 10);
    let (mut written, mut request_bytes) = (0u64, 0u64);
    let mut i = 0u64;
    while written < target_bytes {
        let mut net = Net::default();
        let client = format!("10.{}.{}.{}:{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 30_000 + (i % 30_000));
        let t = ts(1_600_000_000 + i as i64, 0);
        match i % 10 {
            0..=1 => {
                let req = upload(i);
                request_bytes += req.len() as u64;
                net.http(t, &client, "198.51.100.30:80", &req, b"HTTP/1.1 204 No Content\r\n\r\n", i as u32);
            }
            2..=5 => {
                let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00];
                hello.extend(pseudo_random(i, 1500));
                net.http(t, &client, "192.0.2.50:443", &hello, &tls_server, i as u32);
            }
            _ => {
                let req = format!("GET /files/{i}.bin HTTP/1.1\r\nHost: cdn.example\r\nAccept: */*\r\n\r\n");
                request_bytes += req.len() as u64;
                let mut resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", download.len()).into_bytes();
                resp.extend_from_slice(&download);
                net.http(t, &client, "198.51.100.8:80", req.as_bytes(), &resp, i as u32);
            }
        }
        written += write_net(&mut w, &net)?;
        i += 1;
    }
    w.into_inner().flush()?;
    Ok((written, request_bytes))
}

/// A TLS-heavy capture: every connection a full TLS 1.2 or 1.3
/// handshake, three small uploads with identifiers, and a 256 KB
/// download in 16 KB records. Writes the key log to `keylog`.
fn generate_tls(path: &Path, keylog: &Path, target_bytes: u64) -> std::io::Result<(u64, u64)> {
    let mut w = bench_writer(path)?;
    let mut keys = BufWriter::new(std::fs::File::create(keylog)?);
    let download = pseudo_random(3, 16 << 10);
    let (mut written, mut plain) = (0u64, 0u64);
    let mut i = 0u64;
    while written < target_bytes {
        let kind = if i.is_multiple_of(2) { TlsKind::Tls12Aes128Gcm } else { TlsKind::Tls13Aes128Gcm };
        let mut random = [0x7a; 32];
        random[..8].copy_from_slice(&i.to_be_bytes());
        let mut s = TlsSession::new(kind, random, Some("collect.example")).expect("session");
        keys.write_all(s.keylog.as_bytes())?;
        let mut net = Net::default();
        let client = format!("10.{}.{}.{}:{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 30_000 + (i % 30_000));
        let t = ts(1_600_000_000 + i as i64, 0);
        let mut c = net.connect(t, &client, "192.0.2.60:443", i as u32, !(i as u32));
        for (from_client, rec) in &s.flights {
            if *from_client {
                net.send(t, &mut c, rec, 1448);
            } else {
                net.reply(t, &mut c, rec, 1448);
            }
        }
        for k in 0..3 {
            let body = format!(r#"{{"imei":"356938035643809","android_id":"9774d56d682e549c","seq":{k}}}"#);
            let req = format!(
                "POST /v1/ping?sn=WKL3A1B2C3D4 HTTP/1.1\r\nHost: collect.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            plain += req.len() as u64;
            net.send(t, &mut c, &s.client.encrypt(23, req.as_bytes()).expect("encrypt"), 1448);
        }
        let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 262144\r\n\r\n".to_vec();
        resp.extend_from_slice(&download[..(16 << 10) - resp.len()]);
        let mut records = s.server.encrypt(23, &resp).expect("encrypt");
        plain += resp.len() as u64;
        for _ in 1..16 {
            records.extend(s.server.encrypt(23, &download).expect("encrypt"));
            plain += download.len() as u64;
        }
        net.reply(t, &mut c, &records, 1448);
        net.close(t, &mut c);
        written += write_net(&mut w, &net)?;
        i += 1;
    }
    w.into_inner().flush()?;
    keys.flush()?;
    Ok((written, plain))
}

/// One small upload carrying two identifiers, in one of three shapes.
fn dense_upload(i: u64) -> Vec<u8> {
    // Twenty devices, each with its own IMEI; GPS positions that change
    // with every fix, as a phone's do: values that repeat and values
    // seen once (what the masker of printed text must keep up with).
    let imei = device_imei(i % 20);
    let gaid = "38400000-8cf0-11bd-b23e-10b96e40000d";
    let (lat, lon) = (48.85 + (i % 9973) as f64 * 1e-6, 2.35 + (i % 7919) as f64 * 1e-6);
    match i % 3 {
        0 => format!(
            "GET /v2/track?ev=open&imei={imei}&gaid={gaid}&lat={lat:.6}&lon={lon:.6}&t={} HTTP/1.1\r\nHost: t{}.ads.example\r\nUser-Agent: okhttp/4.9.0\r\n\r\n",
            1_600_000_000_000u64 + i,
            i % 40
        )
        .into_bytes(),
        1 => {
            let body = format!("android_id=9774d56d682e549c&mac=a4%3A5e%3A60%3A12%3A34%3A56&seq={i}&app=com.example.app");
            format!(
                "POST /collect HTTP/1.1\r\nHost: stats{}.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
                i % 40,
                body.len()
            )
            .into_bytes()
        }
        _ => {
            let body = format!(
                r#"{{"device":{{"imei":"{imei}","model":"WIKO LENNY3","os":"6.0"}},"user":{{"email":"user{}@mail.example"}},"event":"ping","seq":{i}}}"#,
                i % 1000
            );
            format!(
                "POST /v1/events HTTP/1.1\r\nHost: api{}.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                i % 40,
                body.len()
            )
            .into_bytes()
        }
    }
}

/// The IMEI of bench device `d`: a fixed TAC and serial, with its Luhn
/// check digit.
fn device_imei(d: u64) -> String {
    let body = format!("35693803{:06}", 564_380 + d);
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(k, b)| {
            let v = u32::from(b - b'0');
            if k % 2 == 0 {
                let x = v * 2;
                x / 10 + x % 10
            } else {
                v
            }
        })
        .sum();
    format!("{body}{}", (10 - sum % 10) % 10)
}

/// The finding-dense capture: connections of 24 uploads each, every
/// upload answered by 5 to 7 KB; every fourth connection a TLS session
/// without keys.
fn generate_dense(path: &Path, target_bytes: u64) -> std::io::Result<(u64, u64)> {
    let mut w = bench_writer(path)?;
    let answer = pseudo_random(5, 7 << 10);
    let (mut written, mut requests) = (0u64, 0u64);
    let mut i = 0u64;
    while written < target_bytes {
        let mut net = Net::default();
        let client = format!("10.{}.{}.{}:{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff, 30_000 + (i % 30_000));
        let t = ts(1_600_000_000 + i as i64, 0);
        if i % 4 == 3 {
            let mut c = net.connect(t, &client, "192.0.2.50:443", i as u32, !(i as u32));
            let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00];
            hello.extend(pseudo_random(i, 512));
            net.send(t, &mut c, &hello, 1448);
            net.reply(t, &mut c, &answer, 1448);
            for k in 0..8 {
                let mut rec = vec![0x17, 0x03, 0x03, 0x01, 0x80];
                rec.extend(pseudo_random(i * 31 + k, 384));
                net.send(t, &mut c, &rec, 1448);
                net.reply(t, &mut c, &answer[..6 << 10], 1448);
            }
            net.close(t, &mut c);
        } else {
            let mut c = net.connect(t, &client, "198.51.100.30:80", i as u32, !(i as u32));
            for k in 0..24 {
                let req = dense_upload(i * 24 + k);
                requests += 1;
                net.send(t, &mut c, &req, 1448);
                let size = (5 << 10) + ((i * 24 + k) % 3) as usize * 1024;
                let mut resp = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
                )
                .into_bytes();
                resp.extend_from_slice(&answer[..size]);
                net.reply(t, &mut c, &resp, 1448);
            }
            net.close(t, &mut c);
        }
        written += write_net(&mut w, &net)?;
        i += 1;
    }
    w.into_inner().flush()?;
    Ok((written, requests))
}

/// Scans `path` with the release binary (`--format jsonl`, default rules,
/// output to a sink) with one worker and with two, 3 times each; prints
/// the medians with requests, findings and peak memory from the summary
/// line, `cat` of the same file, and whether both gave the same lines.
fn scan_binary(path: &Path) {
    let size = std::fs::metadata(path).expect("capture").len() as f64;
    let mut cats = cat_times(path, 3);
    cats.sort_by(f64::total_cmp);
    let cat = cats.get(cats.len() / 2).copied();
    if let Some(cat) = cat {
        println!("  cat of the same file: {:.0} MB/s", size / 1e6 / cat);
    }
    let mut outputs = Vec::new();
    let mut medians = Vec::new();
    for jobs in [1, 2] {
        let (median, summary, lines) = scan_median(path, jobs);
        let f = &summary["findings"];
        let findings =
            f["high"].as_u64().unwrap_or(0) + f["medium"].as_u64().unwrap_or(0) + f["low"].as_u64().unwrap_or(0);
        let requests = summary["requests"].as_u64().unwrap_or(0);
        let peak = summary["peak_memory_bytes"].as_u64().unwrap_or(0) as f64 / 1e6;
        println!(
            "dense scan (teleaudit scan --format jsonl -j {jobs}, median of 3): {:.1} MB in {median:.3} s = {:.0} MB/s \
             ({:.3}x cat); {requests} requests ({:.0}/s), {findings} findings ({:.0}/s); peak memory {peak:.1} MB",
            size / 1e6,
            size / 1e6 / median,
            cat.map_or(0.0, |c| c / median),
            requests as f64 / median,
            findings as f64 / median
        );
        outputs.push(lines);
        medians.push(median);
    }
    println!(
        "  -j 2 against -j 1: {:.2}x; the same lines: {}",
        medians[0] / medians[1],
        if outputs[0] == outputs[1] { "yes" } else { "NO" }
    );
}

/// Median seconds of 3 scans (after one to warm the page cache), the
/// summary line, and the output lines but the capture and summary
/// records (which hold timings).
fn scan_median(path: &Path, jobs: usize) -> (f64, serde_json::Value, Vec<String>) {
    let bin = env!("CARGO_BIN_EXE_teleaudit");
    let mut times = Vec::new();
    let (mut summary, mut lines) = (serde_json::Value::Null, Vec::new());
    for run in 0..4 {
        let t = Instant::now();
        let out = std::process::Command::new(bin)
            .args(["scan", "--format", "jsonl", "-j", &jobs.to_string()])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .output()
            .expect("run teleaudit");
        let secs = t.elapsed().as_secs_f64();
        assert!(out.status.code().is_some_and(|c| c <= 1), "teleaudit failed");
        if run > 0 {
            times.push(secs);
        }
        let text = String::from_utf8_lossy(&out.stdout);
        if let Some(last) = text.lines().last() {
            summary = serde_json::from_str(last).unwrap_or_default();
        }
        lines = text
            .lines()
            .filter(|l| !l.contains(r#""type":"capture""#) && !l.contains(r#""type":"summary""#))
            .map(str::to_string)
            .collect();
    }
    times.sort_by(f64::total_cmp);
    (times[1], summary, lines)
}

/// Seconds `cat` takes to read `path` to a sink, `runs` times (runs that
/// could not start are left out).
fn cat_times(path: &Path, runs: usize) -> Vec<f64> {
    let mut out = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let ok = std::process::Command::new("cat")
            .arg(path)
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            out.push(t.elapsed().as_secs_f64());
        }
    }
    out
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The child: scans the capture twice (the first run warms the page
/// cache), prints the best time and the peak memory.
fn scan_only(path: &Path, keylog: Option<&Path>) {
    let profile = Profile::parse("bench-profile", PROFILE).expect("profile");
    let mut cfg = ScanConfig::new(Engine::new(RuleSet::builtin().expect("rules"), Some(&profile)), Mode::Scan);
    if let Some(k) = keylog {
        let mut log = teleaudit::app::tls::keylog::KeyLog::new();
        log.add(&std::fs::read(k).expect("key log"));
        cfg.keylog = std::sync::Arc::new(log);
    }
    let input = Input { path: path.to_path_buf(), display: path.display().to_string() };
    let size = std::fs::metadata(path).expect("capture").len();
    let mut best = f64::MAX;
    let mut findings = 0;
    let mut requests = 0;
    let mut tls = Default::default();
    for _ in 0..2 {
        let t = Instant::now();
        let rep = scan_file(&input, &cfg);
        best = best.min(t.elapsed().as_secs_f64());
        assert!(rep.errors.is_empty(), "{:?}", rep.errors);
        findings = rep.findings.len();
        requests = rep.stats.requests;
        tls = rep.stats.tls.clone();
    }
    let tls: teleaudit::finding::TlsStats = tls;
    if keylog.is_some() {
        // Client data is decrypted and parsed; the server's downloads are
        // counted from their record lengths once the keys are proven.
        let (client, server) = (tls.client_bytes as f64, tls.server_bytes as f64);
        println!(
            "tls scan: {} connections, {} decrypted; {:.1} MB of client plaintext decrypted and parsed, \
             {:.1} MB of server application data counted",
            tls.connections,
            tls.decrypted,
            client / 1e6,
            server / 1e6
        );
    }
    println!(
        "{}: {:.1} MB in {:.3} s = {:.0} MB/s on one core; {requests} requests, {findings} findings; peak RSS {:.1} MB",
        if keylog.is_some() { "tls scan" } else { "scan" },
        size as f64 / 1e6,
        best,
        size as f64 / 1e6 / best,
        peak_rss_kb() as f64 / 1024.0
    );
    // The floor: `cat` of the same file, timed in the same run.
    let cat = cat_times(path, 2).into_iter().fold(f64::MAX, f64::min);
    if cat < f64::MAX {
        println!(
            "  cat of the same file: {:.0} MB/s; the scan takes {:.1}x as long as cat",
            size as f64 / 1e6 / cat,
            best / cat
        );
    }
}

/// Record decryption alone, per suite: 64 MB of 16 KB records through
/// `RecordCipher::decrypt`, the cost of every protected byte that is
/// decrypted (client data, and server data of HTTP/2 to come).
fn decrypt_only() {
    use teleaudit::app::tls::crypto::{RecordCipher, Side, Version, suite};
    const RECORD: usize = 16 * 1024;
    const TOTAL: usize = 64 << 20;
    let plain = pseudo_random(3, RECORD);
    for id in [0x1301u16, 0x1303, 0xc02f, 0xc013] {
        let s = suite(id).expect("suite");
        let make = || {
            if s.tls13 {
                RecordCipher::tls13(s, &[7; 32]).expect("keys")
            } else {
                RecordCipher::tls12(s, Version::Tls12, &[7; 48], &[1; 32], &[2; 32], Side::Client, true).expect("keys")
            }
        };
        let (mut tx, mut rx) = (make(), make());
        let records: Vec<Vec<u8>> = (0..TOTAL / RECORD).map(|_| tx.encrypt(23, &plain).expect("encrypt")).collect();
        let mut out = Vec::with_capacity(RECORD + 64);
        let t = Instant::now();
        for r in &records {
            out.clear();
            let h: [u8; 5] = r[..5].try_into().expect("header");
            rx.decrypt(&h, &r[5..], &mut out).expect("decrypt");
        }
        let secs = t.elapsed().as_secs_f64();
        println!("decrypt {}: {:.0} MB/s on one core", s.name, TOTAL as f64 / 1e6 / secs);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--scan-only") {
        scan_only(Path::new(&args[i + 1]), args.get(i + 2).map(Path::new));
        return;
    }
    let mb: u64 = std::env::var("TELEAUDIT_BENCH_MB").ok().and_then(|v| v.parse().ok()).unwrap_or(200);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target");
    // TELEAUDIT_BENCH=dense runs the finding-dense bench alone.
    if std::env::var("TELEAUDIT_BENCH").is_ok_and(|b| b == "dense") {
        dense_bench(&dir, mb);
        return;
    }
    let path = dir.join(format!("bench-mixed-{mb}mb.pcap"));
    if !path.exists() {
        let t = Instant::now();
        let (written, req) = generate(&path, mb * 1_000_000).expect("write bench capture");
        println!(
            "generated {} ({:.1} MB, {:.1}% HTTP request bytes) in {:.1} s",
            path.display(),
            written as f64 / 1e6,
            req as f64 * 100.0 / written as f64,
            t.elapsed().as_secs_f64()
        );
    }
    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--scan-only")
        .arg(&path)
        .status()
        .expect("run the scan child");
    assert!(status.success());
    let tls_path = dir.join(format!("bench-tls-{mb}mb.pcap"));
    let keylog = dir.join(format!("bench-tls-{mb}mb.keys"));
    if !tls_path.exists() || !keylog.exists() {
        let t = Instant::now();
        let (written, plain) = generate_tls(&tls_path, &keylog, mb * 1_000_000).expect("write TLS bench capture");
        println!(
            "generated {} ({:.1} MB, {:.1} MB of plaintext) in {:.1} s",
            tls_path.display(),
            written as f64 / 1e6,
            plain as f64 / 1e6,
            t.elapsed().as_secs_f64()
        );
    }
    let status = std::process::Command::new(std::env::current_exe().expect("own path"))
        .arg("--scan-only")
        .arg(&tls_path)
        .arg(&keylog)
        .status()
        .expect("run the TLS scan child");
    assert!(status.success());
    decrypt_only();
    dense_bench(&dir, mb);
}

fn dense_bench(dir: &Path, mb: u64) {
    let dense = dir.join(format!("bench-dense-v2-{mb}mb.pcap"));
    if !dense.exists() {
        let t = Instant::now();
        let (written, requests) = generate_dense(&dense, mb * 1_000_000).expect("write dense bench capture");
        println!(
            "generated {} ({:.1} MB, {requests} requests: one per {:.1} KB) in {:.1} s",
            dense.display(),
            written as f64 / 1e6,
            written as f64 / requests as f64 / 1e3,
            t.elapsed().as_secs_f64()
        );
    }
    scan_binary(&dense);
}
