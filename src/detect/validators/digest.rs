//! A digest under a hash-named identifier key (`imei_md5`, `md5_imei`,
//! `oaidSha256`, `hashed_email`): SDKs hash the IMEI, MAC or Android ID
//! and send the digest, which still names the device (the same device
//! always gives the same digest, and an IMEI's digest is reversed by trying
//! every IMEI of a model's TAC). Example: `imei_md5=
//! 0f5e7e6bb12b4ab6a7e2b2a1d0d1d15c`.
//!
//! The key decides the kind and the digest (see `rules/keys.toml`); the
//! value must have that digest's shape: hex of its length (MD5 32, SHA-1
//! 40, SHA-256 64; for `hash`, `hashed`, `digest`, `sha`, any of them), or
//! base64 of its bytes. Traps: a hash with no identifier name (`md5=` of a
//! file, a 32-hex `request_id`) never comes here; a value of another length
//! or with non-hex letters is not reported; all-same digits (`000...`) are
//! placeholders.

use base64::Engine as _;

use super::all_same;
use crate::detect::keys::Algo;

/// Digest lengths in bytes.
const DIGESTS: [(Algo, &str, usize); 3] =
    [(Algo::Md5, "md5", 16), (Algo::Sha1, "sha1", 20), (Algo::Sha256, "sha256", 32)];

/// A digest found: the value as sent, the digest's name, and whether it
/// was written in base64 (else hex).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest<'a> {
    pub value: &'a str,
    pub algo: &'static str,
    pub base64: bool,
}

/// Is `value` a digest of the kind `algo` names?
pub fn detect(algo: Algo, value: &str) -> Option<Digest<'_>> {
    let v = value.trim();
    if v.len() > 64 || all_same(v) {
        return None;
    }
    let fits = |a: Algo| algo == a || algo == Algo::Any;
    if v.bytes().all(|b| b.is_ascii_hexdigit()) {
        let (_, name, _) = DIGESTS.iter().find(|(a, _, n)| fits(*a) && v.len() == 2 * n)?;
        return Some(Digest { value: v, algo: name, base64: false });
    }
    // Base64 of the digest's bytes (standard or URL-safe, padded or not);
    // random bytes give both cases of letters.
    let b = v.as_bytes();
    if !(b.iter().any(u8::is_ascii_lowercase) && b.iter().any(u8::is_ascii_uppercase)) {
        return None;
    }
    let bare = v.trim_end_matches('=');
    let bytes = base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(bare)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(bare))
        .ok()?;
    let (_, name, _) = DIGESTS.iter().find(|(a, _, n)| fits(*a) && bytes.len() == *n)?;
    Some(Digest { value: v, algo: name, base64: true })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_the_named_length() {
        let md5 = "0f5e7e6bb12b4ab6a7e2b2a1d0d1d15c";
        assert_eq!(detect(Algo::Md5, md5), Some(Digest { value: md5, algo: "md5", base64: false }));
        assert_eq!(detect(Algo::Any, &md5.to_ascii_uppercase()).map(|d| d.algo), Some("md5"));
        assert_eq!(detect(Algo::Sha1, md5), None, "an MD5's length under a SHA-1 name");
        assert_eq!(detect(Algo::Any, &"ab".repeat(20)).map(|d| d.algo), Some("sha1"));
        assert_eq!(detect(Algo::Sha256, &"a1".repeat(32)).map(|d| d.algo), Some("sha256"));
        assert_eq!(detect(Algo::Md5, &"0".repeat(32)), None);
        assert_eq!(detect(Algo::Md5, "356938035643809"), None);
        assert_eq!(detect(Algo::Md5, "0f5e7e6bb12b4ab6a7e2b2a1d0d1d15z"), None);
        // base64 of an MD5 (16 bytes): 24 characters padded, 22 bare.
        let b64 = base64::engine::general_purpose::STANDARD
            .encode([0xfbu8, 0x1f, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 1, 2, 3, 4, 5, 6, 0xfe]);
        assert_eq!(detect(Algo::Md5, &b64).map(|d| (d.algo, d.base64)), Some(("md5", true)));
        assert_eq!(detect(Algo::Md5, b64.trim_end_matches('=')).map(|d| d.algo), Some("md5"));
        assert_eq!(detect(Algo::Sha256, &b64), None);
        assert_eq!(detect(Algo::Md5, "not a digest at all"), None);
        assert_eq!(detect(Algo::None, md5), None);
    }
}
