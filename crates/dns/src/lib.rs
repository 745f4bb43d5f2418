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

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
    ServerOrderingStrategy,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::{Resolver as HickoryResolver, TokioResolver};
use reach_report::endpoint::{AddressRecord, CnameRecord, DnsPhase, DnsSource};
use reach_report::{Code, Finding};

pub use error::Error;

/// How to resolve names.
#[derive(Debug, Clone)]
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
    inner: TokioResolver,
    source: DnsSource,
    servers: Vec<String>,
    overrides: Vec<Override>,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("source", &self.source)
            .field("servers", &self.servers)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// Builds the resolver. Must be called inside a tokio runtime.
    pub fn new(config: &DnsConfig) -> Result<Self, Error> {
        let (inner, source, servers) = if config.servers.is_empty() {
            let (system, mut opts) = hickory_resolver::system_conf::read_system_conf()
                .map_err(|e| Error::SystemConfig(e.to_string()))?;
            let servers = system
                .name_servers()
                .iter()
                .map(|ns| ns.ip.to_string())
                .collect();
            tune(&mut opts, config.timeout);
            let inner =
                HickoryResolver::builder_with_config(system, TokioRuntimeProvider::default())
                    .with_options(opts)
                    .build()
                    .map_err(|e| Error::SystemConfig(e.to_string()))?;
            (inner, DnsSource::System, servers)
        } else {
            let ns = config
                .servers
                .iter()
                .map(|sa| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = sa.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = sa.port();
                    NameServerConfig::new(sa.ip(), true, vec![udp, tcp])
                })
                .collect();
            let mut opts = ResolverOpts::default();
            tune(&mut opts, config.timeout);
            // Only these servers: not /etc/hosts, in the order given.
            opts.use_hosts_file = ResolveHosts::Never;
            opts.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
            let inner = HickoryResolver::builder_with_config(
                ResolverConfig::from_name_servers(ns),
                TokioRuntimeProvider::default(),
            )
            .with_options(opts)
            .build()
            .map_err(|e| Error::SystemConfig(e.to_string()))?;
            let servers = config.servers.iter().map(ToString::to_string).collect();
            (inner, DnsSource::Servers, servers)
        };
        Ok(Resolver {
            inner,
            source,
            servers,
            overrides: config.overrides.clone(),
        })
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
        let bare = reach_report::unbracket(host);
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
            servers: self.servers.clone(),
            cname_chain: Vec::new(),
            answers: Vec::new(),
            duration_ms: 0.0,
        };
        let mut outcome =
            match tokio::time::timeout_at(deadline, self.query(host, phase.clone())).await {
                Ok(outcome) => outcome,
                Err(_) => DnsOutcome {
                    phase,
                    addresses: Vec::new(),
                    findings: vec![self.finding(host, Failure::Timeout, &[], &[])],
                },
            };
        outcome.phase.duration_ms = reach_report::elapsed_ms(started);
        outcome
    }

    async fn query(&self, host: &str, mut phase: DnsPhase) -> DnsOutcome {
        // With explicit servers there is no search list: ask for the FQDN.
        let query = if self.source == DnsSource::Servers && !host.ends_with('.') {
            format!("{host}.")
        } else {
            host.to_owned()
        };
        let (v6, v4) = tokio::join!(
            self.inner.lookup(query.as_str(), RecordType::AAAA),
            self.inner.lookup(query.as_str(), RecordType::A),
        );
        let mut addresses = Vec::new();
        let mut errors = Vec::new();
        for result in [v6, v4] {
            match result {
                Ok(lookup) => {
                    for r in lookup.answers() {
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
                }
                Err(e) => errors.push(e),
            }
        }
        let mut findings = Vec::new();
        if addresses.is_empty() {
            let failure = classify(&errors);
            if failure == Failure::Nxdomain && phase.cname_chain.is_empty() {
                phase.cname_chain = self.cname_chain(&query).await;
            }
            findings.push(self.finding(host, failure, &errors, &phase.cname_chain));
        }
        DnsOutcome {
            phase,
            addresses,
            findings,
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

    fn describe_servers(&self) -> String {
        if self.servers.is_empty() {
            "the system resolver".to_owned()
        } else {
            self.servers.join(", ")
        }
    }

    fn finding(
        &self,
        host: &str,
        failure: Failure,
        errors: &[NetError],
        chain: &[CnameRecord],
    ) -> Finding {
        let servers = self.describe_servers();
        let detail: Vec<String> = errors.iter().map(ToString::to_string).collect();
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
            Failure::NoRecords => Finding::new(
                Code::DnsNoRecords,
                format!("{host} exists but has no A or AAAA record (NODATA from {servers})"),
            ),
            Failure::Servfail(rcode) => Finding::new(
                Code::DnsServfail,
                format!("{servers} answered {rcode} for {host}"),
            )
            .with("rcode", rcode),
            Failure::Timeout => Finding::new(
                Code::DnsTimeout,
                format!("no DNS answer for {host} from {servers} in time"),
            ),
        };
        let mut finding = finding.with("name", host).with("servers", &self.servers);
        if !detail.is_empty() {
            finding = finding.with("errors", detail);
        }
        if chain.is_empty() {
            finding
        } else {
            finding.with("cname_chain", chain)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Nxdomain,
    NoRecords,
    Servfail(&'static str),
    Timeout,
}

/// Classifies the errors of the A and AAAA lookups, most telling first.
fn classify(errors: &[NetError]) -> Failure {
    let each: Vec<Failure> = errors.iter().map(classify_one).collect();
    for wanted in [Failure::Nxdomain] {
        if each.contains(&wanted) {
            return wanted;
        }
    }
    if let Some(f) = each.iter().find(|f| matches!(f, Failure::Servfail(_))) {
        return *f;
    }
    if each.contains(&Failure::Timeout) {
        return Failure::Timeout;
    }
    Failure::NoRecords
}

fn classify_one(error: &NetError) -> Failure {
    match error {
        NetError::Dns(DnsError::NoRecordsFound(NoRecords {
            response_code: ResponseCode::NXDomain,
            ..
        })) => Failure::Nxdomain,
        NetError::Dns(DnsError::NoRecordsFound(_)) => Failure::NoRecords,
        NetError::Dns(DnsError::ResponseCode(rc)) => Failure::Servfail(rcode_name(*rc)),
        NetError::Timeout | NetError::Io(_) | NetError::NoConnections | NetError::Busy => {
            Failure::Timeout
        }
        // Malformed answers and the rest: the server did not give a usable answer.
        _ => Failure::Servfail("an unusable answer"),
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
    fn servers_parse() {
        assert_eq!(parse_server("1.1.1.1").unwrap().port(), 53);
        assert_eq!(parse_server("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_server("::1").unwrap().port(), 53);
        assert_eq!(parse_server("[::1]:5353").unwrap().port(), 5353);
        for bad in ["dns.google", "1.1.1.1:x", "300.1.1.1", ""] {
            assert!(parse_server(bad).is_err(), "{bad}");
        }
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
        let servfail = || NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail));
        assert_eq!(classify(&[nodata(), nx()]), Failure::Nxdomain);
        assert_eq!(classify(&[nodata(), nodata()]), Failure::NoRecords);
        assert_eq!(
            classify(&[NetError::Timeout, servfail()]),
            Failure::Servfail("SERVFAIL")
        );
        assert_eq!(classify(&[NetError::Timeout, nodata()]), Failure::Timeout);
    }
}
