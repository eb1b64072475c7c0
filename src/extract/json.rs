//! JSON leaves with their paths (`$.device.imei`, `$.cells[0].cid`),
//! bounded in depth: deeper values are skipped, not recursed into.

use serde_json::Value;

/// Deepest nesting walked inside one JSON document.
pub const MAX_JSON_DEPTH: usize = 64;

/// Parses `text` and lists its scalar leaves as (path, text) pairs.
/// `None` when `text` is not JSON.
pub fn leaves(text: &str) -> Option<Vec<(String, String)>> {
    let v: Value = serde_json::from_str(text.trim()).ok()?;
    let mut out = Vec::new();
    walk(&v, &mut "$".to_string(), 0, &mut out);
    Some(out)
}

fn walk(v: &Value, path: &mut String, depth: usize, out: &mut Vec<(String, String)>) {
    if depth > MAX_JSON_DEPTH {
        return;
    }
    let len = path.len();
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                if k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') && !k.is_empty() {
                    path.push('.');
                    path.push_str(k);
                } else {
                    path.push_str(&format!("[{}]", serde_json::to_string(k).unwrap_or_default()));
                }
                walk(child, path, depth + 1, out);
                path.truncate(len);
            }
        }
        Value::Array(a) => {
            for (i, child) in a.iter().enumerate() {
                path.push_str(&format!("[{i}]"));
                walk(child, path, depth + 1, out);
                path.truncate(len);
            }
        }
        Value::String(s) => out.push((path.clone(), s.clone())),
        Value::Number(n) => out.push((path.clone(), n.to_string())),
        Value::Bool(b) => out.push((path.clone(), b.to_string())),
        Value::Null => {}
    }
}
