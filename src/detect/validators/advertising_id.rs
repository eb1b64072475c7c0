//! Advertising ID (Google GAID/AAID, Apple IDFA, Huawei OAID): a UUID
//! that ad SDKs send to link a user across apps. Resettable, hence medium.
//! Example: `38400000-8cf0-11bd-b23e-10b96e40000d`.
//!
//! Only by key (`gaid`, `adid`, `idfa`, `oaid`, `advertising_id`,
//! OpenRTB's `ifa`...); under an `oaid` key also the 16- or 64-hex forms
//! of the MSA SDK's OAID:
//! UUIDs name requests, sessions and installs far more often. Traps: the
//! all-zero UUID that limited ad tracking returns.

use super::Hit;
use crate::detect::keys;

fn is_uuid(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if !keys::is(&keys::KEYS.advertising_id, key) {
        return;
    }
    let v = value.trim();
    let uuid = is_uuid(v) && v.bytes().any(|b| b != b'0' && b != b'-');
    if uuid || (key.ends_with("oaid") && is_msa_oaid(v)) {
        out.push(Hit::new("advertising_id", v));
    }
}

/// An OAID of the China MSA SDK not in UUID form: 16 or 64 hex digits
/// (some vendors' forms), not all zeros.
fn is_msa_oaid(v: &str) -> bool {
    matches!(v.len(), 16 | 64) && v.bytes().all(|b| b.is_ascii_hexdigit()) && v.bytes().any(|b| b != b'0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_uuid_not_zero() {
        let mut o = Vec::new();
        detect("gaid", "38400000-8cf0-11bd-b23e-10b96e40000d", &mut o);
        detect("adid", "00000000-0000-0000-0000-000000000000", &mut o);
        detect("session", "38400000-8cf0-11bd-b23e-10b96e40000d", &mut o);
        assert_eq!(o.len(), 1);
    }
}
