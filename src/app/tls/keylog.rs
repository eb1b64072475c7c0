//! NSS key log parsing (the `SSLKEYLOGFILE` format, as Wireshark reads it).
//!
//! Role: turn the text of one or more key log files into secrets indexed by client random
//! (and, for the old `RSA Session-ID:` lines, by session id), for the record decryption in
//! the sibling `crypto` module.
//!
//! Input: raw bytes of a key log, any size, possibly not a key log at all.
//! Output: a [`KeyLog`], counters in [`KeyLogStats`] and, for lines that could not be used,
//! a bounded list of [`KeyLogNote`]s that name the line and the reason.
//!
//! Never: panics on input, keeps more than [`MAX_NOTES`] notes per call whatever the input,
//! or puts secret bytes into notes (a note names a line and a length, not its content).
#![deny(unsafe_code)]

use std::collections::HashMap;
use std::fmt;

/// Notes kept per [`KeyLog::add`] call; further unusable lines are only counted.
pub const MAX_NOTES: usize = 100;

/// Length of a TLS hello random.
const RANDOM_LEN: usize = 32;
/// Length of a TLS 1.0-1.2 master secret.
const MASTER_LEN: usize = 48;
/// Longest TLS session id (RFC 5246 7.4.1.2).
const MAX_SESSION_ID_LEN: usize = 32;
/// Longest label quoted back in a note, so one absurd line cannot make a huge note.
const MAX_QUOTED_LABEL: usize = 40;

/// The secrets logged for one connection, keyed by its client random.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    /// `CLIENT_RANDOM`: the 48-byte master secret (TLS 1.0-1.2).
    pub master: Option<Vec<u8>>,
    /// `CLIENT_EARLY_TRAFFIC_SECRET` (TLS 1.3 0-RTT), 32 or 48 bytes.
    pub client_early: Option<Vec<u8>>,
    /// `CLIENT_HANDSHAKE_TRAFFIC_SECRET`.
    pub client_handshake: Option<Vec<u8>>,
    /// `SERVER_HANDSHAKE_TRAFFIC_SECRET`.
    pub server_handshake: Option<Vec<u8>>,
    /// `CLIENT_TRAFFIC_SECRET_0`.
    pub client_traffic_0: Option<Vec<u8>>,
    /// `SERVER_TRAFFIC_SECRET_0`.
    pub server_traffic_0: Option<Vec<u8>>,
}

impl Secrets {
    /// The field a TLS 1.3 label fills.
    fn slot(&mut self, label: Tls13Label) -> &mut Option<Vec<u8>> {
        match label {
            Tls13Label::ClientEarly => &mut self.client_early,
            Tls13Label::ClientHandshake => &mut self.client_handshake,
            Tls13Label::ServerHandshake => &mut self.server_handshake,
            Tls13Label::ClientTraffic0 => &mut self.client_traffic_0,
            Tls13Label::ServerTraffic0 => &mut self.server_traffic_0,
        }
    }

    /// Copies every secret `other` has into `self` (later logs win, as in Wireshark).
    fn absorb(&mut self, other: &Secrets) {
        let pairs = [
            (&mut self.master, &other.master),
            (&mut self.client_early, &other.client_early),
            (&mut self.client_handshake, &other.client_handshake),
            (&mut self.server_handshake, &other.server_handshake),
            (&mut self.client_traffic_0, &other.client_traffic_0),
            (&mut self.server_traffic_0, &other.server_traffic_0),
        ];
        for (mine, theirs) in pairs {
            if theirs.is_some() {
                mine.clone_from(theirs);
            }
        }
    }
}

/// Counters over everything added to a [`KeyLog`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyLogStats {
    /// Lines seen, including comments and blank lines.
    pub lines: u64,
    /// Lines whose secret was stored (a repeated line counts each time).
    pub entries: u64,
    /// Well-formed lines with a label we know but do not use (`EXPORTER_SECRET`,
    /// `EARLY_EXPORTER_SECRET`, `PMS_CLIENT_RANDOM`, `RSA <encrypted PMS> <PMS>`): neither
    /// entries nor bad, because decryption from logged secrets never needs them.
    pub ignored: u64,
    /// Lines whose first word is no label we know.
    pub unknown_labels: u64,
    /// Lines with a known label but a malformed value, or that are not UTF-8.
    pub bad_lines: u64,
}

/// Why one line of a key log was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLogNote {
    /// 1-based line number within the text given to that [`KeyLog::add`] call.
    pub line: u64,
    /// The reason, e.g. "CLIENT_RANDOM: secret is 47 hex digits, expected 96".
    pub message: String,
}

impl fmt::Display for KeyLogNote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Secrets from NSS key logs, looked up by client random or session id.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    by_client_random: HashMap<[u8; RANDOM_LEN], Secrets>,
    by_session_id: HashMap<Vec<u8>, Vec<u8>>,
    /// Counters over every line added so far.
    pub stats: KeyLogStats,
}

/// The TLS 1.3 traffic secret labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tls13Label {
    ClientEarly,
    ClientHandshake,
    ServerHandshake,
    ClientTraffic0,
    ServerTraffic0,
}

/// One parsed line.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// Blank or comment.
    Skip,
    /// `CLIENT_RANDOM <random> <master>`.
    Master([u8; RANDOM_LEN], Vec<u8>),
    /// A TLS 1.3 secret for a client random.
    Tls13(Tls13Label, [u8; RANDOM_LEN], Vec<u8>),
    /// `RSA Session-ID:<id> Master-Key:<master>`.
    Session(Vec<u8>, Vec<u8>),
    /// A known label we do not use.
    Ignored,
}

/// Why a line was rejected.
#[derive(Debug, PartialEq, Eq)]
enum Reject {
    Unknown(String),
    Bad(String),
}

impl KeyLog {
    /// An empty key log.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the lines of `text`. Lines split on `\n` with a trailing `\r` and surrounding
    /// whitespace removed; blank lines and `#` comments are skipped. A later secret for the
    /// same client random and label replaces an earlier one. Returns notes for the lines
    /// that could not be used: at most [`MAX_NOTES`], the rest only counted in `stats`.
    pub fn add(&mut self, text: &[u8]) -> Vec<KeyLogNote> {
        let mut notes = Vec::new();
        for (number, raw) in (1u64..).zip(lines(text)) {
            self.stats.lines += 1;
            let reason = match parse_line(raw) {
                Ok(line) => {
                    self.store(line);
                    continue;
                }
                Err(Reject::Unknown(reason)) => {
                    self.stats.unknown_labels += 1;
                    reason
                }
                Err(Reject::Bad(reason)) => {
                    self.stats.bad_lines += 1;
                    reason
                }
            };
            if notes.len() < MAX_NOTES {
                notes.push(KeyLogNote { line: number, message: reason });
            }
        }
        notes
    }

    fn store(&mut self, line: Line) {
        match line {
            Line::Skip => return,
            Line::Ignored => {
                self.stats.ignored += 1;
                return;
            }
            Line::Master(random, master) => self.by_client_random.entry(random).or_default().master = Some(master),
            Line::Tls13(label, random, secret) => {
                *self.by_client_random.entry(random).or_default().slot(label) = Some(secret);
            }
            Line::Session(id, master) => {
                self.by_session_id.insert(id, master);
            }
        }
        self.stats.entries += 1;
    }

    /// The secrets logged for the connection with this client random.
    pub fn get(&self, client_random: &[u8; RANDOM_LEN]) -> Option<&Secrets> {
        self.by_client_random.get(client_random)
    }

    /// The master secret logged for this session id (`RSA Session-ID:` lines), for
    /// connections whose client random was not logged, including resumed sessions.
    pub fn master_for_session(&self, session_id: &[u8]) -> Option<&[u8]> {
        self.by_session_id.get(session_id).map(Vec::as_slice)
    }

    /// Adds everything in `other`; its secrets replace ours where both have one.
    pub fn merge(&mut self, other: &KeyLog) {
        for (random, secrets) in &other.by_client_random {
            self.by_client_random.entry(*random).or_default().absorb(secrets);
        }
        for (id, master) in &other.by_session_id {
            self.by_session_id.insert(id.clone(), master.clone());
        }
        let (s, o) = (&mut self.stats, &other.stats);
        s.lines += o.lines;
        s.entries += o.entries;
        s.ignored += o.ignored;
        s.unknown_labels += o.unknown_labels;
        s.bad_lines += o.bad_lines;
    }

    /// Whether no secret is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of connections with secrets: distinct client randoms plus distinct session ids.
    pub fn len(&self) -> usize {
        self.by_client_random.len() + self.by_session_id.len()
    }
}

/// Whether `text` looks like a key log at all: no NUL bytes (a capture, a DER key) and at
/// least one well-formed line with a known label (a PEM key or a config file has none).
/// Lets a caller refuse a wrong file with a clear error instead of silently finding nothing.
pub fn looks_like_keylog(text: &[u8]) -> bool {
    if text.contains(&0) {
        return false;
    }
    lines(text).any(|raw| matches!(parse_line(raw), Ok(line) if line != Line::Skip))
}

/// The lines of `text`: split on `\n`, without a final empty piece after a trailing `\n`.
fn lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    body.split(|&b| b == b'\n').filter(move |_| !text.is_empty())
}

/// `CLIENT_TRAFFIC_SECRET_<n>` / `SERVER_TRAFFIC_SECRET_<n>` for n other
/// than 0 (a number, or OpenSSL's literal `N`).
fn later_traffic_secret(label: &str) -> bool {
    let generation =
        label.strip_prefix("CLIENT_TRAFFIC_SECRET_").or_else(|| label.strip_prefix("SERVER_TRAFFIC_SECRET_"));
    generation.is_some_and(|g| g == "N" || (!g.is_empty() && g != "0" && g.bytes().all(|b| b.is_ascii_digit())))
}

fn parse_line(raw: &[u8]) -> Result<Line, Reject> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw).trim_ascii();
    if raw.is_empty() || raw.starts_with(b"#") {
        return Ok(Line::Skip);
    }
    let Ok(text) = std::str::from_utf8(raw) else {
        return Err(Reject::Bad("not UTF-8 text".to_string()));
    };
    let mut fields = text.split_ascii_whitespace();
    let label = fields.next().unwrap_or_default();
    let rest: Vec<&str> = fields.take(3).collect();
    let tls13 = match label {
        "CLIENT_RANDOM" => {
            let [random, master] = two(label, &rest)?;
            return Ok(Line::Master(random_field(label, random)?, hex_field(label, "master secret", master, &[96])?));
        }
        "RSA" => return parse_rsa(&rest),
        // Later TLS 1.3 generations (OpenSSL writes `_N` after each
        // KeyUpdate): known, not needed, as they follow from `_0`.
        "PMS_CLIENT_RANDOM" | "EXPORTER_SECRET" | "EARLY_EXPORTER_SECRET" => {
            two(label, &rest)?;
            return Ok(Line::Ignored);
        }
        l if later_traffic_secret(l) => {
            two(label, &rest)?;
            return Ok(Line::Ignored);
        }
        "CLIENT_EARLY_TRAFFIC_SECRET" => Tls13Label::ClientEarly,
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Tls13Label::ClientHandshake,
        "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Tls13Label::ServerHandshake,
        "CLIENT_TRAFFIC_SECRET_0" => Tls13Label::ClientTraffic0,
        "SERVER_TRAFFIC_SECRET_0" => Tls13Label::ServerTraffic0,
        _ => {
            let quoted: String = label.chars().take(MAX_QUOTED_LABEL).collect();
            return Err(Reject::Unknown(format!("unknown label {quoted:?}")));
        }
    };
    let [random, secret] = two(label, &rest)?;
    // SHA-256 or SHA-384 suites: 32- or 48-byte secrets.
    Ok(Line::Tls13(tls13, random_field(label, random)?, hex_field(label, "secret", secret, &[64, 96])?))
}

/// `RSA Session-ID:<hex> Master-Key:<96 hex>` is used; `RSA <16 hex> <hex>` (encrypted
/// pre-master prefix and pre-master secret) is known but needs the handshake, so ignored.
fn parse_rsa(rest: &[&str]) -> Result<Line, Reject> {
    let [first, second] = two("RSA", rest)?;
    let Some(id) = first.strip_prefix("Session-ID:") else {
        hex_field("RSA", "encrypted pre-master prefix", first, &[16])?;
        hex_field("RSA", "pre-master secret", second, &[])?;
        return Ok(Line::Ignored);
    };
    let Some(master) = second.strip_prefix("Master-Key:") else {
        return Err(Reject::Bad("RSA Session-ID: second field is not Master-Key:<hex>".to_string()));
    };
    let id = hex_field("RSA", "session id", id, &[])?;
    if id.is_empty() || id.len() > MAX_SESSION_ID_LEN {
        return Err(Reject::Bad(format!("RSA: session id is {} bytes, expected 1 to 32", id.len())));
    }
    Ok(Line::Session(id, hex_field("RSA", "master key", master, &[2 * MASTER_LEN])?))
}

/// Exactly two fields after the label.
fn two<'a>(label: &str, rest: &[&'a str]) -> Result<[&'a str; 2], Reject> {
    match rest {
        [a, b] => Ok([a, b]),
        _ => Err(Reject::Bad(format!("{label}: {} fields after the label, expected 2", rest.len()))),
    }
}

fn random_field(label: &str, field: &str) -> Result<[u8; RANDOM_LEN], Reject> {
    let bytes = hex_field(label, "client random", field, &[2 * RANDOM_LEN])?;
    let mut random = [0; RANDOM_LEN];
    random.copy_from_slice(&bytes);
    Ok(random)
}

/// Decodes hex of one of the `allowed` digit counts (any even count if empty).
fn hex_field(label: &str, what: &str, field: &str, allowed: &[usize]) -> Result<Vec<u8>, Reject> {
    let digits = field.len();
    // `is_multiple_of` is newer than teleaudit's rust-version (1.85).
    #[allow(clippy::manual_is_multiple_of)]
    let fits = if allowed.is_empty() { digits % 2 == 0 && digits > 0 } else { allowed.contains(&digits) };
    if !fits {
        let expected = match allowed {
            [] => "an even number".to_string(),
            [one] => one.to_string(),
            many => many.iter().map(usize::to_string).collect::<Vec<_>>().join(" or "),
        };
        return Err(Reject::Bad(format!("{label}: {what} is {digits} hex digits, expected {expected}")));
    }
    hex::decode(field).map_err(|_| Reject::Bad(format!("{label}: {what} is not hexadecimal")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_traffic_secrets_are_known_not_unknown() {
        let cr = "ab".repeat(32);
        let sec = "cd".repeat(32);
        let text = format!(
            "CLIENT_TRAFFIC_SECRET_N {cr} {sec}\nSERVER_TRAFFIC_SECRET_1 {cr} {sec}\nCLIENT_TRAFFIC_SECRET_X {cr} {sec}\n"
        );
        let mut log = KeyLog::new();
        let notes = log.add(text.as_bytes());
        assert_eq!((log.stats.ignored, log.stats.unknown_labels), (2, 1), "{notes:?}");
        assert_eq!(notes.len(), 1);
    }

    const CR1: &str = "0001020304050607080910111213141516171819202122232425262728293031";
    const CR2: &str = "a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0";
    const MASTER: &str =
        "916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049781c8e19fc1eb2a7387ac06ae237344c";
    const S32: &str = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";

    fn random(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn realistic_log_with_every_label() {
        let s48 = "ab".repeat(48);
        let text = format!(
            "# SSL/TLS secrets log file, generated by NSS\r\n\
             \r\n\
             CLIENT_RANDOM {CR1} {MASTER}\r\n\
             CLIENT_EARLY_TRAFFIC_SECRET {cr2u} {S32}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR2} {S32}\n\
             SERVER_HANDSHAKE_TRAFFIC_SECRET {CR2} {s48}\n\
             \t  CLIENT_TRAFFIC_SECRET_0 {CR2} {s32u}   \n\
             EXPORTER_SECRET {CR2} {S32}\n\
             EARLY_EXPORTER_SECRET {CR2} {S32}\n\
             PMS_CLIENT_RANDOM {CR1} {pms}\n\
             RSA 0123456789abcdef {pms}\n\
             RSA Session-ID:{sid} Master-Key:{MASTER}\n\
             QUIC_SERVER_TRAFFIC_SECRET_0 {CR2} {S32}\n\
             SERVER_TRAFFIC_SECRET_0 {CR2} {S32}",
            cr2u = CR2.to_uppercase(),
            s32u = S32.to_uppercase(),
            pms = "cd".repeat(48),
            sid = "ee".repeat(32),
        );
        assert!(looks_like_keylog(text.as_bytes()));
        let mut log = KeyLog::new();
        let notes = log.add(text.as_bytes());
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(notes[0].line, 13);
        assert!(notes[0].message.contains("QUIC_SERVER_TRAFFIC_SECRET_0"), "{}", notes[0]);
        assert_eq!(log.stats, KeyLogStats { lines: 14, entries: 7, ignored: 4, unknown_labels: 1, bad_lines: 0 });
        assert_eq!(log.len(), 3);
        let one = log.get(&random(CR1)).unwrap();
        assert_eq!(one.master.as_deref(), Some(&hex::decode(MASTER).unwrap()[..]));
        assert_eq!(one.client_handshake, None);
        let two = log.get(&random(CR2)).unwrap();
        let s32 = hex::decode(S32).unwrap();
        assert_eq!(two.client_early.as_ref(), Some(&s32));
        assert_eq!(two.client_handshake.as_ref(), Some(&s32));
        assert_eq!(two.server_handshake.as_ref().map(Vec::len), Some(48));
        assert_eq!(two.client_traffic_0.as_ref(), Some(&s32));
        // The last line had no newline and still counts.
        assert_eq!(two.server_traffic_0.as_ref(), Some(&s32));
        assert_eq!(two.master, None);
        assert_eq!(log.master_for_session(&[0xee; 32]), Some(&hex::decode(MASTER).unwrap()[..]));
        assert_eq!(log.master_for_session(&[0xee; 31]), None);
    }

    #[test]
    fn bad_lines_are_named() {
        let text = format!(
            "CLIENT_RANDOM {CR1} {short}\n\
             CLIENT_RANDOM {CR1}\n\
             CLIENT_RANDOM {bad_random} {MASTER}\n\
             CLIENT_HANDSHAKE_TRAFFIC_SECRET {CR1} {s40}\n\
             CLIENT_RANDOM {CR1} {MASTER} extra\n\
             RSA Session-ID: Master-Key:{MASTER}\n\
             RSA Session-ID:ab Key:{MASTER}\n\
             CLIENT_RANDOM {nonascii} {MASTER}\n",
            short = &MASTER[..47],
            bad_random = "zz".to_string() + &CR1[2..],
            s40 = "00".repeat(40),
            nonascii = "é".to_string() + &CR1[2..],
        );
        let mut bytes = text.into_bytes();
        bytes.extend_from_slice(b"CLIENT_RANDOM \xff\xfe\n");
        let mut log = KeyLog::new();
        let notes = log.add(&bytes);
        let shown: Vec<String> = notes.iter().map(ToString::to_string).collect();
        assert_eq!(shown[0], "line 1: CLIENT_RANDOM: master secret is 47 hex digits, expected 96");
        assert_eq!(shown[1], "line 2: CLIENT_RANDOM: 1 fields after the label, expected 2");
        assert_eq!(shown[2], "line 3: CLIENT_RANDOM: client random is not hexadecimal");
        assert_eq!(shown[3], "line 4: CLIENT_HANDSHAKE_TRAFFIC_SECRET: secret is 80 hex digits, expected 64 or 96");
        assert_eq!(shown[4], "line 5: CLIENT_RANDOM: 3 fields after the label, expected 2");
        assert!(shown[5].starts_with("line 6: RSA: session id is 0 hex digits"), "{}", shown[5]);
        assert!(shown[6].starts_with("line 7: RSA Session-ID: second field"), "{}", shown[6]);
        assert!(shown[7].starts_with("line 8: CLIENT_RANDOM: client random is"), "{}", shown[7]);
        assert_eq!(shown[8], "line 9: not UTF-8 text");
        assert_eq!(log.stats.bad_lines, 9);
        assert_eq!(log.stats.entries, 0);
        assert!(log.is_empty());
        // Notes never quote secret material.
        assert!(shown.iter().all(|n| !n.contains(&MASTER[..20])));
    }

    #[test]
    fn wrong_files_are_not_key_logs() {
        let pcap = [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        assert!(!looks_like_keylog(&pcap));
        let pem = b"-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC\n-----END PRIVATE KEY-----\n";
        assert!(!looks_like_keylog(pem));
        assert!(!looks_like_keylog(b""));
        assert!(!looks_like_keylog(b"# only a comment\n\n"));
        assert!(!looks_like_keylog(format!("CLIENT_RANDOM {CR1} 00\n").as_bytes()));
        // A NUL anywhere marks binary, even next to a valid line.
        let mut mixed = format!("CLIENT_RANDOM {CR1} {MASTER}\n").into_bytes();
        mixed.push(0);
        assert!(!looks_like_keylog(&mixed));
        let mut log = KeyLog::new();
        log.add(&pcap);
        log.add(pem);
        assert!(log.is_empty());
        assert_eq!(log.stats.unknown_labels + log.stats.bad_lines, 4);
    }

    #[test]
    fn notes_stay_bounded_on_a_million_bad_lines() {
        let line = format!("CLIENT_RANDOM {CR1} {}\n", &MASTER[..95]);
        let text = line.repeat(1_000_000);
        let mut log = KeyLog::new();
        let notes = log.add(text.as_bytes());
        assert_eq!(notes.len(), MAX_NOTES);
        assert_eq!(notes[MAX_NOTES - 1].line, MAX_NOTES as u64);
        assert_eq!(log.stats.bad_lines, 1_000_000);
        assert_eq!(log.stats.lines, 1_000_000);
        assert!(log.is_empty());
        let unknown = "NOT_A_LABEL x\n".repeat(1_000_000);
        assert_eq!(KeyLog::new().add(unknown.as_bytes()).len(), MAX_NOTES);
    }

    #[test]
    fn later_lines_and_merges_replace_secrets() {
        let other_master = "11".repeat(48);
        let mut a = KeyLog::new();
        a.add(format!("CLIENT_RANDOM {CR1} {MASTER}\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {CR2} {S32}\n").as_bytes());
        let mut b = KeyLog::new();
        b.add(format!("CLIENT_RANDOM {CR1} {other_master}\nSERVER_HANDSHAKE_TRAFFIC_SECRET {CR2} {S32}\n").as_bytes());
        a.merge(&b);
        assert_eq!(a.len(), 2);
        assert_eq!(a.get(&random(CR1)).unwrap().master.as_deref(), Some(&[0x11; 48][..]));
        let two = a.get(&random(CR2)).unwrap();
        assert!(two.client_handshake.is_some() && two.server_handshake.is_some());
        assert_eq!(a.stats.entries, 4);
        assert_eq!(a.stats.lines, 4);
        let mut c = KeyLog::new();
        c.add(format!("CLIENT_RANDOM {CR1} {MASTER}\nCLIENT_RANDOM {CR1} {other_master}").as_bytes());
        assert_eq!(c.get(&random(CR1)).unwrap().master.as_deref(), Some(&[0x11; 48][..]));
        assert_eq!(c.len(), 1);
    }
}
