//! `reach run PREFLIGHT.toml`: the example preflight (the demo's) against
//! the lab, every kind at once, file order, bad entries, filters; and the
//! Markdown and `JUnit` outputs.

use std::path::PathBuf;

use reach_report::{CheckKind, Code, Status};

use crate::{Run, command, lab, run_with};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples/preflight.toml")
}

/// The `${LAB_…}` variables of `examples/preflight.toml`.
fn lab_env(cmd: &mut assert_cmd::Command) {
    for (name, value) in lab().preflight_environment() {
        cmd.env(name, value);
    }
}

fn run(args: &[&str]) -> Run {
    let mut cmd = command();
    cmd.arg("run");
    lab_env(&mut cmd);
    run_with(cmd, args)
}

#[test]
fn the_example_preflight_runs_every_kind_in_file_order() {
    let file = example();
    let run = run(&[file.to_str().unwrap(), "--timeout", "2s"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let kinds: Vec<CheckKind> = run.report.checks.iter().map(|c| c.kind).collect();
    let first = |k: CheckKind| kinds.iter().position(|x| *x == k).unwrap();
    // The file lists endpoints, then an allowlist, SSO chains, OAuth.
    assert!(first(CheckKind::Endpoint) < first(CheckKind::Allowlist));
    assert!(first(CheckKind::Allowlist) < first(CheckKind::Sso));
    assert!(first(CheckKind::Sso) < first(CheckKind::OauthScopes));
    assert!(first(CheckKind::OauthScopes) < first(CheckKind::OauthToken));
    assert!(first(CheckKind::OauthToken) < first(CheckKind::OauthDiscover));
    assert_eq!(run.report.checks.len(), 14, "{:#?}", run.report.checks);
    let names: Vec<&str> = run
        .report
        .checks
        .iter()
        .map(|c| c.name.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(names[0], "API");
    assert_eq!(run.report.checks[0].status, Status::Pass);
    let codes: Vec<Code> = run
        .report
        .checks
        .iter()
        .flat_map(|c| c.findings.iter().map(|f| f.code))
        .collect();
    for code in [
        Code::TcpTimeout,
        Code::TlsCertExpired,
        Code::TlsIncompleteChain,
        Code::DnsNxdomain,
        Code::AllowlistGap,
        Code::AllowlistShadowedRule,
        Code::SsoAutoLogin,
        Code::SsoIdpError,
        Code::OauthScopeRequiredInOptional,
        Code::OauthTokenScopeReduced,
        Code::OauthTokenInvalidGrant,
    ] {
        assert!(codes.contains(&code), "{code:?} missing");
    }
    // The dropped SYN costs one timeout, not one per check: all at once.
    assert!(
        run.report.duration_ms < 15_000.0,
        "{}",
        run.report.duration_ms
    );
    assert!(
        run.stderr.is_empty(),
        "no progress bar off a terminal: {}",
        run.stderr
    );
}

#[test]
fn bad_entries_are_named_and_the_others_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pre.toml");
    std::fs::write(dir.path().join("ranges.txt"), "10.0.0.0/24\n").unwrap();
    std::fs::write(dir.path().join("allow.txt"), "10.0.0.0/24\n").unwrap();
    std::fs::write(
        &file,
        format!(
            "[defaults]\ntimeout = \"2s\"\n\n\
             [[endpoint]]\nname = \"good\"\nurl = \"http://127.0.0.1:{http}/\"\n\n\
             [[endpoint]]\nname = \"typo\"\nurl = \"http://127.0.0.1:{http}/\"\n  folow = true\n\n\
             [[allowlist]]\npublished = \"ranges.txt\"\nallowlist = [\"allow.txt\"]\n\n\
             [[sso]]\nurl = \"${{REACH_TEST_SURELY_UNSET}}\"\n\n\
             [[oauth_discover]]\nissuer = \"not a url\"\n",
            http = lab().http.port()
        ),
    )
    .unwrap();
    let run = run(&[file.to_str().unwrap()]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let checks = &run.report.checks;
    assert_eq!(checks.len(), 5, "{checks:#?}");
    assert_eq!(checks[0].status, Status::Pass);
    let typo = &checks[1].findings[0].message;
    assert!(
        typo.contains("pre.toml:11:3") && typo.contains("unknown key `folow`"),
        "{typo}"
    );
    // Relative paths resolve from the file's folder.
    assert_eq!(checks[2].kind, CheckKind::Allowlist);
    assert_eq!(checks[2].status, Status::Pass, "{:#?}", checks[2]);
    assert!(
        checks[3].findings[0]
            .message
            .contains("REACH_TEST_SURELY_UNSET")
    );
    assert_eq!(checks[4].status, Status::Error);

    // --only / --skip.
    let only = run_with_args(&file, &["--only", "allowlist"]);
    assert_eq!(only.report.checks.len(), 1);
    let skip = run_with_args(&file, &["--skip", "endpoint", "--skip", "sso"]);
    assert_eq!(skip.report.checks.len(), 2);

    // A [defaults] network value no network can use: an entry that takes
    // it is not run, said at its place in [defaults].
    std::fs::write(
        &file,
        format!(
            "[defaults]\nproxy = \"ftp://proxy.invalid\"\n\n\
             [[endpoint]]\nname = \"takes it\"\nurl = \"http://127.0.0.1:{http}/\"\n",
            http = lab().http.port()
        ),
    )
    .unwrap();
    let run = run_with_args(&file, &[]);
    let takes = &run.report.checks[0].findings[0].message;
    assert!(
        takes.contains("pre.toml:2:1: `proxy` in [defaults]: not run: invalid proxy"),
        "{takes}"
    );

    // A file that is not TOML: one error naming line and column.
    std::fs::write(&file, "[[endpoint]]\nurl = \"x\n").unwrap();
    let run = run_with_args(&file, &[]);
    assert_eq!(run.code, 2);
    assert!(
        run.report.checks[0].findings[0]
            .message
            .contains("pre.toml:2:"),
        "{}",
        run.stdout
    );
}

fn run_with_args(file: &std::path::Path, args: &[&str]) -> Run {
    let mut all = vec![file.to_str().unwrap()];
    all.extend_from_slice(args);
    run(&all)
}

#[test]
fn markdown_and_junit_reports() {
    let file = example();
    let mut cmd = command();
    lab_env(&mut cmd);
    let out = cmd
        .args([
            "run",
            file.to_str().unwrap(),
            "--timeout",
            "2s",
            "--format",
            "md",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# reach report: "), "{md}");
    assert!(md.contains("| host |"), "{md}");
    assert!(md.contains("## What needs attention"));
    assert!(md.contains("`tls.cert_expired`"));
    assert!(md.contains("  - fix: "));
    assert!(md.contains("```json"));
    assert!(!md.contains("lab-secret"));

    let mut cmd = command();
    lab_env(&mut cmd);
    let out = cmd
        .args([
            "run",
            file.to_str().unwrap(),
            "--timeout",
            "2s",
            "--format",
            "junit",
        ])
        .output()
        .unwrap();
    let xml = String::from_utf8(out.stdout).unwrap();
    check_junit(&xml, 14);
}

/// Well-formed `JUnit`: balanced elements, the attributes CI systems read,
/// and counts that agree with the testcases.
fn check_junit(xml: &str, cases: usize) {
    assert!(xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
    let report = crate::support::junit(xml);
    assert!(report.suite.contains_key("timestamp") && report.suite.contains_key("time"));
    let (mut failures, mut errors) = (0, 0);
    for case in &report.cases {
        assert!(case.attrs.get("name").is_some_and(|n| !n.is_empty()));
        assert!(
            case.attrs
                .get("classname")
                .is_some_and(|c| c.starts_with("reach."))
        );
        assert!(
            case.attrs
                .get("time")
                .is_some_and(|t| t.parse::<f64>().is_ok())
        );
        for (element, attrs) in &case.children {
            match element.as_str() {
                "failure" => {
                    failures += 1;
                    assert!(attrs.contains_key("message") && attrs.contains_key("type"));
                }
                "error" => errors += 1,
                _ => {}
            }
        }
    }
    assert_eq!(report.cases.len(), cases);
    assert_eq!(
        (
            report.count("tests"),
            report.count("failures"),
            report.count("errors")
        ),
        (cases, failures, errors)
    );
    assert!(failures > 0);
}
