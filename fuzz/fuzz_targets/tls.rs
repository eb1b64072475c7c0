#![no_main]
//! Fuzz target: see teleaudit::harness::tls.
libfuzzer_sys::fuzz_target!(|data: &[u8]| teleaudit::harness::tls(data));
