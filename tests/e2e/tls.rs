//! Every `tls.*` code from a real handshake with a lab server whose PKI is
//! broken in exactly one way.

use std::net::SocketAddr;

use reach_report::endpoint::TlsPhase;
use reach_report::{Check, Code, Details, Status};

use crate::{assert_fails_with, codes, lab, reach, run_json, run_with};

/// `https://v4only.lab.test:PORT/` for a lab TLS server: the name every
/// lab leaf covers, resolving to 127.0.0.1 only.
fn url(addr: SocketAddr) -> String {
    format!("https://v4only.lab.test:{}/", addr.port())
}

fn tls(check: &Check) -> &TlsPhase {
    match &check.details {
        Details::Endpoint(d) => d.hops[0].tls.as_ref().expect("a TLS phase"),
        _ => panic!("no details: {check:#?}"),
    }
}

#[test]
fn certificate_validity() {
    let t = &lab().tls;
    let (expired, future, soon) = (url(t.expired), url(t.not_yet_valid), url(t.expiring_soon));
    let run = run_json(&[&expired, &future, &soon]);
    assert_eq!(run.code, 1);

    let check = run.check(&expired);
    assert_fails_with(check, Code::TlsCertExpired);
    // The chain is recorded although verification failed.
    let phase = tls(check);
    assert!(!phase.verified);
    assert!(phase.chain[0].days_left < 0, "{phase:#?}");
    assert_eq!(phase.chain[0].sha256.len(), 64);
    assert_eq!(phase.chain[0].public_key, "EC P-256");

    assert_fails_with(run.check(&future), Code::TlsCertNotYetValid);

    let check = run.check(&soon);
    assert_eq!(codes(check), [Code::TlsCertExpiringSoon]);
    assert_eq!(check.status, Status::Warn);
    assert!(tls(check).verified);
    assert!(tls(check).version.is_some() && tls(check).cipher.is_some());

    // Below the threshold it is no longer a warning.
    let run = run_json(&["--expiry-warn-days", "2", &soon]);
    assert_eq!(run.check(&soon).status, Status::Pass);
}

#[test]
fn untrusted_and_incomplete_chains() {
    let t = &lab().tls;
    let (selfsigned, untrusted, incomplete, full) = (
        url(t.self_signed),
        url(t.untrusted_root),
        url(t.incomplete_chain),
        url(t.full_chain),
    );
    let run = run_json(&[&selfsigned, &untrusted, &incomplete, &full]);

    let check = run.check(&selfsigned);
    assert_fails_with(check, Code::TlsUntrustedIssuer);
    assert_eq!(check.findings[0].evidence["self_signed"], true);

    let check = run.check(&untrusted);
    assert_fails_with(check, Code::TlsUntrustedIssuer);
    assert!(
        check.findings[0].message.contains("Untrusted Root CA"),
        "{check:#?}"
    );
    assert_eq!(tls(check).chain.len(), 2);

    let check = run.check(&incomplete);
    assert_fails_with(check, Code::TlsIncompleteChain);
    let f = &check.findings[0];
    assert!(f.message.contains("Lab Intermediate CA"), "{}", f.message);
    assert!(
        f.message.contains("browsers may hide this"),
        "{}",
        f.message
    );
    assert_eq!(
        f.evidence["ca_issuers"][0],
        "http://pki.lab.test/intermediate.crt"
    );

    assert_eq!(
        run.check(&full).status,
        Status::Pass,
        "{:#?}",
        run.check(&full)
    );
}

#[test]
fn client_certificates() {
    let t = &lab().tls;
    let target = url(t.client_auth);

    let run = run_json(&[&target]);
    let check = run.check(&target);
    assert_fails_with(check, Code::TlsClientCertRequired);
    assert_eq!(check.findings[0].evidence["client_cert_sent"], false);
    assert!(tls(check).client_cert_requested);

    let mut cmd = reach();
    cmd.arg("--client-cert")
        .arg(&t.wrong_client_cert_path)
        .arg("--client-key")
        .arg(&t.wrong_client_key_path);
    let run = run_with(cmd, &[&target]);
    let check = run.check(&target);
    assert_fails_with(check, Code::TlsClientCertRequired);
    assert_eq!(check.findings[0].evidence["client_cert_sent"], true);

    let mut cmd = reach();
    cmd.arg("--client-cert")
        .arg(&t.client_cert_path)
        .arg("--client-key")
        .arg(&t.client_key_path);
    let run = run_with(cmd, &[&target]);
    let check = run.check(&target);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    assert!(tls(check).client_cert_sent);
}

#[test]
fn inspecting_proxy_is_recognised() {
    let t = &lab().tls;
    let target = url(t.intercepted);
    // On a corporate machine the proxy's CA is trusted: the check works, and
    // reach says who re-signed it.
    let mut cmd = reach();
    cmd.arg("--ca-file").arg(&t.intercept_ca_pem_path);
    let run = run_with(cmd, &[&target]);
    let check = run.check(&target);
    assert_eq!(codes(check), [Code::TlsIntercepted], "{check:#?}");
    assert_eq!(check.status, Status::Warn);
    assert_eq!(check.findings[0].evidence["vendor"], "Zscaler");

    // Where the CA is not trusted (a container, a JVM), it also fails: the
    // leaf comes alone and its issuer is unknown here.
    let run = run_json(&[&target]);
    assert_eq!(
        codes(run.check(&target)),
        [Code::TlsIncompleteChain, Code::TlsIntercepted]
    );
}

#[test]
fn alerts_and_old_protocols() {
    let t = &lab().tls;
    let (alert, legacy, legacy11) = (url(t.alert), url(t.legacy), url(t.legacy11));
    let run = run_json(&[&alert, &legacy, &legacy11]);

    let check = run.check(&alert);
    assert_fails_with(check, Code::TlsHandshakeFailed);
    assert_eq!(check.findings[0].evidence["alert"], "handshake_failure");

    for (target, version) in [(&legacy, "TLS 1.0"), (&legacy11, "TLS 1.1")] {
        let check = run.check(target);
        assert_fails_with(check, Code::TlsProtocolTooOld);
        assert_eq!(
            check.findings[0].evidence["server_version"], version,
            "{check:#?}"
        );
        assert!(check.findings[0].message.contains(version));
    }
}

/// `reach check --no-color` in text with `args`: its standard output.
fn text(args: &[&str]) -> String {
    let out = reach()
        .arg("--no-color")
        .args(args)
        .output()
        .expect("reach runs");
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The block of the text report that is `target`'s check.
#[track_caller]
fn block<'a>(text: &'a str, target: &str) -> &'a str {
    text.split("\n\n")
        .find(|b| b.lines().next().and_then(|l| l.split_whitespace().nth(1)) == Some(target))
        .unwrap_or_else(|| panic!("no check of {target} in: {text}"))
}

/// The lines of `block` (indentation removed) that start with `prefix`.
fn lines<'a>(block: &'a str, prefix: &str) -> Vec<&'a str> {
    block
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with(prefix))
        .collect()
}

/// `-v` shows what `curl -v` and `openssl s_client` would: the handshake,
/// each certificate, the request line and headers sent and the answer's,
/// with secrets redacted. Without `-v` none of it.
#[test]
fn verbose_text_shows_the_handshake_the_chain_and_the_exchange() {
    let target = format!("https://good.lab.test:{}/", lab().https.port());
    let auth = ["-H", "Authorization: Bearer SECRET-X"];
    let out = text(&["-v", auth[0], auth[1], &target]);
    assert!(!out.contains("SECRET-X"), "{out}");
    let b = block(&out, &target);
    let tls = lines(b, "tls ");
    assert_eq!(tls.len(), 1, "{b}");
    for part in [
        "TLS 1.3 · TLS13_",
        "alpn h2",
        "sni good.lab.test",
        "verified",
    ] {
        assert!(tls[0].contains(part), "{part}: {b}");
    }
    assert!(!tls[0].contains('—'), "{b}");
    // The leaf, as the lab's PKI made it.
    let want = [
        "cert 1 subject    O=reach lab, CN=good.lab.test",
        "issuer     O=reach lab, CN=reach lab CA",
        "sans       good.lab.test, alias.lab.test, v4only.lab.test, localhost, 127.0.0.1",
        "key        EC P-256 · signed with ECDSA with SHA-256",
        "sha256     ",
        "> GET / HTTP/2",
        "> user-agent: reach/",
        "> authorization: Bearer [redacted]",
        "< HTTP/2 200",
        "< content-type: text/plain",
        "body 10 bytes",
    ];
    for line in want {
        assert_eq!(lines(b, line).len(), 1, "{line}: {b}");
    }
    let valid = lines(b, "valid ");
    assert_eq!(valid.len(), 1, "{b}");
    assert!(
        valid[0].contains("Z to ") && valid[0].ends_with(" days left)"),
        "{b}"
    );

    let quiet = text(&[auth[0], auth[1], &target]);
    let b = block(&quiet, &target);
    for prefix in ["tls ", "cert ", "> ", "< ", "valid ", "sans "] {
        assert!(lines(b, prefix).is_empty(), "{prefix}: {quiet}");
    }
}

/// A hop without a completed handshake says why, in words: plain HTTP, a
/// refused chain (still shown), an alert before any certificate; never a
/// row of dashes.
#[test]
fn verbose_text_says_why_a_hop_has_no_handshake() {
    let lab = lab();
    let plain = format!("http://good.lab.test:{}/", lab.http.port());
    let (expired, alert) = (url(lab.tls.expired), url(lab.tls.alert));
    let out = text(&["-v", &plain, &expired, &alert]);
    assert!(!out.contains("tls  —"), "{out}");
    assert!(!out.contains("alpn —"), "{out}");

    let b = block(&out, &plain);
    assert_eq!(lines(b, "tls "), ["tls  none: plain HTTP (http://)"], "{b}");
    assert_eq!(lines(b, "> GET / HTTP/1.1").len(), 1, "{b}");
    let host = format!("> host: good.lab.test:{}", lab.http.port());
    assert_eq!(lines(b, &host).len(), 1, "{b}");
    assert_eq!(lines(b, "< HTTP/1.1 200").len(), 1, "{b}");
    assert!(lines(b, "cert ").is_empty(), "{b}");

    let b = block(&out, &expired);
    let tls = lines(b, "tls ");
    assert_eq!(tls.len(), 1, "{b}");
    assert!(tls[0].starts_with("tls  handshake not completed"), "{b}");
    assert!(tls[0].contains("alpn offered h2, http/1.1"), "{b}");
    assert!(tls[0].ends_with("not verified: see the findings"), "{b}");
    // The refused chain is shown all the same.
    assert_eq!(lines(b, "cert 1 subject").len(), 1, "{b}");
    assert!(lines(b, "valid ")[0].ends_with("(expired)"), "{b}");
    assert!(lines(b, "> ").is_empty(), "{b}");

    let b = block(&out, &alert);
    let tls = lines(b, "tls ");
    assert!(
        tls[0].ends_with("no certificate received: see the findings"),
        "{b}"
    );
}

/// Through a proxy: which one, how, and a forwarded request's absolute
/// target, the proxy's credentials redacted.
#[test]
fn verbose_text_names_the_proxy_and_the_forwarded_target() {
    let lab = lab();
    let target = format!("http://good.lab.test:{}/", lab.http.port());
    let proxy = format!("http://user:SECRET-P@{}", lab.proxy.open);
    let out = text(&["-v", "--proxy", &proxy, &target]);
    assert!(!out.contains("SECRET-P"), "{out}");
    let b = block(&out, &target);
    let want = format!(
        "proxy via http://user:[redacted]@{}/ (from --proxy) · requests forwarded",
        lab.proxy.open
    );
    assert_eq!(lines(b, "proxy "), [want.as_str()], "{b}");
    let request = format!("> GET {target} HTTP/1.1");
    assert_eq!(lines(b, &request).len(), 1, "{b}");
    assert_eq!(
        lines(b, "> proxy-authorization: Basic [redacted]").len(),
        1,
        "{b}"
    );
}
