//! The sockets hickory-resolver sends through, and what they learned about
//! each server from the operating system.
//!
//! Two things hickory's own Tokio runtime does not give us:
//!
//! - Its UDP sockets are not connected, so Linux never reports the ICMP
//!   "port unreachable" of a closed DNS port to them: the query waits for the
//!   whole timeout. Here each query's socket is connected to its server, so
//!   the kernel turns that ICMP message into `ECONNREFUSED` on the next
//!   receive and the query ends at once.
//! - Its name-server pool folds a socket error into "no connections
//!   available" (the `io::Error` is dropped on the way). Here every socket
//!   error is recorded, keyed by server address, as its typed
//!   [`io::ErrorKind`]; the classifier reads it back when a lookup ends that
//!   way. An answer from the server clears its entry.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use hickory_resolver::net::runtime::iocompat::AsyncIoTokioAsStd;
use hickory_resolver::net::runtime::{
    DnsUdpSocket, RuntimeProvider, TokioHandle, TokioRuntimeProvider, TokioTime,
};
use tokio::io::Interest;

/// Why a server could not be reached, from the socket's error kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unreachable {
    /// `ECONNREFUSED`: the host answered, but nothing listens on that port
    /// (ICMP port unreachable for UDP, a RST for TCP).
    PortClosed,
    /// No route: the network or host is unreachable, the network is down,
    /// or no local address can reach it (a machine with no network).
    NoRoute,
    /// Any other socket error (a local firewall refusing to send, …).
    Other,
}

impl Unreachable {
    pub(crate) fn from_kind(kind: io::ErrorKind) -> Self {
        match kind {
            io::ErrorKind::ConnectionRefused => Unreachable::PortClosed,
            io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkDown
            | io::ErrorKind::AddrNotAvailable => Unreachable::NoRoute,
            _ => Unreachable::Other,
        }
    }
}

/// A socket error seen on the way to one server.
#[derive(Debug, Clone)]
pub(crate) struct SocketFailure {
    pub(crate) unreachable: Unreachable,
    /// The error kind in words ("network unreachable").
    pub(crate) kind: String,
    /// The operating system's text of the error, for the evidence.
    pub(crate) error: String,
}

type Log = Arc<Mutex<HashMap<SocketAddr, SocketFailure>>>;

/// hickory's Tokio runtime with connected UDP sockets and a record of
/// socket errors per server.
#[derive(Clone, Default)]
pub(crate) struct Sockets {
    tokio: TokioRuntimeProvider,
    log: Log,
}

impl Sockets {
    /// The last socket error towards `server`, unless it answered since.
    pub(crate) fn failure(&self, server: SocketAddr) -> Option<SocketFailure> {
        lock(&self.log).get(&server).cloned()
    }
}

fn lock(log: &Log) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, SocketFailure>> {
    // A panic while holding this lock cannot leave the map half-written.
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn record(log: &Log, server: SocketAddr, error: &io::Error) {
    let kind = error.kind();
    // A timed-out connect says nothing the resolver's timeout does not.
    if kind == io::ErrorKind::TimedOut {
        return;
    }
    lock(log).insert(
        server,
        SocketFailure {
            unreachable: Unreachable::from_kind(kind),
            kind: kind.to_string(),
            error: error.to_string(),
        },
    );
}

fn answered(log: &Log, server: SocketAddr) {
    lock(log).remove(&server);
}

impl RuntimeProvider for Sockets {
    type Handle = TokioHandle;
    type Timer = TokioTime;
    type Udp = ConnectedUdp;
    type Tcp = AsyncIoTokioAsStd<tokio::net::TcpStream>;

    fn create_handle(&self) -> Self::Handle {
        self.tokio.create_handle()
    }

    fn connect_tcp(
        &self,
        server_addr: SocketAddr,
        bind_addr: Option<SocketAddr>,
        timeout: Option<Duration>,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Tcp, io::Error>>>> {
        let connect = self.tokio.connect_tcp(server_addr, bind_addr, timeout);
        let log = self.log.clone();
        Box::pin(async move {
            match connect.await {
                Ok(stream) => {
                    answered(&log, server_addr);
                    Ok(stream)
                }
                Err(e) => {
                    record(&log, server_addr, &e);
                    Err(e)
                }
            }
        })
    }

    fn bind_udp(
        &self,
        local_addr: SocketAddr,
        server_addr: SocketAddr,
    ) -> Pin<Box<dyn Send + Future<Output = Result<Self::Udp, io::Error>>>> {
        let log = self.log.clone();
        Box::pin(async move {
            let socket = tokio::net::UdpSocket::bind(local_addr).await?;
            // Connected, so the kernel reports ICMP errors to this socket. A
            // connect that fails (no route) is the first thing a machine
            // without network says.
            if let Err(e) = socket.connect(server_addr).await {
                record(&log, server_addr, &e);
                return Err(e);
            }
            Ok(ConnectedUdp {
                socket,
                server: server_addr,
                log,
            })
        })
    }
}

/// A UDP socket connected to one DNS server.
pub(crate) struct ConnectedUdp {
    socket: tokio::net::UdpSocket,
    server: SocketAddr,
    log: Log,
}

impl ConnectedUdp {
    /// The next datagram, or the error the kernel holds for the socket.
    async fn receive(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        loop {
            let ready = self
                .socket
                .ready(Interest::READABLE | Interest::ERROR)
                .await?;
            if ready.is_error() {
                // SO_ERROR holds it (ECONNREFUSED after ICMP port
                // unreachable); on a spurious wake-up, WouldBlock clears the
                // error readiness so the loop waits again.
                let pending =
                    self.socket
                        .try_io(Interest::ERROR, || match self.socket.take_error() {
                            Ok(Some(e)) | Err(e) => Ok(e),
                            Ok(None) => Err(io::ErrorKind::WouldBlock.into()),
                        });
                if let Ok(e) = pending {
                    return Err(e);
                }
            }
            if ready.is_readable() {
                match self.socket.try_recv_from(buf) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    received => return received,
                }
            }
        }
    }
}

impl DnsUdpSocket for ConnectedUdp {
    type Time = TokioTime;

    fn poll_recv_from(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(usize, SocketAddr)>> {
        let polled = DnsUdpSocket::poll_recv_from(&self.socket, cx, buf);
        match &polled {
            Poll::Ready(Ok(_)) => answered(&self.log, self.server),
            Poll::Ready(Err(e)) => record(&self.log, self.server, e),
            Poll::Pending => {}
        }
        polled
    }

    // What hickory awaits for an answer. Written out rather than left to the
    // trait's default (which polls `poll_recv_from`), because an ICMP error
    // makes the socket report an error, never "readable": tokio would not
    // wake a reader for it. The signature is what `#[async_trait]` makes of
    // the trait's `async fn`.
    fn recv_from<'life0, 'life1, 'async_trait>(
        &'life0 self,
        buf: &'life1 mut [u8],
    ) -> Pin<Box<dyn Future<Output = io::Result<(usize, SocketAddr)>> + Send + 'async_trait>>
    where
        'life0: 'async_trait,
        'life1: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            let received = self.receive(buf).await;
            match &received {
                Ok(_) => answered(&self.log, self.server),
                Err(e) => record(&self.log, self.server, e),
            }
            received
        })
    }

    fn poll_send_to(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        target: SocketAddr,
    ) -> Poll<io::Result<usize>> {
        // Some systems refuse an address on a connected socket (EISCONN).
        let polled = if target == self.server {
            self.socket.poll_send(cx, buf)
        } else {
            DnsUdpSocket::poll_send_to(&self.socket, cx, buf, target)
        };
        if let Poll::Ready(Err(e)) = &polled {
            record(&self.log, self.server, e);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_kinds_are_classified() {
        use io::ErrorKind as K;
        for (kind, want) in [
            (K::ConnectionRefused, Unreachable::PortClosed),
            (K::NetworkUnreachable, Unreachable::NoRoute),
            (K::HostUnreachable, Unreachable::NoRoute),
            (K::NetworkDown, Unreachable::NoRoute),
            (K::AddrNotAvailable, Unreachable::NoRoute),
            (K::PermissionDenied, Unreachable::Other),
        ] {
            assert_eq!(Unreachable::from_kind(kind), want, "{kind:?}");
        }
    }

    #[tokio::test]
    async fn a_closed_udp_port_is_reported_at_once() {
        // A port that was just free: nothing listens on it.
        let free = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = free.local_addr().unwrap();
        drop(free);
        let sockets = Sockets::default();
        let socket = sockets
            .bind_udp("127.0.0.1:0".parse().unwrap(), server)
            .await
            .unwrap();
        DnsUdpSocket::send_to(&socket, b"\0\0", server)
            .await
            .unwrap();
        let mut buf = [0u8; 16];
        let received = tokio::time::timeout(
            Duration::from_secs(5),
            DnsUdpSocket::recv_from(&socket, &mut buf),
        )
        .await
        .expect("the kernel reports the closed port at once");
        assert_eq!(
            received.unwrap_err().kind(),
            io::ErrorKind::ConnectionRefused
        );
        let failure = sockets.failure(server).unwrap();
        assert_eq!(failure.unreachable, Unreachable::PortClosed);
    }
}
