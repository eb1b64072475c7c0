//! report: findings and requests to text, JSON Lines.
//!
//! Input: [`FileReport`]s in a stable order, then a [`Summary`]. Never
//! sees capture bytes. Identifier values (and the URIs that hold them) are
//! masked unless `show_values`. Reporters stream: each file is written as
//! it arrives.

pub mod jsonl;
pub mod safe;
pub mod sarif;
pub mod text;

use std::io;

use crate::finding::{FileReport, Finding, Severity};

/// Totals over the run, for the last line of every format.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub files: u64,
    pub frames: u64,
    pub bytes: u64,
    pub flows: u64,
    pub requests: u64,
    /// Findings by severity: low, medium, high.
    pub findings: [u64; 3],
    pub errors: u64,
    pub not_captures_skipped: u64,
    /// Findings suppressed by a baseline.
    pub suppressed: u64,
    pub elapsed_secs: f64,
    /// Peak resident memory of the process (Linux), when known.
    pub peak_memory_bytes: Option<u64>,
}

/// Peak resident set size of this process (`VmHWM`, Linux only).
pub fn peak_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

impl Summary {
    pub fn add(&mut self, r: &FileReport) {
        self.files += 1;
        self.frames += r.stats.frames;
        self.bytes += r.stats.bytes;
        self.flows += r.stats.flows;
        self.requests += r.stats.requests;
        for f in &r.findings {
            self.findings[f.severity as usize] += 1;
        }
        self.errors += r.errors.len() as u64;
    }

    pub fn total_findings(&self) -> u64 {
        self.findings.iter().sum()
    }

    /// Findings at or above `s`.
    pub fn at_or_above(&self, s: Severity) -> u64 {
        self.findings[s as usize..].iter().sum()
    }
}

/// Output options every reporter honours.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReportOptions {
    pub show_values: bool,
    /// ANSI colour in the text report (a terminal, and `NO_COLOR` unset).
    pub color: bool,
}

/// A report format.
pub trait Reporter {
    fn file(&mut self, r: &FileReport) -> io::Result<()>;
    fn finish(&mut self, s: &Summary) -> io::Result<()>;
}

/// The value as shown: masked unless asked for.
pub fn shown(o: ReportOptions, v: &str) -> String {
    if o.show_values { v.to_string() } else { crate::finding::mask(v) }
}

pub fn shown_uri(o: ReportOptions, f: &Finding) -> Option<&str> {
    if o.show_values { f.uri.as_deref() } else { f.uri_masked.as_deref() }
}
