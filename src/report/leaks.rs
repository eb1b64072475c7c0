//! Findings folded into distinct leaks: what a researcher reads first.
//!
//! Input: a capture's findings, one at a time, as they stream to a
//! reporter. Output: one [`Leak`] per distinct (destination host, method,
//! path without its query, location, field, rule, kind, encoding, and the
//! value when it identifies), with how many findings it stands for and
//! when the first and last were seen; then grouped by destination
//! ([`LeakTable::destinations`]) and sorted by severity, then count.
//!
//! A value sent in request after request (a keep-alive connection
//! uploading the same IMEI twenty times, a monthly report) is one leak
//! with a count. For kinds whose value changes by nature (a known
//! endpoint's encrypted payload, a cell id, a position, an SDK's event
//! batch) the value is not part of the key: the leak says how many values
//! it saw vary.
//!
//! Memory is bounded: at most [`MAX_LEAKS`] leaks per table; findings of
//! further distinct leaks are counted ([`LeakTable::untabled`]), not kept.
//! Nothing here is masked: reporters mask what they print
//! ([`super::Privacy`]), and HTML or SQLite reports can build on the same
//! table.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use crate::finding::{AppRef, Confidence, Finding, Location, Severity};
use crate::util::Timestamp;

/// Distinct leaks kept per table (per capture).
pub const MAX_LEAKS: usize = 10_000;

/// One distinct leak: every finding that sent the same thing to the
/// same place.
#[derive(Clone, Debug)]
pub struct Leak {
    pub severity: Severity,
    pub rule: Arc<str>,
    pub title: Arc<str>,
    pub kind: Cow<'static, str>,
    /// Host name, else the destination address.
    pub host: String,
    /// `internet`, `lan`, `multicast`, `broadcast` ([`crate::finding::scope_of`]).
    pub scope: &'static str,
    /// `None` for a finding outside a request (a stream payload).
    pub method: Option<Arc<str>>,
    /// The request target up to its query, as sent and with the request's
    /// identifiers masked.
    pub path: Option<Box<str>>,
    pub path_masked: Option<Box<str>>,
    pub location: Location,
    pub field: Option<String>,
    pub encoding: Vec<Cow<'static, str>>,
    /// The first value seen (unmasked), and the profile value it matched.
    pub value: String,
    pub matched: Option<String>,
    /// A later finding carried another value (a leak is where a kind
    /// goes, whatever the value: twenty phones' IMEIs in one field are one
    /// line with its count of values).
    pub values_vary: bool,
    /// Hashes of the distinct values seen, at most [`MAX_VALUES_COUNTED`].
    values: Vec<u64>,
    pub confidence: Confidence,
    pub role: Option<&'static str>,
    /// Findings folded into it.
    pub count: u64,
    pub first: Timestamp,
    pub last: Timestamp,
    /// The frame of its first finding.
    pub frame: u64,
    /// The app of its first finding, and whether others sent it too.
    pub app: Option<Arc<AppRef>>,
    pub other_apps: bool,
}

/// Distinct values counted per leak (past it: "16 or more").
pub const MAX_VALUES_COUNTED: usize = 16;

/// Is the value part of what makes a leak distinct? Yes for identities
/// (an IMEI, a MAC, a serial: two IMEIs are two leaks); no for kinds whose
/// value changes from one upload to the next by nature
/// ([`VARYING_KINDS`](crate::finding::VARYING_KINDS), which baselines'
/// fingerprints leave out the same way).
pub fn value_is_identity(kind: &str) -> bool {
    !crate::finding::VARYING_KINDS.contains(&kind)
}

/// A finding's destination as reports name it: its host, else its address.
pub fn host_of(f: &Finding) -> Cow<'_, str> {
    match f.host.as_deref() {
        Some(h) => Cow::Borrowed(h),
        None => Cow::Owned(f.dst.ip().to_string()),
    }
}

/// The request target up to its query.
fn path_of(uri: Option<&str>) -> Option<&str> {
    uri.map(|u| u.split_once('?').map_or(u, |(p, _)| p))
}

impl Leak {
    fn new(f: &Finding) -> Leak {
        Leak {
            severity: f.severity,
            rule: f.rule.clone(),
            title: f.title.clone(),
            kind: f.kind.clone(),
            host: host_of(f).into_owned(),
            scope: crate::finding::scope_of(f.dst.ip()),
            method: f.method.clone(),
            path: path_of(f.uri.as_deref()).map(Into::into),
            path_masked: path_of(f.uri_masked.as_deref()).map(Into::into),
            location: f.location,
            field: f.field.clone(),
            encoding: f.encoding.clone(),
            value: f.value.clone(),
            matched: f.matched.clone(),
            values_vary: false,
            values: vec![value_hash(&f.value)],
            confidence: f.confidence,
            role: f.role,
            count: 0,
            first: f.time,
            last: f.time,
            frame: f.frame,
            app: f.app.clone(),
            other_apps: false,
        }
    }

    /// Is `f` one more finding of this leak?
    fn same(&self, f: &Finding) -> bool {
        self.severity == f.severity
            && *self.rule == *f.rule
            && self.kind == f.kind
            && self.location == f.location
            && self.method.as_deref() == f.method.as_deref()
            && self.path.as_deref() == path_of(f.uri.as_deref())
            && self.field == f.field
            && self.encoding == f.encoding
            && self.host == host_of(f)
    }

    /// Distinct values seen, and whether there may be more than counted.
    pub fn distinct_values(&self) -> (usize, bool) {
        (self.values.len(), self.values.len() >= MAX_VALUES_COUNTED)
    }

    /// How a report says the values varied: `(3 values)`, `(16 or more
    /// values)`; for the kinds whose value changes by nature, `(values
    /// vary)`.
    pub fn values_label(&self) -> Option<String> {
        if !self.values_vary {
            return None;
        }
        if !value_is_identity(&self.kind) {
            return Some("(values vary)".to_string());
        }
        Some(match self.distinct_values() {
            (n, false) => format!("({n} values)"),
            (n, true) => format!("({n} or more values)"),
        })
    }

    fn add(&mut self, f: &Finding) {
        self.count = self.count.saturating_add(1);
        self.first = self.first.min(f.time);
        self.last = self.last.max(f.time);
        if f.value != self.value {
            self.values_vary = true;
            let h = value_hash(&f.value);
            if self.values.len() < MAX_VALUES_COUNTED && !self.values.contains(&h) {
                self.values.push(h);
            }
        }
        if f.app.as_deref() != self.app.as_deref() {
            self.other_apps = true;
        }
    }
}

/// The key's hash: the fields [`Leak::same`] compares.
fn key_hash(f: &Finding) -> u64 {
    // SipHash with fixed keys: the same table order run after run.
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    f.severity.hash(&mut h);
    f.rule.hash(&mut h);
    f.kind.hash(&mut h);
    f.location.hash(&mut h);
    f.method.as_deref().hash(&mut h);
    path_of(f.uri.as_deref()).hash(&mut h);
    f.field.hash(&mut h);
    f.encoding.hash(&mut h);
    host_of(f).hash(&mut h);
    h.finish()
}

/// A value's hash, for counting distinct values (ASCII case folded:
/// hex identifiers come in either case).
fn value_hash(v: &str) -> u64 {
    #[allow(deprecated)]
    let mut h = std::hash::SipHasher::new();
    for b in v.bytes() {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.finish()
}

/// The leaks of one capture, as findings arrive.
#[derive(Debug)]
pub struct LeakTable {
    leaks: Vec<Leak>,
    /// Key hash to index in `leaks`; a collision moves on to the next
    /// hash value.
    index: HashMap<u64, usize>,
    cap: usize,
    findings: u64,
    untabled: u64,
}

impl Default for LeakTable {
    fn default() -> Self {
        LeakTable::with_cap(MAX_LEAKS)
    }
}

/// One destination's leaks, most severe first.
#[derive(Debug)]
pub struct Destination<'a> {
    pub host: &'a str,
    pub scope: &'static str,
    /// The most severe of its leaks, and all their findings.
    pub severity: Severity,
    pub findings: u64,
    pub leaks: Vec<&'a Leak>,
}

impl LeakTable {
    /// A table of at most `cap` leaks.
    pub fn with_cap(cap: usize) -> Self {
        LeakTable { leaks: Vec::new(), index: HashMap::new(), cap, findings: 0, untabled: 0 }
    }

    /// Folds one finding in; returns the index of its leak in
    /// [`LeakTable::leaks`], or `None` when the table is full.
    pub fn add(&mut self, f: &Finding) -> Option<usize> {
        self.findings = self.findings.saturating_add(1);
        let mut h = key_hash(f);
        loop {
            match self.index.get(&h) {
                Some(&i) if self.leaks[i].same(f) => {
                    self.leaks[i].add(f);
                    return Some(i);
                }
                Some(_) => h = h.wrapping_add(1),
                None => break,
            }
        }
        if self.leaks.len() >= self.cap {
            self.untabled = self.untabled.saturating_add(1);
            return None;
        }
        let mut leak = Leak::new(f);
        leak.add(f);
        self.index.insert(h, self.leaks.len());
        self.leaks.push(leak);
        Some(self.leaks.len() - 1)
    }

    /// Distinct leaks in the table.
    pub fn len(&self) -> usize {
        self.leaks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.leaks.is_empty()
    }

    /// Findings folded in, tabled or not.
    pub fn findings(&self) -> u64 {
        self.findings
    }

    /// Findings of leaks past the cap: counted, not tabled.
    pub fn untabled(&self) -> u64 {
        self.untabled
    }

    /// The leaks in the order they were first seen.
    pub fn leaks(&self) -> &[Leak] {
        &self.leaks
    }

    /// Leaks grouped by destination host; destinations and the leaks of
    /// each sorted by severity (highest first), then by count (largest
    /// first), then by host or first time.
    pub fn destinations(&self) -> Vec<Destination<'_>> {
        let mut by_host: HashMap<&str, usize> = HashMap::new();
        let mut out: Vec<Destination<'_>> = Vec::new();
        for l in &self.leaks {
            let i = *by_host.entry(&l.host).or_insert_with(|| {
                out.push(Destination {
                    host: &l.host,
                    scope: l.scope,
                    severity: l.severity,
                    findings: 0,
                    leaks: Vec::new(),
                });
                out.len() - 1
            });
            let d = &mut out[i];
            d.severity = d.severity.max(l.severity);
            d.findings = d.findings.saturating_add(l.count);
            d.leaks.push(l);
        }
        for d in &mut out {
            d.leaks.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.count.cmp(&a.count)).then(a.first.cmp(&b.first)));
        }
        out.sort_by(|a, b| b.severity.cmp(&a.severity).then(b.findings.cmp(&a.findings)).then(a.host.cmp(b.host)));
        out
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A high-severity query finding to `h.example` (198.51.100.1) from
    /// port `port` at `secs`, for the report modules' tests.
    pub(crate) fn finding(kind: &'static str, value: &str, uri: &str, secs: i64, port: u16) -> Finding {
        Finding {
            rule: "TA-X".into(),
            severity: Severity::High,
            title: "t".into(),
            kind: kind.into(),
            value: value.into(),
            matched: None,
            confidence: Confidence::High,
            encoding: Vec::new(),
            location: Location::Query,
            field: Some("id".into()),
            capture: "c".into(),
            frame: secs as u64,
            time: Timestamp::new(secs, 0),
            src: format!("10.0.0.1:{port}").parse().unwrap(),
            dst: "198.51.100.1:80".parse().unwrap(),
            host: Some("h.example".into()),
            method: Some("GET".into()),
            uri: Some(uri.into()),
            uri_masked: Some(uri.into()),
            protocol: "http/1.1",
            tls: None,
            stream_id: None,
            app: None,
            role: None,
        }
    }

    #[test]
    fn repeats_fold_into_one_leak_with_count_and_times() {
        let mut t = LeakTable::default();
        for i in 0..20 {
            t.add(&finding("imei", "356938035643809", &format!("/r?n={i}&id=356938035643809"), 100 + i, 4000));
        }
        assert_eq!(t.len(), 1);
        let l = &t.leaks()[0];
        assert_eq!((l.count, l.first.secs, l.last.secs), (20, 100, 119));
        assert_eq!(l.path.as_deref(), Some("/r"));
        assert!(!l.values_vary);
    }

    #[test]
    fn values_fold_into_one_leak_and_are_counted() {
        let mut t = LeakTable::default();
        t.add(&finding("imei", "356938035643809", "/r", 1, 1));
        t.add(&finding("imei", "356938035643817", "/r", 2, 2));
        t.add(&finding("imei", "356938035643809", "/r", 3, 3));
        t.add(&finding("endpoint", "payload-one", "/r", 3, 3));
        t.add(&finding("endpoint", "payload-two", "/r", 4, 4));
        assert_eq!(t.len(), 2);
        let imei = t.leaks().iter().find(|l| l.kind == "imei").unwrap();
        assert_eq!((imei.count, imei.distinct_values()), (3, (2, false)));
        assert_eq!(imei.values_label().as_deref(), Some("(2 values)"));
        let ep = t.leaks().iter().find(|l| l.kind == "endpoint").unwrap();
        assert_eq!(ep.count, 2);
        assert_eq!(ep.values_label().as_deref(), Some("(values vary)"));
        // Another path is another leak.
        t.add(&finding("imei", "356938035643809", "/other", 5, 1));
        assert_eq!(t.len(), 3);
        // Past the count: "or more".
        for i in 0..40 {
            t.add(&finding("imei", &format!("35693803564{i:04}"), "/r", 9, 1));
        }
        let imei = t.leaks().iter().find(|l| l.kind == "imei" && l.path.as_deref() == Some("/r")).unwrap();
        assert_eq!(imei.distinct_values(), (MAX_VALUES_COUNTED, true));
    }

    #[test]
    fn the_table_is_capped_and_counts_the_rest() {
        let mut t = LeakTable::with_cap(3);
        for i in 0..10 {
            t.add(&finding("imei", "356938035643809", &format!("/r{i}"), i, 1));
        }
        t.add(&finding("imei", "356938035643809", "/r0", 99, 1));
        assert_eq!((t.len(), t.untabled(), t.findings()), (3, 7, 11));
        assert_eq!(t.leaks()[0].count, 2);
    }

    #[test]
    fn destinations_sort_by_severity_then_count() {
        let mut t = LeakTable::default();
        // a.example: five low findings; h.example: two high of one leak,
        // one high of another, and three low.
        let mut low = finding("device_model", "WIKO LENNY3", "/a", 1, 1);
        low.severity = Severity::Low;
        low.host = Some("a.example".into());
        for _ in 0..5 {
            t.add(&low);
        }
        let mut model = finding("device_model", "WIKO LENNY3", "/r", 2, 1);
        model.severity = Severity::Low;
        for _ in 0..3 {
            t.add(&model);
        }
        t.add(&finding("serial", "WKL3A1B2C3D4", "/r", 3, 1));
        t.add(&finding("imei", "356938035643809", "/r", 4, 1));
        t.add(&finding("imei", "356938035643809", "/r", 5, 1));
        let d = t.destinations();
        assert_eq!(d.iter().map(|d| d.host).collect::<Vec<_>>(), ["h.example", "a.example"]);
        assert_eq!(d[0].leaks.iter().map(|l| &*l.kind).collect::<Vec<_>>(), ["imei", "serial", "device_model"]);
        assert_eq!((d[0].findings, d[1].findings), (6, 5));
    }
}
