//! What the end-to-end and the interop suites share: running the `reach`
//! binary, reading its JSON report into the strict types, and the scan that
//! keeps Rust `Debug` text, enum names and raw durations out of every
//! message and remedy a run produces.

#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use reach_report::{Check, Code, Report, Status};

pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// What a `reach` process left when it ended.
pub struct Ended {
    /// `None` when it had to be killed.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// From [`wait`] (or the signal of [`signal_and_wait`]) to exit.
    pub took: Duration,
}

/// Waits for `child` (started with piped stdout and stderr) at most
/// `limit`, reading both pipes meanwhile so a big report cannot block it;
/// kills it past the limit (then `code` is `None`).
pub fn wait(child: Child, limit: Duration) -> Ended {
    wait_then_stop(child, limit, Duration::ZERO)
}

/// [`wait`], but past `limit` the child gets SIGTERM first and SIGKILL
/// only if it still runs `grace` later: a child that cleans up on SIGTERM
/// (node closing the browser playwright started in a process group of its
/// own, which a SIGKILL to node would leave running) gets the time to. A
/// child that ends on the SIGTERM has its own exit code.
pub fn wait_then_stop(mut child: Child, limit: Duration, grace: Duration) -> Ended {
    let started = Instant::now();
    let pipe = |p: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut p) = p {
                let _ = p.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let out = pipe(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = pipe(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let mut termed: Option<Instant> = None;
    let code = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            break status.code();
        }
        if started.elapsed() > limit {
            if termed.is_none() && !grace.is_zero() {
                let _ = std::process::Command::new("kill")
                    .args(["-TERM", &child.id().to_string()])
                    .status();
                termed = Some(Instant::now());
            }
            if termed.is_none_or(|at| at.elapsed() > grace) {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = started.elapsed();
    Ended {
        code,
        stdout: out.join().expect("stdout reader"),
        stderr: err.join().expect("stderr reader"),
        took,
    }
}

/// Sends `signal` (`-INT`, `-TERM`) to `child` after `after`, then
/// [`wait`]s at most `limit`; `took` counts from the signal.
pub fn signal_and_wait(child: Child, signal: &str, after: Duration, limit: Duration) -> Ended {
    std::thread::sleep(after);
    let sent = Instant::now();
    let status = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill {signal} failed");
    let mut ended = wait(child, limit);
    ended.took = sent.elapsed();
    ended
}

/// One tag of an XML or HTML document, as [`tags`] reads them.
pub enum Tag {
    Start {
        name: String,
        attrs: std::collections::BTreeMap<String, String>,
        self_closing: bool,
    },
    End(String),
}

/// The start and end tags of `text`, in order (html5gum's tokenizer: the
/// `JUnit` report's XML reads as well as HTML).
pub fn tags(text: &str) -> Vec<Tag> {
    use html5gum::{Token, Tokenizer};
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Tokenizer::new(text)
        .filter_map(|token| match token {
            Ok(Token::StartTag(tag)) => Some(Tag::Start {
                name: lossy(&tag.name),
                attrs: tag
                    .attributes
                    .iter()
                    .map(|(k, v)| (lossy(k), lossy(v)))
                    .collect(),
                self_closing: tag.self_closing,
            }),
            Ok(Token::EndTag(tag)) => Some(Tag::End(lossy(&tag.name))),
            _ => None,
        })
        .collect()
}

type Attrs = std::collections::BTreeMap<String, String>;

/// A `JUnit` report as [`junit`] reads it: the `testsuite`'s attributes,
/// and each `testcase`'s with the elements inside it.
pub struct Junit {
    pub suite: Attrs,
    pub cases: Vec<JunitCase>,
}

/// One `testcase`: its attributes, and each element inside it (`failure`,
/// `error`, `skipped`, …) with its attributes.
pub struct JunitCase {
    pub attrs: Attrs,
    pub children: Vec<(String, Attrs)>,
}

impl Junit {
    /// The `testsuite`'s count `name` (`tests`, `failures`, …).
    #[track_caller]
    pub fn count(&self, name: &str) -> usize {
        self.suite
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no count `{name}` in {:?}", self.suite))
    }
}

/// Reads a `JUnit` report; panics unless its elements balance.
#[track_caller]
pub fn junit(xml: &str) -> Junit {
    let mut report = Junit {
        suite: Attrs::new(),
        cases: Vec::new(),
    };
    let mut stack: Vec<String> = Vec::new();
    for tag in tags(xml) {
        match tag {
            Tag::Start {
                name,
                attrs,
                self_closing,
            } => {
                match name.as_str() {
                    "testsuite" => report.suite = attrs,
                    "testcase" => report.cases.push(JunitCase {
                        attrs,
                        children: Vec::new(),
                    }),
                    _ if stack.last().is_some_and(|open| open == "testcase") => {
                        if let Some(case) = report.cases.last_mut() {
                            case.children.push((name.clone(), attrs));
                        }
                    }
                    _ => {}
                }
                if !self_closing && name != "property" {
                    stack.push(name);
                }
            }
            Tag::End(name) => {
                assert_eq!(
                    stack.pop().as_deref(),
                    Some(name.as_str()),
                    "unbalanced </{name}>:\n{xml}"
                );
            }
        }
    }
    assert!(stack.is_empty(), "unclosed {stack:?}:\n{xml}");
    report
}

/// The `reach` binary with a bounded run time and none of the machine's
/// proxy or colour settings. `REACH_BIN` names another build to run the
/// same cases against (an older commit's, to see a case fail before its
/// fix).
pub fn command() -> assert_cmd::Command {
    let bin = std::env::var_os("REACH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_reach").into());
    let mut cmd = assert_cmd::Command::new(bin);
    cmd.timeout(Duration::from_secs(60)).env_remove("NO_COLOR");
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The `reach` binary as a child process of its own (for signals, pipes
/// and stdin, which `assert_cmd` does not give), without the machine's
/// proxy or colour settings, as [`command`].
pub fn process() -> std::process::Command {
    let mut cmd = std::process::Command::new(bin());
    cmd.env_remove("NO_COLOR");
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The `reach` binary under test: `REACH_BIN`, else this build's.
pub fn bin() -> std::ffi::OsString {
    std::env::var_os("REACH_BIN").unwrap_or_else(|| env!("CARGO_BIN_EXE_reach").into())
}

/// Runs `reach` (as prepared by the caller) with `--json` and `args`. Every
/// message and remedy of the report is scanned for text meant for
/// programmers ([`assert_for_people`]).
#[track_caller]
pub fn run_with(mut cmd: assert_cmd::Command, args: &[&str]) -> Run {
    let output = cmd.arg("--json").args(args).output().expect("reach runs");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8 output");
    let report: Report = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("not a reach.report/v1 ({e}): {stdout}"));
    assert_eq!(report.schema, "reach.report/v1");
    assert_for_people(&report);
    Run {
        code: output.status.code().expect("exited"),
        report,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        stdout,
    }
}

/// A run's exit code and its JSON report, parsed into the strict types
/// (unknown fields are errors).
pub struct Run {
    pub code: i32,
    pub report: Report,
    pub stderr: String,
    pub stdout: String,
}

impl Run {
    #[track_caller]
    pub fn check(&self, target: &str) -> &Check {
        self.report
            .checks
            .iter()
            .find(|c| c.target == target)
            .unwrap_or_else(|| panic!("no check for {target} in {:#?}", self.report.checks))
    }

    /// The only check of the report.
    #[track_caller]
    pub fn only(&self) -> &Check {
        assert_eq!(self.report.checks.len(), 1, "{:#?}", self.report.checks);
        &self.report.checks[0]
    }
}

/// The codes of a check's findings, in order.
pub fn codes(check: &Check) -> Vec<Code> {
    check.findings.iter().map(|f| f.code).collect()
}

/// Asserts a check failed with exactly one finding, of `code`.
#[track_caller]
pub fn assert_fails_with(check: &Check, code: Code) {
    assert_eq!(codes(check), vec![code], "{check:#?}");
    assert_eq!(check.status, Status::Fail, "{check:#?}");
}

/// The finding of `code` in `check`.
#[track_caller]
pub fn finding(check: &Check, code: Code) -> &reach_report::Finding {
    check
        .findings
        .iter()
        .find(|f| f.code == code)
        .unwrap_or_else(|| panic!("no {code:?} in {check:#?}"))
}

/// Fails when a message or remedy of `report` carries text meant for
/// programmers: a `Debug` rendering (`Other(OtherError(…))`,
/// `Context { … }`), a bare enum variant name (`CaUsedAsEndEntity`) or a raw
/// `Duration` (`2.999478055s`, `150ms`).
#[track_caller]
pub fn assert_for_people(report: &Report) {
    for check in &report.checks {
        for f in &check.findings {
            for (what, text) in [("message", &f.message), ("remedy", &f.remedy)] {
                if let Some(bad) = programmer_text(text) {
                    panic!(
                        "the {what} of {} on {} shows `{bad}`, text meant for programmers: {text}",
                        f.code.name(),
                        check.target
                    );
                }
            }
        }
    }
}

/// Names people write with inner capitals; anything else shaped like
/// `CamelCase` in a message is an enum variant or a type name. Every entry
/// is camel-shaped (a test checks), so none is dead weight.
const CAMEL_WORDS: &[&str] = &[
    "OpenSSL",
    "GitHub",
    "HubSpot",
    "ForceAuthn",
    "AuthnRequest",
    "StatusCode",
    "StatusMessage",
    "UiPath",
    "FortiGate",
    "SonicWall",
    "WatchGuard",
    "ContentKeeper",
    "McAfee",
    "OneLogin",
    "SimpleSAMLphp",
    "JavaScript",
    "PingFederate",
    "PingOne",
    "DigiCert",
    "GlobalSign",
    "GoDaddy",
    "IdPs",
    "OpenID",
    "ServerHello",
    "ClientHello",
    "CertificateRequest",
    "KeyUsage",
    "ExtendedKeyUsage",
    "SameSite",
    "HttpOnly",
    "BasicConstraints",
    "NetScaler",
    "WebKit",
    "PowerShell",
    "LibreSSL",
    "BoringSSL",
    "GnuTLS",
    "CloudFront",
    "ProxySG",
    "WebSocket",
    "EdDSA",
];

/// The first piece of `text` that reads as programmer output, if any.
/// Words in backticks are quoted data (a cookie's name, a status code from
/// the identity provider) and may have any shape.
pub fn programmer_text(text: &str) -> Option<String> {
    let unquoted: String = text
        .split('`')
        .enumerate()
        .map(|(i, part)| if i % 2 == 0 { part } else { " " })
        .collect::<Vec<_>>()
        .join(" ");
    for word in
        unquoted.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == 'µ'))
    {
        let word = word.trim_matches('.');
        if word.is_empty() {
            continue;
        }
        if is_raw_duration(word) {
            return Some(word.to_owned());
        }
        if is_camel(word) && !CAMEL_WORDS.contains(&word) {
            return Some(word.to_owned());
        }
    }
    for needle in ["Some(", "None)", "Err(", "Ok(", "\\\"", "\\n"] {
        if text.contains(needle) {
            return Some(needle.to_owned());
        }
    }
    // A struct's `Debug`: `Name { field: … }`. A quoted nft set
    // (`{ 80, 443 }`) is not one.
    text.match_indices(" { ").find_map(|(at, _)| {
        let before = text[..at].rsplit(' ').next().unwrap_or_default();
        is_camel(before).then(|| format!("{before} {{"))
    })
}

/// `2.999478055s`, `5s`, `150ms`, `12µs`, `3ns`: how `Duration`'s `Debug`
/// prints. People write `3 s` or `3 seconds`.
fn is_raw_duration(word: &str) -> bool {
    let digits = word.trim_end_matches(|c: char| c.is_ascii_alphabetic() || c == 'µ');
    let unit = &word[digits.len()..];
    !digits.is_empty()
        && digits.chars().next().is_some_and(|c| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.')
        && matches!(unit, "s" | "ms" | "µs" | "us" | "ns")
}

/// `CaUsedAsEndEntity`, `BadSignature`: an upper-case letter, then a
/// lower-case one, then another upper-case letter later on, no digits-only.
fn is_camel(word: &str) -> bool {
    let chars: Vec<char> = word.chars().collect();
    if chars.len() < 4 || !chars[0].is_ascii_uppercase() {
        return false;
    }
    let mut seen_lower = false;
    for &c in &chars[1..] {
        if c.is_ascii_lowercase() {
            seen_lower = true;
        } else if c.is_ascii_uppercase() && seen_lower {
            return true;
        } else if !c.is_ascii_alphanumeric() {
            return false;
        }
    }
    false
}

#[test]
fn programmer_text_is_recognised() {
    for bad in [
        "rejected: Other(OtherError(CaUsedAsEndEntity))",
        "did not finish within 2.999478055s",
        "waited 150ms",
        "BadSignature",
        "`quoted` BadSignature",
        "UnsupportedSignatureAlgorithmContext { signature_algorithm_id: [6, 9] }",
    ] {
        assert!(programmer_text(bad).is_some(), "{bad}");
    }
    for word in CAMEL_WORDS {
        assert!(
            is_camel(word),
            "{word} is not camel-shaped: drop it from the list"
        );
    }
    for good in [
        "rules.v4:3 (chain OUTPUT): tcp dport { 80, 443 } accept is counted for 443",
        "the TLS handshake with api.example.com did not finish within 3 s",
        "the certificate of host is self-signed (CN=host)",
        "HubSpot answered BAD_CLIENT_ID; check the client id",
        "api.example.com:443 refused the connection (IPv4 127.0.0.1)",
        "send the SAMLRequest with ForceAuthn=\"true\"",
        "see RFC 6749 section 5.2",
        "the existing SAML session (cookies `SimpleSAMLAuthToken`, `SimpleSAMLSessionID`) chose the account",
    ] {
        assert_eq!(programmer_text(good), None, "{good}");
    }
}
