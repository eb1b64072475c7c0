//! SARIF 2.1.0 for code-scanning views: one run, the rules of the registry
//! (with help text and references), one result per finding with the
//! capture as artifact and frame, flow and request in properties, and a
//! stable partial fingerprint (rule, kind, host, method, path, field and a
//! hash of the value) so the same leak in another capture or run is
//! recognised. Collected, then written at the end.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{ReportOptions, Reporter, Summary, shown};
use crate::detect::rules::Rule;
use crate::finding::{ErrorRecord, FileReport, Finding, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const FINGERPRINT: &str = "teleauditLeak/v1";

pub struct SarifReporter<W: Write> {
    out: W,
    opts: ReportOptions,
    rules: Vec<Rule>,
    artifacts: Vec<String>,
    results: Vec<Value>,
    errors: Vec<ErrorRecord>,
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

impl<W: Write> SarifReporter<W> {
    pub fn new(out: W, opts: ReportOptions, rules: Vec<Rule>) -> Self {
        SarifReporter { out, opts, rules, artifacts: Vec::new(), results: Vec::new(), errors: Vec::new() }
    }

    fn rule_json(r: &Rule) -> Value {
        let mut help = r.description.clone();
        if !r.references.is_empty() {
            help.push_str("\n\nReferences:\n");
            for u in &r.references {
                help.push_str(&format!("- {u}\n"));
            }
        }
        let mut v = json!({
            "id": r.id,
            "name": r.id.replace('-', ""),
            "shortDescription": {"text": r.title},
            "fullDescription": {"text": if r.description.is_empty() { r.title.clone() } else { r.description.clone() }},
            "help": {"text": if help.is_empty() { r.title.clone() } else { help }},
            "defaultConfiguration": {"level": level(r.severity)},
            "properties": {"kind": r.kind, "severity": r.severity.as_str(), "tags": ["privacy", r.kind.clone()]},
        });
        if let Some(u) = r.references.first() {
            v["helpUri"] = json!(u);
        }
        v
    }

    fn result_json(&self, f: &Finding, artifact: usize) -> Value {
        let o = self.opts;
        let rule_index = self.rules.iter().position(|r| r.id == f.rule);
        let place = match &f.field {
            Some(field) => format!("{} `{field}`", f.location.as_str()),
            None => f.location.as_str().to_string(),
        };
        let to = f.host.clone().unwrap_or_else(|| f.dst.to_string());
        let text =
            format!("{}: {} {} in {place}, sent to {to} (frame {})", f.title, f.kind, shown(o, &f.value), f.frame);
        let mut properties = super::jsonl::finding_json(f, o);
        if let Some(m) = properties.as_object_mut() {
            m.remove("type");
        }
        let mut r = json!({
            "ruleId": f.rule,
            "level": level(f.severity),
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": f.capture, "index": artifact}},
                "logicalLocations": [{"name": to, "kind": "resource"}],
            }],
            "partialFingerprints": {FINGERPRINT: f.fingerprint()},
            // The JSON Lines fields of the finding, whole.
            "properties": properties,
        });
        if let Some(i) = rule_index {
            r["ruleIndex"] = json!(i);
        }
        r
    }
}

impl<W: Write> Reporter for SarifReporter<W> {
    fn file(&mut self, r: &FileReport) -> io::Result<()> {
        if !r.capture.is_empty() {
            self.artifacts.push(r.capture.clone());
        }
        let index = self.artifacts.len().saturating_sub(1);
        for f in &r.findings {
            let v = self.result_json(f, index);
            self.results.push(v);
        }
        self.errors.extend(r.errors.iter().cloned());
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        let notifications: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                let text = match e.frame {
                    Some(n) => format!("{}: frame {n}: {}", e.capture, e.message),
                    None => format!("{}: {}", e.capture, e.message),
                };
                json!({"level": "error", "message": {"text": text}})
            })
            .collect();
        let doc = json!({
            "$schema": SCHEMA,
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {
                    "name": "teleaudit",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": "https://github.com/teleaudit/teleaudit",
                    "rules": self.rules.iter().map(Self::rule_json).collect::<Vec<_>>(),
                }},
                "artifacts": self.artifacts.iter().map(|a| json!({"location": {"uri": a}})).collect::<Vec<_>>(),
                "invocations": [{
                    "executionSuccessful": s.errors == 0,
                    "toolExecutionNotifications": notifications,
                }],
                "results": self.results,
                "properties": {"summary": super::jsonl::summary_json(s)},
            }],
        });
        serde_json::to_writer_pretty(&mut self.out, &doc)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}
