//! multipart/form-data (RFC 7578): the parts of a body, each with its
//! name, file name and content, borrowed from the body. At most
//! [`MAX_PARTS`] are split out; the bytes after them are handed back, for
//! the caller to inspect as plain text and note. A part without its
//! closing boundary (a cut body) is kept as far as it goes.

/// One part.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    pub name: Option<String>,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: &'a [u8],
}

/// Most parts read from one body.
pub const MAX_PARTS: usize = 256;

/// The boundary parameter of a multipart Content-Type.
pub fn boundary(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| v.trim().trim_matches('"').to_string())
    })
}

/// A `name="value"` parameter of a Content-Disposition header.
fn param(header: &str, name: &str) -> Option<String> {
    header.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim().trim_matches('"').to_string())
    })
}

/// The parts of a body.
#[derive(Debug, PartialEq, Eq)]
pub struct Parts<'a> {
    pub parts: Vec<Part<'a>>,
    /// The body from the first part past [`MAX_PARTS`] on, if there is one.
    pub rest: Option<&'a [u8]>,
}

pub fn parts<'a>(body: &'a [u8], boundary: &str) -> Parts<'a> {
    let delim = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delim.as_bytes());
    let mut out = Vec::new();
    let mut rest = None;
    // Only the delimiters of the parts read, and one more, are looked for.
    let mut starts: Vec<usize> = finder.find_iter(body).take(MAX_PARTS + 1).collect();
    starts.push(body.len());
    for w in starts.windows(2) {
        let mut part = &body[w[0] + delim.len()..w[1]];
        if part.starts_with(b"--") {
            break; // closing delimiter
        }
        if out.len() >= MAX_PARTS {
            rest = Some(&body[w[0]..]);
            break;
        }
        part = part.strip_prefix(b"\r\n").or_else(|| part.strip_prefix(b"\n")).unwrap_or(part);
        // The CRLF before the next delimiter belongs to it.
        part = part.strip_suffix(b"\r\n").or_else(|| part.strip_suffix(b"\n")).unwrap_or(part);
        let (head, data) = match crate::util::finders::CRLF_CRLF.find(part) {
            Some(i) => (&part[..i], &part[i + 4..]),
            None => match crate::util::finders::LF_LF.find(part) {
                Some(i) => (&part[..i], &part[i + 2..]),
                None => (part, &part[part.len()..]),
            },
        };
        let head = crate::util::lossy(head);
        let mut p = Part { name: None, filename: None, content_type: None, data };
        for line in head.lines() {
            let Some((k, v)) = line.split_once(':') else { continue };
            if k.trim().eq_ignore_ascii_case("content-disposition") {
                p.name = param(v, "name");
                p.filename = param(v, "filename");
            } else if k.trim().eq_ignore_ascii_case("content-type") {
                p.content_type = Some(v.trim().to_string());
            }
        }
        out.push(p);
    }
    Parts { parts: out, rest }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_and_files() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"imei\"\r\n\r\n356938035643809\r\n--XyZ\r\n\
Content-Disposition: form-data; name=\"log\"; filename=\"dump.json\"\r\nContent-Type: application/json\r\n\r\n{\"sn\":\"A1\"}\r\n--XyZ--\r\n";
        assert_eq!(boundary("multipart/form-data; boundary=\"XyZ\""), Some("XyZ".into()));
        let Parts { parts: p, rest } = parts(body, "XyZ");
        assert_eq!((p.len(), rest), (2, None));
        assert_eq!((p[0].name.as_deref(), p[0].data), (Some("imei"), &b"356938035643809"[..]));
        assert_eq!((p[1].filename.as_deref(), p[1].data), (Some("dump.json"), &b"{\"sn\":\"A1\"}"[..]));
        // Cut before the closing boundary: the last part is kept.
        let cut = parts(&body[..60], "XyZ").parts;
        assert_eq!(cut[0].name.as_deref(), Some("imei"));
    }

    #[test]
    fn parts_past_the_limit_are_handed_back() {
        let mut body = String::new();
        for i in 0..MAX_PARTS + 2 {
            body.push_str(&format!("--b\r\nContent-Disposition: form-data; name=\"p{i}\"\r\n\r\nv{i}\r\n"));
        }
        body.push_str("--b--\r\n");
        let p = parts(body.as_bytes(), "b");
        assert_eq!(p.parts.len(), MAX_PARTS);
        let rest = crate::util::lossy(p.rest.expect("parts past the limit"));
        assert!(rest.starts_with(&format!("--b\r\nContent-Disposition: form-data; name=\"p{MAX_PARTS}\"")), "{rest}");
        assert!(rest.ends_with("v257\r\n--b--\r\n"));
        // Exactly the limit, then the closing delimiter: nothing left.
        let mut exact = String::new();
        for i in 0..MAX_PARTS {
            exact.push_str(&format!("--b\r\n\r\nv{i}\r\n"));
        }
        exact.push_str("--b--\r\n");
        assert_eq!(parts(exact.as_bytes(), "b").rest, None);
    }
}
