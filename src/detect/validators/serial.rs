//! Hardware serial number (`ro.serialno`, `Build.SERIAL`): unique per
//! unit and never reset; the STS reports carried it. Example:
//! `WKL3A1B2C3D4`.
//!
//! Only by key (`sn`, `serial`, `serialno`, `serial_number`, ...): serials
//! have no checkable shape. The value must be 6 to 32 letters and digits
//! with at least one digit. Traps: `unknown` (Android's placeholder when
//! the serial is hidden), all-zero values.

use super::{Hit, all_same};
use crate::detect::keys;

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if !keys::is(&keys::KEYS.serial, key) {
        return;
    }
    let v = value.trim();
    if (6..=32).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && v.bytes().any(|b| b.is_ascii_digit())
        && !all_same(v)
        && !v.eq_ignore_ascii_case("unknown")
    {
        out.push(Hit::new("serial", v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_key_only() {
        let mut o = Vec::new();
        detect("sn", "WKL3A1B2C3D4", &mut o);
        detect("serialno", "unknown", &mut o);
        detect("serial", "000000", &mut o);
        detect("name", "WKL3A1B2C3D4", &mut o);
        assert_eq!(o, vec![Hit::new("serial", "WKL3A1B2C3D4")]);
    }
}
