//! The hostile HTTP/1.1 servers: a trickling head, a huge header, many headers, an endless
//! body and a slow one.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    time::timeout,
};

use crate::support::{IO_TIMEOUT, connect, start};

/// The length of `huge_header`'s one header value: 1 MiB.
const HUGE_HEADER_LEN: usize = 1024 * 1024;

/// Sends `request` and returns everything until the server closes.
async fn exchange(addr: SocketAddr, request: &str) -> String {
    let mut stream = connect(addr).await;
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("closed in time")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

/// Connects to a hostile server and sends it a request head.
pub(crate) async fn hostile_connect(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr).await;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: good.lab.test\r\n\r\n")
        .await
        .expect("write");
    stream
}

async fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0_u8; n];
    timeout(IO_TIMEOUT, stream.read_exact(&mut buf))
        .await
        .expect("in time")
        .expect("read");
    buf
}

#[tokio::test]
async fn hostile_servers() {
    let lab = start();
    let hostile = &lab.hostile;

    let mut trickle = hostile_connect(hostile.trickle).await;
    assert_eq!(read_n(&mut trickle, 17).await, b"HTTP/1.1 200 OK\r\n");
    let started = Instant::now();
    assert_eq!(read_n(&mut trickle, 3).await, b"X-T");
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(250), "{elapsed:?}");

    let mut slow = hostile_connect(hostile.slow_body).await;
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n";
    assert_eq!(read_n(&mut slow, head.len()).await, head);
    let started = Instant::now();
    assert_eq!(read_n(&mut slow, 2).await, b"xx");
    assert!(started.elapsed() >= Duration::from_millis(350));

    let huge = exchange(hostile.huge_header, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(huge.starts_with("HTTP/1.1 200 OK\r\nX-Huge: aaaa"));
    assert!(huge.ends_with("a\r\n\r\n"));
    assert_eq!(huge.len(), 17 + 8 + HUGE_HEADER_LEN + 4);

    let many = exchange(hostile.many_headers, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(many.starts_with("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-0: v\r\n"));
    assert!(many.ends_with("X-9999: v\r\n\r\n"));
    assert_eq!(many.lines().filter(|l| l.starts_with("X-")).count(), 10_000);

    let mut endless = hostile_connect(hostile.endless_body).await;
    let head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n";
    assert_eq!(read_n(&mut endless, head.len()).await, head);
    let body = read_n(&mut endless, 4 * 1024 * 1024).await;
    assert!(body.iter().all(|b| *b == b'x'));

    // Without a request head, nothing is sent.
    let mut quiet = connect(hostile.trickle).await;
    let mut buf = [0_u8; 1];
    assert!(
        timeout(Duration::from_millis(300), quiet.read(&mut buf))
            .await
            .is_err()
    );
}
