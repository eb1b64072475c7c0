//! The finding model: what `detect` produces and the only thing `report`
//! sees. Values are kept unmasked here; reporters mask them unless the
//! user asked for values ([`mask`]).

use std::fmt;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use crate::capture::Timestamp;

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

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where in a request a value was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Location {
    Query,
    Path,
    Body,
    Header,
    Cookie,
    Stream,
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
        }
    }

    pub fn parse(s: &str) -> Option<Location> {
        Some(match s {
            "query" => Location::Query,
            "path" => Location::Path,
            "body" => Location::Body,
            "header" => Location::Header,
            "cookie" => Location::Cookie,
            "stream" => Location::Stream,
            _ => return None,
        })
    }
}

/// One identifier (or known endpoint) seen in one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    pub title: String,
    pub kind: String,
    /// The value as found (after the decodings in `encoding`), unmasked.
    pub value: String,
    /// For a profile match, the profile value it stands for.
    pub matched: Option<String>,
    pub encoding: Vec<String>,
    pub location: Location,
    pub field: Option<String>,
    pub capture: String,
    pub frame: u64,
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub host: Option<String>,
    pub method: String,
    /// The request target as sent.
    pub uri: String,
    /// The target with every identifier of the request masked.
    pub uri_masked: String,
}

/// Longest value shown with its middle starred; longer values show their
/// ends and their length.
const MASK_FULL_MAX: usize = 32;

/// Masks an identifier for display: the first and last two characters
/// stay so a reader can tell values apart; short values are all stars.
pub fn mask(v: &str) -> String {
    let chars: Vec<char> = v.chars().collect();
    let n = chars.len();
    if n <= 6 {
        return "*".repeat(n);
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[n - 2..].iter().collect();
    if n <= MASK_FULL_MAX {
        format!("{head}{}{tail}", "*".repeat(n - 4))
    } else {
        format!("{head}****[{n} chars]****{tail}")
    }
}

/// Replaces every occurrence of each value in `text` by its mask.
pub fn mask_all(text: &str, values: &[&str]) -> String {
    let mut out = text.to_string();
    let mut vals: Vec<&str> = values.iter().copied().filter(|v| v.len() >= 3).collect();
    // Longest first, so a value inside another is not half-masked.
    vals.sort_by_key(|v| std::cmp::Reverse(v.len()));
    vals.dedup();
    for v in vals {
        if out.contains(v) {
            out = out.replace(v, &mask(v));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_ends_only() {
        assert_eq!(mask("356938035643809"), "35***********09");
        assert_eq!(mask("12345"), "*****");
        let long = "a".repeat(171);
        assert_eq!(mask(&long), "aa****[171 chars]****aa");
    }

    #[test]
    fn mask_all_masks_each_occurrence() {
        let t = mask_all("/r?imei=356938035643809&x=356938035643809", &["356938035643809"]);
        assert_eq!(t, "/r?imei=35***********09&x=35***********09");
    }
}

/// A problem met while scanning: the capture, the frame when known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRecord {
    pub capture: String,
    pub frame: Option<u64>,
    pub message: String,
}

/// One rebuilt HTTP request, as `teleaudit requests` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestRecord {
    pub capture: String,
    pub frame: u64,
    pub time: Timestamp,
    pub src: SocketAddr,
    pub dst: SocketAddr,
    pub method: String,
    pub host: Option<String>,
    pub uri: String,
    pub body_bytes: u64,
    pub content_type: Option<String>,
    pub notes: Vec<String>,
}

/// Requests to one destination host in one capture.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HostActivity {
    /// Host name, else the destination address.
    pub host: String,
    pub requests: u64,
    pub first: Timestamp,
    pub last: Timestamp,
}

/// What a capture held and what could not be inspected.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FileStats {
    pub frames: u64,
    pub bytes: u64,
    pub flows: u64,
    pub requests: u64,
    /// Frames by link type name.
    pub link_types: Vec<(String, u64)>,
    pub unsupported_frames: u64,
    pub ip_fragments: u64,
    pub truncated_frames: u64,
    /// Directions of TLS connections (not decrypted, not inspected).
    pub tls_streams: u64,
    /// Payload bytes of directions that were not HTTP requests.
    pub bytes_not_inspected: u64,
    pub gaps: u64,
    pub gap_bytes: u64,
    /// Requests with a limit hit or damage (see `requests` notes).
    pub requests_with_notes: u64,
    pub elapsed_secs: f64,
}

/// Everything one capture produced, in a stable order.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    pub capture: String,
    pub findings: Vec<Finding>,
    pub requests: Vec<RequestRecord>,
    pub errors: Vec<ErrorRecord>,
    pub hosts: Vec<HostActivity>,
    pub stats: FileStats,
}
