//! End-to-end tests: the real `reach` binary against the loopback lab.
//!
//! Every finding asserted here comes from what the lab really did on the
//! network: a refusing port, a DNS server answering SERVFAIL, a server that
//! never answers. No test reaches beyond loopback: names resolve through the
//! lab's DNS server (`--dns-server`) or `--resolve`.

mod allowlist;
mod browser_cookies;
mod check;
mod cli;
mod explain;
mod hostile;
mod html;
mod inputs;
mod malformed;
mod oauth;
mod operator;
mod outputs;
mod proxy;
mod redaction;
mod reliability;
mod run;
mod serve;
mod sso;
mod tls;
mod true_causes;

#[path = "../support/mod.rs"]
mod support;
pub(crate) use support::{Run, assert_fails_with, bin, codes, command, finding, run_with};

use std::sync::OnceLock;

use reach_lab::Lab;

/// One lab for the whole test binary: tests run in parallel against it.
pub(crate) fn lab() -> &'static Lab {
    static LAB: OnceLock<Lab> = OnceLock::new();
    LAB.get_or_init(|| Lab::start().expect("the lab starts"))
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

pub(crate) fn run_json(args: &[&str]) -> Run {
    run_with(reach(), args)
}
