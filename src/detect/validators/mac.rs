//! MAC address or BSSID: the Wi-Fi/Bluetooth hardware address of the
//! device, or of the access point it is near (a BSSID locates the device).
//! Example: `a4:5e:60:12:34:56`.
//!
//! Written with `:` or `-` separators it is found anywhere; as 12 bare hex
//! digits only under a MAC-like key (`mac`, `wifimac`, `bssid`). Traps:
//! Android's fixed `02:00:00:00:00:00` (shown to apps since Android 6),
//! broadcast `ff:ff:ff:ff:ff:ff`, all-zero; bare 12-hex request ids.

use std::sync::LazyLock;

use regex::Regex;

use super::Hit;
use crate::detect::keys;

static SEPARATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^0-9a-f:-])((?:[0-9a-f]{2}:){5}[0-9a-f]{2}|(?:[0-9a-f]{2}-){5}[0-9a-f]{2})(?:$|[^0-9a-f:-])")
        .expect("static pattern")
});

/// Addresses that identify nothing.
fn meaningless(hex12: &str) -> bool {
    let h = hex12.to_ascii_lowercase();
    h == "000000000000" || h == "ffffffffffff" || h == "020000000000"
}

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    let v = value.trim();
    if keys::is(&keys::KEYS.mac, key) && v.len() == 12 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        if !meaningless(v) && v.bytes().any(|b| b.is_ascii_digit()) {
            out.push(Hit::new("mac", v));
        }
        return;
    }
    if !value.contains([':', '-']) {
        return;
    }
    for c in SEPARATED.captures_iter(value) {
        let m = &c[1];
        let hex: String = m.chars().filter(char::is_ascii_hexdigit).collect();
        if !meaningless(&hex) {
            out.push(Hit::new("mac", m));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separated_anywhere_bare_by_key() {
        let mut o = Vec::new();
        detect("x", "ap=A4-5E-60-12-34-56&y", &mut o);
        detect("wifimac", "a45e60123456", &mut o);
        detect("reqid", "a45e60123456", &mut o);
        detect("mac", "02:00:00:00:00:00", &mut o);
        detect("x", "fe80::a45e:60ff:fe12:3456", &mut o);
        let v: Vec<&str> = o.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(v, vec!["A4-5E-60-12-34-56", "a45e60123456"]);
    }
}
