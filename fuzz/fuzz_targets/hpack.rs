#![no_main]
//! Fuzz target: see teleaudit::app::http2::hpack::fuzz_decode (its
//! invariants must hold for every input).
libfuzzer_sys::fuzz_target!(|data: &[u8]| assert!(teleaudit::app::http2::hpack::fuzz_decode(data)));
