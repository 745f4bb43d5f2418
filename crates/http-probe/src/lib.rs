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

mod connect;
mod error;
mod hop;
pub mod http;
pub mod proxy;
pub mod redirect;
pub mod tcp;

use std::time::{Duration, Instant};

use ::http::{HeaderName, HeaderValue, Method};
use reach_report::endpoint::EndpointDetails;
use reach_report::{Code, Finding, elapsed_ms as ms};
use url::Url;

pub use error::Error;
pub use hop::{HopOptions, HopResult, body_excerpt, hop};
pub use http::Protocol;
/// Host names as URLs write them: `[::1]` → `::1` (the resolver's rule,
/// shared by everything that compares hosts).
pub use reach_dns::unbracket;

use connect::{Dial, connect_hop};

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
            let (last_hop_failed, head) =
                follow(first, input, network, deadline, &mut outcome).await;
            conclude(&mut outcome, last_hop_failed, &head);
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
            // Boxed for the same reason as a hop in `follow`.
            let result = Box::pin(connect_hop(&dial, network, deadline)).await;
            outcome.details.timings = result.hop.timings;
            outcome.details.hops.push(result.hop);
            outcome.findings.extend(result.findings);
        }
    }
    outcome
}

/// Requests `first`, then each redirect while `input.follow` asks for them
/// and the chain may go on, into `outcome`. Whether the last hop failed,
/// and the first bytes of its body.
async fn follow(
    first: &Url,
    input: &EndpointProbe,
    network: &Network,
    deadline: tokio::time::Instant,
    outcome: &mut EndpointOutcome,
) -> (bool, Vec<u8>) {
    let mut url = first.clone();
    let mut method = input.method.clone();
    let mut redirects = redirect::Redirects::new(input.max_redirects.saturating_add(1));
    // The first request cannot repeat one, nor pass a bound of at least one.
    let _ = redirects.admit(&method, &url, &[], None);
    let mut failed = false;
    let mut head = Vec::new();
    loop {
        if tokio::time::Instant::now() >= deadline {
            let hops = outcome.details.hops.len();
            outcome.findings.push(
                Finding::new(
                    Code::HttpTimeout,
                    format!(
                        "the check's deadline passed after {}, before {url} was requested",
                        reach_report::count(hops as u64, "hop", "hops")
                    ),
                )
                .with("hops", hops)
                .with("next", url.as_str()),
            );
            return (failed, head);
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
        // Boxed: a hop's future (TLS, HTTP) is kilobytes, and a caller's
        // task holding it inline would be copied whole each time it moves
        // (into its task, out of it): the check's task stays small.
        let result = Box::pin(hop(&url, &options, network)).await;
        failed = result
            .findings
            .iter()
            .any(|f| f.severity == reach_report::Severity::Fail);
        let status = result.hop.http.as_ref().and_then(|h| h.status);
        let location = result.hop.http.as_ref().and_then(|h| h.location.clone());
        outcome.body = result.body;
        head = result.body_head;
        outcome.details.hops.push(result.hop);
        outcome.findings.extend(result.findings);
        let Some((status, location)) = status
            .zip(location)
            .filter(|(status, _)| input.follow && redirect::is_redirect(*status) && !failed)
        else {
            return (failed, head);
        };
        let Some(next) = redirect_target(&url, &location, &mut outcome.findings) else {
            return (failed, head);
        };
        method = redirect::method_after(status, &method);
        if let Err(stop) = redirects.admit(&method, &next, &[], None) {
            outcome
                .findings
                .push(stopped(stop, &url, &next, input.max_redirects));
            return (failed, head);
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
            format!(
                "more than {}; the last one points to {next}",
                reach_report::count(max_redirects as u64, "redirect", "redirects")
            ),
        )
        .with("limit", max_redirects)
        .with("next", next.as_str()),
    }
}

/// The chain's verdict on its last answer, and its timings: an error
/// status nothing else explained, the last hop's phases, and the time
/// the redirects before it took.
fn conclude(outcome: &mut EndpointOutcome, last_hop_failed: bool, head: &[u8]) {
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
        let mut finding = status_error(&last.url, status);
        if let Some(body) = body_excerpt(head) {
            finding = finding.with("body", body);
        }
        outcome.findings.push(finding);
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
