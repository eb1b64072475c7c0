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
use toml::de::{DeTable, DeValue, ValueDeserializer};

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
    /// SHA-256 of each rule text added, in order ([`RuleSet::digest`]).
    pub texts: Vec<[u8; 32]>,
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

    /// Adds a rule file, or every `.toml` file under a folder (sorted);
    /// stops at the first error (see [`RuleSet::load_path`] for all).
    pub fn add_path(&mut self, path: &Path) -> Result<(), RuleError> {
        self.load_path(path).errors.into_iter().next().map_or(Ok(()), Err)
    }

    /// Adds a rule file, or every `.toml` file under a folder (sorted),
    /// and says what it found: every error of every file, and the files
    /// that are not rule files but belong in a rules folder (the key
    /// dictionary, the vendor OUI list), which are recognised and not
    /// loaded. A file named here that is neither is read as a rule file.
    /// What the rules were made from: SHA-256 (hex) of the SHA-256 of
    /// each rule text, in the order they were added. Two runs with the
    /// same digest loaded the same texts in the same order, wherever the
    /// files were (shard files carry it; `merge` checks it).
    pub fn digest(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for t in &self.texts {
            h.update(t);
        }
        hex::encode(h.finalize())
    }

    pub fn load_path(&mut self, path: &Path) -> Loaded {
        let mut loaded = Loaded::default();
        let files = if path.is_dir() {
            let mut files: Vec<_> = walkdir::WalkDir::new(path)
                .sort_by_file_name()
                .into_iter()
                .filter_map(Result::ok)
                .filter(|e| e.file_type().is_file())
                .map(|e| e.into_path())
                .filter(|p| p.extension().is_some_and(|x| x == "toml" || x == "txt"))
                .collect();
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        let given = !path.is_dir();
        for f in files {
            let shown = f.display().to_string();
            let text = match std::fs::read_to_string(&f) {
                Ok(t) => t,
                Err(e) => {
                    loaded.errors.push(RuleError::File { path: shown, message: e.to_string() });
                    continue;
                }
            };
            let is_toml = f.extension().is_some_and(|x| x == "toml");
            if !is_toml && is_oui_list(&text) {
                loaded.recognised.push((shown, Recognised::OuiList));
            } else if !is_toml && !given {
                // Other text in a folder (notes): not ours to judge.
            } else if is_key_dictionary(&text) {
                match super::keys::check_dictionary(&text) {
                    Ok(()) => loaded.recognised.push((shown, Recognised::KeyDictionary)),
                    Err(message) => loaded.errors.push(RuleError::File { path: shown, message }),
                }
            } else {
                let before = self.rules.len();
                loaded.errors.extend(self.add_all(&shown, &text));
                loaded.rules += self.rules.len() - before;
            }
        }
        loaded
    }

    /// Parses, validates and adds the rules of one file; stops at the
    /// first error (see [`RuleSet::add_all`] for all).
    pub fn add(&mut self, path: &str, text: &str) -> Result<(), RuleError> {
        self.add_all(path, text).into_iter().next().map_or(Ok(()), Err)
    }

    /// Parses, validates and adds the rules of one file; returns every
    /// error: all syntax errors, else each bad rule's (the good rules of
    /// the file are added).
    pub fn add_all(&mut self, path: &str, text: &str) -> Vec<RuleError> {
        {
            use sha2::Digest;
            self.texts.push(sha2::Sha256::digest(text.as_bytes()).into());
        }
        let at = |offset: usize, message: String| {
            let (line, col) = line_col(text, offset);
            RuleError::At { path: path.to_string(), line, col, message }
        };
        let toml_error = |e: toml::de::Error| match e.span() {
            Some(span) => at(span.start, e.message().to_string()),
            None => RuleError::File { path: path.to_string(), message: e.message().to_string() },
        };
        let (doc, syntax) = DeTable::parse_recoverable(text);
        if !syntax.is_empty() {
            return syntax.into_iter().map(toml_error).collect();
        }
        let mut errors = Vec::new();
        let mut items = Vec::new();
        for (key, value) in doc.into_inner() {
            if key.get_ref() != "rule" {
                errors.push(at(key.span().start, format!("unknown field `{}`, expected `rule`", key.get_ref())));
                continue;
            }
            let span = value.span().start;
            match value.into_inner() {
                DeValue::Array(a) => items.extend(a),
                _ => errors.push(at(span, "`rule` must be an array of tables: write `[[rule]]`".to_string())),
            }
        }
        let mut ids: HashSet<String> = self.rules.iter().map(|r| r.id.clone()).collect();
        for item in items {
            match RuleDef::deserialize(ValueDeserializer::from(item)) {
                Ok(r) => match compile(r, path, text, &mut ids) {
                    Ok(rule) => self.rules.push(rule),
                    Err(e) => errors.extend(e),
                },
                Err(e) => errors.push(toml_error(e)),
            }
        }
        // In file order (the document's keys come sorted by name).
        errors.sort_by_key(|e| match e {
            RuleError::At { line, col, .. } => (*line, *col),
            RuleError::File { .. } => (0, 0),
        });
        errors
    }
}

/// What [`RuleSet::load_path`] found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Rules added.
    pub rules: usize,
    /// Files of a rules folder that are not rule files: checked, not loaded.
    pub recognised: Vec<(String, Recognised)>,
    pub errors: Vec<RuleError>,
}

/// A file of the rules folder that holds no rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recognised {
    /// `keys.toml`: the key names each detector trusts (compiled in).
    KeyDictionary,
    /// `oui.txt`: vendor MAC prefixes (compiled in).
    OuiList,
}

impl Recognised {
    pub fn as_str(self) -> &'static str {
        match self {
            Recognised::KeyDictionary => "key dictionary",
            Recognised::OuiList => "vendor OUI list",
        }
    }
}

/// A key dictionary has lists and an `[around]` table, and no rules.
fn is_key_dictionary(text: &str) -> bool {
    DeTable::parse(text).is_ok_and(|d| {
        let d = d.get_ref();
        !d.contains_key("rule") && d.get("around").is_some_and(|v| v.get_ref().is_table())
    })
}

/// An OUI list: comment lines and lines that start with six hex digits
/// (`A45E60 Apple`), at least one of them.
fn is_oui_list(text: &str) -> bool {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).peekable();
    lines.peek().is_some() && lines.all(|l| l.len() >= 6 && l.as_bytes()[..6].iter().all(u8::is_ascii_hexdigit))
}

/// Is `path` a folder laid out as the built-in `rules/` (it holds the key
/// dictionary beside the built-in rule files)? The names of the built-in
/// files it holds, which `rules check` takes from it instead of the
/// compiled-in copies.
pub fn builtin_files_in(path: &Path) -> Vec<&'static str> {
    if !path.join("keys.toml").is_file() {
        return Vec::new();
    }
    BUILTIN
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| name.rsplit('/').next().is_some_and(|f| path.join(f).is_file()))
        .collect()
}

/// Validates one rule and compiles it; `ids` holds the ids taken so far
/// (the rule's is added). Every problem of the rule is returned.
fn compile(r: RuleDef, path: &str, text: &str, ids: &mut HashSet<String>) -> Result<Rule, Vec<RuleError>> {
    let at = |offset: usize, message: String| {
        let (line, col) = line_col(text, offset);
        RuleError::At { path: path.to_string(), line, col, message }
    };
    let mut errors = Vec::new();
    // The first problem of one part of a rule; the other parts are still
    // checked.
    macro_rules! check {
        ($e:expr) => {
            match $e {
                Ok(v) => Some(v),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        };
    }
    let id_at = r.id.span().start;
    let id = r.id.into_inner();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        errors.push(at(id_at, format!("rule id {id:?} must be letters, digits, '-' or '_'")));
    } else if !ids.insert(id.clone()) {
        errors.push(at(id_at, format!("duplicate rule id {id:?}")));
    }
    let keyed_pattern = r.pattern.is_some() || !r.keys.is_empty();
    let chosen = [r.detector.is_some(), keyed_pattern, r.endpoint.is_some(), r.decoder.is_some()];
    if chosen.iter().filter(|c| **c).count() != 1 {
        errors.push(at(id_at, format!("rule {id}: give exactly one of `detector`, `pattern`, `endpoint`, `decoder`")));
        return Err(errors);
    }
    let mut kind = r.kind.clone();
    let matcher = if let Some(d) = r.detector {
        let span = d.span().start;
        let name = d.into_inner();
        if name == "profile" {
            Some(Matcher::Profile)
        } else {
            check!(Detector::by_name(&name).ok_or_else(|| {
                let known: Vec<&str> = Detector::ALL.iter().map(|(n, _)| *n).collect();
                at(span, format!("unknown detector {name:?}; known: profile, {}", known.join(", ")))
            }))
            .map(|det| {
                kind.get_or_insert_with(|| det.kind().to_string());
                Matcher::Detector(det)
            })
        }
    } else if keyed_pattern {
        let re = match &r.pattern {
            Some(p) => check!(Regex::new(p.get_ref()).map_err(|e| at(p.span().start, format!("bad pattern: {e}")))),
            None => None,
        };
        if kind.is_none() {
            errors.push(at(id_at, format!("rule {id}: a `pattern` or `keys` rule needs a `kind`")));
        }
        let keys = r.keys.iter().map(|k| super::keys::normalize(k)).filter(|k| !k.is_empty()).collect();
        (r.pattern.is_none() || re.is_some()).then_some(Matcher::Pattern { re, keys })
    } else if let Some(e) = r.endpoint {
        let e = e.into_inner();
        let mut params = Vec::new();
        for (name, pat) in e.params {
            let span = pat.span().start;
            let re = check!(
                Regex::new(pat.get_ref()).map_err(|err| at(span, format!("bad pattern for parameter {name:?}: {err}")))
            );
            params.extend(re.map(|re| (name, re)));
        }
        kind.get_or_insert_with(|| "endpoint".to_string());
        Some(Matcher::Endpoint(Endpoint {
            hosts: e.hosts,
            ports: e.ports,
            paths: e.paths,
            params,
            evidence: e.evidence,
            carries: e.carries,
            payload: e.payload,
        }))
    } else if let Some(d) = r.decoder {
        let d = d.into_inner();
        let mut steps = Vec::new();
        for st in &d.steps {
            steps.extend(check!(Step::by_name(st.get_ref()).ok_or_else(|| {
                let known: Vec<&str> = Step::NAMES.iter().map(|(n, _)| *n).collect();
                at(st.span().start, format!("unknown decoding step {:?}; known: {}", st.get_ref(), known.join(", ")))
            })));
        }
        if d.steps.is_empty() {
            errors.push(at(id_at, format!("rule {id}: a decoder needs at least one step")));
        }
        kind.get_or_insert_with(|| "sdk_upload".to_string());
        Some(Matcher::Decoder(Decoder { field: d.field, steps, hosts: d.hosts, paths: d.paths }))
    } else {
        unreachable!("exactly one matcher checked above")
    };
    let mut locations = Vec::new();
    for l in r.scope.locations {
        let span = l.span().start;
        locations.extend(check!(Location::parse(l.get_ref()).ok_or_else(|| {
            at(
                span,
                format!(
                    "unknown location {:?}; known: query, path, body, header, cookie, stream, sms, address",
                    l.get_ref()
                ),
            )
        })));
    }
    let mut destinations = Vec::new();
    for d in r.scope.destinations {
        let span = d.span().start;
        destinations.extend(check!(DESTINATIONS.iter().find(|k| **k == d.get_ref().as_str()).copied().ok_or_else(
            || at(span, format!("unknown destination {:?}; known: {}", d.get_ref(), DESTINATIONS.join(", ")))
        )));
    }
    let mut examples = Vec::new();
    let ex = r.examples.unwrap_or_default();
    for (list, should_match) in [(ex.matches, true), (ex.no_match, false)] {
        for e in list {
            let (line, col) = line_col(text, e.span().start);
            examples.push(Example { text: e.into_inner(), should_match, line, col });
        }
    }
    match matcher {
        Some(matcher) if errors.is_empty() => Ok(Rule {
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
        }),
        _ => Err(errors),
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
    fn every_error_of_a_file() {
        let mut set = RuleSet::default();
        let text = concat!(
            "[[rule]]\nid = \"A\"\ntitle = \"t\"\nseverity = \"high\"\ndetector = \"imeii\"\n",
            "[[rule]]\nid = \"B\"\ntitle = \"t\"\nseverity = \"high\"\ndetector = \"imei\"\ncolour = 1\n",
            "[[rule]]\nid = \"C\"\ntitle = \"t\"\nseverity = \"high\"\nkind = \"k\"\npattern = \"(\"\n",
            "[rule.scope]\nlocations = [\"nowhere\"]\n",
            "[[rule]]\nid = \"D\"\ntitle = \"t\"\nseverity = \"high\"\ndetector = \"imei\"\n",
        );
        let e: Vec<String> = set.add_all("r.toml", text).iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 4, "{e:#?}");
        assert!(e[0].starts_with("r.toml:5:12: unknown detector \"imeii\""), "{e:#?}");
        assert!(e[1].starts_with("r.toml:11:1: unknown field `colour`"), "{e:#?}");
        assert!(e[2].starts_with("r.toml:17:11: bad pattern"), "{e:#?}");
        assert!(e[3].starts_with("r.toml:19:14: unknown location \"nowhere\""), "{e:#?}");
        // The good rule is kept; a bad one is not.
        assert_eq!(set.rules.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["D"]);
        // Syntax errors: all of them, and nothing else.
        let e = RuleSet::default().add_all("s.toml", "[[rule]\nid = 1\n[x\n");
        assert!(!e.is_empty() && e.iter().all(|e| matches!(e, RuleError::At { .. })), "{e:?}");
        let e = RuleSet::default().add_all("t.toml", "rules = 1\nrule = 2\n");
        let e: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(
            e,
            [
                "t.toml:1:1: unknown field `rules`, expected `rule`",
                "t.toml:2:8: `rule` must be an array of tables: write `[[rule]]`"
            ]
        );
    }

    #[test]
    fn the_builtin_folder_is_recognised() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let mut set = RuleSet::default();
        let loaded = set.load_path(&dir);
        assert!(loaded.errors.is_empty(), "{:?}", loaded.errors);
        let kinds: Vec<Recognised> = loaded.recognised.iter().map(|(_, k)| *k).collect();
        assert_eq!(kinds, [Recognised::KeyDictionary, Recognised::OuiList]);
        assert_eq!(loaded.rules, RuleSet::builtin().unwrap().rules.len());
        assert_eq!(builtin_files_in(&dir).len(), BUILTIN.len());
        assert!(builtin_files_in(&dir.join("keys.toml")).is_empty());
        assert!(!is_key_dictionary(include_str!("../../rules/identifiers.toml")));
        assert!(!is_oui_list("not an oui\n"));
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
