//! XML and plist-like text: element text and attribute values as
//! (name, value) pairs. Not a validating parser: a tag scanner that never
//! fails, for bodies devices send as XML (SOAP, plist, OMA-DM). In a
//! plist, `<key>imei</key><string>...</string>` names the value by its
//! key, as a dictionary entry.

/// Most pairs taken from one document.
pub const MAX_PAIRS: usize = 4096;

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// Does `s` start like markup?
pub fn looks_like_xml(s: &str) -> bool {
    let t = s.trim_start();
    t.starts_with("<?xml") || (t.starts_with('<') && t.trim_end().ends_with('>'))
}

/// Element texts (named by their element, or by the preceding plist
/// `<key>`) and attributes (`element@attribute`), at most about
/// [`MAX_PAIRS`]; the flag says the document had more.
pub fn pairs(s: &str) -> (Vec<(String, String)>, bool) {
    let mut out = Vec::new();
    let mut rest = s;
    let mut element = String::new();
    let mut plist_key: Option<String> = None;
    while let Some(lt) = rest.find('<') {
        let text = rest[..lt].trim();
        if !text.is_empty() && !element.is_empty() {
            if element == "key" {
                plist_key = Some(unescape(text));
            } else {
                let name = plist_key.take().unwrap_or_else(|| element.clone());
                out.push((name, unescape(text)));
            }
        }
        let Some(gt) = rest[lt..].find('>') else { break };
        let tag = &rest[lt + 1..lt + gt];
        rest = &rest[lt + gt + 1..];
        if out.len() >= MAX_PAIRS {
            return (out, rest.contains('<'));
        }
        if tag.starts_with('/') || tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        let tag = tag.trim_end_matches('/');
        let mut it = tag.splitn(2, char::is_whitespace);
        element = it.next().unwrap_or("").rsplit(':').next().unwrap_or("").to_string();
        // Attributes: name="value" or name='value'.
        let mut attrs = it.next().unwrap_or("");
        while let Some(eq) = attrs.find('=') {
            let name = attrs[..eq].trim().rsplit(char::is_whitespace).next().unwrap_or("").to_string();
            let after = attrs[eq + 1..].trim_start();
            let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else { break };
            let Some(end) = after[1..].find(q) else { break };
            if !name.is_empty() && !name.starts_with("xmlns") {
                out.push((format!("{element}@{name}"), unescape(&after[1..1 + end])));
            }
            attrs = &after[1 + end + 1..];
        }
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_attributes_and_plist_keys() {
        let x = r#"<?xml version="1.0"?><d:dev xmlns:d="u" sn="A1&amp;2"><imei>356938035643809</imei><cell mcc="208"/></d:dev>
<plist><dict><key>SerialNumber</key><string>F2LX123</string></dict></plist>"#;
        let (p, more) = pairs(x);
        assert!(!more);
        let has = |k: &str, v: &str| p.iter().any(|(a, b)| a == k && b == v);
        assert!(has("dev@sn", "A1&2"), "{p:?}");
        assert!(has("imei", "356938035643809"));
        assert!(has("cell@mcc", "208"));
        assert!(has("SerialNumber", "F2LX123"));
        assert!(looks_like_xml(x));
        assert!(pairs("<a><b").0.is_empty());
        let many = "<v>1</v>".repeat(MAX_PAIRS + 1);
        assert_eq!(pairs(&many), (vec![("v".to_string(), "1".to_string()); MAX_PAIRS], true));
    }
}
