//! inner: named pieces inside one opaque value, so a detector sees them
//! under their own key rather than by shape inside a longer string:
//!
//! - the query of a URL (`Referer: http://portal.example/login?client_mac=...`,
//!   `next=/account?email=...`): [`url_query`];
//! - `key=value` runs in free text (a syslog line a router sends to its
//!   vendor: `daemon[12]: 1=... 2=... wan_mac=...`) and `Key: value`
//!   lines: [`text_pairs`];
//! - the user part of a `<12 hex>@<realm>` login: [`hex_login_user`];
//! - a 12-hex token glued to a model or firmware string
//!   (`RT-AX58U_3.0.0.4_a45e60123456`): [`glued_hex_tokens`].
//!
//! Input: a value's text (and its field name, for URLs). Output: borrowed
//! slices of it; nothing is allocated for a value that holds none, and
//! each function rules most values out with a byte check first (no `?`,
//! no `=`, no `@`).
//!
//! Never: say what a piece is. A 12-hex token is handed on as `token`, a
//! login's user part as `user`: neither is a MAC key; whether it is a MAC
//! is for `detect` (an OUI, a key, the profile).

use memchr::memchr;

/// Most fields split out of values (URL queries, `key=value` runs,
/// login users, tokens) in one request: a body of thousands of log lines
/// must not crowd every other field out of [`super::MAX_FIELDS`].
pub const MAX_SPLIT: usize = 1024;
/// Longest key of a `key=value` run in text.
const MAX_TEXT_KEY: usize = 32;
/// Longest value scanned for glued tokens: model, firmware and host
/// names are short; a long text is not one.
const MAX_TOKEN_VALUE: usize = 256;
/// Most glued tokens taken from one value.
const MAX_TOKENS: usize = 4;

/// Field names (last component, lower case, letters and digits only)
/// whose value is a URL even when it is relative (`login?a=b`).
const URL_KEYS: &[&str] = &[
    "referer",
    "referrer",
    "origin",
    "location",
    "contentlocation",
    "next",
    "nexturl",
    "redirect",
    "redirecturi",
    "redirecturl",
    "redirectto",
    "redir",
    "return",
    "returnurl",
    "returnto",
    "url",
    "uri",
    "callback",
    "callbackurl",
    "continue",
    "target",
    "dest",
    "destination",
    "goto",
    "link",
    "href",
];

/// Is the last component of `name` (after `:`, `.`, `[`) one of
/// [`URL_KEYS`]? Compared without allocating.
fn is_url_key(name: &str) -> bool {
    let tail = name.rsplit([':', '.', '[', '/']).next().unwrap_or(name);
    let mut buf = [0u8; 16];
    let mut len = 0;
    for b in tail.bytes().filter(u8::is_ascii_alphanumeric) {
        if len == buf.len() {
            return false;
        }
        buf[len] = b.to_ascii_lowercase();
        len += 1;
    }
    URL_KEYS.iter().any(|k| k.as_bytes() == &buf[..len])
}

/// `scheme://` at the start of `s` (`http://`, `https://`, an app's
/// `myapp://`).
fn has_scheme(s: &str) -> bool {
    let Some(i) = crate::util::finders::SCHEME.find(s.as_bytes()) else { return false };
    let scheme = &s.as_bytes()[..i];
    (1..=32).contains(&scheme.len())
        && scheme[0].is_ascii_alphabetic()
        && scheme.iter().all(|b| b.is_ascii_alphanumeric() || b"+.-".contains(b))
}

/// The query of `v` (after the first `?`, before a `#`) when `v` is a URL
/// whose query holds a `=`: an absolute URL (`scheme://...`), a path
/// (`/x?a=b`, `//host/x?a=b`), a bare query (`?a=b`), or, under a name that says URL
/// ([`URL_KEYS`]: `Referer`, `next`, `redirect_uri`...), a relative one
/// (`login?a=b`). `None` for anything with white space before the `?`.
pub fn url_query<'a>(name: Option<&str>, v: &'a str) -> Option<&'a str> {
    let q = memchr(b'?', v.as_bytes())?;
    memchr(b'=', &v.as_bytes()[q..])?;
    let v_start = v.len() - v.trim_start().len();
    let before = &v[v_start..q];
    if before.bytes().any(|b| b.is_ascii_whitespace() || b == b'=' || b == b'&') {
        return None;
    }
    let url = before.is_empty()
        || has_scheme(before)
        || before.starts_with('/')
        || (!before.is_empty() && name.is_some_and(is_url_key) && !before.contains(['"', '<', '{']));
    if !url {
        return None;
    }
    let query = &v[q + 1..];
    let query = query.split('#').next().unwrap_or(query).trim_end();
    (!query.is_empty()).then_some(query)
}

/// Bytes that may make up a key of a `key=value` run in text.
fn text_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_.-".contains(&b)
}

/// Bytes between the entries of a run.
fn text_separator(b: u8) -> bool {
    b.is_ascii_whitespace() || b",;&".contains(&b)
}

/// `key=value` runs in free text (`1=a4:5e:60:12:34:56 2=356938035643809
/// wan_mac=...`, `k=v;k2=v2`, `msg="link up"`) and `Key: value` lines in
/// text of several lines, in order, into `out` (emptied first). Keys are
/// 1 to 32 letters, digits, `_`, `.` or `-` starting at a separator
/// (numeric keys included, as syslog lines use them); values are
/// non-empty and do not start with `=`, so base64 padding (`...ZA==`)
/// makes no pair. Strict enough for prose: at least two entries, or one
/// entry that is the whole value (`mac=a45e60123456`). False when the
/// text holds no such list (and then `out` is empty). At most one more
/// than [`MAX_SPLIT`] entries are taken.
pub fn text_pairs<'a>(v: &'a str, out: &mut Vec<(&'a str, &'a str)>) -> bool {
    out.clear();
    let b = v.as_bytes();
    let multiline = memchr(b'\n', b).is_some();
    if memchr(b'=', b).is_none() && !(multiline && memchr(b':', b).is_some()) {
        return false;
    }
    for line in v.lines() {
        if out.len() > MAX_SPLIT {
            break;
        }
        match colon_line(line).filter(|_| multiline) {
            Some(p) => out.push(p),
            None => eq_runs(line, out),
        }
    }
    let whole = out.len() == 1 && {
        let t = v.trim();
        let (k, val) = out[0];
        t.len() == k.len() + 1 + val.len() && t.starts_with(k)
    };
    if out.len() >= 2 || whole {
        true
    } else {
        out.clear();
        false
    }
}

/// A `Key: value` line: a key that starts with a letter, then `:` and a
/// value (`IMEI: 356938035643809`). Not `12:30 ...` nor `http://...`.
fn colon_line(line: &str) -> Option<(&str, &str)> {
    let (k, val) = line.split_once(':')?;
    let k = k.trim();
    let val = val.trim();
    let ok = (1..=MAX_TEXT_KEY).contains(&k.len())
        && k.as_bytes()[0].is_ascii_alphabetic()
        && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        && !val.is_empty()
        && !val.starts_with("//");
    ok.then_some((k, val))
}

/// The `key=value` entries of one line, into `out`.
fn eq_runs<'a>(line: &'a str, out: &mut Vec<(&'a str, &'a str)>) {
    let b = line.as_bytes();
    let mut i = 0;
    // One past the limit, so a caller can tell that there were more.
    while i < b.len() && out.len() <= MAX_SPLIT {
        if text_separator(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && text_key_byte(b[i]) {
            i += 1;
        }
        let key_len = i - start;
        if i < b.len() && b[i] == b'=' && (1..=MAX_TEXT_KEY).contains(&key_len) {
            i += 1;
            let (value, next) = if b.get(i) == Some(&b'"') {
                match memchr(b'"', &b[i + 1..]) {
                    Some(end) => (&line[i + 1..i + 1 + end], i + end + 2),
                    None => (&line[i + 1..], b.len()),
                }
            } else {
                let end = b[i..].iter().position(|c| text_separator(*c)).map_or(b.len(), |e| i + e);
                (&line[i..end], end)
            };
            if !value.is_empty() && !value.starts_with('=') {
                out.push((&line[start..start + key_len], value));
            }
            i = next;
            continue;
        }
        // Not an entry: skip the rest of this word.
        while i < b.len() && !text_separator(b[i]) {
            i += 1;
        }
    }
}

/// Is `s` 12 hex digits with at least one digit and one letter? All
/// digits is a number or a timestamp (`202401011230`), all letters a word.
fn hex12(s: &str) -> bool {
    s.len() == 12
        && s.bytes().all(|b| b.is_ascii_hexdigit())
        && s.bytes().any(|b| b.is_ascii_digit())
        && s.bytes().any(|b| b.is_ascii_alphabetic())
}

/// The user part of a login `<12 hex>@<realm>` (`a45e60123456@isp.example`),
/// the form ISP and router logins take when the user is the MAC. Any
/// other address is left whole, for the e-mail detector.
pub fn hex_login_user(v: &str) -> Option<&str> {
    let at = memchr(b'@', v.as_bytes())?;
    let t = v.trim();
    let at = at.checked_sub(v.len() - v.trim_start().len())?;
    let (user, realm) = (&t[..at], &t[at + 1..]);
    let realm_ok = !realm.is_empty() && realm.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_".contains(&b));
    (hex12(user) && realm_ok).then_some(user)
}

/// Bytes between the tokens of a model or firmware string.
fn token_separator(b: u8) -> bool {
    b"_-/ ".contains(&b)
}

/// Are there `n` hex digits in a row in `b`? (A token cannot be 12 hex
/// digits without.)
fn hex_run(b: &[u8], n: usize) -> bool {
    let mut run = 0;
    b.iter().any(|c| {
        run = if c.is_ascii_hexdigit() { run + 1 } else { 0 };
        run >= n
    })
}

/// 12-hex tokens glued into a longer value at token boundaries (`_`, `-`,
/// `/`, space): `RT-AX58U_3.0.0.4_a45e60123456` gives `a45e60123456`.
/// A token beside another all-hex token is part of a hex structure (the
/// last group of a UUID, a chunked hash) and not taken. At most
/// [`MAX_TOKENS`]; none when the value is the token alone (its key
/// already says what it is) or longer than [`MAX_TOKEN_VALUE`].
pub fn glued_hex_tokens<'a>(v: &'a str, out: &mut Vec<&'a str>) {
    out.clear();
    if !(13..=MAX_TOKEN_VALUE).contains(&v.len()) || !v.bytes().any(token_separator) || !hex_run(v.as_bytes(), 12) {
        return;
    }
    let all_hex = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit());
    let mut prev: &str = "";
    let mut tokens = v.split(|c: char| c.is_ascii() && token_separator(c as u8)).peekable();
    while let Some(t) = tokens.next() {
        let next = tokens.peek().copied().unwrap_or("");
        if hex12(t) && !all_hex(prev) && !all_hex(next) && t.len() < v.trim().len() {
            out.push(t);
            if out.len() == MAX_TOKENS {
                return;
            }
        }
        prev = t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_their_queries() {
        assert_eq!(
            url_query(Some("Referer"), "http://portal.example/login?client_mac=A4-5E-60-12-34-56&ap_mac=x#top"),
            Some("client_mac=A4-5E-60-12-34-56&ap_mac=x")
        );
        assert_eq!(url_query(None, "/account?email=user@mail.example"), Some("email=user@mail.example"));
        assert_eq!(url_query(None, "myapp://cb?code=1"), Some("code=1"));
        assert_eq!(url_query(Some("$.next"), "account?imei=1"), Some("imei=1"), "relative under a URL key");
        assert_eq!(url_query(Some("note"), "account?imei=1"), None, "relative under any other key");
        assert_eq!(url_query(None, "http://x.example/a?b"), None, "no pair in the query");
        assert_eq!(url_query(None, "http://x.example/a"), None);
        assert_eq!(url_query(Some("url"), "is it a=b? c=d"), None, "prose");
        assert_eq!(url_query(None, "a=b?c=d"), None);
        assert_eq!(url_query(Some("Referer"), "https://x.example/?"), None);
        assert_eq!(url_query(None, " ?imei=1&x=2"), Some("imei=1&x=2"), "a bare query");
    }

    #[test]
    fn key_value_runs_in_text() {
        let mut out = Vec::new();
        let line = "<134>Jan  1 00:00:00 router daemon[12]: 1=a4:5e:60:12:34:56 2=356938035643809 wan_mac=a45e60123457";
        assert!(text_pairs(line, &mut out));
        assert_eq!(out, [("1", "a4:5e:60:12:34:56"), ("2", "356938035643809"), ("wan_mac", "a45e60123457")]);
        assert!(text_pairs("k=v;k2=v2, msg=\"link up\" x", &mut out));
        assert_eq!(out, [("k", "v"), ("k2", "v2"), ("msg", "link up")]);
        assert!(text_pairs("mac=a45e60123456", &mut out), "one entry that is the whole value");
        assert!(text_pairs("MAC: a4:5e:60:12:34:56\nIMEI: 356938035643809\n", &mut out));
        assert_eq!(out, [("MAC", "a4:5e:60:12:34:56"), ("IMEI", "356938035643809")]);
        // Decoys: prose with one `=`, base64 padding, a JWT, equations.
        for v in [
            "set the flag with debug=1 and restart",
            "dXNlcjpwYXNzd29yZA==",
            "Basic dXNlcjpwYXNzd29yZA== QUJD==",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            "if x = 1 then y = 2",
            "at 12:30 we met\nand at 13:00 left",
            "Jan 1 router: started\nsee http://x.example/",
        ] {
            assert!(!text_pairs(v, &mut out), "{v}");
            assert!(out.is_empty());
        }
    }

    #[test]
    fn login_users_and_glued_tokens() {
        assert_eq!(hex_login_user("a45e60123456@isp.example"), Some("a45e60123456"));
        assert_eq!(hex_login_user(" A45E60123456@orange "), Some("A45E60123456"));
        assert_eq!(hex_login_user("jane.doe@mail.example"), None, "an e-mail stays whole");
        assert_eq!(hex_login_user("123456789012@isp.example"), None, "a number");
        assert_eq!(hex_login_user("a45e60123456@"), None);
        let mut out = Vec::new();
        glued_hex_tokens("RT-AX58U_3.0.0.4_a45e60123456", &mut out);
        assert_eq!(out, ["a45e60123456"]);
        glued_hex_tokens("Build/a45e60123456 (Linux)", &mut out);
        assert_eq!(out, ["a45e60123456"]);
        for v in [
            "a45e60123456",
            "38400000-8cf0-11bd-b23e-10b96e40000d",
            "fw_202401011230_v2",
            "fw_a45e60123456ff_v2",
            "ab12cd34ef56ab12cd34ef56_1a2b3c4d5e6f",
        ] {
            glued_hex_tokens(v, &mut out);
            assert!(out.is_empty(), "{v}: {out:?}");
        }
    }
}
