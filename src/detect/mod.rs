//! detect: from a request's fields to raw findings, with built-in
//! detectors, rules and a device profile.
//!
//! Input: [`Field`]s and a little request context ([`RequestCtx`]); never
//! packets. Output: [`RawFinding`]s, deduplicated per request: the same
//! value under the same rule at the same place is one finding (a profile
//! match then only adds `matched`). The [`Engine`] is compiled once and
//! shared by every worker (`Send + Sync`).

pub mod keys;
pub mod profile;
pub mod rules;
pub mod validators;

use crate::extract::Field;
use crate::finding::{Confidence, Location, Severity};
use profile::{CompiledProfile, Profile, ProfileHit};
use rules::{Matcher, RuleSet};
use validators::cell::Part;
use validators::{Detector, Features, Hit};

/// What detection needs to know of the request besides its fields.
#[derive(Clone, Copy, Debug)]
pub struct RequestCtx<'a> {
    pub method: &'a str,
    pub host: Option<&'a str>,
    /// The path, percent-decoded, without the query.
    pub path: &'a str,
    pub dst_port: u16,
    /// The app that sent it, when the capture says (rules may be scoped
    /// to apps).
    pub app: Option<&'a crate::finding::AppRef>,
    /// The destination address, when known (rules may be scoped to where
    /// it is: `internet`, `lan`, `multicast`, `broadcast`).
    pub dst: Option<std::net::IpAddr>,
}

/// What detection set aside in a request rather than report, for the
/// capture's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Distinct e-mail addresses of a role (`support@`, `noreply@`) or of
    /// the destination's own domain (see [`validators::email::set_aside`]).
    pub emails_set_aside: u64,
    /// Distinct IMEIs of emulators and test tools dropped (unless
    /// `include_test_devices`).
    pub test_device_imeis: u64,
}

/// A finding before the request context is attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawFinding {
    /// Index into the engine's rules.
    pub rule: usize,
    pub kind: std::borrow::Cow<'static, str>,
    pub title: std::sync::Arc<str>,
    pub value: String,
    pub matched: Option<String>,
    pub confidence: Confidence,
    pub encoding: Vec<std::borrow::Cow<'static, str>>,
    pub location: Location,
    pub field: Option<String>,
}

/// Rules and profile, compiled.
pub struct Engine {
    pub rules: RuleSet,
    profile: Option<CompiledProfile>,
    /// A pattern rule without keys: it could match any field.
    has_patterns: bool,
    /// Report the IMEIs of emulators and test tools too.
    pub include_test_devices: bool,
    /// [`Profile::digest`] of the profile searched for, if any.
    pub profile_digest: Option<String>,
    /// The keys keyed pattern rules look at, as [`keys::Key::compact_bytes`].
    pattern_keys: std::collections::HashSet<Vec<u8>, std::hash::BuildHasherDefault<crate::util::FnvHasher>>,
}

impl Engine {
    pub fn new(rules: RuleSet, profile: Option<&Profile>) -> Engine {
        let has_patterns =
            rules.rules.iter().any(|r| matches!(&r.matcher, Matcher::Pattern { keys, .. } if keys.is_empty()));
        let pattern_keys = rules
            .rules
            .iter()
            .filter_map(|r| match &r.matcher {
                Matcher::Pattern { keys, .. } => Some(keys.iter().map(|k| k.as_bytes().to_vec())),
                _ => None,
            })
            .flatten()
            .collect();
        Engine {
            rules,
            profile: profile.map(CompiledProfile::compile),
            has_patterns,
            pattern_keys,
            include_test_devices: false,
            profile_digest: profile.map(Profile::digest),
        }
    }

    /// Could any rule or the profile find something in this field? A cheap
    /// over-approximation used to skip copying dull fields: a key some
    /// detector trusts, a value whose shape a detector looks for, a
    /// profile form, or any pattern rule (which could match anything).
    pub fn might_match(&self, name: &str, value: &str) -> bool {
        if self.has_patterns {
            return true;
        }
        let key = keys::Key::cached(name);
        if key.detectors() != 0 || key.hashed().0 != 0 || self.pattern_keys.contains(key.compact_bytes()) {
            return true;
        }
        if Detector::any_without_key(value) {
            return true;
        }
        self.profile.as_ref().is_some_and(|p| p.is_match(value))
    }

    pub fn severity(&self, rule: usize) -> Severity {
        self.rules.rules[rule].severity
    }

    /// The rule that reports a kind: the detector rule of that kind, else
    /// the profile rule.
    fn rule_for_kind(&self, kind: &str) -> Option<usize> {
        let r = &self.rules.rules;
        r.iter()
            .position(|x| matches!(x.matcher, Matcher::Detector(d) if d.kind() == kind))
            .or_else(|| r.iter().position(|x| matches!(x.matcher, Matcher::Profile)))
    }

    /// Runs every rule over the fields of one request.
    pub fn detect(&self, ctx: &RequestCtx<'_>, fields: &[Field]) -> Vec<RawFinding> {
        self.detect_counting(ctx, fields, &mut Tally::default())
    }

    /// [`Engine::detect`], adding to `tally` what was set aside.
    pub fn detect_counting(&self, ctx: &RequestCtx<'_>, fields: &[Field], tally: &mut Tally) -> Vec<RawFinding> {
        let mut out: Vec<RawFinding> = Vec::new();
        // Addresses set aside, lower case (rare: allocated only then).
        let mut set_aside: Vec<String> = Vec::new();
        let mut test_imeis: Vec<String> = Vec::new();
        // Declared SDK envelopes first: what they decode to is scanned by
        // every rule, with the other fields.
        let mut decoded: Vec<Field> = Vec::new();
        for (ri, rule) in self.rules.rules.iter().enumerate() {
            let Matcher::Decoder(d) = &rule.matcher else { continue };
            if !rule.scope.request(ctx) || !d.applies(ctx.host, ctx.path) {
                continue;
            }
            for f in fields.iter().filter(|f| {
                matches!(f.location, Location::Query | Location::Body) && f.name.as_deref() == Some(d.field.as_str())
            }) {
                if let Some(children) = crate::extract::apply_steps(f, &d.steps) {
                    push(&mut out, raw(ri, rule.title.clone(), Hit::certain("", f.value.clone()), f, true));
                    if let Some(last) = out.last_mut() {
                        last.kind = rule.kind.clone().into();
                    }
                    decoded.extend(children);
                }
            }
        }
        let all: std::borrow::Cow<'_, [Field]> = if decoded.is_empty() {
            std::borrow::Cow::Borrowed(fields)
        } else {
            std::borrow::Cow::Owned(fields.iter().cloned().chain(decoded).collect())
        };
        let fields: &[Field] = &all;
        // Per field, once: its key (judged), the detectors that trust that
        // key, and what its value holds.
        // And the detectors that may find anything in it: those its key
        // names (plain or as a digest), and those its value's features
        // allow under any key.
        let views: Vec<(keys::Key, u32, u32, u32)> = fields
            .iter()
            .map(|f| {
                let key = f.name.as_deref().map(keys::Key::cached).unwrap_or_default();
                let unkeyed = Detector::without_key_bits(&Features::of(&f.value));
                (key, key.detectors(), unkeyed, key.detectors() | key.hashed().0 | unkeyed)
            })
            .collect();
        let mut hits: Vec<Hit> = Vec::new();
        // The detectors some field may hold anything for: a rule of
        // another detector has nothing to look at (its scope is not
        // even judged).
        let wanted = views.iter().fold(0, |a, v| a | v.3);
        for (ri, rule) in self.rules.rules.iter().enumerate() {
            if let Matcher::Detector(d) = &rule.matcher
                && wanted & d.bit() == 0
            {
                continue;
            }
            if !rule.scope.request(ctx) {
                continue;
            }
            match &rule.matcher {
                Matcher::Detector(d) if d.per_request() => {
                    let parts: Vec<Part<'_>> = fields
                        .iter()
                        .zip(&views)
                        .enumerate()
                        .filter(|(_, (f, v))| v.1 & d.bit() != 0 && rule.scope.location(f.location))
                        .map(|(i, (f, v))| Part { group: group_of(f), key: v.0.as_str(), value: &f.value, index: i })
                        .collect();
                    if parts.is_empty() {
                        continue;
                    }
                    let found = match d {
                        Detector::CellLocation => validators::cell::detect(&parts),
                        _ => validators::geo::detect(&parts),
                    };
                    for (hit, i) in found {
                        // Per-request detectors judge by keys only.
                        push(&mut out, raw(ri, rule.title.clone(), hit, &fields[i], true));
                    }
                }
                Matcher::Detector(d) => {
                    for (f, (key, bits, unkeyed, want)) in fields.iter().zip(&views) {
                        if want & d.bit() == 0 || !rule.scope.location(f.location) {
                            continue;
                        }
                        // `imei_md5`: the key names the identifier, the
                        // value must be that digest (else the value is
                        // judged by its shape alone, as under any key).
                        let (hashed, algo) = key.hashed();
                        if hashed & d.bit() != 0
                            && let Some(g) = validators::digest::detect(algo, &f.value)
                        {
                            let mut r = raw(ri, rule.title.clone(), Hit::certain(d.kind(), g.value), f, true);
                            r.encoding.extend(g.base64.then_some("base64".into()));
                            r.encoding.push(g.algo.to_string().into());
                            push(&mut out, r);
                            continue;
                        }
                        if (bits | unkeyed) & d.bit() == 0 {
                            continue;
                        }
                        hits.clear();
                        d.field(key.as_str(), &f.value, &mut hits);
                        if !self.include_test_devices {
                            hits.retain(|h| {
                                let test = h.kind == "imei" && validators::imei::is_test_imei(&h.value);
                                if test && !test_imeis.contains(&h.value) {
                                    test_imeis.push(h.value.clone());
                                }
                                !test
                            });
                        }
                        if *d == Detector::Email {
                            hits.retain(|h| {
                                let keep = !validators::email::set_aside(&h.value, ctx.host);
                                if !keep && !set_aside.iter().any(|a| a.eq_ignore_ascii_case(&h.value)) {
                                    set_aside.push(h.value.to_ascii_lowercase());
                                }
                                keep
                            });
                        }
                        let keyed = bits & d.bit() != 0;
                        for h in hits.drain(..) {
                            push(&mut out, raw(ri, rule.title.clone(), h, f, keyed));
                        }
                    }
                }
                Matcher::Pattern { re, keys } => {
                    for (f, (key, ..)) in fields.iter().zip(&views) {
                        let keyed = !keys.is_empty();
                        if !rule.scope.location(f.location)
                            || (keyed && !keys.iter().any(|k| k.as_bytes() == key.compact_bytes()))
                        {
                            continue;
                        }
                        let found: Vec<&str> = match re {
                            Some(re) => re.find_iter(&f.value).map(|m| m.as_str()).collect(),
                            None => vec![f.value.trim()].into_iter().filter(|v| !v.is_empty()).collect(),
                        };
                        for v in found {
                            let mut r = raw(ri, rule.title.clone(), Hit::new("", v), f, keyed);
                            r.kind = rule.kind.clone().into();
                            push(&mut out, r);
                        }
                    }
                }
                Matcher::Endpoint(ep) => {
                    if !ep.host_path(ctx.host, ctx.dst_port, ctx.path) {
                        continue;
                    }
                    let top = |name: &str| {
                        fields.iter().find(|f| {
                            matches!(f.location, Location::Query | Location::Body) && f.name.as_deref() == Some(name)
                        })
                    };
                    let all = ep.params.iter().all(|(name, re)| top(name).is_some_and(|f| re.is_match(&f.value)));
                    if !all {
                        continue;
                    }
                    let evidence = ep.evidence.as_deref().and_then(top);
                    let title = if ep.carries.is_empty() {
                        rule.title.clone()
                    } else {
                        format!("{}; payload known to carry: {}", rule.title, ep.carries.join(", ")).into()
                    };
                    push(
                        &mut out,
                        RawFinding {
                            rule: ri,
                            kind: rule.kind.clone().into(),
                            title,
                            value: evidence.map_or_else(|| ctx.path.to_string(), |f| f.value.to_string()),
                            matched: None,
                            confidence: Confidence::High,
                            encoding: evidence.map(|f| f.encoding.to_vec()).unwrap_or_default(),
                            location: evidence.map_or(Location::Path, |f| f.location),
                            field: evidence.and_then(|f| f.name.as_deref().map(str::to_string)),
                        },
                    );
                }
                Matcher::Profile | Matcher::Decoder(_) => {}
            }
        }
        if let Some(p) = &self.profile {
            let mut ph: Vec<ProfileHit> = Vec::new();
            for f in fields {
                ph.clear();
                p.find(&f.value, &mut ph);
                for h in ph.drain(..) {
                    let Some((ri, rule)) = self.profile_rule(&h.kind, f.location) else {
                        continue;
                    };
                    let mut encoding = f.encoding.to_vec();
                    encoding.extend(h.encoding.map(std::borrow::Cow::Borrowed));
                    // A digest found by its key's name under another kind
                    // (`device_id_md5` read as an IMEI's) is the profile
                    // value's kind: one finding, the profile's.
                    if let Some(o) = out.iter_mut().find(|o| {
                        o.kind != h.kind
                            && o.location == f.location
                            && o.field.as_deref() == f.name.as_deref()
                            && o.value.eq_ignore_ascii_case(&h.found)
                            && h.encoding.is_some_and(|e| o.encoding.last().is_some_and(|l| l == e))
                    }) {
                        o.kind = h.kind.clone().into();
                        o.rule = ri;
                        o.title = rule.title.clone();
                    }
                    push(
                        &mut out,
                        profile_finding(ri, rule, h, encoding, f.location, f.name.as_deref().map(str::to_string)),
                    );
                }
            }
        }
        tally.emails_set_aside += set_aside.len() as u64;
        tally.test_device_imeis += test_imeis.len() as u64;
        out
    }

    /// Is a device profile loaded (binary payloads are then kept for
    /// [`Engine::detect_bytes`])?
    pub fn has_profile(&self) -> bool {
        self.profile.is_some()
    }

    /// The device profile's byte forms in a binary payload (a body or a
    /// stream that is not text): the raw text of each value, a MAC's 6
    /// bytes and its EUI-64, IMEI and IMSI in BCD. A text form is shown as
    /// its text, a binary one as the hex of the bytes found.
    pub fn detect_bytes(&self, location: Location, data: &[u8]) -> Vec<RawFinding> {
        let mut out = Vec::new();
        let Some(p) = &self.profile else { return out };
        let mut ph: Vec<ProfileHit> = Vec::new();
        p.find_bytes(data, &mut ph);
        for h in ph {
            let Some((ri, rule)) = self.profile_rule(&h.kind, location) else { continue };
            // A value's own text found among the bytes is `binary`.
            let encoding = vec![std::borrow::Cow::Borrowed(h.encoding.unwrap_or("binary"))];
            push(&mut out, profile_finding(ri, rule, h, encoding, location, None));
        }
        out
    }

    /// The rule that reports a profile match of `kind` at `location`.
    fn profile_rule(&self, kind: &str, location: Location) -> Option<(usize, &rules::Rule)> {
        let ri = self.rule_for_kind(kind)?;
        let rule = &self.rules.rules[ri];
        rule.scope.location(location).then_some((ri, rule))
    }
}

/// The finding of a profile match: high confidence, naming the profile
/// value it stands for.
fn profile_finding(
    ri: usize,
    rule: &rules::Rule,
    h: ProfileHit,
    encoding: Vec<std::borrow::Cow<'static, str>>,
    location: Location,
    field: Option<String>,
) -> RawFinding {
    RawFinding {
        rule: ri,
        kind: h.kind.into(),
        title: rule.title.clone(),
        value: h.found,
        matched: Some(h.original),
        confidence: Confidence::High,
        encoding,
        location,
        field,
    }
}

/// Runs every rule's examples alone (one rule, no profile): a `match`
/// example must give a finding of that rule, a `no_match` one none.
/// Returns one message per example that does not behave, with the file,
/// line and column of the example.
pub fn check_examples(set: &RuleSet) -> Vec<String> {
    let mut problems = Vec::new();
    for rule in &set.rules {
        let engine = Engine::new(RuleSet { rules: vec![rule.clone()], ..RuleSet::default() }, None);
        for ex in &rule.examples {
            let req = example_request(&ex.text);
            let fields = crate::extract::request_fields(&req);
            let path = crate::codec::text::url_decode(req.head.target.split(|b| *b == b'?').next().unwrap_or(b"")).0;
            let host = req.host();
            let ctx = RequestCtx {
                dst: None,
                method: "GET",
                host: host.as_deref(),
                path: &path,
                dst_port: req.dst.port(),
                app: None,
            };
            let found = !engine.detect(&ctx, &fields.fields).is_empty();
            if found != ex.should_match {
                problems.push(format!(
                    "{}:{}:{}: rule {}: example {:?} {}",
                    rule.source,
                    ex.line,
                    ex.col,
                    rule.id,
                    ex.text,
                    if ex.should_match { "should match but does not" } else { "should not match but does" }
                ));
            }
        }
    }
    problems
}

/// The request an example stands for.
fn example_request(text: &str) -> crate::http::HttpRequest {
    let (host, port, target) = match text.strip_prefix("http://").or_else(|| text.strip_prefix("https://")) {
        Some(rest) => {
            let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) => (h, p.parse().unwrap_or(80)),
                None => (authority, 80),
            };
            (Some(host.to_string()), port, if path.is_empty() { "/".to_string() } else { path.to_string() })
        }
        None => (None, 80, format!("/?{text}")),
    };
    let mut headers = crate::http::Headers::default();
    if let Some(h) = host {
        headers.push("Host", h.as_bytes());
    }
    crate::http::HttpRequest {
        app: None,
        head: crate::http::Head {
            method: "GET".into(),
            target: target.into_bytes(),
            version: Some(1),
            headers,
            lenient: false,
        },
        body: Vec::new(),
        decoded: Vec::new(),
        frame: 0,
        ts: Default::default(),
        src: std::net::SocketAddr::from(([10, 0, 0, 1], 40000)),
        dst: std::net::SocketAddr::from(([192, 0, 2, 1], port)),
        notes: Vec::new(),
        tls: None,
        stream_id: None,
    }
}

/// Fields that share a parent: the name without its last component.
fn group_of<'a>(f: &'a Field<'_>) -> &'a str {
    let name = f.name.as_deref().unwrap_or("");
    match name.rfind(['.', ':', '[']) {
        Some(i) if name.starts_with('$') || name.contains(':') => &name[..i],
        _ => "",
    }
}

fn raw(rule: usize, title: std::sync::Arc<str>, h: Hit, f: &Field, keyed: bool) -> RawFinding {
    RawFinding {
        rule,
        kind: h.kind.into(),
        title: match &h.why {
            Some(why) if !keyed => format!("{title} ({why})").into(),
            _ => title,
        },
        confidence: if keyed || h.certain { Confidence::High } else { Confidence::Medium },
        value: h.value,
        matched: None,
        encoding: f.encoding.to_vec(),
        location: f.location,
        field: f.name.as_deref().map(str::to_string),
    }
}

/// Adds a finding unless one of the same kind (or rule) already reports
/// the same value at the same place: the earlier, more specific rule keeps
/// it, and a later profile match only adds what it stands for. A value
/// found both in a field and in what decodes out of it (`meta` and
/// `meta:device@iccid`) is one finding, at the inner field.
///
/// A value found by its shape alone (medium confidence) that a key, a
/// structure or the profile names as another kind in the same field or in
/// one decoded out of it is that other kind only: a US IMSI passes Luhn and
/// has an IMEI's prefix, so `data` = `{"subscriber_id":"310410861336275"}`
/// is an IMSI at `data:$.subscriber_id`, not also an IMEI of `data`.
fn push(out: &mut Vec<RawFinding>, f: RawFinding) {
    let nested = |outer: &Option<String>, inner: &Option<String>| match (outer, inner) {
        (Some(o), Some(i)) => i.len() > o.len() && i.starts_with(o.as_str()) && i.as_bytes()[o.len()] == b':',
        (None, Some(_)) => true,
        _ => false,
    };
    let named_otherwise = |shape: &RawFinding, named: &RawFinding| {
        shape.confidence == Confidence::Medium
            && named.confidence == Confidence::High
            && shape.kind != named.kind
            && shape.location == named.location
            && (shape.field == named.field || nested(&shape.field, &named.field))
            && shape.value.eq_ignore_ascii_case(&named.value)
    };
    if out.iter().any(|o| named_otherwise(&f, o)) {
        return;
    }
    if f.confidence == Confidence::High {
        out.retain(|o| !named_otherwise(o, &f));
    }
    let same = |o: &RawFinding| {
        (o.rule == f.rule || o.kind == f.kind)
            && o.location == f.location
            && (o.field == f.field || nested(&o.field, &f.field) || nested(&f.field, &o.field))
            && o.value.eq_ignore_ascii_case(&f.value)
    };
    if let Some(o) = out.iter_mut().find(|o| same(o)) {
        if nested(&o.field, &f.field) {
            // The new one is the inner field: it says where the value is.
            let matched = o.matched.take().or(f.matched.clone());
            *o = RawFinding { matched, ..f };
        } else if o.matched.is_none() {
            o.matched = f.matched;
            o.confidence = o.confidence.max(f.confidence);
        }
        return;
    }
    out.push(f);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Chain;

    fn field(name: Option<&str>, value: &str) -> Field<'static> {
        Field {
            location: Location::Body,
            name: name.map(|n| n.to_string().into()),
            value: value.to_string().into(),
            encoding: Chain::default(),
        }
    }

    #[test]
    fn confidence_from_key_shape_and_profile() {
        let ctx = RequestCtx { dst: None, method: "POST", host: None, path: "/", dst_port: 80, app: None };
        let engine = Engine::new(RuleSet::builtin().unwrap(), None);
        let keyed = engine.detect(&ctx, &[field(Some("imei"), "356938035643809")]);
        assert_eq!(keyed[0].confidence, Confidence::High);
        let bare = engine.detect(&ctx, &[field(None, "id 356938035643809 x")]);
        assert_eq!(bare[0].confidence, Confidence::Medium);
        let profile = Profile::parse("p", "imei = \"356938035643809\"\n").unwrap();
        let engine = Engine::new(RuleSet::builtin().unwrap(), Some(&profile));
        let matched = engine.detect(&ctx, &[field(None, "id 356938035643809 x")]);
        assert_eq!((matched.len(), matched[0].confidence), (1, Confidence::High));
        assert_eq!(matched[0].matched.as_deref(), Some("356938035643809"));
    }

    #[test]
    fn personal_data_by_key_and_shape() {
        let ctx = RequestCtx { dst: None, method: "POST", host: None, path: "/", dst_port: 80, app: None };
        let engine = Engine::new(RuleSet::builtin().unwrap(), None);
        let fields = [
            field(Some("$.child.firstName"), "Zoé"),
            field(Some("$.child.birthday"), "2012-04-03"),
            field(Some("$.child.gender"), "girl"),
            field(Some("$.parent.zip"), "75011"),
            field(Some("$.parent.street"), "12 rue de la Paix"),
            field(Some("$.app.name"), "Weather"),
            field(Some("$.child.birthday"), "soon"),
            field(Some("$.order.gender"), "unknown-ish"),
        ];
        let f = engine.detect(&ctx, &fields);
        let kinds: Vec<&str> = f.iter().map(|r| r.kind.as_ref()).collect();
        assert_eq!(kinds, vec!["person_name", "birth_date", "gender", "postal_address", "postal_address"]);
        assert!(f.iter().all(|r| engine.severity(r.rule) == Severity::Medium));
        assert!(engine.might_match("$.child.firstName", "Zoé"));
        assert!(!engine.might_match("$.app.title", "Weather"));
    }

    #[test]
    fn digests_under_hash_named_keys() {
        use md5::Digest as _;
        let ctx = RequestCtx { dst: None, method: "POST", host: None, path: "/", dst_port: 80, app: None };
        let md5 = |s: &str| hex::encode(md5::Md5::digest(s.as_bytes()));
        let imei = md5("356938035643809");
        let aid = md5("9774d56d682e549c");
        let fields = [
            field(Some("$.imei_md5"), &imei),
            field(Some("$.md5"), &md5("firmware")),
            field(Some("$.request_id"), &md5("request")),
            field(Some("$.imeiSha1"), &imei),
            field(Some("$.device_id_md5"), &aid),
        ];
        let engine = Engine::new(RuleSet::builtin().unwrap(), None);
        let f = engine.detect(&ctx, &fields);
        let got: Vec<(&str, &str, &[std::borrow::Cow<'static, str>])> =
            f.iter().map(|r| (r.kind.as_ref(), r.field.as_deref().unwrap_or(""), r.encoding.as_slice())).collect();
        let md5s: [std::borrow::Cow<'static, str>; 1] = ["md5".into()];
        assert_eq!(got, vec![("imei", "$.imei_md5", &md5s[..]), ("imei", "$.device_id_md5", &md5s[..])]);
        assert!(f.iter().all(|r| r.confidence == Confidence::High));
        assert!(engine.might_match("imei_md5", &imei) && !engine.might_match("md5", &imei));
        // With a profile: one finding per value, of the profile's kind.
        let profile = Profile::parse("p", "imei = \"356938035643809\"\nandroid_id = \"9774d56d682e549c\"\n").unwrap();
        let engine = Engine::new(RuleSet::builtin().unwrap(), Some(&profile));
        let f = engine.detect(&ctx, &fields);
        let got: Vec<(&str, Option<&str>)> = f.iter().map(|r| (r.kind.as_ref(), r.matched.as_deref())).collect();
        assert_eq!(
            got,
            vec![
                ("imei", Some("356938035643809")),
                ("android_id", Some("9774d56d682e549c")),
                ("imei", Some("356938035643809"))
            ],
            "imei_md5, device_id_md5 (the profile's kind), imeiSha1 (of MD5's length: found by the profile only): {f:?}"
        );
    }

    #[test]
    fn role_and_own_domain_addresses_set_aside() {
        let ctx = RequestCtx {
            dst: None,
            method: "POST",
            host: Some("api.vendor.example"),
            path: "/",
            dst_port: 80,
            app: None,
        };
        let engine = Engine::new(RuleSet::builtin().unwrap(), None);
        let fields = [
            field(Some("$.login"), "jane@example.net"),
            field(Some("$.note"), "write to tom@example.org"),
            field(Some("$.contact"), "support@vendor.example"),
            field(Some("$.again"), "SUPPORT@vendor.example"),
            field(Some("$.from"), "noreply@other.example"),
            field(Some("$.ops"), "ops@vendor.example"),
        ];
        let mut tally = Tally::default();
        let f = engine.detect_counting(&ctx, &fields, &mut tally);
        let got: Vec<(&str, Confidence)> = f.iter().map(|r| (r.value.as_str(), r.confidence)).collect();
        assert_eq!(got, vec![("jane@example.net", Confidence::High), ("tom@example.org", Confidence::Medium)]);
        assert_eq!(tally.emails_set_aside, 3, "support@ once, noreply@, ops@ at the vendor's domain");
    }

    #[test]
    fn shape_gives_way_to_a_key_inside() {
        let ctx = RequestCtx { dst: None, method: "POST", host: None, path: "/", dst_port: 80, app: None };
        // d200.pcap frame 7319: a form field holding JSON, a US IMSI (Luhn
        // passes, `31` is a reporting body) under its key inside.
        let req = crate::http::HttpRequest {
            head: crate::http::Head {
                method: "POST".into(),
                target: b"/v1/t".to_vec(),
                version: Some(1),
                headers: [("Content-Type", b"application/x-www-form-urlencoded")].into_iter().collect(),
                lenient: false,
            },
            body: b"data=%7B%22subscriber_id%22%3A%22310410861336275%22%2C%22ts%22%3A1709280000123%7D&v=2".to_vec(),
            ..example_request("")
        };
        let fields = crate::extract::request_fields(&req).fields;
        let engine = Engine::new(RuleSet::builtin().unwrap(), None);
        let f = engine.detect(&ctx, &fields);
        let got: Vec<(&str, Option<&str>)> = f.iter().map(|r| (r.kind.as_ref(), r.field.as_deref())).collect();
        assert_eq!(got, vec![("imsi", Some("data:$.subscriber_id"))], "{f:?}");
        // Whichever comes first: the key's finding stays, at either field.
        let shape = |field: &str| RawFinding {
            rule: 0,
            kind: "imei".into(),
            title: "".into(),
            value: "310410861336275".into(),
            matched: None,
            confidence: Confidence::Medium,
            encoding: Vec::new(),
            location: Location::Body,
            field: Some(field.into()),
        };
        let keyed =
            |field: &str| RawFinding { rule: 1, kind: "imsi".into(), confidence: Confidence::High, ..shape(field) };
        for (a, b) in [(shape("data"), keyed("data:$.subscriber_id")), (keyed("data:$.subscriber_id"), shape("data"))] {
            let mut out = Vec::new();
            push(&mut out, a);
            push(&mut out, b);
            assert_eq!(out, vec![keyed("data:$.subscriber_id")]);
        }
        // Elsewhere (a sibling field, the body at large), the shape stands.
        let mut out = Vec::new();
        push(&mut out, keyed("data:$.subscriber_id"));
        push(&mut out, shape("other"));
        push(&mut out, shape("data:$.note"));
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn meid_and_test_imeis() {
        let ctx = RequestCtx { dst: None, method: "POST", host: None, path: "/", dst_port: 80, app: None };
        let engine = Engine::new(RuleSet::builtin().unwrap(), None);
        let f = engine.detect(&ctx, &[field(Some("meid"), "A10000009296F2"), field(Some("imei"), "358240051111110")]);
        let kinds: Vec<&str> = f.iter().map(|r| r.kind.as_ref()).collect();
        assert_eq!(kinds, vec!["meid"]);
        let mut engine = Engine::new(RuleSet::builtin().unwrap(), None);
        engine.include_test_devices = true;
        let f = engine.detect(&ctx, &[field(Some("imei"), "358240051111110")]);
        assert_eq!(f.len(), 1, "asked for");
    }
}
