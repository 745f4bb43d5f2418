//! The network options of a command, checked and built once. Every
//! command's checks run with a [`Context`]: the run's timeout and the
//! networks built so far, so that `reach run`, which asks for the same
//! network many times, shares one trust store, one resolver and its cache.
//!
//! The arguments become a typed [`NetworkConfig`] here ([`checked`]); a
//! value that cannot be used is a [`Problem`] named by its flag, and every
//! check it concerns is an input error instead of running without it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reach_http_probe::proxy::{self, ProxySettings};
use reach_http_probe::{Network, NetworkConfig};
use reach_report::{Check, CheckKind, Code, Finding};

use crate::args::NetworkArgs;

/// What every command's checks run with.
#[derive(Clone)]
pub(crate) struct Context {
    /// The whole check's deadline.
    pub(crate) timeout: Duration,
    networks: Arc<Networks>,
}

/// The most networks kept at once.
const MAX_NETWORKS: usize = 32;

/// The networks built in this run, by configuration.
#[derive(Default)]
struct Networks(Mutex<Vec<(NetworkConfig, Network)>>);

impl Context {
    pub(crate) fn new(timeout: Duration) -> Context {
        Context {
            timeout,
            networks: Arc::default(),
        }
    }

    /// The same networks, with another timeout (a `reach run` entry's).
    pub(crate) fn with_timeout(&self, timeout: Duration) -> Context {
        Context {
            timeout,
            networks: Arc::clone(&self.networks),
        }
    }

    /// The network of `args`, and what is wrong with its values: each
    /// problem names the value and the flag, and says which targets it
    /// concerns ([`Scope`]). A TLS file that cannot be read is such a
    /// problem too; the network is then built without it, for the checks
    /// that do not use TLS.
    pub(crate) fn network(&self, args: &NetworkArgs) -> anyhow::Result<(Network, Vec<Problem>)> {
        let Checked {
            mut config,
            mut problems,
        } = checked(args, self.timeout);
        let network = match self.networks.get(&config) {
            Ok(network) => network,
            Err(e @ reach_http_probe::Error::Tls(_)) => {
                let (flag, message) = flagged(&e);
                problems.push(Problem {
                    input: flag.unwrap_or("TLS configuration").to_owned(),
                    message,
                    scope: Scope::Tls,
                });
                config.tls = reach_tls::TlsConfig::default();
                self.networks
                    .get(&config)
                    .map_err(|e| crate::UsageError(flagged(&e).1))?
            }
            Err(e) => return Err(crate::UsageError(flagged(&e).1).into()),
        };
        Ok((network, problems))
    }
}

impl Networks {
    fn get(&self, config: &NetworkConfig) -> Result<Network, reach_http_probe::Error> {
        if let Some(network) = self.0.lock().ok().and_then(|built| {
            built
                .iter()
                .find(|(c, _)| c == config)
                .map(|(_, n)| n.clone())
        }) {
            return Ok(network);
        }
        let network = Network::new(config)?;
        if let Ok(mut built) = self.0.lock() {
            // `reach serve` lives long, and a module's network comes in
            // as many configurations as DNS timeouts (`dns_timeout`): the
            // oldest makes room.
            if built.len() == MAX_NETWORKS {
                built.remove(0);
            }
            built.push((config.clone(), network.clone()));
        }
        Ok(network)
    }
}

/// A network that cannot be built: the flag that gave the file, if one
/// did, and the message that names it.
fn flagged(error: &reach_http_probe::Error) -> (Option<&'static str>, String) {
    use reach_http_probe::Error;
    use reach_tls::{Error as Tls, PemFile};
    let flag = match error {
        Error::Tls(Tls::Read { file, .. } | Tls::Pem { file, .. }) => match file {
            PemFile::Ca => "--ca-file",
            PemFile::ClientCert => "--client-cert",
            PemFile::ClientKey => "--client-key",
        },
        Error::Tls(Tls::ClientPair) => "--client-cert/--client-key",
        _ => return (None, error.to_string()),
    };
    (Some(flag), format!("{flag}: {error}"))
}

/// An option value that cannot be used: the input as given (`--resolve
/// x`), why, and which checks it concerns. A check it concerns is not run:
/// it is an input error that says so (see [`not_run`]).
#[derive(Debug, Clone)]
pub(crate) struct Problem {
    pub(crate) input: String,
    pub(crate) message: String,
    pub(crate) scope: Scope,
}

/// Which checks a bad value concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every check (a DNS server, a proxy, a header every request sends).
    All,
    /// The checks of one host (a `--resolve` entry).
    Host(String),
    /// The checks that use TLS (a CA file, the client certificate).
    Tls,
}

impl Problem {
    /// Whether a check of `host` (a URL that uses TLS when `tls`)
    /// concerns this problem.
    pub(crate) fn concerns(&self, host: &str, tls: bool) -> bool {
        match &self.scope {
            Scope::All => true,
            Scope::Host(h) => h.eq_ignore_ascii_case(reach_http_probe::unbracket(host)),
            Scope::Tls => tls,
        }
    }
}

impl Problem {
    /// The finding of a check this problem keeps from running.
    fn finding(&self) -> Finding {
        Finding::new(Code::InputInvalid, format!("not run: {}", self.message))
            .with("input", &self.input)
    }

    /// The problem as an error check of its own (no check used the value).
    pub(crate) fn check(&self, kind: CheckKind) -> Check {
        Check::input_error(kind, &self.input, self.message.clone())
    }
}

/// The check of `target` that `problems` keep from running: an input
/// error with one finding per problem, each naming its value and flag.
pub(crate) fn not_run<'p>(
    kind: CheckKind,
    target: impl Into<String>,
    problems: impl IntoIterator<Item = &'p Problem>,
) -> Option<Check> {
    error_check(
        kind,
        target,
        problems.into_iter().map(Problem::finding).collect(),
    )
}

/// The one check of a command (`sso`, `oauth`) that bad values keep from
/// running: its input `errors` (each finding noting the input it is
/// about, `--cookie-jar x`) and every network problem (the check uses all
/// its network options: a chain or a discovery may go to any host), folded
/// into one error check of `target`. `None` when nothing is wrong.
pub(crate) fn held(
    kind: CheckKind,
    target: &str,
    problems: &[Problem],
    errors: Vec<Check>,
) -> Option<Check> {
    let findings = errors
        .into_iter()
        .flat_map(|c| {
            let input = c.target;
            c.findings.into_iter().map(move |f| f.with("input", &input))
        })
        .chain(problems.iter().map(Problem::finding))
        .collect();
    error_check(kind, target, findings)
}

/// An input-error check of `target` with `findings`; `None` for none.
fn error_check(
    kind: CheckKind,
    target: impl Into<String>,
    findings: Vec<Finding>,
) -> Option<Check> {
    let first = findings.first()?.message.clone();
    let mut check = Check::input_error(kind, target, first);
    check.findings = findings;
    Some(check)
}

/// The network options, checked: the configuration to build, and the
/// values that cannot be used.
struct Checked {
    config: NetworkConfig,
    problems: Vec<Problem>,
}

fn checked(args: &NetworkArgs, timeout: Duration) -> Checked {
    let mut problems = Vec::new();
    let mut servers = Vec::new();
    for value in &args.dns_servers {
        match reach_dns::parse_server(value) {
            Ok(s) => servers.push(s),
            // Every check asks the DNS servers.
            Err(e) => problems.push(Problem {
                input: format!("--dns-server {value}"),
                message: format!("--dns-server: {e}"),
                scope: Scope::All,
            }),
        }
    }
    let mut overrides = Vec::new();
    for value in &args.resolve {
        match value.parse::<reach_dns::Override>() {
            Ok(o) => overrides.push(o),
            Err(e) => problems.push(Problem {
                input: format!("--resolve {value}"),
                message: format!("--resolve: {e}"),
                // The checks of its host; one without a host part, all.
                scope: value.split_once(':').map_or(Scope::All, |(host, _)| {
                    Scope::Host(host.to_ascii_lowercase())
                }),
            }),
        }
    }
    let given = args.proxy.as_deref().map(|p| (p, "--proxy"));
    let proxy = match ProxySettings::new(given, |name| {
        if matches!(name, "no_proxy" | "NO_PROXY") && args.noproxy.is_some() {
            return None;
        }
        std::env::var(name).ok()
    }) {
        Ok(mut settings) => {
            if let Some(list) = &args.noproxy {
                settings.no_proxy = proxy::no_proxy_list(list);
                "--noproxy".clone_into(&mut settings.no_proxy_source);
            }
            settings
        }
        Err(e) => {
            problems.push(Problem {
                input: "proxy settings".to_owned(),
                message: e.to_string(),
                scope: Scope::All,
            });
            ProxySettings::default()
        }
    };
    Checked {
        config: NetworkConfig {
            dns: reach_dns::DnsConfig {
                servers,
                overrides,
                timeout: dns_timeout(timeout),
            },
            tls: reach_tls::TlsConfig {
                ca_files: args.ca_files.clone(),
                client_cert: args.client_cert.clone(),
                client_key: args.client_key.clone(),
            },
            proxy,
        },
        problems,
    }
}

/// How long one DNS query waits before it is sent again: half the check's
/// deadline, so that one resend fits in it, and at most 5 s; rounded down
/// to a quarter second (one at the least). It is the only part of a network
/// the check's timeout decides, and networks are kept by their
/// configuration: `reach serve`'s probes, each bounded by what its scrape
/// leaves, share a few networks instead of building one each (its trust
/// store read again: 2.4× `blackbox_exporter`'s CPU per probe).
fn dns_timeout(check: Duration) -> Duration {
    const STEP_MS: u128 = 250;
    let half = (check / 2).min(Duration::from_secs(5)).as_millis();
    let stepped = (half / STEP_MS).max(1) * STEP_MS;
    Duration::from_millis(u64::try_from(stepped).unwrap_or(5_000))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    /// Checks whose deadlines differ a little share one network: the DNS
    /// timeout, the one part a deadline decides, comes in quarter seconds.
    #[test]
    fn nearby_deadlines_share_a_network() {
        for (check_ms, dns_ms) in [
            (9_734, 4_750),
            (9_999, 4_750),
            (9_500, 4_750),
            (120, 250),
            (60_000, 5_000),
        ] {
            assert_eq!(
                dns_timeout(Duration::from_millis(check_ms)),
                Duration::from_millis(dns_ms),
                "{check_ms} ms"
            );
        }
        let cli = crate::args::Cli::try_parse_from(["reach", "check", "https://a.example/"])
            .expect("a command line");
        let args = cli.command.network().expect("network options");
        assert!(
            checked(args, Duration::from_millis(2_300)).config
                == checked(args, Duration::from_millis(2_400)).config
        );
        assert!(
            checked(args, Duration::from_millis(2_300)).config
                != checked(args, Duration::from_millis(3_300)).config
        );
    }
}
