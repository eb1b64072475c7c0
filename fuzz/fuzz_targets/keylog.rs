#![no_main]
//! Fuzz target: see teleaudit::harness::keylog.
libfuzzer_sys::fuzz_target!(|data: &[u8]| teleaudit::harness::keylog(data));
