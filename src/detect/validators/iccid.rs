//! ICCID: the SIM card's serial number (ITU-T E.118): `89`, a country
//! code, issuer and account digits, a Luhn check digit; 19 or 20 digits,
//! sometimes padded with a trailing `F`. Example: `8933101234567890121`.
//!
//! Found with or without a key: the `89` prefix and the Luhn check
//! together make a bare match rare by chance (1 in 1000 of such runs); by
//! shape the run must stand alone (a trailing `F` filler aside), not
//! inside a hex token ([`super::number_runs`]). Traps: 19-digit payment
//! card numbers (they do not start with 89), digit runs inside digests.

use super::{Hit, luhn_ok, number_runs};
use crate::detect::keys;

fn valid(d: &str) -> bool {
    (18..=20).contains(&d.len()) && d.starts_with("89") && luhn_ok(d.as_bytes())
}

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if keys::is(&keys::KEYS.iccid, key) {
        let v = value.trim().trim_end_matches(['F', 'f']);
        if v.bytes().all(|b| b.is_ascii_digit()) && valid(v) {
            out.push(Hit::new("iccid", value.trim()));
            return;
        }
    }
    // By shape only, not under a key that names some other thing's id
    // (`ids`, `since_id`, `post_id`: 19-digit snowflake ids start with 89
    // and pass Luhn one time in a thousand).
    if names_other_id(key) {
        return;
    }
    for run in number_runs(value, 19..=20, Some(b'F')) {
        if valid(run) {
            out.push(Hit::new("iccid", run));
        }
    }
}

/// Is the key's last word `id`, `ids`, `uid`, `guid` (keys come as words
/// joined by `_`)?
fn names_other_id(key: &str) -> bool {
    let last = key.rsplit('_').next().unwrap_or(key);
    matches!(last, "id" | "ids" | "uid" | "uids" | "guid" | "oid" | "no" | "num" | "number")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_luhn() {
        let mut o = Vec::new();
        detect("iccid", "8933101234567890121", &mut o);
        detect("x", "card 89331012345678901230 end", &mut o);
        detect("x", "card 8933101234567890126 end", &mut o);
        detect("x", "4111111111111111111", &mut o);
        assert_eq!(o, vec![Hit::new("iccid", "8933101234567890121"), Hit::new("iccid", "89331012345678901230")]);
        // A 19-digit snowflake id that happens to pass: not under an id key.
        let mut o = Vec::new();
        detect("ids", "8996644849620026032", &mut o);
        detect("since_id", "8996644849620026032", &mut o);
        assert!(o.is_empty(), "{o:?}");
        detect("payload", "8996644849620026032", &mut o);
        assert_eq!(o.len(), 1);
    }

    #[test]
    fn by_shape_alone_or_with_its_filler() {
        let mut o = Vec::new();
        detect("x", "sim=8933101234567890121F&v=2", &mut o);
        detect("x", "ab8933101234567890121cd", &mut o);
        detect("x", "8933101234567890121FF", &mut o);
        assert_eq!(o, vec![Hit::new("iccid", "8933101234567890121")], "the filler once, not a hex token");
    }
}
