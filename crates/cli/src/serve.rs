//! `reach serve`: a Prometheus exporter. Each `/probe` runs one check
//! through the same code as the command line (`checks_for`) and answers
//! with its metrics (`printer::metrics`); `/metrics` gives the exporter's
//! own. Probes are bounded in number (`--concurrency`) and in time (the
//! scrape's timeout); SIGTERM stops accepting, lets the probes in flight
//! finish, and exits.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser as _;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use reach_report::{Check, CheckKind, Code, Finding, Status};

use crate::args::{Cli, Command, ServeArgs};
use crate::printer::metrics::{self, Dialect, Labels};
use crate::{UsageError, network};

/// What a scrape's timeout keeps for the answer to travel
/// (`blackbox_exporter`'s `--timeout-offset`).
const SCRAPE_TIMEOUT_OFFSET: Duration = Duration::from_millis(500);

/// How long past its deadline a probe may take before it is stopped.
const SAFETY_MARGIN: Duration = Duration::from_millis(250);

/// A task that is stopped when its handle is dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A probe counted in `reach_serve_probes_in_flight` while it lives.
struct InFlight(Gauge<i64, std::sync::atomic::AtomicI64>);

impl InFlight {
    fn new(gauge: &Gauge<i64, std::sync::atomic::AtomicI64>) -> InFlight {
        gauge.inc();
        InFlight(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// What every request shares.
struct Exporter {
    /// Module name → `reach check` of a stand-in target, parsed once.
    modules: HashMap<String, Cli>,
    /// Check name → its kind and command line, parsed once.
    checks: HashMap<String, (CheckKind, Cli)>,
    /// Networks built so far, shared by every probe with the same options.
    context: network::Context,
    limit: Arc<tokio::sync::Semaphore>,
    concurrency: u32,
    stats: Stats,
}

/// The exporter's own metrics (`/metrics`).
struct Stats {
    registry: Registry,
    probes: Family<Vec<(String, String)>, Counter>,
    duration: Family<Vec<(String, String)>, Histogram>,
    in_flight: Gauge<i64, std::sync::atomic::AtomicI64>,
}

impl Stats {
    fn new() -> Stats {
        let mut registry = Registry::default();
        let probes = Family::<Vec<(String, String)>, Counter>::default();
        let duration = Family::<Vec<(String, String)>, Histogram>::new_with_constructor(|| {
            Histogram::new([
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
            ])
        });
        let in_flight = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
        let info = Family::<Vec<(String, String)>, Gauge<f64, AtomicU64>>::default();
        info.get_or_create(&vec![(
            "version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        )])
        .set(1.0);
        registry.register(
            "reach_serve_probes",
            "Probes answered, by kind of check and result (success, failure, error)",
            probes.clone(),
        );
        registry.register(
            "reach_serve_probe_duration_seconds",
            "How long probes took, by kind of check",
            duration.clone(),
        );
        registry.register(
            "reach_serve_probes_in_flight",
            "Probes running now",
            in_flight.clone(),
        );
        registry.register(
            "reach_serve_build_info",
            "The version of reach serving",
            info,
        );
        Stats {
            registry,
            probes,
            duration,
            in_flight,
        }
    }

    fn record(&self, kind: CheckKind, result: &str, took: Duration) {
        let kind = ("kind".to_owned(), kind.name().to_owned());
        self.probes
            .get_or_create(&vec![
                kind.clone(),
                ("result".to_owned(), result.to_owned()),
            ])
            .inc();
        self.duration
            .get_or_create(&vec![kind])
            .observe(took.as_secs_f64());
    }
}

/// `reach serve`: runs until SIGTERM or Ctrl-C; exit 0 after draining,
/// 2 for a configuration or address it cannot use.
pub(crate) fn serve(cli: &Cli, args: &ServeArgs) -> anyhow::Result<i32> {
    if cli.output.output.is_some() || cli.output.format.is_some() || cli.output.json {
        anyhow::bail!(UsageError(
            "reach serve answers over HTTP in the Prometheus formats: --format, --json and -o do not apply"
                .to_owned()
        ));
    }
    let listen: SocketAddr = args.listen.parse().map_err(|_| {
        UsageError(format!(
            "--listen {}: not an address and port (e.g. 127.0.0.1:9116, [::1]:9116)",
            args.listen
        ))
    })?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(async {
        let exporter = Arc::new(exporter(cli, args).await?);
        // SIGTERM waits for the longest probe there may be.
        let longest = exporter
            .modules
            .values()
            .chain(exporter.checks.values().map(|(_, cli)| cli))
            .map(|cli| cli.output.timeout)
            .max()
            .unwrap_or(cli.output.timeout);
        run(exporter, listen, longest).await
    });
    runtime.shutdown_background();
    outcome
}

/// The exporter of `args`' configuration.
async fn exporter(cli: &Cli, args: &ServeArgs) -> anyhow::Result<Exporter> {
    let timeout = cli.output.timeout;
    let mut modules = HashMap::new();
    let mut checks = HashMap::new();
    let (mut module_places, mut check_places) = (HashMap::new(), HashMap::new());
    if let Some(path) = &args.config {
        let file = path.display().to_string();
        let text = crate::run::read(path, "--config", timeout)
            .await
            .map_err(UsageError)?;
        let config = crate::run::serve_config(path, &text, timeout).map_err(|problems| {
            UsageError(format!(
                "--config {file}: not started:\n  {}",
                problems.join("\n  ")
            ))
        })?;
        modules = config.modules;
        checks = config.checks;
        module_places = config.module_places;
        check_places = config.check_places;
    }
    // Without [modules.default], the plain check with --timeout.
    if !modules.contains_key("default") {
        let plain = Cli::try_parse_from([
            "reach".to_owned(),
            "check".to_owned(),
            format!("--timeout={}ms", timeout.as_millis().max(1)),
            "--".to_owned(),
            crate::run::MODULE_TARGET.to_owned(),
        ])?;
        modules.insert("default".to_owned(), plain);
    }
    // Each network is built now: a value it cannot use (a proxy URL, a CA
    // file) is the configuration's mistake, said at start, not a scrape's:
    // at the key that holds it, in the file's order; a value from
    // elsewhere (a proxy variable, a `[defaults]` key every entry takes)
    // once, before them.
    let context = network::Context::new(timeout);
    let mut located: Vec<(usize, String)> = Vec::new();
    let mut elsewhere: Vec<String> = Vec::new();
    let named = modules
        .iter()
        .map(|(name, cli)| (format!("[modules.{name}]"), cli, module_places.get(name)))
        .chain(
            checks
                .iter()
                .map(|(name, (_, cli))| (format!("check `{name}`"), cli, check_places.get(name))),
        );
    for (what, cli, places) in named {
        let Some(args) = cli.command.network() else {
            continue;
        };
        let found = match context.with_timeout(cli.output.timeout).network(args) {
            Ok((_, found)) => found.into_iter().map(|p| (p.input, p.message)).collect(),
            Err(e) => vec![(String::new(), format!("{e:#}"))],
        };
        for (input, message) in found {
            // The problem's input (`--dns-server 300.1.1.1`) names the
            // option; a module's stand-in target is no value of the file.
            let said = match places.and_then(|l| l.key(&input, &message)) {
                // A default is said once, whichever entries take it.
                Some(spot) if spot.default => (spot.offset, format!("{}: {message}", spot.said())),
                Some(spot) => (spot.offset, format!("{} of {what}: {message}", spot.said())),
                None => {
                    if !elsewhere.contains(&message) {
                        elsewhere.push(message);
                    }
                    continue;
                }
            };
            if !located.contains(&said) {
                located.push(said);
            }
        }
    }
    if !located.is_empty() || !elsewhere.is_empty() {
        // Stable: one key's problems keep the order they were found in.
        located.sort_by_key(|(offset, _)| *offset);
        let problems: Vec<String> = elsewhere
            .into_iter()
            .chain(located.into_iter().map(|(_, said)| said))
            .collect();
        let what = args.config.as_ref().map_or_else(
            || "reach serve".to_owned(),
            |p| format!("--config {}", p.display()),
        );
        anyhow::bail!(UsageError(format!(
            "{what}: not started:\n  {}",
            problems.join("\n  ")
        )));
    }
    // Each probe keeps its own checks: none is planned for an interruption.
    crate::partial::off();
    Ok(Exporter {
        modules,
        checks,
        context,
        limit: Arc::new(tokio::sync::Semaphore::new(args.concurrency as usize)),
        concurrency: args.concurrency,
        stats: Stats::new(),
    })
}

/// Accepts connections until SIGTERM or Ctrl-C, then waits for the
/// connections (and their probes) to end, at most `timeout` (the longest
/// probe's) and a little more.
async fn run(
    exporter: Arc<Exporter>,
    listen: SocketAddr,
    timeout: Duration,
) -> anyhow::Result<i32> {
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(|e| {
        UsageError(format!(
            "cannot listen on {listen}: {}",
            crate::input::io_reason(&e)
        ))
    })?;
    let bound = listener.local_addr()?;
    crate::to_stderr(&format!(
        "reach serve: listening on http://{bound} (/probe?target=URL&module=NAME, /probe?check=NAME, /metrics)"
    ));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // A client that sends its request line slowly holds nothing for long.
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10));
    let stop = crate::interrupted();
    tokio::pin!(stop);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors, a connection reset before
                // accept: the next one may do.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let exporter = Arc::clone(&exporter);
        let service = hyper::service::service_fn(move |request| {
            let exporter = Arc::clone(&exporter);
            async move { Ok::<_, Infallible>(answer(&exporter, &request).await) }
        });
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            let _ = watched.await;
        });
    }
    drop(listener);
    crate::to_stderr("reach serve: stopping: finishing the probes in flight");
    let drained = tokio::time::timeout(timeout + Duration::from_secs(2), graceful.shutdown()).await;
    if drained.is_err() {
        crate::to_stderr("reach serve: some connections did not end in time; stopped");
    }
    Ok(crate::exit::OK)
}

/// The answer to one request.
async fn answer(exporter: &Exporter, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    let dialect = Dialect::accepted(
        request
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    );
    match request.uri().path() {
        "/probe" => probe(exporter, request, dialect).await,
        "/metrics" => exposition(dialect.encode(&exporter.stats.registry), dialect),
        "/-/healthy" => plain(StatusCode::OK, "OK\n"),
        "/" => plain(StatusCode::OK, &index(exporter)),
        _ => plain(
            StatusCode::NOT_FOUND,
            "not found: see / for what this exporter serves\n",
        ),
    }
}

/// `/`: what can be asked of this exporter.
fn index(exporter: &Exporter) -> String {
    let mut modules: Vec<&str> = exporter.modules.keys().map(String::as_str).collect();
    modules.sort_unstable();
    let mut checks: Vec<&str> = exporter.checks.keys().map(String::as_str).collect();
    checks.sort_unstable();
    format!(
        "reach serve {}\n\n/probe?target=URL&module=NAME  modules: {}\n/probe?check=NAME              checks: {}\n/metrics                       the exporter's own metrics\n",
        env!("CARGO_PKG_VERSION"),
        modules.join(", "),
        if checks.is_empty() {
            "none (give --config)".to_owned()
        } else {
            checks.join(", ")
        }
    )
}

/// What a `/probe` asks for, or why it cannot run (a 400's text).
struct Asked {
    kind: CheckKind,
    cli: Cli,
    /// The config's check, named as `reach run` names its checks.
    name: Option<String>,
}

fn asked(exporter: &Exporter, query: &str) -> Result<Asked, String> {
    let mut target = None;
    let mut module = None;
    let mut check = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "target" => target = Some(value.into_owned()),
            "module" => module = Some(value.into_owned()),
            "check" => check = Some(value.into_owned()),
            // A misspelt `module` would silently run the default one.
            other => {
                return Err(format!(
                    "unknown parameter `{other}` (known: target, module, check)"
                ));
            }
        }
    }
    let known = |names: &mut dyn Iterator<Item = &String>| {
        let mut names: Vec<&str> = names.map(String::as_str).collect();
        names.sort_unstable();
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    match (target, check) {
        (Some(_), Some(_)) => Err("give either target=URL or check=NAME, not both".to_owned()),
        (None, None) => Err(
            "give target=URL (and module=NAME) to check an endpoint, or check=NAME to run a check of the config"
                .to_owned(),
        ),
        (None, Some(name)) => {
            let (kind, cli) = exporter.checks.get(&name).ok_or_else(|| {
                format!(
                    "unknown check `{name}` (the config's checks: {})",
                    known(&mut exporter.checks.keys())
                )
            })?;
            Ok(Asked {
                kind: *kind,
                cli: cli.clone(),
                name: Some(name),
            })
        }
        (Some(target), None) => {
            let name = module.unwrap_or_else(|| "default".to_owned());
            let module = exporter.modules.get(&name).ok_or_else(|| {
                format!(
                    "unknown module `{name}` (modules: {})",
                    known(&mut exporter.modules.keys())
                )
            })?;
            let mut cli = module.clone();
            let Command::Check(args) = &mut cli.command else {
                return Err(format!("module `{name}` is not an endpoint check"));
            };
            reach_http_probe::Target::parse(&target, args.tls)
                .map_err(|e| format!("target: {e}"))?;
            args.targets = vec![target];
            Ok(Asked {
                kind: CheckKind::Endpoint,
                cli,
                name: None,
            })
        }
    }
}

/// `/probe`: runs what the query asks, within the scrape's timeout.
async fn probe(
    exporter: &Exporter,
    request: &Request<Incoming>,
    dialect: Dialect,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let asked = match asked(exporter, request.uri().query().unwrap_or("")) {
        Ok(a) => a,
        Err(message) => return plain(StatusCode::BAD_REQUEST, &format!("{message}\n")),
    };
    let cli = asked.cli;
    // As blackbox_exporter: the scrape's own timeout, less a margin for
    // the answer to travel, bounds the probe.
    let mut timeout = cli.output.timeout;
    let scrape = request
        .headers()
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .and_then(|s| Duration::try_from_secs_f64(s).ok());
    if let Some(scrape) = scrape {
        let usable = scrape
            .checked_sub(SCRAPE_TIMEOUT_OFFSET)
            .filter(|d| !d.is_zero())
            .unwrap_or(scrape / 2);
        timeout = timeout.min(usable);
    }
    let deadline = started + timeout;
    let Ok(permit) =
        tokio::time::timeout_at(deadline.into(), Arc::clone(&exporter.limit).acquire_owned()).await
    else {
        exporter
            .stats
            .record(asked.kind, "error", started.elapsed());
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            &format!(
                "{} already running (--concurrency) until this scrape's timeout\n",
                reach_report::count(exporter.concurrency, "probe was", "probes were")
            ),
        );
    };
    // The time a probe waited for its turn is the scrape's too.
    let left = deadline.saturating_duration_since(Instant::now());
    let context = exporter.context.with_timeout(left);
    let in_flight = InFlight::new(&exporter.stats.in_flight);
    // A task of its own: a panic in a check is a 500, never the server's
    // end. It holds its turn and its place in the in-flight count, and
    // stops when the request is dropped (the scraper gave up) or past its
    // deadline: nothing runs for a request no one waits for.
    let mut work = AbortOnDrop(tokio::spawn(async move {
        let _turn = permit;
        let _counted = in_flight;
        crate::checks_for(&cli.command, &context).await
    }));
    let outcome = tokio::time::timeout_at((deadline + SAFETY_MARGIN).into(), &mut work.0).await;
    let mut checks = match outcome {
        Ok(Ok(Ok(checks))) => checks,
        // A module or check the exporter could not run: its own fault,
        // not the scraper's request.
        Ok(Ok(Err(e))) => {
            exporter
                .stats
                .record(asked.kind, "error", started.elapsed());
            return plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("{e:#}\n"));
        }
        Ok(Err(_)) => {
            exporter
                .stats
                .record(asked.kind, "error", started.elapsed());
            return plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                "reach failed while running this probe (a bug: please report it)\n",
            );
        }
        // The pipeline keeps its own deadline; this is the safety net.
        // Its budget is the scrape's, counted from the request as its
        // duration is, the wait for a turn included.
        Err(_) => vec![timed_out(asked.kind, timeout, started.elapsed())],
    };
    for check in &mut checks {
        check.name.clone_from(&asked.name);
    }
    let result = if checks.iter().any(|c| c.status == Status::Error) {
        "error"
    } else if checks
        .iter()
        .all(|c| matches!(c.status, Status::Pass | Status::Warn))
    {
        "success"
    } else {
        "failure"
    };
    exporter.stats.record(asked.kind, result, started.elapsed());
    // A target's probe answers as blackbox_exporter does (Prometheus's
    // `instance` says which); a check's series say which check, however
    // many it made this time, so that their shape never changes.
    let labels = if asked.name.is_some() {
        Labels::PerCheck
    } else {
        Labels::None
    };
    exposition(metrics::render(&checks, labels, dialect), dialect)
}

/// The check of a probe that outlived its deadline.
fn timed_out(kind: CheckKind, timeout: Duration, took: Duration) -> Check {
    let mut check = Check::new(kind, "the probe");
    check.push(Finding::new(
        Code::HttpTimeout,
        format!(
            "the probe did not finish within {}",
            reach_report::seconds(timeout)
        ),
    ));
    check.duration_ms = took.as_secs_f64() * 1000.0;
    check
}

fn exposition(body: String, dialect: Dialect) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    if let Ok(value) = header::HeaderValue::from_str(dialect.content_type()) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
