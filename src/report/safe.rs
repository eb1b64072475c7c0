//! report::safe: text from a capture made safe to print.
//!
//! Two guards every printed string can go through, whatever the format:
//! [`escape_text`] keeps control and direction-changing characters from
//! reaching a terminal or splitting a one-line record (a file name with a
//! newline, an ESC sequence in a URI), and [`Masker`] hides every
//! identifier value found during the run wherever it shows up again (a
//! Host header or a JSON key that holds an IMEI, a base64 form of it in a
//! path), with [`mask_shapes`] as the fallback for values not learnt.
//!
//! Input: `&str`. Output: `Cow<str>`, borrowed when nothing changes, so
//! the common case costs one scan and no allocation.
//!
//! Never: change a string that holds nothing to escape or mask; panic on
//! any input; let the learnt set grow past its cap.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::BuildHasher;

use base64::Engine as _;

use crate::finding::mask;

/// True for the characters [`escape_text`] rewrites: C0 controls (ESC,
/// newline...), DEL, C1 controls, the Unicode line and paragraph
/// separators, and the bidirectional embeddings, overrides and isolates
/// that reorder what a terminal shows ("Trojan Source").
fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f' | '\u{80}'..='\u{9f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// First bytes of the UTF-8 forms of every character [`needs_escape`]
/// accepts: below 0x20, 0x7f, 0xc2 (U+0080..U+009F) and 0xe2
/// (U+2028..U+202E, U+2066..U+2069).
fn may_start_escape(b: u8) -> bool {
    b < 0x20 || b == 0x7f || b == 0xc2 || b == 0xe2
}

/// `s` with control characters written as escapes: `\n`, `\r`, `\t`,
/// `\x1b` for the other C0 controls and DEL, `\u{9b}` for C1 controls,
/// `\u{2028}` and `\u{202e}` for the separators and bidi controls.
/// Everything else (backslashes included) is left as it is; borrowed
/// when there is nothing to escape.
pub fn escape_text(s: &str) -> Cow<'_, str> {
    let Some(first) = s.bytes().position(may_start_escape) else {
        return Cow::Borrowed(s);
    };
    // `first` is the start of a character: every byte it can be is an
    // ASCII byte or a UTF-8 lead byte.
    let Some(start) = s[first..].char_indices().find(|(_, c)| needs_escape(*c)).map(|(i, _)| first + i) else {
        return Cow::Borrowed(s);
    };
    let mut out = String::with_capacity(s.len() + 8);
    out.push_str(&s[..start]);
    for c in s[start..].chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_ascii() => out.push_str(&format!("\\x{:02x}", u32::from(c))),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

/// Shortest run of decimal digits [`mask_shapes`] masks: an IMSI has 14
/// or 15 digits, an IMEI 15, an IMEISV 16, an ICCID 19 or 20.
pub const SHAPE_MIN_DIGITS: usize = 14;

/// Masks every run of [`SHAPE_MIN_DIGITS`] or more ASCII digits, the
/// shapes of IMEIs, IMSIs and ICCIDs: the fallback for text that may hold
/// a value no detector reported (or one the [`Masker`] had no room for).
pub fn mask_shapes(s: &str) -> Cow<'_, str> {
    let ranges = digit_runs(s);
    if ranges.is_empty() { Cow::Borrowed(s) } else { Cow::Owned(apply(s, &ranges)) }
}

/// Byte ranges of the digit runs [`mask_shapes`] masks.
fn digit_runs(s: &str) -> Vec<(usize, usize)> {
    // Each run is a subslice of `s`: its address gives its offset.
    let offset = |run: &str| run.as_ptr() as usize - s.as_ptr() as usize;
    crate::detect::validators::digit_runs(s, SHAPE_MIN_DIGITS..=usize::MAX)
        .map(|run| (offset(run), offset(run) + run.len()))
        .collect()
}

/// `s` with each range (sorted by start, possibly overlapping) replaced by
/// the [`mask`] of the text it covers; overlapping ranges are masked as
/// one, so no byte of either value shows.
fn apply(s: &str, ranges: &[(usize, usize)]) -> String {
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    let mut i = 0;
    while i < ranges.len() {
        let (start, mut end) = ranges[i];
        i += 1;
        while i < ranges.len() && ranges[i].0 < end {
            end = end.max(ranges[i].1);
            i += 1;
        }
        out.push_str(&s[at..start]);
        out.push_str(&mask(&s[start..end]));
        at = end;
    }
    out.push_str(&s[at..]);
    out
}

/// Shortest value a [`Masker`] learns: shorter ones (a two-digit MNC, a
/// three-letter word) would mask half of every line. Also the width of
/// the window its index is keyed by.
pub const MIN_LEARNT: usize = 4;
/// Most distinct strings (values and their encoded forms) a [`Masker`]
/// keeps.
pub const MAX_LEARNT: usize = 100_000;
/// Most bytes of learnt strings a [`Masker`] keeps.
pub const MAX_LEARNT_BYTES: usize = 16 << 20;
/// Work a [`Masker::mask`] call may do per byte of its text (plus
/// [`BUDGET_BASE`]) before it gives up matching and masks the rest of the
/// text. A step is a window looked up, a byte hashed or compared, a
/// learnt string tried. Ordinary sets take a few steps per byte; only
/// strings built to share prefixes (hundreds of lengths under one head)
/// come near it.
const BUDGET_PER_BYTE: usize = 64;
const BUDGET_BASE: usize = 4096;
/// Bits of the head filter when the first string is learnt; it doubles
/// whenever there are more than one head per [`FILTER_LOAD`] bits.
const FILTER_MIN_BITS: u32 = 16;
const FILTER_LOAD: usize = 16;
/// End of a chain of learnt strings with equal hashes.
const NONE: u32 = u32::MAX;
/// The FNV-1a 64-bit prime: the per-byte step of [`Masker`]'s string
/// hash, seeded per masker.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// ASCII lower case of each byte; other bytes are themselves.
static LOWER: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = (i as u8).to_ascii_lowercase();
        i += 1;
    }
    t
};

/// One byte of the string hash: FNV-1a over ASCII-lowercased bytes, so
/// the hash of `text[i..i + n + 1]` is one step from that of
/// `text[i..i + n]`.
fn hash_step(h: u64, b: u8) -> u64 {
    (h ^ u64::from(LOWER[usize::from(b)])).wrapping_mul(FNV_PRIME)
}

/// Hasher for map keys that are already hashes or short windows of text:
/// one seeded folded multiply (the 128-bit product's halves xored), in
/// place of SipHash. Seeded per masker, so keys chosen to crowd one
/// bucket cannot be prepared in advance.
#[derive(Clone, Copy)]
struct Fold {
    seed: u64,
    mult: u64,
}

impl Fold {
    fn mix(&self, n: u64) -> u64 {
        let p = u128::from(n ^ self.seed) * u128::from(self.mult);
        (p as u64) ^ ((p >> 64) as u64)
    }
}

struct FoldHasher {
    fold: Fold,
    h: u64,
}

impl std::hash::Hasher for FoldHasher {
    fn finish(&self) -> u64 {
        self.h
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.h = self.fold.mix(self.h.rotate_left(8) ^ u64::from(b));
        }
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.h = self.fold.mix(self.h ^ n);
    }
}

impl BuildHasher for Fold {
    type Hasher = FoldHasher;
    fn build_hasher(&self) -> FoldHasher {
        FoldHasher { fold: *self, h: 0 }
    }
}

/// Every identifier value found during a run, to mask wherever it is
/// printed again: in a host, a field path (`$.356938035643809.imei`), a
/// URI, a note, a TLS server name.
///
/// Matching is ASCII case-insensitive for every value (hex identifiers
/// are written in either case; masking the odd case variant of another
/// value too costs nothing). Each occurrence becomes the [`mask`] of the
/// text it covers; occurrences that overlap are masked as one run.
///
/// Index: every learnt string is at least [`MIN_LEARNT`] bytes, so it
/// starts with a 4-byte head. A bit filter over the heads turns most
/// positions of a text away with one load; a map gives the lengths of the
/// strings under a head, and a map from a seeded hash of each string
/// finds the string of that length, if any, to compare. Learning is one
/// hash and a few map inserts (nothing is compiled); [`Masker::mask`] is
/// one pass over its text plus, where a head matches, a hash extended
/// over the lengths under it. A hostile set (many strings of many lengths
/// under one head) could make that walk quadratic: past a budget of
/// [`BUDGET_PER_BYTE`] steps per byte the rest of the text is masked
/// whole instead, so no value shows and the cost stays linear.
///
/// Beyond [`MAX_LEARNT`] strings or [`MAX_LEARNT_BYTES`] bytes (or the
/// caps given to [`Masker::with_limits`]) nothing more is learnt and
/// [`mask_shapes`] is applied as well.
pub struct Masker {
    /// Learnt strings, ASCII-lowercased, in learning order.
    values: Vec<Box<str>>,
    /// Whether each string was given to [`Masker::learn`] and its forms
    /// learnt with it: a repeated value is one lookup.
    formed: Vec<bool>,
    /// Hash of a learnt string to the last one learnt with that hash;
    /// `next` chains the earlier ones (a collision costs a comparison,
    /// never a value left unmasked).
    by_hash: HashMap<u64, u32, Fold>,
    next: Vec<u32>,
    /// The first [`MIN_LEARNT`] bytes of learnt strings (big-endian) to
    /// the lengths of those that start with them, ascending.
    heads: HashMap<u32, Vec<u32>, Fold>,
    /// One bit per multiplicative hash of a head: empty until the first
    /// string is learnt, then a power of two bits.
    filter: Vec<u64>,
    /// `32 - log2(bits of filter)`.
    filter_shift: u32,
    /// Odd multiplier of the filter hash.
    filter_mult: u32,
    /// Start of the string hash.
    seed: u64,
    bytes: usize,
    full: bool,
    max_values: usize,
    max_bytes: usize,
    /// Where a learnt value's forms are made.
    form: String,
}

impl Default for Masker {
    fn default() -> Self {
        Masker::new()
    }
}

impl Masker {
    /// A masker with the default caps, [`MAX_LEARNT`] strings and
    /// [`MAX_LEARNT_BYTES`] bytes.
    pub fn new() -> Masker {
        Masker::with_limits(MAX_LEARNT, MAX_LEARNT_BYTES)
    }

    /// A masker that learns at most `max_values` strings of at most
    /// `max_bytes` bytes in all (`max_values` at most [`MAX_LEARNT`]).
    pub fn with_limits(max_values: usize, max_bytes: usize) -> Masker {
        // Random words from the standard library's per-process keys.
        let random = std::collections::hash_map::RandomState::new();
        let word = |i: u8| random.hash_one(i);
        let fold = Fold { seed: word(0), mult: word(1) | 1 };
        Masker {
            values: Vec::new(),
            formed: Vec::new(),
            by_hash: HashMap::with_hasher(fold),
            next: Vec::new(),
            heads: HashMap::with_hasher(fold),
            filter: Vec::new(),
            filter_shift: 32 - FILTER_MIN_BITS,
            filter_mult: (word(2) as u32) | 1,
            seed: word(3),
            bytes: 0,
            full: false,
            max_values: max_values.min(MAX_LEARNT),
            max_bytes,
            form: String::new(),
        }
    }

    /// Learns an identifier value and the forms it is commonly carried
    /// in: percent-encoded, hex, and base64 at each of the three
    /// alignments it can have inside a longer base64 text (standard and
    /// URL-safe alphabets).
    pub fn learn(&mut self, value: &str) {
        if value.len() < MIN_LEARNT || self.full {
            return;
        }
        // A value seen before brought its forms with it: most findings
        // repeat a value already learnt, and its forms cost allocations.
        let Some(i) = self.learn_one(value) else { return };
        if std::mem::replace(&mut self.formed[i], true) {
            return;
        }
        // The forms are made in one reused buffer (a new value is learnt
        // with eight of them).
        let mut form = std::mem::take(&mut self.form);
        form.clear();
        form.extend(percent_encoding::utf8_percent_encode(value, URI_COMPONENT));
        self.learn_raw(&form);
        form.clear();
        for b in value.bytes() {
            form.push(char::from(HEX_LOWER[usize::from(b >> 4)]));
            form.push(char::from(HEX_LOWER[usize::from(b & 0xf)]));
        }
        self.learn_raw(&form);
        each_base64_core(value.as_bytes(), &mut form, |core| self.learn_raw(core));
        self.form = form;
    }

    /// Learns one string as it is: the raw (encoded) text a value was
    /// matched in.
    pub fn learn_raw(&mut self, raw: &str) {
        if raw.len() >= MIN_LEARNT && !self.full {
            self.learn_one(raw);
        }
    }

    /// The index of `raw` (at least [`MIN_LEARNT`] bytes) among the learnt
    /// strings, learning it if it is new; `None` if it did not fit.
    fn learn_one(&mut self, raw: &str) -> Option<usize> {
        let h = self.hash(raw.as_bytes());
        if let Some(i) = self.index_of(h, raw.as_bytes()) {
            return Some(i);
        }
        let len = u32::try_from(raw.len()).ok();
        let Some(len) = len
            .filter(|_| self.values.len() < self.max_values && self.bytes.saturating_add(raw.len()) <= self.max_bytes)
        else {
            self.full = true;
            return None;
        };
        let lower = raw.to_ascii_lowercase().into_boxed_str();
        let i = self.values.len();
        self.bytes += lower.len();
        // MAX_LEARNT fits in u32 (and below NONE).
        self.next.push(self.by_hash.insert(h, i as u32).unwrap_or(NONE));
        self.formed.push(false);
        let head = head_key(lower.as_bytes());
        self.values.push(lower);
        let lens = self.heads.entry(head).or_default();
        if let Err(at) = lens.binary_search(&len) {
            lens.insert(at, len);
        }
        if lens.len() == 1 {
            self.add_head(head);
        }
        Some(i)
    }

    /// The seeded hash of ASCII-lowercased `bytes`.
    fn hash(&self, bytes: &[u8]) -> u64 {
        bytes.iter().fold(self.seed, |h, &b| hash_step(h, b))
    }

    /// The learnt string equal to `bytes` (ignoring ASCII case) whose
    /// hash is `h`.
    fn index_of(&self, h: u64, bytes: &[u8]) -> Option<usize> {
        let mut i = self.by_hash.get(&h).copied().unwrap_or(NONE);
        while i != NONE {
            let at = i as usize;
            if self.values[at].as_bytes().eq_ignore_ascii_case(bytes) {
                return Some(at);
            }
            i = self.next[at];
        }
        None
    }

    fn filter_bit(&self, head: u32) -> usize {
        (head.wrapping_mul(self.filter_mult) >> self.filter_shift) as usize
    }

    fn filter_has(&self, head: u32) -> bool {
        let bit = self.filter_bit(head);
        self.filter.get(bit / 64).is_some_and(|w| w >> (bit % 64) & 1 != 0)
    }

    /// Sets the filter bit of a new head, first doubling the filter (and
    /// setting the bits of every head again) if it is too loaded.
    fn add_head(&mut self, head: u32) {
        let bits = |shift: u32| 1usize << (32 - shift);
        let mut shift = self.filter_shift;
        while shift > 6 && self.heads.len() > bits(shift) / FILTER_LOAD {
            shift -= 1;
        }
        if self.filter.is_empty() || shift != self.filter_shift {
            self.filter_shift = shift;
            self.filter = vec![0; bits(shift) / 64];
            let all: Vec<u32> = self.heads.keys().copied().collect();
            for h in all {
                self.set_filter(h);
            }
        } else {
            self.set_filter(head);
        }
    }

    fn set_filter(&mut self, head: u32) {
        let bit = self.filter_bit(head);
        if let Some(w) = self.filter.get_mut(bit / 64) {
            *w |= 1 << (bit % 64);
        }
    }

    /// Distinct strings learnt.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// True once the cap was reached: later values were not learnt and
    /// [`mask_shapes`] is applied too.
    pub fn is_full(&self) -> bool {
        self.full
    }

    /// Changes whenever what [`Masker::mask`] does changes: a string
    /// learnt, or the cap reached (shapes masked from then on).
    pub fn generation(&self) -> usize {
        self.values.len() + usize::from(self.full)
    }

    /// `s` with every occurrence of every learnt string masked (and digit
    /// runs too once the cap was reached); borrowed when nothing matched.
    pub fn mask<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if s.len() < MIN_LEARNT {
            return Cow::Borrowed(s);
        }
        let mut ranges = Vec::new();
        let budget = s.len().saturating_mul(BUDGET_PER_BYTE).saturating_add(BUDGET_BASE);
        if let (_, Some(mut from)) = self.find(s.as_bytes(), budget, &mut ranges) {
            // Every string starting before `from` was found; mask all
            // from there on (from a character boundary, for `apply`).
            while !s.is_char_boundary(from) {
                from -= 1;
            }
            ranges.push((from, s.len()));
        }
        if self.full {
            ranges.extend(digit_runs(s));
        }
        if ranges.is_empty() {
            return Cow::Borrowed(s);
        }
        ranges.sort_unstable();
        Cow::Owned(apply(s, &ranges))
    }

    /// Appends the range of every occurrence of a learnt string in `s`,
    /// by start then length. Returns the steps taken and, if they would
    /// pass `budget`, the position it stopped at (occurrences starting
    /// before it are all appended).
    fn find(&self, s: &[u8], budget: usize, out: &mut Vec<(usize, usize)>) -> (usize, Option<usize>) {
        let mut steps = 0usize;
        if self.values.is_empty() {
            return (steps, None);
        }
        let mut key = 0u32;
        for (last, &b) in s.iter().enumerate() {
            key = key << 8 | u32::from(LOWER[usize::from(b)]);
            let Some(start) = (last + 1).checked_sub(MIN_LEARNT) else { continue };
            if !self.filter_has(key) {
                continue;
            }
            steps += 1;
            let Some(lens) = self.heads.get(&key) else { continue };
            let (mut h, mut at) = (self.seed, start);
            for &len in lens {
                let Some(end) = start.checked_add(len as usize).filter(|&e| e <= s.len()) else { break };
                steps += end - at;
                if steps > budget {
                    return (steps, Some(start));
                }
                h = s[at..end].iter().fold(h, |h, &b| hash_step(h, b));
                at = end;
                let mut i = self.by_hash.get(&h).copied().unwrap_or(NONE);
                while i != NONE {
                    let v = self.values[i as usize].as_bytes();
                    let same_len = v.len() == end - start;
                    steps += 1 + if same_len { v.len() } else { 0 };
                    if steps > budget {
                        return (steps, Some(start));
                    }
                    if same_len && v.eq_ignore_ascii_case(&s[start..end]) {
                        out.push((start, end));
                        // Learnt strings are distinct: no other one
                        // covers the same bytes.
                        break;
                    }
                    i = self.next[i as usize];
                }
            }
        }
        (steps, None)
    }
}

/// The first [`MIN_LEARNT`] bytes of `lower` as one number, the way
/// [`Masker::find`] rolls them over a text.
fn head_key(lower: &[u8]) -> u32 {
    lower.iter().take(MIN_LEARNT).fold(0, |k, &b| k << 8 | u32::from(b))
}

/// Characters percent-encoded in a URI component: all but the unreserved
/// ones of RFC 3986.
const URI_COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The base64 characters that depend on `v` alone when `v` sits at each
/// of the three alignments inside longer base64-encoded data, in both
/// alphabets: whatever surrounds it, these appear verbatim.
#[cfg(test)]
fn base64_cores(v: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    each_base64_core(v, &mut String::new(), |core| {
        if !out.iter().any(|c| c == core) {
            out.push(core.to_string());
        }
    });
    out
}

const HEX_LOWER: &[u8; 16] = b"0123456789abcdef";

/// Gives each of [`base64_cores`] (repeats included) to `each`, made in
/// `buf`.
fn each_base64_core(v: &[u8], buf: &mut String, mut each: impl FnMut(&str)) {
    let mut data = Vec::with_capacity(v.len() + 2);
    for k in 0..3usize {
        data.clear();
        data.extend(std::iter::repeat_n(0u8, k));
        data.extend_from_slice(v);
        // Characters 6-bit aligned: the first fully after the k filler
        // bytes, up to the last fully inside `v`.
        let from = (8 * k).div_ceil(6);
        let to = 8 * (k + v.len()) / 6;
        for engine in
            [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
        {
            buf.clear();
            engine.encode_string(&data, buf);
            if let Some(core) = buf.get(from..to) {
                each(core);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IMEI: &str = "356938035643809";

    #[test]
    fn escapes_controls_and_keeps_the_rest() {
        assert_eq!(escape_text("a\nb"), "a\\nb");
        assert_eq!(escape_text("\x1b[31mred\x1b[0m"), "\\x1b[31mred\\x1b[0m");
        assert_eq!(escape_text("tab\there\r\x00\x7f"), "tab\\there\\r\\x00\\x7f");
        assert_eq!(escape_text("c1 \u{9b}31m"), "c1 \\u{9b}31m");
        assert_eq!(escape_text("ls\u{2028}ps\u{2029}"), "ls\\u{2028}ps\\u{2029}");
        assert_eq!(escape_text("\u{202e}fdp.exe\u{2066}x\u{2069}"), "\\u{202e}fdp.exe\\u{2066}x\\u{2069}");
        // Neighbours of the escaped ranges stay: U+00A0, U+2027, U+202F,
        // U+2065, U+206A, and other characters with lead byte 0xc2 / 0xe2.
        for keep in ["\u{a0}", "\u{2027}", "\u{202f}", "\u{2065}", "\u{206a}", "é", "€ – “q”", "back\\slash"] {
            assert!(matches!(escape_text(keep), Cow::Borrowed(_)), "{keep:?}");
        }
        assert!(matches!(escape_text("plain/path.pcap"), Cow::Borrowed(_)));
        assert_eq!(escape_text("é\u{85}é"), "é\\u{85}é");
    }

    #[test]
    fn escaped_text_has_no_control_left() {
        let all: String = (0u32..0x3000).filter_map(char::from_u32).collect();
        let e = escape_text(&all);
        assert!(!e.chars().any(needs_escape));
        assert!(!e.contains('\n'));
    }

    #[test]
    fn shapes_mask_long_digit_runs_only() {
        assert_eq!(mask_shapes("imei=356938035643809&n=1234567890123"), "imei=35***********09&n=1234567890123");
        assert_eq!(mask_shapes("12345678901234"), mask("12345678901234"));
        assert!(matches!(mask_shapes("no digits here 42"), Cow::Borrowed(_)));
        assert_eq!(mask_shapes("x89014103211118510720y"), format!("x{}y", mask("89014103211118510720")));
    }

    #[test]
    fn masks_every_occurrence_in_any_case() {
        let mut m = Masker::new();
        m.learn(IMEI);
        m.learn("ac:de:48:00:11:22");
        assert_eq!(m.mask(&format!("{IMEI}.example.com")), format!("{}.example.com", mask(IMEI)));
        assert_eq!(m.mask("$.356938035643809.imei"), "$.35***********09.imei");
        assert_eq!(m.mask("mac=AC:DE:48:00:11:22,ac:de:48:00:11:22"), "mac=AC*************22,ac*************22");
        assert!(matches!(m.mask("nothing to hide"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_are_not_learnt() {
        let mut m = Masker::new();
        m.learn("abc");
        m.learn_raw("310");
        assert!(m.is_empty());
        assert_eq!(m.mask("abc 310"), "abc 310");
    }

    #[test]
    fn overlapping_values_leave_no_byte_of_either() {
        let mut m = Masker::new();
        m.learn_raw("abcdef123456");
        m.learn_raw("123456789xyz");
        let out = m.mask("<abcdef123456789xyz>");
        assert_eq!(out, format!("<{}>", mask("abcdef123456789xyz")));
        // A value inside another is masked with the longer one.
        m.learn_raw("cdef12");
        assert_eq!(m.mask("abcdef123456"), mask("abcdef123456"));
    }

    #[test]
    fn base64_and_percent_forms_are_masked() {
        let mut m = Masker::new();
        m.learn(IMEI);
        m.learn("user+x@example.org");
        for prefix in ["", "a", "ab", "abc"] {
            let blob = base64::engine::general_purpose::STANDARD.encode(format!("{prefix}imei={IMEI}&v=2"));
            let path = format!("/u/{blob}");
            let out = m.mask(&path);
            // The identifier's characters in the blob are gone.
            let core = &base64_cores(IMEI.as_bytes());
            assert!(core.iter().all(|c| !out.contains(c.as_str())), "{path} -> {out}");
            assert_ne!(out, path);
        }
        let q = "/r?email=user%2Bx%40example.org";
        assert_eq!(m.mask(q), format!("/r?email={}", mask("user%2Bx%40example.org")));
        let h = hex::encode(IMEI);
        assert_eq!(m.mask(&h.to_uppercase()), mask(&h.to_uppercase()));
    }

    #[test]
    fn a_thousand_values_under_one_head_all_mask() {
        let mut m = Masker::new();
        let vals: Vec<String> = (0..1000).map(|i| format!("{:015}", 356_938_035_000_000u64 + i)).collect();
        for v in &vals {
            m.learn_raw(v);
        }
        assert_eq!(m.len(), 1000);
        // One head ("3569"), one length.
        assert_eq!(m.heads.len(), 1);
        assert_eq!(m.heads.get(&head_key(b"3569")).map(Vec::as_slice), Some(&[15][..]));
        for v in [&vals[0], &vals[500], &vals[999]] {
            assert_eq!(m.mask(&format!("id={v};")), format!("id={};", mask(v)), "{v}");
        }
    }

    /// Figures for 100,000 learnt strings (run with --release --ignored).
    #[test]
    #[ignore]
    fn figures_at_the_cap() {
        let t = std::time::Instant::now();
        let mut m = Masker::new();
        let mut n = 0u64;
        while !m.is_full() {
            m.learn(&format!("{:015}", 356_938_035_000_000u64 + n * 7919));
            n += 1;
        }
        let learnt = t.elapsed();
        let line = "GET /api/v1/upload?device=ac:de:48:00:11:22&imei=356938035643809&t=1700000000 HTTP/1.1";
        let t = std::time::Instant::now();
        let mut hits = 0;
        for _ in 0..100_000 {
            hits += usize::from(matches!(m.mask(line), Cow::Owned(_)));
        }
        let masked = t.elapsed();
        let hwm = crate::report::peak_memory_bytes().unwrap_or(0) >> 20;
        eprintln!(
            "{n} values, {} strings, {} heads: learnt in {learnt:?}; 100k masks of a {}-byte line in {masked:?} ({hits} hits); peak {hwm} MiB",
            m.len(),
            m.heads.len(),
            line.len()
        );
    }

    #[test]
    fn the_cap_stops_learning_and_masks_by_shape() {
        let mut m = Masker::with_limits(5000, usize::MAX);
        for i in 0..5010u64 {
            m.learn_raw(&format!("v{i:07}"));
        }
        assert_eq!(m.len(), 5000);
        assert!(m.is_full());
        // Reaching the cap changed what is masked, and the generation.
        assert_eq!(m.generation(), 5001);
        assert_eq!(m.mask("x v0000000 y"), format!("x {} y", mask("v0000000")));
        assert_eq!(m.mask("v0004999"), mask("v0004999"));
        // Not learnt, but past the cap digit shapes are masked.
        assert_eq!(m.mask("v0005005"), "v0005005");
        assert_eq!(m.mask("imsi 310150123456789"), format!("imsi {}", mask("310150123456789")));
        // The byte cap: 10 strings of 8 bytes fit in 80.
        let mut b = Masker::with_limits(MAX_LEARNT, 80);
        for i in 0..20u64 {
            b.learn_raw(&format!("w{i:07}"));
        }
        assert_eq!((b.len(), b.is_full()), (10, true));
        // Values learnt again are not counted twice.
        let mut d = Masker::new();
        d.learn_raw("ABCDEF");
        d.learn_raw("abcdef");
        assert_eq!(d.len(), 1);
    }

    /// A tiny seeded generator (xorshift64*) for the property test.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
        }
    }

    /// What [`Masker::mask`] must give: every occurrence of every learnt
    /// string, found by trying each one at each position.
    fn naive_mask<'a>(m: &Masker, s: &'a str) -> Cow<'a, str> {
        let mut ranges = Vec::new();
        for v in &m.values {
            let n = v.len();
            for i in 0..s.len().saturating_sub(n - 1) {
                if s.as_bytes()[i..i + n].eq_ignore_ascii_case(v.as_bytes()) {
                    ranges.push((i, i + n));
                }
            }
        }
        ranges.sort_unstable();
        if ranges.is_empty() { Cow::Borrowed(s) } else { Cow::Owned(apply(s, &ranges)) }
    }

    #[test]
    fn masks_as_a_naive_search_does() {
        // Small alphabets, so learnt strings share heads and overlap; "é"
        // puts two-byte characters next to matches.
        let alphabet = ["a", "b", "A", "B", "1", "é", ":"];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut matched = 0;
        for case in 0..4000 {
            let letters = 2 + rng.below(alphabet.len() - 1);
            let word = |rng: &mut Rng, max: usize| -> String {
                (0..rng.below(max + 1)).map(|_| alphabet[rng.below(letters)]).collect()
            };
            let mut m = Masker::new();
            let mut learnt = Vec::new();
            for _ in 0..1 + rng.below(8) {
                let v = word(&mut rng, 9);
                if rng.below(8) == 0 {
                    m.learn(&v)
                } else {
                    m.learn_raw(&v)
                }
                learnt.push(v);
            }
            for v in learnt.iter().filter(|v| v.len() >= MIN_LEARNT) {
                assert!(m.values.iter().any(|k| **k == v.to_ascii_lowercase()), "case {case}: {v:?} not learnt");
            }
            for _ in 0..4 {
                let text = word(&mut rng, 40);
                let mut ranges = Vec::new();
                let (steps, stopped) = m.find(text.as_bytes(), usize::MAX, &mut ranges);
                assert_eq!(stopped, None);
                assert!(steps <= 64 * text.len() + 64, "case {case}: {steps} steps for {text:?}");
                let want = naive_mask(&m, &text);
                let got = m.mask(&text);
                matched += usize::from(matches!(want, Cow::Owned(_)));
                assert_eq!(got, want, "case {case}: {text:?} with {:?}", m.values);
                assert_eq!(matches!(got, Cow::Borrowed(_)), matches!(want, Cow::Borrowed(_)));
            }
        }
        // The cases are not all misses.
        assert!(matched > 2000, "{matched}");
    }

    #[test]
    fn thousands_of_values_sharing_a_prefix_mask_in_linear_steps() {
        // 5,000 IMEIs of one 8-digit TAC: one head, one length, however
        // many values.
        let mut m = Masker::new();
        let vals: Vec<String> = (0..5000u64).map(|i| format!("35693803{:07}", i * 37)).collect();
        for v in &vals {
            m.learn(v);
        }
        for v in &vals {
            assert_eq!(m.mask(&format!("id={v};")), format!("id={};", mask(v)), "{v}");
        }
        let text: String = vals.iter().step_by(25).map(|v| format!("imei={v}&")).collect();
        let mut ranges = Vec::new();
        let (steps, stopped) = m.find(text.as_bytes(), usize::MAX, &mut ranges);
        assert_eq!((ranges.len(), stopped), (200, None));
        // Each of the 200 starts hashes and compares its 15 bytes; other
        // positions cost at most a lookup.
        assert!(steps <= 2 * text.len(), "{steps} steps for {} bytes", text.len());
        let out = m.mask(&text);
        assert!(vals.iter().all(|v| !out.contains(v.as_str())));
    }

    #[test]
    fn the_head_filter_grows_and_keeps_every_head() {
        let mut m = Masker::new();
        let vals: Vec<String> = (0..20_000u64).map(|i| format!("{:08x}", i.wrapping_mul(0x9e37_79b9) as u32)).collect();
        for v in &vals {
            m.learn_raw(v);
        }
        assert_eq!(m.heads.len(), 20_000);
        assert!(m.filter.len() * 64 >= FILTER_LOAD * m.heads.len(), "{} words", m.filter.len());
        for v in &vals {
            assert_eq!(m.mask(&format!("/{v}/")), format!("/{}/", mask(v)), "{v}");
        }
    }

    #[test]
    fn values_at_the_edges_of_the_text_mask() {
        let mut m = Masker::new();
        m.learn_raw("abcd1234");
        m.learn_raw("wxyz");
        assert_eq!(m.mask("abcd1234"), mask("abcd1234"));
        assert_eq!(m.mask("abcd1234/x"), format!("{}/x", mask("abcd1234")));
        assert_eq!(m.mask("x/abcd1234"), format!("x/{}", mask("abcd1234")));
        assert_eq!(m.mask("wxyz"), "****");
        assert_eq!(m.mask("wxyz-abcd-wxyz"), "****-abcd-****");
        // A prefix of a value is not the value.
        assert!(matches!(m.mask("x/abcd123"), Cow::Borrowed(_)));
    }

    #[test]
    fn nested_overlapping_and_adjacent_values() {
        let mut m = Masker::new();
        m.learn_raw("aaaa1111");
        m.learn_raw("a111");
        m.learn_raw("1111bbbb");
        // Nested and overlapping: one run.
        assert_eq!(m.mask("<aaaa1111bbbb>"), format!("<{}>", mask("aaaa1111bbbb")));
        assert_eq!(m.mask("<a111>"), "<****>");
        // Touching but not overlapping: two.
        assert_eq!(m.mask("aaaa11111111bbbb"), format!("{}{}", mask("aaaa1111"), mask("1111bbbb")));
        // A value under the same head as a longer one, both present.
        m.learn_raw("aaaa1111cc");
        assert_eq!(m.mask("aaaa1111c aaaa1111cc"), format!("{}c {}", mask("aaaa1111"), mask("aaaa1111cc")));
    }

    #[test]
    fn hex_matches_in_either_case() {
        let mut m = Masker::new();
        m.learn("a1b2c3d4e5f6");
        m.learn_raw("DEADBEEF0042");
        for text in ["A1B2C3D4E5F6", "a1B2c3D4e5F6", "a1b2c3d4e5f6"] {
            assert_eq!(m.mask(text), mask(text), "{text}");
        }
        assert_eq!(m.mask("id=deadbeef0042"), format!("id={}", mask("deadbeef0042")));
        assert_eq!(m.mask("id=DeadBeef0042"), format!("id={}", mask("DeadBeef0042")));
        // Its hex form ("613162...") too, in upper case.
        let h = hex::encode("a1b2c3d4e5f6").to_uppercase();
        assert_eq!(m.mask(&h), mask(&h));
    }

    #[test]
    fn past_the_budget_the_rest_of_the_text_is_masked() {
        // Strings built to share a head at every length: trying each one
        // at each position of a long run of "a" would be cubic.
        let mut m = Masker::new();
        for n in MIN_LEARNT..400 {
            m.learn_raw(&"a".repeat(n));
        }
        m.learn(IMEI);
        let text = format!("GET /é?{}&imei={IMEI}", "a".repeat(3000));
        let budget = text.len() * BUDGET_PER_BYTE + BUDGET_BASE;
        let mut ranges = Vec::new();
        let (steps, stopped) = m.find(text.as_bytes(), budget, &mut ranges);
        assert!(stopped.is_some());
        assert!(steps <= budget + 400, "{steps}");
        let out = m.mask(&text);
        // Nothing learnt shows; what comes before the first value does.
        assert!(out.starts_with("GET /é?aa*"), "{out}");
        assert!(!out.contains("aaa") && !out.contains(IMEI) && !out.contains("imei"), "{out}");
        // A short text with the same set is matched exactly.
        assert_eq!(m.mask("x aaaaa y"), format!("x {} y", mask("aaaaa")));
    }

    #[test]
    fn repeated_values_are_one_lookup_and_do_not_change_the_generation() {
        let mut m = Masker::new();
        m.learn(IMEI);
        let g = m.generation();
        assert!(g > 1, "the value and its forms");
        m.learn(IMEI);
        m.learn_raw(IMEI);
        assert_eq!(m.generation(), g);
        // A string first learnt raw, then as a value, gets its forms.
        m.learn_raw("ab:cd:ef:01");
        let g = m.generation();
        m.learn("AB:CD:EF:01");
        assert!(m.generation() > g);
        assert_eq!(m.mask("ab%3Acd%3Aef%3A01"), mask("ab%3Acd%3Aef%3A01"));
    }
}
