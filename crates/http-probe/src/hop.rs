//! One request through every phase ([`hop`]): the connecting half is
//! `connect.rs`; here the request is sent and its answer judged.

use std::net::SocketAddr;

use ::http::{HeaderName, HeaderValue, Method};
use reach_report::endpoint::Hop;
use reach_report::{Code, Finding, elapsed_ms as ms};
use reach_tls::legacy::LegacyAnswer;
use url::Url;

use crate::connect::{Dial, Stream, connect_hop, legacy_hello, tunnel_proxy};
use crate::{Network, Protocol, http, proxy};

/// One request through every phase.
#[derive(Debug)]
pub struct HopResult {
    pub hop: Hop,
    pub findings: Vec<Finding>,
    /// The body, when the probe keeps it.
    pub body: Vec<u8>,
    /// The body's first bytes (at most [`http::BODY_HEAD`]), always: an
    /// error page often names its cause (see [`body_excerpt`]).
    pub body_head: Vec<u8>,
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
///
/// [`redirect`]: crate::redirect
/// [`probe`]: crate::probe
pub async fn hop(url: &Url, options: &HopOptions<'_>, network: &Network) -> HopResult {
    let host = url.host_str().unwrap_or_default();
    let tls = url.scheme() == "https";
    let dial = Dial {
        host,
        port: url.port_or_known_default().unwrap_or(80),
        tls,
        forward_ok: true,
        expiry_warn_days: options.expiry_warn_days,
    };
    let mut connected = connect_hop(&dial, network, options.deadline).await;
    connected.hop.url = url.to_string();
    let Some(stream) = connected.stream.take() else {
        return HopResult {
            hop: connected.hop,
            findings: connected.findings,
            body: Vec::new(),
            body_head: Vec::new(),
        };
    };
    let request = http::HttpRequest {
        method: &options.method,
        url,
        headers: options.headers,
        body: options.body,
        body_cap: options.body_cap,
        keep_body: options.keep_body,
        forward_proxy: connected.forward.as_ref(),
    };
    let mut result = send(stream, &request, options.deadline).await;
    let mut hop = connected.hop;
    let mut findings = connected.findings;
    if let Some(first) = result.first_byte {
        hop.timings.ttfb_ms = Some((first - connected.started).as_secs_f64() * 1000.0);
    }
    let answer = Answer {
        url,
        method: &options.method,
        forward: connected.forward.as_ref(),
        deadline: options.deadline,
    };
    answer.tls_findings(&hop, &mut result, &mut findings);
    answer.proxy_findings(&result, &mut findings);
    answer
        .scheme_findings(&hop, &mut result, &mut findings, dial.port)
        .await;
    let mut phase = result.phase;
    phase.ttfb_ms = hop.timings.ttfb_ms;
    hop.http = Some(phase);
    hop.timings.total_ms = ms(connected.started);
    findings.append(&mut result.findings);
    HopResult {
        hop,
        findings,
        body: result.body,
        body_head: result.body_head,
    }
}

/// The request over the stream a hop connected: h2 when TLS agreed on it.
async fn send(
    stream: Stream,
    request: &http::HttpRequest<'_>,
    deadline: tokio::time::Instant,
) -> http::HttpResult {
    match stream {
        Stream::Plain(s) => http::exchange(s, Protocol::Http1, request, deadline).await,
        Stream::Tls(s) => {
            let protocol = if s.get_ref().1.alpn_protocol() == Some(b"h2") {
                Protocol::Http2
            } else {
                Protocol::Http1
            };
            http::exchange(*s, protocol, request, deadline).await
        }
    }
}

/// What a hop's answer is judged against: the request it answers.
struct Answer<'a> {
    url: &'a Url,
    method: &'a Method,
    /// The proxy the request was forwarded to in absolute form.
    forward: Option<&'a proxy::Proxy>,
    deadline: tokio::time::Instant,
}

impl Answer<'_> {
    fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    /// TLS findings that only the answer shows: a TLS 1.3 server judges a
    /// client certificate after the handshake (the refusal arrives on the
    /// first read, or as a dropped connection, or as nginx's 400), and
    /// interception is judged with the response's headers.
    fn tls_findings(&self, hop: &Hop, result: &mut http::HttpResult, findings: &mut Vec<Finding>) {
        let host = self.host();
        let Some(tls) = &hop.tls else {
            return;
        };
        if let Some(error) = &result.tls_error {
            findings.push(reach_tls::classify::finding(error, host, tls));
        } else if tls.client_cert_requested
            && result.phase.status.is_none()
            && let Some(i) = result
                .findings
                .iter()
                .position(|f| f.code == Code::HttpProtocolError)
        {
            // The server asked for a client certificate and then dropped the
            // connection before any response; its alert may be lost when our
            // first write meets the closed socket.
            let closed = result.findings.remove(i);
            findings.push(
                client_cert_refused(host, tls, "then closed the connection before any response")
                    .with("error", closed.evidence.get("error")),
            );
        }
        // nginx's `ssl_verify_client on`: the handshake completes without a
        // certificate and the request is answered 400.
        if tls.client_cert_requested
            && result.phase.status == Some(400)
            && (!tls.client_cert_sent || contains(&result.body_head, "SSL certificate"))
        {
            findings.push(
                client_cert_refused(host, tls, "then answered 400")
                    .with("status", 400)
                    .with("answer", first_line(&result.body_head)),
            );
        }
        let seen = reach_tls::classify::Seen {
            tunnel_proxy: tunnel_proxy(hop),
            response_headers: &result.phase.headers,
        };
        findings.extend(reach_tls::classify::intercepted(host, tls, seen));
    }

    /// A forwarded request's answer may be the proxy's own (407, an error
    /// page it marks as its own): the same diagnosis as a CONNECT refusal.
    fn proxy_findings(&self, result: &http::HttpResult, findings: &mut Vec<Finding>) {
        let (Some(proxy), Some(code)) = (self.forward, result.phase.status) else {
            return;
        };
        let header = |name: &str| {
            result
                .phase
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| h.value.clone())
        };
        if let Some(finding) = proxy::refusal(
            code,
            &header,
            proxy,
            self.method.as_str(),
            self.url.as_str(),
        ) {
            findings.push(finding);
        }
    }

    /// http:// to a port that speaks TLS: nginx answers 400 and says so,
    /// other servers answer garbage or close; a TLS hello on a new
    /// connection tells.
    async fn scheme_findings(
        &self,
        hop: &Hop,
        result: &mut http::HttpResult,
        findings: &mut Vec<Finding>,
        port: u16,
    ) {
        let (url, host) = (self.url, self.host());
        let status = result.phase.status;
        if url.scheme() == "https"
            || self.forward.is_some()
            || !(status == Some(400)
                || result
                    .findings
                    .iter()
                    .any(|f| f.code == Code::HttpProtocolError))
        {
            return;
        }
        let Some(peer) = hop
            .tcp
            .as_ref()
            .and_then(|t| t.connected.as_deref())
            .and_then(|a| a.parse::<SocketAddr>().ok())
        else {
            return;
        };
        if !speaks_tls(peer, host, self.deadline).await {
            return;
        }
        result
            .findings
            .retain(|f| f.code != Code::HttpProtocolError);
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
    plain_lines(body)
        .into_iter()
        .next()
        .map(|l| l.chars().take(200).collect())
}

/// The first lines of an answer's body as a person would read them
/// (markup left out, at most 5 lines and 500 characters), for a finding's
/// evidence: an error page or a JSON error often names its cause
/// (`AADSTS50011`, `invalid_client`). `None` for an empty body.
pub fn body_excerpt(body: &[u8]) -> Option<String> {
    let lines = plain_lines(body);
    if lines.is_empty() {
        return None;
    }
    let mut out = String::new();
    for line in lines.iter().take(5) {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
    }
    if out.chars().count() > 500 {
        out = out.chars().take(500).collect();
        out.push('…');
    }
    Some(out)
}

/// The non-empty lines of a body's text, trimmed, with markup left out
/// (a tag ends a line).
fn plain_lines(body: &[u8]) -> Vec<String> {
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
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether the server at `peer` answers a TLS hello (with a `ServerHello` or
/// an alert), on a new connection, before `deadline`.
async fn speaks_tls(peer: SocketAddr, host: &str, deadline: tokio::time::Instant) -> bool {
    let sni = (host.parse::<std::net::IpAddr>().is_err()).then_some(host);
    matches!(
        legacy_hello(peer, sni, deadline).await,
        Some(LegacyAnswer::Version(_) | LegacyAnswer::Alert(_))
    )
}
