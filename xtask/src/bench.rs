//! `cargo xtask bench probe`: full-handshake HTTPS checks per second, reach
//! against `curl --parallel`, on one loopback TLS server (nginx when the
//! machine has it, else the in-process lab).
//!
//! Fairness: both clients do a full TLS handshake per check (reach never
//! resumes sessions; curl gets `--no-sessionid`, `--http1.1` and
//! `Connection: close` so that it can neither resume nor reuse nor
//! multiplex), both verify the chain against the same CA, both run 100 at
//! once.
//!
//! `cargo xtask bench cpu`: the client CPU time each such check costs,
//! reach against curl and against a bare tokio + rustls loop
//! (`bare_loop.rs`) doing the same job, under the same rules.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("probe") => {}
        Some("cpu") => return cpu_bench(it),
        Some("run") => {
            let reach = release_reach()?;
            return run_bench(&reach);
        }
        Some("load") => {
            let reach = release_reach()?;
            return load_bench(&reach);
        }
        Some("jsonl") => {
            let reach = release_reach()?;
            return crate::bench_jsonl::run(&reach, &args[1..]);
        }
        Some("serve") => return crate::bench_serve::run(&args[1..]),
        Some("bigfile") => {
            let reach = release_reach()?;
            return big_file_bench(&reach);
        }
        Some("allowlist") => {
            let reach = release_reach()?;
            let work = tempfile::tempdir()?;
            // XTASK_BENCH_DIR keeps the generated data for profiling.
            let dir = std::env::var_os("XTASK_BENCH_DIR")
                .map_or_else(|| work.path().to_path_buf(), PathBuf::from);
            std::fs::create_dir_all(&dir)?;
            return crate::bench_allowlist::run(&reach, &dir);
        }
        _ => {
            bail!(
                "usage: cargo xtask bench probe [--checks N] [--concurrency N] | bench cpu [--checks N] [--concurrency N] [--rounds N] | bench allowlist | bench serve [--probes N] [--concurrency N] [--reach PATH] | bench run | bench load | bench jsonl [--targets N] | bench bigfile"
            )
        }
    }
    probe_bench(it)
}

/// `bench probe [--checks N] [--concurrency N]`.
fn probe_bench(it: std::slice::Iter<'_, String>) -> anyhow::Result<()> {
    let (checks, concurrency, _) = flags(it, false)?;
    let reach = release_reach()?;
    let lab = reach_lab::Lab::start().context("cannot start the lab")?;
    let work = tempfile::tempdir()?;
    let (target, _nginx) = Target::start(&lab, work.path(), checks, concurrency)?;

    let reach_used = target.reach(&reach)?;
    let curl_used = target.curl()?;
    let (reach_secs, curl_secs) = (reach_used.wall.as_secs_f64(), curl_used.wall.as_secs_f64());
    let reach_rate = checks as f64 / reach_secs;
    let curl_rate = checks as f64 / curl_secs;
    println!("| client | checks/s | wall time | CPU per check |");
    println!("|---|---|---|---|");
    println!(
        "| reach {} | {reach_rate:.0} | {reach_secs:.2} s | {:.3} ms |",
        env!("CARGO_PKG_VERSION"),
        target.per_check_ms(&reach_used)
    );
    println!(
        "| curl --parallel | {curl_rate:.0} | {curl_secs:.2} s | {:.3} ms |",
        target.per_check_ms(&curl_used)
    );
    println!();
    println!(
        "reach / curl: {:.2}x · reach peak RSS: {:.1} MB · server: {} · {checks} checks, concurrency {concurrency}, full TLS handshake each",
        reach_rate / curl_rate,
        reach_used.peak_kib as f64 / 1024.0,
        target.server
    );
    Ok(())
}

/// `bench cpu [--checks N] [--concurrency N] [--rounds N]`: client CPU time
/// (user + system, every thread) per full-handshake check of reach, of
/// `curl --parallel` and of the bare tokio + rustls loop (`bare-loop`), on
/// the same server, CA and concurrency, in one run; each client runs
/// `--rounds` times (15 by default), interleaved, each round started by
/// another client, and the median round counts. Issue 18's
/// goal: reach at most 0.33x curl and at most 1.3x the bare loop.
fn cpu_bench(it: std::slice::Iter<'_, String>) -> anyhow::Result<()> {
    const CURL_GOAL: f64 = 0.33;
    const BARE_GOAL: f64 = 1.3;
    let (checks, concurrency, rounds) = flags(it, true)?;
    let reach = release_reach()?;
    let bare = release_bare_loop()?;
    let lab = reach_lab::Lab::start().context("cannot start the lab")?;
    let work = tempfile::tempdir()?;
    let (target, _nginx) = Target::start(&lab, work.path(), checks, concurrency)?;

    // Per client: CPU ms per check and wall seconds, one entry per round.
    let mut runs: [Vec<(f64, f64)>; 3] = Default::default();
    for round in 1..=rounds {
        eprintln!("round {round} of {rounds}");
        // Each round starts with another client (reach, curl, the bare
        // loop in turn, in that cycle), so that none always runs first.
        for turn in 0..3 {
            let client = (round + turn) % 3;
            let used = match client {
                0 => target.reach(&reach)?,
                1 => target.curl()?,
                _ => target.bare(&bare)?,
            };
            runs[client].push((target.per_check_ms(&used), used.wall.as_secs_f64()));
        }
    }
    // The machine's speed drifts between rounds for every client alike:
    // reach's ratios are taken within each round (the three clients run
    // back to back), and their median is the figure; the spread says how
    // far one round can be from it.
    let per_round = |other: &[(f64, f64)]| -> (f64, f64, f64) {
        let mut ratios: Vec<f64> = runs[0].iter().zip(other).map(|(r, o)| r.0 / o.0).collect();
        ratios.sort_by(f64::total_cmp);
        (
            ratios[ratios.len() / 2],
            ratios[0],
            ratios[ratios.len() - 1],
        )
    };
    let (to_curl, curl_low, curl_high) = per_round(&runs[1]);
    let (to_bare, bare_low, bare_high) = per_round(&runs[2]);
    let [reach_ms, curl_ms, bare_ms] = runs.map(|mut r| {
        r.sort_by(|a, b| a.0.total_cmp(&b.0));
        r[r.len() / 2]
    });
    println!("| client | CPU per check | ratio to curl | ratio to bare loop | wall time |");
    println!("|---|---|---|---|---|");
    for (name, (ms, secs)) in [
        (
            format!("reach {} check", env!("CARGO_PKG_VERSION")),
            reach_ms,
        ),
        ("curl --parallel --no-sessionid".to_owned(), curl_ms),
        ("bare tokio + rustls loop".to_owned(), bare_ms),
    ] {
        println!(
            "| {name} | {ms:.3} ms | {:.2}x | {:.2}x | {secs:.2} s |",
            ms / curl_ms.0,
            ms / bare_ms.0
        );
    }
    println!();
    let verdict = |ratio: f64, goal: f64| if ratio <= goal { "met" } else { "NOT met" };
    println!(
        "reach, the median of its ratios within each round: {to_curl:.2}x curl (rounds {curl_low:.2}-{curl_high:.2}; goal at most {CURL_GOAL}x: {}), {to_bare:.2}x the bare loop (rounds {bare_low:.2}-{bare_high:.2}; goal at most {BARE_GOAL}x: {})",
        verdict(to_curl, CURL_GOAL),
        verdict(to_bare, BARE_GOAL)
    );
    println!(
        "server: {} · {checks} checks per client and round, concurrency {concurrency}, full TLS handshake each, median of {rounds} rounds · CPU = user + system time of the client process",
        target.server
    );
    // CPU time moves with the machine's load; the instructions a client
    // runs do not: one more run each under callgrind, when valgrind is
    // here (slow: about a minute a client).
    if Command::new("valgrind").arg("--version").output().is_ok() {
        let counts = [
            target.instructions_per_check(|t| t.reach(&reach))?,
            target.instructions_per_check(Target::curl)?,
            target.instructions_per_check(|t| t.bare(&bare))?,
        ];
        println!();
        println!(
            "| client | user-space instructions per check | ratio to curl | ratio to bare loop |"
        );
        println!("|---|---|---|---|");
        for (name, count) in [
            "reach check",
            "curl --parallel --no-sessionid",
            "bare tokio + rustls loop",
        ]
        .into_iter()
        .zip(counts)
        {
            println!(
                "| {name} | {:.0}k | {:.2}x | {:.2}x |",
                count / 1000.0,
                count / counts[1],
                count / counts[2]
            );
        }
    }
    Ok(())
}

/// `--checks N`, `--concurrency N` and (with `rounds`) `--rounds N`.
fn flags(
    mut it: std::slice::Iter<'_, String>,
    rounds: bool,
) -> anyhow::Result<(usize, usize, usize)> {
    let (mut checks, mut concurrency, mut round_count) = (2000usize, 100usize, 15usize);
    while let Some(flag) = it.next() {
        let value = it.next().context("a flag without a value")?;
        match flag.as_str() {
            "--checks" => checks = value.parse()?,
            "--concurrency" => concurrency = value.parse()?,
            "--rounds" if rounds => round_count = value.parse::<usize>()?.max(1),
            other => bail!("unknown flag {other}"),
        }
    }
    Ok((checks, concurrency, round_count))
}

/// The HTTPS server every client of `bench probe` and `bench cpu` checks,
/// and the inputs each client gets: `checks` URLs of `good.lab.test` on a
/// loopback port, the lab's CA, the same concurrency.
struct Target {
    server: &'static str,
    port: u16,
    host: &'static str,
    resolve: String,
    ca: PathBuf,
    checks: usize,
    concurrency: usize,
    /// `reach --targets-file`.
    targets: PathBuf,
    /// `curl -K`.
    curl_config: PathBuf,
    work: PathBuf,
    /// When set, each client runs under callgrind, which writes its
    /// user-space instruction count in this log.
    counting: std::cell::RefCell<Option<PathBuf>>,
}

impl Target {
    fn start(
        lab: &reach_lab::Lab,
        work: &Path,
        checks: usize,
        concurrency: usize,
    ) -> anyhow::Result<(Target, Option<Nginx>)> {
        let (server, port, nginx) = match Nginx::start(lab, work)? {
            Some(nginx) => ("nginx (Debian)", nginx.port, Some(nginx)),
            None => ("the in-process lab", lab.https.port(), None),
        };
        let host = "good.lab.test";
        let urls: Vec<String> = (0..checks)
            .map(|i| format!("https://{host}:{port}/?check={i}"))
            .collect();
        let targets = work.join("targets.txt");
        std::fs::write(&targets, urls.join("\n"))?;
        let curl_config = work.join("curl.conf");
        let mut text = String::new();
        for url in &urls {
            let _ = writeln!(text, "url = \"{url}\"\noutput = \"/dev/null\"");
        }
        std::fs::write(&curl_config, text)?;
        eprintln!("server: {server} on 127.0.0.1:{port}; {checks} checks, {concurrency} at once");
        let target = Target {
            server,
            port,
            host,
            resolve: format!("{host}:{port}:127.0.0.1"),
            ca: lab.ca_pem_path.clone(),
            checks,
            concurrency,
            targets,
            curl_config,
            work: work.to_path_buf(),
            counting: std::cell::RefCell::new(None),
        };
        Ok((target, nginx))
    }

    /// `program`'s command: as it is, or under callgrind when counting.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match self.counting.borrow().as_ref() {
            None => Command::new(program),
            Some(out) => {
                // Callgrind counts every instruction a program runs in user
                // space (`Collected : N` in its log), on any machine: a
                // virtual machine often has no hardware counter for perf.
                let mut cmd = Command::new("valgrind");
                cmd.args(["--tool=callgrind", "--callgrind-out-file=/dev/null"])
                    .arg(format!("--log-file={}", out.display()))
                    .arg(program);
                cmd
            }
        }
    }

    /// User-space instructions per check of `run`, a client run under
    /// [`Target::command`] with counting on: unlike CPU time, the same
    /// whatever else the machine is doing.
    fn instructions_per_check(
        &self,
        run: impl FnOnce(&Self) -> anyhow::Result<Used>,
    ) -> anyhow::Result<f64> {
        let out = self.work.join("callgrind.log");
        *self.counting.borrow_mut() = Some(out.clone());
        let ran = run(self);
        *self.counting.borrow_mut() = None;
        ran?;
        let text = std::fs::read_to_string(&out)?;
        let count = text
            .lines()
            .find_map(|l| l.split_once("Collected :").map(|(_, n)| n.trim()))
            .and_then(|n| n.parse::<f64>().ok())
            .with_context(|| format!("no instruction count in callgrind's log: {text}"))?;
        Ok(count / self.checks as f64)
    }

    fn per_check_ms(&self, used: &Used) -> f64 {
        used.cpu.as_secs_f64() * 1000.0 / self.checks as f64
    }

    /// `reach check` over every URL, the report to a file; every check
    /// must pass.
    fn reach(&self, reach: &Path) -> anyhow::Result<Used> {
        let report = self.work.join("report.json");
        let used = run_used(
            self.command(reach)
                .args(["check", "--json", "--timeout", "30s"])
                .args(["--concurrency", &self.concurrency.to_string()])
                .args(["--resolve", &self.resolve])
                .arg("--ca-file")
                .arg(&self.ca)
                .arg("--targets-file")
                .arg(&self.targets)
                .arg("-o")
                .arg(&report),
        )?;
        let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
        let passing = parsed["summary"]["pass"].as_u64().unwrap_or(0);
        if !used.status.success() || passing != self.checks as u64 {
            bail!(
                "reach: {}, {passing} of {} checks passed",
                used.status,
                self.checks
            );
        }
        Ok(used)
    }

    /// `curl --parallel` over every URL, each a full handshake; every
    /// transfer must answer 200.
    fn curl(&self) -> anyhow::Result<Used> {
        let codes = self.work.join("curl.codes");
        let used = run_used(
            self.command("curl")
                .args([
                    "--parallel",
                    "--parallel-max",
                    &self.concurrency.to_string(),
                ])
                .args([
                    "--no-sessionid",
                    "--http1.1",
                    "-H",
                    "Connection: close",
                    "-sS",
                    "--no-progress-meter",
                ])
                .args(["--resolve", &self.resolve])
                .arg("--cacert")
                .arg(&self.ca)
                .args(["-w", "%{http_code}\\n", "-K"])
                .arg(&self.curl_config)
                .stdout(std::fs::File::create(&codes)?)
                .stderr(Stdio::inherit()),
        )
        .context("cannot run curl (apt-get install curl)")?;
        let ok = std::fs::read_to_string(&codes)?
            .lines()
            .filter(|l| *l == "200")
            .count();
        if ok != self.checks {
            bail!("curl: {ok} of {} transfers answered 200", self.checks);
        }
        Ok(used)
    }

    /// The bare tokio + rustls loop; it fails unless every check answered
    /// 200.
    fn bare(&self, bare: &Path) -> anyhow::Result<Used> {
        let used = run_used(
            self.command(bare)
                .args(["--addr", &format!("127.0.0.1:{}", self.port)])
                .args(["--host", self.host])
                .arg("--ca")
                .arg(&self.ca)
                .args(["--checks", &self.checks.to_string()])
                .args(["--concurrency", &self.concurrency.to_string()])
                .stderr(Stdio::inherit()),
        )?;
        if !used.status.success() {
            bail!("bare-loop: {}", used.status);
        }
        Ok(used)
    }
}

/// `cargo xtask bench run`: a preflight of 500 endpoint checks against the
/// lab, through `reach run`: wall time and peak RSS; then the same run on a
/// pseudo-terminal (`script`), to see the progress bar move.
fn run_bench(reach: &Path) -> anyhow::Result<()> {
    const CHECKS: usize = 500;
    let lab = reach_lab::Lab::start().context("cannot start the lab")?;
    let work = tempfile::tempdir()?;
    let mut text = format!(
        "[defaults]\ntimeout = \"10s\"\ndns_servers = [\"{}\"]\nca_files = [\"{}\"]\n",
        lab.dns,
        lab.ca_pem_path.display()
    );
    for i in 0..CHECKS {
        let url = if i % 2 == 0 {
            format!("https://good.lab.test:{}/?check={i}", lab.https.port())
        } else {
            format!(
                "http://good.lab.test:{}/status/200?check={i}",
                lab.http.port()
            )
        };
        let _ = write!(
            text,
            "\n[[endpoint]]\nname = \"check {i}\"\nurl = \"{url}\"\n"
        );
    }
    let file = work.path().join("preflight.toml");
    std::fs::write(&file, text)?;
    let report = work.path().join("report.json");
    for concurrency in ["16", "64"] {
        let started = Instant::now();
        let mut cmd = Command::new(reach);
        cmd.arg("run")
            .arg(&file)
            .args(["--concurrency", concurrency, "--json", "-o"])
            .arg(&report)
            .stdout(Stdio::null());
        let (status, peak_kib) = run_measured(&mut cmd)?;
        let secs = started.elapsed().as_secs_f64();
        if !status.success() {
            bail!("reach run: {status}");
        }
        let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
        let passing = parsed["summary"]["pass"].as_u64().unwrap_or(0);
        println!(
            "| {CHECKS} endpoint checks, --concurrency {concurrency} | {secs:.2} s | {:.0} checks/s | {:.1} MB peak RSS | {passing} passed |",
            CHECKS as f64 / secs,
            peak_kib as f64 / 1024.0
        );
    }
    // On a terminal: the bar's positions as drawn.
    let script = Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{} run {} --concurrency 16 -o {}",
            reach.display(),
            file.display(),
            report.display()
        ))
        .arg("/dev/null")
        .stdin(Stdio::null())
        .output();
    match script {
        Ok(out) => {
            let tty = String::from_utf8_lossy(&out.stdout);
            let mut positions: Vec<&str> = tty
                .split(|c: char| c.is_whitespace() || c == '\r')
                .filter(|w| w.ends_with(&format!("/{CHECKS}")))
                .collect();
            positions.dedup();
            println!(
                "progress bar on a pseudo-terminal: {} distinct positions drawn ({} … {})",
                positions.len(),
                positions.first().unwrap_or(&"-"),
                positions.last().unwrap_or(&"-")
            );
        }
        Err(e) => println!("progress bar not measured (no `script`: {e})"),
    }
    Ok(())
}

/// `cargo xtask bench load`: 10,000 targets from a file with
/// `--concurrency 1000` against the lab: wall time, peak RSS, and whether
/// every check ended without "too many open files".
fn load_bench(reach: &Path) -> anyhow::Result<()> {
    const TARGETS: usize = 10_000;
    let lab = reach_lab::Lab::start().context("cannot start the lab")?;
    let work = tempfile::tempdir()?;
    let mut text = String::new();
    for i in 0..TARGETS {
        let _ = writeln!(text, "http://{}/status/200?i={i}", lab.http);
    }
    let file = work.path().join("targets.txt");
    std::fs::write(&file, text)?;
    let report = work.path().join("report.json");
    let started = Instant::now();
    let mut cmd = Command::new(reach);
    cmd.args(["check", "--targets-file"])
        .arg(&file)
        .args(["--concurrency", "1000", "--timeout", "30s", "--json", "-o"])
        .arg(&report)
        .stdout(Stdio::null());
    let (status, peak_kib) = run_measured(&mut cmd)?;
    let secs = started.elapsed().as_secs_f64();
    let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
    let passing = parsed["summary"]["pass"].as_u64().unwrap_or(0);
    let fd_errors = parsed["checks"].as_array().map_or(0, |checks| {
        checks
            .iter()
            .filter(|c| c.to_string().contains("Too many open files"))
            .count()
    });
    println!(
        "| {TARGETS} targets, --concurrency 1000 | {secs:.2} s | {:.0} checks/s | {:.1} MB peak RSS | {passing} passed | {fd_errors} fd errors | exit {:?} |",
        TARGETS as f64 / secs,
        peak_kib as f64 / 1024.0,
        status.code()
    );
    // Under a hard limit of 512 open files reach cannot raise: it runs
    // fewer checks at once, says so, and still finishes every one.
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 512 && exec {} check --targets-file {} --concurrency 1000 --timeout 30s --json -o {}",
            reach.display(),
            file.display(),
            report.display()
        ))
        .stdout(Stdio::null())
        .output()?;
    let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
    println!(
        "under `ulimit -n 512`: exit {:?}, {} passed; reach said: {}",
        out.status.code(),
        parsed["summary"]["pass"].as_u64().unwrap_or(0),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

/// `cargo xtask bench bigfile`: a 10-million-line allowlist made of 100,000
/// distinct networks, each listed 100 times, against a small feed; then the
/// 100,000 distinct lines alone. Peak RSS of each: memory follows the
/// distinct entries, not the file.
fn big_file_bench(reach: &Path) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let distinct: Vec<String> = (0..100_000u32)
        .map(|i| format!("{}.{}.{}.0/24", 10 + (i >> 16), (i >> 8) & 0xFF, i & 0xFF))
        .collect();
    let feed = work.path().join("feed.txt");
    std::fs::write(&feed, "10.0.0.0/16\n11.0.0.0/16\n")?;
    let mut big = String::with_capacity(150 * 1024 * 1024);
    for round in 0..100 {
        for (i, net) in distinct.iter().enumerate() {
            // Interleaved, and every tenth line with a comment.
            if (i + round) % 10 == 0 {
                let _ = writeln!(big, "{net}  # rule {round}");
            } else {
                let _ = writeln!(big, "{net}");
            }
        }
    }
    let big_path = work.path().join("big.txt");
    std::fs::write(&big_path, &big)?;
    drop(big);
    let small_path = work.path().join("distinct.txt");
    std::fs::write(&small_path, distinct.join("\n") + "\n")?;
    for (label, path) in [
        ("10,000,000 lines (100,000 distinct)", &big_path),
        ("100,000 distinct lines", &small_path),
    ] {
        let started = Instant::now();
        let mut cmd = Command::new(reach);
        cmd.args(["allowlist", "--json", "--published"])
            .arg(&feed)
            .arg("--allowlist")
            .arg(path)
            .stdout(Stdio::null());
        let (status, peak_kib) = run_measured(&mut cmd)?;
        println!(
            "| {label} | {:.0} MB file | {:.2} s | {:.1} MB peak RSS | exit {:?} |",
            std::fs::metadata(path)?.len() as f64 / 1e6,
            started.elapsed().as_secs_f64(),
            peak_kib as f64 / 1024.0,
            status.code()
        );
    }
    drop(work);
    feed_memory_bench(reach)
}

/// A published AWS feed of 2,000,000 prefixes (about 300 MB, shaped as
/// AWS's own `ip-ranges.json`): peak RSS against the file's size. The goal
/// (issue 14) is at most 3 times the file.
fn feed_memory_bench(reach: &Path) -> anyhow::Result<()> {
    const PREFIXES: u32 = 2_000_000;
    let work = tempfile::tempdir()?;
    let regions = [
        "us-east-1",
        "eu-west-1",
        "ap-south-1",
        "us-west-2",
        "eu-central-1",
    ];
    let services = ["AMAZON", "EC2", "S3", "CLOUDFRONT", "ROUTE53"];
    let mut feed = String::with_capacity(320 * 1024 * 1024);
    feed.push_str(
        "{\n  \"syncToken\": \"1767225600\",\n  \"createDate\": \"2026-01-01-00-00-00\",\n  \"prefixes\": [\n",
    );
    for i in 0..PREFIXES {
        let (region, service) = (regions[i as usize % 5], services[i as usize % 7 % 5]);
        let _ = write!(
            feed,
            "    {{\n      \"ip_prefix\": \"{}.{}.{}.{}/32\",\n      \"region\": \"{region}\",\n      \"service\": \"{service}\",\n      \"network_border_group\": \"{region}\"\n    }}{}\n",
            10 + (i >> 24),
            (i >> 16) & 0xFF,
            (i >> 8) & 0xFF,
            i & 0xFF,
            if i + 1 < PREFIXES { "," } else { "" }
        );
    }
    feed.push_str("  ],\n  \"ipv6_prefixes\": []\n}\n");
    let feed_path = work.path().join("ip-ranges.json");
    std::fs::write(&feed_path, &feed)?;
    drop(feed);
    let allow = work.path().join("allow.txt");
    std::fs::write(&allow, "10.0.0.0/8\n")?;
    let started = Instant::now();
    let mut cmd = Command::new(reach);
    cmd.args(["allowlist", "--json", "--published"])
        .arg(&feed_path)
        .arg("--allowlist")
        .arg(&allow)
        .stdout(Stdio::null());
    let (status, peak_kib) = run_measured(&mut cmd)?;
    let size = std::fs::metadata(&feed_path)?.len() as f64;
    let peak = peak_kib as f64 * 1024.0;
    println!(
        "| AWS feed, {PREFIXES} prefixes | {:.0} MB file | {:.2} s | {:.1} MB peak RSS | {:.2}x the file (goal: at most 3x) | exit {:?} |",
        size / 1e6,
        started.elapsed().as_secs_f64(),
        peak / 1024.0 / 1024.0,
        peak / size,
        status.code()
    );
    Ok(())
}

/// Builds reach in release and returns the binary's path.
pub(crate) fn release_reach() -> anyhow::Result<PathBuf> {
    release_bin("reach-cli", "reach")
}

/// Builds the bare loop (`xtask/src/bare_loop.rs`) in release, optimized
/// as reach is, and returns the binary's path.
fn release_bare_loop() -> anyhow::Result<PathBuf> {
    release_bin("xtask", "bare-loop")
}

/// Builds `bin` of `package` in release (`--locked`) and returns its path.
fn release_bin(package: &str, bin: &str) -> anyhow::Result<PathBuf> {
    let mut build = crate::cargo();
    build.args([
        "build",
        "--release",
        "--quiet",
        "--locked",
        "-p",
        package,
        "--bin",
        bin,
    ]);
    crate::run(build)?;
    Ok(crate::target_dir().join("release").join(bin))
}

/// Runs `cmd` to its end, sampling its peak resident set (`VmHWM`, a high
/// water mark kept by the kernel) every 5 ms; returns the exit status and
/// the last peak seen, in KiB.
pub(crate) fn run_measured(cmd: &mut Command) -> anyhow::Result<(std::process::ExitStatus, u64)> {
    let used = run_used(cmd)?;
    Ok((used.status, used.peak_kib))
}

/// What a child used, measured by [`run_used`].
struct Used {
    status: std::process::ExitStatus,
    /// The last `VmHWM` seen, in KiB.
    peak_kib: u64,
    /// User plus system CPU time of all its threads.
    cpu: Duration,
    wall: Duration,
}

/// Runs `cmd` to its end, sampling its peak resident set every 5 ms; once
/// it has exited, and before it is reaped, reads its CPU time from
/// `/proc/PID/stat` (the kernel's own count of every thread's run time,
/// given in clock ticks: 10 ms, under 0.5% of a second's run).
fn run_used(cmd: &mut Command) -> anyhow::Result<Used> {
    use rustix::process::{Pid, WaitId, WaitIdOptions, waitid};
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let pid = Pid::from_child(&child);
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0;
    loop {
        if let Ok(text) = std::fs::read_to_string(&status_path) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if let Some(hwm) = hwm {
                peak_kib = peak_kib.max(hwm);
            }
        }
        // NOWAIT leaves the exited child a zombie, whose /proc entry still
        // holds its times; `wait` reaps it after.
        let exited = waitid(
            WaitId::Pid(pid),
            WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
        )?;
        if exited.is_some() {
            let wall = started.elapsed();
            let cpu = cpu_time(child.id())?;
            let status = child.wait()?;
            return Ok(Used {
                status,
                peak_kib,
                cpu,
                wall,
            });
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// `utime + stime` of a process (all its threads) from `/proc/PID/stat`.
fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name, in parentheses, may hold spaces: count fields from
    // the last `)`, which is field 2; utime and stime are fields 14 and 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("an unreadable /proc/PID/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        Ok(fields
            .get(i)
            .context("a short /proc/PID/stat")?
            .parse::<u64>()?)
    };
    let total = ticks(14 - 3)? + ticks(15 - 3)?;
    let hz = rustix::param::clock_ticks_per_second();
    Ok(Duration::from_secs_f64(total as f64 / hz as f64))
}

/// An nginx from Debian's package, serving 200 over TLS on a loopback port.
pub(crate) struct Nginx {
    child: std::process::Child,
    pub(crate) port: u16,
}

impl Nginx {
    pub(crate) fn start(lab: &reach_lab::Lab, dir: &Path) -> anyhow::Result<Option<Nginx>> {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        let Some(binary) = binary else {
            return Ok(None);
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let (cert, key) = lab.https_identity_paths();
        let conf = dir.join("nginx.conf");
        std::fs::write(
            &conf,
            format!(
                "worker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
                 events {{ worker_connections 4096; }}\n\
                 http {{\n  access_log off;\n  client_body_temp_path {dir};\n  proxy_temp_path {dir};\n\
                   fastcgi_temp_path {dir};\n  uwsgi_temp_path {dir};\n  scgi_temp_path {dir};\n\
                   server {{\n    listen 127.0.0.1:{port} ssl;\n\
                     ssl_certificate {cert};\n    ssl_certificate_key {key};\n\
                     ssl_session_cache off;\n    ssl_session_tickets off;\n\
                     location / {{ return 200 \"ok\\n\"; }}\n  }}\n}}\n",
                dir = dir.display(),
                cert = cert.display(),
                key = key.display(),
            ),
        )?;
        let child = Command::new(binary)
            .args(["-e", "stderr", "-p"])
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .args(["-g", "daemon off; master_process off;"])
            .stdout(Stdio::null())
            .spawn()?;
        // Bounded wait until it listens.
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Some(Nginx { child, port }));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        bail!("nginx did not start listening on 127.0.0.1:{port}")
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
