//! The fuzzer's seeds (and any corpus a `cargo xtask fuzz` run left), run
//! through every target on stable Rust: CI exercises what the fuzzer found
//! without nightly. A crash found by fuzzing is added to `fuzz/seeds/`.

use std::path::PathBuf;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

#[test]
fn every_seed_runs_through_its_target_without_a_panic() {
    let mut ran = 0;
    for target in reach_cli::fuzzing::TARGETS {
        let mut files = Vec::new();
        for folder in ["seeds", "corpus"] {
            let dir = fuzz_dir().join(folder).join(target);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                files.extend(entries.filter_map(Result::ok).map(|e| e.path()));
            }
        }
        files.sort();
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().contains("/seeds/")),
            "no seed for fuzz target {target}"
        );
        for file in files {
            // A fuzzer running meanwhile may replace corpus files.
            let Ok(data) = std::fs::read(&file) else {
                continue;
            };
            assert!(reach_cli::fuzzing::run(target, &data), "{target}");
            ran += 1;
        }
    }
    assert!(ran >= reach_cli::fuzzing::TARGETS.len());
}

#[test]
fn every_target_has_a_fuzz_binary() {
    for target in reach_cli::fuzzing::TARGETS {
        let path = fuzz_dir().join("fuzz_targets").join(format!("{target}.rs"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path:?}"));
        assert!(text.contains(&format!("run(\"{target}\"")), "{path:?}");
    }
}
