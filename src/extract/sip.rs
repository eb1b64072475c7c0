//! Fields of a SIP request, its identities taken apart so each is found
//! under the key that says what it is:
//!
//! - URIs (From, Contact, P-Preferred-Identity,
//!   P-Asserted-Identity, P-Associated-URI, Referred-By): a `tel:` number
//!   or a `+`-prefixed or `user=phone` user part is a phone number
//!   (`From:msisdn`); a 15-digit user part an IMSI (`From:imsi`); another
//!   user part the SIP address itself (`From:sip_uri`), never an e-mail.
//!   The Request-URI and To only in a REGISTER (elsewhere they name the
//!   callee or the SMS centre, not the sender).
//! - Header parameters: `+sip.instance` (the IMEI URN of RFC 7254),
//!   `P-Access-Network-Info` cell ids (`utran-cell-id-3gpp`, `cgi-3gpp`,
//!   E-UTRAN and NR forms), Digest `username` (the IMPI: IMSI@realm).
//! - The SDP `o=` user name, other headers as they are (parameters first),
//!   and a text body.
//!
//! Headers that only route (Via, Route, Record-Route, Path, Call-ID) and
//! the network's challenges are not fields: their `user@host` shapes are
//! neither the device's identity nor e-mail.

use super::{Chain, Extracted, Field};
use crate::app::sip::SipMessage;
use crate::finding::Location;

/// Headers that carry an identity as name-addr URIs.
const IDENTITY_HEADERS: [&str; 8] = [
    "From",
    "To",
    "Contact",
    "P-Preferred-Identity",
    "P-Asserted-Identity",
    "P-Associated-URI",
    "Referred-By",
    "Remote-Party-ID",
];

/// Headers left out: routing, transaction plumbing, challenges.
const SKIPPED: [&str; 12] = [
    "Via",
    "Route",
    "Record-Route",
    "Path",
    "Service-Route",
    "Call-ID",
    "CSeq",
    "Content-Length",
    "Max-Forwards",
    "WWW-Authenticate",
    "Proxy-Authenticate",
    "Security-Client",
];

fn field(location: Location, name: String, value: &str) -> Field<'static> {
    let (name, value) = (Some(std::borrow::Cow::Owned(name)), std::borrow::Cow::Owned(value.to_string()));
    Field { location, name, value, encoding: Chain::default() }
}

/// Splits at `sep` outside double quotes and angle brackets.
fn split_outside(s: &str, sep: char) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut angle) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            c if c == sep && !quoted && !angle => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The fields of one URI, named `{name}:{what}`.
pub fn uri_fields(name: &str, uri: &str, out: &mut Extracted) -> bool {
    let uri = uri.trim().trim_matches(['<', '>']);
    let Some((scheme, rest)) = uri.split_once(':') else { return true };
    let scheme = scheme.to_ascii_lowercase();
    let (addr, params) = rest.split_once(';').unwrap_or((rest, ""));
    let user_phone = params.split(';').any(|p| p.trim().eq_ignore_ascii_case("user=phone"));
    match scheme.as_str() {
        "tel" => {
            let number = addr.split('?').next().unwrap_or(addr);
            out.push(field(Location::Header, format!("{name}:msisdn"), number))
        }
        "sip" | "sips" => {
            let Some((user, _host)) = addr.rsplit_once('@') else { return true };
            let user = user.split(':').next().unwrap_or(user);
            let user = percent_encoding::percent_decode_str(user).decode_utf8_lossy();
            let digits = user.bytes().filter(u8::is_ascii_digit).count();
            let numeric = user.bytes().all(|b| b.is_ascii_digit() || b"+-.() ".contains(&b)) && digits > 0;
            let what = if numeric && (user.starts_with('+') || user_phone) {
                "msisdn"
            } else if numeric && digits == 15 && user.bytes().all(|b| b.is_ascii_digit()) {
                "imsi"
            } else if numeric && (8..=15).contains(&digits) {
                "msisdn"
            } else if numeric {
                return true;
            } else {
                let whole = format!("{scheme}:{}", addr.split('?').next().unwrap_or(addr));
                return out.push(field(Location::Header, format!("{name}:sip_uri"), &whole));
            };
            out.push(field(Location::Header, format!("{name}:{what}"), &user))
        }
        _ => true,
    }
}

/// One name-addr (`"Name" <uri>;params`) or addr-spec with parameters.
fn name_addr_fields(name: &str, value: &str, out: &mut Extracted) -> bool {
    let (uri, params) = match (value.find('<'), value.find('>')) {
        (Some(a), Some(b)) if a < b => (&value[a + 1..b], &value[b + 1..]),
        _ => value.split_once(';').map_or((value, ""), |(u, p)| (u, p)),
    };
    if !uri_fields(name, uri, out) {
        return false;
    }
    for p in split_outside(params, ';') {
        let Some((k, v)) = p.split_once('=') else { continue };
        let k = k.trim().trim_start_matches('+');
        let v = v.trim().trim_matches('"').trim_matches(['<', '>']);
        if k.eq_ignore_ascii_case("tag") || k.eq_ignore_ascii_case("expires") || k.eq_ignore_ascii_case("q") {
            continue;
        }
        if !out.push(field(Location::Header, format!("{name}:{k}"), v)) {
            return false;
        }
    }
    true
}

/// Digest credentials: the `username` (for IMS the IMPI, IMSI@realm)
/// and its user part.
fn authorization_fields(name: &str, value: &str, out: &mut Extracted) -> bool {
    let params = value.split_once(' ').map_or("", |(_, p)| p);
    for p in split_outside(params, ',') {
        let Some((k, v)) = p.split_once('=') else { continue };
        if !k.trim().eq_ignore_ascii_case("username") {
            continue;
        }
        let v = v.trim().trim_matches('"');
        let user = v.split('@').next().unwrap_or(v);
        // A VoIP line's login is often its number (`0612345678`).
        let digits = user.bytes().filter(u8::is_ascii_digit).count();
        let numeric = digits > 0 && user.bytes().all(|b| b.is_ascii_digit() || b == b'+');
        let what = if numeric && digits == 15 && !user.starts_with('+') {
            "imsi"
        } else if numeric && (8..=15).contains(&digits) {
            "msisdn"
        } else {
            "username"
        };
        if !out.push(field(Location::Header, format!("{name}:{what}"), user)) {
            return false;
        }
    }
    true
}

/// The fields of a SIP request. The Request-URI and To name where a
/// request goes (the callee, the SMS centre): their identities are the
/// sender's own only in a REGISTER, which names the user registering.
pub fn sip_fields(m: &SipMessage) -> Extracted<'static> {
    let mut out = Extracted::default();
    let register = m.method().is_some_and(|x| x.eq_ignore_ascii_case("REGISTER"));
    if register
        && let Some(uri) = m.uri()
        && !uri_fields("Request-URI", uri, &mut out)
    {
        return out;
    }
    for (name, value) in &m.headers {
        let ok = if name.eq_ignore_ascii_case("To") && !register {
            true
        } else if IDENTITY_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            split_outside(value, ',').into_iter().all(|v| name_addr_fields(name, v, &mut out))
        } else if name.eq_ignore_ascii_case("Authorization") || name.eq_ignore_ascii_case("Proxy-Authorization") {
            authorization_fields(name, value, &mut out)
        } else if SKIPPED.iter().any(|h| h.eq_ignore_ascii_case(name)) {
            true
        } else {
            // P-Access-Network-Info and the rest: parameters first, then
            // the value as it is.
            let params = split_outside(value, ';').into_iter().skip(1).all(|p| {
                let Some((k, v)) = p.split_once('=') else { return true };
                let (k, v) = (k.trim(), v.trim().trim_matches('"'));
                out.push(field(Location::Header, format!("{name}:{k}"), v))
            });
            params && out.push(field(Location::Header, name.clone(), value))
        };
        if !ok {
            return out;
        }
    }
    let ctype = m.header("Content-Type").unwrap_or("").to_ascii_lowercase();
    if m.body.is_empty() || ctype.starts_with("application/vnd.3gpp.sms") {
        return out;
    }
    let body = crate::util::lossy(&m.body);
    if ctype.starts_with("application/sdp") {
        for line in body.lines() {
            if let Some(o) = line.strip_prefix("o=") {
                let user = o.split(' ').next().unwrap_or("");
                let what = if user.starts_with('+') || (8..=15).contains(&user.len()) { "msisdn" } else { "user" };
                if user.bytes().filter(u8::is_ascii_digit).count() >= 8
                    && !out.push(field(Location::Body, format!("sdp:o:{what}"), user))
                {
                    return out;
                }
            }
        }
    } else if crate::app::text::looks_text(&m.body) {
        let _ = out.push(field(Location::Body, "body".to_string(), body.trim()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::sip::{Origin, parse_datagram};

    fn fields(msg: &str) -> Vec<(String, String)> {
        let at = Origin {
            src: "10.0.0.1:5060".parse().unwrap(),
            dst: "10.0.0.2:5060".parse().unwrap(),
            frame: 1,
            ts: Default::default(),
            transport: "udp",
        };
        let m = parse_datagram(msg.as_bytes(), at).unwrap();
        sip_fields(&m)
            .fields
            .into_iter()
            .map(|f| (f.name.unwrap_or_default().into_owned(), f.value.into_owned()))
            .collect()
    }

    #[test]
    fn identities_under_the_keys_that_name_them() {
        let f = fields(concat!(
            "REGISTER sip:ims.mnc410.mcc310.3gppnetwork.org SIP/2.0\r\n",
            "Via: SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bK1\r\n",
            "f: <sip:310410123456789@ims.mnc410.mcc310.3gppnetwork.org>;tag=a\r\n",
            "t: \"Me\" <tel:+1-555-0100>\r\n",
            "m: <sip:alice@[2001:db8::1]:5060>;+sip.instance=\"<urn:gsma:imei:35442706-323347-9>\";expires=600\r\n",
            "P-Preferred-Identity: <sip:+15550100@ims.example;user=phone>\r\n",
            "Authorization: Digest username=\"310410123456789@ims.mnc410.mcc310.3gppnetwork.org\", realm=\"ims\"\r\n",
            "P-Access-Network-Info: 3GPP-E-UTRAN-FDD; utran-cell-id-3gpp=31041000011a2d001\r\n",
            "i: abc@[2001:db8::1]\r\n",
            "l: 0\r\n\r\n",
        ));
        let has = |n: &str, v: &str| f.iter().any(|(a, b)| a == n && b == v);
        assert!(has("From:imsi", "310410123456789"), "{f:?}");
        assert!(has("To:msisdn", "+1-555-0100"), "{f:?}");
        assert!(has("Contact:sip_uri", "sip:alice@[2001:db8::1]:5060"), "{f:?}");
        assert!(has("Contact:sip.instance", "urn:gsma:imei:35442706-323347-9"), "{f:?}");
        assert!(has("P-Preferred-Identity:msisdn", "+15550100"), "{f:?}");
        assert!(has("Authorization:imsi", "310410123456789"), "{f:?}");
        let line = fields(
            "REGISTER sip:voip.example.fr SIP/2.0\r\nAuthorization: Digest username=\"0612345678\", realm=\"v\"\r\n\r\n",
        );
        assert!(line.contains(&("Authorization:msisdn".to_string(), "0612345678".to_string())), "{line:?}");
        assert!(has("P-Access-Network-Info:utran-cell-id-3gpp", "31041000011a2d001"), "{f:?}");
        assert!(!f.iter().any(|(n, _)| n.starts_with("Via") || n.starts_with("Call-ID")), "{f:?}");
    }
}
