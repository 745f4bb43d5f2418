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
pub use error::{Error, PemFile};

/// Where trust and client identity come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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
    /// The `--ca-file` certificates: one of them may be the server's own
    /// (a self-signed certificate trusted as its own CA).
    anchors: Arc<Vec<CertificateDer<'static>>>,
    /// The certificates described so far (see [`certs::Descriptions`]).
    described: Arc<certs::Descriptions>,
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
            extra.extend(read_certs(path, PemFile::Ca)?);
        }
        let anchors = extra.clone();
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
                let chain = read_certs(cert, PemFile::ClientCert)?;
                let key_pem = read_pem_file(key, PemFile::ClientKey)?;
                let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| Error::Pem {
                    file: PemFile::ClientKey,
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
            anchors: Arc::new(anchors),
            described: Arc::default(),
        })
    }
}

/// The most a PEM file (`--ca-file`, `--client-cert`, `--client-key`) may
/// hold: a bundle of every public root is under 300 KiB.
pub const PEM_FILE_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Reads a PEM file, bounded: a device, a folder or a socket is refused by
/// what it is (never read: `/dev/zero` would not end), and a file over
/// [`PEM_FILE_MAX_BYTES`] is refused.
fn read_pem_file(path: &PathBuf, file: PemFile) -> Result<Vec<u8>, Error> {
    use std::io::Read;
    use std::os::unix::fs::FileTypeExt;
    let fail = |reason: String| Error::Pem {
        file,
        path: path.clone(),
        reason,
    };
    let read_error = |source| Error::Read {
        file,
        path: path.clone(),
        source,
    };
    let kind = std::fs::metadata(path).map_err(read_error)?.file_type();
    let refused = if kind.is_dir() {
        Some("a folder")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        None
    };
    if let Some(what_it_is) = refused {
        return Err(fail(format!(
            "a {file} must be a PEM file, not {what_it_is}"
        )));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(PEM_FILE_MAX_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_error)?;
    if bytes.len() as u64 > PEM_FILE_MAX_BYTES {
        return Err(fail(format!(
            "larger than {} MiB: not a PEM file a {file} can be",
            PEM_FILE_MAX_BYTES / 1024 / 1024
        )));
    }
    Ok(bytes)
}

fn read_certs(path: &PathBuf, file: PemFile) -> Result<Vec<CertificateDer<'static>>, Error> {
    let bytes = read_pem_file(path, file)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Pem {
            file,
            path: path.clone(),
            reason: format!("not a PEM certificate file: {e}"),
        })?;
    if certs.is_empty() {
        return Err(Error::Pem {
            file,
            path: path.clone(),
            reason: "no CERTIFICATE block found".to_owned(),
        });
    }
    Ok(certs)
}

/// One handshake to make.
#[derive(Debug, Clone)]
pub struct TlsProbe {
    /// The host name (SNI and verification) or IP address (an IPv6
    /// address without its URL brackets).
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

/// Records the presented chain, then lets the real verifier decide, except
/// where OpenSSL and curl accept what webpki refuses (see [`Accepted`]).
#[derive(Debug)]
struct Capturing {
    inner: Arc<dyn ServerCertVerifier>,
    anchors: Arc<Vec<CertificateDer<'static>>>,
    seen: Mutex<Vec<CertificateDer<'static>>>,
    accepted: Mutex<Vec<Accepted>>,
}

/// A certificate webpki refuses and OpenSSL (so curl, `openssl s_client`)
/// accepts; reach agrees with OpenSSL and says so in a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Accepted {
    /// The server's certificate is itself in `--ca-file`, with CA:TRUE
    /// (what `openssl req -x509` makes).
    CaAsServerCert,
    /// The host is named only by the subject CN (no subjectAltName).
    NameOnlyInCommonName,
}

impl Capturing {
    /// Whether OpenSSL would accept the chain webpki refused with `error`.
    fn openssl_accepts(
        &self,
        error: &rustls::Error,
        end_entity: &CertificateDer<'_>,
        server_name: &ServerName<'_>,
        now: UnixTime,
    ) -> Vec<Accepted> {
        let rustls::Error::InvalidCertificate(cert_error) = error else {
            return Vec::new();
        };
        match cert_error {
            // webpki checks the chain before the name, so a name error
            // means the chain itself is trusted. That holds for the
            // verifiers reach uses on Linux: rustls-platform-verifier's is
            // webpki with the system roots, and so is the fallback.
            rustls::CertificateError::NotValidForName
            | rustls::CertificateError::NotValidForNameContext { .. } => {
                if cn_names(end_entity, server_name) {
                    vec![Accepted::NameOnlyInCommonName]
                } else {
                    Vec::new()
                }
            }
            _ if classify::is_ca_used_as_end_entity(cert_error)
                && self
                    .anchors
                    .iter()
                    .any(|a| a.as_ref() == end_entity.as_ref())
                && certs::valid_at(end_entity, now.as_secs()) =>
            {
                let by_san = webpki::EndEntityCert::try_from(end_entity)
                    .is_ok_and(|c| c.verify_is_valid_for_subject_name(server_name).is_ok());
                if by_san {
                    vec![Accepted::CaAsServerCert]
                } else if cn_names(end_entity, server_name) {
                    vec![Accepted::CaAsServerCert, Accepted::NameOnlyInCommonName]
                } else {
                    Vec::new()
                }
            }
            _ => Vec::new(),
        }
    }
}

/// OpenSSL's fallback: a certificate without subjectAltName names the host
/// when its Common Name does (a leading `*.` matches one label).
fn cn_names(cert: &CertificateDer<'_>, server_name: &ServerName<'_>) -> bool {
    let ServerName::DnsName(name) = server_name else {
        return false;
    };
    let Some((Some(cn), false)) = certs::common_name_and_sans(cert.as_ref()) else {
        return false;
    };
    let host = name.as_ref().trim_end_matches('.').to_ascii_lowercase();
    let cn = cn.trim_end_matches('.').to_ascii_lowercase();
    match cn.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
        None => host == cn,
    }
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
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Ok(verified) => Ok(verified),
            Err(error) => {
                let accepted = self.openssl_accepts(&error, end_entity, server_name, now);
                if accepted.is_empty() {
                    return Err(error);
                }
                if let Ok(mut notes) = self.accepted.lock() {
                    notes.extend(accepted);
                }
                Ok(ServerCertVerified::assertion())
            }
        }
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
    let bare = input.server_name.as_str();
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
        anchors: tls.anchors.clone(),
        seen: Mutex::new(Vec::new()),
        accepted: Mutex::new(Vec::new()),
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
    phase.chain = chain.iter().map(|c| tls.described.describe(c)).collect();
    phase.client_cert_requested = asked.requested.load(Ordering::Relaxed);
    phase.client_cert_sent = asked.sent.load(Ordering::Relaxed);
    let mut version_refused = false;
    let stream = match result {
        Err(_) => {
            findings.push(timed_out(bare, input.timeout, phase.duration_ms));
            None
        }
        Ok(Err(io)) => {
            let finding = match classify::find_rustls_error(&io) {
                Some(error) => {
                    version_refused = classify::is_version_refusal(error);
                    classify::finding(error, bare, &phase)
                }
                None => not_completed(&io, bare),
            };
            findings.push(finding);
            None
        }
        Ok(Ok(stream)) => {
            let accepted = capture
                .accepted
                .lock()
                .map(|a| a.clone())
                .unwrap_or_default();
            let top = chain.last();
            established(stream.get_ref().1, &mut phase);
            phase.public_root = top.map(|top| tls.described.ends_at_public_root(top));
            findings.extend(accepted.iter().map(|a| accepted_finding(*a, bare, &phase)));
            findings.extend(expiring(bare, &phase, input.expiry_warn_days));
            Some(stream)
        }
    };
    TlsOutcome {
        phase,
        stream,
        findings,
        version_refused,
    }
}

/// A server that took the connection and never finished the handshake.
fn timed_out(host: &str, timeout: Duration, waited_ms: f64) -> Finding {
    Finding::new(
        Code::TlsHandshakeFailed,
        format!(
            "{host} accepted the connection but did not complete the TLS handshake within {}",
            reach_report::seconds(timeout)
        ),
    )
    .with("reason", "timeout")
    .with("waited_ms", waited_ms)
    .with_remedy("The server (or a device in between) took the connection and never answered the TLS hello: check that this port really serves TLS, that no filter silently holds TLS traffic, and retry with a longer --timeout to tell a slow server from a hung one.")
}

/// A handshake that failed without a TLS error: the connection closed
/// early, or another I/O failure.
fn not_completed(io: &std::io::Error, host: &str) -> Finding {
    let message = if io.kind() == std::io::ErrorKind::UnexpectedEof {
        format!(
            "{host} closed the connection during the TLS handshake, before a complete answer: \
             not a TLS service on this port, or a filter that drops TLS"
        )
    } else {
        format!("the TLS handshake with {host} failed: {io}")
    };
    Finding::new(Code::TlsHandshakeFailed, message).with("reason", io.to_string())
}

/// What a completed handshake agreed on, into `phase`.
fn established(conn: &rustls::ClientConnection, phase: &mut TlsPhase) {
    phase.verified = true;
    phase.version = conn.protocol_version().map(version_name);
    phase.cipher = conn
        .negotiated_cipher_suite()
        .and_then(|s| s.suite().as_str())
        .map(str::to_owned);
    phase.alpn = conn
        .alpn_protocol()
        .map(|p| String::from_utf8_lossy(p).into_owned());
}

/// `tls.cert_expiring_soon` when the leaf expires within `warn_days`.
fn expiring(host: &str, phase: &TlsPhase, warn_days: i64) -> Option<Finding> {
    let leaf = phase.chain.first().filter(|l| l.days_left <= warn_days)?;
    Some(
        Finding::new(
            Code::TlsCertExpiringSoon,
            format!(
                "the certificate of {host} expires in {} ({})",
                reach_report::count(leaf.days_left.unsigned_abs(), "day", "days"),
                leaf.not_after
            ),
        )
        .with("not_after", &leaf.not_after)
        .with("days_left", leaf.days_left),
    )
}

/// The finding for a certificate reach accepted as OpenSSL does.
fn accepted_finding(accepted: Accepted, host: &str, phase: &TlsPhase) -> Finding {
    let subject = phase
        .chain
        .first()
        .map(|c| c.subject.as_str())
        .unwrap_or_default();
    match accepted {
        Accepted::CaAsServerCert => Finding::new(
            Code::TlsCaAsServerCert,
            format!(
                "the certificate of {host} ({subject}) is a CA certificate (basicConstraints CA:TRUE) trusted as its own CA by --ca-file: openssl and curl accept it, strict clients refuse it"
            ),
        )
        .with("subject", subject),
        Accepted::NameOnlyInCommonName => Finding::new(
            Code::TlsNameOnlyInCommonName,
            format!(
                "the certificate of {host} has no subjectAltName and names {host} only in its Common Name ({subject}): curl and OpenSSL accept it, browsers, Go and Python refuse it"
            ),
        )
        .with("subject", subject),
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
