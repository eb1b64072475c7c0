//! E-mail address: names the user directly. Example: `tester@example.org`.
//!
//! Found anywhere by shape (local part, `@`, a dotted domain with a
//! letters-only top-level label); with high confidence under an address or
//! account key (`email`, `login`, `userName`: `rules/keys.toml`). Traps:
//! `user@2x.png` style asset names (top-level label must be letters and
//! the domain not an image name), versions like `pkg@1.2.3`. Not the
//! user's, so set aside (counted, not reported: [`set_aside`]): role
//! mailboxes (`support@`, `noreply@`) and addresses at the destination's
//! own domain (`help@vendor.example` sent to `api.vendor.example`).

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

/// Local parts of role and service mailboxes (RFC 2142, and what apps
/// and SDKs embed: support and no-reply addresses), compared without
/// `.`, `-`, `_` and a `+tag`.
const ROLES: &[&str] = &[
    "abuse",
    "accounts",
    "admin",
    "administrator",
    "billing",
    "contact",
    "contactus",
    "customercare",
    "customerservice",
    "dpo",
    "feedback",
    "hello",
    "help",
    "helpdesk",
    "hostmaster",
    "info",
    "jobs",
    "legal",
    "mailerdaemon",
    "marketing",
    "news",
    "newsletter",
    "noc",
    "noreply",
    "donotreply",
    "notifications",
    "office",
    "postmaster",
    "press",
    "privacy",
    "sales",
    "security",
    "service",
    "support",
    "team",
    "usenet",
    "uucp",
    "webmaster",
    "www",
];

/// Is `addr` a role mailbox (`support@`, `no-reply@`, `noreply-alerts@`)?
pub fn is_role(addr: &str) -> bool {
    let local = addr.rsplit_once('@').map_or(addr, |(l, _)| l);
    let local = local.split('+').next().unwrap_or(local);
    let mut buf = [0u8; 64];
    let mut n = 0;
    for b in local.bytes().filter(|b| !b".-_".contains(b)) {
        if n == buf.len() {
            return false;
        }
        buf[n] = b.to_ascii_lowercase();
        n += 1;
    }
    let l = &buf[..n];
    ROLES.iter().any(|r| l == r.as_bytes()) || l.starts_with(b"noreply") || l.starts_with(b"donotreply")
}

/// Second-level labels under a two-letter country code that are public
/// suffixes of their own (`co.uk`, `com.au`, `co.jp`, `com.cn`, `com.br`).
const SECOND_LEVELS: &[&str] = &["co", "com", "net", "org", "gov", "edu", "ac", "ne", "or", "go", "gen", "ltd", "plc"];

/// The registrable domain of a host name, by a simple rule (not the
/// Public Suffix List): the last two labels, or the last three when the
/// top-level label is a two-letter country code and the second-level one
/// a common public suffix (`api.vendor.co.uk` -> `vendor.co.uk`). `None`
/// for an IP address or a single label.
pub fn registrable(host: &str) -> Option<&str> {
    let host = host.trim_end_matches('.');
    // A port (`api.vendor.example:8443`), not a bracketed IPv6 literal.
    let host = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => host,
    };
    if host.contains(':') || host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let mut dots = host.rmatch_indices('.').map(|(i, _)| i);
    let last = dots.next()?;
    let (tld, rest) = (&host[last + 1..], &host[..last]);
    let second = rest.rsplit('.').next().unwrap_or(rest);
    let labels = if tld.len() == 2 && SECOND_LEVELS.iter().any(|s| s.eq_ignore_ascii_case(second)) { 3 } else { 2 };
    let start = if labels == 3 { dots.nth(1) } else { dots.next() };
    match start {
        Some(i) => Some(&host[i + 1..]),
        None if labels == 2 || host[..last].contains('.') => Some(host),
        None => None,
    }
}

/// Is this address not the user's: a role mailbox, or one at the own
/// registrable domain of `host`, where the request goes (a vendor's app
/// sending its vendor's support address to the vendor)?
pub fn set_aside(addr: &str, host: Option<&str>) -> bool {
    if is_role(addr) {
        return true;
    }
    let domain = addr.rsplit_once('@').map_or("", |(_, d)| d);
    match (registrable(domain), host.and_then(registrable)) {
        (Some(a), Some(h)) => a.eq_ignore_ascii_case(h),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_own_domains() {
        for a in [
            "support@vendor.example",
            "No-Reply@x.example",
            "do_not_reply@x.example",
            "noreply-alerts@x.example",
            "info+fr@x.example",
            "privacy@x.example",
            "POSTMASTER@x.example",
        ] {
            assert!(is_role(a), "{a}");
        }
        for a in ["tester@example.org", "supporter@x.example", "john.info@x.example", "helen@x.example"] {
            assert!(!is_role(a), "{a}");
        }
        assert_eq!(registrable("api.vendor.example"), Some("vendor.example"));
        assert_eq!(registrable("vendor.example"), Some("vendor.example"));
        assert_eq!(registrable("a.b.vendor.co.uk"), Some("vendor.co.uk"));
        assert_eq!(registrable("vendor.co.uk"), Some("vendor.co.uk"));
        assert_eq!(registrable("shop.vendor.com.cn:8443"), Some("vendor.com.cn"));
        assert_eq!(registrable("co.uk"), None);
        assert_eq!(registrable("api.vendor.example."), Some("vendor.example"));
        assert_eq!(registrable("192.0.2.1"), None);
        assert_eq!(registrable("[2001:db8::1]:443"), None);
        assert_eq!(registrable("localhost"), None);
        assert!(set_aside("anyone@vendor.example", Some("api.vendor.example")));
        assert!(set_aside("anyone@mail.vendor.example", Some("api.vendor.example:443")));
        assert!(!set_aside("anyone@vendor.example", Some("api.other.example")));
        assert!(!set_aside("anyone@vendor.example", None));
        assert!(!set_aside("anyone@example.co.uk", Some("api.vendor.co.uk")));
        assert!(set_aside("help@other.example", None));
    }

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
