//! The connecting half of a hop: the proxy choice, DNS, TCP, the proxy's
//! tunnel and TLS, each phase timed on the hop, each failure its findings.

use std::net::SocketAddr;
use std::time::Instant;

use reach_report::endpoint::{Hop, ProxyPhase};
use reach_report::{Code, Finding, elapsed_ms as ms};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use url::Url;

use crate::{Network, proxy, tcp};

pub(crate) enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

pub(crate) struct Connected {
    pub(crate) hop: Hop,
    pub(crate) stream: Option<Stream>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) started: Instant,
    /// Plain-HTTP requests go to this proxy in absolute form.
    pub(crate) forward: Option<proxy::Proxy>,
}

/// Where a hop connects, and how.
pub(crate) struct Dial<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// TLS after TCP (and the proxy).
    pub(crate) tls: bool,
    /// Plain HTTP may be sent to a proxy in absolute form instead of
    /// through a tunnel.
    pub(crate) forward_ok: bool,
    pub(crate) expiry_warn_days: i64,
}

/// DNS, TCP, the proxy (tunnel or forward) and, when `dial.tls`, TLS to
/// `dial.host:dial.port`.
pub(crate) async fn connect_hop(
    dial: &Dial<'_>,
    network: &Network,
    deadline: tokio::time::Instant,
) -> Connected {
    let mut c = Connecting {
        dial,
        deadline,
        started: Instant::now(),
        hop: Hop {
            url: format!(
                "{}://{}:{}",
                if dial.tls { "tls" } else { "tcp" },
                dial.host,
                dial.port
            ),
            ..Hop::default()
        },
    };
    let via = c.choose_proxy(network);
    let stream = match c.reach(via.as_ref(), network).await {
        Ok(stream) => stream,
        Err(findings) => return c.done(findings, None, None),
    };
    let peer = stream.peer_addr().ok();
    let (stream, forward) = match c.through_proxy(stream, via).await {
        Ok(through) => through,
        Err(findings) => return c.done(findings, None, None),
    };
    if !dial.tls {
        return c.done(Vec::new(), Some(Stream::Plain(stream)), forward);
    }
    let (stream, findings) = c.handshake(stream, peer, network).await;
    let stream = stream.map(|s| Stream::Tls(Box::new(s)));
    c.done(findings, stream, None)
}

/// A connection being made: the hop so far, timed from `started`.
struct Connecting<'a> {
    dial: &'a Dial<'a>,
    deadline: tokio::time::Instant,
    started: Instant,
    hop: Hop,
}

impl Connecting<'_> {
    fn done(
        mut self,
        findings: Vec<Finding>,
        stream: Option<Stream>,
        forward: Option<proxy::Proxy>,
    ) -> Connected {
        self.hop.timings.total_ms = ms(self.started);
        Connected {
            hop: self.hop,
            stream,
            findings,
            started: self.started,
            forward,
        }
    }

    /// The proxy the settings choose for this host, recorded on the hop
    /// (with the `NO_PROXY` entry that bypasses it, if one does).
    fn choose_proxy(&mut self, network: &Network) -> Option<proxy::Proxy> {
        let Dial {
            host, port, tls, ..
        } = *self.dial;
        // No proxy set (the usual case): no URL to build for each hop.
        if !network.proxy.any() {
            return None;
        }
        let scheme_url = Url::parse(&format!(
            "{}://{}:{port}/",
            if tls { "https" } else { "http" },
            host
        ));
        let choice = scheme_url.map_or(proxy::ProxyChoice::Direct, |u| network.proxy.choose(&u));
        match choice {
            proxy::ProxyChoice::Direct => None,
            proxy::ProxyChoice::Bypassed { source, entry } => {
                self.hop.proxy = Some(ProxyPhase {
                    source: source.clone(),
                    bypassed: Some(format!("{source} entry `{entry}` matches {host}")),
                    ..ProxyPhase::default()
                });
                None
            }
            proxy::ProxyChoice::Via(p) => {
                self.hop.proxy = Some(ProxyPhase {
                    url: Some(p.display()),
                    source: p.source.clone(),
                    ..ProxyPhase::default()
                });
                Some(p)
            }
        }
    }

    /// DNS and TCP to the host, or to the proxy `via`: a failure on the
    /// way to the proxy is the proxy's.
    async fn reach(
        &mut self,
        via: Option<&proxy::Proxy>,
        network: &Network,
    ) -> Result<TcpStream, Vec<Finding>> {
        let (host, port) = via.map_or_else(
            || (self.dial.host.to_owned(), self.dial.port),
            proxy::Proxy::address,
        );
        let dns = network.resolver.resolve(&host, port, self.deadline).await;
        self.hop.timings.dns_ms = Some(ms(self.started));
        let addrs: Vec<SocketAddr> = dns
            .addresses
            .iter()
            .map(|ip| SocketAddr::new(*ip, port))
            .collect();
        self.hop.dns = Some(dns.phase);
        if addrs.is_empty() {
            return Err(proxy_unreachable(via, dns.findings, "dns"));
        }
        let tcp = tcp::connect(&addrs, self.deadline).await;
        self.hop.tcp = Some(tcp.phase);
        let Some(stream) = tcp.stream else {
            return Err(proxy_unreachable(via, tcp.findings, "tcp"));
        };
        self.hop.timings.connect_ms = Some(ms(self.started));
        Ok(stream)
    }

    /// Through the proxy `via`: a CONNECT tunnel for TLS (or when plain
    /// HTTP may not be forwarded), else the proxy to forward requests to.
    async fn through_proxy(
        &mut self,
        stream: TcpStream,
        via: Option<proxy::Proxy>,
    ) -> Result<(TcpStream, Option<proxy::Proxy>), Vec<Finding>> {
        let Some(p) = via else {
            return Ok((stream, None));
        };
        if !self.dial.tls && self.dial.forward_ok {
            if let Some(phase) = self.hop.proxy.as_mut() {
                phase.mode = Some("forward".to_owned());
            }
            return Ok((stream, Some(p)));
        }
        let proxy_started = Instant::now();
        let authority = format!("{}:{}", self.dial.host, self.dial.port);
        let tunnel = proxy::connect(stream, &p, &authority, self.deadline).await;
        if let Some(phase) = self.hop.proxy.as_mut() {
            phase.mode = Some("connect".to_owned());
            phase.status = tunnel.status;
            phase.duration_ms = ms(proxy_started);
        }
        let Some(stream) = tunnel.stream else {
            return Err(tunnel.findings);
        };
        self.hop.timings.proxy_ms = Some(ms(self.started));
        Ok((stream, None))
    }

    /// The TLS handshake; a server that refuses TLS 1.2 and 1.3 is asked
    /// which older version it wants, and interception is judged when no
    /// HTTP answer will follow.
    async fn handshake(
        &mut self,
        stream: TcpStream,
        peer: Option<SocketAddr>,
        network: &Network,
    ) -> (Option<TlsStream<TcpStream>>, Vec<Finding>) {
        let host = self.dial.host;
        let remaining = self
            .deadline
            .saturating_duration_since(tokio::time::Instant::now());
        let probe_input = reach_tls::TlsProbe {
            server_name: reach_dns::unbracket(host).to_owned(),
            alpn: vec!["h2".to_owned(), "http/1.1".to_owned()],
            timeout: remaining,
            expiry_warn_days: self.dial.expiry_warn_days,
        };
        let mut outcome = reach_tls::probe(&network.tls, &probe_input, stream).await;
        // rustls speaks only TLS 1.2 and 1.3: ask the server, with a legacy
        // hello on a fresh connection, which older version it wants.
        if outcome.version_refused
            && self.hop.proxy.as_ref().is_none_or(|p| p.url.is_none())
            && let Some(peer) = peer
        {
            legacy_version(
                &mut outcome.findings,
                host,
                peer,
                outcome.phase.sni.as_deref(),
                self.deadline,
            )
            .await;
        }
        // Interception is judged here when no HTTP response will follow (a
        // failed handshake, a TLS-only target); otherwise by `hop`, with the
        // response's headers.
        if outcome.stream.is_none() || !self.dial.forward_ok {
            let seen = reach_tls::classify::Seen {
                tunnel_proxy: tunnel_proxy(&self.hop),
                response_headers: &[],
            };
            outcome
                .findings
                .extend(reach_tls::classify::intercepted(host, &outcome.phase, seen));
        }
        self.hop.tls = Some(outcome.phase);
        if outcome.stream.is_some() {
            self.hop.timings.tls_ms = Some(ms(self.started));
        }
        (outcome.stream, outcome.findings)
    }
}

/// A DNS or TCP failure on the way to the proxy is the proxy's failure.
fn proxy_unreachable(
    via: Option<&proxy::Proxy>,
    findings: Vec<Finding>,
    phase: &str,
) -> Vec<Finding> {
    let Some(p) = via else {
        return findings;
    };
    let name = p.display();
    findings
        .into_iter()
        .map(|f| {
            Finding::new(
                Code::ProxyConnectFailed,
                format!(
                    "cannot reach the proxy {name} ({}): {}",
                    p.source, f.message
                ),
            )
            .with("proxy", &name)
            .with("source", &p.source)
            .with("phase", phase)
            .with("cause", f.code)
            .with("cause_evidence", f.evidence)
        })
        .collect()
}

/// Completes a `tls.protocol_too_old` finding with the version the server
/// picks when offered TLS 1.0/1.1.
async fn legacy_version(
    findings: &mut [Finding],
    host: &str,
    peer: SocketAddr,
    sni: Option<&str>,
    deadline: tokio::time::Instant,
) {
    let Some(finding) = findings
        .iter_mut()
        .find(|f| f.code == Code::TlsProtocolTooOld)
    else {
        return;
    };
    match legacy_hello(peer, sni, deadline).await {
        Some(reach_tls::legacy::LegacyAnswer::Version(v)) if v < 0x0303 => {
            let label = reach_tls::legacy::version_label(v);
            finding.message = format!(
                "{host} ({peer}) speaks only {label}: it refused TLS 1.2 and 1.3 and picked {label} when offered an older version"
            );
            finding
                .evidence
                .insert("server_version".into(), label.into());
        }
        Some(reach_tls::legacy::LegacyAnswer::Alert(code)) => {
            finding
                .evidence
                .insert("legacy_hello_alert".into(), u64::from(code).into());
        }
        _ => {}
    }
}

/// The answer of the server at `peer` to a TLS 1.0 hello offering older
/// versions, on a new connection, before `deadline`.
pub(crate) async fn legacy_hello(
    peer: SocketAddr,
    sni: Option<&str>,
    deadline: tokio::time::Instant,
) -> Option<reach_tls::legacy::LegacyAnswer> {
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(peer).await.ok()?;
        let _ = stream.set_nodelay(true);
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        Some(reach_tls::legacy::probe(stream, sni, remaining).await)
    };
    tokio::time::timeout_at(deadline, attempt)
        .await
        .ok()
        .flatten()
}

/// The proxy a hop's TLS went through in a CONNECT tunnel.
pub(crate) fn tunnel_proxy(hop: &Hop) -> Option<&str> {
    hop.proxy
        .as_ref()
        .filter(|p| p.mode.as_deref() == Some("connect"))
        .and_then(|p| p.url.as_deref())
}
