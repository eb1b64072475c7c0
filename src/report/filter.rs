//! Display filters (`--kind`, `--host`, `--min-severity`): which findings
//! a run reports, in every format. Applied at one place, where findings
//! go to the reporter (`cli`), after a baseline has suppressed what it
//! knows; what they leave out is counted in [`super::Summary::filtered`]
//! and neither shown nor counted towards `--fail-on`.

use crate::finding::{Finding, Severity};

/// What to show; the default shows everything.
#[derive(Clone, Debug, Default)]
pub struct DisplayFilter {
    /// Kinds shown (`imei`, `endpoint`...); empty: all.
    pub kinds: Vec<String>,
    /// Globs (`*` any run, ASCII case ignored) matched against the
    /// destination's host name, else its address; empty: all.
    pub hosts: Vec<String>,
    pub min_severity: Option<Severity>,
}

impl DisplayFilter {
    /// Does it leave anything out?
    pub fn is_active(&self) -> bool {
        !self.kinds.is_empty() || !self.hosts.is_empty() || self.min_severity.is_some()
    }

    /// Is `f` reported?
    pub fn shows(&self, f: &Finding) -> bool {
        if self.min_severity.is_some_and(|m| f.severity < m) {
            return false;
        }
        if !self.kinds.is_empty() && !self.kinds.iter().any(|k| k.eq_ignore_ascii_case(&f.kind)) {
            return false;
        }
        if !self.hosts.is_empty() {
            let glob = crate::detect::rules::glob;
            // The host name, else the address (formatted only then).
            let matches = match f.host.as_deref() {
                Some(h) => self.hosts.iter().any(|g| glob(g, h)),
                None => {
                    let ip = f.dst.ip().to_string();
                    self.hosts.iter().any(|g| glob(g, &ip))
                }
            };
            if !matches {
                return false;
            }
        }
        true
    }

    /// The `--kind` values no loaded rule or detector reports (a typo shows
    /// nothing, and the run would look clean).
    pub fn unknown_kinds<'a>(&'a self, known: &[&str]) -> Vec<&'a str> {
        self.kinds.iter().filter(|k| !known.iter().any(|n| n.eq_ignore_ascii_case(k))).map(String::as_str).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(kind: &'static str, severity: Severity, host: Option<&str>) -> Finding {
        let mut f = crate::report::leaks::tests::finding(kind, "v", "/", 1, 1000);
        f.severity = severity;
        f.host = host.map(Into::into);
        f
    }

    #[test]
    fn each_filter_selects() {
        let imei = finding("imei", Severity::High, Some("api.example.com"));
        let model = finding("device_model", Severity::Low, None);
        assert!(DisplayFilter::default().shows(&imei) && !DisplayFilter::default().is_active());
        let f = DisplayFilter { kinds: vec!["IMEI".into()], ..Default::default() };
        assert!(f.shows(&imei) && !f.shows(&model));
        let f = DisplayFilter { min_severity: Some(Severity::Medium), ..Default::default() };
        assert!(f.shows(&imei) && !f.shows(&model));
        let f = DisplayFilter { hosts: vec!["*.example.com".into()], ..Default::default() };
        assert!(f.shows(&imei) && !f.shows(&model));
        // No host name: the address is matched.
        let f = DisplayFilter { hosts: vec!["198.51.100.*".into()], ..Default::default() };
        assert!(f.shows(&model) && !f.shows(&imei));
        assert_eq!(
            DisplayFilter { kinds: vec!["imie".into(), "imei".into()], ..Default::default() }.unknown_kinds(&["imei"]),
            ["imie"]
        );
    }
}
