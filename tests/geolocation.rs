//! End to end (capture in, JSON Lines out): the towers of a geolocation
//! body are one `cell_location` finding each, in short names; a bare
//! 12-hex MAC found by its vendor prefix says so, at confidence medium,
//! and one found under a MAC key is high.

mod support;

use std::process::Command;

use serde_json::Value;
use support::{Link, Net, ts};

/// Scans the requests (each on its own connection); `tag` names the
/// test's own temporary folder.
fn scan(tag: &str, requests: &[Vec<u8>]) -> Vec<Value> {
    let mut net = Net::default();
    for (i, r) in requests.iter().enumerate() {
        let client = format!("10.0.0.2:{}", 41_000 + i);
        net.http(ts(1_700_000_000 + i as i64, 0), &client, "192.0.2.9:80", r, b"HTTP/1.1 204 No Content\r\n\r\n", 7);
    }
    let dir = std::env::temp_dir().join(format!("teleaudit-test-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join("geo.pcap");
    std::fs::write(&p, support::pcap(&net, Link::Ethernet, false, false)).expect("write capture");
    let out = Command::new(env!("CARGO_BIN_EXE_teleaudit"))
        .args(["scan", "--format", "jsonl", "--show-values", p.to_str().expect("utf-8 path")])
        .output()
        .expect("run teleaudit");
    let _ = std::fs::remove_dir_all(&dir);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["type"] == "finding")
        .collect()
}

fn post_json(path: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: geo.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[test]
fn each_tower_one_finding_in_short_names() {
    let body = r#"{"homeMobileCountryCode":208,"homeMobileNetworkCode":10,"radioType":"nr","cellTowers":[
        {"cellId":26872068,"locationAreaCode":21013,"mobileCountryCode":208,"mobileNetworkCode":1,"signalStrength":-95},
        {"newRadioCellId":68719476734,"locationAreaCode":330001,"age":12}]}"#;
    let f = scan("towers", &[post_json("/geolocation/v1/geolocate", body)]);
    let cells: Vec<(&str, &str)> = f
        .iter()
        .filter(|x| x["kind"] == "cell_location")
        .map(|x| (x["value"].as_str().unwrap_or(""), x["field"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        cells,
        vec![
            ("mcc=208,mnc=1,lac=21013,cid=26872068", "$.cellTowers[0].cellId"),
            ("mcc=208,mnc=10,lac=330001,nci=68719476734", "$.cellTowers[1].newRadioCellId"),
        ],
        "{f:?}"
    );
    assert_eq!(f.len(), 2, "nothing else: {f:?}");
}

#[test]
fn mac_by_vendor_prefix_says_so() {
    let f = scan(
        "oui",
        &[
            b"GET /fw?model=RT-AX88U_3.0.0.4_04d9f5a1b2c3 HTTP/1.1\r\nHost: fw.example\r\n\r\n".to_vec(),
            b"GET /r?wifi_mac=7f3e9a010203 HTTP/1.1\r\nHost: fw.example\r\n\r\n".to_vec(),
            b"GET /r?rid=7f3e9a010204 HTTP/1.1\r\nHost: fw.example\r\n\r\n".to_vec(),
        ],
    );
    let macs: Vec<(&str, &str, &str)> = f
        .iter()
        .filter(|x| x["kind"] == "mac")
        .map(|x| {
            (
                x["value"].as_str().unwrap_or(""),
                x["confidence"].as_str().unwrap_or(""),
                x["title"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        macs,
        vec![
            ("04d9f5a1b2c3", "medium", "MAC address or BSSID sent (by vendor OUI: ASUS)"),
            ("7f3e9a010203", "high", "MAC address or BSSID sent"),
        ],
        "{f:?}"
    );
}

/// A Wi-Fi access point's MAC is a BSSID, a beacon's a beacon: the
/// finding says whose it is; the device's own MAC has no role.
#[test]
fn bssids_and_beacons_have_their_role() {
    let body = r#"{"wifiAccessPoints":[{"macAddress":"a4:5e:60:12:34:56","signalStrength":-50}],"bluetoothBeacons":[{"macAddress":"a4:5e:60:12:34:57"}],"device":{"wifi_mac":"a4:5e:60:12:34:58"}}"#;
    let req = format!(
        "POST /v1/geolocate HTTP/1.1\r\nHost: loc.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let f = scan("roles", &[req.into_bytes()]);
    let roles: Vec<(&str, serde_json::Value)> =
        f.iter().filter(|x| x["kind"] == "mac").map(|x| (x["value"].as_str().unwrap(), x["role"].clone())).collect();
    assert_eq!(
        roles,
        vec![
            ("a4:5e:60:12:34:56", serde_json::json!("bssid")),
            ("a4:5e:60:12:34:57", serde_json::json!("beacon")),
            ("a4:5e:60:12:34:58", serde_json::Value::Null),
        ]
    );
}
