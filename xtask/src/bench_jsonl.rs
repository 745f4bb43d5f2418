//! `cargo xtask bench jsonl`: peak memory of `reach check` over many
//! targets at `--concurrency 1000`: the whole-report JSON against
//! `--format jsonl`, which writes each check as it ends and keeps none.
//! Every target is a full HTTPS check of one nginx (Debian's, else the
//! in-process lab), so that each check holds a TLS chain in its report.

use std::fmt::Write as _;
use std::io::BufRead as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::bench::{Nginx, run_measured};

/// The limit the issue sets for a streamed run, whatever its size.
const LIMIT_MB: f64 = 100.0;

/// `bench jsonl [--targets N]`: N targets in both formats instead of the
/// issue's 10,000 and 100,000 (for a quick look or a profile).
pub(crate) fn run(reach: &Path, args: &[String]) -> anyhow::Result<()> {
    let runs: Vec<(usize, &str)> = match args {
        [] => vec![(10_000, "json"), (10_000, "jsonl"), (100_000, "jsonl")],
        [flag, n] if flag == "--targets" => {
            let n = n.parse().context("--targets N")?;
            vec![(n, "json"), (n, "jsonl")]
        }
        _ => bail!("usage: cargo xtask bench jsonl [--targets N]"),
    };
    let lab = reach_lab::Lab::start().context("cannot start the lab")?;
    let work = tempfile::tempdir()?;
    let (server, port, _nginx) = match Nginx::start(&lab, work.path())? {
        Some(nginx) => ("nginx (Debian)", nginx.port, Some(nginx)),
        None => ("the in-process lab", lab.https.port(), None),
    };
    let resolve = format!("good.lab.test:{port}:127.0.0.1");
    println!("server: {server}; every target a full HTTPS check, --concurrency 1000");
    println!();
    println!("| targets | format | wall time | peak RSS | checks written | passed |");
    println!("|---|---|---|---|---|---|");
    let mut streamed_peaks = Vec::new();
    for (targets, format) in runs {
        let file = work.path().join(format!("targets-{targets}.txt"));
        if !file.exists() {
            let mut text = String::with_capacity(targets * 48);
            for i in 0..targets {
                let _ = writeln!(text, "https://good.lab.test:{port}/?i={i}");
            }
            std::fs::write(&file, text)?;
        }
        let out = work.path().join(format!("report.{format}"));
        let started = Instant::now();
        // REACH_WRAP (e.g. `perf record -g -o FILE`) runs reach under a tool.
        let wrap = std::env::var("REACH_WRAP").unwrap_or_default();
        let mut words = wrap.split_whitespace();
        let mut command = match words.next() {
            Some(tool) => {
                let mut c = Command::new(tool);
                c.args(words).arg(reach);
                c
            }
            None => Command::new(reach),
        };
        let (status, peak_kib) = run_measured(
            command
                .args(["check", "--format", format, "--concurrency", "1000"])
                .args(["--timeout", "60s", "--resolve", &resolve, "--ca-file"])
                .arg(&lab.ca_pem_path)
                .arg("--targets-file")
                .arg(&file)
                .arg("-o")
                .arg(&out)
                .stdout(Stdio::null()),
        )?;
        let secs = started.elapsed().as_secs_f64();
        let (written, passed) = count(&out, format)?;
        if !status.success() || passed != targets {
            bail!("reach --format {format}: {status}, {passed} of {targets} checks passed");
        }
        let peak_mb = peak_kib as f64 / 1024.0;
        if format == "jsonl" {
            streamed_peaks.push(peak_mb);
        }
        println!("| {targets} | {format} | {secs:.1} s | {peak_mb:.1} MB | {written} | {passed} |");
    }
    println!();
    let worst = streamed_peaks.iter().copied().fold(0.0, f64::max);
    println!(
        "jsonl peak RSS at most {worst:.1} MB (limit {LIMIT_MB:.0} MB): {}",
        if worst <= LIMIT_MB {
            "holds"
        } else {
            "EXCEEDED"
        }
    );
    Ok(())
}

/// Checks written, and how many passed, in a report of `format`.
fn count(path: &Path, format: &str) -> anyhow::Result<(usize, usize)> {
    if format == "json" {
        let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        let written = report["checks"].as_array().map_or(0, Vec::len);
        let passed = report["summary"]["pass"].as_u64().unwrap_or(0);
        return Ok((written, usize::try_from(passed)?));
    }
    let mut written = 0;
    let mut passed = 0;
    for line in std::io::BufReader::new(std::fs::File::open(path)?).lines() {
        let check: serde_json::Value = serde_json::from_str(&line?)?;
        written += 1;
        if check["status"] == "pass" {
            passed += 1;
        }
    }
    Ok((written, passed))
}
