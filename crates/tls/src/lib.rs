//! The TLS phase of reach: a rustls handshake on a stream the TCP (or
//! proxy) phase produced, with the presented chain captured even when
//! verification fails, and rustls errors mapped to finding codes.
//!
//! Trust decisions come from rustls-platform-verifier (the system store)
//! plus `--ca-file`; the crypto provider is ring.
//!
//! ```no_run
//! # async fn demo(stream: tokio::net::TcpStream) -> Result<(), reach_tls::Error> {
//! use std::time::Duration;
//! let tls = reach_tls::Tls::new(&reach_tls::TlsConfig::default())?;
//! let input = reach_tls::TlsProbe {
//!     server_name: "example.com".into(),
//!     alpn: vec!["h2".into(), "http/1.1".into()],
//!     timeout: Duration::from_secs(5),
//!     expiry_warn_days: 14,
//! };
//! let outcome = reach_tls::probe(&tls, &input, stream).await;
//! println!("{:?}", outcome.phase.version);
//! # Ok(()) }
//! ```

mod certs;
pub mod classify;
mod error;
pub mod legacy;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reach_report::endpoint::TlsPhase;
use reach_report::{Code, Finding, elapsed_ms as ms};
use rustls::client::ResolvesClientCert;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub use certs::describe;
pub use error::Error;

/// Where trust and client identity come from.
#[derive(Debug, Clone, Default)]
pub struct TlsConfig {
    /// Extra trusted roots, PEM files (`--ca-file`, repeatable).
    pub ca_files: Vec<PathBuf>,
    /// Client certificate chain, PEM (`--client-cert`).
    pub client_cert: Option<PathBuf>,
    /// Client private key, PEM (`--client-key`).
    pub client_key: Option<PathBuf>,
}

/// A prepared TLS client: build once, share between checks.
#[derive(Debug, Clone)]
pub struct Tls {
    base: Arc<ClientConfig>,
    verifier: Arc<dyn ServerCertVerifier>,
}

/// The crypto provider reach uses everywhere: ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Tls {
    pub fn new(config: &TlsConfig) -> Result<Self, Error> {
        let provider = provider();
        let mut extra = Vec::new();
        for path in &config.ca_files {
            extra.extend(read_certs(path, "--ca-file")?);
        }
        let platform = rustls_platform_verifier::Verifier::new_with_extra_roots(
            extra.clone(),
            provider.clone(),
        );
        let verifier: Arc<dyn ServerCertVerifier> = if let Ok(v) = platform {
            Arc::new(v)
        } else {
            // A machine without a system store (a bare container): fall
            // back to the Mozilla roots so public sites still verify.
            let mut roots = rustls::RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            for cert in extra {
                roots.add(cert)?;
            }
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| Error::Config(rustls::Error::General(e.to_string())))?
        };
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let base = match (&config.client_cert, &config.client_key) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let chain = read_certs(cert, "--client-cert")?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| Error::Pem {
                    path: key.clone(),
                    reason: format!("no usable private key: {e}"),
                })?;
                builder.with_client_auth_cert(chain, key)?
            }
            _ => return Err(Error::ClientPair),
        };
        Ok(Tls {
            base: Arc::new(base),
            verifier,
        })
    }
}

fn read_certs(path: &PathBuf, what: &'static str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        what,
        path: path.clone(),
        source,
    })?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            path: path.clone(),
            reason: format!("not a PEM certificate file: {e}"),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            path: path.clone(),
            reason: "no CERTIFICATE block found".to_owned(),
        });
    }
    Ok(certs)
}

/// One handshake to make.
#[derive(Debug, Clone)]
pub struct TlsProbe {
    /// The host name (SNI and verification) or IP address.
    pub server_name: String,
    /// ALPN protocols to offer, in preference order.
    pub alpn: Vec<String>,
    pub timeout: Duration,
    /// Warn when the leaf expires within this many days.
    pub expiry_warn_days: i64,
}

/// What the TLS phase produced.
#[derive(Debug)]
pub struct TlsOutcome<S> {
    pub phase: TlsPhase,
    /// The encrypted stream, when the handshake succeeded and verified.
    pub stream: Option<TlsStream<S>>,
    pub findings: Vec<Finding>,
    /// The server refused TLS 1.2 and 1.3: [`legacy::probe`] on a new
    /// connection tells which version it wants.
    pub version_refused: bool,
}

/// Notes whether the server asked for a client certificate, and whether one
/// was given, then lets the configured resolver answer.
#[derive(Debug)]
struct Asked {
    inner: Arc<dyn ResolvesClientCert>,
    requested: AtomicBool,
    sent: AtomicBool,
}

impl ResolvesClientCert for Asked {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        self.requested.store(true, Ordering::Relaxed);
        let key = self.inner.resolve(root_hint_subjects, sigschemes);
        self.sent.store(key.is_some(), Ordering::Relaxed);
        key
    }

    fn has_certs(&self) -> bool {
        self.inner.has_certs()
    }
}

/// Records the presented chain, then lets the real verifier decide.
#[derive(Debug)]
struct Capturing {
    inner: Arc<dyn ServerCertVerifier>,
    seen: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Capturing {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            seen.clear();
            seen.push(end_entity.clone().into_owned());
            seen.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Performs the handshake on `stream`. Never takes longer than
/// `input.timeout`; every failure is a finding.
pub async fn probe<S>(tls: &Tls, input: &TlsProbe, stream: S) -> TlsOutcome<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    let bare = reach_report::unbracket(&input.server_name);
    let is_ip = bare.parse::<std::net::IpAddr>().is_ok();
    let mut phase = TlsPhase {
        sni: (!is_ip).then(|| bare.to_owned()),
        alpn_offered: input.alpn.clone(),
        ..TlsPhase::default()
    };
    let mut findings = Vec::new();
    let server_name = match ServerName::try_from(bare.to_owned()) {
        Ok(n) => n,
        Err(e) => {
            findings.push(Finding::new(
                Code::TlsHandshakeFailed,
                format!("`{bare}` cannot be used as a TLS server name: {e}"),
            ));
            phase.duration_ms = ms(started);
            return TlsOutcome {
                phase,
                stream: None,
                findings,
                version_refused: false,
            };
        }
    };
    let capture = Arc::new(Capturing {
        inner: tls.verifier.clone(),
        seen: Mutex::new(Vec::new()),
    });
    let mut config = (*tls.base).clone();
    config.dangerous().set_certificate_verifier(capture.clone());
    let asked = Arc::new(Asked {
        inner: config.client_auth_cert_resolver.clone(),
        requested: AtomicBool::new(false),
        sent: AtomicBool::new(false),
    });
    config.client_auth_cert_resolver = asked.clone();
    config.alpn_protocols = input.alpn.iter().map(|p| p.as_bytes().to_vec()).collect();
    // A resumed session skips certificate verification, and with it the
    // chain capture: every handshake reach makes is a full one.
    config.resumption = rustls::client::Resumption::disabled();
    let connector = TlsConnector::from(Arc::new(config));
    let result = tokio::time::timeout(input.timeout, connector.connect(server_name, stream)).await;
    phase.duration_ms = ms(started);
    let chain = capture.seen.lock().map(|s| s.clone()).unwrap_or_default();
    phase.chain = chain.iter().map(|c| certs::describe(c)).collect();
    phase.client_cert_requested = asked.requested.load(Ordering::Relaxed);
    phase.client_cert_sent = asked.sent.load(Ordering::Relaxed);
    let mut version_refused = false;
    let stream = match result {
        Err(_) => {
            findings.push(
                Finding::new(
                    Code::TlsHandshakeFailed,
                    format!(
                        "the TLS handshake with {bare} did not finish within {:?}",
                        input.timeout
                    ),
                )
                .with("reason", "timeout"),
            );
            None
        }
        Ok(Err(io)) => {
            let finding = match classify::find_rustls_error(&io) {
                Some(error) => {
                    version_refused = classify::is_version_refusal(error);
                    classify::finding(error, bare, &phase)
                }
                None if io.kind() == std::io::ErrorKind::UnexpectedEof => Finding::new(
                    Code::TlsHandshakeFailed,
                    format!(
                        "{bare} closed the connection during the TLS handshake, before a complete answer: \
                         not a TLS service on this port, or a filter that drops TLS"
                    ),
                )
                .with("reason", io.to_string()),
                None => Finding::new(
                    Code::TlsHandshakeFailed,
                    format!("the TLS handshake with {bare} failed: {io}"),
                )
                .with("reason", io.to_string()),
            };
            findings.push(finding);
            None
        }
        Ok(Ok(stream)) => {
            let (_, conn) = stream.get_ref();
            phase.verified = true;
            phase.version = conn.protocol_version().map(version_name);
            phase.cipher = conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .map(str::to_owned);
            phase.alpn = conn
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned());
            if let Some(leaf) = phase.chain.first()
                && leaf.days_left <= input.expiry_warn_days
            {
                findings.push(
                    Finding::new(
                        Code::TlsCertExpiringSoon,
                        format!(
                            "the certificate of {bare} expires in {} days ({})",
                            leaf.days_left, leaf.not_after
                        ),
                    )
                    .with("not_after", &leaf.not_after)
                    .with("days_left", leaf.days_left),
                );
            }
            Some(stream)
        }
    };
    findings.extend(classify::intercepted(bare, &phase));
    TlsOutcome {
        phase,
        stream,
        findings,
        version_refused,
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_3 => "TLS 1.3".to_owned(),
        rustls::ProtocolVersion::TLSv1_2 => "TLS 1.2".to_owned(),
        rustls::ProtocolVersion::TLSv1_1 => "TLS 1.1".to_owned(),
        rustls::ProtocolVersion::TLSv1_0 => "TLS 1.0".to_owned(),
        other => format!("{other:?}"),
    }
}
