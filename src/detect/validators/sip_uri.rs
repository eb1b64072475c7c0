//! SIP address: `sip:alice@example.com`, the address of record a phone or
//! VoIP line registers and calls from. It names the subscriber, but it is
//! not an e-mail address (it is reported under its own kind, never as
//! `email`). Numeric user parts are phone numbers or IMSIs and are judged
//! by those detectors.
//!
//! Only under the `sip_uri` key that SIP extraction gives a URI's user
//! part when it is neither; the value must be a `sip:`/`sips:` URI with a
//! user part and a host.

use super::Hit;
use crate::detect::keys;

pub fn detect(key: &str, value: &str, out: &mut Vec<Hit>) {
    if !keys::is(&keys::KEYS.sip_uri, key) {
        return;
    }
    let v = value.trim();
    let lower = v.to_ascii_lowercase();
    let Some(rest) = lower.strip_prefix("sip:").or_else(|| lower.strip_prefix("sips:")) else { return };
    let Some((user, host)) = rest.rsplit_once('@') else { return };
    if user.is_empty() || host.is_empty() || user == "anonymous" {
        return;
    }
    out.push(Hit::certain("sip_uri", v));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_addresses_under_their_key_only() {
        let mut o = Vec::new();
        detect("sipuri", "sip:alice@voip.example.net", &mut o);
        detect("sipuri", "sip:anonymous@anonymous.invalid", &mut o);
        detect("sipuri", "sip:voip.example.net", &mut o);
        detect("from", "sip:bob@voip.example.net", &mut o);
        assert_eq!(o, vec![Hit::certain("sip_uri", "sip:alice@voip.example.net")]);
    }
}
