//! Profile forms real devices use (issue 14): a MAC as EUI-64 (bridge
//! ids, IPv6 interface identifiers), IMEI and IMSI in 3GPP BCD, the hex
//! of a value inside a longer hex value, raw bytes in binary bodies,
//! streams and datagrams; and an IPv6 source address built from the MAC
//! (SLAAC EUI-64), which is a leak without any profile.

use super::{ClassCase, IMEI, MAC, SERIAL, get, post};
use crate::support::{self, ts};

/// The client's port, from the `ip:port` the harness gives.
fn port(client: &str) -> u16 {
    client.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port")
}

/// IMSI 208101234567890 as a TS 24.008 mobile identity (type 1, odd).
const IMSI_BCD: [u8; 8] = [0x29, 0x80, 0x01, 0x21, 0x43, 0x65, 0x87, 0x09];
/// IMEI 356938035643809 as an identity, its check digit sent as 0.
const IMEI_BCD: [u8; 8] = [0x3a, 0x65, 0x39, 0x08, 0x53, 0x46, 0x83, 0x00];
const MAC_BYTES: [u8; 6] = [0xa4, 0x5e, 0x60, 0x12, 0x34, 0x56];

/// A binary POST of `body`.
fn binary_post(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /v1/blob HTTP/1.1\r\nHost: collect.example\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

/// An IPv6 HTTP exchange from `src_ip` on the harness's port.
fn v6(class: &'static str, what: &'static str, src_ip: &'static str) -> ClassCase {
    ClassCase {
        class,
        what,
        build: Box::new(move |net, client, t| {
            let c = format!("[{src_ip}]:{}", port(client));
            let req = get("v6.example", "/weather?city=paris", "");
            net.http(ts(t, 0), &c, "[2001:db8:ffff::80]:80", &req, b"HTTP/1.1 204 No Content\r\n\r\n", 77);
        }),
        must: Vec::new(),
        profile: false,
    }
}

pub fn cases() -> Vec<ClassCase> {
    let serial_hex = hex::encode(SERIAL);
    let mut blob = vec![0x0a, 0x10, 0x01];
    blob.extend_from_slice(&MAC_BYTES);
    blob.extend_from_slice(&[0x12, 0x08]);
    blob.extend_from_slice(&IMSI_BCD);
    blob.extend_from_slice(&[0x1a, 0x0f]);
    blob.extend_from_slice(IMEI.as_bytes());
    blob.extend_from_slice(&[0xff, 0x00, 0x7f]);
    let random: Vec<u8> = support::pseudo_random(0x14, 300);
    vec![
        // Without a profile: the MAC in the address itself.
        v6("slaac", "EUI-64 source address", "2001:db8:1:2:a65e:60ff:fe12:3456").must("mac", MAC),
        v6("slaac", "privacy address (random interface id)", "2001:db8:1:2:8d3a:41c2:9b07:e615").clean(),
        v6("slaac", "link-local EUI-64 source (never leaves the link)", "fe80::a65e:60ff:fe12:3456").clean(),
        ClassCase::http(
            "profile-forms",
            "bridge id: the MAC's EUI-64, U/L bit as is",
            "192.0.2.80:80",
            post("hub.example", "/api/config", "application/json", r#"{"bridgeid":"A45E60FFFE123456","name":"Hue"}"#),
        )
        .must("mac", "A45E60FFFE123456")
        .with_profile(),
        ClassCase::http(
            "profile-forms",
            "IPv6 interface id in a body",
            "192.0.2.80:80",
            post("hub.example", "/api/net", "application/json", r#"{"addr6":"2001:db8:1:2:a65e:60ff:fe12:3456"}"#),
        )
        .must("mac", "a65e:60ff:fe12:3456")
        .with_profile(),
        ClassCase::http(
            "profile-forms",
            "IMSI as BCD hex",
            "192.0.2.80:80",
            get("ota.example", &format!("/check?sim={}", hex::encode(IMSI_BCD)), ""),
        )
        .must("imsi", hex::encode(IMSI_BCD))
        .with_profile(),
        ClassCase::http(
            "profile-forms",
            "serial's hex inside a longer hex value",
            "192.0.2.80:80",
            post("fw.example", "/report", "application/x-www-form-urlencoded", &format!("d=0102{serial_hex}0d0aff00")),
        )
        .must("serial", serial_hex.clone())
        .with_profile(),
        ClassCase::http(
            "profile-forms",
            "binary body: MAC bytes, IMSI BCD, IMEI text",
            "192.0.2.80:80",
            binary_post(&blob),
        )
        .must("mac", "a45e60123456")
        .must("imsi", hex::encode(IMSI_BCD))
        .must("imei", IMEI)
        .with_profile(),
        ClassCase::http("profile-forms", "binary body of random bytes", "192.0.2.80:80", binary_post(&random))
            .clean()
            .with_profile(),
        ClassCase {
            class: "profile-forms",
            what: "binary TCP stream with the IMEI in BCD",
            build: Box::new(|net, client, t| {
                let mut c = net.connect(ts(t, 0), client, "192.0.2.90:7000", 5, 6);
                let mut msg = vec![0x01, 0x00, 0x10, 0x02];
                msg.extend_from_slice(&IMEI_BCD);
                msg.extend_from_slice(&[0x00, 0xfe, 0x80, 0x81]);
                net.send(ts(t, 100), &mut c, &msg, 1400);
                net.close(ts(t + 1, 0), &mut c);
            }),
            must: vec![("imei", hex::encode(IMEI_BCD))],
            profile: true,
        },
        ClassCase {
            class: "profile-forms",
            what: "binary UDP datagram with the MAC's bytes",
            build: Box::new(|net, client, t| {
                let mut msg = vec![0x42, 0x00, 0x00, 0x01];
                msg.extend_from_slice(&MAC_BYTES);
                msg.extend_from_slice(&[0x00, 0x00, 0xc8, 0x9e]);
                net.push(ts(t, 0), support::ipv4_udp([10, 1, 9, 2], [192, 0, 2, 91], port(client), 9999, &msg));
            }),
            must: vec![("mac", "a45e60123456".to_string())],
            profile: true,
        },
    ]
}
