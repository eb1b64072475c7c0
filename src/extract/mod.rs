//! extract: a request becomes a list of [`Field`]s, each saying where it
//! sits (path, query, header, cookie, body), under which name, and which
//! decodings revealed it (`encoding`, outer to inner).
//!
//! Input: an [`HttpRequest`] (or any bytes with a location). Output:
//! fields with decoded text values. Nested decoding (URL, base64, JSON or
//! a query string inside a value; the query of a URL carried as a value,
//! `key=value` runs in text, pieces of opaque values: see [`inner`]) is
//! bounded by [`MAX_DEPTH`] and [`MAX_FIELDS`], and fields split out of
//! values by [`inner::MAX_SPLIT`]; hitting a bound is reported in
//! [`Extracted::notes`], as is every other limit met on the way:
//! multipart parts past [`multipart::MAX_PARTS`] (inspected as plain
//! text), XML values past
//! [`markup::MAX_PAIRS`], JSON deeper than [`json::MAX_JSON_DEPTH`] (read
//! as plain text), a value inflated past [`MAX_NESTED_INFLATE`].
//!
//! Never: judge whether a value is an identifier (that is `detect`).

pub mod inner;
pub mod json;
pub mod markup;
pub mod multipart;
mod shape;
pub mod sip;

use std::borrow::Cow;

use base64::Engine as _;

use crate::codec::compress::{Coding, decompress};
use crate::codec::text::{
    Decoded, MAX_NESTED_INFLATE, MIN_BASE64_LEN, bytes_to_text, decode_base64, decode_hex, parse_pairs, trimmed,
    url_decode, url_decoded,
};
use crate::finding::Location;
use crate::http::HttpRequest;
use shape::Shape;

/// Deepest chain of nested decodings followed inside one value.
pub const MAX_DEPTH: usize = 4;
/// Most fields taken from one request.
pub const MAX_FIELDS: usize = 4096;
/// Longest decoding chain kept: body codings plus [`MAX_DEPTH`] nested
/// decodings.
pub const MAX_CHAIN: usize = MAX_DEPTH + 4;

/// Decodings applied to reach a value, outer first (`["gzip", "json"]`).
/// Fixed capacity and `Copy`: fields are many and chains short.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Chain {
    steps: [&'static str; MAX_CHAIN],
    len: u8,
}

impl Chain {
    pub fn of(steps: &[&'static str]) -> Chain {
        steps.iter().fold(Chain::default(), |c, s| c.then(s))
    }

    /// The chain with one more step (a full chain stays as it is).
    pub fn then(mut self, step: &'static str) -> Chain {
        if usize::from(self.len) < MAX_CHAIN {
            self.steps[usize::from(self.len)] = step;
            self.len += 1;
        }
        self
    }

    pub fn as_slice(&self) -> &[&'static str] {
        &self.steps[..usize::from(self.len)]
    }

    pub fn to_vec(&self) -> Vec<std::borrow::Cow<'static, str>> {
        self.as_slice().iter().map(|&s| std::borrow::Cow::Borrowed(s)).collect()
    }
}

impl std::fmt::Debug for Chain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

/// One value from a request, with its provenance.
///
/// Names and values borrow the request where they are its bytes as they
/// are (a query pair with nothing escaped, a header), else are owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    pub location: Location,
    /// Parameter, JSON path, header or cookie name; nested names are
    /// joined with `:` (`data:$.imei`).
    pub name: Option<Cow<'a, str>>,
    pub value: Cow<'a, str>,
    /// Decodings applied to reach `value`, outer first.
    pub encoding: Chain,
}

/// Fields of one request.
#[derive(Debug, Default)]
pub struct Extracted<'a> {
    pub fields: Vec<Field<'a>>,
    /// Limits hit, each said once, at most [`MAX_EXTRACT_NOTES`].
    pub notes: Vec<String>,
    /// Fields split out of values so far (URL queries, text pairs,
    /// tokens), against [`inner::MAX_SPLIT`].
    split: usize,
}

/// Most distinct notes extraction adds to one request.
pub const MAX_EXTRACT_NOTES: usize = 16;

/// Adds `note` unless it is there already or the notes are full.
fn note(notes: &mut Vec<String>, note: String) {
    if notes.len() < MAX_EXTRACT_NOTES && !notes.contains(&note) {
        notes.push(note);
    }
}

impl<'a> Extracted<'a> {
    fn push(&mut self, f: Field<'a>) -> bool {
        if self.fields.len() >= MAX_FIELDS {
            note(&mut self.notes, format!("more than {MAX_FIELDS} fields in one request; the rest not inspected"));
            return false;
        }
        self.fields.push(f);
        true
    }
}

/// Headers that carry transport details, not data a device chose to send.
const SKIPPED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "accept",
    "accept-encoding",
    "accept-language",
    "cache-control",
    "pragma",
    "expect",
    "keep-alive",
    "te",
    "upgrade",
];

/// Does `s` look like `k=v&k=v` (a query string or form body)?
fn looks_like_pairs(s: &str) -> bool {
    let first = s.split('&').next().unwrap_or("");
    match first.find('=') {
        Some(i) => {
            // `k=v k2=v2` with raw white space is a text run (a log
            // line), not a form: forms escape their spaces.
            let rest = &first[i + 1..];
            let text_run = rest.contains('=') && rest.bytes().any(|b| b.is_ascii_whitespace());
            i > 0
                && first[..i].bytes().all(|b| b.is_ascii_alphanumeric() || b"_-.[]".contains(&b))
                && (s.contains('&') || s.len() < 4096)
                && !text_run
        }
        None => false,
    }
}

fn looks_like_json(s: &str) -> bool {
    let t = s.trim_start();
    (t.starts_with('{') || t.starts_with('[')) && t.len() >= 2
}

/// Runs of base64 characters inside a longer value (`Bearer eyJ...`,
/// `data:...;base64,...`, JWT segments) worth trying.
fn base64_runs(v: &str) -> impl Iterator<Item = &str> {
    v.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=-_".contains(c)))
        .filter(|r| r.len() >= 16 && r.len() < v.len())
}

/// A copy of `name`, for a field decoded out of the one it names.
fn owned(name: &Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
    name.as_deref().map(|n| Cow::Owned(n.to_string()))
}

fn join(parent: &Option<Cow<'_, str>>, child: &str) -> Option<Cow<'static, str>> {
    Some(Cow::Owned(match parent {
        Some(p) => format!("{p}:{child}"),
        None => child.to_string(),
    }))
}

/// Adds `field`, then whatever decodes out of its value. Decodings are
/// tried on the borrowed value first, so a plain value costs no copy.
fn push_nested<'a>(out: &mut Extracted<'a>, field: Field<'a>, depth: usize) {
    // At the depth limit, a value reached through that many decodings is
    // still tried, to say whether stopping lost anything.
    let at_limit = depth >= MAX_DEPTH;
    let shape = Shape::of(&field.value);
    let children = if nothing_inside(&shape) {
        Vec::new()
    } else if !at_limit || field.encoding.as_slice().len() >= MAX_DEPTH {
        nested_in(&field, &shape, &mut out.notes, &mut out.split)
    } else {
        Vec::new()
    };
    let children = if at_limit {
        if !children.is_empty() {
            note(&mut out.notes, format!("a value nested deeper than {MAX_DEPTH} decodings was not decoded further"));
        }
        Vec::new()
    } else {
        children
    };
    if !out.push(field) {
        return;
    }
    for c in children {
        push_nested(out, c, depth + 1);
    }
}

/// Notes of a [`Decoded`] value cut at the inflate limit.
fn inflate_note(notes: &mut Vec<String>, d: &Decoded) {
    if d.cut {
        note(notes, format!("a value inflated past the {MAX_NESTED_INFLATE}-byte limit was cut there"));
    }
}

/// The note of a JSON document too deep to read.
fn json_note(notes: &mut Vec<String>, e: json::JsonError) {
    if e == json::JsonError::TooDeep {
        note(notes, format!("{e}; inspected as plain text"));
    }
}

/// The fields one decoding step reveals inside `field`'s value: JSON
/// leaves, a URL's query, `k=v&...` pairs, XML values, `key=value` runs
/// in text, a hex login's user, a percent-decoded or base64-decoded
/// value, 12-hex tokens glued into a longer string. Limits met on the
/// way go to `notes`; `split` counts fields split out of values against
/// [`inner::MAX_SPLIT`]. `s` is the value's [`Shape`]: each decoding is
/// tried only when the shape allows it.
fn nested_in(field: &Field<'_>, s: &Shape, notes: &mut Vec<String>, split: &mut usize) -> Vec<Field<'static>> {
    use shape::{AMP, AT, COLON, EQ, LIST, LT, NL, OPEN, PERCENT, QUESTION};
    let v: &str = &field.value;
    let child = |name: Option<Cow<'static, str>>, value: String, encoding: Chain| Field {
        location: field.location,
        name,
        value: Cow::Owned(value),
        encoding,
    };
    if s.has(OPEN) && looks_like_json(v) {
        match json::leaves(v) {
            Ok(leaves) => {
                let enc = field.encoding.then("json");
                return leaves
                    .into_iter()
                    .map(|(path, leaf)| child(join(&field.name, &path), leaf.into_owned(), enc))
                    .collect();
            }
            Err(e) => json_note(notes, e),
        }
    }
    if s.has(QUESTION)
        && s.has(EQ)
        && let Some(query) = inner::url_query(field.name.as_deref(), v)
    {
        // One `url` step for reading the URL, escapes in it or not.
        let enc = field.encoding.then("url");
        let mut pairs: Vec<Field> = parse_pairs(query.as_bytes())
            .filter(|(k, val, _)| !k.is_empty() && !val.is_empty())
            .map(|(k, val, _)| child(join(&field.name, &k), val.into_owned(), enc))
            .collect();
        pairs.truncate(split_budget(notes, split, pairs.len()));
        return pairs;
    }
    if s.has(AMP) && s.has(EQ) && looks_like_pairs(v) {
        return parse_pairs(v.as_bytes())
            .map(|(k, val, esc)| {
                let enc = if esc { field.encoding.then("url") } else { field.encoding };
                child(join(&field.name, &k), val.into_owned(), enc)
            })
            .collect();
    }
    if s.has(LT) && markup::looks_like_xml(v) {
        let enc = field.encoding.then("xml");
        let (pairs, more) = markup::pairs(v);
        if more {
            note(notes, xml_note());
        }
        if !pairs.is_empty() {
            return pairs.into_iter().map(|(k, val)| child(join(&field.name, &k), val, enc)).collect();
        }
    }
    let mut pairs = Vec::new();
    if (s.has(EQ) || (s.has(NL) && s.has(COLON))) && inner::text_pairs(v, &mut pairs) {
        pairs.truncate(split_budget(notes, split, pairs.len()));
        return pairs
            .into_iter()
            .map(|(k, val)| child(join(&field.name, k), val.to_string(), field.encoding))
            .collect();
    }
    if s.has(LIST)
        && s.has(COLON | EQ)
        && let Some(list) = key_value_list(v)
    {
        return list.into_iter().map(|(k, val)| child(join(&field.name, k), val.to_string(), field.encoding)).collect();
    }
    if s.has(AT)
        && let Some(user) = inner::hex_login_user(v)
    {
        if split_budget(notes, split, 1) == 0 {
            return Vec::new();
        }
        return vec![child(join(&field.name, "user"), user.to_string(), field.encoding)];
    }
    if s.has(PERCENT) {
        let (d, esc) = url_decode(v.as_bytes());
        if esc && d != v {
            return vec![child(owned(&field.name), d, field.encoding.then("url"))];
        }
    }
    let mut decoded = |d: Decoded| {
        inflate_note(notes, &d);
        let enc = field.encoding.then("base64");
        child(owned(&field.name), d.text, d.coding.map_or(enc, |c| enc.then(c)))
    };
    if s.base64
        && let Some(d) = decode_base64(v)
    {
        return vec![decoded(d)];
    }
    if s.hex
        && let Some(text) = decode_hex(v)
    {
        return vec![child(owned(&field.name), text, field.encoding.then("hex"))];
    }
    if s.runs {
        let runs: Vec<Field> = base64_runs(v).filter_map(decode_base64).map(decoded).collect();
        if !runs.is_empty() {
            return runs;
        }
    }
    if !s.tokens {
        return Vec::new();
    }
    let mut tokens = Vec::new();
    inner::glued_hex_tokens(v, &mut tokens);
    tokens.truncate(split_budget(notes, split, tokens.len()));
    tokens.into_iter().map(|t| child(join(&field.name, "token"), t.to_string(), field.encoding)).collect()
}

/// How many of `n` fields split out of values the request's budget
/// ([`inner::MAX_SPLIT`]) still allows; `used` grows by that many, and a
/// cut is noted.
fn split_budget(notes: &mut Vec<String>, used: &mut usize, n: usize) -> usize {
    let left = inner::MAX_SPLIT.saturating_sub(*used);
    if n > left {
        note(notes, split_note());
    }
    let take = n.min(left);
    *used += take;
    take
}

fn split_note() -> String {
    format!(
        "more than {} fields split out of URLs, key=value text and tokens in one request; the rest not split",
        inner::MAX_SPLIT
    )
}

fn xml_note() -> String {
    format!("more than {} XML values in one document; the rest not inspected", markup::MAX_PAIRS)
}

/// Is a value of shape `s` one [`nested_in`] surely finds nothing in? Without any byte
/// that starts a structure (`{ [ < = & : , ; ? @ %`: JSON, XML, pairs,
/// lists, URLs, logins, escapes), and either shorter than the shortest
/// base64 ([`MIN_BASE64_LEN`]; hex and tokens are longer still) or
/// digits only that are not even-length hex of at least 16 (base64 and
/// runs refuse all-hex values, tokens need a separator). Most form and
/// query values: numbers, IMEIs, short words.
fn nothing_inside(s: &Shape) -> bool {
    !s.has(shape::STRUCTURE)
        && (s.len < MIN_BASE64_LEN || (!s.has(shape::NOT_DIGIT) && (s.len < 16 || !s.len.is_multiple_of(2))))
}

/// Could [`nested_in`] find anything inside `v`? False for short plain
/// words and numbers: the bulk of JSON leaves.
fn might_decode(v: &str) -> bool {
    // Numbers (ids, timestamps) decode to nothing: not base64 (all hex
    // digits are refused as base64), and hex of digits is not text. One
    // pass: a structure byte decides at once.
    let mut number = true;
    for &b in v.as_bytes() {
        match b {
            b'%' | b'=' | b'&' | b'{' | b'[' | b'<' | b':' | b',' | b';' => return true,
            b'0'..=b'9' | b'.' | b'-' => {}
            _ => number = false,
        }
    }
    v.len() >= MIN_BASE64_LEN && !number
}

/// `key:value,` and `key=value;` lists (`MNC:01,LAC:2F,CID:1A2B`, as in
/// Tinno's STS string): at least two entries with token keys.
fn key_value_list(v: &str) -> Option<Vec<(&str, &str)>> {
    if !(v.contains(',') || v.contains(';')) || !(v.contains(':') || v.contains('=')) {
        return None;
    }
    let list: Vec<(&str, &str)> = v
        .split([',', ';'])
        .filter_map(|part| {
            let (k, val) = part.split_once([':', '='])?;
            let k = k.trim();
            (!k.is_empty() && k.len() <= 32 && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
                .then_some((k, val.trim()))
        })
        .collect();
    (list.len() >= 2).then_some(list)
}

/// A decoding step a rule can declare for a known SDK envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    Url,
    Base64,
    Hex,
    Gzip,
    Zlib,
    Deflate,
    /// Terminal: the JSON leaves.
    Json,
    /// Terminal: the `k=v&...` pairs.
    Form,
}

impl Step {
    pub const NAMES: [(&'static str, Step); 8] = [
        ("url", Step::Url),
        ("base64", Step::Base64),
        ("hex", Step::Hex),
        ("gzip", Step::Gzip),
        ("zlib", Step::Zlib),
        ("deflate", Step::Deflate),
        ("json", Step::Json),
        ("form", Step::Form),
    ];

    pub fn by_name(name: &str) -> Option<Step> {
        Self::NAMES.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(_, s)| *s == self).map_or("", |(n, _)| n)
    }
}

/// Applies declared steps to a field's value, strictly (each must
/// succeed), and returns the fields that come out, themselves decoded
/// further as usual. `None` when a step fails.
pub fn apply_steps(field: &Field<'_>, steps: &[Step]) -> Option<Vec<Field<'static>>> {
    let mut bytes = field.value.as_bytes().to_vec();
    let mut enc = field.encoding;
    let mut out = Extracted::default();
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        bytes = match step {
            Step::Url => url_decode(&bytes).0.into_bytes(),
            Step::Base64 => {
                let t = crate::util::lossy(&bytes).trim().trim_end_matches('=').to_string();
                let engine = if t.contains(['-', '_']) {
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD
                } else {
                    &base64::engine::general_purpose::STANDARD_NO_PAD
                };
                engine.decode(t).ok()?
            }
            Step::Hex => hex::decode(bytes.trim_ascii()).ok()?,
            Step::Gzip | Step::Zlib | Step::Deflate => {
                let c = if *step == Step::Gzip { Coding::Gzip } else { Coding::Deflate };
                let (plain, err) = decompress(c, &bytes, MAX_NESTED_INFLATE);
                if err.is_some() && plain.is_empty() {
                    return None;
                }
                plain
            }
            Step::Json | Step::Form if !last => return None,
            Step::Json => {
                let text = String::from_utf8(bytes).ok()?;
                let enc = enc.then("json");
                for (path, leaf) in json::leaves(&text).ok()? {
                    let name = join(&field.name, &path);
                    let f =
                        Field { location: field.location, name, value: Cow::Owned(leaf.into_owned()), encoding: enc };
                    push_nested(&mut out, f, 1);
                }
                return Some(out.fields);
            }
            Step::Form => {
                for (k, v, _) in parse_pairs(&bytes) {
                    let name = join(&field.name, &k);
                    let f = Field { location: field.location, name, value: Cow::Owned(v.into_owned()), encoding: enc };
                    push_nested(&mut out, f, 1);
                }
                return Some(out.fields);
            }
        };
        enc = enc.then(step.name());
    }
    let text = String::from_utf8(bytes).ok()?;
    let name = owned(&field.name);
    push_nested(&mut out, Field { location: field.location, name, value: Cow::Owned(text), encoding: enc }, 1);
    Some(out.fields)
}

/// Pushes `k=v` pairs as fields at `location`.
fn push_pairs<'a>(out: &mut Extracted<'a>, location: Location, s: &'a [u8], base: Chain) {
    for (k, v, esc) in parse_pairs(s) {
        push_nested(
            out,
            Field { location, name: Some(k), value: v, encoding: if esc { base.then("url") } else { base } },
            0,
        );
    }
}

/// All fields of a request.
pub fn request_fields(req: &HttpRequest) -> Extracted<'_> {
    request_fields_where(req, &|_, _| true)
}

/// Leaves of JSON bodies, and fields from which no decoding could come,
/// are kept only when `keep(name, value)` says so: the caller's cheap
/// judgement of what could matter, so a body of thousands of dull leaves
/// costs no copy of them. Extraction itself judges nothing.
pub fn request_fields_where<'a>(req: &'a HttpRequest, keep: &dyn Fn(&str, &str) -> bool) -> Extracted<'a> {
    let mut out = Extracted::default();
    let target = req.head.target.as_slice();
    // Absolute-form targets (proxies): keep from the path on.
    let target = match crate::util::finders::SCHEME.find(target) {
        Some(i) => {
            let after = &target[i + 3..];
            memchr::memchr(b'/', after).map_or(&b"/"[..], |p| &after[p..])
        }
        None => target,
    };
    let (path, query) = match memchr::memchr(b'?', target) {
        Some(i) => (&target[..i], Some(&target[i + 1..])),
        None => (target, None),
    };
    let (path_text, esc) = url_decoded(path);
    push_nested(
        &mut out,
        Field {
            location: Location::Path,
            name: None,
            value: path_text,
            encoding: if esc { Chain::of(&["url"]) } else { Chain::default() },
        },
        MAX_DEPTH,
    );
    if let Some(q) = query {
        let q = q.split(|b| *b == b'#').next().unwrap_or(q);
        push_pairs(&mut out, Location::Query, q, Chain::default());
    }
    for (name, value) in req.head.headers.iter() {
        if SKIPPED_HEADERS.iter().any(|s| name.eq_ignore_ascii_case(s)) {
            continue;
        }
        if name.eq_ignore_ascii_case("cookie") {
            for part in value.split(|b| *b == b';') {
                let part = part.trim_ascii();
                if let Some(i) = memchr::memchr(b'=', part) {
                    push_nested(
                        &mut out,
                        Field {
                            location: Location::Cookie,
                            name: Some(trimmed(crate::util::lossy(&part[..i]))),
                            value: crate::util::lossy(&part[i + 1..]),
                            encoding: Chain::default(),
                        },
                        0,
                    );
                }
            }
            continue;
        }
        push_nested(
            &mut out,
            Field {
                location: Location::Header,
                name: Some(Cow::Borrowed(name)),
                value: crate::util::lossy(value),
                encoding: Chain::default(),
            },
            0,
        );
    }
    body_fields(&mut out, req, keep);
    out
}

fn body_fields<'a>(out: &mut Extracted<'a>, req: &'a HttpRequest, keep: &dyn Fn(&str, &str) -> bool) {
    if req.body.is_empty() {
        return;
    }
    let base = Chain::of(&req.decoded);
    let ctype_raw = req.content_type().unwrap_or_default();
    let ctype = ctype_raw.to_ascii_lowercase();
    let text = crate::util::lossy(&req.body);
    // A JSON body sent under a form label (curl -d's default) is JSON:
    // read as pairs it would be one key and nothing scanned.
    if (ctype.contains("x-www-form-urlencoded") && !looks_like_json(&text))
        || (!ctype.contains("json") && looks_like_pairs(&text) && !looks_like_json(&text))
    {
        push_pairs(out, Location::Body, &req.body, base);
        return;
    }
    if ctype.starts_with("multipart/")
        && let Some(b) = multipart::boundary(&ctype_raw)
    {
        let parts = multipart::parts(&req.body, &b);
        for part in parts.parts {
            let name = part.name.clone().unwrap_or_else(|| "part".to_string());
            if let Some(f) = &part.filename {
                let file_field = Field {
                    location: Location::Body,
                    name: Some(Cow::Owned(format!("{name}:filename"))),
                    value: Cow::Owned(f.clone()),
                    encoding: base,
                };
                push_nested(out, file_field, MAX_DEPTH);
            }
            let Some(d) = bytes_to_text(part.data.to_vec()) else { continue };
            inflate_note(&mut out.notes, &d);
            let encoding = d.coding.map_or(base, |c| base.then(c));
            let (name, value) = (Some(Cow::Owned(name)), Cow::Owned(d.text));
            push_nested(out, Field { location: Location::Body, name, value, encoding }, 0);
        }
        if let Some(rest) = parts.rest {
            // Past the part limit: one plain-text field, so what they
            // carry is still seen.
            note(
                &mut out.notes,
                format!(
                    "more than {} parts in a multipart body; the rest inspected as plain text",
                    multipart::MAX_PARTS
                ),
            );
            let value = crate::util::lossy(rest);
            push_nested(out, Field { location: Location::Body, name: None, value, encoding: base }, MAX_DEPTH);
        }
        return;
    }
    if ctype.contains("xml") || markup::looks_like_xml(&text) {
        let enc = base.then("xml");
        let (pairs, more) = markup::pairs(&text);
        if more {
            note(&mut out.notes, xml_note());
        }
        for (name, value) in pairs {
            let (name, value) = (Some(Cow::Owned(name)), Cow::Owned(value));
            push_nested(out, Field { location: Location::Body, name, value, encoding: enc }, 1);
        }
        return;
    }
    if ctype.contains("json") || looks_like_json(&text) {
        // A leaf that could decode into more (an escaped, encoded or
        // structured value) is always kept; others only if `keep` wants.
        let keep_leaf = |path: &str, v: &str| might_decode(v) || keep(path, v);
        let leaves = match &text {
            // Leaves borrow the body where it is UTF-8 as sent.
            Cow::Borrowed(t) => json::leaves_where(t, &keep_leaf),
            Cow::Owned(t) => json::leaves_where(t, &keep_leaf)
                .map(|l| l.into_iter().map(|(p, v)| (p, Cow::Owned(v.into_owned()))).collect()),
        };
        match leaves {
            Ok(leaves) => {
                let enc = base.then("json");
                for (path, leaf) in leaves {
                    let (name, value) = (Some(Cow::Owned(path)), leaf);
                    push_nested(out, Field { location: Location::Body, name, value, encoding: enc }, 1);
                }
                return;
            }
            Err(e) => json_note(&mut out.notes, e),
        }
    }
    push_nested(out, Field { location: Location::Body, name: None, value: text, encoding: base }, 0);
}

/// Fields of a DNS query name: the name, and each label (location
/// `stream`, field `dns:qname` and `dns:label`), so
/// `356938035643809.t.example.com` or a base64 label is seen.
pub fn dns_query_fields(qname: &str) -> Extracted<'_> {
    let mut out = Extracted::default();
    let f = |name: &'static str, value| Field {
        location: Location::Stream,
        name: Some(Cow::Borrowed(name)),
        value: Cow::Borrowed(value),
        encoding: Chain::default(),
    };
    out.push(f("dns:qname", qname));
    for label in qname.split('.').filter(|l| l.len() >= 6) {
        push_nested(&mut out, f("dns:label", label), 1);
    }
    out
}

/// Numbers in international form in free text (`+33639980023`,
/// `+33 6 39 98 00 23`): a `+` then 8 to 15 digits, single spaces, dots
/// or dashes between groups. At most 64.
pub fn international_numbers(text: &str) -> Vec<&str> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() && out.len() < 64 {
        if b[i] != b'+' || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let (mut j, mut digits, mut end) = (i + 1, 0, i + 1);
        while j < b.len() {
            if b[j].is_ascii_digit() {
                digits += 1;
                end = j + 1;
            } else if !(b" .-".contains(&b[j]) && b.get(j + 1).is_some_and(u8::is_ascii_digit) && digits > 0) {
                break;
            }
            j += 1;
        }
        if (8..=15).contains(&digits) && !b.get(end).is_some_and(u8::is_ascii_digit) {
            out.push(&text[i..end]);
        }
        i = end.max(i + 1);
    }
    out
}

/// Fields of a non-HTTP text payload (SIP, syslog, line protocols): every
/// line as a nameless field, `Name: value` lines as named fields, and
/// their `;`/`,`-separated `key=value` parameters (`utran-cell-id-3gpp=...`,
/// `+sip.instance="<urn:gsma:imei:...>"`) as fields of their own; in
/// other lines, `key=value` runs ([`inner::text_pairs`]) as fields under
/// their keys.
pub fn stream_fields(data: &[u8]) -> Extracted<'static> {
    let mut out = Extracted::default();
    let text = crate::util::lossy(data);
    let field = |name: Option<String>, value: &str| Field {
        location: Location::Stream,
        name: name.map(Cow::Owned),
        value: Cow::Owned(value.to_string()),
        encoding: Chain::default(),
    };
    let mut pairs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let header = line.split_once(':').filter(|(n, _)| {
            !n.is_empty() && n.len() <= 64 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        match header {
            Some((name, value)) => {
                // Parameters first: the most specific field of a value
                // comes first, and the scanner keeps the first report.
                for part in value.split([';', ',']) {
                    if let Some((k, v)) = part.split_once('=') {
                        let k = k.trim().trim_start_matches('+');
                        let v = v.trim().trim_matches('"').trim_matches(['<', '>']);
                        if !k.is_empty() && !out.push(field(Some(format!("{name}:{k}")), v)) {
                            return out;
                        }
                    }
                }
                if !out.push(field(Some(name.to_string()), value.trim())) {
                    return out;
                }
            }
            None => {
                // `key=value` runs of a log line (syslog to a vendor:
                // `<134>Jan 1 00:00:00 router daemon[12]: 1=... wan_mac=...`),
                // before the line, as parameters are.
                if inner::text_pairs(line, &mut pairs) {
                    let n = split_budget(&mut out.notes, &mut out.split, pairs.len());
                    for &(k, v) in &pairs[..n] {
                        if !out.push(field(Some(k.to_string()), v)) {
                            return out;
                        }
                    }
                }
                if !out.push(field(None, line)) {
                    return out;
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_nothing_inside_passes_over_decodes_to_nothing() {
        let mut seed: u64 = 11;
        let alphabet = b"0123456789abcdefXYZ+/_- .%=&:{<@?,;\n";
        let mut skipped = 0;
        for n in 0..40_000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let len = 1 + (seed >> 59) as usize + if n % 2 == 0 { 8 } else { 0 };
            let v: String = (0..len)
                .map(|i| {
                    let pick = ((seed >> ((i * 5) % 60)) as usize + i) % alphabet.len();
                    // Mostly digits, as form values are.
                    if n % 3 == 0 { (b'0' + (pick % 10) as u8) as char } else { alphabet[pick] as char }
                })
                .collect();
            if nothing_inside(&Shape::of(&v)) {
                skipped += 1;
                let f = Field {
                    location: Location::Query,
                    name: Some("k".into()),
                    value: v.clone().into(),
                    encoding: Chain::default(),
                };
                // With every gate open: a gate wrong the same way as
                // `nothing_inside` would not hide it.
                assert!(nested_in(&f, &Shape::open(&v), &mut Vec::new(), &mut 0).is_empty(), "{v:?}");
            }
        }
        assert!(skipped > 5_000, "{skipped}");
        for v in ["356938035643809", "48.856613", "Pixel 7", "1.2.3"] {
            assert!(nothing_inside(&Shape::of(v)), "{v}");
        }
        for v in ["3132333435363738", "aGVsbG8gd29ybGQh", "a=1&b=2", "RT-AX58U_3.0.0.4_a45e60123456"] {
            assert!(!nothing_inside(&Shape::of(v)), "{v}");
        }
    }

    /// Every decoding of [`nested_in`] tried with its [`Shape`] gate finds
    /// what it finds with every gate open ([`Shape::open`]): values built of the pieces
    /// each decoding reads (valid and broken), structure bytes, white
    /// space `trim` removes (ASCII and not) and other non-ASCII text.
    #[test]
    fn shape_gates_lose_nothing() {
        const PIECES: &[&str] = &[
            "aGVsbG8gd29ybGQh",
            "aGVsbG8gd29y",
            "aGVsbG8td29ybGQ_",
            "SU1FST0zNTY5MzgwMzU2NDM4MDk=",
            "3132333435363738",
            "31323334 35363738",
            "fw_a45e60123456",
            "a45e60123456",
            "A45E60123456",
            "38400000-8cf0-11bd-b23e-10b96e40000d",
            "{\"imei\":\"356938035643809\"}",
            "[1,\"a\"]",
            "http://x.example/a?mac=a4:5e:60:12:34:56&b=1",
            "/p?x=1",
            "?imei=1",
            "k=v&k2=v2",
            "mac=a45e60123456",
            "%41%42%3D",
            "<a>b</a>",
            "<?xml version=\"1.0\"?><r><imei>1</imei></r>",
            "MNC:01,LAC:2F,CID:1A2B",
            "a=1;b=2",
            "a45e60123456@isp.example",
            "jane@mail.example",
            "RT-AX58U_3.0.0.4_",
            "IMEI: 356938035643809\n",
            "Bearer ",
            "356938035643809",
            " ",
            "\t",
            "\u{b}",
            "\n",
            "\u{a0}",
            "\u{2003}",
            "é",
            "==",
        ];
        const BYTES: &[u8] = b"0123456789abcdefXYZxyz+/=-_ .%&:;,{}[]<>?@\"'\n\t";
        let mut seed = 0x5eed_u64;
        let mut opened = 0;
        for _ in 0..30_000 {
            let mut v = String::new();
            let n = 1 + (crate::util::xorshift(&mut seed) % 4) as usize;
            for _ in 0..n {
                let r = crate::util::xorshift(&mut seed);
                if r.is_multiple_of(3) {
                    for i in 0..(r >> 8) % 6 {
                        v.push(char::from(BYTES[((r >> (12 + 5 * i)) % BYTES.len() as u64) as usize]));
                    }
                } else {
                    v.push_str(PIECES[((r >> 4) % PIECES.len() as u64) as usize]);
                }
            }
            let f = Field {
                location: Location::Body,
                name: Some(if seed.is_multiple_of(2) { "referer".into() } else { "k".into() }),
                value: v.clone().into(),
                encoding: Chain::default(),
            };
            let (mut notes_gated, mut split_gated) = (Vec::new(), 0);
            let (mut notes_open, mut split_open) = (Vec::new(), 0);
            let gated = nested_in(&f, &Shape::of(&v), &mut notes_gated, &mut split_gated);
            let open = nested_in(&f, &Shape::open(&v), &mut notes_open, &mut split_open);
            assert_eq!(gated, open, "{v:?}");
            assert_eq!((notes_gated, split_gated), (notes_open, split_open), "{v:?}");
            opened += usize::from(!open.is_empty());
        }
        assert!(opened > 10_000, "{opened}");
    }

    fn req(target: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpRequest {
        HttpRequest {
            app: None,
            head: crate::http::Head {
                method: "POST".into(),
                target: target.as_bytes().to_vec(),
                version: Some(1),
                headers: headers.iter().map(|(k, v)| (k.to_string(), v.as_bytes().to_vec())).collect(),
                lenient: false,
            },
            body: body.to_vec(),
            decoded: vec![],
            frame: 1,
            ts: Default::default(),
            src: "10.0.0.1:1".parse().unwrap(),
            dst: "10.0.0.2:80".parse().unwrap(),
            notes: vec![],
            tls: None,
            stream_id: None,
        }
    }

    #[test]
    fn json_under_a_form_label_is_read_as_json() {
        let r = req(
            "/api/report",
            &[("Content-Type", "application/x-www-form-urlencoded")],
            br#"{"imei":"356938035643809","mac":"a4:5e:60:12:34:56"}"#,
        );
        let x = request_fields(&r);
        assert_eq!(find(&x, "$.imei").value, "356938035643809");
        assert_eq!(find(&x, "$.imei").encoding.as_slice(), ["json"]);
        // A real form still is one.
        let r = req("/f", &[("Content-Type", "application/x-www-form-urlencoded")], b"imei=356938035643809&a=1");
        assert_eq!(find(&request_fields(&r), "imei").value, "356938035643809");
    }

    /// `might_decode` in one pass says what its two passes said.
    #[test]
    fn might_decode_is_its_two_passes() {
        fn before(v: &str) -> bool {
            let number = v.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
            (v.len() >= MIN_BASE64_LEN && !number)
                || v.bytes().any(|b| matches!(b, b'%' | b'=' | b'&' | b'{' | b'[' | b'<' | b':' | b',' | b';'))
        }
        let pieces = ["1", "9", ".", "-", "a", "Z", "é", " ", "%", "=", "&", "{", "[", "<", ":", ",", ";", "12345"];
        let mut x = 0xdec0_de11_u64;
        let (mut yes, mut no) = (0, 0);
        for _ in 0..30_000 {
            let n = (crate::util::xorshift(&mut x) % 16) as usize;
            let v: String = (0..n)
                .map(|_| {
                    let r = crate::util::xorshift(&mut x);
                    // Mostly digits, dots and dashes, as numbers are.
                    pieces[if r % 4 < 3 { (r >> 8) % 4 } else { (r >> 8) % pieces.len() as u64 } as usize]
                })
                .collect();
            assert_eq!(might_decode(&v), before(&v), "{v:?}");
            if before(&v) { yes += 1 } else { no += 1 }
        }
        assert!(yes > 5_000 && no > 5_000, "{yes} {no}");
    }

    /// What is the request's bytes as they are is borrowed, not copied:
    /// a plain query pair, a header, a cookie, a JSON leaf without
    /// escapes; what was decoded is owned.
    #[test]
    fn plain_fields_borrow_the_request() {
        let r = req("/a?imei=356938035643809&e=a%40b.example", &[("X-Sn", "R58M123"), ("Cookie", "id=abc")], b"");
        let x = request_fields(&r);
        let borrowed = |name: &str| {
            let f = find(&x, name);
            (matches!(f.value, Cow::Borrowed(_)), matches!(f.name, Some(Cow::Borrowed(_))))
        };
        assert_eq!(borrowed("imei"), (true, true));
        assert_eq!(borrowed("X-Sn"), (true, true));
        assert_eq!(borrowed("id"), (true, true));
        assert_eq!(borrowed("e"), (false, true), "percent-decoded");
        let r = req("/j", &[("Content-Type", "application/json")], br#"{"imei":"356938035643809","n":"a\u0040b"}"#);
        let x = request_fields(&r);
        assert!(matches!(find(&x, "$.imei").value, Cow::Borrowed(_)));
        let n = find(&x, "$.n");
        assert_eq!((&*n.value, matches!(n.value, Cow::Owned(_))), ("a@b", true), "unescaped");
    }

    fn find<'a>(x: &'a Extracted<'_>, name: &str) -> &'a Field<'a> {
        x.fields
            .iter()
            .find(|f| f.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no field {name}: {:?}", x.fields))
    }

    #[test]
    fn query_form_cookie_and_header() {
        let r = req(
            "/r?imei=35%2069&x=1",
            &[
                ("Cookie", "sid=abc; uid=42"),
                ("X-Serial", "SN1"),
                ("Content-Type", "application/x-www-form-urlencoded"),
            ],
            b"sn=WK123&model=Lenny+3",
        );
        let x = request_fields(&r);
        let imei = find(&x, "imei");
        assert_eq!(
            (imei.location, &*imei.value, imei.encoding.to_vec()),
            (Location::Query, "35 69", vec![std::borrow::Cow::Borrowed("url")])
        );
        assert_eq!(find(&x, "uid").location, Location::Cookie);
        assert_eq!(find(&x, "X-Serial").location, Location::Header);
        assert_eq!(find(&x, "model").value, "Lenny 3");
        assert!(x.fields.iter().all(|f| f.name.as_deref() != Some("Content-Type")));
    }

    #[test]
    fn base64_json_inside_a_form_field() {
        use base64::Engine as _;
        let inner = base64::engine::general_purpose::STANDARD.encode(br#"{"device":{"imei":"356938035643809"}}"#);
        let body = format!("data={}", inner.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"));
        let r = req("/u", &[], body.as_bytes());
        let x = request_fields(&r);
        let f = find(&x, "data:$.device.imei");
        assert_eq!(f.value, "356938035643809");
        assert_eq!(f.encoding.as_slice(), ["url", "base64", "json"]);
    }

    #[test]
    fn sip_lines_and_parameters() {
        let sip = b"REGISTER sip:310410010001002@ims.mnc410.mcc310.3gppnetwork.org SIP/2.0\r\n\
Contact: <sip:[fd00::1]:5060>;+sip.instance=\"<urn:gsma:imei:35442706-323347-9>\"\r\n\
P-Access-Network-Info: 3GPP-E-UTRAN-FDD;utran-cell-id-3gpp=31041000011a2d001\r\n";
        let x = stream_fields(sip);
        assert_eq!(x.fields[0].name, None, "the request line");
        assert!(x.fields[0].value.starts_with("REGISTER sip:3104"));
        assert_eq!(find(&x, "Contact:sip.instance").value, "urn:gsma:imei:35442706-323347-9");
        assert_eq!(find(&x, "P-Access-Network-Info:utran-cell-id-3gpp").value, "31041000011a2d001");
        assert!(x.fields.iter().all(|f| f.location == Location::Stream));
    }

    #[test]
    fn gzip_inside_base64_hex_and_embedded_base64() {
        use base64::Engine as _;
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"[{"device_id":"356938035643809"}]"#).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        let body = format!("data_list={}&gzip=1", b64.replace('+', "%2B").replace('/', "%2F").replace('=', "%3D"));
        let r = req("/sa", &[], body.as_bytes());
        let x = request_fields(&r);
        let f = find(&x, "data_list:$[0].device_id");
        assert_eq!(f.encoding.as_slice(), ["url", "base64", "gzip", "json"]);
        let hexed = hex::encode("imei=356938035643809&x=1");
        let r = req(&format!("/h?p={hexed}"), &[], b"");
        let x = request_fields(&r);
        assert_eq!(find(&x, "p:imei").encoding.as_slice(), ["hex"]);
        let jwt_payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"imei":"356938035643809"}"#);
        let r = req("/j", &[("Authorization", &format!("Bearer eyJhbGciOiJub25lIn0.{jwt_payload}.sig"))], b"");
        let x = request_fields(&r);
        assert_eq!(find(&x, "Authorization:$.imei").encoding.as_slice(), ["base64", "json"]);
    }

    #[test]
    fn multipart_xml_and_key_value_lists() {
        let body = b"--b1\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\nMNC:01,LAC:2F,CID:1A2B\r\n--b1\r\n\
Content-Disposition: form-data; name=\"f\"; filename=\"log_356938035643809.txt\"\r\n\r\nsn=WK1\r\n--b1--\r\n";
        let r = req("/m", &[("Content-Type", "multipart/form-data; boundary=b1")], body);
        let x = request_fields(&r);
        assert_eq!(find(&x, "meta:LAC").value, "2F");
        assert_eq!(find(&x, "f:filename").value, "log_356938035643809.txt");
        assert_eq!(find(&x, "f").value, "sn=WK1");
        let r = req("/x", &[("Content-Type", "text/xml")], b"<r><imei>356938035643809</imei></r>");
        let x = request_fields(&r);
        let f = find(&x, "imei");
        assert_eq!((&*f.value, f.encoding.as_slice()), ("356938035643809", &["xml"][..]));
    }

    /// Every limit met while extracting is noted once, and what lies past
    /// a limit is still seen where that can be bounded.
    #[test]
    fn limits_hit_are_noted() {
        let has = |x: &Extracted, n: &str| x.notes.iter().any(|m| m.contains(n));
        // Parts past the limit: noted, and inspected as one plain field.
        let mut body = String::new();
        for i in 0..multipart::MAX_PARTS + 3 {
            body.push_str(&format!("--b\r\nContent-Disposition: form-data; name=\"p{i}\"\r\n\r\nv{i}\r\n"));
        }
        body.push_str("--b\r\nContent-Disposition: form-data; name=\"imei\"\r\n\r\n356938035643809\r\n--b--\r\n");
        let r = req("/m", &[("Content-Type", "multipart/form-data; boundary=b")], body.as_bytes());
        let x = request_fields(&r);
        assert!(has(&x, "more than 256 parts in a multipart body"), "{:?}", x.notes);
        let rest = x.fields.iter().find(|f| f.location == Location::Body && f.name.is_none()).expect("the rest");
        assert!(rest.value.contains("356938035643809") && rest.value.starts_with("--b\r\n"), "{}", rest.value);
        // JSON too deep: noted, read as text.
        let deep = format!("{}\"356938035643809\"{}", "[".repeat(100), "]".repeat(100));
        let r = req("/j", &[("Content-Type", "application/json")], deep.as_bytes());
        let x = request_fields(&r);
        assert!(has(&x, "JSON nested deeper than 64 levels; inspected as plain text"), "{:?}", x.notes);
        assert!(x.fields.iter().any(|f| f.name.is_none() && f.value == deep));
        let r = req(&format!("/j?d={}", deep.replace('"', "%22")), &[], b"");
        let x = request_fields(&r);
        assert!(has(&x, "JSON nested deeper"), "{:?}", x.notes);
        // XML values past the limit.
        let xml = "<v>1</v>".repeat(markup::MAX_PAIRS + 5);
        let r = req("/x", &[("Content-Type", "text/xml")], xml.as_bytes());
        let x = request_fields(&r);
        assert!(has(&x, "more than 4096 XML values"), "{:?}", x.notes);
        // The field limit is noted even after another note.
        let mut form = deep.replace('"', "%22");
        form.insert_str(0, "d=");
        for i in 0..MAX_FIELDS {
            form.push_str(&format!("&k{i}=v"));
        }
        let r = req("/f", &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes());
        let x = request_fields(&r);
        assert!(has(&x, "JSON nested deeper") && has(&x, "more than 4096 fields"), "{:?}", x.notes);
        // A gzip bomb inside base64.
        use base64::Engine as _;
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b'a'; MAX_NESTED_INFLATE + 10]).unwrap();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(gz.finish().unwrap());
        let r = req(&format!("/g?z={b64}"), &[], b"");
        let x = request_fields(&r);
        assert!(has(&x, "inflated past the 1048576-byte limit"), "{:?}", x.notes);
        assert!(x.notes.len() <= MAX_EXTRACT_NOTES);
    }

    /// A URL in a header, a query or form value, percent-encoded once,
    /// twice or not: its query's pairs are fields under their keys, one
    /// `url` step added for reading the URL.
    #[test]
    fn queries_of_urls_inside_values() {
        let r = req(
            "/auth?redirect_uri=https%253A%252F%252Fapp.example%252Fcb%253Fimei%253D356938035643809&next=/account?email=user@mail.example",
            &[("Referer", "http://portal.example/login?client_mac=A4-5E-60-12-34-56&ap_mac=a45e60123457&page=")],
            b"",
        );
        let x = request_fields(&r);
        let f = find(&x, "Referer:client_mac");
        assert_eq!(
            (&*f.value, f.location, f.encoding.as_slice()),
            ("A4-5E-60-12-34-56", Location::Header, &["url"][..])
        );
        assert_eq!(find(&x, "Referer:ap_mac").value, "a45e60123457");
        assert!(x.fields.iter().all(|f| f.name.as_deref() != Some("Referer:page")), "empty values are no fields");
        let f = find(&x, "redirect_uri:imei");
        assert_eq!((&*f.value, f.encoding.as_slice()), ("356938035643809", &["url", "url", "url"][..]));
        let f = find(&x, "next:email");
        assert_eq!((&*f.value, f.encoding.as_slice()), ("user@mail.example", &["url"][..]));
        // Found under its key, not by shape: one finding, at the inner field.
        let engine = crate::detect::Engine::new(crate::detect::rules::RuleSet::builtin().unwrap(), None);
        let ctx =
            crate::detect::RequestCtx { dst: None, method: "GET", host: None, path: "/auth", dst_port: 80, app: None };
        let macs: Vec<_> = engine.detect(&ctx, &x.fields).into_iter().filter(|f| f.kind == "mac").collect();
        assert_eq!(macs.len(), 2, "{macs:?}");
        let client = macs.iter().find(|m| m.value == "A4-5E-60-12-34-56").expect("client_mac");
        assert_eq!(client.field.as_deref(), Some("Referer:client_mac"));
        assert_eq!(client.confidence, crate::finding::Confidence::High);
        // A URL as a JSON leaf, and a relative one only under a URL key.
        let r = req(
            "/j",
            &[("Content-Type", "application/json")],
            br#"{"ctx":{"url":"login?client_mac=a45e60123456"},"note":"login?imei=356938035643809"}"#,
        );
        let x = request_fields(&r);
        assert_eq!(find(&x, "$.ctx.url:client_mac").encoding.as_slice(), ["json", "url"]);
        assert!(x.fields.iter().all(|f| f.name.as_deref() != Some("$.note:imei")));
    }

    /// `key=value` runs in a text body or a log line, a hex login's user
    /// part, a 12-hex token glued to a model string: fields under their
    /// own names; decoys (base64 padding, a JWT, prose, a UUID, an
    /// e-mail) give no such field.
    #[test]
    fn identifiers_inside_opaque_values() {
        let syslog =
            "<134>Jan  1 00:00:00 router daemon[12]: 1=a4:5e:60:12:34:56 2=356938035643809 wan_mac=a45e60123457\n";
        let r = req("/log", &[("Content-Type", "text/plain")], syslog.as_bytes());
        let x = request_fields(&r);
        assert_eq!(find(&x, "2").value, "356938035643809");
        assert_eq!(find(&x, "wan_mac").value, "a45e60123457");
        assert_eq!(find(&x, "1").encoding.as_slice(), [] as [&str; 0]);
        // A text body starting with a pair is a text run, not a form.
        let r = req("/log", &[("Content-Type", "text/plain")], b"wan_mac=a45e60123457 imei=356938035643809");
        let x = request_fields(&r);
        assert_eq!(find(&x, "imei").value, "356938035643809");
        let x = stream_fields(syslog.as_bytes());
        assert_eq!(x.fields[0].name.as_deref(), Some("1"), "pairs first, then the line");
        assert_eq!(find(&x, "wan_mac").location, Location::Stream);
        let r = req(
            "/a?login=a45e60123456@isp.example&email=jane@mail.example&model=RT-AX58U_3.0.0.4_a45e60123456&id=38400000-8cf0-11bd-b23e-10b96e40000d",
            &[
                ("Authorization", "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln"),
                ("X-Blob", "dXNlcjpwYXNzd29yZA=="),
            ],
            b"",
        );
        let x = request_fields(&r);
        assert_eq!(find(&x, "login:user").value, "a45e60123456");
        assert_eq!(find(&x, "model:token").value, "a45e60123456");
        let names: Vec<&str> = x.fields.iter().filter_map(|f| f.name.as_deref()).collect();
        for n in ["email:user", "id:token", "Authorization:token", "X-Blob:dXNlcjpwYXNzd29yZA"] {
            assert!(!names.contains(&n), "{n} in {names:?}");
        }
        assert!(names.iter().all(|n| n.matches(':').count() <= 1), "{names:?}");
    }

    /// Fields split out of values are bounded per request, and the cut
    /// is noted; a URL nested past the depth limit is not read.
    #[test]
    fn split_fields_are_bounded() {
        let line: String = (0..inner::MAX_SPLIT + 10).map(|i| format!("k{i}=v{i} ")).collect();
        let r = req("/log", &[("Content-Type", "text/plain")], line.as_bytes());
        let x = request_fields(&r);
        assert!(x.notes.iter().any(|n| n.contains("fields split out of URLs")), "{:?}", x.notes);
        assert_eq!(
            x.fields.iter().filter(|f| f.name.as_deref().is_some_and(|n| n.starts_with('k'))).count(),
            inner::MAX_SPLIT
        );
        // A URL in a URL in a URL...: each is one nested decoding.
        let mut url = "http://h.example/x?imei=356938035643809".to_string();
        for _ in 0..MAX_DEPTH + 1 {
            url = format!(
                "http://h.example/x?u={}",
                url.replace('%', "%25").replace('?', "%3F").replace('=', "%3D").replace('&', "%26")
            );
        }
        let r = req("/r", &[("Referer", &url)], b"");
        let x = request_fields(&r);
        assert!(x.notes.iter().any(|n| n.contains("nested deeper than")), "{:?} {:#?}", x.notes, x.fields);
        assert!(x.fields.iter().all(|f| !f.name.as_deref().unwrap_or("").ends_with(":imei")));
    }

    #[test]
    fn json_body_leaves() {
        let r = req("/j", &[("Content-Type", "application/json")], br#"{"a":[{"mac":"a4:5e:60:12:34:56"}],"n":5}"#);
        let x = request_fields(&r);
        let f = find(&x, "$.a[0].mac");
        assert_eq!(f.encoding.as_slice(), ["json"]);
        assert_eq!(find(&x, "$.n").value, "5");
    }
}
