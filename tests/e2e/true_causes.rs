//! Issue 14's peers whose failure was blamed on something else: a login hop
//! without a usable response is where the chain ends; a URL too long to
//! send says so; a CNAME loop is a loop; an oversized certificate chain is
//! too large, not "not TLS".

use reach_report::sso::SsoDetails;
use reach_report::{CheckKind, Code, Details, Status};

use crate::{Run, command, finding, lab, run_with};

const APP: &str = "app.sp.test";

fn app(path: &str) -> String {
    format!("http://{APP}:{}{path}", lab().idp.port())
}

/// `reach sso` with the app's name resolved to the lab's listener.
fn sso(args: &[&str]) -> Run {
    let mut cmd = command();
    cmd.arg("sso")
        .arg("--resolve")
        .arg(format!("{APP}:{}:127.0.0.1", lab().idp.port()))
        .arg("--timeout")
        .arg("20s");
    run_with(cmd, args)
}

fn sso_details(run: &Run) -> &SsoDetails {
    run.report
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Sso)
        .and_then(|c| match &c.details {
            Details::Sso(d) => Some(d),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no sso check: {:#?}", run.report))
}

/// 90 Set-Cookie headers of 2 KB: the hop has no usable response, and the
/// chain ends there, not at an "app page".
#[test]
fn a_hop_without_a_usable_response_ends_the_chain() {
    let run = sso(&[&app("/cookie-flood")]);
    let d = sso_details(&run);
    assert_eq!(d.hops.len(), 1, "{d:#?}");
    assert_eq!(d.end.kind, "no_response", "{d:#?}");
    assert_eq!(d.end.hop, 1);
    assert_eq!(d.hops[0].page, "no_response");
    assert!(!d.end.summary.contains("app page"), "{}", d.end.summary);
    assert!(d.end.summary.contains("hop 1"), "{}", d.end.summary);
    let check = &run.report.checks[0];
    assert_eq!(check.status, Status::Fail);
    let f = finding(check, Code::HttpProtocolError);
    assert!(f.message.contains("response head larger"), "{}", f.message);
    assert!(f.remedy.contains("cookies"), "{}", f.remedy);
    assert_eq!(run.code, 1);
}

/// A meta refresh whose URL doubles at every hop: the hop whose URL cannot
/// be sent ends the chain, and says the URL is too long.
#[test]
fn a_url_too_long_to_send_ends_the_chain_and_says_so() {
    let run = sso(&[&app("/grow")]);
    let d = sso_details(&run);
    // 4 KiB, 8, 16, 32 are sent; the 64 KiB one is not.
    assert_eq!(d.hops.len(), 6, "{:#?}", d.end);
    assert_eq!(d.end.kind, "no_response", "{:#?}", d.end);
    assert_eq!(d.end.hop, 6);
    assert!(d.end.summary.contains("hop 6"), "{}", d.end.summary);
    let check = &run.report.checks[0];
    let f = finding(check, Code::HttpProtocolError);
    assert!(f.message.contains("bytes long"), "{}", f.message);
    assert!(!f.remedy.contains("Something other than"), "{}", f.remedy);
    assert!(f.remedy.contains("too long"), "{}", f.remedy);
    // The report does not carry the 64 KiB URL in the message.
    assert!(f.message.len() < 1000, "{}", f.message.len());
}

/// `reach check` of a URL longer than an HTTP request can carry: the true
/// cause and remedy, not "something other than the expected HTTP service".
#[test]
fn a_too_long_url_is_named_as_such() {
    let long = format!(
        "http://127.0.0.1:{}/app?x={}",
        lab().idp.port(),
        "a".repeat(70_000)
    );
    let mut cmd = command();
    cmd.arg("check");
    let run = run_with(cmd, &[&long]);
    let check = run.only();
    let f = finding(check, Code::HttpProtocolError);
    assert!(f.message.contains("bytes long"), "{}", f.message);
    assert!(!f.remedy.contains("Something other than"), "{}", f.remedy);
    assert!(f.remedy.contains("too long"), "{}", f.remedy);
}

/// A server that answers 414 URI Too Long: the remedy says the URL is too
/// long for it, not what a generic error status says.
#[test]
fn a_414_says_the_url_is_too_long() {
    let port = lab().idp.port();
    let long = format!("http://{APP}:{port}/limited?x={}", "a".repeat(9000));
    let mut cmd = command();
    cmd.arg("check")
        .arg("--resolve")
        .arg(format!("{APP}:{port}:127.0.0.1"));
    let run = run_with(cmd, &[&long]);
    let f = finding(run.only(), Code::HttpStatusError);
    assert_eq!(f.evidence["status"], 414);
    assert!(f.message.contains("URI Too Long"), "{}", f.message);
    assert!(f.remedy.contains("Shorten the URL"), "{}", f.remedy);
}

/// A certificate chain over the 64 KiB a TLS client accepts: the true cause,
/// not "does not answer with TLS".
#[test]
fn a_certificate_chain_too_large_is_named_as_such() {
    let target = format!("https://good.lab.test:{}/", lab().tls.huge_chain.port());
    let run = crate::run_json(&[&target]);
    let check = run.check(&target);
    let f = finding(check, Code::TlsHandshakeFailed);
    assert!(
        !f.message.contains("does not answer with TLS"),
        "{}",
        f.message
    );
    assert!(f.message.contains("certificate message"), "{}", f.message);
    assert!(f.remedy.contains("64 KiB"), "{}", f.remedy);
    assert_eq!(check.status, Status::Fail);
}

/// A CNAME loop is named as one, with its chain, not "no address records".
#[test]
fn a_cname_loop_is_named_with_its_chain() {
    let target = format!("https://loop-a.lab.test:{}/", lab().https.port());
    let run = crate::run_json(&[&target]);
    let check = run.check(&target);
    let f = &check.findings[0];
    assert_eq!(f.code, Code::DnsNoRecords, "{f:#?}");
    assert!(f.message.contains("CNAME loop"), "{}", f.message);
    assert!(!f.remedy.contains("family"), "{}", f.remedy);
    assert!(
        f.message
            .contains("loop-a.lab.test → loop-b.lab.test → loop-a.lab.test"),
        "{}",
        f.message
    );
    assert_eq!(check.status, Status::Fail);
}

/// The same loop through a recursive resolver, which answers SERVFAIL (as
/// Unbound does): the SERVFAIL is explained by the loop and its chain.
#[test]
fn a_cname_loop_behind_a_recursive_resolver_is_named() {
    let target = format!("https://rloop-a.lab.test:{}/", lab().https.port());
    let run = crate::run_json(&[&target]);
    let check = run.check(&target);
    let f = &check.findings[0];
    assert_eq!(f.code, Code::DnsServfail, "{f:#?}");
    assert!(
        f.message
            .contains("rloop-a.lab.test → rloop-b.lab.test → rloop-a.lab.test"),
        "{}",
        f.message
    );
    assert!(f.remedy.contains("CNAME records"), "{}", f.remedy);
    assert_eq!(f.evidence["rcode"], "SERVFAIL");
}
