//! The DNS phase of reach: resolve a host name to addresses through
//! hickory-resolver and classify what went wrong as finding codes.
//!
//! A lookup failure is data ([`DnsOutcome::findings`]), not an `Err`:
//! `Err` only means the resolver could not be configured.
//!
//! ```no_run
//! # async fn demo() -> Result<(), reach_dns::Error> {
//! use std::time::Duration;
//! let config = reach_dns::DnsConfig {
//!     servers: vec!["127.0.0.1:5353".parse().unwrap()],
//!     overrides: vec![],
//!     timeout: Duration::from_secs(5),
//! };
//! let resolver = reach_dns::Resolver::new(&config)?;
//! let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
//! let outcome = resolver.resolve("example.com", 443, deadline).await;
//! println!("{:?} {:?}", outcome.addresses, outcome.findings);
//! # Ok(()) }
//! ```

mod error;
mod transport;

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::Resolver as HickoryResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, Record, RecordType};
use reach_report::endpoint::{AddressRecord, CnameRecord, DnsPhase, DnsSource};
use reach_report::{Code, Finding};

pub use error::Error;
use transport::{SocketFailure, Sockets, Unreachable};

/// A host without the brackets of an IPv6 literal: `[::1]` → `::1`.
pub fn unbracket(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// How to resolve names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsConfig {
    /// Name servers to ask instead of the system's (`--dns-server`).
    pub servers: Vec<SocketAddr>,
    /// Fixed answers that skip DNS (`--resolve`).
    pub overrides: Vec<Override>,
    /// How long one query waits for an answer before it is sent again (once).
    /// The whole lookup is bounded by the deadline given to `resolve`.
    pub timeout: Duration,
}

/// A `--resolve HOST:PORT:ADDR[,ADDR…]` entry, as curl's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Override {
    pub host: String,
    /// `None` matches every port (`HOST:*:ADDR`).
    pub port: Option<u16>,
    pub addrs: Vec<IpAddr>,
}

impl std::str::FromStr for Override {
    type Err = Error;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        let bad = |reason: &str| Error::InvalidOverride {
            value: value.to_owned(),
            reason: reason.to_owned(),
        };
        let (host, rest) = value
            .split_once(':')
            .ok_or_else(|| bad("expected HOST:PORT:ADDR"))?;
        let (port, addrs) = rest
            .split_once(':')
            .ok_or_else(|| bad("expected HOST:PORT:ADDR"))?;
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let port = if port == "*" {
            None
        } else {
            Some(
                port.parse::<u16>()
                    .map_err(|_| bad(&format!("`{port}` is not a port number")))?,
            )
        };
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a.trim();
                let a = a
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .unwrap_or(a);
                a.parse::<IpAddr>()
                    .map_err(|_| bad(&format!("`{a}` is not an IP address")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Override {
            host: host.trim_end_matches('.').to_ascii_lowercase(),
            port,
            addrs,
        })
    }
}

/// Parses a `--dns-server IP[:PORT]` value (`[v6]:port` for IPv6 with a port).
pub fn parse_server(value: &str) -> Result<SocketAddr, Error> {
    if let Ok(sa) = value.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = value.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    let reason = if value.contains(':') && value.parse::<std::net::Ipv4Addr>().is_err() {
        "expected IP or IP:PORT (write IPv6 with a port as [addr]:port)"
    } else {
        "expected an IP address, optionally with :PORT (a host name is not accepted)"
    };
    Err(Error::InvalidServer {
        value: value.to_owned(),
        reason,
    })
}

/// What the DNS phase produced.
#[derive(Debug, Clone)]
pub struct DnsOutcome {
    pub phase: DnsPhase,
    /// Addresses to try, IPv6 first as the resolver ordered them.
    pub addresses: Vec<IpAddr>,
    /// Why there are no addresses (empty when there are).
    pub findings: Vec<Finding>,
}

/// A configured resolver; build it once and share it between checks.
#[derive(Clone)]
pub struct Resolver {
    /// One hickory resolver per name server, so that each server's own
    /// answer (or silence) is known: hickory's pool stops at the first
    /// REFUSED and folds socket errors into one.
    servers: Vec<Server>,
    sockets: Sockets,
    source: DnsSource,
    overrides: Vec<Override>,
}

#[derive(Clone)]
struct Server {
    /// Where its queries go: UDP, and TCP on the same port after a
    /// truncated answer.
    addr: SocketAddr,
    /// How reports name it (`1.1.1.1` for the system's, `IP:PORT` given).
    label: String,
    inner: HickoryResolver<Sockets>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("source", &self.source)
            .field("servers", &self.labels())
            .finish_non_exhaustive()
    }
}

/// What one server said about a name: its records, and the errors of the
/// A and AAAA lookups that did not succeed.
struct ServerAnswer {
    records: Vec<Record>,
    errors: Vec<NetError>,
    /// The last socket error towards the server, read as the lookup ended.
    socket: Option<SocketFailure>,
}

impl ServerAnswer {
    fn has_addresses(&self) -> bool {
        self.records
            .iter()
            .any(|r| matches!(r.data, RData::A(_) | RData::AAAA(_)))
    }

    fn failure(&self) -> Failure {
        classify(&self.errors, self.socket.as_ref())
    }

    /// An answer a stub resolver accepts: addresses, or the server saying
    /// the name or its addresses do not exist. Anything else (REFUSED,
    /// SERVFAIL, silence, a socket error) is worth asking the next server.
    fn is_final(&self) -> bool {
        self.has_addresses() || matches!(self.failure(), Failure::Nxdomain | Failure::NoRecords)
    }
}

/// What one server did, when no server gave a final answer.
struct ServerFailure {
    label: String,
    failure: Failure,
    errors: Vec<String>,
    socket: Option<SocketFailure>,
}

impl Resolver {
    /// Builds the resolver. Must be called inside a tokio runtime.
    pub fn new(config: &DnsConfig) -> Result<Self, Error> {
        let sockets = Sockets::default();
        let build = |rc: ResolverConfig, opts: ResolverOpts| {
            HickoryResolver::builder_with_config(rc, sockets.clone())
                .with_options(opts)
                .build()
                .map_err(|e| Error::SystemConfig(e.to_string()))
        };
        let (servers, source) = if config.servers.is_empty() {
            let (system, mut opts) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| Error::SystemConfig(e.to_string()))?;
            tune(&mut opts, config.timeout);
            let servers = system
                .name_servers()
                .iter()
                .map(|ns| {
                    let port = ns.connections.first().map_or(53, |c| c.port);
                    let one = ResolverConfig::from_parts(
                        system.domain().cloned(),
                        system.search().to_vec(),
                        vec![ns.clone()],
                    );
                    Ok(Server {
                        addr: SocketAddr::new(ns.ip, port),
                        label: ns.ip.to_string(),
                        inner: build(one, opts.clone())?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            (servers, DnsSource::System)
        } else {
            let mut opts = ResolverOpts::default();
            tune(&mut opts, config.timeout);
            // Only these servers: not /etc/hosts.
            opts.use_hosts_file = ResolveHosts::Never;
            let servers = config
                .servers
                .iter()
                .map(|sa| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = sa.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = sa.port();
                    let ns = NameServerConfig::new(sa.ip(), true, vec![udp, tcp]);
                    Ok(Server {
                        addr: *sa,
                        label: sa.to_string(),
                        inner: build(ResolverConfig::from_name_servers(vec![ns]), opts.clone())?,
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            (servers, DnsSource::Servers)
        };
        Ok(Resolver {
            servers,
            sockets,
            source,
            overrides: config.overrides.clone(),
        })
    }

    fn labels(&self) -> Vec<String> {
        self.servers.iter().map(|s| s.label.clone()).collect()
    }

    /// Resolves `host` (for a connection to `port`, which `--resolve`
    /// entries match on). Everything, the CNAME walk included, ends by
    /// `deadline`.
    pub async fn resolve(
        &self,
        host: &str,
        port: u16,
        deadline: tokio::time::Instant,
    ) -> DnsOutcome {
        let started = Instant::now();
        let bare = unbracket(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return fixed(host, DnsSource::Literal, vec![ip], started);
        }
        let wanted = host.trim_end_matches('.').to_ascii_lowercase();
        if let Some(o) = self
            .overrides
            .iter()
            .find(|o| o.host == wanted && o.port.is_none_or(|p| p == port))
        {
            return fixed(host, DnsSource::Override, o.addrs.clone(), started);
        }
        let phase = DnsPhase {
            name: host.to_owned(),
            source: self.source,
            servers: self.labels(),
            cname_chain: Vec::new(),
            answers: Vec::new(),
            duration_ms: 0.0,
        };
        let mut outcome = match tokio::time::timeout_at(
            deadline,
            self.query(host, phase.clone(), deadline),
        )
        .await
        {
            Ok(outcome) => outcome,
            // The CNAME walk after an NXDOMAIN ran out of time.
            Err(_) => DnsOutcome {
                phase,
                addresses: Vec::new(),
                findings: vec![self.finding(host, Failure::Timeout, &[], &[])],
            },
        };
        outcome.phase.duration_ms = reach_report::elapsed_ms(started);
        outcome
    }

    /// Asks every server at once; the first final answer wins (a stub
    /// resolver's rule: REFUSED, SERVFAIL or silence from one server is a
    /// reason to ask the next). When none gives one, the finding says what
    /// each did.
    async fn query(
        &self,
        host: &str,
        phase: DnsPhase,
        deadline: tokio::time::Instant,
    ) -> DnsOutcome {
        // With explicit servers there is no search list: ask for the FQDN.
        let query = if self.source == DnsSource::Servers && !host.ends_with('.') {
            format!("{host}.")
        } else {
            host.to_owned()
        };
        let mut pending = tokio::task::JoinSet::new();
        for (index, server) in self.servers.iter().enumerate() {
            let server = server.clone();
            let sockets = self.sockets.clone();
            let query = query.clone();
            pending.spawn(async move { (index, server.lookup(&query, &sockets).await) });
        }
        let mut answers: Vec<Option<ServerAnswer>> = self.servers.iter().map(|_| None).collect();
        loop {
            match tokio::time::timeout_at(deadline, pending.join_next()).await {
                Ok(Some(Ok((index, answer)))) => {
                    if answer.is_final() {
                        return self.accept(host, &query, index, answer, phase).await;
                    }
                    answers[index] = Some(answer);
                }
                Ok(Some(Err(e))) => {
                    if let Ok(panic) = e.try_into_panic() {
                        std::panic::resume_unwind(panic);
                    }
                }
                // Every server has failed, or the deadline came first.
                Ok(None) | Err(_) => break,
            }
        }
        pending.abort_all();
        let each: Vec<ServerFailure> = self
            .servers
            .iter()
            .zip(answers)
            .map(|(server, answer)| match answer {
                Some(a) => ServerFailure {
                    label: server.label.clone(),
                    failure: a.failure(),
                    errors: a.errors.iter().map(ToString::to_string).collect(),
                    socket: a.socket,
                },
                None => ServerFailure {
                    label: server.label.clone(),
                    failure: Failure::Timeout,
                    errors: Vec::new(),
                    socket: None,
                },
            })
            .collect();
        let failure = worst(each.iter().map(|f| f.failure));
        let mut phase = phase;
        // A recursive resolver (Unbound) answers SERVFAIL for a name whose
        // CNAMEs loop, and still answers the CNAME queries: walk them.
        if let Failure::Servfail(_) = failure
            && let Some(index) = each.iter().position(|f| f.failure == failure)
        {
            let chain = self.servers[index].cname_chain(&query).await;
            if cname_loop(&chain).is_some() {
                phase.cname_chain = chain;
            }
        }
        DnsOutcome {
            findings: vec![self.finding(host, failure, &each, &phase.cname_chain)],
            phase,
            addresses: Vec::new(),
        }
    }

    /// The outcome of a final answer from server `index`.
    async fn accept(
        &self,
        host: &str,
        query: &str,
        index: usize,
        answer: ServerAnswer,
        mut phase: DnsPhase,
    ) -> DnsOutcome {
        let mut addresses = Vec::new();
        for r in &answer.records {
            let name = r.name.to_string();
            match &r.data {
                RData::CNAME(target) => {
                    let record = CnameRecord {
                        name,
                        target: target.0.to_string(),
                        ttl: r.ttl,
                    };
                    if !phase.cname_chain.contains(&record) {
                        phase.cname_chain.push(record);
                    }
                }
                RData::A(a) => {
                    addresses.push(IpAddr::V4(a.0));
                    phase.answers.push(address_record(name, "A", a.0, r.ttl));
                }
                RData::AAAA(a) => {
                    addresses.push(IpAddr::V6(a.0));
                    phase.answers.push(address_record(name, "AAAA", a.0, r.ttl));
                }
                _ => {}
            }
        }
        let mut findings = Vec::new();
        if addresses.is_empty() {
            let failure = answer.failure();
            let server = &self.servers[index];
            // The resolver drops the chain of a name without addresses:
            // it is the evidence (a dangling alias, a loop).
            if matches!(failure, Failure::Nxdomain | Failure::NoRecords)
                && phase.cname_chain.is_empty()
            {
                phase.cname_chain = server.cname_chain(query).await;
            }
            let each = [ServerFailure {
                label: server.label.clone(),
                failure,
                errors: answer.errors.iter().map(ToString::to_string).collect(),
                socket: None,
            }];
            findings.push(self.finding(host, failure, &each, &phase.cname_chain));
        }
        DnsOutcome {
            phase,
            addresses,
            findings,
        }
    }

    fn finding(
        &self,
        host: &str,
        failure: Failure,
        each: &[ServerFailure],
        chain: &[CnameRecord],
    ) -> Finding {
        // A final answer names the server that gave it.
        let servers = match each {
            [one] => one.label.clone(),
            _ => self.labels().join(", "),
        };
        // The servers that were asked, each with what it did; when they all
        // did the same, the plain sentence says it.
        let several = each.len() > 1 && each.iter().any(|f| f.failure != each[0].failure);
        let what_each = || {
            each.iter()
                .map(|f| f.failure.describe(&f.label, f.socket.as_ref()))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let finding = match failure {
            Failure::Nxdomain => {
                let missing = chain.last().map(|c| c.target.trim_end_matches('.'));
                let message = match missing {
                    Some(m) => format!(
                        "{host} is an alias (CNAME) of {m}, which does not exist (NXDOMAIN from {servers})"
                    ),
                    None => format!("{host} does not exist (NXDOMAIN from {servers})"),
                };
                Finding::new(Code::DnsNxdomain, message)
            }
            Failure::NoRecords => match cname_loop(chain) {
                Some(names) => Finding::new(
                    Code::DnsNoRecords,
                    format!(
                        "{host} is a CNAME loop: {} (from {servers}), so it never leads to an address",
                        names.join(" → ")
                    ),
                )
                .with_remedy(CNAME_LOOP_REMEDY)
                .with("cname_loop", names),
                None => Finding::new(
                    Code::DnsNoRecords,
                    format!("{host} exists but has no A or AAAA record (NODATA from {servers})"),
                ),
            },
            _ if self.servers.is_empty() => Finding::new(
                Code::DnsUnreachable,
                format!("no DNS server is configured to resolve {host}"),
            ),
            _ if several => Finding::new(
                failure.code(),
                format!("no DNS server answered for {host}: {}", what_each()),
            ),
            Failure::Refused => Finding::new(
                Code::DnsRefused,
                format!(
                    "{servers} refused to resolve {host} (REFUSED): it does not answer this query for this machine"
                ),
            )
            .with("rcode", "REFUSED"),
            Failure::Servfail(rcode) => match cname_loop(chain) {
                Some(names) => Finding::new(
                    Code::DnsServfail,
                    format!(
                        "{host} is a CNAME loop: {}, so {servers} answered {rcode}",
                        names.join(" → ")
                    ),
                )
                .with_remedy(CNAME_LOOP_REMEDY)
                .with("cname_loop", names),
                None => Finding::new(
                    Code::DnsServfail,
                    format!("{servers} answered {rcode} for {host}"),
                ),
            }
            .with("rcode", rcode),
            Failure::Unusable => Finding::new(
                Code::DnsServfail,
                format!("{servers} sent no usable answer for {host}"),
            ),
            Failure::Timeout => Finding::new(
                Code::DnsTimeout,
                format!("no DNS answer for {host} from {servers} in time"),
            ),
            Failure::Unreachable(_) => Finding::new(
                Code::DnsUnreachable,
                format!("no DNS server could be reached to resolve {host}: {}", what_each()),
            ),
        };
        let finding = finding.with("name", host).with("servers", self.labels());
        let finding = with_answers(finding, failure, each);
        if chain.is_empty() {
            finding
        } else {
            finding.with("cname_chain", chain)
        }
    }
}

/// The servers' own answers as evidence: their errors for a name that
/// does not exist (or has no address), else what each server did.
fn with_answers(finding: Finding, failure: Failure, each: &[ServerFailure]) -> Finding {
    if matches!(failure, Failure::Nxdomain | Failure::NoRecords) {
        let errors: Vec<&String> = each.iter().flat_map(|f| &f.errors).collect();
        if errors.is_empty() {
            return finding;
        }
        return finding.with("errors", errors);
    }
    let results: Vec<serde_json::Value> = each
        .iter()
        .map(|f| {
            let mut v = serde_json::json!({
                "server": f.label,
                "result": f.failure.result_name(),
            });
            match (&f.socket, f.failure) {
                // hickory's own errors only say "no connections".
                (Some(s), Failure::Unreachable(_)) => v["error"] = s.error.clone().into(),
                _ if !f.errors.is_empty() => v["errors"] = f.errors.clone().into(),
                _ => {}
            }
            v
        })
        .collect();
    finding.with("results", results)
}

impl Server {
    /// The A and AAAA lookups of `query` against this server alone.
    async fn lookup(&self, query: &str, sockets: &Sockets) -> ServerAnswer {
        let (v6, v4) = tokio::join!(
            self.inner.lookup(query, RecordType::AAAA),
            self.inner.lookup(query, RecordType::A),
        );
        let mut records = Vec::new();
        let mut errors = Vec::new();
        for result in [v6, v4] {
            match result {
                Ok(lookup) => records.extend(lookup.answers().iter().cloned()),
                Err(e) => errors.push(e),
            }
        }
        let socket = if errors.is_empty() {
            None
        } else {
            sockets.failure(self.addr)
        };
        ServerAnswer {
            records,
            errors,
            socket,
        }
    }

    /// Follows CNAMEs one query at a time: the resolver drops the chain
    /// when its end does not exist, and that chain is the evidence.
    async fn cname_chain(&self, name: &str) -> Vec<CnameRecord> {
        let mut chain = Vec::new();
        let mut current = name.to_owned();
        for _ in 0..8 {
            let Ok(lookup) = self.inner.lookup(current.as_str(), RecordType::CNAME).await else {
                break;
            };
            let next = lookup.answers().iter().find_map(|r| match &r.data {
                RData::CNAME(t) => Some(CnameRecord {
                    name: r.name.to_string(),
                    target: t.0.to_string(),
                    ttl: r.ttl,
                }),
                _ => None,
            });
            let Some(record) = next else { break };
            if chain.contains(&record) {
                break;
            }
            current.clone_from(&record.target);
            chain.push(record);
        }
        chain
    }
}

const CNAME_LOOP_REMEDY: &str = "The name's aliases point back at each other. The owner of the DNS zone must fix the CNAME records so that the chain ends at a name with A or AAAA records.";

/// The names of a CNAME chain that comes back to one of its own names,
/// from the first to the repeated one (`a → b → a`); `None` when the chain
/// ends.
fn cname_loop(chain: &[CnameRecord]) -> Option<Vec<String>> {
    let bare = |n: &str| n.trim_end_matches('.').to_ascii_lowercase();
    let last = bare(&chain.last()?.target);
    chain.iter().position(|r| bare(&r.name) == last)?;
    let mut names: Vec<String> = chain.iter().map(|r| bare(&r.name)).collect();
    names.push(last);
    Some(names)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Nxdomain,
    NoRecords,
    /// The server answered REFUSED: it will not answer this query for us.
    Refused,
    /// Another error rcode (SERVFAIL, FORMERR, NOTIMP, …).
    Servfail(&'static str),
    /// An answer that is not usable DNS (malformed, wrong class, …).
    Unusable,
    Timeout,
    /// The operating system said the server cannot be reached.
    Unreachable(Unreachable),
}

impl Failure {
    /// Most telling first: a server's own answer beats silence, and silence
    /// beats a socket error (the lookup waited for the silent one).
    fn rank(self) -> u8 {
        match self {
            Failure::Nxdomain => 0,
            Failure::Servfail(_) => 1,
            Failure::Unusable => 2,
            Failure::Refused => 3,
            Failure::Timeout => 4,
            Failure::Unreachable(_) => 5,
            Failure::NoRecords => 6,
        }
    }

    fn code(self) -> Code {
        match self {
            Failure::Nxdomain => Code::DnsNxdomain,
            Failure::NoRecords => Code::DnsNoRecords,
            Failure::Refused => Code::DnsRefused,
            Failure::Servfail(_) | Failure::Unusable => Code::DnsServfail,
            Failure::Timeout => Code::DnsTimeout,
            Failure::Unreachable(_) => Code::DnsUnreachable,
        }
    }

    /// The evidence's word for what one server did.
    fn result_name(self) -> &'static str {
        match self {
            Failure::Nxdomain => "nxdomain",
            Failure::NoRecords => "nodata",
            Failure::Refused => "refused",
            Failure::Servfail(_) => "error_rcode",
            Failure::Unusable => "unusable_answer",
            Failure::Timeout => "timeout",
            Failure::Unreachable(Unreachable::PortClosed) => "port_closed",
            Failure::Unreachable(Unreachable::NoRoute) => "no_route",
            Failure::Unreachable(Unreachable::Other) => "socket_error",
        }
    }

    /// What `server` did, in words.
    fn describe(self, server: &str, socket: Option<&SocketFailure>) -> String {
        let kind = socket.map_or("unreachable", |s| s.kind.as_str());
        match self {
            Failure::Nxdomain => format!("{server} answered NXDOMAIN"),
            Failure::NoRecords => format!("{server} answered with no address"),
            Failure::Refused => format!("{server} refused the query (REFUSED)"),
            Failure::Servfail(rcode) => format!("{server} answered {rcode}"),
            Failure::Unusable => format!("{server} sent no usable answer"),
            Failure::Timeout => format!("{server} did not answer in time"),
            Failure::Unreachable(Unreachable::PortClosed) => {
                format!("nothing listens on {server} (the port is closed)")
            }
            Failure::Unreachable(_) => format!("{server} cannot be reached ({kind})"),
        }
    }
}

/// The most telling of several failures.
fn worst(failures: impl IntoIterator<Item = Failure>) -> Failure {
    failures
        .into_iter()
        .min_by_key(|f| f.rank())
        .unwrap_or(Failure::Timeout)
}

/// Classifies the errors of one server's A and AAAA lookups, most telling
/// first; `socket` is the socket error seen towards that server, which
/// hickory reports only as "no connections".
fn classify(errors: &[NetError], socket: Option<&SocketFailure>) -> Failure {
    let each = errors.iter().map(|e| classify_one(e, socket));
    match worst(each) {
        // No error at all: the answers held no address.
        _ if errors.is_empty() => Failure::NoRecords,
        f => f,
    }
}

fn classify_one(error: &NetError, socket: Option<&SocketFailure>) -> Failure {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NXDomain,
            ..
        })) => Failure::Nxdomain,
        NetError::Dns(DnsError::NoRecordsFound(_)) => Failure::NoRecords,
        NetError::Dns(DnsError::ResponseCode(ResponseCode::Refused)) => Failure::Refused,
        NetError::Dns(DnsError::ResponseCode(rc)) => Failure::Servfail(rcode_name(*rc)),
        NetError::Io(e) => Failure::Unreachable(Unreachable::from_kind(e.kind())),
        // hickory's pool reports a socket error as "no connections"; the
        // socket itself recorded which one.
        NetError::NoConnections | NetError::Busy => match socket {
            Some(s) => Failure::Unreachable(s.unreachable),
            None => Failure::Timeout,
        },
        NetError::Timeout => Failure::Timeout,
        // Malformed answers and the rest: the server did not give a usable answer.
        _ => Failure::Unusable,
    }
}

fn rcode_name(rc: ResponseCode) -> &'static str {
    match rc {
        ResponseCode::ServFail => "SERVFAIL",
        ResponseCode::Refused => "REFUSED",
        ResponseCode::FormErr => "FORMERR",
        ResponseCode::NotImp => "NOTIMP",
        ResponseCode::NXDomain => "NXDOMAIN",
        _ => "an error code",
    }
}

fn address_record(name: String, kind: &str, ip: impl Into<IpAddr>, ttl: u32) -> AddressRecord {
    AddressRecord {
        name,
        record_type: kind.to_owned(),
        address: ip.into().to_string(),
        ttl: Some(ttl),
    }
}

fn fixed(host: &str, source: DnsSource, addrs: Vec<IpAddr>, started: Instant) -> DnsOutcome {
    let answers = addrs
        .iter()
        .map(|ip| AddressRecord {
            name: host.to_owned(),
            record_type: if ip.is_ipv4() { "A" } else { "AAAA" }.to_owned(),
            address: ip.to_string(),
            ttl: None,
        })
        .collect();
    DnsOutcome {
        phase: DnsPhase {
            name: host.to_owned(),
            source,
            servers: Vec::new(),
            cname_chain: Vec::new(),
            answers,
            duration_ms: reach_report::elapsed_ms(started),
        },
        addresses: addrs,
        findings: Vec::new(),
    }
}

fn tune(opts: &mut ResolverOpts, timeout: Duration) {
    opts.timeout = timeout;
    // One retry: a SERVFAIL is retried, and we do not want to wait thrice.
    opts.attempts = 1;
    // Real TTLs: nothing cached between checks, no clamping.
    opts.cache_size = 0;
    opts.positive_max_ttl = Some(Duration::from_secs(0x7FFF_FFFF));
    opts.negative_max_ttl = Some(Duration::from_secs(0x7FFF_FFFF));
    opts.preserve_intermediates = true;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_parse_like_curl() {
        let o: Override = "Example.com:443:127.0.0.1".parse().unwrap();
        assert_eq!(o.host, "example.com");
        assert_eq!(o.port, Some(443));
        assert_eq!(o.addrs, vec!["127.0.0.1".parse::<IpAddr>().unwrap()]);
        let o: Override = "h:*:[::1],127.0.0.2".parse().unwrap();
        assert_eq!(o.port, None);
        assert_eq!(o.addrs.len(), 2);
        for bad in [
            "h",
            "h:443",
            ":443:1.2.3.4",
            "h:x:1.2.3.4",
            "h:443:nope",
            "h:443:",
        ] {
            let err = bad.parse::<Override>().unwrap_err().to_string();
            assert!(err.contains(bad), "{err}");
        }
    }

    #[test]
    fn a_chain_that_comes_back_is_a_loop() {
        let r = |name: &str, target: &str| CnameRecord {
            name: name.to_owned(),
            target: target.to_owned(),
            ttl: 60,
        };
        assert_eq!(
            cname_loop(&[r("a.example.", "b.example."), r("b.example.", "A.example.")]),
            Some(vec![
                "a.example".to_owned(),
                "b.example".to_owned(),
                "a.example".to_owned()
            ])
        );
        assert_eq!(
            cname_loop(&[r("a.example.", "b.example."), r("b.example.", "b.example.")]),
            Some(vec![
                "a.example".to_owned(),
                "b.example".to_owned(),
                "b.example".to_owned()
            ])
        );
        assert_eq!(cname_loop(&[r("a.example.", "b.example.")]), None);
        assert_eq!(cname_loop(&[]), None);
    }

    #[test]
    fn servers_parse() {
        assert_eq!(parse_server("1.1.1.1").unwrap().port(), 53);
        assert_eq!(parse_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_server("::1").unwrap().port(), 53);
        assert_eq!(parse_server("[::1]:5353").unwrap().port(), 5353);
        for bad in ["dns.google", "1.1.1.1:x", "300.1.1.1", ""] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
        // The library describes the value; the caller names the flag or
        // the file it came from.
        let said = parse_server("1.1.1.1:x").unwrap_err().to_string();
        assert!(
            said.starts_with("`1.1.1.1:x` is not a DNS server") && !said.contains("--"),
            "{said}"
        );
        let said = "nohost".parse::<Override>().unwrap_err().to_string();
        assert!(
            said.starts_with("`nohost` is not a name override") && !said.contains("--"),
            "{said}"
        );
    }

    #[test]
    fn classification_prefers_the_most_telling_error() {
        use hickory_resolver::proto::op::Query;
        let nx = || {
            let mut nr = NoRecords::new(Query::default(), ResponseCode::NXDomain);
            nr.response_code = ResponseCode::NXDomain;
            NetError::Dns(DnsError::NoRecordsFound(nr))
        };
        let nodata = || {
            NetError::Dns(DnsError::NoRecordsFound(NoRecords::new(
                Query::default(),
                ResponseCode::NoError,
            )))
        };
        let rcode = |rc| NetError::Dns(DnsError::ResponseCode(rc));
        let closed = SocketFailure {
            unreachable: Unreachable::PortClosed,
            kind: "connection refused".to_owned(),
            error: "Connection refused (os error 111)".to_owned(),
        };
        let io = |kind| NetError::Io(std::sync::Arc::new(std::io::Error::from(kind)));
        let table: &[(Vec<NetError>, Option<&SocketFailure>, Failure)] = &[
            (vec![nodata(), nx()], None, Failure::Nxdomain),
            (vec![nodata(), nodata()], None, Failure::NoRecords),
            (vec![], None, Failure::NoRecords),
            (
                vec![NetError::Timeout, rcode(ResponseCode::ServFail)],
                None,
                Failure::Servfail("SERVFAIL"),
            ),
            (vec![NetError::Timeout, nodata()], None, Failure::Timeout),
            (
                vec![rcode(ResponseCode::Refused), rcode(ResponseCode::Refused)],
                None,
                Failure::Refused,
            ),
            (
                vec![rcode(ResponseCode::Refused), rcode(ResponseCode::ServFail)],
                None,
                Failure::Servfail("SERVFAIL"),
            ),
            // hickory's pool folds the socket error into "no connections".
            (
                vec![NetError::NoConnections, NetError::NoConnections],
                Some(&closed),
                Failure::Unreachable(Unreachable::PortClosed),
            ),
            (vec![NetError::NoConnections], None, Failure::Timeout),
            (
                vec![io(std::io::ErrorKind::NetworkUnreachable)],
                None,
                Failure::Unreachable(Unreachable::NoRoute),
            ),
            (
                vec![NetError::Timeout, NetError::NoConnections],
                Some(&closed),
                Failure::Timeout,
            ),
        ];
        for (errors, socket, want) in table {
            assert_eq!(classify(errors, *socket), *want, "{errors:?}");
        }
    }

    #[test]
    fn across_servers_an_answer_beats_silence_and_silence_beats_a_socket_error() {
        let closed = Failure::Unreachable(Unreachable::PortClosed);
        assert_eq!(worst([closed, Failure::Timeout]), Failure::Timeout);
        assert_eq!(
            worst([Failure::Timeout, Failure::Refused]),
            Failure::Refused
        );
        assert_eq!(
            worst([Failure::Refused, Failure::Servfail("SERVFAIL")]),
            Failure::Servfail("SERVFAIL")
        );
        assert_eq!(worst([closed]), closed);
    }
}
