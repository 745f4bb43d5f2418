//! The fuzzer's seeds (and any corpus a `cargo xtask fuzz` run left), run through every target
//! on stable Rust: CI exercises what the fuzzer found without nightly. A crash found by fuzzing
//! is added to `fuzz/seeds/`.

use std::path::PathBuf;

use reach_fuzz_targets::TARGETS;

fn fuzz_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

#[test]
fn every_seed_runs_through_its_target_without_a_panic() {
    for target in TARGETS {
        let mut files = Vec::new();
        for folder in ["seeds", "corpus"] {
            let dir = fuzz_dir().join(folder).join(target.name);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                files.extend(entries.filter_map(Result::ok).map(|e| e.path()));
            }
        }
        files.sort();
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().contains("/seeds/")),
            "no seed for fuzz target {}",
            target.name
        );
        let mut seeds_run = 0;
        for file in files {
            let seed = file.to_string_lossy().contains("/seeds/");
            // A fuzzer running meanwhile may replace corpus files; a seed
            // must read.
            let data = match std::fs::read(&file) {
                Ok(data) => data,
                Err(e) if seed => panic!("{}: {e}", file.display()),
                Err(_) => continue,
            };
            (target.run)(&data);
            seeds_run += usize::from(seed);
        }
        assert!(seeds_run > 0, "no seed of fuzz target {} ran", target.name);
    }
}

/// `fuzz/fuzz_targets/` (which `cargo xtask fuzz` lists), `fuzz/Cargo.toml`'s binaries and
/// [`TARGETS`] name the same targets, and each binary calls its own function.
#[test]
fn every_target_has_a_fuzz_binary_and_no_binary_lacks_a_target() {
    let mut names: Vec<&str> = TARGETS.iter().map(|t| t.name).collect();
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    assert_eq!(names.len(), before, "a target name is listed twice");

    let mut binaries: Vec<String> = std::fs::read_dir(fuzz_dir().join("fuzz_targets"))
        .expect("fuzz/fuzz_targets")
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".rs"))
                .map(str::to_owned)
        })
        .collect();
    binaries.sort_unstable();
    assert_eq!(binaries, names);

    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for name in names {
        let path = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path:?}"));
        assert!(
            text.contains(&format!("reach_fuzz_targets::{name}(data)")),
            "{path:?} calls another target"
        );
        assert!(
            manifest.contains(&format!(
                "name = \"{name}\"\npath = \"fuzz_targets/{name}.rs\""
            )),
            "no [[bin]] {name} in fuzz/Cargo.toml"
        );
    }
}
