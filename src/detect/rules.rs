//! Rule files: TOML under `rules/` (compiled into the binary) and any the
//! user adds with `--rules`. Parsed with unknown keys refused, validated
//! (known detector, compilable patterns, unique ids), then frozen into a
//! [`RuleSet`]. Errors name the file, line and column.
//!
//! A rule matches one of: a built-in `detector` (by kind), a `pattern`
//! (regex over field values), `detector = "profile"` (device-profile
//! values of kinds no other rule covers), or an `endpoint` (host, path and
//! parameters of a known telemetry service whose payload is opaque).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use regex::Regex;
use serde::Deserialize;
use toml::Spanned;

use super::validators::Detector;
use crate::extract::Step;
use crate::finding::{Location, Severity};

/// The built-in rule files, compiled in: (name shown in messages, text).
/// Endpoint rules come first: where two rules report the same value at
/// the same place, the more specific (earlier) one keeps it.
pub const BUILTIN: &[(&str, &str)] = &[
    ("rules/endpoints.toml", include_str!("../../rules/endpoints.toml")),
    ("rules/identifiers.toml", include_str!("../../rules/identifiers.toml")),
    ("rules/personal.toml", include_str!("../../rules/personal.toml")),
];

/// A rule file problem, with its position when known.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{path}:{line}:{col}: {message}")]
    At { path: String, line: usize, col: usize, message: String },
    #[error("{path}: {message}")]
    File { path: String, message: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFileDef {
    #[serde(default)]
    rule: Vec<RuleDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    id: Spanned<String>,
    title: String,
    severity: Severity,
    #[serde(default)]
    description: String,
    #[serde(default)]
    references: Vec<String>,
    kind: Option<String>,
    detector: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    /// Field names (normalised as keys are) a pattern rule applies to.
    #[serde(default)]
    keys: Vec<String>,
    endpoint: Option<Spanned<EndpointDef>>,
    decoder: Option<Spanned<DecoderDef>>,
    #[serde(default)]
    scope: ScopeDef,
    examples: Option<ExamplesDef>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ExamplesDef {
    #[serde(default, rename = "match")]
    matches: Vec<Spanned<String>>,
    #[serde(default)]
    no_match: Vec<Spanned<String>>,
}

/// A positive or negative example of a rule: what a request carries,
/// written as a query string (`imei=356938035643809&x=1`) or an absolute
/// URL (`http://host:8080/path?query`) when host and path matter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub should_match: bool,
    pub line: usize,
    pub col: usize,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ScopeDef {
    #[serde(default)]
    locations: Vec<Spanned<String>>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    /// Globs over the sending app's name, label or id.
    #[serde(default)]
    apps: Vec<String>,
    /// Where the destination is: `internet`, `lan`, `multicast`, `broadcast`.
    #[serde(default)]
    destinations: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EndpointDef {
    hosts: Vec<String>,
    #[serde(default)]
    ports: Vec<u16>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    params: BTreeMap<String, Spanned<String>>,
    evidence: Option<String>,
    #[serde(default)]
    carries: Vec<String>,
    payload: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecoderDef {
    /// The query or form parameter that holds the envelope.
    field: String,
    steps: Vec<Spanned<String>>,
    #[serde(default)]
    hosts: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
}

/// A declared decoder for a known SDK envelope: the parameter `field` of
/// matching requests is decoded with `steps` and what comes out is
/// scanned by every rule.
#[derive(Clone, Debug)]
pub struct Decoder {
    pub field: String,
    pub steps: Vec<Step>,
    pub hosts: Vec<String>,
    pub paths: Vec<String>,
}

impl Decoder {
    pub fn applies(&self, host: Option<&str>, path: &str) -> bool {
        (self.hosts.is_empty() || host.is_some_and(|h| self.hosts.iter().any(|g| glob(g, h))))
            && (self.paths.is_empty() || self.paths.iter().any(|g| glob(g, path)))
    }
}

/// Where a rule applies.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    pub locations: Vec<Location>,
    pub methods: Vec<String>,
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    /// Globs over the sending app ([`crate::finding::AppRef::matches`]): a rule scoped to
    /// apps never applies to a request of no known app.
    pub apps: Vec<String>,
    /// Where the destination must be ([`crate::finding::scope_of`]); a
    /// rule scoped so never applies where the destination is unknown.
    pub destinations: Vec<&'static str>,
}

/// The destination scopes a rule may name.
pub const DESTINATIONS: [&str; 4] = ["internet", "lan", "multicast", "broadcast"];

impl Scope {
    /// Does the request fall in scope: its method, host, port, sending app
    /// and where its destination is?
    pub fn request(&self, ctx: &super::RequestCtx<'_>) -> bool {
        (self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(ctx.method)))
            && (self.hosts.is_empty() || ctx.host.is_some_and(|h| self.hosts.iter().any(|g| glob(g, h))))
            && (self.ports.is_empty() || self.ports.contains(&ctx.dst_port))
            && (self.apps.is_empty() || ctx.app.is_some_and(|a| self.apps.iter().any(|g| a.matches(g))))
            && (self.destinations.is_empty()
                || ctx.dst.is_some_and(|ip| self.destinations.contains(&crate::finding::scope_of(ip))))
    }

    pub fn location(&self, l: Location) -> bool {
        self.locations.is_empty() || self.locations.contains(&l)
    }
}

/// A known telemetry endpoint.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub hosts: Vec<String>,
    pub ports: Vec<u16>,
    pub paths: Vec<String>,
    /// Parameter name and the pattern its (decoded) value must match.
    pub params: Vec<(String, Regex)>,
    /// The parameter whose value a finding shows.
    pub evidence: Option<String>,
    /// Identifier kinds the opaque payload is known to carry.
    pub carries: Vec<String>,
    pub payload: Option<String>,
}

impl Endpoint {
    pub fn host_path(&self, host: Option<&str>, port: u16, path: &str) -> bool {
        host.is_some_and(|h| self.hosts.iter().any(|g| glob(g, h)))
            && (self.ports.is_empty() || self.ports.contains(&port))
            && (self.paths.is_empty() || self.paths.iter().any(|g| glob(g, path)))
    }
}

#[derive(Clone, Debug)]
pub enum Matcher {
    Detector(Detector),
    /// A regex over decoded field values, limited to fields under `keys`
    /// (normalised) when some are given; without a regex, any value of
    /// such a field matches.
    Pattern {
        re: Option<Regex>,
        keys: Vec<String>,
    },
    Profile,
    Endpoint(Endpoint),
    Decoder(Decoder),
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    /// Shared by every finding of the rule.
    pub title: std::sync::Arc<str>,
    pub severity: Severity,
    pub kind: String,
    pub description: String,
    pub references: Vec<String>,
    /// The file it came from.
    pub source: String,
    pub matcher: Matcher,
    pub scope: Scope,
    pub examples: Vec<Example>,
}

/// The frozen rule registry.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
}

/// `*` matches any run of characters; case-insensitive.
pub fn glob(pattern: &str, text: &str) -> bool {
    // Byte by byte, ignoring ASCII case: no copy (hosts are checked
    // against every endpoint rule's globs, request by request).
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let mut parts = p.split(|&b| b == b'*');
    let first = parts.next().unwrap_or(&[]);
    let starts =
        |hay: &[u8], needle: &[u8]| hay.len() >= needle.len() && hay[..needle.len()].eq_ignore_ascii_case(needle);
    if !p.contains(&b'*') {
        return p.eq_ignore_ascii_case(t);
    }
    if !starts(t, first) {
        return false;
    }
    let mut rest = &t[first.len()..];
    let mut parts = parts.peekable();
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            return rest.len() >= part.len() && rest[rest.len() - part.len()..].eq_ignore_ascii_case(part);
        }
        if part.is_empty() {
            continue;
        }
        match (0..=rest.len().saturating_sub(part.len())).find(|&i| starts(&rest[i..], part)) {
            Some(at) if rest.len() >= part.len() => rest = &rest[at + part.len()..],
            _ => return false,
        }
    }
    true
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rfind('\n').map_or(before.len(), |n| before.len() - n - 1) + 1;
    (line, col)
}

impl RuleSet {
    /// The compiled-in rules.
    pub fn builtin() -> Result<RuleSet, RuleError> {
        let mut set = RuleSet::default();
        for (name, text) in BUILTIN {
            set.add(name, text)?;
        }
        Ok(set)
    }

    /// Adds a rule file, or every `.toml` file under a folder (sorted).
    pub fn add_path(&mut self, path: &Path) -> Result<(), RuleError> {
        let shown = path.display().to_string();
        let io_err = |e: std::io::Error| RuleError::File { path: shown.clone(), message: e.to_string() };
        if path.is_dir() {
            let mut files: Vec<_> = walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "toml"))
                .map(|e| e.into_path())
                .collect();
            files.sort();
            for f in files {
                self.add_path(&f)?;
            }
            return Ok(());
        }
        let text = std::fs::read_to_string(path).map_err(io_err)?;
        self.add(&shown, &text)
    }

    /// Parses, validates and adds the rules of one file.
    pub fn add(&mut self, path: &str, text: &str) -> Result<(), RuleError> {
        let at = |offset: usize, message: String| {
            let (line, col) = line_col(text, offset);
            RuleError::At { path: path.to_string(), line, col, message }
        };
        let def: RuleFileDef = toml::from_str(text).map_err(|e| match e.span() {
            Some(span) => at(span.start, e.message().to_string()),
            None => RuleError::File { path: path.to_string(), message: e.message().to_string() },
        })?;
        let mut ids: HashSet<String> = self.rules.iter().map(|r| r.id.clone()).collect();
        for r in def.rule {
            let id_at = r.id.span().start;
            let id = r.id.into_inner();
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return Err(at(id_at, format!("rule id {id:?} must be letters, digits, '-' or '_'")));
            }
            if !ids.insert(id.clone()) {
                return Err(at(id_at, format!("duplicate rule id {id:?}")));
            }
            let keyed_pattern = r.pattern.is_some() || !r.keys.is_empty();
            let chosen = [r.detector.is_some(), keyed_pattern, r.endpoint.is_some(), r.decoder.is_some()];
            if chosen.iter().filter(|c| **c).count() != 1 {
                return Err(at(
                    id_at,
                    format!("rule {id}: give exactly one of `detector`, `pattern`, `endpoint`, `decoder`"),
                ));
            }
            let mut kind = r.kind.clone();
            let matcher = if let Some(d) = r.detector {
                let span = d.span().start;
                let name = d.into_inner();
                if name == "profile" {
                    Matcher::Profile
                } else {
                    let det = Detector::by_name(&name).ok_or_else(|| {
                        let known: Vec<&str> = Detector::ALL.iter().map(|(n, _)| *n).collect();
                        at(span, format!("unknown detector {name:?}; known: profile, {}", known.join(", ")))
                    })?;
                    kind.get_or_insert_with(|| det.kind().to_string());
                    Matcher::Detector(det)
                }
            } else if keyed_pattern {
                let re = match &r.pattern {
                    Some(p) => {
                        Some(Regex::new(p.get_ref()).map_err(|e| at(p.span().start, format!("bad pattern: {e}")))?)
                    }
                    None => None,
                };
                if kind.is_none() {
                    return Err(at(id_at, format!("rule {id}: a `pattern` or `keys` rule needs a `kind`")));
                }
                let keys = r.keys.iter().map(|k| super::keys::normalize(k)).filter(|k| !k.is_empty()).collect();
                Matcher::Pattern { re, keys }
            } else if let Some(e) = r.endpoint {
                let e = e.into_inner();
                let mut params = Vec::new();
                for (name, pat) in e.params {
                    let span = pat.span().start;
                    let re = Regex::new(pat.get_ref())
                        .map_err(|err| at(span, format!("bad pattern for parameter {name:?}: {err}")))?;
                    params.push((name, re));
                }
                kind.get_or_insert_with(|| "endpoint".to_string());
                Matcher::Endpoint(Endpoint {
                    hosts: e.hosts,
                    ports: e.ports,
                    paths: e.paths,
                    params,
                    evidence: e.evidence,
                    carries: e.carries,
                    payload: e.payload,
                })
            } else if let Some(d) = r.decoder {
                let d = d.into_inner();
                let mut steps = Vec::new();
                for st in &d.steps {
                    steps.push(Step::by_name(st.get_ref()).ok_or_else(|| {
                        let known: Vec<&str> = Step::NAMES.iter().map(|(n, _)| *n).collect();
                        at(
                            st.span().start,
                            format!("unknown decoding step {:?}; known: {}", st.get_ref(), known.join(", ")),
                        )
                    })?);
                }
                if steps.is_empty() {
                    return Err(at(id_at, format!("rule {id}: a decoder needs at least one step")));
                }
                kind.get_or_insert_with(|| "sdk_upload".to_string());
                Matcher::Decoder(Decoder { field: d.field, steps, hosts: d.hosts, paths: d.paths })
            } else {
                unreachable!("exactly one matcher checked above")
            };
            let mut locations = Vec::new();
            for l in r.scope.locations {
                let span = l.span().start;
                locations.push(Location::parse(l.get_ref()).ok_or_else(|| {
                    at(
                        span,
                        format!(
                            "unknown location {:?}; known: query, path, body, header, cookie, stream, sms, address",
                            l.get_ref()
                        ),
                    )
                })?);
            }
            let mut destinations = Vec::new();
            for d in r.scope.destinations {
                let span = d.span().start;
                let known = DESTINATIONS.iter().find(|k| **k == d.get_ref().as_str()).ok_or_else(|| {
                    at(span, format!("unknown destination {:?}; known: {}", d.get_ref(), DESTINATIONS.join(", ")))
                })?;
                destinations.push(*known);
            }
            let mut examples = Vec::new();
            let ex = r.examples.unwrap_or_default();
            for (list, should_match) in [(ex.matches, true), (ex.no_match, false)] {
                for e in list {
                    let (line, col) = line_col(text, e.span().start);
                    examples.push(Example { text: e.into_inner(), should_match, line, col });
                }
            }
            self.rules.push(Rule {
                id,
                title: r.title.into(),
                severity: r.severity,
                kind: kind.unwrap_or_else(|| "profile".to_string()),
                description: r.description,
                references: r.references,
                source: path.to_string(),
                matcher,
                scope: Scope {
                    locations,
                    methods: r.scope.methods,
                    hosts: r.scope.hosts,
                    ports: r.scope.ports,
                    apps: r.scope.apps,
                    destinations,
                },
                examples,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load() {
        let set = RuleSet::builtin().expect("built-in rules are valid");
        assert!(set.rules.iter().any(|r| r.id == "TA-IMEI"));
        assert!(set.rules.iter().any(|r| matches!(r.matcher, Matcher::Endpoint(_))));
    }

    #[test]
    fn errors_point_at_the_line() {
        let mut set = RuleSet::default();
        let text = "[[rule]]\nid = \"X-1\"\ntitle = \"t\"\nseverity = \"high\"\ndetector = \"imeii\"\n";
        let e = set.add("r.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("r.toml:5:12: unknown detector \"imeii\""), "{e}");
        let text = "[[rule]]\nid = \"X-2\"\ntitle = \"t\"\nseverity = \"high\"\ndetector = \"imei\"\ncolour = 1\n";
        let e = set.add("r.toml", text).unwrap_err().to_string();
        assert!(e.starts_with("r.toml:6:1: unknown field `colour`"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob("*.tinno.com", "eservice.TINNO.com"));
        assert!(glob("/eservice/*", "/eservice/stsReport"));
        assert!(!glob("eservice.tinno.com", "eservice.tinno.com.evil"));
        assert!(glob("bigdata.*.com", "bigdata.adups.com"));
    }

    /// The copy-free glob agrees with the plain one (lower-case both,
    /// split at `*`) on every pattern and text over a small alphabet.
    #[test]
    fn glob_agrees_with_the_plain_definition() {
        fn plain(pattern: &str, text: &str) -> bool {
            let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
            let parts: Vec<&str> = p.split('*').collect();
            if parts.len() == 1 {
                return p == t;
            }
            let Some(mut rest) = t.strip_prefix(parts[0]) else { return false };
            for (i, part) in parts.iter().enumerate().skip(1) {
                if i == parts.len() - 1 {
                    return rest.ends_with(part);
                }
                match rest.find(part) {
                    Some(at) => rest = &rest[at + part.len()..],
                    None => return false,
                }
            }
            true
        }
        let words = |n: u32, alphabet: &[u8]| -> Vec<String> {
            let mut out = vec![String::new()];
            for len in 1..=n {
                let total = alphabet.len().pow(len);
                for mut k in 0..total {
                    let mut w = String::new();
                    for _ in 0..len {
                        w.push(alphabet[k % alphabet.len()] as char);
                        k /= alphabet.len();
                    }
                    out.push(w);
                }
            }
            out
        };
        let patterns = words(4, b"aB*");
        let texts = words(4, b"ab");
        for p in &patterns {
            for t in &texts {
                assert_eq!(glob(p, t), plain(p, t), "glob({p:?}, {t:?})");
            }
        }
    }
}
