//! util: small types every stage shares, so that none borrows them from
//! another: capture [`Timestamp`]s and the [`FnvHasher`] of hot maps.
//!
//! Input and output: none of their own; plain values.
//!
//! Never: depend on a pipeline stage.

mod time;

use std::hash::Hasher;

pub use time::Timestamp;

/// FNV-1a: the keys it hashes (flow keys, profile forms, key names) are
/// short and hashed per packet or token; SipHash's DoS resistance buys
/// nothing against a capture file we read once.
#[derive(Default)]
pub struct FnvHasher(u64);

impl Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}
