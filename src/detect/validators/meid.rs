//! MEID and ESN: the hardware identities of CDMA phones (and of LTE phones
//! sold on CDMA networks), the CDMA counterpart of the IMEI. MEID: 14 hex
//! digits (`A10000009296F2`) or 18 decimal digits; ESN (pESN): 8 hex
//! digits or 11 decimal digits.
//!
//! Only by key (`meid`, `esn`, `pesn`): 14 or 8 hex digits alone are as
//! likely hashes or ids. Traps: all-zero and all-F placeholders.

use super::{Hit, all_same};
use crate::detect::keys;

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if !keys::is(&keys::KEYS.meid, key) {
        return;
    }
    let v = value.trim();
    let hex = v.bytes().all(|b| b.is_ascii_hexdigit());
    let dec = v.bytes().all(|b| b.is_ascii_digit());
    let shaped = (hex && matches!(v.len(), 8 | 14)) || (dec && matches!(v.len(), 11 | 18));
    if shaped && !all_same(&v.to_ascii_lowercase()) {
        out.push(Hit::new("meid", v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_shapes() {
        let mut o = Vec::new();
        detect("meid", "A10000009296F2", &mut o);
        detect("esn", "80A1B2C3", &mut o);
        detect("meid", "FFFFFFFFFFFFFF", &mut o);
        detect("id", "A10000009296F2", &mut o);
        detect("meid", "A1000000", &mut o);
        assert_eq!(
            o.iter().map(|h| h.value.as_str()).collect::<Vec<_>>(),
            vec!["A10000009296F2", "80A1B2C3", "A1000000"]
        );
    }
}
