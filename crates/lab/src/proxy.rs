//! HTTP/1.1 forward proxies ([`crate::ProxyLab`]), hand-written on tokio.
//!
//! The open and authenticating proxies only ever connect to loopback: `127.0.0.1`, `::1`,
//! `localhost` and every `*.lab.test` name (mapped to `127.0.0.1` without DNS). Anything else is
//! answered `403 Forbidden`, so a test that goes wrong cannot make the lab reach the internet.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use tokio::{
    io::AsyncWriteExt as _,
    net::{TcpListener, TcpStream},
};

use crate::raw::{self, Head};

/// `base64("user:pass")`, the only credentials the `auth` proxy accepts; precomputed rather
/// than pulling in a base64 crate.
const PROXY_CREDENTIALS_B64: &str = "dXNlcjpwYXNz";
/// Bound on connecting to a destination (the lab's `dropping` port would otherwise hang).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// HTTP/1.1 forward proxies on `127.0.0.1`. See the [crate docs](crate#proxies-labproxy).
///
/// The open and authenticating proxies connect only to `127.0.0.1`, `::1`, `localhost` and
/// `*.lab.test` (all mapped to loopback without DNS) and answer `403 Forbidden` for anything
/// else. Every proxy caps the request head at 64 KiB (431) and 5 s (408) and answers garbage
/// with 400.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ProxyLab {
    /// Tunnels `CONNECT host:port` (`200 Connection established`) and forwards absolute-form
    /// `http://` requests, no authentication.
    pub open: SocketAddr,
    /// Like `open`, but requires `Proxy-Authorization: Basic dXNlcjpwYXNz` (`user:pass`);
    /// otherwise `407` with `Proxy-Authenticate: Basic realm="lab"`, and closes.
    pub auth: SocketAddr,
    /// Answers `403 Forbidden` to every request and closes.
    pub deny: SocketAddr,
    /// Reads the request head and closes without answering.
    pub close: SocketAddr,
    /// Answers `HTTP/1.1 200 Connection established` and then header lines that never end
    /// (`X-Pad-{n}: aaa…`, 1 KiB each) until the client closes, or 16 MiB were written.
    pub endless: SocketAddr,
}

impl ProxyLab {
    /// Placeholder addresses until the servers are bound.
    pub(crate) const UNBOUND: Self = Self {
        open: crate::UNBOUND,
        auth: crate::UNBOUND,
        deny: crate::UNBOUND,
        close: crate::UNBOUND,
        endless: crate::UNBOUND,
    };

    /// Binds and spawns the four proxies. Runs inside the lab runtime.
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let bind = |what: &'static str, mode: Mode| {
            crate::spawn_on_loopback(what, move |listener| serve(listener, mode))
        };
        Ok(Self {
            open: bind("open proxy", Mode::Open).await?,
            auth: bind("authenticating proxy", Mode::Auth).await?,
            deny: bind("denying proxy", Mode::Deny).await?,
            close: bind("closing proxy", Mode::Close).await?,
            endless: bind("endless proxy", Mode::Endless).await?,
        })
    }
}

/// What a proxy listener does with each request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Tunnels `CONNECT` and forwards absolute-form `http://` requests.
    Open,
    /// Like [`Mode::Open`] after checking `Proxy-Authorization`.
    Auth,
    /// `403 Forbidden` for every request.
    Deny,
    /// Reads the request head and closes without a word.
    Close,
    /// `200`, then a response head that never ends.
    Endless,
}

/// Accept loop of one proxy. Runs until the runtime shuts down.
pub(crate) async fn serve(listener: TcpListener, mode: Mode) {
    crate::http::accept_each(listener, move |stream| handle(stream, mode)).await;
}

async fn handle(mut stream: TcpStream, mode: Mode) {
    let raw_head = match raw::read_head(&mut stream).await {
        Ok(head) => head,
        Err(error) => {
            if mode != Mode::Close {
                raw::reject_head(stream, &error).await;
            }
            return;
        }
    };
    if mode == Mode::Close {
        // The whole head was consumed, so this is a clean FIN and the client reads EOF.
        let _ = stream.shutdown().await;
        return;
    }
    let Some(head) = raw::parse_head(&raw_head.head) else {
        raw::respond_and_close(stream, "400 Bad Request", "", "malformed request\n").await;
        return;
    };
    match mode {
        Mode::Deny => {
            raw::respond_and_close(stream, "403 Forbidden", "", "proxying is forbidden here\n")
                .await;
        }
        Mode::Auth if !authorized(&head) => {
            raw::respond_and_close(
                stream,
                "407 Proxy Authentication Required",
                "Proxy-Authenticate: Basic realm=\"lab\"\r\n",
                "proxy authentication required\n",
            )
            .await;
        }
        Mode::Endless => {
            let _ = endless_head(&mut stream).await;
        }
        Mode::Open | Mode::Auth => proxy(stream, &head, raw_head.rest).await,
        Mode::Close => {}
    }
}

/// Most bytes the `endless` proxy writes before it gives up on a client that keeps reading.
const ENDLESS_LIMIT: usize = 16 * 1024 * 1024;

/// `200 Connection established`, then 1 KiB header lines, never the empty line that ends the
/// head; stops when the client leaves or after [`ENDLESS_LIMIT`] bytes.
async fn endless_head(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(b"HTTP/1.1 200 Connection established\r\n")
        .await?;
    let mut line = Vec::with_capacity(1024);
    let mut written = 0;
    for n in 0.. {
        if written > ENDLESS_LIMIT {
            break;
        }
        line.clear();
        line.extend_from_slice(format!("X-Pad-{n}: ").as_bytes());
        line.resize(1022, b'a');
        line.extend_from_slice(b"\r\n");
        stream.write_all(&line).await?;
        written += line.len();
    }
    stream.shutdown().await
}

/// `Proxy-Authorization: Basic dXNlcjpwYXNz` (scheme case-insensitive).
fn authorized(head: &Head<'_>) -> bool {
    head.header("proxy-authorization")
        .and_then(|value| value.split_once(' '))
        .is_some_and(|(scheme, credentials)| {
            scheme.eq_ignore_ascii_case("basic") && credentials.trim() == PROXY_CREDENTIALS_B64
        })
}

/// Serves an authorized request: a `CONNECT` tunnel or a forwarded absolute-form request.
async fn proxy(stream: TcpStream, head: &Head<'_>, rest: Vec<u8>) {
    if head.method.eq_ignore_ascii_case("CONNECT") {
        let Some((host, port)) = split_authority(head.target) else {
            raw::respond_and_close(stream, "400 Bad Request", "", "CONNECT needs host:port\n")
                .await;
            return;
        };
        let Some(upstream) = open_upstream(stream, host, port).await else {
            return;
        };
        let (mut client, mut upstream) = upstream;
        if client
            .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
            .await
            .is_err()
            || upstream.write_all(&rest).await.is_err()
        {
            return;
        }
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        return;
    }

    let Some((authority, path)) = absolute_http_target(head.target) else {
        raw::respond_and_close(
            stream,
            "400 Bad Request",
            "",
            "expected CONNECT host:port or an absolute http:// URL (use CONNECT for https)\n",
        )
        .await;
        return;
    };
    let Some((host, port)) = split_authority_default_port(authority, 80) else {
        raw::respond_and_close(stream, "400 Bad Request", "", "bad host in the URL\n").await;
        return;
    };
    let Some((mut client, mut upstream)) = open_upstream(stream, host, port).await else {
        return;
    };
    // Origin-form request line, the client's headers minus the proxy's own, then whatever body
    // bytes came with the head; the rest of the exchange is relayed verbatim.
    let mut request = format!("{} {path} {}\r\n", head.method, head.version);
    for (name, value) in &head.headers {
        if name.eq_ignore_ascii_case("proxy-authorization")
            || name.eq_ignore_ascii_case("proxy-connection")
        {
            continue;
        }
        request.push_str(name);
        request.push_str(": ");
        request.push_str(value);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    let mut first = request.into_bytes();
    first.extend_from_slice(&rest);
    if upstream.write_all(&first).await.is_err() {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

/// Connects to an allowed destination; answers 403/502/504 itself and returns `None` otherwise.
async fn open_upstream(client: TcpStream, host: &str, port: u16) -> Option<(TcpStream, TcpStream)> {
    let Some(ip) = allowed_destination(host) else {
        raw::respond_and_close(
            client,
            "403 Forbidden",
            "",
            "the lab proxy only connects to loopback, localhost and *.lab.test\n",
        )
        .await;
        return None;
    };
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        TcpStream::connect(SocketAddr::new(ip, port)),
    )
    .await
    {
        Ok(Ok(upstream)) => {
            let _ = upstream.set_nodelay(true);
            Some((client, upstream))
        }
        Ok(Err(e)) => {
            raw::respond_and_close(
                client,
                "502 Bad Gateway",
                "",
                &format!("cannot connect to {ip}:{port}: {e}\n"),
            )
            .await;
            None
        }
        Err(_) => {
            raw::respond_and_close(
                client,
                "504 Gateway Timeout",
                "",
                &format!("connecting to {ip}:{port} timed out\n"),
            )
            .await;
            None
        }
    }
}

/// The address a destination host maps to, or `None` when the lab must not go there.
///
/// IP literals must be `127.0.0.1` or `::1`; `localhost` and `*.lab.test` (any case, trailing
/// dot allowed) are `127.0.0.1`. No DNS is involved.
pub(crate) fn allowed_destination(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return (ip == IpAddr::V4(Ipv4Addr::LOCALHOST) || ip == IpAddr::V6(Ipv6Addr::LOCALHOST))
            .then_some(ip);
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let suffix = format!(".{}", crate::ZONE);
    (name == "localhost" || (name.ends_with(&suffix) && name.len() > suffix.len()))
        .then_some(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

/// `host:port` or `[v6]:port` with a non-zero port. The host keeps its brackets.
pub(crate) fn split_authority(authority: &str) -> Option<(&str, u16)> {
    let (host, port) = authority.rsplit_once(':')?;
    if host.is_empty() || (host.contains(':') && !host.starts_with('[')) {
        return None;
    }
    let port: u16 = port.parse().ok()?;
    (port != 0).then_some((host, port))
}

/// Like [`split_authority`], with `default` when the authority has no port.
fn split_authority_default_port(authority: &str, default: u16) -> Option<(&str, u16)> {
    let has_port = match authority.rfind(']') {
        Some(end) => authority[end..].contains(':'),
        None => authority.contains(':'),
    };
    if has_port {
        split_authority(authority)
    } else if authority.is_empty() {
        None
    } else {
        Some((authority, default))
    }
}

/// Splits `http://authority/path?query` into the authority and the origin-form target
/// (`/` when the URL has no path). `None` for other schemes and for user info.
pub(crate) fn absolute_http_target(target: &str) -> Option<(&str, String)> {
    let scheme_end = target.find("://")?;
    if !target[..scheme_end].eq_ignore_ascii_case("http") {
        return None;
    }
    let after = &target[scheme_end + 3..];
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, path) = after.split_at(end);
    if authority.contains('@') {
        return None;
    }
    let path = path.split('#').next().unwrap_or_default();
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Some((authority, path))
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    use super::{absolute_http_target, allowed_destination, split_authority};

    #[test]
    fn proxy_destination_rules() {
        let v4 = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        for host in [
            "localhost",
            "LOCALHOST.",
            "good.lab.test",
            "x.y.Lab.Test.",
            "127.0.0.1",
        ] {
            assert_eq!(allowed_destination(host), v4, "{host}");
        }
        assert_eq!(
            allowed_destination("[::1]"),
            Some(IpAddr::V6(Ipv6Addr::LOCALHOST))
        );
        for host in [
            "lab.test",
            "example.com",
            "evillab.test",
            "127.0.0.53",
            "0.0.0.0",
            "[::]",
        ] {
            assert_eq!(allowed_destination(host), None, "{host}");
        }
        assert_eq!(split_authority("[::1]:443"), Some(("[::1]", 443)));
        assert_eq!(split_authority("a:0"), None);
        assert_eq!(split_authority("::1:443"), None);
        assert_eq!(
            absolute_http_target("HTTP://a.lab.test:8080?x=1#f"),
            Some(("a.lab.test:8080", "/?x=1".to_owned()))
        );
        assert_eq!(absolute_http_target("http://u:p@a/"), None);
    }
}
