//! Checks of the TLS failure servers, the proxies and the hostile servers, with plain sockets
//! and a rustls client.

use std::{
    io,
    path::Path,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime, pem::PemObject as _},
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
    time::timeout,
};
use tokio_rustls::client::TlsStream;
use x509_parser::{
    certificate::X509Certificate,
    extensions::{GeneralName, ParsedExtension},
    prelude::FromDer as _,
};

use crate::{Lab, hostile, pki, proxy, tlslab};

/// Upper bound for any single exchange with the lab in these tests.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

fn start() -> Lab {
    Lab::start().expect("lab starts")
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn roots_from_pem(path: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(path).expect("CA PEM"))
        .expect("CA accepted");
    roots
}

fn client_config(roots: RootCertStore) -> ClientConfig {
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

fn client_config_with_cert(roots: RootCertStore, cert: &Path, key: &Path) -> ClientConfig {
    let chain = CertificateDer::pem_file_iter(cert)
        .expect("cert file")
        .collect::<Result<Vec<_>, _>>()
        .expect("cert PEM");
    let key = PrivateKeyDer::from_pem_file(key).expect("key PEM");
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .expect("client cert");
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config
}

async fn handshake(
    addr: std::net::SocketAddr,
    config: ClientConfig,
    sni: &str,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    let name = ServerName::try_from(sni.to_owned()).expect("name");
    timeout(
        IO_TIMEOUT,
        tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp),
    )
    .await
    .expect("handshake in time")
}

fn rustls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

fn cert_error(result: io::Result<TlsStream<TcpStream>>) -> CertificateError {
    let error = result.expect_err("handshake must fail");
    match rustls_error(&error) {
        Some(rustls::Error::InvalidCertificate(e)) => e.clone(),
        other => panic!("not a certificate error: {error} / {other:?}"),
    }
}

/// GET /version over an established stream, `Connection: close`; the whole response.
async fn get_version<S>(mut stream: S) -> io::Result<String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    stream
        .write_all(b"GET /version HTTP/1.1\r\nHost: good.lab.test\r\nConnection: close\r\n\r\n")
        .await?;
    let mut response = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("response in time")?;
    Ok(String::from_utf8_lossy(&response).into_owned())
}

/// Accepts any server certificate and records the chain the server sent.
#[derive(Debug)]
struct ChainRecorder {
    provider: Arc<CryptoProvider>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for ChainRecorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut chain = vec![end_entity.clone().into_owned()];
        chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        *self.chain.lock().expect("lock") = chain;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// The certificates a server sends (leaf first), without verifying them.
async fn sent_chain(addr: std::net::SocketAddr) -> Vec<CertificateDer<'static>> {
    let recorder = Arc::new(ChainRecorder {
        provider: provider(),
        chain: Mutex::new(Vec::new()),
    });
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::clone(&recorder) as Arc<dyn ServerCertVerifier>)
        .with_no_client_auth();
    handshake(addr, config, "good.lab.test")
        .await
        .expect("handshake without verification");
    recorder.chain.lock().expect("lock").clone()
}

fn parse<'a>(der: &'a CertificateDer<'_>) -> X509Certificate<'a> {
    X509Certificate::from_der(der).expect("X.509").1
}

// ---------------------------------------------------------------- TLS

#[tokio::test]
async fn tls_certificate_failures() {
    let lab = start();
    let lab_roots = || roots_from_pem(&lab.ca_pem_path);
    let tls = &lab.tls;

    let expired =
        cert_error(handshake(tls.expired, client_config(lab_roots()), "good.lab.test").await);
    assert!(
        matches!(
            expired,
            CertificateError::Expired | CertificateError::ExpiredContext { .. }
        ),
        "{expired:?}"
    );
    let future = cert_error(
        handshake(
            tls.not_yet_valid,
            client_config(lab_roots()),
            "good.lab.test",
        )
        .await,
    );
    assert!(
        matches!(
            future,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. }
        ),
        "{future:?}"
    );
    for (what, addr) in [
        ("self_signed", tls.self_signed),
        ("untrusted_root", tls.untrusted_root),
        ("incomplete_chain", tls.incomplete_chain),
        ("intercepted", tls.intercepted),
    ] {
        let error = cert_error(handshake(addr, client_config(lab_roots()), "localhost").await);
        assert_eq!(error, CertificateError::UnknownIssuer, "{what}");
    }
}

#[tokio::test]
async fn tls_certificates_that_verify() {
    let lab = start();
    let tls = &lab.tls;
    for (what, addr) in [
        ("expiring_soon", tls.expiring_soon),
        ("full_chain", tls.full_chain),
    ] {
        for name in ["good.lab.test", "v4only.lab.test", "127.0.0.1"] {
            let stream = handshake(addr, client_config(roots_from_pem(&lab.ca_pem_path)), name)
                .await
                .unwrap_or_else(|e| panic!("{what} {name}: {e}"));
            let response = get_version(stream).await.expect("response");
            assert!(response.ends_with("\r\n\r\nHTTP/1.1"), "{what}: {response}");
        }
    }
    // A corporate machine trusts the intercepting CA.
    let stream = handshake(
        tls.intercepted,
        client_config(roots_from_pem(&tls.intercept_ca_pem_path)),
        "alias.lab.test",
    )
    .await
    .expect("intercepted handshake with the intercept CA trusted");
    assert!(
        get_version(stream)
            .await
            .expect("response")
            .starts_with("HTTP/1.1 200")
    );
}

#[tokio::test]
async fn tls_certificates_and_chains_as_sent() {
    let lab = start();
    let tls = &lab.tls;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let day = 86_400;

    let expired = sent_chain(tls.expired).await;
    assert_eq!(expired.len(), 1);
    let validity = parse(&expired[0]).validity().clone();
    assert!((now - validity.not_before.timestamp() - 400 * day).abs() < 60);
    assert!((now - validity.not_after.timestamp() - day).abs() < 60);

    let soon = sent_chain(tls.expiring_soon).await;
    let not_after = parse(&soon[0]).validity().not_after.timestamp();
    assert!((not_after - now - 5 * day).abs() < 60);

    let future = sent_chain(tls.not_yet_valid).await;
    let not_before = parse(&future[0]).validity().not_before.timestamp();
    assert!((not_before - now - 2 * day).abs() < 60);

    let self_signed = sent_chain(tls.self_signed).await;
    assert_eq!(self_signed.len(), 1);
    let cert = parse(&self_signed[0]);
    assert_eq!(cert.subject(), cert.issuer());
    assert!(!cert.is_ca());

    let untrusted = sent_chain(tls.untrusted_root).await;
    assert_eq!(untrusted.len(), 2, "leaf + intermediate");
    assert_eq!(
        parse(&untrusted[1]).issuer().to_string(),
        "CN=Untrusted Root CA"
    );

    let incomplete = sent_chain(tls.incomplete_chain).await;
    assert_eq!(incomplete.len(), 1, "the leaf alone");
    let leaf = parse(&incomplete[0]);
    assert_eq!(leaf.issuer().to_string(), "CN=Lab Intermediate CA");
    let aia: Vec<String> = leaf
        .extensions()
        .iter()
        .filter_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => Some(aia),
            _ => None,
        })
        .flat_map(|aia| aia.accessdescs.iter())
        .map(|desc| match &desc.access_location {
            GeneralName::URI(uri) => format!("{} {uri}", desc.access_method),
            other => format!("{} {other:?}", desc.access_method),
        })
        .collect();
    assert_eq!(
        aia,
        [format!("1.3.6.1.5.5.7.48.2 {}", pki::AIA_CA_ISSUERS_URI)]
    );

    let full = sent_chain(tls.full_chain).await;
    assert_eq!(full.len(), 2);
    let intermediate = parse(&full[1]);
    assert_eq!(intermediate.subject().to_string(), "CN=Lab Intermediate CA");
    assert_eq!(
        intermediate.issuer().to_string(),
        "O=reach lab, CN=reach lab CA"
    );
    assert!(intermediate.is_ca());

    let intercepted = sent_chain(tls.intercepted).await;
    let zscaler = "CN=Zscaler Root CA, O=Zscaler Inc., OU=Zscaler Inc.";
    assert_eq!(parse(&intercepted[0]).issuer().to_string(), zscaler);
    let ca = CertificateDer::from_pem_file(&tls.intercept_ca_pem_path).expect("PEM");
    assert_eq!(parse(&ca).subject().to_string(), zscaler);
}

#[tokio::test]
async fn tls_client_auth() {
    let lab = start();
    let tls = &lab.tls;
    let roots = || roots_from_pem(&lab.ca_pem_path);

    let good = client_config_with_cert(roots(), &tls.client_cert_path, &tls.client_key_path);
    let stream = handshake(tls.client_auth, good, "good.lab.test")
        .await
        .expect("handshake with the client certificate");
    let response = get_version(stream).await.expect("response");
    assert!(response.ends_with("HTTP/1.1"), "{response}");

    let wrong = client_config_with_cert(
        roots(),
        &tls.wrong_client_cert_path,
        &tls.wrong_client_key_path,
    );
    for (what, config) in [("no cert", client_config(roots())), ("wrong cert", wrong)] {
        // TLS 1.3: the client's handshake completes before the server checks the certificate,
        // so the refusal shows on the first read.
        let outcome = match handshake(tls.client_auth, config, "good.lab.test").await {
            Ok(stream) => get_version(stream).await,
            Err(e) => Err(e),
        };
        let error = outcome.expect_err(what);
        assert!(
            matches!(rustls_error(&error), Some(rustls::Error::AlertReceived(_))),
            "{what}: {error}"
        );
    }
}

#[tokio::test]
async fn tls_alert_and_legacy_servers() {
    let lab = start();
    let tls = &lab.tls;
    // A minimal (bogus) handshake record is enough for the raw servers.
    let hello = [0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x00, 0x00, 0x00];

    let mut alert = TcpStream::connect(tls.alert).await.expect("connect");
    alert.write_all(&hello).await.expect("write");
    let mut reply = Vec::new();
    timeout(IO_TIMEOUT, alert.read_to_end(&mut reply))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(reply, tlslab::HANDSHAKE_FAILURE_ALERT);
    let error = handshake(
        tls.alert,
        client_config(RootCertStore::empty()),
        "localhost",
    )
    .await
    .expect_err("alert");
    assert!(
        matches!(
            rustls_error(&error),
            Some(rustls::Error::AlertReceived(
                rustls::AlertDescription::HandshakeFailure
            ))
        ),
        "{error}"
    );

    for (addr, minor) in [(tls.legacy, 1), (tls.legacy11, 2)] {
        let mut legacy = TcpStream::connect(addr).await.expect("connect");
        legacy.write_all(&hello).await.expect("write");
        let mut reply = [0_u8; 51];
        timeout(IO_TIMEOUT, legacy.read_exact(&mut reply))
            .await
            .expect("in time")
            .expect("read");
        assert_eq!(reply[..5], [0x16, 0x03, 0x01, 0x00, 46]);
        assert_eq!(reply[5], 2, "ServerHello");
        assert_eq!(reply[9..11], [0x03, minor], "server_version");
        assert_eq!(reply[43], 0, "no session id");
        assert_eq!(reply[44..47], [0x00, 0x2f, 0x00], "suite, compression");
        assert_eq!(reply[47..], [0x0e, 0, 0, 0], "ServerHelloDone");
        // A modern client refuses.
        let started = Instant::now();
        let error = handshake(addr, client_config(RootCertStore::empty()), "localhost")
            .await
            .expect_err("legacy");
        assert!(
            matches!(
                rustls_error(&error),
                Some(rustls::Error::PeerIncompatible(_))
            ),
            "{error}"
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn legacy_hello_and_der_encoding() {
    let hello = tlslab::legacy_server_hello(1, &[7; 32]);
    assert_eq!(hello.len(), 51);
    assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), 46);
    assert_eq!(hello[6..9], [0, 0, 38]);
    assert_eq!(hello[11..43], [7; 32]);
    let ext = pki::aia_ca_issuers(&"u".repeat(200));
    // Long-form lengths: SEQUENCE (216) { SEQUENCE (213) { OID (8), [6] (200) } }.
    assert_eq!(ext.content()[..6], [0x30, 0x81, 216, 0x30, 0x81, 213]);
    assert_eq!(ext.content()[16..19], [0x86, 0x81, 200]);
}

// ---------------------------------------------------------------- proxies

/// Sends `request` and returns everything until the server closes.
async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("closed in time")
        .expect("read");
    String::from_utf8_lossy(&response).into_owned()
}

/// CONNECT through `proxy`; returns the stream after a 200, or the whole refusal.
async fn connect(
    proxy: std::net::SocketAddr,
    target: &str,
    extra_headers: &str,
) -> Result<TcpStream, String> {
    let mut stream = TcpStream::connect(proxy).await.expect("connect");
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
    let tunnel = connect(open, &target, "").await.expect("tunnel");
    let response = get_version(tunnel).await.expect("response");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("HTTP/1.1"), "{response}");

    // TLS through the tunnel to the https port, by IP literal.
    let tunnel = connect(open, &format!("127.0.0.1:{}", lab.https.port()), "")
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
        let refusal = connect(open, forbidden, "").await.expect_err(forbidden);
        assert!(
            refusal.starts_with("HTTP/1.1 403 Forbidden"),
            "{forbidden}: {refusal}"
        );
    }
    let refused = connect(open, &format!("localhost:{}", lab.refused.port()), "")
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
        let refusal = connect(lab.proxy.auth, &target, creds)
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
    let tunnel = connect(
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

#[test]
fn proxy_destination_rules() {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let v4 = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    for host in [
        "localhost",
        "LOCALHOST.",
        "good.lab.test",
        "x.y.Lab.Test.",
        "127.0.0.1",
    ] {
        assert_eq!(proxy::allowed_destination(host), v4, "{host}");
    }
    assert_eq!(
        proxy::allowed_destination("[::1]"),
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
        assert_eq!(proxy::allowed_destination(host), None, "{host}");
    }
    assert_eq!(proxy::split_authority("[::1]:443"), Some(("[::1]", 443)));
    assert_eq!(proxy::split_authority("a:0"), None);
    assert_eq!(proxy::split_authority("::1:443"), None);
    assert_eq!(
        proxy::absolute_http_target("HTTP://a.lab.test:8080?x=1#f"),
        Some(("a.lab.test:8080", "/?x=1".to_owned()))
    );
    assert_eq!(proxy::absolute_http_target("http://u:p@a/"), None);
}

// ---------------------------------------------------------------- hostile servers

async fn hostile_connect(addr: std::net::SocketAddr) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
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
    assert_eq!(huge.len(), 17 + 8 + hostile::HUGE_HEADER_LEN + 4);

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
    let mut quiet = TcpStream::connect(hostile.trickle).await.expect("connect");
    let mut buf = [0_u8; 1];
    assert!(
        timeout(Duration::from_millis(300), quiet.read(&mut buf))
            .await
            .is_err()
    );
}

#[tokio::test]
async fn drop_is_prompt_with_busy_tunnels_and_hostile_clients() {
    let lab = start();
    let mut trickle = hostile_connect(lab.hostile.trickle).await;
    let mut endless = hostile_connect(lab.hostile.endless_body).await; // never read
    let mut tunnel = connect(
        lab.proxy.open,
        &format!("localhost:{}", lab.silent.port()),
        "",
    )
    .await
    .expect("tunnel");
    let mut legacy = TcpStream::connect(lab.tls.legacy).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let files = [
        lab.tls.client_cert_path.clone(),
        lab.tls.intercept_ca_pem_path.clone(),
    ];
    assert!(files.iter().all(|f| f.exists()));

    let started = Instant::now();
    drop(lab);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(files.iter().all(|f| !f.exists()), "files deleted");
    for (what, stream) in [
        ("trickle", &mut trickle),
        ("endless", &mut endless),
        ("tunnel", &mut tunnel),
        ("legacy", &mut legacy),
    ] {
        let mut sink = Vec::new();
        let read = timeout(IO_TIMEOUT, stream.read_to_end(&mut sink)).await;
        assert!(read.is_ok(), "{what} closed by the shutdown");
    }
}
