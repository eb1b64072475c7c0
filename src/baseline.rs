//! Baselines: the leaks already known and accepted, by fingerprint (see
//! [`Finding::fingerprint`]), so CI fails only on new ones. A baseline is a
//! JSON file written by `scan --write-baseline` and read by
//! `scan --baseline`; each entry also names the leak for people, with
//! every identifier value found in the run masked in its host, field and
//! capture name (only the fingerprint is read back).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::finding::Finding;
use crate::report::safe::Masker;

/// Format 2: fingerprints leave out the value of the kinds that change
/// by nature ([`crate::finding::VARYING_KINDS`]). Format 1 files are still
/// read (their fingerprints hold every value).
const FORMAT: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// One accepted leak, as written to the file.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub fingerprint: String,
    pub rule: String,
    pub kind: String,
    pub host: Option<String>,
    pub field: Option<String>,
    /// Where it was first seen.
    pub capture: String,
    pub frame: u64,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    teleaudit_baseline: u32,
    leaks: Vec<Entry>,
}

/// Fingerprints to suppress.
#[derive(Debug, Default)]
pub struct Baseline {
    known: HashSet<String>,
    /// Written in format 1: fingerprints with every value.
    v1: bool,
}

impl Baseline {
    pub fn load(path: &Path) -> Result<Baseline, BaselineError> {
        let shown = path.display().to_string();
        let bad = |message: String| BaselineError::Invalid { path: shown.clone(), message };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let file: File = serde_json::from_str(&text).map_err(|e| bad(format!("not a teleaudit baseline: {e}")))?;
        if file.teleaudit_baseline != FORMAT && file.teleaudit_baseline != 1 {
            return Err(bad(format!(
                "baseline format {} (this teleaudit reads 1 and {FORMAT})",
                file.teleaudit_baseline
            )));
        }
        let v1 = file.teleaudit_baseline == 1;
        Ok(Baseline { known: file.leaks.into_iter().map(|e| e.fingerprint).collect(), v1 })
    }

    /// Is this finding's leak in the baseline?
    pub fn knows(&self, f: &Finding) -> bool {
        let fp = if self.v1 { f.fingerprint_v1() } else { f.fingerprint() };
        self.known.contains(&fp)
    }

    /// Removes the known findings; returns how many.
    pub fn suppress(&self, findings: &mut Vec<Finding>) -> u64 {
        let before = findings.len();
        findings.retain(|f| !self.knows(f));
        (before - findings.len()) as u64
    }
}

/// Collects the leaks of a run for `--write-baseline`, in a stable order.
#[derive(Default)]
pub struct Writer {
    leaks: BTreeMap<String, Entry>,
    /// The values of the run, masked wherever an entry shows them.
    masker: Masker,
}

impl Writer {
    pub fn add(&mut self, findings: &[Finding]) {
        for f in findings {
            self.masker.learn(&f.value);
            if let Some(m) = &f.matched {
                self.masker.learn(m);
            }
            self.leaks.entry(f.fingerprint()).or_insert_with_key(|fp| Entry {
                fingerprint: fp.clone(),
                rule: f.rule.to_string(),
                kind: f.kind.to_string(),
                host: f.host.as_deref().map(str::to_string),
                field: f.field.clone(),
                capture: f.capture.to_string(),
                frame: f.frame,
            });
        }
    }

    /// Writes the baseline file's text to `out`.
    pub fn write(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        let m = &self.masker;
        let masked = |s: &Option<String>| s.as_deref().map(|s| m.mask(s).into_owned());
        let mut leaks: Vec<Entry> = self
            .leaks
            .values()
            .map(|e| Entry {
                host: masked(&e.host),
                field: masked(&e.field),
                capture: m.mask(&e.capture).into_owned(),
                ..e.clone()
            })
            .collect();
        leaks.sort_by(|a, b| {
            (&a.rule, &a.host, &a.field, &a.fingerprint).cmp(&(&b.rule, &b.host, &b.field, &b.fingerprint))
        });
        let file = File { teleaudit_baseline: FORMAT, leaks };
        let mut text = serde_json::to_string_pretty(&file).map_err(std::io::Error::other)?;
        text.push('\n');
        out.write_all(text.as_bytes())
    }
}
