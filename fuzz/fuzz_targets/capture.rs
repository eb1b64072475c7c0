#![no_main]
//! Fuzz target: see teleaudit::harness::capture.
libfuzzer_sys::fuzz_target!(|data: &[u8]| teleaudit::harness::capture(data));
