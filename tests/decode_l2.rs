//! Link layers and tunnels of real captures (issue 14), end to end: IEEE
//! 802.11 data frames (bare, radiotap, PPI) and L2TPv2 carry HTTP
//! requests whose identifiers are found with the inner addresses;
//! protected 802.11 frames, management and null frames, EAPOL, L2TP
//! control and PPP negotiation are counted and never read. Captures are
//! written by `support::wifi`; the Zeek corpus's two 802.11 captures are
//! read when the corpus is there.
mod support;

use std::path::PathBuf;

use serde_json::Value;
use support::wifi::{self, BEACON, DATA, FROM_DS, L2tpForm, NULL, ORDER, PROTECTED, QOS_DATA, QOS_NULL, TO_DS};
use support::{Net, pseudo_random, ts};
use teleaudit::capture::{Frame, Linktype};
use teleaudit::decode::{Decoded, Decoder};

const IMEI: &str = "356938035643809";
const CLIENT4: &str = "10.0.0.5:40001";
const SERVER4: &str = "192.0.2.80:80";
const CLIENT6: &str = "[2001:db8::5]:40002";
const SERVER6: &str = "[2001:db8:80::80]:80";

/// One HTTP exchange whose request carries the IMEI under its key.
fn conversation(client: &str, server: &str) -> Net {
    let mut n = Net::default();
    let req = format!("GET /u?imei={IMEI} HTTP/1.1\r\nHost: t.example\r\n\r\n");
    n.http(ts(1_700_300_000, 0), client, server, req.as_bytes(), b"HTTP/1.1 204 No Content\r\n\r\n", 7);
    n
}

/// Upstream (from the station, ToDS) or downstream (FromDS): by whether
/// the packet comes from the client's address.
fn ds(ip: &[u8]) -> u8 {
    let from_client = match ip.first().map(|b| b >> 4) {
        Some(4) => ip.get(12..16) == Some(&[10, 0, 0, 5]),
        _ => ip.get(8..12) == Some(&[0x20, 0x01, 0x0d, 0xb8]) && ip.get(23) == Some(&5),
    };
    if from_client { TO_DS } else { FROM_DS }
}

fn run(name: &str, bytes: &[u8], format: &str) -> std::process::Output {
    let dir = std::env::temp_dir().join(format!("teleaudit-decode-l2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write capture");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .args(["scan", "--format", format, "--fail-on", "never"])
        .arg(&path)
        .output()
        .expect("run teleaudit");
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn scan(name: &str, bytes: &[u8]) -> Vec<Value> {
    let out = run(name, bytes, "jsonl");
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("JSON line")).collect()
}

fn of_type<'a>(r: &'a [Value], t: &str) -> Vec<&'a Value> {
    r.iter().filter(|v| v["type"] == t).collect()
}

fn capture(r: &[Value]) -> &Value {
    of_type(r, "capture").into_iter().next().expect("capture record")
}

fn imeis(r: &[Value]) -> Vec<(String, String)> {
    of_type(r, "finding")
        .iter()
        .filter(|f| f["kind"] == "imei" && f["value"].as_str().is_some_and(|v| v.contains(&IMEI[..2])))
        .map(|f| (f["src"].as_str().unwrap_or("").to_string(), f["dst"].as_str().unwrap_or("").to_string()))
        .collect()
}

#[test]
fn imei_in_http_over_80211_is_found_with_the_inner_addresses() {
    type Wrap = Box<dyn Fn(&[u8]) -> Vec<u8>>;
    let cases: Vec<(&str, Linktype, &str, Wrap, bool)> = vec![
        (
            "radiotap, QoS data, FCS",
            wifi::LINKTYPE_RADIOTAP,
            "IEEE802_11_RADIOTAP (127)",
            Box::new(|ip| wifi::radiotap(&wifi::data(QOS_DATA, ds(ip), ip), true)),
            false,
        ),
        (
            "PPI, QoS data, FCS",
            wifi::LINKTYPE_PPI,
            "PPI (192)",
            Box::new(|ip| wifi::ppi(&wifi::data(QOS_DATA, ds(ip), ip), true)),
            false,
        ),
        (
            "radiotap, QoS data, four addresses and HT Control",
            wifi::LINKTYPE_RADIOTAP,
            "IEEE802_11_RADIOTAP (127)",
            Box::new(|ip| wifi::radiotap(&wifi::data(QOS_DATA, TO_DS | FROM_DS | ORDER, ip), false)),
            false,
        ),
        (
            "bare 802.11, data, IPv6",
            wifi::LINKTYPE_IEEE802_11,
            "IEEE802_11 (105)",
            Box::new(|ip| wifi::data(DATA, ds(ip), ip)),
            true,
        ),
    ];
    for (i, (what, link, name, wrap, v6)) in cases.into_iter().enumerate() {
        let (c, s) = if v6 { (CLIENT6, SERVER6) } else { (CLIENT4, SERVER4) };
        let net = conversation(c, s);
        let r = scan(&format!("wifi-{i}.pcap"), &wifi::pcap(&net, link, wrap));
        assert_eq!(imeis(&r), vec![(c.to_string(), s.to_string())], "{what}: {r:#?}");
        let cap = capture(&r);
        assert_eq!(cap["link_types"][name], net.packets.len() as u64, "{what}");
        assert!(of_type(&r, "error").is_empty(), "{what}: {r:#?}");
        let n = &cap["not_inspected"];
        for k in ["unsupported_link_frames", "wifi_protected_frames", "malformed_frames", "truncated_frames"] {
            assert_eq!(n[k], 0, "{what}: {k}");
        }
        // A link layer, not a tunnel.
        assert_eq!(cap["encapsulated_frames"], 0, "{what}");
    }
}

/// The frames of a readable conversation with the Protected bit set: the
/// "ciphertext" is the cleartext, so only the bit keeps it from being read.
#[test]
fn protected_frames_are_counted_and_not_read() {
    let net = conversation(CLIENT4, SERVER4);
    let open = wifi::pcap(&net, wifi::LINKTYPE_RADIOTAP, |ip| wifi::radiotap(&wifi::data(QOS_DATA, ds(ip), ip), true));
    assert_eq!(imeis(&scan("open.pcap", &open)).len(), 1, "the same frames unprotected are read");
    let sealed = wifi::pcap(&net, wifi::LINKTYPE_RADIOTAP, |ip| {
        wifi::radiotap(&wifi::data(QOS_DATA, ds(ip) | PROTECTED, ip), true)
    });
    let r = scan("sealed.pcap", &sealed);
    assert!(of_type(&r, "finding").is_empty(), "{r:#?}");
    let cap = capture(&r);
    assert_eq!(cap["not_inspected"]["wifi_protected_frames"], net.packets.len() as u64);
    assert_eq!(cap["flows"], 0);
    let text = String::from_utf8_lossy(&run("sealed.pcap", &sealed, "text").stdout).into_owned();
    let line = format!("{} encrypted 802.11 frames", net.packets.len());
    assert!(text.lines().any(|l| l.contains("not inspected:") && l.contains(&line)), "{text}");
}

#[test]
fn frames_without_ip_are_counted_by_kind() {
    let mut net = Net::default();
    let t = ts(1_700_300_000, 0);
    // Frames made below, not from IP packets: the wrap ignores its input.
    let frames = [
        (wifi::radiotap(&wifi::frame(BEACON, 0, &[0; 36]), true), "other"),
        (wifi::radiotap(&wifi::frame(NULL, TO_DS, &[]), true), "other"),
        (wifi::radiotap(&wifi::frame(QOS_NULL, TO_DS, &[]), true), "other"),
        (wifi::radiotap(&wifi::frame(QOS_DATA, FROM_DS, &wifi::snap(0x888e, &[2, 3, 0, 95])), true), "other"),
        (wifi::radiotap(&wifi::frame(QOS_DATA, FROM_DS, &[0xe0, 0xe0, 0x03, 1, 2]), true), "other"),
        (wifi::radiotap(&[0xd4, 0x00, 0, 0, 1, 2, 3, 4, 5, 6], true), "other"), // ACK
        // Flags: FCS, and FCS failed.
        (
            {
                let mut f = wifi::radiotap(&wifi::data(QOS_DATA, TO_DS, &[0x45; 40]), true);
                f[16] |= 0x40;
                f
            },
            "malformed",
        ),
        (wifi::radiotap(&wifi::frame(QOS_DATA, TO_DS, &[]), true)[..30].to_vec(), "truncated"),
        (vec![0, 0, 200, 0, 0, 0, 0, 0, 1, 2], "truncated"),
    ];
    for i in 0..frames.len() {
        net.push(t, vec![i as u8]);
    }
    let r = scan("no-ip.pcap", &wifi::pcap(&net, wifi::LINKTYPE_RADIOTAP, |i| frames[usize::from(i[0])].0.clone()));
    let n = &capture(&r)["not_inspected"];
    let count = |k: &str| frames.iter().filter(|f| f.1 == k).count() as u64;
    assert_eq!(n["other_protocol_frames"], count("other"), "{n}");
    assert_eq!(n["malformed_frames"], count("malformed"), "{n}");
    assert_eq!(n["truncated_frames"], count("truncated"), "{n}");
    assert_eq!(n["unsupported_link_frames"], 0);
    assert!(of_type(&r, "error").is_empty(), "{r:#?}");
}

#[test]
fn imei_in_http_over_l2tp_is_found_with_the_inner_addresses() {
    for (form, c, s) in [(L2tpForm::PLAIN, CLIENT4, SERVER4), (L2tpForm::FULL, CLIENT6, SERVER6)] {
        let inner = conversation(c, s);
        let mut outer = Net::default();
        wifi::wrap_into(&mut outer, &inner, |ip| wifi::l2tp(form, ip));
        let r = scan("l2tp.pcap", &support::pcap(&outer, support::Link::Ethernet, false, false));
        assert_eq!(imeis(&r), vec![(c.to_string(), s.to_string())], "{form:?}: {r:#?}");
        let cap = capture(&r);
        assert_eq!(cap["encapsulated_frames"], inner.packets.len() as u64, "{form:?}");
        assert_eq!(cap["not_inspected"]["udp_bytes"], 0, "{form:?}: the tunnel is not left as UDP");
    }
}

/// A control message whose Host Name AVP, and an LCP packet whose data,
/// hold `imei=<IMEI>`: neither is IP, neither is read.
#[test]
fn l2tp_control_and_ppp_negotiation_are_counted_not_read() {
    let text = format!("imei={IMEI}");
    let mut net = Net::default();
    let t = ts(1_700_300_000, 0);
    net.push(t, wifi::l2tp_control(&[wifi::avp(0, &[0, 1]), wifi::avp(7, text.as_bytes())].concat()));
    let lcp = [vec![0x01, 0x01, 0x00, (4 + text.len()) as u8], text.clone().into_bytes()].concat();
    net.push(t, support::ipv4_udp(wifi::LAC, wifi::LNS, 1701, 1701, &wifi::l2tp_data(L2tpForm::PLAIN, 0xc021, &lcp)));
    let r = scan("l2tp-control.pcap", &support::pcap(&net, support::Link::Ethernet, false, false));
    assert!(of_type(&r, "finding").is_empty(), "{r:#?}");
    let n = &capture(&r)["not_inspected"];
    assert_eq!(n["other_protocol_frames"], 2, "{n}");
    assert_eq!(n["udp_bytes"], 0, "{n}");
}

/// Every prefix, and copies with bytes replaced, of each new header's
/// frames decodes to a packet or a counted skip, never a panic.
#[test]
fn cut_and_mangled_frames_are_counted() {
    let net = conversation(CLIENT4, SERVER4);
    let ip = &net.packets[3].1; // the request
    let frames: Vec<(Linktype, Vec<u8>)> = vec![
        (wifi::LINKTYPE_RADIOTAP, wifi::radiotap(&wifi::data(QOS_DATA, TO_DS | FROM_DS | ORDER, ip), true)),
        (wifi::LINKTYPE_PPI, wifi::ppi(&wifi::data(QOS_DATA, TO_DS, ip), true)),
        (wifi::LINKTYPE_IEEE802_11, wifi::data(DATA, TO_DS, ip)),
        (Linktype::RAW, wifi::l2tp(L2tpForm::FULL, ip)),
    ];
    let mut d = Decoder::new();
    let (mut n, mut unsupported) = (0u64, 0u64);
    for (link, f) in &frames {
        let noise = pseudo_random(f.len() as u64, f.len() * 64);
        let mangled = (0..64).map(|k| {
            let mut m = f.clone();
            let at = usize::from(noise[k * 2]) % 80.min(f.len());
            m[at] = noise[k * 2 + 1];
            m
        });
        for data in (0..=f.len()).map(|i| f[..i].to_vec()).chain(mangled) {
            let frame = Frame {
                number: n + 1,
                ts: ts(1, 0),
                link: *link,
                interface: 0,
                data: &data,
                orig_len: data.len() as u32,
                app: None,
                block: None,
            };
            n += 1;
            // A PPI header may name a link type of its packet that is not
            // decoded: that one is reported, as a link type would be.
            let ppi_other = *link == wifi::LINKTYPE_PPI && data.get(4..8).is_some_and(|l| l != [105, 0, 0, 0]);
            if matches!(d.decode(&frame), Decoded::Unsupported { .. }) {
                assert!(ppi_other, "{link:?} {data:02x?}");
                unsupported += 1;
            }
        }
    }
    let s = &d.stats;
    assert_eq!(s.unsupported, unsupported);
    let counted = s.unsupported
        + s.tcp
        + s.udp
        + s.not_ip
        + s.other_ip
        + s.malformed
        + s.wifi_protected
        + s.too_deep
        + s.ip_fragments;
    // A frame cut inside its TCP header is counted truncated only.
    assert!(counted + s.truncated >= n, "{s:?} of {n}");
}

/// The corpus's 802.11 captures (Zeek's radiotap.pcap and wlanmon.pcap:
/// a DNS query and answer, an mDNS answer, in QoS data frames) are read.
#[test]
fn zeek_80211_captures_are_read() {
    let root = std::env::var_os("TELEAUDIT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if !root.join("zeek").is_dir() {
        assert!(std::env::var_os("CI").is_none(), "CI is set but the corpus is missing");
        support::skip(format_args!("corpus not found: skipped outside CI"));
        return;
    }
    for (file, link) in [("radiotap.pcap", "IEEE802_11_RADIOTAP (127)"), ("wlanmon.pcap", "IEEE802_11 (105)")] {
        let bytes = std::fs::read(root.join("zeek").join(file)).expect("read capture");
        let r = scan(file, &bytes);
        assert!(of_type(&r, "error").is_empty(), "{file}: {r:#?}");
        let cap = capture(&r);
        assert_eq!(cap["link_types"][link], 3, "{file}");
        let n = &cap["not_inspected"];
        assert_eq!(n["unsupported_link_frames"], 0, "{file}");
        assert_eq!(n["malformed_frames"], 0, "{file}");
        // tshark: UDP payloads of 35 (the query, read for its name), 128
        // (the answer) and 280 (mDNS) bytes.
        assert_eq!(n["udp_bytes"], 128 + 280, "{file}: {n}");
    }
}
