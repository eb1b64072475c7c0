//! End-to-end tests of the `teleaudit` binary, in one test binary. The
//! captures are written by `support` (a capture writer), never copied.

mod attribution;
mod hostile_report;
mod hostile_tls;
mod support;
mod telephony;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::{Link, Net, wiko};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_teleaudit"))
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).expect("write capture");
    p
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run teleaudit")
}

fn jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}")))
        .collect()
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == t).collect()
}

/// The facts a finding must keep whatever the container or link layer.
fn facts(lines: &[Value]) -> Vec<String> {
    let mut v: Vec<String> = of_type(lines, "finding")
        .iter()
        .map(|f| {
            format!(
                "{} {} {} {} {} {} {} {}",
                f["rule"], f["kind"], f["value"], f["field"], f["frame"], f["src"], f["dst"], f["host"]
            )
        })
        .collect();
    v.sort();
    v
}

const FIXTURE: &str = "fixtures/wiko-sts.pcap";
/// The key log of the fixture's HTTPS uploads, found beside it.
const FIXTURE_KEYS: &str = "fixtures/wiko-sts.keys";
/// The fixture as a PCAPdroid pcapng export: each packet's app.
const FIXTURE_APPS: &str = "fixtures/wiko-sts-pcapdroid.pcapng";

/// The bundled fixture and its key log are exactly what the scenario
/// code writes. Set TELEAUDIT_WRITE_FIXTURES=1 to rewrite them after
/// changing the scenario.
#[test]
fn fixture_is_reproducible() {
    let bytes = support::pcap(&wiko::build(), Link::Ethernet, false, false);
    let keys = wiko::keylog();
    let apps = wiko::pcapdroid();
    for (name, made) in [(FIXTURE, &bytes[..]), (FIXTURE_KEYS, keys.as_bytes()), (FIXTURE_APPS, &apps[..])] {
        let path = root().join(name);
        if std::env::var_os("TELEAUDIT_WRITE_FIXTURES").is_some() {
            std::fs::write(&path, made).expect("write fixture");
        }
        let committed = std::fs::read(&path).expect("fixture exists");
        assert!(committed == made, "{name} differs from tests/support/wiko.rs; rerun with TELEAUDIT_WRITE_FIXTURES=1");
    }
}

/// Scanning the fixture with no flag prints the STS endpoint to both hosts
/// and the cleartext identifiers, masked, and exits 1.
#[test]
fn fixture_text_scan_reproduces_the_wiko_finding() {
    let out = run(&["scan", FIXTURE]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "stdout: {text}\nstderr: {}", String::from_utf8_lossy(&out.stderr));
    for must in [
        "eservice.tinno.com",
        "eservice.euwiko.com",
        "TA-EP-TINNO-STS",
        "TA-TINNO-STS-CLEAR",
        "35***********09",
        "stats.appvendor.example",
    ] {
        assert!(text.contains(must), "missing {must:?} in:\n{text}");
    }
    for secret in [wiko::IMEI1, wiko::IMEI2, wiko::SERIAL, &wiko::repinfo(0x5715)] {
        assert!(!text.contains(secret), "unmasked {secret} in:\n{text}");
    }
    let shown = String::from_utf8_lossy(&run(&["scan", "--show-values", FIXTURE]).stdout).into_owned();
    assert!(shown.contains(wiko::IMEI1) && shown.contains(wiko::SERIAL));
    // A batch ends with one line per destination across captures; no
    // colour and no progress on a pipe.
    let dir = tmpdir("batch-text");
    let copy = write(&dir, "copy.pcap", &std::fs::read(root().join(FIXTURE)).unwrap());
    let out = run(&["scan", FIXTURE, copy.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Destinations across 2 captures:"), "{text}");
    assert!(text.contains("eservice.tinno.com  10 requests in 2 captures: cell_location x2"), "{text}");
    assert!(!text.contains('\x1b') && out.stderr.is_empty());
}

/// Frame of the first data segment whose payload starts with `prefix`.
fn frame_of(net: &Net, prefix: &[u8]) -> u64 {
    let i = net
        .packets
        .iter()
        .position(|(_, p)| {
            let s = etherparse::SlicedPacket::from_ip(p).expect("ip");
            match s.transport {
                Some(etherparse::TransportSlice::Tcp(t)) => t.payload().starts_with(prefix),
                _ => false,
            }
        })
        .expect("request in scenario");
    i as u64 + 1
}

#[test]
fn fixture_jsonl_has_every_field_with_right_values() {
    let out = run(&["scan", "--format", "jsonl", FIXTURE]);
    assert_eq!(out.status.code(), Some(1));
    let lines = jsonl(&out);
    let findings = of_type(&lines, "finding");
    let keys = [
        "rule", "severity", "title", "kind", "value", "matched", "encoding", "location", "field", "capture", "frame",
        "time", "src", "dst", "host", "method", "uri",
    ];
    for f in &findings {
        for k in keys {
            assert!(f.get(k).is_some(), "finding lacks {k}: {f}");
        }
    }
    let net = wiko::build();
    let sts: Vec<&&Value> = findings.iter().filter(|f| f["rule"] == "TA-EP-TINNO-STS").collect();
    assert_eq!(sts.len(), 5, "four reports to Tinno and one to Wiko Europe");
    let first = sts[0];
    assert_eq!(first["frame"], frame_of(&net, b"GET /eservice/stsReport?reptype=report&msgid=1&"));
    assert_eq!(first["src"], "10.20.0.23:41000");
    assert_eq!(first["dst"], "203.0.113.10:80");
    assert_eq!(first["host"], "eservice.tinno.com");
    assert_eq!(first["kind"], "endpoint");
    assert_eq!(first["field"], "repinfo");
    assert_eq!(first["location"], "query");
    assert_eq!(first["time"], "2017-01-05T09:12:03.060000Z");
    assert!(first["uri"].as_str().unwrap().contains("[171 chars]"));
    let eu = sts.iter().find(|f| f["host"] == "eservice.euwiko.com").expect("euwiko report");
    assert_eq!(eu["dst"], "203.0.113.20:8080");

    let clear: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f["rule"] == "TA-TINNO-STS-CLEAR" && f["protocol"] == "http/1.1")
        .map(|f| (f["kind"].as_str().unwrap().to_string(), f["value"].as_str().unwrap().to_string()))
        .collect();
    let kinds: Vec<&str> = clear.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, vec!["imei", "device_model", "cell_location", "os_version", "serial"]);
    assert_eq!(clear[0].1, "35***********09");

    let form: Vec<&&Value> = findings.iter().filter(|f| f["host"] == "stats.appvendor.example").collect();
    let form_kinds: Vec<&str> = form.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(form_kinds, vec!["imei", "serial", "cell_location", "device_model"]);
    assert_eq!(form[0]["frame"], frame_of(&net, b"POST /v2/collect"));
    assert_eq!(form[0]["location"], "body");
    assert_eq!(form[0]["field"], "imei");
    assert!(findings.iter().all(|f| f["host"] != "api.weather.example" && f["host"] != "cdn.images.example"));

    let summary = of_type(&lines, "summary");
    assert_eq!(summary.len(), 1);
    // Ten in clear, two decrypted with the key log beside the fixture.
    assert_eq!(summary[0]["requests"], 12);
    assert_eq!(summary[0]["findings"]["high"], findings.iter().filter(|f| f["severity"] == "high").count());
}

/// The same scenario in every container, byte order, timestamp precision
/// and link layer gives the same findings.
#[test]
fn same_findings_across_containers_and_link_layers() {
    let net = wiko::build();
    let dir = tmpdir("variants");
    let reference = facts(&jsonl(&run(&["scan", "--format", "jsonl", FIXTURE])));
    // 14 in clear, 7 in the two HTTPS uploads, 2 in the SMS's SIP
    // MESSAGE (From, P-Access-Network-Info), 5 in each SMS.
    assert_eq!(reference.len(), 33);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("be-nanos.pcap", support::pcap(&net, Link::Ethernet, true, true)),
        ("le-nanos-qinq.pcap", support::pcap(&net, Link::Vlan(2), false, true)),
        ("vlan.pcap", support::pcap(&net, Link::Vlan(1), true, false)),
        ("sll.pcap", support::pcap(&net, Link::LinuxSll, false, false)),
        ("sll2.pcap", support::pcap(&net, Link::LinuxSll2, true, false)),
        ("raw.pcap", support::pcap(&net, Link::Raw, false, false)),
        ("null.pcap", support::pcap(&net, Link::Null, false, false)),
        ("loop.pcap", support::pcap(&net, Link::Loop, true, false)),
        (
            "multi-if.pcapng",
            support::pcapng(&net, &[(Link::Ethernet, 6), (Link::LinuxSll2, 9), (Link::Raw, 0x80 | 20)], false),
        ),
        ("be.pcapng", support::pcapng(&net, &[(Link::Null, 6)], true)),
        ("gzip.pcap.gz", gz.finish().unwrap()),
    ];
    for (name, bytes) in &variants {
        let p = write(&dir, name, bytes);
        // Copies have no key log beside them: the fixture's is named.
        let out = run(&["scan", "--format", "jsonl", "--keylog", FIXTURE_KEYS, p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let got: Vec<String> = facts(&jsonl(&out));
        assert_eq!(got, reference, "{name}");
    }
}

/// Out-of-order, duplicated and one-byte segments do not change what is
/// found (frame numbers aside).
#[test]
fn reordering_and_retransmission_keep_findings() {
    let net = wiko::build();
    let mut messy = Net::default();
    // Re-send every data segment in 1-byte pieces, in reverse order, each
    // twice, keeping handshakes first.
    for (t, p) in &net.packets {
        let s = etherparse::SlicedPacket::from_ip(p).expect("ip");
        let Some(etherparse::TransportSlice::Tcp(tcp)) = s.transport else {
            messy.push(*t, p.clone());
            continue;
        };
        let data = tcp.payload();
        if data.is_empty() {
            messy.push(*t, p.clone());
            continue;
        }
        let (src, dst) = match s.net {
            Some(etherparse::InternetSlice::Ipv4(v4)) => (v4.header().source_addr(), v4.header().destination_addr()),
            _ => panic!("scenario is IPv4"),
        };
        for i in (0..data.len()).rev() {
            for _ in 0..2 {
                let mut out = Vec::new();
                etherparse::PacketBuilder::ipv4(src.octets(), dst.octets(), 64)
                    .tcp(tcp.source_port(), tcp.destination_port(), tcp.sequence_number().wrapping_add(i as u32), 1000)
                    .ack(tcp.acknowledgment_number())
                    .write(&mut out, &data[i..i + 1])
                    .unwrap();
                messy.push(*t, out);
            }
        }
    }
    let dir = tmpdir("messy");
    let p = write(&dir, "messy.pcap", &support::pcap(&messy, Link::Ethernet, false, false));
    let strip = |lines: &[Value]| {
        let mut v: Vec<String> = of_type(lines, "finding")
            .iter()
            .map(|f| format!("{} {} {} {} {}", f["rule"], f["kind"], f["value"], f["field"], f["host"]))
            .collect();
        v.sort();
        v
    };
    let reference = strip(&jsonl(&run(&["scan", "--format", "jsonl", FIXTURE])));
    let out = run(&["scan", "--format", "jsonl", "--keylog", FIXTURE_KEYS, p.to_str().unwrap()]);
    assert_eq!(strip(&jsonl(&out)), reference);
}

/// A chunked, gzip-encoded JSON upload: found, with the decoding chain.
#[test]
fn chunked_gzip_json_body() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(format!(r#"{{"device":{{"imei":"{}","android_id":"9774d56d682e549c"}}}}"#, wiko::IMEI1).as_bytes())
        .unwrap();
    let body = gz.finish().unwrap();
    let mut req = b"POST /log HTTP/1.1\r\nHost: t.example\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for piece in body.chunks(7) {
        req.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(piece);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let mut net = Net::default();
    net.http(
        support::ts(1_600_000_000, 0),
        "192.168.1.5:50000",
        "192.0.2.9:8000",
        &req,
        b"HTTP/1.1 200 OK\r\n\r\n",
        77,
    );
    let dir = tmpdir("chunked");
    let p = write(&dir, "c.pcapng", &support::pcapng(&net, &[(Link::Ethernet, 6)], false));
    let lines = jsonl(&run(&["scan", "--format", "jsonl", p.to_str().unwrap()]));
    let f = of_type(&lines, "finding");
    let imei = f.iter().find(|f| f["kind"] == "imei").expect("imei found");
    assert_eq!(imei["encoding"], serde_json::json!(["gzip", "json"]));
    assert_eq!(imei["field"], "$.device.imei");
    assert_eq!(imei["host"], "t.example");
    assert!(f.iter().any(|f| f["kind"] == "android_id"));
}

#[test]
fn benign_capture_has_no_findings_and_exits_zero() {
    let mut net = Net::default();
    wiko::benign(&mut net, wiko::T0);
    let dir = tmpdir("benign");
    let p = write(&dir, "benign.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let out = run(&["scan", "--format", "jsonl", p.to_str().unwrap()]);
    let lines = jsonl(&out);
    assert!(of_type(&lines, "finding").is_empty(), "{lines:?}");
    assert_eq!(of_type(&lines, "summary")[0]["requests"], 2);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn not_a_capture_is_exit_2_with_one_line_and_others_still_scanned() {
    let dir = tmpdir("bad");
    let bad = write(&dir, "notes.txt", b"this is not a capture\n");
    let out = run(&["scan", bad.to_str().unwrap(), FIXTURE]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("notes.txt") && err.contains("not a capture file"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("TA-EP-TINNO-STS"), "the good file is still scanned");
    let lines = jsonl(&run(&["scan", "--format", "jsonl", bad.to_str().unwrap()]));
    let e = of_type(&lines, "error");
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["frame"], Value::Null);
    assert!(e[0]["capture"].as_str().unwrap().ends_with("notes.txt"));
}

#[test]
fn truncated_capture_reports_frame_and_keeps_findings() {
    let bytes = std::fs::read(root().join(FIXTURE)).unwrap();
    let dir = tmpdir("trunc");
    let p = write(&dir, "cut.pcap", &bytes[..bytes.len() - 10]);
    let out = run(&["scan", "--format", "jsonl", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let lines = jsonl(&out);
    let e = of_type(&lines, "error");
    assert_eq!(e[0]["frame"], wiko::build().packets.len(), "the last frame is the cut one");
    assert!(e[0]["message"].as_str().unwrap().contains("truncated"));
    // The cut copy has no key log beside it: the cleartext findings (14
    // in HTTP, 2 in the SMS's SIP MESSAGE, 5 in each SMS).
    assert_eq!(of_type(&lines, "finding").len(), 26);
}

#[test]
fn stdin_reads_a_capture() {
    let mut child = bin()
        .args(["scan", "--format", "jsonl", "--keylog", FIXTURE_KEYS, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let bytes = std::fs::read(root().join(FIXTURE)).unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // Write in small pieces: the reader must not need the header in one read.
    let writer = std::thread::spawn(move || {
        for piece in bytes.chunks(5) {
            stdin.write_all(piece).unwrap();
        }
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let lines = jsonl(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(of_type(&lines, "finding").iter().all(|f| f["capture"] == "-"));
    let reference = facts(&jsonl(&run(&["scan", "--format", "jsonl", FIXTURE])));
    assert_eq!(facts(&lines), reference);
}

#[test]
fn profile_finds_hashed_imei_and_names_the_match() {
    let out = run(&["scan", "--format", "jsonl", "--profile", "fixtures/wiko-lenny3.toml", FIXTURE]);
    let lines = jsonl(&out);
    let f = of_type(&lines, "finding");
    let hashed = f.iter().find(|f| f["host"] == "ads.example").expect("md5(imei) found with the profile");
    assert_eq!(hashed["rule"], "TA-IMEI");
    assert_eq!(hashed["encoding"], serde_json::json!(["md5"]));
    assert_eq!(hashed["matched"], "35***********09");
    assert_eq!(hashed["field"], "uid");
    let without = jsonl(&run(&["scan", "--format", "jsonl", FIXTURE]));
    assert!(of_type(&without, "finding").iter().all(|f| f["host"] != "ads.example"));
}

#[test]
fn fail_on_threshold_and_never() {
    assert_eq!(run(&["scan", "--fail-on", "never", FIXTURE]).status.code(), Some(0));
    assert_eq!(run(&["scan", "--fail-on", "high", FIXTURE]).status.code(), Some(1));
    let mut net = Net::default();
    net.http(
        support::ts(1_600_000_000, 0),
        "192.168.1.5:50000",
        "192.0.2.9:80",
        b"GET /?model=Pixel%207 HTTP/1.1\r\nHost: m.example\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        5,
    );
    let dir = tmpdir("failon");
    let p = write(&dir, "low.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let p = p.to_str().unwrap();
    assert_eq!(run(&["scan", "--fail-on", "medium", p]).status.code(), Some(0), "only a low finding");
    assert_eq!(run(&["scan", p]).status.code(), Some(1));
}

#[test]
fn parallel_output_is_identical_and_ordered() {
    let net = wiko::build();
    let dir = tmpdir("par");
    for (i, link) in [Link::Ethernet, Link::Raw, Link::LinuxSll, Link::Null].iter().enumerate() {
        write(&dir, &format!("c{i}.pcap"), &support::pcap(&net, *link, i % 2 == 1, false));
    }
    write(&dir, "README", b"not a capture: skipped in folders");
    // A capture cut in the middle of a record: its error, exit 2, and the
    // other files' findings all the same.
    let whole = std::fs::read(root().join(FIXTURE)).unwrap();
    write(&dir, "c2-cut.pcap", &whole[..whole.len() / 2 + 7]);
    let d = dir.to_str().unwrap();
    // Timings aside, the output is the same byte for byte.
    let strip = |o: &Output| {
        jsonl(o)
            .into_iter()
            .filter(|v| v["type"] != "summary")
            .map(|mut v| {
                v.as_object_mut().unwrap().remove("elapsed_seconds");
                v.to_string()
            })
            .collect::<Vec<_>>()
    };
    let one = run(&["scan", "--format", "jsonl", "-j", "1", d]);
    let two = run(&["scan", "--format", "jsonl", "-j", "2", d]);
    assert_eq!(strip(&one), strip(&two));
    let caps: Vec<String> =
        of_type(&jsonl(&one), "finding").iter().map(|f| f["capture"].as_str().unwrap().to_string()).collect();
    let mut sorted = caps.clone();
    sorted.sort();
    assert_eq!(caps, sorted, "files in name order");
    assert_eq!(of_type(&jsonl(&one), "summary")[0]["files"], 5);
    assert_eq!(one.status.code(), Some(2));
    let errors = of_type(&jsonl(&one), "error").into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0]["capture"].as_str().unwrap().ends_with("c2-cut.pcap"));
    let files_with_findings: std::collections::BTreeSet<String> =
        of_type(&jsonl(&one), "finding").iter().map(|f| f["capture"].as_str().unwrap().to_string()).collect();
    assert!(files_with_findings.len() >= 4, "{files_with_findings:?}");
    let lines = jsonl(&one);
    let hosts = of_type(&lines, "host");
    assert!(hosts.iter().any(|h| h["host"] == "eservice.tinno.com" && h["captures"] == 5), "{hosts:?}");
}

#[test]
fn requests_lists_every_request() {
    let out = run(&["requests", "--format", "jsonl", FIXTURE]);
    assert_eq!(out.status.code(), Some(0));
    let lines = jsonl(&out);
    let r = of_type(&lines, "request");
    // Ten in clear, two decrypted with the key log beside the fixture,
    // the SIP MESSAGE and the SMS it carries, and the SMS over GSMTAP.
    assert_eq!(r.len(), 15);
    let post = r.iter().find(|r| r["method"] == "POST" && r["host"] == "stats.appvendor.example").unwrap();
    assert_eq!(post["uri"], "/v2/collect");
    assert_eq!(post["content_type"], "application/x-www-form-urlencoded");
    assert!(post["body_bytes"].as_u64().unwrap() > 100);
    // Identifiers are masked in URIs, as everywhere; `--show-values`
    // lists the URIs as sent.
    let sent = wiko::repinfo(0x5715);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&sent));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(wiko::IMEI1));
    let shown = run(&["requests", "--format", "jsonl", "--show-values", FIXTURE]);
    assert!(of_type(&jsonl(&shown), "request").iter().any(|r| r["uri"].as_str().unwrap().contains(&sent)));
}

/// `teleaudit` with no key log from the environment: what a test sees
/// does not depend on the shell's SSLKEYLOGFILE.
fn run_keyless(args: &[&str]) -> Output {
    bin().args(args).env_remove("SSLKEYLOGFILE").output().expect("run teleaudit")
}

/// The fixture's HTTPS uploads: (SNI, TLS version, cipher suite name, how
/// many findings the decrypted request holds).
const HTTPS_UPLOADS: [(&str, &str, &str, usize); 2] = [
    (wiko::HOST12, "1.2", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", 4),
    (wiko::HOST13, "1.3", "TLS_AES_128_GCM_SHA256", 3),
];

/// Findings that came out of a decrypted TLS session.
fn tls_findings(lines: &[Value]) -> Vec<&Value> {
    of_type(lines, "finding").into_iter().filter(|f| !f["tls"].is_null()).collect()
}

/// Checks the IMEI of each HTTPS upload is found, with the session it
/// came through.
fn assert_https_uploads_found(lines: &[Value]) {
    let found = tls_findings(lines);
    for (host, version, cipher, n) in HTTPS_UPLOADS {
        let here: Vec<&&Value> = found.iter().filter(|f| f["host"] == host).collect();
        assert_eq!(here.len(), n, "{host}: {found:?}");
        let imei = here.iter().find(|f| f["kind"] == "imei").unwrap_or_else(|| panic!("no IMEI to {host}"));
        assert_eq!(imei["protocol"], "http/1.1");
        assert_eq!(imei["method"], "POST");
        assert_eq!(imei["tls"], serde_json::json!({"version": version, "cipher": cipher, "sni": host}));
    }
    assert_eq!(found.len(), 7, "{found:?}");
    let cap = of_type(lines, "capture")[0];
    assert_eq!(cap["tls"]["decrypted"], 2, "{cap}");
}

/// The key log beside the fixture opens its two HTTPS uploads: the IMEI
/// in a JSON body over TLS 1.2 and in a form over TLS 1.3, each request
/// in two records, one record across two TCP segments.
#[test]
fn fixture_https_uploads_decrypted_with_key_log_beside() {
    let out = run_keyless(&["scan", "--format", "jsonl", "--show-values", FIXTURE]);
    let lines = jsonl(&out);
    assert_https_uploads_found(&lines);
    let imei = tls_findings(&lines).into_iter().find(|f| f["host"] == wiko::HOST13 && f["kind"] == "imei").unwrap();
    assert_eq!(imei["value"], wiko::IMEI1);
    assert_eq!(imei["field"], "imei");
    assert_eq!(imei["location"], "body");
    let cap = of_type(&lines, "capture")[0];
    // Both directions of both sessions: the request and a short answer.
    let requests: usize = [wiko::https_json(), wiko::https_form()].iter().map(|b| b.len()).sum();
    assert!(cap["tls"]["client_bytes"].as_u64().unwrap() as usize > requests, "{cap}");
    assert_eq!(cap["tls"]["bad_records"], 0);
}

/// Without keys the uploads are counted as not decrypted (no key), named
/// in the text report with a hint at --keylog, and nothing is found in
/// them.
#[test]
fn fixture_https_uploads_without_keys_are_counted() {
    let lines = jsonl(&run_keyless(&["scan", "--format", "jsonl", "--no-keylog-beside", FIXTURE]));
    assert!(tls_findings(&lines).is_empty());
    assert!(of_type(&lines, "finding").iter().all(|f| f["host"] != wiko::HOST12 && f["host"] != wiko::HOST13));
    // 14 in clear HTTP, 2 in the SMS's SIP MESSAGE, 10 in the two SMS.
    assert_eq!(of_type(&lines, "finding").len(), 26);
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["tls"]["decrypted"], 0, "{cap}");
    assert_eq!(cap["tls"]["not_decrypted"]["no_key"]["connections"], 2, "{cap}");
    // The benign session's hello record never completes (random bytes):
    // it ended in its handshake, beside the two without a key.
    assert_eq!(cap["tls"]["not_decrypted"]["handshake_only"]["connections"], 1, "{cap}");
    assert_eq!(cap["not_inspected"]["tls_connections"], 3, "{cap}");
    let out = run_keyless(&["scan", "--no-keylog-beside", FIXTURE]);
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains("not inspected:")).unwrap_or_else(|| panic!("{text}"));
    for must in ["3 TLS connections", "no key: 2", "--keylog", wiko::HOST12, wiko::HOST13] {
        assert!(line.contains(must), "{must:?} not in {line:?}");
    }
}

/// A `--keylog` that is not a key log (here a capture) is an error that
/// names the file, before anything is scanned: exit 2, no report.
#[test]
fn keylog_that_is_not_one_is_an_error() {
    let out = run_keyless(&["scan", "--format", "jsonl", "--keylog", FIXTURE, FIXTURE]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(FIXTURE) && err.contains("not an NSS key log"), "{err}");
    assert!(out.stdout.is_empty());
    let out = run_keyless(&["scan", "--keylog", "no/such/keys.txt", FIXTURE]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no/such/keys.txt"));
}

/// Lines that cannot be used are warned about with file and line; the
/// good lines still decrypt; CRLF and comments are fine.
#[test]
fn keylog_lines_that_cannot_be_used_are_warned_with_their_line() {
    let dir = tmpdir("keylog-lines");
    let good = std::fs::read_to_string(FIXTURE_KEYS).expect("fixture keys");
    let mut text = String::from("# written by a test\r\n");
    for l in good.lines() {
        text.push_str(l);
        text.push_str("\r\n");
    }
    text.push_str("CLIENT_RANDOM 0011\r\nFUTURE_LABEL aa bb\r\nCLIENT_RANDOM 00112233");
    let keys = write(&dir, "keys.txt", text.as_bytes());
    let out =
        run_keyless(&["scan", "--format", "jsonl", "--no-keylog-beside", "--keylog", keys.to_str().unwrap(), FIXTURE]);
    assert_eq!(out.status.code(), Some(1), "findings, not an error");
    let err = String::from_utf8_lossy(&out.stderr);
    let n = good.lines().count() + 2;
    for (line, what) in [(n, "CLIENT_RANDOM"), (n + 1, "FUTURE_LABEL"), (n + 2, "CLIENT_RANDOM")] {
        let at = format!("{}:line {line}:", keys.display());
        assert!(err.lines().any(|l| l.contains(&at) && l.contains(what)), "{at} {what} not in {err}");
    }
    assert_https_uploads_found(&jsonl(&out));
}

/// With no --keylog, SSLKEYLOGFILE names the key log.
#[test]
fn sslkeylogfile_is_read_when_no_keylog_is_given() {
    let out = bin()
        .args(["scan", "--format", "jsonl", "--no-keylog-beside", FIXTURE])
        .env("SSLKEYLOGFILE", FIXTURE_KEYS)
        .output()
        .expect("run teleaudit");
    assert_https_uploads_found(&jsonl(&out));
}

/// `--keylog` names the key log when the one beside is not looked for.
#[test]
fn fixture_https_uploads_decrypted_with_keylog_option() {
    let out = run_keyless(&["scan", "--format", "jsonl", "--no-keylog-beside", "--keylog", FIXTURE_KEYS, FIXTURE]);
    assert_https_uploads_found(&jsonl(&out));
}

/// Every secret with its hex digits flipped: the records do not
/// authenticate, both sessions count as bad keys, nothing comes out.
#[test]
fn fixture_https_uploads_with_wrong_keys_are_bad_key() {
    let keys = std::fs::read_to_string(root().join(FIXTURE_KEYS)).unwrap();
    let flip = |hex: &str| -> String {
        hex.chars().map(|c| std::char::from_digit(15 - c.to_digit(16).expect("hex"), 16).unwrap()).collect()
    };
    let wrong: String = keys
        .lines()
        .map(|l| match l.split(' ').collect::<Vec<_>>()[..] {
            [label, random, secret] if !label.starts_with('#') => format!("{label} {random} {}\n", flip(secret)),
            _ => format!("{l}\n"),
        })
        .collect();
    assert_ne!(wrong, keys);
    let dir = tmpdir("wrong-keys");
    let k = write(&dir, "wrong.keys", wrong.as_bytes());
    let out =
        run_keyless(&["scan", "--format", "jsonl", "--no-keylog-beside", "--keylog", k.to_str().unwrap(), FIXTURE]);
    let lines = jsonl(&out);
    assert!(tls_findings(&lines).is_empty(), "{:?}", tls_findings(&lines));
    // 14 in clear HTTP, 2 in the SMS's SIP MESSAGE, 10 in the two SMS.
    assert_eq!(of_type(&lines, "finding").len(), 26);
    let cap = of_type(&lines, "capture")[0];
    assert_eq!(cap["tls"]["decrypted"], 0, "{cap}");
    assert_eq!(cap["tls"]["not_decrypted"]["bad_key"]["connections"], 2, "{cap}");
    assert_eq!(cap["tls"]["not_decrypted"]["no_key"]["connections"], 0, "{cap}");
}

/// `teleaudit requests` lists the decrypted requests with their session.
#[test]
fn requests_lists_decrypted_https_requests() {
    let lines = jsonl(&run_keyless(&["requests", "--format", "jsonl", FIXTURE]));
    let tls: Vec<&Value> = of_type(&lines, "request").into_iter().filter(|r| !r["tls"].is_null()).collect();
    let got: Vec<(String, String, String, String)> = tls
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            (s("method"), s("host"), s("uri"), s("content_type"))
        })
        .collect();
    let want = |m: &str, h: &str, u: &str, c: &str| (m.to_string(), h.to_string(), u.to_string(), c.to_string());
    assert_eq!(
        got,
        vec![
            want("POST", wiko::HOST12, "/v1/device/report", "application/json"),
            want("POST", wiko::HOST13, "/collect", "application/x-www-form-urlencoded"),
        ]
    );
    assert_eq!(tls[0]["body_bytes"], wiko::https_json().len());
    assert_eq!(tls[1]["body_bytes"], wiko::https_form().len());
    assert_eq!(tls[0]["dst"], "203.0.113.30:443");
    assert_eq!(tls[1]["tls"]["version"], "1.3");
    let keyless = jsonl(&run_keyless(&["requests", "--format", "jsonl", "--no-keylog-beside", FIXTURE]));
    // Ten HTTP requests in clear, the SIP MESSAGE and its two SMS copies.
    assert_eq!(of_type(&keyless, "request").len(), 13);
}

#[test]
fn rules_list_and_check() {
    let out = run(&["rules", "list"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("TA-EP-TINNO-STS") && text.contains("TA-IMEI"));
    let dir = tmpdir("rules");
    let good = write(&dir, "good.toml", b"[[rule]]\nid = \"LAB-1\"\ntitle = \"Lab key\"\nseverity = \"low\"\nkind = \"lab_key\"\npattern = \"LAB-[0-9]{4}\"\n");
    assert_eq!(run(&["rules", "check", good.to_str().unwrap()]).status.code(), Some(0));
    let bad = write(
        &dir,
        "bad.toml",
        b"[[rule]]\nid = \"LAB-2\"\ntitle = \"t\"\nseverity = \"severe\"\ndetector = \"imei\"\n",
    );
    let out = run(&["rules", "check", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:4:"), "{err}");
    // Examples are run: one that does not behave is an error at its line.
    let wrong = write(
        &dir,
        "wrong.toml",
        b"[[rule]]\nid = \"LAB-3\"\ntitle = \"t\"\nseverity = \"low\"\nkind = \"lab_key\"\npattern = \"LAB-[0-9]{4}\"\nexamples = { match = [\"k=LAB-12\"] }\n",
    );
    let out = run(&["rules", "check", wrong.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("wrong.toml:7:23: rule LAB-3: example \"k=LAB-12\" should match but does not"), "{err}");
    let out = run(&["rules", "check"]);
    assert_eq!(out.status.code(), Some(0), "built-in examples: {}", String::from_utf8_lossy(&out.stderr));
    // A bad rule file stops the scan before anything is read.
    let out = run(&["scan", "--rules", bad.to_str().unwrap(), FIXTURE]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

/// Every capture of the shared corpus is read without a panic or a hang.
/// The corpus path comes from TELEAUDIT_CORPUS (set by .ci/run); when CI is
/// set the corpus must be there.
#[test]
fn corpus_reads_without_panic() {
    let dir =
        std::env::var_os("TELEAUDIT_CORPUS").map(PathBuf::from).unwrap_or_else(|| root().join("../shared/corpus"));
    if !dir.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but the corpus is missing at {}", dir.display());
        support::skip(format_args!("corpus not found at {}: skipped outside CI", dir.display()));
        return;
    }
    let out = run(&["requests", "--format", "jsonl", "-j", "2", dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert!(matches!(out.status.code(), Some(0 | 2)), "exit {:?}: {err}", out.status);
    let lines = jsonl(&out);
    let summary = of_type(&lines, "summary");
    assert!(summary[0]["files"].as_u64().unwrap() >= 140, "{:?}", summary);
    // Every explicitly named non-capture file in the corpus is an error,
    // not a crash.
    for entry in walk(&dir) {
        let out = run(&["scan", "--format", "jsonl", entry.to_str().unwrap()]);
        assert!(matches!(out.status.code(), Some(0..=2)), "{}: {:?}", entry.display(), out.status);
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else if p.extension().is_some_and(|x| ["pcap", "pcapng", "bin", "cap"].contains(&x.to_str().unwrap_or(""))) {
            v.push(p);
        }
    }
    v.sort();
    v
}

mod conformance;
mod tls_corpus;

/// `teleaudit requests` agrees with Zeek's http.log baselines and
/// suricata-verify's checks on the shared corpus (tests/conformance).
#[test]
fn corpus_requests_agree_with_zeek_and_suricata() {
    conformance::check();
}

/// The same scenario inside GRE, VXLAN, GTP-U, IP-in-IP, or cut into IP
/// fragments (delivered out of order), gives the same findings.
#[test]
fn same_findings_through_tunnels_and_fragments() {
    let net = wiko::build();
    let strip = |lines: &[Value]| {
        let mut v: Vec<String> = of_type(lines, "finding")
            .iter()
            .map(|f| format!("{} {} {} {} {} {}", f["rule"], f["kind"], f["value"], f["field"], f["src"], f["host"]))
            .collect();
        v.sort();
        v
    };
    let reference = strip(&jsonl(&run(&["scan", "--format", "jsonl", FIXTURE])));
    let dir = tmpdir("tunnels");
    for wrap in
        [support::Wrap::Gre, support::Wrap::Vxlan, support::Wrap::GtpU, support::Wrap::IpInIp, support::Wrap::Fragments]
    {
        let mut wrapped = Net::default();
        for (i, (t, p)) in net.packets.iter().enumerate() {
            for q in wrap.apply(p, i as u16) {
                wrapped.push(*t, q);
            }
        }
        let p = write(&dir, &format!("{wrap:?}.pcap"), &support::pcap(&wrapped, Link::Ethernet, false, false));
        let out = run(&["scan", "--format", "jsonl", "--keylog", FIXTURE_KEYS, p.to_str().unwrap()]);
        let lines = jsonl(&out);
        assert_eq!(strip(&lines), reference, "{wrap:?}");
        let cap = of_type(&lines, "capture")[0].clone();
        match wrap {
            support::Wrap::Fragments => assert!(cap["reassembled_datagrams"].as_u64().unwrap() > 10, "{cap}"),
            _ => assert_eq!(cap["encapsulated_frames"], net.packets.len(), "{wrap:?}: {cap}"),
        }
        assert_eq!(cap["not_inspected"]["fragments_incomplete"], 0, "{wrap:?}");
    }
}

/// Crash reproducers found by fuzzing (tests/fuzz-regressions/<target>)
/// and the fixtures go through the fuzz harnesses without a panic.
#[test]
fn fuzz_reproducers_stay_fixed() {
    let base = root().join("tests/fuzz-regressions");
    let mut ran = 0;
    for (target, harness) in [
        ("capture", teleaudit::harness::capture as fn(&[u8])),
        ("packets", teleaudit::harness::packets),
        ("http", teleaudit::harness::http),
    ] {
        let mut inputs: Vec<Vec<u8>> = std::fs::read_dir(base.join(target))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name() != ".gitkeep")
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        inputs.push(std::fs::read(root().join(FIXTURE)).unwrap());
        for input in inputs {
            harness(&input);
            ran += 1;
        }
    }
    assert!(ran >= 3);
}

/// A limit is a named option, and hitting it is said, not silent.
#[test]
fn body_limit_is_configurable_and_reported() {
    let body = format!("pad={}&imei={}", "x".repeat(3000), wiko::IMEI1);
    let req = format!(
        "POST /u HTTP/1.1\r\nHost: l.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut net = Net::default();
    net.http(
        support::ts(1_600_000_000, 0),
        "192.168.1.5:50000",
        "192.0.2.9:80",
        req.as_bytes(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        9,
    );
    let dir = tmpdir("limit");
    let p = write(&dir, "big.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let p = p.to_str().unwrap();
    let found = |args: &[&str]| of_type(&jsonl(&run(args)), "finding").iter().any(|f| f["kind"] == "imei");
    assert!(found(&["scan", "--format", "jsonl", p]));
    assert!(!found(&["scan", "--format", "jsonl", "--max-body", "1000", p]));
    let lines = jsonl(&run(&["requests", "--format", "jsonl", "--max-body", "1000", p]));
    let notes = of_type(&lines, "request")[0]["notes"].to_string();
    assert!(notes.contains("1000-byte inspection limit"), "{notes}");
    assert_eq!(of_type(&lines, "capture")[0]["requests_with_notes"], 1);
}

/// A real iPhone on an LTE/IMS test network (corpus-extra, seen at GTP-U
/// on Linux SLL): its clear SIP carries the IMSI (Request-URI, matching
/// the realm's MCC/MNC), the IMEI (RFC 7254 URN in +sip.instance) and the
/// cell id (P-Access-Network-Info), and its phone number in From and
/// P-Preferred-Identity. Found in the phone's SIP requests, under the
/// header that carried each; nothing from the network's responses (the
/// 401 that echoes the IMSI, the 200s).
#[test]
fn iphone_ims_sip_identifiers_in_gtp() {
    let Some(dir) = conformance::corpus_dir() else { return };
    let cap = dir.join("../corpus-extra/arkime/gtp-iphone.pcap");
    if !cap.exists() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but {} is missing", cap.display());
        return;
    }
    let out = run(&["scan", "--format", "jsonl", "--show-values", cap.to_str().unwrap()]);
    let lines = jsonl(&out);
    let f = of_type(&lines, "finding");
    let has = |kind: &str, value: &str| {
        f.iter().any(|x| x["kind"] == kind && x["value"] == value && x["location"] == "header")
    };
    assert!(has("imsi", "310410010001002"), "{f:?}");
    assert!(has("imei", "35442706-323347-9"));
    assert!(has("cell_location", "31041000011a2d001"));
    assert!(f.iter().any(|x| x["kind"] == "msisdn" && x["field"] == "From:msisdn"), "{f:?}");
    assert!(f.iter().all(|x| x["protocol"] == "sip" && x["method"].is_string()));
    assert!(f.iter().all(|x| x["kind"] != "email"));
    // As tshark counts them: 8 requests, 9 responses (401, 405, 100,
    // 180, 200s, 202), which are counted and never scanned.
    let cap = &of_type(&lines, "capture")[0];
    assert_eq!((cap["sip"]["requests"].as_u64(), cap["sip"]["responses"].as_u64()), (Some(8), Some(9)), "{cap}");
    // Frame 90: a SIP MESSAGE carrying RP-DATA and an SMS-SUBMIT to 122,
    // "test" (tshark: gsm_sms), listed with its recipient and text.
    assert_eq!(cap["sms"]["messages"], 1, "{cap}");
    let listed = jsonl(&run(&[
        "requests",
        "--format",
        "jsonl",
        dir.join("../corpus-extra/arkime/gtp-iphone.pcap").to_str().unwrap(),
    ]));
    let sms: Vec<&Value> = of_type(&listed, "request").into_iter().filter(|r| r["method"] == "SMS-SUBMIT").collect();
    assert_eq!(sms.len(), 1, "{listed:?}");
    assert_eq!(
        (sms[0]["frame"].as_u64(), sms[0]["host"].as_str(), sms[0]["text"].as_str()),
        (Some(90), Some("122"), Some("test"))
    );
    assert_eq!(sms[0]["protocol"], "sms/ims");
    // The IMSI is Luhn-valid with a phone-like prefix: it must not be
    // reported as an IMEI.
    assert!(!has("imei", "310410010001002"));
    assert_eq!(out.status.code(), Some(1));
}

/// Identifiers in DNS query names are found (location `stream`), and
/// the server names of TLS connections are listed in the capture record.
#[test]
fn dns_query_names_and_tls_server_names() {
    let mut net = Net::default();
    net.dns(
        support::ts(1_600_000_000, 0),
        "10.0.0.5:40000",
        "10.0.0.1:53",
        &format!("{}.t.example.com", wiko::IMEI1),
        [192, 0, 2, 7],
    );
    // A ClientHello asking for telemetry.example.net.
    let name = b"telemetry.example.net";
    let mut sni = vec![0, (name.len() + 3) as u8, 0, 0, name.len() as u8];
    sni.extend_from_slice(name);
    let mut ext = vec![0, 0, 0, sni.len() as u8];
    ext.extend_from_slice(&sni);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[7u8; 32]);
    body.extend_from_slice(&[0, 0, 2, 0x13, 0x01, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hello = vec![0x16, 3, 1, 0, (body.len() + 4) as u8, 1, 0, 0, body.len() as u8];
    hello.extend_from_slice(&body);
    net.http(
        support::ts(1_600_000_001, 0),
        "10.0.0.5:40001",
        "192.0.2.8:443",
        &hello,
        b"\x16\x03\x03\x00\x02\x02\x00",
        3,
    );
    // The same over TCP: a 2-byte length, then the query.
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for l in ["9774d56d682e549c", "id", "example", "com"] {
        q.push(l.len() as u8);
        q.extend_from_slice(l.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut tcp_q = (q.len() as u16).to_be_bytes().to_vec();
    tcp_q.extend_from_slice(&q);
    net.http(support::ts(1_600_000_002, 0), "10.0.0.5:40002", "10.0.0.1:53", &tcp_q, b"\x00\x02\x00\x00", 4);
    let dir = tmpdir("dns");
    let p = write(&dir, "dns.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let lines = jsonl(&run(&["scan", "--format", "jsonl", "--show-values", p.to_str().unwrap()]));
    let f = of_type(&lines, "finding");
    assert!(
        f.iter().any(|x| x["kind"] == "imei"
            && x["value"] == wiko::IMEI1
            && x["location"] == "stream"
            && x["field"] == "dns:qname"),
        "{f:?}"
    );
    assert_eq!(of_type(&lines, "capture")[0]["tls_server_names"], serde_json::json!(["telemetry.example.net"]));
    // The label alone has no key: a 16-hex label is not judged an Android
    // ID without one, but a profile value is found in it.
    let prof = write(&dir, "p.toml", b"android_id = \"9774d56d682e549c\"\n");
    let lines = jsonl(&run(&["scan", "--format", "jsonl", "--profile", prof.to_str().unwrap(), p.to_str().unwrap()]));
    assert!(of_type(&lines, "finding").iter().any(|x| x["kind"] == "android_id" && x["dst"] == "10.0.0.1:53"));
}

/// Hostile bodies: a gzip bomb, JSON nested 100 deep, a 2 GB
/// Content-Length with a short body, over a million one-byte chunks. Each is
/// read in bounded memory and time, its limit reported on the request.
#[test]
fn hostile_bodies_are_bounded_and_reported() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..200 {
        gz.write_all(&zeros).unwrap();
    }
    let bomb = gz.finish().unwrap();
    let mut bomb_req = format!(
        "POST /bomb HTTP/1.1\r\nHost: h.example\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n",
        bomb.len()
    )
    .into_bytes();
    bomb_req.extend_from_slice(&bomb);
    let deep = format!("{}\"356938035643809\"{}", "[".repeat(100), "]".repeat(100));
    let deep_req = format!(
        "POST /deep HTTP/1.1\r\nHost: h.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{deep}",
        deep.len()
    );
    let huge_req =
        format!("POST /huge HTTP/1.1\r\nHost: h.example\r\nContent-Length: 2000000000\r\n\r\n{}", "y".repeat(10_000));
    let mut chunks_req = b"POST /chunks HTTP/1.1\r\nHost: h.example\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    // Over a million: the de-chunked body passes the 1 MiB inspection limit.
    for _ in 0..1_100_000 {
        chunks_req.extend_from_slice(b"1\r\na\r\n");
    }
    chunks_req.extend_from_slice(b"0\r\n\r\n");
    let mut net = Net::default();
    for (i, req) in [bomb_req, deep_req.into_bytes(), huge_req.into_bytes(), chunks_req].iter().enumerate() {
        net.http(
            support::ts(1_600_000_000 + i as i64, 0),
            &format!("10.0.0.9:{}", 41_000 + i),
            "192.0.2.10:80",
            req,
            b"HTTP/1.1 200 OK\r\n\r\n",
            i as u32 * 1000,
        );
    }
    let dir = tmpdir("hostile");
    let p = write(&dir, "hostile.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let out = run(&["requests", "--format", "jsonl", p.to_str().unwrap()]);
    let lines = jsonl(&out);
    let reqs = of_type(&lines, "request");
    let notes = |uri: &str| reqs.iter().find(|r| r["uri"] == uri).map(|r| r["notes"].to_string()).unwrap_or_default();
    assert!(notes("/bomb").contains("output limit"), "{}", notes("/bomb"));
    assert!(notes("/huge").contains("cut short at the end of the stream"), "{}", notes("/huge"));
    assert!(notes("/chunks").contains("inspection limit"), "{}", notes("/chunks"));
    assert_eq!(reqs.len(), 4);
    let bomb_body = reqs.iter().find(|r| r["uri"] == "/bomb").unwrap()["body_bytes"].as_u64().unwrap();
    assert!(bomb_body <= 8 << 20, "decompressed body capped: {bomb_body}");
    let record = of_type(&lines, "capture")[0].clone();
    // The JSON too deep to walk is noted too (and read as text).
    assert!(!notes("/deep").is_empty() && notes("/deep") != "[]", "{}", notes("/deep"));
    assert_eq!(record["requests_with_notes"], 4, "{record}");
    assert!(record["notes"].to_string().contains("output limit"), "{record}");
    let peak = of_type(&lines, "summary")[0]["peak_memory_bytes"].as_u64().unwrap_or(0);
    assert!(peak < 200 << 20, "peak memory {peak}");
    // The deep JSON is scanned as text: its IMEI is still found.
    let found = jsonl(&run(&["scan", "--format", "jsonl", p.to_str().unwrap()]));
    assert!(of_type(&found, "finding").iter().any(|f| f["kind"] == "imei"));
}

mod conversations;
mod sharded;

/// HTTP conversation files (tests/conversations) in every chunking.
#[test]
fn conversation_files_in_every_chunking() {
    conversations::check(&root().join("tests/conversations"));
}

mod evaluation;

/// Recall per kind and per encoding, and precision, on the labelled
/// evaluation set (tests/evaluation). Run with `-- --nocapture` for the
/// table the README shows.
#[test]
fn evaluation_set_recall_and_precision() {
    let dir = tmpdir("eval");
    let s = evaluation::evaluate(|capture| {
        let p = write(&dir, "eval.pcap", capture);
        let out = run(&["scan", "--format", "jsonl", "--show-values", p.to_str().unwrap()]);
        of_type(&jsonl(&out), "finding").into_iter().cloned().collect()
    });
    println!("| kind | found / labelled | recall |\n| --- | --- | --- |");
    for (k, (hit, n)) in &s.by_kind {
        println!("| {k} | {hit} / {n} | {:.3} |", f64::from(*hit) / f64::from(*n));
    }
    println!("\n| encoding | found / labelled | recall |\n| --- | --- | --- |");
    for (k, (hit, n)) in &s.by_encoding {
        println!("| {k} | {hit} / {n} | {:.3} |", f64::from(*hit) / f64::from(*n));
    }
    let precision = f64::from(s.true_pos) / f64::from(s.true_pos + s.false_pos);
    println!("\nprecision: {} true, {} false: {precision:.3}", s.true_pos, s.false_pos);
    for e in s.false_pos_examples.iter().take(20) {
        println!("false positive: {e}");
    }
    for m in s.misses.iter().take(20) {
        println!("missed: {m}");
    }
    for (k, (hit, n)) in s.by_kind.iter().chain(&s.by_encoding) {
        let recall = f64::from(*hit) / f64::from(*n);
        assert!(recall >= 0.98, "recall {recall:.3} for {k}");
    }
    assert!(precision >= 0.99, "precision {precision:.3}");
}

/// The labelled cases by class (tests/evaluation/classes): every
/// must-find found and no false alarm, with the device profile and
/// without it (cases that need the profile are scored only with it).
/// Run with `-- --nocapture` for the table the README shows.
#[test]
fn evaluation_classes_all_found_no_false_alarm() {
    let dir = tmpdir("eval-classes");
    let profile = write(&dir, "device.toml", evaluation::classes::PROFILE.as_bytes());
    let cases = evaluation::classes::all();
    println!("| class | without profile | with profile |\n| --- | --- | --- |");
    let mut table: std::collections::BTreeMap<String, [String; 2]> = Default::default();
    let mut failures = Vec::new();
    for with_profile in [false, true] {
        let s = evaluation::classes::evaluate(&cases, with_profile, |capture| {
            let p = write(&dir, "classes.pcap", capture);
            let mut args = vec!["scan", "--format", "jsonl", "--show-values"];
            if with_profile {
                args.extend(["--profile", profile.to_str().unwrap()]);
            }
            args.push(p.to_str().unwrap());
            of_type(&jsonl(&run(&args)), "finding").into_iter().cloned().collect()
        });
        for (class, (hit, n)) in &s.recall {
            let fa = s.false_alarms.get(class).map_or(0, Vec::len);
            table.entry(class.clone()).or_insert_with(|| ["(needs the profile)".into(), String::new()])
                [usize::from(with_profile)] = format!("{hit} / {n}, {fa} false");
        }
        failures.extend(s.misses.iter().map(|m| format!("profile {with_profile}: missed {m}")));
        for (class, fas) in &s.false_alarms {
            failures.extend(fas.iter().map(|f| format!("profile {with_profile}: false alarm ({class}) {f}")));
        }
    }
    for (class, cols) in &table {
        println!("| {class} | {} | {} |", cols[0], cols[1]);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Where a finding went: SSDP to the multicast group is one severity
/// lower than the same UUID posted to a server on the internet; the text
/// report groups destinations by where they are.
#[test]
fn multicast_findings_are_lower_and_destinations_grouped_by_scope() {
    let uuid = "uuid:2fac1234-31f8-11b4-a222-08002b34c003";
    let mut net = Net::default();
    let notify = format!(
        "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: {uuid}::upnp:rootdevice\r\n\r\n"
    );
    net.push(
        support::ts(1_700_000_000, 0),
        support::ipv4_udp([192, 168, 1, 20], [239, 255, 255, 250], 1900, 1900, notify.as_bytes()),
    );
    let body = format!("{{\"usn\":\"{uuid}\"}}");
    let post = format!(
        "POST /register HTTP/1.1\r\nHost: cloud.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    net.http(
        support::ts(1_700_000_001, 0),
        "192.168.1.20:40000",
        "198.51.100.5:80",
        post.as_bytes(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        3,
    );
    let lan = "GET /set?imei=356938035643809 HTTP/1.1\r\nHost: 192.168.1.1\r\n\r\n";
    net.http(
        support::ts(1_700_000_002, 0),
        "192.168.1.20:40001",
        "192.168.1.1:80",
        lan.as_bytes(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        4,
    );
    let dir = tmpdir("scope");
    let p = write(&dir, "scope.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let lines = jsonl(&run(&["scan", "--format", "jsonl", "--show-values", p.to_str().unwrap()]));
    let f = of_type(&lines, "finding");
    let uuids: Vec<(&str, &str)> = f
        .iter()
        .filter(|f| f["kind"] == "device_uuid")
        .map(|f| (f["scope"].as_str().unwrap(), f["severity"].as_str().unwrap()))
        .collect();
    assert_eq!(uuids, [("multicast", "low"), ("internet", "medium")], "{f:?}");
    let imei = f.iter().find(|f| f["kind"] == "imei").unwrap();
    assert_eq!((imei["scope"].as_str(), imei["severity"].as_str()), (Some("lan"), Some("high")));
    let text = String::from_utf8_lossy(&run(&["scan", p.to_str().unwrap()]).stdout).into_owned();
    let at = |needle: &str| text.find(needle).unwrap_or_else(|| panic!("{needle:?} not in {text}"));
    assert!(at("  to the internet:") < at("    cloud.example"), "{text}");
    assert!(at("    cloud.example") < at("  on the local network"), "{text}");
    assert!(at("  on the local network") < at("    192.168.1.1"), "{text}");
    assert!(at("  to multicast groups") < at("    239.255.255.250"), "{text}");
}

/// A rule scoped to destinations applies only where the destination is
/// (here: a pattern only on the LAN); an unknown destination name is an
/// error at load, with its place.
#[test]
fn rules_scoped_by_destination() {
    let mut net = Net::default();
    for (i, server) in ["192.168.1.1:80", "198.51.100.5:80"].iter().enumerate() {
        let req = "GET /cfg?admin_pin=4711 HTTP/1.1\r\nHost: cfg.example\r\n\r\n";
        net.http(
            support::ts(1_700_000_000 + i as i64, 0),
            &format!("192.168.1.20:{}", 40_000 + i),
            server,
            req.as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            5 + i as u32,
        );
    }
    let dir = tmpdir("dest-scope");
    let p = write(&dir, "d.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let rule = "[[rule]]\nid = \"LAB-PIN-LAN\"\ntitle = \"PIN on the LAN\"\nseverity = \"low\"\nkind = \"pin\"\nkeys = [\"admin_pin\"]\nscope = { destinations = [\"lan\"] }\n";
    let r = write(&dir, "r.toml", rule.as_bytes());
    let lines = jsonl(&run(&["scan", "--format", "jsonl", "--rules", r.to_str().unwrap(), p.to_str().unwrap()]));
    let pins: Vec<&str> =
        of_type(&lines, "finding").iter().filter(|f| f["kind"] == "pin").map(|f| f["dst"].as_str().unwrap()).collect();
    assert_eq!(pins, ["192.168.1.1:80"]);
    let bad = write(&dir, "bad.toml", rule.replace("\"lan\"", "\"intranet\"").as_bytes());
    let out = run(&["scan", "--rules", bad.to_str().unwrap(), p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml:7:") && err.contains("unknown destination \"intranet\""), "{err}");
}

/// IMEIs of the Android emulator and Genymotion identify no device: they
/// are dropped, counted in the capture record, and the text report names
/// the flag that reports them; with it they are findings.
#[test]
fn test_device_imeis_are_counted_and_the_flag_named() {
    let mut net = Net::default();
    for (i, imei) in ["358240051111110", "004999010640000", "358240051111110"].iter().enumerate() {
        let req = format!("GET /r?imei={imei} HTTP/1.1\r\nHost: t.example\r\n\r\n");
        let client = format!("10.0.0.2:{}", 40_000 + i);
        net.http(
            support::ts(1_700_000_000 + i as i64, 0),
            &client,
            "198.51.100.5:80",
            req.as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            9 + i as u32,
        );
    }
    let dir = tmpdir("test-devices");
    let p = write(&dir, "emu.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let out = run(&["scan", "--format", "jsonl", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let lines = jsonl(&out);
    assert!(of_type(&lines, "finding").is_empty());
    assert_eq!(of_type(&lines, "capture")[0]["detection"]["test_device_imeis"], 3, "one per request");
    let text = String::from_utf8_lossy(&run(&["scan", p.to_str().unwrap()]).stdout).into_owned();
    assert!(
        text.contains("set aside: 3 IMEIs of emulators or test tools (--include-test-devices reports them)"),
        "{text}"
    );
    let with = jsonl(&run(&["scan", "--format", "jsonl", "--include-test-devices", p.to_str().unwrap()]));
    assert_eq!(of_type(&with, "finding").len(), 3);
    assert_eq!(of_type(&with, "capture")[0]["detection"]["test_device_imeis"], 0);
}

/// SARIF 2.1.0: valid against the official schema (checked with Python's
/// jsonschema, which .ci/run installs), rules from the registry, one
/// result per finding, fingerprints stable across captures of the same
/// leaks.
#[test]
fn sarif_output_is_valid_and_stable() {
    let out = run(&["scan", "--format", "sarif", FIXTURE]);
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    let run0 = &doc["runs"][0];
    assert_eq!(doc["version"], "2.1.0");
    let rules = run0["tool"]["driver"]["rules"].as_array().unwrap();
    assert!(
        rules
            .iter()
            .any(|r| r["id"] == "TA-EP-TINNO-STS" && r["help"]["text"].as_str().unwrap().contains("References"))
    );
    let results = run0["results"].as_array().unwrap();
    let jsonl_findings = of_type(&jsonl(&run(&["scan", "--format", "jsonl", FIXTURE])), "finding").len();
    assert_eq!(results.len(), jsonl_findings);
    for r in results {
        assert!(r["ruleId"].is_string() && r["level"].is_string() && r["locations"][0]["physicalLocation"].is_object());
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[i]["id"], r["ruleId"]);
        assert!(!r["message"]["text"].as_str().unwrap().contains(wiko::IMEI1), "values masked");
    }
    // The same leaks in another container and link layer: same fingerprints.
    let dir = tmpdir("sarif");
    let other = write(&dir, "other.pcapng", &support::pcapng(&wiko::build(), &[(Link::LinuxSll2, 9)], true));
    let doc2: Value = serde_json::from_slice(
        &run(&["scan", "--format", "sarif", "--keylog", FIXTURE_KEYS, other.to_str().unwrap()]).stdout,
    )
    .unwrap();
    let prints = |d: &Value| {
        let mut v: Vec<String> = d["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"]["teleauditLeak/v1"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(prints(&doc), prints(&doc2));
    // Schema validation.
    let sarif = write(&dir, "out.sarif", &out.stdout);
    let schema = root().join("../shared/schemas/sarif-2.1.0.json");
    let script =
        "import json,sys,jsonschema; jsonschema.validate(json.load(open(sys.argv[1])), json.load(open(sys.argv[2])))";
    match Command::new("python3").args(["-c", script, sarif.to_str().unwrap(), schema.to_str().unwrap()]).output() {
        Ok(o) if o.status.success() => {}
        Ok(o) if schema.exists() && std::env::var_os("CI").is_some() => {
            panic!("SARIF does not validate: {}", String::from_utf8_lossy(&o.stderr))
        }
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("ValidationError") => {
            panic!("SARIF does not validate: {}", String::from_utf8_lossy(&o.stderr))
        }
        other => eprintln!("SARIF schema check skipped outside CI: {other:?}"),
    }
}

/// A baseline written from one scan suppresses all its findings in a
/// re-scan; a leak added to the capture is then the only finding.
#[test]
fn baseline_suppresses_known_leaks_and_shows_new_ones() {
    let dir = tmpdir("baseline");
    let base = dir.join("baseline.json");
    let out = run(&["scan", "--format", "jsonl", "--write-baseline", base.to_str().unwrap(), FIXTURE]);
    // Writing a baseline accepts what it found: exit 0.
    assert_eq!(out.status.code(), Some(0));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();
    assert!(written["leaks"].as_array().unwrap().len() >= 10);
    assert!(!written.to_string().contains(wiko::IMEI1), "no values in the baseline, only hashes");
    let again = run(&["scan", "--format", "jsonl", "--baseline", base.to_str().unwrap(), FIXTURE]);
    let lines = jsonl(&again);
    assert!(of_type(&lines, "finding").is_empty());
    // Every finding of the first scan is suppressed (the STS string sent
    // twice by SMS is one leak: same fingerprint).
    assert_eq!(of_type(&lines, "summary")[0]["suppressed"], of_type(&jsonl(&out), "finding").len());
    assert_eq!(again.status.code(), Some(0));
    // The same capture plus one new leak (a new host), later in time.
    let mut net = wiko::build();
    net.http(
        support::ts(wiko::T0 + 5000, 0),
        "10.20.0.23:45000",
        "198.51.100.99:80",
        format!("GET /v1/boot?imei={} HTTP/1.1\r\nHost: new.example\r\n\r\n", wiko::IMEI1).as_bytes(),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        99,
    );
    let p = write(&dir, "more.pcap", &support::pcap(&net, Link::Ethernet, false, false));
    let out = run(&[
        "scan",
        "--format",
        "jsonl",
        "--keylog",
        FIXTURE_KEYS,
        "--baseline",
        base.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    let f = of_type(&jsonl(&out), "finding").into_iter().cloned().collect::<Vec<_>>();
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0]["host"], "new.example");
    assert_eq!(out.status.code(), Some(1));
    // diff: the added leak is new, nothing is gone; and the other way round.
    let d = run(&["diff", "--format", "jsonl", "--keylog", FIXTURE_KEYS, FIXTURE, p.to_str().unwrap()]);
    let lines = jsonl(&d);
    let new: Vec<&Value> = of_type(&lines, "new");
    assert_eq!(new.len(), 1);
    assert_eq!(new[0]["host"], "new.example");
    assert!(of_type(&lines, "gone").is_empty());
    assert_eq!(d.status.code(), Some(1));
    let back = jsonl(&run(&["diff", "--format", "jsonl", "--keylog", FIXTURE_KEYS, p.to_str().unwrap(), FIXTURE]));
    assert_eq!(of_type(&back, "gone").len(), 1);
    assert!(of_type(&back, "new").is_empty());
    assert_eq!(run(&["diff", FIXTURE, FIXTURE]).status.code(), Some(0));
}
