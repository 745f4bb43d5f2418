//! End-to-end tests: the real `reach` binary against the loopback lab.
//!
//! Every finding asserted here comes from what the lab really did on the
//! network: a refusing port, a DNS server answering SERVFAIL, a server that
//! never answers. No test reaches beyond loopback: names resolve through the
//! lab's DNS server (`--dns-server`) or `--resolve`.

mod allowlist;
mod check;
mod cli;
mod fuzz_corpus;
mod hostile;
mod malformed;
mod oauth;
mod proxy;
mod redaction;
mod reliability;
mod run;
mod sso;
mod tls;

use std::sync::OnceLock;
use std::time::Duration;

use reach_lab::Lab;
use reach_report::{Check, Code, Report, Status};

/// One lab for the whole test binary: tests run in parallel against it.
pub(crate) fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| Lab::start().expect("the lab starts"))
}

pub(crate) const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// The `reach` binary with a bounded run time and none of the machine's
/// proxy or colour settings.
pub(crate) fn command() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(env!("CARGO_BIN_EXE_reach"));
    cmd.timeout(Duration::from_secs(60)).env_remove("NO_COLOR");
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// `reach check` with the lab's DNS server and CA.
pub(crate) fn reach() -> assert_cmd::Command {
    let lab = lab();
    let mut cmd = command();
    cmd.arg("check")
        .arg("--dns-server")
        .arg(lab.dns.to_string())
        .arg("--ca-file")
        .arg(&lab.ca_pem_path);
    cmd
}

/// Runs `reach` (as prepared by the caller) with `--json` and `args`.
pub(crate) fn run_with(mut cmd: assert_cmd::Command, args: &[&str]) -> Run {
    let output = cmd.arg("--json").args(args).output().expect("reach runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let report: Report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a reach.report/v1 ({e}): {stdout}"));
    assert_eq!(report.schema, "reach.report/v1");
    Run {
        code: output.status.code().expect("exited"),
        report,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout,
    }
}

/// A run's exit code and its JSON report, parsed into the strict types
/// (unknown fields are errors).
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) report: Report,
    pub(crate) stderr: String,
    pub(crate) stdout: String,
}

impl Run {
    pub(crate) fn check(&self, target: &str) -> &Check {
        self.report
            .checks
            .iter()
            .find(|c| c.target == target)
            .unwrap_or_else(|| panic!("no check for {target} in {:#?}", self.report.checks))
    }
}

pub(crate) fn run_json(args: &[&str]) -> Run {
    run_with(reach(), args)
}

/// The codes of a check's findings, in order.
pub(crate) fn codes(check: &Check) -> Vec<Code> {
    check.findings.iter().map(|f| f.code).collect()
}

/// Asserts a check failed with exactly one finding, of `code`.
#[track_caller]
pub(crate) fn assert_fails_with(check: &Check, code: Code) {
    assert_eq!(codes(check), vec![code], "{check:#?}");
    assert_eq!(check.status, Status::Fail, "{check:#?}");
}
