//! A labelled evaluation set: generated requests, each carrying one known
//! identifier in one location and encoding, among decoys (Luhn-failing
//! 15-digit numbers, millisecond timestamps, order ids, random hex request
//! ids, UUIDs of no identifier meaning, identifiers in server responses and
//! TLS records). The scan's findings are matched to the labels to compute
//! recall per kind and per encoding, and precision.

use std::collections::BTreeMap;
use std::io::Write;

use base64::Engine as _;
use serde_json::Value;

use super::support::{Net, ts};

pub mod classes;

/// xorshift64*: the set is the same on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn digits(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b'0' + self.below(10) as u8)).collect()
    }
    fn hex(&mut self, n: usize) -> String {
        (0..n).map(|_| char::from(b"0123456789abcdef"[self.below(16) as usize])).collect()
    }
    fn pick<'a>(&mut self, xs: &[&'a str]) -> &'a str {
        xs[self.below(xs.len() as u64) as usize]
    }
}

fn luhn_digit(body: &str) -> char {
    let sum: u32 = body
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    char::from(b'0' + ((10 - sum % 10) % 10) as u8)
}

/// A labelled identifier: its kind, key, the value as sent, and extra
/// fields that must travel with it (cell and GPS are several fields).
struct Label {
    fields: Vec<(String, String)>,
    /// The value a finding must report (after decoding).
    value: String,
}

fn make(kind: &'static str, r: &mut Rng) -> Label {
    let one = |key: &str, v: String| (vec![(key.to_string(), v.clone())], v);
    let (fields, value) = match kind {
        "imei" => {
            let body = format!("{}{}", r.pick(&["35", "86", "01", "99"]), r.digits(12));
            let key = r.pick(&["imei", "IMEI", "deviceImei", "imei1", "device_id"]);
            one(key, format!("{body}{}", luhn_digit(&body)))
        }
        "imsi" => {
            let v = format!(
                "{}{}{}",
                r.pick(&["208", "310", "460", "234", "262"]),
                r.pick(&["01", "10", "20"]),
                r.digits(10)
            );
            one(r.pick(&["imsi", "IMSI", "subscriberId"]), v)
        }
        "iccid" => {
            let body = format!("89{}{}", r.pick(&["33", "44", "86", "01"]), r.digits(14));
            one(r.pick(&["iccid", "simSerial", "ICCID"]), format!("{body}{}", luhn_digit(&body)))
        }
        "msisdn" => one(r.pick(&["msisdn", "phone", "phoneNumber", "line1Number"]), format!("+336{}", r.digits(8))),
        "serial" => {
            let v = format!("{}{}{}", r.pick(&["WK", "R5", "ZY"]), r.digits(4), r.hex(6).to_uppercase());
            one(r.pick(&["sn", "serial", "serialNo", "ro.serialno"]), v)
        }
        "mac" => {
            let b: Vec<String> = (0..6).map(|i| format!("{:02x}", if i == 0 { 0xa4 } else { r.below(256) })).collect();
            one(r.pick(&["mac", "wifiMac", "bssid"]), b.join(r.pick(&[":", "-"])))
        }
        "android_id" => one(r.pick(&["android_id", "androidId", "ssaid"]), format!("{}a{}", r.hex(7), r.hex(8))),
        "advertising_id" => {
            let v = format!("{}-{}-4{}-a{}-{}", r.hex(8), r.hex(4), r.hex(3), r.hex(3), r.hex(12));
            one(r.pick(&["gaid", "adid", "idfa", "oaid", "advertising_id"]), v)
        }
        "email" => one(r.pick(&["email", "user", "account"]), format!("user{}@example.org", r.digits(4))),
        "cell_location" => {
            let (mcc, mnc, lac, cid) = ("208".to_string(), "10".to_string(), r.digits(4), r.digits(6));
            let v = format!("mcc={mcc},mnc={mnc},lac={lac},cid={cid}");
            (vec![("mcc".into(), mcc), ("mnc".into(), mnc), ("lac".into(), lac), ("cid".into(), cid)], v)
        }
        "geo_location" => {
            let (la, lo) = (format!("48.{}", r.digits(4)), format!("2.{}", r.digits(4)));
            (vec![("lat".into(), la.clone()), ("lng".into(), lo.clone())], format!("{la},{lo}"))
        }
        other => panic!("no generator for {other}"),
    };
    Label { fields, value }
}

/// Decoy fields that must not be reported.
fn decoys(r: &mut Rng) -> Vec<(String, String)> {
    let mut bad15 = r.digits(15);
    while {
        let body = &bad15[..14];
        luhn_digit(body) == bad15.chars().last().unwrap_or('0')
    } {
        bad15 = r.digits(15);
    }
    vec![
        ("order_id".into(), bad15),
        ("ts".into(), format!("1{}", r.digits(12))),
        ("request_id".into(), r.hex(32)),
        ("session".into(), format!("{}-{}-4{}-8{}-{}", r.hex(8), r.hex(4), r.hex(3), r.hex(3), r.hex(12))),
        ("trace".into(), r.hex(16)),
        ("page".into(), r.digits(2)),
        ("cid".into(), r.digits(3)),
    ]
}

const KINDS: [&str; 11] = [
    "imei",
    "imsi",
    "iccid",
    "msisdn",
    "serial",
    "mac",
    "android_id",
    "advertising_id",
    "email",
    "cell_location",
    "geo_location",
];

/// How a case carries its fields.
const ENCODINGS: [&str; 11] = [
    "query",
    "query-url",
    "form",
    "json",
    "json-escaped",
    "json-in-string",
    "base64-form",
    "base64-json",
    "gzip-json",
    "chunked-gzip-form",
    "header-cookie",
];

fn form(fields: &[(String, String)]) -> String {
    fields.iter().map(|(k, v)| format!("{k}={}", urlenc(v))).collect::<Vec<_>>().join("&")
}

fn urlenc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn json(fields: &[(String, String)], escape: bool) -> String {
    let mut m = serde_json::Map::new();
    for (k, v) in fields {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    let s = serde_json::to_string(&serde_json::json!({"app": "x", "data": m})).unwrap();
    if !escape {
        return s;
    }
    // Escape every digit of string values as \u00XX (as some SDKs do).
    let mut out = String::new();
    let mut in_str = false;
    let mut prev = ' ';
    for c in s.chars() {
        if c == '"' && prev != '\\' {
            in_str = !in_str;
        }
        if in_str && c.is_ascii_digit() {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
        prev = c;
    }
    out
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut g = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    g.write_all(b).unwrap();
    g.finish().unwrap()
}

fn request(case: usize, enc: &str, fields: &[(String, String)]) -> Vec<u8> {
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let post = |ctype: &str, extra: &str, body: &[u8]| {
        let mut r = format!(
            "POST /e/{case} HTTP/1.1\r\nHost: t.example\r\nContent-Type: {ctype}\r\n{extra}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        r.extend_from_slice(body);
        r
    };
    match enc {
        "query" => format!(
            "GET /e/{case}?{} HTTP/1.1\r\nHost: t.example\r\n\r\n",
            fields.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
        )
        .into_bytes(),
        "query-url" => format!("GET /e/{case}?{} HTTP/1.1\r\nHost: t.example\r\n\r\n", form(fields)).into_bytes(),
        "form" => post("application/x-www-form-urlencoded", "", form(fields).as_bytes()),
        "json" => post("application/json", "", json(fields, false).as_bytes()),
        "json-escaped" => post("application/json", "", json(fields, true).as_bytes()),
        "json-in-string" => {
            let inner = json(fields, false);
            post("application/json", "", serde_json::json!({"payload": inner}).to_string().as_bytes())
        }
        "base64-form" => post(
            "application/x-www-form-urlencoded",
            "",
            format!("v=2&data={}", urlenc(&b64(&form(fields)))).as_bytes(),
        ),
        "base64-json" => {
            post("application/json", "", serde_json::json!({"blob": b64(&json(fields, false))}).to_string().as_bytes())
        }
        "gzip-json" => post("application/json", "Content-Encoding: gzip\r\n", &gzip(json(fields, false).as_bytes())),
        "chunked-gzip-form" => {
            let z = gzip(form(fields).as_bytes());
            let mut r = format!(
                "POST /e/{case} HTTP/1.1\r\nHost: t.example\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            )
            .into_bytes();
            for piece in z.chunks(17) {
                r.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
                r.extend_from_slice(piece);
                r.extend_from_slice(b"\r\n");
            }
            r.extend_from_slice(b"0\r\n\r\n");
            r
        }
        "header-cookie" => {
            let (first, rest) = fields.split_first().unwrap();
            let mut h = format!("GET /e/{case} HTTP/1.1\r\nHost: t.example\r\nX-{}: {}\r\n", first.0, first.1);
            if !rest.is_empty() {
                h.push_str(&format!(
                    "Cookie: {}\r\n",
                    rest.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
                ));
            }
            h.push_str("\r\n");
            h.into_bytes()
        }
        other => panic!("no encoding {other}"),
    }
}

/// Recall and precision figures.
pub struct Scores {
    pub by_kind: BTreeMap<String, (u32, u32)>,
    pub by_encoding: BTreeMap<String, (u32, u32)>,
    pub true_pos: u32,
    pub false_pos: u32,
    pub false_pos_examples: Vec<String>,
    pub misses: Vec<String>,
}

/// Builds the set as a capture, scans it with `scan`, scores the result.
pub fn evaluate(scan: impl Fn(&[u8]) -> Vec<Value>) -> Scores {
    let mut r = Rng(0x7e1e_a0d1);
    let mut net = Net::default();
    let mut labels = Vec::new();
    let mut case = 0usize;
    for rep in 0..3 {
        for kind in KINDS {
            for enc in ENCODINGS {
                // Headers carry one value each: multi-field kinds go in cookies.
                let label = make(kind, &mut r);
                let mut fields = decoys(&mut r);
                let at = r.below(fields.len() as u64 + 1) as usize;
                for (i, f) in label.fields.iter().enumerate() {
                    fields.insert(at + i, f.clone());
                }
                // The decoy `cid` (a content id) would be a second cell id in
                // the same group: a cell case carries only its own.
                if kind == "cell_location" {
                    fields.retain(|(k, v)| k != "cid" || *v == fields_value(&label, "cid"));
                }
                let _ = rep;
                let req = request(case, enc, &fields);
                let port = 20_000 + case as u16;
                let mut resp =
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ".to_vec();
                // The server echoes an identifier: a response is not an upload.
                let echo = format!("imei={}", make("imei", &mut r).value);
                resp.extend_from_slice(format!("{}\r\n\r\n{echo}", echo.len()).as_bytes());
                net.http(
                    ts(1_700_000_000 + case as i64, 0),
                    &format!("10.1.0.2:{port}"),
                    "192.0.2.80:80",
                    &req,
                    &resp,
                    case as u32 * 7919,
                );
                labels.push((case, kind, enc, label.value));
                case += 1;
            }
        }
    }
    // TLS records carrying identifier-looking digits: never inspected.
    let mut tls = vec![0x16, 0x03, 0x01, 0x00, 0x40];
    tls.extend_from_slice(format!("imei={}", make("imei", &mut r).value).as_bytes());
    net.http(ts(1_700_100_000, 0), "10.1.0.2:19999", "192.0.2.81:443", &tls, b"\x16\x03\x03\x00\x01\x00", 5);
    let findings = scan(&super::support::pcap(&net, super::support::Link::Ethernet, false, false));

    let mut s = Scores {
        by_kind: BTreeMap::new(),
        by_encoding: BTreeMap::new(),
        true_pos: 0,
        false_pos: 0,
        false_pos_examples: Vec::new(),
        misses: Vec::new(),
    };
    let mut by_case: BTreeMap<usize, Vec<&Value>> = BTreeMap::new();
    for f in &findings {
        let uri = f["uri"].as_str().unwrap_or("");
        let id = uri.strip_prefix("/e/").and_then(|r| r.split(['?', '/']).next()).and_then(|n| n.parse().ok());
        match id {
            Some(id) => by_case.entry(id).or_default().push(f),
            None => {
                s.false_pos += 1;
                s.false_pos_examples.push(f.to_string());
            }
        }
    }
    for (case, kind, enc, value) in &labels {
        let got = by_case.get(case).cloned().unwrap_or_default();
        let same = |f: &Value| f["kind"] == *kind && f["value"].as_str().is_some_and(|v| same_value(kind, v, value));
        let hit = got.iter().any(|f| same(f));
        if !hit {
            s.misses.push(format!(
                "case {case} ({kind}, {enc}) {value}: got {:?}",
                got.iter().map(|f| f.to_string()).collect::<Vec<_>>()
            ));
        }
        let k = s.by_kind.entry(kind.to_string()).or_default();
        k.1 += 1;
        let e = s.by_encoding.entry(enc.to_string()).or_default();
        e.1 += 1;
        if hit {
            k.0 += 1;
            e.0 += 1;
        }
        for f in got {
            if same(f) {
                s.true_pos += 1;
            } else {
                s.false_pos += 1;
                s.false_pos_examples.push(format!("case {case} ({kind}, {enc}): {f}"));
            }
        }
    }
    s
}

/// A finding's value stands for the label's: the same text in any case
/// and separators (a raw `+` in a query is a space), or, for a cell, the
/// same cell id.
fn same_value(kind: &str, found: &str, label: &str) -> bool {
    let norm = |s: &str| s.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    if kind == "cell_location" {
        let cid = label.rsplit("cid=").next().unwrap_or("");
        return found.split(',').any(|p| p == format!("cid={cid}"));
    }
    norm(found) == norm(label)
}

fn fields_value(label: &Label, key: &str) -> String {
    label.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()).unwrap_or_default()
}
