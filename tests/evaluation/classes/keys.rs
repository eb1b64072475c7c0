//! Key names as devices spell them (issue 14): identifiers under names
//! read as words (`wan_mac`, `wlan0_mac`, `deviceImei`, `imei_slot2`,
//! `sim2Iccid`, `mobileNo`), digests under hash-named keys (`imei_md5`,
//! `oaid_md5`, `sha256(imei)`), and e-mail addresses that are not the
//! user's (role mailboxes, the vendor's own domain). Decoys: names that
//! only contain an identifier's letters (`machine`, `macro`), counts
//! (`imei_count`), hashes with no identifier name (`md5`, `request_id`)
//! and digests of the wrong length.

use md5::Digest as _;

use super::{ClassCase, IMEI, IMSI, MAC, SERIAL, get, post};
use crate::support::{Link, Net, pcap};

/// A second SIM slot's IMEI, an ICCID, phone numbers, an Android ID and
/// an OAID of the same (made-up) dual-SIM phone.
const IMEI2: &str = "867794031234560";
const ICCID: &str = "8933109876543210121";
const ANDROID_ID: &str = "f3a1c2b4d5e6a7b8";
const OAID: &str = "9e1f6a52-7c3b-4d2e-a0f1-3b5c7d9e1f20";

fn md5(s: &str) -> String {
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

fn sha1(s: &str) -> String {
    hex::encode(sha1::Sha1::digest(s.as_bytes()))
}

fn sha256(s: &str) -> String {
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

const FORM: &str = "application/x-www-form-urlencoded";
const JSON: &str = "application/json";

const ROUTER: &str = "192.0.2.81:80";
const PHONE_API: &str = "192.0.2.82:80";
const VENDOR: &str = "192.0.2.83:80";

pub fn cases() -> Vec<ClassCase> {
    let mut v = key_words();
    v.extend(hashed_keys());
    v.extend(role_emails());
    v
}

fn key_words() -> Vec<ClassCase> {
    vec![
        // A home router's periodic report to its maker's cloud: every
        // interface's MAC as 12 bare hex digits, found only by its key.
        ClassCase::http(
            "key-words",
            "router report: wan_mac, wlan0_mac, bt_mac, lan-mac (bare hex), machine and macro beside",
            ROUTER,
            post(
                "cloud.router.example",
                "/cgi-bin/report",
                FORM,
                "machine=mips&wan_mac=A45E60123457&wlan0_mac=a45e60123458&bt_mac=a45e60123459&lan-mac=A45E6012345A&macro=7f3e9a01234b&fw=1.0.4",
            ),
        )
        .must("mac", "A45E60123457")
        .must("mac", "a45e60123458")
        .must("mac", "a45e60123459")
        .must("mac", "A45E6012345A"),
        ClassCase::http(
            "key-words",
            "Wi-Fi scan JSON: wifiMac, wifi_bssid, MacAddress",
            PHONE_API,
            post(
                "api.phone.example",
                "/v2/wifi",
                JSON,
                r#"{"wifiMac":"a45e60123456","wifi_bssid":"0c8268a1b2c3","ap":{"MacAddress":"0C8268A1B2C4"}}"#,
            ),
        )
        .must("mac", MAC)
        .must("mac", "0c8268a1b2c3")
        .must("mac", "0C8268A1B2C4"),
        ClassCase::http(
            "key-words",
            "dual-SIM phone JSON: deviceImei, imei_slot2, imsi_1, sim2Iccid, phone_number, mobileNo, board_serial",
            PHONE_API,
            post(
                "api.phone.example",
                "/v2/register",
                JSON,
                &format!(
                    r#"{{"deviceImei":"{IMEI}","imei_slot2":"{IMEI2}","imsi_1":"{IMSI}","sim2Iccid":"{ICCID}","phone_number":"+33612345678","mobileNo":"0698765432","board_serial":"{SERIAL}","androidId":"{ANDROID_ID}"}}"#
                ),
            ),
        )
        .must("imei", IMEI)
        .must("imei", IMEI2)
        .must("imsi", IMSI)
        .must("iccid", ICCID)
        .must("msisdn", "+33612345678")
        .must("msisdn", "0698765432")
        .must("serial", SERIAL)
        .must("android_id", ANDROID_ID),
        ClassCase::http(
            "key-words",
            "names that only contain an identifier's letters, and counts",
            ROUTER,
            get(
                "cloud.router.example",
                "/fw/check?machine=x86_64&macro=7f3e9a01234b&imei_count=2&mac_len=12&order_sn=A1B2C3D4E5F6&imsiCount=208159876543210",
                "",
            ),
        )
        .clean(),
    ]
}

fn hashed_keys() -> Vec<ClassCase> {
    let checksum = md5("firmware image 1.0.4");
    vec![
        ClassCase::http(
            "hashed-key",
            "imei_md5 in a query, beside a file's md5 and a request id",
            PHONE_API,
            get(
                "api.phone.example",
                &format!("/collect?imei_md5={}&md5={checksum}&request_id={}", md5(IMEI), md5("request 1")),
                "",
            ),
        )
        .must("imei", md5(IMEI)),
        ClassCase::http(
            "hashed-key",
            "ad SDK JSON: oaid_md5, imeiSha1",
            PHONE_API,
            post(
                "ads.sdk.example",
                "/v1/req",
                JSON,
                &format!(r#"{{"dev":{{"oaid_md5":"{}","imeiSha1":"{}","os":"android"}}}}"#, md5(OAID), sha1(IMEI2)),
            ),
        )
        .must("advertising_id", md5(OAID))
        .must("imei", sha1(IMEI2)),
        ClassCase::http(
            "hashed-key",
            "analytics form: mac_sha256, androidid_sha1, aid_sha256, sha256(imei)",
            PHONE_API,
            post(
                "log.analytics.example",
                "/t",
                FORM,
                &format!(
                    "mac_sha256={}&androidid_sha1={}&aid_sha256={}&sha256(imei)={}",
                    sha256(MAC),
                    sha1(ANDROID_ID),
                    sha256(ANDROID_ID),
                    sha256(IMEI)
                ),
            ),
        )
        .must("mac", sha256(MAC))
        .must("android_id", sha1(ANDROID_ID))
        .must("android_id", sha256(ANDROID_ID))
        .must("imei", sha256(IMEI)),
        ClassCase::http(
            "hashed-key",
            "hashes with no identifier name, and digests of the wrong length",
            PHONE_API,
            get(
                "api.phone.example",
                &format!(
                    "/ota?md5={checksum}&request_id={}&trace=9f86d081884c7d65&user_hash={}&imei_md5={}&mac_sha1={}",
                    md5("request 2"),
                    md5("account 7"),
                    sha1("not this device"),
                    &md5("nor this one")[..30]
                ),
                "",
            ),
        )
        .clean(),
    ]
}

fn role_emails() -> Vec<ClassCase> {
    vec![
        ClassCase::http(
            "role-email",
            "login form to the vendor",
            VENDOR,
            post("api.vendor.example", "/v1/login", FORM, "login=jane.doe%40example.net&remember=1"),
        )
        .must("email", "jane.doe@example.net"),
        ClassCase::http(
            "role-email",
            "account JSON with the vendor's support address and a no-reply one beside the user's",
            VENDOR,
            post(
                "api.vendor.example",
                "/v1/profile",
                JSON,
                r#"{"userName":"tom@example.org","help":{"contact":"support@vendor.example","reply_to":"noreply@other.example"}}"#,
            ),
        )
        .must("email", "tom@example.org"),
        ClassCase::http(
            "role-email",
            "another country's domain under co.uk",
            VENDOR,
            post("api.shop.co.uk", "/v1/account", JSON, r#"{"email":"someone@other.co.uk"}"#),
        )
        .must("email", "someone@other.co.uk"),
        ClassCase::http(
            "role-email",
            "the vendor's support address sent to the vendor",
            VENDOR,
            post("api.vendor.example", "/v1/feedback", JSON, r#"{"to":"support@vendor.example","text":"hi"}"#),
        )
        .clean(),
        ClassCase::http(
            "role-email",
            "a no-reply address to another host",
            VENDOR,
            get("cdn.other.example", "/mail?from=noreply%40other.example", ""),
        )
        .clean(),
        ClassCase::http(
            "role-email",
            "any address at the destination's own domain",
            VENDOR,
            post("api.vendor.example", "/v1/config", JSON, r#"{"alerts":"ops-team@mail.vendor.example"}"#),
        )
        .clean(),
        ClassCase::http(
            "role-email",
            "own domain under co.uk",
            VENDOR,
            post("api.shop.co.uk", "/v1/config", JSON, r#"{"orders":"orders@shop.co.uk"}"#),
        )
        .clean(),
    ]
}

/// The role-email cases scanned alone: the capture record counts what was
/// set aside (distinct addresses per request), and an address under an
/// account key is reported with high confidence.
#[test]
fn emails_set_aside_are_counted() {
    let dir = crate::tmpdir("keys-roles");
    let mut net = Net::default();
    for (i, c) in role_emails().iter().enumerate() {
        (c.build)(&mut net, &format!("10.1.9.3:{}", 31_000 + i), 1_700_300_000 + i as i64 * 10);
    }
    let p = crate::write(&dir, "roles.pcap", &pcap(&net, Link::Ethernet, false, false));
    let lines = crate::jsonl(&crate::run(&["scan", "--format", "jsonl", "--show-values", p.to_str().unwrap()]));
    let capture = crate::of_type(&lines, "capture");
    // support@ and noreply@ in the profile JSON, then one in each decoy.
    assert_eq!(capture[0]["detection"]["emails_set_aside"], 6, "{}", capture[0]);
    let found = crate::of_type(&lines, "finding");
    let by_value = |v: &str| found.iter().find(|f| f["value"] == v).unwrap_or_else(|| panic!("{v}: {found:?}"));
    assert_eq!(found.len(), 3);
    for v in ["jane.doe@example.net", "tom@example.org", "someone@other.co.uk"] {
        assert_eq!(by_value(v)["confidence"], "high", "{v} is under an account key");
    }
}
