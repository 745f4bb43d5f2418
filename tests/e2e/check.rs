//! `reach check`: every DNS, TCP and HTTP finding from its real condition.

use reach_report::endpoint::{DnsSource, EndpointDetails, TcpOutcome};
use reach_report::{Check, Code, Details, Status};

use crate::{assert_fails_with, codes, command, lab, run_json, run_with};

fn endpoint(check: &Check) -> &EndpointDetails {
    match &check.details {
        Details::Endpoint(d) => d,
        _ => panic!("no endpoint details: {check:#?}"),
    }
}

// ---- dns ---------------------------------------------------------------

#[test]
fn dns_answers_and_cname_chain_are_recorded() {
    let lab = lab();
    let good = format!("http://good.lab.test:{}/", lab.http.port());
    let alias = format!("http://alias.lab.test:{}/", lab.http.port());
    let run = run_json(&[&good, &alias]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let d = endpoint(run.check(&good));
    let dns = d.hops[0].dns.as_ref().unwrap();
    assert_eq!(dns.source, DnsSource::Servers);
    let mut types: Vec<&str> = dns.answers.iter().map(|a| a.record_type.as_str()).collect();
    types.sort_unstable();
    assert_eq!(types, ["A", "AAAA"]);
    assert!(dns.answers.iter().all(|a| a.ttl == Some(300)), "{dns:#?}");
    assert!(d.timings.dns_ms.is_some() && d.timings.connect_ms.is_some());
    assert!(d.timings.ttfb_ms.unwrap() >= d.timings.connect_ms.unwrap());

    let dns = endpoint(run.check(&alias)).hops[0].dns.as_ref().unwrap();
    let chain: Vec<(&str, &str, u32)> = dns
        .cname_chain
        .iter()
        .map(|c| (c.name.as_str(), c.target.as_str(), c.ttl))
        .collect();
    assert_eq!(
        chain,
        [
            ("alias.lab.test.", "alias2.lab.test.", 60),
            ("alias2.lab.test.", "good.lab.test.", 60)
        ]
    );
}

#[test]
fn dns_failures_are_classified() {
    let run = run_json(&[
        "--timeout",
        "1500ms",
        "http://nope.lab.test/",
        "http://nodata.lab.test/",
        "http://servfail.lab.test/",
        "http://timeout.lab.test/",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_fails_with(run.check("http://nope.lab.test/"), Code::DnsNxdomain);
    assert_fails_with(run.check("http://nodata.lab.test/"), Code::DnsNoRecords);
    assert_fails_with(run.check("http://servfail.lab.test/"), Code::DnsServfail);
    let timeout = run.check("http://timeout.lab.test/");
    assert_fails_with(timeout, Code::DnsTimeout);
    // Bounded by --timeout, with scheduling slack.
    assert!(timeout.duration_ms < 5000.0, "{}", timeout.duration_ms);
}

#[test]
fn cname_to_a_missing_name_is_nxdomain_with_the_chain() {
    let run = run_json(&["http://dangling.lab.test/"]);
    let check = run.check("http://dangling.lab.test/");
    assert_fails_with(check, Code::DnsNxdomain);
    let f = &check.findings[0];
    assert!(f.message.contains("missing.lab.test"), "{}", f.message);
    let chain = &f.evidence["cname_chain"];
    assert_eq!(chain[0]["name"], "dangling.lab.test.");
    assert_eq!(chain[0]["target"], "missing.lab.test.");
}

/// A loopback UDP port nothing listens on (it was free a moment ago).
fn closed_udp_port() -> String {
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().to_string()
}

#[test]
fn a_name_outside_the_servers_zones_is_refused() {
    // The lab is authoritative for lab.test only; it refuses the rest.
    let run = run_json(&["http://www.example.org/"]);
    let check = run.check("http://www.example.org/");
    assert_fails_with(check, Code::DnsRefused);
    let f = &check.findings[0];
    assert_eq!(f.evidence["rcode"], "REFUSED");
    assert_eq!(f.evidence["results"][0]["result"], "refused");
    assert!(f.message.contains("refused"), "{}", f.message);
}

#[test]
fn a_closed_dns_port_ends_at_once() {
    let closed = closed_udp_port();
    let mut cmd = command();
    cmd.arg("check");
    let started = std::time::Instant::now();
    let run = run_with(
        cmd,
        &[
            "--timeout",
            "10s",
            "--dns-server",
            &closed,
            "http://good.lab.test/",
        ],
    );
    // A bound, not a benchmark: the ICMP port unreachable ends it, not the 10 s.
    assert!(
        started.elapsed().as_secs_f64() < 3.0,
        "{:?}",
        started.elapsed()
    );
    let check = run.check("http://good.lab.test/");
    assert_fails_with(check, Code::DnsUnreachable);
    let f = &check.findings[0];
    assert!(
        f.message.contains(&format!("nothing listens on {closed}")),
        "{}",
        f.message
    );
    assert_eq!(f.evidence["results"][0]["result"], "port_closed");
    assert_eq!(f.evidence["results"][0]["server"], closed);
}

#[test]
fn with_several_servers_each_one_is_asked_and_reported() {
    let closed = closed_udp_port();
    // The lab answers: the closed port beside it changes nothing.
    let run = run_json(&["--dns-server", &closed, "http://good.lab.test:1/"]);
    let check = run.check("http://good.lab.test:1/");
    assert!(
        !codes(check).iter().any(|c| c.area() == "dns"),
        "{check:#?}"
    );
    // The lab refuses, the other port is closed: the finding says both.
    let run = run_json(&[
        "--timeout",
        "10s",
        "--dns-server",
        &closed,
        "http://www.example.org/",
    ]);
    let check = run.check("http://www.example.org/");
    assert_fails_with(check, Code::DnsRefused);
    let f = &check.findings[0];
    assert!(f.message.contains("refused the query"), "{}", f.message);
    assert!(
        f.message.contains(&format!("nothing listens on {closed}")),
        "{}",
        f.message
    );
    let results: Vec<&str> = f.evidence["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(results, ["refused", "port_closed"]);
    assert!(check.duration_ms < 3000.0, "{}", check.duration_ms);
}

#[test]
fn resolve_skips_dns() {
    let lab = lab();
    let url = format!("http://api.example.invalid:{}/", lab.http.port());
    let resolve = format!("api.example.invalid:{}:127.0.0.1", lab.http.port());
    let run = run_json(&["--resolve", &resolve, &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dns = endpoint(run.check(&url)).hops[0].dns.clone().unwrap();
    assert_eq!(dns.source, DnsSource::Override);
    assert_eq!(dns.answers[0].address, "127.0.0.1");
}

// ---- tcp ---------------------------------------------------------------

#[test]
fn refused_and_dropped_connections() {
    let lab = lab();
    let refused = format!("http://{}/", lab.refused);
    let dropping = format!("http://{}/", lab.dropping);
    let run = run_json(&["--timeout", "1s", &refused, &dropping]);
    assert_eq!(run.code, 1);
    assert_fails_with(run.check(&refused), Code::TcpRefused);
    let dropped = run.check(&dropping);
    assert_fails_with(dropped, Code::TcpTimeout);
    let attempts = &endpoint(dropped).hops[0].tcp.as_ref().unwrap().attempts;
    assert_eq!(attempts[0].outcome, TcpOutcome::Timeout);
}

#[test]
fn every_address_is_tried_until_one_connects() {
    let lab = lab();
    // The first address refuses, the second is the lab's HTTP server.
    let url = format!("http://multi.example.invalid:{}/", lab.http.port());
    let resolve = format!(
        "multi.example.invalid:{}:127.0.0.2,127.0.0.1",
        lab.http.port()
    );
    let run = run_json(&["--resolve", &resolve, &url]);
    let check = run.check(&url);
    // 127.0.0.2 is loopback too: the lab listens on 127.0.0.1 only, so it refuses.
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let tcp = endpoint(check).hops[0].tcp.clone().unwrap();
    let outcomes: Vec<TcpOutcome> = tcp.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [TcpOutcome::Refused, TcpOutcome::Connected]);
    assert_eq!(
        tcp.connected.as_deref(),
        Some(format!("127.0.0.1:{}", lab.http.port()).as_str())
    );
}

// ---- http --------------------------------------------------------------

#[test]
fn error_status_and_silent_server() {
    let lab = lab();
    let not_found = format!("http://good.lab.test:{}/status/404", lab.http.port());
    let silent = format!("http://{}/", lab.silent);
    let run = run_json(&["--timeout", "1s", &not_found, &silent]);
    let check = run.check(&not_found);
    assert_fails_with(check, Code::HttpStatusError);
    assert_eq!(check.findings[0].evidence["status"], 404);
    // The page's own words are in the evidence (issue 16, point 11).
    assert_eq!(check.findings[0].evidence["body"], "status 404");
    assert_fails_with(run.check(&silent), Code::HttpTimeout);
}

#[test]
fn redirects_are_followed_and_recorded() {
    let lab = lab();
    let url = format!("http://good.lab.test:{}/redirect/2", lab.http.port());
    let run = run_json(&["--follow", &url]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let d = endpoint(run.check(&url));
    let statuses: Vec<u16> = d
        .hops
        .iter()
        .map(|h| h.http.as_ref().unwrap().status.unwrap())
        .collect();
    assert_eq!(statuses, [302, 302, 302, 200]);
    assert!(d.hops[3].url.ends_with("/status/200"));
    assert!(d.timings.redirect_ms.is_some());

    // Without --follow the 302 is the answer.
    let run = run_json(&[&url]);
    assert_eq!(run.code, 0);
    assert_eq!(endpoint(run.check(&url)).hops.len(), 1);
}

#[test]
fn redirect_loop_and_too_many_redirects() {
    let lab = lab();
    let looping = format!("http://good.lab.test:{}/loop/a", lab.http.port());
    let long = format!("http://good.lab.test:{}/redirect/5", lab.http.port());
    let run = run_json(&["-L", "--max-redirects", "3", &looping, &long]);
    assert_fails_with(run.check(&looping), Code::HttpRedirectLoop);
    assert_fails_with(run.check(&long), Code::HttpTooManyRedirects);
    assert_eq!(endpoint(run.check(&long)).hops.len(), 4);
}

#[test]
fn https_downgrade_is_reported() {
    let lab = lab();
    let url = format!("https://good.lab.test:{}/downgrade", lab.https.port());
    let run = run_json(&["-L", &url]);
    let check = run.check(&url);
    assert_eq!(codes(check), [Code::HttpHttpsDowngrade]);
    assert_eq!(check.status, Status::Warn);
    assert_eq!(run.code, 0);
    let strict = run_json(&["-L", "--strict", &url]);
    assert_eq!(strict.code, 1);
}

#[test]
fn https_speaks_h2_and_verifies_with_ca_file() {
    let lab = lab();
    let url = format!("https://good.lab.test:{}/version", lab.https.port());
    let run = run_json(&[&url]);
    assert_eq!(run.code, 0, "{:#?}", run.report);
    let d = endpoint(run.check(&url));
    let tls = d.hops[0].tls.as_ref().unwrap();
    assert!(tls.verified);
    assert_eq!(tls.alpn.as_deref(), Some("h2"));
    assert_eq!(tls.sni.as_deref(), Some("good.lab.test"));
    assert!(tls.chain[0].sans.iter().any(|s| s == "good.lab.test"));
    assert_eq!(d.hops[0].http.as_ref().unwrap().version, "HTTP/2");
    assert!(d.timings.tls_ms.unwrap() >= d.timings.connect_ms.unwrap());

    // Without the lab CA the chain is not trusted.
    let out = crate::command()
        .timeout(std::time::Duration::from_secs(30))
        .args([
            "check",
            "--json",
            "--dns-server",
            &lab.dns.to_string(),
            &url,
        ])
        .output()
        .unwrap();
    let report: reach_report::Report = serde_json::from_slice(&out.stdout).unwrap();
    // The lab's server sends its leaf alone, and its issuer is not trusted:
    // on the wire that is an incomplete chain (openssl: 21, unable to
    // verify the first certificate), whose message names both causes.
    assert_eq!(codes(&report.checks[0]), [Code::TlsIncompleteChain]);
}

#[test]
fn method_and_headers_are_sent() {
    let lab = lab();
    let method = format!("http://good.lab.test:{}/method", lab.http.port());
    let echo = format!(
        "http://good.lab.test:{}/echo-header/x-reach-test",
        lab.http.port()
    );
    let run = run_json(&["-X", "POST", "-H", "X-Reach-Test: yes", &method, &echo]);
    assert_eq!(run.code, 0, "{:#?}", run.report);
    let http = endpoint(run.check(&method)).hops[0].http.clone().unwrap();
    assert_eq!(http.method, "POST");
    // The server's body is the method it saw: four bytes, `POST`.
    assert_eq!(http.body_bytes, 4);
    // The server echoes the header it received.
    let http = endpoint(run.check(&echo)).hops[0].http.clone().unwrap();
    let echoed = http.headers.iter().find(|h| h.name == "x-echo").unwrap();
    assert_eq!(echoed.value, "yes");
}

#[test]
fn credentials_are_not_forwarded_to_another_origin() {
    let lab = lab();
    let port = lab.http.port();
    let same = format!("http://good.lab.test:{port}/to?/echo-header/authorization");
    let other = format!(
        "http://good.lab.test:{port}/to?http://v4only.lab.test:{port}/echo-header/authorization"
    );
    let run = run_json(&["-L", "-H", "Authorization: Bearer s3cr3t", &same, &other]);
    // Same origin: the header arrives.
    assert_eq!(
        run.check(&same).status,
        Status::Pass,
        "{:#?}",
        run.check(&same)
    );
    // Another host: reach drops it, as curl does, and the lab answers 400.
    let check = run.check(&other);
    assert_fails_with(check, Code::HttpStatusError);
    let last = endpoint(check).hops.last().unwrap().http.clone().unwrap();
    assert!(
        last.request_headers
            .iter()
            .all(|h| h.name != "authorization")
    );
}

#[test]
fn certificate_for_another_name_is_a_hostname_mismatch() {
    let lab = lab();
    let port = lab.https.port();
    let url = format!("https://wrong.example.invalid:{port}/");
    let resolve = format!("wrong.example.invalid:{port}:127.0.0.1");
    let run = run_json(&["--resolve", &resolve, &url]);
    let check = run.check(&url);
    assert_fails_with(check, Code::TlsHostnameMismatch);
    let names = &check.findings[0].evidence["names"];
    assert!(
        names
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "good.lab.test"),
        "{names}"
    );
    // The chain is recorded although verification failed.
    let tls = endpoint(check).hops[0].tls.clone().unwrap();
    assert!(!tls.verified);
    assert!(!tls.chain.is_empty());
}

#[test]
fn body_read_is_capped() {
    let lab = lab();
    let url = format!("http://good.lab.test:{}/big", lab.http.port());
    let run = run_json(&["--max-body", "65536", &url]);
    let http = endpoint(run.check(&url)).hops[0].http.clone().unwrap();
    assert!(http.body_truncated);
    assert!(http.body_bytes < 1024 * 1024, "{}", http.body_bytes);
}

#[test]
fn a_slow_target_does_not_delay_the_others() {
    let lab = lab();
    let silent = format!("http://{}/", lab.silent);
    let good = format!("http://good.lab.test:{}/", lab.http.port());
    // Three targets that each take the whole 2 s timeout, and a good one.
    let run = run_json(&["--timeout", "2s", &silent, &silent, &silent, &good]);
    // The report keeps input order.
    assert_eq!(run.report.checks[0].target, silent);
    assert_eq!(run.report.checks[3].target, good);
    assert_eq!(run.report.checks[3].status, Status::Pass);
    for check in &run.report.checks[..3] {
        assert_fails_with(check, Code::HttpTimeout);
    }
    // Run one after another they would need 6 s; concurrently, one timeout.
    assert!(
        run.report.duration_ms < 4500.0,
        "{}",
        run.report.duration_ms
    );
}
