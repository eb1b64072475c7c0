//! Hostile TLS: many connections that never finish a record, records
//! held past the limit while their keys come later in the capture, and
//! the reproducers of the `tls` and `keylog` fuzz targets. The captures
//! are written here (tests/support and the harness's TLS sessions, whose
//! keys are real), then scanned by the binary, whose peak memory is
//! measured from outside.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use teleaudit::capture::writer::PcapWriter;
use teleaudit::harness::{TlsKind, TlsSession, tls_client_hello, tls_record};

use super::support::{self, Link, Net};

/// Half-open connections in the memory test.
const HALF_OPEN: u32 = 100_000;
/// The design's bound on peak memory at any capture size.
const PEAK_LIMIT: u64 = 200 << 20;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-hostile-tls-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn record<'a>(lines: &'a [Value], t: &str) -> &'a Value {
    lines.iter().find(|v| v["type"] == t).unwrap_or_else(|| panic!("no {t} record in {lines:?}"))
}

/// The binary's exit says it finished (0: no findings, 1: findings),
/// not that it panicked (101) or was killed.
fn assert_finished(out: &Output) {
    assert!(matches!(out.status.code(), Some(0 | 1)), "{:?}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
}

fn vm_hwm_kb(status: &str) -> Option<u64> {
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Runs the binary and measures its peak resident memory from outside.
/// With GNU time, `wait4`'s `ru_maxrss` of the child (exact, what the
/// kernel kept); otherwise `VmHWM` of `/proc/<pid>/status` polled until
/// the child exits (a lower bound: growth after the last poll is missed).
/// Either way the larger of that and the peak the binary reports of itself
/// in its summary. Returns the output, the peak in bytes and how it was
/// measured.
pub fn run_measured(args: &[&str]) -> (Output, u64, &'static str) {
    let exe = env!("CARGO_BIN_EXE_teleaudit");
    let time = Path::new("/usr/bin/time");
    let with_time = time.exists()
        && Command::new(time).args(["-v", "true"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    let (out, outside, how) = if with_time {
        // One folder per run: tests measured at once must not share it.
        static RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let run = RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let report = tmpdir(&format!("time-{run}")).join("rusage");
        let out = Command::new(time)
            .arg("-v")
            .arg("-o")
            .arg(&report)
            .arg(exe)
            .args(args)
            .output()
            .expect("run teleaudit under time");
        let text = std::fs::read_to_string(&report).unwrap_or_default();
        let kb: u64 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no maximum RSS in {text:?}"));
        (out, kb * 1024, "wait4 ru_maxrss (GNU time -v)")
    } else {
        let child =
            Command::new(exe).args(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run teleaudit");
        let status_path = format!("/proc/{}/status", child.id());
        let poll = std::thread::spawn(move || {
            let mut peak = 0;
            // Ends when the child is gone or a zombie (no Vm lines).
            while let Some(kb) = std::fs::read_to_string(&status_path).ok().as_deref().and_then(vm_hwm_kb) {
                peak = peak.max(kb);
                std::thread::sleep(Duration::from_millis(2));
            }
            peak
        });
        let out = child.wait_with_output().expect("wait for teleaudit");
        (out, poll.join().unwrap_or(0) * 1024, "VmHWM polled in /proc/<pid>/status")
    };
    // The summary of a JSON Lines run (other formats: measured outside only).
    let own = String::from_utf8_lossy(&out.stdout)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str::<Value>(l).ok().filter(|v| v["type"] == "summary"))
        .and_then(|s| s["peak_memory_bytes"].as_u64())
        .unwrap_or(0);
    (out, outside.max(own), how)
}

/// The `i`-th of many TLS connections open at once (a millisecond
/// apart, far inside the idle timeout, below the flow table's size): its
/// handshake, a ClientHello with `sni`, then what `more` sends; returns
/// its packets.
fn tls_connection(
    i: u32,
    sni: &str,
    more: impl FnOnce(&mut Net, teleaudit::util::Timestamp, &mut support::Tcp),
) -> Net {
    let mut net = Net::default();
    let client = format!("10.{}.{}.{}:{}", 1 + (i >> 16), (i >> 8) & 0xff, i & 0xff, 20_000 + i % 40_000);
    let server = format!("192.0.2.{}:443", 1 + i % 200);
    let t = support::ts(1_600_000_000 + i64::from(i / 1000), (i % 1000) * 1000);
    let mut c = net.connect(t, &client, &server, i.wrapping_mul(7919), i.wrapping_mul(104_729));
    let mut random = [0u8; 32];
    random[..4].copy_from_slice(&i.to_be_bytes());
    net.send(t, &mut c, &tls_record(22, &tls_client_hello(&random, Some(sni), false)), 1400);
    more(&mut net, t, &mut c);
    net
}

/// One ClientHello with a server name, then the first 300 bytes of a
/// 16 KB application data record, never finished, on each of 100,000
/// connections open at once (a millisecond apart, far inside the idle
/// timeout, below the flow table's size). Everything a connection holds is
/// bounded, so the scan stays under 200 MB; and every connection is said
/// not to have been inspected.
#[test]
fn many_half_open_tls_connections_stay_bounded() {
    let dir = tmpdir("half-open");
    let path = dir.join("half-open.pcap");
    let started = Instant::now();
    {
        let file = std::fs::File::create(&path).expect("create capture");
        let mut w = PcapWriter::new(BufWriter::with_capacity(1 << 20, file), Link::Raw.linktype(), false, false)
            .expect("pcap header");
        let mut partial = vec![23, 3, 3, 0x40, 0x00];
        partial.extend(support::pseudo_random(7, 300));
        for i in 0..HALF_OPEN {
            let net = tls_connection(i, &format!("h{}.example.net", i % 5000), |net, t, c| {
                net.send(t, c, &partial, 1400);
            });
            for (t, p) in &net.packets {
                w.packet(*t, &Link::Raw.frame(p)).expect("write packet");
            }
        }
        w.into_inner().flush().expect("flush capture");
    }
    let written = started.elapsed();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let started = Instant::now();
    let (out, peak, how) = run_measured(&["scan", "--format", "jsonl", path.to_str().unwrap()]);
    let scanned = started.elapsed();
    eprintln!(
        "{HALF_OPEN} half-open TLS connections: capture {:.1} MB written in {:.1} s, scanned in {:.1} s; \
         peak RSS {:.1} MB ({how})",
        size as f64 / 1e6,
        written.as_secs_f64(),
        scanned.as_secs_f64(),
        peak as f64 / (1 << 20) as f64
    );
    assert_finished(&out);
    let lines = jsonl(&out);
    let cap = record(&lines, "capture");
    let (tls, not) = (&cap["tls"], &cap["not_inspected"]);
    assert!(peak < PEAK_LIMIT, "peak RSS {peak} bytes ({how}) over {PEAK_LIMIT}");
    assert_eq!(tls["connections"], u64::from(HALF_OPEN), "{tls}");
    assert_eq!(not["tls_connections"], u64::from(HALF_OPEN), "{tls} {not}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 100,000 TLS 1.3 connections in a pcapng file (where keys could still
/// come in a Decryption Secrets Block, so records wait for them), each
/// with a whole handshake in clear and one protected record from the
/// client, no key ever: the records held while waiting stay within
/// `--max-tls-held`, the scan under 200 MB, and every connection is
/// counted as having no key.
#[test]
fn many_connections_waiting_for_keys_stay_bounded() {
    use teleaudit::capture::writer::PcapngWriter;
    use teleaudit::harness::tls_server_hello;
    let dir = tmpdir("waiting");
    let path = dir.join("waiting.pcapng");
    {
        let file = std::fs::File::create(&path).expect("create capture");
        let mut w = PcapngWriter::new(BufWriter::with_capacity(1 << 20, file));
        w.section(false).expect("section");
        w.interface(Link::Raw.linktype(), 6).expect("interface");
        let mut protected = vec![23, 3, 3, 0x01, 0x2c];
        protected.extend(support::pseudo_random(9, 300));
        for i in 0..HALF_OPEN {
            let net = tls_connection(i, "wait.example.net", |net, t, c| {
                net.reply(t, c, &tls_record(22, &tls_server_hello(&[1; 32], 0x1301, true, false)), 1400);
                net.send(t, c, &protected, 1400);
            });
            for (t, p) in &net.packets {
                w.packet(0, *t, &Link::Raw.frame(p)).expect("write packet");
            }
        }
        w.into_inner().flush().expect("flush capture");
    }
    let (out, peak, how) = run_measured(&["scan", "--format", "jsonl", path.to_str().unwrap()]);
    eprintln!(
        "{HALF_OPEN} TLS connections waiting for keys: peak RSS {:.1} MB ({how})",
        peak as f64 / (1 << 20) as f64
    );
    assert_finished(&out);
    let lines = jsonl(&out);
    let tls = &record(&lines, "capture")["tls"];
    assert!(peak < PEAK_LIMIT, "peak RSS {peak} bytes ({how}) over {PEAK_LIMIT}");
    assert_eq!(tls["connections"], u64::from(HALF_OPEN), "{tls}");
    assert_eq!(tls["not_decrypted"]["no_key"]["connections"], u64::from(HALF_OPEN), "{tls}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A TLS 1.2 session whose client sends ten 4 KB uploads before the
/// capture's Decryption Secrets Block gives its keys; the server answers
/// each when `answers`; the connection closes before the keys come when
/// `close`. Returns the pcapng.
fn late_keys_capture(answers: bool, close: bool) -> Vec<u8> {
    let mut net = Net::default();
    let t = support::ts(1_600_000_000, 0);
    let mut c = net.connect(t, "10.0.0.5:41000", "192.0.2.9:443", 1000, 2000);
    let mut s = TlsSession::new(TlsKind::Tls12Aes128Gcm, [0x42; 32], Some("late.example.net")).expect("session");
    for (from_client, rec) in &s.flights {
        if !answers && !*from_client {
            // Only the server's hellos, in clear; nothing it protects.
            if rec[0] == 22 {
                net.reply(t, &mut c, rec, 1400);
            }
        } else if *from_client {
            net.send(t, &mut c, rec, 1400);
        } else {
            net.reply(t, &mut c, rec, 1400);
        }
    }
    let body = "x".repeat(4000);
    for i in 0..10 {
        let req = format!(
            "POST /u/{i}?imei=356938035643809 HTTP/1.1\r\nHost: late.example.net\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let rec = s.client.encrypt(23, req.as_bytes()).expect("encrypt");
        net.send(t, &mut c, &rec, 1400);
        if answers {
            let rec = s.server.encrypt(23, b"HTTP/1.1 204 No Content\r\n\r\n").expect("encrypt");
            net.reply(t, &mut c, &rec, 1400);
        }
    }
    if close {
        net.close(t, &mut c);
    }
    let mut capture = support::pcapng(&net, &[(Link::Ethernet, 6)], false);
    capture.extend(support::decryption_secrets_block(s.keylog.as_bytes()));
    capture
}

/// Scans `capture` once with `--max-tls-held 8192`, where the client's
/// 40 KB cannot all wait for the keys (the capture record must name the
/// limit for that connection, and the binary never panics), and once
/// with the default limit, where it decrypts and the IMEI is found.
fn check_late_keys(name: &str, capture: &[u8]) {
    let dir = tmpdir(name);
    let path = dir.join("late-keys.pcapng");
    std::fs::write(&path, capture).expect("write capture");
    let p = path.to_str().unwrap();

    let out = Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .args(["scan", "--format", "jsonl", "--max-tls-held", "8192", p])
        .output()
        .expect("run teleaudit");
    assert_finished(&out);
    let lines = jsonl(&out);
    let tls = &record(&lines, "capture")["tls"];
    assert_eq!(tls["embedded_keys"], 1, "{tls}");
    assert_eq!(tls["not_decrypted"]["limit"]["connections"], 1, "{tls}");

    let out = Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .args(["scan", "--format", "jsonl", "--show-values", p])
        .output()
        .expect("run teleaudit");
    assert_finished(&out);
    let lines = jsonl(&out);
    let tls = &record(&lines, "capture")["tls"];
    assert_eq!(tls["decrypted"], 1, "{tls}");
    assert!(lines.iter().any(|v| v["type"] == "finding" && v["value"] == "356938035643809"), "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every variant (client only or both sides; open or closed when the keys
/// come) with `--max-tls-held 8192`: the binary finishes, reads the
/// embedded key, and counts the connection once. What it must also say,
/// that the limit was hit, the ignored tests below check.
#[test]
fn records_past_the_held_limit_before_late_keys_never_panic() {
    for (answers, close) in [(false, false), (false, true), (true, false), (true, true)] {
        let dir = tmpdir(&format!("late-keys-{answers}-{close}"));
        let path = dir.join("late-keys.pcapng");
        std::fs::write(&path, late_keys_capture(answers, close)).expect("write capture");
        let out = Command::new(env!("CARGO_BIN_EXE_teleaudit"))
            .args(["scan", "--format", "jsonl", "--max-tls-held", "8192", path.to_str().unwrap()])
            .output()
            .expect("run teleaudit");
        assert_finished(&out);
        let lines = jsonl(&out);
        let tls = &record(&lines, "capture")["tls"];
        assert_eq!((&tls["connections"], &tls["embedded_keys"]), (&1.into(), &1.into()), "{tls}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Only the client protects records and the connection closes before the
/// keys come: the limit is reported.
#[test]
fn records_past_the_held_limit_are_reported_when_closed_before_the_keys() {
    check_late_keys("late-keys-closed", &late_keys_capture(false, true));
}

/// The same with the connection still open when the keys come (its last
/// packet is before the Decryption Secrets Block).
#[test]
fn records_past_the_held_limit_are_reported_when_open_at_the_keys() {
    check_late_keys("late-keys-open", &late_keys_capture(false, false));
}

/// Both sides protect records: the client's are dropped at the limit, the
/// server's few bytes wait and decrypt once the keys come. The limit must
/// still be reported (the uploads, and the IMEI in them, were not read).
#[test]
fn records_past_the_held_limit_are_reported_when_the_other_side_decrypts() {
    check_late_keys("late-keys-both", &late_keys_capture(true, true));
}

/// Crash reproducers of the TLS and HPACK fuzz targets
/// (tests/fuzz-regressions/{tls,keylog,hpack,http2}) go through their harnesses
/// without a panic.
#[test]
fn tls_fuzz_reproducers_stay_fixed() {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    fn hpack(data: &[u8]) {
        assert!(teleaudit::app::http2::hpack::fuzz_decode(data), "HPACK invariants broken");
    }
    for (target, harness) in [
        ("tls", teleaudit::harness::tls as fn(&[u8])),
        ("keylog", teleaudit::harness::keylog),
        ("hpack", hpack),
        ("http2", teleaudit::harness::http2),
    ] {
        for e in std::fs::read_dir(base.join(target)).into_iter().flatten().flatten() {
            if e.file_name() != ".gitkeep" {
                harness(&std::fs::read(e.path()).expect("read reproducer"));
            }
        }
    }
    // The harness's own sessions, whole, as a smoke test.
    teleaudit::harness::tls(&[0, 0, 4, b'G', b'E', b'T', b' ']);
    teleaudit::harness::keylog(b"CLIENT_RANDOM 00 00\n");
}
