//! Built-in detectors: each file validates one identifier kind and says
//! what it detects, why it matters and which look-alikes it rejects.
//!
//! A detector sees one field at a time: its key (the last name component
//! as lower-case words joined by `_`, e.g. `imei` for `data:$.device.imei`,
//! `wlan_0_mac` for `wlan0Mac`; judged with `keys::is`) and its decoded
//! value, and pushes [`Hit`]s. Kinds that need several fields of a
//! request together (cell location, GPS) see the whole field list. A key
//! that names an identifier's digest (`imei_md5`) is judged by [`digest`]
//! instead of the kind's own detector.

pub mod advertising_id;
pub mod android_id;
pub mod cell;
pub mod device_info;
pub mod digest;
pub mod email;
pub mod geo;
pub mod iccid;
pub mod imei;
pub mod imsi;
pub mod mac;
pub mod meid;
pub mod msisdn;
pub mod serial;
pub mod sip_uri;
pub mod sts;

/// One identifier found by a detector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    pub kind: &'static str,
    pub value: String,
    /// Found by a structure that names it (an IMEI URN, the STS string, an
    /// IMSI matching its realm), not by its shape alone: as sure as a key.
    pub certain: bool,
    /// What besides its shape made the detector report it when no key or
    /// structure names it (`by vendor OUI: ASUS`); shown in the title.
    pub why: Option<String>,
}

impl Hit {
    pub fn new(kind: &'static str, value: impl Into<String>) -> Self {
        Hit { kind, value: value.into(), certain: false, why: None }
    }

    /// A hit whose context names what it is.
    pub fn certain(kind: &'static str, value: impl Into<String>) -> Self {
        Hit { kind, value: value.into(), certain: true, why: None }
    }

    /// The same hit, with the evidence it was reported on.
    pub fn because(self, why: impl Into<String>) -> Self {
        Hit { why: Some(why.into()), ..self }
    }
}

/// The built-in detectors rules can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detector {
    Imei,
    Imsi,
    Meid,
    Iccid,
    Msisdn,
    Serial,
    Mac,
    AndroidId,
    AdvertisingId,
    Email,
    CellLocation,
    GeoLocation,
    DeviceModel,
    OsVersion,
    StsCleartext,
    SipUri,
}

impl Detector {
    pub const ALL: [(&'static str, Detector); 16] = [
        ("imei", Detector::Imei),
        ("imsi", Detector::Imsi),
        ("meid", Detector::Meid),
        ("iccid", Detector::Iccid),
        ("msisdn", Detector::Msisdn),
        ("serial", Detector::Serial),
        ("mac", Detector::Mac),
        ("android_id", Detector::AndroidId),
        ("advertising_id", Detector::AdvertisingId),
        ("email", Detector::Email),
        ("cell_location", Detector::CellLocation),
        ("geo_location", Detector::GeoLocation),
        ("device_model", Detector::DeviceModel),
        ("os_version", Detector::OsVersion),
        ("sts_cleartext", Detector::StsCleartext),
        ("sip_uri", Detector::SipUri),
    ];

    pub fn by_name(name: &str) -> Option<Detector> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, d)| *d)
    }

    /// The identifier kind this detector reports (STS reports several).
    pub fn kind(self) -> &'static str {
        Self::ALL.iter().find(|(_, d)| *d == self).map_or("", |(n, _)| n)
    }

    /// This detector's bit in [`crate::detect::keys::Key::detectors`].
    pub fn bit(self) -> u32 {
        1 << self as u32
    }

    /// The detectors (a bit each) that can find anything in a value with
    /// these features when the key is not one they trust: a cheap
    /// pre-check that spares most fields the detectors themselves.
    pub fn without_key_bits(f: &Features) -> u32 {
        let digits = f.longest_digit_run;
        let mut bits = 0;
        if digits >= 15 || (f.has_colon && digits >= 6) {
            bits |= Detector::Imei.bit();
        }
        if digits >= 15 {
            bits |= Detector::Imsi.bit();
        }
        if digits >= 19 {
            bits |= Detector::Iccid.bit();
        }
        if f.has_separator || f.hex12_word {
            bits |= Detector::Mac.bit();
        }
        if f.has_at {
            bits |= Detector::Email.bit();
        }
        if f.has_colon {
            bits |= Detector::StsCleartext.bit();
        }
        bits
    }

    /// `without_key_bits(&Features::of(v)) != 0`, without reading all of
    /// `v` when it can tell sooner: at the first `:`, `-` or `@`, a run of
    /// 15 digits or a hex word of 12 (`might_match` asks it of every JSON
    /// leaf).
    pub fn any_without_key(v: &str) -> bool {
        let (mut run, mut word, mut word_hex) = (0usize, 0usize, true);
        for &c in v.as_bytes() {
            let k = CLASS[usize::from(c)];
            if k & (AT | COLON | DASH) != 0 {
                return true;
            }
            if k & ALNUM != 0 {
                word += 1;
                word_hex &= k & HEX != 0;
                run = if k & DIGIT != 0 { run + 1 } else { 0 };
                if run >= 15 {
                    return true;
                }
            } else {
                if word == 12 && word_hex {
                    return true;
                }
                (run, word, word_hex) = (0, 0, true);
            }
        }
        word == 12 && word_hex
    }

    /// True for detectors that judge a whole request at once.
    pub fn per_request(self) -> bool {
        matches!(self, Detector::CellLocation | Detector::GeoLocation)
    }

    /// Runs a per-field detector.
    pub fn field(self, key: &str, value: &str, out: &mut Vec<Hit>) {
        match self {
            Detector::Imei => imei::detect(key, value, out),
            Detector::Imsi => imsi::detect(key, value, out),
            Detector::Meid => meid::detect(key, value, out),
            Detector::Iccid => iccid::detect(key, value, out),
            Detector::Msisdn => msisdn::detect(key, value, out),
            Detector::Serial => serial::detect(key, value, out),
            Detector::Mac => mac::detect(key, value, out),
            Detector::AndroidId => android_id::detect(key, value, out),
            Detector::AdvertisingId => advertising_id::detect(key, value, out),
            Detector::Email => email::detect(key, value, out),
            Detector::DeviceModel => device_info::detect_model(key, value, out),
            Detector::OsVersion => device_info::detect_os_version(key, value, out),
            Detector::StsCleartext => sts::detect(key, value, out),
            Detector::SipUri => sip_uri::detect(key, value, out),
            Detector::CellLocation | Detector::GeoLocation => {}
        }
    }
}

/// What a value holds, measured in one pass, for [`Detector::without_key_bits`].
#[derive(Clone, Copy, Debug, Default)]
pub struct Features {
    pub longest_digit_run: usize,
    pub has_at: bool,
    /// `:` or `-` (MAC separators).
    pub has_separator: bool,
    pub has_colon: bool,
    /// A word (a run of letters and digits between other characters) of
    /// exactly 12 hex digits: a bare MAC could be in it.
    pub hex12_word: bool,
}

/// Byte classes of [`Features::of`].
const DIGIT: u8 = 1;
const ALNUM: u8 = 2;
const HEX: u8 = 4;
const AT: u8 = 8;
const COLON: u8 = 16;
const DASH: u8 = 32;

const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        let mut k = 0;
        if c.is_ascii_digit() {
            k |= DIGIT;
        }
        if c.is_ascii_alphanumeric() {
            k |= ALNUM;
        }
        if c.is_ascii_hexdigit() {
            k |= HEX;
        }
        k |= match c {
            b'@' => AT,
            b':' => COLON,
            b'-' => DASH,
            _ => 0,
        };
        t[b] = k;
        b += 1;
    }
    t
};

impl Features {
    /// One table lookup per byte, and no branch on what the byte is.
    pub fn of(v: &str) -> Features {
        let (mut run, mut longest) = (0usize, 0usize);
        let (mut word, mut word_hex, mut hex12) = (0usize, true, false);
        let mut marks = 0u8;
        for &b in v.as_bytes() {
            let c = CLASS[usize::from(b)];
            marks |= c;
            let alnum = c & ALNUM != 0;
            hex12 |= !alnum & (word == 12) & word_hex;
            word_hex = !alnum | (word_hex & (c & HEX != 0));
            word = (word + 1) * usize::from(alnum);
            let digit = usize::from(c & DIGIT);
            run = (run + 1) * digit;
            longest = longest.max(run);
        }
        Features {
            longest_digit_run: longest,
            has_at: marks & AT != 0,
            has_separator: marks & (COLON | DASH) != 0,
            has_colon: marks & COLON != 0,
            hex12_word: hex12 | ((word == 12) & word_hex),
        }
    }
}

/// The Luhn check (ISO/IEC 7812-1) over ASCII digits.
pub fn luhn_ok(digits: &[u8]) -> bool {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// Runs of ASCII digits in `s` whose length is in `lens` (whole runs, not
/// part of a longer run of digits).
pub fn digit_runs(s: &str, lens: std::ops::RangeInclusive<usize>) -> impl Iterator<Item = &str> {
    digit_spans(s, lens).map(|(a, e)| &s[a..e])
}

/// [`digit_runs`] as byte ranges of `s`.
fn digit_spans(s: &str, lens: std::ops::RangeInclusive<usize>) -> impl Iterator<Item = (usize, usize)> {
    let b = s.as_bytes();
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            if !b[i].is_ascii_digit() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if lens.contains(&(i - start)) {
                return Some((start, i));
            }
        }
        None
    })
}

/// [`digit_runs`] that stand alone as numbers, for the detectors that go
/// by shape (IMEI, IMSI, ICCID): not inside a longer token of hex digits.
/// A digest or random id (`0eb6dd664787d313418281594602ede5`) holds
/// digit runs of any length by chance: one random 32-digit hex token in
/// about 370 has a run of exactly 15 digits. Other letters do not bind a run to its token
/// (`IMEI356938035643809`, `sn356938035643809`); neither does punctuation
/// (`IMEI:…`, `id=…,`). `pad` is a letter allowed as a token's last
/// character just after the run (an ICCID's `F` filler): `None` for none.
pub fn number_runs(s: &str, lens: std::ops::RangeInclusive<usize>, pad: Option<u8>) -> impl Iterator<Item = &str> {
    let b = s.as_bytes();
    digit_spans(s, lens).filter(move |&(a, e)| !in_hex_token(b, a, e, pad)).map(|(a, e)| &s[a..e])
}

/// Is `b[a..e]` part of a longer run of letters and digits that are all hex
/// digits (a single `pad` letter closing the token after it excepted)?
/// Looks at the token's other characters only: no allocation.
fn in_hex_token(b: &[u8], a: usize, e: usize, pad: Option<u8>) -> bool {
    let before = b[..a].iter().rev().take_while(|c| c.is_ascii_alphanumeric());
    let after = b[e..].iter().take_while(|c| c.is_ascii_alphanumeric());
    let (mut others, mut hex) = (0usize, true);
    for c in before.chain(after) {
        others += 1;
        hex &= c.is_ascii_hexdigit();
    }
    let padded = others == 1 && pad.is_some_and(|p| b.get(e).is_some_and(|c| c.eq_ignore_ascii_case(&p)));
    others > 0 && hex && !padded
}

/// All digits of `s` if `s` is only digits and light separators.
pub fn digits_only(s: &str) -> Option<String> {
    let t = s.trim();
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit() || b" -.".contains(&b)) {
        return None;
    }
    Some(t.bytes().filter(u8::is_ascii_digit).map(char::from).collect())
}

/// True when every character is the same (`000000000000000`).
pub fn all_same(s: &str) -> bool {
    let mut it = s.bytes();
    it.next().is_none_or(|f| it.all(|b| b == f))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-by-byte reading `Features::of` replaced, kept to hold the
    /// table-driven one to it.
    fn features_by_branches(v: &str) -> Features {
        let mut f = Features::default();
        let mut run = 0;
        let (mut word, mut word_hex) = (0usize, true);
        for b in v.bytes() {
            if b.is_ascii_alphanumeric() {
                word += 1;
                word_hex &= b.is_ascii_hexdigit();
            } else {
                f.hex12_word |= word == 12 && word_hex;
                (word, word_hex) = (0, true);
            }
            if b.is_ascii_digit() {
                run += 1;
                f.longest_digit_run = f.longest_digit_run.max(run);
                continue;
            }
            run = 0;
            match b {
                b'@' => f.has_at = true,
                b':' => {
                    f.has_colon = true;
                    f.has_separator = true;
                }
                b'-' => f.has_separator = true,
                _ => {}
            }
        }
        f.hex12_word |= word == 12 && word_hex;
        f
    }

    /// `any_without_key` says what `without_key_bits` of the features
    /// says, on values without the separators that decide at once: digit
    /// runs of 13 to 16, hex runs of 11 to 13, between other letters,
    /// dots, spaces, `_` and multi-byte text.
    #[test]
    fn any_without_key_is_without_key_bits() {
        let others = ["g", "Z", ".", " ", "é", "_", "7", "a"];
        let mut x = 0x517e_4b17_u64;
        let (mut yes, mut no) = (0, 0);
        for _ in 0..50_000 {
            let mut s = String::new();
            for _ in 0..(crate::util::xorshift(&mut x) % 4) {
                let r = crate::util::xorshift(&mut x);
                let n = (r >> 8) as usize % 4;
                match r % 3 {
                    0 => s.extend((0..13 + n).map(|i| char::from(b'0' + ((r >> (12 + i)) % 10) as u8))),
                    1 => s.extend(
                        (0..11 + n % 3).map(|i| char::from(b"0123456789abcdef"[((r >> (12 + i)) % 16) as usize])),
                    ),
                    _ => s.push_str(others[(r >> 20) as usize % others.len()]),
                }
            }
            let want = Detector::without_key_bits(&Features::of(&s)) != 0;
            assert_eq!(Detector::any_without_key(&s), want, "{s:?}");
            if want { yes += 1 } else { no += 1 }
        }
        assert!(yes > 5_000 && no > 5_000, "{yes} {no}");
    }

    #[test]
    fn features_agree_with_the_branching_reading() {
        // Strings over an alphabet where every class boundary is likely:
        // digits, hex and other letters, separators, '@', multi-byte text.
        let alphabet = ["0", "7", "9", "a", "F", "g", "Z", ":", "-", "@", ".", " ", "é", "\u{1F600}"];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..50_000 {
            crate::util::xorshift(&mut x);
            let len = (x % 40) as usize;
            let mut s = String::new();
            let mut y = x;
            for _ in 0..len {
                y = y.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // Long runs of one class more often than not.
                let pick = if (y >> 60) < 10 { (y >> 33) % 4 } else { (y >> 33) % alphabet.len() as u64 };
                s.push_str(alphabet[pick as usize]);
            }
            let (a, b) = (Features::of(&s), features_by_branches(&s));
            assert_eq!(format!("{a:?}"), format!("{b:?}"), "{s:?}");
            assert_eq!(Detector::any_without_key(&s), Detector::without_key_bits(&a) != 0, "{s:?}");
        }
        for s in ["", "0123456789ab", "0123456789ab:", "x0123456789abx", "0123456789abc", "@", "12:34-56"] {
            assert_eq!(format!("{:?}", Features::of(s)), format!("{:?}", features_by_branches(s)), "{s:?}");
        }
    }

    #[test]
    fn luhn_known_values() {
        // 490154203237518 is the IMEI used in 3GPP TS 23.003 examples.
        assert!(luhn_ok(b"490154203237518"));
        assert!(!luhn_ok(b"490154203237519"));
        assert!(luhn_ok(b"79927398713"));
    }

    #[test]
    fn runs_are_whole() {
        let v: Vec<&str> = digit_runs("a123456789012345b1234567890123456", 15..=15).collect();
        assert_eq!(v, vec!["123456789012345"]);
    }

    #[test]
    fn numbers_stand_alone_not_inside_hex_tokens() {
        fn runs(s: &str, pad: Option<u8>) -> Vec<&str> {
            number_runs(s, 15..=15, pad).collect()
        }
        // A random request id with a Luhn-valid run in it (d200.pcap frame 241784).
        assert!(runs("req_id=0eb6dd664787d313418281594602ede5", None).is_empty());
        assert!(runs("0EB6DD664787D313418281594602EDE5", None).is_empty());
        assert!(runs("a313418281594602", None).is_empty(), "an Android ID's shape");
        for s in [
            "IMEI:356938035643809",
            "id=356938035643809,",
            "imei356938035643809",
            "356938035643809",
            "x 356938035643809",
        ] {
            assert_eq!(runs(s, None), vec!["356938035643809"], "{s}");
        }
        // A filler letter after the run only, and only alone.
        assert_eq!(runs("356938035643809F", Some(b'F')), vec!["356938035643809"]);
        assert_eq!(runs("356938035643809f;", Some(b'F')), vec!["356938035643809"]);
        assert!(runs("356938035643809F", None).is_empty());
        assert!(runs("356938035643809FF", Some(b'F')).is_empty());
        assert!(runs("a356938035643809F", Some(b'F')).is_empty());
        assert!(runs("F356938035643809", Some(b'F')).is_empty());
    }
}
