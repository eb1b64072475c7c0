//! Device model and OS/software version: not identifiers alone, but with
//! the others they make a fingerprint; low severity context. The STS
//! reports carried both. Examples: `model=WIKO LENNY3`, `sw_version=V2.1`.
//!
//! Only by key. Traps: generic keys like `version` (API versions) are not
//! in the key list.

use super::Hit;
use crate::detect::keys;

fn plausible(v: &str) -> bool {
    let v = v.trim();
    (2..=128).contains(&v.len()) && v.chars().any(|c| c.is_ascii_alphanumeric())
}

pub fn detect_model(key: &str, value: &str, out: &mut Vec<Hit>) {
    if keys::is(&keys::KEYS.device_model, key) && plausible(value) {
        out.push(Hit::new("device_model", value.trim()));
    }
}

pub fn detect_os_version(key: &str, value: &str, out: &mut Vec<Hit>) {
    if keys::is(&keys::KEYS.os_version, key) && plausible(value) {
        out.push(Hit::new("os_version", value.trim()));
    }
}
