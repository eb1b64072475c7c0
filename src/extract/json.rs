//! JSON leaves with their paths (`$.device.imei`, `$.cells[0].cid`), read
//! by a small single-pass scanner: no tree is built, numbers keep the text
//! they were sent as, `null` is skipped. The whole text must be valid JSON
//! (RFC 8259) nested at most [`MAX_JSON_DEPTH`] deep, else a
//! [`JsonError`] and the caller treats it as plain text (and notes a
//! document too deep).

use std::borrow::Cow;

/// Deepest nesting accepted.
pub const MAX_JSON_DEPTH: usize = 64;

/// Why a text gave no leaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonError {
    #[error("not JSON")]
    Invalid,
    #[error("JSON nested deeper than {MAX_JSON_DEPTH} levels")]
    TooDeep,
}

/// Parses `text` and lists its scalar leaves as (path, text) pairs; a
/// leaf borrows `text` when it has no escapes.
pub fn leaves(text: &str) -> Result<Vec<(String, Cow<'_, str>)>, JsonError> {
    leaves_where(text, &|_, _| true)
}

/// As [`leaves`], keeping only the leaves `keep` accepts: the others are
/// never copied (bodies of thousands of leaves, few of them of interest).
pub fn leaves_where<'a>(
    text: &'a str,
    keep: &dyn Fn(&str, &str) -> bool,
) -> Result<Vec<(String, Cow<'a, str>)>, JsonError> {
    let mut p =
        Scanner { t: text, b: text.as_bytes(), i: 0, path: String::from("$"), out: Vec::new(), keep, too_deep: false };
    p.ws();
    let whole = p.value(0).is_some() && {
        p.ws();
        p.i == p.b.len()
    };
    match (whole, p.too_deep) {
        (true, _) => Ok(p.out),
        (false, true) => Err(JsonError::TooDeep),
        (false, false) => Err(JsonError::Invalid),
    }
}

struct Scanner<'a, 'k> {
    /// The text, and its bytes: a piece cut at ASCII bytes (quotes,
    /// digits) is text already, sliced without validating it again.
    t: &'a str,
    b: &'a [u8],
    i: usize,
    path: String,
    out: Vec<(String, Cow<'a, str>)>,
    keep: &'k dyn Fn(&str, &str) -> bool,
    /// Parsing stopped at [`MAX_JSON_DEPTH`].
    too_deep: bool,
}

impl<'a> Scanner<'a, '_> {
    fn leaf(&mut self, value: Cow<'a, str>) {
        if (self.keep)(&self.path, &value) {
            self.out.push((self.path.clone(), value));
        }
    }

    fn ws(&mut self) {
        while self.i < self.b.len() && matches!(self.b[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_JSON_DEPTH {
            self.too_deep = true;
            return None;
        }
        match *self.b.get(self.i)? {
            b'{' => {
                self.i += 1;
                self.ws();
                if self.eat(b'}').is_some() {
                    return Some(());
                }
                loop {
                    self.ws();
                    let key = self.string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    let len = self.path.len();
                    if !key.is_empty() && key.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
                        self.path.push('.');
                        self.path.push_str(&key);
                    } else {
                        self.path.push('[');
                        self.path.push_str(&serde_json::to_string(&key).unwrap_or_default());
                        self.path.push(']');
                    }
                    self.value(depth + 1)?;
                    self.path.truncate(len);
                    self.ws();
                    match *self.b.get(self.i)? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'[' => {
                self.i += 1;
                self.ws();
                if self.eat(b']').is_some() {
                    return Some(());
                }
                let mut n = 0usize;
                loop {
                    self.ws();
                    let len = self.path.len();
                    self.path.push('[');
                    self.path.push_str(&n.to_string());
                    self.path.push(']');
                    self.value(depth + 1)?;
                    self.path.truncate(len);
                    n += 1;
                    self.ws();
                    match *self.b.get(self.i)? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(());
                        }
                        _ => return None,
                    }
                }
            }
            b'"' => {
                let s = self.string()?;
                self.leaf(s);
                Some(())
            }
            b't' | b'f' | b'n' => {
                let word: &[u8] = match self.b[self.i] {
                    b't' => b"true",
                    b'f' => b"false",
                    _ => b"null",
                };
                if !self.b[self.i..].starts_with(word) {
                    return None;
                }
                self.i += word.len();
                if word != b"null" {
                    self.leaf(Cow::Borrowed(if word == b"true" { "true" } else { "false" }));
                }
                Some(())
            }
            _ => {
                let start = self.i;
                self.number()?;
                let text = self.t.get(start..self.i)?;
                self.leaf(Cow::Borrowed(text));
                Some(())
            }
        }
    }

    fn number(&mut self) -> Option<()> {
        let digits = |s: &mut Self| {
            let st = s.i;
            while s.i < s.b.len() && s.b[s.i].is_ascii_digit() {
                s.i += 1;
            }
            (s.i > st).then_some(())
        };
        let _ = self.eat(b'-');
        digits(self)?;
        if self.eat(b'.').is_some() {
            digits(self)?;
        }
        if matches!(self.b.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.b.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            digits(self)?;
        }
        Some(())
    }

    /// A string at `i` (which must be `"`), unescaped; borrowed from the
    /// text when it has no escapes.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.eat(b'"')?;
        let start = self.i;
        // Fast path: no escapes.
        let end = memchr::memchr2(b'"', b'\\', &self.b[start..])? + start;
        if self.b[end] == b'"' {
            self.i = end + 1;
            if self.b[start..end].iter().any(|c| *c < 0x20) {
                return None;
            }
            return self.t.get(start..end).map(Cow::Borrowed);
        }
        let mut out: Vec<u8> = self.b[start..end].to_vec();
        self.i = end;
        loop {
            let c = *self.b.get(self.i)?;
            self.i += 1;
            match c {
                b'"' => return String::from_utf8(out).ok().map(Cow::Owned),
                b'\\' => {
                    let e = *self.b.get(self.i)?;
                    self.i += 1;
                    let ch = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                self.eat(b'\\')?;
                                self.eat(b'u')?;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).unwrap_or('\u{FFFD}')
                        }
                        _ => return None,
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                c if c < 0x20 => return None,
                c => out.push(c),
            }
        }
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.b.get(self.i..self.i + 4)?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(s: &str) -> Option<Vec<(String, String)>> {
        leaves(s).ok().map(|l| l.into_iter().map(|(p, v)| (p, v.into_owned())).collect())
    }

    #[test]
    fn paths_and_values() {
        let v = l(r#" {"a":[{"mac":"a4:5e"},1.5e3,true,null],"b c":"x\"y\u00e9\ud83d\ude00","n":-0} "#).unwrap();
        let v: Vec<(&str, &str)> = v.iter().map(|(p, x)| (p.as_str(), x.as_str())).collect();
        assert_eq!(
            v,
            vec![
                ("$.a[0].mac", "a4:5e"),
                ("$.a[1]", "1.5e3"),
                ("$.a[2]", "true"),
                ("$[\"b c\"]", "x\"yé😀"),
                ("$.n", "-0"),
            ]
        );
    }

    #[test]
    fn rejects_invalid_and_too_deep() {
        for bad in ["{", "{\"a\":}", "[1,]", "{\"a\":1} x", "\"\\q\"", "[01x]", "{'a':1}"] {
            assert_eq!(l(bad), None, "{bad}");
        }
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(leaves(&deep), Err(JsonError::TooDeep));
        assert_eq!(leaves("[1,]"), Err(JsonError::Invalid));
        let ok = format!("{}1{}", "[".repeat(60), "]".repeat(60));
        assert_eq!(l(&ok).unwrap().len(), 1);
    }
}
