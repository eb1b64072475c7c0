//! SARIF 2.1.0 for code-scanning views: one run, the rules of the registry
//! (with help text and references), one result per finding with the
//! capture as artifact and frame, flow and request in properties, and a
//! stable partial fingerprint (rule, kind, host, method, path, field and a
//! hash of the value) so the same leak in another capture or run is
//! recognised. Results are written as they come; the artifacts and the
//! run's notifications (bounded) follow them at the end.

use std::io::{self, Write};

use serde_json::{Value, json};

use super::{Privacy, ReportOptions, Reporter, Summary};
use crate::detect::rules::Rule;
use crate::finding::{ErrorRecord, FileReport, Finding, RequestRecord, Severity};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const FINGERPRINT: &str = "teleauditLeak/v1";

pub struct SarifReporter<W: Write> {
    out: W,
    p: Privacy,
    rules: Vec<Rule>,
    artifacts: Vec<String>,
    /// The document's head is written, and how many results follow it.
    started: bool,
    results: u64,
    errors: Vec<ErrorRecord>,
    /// Errors past [`MAX_NOTIFICATIONS`], counted only.
    errors_over: u64,
}

/// Errors listed as notifications of the run.
const MAX_NOTIFICATIONS: usize = 10_000;

fn level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

impl<W: Write> SarifReporter<W> {
    pub fn new(out: W, opts: ReportOptions, rules: Vec<Rule>) -> Self {
        SarifReporter {
            out,
            p: Privacy::new(opts),
            rules,
            artifacts: Vec::new(),
            started: false,
            results: 0,
            errors: Vec::new(),
            errors_over: 0,
        }
    }

    /// The document up to its first result: schema, tool and rules.
    fn start(&mut self) -> io::Result<()> {
        if self.started {
            return Ok(());
        }
        self.started = true;
        let driver = json!({
            "name": "teleaudit",
            "version": env!("CARGO_PKG_VERSION"),
            "informationUri": "https://github.com/teleaudit/teleaudit",
            "rules": self.rules.iter().map(Self::rule_json).collect::<Vec<_>>(),
        });
        write!(
            self.out,
            "{{\"$schema\": {}, \"version\": \"2.1.0\", \"runs\": [{{\"tool\": {{\"driver\": ",
            json!(SCHEMA)
        )?;
        serde_json::to_writer_pretty(&mut self.out, &driver)?;
        write!(self.out, "}},\n\"results\": [")
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
            "fullDescription": {"text": if r.description.is_empty() { r.title.to_string() } else { r.description.clone() }},
            "help": {"text": if help.is_empty() { r.title.to_string() } else { help }},
            "defaultConfiguration": {"level": level(r.severity)},
            "properties": {"kind": r.kind, "severity": r.severity.as_str(), "tags": ["privacy", r.kind.clone()]},
        });
        if let Some(u) = r.references.first() {
            v["helpUri"] = json!(u);
        }
        v
    }

    fn result_json(&self, f: &Finding, artifact: usize) -> Value {
        let p = &self.p;
        let rule_index = self.rules.iter().position(|r| *r.id == *f.rule);
        let place = match &f.field {
            Some(field) => format!("{} `{}`", f.location.as_str(), p.text(field)),
            None => f.location.as_str().to_string(),
        };
        let to = p.text(f.host.as_deref().unwrap_or(&f.dst.to_string())).into_owned();
        let by = f.app.as_ref().map(|a| format!(" by {}", p.text(&a.display()))).unwrap_or_default();
        let text =
            format!("{}: {} {} in {place}, sent to {to}{by} (frame {})", f.title, f.kind, p.value(&f.value), f.frame);
        let mut properties = super::jsonl::finding_json(f, p);
        if let Some(m) = properties.as_object_mut() {
            m.remove("type");
        }
        let mut r = json!({
            "ruleId": &*f.rule,
            "level": level(f.severity),
            "message": {"text": text},
            "locations": [{
                "physicalLocation": {"artifactLocation": {"uri": p.text(&f.capture), "index": artifact}},
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
    fn begin(&mut self, capture: &str) -> io::Result<()> {
        self.start()?;
        if !capture.is_empty() {
            self.artifacts.push(capture.to_string());
        }
        Ok(())
    }

    fn finding(&mut self, f: &Finding) -> io::Result<()> {
        let index = self.artifacts.len().saturating_sub(1);
        self.p.learn(f);
        let v = self.result_json(f, index);
        self.out.write_all(if self.results == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut self.out, &v)?;
        self.results += 1;
        Ok(())
    }

    fn request(&mut self, _r: &RequestRecord) -> io::Result<()> {
        Ok(())
    }

    fn end(&mut self, r: &FileReport) -> io::Result<()> {
        for e in &r.errors {
            if self.errors.len() < MAX_NOTIFICATIONS {
                self.errors.push(e.clone());
            } else {
                self.errors_over += 1;
            }
        }
        Ok(())
    }

    fn finish(&mut self, s: &Summary) -> io::Result<()> {
        self.start()?;
        let mut notifications: Vec<Value> = self
            .errors
            .iter()
            .map(|e| {
                let (capture, message) = (self.p.text(&e.capture), self.p.text(&e.message));
                let text = match e.frame {
                    Some(n) => format!("{capture}: frame {n}: {message}"),
                    None => format!("{capture}: {message}"),
                };
                json!({"level": "error", "message": {"text": text}})
            })
            .collect();
        if self.errors_over > 0 {
            let text = format!("{} more errors not listed", self.errors_over);
            notifications.push(json!({"level": "error", "message": {"text": text}}));
        }
        let artifacts: Vec<Value> =
            self.artifacts.iter().map(|a| json!({"location": {"uri": self.p.text(a)}})).collect();
        let invocations = json!([{
            "executionSuccessful": s.errors == 0,
            "toolExecutionNotifications": notifications,
        }]);
        let properties = json!({"summary": super::jsonl::summary_json(s)});
        write!(self.out, "\n],\n\"artifacts\": ")?;
        serde_json::to_writer_pretty(&mut self.out, &artifacts)?;
        write!(self.out, ",\n\"invocations\": ")?;
        serde_json::to_writer_pretty(&mut self.out, &invocations)?;
        write!(self.out, ",\n\"properties\": ")?;
        serde_json::to_writer_pretty(&mut self.out, &properties)?;
        self.out.write_all(b"}]}\n")?;
        self.out.flush()
    }
}
