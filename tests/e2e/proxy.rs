//! Proxies: the flag, the environment, `NO_PROXY`, CONNECT and its refusals,
//! each against an in-process proxy.

use reach_report::endpoint::Hop;
use reach_report::{Check, Code, Details, Status};

use crate::{assert_fails_with, codes, lab, reach, run_json, run_with};

fn hop(check: &Check) -> &Hop {
    match &check.details {
        Details::Endpoint(d) => &d.hops[0],
        _ => panic!("no details: {check:#?}"),
    }
}

fn https_target() -> String {
    format!("https://good.lab.test:{}/", lab().https.port())
}

#[test]
fn connect_tunnel_through_flag_and_environment() {
    let lab = lab();
    let target = https_target();
    let proxy = format!("http://{}", lab.proxy.open);
    let run = run_json(&["--proxy", &proxy, &target]);
    let check = run.check(&target);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let first = hop(check);
    let phase = first.proxy.as_ref().unwrap();
    assert_eq!(phase.source, "--proxy");
    assert_eq!(phase.mode.as_deref(), Some("connect"));
    assert_eq!(phase.status, Some(200));
    assert!(first.timings.proxy_ms.is_some());
    // TCP went to the proxy; TLS is end to end with the target.
    assert_eq!(
        first.tcp.as_ref().unwrap().connected.as_deref(),
        Some(lab.proxy.open.to_string().as_str())
    );
    assert_eq!(
        first.tls.as_ref().unwrap().sni.as_deref(),
        Some("good.lab.test")
    );

    let mut cmd = reach();
    cmd.env("HTTPS_PROXY", &proxy);
    let run = run_with(cmd, &[&target]);
    let phase = hop(run.check(&target)).proxy.clone().unwrap();
    assert_eq!(phase.source, "HTTPS_PROXY");
    assert_eq!(run.check(&target).status, Status::Pass);

    // NO_PROXY sends the lab's names direct, and the report says why.
    let mut cmd = reach();
    cmd.env("https_proxy", format!("http://{}", lab.proxy.deny))
        .env("NO_PROXY", ".lab.test");
    let run = run_with(cmd, &[&target]);
    let check = run.check(&target);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let phase = hop(check).proxy.clone().unwrap();
    assert!(phase.url.is_none());
    assert!(phase.bypassed.unwrap().contains(".lab.test"));
}

#[test]
fn plain_http_goes_in_absolute_form() {
    let lab = lab();
    let target = format!("http://good.lab.test:{}/status/200", lab.http.port());
    let run = run_json(&["--proxy", &format!("http://{}", lab.proxy.open), &target]);
    let check = run.check(&target);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    assert_eq!(
        hop(check).proxy.as_ref().unwrap().mode.as_deref(),
        Some("forward")
    );
}

#[test]
fn proxy_authentication() {
    let lab = lab();
    let target = https_target();
    let port = lab.proxy.auth.port();
    let none = format!("http://127.0.0.1:{port}");
    let wrong = format!("http://user:nope@127.0.0.1:{port}");
    let right = format!("http://user:pass@127.0.0.1:{port}");

    let run = run_json(&["--proxy", &none, &target]);
    let check = run.check(&target);
    assert_fails_with(check, Code::ProxyAuthRequired);
    assert_eq!(check.findings[0].evidence["credentials_given"], false);

    let run = run_json(&["--proxy", &wrong, &target]);
    let check = run.check(&target);
    assert_fails_with(check, Code::ProxyAuthRequired);
    assert_eq!(check.findings[0].evidence["credentials_given"], true);
    assert!(
        !run.stdout.contains("nope"),
        "the proxy password is redacted"
    );

    let run = run_json(&["--proxy", &right, &target]);
    assert_eq!(run.check(&target).status, Status::Pass);
    assert!(!run.stdout.contains(":pass@"), "{}", run.stdout);
}

#[test]
fn proxy_refusals() {
    let lab = lab();
    let target = https_target();
    for (proxy, code) in [
        (lab.proxy.deny, Code::ProxyDenied),
        (lab.proxy.close, Code::ProxyDenied),
        (lab.refused, Code::ProxyConnectFailed),
    ] {
        let run = run_json(&["--proxy", &format!("http://{proxy}"), &target]);
        assert_fails_with(run.check(&target), code);
    }
    let run = run_json(&["--proxy", &format!("http://{}", lab.proxy.deny), &target]);
    assert_eq!(run.check(&target).findings[0].evidence["status"], 403);
    let run = run_json(&["--proxy", &format!("http://{}", lab.refused), &target]);
    assert_eq!(
        run.check(&target).findings[0].evidence["cause"],
        "tcp.refused"
    );
}

#[test]
fn malformed_proxy_settings_are_named() {
    let target = https_target();
    let run = run_json(&["--proxy", "socks5://127.0.0.1:1", &target]);
    assert_eq!(run.code, 2);
    // The check that would go through the proxy is the error that names it.
    let check = run.check(&target);
    assert_eq!(codes(check), [Code::InputInvalid]);
    assert!(check.findings[0].message.contains("socks5"), "{check:#?}");
    assert_eq!(check.findings[0].evidence["input"], "proxy settings");
}

#[test]
fn a_proxy_that_cannot_reach_the_target_is_not_a_refusal() {
    let lab = lab();
    // The proxy is up; the target port behind it refuses.
    let target = format!("https://good.lab.test:{}/", lab.refused.port());
    let run = run_json(&["--proxy", &format!("http://{}", lab.proxy.open), &target]);
    let check = run.check(&target);
    assert_fails_with(check, Code::ProxyUpstreamFailed);
    assert_eq!(check.findings[0].evidence["status"], 502);
}

#[test]
fn noproxy_flag_overrides_the_environment() {
    let lab = lab();
    let target = https_target();
    let mut cmd = reach();
    cmd.env("HTTPS_PROXY", format!("http://{}", lab.proxy.deny))
        .env("NO_PROXY", "other.example");
    let run = run_with(cmd, &["--noproxy", "good.lab.test", &target]);
    let check = run.check(&target);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    assert!(
        hop(check)
            .proxy
            .as_ref()
            .unwrap()
            .bypassed
            .as_deref()
            .unwrap()
            .contains("--noproxy")
    );
}
