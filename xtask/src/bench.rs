//! `cargo xtask bench probe`: full-handshake HTTPS checks per second, reach
//! against `curl --parallel`, on one loopback TLS server (nginx when the
//! machine has it, else the in-process lab).
//!
//! Fairness: both clients do a full TLS handshake per check (reach never
//! resumes sessions; curl gets `--no-sessionid`, `--http1.1` and
//! `Connection: close` so that it can neither resume nor reuse nor
//! multiplex), both verify the chain against the same CA, both run 100 at
//! once.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut it = args.iter();
    match it.next().map(String::as_str) {
        Some("probe") => {}
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
                "usage: cargo xtask bench probe [--checks N] [--concurrency N] | bench allowlist | bench serve [--probes N] [--concurrency N] [--reach PATH] | bench run | bench load | bench jsonl [--targets N] | bench bigfile"
            )
        }
    }
    probe_bench(it)
}

/// `bench probe [--checks N] [--concurrency N]`.
fn probe_bench(mut it: std::slice::Iter<'_, String>) -> anyhow::Result<()> {
    let mut checks = 2000usize;
    let mut concurrency = 100usize;
    while let Some(flag) = it.next() {
        let value = it.next().context("a flag without a value")?;
        match flag.as_str() {
            "--checks" => checks = value.parse()?,
            "--concurrency" => concurrency = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }

    let reach = release_reach()?;

    let lab = reach_lab::Lab::start().context("cannot start the lab")?;
    let work = tempfile::tempdir()?;
    let (server, port, _nginx) = match Nginx::start(&lab, work.path())? {
        Some(nginx) => ("nginx (Debian)", nginx.port, Some(nginx)),
        None => ("the in-process lab", lab.https.port(), None),
    };
    let host = "good.lab.test";
    let resolve = format!("{host}:{port}:127.0.0.1");
    let urls: Vec<String> = (0..checks)
        .map(|i| format!("https://{host}:{port}/?check={i}"))
        .collect();
    eprintln!("server: {server} on 127.0.0.1:{port}; {checks} checks, {concurrency} at once");

    // reach
    let targets = work.path().join("targets.txt");
    std::fs::write(&targets, urls.join("\n"))?;
    let report = work.path().join("report.json");
    let started = Instant::now();
    let (status, reach_rss_kib) = run_measured(
        Command::new(&reach)
            .args(["check", "--json", "--timeout", "30s"])
            .args(["--concurrency", &concurrency.to_string()])
            .args(["--resolve", &resolve])
            .arg("--ca-file")
            .arg(&lab.ca_pem_path)
            .arg("--targets-file")
            .arg(&targets)
            .arg("-o")
            .arg(&report),
    )?;
    let reach_secs = started.elapsed().as_secs_f64();
    let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report)?)?;
    let passing = parsed["summary"]["pass"].as_u64().unwrap_or(0);
    if !status.success() || passing != checks as u64 {
        bail!("reach: {status}, {passing} of {checks} checks passed");
    }

    let curl_secs = curl_run(&urls, &resolve, &lab.ca_pem_path, concurrency, work.path())?;

    let reach_rate = checks as f64 / reach_secs;
    let curl_rate = checks as f64 / curl_secs;
    println!("| client | checks/s | wall time |");
    println!("|---|---|---|");
    println!(
        "| reach {} | {reach_rate:.0} | {reach_secs:.2} s |",
        env!("CARGO_PKG_VERSION")
    );
    println!("| curl --parallel | {curl_rate:.0} | {curl_secs:.2} s |");
    println!();
    println!(
        "reach / curl: {:.2}x · reach peak RSS: {:.1} MB · server: {server} · {checks} checks, concurrency {concurrency}, full TLS handshake each",
        reach_rate / curl_rate,
        reach_rss_kib as f64 / 1024.0
    );
    Ok(())
}

/// `curl --parallel` over `urls`, each a full handshake; its wall time.
fn curl_run(
    urls: &[String],
    resolve: &str,
    ca: &Path,
    concurrency: usize,
    work: &Path,
) -> anyhow::Result<f64> {
    let checks = urls.len();
    let config = work.join("curl.conf");
    let mut text = String::new();
    for url in urls {
        let _ = writeln!(text, "url = \"{url}\"\noutput = \"/dev/null\"");
    }
    std::fs::write(&config, text)?;
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["--parallel", "--parallel-max", &concurrency.to_string()])
        .args([
            "--no-sessionid",
            "--http1.1",
            "-H",
            "Connection: close",
            "-sS",
            "--no-progress-meter",
        ])
        .args(["--resolve", resolve])
        .arg("--cacert")
        .arg(ca)
        .args(["-w", "%{http_code}\\n", "-K"])
        .arg(&config)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run curl (apt-get install curl)")?;
    let curl_secs = started.elapsed().as_secs_f64();
    let ok = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l == "200")
        .count();
    if ok != checks {
        bail!("curl: {ok} of {checks} transfers answered 200");
    }

    Ok(curl_secs)
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
    let mut build = crate::cargo();
    build.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "reach-cli",
        "--bin",
        "reach",
    ]);
    crate::run(build)?;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| crate::root().join("target"), PathBuf::from);
    Ok(target_dir.join("release").join("reach"))
}

/// Runs `cmd` to its end, sampling its peak resident set (`VmHWM`, a high
/// water mark kept by the kernel) every 5 ms; returns the exit status and
/// the last peak seen, in KiB.
pub(crate) fn run_measured(cmd: &mut Command) -> anyhow::Result<(std::process::ExitStatus, u64)> {
    let mut child = cmd.spawn()?;
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
        if let Some(status) = child.try_wait()? {
            return Ok((status, peak_kib));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
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
