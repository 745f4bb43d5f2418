//! `cargo xtask fuzz [--seconds N] [--jobs J] [TARGET...]`: every fuzz
//! target of `fuzz/` (cargo-fuzz, libFuzzer, nightly), each for a bounded
//! time, `J` at once; prints the executions each ran and whether it
//! crashed. New inputs go to `fuzz/corpus/` (not committed); a crash's input
//! is in `fuzz/artifacts/` and belongs in `fuzz/seeds/` once fixed.

use std::process::{Command, Stdio};

use anyhow::{Context, bail};

/// The targets: the fuzz crate's binaries, `fuzz/fuzz_targets/*.rs`, one
/// per entry of `reach_fuzz_targets::TARGETS` (a test of that crate keeps
/// the two and `fuzz/Cargo.toml` in step).
fn targets() -> anyhow::Result<Vec<String>> {
    let dir = crate::root().join("fuzz").join("fuzz_targets");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".rs"))
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    Ok(names)
}

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut seconds = 60u64;
    let mut jobs = 2usize;
    let mut chosen = Vec::new();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => seconds = it.next().context("--seconds N")?.parse()?,
            "--jobs" => jobs = it.next().context("--jobs N")?.parse::<usize>()?.max(1),
            other => chosen.push(other.to_owned()),
        }
    }
    let all = targets()?;
    for c in &chosen {
        if !all.contains(c) {
            bail!("no fuzz target {c} (targets: {})", all.join(", "));
        }
    }
    let targets = if chosen.is_empty() { all } else { chosen };
    ensure_cargo_fuzz()?;
    let fuzz = crate::root().join("fuzz");
    // Build once, then run.
    let status = Command::new("cargo")
        .current_dir(&fuzz)
        .args(["+nightly", "fuzz", "build"])
        .status()
        .context("cargo +nightly fuzz build")?;
    if !status.success() {
        bail!("cargo fuzz build failed: {status}");
    }
    println!("| target | seconds | executions | result |\n|---|---|---|---|");
    let mut failed = Vec::new();
    for batch in targets.chunks(jobs) {
        // Each fuzzer writes its log to a file: a pipe nobody reads while
        // another target is waited for would fill and stop it.
        let logs = fuzz.join("logs");
        std::fs::create_dir_all(&logs)?;
        let children: Vec<_> = batch
            .iter()
            .map(|t| -> anyhow::Result<_> {
                let corpus = fuzz.join("corpus").join(t);
                let _ = std::fs::create_dir_all(&corpus);
                let log_path = logs.join(format!("{t}.log"));
                let log = std::fs::File::create(&log_path)?;
                let child = Command::new("cargo")
                    .current_dir(&fuzz)
                    .args(["+nightly", "fuzz", "run", t])
                    .arg(&corpus)
                    .arg(fuzz.join("seeds").join(t))
                    .arg("--")
                    .arg(format!("-max_total_time={seconds}"))
                    .args(["-rss_limit_mb=2048", "-timeout=10", "-print_final_stats=1"])
                    .stdout(Stdio::null())
                    .stderr(log)
                    .spawn()?;
                Ok((t.clone(), child, log_path))
            })
            .collect::<Result<_, _>>()?;
        for (target, mut child, log_path) in children {
            let out_status = child.wait()?;
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            let execs = log
                .lines()
                .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
                .next_back()
                .map_or_else(|| "?".to_owned(), |v| v.trim().to_owned());
            let result = if out_status.success() {
                "no crash".to_owned()
            } else {
                failed.push(target.clone());
                let artifact = log
                    .lines()
                    .find(|l| l.contains("Test unit written to"))
                    .unwrap_or("see the log")
                    .to_owned();
                format!("CRASH ({artifact})")
            };
            println!("| {target} | {seconds} | {execs} | {result} |");
        }
    }
    if !failed.is_empty() {
        bail!("crashes in {}", failed.join(", "));
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> anyhow::Result<()> {
    let present = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if present {
        return Ok(());
    }
    eprintln!("installing cargo-fuzz (once)");
    let status = Command::new("cargo")
        .args(["install", "cargo-fuzz", "--locked"])
        .status()?;
    if !status.success() {
        bail!("cargo install cargo-fuzz failed: {status}");
    }
    Ok(())
}
