//! The `lab.test.` zone, over UDP and TCP on the same port, with hand-built hickory messages.

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

use hickory_proto::{
    op::{Edns, Message, MessageType, OpCode, Query, ResponseCode},
    rr::{Name, RData, RecordType},
};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream, UdpSocket},
    time::timeout,
};

use crate::support::{IO_TIMEOUT, connect, start};

fn query(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::new(0x4c4c, MessageType::Query, OpCode::Query);
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_ascii(name).expect("name"), rtype));
    message
}

/// One UDP exchange; `None` when no reply came within `wait`.
async fn udp_exchange(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    wait: Duration,
) -> Option<Message> {
    send_udp(server, &query(name, rtype), wait).await
}

async fn send_udp(server: SocketAddr, message: &Message, wait: Duration) -> Option<Message> {
    let socket = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    let bytes = message.to_vec().expect("encode");
    socket.send_to(&bytes, server).await.expect("send");
    let mut buf = vec![0_u8; 4096];
    let (len, _) = timeout(wait, socket.recv_from(&mut buf))
        .await
        .ok()?
        .expect("recv");
    Some(Message::from_vec(&buf[..len]).expect("decode"))
}

pub(crate) async fn udp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    udp_exchange(server, name, rtype, IO_TIMEOUT)
        .await
        .unwrap_or_else(|| panic!("no DNS reply for {name} {rtype}"))
}

fn answers(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .map(|r| format!("{} {} {}", r.name, r.ttl, r.data))
        .collect()
}

#[tokio::test]
async fn dns_zone_answers() {
    let lab = start();
    let dns = lab.dns;

    let good = udp(dns, "good.lab.test.", RecordType::A).await;
    assert_eq!(good.metadata.response_code, ResponseCode::NoError);
    assert!(good.metadata.authoritative);
    assert_eq!(answers(&good), ["good.lab.test. 300 127.0.0.1"]);
    let good6 = udp(dns, "GOOD.lab.test.", RecordType::AAAA).await;
    assert_eq!(good6.answers.len(), 1);
    assert!(matches!(good6.answers[0].data, RData::AAAA(a) if a.0 == Ipv6Addr::LOCALHOST));

    let v4only6 = udp(dns, "v4only.lab.test.", RecordType::AAAA).await;
    assert_eq!(v4only6.metadata.response_code, ResponseCode::NoError);
    assert!(v4only6.answers.is_empty(), "{:?}", answers(&v4only6));
    assert_eq!(v4only6.authorities.len(), 1, "NODATA carries the SOA");

    let alias = udp(dns, "alias.lab.test.", RecordType::A).await;
    assert_eq!(alias.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        answers(&alias),
        [
            "alias.lab.test. 60 alias2.lab.test.",
            "alias2.lab.test. 60 good.lab.test.",
            "good.lab.test. 300 127.0.0.1",
        ]
    );

    let dangling = udp(dns, "dangling.lab.test.", RecordType::A).await;
    assert_eq!(dangling.metadata.response_code, ResponseCode::NXDomain);
    assert!(dangling.metadata.authoritative);
    assert_eq!(
        answers(&dangling),
        ["dangling.lab.test. 300 missing.lab.test."]
    );
    assert_eq!(dangling.authorities.len(), 1);
    assert_eq!(dangling.authorities[0].record_type(), RecordType::SOA);
    // Resolvers send EDNS; the hand-built NXDOMAIN must echo it like the catalog does.
    let mut with_edns = query("dangling.lab.test.", RecordType::AAAA);
    with_edns.set_edns(Edns::new());
    let dangling_edns = send_udp(dns, &with_edns, IO_TIMEOUT).await.expect("reply");
    assert_eq!(dangling_edns.metadata.response_code, ResponseCode::NXDomain);
    assert_eq!(dangling_edns.answers.len(), 1);
    assert!(dangling_edns.edns.is_some(), "EDNS echoed");
    let dangling_cname = udp(dns, "dangling.lab.test.", RecordType::CNAME).await;
    assert_eq!(dangling_cname.metadata.response_code, ResponseCode::NoError);
    assert_eq!(
        answers(&dangling_cname),
        ["dangling.lab.test. 300 missing.lab.test."]
    );

    for rtype in [RecordType::A, RecordType::AAAA] {
        let nodata = udp(dns, "nodata.lab.test.", rtype).await;
        assert_eq!(nodata.metadata.response_code, ResponseCode::NoError);
        assert!(nodata.answers.is_empty());
    }
    let txt = udp(dns, "nodata.lab.test.", RecordType::TXT).await;
    assert_eq!(answers(&txt), ["nodata.lab.test. 300 x"]);

    for rtype in [RecordType::A, RecordType::AAAA, RecordType::TXT] {
        let servfail = udp(dns, "servfail.lab.test.", rtype).await;
        assert_eq!(servfail.metadata.response_code, ResponseCode::ServFail);
    }

    let missing = udp(dns, "nope.lab.test.", RecordType::A).await;
    assert_eq!(missing.metadata.response_code, ResponseCode::NXDomain);
    assert!(missing.answers.is_empty());
    let outside = udp(dns, "example.com.", RecordType::A).await;
    assert_eq!(outside.metadata.response_code, ResponseCode::Refused);

    let silence = udp_exchange(
        dns,
        "timeout.lab.test.",
        RecordType::A,
        Duration::from_millis(300),
    )
    .await;
    assert!(
        silence.is_none(),
        "timeout.lab.test must not be answered: {silence:?}"
    );
    // The server is still alive after dropping a query.
    assert_eq!(
        udp(dns, "good.lab.test.", RecordType::A)
            .await
            .answers
            .len(),
        1
    );
}

#[tokio::test]
async fn dns_over_tcp_on_the_same_port() {
    let lab = start();
    let mut stream = connect(lab.dns).await;
    let bytes = query("alias.lab.test.", RecordType::AAAA)
        .to_vec()
        .expect("encode");
    let len = u16::try_from(bytes.len()).expect("small");
    stream.write_all(&len.to_be_bytes()).await.expect("write");
    stream.write_all(&bytes).await.expect("write");
    let mut len = [0_u8; 2];
    timeout(IO_TIMEOUT, stream.read_exact(&mut len))
        .await
        .expect("in time")
        .expect("read");
    let mut reply = vec![0_u8; usize::from(u16::from_be_bytes(len))];
    timeout(IO_TIMEOUT, stream.read_exact(&mut reply))
        .await
        .expect("in time")
        .expect("read");
    let reply = Message::from_vec(&reply).expect("decode");
    assert_eq!(reply.metadata.response_code, ResponseCode::NoError);
    assert_eq!(reply.answers.len(), 3);
    assert_eq!(reply.answers[2].record_type(), RecordType::AAAA);
}

/// The DNS listener relies on accepted sockets inheriting `TCP_NODELAY` from the listener,
/// because hickory does the accepting. Check that this kernel does that.
#[tokio::test]
async fn accepted_sockets_inherit_nodelay_from_the_listener() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind");
    socket2::SockRef::from(&listener)
        .set_tcp_nodelay(true)
        .expect("nodelay");
    let addr = listener.local_addr().expect("addr");
    let _client = TcpStream::connect(addr).await.expect("connect");
    let (accepted, _) = listener.accept().await.expect("accept");
    assert!(accepted.nodelay().expect("getsockopt"));
}
