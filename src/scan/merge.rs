//! scan::merge: a sharded run read back from its shard files
//! ([`crate::report::shard`]) as the events one machine would have made:
//! every capture of the run in input order, each from the shard that
//! scanned it, streamed (one record per shard file held at a time).
//!
//! Shard files of different runs are refused (another tool version,
//! other rules, profile, limits, key logs or inputs): their union would
//! be no run's report. A capture whose shard is missing, or whose shard
//! file stops before it (a task killed, a file cut), is reported as that
//! capture's error; the other shards' findings are all kept, and so are
//! those a cut file holds before it stops.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use super::Event;
use crate::finding::{ErrorRecord, FileReport};
use crate::report::shard::{self, Header, Record};

/// Shard files kept open at once: the others are closed and reopened
/// where they were left (a run of thousands of shards stays under any
/// open-file limit).
pub const MAX_OPEN: usize = 64;

/// One shard file being read.
struct Open {
    shown: String,
    path: PathBuf,
    /// Open while being read; closed to make room ([`MAX_OPEN`]).
    reader: Option<BufReader<File>>,
    /// Bytes read so far, where a reopened file goes on.
    offset: u64,
    /// When last read (for closing the least recently read).
    used: u64,
    buf: Vec<u8>,
    line: u64,
    /// New protocol or suite names this file may still add
    /// ([`crate::finding::interned`]).
    budget: usize,
    /// Why the rest of this file cannot be used.
    broken: Option<String>,
}

impl Open {
    fn new(path: PathBuf) -> Open {
        Open {
            shown: path.display().to_string(),
            path,
            reader: None,
            offset: 0,
            used: 0,
            buf: Vec::new(),
            line: 0,
            budget: crate::finding::interned::PER_FILE,
            broken: None,
        }
    }

    fn next(&mut self) -> Result<Option<Record>, String> {
        use std::io::{Seek, SeekFrom};
        if self.reader.is_none() {
            let mut f =
                File::open(&self.path).map_err(|e| format!("shard file {}: cannot read it: {e}", self.shown))?;
            f.seek(SeekFrom::Start(self.offset)).map_err(|e| format!("shard file {}: {e}", self.shown))?;
            self.reader = Some(BufReader::new(f));
        }
        let Some(reader) = self.reader.as_mut() else { return Ok(None) };
        let (buf, line) = (&mut self.buf, &mut self.line);
        let r = crate::finding::interned::with_budget(&mut self.budget, || shard::read_record(reader, buf, line));
        self.offset += self.buf.len() as u64;
        r.map_err(|e| format!("shard file {}: {e}", self.shown))
    }
}

/// The shard files of one run, checked, ready to be read in order.
pub struct ShardSet {
    /// The run's header (the shard index is the first file's).
    pub header: Header,
    files: std::collections::BTreeMap<u64, Open>,
    /// Files open now, and the reads so far (the clock of `Open::used`).
    open: usize,
    clock: u64,
    /// Problems with what was given: files that are no shard file, shards
    /// missing. Errors of the merged run, reported with the discovery's.
    pub problems: Vec<ErrorRecord>,
    /// What is worth a warning only: a folder's file that is no shard
    /// file, a missing shard that held no capture.
    pub warnings: Vec<String>,
}

/// What the shards said of themselves once read to the end.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    /// The longest shard's scan time (the shards ran side by side).
    pub elapsed_secs: f64,
    /// The largest peak resident memory of a shard.
    pub peak_memory_bytes: Option<u64>,
}

fn problem(capture: impl Into<String>, message: impl Into<String>) -> ErrorRecord {
    ErrorRecord { capture: capture.into(), frame: None, message: message.into() }
}

/// Is this a hidden file (a task's unfinished output, `.shard-3.jsonl.teleaudit-…tmp`)?
fn hidden(p: &Path) -> bool {
    p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The files to read: files as given, folders' regular files in name
/// order (`true`: found in a folder), and how many hidden files the
/// folders held (passed over).
pub fn shard_files(paths: &[PathBuf]) -> Result<(Vec<(PathBuf, bool)>, u64), String> {
    let mut out = Vec::new();
    let mut passed = 0;
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            in_dir.sort();
            let before = in_dir.len();
            in_dir.retain(|p| !hidden(p));
            passed += (before - in_dir.len()) as u64;
            out.extend(in_dir.into_iter().map(|p| (p, true)));
        } else {
            out.push((p.clone(), false));
        }
    }
    Ok((out, passed))
}

/// The first field in which two headers of shards differ, but for the
/// inputs found (see [`ShardSet::open`]).
fn differs(a: &Header, b: &Header) -> Option<&'static str> {
    if a.format != b.format {
        Some("shard file format")
    } else if a.tool != b.tool {
        Some("teleaudit version")
    } else if a.mode != b.mode {
        Some("command (scan or requests)")
    } else if a.shard.count != b.shard.count {
        Some("shard count")
    } else if a.rules != b.rules {
        Some("rules (digest)")
    } else if a.profile != b.profile {
        Some("profile (digest)")
    } else if a.config != b.config {
        Some("options (limits, key logs, --app, --all-requests, --include-test-devices)")
    } else {
        None
    }
}

/// The tool that reads and writes shard files.
pub fn tool() -> String {
    format!("teleaudit {}", env!("CARGO_PKG_VERSION"))
}

/// SHA-256 of a run's discovery as written.
fn discovery_digest(h: &Header) -> [u8; 32] {
    use sha2::Digest;
    let json = serde_json::to_vec(&h.discovery).unwrap_or_default();
    sha2::Sha256::digest(&json).into()
}

/// The first difference between a stale shard's inputs and the run's,
/// in words.
fn how_inputs_differ(stale: &shard::RunInputs, run: &shard::RunInputs) -> String {
    for (a, b) in stale.inputs.iter().zip(&run.inputs) {
        if a.0 != b.0 {
            return format!("`{}` where the run has `{}`", a.0, b.0);
        }
        if a != b {
            return format!("`{}` has changed since (its size or content)", a.0);
        }
    }
    if stale.inputs.len() != run.inputs.len() {
        return format!("{} captures where the run has {}", stale.inputs.len(), run.inputs.len());
    }
    "other unreadable paths or files passed over".to_string()
}

/// Shard files whose headers agree on the discovery: how many, the
/// latest modification time among them, and one header.
struct Seen {
    files: usize,
    newest: Option<std::time::SystemTime>,
    header: Header,
}

impl ShardSet {
    /// Opens and checks the shard files. `Err`: nothing can be merged
    /// (no shard file, or files of different runs), said in one message.
    ///
    /// Shards of one run that saw other inputs (a folder changed, or a
    /// file left from an earlier scan of the same folders whose captures
    /// have changed since: sizes and times are in the header) are not
    /// refused: the inputs most of the files saw (on a tie, those of the
    /// newest file) are the run's, and a file that saw others is stale,
    /// an error, its shard missing.
    pub fn open(paths: &[PathBuf]) -> Result<ShardSet, String> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let mut first: Option<(Header, String)> = None;
        let mut opened: Vec<(Header, [u8; 32], Open)> = Vec::new();
        let mut seen: std::collections::BTreeMap<[u8; 32], Seen> = std::collections::BTreeMap::new();
        let (files, hidden) = shard_files(paths)?;
        if hidden > 0 {
            warnings.push(format!(
                "{hidden} hidden files in the folders passed over (a task's unfinished output is \
                 `.NAME.teleaudit-PID-N.tmp`)"
            ));
        }
        for (path, in_folder) in files {
            let mut open = Open::new(path);
            let shown = open.shown.clone();
            let h = match open.next() {
                Ok(Some(Record::Header(h))) => *h,
                other => {
                    let why = match other {
                        Ok(None) => "empty (its task stopped before writing?)".to_string(),
                        _ if is_report(&open.buf) => "a teleaudit report, made for reading: a shard is scanned \
                             with `--shard I/N --format shard -o FILE`, and those files are merged"
                            .to_string(),
                        Err(e) => e,
                        Ok(Some(_)) => "no header first".to_string(),
                    };
                    let msg = format!("not a shard file (write them with `--format shard`): {why}");
                    if in_folder {
                        warnings.push(format!("{shown}: {msg}; passed over"));
                    } else {
                        problems.push(problem(shown, msg));
                    }
                    continue;
                }
            };
            // Closed until read: thousands of shards stay under the
            // open-file limit.
            open.reader = None;
            if h.format != shard::FORMAT {
                return Err(format!(
                    "{shown}: shard file format {}, this teleaudit reads format {}",
                    h.format,
                    shard::FORMAT
                ));
            }
            if h.tool != tool() {
                return Err(format!(
                    "{shown}: written by {}; this is {}: merge with the version that scanned",
                    h.tool,
                    tool()
                ));
            }
            if h.shard.count == 0 || h.shard.index >= h.shard.count {
                return Err(format!("{shown}: shard {}/{} is no shard", h.shard.index, h.shard.count));
            }
            match &first {
                None => first = Some((h.clone(), shown.clone())),
                Some((f, f_shown)) => {
                    if let Some(what) = differs(f, &h) {
                        return Err(format!(
                            "{f_shown} and {shown} are shards of different runs (their {what} differ): \
                             refusing to merge them"
                        ));
                    }
                }
            }
            let digest = discovery_digest(&h);
            let modified = std::fs::metadata(&open.path).and_then(|m| m.modified()).ok();
            let s = seen.entry(digest).or_insert_with(|| Seen { files: 0, newest: None, header: h.clone() });
            s.files += 1;
            s.newest = s.newest.max(modified);
            // Only the run's inputs are kept (one header's worth).
            let mut h = h;
            h.discovery = Default::default();
            opened.push((h, digest, open));
        }
        let Some(run) = seen.iter().max_by_key(|(_, s)| (s.files, s.newest)).map(|(d, _)| *d) else {
            let why: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.capture, p.message)).collect();
            let why = if why.is_empty() { warnings.join("; ") } else { why.join("; ") };
            return Err(format!(
                "no shard file to merge{}",
                if why.is_empty() { String::new() } else { format!(": {why}") }
            ));
        };
        let header = seen.remove(&run).map(|s| s.header).unwrap_or_else(|| unreachable!("the run's digest is seen"));
        let count = header.shard.count;
        let mut files: std::collections::BTreeMap<u64, Open> = std::collections::BTreeMap::new();
        for (h, digest, open) in opened {
            let i = h.shard.index;
            if digest != run {
                let what = seen.get(&digest).map_or_else(String::new, |s| {
                    format!(" ({})", how_inputs_differ(&s.header.discovery, &header.discovery))
                });
                problems.push(problem(
                    open.shown.clone(),
                    format!(
                        "stale: shard {i}/{count} of a scan that found other inputs{what}: an earlier run's \
                         file, or the folder given otherwise; not merged, its shard counts as missing"
                    ),
                ));
                continue;
            }
            if let Some(other) = files.get(&i) {
                return Err(format!(
                    "shard {i}/{count} given twice ({} and {}): give each shard's file once",
                    other.shown, open.shown
                ));
            }
            files.insert(i, open);
        }
        let mut held: std::collections::BTreeMap<u64, usize> = std::collections::BTreeMap::new();
        for (_, owner, _, _) in &header.discovery.inputs {
            *held.entry(*owner).or_default() += 1;
        }
        for (i, n) in &held {
            if !files.contains_key(i) {
                problems.push(problem(
                    format!("shard {i}/{count}"),
                    format!(
                        "missing: no shard file given for it (its task failed, or its file is elsewhere); \
                         its {n} captures are reported as not scanned"
                    ),
                ));
            }
        }
        let present_or_held = files.len() as u64 + held.keys().filter(|i| !files.contains_key(i)).count() as u64;
        let empty_missing = count.saturating_sub(present_or_held);
        if empty_missing > 0 {
            // Named when few (the first ten), counted when many.
            let mut named = Vec::new();
            let mut i = 0;
            while i < count && named.len() < 10 {
                if !files.contains_key(&i) && !held.contains_key(&i) {
                    named.push(format!("{i}/{count}"));
                }
                i += 1;
            }
            let more = empty_missing - named.len() as u64;
            let more = if more > 0 { format!(" and {more} more") } else { String::new() };
            warnings.push(format!("shards {}{more} missing, but they held no capture", named.join(", ")));
        }
        Ok(ShardSet { header, files, open: 0, clock: 0, problems, warnings })
    }

    /// Makes room to open shard `i`'s file: closes the least recently
    /// read open file when [`MAX_OPEN`] are open.
    fn make_room(&mut self, i: u64) {
        self.clock += 1;
        let Some(f) = self.files.get_mut(&i) else { return };
        f.used = self.clock;
        if f.reader.is_some() {
            return;
        }
        if self.open >= MAX_OPEN
            && let Some(lru) = self.files.values_mut().filter(|f| f.reader.is_some()).min_by_key(|f| f.used)
        {
            lru.reader = None;
            self.open -= 1;
        }
        self.open += 1;
    }

    /// Streams every capture's events, in the run's input order, to
    /// `on_event` (which returns `false` to stop); then reads each shard
    /// file's last record. Warnings about the files' ends go to `warn`.
    pub fn run(mut self, mut on_event: impl FnMut(Event) -> bool, mut warn: impl FnMut(String)) -> Totals {
        let count = self.header.shard.count;
        let inputs = std::mem::take(&mut self.header.discovery.inputs);
        for (place, (name, owner, _, _)) in inputs.into_iter().enumerate() {
            let not_scanned = |why: String| FileReport {
                capture: name.clone(),
                errors: vec![problem(name.clone(), format!("not scanned: {why}"))],
                ..FileReport::default()
            };
            self.make_room(owner);
            let Some(f) = self.files.get_mut(&owner) else {
                let r = not_scanned(format!("shard {owner}/{count} is missing"));
                if !(on_event(Event::Begin(name)) && on_event(Event::End(Box::new(r)))) {
                    return Totals::default();
                }
                continue;
            };
            if let Some(why) = &f.broken {
                let r = not_scanned(why.clone());
                if !(on_event(Event::Begin(name)) && on_event(Event::End(Box::new(r)))) {
                    return Totals::default();
                }
                continue;
            }
            let first = match f.next() {
                Ok(Some(Record::Begin { index, capture })) if index == place as u64 && capture == name => Ok(()),
                Ok(Some(Record::Begin { index, .. })) => Err(format!(
                    "shard file {}: line {}: capture {index} where capture {place} ({name}) was due",
                    f.shown, f.line
                )),
                Ok(None) => Err(format!("shard file {} ends before this capture (its task stopped early?)", f.shown)),
                Ok(Some(_)) => Err(format!("shard file {}: line {}: a record out of place", f.shown, f.line)),
                Err(e) => Err(e),
            };
            if let Err(why) = first {
                f.broken = Some(why.clone());
                let r = not_scanned(why);
                if !(on_event(Event::Begin(name)) && on_event(Event::End(Box::new(r)))) {
                    return Totals::default();
                }
                continue;
            }
            if !on_event(Event::Begin(name.clone())) {
                return Totals::default();
            }
            loop {
                let event = match f.next() {
                    Ok(Some(Record::Finding(x))) => Event::Finding(*x),
                    Ok(Some(Record::Request(x))) => Event::Request(*x),
                    Ok(Some(Record::End(r))) if r.capture == name => Event::End(r),
                    other => {
                        let why = match other {
                            Ok(None) => format!("shard file {} ends inside this capture (its task stopped?)", f.shown),
                            Err(e) => e,
                            Ok(Some(_)) => format!("shard file {}: line {}: a record out of place", f.shown, f.line),
                        };
                        f.broken = Some(format!("{why}; it holds nothing after"));
                        let r = FileReport {
                            capture: name.clone(),
                            errors: vec![problem(name.clone(), format!("incomplete: {why}"))],
                            ..FileReport::default()
                        };
                        Event::End(Box::new(r))
                    }
                };
                let end = matches!(event, Event::End(_));
                if !on_event(event) {
                    return Totals::default();
                }
                if end {
                    break;
                }
            }
        }
        let mut totals = Totals::default();
        let ends: Vec<u64> = self.files.iter().filter(|(_, f)| f.broken.is_none()).map(|(i, _)| *i).collect();
        for i in ends {
            self.make_room(i);
            let Some(f) = self.files.get_mut(&i) else { continue };
            match f.next() {
                Ok(Some(Record::Done { elapsed_secs, peak_memory_bytes })) => {
                    totals.elapsed_secs = totals.elapsed_secs.max(elapsed_secs);
                    totals.peak_memory_bytes = totals.peak_memory_bytes.max(peak_memory_bytes);
                    match f.next() {
                        Ok(None) => {}
                        _ => warn(format!("shard file {}: records after `done`, not read", f.shown)),
                    }
                }
                Ok(None) => warn(format!(
                    "shard file {}: holds every capture of its shard but no `done` record (its task stopped \
                     while finishing?)",
                    f.shown
                )),
                Ok(Some(_)) => {
                    warn(format!("shard file {}: line {}: records past its captures, not read", f.shown, f.line))
                }
                Err(e) => warn(e),
            }
        }
        totals
    }
}

/// Is `line` a record of a teleaudit JSON Lines report (an object with a
/// `type` such as `finding` or `summary`), or the start of a SARIF log?
fn is_report(line: &[u8]) -> bool {
    let text = crate::util::lossy(line);
    if text.trim_start().starts_with('{') && text.contains("\"$schema\"") {
        return true;
    }
    serde_json::from_str::<serde_json::Value>(&text).is_ok_and(|v| {
        v.get("type")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|t| matches!(t, "finding" | "request" | "error" | "capture" | "summary" | "host" | "app"))
    })
}

/// Is the file at `path` a shard file (its first line a shard header)?
pub fn is_shard_file(path: &Path) -> bool {
    let Ok(f) = File::open(path) else { return false };
    let mut r = BufReader::new(f);
    matches!(shard::read_record(&mut r, &mut Vec::new(), &mut 0), Ok(Some(Record::Header(_))))
}

/// Is `path` a shard file, or a folder holding one (not below, not
/// hidden)? (`diff` then compares the run they make up; the folder's
/// other files, a merged report, are passed over as by `merge`.)
pub fn is_shard_side(path: &Path) -> bool {
    if !path.is_dir() {
        return is_shard_file(path);
    }
    let Ok((files, _)) = shard_files(&[path.to_path_buf()]) else { return false };
    files.iter().any(|(p, _)| is_shard_file(p))
}
