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
        _ => 0,
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

/// An endless body read without a cap: reach counts the bytes and keeps
/// none, so its memory stays flat however much the server sends.
#[test]
fn endless_body_keeps_memory_bounded() {
    let lab = lab();
    let target = url(lab.hostile.endless_body);
    let mut cmd = crate::support::process();
    cmd.args([
        "check",
        "--json",
        "--timeout",
        "2s",
        "--max-body",
        "100000000000",
        &target,
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    // Bounded: reach's own deadline is 2 s; give up after 20 s.
    for _ in 0..4000 {
        if let Ok(text) = std::fs::read_to_string(&status_path)
            && let Some(hwm) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kib = peak_kib.max(hwm);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    let report: reach_report::Report = serde_json::from_slice(&out.stdout).unwrap();
    let check = &report.checks[0];
    // The body never ends: the deadline does.
    assert_fails_with(check, Code::HttpTimeout);
    assert!(body_bytes(check) > 1024 * 1024, "{}", body_bytes(check));
    assert!(
        peak_kib > 0 && peak_kib < 64 * 1024,
        "peak RSS {peak_kib} KiB"
    );
}

/// A proxy whose answer to CONNECT never ends its header: a broken proxy,
/// named as such; the target behind it was never reached, so nothing is
/// blamed on its TLS.
#[test]
fn a_proxy_whose_connect_answer_never_ends_is_the_proxy_s_failure() {
    let lab = lab();
    let target = format!("https://good.lab.test:{}/", lab.https.port());
    let proxy = format!("http://{}", lab.proxy.endless);
    let run = run_json(&["--timeout", "5s", "--proxy", &proxy, &target]);
    let check = run.check(&target);
    assert_eq!(codes(check), [Code::ProxyDenied], "{check:#?}");
    let finding = &check.findings[0];
    assert_eq!(finding.evidence["proxy"], format!("{proxy}/"));
    assert!(
        finding.message.contains(&proxy) && finding.message.contains("did not end"),
        "{}",
        finding.message
    );
    assert!(!finding.remedy.contains("policy"), "{}", finding.remedy);
    match &check.details {
        Details::Endpoint(d) => assert!(d.hops[0].tls.is_none(), "{:#?}", d.hops[0]),
        _ => panic!("no details: {check:#?}"),
    }
}
