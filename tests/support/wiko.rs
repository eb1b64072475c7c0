//! The Wiko Sales Tracking System scenario (DESIGN.md): a Wiko Lenny 3
//! that reports to Tinno over months, a European build's report, one
//! report with the cleartext STS string, an app POSTing identifiers in a
//! form, an ad SDK sending the MD5 of the IMEI, and benign traffic (DNS,
//! TLS, an image download, JSON with 15-digit numbers that fail Luhn).

use base64::Engine as _;
use md5::Digest as _;

use super::{Net, pseudo_random, ts};

pub const PHONE: &str = "10.20.0.23";
pub const IMEI1: &str = "356938035643809";
pub const IMEI2: &str = "356938035643817";
pub const SERIAL: &str = "WKL3A1B2C3D4";
/// 2017-01-05T09:12:03Z.
pub const T0: i64 = 1_483_607_523;
const DAY: i64 = 86_400;

/// The cleartext STS string of this phone.
pub fn sts_string() -> String {
    format!("TN:IMEI1,{IMEI1},1011,WIKO LENNY3,CID:1A2B3C,V2.1.0_20170101,{SERIAL}")
}

/// An RSA-1024 ciphertext stand-in: 128 pseudo-random bytes, base64url
/// without padding = 171 characters, as the STS app sends.
pub fn repinfo(seed: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(pseudo_random(seed, 128))
}

fn get(host: &str, target: &str) -> Vec<u8> {
    format!(
        "GET {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: Dalvik/2.1.0 (Linux; U; Android 6.0; LENNY3 Build/MRA58K)\r\nConnection: Keep-Alive\r\nAccept-Encoding: gzip\r\n\r\n"
    )
    .into_bytes()
}

const STS_OK: &[u8] = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Length: 1\r\n\r\n0";

/// Port numbers of the phone's connections, one per exchange.
fn client(port: u16) -> String {
    format!("{PHONE}:{port}")
}

pub fn build() -> Net {
    let mut n = Net::default();
    let resolver = "10.20.0.1:53";
    n.dns(ts(T0 - 2, 0), &client(40_001), resolver, "eservice.tinno.com", [203, 0, 113, 10]);

    // Activation report, then the monthly app's reports.
    for (i, month) in [0i64, 30, 60, 90].iter().enumerate() {
        let target =
            format!("/eservice/stsReport?reptype=report&msgid={}&repinfo={}", i + 1, repinfo(0x5715 + i as u64));
        n.http(
            ts(T0 + month * DAY, 0),
            &client(41_000 + i as u16),
            "203.0.113.10:80",
            &get("eservice.tinno.com", &target),
            STS_OK,
            0x1000_0000 + i as u32,
        );
    }

    // The European build reports to Wiko's own server on port 8080.
    n.dns(ts(T0 + 290, 0), &client(40_002), resolver, "eservice.euwiko.com", [203, 0, 113, 20]);
    let target = format!("/euwiko/stsReport?reptype=report&msgid=1&repinfo={}", repinfo(0xE0));
    n.http(
        ts(T0 + 300, 0),
        &client(42_000),
        "203.0.113.20:8080",
        &get("eservice.euwiko.com:8080", &target),
        STS_OK,
        0x2000_0000,
    );

    // A report whose repinfo is the STS string in clear text.
    let clear: String =
        percent_encoding::utf8_percent_encode(&sts_string(), percent_encoding::NON_ALPHANUMERIC).to_string();
    let target = format!("/eservice/stsReport?reptype=report&msgid=9&repinfo={clear}");
    n.http(
        ts(T0 + 600, 0),
        &client(42_001),
        "203.0.113.10:80",
        &get("eservice.tinno.com", &target),
        STS_OK,
        0xfffff000,
    );

    // An app POSTs identifiers in a form, in small segments, two of them
    // arriving out of order.
    n.dns(ts(T0 + 900, 0), &client(40_003), resolver, "stats.appvendor.example", [198, 51, 100, 30]);
    let body = format!(
        "imei={IMEI2}&sn={SERIAL}&mcc=208&mnc=10&lac=12033&cid=48213&model=WIKO%20LENNY3&app=com.example.weather"
    );
    let req = format!(
        "POST /v2/collect HTTP/1.1\r\nHost: stats.appvendor.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut c = n.connect(ts(T0 + 901, 0), &client(43_000), "198.51.100.30:80", 0x3000_0000, 0x3100_0000);
    let before = n.packets.len();
    n.send(ts(T0 + 901, 100_000), &mut c, req.as_bytes(), 48);
    n.packets.swap(before + 2, before + 3);
    n.reply(ts(T0 + 901, 300_000), &mut c, b"HTTP/1.1 204 No Content\r\n\r\n", 1400);
    n.close(ts(T0 + 902, 0), &mut c);

    // An ad SDK sends the MD5 of the IMEI: found only with a profile.
    let md5 = hex::encode(md5::Md5::digest(IMEI1.as_bytes()));
    let target = format!("/track?uid={md5}&ev=open&app=com.example.weather");
    n.http(
        ts(T0 + 960, 0),
        &client(43_001),
        "198.51.100.40:80",
        &get("ads.example", &target),
        b"HTTP/1.1 204 No Content\r\n\r\n",
        0x3200_0000,
    );

    benign(&mut n, T0 + 1200);
    n
}

/// Traffic with nothing to report: TLS, an image download, and JSON with
/// 15-digit ids that fail Luhn and a millisecond timestamp.
pub fn benign(n: &mut Net, t: i64) {
    let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    hello.extend(pseudo_random(0x715, 505));
    let mut server_hello = vec![0x16, 0x03, 0x03, 0x0b, 0xb8];
    server_hello.extend(pseudo_random(0x716, 3000));
    n.http(ts(t, 0), &client(44_000), "192.0.2.50:443", &hello, &server_hello, 0x4000_0000);

    let mut png =
        b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 8000\r\n\r\n\x89PNG\r\n\x1a\n".to_vec();
    png.extend(pseudo_random(0x9e9, 7992));
    n.http(
        ts(t + 100, 0),
        &client(44_001),
        "198.51.100.8:80",
        &get("cdn.images.example", "/img/banner.png"),
        &png,
        0x5000_0000,
    );

    let json = r#"{"request_id":123456789012345,"session":987654321098765,"ts":1483608823000,"city":"Paris","units":"metric"}"#;
    let req = format!(
        "POST /v1/forecast HTTP/1.1\r\nHost: api.weather.example\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    );
    n.http(
        ts(t + 120, 0),
        &client(44_002),
        "198.51.100.7:80",
        req.as_bytes(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        0x6000_0000,
    );
}
