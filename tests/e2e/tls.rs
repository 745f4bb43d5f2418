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
