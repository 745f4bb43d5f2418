//! What a new user trips on (issue 16): counts in the right number,
//! options that clash, a preflight file with nothing to run, and an input
//! error's remedy that says the other checks ran only when they did.

use reach_report::Code;

use crate::{command, finding, lab, run_with};

/// `reach ARGS` (text output): exit code, stdout, stderr.
fn text(args: &[&str]) -> (i32, String, String) {
    let output = command().args(args).output().expect("reach runs");
    (
        output.status.code().expect("exited"),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// A file in a fresh temp dir, kept as long as the dir.
fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[test]
fn one_of_a_thing_is_singular() {
    let lab = lab();
    let url = format!("http://good.lab.test:{}/", lab.http.port());
    let dns = lab.dns.to_string();
    let (code, out, err) = text(&["check", "--dns-server", &dns, &url]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(" · 1 check in "), "{out}");
    assert!(!out.contains("1 checks"), "{out}");
    let (_, md, _) = text(&["check", "--dns-server", &dns, "--format", "md", &url]);
    assert!(md.starts_with("# reach report: the check passed\n"), "{md}");

    let dir = tempfile::tempdir().expect("temp dir");
    let published = file(&dir, "published.txt", "198.51.100.0/24\n");
    let broad = file(&dir, "allow.txt", "0.0.0.0/0\n");
    let run = run_with(
        command(),
        &[
            "allowlist",
            "--published",
            &published,
            "--allowlist",
            &broad,
        ],
    );
    let f = finding(&run.report.checks[0], Code::AllowlistOverlyBroad);
    assert!(
        f.message.starts_with("1 allowlist entry is wider than /8"),
        "{}",
        f.message
    );
    let rules = file(
        &dir,
        "rules.v4",
        "*filter\n:OUTPUT DROP [0:0]\n\
         -A OUTPUT -d 198.51.100.128/25 -j DROP\n\
         -A OUTPUT -d 198.51.100.0/24 -p tcp --dport 443 -j ACCEPT\n\
         COMMIT\n",
    );
    let run = run_with(
        command(),
        &[
            "allowlist",
            "--published",
            &published,
            "--allowlist",
            &rules,
            "--port",
            "443",
        ],
    );
    let f = finding(&run.report.checks[0], Code::AllowlistShadowedRule);
    assert!(
        f.message
            .starts_with("1 ACCEPT rule is overridden by earlier DROP/REJECT rules of its chain"),
        "{}",
        f.message
    );
}

#[test]
fn options_that_ask_for_different_formats_are_refused() {
    let (code, out, err) = text(&["check", "--json", "--format", "md", "http://127.0.0.1:9/"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains("--json and --format md ask for different report formats"),
        "{err}"
    );
    // Saying the same thing twice is no clash.
    let (code, out, err) = text(&[
        "check",
        "--json",
        "--format",
        "json",
        "--timeout",
        "2s",
        "http://127.0.0.1:9/",
    ]);
    assert_eq!(code, 1, "{err}");
    assert!(out.trim_start().starts_with('{'), "{out}");
}

#[test]
fn a_preflight_file_with_nothing_to_run_is_an_input_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let empty = file(&dir, "empty.toml", "");
    let defaults_only = file(&dir, "defaults.toml", "[defaults]\ntimeout = \"5s\"\n");
    for path in [&empty, &defaults_only] {
        let run = run_with(command(), &["run", path]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        let check = &run.report.checks[0];
        assert_eq!(check.status, reach_report::Status::Error);
        let f = finding(check, Code::InputInvalid);
        assert!(
            f.message.contains("no checks to run") && f.message.contains("[[endpoint]]"),
            "{}",
            f.message
        );
    }
    let one = file(
        &dir,
        "one.toml",
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n",
    );
    let run = run_with(command(), &["run", &one, "--only", "sso"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let f = finding(&run.report.checks[0], Code::InputInvalid);
    assert!(
        f.message.contains("--only and --skip leave none"),
        "{}",
        f.message
    );
}

#[test]
fn the_other_checks_still_ran_only_when_they_did() {
    let lab = lab();
    let dns = lab.dns.to_string();
    let good = format!("http://good.lab.test:{}/", lab.http.port());
    let alone = run_with(command(), &["check", "http://"]);
    assert_eq!(alone.code, 2);
    let f = finding(&alone.report.checks[0], Code::InputInvalid);
    assert!(!f.remedy.contains("other checks"), "{}", f.remedy);

    let with_good = run_with(
        command(),
        &["check", "--dns-server", &dns, "http://", &good],
    );
    assert_eq!(with_good.code, 2);
    let f = finding(with_good.check("http://"), Code::InputInvalid);
    assert!(
        f.remedy.ends_with("The other checks still ran."),
        "{}",
        f.remedy
    );
}

#[test]
fn every_problem_of_a_preflight_file_is_reported_at_once_and_the_rest_runs() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = file(
        &dir,
        "pre.toml",
        "[defaults]\ntimeout = \"3 seconds\"\n\n\
         [[endpiont]]\nurl = \"http://127.0.0.1:9/\"\n\n\
         [[endpoint]]\nname = \"inherits\"\nurl = \"http://127.0.0.1:9/\"\n\n\
         [[endpoint]]\nname = \"own timeout\"\nurl = \"http://127.0.0.1:9/\"\ntimeout = \"2s\"\n\n\
         [[oauth_scopes]]\nname = \"option's own name\"\ntimeout = \"2s\"\n\
         url = \"https://app.example.com/authorize?client_id=a&redirect_uri=https://x.example/cb&scope=oauth\"\n\
         required = [\"oauth\"]\nredirect_url = \"https://x.example/cb\"\n",
    );
    let run = run_with(command(), &["run", &path]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    let messages: Vec<&str> = run
        .report
        .checks
        .iter()
        .flat_map(|c| c.findings.iter())
        .filter(|f| f.code == Code::InputInvalid)
        .map(|f| f.message.as_str())
        .collect();
    // Once, at its line, in the file's words; not once per entry.
    let bad_default: Vec<&&str> = messages
        .iter()
        .filter(|m| m.contains("3 seconds"))
        .collect();
    assert_eq!(bad_default.len(), 1, "{messages:#?}");
    assert!(
        bad_default[0].contains("pre.toml:2:1: `timeout = \"3 seconds\"` in [defaults]"),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("pre.toml:4:3: unknown table `endpiont`")),
        "{messages:#?}"
    );
    let named = |name: &str| {
        run.report
            .checks
            .iter()
            .find(|c| c.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no check {name}: {:#?}", run.report.checks))
    };
    let inherits = named("inherits");
    assert_eq!(inherits.status, reach_report::Status::Error);
    assert!(
        inherits.findings[0]
            .message
            .contains("not run: it takes [defaults] `timeout` (")
            && inherits.findings[0].message.contains("pre.toml:2:1)"),
        "{:#?}",
        inherits.findings
    );
    // The entries the bad default does not concern ran.
    assert_eq!(named("own timeout").status, reach_report::Status::Fail);
    assert_eq!(
        named("option's own name").status,
        reach_report::Status::Pass
    );
}

/// A bad value turns every check that would use it into an error naming
/// it; the checks it does not concern run; the report is always written,
/// to stdout and `-o`; the exit code is 2.
#[test]
fn a_bad_value_turns_the_checks_that_use_it_into_errors() {
    let lab = lab();
    let dns = lab.dns.to_string();
    let plain = format!("http://good.lab.test:{}/", lab.http.port());
    let https = format!("https://good.lab.test:{}/", lab.https.port());
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("report.json");
    let missing = dir.path().join("missing-ca.pem");
    let missing = missing.to_str().expect("UTF-8 path");

    // A CA file that cannot be read: the https check is its error, the
    // plain-http one runs, and the report is written.
    let run = run_with(
        command(),
        &[
            "check",
            "--dns-server",
            &dns,
            "--ca-file",
            missing,
            &plain,
            &https,
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let (code, _, err) = text(&[
        "check",
        "--dns-server",
        &dns,
        "--ca-file",
        missing,
        "--json",
        "-o",
        out.to_str().unwrap(),
        &plain,
        &https,
    ]);
    assert_eq!(code, 2, "{err}");
    let written: reach_report::Report =
        serde_json::from_str(&std::fs::read_to_string(&out).expect("-o written")).expect("JSON");
    for report in [&run.report, &written] {
        let https_check = report
            .checks
            .iter()
            .find(|c| c.target == https)
            .expect("https");
        assert_eq!(https_check.status, reach_report::Status::Error);
        assert!(
            https_check.findings[0].message.contains("--ca-file")
                && https_check.findings[0].message.contains("missing-ca.pem"),
            "{:#?}",
            https_check.findings
        );
        let plain_check = report
            .checks
            .iter()
            .find(|c| c.target == plain)
            .expect("http");
        assert_eq!(plain_check.status, reach_report::Status::Pass);
        assert_eq!(report.checks.len(), 2);
    }

    // A header that does not parse: the check is an error, not a pass
    // without the header.
    let run = run_with(
        command(),
        &["check", "--dns-server", &dns, "-H", "no colon", &plain],
    );
    assert_eq!(run.code, 2);
    assert_eq!(run.report.checks.len(), 1);
    let f = finding(&run.report.checks[0], Code::InputInvalid);
    assert!(
        f.message.contains("invalid header `no colon`"),
        "{}",
        f.message
    );

    // A cookie jar that does not exist: the sso check is that error, not a
    // chain walked without the session.
    let jar = dir.path().join("missing.txt");
    let run = run_with(
        command(),
        &[
            "sso",
            "--dns-server",
            &dns,
            "--cookie-jar",
            jar.to_str().unwrap(),
            &plain,
        ],
    );
    assert_eq!(run.code, 2);
    assert_eq!(run.report.checks.len(), 1, "{:#?}", run.report.checks);
    let check = &run.report.checks[0];
    assert_eq!(check.kind, reach_report::CheckKind::Sso);
    assert_eq!(check.status, reach_report::Status::Error);
    assert!(
        check.findings[0].message.contains("missing.txt"),
        "{:#?}",
        check.findings
    );
}

/// `reach allowlist`: a bad network value holds back the lookups and
/// fetches it would serve, and is never lost when the check needed none.
#[test]
fn a_bad_network_value_of_an_allowlist_is_never_lost() {
    let dir = tempfile::tempdir().expect("temp dir");
    let published = file(&dir, "published.txt", "198.51.100.0/24\n");
    let allow = file(&dir, "allow.txt", "198.51.100.0/24\n");
    // A --host lookup would use the DNS servers: held back, and named.
    let run = run_with(
        command(),
        &[
            "allowlist",
            "--dns-server",
            "nope",
            "--published",
            &published,
            "--allowlist",
            &allow,
            "--host",
            "api.vendor.example",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    let check = run.only();
    assert_eq!(check.status, reach_report::Status::Error);
    assert!(
        check.findings.iter().any(|f| f
            .message
            .starts_with("--host api.vendor.example not looked up: --dns-server")),
        "{:#?}",
        check.findings
    );
    // Files only, and an unreadable allowlist: the bad value is still named.
    let missing = dir.path().join("missing.txt");
    let run = run_with(
        command(),
        &[
            "allowlist",
            "--dns-server",
            "nope",
            "--published",
            &published,
            "--allowlist",
            missing.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        run.report
            .checks
            .iter()
            .any(|c| c.target == "--dns-server nope"),
        "{:#?}",
        run.report.checks
    );
}
