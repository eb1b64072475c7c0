//! JSON Lines: one object per line with a `type` (`finding`, `request`,
//! `error`, and a final `summary`); the fields of DESIGN.md, all present,
//! `null` where unknown.

use std::borrow::Cow;
use std::io::{self, Write};
use std::sync::Arc;

use serde_json::{Value, json};

use super::{AppTotals, Privacy, ReportOptions, Reporter, Summary, host_key};
use crate::finding::{AppRef, ErrorRecord, FileReport, Finding, RequestRecord, TlsInfo, TlsStats};

pub struct JsonlReporter<W: Write> {
    out: W,
    p: Privacy,
    /// Destination hosts across all captures: requests, captures, findings,
    /// and the apps that sent them.
    hosts: std::collections::BTreeMap<String, HostTally>,
    apps: AppTotals,
    /// One line being written.
    buf: Vec<u8>,
    memo: LineMemo,
    /// The capture's name, host and URI last masked: every finding of a
    /// capture carries its name, and those of a request its host and URI.
    capture: Masked,
    host: Masked,
    uri: Masked,
}

#[derive(Default)]
struct HostTally {
    requests: u64,
    captures: u64,
    kinds: std::collections::BTreeMap<String, u64>,
    apps: std::collections::BTreeSet<String>,
}

impl<W: Write> JsonlReporter<W> {
    pub fn new(out: W, opts: ReportOptions) -> Self {
        JsonlReporter {
            out,
            p: Privacy::new(opts),
            hosts: Default::default(),
            apps: Default::default(),
            buf: Vec::new(),
            memo: LineMemo::default(),
            capture: Masked::default(),
            host: Masked::default(),
            uri: Masked::default(),
        }
    }

    fn line(&mut self, v: &Value) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, v)?;
        self.out.write_all(b"\n")
    }
}

/// A finding as its JSON Lines record, written straight from the
/// finding (no `serde_json::Value` built per finding, and no copy of a
/// text that masking leaves as it is). Fields in alphabetical order, as
/// a `Value` map writes them: the two forms are byte-identical
/// (`finding_json` is this, as a `Value`, for SARIF).
#[derive(serde::Serialize)]
struct FindingLine<'a> {
    app: Option<Cow<'a, str>>,
    app_id: Option<i64>,
    app_source: Option<&'static str>,
    capture: Cow<'a, str>,
    confidence: &'static str,
    dst: Shown<&'a std::net::SocketAddr>,
    encoding: &'a [Cow<'static, str>],
    field: Option<Cow<'a, str>>,
    frame: u64,
    host: Option<Cow<'a, str>>,
    http_version: Option<&'static str>,
    kind: &'a str,
    location: &'static str,
    matched: Option<String>,
    method: Option<Cow<'a, str>>,
    protocol: &'static str,
    role: Option<&'static str>,
    rule: &'a str,
    scope: &'static str,
    severity: &'static str,
    src: Shown<&'a std::net::SocketAddr>,
    stream_id: Option<u32>,
    time: Shown<&'a crate::util::Timestamp>,
    title: &'a str,
    tls: Option<TlsLine<'a>>,
    #[serde(rename = "type")]
    record: &'static str,
    uri: Option<Cow<'a, str>>,
    value: String,
}

impl FindingLine<'_> {
    /// The record as `serde_json` writes it (byte for byte: the tests
    /// compare them), without its serializer: strings escaped eight bytes
    /// at a time, numbers without a formatter. The reporter writes one
    /// per finding, on the thread that puts them in order.
    fn write(&self, o: &mut Vec<u8>, memo: &mut LineMemo) {
        fn opt(o: &mut Vec<u8>, s: Option<&str>) {
            match s {
                Some(s) => json_str(o, s),
                None => o.extend_from_slice(b"null"),
            }
        }
        /// The name of one of the program's enums (confidence, location,
        /// scope, severity): never anything to escape. (Protocol, TLS,
        /// role and app-source names are interned, and may come from a
        /// shard file: they are escaped.)
        fn plain(o: &mut Vec<u8>, s: &'static str) {
            debug_assert!(!s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\'));
            o.push(b'"');
            o.extend_from_slice(s.as_bytes());
            o.push(b'"');
        }
        // Each key with the separators around it, as one piece.
        macro_rules! key {
            ($k:literal) => {
                o.extend_from_slice(concat!(",\"", $k, "\":").as_bytes())
            };
        }
        o.extend_from_slice(b"{\"app\":");
        opt(o, self.app.as_deref());
        key!("app_id");
        match self.app_id {
            Some(n) => json_i64(o, n),
            None => o.extend_from_slice(b"null"),
        }
        key!("app_source");
        // Interned names (`finding::interned`) may have been read back
        // from a shard file: escaped like any text.
        opt(o, self.app_source);
        key!("capture");
        json_str(o, &self.capture);
        key!("confidence");
        plain(o, self.confidence);
        key!("dst");
        o.extend_from_slice(memo.dst.get(self.dst.0, crate::util::render_addr));
        key!("encoding");
        o.push(b'[');
        for (i, e) in self.encoding.iter().enumerate() {
            if i > 0 {
                o.push(b',');
            }
            json_str(o, e);
        }
        o.push(b']');
        key!("field");
        opt(o, self.field.as_deref());
        key!("frame");
        json_u64(o, self.frame);
        key!("host");
        opt(o, self.host.as_deref());
        key!("http_version");
        opt(o, self.http_version);
        key!("kind");
        json_str(o, self.kind);
        key!("location");
        plain(o, self.location);
        key!("matched");
        opt(o, self.matched.as_deref());
        key!("method");
        opt(o, self.method.as_deref());
        key!("protocol");
        json_str(o, self.protocol);
        key!("role");
        opt(o, self.role);
        key!("rule");
        json_str(o, self.rule);
        key!("scope");
        plain(o, self.scope);
        key!("severity");
        plain(o, self.severity);
        key!("src");
        o.extend_from_slice(memo.src.get(self.src.0, crate::util::render_addr));
        key!("stream_id");
        match self.stream_id {
            Some(n) => json_u64(o, u64::from(n)),
            None => o.extend_from_slice(b"null"),
        }
        key!("time");
        o.extend_from_slice(memo.time.get(self.time.0, crate::util::Timestamp::render));
        key!("title");
        json_str(o, self.title);
        key!("tls");
        match &self.tls {
            Some(t) => {
                o.extend_from_slice(b"{\"cipher\":");
                json_str(o, t.cipher);
                o.extend_from_slice(b",\"sni\":");
                opt(o, t.sni.as_deref());
                o.extend_from_slice(b",\"version\":");
                json_str(o, t.version);
                o.push(b'}');
            }
            None => o.extend_from_slice(b"null"),
        }
        o.extend_from_slice(b",\"type\":\"finding\",\"uri\":");
        debug_assert_eq!(self.record, "finding");
        opt(o, self.uri.as_deref());
        key!("value");
        json_str(o, &self.value);
        o.push(b'}');
    }
}

/// The last address or time written, as its JSON string: the findings
/// of one request share them.
struct Last<T> {
    seen: Option<T>,
    json: Vec<u8>,
}

impl<T> Default for Last<T> {
    fn default() -> Self {
        Last { seen: None, json: Vec::new() }
    }
}

impl<T: Copy + PartialEq> Last<T> {
    /// `v` as a JSON string, `render` giving its text (nothing in it to
    /// escape).
    fn get(&mut self, v: &T, render: fn(&T) -> crate::util::Rendered) -> &[u8] {
        if self.seen.as_ref() != Some(v) {
            self.json.clear();
            self.json.push(b'"');
            self.json.extend_from_slice(render(v).as_str().as_bytes());
            self.json.push(b'"');
            self.seen = Some(*v);
        }
        &self.json
    }
}

/// Addresses and the time last written in a finding's line.
#[derive(Default)]
struct LineMemo {
    src: Last<std::net::SocketAddr>,
    dst: Last<std::net::SocketAddr>,
    time: Last<crate::util::Timestamp>,
}

/// Does any byte of `w` need escaping in a JSON string (below 0x20, `"`
/// or `\`)? May say yes for a word that needs none (a borrow across
/// bytes), never no for one that does.
fn word_needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    let quote = w ^ (ONES * u64::from(b'"'));
    let quote = quote.wrapping_sub(ONES) & !quote & HIGH;
    let slash = w ^ (ONES * u64::from(b'\\'));
    let slash = slash.wrapping_sub(ONES) & !slash & HIGH;
    (below | quote | slash) != 0
}

/// `s` as a JSON string, escaped as `serde_json` escapes: `\"`, `\\`,
/// `\b \f \n \r \t`, other control characters as `\u00xx`.
fn json_str(o: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    o.push(b'"');
    let (mut start, mut i) = (0, 0);
    while i < b.len() {
        while let Some(chunk) = b.get(i..i + 8) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            if word_needs_escape(u64::from_le_bytes(w)) {
                break;
            }
            i += 8;
        }
        let Some(&c) = b.get(i) else { break };
        let short: Option<&[u8]> = match c {
            b'"' => Some(b"\\\""),
            b'\\' => Some(b"\\\\"),
            0x08 => Some(b"\\b"),
            0x0c => Some(b"\\f"),
            b'\n' => Some(b"\\n"),
            b'\r' => Some(b"\\r"),
            b'\t' => Some(b"\\t"),
            _ => None,
        };
        if let Some(e) = short {
            o.extend_from_slice(&b[start..i]);
            o.extend_from_slice(e);
            start = i + 1;
        } else if c < 0x20 {
            o.extend_from_slice(&b[start..i]);
            o.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[usize::from(c >> 4)], HEX[usize::from(c & 0xf)]]);
            start = i + 1;
        }
        i += 1;
    }
    o.extend_from_slice(&b[start..]);
    o.push(b'"');
}

fn json_u64(o: &mut Vec<u8>, mut n: u64) {
    let mut d = [0u8; 20];
    let mut at = d.len();
    loop {
        at -= 1;
        d[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    o.extend_from_slice(&d[at..]);
}

fn json_i64(o: &mut Vec<u8>, n: i64) {
    if n < 0 {
        o.push(b'-');
    }
    json_u64(o, n.unsigned_abs());
}

/// A finding's TLS session, as [`tls_json`] writes it (fields in the
/// order of its `Value` map).
#[derive(serde::Serialize)]
struct TlsLine<'a> {
    cipher: &'static str,
    sni: Option<Cow<'a, str>>,
    version: &'static str,
}

/// An address or a time written as the JSON string of its `Display`
/// form, rendered on the stack ([`crate::util::Rendered`]): no
/// formatter, no `String` in between.
struct Shown<T>(T);

impl serde::Serialize for Shown<&std::net::SocketAddr> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(crate::util::render_addr(self.0).as_str())
    }
}

impl serde::Serialize for Shown<&crate::util::Timestamp> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.render().as_str())
    }
}

fn finding_line<'a>(f: &'a Finding, p: &'a Privacy) -> FindingLine<'a> {
    let text = |s: Option<&'a str>| s.map(|s| p.text(s));
    let shown =
        Shown3 { capture: p.text(&f.capture), host: text(f.host.as_deref()), uri: text(super::shown_uri(p.opts, f)) };
    finding_line_in(f, p, shown)
}

/// A finding's texts that its request's other findings share, as masked.
struct Shown3<'a> {
    capture: Cow<'a, str>,
    host: Option<Cow<'a, str>>,
    uri: Option<Cow<'a, str>>,
}

/// The record, with the capture's name, host and URI as already masked.
fn finding_line_in<'a>(f: &'a Finding, p: &'a Privacy, shown: Shown3<'a>) -> FindingLine<'a> {
    let text = |s: Option<&'a str>| s.map(|s| p.text(s));
    let Shown3 { capture, host, uri } = shown;
    FindingLine {
        app: f.app.as_deref().and_then(|a| a.name.as_deref()).map(|n| p.text(n)),
        app_id: f.app.as_ref().and_then(|a| a.id),
        app_source: f.app.as_ref().map(|a| a.source),
        capture,
        confidence: f.confidence.as_str(),
        dst: Shown(&f.dst),
        encoding: &f.encoding,
        field: text(f.field.as_deref()),
        frame: f.frame,
        host,
        http_version: f.protocol.strip_prefix("http/"),
        kind: &f.kind,
        location: f.location.as_str(),
        matched: f.matched.as_deref().map(|m| p.value(m)),
        method: text(f.method.as_deref()),
        protocol: f.protocol,
        role: f.role,
        rule: &f.rule,
        scope: scope(f.dst.ip()),
        severity: f.severity.as_str(),
        src: Shown(&f.src),
        stream_id: f.stream_id,
        time: Shown(&f.time),
        title: &f.title,
        tls: f.tls.as_deref().map(|t| TlsLine {
            cipher: t.cipher,
            sni: t.sni.as_deref().map(|s| p.text(s)),
            version: t.version,
        }),
        record: "finding",
        uri,
        value: p.value(&f.value),
    }
}

/// A text shared by findings (one `Arc` for a capture's, or a request's,
/// findings), as last masked, and the masker's generation then: `None`
/// when masking left it as it was.
#[derive(Default)]
struct Masked {
    last: Option<(Arc<str>, usize, Option<String>)>,
}

impl Masked {
    fn get<'a>(&'a mut self, raw: Option<&'a Arc<str>>, p: &Privacy, generation: usize) -> Option<Cow<'a, str>> {
        let raw = raw?;
        // The same `Arc` nearly always (a request's findings share it);
        // the same text from another part (each worker has its own copy
        // of the capture's name) is the same too.
        let fresh =
            self.last.as_ref().is_some_and(|(r, g, _)| *g == generation && (Arc::ptr_eq(r, raw) || **r == **raw));
        if !fresh {
            let masked = match p.text(raw) {
                Cow::Borrowed(_) => None,
                Cow::Owned(m) => Some(m),
            };
            self.last = Some((Arc::clone(raw), generation, masked));
        }
        match &self.last {
            Some((_, _, Some(m))) => Some(Cow::Borrowed(m.as_str())),
            _ => Some(Cow::Borrowed(raw)),
        }
    }
}

pub fn finding_json(f: &Finding, p: &Privacy) -> Value {
    serde_json::to_value(finding_line(f, p)).unwrap_or(Value::Null)
}

/// The app's package or command name, or `null` (no app known, or only
/// its id: then `app_id` has it).
pub fn app_name(a: Option<&AppRef>, p: &Privacy) -> Value {
    a.and_then(|a| a.name.as_deref()).map_or(Value::Null, |n| json!(p.text(n)))
}

/// The HTTP version of a protocol name (`"1.1"`, `"2"`), `null` when it
/// is not HTTP.
pub fn http_version(protocol: &str) -> Value {
    protocol.strip_prefix("http/").map_or(Value::Null, |v| json!(v))
}

/// `{"version", "cipher", "sni"}` of a decrypted session, or `null`.
pub fn tls_json(t: Option<&TlsInfo>, p: &Privacy) -> Value {
    t.map_or(Value::Null, |t| json!({"version": t.version, "cipher": t.cipher, "sni": p.opt(t.sni.as_deref())}))
}

/// Where an address is ([`crate::finding::scope_of`]).
pub use crate::finding::scope_of as scope;

pub fn request_json(r: &RequestRecord, p: &Privacy) -> Value {
    let notes: Vec<std::borrow::Cow<'_, str>> = r.notes.iter().map(|n| p.text(n)).collect();
    json!({
        "type": "request",
        "capture": p.text(&r.capture),
        "frame": r.frame,
        "time": r.time.rfc3339(),
        "src": r.src.to_string(),
        "dst": r.dst.to_string(),
        "method": p.text(&r.method),
        "host": p.opt(r.host.as_deref()),
        "uri": p.text(if p.opts.show_values { &r.uri } else { &r.uri_masked }),
        "body_bytes": r.body_bytes,
        "content_type": p.opt(r.content_type.as_deref()),
        "notes": notes,
        "text": p.opt(r.text.as_deref()),
        "protocol": r.protocol,
        "http_version": http_version(r.protocol),
        "tls": tls_json(r.tls.as_deref(), p),
        "stream_id": r.stream_id,
        "app": app_name(r.app.as_deref(), p),
        "app_id": r.app.as_ref().and_then(|a| a.id),
        "app_source": r.app.as_ref().map(|a| a.source),
    })
}

pub fn error_json(e: &ErrorRecord, p: &Privacy) -> Value {
    json!({"type": "error", "capture": p.text(&e.capture), "frame": e.frame, "message": p.text(&e.message)})
}

/// The capture-quality record of one file: what it held, what was not
/// inspected and why.
pub fn capture_json(r: &FileReport, p: &Privacy) -> Value {
    let names = |v: &[String]| v.iter().map(|n| p.text(n).into_owned()).collect::<Vec<_>>();
    let s = &r.stats;
    let n = &s.not_inspected;
    let links: serde_json::Map<String, Value> = s.link_types.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let mut v = json!({
        "type": "capture",
        "capture": p.text(&r.capture),
        "format": if s.format.is_empty() { Value::Null } else { json!(s.format) },
        "frames": s.frames,
        "bytes": s.bytes,
        "link_types": links,
        "encapsulated_frames": s.encapsulated_frames,
        "reassembled_datagrams": s.reassembled_datagrams,
        "retransmitted_bytes": s.retransmitted_bytes,
        "overlap_conflicts": s.overlap_conflicts,
        "flows_evicted": s.flows_evicted,
        "reorder_limit_hits": s.reorder_limit_hits,
        "held_limit_hits": s.held_limit_hits,
        "tls_server_names": names(&s.tls_server_names),
        "quic_server_names": names(&s.quic_server_names),
        "tls": tls_stats_json(&s.tls, p),
        "http2": {
            "connections": s.http2.connections,
            "streams": s.http2.streams,
            "streams_over_limit": s.http2.streams_over_limit,
            "bad_header_blocks": s.http2.bad_blocks,
            "unknown_frame_bytes": s.http2.unknown_frame_bytes,
        },
        "flows": s.flows,
        "requests": s.requests,
        "requests_with_notes": s.requests_with_notes,
        "notes": s.notes.iter().map(|(frame, m)| json!({"frame": frame, "message": p.text(m)})).collect::<Vec<_>>(),
        "findings": s.findings,
        "errors": r.errors.len(),
        "not_inspected": {
            "unsupported_link_frames": n.unsupported_link_frames,
            "fragments_incomplete": n.fragments_incomplete,
            "truncated_frames": n.truncated_frames,
            "malformed_frames": n.malformed_frames,
            "wifi_protected_frames": n.wifi_protected_frames,
            "other_protocol_frames": n.other_protocol_frames,
            "tls_connections": n.tls_connections,
            "tls_bytes": n.tls_bytes,
            "http2_bytes": n.http2_bytes,
            "quic_packets": n.quic_packets,
            "quic_bytes": n.quic_bytes,
            "response_bytes": n.response_bytes,
            "other_tcp_bytes": n.other_tcp_bytes,
            "udp_bytes": n.udp_bytes,
            "gaps": n.gaps,
            "gap_bytes": n.gap_bytes,
        },
        "elapsed_seconds": (s.elapsed_secs * 1e6).round() / 1e6,
    });
    // Telephony (apart: the macro above is at its recursion limit).
    v["sip"] = json!({"requests": s.sip_requests, "responses": s.sip_responses});
    v["sms"] = json!({
        "messages": s.sms_messages,
        "downlink": s.sms_downlink,
        "incomplete": s.sms_incomplete,
        "limit_evictions": s.sms_limit_evictions,
    });
    v["nas_identities"] = json!(s.nas_identities);
    v["detection"] = json!({"emails_set_aside": s.emails_set_aside, "test_device_imeis": s.test_device_imeis});
    v["gsmtap"] = json!({"datagrams": s.gsmtap_datagrams, "not_decoded": s.gsmtap_not_decoded});
    v["attribution"] = json!({
        "frames": s.attributed_frames,
        "flows": s.attributed_flows,
        "conflicts": s.app_conflicts,
        "filtered": s.app_filtered,
        "notes": s.attribution_notes,
    });
    v["apps"] = json!(
        r.apps
            .iter()
            .map(|a| json!({
                "app": app_name(Some(&a.app), p),
                "app_id": a.app.id,
                "app_source": a.app.source,
                "frames": a.frames,
                "requests": a.requests,
                "first": a.first.rfc3339(),
                "last": a.last.rfc3339(),
            }))
            .collect::<Vec<_>>()
    );
    v
}

/// What TLS decryption did in one capture: connections by outcome, with
/// bytes for those not decrypted.
pub fn tls_stats_json(t: &TlsStats, p: &Privacy) -> Value {
    let pair = |p: (u64, u64)| json!({"connections": p.0, "bytes": p.1});
    json!({
        "connections": t.connections,
        "decrypted": t.decrypted,
        "partly": t.partly,
        "client_bytes": t.client_bytes,
        "server_bytes": t.server_bytes,
        "bad_records": t.bad_records,
        "embedded_keys": t.embedded_keys,
        "parked_limit": t.parked_limit,
        "not_decrypted": {
            "no_key": pair(t.no_key),
            "bad_key": pair(t.bad_key),
            "midstream": pair(t.midstream),
            "gap": pair(t.gap),
            "limit": pair(t.limit),
            "malformed": pair(t.malformed),
            "handshake_only": pair(t.handshake_only),
            "unsupported": t.unsupported.iter().map(|(n, c, b)| json!({"name": n, "connections": c, "bytes": b})).collect::<Vec<_>>(),
            "server_names": t.server_names.iter().map(|n| p.text(n).into_owned()).collect::<Vec<_>>(),
        },
    })
}

pub fn summary_json(s: &Summary) -> Value {
    json!({
        "type": "summary",
        "files": s.files,
        "frames": s.frames,
        "bytes": s.bytes,
        "flows": s.flows,
        "requests": s.requests,
        "findings": {"high": s.findings[2], "medium": s.findings[1], "low": s.findings[0]},
        "errors": s.errors,
        "not_captures_skipped": s.not_captures_skipped,
        "suppressed": s.suppressed,
        "filtered": s.filtered,
        "elapsed_seconds": (s.elapsed_secs * 1000.0).round() / 1000.0,
        "peak_memory_bytes": s.peak_memory_bytes,
    })
}

impl<W: Write> Reporter for JsonlReporter<W> {
    fn begin(&mut self, _capture: &str) -> io::Result<()> {
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        super::with_host(&mut self.hosts, &super::leaks::host_of(f), |t| super::count(&mut t.kinds, &f.kind));
        self.apps.finding(f);
        self.p.learn(f);
        let generation = self.p.generation();
        let shown = Shown3 {
            capture: self.capture.get(Some(&f.capture), &self.p, generation).unwrap_or_default(),
            host: self.host.get(f.host.as_ref(), &self.p, generation),
            uri: self.uri.get(super::shown_uri_arc(self.p.opts, f), &self.p, generation),
        };
        let line = finding_line_in(f, &self.p, shown);
        // Serialised into a reused buffer, then written at once: the
        // writer sees one call per line, not one per JSON token.
        self.buf.clear();
        line.write(&mut self.buf, &mut self.memo);
        self.buf.push(b'\n');
        self.out.write_all(&self.buf)
    }

    fn request(&mut self, q: &RequestRecord) -> io::Result<()> {
        self.p.learn_values(&q.found);
        let v = request_json(q, &self.p);
        self.line(&v)
    }

    fn end(&mut self, r: &FileReport) -> io::Result<()> {
        for h in &r.hosts {
            let k = host_key(&self.hosts, &h.host);
            let t = self.hosts.entry(k).or_default();
            t.requests += h.requests;
            t.captures += 1;
            for a in &h.apps {
                if t.apps.len() < crate::finding::MAX_HOST_APPS {
                    t.apps.insert(a.clone());
                }
            }
        }
        self.apps.capture(r);
        for e in &r.errors {
            let v = error_json(e, &self.p);
            self.line(&v)?;
        }
        if !r.capture.is_empty() {
            let v = capture_json(r, &self.p);
            self.line(&v)?;
        }
        self.out.flush()
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        // One line per app, then per destination host, across all captures.
        let apps = std::mem::take(&mut self.apps);
        for (_, t) in apps.apps {
            let hosts: serde_json::Map<String, Value> =
                t.hosts.iter().map(|(h, kinds)| (self.p.text(h).into_owned(), json!(kinds))).collect();
            self.line(&json!({
                "type": "app",
                "app": self.p.opt(t.name.as_deref()),
                "app_ids": t.ids,
                "app_source": t.source,
                "label": self.p.opt(t.label.as_deref()),
                "requests": t.requests,
                "captures": t.captures,
                "findings_by_kind": t.kinds,
                "hosts": hosts,
            }))?;
        }
        let hosts = std::mem::take(&mut self.hosts);
        for (host, t) in hosts {
            let host = self.p.text(&host).into_owned();
            let apps: Vec<String> = t.apps.iter().map(|a| self.p.text(a).into_owned()).collect();
            self.line(&json!({
                "type": "host",
                "host": host,
                "requests": t.requests,
                "captures": t.captures,
                "findings_by_kind": t.kinds,
                "apps": apps,
            }))?;
        }
        self.line(&summary_json(s))?;
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{AppRef, TlsInfo};

    /// Text with what JSON escapes, multi-byte characters, and runs long
    /// enough for the eight-byte steps, from a seed.
    fn text(seed: &mut u64, max: usize) -> String {
        const PARTS: [&str; 12] = ["a", "Z9", "\"", "\\", "\n", "\t", "\u{1}", "\u{1f}", "\u{7f}", "é", "€x", "/?=&"];
        *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        let n = (*seed >> 33) as usize % max;
        (0..n).map(|i| PARTS[((*seed >> (i % 48)) as usize + i) % PARTS.len()]).collect()
    }

    #[test]
    fn the_finding_line_is_what_serde_json_writes() {
        let p = Privacy::new(ReportOptions { show_values: true, ..ReportOptions::default() });
        let mut seed = 5u64;
        let mut memo = LineMemo::default();
        for i in 0..3000u64 {
            let mut f = crate::report::leaks::tests::finding(
                "imei",
                &text(&mut seed, 40),
                &text(&mut seed, 90),
                i as i64,
                4000,
            );
            f.field = (i % 3 != 0).then(|| text(&mut seed, 30));
            f.host = (i % 4 != 0).then(|| text(&mut seed, 20).into());
            f.method = (i % 5 != 0).then(|| "POST".into());
            f.matched = (i % 2 == 0).then(|| text(&mut seed, 20));
            f.capture = text(&mut seed, 60).into();
            f.title = text(&mut seed, 50).into();
            f.encoding = (0..i % 3).map(|k| if k == 0 { "base64".into() } else { text(&mut seed, 9).into() }).collect();
            f.frame = i * 7_919_999_999;
            f.stream_id = (i % 2 == 1).then_some((i as u32).wrapping_mul(2_654_435_761));
            // Times and addresses repeat in runs, as those of one
            // request's findings do (the writer remembers the last ones).
            let t = i / 2;
            f.time = crate::util::Timestamp::new(t as i64 * 86_399, (t as u32).wrapping_mul(999_983) % 1_000_000_000);
            f.src = std::net::SocketAddr::from(([10, 0, (i / 3 % 256) as u8, 7], (i / 3 % 65_536) as u16));
            if i % 7 == 0 {
                f.dst = "[2001:db8::1]:443".parse().unwrap();
                f.protocol = "h2";
                f.tls = Some(std::sync::Arc::new(TlsInfo {
                    version: "1.3",
                    cipher: "TLS_AES_128_GCM_SHA256",
                    sni: (i % 2 == 0).then(|| text(&mut seed, 20)),
                }));
            }
            if i % 5 == 1 {
                f.app = Some(std::sync::Arc::new(AppRef {
                    id: Some(if i % 2 == 0 { 10_057 } else { -3 }),
                    name: (i % 3 != 0).then(|| text(&mut seed, 20)),
                    label: None,
                    source: "pcapdroid",
                }));
            }
            let line = finding_line(&f, &p);
            let mut ours = Vec::new();
            line.write(&mut ours, &mut memo);
            let theirs = serde_json::to_vec(&line).unwrap();
            assert_eq!(crate::util::lossy(&ours), crate::util::lossy(&theirs), "finding {i}");
        }
    }

    /// Protocol, TLS, role and app-source names read back from a shard
    /// file are interned from its text: they are escaped as serde_json
    /// escapes them, never written as they are.
    #[test]
    fn interned_names_from_a_shard_are_escaped() {
        let p = Privacy::new(ReportOptions::default());
        let mut memo = LineMemo::default();
        let evil = |s: &str| crate::finding::interned::intern(s).unwrap();
        for name in ["http/1.1\",\"injected\":\"x", "h2\u{1}", "http/\\", "a\nb"] {
            let mut f = crate::report::leaks::tests::finding("imei", "490154203237518", "/", 1, 80);
            f.protocol = evil(name);
            f.role = Some(evil(name));
            f.tls = Some(std::sync::Arc::new(TlsInfo { version: evil(name), cipher: evil(name), sni: None }));
            f.app = Some(std::sync::Arc::new(AppRef { id: Some(1), name: None, label: None, source: evil(name) }));
            let line = finding_line(&f, &p);
            let mut ours = Vec::new();
            line.write(&mut ours, &mut memo);
            let theirs = serde_json::to_vec(&line).unwrap();
            assert_eq!(crate::util::lossy(&ours), crate::util::lossy(&theirs), "{name:?}");
        }
    }
}
