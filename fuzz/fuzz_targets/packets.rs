#![no_main]
//! Fuzz target: see teleaudit::harness::packets.
libfuzzer_sys::fuzz_target!(|data: &[u8]| teleaudit::harness::packets(data));
