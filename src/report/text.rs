//! Text for people: per capture, one block per destination host (how many
//! requests, first and last time, what kinds were sent and how often),
//! then its findings with the request that carried each; a summary line
//! at the end. `requests` mode prints one line per request.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{ReportOptions, Reporter, Summary, shown, shown_uri};
use crate::finding::{FileReport, Finding, Severity};

pub struct TextReporter<W: Write> {
    out: W,
    opts: ReportOptions,
    /// Per destination host across all captures: requests, captures, and
    /// findings by kind (for the summary of a batch).
    hosts: BTreeMap<String, HostTotal>,
    errors: FileErrors,
}

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
        TextReporter { out, opts, hosts: BTreeMap::new(), errors: Vec::new() }
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
pub fn not_inspected_line(r: &FileReport) -> Option<String> {
    let n = &r.stats.not_inspected;
    let mut parts = Vec::new();
    let plural = |k: u64, one: &str, many: &str| format!("{k} {}", if k == 1 { one } else { many });
    if n.tls_connections > 0 {
        parts.push(tls_not_inspected(r));
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
            format!(" to {}", names.iter().take(5).cloned().collect::<Vec<_>>().join(", "))
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
    ] {
        if k > 0 {
            parts.push(plural(k, one, many));
        }
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// TLS connections not decrypted: how many, how much, why, where to.
fn tls_not_inspected(r: &FileReport) -> String {
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
    why.extend(t.unsupported.iter().map(|(name, k, _)| format!("unsupported {name}: {k}")));
    let names = &t.server_names;
    let mut to = String::new();
    if !names.is_empty() {
        let shown: Vec<&str> = names.iter().take(5).map(String::as_str).collect();
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

impl<W: Write> TextReporter<W> {
    fn findings(&mut self, r: &FileReport) -> io::Result<()> {
        let o = &mut self.out;
        let mut by_host: BTreeMap<String, Vec<&Finding>> = BTreeMap::new();
        for f in &r.findings {
            let h = f.host.clone().unwrap_or_else(|| f.dst.ip().to_string());
            by_host.entry(h).or_default().push(f);
        }
        let with = |http: bool| {
            r.findings
                .iter()
                .filter(|f| f.method.is_some() == http)
                .map(|f| (f.frame, f.src))
                .collect::<std::collections::HashSet<_>>()
                .len()
        };
        let streams = with(false);
        write!(o, "{}: {} findings", r.capture, r.findings.len())?;
        if r.stats.requests > 0 {
            write!(o, " in {} of {} requests to {} hosts", with(true), r.stats.requests, r.hosts.len())?;
            if streams > 0 {
                write!(o, ", and")?;
            }
        }
        if streams > 0 {
            write!(o, " in {streams} non-HTTP payloads")?;
        }
        writeln!(o)?;
        tls_line(o, r)?;
        if let Some(line) = not_inspected_line(r) {
            writeln!(o, "  not inspected: {line}")?;
        }
        if r.stats.requests_with_notes > 0 {
            let (frame, first) = r.stats.notes.first().map_or((0, ""), |(f, m)| (*f, m.as_str()));
            writeln!(
                o,
                "  limits or damage: {} requests (first, frame {frame}: {first}); all in `teleaudit requests`",
                r.stats.requests_with_notes
            )?;
        }
        for (host, fs) in &by_host {
            let act = r.hosts.iter().find(|h| &h.host == host);
            writeln!(o)?;
            match act {
                Some(a) => writeln!(
                    o,
                    "  {}  ({} request{}, {} .. {})",
                    paint(self.opts.color, BOLD, host),
                    a.requests,
                    if a.requests == 1 { "" } else { "s" },
                    a.first.rfc3339(),
                    a.last.rfc3339()
                )?,
                None => writeln!(o, "  {}", paint(self.opts.color, BOLD, host))?,
            }
            let mut kinds: BTreeMap<&str, u64> = BTreeMap::new();
            for f in fs {
                *kinds.entry(f.kind.as_str()).or_default() += 1;
            }
            let sent: Vec<String> = kinds.iter().map(|(k, n)| format!("{k} x{n}")).collect();
            writeln!(o, "    sent: {}", sent.join(", "))?;
            let mut last_request = None;
            let mut titled: Vec<&str> = Vec::new();
            for f in fs {
                let where_ = match &f.field {
                    Some(field) => format!("{}:{field}", f.location.as_str()),
                    None => f.location.as_str().to_string(),
                };
                let enc = if f.encoding.is_empty() { String::new() } else { format!(" [{}]", f.encoding.join(" > ")) };
                let mut matched =
                    f.matched.as_deref().map(|m| format!(" (profile: {})", shown(self.opts, m))).unwrap_or_default();
                if f.confidence == crate::finding::Confidence::Medium {
                    matched.push_str(" (by shape only)");
                }
                let request = (f.frame, f.src);
                if last_request != Some(request) {
                    // The request line, each identifier of it highlighted.
                    let mut uri = shown_uri(self.opts, f).unwrap_or("(not HTTP)").to_string();
                    if self.opts.color {
                        let mut vals: Vec<String> = fs
                            .iter()
                            .filter(|g| (g.frame, g.src) == request)
                            .map(|g| shown(self.opts, &g.value))
                            .filter(|v| v.len() >= 3)
                            .collect();
                        vals.sort_by_key(|v| std::cmp::Reverse(v.len()));
                        vals.dedup();
                        for v in vals {
                            uri = uri.replace(&v, &paint(self.opts.color, YELLOW, &v));
                        }
                    }
                    let tls = f.tls.as_ref().map(|t| format!("  (TLS {} {})", t.version, t.cipher)).unwrap_or_default();
                    writeln!(
                        o,
                        "    frame {} {} {} -> {}  {} {}{tls}",
                        f.frame,
                        f.time.rfc3339(),
                        f.src,
                        f.dst,
                        f.method.as_deref().unwrap_or("stream"),
                        uri
                    )?;
                    last_request = Some(request);
                }
                let label = match f.severity {
                    Severity::High => paint(self.opts.color, RED, sev_label(f.severity)),
                    Severity::Medium => paint(self.opts.color, YELLOW, sev_label(f.severity)),
                    Severity::Low => paint(self.opts.color, CYAN, sev_label(f.severity)),
                };
                writeln!(
                    o,
                    "      {} {:<20} {:<14} {} = {}{}{}",
                    label,
                    f.rule,
                    f.kind,
                    where_,
                    paint(self.opts.color, BOLD, &shown(self.opts, &f.value)),
                    enc,
                    matched
                )?;
                if f.kind == "endpoint" && !titled.contains(&f.rule.as_str()) {
                    titled.push(&f.rule);
                    writeln!(o, "             {}", f.title)?;
                }
            }
        }
        writeln!(o)
    }

    fn requests(&mut self, r: &FileReport) -> io::Result<()> {
        for q in &r.requests {
            writeln!(
                self.out,
                "{} frame {} {} {} -> {} {} {}{} body={}{}{}",
                q.capture,
                q.frame,
                q.time.rfc3339(),
                q.src,
                q.dst,
                q.method,
                q.host.as_deref().map(|h| format!("[{h}] ")).unwrap_or_default(),
                q.uri,
                q.body_bytes,
                q.tls.as_ref().map(|t| format!(" tls={}", t.version)).unwrap_or_default(),
                if q.notes.is_empty() { String::new() } else { format!("  ({})", q.notes.join("; ")) }
            )?;
        }
        Ok(())
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn file(&mut self, r: &FileReport) -> io::Result<()> {
        for h in &r.hosts {
            let t = self.hosts.entry(h.host.clone()).or_default();
            t.requests += h.requests;
            t.captures += 1;
        }
        if let Some(e) = r.errors.first() {
            let more = if r.errors.len() > 1 { format!(" (and {} more)", r.errors.len() - 1) } else { String::new() };
            let at = e.frame.map(|n| format!("frame {n}: ")).unwrap_or_default();
            self.errors.push((e.capture.clone(), format!("{at}{}{more}", e.message)));
        }
        for f in &r.findings {
            let host = f.host.clone().unwrap_or_else(|| f.dst.ip().to_string());
            *self.hosts.entry(host).or_default().kinds.entry(f.kind.clone()).or_default() += 1;
        }
        if !r.requests.is_empty() {
            self.requests(r)?;
        } else if !r.findings.is_empty() {
            self.findings(r)?;
        } else if r.stats.frames > 0 || !r.stats.format.is_empty() {
            // Nothing found: say so, and what was not looked at, so an
            // all-TLS capture does not read as clean.
            let o = &mut self.out;
            writeln!(o, "{}: 0 findings in {} requests", r.capture, r.stats.requests)?;
            tls_line(o, r)?;
            match not_inspected_line(r) {
                Some(line) => writeln!(o, "  not inspected: {line}")?,
                None => writeln!(o, "  not inspected: nothing")?,
            }
            writeln!(o)?;
        }
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
                    paint(self.opts.color, BOLD, host),
                    t.requests,
                    t.captures,
                    kinds.join(", ")
                )?;
            }
            writeln!(self.out)?;
        }
        if s.suppressed > 0 {
            writeln!(self.out, "{} known findings suppressed by the baseline", s.suppressed)?;
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
