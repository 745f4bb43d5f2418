//! The endpoint pipeline as a library, against the in-process lab: `probe` and `hop` called
//! directly (as trippy-core's `tests/sim` drives its tracer), not through the `reach` binary.
//!
//! Names resolve through the lab's DNS server only and the lab CA is the only extra root, so
//! nothing here leaves loopback. `v4only.lab.test` is used where the lab listens on
//! `127.0.0.1` alone, so that no `::1` attempt is made.

use std::sync::LazyLock;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Method};
use reach_http_probe::{
    EndpointOutcome, EndpointProbe, HopOptions, Network, NetworkConfig, Target,
    proxy::ProxySettings,
};
use reach_lab::Lab;
use reach_report::{
    Severity,
    endpoint::{Hop, TcpOutcome},
};

/// One lab for the whole binary: starting one per test would cost more than the tests.
static LAB: LazyLock<Lab> = LazyLock::new(|| Lab::start().expect("lab starts"));

/// Every probe's deadline: far above what loopback needs, far below a hung test.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The network a `reach check --dns-server LAB --ca-file LAB_CA [--proxy PROXY]` builds.
fn network(proxy: Option<&str>) -> Network {
    let lab = &*LAB;
    Network::new(&NetworkConfig {
        dns: reach_dns::DnsConfig {
            servers: vec![lab.dns],
            overrides: vec![],
            timeout: Duration::from_secs(2),
        },
        tls: reach_tls::TlsConfig {
            ca_files: vec![lab.ca_pem_path.clone()],
            client_cert: None,
            client_key: None,
        },
        proxy: ProxySettings::new(proxy.map(|p| (p, "the test's proxy")), |_| None)
            .expect("proxy settings"),
    })
    .expect("network")
}

async fn probe(url: &str, follow: bool, network: &Network) -> EndpointOutcome {
    let mut input = EndpointProbe::new(Target::parse(url, false).expect("target"), TIMEOUT);
    input.follow = follow;
    reach_http_probe::probe(&input, network).await
}

fn codes(outcome: &EndpointOutcome) -> Vec<&'static str> {
    outcome.findings.iter().map(|f| f.code.name()).collect()
}

fn status(hop: &Hop) -> Option<u16> {
    hop.http.as_ref().and_then(|h| h.status)
}

#[tokio::test]
async fn https_endpoint_with_timings_and_chain() {
    let url = format!("https://v4only.lab.test:{}/status/200", LAB.https.port());
    let outcome = probe(&url, false, &network(None)).await;

    assert!(
        outcome
            .findings
            .iter()
            .all(|f| f.severity != Severity::Fail),
        "{:?}",
        codes(&outcome)
    );
    let [hop] = outcome.details.hops.as_slice() else {
        panic!("one hop: {:?}", outcome.details.hops);
    };
    assert_eq!(status(hop), Some(200));

    let dns = hop.dns.as_ref().expect("a DNS phase");
    assert_eq!(dns.servers, [LAB.dns.to_string()]);
    assert_eq!(dns.answers.len(), 1, "{dns:?}");
    assert_eq!(dns.answers[0].address, "127.0.0.1");
    assert_eq!(dns.answers[0].ttl, Some(300));
    let tcp = hop.tcp.as_ref().expect("a TCP phase");
    assert_eq!(
        tcp.connected.as_deref(),
        Some(LAB.https.to_string().as_str())
    );

    let tls = hop.tls.as_ref().expect("a TLS phase");
    assert!(tls.verified);
    assert_eq!(tls.sni.as_deref(), Some("v4only.lab.test"));
    assert_eq!(tls.alpn.as_deref(), Some("h2"));
    assert_eq!(tls.chain.len(), 1, "the https server sends its leaf alone");
    let leaf = &tls.chain[0];
    assert!(
        leaf.sans.iter().any(|s| s.contains("v4only.lab.test")),
        "{leaf:?}"
    );
    assert!(leaf.days_left > 300, "{leaf:?}");
    assert_eq!(hop.http.as_ref().expect("HTTP").version, "HTTP/2");

    // Every phase ran, each timed from the hop's start, in order.
    let t = outcome.details.timings;
    let phases = [t.dns_ms, t.connect_ms, t.tls_ms, t.ttfb_ms].map(|p| p.expect("timed"));
    assert!(phases.windows(2).all(|w| w[0] <= w[1]), "{t:?}");
    assert!(phases[3] <= t.total_ms, "{t:?}");
    assert!(t.redirect_ms.is_none() && t.proxy_ms.is_none(), "{t:?}");
}

#[tokio::test]
async fn redirects_are_followed_hop_by_hop_and_loops_stop() {
    let network = network(None);
    let origin = format!("http://v4only.lab.test:{}", LAB.http.port());

    let chain = probe(&format!("{origin}/redirect/2"), true, &network).await;
    let urls: Vec<&str> = chain.details.hops.iter().map(|h| h.url.as_str()).collect();
    assert_eq!(
        urls,
        [
            format!("{origin}/redirect/2"),
            format!("{origin}/redirect/1"),
            format!("{origin}/redirect/0"),
            format!("{origin}/status/200"),
        ]
    );
    let statuses: Vec<_> = chain.details.hops.iter().map(status).collect();
    assert_eq!(statuses, [Some(302), Some(302), Some(302), Some(200)]);
    assert!(chain.findings.is_empty(), "{:?}", codes(&chain));
    assert!(chain.details.timings.redirect_ms.is_some());

    // Without --follow the first answer is the outcome.
    let single = probe(&format!("{origin}/redirect/2"), false, &network).await;
    assert_eq!(single.details.hops.len(), 1);

    let looping = probe(&format!("{origin}/loop/a"), true, &network).await;
    assert_eq!(looping.details.hops.len(), 2);
    assert_eq!(codes(&looping), ["http.redirect_loop"]);
}

#[tokio::test]
async fn a_refused_port_stops_at_tcp() {
    let url = format!("http://v4only.lab.test:{}/", LAB.refused.port());
    let outcome = probe(&url, false, &network(None)).await;

    assert_eq!(codes(&outcome), ["tcp.refused"]);
    let hop = &outcome.details.hops[0];
    let tcp = hop.tcp.as_ref().expect("a TCP phase");
    assert!(tcp.connected.is_none());
    let outcomes: Vec<_> = tcp.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [TcpOutcome::Refused]);
    assert!(hop.http.is_none(), "no request without a connection");
}

#[tokio::test]
async fn https_through_a_connect_proxy() {
    let url = format!("https://v4only.lab.test:{}/version", LAB.https.port());

    let open = network(Some(&format!("http://{}", LAB.proxy.open)));
    let outcome = probe(&url, false, &open).await;
    assert!(outcome.findings.is_empty(), "{:?}", codes(&outcome));
    let hop = &outcome.details.hops[0];
    let proxy = hop.proxy.as_ref().expect("a proxy phase");
    assert_eq!(proxy.mode.as_deref(), Some("connect"));
    assert_eq!(proxy.status, Some(200));
    assert_eq!(proxy.source, "the test's proxy");
    // The TCP phase is the proxy's; the TLS one goes through the tunnel to the target.
    assert_eq!(
        hop.tcp.as_ref().and_then(|t| t.connected.as_deref()),
        Some(LAB.proxy.open.to_string().as_str())
    );
    assert!(hop.tls.as_ref().is_some_and(|t| t.verified));
    assert_eq!(status(hop), Some(200));
    assert!(outcome.details.timings.proxy_ms.is_some());

    let auth = network(Some(&format!("http://{}", LAB.proxy.auth)));
    let refused = probe(&url, false, &auth).await;
    assert_eq!(codes(&refused), ["proxy.auth_required"]);
    assert!(refused.details.hops[0].tls.is_none());
}

#[tokio::test]
async fn an_expired_certificate_is_tls_cert_expired_with_its_chain() {
    let url = format!("https://v4only.lab.test:{}/", LAB.tls.expired.port());
    let outcome = probe(&url, false, &network(None)).await;

    assert_eq!(codes(&outcome), ["tls.cert_expired"]);
    let hop = &outcome.details.hops[0];
    let tls = hop.tls.as_ref().expect("a TLS phase");
    assert!(!tls.verified);
    let leaf = tls
        .chain
        .first()
        .expect("the chain is captured though it fails");
    assert!(leaf.days_left < 0, "{leaf:?}");
    assert!(hop.http.is_none(), "no request over a failed handshake");
}

#[tokio::test]
async fn one_hop_sends_the_method_headers_and_body() {
    let network = network(None);
    let url = url::Url::parse(&format!(
        "http://v4only.lab.test:{}/method",
        LAB.http.port()
    ))
    .expect("URL");
    let headers = [(
        HeaderName::from_static("content-type"),
        HeaderValue::from_static("text/plain"),
    )];
    let options = HopOptions {
        method: Method::DELETE,
        headers: &headers,
        body: b"x",
        body_cap: 1024,
        keep_body: true,
        expiry_warn_days: 14,
        deadline: tokio::time::Instant::now() + TIMEOUT,
    };
    let result = reach_http_probe::hop(&url, &options, &network).await;

    assert!(result.findings.is_empty(), "{:?}", result.findings);
    let http = result.hop.http.as_ref().expect("an HTTP phase");
    assert_eq!(http.method, "DELETE");
    assert_eq!(http.status, Some(200));
    assert_eq!(result.body, b"DELETE");
    assert!(
        http.request_headers
            .iter()
            .any(|h| h.name == "content-type" && h.value == "text/plain"),
        "{:?}",
        http.request_headers
    );
}
