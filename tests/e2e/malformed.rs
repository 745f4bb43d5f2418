//! Peers that break protocols: every one gives a clean finding, never a
//! panic or a hang.

use reach_report::{Check, Code, Status};

use crate::{Run, codes, command, lab, run_with};

fn check(args: &[&str]) -> Run {
    let mut cmd = command();
    cmd.arg("check").args(["--timeout", "3s"]);
    run_with(cmd, args)
}

fn only(run: &Run) -> &Check {
    assert_eq!(run.report.checks.len(), 1, "{}", run.stdout);
    &run.report.checks[0]
}

#[track_caller]
fn fails_cleanly(run: &Run, want: &[Code]) {
    let c = only(run);
    assert!(matches!(run.code, 1), "exit {}: {}", run.code, run.stdout);
    assert_eq!(c.status, Status::Fail, "{c:#?}");
    let found = codes(c);
    assert!(
        want.iter().any(|w| found.contains(w)),
        "want one of {want:?}, found {found:?}"
    );
    assert!(!found.contains(&Code::InternalError), "{found:?}");
}

#[test]
fn dns_servers_that_answer_garbage() {
    let m = &lab().malformed;
    for server in [m.dns_garbage, m.dns_truncated, m.dns_wrong_id] {
        let run = check(&["--dns-server", &server.to_string(), "http://good.lab.test/"]);
        fails_cleanly(&run, &[Code::DnsTimeout, Code::DnsServfail]);
        println!("{server}: {}", only(&run).findings[0].message);
    }
}

#[test]
fn tls_servers_that_break_the_handshake() {
    let m = &lab().malformed;
    for server in [m.tls_garbage, m.tls_close, m.tls_half_hello] {
        let run = check(&[&format!("https://{server}/")]);
        fails_cleanly(&run, &[Code::TlsHandshakeFailed]);
        println!("{server}: {}", only(&run).findings[0].message);
    }
    let run = check(&[&format!("https://{}/", m.tls_close)]);
    let message = &only(&run).findings[0].message;
    assert!(
        message.contains("closed the connection during the TLS handshake"),
        "{message}"
    );
}

#[test]
fn http_servers_that_break_http() {
    let m = &lab().malformed;
    for server in [m.http_bad_status, m.http_bad_header, m.http_garbage] {
        let run = check(&[&format!("http://{server}/")]);
        fails_cleanly(&run, &[Code::HttpProtocolError]);
        println!("{server}: {}", only(&run).findings[0].message);
    }
    // A body shorter than its Content-Length: the status arrived, the
    // body did not.
    let run = check(&[&format!("http://{}/", m.http_lying_length)]);
    fails_cleanly(&run, &[Code::HttpProtocolError]);
    let message = &only(&run).findings[0].message;
    assert!(
        message.contains("closed the connection after 10 of the 100000 body bytes"),
        "{message}"
    );
}

#[test]
fn an_idp_with_broken_redirects() {
    let port = lab().idp.port();
    for path in [
        "/bad-location",
        "/js-location",
        "/empty-location",
        "/nowhere-location",
    ] {
        let mut cmd = command();
        cmd.arg("sso")
            .arg("--resolve")
            .arg(format!("app.sp.test:{port}:127.0.0.1"))
            .args(["--timeout", "3s"]);
        let run = run_with(cmd, &[&format!("http://app.sp.test:{port}{path}")]);
        let c = only(&run);
        println!(
            "{path}: {:?}",
            c.findings.iter().map(|f| &f.message).collect::<Vec<_>>()
        );
        assert_eq!(run.code, 1, "{path}: {}", run.stdout);
        assert!(
            codes(c).contains(&Code::HttpProtocolError),
            "{path}: {c:#?}"
        );
        assert!(!codes(c).contains(&Code::InternalError));
    }
}
