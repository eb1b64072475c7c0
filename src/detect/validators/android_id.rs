//! Android ID (`Settings.Secure.ANDROID_ID`, SSAID): 64 bits as 16 hex
//! digits, per device (per app signer since Android 8), kept until a
//! factory reset. Example: `9774d56d682e549c`.
//!
//! Only by key (`android_id`, `androidid`, `ssaid`): 16 hex digits alone are
//! as likely a hash prefix or request id. Traps: `9774d56d682e549c` is
//! still reported (it is the well-known value of a buggy Android 2.2
//! batch, yet identifies those devices together); all-zero is not, nor
//! an all-decimal value under `device_id` (an IMEI-like number).

use super::{Hit, all_same};
use crate::detect::keys;

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if !keys::is(&keys::KEYS.android_id, key) {
        return;
    }
    let v = value.trim();
    // All-decimal values are IMEI-like numbers, not 64 random bits (those
    // have a letter with odds of 999 in 1000).
    if (15..=16).contains(&v.len())
        && v.bytes().all(|b| b.is_ascii_hexdigit())
        && v.bytes().any(|b| b.is_ascii_alphabetic())
        && !all_same(v)
    {
        out.push(Hit::new("android_id", v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_hex16() {
        let mut o = Vec::new();
        detect("androidid", "9774d56d682e549c", &mut o);
        detect("requestid", "9774d56d682e549c", &mut o);
        detect("androidid", "0000000000000000", &mut o);
        detect("deviceid", "356938035643808", &mut o);
        assert_eq!(o.len(), 1);
    }
}
