//! Starting and stopping labs: the refusing, dropping and silent ports, prompt shutdown with
//! busy connections, and several labs side by side.

use std::{
    net::Ipv6Addr,
    time::{Duration, Instant},
};

use reach_lab::Lab;
use tokio::{io::AsyncReadExt as _, io::AsyncWriteExt as _, net::TcpStream, time::timeout};

use crate::{
    hostile_servers::hostile_connect,
    proxies::connect_through,
    support::{IO_TIMEOUT, connect, start},
};

#[tokio::test]
async fn refused_dropping_and_silent_ports() {
    let lab = start();

    let refused = timeout(IO_TIMEOUT, TcpStream::connect(lab.refused))
        .await
        .expect("in time");
    assert_eq!(
        refused.expect_err("refused").kind(),
        std::io::ErrorKind::ConnectionRefused
    );

    let dropping = timeout(Duration::from_millis(500), TcpStream::connect(lab.dropping)).await;
    assert!(
        dropping.is_err(),
        "connect to the dropping port must time out: {dropping:?}"
    );

    let mut silent = connect(lab.silent).await;
    let mut buf = [0_u8; 16];
    let read = timeout(Duration::from_millis(300), silent.read(&mut buf)).await;
    assert!(
        read.is_err(),
        "the silent port must not send anything: {read:?}"
    );
}

#[tokio::test]
async fn drop_is_prompt_with_a_pending_slow_request() {
    let lab = start();
    let mut stream = connect(lab.http).await;
    stream
        .write_all(b"GET /slow-headers HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    let mut silent = connect(lab.silent).await;
    // Let the server pick the request up, then stop the lab under it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let ca_path = lab.ca_pem_path.clone();
    let started = Instant::now();
    drop(lab);
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "drop took {:?}",
        started.elapsed()
    );
    assert!(!ca_path.exists(), "the CA file is deleted with the lab");

    // Both connections were closed by the shutdown rather than left hanging.
    let mut buf = Vec::new();
    let read = timeout(IO_TIMEOUT, stream.read_to_end(&mut buf))
        .await
        .expect("closed in time");
    assert!(
        read.is_err() || buf.is_empty(),
        "no response to /slow-headers: {buf:?}"
    );
    // The silent port never sends: only that it was closed in time counts.
    let _ = timeout(IO_TIMEOUT, silent.read_to_end(&mut buf))
        .await
        .expect("closed in time");
}

#[test]
fn labs_start_and_stop_from_plain_threads() {
    // The e2e tests are blocking #[test]s; two labs side by side must not collide.
    let a = start();
    let b = start();
    assert_ne!(a.dns, b.dns);
    assert_ne!(a.http, b.http);
    assert!(a.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_ne!(a.ca_pem(), b.ca_pem());
    // A machine without IPv6 loopback has no http6 port.
    if let Some(http6) = a.http6 {
        assert_eq!(http6.ip(), Ipv6Addr::LOCALHOST);
    }
}

#[test]
fn lab_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Lab>();
}

#[tokio::test]
async fn drop_is_prompt_with_busy_tunnels_and_hostile_clients() {
    let lab = start();
    let mut trickle = hostile_connect(lab.hostile.trickle).await;
    let mut endless = hostile_connect(lab.hostile.endless_body).await; // never read
    let mut tunnel = connect_through(
        lab.proxy.open,
        &format!("localhost:{}", lab.silent.port()),
        "",
    )
    .await
    .expect("tunnel");
    let mut legacy = connect(lab.tls.legacy).await;
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
