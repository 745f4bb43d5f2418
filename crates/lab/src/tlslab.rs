//! The TLS failure-mode servers ([`TlsLab`]): the HTTP app behind broken or unusual
//! certificates, a mandatory client-certificate server, and two raw-TCP servers that answer a
//! `ClientHello` with a fatal alert or a TLS 1.0/1.1 `ServerHello`.

use std::{
    io,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use anyhow::Context as _;
use rustls::{
    RootCertStore, ServerConfig,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, PrivateKeyDer},
    server::{WebPkiClientVerifier, danger::ClientCertVerifier},
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
};
use tokio_rustls::TlsAcceptor;

use crate::{
    UNBOUND, http,
    pki::{Identity, Pki, TlsPki},
    raw,
};

/// The fatal `handshake_failure` alert record the `alert` server answers with.
pub(crate) const HANDSHAKE_FAILURE_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28];
/// Most of the first record the raw servers read.
const RECORD_LIMIT: usize = 16 * 1024;
/// How long the raw servers wait for the first record; they answer anyway after that.
const RECORD_TIMEOUT: Duration = Duration::from_secs(2);
/// How long the legacy servers keep the connection open after their `ServerHello`.
const LEGACY_HOLD: Duration = Duration::from_secs(2);

/// TLS servers with certificate and protocol problems, all on `127.0.0.1`. See the
/// [crate docs](crate#tls-servers-labtls) for the table.
///
/// Unless noted, each serves the same HTTP app as [`Lab::https`](crate::Lab::https) (ALPN `h2`
/// and `http/1.1`) with a leaf for the same names as the `https` leaf (`good.lab.test`,
/// `alias.lab.test`, `v4only.lab.test`, `localhost`, IP `127.0.0.1`).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct TlsLab {
    /// Leaf issued by the lab CA, valid from 400 days ago until yesterday.
    pub expired: SocketAddr,
    /// Leaf issued by the lab CA, valid from 2 days from now for a year.
    pub not_yet_valid: SocketAddr,
    /// Leaf issued by the lab CA, valid from yesterday until 5 days from now.
    pub expiring_soon: SocketAddr,
    /// A self-signed leaf (its own issuer, not a CA).
    pub self_signed: SocketAddr,
    /// Leaf ← intermediate ← `CN=Untrusted Root CA` (not the lab CA); sends leaf + intermediate.
    pub untrusted_root: SocketAddr,
    /// Leaf issued by `CN=Lab Intermediate CA` (issued by the lab CA), sent alone, with an AIA
    /// `caIssuers` URI `http://pki.lab.test/intermediate.crt`.
    pub incomplete_chain: SocketAddr,
    /// Leaf issued by `CN=Lab Intermediate CA`; sends leaf + intermediate.
    pub full_chain: SocketAddr,
    /// Requires a client certificate issued by the lab CA (the `https` leaf otherwise).
    pub client_auth: SocketAddr,
    /// A client certificate issued by the lab CA (PEM), accepted by `client_auth`.
    pub client_cert_path: PathBuf,
    /// The private key of `client_cert_path` (PKCS#8 PEM).
    pub client_key_path: PathBuf,
    /// A self-signed client certificate (PEM), rejected by `client_auth`.
    pub wrong_client_cert_path: PathBuf,
    /// The private key of `wrong_client_cert_path` (PKCS#8 PEM).
    pub wrong_client_key_path: PathBuf,
    /// Leaf issued by a CA with the subject `CN=Zscaler Root CA, O=Zscaler Inc., OU=Zscaler
    /// Inc.`, like a TLS-intercepting corporate proxy.
    pub intercepted: SocketAddr,
    /// That intercepting CA's certificate (PEM), for tests that trust it like a corporate machine.
    pub intercept_ca_pem_path: PathBuf,
    /// Raw TCP: reads the `ClientHello` record, answers a fatal `handshake_failure` alert
    /// (`15 03 03 00 02 02 28`) and closes.
    pub alert: SocketAddr,
    /// Raw TCP: answers any `ClientHello` with a `ServerHello` that picks TLS 1.0 (`03 01`) and
    /// `TLS_RSA_WITH_AES_128_CBC_SHA`, then `ServerHelloDone`; holds the connection up to 2 s.
    pub legacy: SocketAddr,
    /// Like `legacy`, but the `ServerHello` picks TLS 1.1 (`03 02`).
    pub legacy11: SocketAddr,
    /// App; the `https` leaf followed by copies of the lab CA certificate, 80 KiB
    /// or more in all: a `Certificate` message larger than the 64 KiB TLS clients accept.
    pub huge_chain: SocketAddr,
}

/// Least size of the certificates `huge_chain` sends.
pub(crate) const HUGE_CHAIN_BYTES: usize = 80 * 1024;

impl TlsLab {
    /// Writes the client certificates, keys and the intercepting CA into `dir`. The addresses
    /// are placeholders until the servers are bound.
    pub(crate) fn write_files(dir: &Path, pki: &TlsPki) -> anyhow::Result<Self> {
        let write = |file: &str, contents: &str| -> anyhow::Result<PathBuf> {
            let path = dir.join(file);
            std::fs::write(&path, contents).with_context(|| format!("writing {file}"))?;
            Ok(path)
        };
        Ok(Self {
            expired: UNBOUND,
            not_yet_valid: UNBOUND,
            expiring_soon: UNBOUND,
            self_signed: UNBOUND,
            untrusted_root: UNBOUND,
            incomplete_chain: UNBOUND,
            full_chain: UNBOUND,
            client_auth: UNBOUND,
            client_cert_path: write("client.pem", &pki.client_cert_pem)?,
            client_key_path: write("client-key.pem", &pki.client_key_pem)?,
            wrong_client_cert_path: write("wrong-client.pem", &pki.wrong_client_cert_pem)?,
            wrong_client_key_path: write("wrong-client-key.pem", &pki.wrong_client_key_pem)?,
            intercepted: UNBOUND,
            intercept_ca_pem_path: write("intercept-ca.pem", &pki.intercept_ca_pem)?,
            alert: UNBOUND,
            legacy: UNBOUND,
            legacy11: UNBOUND,
            huge_chain: UNBOUND,
        })
    }
}

/// Every rustls server configuration of the lab, built before the runtime starts.
pub(crate) struct TlsConfigs {
    pub(crate) https: Arc<ServerConfig>,
    expired: Arc<ServerConfig>,
    not_yet_valid: Arc<ServerConfig>,
    expiring_soon: Arc<ServerConfig>,
    self_signed: Arc<ServerConfig>,
    untrusted_root: Arc<ServerConfig>,
    incomplete_chain: Arc<ServerConfig>,
    full_chain: Arc<ServerConfig>,
    client_auth: Arc<ServerConfig>,
    intercepted: Arc<ServerConfig>,
    huge_chain: Arc<ServerConfig>,
}

impl TlsConfigs {
    pub(crate) fn new(pki: &Pki) -> anyhow::Result<Self> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = &pki.tls;
        let of = |identity: &Identity| {
            server_config(&provider, identity.chain.clone(), &identity.key, None).map(Arc::new)
        };

        let mut roots = RootCertStore::empty();
        roots
            .add(tls.lab_ca_der.clone())
            .context("the lab CA as client-certificate root")?;
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider))
                .build()
                .context("the client-certificate verifier")?;

        Ok(Self {
            https: Arc::new(server_config(
                &provider,
                vec![pki.leaf_der.clone()],
                &pki.leaf_key,
                None,
            )?),
            expired: of(&tls.expired)?,
            not_yet_valid: of(&tls.not_yet_valid)?,
            expiring_soon: of(&tls.expiring_soon)?,
            self_signed: of(&tls.self_signed)?,
            untrusted_root: of(&tls.untrusted_root)?,
            incomplete_chain: of(&tls.incomplete_chain)?,
            full_chain: of(&tls.full_chain)?,
            client_auth: Arc::new(server_config(
                &provider,
                vec![pki.leaf_der.clone()],
                &pki.leaf_key,
                Some(verifier),
            )?),
            intercepted: of(&tls.intercepted)?,
            huge_chain: Arc::new(server_config(
                &provider,
                huge_chain(pki),
                &pki.leaf_key,
                None,
            )?),
        })
    }
}

/// The `https` leaf, then the lab CA certificate again and again, [`HUGE_CHAIN_BYTES`] or more.
fn huge_chain(pki: &Pki) -> Vec<CertificateDer<'static>> {
    let mut chain = vec![pki.leaf_der.clone()];
    let mut bytes = pki.leaf_der.len();
    while bytes < HUGE_CHAIN_BYTES {
        bytes += pki.tls.lab_ca_der.len();
        chain.push(pki.tls.lab_ca_der.clone());
    }
    chain
}

/// A rustls server configuration: ring provider only, safe default protocol versions, ALPN `h2`
/// then `http/1.1`, and a mandatory client certificate when a verifier is given.
fn server_config(
    provider: &Arc<CryptoProvider>,
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'static>,
    client_verifier: Option<Arc<dyn ClientCertVerifier>>,
) -> anyhow::Result<ServerConfig> {
    let builder = ServerConfig::builder_with_provider(Arc::clone(provider))
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let builder = match client_verifier {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key.clone_key())
        .context("TLS server certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Binds and spawns every [`TlsLab`] server; returns `template` with the addresses filled in.
/// Runs inside the lab runtime.
pub(crate) async fn start(
    configs: &TlsConfigs,
    app: &Arc<http::App>,
    mut lab: TlsLab,
) -> anyhow::Result<TlsLab> {
    let serve = |config: &Arc<ServerConfig>| AppServer {
        app: Arc::clone(app),
        acceptor: TlsAcceptor::from(Arc::clone(config)),
    };
    lab.expired = bind_app("TLS expired", serve(&configs.expired)).await?;
    lab.not_yet_valid = bind_app("TLS not-yet-valid", serve(&configs.not_yet_valid)).await?;
    lab.expiring_soon = bind_app("TLS expiring-soon", serve(&configs.expiring_soon)).await?;
    lab.self_signed = bind_app("TLS self-signed", serve(&configs.self_signed)).await?;
    lab.untrusted_root = bind_app("TLS untrusted-root", serve(&configs.untrusted_root)).await?;
    lab.incomplete_chain =
        bind_app("TLS incomplete-chain", serve(&configs.incomplete_chain)).await?;
    lab.full_chain = bind_app("TLS full-chain", serve(&configs.full_chain)).await?;
    lab.client_auth = bind_app("TLS client-auth", serve(&configs.client_auth)).await?;
    lab.intercepted = bind_app("TLS intercepted", serve(&configs.intercepted)).await?;
    lab.huge_chain = bind_app("TLS huge-chain", serve(&configs.huge_chain)).await?;

    lab.alert = bind_raw("TLS alert", RawMode::Alert).await?;
    lab.legacy = bind_raw("TLS 1.0", RawMode::Legacy { minor: 1 }).await?;
    lab.legacy11 = bind_raw("TLS 1.1", RawMode::Legacy { minor: 2 }).await?;
    Ok(lab)
}

/// The HTTP app behind one TLS acceptor.
struct AppServer {
    app: Arc<http::App>,
    acceptor: TlsAcceptor,
}

async fn bind_app(what: &str, server: AppServer) -> anyhow::Result<SocketAddr> {
    let listener = crate::bind_v4_loopback(what).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(http::serve_tls(listener, server.app, server.acceptor));
    Ok(addr)
}

async fn bind_raw(what: &str, mode: RawMode) -> anyhow::Result<SocketAddr> {
    let listener = crate::bind_v4_loopback(what).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(serve_raw(listener, mode));
    Ok(addr)
}

#[derive(Clone, Copy)]
enum RawMode {
    /// Fatal `handshake_failure` alert.
    Alert,
    /// A `ServerHello` choosing TLS 1.`minor - 1` (`03 01` is TLS 1.0, `03 02` TLS 1.1).
    Legacy { minor: u8 },
}

async fn serve_raw(listener: TcpListener, mode: RawMode) {
    loop {
        let Some(stream) = http::accept(&listener).await else {
            continue;
        };
        tokio::spawn(raw_connection(stream, mode));
    }
}

async fn raw_connection(mut stream: TcpStream, mode: RawMode) {
    if !read_first_record(&mut stream).await {
        return;
    }
    match mode {
        RawMode::Alert => {
            if stream.write_all(&HANDSHAKE_FAILURE_ALERT).await.is_ok() {
                raw::close_gracefully(stream).await;
            }
        }
        RawMode::Legacy { minor } => {
            let mut random = [0_u8; 32];
            // Any bytes do; if the system RNG fails, zeros are still a well-formed hello.
            let _ = rustls::crypto::ring::default_provider()
                .secure_random
                .fill(&mut random);
            if stream
                .write_all(&legacy_server_hello(minor, &random))
                .await
                .is_ok()
            {
                // The client decides: a modern one sends an alert and closes; a probe may
                // read and go. Either way the connection ends within LEGACY_HOLD.
                raw::drain(&mut stream, LEGACY_HOLD).await;
            }
        }
    }
}

/// Reads the client's first TLS record (its `ClientHello`), at most [`RECORD_LIMIT`] bytes and
/// [`RECORD_TIMEOUT`]. `false` when the client closed or failed before completing it; after
/// the timeout (a client that sent too little) the server answers anyway.
async fn read_first_record(stream: &mut TcpStream) -> bool {
    let read = async {
        let mut header = [0_u8; 5];
        stream.read_exact(&mut header).await?;
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0_u8; len.min(RECORD_LIMIT - header.len())];
        stream.read_exact(&mut body).await?;
        io::Result::Ok(())
    };
    !matches!(tokio::time::timeout(RECORD_TIMEOUT, read).await, Ok(Err(_)))
}

/// One handshake record (version `03 01`) with a `ServerHello` choosing protocol `03 {minor}`,
/// `TLS_RSA_WITH_AES_128_CBC_SHA` (`00 2f`), null compression and no extensions, followed by a
/// `ServerHelloDone`.
pub(crate) fn legacy_server_hello(minor: u8, random: &[u8; 32]) -> Vec<u8> {
    // `ServerHello` body: version (2) + random (32) + session id length (1) + suite (2) +
    // compression (1) = 38 bytes.
    let mut handshake = vec![0x02, 0x00, 0x00, 38, 0x03, minor];
    handshake.extend_from_slice(random);
    handshake.extend_from_slice(&[0x00, 0x00, 0x2f, 0x00]);
    handshake.extend_from_slice(&[0x0e, 0x00, 0x00, 0x00]);
    let len = u16::try_from(handshake.len())
        .unwrap_or(u16::MAX)
        .to_be_bytes();
    let mut record = vec![0x16, 0x03, 0x01, len[0], len[1]];
    record.extend_from_slice(&handshake);
    record
}

#[cfg(test)]
mod tests {
    use super::legacy_server_hello;
    use crate::pki::aia_ca_issuers;

    #[test]
    fn legacy_hello_and_der_encoding() {
        let hello = legacy_server_hello(1, &[7; 32]);
        assert_eq!(hello.len(), 51);
        assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), 46);
        assert_eq!(hello[6..9], [0, 0, 38]);
        assert_eq!(hello[11..43], [7; 32]);
        let ext = aia_ca_issuers(&"u".repeat(200));
        // Long-form lengths: SEQUENCE (216) { SEQUENCE (213) { OID (8), [6] (200) } }.
        assert_eq!(ext.content()[..6], [0x30, 0x81, 216, 0x30, 0x81, 213]);
        assert_eq!(ext.content()[16..19], [0x86, 0x81, 200]);
    }
}
