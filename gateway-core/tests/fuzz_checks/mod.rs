//! The checks behind the fuzz targets in `fuzz/fuzz_targets/`, in one place: each target
//! calls one of these functions on libFuzzer's input, and the `fuzz_corpus` test calls the
//! same function on every file of `fuzz/corpus/<target>/` (and on edits of them).
//!
//! A check takes any bytes and panics when a property fails; inputs a decoder refuses are
//! fine (the properties then say how it must refuse them). The fuzz crate includes this
//! module with `#[path]`, so it uses only what both sides have: `gateway_core`, `bytes`,
//! `serde` and `serde_json`.

pub mod engineio;
pub mod json;
pub mod socketio;
pub mod websocket;

/// A target's check: panics when a property fails for the input.
pub type Check = fn(&[u8]);

/// Every fuzz target by name (its folder under `fuzz/corpus/` and its `[[bin]]` in
/// `fuzz/Cargo.toml`), with its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("engineio_packet", engineio::check_packet),
    ("engineio_payload", engineio::check_payload),
    ("socketio_packet", socketio::check_packet),
    ("json_value", json::check_value),
    ("websocket_frames", websocket::check_frames),
];

/// JSON's whitespace (RFC 8259): the only characters allowed around a value.
pub const JSON_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];
