//! Classes `shape-in-token` and `shape-vs-key` (issue 15): identifiers
//! found by their shape alone (IMEI, ICCID), which must stand alone as a
//! number and give way to what a key names. Found: a bare IMEI beside a
//! label or punctuation (`IMEI:…`, `id=…,`, glued to `imei`), an ICCID
//! with its `F` filler, a US IMSI (Luhn-valid, with an IMEI's prefix)
//! under its key inside JSON inside a form field, reported once, as an
//! IMSI. Decoys: random request ids and digests of hex digits holding a
//! Luhn-valid 15- or 19-digit run (d200.pcap frame 241784).

use super::{ClassCase, post};

/// The 3GPP TS 23.003 example IMEI: not the profile's, so found by shape.
const BARE_IMEI: &str = "490154203237518";
/// A US IMSI (MCC 310) that passes Luhn and starts with reporting body 31.
const US_IMSI: &str = "310410861336275";
const ICCID: &str = "8933101234567890121";

const FORM: &str = "application/x-www-form-urlencoded";
const SERVER: &str = "192.0.2.97:80";

pub fn cases() -> Vec<ClassCase> {
    vec![
        ClassCase::http(
            "shape-vs-key",
            "form field holding JSON, a Luhn-valid US IMSI under its key (d200.pcap frame 7319)",
            SERVER,
            post(
                "t.example",
                "/v1/collect",
                FORM,
                &format!("data=%7B%22subscriber_id%22%3A%22{US_IMSI}%22%2C%22ts%22%3A1709280000123%7D&v=2"),
            ),
        )
        .must("imsi", US_IMSI),
        ClassCase::http(
            "shape-vs-key",
            "the same IMSI as a JSON number beside an event, in a form field",
            SERVER,
            post(
                "t.example",
                "/v1/collect",
                FORM,
                &format!("event=open&payload=%7B%22imsi%22%3A{US_IMSI}%2C%22net%22%3A%22lte%22%7D"),
            ),
        )
        .must("imsi", US_IMSI),
        ClassCase::http(
            "shape-in-token",
            "bare IMEI beside a label, punctuation, and glued to a word",
            SERVER,
            post(
                "logs.example",
                "/diag",
                "text/plain",
                &format!("boot ok [{BARE_IMEI}] radio=up,{BARE_IMEI},end modem imei{BARE_IMEI} ready\n"),
            ),
        )
        .must("imei", BARE_IMEI),
        ClassCase::http(
            "shape-in-token",
            "ICCID by shape with its F filler",
            SERVER,
            post("logs.example", "/diag", "text/plain", &format!("sim card {ICCID}F inserted\n")),
        )
        .must("iccid", ICCID),
        ClassCase::http(
            "shape-in-token",
            "decoy: a request id of 32 hex digits with a Luhn-valid run of an IMEI's prefix (d200.pcap frame 241784)",
            SERVER,
            post("t.example", "/v1/e", FORM, "req_id=0eb6dd664787d313418281594602ede5&event=app_open&battery=71"),
        )
        .clean(),
        ClassCase::http(
            "shape-in-token",
            "decoy: upper-case hex trace id, and a hex digest holding an ICCID's shape",
            SERVER,
            post(
                "t.example",
                "/v1/e",
                "application/json",
                &format!(r#"{{"trace":"0EB6DD664787D313418281594602EDE5","etag":"ab{ICCID}cd0e1f2a3b4"}}"#),
            ),
        )
        .clean(),
    ]
}
