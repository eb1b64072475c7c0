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

/// One shard file being read.
struct Open {
    shown: String,
    reader: BufReader<File>,
    buf: Vec<u8>,
    line: u64,
    /// Why the rest of this file cannot be used.
    broken: Option<String>,
}

impl Open {
    fn next(&mut self) -> Result<Option<Record>, String> {
        shard::read_record(&mut self.reader, &mut self.buf, &mut self.line)
            .map_err(|e| format!("shard file {}: {e}", self.shown))
    }
}

/// The shard files of one run, checked, ready to be read in order.
pub struct ShardSet {
    /// The run's header (the shard index is the first file's).
    pub header: Header,
    files: Vec<Option<Open>>,
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

/// The files to read: files as given, folders' regular files in name
/// order (`true`: found in a folder).
fn files_of(paths: &[PathBuf]) -> Result<Vec<(PathBuf, bool)>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut in_dir: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            in_dir.sort();
            out.extend(in_dir.into_iter().map(|p| (p, true)));
        } else {
            out.push((p.clone(), false));
        }
    }
    Ok(out)
}

/// The first field in which two headers of shards differ.
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
    } else if a.discovery != b.discovery {
        Some("inputs found (the folders changed between shards, or other paths were given)")
    } else {
        None
    }
}

/// The tool that reads and writes shard files.
pub fn tool() -> String {
    format!("teleaudit {}", env!("CARGO_PKG_VERSION"))
}

impl ShardSet {
    /// Opens and checks the shard files. `Err`: nothing can be merged
    /// (no shard file, or files of different runs), said in one message.
    pub fn open(paths: &[PathBuf]) -> Result<ShardSet, String> {
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        let mut header: Option<(Header, String)> = None;
        let mut opened: Vec<(u64, Open)> = Vec::new();
        for (path, in_folder) in files_of(paths)? {
            let shown = path.display().to_string();
            let mut open = match File::open(&path) {
                Ok(f) => {
                    Open { shown: shown.clone(), reader: BufReader::new(f), buf: Vec::new(), line: 0, broken: None }
                }
                Err(e) => {
                    problems.push(problem(shown, format!("cannot read this shard file: {e}")));
                    continue;
                }
            };
            let h = match open.next() {
                Ok(Some(Record::Header(h))) => *h,
                other => {
                    let why = match other {
                        Ok(None) => "empty (its task stopped before writing?)".to_string(),
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
            match &header {
                None => header = Some((h.clone(), shown.clone())),
                Some((first, first_shown)) => {
                    if let Some(what) = differs(first, &h) {
                        return Err(format!(
                            "{first_shown} and {shown} are shards of different runs (their {what} differ): \
                             refusing to merge them"
                        ));
                    }
                }
            }
            if let Some((_, other)) = opened.iter().find(|(i, _)| *i == h.shard.index) {
                return Err(format!(
                    "shard {}/{} given twice ({} and {shown}): give each shard's file once",
                    h.shard.index, h.shard.count, other.shown
                ));
            }
            opened.push((h.shard.index, open));
        }
        let Some((header, _)) = header else {
            let why: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.capture, p.message)).collect();
            let why = if why.is_empty() { warnings.join("; ") } else { why.join("; ") };
            return Err(format!(
                "no shard file to merge{}",
                if why.is_empty() { String::new() } else { format!(": {why}") }
            ));
        };
        let count = header.shard.count;
        let Ok(slots) = usize::try_from(count) else { return Err(format!("shard count {count} too large")) };
        if slots > header.discovery.inputs.len().max(1) * 4 + 1024 {
            return Err(format!(
                "shard count {count} is far more than the run's {} inputs",
                header.discovery.inputs.len()
            ));
        }
        let mut files: Vec<Option<Open>> = (0..slots).map(|_| None).collect();
        for (i, o) in opened {
            files[i as usize] = Some(o);
        }
        for (i, f) in files.iter().enumerate() {
            if f.is_some() {
                continue;
            }
            let held = header.discovery.inputs.iter().filter(|(_, s)| *s == i as u64).count();
            if held == 0 {
                warnings.push(format!("shard {i}/{count} missing, but it held no capture"));
            } else {
                problems.push(problem(
                    format!("shard {i}/{count}"),
                    format!(
                        "missing: no shard file given for it (its task failed, or its file is elsewhere); \
                         its {held} captures are reported as not scanned"
                    ),
                ));
            }
        }
        Ok(ShardSet { header, files, problems, warnings })
    }

    /// Shards given whose file is missing.
    pub fn missing(&self) -> Vec<u64> {
        (0..self.files.len() as u64).filter(|&i| self.files[i as usize].is_none()).collect()
    }

    /// Streams every capture's events, in the run's input order, to
    /// `on_event` (which returns `false` to stop); then reads each shard
    /// file's last record. Warnings about the files' ends go to `warn`.
    pub fn run(mut self, mut on_event: impl FnMut(Event) -> bool, mut warn: impl FnMut(String)) -> Totals {
        let count = self.header.shard.count;
        let inputs = std::mem::take(&mut self.header.discovery.inputs);
        for (place, (name, owner)) in inputs.into_iter().enumerate() {
            let not_scanned = |why: String| FileReport {
                capture: name.clone(),
                errors: vec![problem(name.clone(), format!("not scanned: {why}"))],
                ..FileReport::default()
            };
            let Some(Some(f)) = self.files.get_mut(owner as usize) else {
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
        for f in self.files.iter_mut().flatten().filter(|f| f.broken.is_none()) {
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

/// Is the file at `path` a shard file (its first line a shard header)?
pub fn is_shard_file(path: &Path) -> bool {
    let Ok(f) = File::open(path) else { return false };
    let mut r = BufReader::new(f);
    matches!(shard::read_record(&mut r, &mut Vec::new(), &mut 0), Ok(Some(Record::Header(_))))
}

/// Is `path` a shard file, or a folder whose files (not below) are all
/// shard files? (`diff` then compares the runs they make up.)
pub fn is_shard_side(path: &Path) -> bool {
    if !path.is_dir() {
        return is_shard_file(path);
    }
    let Ok(entries) = std::fs::read_dir(path) else { return false };
    let files: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).filter(|p| p.is_file()).collect();
    !files.is_empty() && files.iter().all(|p| is_shard_file(p))
}
