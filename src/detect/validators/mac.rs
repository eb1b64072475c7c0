//! MAC address or BSSID: the Wi-Fi/Bluetooth hardware address of the
//! device, or of the access point it is near (a BSSID locates the device).
//! Example: `a4:5e:60:12:34:56`.
//!
//! Written with `:` or `-` separators it is found anywhere. As 12 bare hex
//! digits (a whole value, or a word of one: `RT-AX88U_3.0.0.4_<12 hex>`,
//! `<12 hex>@isp.example`) it needs evidence, since request ids and short
//! hashes look the same: a MAC-like key (`mac`, `wifimac`, `bssid`;
//! confidence high), or a vendor prefix from the OUI table
//! `rules/oui.txt` (confidence medium, the title says `by vendor OUI`);
//! the profile matcher finds the device's own MAC in any form besides.
//! Traps: Android's fixed `02:00:00:00:00:00` (shown to apps since Android
//! 6), broadcast `ff:ff:ff:ff:ff:ff`, all-zero; random 12-hex ids (a vendor
//! prefix passes about once in 20 000), locally administered (randomised)
//! addresses by OUI, mixed-case hex, the random node of a non-time UUID,
//! values under keys that say what else they are (`etag`, `hash`).

use std::sync::LazyLock;

use regex::Regex;

use super::Hit;
use crate::detect::keys;

static SEPARATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^0-9a-f:-])((?:[0-9a-f]{2}:){5}[0-9a-f]{2}|(?:[0-9a-f]{2}-){5}[0-9a-f]{2})(?:$|[^0-9a-f:-])")
        .expect("static pattern")
});

/// Keys whose value is, by its name, something other than a MAC: a bare
/// 12-hex word under them is never reported by its OUI alone.
const NOT_MAC_KEYS: [&str; 16] = [
    "etag",
    "ifnonematch",
    "hash",
    "checksum",
    "crc",
    "md5",
    "sha1",
    "sha256",
    "nonce",
    "signature",
    "sig",
    "commit",
    "traceid",
    "spanid",
    "requestid",
    "reqid",
];

/// The vendor prefixes of `rules/oui.txt`, sorted, with their vendor.
static OUI: LazyLock<Vec<(u32, &'static str)>> = LazyLock::new(|| {
    let mut v: Vec<(u32, &'static str)> = include_str!("../../../rules/oui.txt").lines().filter_map(oui_line).collect();
    v.sort_unstable_by_key(|e| e.0);
    v
});

/// One line of the OUI table: `A45E60 Apple`; comments and blank lines
/// give `None`.
fn oui_line(line: &str) -> Option<(u32, &str)> {
    let (prefix, vendor) = line.split_once(' ')?;
    if prefix.len() != 6 || line.starts_with('#') {
        return None;
    }
    Some((u32::from_str_radix(prefix, 16).ok()?, vendor.trim()))
}

/// The vendor the IEEE assigned this 24-bit prefix to, if it is in the
/// table.
pub fn vendor(oui: u32) -> Option<&'static str> {
    let t = &*OUI;
    t.binary_search_by_key(&oui, |e| e.0).ok().map(|i| t[i].1)
}

/// Addresses that identify nothing.
fn meaningless(hex12: &str) -> bool {
    ["000000000000", "ffffffffffff", "020000000000"].iter().any(|m| hex12.eq_ignore_ascii_case(m))
}

/// Words of `s` (runs of ASCII letters and digits) that are exactly 12
/// hex digits, with their byte offset.
fn hex12_words(s: &str) -> impl Iterator<Item = (usize, &str)> {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if !b[i].is_ascii_alphanumeric() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_alphanumeric() {
                i += 1;
            }
            if i - start == 12 && b[start..i].iter().all(u8::is_ascii_hexdigit) {
                return Some((start, &s[start..i]));
            }
        }
        None
    })
}

/// Is the word at `start` the node of a UUID (`8-4-4-4-` before it) whose
/// version is not 1? Only version-1 UUIDs carry the host's MAC there
/// (RFC 9562 §5.1); the others hold random bits.
fn random_uuid_node(s: &str, start: usize) -> bool {
    let Some(head) = start.checked_sub(24).and_then(|u| s.as_bytes().get(u..start)) else {
        return false;
    };
    let shaped = head
        .iter()
        .enumerate()
        .all(|(i, c)| if matches!(i, 8 | 13 | 18 | 23) { *c == b'-' } else { c.is_ascii_hexdigit() });
    shaped && head[14] != b'1'
}

/// The vendor of a bare 12-hex word, when that is evidence enough: one
/// case throughout, a globally administered unicast address, a prefix in
/// the table.
fn by_oui(word: &str) -> Option<&'static str> {
    let b = word.as_bytes();
    let upper = b.iter().any(u8::is_ascii_uppercase);
    let lower = b.iter().any(u8::is_ascii_lowercase);
    if upper && lower {
        return None;
    }
    let oui = u32::from_str_radix(&word[..6], 16).ok()?;
    // The U/L bit (0x02: locally administered, as randomised Wi-Fi MACs
    // are) and the group bit (0x01) of the first byte.
    if (oui >> 16) & 0x03 != 0 {
        return None;
    }
    vendor(oui)
}

/// Does `b` hold six hex pairs joined by one separator (`:` or `-`), as
/// [`SEPARATED`] needs? A scan of the bytes that spares the regex the
/// dates, UUIDs and versions that hold separators but no MAC.
fn has_separated(b: &[u8]) -> bool {
    const LEN: usize = 17;
    if b.len() < LEN {
        return false;
    }
    (0..=b.len() - LEN).any(|i| {
        let sep = b[i + 2];
        (sep == b':' || sep == b'-')
            && (0..6).all(|k| b[i + 3 * k].is_ascii_hexdigit() && b[i + 3 * k + 1].is_ascii_hexdigit())
            && (0..5).all(|k| b[i + 3 * k + 2] == sep)
    })
}

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    let keyed = keys::is(&keys::KEYS.mac, key);
    // Keys come as words joined by `_` (`if_none_match`).
    let ruled_out = NOT_MAC_KEYS.iter().any(|k| keys::compact_eq(key, k));
    for (start, w) in hex12_words(value) {
        if meaningless(w) || !w.bytes().any(|b| b.is_ascii_digit()) || random_uuid_node(value, start) {
            continue;
        }
        if keyed {
            out.push(Hit::new("mac", w));
        } else if !ruled_out && let Some(v) = by_oui(w) {
            out.push(Hit::new("mac", w).because(format!("by vendor OUI: {v}")));
        }
    }
    if !has_separated(value.as_bytes()) {
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

    fn found(key: &str, value: &str) -> Vec<String> {
        let mut o = Vec::new();
        detect(key, value, &mut o);
        o.into_iter().map(|h| h.value).collect()
    }

    #[test]
    fn the_byte_scan_passes_every_value_the_regex_can_match() {
        let mut seed: u64 = 3;
        let mut matched = 0;
        let alphabet = b"0123456789abcdefABCDEF:-x. ";
        for n in 0..60_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 10 + (seed >> 58) as usize;
            let mut v: Vec<u8> =
                (0..len).map(|i| alphabet[((seed >> (i % 50)) as usize + i * 7) % alphabet.len()]).collect();
            if n % 3 == 0 {
                let at = (seed as usize) % (len - 5);
                let mac: &[u8] = match n % 4 {
                    0 => b"a4:5E:60:12:34:56",
                    1 => b"xA4-5e-60-12-34-56x",
                    2 => b" 02:00:5e:10:00:01.",
                    _ => b"A4-5e-60-12-34-56",
                };
                v.splice(at..at, mac.iter().copied());
            }
            let v = String::from_utf8(v).unwrap();
            if SEPARATED.is_match(&v) {
                matched += 1;
                assert!(has_separated(v.as_bytes()), "{v}");
            }
        }
        assert!(matched > 1000, "{matched} values the regex matches: the test proves little");
        assert!(!has_separated(b"2017-01-05T09:12:03Z"));
        assert!(!has_separated(b"3f2504e0-4f89-11d3-9a0c-0305e82c3301"));
    }

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
        assert!(o.iter().all(|h| h.why.is_none()));
    }

    #[test]
    fn bare_words_by_vendor_prefix() {
        // 04D9F5: ASUSTek; 50C7BF: TP-Link; A45E60: Apple (rules/oui.txt).
        let mut o = Vec::new();
        detect("model", "RT-AX88U_3.0.0.4_04d9f5a1b2c3", &mut o);
        assert_eq!(o, vec![Hit::new("mac", "04d9f5a1b2c3").because("by vendor OUI: ASUS")]);
        assert_eq!(found("login", "50C7BF0A1B2C@isp.example"), vec!["50C7BF0A1B2C"]);
        assert_eq!(found("fw", "v1.2-a45e60123456.bin"), vec!["a45e60123456"]);
        // A prefix no vendor in the table has; part of a longer word.
        assert!(found("requestid", "req_7f3e9a01c2d4_x").is_empty());
        assert!(found("x", "id=a45e60123456ff").is_empty());
        assert!(found("x", "0xa45e60123456").is_empty());
    }

    #[test]
    fn bare_words_without_evidence() {
        // The Apple prefix with the U/L bit set: a randomised address.
        assert!(found("x", "a65e60123456").is_empty());
        // Mixed case is no MAC's spelling.
        assert!(found("x", "A45e60123456").is_empty());
        // Keys that say what else it is.
        assert!(found("etag", "a45e60123456").is_empty());
        // No digit at all.
        assert!(found("x", "acbcacbcacbc").is_empty());
        // The node of a random (version 4) UUID; a version-1 node is the
        // host's MAC.
        assert!(found("x", "123e4567-e89b-42d3-a456-a45e60123456").is_empty());
        assert_eq!(found("x", "123e4567-e89b-12d3-a456-a45e60123456"), vec!["a45e60123456"]);
        // Under a MAC key any prefix counts, but not the meaningless ones.
        assert_eq!(found("mac", "RT_7f3e9a01c2d4"), vec!["7f3e9a01c2d4"]);
        assert!(found("mac", "020000000000").is_empty());
    }

    #[test]
    fn oui_table_is_sound() {
        let text = include_str!("../../../rules/oui.txt");
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()).collect();
        assert!(lines.iter().all(|l| oui_line(l).is_some()), "every line is `XXXXXX Vendor`");
        assert_eq!(OUI.len(), lines.len());
        assert!(OUI.windows(2).all(|w| w[0].0 < w[1].0), "no prefix twice");
        assert!(OUI.iter().all(|(p, v)| (p >> 16) & 0x03 == 0 && !v.is_empty()), "globally administered unicast");
        assert!(OUI.len() > 500 && OUI.len() < 1500, "a compact table: {}", OUI.len());
        assert_eq!(vendor(0xB827EB), Some("Raspberry Pi"));
        assert_eq!(vendor(0x7F3E9A), None);
    }
}
