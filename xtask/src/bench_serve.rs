//! `cargo xtask bench serve`: `reach serve` against Debian's
//! `blackbox_exporter`, the exporter it replaces (issue 18). The same N
//! probes of one HTTPS target (nginx with the lab's certificate), the same
//! number at once, fired at each exporter's `/probe?target=…`; for each, the
//! CPU time it spent per probe and its peak resident set.
//!
//! Fairness: both verify the lab CA and do a full TLS handshake per probe
//! (nginx has no session cache and no tickets; neither exporter keeps
//! connections between probes), both get the same module timeout, both are
//! measured from their own `/proc/PID` (user + system time of all their
//! threads, and `VmHWM`), after the same warm-up.
//!
//! Goals: reach's CPU per probe at most half of `blackbox_exporter`'s, its
//! peak RSS no higher.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::bench::Nginx;

const BLACKBOX: &str = "/usr/bin/prometheus-blackbox-exporter";

/// Probes before measuring: both exporters load their module, certificates
/// and code paths first.
const WARM_UP: usize = 50;

/// `bench serve [--probes N] [--concurrency N] [--reach PATH]`; `--reach`
/// takes a built binary instead of building reach in release.
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let mut probes = 2000usize;
    let mut concurrency = 50usize;
    let mut reach = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().context("a flag without a value")?;
        match flag.as_str() {
            "--probes" => probes = value.parse()?,
            "--concurrency" => concurrency = value.parse()?,
            "--reach" => reach = Some(PathBuf::from(value)),
            other => bail!("unknown flag {other}"),
        }
    }
    let reach = match reach {
        Some(path) => path,
        None => crate::bench::release_reach()?,
    };
    if !Path::new(BLACKBOX).exists() {
        bail!("{BLACKBOX} is missing: apt-get install prometheus-blackbox-exporter");
    }

    let lab = reach_lab::Lab::start().context("cannot start the lab")?;
    let work = tempfile::tempdir()?;
    let dir = work.path();
    let nginx =
        Nginx::start(&lab, dir)?.context("the bench needs nginx (apt-get install nginx-light)")?;
    // The lab's certificate names 127.0.0.1: no name to resolve for either.
    let target = format!("https://127.0.0.1:{}/", nginx.port);
    let ca = lab.ca_pem_path.display().to_string();
    eprintln!(
        "target: nginx (Debian) at {target}; {probes} probes, {concurrency} at once, per exporter"
    );

    let blackbox_config = dir.join("blackbox.yml");
    std::fs::write(
        &blackbox_config,
        format!(
            "modules:\n  default:\n    prober: http\n    timeout: 5s\n    http:\n      \
             preferred_ip_protocol: ip4\n      tls_config:\n        ca_file: {ca}\n"
        ),
    )?;
    let addr = free_addr()?;
    let blackbox = Exporter::start(
        "blackbox_exporter",
        without_proxies(&mut Command::new(BLACKBOX))
            .arg(format!("--config.file={}", blackbox_config.display()))
            .arg(format!("--web.listen-address={addr}")),
        addr,
        &dir.join("blackbox.log"),
    )?;
    let blackbox = measure(&blackbox, &target, probes, concurrency)?;

    let serve_config = dir.join("serve.toml");
    std::fs::write(
        &serve_config,
        format!("[modules.default]\ntimeout = \"5s\"\nca_files = [\"{ca}\"]\n"),
    )?;
    let addr = free_addr()?;
    let reach_serve = Exporter::start(
        "reach serve",
        without_proxies(&mut Command::new(&reach))
            .arg("serve")
            .arg("--config")
            .arg(&serve_config)
            .arg("--listen")
            .arg(addr.to_string()),
        addr,
        &dir.join("reach-serve.log"),
    );
    let reach_serve = match reach_serve {
        Ok(exporter) => measure(&exporter, &target, probes, concurrency),
        Err(e) => Err(e),
    };

    println!("| exporter | CPU ms per probe | peak RSS | probes/s |");
    println!("|---|---|---|---|");
    println!("{}", blackbox.row("blackbox_exporter 0.23 (Debian)"));
    let reach_serve = match reach_serve {
        Ok(figures) => figures,
        Err(e) => {
            println!("| reach serve | not measured | | |");
            return Err(e.context(format!(
                "reach serve ({}) was not measured",
                reach.display()
            )));
        }
    };
    println!(
        "{}",
        reach_serve.row(&format!("reach serve {}", env!("CARGO_PKG_VERSION")))
    );
    println!();
    println!(
        "reach / blackbox_exporter: CPU per probe {:.2}x (goal: at most 0.5x) · peak RSS {:.2}x (goal: at most 1x) · {probes} probes, {concurrency} at once, full TLS handshake each",
        reach_serve.cpu_ms_per_probe() / blackbox.cpu_ms_per_probe(),
        reach_serve.peak_kib as f64 / blackbox.peak_kib as f64,
    );
    Ok(())
}

/// What one exporter spent on the measured probes.
struct Figures {
    probes: usize,
    cpu_secs: f64,
    wall_secs: f64,
    peak_kib: u64,
}

impl Figures {
    fn cpu_ms_per_probe(&self) -> f64 {
        self.cpu_secs * 1000.0 / self.probes as f64
    }

    fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {:.3} | {:.1} MB | {:.0} |",
            self.cpu_ms_per_probe(),
            self.peak_kib as f64 / 1024.0,
            self.probes as f64 / self.wall_secs
        )
    }
}

/// Warms `exporter` up, then fires `probes` probes of `target` at it,
/// `concurrency` at once; every answer must be `probe_success 1`.
fn measure(
    exporter: &Exporter,
    target: &str,
    probes: usize,
    concurrency: usize,
) -> anyhow::Result<Figures> {
    fire(exporter, target, WARM_UP, concurrency.min(WARM_UP))?;
    let cpu_before = exporter.cpu_secs()?;
    let started = Instant::now();
    fire(exporter, target, probes, concurrency)?;
    let wall_secs = started.elapsed().as_secs_f64();
    let cpu_secs = exporter.cpu_secs()? - cpu_before;
    Ok(Figures {
        probes,
        cpu_secs,
        wall_secs,
        peak_kib: exporter.peak_kib()?,
    })
}

/// `probes` GETs of `/probe?target=…&module=default` on `concurrency`
/// threads, each a connection of its own.
fn fire(
    exporter: &Exporter,
    target: &str,
    probes: usize,
    concurrency: usize,
) -> anyhow::Result<()> {
    let next = AtomicUsize::new(0);
    let failures: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..concurrency)
            .map(|_| {
                scope.spawn(|| {
                    let mut failures = Vec::new();
                    while next.fetch_add(1, Ordering::Relaxed) < probes {
                        if let Err(e) = probe(exporter.addr, target) {
                            failures.push(format!("{e:#}"));
                        }
                    }
                    failures
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec!["a client thread panicked".into()])
            })
            .collect()
    });
    if let Some(first) = failures.first() {
        bail!(
            "{}: {} of {probes} probes did not answer probe_success 1; the first: {first}\n{}",
            exporter.name,
            failures.len(),
            exporter.log_tail()
        );
    }
    Ok(())
}

/// One probe through the exporter. HTTP/1.0, so the answer is the body up
/// to the close, never chunked.
fn probe(addr: SocketAddr, target: &str) -> anyhow::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    write!(
        stream,
        "GET /probe?target={target}&module=default HTTP/1.0\r\nHost: {addr}\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    let status = answer.lines().next().unwrap_or_default();
    // blackbox_exporter writes `1`, prometheus-client `1.0`: the same value.
    let success = answer.lines().any(|l| {
        l.strip_prefix("probe_success ")
            .and_then(|v| v.trim().parse::<f64>().ok())
            == Some(1.0)
    });
    if !status.contains(" 200 ") || !success {
        bail!("{status}: {}", answer.lines().last().unwrap_or_default());
    }
    Ok(())
}

/// `cmd` without the machine's proxy settings: both exporters dial the
/// target directly.
fn without_proxies(cmd: &mut Command) -> &mut Command {
    for var in [
        "http_proxy",
        "HTTP_PROXY",
        "https_proxy",
        "HTTPS_PROXY",
        "all_proxy",
        "ALL_PROXY",
        "no_proxy",
        "NO_PROXY",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// A free port on 127.0.0.1 (bound and released: the exporter binds it
/// next).
fn free_addr() -> anyhow::Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

/// An exporter process the bench started, stopped by its PID when dropped.
struct Exporter {
    child: Child,
    name: &'static str,
    addr: SocketAddr,
    log: PathBuf,
}

impl Exporter {
    /// Starts `cmd` (output to `log`) and waits at most 15 s until `addr`
    /// accepts connections.
    fn start(
        name: &'static str,
        cmd: &mut Command,
        addr: SocketAddr,
        log: &Path,
    ) -> anyhow::Result<Exporter> {
        let file = std::fs::File::create(log)?;
        let child = cmd
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let mut exporter = Exporter {
            child,
            name,
            addr,
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Some(status) = exporter.child.try_wait()? {
                let said = exporter.log_tail();
                if name == "reach serve" && said.contains("unrecognized subcommand") {
                    bail!("this reach has no `serve` command yet (issue 18): {said}");
                }
                bail!("{name} exited at start ({status}): {said}");
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(exporter);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "{name} did not listen on {addr} within 15 s: {}",
            exporter.log_tail()
        )
    }

    /// User + system CPU time of all its threads so far (`/proc/PID/stat`
    /// fields 14 and 15, in clock ticks).
    fn cpu_secs(&self) -> anyhow::Result<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))?;
        // Fields after the command name, which is in parentheses and may
        // hold spaces: the first of these is field 3.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .context("no command name in /proc/PID/stat")?
            .1
            .split_whitespace()
            .collect();
        let field = |n: usize| -> anyhow::Result<f64> {
            Ok(fields
                .get(n - 3)
                .context("/proc/PID/stat is short")?
                .parse::<u64>()? as f64)
        };
        Ok((field(14)? + field(15)?) / clock_ticks_per_second())
    }

    /// Its peak resident set so far (`VmHWM`), in KiB.
    fn peak_kib(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .context("no VmHWM in /proc/PID/status")
    }

    /// The last lines of what it wrote.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(10)..].join("\n")
    }
}

impl Drop for Exporter {
    fn drop(&mut self) {
        // By PID only: the process this bench started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `sysconf(_SC_CLK_TCK)`, through `getconf` (xtask has no libc binding);
/// Linux's usual 100 when that fails.
fn clock_ticks_per_second() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
