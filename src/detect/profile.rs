//! Device profiles: the known identifier values of the device under test,
//! searched for in every common form. A profile is TOML: each key a kind,
//! each value a string or a list of strings (`name` is a label).
//!
//! Each value expands into its forms: as is and without separators (any
//! case), URL-encoded, base64 (standard and URL-safe; padding is
//! irrelevant to a substring search), hex of its bytes, and the MD5,
//! SHA-1 and SHA-256 of each form (and of its upper- and lower-case
//! spellings) in hex, whole or cut to 16 characters. All forms go into two
//! Aho-Corasick automata (case-insensitive for text and hex, case-
//! sensitive for base64) built once and shared by all workers.

use std::collections::BTreeMap;
use std::path::Path;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use base64::Engine as _;

/// Shortest form searched: shorter strings match by chance.
const MIN_FORM_LEN: usize = 6;
/// Hash prefixes some SDKs send instead of the whole digest.
const HASH_PREFIX_LEN: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

/// A loaded profile: (kind, value) pairs in file order.
#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub name: Option<String>,
    pub values: Vec<(String, String)>,
}

impl Profile {
    pub fn load(path: &Path) -> Result<Profile, ProfileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ProfileError::Invalid { path: shown.clone(), message: e.to_string() })?;
        Profile::parse(&shown, &text)
    }

    pub fn parse(path: &str, text: &str) -> Result<Profile, ProfileError> {
        let bad = |message: String| ProfileError::Invalid { path: path.to_string(), message };
        let table: BTreeMap<String, toml::Value> = toml::from_str(text).map_err(|e| {
            let (line, col) = e.span().map_or((0, 0), |s| {
                let before = &text[..s.start.min(text.len())];
                (before.matches('\n').count() + 1, before.len() - before.rfind('\n').map_or(0, |n| n + 1) + 1)
            });
            bad(format!("line {line}, column {col}: {}", e.message()))
        })?;
        let mut p = Profile::default();
        for (key, v) in table {
            if key == "name" {
                p.name = v.as_str().map(str::to_string);
                continue;
            }
            let list = match v {
                toml::Value::String(s) => vec![s],
                toml::Value::Array(a) => a
                    .into_iter()
                    .map(|x| {
                        x.as_str().map(str::to_string).ok_or_else(|| bad(format!("`{key}`: values must be strings")))
                    })
                    .collect::<Result<_, _>>()?,
                _ => return Err(bad(format!("`{key}`: give a string or a list of strings"))),
            };
            for s in list {
                if s.trim().len() < MIN_FORM_LEN.min(4) {
                    return Err(bad(format!("`{key}`: value {s:?} is too short to search for")));
                }
                p.values.push((key.clone(), s.trim().to_string()));
            }
        }
        Ok(p)
    }
}

/// What a form stands for.
#[derive(Clone, Debug)]
struct Form {
    kind: String,
    original: String,
    encoding: Option<&'static str>,
    /// Must not sit inside a longer run of letters and digits.
    bounded: bool,
}

/// A profile match in a field value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileHit {
    pub kind: String,
    /// The text as found in the value.
    pub found: String,
    pub original: String,
    /// The form's own encoding (`md5`, `base64`, ...), `None` when plain.
    pub encoding: Option<&'static str>,
}

/// The compiled profile, immutable and shared.
pub struct CompiledProfile {
    folded: Option<AhoCorasick>,
    folded_forms: Vec<Form>,
    exact: Option<AhoCorasick>,
    exact_forms: Vec<Form>,
}

fn hex_digest<D: md5::Digest>(s: &str) -> String {
    hex::encode(D::digest(s.as_bytes()))
}

/// Spellings of a value to hash and search: as given, without
/// separators, and for MACs with each separator, in both cases.
fn spellings(kind: &str, v: &str) -> Vec<String> {
    let mut out = vec![v.to_string()];
    let bare: String = v.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
    if bare.len() >= MIN_FORM_LEN && bare != v {
        out.push(bare.clone());
    }
    if kind == "mac" && bare.len() == 12 {
        let pairs: Vec<&str> = (0..6).map(|i| &bare[i * 2..i * 2 + 2]).collect();
        out.push(pairs.join(":"));
        out.push(pairs.join("-"));
    }
    if kind == "msisdn" {
        // +33612345678 is also sent as 0033612345678.
        if let Some(rest) = v.strip_prefix('+') {
            out.push(format!("00{}", rest.replace([' ', '-'], "")));
        }
    }
    let mut cased = Vec::new();
    for s in &out {
        cased.push(s.to_ascii_lowercase());
        cased.push(s.to_ascii_uppercase());
    }
    out.extend(cased);
    out.sort();
    out.dedup();
    out
}

impl CompiledProfile {
    pub fn compile(p: &Profile) -> CompiledProfile {
        let mut folded: Vec<(String, Form)> = Vec::new();
        let mut exact: Vec<(String, Form)> = Vec::new();
        for (kind, value) in &p.values {
            let form = |enc: &[&'static str], bounded: bool| Form {
                kind: kind.clone(),
                original: value.clone(),
                encoding: enc.first().copied(),
                bounded,
            };
            for s in spellings(kind, value) {
                folded.push((s.clone(), form(&[], true)));
                let url: String =
                    percent_encoding::utf8_percent_encode(&s, percent_encoding::NON_ALPHANUMERIC).to_string();
                if url != s {
                    folded.push((url, form(&["url"], true)));
                }
                folded.push((hex::encode(s.as_bytes()), form(&["hex"], true)));
                for (name, digest) in [
                    ("md5", hex_digest::<md5::Md5>(&s)),
                    ("sha1", hex_digest::<sha1::Sha1>(&s)),
                    ("sha256", hex_digest::<sha2::Sha256>(&s)),
                ] {
                    folded.push((digest[..HASH_PREFIX_LEN].to_string(), form(&[name], true)));
                    folded.push((digest, form(&[name], true)));
                }
                let std = base64::engine::general_purpose::STANDARD_NO_PAD.encode(s.as_bytes());
                let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s.as_bytes());
                if url_safe != std {
                    exact.push((url_safe, form(&["base64"], false)));
                }
                exact.push((std, form(&["base64"], false)));
            }
        }
        let build = |pats: Vec<(String, Form)>, fold: bool| -> (Option<AhoCorasick>, Vec<Form>) {
            let mut pats: Vec<(String, Form)> = pats.into_iter().filter(|(s, _)| s.len() >= MIN_FORM_LEN).collect();
            // Keep one form per pattern text (the first: plain before hashed).
            let mut seen = std::collections::HashSet::new();
            pats.retain(|(s, _)| seen.insert(if fold { s.to_ascii_lowercase() } else { s.clone() }));
            if pats.is_empty() {
                return (None, Vec::new());
            }
            let ac = AhoCorasickBuilder::new()
                .ascii_case_insensitive(fold)
                .match_kind(MatchKind::LeftmostLongest)
                .build(pats.iter().map(|(s, _)| s.as_bytes()))
                .ok();
            (ac, pats.into_iter().map(|(_, f)| f).collect())
        };
        let (folded, folded_forms) = build(folded, true);
        let (exact, exact_forms) = build(exact, false);
        CompiledProfile { folded, folded_forms, exact, exact_forms }
    }

    /// Does any form occur in `value` (boundaries not checked)?
    pub fn is_match(&self, value: &str) -> bool {
        let b = value.as_bytes();
        self.folded.as_ref().is_some_and(|a| a.is_match(b)) || self.exact.as_ref().is_some_and(|a| a.is_match(b))
    }

    /// Every profile form found in `value`.
    pub fn find(&self, value: &str, out: &mut Vec<ProfileHit>) {
        let b = value.as_bytes();
        for (ac, forms) in [(&self.folded, &self.folded_forms), (&self.exact, &self.exact_forms)] {
            let Some(ac) = ac else { continue };
            for m in ac.find_iter(b) {
                let form = &forms[m.pattern().as_usize()];
                if form.bounded {
                    let before = m.start().checked_sub(1).map(|i| b[i]);
                    let after = b.get(m.end()).copied();
                    if before.is_some_and(|c| c.is_ascii_alphanumeric())
                        || after.is_some_and(|c| c.is_ascii_alphanumeric())
                    {
                        continue;
                    }
                }
                out.push(ProfileHit {
                    kind: form.kind.clone(),
                    found: value[m.start()..m.end()].to_string(),
                    original: form.original.clone(),
                    encoding: form.encoding,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use md5::Digest as _;

    fn compiled() -> CompiledProfile {
        let p = Profile::parse(
            "p.toml",
            "name = \"t\"\nimei = [\"356938035643809\"]\nmac = \"a4:5e:60:12:34:56\"\nserial = \"WKL3A1B2C3D4\"\n",
        )
        .unwrap();
        CompiledProfile::compile(&p)
    }

    fn find(c: &CompiledProfile, v: &str) -> Vec<(String, Vec<String>)> {
        let mut o = Vec::new();
        c.find(v, &mut o);
        o.into_iter().map(|h| (h.kind, h.encoding.into_iter().map(str::to_string).collect())).collect()
    }

    #[test]
    fn finds_every_form() {
        let c = compiled();
        let md5 = hex::encode(md5::Md5::digest(b"356938035643809"));
        let sha1_upper_mac = hex::encode(sha1::Sha1::digest(b"A4:5E:60:12:34:56")).to_ascii_uppercase();
        let b64 = base64::engine::general_purpose::STANDARD.encode("WKL3A1B2C3D4");
        assert_eq!(find(&c, "id=356938035643809"), vec![("imei".into(), vec![])]);
        assert_eq!(find(&c, &md5), vec![("imei".into(), vec!["md5".to_string()])]);
        assert_eq!(find(&c, &format!("h={}", &md5[..16])), vec![("imei".into(), vec!["md5".to_string()])]);
        assert_eq!(find(&c, &sha1_upper_mac), vec![("mac".into(), vec!["sha1".to_string()])]);
        assert_eq!(find(&c, "A45E60123456"), vec![("mac".into(), vec![])]);
        assert_eq!(find(&c, &b64), vec![("serial".into(), vec!["base64".to_string()])]);
        assert_eq!(find(&c, "a4%3A5e%3A60%3A12%3A34%3A56"), vec![("mac".into(), vec!["url".to_string()])]);
    }

    #[test]
    fn not_inside_longer_numbers() {
        assert!(find(&compiled(), "1356938035643809").is_empty());
    }

    #[test]
    fn rejects_non_string_values() {
        assert!(Profile::parse("p.toml", "imei = 356938035643809\n").is_err());
    }
}
