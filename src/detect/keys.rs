//! Key names per identifier kind, matched as words. The last component of
//! a field name is cut into lower-case words (`wlan0_mac` -> wlan 0 mac,
//! `deviceIMEI` -> device imei, `imeiMd5` -> imei md5) and judged against
//! the dictionaries of `rules/keys.toml` (data, compiled in, so a reviewer
//! sees every name a detector trusts in one file; its header says the
//! rules): one entry of a kind, with around it only words allowed for that
//! kind, numbers, and at most one hash name (then the value is that
//! identifier's digest). Words, not substrings: `machine` is not `mac`.
//!
//! Cheap per field: [`Key::of`] splits and judges a name once, on the
//! stack; the dictionaries are one hash map from a word (or words run
//! together) to what it may be, looked up for each run of the name's
//! words (at most 36 for the 8 words a name may have).

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use serde::Deserialize;

use super::validators::Detector;

/// Lower-cases and keeps letters and digits: `Device_IMEI` -> `deviceimei`.
pub fn normalize(key: &str) -> String {
    key.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// The last component of a field name: `data:$.cells[0].cid` -> `cid`,
/// `ro.serialno` -> `serialno`; then normalised.
pub fn last_component(name: &str) -> String {
    normalize(tail_of(name))
}

/// The last component of a name, not yet normalised.
fn tail_of(name: &str) -> &str {
    // A quoted JSON key (`["ro.serialno"]`) is a name of its own.
    let name = bracket_key(name).unwrap_or(name);
    // By bytes (the separators are ASCII, so the cuts fall between
    // characters): after the last separator, up to the first `[`.
    let from = name.bytes().rposition(|b| matches!(b, b':' | b'.' | b'/' | b'@')).map_or(0, |i| i + 1);
    let tail = &name[from..];
    // A short tail: a loop, not memchr's setup.
    let tail = tail.bytes().position(|b| b == b'[').map_or(tail, |i| &tail[..i]);
    let tail = if tail.is_empty() { name } else { tail };
    // `X-IMEI`, `x-device-id`: the extension-header prefix is not the name.
    tail.strip_prefix("X-").or_else(|| tail.strip_prefix("x-")).filter(|t| !t.is_empty()).unwrap_or(tail)
}

/// Is `key` (words joined by `_`, as detectors receive keys) `name`
/// written without separators (`if_none_match` is `ifnonematch`)?
pub fn compact_eq(key: &str, name: &str) -> bool {
    key.bytes().filter(|&b| b != b'_').eq(name.bytes())
}

/// The key of a trailing `["$device_id"]` JSON path step.
fn bracket_key(name: &str) -> Option<&str> {
    let inner = name.strip_suffix("\"]")?;
    let start = inner.rfind("[\"")?;
    Some(&inner[start + 2..])
}

/// Most letters and digits a judged name has: longer names are no key
/// (every dictionary name is far shorter).
pub const MAX_KEY: usize = 40;
/// Most words a judged name has.
const MAX_WORDS: usize = 8;
/// The words joined by `_`.
const MAX_TEXT: usize = MAX_KEY + MAX_WORDS - 1;

/// The words of a name, lower case, run together in `buf`; word `i` is
/// `buf[ends[i-1]..ends[i]]`.
#[derive(Clone, Copy)]
struct Words {
    buf: [u8; MAX_KEY],
    ends: [u8; MAX_WORDS],
    n: usize,
}

impl Words {
    fn len(&self) -> usize {
        if self.n == 0 { 0 } else { usize::from(self.ends[self.n - 1]) }
    }

    fn start(&self, i: usize) -> usize {
        if i == 0 { 0 } else { usize::from(self.ends[i - 1]) }
    }

    /// Words `i..j` run together.
    fn run(&self, i: usize, j: usize) -> &str {
        // Only ASCII letters and digits are stored.
        std::str::from_utf8(&self.buf[self.start(i)..usize::from(self.ends[j - 1])]).unwrap_or("")
    }

    /// Cuts `s` into words; `None` when it has more letters and digits
    /// than [`MAX_KEY`] or more words than [`MAX_WORDS`].
    fn split(s: &str) -> Option<Words> {
        #[derive(Clone, Copy, PartialEq)]
        enum C {
            Lower,
            Upper,
            Digit,
        }
        let class = |b: u8| match b {
            b'a'..=b'z' => Some(C::Lower),
            b'A'..=b'Z' => Some(C::Upper),
            b'0'..=b'9' => Some(C::Digit),
            _ => None,
        };
        let mut w = Words { buf: [0; MAX_KEY], ends: [0; MAX_WORDS], n: 0 };
        let mut len = 0usize;
        // Start of the word being read, and the class of its last byte.
        let mut start = 0usize;
        let mut prev: Option<C> = None;
        let b = s.as_bytes();
        fn end_word(w: &mut Words, at: usize, start: &mut usize) -> Option<()> {
            if at > *start {
                if w.n == MAX_WORDS {
                    return None;
                }
                w.ends[w.n] = u8::try_from(at).ok()?;
                w.n += 1;
                *start = at;
            }
            Some(())
        }
        for (i, &c) in b.iter().enumerate() {
            let Some(k) = class(c) else {
                end_word(&mut w, len, &mut start)?;
                prev = None;
                continue;
            };
            let next = b.get(i + 1).copied().and_then(class);
            if let Some(p) = prev {
                let hump =
                    (p == C::Lower && k == C::Upper) || (p == C::Upper && k == C::Upper && next == Some(C::Lower));
                let letters_digits = (p == C::Digit) != (k == C::Digit);
                if hump || (letters_digits && !hash_name_digits(&w.buf[start..len], &b[i..])) {
                    end_word(&mut w, len, &mut start)?;
                } else if letters_digits {
                    // `imeimd5`: the hash name is a word of its own.
                    let tail = if w.buf[start..len].ends_with(b"md") { 2 } else { 3 };
                    end_word(&mut w, len - tail, &mut start)?;
                }
            }
            if len == MAX_KEY {
                return None;
            }
            w.buf[len] = c.to_ascii_lowercase();
            len += 1;
            prev = Some(k);
        }
        end_word(&mut w, len, &mut start)?;
        Some(w)
    }
}

/// Do the letters of a word end in a hash name that the digits at the
/// start of `rest` complete (`md` + `5`, `sha` + `1` or `256`)?
fn hash_name_digits(letters: &[u8], rest: &[u8]) -> bool {
    let digits = &rest[..rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len())];
    (letters.ends_with(b"md") && digits == b"5") || (letters.ends_with(b"sha") && (digits == b"1" || digits == b"256"))
}

/// The digest a hash name says a value is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algo {
    #[default]
    None,
    Md5,
    Sha1,
    Sha256,
    /// `hash`, `hashed`, `digest`: the value's length tells.
    Any,
}

impl Algo {
    const ALL: [Algo; 5] = [Algo::None, Algo::Md5, Algo::Sha1, Algo::Sha256, Algo::Any];

    fn of_word(w: &str) -> Algo {
        match w {
            "md5" => Algo::Md5,
            "sha1" => Algo::Sha1,
            "sha256" => Algo::Sha256,
            "hash" | "hashed" | "digest" | "sha" => Algo::Any,
            _ => Algo::None,
        }
    }
}

/// A judged field name, on the stack (no allocation per field).
#[derive(Clone, Copy)]
pub struct Key {
    /// The words joined by `_` (`wlan_0_mac`): what detectors are given.
    text: [u8; MAX_TEXT],
    text_len: u8,
    /// Letters and digits only (`wlan0mac`): what pattern rules compare.
    compact: [u8; MAX_KEY],
    compact_len: u8,
    /// Detectors (a bit per [`Detector`]) whose key this is.
    detectors: u32,
    /// The detector whose identifier's digest the name says the value is
    /// (one bit at most), and the digest.
    hashed: u32,
    algo: Algo,
}

impl Default for Key {
    fn default() -> Key {
        Key {
            text: [0; MAX_TEXT],
            text_len: 0,
            compact: [0; MAX_KEY],
            compact_len: 0,
            detectors: 0,
            hashed: 0,
            algo: Algo::None,
        }
    }
}

/// Names remembered per thread by [`Key::cached`], and the longest.
const CACHED: usize = 256;
const CACHED_NAME: usize = 48;

/// One remembered name and what it was judged.
#[derive(Clone, Copy)]
struct Cached<T> {
    /// `u8::MAX`: empty.
    len: u8,
    name: [u8; CACHED_NAME],
    value: T,
}

/// A direct-mapped table of names: requests repeat the same few.
type NameCache<T> = std::cell::RefCell<Vec<Cached<T>>>;

fn name_cache<T: Copy + Default>() -> NameCache<T> {
    std::cell::RefCell::new(vec![Cached { len: u8::MAX, name: [0; CACHED_NAME], value: T::default() }; CACHED])
}

thread_local! {
    /// [`Key::cached`]'s.
    static KEYS_SEEN: NameCache<Key> = name_cache();
    /// [`is`]'s: the lists a key's words name, plain.
    static PLAIN_SEEN: NameCache<u32> = name_cache();
}

/// `judge(name)`, remembered in `cache` for the last names seen on this
/// thread (a name of at most [`CACHED_NAME`] bytes; longer ones are
/// judged each time). `judge` must depend on the name alone.
fn remembered<T: Copy + 'static>(
    cache: &'static std::thread::LocalKey<NameCache<T>>,
    name: &str,
    judge: impl FnOnce(&str) -> T,
) -> T {
    let b = name.as_bytes();
    if b.len() > CACHED_NAME {
        return judge(name);
    }
    let h = b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3));
    let slot = (h ^ (h >> 32)) as usize % CACHED;
    cache.with(|c| {
        let mut c = c.borrow_mut();
        let e = &mut c[slot];
        if usize::from(e.len) == b.len() && &e.name[..b.len()] == b {
            return e.value;
        }
        let value = judge(name);
        e.len = b.len() as u8;
        e.name[..b.len()].copy_from_slice(b);
        e.value = value;
        value
    })
}

impl Key {
    /// [`Key::of`], remembered for the last names seen on this thread (a
    /// last component of at most 48 bytes; longer ones are judged each
    /// time).
    pub fn cached(name: &str) -> Key {
        // By the last component: JSON paths differ by their indexes
        // (`$.events[12].imei`) where their keys do not.
        remembered(&KEYS_SEEN, tail_of(name), Key::of_tail)
    }

    /// The last component of a field name (see [`last_component`]), cut
    /// into words and judged; empty when longer than [`MAX_KEY`] letters
    /// and digits or [`MAX_WORDS`] words.
    pub fn of(name: &str) -> Key {
        Key::of_tail(tail_of(name))
    }

    /// [`Key::of`] a name's last component.
    fn of_tail(tail: &str) -> Key {
        let Some(w) = Words::split(tail) else {
            return Key::default();
        };
        let mut k = Key::default();
        for i in 0..w.n {
            let word = &w.buf[w.start(i)..usize::from(w.ends[i])];
            let at = usize::from(k.text_len);
            if i > 0 {
                k.text[at] = b'_';
            }
            let at = at + usize::from(i > 0);
            k.text[at..at + word.len()].copy_from_slice(word);
            // At most MAX_TEXT: the letters and digits, and one `_` less
            // than there are words.
            k.text_len = (at + word.len()) as u8;
        }
        let len = w.len();
        k.compact[..len].copy_from_slice(&w.buf[..len]);
        k.compact_len = len as u8;
        let j = judge(&w);
        k.detectors = detectors_of(j.plain);
        // A hashed name of two kinds (`device_id_md5`: IMEI or Android
        // ID) is reported as the first; a profile, if given, corrects it.
        let first = j.hashed & j.hashed.wrapping_neg();
        k.hashed = detectors_of(first);
        k.algo = if first == 0 { Algo::None } else { j.algo };
        k
    }

    /// The words joined by `_`: `wlan_0_mac`, `device_imei`, `imei`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text[..usize::from(self.text_len)]).unwrap_or("")
    }

    /// Letters and digits only, lower case: `wlan0mac`.
    pub fn compact(&self) -> &str {
        std::str::from_utf8(self.compact_bytes()).unwrap_or("")
    }

    /// [`Key::compact`]'s bytes (ASCII), not validated again.
    pub fn compact_bytes(&self) -> &[u8] {
        &self.compact[..usize::from(self.compact_len)]
    }

    /// Which detectors trust this key: a bit per [`Detector`] (see
    /// [`Detector::bit`]).
    pub fn detectors(&self) -> u32 {
        self.detectors
    }

    /// The detector (a bit, or 0) whose identifier's digest this key
    /// names (`imei_md5`), and which digest.
    pub fn hashed(&self) -> (u32, Algo) {
        (self.hashed, self.algo)
    }
}

/// One dictionary: a bit among the lists of `rules/keys.toml`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct List(u32);

/// Is `key` (a field name's last component, in any spelling: `wan_mac`,
/// `wanMac`, or the words [`Key::as_str`] gives) a name of `list`, plain
/// (not hashed)?
pub fn is(list: &List, key: &str) -> bool {
    // Each detector asks of the same keys: remembered per thread.
    let plain = remembered(&PLAIN_SEEN, key, |key| Words::split(key).map_or(0, |w| judge(&w).plain));
    plain & list.0 != 0
}

/// What a word, or words run together, may be in a name.
#[derive(Clone, Copy, Debug, Default)]
struct Token {
    /// Lists it is an entry of.
    entry: u32,
    /// Lists it may stand beside.
    around: u32,
    algo: Algo,
}

/// The dictionaries compiled: every entry and `[around]` word, by its
/// letters and digits.
struct Dictionary {
    tokens: HashMap<Box<str>, Token, std::hash::BuildHasherDefault<crate::util::FnvHasher>>,
    longest: usize,
}

/// Lists (bits) a name belongs to, plainly and hashed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Judged {
    plain: u32,
    hashed: u32,
    algo: Algo,
}

/// Judges words against the dictionaries: the lists for which the words
/// can be read as one entry with only allowed words, numbers and at most
/// one hash name around it. Reachability per list (a bit each) over the
/// positions between words, in states (entry read?, hash name read).
fn judge(w: &Words) -> Judged {
    const STATES: usize = Algo::ALL.len();
    let d = &*DICTIONARY;
    let mut reach = [[[0u32; STATES]; 2]; MAX_WORDS + 1];
    reach[0][0][0] = u32::MAX;
    for i in 0..w.n {
        if reach[i].iter().flatten().all(|r| *r == 0) {
            continue;
        }
        for j in i + 1..=w.n {
            let run = w.run(i, j);
            if run.len() > d.longest {
                break;
            }
            let number = j == i + 1 && run.bytes().all(|b| b.is_ascii_digit());
            let t = d.tokens.get(run).copied().unwrap_or_default();
            let around = if number { u32::MAX } else { t.around };
            for seen in 0..2 {
                for h in 0..STATES {
                    let r = reach[i][seen][h];
                    if r == 0 {
                        continue;
                    }
                    reach[j][seen][h] |= r & around;
                    if seen == 0 {
                        reach[j][1][h] |= r & t.entry;
                    }
                    if h == 0 && t.algo != Algo::None {
                        reach[j][seen][t.algo as usize] |= r;
                    }
                }
            }
        }
    }
    let end = &reach[w.n][1];
    let mut j = Judged { plain: end[0], ..Judged::default() };
    // A digest named outright before one the length must tell.
    if let Some(a) = Algo::ALL[1..].iter().find(|a| end[**a as usize] & HASHABLE != 0) {
        j.hashed = end[*a as usize] & HASHABLE;
        j.algo = *a;
    }
    j
}

/// The detector bits of list bits.
fn detectors_of(lists: u32) -> u32 {
    LISTS.iter().enumerate().filter(|(i, _)| lists & (1 << i) != 0).fold(0, |acc, (_, (_, d))| acc | d.bit())
}

/// The lists of `rules/keys.toml`, in bit order, with the detector that
/// trusts each: `lists!` writes the file's structure, the public [`KEYS`]
/// and [`LISTS`] from one table.
macro_rules! lists {
    ($($name:ident => $det:ident),* $(,)?) => {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct KeysFile {
            $($name: Vec<String>,)*
            around: BTreeMap<String, Vec<String>>,
        }

        impl KeysFile {
            fn lists(&self) -> Vec<(&'static str, &Vec<String>)> {
                vec![$((stringify!($name), &self.$name)),*]
            }
        }

        /// The dictionaries, by name (`keys::is(&KEYS.imei, key)`).
        pub struct Keys {
            $(pub $name: List,)*
        }

        /// List names in bit order, with the detector each serves.
        const LISTS: &[(&str, Detector)] = &[$((stringify!($name), Detector::$det)),*];

        /// Bit positions, in file order.
        #[allow(non_camel_case_types)]
        enum Bit {
            $($name,)*
        }

        /// The built-in dictionaries.
        pub const KEYS: Keys = Keys { $($name: List(1 << Bit::$name as u32),)* };
    };
}

lists! {
    imei => Imei,
    meid => Meid,
    imsi => Imsi,
    iccid => Iccid,
    sip_uri => SipUri,
    msisdn => Msisdn,
    serial => Serial,
    mac => Mac,
    android_id => AndroidId,
    advertising_id => AdvertisingId,
    email => Email,
    login => Email,
    device_model => DeviceModel,
    os_version => OsVersion,
    cell_id => CellLocation,
    cell_area => CellLocation,
    cell_global => CellLocation,
    latitude => GeoLocation,
    longitude => GeoLocation,
    lat_lon_pair => GeoLocation,
}

impl List {
    /// Lists whose digest under a hash-named key is still the identifier.
    const HASHED: [List; 10] = [
        KEYS.imei,
        KEYS.meid,
        KEYS.imsi,
        KEYS.iccid,
        KEYS.msisdn,
        KEYS.serial,
        KEYS.mac,
        KEYS.android_id,
        KEYS.advertising_id,
        KEYS.email,
    ];
    /// Lists that take only their own `[around]` words: short cell and
    /// GPS names, and `model` and `version` (a `default_model` is an ML
    /// model's name).
    const OWN_WORDS_ONLY: [List; 8] = [
        KEYS.device_model,
        KEYS.os_version,
        KEYS.cell_id,
        KEYS.cell_area,
        KEYS.cell_global,
        KEYS.latitude,
        KEYS.longitude,
        KEYS.lat_lon_pair,
    ];

    const fn union(lists: &[List]) -> u32 {
        let mut bits = 0;
        let mut i = 0;
        while i < lists.len() {
            bits |= lists[i].0;
            i += 1;
        }
        bits
    }
}

/// [`List::HASHED`] as bits.
const HASHABLE: u32 = List::union(&List::HASHED);

/// The dictionaries of `rules/keys.toml`, compiled once.
static DICTIONARY: LazyLock<Dictionary> = LazyLock::new(|| {
    compile(include_str!("../../rules/keys.toml"))
        .expect("rules/keys.toml is valid: the test `keys_file_loads` checks it")
});

/// Checks a key dictionary's text (`rules check rules/keys.toml`).
pub fn check_dictionary(text: &str) -> Result<(), String> {
    compile(text).map(|_| ())
}

fn compile(text: &str) -> Result<Dictionary, String> {
    let file: KeysFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut d = Dictionary { tokens: HashMap::default(), longest: 0 };
    let mut add = |name: &str, f: &dyn Fn(&mut Token)| -> Result<(), String> {
        let w = Words::split(name).filter(|w| w.n > 0).ok_or_else(|| format!("{name:?}: not a name"))?;
        let run = w.run(0, w.n);
        d.longest = d.longest.max(run.len());
        f(d.tokens.entry(run.into()).or_default());
        Ok(())
    };
    for (bit, (list, entries)) in file.lists().into_iter().enumerate() {
        for e in entries {
            add(e, &|t| t.entry |= 1 << bit).map_err(|m| format!("{list}: {m}"))?;
        }
    }
    for (kind, words) in &file.around {
        let lists = match kind.as_str() {
            "any" => !List::union(&List::OWN_WORDS_ONLY),
            k => LISTS
                .iter()
                .position(|l| l.0 == k)
                .map(|i| 1 << i)
                .ok_or_else(|| format!("[around] {k}: no such list"))?,
        };
        for w in words {
            add(w, &|t| t.around |= lists)?;
        }
    }
    for w in ["md5", "sha1", "sha256", "hash", "hashed", "digest", "sha"] {
        add(w, &|t| t.algo = Algo::of_word(w))?;
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        let w = Words::split(s).unwrap();
        (0..w.n).map(|i| w.run(i, i + 1).to_string()).collect()
    }

    fn kinds(name: &str) -> Vec<&'static str> {
        let k = Key::of(name);
        Detector::ALL.iter().filter(|(_, d)| k.detectors() & d.bit() != 0).map(|(n, _)| *n).collect()
    }

    fn hashed(name: &str) -> Option<(&'static str, Algo)> {
        let (bit, algo) = Key::of(name).hashed();
        Detector::ALL.iter().find(|(_, d)| bit == d.bit()).map(|(n, _)| (*n, algo))
    }

    /// `tail_of` cuts where the `str` splits it replaced cut.
    #[test]
    fn tails_are_cut_as_the_splits_cut() {
        fn by_splits(name: &str) -> &str {
            let name = bracket_key(name).unwrap_or(name);
            let tail = name.rsplit([':', '.', '/', '@']).next().unwrap_or(name);
            let tail = tail.split('[').next().unwrap_or(tail);
            let tail = if tail.is_empty() { name } else { tail };
            tail.strip_prefix("X-").or_else(|| tail.strip_prefix("x-")).filter(|t| !t.is_empty()).unwrap_or(tail)
        }
        let parts = ["a", "imei", ":", ".", "/", "@", "[", "]", "\"", "X-", "x-", "é", "$", "0"];
        let mut x = 0x51_7cc1_b727_220au64;
        for _ in 0..30_000 {
            crate::util::xorshift(&mut x);
            let name: String = (0..x % 9).map(|i| parts[((x >> (i * 4)) % parts.len() as u64) as usize]).collect();
            assert_eq!(tail_of(&name), by_splits(&name), "{name:?}");
        }
    }

    #[test]
    fn last_components() {
        assert_eq!(last_component("data:$.cells[0].cid"), "cid");
        assert_eq!(last_component("ro.serialno"), "serialno");
        assert_eq!(last_component("Device_IMEI"), "deviceimei");
        assert_eq!(last_component("$.list[3]"), "list");
        assert_eq!(last_component("d:$[0].properties[\"$device_id\"]"), "deviceid");
        assert_eq!(last_component("$.data[\"ro.serialno\"]"), "serialno");
        assert_eq!(last_component("X-IMEI"), "imei");
        for name in ["data:$.cells[0].cid", "ro.serialno", "Device_IMEI", "$.list[3]", "$[\"$device_id\"]"] {
            assert_eq!(Key::of(name).compact(), last_component(name));
        }
        assert_eq!(Key::of(&"x".repeat(41)).as_str(), "");
        // Remembered keys are the keys, whatever was remembered before in
        // the same slot (names that collide, repeated, long).
        let names: Vec<String> = (0..2000)
            .map(|i| match i % 5 {
                0 => format!("device.imei{}", i % 37),
                1 => format!("wlan{}_mac", i % 300),
                2 => format!("a[{}].bssid", i % 11),
                3 => "x".repeat(40 + i % 20),
                _ => format!("lat{}", i % 3),
            })
            .collect();
        for n in names.iter().chain(names.iter().rev()) {
            let (a, b) = (Key::of(n), Key::cached(n));
            assert_eq!(
                (a.as_str(), a.compact(), a.detectors(), a.hashed().0),
                (b.as_str(), b.compact(), b.detectors(), b.hashed().0),
                "{n}"
            );
        }
        assert_eq!(Key::of("a_b_c_d_e_f_g_h_i").as_str(), "", "more than 8 words");
        assert_eq!(Key::of(&format!("{}_imei", "x".repeat(36))).compact(), format!("{}imei", "x".repeat(36)));
    }

    #[test]
    fn splits_into_words() {
        assert_eq!(words("wlan0_mac"), ["wlan", "0", "mac"]);
        assert_eq!(words("deviceIMEI"), ["device", "imei"]);
        assert_eq!(words("imei_slot2"), ["imei", "slot", "2"]);
        assert_eq!(words("WiFiMAC"), ["wi", "fi", "mac"]);
        assert_eq!(words("MACAddress"), ["mac", "address"]);
        assert_eq!(words("lan-mac"), ["lan", "mac"]);
        assert_eq!(words("sim2Iccid"), ["sim", "2", "iccid"]);
        assert_eq!(words("imeiMd5"), ["imei", "md5"]);
        assert_eq!(words("imeimd5"), ["imei", "md5"]);
        assert_eq!(words("md5imei"), ["md5", "imei"]);
        assert_eq!(words("sha256(imei)"), ["sha256", "imei"]);
        assert_eq!(words("IMEISHA1"), ["imei", "sha1"]);
        assert_eq!(words("md55"), ["md", "55"]);
        assert_eq!(words("line1Number"), ["line", "1", "number"]);
        assert_eq!(words("é_imei"), ["imei"]);
        assert!(words("").is_empty());
        // The joined words split back into themselves.
        for n in ["wlan0_mac", "deviceIMEI", "imeiMd5", "WiFiMAC", "sha256(imei)", "line1Number"] {
            let k = Key::of(n);
            assert_eq!(words(k.as_str()), words(n), "{n}");
        }
    }

    #[test]
    fn words_match_kinds() {
        for (name, kind) in [
            ("wan_mac", "mac"),
            ("wifiMac", "mac"),
            ("wifimac", "mac"),
            ("WiFiMAC", "mac"),
            ("wlan0_mac", "mac"),
            ("bt_mac", "mac"),
            ("wifi_bssid", "mac"),
            ("lan-mac", "mac"),
            ("MacAddress", "mac"),
            ("wlan_5g_mac", "mac"),
            ("deviceImei", "imei"),
            ("imei_slot2", "imei"),
            ("IMEI", "imei"),
            ("imei1", "imei"),
            ("imsi_1", "imsi"),
            ("subscriberId", "imsi"),
            ("sim2Iccid", "iccid"),
            ("simSerial", "iccid"),
            ("phone_number", "msisdn"),
            ("mobileNo", "msisdn"),
            ("line1Number", "msisdn"),
            ("ro.serialno", "serial"),
            ("serialNumber", "serial"),
            ("ssaid", "android_id"),
            ("android_id", "android_id"),
            ("gaid", "advertising_id"),
            ("advertising_id", "advertising_id"),
            ("gps_adid", "advertising_id"),
            ("userName", "email"),
            ("login", "email"),
            ("E-Mail", "email"),
            ("account", "email"),
            ("model_no", "device_model"),
            ("cell_id", "cell_location"),
        ] {
            assert!(kinds(name).contains(&kind), "{name}: {:?}", kinds(name));
        }
        assert_eq!(kinds("device_id"), ["imei", "android_id"]);
        assert_eq!(kinds("simSerial"), ["iccid"], "a SIM's serial is not the device's");
        for name in
            ["machine", "macro", "imei_count", "imeiCount", "mac_len", "order_sn", "imei_imsi", "request_id", "md5"]
        {
            assert_eq!(kinds(name), Vec::<&str>::new(), "{name}");
            assert_eq!(hashed(name), None, "{name}");
        }
        // The short cell and GPS names take no general words.
        assert_eq!(kinds("user_sid"), Vec::<&str>::new());
        assert_eq!(kinds("sid"), ["cell_location"]);
        assert_eq!(kinds("default_model"), Vec::<&str>::new());
    }

    #[test]
    fn hash_names() {
        for (name, kind, algo) in [
            ("imei_md5", "imei", Algo::Md5),
            ("md5_imei", "imei", Algo::Md5),
            ("imeiMd5", "imei", Algo::Md5),
            ("imeiSha1", "imei", Algo::Sha1),
            ("sha256(imei)", "imei", Algo::Sha256),
            ("mac_md5", "mac", Algo::Md5),
            ("aid_sha256", "android_id", Algo::Sha256),
            ("oaid_md5", "advertising_id", Algo::Md5),
            ("androidid_sha1", "android_id", Algo::Sha1),
            ("hashed_email", "email", Algo::Any),
            ("imei_slot2_hash", "imei", Algo::Any),
            ("device_id_md5", "imei", Algo::Md5),
        ] {
            assert_eq!(hashed(name), Some((kind, algo)), "{name}");
            assert_eq!(kinds(name), Vec::<&str>::new(), "{name} is not the plain identifier");
        }
        assert_eq!(hashed("user_hash"), None, "an account's hash, not an address's");
        assert_eq!(hashed("lat_md5"), None);
        assert_eq!(hashed("imei_md5_sha1"), None, "one hash name at most");
    }

    #[test]
    fn keys_file_loads() {
        let d = compile(include_str!("../../rules/keys.toml")).unwrap();
        assert!(d.tokens["imei"].entry & KEYS.imei.0 != 0);
        assert!(d.tokens["serialno"].entry & KEYS.serial.0 != 0);
        assert!(
            compile(&include_str!("../../rules/keys.toml").replace("[around]", "[around]\nnope = [\"x\"]")).is_err()
        );
        assert!(is(&KEYS.mac, "wan_mac") && is(&KEYS.mac, "wanMac") && !is(&KEYS.mac, "wanmac"));
        assert!(is(&KEYS.imei, "device_imei") && !is(&KEYS.imei, "imei_md5"));
    }

    /// `is` and `Key::cached` remembered per thread give what they judge
    /// afresh, over names that collide in the 256 slots, names of 48 and
    /// 49 bytes and more, non-ASCII names, and names repeated in between.
    #[test]
    fn remembered_names_are_judged_as_afresh() {
        let words = [
            "imei", "device", "Id", "mac", "wlan0", "_", "-", "é", "serial", "sim2", "Iccid", "md5", "lat", "lon", "x",
        ];
        let lists = [&KEYS.imei, &KEYS.mac, &KEYS.serial, &KEYS.imsi, &KEYS.msisdn, &KEYS.latitude, &KEYS.longitude];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || crate::util::xorshift(&mut x);
        let mut names: Vec<String> = Vec::new();
        for _ in 0..3000 {
            let mut n = String::new();
            for _ in 0..1 + next() % 6 {
                n.push_str(words[(next() % words.len() as u64) as usize]);
            }
            if next() % 5 == 0 {
                // Around the cache's 48-byte limit.
                while n.len() < 46 + (next() % 5) as usize {
                    n.push('a');
                }
            }
            names.push(n);
        }
        for round in 0..4 {
            for (i, n) in names.iter().enumerate() {
                let n = if round % 2 == 1 { &names[(i * 7919) % names.len()] } else { n };
                for l in lists {
                    let afresh = Words::split(n).is_some_and(|w| judge(&w).plain & l.0 != 0);
                    assert_eq!(is(l, n), afresh, "{n:?}");
                }
                let (a, b) = (Key::cached(n), Key::of(n));
                assert_eq!(
                    (a.as_str(), a.compact(), a.detectors(), a.hashed().0),
                    (b.as_str(), b.compact(), b.detectors(), b.hashed().0),
                    "{n:?}"
                );
            }
        }
    }
}
