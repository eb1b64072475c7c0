//! Classes `url-in-value` and `opaque-value` (issue 14): identifiers
//! inside a URL carried as a value (a captive portal's `Referer`, an
//! OAuth `redirect_uri` encoded twice, a `next=` path), and inside
//! opaque values (a router's syslog line POSTed or sent over UDP, a MAC
//! as a login's user part, a MAC glued to a model string). Decoys: a
//! `Referer` of campaign parameters, a cache-buster of 12 hex digits, a
//! base64 body with `==` padding, a JWT, prose with `=` in it.
//!
//! `IMEI_BY_KEY` passes Luhn but its first digits are no GSMA reporting
//! body: found only under its key, so finding it shows the key was read
//! out of the URL or text.

use super::{ClassCase, IMEI, MAC, get, post};
use crate::support::{addr, ipv4_udp, ts};

/// An IMEI only its key reveals (Luhn-valid, prefix `21`).
const IMEI_BY_KEY: &str = "213456789012348";
/// Another device's MAC (an access point's, a LAN port's), bare.
const AP_MAC: &str = "a45e60123457";

pub fn cases() -> Vec<ClassCase> {
    let mut v = url_in_value();
    v.extend(opaque_value());
    v
}

fn url_in_value() -> Vec<ClassCase> {
    let portal = "192.0.2.91:80";
    vec![
        ClassCase::http(
            "url-in-value",
            "captive portal: client and AP MACs in the Referer's query",
            portal,
            get(
                "portal.example",
                "/auth/verify?ssid=Guest",
                &format!(
                    "Referer: http://portal.example/login?client_mac=A4-5E-60-12-34-56&ap_mac={AP_MAC}&ssid=Guest\r\n"
                ),
            ),
        )
        .must("mac", MAC)
        .must("mac", AP_MAC),
        ClassCase::http(
            "url-in-value",
            "OAuth redirect_uri encoded twice, carrying imei=",
            "192.0.2.92:80",
            get(
                "auth.example",
                &format!(
                    "/oauth/authorize?client_id=app&redirect_uri=https%253A%252F%252Fapp.example%252Fcb%253Fimei%253D{IMEI_BY_KEY}%2526v%253D3"
                ),
                "",
            ),
        )
        .must("imei", IMEI_BY_KEY),
        ClassCase::http(
            "url-in-value",
            "next= path with an e-mail and an IMEI in its query",
            "192.0.2.93:80",
            get(
                "auth.example",
                &format!("/login?next=/account%3Femail%3Duser%40mail.example%26imei%3D{IMEI_BY_KEY}"),
                "",
            ),
        )
        .must("email", "user@mail.example")
        .must("imei", IMEI_BY_KEY),
        ClassCase::http(
            "url-in-value",
            "URL in a JSON leaf, unencoded, with a bare MAC under its key",
            "192.0.2.94:80",
            post(
                "collect.example",
                "/v1/events",
                "application/json",
                &format!(r#"{{"page":{{"url":"https://shop.example/cart?wifi_mac={AP_MAC}&step=2"}}}}"#),
            ),
        )
        .must("mac", AP_MAC),
        ClassCase::http(
            "url-in-value",
            "decoy: a Referer of campaign parameters only",
            portal,
            get(
                "news.example",
                "/article/42",
                "Referer: https://news.example/?utm_source=newsletter&utm_medium=email&utm_campaign=spring&page=2\r\n",
            ),
        )
        .clean(),
        ClassCase::http(
            "url-in-value",
            "decoy: a 12-hex cache-buster in a Referer (no MAC key)",
            portal,
            get("cdn.example", "/app.css", "Referer: https://cdn.example/app.js?v=1a2b3c4d5e6f&build=7\r\n"),
        )
        .clean(),
    ]
}

fn opaque_value() -> Vec<ClassCase> {
    let vendor = "192.0.2.95:80";
    let line = format!(
        "<134>Jan  1 00:00:00 router meshd[412]: 1={MAC} 2={IMEI} wan_mac=A4-5E-60-12-34-58 wlan_mac={AP_MAC} imei={IMEI_BY_KEY} msg=\"link up\""
    );
    let udp_line = line.clone();
    vec![
        ClassCase::http(
            "opaque-value",
            "router syslog POSTed as text/plain: numeric keys, MACs, IMEIs",
            vendor,
            post("logs.router-vendor.example", "/api/syslog", "text/plain", &format!("{line}\n")),
        )
        .must("mac", MAC)
        .must("imei", IMEI)
        .must("mac", "A4-5E-60-12-34-58")
        .must("mac", AP_MAC)
        .must("imei", IMEI_BY_KEY),
        ClassCase {
            class: "opaque-value",
            what: "router syslog over UDP 514 to the vendor",
            build: Box::new(move |net, client, t| {
                let c = addr(client);
                let std::net::IpAddr::V4(src) = c.ip() else { return };
                net.push(ts(t, 0), ipv4_udp(src.octets(), [192, 0, 2, 96], c.port(), 514, udp_line.as_bytes()));
            }),
            must: Vec::new(),
            profile: false,
        }
        .must("mac", MAC)
        .must("imei", IMEI)
        .must("mac", "A4-5E-60-12-34-58")
        .must("mac", AP_MAC)
        .must("imei", IMEI_BY_KEY),
        ClassCase::http(
            "opaque-value",
            "text/plain body of `Key: value` lines",
            vendor,
            post(
                "logs.router-vendor.example",
                "/api/diag",
                "text/plain",
                &format!("Uptime: 3d 4h\nWLAN_MAC: {AP_MAC}\nIMEI: {IMEI_BY_KEY}\n"),
            ),
        )
        .must("mac", AP_MAC)
        .must("imei", IMEI_BY_KEY),
        // The MAC as a login's user part, and glued to a model string:
        // bare 12 hex under no MAC key, found by its vendor OUI (Apple's
        // a4:5e:60, src/detect/validators/mac.rs) or the profile;
        // extraction hands them on as `login:user` and `model:token`.
        ClassCase::http(
            "opaque-value",
            "MAC as the user part of a login, and glued to a model string",
            vendor,
            post(
                "acs.router-vendor.example",
                "/cwmp/inform",
                "application/x-www-form-urlencoded",
                "login=a45e60123456%40isp.example&model=RT-AX58U_3.0.0.4_a45e60123456",
            ),
        )
        .must("mac", MAC)
        .must("email", "a45e60123456@isp.example")
        .must("device_model", "RT-AX58U_3.0.0.4_a45e60123456"),
        ClassCase::http(
            "opaque-value",
            "decoy: a base64 body with == padding",
            vendor,
            post("sync.example", "/blob", "text/plain", "eyJ2IjoxLCJuIjoid2VhdGhlciJ9\nc2V0dGluZ3M9ZGFyaw==\n"),
        )
        .clean(),
        ClassCase::http(
            "opaque-value",
            "decoy: a JWT in a header",
            vendor,
            get(
                "api.example",
                "/me",
                "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yQsswR5c\r\n",
            ),
        )
        .clean(),
        ClassCase::http(
            "opaque-value",
            "decoy: prose with = in it, and a UUID",
            vendor,
            post(
                "support.example",
                "/feedback",
                "text/plain",
                "Setting timeout=30 and retries=3 fixed it; x = 2 is fine. Ticket 38400000-8cf0-11bd-b23e-10b96e40000d.",
            ),
        )
        .clean(),
    ]
}
