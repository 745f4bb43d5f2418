//! The malformed peers ([`reach_lab::Lab::malformed`]): DNS, TLS and HTTP/1.1 servers that
//! break their protocol on purpose, with plain sockets and hand-built DNS queries.

use std::{
    net::{Ipv4Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use hickory_proto::{
    op::{Message, MessageType, ResponseCode},
    rr::{Name, RData, rdata::A},
};
use reach_lab::{MalformedLab, dns_query as query};
use rustls::{ClientConfig, RootCertStore, pki_types::ServerName};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpStream, UdpSocket},
    time::timeout,
};
use tokio_rustls::TlsConnector;

use crate::support::{IO_TIMEOUT, connect, start};

/// How long a test waits to be sure that nothing (more) arrives.
const QUIET: Duration = Duration::from_millis(300);
/// A minimal (bogus) TLS handshake record: enough for the TLS servers to answer.
const HELLO: [u8; 9] = [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00];

/// A UDP socket connected to `server`.
async fn udp_client(server: SocketAddr) -> UdpSocket {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    socket.connect(server).await.expect("connect");
    socket
}

/// The next datagram, or `None` when none comes within `wait`.
async fn recv(socket: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = vec![0_u8; 4096];
    let n = timeout(wait, socket.recv(&mut buf))
        .await
        .ok()?
        .expect("recv");
    buf.truncate(n);
    Some(buf)
}

/// Sends `query` over UDP and returns the one answer.
async fn udp_exchange(server: SocketAddr, query: &[u8]) -> Vec<u8> {
    let socket = udp_client(server).await;
    socket.send(query).await.expect("send");
    recv(&socket, IO_TIMEOUT).await.expect("an answer in time")
}

/// Sends every query over one DNS-over-TCP connection and returns one answer per query.
async fn tcp_exchange(server: SocketAddr, queries: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut stream = connect(server).await;
    let mut answers = Vec::new();
    for query in queries {
        let len = u16::try_from(query.len())
            .expect("short query")
            .to_be_bytes();
        stream.write_all(&len).await.expect("write");
        stream.write_all(query).await.expect("write");
        let mut len = [0_u8; 2];
        timeout(IO_TIMEOUT, stream.read_exact(&mut len))
            .await
            .expect("in time")
            .expect("read length");
        let mut answer = vec![0_u8; usize::from(u16::from_be_bytes(len))];
        timeout(IO_TIMEOUT, stream.read_exact(&mut answer))
            .await
            .expect("in time")
            .expect("read answer");
        answers.push(answer);
    }
    answers
}

/// What `dns_wrong_id` answers to `query(id, name, _)`.
fn wrong_id_answer(id: u16, query: &[u8]) -> Vec<u8> {
    let mut answer = id.wrapping_add(1).to_be_bytes().to_vec();
    answer.extend_from_slice(&[0x85, 0x80, 0, 1, 0, 1, 0, 0, 0, 0]);
    answer.extend_from_slice(&query[12..]);
    answer.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
    answer
}

#[tokio::test]
async fn malformed_dns_servers() {
    let lab = start();
    let dns = &lab.malformed;
    let q = query(0x1234, "good.lab.test", 1);

    // Garbage: 37 fixed bytes, over UDP and TCP, whatever the query.
    let garbage = udp_exchange(dns.dns_garbage, &q).await;
    assert_eq!(garbage, MalformedLab::DNS_GARBAGE);
    assert_eq!(garbage.len(), 37);
    assert!(Message::from_vec(&garbage).is_err(), "not a DNS message");
    let other = query(7, "x.example", 28);
    assert_eq!(
        tcp_exchange(dns.dns_garbage, &[&q, &other]).await,
        [
            MalformedLab::DNS_GARBAGE.to_vec(),
            MalformedLab::DNS_GARBAGE.to_vec()
        ]
    );

    // Truncated: 7 bytes of the header, with the query's ID.
    let truncated = udp_exchange(dns.dns_truncated, &q).await;
    assert_eq!(truncated, [0x12, 0x34, 0x85, 0x80, 0, 1, 0]);
    assert!(Message::from_vec(&truncated).is_err());
    assert_eq!(
        tcp_exchange(dns.dns_truncated, &[&other]).await,
        [vec![0, 7, 0x85, 0x80, 0, 1, 0]]
    );

    // Wrong ID: otherwise a good answer.
    let wrong = udp_exchange(dns.dns_wrong_id, &q).await;
    assert_eq!(wrong, wrong_id_answer(0x1234, &q));
    let message = Message::from_vec(&wrong).expect("a DNS message");
    assert_eq!(message.metadata.id, 0x1235);
    assert_eq!(message.metadata.message_type, MessageType::Response);
    assert_eq!(message.metadata.response_code, ResponseCode::NoError);
    assert!(message.metadata.recursion_desired);
    assert_eq!(message.queries.len(), 1);
    assert_eq!(message.answers.len(), 1);
    let record = &message.answers[0];
    assert_eq!(
        record.name,
        Name::from_ascii("good.lab.test.").expect("name")
    );
    assert_eq!(record.ttl, 60);
    assert_eq!(record.data, RData::A(A(Ipv4Addr::LOCALHOST)));
    // The ID wraps.
    let last = query(u16::MAX, "good.lab.test", 1);
    let answers = tcp_exchange(dns.dns_wrong_id, &[&last, &q]).await;
    assert_eq!(answers[0], wrong_id_answer(u16::MAX, &last));
    assert_eq!(answers[0][..2], [0, 0]);
    assert_eq!(answers[1], wrong);

    // Not queries: no answer at all. Then a query still gets its one answer.
    for server in [dns.dns_garbage, dns.dns_truncated, dns.dns_wrong_id] {
        let socket = udp_client(server).await;
        socket.send(&q[..11]).await.expect("send");
        let mut response = q.clone();
        response[2] |= 0x80;
        socket.send(&response).await.expect("send");
        socket.send(&q).await.expect("send");
        let first = recv(&socket, IO_TIMEOUT).await.expect("an answer");
        assert!(first.len() == 37 || first[..2] == [0x12, 0x34] || first[..2] == [0x12, 0x35]);
        assert_eq!(recv(&socket, QUIET).await, None, "one answer only");
    }
    // A question the wrong-ID server cannot parse: a compressed name.
    let socket = udp_client(dns.dns_wrong_id).await;
    let mut compressed = q[..12].to_vec();
    compressed.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1]);
    socket.send(&compressed).await.expect("send");
    assert_eq!(recv(&socket, QUIET).await, None);
}

// ---------------------------------------------------------------- TLS

/// Sends `bytes`, then returns everything until the server closes.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr).await;
    stream.write_all(bytes).await.expect("write");
    let mut reply = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut reply))
        .await
        .expect("closed in time")
        .expect("read");
    reply
}

/// A rustls handshake with `addr` (any certificate would do: none is ever sent).
async fn handshake(addr: SocketAddr) -> std::io::Result<()> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth();
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let name = ServerName::try_from("localhost").expect("name");
    timeout(
        IO_TIMEOUT,
        TlsConnector::from(Arc::new(config)).connect(name, stream),
    )
    .await
    .expect("handshake ends in time")
    .map(drop)
}

#[tokio::test]
async fn malformed_tls_servers() {
    let lab = start();
    let tls = &lab.malformed;

    let garbage = exchange(tls.tls_garbage, &HELLO).await;
    assert_eq!(garbage, MalformedLab::TLS_GARBAGE);
    assert_eq!(garbage.len(), 512);
    assert!(!(20..=24).contains(&garbage[0]), "not a TLS record");

    assert_eq!(exchange(tls.tls_close, &HELLO).await, b"");

    let half = exchange(tls.tls_half_hello, &HELLO).await;
    assert_eq!(half, MalformedLab::TLS_HALF_HELLO);
    assert_eq!(
        half[..11],
        [
            0x16, 0x03, 0x03, 0x00, 0x4a, 0x02, 0x00, 0x00, 0x46, 0x03, 0x03
        ]
    );
    assert_eq!(half.len(), 20);

    // A real client fails on all three, promptly.
    for (what, addr) in [
        ("garbage", tls.tls_garbage),
        ("close", tls.tls_close),
        ("half hello", tls.tls_half_hello),
    ] {
        let started = Instant::now();
        let error = handshake(addr).await.expect_err(what);
        assert!(started.elapsed() < Duration::from_secs(2), "{what}");
        if what == "garbage" {
            assert_eq!(error.kind(), std::io::ErrorKind::InvalidData, "{error}");
        } else {
            assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof, "{error}");
        }
    }

    // A ClientHello sent in pieces is read whole before the answer.
    let mut stream = connect(tls.tls_half_hello).await;
    stream.write_all(&HELLO[..3]).await.expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    stream.write_all(&HELLO[3..7]).await.expect("write");
    let mut buf = [0_u8; 1];
    assert!(
        timeout(QUIET, stream.read(&mut buf)).await.is_err(),
        "waits"
    );
    stream.write_all(&HELLO[7..]).await.expect("write");
    let mut reply = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut reply))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(reply, MalformedLab::TLS_HALF_HELLO);

    // A client that leaves before its hello is complete gets nothing, and nothing breaks.
    let mut gone = connect(tls.tls_garbage).await;
    gone.write_all(&HELLO[..4]).await.expect("write");
    drop(gone);
    assert_eq!(
        exchange(tls.tls_garbage, &HELLO).await,
        MalformedLab::TLS_GARBAGE
    );
}

// ---------------------------------------------------------------- HTTP

#[tokio::test]
async fn malformed_http_servers() {
    let lab = start();
    let http = &lab.malformed;
    let request = b"GET / HTTP/1.1\r\nHost: good.lab.test\r\n\r\n";

    assert_eq!(
        exchange(http.http_bad_status, request).await,
        b"HTTP/1.1 abc Weird\r\nContent-Length: 0\r\n\r\n"
    );
    assert_eq!(
        exchange(http.http_bad_header, request).await,
        b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\x01c\r\nContent-Length: 2\r\n\r\nok"
    );
    assert_eq!(
        exchange(http.http_lying_length, request).await,
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789"
    );
    let garbage = exchange(http.http_garbage, request).await;
    assert_eq!(garbage, MalformedLab::HTTP_GARBAGE);
    assert_eq!(garbage.len(), 256);
    assert!(!garbage.starts_with(b"HTTP/"));

    // Nothing is sent before the request head is complete.
    for addr in [http.http_bad_status, http.http_garbage] {
        let mut stream = connect(addr).await;
        stream
            .write_all(b"GET / HTTP/1.1\r\n")
            .await
            .expect("write");
        let mut buf = [0_u8; 1];
        assert!(timeout(QUIET, stream.read(&mut buf)).await.is_err());
    }
}
