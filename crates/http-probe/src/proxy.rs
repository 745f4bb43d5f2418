//! The proxy phase: which proxy a URL goes through (`--proxy`, the proxy
//! environment variables, `NO_PROXY`), and the HTTP CONNECT tunnel.

use std::net::IpAddr;
use std::time::Instant;

use reach_report::{Code, Finding};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use crate::Error;

/// A proxy and where its setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    pub url: Url,
    /// `--proxy`, `https_proxy`, `HTTPS_PROXY`, `http_proxy`, `HTTP_PROXY`.
    pub source: String,
}

impl Proxy {
    /// Parses a proxy URL as curl accepts it: `http://[user:pass@]host[:port]`,
    /// or `host:port` meaning `http://host:port`. Only HTTP proxies exist here.
    pub fn parse(value: &str, source: &str) -> Result<Proxy, Error> {
        let text = value.trim();
        let with_scheme = if text.contains("://") {
            text.to_owned()
        } else {
            format!("http://{text}")
        };
        // Whatever stands before the last `@` may hold a password, however
        // malformed the rest is.
        let shown = match with_scheme.rsplit_once('@') {
            Some((before, host)) => match before.split_once("://") {
                Some((scheme, _)) => {
                    format!("{scheme}://{}@{host}", reach_report::redact::REDACTED)
                }
                None => format!("{}@{host}", reach_report::redact::REDACTED),
            },
            None => with_scheme.clone(),
        };
        let bad = |reason: String| Error::InvalidProxy {
            source_name: source.to_owned(),
            value: shown.clone(),
            reason,
        };
        let url = Url::parse(&with_scheme).map_err(|e| bad(e.to_string()))?;
        if url.scheme() != "http" {
            return Err(bad(format!(
                "the `{}` proxy scheme is not supported (use an http:// proxy)",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("the proxy URL has no host".to_owned()));
        }
        Ok(Proxy {
            url,
            source: source.to_owned(),
        })
    }

    /// The proxy URL for reports and messages: the password replaced.
    pub fn display(&self) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some(reach_report::redact::REDACTED));
        }
        url.to_string()
    }

    /// `host`, `port` of the proxy (curl's default proxy port is 1080).
    pub fn address(&self) -> (String, u16) {
        (
            self.url.host_str().unwrap_or_default().to_owned(),
            self.url.port().unwrap_or(1080),
        )
    }

    /// The `Proxy-Authorization` value for credentials in the URL.
    pub fn authorization(&self) -> Option<String> {
        if self.url.username().is_empty() {
            return None;
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let user = decode(self.url.username());
        let password = decode(self.url.password().unwrap_or_default());
        Some(format!(
            "Basic {}",
            base64(format!("{user}:{password}").as_bytes())
        ))
    }
}

/// The proxy settings of a run: the flag, the environment, the exceptions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// The proxy given for every URL (`--proxy`).
    pub flag: Option<Proxy>,
    /// For `https://` URLs (`https_proxy`, `HTTPS_PROXY`).
    pub https: Option<Proxy>,
    /// For `http://` URLs (`http_proxy`, `HTTP_PROXY`).
    pub http: Option<Proxy>,
    /// `NO_PROXY` entries and the variable they came from.
    pub no_proxy: Vec<String>,
    pub no_proxy_source: String,
}

/// What to do for one URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyChoice {
    Direct,
    /// A proxy is configured but `NO_PROXY` excludes this host.
    Bypassed {
        source: String,
        entry: String,
    },
    Via(Proxy),
}

impl ProxySettings {
    /// Reads the given proxy and the environment as curl does: lower-case
    /// names first, then upper-case; `given` (a proxy URL and where it was
    /// given, e.g. `--proxy`) wins over both.
    pub fn new(
        given: Option<(&str, &str)>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ProxySettings, Error> {
        let first = |names: &[&str]| {
            names.iter().find_map(|n| {
                env(n)
                    .filter(|v| !v.trim().is_empty())
                    .map(|v| (v, (*n).to_owned()))
            })
        };
        let parse = |found: Option<(String, String)>| {
            found
                .map(|(value, source)| Proxy::parse(&value, &source))
                .transpose()
        };
        let no_proxy = first(&["no_proxy", "NO_PROXY"]);
        Ok(ProxySettings {
            flag: given
                .map(|(value, source)| Proxy::parse(value, source))
                .transpose()?,
            https: parse(first(&[
                "https_proxy",
                "HTTPS_PROXY",
                "all_proxy",
                "ALL_PROXY",
            ]))?,
            http: parse(first(&[
                "http_proxy",
                "HTTP_PROXY",
                "all_proxy",
                "ALL_PROXY",
            ]))?,
            no_proxy_source: no_proxy
                .as_ref()
                .map_or_else(String::new, |(_, source)| source.clone()),
            no_proxy: no_proxy
                .map(|(value, _)| no_proxy_list(&value))
                .unwrap_or_default(),
        })
    }

    /// Whether any proxy is set: without one, every URL goes direct.
    pub(crate) fn any(&self) -> bool {
        self.flag.is_some() || self.https.is_some() || self.http.is_some()
    }

    /// The proxy for `url`, if any.
    pub fn choose(&self, url: &Url) -> ProxyChoice {
        let configured = self.flag.as_ref().or(match url.scheme() {
            "https" => self.https.as_ref(),
            _ => self.http.as_ref(),
        });
        let Some(proxy) = configured else {
            return ProxyChoice::Direct;
        };
        let host = reach_dns::unbracket(url.host_str().unwrap_or_default()).to_ascii_lowercase();
        match self.no_proxy.iter().find(|e| no_proxy_matches(e, &host)) {
            Some(entry) => ProxyChoice::Bypassed {
                source: self.no_proxy_source.clone(),
                entry: entry.clone(),
            },
            None => ProxyChoice::Via(proxy.clone()),
        }
    }
}

/// The entries of a `NO_PROXY` (or `--noproxy`) value.
pub fn no_proxy_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|e| e.trim().to_ascii_lowercase())
        .filter(|e| !e.is_empty())
        .collect()
}

/// curl's `NO_PROXY` rules: `*` matches every host; a name matches itself
/// and its subdomains (a leading dot is optional); an IP address or CIDR
/// matches addresses.
fn no_proxy_matches(entry: &str, host: &str) -> bool {
    if entry == "*" {
        return true;
    }
    let entry = reach_dns::unbracket(entry);
    if let Ok(ip) = host.parse::<IpAddr>() {
        if let Ok(net) = entry.parse::<ipnet::IpNet>() {
            return net.contains(&ip);
        }
        return entry.parse::<IpAddr>().is_ok_and(|e| e == ip);
    }
    let entry = entry.trim_start_matches("*.").trim_start_matches('.');
    host == entry || host.ends_with(&format!(".{entry}"))
}

/// How a CONNECT ended.
#[derive(Debug)]
pub struct Tunnel {
    pub status: Option<u16>,
    pub stream: Option<TcpStream>,
    pub findings: Vec<Finding>,
    pub duration_ms: f64,
}

/// `proxy.denied` for an answer to CONNECT whose head did not end: too
/// long, or cut off by the proxy closing.
fn unended(head: &str, end: HeadEnd, proxy_name: &str, authority: &str) -> Finding {
    let how = if end == HeadEnd::TooLong {
        format!("whose header did not end within {} KiB", MAX_HEAD / 1024)
    } else {
        "and closed the connection before its header ended".to_owned()
    };
    Finding::new(
        Code::ProxyDenied,
        format!("the proxy {proxy_name} answered CONNECT {authority} {how}"),
    )
    .with_remedy(
        "The proxy's answer to CONNECT is broken, so no tunnel was opened and the target was never reached: check the proxy (or whatever listens on its port) and its logs.",
    )
    .with(
        "status_line",
        head.lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect::<String>(),
    )
    .with("head_bytes", head.len())
}

/// Asks the proxy on `stream` for a tunnel to `authority` (`host:port`),
/// before `deadline`.
pub async fn connect(
    mut stream: TcpStream,
    proxy: &Proxy,
    authority: &str,
    deadline: tokio::time::Instant,
) -> Tunnel {
    let started = Instant::now();
    let mut request = format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: reach/{}\r\n",
        env!("CARGO_PKG_VERSION")
    );
    if let Some(auth) = proxy.authorization() {
        request.push_str("Proxy-Authorization: ");
        request.push_str(&auth);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let exchange = async {
        stream.write_all(request.as_bytes()).await?;
        read_head(&mut stream).await
    };
    let proxy_name = proxy.display();
    let result = tokio::time::timeout_at(deadline, exchange).await;
    let duration_ms = reach_report::elapsed_ms(started);
    let failed = |finding: Finding, status: Option<u16>| Tunnel {
        status,
        stream: None,
        findings: vec![finding.with("proxy", &proxy_name).with("target", authority)],
        duration_ms,
    };
    let head = match result {
        Err(_) => {
            return failed(
                Finding::new(
                    Code::ProxyConnectFailed,
                    format!("the proxy {proxy_name} did not answer CONNECT {authority} in time"),
                ),
                None,
            );
        }
        Ok(Err(e)) => {
            return failed(
                Finding::new(
                    Code::ProxyDenied,
                    format!(
                        "the proxy {proxy_name} closed the connection instead of answering CONNECT {authority} ({e})"
                    ),
                ),
                None,
            );
        }
        Ok(Ok((head, HeadEnd::Complete))) => head,
        Ok(Ok((head, end))) => {
            // Whatever the status line says, a head that does not end is
            // no tunnel: what follows would be read as the target's bytes.
            return failed(
                unended(&head, end, &proxy_name, authority),
                parse_status(&head),
            );
        }
    };
    let status = parse_status(&head);
    match status {
        Some(code @ 200..=299) => Tunnel {
            status: Some(code),
            stream: Some(stream),
            findings: Vec::new(),
            duration_ms,
        },
        Some(code) => {
            let lookup = |name: &str| header(&head, name);
            let finding = refusal(code, &lookup, proxy, "CONNECT", authority)
                .unwrap_or_else(|| {
                    // Without the proxy's own marker, a CONNECT refusal is
                    // still the proxy's: only it answers a CONNECT.
                    if code >= 500 {
                        upstream_failed(code, &lookup, &proxy_name, authority, None)
                    } else {
                        denied(&proxy_name, &format!("CONNECT {authority}"), code, None)
                    }
                })
                .with("status_line", head.lines().next().unwrap_or_default());
            failed(finding, Some(code))
        }
        None => failed(
            Finding::new(
                Code::ProxyDenied,
                format!("the proxy {proxy_name} answered CONNECT {authority} with something that is not HTTP"),
            )
            .with("answer", head.chars().take(200).collect::<String>()),
            None,
        ),
    }
}

/// Squid's error pages that mean the proxy could not reach the target (or
/// its parent proxy), as opposed to a policy refusal.
const SQUID_UPSTREAM_ERRORS: &[(&str, &str)] = &[
    ("ERR_CONNECT_FAIL", "its connection to the target failed"),
    (
        "ERR_READ_ERROR",
        "the target closed or broke the connection while the proxy read its answer",
    ),
    (
        "ERR_READ_TIMEOUT",
        "the target did not answer the proxy in time",
    ),
    (
        "ERR_WRITE_ERROR",
        "the proxy could not send the request to the target",
    ),
    (
        "ERR_DNS_FAIL",
        "the proxy could not resolve the target's name",
    ),
    (
        "ERR_CANNOT_FORWARD",
        "the proxy could not forward the request: its parent proxy (or every route to the target) is down",
    ),
    ("ERR_GATEWAY_FAILURE", "the proxy's gateway failed"),
    (
        "ERR_ZERO_SIZE_OBJECT",
        "the target answered the proxy with nothing",
    ),
    (
        "ERR_SECURE_CONNECT_FAIL",
        "the proxy's own TLS connection to the target failed",
    ),
    (
        "ERR_CONNECT_TIMEOUT",
        "the proxy's connection to the target timed out",
    ),
];

/// Proxy-Status (RFC 9209) error types that mean the same.
const PROXY_STATUS_UPSTREAM: &[&str] = &[
    "dns_timeout",
    "dns_error",
    "destination_not_found",
    "destination_unavailable",
    "destination_ip_unroutable",
    "connection_refused",
    "connection_terminated",
    "connection_timeout",
    "connection_read_timeout",
    "connection_write_timeout",
    "connection_limit_reached",
    "tls_protocol_error",
    "tls_certificate_error",
    "http_response_incomplete",
    "http_protocol_error",
    "proxy_internal_error",
    "proxy_loop_detected",
];

/// The proxy's own refusal of a request: 407, or an error page the proxy
/// marks as its own (`X-Squid-Error`, `Proxy-Status`). `None` when nothing
/// says the proxy made the answer: a forwarded request's status is then the
/// application's. One classification for CONNECT tunnels and forwarded
/// plain-HTTP requests.
pub fn refusal(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    proxy: &Proxy,
    method: &str,
    target: &str,
) -> Option<Finding> {
    let proxy_name = proxy.display();
    let request = format!("{method} {target}");
    let finding = if status == 407 {
        let given = proxy.authorization().is_some();
        Finding::new(
            Code::ProxyAuthRequired,
            if given {
                format!("the proxy {proxy_name} rejected the credentials in the proxy URL (407) for {request}")
            } else {
                format!("the proxy {proxy_name} requires authentication (407) for {request} and no credentials were given")
            },
        )
        .with("status", 407)
        .with("challenge", header("proxy-authenticate"))
        .with("credentials_given", given)
    } else if let Some(squid) = header("x-squid-error") {
        let name = squid
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        // upstream_failed records the squid error itself.
        if let Some((_, why)) = SQUID_UPSTREAM_ERRORS.iter().find(|(n, _)| *n == name) {
            upstream_failed(status, header, &proxy_name, target, Some(why))
        } else if status >= 500 && name != "ERR_ACCESS_DENIED" {
            upstream_failed(status, header, &proxy_name, target, None)
        } else {
            let why = if name == "ERR_ACCESS_DENIED" {
                "its access rules do not allow this destination: ERR_ACCESS_DENIED"
            } else {
                &name
            };
            denied(&proxy_name, &request, status, Some(why)).with("squid_error", &squid)
        }
    } else if let Some(proxy_status) = header("proxy-status")
        && let Some(error) = proxy_status_error(&proxy_status)
    {
        if PROXY_STATUS_UPSTREAM.contains(&error.as_str()) {
            upstream_failed(status, header, &proxy_name, target, None)
        } else {
            denied(&proxy_name, &request, status, Some(&error)).with("proxy_status", &proxy_status)
        }
    } else {
        return None;
    };
    Some(finding.with("proxy", &proxy_name).with("target", target))
}

/// The `error` parameter of a Proxy-Status header (RFC 9209).
fn proxy_status_error(value: &str) -> Option<String> {
    value.split([';', ',']).find_map(|part| {
        let (key, v) = part.trim().split_once('=')?;
        (key.trim() == "error").then(|| v.trim().trim_matches('"').to_owned())
    })
}

/// `proxy.denied`: the proxy's policy refused `request`; `why` is the
/// proxy's own word for it, when it gave one.
fn denied(proxy_name: &str, request: &str, status: u16, why: Option<&str>) -> Finding {
    let message = match why {
        Some(why) => format!("the proxy {proxy_name} refused {request} with {status} ({why})"),
        None => format!("the proxy {proxy_name} refused {request} with {status}"),
    };
    Finding::new(Code::ProxyDenied, message).with("status", status)
}

fn upstream_failed(
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    proxy_name: &str,
    target: &str,
    why: Option<&str>,
) -> Finding {
    let message = match why {
        Some(why) => format!("the proxy {proxy_name} could not reach {target} ({status}): {why}"),
        None => format!("the proxy {proxy_name} could not reach {target} ({status})"),
    };
    Finding::new(Code::ProxyUpstreamFailed, message)
        .with("status", status)
        .with("proxy_status", header("proxy-status"))
        .with("squid_error", header("x-squid-error"))
}

/// Most bytes of a CONNECT response head read.
const MAX_HEAD: usize = 64 * 1024;

/// How the proxy's response head ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeadEnd {
    /// The empty line came.
    Complete,
    /// [`MAX_HEAD`] bytes came without the empty line.
    TooLong,
    /// The proxy closed the connection before the empty line.
    Cut,
}

/// The response head, up to the empty line (at most [`MAX_HEAD`] bytes).
/// Reads one byte at a time so that nothing of the tunnel after the head is
/// consumed.
async fn read_head(stream: &mut TcpStream) -> std::io::Result<(String, HeadEnd)> {
    let mut head = Vec::with_capacity(256);
    let mut byte = [0u8; 1];
    let end = loop {
        if head.ends_with(b"\r\n\r\n") {
            break HeadEnd::Complete;
        }
        if head.len() >= MAX_HEAD {
            break HeadEnd::TooLong;
        }
        if stream.read(&mut byte).await? == 0 {
            if head.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "no answer",
                ));
            }
            break HeadEnd::Cut;
        }
        head.push(byte[0]);
    };
    Ok((String::from_utf8_lossy(&head).into_owned(), end))
}

fn parse_status(head: &str) -> Option<u16> {
    let line = head.lines().next()?;
    let mut parts = line.split_whitespace();
    let version = parts.next()?;
    if !version.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

fn header(head: &str, name: &str) -> Option<String> {
    head.lines().skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// Standard base64 with padding (RFC 4648), for Basic credentials.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> shift & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// Status, response headers, the proxy (with or without credentials),
    /// the finding expected.
    type RefusalCase<'a> = (u16, &'a [(&'a str, &'a str)], &'a Proxy, Option<Code>);

    #[test]
    fn the_proxy_s_own_answers_are_told_from_the_application_s() {
        let open = Proxy::parse("http://proxy.corp:3128", "--proxy").unwrap();
        let with_user = Proxy::parse("http://u:p@proxy.corp:3128", "--proxy").unwrap();
        let cases: &[RefusalCase<'_>] = &[
            (407, &[], &open, Some(Code::ProxyAuthRequired)),
            (407, &[], &with_user, Some(Code::ProxyAuthRequired)),
            (
                403,
                &[("X-Squid-Error", "ERR_ACCESS_DENIED 0")],
                &open,
                Some(Code::ProxyDenied),
            ),
            (
                503,
                &[("X-Squid-Error", "ERR_CONNECT_FAIL 111")],
                &open,
                Some(Code::ProxyUpstreamFailed),
            ),
            (
                500,
                &[("X-Squid-Error", "ERR_CANNOT_FORWARD 0")],
                &open,
                Some(Code::ProxyUpstreamFailed),
            ),
            (
                502,
                &[("Proxy-Status", "corp; error=connection_refused")],
                &open,
                Some(Code::ProxyUpstreamFailed),
            ),
            (
                403,
                &[("Proxy-Status", "corp; error=http_request_denied")],
                &open,
                Some(Code::ProxyDenied),
            ),
            // Nothing marks it as the proxy's: the application's answer.
            (403, &[("Via", "1.1 proxy.corp (squid/5.7)")], &open, None),
            (502, &[], &open, None),
        ];
        for (status, headers, proxy, want) in cases {
            let header = |name: &str| {
                headers
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(name))
                    .map(|(_, v)| (*v).to_owned())
            };
            let got = refusal(*status, &header, proxy, "GET", "http://app.example/");
            assert_eq!(got.as_ref().map(|f| f.code), *want, "{status} {headers:?}");
        }
        let header = |_: &str| None;
        let f = refusal(407, &header, &with_user, "GET", "http://app.example/").unwrap();
        assert!(
            f.message.contains("rejected the credentials"),
            "{}",
            f.message
        );
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("user:pass", "dXNlcjpwYXNz"),
        ] {
            assert_eq!(base64(input.as_bytes()), want);
        }
    }

    #[test]
    fn environment_is_read_as_curl_does() {
        let s = ProxySettings::new(
            None,
            env(&[
                ("HTTPS_PROXY", "http://upper:3128"),
                ("https_proxy", "lower:3128"),
                ("HTTP_PROXY", "http://plain:8080"),
                ("NO_PROXY", "internal.example, .corp.example,10.0.0.0/8,::1"),
            ]),
        )
        .unwrap();
        let https = Url::parse("https://api.example.com/").unwrap();
        let ProxyChoice::Via(p) = s.choose(&https) else {
            panic!()
        };
        assert_eq!(p.source, "https_proxy");
        assert_eq!(p.address(), ("lower".to_owned(), 3128));
        let ProxyChoice::Via(p) = s.choose(&Url::parse("http://api.example.com/").unwrap()) else {
            panic!()
        };
        assert_eq!(p.source, "HTTP_PROXY");
        for direct in [
            "https://internal.example/",
            "https://a.internal.example/",
            "https://x.corp.example/",
            "https://10.1.2.3/",
            "https://[::1]/",
        ] {
            assert!(
                matches!(
                    s.choose(&Url::parse(direct).unwrap()),
                    ProxyChoice::Bypassed { .. }
                ),
                "{direct}"
            );
        }
        assert!(matches!(
            s.choose(&Url::parse("https://notinternal.example/").unwrap()),
            ProxyChoice::Via(_)
        ));
    }

    #[test]
    fn flag_wins_and_bad_values_are_named() {
        let s = ProxySettings::new(
            Some(("http://u:p%40ss@flag:8080", "--proxy")),
            env(&[("HTTPS_PROXY", "http://env:1")]),
        )
        .unwrap();
        let ProxyChoice::Via(p) = s.choose(&Url::parse("https://x/").unwrap()) else {
            panic!()
        };
        assert_eq!(p.source, "--proxy");
        assert_eq!(
            p.authorization().unwrap(),
            format!("Basic {}", base64(b"u:p@ss"))
        );
        let err = ProxySettings::new(Some(("socks5://h:1", "--proxy")), env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("--proxy") && err.contains("socks5"), "{err}");
        let err = ProxySettings::new(None, env(&[("HTTPS_PROXY", "http://")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTTPS_PROXY"), "{err}");
    }

    /// A head cut short or never ended is no tunnel: the proxy's failure,
    /// whatever its status line says.
    #[tokio::test]
    async fn a_broken_connect_answer_opens_no_tunnel() {
        let cut = b"HTTP/1.1 200 Connection established\r\nX-A: b".to_vec();
        let mut endless = b"HTTP/1.1 200 Connection established\r\n".to_vec();
        while endless.len() <= MAX_HEAD {
            endless.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        for (answer, words) in [
            (cut, "closed the connection before its header ended"),
            (endless, "did not end within 64 KiB"),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                let (mut peer, _) = listener.accept().await.unwrap();
                let mut request = [0u8; 1024];
                let _ = peer.read(&mut request).await;
                let _ = peer.write_all(&answer).await;
                let _ = peer.shutdown().await;
            });
            let stream = TcpStream::connect(addr).await.unwrap();
            let proxy = Proxy::parse(&addr.to_string(), "--proxy").unwrap();
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
            let tunnel = connect(stream, &proxy, "app.example:443", deadline).await;
            assert!(tunnel.stream.is_none(), "{words}");
            let finding = &tunnel.findings[0];
            assert_eq!(finding.code, Code::ProxyDenied);
            assert!(finding.message.contains(words), "{}", finding.message);
            assert!(
                finding.message.contains(&addr.to_string()),
                "{}",
                finding.message
            );
            server.await.unwrap();
        }
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(
            parse_status("HTTP/1.1 200 Connection established\r\n\r\n"),
            Some(200)
        );
        assert_eq!(
            parse_status("HTTP/1.0 407 Proxy Authentication Required\r\n"),
            Some(407)
        );
        assert_eq!(parse_status("SSH-2.0-OpenSSH\r\n"), None);
        assert_eq!(
            header(
                "HTTP/1.1 407 x\r\nProxy-Authenticate: Basic realm=\"lab\"\r\n\r\n",
                "proxy-authenticate"
            ),
            Some("Basic realm=\"lab\"".to_owned())
        );
    }
}
