//! HTTP/1.1 servers that misbehave on purpose ([`crate::HostileLab`]).
//!
//! Each reads the request head first (bounded like the proxies: 64 KiB, 5 s; a client that
//! does not send one is just disconnected), then answers in its own broken way. A failed write
//! (the client went away) ends the connection's task; the lab's shutdown ends all of them.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::AsyncWriteExt as _,
    net::{TcpListener, TcpStream},
    time::MissedTickBehavior,
};

use crate::raw;

/// Pause between the bytes of `trickle`.
pub(crate) const TRICKLE_INTERVAL: Duration = Duration::from_millis(100);
/// Size of `huge_header`'s one header value.
pub(crate) const HUGE_HEADER_LEN: usize = 1024 * 1024;
/// Number of `X-{n}: v` headers `many_headers` sends after `Content-Length: 0`.
pub(crate) const MANY_HEADERS: usize = 10_000;
/// Size of each write of `endless_body`.
pub(crate) const ENDLESS_CHUNK: usize = 64 * 1024;
/// `slow_body`'s announced `Content-Length`.
pub(crate) const SLOW_BODY_LEN: usize = 1_000_000;
/// Pause between the bytes of `slow_body`.
pub(crate) const SLOW_BODY_INTERVAL: Duration = Duration::from_millis(200);

/// One 64 KiB chunk of `endless_body`, shared by every connection.
static ENDLESS: [u8; ENDLESS_CHUNK] = [b'x'; ENDLESS_CHUNK];

/// HTTP/1.1 servers on `127.0.0.1` that misbehave on purpose, after reading the request head.
/// See the [crate docs](crate#hostile-http-servers-labhostile).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HostileLab {
    /// `HTTP/1.1 200 OK\r\n`, then the header `X-Trickle: aaa…` one byte every 100 ms, forever.
    pub trickle: SocketAddr,
    /// A status line and one header (`X-Huge`) whose value is 1 MiB of `a`, then `\r\n\r\n`;
    /// closes.
    pub huge_header: SocketAddr,
    /// A status line, `Content-Length: 0`, then 10,000 headers `X-0: v` … `X-9999: v` and
    /// `\r\n`; closes.
    pub many_headers: SocketAddr,
    /// A head without a length, then a body of `x` in 64 KiB writes as fast as the client
    /// reads, forever.
    pub endless_body: SocketAddr,
    /// `Content-Length: 1000000`, then one byte of body every 200 ms.
    pub slow_body: SocketAddr,
}

impl HostileLab {
    /// Placeholder addresses until the servers are bound.
    pub(crate) const UNBOUND: Self = Self {
        trickle: crate::UNBOUND,
        huge_header: crate::UNBOUND,
        many_headers: crate::UNBOUND,
        endless_body: crate::UNBOUND,
        slow_body: crate::UNBOUND,
    };

    /// Binds and spawns the hostile servers. Runs inside the lab runtime.
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let bind = |what: &'static str, mode: Mode| {
            crate::spawn_on_loopback(what, move |listener| serve(listener, mode))
        };
        Ok(Self {
            trickle: bind("trickle", Mode::Trickle).await?,
            huge_header: bind("huge-header", Mode::HugeHeader).await?,
            many_headers: bind("many-headers", Mode::ManyHeaders).await?,
            endless_body: bind("endless-body", Mode::EndlessBody).await?,
            slow_body: bind("slow-body", Mode::SlowBody).await?,
        })
    }
}

/// Which misbehaviour a listener serves.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Mode {
    Trickle,
    HugeHeader,
    ManyHeaders,
    EndlessBody,
    SlowBody,
}

/// Accept loop of one hostile server. Runs until the runtime shuts down.
pub(crate) async fn serve(listener: TcpListener, mode: Mode) {
    crate::http::accept_each(listener, move |stream| handle(stream, mode)).await;
}

async fn handle(mut stream: TcpStream, mode: Mode) {
    if raw::read_head(&mut stream).await.is_err() {
        return;
    }
    // Every branch returns at the first failed write; `Err` only means "the client left".
    let _ = match mode {
        Mode::Trickle => trickle(&mut stream).await,
        Mode::HugeHeader => huge_header(&mut stream).await,
        Mode::ManyHeaders => many_headers(&mut stream).await,
        Mode::EndlessBody => endless_body(&mut stream).await,
        Mode::SlowBody => slow_body(&mut stream).await,
    };
}

/// `HTTP/1.1 200 OK\r\n`, then `X-Trickle: aaaa…` one byte per [`TRICKLE_INTERVAL`], forever.
async fn trickle(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(b"HTTP/1.1 200 OK\r\n").await?;
    let mut interval = tokio::time::interval(TRICKLE_INTERVAL);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval.tick().await; // the first tick is immediate
    let name = b"X-Trickle: ";
    for byte in name.iter().copied().chain(std::iter::repeat(b'a')) {
        interval.tick().await;
        stream.write_all(&[byte]).await?;
    }
    Ok(())
}

/// A status line, one header with a 1 MiB value, the end of the head, close.
async fn huge_header(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut response = Vec::with_capacity(HUGE_HEADER_LEN + 64);
    response.extend_from_slice(b"HTTP/1.1 200 OK\r\nX-Huge: ");
    response.resize(response.len() + HUGE_HEADER_LEN, b'a');
    response.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&response).await?;
    stream.shutdown().await
}

/// A status line, `Content-Length: 0`, then headers `X-0: v` .. `X-9999: v`, close.
async fn many_headers(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut response = String::with_capacity(MANY_HEADERS * 12 + 64);
    response.push_str("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n");
    for n in 0..MANY_HEADERS {
        response.push_str("X-");
        response.push_str(&n.to_string());
        response.push_str(": v\r\n");
    }
    response.push_str("\r\n");
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

/// A head without a length, then 64 KiB chunks of `x` as fast as the client reads, forever.
async fn endless_body(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        .await?;
    loop {
        stream.write_all(&ENDLESS).await?;
    }
}

/// `Content-Length: 1000000`, then one byte per [`SLOW_BODY_INTERVAL`].
async fn slow_body(stream: &mut TcpStream) -> std::io::Result<()> {
    let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {SLOW_BODY_LEN}\r\n\r\n");
    stream.write_all(head.as_bytes()).await?;
    let mut interval = tokio::time::interval(SLOW_BODY_INTERVAL);
    interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
    interval.tick().await;
    for _ in 0..SLOW_BODY_LEN {
        interval.tick().await;
        stream.write_all(b"x").await?;
    }
    stream.shutdown().await
}
