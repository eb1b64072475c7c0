//! TLS record protection from logged secrets: key derivation and record decryption.
//!
//! Role: turn the secrets of an NSS key log (a TLS 1.0-1.2 master secret, or a TLS 1.3
//! traffic secret) into one direction's record cipher and open the records of that
//! direction, as Wireshark's `packet-tls-utils.c` does (`ssl_generate_keyring_material`,
//! `tls13_generate_keys`, `ssl_decrypt_record`, `tls_decrypt_aead_record`).
//!
//! Input: a cipher suite id, the negotiated version, the secret and, for TLS <= 1.2, the
//! two hello randoms; then each record's 5-byte header and fragment, in order.
//! Output: the record's plaintext (appended to a caller's buffer) and its content type.
//!
//! Never: performs I/O, allocates per record beyond growing the caller's buffer, or panics
//! on any input. Every length is checked before it is sliced; a record that does not
//! authenticate leaves the cipher state (sequence number, chained IV) as it was, so the
//! caller may retry it with another key. `encrypt` exists for tests, fixtures and fuzzing.
#![deny(unsafe_code)]

use aes::cipher::array::Array;
use aes::cipher::consts::{U8, U12, U16};
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, InnerIvInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use aes_gcm::{Aes128Gcm, Aes256Gcm};
use ccm::Ccm;
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use hmac::{Hmac, Mac as _};
use md5::Md5;
use sha1::Sha1;
use sha2::{Sha256, Sha384};

/// Largest TLS plaintext fragment (RFC 8446 5.1, RFC 5246 6.2.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest TLS 1.3 ciphertext fragment: plaintext + 256 (RFC 8446 5.2).
const MAX_CIPHERTEXT_TLS13: usize = MAX_PLAINTEXT + 256;
/// Largest TLS 1.0-1.2 ciphertext fragment: plaintext + 2048 (RFC 5246 6.2.3).
const MAX_CIPHERTEXT_TLS12: usize = MAX_PLAINTEXT + 2048;
/// AES block size, which is also the CBC IV size.
const BLOCK: usize = 16;
/// Length of the explicit nonce carried in TLS 1.2 AES-GCM/CCM records (RFC 5288 3).
const EXPLICIT_NONCE: usize = 8;
/// Content type of the outer header of every protected TLS 1.3 record.
const APPLICATION_DATA: u8 = 23;

/// A TLS protocol version that has record protection we implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Version {
    /// TLS 1.0 (RFC 2246): CBC IV chained across records.
    Tls10,
    /// TLS 1.1 (RFC 4346): explicit CBC IV per record.
    Tls11,
    /// TLS 1.2 (RFC 5246).
    Tls12,
    /// TLS 1.3 (RFC 8446).
    Tls13,
}

impl Version {
    /// The version for its wire value (0x0301..0x0304); SSL 3.0 and DTLS are `None`.
    pub fn from_wire(value: u16) -> Option<Version> {
        match value {
            0x0301 => Some(Version::Tls10),
            0x0302 => Some(Version::Tls11),
            0x0303 => Some(Version::Tls12),
            0x0304 => Some(Version::Tls13),
            _ => None,
        }
    }

    /// The wire value (0x0301..0x0304).
    pub fn wire(self) -> u16 {
        match self {
            Version::Tls10 => 0x0301,
            Version::Tls11 => 0x0302,
            Version::Tls12 => 0x0303,
            Version::Tls13 => 0x0304,
        }
    }

    /// "1.0" .. "1.3", for reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Tls10 => "1.0",
            Version::Tls11 => "1.1",
            Version::Tls12 => "1.2",
            Version::Tls13 => "1.3",
        }
    }
}

/// The hash of a cipher suite: the TLS 1.2 PRF hash or the TLS 1.3 HKDF hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Hash {
    /// SHA-256 (32-byte output).
    Sha256,
    /// SHA-384 (48-byte output).
    Sha384,
}

impl Hash {
    /// Output length in bytes, which is also the length of a TLS 1.3 secret of this hash.
    pub fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
        }
    }
}

/// A TLS PRF (RFC 5246 5; RFC 2246 5 for TLS 1.0/1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prf {
    /// TLS 1.2 P_SHA256.
    Sha256,
    /// TLS 1.2 P_SHA384.
    Sha384,
    /// TLS 1.0/1.1: P_MD5 xor P_SHA1 over the two halves of the secret, whatever the suite.
    Md5Sha1,
}

impl Prf {
    /// The PRF that `version` uses with `suite`.
    pub fn for_suite(version: Version, suite: &Suite) -> Prf {
        match (version, suite.hash) {
            (Version::Tls10 | Version::Tls11, _) => Prf::Md5Sha1,
            (_, Hash::Sha256) => Prf::Sha256,
            (_, Hash::Sha384) => Prf::Sha384,
        }
    }
}

/// The bulk cipher of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// AES-128-GCM (RFC 5288, RFC 8446).
    Aes128Gcm,
    /// AES-256-GCM.
    Aes256Gcm,
    /// ChaCha20-Poly1305 (RFC 7905, RFC 8446).
    ChaCha20Poly1305,
    /// AES-128-CCM with a 16-byte tag (RFC 6655).
    Aes128Ccm,
    /// AES-256-CCM with a 16-byte tag.
    Aes256Ccm,
    /// AES-128-CCM with an 8-byte tag.
    Aes128Ccm8,
    /// AES-256-CCM with an 8-byte tag.
    Aes256Ccm8,
    /// AES-128-CBC with an HMAC (RFC 5246 6.2.3.2).
    Aes128Cbc,
    /// AES-256-CBC with an HMAC.
    Aes256Cbc,
}

impl Cipher {
    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        match self {
            Cipher::Aes128Gcm | Cipher::Aes128Ccm | Cipher::Aes128Ccm8 | Cipher::Aes128Cbc => 16,
            _ => 32,
        }
    }

    /// AEAD tag length in bytes; 0 for CBC.
    pub fn tag_len(self) -> usize {
        match self {
            Cipher::Aes128Ccm8 | Cipher::Aes256Ccm8 => 8,
            Cipher::Aes128Cbc | Cipher::Aes256Cbc => 0,
            _ => 16,
        }
    }

    /// Whether this is a CBC (MAC-protected) cipher rather than an AEAD.
    pub fn is_cbc(self) -> bool {
        matches!(self, Cipher::Aes128Cbc | Cipher::Aes256Cbc)
    }

    /// Length of the implicit IV that TLS 1.0-1.2 take from the key block (RFC 5246 6.3).
    fn implicit_iv_len(self, version: Version) -> usize {
        match self {
            Cipher::ChaCha20Poly1305 => 12,
            // Only TLS 1.0 chains CBC IVs from the key block; later versions send them.
            Cipher::Aes128Cbc | Cipher::Aes256Cbc if version == Version::Tls10 => BLOCK,
            Cipher::Aes128Cbc | Cipher::Aes256Cbc => 0,
            _ => 4,
        }
    }
}

/// The record MAC of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mac {
    /// No separate MAC: the AEAD tag authenticates.
    Aead,
    /// HMAC-SHA1 (20-byte key and tag).
    Sha1,
    /// HMAC-SHA256 (32 bytes).
    Sha256,
    /// HMAC-SHA384 (48 bytes).
    Sha384,
}

impl Mac {
    /// MAC key and tag length in bytes; 0 for AEAD suites.
    pub fn output_len(self) -> usize {
        match self {
            Mac::Aead => 0,
            Mac::Sha1 => 20,
            Mac::Sha256 => 32,
            Mac::Sha384 => 48,
        }
    }
}

/// A cipher suite we can decrypt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Suite {
    /// IANA value, e.g. 0xC030.
    pub id: u16,
    /// IANA name, e.g. "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".
    pub name: &'static str,
    /// Bulk cipher.
    pub cipher: Cipher,
    /// Record MAC (CBC suites only).
    pub mac: Mac,
    /// PRF hash (TLS 1.2) or HKDF hash (TLS 1.3): SHA-384 iff the name ends in SHA384.
    pub hash: Hash,
    /// A TLS 1.3 suite (usable only with TLS 1.3, and TLS 1.3 only with these).
    pub tls13: bool,
}

const fn tls13(id: u16, name: &'static str, cipher: Cipher, hash: Hash) -> Suite {
    Suite { id, name, cipher, mac: Mac::Aead, hash, tls13: true }
}

const fn aead(id: u16, name: &'static str, cipher: Cipher, hash: Hash) -> Suite {
    Suite { id, name, cipher, mac: Mac::Aead, hash, tls13: false }
}

/// A CBC suite; its PRF hash follows its MAC (SHA-384 only for the _SHA384 suites).
const fn cbc(id: u16, name: &'static str, cipher: Cipher, mac: Mac) -> Suite {
    let hash = if matches!(mac, Mac::Sha384) { Hash::Sha384 } else { Hash::Sha256 };
    Suite { id, name, cipher, mac, hash, tls13: false }
}

use Cipher::ChaCha20Poly1305 as ChaCha;
use Cipher::{Aes128Cbc as C128, Aes128Ccm as Ccm128, Aes128Ccm8 as Ccm128_8, Aes128Gcm as G128};
use Cipher::{Aes256Cbc as C256, Aes256Ccm as Ccm256, Aes256Ccm8 as Ccm256_8, Aes256Gcm as G256};
use Hash::{Sha256 as H256, Sha384 as H384};

/// Every suite we decrypt. Names are IANA's ("TLS Cipher Suites" registry); the key exchange
/// does not matter here, so every AES/ChaCha20 suite with the standard PRF is listed.
#[rustfmt::skip]
static SUITES: &[Suite] = &[
    tls13(0x1301, "TLS_AES_128_GCM_SHA256", G128, H256),
    tls13(0x1302, "TLS_AES_256_GCM_SHA384", G256, H384),
    tls13(0x1303, "TLS_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    tls13(0x1304, "TLS_AES_128_CCM_SHA256", Ccm128, H256),
    tls13(0x1305, "TLS_AES_128_CCM_8_SHA256", Ccm128_8, H256),
    cbc(0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0034, "TLS_DH_anon_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x003A, "TLS_DH_anon_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256", C256, Mac::Sha256),
    cbc(0x003E, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x003F, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x0040, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256", C256, Mac::Sha256),
    cbc(0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256", C256, Mac::Sha256),
    cbc(0x006A, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA256", C256, Mac::Sha256),
    cbc(0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256", C256, Mac::Sha256),
    cbc(0x006C, "TLS_DH_anon_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x006D, "TLS_DH_anon_WITH_AES_256_CBC_SHA256", C256, Mac::Sha256),
    cbc(0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x0090, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0091, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0x0094, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0x0095, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    aead(0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x00A0, "TLS_DH_RSA_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x00A1, "TLS_DH_RSA_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x00A2, "TLS_DHE_DSS_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x00A3, "TLS_DHE_DSS_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x00A4, "TLS_DH_DSS_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x00A5, "TLS_DH_DSS_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x00A6, "TLS_DH_anon_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x00A7, "TLS_DH_anon_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x00AA, "TLS_DHE_PSK_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x00AB, "TLS_DHE_PSK_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0x00AC, "TLS_RSA_PSK_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0x00AD, "TLS_RSA_PSK_WITH_AES_256_GCM_SHA384", G256, H384),
    cbc(0x00AE, "TLS_PSK_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x00AF, "TLS_PSK_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    cbc(0x00B2, "TLS_DHE_PSK_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x00B3, "TLS_DHE_PSK_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    cbc(0x00B6, "TLS_RSA_PSK_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0x00B7, "TLS_RSA_PSK_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    cbc(0xC004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0xC005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0xC00E, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0xC00F, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0xC018, "TLS_ECDH_anon_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0xC019, "TLS_ECDH_anon_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    cbc(0xC025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0xC026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    cbc(0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    cbc(0xC029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0xC02A, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    aead(0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0xC02D, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0xC02E, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0xC031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0xC032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384", G256, H384),
    cbc(0xC035, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA", C128, Mac::Sha1),
    cbc(0xC036, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA", C256, Mac::Sha1),
    cbc(0xC037, "TLS_ECDHE_PSK_WITH_AES_128_CBC_SHA256", C128, Mac::Sha256),
    cbc(0xC038, "TLS_ECDHE_PSK_WITH_AES_256_CBC_SHA384", C256, Mac::Sha384),
    aead(0xC09C, "TLS_RSA_WITH_AES_128_CCM", Ccm128, H256),
    aead(0xC09D, "TLS_RSA_WITH_AES_256_CCM", Ccm256, H256),
    aead(0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM", Ccm128, H256),
    aead(0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM", Ccm256, H256),
    aead(0xC0A0, "TLS_RSA_WITH_AES_128_CCM_8", Ccm128_8, H256),
    aead(0xC0A1, "TLS_RSA_WITH_AES_256_CCM_8", Ccm256_8, H256),
    aead(0xC0A2, "TLS_DHE_RSA_WITH_AES_128_CCM_8", Ccm128_8, H256),
    aead(0xC0A3, "TLS_DHE_RSA_WITH_AES_256_CCM_8", Ccm256_8, H256),
    aead(0xC0A4, "TLS_PSK_WITH_AES_128_CCM", Ccm128, H256),
    aead(0xC0A5, "TLS_PSK_WITH_AES_256_CCM", Ccm256, H256),
    aead(0xC0A6, "TLS_DHE_PSK_WITH_AES_128_CCM", Ccm128, H256),
    aead(0xC0A7, "TLS_DHE_PSK_WITH_AES_256_CCM", Ccm256, H256),
    aead(0xC0A8, "TLS_PSK_WITH_AES_128_CCM_8", Ccm128_8, H256),
    aead(0xC0A9, "TLS_PSK_WITH_AES_256_CCM_8", Ccm256_8, H256),
    aead(0xC0AA, "TLS_PSK_DHE_WITH_AES_128_CCM_8", Ccm128_8, H256),
    aead(0xC0AB, "TLS_PSK_DHE_WITH_AES_256_CCM_8", Ccm256_8, H256),
    aead(0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM", Ccm128, H256),
    aead(0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM", Ccm256, H256),
    aead(0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8", Ccm128_8, H256),
    aead(0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8", Ccm256_8, H256),
    aead(0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    aead(0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    aead(0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    aead(0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    aead(0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    aead(0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    aead(0xCCAE, "TLS_RSA_PSK_WITH_CHACHA20_POLY1305_SHA256", ChaCha, H256),
    aead(0xD001, "TLS_ECDHE_PSK_WITH_AES_128_GCM_SHA256", G128, H256),
    aead(0xD002, "TLS_ECDHE_PSK_WITH_AES_256_GCM_SHA384", G256, H384),
    aead(0xD003, "TLS_ECDHE_PSK_WITH_AES_128_CCM_8_SHA256", Ccm128_8, H256),
    aead(0xD005, "TLS_ECDHE_PSK_WITH_AES_128_CCM_SHA256", Ccm128, H256),
];

/// IANA names of suites we cannot decrypt but that captures show, so a report can say
/// which one it met. Dense on purpose: it is a lookup list, not code.
#[rustfmt::skip]
static UNSUPPORTED_NAMES: &[(u16, &str)] = &[
    (0x0000, "TLS_NULL_WITH_NULL_NULL"), (0x0001, "TLS_RSA_WITH_NULL_MD5"), (0x0002, "TLS_RSA_WITH_NULL_SHA"),
    (0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"), (0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
    (0x0005, "TLS_RSA_WITH_RC4_128_SHA"), (0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"),
    (0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"), (0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"),
    (0x0009, "TLS_RSA_WITH_DES_CBC_SHA"), (0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x000D, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"), (0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"), (0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    (0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"), (0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"),
    (0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"), (0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"),
    (0x001B, "TLS_DH_anon_WITH_3DES_EDE_CBC_SHA"), (0x002C, "TLS_PSK_WITH_NULL_SHA"),
    (0x002D, "TLS_DHE_PSK_WITH_NULL_SHA"), (0x002E, "TLS_RSA_PSK_WITH_NULL_SHA"),
    (0x003B, "TLS_RSA_WITH_NULL_SHA256"), (0x0041, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    (0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"), (0x0066, "TLS_DHE_DSS_WITH_RC4_128_SHA"),
    (0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"), (0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    (0x008A, "TLS_PSK_WITH_RC4_128_SHA"), (0x008B, "TLS_PSK_WITH_3DES_EDE_CBC_SHA"),
    (0x008E, "TLS_DHE_PSK_WITH_RC4_128_SHA"), (0x008F, "TLS_DHE_PSK_WITH_3DES_EDE_CBC_SHA"),
    (0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA"), (0x0093, "TLS_RSA_PSK_WITH_3DES_EDE_CBC_SHA"),
    (0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"), (0x009A, "TLS_DHE_RSA_WITH_SEED_CBC_SHA"),
    (0x00B0, "TLS_PSK_WITH_NULL_SHA256"), (0x00B1, "TLS_PSK_WITH_NULL_SHA384"),
    (0x00B4, "TLS_DHE_PSK_WITH_NULL_SHA256"), (0x00B5, "TLS_DHE_PSK_WITH_NULL_SHA384"),
    (0x00B8, "TLS_RSA_PSK_WITH_NULL_SHA256"), (0x00B9, "TLS_RSA_PSK_WITH_NULL_SHA384"),
    (0x00BA, "TLS_RSA_WITH_CAMELLIA_128_CBC_SHA256"), (0x00BE, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0x00C0, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA256"), (0x00C4, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA256"),
    (0x00C6, "TLS_SM4_GCM_SM3"), (0x00C7, "TLS_SM4_CCM_SM3"), (0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"),
    (0x5600, "TLS_FALLBACK_SCSV"), (0xC001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"),
    (0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"), (0xC003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC006, "TLS_ECDHE_ECDSA_WITH_NULL_SHA"), (0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    (0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"), (0xC00B, "TLS_ECDH_RSA_WITH_NULL_SHA"),
    (0xC00C, "TLS_ECDH_RSA_WITH_RC4_128_SHA"), (0xC00D, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"),
    (0xC010, "TLS_ECDHE_RSA_WITH_NULL_SHA"), (0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    (0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"), (0xC015, "TLS_ECDH_anon_WITH_NULL_SHA"),
    (0xC016, "TLS_ECDH_anon_WITH_RC4_128_SHA"), (0xC017, "TLS_ECDH_anon_WITH_3DES_EDE_CBC_SHA"),
    (0xC033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA"), (0xC034, "TLS_ECDHE_PSK_WITH_3DES_EDE_CBC_SHA"),
    (0xC039, "TLS_ECDHE_PSK_WITH_NULL_SHA"), (0xC03A, "TLS_ECDHE_PSK_WITH_NULL_SHA256"),
    (0xC03B, "TLS_ECDHE_PSK_WITH_NULL_SHA384"), (0xC03C, "TLS_RSA_WITH_ARIA_128_CBC_SHA256"),
    (0xC03D, "TLS_RSA_WITH_ARIA_256_CBC_SHA384"), (0xC04C, "TLS_ECDHE_RSA_WITH_ARIA_128_CBC_SHA256"),
    (0xC04D, "TLS_ECDHE_RSA_WITH_ARIA_256_CBC_SHA384"), (0xC050, "TLS_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC051, "TLS_RSA_WITH_ARIA_256_GCM_SHA384"), (0xC052, "TLS_DHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC053, "TLS_DHE_RSA_WITH_ARIA_256_GCM_SHA384"), (0xC05C, "TLS_ECDHE_ECDSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC05D, "TLS_ECDHE_ECDSA_WITH_ARIA_256_GCM_SHA384"), (0xC060, "TLS_ECDHE_RSA_WITH_ARIA_128_GCM_SHA256"),
    (0xC061, "TLS_ECDHE_RSA_WITH_ARIA_256_GCM_SHA384"), (0xC06A, "TLS_PSK_WITH_ARIA_128_GCM_SHA256"),
    (0xC06B, "TLS_PSK_WITH_ARIA_256_GCM_SHA384"), (0xC072, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC073, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_CBC_SHA384"), (0xC076, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC077, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_CBC_SHA384"), (0xC07A, "TLS_RSA_WITH_CAMELLIA_128_GCM_SHA256"),
    (0xC07B, "TLS_RSA_WITH_CAMELLIA_256_GCM_SHA384"), (0xC07C, "TLS_DHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"),
    (0xC07D, "TLS_DHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"), (0xC086, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_128_GCM_SHA256"),
    (0xC087, "TLS_ECDHE_ECDSA_WITH_CAMELLIA_256_GCM_SHA384"), (0xC08A, "TLS_ECDHE_RSA_WITH_CAMELLIA_128_GCM_SHA256"),
    (0xC08B, "TLS_ECDHE_RSA_WITH_CAMELLIA_256_GCM_SHA384"), (0xC08E, "TLS_PSK_WITH_CAMELLIA_128_GCM_SHA256"),
    (0xC08F, "TLS_PSK_WITH_CAMELLIA_256_GCM_SHA384"), (0xC094, "TLS_PSK_WITH_CAMELLIA_128_CBC_SHA256"),
    (0xC095, "TLS_PSK_WITH_CAMELLIA_256_CBC_SHA384"),
];

/// The suite `id` if we can decrypt it.
pub fn suite(id: u16) -> Option<&'static Suite> {
    SUITES.iter().find(|s| s.id == id)
}

/// The IANA name of `id`, for supported suites and for common ones we cannot decrypt.
pub fn suite_name(id: u16) -> Option<&'static str> {
    suite(id).map(|s| s.name).or_else(|| UNSUPPORTED_NAMES.iter().find(|(i, _)| *i == id).map(|(_, n)| *n))
}

/// Why record keys could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The suite does not belong to this version (a TLS 1.3 suite with TLS 1.2, AES-GCM with
    /// TLS 1.0, ...): the handshake or the caller's bookkeeping is wrong.
    #[error("cipher suite {suite} cannot be used with TLS {version}")]
    SuiteVersion {
        /// IANA name of the suite.
        suite: &'static str,
        /// Version string, "1.0".."1.3".
        version: &'static str,
    },
    /// A TLS 1.3 secret whose length is not the suite hash's (e.g. a SHA-256 secret logged
    /// for a SHA-384 suite).
    #[error("secret is {got} bytes, the suite's hash needs {expected}")]
    SecretLength {
        /// Length the hash requires.
        expected: usize,
        /// Length given.
        got: usize,
    },
    /// An HKDF-Expand-Label request outside what the HkdfLabel encoding or HKDF allow.
    #[error("HKDF-Expand-Label input or output too long")]
    LabelTooLong,
    /// KeyUpdate asked of a TLS 1.0-1.2 cipher, which has no such thing.
    #[error("KeyUpdate exists only in TLS 1.3")]
    NotTls13,
}

/// Why a record did not decrypt. Any of these may mean "wrong key", not only "bad record".
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecryptError {
    /// The fragment is too short for its nonce, tag, IV, MAC or padding.
    #[error("record fragment too short for the cipher")]
    TooShort,
    /// The fragment exceeds the RFC's ciphertext limit for the version.
    #[error("record fragment of {0} bytes exceeds the TLS limit")]
    TooLong(usize),
    /// The header's length field disagrees with the fragment handed over.
    #[error("record header says {header} bytes but the fragment has {fragment}")]
    LengthMismatch {
        /// Length from the header.
        header: usize,
        /// Length of the fragment.
        fragment: usize,
    },
    /// CBC ciphertext that is not a whole number of blocks.
    #[error("CBC ciphertext is not a whole number of blocks")]
    NotBlockAligned,
    /// AEAD authentication failed.
    #[error("AEAD tag does not authenticate the record")]
    BadTag,
    /// HMAC mismatch (CBC suites).
    #[error("record MAC mismatch")]
    BadMac,
    /// CBC padding bytes inconsistent (MAC-then-encrypt or encrypt-then-MAC).
    #[error("CBC padding is malformed")]
    BadPadding,
    /// TLS 1.3 inner plaintext of only zeros: no content type (RFC 8446 5.4).
    #[error("TLS 1.3 record has no inner content type")]
    NoContentType,
}

/// `encrypt` refused its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncryptError {
    /// More plaintext than one record may carry (2^14 bytes).
    #[error("plaintext of {0} bytes exceeds one record")]
    TooLong(usize),
}

/// The TLS 1.2 PRF (`Sha256`, `Sha384`: P_hash, RFC 5246 5) or the TLS 1.0/1.1 PRF
/// (`Md5Sha1`: P_MD5(S1) xor P_SHA1(S2), the halves overlapping by one byte when the secret's
/// length is odd, RFC 2246 5). Fills `out` entirely.
pub fn prf(prf: Prf, secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8]) {
    match prf {
        Prf::Sha256 => p_hash::<Sha256>(secret, label, seed, out, false),
        Prf::Sha384 => p_hash::<Sha384>(secret, label, seed, out, false),
        Prf::Md5Sha1 => {
            let half = secret.len().div_ceil(2);
            let s1 = &secret[..half];
            let s2 = &secret[secret.len() - half..];
            p_hash::<Md5>(s1, label, seed, out, false);
            p_hash::<Sha1>(s2, label, seed, out, true);
        }
    }
}

/// P_hash(secret, label || seed) written into `out`, or xored into it when `xor`.
fn p_hash<D>(secret: &[u8], label: &[u8], seed: &[u8], out: &mut [u8], xor: bool)
where
    D: hmac::EagerHash,
    Hmac<D>: hmac::KeyInit + hmac::Mac + Clone,
{
    // HMAC takes keys of any length, so this cannot fail; the fallback only keeps it total.
    let Ok(keyed) = <Hmac<D> as hmac::KeyInit>::new_from_slice(secret) else { return };
    let mut a = keyed.clone().chain_update(label).chain_update(seed).finalize().into_bytes();
    for chunk in out.chunks_mut(a.len()) {
        let block = keyed.clone().chain_update(&a).chain_update(label).chain_update(seed).finalize().into_bytes();
        for (o, b) in chunk.iter_mut().zip(block.iter()) {
            *o = if xor { *o ^ b } else { *b };
        }
        a = keyed.clone().chain_update(&a).finalize().into_bytes();
    }
}

/// HKDF-Expand-Label (RFC 8446 7.1) with `label` given without its "tls13 " prefix.
/// `secret` must be at least the hash's length (HKDF's PRK rule).
pub fn hkdf_expand_label(
    hash: Hash,
    secret: &[u8],
    label: &str,
    context: &[u8],
    len: usize,
) -> Result<Vec<u8>, KeyError> {
    const PREFIX: &[u8] = b"tls13 ";
    let label_len = u8::try_from(PREFIX.len() + label.len()).map_err(|_| KeyError::LabelTooLong)?;
    let context_len = u8::try_from(context.len()).map_err(|_| KeyError::LabelTooLong)?;
    let out_len = u16::try_from(len).map_err(|_| KeyError::LabelTooLong)?;
    let info: [&[u8]; 6] = [&out_len.to_be_bytes(), &[label_len], PREFIX, label.as_bytes(), &[context_len], context];
    let mut out = vec![0; len];
    let short = |_| KeyError::SecretLength { expected: hash.output_len(), got: secret.len() };
    let expanded = match hash {
        Hash::Sha256 => Hkdf::<Sha256>::from_prk(secret).map_err(short)?.expand_multi_info(&info, &mut out),
        Hash::Sha384 => Hkdf::<Sha384>::from_prk(secret).map_err(short)?.expand_multi_info(&info, &mut out),
    };
    // HKDF caps the output at 255 hash blocks.
    expanded.map_err(|_| KeyError::LabelTooLong)?;
    Ok(out)
}

/// Which endpoint's writes a cipher protects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// Records the client sends.
    Client,
    /// Records the server sends.
    Server,
}

/// A keyed bulk cipher. Boxed because the AES key schedules are large and a connection
/// holds two of these.
#[derive(Clone)]
enum Engine {
    Aes128Gcm(Box<Aes128Gcm>),
    Aes256Gcm(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
    Aes128Ccm(Box<Ccm<Aes128, U16, U12>>),
    Aes256Ccm(Box<Ccm<Aes256, U16, U12>>),
    Aes128Ccm8(Box<Ccm<Aes128, U8, U12>>),
    Aes256Ccm8(Box<Ccm<Aes256, U8, U12>>),
    Aes128Cbc(Box<Aes128>),
    Aes256Cbc(Box<Aes256>),
}

/// Runs `$body` with `$a` bound to whichever AEAD the engine holds; `$cbc` for CBC engines.
macro_rules! with_aead {
    ($engine:expr, $a:ident => $body:expr, $cbc:expr) => {
        match $engine {
            Engine::Aes128Gcm($a) => $body,
            Engine::Aes256Gcm($a) => $body,
            Engine::ChaCha($a) => $body,
            Engine::Aes128Ccm($a) => $body,
            Engine::Aes256Ccm($a) => $body,
            Engine::Aes128Ccm8($a) => $body,
            Engine::Aes256Ccm8($a) => $body,
            Engine::Aes128Cbc(_) | Engine::Aes256Cbc(_) => $cbc,
        }
    };
}

impl Engine {
    /// Keys the cipher; `key` has `cipher.key_len()` bytes by construction.
    fn new(cipher: Cipher, key: &[u8]) -> Option<Engine> {
        Some(match cipher {
            Cipher::Aes128Gcm => Engine::Aes128Gcm(Box::new(KeyInit::new_from_slice(key).ok()?)),
            Cipher::Aes256Gcm => Engine::Aes256Gcm(Box::new(KeyInit::new_from_slice(key).ok()?)),
            Cipher::ChaCha20Poly1305 => Engine::ChaCha(Box::new(KeyInit::new_from_slice(key).ok()?)),
            Cipher::Aes128Ccm => Engine::Aes128Ccm(Box::new(KeyInit::new_from_slice(key).ok()?)),
            Cipher::Aes256Ccm => Engine::Aes256Ccm(Box::new(KeyInit::new_from_slice(key).ok()?)),
            Cipher::Aes128Ccm8 => Engine::Aes128Ccm8(Box::new(KeyInit::new_from_slice(key).ok()?)),
            Cipher::Aes256Ccm8 => Engine::Aes256Ccm8(Box::new(KeyInit::new_from_slice(key).ok()?)),
            Cipher::Aes128Cbc => Engine::Aes128Cbc(Box::new(aes::cipher::KeyInit::new_from_slice(key).ok()?)),
            Cipher::Aes256Cbc => Engine::Aes256Cbc(Box::new(aes::cipher::KeyInit::new_from_slice(key).ok()?)),
        })
    }

    /// Decrypts `buf` in place if `tag` authenticates it with `aad`.
    fn open(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<(), DecryptError> {
        with_aead!(self, a => aead_open(&**a, nonce, aad, buf, tag), Err(DecryptError::BadTag))
    }

    /// Encrypts `buf` in place and returns its tag.
    fn seal(&self, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Vec<u8> {
        with_aead!(self, a => aead_seal(&**a, nonce, aad, buf), Vec::new())
    }

    /// CBC-decrypts whole blocks in place.
    fn cbc_decrypt(&self, iv: &[u8; BLOCK], buf: &mut [u8]) {
        let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(buf);
        let iv = Array::from(*iv);
        match self {
            Engine::Aes128Cbc(c) => cbc::Decryptor::<Aes128>::inner_iv_init((**c).clone(), &iv).decrypt_blocks(blocks),
            Engine::Aes256Cbc(c) => cbc::Decryptor::<Aes256>::inner_iv_init((**c).clone(), &iv).decrypt_blocks(blocks),
            _ => {}
        }
    }

    /// CBC-encrypts whole blocks in place.
    fn cbc_encrypt(&self, iv: &[u8; BLOCK], buf: &mut [u8]) {
        let (blocks, _) = Array::<u8, U16>::slice_as_chunks_mut(buf);
        let iv = Array::from(*iv);
        match self {
            Engine::Aes128Cbc(c) => cbc::Encryptor::<Aes128>::inner_iv_init((**c).clone(), &iv).encrypt_blocks(blocks),
            Engine::Aes256Cbc(c) => cbc::Encryptor::<Aes256>::inner_iv_init((**c).clone(), &iv).encrypt_blocks(blocks),
            _ => {}
        }
    }
}

fn aead_open<A: AeadInOut>(
    a: &A,
    nonce: &[u8; 12],
    aad: &[u8],
    buf: &mut [u8],
    tag: &[u8],
) -> Result<(), DecryptError> {
    let nonce = Nonce::<A>::try_from(&nonce[..]).map_err(|_| DecryptError::BadTag)?;
    let tag = Tag::<A>::try_from(tag).map_err(|_| DecryptError::TooShort)?;
    a.decrypt_inout_detached(&nonce, aad, buf.into(), &tag).map_err(|_| DecryptError::BadTag)
}

fn aead_seal<A: AeadInOut>(a: &A, nonce: &[u8; 12], aad: &[u8], buf: &mut [u8]) -> Vec<u8> {
    let Ok(nonce) = Nonce::<A>::try_from(&nonce[..]) else { return Vec::new() };
    // Only over-long inputs fail, and `encrypt` bounds the plaintext first.
    a.encrypt_inout_detached(&nonce, aad, buf.into()).map(|t| t.to_vec()).unwrap_or_default()
}

/// A keyed HMAC, cloned per record so the key schedule runs once per connection.
#[derive(Clone)]
enum MacKey {
    Sha1(Hmac<Sha1>),
    Sha256(Hmac<Sha256>),
    Sha384(Hmac<Sha384>),
}

impl MacKey {
    fn new(mac: Mac, key: &[u8]) -> Option<MacKey> {
        use hmac::KeyInit as _;
        match mac {
            Mac::Aead => None,
            Mac::Sha1 => Hmac::new_from_slice(key).ok().map(MacKey::Sha1),
            Mac::Sha256 => Hmac::new_from_slice(key).ok().map(MacKey::Sha256),
            Mac::Sha384 => Hmac::new_from_slice(key).ok().map(MacKey::Sha384),
        }
    }

    /// HMAC over seq || type || version || length || data (RFC 5246 6.2.3.1, RFC 7366 3).
    fn compute(&self, seq: u64, header: &[u8; 5], data: &[u8]) -> Vec<u8> {
        let len = u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes();
        let parts: [&[u8]; 4] = [&seq.to_be_bytes(), &header[..3], &len, data];
        fn run<M: hmac::Mac + Clone>(m: &M, parts: &[&[u8]]) -> Vec<u8> {
            let mut m = m.clone();
            parts.iter().for_each(|p| m.update(p));
            m.finalize().into_bytes().to_vec()
        }
        match self {
            MacKey::Sha1(m) => run(m, &parts),
            MacKey::Sha256(m) => run(m, &parts),
            MacKey::Sha384(m) => run(m, &parts),
        }
    }
}

/// One direction's record protection: keys, IV, MAC key and sequence number.
#[derive(Clone)]
pub struct RecordCipher {
    suite: &'static Suite,
    version: Version,
    engine: Engine,
    /// TLS 1.3 and ChaCha20: the 12-byte IV xored with the sequence number. TLS 1.2 GCM/CCM:
    /// the 4-byte salt in `iv[..4]`. TLS 1.0 CBC: the chained IV (last ciphertext block).
    iv: [u8; BLOCK],
    mac: Option<MacKey>,
    encrypt_then_mac: bool,
    seq: u64,
    /// TLS 1.3: the current traffic secret, the input of the next KeyUpdate.
    secret: Vec<u8>,
}

impl std::fmt::Debug for RecordCipher {
    // Keys stay out of debug output: it ends up in logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordCipher")
            .field("suite", &self.suite.name)
            .field("version", &self.version)
            .field("encrypt_then_mac", &self.encrypt_then_mac)
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl RecordCipher {
    /// TLS 1.0-1.2: key block = PRF(master, "key expansion", server_random || client_random),
    /// split as RFC 5246 6.3 (client MAC, server MAC, client key, server key, client IV,
    /// server IV); returns `side`'s cipher. `encrypt_then_mac` (RFC 7366) matters only for
    /// CBC suites. Fails for a TLS 1.3 suite or version, or an AEAD/SHA-2 suite before 1.2.
    pub fn tls12(
        suite: &'static Suite,
        version: Version,
        master: &[u8],
        client_random: &[u8; 32],
        server_random: &[u8; 32],
        side: Side,
        encrypt_then_mac: bool,
    ) -> Result<RecordCipher, KeyError> {
        // AEADs and SHA-2 MACs arrived with TLS 1.2 (RFC 5246, 5288, 6655, 7905).
        let needs_12 = !suite.cipher.is_cbc() || suite.mac != Mac::Sha1;
        if suite.tls13 || version == Version::Tls13 || (needs_12 && version < Version::Tls12) {
            return Err(KeyError::SuiteVersion { suite: suite.name, version: version.as_str() });
        }
        let (mac_len, key_len) = (suite.mac.output_len(), suite.cipher.key_len());
        let iv_len = suite.cipher.implicit_iv_len(version);
        let mut block = vec![0; 2 * (mac_len + key_len + iv_len)];
        let mut seed = [0; 64];
        seed[..32].copy_from_slice(server_random);
        seed[32..].copy_from_slice(client_random);
        prf(Prf::for_suite(version, suite), master, b"key expansion", &seed, &mut block);

        let pick = |offset: usize, len: usize| {
            let start = offset + if side == Side::Server { len } else { 0 };
            &block[start..start + len]
        };
        let mac_key = pick(0, mac_len);
        let key = pick(2 * mac_len, key_len);
        let iv_src = pick(2 * (mac_len + key_len), iv_len);
        let mut iv = [0; BLOCK];
        iv[..iv_len].copy_from_slice(iv_src);
        let engine =
            Engine::new(suite.cipher, key).ok_or(KeyError::SecretLength { expected: key_len, got: key.len() })?;
        Ok(RecordCipher {
            suite,
            version,
            engine,
            iv,
            mac: MacKey::new(suite.mac, mac_key),
            encrypt_then_mac: encrypt_then_mac && suite.cipher.is_cbc(),
            seq: 0,
            secret: Vec::new(),
        })
    }

    /// TLS 1.3: key = HKDF-Expand-Label(secret, "key", "", key_len), iv = ("iv", 12)
    /// (RFC 8446 7.3). `traffic_secret` must be as long as the suite's hash.
    pub fn tls13(suite: &'static Suite, traffic_secret: &[u8]) -> Result<RecordCipher, KeyError> {
        if !suite.tls13 {
            return Err(KeyError::SuiteVersion { suite: suite.name, version: Version::Tls13.as_str() });
        }
        if traffic_secret.len() != suite.hash.output_len() {
            return Err(KeyError::SecretLength { expected: suite.hash.output_len(), got: traffic_secret.len() });
        }
        let (engine, iv) = tls13_keys(suite, traffic_secret)?;
        Ok(RecordCipher {
            suite,
            version: Version::Tls13,
            engine,
            iv,
            mac: None,
            encrypt_then_mac: false,
            seq: 0,
            secret: traffic_secret.to_vec(),
        })
    }

    /// The suite this cipher protects.
    pub fn suite(&self) -> &'static Suite {
        self.suite
    }

    /// The version this cipher protects.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Sequence number of the next record.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// TLS 1.3 KeyUpdate (RFC 8446 7.2): secret = HKDF-Expand-Label(secret, "traffic upd",
    /// "", hash_len), fresh key and IV, sequence number 0.
    pub fn key_update(&mut self) -> Result<(), KeyError> {
        if self.version != Version::Tls13 {
            return Err(KeyError::NotTls13);
        }
        let next = hkdf_expand_label(self.suite.hash, &self.secret, "traffic upd", &[], self.suite.hash.output_len())?;
        (self.engine, self.iv) = tls13_keys(self.suite, &next)?;
        self.secret = next;
        self.seq = 0;
        Ok(())
    }

    /// Decrypts one record. `header` is the 5-byte record header as received, `fragment`
    /// its body. Appends the plaintext to `out` (which is not cleared, so a caller may
    /// collect several records) and returns the content type: for TLS 1.3 the inner type
    /// after stripping zero padding (RFC 8446 5.2/5.4), otherwise `header[0]`.
    /// On success the sequence number advances. On failure nothing changes: `out` keeps its
    /// old length and the sequence number and chained IV stay, so the record may be retried.
    pub fn decrypt(&mut self, header: &[u8; 5], fragment: &[u8], out: &mut Vec<u8>) -> Result<u8, DecryptError> {
        let declared = usize::from(u16::from_be_bytes([header[3], header[4]]));
        if declared != fragment.len() {
            return Err(DecryptError::LengthMismatch { header: declared, fragment: fragment.len() });
        }
        let limit = if self.version == Version::Tls13 { MAX_CIPHERTEXT_TLS13 } else { MAX_CIPHERTEXT_TLS12 };
        if fragment.len() > limit {
            return Err(DecryptError::TooLong(fragment.len()));
        }
        let start = out.len();
        let result = if self.version == Version::Tls13 {
            self.open_tls13(header, fragment, out, start)
        } else if self.suite.cipher.is_cbc() {
            self.open_cbc(header, fragment, out, start)
        } else {
            self.open_aead12(header, fragment, out, start)
        };
        match result {
            Ok(content_type) => {
                self.seq = self.seq.wrapping_add(1);
                Ok(content_type)
            }
            Err(e) => {
                out.truncate(start);
                Err(e)
            }
        }
    }

    fn open_tls13(&self, header: &[u8; 5], frag: &[u8], out: &mut Vec<u8>, start: usize) -> Result<u8, DecryptError> {
        let tag_len = self.suite.cipher.tag_len();
        let body_len = frag.len().checked_sub(tag_len).filter(|&n| n > 0).ok_or(DecryptError::TooShort)?;
        let (body, tag) = frag.split_at(body_len);
        out.extend_from_slice(body);
        self.engine.open(&self.seq_nonce(), header, &mut out[start..], tag)?;
        // The content type is the last non-zero byte; zeros after it are padding.
        let inner = &out[start..];
        let pos = inner.iter().rposition(|&b| b != 0).ok_or(DecryptError::NoContentType)?;
        let content_type = inner[pos];
        out.truncate(start + pos);
        Ok(content_type)
    }

    fn open_aead12(&self, header: &[u8; 5], frag: &[u8], out: &mut Vec<u8>, start: usize) -> Result<u8, DecryptError> {
        let tag_len = self.suite.cipher.tag_len();
        let explicit = if self.suite.cipher == Cipher::ChaCha20Poly1305 { 0 } else { EXPLICIT_NONCE };
        let body_len = frag.len().checked_sub(explicit + tag_len).ok_or(DecryptError::TooShort)?;
        let nonce = self.aead12_nonce(&frag[..explicit]);
        let (body, tag) = frag[explicit..].split_at(body_len);
        out.extend_from_slice(body);
        let aad = aad12(self.seq, header, body_len);
        self.engine.open(&nonce, &aad, &mut out[start..], tag)?;
        Ok(header[0])
    }

    fn open_cbc(&mut self, header: &[u8; 5], frag: &[u8], out: &mut Vec<u8>, start: usize) -> Result<u8, DecryptError> {
        let mac = self.mac.as_ref().ok_or(DecryptError::BadMac)?;
        let mac_len = self.suite.mac.output_len();
        let explicit = if self.version == Version::Tls10 { 0 } else { BLOCK };
        // Encrypt-then-MAC: the MAC trails the ciphertext and covers IV + ciphertext.
        let protected_len = if self.encrypt_then_mac {
            frag.len().checked_sub(mac_len).ok_or(DecryptError::TooShort)?
        } else {
            frag.len()
        };
        let protected = &frag[..protected_len];
        let ct = protected.get(explicit..).ok_or(DecryptError::TooShort)?;
        if ct.is_empty() {
            return Err(DecryptError::TooShort);
        }
        if ct.len() % BLOCK != 0 {
            return Err(DecryptError::NotBlockAligned);
        }
        if self.encrypt_then_mac && !ct_eq(&mac.compute(self.seq, header, protected), &frag[protected_len..]) {
            return Err(DecryptError::BadMac);
        }
        let mut iv = self.iv;
        if explicit > 0 {
            iv.copy_from_slice(&protected[..BLOCK]);
        }
        out.extend_from_slice(ct);
        self.engine.cbc_decrypt(&iv, &mut out[start..]);

        // Padding: the last byte n and the n bytes before it all equal n (RFC 5246 6.2.3.2).
        let plain = &out[start..];
        let pad = usize::from(plain[plain.len() - 1]);
        let trailer = pad + 1 + if self.encrypt_then_mac { 0 } else { mac_len };
        let content_len = plain.len().checked_sub(trailer).ok_or(DecryptError::BadPadding)?;
        if plain[plain.len() - 1 - pad..].iter().any(|&b| usize::from(b) != pad) {
            return Err(DecryptError::BadPadding);
        }
        if !self.encrypt_then_mac {
            let (content, rest) = plain.split_at(content_len);
            if !ct_eq(&mac.compute(self.seq, header, content), &rest[..mac_len]) {
                return Err(DecryptError::BadMac);
            }
        }
        out.truncate(start + content_len);
        if self.version == Version::Tls10 {
            // TLS 1.0 chains: the next record's IV is this record's last ciphertext block.
            self.iv.copy_from_slice(&ct[ct.len() - BLOCK..]);
        }
        Ok(header[0])
    }

    /// Passes over one AEAD record without decrypting it: the sequence
    /// number advances as if it had been read, and the length of its
    /// content is returned (TLS 1.3: assuming no padding). For records
    /// that cannot carry an upload (a server's responses), once earlier
    /// records proved the keys. `None` (nothing changed) for CBC suites,
    /// whose padding only decryption tells, and for fragments too short.
    pub fn skip(&mut self, fragment: &[u8]) -> Option<usize> {
        if self.suite.cipher.is_cbc() {
            return None;
        }
        let tag_len = self.suite.cipher.tag_len();
        let overhead = if self.version == Version::Tls13 {
            tag_len + 1
        } else if self.suite.cipher == Cipher::ChaCha20Poly1305 {
            tag_len
        } else {
            tag_len + EXPLICIT_NONCE
        };
        let n = fragment.len().checked_sub(overhead)?;
        self.seq = self.seq.wrapping_add(1);
        Some(n)
    }

    /// Protects `plaintext` as one record of `content_type` and returns header + fragment;
    /// advances the sequence number. TLS 1.3: outer type 23, inner type appended, no padding.
    /// TLS 1.2 GCM/CCM use the sequence number as explicit nonce; TLS 1.1+ CBC uses an IV
    /// derived from the sequence number: test material, not a secure sender.
    pub fn encrypt(&mut self, content_type: u8, plaintext: &[u8]) -> Result<Vec<u8>, EncryptError> {
        if plaintext.len() > MAX_PLAINTEXT {
            return Err(EncryptError::TooLong(plaintext.len()));
        }
        let version = self.version.min(Version::Tls12).wire().to_be_bytes();
        let mut record = vec![content_type, version[0], version[1], 0, 0];
        if self.version == Version::Tls13 {
            record[0] = APPLICATION_DATA;
            record.extend_from_slice(plaintext);
            record.push(content_type);
            let len = record.len() - 5 + self.suite.cipher.tag_len();
            set_len(&mut record, len);
            let header: [u8; 5] = [record[0], record[1], record[2], record[3], record[4]];
            let tag = self.engine.seal(&self.seq_nonce(), &header, &mut record[5..]);
            record.extend_from_slice(&tag);
        } else if self.suite.cipher.is_cbc() {
            self.seal_cbc(&mut record, plaintext);
        } else {
            let explicit = if self.suite.cipher == Cipher::ChaCha20Poly1305 { 0 } else { EXPLICIT_NONCE };
            let seq = self.seq.to_be_bytes();
            record.extend_from_slice(&seq[..explicit]);
            let nonce = self.aead12_nonce(&seq[..explicit]);
            set_len(&mut record, explicit + plaintext.len() + self.suite.cipher.tag_len());
            let header: [u8; 5] = [record[0], record[1], record[2], record[3], record[4]];
            let aad = aad12(self.seq, &header, plaintext.len());
            let body = record.len();
            record.extend_from_slice(plaintext);
            let tag = self.engine.seal(&nonce, &aad, &mut record[body..]);
            record.extend_from_slice(&tag);
        }
        self.seq = self.seq.wrapping_add(1);
        Ok(record)
    }

    fn seal_cbc(&mut self, record: &mut Vec<u8>, plaintext: &[u8]) {
        let Some(mac) = self.mac.clone() else { return };
        let mac_len = self.suite.mac.output_len();
        let etm = self.encrypt_then_mac;
        let mut iv = self.iv;
        if self.version != Version::Tls10 {
            iv[..8].copy_from_slice(&self.seq.to_be_bytes());
            iv[8..].copy_from_slice(b"teleaudi");
            record.extend_from_slice(&iv);
        }
        let covered = plaintext.len() + if etm { 0 } else { mac_len };
        let pad = BLOCK - 1 - covered % BLOCK;
        let iv_len = record.len() - 5;
        let ct_len = covered + pad + 1;
        // The MtE MAC covers the content length; the EtM MAC the final IV + ciphertext.
        set_len(record, plaintext.len());
        let header: [u8; 5] = [record[0], record[1], record[2], record[3], record[4]];
        let body = record.len();
        record.extend_from_slice(plaintext);
        if !etm {
            record.extend_from_slice(&mac.compute(self.seq, &header, plaintext));
        }
        record.resize(body + ct_len, u8::try_from(pad).unwrap_or(0));
        self.engine.cbc_encrypt(&iv, &mut record[body..]);
        if self.version == Version::Tls10 {
            self.iv.copy_from_slice(&record[record.len() - BLOCK..]);
        }
        set_len(record, iv_len + ct_len + if etm { mac_len } else { 0 });
        if etm {
            let mut header: [u8; 5] = [record[0], record[1], record[2], record[3], record[4]];
            set_len(&mut header, iv_len + ct_len);
            let tag = mac.compute(self.seq, &header, &record[5..]);
            record.extend_from_slice(&tag);
        }
    }

    /// TLS 1.3 and TLS 1.2 ChaCha20 nonce: the IV xored with the left-padded sequence number.
    fn seq_nonce(&self) -> [u8; 12] {
        let mut nonce = [0; 12];
        nonce.copy_from_slice(&self.iv[..12]);
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// TLS 1.2 AEAD nonce: salt || explicit nonce (GCM/CCM), or the xor form (ChaCha20).
    fn aead12_nonce(&self, explicit: &[u8]) -> [u8; 12] {
        if explicit.len() != EXPLICIT_NONCE {
            return self.seq_nonce();
        }
        let mut nonce = [0; 12];
        nonce[..4].copy_from_slice(&self.iv[..4]);
        nonce[4..].copy_from_slice(explicit);
        nonce
    }
}

/// Key and IV of a TLS 1.3 traffic secret.
fn tls13_keys(suite: &Suite, secret: &[u8]) -> Result<(Engine, [u8; BLOCK]), KeyError> {
    let key = hkdf_expand_label(suite.hash, secret, "key", &[], suite.cipher.key_len())?;
    let iv_bytes = hkdf_expand_label(suite.hash, secret, "iv", &[], 12)?;
    let mut iv = [0; BLOCK];
    iv[..12].copy_from_slice(&iv_bytes);
    let key_len = suite.cipher.key_len();
    let engine = Engine::new(suite.cipher, &key).ok_or(KeyError::SecretLength { expected: key_len, got: key.len() })?;
    Ok((engine, iv))
}

/// TLS 1.2 AEAD additional data: seq || type || version || plaintext length (RFC 5246 6.2.3.3).
fn aad12(seq: u64, header: &[u8; 5], plaintext_len: usize) -> [u8; 13] {
    let mut aad = [0; 13];
    aad[..8].copy_from_slice(&seq.to_be_bytes());
    aad[8..11].copy_from_slice(&header[..3]);
    aad[11..].copy_from_slice(&u16::try_from(plaintext_len).unwrap_or(u16::MAX).to_be_bytes());
    aad
}

fn set_len(record: &mut [u8], len: usize) {
    if let Some(header) = record.get_mut(..5) {
        let len = u16::try_from(len).unwrap_or(u16::MAX).to_be_bytes();
        header[3..5].copy_from_slice(&len);
    }
}

/// Constant-time comparison; a passive decoder has no oracle to protect, but it costs nothing.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        hex::decode(s).expect("test hex")
    }

    fn split(record: &[u8]) -> ([u8; 5], &[u8]) {
        let mut header = [0; 5];
        header.copy_from_slice(&record[..5]);
        (header, &record[5..])
    }

    fn open(c: &mut RecordCipher, record: &[u8]) -> Result<(u8, Vec<u8>), DecryptError> {
        let (header, fragment) = split(record);
        let mut out = Vec::new();
        c.decrypt(&header, fragment, &mut out).map(|t| (t, out))
    }

    // RFC 8448 section 3 ("Simple 1-RTT Handshake"), TLS_AES_128_GCM_SHA256.
    const RFC8448_C_HS: &str = "b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21";
    const RFC8448_S_HS: &str = "b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38";
    const RFC8448_C_AP: &str = "9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5";
    const RFC8448_C_FINISHED: &str = "14000020a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61";
    const RFC8448_C_FINISHED_RECORD: &str = "170303003575ec4dc238cce60b298044a71e219c56cc77b0517fe9b93c7a4bfc44d87f38f8
        0338ac98fc46deb384bd1caeacab6867d726c40546";
    const RFC8448_C_AP_RECORD: &str = "1703030043a23f7054b62c94d0affafe8228ba55cbefacea42f914aa66bcab3f2b9819a8a5b4
        6b395bd54a9a20441e2b62974e1f5a6292a2977014bd1e3deae63aeebb21694915e4";

    #[test]
    fn hkdf_expand_label_matches_rfc8448() {
        let s = h(RFC8448_S_HS);
        assert_eq!(hkdf_expand_label(Hash::Sha256, &s, "key", &[], 16).unwrap(), h("3fce516009c21727d0f2e4e86ee403bc"));
        assert_eq!(hkdf_expand_label(Hash::Sha256, &s, "iv", &[], 12).unwrap(), h("5d313eb2671276ee13000b30"));
        let c = h(RFC8448_C_HS);
        assert_eq!(hkdf_expand_label(Hash::Sha256, &c, "key", &[], 16).unwrap(), h("dbfaa693d1762c5b666af5d950258d01"));
        assert_eq!(hkdf_expand_label(Hash::Sha256, &c, "iv", &[], 12).unwrap(), h("5bd3c71b836e0b76bb73265f"));
        // Short secrets and oversized labels are errors, not panics.
        assert!(hkdf_expand_label(Hash::Sha384, &c, "key", &[], 16).is_err());
        assert!(hkdf_expand_label(Hash::Sha256, &c, &"x".repeat(250), &[], 16).is_err());
        assert!(hkdf_expand_label(Hash::Sha256, &c, "key", &[], 255 * 32 + 1).is_err());
    }

    #[test]
    fn rfc8448_records_decrypt_and_reencrypt() {
        let suite = suite(0x1301).unwrap();
        let record = h(RFC8448_C_FINISHED_RECORD);
        let mut rx = RecordCipher::tls13(suite, &h(RFC8448_C_HS)).unwrap();
        assert_eq!(open(&mut rx, &record).unwrap(), (22, h(RFC8448_C_FINISHED)));
        assert_eq!(rx.seq(), 1);
        let mut tx = RecordCipher::tls13(suite, &h(RFC8448_C_HS)).unwrap();
        assert_eq!(tx.encrypt(22, &h(RFC8448_C_FINISHED)).unwrap(), record);

        let mut rx = RecordCipher::tls13(suite, &h(RFC8448_C_AP)).unwrap();
        let counting: Vec<u8> = (0..50).collect();
        assert_eq!(open(&mut rx, &h(RFC8448_C_AP_RECORD)).unwrap(), (23, counting));
        // The same record under the handshake key does not authenticate.
        let mut wrong = RecordCipher::tls13(suite, &h(RFC8448_C_HS)).unwrap();
        assert_eq!(open(&mut wrong, &h(RFC8448_C_AP_RECORD)), Err(DecryptError::BadTag));
        assert_eq!(wrong.seq(), 0);
    }

    /// https://tls12.xargs.org ("The Illustrated TLS 1.2 Connection"): ECDHE_RSA_WITH_AES_128_CBC_SHA,
    /// client Finished (seq 0) and "ping" (seq 1), MAC-then-encrypt with explicit IVs.
    #[test]
    fn illustrated_tls12_cbc_records_decrypt() {
        let master =
            h("916abf9da55973e13614ae0a3f5d3f37b023ba129aee02cc9134338127cd7049781c8e19fc1eb2a7387ac06ae237344c");
        let client_random: [u8; 32] = std::array::from_fn(|i| i as u8);
        let server_random: [u8; 32] = std::array::from_fn(|i| 0x70 + i as u8);
        let suite = suite(0xC013).unwrap();
        let mut rx =
            RecordCipher::tls12(suite, Version::Tls12, &master, &client_random, &server_random, Side::Client, false)
                .unwrap();
        let finished = h("16 03 03 00 40 40 41 42 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 22 7b c9 ba 81 ef 30 f2 a8
            a7 8f f1 df 50 84 4d 58 04 b7 ee b2 e2 14 c3 2b 68 92 ac a3 db 7b 78 07 7f dd 90 06 7c 51 6b ac b3 ba
            90 de df 72 0f");
        assert_eq!(open(&mut rx, &finished).unwrap(), (22, h("1400000ccf919626f1360c536aaad73a")));
        let ping = h("17 03 03 00 30 00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f 6c 42 1c 71 c4 2b 18 3b fa 06
            19 5d 13 3d 0a 09 d0 0f c7 cb 4e 0f 5d 1c da 59 d1 47 ec 79 0c 99");
        assert_eq!(open(&mut rx, &ping).unwrap(), (23, b"ping".to_vec()));
        // The server's keys (other half of the key block) do not open the client's records.
        let mut server =
            RecordCipher::tls12(suite, Version::Tls12, &master, &client_random, &server_random, Side::Server, false)
                .unwrap();
        assert!(open(&mut server, &finished).is_err());
    }

    #[test]
    fn prf_matches_published_vectors() {
        // P_SHA256 / P_SHA384: IETF TLS WG list (msg03416), as used by BearSSL's test_crypto.c.
        let mut out = [0; 100];
        prf(
            Prf::Sha256,
            &h("9bbe436ba940f017b17652849a71db35"),
            b"test label",
            &h("a0ba9f936cda311827a6f796ffd5198c"),
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            h(
                "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66"
            )
        );
        let mut out = [0; 148];
        prf(
            Prf::Sha384,
            &h("b80b733d6ceefcdc71566ea48e5567df"),
            b"test label",
            &h("cd665cf6a8447dd6ff8b27555edb7465"),
            &mut out,
        );
        assert_eq!(
            out.to_vec(),
            h(
                "7b0c18e9ced410ed1804f2cfa34a336a1c14dffb4900bb5fd7942107e81c83cde9ca0faa60be9fe34f82b1233c9146a0e534cb400fed2700884f9dc236f80edd8bfa961144c9e8d792eca722a7b32fc3d416d473ebc2c5fd4abfdad05d9184259b5bf8cd4d90fa0d31e2dec479e4f1a26066f2eea9a69236a3e52655c9e9aee691c8f3a26854308d5eaa3be85e0990703d73e56f"
            )
        );
        // TLS 1.0/1.1 MD5^SHA1: the ietf-tls list vector (imc.org msg01589), as in BearSSL.
        let mut out = [0; 104];
        prf(Prf::Md5Sha1, &[0xab; 48], b"PRF Testvector", &[0xcd; 64], &mut out);
        assert_eq!(
            out.to_vec(),
            h(
                "d3d4d1e349b5d515044666d51de32bab258cb521b6b053463e354832fd976754443bcf9a296519bc289abcbc1187e4ebd31e602353776c408aafb74cbc85eff69255f9788faa184cbb957a9819d84a5d7eb006eb459d3ae8de9810454b8b2d8f1afbc655a8c9a013"
            )
        );
    }

    #[test]
    fn suite_table_is_consistent() {
        for (i, s) in SUITES.iter().enumerate() {
            assert!(SUITES[i + 1..].iter().all(|t| t.id != s.id), "duplicate {:04x}", s.id);
            assert_eq!(s.hash == Hash::Sha384, s.name.ends_with("SHA384"), "{}", s.name);
            assert_eq!(s.tls13, (0x1301..=0x1305).contains(&s.id));
            assert_eq!(s.cipher.is_cbc(), s.mac != Mac::Aead, "{}", s.name);
            assert_eq!(s.name.contains("_CBC_"), s.cipher.is_cbc(), "{}", s.name);
            assert_eq!(s.name.contains("_256_") || s.name.contains("CHACHA"), s.cipher.key_len() == 32, "{}", s.name);
            assert_eq!(s.name.contains("CCM_8"), s.cipher.tag_len() == 8, "{}", s.name);
            assert!(UNSUPPORTED_NAMES.iter().all(|(id, _)| *id != s.id));
        }
        assert_eq!(suite_name(0xC030), Some("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"));
        assert_eq!(suite_name(0x0005), Some("TLS_RSA_WITH_RC4_128_SHA"));
        assert_eq!(suite_name(0x000A), Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA"));
        assert!(suite(0x0005).is_none());
        assert_eq!(suite_name(0x1234), None);
        assert_eq!(Version::from_wire(0x0303), Some(Version::Tls12));
        assert_eq!(Version::from_wire(0x0300), None);
        assert_eq!(Version::Tls11.as_str(), "1.1");
    }

    #[test]
    fn keys_refuse_mismatched_suite_version_and_secret() {
        let r = [1; 32];
        let t13 = suite(0x1301).unwrap();
        let gcm = suite(0xC02F).unwrap();
        assert!(RecordCipher::tls12(t13, Version::Tls12, &[0; 48], &r, &r, Side::Client, false).is_err());
        assert!(RecordCipher::tls12(gcm, Version::Tls13, &[0; 48], &r, &r, Side::Client, false).is_err());
        assert!(RecordCipher::tls12(gcm, Version::Tls10, &[0; 48], &r, &r, Side::Client, false).is_err());
        assert!(RecordCipher::tls13(gcm, &[0; 32]).is_err());
        let sha384 = suite(0x1302).unwrap();
        assert_eq!(
            RecordCipher::tls13(sha384, &[0; 32]).unwrap_err(),
            KeyError::SecretLength { expected: 48, got: 32 }
        );
        let mut c = RecordCipher::tls12(gcm, Version::Tls12, &[0; 48], &r, &r, Side::Client, false).unwrap();
        assert_eq!(c.key_update(), Err(KeyError::NotTls13));
    }

    /// Every (suite, version, encrypt-then-MAC) combination that is legal, as (tx, rx) pairs
    /// for both sides.
    fn all_pairs() -> Vec<(String, RecordCipher, RecordCipher)> {
        let master: Vec<u8> = (0..48).map(|i| i as u8 ^ 0x5c).collect();
        let cr: [u8; 32] = std::array::from_fn(|i| i as u8);
        let sr: [u8; 32] = std::array::from_fn(|i| 0xff - i as u8);
        let mut pairs = Vec::new();
        for s in SUITES {
            if s.tls13 {
                let secret = vec![7; s.hash.output_len()];
                let mk = || RecordCipher::tls13(s, &secret).unwrap();
                pairs.push((s.name.to_string(), mk(), mk()));
                continue;
            }
            for version in [Version::Tls10, Version::Tls11, Version::Tls12] {
                for etm in [false, true] {
                    for side in [Side::Client, Side::Server] {
                        let mk = || RecordCipher::tls12(s, version, &master, &cr, &sr, side, etm);
                        if let (Ok(tx), Ok(rx)) = (mk(), mk()) {
                            let label = format!("{} {} etm={etm} {side:?}", s.name, version.as_str());
                            pairs.push((label, tx, rx));
                        }
                    }
                }
            }
        }
        pairs
    }

    #[test]
    fn round_trip_every_suite_version_and_side() {
        let pairs = all_pairs();
        assert!(pairs.len() > 250);
        for (label, mut tx, mut rx) in pairs {
            let mut out = Vec::new();
            for (n, len) in [0usize, 1, 15, 16, 17, 31, 100, 1000, MAX_PLAINTEXT].into_iter().enumerate() {
                let plain: Vec<u8> = (0..len).map(|i| (i * 7 + n) as u8).collect();
                let record = tx.encrypt(23, &plain).unwrap();
                let (header, fragment) = split(&record);
                out.clear();
                assert_eq!(rx.decrypt(&header, fragment, &mut out), Ok(23), "{label} len {len}");
                assert_eq!(out, plain, "{label} len {len}");
                assert_eq!(rx.seq(), n as u64 + 1);
            }
            let record = tx.encrypt(21, b"alert").unwrap();
            assert_eq!(open(&mut rx, &record).unwrap(), (21, b"alert".to_vec()), "{label}");
            assert!(tx.encrypt(23, &vec![0; MAX_PLAINTEXT + 1]).is_err());
        }
    }

    #[test]
    fn decrypt_appends_to_out() {
        let (_, mut tx, mut rx) = all_pairs().swap_remove(0);
        let mut out = b"kept".to_vec();
        let record = tx.encrypt(23, b" more").unwrap();
        let (header, fragment) = split(&record);
        rx.decrypt(&header, fragment, &mut out).unwrap();
        assert_eq!(out, b"kept more");
    }

    #[test]
    fn tampering_fails_and_leaves_state_for_a_retry() {
        for (label, mut tx, mut rx) in all_pairs() {
            // Two records, so TLS 1.0 chaining and sequence numbers are both exercised.
            for content in [&b"first record, a bit longer than a block"[..], b"second"] {
                let record = tx.encrypt(22, content).unwrap();
                let (header, fragment) = split(&record);
                let positions = [0, fragment.len() / 2, fragment.len() - 1];
                for pos in positions {
                    let mut bad = fragment.to_vec();
                    bad[pos] ^= 0x01;
                    let mut out = b"x".to_vec();
                    let seq = rx.seq();
                    let err = rx.decrypt(&header, &bad, &mut out).unwrap_err();
                    let cbc = rx.suite().cipher.is_cbc();
                    if cbc {
                        assert!(
                            matches!(err, DecryptError::BadMac | DecryptError::BadPadding),
                            "{label} {pos} {err:?}"
                        );
                    } else {
                        assert_eq!(err, DecryptError::BadTag, "{label} {pos}");
                    }
                    assert_eq!(out, b"x", "{label}");
                    assert_eq!(rx.seq(), seq, "{label}");
                }
                // A changed header (type) is authenticated too.
                let mut bad_header = header;
                bad_header[0] ^= 1;
                assert!(rx.decrypt(&bad_header, fragment, &mut Vec::new()).is_err(), "{label}");
                assert_eq!(open(&mut rx, &record).unwrap(), (22, content.to_vec()), "{label}");
            }
        }
    }

    #[test]
    fn truncated_and_oversized_fragments_are_errors() {
        for (label, mut tx, mut rx) in all_pairs() {
            let record = tx.encrypt(23, b"some application data").unwrap();
            let (header, fragment) = split(&record);
            for len in 0..fragment.len() {
                let mut h = header;
                h[3..5].copy_from_slice(&(len as u16).to_be_bytes());
                assert!(rx.decrypt(&h, &fragment[..len], &mut Vec::new()).is_err(), "{label} len {len}");
            }
            // Header length disagreeing with the fragment.
            assert!(matches!(
                rx.decrypt(&header, &fragment[1..], &mut Vec::new()),
                Err(DecryptError::LengthMismatch { .. })
            ));
            let huge = vec![0; MAX_CIPHERTEXT_TLS12 + 1];
            let mut h = header;
            h[3..5].copy_from_slice(&(huge.len() as u16).to_be_bytes());
            assert!(matches!(rx.decrypt(&h, &huge, &mut Vec::new()), Err(DecryptError::TooLong(_))));
            assert_eq!(rx.seq(), 0);
            assert_eq!(open(&mut rx, &record).unwrap().1, b"some application data");
        }
    }

    #[test]
    fn garbage_fragments_never_panic() {
        // Block-aligned garbage reaches the CBC padding and MAC checks with every last byte.
        for (label, _, mut rx) in all_pairs() {
            for len in [16usize, 32, 48, 64, 80] {
                for last in [0u8, 1, 15, 16, 47, 48, 79, 200, 255] {
                    let mut frag = vec![last; len];
                    frag[0] = 3;
                    let header = [23, 3, 3, 0, len as u8];
                    assert!(rx.decrypt(&header, &frag, &mut Vec::new()).is_err(), "{label}");
                }
            }
        }
    }

    #[test]
    fn tls13_padding_and_missing_content_type() {
        let s = suite(0x1303).unwrap();
        let mut tx = RecordCipher::tls13(s, &[9; 32]).unwrap();
        let mut rx = RecordCipher::tls13(s, &[9; 32]).unwrap();
        // Inner plaintext "hi" || 22 || three zeros of padding, sealed with a trailing zero "type".
        let record = tx.encrypt(0, &[b'h', b'i', 22, 0, 0, 0]).unwrap();
        assert_eq!(open(&mut rx, &record).unwrap(), (22, b"hi".to_vec()));
        // Padding only: no content type.
        for zeros in [&[][..], &[0, 0, 0][..]] {
            let record = tx.encrypt(0, zeros).unwrap();
            assert_eq!(open(&mut rx, &record), Err(DecryptError::NoContentType));
            // Not advanced: a retry (with another key) starts at the same seq; skip past it here.
            rx.seq += 1;
        }
        assert_eq!(record[0], APPLICATION_DATA);
    }

    #[test]
    fn key_update_on_both_ends() {
        for id in [0x1301, 0x1302, 0x1303, 0x1304, 0x1305] {
            let s = suite(id).unwrap();
            let secret = vec![3; s.hash.output_len()];
            let mut tx = RecordCipher::tls13(s, &secret).unwrap();
            let mut rx = RecordCipher::tls13(s, &secret).unwrap();
            for _ in 0..3 {
                let r = tx.encrypt(23, b"before").unwrap();
                assert_eq!(open(&mut rx, &r).unwrap().1, b"before");
            }
            let mut stale = rx.clone();
            tx.key_update().unwrap();
            rx.key_update().unwrap();
            assert_eq!((tx.seq(), rx.seq()), (0, 0));
            let r = tx.encrypt(23, b"after").unwrap();
            assert_eq!(stale.decrypt(&split(&r).0, split(&r).1, &mut Vec::new()), Err(DecryptError::BadTag));
            assert_eq!(open(&mut rx, &r).unwrap().1, b"after");
            // The new secret is HKDF-Expand-Label(old, "traffic upd", "", Hash.length).
            let expected = hkdf_expand_label(s.hash, &secret, "traffic upd", &[], s.hash.output_len()).unwrap();
            let mut direct = RecordCipher::tls13(s, &expected).unwrap();
            let r = tx.encrypt(23, b"again").unwrap();
            direct.seq = 1;
            assert_eq!(open(&mut direct, &r).unwrap().1, b"again");
        }
    }

    #[test]
    fn skip_advances_the_sequence_of_aead_records_only() {
        for id in [0x1301u16, 0xc02f, 0xcca8] {
            let s = suite(id).unwrap();
            let (mut tx, mut rx) = if s.tls13 {
                (RecordCipher::tls13(s, &[5; 32]).unwrap(), RecordCipher::tls13(s, &[5; 32]).unwrap())
            } else {
                let make = || RecordCipher::tls12(s, Version::Tls12, &[1; 48], &[2; 32], &[3; 32], Side::Server, false);
                (make().unwrap(), make().unwrap())
            };
            let first = tx.encrypt(23, &[0xaa; 3000]).unwrap();
            let second = tx.encrypt(23, b"next").unwrap();
            // The content length, without decrypting.
            assert_eq!(rx.skip(&first[5..]), Some(3000), "{}", s.name);
            let mut out = Vec::new();
            let h: [u8; 5] = second[..5].try_into().unwrap();
            assert_eq!(rx.decrypt(&h, &second[5..], &mut out), Ok(23), "{}", s.name);
            assert_eq!(out, b"next");
        }
        let cbc = suite(0xc013).unwrap();
        let mut c = RecordCipher::tls12(cbc, Version::Tls12, &[1; 48], &[2; 32], &[3; 32], Side::Server, true).unwrap();
        assert_eq!(c.skip(&[0; 64]), None);
        assert_eq!(c.seq(), 0);
    }

    #[test]
    fn tls10_chains_cbc_iv_across_records() {
        let s = suite(0x002F).unwrap();
        let r = [4; 32];
        let mk = || RecordCipher::tls12(s, Version::Tls10, &[1; 48], &r, &r, Side::Server, false).unwrap();
        let (mut tx, mut rx) = (mk(), mk());
        let first = tx.encrypt(23, b"one").unwrap();
        let second = tx.encrypt(23, b"two").unwrap();
        // No explicit IV in TLS 1.0: 3 + 20 MAC + padding = 32 bytes of ciphertext.
        assert_eq!(first.len(), 5 + 32);
        assert_eq!(open(&mut rx, &first).unwrap().1, b"one");
        assert_eq!(open(&mut rx, &second).unwrap().1, b"two");
        // Decrypting the second record with the key block's IV (not the chained one) fails.
        let mut fresh = mk();
        fresh.seq = 1;
        assert!(open(&mut fresh, &second).is_err());
    }
}
