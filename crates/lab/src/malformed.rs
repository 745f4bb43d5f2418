//! Peers that break protocols on purpose ([`crate::MalformedLab`]): DNS servers whose answers
//! are unusable, TLS servers that fail the handshake at the byte level, and HTTP/1.1 servers
//! whose responses do not parse or do not add up.
//!
//! Everything they send is fixed (the "random" bytes come from a seeded generator evaluated at
//! compile time), so tests can compare replies verbatim. Every read is bounded in size and
//! time, and a failed write (the client went away) ends the connection; the lab's shutdown ends
//! every task.

use std::{net::SocketAddr, time::Duration};

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream, UdpSocket},
    time::timeout,
};

use crate::{UNBOUND, http, raw};

/// What `dns_garbage` answers: not a DNS message.
pub(crate) const DNS_GARBAGE: [u8; 37] = pseudo_random(0x646e_735f_6761_7262);
/// How much of a response header `dns_truncated` sends.
pub(crate) const DNS_TRUNCATED_LEN: usize = 7;
/// TTL of the A record in `dns_wrong_id`'s answer.
pub(crate) const WRONG_ID_TTL: u32 = 60;
/// What `tls_garbage` answers a `ClientHello` with.
pub(crate) const TLS_GARBAGE: [u8; 512] = pseudo_random(0x746c_735f_6761_7262);
/// What `tls_half_hello` answers: a handshake record header announcing 74 bytes, the start of a
/// `ServerHello` (type 2, length 70, version `03 03`) and the first 9 bytes of its random.
pub(crate) const TLS_HALF_HELLO: [u8; 20] = half_hello();
/// `http_bad_status`'s response: the status code is not a number.
pub(crate) const HTTP_BAD_STATUS: &[u8] = b"HTTP/1.1 abc Weird\r\nContent-Length: 0\r\n\r\n";
/// `http_bad_header`'s response: a header value with a NUL and a control byte.
pub(crate) const HTTP_BAD_HEADER: &[u8] =
    b"HTTP/1.1 200 OK\r\nX-Bad: a\x00b\x01c\r\nContent-Length: 2\r\n\r\nok";
/// `http_lying_length`'s response: announces 100,000 bytes of body and sends 10.
pub(crate) const HTTP_LYING_LENGTH: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789";
/// `http_garbage`'s response: not HTTP.
pub(crate) const HTTP_GARBAGE: [u8; 256] = pseudo_random(0x6874_7470_5f67_6172);

/// Most of the first TLS record (the `ClientHello`) the TLS servers read.
const HELLO_LIMIT: usize = 16 * 1024;
/// How long the TLS servers wait for the first record; they answer anyway after that.
const HELLO_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a DNS-over-TCP connection may sit without a complete query before it is closed.
const DNS_TCP_IDLE: Duration = Duration::from_secs(5);
/// Most queries answered on one DNS-over-TCP connection.
const DNS_TCP_MAX_QUERIES: usize = 64;
/// Size of a DNS message header.
const DNS_HEADER_LEN: usize = 12;
/// Longest name (in wire format) a question may have.
const DNS_MAX_NAME: usize = 255;

/// Peers on `127.0.0.1` that break DNS, TLS or HTTP/1.1 on purpose, each on its own port. See
/// the [crate docs](crate#malformed-peers-labmalformed).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct MalformedLab {
    /// DNS, UDP and TCP on the same port: answers every query with 37 fixed pseudo-random
    /// bytes (not a DNS message).
    pub dns_garbage: SocketAddr,
    /// DNS, UDP and TCP on the same port: answers every query with the first 7 bytes of a
    /// response header (the query's ID, flags, `QDCOUNT` 1, half of `ANCOUNT`).
    pub dns_truncated: SocketAddr,
    /// DNS, UDP and TCP on the same port: a well-formed answer (NOERROR, one `A 127.0.0.1`,
    /// TTL 60, for the asked name) whose ID is the query's plus one, which a resolver must
    /// ignore.
    pub dns_wrong_id: SocketAddr,
    /// Reads the `ClientHello`, answers 512 fixed pseudo-random bytes, closes.
    pub tls_garbage: SocketAddr,
    /// Reads the `ClientHello`, closes without writing.
    pub tls_close: SocketAddr,
    /// Reads the `ClientHello`, answers the first 20 bytes of a `ServerHello` record, closes.
    pub tls_half_hello: SocketAddr,
    /// Reads the request head, answers `HTTP/1.1 abc Weird` (a non-numeric status), closes.
    pub http_bad_status: SocketAddr,
    /// Reads the request head, answers 200 with a header value holding NUL and `0x01`, closes.
    pub http_bad_header: SocketAddr,
    /// Reads the request head, answers `Content-Length: 100000` with 10 bytes of body, closes.
    pub http_lying_length: SocketAddr,
    /// Reads the request head, answers 256 fixed pseudo-random bytes, closes.
    pub http_garbage: SocketAddr,
}

impl MalformedLab {
    /// What `dns_garbage` answers every query with: 37 fixed pseudo-random bytes, not a DNS
    /// message.
    pub const DNS_GARBAGE: [u8; 37] = DNS_GARBAGE;
    /// What `tls_garbage` answers a `ClientHello` with: 512 fixed pseudo-random bytes, the
    /// first of which is not a TLS content type.
    pub const TLS_GARBAGE: [u8; 512] = TLS_GARBAGE;
    /// What `tls_half_hello` answers: a handshake record header announcing 74 bytes, the start
    /// of a `ServerHello` (type 2, length 70, version `03 03`) and the first 9 bytes of its
    /// random.
    pub const TLS_HALF_HELLO: [u8; 20] = TLS_HALF_HELLO;
    /// What `http_garbage` answers a request with: 256 fixed pseudo-random bytes, not starting
    /// with `HTTP/`.
    pub const HTTP_GARBAGE: [u8; 256] = HTTP_GARBAGE;

    /// Placeholder addresses until the servers are bound.
    pub(crate) const UNBOUND: Self = Self {
        dns_garbage: UNBOUND,
        dns_truncated: UNBOUND,
        dns_wrong_id: UNBOUND,
        tls_garbage: UNBOUND,
        tls_close: UNBOUND,
        tls_half_hello: UNBOUND,
        http_bad_status: UNBOUND,
        http_bad_header: UNBOUND,
        http_lying_length: UNBOUND,
        http_garbage: UNBOUND,
    };

    /// Binds and spawns the malformed peers. Runs inside the lab runtime.
    pub(crate) async fn start() -> anyhow::Result<Self> {
        let tcp = |what: &'static str, mode: Tcp| {
            crate::spawn_on_loopback(what, move |listener| serve_tcp(listener, mode))
        };
        Ok(Self {
            dns_garbage: start_dns(Dns::Garbage).await?,
            dns_truncated: start_dns(Dns::Truncated).await?,
            dns_wrong_id: start_dns(Dns::WrongId).await?,
            tls_garbage: tcp("TLS garbage", Tcp::TlsGarbage).await?,
            tls_close: tcp("TLS close", Tcp::TlsClose).await?,
            tls_half_hello: tcp("TLS half hello", Tcp::TlsHalfHello).await?,
            http_bad_status: tcp("HTTP bad status", Tcp::Http(HTTP_BAD_STATUS)).await?,
            http_bad_header: tcp("HTTP bad header", Tcp::Http(HTTP_BAD_HEADER)).await?,
            http_lying_length: tcp("HTTP lying length", Tcp::Http(HTTP_LYING_LENGTH)).await?,
            http_garbage: tcp("HTTP garbage", Tcp::Http(&HTTP_GARBAGE)).await?,
        })
    }
}

// ---------------------------------------------------------------- DNS

/// How a malformed DNS server answers.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Dns {
    Garbage,
    Truncated,
    WrongId,
}

/// Binds UDP and TCP on one port and serves `mode` on both.
async fn start_dns(mode: Dns) -> anyhow::Result<SocketAddr> {
    let (udp, tcp) = crate::dns::bind_udp_and_tcp().await?;
    let addr = udp.local_addr()?;
    tokio::spawn(serve_udp(udp, mode));
    tokio::spawn(http::accept_each(tcp, move |stream| {
        dns_tcp_connection(stream, mode)
    }));
    Ok(addr)
}

/// Answers datagrams until the runtime shuts down.
async fn serve_udp(socket: UdpSocket, mode: Dns) {
    let mut buf = vec![0_u8; usize::from(u16::MAX)];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, peer)) => {
                if let Some(reply) = dns_reply(mode, &buf[..n]) {
                    // A lost reply is what UDP does anyway.
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
            // E.g. an ICMP error reported on the socket; pause so nothing can spin.
            Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
}

/// DNS over TCP: length-prefixed queries in, length-prefixed replies out, until the client
/// closes, goes idle for [`DNS_TCP_IDLE`] or has sent [`DNS_TCP_MAX_QUERIES`] queries.
async fn dns_tcp_connection(mut stream: TcpStream, mode: Dns) {
    for _ in 0..DNS_TCP_MAX_QUERIES {
        let Ok(Ok(query)) = timeout(DNS_TCP_IDLE, read_framed(&mut stream)).await else {
            break;
        };
        let Some(reply) = dns_reply(mode, &query) else {
            continue;
        };
        // Replies are far below 64 KiB (a question is at most 259 bytes).
        let len = u16::try_from(reply.len()).unwrap_or(u16::MAX).to_be_bytes();
        let mut framed = Vec::with_capacity(2 + reply.len());
        framed.extend_from_slice(&len);
        framed.extend_from_slice(&reply);
        if stream.write_all(&framed).await.is_err() {
            return;
        }
    }
    raw::close_gracefully(stream).await;
}

/// One length-prefixed DNS message.
async fn read_framed(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut len = [0_u8; 2];
    stream.read_exact(&mut len).await?;
    let mut message = vec![0_u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut message).await?;
    Ok(message)
}

/// What a server in `mode` answers `query` with; `None` (no answer) for a message that is not
/// a query: shorter than a header, or with the QR bit set. `WrongId` also needs a question it
/// can parse.
pub(crate) fn dns_reply(mode: Dns, query: &[u8]) -> Option<Vec<u8>> {
    let header = response_header(query)?;
    match mode {
        Dns::Garbage => Some(DNS_GARBAGE.to_vec()),
        Dns::Truncated => Some(header[..DNS_TRUNCATED_LEN].to_vec()),
        Dns::WrongId => {
            let question = first_question(query)?;
            let mut reply = header.to_vec();
            let id = u16::from_be_bytes([header[0], header[1]]).wrapping_add(1);
            reply[..2].copy_from_slice(&id.to_be_bytes());
            reply.extend_from_slice(question);
            // The answer: the question's name (a pointer to offset 12), type A, class IN,
            // the TTL, and RDATA 127.0.0.1.
            reply.extend_from_slice(&[0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01]);
            reply.extend_from_slice(&WRONG_ID_TTL.to_be_bytes());
            reply.extend_from_slice(&[0x00, 0x04, 127, 0, 0, 1]);
            Some(reply)
        }
    }
}

/// The header of an answer to `query`: its ID; QR, AA, the query's opcode and RD; RA and
/// NOERROR; one question, one answer, nothing else. `None` unless `query` starts with a query
/// header.
fn response_header(query: &[u8]) -> Option<[u8; DNS_HEADER_LEN]> {
    let header = query.get(..DNS_HEADER_LEN)?;
    if header[2] & 0x80 != 0 {
        return None;
    }
    // 0x84: QR and AA; 0x79: the opcode (0x78) and RD (0x01). 0x80: RA, rcode 0.
    let flags = [0x84 | (header[2] & 0x79), 0x80];
    Some([
        header[0], header[1], flags[0], flags[1], 0, 1, 0, 1, 0, 0, 0, 0,
    ])
}

/// The wire bytes of the first question (name, type, class), when there is one with an
/// uncompressed name of at most [`DNS_MAX_NAME`] bytes.
fn first_question(query: &[u8]) -> Option<&[u8]> {
    if query.get(4..6)? == [0, 0] {
        return None;
    }
    let mut at = DNS_HEADER_LEN;
    // Every label takes at least two bytes, so a valid name ends within this many.
    for _ in 0..=DNS_MAX_NAME / 2 {
        let len = usize::from(*query.get(at)?);
        at += 1;
        if len == 0 {
            return query.get(DNS_HEADER_LEN..at + 4);
        }
        // 0xc0 is a compression pointer, 0x40 and 0x80 reserved label types: not in a
        // question we echo.
        if len & 0xc0 != 0 {
            return None;
        }
        at += len;
        if at - DNS_HEADER_LEN >= DNS_MAX_NAME {
            return None;
        }
    }
    None
}

// ---------------------------------------------------------------- TLS and HTTP

/// How a malformed TCP server answers.
#[derive(Clone, Copy, Debug)]
enum Tcp {
    TlsGarbage,
    TlsClose,
    TlsHalfHello,
    /// Reads the request head, then sends these bytes.
    Http(&'static [u8]),
}

/// Accept loop of one malformed TCP server. Runs until the runtime shuts down.
async fn serve_tcp(listener: TcpListener, mode: Tcp) {
    http::accept_each(listener, move |stream| tcp_connection(stream, mode)).await;
}

async fn tcp_connection(mut stream: TcpStream, mode: Tcp) {
    let (reply, asked): (&[u8], bool) = match mode {
        Tcp::TlsGarbage => (&TLS_GARBAGE, read_client_hello(&mut stream).await),
        Tcp::TlsClose => (&[], read_client_hello(&mut stream).await),
        Tcp::TlsHalfHello => (&TLS_HALF_HELLO, read_client_hello(&mut stream).await),
        Tcp::Http(response) => (response, raw::read_head(&mut stream).await.is_ok()),
    };
    // A client that left (or sent no complete HTTP head) gets nothing.
    if asked && stream.write_all(reply).await.is_ok() {
        raw::close_gracefully(stream).await;
    }
}

/// Reads the client's first TLS record (its `ClientHello`): the 5-byte record header, then as
/// much of the body as it announces, all within [`HELLO_LIMIT`] bytes and [`HELLO_TIMEOUT`].
/// `false` when the client closed or failed first; after the timeout (a client that sent too
/// little, or no TLS at all) the server answers anyway.
async fn read_client_hello(stream: &mut TcpStream) -> bool {
    let read = async {
        let mut header = [0_u8; 5];
        stream.read_exact(&mut header).await?;
        let len = usize::from(u16::from_be_bytes([header[3], header[4]]));
        let mut body = vec![0_u8; len.min(HELLO_LIMIT - header.len())];
        stream.read_exact(&mut body).await?;
        std::io::Result::Ok(())
    };
    !matches!(timeout(HELLO_TIMEOUT, read).await, Ok(Err(_)))
}

/// [`TLS_HALF_HELLO`]: record header `16 03 03 00 4a`, handshake header `02 00 00 46`,
/// `server_version` `03 03`, then 9 bytes of the random.
const fn half_hello() -> [u8; 20] {
    let random: [u8; 9] = pseudo_random(0x6861_6c66_6865_6c6f);
    let mut hello = [
        0x16, 0x03, 0x03, 0x00, 0x4a, 0x02, 0x00, 0x00, 0x46, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    let mut i = 0;
    while i < random.len() {
        hello[11 + i] = random[i];
        i += 1;
    }
    hello
}

/// `N` bytes from `SplitMix64` seeded with `seed`: fixed, but without structure.
const fn pseudo_random<const N: usize>(seed: u64) -> [u8; N] {
    let mut out = [0_u8; N];
    let mut state = seed;
    let mut i = 0;
    while i < N {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out[i] = z.to_be_bytes()[0];
        i += 1;
    }
    out
}

/// The wire bytes of a standard query (opcode 0, RD) with `id` for `name`,
/// type `qtype`, class IN: what a client sends the lab's DNS peers, built
/// by hand so that tests of them do not depend on a DNS library.
pub fn dns_query(id: u16, name: &str, qtype: u16) -> Vec<u8> {
    let mut query = id.to_be_bytes().to_vec();
    query.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.trim_end_matches('.').split('.') {
        query.push(u8::try_from(label.len()).expect("a label of at most 63 bytes"));
        query.extend_from_slice(label.as_bytes());
    }
    query.push(0);
    query.extend_from_slice(&qtype.to_be_bytes());
    query.extend_from_slice(&[0, 1]);
    query
}

#[cfg(test)]
mod tests {
    use super::{Dns, dns_reply};
    use crate::dns_query as query;

    #[test]
    fn dns_replies_never_panic_and_parse_only_plausible_questions() {
        let q = query(0xbeef, "a.b.lab.test", 1);
        for mode in [Dns::Garbage, Dns::Truncated, Dns::WrongId] {
            for len in 0..q.len() + 3 {
                let mut input = q.clone();
                input.resize(len, 0);
                let reply = dns_reply(mode, &input);
                assert_eq!(
                    reply.is_some(),
                    len >= 12
                        && match mode {
                            Dns::WrongId => len >= q.len(),
                            _ => true,
                        },
                    "{mode:?} {len}"
                );
            }
            // Arbitrary bytes (a 255-byte pseudo-random walk), starting with a query header.
            let mut state = 0x1234_5678_u32;
            for _ in 0..2000 {
                let mut input = vec![0_u8, 1, 0, 0, 0, 1];
                for _ in 0..(state % 300) {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    input.push(state.to_be_bytes()[0] % 70);
                }
                state = state.wrapping_add(1);
                let _ = dns_reply(mode, &input);
            }
        }
        // No question, a name that is too long, a reserved label type.
        let mut none = q.clone();
        none[5] = 0;
        assert_eq!(dns_reply(Dns::WrongId, &none), None);
        let mut long = q[..12].to_vec();
        for _ in 0..5 {
            long.push(63);
            long.extend_from_slice(&[b'a'; 63]);
        }
        long.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(dns_reply(Dns::WrongId, &long), None);
        let mut reserved = q[..12].to_vec();
        reserved.extend_from_slice(&[0x41, b'a', 0, 0, 1, 0, 1]);
        assert_eq!(dns_reply(Dns::WrongId, &reserved), None);
        // The longest legal name (255 bytes in wire format) is echoed.
        let mut longest = q[..12].to_vec();
        for _ in 0..3 {
            longest.push(63);
            longest.extend_from_slice(&[b'a'; 63]);
        }
        longest.push(61);
        longest.extend_from_slice(&[b'a'; 61]);
        longest.extend_from_slice(&[0, 0, 1, 0, 1]);
        assert_eq!(longest.len(), 12 + 255 + 4);
        let reply = dns_reply(Dns::WrongId, &longest).expect("an answer");
        assert_eq!(reply[12..12 + 259], longest[12..]);
        // Another opcode is echoed with the flags.
        let mut status = q.clone();
        status[2] = 0x10;
        assert_eq!(
            dns_reply(Dns::Truncated, &status),
            Some(vec![0xbe, 0xef, 0x94, 0x80, 0, 1, 0])
        );
    }
}
