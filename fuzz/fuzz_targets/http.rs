#![no_main]
//! Fuzz target: see teleaudit::harness::http.
libfuzzer_sys::fuzz_target!(|data: &[u8]| teleaudit::harness::http(data));
