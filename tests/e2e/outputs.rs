//! What reach writes, whatever happens: an interrupted run's `JUnit` and
//! text say which checks were cancelled; `-o` on a full disk is an output
//! error; control bytes from input never reach the terminal raw; long
//! lists are summarised in text and kept whole in JSON.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{PROXY_VARS, bin, lab};

/// Silent targets: each waits for its whole timeout, so SIGINT finds it
/// running.
const SILENT: usize = 6;

/// Runs `reach check` on one fast and [`SILENT`] silent targets, sends
/// SIGINT once the fast one had time to finish, and returns the exit code,
/// stdout and stderr.
fn interrupted(format: &str) -> (Option<i32>, String, String) {
    let lab = lab();
    let mut cmd = Command::new(bin());
    cmd.args(["check", "--format", format, "--timeout", "60s"])
        .arg(format!("http://{}/", lab.http));
    for i in 0..SILENT {
        cmd.arg(format!("http://{}/slow-{i}", lab.silent));
    }
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reach starts");
    std::thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let started = Instant::now();
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("reach did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (code, stdout, stderr)
}

/// One `testcase` of a `JUnit` report: its name and the elements inside.
struct Case {
    name: String,
    children: Vec<(String, Option<String>)>,
}

/// The `testsuite` counts and the testcases of a `JUnit` report.
fn parse_junit(xml: &str) -> (Vec<(String, usize)>, Vec<Case>) {
    use html5gum::{Token, Tokenizer};
    let mut counts = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut in_case = false;
    for token in Tokenizer::new(xml) {
        let Ok(token) = token;
        match token {
            Token::StartTag(tag) => {
                let name = String::from_utf8_lossy(&tag.name).into_owned();
                let attr = |k: &str| {
                    tag.attributes
                        .get(k.as_bytes())
                        .map(|v| String::from_utf8_lossy(&v.value).into_owned())
                };
                match name.as_str() {
                    "testsuite" => {
                        for k in ["tests", "failures", "errors", "skipped"] {
                            let n = attr(k).and_then(|v| v.parse().ok());
                            counts.push((k.to_owned(), n.expect(k)));
                        }
                    }
                    "testcase" => {
                        cases.push(Case {
                            name: attr("name").unwrap_or_default(),
                            children: Vec::new(),
                        });
                        in_case = !tag.self_closing;
                    }
                    other if in_case => {
                        let case = cases.last_mut().unwrap();
                        case.children.push((other.to_owned(), attr("message")));
                    }
                    _ => {}
                }
            }
            Token::EndTag(tag) if tag.name.as_slice() == b"testcase" => in_case = false,
            _ => {}
        }
    }
    (counts, cases)
}

#[test]
fn junit_of_an_interrupted_run_skips_the_cancelled_checks() {
    let (code, xml, stderr) = interrupted("junit");
    assert_eq!(code, Some(130), "{xml}\n{stderr}");
    let (counts, cases) = parse_junit(&xml);
    let count = |k: &str| counts.iter().find(|(n, _)| n == k).map(|(_, v)| *v);
    assert_eq!(cases.len(), SILENT + 1, "{xml}");
    assert_eq!(count("tests"), Some(SILENT + 1), "{xml}");
    let skipped: Vec<&Case> = cases
        .iter()
        .filter(|c| c.children == [("skipped".to_owned(), Some("cancelled".to_owned()))])
        .collect();
    assert_eq!(count("skipped"), Some(skipped.len()), "{xml}");
    // Every silent check was still waiting: each is skipped, none passes.
    for case in &cases {
        if case.name.contains("/slow-") {
            assert!(
                skipped.iter().any(|s| s.name == case.name),
                "{} is not skipped:\n{xml}",
                case.name
            );
        }
    }
    assert!(skipped.len() >= SILENT, "{xml}");
    assert_eq!(count("failures"), Some(0), "{xml}");
    assert_eq!(count("errors"), Some(0), "{xml}");
}

#[test]
fn text_of_an_interrupted_run_counts_the_cancelled_checks() {
    let (code, text, stderr) = interrupted("text");
    assert_eq!(code, Some(130), "{text}\n{stderr}");
    let summary = text
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary line:\n{text}"));
    let cancelled = text.lines().filter(|l| l.starts_with("CANCELLED")).count();
    assert!(cancelled >= SILENT, "{text}");
    assert!(
        summary.contains(&format!(", {cancelled} cancelled ·")),
        "{summary}"
    );
}
