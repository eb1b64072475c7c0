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
}

impl<W: Write> TextReporter<W> {
    pub fn new(out: W, opts: ReportOptions) -> Self {
        TextReporter { out, opts }
    }
}

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
    if n.tls_streams > 0 {
        parts.push(format!("{} ({})", plural(n.tls_streams, "TLS stream", "TLS streams"), human_bytes(n.tls_bytes)));
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

fn sev_label(s: Severity) -> &'static str {
    match s {
        Severity::High => "HIGH  ",
        Severity::Medium => "MEDIUM",
        Severity::Low => "LOW   ",
    }
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
                    "  {host}  ({} request{}, {} .. {})",
                    a.requests,
                    if a.requests == 1 { "" } else { "s" },
                    a.first.rfc3339(),
                    a.last.rfc3339()
                )?,
                None => writeln!(o, "  {host}")?,
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
                let matched =
                    f.matched.as_deref().map(|m| format!(" (profile: {})", shown(self.opts, m))).unwrap_or_default();
                let request = (f.frame, f.src);
                if last_request != Some(request) {
                    writeln!(
                        o,
                        "    frame {} {} {} -> {}  {} {}",
                        f.frame,
                        f.time.rfc3339(),
                        f.src,
                        f.dst,
                        f.method.as_deref().unwrap_or("stream"),
                        shown_uri(self.opts, f).unwrap_or("(not HTTP)")
                    )?;
                    last_request = Some(request);
                }
                writeln!(
                    o,
                    "      {} {:<20} {:<14} {} = {}{}{}",
                    sev_label(f.severity),
                    f.rule,
                    f.kind,
                    where_,
                    shown(self.opts, &f.value),
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
                "{} frame {} {} {} -> {} {} {}{} body={}{}",
                q.capture,
                q.frame,
                q.time.rfc3339(),
                q.src,
                q.dst,
                q.method,
                q.host.as_deref().map(|h| format!("[{h}] ")).unwrap_or_default(),
                q.uri,
                q.body_bytes,
                if q.notes.is_empty() { String::new() } else { format!("  ({})", q.notes.join("; ")) }
            )?;
        }
        Ok(())
    }
}

impl<W: Write> Reporter for TextReporter<W> {
    fn file(&mut self, r: &FileReport) -> io::Result<()> {
        if !r.requests.is_empty() {
            self.requests(r)?;
        } else if !r.findings.is_empty() {
            self.findings(r)?;
        }
        self.out.flush()
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        if s.suppressed > 0 {
            writeln!(self.out, "{} known findings suppressed by the baseline", s.suppressed)?;
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
