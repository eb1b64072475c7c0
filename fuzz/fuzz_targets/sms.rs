#![no_main]
//! Fuzz target: see teleaudit::app::sms::fuzz (TPDU, RP/CP, NAS and
//! GSMTAP/LAPDm decoders, concatenation).
libfuzzer_sys::fuzz_target!(|data: &[u8]| teleaudit::app::sms::fuzz(data));
