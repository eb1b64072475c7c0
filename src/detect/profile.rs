//! Device profiles: the known identifier values of the device under test,
//! searched for in every common form. A profile is TOML: each key a kind,
//! each value a string or a list of strings (`name` is a label).
//!
//! Each value expands into its forms: as is and without separators (any
//! case), URL-encoded, base64 (standard and URL-safe; padding is
//! irrelevant to a substring search), hex of its bytes, and the MD5,
//! SHA-1 and SHA-256 of each form (and of its upper- and lower-case
//! spellings) in hex, whole or cut to 16 characters. All forms go into
//! hash sets built once and shared by all workers.
//!
//! Forms real devices use besides: a MAC as EUI-64 (`ff:fe` inserted in
//! the middle, with and without the universal/local bit flipped: bridge
//! and Zigbee/Thread ids, IPv6 interface identifiers), IMEI and IMSI in
//! the BCD of 3GPP TS 24.008 (a mobile identity, and plain swapped-nibble
//! TBCD) written as hex; the hex of a value's text inside a longer hex
//! run; and, in binary payloads ([`CompiledProfile::find_bytes`]), the raw
//! bytes of every form: the text, a MAC's 6 bytes, its EUI-64, the BCD.

use std::path::Path;

use base64::Engine as _;
use std::collections::HashMap;

/// Shortest form searched: shorter strings match by chance.
const MIN_FORM_LEN: usize = 6;
/// Longest form looked up (a form longer than this, from a very long
/// profile value, is never found: values are identifiers, not texts).
const MAX_FORM_LEN: usize = 512;
/// Hash prefixes some SDKs send instead of the whole digest.
const HASH_PREFIX_LEN: usize = 16;

/// A profile problem, with its position when known.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("{path}:{line}:{col}: {message}")]
    At { path: String, line: usize, col: usize, message: String },
}

/// A loaded profile: (kind, value) pairs in file order.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub name: Option<String>,
    pub values: Vec<(String, String)>,
    /// The file as shown in messages.
    pub path: String,
    /// Each kind's key and where it is written (line, column), for
    /// [`Profile::check_kinds`].
    pub keys: Vec<(String, usize, usize)>,
}

/// Line and column (1-based) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    (before.matches('\n').count() + 1, before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1)
}

impl Profile {
    /// SHA-256 (hex) of the device name and the (kind, value) pairs in
    /// order: the same profile wherever its file is (shard files carry
    /// it; `merge` checks it).
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for part in self.name.iter().map(String::as_str).chain(self.values.iter().flat_map(|(k, v)| [k.as_str(), v])) {
            h.update((part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        hex::encode(h.finalize())
    }

    pub fn load(path: &Path) -> Result<Profile, Vec<ProfileError>> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![ProfileError::Invalid { path: shown.clone(), message: e.to_string() }])?;
        Profile::parse(&shown, &text)
    }

    /// Parses a profile; every problem is returned, each with its line
    /// and column.
    pub fn parse(path: &str, text: &str) -> Result<Profile, Vec<ProfileError>> {
        use toml::de::{DeTable, DeValue};
        let at = |offset: usize, message: String| {
            let (line, col) = line_col(text, offset);
            ProfileError::At { path: path.to_string(), line, col, message }
        };
        let (doc, syntax) = DeTable::parse_recoverable(text);
        if !syntax.is_empty() {
            return Err(syntax
                .into_iter()
                .map(|e| match e.span() {
                    Some(s) => at(s.start, e.message().to_string()),
                    None => ProfileError::Invalid { path: path.to_string(), message: e.message().to_string() },
                })
                .collect());
        }
        let mut p = Profile { path: path.to_string(), ..Profile::default() };
        let mut errors = Vec::new();
        let mut entries: Vec<_> = doc.into_inner().into_iter().collect();
        // In file order (the document's keys come sorted by name).
        entries.sort_by_key(|(k, _)| k.span().start);
        for (key, v) in entries {
            let (key_at, key) = (key.span().start, key.into_inner().into_owned());
            let (v_at, v) = (v.span().start, v.into_inner());
            if key == "name" {
                match v.as_str() {
                    Some(n) => p.name = Some(n.to_string()),
                    None => errors.push(at(v_at, "`name` must be a string".to_string())),
                }
                continue;
            }
            let list: Vec<(usize, Option<String>)> = match v {
                DeValue::String(s) => vec![(v_at, Some(s.into_owned()))],
                DeValue::Array(a) => {
                    a.into_iter().map(|x| (x.span().start, x.get_ref().as_str().map(str::to_string))).collect()
                }
                _ => {
                    errors.push(at(v_at, format!("`{key}`: give a string or a list of strings")));
                    continue;
                }
            };
            let (line, col) = line_col(text, key_at);
            p.keys.push((key.clone(), line, col));
            for (x_at, s) in list {
                let Some(s) = s else {
                    errors.push(at(x_at, format!("`{key}`: values must be strings")));
                    continue;
                };
                if s.trim().len() < MIN_FORM_LEN.min(4) {
                    errors.push(at(x_at, format!("`{key}`: value {s:?} is too short to search for")));
                    continue;
                }
                p.values.push((key.clone(), s.trim().to_string()));
            }
        }
        if errors.is_empty() { Ok(p) } else { Err(errors) }
    }

    /// Checks the profile's kinds against the rules that will run: a key
    /// that is no identifier kind (`imie`) is an error at its line and
    /// column, with the nearest kind as a suggestion; so is a kind that
    /// no loaded rule reports (`--no-default-rules` with rules that have
    /// neither its detector nor `detector = "profile"`): its values could
    /// never be found.
    ///
    /// Known kinds: every detector's, `imeisv`, and the `kind` of every
    /// loaded pattern rule (`device_uuid`, `person_name`, a rule file's
    /// own).
    pub fn check_kinds(&self, rules: &super::rules::RuleSet) -> Vec<ProfileError> {
        use super::rules::Matcher;
        use super::validators::Detector;
        // The STS detector reports several kinds; endpoint and decoder
        // rules name an upload, not a value.
        let mut known: Vec<&str> =
            Detector::ALL.iter().filter(|(_, d)| *d != Detector::StsCleartext).map(|(n, _)| *n).collect();
        known.push("imeisv");
        known.extend(
            rules.rules.iter().filter(|r| matches!(r.matcher, Matcher::Pattern { .. })).map(|r| r.kind.as_str()),
        );
        known.sort_unstable();
        known.dedup();
        let has_profile_rule = rules.rules.iter().any(|r| matches!(r.matcher, Matcher::Profile));
        let mut errors = Vec::new();
        for (kind, line, col) in &self.keys {
            let at = |message: String| ProfileError::At { path: self.path.clone(), line: *line, col: *col, message };
            if !known.contains(&kind.as_str()) {
                let nearest = known.iter().map(|k| (edit_distance(kind, k), *k)).filter(|(d, _)| *d <= 2).min();
                let hint = nearest.map_or(String::new(), |(_, k)| format!("; did you mean `{k}`?"));
                errors.push(at(format!("unknown identifier kind `{kind}`{hint} (known: name, {})", known.join(", "))));
                continue;
            }
            let detector = rules.rules.iter().any(|r| matches!(r.matcher, Matcher::Detector(d) if d.kind() == kind));
            if !detector && !has_profile_rule {
                errors.push(at(format!(
                    "no loaded rule reports `{kind}` values: load a rule with `detector = \"{}\"` or `detector = \"profile\"` (the built-in rules have both)",
                    if Detector::by_name(kind).is_some() { kind.as_str() } else { "profile" }
                )));
            }
        }
        errors
    }
}

/// Edit distance with adjacent transpositions counted as one edit
/// (`imie` is one edit from `imei`); for suggestions on short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// What a form stands for.
#[derive(Clone, Debug)]
struct Form {
    kind: String,
    original: String,
    encoding: Option<&'static str>,
}

/// A profile match in a field value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileHit {
    pub kind: String,
    /// The text as found in the value.
    pub found: String,
    pub original: String,
    /// The form's own encoding (`md5`, `base64`, ...), `None` when plain.
    pub encoding: Option<&'static str>,
}

/// The compiled profile, immutable and shared: every form in hash sets,
/// looked up by the candidate tokens of a value (letter-and-digit runs,
/// runs with separators such as a MAC's `:` or an address's `@`, base64
/// runs and their prefixes). Lookups cost the same whatever the number of
/// devices in the profile, unlike one automaton over all forms (NOTES:
/// aho-corasick slows to ~130 MB/s at ~90k patterns).
pub struct CompiledProfile {
    /// Forms compared in any case, by their lower-case text.
    folded: Forms,
    /// Base64 forms, compared exactly.
    exact: Forms,
    /// Distinct lengths of the base64 forms (a value encoded at the start
    /// of a longer blob is a prefix of it).
    exact_lens: Vec<usize>,
    /// Which lengths some folded form has: most tokens are rejected by
    /// their length alone, before any hashing.
    folded_lens: Vec<bool>,
    /// First two bytes of the base64 forms (as an index into 2^16): a run
    /// that starts otherwise holds none at its start.
    exact_heads: Vec<bool>,
    /// Byte forms, searched in binary payloads and in decoded hex runs;
    /// `bytes_forms[i]` is what pattern `i` stands for.
    bytes: Option<aho_corasick::AhoCorasick>,
    bytes_forms: Vec<Form>,
}

/// Hex runs at least this long (and even) are also decoded and searched
/// for byte forms: the hex of a value inside a longer hex value.
const MIN_HEX_RUN: usize = 2 * MIN_FORM_LEN;
/// Longest hex run decoded (on the stack).
const MAX_HEX_RUN: usize = 2 * MAX_FORM_LEN;
/// Shortest byte form searched in binary: a 6-byte MAC.
const MIN_BYTES_FORM: usize = 6;

/// The EUI-64 of a 12-hex MAC (lower case): `ff:fe` in the middle, with
/// the universal/local bit flipped (`flip`, as in IPv6 interface
/// identifiers, RFC 4291 appendix A) or not (as many bridge and device
/// ids print it).
fn eui64(bare: &str, flip: bool) -> Option<[u8; 8]> {
    let m = hex::decode(bare).ok()?;
    let m: [u8; 6] = m.try_into().ok()?;
    let first = if flip { m[0] ^ 0x02 } else { m[0] };
    Some([first, m[1], m[2], 0xff, 0xfe, m[3], m[4], m[5]])
}

/// Text spellings of an EUI-64: bare hex, colon pairs, and the four
/// groups of an IPv6 interface identifier (with and without leading zeros).
fn eui64_spellings(e: &[u8; 8]) -> Vec<String> {
    let hex = hex::encode(e);
    let pairs: Vec<String> = e.iter().map(|b| format!("{b:02x}")).collect();
    let groups: Vec<String> = e.chunks(2).map(|g| format!("{:02x}{:02x}", g[0], g[1])).collect();
    let short: Vec<String> = e.chunks(2).map(|g| format!("{:x}", u16::from_be_bytes([g[0], g[1]]))).collect();
    vec![hex, pairs.join(":"), pairs.join("-"), groups.join(":"), short.join(":")]
}

/// The BCD forms of an IMEI or IMSI (3GPP TS 24.008 10.5.1.4): the mobile
/// identity value (first digit with the odd/even flag and the type, then
/// two digits per byte, low nibble first, `F` filling an even count), and
/// plain TBCD (two digits per byte, low nibble first). An IMEI's 15th
/// digit is sent as 0 in an identity: both spellings are forms.
fn bcd_forms(kind: &str, digits: &str) -> Vec<Vec<u8>> {
    let ty = match kind {
        "imsi" => 1u8,
        "imei" => 2,
        _ => return Vec::new(),
    };
    if !(6..=16).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let mut spellings = vec![digits.to_string()];
    if kind == "imei" && digits.len() == 15 {
        spellings.push(format!("{}0", &digits[..14]));
    }
    let mut out = Vec::new();
    for d in spellings {
        let n: Vec<u8> = d.bytes().map(|b| b - b'0').collect();
        let odd = n.len() % 2 == 1;
        let mut identity = vec![n[0] << 4 | u8::from(odd) << 3 | ty];
        for pair in n[1..].chunks(2) {
            identity.push(pair.get(1).map_or(0xf0, |h| h << 4) | pair[0]);
        }
        let mut tbcd = Vec::new();
        for pair in n.chunks(2) {
            tbcd.push(pair.get(1).map_or(0xf0, |h| h << 4) | pair[0]);
        }
        out.push(identity);
        out.push(tbcd);
    }
    out
}

fn head_index(b: &[u8]) -> Option<usize> {
    Some(usize::from(*b.first()?) << 8 | usize::from(*b.get(1)?))
}

fn hex_digest<D: md5::Digest>(s: &str) -> String {
    hex::encode(D::digest(s.as_bytes()))
}

/// Spellings of a value to hash and search: as given, without
/// separators, and for MACs with each separator, in both cases.
fn spellings(kind: &str, v: &str) -> Vec<String> {
    let mut out = vec![v.to_string()];
    let bare: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if bare.len() >= MIN_FORM_LEN && bare != v {
        out.push(bare.clone());
    }
    if kind == "mac" && bare.len() == 12 {
        let pairs: Vec<&str> = (0..6).map(|i| &bare[i * 2..i * 2 + 2]).collect();
        out.push(pairs.join(":"));
        out.push(pairs.join("-"));
    }
    if kind == "msisdn" {
        // +33612345678 is also sent as 0033612345678.
        if let Some(rest) = v.strip_prefix('+') {
            out.push(format!("00{}", rest.replace([' ', '-'], "")));
        }
    }
    let mut cased = Vec::new();
    for s in &out {
        cased.push(s.to_ascii_lowercase());
        cased.push(s.to_ascii_uppercase());
    }
    out.extend(cased);
    out.sort();
    out.dedup();
    out
}

/// What a visit calls for each form found.
type Visitor<'a> = dyn FnMut(usize, &Form, &str, bool) -> bool + 'a;

/// Form text to what it stands for. FNV: short keys, hashed per token.
type Forms = HashMap<String, Form, std::hash::BuildHasherDefault<crate::util::FnvHasher>>;

/// Bytes that may sit inside a spelling with separators.
fn separator(b: u8) -> bool {
    matches!(b, b':' | b'-' | b'.' | b'@' | b'+' | b'_')
}

fn base64_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_')
}

/// Maximal runs of bytes for which `f` holds, with their start.
fn runs(v: &[u8], f: impl Fn(u8) -> bool) -> impl Iterator<Item = (usize, usize)> {
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < v.len() && !f(v[i]) {
            i += 1;
        }
        if i >= v.len() {
            return None;
        }
        let start = i;
        while i < v.len() && f(v[i]) {
            i += 1;
        }
        Some((start, i))
    })
}

impl CompiledProfile {
    pub fn compile(p: &Profile) -> CompiledProfile {
        let mut folded = Forms::default();
        let mut exact = Forms::default();
        let mut bytes: Vec<(Vec<u8>, Form)> = Vec::new();
        for (kind, value) in &p.values {
            let form = |enc: Option<&'static str>| Form { kind: kind.clone(), original: value.clone(), encoding: enc };
            let bare = value.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
            if kind == "mac" && bare.len() == 12 {
                if let Ok(raw) = hex::decode(&bare) {
                    bytes.push((raw, form(Some("binary"))));
                }
                for flip in [false, true] {
                    let Some(e) = eui64(&bare, flip) else { continue };
                    for t in eui64_spellings(&e) {
                        if (MIN_FORM_LEN..=MAX_FORM_LEN).contains(&t.len()) {
                            folded.entry(t).or_insert_with(|| form(Some("eui64")));
                        }
                    }
                    bytes.push((e.to_vec(), form(Some("eui64"))));
                }
            }
            for b in bcd_forms(kind, &bare) {
                folded.entry(hex::encode(&b)).or_insert_with(|| form(Some("bcd")));
                bytes.push((b, form(Some("bcd"))));
            }
            if value.len() >= MIN_FORM_LEN {
                bytes.push((value.as_bytes().to_vec(), form(None)));
                if bare.len() >= MIN_FORM_LEN && bare != value.to_ascii_lowercase() {
                    bytes.push((bare.as_bytes().to_vec(), form(None)));
                }
            }
            // The first form of a text wins: plain before encoded or hashed.
            let add = |map: &mut Forms, text: String, enc: Option<&'static str>, fold: bool| {
                if (MIN_FORM_LEN..=MAX_FORM_LEN).contains(&text.len()) {
                    map.entry(if fold { text.to_ascii_lowercase() } else { text }).or_insert_with(|| form(enc));
                }
            };
            for s in spellings(kind, value) {
                add(&mut folded, s.clone(), None, true);
                add(&mut folded, hex::encode(s.as_bytes()), Some("hex"), true);
                for (name, digest) in [
                    ("md5", hex_digest::<md5::Md5>(&s)),
                    ("sha1", hex_digest::<sha1::Sha1>(&s)),
                    ("sha256", hex_digest::<sha2::Sha256>(&s)),
                ] {
                    add(&mut folded, digest[..HASH_PREFIX_LEN].to_string(), Some(name), true);
                    add(&mut folded, digest, Some(name), true);
                }
                add(
                    &mut exact,
                    base64::engine::general_purpose::STANDARD_NO_PAD.encode(s.as_bytes()),
                    Some("base64"),
                    false,
                );
                add(
                    &mut exact,
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes()),
                    Some("base64"),
                    false,
                );
            }
        }
        let mut exact_lens: Vec<usize> = exact.keys().map(String::len).collect();
        exact_lens.sort_unstable();
        exact_lens.dedup();
        let longest = folded.keys().map(String::len).max().unwrap_or(0);
        let mut folded_lens = vec![false; longest + 1];
        for k in folded.keys() {
            folded_lens[k.len()] = true;
        }
        let mut exact_heads = vec![false; 1 << 16];
        for k in exact.keys() {
            if let Some(i) = head_index(k.as_bytes()) {
                exact_heads[i] = true;
            }
        }
        bytes.retain(|(b, _)| b.len() >= MIN_BYTES_FORM);
        bytes.sort_by(|a, b| a.0.cmp(&b.0));
        bytes.dedup_by(|a, b| a.0 == b.0);
        let automaton = (!bytes.is_empty())
            .then(|| {
                aho_corasick::AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(bytes.iter().map(|(b, _)| b))
                    .ok()
            })
            .flatten();
        let bytes_forms = bytes.into_iter().map(|(_, f)| f).collect();
        CompiledProfile { folded, exact, exact_lens, folded_lens, exact_heads, bytes: automaton, bytes_forms }
    }

    /// Every byte form in `data` (a binary body or stream payload): what
    /// it stands for, and what was found (a value's own text as text, with
    /// no encoding; binary forms as hex, encoding `binary`, `eui64`, `bcd`).
    pub fn find_bytes(&self, data: &[u8], out: &mut Vec<ProfileHit>) {
        let Some(ac) = &self.bytes else { return };
        for m in ac.find_iter(data) {
            let f = &self.bytes_forms[m.pattern().as_usize()];
            let bytes = &data[m.start()..m.end()];
            // A value's own text is shown as text; binary forms as hex.
            let found = match f.encoding {
                None => crate::util::lossy(bytes).into_owned(),
                Some(_) => hex::encode(bytes),
            };
            let hit = ProfileHit { kind: f.kind.clone(), found, original: f.original.clone(), encoding: f.encoding };
            if !out.iter().any(|o| o.kind == hit.kind && o.original == hit.original && o.encoding == hit.encoding) {
                out.push(hit);
            }
        }
    }

    /// Byte forms inside the hex run `v[s..e]`, decoded: the hex of a
    /// value's text (or of its binary forms) inside a longer hex value.
    fn hex_run(&self, v: &str, s: usize, e: usize, on: &mut Visitor<'_>) -> bool {
        let Some(ac) = &self.bytes else { return true };
        let run = &v.as_bytes()[s..e];
        if run.len() < MIN_HEX_RUN
            || run.len() > MAX_HEX_RUN
            || run.len() % 2 == 1
            || !run.iter().all(u8::is_ascii_hexdigit)
        {
            return true;
        }
        let mut buf = [0u8; MAX_HEX_RUN / 2];
        let raw = &mut buf[..run.len() / 2];
        if hex::decode_to_slice(run, raw).is_err() {
            return true;
        }
        for m in ac.find_iter(&*raw) {
            if m.start() == 0 && 2 * m.end() == run.len() {
                // The whole run: its token lookup has it already.
                continue;
            }
            let f = &self.bytes_forms[m.pattern().as_usize()];
            // The hex of a text or of raw bytes is "hex"; BCD and EUI-64
            // keep their own name.
            let encoding = match f.encoding {
                None | Some("binary") => Some("hex"),
                e => e,
            };
            let hex_form = Form { encoding, ..f.clone() };
            if !on(s + 2 * m.start(), &hex_form, &v[s + 2 * m.start()..s + 2 * m.end()], false) {
                return false;
            }
        }
        true
    }

    /// Does any form occur in `value`?
    pub fn is_match(&self, value: &str) -> bool {
        !self.visit(value, &mut |_, _, _, _| false)
    }

    /// The form spelled by `v[s..e]` (in any case), if any.
    fn folded_form(&self, v: &str, s: usize, e: usize) -> Option<&Form> {
        if e - s < MIN_FORM_LEN || e - s > MAX_FORM_LEN || !self.folded_lens.get(e - s).copied().unwrap_or(false) {
            return None;
        }
        let mut buf = [0u8; MAX_FORM_LEN];
        let lower = &mut buf[..e - s];
        lower.copy_from_slice(&v.as_bytes()[s..e]);
        lower.make_ascii_lowercase();
        self.folded.get(std::str::from_utf8(lower).ok()?)
    }

    /// Calls `on(position, form, found, url_decoded)` for every form in
    /// `v`; stops when it returns false. Returns false if stopped.
    fn visit_text(&self, v: &str, url: bool, on: &mut Visitor<'_>) -> bool {
        let b = v.as_bytes();
        // Long hex runs, decoded: byte forms inside them.
        if self.bytes.is_some() {
            for (s, e) in runs(b, |c| c.is_ascii_hexdigit()) {
                if e - s >= MIN_HEX_RUN && !self.hex_run(v, s, e, on) {
                    return false;
                }
            }
        }
        let mut check = |s: usize, e: usize| match self.folded_form(v, s, e) {
            Some(f) => on(s, f, &v[s..e], url),
            None => true,
        };
        // Letter-and-digit tokens: bare spellings, digits, hex, hashes.
        for (s, e) in runs(b, |c| c.is_ascii_alphanumeric()) {
            if !check(s, e) {
                return false;
            }
        }
        // Tokens with separators (a4:5e:..., user@host.org, +336...): the
        // whole token, and what follows or precedes each separator.
        for (s, e) in runs(b, |c| c.is_ascii_alphanumeric() || separator(c)) {
            let mut any = false;
            for i in (s..e).filter(|&i| separator(b[i])) {
                any = true;
                if !check(i + 1, e) || !check(s, i) {
                    return false;
                }
            }
            if any && !check(s, e) {
                return false;
            }
        }
        true
    }

    fn visit(&self, value: &str, on: &mut Visitor<'_>) -> bool {
        if !self.visit_text(value, false, on) {
            return false;
        }
        if value.contains('%') {
            let (decoded, escaped) = crate::codec::text::url_decode(value.as_bytes());
            // Positions in the decoded text do not map back: after all.
            if escaped && !self.visit_text(&decoded, true, &mut |_, f, found, url| on(usize::MAX, f, found, url)) {
                return false;
            }
        }
        // Base64 runs: the whole run, or a form at its start.
        for (s, e) in runs(value.as_bytes(), base64_byte) {
            let run = value[s..e].trim_end_matches('=');
            if !head_index(run.as_bytes()).is_some_and(|i| self.exact_heads[i]) {
                continue;
            }
            for &len in &self.exact_lens {
                if len > run.len() {
                    break;
                }
                if let Some(f) = self.exact.get(&run[..len])
                    && !on(s, f, &run[..len], false)
                {
                    return false;
                }
            }
        }
        true
    }

    /// Every profile form found in `value`, in order of position.
    pub fn find(&self, value: &str, out: &mut Vec<ProfileHit>) {
        let mut hits: Vec<(usize, ProfileHit)> = Vec::new();
        self.visit(value, &mut |pos, f, found, url| {
            let encoding = if url { f.encoding.or(Some("url")) } else { f.encoding };
            hits.push((
                pos,
                ProfileHit { kind: f.kind.clone(), found: found.to_string(), original: f.original.clone(), encoding },
            ));
            true
        });
        hits.sort_by_key(|(pos, _)| *pos);
        for (_, h) in hits {
            if !out.iter().any(|o| o.kind == h.kind && o.original == h.original && o.encoding == h.encoding) {
                out.push(h);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Digest as _;

    fn compiled() -> CompiledProfile {
        let p = Profile::parse(
            "p.toml",
            "name = \"t\"\nimei = [\"356938035643809\"]\nmac = \"a4:5e:60:12:34:56\"\nserial = \"WKL3A1B2C3D4\"\n",
        )
        .unwrap();
        CompiledProfile::compile(&p)
    }

    fn find(c: &CompiledProfile, v: &str) -> Vec<(String, Vec<String>)> {
        let mut o = Vec::new();
        c.find(v, &mut o);
        o.into_iter().map(|h| (h.kind, h.encoding.into_iter().map(str::to_string).collect())).collect()
    }

    #[test]
    fn finds_every_form() {
        let c = compiled();
        let md5 = hex::encode(md5::Md5::digest(b"356938035643809"));
        let sha1_upper_mac = hex::encode(sha1::Sha1::digest(b"A4:5E:60:12:34:56")).to_ascii_uppercase();
        let b64 = base64::engine::general_purpose::STANDARD.encode("WKL3A1B2C3D4");
        assert_eq!(find(&c, "id=356938035643809"), vec![("imei".into(), vec![])]);
        assert_eq!(find(&c, &md5), vec![("imei".into(), vec!["md5".to_string()])]);
        assert_eq!(find(&c, &format!("h={}", &md5[..16])), vec![("imei".into(), vec!["md5".to_string()])]);
        assert_eq!(find(&c, &sha1_upper_mac), vec![("mac".into(), vec!["sha1".to_string()])]);
        assert_eq!(find(&c, "A45E60123456"), vec![("mac".into(), vec![])]);
        assert_eq!(find(&c, &b64), vec![("serial".into(), vec!["base64".to_string()])]);
        assert_eq!(find(&c, "a4%3A5e%3A60%3A12%3A34%3A56"), vec![("mac".into(), vec!["url".to_string()])]);
    }

    #[test]
    fn separators_around_and_many_devices() {
        let c = compiled();
        assert_eq!(find(&c, "bssid:A4-5E-60-12-34-56;x"), vec![("mac".into(), vec![])]);
        // A fleet of 5,000 devices: built once, found by lookups.
        let list: Vec<String> = (0..5_000u64).map(|i| format!("\"SN{i:010}\"")).collect();
        let text = format!("serial = [{}]\n", list.join(","));
        let fleet = CompiledProfile::compile(&Profile::parse("fleet", &text).unwrap());
        assert_eq!(find(&fleet, "sn=SN0000004999&x=1"), vec![("serial".into(), vec![])]);
        assert!(find(&fleet, "sn=SN0000005000").is_empty());
    }

    /// A MAC as EUI-64 (flipped or not, as an IPv6 interface id or a
    /// bridge id), IMEI and IMSI as BCD hex, a serial's hex inside a
    /// longer hex value.
    #[test]
    fn forms_real_devices_use() {
        let p = Profile::parse("p", "mac = \"a4:5e:60:12:34:56\"\nimei = \"356938035643809\"\nimsi = \"208101234567890\"\nserial = \"WKL3A1B2C3D4\"\n").unwrap();
        let c = CompiledProfile::compile(&p);
        let kinds = |v: &str| find(&c, v);
        assert_eq!(kinds("ip=2001:db8:1:2:a65e:60ff:fe12:3456"), vec![("mac".into(), vec!["eui64".to_string()])]);
        assert_eq!(kinds("bridgeid=A45E60FFFE123456"), vec![("mac".into(), vec!["eui64".to_string()])]);
        // IMSI 208101234567890: 15 digits, odd: 0x29 then nibble pairs.
        assert_eq!(kinds("id=2980012143658709"), vec![("imsi".into(), vec!["bcd".to_string()])]);
        assert_eq!(kinds("id=0201214365879f"), Vec::<(String, Vec<String>)>::new());
        let serial_hex = hex::encode("WKL3A1B2C3D4");
        assert_eq!(kinds(&format!("blob=00ff{serial_hex}0d0a")), vec![("serial".into(), vec!["hex".to_string()])]);
        // Raw bytes in a binary payload: the MAC's 6 bytes, the IMEI in BCD.
        let mut bin = vec![0u8, 1, 2, 0xa4, 0x5e, 0x60, 0x12, 0x34, 0x56, 9];
        bin.extend(bcd_forms("imei", "356938035643809").remove(0));
        let mut hits = Vec::new();
        c.find_bytes(&bin, &mut hits);
        let got: Vec<(&str, Option<&str>)> = hits.iter().map(|h| (h.kind.as_str(), h.encoding)).collect();
        assert_eq!(got, vec![("mac", Some("binary")), ("imei", Some("bcd"))]);
        assert_eq!(hits[0].found, "a45e60123456");
        let mut none = Vec::new();
        c.find_bytes(&[0u8; 64], &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn bcd_of_an_imei_identity() {
        // TS 24.008: IMEI 35693803564380(9 sent as 0), type 2, odd.
        let f = bcd_forms("imei", "356938035643809");
        assert_eq!(hex::encode(&f[0]), "3a65390853468390");
        assert_eq!(hex::encode(&f[2]), "3a65390853468300");
        assert!(bcd_forms("serial", "12345678").is_empty());
    }

    #[test]
    fn not_inside_longer_numbers() {
        assert!(find(&compiled(), "1356938035643809").is_empty());
    }

    #[test]
    fn rejects_non_string_values() {
        assert!(Profile::parse("p.toml", "imei = 356938035643809\n").is_err());
        let e = Profile::parse("p.toml", "name = \"x\"\nimei = [\"356938035643809\", 3]\nmac = \"ab\"\n").unwrap_err();
        let e: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e[0].starts_with("p.toml:2:28: `imei`: values must be strings"), "{e:?}");
        assert!(e[1].starts_with("p.toml:3:7: `mac`: value \"ab\" is too short"), "{e:?}");
    }

    #[test]
    fn unknown_kinds_name_their_line_and_a_suggestion() {
        let rules = crate::detect::rules::RuleSet::builtin().unwrap();
        let p = Profile::parse("p.toml", "name = \"x\"\nimei = \"356938035643809\"\n  imie = \"356938035643817\"\n")
            .unwrap();
        let e: Vec<String> = p.check_kinds(&rules).iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("p.toml:3:3: unknown identifier kind `imie`; did you mean `imei`?"), "{e:?}");
        // Kinds of loaded rules are known; far typos get no suggestion.
        let p = Profile::parse("p.toml", "device_uuid = \"0f8fad5b-d9cb-469f\"\nwibble = \"123456\"\n").unwrap();
        let e: Vec<String> = p.check_kinds(&rules).iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("p.toml:2:1: unknown identifier kind `wibble` (known: name, "), "{e:?}");
        // No rule that reports serial values: an error too.
        let mut only_imei = crate::detect::rules::RuleSet::default();
        only_imei.rules.extend(rules.rules.iter().filter(|r| r.id == "TA-IMEI").cloned());
        let p = Profile::parse("p.toml", "imei = \"356938035643809\"\nserial = \"WKL3A1B2C3D4\"\n").unwrap();
        let e: Vec<String> = p.check_kinds(&only_imei).iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(e[0].starts_with("p.toml:2:1: no loaded rule reports `serial` values"), "{e:?}");
        assert_eq!(edit_distance("imie", "imei"), 1);
        assert_eq!(edit_distance("", "mac"), 3);
    }
}
