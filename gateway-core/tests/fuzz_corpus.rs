//! Replays the fuzz targets' seed corpus (`fuzz/corpus/<target>/`) through the targets'
//! own checks (`fuzz_checks`, shared with `fuzz/fuzz_targets/`), so that the properties
//! the fuzzers assert hold in every ordinary test run, without nightly Rust. Each file is
//! also checked after a few hundred deterministic random edits (a fixed-seed generator:
//! a failure reproduces), a small fuzzing run of its own.
//!
//! A crash found by `cargo fuzz run <target>` becomes a regression test by copying the
//! file from `fuzz/artifacts/<target>/` into `fuzz/corpus/<target>/`.

mod fuzz_checks;

mod common;

use common::Rng;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Edits of each corpus file checked besides the file itself, unless the environment
/// variable `FUZZ_CORPUS_EDITS` says how many (a longer run on stable Rust: see
/// `fuzz/README.md`); `FUZZ_CORPUS_SEED` changes the generator's seed.
const EDITS_PER_FILE: usize = 200;

/// A number from the environment variable `name`, or `default`.
fn setting(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
        Err(_) => default,
    }
}

/// The corpus files of `target`, in name order.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a readable directory entry").path())
        .filter(|path| path.is_file())
        .collect();
    files.sort();
    files
}

impl Rng {
    /// One to four byte edits of `input`: replace, delete, insert (a byte of `input`, a
    /// byte that means something to one of the decoders, or any byte), or duplicate a
    /// slice.
    fn mutate(&mut self, input: &[u8]) -> Vec<u8> {
        const SPECIAL: &[u8] =
            b"[]{}\",:\\/-+.eE0123456789tfnu_ \t\n\r\x1eb=\x00\x7f\x80\x81\x88\x7e\xff\xc2\xa0";
        let mut bytes = input.to_vec();
        for _ in 0..1 + self.below(4) {
            let at = self.below(bytes.len() + 1);
            let byte = match self.below(3) {
                0 if !input.is_empty() => input[self.below(input.len())],
                1 => SPECIAL[self.below(SPECIAL.len())],
                _ => self.next() as u8,
            };
            match self.below(4) {
                0 if at < bytes.len() => bytes[at] = byte,
                1 if at < bytes.len() => {
                    bytes.remove(at);
                }
                2 if at < bytes.len() => {
                    let end = (at + 1 + self.below(16)).min(bytes.len());
                    let slice = bytes[at..end].to_vec();
                    bytes.splice(at..at, slice);
                }
                _ => bytes.insert(at, byte),
            }
        }
        bytes
    }
}

/// Runs `target`'s check on each of its corpus files and on edits of them.
fn replay(target: &str) {
    let check = fuzz_checks::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|&(_, check)| check)
        .unwrap_or_else(|| panic!("no check for {target}"));
    let files = corpus(target);
    assert!(
        files.len() >= 10,
        "{target}: only {} seed files",
        files.len()
    );
    let edits = setting("FUZZ_CORPUS_EDITS", EDITS_PER_FILE as u64);
    // Xorshift needs a state other than zero.
    let mut rng = Rng(setting("FUZZ_CORPUS_SEED", 0x9E37_79B9_7F4A_7C15).max(1));
    for path in &files {
        let data = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(&data)));
        if outcome.is_err() {
            panic!("{target}: the check fails on {}", path.display());
        }
        for _ in 0..edits {
            let edited = rng.mutate(&data);
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| check(&edited)));
            if outcome.is_err() {
                panic!(
                    "{target}: the check fails on an edit of {}: {:?}",
                    path.display(),
                    String::from_utf8_lossy(&edited)
                );
            }
        }
    }
}

#[test]
fn every_target_has_a_corpus_and_a_fuzz_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let manifest = fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (target, _) in fuzz_checks::TARGETS {
        assert!(
            manifest.contains(&format!("name = \"{target}\"")),
            "{target} is not a [[bin]] of fuzz/Cargo.toml"
        );
        let source = fs::read_to_string(root.join(format!("fuzz_targets/{target}.rs")))
            .unwrap_or_else(|e| panic!("fuzz/fuzz_targets/{target}.rs: {e}"));
        assert!(
            source.contains("fuzz_checks::"),
            "{target} does not run the shared check"
        );
        assert!(!corpus(target).is_empty(), "{target} has no seed corpus");
    }
}

#[test]
fn engineio_packet_corpus() {
    replay("engineio_packet");
}

#[test]
fn engineio_payload_corpus() {
    replay("engineio_payload");
}

#[test]
fn socketio_packet_corpus() {
    replay("socketio_packet");
}

#[test]
fn json_value_corpus() {
    replay("json_value");
}

#[test]
fn websocket_frames_corpus() {
    replay("websocket_frames");
}
