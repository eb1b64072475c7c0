//! IMEI (and IMEISV): the 15-digit hardware identity of a phone's radio,
//! stable for the device's life and readable by preinstalled apps; the
//! Wiko STS reports sent it to Tinno. Example: `490154203237518`.
//!
//! With an IMEI-like key (`imei`, `deviceid`, `imei1`...) a 15-digit Luhn
//! value is an IMEI and a 16-digit value an IMEISV. Without a key only a
//! whole 15-digit run that passes Luhn and starts with a GSMA reporting
//! body prefix counts, and only standing alone, not inside a token of hex
//! digits (a digest, a request id: [`super::number_runs`]). Traps: 15-digit
//! order numbers and timestamps (about one in ten passes Luhn: the prefix
//! check removes most), Luhn-valid runs inside hex ids, runs of one
//! digit, `000000000000000`, and the emulators' IMEIs (Android SDK
//! `358240051111110`, Genymotion `004999010640000`), which identify no
//! device.

use std::sync::LazyLock;

use regex::Regex;

use super::{Hit, all_same, digits_only, luhn_ok, number_runs};
use crate::detect::keys;

/// The IMEI URN of RFC 7254 (`urn:gsma:imei:TAC-SNR-check`), as IMS
/// phones put it in SIP `+sip.instance`.
static URN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)urn:gsma:imei:([0-9]{8})-([0-9]{6})-([0-9])").expect("static pattern"));

/// Reporting-body identifiers (first two TAC digits) allocated by GSMA
/// that real handsets carry.
const REPORTING_BODIES: &[&str] =
    &["01", "10", "30", "31", "33", "35", "44", "45", "49", "50", "51", "52", "53", "54", "86", "91", "98", "99"];

/// IMEIs of emulators and test tools, not of a device: the Android SDK
/// emulator's and Genymotion's. The engine drops them unless asked
/// (`--include-test-devices`).
const TEST_IMEIS: &[&str] = &["358240051111110", "004999010640000"];

/// Is this (as found: digits, or a URN's `TAC-SNR-check`) a test IMEI?
pub fn is_test_imei(found: &str) -> bool {
    let digits: String = found.chars().filter(char::is_ascii_digit).collect();
    TEST_IMEIS.contains(&digits.as_str())
}

fn plausible(d: &str) -> bool {
    d.len() == 15 && luhn_ok(d.as_bytes()) && !all_same(d) && !d.starts_with("00000000")
}

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if keys::is(&keys::KEYS.imei, key)
        && let Some(d) = digits_only(value)
    {
        if plausible(&d) {
            out.push(Hit::new("imei", value.trim()));
            return;
        }
        if d.len() == 16 && !all_same(&d) {
            out.push(Hit::new("imeisv", value.trim()));
            return;
        }
    }
    if value.contains("imei:") || value.contains("IMEI:") {
        for c in URN.captures_iter(value) {
            let digits = format!("{}{}{}", &c[1], &c[2], &c[3]);
            if plausible(&digits) {
                out.push(Hit::certain(
                    "imei",
                    &value[c.get(1).map_or(0, |m| m.start())..c.get(3).map_or(0, |m| m.end())],
                ));
            }
        }
    }
    // A number under another identifier's key (an IMSI that happens to
    // pass Luhn) is that identifier, not an IMEI.
    if [&keys::KEYS.imsi, &keys::KEYS.msisdn, &keys::KEYS.iccid, &keys::KEYS.meid].iter().any(|l| keys::is(l, key)) {
        return;
    }
    for run in number_runs(value, 15..=15, None) {
        // An IMSI of the realm beside it is not an IMEI, Luhn or not.
        if plausible(run) && REPORTING_BODIES.contains(&&run[..2]) && !super::imsi::of_realm(value, run) {
            out.push(Hit::new("imei", run));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(k: &str, v: &str) -> Vec<Hit> {
        let mut o = Vec::new();
        detect(k, v, &mut o);
        o
    }

    #[test]
    fn keyed_and_bare() {
        assert_eq!(hits("imei", "356938035643809"), vec![Hit::new("imei", "356938035643809")]);
        assert_eq!(hits("x", "id=356938035643809;"), vec![Hit::new("imei", "356938035643809")]);
        assert_eq!(hits("imei", "3569380356438091").len(), 1);
    }

    #[test]
    fn imei_urn_from_sip() {
        assert_eq!(
            hits("sipinstance", "<urn:gsma:imei:35442706-323347-9>"),
            vec![Hit::certain("imei", "35442706-323347-9")]
        );
        assert!(hits("x", "urn:gsma:imei:35442706-323347-8").is_empty(), "Luhn fails");
    }

    #[test]
    fn rejects_look_alikes() {
        assert!(hits("imei", "356938035643808").is_empty(), "Luhn fails");
        assert!(hits("imei", "000000000000000").is_empty(), "all zero");
        assert!(is_test_imei("358240051111110") && !is_test_imei("356938035643809"), "Android emulator");
        assert!(hits("order", "123456789012347").is_empty(), "bare, Luhn ok, prefix 12 not a reporting body");
        assert!(hits("ts", "1356938035643809").is_empty(), "16 digits bare");
        assert!(hits("", "sip:310410010001002@ims.mnc410.mcc310.3gppnetwork.org").is_empty(), "an IMSI");
        // d200.pcap frame 241784: a Luhn-valid run of a reporting body's
        // prefix inside a random request id.
        assert!(hits("req_id", "0eb6dd664787d313418281594602ede5").is_empty(), "inside a hex token");
        assert!(hits("x", "trace=0EB6DD664787D313418281594602EDE5;").is_empty(), "upper-case hex");
    }

    #[test]
    fn bare_runs_beside_labels_and_punctuation() {
        for v in ["IMEI:356938035643809", "id=356938035643809,", "imei356938035643809", "[356938035643809]"] {
            assert_eq!(hits("x", v), vec![Hit::new("imei", "356938035643809")], "{v}");
        }
    }
}
