//! Nothing lost: an interrupted run reports what finished; a report that
//! cannot be written still reaches stdout; many targets at once fit the
//! open-files limit.

use std::process::Stdio;
use std::time::Duration;

use reach_report::{Report, Status};

use crate::lab;
use crate::support::{Ended, signal_and_wait};

#[test]
fn ctrl_c_reports_what_finished_and_cancels_the_rest() {
    let lab = lab();
    let child = crate::support::process()
        .args(["check", "--json", "--timeout", "60s"])
        .arg(format!("http://{}/", lab.http))
        .arg(format!("http://{}/", lab.silent))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reach starts");
    // Let the fast check finish while the silent one waits for its minute.
    let Ended {
        code,
        stdout,
        stderr,
        ..
    } = signal_and_wait(
        child,
        "-INT",
        Duration::from_millis(1500),
        Duration::from_secs(20),
    );
    assert!(code.is_some(), "reach did not stop on SIGINT");
    assert_eq!(code, Some(130), "{stdout}\n{stderr}");
    let report: Report = serde_json::from_str(&stdout).expect("a report on stdout");
    let statuses: Vec<Status> = report.checks.iter().map(|c| c.status).collect();
    assert_eq!(statuses, [Status::Pass, Status::Cancelled], "{stdout}");
    assert_eq!(report.summary.cancelled, 1);
    assert!(stderr.contains("interrupted"), "{stderr}");
}

#[test]
fn a_report_that_cannot_be_written_still_reaches_stdout() {
    let lab = lab();
    let output = crate::support::process()
        .args(["check", "--json", "-o", "/nonexistent-dir/report.json"])
        .arg(format!("http://{}/", lab.http))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Report = serde_json::from_str(&stdout).expect("the report on stdout");
    assert_eq!(report.checks[0].status, Status::Pass);
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot write -o"));
}
