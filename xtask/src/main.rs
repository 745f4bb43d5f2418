//! `cargo xtask`: the project's own tasks (rust-analyzer's pattern).
//!
//! - `cargo xtask ci`     fmt check, clippy -D warnings on all targets, all tests, all `--locked`
//! - `cargo xtask interop` real servers (nginx, squid, Knot, nft, …) against the reach binary, as root
//! - `cargo xtask demo`   start the loopback lab and run `reach check` against good and broken endpoints
//! - `cargo xtask schema` regenerate `report.schema.json`

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, bail};

mod bench;
mod bench_allowlist;
mod bench_jsonl;
mod bench_serve;
mod fuzz;
mod interop;

const USAGE: &str = "usage: cargo xtask <ci|interop|demo|schema|bench …|fuzz …>

  ci           cargo fmt --check, cargo clippy -D warnings (all targets), cargo test (all --locked)
  interop [FILTER]  install real servers (Debian packages, as root) and run the reach binary against them
  demo         start the loopback lab and run `reach run examples/preflight.toml`: every check kind
  schema       regenerate report.schema.json from the report types
  bench probe  HTTPS checks per second, reach against curl --parallel, on one loopback TLS server
  bench cpu    client CPU per full-handshake check: reach, curl --parallel, a bare tokio + rustls loop
  bench allowlist  published minus allowlist on 1M + 1M prefixes, reach against iprange
  bench serve  reach serve against blackbox_exporter: CPU per probe and peak RSS, one HTTPS target
  bench run    500 endpoint checks through `reach run`: time, peak RSS, the progress bar
  bench load   10,000 targets with --concurrency 1000: time, peak RSS, open-file limits
  bench jsonl  10,000 and 100,000 HTTPS checks at --concurrency 1000: json against jsonl, peak RSS
  bench bigfile  a 10-million-line allowlist (100,000 distinct networks): time, peak RSS
  fuzz [--seconds N] [--jobs J] [TARGET...]  every fuzz target (cargo-fuzz, nightly), N seconds each";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(&args[1..]),
        Some("schema") => schema(),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("interop") => interop::run(&args[1..]),
        Some("bench") => bench::run(&args[1..]),
        Some("-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e:#}");
            ExitCode::FAILURE
        }
    }
}

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

pub(crate) fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(root());
    cmd
}

pub(crate) fn run(mut cmd: Command) -> anyhow::Result<()> {
    eprintln!("$ {cmd:?}");
    let status = cmd
        .status()
        .with_context(|| format!("cannot start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed: {status}");
    }
    Ok(())
}

fn ci() -> anyhow::Result<()> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run(fmt)?;
    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run(clippy)?;
    // `--all-targets` leaves out test targets with `test = false`: the
    // interop suite is linted here, and run by `cargo xtask interop`.
    let mut interop = cargo();
    interop.args([
        "clippy",
        "--locked",
        "-p",
        "reach-cli",
        "--test",
        "interop",
        "--",
        "-D",
        "warnings",
    ]);
    run(interop)?;
    let mut test = cargo();
    test.args(["test", "--workspace", "--locked"]);
    run(test)
}

fn schema() -> anyhow::Result<()> {
    let mut cmd = cargo();
    cmd.args(["test", "-q", "-p", "reach-report", "--test", "schema"])
        .env("UPDATE_SCHEMA", "1");
    run(cmd)?;
    eprintln!("wrote {}", root().join("report.schema.json").display());
    Ok(())
}

/// Where cargo builds: `CARGO_TARGET_DIR`, else the workspace's `target`.
pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

fn demo(extra: &[String]) -> anyhow::Result<()> {
    // The build below is quiet, and the first one compiles every
    // dependency: say what the wait is before it starts.
    eprintln!("building reach (the first build takes about 3 minutes)…");
    let mut build = cargo();
    build.args(["build", "--quiet", "-p", "reach-cli", "--bin", "reach"]);
    run(build)?;
    let reach = target_dir().join("debug").join("reach");

    let lab = reach_lab::Lab::start().context("cannot start the loopback lab")?;
    eprintln!(
        "lab: dns {} · http {} · https {} · idp/app/authorization server {} (CA {})",
        lab.dns,
        lab.http,
        lab.https,
        lab.idp,
        lab.ca_pem_path.display()
    );
    let preflight = root().join("examples").join("preflight.toml");
    let mut cmd = Command::new(&reach);
    cmd.arg("run").arg(&preflight).args(extra);
    for (name, value) in lab.preflight_environment() {
        cmd.env(name, value);
    }
    eprintln!("$ reach run examples/preflight.toml\n");
    let status = cmd.status().context("cannot run reach")?;
    // Exit code 1 is the expected verdict: the lab is half broken on purpose.
    match status.code() {
        Some(0 | 1) => Ok(()),
        _ => bail!("reach ended with {status}"),
    }
}
