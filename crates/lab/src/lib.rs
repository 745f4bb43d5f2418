//! `reach-lab`: an in-process loopback lab that `reach`'s end-to-end tests and `cargo xtask demo`
//! point the `reach` binary at.
//!
//! [`Lab::start`] brings up, on `127.0.0.1` (and `[::1]` where available), every server a test
//! needs, each on a port picked by the kernel, and returns once all of them are listening. The
//! lab runs its own multi-threaded tokio runtime on a background thread, so it can be used from
//! plain blocking `#[test]` functions (and from async ones: nothing in `start` or `drop` needs
//! to run inside a runtime). Dropping the [`Lab`] stops everything, with a bounded wait.
//!
//! Nothing here touches the network beyond loopback.
//!
//! # Endpoints ([`Lab`] fields)
//!
//! | field | what listens there |
//! |---|---|
//! | `dns` | authoritative DNS for `lab.test.`, UDP and TCP on the same port |
//! | `http` | the HTTP app, plain HTTP/1.1 (HTTP/2 with prior knowledge also works) |
//! | `http6` | the same app on `[::1]` (on the same port number as `http` when it was free), `None` without IPv6 loopback |
//! | `https` | the same app over TLS, ALPN `h2` and `http/1.1` |
//! | `refused` | nothing listens: connecting is refused (RST). The port is held by a bound, non-listening socket, so nothing else can take it while the lab lives |
//! | `dropping` | a listener whose accept queue is full, so SYNs are dropped and a connect times out |
//! | `silent` | accepts connections and never sends a byte (held until the lab is dropped) |
//!
//! `ca_pem_path` / [`Lab::ca_pem`] give the lab CA. The HTTPS leaf it issued is valid from
//! yesterday for one year, for the DNS names `good.lab.test`, `alias.lab.test`,
//! `v4only.lab.test`, `localhost` and the IP address `127.0.0.1`. The PKI is generated afresh
//! for every lab, so nothing can expire in the repository.
//!
//! # The `lab.test.` zone ([`ZONE`])
//!
//! TTL 300 unless noted. The zone also has the apex `SOA` (minimum 300) and `NS ns.lab.test.`,
//! with `ns.lab.test A 127.0.0.1`.
//!
//! | name | answer |
//! |---|---|
//! | `good.lab.test` | `A 127.0.0.1`, `AAAA ::1` |
//! | `v4only.lab.test` | `A 127.0.0.1`; `AAAA` is NODATA (NOERROR, empty answer, SOA in authority) |
//! | `alias.lab.test` | `CNAME alias2.lab.test` (TTL 60); an `A`/`AAAA` query gets the whole chain |
//! | `alias2.lab.test` | `CNAME good.lab.test` (TTL 60) |
//! | `dangling.lab.test` | `CNAME missing.lab.test`, which does not exist: rcode NXDOMAIN with the CNAME in the answer section and the SOA in authority (a `CNAME` query gets NOERROR with the CNAME) |
//! | `nodata.lab.test` | `TXT "x"` only; `A`/`AAAA` are NODATA |
//! | `servfail.lab.test` | rcode SERVFAIL for every type |
//! | `timeout.lab.test` | no reply ever (the query is dropped), so clients time out |
//! | anything else under `lab.test` | NXDOMAIN with the SOA in authority |
//!
//! Names outside the zone are REFUSED.
//!
//! # HTTP routes (on `http`, `http6` and `https`)
//!
//! | route | response |
//! |---|---|
//! | `/` | 200, `reach lab\n` |
//! | `/status/{code}` | that status with a short text body, for integers in 100..=599, else 400 (hyper cannot send a 1xx as a final response and answers 500 for those) |
//! | `/redirect/{n}` | 302 to `/redirect/{n-1}`; `/redirect/0` → 302 to `/status/200` |
//! | `/loop/a`, `/loop/b` | 302 to each other |
//! | `/downgrade` | 302 to `http://{host}:{port}/status/200`: the request's host name (Host header, or the HTTP/2 authority) on the plain `http` port (the `http6` port for an IPv6 literal) |
//! | `/headers` | 200, a JSON object of request header name (lowercase) → value (repeats joined by `, `) |
//! | `/method` | 200, the request method, e.g. `GET` |
//! | `/to?LOCATION` | 302 to the query string, verbatim (any URL, relative or absolute) |
//! | `/echo-header/{name}` | 200 with the request header's value in the response header `x-echo`; 400 without it |
//! | `/version` | 200, `HTTP/1.1` or `HTTP/2` |
//! | `/big` | 200 with a 4 MiB body |
//! | `/slow-headers` | waits 30 s before answering (cancelled when the lab is dropped) |
//! | anything else | 404 |
//!
//! Every accepted TCP socket has `TCP_NODELAY` set.
//!
//! # Example
//!
//! ```no_run
//! let lab = reach_lab::Lab::start()?;
//! let url = format!("http://{}/status/404", lab.http);
//! let dns = lab.dns; // point reach's --dns-server (or equivalent) here
//! # let _ = (url, dns);
//! # Ok::<(), anyhow::Error>(())
//! ```

mod dns;
mod http;
mod pki;
#[cfg(test)]
mod tests;

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream as StdTcpStream},
    path::PathBuf,
    sync::{Arc, mpsc},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use anyhow::{Context as _, anyhow};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::{net::TcpListener, sync::oneshot};

/// The lab's DNS zone (without the trailing dot).
pub const ZONE: &str = "lab.test";

/// How long [`Lab::start`] waits for the background runtime to bind everything.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// Grace given to the DNS server's own shutdown, then to the runtime's tasks.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);
/// How long [`Drop`] waits for the lab thread before detaching it.
const DROP_TIMEOUT: Duration = Duration::from_secs(5);
/// A connect to the `dropping` port that has not completed after this long counts as dropped.
const DROPPING_PROBE_TIMEOUT: Duration = Duration::from_millis(200);
/// Upper bound on clients used to fill the `dropping` accept queue (Linux needs one for
/// `listen(0)`; the bound only guards against a kernel that never fills up).
const DROPPING_MAX_CLIENTS: usize = 16;

/// A running lab. See the [crate docs](crate) for what each endpoint does.
///
/// Dropping it stops every server, closes every port and deletes the CA file. It is `Send` and
/// `Sync`, so one lab can be shared by several tests (e.g. in a `static LazyLock<Lab>`; a static
/// is never dropped, so its servers and CA file then live until the process exits).
pub struct Lab {
    /// Authoritative DNS for `lab.test.` on 127.0.0.1, UDP and TCP on the same port.
    pub dns: SocketAddr,
    /// The HTTP app, plain HTTP/1.1, on 127.0.0.1.
    pub http: SocketAddr,
    /// The same app on `[::1]`, when IPv6 loopback is available.
    pub http6: Option<SocketAddr>,
    /// The same app over TLS on 127.0.0.1, ALPN `h2` and `http/1.1`, leaf issued by the lab CA.
    pub https: SocketAddr,
    /// The lab CA certificate (PEM), in a temporary directory owned by the lab.
    pub ca_pem_path: PathBuf,
    /// A 127.0.0.1 port where nothing listens: connecting is refused. (Held by a bound,
    /// non-listening socket for the lab's life, so no other server can be given the port.)
    pub refused: SocketAddr,
    /// A 127.0.0.1 port whose SYNs are dropped: connecting times out.
    pub dropping: SocketAddr,
    /// Accepts TCP connections and never writes anything.
    pub silent: SocketAddr,

    ca_pem: String,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Keeps `ca_pem_path` alive; deleted on drop.
    _tempdir: tempfile::TempDir,
    /// Bound to `refused` but never listening, so the port stays ours and stays refusing.
    _refused_holder: Socket,
    /// The `dropping` listener (never accepted from) and the clients filling its queue.
    _dropping_listener: Socket,
    _dropping_clients: Vec<StdTcpStream>,
}

/// Addresses bound inside the runtime, sent back to [`Lab::start`].
struct RuntimeEndpoints {
    dns: SocketAddr,
    http: SocketAddr,
    http6: Option<SocketAddr>,
    https: SocketAddr,
    silent: SocketAddr,
}

impl Lab {
    /// Starts every server. When this returns, all endpoints are listening.
    pub fn start() -> anyhow::Result<Lab> {
        let pki = pki::generate()?;
        let tempdir = tempfile::Builder::new()
            .prefix("reach-lab-")
            .tempdir()
            .context("creating the lab temp dir")?;
        let ca_pem_path = tempdir.path().join("ca.pem");
        std::fs::write(&ca_pem_path, &pki.ca_pem).context("writing the lab CA PEM")?;
        let tls_config = Arc::new(tls_server_config(&pki)?);

        let (refused_holder, refused) = refused_port()?;
        let (dropping_listener, dropping, dropping_clients) = dropping_port()?;

        let (ready_tx, ready_rx) = mpsc::sync_channel(1);
        let (shutdown_tx, shutdown_rx) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("reach-lab".to_owned())
            .spawn(move || run_lab_thread(tls_config, &ready_tx, shutdown_rx))
            .context("spawning the lab thread")?;

        let mut lab = Lab {
            dns: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            http: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            http6: None,
            https: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ca_pem_path,
            refused,
            dropping,
            silent: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            ca_pem: pki.ca_pem,
            shutdown: Some(shutdown_tx),
            thread: Some(thread),
            _tempdir: tempdir,
            _refused_holder: refused_holder,
            _dropping_listener: dropping_listener,
            _dropping_clients: dropping_clients,
        };
        // From here on, an early return drops `lab`, which stops the thread.
        let endpoints = match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(result) => result?,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                return Err(anyhow!("the lab did not start within {START_TIMEOUT:?}"));
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(anyhow!("the lab thread exited during start-up"));
            }
        };
        lab.dns = endpoints.dns;
        lab.http = endpoints.http;
        lab.http6 = endpoints.http6;
        lab.https = endpoints.https;
        lab.silent = endpoints.silent;
        Ok(lab)
    }

    /// The lab CA certificate, PEM text (the content of `ca_pem_path`).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

impl std::fmt::Debug for Lab {
    // Only the endpoints: the internals (sockets, channels, PEM text) are noise in test output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lab")
            .field("dns", &self.dns)
            .field("http", &self.http)
            .field("http6", &self.http6)
            .field("https", &self.https)
            .field("ca_pem_path", &self.ca_pem_path)
            .field("refused", &self.refused)
            .field("dropping", &self.dropping)
            .field("silent", &self.silent)
            .finish_non_exhaustive()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            // An error means the thread is already gone, which is what we want anyway.
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            // JoinHandle::join has no timeout, so poll: never block a test forever. A thread
            // still running after DROP_TIMEOUT is left to finish on its own (it is itself
            // bounded by SHUTDOWN_GRACE).
            let deadline = Instant::now() + DROP_TIMEOUT;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

/// The rustls server configuration: ring provider only, safe default protocol versions,
/// ALPN `h2` then `http/1.1`.
fn tls_server_config(pki: &pki::Pki) -> anyhow::Result<rustls::ServerConfig> {
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS protocol versions")?
    .with_no_client_auth()
    .with_single_cert(vec![pki.leaf_der.clone()], pki.leaf_key.clone_key())
    .context("TLS server certificate")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Body of the lab thread: owns the runtime from creation to shutdown, so that neither
/// [`Lab::start`] nor [`Drop`] ever creates or drops a runtime on the caller's thread (which
/// tokio forbids inside an async context).
fn run_lab_thread(
    tls_config: Arc<rustls::ServerConfig>,
    ready: &mpsc::SyncSender<anyhow::Result<RuntimeEndpoints>>,
    shutdown: oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("reach-lab-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            let _ = ready.send(Err(
                anyhow::Error::new(e).context("building the lab runtime")
            ));
            return;
        }
    };

    match runtime.block_on(start_servers(tls_config)) {
        Ok((endpoints, mut dns_server)) => {
            // If start() already gave up, nobody listens; the shutdown sender is then gone
            // too, so the wait below ends at once.
            let _ = ready.send(Ok(endpoints));
            runtime.block_on(async {
                // Resolves on an explicit shutdown and when the Lab is dropped without one.
                let _ = shutdown.await;
                let _ =
                    tokio::time::timeout(SHUTDOWN_GRACE, dns_server.shutdown_gracefully()).await;
                drop(dns_server);
            });
        }
        Err(e) => {
            let _ = ready.send(Err(e));
        }
    }
    // Cancels every remaining task (accept loops, held connections, /slow-headers).
    runtime.shutdown_timeout(SHUTDOWN_GRACE);
}

/// Binds and spawns every runtime-hosted server. Runs inside the lab runtime.
async fn start_servers(
    tls_config: Arc<rustls::ServerConfig>,
) -> anyhow::Result<(RuntimeEndpoints, hickory_server::Server<dns::LabDnsHandler>)> {
    let (dns_server, dns) = dns::start().await?;

    let plain = bind_v4_loopback("HTTP").await?;
    let plain_addr = plain.local_addr()?;
    let plain_v6 = bind_ipv6_loopback(plain_addr.port()).await;
    let plain_v6_addr = match &plain_v6 {
        Some(listener) => Some(listener.local_addr()?),
        None => None,
    };
    let tls = bind_v4_loopback("HTTPS").await?;
    let tls_addr = tls.local_addr()?;
    let silent = bind_v4_loopback("silent").await?;
    let silent_addr = silent.local_addr()?;

    let app = Arc::new(http::App::new(
        plain_addr.port(),
        plain_v6_addr.map(|a| a.port()),
    ));
    tokio::spawn(http::serve_plain(plain, Arc::clone(&app)));
    if let Some(listener) = plain_v6 {
        tokio::spawn(http::serve_plain(listener, Arc::clone(&app)));
    }
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_config);
    tokio::spawn(http::serve_tls(tls, app, acceptor));
    tokio::spawn(http::serve_silent(silent));

    let endpoints = RuntimeEndpoints {
        dns,
        http: plain_addr,
        http6: plain_v6_addr,
        https: tls_addr,
        silent: silent_addr,
    };
    Ok((endpoints, dns_server))
}

async fn bind_v4_loopback(what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .with_context(|| format!("binding the {what} listener on 127.0.0.1"))
}

/// Binds `[::1]`, preferring `port` so that `http://good.lab.test:{port}` works over both the
/// A and the AAAA record. `None` when the host has no IPv6 loopback.
async fn bind_ipv6_loopback(port: u16) -> Option<TcpListener> {
    if let Ok(listener) = TcpListener::bind((Ipv6Addr::LOCALHOST, port)).await {
        return Some(listener);
    }
    TcpListener::bind((Ipv6Addr::LOCALHOST, 0)).await.ok()
}

/// A 127.0.0.1 port with nothing listening, so a connect gets RST (ECONNREFUSED).
///
/// Rather than binding a listener and closing it (after which another lab running in parallel
/// could be handed the same port for one of its servers), the port is held by a TCP socket that
/// is bound but never listens: the kernel refuses connections to it exactly as to an unused
/// port, and, as the socket has no `SO_REUSEADDR`, no one else can bind the port meanwhile.
fn refused_port() -> anyhow::Result<(Socket, SocketAddr)> {
    let holder = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .context("creating the refused-port socket")?;
    holder
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .context("binding the refused port")?;
    let addr = holder
        .local_addr()?
        .as_socket()
        .ok_or_else(|| anyhow!("refused port has no IP address"))?;
    Ok((holder, addr))
}

/// A 127.0.0.1 listener that silently drops SYNs.
///
/// With `listen(0)` Linux accepts one connection into the accept queue; once the queue is full
/// (and we never `accept()`), further SYNs are dropped, not answered with RST (unless
/// `tcp_abort_on_overflow` is set), so the client retransmits until its connect timeout. To get
/// there, connect clients until one does not complete within [`DROPPING_PROBE_TIMEOUT`]; the
/// clients that did connect are kept open for the lab's life so the queue stays full.
fn dropping_port() -> anyhow::Result<(Socket, SocketAddr, Vec<StdTcpStream>)> {
    let listener = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))
        .context("creating the dropping-port socket")?;
    listener
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .context("binding the dropping port")?;
    listener
        .listen(0)
        .context("listen(0) on the dropping port")?;
    let addr = listener
        .local_addr()?
        .as_socket()
        .ok_or_else(|| anyhow!("dropping port has no IP address"))?;

    let mut clients = Vec::new();
    for _ in 0..DROPPING_MAX_CLIENTS {
        match StdTcpStream::connect_timeout(&addr, DROPPING_PROBE_TIMEOUT) {
            Ok(client) => clients.push(client),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok((listener, addr, clients)),
            Err(e) => return Err(e).context("filling the dropping port's accept queue"),
        }
    }
    Err(anyhow!(
        "the dropping port still accepted connections after {DROPPING_MAX_CLIENTS} clients"
    ))
}
