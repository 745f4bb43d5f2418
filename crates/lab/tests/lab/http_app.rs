//! The HTTP app's routes on `http`, `http6` and `https`, over raw HTTP/1.1 and hyper's HTTP/2
//! client, with the lab CA as the only root.

use std::{net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject as _};
use tokio::{
    io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _},
    time::timeout,
};

use reach_lab::Lab;

use crate::support::{IO_TIMEOUT, connect, start, unbase64};

/// The size of the `/big` body: 4 MiB.
const BIG_BODY_LEN: usize = 4 * 1024 * 1024;

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
    let stream = connect(addr).await;
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

    let stream = connect(http).await;
    let method = raw_http(
        stream,
        "DELETE /method HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(body(&method), "DELETE");
    assert_eq!(body(&get(http, "/version", "").await), "HTTP/1.1");

    let big = get(http, "/big", "").await;
    assert_eq!(body(&big).len(), BIG_BODY_LEN);

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
    let base64 = header("x-echo-base64").expect("x-echo-base64");
    assert!(
        base64
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"+/=".contains(&c)),
        "standard alphabet: {base64}"
    );
    assert_eq!(base64.len() % 4, 0, "padded: {base64}");
    assert_eq!(unbase64(&base64), all.as_bytes());
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
    let stream = connect(lab.http).await;
    let response = raw_http(
        stream,
        "GET /downgrade HTTP/1.1\r\nHost: alias.lab.test:8443\r\nConnection: close\r\n\r\n",
    )
    .await;
    let expected = format!("http://alias.lab.test:{}/status/200", lab.http.port());
    assert_eq!(location(&response), Some(expected.as_str()));

    // An IPv6 literal keeps its brackets, with or without a port.
    for (host, expected) in [
        ("[::1]:443", "[::1]"),
        ("[::1]", "[::1]"),
        ("good.lab.test", "good.lab.test"),
        ("127.0.0.1:1", "127.0.0.1"),
    ] {
        let stream = connect(lab.http).await;
        let response = raw_http(
            stream,
            &format!("GET /downgrade HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        )
        .await;
        let port = if expected == "[::1]" {
            lab.http6.unwrap_or(lab.http).port()
        } else {
            lab.http.port()
        };
        let expected = format!("http://{expected}:{port}/status/200");
        assert_eq!(location(&response), Some(expected.as_str()), "{host}");
    }
}

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
    let tcp = connect(lab.https).await;
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
        let tcp = connect(lab.https).await;
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
    let tcp = connect(lab.https).await;
    let name = ServerName::try_from("nodata.lab.test").expect("name");
    assert!(
        timeout(IO_TIMEOUT, connector.connect(name, tcp))
            .await
            .expect("in time")
            .is_err()
    );
}
