//! Fuzz target `socketio_packet`: runs `fuzz_checks::socketio::check_packet` (see its documentation for what it
//! asserts). The same function replays `fuzz/corpus/socketio_packet/` in
//! `cargo test -p gateway-core --test fuzz_corpus`.
#![no_main]

#[allow(dead_code)] // each target uses one check of the shared module
#[path = "../../gateway-core/tests/fuzz_checks/mod.rs"]
mod fuzz_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_checks::socketio::check_packet(data));
