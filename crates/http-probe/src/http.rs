//! The HTTP phase: one request over hyper's `client::conn` handshake (HTTP/1.1
//! or h2), timed to the first byte, with the body read up to a cap.

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, Request, Version};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use reach_report::endpoint::{Header, HttpPhase};
use reach_report::{Code, Finding};
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

/// Which HTTP version to speak on the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    Http1,
    Http2,
}

/// One request to make.
#[derive(Debug, Clone)]
pub struct HttpRequest<'a> {
    pub method: &'a Method,
    pub url: &'a Url,
    pub headers: &'a [(HeaderName, HeaderValue)],
    /// The request body (a form an SSO chain posts); empty for none.
    pub body: &'a [u8],
    /// Stop reading the body after this many bytes.
    pub body_cap: u64,
    /// Keep the body (up to `body_cap`) for the caller: a feed fetched by
    /// `reach allowlist --published URL`. Never put in the report.
    pub keep_body: bool,
    /// Send the request to this proxy in absolute form (plain HTTP via a
    /// proxy, as curl does).
    pub forward_proxy: Option<&'a crate::proxy::Proxy>,
}

/// What the HTTP phase produced.
#[derive(Debug)]
pub struct HttpResult {
    pub phase: HttpPhase,
    pub findings: Vec<Finding>,
    /// When the first response byte arrived.
    pub first_byte: Option<Instant>,
    /// The exchange failed in TLS (an alert on the first read): the caller
    /// turns it into a TLS finding, since it knows the TLS phase.
    pub tls_error: Option<rustls::Error>,
    /// The body, when the request asked to keep it.
    pub body: Vec<u8>,
    /// The first bytes of the body (at most [`BODY_HEAD`]), to read a
    /// server's or proxy's own error page; never put in the report.
    pub body_head: Vec<u8>,
}

/// How much of every body is kept for diagnosis.
pub const BODY_HEAD: usize = 1024;

/// Sends `request` on `stream` and reads the response, all before `deadline`.
pub async fn exchange<S>(
    stream: S,
    protocol: Protocol,
    request: &HttpRequest<'_>,
    deadline: tokio::time::Instant,
) -> HttpResult
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let started = Instant::now();
    let mut result = HttpResult {
        phase: HttpPhase {
            method: request.method.to_string(),
            version: match protocol {
                Protocol::Http1 => "HTTP/1.1",
                Protocol::Http2 => "HTTP/2",
            }
            .to_owned(),
            ..HttpPhase::default()
        },
        findings: Vec::new(),
        first_byte: None,
        tls_error: None,
        body: Vec::new(),
        body_head: Vec::new(),
    };
    let outcome =
        tokio::time::timeout_at(deadline, run(stream, protocol, request, &mut result)).await;
    result.phase.duration_ms = reach_report::elapsed_ms(started);
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            if let Some(tls) = tls_error(e.as_ref()) {
                result.tls_error = Some(tls.clone());
                return result;
            }
            if let Some(finding) = own_limit(e.as_ref(), request.url) {
                result.findings.push(finding);
                return result;
            }
            let announced = result
                .phase
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| h.value.trim().parse::<u64>().ok())
                .filter(|n| result.first_byte.is_some() && *n > result.phase.body_bytes);
            let message = match announced {
                // The status and headers came; the body stopped short.
                Some(length) => format!(
                    "{} closed the connection after {} of the {length} body bytes its Content-Length announced",
                    request.url, result.phase.body_bytes
                ),
                None if result.first_byte.is_some() => format!(
                    "{} failed while reading the response body: {e}",
                    request.url
                ),
                None => format!("{} failed before a response: {e}", request.url),
            };
            result.findings.push(
                Finding::new(Code::HttpProtocolError, message)
                    .with("error", e.to_string())
                    .with("body_bytes", result.phase.body_bytes)
                    .with("content_length", announced),
            );
        }
        Err(_) => {
            let waited = reach_report::elapsed_ms(started);
            let (what, phase) = if result.first_byte.is_some() {
                ("the response body did not finish", "body")
            } else {
                ("no response headers arrived", "headers")
            };
            result.findings.push(
                Finding::new(
                    Code::HttpTimeout,
                    format!(
                        "{} accepted the connection but {what} within {waited:.0} ms",
                        request.url
                    ),
                )
                .with("waiting_for", phase)
                .with("waited_ms", waited),
            );
        }
    }
    result
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The longest request target the `http` crate (and so hyper) can carry.
pub const MAX_URI_BYTES: usize = u16::MAX as usize - 1;
/// Most bytes of a response head read (hyper's `max_header_size`).
pub const MAX_HEAD_BYTES: usize = 128 * 1024;
/// Most headers of a response read.
pub const MAX_HEADERS: usize = 200;

/// The request was not sent: its target is longer than [`MAX_URI_BYTES`].
#[derive(Debug)]
struct UriTooLong {
    bytes: usize,
}

impl std::fmt::Display for UriTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the URL is {} bytes long, more than the {MAX_URI_BYTES} an HTTP request can carry",
            self.bytes
        )
    }
}

impl std::error::Error for UriTooLong {}

/// The first characters of a URL too long to show whole.
fn shortened(url: &Url) -> String {
    const SHOWN: usize = 120;
    let text = url.as_str();
    if text.chars().count() <= SHOWN {
        return text.to_owned();
    }
    let head: String = text.chars().take(SHOWN).collect();
    format!("{head}…")
}

/// A limit of reach's own that the exchange ran into (a URL too long to
/// send, a response head too large to read), with its true cause: these
/// are not "something else answers".
fn own_limit(error: &(dyn std::error::Error + 'static), url: &Url) -> Option<Finding> {
    if let Some(long) = error.downcast_ref::<UriTooLong>() {
        let bytes = long.bytes;
        return Some(
            Finding::new(
                Code::HttpProtocolError,
                format!(
                    "{} was not requested: the URL is {bytes} bytes long, more than the {MAX_URI_BYTES} an HTTP request line can carry (servers usually refuse far less, often 8 KiB, with 414 URI Too Long)",
                    shortened(url)
                ),
            )
            .with_remedy(
                "The URL is too long to be requested. If a redirect or a page keeps lengthening it (a parameter added again at every hop), that loop is the server's fault: see the hops before this one. Otherwise shorten the URL.",
            )
            .with("url_bytes", bytes)
            .with("max_url_bytes", MAX_URI_BYTES),
        );
    }
    let mut current = Some(error);
    for _ in 0..16 {
        let e = current?;
        if e.downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_parse_too_large)
        {
            return Some(
                Finding::new(
                    Code::HttpProtocolError,
                    format!(
                        "{} answered with a response head larger than reach reads ({} KiB or {MAX_HEADERS} headers): no usable response",
                        shortened(url),
                        MAX_HEAD_BYTES / 1024
                    ),
                )
                .with_remedy(
                    "The server's response header is too large: browsers and proxies refuse such a header too. The usual cause is too many or too large cookies (Set-Cookie): clear the site's cookies, or have the service set fewer.",
                )
                .with("error", e.to_string())
                .with("max_head_bytes", MAX_HEAD_BYTES)
                .with("max_headers", MAX_HEADERS),
            );
        }
        current = e.source();
    }
    None
}

/// The TLS error behind an HTTP failure, if there is one. h2 keeps its I/O
/// error out of `source()`, so it is asked directly.
fn tls_error<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    if let Some(found) = reach_tls::classify::find_rustls_error(error) {
        return Some(found);
    }
    let mut current = Some(error);
    for _ in 0..16 {
        let e = current?;
        if let Some(io) = e.downcast_ref::<h2::Error>().and_then(h2::Error::get_io) {
            return reach_tls::classify::find_rustls_error(io);
        }
        current = e.source();
    }
    None
}

async fn run<S>(
    stream: S,
    protocol: Protocol,
    request: &HttpRequest<'_>,
    result: &mut HttpResult,
) -> Result<(), BoxError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let io = TokioIo::new(stream);
    let url = request.url;
    // The `http` crate refuses a longer URI with only a string to say so.
    let target_bytes = match (protocol, request.forward_proxy) {
        (Protocol::Http1, None) => url[url::Position::BeforePath..url::Position::AfterQuery].len(),
        _ => url.as_str().len(),
    };
    if target_bytes > MAX_URI_BYTES {
        return Err(Box::new(UriTooLong {
            bytes: target_bytes,
        }));
    }
    let mut builder = Request::builder().method(request.method.clone());
    let has_header =
        |name: &http::header::HeaderName| request.headers.iter().any(|(n, _)| n == name);
    // The connection is driven by this exchange itself, until the body is
    // read (see `Driver`).
    let (response, mut driver) = match protocol {
        Protocol::Http1 => {
            // Bounded memory against hostile servers: a response head of at
            // most 128 KiB and 200 headers; the body is counted, not kept.
            let (mut sender, conn) = hyper::client::conn::http1::Builder::new()
                .max_buf_size(256 * 1024)
                .max_header_size(MAX_HEAD_BYTES)
                .max_headers(MAX_HEADERS)
                .handshake(io)
                .await?;
            let mut driver = Driver::new(conn);
            builder = match request.forward_proxy {
                Some(proxy) => {
                    if let Some(auth) = proxy.authorization() {
                        builder = builder.header(http::header::PROXY_AUTHORIZATION, auth);
                    }
                    let mut absolute = url.clone();
                    let _ = absolute.set_username("");
                    let _ = absolute.set_password(None);
                    absolute.set_fragment(None);
                    builder.uri(absolute.as_str())
                }
                None => builder.uri(&url[url::Position::BeforePath..url::Position::AfterQuery]),
            }
            .version(Version::HTTP_11);
            if !has_header(&http::header::HOST) {
                builder = builder.header(http::header::HOST, host_header(url));
            }
            let req = finish(builder, request, &has_header)?;
            result.phase.request_headers = headers(req.headers());
            match driver.run(sender.send_request(req)).await {
                Ok(response) => (response, driver.holding(sender)),
                Err(e) => return Err(driver.connection_error(e).await),
            }
        }
        Protocol::Http2 => {
            let (mut sender, conn) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
                .max_header_list_size(256 * 1024)
                .handshake(io)
                .await?;
            let mut driver = Driver::new(conn);
            builder = builder.uri(url.as_str()).version(Version::HTTP_2);
            let req = finish(builder, request, &has_header)?;
            result.phase.request_headers = headers(req.headers());
            match driver.run(sender.send_request(req)).await {
                Ok(response) => (response, driver.holding(sender)),
                Err(e) => return Err(driver.connection_error(e).await),
            }
        }
    };
    result.first_byte = Some(Instant::now());
    driver.run(read(response, request, result)).await
}

fn finish(
    mut builder: http::request::Builder,
    request: &HttpRequest<'_>,
    has_header: &dyn Fn(&http::header::HeaderName) -> bool,
) -> Result<Request<Full<Bytes>>, BoxError> {
    if !has_header(&http::header::USER_AGENT) {
        builder = builder.header(
            http::header::USER_AGENT,
            concat!("reach/", env!("CARGO_PKG_VERSION")),
        );
    }
    if !has_header(&http::header::ACCEPT) {
        builder = builder.header(http::header::ACCEPT, "*/*");
    }
    for (name, value) in request.headers {
        builder = builder.header(name, value);
    }
    Ok(builder.body(Full::new(Bytes::copy_from_slice(request.body)))?)
}

async fn read(
    response: http::Response<hyper::body::Incoming>,
    request: &HttpRequest<'_>,
    result: &mut HttpResult,
) -> Result<(), BoxError> {
    let phase = &mut result.phase;
    phase.status = Some(response.status().as_u16());
    phase.headers = headers(response.headers());
    phase.location = response
        .headers()
        .get(http::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(|l| {
            request
                .url
                .join(l)
                .map_or_else(|_| l.to_owned(), |u| u.to_string())
        });
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Some(data) = frame.data_ref() {
            result.phase.body_bytes += data.len() as u64;
            if result.phase.body_bytes > request.body_cap {
                result.phase.body_truncated = true;
                break;
            }
            if request.keep_body {
                result.body.extend_from_slice(data);
            }
            let room = BODY_HEAD.saturating_sub(result.body_head.len());
            result
                .body_head
                .extend_from_slice(&data[..room.min(data.len())]);
        }
    }
    if result.phase.body_truncated {
        result.findings.push(
            Finding::new(
                Code::HttpBodyTruncated,
                format!(
                    "the body of {} is longer than {} bytes; reach stopped reading there",
                    request.url, request.body_cap
                ),
            )
            .with("max_body", request.body_cap),
        );
    }
    Ok(())
}

fn headers(map: &http::HeaderMap) -> Vec<Header> {
    map.iter()
        .map(|(n, v)| Header {
            name: n.as_str().to_owned(),
            value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
        })
        .collect()
}

/// `host[:port]` as the Host header wants it (the port only when not default).
fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// A connection's driver (hyper's `Connection` future), polled by the
/// exchange itself, beside the request it carries, rather than spawned as a
/// task of its own: one task per check, so a response does not wake one
/// task from another (often on another thread) and no task is spawned and
/// aborted per request. The connection ends, as the spawned driver was
/// aborted, when the exchange drops it.
struct Driver {
    conn: Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>,
    /// How the connection ended, when it ended first.
    ended: Option<Result<(), hyper::Error>>,
    /// The request sender, until the body is read: dropped, it has hyper
    /// close the connection politely (a `close_notify` and a shutdown, one
    /// more write per check) before the exchange drops it anyway.
    sender: Option<Box<dyn Send>>,
}

impl Driver {
    fn new(conn: impl Future<Output = Result<(), hyper::Error>> + Send + 'static) -> Self {
        Driver {
            conn: Box::pin(conn),
            ended: None,
            sender: None,
        }
    }

    /// The driver, keeping `sender` until it is dropped.
    fn holding(mut self, sender: impl Send + 'static) -> Self {
        self.sender = Some(Box::new(sender));
        self
    }

    /// Runs `work` to its end, driving the connection meanwhile.
    async fn run<F: Future>(&mut self, work: F) -> F::Output {
        let mut work = std::pin::pin!(work);
        std::future::poll_fn(|cx| {
            if self.ended.is_none()
                && let Poll::Ready(ended) = self.conn.as_mut().poll(cx)
            {
                self.ended = Some(ended);
            }
            work.as_mut().poll(cx)
        })
        .await
    }

    /// A failed request often only says "canceled": the connection's own
    /// error (a TLS alert, a protocol violation) is the one that explains.
    /// It is waited for at most 200 ms.
    async fn connection_error(&mut self, request_error: hyper::Error) -> BoxError {
        if self.ended.is_none() {
            let conn = self.conn.as_mut();
            if let Ok(ended) = tokio::time::timeout(Duration::from_millis(200), conn).await {
                self.ended = Some(ended);
            }
        }
        match self.ended.take() {
            Some(Err(connection_error)) => connection_error.into(),
            _ => request_error.into(),
        }
    }
}
