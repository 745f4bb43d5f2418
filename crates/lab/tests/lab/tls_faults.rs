//! The TLS servers with certificate and protocol faults (expired, not yet valid, self-signed,
//! untrusted root, incomplete and huge chains, client authentication, interception, alert and
//! legacy-version servers), checked with a rustls client and x509-parser.

use std::{
    io,
    net::SocketAddr,
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

use crate::support::{IO_TIMEOUT, connect, start};

/// The `caIssuers` URI in the `incomplete_chain` leaf's Authority Information Access.
const AIA_CA_ISSUERS_URI: &str = "http://pki.lab.test/intermediate.crt";
/// What the `alert` server answers: a fatal `handshake_failure` alert record.
const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(crate) fn roots_from_pem(path: &Path) -> RootCertStore {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(path).expect("CA PEM"))
        .expect("CA accepted");
    roots
}

/// A client trusting `roots`, ALPN `http/1.1`.
pub(crate) fn client_config(roots: RootCertStore) -> ClientConfig {
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
    addr: SocketAddr,
    config: ClientConfig,
    sni: &str,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
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
pub(crate) async fn get_version<S>(mut stream: S) -> io::Result<String>
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
async fn sent_chain(addr: SocketAddr) -> Vec<CertificateDer<'static>> {
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
    assert_eq!(aia, [format!("1.3.6.1.5.5.7.48.2 {AIA_CA_ISSUERS_URI}")]);

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

    let mut alert = connect(tls.alert).await;
    alert.write_all(&hello).await.expect("write");
    let mut reply = Vec::new();
    timeout(IO_TIMEOUT, alert.read_to_end(&mut reply))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(reply, HANDSHAKE_FAILURE_ALERT);
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
        let mut legacy = connect(addr).await;
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
