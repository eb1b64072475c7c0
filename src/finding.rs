//! The finding model: what `detect` produces and the only thing `report`
//! sees. Values are kept unmasked here; reporters mask them unless the
//! user asked for values ([`mask`]).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::util::Timestamp;

/// The app or process that sent or received a frame, as its capture
/// tool recorded it (`capture::appmeta`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AppRef {
    /// Android uid (PCAPdroid) or process id (ptcpdump, PKTAP).
    pub id: Option<i64>,
    /// Package name (PCAPdroid uid map), app name (PCAPdroid trailer) or
    /// command name (ptcpdump: the last path component of `Cmd`; PKTAP:
    /// `comm`). `None` when the source gives only the id.
    pub name: Option<String>,
    /// A longer human label when the source has one: the PCAPdroid app
    /// name of the uid map, or ptcpdump's full `Cmd` path.
    pub label: Option<String>,
    /// `"pcapdroid"`, `"ptcpdump"` or `"pktap"`.
    #[serde(deserialize_with = "interned::de")]
    pub source: interned::Name,
}

impl AppRef {
    /// What the id is: a uid for PCAPdroid, else a process id.
    pub fn id_kind(&self) -> &'static str {
        if self.source == "pcapdroid" { "uid" } else { "pid" }
    }

    /// The name to show: the package or command name, else `uid N` /
    /// `pid N`.
    pub fn display(&self) -> String {
        match (&self.name, self.id) {
            (Some(n), _) => n.clone(),
            (None, Some(id)) => format!("{} {id}", self.id_kind()),
            (None, None) => format!("({})", self.source),
        }
    }

    /// Does the glob (`*` any run, case-insensitive) match the app's
    /// name, its label, or its id (`10123`, `uid:10123`, `pid:512`)?
    pub fn matches(&self, glob: &str) -> bool {
        let g = crate::detect::rules::glob;
        self.name.as_deref().is_some_and(|n| g(glob, n))
            || self.label.as_deref().is_some_and(|l| g(glob, l))
            || self.id.is_some_and(|id| g(glob, &id.to_string()) || g(glob, &format!("{}:{id}", self.id_kind())))
    }
}

/// Severity, ordered low < medium < high.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

impl Severity {
    /// One step lower (low stays low): for identifiers seen outside HTTP,
    /// where the context that makes a finding certain is thinner.
    pub fn lower(self) -> Severity {
        match self {
            Severity::High => Severity::Medium,
            _ => Severity::Low,
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How sure a finding is: `high` when a key, a structure (URN, STS
/// string, IMSI realm) or the profile names the value; `medium` when only
/// its shape does (a bare Luhn-valid 15-digit number).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Confidence {
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// Where in a request a value was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Query,
    Path,
    Body,
    Header,
    Cookie,
    Stream,
    /// The text of a short message.
    Sms,
    /// The packet's own address: an IPv6 source address built from the
    /// device's MAC (SLAAC EUI-64).
    Address,
}

impl Location {
    pub fn as_str(self) -> &'static str {
        match self {
            Location::Query => "query",
            Location::Path => "path",
            Location::Body => "body",
            Location::Header => "header",
            Location::Cookie => "cookie",
            Location::Stream => "stream",
            Location::Sms => "sms",
            Location::Address => "address",
        }
    }

    pub fn parse(s: &str) -> Option<Location> {
        Some(match s {
            "query" => Location::Query,
            "path" => Location::Path,
            "body" => Location::Body,
            "header" => Location::Header,
            "cookie" => Location::Cookie,
            "address" => Location::Address,
            "stream" => Location::Stream,
            "sms" => Location::Sms,
            _ => return None,
        })
    }
}

/// One identifier (or known endpoint) seen in one request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Shared by every finding of the rule.
    pub rule: Arc<str>,
    pub severity: Severity,
    pub title: Arc<str>,
    pub kind: std::borrow::Cow<'static, str>,
    /// The value as found (after the decodings in `encoding`), unmasked.
    pub value: String,
    /// For a profile match, the profile value it stands for.
    pub matched: Option<String>,
    pub confidence: Confidence,
    pub encoding: Vec<std::borrow::Cow<'static, str>>,
    pub location: Location,
    pub field: Option<String>,
    /// Shared by every finding of the capture.
    pub capture: Arc<str>,
    pub frame: u64,
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub host: Option<Arc<str>>,
    /// Request method and target as sent; `None` for a finding in a
    /// non-HTTP stream.
    pub method: Option<Arc<str>>,
    pub uri: Option<Arc<str>>,
    /// The target with every identifier of the request masked.
    pub uri_masked: Option<Arc<str>>,
    /// What carried it: `http/1.1`, `http/1.0`, `dns`, `stream`...
    #[serde(deserialize_with = "interned::de")]
    pub protocol: interned::Name,
    /// The TLS session it was decrypted from; `None` in clear.
    pub tls: Option<Arc<TlsInfo>>,
    /// The HTTP/2 stream that carried it.
    pub stream_id: Option<u32>,
    /// The app or process that sent it, when the capture says.
    pub app: Option<Arc<AppRef>>,
    /// What the identifier belongs to when it is not the device itself:
    /// `bssid` (a Wi-Fi access point's MAC, which locates the device),
    /// `beacon` (a Bluetooth beacon's). `None` otherwise.
    #[serde(deserialize_with = "interned::de_opt")]
    pub role: Option<interned::Name>,
}

/// The role of a MAC found under `field`: an access point's (`bssid`)
/// or a beacon's, by the field's name (`bssid`, `ap_mac`,
/// `wifiAccessPoints[0].macAddress`, `bluetoothBeacons[..]`).
pub fn mac_role(kind: &str, field: Option<&str>) -> Option<&'static str> {
    if kind != "mac" {
        return None;
    }
    let f: String = field?.chars().filter(char::is_ascii_alphanumeric).collect::<String>().to_ascii_lowercase();
    if f.contains("bluetoothbeacon") || f.contains("beacons") {
        Some("beacon")
    } else if f.contains("bssid") || f.contains("wifiaccesspoint") || f.contains("apmac") || f.contains("accesspoint") {
        Some("bssid")
    } else {
        None
    }
}

/// The TLS session a message was decrypted from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsInfo {
    /// `1.0` to `1.3`.
    #[serde(deserialize_with = "interned::de")]
    pub version: interned::Name,
    /// IANA name of the cipher suite.
    #[serde(deserialize_with = "interned::de")]
    pub cipher: interned::Name,
    /// Server name the client asked for (SNI).
    pub sni: Option<String>,
}

/// Kinds whose value changes by nature from one report to the next (an
/// encrypted payload, a position, a cell, a version after an update): the
/// same leak whatever the value, so their fingerprint leaves it out.
pub const VARYING_KINDS: &[&str] =
    &["endpoint", "cell_location", "geo_location", "os_version", "sts_cleartext", "sdk_upload"];

impl Finding {
    /// The leak's identity across runs and captures: where it goes and what
    /// it carries (rule, kind, host, method, path, location, field, and a
    /// hash of the value for identities: an IMEI, a MAC; not for the
    /// [`VARYING_KINDS`]), not when, from which port or in which frame.
    /// SARIF fingerprints, baselines and `diff` use it.
    pub fn fingerprint(&self) -> String {
        self.fingerprint_of(!VARYING_KINDS.contains(&&*self.kind))
    }

    /// The fingerprint baselines of format 1 held: the value always in.
    pub fn fingerprint_v1(&self) -> String {
        self.fingerprint_of(true)
    }

    fn fingerprint_of(&self, with_value: bool) -> String {
        use sha2::Digest as _;
        let path = self.uri.as_deref().map(|u| u.split('?').next().unwrap_or(u)).unwrap_or("");
        let value_hash =
            if with_value { hex::encode(sha2::Sha256::digest(self.value.as_bytes())) } else { String::new() };
        let key = [
            &*self.rule,
            &*self.kind,
            self.host.as_deref().unwrap_or(""),
            self.method.as_deref().unwrap_or(""),
            path,
            self.location.as_str(),
            self.field.as_deref().unwrap_or(""),
            &value_hash,
        ]
        .join("\u{1f}");
        hex::encode(sha2::Sha256::digest(key.as_bytes()))[..32].to_string()
    }
}

/// Longest value shown with its middle starred; longer values show their
/// ends and their length.
const MASK_FULL_MAX: usize = 32;

/// Masks an identifier for display: the first and last two characters
/// stay so a reader can tell values apart; short values are all stars.
pub fn mask(v: &str) -> String {
    // Identifiers are nearly always ASCII: characters are bytes.
    let n = if v.is_ascii() { v.len() } else { v.chars().count() };
    if n <= 6 {
        return "*".repeat(n);
    }
    // Byte offsets of the third character and of the last two.
    let (head, tail) = if v.is_ascii() {
        (2, v.len() - 2)
    } else {
        (v.char_indices().nth(2).map_or(v.len(), |(i, _)| i), v.char_indices().nth(n - 2).map_or(v.len(), |(i, _)| i))
    };
    let mut out = String::with_capacity(head + (v.len() - tail) + n.min(MASK_FULL_MAX) + 16);
    out.push_str(&v[..head]);
    if n <= MASK_FULL_MAX {
        const STARS: &str = "********************************";
        const _: () = assert!(STARS.len() >= MASK_FULL_MAX);
        out.push_str(&STARS[..n - 4]);
    } else {
        use std::fmt::Write;
        let _ = write!(out, "****[{n} chars]****");
    }
    out.push_str(&v[tail..]);
    out
}

/// Replaces every occurrence of each value in `text` by its mask.
pub fn mask_all(text: &str, values: &[&str]) -> String {
    let mut out = text.to_string();
    let mut vals: Vec<&str> = values.iter().copied().filter(|v| v.len() >= 3).collect();
    // Longest first, so a value inside another is not half-masked.
    vals.sort_by_key(|v| std::cmp::Reverse(v.len()));
    vals.dedup();
    for v in vals {
        // As `str::replace`: non-overlapping matches, left to right (a
        // match of text in text starts and ends between characters).
        let Some(first) = find_from(out.as_bytes(), v.as_bytes(), 0) else { continue };
        let m = mask(v);
        let mut masked = String::with_capacity(out.len());
        let (mut from, mut at) = (0, Some(first));
        while let Some(i) = at {
            masked.push_str(&out[from..i]);
            masked.push_str(&m);
            from = i + v.len();
            at = find_from(out.as_bytes(), v.as_bytes(), from);
        }
        masked.push_str(&out[from..]);
        out = masked;
    }
    out
}

/// The first `needle` (not empty) in `hay` at or after `from`: by its
/// first byte, then a compare. Built for nothing per call, unlike
/// `str::contains` or a `memmem` searcher: for short texts (URIs).
fn find_from(hay: &[u8], needle: &[u8], mut from: usize) -> Option<usize> {
    let &first = needle.first()?;
    while let Some(p) = memchr::memchr(first, hay.get(from..)?) {
        let at = from + p;
        if hay[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `mask_all` replaces as `str::replace` does, value by value, longest
    /// first: overlapping and repeated values, values inside others,
    /// non-ASCII text.
    #[test]
    fn mask_all_is_replace_longest_first() {
        fn before(text: &str, values: &[&str]) -> String {
            let mut out = text.to_string();
            let mut vals: Vec<&str> = values.iter().copied().filter(|v| v.len() >= 3).collect();
            vals.sort_by_key(|v| std::cmp::Reverse(v.len()));
            vals.dedup();
            for v in vals {
                if out.contains(v) {
                    out = out.replace(v, &mask(v));
                }
            }
            out
        }
        let pieces = ["aaa", "aaaa", "356938035643809", "3569", "é€x", "&", "=", "ab", "ba", "*"];
        let mut x = 0x6d61_736bu64;
        for _ in 0..20_000 {
            let mut pick = || pieces[(crate::util::xorshift(&mut x) % pieces.len() as u64) as usize];
            let text: String = (0..8).map(|_| pick()).collect();
            let values: Vec<String> = (0..3).map(|_| [pick(), pick()].concat()).collect();
            let values: Vec<&str> = values.iter().map(String::as_str).collect();
            assert_eq!(mask_all(&text, &values), before(&text, &values), "{text:?} {values:?}");
        }
    }

    #[test]
    fn local_only_is_what_scope_of_says() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for i in 0..200_000u32 {
            crate::util::xorshift(&mut x);
            let ip: std::net::IpAddr = match i % 4 {
                0 => std::net::Ipv4Addr::from(x as u32).into(),
                // Around the multicast, broadcast and private ranges.
                1 => {
                    std::net::Ipv4Addr::from((x as u32) | 0xe000_0000 | if x & 1 == 0 { 0x1fff_ffff } else { 0 }).into()
                }
                2 => std::net::Ipv6Addr::from(u128::from(x) << 64 | u128::from(x.rotate_left(17))).into(),
                _ => {
                    let v4 = std::net::Ipv4Addr::from(if x & 2 == 0 { x as u32 | 0xe000_0000 } else { u32::MAX });
                    let v6 = if x & 4 == 0 {
                        v4.to_ipv6_mapped()
                    } else {
                        std::net::Ipv6Addr::from(0xff02u128 << 112 | u128::from(x))
                    };
                    v6.into()
                }
            };
            assert_eq!(local_only(ip), matches!(scope_of(ip), "multicast" | "broadcast"), "{ip}");
        }
    }

    #[test]
    fn masks_keep_ends_only() {
        assert_eq!(mask("356938035643809"), "35***********09");
        assert_eq!(mask("12345"), "*****");
        let long = "a".repeat(171);
        assert_eq!(mask(&long), "aa****[171 chars]****aa");
        // Characters, not bytes: multi-byte ends are kept whole.
        assert_eq!(mask("éé1234567ü€"), "éé*******ü€");
        // ASCII (read by bytes) and not (read by characters).
        for (n, alphabet) in (0..40).flat_map(|n| [(n, "ä1b€"), (n, "a1b~")]) {
            let v: String = alphabet.chars().cycle().take(n).collect();
            let chars: Vec<char> = v.chars().collect();
            let expected = if n <= 6 {
                "*".repeat(n)
            } else if n <= MASK_FULL_MAX {
                format!(
                    "{}{}{}",
                    chars[..2].iter().collect::<String>(),
                    "*".repeat(n - 4),
                    chars[n - 2..].iter().collect::<String>()
                )
            } else {
                format!(
                    "{}****[{n} chars]****{}",
                    chars[..2].iter().collect::<String>(),
                    chars[n - 2..].iter().collect::<String>()
                )
            };
            assert_eq!(mask(&v), expected, "{v}");
        }
    }

    #[test]
    fn mask_all_masks_each_occurrence() {
        let t = mask_all("/r?imei=356938035643809&x=356938035643809", &["356938035643809"]);
        assert_eq!(t, "/r?imei=35***********09&x=35***********09");
    }
}

/// A problem met while scanning: the capture, the frame when known.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    pub capture: String,
    pub frame: Option<u64>,
    pub message: String,
}

/// One HTTP request whole, as `teleaudit show` prints it: what a
/// researcher needs to judge its findings.
#[derive(Clone, Debug)]
pub struct ShownRequest {
    pub capture: String,
    pub frame: u64,
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub protocol: &'static str,
    pub method: String,
    /// The target as sent (lossy UTF-8).
    pub target: String,
    /// `Some(1)` for HTTP/1.1, `Some(0)` for 1.0; `None` for 0.9 and HTTP/2.
    pub version: Option<u8>,
    /// Names and values (lossy UTF-8), in order.
    pub headers: Vec<(String, String)>,
    /// The body after de-chunking and decompression (up to the limits).
    pub body: Vec<u8>,
    /// Content codings undone, outer first.
    pub decoded: Vec<&'static str>,
    pub notes: Vec<String>,
    pub tls: Option<Arc<TlsInfo>>,
    pub stream_id: Option<u32>,
    pub app: Option<Arc<AppRef>>,
}

/// One rebuilt HTTP request, as `teleaudit requests` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    pub capture: String,
    pub frame: u64,
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub method: String,
    pub host: Option<String>,
    pub uri: String,
    /// The target with every identifier found in the request masked.
    pub uri_masked: String,
    /// Identifier values found in the request (for masking, never shown).
    pub found: Vec<String>,
    pub body_bytes: u64,
    pub content_type: Option<String>,
    pub notes: Vec<String>,
    /// The text of a short message (`sms`); `None` for other requests.
    pub text: Option<String>,
    /// `http/1.1`, `http/1.0`, `http/2`...
    #[serde(deserialize_with = "interned::de")]
    pub protocol: interned::Name,
    /// The TLS session it was decrypted from; `None` in clear.
    pub tls: Option<Arc<TlsInfo>>,
    /// The HTTP/2 stream that carried it.
    pub stream_id: Option<u32>,
    /// The app or process that sent it, when the capture says.
    pub app: Option<Arc<AppRef>>,
}

/// Apps named per host, at most.
pub const MAX_HOST_APPS: usize = 32;

/// Requests to one destination host in one capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostActivity {
    /// Host name, else the destination address.
    pub host: String,
    pub requests: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    /// The apps that sent them (display names, sorted), at most
    /// [`MAX_HOST_APPS`].
    pub apps: Vec<String>,
}

/// Apps tallied per capture, at most; the rest count under
/// [`OTHER_APPS`].
pub const MAX_APPS: usize = 10_000;
/// The name the apps past [`MAX_APPS`] are tallied under.
pub const OTHER_APPS: &str = "(other apps)";

/// The frames, requests and messages of one app in one capture.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppActivity {
    pub app: Arc<AppRef>,
    /// Frames the capture tool attributed to it.
    pub frames: u64,
    /// HTTP requests, SIP requests and short messages it sent.
    pub requests: u64,
    /// Times of its first and last frame (or request).
    pub first: Timestamp,
    pub last: Timestamp,
}

/// What a capture held and what could not be inspected, so a researcher
/// knows what was not seen.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileStats {
    /// `pcap`, `pcapng`, with `+gzip` when compressed; empty if unread.
    pub format: String,
    pub frames: u64,
    pub bytes: u64,
    pub flows: u64,
    pub requests: u64,
    /// Frames by link type name, in order of first appearance.
    pub link_types: Vec<(String, u64)>,
    /// Frames whose packet sat inside a tunnel, MPLS or PPPoE.
    pub encapsulated_frames: u64,
    /// IP datagrams rebuilt from fragments.
    pub reassembled_datagrams: u64,
    /// TCP bytes seen twice, and overlaps whose copies disagreed (IP
    /// fragments and TCP segments; the first copy is kept).
    pub retransmitted_bytes: u64,
    pub overlap_conflicts: u64,
    /// Connections evicted before they ended (idle, or table full).
    pub flows_evicted: u64,
    /// Times an out-of-order buffer limit (per direction, or all
    /// connections together) forced a gap.
    pub reorder_limit_hits: u64,
    /// Times a connection sent out a request before its end because all
    /// connections together held too much (`--max-held`; each is noted).
    pub held_limit_hits: u64,
    /// Server names of TLS connections (SNI): where encrypted traffic went.
    pub tls_server_names: Vec<String>,
    /// Server names of QUIC connections (from their Initial packets).
    pub quic_server_names: Vec<String>,
    /// What TLS decryption did, by outcome.
    pub tls: TlsStats,
    /// HTTP/2 connections and streams.
    pub http2: Http2Stats,
    pub not_inspected: NotInspected,
    /// Requests with a limit hit or damage (see `requests` notes).
    pub requests_with_notes: u64,
    /// Short messages scanned (sent by the device), and those the network
    /// sent it (counted only); GSM layer-3 messages with a mobile identity.
    pub sms_messages: u64,
    pub sms_downlink: u64,
    /// Concatenated SMS reported with parts missing (at the end, or past
    /// the held-parts limit), and sets pushed out by that limit.
    pub sms_incomplete: u64,
    pub sms_limit_evictions: u64,
    pub nas_identities: u64,
    /// GSMTAP datagrams, and those on channels or of types not decoded.
    pub gsmtap_datagrams: u64,
    pub gsmtap_not_decoded: u64,
    /// SIP requests scanned, and responses (the network's: counted only).
    pub sip_requests: u64,
    pub sip_responses: u64,
    /// Frames the capture tool attributed to an app or process.
    pub attributed_frames: u64,
    /// TCP connections attributed to an app, and those whose packets named
    /// more than one (the client's first packet decided).
    pub attributed_flows: u64,
    pub app_conflicts: u64,
    /// Findings and requests left out by `--app`.
    pub app_filtered: u64,
    /// Notes on attribution data that could not be read whole (a trailer's
    /// CRC, a comment or uid map that is not UTF-8 or cut short); listed
    /// in `notes`.
    pub attribution_notes: u64,
    /// Findings made; HTTP requests, and other messages (SIP, SMS, GSM,
    /// stream payloads), that had some.
    pub findings: u64,
    /// E-mail addresses not reported as the user's: role mailboxes and
    /// the destination's own domain (distinct per request or payload).
    pub emails_set_aside: u64,
    /// Distinct IMEIs of emulators and test tools dropped (per request or
    /// payload), unless `--include-test-devices`.
    pub test_device_imeis: u64,
    pub requests_with_findings: u64,
    pub payloads_with_findings: u64,
    /// The first of those notes, with the frame of their request.
    pub notes: Vec<(u64, String)>,
    pub elapsed_secs: f64,
}

/// What was not looked at, by reason.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotInspected {
    pub unsupported_link_frames: u64,
    /// Fragments never completed (or past the reassembly limits).
    pub fragments_incomplete: u64,
    /// Frames cut by the snapshot length, or too short for their headers.
    pub truncated_frames: u64,
    pub malformed_frames: u64,
    /// Protected (WEP/WPA-encrypted) 802.11 data frames: ciphertext.
    pub wifi_protected_frames: u64,
    /// Frames that were not IP (ARP, LLDP, ...), or IP other than TCP/UDP.
    pub other_protocol_frames: u64,
    /// TLS connections and payload bytes whose content was not read (no
    /// key, keys that do not authenticate, unsupported suite, ...: see
    /// [`TlsStats`] for why).
    pub tls_connections: u64,
    pub tls_bytes: u64,
    /// HTTP/2 client bytes after a frame or header block that could not be
    /// read (the HPACK state is lost there).
    pub http2_bytes: u64,
    /// QUIC packets and their bytes: not decrypted.
    pub quic_packets: u64,
    pub quic_bytes: u64,
    /// Server responses (cannot carry an upload).
    pub response_bytes: u64,
    /// TCP payload of streams that are neither HTTP nor TLS.
    pub other_tcp_bytes: u64,
    /// UDP payload (DNS answers are read for host names only).
    pub udp_bytes: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
}

/// HTTP/2 connections of a capture and what was not read of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Http2Stats {
    pub connections: u64,
    /// Client streams read as requests.
    pub streams: u64,
    /// Streams past the open-stream limit of a connection, not read.
    pub streams_over_limit: u64,
    /// Header blocks that could not be decoded (the HPACK state of that
    /// direction is lost from there).
    pub bad_blocks: u64,
    /// Payload of frame types this reader does not know.
    pub unknown_frame_bytes: u64,
}

/// TLS connections of a capture by what decryption could do with them.
/// Connections are counted once, under their first outcome; bytes are TLS
/// record bytes (both directions) of connections not decrypted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsStats {
    pub connections: u64,
    /// Connections whose application data was decrypted.
    pub decrypted: u64,
    /// Of those, connections read only in part: some of their records
    /// could not be (a renegotiated session without keys, a gap, records
    /// that stopped parsing).
    pub partly: u64,
    /// Plaintext application bytes: client to server (inspected) and
    /// server to client (counted only).
    pub client_bytes: u64,
    pub server_bytes: u64,
    /// Not decrypted, by reason: (connections, bytes).
    pub no_key: (u64, u64),
    pub bad_key: (u64, u64),
    pub midstream: (u64, u64),
    pub gap: (u64, u64),
    pub limit: (u64, u64),
    pub malformed: (u64, u64),
    /// Connections that ended before any protected record (a lone or
    /// unfinished ClientHello, a refused handshake): nothing to decrypt.
    pub handshake_only: (u64, u64),
    /// Unsupported cipher suites or versions by name: (name, connections, bytes).
    pub unsupported: Vec<(String, u64, u64)>,
    /// Records that did not authenticate inside connections otherwise
    /// decrypted (rejected 0-RTT data, corruption).
    pub bad_records: u64,
    /// Key log entries from the capture itself (Decryption Secrets Blocks).
    pub embedded_keys: u64,
    /// Closed connections that could not wait for later keys (over
    /// `MAX_PARKED`), counted under their outcome at once.
    pub parked_limit: u64,
    /// Server names (SNI) of the connections not decrypted, distinct, in
    /// order of first appearance (at most 1000).
    pub server_names: Vec<String>,
}

impl TlsStats {
    /// Connections not decrypted, for any reason.
    pub fn not_decrypted(&self) -> (u64, u64) {
        let mut t = (0, 0);
        for (c, b) in
            [self.no_key, self.bad_key, self.midstream, self.gap, self.limit, self.malformed, self.handshake_only]
                .into_iter()
                .chain(self.unsupported.iter().map(|(_, c, b)| (*c, *b)))
        {
            t.0 += c;
            t.1 += b;
        }
        t
    }
}

/// Destination hosts tallied per capture (and per run in reports); past
/// it, new hosts are counted together under [`OTHER_HOSTS`].
pub const MAX_HOSTS: usize = 10_000;
pub const OTHER_HOSTS: &str = "(other hosts)";

/// Notes kept per capture in its record (all are counted).
pub const MAX_NOTES: usize = 100;

/// Everything one capture produced, in a stable order. When a scan
/// streams ([`crate::scan::Event`]), the capture's closing record carries
/// no findings or requests: they went out before it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct FileReport {
    pub capture: String,
    pub findings: Vec<Finding>,
    pub requests: Vec<RequestRecord>,
    pub errors: Vec<ErrorRecord>,
    pub hosts: Vec<HostActivity>,
    /// The apps that sent requests, in order of first request.
    pub apps: Vec<AppActivity>,
    pub stats: FileStats,
}

/// Where an address is: `internet`, `lan` (private, loopback,
/// link-local, unique local, unspecified), `multicast`, `broadcast`.
pub fn scope_of(ip: std::net::IpAddr) -> &'static str {
    use std::net::IpAddr;
    match ip {
        IpAddr::V4(a) if a.is_broadcast() => "broadcast",
        IpAddr::V4(a) if a.is_multicast() => "multicast",
        IpAddr::V4(a) if a.is_private() || a.is_loopback() || a.is_link_local() || a.is_unspecified() => "lan",
        IpAddr::V6(a) if a.is_multicast() => "multicast",
        IpAddr::V6(a)
            if a.is_loopback()
                || a.is_unspecified()
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || (a.segments()[0] & 0xfe00) == 0xfc00 =>
        {
            "lan"
        }
        IpAddr::V6(a) => a.to_ipv4_mapped().map_or("internet", |v4| scope_of(IpAddr::V4(v4))),
        IpAddr::V4(_) => "internet",
    }
}

/// A multicast or broadcast destination: only the local network hears it.
pub fn local_only(ip: std::net::IpAddr) -> bool {
    // What `scope_of` calls `multicast` or `broadcast`, without judging
    // the other scopes (the reader asks it of every packet).
    let v4 = |a: std::net::Ipv4Addr| a.is_broadcast() || a.is_multicast();
    match ip {
        std::net::IpAddr::V4(a) => v4(a),
        std::net::IpAddr::V6(a) => a.is_multicast() || a.to_ipv4_mapped().is_some_and(v4),
    }
}

/// Names that are `&'static str` in the model (protocols, TLS versions
/// and suites, capture tools, roles), read back from a shard file: each
/// distinct name is kept once for the life of the process. What one file
/// may add is bounded ([`interned::with_budget`]: a run makes a few dozen
/// names, the same in every shard), and so is a name's length, so a
/// hostile file can neither grow the table without bound nor spoil the
/// names of the files read after it.
pub mod interned {
    use std::cell::Cell;
    use std::collections::HashSet;
    use std::sync::Mutex;

    use serde::{Deserialize, Deserializer};

    /// New names one file may add.
    pub const PER_FILE: usize = 256;
    /// Longest name kept.
    pub const MAX_LEN: usize = 128;

    /// `&'static str` by another name: a field of this type is not
    /// borrowed from the input by serde's derive (which would tie every
    /// record to `'static` input).
    pub type Name = &'static str;

    static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

    thread_local! {
        /// New names the file being read may still add.
        static BUDGET: Cell<usize> = const { Cell::new(PER_FILE) };
    }

    /// Runs `f` (reading a record of one file) with that file's budget of
    /// new names, and keeps what is left of it.
    pub fn with_budget<T>(budget: &mut usize, f: impl FnOnce() -> T) -> T {
        let before = BUDGET.replace(*budget);
        let out = f();
        *budget = BUDGET.replace(before);
        out
    }

    /// The one `&'static str` of `s`.
    pub fn intern(s: &str) -> Result<&'static str, String> {
        if s.len() > MAX_LEN {
            return Err(format!("a protocol, suite or tool name of {} bytes (at most {MAX_LEN})", s.len()));
        }
        let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
        let names = names.get_or_insert_with(HashSet::new);
        if let Some(n) = names.get(s) {
            return Ok(n);
        }
        let left = BUDGET.get();
        if left == 0 {
            return Err(format!("more than {PER_FILE} distinct protocol, suite or tool names"));
        }
        BUDGET.set(left - 1);
        let n: &'static str = Box::leak(s.to_owned().into_boxed_str());
        names.insert(n);
        Ok(n)
    }

    pub fn de<'de, D: Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        intern(&s).map_err(serde::de::Error::custom)
    }

    pub fn de_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
        let s = Option::<std::borrow::Cow<str>>::deserialize(d)?;
        s.map(|s| intern(&s)).transpose().map_err(serde::de::Error::custom)
    }
}
