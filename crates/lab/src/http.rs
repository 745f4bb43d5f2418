//! The lab's HTTP application and the TCP accept loops (plain, TLS, and the silent port).
//!
//! Plain hyper rather than a router framework: the routes are few, and owning the request
//! handling keeps exact control of status codes, `Location` headers and the protocol version
//! reported by `/version`. Connections are served by hyper-util's `auto` builder, which sniffs
//! the HTTP/2 preface, so a TLS client that negotiated `h2` through ALPN gets HTTP/2 and
//! everyone else gets HTTP/1.1.

use std::{convert::Infallible, sync::Arc, time::Duration};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    HeaderMap, Request, Response, StatusCode, Version,
    body::Incoming,
    header::{CONTENT_TYPE, HOST, HeaderValue, LOCATION},
    service::service_fn,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
};
use tokio::{
    io::{AsyncRead, AsyncWrite},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::TlsAcceptor;

/// Size of the `/big` body.
pub(crate) const BIG_BODY_LEN: usize = 4 * 1024 * 1024;
/// How long `/slow-headers` waits before answering.
pub(crate) const SLOW_HEADERS_DELAY: Duration = Duration::from_secs(30);
/// Bound on a TLS handshake, so a client that connects and stalls does not pin a task forever.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

type Body = Full<Bytes>;

/// State shared by every connection of the HTTP app.
pub(crate) struct App {
    /// Port of the plain HTTP listener on 127.0.0.1, the target of `/downgrade`.
    pub(crate) plain_port: u16,
    /// Port of the plain HTTP listener on `[::1]`, used by `/downgrade` for IPv6-literal hosts.
    pub(crate) plain_port_ipv6: Option<u16>,
    /// The `/big` body, built once and shared (cloning `Bytes` is a reference count bump).
    pub(crate) big: Bytes,
}

impl App {
    pub(crate) fn new(plain_port: u16, plain_port_ipv6: Option<u16>) -> Self {
        Self {
            plain_port,
            plain_port_ipv6,
            big: Bytes::from(vec![b'x'; BIG_BODY_LEN]),
        }
    }

    /// Routes one request. Never fails: every problem is an HTTP status.
    pub(crate) async fn handle<B>(&self, req: Request<B>) -> Response<Body> {
        let path = req.uri().path();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        match segments.as_slice() {
            [""] => text(StatusCode::OK, "reach lab\n"),
            ["status", code] => match parse_status(code) {
                Some(status) => {
                    let mut response = text(status, &format!("status {}\n", status.as_u16()));
                    // `?location=PATH`: a Location header with any status,
                    // as servers send it with 300 or 201 too.
                    if let Some(location) = req
                        .uri()
                        .query()
                        .and_then(|q| q.strip_prefix("location="))
                        .and_then(|l| HeaderValue::from_str(l).ok())
                    {
                        response.headers_mut().insert(LOCATION, location);
                    }
                    response
                }
                None => text(
                    StatusCode::BAD_REQUEST,
                    "status must be an integer in 100..=599\n",
                ),
            },
            ["redirect", n] => match n.parse::<u32>() {
                Ok(0) => redirect("/status/200"),
                Ok(n) => redirect(&format!("/redirect/{}", n - 1)),
                Err(_) => text(
                    StatusCode::BAD_REQUEST,
                    "redirect count must be a non-negative integer\n",
                ),
            },
            ["loop", "a"] => redirect("/loop/b"),
            ["loop", "b"] => redirect("/loop/a"),
            ["downgrade"] => self.downgrade(&req),
            ["headers"] => headers_json(req.headers()),
            ["method"] => text(StatusCode::OK, req.method().as_str()),
            // The query string, verbatim, is the Location: `/to?http://elsewhere/x`.
            ["to"] => match req.uri().query() {
                Some(location) => redirect(location),
                None => text(StatusCode::BAD_REQUEST, "usage: /to?LOCATION\n"),
            },
            ["echo-header", name] => echo_header(req.headers(), name),
            ["reflect"] => reflect(req.headers()),
            ["feed", "aws.json"] => {
                let mut response = text(StatusCode::OK, AWS_FEED);
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            ["version"] => text(StatusCode::OK, version_name(req.version())),
            ["big"] => {
                let mut response = Response::new(Full::new(self.big.clone()));
                response.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                );
                response
            }
            ["slow-headers"] => {
                // Cancelled, with its connection, when the lab's runtime shuts down.
                tokio::time::sleep(SLOW_HEADERS_DELAY).await;
                text(StatusCode::OK, "finally\n")
            }
            _ => text(StatusCode::NOT_FOUND, "not found\n"),
        }
    }

    /// `/downgrade`: an absolute `http://` redirect to the plain listener, keeping the name the
    /// client used, so a client following it leaves TLS behind.
    fn downgrade<B>(&self, req: &Request<B>) -> Response<Body> {
        // HTTP/1.1 carries the name in Host; HTTP/2 usually only in :authority (the URI).
        let authority = req
            .headers()
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                req.uri()
                    .authority()
                    .map(hyper::http::uri::Authority::as_str)
            })
            .unwrap_or("127.0.0.1");
        let host = host_part(authority);
        let port = if host.starts_with('[') {
            self.plain_port_ipv6.unwrap_or(self.plain_port)
        } else {
            self.plain_port
        };
        redirect(&format!("http://{host}:{port}/status/200"))
    }
}

/// Parses `/status/{code}`: an integer in 100..=599.
///
/// 1xx codes pass validation but hyper cannot send an informational status as a final
/// response; it answers 500 instead and closes the connection.
pub(crate) fn parse_status(code: &str) -> Option<StatusCode> {
    let code: u16 = code.parse().ok()?;
    if (100..=599).contains(&code) {
        StatusCode::from_u16(code).ok()
    } else {
        None
    }
}

/// The host part of a Host header / authority: drops the port, keeps IPv6 brackets.
pub(crate) fn host_part(authority: &str) -> &str {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => &authority[..=end],
            None => authority,
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    }
}

fn version_name(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2",
        Version::HTTP_3 => "HTTP/3",
        _ => "HTTP/1.1",
    }
}

fn text(status: StatusCode, body: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::copy_from_slice(body.as_bytes())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// `/feed/aws.json`: a small feed in the shape of AWS's `ip-ranges.json`.
const AWS_FEED: &str = r#"{
  "syncToken": "1700000000",
  "createDate": "2026-11-01-00-00-00",
  "prefixes": [
    {"ip_prefix": "198.51.100.0/24", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"},
    {"ip_prefix": "203.0.113.0/24", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"}
  ],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2001:db8:1::/48", "region": "eu-west-1", "service": "AMAZON", "network_border_group": "eu-west-1"}
  ]
}
"#;

/// `/echo-header/{name}`: 200 with the request header's value repeated in the response header
/// `x-echo`, or 400 when the request did not carry it.
fn echo_header(headers: &HeaderMap, name: &str) -> Response<Body> {
    match headers.get(name) {
        Some(value) => {
            let mut response = text(StatusCode::OK, "echoed in x-echo\n");
            response.headers_mut().insert("x-echo", value.clone());
            response
        }
        None => text(StatusCode::BAD_REQUEST, &format!("no {name} header\n")),
    }
}

/// `/reflect`: a server that echoes the request in its response, as some do: every request
/// header as `name: value`, joined by `, `, raw in `x-echo`, standard base64 in
/// `x-echo-base64`, and percent-encoded in the `Location` of a 302 to `/status/200?echo=…`.
fn reflect(headers: &HeaderMap) -> Response<Body> {
    let all = headers
        .iter()
        .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value.as_bytes())))
        .collect::<Vec<_>>()
        .join(", ");
    let encoded: String = url::form_urlencoded::byte_serialize(all.as_bytes()).collect();
    let mut response = redirect(&format!("/status/200?echo={encoded}"));
    for (name, value) in [
        ("x-echo", all.clone()),
        ("x-echo-base64", base64(all.as_bytes())),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Standard base64 with padding (RFC 4648 §4).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (k, b)| n | u32::from(*b) << (16 - 8 * k));
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A 302 to `location` with a short text body (400 if `location` cannot be a header value).
pub(crate) fn redirect(location: &str) -> Response<Body> {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = text(StatusCode::FOUND, &format!("redirecting to {location}\n"));
            response.headers_mut().insert(LOCATION, value);
            response
        }
        // Only reachable through /downgrade with a Host header hyper accepted but that cannot
        // be a header value again; answer instead of panicking.
        Err(_) => text(
            StatusCode::BAD_REQUEST,
            "cannot build a Location for this host\n",
        ),
    }
}

/// `/headers`: a JSON object of request header name (lowercase) → value. Repeated headers are
/// joined with ", " (RFC 9110 §5.3); non-UTF-8 bytes are replaced.
fn headers_json(headers: &HeaderMap) -> Response<Body> {
    let mut map = serde_json::Map::new();
    for name in headers.keys() {
        let joined = headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect::<Vec<_>>()
            .join(", ");
        map.insert(name.as_str().to_owned(), serde_json::Value::String(joined));
    }
    let body = serde_json::Value::Object(map).to_string();
    let mut response = Response::new(Full::new(Bytes::from(body)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Serves one connection (plain TCP or TLS) with the app, HTTP/1.1 or HTTP/2 as the client speaks.
async fn serve_connection<S>(app: Arc<App>, io: S)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |req: Request<Incoming>| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(app.handle(req).await) }
    });
    // Errors here are client misbehaviour (resets, garbage); the lab just drops the connection.
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// Accept loop for plain HTTP. Runs until the runtime shuts down.
pub(crate) async fn serve_plain(listener: TcpListener, app: Arc<App>) {
    loop {
        let Some(stream) = accept(&listener).await else {
            continue;
        };
        tokio::spawn(serve_connection(Arc::clone(&app), stream));
    }
}

/// Accept loop for HTTPS. Runs until the runtime shuts down.
pub(crate) async fn serve_tls(listener: TcpListener, app: Arc<App>, acceptor: TlsAcceptor) {
    loop {
        let Some(stream) = accept(&listener).await else {
            continue;
        };
        let acceptor = acceptor.clone();
        let app = Arc::clone(&app);
        tokio::spawn(async move {
            // A failed or stalled handshake (e.g. a client that distrusts the lab CA) just ends
            // the connection.
            if let Ok(Ok(tls)) =
                tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
            {
                serve_connection(app, tls).await;
            }
        });
    }
}

/// Accept loop for the silent port: accepts, never reads or writes, and holds every connection
/// until the runtime shuts down (which drops this task and with it the streams).
pub(crate) async fn serve_silent(listener: TcpListener) {
    let mut held = Vec::new();
    loop {
        if let Some(stream) = accept(&listener).await {
            held.push(stream);
        }
    }
}

/// Accepts forever, handling each connection in its own task: the loop of
/// every raw server of the lab (and of the identity provider). Ends with the lab's runtime.
pub(crate) async fn accept_each<F, Fut>(listener: TcpListener, handle: F)
where
    F: Fn(TcpStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    loop {
        if let Some(stream) = accept(&listener).await {
            tokio::spawn(handle(stream));
        }
    }
}

/// Accepts one connection and sets `TCP_NODELAY` on it, so small responses are not delayed by
/// Nagle's algorithm (timings are what reach measures).
///
/// Returns `None` after a failed accept (e.g. EMFILE, or a connection reset while queued) after a
/// short pause, so a persistent error cannot spin the loop.
pub(crate) async fn accept(listener: &TcpListener) -> Option<TcpStream> {
    if let Ok((stream, _)) = listener.accept().await {
        // Failing to set an option on a live socket is not worth dropping the client over.
        let _ = stream.set_nodelay(true);
        Some(stream)
    } else {
        tokio::time::sleep(Duration::from_millis(10)).await;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::parse_status;

    #[test]
    fn status_validation() {
        assert_eq!(parse_status("100").map(|s| s.as_u16()), Some(100));
        assert_eq!(parse_status("599").map(|s| s.as_u16()), Some(599));
        for bad in ["99", "600", "", "20x", "-200", "65536", "+200 "] {
            assert_eq!(parse_status(bad), None, "{bad}");
        }
    }
}
