//! The endpoint pipeline of reach: dns → tcp → tls → http, one hop at a
//! time, each phase timed, each failure a finding with a stable code.
//!
//! `reach check`, every hop of `reach sso` and every OAuth endpoint go
//! through [`probe`] (or [`hop`] for one request); there is no other way to
//! make a request in reach.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use std::time::Duration;
//! use reach_http_probe::{EndpointProbe, Network, NetworkConfig, Target};
//! let network = Network::new(&NetworkConfig {
//!     dns: reach_dns::DnsConfig {
//!         servers: vec![], overrides: vec![], timeout: Duration::from_secs(5),
//!     },
//!     tls: reach_tls::TlsConfig::default(),
//!     proxy: reach_http_probe::proxy::ProxySettings::default(),
//! })?;
//! let input = EndpointProbe::new(Target::parse("https://example.com/", false)?, Duration::from_secs(10));
//! let outcome = reach_http_probe::probe(&input, &network).await;
//! println!("{} findings", outcome.findings.len());
//! # Ok(()) }
//! ```

mod error;
pub mod http;
pub mod proxy;
pub mod redirect;
pub mod tcp;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ::http::{HeaderName, HeaderValue, Method};
use reach_report::endpoint::{EndpointDetails, Hop, ProxyPhase};
use reach_report::{Code, Finding, elapsed_ms as ms};
use url::Url;

pub use error::Error;
pub use http::Protocol;
/// Host names as URLs write them: `[::1]` → `::1` (the resolver's rule,
/// shared by everything that compares hosts).
pub use reach_dns::unbracket;

/// What a [`Network`] is built from: how names are resolved, whom TLS
/// trusts and which proxy carries which URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkConfig {
    pub dns: reach_dns::DnsConfig,
    pub tls: reach_tls::TlsConfig,
    pub proxy: proxy::ProxySettings,
}

/// The shared network context: resolver and TLS client, built once from
/// a [`NetworkConfig`] and used by every check.
#[derive(Debug, Clone)]
pub struct Network {
    pub resolver: reach_dns::Resolver,
    pub tls: reach_tls::Tls,
    pub proxy: proxy::ProxySettings,
}

impl Network {
    /// Builds the resolver and the TLS client (reading the CA and client
    /// certificate files). Must be called inside a tokio runtime.
    pub fn new(config: &NetworkConfig) -> Result<Network, Error> {
        Ok(Network {
            resolver: reach_dns::Resolver::new(&config.dns)?,
            tls: reach_tls::Tls::new(&config.tls)?,
            proxy: config.proxy.clone(),
        })
    }
}

/// What to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An `http://` or `https://` URL: the full pipeline.
    Url(Url),
    /// `host:port`: DNS and TCP, plus TLS when `tls`.
    Tcp { host: String, port: u16, tls: bool },
}

impl Target {
    /// Parses a target as the user writes it: a URL, `host:port` (TCP, plus
    /// TLS with `tls`), or a bare host (meaning `https://host/`).
    pub fn parse(input: &str, tls: bool) -> Result<Target, Error> {
        let text = input.trim();
        let bad = |reason: String| Error::InvalidTarget {
            target: input.to_owned(),
            reason,
        };
        if text.is_empty() {
            return Err(bad("the target is empty".to_owned()));
        }
        if text.contains("://") {
            let url = Url::parse(text).map_err(|e| bad(e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(bad(format!(
                    "unsupported scheme `{}` (use http:// or https://)",
                    url.scheme()
                )));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(bad("the URL has no host".to_owned()));
            }
            return Ok(Target::Url(url));
        }
        if text.contains(['/', '?', '#', ' ']) {
            return Err(bad(
                "not a URL (add http:// or https://), host:port, or host name".to_owned(),
            ));
        }
        // `host:port` or `[v6]:port`; a bare IPv6 address has several colons.
        let host_port = if let Some(rest) = text.strip_prefix('[') {
            rest.split_once("]:").map(|(h, p)| (format!("[{h}]"), p))
        } else if text.matches(':').count() == 1 {
            text.split_once(':').map(|(h, p)| (h.to_owned(), p))
        } else {
            None
        };
        if let Some((host, port)) = host_port {
            let port: u16 = port
                .parse()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| bad(format!("`{port}` is not a port number (1-65535)")))?;
            validate_host(&host).map_err(&bad)?;
            return Ok(Target::Tcp { host, port, tls });
        }
        let host = if text.parse::<std::net::Ipv6Addr>().is_ok() {
            format!("[{text}]")
        } else {
            text.to_owned()
        };
        validate_host(&host).map_err(&bad)?;
        let url = Url::parse(&format!("https://{host}/")).map_err(|e| bad(e.to_string()))?;
        Ok(Target::Url(url))
    }

    /// The target as a URL-like string for the report.
    pub fn display(&self) -> String {
        match self {
            Target::Url(u) => u.to_string(),
            Target::Tcp { host, port, tls } => {
                format!("{}://{host}:{port}", if *tls { "tls" } else { "tcp" })
            }
        }
    }
}

fn validate_host(host: &str) -> Result<(), String> {
    let bare = reach_dns::unbracket(host);
    if bare.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if host.starts_with('[') {
        return bare
            .parse::<std::net::Ipv6Addr>()
            .map(drop)
            .map_err(|_| format!("`{bare}` is not an IPv6 address"));
    }
    url::Host::parse(bare)
        .map(drop)
        .map_err(|e| format!("`{bare}` is not a valid host name: {e}"))
}

/// One endpoint check: what to request and the limits.
#[derive(Debug, Clone)]
pub struct EndpointProbe {
    pub target: Target,
    pub method: Method,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// Follow redirects (`--follow`).
    pub follow: bool,
    pub max_redirects: usize,
    /// The whole check's deadline, every hop included.
    pub timeout: Duration,
    /// Body bytes read at most per response.
    pub body_cap: u64,
    /// Keep the final response's body in [`EndpointOutcome::body`] (a feed
    /// to parse); it never goes into the report.
    pub keep_body: bool,
    pub expiry_warn_days: i64,
}

impl EndpointProbe {
    /// A GET without redirects, with the usual limits.
    pub fn new(target: Target, timeout: Duration) -> Self {
        EndpointProbe {
            target,
            method: Method::GET,
            headers: Vec::new(),
            follow: false,
            max_redirects: 10,
            timeout,
            body_cap: 1024 * 1024,
            keep_body: false,
            expiry_warn_days: 14,
        }
    }
}

/// What the pipeline found for one endpoint.
#[derive(Debug, Clone)]
pub struct EndpointOutcome {
    pub details: EndpointDetails,
    pub findings: Vec<Finding>,
    /// The final response's body, with `keep_body`.
    pub body: Vec<u8>,
}

/// Runs the pipeline for `input`, following redirects when asked. Never
/// takes longer than `input.timeout` (plus scheduling slack).
pub async fn probe(input: &EndpointProbe, network: &Network) -> EndpointOutcome {
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + input.timeout;
    let mut outcome = EndpointOutcome {
        details: EndpointDetails {
            url: input.target.display(),
            ..EndpointDetails::default()
        },
        findings: Vec::new(),
        body: Vec::new(),
    };
    match &input.target {
        Target::Url(first) => {
            let last_hop_failed = follow(first, input, network, deadline, &mut outcome).await;
            conclude(&mut outcome, last_hop_failed);
            outcome.details.timings.total_ms = ms(started);
        }
        Target::Tcp { host, port, tls } => {
            let dial = Dial {
                host,
                port: *port,
                tls: *tls,
                forward_ok: false,
                expiry_warn_days: input.expiry_warn_days,
            };
            let result = connect_hop(&dial, network, deadline).await;
            outcome.details.timings = result.hop.timings;
            outcome.details.hops.push(result.hop);
            outcome.findings.extend(result.findings);
        }
    }
    outcome
}

/// Requests `first`, then each redirect while `input.follow` asks for them
/// and the chain may go on, into `outcome`. Whether the last hop failed.
async fn follow(
    first: &Url,
    input: &EndpointProbe,
    network: &Network,
    deadline: tokio::time::Instant,
    outcome: &mut EndpointOutcome,
) -> bool {
    let mut url = first.clone();
    let mut method = input.method.clone();
    let mut redirects = redirect::Redirects::new(input.max_redirects.saturating_add(1));
    // The first request cannot repeat one, nor pass a bound of at least one.
    let _ = redirects.admit(&method, &url, &[], None);
    let mut failed = false;
    loop {
        if tokio::time::Instant::now() >= deadline {
            let hops = outcome.details.hops.len();
            outcome.findings.push(
                Finding::new(
                    Code::HttpTimeout,
                    format!(
                        "the check's deadline passed after {hops} hops, before {url} was requested"
                    ),
                )
                .with("hops", hops)
                .with("next", url.as_str()),
            );
            return failed;
        }
        let headers = forwarded_headers(&input.headers, first, &url);
        let options = HopOptions {
            method: method.clone(),
            headers: &headers,
            body: &[],
            body_cap: input.body_cap,
            keep_body: input.keep_body,
            expiry_warn_days: input.expiry_warn_days,
            deadline,
        };
        let result = hop(&url, &options, network).await;
        failed = result
            .findings
            .iter()
            .any(|f| f.severity == reach_report::Severity::Fail);
        let status = result.hop.http.as_ref().and_then(|h| h.status);
        let location = result.hop.http.as_ref().and_then(|h| h.location.clone());
        outcome.body = result.body;
        outcome.details.hops.push(result.hop);
        outcome.findings.extend(result.findings);
        let Some((status, location)) = status
            .zip(location)
            .filter(|(status, _)| input.follow && redirect::is_redirect(*status) && !failed)
        else {
            return failed;
        };
        let Some(next) = redirect_target(&url, &location, &mut outcome.findings) else {
            return failed;
        };
        method = redirect::method_after(status, &method);
        if let Err(stop) = redirects.admit(&method, &next, &[], None) {
            outcome
                .findings
                .push(stopped(stop, &url, &next, input.max_redirects));
            return failed;
        }
        url = next;
    }
}

/// Where a redirect from `url` leads: an http(s) URL, or a finding that
/// says it is not one. A plain-HTTP target of an https URL is a finding
/// too, and followed.
fn redirect_target(url: &Url, location: &str, findings: &mut Vec<Finding>) -> Option<Url> {
    let next = match Url::parse(location) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => u,
        _ => {
            findings.push(
                Finding::new(
                    Code::HttpProtocolError,
                    format!("{url} redirects to `{location}`, which is not an http(s) URL"),
                )
                .with("location", location),
            );
            return None;
        }
    };
    if redirect::downgrades(url, &next) {
        findings.push(
            Finding::new(
                Code::HttpHttpsDowngrade,
                format!("{url} redirects to plain-HTTP {next}"),
            )
            .with("from", url.as_str())
            .with("to", next.as_str()),
        );
    }
    Some(next)
}

/// The finding of a redirect chain that stops before `next`.
fn stopped(stop: redirect::Stop, url: &Url, next: &Url, max_redirects: usize) -> Finding {
    match stop {
        redirect::Stop::Loop { chain, .. } => Finding::new(
            Code::HttpRedirectLoop,
            format!("{url} redirects back to {next}, which was already requested"),
        )
        .with("chain", chain)
        .with("repeated", next.as_str()),
        redirect::Stop::TooMany => Finding::new(
            Code::HttpTooManyRedirects,
            format!("more than {max_redirects} redirects; the last one points to {next}"),
        )
        .with("limit", max_redirects)
        .with("next", next.as_str()),
    }
}

/// The chain's verdict on its last answer, and its timings: an error
/// status nothing else explained, the last hop's phases, and the time
/// the redirects before it took.
fn conclude(outcome: &mut EndpointOutcome, last_hop_failed: bool) {
    let details = &mut outcome.details;
    let Some(last) = details.hops.last() else {
        return;
    };
    // A status already explained (a proxy's refusal, a missing client
    // certificate, the wrong scheme) is not the application's.
    if let Some(status) = last.http.as_ref().and_then(|h| h.status)
        && status >= 400
        && !last_hop_failed
    {
        outcome.findings.push(status_error(&last.url, status));
    }
    details.timings = last.timings;
    if details.hops.len() > 1 {
        let earlier: f64 = details.hops[..details.hops.len() - 1]
            .iter()
            .map(|h| h.timings.total_ms)
            .sum();
        details.timings.redirect_ms = Some(earlier);
    }
}

/// `http.status_error` for the final answer `status` of `url`.
fn status_error(url: &str, status: u16) -> Finding {
    let finding = Finding::new(Code::HttpStatusError, format!("{url} answered {status}"))
        .with("status", status)
        .with("url", url);
    if status != 414 {
        return finding;
    }
    let mut finding = finding.with_remedy("The server refuses URLs this long (many allow about 8 KiB). Shorten the URL; if a redirect made it this long (a parameter added again at every hop), the redirecting service is at fault.");
    finding.message = format!(
        "{url} answered 414 URI Too Long: the URL ({} bytes) is longer than the server accepts",
        url.len()
    );
    finding
}

/// Headers that carry credentials, which curl too sends only to the origin
/// the user named.
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

/// The user's headers for a request to `url`: credentials go only to the
/// first URL's origin (scheme, host and port), so a redirect can neither
/// carry them to another host nor downgrade them to plain HTTP.
fn forwarded_headers(
    headers: &[(HeaderName, HeaderValue)],
    first: &Url,
    url: &Url,
) -> Vec<(HeaderName, HeaderValue)> {
    let same_origin = first.origin() == url.origin();
    headers
        .iter()
        .filter(|(name, _)| same_origin || !CREDENTIAL_HEADERS.contains(&name.as_str()))
        .cloned()
        .collect()
}

/// One request through every phase.
#[derive(Debug)]
pub struct HopResult {
    pub hop: Hop,
    pub findings: Vec<Finding>,
    /// The body, when the probe keeps it.
    pub body: Vec<u8>,
}

/// One request: what [`hop`] sends, and its limits.
#[derive(Debug, Clone)]
pub struct HopOptions<'a> {
    pub method: Method,
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// Sent as is (give its `Content-Type` in `headers`); empty for none.
    pub body: &'a [u8],
    /// Body bytes read at most.
    pub body_cap: u64,
    /// Keep the body in [`HopResult::body`].
    pub keep_body: bool,
    /// Warn when the certificate expires within this many days.
    pub expiry_warn_days: i64,
    /// When the request gives up, every phase included.
    pub deadline: tokio::time::Instant,
}

/// Requests `url` once: DNS, TCP, proxy, TLS for https, HTTP. Stops at the
/// first failing phase. Redirects are the caller's (see [`redirect`]); so
/// is judging the status: an error status is an answer, not a finding
/// (only [`probe`] makes it `http.status_error`).
pub async fn hop(url: &Url, options: &HopOptions<'_>, network: &Network) -> HopResult {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(80);
    let tls = url.scheme() == "https";
    let method = &options.method;
    let deadline = options.deadline;
    let dial = Dial {
        host,
        port,
        tls,
        forward_ok: true,
        expiry_warn_days: options.expiry_warn_days,
    };
    let mut connected = connect_hop(&dial, network, deadline).await;
    connected.hop.url = url.to_string();
    let Some(stream) = connected.stream.take() else {
        return HopResult {
            hop: connected.hop,
            findings: connected.findings,
            body: Vec::new(),
        };
    };
    let request = http::HttpRequest {
        method,
        url,
        headers: options.headers,
        body: options.body,
        body_cap: options.body_cap,
        keep_body: options.keep_body,
        forward_proxy: connected.forward.as_ref(),
    };
    let result = match stream {
        Stream::Plain(s) => http::exchange(s, Protocol::Http1, &request, deadline).await,
        Stream::Tls(s) => {
            let protocol = if s.get_ref().1.alpn_protocol() == Some(b"h2") {
                Protocol::Http2
            } else {
                Protocol::Http1
            };
            http::exchange(*s, protocol, &request, deadline).await
        }
    };
    let mut hop = connected.hop;
    let mut findings = connected.findings;
    let started = connected.started;
    if let Some(first) = result.first_byte {
        hop.timings.ttfb_ms = Some((first - started).as_secs_f64() * 1000.0);
    }
    // TLS 1.3 servers judge a client certificate after the handshake: the
    // refusal arrives on the first read, and is still a TLS finding.
    let mut http_findings = result.findings;
    if let (Some(error), Some(tls)) = (&result.tls_error, &hop.tls) {
        findings.push(reach_tls::classify::finding(error, host, tls));
    } else if let Some(tls) = hop.tls.as_ref().filter(|t| t.client_cert_requested)
        && result.phase.status.is_none()
        && let Some(i) = http_findings
            .iter()
            .position(|f| f.code == Code::HttpProtocolError)
    {
        // The server asked for a client certificate and then dropped the
        // connection before any response; its alert may be lost when our
        // first write meets the closed socket.
        let closed = http_findings.remove(i);
        findings.push(
            client_cert_refused(host, tls, "then closed the connection before any response")
                .with("error", closed.evidence.get("error")),
        );
    }
    let status = result.phase.status;
    let header = |name: &str| {
        result
            .phase
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.clone())
    };
    // A forwarded request's answer may be the proxy's own (407, an error
    // page it marks as its own): the same diagnosis as a CONNECT refusal.
    if let (Some(proxy), Some(code)) = (&connected.forward, status)
        && let Some(finding) = proxy::refusal(code, &header, proxy, method.as_str(), url.as_str())
    {
        findings.push(finding);
    }
    // nginx's `ssl_verify_client on`: the handshake completes without a
    // certificate and the request is answered 400.
    if let Some(tls) = hop.tls.as_ref().filter(|t| t.client_cert_requested)
        && status == Some(400)
        && (!tls.client_cert_sent || contains(&result.body_head, "SSL certificate"))
    {
        findings.push(
            client_cert_refused(host, tls, "then answered 400")
                .with("status", 400)
                .with("answer", first_line(&result.body_head)),
        );
    }
    if let Some(tls) = &hop.tls {
        let seen = reach_tls::classify::Seen {
            tunnel_proxy: tunnel_proxy(&hop),
            response_headers: &result.phase.headers,
        };
        findings.extend(reach_tls::classify::intercepted(host, tls, seen));
    }
    // http:// to a port that speaks TLS: nginx answers 400 and says so,
    // other servers answer garbage or close; a TLS hello on a new
    // connection tells.
    if !tls
        && connected.forward.is_none()
        && (status == Some(400)
            || http_findings
                .iter()
                .any(|f| f.code == Code::HttpProtocolError))
        && let Some(peer) = hop
            .tcp
            .as_ref()
            .and_then(|t| t.connected.as_deref())
            .and_then(|a| a.parse::<SocketAddr>().ok())
        && speaks_tls(peer, host, deadline).await
    {
        http_findings.retain(|f| f.code != Code::HttpProtocolError);
        let mut https = url.clone();
        let _ = https.set_scheme("https");
        findings.push(
            Finding::new(
                Code::HttpWrongScheme,
                format!(
                    "{url} was sent as plain HTTP, but port {port} of {host} speaks TLS: use {https}"
                ),
            )
            .with("https_url", https.as_str())
            .with("status", status)
            .with("answer", first_line(&result.body_head)),
        );
    }
    let mut phase = result.phase;
    phase.ttfb_ms = hop.timings.ttfb_ms;
    hop.http = Some(phase);
    hop.timings.total_ms = ms(started);
    findings.extend(http_findings);
    HopResult {
        hop,
        findings,
        body: result.body,
    }
}

/// `tls.client_cert_required` for a server that asked for a client
/// certificate during a completed handshake and refused the request after
/// it (`then`): TLS 1.3 servers and nginx judge the certificate late.
fn client_cert_refused(host: &str, tls: &reach_report::endpoint::TlsPhase, then: &str) -> Finding {
    let given = if tls.client_cert_sent {
        "and did not accept the one given"
    } else {
        "and none was given"
    };
    Finding::new(
        Code::TlsClientCertRequired,
        format!("{host} asked for a client certificate during the TLS handshake {given}, {then}"),
    )
    .with("client_cert_sent", tls.client_cert_sent)
}

/// Whether `haystack` (a body's first bytes) contains `needle`.
fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

/// The first non-empty line of an error page, without markup, for evidence.
fn first_line(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let mut plain = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => {
                in_tag = true;
                plain.push('\n');
            }
            '>' => in_tag = false,
            c if !in_tag => plain.push(c),
            _ => {}
        }
    }
    plain
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(|l| l.chars().take(200).collect())
}

/// The proxy a hop's TLS went through in a CONNECT tunnel.
fn tunnel_proxy(hop: &Hop) -> Option<&str> {
    hop.proxy
        .as_ref()
        .filter(|p| p.mode.as_deref() == Some("connect"))
        .and_then(|p| p.url.as_deref())
}

/// Whether the server at `peer` answers a TLS hello (with a `ServerHello` or
/// an alert), on a new connection, before `deadline`.
async fn speaks_tls(peer: SocketAddr, host: &str, deadline: tokio::time::Instant) -> bool {
    let sni = (host.parse::<std::net::IpAddr>().is_err()).then_some(host);
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(peer).await.ok()?;
        let _ = stream.set_nodelay(true);
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        Some(reach_tls::legacy::probe(stream, sni, remaining).await)
    };
    matches!(
        tokio::time::timeout_at(deadline, attempt).await,
        Ok(Some(
            reach_tls::legacy::LegacyAnswer::Version(_) | reach_tls::legacy::LegacyAnswer::Alert(_)
        ))
    )
}

enum Stream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

struct Connected {
    hop: Hop,
    stream: Option<Stream>,
    findings: Vec<Finding>,
    started: Instant,
    /// Plain-HTTP requests go to this proxy in absolute form.
    forward: Option<proxy::Proxy>,
}

/// Where a hop connects, and how.
struct Dial<'a> {
    host: &'a str,
    port: u16,
    /// TLS after TCP (and the proxy).
    tls: bool,
    /// Plain HTTP may be sent to a proxy in absolute form instead of
    /// through a tunnel.
    forward_ok: bool,
    expiry_warn_days: i64,
}

/// DNS, TCP, the proxy (tunnel or forward) and, when `dial.tls`, TLS to
/// `dial.host:dial.port`.
async fn connect_hop(
    dial: &Dial<'_>,
    network: &Network,
    deadline: tokio::time::Instant,
) -> Connected {
    let &Dial {
        host,
        port,
        tls,
        forward_ok,
        expiry_warn_days,
    } = dial;
    let started = Instant::now();
    let mut hop = Hop {
        url: format!("{}://{host}:{port}", if tls { "tls" } else { "tcp" }),
        ..Hop::default()
    };
    let done = |hop: Hop, findings: Vec<Finding>, stream: Option<Stream>, forward| {
        let mut hop = hop;
        hop.timings.total_ms = ms(started);
        Connected {
            hop,
            stream,
            findings,
            started,
            forward,
        }
    };
    // proxy decision
    let scheme_url = Url::parse(&format!(
        "{}://{}:{port}/",
        if tls { "https" } else { "http" },
        host
    ));
    let choice = scheme_url.map_or(proxy::ProxyChoice::Direct, |u| network.proxy.choose(&u));
    let via = match choice {
        proxy::ProxyChoice::Direct => None,
        proxy::ProxyChoice::Bypassed { source, entry } => {
            hop.proxy = Some(ProxyPhase {
                source: source.clone(),
                bypassed: Some(format!("{source} entry `{entry}` matches {host}")),
                ..ProxyPhase::default()
            });
            None
        }
        proxy::ProxyChoice::Via(p) => {
            hop.proxy = Some(ProxyPhase {
                url: Some(p.display()),
                source: p.source.clone(),
                ..ProxyPhase::default()
            });
            Some(p)
        }
    };
    let (dial_host, dial_port) = via
        .as_ref()
        .map_or_else(|| (host.to_owned(), port), proxy::Proxy::address);
    // dns
    let dns = network
        .resolver
        .resolve(&dial_host, dial_port, deadline)
        .await;
    hop.timings.dns_ms = Some(ms(started));
    let addrs: Vec<SocketAddr> = dns
        .addresses
        .iter()
        .map(|ip| SocketAddr::new(*ip, dial_port))
        .collect();
    hop.dns = Some(dns.phase);
    if addrs.is_empty() {
        let findings = proxy_unreachable(via.as_ref(), dns.findings, "dns");
        return done(hop, findings, None, None);
    }
    // tcp
    let tcp = tcp::connect(&addrs, deadline).await;
    hop.tcp = Some(tcp.phase);
    let Some(stream) = tcp.stream else {
        let findings = proxy_unreachable(via.as_ref(), tcp.findings, "tcp");
        return done(hop, findings, None, None);
    };
    hop.timings.connect_ms = Some(ms(started));
    let peer = stream.peer_addr().ok();
    // proxy
    let mut forward = None;
    let stream = match via {
        Some(p) if tls || !forward_ok => {
            let proxy_started = Instant::now();
            let authority = format!("{host}:{port}");
            let tunnel = proxy::connect(stream, &p, &authority, deadline).await;
            if let Some(phase) = hop.proxy.as_mut() {
                phase.mode = Some("connect".to_owned());
                phase.status = tunnel.status;
                phase.duration_ms = ms(proxy_started);
            }
            let Some(stream) = tunnel.stream else {
                return done(hop, tunnel.findings, None, None);
            };
            hop.timings.proxy_ms = Some(ms(started));
            stream
        }
        Some(p) => {
            if let Some(phase) = hop.proxy.as_mut() {
                phase.mode = Some("forward".to_owned());
            }
            forward = Some(p);
            stream
        }
        None => stream,
    };
    if !tls {
        return done(hop, Vec::new(), Some(Stream::Plain(stream)), forward);
    }
    // tls
    let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
    let probe_input = reach_tls::TlsProbe {
        server_name: reach_dns::unbracket(host).to_owned(),
        alpn: vec!["h2".to_owned(), "http/1.1".to_owned()],
        timeout: remaining,
        expiry_warn_days,
    };
    let mut outcome = reach_tls::probe(&network.tls, &probe_input, stream).await;
    // rustls speaks only TLS 1.2 and 1.3: ask the server, with a legacy
    // hello on a fresh connection, which older version it wants.
    if outcome.version_refused
        && hop.proxy.as_ref().is_none_or(|p| p.url.is_none())
        && let Some(peer) = peer
    {
        legacy_version(
            &mut outcome.findings,
            host,
            peer,
            outcome.phase.sni.as_deref(),
            deadline,
        )
        .await;
    }
    // Interception is judged here when no HTTP response will follow (a
    // failed handshake, a TLS-only target); otherwise by `hop`, with the
    // response's headers.
    if outcome.stream.is_none() || !forward_ok {
        let seen = reach_tls::classify::Seen {
            tunnel_proxy: tunnel_proxy(&hop),
            response_headers: &[],
        };
        outcome
            .findings
            .extend(reach_tls::classify::intercepted(host, &outcome.phase, seen));
    }
    hop.tls = Some(outcome.phase);
    let Some(stream) = outcome.stream else {
        return done(hop, outcome.findings, None, None);
    };
    hop.timings.tls_ms = Some(ms(started));
    done(
        hop,
        outcome.findings,
        Some(Stream::Tls(Box::new(stream))),
        None,
    )
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
    let attempt = async {
        let stream = tokio::net::TcpStream::connect(peer).await.ok()?;
        let _ = stream.set_nodelay(true);
        let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
        Some(reach_tls::legacy::probe(stream, sni, remaining).await)
    };
    let answer = tokio::time::timeout_at(deadline, attempt)
        .await
        .ok()
        .flatten();
    match answer {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t = |s| Target::parse(s, false);
        assert!(matches!(t("https://example.com/x"), Ok(Target::Url(_))));
        assert_eq!(
            t("example.com").unwrap(),
            Target::Url(Url::parse("https://example.com/").unwrap())
        );
        assert_eq!(
            t("example.com:25").unwrap(),
            Target::Tcp {
                host: "example.com".into(),
                port: 25,
                tls: false
            }
        );
        assert_eq!(
            t("[::1]:8443").unwrap(),
            Target::Tcp {
                host: "[::1]".into(),
                port: 8443,
                tls: false
            }
        );
        assert_eq!(
            t("::1").unwrap(),
            Target::Url(Url::parse("https://[::1]/").unwrap())
        );
        for bad in [
            "",
            "ftp://x/",
            "http://",
            "https://exa mple.com/",
            "example.com:http",
            "example.com:0",
            "example.com:70000",
            "exa mple.com",
            "example.com/path",
            "[::zz]:443",
        ] {
            let err = t(bad).expect_err(bad).to_string();
            assert!(err.contains(bad.trim()), "{bad}: {err}");
        }
    }
}
