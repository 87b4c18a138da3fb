//! Fuzz target `json_value`: runs `fuzz_checks::json::check_value` (see its documentation for what it
//! asserts). The same function replays `fuzz/corpus/json_value/` in
//! `cargo test -p gateway-core --test fuzz_corpus`.
#![no_main]

#[allow(dead_code)] // each target uses one check of the shared module
#[path = "../../gateway-core/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::json::check_value(data));
