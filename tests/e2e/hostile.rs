//! Servers that misbehave on purpose: reach ends within its timeout, with a
//! finding, reading a bounded amount.

use reach_report::{Check, Code, Details, Status};

use crate::{assert_fails_with, codes, lab, run_json};

fn url(addr: std::net::SocketAddr) -> String {
    format!("http://{addr}/")
}

fn body_bytes(check: &Check) -> u64 {
    match &check.details {
        Details::Endpoint(d) => d.hops[0].http.as_ref().map_or(0, |h| h.body_bytes),
        Details::None(_) => 0,
    }
}

#[test]
fn hostile_servers_end_in_findings() {
    let h = &lab().hostile;
    let (trickle, huge, many, endless, slow) = (
        url(h.trickle),
        url(h.huge_header),
        url(h.many_headers),
        url(h.endless_body),
        url(h.slow_body),
    );
    let never = url(lab().silent);
    let run = run_json(&[
        "--timeout",
        "2s",
        "--max-body",
        "262144",
        &trickle,
        &huge,
        &many,
        &endless,
        &slow,
        &never,
    ]);
    for target in [&trickle, &slow, &never] {
        let check = run.check(target);
        assert_fails_with(check, Code::HttpTimeout);
        assert!(
            check.duration_ms < 4000.0,
            "{target}: {}",
            check.duration_ms
        );
    }
    assert_fails_with(run.check(&huge), Code::HttpProtocolError);
    assert_fails_with(run.check(&many), Code::HttpProtocolError);

    let check = run.check(&endless);
    assert_eq!(codes(check), [Code::HttpBodyTruncated]);
    assert_eq!(check.status, Status::Pass);
    let read = body_bytes(check);
    assert!(read > 262_144 && read < 262_144 + 1024 * 1024, "{read}");
    // All six ran side by side: one timeout, not six.
    assert!(
        run.report.duration_ms < 6000.0,
        "{}",
        run.report.duration_ms
    );
}
