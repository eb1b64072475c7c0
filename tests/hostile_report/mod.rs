//! Hostile volume for the reporters: hundreds of thousands of findings to
//! more distinct hosts than any tally keeps. Findings stream to the
//! reporter as they are made, so memory stays bounded whatever their
//! number; per-host tallies stop at `MAX_HOSTS` and count the rest
//! together; the output of a batch is the same for any `--jobs`.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::Value;
use teleaudit::capture::writer::PcapWriter;

use super::hostile_tls::run_measured;
use super::support::{self, Link, Net};

/// Requests in the capture, each with one IMEI.
const REQUESTS: u32 = 120_000;
/// Distinct destination hosts: more than the tallies keep.
const HOSTS: u32 = 12_000;
/// Far above what the scan needs, far below what holding every finding
/// (and every request line) of the capture took before findings streamed.
const PEAK_LIMIT: u64 = 64 << 20;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-hostile-report-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// `REQUESTS` GET requests on 300 keep-alive connections, each with an
/// IMEI in its query and a Host of its own among `HOSTS`.
fn dense_capture(path: &Path) {
    let file = std::fs::File::create(path).expect("create capture");
    let mut w =
        PcapWriter::new(BufWriter::with_capacity(1 << 20, file), Link::Raw.linktype(), false, false).expect("header");
    let per_conn = REQUESTS / 300;
    for c in 0..300u32 {
        let mut net = Net::default();
        let t = support::ts(1_700_000_000 + i64::from(c), 0);
        let client = format!("10.0.{}.{}:{}", c >> 8, c & 0xff, 30_000 + c);
        let mut conn = net.connect(t, &client, "192.0.2.80:80", c.wrapping_mul(7919), c.wrapping_mul(31));
        for k in 0..per_conn {
            let i = c * per_conn + k;
            let req = format!("GET /r?imei=356938035643809&n={i} HTTP/1.1\r\nHost: h{}.example.org\r\n\r\n", i % HOSTS);
            net.send(t, &mut conn, req.as_bytes(), 1400);
        }
        net.close(t, &mut conn);
        for (t, p) in &net.packets {
            w.packet(*t, &Link::Raw.frame(p)).expect("write packet");
        }
    }
    w.into_inner().flush().expect("flush capture");
}

#[test]
fn many_findings_stream_in_bounded_memory() {
    let dir = tmpdir("dense");
    let path = dir.join("dense.pcap");
    dense_capture(&path);
    let p = path.to_str().unwrap();

    let (out, peak, how) = run_measured(&["scan", "--format", "jsonl", p]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let mut findings = 0u64;
    let mut hosts = Vec::new();
    let mut capture = None;
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).expect("JSON line");
        match v["type"].as_str() {
            Some("finding") => {
                findings += 1;
                assert_eq!(v["kind"], "imei");
            }
            Some("host") => hosts.push(v),
            Some("capture") => capture = Some(v),
            _ => {}
        }
    }
    eprintln!("{REQUESTS} findings in JSON Lines: peak RSS {:.1} MB ({how})", peak as f64 / (1 << 20) as f64);
    assert_eq!(findings, u64::from(REQUESTS));
    assert_eq!(capture.expect("capture record")["findings"], u64::from(REQUESTS));
    // The tally of hosts is capped: the hosts past it are counted together.
    assert_eq!(hosts.len(), teleaudit::finding::MAX_HOSTS + 1);
    let other = hosts.iter().find(|h| h["host"] == teleaudit::finding::OTHER_HOSTS).expect("other hosts");
    let listed: u64 = hosts.iter().map(|h| h["findings_by_kind"]["imei"].as_u64().unwrap_or(0)).sum();
    assert_eq!(listed, u64::from(REQUESTS), "every finding is in a host's tally");
    assert!(other["findings_by_kind"]["imei"].as_u64().unwrap_or(0) > 0);
    assert!(peak < PEAK_LIMIT, "JSON Lines: peak RSS {peak} bytes ({how}) over {PEAK_LIMIT}");

    // Text: one leak per host (the same IMEI to each), the table capped
    // at MAX_LEAKS with the rest counted; --details streams every request.
    let (out, peak, how) = run_measured(&["scan", p]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{REQUESTS} findings in text: peak RSS {:.1} MB ({how})", peak as f64 / (1 << 20) as f64);
    let cap = teleaudit::report::leaks::MAX_LEAKS;
    let head = format!("{cap} leaks to {cap} hosts ({REQUESTS} findings in {REQUESTS} of {REQUESTS} requests");
    assert!(text.contains(&head), "{}", &text[..2000]);
    let leak_lines = text.lines().filter(|l| l.starts_with("    HIGH ")).count();
    assert_eq!(leak_lines, cap);
    assert!(text.lines().all(|l| !l.starts_with("    HIGH ") || l.contains(" x10 ")), "ten requests per host");
    let untabled = u64::from(REQUESTS) - 10 * cap as u64;
    assert!(text.contains(&format!("  and {untabled} more findings of further distinct leaks")), "{}", &text[..2000]);
    assert_eq!(text.matches("35***********09").count(), cap, "one per leak line");
    assert!(peak < PEAK_LIMIT, "text: peak RSS {peak} bytes ({how}) over {PEAK_LIMIT}");

    let (out, peak, how) = run_measured(&["scan", "--details", p]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    eprintln!("{REQUESTS} findings in text --details: peak RSS {:.1} MB ({how})", peak as f64 / (1 << 20) as f64);
    assert_eq!(text.matches("35***********09").count(), 2 * REQUESTS as usize + cap, "request, finding, leak lines");
    assert!(peak < PEAK_LIMIT, "text --details: peak RSS {peak} bytes ({how}) over {PEAK_LIMIT}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The output of a batch does not depend on the number of workers: the
/// same records in the same order (only timings differ).
#[test]
fn batch_output_is_the_same_for_any_jobs() {
    let dir = tmpdir("jobs");
    let fixture = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wiko-sts.pcap")).unwrap();
    let keys = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/wiko-sts.keys")).unwrap();
    for (i, name) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        let sub = dir.join(name);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join("wiko-sts.pcap"), &fixture).unwrap();
        if i % 2 == 0 {
            std::fs::write(sub.join("wiko-sts.keys"), &keys).unwrap();
        }
    }
    let run = |jobs: &str, format: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_teleaudit"))
            .args(["scan", "--format", format, "-j", jobs, dir.to_str().unwrap()])
            .output()
            .expect("run");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // Timings differ from run to run; nothing else may.
        let re =
            regex::Regex::new(r#"("elapsed_seconds": ?)[0-9.e-]+|("peak_memory_bytes": ?)[0-9]+|[0-9.]+ s$"#).unwrap();
        text.lines().map(|l| re.replace_all(l, "$1$2-").into_owned()).collect::<Vec<_>>()
    };
    for format in ["jsonl", "text", "sarif"] {
        let one = run("1", format);
        assert!(one.len() > 20, "{one:?}");
        for jobs in ["2", "3", "8"] {
            assert_eq!(one, run(jobs, format), "{format} with -j {jobs}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Connections open at once, each sending the head of a large upload and
/// then its body slowly, round after round, so that all are in progress
/// together.
const SLOW_UPLOADS: u32 = 400;
const ROUNDS: usize = 100;
const PIECE: usize = 1400;

fn slow_uploads(path: &Path) {
    let file = std::fs::File::create(path).expect("create capture");
    let mut w =
        PcapWriter::new(BufWriter::with_capacity(1 << 20, file), Link::Raw.linktype(), false, false).expect("header");
    let t = support::ts(1_700_000_000, 0);
    let mut net = Net::default();
    let mut conns: Vec<support::Tcp> = (0..SLOW_UPLOADS)
        .map(|i| {
            let client = format!("10.1.{}.{}:{}", i >> 8, i & 0xff, 40_000 + i);
            let mut c = net.connect(t, &client, "192.0.2.90:80", i.wrapping_mul(977), i.wrapping_mul(13));
            let head = format!(
                "POST /upload HTTP/1.1\r\nHost: up{i}.example.org\r\nContent-Type: application/x-www-form-urlencoded\r\n\
                 Content-Length: 10000000\r\n\r\nimei=356938035643809&pad="
            );
            net.send(t, &mut c, head.as_bytes(), 1400);
            c
        })
        .collect();
    let pad = vec![b'a'; PIECE];
    for _ in 0..ROUNDS {
        for c in conns.iter_mut() {
            net.send(t, c, &pad, PIECE);
        }
        for (t, p) in net.packets.drain(..) {
            w.packet(t, &Link::Raw.frame(&p)).expect("write packet");
        }
    }
    w.into_inner().flush().expect("flush capture");
}

/// Hundreds of uploads in progress at once hold more than `--max-held`
/// together: the connections that grow past it send out what they have
/// (noted), memory stays bounded, and every IMEI is still found.
#[test]
fn uploads_in_progress_share_the_held_limit() {
    let dir = tmpdir("held");
    let path = dir.join("slow.pcap");
    slow_uploads(&path);
    let p = path.to_str().unwrap();
    let held = 4 << 20;
    // One worker: the limit's own cost, without the fixed buffers of
    // workers fed in rounds (about 10 MB more with two).
    let (out, peak, how) = run_measured(&["scan", "--format", "jsonl", "--max-held", &held.to_string(), "-j", "1", p]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON")).collect();
    let imeis = lines.iter().filter(|v| v["type"] == "finding" && v["kind"] == "imei").count();
    let cap = lines.iter().find(|v| v["type"] == "capture").expect("capture record");
    let size = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "{SLOW_UPLOADS} uploads in progress, {:.1} MB capture: peak RSS {:.1} MB ({how}), held limit hit {}",
        size as f64 / 1e6,
        peak as f64 / (1 << 20) as f64,
        cap["held_limit_hits"]
    );
    assert_eq!(imeis, SLOW_UPLOADS as usize, "every upload's IMEI is found");
    assert!(cap["held_limit_hits"].as_u64().unwrap() > 0, "{cap}");
    // Bodies held together would be the whole capture's payload. Counted
    // above the binary's own footprint, measured the same way on the small
    // fixture (a debug build's resident code and tables alone are about
    // 19 MB, a release build's 10).
    let fixture = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/wiko-sts.pcap");
    let (_, base, _) =
        run_measured(&["scan", "--format", "jsonl", "--max-held", &held.to_string(), "-j", "1", fixture]);
    let payload = (SLOW_UPLOADS as usize * ROUNDS * PIECE) as u64;
    let grown = peak.saturating_sub(base);
    assert!(
        grown < payload / 4,
        "peak RSS {peak} bytes ({how}), {grown} over the fixture's {base}, with {payload} bytes of bodies in progress"
    );
    // Each early request says why.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .args(["requests", "--format", "jsonl", "--max-held", &held.to_string(), p])
        .output()
        .expect("run");
    let noted = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"type\":\"request\"") && l.contains("--max-held"))
        .count();
    assert!(noted > 0 && noted <= SLOW_UPLOADS as usize, "{noted}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// An IMEI in places other than a finding's value: a Host header, a JSON
/// key, a Content-Encoding echoed in a note, a TLS server name, a base64
/// form in a path, a file name; and an ESC sequence in a URI. No default
/// output (text, JSON Lines, SARIF, `requests`, `diff`, the baseline)
/// holds the IMEI or a raw control byte; `--show-values` shows it.
#[test]
fn identifier_values_never_escape_masking() {
    use base64::Engine as _;
    const IMEI: &str = "356938035643809";
    let b64 = base64::engine::general_purpose::STANDARD.encode(IMEI);
    let mut net = Net::default();
    let json = format!("{{\"{IMEI}\": {{\"imei\": \"{IMEI}\"}}}}");
    let reqs = [
        format!("GET /a?imei={IMEI} HTTP/1.1\r\nHost: {IMEI}.tracker.example\r\n\r\n"),
        format!(
            "POST /b HTTP/1.1\r\nHost: h.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
            json.len()
        ),
        format!(
            "POST /c?imei={IMEI} HTTP/1.1\r\nHost: h.example\r\nContent-Encoding: x{IMEI}\r\nContent-Length: 3\r\n\r\nabc"
        ),
        format!("GET /u/{b64}/\x1b[31mred?imei={IMEI} HTTP/1.1\r\nHost: h.example\r\n\r\n"),
    ];
    for (i, r) in reqs.iter().enumerate() {
        net.http(
            support::ts(1_700_000_000 + i as i64, 0),
            &format!("10.0.0.5:{}", 42_000 + i),
            "192.0.2.7:80",
            r.as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            77 + i as u32,
        );
    }
    let hello = teleaudit::harness::tls_record(
        22,
        &teleaudit::harness::tls_client_hello(&[3; 32], Some(&format!("{IMEI}.sni.example")), false),
    );
    let mut c = net.connect(support::ts(1_700_000_010, 0), "10.0.0.5:43000", "192.0.2.8:443", 5, 6);
    net.send(support::ts(1_700_000_010, 100_000), &mut c, &hello, 1400);
    let dir = tmpdir("masking");
    let path = dir.join(format!("dev-{IMEI}.pcap"));
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let p = path.to_str().unwrap();
    let base = dir.join("baseline.json");
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run");
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let outputs = [
        run(&["scan", p]),
        run(&["scan", "--format", "jsonl", p]),
        run(&["scan", "--format", "sarif", p]),
        run(&["requests", p]),
        run(&["requests", "--format", "jsonl", p]),
        run(&["diff", "--format", "jsonl", dir.join("none").to_str().unwrap(), p]),
        run(&["diff", dir.join("none").to_str().unwrap(), p]),
        run(&["scan", "--write-baseline", base.to_str().unwrap(), "--format", "jsonl", p]),
    ];
    let text = &outputs[0].0;
    assert!(text.contains("35***********09"), "{text}");
    assert!(!text.contains('\x1b'), "raw ESC in the text report: {text:?}");
    assert!(text.contains("\\x1b[31mred"), "{text}");
    assert!(!outputs[3].0.contains('\x1b'), "raw ESC in the requests listing");
    for (i, (out, err)) in outputs.iter().enumerate() {
        assert!(!out.contains(IMEI) && !out.contains(&b64), "output {i} leaks the IMEI:\n{out}");
        assert!(!err.contains(IMEI), "stderr {i} leaks the IMEI:\n{err}");
    }
    let baseline = std::fs::read_to_string(&base).expect("baseline written");
    assert!(baseline.contains("fingerprint") && !baseline.contains(IMEI), "{baseline}");
    // The SNI, the JSON key and the note were there to be masked.
    let jsonl = &outputs[1].0;
    assert!(jsonl.contains("35***********09.sni.example"), "{jsonl}");
    assert!(jsonl.contains("$.35***********09"), "{jsonl}");
    // Asked for, values are shown.
    let (shown, _) = run(&["scan", "--format", "jsonl", "--show-values", p]);
    assert!(shown.contains(&format!("{IMEI}.tracker.example")), "{shown}");
    let _ = std::fs::remove_dir_all(&dir);
}
