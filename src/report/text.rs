//! Text for people: per capture, its totals, what was not inspected, and
//! then its leaks ([`super::leaks`]): one line per distinct leak (what,
//! where in the request, how encoded, how many times, first and last
//! time, which app), grouped by destination host and sorted by severity.
//! With `details` each request (or stream payload) is also listed as it
//! is read, once, with its findings under it, before the capture's
//! summary (listed as they come, so memory stays bounded). A summary line
//! at the end. `requests` mode prints one line per request.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

use super::leaks::{Destination, Leak, LeakTable};
use super::{AppTotals, Privacy, ReportOptions, Reporter, Summary, host_key, short_time};
use crate::finding::{AppRef, FileReport, Finding, RequestRecord, Severity};

pub struct TextReporter<W: Write> {
    out: W,
    p: Privacy,
    /// Per destination host across all captures: requests, captures, and
    /// findings by kind (for the summary of a batch).
    hosts: BTreeMap<String, HostTotal>,
    /// Per app across all captures.
    apps: AppTotals,
    errors: FileErrors,
    file: FileState,
}

/// What the reporter keeps of the capture being written.
#[derive(Default)]
struct FileState {
    capture: String,
    titled: bool,
    /// The findings of the current request, written when it is complete
    /// (so its request line can highlight them all), at most
    /// [`PENDING_MAX`].
    pending: Vec<Finding>,
    /// The request whose line was written last: (frame, source, host,
    /// target).
    last_request: Option<RequestKey>,
    /// The capture's distinct leaks (bounded).
    leaks: LeakTable,
    /// Findings by app, kind and host.
    apps: AppTotals,
    /// Endpoint rules whose title was written.
    titled_rules: Vec<String>,
    /// `requests` mode wrote a line for this capture.
    requests_listed: bool,
}

/// A request line's identity: frame, source, host, target.
type RequestKey = (u64, std::net::SocketAddr, Option<Arc<str>>, Option<Arc<str>>);

/// Findings of one request held before they are written.
const PENDING_MAX: usize = 256;

/// The first error of each capture that had some, for the summary.
type FileErrors = Vec<(String, String)>;

#[derive(Default)]
struct HostTotal {
    requests: u64,
    captures: u64,
    kinds: BTreeMap<String, u64>,
}

impl<W: Write> TextReporter<W> {
    pub fn new(out: W, opts: ReportOptions) -> Self {
        TextReporter {
            out,
            p: Privacy::new(opts),
            hosts: BTreeMap::new(),
            apps: AppTotals::default(),
            errors: Vec::new(),
            file: FileState::default(),
        }
    }
}

/// Wraps `text` in an ANSI style when `color` is on.
fn paint(color: bool, style: &str, text: &str) -> String {
    if color { format!("\x1b[{style}m{text}\x1b[0m") } else { text.to_string() }
}

const RED: &str = "1;31";
const YELLOW: &str = "1;33";
const CYAN: &str = "36";
const BOLD: &str = "1";

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

/// One line of what was not inspected, or `None` when nothing was left.
pub fn not_inspected_line(r: &FileReport, p: &Privacy) -> Option<String> {
    let n = &r.stats.not_inspected;
    let mut parts = Vec::new();
    let plural = |k: u64, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    if n.tls_connections > 0 {
        parts.push(tls_not_inspected(r, p));
    }
    let h2 = &r.stats.http2;
    if h2.bad_blocks > 0 {
        parts.push(format!("{} HTTP/2 header blocks not decoded (HPACK state lost)", h2.bad_blocks));
    }
    if h2.unknown_frame_bytes > 0 {
        parts.push(format!("{} of HTTP/2 frames of unknown types", human_bytes(h2.unknown_frame_bytes)));
    }
    if h2.streams_over_limit > 0 {
        parts.push(format!("{} HTTP/2 streams over the open-stream limit", h2.streams_over_limit));
    }
    if n.http2_bytes > 0 {
        parts.push(format!("{} of HTTP/2 after a frame that could not be read", human_bytes(n.http2_bytes)));
    }
    if n.quic_packets > 0 {
        let names = &r.stats.quic_server_names;
        let to = if names.is_empty() {
            String::new()
        } else {
            format!(" to {}", names.iter().take(5).map(|n| p.line(n).into_owned()).collect::<Vec<_>>().join(", "))
        };
        parts.push(format!(
            "{} ({}{to}; QUIC is not decrypted yet)",
            plural(n.quic_packets, "QUIC packet", "QUIC packets"),
            human_bytes(n.quic_bytes)
        ));
    }
    if n.other_tcp_bytes > 0 {
        parts.push(format!("{} of other TCP payload", human_bytes(n.other_tcp_bytes)));
    }
    if n.udp_bytes > 0 {
        parts.push(format!("{} of UDP payload", human_bytes(n.udp_bytes)));
    }
    if n.gaps > 0 {
        parts.push(format!("{} ({} lost)", plural(n.gaps, "gap", "gaps"), human_bytes(n.gap_bytes)));
    }
    for (k, one, many) in [
        (n.unsupported_link_frames, "frame of an unsupported link type", "frames of unsupported link types"),
        (n.fragments_incomplete, "IP fragment never completed", "IP fragments never completed"),
        (n.truncated_frames, "truncated frame", "truncated frames"),
        (n.malformed_frames, "malformed frame", "malformed frames"),
        (n.wifi_protected_frames, "encrypted 802.11 frame", "encrypted 802.11 frames"),
    ] {
        if k > 0 {
            parts.push(plural(k, one, many));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// TLS connections not decrypted: how many, how much, why, where to.
fn tls_not_inspected(r: &FileReport, p: &Privacy) -> String {
    let t = &r.stats.tls;
    let n = &r.stats.not_inspected;
    let mut why: Vec<String> = [
        (t.no_key.0, "no key"),
        (t.bad_key.0, "keys that do not authenticate"),
        (t.midstream.0, "picked up after the handshake"),
        (t.gap.0, "records lost to a capture gap"),
        (t.limit.0, "over the TLS buffer limit"),
        (t.malformed.0, "malformed records"),
        (t.handshake_only.0, "handshake only, no data"),
    ]
    .iter()
    .filter(|(k, _)| *k > 0)
    .map(|(k, label)| format!("{label}: {k}"))
    .collect();
    why.extend(t.unsupported.iter().map(|(name, k, _)| format!("unsupported {}: {k}", p.line(name))));
    let names = &t.server_names;
    let mut to = String::new();
    if !names.is_empty() {
        let shown: Vec<String> = names.iter().take(5).map(|n| p.line(n).into_owned()).collect();
        let more = if names.len() > 5 { format!(" and {} more", names.len() - 5) } else { String::new() };
        to = format!(" to {}{more}", shown.join(", "));
    }
    let hint =
        if t.no_key.0 > 0 { "; --keylog FILE (or SSLKEYLOGFILE) with their secrets would open them" } else { "" };
    let k = n.tls_connections;
    format!(
        "{k} TLS connection{} ({}{to}; {}){hint}",
        if k == 1 { "" } else { "s" },
        human_bytes(n.tls_bytes),
        why.join(", ")
    )
}

fn sev_label(s: Severity) -> &'static str {
    match s {
        Severity::High => "HIGH  ",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW   ",
    }
}

/// The severity label, in its colour when `color`.
fn sev_painted(color: bool, s: Severity) -> String {
    let style = match s {
        Severity::High => RED,
        Severity::Medium => YELLOW,
        Severity::Low => CYAN,
    };
    paint(color, style, sev_label(s))
}

/// How many TLS connections were decrypted, when there were any.
fn tls_line(o: &mut impl Write, r: &FileReport) -> io::Result<()> {
    let t = &r.stats.tls;
    if t.decrypted > 0 {
        let partly = if t.partly > 0 { format!(", {} of them only in part", t.partly) } else { String::new() };
        writeln!(
            o,
            "  decrypted: {} of {} TLS connections ({} from clients, {} from servers{partly})",
            t.decrypted,
            t.connections,
            human_bytes(t.client_bytes),
            human_bytes(t.server_bytes)
        )?;
    }
    Ok(())
}

/// `curl (pid 5)`, `com.example (uid 10123)`.
fn app_label(a: &AppRef, p: &Privacy) -> String {
    let name = p.line(&a.display()).into_owned();
    match a.id {
        Some(id) if a.name.is_some() => format!("{name} ({} {id})", a.id_kind()),
        _ => name,
    }
}

/// The apps' lines: each app with its requests, then one line per host
/// it sent identifiers to, with their kinds.
fn app_lines(o: &mut impl Write, apps: &AppTotals, p: &Privacy, indent: &str) -> io::Result<()> {
    for (name, t) in &apps.apps {
        let ids: Vec<String> = t.ids.iter().map(|i| i.to_string()).collect();
        let id_kind = if t.source == "pcapdroid" { "uid" } else { "pid" };
        let ids = if ids.is_empty() || name.starts_with(id_kind) {
            String::new()
        } else {
            format!(" ({id_kind} {})", ids.join(", "))
        };
        let requests = format!("{} request{}", t.requests, if t.requests == 1 { "" } else { "s" });
        let nothing = if t.hosts.is_empty() { ", nothing found" } else { "" };
        writeln!(o, "{indent}{}{ids}  {requests}{nothing}", paint(p.opts.color, BOLD, &p.line(name)))?;
        for (h, kinds) in &t.hosts {
            let k: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            writeln!(o, "{indent}  {}  sent: {}", p.line(h), k.join(", "))?;
        }
    }
    Ok(())
}

/// What detection set aside, when anything was: test devices' IMEIs
/// (with the flag that reports them).
fn set_aside_line(o: &mut impl Write, r: &FileReport) -> io::Result<()> {
    let n = r.stats.test_device_imeis;
    if n > 0 {
        writeln!(
            o,
            "  set aside: {n} IMEI{} of emulators or test tools (--include-test-devices reports them)",
            if n == 1 { "" } else { "s" }
        )?;
    }
    Ok(())
}

fn host_of(f: &Finding) -> String {
    super::leaks::host_of(f).into_owned()
}

impl<W: Write> TextReporter<W> {
    /// Writes the held findings of the current request, under its request
    /// line unless that was written already.
    fn flush_request(&mut self) -> io::Result<()> {
        let pending = std::mem::take(&mut self.file.pending);
        let Some(first) = pending.first() else { return Ok(()) };
        let o = &mut self.out;
        let p = &self.p;
        let color = p.opts.color;
        if !self.file.titled {
            writeln!(o, "{}", paint(color, BOLD, &p.line(&self.file.capture)))?;
            self.file.titled = true;
        }
        let request = (first.frame, first.src, first.host.clone(), first.uri.clone());
        if self.file.last_request.as_ref() != Some(&request) {
            // The request line, each identifier of it highlighted.
            let mut uri = p.uri(first).map_or_else(|| "(not HTTP)".to_string(), |u| p.line(&u).into_owned());
            if color {
                let mut vals: Vec<String> =
                    pending.iter().map(|g| p.value(&g.value)).filter(|v| v.len() >= 3).collect();
                vals.sort_by_key(|v| std::cmp::Reverse(v.len()));
                vals.dedup();
                for v in vals {
                    uri = uri.replace(&v, &paint(color, YELLOW, &v));
                }
            }
            let tls = first.tls.as_ref().map(|t| format!("  (TLS {} {})", t.version, t.cipher)).unwrap_or_default();
            let app = first.app.as_ref().map(|a| format!("  [app {}]", app_label(a, p))).unwrap_or_default();
            writeln!(
                o,
                "  frame {} {} {} -> {}  {}  {} {}{tls}{app}",
                first.frame,
                first.time.rfc3339(),
                first.src,
                first.dst,
                paint(color, BOLD, &p.line(&host_of(first))),
                p.line(first.method.as_deref().unwrap_or("stream")),
                uri
            )?;
            self.file.last_request = Some(request);
        }
        for f in &pending {
            let where_ = match &f.field {
                Some(field) => format!("{}:{}", f.location.as_str(), p.line(field)),
                None => f.location.as_str().to_string(),
            };
            let enc = if f.encoding.is_empty() { String::new() } else { format!(" [{}]", f.encoding.join(" > ")) };
            let matched = value_notes(f.matched.as_deref(), f.role, f.confidence, &f.title, p);
            let label = sev_painted(color, f.severity);
            writeln!(
                o,
                "    {} {:<20} {:<14} {} = {}{}{}",
                label,
                f.rule,
                f.kind,
                where_,
                paint(color, BOLD, &p.line(&p.value(&f.value))),
                enc,
                matched
            )?;
            if f.kind == "endpoint" && !self.file.titled_rules.iter().any(|r| **r == *f.rule) {
                self.file.titled_rules.push(f.rule.to_string());
                writeln!(o, "           {}", f.title)?;
            }
        }
        Ok(())
    }

    /// The capture's totals, what was not inspected, its leaks by
    /// destination, and its apps.
    fn totals(&mut self, r: &FileReport) -> io::Result<()> {
        let o = &mut self.out;
        let p = &self.p;
        let s = &r.stats;
        let leaks = &self.file.leaks;
        let destinations = leaks.destinations();
        let shown = leaks.findings();
        let plural = |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
        write!(
            o,
            "{}: {} to {} (",
            p.line(&r.capture),
            plural(leaks.len() as u64, "leak", "leaks"),
            plural(destinations.len() as u64, "host", "hosts"),
        )?;
        let left_out = s.findings.saturating_sub(shown);
        let streams = s.payloads_with_findings;
        if left_out > 0 {
            // Which requests held the findings shown is not counted:
            // say only how many there were.
            write!(
                o,
                "{shown} of {} findings shown, the rest left out by the baseline or the display filters; {}",
                s.findings,
                plural(s.requests, "request", "requests")
            )?;
        } else {
            write!(o, "{}", plural(shown, "finding", "findings"))?;
            if s.requests > 0 {
                write!(o, " in {} of {} requests", s.requests_with_findings, s.requests)?;
                if streams > 0 {
                    write!(o, " and")?;
                }
            }
            if streams > 0 {
                write!(o, " in {streams} SIP, SMS or other non-HTTP messages")?;
            }
        }
        if !r.hosts.is_empty() {
            write!(o, "; {} contacted", plural(r.hosts.len() as u64, "host", "hosts"))?;
        }
        write!(o, ")")?;
        writeln!(o)?;
        inspected_lines(o, r, p)?;
        let activity: std::collections::HashMap<&str, &crate::finding::HostActivity> =
            r.hosts.iter().map(|h| (h.host.as_str(), h)).collect();
        // Grouped by where the hosts are, when not all on the internet.
        let grouped = destinations.iter().any(|d| d.scope != "internet");
        let mut destinations = destinations;
        let order = |s: &str| ["internet", "lan", "multicast", "broadcast"].iter().position(|x| *x == s).unwrap_or(4);
        // Stable: by severity and count within each scope.
        destinations.sort_by_key(|d| order(d.scope));
        let mut heading = None;
        let mut titled_rules: Vec<&str> = Vec::new();
        for d in &destinations {
            let indent = if grouped { "    " } else { "  " };
            if grouped && heading != Some(d.scope) {
                heading = Some(d.scope);
                let label = match d.scope {
                    "internet" => "to the internet:",
                    "lan" => "on the local network (private or link-local destinations):",
                    "multicast" => "to multicast groups (the local network hears them):",
                    _ => "broadcast (the local network hears them):",
                };
                writeln!(o, "  {label}")?;
            }
            destination_line(o, d, activity.get(d.host).copied(), p, indent)?;
            for l in &d.leaks {
                leak_line(o, l, p, indent)?;
                if l.kind == "endpoint" && !titled_rules.contains(&&*l.rule) {
                    titled_rules.push(&l.rule);
                    writeln!(o, "{indent}         {}", l.title)?;
                }
            }
        }
        if leaks.untabled() > 0 {
            writeln!(
                o,
                "  and {} more {} of further distinct leaks (the table keeps {} per capture; --details lists them all)",
                leaks.untabled(),
                if leaks.untabled() == 1 { "finding" } else { "findings" },
                super::leaks::MAX_LEAKS
            )?;
        }
        if !self.file.apps.is_empty() {
            // Requests per app come from the capture's record.
            let mut apps = std::mem::take(&mut self.file.apps);
            apps.capture(r);
            let unattributed = shown.saturating_sub(apps.apps.values().flat_map(|t| t.kinds.values()).sum());
            let tail =
                if unattributed > 0 { format!(" ({unattributed} findings of no known app)") } else { String::new() };
            writeln!(o, "  by app{tail}:")?;
            app_lines(o, &apps, p, "    ")?;
        }
        writeln!(o)
    }
}

/// Decrypted TLS, what was not inspected (always, `nothing` when all was),
/// what detection set aside, and notes on limits.
fn inspected_lines(o: &mut impl Write, r: &FileReport, p: &Privacy) -> io::Result<()> {
    let s = &r.stats;
    tls_line(o, r)?;
    match not_inspected_line(r, p) {
        Some(line) => writeln!(o, "  not inspected: {line}")?,
        None => writeln!(o, "  not inspected: nothing")?,
    }
    set_aside_line(o, r)?;
    if s.attribution_notes > 0 {
        writeln!(
            o,
            "  attribution: {} notes on app metadata that could not be read whole (in the capture record's notes)",
            s.attribution_notes
        )?;
    }
    if s.requests_with_notes > 0 {
        let (frame, first) = s.notes.first().map_or((0, ""), |(f, m)| (*f, m.as_str()));
        let first = p.line(first);
        writeln!(
            o,
            "  limits or damage: {} requests (first, frame {frame}: {first}); all in `teleaudit requests`",
            s.requests_with_notes
        )?;
    }
    Ok(())
}

/// What follows a value: the profile value it matched, its role (`bssid`),
/// and for a medium-confidence finding the evidence its detector named (a
/// vendor OUI), else that only its shape did.
fn value_notes(
    matched: Option<&str>,
    role: Option<&str>,
    confidence: crate::finding::Confidence,
    title: &str,
    p: &Privacy,
) -> String {
    let mut notes = matched.map(|m| format!(" (profile: {})", p.line(&p.value(m)))).unwrap_or_default();
    if let Some(role) = role {
        notes.push_str(&format!(" ({role})"));
    }
    if confidence == crate::finding::Confidence::Medium {
        match title.find(" (by ") {
            Some(i) => notes.push_str(&title[i..]),
            None => notes.push_str(" (by shape only)"),
        }
    }
    notes
}

/// A time to the second: the leak table's resolution.
/// `first .. last`, or the one time.
fn span(first: crate::util::Timestamp, last: crate::util::Timestamp) -> String {
    if short_time(first) == short_time(last) {
        short_time(first)
    } else {
        format!("{} .. {}", short_time(first), short_time(last))
    }
}

/// A destination's heading: its requests and their times when it had
/// HTTP requests, the apps that sent them.
fn destination_line(
    o: &mut impl Write,
    d: &Destination<'_>,
    a: Option<&crate::finding::HostActivity>,
    p: &Privacy,
    indent: &str,
) -> io::Result<()> {
    let name = paint(p.opts.color, BOLD, &p.line(d.host));
    match a {
        Some(a) => writeln!(
            o,
            "{indent}{name}  ({} request{}, {}){}",
            a.requests,
            if a.requests == 1 { "" } else { "s" },
            span(a.first, a.last),
            if a.apps.is_empty() {
                String::new()
            } else {
                format!("  by {}", a.apps.iter().map(|n| p.line(n).into_owned()).collect::<Vec<_>>().join(", "))
            }
        ),
        None => writeln!(o, "{indent}{name}"),
    }
}

/// One leak: severity, how many times, kind, method and path, where,
/// how encoded, the (masked) value, when, the rule, the app.
fn leak_line(o: &mut impl Write, l: &Leak, p: &Privacy, indent: &str) -> io::Result<()> {
    let color = p.opts.color;
    let label = sev_painted(color, l.severity);
    let target = if p.opts.show_values { l.path.as_deref() } else { l.path_masked.as_deref() };
    let request = match (&l.method, target) {
        (Some(m), Some(t)) => format!("{} {}", p.line(m), p.line(t)),
        (Some(m), None) => p.line(m).into_owned(),
        (None, _) => "stream".to_string(),
    };
    let where_ = match &l.field {
        Some(field) => format!("{}:{}", l.location.as_str(), p.line(field)),
        None => l.location.as_str().to_string(),
    };
    let enc = if l.encoding.is_empty() { String::new() } else { format!(" [{}]", l.encoding.join(" > ")) };
    let mut value = paint(color, BOLD, &p.line(&p.value(&l.value)));
    if let Some(label) = l.values_label() {
        value.push(' ');
        value.push_str(&label);
    }
    value.push_str(&value_notes(l.matched.as_deref(), l.role, l.confidence, &l.title, p));
    let app = match &l.app {
        Some(a) if l.other_apps => format!("  [app {} and others]", app_label(a, p)),
        Some(a) => format!("  [app {}]", app_label(a, p)),
        None => String::new(),
    };
    writeln!(
        o,
        "{indent}  {label} {:<6} {:<14} {request}  {where_}{enc} = {value}  {}  {}{app}",
        format!("x{}", l.count),
        l.kind,
        span(l.first, l.last),
        l.rule,
    )
}

impl<W: Write> Reporter for TextReporter<W> {
    fn begin(&mut self, capture: &str) -> io::Result<()> {
        self.file = FileState { capture: capture.to_string(), ..FileState::default() };
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        self.p.learn(f);
        self.file.leaks.add(f);
        super::with_host(&mut self.hosts, &super::leaks::host_of(f), |t| super::count(&mut t.kinds, &f.kind));
        self.file.apps.finding(f);
        self.apps.finding(f);
        if self.p.opts.details {
            // One request line per message: a SIP MESSAGE carries a short
            // message to another destination in the same frame.
            let same = self.file.pending.first().is_some_and(|p| {
                (p.frame, p.src, &p.host, &p.method, &p.uri) == (f.frame, f.src, &f.host, &f.method, &f.uri)
            });
            if !same || self.file.pending.len() >= PENDING_MAX {
                self.flush_request()?;
            }
            self.file.pending.push(f.clone());
        }
        Ok(())
    }

    fn request(&mut self, q: &RequestRecord) -> io::Result<()> {
        self.file.requests_listed = true;
        self.p.learn_values(&q.found);
        let p = &self.p;
        writeln!(
            self.out,
            "{} frame {} {} {} -> {} {} {}{} body={}{}{}{}",
            p.line(&q.capture),
            q.frame,
            q.time.rfc3339(),
            q.src,
            q.dst,
            p.line(&q.method),
            q.host.as_deref().map(|h| format!("[{}] ", p.line(h))).unwrap_or_default(),
            p.line(if p.opts.show_values { &q.uri } else { &q.uri_masked }),
            q.body_bytes,
            q.tls.as_ref().map(|t| format!(" tls={}", t.version)).unwrap_or_default(),
            q.app.as_ref().map(|a| format!(" app={}", p.line(&a.display()))).unwrap_or_default(),
            match (&q.text, q.notes.is_empty()) {
                (Some(t), true) => format!("  text=\"{}\"", p.line(t)),
                (Some(t), false) => format!("  text=\"{}\"  ({})", p.line(t), p.line(&q.notes.join("; "))),
                (None, true) => String::new(),
                (None, false) => format!("  ({})", p.line(&q.notes.join("; "))),
            }
        )
    }

    fn end(&mut self, r: &FileReport) -> io::Result<()> {
        self.flush_request()?;
        for h in &r.hosts {
            let k = host_key(&self.hosts, &h.host);
            let t = self.hosts.entry(k).or_default();
            t.requests += h.requests;
            t.captures += 1;
        }
        self.apps.capture(r);
        if let Some(e) = r.errors.first() {
            let more = if r.errors.len() > 1 { format!(" (and {} more)", r.errors.len() - 1) } else { String::new() };
            let at = e.frame.map(|n| format!("frame {n}: ")).unwrap_or_default();
            let (capture, message) = (self.p.line(&e.capture).into_owned(), self.p.line(&e.message));
            self.errors.push((capture, format!("{at}{message}{more}")));
        }
        if !self.file.leaks.is_empty() || self.file.leaks.untabled() > 0 {
            self.totals(r)?;
        } else if (r.stats.frames > 0 || !r.stats.format.is_empty()) && !self.file.requests_listed {
            // Nothing found: say so, and what was not looked at, so an
            // all-TLS capture does not read as clean.
            let o = &mut self.out;
            write!(o, "{}: 0 findings in {} requests", self.p.line(&r.capture), r.stats.requests)?;
            if r.stats.findings > 0 {
                write!(o, "; {} findings left out by the baseline or the display filters", r.stats.findings)?;
            }
            writeln!(o)?;
            inspected_lines(o, r, &self.p)?;
            writeln!(o)?;
        }
        self.file = FileState::default();
        self.out.flush()
    }
    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        // A batch: one line per destination host that received identifiers.
        if s.files > 1 && self.hosts.values().any(|h| !h.kinds.is_empty()) {
            writeln!(self.out, "Destinations across {} captures:", s.files)?;
            for (host, t) in self.hosts.iter().filter(|(_, t)| !t.kinds.is_empty()) {
                let kinds: Vec<String> = t.kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
                writeln!(
                    self.out,
                    "  {}  {} requests in {} captures: {}",
                    paint(self.p.opts.color, BOLD, &self.p.line(host)),
                    t.requests,
                    t.captures,
                    kinds.join(", ")
                )?;
            }
            writeln!(self.out)?;
        }
        if s.files > 1 && self.apps.apps.values().any(|t| !t.kinds.is_empty()) {
            writeln!(self.out, "Apps across {} captures:", s.files)?;
            let apps = std::mem::take(&mut self.apps);
            app_lines(&mut self.out, &apps, &self.p, "  ")?;
            writeln!(self.out)?;
        }
        if s.suppressed > 0 {
            writeln!(self.out, "{} known findings suppressed by the baseline", s.suppressed)?;
        }
        if s.filtered > 0 {
            writeln!(
                self.out,
                "{} findings not shown (--kind, --host, --min-severity); they do not count towards --fail-on",
                s.filtered
            )?;
        }
        if s.not_captures > 0 {
            let names: Vec<String> = s.not_capture_names.iter().map(|n| self.p.line(n).into_owned()).collect();
            let more = s.not_captures.saturating_sub(names.len() as u64);
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            writeln!(self.out, "{} files skipped as not captures: {}{more}", s.not_captures, names.join(", "))?;
        }
        if !self.errors.is_empty() {
            writeln!(self.out, "Captures with errors ({}):", self.errors.len())?;
            for (capture, message) in &self.errors {
                writeln!(self.out, "  {capture}: {message}")?;
            }
        }
        writeln!(
            self.out,
            "{} files, {} frames, {}, {} flows, {} requests; {} findings ({} high, {} medium, {} low); {} errors; {:.2} s",
            s.files,
            s.frames,
            human_bytes(s.bytes),
            s.flows,
            s.requests,
            s.total_findings(),
            s.findings[2],
            s.findings[1],
            s.findings[0],
            s.errors,
            s.elapsed_secs
        )?;
        self.out.flush()
    }
}
