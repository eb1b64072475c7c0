//! `-j N` within one capture, attacked: captures whose connections share
//! state the workers could each see differently (key material in
//! Decryption Secrets Blocks, TLS sessions resumed on another connection,
//! uid maps after the connections they name, DNS names learnt between
//! requests, SLAAC sources, multicast repeats, a 4-tuple used over UDP
//! and TCP, more notes than the capture record keeps, more server names
//! than it lists), read with 1, 2, 3 and 7 workers: the same lines, in
//! every mode and format. And a reader that stops early (`| head -1`)
//! ends the run, without a crash.
//!
//! The workers' split is seeded per run, so each capture spreads the
//! connections that share state over many source ports: whatever the
//! seed, some land on different workers.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use support::tls::{self as t, Secrets12};
use support::{Link, Net, Tcp, pseudo_random, ts};
use teleaudit::app::tls::crypto::RecordCipher;
use teleaudit::util::Timestamp;

const IMEI: &str = "356938035643809";
const WORKERS: [usize; 4] = [1, 2, 3, 7];

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("teleaudit-sharded-attack-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_teleaudit")).args(args).output().expect("run teleaudit")
}

/// A run's JSON Lines without what measures the run (time, memory).
fn comparable_jsonl(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let mut v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("bad JSON line {l:?}: {e}"));
            if let Some(o) = v.as_object_mut() {
                o.remove("elapsed_seconds");
                o.remove("peak_memory_bytes");
            }
            v
        })
        .collect()
}

/// Text and SARIF without the times a run measures of itself.
fn comparable_text(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.contains("elapsed") && !l.contains("peak memory") && !l.contains("peak_memory"))
        .map(|l| match l.rsplit_once("; ") {
            // The text summary ends with the run's time: "; 0.04 s".
            Some((rest, t)) if t.ends_with(" s") && t[..t.len() - 2].parse::<f64>().is_ok() => rest.to_string(),
            _ => l.to_string(),
        })
        .collect()
}

/// Runs `teleaudit <mode> --format <format> --show-values -j N <path>`
/// for every N of [`WORKERS`]: the same exit code and the same lines as
/// with one worker. Returns the JSON Lines of one worker (empty for
/// other formats).
fn same(path: &Path, mode: &str, format: &str) -> Vec<Value> {
    let p = path.to_str().unwrap();
    let mut first: Option<(Option<i32>, Vec<String>, Vec<Value>)> = None;
    for n in WORKERS {
        let n = n.to_string();
        let out = run(&[mode, "--format", format, "--show-values", "-j", &n, p]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "{} -j {n}: {err}", path.display());
        assert!(matches!(out.status.code(), Some(0..=2)), "{} -j {n}: {:?} {err}", path.display(), out.status);
        let (text, json) =
            if format == "jsonl" { (Vec::new(), comparable_jsonl(&out)) } else { (comparable_text(&out), Vec::new()) };
        match &first {
            None => first = Some((out.status.code(), text, json)),
            Some((code, want_text, want_json)) => {
                let what = format!("{} ({mode}, {format}) with -j {n}", path.display());
                assert_eq!(*code, out.status.code(), "{what}: exit code");
                for (i, (a, b)) in want_json.iter().zip(&json).enumerate() {
                    assert_eq!(a, b, "{what}: line {i} differs from -j 1");
                }
                assert_eq!(want_json.len(), json.len(), "{what}: number of lines");
                for (i, (a, b)) in want_text.iter().zip(&text).enumerate() {
                    assert_eq!(a, b, "{what}: line {i} differs from -j 1");
                }
                assert_eq!(want_text.len(), text.len(), "{what}: number of lines");
            }
        }
    }
    first.map(|f| f.2).unwrap_or_default()
}

/// [`same`] for `scan` in JSON Lines, then `requests`, text and SARIF.
fn same_everywhere(path: &Path) -> Vec<Value> {
    let lines = same(path, "scan", "jsonl");
    same(path, "requests", "jsonl");
    same(path, "scan", "text");
    same(path, "scan", "sarif");
    lines
}

fn of_type<'a>(lines: &'a [Value], t: &str) -> Vec<&'a Value> {
    lines.iter().filter(|v| v["type"] == t).collect()
}

fn capture(lines: &[Value]) -> &Value {
    lines.iter().find(|v| v["type"] == "capture").expect("capture record")
}

fn at(secs: i64, micros: u32) -> Timestamp {
    ts(1_700_000_000 + secs, micros)
}

fn post(host: Option<&str>, target: &str, body: &str) -> String {
    let host = host.map_or_else(String::new, |h| format!("Host: {h}\r\n"));
    format!(
        "POST {target} HTTP/1.1\r\n{host}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// The pcapng blocks of `net`'s packets (no section header), on the
/// first interface of a section `support::pcapng` wrote.
fn packet_blocks(net: &Net) -> Vec<u8> {
    let header = support::pcapng(&Net::default(), &[(Link::Ethernet, 6)], false);
    support::pcapng(net, &[(Link::Ethernet, 6)], false)[header.len()..].to_vec()
}

fn secrets(i: u32, master_of: u32) -> Secrets12 {
    let arr = |seed: u64| -> [u8; 32] { pseudo_random(seed, 32).try_into().unwrap() };
    Secrets12 {
        client_random: arr(0x1000 + u64::from(i)),
        server_random: arr(0x2000 + u64::from(i)),
        master: pseudo_random(0x3000 + u64::from(master_of), 48).try_into().unwrap(),
    }
}

const SUITE12: u16 = 0xc02f;

/// A TLS 1.2 connection (AES-128-GCM) sending `request`: a full
/// handshake whose ServerHello gives session id `sid`, or, when
/// `resume`, an abbreviated one resuming `sid` (the master secret of an
/// earlier connection). Returns the connection, open, and its ciphers.
fn tls12(
    net: &mut Net,
    when: i64,
    c: &mut Tcp,
    k: &Secrets12,
    sid: &[u8],
    resume: bool,
    request: &str,
) -> (RecordCipher, RecordCipher) {
    let offered: &[u8] = if resume { sid } else { &[] };
    let hello = t::client_hello(&k.client_random, offered, SUITE12, "up.example.net", None);
    net.send(at(when, 10_000), c, &t::client_hello_record(&hello), 1400);
    let (mut cw, mut sw) = k.ciphers(SUITE12);
    if resume {
        let mut out = t::clear_record(t::HANDSHAKE, &t::server_hello(&k.server_random, sid, SUITE12, None));
        out.extend(t::change_cipher_spec());
        out.extend(t::seal(&mut sw, t::HANDSHAKE, &t::handshake(t::FINISHED, &[7; 12])));
        net.reply(at(when, 20_000), c, &out, 1400);
        let mut out = t::change_cipher_spec();
        out.extend(t::seal(&mut cw, t::HANDSHAKE, &t::handshake(t::FINISHED, &[8; 12])));
        net.send(at(when, 30_000), c, &out, 1400);
    } else {
        let mut flight = t::server_hello(&k.server_random, sid, SUITE12, None);
        flight.extend(t::handshake(t::SERVER_HELLO_DONE, &[]));
        net.reply(at(when, 20_000), c, &t::clear_record(t::HANDSHAKE, &flight), 1400);
        let mut out = t::clear_record(t::HANDSHAKE, &t::handshake(t::CLIENT_KEY_EXCHANGE, &[65; 66]));
        out.extend(t::change_cipher_spec());
        out.extend(t::seal(&mut cw, t::HANDSHAKE, &t::handshake(t::FINISHED, &[5; 12])));
        net.send(at(when, 30_000), c, &out, 1400);
        let mut out = t::change_cipher_spec();
        out.extend(t::seal(&mut sw, t::HANDSHAKE, &t::handshake(t::FINISHED, &[6; 12])));
        net.reply(at(when, 40_000), c, &out, 1400);
    }
    net.send(at(when, 50_000), c, &t::seal(&mut cw, t::APPLICATION_DATA, request.as_bytes()), 1400);
    net.reply(at(when, 60_000), c, &t::seal(&mut sw, t::APPLICATION_DATA, b"HTTP/1.1 204 No Content\r\n\r\n"), 1400);
    (cw, sw)
}

/// TLS 1.2 connections from many ports in three groups around two
/// Decryption Secrets Blocks: those before the first (closed before it,
/// or open across it, sending more after it), those between the blocks,
/// those after the last block. The first block gives the keys of the
/// first group and half the second, plus a line it cannot read; the last
/// block gives the rest, plus another bad line. Each connection uploads
/// an IMEI and a serial: they are found once their keys come, at the
/// block's frame, in the order the connections waited.
#[test]
fn keys_in_the_middle_and_at_the_end_read_the_same_with_any_workers() {
    let (mut a, mut b, mut c) = (Net::default(), Net::default(), Net::default());
    let (mut mid_keys, mut end_keys) =
        (String::from("CLIENT_RANDOM nothex nothex\n"), String::from("# end\nBAD LINE\n"));
    let mut open_across = Vec::new();
    for i in 0..36u32 {
        let k = secrets(i, i);
        let net = match i / 12 {
            0 => &mut a,
            1 => &mut b,
            _ => &mut c,
        };
        let when = i64::from(i);
        let mut conn =
            net.connect(at(when, 0), &format!("10.0.0.2:{}", 30_000 + i), "192.0.2.7:443", i * 9973, i * 7919);
        let body = format!("imei={IMEI}&serial=SN{i:06}X&n={i}");
        let (mut cw, _) = tls12(net, when, &mut conn, &k, &[], false, &post(Some("up.example.net"), "/a", &body));
        if i < 12 && i % 3 == 0 {
            // Open across the first block: more after it.
            open_across.push((conn, cw, i));
        } else if i % 4 == 1 {
            // Left open to the end (closed by the end of the capture).
            let more = post(Some("up.example.net"), "/b", &format!("imei={IMEI}&more={i}"));
            net.send(at(when, 70_000), &mut conn, &t::seal(&mut cw, t::APPLICATION_DATA, more.as_bytes()), 1400);
        } else {
            net.close(at(when, 900_000), &mut conn);
        }
        if i < 18 {
            mid_keys.push_str(&k.keylog());
        } else {
            end_keys.push_str(&k.keylog());
        }
    }
    for (conn, cw, i) in &mut open_across {
        let more = post(Some("up.example.net"), "/c", &format!("imei={IMEI}&later={i}"));
        b.send(at(100, *i * 1000), conn, &t::seal(cw, t::APPLICATION_DATA, more.as_bytes()), 1400);
        b.close(at(101, *i * 1000), conn);
    }
    let mut cap = support::pcapng(&a, &[(Link::Ethernet, 6)], false);
    cap.extend(support::decryption_secrets_block(mid_keys.as_bytes()));
    cap.extend(packet_blocks(&b));
    cap.extend(packet_blocks(&c));
    cap.extend(support::decryption_secrets_block(end_keys.as_bytes()));
    let dir = tmpdir("dsb");
    let path = dir.join("dsb.pcapng");
    std::fs::write(&path, cap).unwrap();
    let lines = same_everywhere(&path);
    let imeis = of_type(&lines, "finding").into_iter().filter(|f| f["kind"] == "imei").count();
    assert!(imeis >= 36, "{imeis} IMEIs: {lines:?}");
    let cap = capture(&lines);
    assert_eq!(cap["tls"]["decrypted"], 36, "{cap}");
    assert_eq!(cap["notes"].as_array().map(Vec::len), Some(2), "a note per bad line: {cap}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// One TLS 1.2 session made by a full handshake (its keys in the key
/// log), then resumed on 24 other connections from other ports (an
/// abbreviated handshake: the same master secret, no key log line of
/// their own). With one worker each resumed connection is decrypted with
/// the master secret the first one taught; with several, a worker that
/// did not see the first connection must do as well.
///
/// Known divergence, not fixed: each worker has its own key store, and
/// the master secret a full handshake teaches (`KeyStore::learn_session`,
/// `learn_ticket`) stays with the worker that read it; a resumption on a
/// connection another worker reads waits for keys that never come. Run
/// with `--ignored` to see it.
#[test]
#[ignore = "TLS sessions learnt by one worker are not known to the others"]
fn sessions_resumed_on_other_connections_read_the_same_with_any_workers() {
    let mut net = Net::default();
    let sid = pseudo_random(0x51d, 32);
    let first = secrets(0, 0);
    let mut c = net.connect(at(0, 0), "10.0.0.2:40000", "192.0.2.8:443", 11, 22);
    tls12(&mut net, 0, &mut c, &first, &sid, false, &post(Some("up.example.net"), "/full", &format!("imei={IMEI}")));
    net.close(at(0, 900_000), &mut c);
    for i in 1..=24u32 {
        let k = secrets(i, 0);
        let mut c =
            net.connect(at(i64::from(i), 0), &format!("10.0.0.2:{}", 40_000 + i), "192.0.2.8:443", i * 31, i * 77);
        let body = format!("imei={IMEI}&resumed={i}");
        tls12(&mut net, i64::from(i), &mut c, &k, &sid, true, &post(Some("up.example.net"), "/resumed", &body));
        net.close(at(i64::from(i), 900_000), &mut c);
    }
    let dir = tmpdir("resumed");
    let path = support::pcapng(&net, &[(Link::Ethernet, 6)], false);
    let cap = dir.join("resumed.pcapng");
    std::fs::write(&cap, path).unwrap();
    std::fs::write(dir.join("resumed.keys"), first.keylog()).unwrap();
    let lines = same(&cap, "scan", "jsonl");
    // The capture is read as intended: every connection decrypted.
    assert_eq!(capture(&lines)["tls"]["decrypted"], 25, "{}", capture(&lines));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A PCAPdroid pcapng export whose uid map blocks come after the
/// connections they name (some in the middle, the last at the end),
/// with three apps on connections from many ports: what the earlier
/// packets made is named, and the app tallies are the same, for any
/// number of workers.
#[test]
fn uid_maps_after_their_connections_read_the_same_with_any_workers() {
    use support::appmeta::uid_map;
    use teleaudit::capture::appmeta::PCAPDROID_PEN;
    use teleaudit::capture::writer::PcapngWriter;
    let apps = [(10_101, "com.a.tracker", "Tracker A"), (10_102, "com.b.ads", "Ads B"), (10_103, "com.c.sdk", "SDK C")];
    let mut w = PcapngWriter::new(Vec::new());
    w.section(false).unwrap();
    w.interface(teleaudit::capture::Linktype::RAW, 6).unwrap();
    for i in 0..30u32 {
        let mut net = Net::default();
        let (uid, package, name) = apps[(i % 3) as usize];
        let body = format!("imei={IMEI}&app={package}&n={i}");
        net.http(
            at(i64::from(i), 0),
            &format!("10.0.0.2:{}", 50_000 + i),
            &format!("198.51.100.{}:80", 1 + i % 5),
            post(Some("collect.example"), "/c", &body).as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            i * 1237,
        );
        let comment = format!("u-{uid}");
        for (tm, p) in &net.packets {
            w.packet_with_options(0, *tm, p, &[(1, comment.as_bytes())]).unwrap();
        }
        // App 0's map in the middle, app 1's at the end; app 2 never.
        if i == 14 {
            w.custom(PCAPDROID_PEN, &uid_map(uid, package, name)).unwrap();
            let (uid, package, name) = apps[0];
            w.custom(PCAPDROID_PEN, &uid_map(uid, package, name)).unwrap();
        }
    }
    let (uid, package, name) = apps[1];
    w.custom(PCAPDROID_PEN, &uid_map(uid, package, name)).unwrap();
    let dir = tmpdir("uidmap");
    let path = dir.join("pcapdroid.pcapng");
    std::fs::write(&path, w.into_inner()).unwrap();
    let lines = same_everywhere(&path);
    // Named from the middle on: the map came after its first uploads.
    let named = of_type(&lines, "finding").into_iter().filter(|f| f["app"] == "com.a.tracker").count();
    assert!(named >= 5, "{lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// 400 connections, interleaved: a few send a body declared gzip that
/// is not (a note each, as they complete), and 150 stay open to the end
/// of the capture with a body shorter than announced (a note each when
/// the end closes them): more notes than the capture record keeps (100),
/// most made after the last frame. The first 100 in the capture's order,
/// whatever the workers.
#[test]
fn more_notes_than_kept_read_the_same_with_any_workers() {
    let mut net = Net::default();
    for i in 0..400u32 {
        let when = at(i64::from(i / 20), (i % 20) * 1000);
        let mut c = net.connect(
            when,
            &format!("10.0.0.3:{}", 20_000 + i),
            &format!("203.0.113.{}:80", 1 + i % 7),
            i * 101,
            i * 211,
        );
        let req = match i % 8 {
            1 => format!(
                "POST /g?imei={IMEI} HTTP/1.1\r\nHost: g{i}.example\r\nContent-Encoding: gzip\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 12\r\n\r\nnotgzipdata!"
            ),
            3 | 5 | 7 => format!(
                "POST /l?imei={IMEI} HTTP/1.1\r\nHost: l{i}.example\r\nContent-Length: 900\r\n\r\nimei={IMEI}&short"
            ),
            _ => post(Some(&format!("p{i}.example")), "/p", &format!("imei={IMEI}")),
        };
        net.send(at(i64::from(i / 20), (i % 20) * 1000 + 500), &mut c, req.as_bytes(), 40);
        if i % 8 < 3 || i % 2 == 0 {
            net.close(at(30, i * 100), &mut c);
        }
    }
    let dir = tmpdir("notes");
    let path = dir.join("notes.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let lines = same_everywhere(&path);
    let cap = capture(&lines);
    let notes = cap["notes"].as_array().expect("notes");
    assert_eq!(notes.len(), 100, "{cap}");
    let cut = notes.iter().filter(|n| n["message"].as_str().is_some_and(|m| m.contains("cut short"))).count();
    assert!(cut > 40, "{cut} of the notes made at the end: {cap}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// SSDP NOTIFY over UDP to the multicast group from 40 source ports of
/// one device, its MAC in each, and the same announcement over TCP
/// connections to the group's address (a capture can say anything):
/// each value is reported once per sending address and group, whatever
/// the workers.
#[test]
fn multicast_repeats_read_the_same_with_any_workers() {
    let mut net = Net::default();
    let notify = |i: u32| {
        format!(
            "NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\nUSN: uuid:{IMEI}\r\nX-MAC: a4:5e:60:12:34:56\r\nX-IMEI: {IMEI}\r\nX-N: {i}\r\n\r\n"
        )
    };
    for i in 0..40u32 {
        let p =
            support::ipv4_udp([192, 168, 1, 20], [239, 255, 255, 250], 40_000 + i as u16, 1900, notify(i).as_bytes());
        net.push(at(i64::from(i), 0), p);
        let mut c = net.connect(
            at(i64::from(i), 100),
            &format!("192.168.1.20:{}", 41_000 + i),
            "239.255.255.250:1900",
            i * 3,
            i * 5,
        );
        net.send(at(i64::from(i), 200), &mut c, notify(i).as_bytes(), 1400);
        net.close(at(i64::from(i), 300), &mut c);
    }
    let dir = tmpdir("multicast");
    let path = dir.join("ssdp.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let lines = same_everywhere(&path);
    assert!(!of_type(&lines, "finding").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// A value sent in a UDP datagram, then on a TCP connection between the
/// same two addresses and ports (a non-HTTP text stream), repeated on
/// 30 such pairs: one worker and several report the same.
#[test]
fn one_four_tuple_over_udp_and_tcp_reads_the_same_with_any_workers() {
    let mut net = Net::default();
    for i in 0..30u32 {
        let line = format!("HELLO device imei={IMEI} mac=a4:5e:60:12:34:{:02x}\n", i);
        let port = 45_000 + i as u16;
        net.push(at(i64::from(i), 0), support::ipv4_udp([10, 0, 0, 9], [203, 0, 113, 50], port, 7000, line.as_bytes()));
        let mut c =
            net.connect(at(i64::from(i), 100), &format!("10.0.0.9:{port}"), "203.0.113.50:7000", i * 17, i * 19);
        net.send(at(i64::from(i), 200), &mut c, line.as_bytes(), 1400);
        net.close(at(i64::from(i), 300), &mut c);
    }
    let dir = tmpdir("tuple");
    let path = dir.join("tuple.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let lines = same(&path, "scan", "jsonl");
    assert!(!of_type(&lines, "finding").is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

/// IPv6 sources whose interface identifiers are EUI-64s of MACs (SLAAC
/// without privacy extensions), each on many connections to the same
/// servers and to others named by DNS: each MAC reported once per
/// destination, at its first packet.
#[test]
fn slaac_sources_read_the_same_with_any_workers() {
    let mut net = Net::default();
    net.dns(at(0, 0), "10.0.0.2:5353", "10.0.0.1:53", "v6.example", [198, 51, 100, 1]);
    for i in 0..60u32 {
        let dev = i % 3;
        let src = format!("[2001:db8:1::a65e:60ff:fe12:34{:02x}]:{}", 0x50 + dev, 30_000 + i);
        let dst = format!("[2001:db8:2::{}]:80", 1 + i % 4);
        let body = format!("n={i}&imei={IMEI}");
        net.http(
            at(i64::from(i), 0),
            &src,
            &dst,
            post(Some("v6.example"), "/u", &body).as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            i * 999,
        );
    }
    let dir = tmpdir("slaac");
    let path = dir.join("slaac.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let lines = same_everywhere(&path);
    let macs = of_type(&lines, "finding").into_iter().filter(|f| f["protocol"] == "ipv6").count();
    assert_eq!(macs, 12, "3 devices x 4 servers: {lines:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// HTTP/1.0 requests without Host to servers named by DNS only, the
/// answers coming between the requests and changing which name an
/// address has while connections to it are open; and a port pair reused
/// after FIN. The host of each finding is the name known when its
/// request completed, whatever the workers.
#[test]
fn dns_between_requests_and_reused_ports_read_the_same_with_any_workers() {
    let mut net = Net::default();
    let mut open = Vec::new();
    for i in 0..80u32 {
        if i % 10 == 0 {
            for s in 0..4u8 {
                let name = format!("gen{}-{s}.example", i / 10);
                net.dns(at(i64::from(i), u32::from(s) * 10), "10.0.0.2:5353", "10.0.0.1:53", &name, [198, 51, 100, s]);
            }
        }
        let server = format!("198.51.100.{}:80", i % 4);
        // Ports repeat every 20 connections: a pair reused after FIN.
        let client = format!("10.0.0.2:{}", 33_000 + i % 20);
        let mut c = net.connect(at(i64::from(i), 1000), &client, &server, i * 4099, i * 8191);
        let body = format!("imei={IMEI}&n={i}");
        let req = format!(
            "POST /u HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (head, rest) = req.split_at(req.len() - 4);
        net.send(at(i64::from(i), 2000), &mut c, head.as_bytes(), 1400);
        if i % 2 == 0 {
            net.send(at(i64::from(i), 3000), &mut c, rest.as_bytes(), 1400);
            net.close(at(i64::from(i), 4000), &mut c);
        } else {
            open.push((c, rest.to_string(), i));
            if open.len() == 10 {
                // Finished after later DNS answers.
                for (mut c, rest, j) in open.drain(..) {
                    net.send(at(i64::from(i), 5000 + j), &mut c, rest.as_bytes(), 1400);
                    net.close(at(i64::from(i), 6000 + j), &mut c);
                }
            }
        }
    }
    let dir = tmpdir("dns");
    let path = dir.join("dns.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let lines = same_everywhere(&path);
    let imeis: Vec<&Value> = of_type(&lines, "finding").into_iter().filter(|f| f["kind"] == "imei").collect();
    assert_eq!(imeis.len(), 80, "{lines:?}");
    assert!(imeis.iter().all(|f| f["host"].as_str().is_some_and(|h| h.starts_with("gen"))));
    let _ = std::fs::remove_dir_all(&dir);
}

/// 1,500 TLS connections, each with its own server name (more than the
/// 1,000 the capture record lists), the names not in alphabetical order
/// of their first appearance: the record lists the same names with any
/// number of workers.
#[test]
fn more_server_names_than_listed_read_the_same_with_any_workers() {
    let mut net = Net::default();
    for i in 0..1500u32 {
        let mut c = net.connect(
            at(i64::from(i / 100), (i % 100) * 1000),
            &format!("10.1.{}.{}:{}", i / 250, i % 250, 20_000 + i),
            "192.0.2.99:443",
            i * 13,
            i * 17,
        );
        // Names sort in the reverse of their order in the capture.
        let sni = format!("h{:05}.example.net", 99_999 - i);
        let hello = t::client_hello(&pseudo_random(u64::from(i), 32).try_into().unwrap(), &[], SUITE12, &sni, None);
        net.send(at(i64::from(i / 100), (i % 100) * 1000 + 10), &mut c, &t::client_hello_record(&hello), 1400);
        net.close(at(i64::from(i / 100), (i % 100) * 1000 + 20), &mut c);
    }
    let dir = tmpdir("names");
    let path = dir.join("names.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    let lines = same(&path, "scan", "jsonl");
    let names = capture(&lines)["tls_server_names"].as_array().map_or(0, Vec::len);
    assert_eq!(names, 1000, "{}", capture(&lines));
    let _ = std::fs::remove_dir_all(&dir);
}

/// `teleaudit scan -j 3 big.pcap | head -1`: once the reader of the
/// output is gone the run ends (this test would hang otherwise), and not
/// by a panic.
#[test]
fn a_reader_that_stops_early_ends_the_sharded_run() {
    let mut net = Net::default();
    for i in 0..20_000u32 {
        let body = format!("imei={IMEI}&n={i}");
        net.http(
            at(i64::from(i / 1000), (i % 1000) * 1000),
            &format!("10.2.{}.{}:{}", i / 250, i % 250, 20_000 + i % 30_000),
            &format!("198.51.100.{}:80", i % 50),
            post(Some("big.example"), "/u", &body).as_bytes(),
            b"HTTP/1.1 204 No Content\r\n\r\n",
            i * 7,
        );
    }
    let dir = tmpdir("head");
    let path = dir.join("big.pcap");
    std::fs::write(&path, support::pcap(&net, Link::Ethernet, false, false)).unwrap();
    for n in ["1", "3"] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_teleaudit"))
            .args(["scan", "--format", "jsonl", "-j", n, path.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run teleaudit");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
        assert!(first.contains("\"type\""), "{first}");
        // The pipe is closed here (the reader dropped): as `head -1` does.
        let out = child.wait_with_output().expect("wait");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked"), "-j {n}: {err}");
        assert_ne!(out.status.code(), Some(101), "-j {n}: {err}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
