#![no_main]
//! Fuzz target: see teleaudit::harness::http2.
libfuzzer_sys::fuzz_target!(|data: &[u8]| teleaudit::harness::http2(data));
