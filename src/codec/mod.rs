//! codec: the decoders `http` and `extract` share. [`compress`] undoes
//! Content-Encodings (gzip, deflate, brotli, zstd); [`text`] undoes the
//! encodings found inside values (URL escapes, `k=v` pairs, base64, hex).
//!
//! Input: bytes or text (and the output limit, for decompression).
//! Output: the decoded bytes or text, or why it did not decode.
//!
//! Never: know about HTTP, requests, fields or provenance (callers name
//! the decodings they apply), or grow output past a named limit.

pub mod compress;
pub mod text;
