//! E-mail address: names the user directly. Example: `tester@example.org`.
//!
//! Found anywhere by shape (local part, `@`, a dotted domain with a
//! letters-only top-level label). Traps: `user@2x.png` style asset names
//! (top-level label must be letters and the domain not an image name),
//! versions like `pkg@1.2.3`.

use std::sync::LazyLock;

use regex::Regex;

use super::Hit;

static EMAIL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b[a-z0-9][a-z0-9._%+-]{0,63}@(?:[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?\.)+[a-z]{2,24}\b")
        .expect("static pattern")
});

const NOT_DOMAINS: &[&str] = &["png", "jpg", "jpeg", "gif", "webp", "svg", "js", "css"];
/// Top-level labels of private networks: `user@host.lan` names a login,
/// not a mailbox.
const PRIVATE_TLDS: &[&str] = &["lan", "local", "localdomain", "internal", "home", "corp", "intranet"];
/// IMS and EAP identities (`<imsi>@ims.mnc..mcc...3gppnetwork.org`) look
/// like addresses; the IMSI detector reports their user part.
const IDENTITY_DOMAINS: &[&str] = &["3gppnetwork.org"];

pub fn detect(_key: &str, value: &str, out: &mut Vec<Hit>) {
    if !value.contains('@') {
        return;
    }
    for m in EMAIL.find_iter(value) {
        // A SIP address (`sip:alice@example.com`) is not a mailbox: the
        // SIP detector reports it under its own kind.
        let before = value[..m.start()].to_ascii_lowercase();
        if before.ends_with("sip:") || before.ends_with("sips:") {
            continue;
        }
        let lower = m.as_str().to_ascii_lowercase();
        let tld = lower.rsplit('.').next().unwrap_or("");
        if !NOT_DOMAINS.contains(&tld)
            && !PRIVATE_TLDS.contains(&tld)
            && !IDENTITY_DOMAINS.iter().any(|d| lower.ends_with(d))
        {
            out.push(Hit::new("email", m.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_addresses_not_assets() {
        let mut o = Vec::new();
        detect("", "to=tester@example.org&icon=logo@2x.png&v=pkg@1.2.3&u=263734@imstest.lan", &mut o);
        detect("", "sip:310410010001002@ims.mnc410.mcc310.3gppnetwork.org", &mut o);
        detect("", "From: <sip:alice@voip.example.net>;tag=1", &mut o);
        detect("", "sips:bob@example.com", &mut o);
        assert_eq!(o, vec![Hit::new("email", "tester@example.org")]);
    }
}
