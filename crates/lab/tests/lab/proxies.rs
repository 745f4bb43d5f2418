//! The HTTP forward proxies: CONNECT tunnels, absolute-form forwarding, loopback-only
//! destinations, authentication, refusal and silent close.

use std::{net::SocketAddr, sync::Arc};

use rustls::pki_types::ServerName;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    time::timeout,
};

use crate::{
    support::{IO_TIMEOUT, connect, start},
    tls_faults::{client_config, get_version, roots_from_pem},
};

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

/// CONNECT through `proxy`; returns the stream after a 200, or the whole refusal.
pub(crate) async fn connect_through(
    proxy: SocketAddr,
    target: &str,
    extra_headers: &str,
) -> Result<TcpStream, String> {
    let mut stream = connect(proxy).await;
    let request = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra_headers}\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let established = b"HTTP/1.1 200 Connection established\r\n\r\n";
    let mut head = vec![0_u8; established.len()];
    let read = timeout(IO_TIMEOUT, stream.read_exact(&mut head))
        .await
        .expect("in time");
    if read.is_ok() && head == established {
        return Ok(stream);
    }
    let mut rest = Vec::new();
    let _ = timeout(IO_TIMEOUT, stream.read_to_end(&mut rest)).await;
    head.extend(rest);
    Err(String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test]
async fn open_proxy_tunnels_and_forwards_to_the_lab_only() {
    let lab = start();
    let open = lab.proxy.open;

    let target = format!("good.lab.test:{}", lab.http.port());
    let tunnel = connect_through(open, &target, "").await.expect("tunnel");
    let response = get_version(tunnel).await.expect("response");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("HTTP/1.1"), "{response}");

    // TLS through the tunnel to the https port, by IP literal.
    let tunnel = connect_through(open, &format!("127.0.0.1:{}", lab.https.port()), "")
        .await
        .expect("tunnel");
    let name = ServerName::try_from("good.lab.test").expect("name");
    let tls =
        tokio_rustls::TlsConnector::from(Arc::new(client_config(roots_from_pem(&lab.ca_pem_path))))
            .connect(name, tunnel)
            .await
            .expect("TLS through the tunnel");
    assert!(
        get_version(tls)
            .await
            .expect("response")
            .ends_with("HTTP/1.1")
    );

    for forbidden in [
        "example.com:443",
        "10.0.0.1:80",
        "127.0.0.2:80",
        "[2001:db8::1]:443",
        "lab.test.example.com:80",
    ] {
        let refusal = connect_through(open, forbidden, "")
            .await
            .expect_err(forbidden);
        assert!(
            refusal.starts_with("HTTP/1.1 403 Forbidden"),
            "{forbidden}: {refusal}"
        );
    }
    let refused = connect_through(open, &format!("localhost:{}", lab.refused.port()), "")
        .await
        .expect_err("refused");
    assert!(refused.starts_with("HTTP/1.1 502"), "{refused}");

    // Absolute-form forwarding, with the proxy's own headers stripped.
    let response = exchange(
        open,
        &format!(
            "GET http://alias.lab.test:{}/headers HTTP/1.1\r\nHost: alias.lab.test\r\nProxy-Connection: keep-alive\r\nX-Kept: yes\r\nConnection: close\r\n\r\n",
            lab.http.port()
        ),
    )
    .await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    let body = response.split_once("\r\n\r\n").expect("body").1;
    let json: serde_json::Value = serde_json::from_str(body).expect("json");
    assert_eq!(json["x-kept"], "yes");
    assert!(json.get("proxy-connection").is_none(), "{json}");
    let outside = exchange(
        open,
        "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
    )
    .await;
    assert!(outside.starts_with("HTTP/1.1 403 Forbidden"), "{outside}");

    for garbage in [
        "hello\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET https://good.lab.test/ HTTP/1.1\r\n\r\n",
        "CONNECT good.lab.test HTTP/1.1\r\n\r\n",
        "GET http://good.lab.test/ HTTP/1.1\r\nbad header\r\n\r\n",
    ] {
        let response = exchange(open, garbage).await;
        assert!(
            response.starts_with("HTTP/1.1 400 Bad Request"),
            "{garbage:?}: {response}"
        );
    }
    let huge = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(70_000));
    assert!(exchange(open, &huge).await.starts_with("HTTP/1.1 431"));
}

#[tokio::test]
async fn auth_deny_and_close_proxies() {
    let lab = start();
    let target = format!("good.lab.test:{}", lab.http.port());

    for creds in ["", "Proxy-Authorization: Basic dXNlcjp3cm9uZw==\r\n"] {
        let refusal = connect_through(lab.proxy.auth, &target, creds)
            .await
            .expect_err("407");
        assert!(
            refusal.starts_with("HTTP/1.1 407 Proxy Authentication Required\r\n"),
            "{refusal}"
        );
        assert!(
            refusal.contains("\r\nProxy-Authenticate: Basic realm=\"lab\"\r\n"),
            "{refusal}"
        );
    }
    let tunnel = connect_through(
        lab.proxy.auth,
        &target,
        "Proxy-Authorization: basic dXNlcjpwYXNz\r\n",
    )
    .await
    .expect("200 with credentials");
    assert!(
        get_version(tunnel)
            .await
            .expect("response")
            .ends_with("HTTP/1.1")
    );

    let denied = exchange(
        lab.proxy.deny,
        &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
    )
    .await;
    assert!(denied.starts_with("HTTP/1.1 403 Forbidden\r\n"), "{denied}");
    let (head, body) = denied.split_once("\r\n\r\n").expect("head");
    assert!(
        head.contains(&format!("\r\nContent-Length: {}\r\n", body.len())),
        "{denied}"
    );
    let closed = exchange(
        lab.proxy.close,
        &format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"),
    )
    .await;
    assert_eq!(closed, "", "EOF without a response");
}
