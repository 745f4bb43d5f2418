//! The bare loop of `cargo xtask bench cpu`: the least a Rust client does
//! for one full-handshake HTTPS check, the yardstick of reach's CPU per
//! check. TCP connect (`TCP_NODELAY`), a rustls (ring) handshake verified
//! against the given CA (webpki), `GET` with `Connection: close`, the
//! response read to its end; `--checks` times, `--concurrency` at once, on
//! tokio's multi-thread runtime (what reach runs on).
//!
//! Its own binary, so that the bench measures its CPU as it measures
//! reach's and curl's: the bench builds it with `cargo build --release`
//! (xtask itself is a debug build), so rustls, ring and tokio are as
//! optimized here as in reach.
//!
//! ```text
//! bare-loop --addr 127.0.0.1:PORT --host NAME --ca CA.pem --checks N --concurrency C
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::TlsConnector;

struct Args {
    addr: SocketAddr,
    host: String,
    ca: PathBuf,
    checks: usize,
    concurrency: usize,
}

fn parse() -> anyhow::Result<Args> {
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 443)),
        host: String::new(),
        ca: PathBuf::new(),
        checks: 0,
        concurrency: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().context("a flag without a value")?;
        match flag.as_str() {
            "--addr" => args.addr = value.parse()?,
            "--host" => args.host = value,
            "--ca" => args.ca = value.into(),
            "--checks" => args.checks = value.parse()?,
            "--concurrency" => args.concurrency = value.parse()?,
            other => bail!("unknown flag {other}"),
        }
    }
    if !args.addr.ip().is_loopback() {
        bail!("the bare loop only connects to loopback addresses");
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Arc::new(parse()?);
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&args.ca)? {
        roots.add(cert?)?;
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    // A full handshake each time, as reach and `curl --no-sessionid` do.
    config.resumption = rustls::client::Resumption::disabled();
    let connector = TlsConnector::from(Arc::new(config));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..args.concurrency.max(1) {
        let (args, next, connector) = (args.clone(), next.clone(), connector.clone());
        workers.spawn(async move {
            let mut ok = 0usize;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= args.checks {
                    return Ok::<_, anyhow::Error>(ok);
                }
                if check(&args, &connector, i).await? {
                    ok += 1;
                }
            }
        });
    }
    let mut ok = 0;
    while let Some(done) = workers.join_next().await {
        ok += done??;
    }
    if ok != args.checks {
        bail!("{ok} of {} checks answered 200", args.checks);
    }
    Ok(())
}

/// One check: whether the server answered 200.
async fn check(args: &Args, connector: &TlsConnector, i: usize) -> anyhow::Result<bool> {
    let tcp = tokio::net::TcpStream::connect(args.addr).await?;
    tcp.set_nodelay(true)?;
    let name = ServerName::try_from(args.host.clone())?;
    let mut tls = connector.connect(name, tcp).await?;
    let request = format!(
        "GET /?check={i} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
        args.host,
        args.addr.port()
    );
    tls.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response).await?;
    Ok(response.starts_with(b"HTTP/1.1 200 "))
}
