//! Hand-rolled HTTP/1.1 plumbing shared by the proxies and the hostile servers: a bounded
//! request-head reader, a minimal head parser, canned responses and a graceful close.
//!
//! These servers exist to misbehave precisely, which a real HTTP stack would not let them do,
//! so they speak HTTP over raw [`TcpStream`]s.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// Largest request head (request line and headers, with the blank line) a server reads.
pub(crate) const HEAD_LIMIT: usize = 64 * 1024;
/// How long a client has to send its whole request head.
pub(crate) const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection is drained so that the peer sees FIN, not RST, after our
/// last bytes (closing with unread data makes Linux send RST, which can destroy a response
/// the client has not read yet).
const LINGER: Duration = Duration::from_secs(1);

/// Why no request head was read.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum HeadError {
    /// More than [`HEAD_LIMIT`] bytes without the blank line.
    TooLarge,
    /// The head was not complete within [`HEAD_TIMEOUT`].
    Timeout,
    /// The client closed or reset the connection first.
    Closed,
}

/// A request head as read off the wire.
pub(crate) struct RawHead {
    /// The head, up to and including the terminating `\r\n\r\n`.
    pub(crate) head: Vec<u8>,
    /// Bytes the client sent after the head (a body, or an eager TLS `ClientHello` after a
    /// CONNECT), to be passed on rather than lost.
    pub(crate) rest: Vec<u8>,
}

/// Reads a request head, bounded by [`HEAD_LIMIT`] bytes and [`HEAD_TIMEOUT`].
pub(crate) async fn read_head(stream: &mut TcpStream) -> Result<RawHead, HeadError> {
    let read = async {
        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0_u8; 8192];
        loop {
            let n = match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(HeadError::Closed),
                Ok(n) => n,
            };
            // Search only where the terminator can newly appear.
            let from = buf.len().saturating_sub(3);
            buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = find(&buf[from..], b"\r\n\r\n") {
                let end = from + at + 4;
                if end > HEAD_LIMIT {
                    return Err(HeadError::TooLarge);
                }
                let rest = buf.split_off(end);
                return Ok(RawHead { head: buf, rest });
            }
            if buf.len() > HEAD_LIMIT {
                return Err(HeadError::TooLarge);
            }
        }
    };
    tokio::time::timeout(HEAD_TIMEOUT, read)
        .await
        .unwrap_or(Err(HeadError::Timeout))
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A parsed request head. Header names keep their case; values are trimmed.
pub(crate) struct Head<'a> {
    pub(crate) method: &'a str,
    pub(crate) target: &'a str,
    pub(crate) version: &'a str,
    pub(crate) headers: Vec<(&'a str, &'a str)>,
}

impl Head<'_> {
    /// The first header called `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// Parses a head read by [`read_head`]. `None` for anything that is not a plausible HTTP/1.x
/// request: non-UTF-8, a request line without exactly three parts, an unknown version, a header
/// line without a colon or with whitespace in the name, obsolete line folding.
pub(crate) fn parse_head(raw: &[u8]) -> Option<Head<'_>> {
    let text = std::str::from_utf8(raw).ok()?;
    let text = text.strip_suffix("\r\n\r\n")?;
    let mut lines = text.split("\r\n");
    let mut parts = lines.next()?.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || method.is_empty()
        || !method.bytes().all(|b| b.is_ascii_alphabetic())
        || target.is_empty()
        || !matches!(version, "HTTP/1.1" | "HTTP/1.0")
    {
        return None;
    }
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line.split_once(':')?;
        if name.is_empty()
            || name
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return None;
        }
        headers.push((name, value.trim_matches([' ', '\t'])));
    }
    Some(Head {
        method,
        target,
        version,
        headers,
    })
}

/// Writes a complete `Connection: close` response with a text body, then closes gracefully.
pub(crate) async fn respond_and_close(
    mut stream: TcpStream,
    status: &str,
    extra_headers: &str,
    body: &str,
) {
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n{extra_headers}\r\n{body}",
        body.len()
    );
    if stream.write_all(response.as_bytes()).await.is_ok() {
        close_gracefully(stream).await;
    }
}

/// The response to a failed [`read_head`], if any: 431 for an oversized head, 408 for a slow
/// one, nothing for a client that left.
pub(crate) async fn reject_head(stream: TcpStream, error: &HeadError) {
    match error {
        HeadError::TooLarge => {
            respond_and_close(
                stream,
                "431 Request Header Fields Too Large",
                "",
                "request head too large\n",
            )
            .await;
        }
        HeadError::Timeout => {
            respond_and_close(stream, "408 Request Timeout", "", "request head too slow\n").await;
        }
        HeadError::Closed => {}
    }
}

/// Half-closes our side (FIN after everything written), then discards whatever the client still
/// sends until it closes too or [`LINGER`] passes, and drops the socket.
pub(crate) async fn close_gracefully(mut stream: TcpStream) {
    let _ = stream.shutdown().await;
    drain(&mut stream, LINGER).await;
}

/// Reads and discards until EOF, an error or `limit` passes.
pub(crate) async fn drain(stream: &mut TcpStream, limit: Duration) {
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0_u8; 4096];
        while let Ok(n) = stream.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
}
