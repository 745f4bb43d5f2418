//! `reach check`: targets in, endpoint checks out, concurrently, in input
//! order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, Method};
use reach_http_probe::{EndpointProbe, Network, Target};
use reach_report::{Check, CheckKind, Details};

use crate::args::{CheckArgs, NetworkArgs};

/// One line of input: the text the user gave, and where.
struct Input {
    text: String,
    origin: String,
}

/// Runs every target of `args`; the checks come back in input order.
pub(crate) async fn run(args: &CheckArgs, timeout: Duration) -> anyhow::Result<Vec<Check>> {
    let mut inputs: Vec<Input> = args
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| Input {
            text: t.clone(),
            origin: format!("argument {}", i + 1),
        })
        .collect();
    // An unreadable targets file is an input error in the report; the
    // targets given as arguments still run.
    let mut read_error = None;
    if let Some(path) = &args.targets_file {
        match read_targets(path, timeout).await {
            Ok(more) => inputs.extend(more),
            Err(message) => {
                let name = crate::input::display_name(&path.to_string_lossy()).to_owned();
                read_error = Some(Check::input_error(
                    CheckKind::Endpoint,
                    format!("--targets-file {name}"),
                    message,
                ));
            }
        }
    }
    if inputs.is_empty() {
        if let Some(check) = read_error {
            return Ok(vec![check]);
        }
        anyhow::bail!(crate::UsageError(
            "no targets: give TARGET arguments or --targets-file FILE (see reach check --help)"
                .to_owned()
        ));
    }

    // Option values that do not parse become error checks of their own, so
    // they are in the report, and only the targets they concern are held
    // back.
    let mut option_errors: Vec<Check> = read_error.into_iter().collect();
    let (network, blocked) = network(&args.network, timeout, &mut option_errors)?;
    let headers = parse_headers(&args.headers, &mut option_errors);
    let method = Method::from_bytes(args.method.as_bytes()).unwrap_or_else(|_| {
        option_errors.push(Check::input_error(
            CheckKind::Endpoint,
            format!("--method {}", args.method),
            format!(
                "invalid --method `{}`: not an HTTP method token",
                args.method
            ),
        ));
        Method::GET
    });
    let method_ok = option_errors
        .iter()
        .all(|c| !c.target.starts_with("--method"));

    let network = Arc::new(network);
    let (at_once, note) = crate::limits::concurrency(args.concurrency as usize);
    if let Some(note) = note {
        crate::to_stderr(&format!("reach: {note}"));
    }
    let semaphore = Arc::new(tokio::sync::Semaphore::new(at_once));
    let mut tasks = tokio::task::JoinSet::new();
    let mut checks: Vec<Option<Check>> = Vec::with_capacity(inputs.len());
    let texts: Vec<String> = inputs.iter().map(|i| i.text.clone()).collect();
    let owner = crate::partial::plan(
        texts
            .iter()
            .map(|t| (CheckKind::Endpoint, t.clone()))
            .collect(),
    );
    for (index, input) in inputs.into_iter().enumerate() {
        checks.push(None);
        let target = match Target::parse(&input.text, args.tls) {
            Ok(t) => t,
            Err(e) => {
                checks[index] = Some(Check::input_error(
                    CheckKind::Endpoint,
                    &input.text,
                    format!("{e} ({})", input.origin),
                ));
                continue;
            }
        };
        let host = match &target {
            Target::Url(u) => u.host_str().unwrap_or_default().to_owned(),
            Target::Tcp { host, .. } => host.clone(),
        };
        if let Some(reason) = blocked
            .reason(&host)
            .or((!method_ok).then_some("--method is invalid"))
        {
            checks[index] = Some(Check::input_error(
                CheckKind::Endpoint,
                &input.text,
                format!("not checked: {reason}"),
            ));
            continue;
        }
        let probe = EndpointProbe {
            method: method.clone(),
            headers: headers.clone(),
            follow: args.follow,
            max_redirects: args.max_redirects,
            body_cap: args.max_body,
            expiry_warn_days: args.expiry_warn_days,
            ..EndpointProbe::new(target, timeout)
        };
        let network = network.clone();
        let semaphore = semaphore.clone();
        let text = input.text;
        tasks.spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            (index, check_one(&text, &probe, &network).await)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, check)) => {
                if owner {
                    crate::partial::finished(index, std::slice::from_ref(&check));
                }
                checks[index] = Some(check);
            }
            // A check that panicked is a bug in reach; the others still count.
            Err(e) => tracing::error!("a check task failed: {e}"),
        }
    }
    option_errors.extend(checks.into_iter().zip(texts).map(|(check, text)| {
        check.unwrap_or_else(|| {
            let mut c = Check::new(CheckKind::Endpoint, text);
            c.push(reach_report::Finding::new(
                reach_report::Code::InternalError,
                "reach failed while checking this target (a bug: please report it)",
            ));
            c.status = reach_report::Status::Error;
            c
        })
    }));
    Ok(option_errors)
}

async fn check_one(text: &str, probe: &EndpointProbe, network: &Network) -> Check {
    let started = Instant::now();
    let mut check = Check::new(CheckKind::Endpoint, text);
    // The pipeline keeps its own deadline; this outer bound is a safety net
    // so that no check can hold the report back.
    let outcome = tokio::time::timeout(
        probe.timeout + Duration::from_secs(1),
        reach_http_probe::probe(probe, network),
    )
    .await;
    match outcome {
        Ok(outcome) => {
            for f in outcome.findings {
                check.push(f);
            }
            check.details = Details::Endpoint(Box::new(outcome.details));
        }
        Err(_) => check.push(reach_report::Finding::new(
            reach_report::Code::HttpTimeout,
            format!("the check did not finish within {:?}", probe.timeout),
        )),
    }
    check.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    check
}

/// `--targets-file FILE` (`-` is stdin), through the one input reader:
/// bounded, and given up after `timeout` when a stream sends nothing.
async fn read_targets(path: &std::path::Path, timeout: Duration) -> Result<Vec<Input>, String> {
    use crate::input::{self, Kind};
    let source = path.display().to_string();
    let text = input::read(
        &source,
        "--targets-file",
        Kind::Targets,
        timeout,
        input::Whole::new(Kind::Targets),
    )
    .await?;
    let name = input::display_name(&source);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let text = strip_comment(line);
        if !text.is_empty() {
            if out.len() == input::MAX_TARGETS {
                return Err(format!(
                    "{name}:{}: more than {} targets, the most one --targets-file gives",
                    i + 1,
                    input::MAX_TARGETS
                ));
            }
            out.push(Input {
                text: text.to_owned(),
                origin: format!("{name}:{}", i + 1),
            });
        }
    }
    Ok(out)
}

/// A line without its comment: `#` starts one at the line's start or after
/// white space, so a URL's fragment (`https://app/#/health`) is kept.
fn strip_comment(line: &str) -> &str {
    let mut end = line.len();
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            end = i;
            break;
        }
    }
    line[..end].trim()
}

/// Which targets cannot be checked because an option they depend on is bad.
#[derive(Default)]
pub(crate) struct Blocked {
    /// Why no target may go on the network.
    pub(crate) all: Option<String>,
    hosts: Vec<String>,
}

impl Blocked {
    fn reason(&self, host: &str) -> Option<&str> {
        if let Some(all) = &self.all {
            return Some(all);
        }
        let host = host.to_ascii_lowercase();
        self.hosts
            .contains(&host)
            .then_some("its --resolve entry is invalid")
    }
}

pub(crate) fn network(
    args: &NetworkArgs,
    timeout: Duration,
    errors: &mut Vec<Check>,
) -> anyhow::Result<(Network, Blocked)> {
    // `reach run` asks for the same network many times: build it once (the
    // trust store, the resolver and its cache are shared). Only a network
    // without input errors is kept, so each check still reports its own.
    static BUILT: std::sync::OnceLock<std::sync::Mutex<HashMap<String, Network>>> =
        std::sync::OnceLock::new();
    let key = format!("{args:?} {timeout:?}");
    let cache = BUILT.get_or_init(|| std::sync::Mutex::new(HashMap::new()));
    if let Some(network) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok((network, Blocked::default()));
    }
    let before = errors.len();
    let (network, blocked) = build_network(args, timeout, errors)?;
    if errors.len() == before
        && blocked.all.is_none()
        && blocked.hosts.is_empty()
        && let Ok(mut c) = cache.lock()
    {
        c.insert(key, network.clone());
    }
    Ok((network, blocked))
}

fn build_network(
    args: &NetworkArgs,
    timeout: Duration,
    errors: &mut Vec<Check>,
) -> anyhow::Result<(Network, Blocked)> {
    let mut blocked = Blocked::default();
    let mut servers = Vec::new();
    for value in &args.dns_servers {
        match reach_dns::parse_server(value) {
            Ok(s) => servers.push(s),
            Err(e) => errors.push(Check::input_error(
                CheckKind::Endpoint,
                format!("--dns-server {value}"),
                format!("--dns-server: {e}"),
            )),
        }
    }
    if servers.is_empty() && !args.dns_servers.is_empty() {
        blocked.all = Some("no valid --dns-server".to_owned());
    }
    let mut overrides = Vec::new();
    for value in &args.resolve {
        match value.parse::<reach_dns::Override>() {
            Ok(o) => overrides.push(o),
            Err(e) => {
                if let Some((host, _)) = value.split_once(':') {
                    blocked.hosts.push(host.to_ascii_lowercase());
                }
                errors.push(Check::input_error(
                    CheckKind::Endpoint,
                    format!("--resolve {value}"),
                    format!("--resolve: {e}"),
                ));
            }
        }
    }
    let resolver = reach_dns::Resolver::new(&reach_dns::DnsConfig {
        servers,
        overrides,
        // One resend fits in the check's deadline.
        timeout: (timeout / 2).min(Duration::from_secs(5)),
    })
    .map_err(|e| crate::UsageError(e.to_string()))?;
    let tls = reach_tls::Tls::new(&reach_tls::TlsConfig {
        ca_files: args.ca_files.clone(),
        client_cert: args.client_cert.clone(),
        client_key: args.client_key.clone(),
    })
    .map_err(|e| crate::UsageError(e.to_string()))?;
    let proxy = match reach_http_probe::proxy::ProxySettings::new(args.proxy.as_deref(), |name| {
        if matches!(name, "no_proxy" | "NO_PROXY") && args.noproxy.is_some() {
            return None;
        }
        std::env::var(name).ok()
    }) {
        Ok(mut settings) => {
            if let Some(list) = &args.noproxy {
                settings.no_proxy = reach_http_probe::proxy::no_proxy_list(list);
                "--noproxy".clone_into(&mut settings.no_proxy_source);
            }
            settings
        }
        Err(e) => {
            let message = e.to_string();
            errors.push(Check::input_error(
                CheckKind::Endpoint,
                "proxy settings",
                message.clone(),
            ));
            blocked.all = Some(message);
            reach_http_probe::proxy::ProxySettings::default()
        }
    };
    Ok((
        Network {
            resolver,
            tls,
            proxy,
        },
        blocked,
    ))
}

fn parse_headers(values: &[String], errors: &mut Vec<Check>) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    for value in values {
        let parsed = value
            .split_once(':')
            .ok_or("expected `Name: value`")
            .and_then(|(n, v)| {
                let name = HeaderName::from_bytes(n.trim().as_bytes())
                    .map_err(|_| "the name is not a valid header name")?;
                let value = HeaderValue::from_str(v.trim())
                    .map_err(|_| "the value has characters a header cannot hold")?;
                Ok((name, value))
            });
        match parsed {
            Ok(h) => out.push(h),
            Err(reason) => errors.push(Check::input_error(
                CheckKind::Endpoint,
                format!("-H {value}"),
                format!("invalid header `{value}`: {reason}"),
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::strip_comment;

    #[test]
    fn comments_but_not_fragments_are_stripped() {
        assert_eq!(strip_comment("# all comment"), "");
        assert_eq!(strip_comment("  https://a/ # note"), "https://a/");
        assert_eq!(
            strip_comment("https://app/#/health"),
            "https://app/#/health"
        );
        assert_eq!(strip_comment("host:443\t#tab"), "host:443");
    }
}
