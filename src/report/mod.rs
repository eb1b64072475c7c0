//! report: findings and requests to text, JSON Lines, SARIF, HTML, SQLite.
//!
//! Input: per capture, in a stable order, `begin`, its findings (or
//! requests) as they are made, and `end` with its record; then a
//! [`Summary`]. Never sees capture bytes. Identifier values (and the URIs
//! that hold them) are masked unless `show_values`. Reporters stream:
//! nothing is held per finding; what they aggregate (per host) is bounded
//! by distinct keys, with a cap.

pub mod filter;
pub mod html;
pub mod jsonl;
pub mod leaks;
pub mod safe;
pub mod sarif;
pub mod shard;
pub mod sqlite;
pub mod text;

use std::io;

use crate::finding::{AppRef, FileReport, Finding, RequestRecord, Severity};

/// A time to the second (`2017-01-05T09:12:03Z`), as the leak tables
/// show first and last times.
pub fn short_time(t: crate::util::Timestamp) -> String {
    let full = t.rfc3339();
    match full.find('.') {
        Some(i) => format!("{}Z", &full[..i]),
        None => full,
    }
}

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
    /// Regular files in folders that are not captures, and the first
    /// names of them ([`crate::scan::NOT_CAPTURE_NAMES`]).
    pub not_captures: u64,
    pub not_capture_names: Vec<String>,
    /// Findings suppressed by a baseline.
    pub suppressed: u64,
    /// Findings left out by the display filters ([`filter::DisplayFilter`]).
    pub filtered: u64,
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
    /// Counts a capture's record (its findings are counted one by one).
    pub fn add(&mut self, r: &FileReport) {
        self.files += 1;
        self.frames += r.stats.frames;
        self.bytes += r.stats.bytes;
        self.flows += r.stats.flows;
        self.requests += r.stats.requests;
        self.errors += r.errors.len() as u64;
    }

    pub fn finding(&mut self, f: &Finding) {
        self.findings[f.severity as usize] += 1;
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
    /// The text report lists every request with its findings, not only
    /// the leak table (`--details`).
    pub details: bool,
}

/// A report format, fed as results are made (ripgrep's `Sink`).
pub trait Reporter {
    /// A capture starts.
    fn begin(&mut self, capture: &str) -> io::Result<()>;
    fn finding(&mut self, f: &Finding) -> io::Result<()>;
    fn request(&mut self, r: &RequestRecord) -> io::Result<()>;
    /// The capture is done: its errors, hosts and statistics.
    fn end(&mut self, r: &FileReport) -> io::Result<()>;
    fn finish(&mut self, s: &Summary) -> io::Result<()>;

    /// A whole collected capture at once.
    fn file(&mut self, r: &FileReport) -> io::Result<()> {
        self.begin(&r.capture)?;
        for f in &r.findings {
            self.finding(f)?;
        }
        for q in &r.requests {
            self.request(q)?;
        }
        self.end(r)
    }
}

/// Per-host tallies bounded by distinct hosts: past [`MAX_HOSTS`] new
/// hosts are counted together under [`OTHER_HOSTS`].
pub use crate::finding::{MAX_HOSTS, OTHER_HOSTS};

/// The key a host is tallied under in a map of at most [`MAX_HOSTS`].
pub fn host_key<V>(map: &std::collections::BTreeMap<String, V>, host: &str) -> String {
    if map.len() >= MAX_HOSTS && !map.contains_key(host) { OTHER_HOSTS.to_string() } else { host.to_string() }
}

/// Calls `f` with the entry of `host` in `map` (under [`host_key`]), made
/// if new; the name is copied only then.
pub fn with_host<V: Default>(map: &mut std::collections::BTreeMap<String, V>, host: &str, f: impl FnOnce(&mut V)) {
    if let Some(v) = map.get_mut(host) {
        return f(v);
    }
    let k = host_key(map, host);
    f(map.entry(k).or_default())
}

/// Adds one to `counts[key]`, copying `key` only when it is new.
pub fn count(counts: &mut std::collections::BTreeMap<String, u64>, key: &str) {
    match counts.get_mut(key) {
        Some(n) => *n += 1,
        None => {
            counts.insert(key.to_string(), 1);
        }
    }
}

/// Ids listed per app in a summary, at most.
pub const MAX_APP_IDS: usize = 64;

/// What one app sent: requests, and findings by kind and host.
#[derive(Clone, Debug, Default)]
pub struct AppTotal {
    /// The package or command name; `None` when only ids are known.
    pub name: Option<String>,
    /// Where the attribution came from (`pcapdroid`, `ptcpdump`, `pktap`).
    pub source: &'static str,
    /// Its uids or pids (a command run several times has several), at
    /// most [`MAX_APP_IDS`].
    pub ids: std::collections::BTreeSet<i64>,
    pub label: Option<String>,
    pub requests: u64,
    pub captures: u64,
    pub kinds: std::collections::BTreeMap<String, u64>,
    /// Findings by kind per destination host.
    pub hosts: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u64>>,
}

/// Per-app tallies, by the app's display name ([`AppRef::display`]):
/// bounded like the per-host ones (at most
/// [`MAX_APPS`](crate::finding::MAX_APPS) apps, [`MAX_HOSTS`] hosts each).
#[derive(Clone, Debug, Default)]
pub struct AppTotals {
    pub apps: std::collections::BTreeMap<String, AppTotal>,
}

impl AppTotals {
    fn entry(&mut self, app: &AppRef) -> &mut AppTotal {
        let mut name = app.display();
        if self.apps.len() >= crate::finding::MAX_APPS && !self.apps.contains_key(&name) {
            name = crate::finding::OTHER_APPS.to_string();
        }
        let other = name == crate::finding::OTHER_APPS;
        let t = self.apps.entry(name).or_default();
        if t.source.is_empty() {
            t.source = app.source;
            t.name = if other { Some(crate::finding::OTHER_APPS.to_string()) } else { app.name.clone() };
        }
        if t.label.is_none() {
            t.label.clone_from(&app.label);
        }
        if let Some(id) = app.id
            && t.ids.len() < MAX_APP_IDS
        {
            t.ids.insert(id);
        }
        t
    }

    /// Counts a finding under its app (findings of no known app are not
    /// counted here).
    pub fn finding(&mut self, f: &Finding) {
        let Some(app) = &f.app else { return };
        let host = leaks::host_of(f);
        let t = self.entry(app);
        count(&mut t.kinds, &f.kind);
        with_host(&mut t.hosts, &host, |kinds| count(kinds, &f.kind));
    }

    /// Counts a capture's requests per app.
    pub fn capture(&mut self, r: &FileReport) {
        let mut seen = std::collections::HashSet::new();
        for a in &r.apps {
            let t = self.entry(&a.app);
            t.requests += a.requests;
            if seen.insert(a.app.display()) {
                t.captures += 1;
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.apps.is_empty()
    }
}

/// The value as shown: masked unless asked for.
pub fn shown(o: ReportOptions, v: &str) -> String {
    if o.show_values { v.to_string() } else { crate::finding::mask(v) }
}

pub fn shown_uri(o: ReportOptions, f: &Finding) -> Option<&str> {
    shown_uri_arc(o, f).map(|u| &**u)
}

/// [`shown_uri`] as the request's shared text.
pub fn shown_uri_arc(o: ReportOptions, f: &Finding) -> Option<&std::sync::Arc<str>> {
    if o.show_values { f.uri.as_ref() } else { f.uri_masked.as_ref() }
}

/// What a reporter prints of text that came from a capture (hosts, field
/// paths, URIs, notes, server names, file names): every identifier value
/// found so far in the run is masked wherever it shows up, unless
/// `show_values`. Reporters learn each finding before writing it.
#[derive(Default)]
pub struct Privacy {
    pub opts: ReportOptions,
    masker: safe::Masker,
}

impl Privacy {
    pub fn new(opts: ReportOptions) -> Self {
        Privacy { opts, masker: safe::Masker::new() }
    }

    /// Changes whenever a value is learnt: text masked at one generation
    /// is masked the same until the next (what a reporter may cache).
    pub fn generation(&self) -> usize {
        self.masker.generation()
    }

    /// Remembers the values of a finding (and the profile value it stands
    /// for) to mask them everywhere from now on.
    pub fn learn(&mut self, f: &Finding) {
        if !self.opts.show_values {
            self.masker.learn(&f.value);
            if let Some(m) = &f.matched {
                self.masker.learn(m);
            }
        }
    }

    /// Remembers values found in a request (`requests` mode).
    pub fn learn_values(&mut self, values: &[String]) {
        if !self.opts.show_values {
            for v in values {
                self.masker.learn(v);
            }
        }
    }

    /// `s` with the learnt values masked (as it is with `show_values`).
    pub fn text<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        if self.opts.show_values { std::borrow::Cow::Borrowed(s) } else { self.masker.mask(s) }
    }

    pub fn opt(&self, s: Option<&str>) -> Option<String> {
        s.map(|s| self.text(s).into_owned())
    }

    /// The value of a finding as shown.
    pub fn value(&self, v: &str) -> String {
        shown(self.opts, v)
    }

    /// A finding's request target as shown: masked by the request's own
    /// findings, then by every value learnt.
    pub fn uri(&self, f: &Finding) -> Option<String> {
        self.opt(shown_uri(self.opts, f))
    }

    /// For a terminal or a one-line record: masked, then control
    /// characters escaped (even with `show_values`).
    pub fn line<'a>(&self, s: &'a str) -> std::borrow::Cow<'a, str> {
        match self.text(s) {
            std::borrow::Cow::Borrowed(b) => safe::escape_text(b),
            std::borrow::Cow::Owned(o) => std::borrow::Cow::Owned(safe::escape_text(&o).into_owned()),
        }
    }
}
