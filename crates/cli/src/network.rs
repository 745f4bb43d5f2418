//! The network options of a command, checked and built once. Every
//! command's checks run with a [`Context`]: the run's timeout and the
//! networks built so far, so that `reach run`, which asks for the same
//! network many times, shares one trust store, one resolver and its cache.
//!
//! The arguments become a typed [`NetworkConfig`] here ([`checked`]); a
//! value that does not parse is a problem named by its flag, reported as
//! an input error of the command that was given it, and only the targets
//! it concerns are held back ([`Blocked`]).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reach_http_probe::proxy::{self, ProxySettings};
use reach_http_probe::{Network, NetworkConfig};
use reach_report::{Check, CheckKind};

use crate::args::NetworkArgs;

/// What every command's checks run with.
#[derive(Clone)]
pub(crate) struct Context {
    /// The whole check's deadline.
    pub(crate) timeout: Duration,
    networks: Arc<Networks>,
}

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

    /// The network of `args`: each bad value is an input error of `kind`
    /// in `checks`, and [`Blocked`] says which targets must not go out. A
    /// network that cannot be built at all (an unreadable `--ca-file`) is
    /// a usage error.
    pub(crate) fn network(
        &self,
        args: &NetworkArgs,
        kind: CheckKind,
        checks: &mut Vec<Check>,
    ) -> anyhow::Result<(Network, Blocked)> {
        let checked = checked(args, self.timeout);
        for (input, message) in checked.problems {
            checks.push(Check::input_error(kind, input, message));
        }
        let network = self.networks.get(&checked.config)?;
        Ok((network, checked.blocked))
    }
}

impl Networks {
    fn get(&self, config: &NetworkConfig) -> anyhow::Result<Network> {
        if let Some(network) = self.0.lock().ok().and_then(|built| {
            built
                .iter()
                .find(|(c, _)| c == config)
                .map(|(_, n)| n.clone())
        }) {
            return Ok(network);
        }
        let network =
            Network::new(config).map_err(|e| crate::UsageError(flagged(&e).to_string()))?;
        if let Ok(mut built) = self.0.lock() {
            built.push((config.clone(), network.clone()));
        }
        Ok(network)
    }
}

/// A network that cannot be built, named by the flag that gave the file.
fn flagged(error: &reach_http_probe::Error) -> std::borrow::Cow<'static, str> {
    use reach_http_probe::Error;
    use reach_tls::{Error as Tls, PemFile};
    let flag = match error {
        Error::Tls(Tls::Read { file, .. } | Tls::Pem { file, .. }) => match file {
            PemFile::Ca => "--ca-file",
            PemFile::ClientCert => "--client-cert",
            PemFile::ClientKey => "--client-key",
        },
        Error::Tls(Tls::ClientPair) => "--client-cert/--client-key",
        _ => return error.to_string().into(),
    };
    format!("{flag}: {error}").into()
}

/// Which targets cannot be checked because an option they depend on is bad.
#[derive(Default)]
pub(crate) struct Blocked {
    /// Why no target may go on the network.
    pub(crate) all: Option<String>,
    hosts: Vec<String>,
}

impl Blocked {
    pub(crate) fn reason(&self, host: &str) -> Option<&str> {
        if let Some(all) = &self.all {
            return Some(all);
        }
        let host = host.to_ascii_lowercase();
        self.hosts
            .contains(&host)
            .then_some("its --resolve entry is invalid")
    }
}

/// The network options, checked: the configuration to build, the values
/// that do not parse (the input as given, and why), and what they hold back.
struct Checked {
    config: NetworkConfig,
    problems: Vec<(String, String)>,
    blocked: Blocked,
}

fn checked(args: &NetworkArgs, timeout: Duration) -> Checked {
    let mut problems = Vec::new();
    let mut blocked = Blocked::default();
    let mut servers = Vec::new();
    for value in &args.dns_servers {
        match reach_dns::parse_server(value) {
            Ok(s) => servers.push(s),
            Err(e) => problems.push((
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
                problems.push((format!("--resolve {value}"), format!("--resolve: {e}")));
            }
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
            let message = e.to_string();
            problems.push(("proxy settings".to_owned(), message.clone()));
            blocked.all = Some(message);
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
        blocked,
    }
}

/// How long one DNS query waits before it is sent again: half the check's
/// deadline, so that one resend fits in it, and at most 5 s.
fn dns_timeout(check: Duration) -> Duration {
    (check / 2).min(Duration::from_secs(5))
}
