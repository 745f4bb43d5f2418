//! Checks of the lab against plain sockets, so they do not depend on reach's own clients.

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use hickory_proto::{
    op::{Edns, Message, MessageType, OpCode, Query, ResponseCode},
    rr::{Name, RData, RecordType},
};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject as _};
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _},
    net::{TcpListener, TcpStream, UdpSocket},
    time::timeout,
};

use crate::{Lab, http};

/// Upper bound for any single exchange with the lab in these tests.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn start() -> Lab {
    Lab::start().expect("lab starts")
}

// ---------------------------------------------------------------- DNS

fn query(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::new(0x4c4c, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    message
}

/// One UDP exchange; `None` when no reply came within `wait`.
async fn udp_exchange(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    wait: Duration,
) -> Option<Message> {
    send_udp(server, &query(name, rtype), wait).await
}

async fn send_udp(server: SocketAddr, message: &Message, wait: Duration) -> Option<Message> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let bytes = message.to_vec().expect("encode");
    socket.send_to(&bytes, server).await.expect("send");
    let mut buf = vec![0_u8; 4096];
    let (len, _) = timeout(wait, socket.recv_from(&mut buf))
        .await
        .ok()?
        .expect("recv");
    Some(Message::from_vec(&buf[..len]).expect("decode"))
}

pub(crate) async fn udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    udp_exchange(server, name, rtype, IO_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no DNS reply for {name} {rtype}"))
}

fn answers(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.ttl, r.data))
        .collect()
}

#[tokio::test]
async fn dns_zone_answers() {
    let lab = start();
    let dns = lab.dns;

    let good = udp(dns, "good.lab.test.", RecordType::A).await;
    assert_eq!(good.metadata.response_code, ResponseCode::NoError);
    assert!(good.metadata.authoritative);
    assert_eq!(answers(&good), ["good.lab.test. 300 127.0.0.1"]);
    let good6 = udp(dns, "GOOD.lab.test.", RecordType::AAAA).await;
    assert_eq!(good6.answers.len(), 1);
    assert!(matches!(good6.answers[0].data, RData::AAAA(a) if a.0 == Ipv6Addr::LOCALHOST));

    let v4only6 = udp(dns, "v4only.lab.test.", RecordType::AAAA).await;
    assert_eq!(v4only6.metadata.response_code, ResponseCode::NoError);
    assert!(v4only6.answers.is_empty(), "{:?}", answers(&v4only6));
    assert_eq!(v4only6.authorities.len(), 1, "NODATA carries the SOA");

    let alias = udp(dns, "alias.lab.test.", RecordType::A).await;
    assert_eq!(alias.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        answers(&alias),
        [
            "alias.lab.test. 60 alias2.lab.test.",
            "alias2.lab.test. 60 good.lab.test.",
            "good.lab.test. 300 127.0.0.1",
        ]
    );

    let dangling = udp(dns, "dangling.lab.test.", RecordType::A).await;
    assert_eq!(dangling.metadata.response_code, ResponseCode::NXDomain);
    assert!(dangling.metadata.authoritative);
    assert_eq!(
        answers(&dangling),
        ["dangling.lab.test. 300 missing.lab.test."]
    );
    assert_eq!(dangling.authorities.len(), 1);
    assert_eq!(dangling.authorities[0].record_type(), RecordType::SOA);
    // Resolvers send EDNS; the hand-built NXDOMAIN must echo it like the catalog does.
    let mut with_edns = query("dangling.lab.test.", RecordType::AAAA);
    with_edns.set_edns(Edns::new());
    let dangling_edns = send_udp(dns, &with_edns, IO_TIMEOUT).await.expect("reply");
    assert_eq!(dangling_edns.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(dangling_edns.answers.len(), 1);
    assert!(dangling_edns.edns.is_some(), "EDNS echoed");
    let dangling_cname = udp(dns, "dangling.lab.test.", RecordType::CNAME).await;
    assert_eq!(dangling_cname.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        answers(&dangling_cname),
        ["dangling.lab.test. 300 missing.lab.test."]
    );

    for rtype in [RecordType::A, RecordType::AAAA] {
        let nodata = udp(dns, "nodata.lab.test.", rtype).await;
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
    }
    let txt = udp(dns, "nodata.lab.test.", RecordType::TXT).await;
    assert_eq!(answers(&txt), ["nodata.lab.test. 300 x"]);

    for rtype in [RecordType::A, RecordType::AAAA, RecordType::TXT] {
        let servfail = udp(dns, "servfail.lab.test.", rtype).await;
        assert_eq!(servfail.metadata.response_code, ResponseCode::ServFail);
    }

    let missing = udp(dns, "nope.lab.test.", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert!(missing.answers.is_empty());
    let outside = udp(dns, "example.com.", RecordType::A).await;
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);

    let silence = udp_exchange(
        dns,
        "timeout.lab.test.",
        RecordType::A,
        Duration::from_millis(300),
    )
    .await;
    assert!(
        silence.is_none(),
        "timeout.lab.test must not be answered: {silence:?}"
    );
    // The server is still alive after dropping a query.
    assert_eq!(
        udp(dns, "good.lab.test.", RecordType::A)
            .await
            .answers
            .len(),
        1
    );
}

#[tokio::test]
async fn dns_over_tcp_on_the_same_port() {
    let lab = start();
    let mut stream = timeout(IO_TIMEOUT, TcpStream::connect(lab.dns))
        .await
        .expect("in time")
        .expect("connect");
    let bytes = query("alias.lab.test.", RecordType::AAAA)
        .to_vec()
        .expect("encode");
    let len = u16::try_from(bytes.len()).expect("small");
    stream.write_all(&len.to_be_bytes()).await.expect("write");
    stream.write_all(&bytes).await.expect("write");
    let mut len = [0_u8; 2];
    timeout(IO_TIMEOUT, stream.read_exact(&mut len))
        .await
        .expect("in time")
        .expect("read");
    let mut reply = vec![0_u8; usize::from(u16::from_be_bytes(len))];
    timeout(IO_TIMEOUT, stream.read_exact(&mut reply))
        .await
        .expect("in time")
        .expect("read");
    let reply = Message::from_vec(&reply).expect("decode");
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 3);
    assert_eq!(reply.answers[2].record_type(), RecordType::AAAA);
}

/// The DNS listener relies on accepted sockets inheriting `TCP_NODELAY` from the listener,
/// because hickory does the accepting. Check that this kernel does that.
#[tokio::test]
async fn accepted_sockets_inherit_nodelay_from_the_listener() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    socket2::SockRef::from(&listener)
        .set_tcp_nodelay(true)
        .expect("nodelay");
    let addr = listener.local_addr().expect("addr");
    let _client = TcpStream::connect(addr).await.expect("connect");
    let (accepted, _) = listener.accept().await.expect("accept");
    assert!(accepted.nodelay().expect("getsockopt"));
}

// ---------------------------------------------------------------- HTTP

/// Sends a raw request with `Connection: close` and returns the whole response as text.
async fn raw_http<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, request: &str) -> String {
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

async fn get(addr: SocketAddr, path: &str, extra_headers: &str) -> String {
    let stream = TcpStream::connect(addr).await.expect("connect");
    raw_http(
        stream,
        &format!("GET {path} HTTP/1.1\r\nHost: good.lab.test:{}\r\n{extra_headers}Connection: close\r\n\r\n", addr.port()),
    )
    .await
}

fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or_default()
}

fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, body)| body)
}

fn location(response: &str) -> Option<&str> {
    response.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("location").then(|| value.trim())
    })
}

#[tokio::test]
async fn http_routes_over_raw_tcp() {
    let lab = start();
    let http = lab.http;

    let status = get(http, "/status/404", "").await;
    assert_eq!(status_line(&status), "HTTP/1.1 404 Not Found");

    let root = get(http, "/", "").await;
    assert_eq!(status_line(&root), "HTTP/1.1 200 OK");
    assert_eq!(body(&root), "reach lab\n");

    for bad in ["/status/99", "/status/600", "/status/abc", "/redirect/-1"] {
        assert_eq!(
            status_line(&get(http, bad, "").await),
            "HTTP/1.1 400 Bad Request",
            "{bad}"
        );
    }
    assert_eq!(
        status_line(&get(http, "/status/503", "").await),
        "HTTP/1.1 503 Service Unavailable"
    );
    assert_eq!(
        status_line(&get(http, "/nope", "").await),
        "HTTP/1.1 404 Not Found"
    );

    assert_eq!(
        location(&get(http, "/redirect/2", "").await),
        Some("/redirect/1")
    );
    assert_eq!(
        location(&get(http, "/redirect/0", "").await),
        Some("/status/200")
    );
    assert_eq!(location(&get(http, "/loop/a", "").await), Some("/loop/b"));
    assert_eq!(location(&get(http, "/loop/b", "").await), Some("/loop/a"));

    let headers = get(
        http,
        "/headers",
        "X-Reach-Test: one\r\nX-Reach-Test: two\r\n",
    )
    .await;
    let json: serde_json::Value = serde_json::from_str(body(&headers)).expect("json");
    assert_eq!(json["x-reach-test"], "one, two");
    assert_eq!(json["host"], format!("good.lab.test:{}", http.port()));

    let stream = TcpStream::connect(http).await.expect("connect");
    let method = raw_http(
        stream,
        "DELETE /method HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(body(&method), "DELETE");
    assert_eq!(body(&get(http, "/version", "").await), "HTTP/1.1");

    let big = get(http, "/big", "").await;
    assert_eq!(body(&big).len(), http::BIG_BODY_LEN);

    if let Some(http6) = lab.http6 {
        assert_eq!(body(&get(http6, "/", "").await), "reach lab\n");
    }
}

#[tokio::test]
async fn reflect_echoes_the_request_raw_encoded_and_in_base64() {
    let lab = start();
    let response = get(lab.http, "/reflect", "Cookie: sid=s3cr3t; a=b\r\n").await;
    let header = |name: &str| {
        response.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let all = format!(
        "host: good.lab.test:{}, cookie: sid=s3cr3t; a=b, connection: close",
        lab.http.port()
    );
    assert_eq!(header("x-echo").as_deref(), Some(all.as_str()));
    assert_eq!(
        header("x-echo-base64"),
        Some(super::http::base64(all.as_bytes()))
    );
    assert_eq!(super::http::base64(b"user:pass"), "dXNlcjpwYXNz");
    assert_eq!(super::http::base64(b"ab"), "YWI=");
    let location = location(&response).expect("a Location");
    assert!(
        location.starts_with("/status/200?echo=host%3A+good.lab.test%3A"),
        "{location}"
    );
    assert!(
        location.contains("cookie%3A+sid%3Ds3cr3t%3B+a%3Db"),
        "{location}"
    );
}

#[tokio::test]
async fn downgrade_keeps_the_host_and_uses_the_plain_port() {
    let lab = start();
    let stream = TcpStream::connect(lab.http).await.expect("connect");
    let response = raw_http(
        stream,
        "GET /downgrade HTTP/1.1\r\nHost: alias.lab.test:8443\r\nConnection: close\r\n\r\n",
    )
    .await;
    let expected = format!("http://alias.lab.test:{}/status/200", lab.http.port());
    assert_eq!(location(&response), Some(expected.as_str()));

    assert_eq!(http::host_part("[::1]:443"), "[::1]");
    assert_eq!(http::host_part("[::1]"), "[::1]");
    assert_eq!(http::host_part("good.lab.test"), "good.lab.test");
    assert_eq!(http::host_part("127.0.0.1:1"), "127.0.0.1");
}

#[test]
fn status_validation() {
    assert_eq!(http::parse_status("100").map(|s| s.as_u16()), Some(100));
    assert_eq!(http::parse_status("599").map(|s| s.as_u16()), Some(599));
    for bad in ["99", "600", "", "20x", "-200", "65536", "+200 "] {
        assert_eq!(http::parse_status(bad), None, "{bad}");
    }
}

// ---------------------------------------------------------------- TLS

fn tls_connector(lab: &Lab, alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    // Read the CA back from the file, as reach will.
    let ca = CertificateDer::from_pem_file(&lab.ca_pem_path).expect("CA PEM parses");
    assert_eq!(
        CertificateDer::from_pem_slice(lab.ca_pem().as_bytes()).expect("CA PEM text"),
        ca
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).expect("CA accepted");
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test]
async fn https_negotiates_h2_and_http1_with_the_lab_ca() {
    let lab = start();

    // HTTP/2 via ALPN, SNI good.lab.test.
    let connector = tls_connector(&lab, &[b"h2", b"http/1.1"]);
    let tcp = TcpStream::connect(lab.https).await.expect("connect");
    let name = ServerName::try_from("good.lab.test").expect("name");
    let tls = timeout(IO_TIMEOUT, connector.connect(name, tcp))
        .await
        .expect("in time")
        .expect("handshake");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .expect("h2 handshake");
    tokio::spawn(connection);
    let request = hyper::Request::get(format!(
        "https://good.lab.test:{}/version",
        lab.https.port()
    ))
    .body(Empty::<Bytes>::new())
    .expect("request");
    let response = timeout(IO_TIMEOUT, sender.send_request(request))
        .await
        .expect("in time")
        .expect("response");
    assert_eq!(response.status(), 200);
    let version = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    assert_eq!(&version[..], b"HTTP/2");

    // HTTP/1.1 via ALPN, for every name and the IP address in the leaf.
    for host in [
        "alias.lab.test",
        "v4only.lab.test",
        "localhost",
        "127.0.0.1",
    ] {
        let connector = tls_connector(&lab, &[b"http/1.1"]);
        let tcp = TcpStream::connect(lab.https).await.expect("connect");
        let name = ServerName::try_from(host.to_owned()).expect("name");
        let tls = timeout(IO_TIMEOUT, connector.connect(name, tcp))
            .await
            .expect("in time")
            .expect("handshake");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let response = raw_http(
            tls,
            "GET /version HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert_eq!(body(&response), "HTTP/1.1", "{host}");
    }

    // A name the leaf does not cover is rejected.
    let connector = tls_connector(&lab, &[b"http/1.1"]);
    let tcp = TcpStream::connect(lab.https).await.expect("connect");
    let name = ServerName::try_from("nodata.lab.test").expect("name");
    assert!(
        timeout(IO_TIMEOUT, connector.connect(name, tcp))
            .await
            .expect("in time")
            .is_err()
    );
}

// ---------------------------------------------------------------- misbehaving ports

#[tokio::test]
async fn refused_dropping_and_silent_ports() {
    let lab = start();

    let refused = timeout(IO_TIMEOUT, TcpStream::connect(lab.refused))
        .await
        .expect("in time");
    assert_eq!(
        refused.expect_err("refused").kind(),
        std::io::ErrorKind::ConnectionRefused
    );

    let started = Instant::now();
    let dropping = timeout(Duration::from_millis(500), TcpStream::connect(lab.dropping)).await;
    assert!(
        dropping.is_err(),
        "connect to the dropping port must time out: {dropping:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(500));

    let mut silent = timeout(IO_TIMEOUT, TcpStream::connect(lab.silent))
        .await
        .expect("in time")
        .expect("accepted");
    let mut buf = [0_u8; 16];
    let read = timeout(Duration::from_millis(300), silent.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "the silent port must not send anything: {read:?}"
    );
}

#[tokio::test]
async fn drop_is_prompt_with_a_pending_slow_request() {
    let lab = start();
    let mut stream = TcpStream::connect(lab.http).await.expect("connect");
    stream
        .write_all(b"GET /slow-headers HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut silent = TcpStream::connect(lab.silent).await.expect("connect");
    // Let the server pick the request up, then stop the lab under it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ca_path = lab.ca_pem_path.clone();
    let started = Instant::now();
    drop(lab);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(!ca_path.exists(), "the CA file is deleted with the lab");

    // Both connections were closed by the shutdown rather than left hanging.
    let mut buf = Vec::new();
    let read = timeout(IO_TIMEOUT, stream.read_to_end(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        read.is_err() || buf.is_empty(),
        "no response to /slow-headers: {buf:?}"
    );
    let read = timeout(IO_TIMEOUT, silent.read_to_end(&mut buf))
        .await
        .expect("closed in time");
    assert!(read.is_err() || buf.is_empty());
}

#[test]
fn labs_start_and_stop_from_plain_threads() {
    // The e2e tests are blocking #[test]s; two labs side by side must not collide.
    let a = start();
    let b = start();
    assert_ne!(a.dns, b.dns);
    assert_ne!(a.http, b.http);
    assert!(a.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_ne!(a.ca_pem(), b.ca_pem());
    if let Some(http6) = a.http6 {
        assert_eq!(http6.ip(), Ipv6Addr::LOCALHOST);
    }
}

#[test]
fn lab_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Lab>();
}
