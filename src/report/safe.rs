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

use aho_corasick::AhoCorasick;
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
/// three-letter word) would mask half of every line.
pub const MIN_LEARNT: usize = 4;
/// Most distinct strings (values and their encoded forms) a [`Masker`]
/// keeps.
pub const MAX_LEARNT: usize = 100_000;
/// Most bytes of learnt strings a [`Masker`] keeps.
pub const MAX_LEARNT_BYTES: usize = 16 << 20;
/// Values learnt before they are compiled into an automaton; until then
/// they are searched one by one.
const PENDING_MAX: usize = 64;
/// Contiguous NFAs: a DFA (what the crate picks for small sets) costs
/// several times as much to build and memory per state, for little gain
/// on the short texts masked here.
const KIND: Option<aho_corasick::AhoCorasickKind> = Some(aho_corasick::AhoCorasickKind::ContiguousNFA);

/// One compiled run of learnt strings: `values[start..end]`, `start` being
/// the previous level's end.
struct Level {
    end: usize,
    automaton: AhoCorasick,
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
/// Cost: learnt strings are compiled into Aho-Corasick automata kept as
/// levels of decreasing size (a binary counter: two levels of equal size
/// merge), so each string is compiled O(log n) times over a run and a
/// [`Masker::mask`] call is O(log n) scans of its text, plus up to
/// [`PENDING_MAX`] substring searches for strings not yet compiled.
/// Beyond [`MAX_LEARNT`] strings or [`MAX_LEARNT_BYTES`] bytes (or the
/// caps given to [`Masker::with_limits`]) nothing more is learnt and
/// [`mask_shapes`] is applied as well.
pub struct Masker {
    /// Learnt strings, ASCII-lowercased, in learning order.
    values: Vec<Box<str>>,
    /// Hash of a learnt string to its index: deduplication without a
    /// second copy. A collision only learns the string twice.
    seen: HashMap<u64, u32>,
    /// Hashes of the values given to [`Masker::learn`] (their forms
    /// learnt with them): a repeated value is one lookup.
    whole: std::collections::HashSet<u64>,
    hasher: std::collections::hash_map::RandomState,
    bytes: usize,
    levels: Vec<Level>,
    full: bool,
    max_values: usize,
    max_bytes: usize,
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
        Masker {
            values: Vec::new(),
            seen: HashMap::new(),
            whole: Default::default(),
            hasher: Default::default(),
            bytes: 0,
            levels: Vec::new(),
            full: false,
            max_values: max_values.min(MAX_LEARNT),
            max_bytes,
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
        let h = self.hasher.hash_one(value.to_ascii_lowercase().as_bytes());
        if !self.whole.insert(h) {
            return;
        }
        self.learn_raw(value);
        let pct = percent_encoding::utf8_percent_encode(value, URI_COMPONENT).to_string();
        self.learn_raw(&pct);
        self.learn_raw(&hex::encode(value));
        for core in base64_cores(value.as_bytes()) {
            self.learn_raw(&core);
        }
    }

    /// Was this lower-case string learnt?
    fn knows(&self, lower: &str) -> bool {
        let h = self.hasher.hash_one(lower.as_bytes());
        self.seen.get(&h).is_some_and(|&i| self.values.get(i as usize).is_some_and(|v| **v == *lower))
    }

    /// Learns one string as it is: the raw (encoded) text a value was
    /// matched in.
    pub fn learn_raw(&mut self, raw: &str) {
        if raw.len() < MIN_LEARNT || self.full {
            return;
        }
        let lower = raw.to_ascii_lowercase();
        if self.knows(&lower) {
            return;
        }
        let h = self.hasher.hash_one(lower.as_bytes());
        if self.values.len() >= self.max_values || self.bytes.saturating_add(lower.len()) > self.max_bytes {
            self.full = true;
            // Nothing more will come: compile what is pending.
            self.compile();
            return;
        }
        self.bytes += lower.len();
        // MAX_LEARNT fits in u32.
        self.seen.entry(h).or_insert(self.values.len() as u32);
        self.values.push(lower.into_boxed_str());
        if self.values.len() - self.compiled() >= PENDING_MAX {
            self.compile();
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

    /// Strings held in automata (the rest are pending).
    fn compiled(&self) -> usize {
        self.levels.last().map_or(0, |l| l.end)
    }

    /// Compiles the pending strings into a level, then merges the last
    /// two levels while the older is not larger.
    fn compile(&mut self) {
        let end = self.values.len();
        let start = self.compiled();
        if start == end {
            return;
        }
        self.push_level(start, end);
        loop {
            let n = self.levels.len();
            if n < 2 {
                break;
            }
            let a_start = if n >= 3 { self.levels[n - 3].end } else { 0 };
            let (a_end, b_end) = (self.levels[n - 2].end, self.levels[n - 1].end);
            if a_end - a_start > b_end - a_end {
                break;
            }
            self.levels.truncate(n - 2);
            self.push_level(a_start, b_end);
        }
    }

    fn push_level(&mut self, start: usize, end: usize) {
        let built = AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .kind(KIND)
            .build(self.values[start..end].iter().map(|v| v.as_bytes()));
        match built {
            Ok(automaton) => self.levels.push(Level { end, automaton }),
            // Only an automaton over the size limits of the crate fails
            // to build, far beyond MAX_LEARNT_BYTES; mask by shape then.
            Err(_) => self.full = true,
        }
    }

    /// `s` with every occurrence of every learnt string masked (and digit
    /// runs too once the cap was reached); borrowed when nothing matched.
    pub fn mask<'a>(&self, s: &'a str) -> Cow<'a, str> {
        if s.len() < MIN_LEARNT {
            return Cow::Borrowed(s);
        }
        let mut ranges = Vec::new();
        for level in &self.levels {
            ranges.extend(level.automaton.find_overlapping_iter(s).map(|m| (m.start(), m.end())));
        }
        for v in &self.values[self.compiled()..] {
            find_ignore_case(s.as_bytes(), v.as_bytes(), &mut ranges);
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
}

/// Appends the ranges where `needle` (ASCII-lowercased, not empty) occurs
/// in `hay`, ignoring ASCII case: candidates by its first byte (memchr),
/// then a comparison. No searcher is built, so a search costs nothing
/// beyond the scan: pending strings are searched once per masked text.
fn find_ignore_case(hay: &[u8], needle: &[u8], out: &mut Vec<(usize, usize)>) {
    let Some(&first) = needle.first() else { return };
    let n = needle.len();
    let mut from = 0;
    while let Some(i) = memchr::memchr2(first, first.to_ascii_uppercase(), &hay[from..]) {
        let at = from + i;
        if hay.get(at..at + n).is_some_and(|w| w.eq_ignore_ascii_case(needle)) {
            out.push((at, at + n));
        }
        from = at + 1;
    }
}

/// Characters percent-encoded in a URI component: all but the unreserved
/// ones of RFC 3986.
const URI_COMPONENT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// The base64 characters that depend on `v` alone when `v` sits at each
/// of the three alignments inside longer base64-encoded data, in both
/// alphabets: whatever surrounds it, these appear verbatim.
fn base64_cores(v: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for k in 0..3usize {
        let mut data = vec![0u8; k];
        data.extend_from_slice(v);
        // Characters 6-bit aligned: the first fully after the k filler
        // bytes, up to the last fully inside `v`.
        let from = (8 * k).div_ceil(6);
        let to = 8 * (k + v.len()) / 6;
        for engine in
            [&base64::engine::general_purpose::STANDARD_NO_PAD, &base64::engine::general_purpose::URL_SAFE_NO_PAD]
        {
            let enc = engine.encode(&data);
            if let Some(core) = enc.get(from..to)
                && !out.iter().any(|c| c == core)
            {
                out.push(core.to_string());
            }
        }
    }
    out
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
    fn pending_and_compiled_values_both_mask() {
        let mut m = Masker::new();
        let vals: Vec<String> = (0..1000).map(|i| format!("{:015}", 356_938_035_000_000u64 + i)).collect();
        for v in &vals {
            m.learn_raw(v);
        }
        assert_eq!(m.len(), 1000);
        // 1000 = 15 levels of 64 compiled (merged) + 40 pending.
        assert!(m.levels.len() <= 10);
        assert_eq!(m.compiled(), 960);
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
            "{n} values, {} strings, {} levels: learnt in {learnt:?}; 100k masks of a {}-byte line in {masked:?} ({hits} hits); peak {hwm} MiB",
            m.len(),
            m.levels.len(),
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
        assert!(m.levels.len() <= 7);
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
}
