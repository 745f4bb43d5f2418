//! `reach check`: targets in, endpoint checks out, concurrently, in input
//! order.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, Method};
use reach_http_probe::{EndpointProbe, Network, Target};
use reach_report::{Check, CheckKind, Details};

use crate::args::CheckArgs;
use crate::network::{Context, Problem, Scope, not_run};

/// One line of input: the text the user gave, and where.
struct Input {
    text: String,
    origin: Origin,
}

/// Where a target was given: kept small, as there may be a million.
enum Origin {
    /// The Nth TARGET argument (from 1).
    Argument(usize),
    /// A line (from 1) of the targets file of that name.
    Line(Arc<str>, usize),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Argument(n) => write!(f, "argument {n}"),
            Origin::Line(file, n) => write!(f, "{file}:{n}"),
        }
    }
}

/// Runs every target of `args`; the checks come back in input order.
pub(crate) async fn run(args: &CheckArgs, context: &Context) -> anyhow::Result<Vec<Check>> {
    let timeout = context.timeout;
    // An unreadable targets file is an input error in the report; the
    // targets given as arguments still run.
    let (inputs, read_error) = inputs(args, timeout).await;
    if inputs.is_empty() {
        if let Some(check) = read_error {
            return Ok(vec![check]);
        }
        anyhow::bail!(crate::UsageError(
            "no targets: give TARGET arguments or --targets-file FILE (see reach check --help)"
                .to_owned()
        ));
    }

    // An option value that cannot be used turns every target it concerns
    // into an error check naming it; the others run. A value no target
    // uses is an error check of its own, so that nothing is lost.
    let mut option_errors: Vec<Check> = read_error.into_iter().collect();
    let (network, mut problems) = context.network(&args.network)?;
    let headers = parse_headers(&args.headers, &mut problems);
    let method = parse_method(&args.method, &mut problems).unwrap_or(Method::GET);
    let used = vec![false; problems.len()];

    let network = Arc::new(network);
    let (at_once, note) = crate::limits::concurrency(args.concurrency as usize);
    if let Some(note) = note {
        crate::to_stderr(&format!("reach: {note}"));
    }
    let owner = crate::partial::plan(
        inputs
            .iter()
            .map(|i| (CheckKind::Endpoint, i.text.clone()))
            .collect(),
    );
    // The checks are spawned and gathered by a task of the runtime, not by
    // the thread that waits for the command: a check that ends wakes no
    // other thread.
    let run = Run {
        args: args.clone(),
        problems,
        used,
        method,
        headers,
        network,
        timeout,
        at_once,
        owner,
    };
    let (kept, problems, used) = tokio::spawn(run.all(inputs))
        .await
        .map_err(|e| anyhow::anyhow!("the checks' runner failed: {e}"))?;
    option_errors.extend(
        problems
            .iter()
            .zip(used)
            .filter(|(_, used)| !used)
            .map(|(p, _)| p.check(CheckKind::Endpoint)),
    );
    if owner {
        option_errors.extend(crate::partial::take_finished());
    } else {
        option_errors.extend(kept.into_values());
    }
    Ok(option_errors)
}

/// What the runner of the checks needs, owned: it runs as a task.
struct Run {
    args: CheckArgs,
    problems: Vec<Problem>,
    used: Vec<bool>,
    method: Method,
    headers: Vec<(HeaderName, HeaderValue)>,
    network: Arc<Network>,
    timeout: Duration,
    at_once: usize,
    /// This run planned its checks (`partial` keeps them).
    owner: bool,
}

impl Run {
    /// Runs every input; the checks not kept by `partial`, by input
    /// order, and the problems with which of them were used.
    async fn all(
        mut self,
        inputs: Vec<Input>,
    ) -> (BTreeMap<usize, Check>, Vec<Problem>, Vec<bool>) {
        // Each finished check is handed on at once: kept by `partial` when
        // this run planned (written now with --format jsonl), else here.
        let owner = self.owner;
        let mut kept: BTreeMap<usize, Check> = BTreeMap::new();
        let mut deliver = |index: usize, check: Check| {
            let back = if owner {
                crate::partial::finished(index, vec![check])
            } else {
                Some(vec![check])
            };
            if let Some(check) = back.and_then(|mut b| b.pop()) {
                kept.insert(index, check);
            }
        };
        // At most `at_once` checks run, and as many more wait for their
        // turn (a permit): memory does not grow with the number of
        // targets, and a check that ends hands its permit straight to a
        // waiting one. The tasks are known by id, so that one that
        // panicked is still reported.
        let permits = Arc::new(tokio::sync::Semaphore::new(self.at_once));
        let mut tasks = tokio::task::JoinSet::new();
        let mut running: HashMap<tokio::task::Id, (usize, String)> = HashMap::new();
        let mut pending = inputs.into_iter().enumerate();
        loop {
            while tasks.len() < 2 * self.at_once {
                let Some((index, input)) = pending.next() else {
                    break;
                };
                let target = match admitted(&input, &self.args, &self.problems, &mut self.used) {
                    Ok(target) => target,
                    Err(check) => {
                        deliver(index, check);
                        continue;
                    }
                };
                let probe = EndpointProbe {
                    method: self.method.clone(),
                    headers: self.headers.clone(),
                    ..probe_options(&self.args, target, self.timeout)
                };
                let network = Arc::clone(&self.network);
                let text = input.text;
                let label = text.clone();
                let permits = Arc::clone(&permits);
                let task = tasks.spawn(async move {
                    let _permit = permits.acquire_owned().await;
                    check_one(&text, &probe, &network).await
                });
                running.insert(task.id(), (index, label));
            }
            let Some(first) = tasks.join_next_with_id().await else {
                break;
            };
            // All that ended meanwhile, on one wake-up of this task.
            let mut joined = Some(first);
            while let Some(result) = joined {
                if let Some((index, check)) = ended(result, &mut running) {
                    deliver(index, check);
                }
                joined = tasks.try_join_next_with_id();
            }
        }
        (kept, self.problems, self.used)
    }
}

/// The check of a task that ended, and its input's index; a task that
/// panicked (a bug in reach) is a `lost` check, and the others still count.
fn ended(
    result: Result<(tokio::task::Id, Check), tokio::task::JoinError>,
    running: &mut HashMap<tokio::task::Id, (usize, String)>,
) -> Option<(usize, Check)> {
    match result {
        Ok((id, check)) => running.remove(&id).map(|(index, _)| (index, check)),
        Err(e) => {
            tracing::error!("a check task failed: {e}");
            running
                .remove(&e.id())
                .map(|(index, text)| (index, lost(text)))
        }
    }
}

/// The target of `input`, or the error check that takes its place: it does
/// not parse, or bad option values concern it ([`held_back`]).
fn admitted(
    input: &Input,
    args: &CheckArgs,
    problems: &[Problem],
    used: &mut [bool],
) -> Result<Target, Check> {
    let target = Target::parse(&input.text, args.tls).map_err(|e| {
        let message = format!("{e} ({})", input.origin);
        Check::input_error(CheckKind::Endpoint, &input.text, message)
    })?;
    match held_back(&input.text, &target, args.follow, problems, used) {
        Some(check) => Err(check),
        None => Ok(target),
    }
}

/// The probe of `target` with the options of `args` that need no parsing.
fn probe_options(args: &CheckArgs, target: Target, timeout: Duration) -> EndpointProbe {
    EndpointProbe {
        follow: args.follow,
        max_redirects: args.max_redirects,
        body_cap: args.max_body,
        expiry_warn_days: args.expiry_warn_days,
        ..EndpointProbe::new(target, timeout)
    }
}

/// The error check of a target that bad option values concern (a
/// `--resolve` entry of its host, a CA file when it uses TLS, a header
/// every request sends), marking them `used`; `None` when it may run.
fn held_back(
    text: &str,
    target: &Target,
    follow: bool,
    problems: &[Problem],
    used: &mut [bool],
) -> Option<Check> {
    let (host, tls) = match target {
        // A redirect may lead to https.
        Target::Url(u) => (
            u.host_str().unwrap_or_default(),
            u.scheme() == "https" || follow,
        ),
        Target::Tcp { host, tls, .. } => (host.as_str(), *tls),
    };
    let concerned: Vec<usize> = (0..problems.len())
        .filter(|&i| problems[i].concerns(host, tls))
        .collect();
    let check = not_run(
        CheckKind::Endpoint,
        text,
        concerned.iter().map(|&i| &problems[i]),
    )?;
    for i in concerned {
        used[i] = true;
    }
    Some(check)
}

/// The check of a target whose task panicked: a bug in reach, said so.
fn lost(text: String) -> Check {
    let mut c = Check::new(CheckKind::Endpoint, text);
    c.push(reach_report::Finding::new(
        reach_report::Code::InternalError,
        "reach failed while checking this target (a bug: please report it)",
    ));
    c.status = reach_report::Status::Error;
    c
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
            format!(
                "the check did not finish within {}",
                reach_report::seconds(probe.timeout)
            ),
        )),
    }
    check.duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    check
}

/// The targets: the arguments, then `--targets-file`'s lines, each with
/// where it came from; an unreadable file is an input-error check.
async fn inputs(args: &CheckArgs, timeout: Duration) -> (Vec<Input>, Option<Check>) {
    let mut inputs: Vec<Input> = args
        .targets
        .iter()
        .enumerate()
        .map(|(i, t)| Input {
            text: t.clone(),
            origin: Origin::Argument(i + 1),
        })
        .collect();
    let Some(path) = &args.targets_file else {
        return (inputs, None);
    };
    match read_targets(path, timeout).await {
        Ok(more) => {
            inputs.extend(more);
            (inputs, None)
        }
        Err(message) => {
            let name = crate::input::display_name(&path.to_string_lossy()).to_owned();
            let check = Check::input_error(
                CheckKind::Endpoint,
                format!("--targets-file {name}"),
                message,
            );
            (inputs, Some(check))
        }
    }
}

/// `--method`: an HTTP method token, or a problem of every target.
fn parse_method(value: &str, problems: &mut Vec<Problem>) -> Option<Method> {
    let method = Method::from_bytes(value.as_bytes()).ok();
    if method.is_none() {
        problems.push(Problem {
            input: format!("--method {value}"),
            message: format!("invalid --method `{value}`: not an HTTP method token"),
            scope: Scope::All,
        });
    }
    method
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
    let file: Arc<str> = Arc::from(name);
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
                origin: Origin::Line(Arc::clone(&file), i + 1),
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

/// `-H` values; one that does not parse is a problem of every target.
fn parse_headers(values: &[String], problems: &mut Vec<Problem>) -> Vec<(HeaderName, HeaderValue)> {
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
            Err(reason) => problems.push(Problem {
                input: format!("-H {value}"),
                message: format!("invalid header `{value}`: {reason}"),
                scope: Scope::All,
            }),
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
