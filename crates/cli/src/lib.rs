//! The `reach` command line: argument parsing, running checks, writing the
//! report. `main.rs` only calls [`run`].
//!
//! ```no_run
//! std::process::exit(reach_cli::run());
//! ```

mod allowlist;
mod args;
mod check;
mod explain;
mod input;
mod limits;
mod network;
mod oauth;
mod partial;
mod printer;
pub mod readers;
mod run;
mod serve;
mod sso;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Parser;
use reach_report::{Code, Report, Status, Tool};

use args::{Cli, Command};

/// Exit codes, as the README's "Exit codes" section gives them.
pub mod exit {
    /// No check failed.
    pub const OK: i32 = 0;
    /// A check failed (or warned, with `--strict`).
    pub const FAILED: i32 = 1;
    /// Usage or input error.
    pub const USAGE: i32 = 2;
    /// Internal error.
    pub const INTERNAL: i32 = 3;
    /// Interrupted (Ctrl-C, SIGTERM): 128 + SIGINT, as shells report it.
    pub const INTERRUPTED: i32 = 130;
}

/// A usage or input error that stops the command before any check runs.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Writes `text` to stderr as every diagnostic of reach goes there: known
/// secrets and secret-shaped values redacted, control characters escaped
/// (line breaks and tabs kept), so that input echoed in a message can
/// neither leak a secret nor drive the terminal.
pub(crate) fn to_stderr(text: &str) {
    let redacted = reach_report::redact::text(text);
    let shown = printer::escape_controls(&redacted, &['\n', '\t']);
    let mut stderr = std::io::stderr().lock();
    let _ = stderr.write_all(shown.as_bytes());
    if !shown.ends_with('\n') {
        let _ = stderr.write_all(b"\n");
    }
    let _ = stderr.flush();
}

/// `tracing`'s writer: each event goes through [`to_stderr`].
struct SafeStderr;

impl Write for SafeStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        to_stderr(&String::from_utf8_lossy(buf));
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs reach with the process arguments; returns the exit code.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap quotes the argument it refused: plain text through
            // `to_stderr`, so control bytes and secrets in it are shown
            // safely.
            to_stderr(&e.render().to_string());
            return exit::USAGE;
        }
        Err(e) => {
            // --help, --version: reach's own text, on stdout.
            let _ = e.print();
            return exit::OK;
        }
    };
    // Diagnostics of reach itself (not the report) go to stderr; RUST_LOG refines.
    let _ = tracing_subscriber::fmt()
        .with_writer(|| SafeStderr)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error")),
        )
        .try_init();
    // A panic is a bug in reach: exit code 3, never 101. Its message may
    // quote input: control characters are escaped as on every other line.
    std::panic::set_hook(Box::new(|info| {
        let payload = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        // Escaped but not redacted: the panic may have come from inside
        // redaction, whose lock must not be taken again here.
        let line = format!("reach: panic{place}: {payload}\n");
        let _ = std::io::stderr().write_all(printer::escape_controls(&line, &['\n']).as_bytes());
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| dispatch(&cli)));
    match outcome {
        Err(_) => {
            to_stderr("reach: internal error (a bug: please report it)");
            exit::INTERNAL
        }
        Ok(Ok(code)) => code,
        Ok(Err(e)) => {
            let usage = e.downcast_ref::<UsageError>().is_some();
            to_stderr(&format!("reach: error: {e:#}"));
            if usage { exit::USAGE } else { exit::INTERNAL }
        }
    }
}

fn dispatch(cli: &Cli) -> anyhow::Result<i32> {
    if let Some(clash) = cli.output.clash() {
        anyhow::bail!(UsageError(clash));
    }
    match &cli.command {
        Command::Explain(args) => explain::explain(cli, args),
        Command::Schema => {
            let schema = serde_json::to_string_pretty(&Report::json_schema())?;
            emit(cli, &format!("{schema}\n"))?;
            Ok(exit::OK)
        }
        Command::Run(args) => run_checks(cli, run::run(args, &cli.output)),
        Command::Serve(args) => serve::serve(cli, args),
        command => run_checks(
            cli,
            checks_for(command, &network::Context::new(cli.output.timeout)),
        ),
    }
}

/// The checks one command makes: the one code path `reach run` shares
/// with the commands typed by hand.
pub(crate) async fn checks_for(
    command: &Command,
    context: &network::Context,
) -> anyhow::Result<Vec<reach_report::Check>> {
    remember_secrets(command);
    match command {
        Command::Check(args) => check::run(args, context).await,
        Command::Allowlist(this) => {
            let network_args = command.network().unwrap_or(&this.args.network);
            let (network, problems) = context.network(network_args)?;
            // A bad network value keeps every fetch and lookup of the check
            // from running (each an input error of the check that names it);
            // files are still read.
            let blocked = (!problems.is_empty()).then(|| {
                let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
                allowlist::Blocked::new(messages.join("; "))
            });
            let timeout = context.timeout;
            let check = match &this.action {
                Some(args::AllowlistAction::Diff(d)) => {
                    allowlist::diff(d, &network, timeout, blocked.as_ref()).await
                }
                None => allowlist::run(&this.args, &network, timeout, blocked.as_ref()).await,
            };
            // Bad values no fetch or lookup of the check named (it needed
            // no network, or stopped before) are errors of their own, so
            // that nothing is lost.
            let said = blocked.as_ref().is_some_and(allowlist::Blocked::said);
            let mut checks: Vec<reach_report::Check> = if said {
                Vec::new()
            } else {
                problems
                    .iter()
                    .map(|p| p.check(reach_report::CheckKind::Allowlist))
                    .collect()
            };
            checks.push(check);
            Ok(checks)
        }
        Command::Sso(args) => sso::run(args, context).await,
        Command::Oauth(command) => oauth::run(command, context).await,
        Command::Explain(_) | Command::Schema | Command::Run(_) | Command::Serve(_) => {
            Ok(Vec::new())
        }
    }
}

/// Tells redaction the secret values this command was given on its
/// command line (or a preflight entry's), so that they are hunted by value
/// in the report and on stderr, raw and encoded: `-H` credentials and
/// cookies, `--cookie` values, passwords and tokens in URLs (`--proxy`,
/// the proxy variables, targets, feeds). Secrets read from files (a jar,
/// `--client-secret-file`) are remembered where they are read.
fn remember_secrets(command: &Command) {
    use reach_report::redact;
    for var in [
        "https_proxy",
        "HTTPS_PROXY",
        "http_proxy",
        "HTTP_PROXY",
        "all_proxy",
        "ALL_PROXY",
    ] {
        if let Ok(url) = std::env::var(var) {
            redact::remember_url(&url);
        }
    }
    if let Some(proxy) = command.network().and_then(|n| n.proxy.as_ref()) {
        redact::remember_url(proxy);
    }
    match command {
        Command::Check(args) => {
            for header in &args.headers {
                if let Some((name, value)) = header.split_once(':') {
                    redact::remember_header(name, value);
                }
            }
            args.targets.iter().for_each(|t| redact::remember_url(t));
        }
        Command::Sso(args) => {
            redact::remember_url(&args.url);
            for cookie in &args.cookies {
                redact::remember(reach_sso::cookies::cookie_arg_secret(cookie));
            }
        }
        Command::Allowlist(command) => {
            let feed = match &command.action {
                Some(args::AllowlistAction::Diff(d)) => &d.feed,
                None => &command.args.feed,
            };
            feed.published.iter().for_each(|u| redact::remember_url(u));
        }
        Command::Oauth(args::OauthCommand::Token(args)) => redact::remember_url(&args.token_url),
        Command::Oauth(args::OauthCommand::Scopes(args)) => redact::remember_url(&args.url),
        Command::Oauth(args::OauthCommand::Discover(_))
        | Command::Run(_)
        | Command::Serve(_)
        | Command::Explain(_)
        | Command::Schema => {}
    }
}

/// Runs the checks `work` makes on a tokio runtime, then reports them.
fn run_checks(
    cli: &Cli,
    work: impl std::future::Future<Output = anyhow::Result<Vec<reach_report::Check>>>,
) -> anyhow::Result<i32> {
    let started_at = now_rfc3339();
    let started = Instant::now();
    // --format jsonl: each check is written as it ends (see `partial`).
    let streamed = stream(cli)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Ctrl-C (SIGINT) or SIGTERM: report what finished, the rest cancelled.
    let outcome = runtime.block_on(async {
        tokio::select! {
            checks = work => Some(checks),
            () = interrupted() => None,
        }
    });
    // Do not wait for tasks still winding down (aborted connection
    // drivers, checks cut short, a read blocked on a FIFO nobody writes
    // to): the report is complete. Before `?`: dropping the runtime would
    // wait for them, for ever.
    runtime.shutdown_background();
    let (checks, cancelled) = match outcome {
        Some(checks) => (checks?, false),
        None => (partial::take_cancelled(), true),
    };
    let mut report = Report::new(
        tool(),
        started_at,
        started.elapsed().as_secs_f64() * 1000.0,
        checks,
    );
    report.host = host_name();
    let code = match streamed {
        Some(file) => finish_stream(cli, report, file, cancelled)?,
        None => finish(cli, report)?,
    };
    if cancelled {
        to_stderr(
            "reach: interrupted: the report holds the checks that finished; the rest are cancelled",
        );
        return Ok(exit::INTERRUPTED);
    }
    Ok(code)
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn interrupted() {
    #[cfg(unix)]
    {
        let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
        match term {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// This machine's name, for a report pasted into a ticket.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
}

fn tool() -> Tool {
    Tool {
        name: "reach".to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Where a streamed report goes: stdout, or (`-o FILE`) a temp file beside
/// FILE that takes its name at the end.
enum Streamed {
    Stdout,
    File(tempfile::NamedTempFile),
}

/// Starts `--format jsonl`'s stream, for the commands that run checks.
fn stream(cli: &Cli) -> anyhow::Result<Option<Streamed>> {
    // (`--emit` cannot be given with --format.)
    if cli.output.format() != args::Format::Jsonl {
        return Ok(None);
    }
    let redact = !cli.output.no_redact;
    let Some(path) = &cli.output.output else {
        partial::stream(Box::new(std::io::stdout()), redact);
        return Ok(Some(Streamed::Stdout));
    };
    let tmp = temp_beside(path)?;
    let file = tmp
        .as_file()
        .try_clone()
        .map_err(|e| output_error(path, &e))?;
    partial::stream(Box::new(std::io::BufWriter::new(file)), redact);
    Ok(Some(Streamed::File(tmp)))
}

/// The end of a streamed report: the checks not written yet (those that
/// ended with the run, or were cancelled), then the exit code of them all.
fn finish_stream(
    cli: &Cli,
    report: Report,
    streamed: Streamed,
    cancelled: bool,
) -> anyhow::Result<i32> {
    if cli.output.no_redact {
        warn_no_redact();
    }
    let _ = partial::write(report.checks);
    // After Ctrl-C, a reader that stopped reading does not hold reach.
    let patience = cancelled.then_some(Duration::from_secs(2));
    let (written, failed) = partial::end_stream(patience).unwrap_or_default();
    let code = exit_code(&written, cli.output.strict);
    match (failed, streamed) {
        (Some(e), _) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        (Some(e), Streamed::Stdout) => {
            return Err(UsageError(format!(
                "cannot write the report to standard output: {}",
                input::io_reason(&e)
            ))
            .into());
        }
        (Some(e), Streamed::File(_)) => {
            let path = cli.output.output.as_deref().unwrap_or(Path::new("-o"));
            return Err(output_error(path, &e).into());
        }
        (None, Streamed::File(tmp)) => {
            let path = cli.output.output.as_deref().unwrap_or(Path::new("-o"));
            tmp.persist(path)
                .map_err(|e| output_error(path, &e.error))?;
        }
        (None, Streamed::Stdout) => {}
    }
    Ok(code)
}

/// `--no-redact` is said on stderr, whatever the format.
fn warn_no_redact() {
    to_stderr(
        "reach: warning: --no-redact: the report may contain secrets (tokens, cookies, credentials)",
    );
}

/// Input errors also go to stderr, so a CI log names them whatever the
/// format.
pub(crate) fn say_errors(check: &reach_report::Check) {
    if check.status == Status::Error {
        for finding in &check.findings {
            to_stderr(&format!("reach: error: {}", finding.message));
        }
    }
}

/// Redacts, prints, writes, and computes the exit code.
fn finish(cli: &Cli, mut report: Report) -> anyhow::Result<i32> {
    let out = &cli.output;
    report.checks.iter().for_each(say_errors);
    let written: Vec<Written> = report.checks.iter().map(Written::of).collect();
    let code = exit_code(&written, out.strict);
    say_what_ran(&mut report);
    if out.no_redact {
        warn_no_redact();
    } else {
        // In place, string by string: no copy of the report.
        reach_report::redact::report(&mut report);
    }
    tracing::debug!("report redacted");
    let color = out.output.is_none()
        && !out.no_color
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        && std::io::stdout().is_terminal();
    let options = printer::Options {
        text: printer::TextStyle {
            color,
            quiet: out.quiet,
            verbose: out.verbose,
        },
        strict: out.strict,
    };
    // `--emit`: the ranges to add replace the report.
    if let Some(lines) = allowlist::emitted(&cli.command, &report) {
        if !lines.is_empty() {
            emit(cli, &lines)?;
        }
        return Ok(code);
    }
    if out.format() == args::Format::Json {
        // Written as it is rendered: a large report's text is never held.
        emit_with(cli, &mut |w| printer::json::write(&report, w))?;
        // The process ends here: freeing the report piece by piece would
        // only cost time.
        std::mem::forget(report);
    } else {
        let printed = printer::print(report, out.format(), options)?;
        tracing::debug!("report rendered");
        emit(cli, &printed)?;
    }
    tracing::debug!("report written");
    Ok(code)
}

/// An input error's remedy says that the other checks still ran only when
/// some did (a check that passed, warned or failed).
fn say_what_ran(report: &mut Report) {
    let ran = report
        .checks
        .iter()
        .any(|c| matches!(c.status, Status::Pass | Status::Warn | Status::Fail));
    if !ran {
        return;
    }
    let plain = Code::InputInvalid.info().remedy;
    for finding in report.checks.iter_mut().flat_map(|c| c.findings.iter_mut()) {
        if finding.code == Code::InputInvalid && finding.remedy == plain {
            finding.remedy.push_str(" The other checks still ran.");
        }
    }
}

/// What the exit code needs of a check that was written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Written {
    status: Status,
    /// It failed for a bug in reach.
    internal: bool,
}

impl Written {
    pub(crate) fn of(check: &reach_report::Check) -> Written {
        Written {
            status: check.status,
            internal: check.has(Code::InternalError),
        }
    }
}

/// The exit code of the checks of a finished report: internal errors
/// first, then input errors, then failures.
fn exit_code(checks: &[Written], strict: bool) -> i32 {
    if checks.iter().any(|c| c.internal) {
        return exit::INTERNAL;
    }
    let worst = checks
        .iter()
        .map(|c| c.status)
        .filter(|s| *s != Status::Cancelled)
        .max();
    match worst {
        Some(Status::Error) => exit::USAGE,
        Some(Status::Fail) => exit::FAILED,
        Some(Status::Warn) if strict => exit::FAILED,
        _ => exit::OK,
    }
}

/// Prints to stdout, or writes `-o FILE` atomically.
fn emit(cli: &Cli, text: &str) -> anyhow::Result<()> {
    emit_with(cli, &mut |w| w.write_all(text.as_bytes()))
}

/// What `write` writes, to stdout or to `-o FILE` atomically, buffered (the
/// JSON report is written in small pieces as it is rendered). When `-o`
/// fails, the output goes to stdout instead: it is not lost, and the error
/// still fails the run.
fn emit_with(
    cli: &Cli,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let to_stdout = |write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>| {
        let mut stdout = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        write(&mut stdout).and_then(|()| stdout.flush())
    };
    if let Some(path) = &cli.output.output {
        if let Err(e) = write_atomically(path, write) {
            let _ = to_stdout(write);
            return Err(e);
        }
        return Ok(());
    }
    match to_stdout(write) {
        // A closed pipe (`reach … | head`) is not an error worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        // `> /dev/full`, a full disk behind a redirection: an output
        // error, like `-o`.
        Err(e) => Err(UsageError(format!(
            "cannot write the report to standard output: {}",
            input::io_reason(&e)
        ))
        .into()),
        Ok(()) => Ok(()),
    }
}

/// Temp file in the same directory, then rename: a reader never sees half a
/// report. No fsync: the report is a diagnosis to read now, not data to
/// survive a power cut, and syncing a multi-megabyte report cost up to
/// 200 ms.
fn write_atomically(
    path: &Path,
    write: &mut dyn FnMut(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    // Every failure here is the output's (no space left, no permission, a
    // read-only place): an output error, exit 2, never an internal one. A
    // temp file that could not be filled is removed when `tmp` drops.
    let mut tmp = temp_beside(path)?;
    let mut file = std::io::BufWriter::with_capacity(64 * 1024, tmp.as_file_mut());
    write(&mut file)
        .and_then(|()| file.flush())
        .map_err(|e| output_error(path, &e))?;
    drop(file);
    tmp.persist(path)
        .map_err(|e| output_error(path, &e.error))?;
    Ok(())
}

/// A temp file in `path`'s folder, to be renamed to `path` when complete.
fn temp_beside(path: &Path) -> Result<tempfile::NamedTempFile, UsageError> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    tempfile::NamedTempFile::new_in(dir).map_err(|e| output_error(path, &e))
}

/// `-o FILE` could not be written: an output error (exit 2).
fn output_error(path: &Path, e: &std::io::Error) -> UsageError {
    UsageError(format!(
        "cannot write -o {}: {}",
        path.display(),
        input::io_reason(e)
    ))
}

fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
