//! The Wiko Sales Tracking System scenario (DESIGN.md): a Wiko Lenny 3
//! that reports to Tinno over months, a European build's report, one
//! report with the cleartext STS string, an app POSTing identifiers in a
//! form, an ad SDK sending the MD5 of the IMEI, benign traffic (DNS,
//! TLS, an image download, JSON with 15-digit numbers that fail Luhn),
//! then two HTTPS uploads of identifiers (TLS 1.2 and TLS 1.3) whose
//! secrets are in the key log [`keylog`] writes, and last the report's "or
//! even by SMS": the cleartext STS string as an SMS-SUBMIT over IMS and
//! over GSM (GSMTAP), [`sms`].

use base64::Engine as _;
use md5::Digest as _;

use super::telephony::{self as tel, Access, Alphabet, Carrier, Form, Ident, Phone};
use super::tls::{self, Secrets12, Secrets13};
use super::{Net, Tcp, addr, pseudo_random, ts};

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
    https(&mut n, T0 + 1500);
    // Last, so that the frames before keep their numbers.
    sms(&mut n, T0 + 1800);
    n
}

/// The phone's subscription: SFR's MCC/MNC (208 10, as the form upload
/// says) and a number of ARCEP's range for fiction (06 39 98).
pub const IMSI: &str = "208100123456789";
pub const MSISDN: &str = "+33639980023";
/// Where the STS SMS goes: a made-up five-digit French short code (the
/// 2017 report does not give the number).
pub const STS_SMS_TO: &str = "36105";
/// The service centre the phone submits through (made up, same range).
pub const SMSC: &str = "+33639980001";
/// The cell of the form upload (LAC 12033 = 0x2f01, CI 48213 = 0xbc55),
/// as the E-UTRAN cell id of P-Access-Network-Info (TAC, 28-bit ECI).
pub const IMS_CELL: &str = "208102f0100bc551";
/// GSM channel of the GSMTAP capture.
pub const ARFCN: u16 = 62;

/// The phone on its IMS PDN (IPv6, inside GTP-U at the core).
pub fn ims_phone() -> Phone {
    Phone {
        imsi: IMSI.into(),
        mnc_len: 2,
        imei: IMEI1.into(),
        msisdn: MSISDN.into(),
        addr: addr("[2001:db8:208:10::23]:5060"),
        pcscf: addr("[2001:db8:208::5]:5060"),
        access: Access::EutranFdd(IMS_CELL.into()),
    }
}

/// The SMS-SUBMIT of the STS string (GSM 7-bit, one part).
pub fn sts_sms_tpdu() -> Vec<u8> {
    let mut parts = tel::sms_submit(STS_SMS_TO, &sts_string(), Alphabet::Gsm7);
    assert_eq!(parts.len(), 1, "the STS string fits one SMS");
    parts.remove(0)
}

/// The STS string sent as an SMS twice: (a) over IMS, a SIP MESSAGE
/// (application/vnd.3gpp.sms, RP-DATA) inside GTP-U and the network's
/// 202 Accepted; (b) over GSM, CP-DATA on SDCCH/8 SAPI 3 uplink in LAPDm
/// I-frames of 20 octets (SABM, UA, the segments, RR), as GSMTAP.
pub fn sms(n: &mut Net, t: i64) {
    let p = ims_phone();
    let rp = tel::rp_data_ms_to_n(1, SMSC, &sts_sms_tpdu());
    let msg = tel::message(&p, Form::Full, Ident::Tel, false, SMSC, &rp);
    let accepted = tel::response(&p, Form::Full, &msg, 202);
    tel::sip_udp(n, t, &p, Carrier::GtpU, &[(true, msg), (false, accepted)]);

    let rp = tel::rp_data_ms_to_n(2, SMSC, &sts_sms_tpdu());
    tel::gsmtap_dedicated(n, t + 60, ARFCN, 3, true, false, &tel::cp_data(&rp));
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

/// The TLS 1.2 upload: ECDHE_RSA_WITH_AES_128_GCM_SHA256.
pub const HOST12: &str = "api.tinno-analytics.example";
pub const SUITE12: u16 = 0xc02f;
/// The TLS 1.3 upload: TLS_AES_128_GCM_SHA256.
pub const HOST13: &str = "log.wiko-stats.example";
pub const SUITE13: u16 = 0x1301;

fn array<const N: usize>(seed: u64) -> [u8; N] {
    pseudo_random(seed, N).try_into().expect("N bytes")
}

/// The TLS 1.2 connection's randoms and master secret (fixed bytes).
pub fn secrets12() -> Secrets12 {
    Secrets12 { client_random: array(0x0071_1201), server_random: array(0x0071_1202), master: array(0x0071_1203) }
}

/// The TLS 1.3 connection's randoms and traffic secrets (fixed bytes).
pub fn secrets13() -> Secrets13 {
    Secrets13 {
        client_random: array(0x0071_1301),
        server_random: array(0x0071_1302),
        client_handshake: array(0x0071_1303),
        server_handshake: array(0x0071_1304),
        client_traffic_0: array(0x0071_1305),
        server_traffic_0: array(0x0071_1306),
    }
}

/// The NSS key log of the capture's two HTTPS connections
/// (`fixtures/wiko-sts.keys`).
pub fn keylog() -> String {
    format!(
        "# TLS secrets of wiko-sts.pcap, written by tests/support/wiko.rs (made-up bytes)\n{}{}",
        secrets12().keylog(),
        secrets13().keylog()
    )
}

/// The JSON upload of the TLS 1.2 connection.
pub fn https_json() -> String {
    format!(
        r#"{{"device":{{"imei":"{IMEI1}","imei2":"{IMEI2}","sn":"{SERIAL}","model":"WIKO LENNY3","os":"6.0"}},"event":"boot","app":"com.tinno.analytics"}}"#
    )
}

/// The form upload of the TLS 1.3 connection.
pub fn https_form() -> String {
    format!("imei={IMEI1}&serial={SERIAL}&model=WIKO%20LENNY3&build=V2.1.0_20170101&ev=heartbeat")
}

fn post(host: &str, target: &str, content_type: &str, body: &str) -> String {
    format!(
        "POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: okhttp/3.4.1\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

const HTTPS_OK: &[u8] =
    b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"code\":0}\n";

/// Two HTTPS uploads. Each request is cut into two TLS records, and the
/// records are cut across TCP segments: in TLS 1.2 the first record
/// spans two segments (the second segment also starts the next record),
/// in TLS 1.3 the second record does.
pub fn https(n: &mut Net, t: i64) {
    let resolver = "10.20.0.1:53";
    n.dns(ts(t - 1, 0), &client(40_004), resolver, HOST12, [203, 0, 113, 30]);
    let mut c = n.connect(ts(t, 0), &client(45_100), "203.0.113.30:443", 0x7000_0000, 0x7100_0000);
    https12(n, t, &mut c);
    n.close(ts(t + 1, 0), &mut c);

    n.dns(ts(t + 59, 0), &client(40_005), resolver, HOST13, [203, 0, 113, 31]);
    let mut c = n.connect(ts(t + 60, 0), &client(45_101), "203.0.113.31:443", 0x7200_0000, 0x7300_0000);
    https13(n, t + 60, &mut c);
    n.close(ts(t + 61, 0), &mut c);
}

fn https12(n: &mut Net, t: i64, c: &mut Tcp) {
    let k = secrets12();
    let hello = tls::client_hello(&k.client_random, &[], SUITE12, HOST12, None);
    n.send(ts(t, 60_000), c, &tls::client_hello_record(&hello), 1400);
    let mut flight = tls::server_hello(&k.server_random, &[], SUITE12, None);
    flight.extend(tls::handshake(tls::SERVER_HELLO_DONE, &[]));
    n.reply(ts(t, 100_000), c, &tls::clear_record(tls::HANDSHAKE, &flight), 1400);

    let (mut cw, mut sw) = k.ciphers(SUITE12);
    // An uncompressed P-256 point stands in for the client's ECDHE share.
    let mut point = vec![65, 4];
    point.extend(pseudo_random(0x0071_1204, 64));
    let mut out = tls::clear_record(tls::HANDSHAKE, &tls::handshake(tls::CLIENT_KEY_EXCHANGE, &point));
    out.extend(tls::change_cipher_spec());
    out.extend(tls::seal(&mut cw, tls::HANDSHAKE, &tls::handshake(tls::FINISHED, &pseudo_random(0x0071_1205, 12))));
    n.send(ts(t, 140_000), c, &out, 1400);
    let mut out = tls::change_cipher_spec();
    out.extend(tls::seal(&mut sw, tls::HANDSHAKE, &tls::handshake(tls::FINISHED, &pseudo_random(0x0071_1206, 12))));
    n.reply(ts(t, 180_000), c, &out, 1400);

    let req = post(HOST12, "/v1/device/report", "application/json", &https_json());
    let (a, b) = req.as_bytes().split_at(req.len() / 2);
    let first = tls::seal(&mut cw, tls::APPLICATION_DATA, a);
    let mut out = first.clone();
    out.extend(tls::seal(&mut cw, tls::APPLICATION_DATA, b));
    n.send(ts(t, 200_000), c, &out, first.len() - 40);
    n.reply(ts(t, 300_000), c, &tls::seal(&mut sw, tls::APPLICATION_DATA, HTTPS_OK), 1400);
    n.send(ts(t, 900_000), c, &tls::seal(&mut cw, tls::ALERT, &tls::CLOSE_NOTIFY), 1400);
    n.reply(ts(t, 920_000), c, &tls::seal(&mut sw, tls::ALERT, &tls::CLOSE_NOTIFY), 1400);
}

fn https13(n: &mut Net, t: i64, c: &mut Tcp) {
    let k = secrets13();
    // A 32-byte legacy session id echoed by the server, as TLS 1.3
    // clients in middlebox compatibility mode send.
    let sid = pseudo_random(0x0071_1307, 32);
    let hello = tls::client_hello(&k.client_random, &sid, SUITE13, HOST13, Some(&pseudo_random(0x0071_1308, 32)));
    n.send(ts(t, 60_000), c, &tls::client_hello_record(&hello), 1400);

    let mut ch = tls::cipher13(SUITE13, &k.client_handshake);
    let mut sh = tls::cipher13(SUITE13, &k.server_handshake);
    let mut ca = tls::cipher13(SUITE13, &k.client_traffic_0);
    let mut sa = tls::cipher13(SUITE13, &k.server_traffic_0);
    let hello = tls::server_hello(&k.server_random, &sid, SUITE13, Some(&pseudo_random(0x0071_1309, 32)));
    let mut out = tls::clear_record(tls::HANDSHAKE, &hello);
    out.extend(tls::change_cipher_spec());
    // EncryptedExtensions selecting http/1.1, then Finished, in one record.
    let mut ee = tls::encrypted_extensions("http/1.1");
    ee.extend(tls::handshake(tls::FINISHED, &pseudo_random(0x0071_130a, 32)));
    out.extend(tls::seal(&mut sh, tls::HANDSHAKE, &ee));
    n.reply(ts(t, 100_000), c, &out, 1400);

    let mut out = tls::change_cipher_spec();
    out.extend(tls::seal(&mut ch, tls::HANDSHAKE, &tls::handshake(tls::FINISHED, &pseudo_random(0x0071_130b, 32))));
    let req = post(HOST13, "/collect", "application/x-www-form-urlencoded", &https_form());
    let cut = req.find("\r\n\r\n").expect("headers end") + 4;
    let (a, b) = req.as_bytes().split_at(cut);
    out.extend(tls::seal(&mut ca, tls::APPLICATION_DATA, a));
    n.send(ts(t, 140_000), c, &out, 1400);
    let second = tls::seal(&mut ca, tls::APPLICATION_DATA, b);
    n.send(ts(t, 160_000), c, &second, second.len().div_ceil(2));
    n.reply(ts(t, 260_000), c, &tls::seal(&mut sa, tls::APPLICATION_DATA, HTTPS_OK), 1400);
    n.send(ts(t, 900_000), c, &tls::seal(&mut ca, tls::ALERT, &tls::CLOSE_NOTIFY), 1400);
    n.reply(ts(t, 920_000), c, &tls::seal(&mut sa, tls::ALERT, &tls::CLOSE_NOTIFY), 1400);
}

/// The apps of the PCAPdroid version of the fixture: uid, package, name.
pub const APPS: [(i32, &str, &str); 4] = [
    (10057, "com.tinno.sts", "Sales Tracking"),
    (10112, "com.example.weather", "Weather"),
    (10093, "com.android.chrome", "Chrome"),
    (1001, "com.android.phone", "Phone Services"),
];

/// Which app of [`APPS`] sent or received an IP packet of the fixture, by
/// the phone's port: the STS app's reports, DNS queries and HTTPS uploads;
/// the weather app and the ad SDK inside it; the browser's downloads; the
/// IMS stack's SIP (here inside GTP-U, as the core network saw it).
/// GSMTAP (sent by the radio test rig, not the phone) has none.
pub fn app_of(ip: &[u8]) -> Option<usize> {
    let ((src, dst), _) = super::appmeta::ends(ip)?;
    if src.port() == 4729 || dst.port() == 4729 {
        return None;
    }
    if src.port() == 2152 || dst.port() == 2152 {
        return Some(3);
    }
    let phone = if src.ip().to_string() == PHONE { src } else { dst };
    Some(match phone.port() {
        5060 => 3,
        40_003 | 43_000 | 43_001 | 44_002 => 1,
        44_000 | 44_001 => 2,
        _ => 0,
    })
}

/// The fixture as PCAPdroid exports it to pcapng: a uid map block per
/// app, each packet commented with its app's uid.
pub fn pcapdroid() -> Vec<u8> {
    let net = build();
    super::appmeta::pcapdroid_pcapng_of(&net, &APPS, |i| app_of(&net.packets[i].1), false)
}
