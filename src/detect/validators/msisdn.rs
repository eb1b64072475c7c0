//! MSISDN: the phone number of the SIM's line, in E.164 (`+33612345678`)
//! or national form. A phone number ties telemetry to a named person.
//!
//! Only with a phone-number key (`msisdn`, `phone`, `tel`, `line1number`):
//! digits alone cannot tell a phone number from a count. The value must
//! hold 8 to 15 digits, with an optional `+` and light separators.
//! Traps: all-zero placeholders, IMEIs under a `phone` key (15 digits
//! with a valid Luhn are left to the IMEI detector).

use super::{Hit, all_same, luhn_ok};
use crate::detect::keys;

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if !keys::is(&keys::KEYS.msisdn, key) {
        return;
    }
    let v = value.trim();
    let rest = v.strip_prefix('+').unwrap_or(v);
    if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_digit() || b" -().".contains(&b)) {
        return;
    }
    let digits: String = rest.bytes().filter(u8::is_ascii_digit).map(char::from).collect();
    if !(8..=15).contains(&digits.len()) || all_same(&digits) {
        return;
    }
    if digits.len() == 15 && luhn_ok(digits.as_bytes()) && !v.starts_with('+') {
        return;
    }
    out.push(Hit::new("msisdn", v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_numbers_only() {
        let mut o = Vec::new();
        detect("msisdn", "+33612345678", &mut o);
        detect("phone", "06 12 34 56 78", &mut o);
        detect("count", "33612345678", &mut o);
        detect("phone", "00000000", &mut o);
        detect("tel", "abc", &mut o);
        assert_eq!(o.len(), 2);
    }
}
