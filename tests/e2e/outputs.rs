//! What reach writes, whatever happens: an interrupted run's `JUnit` and
//! text say which checks were cancelled; `-o` on a full disk is an output
//! error; control bytes from input never reach the terminal raw; long
//! lists are summarised in text and kept whole in JSON.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::{Ended, signal_and_wait};
use crate::{bin, lab};

/// Silent targets: each waits for its whole timeout, so SIGINT finds it
/// running.
const SILENT: usize = 6;

/// Runs `reach check` on one fast and [`SILENT`] silent targets, sends
/// SIGINT once the fast one had time to finish, and returns the exit code,
/// stdout and stderr.
fn interrupted(format: &str) -> (Option<i32>, String, String) {
    let lab = lab();
    let mut cmd = crate::support::process();
    cmd.args(["check", "--format", format, "--timeout", "60s"])
        .arg(format!("http://{}/", lab.http));
    for i in 0..SILENT {
        cmd.arg(format!("http://{}/slow-{i}", lab.silent));
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reach starts");
    let ended = signal_and_wait(
        child,
        "-INT",
        Duration::from_millis(1500),
        Duration::from_secs(20),
    );
    assert!(ended.code.is_some(), "reach did not stop on SIGINT");
    let Ended {
        code,
        stdout,
        stderr,
        ..
    } = ended;
    (code, stdout, stderr)
}

#[test]
fn junit_of_an_interrupted_run_skips_the_cancelled_checks() {
    let (code, xml, stderr) = interrupted("junit");
    assert_eq!(code, Some(130), "{xml}\n{stderr}");
    let report = crate::support::junit(&xml);
    assert_eq!(report.cases.len(), SILENT + 1, "{xml}");
    assert_eq!(report.count("tests"), SILENT + 1, "{xml}");
    let name = |c: &crate::support::JunitCase| c.attrs.get("name").cloned().unwrap_or_default();
    let skipped: Vec<String> = report
        .cases
        .iter()
        .filter(|c| {
            matches!(
                c.children.as_slice(),
                [(element, attrs)] if element == "skipped"
                    && attrs.get("message").map(String::as_str) == Some("cancelled")
            )
        })
        .map(name)
        .collect();
    assert_eq!(report.count("skipped"), skipped.len(), "{xml}");
    // Every silent check was still waiting: each is skipped, none passes.
    for case in report.cases.iter().map(name) {
        if case.contains("/slow-") {
            assert!(skipped.contains(&case), "{case} is not skipped:\n{xml}");
        }
    }
    assert!(skipped.len() >= SILENT, "{xml}");
    assert_eq!(report.count("failures"), 0, "{xml}");
    assert_eq!(report.count("errors"), 0, "{xml}");
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

/// Whether `unshare -rm` can give this test a mount namespace of its own
/// (root, or a user allowed unprivileged user namespaces).
fn private_mounts() -> bool {
    Command::new("unshare")
        .args(["-rm", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn output_to_a_full_filesystem_is_an_output_error() {
    if !private_mounts() {
        // Said loudly: this case needs a tiny filesystem of its own.
        eprintln!(
            "SKIPPED output_to_a_full_filesystem_is_an_output_error: `unshare -rm` is not allowed here (run as root, or allow unprivileged user namespaces); the standard-output case below still runs"
        );
        return;
    }
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().display().to_string();
    // In a private mount namespace: a 64 KiB tmpfs, filled up, then reach
    // with `-o` into it; what is left there is listed on stderr.
    let script = r#"mount -t tmpfs -o size=64k tmpfs "$1" || exit 97
dd if=/dev/zero of="$1/fill" bs=4k 2>/dev/null
shift
"$@"
code=$?
echo "left:" $(ls -A "$0") >&2
exit $code"#;
    let out = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, &mount, &mount])
        .arg(bin())
        .args(["check", "--json", "-o"])
        .arg(format!("{mount}/report.json"))
        .arg(format!("http://{}/", lab.http))
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(97), "tmpfs not mounted: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stdout}\n{stderr}");
    let report: reach_report::Report = serde_json::from_str(&stdout).expect("the report on stdout");
    assert_eq!(report.checks.len(), 1);
    assert!(
        stderr.contains(&format!(
            "cannot write -o {mount}/report.json: No space left on device"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("os error"), "{stderr}");
    // Only the filler: no temp file, no half report.
    assert!(stderr.contains("left: fill\n"), "{stderr}");
}

#[test]
fn standard_output_on_a_full_device_is_an_output_error() {
    let lab = lab();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let out = crate::support::process()
        .args(["check", "--json"])
        .arg(format!("http://{}/", lab.http))
        .stdout(full)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot write the report to standard output: No space left on device"),
        "{stderr}"
    );
}

/// `ESC ] 0 ; … BEL` sets the terminal's title, `ESC [ 2 J` clears it.
const HOSTILE: &str = "\u{1b}]0;pwned\u{7}\u{1b}[2Jbad\u{9b}31m";

#[test]
fn control_bytes_from_input_are_escaped_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("allow.txt");
    std::fs::write(&list, format!("10.0.0.0/8\n{HOSTILE}\n")).unwrap();
    let list = list.display().to_string();
    let preflight = dir.path().join("preflight.toml");
    std::fs::write(
        &preflight,
        "[[endpoint]]\nurl = \"http://\\u001b]0;pwned\\u0007\\u001b[2J/\"\n",
    )
    .unwrap();
    let preflight = preflight.display().to_string();
    let cases: [&[&str]; 5] = [
        &["allowlist", "--allowlist", &list, "--published", &list],
        &["explain", HOSTILE],
        &["check", "--format", HOSTILE, "http://127.0.0.1:9/"],
        &["check", "--timeout", "1s", &format!("http://{HOSTILE}/")],
        &["run", &preflight, "--timeout", "1s"],
    ];
    for args in cases {
        let out = crate::support::process().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.is_empty(), "{args:?}: nothing on stderr");
        assert!(
            !stderr.chars().any(|c| c.is_control() && c != '\n'),
            "{args:?}: raw control bytes on stderr: {stderr:?}"
        );
        if args[0] != "check" || args[1] != "--format" {
            // clap strips escape sequences itself; the others show them.
            assert!(stderr.contains("\\u{1b}"), "{args:?}: {stderr}");
        }
    }
}

#[test]
fn long_lists_are_summarised_in_text_and_whole_in_json() {
    use std::fmt::Write as _;
    let lab = lab();
    let port = lab.idp.port();
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("cookies.txt");
    let mut text = String::from("# Netscape HTTP Cookie File\n");
    for i in 0..3000 {
        let _ = writeln!(
            text,
            "d{i}.example.com\tFALSE\t/\tFALSE\t0\tfar{i:04}\tv{i}"
        );
    }
    for i in 0..30 {
        let _ = writeln!(text, "app.sp.test\tFALSE\t/\tFALSE\t0\tnear{i:02}\tv{i}");
    }
    std::fs::write(&jar, text).unwrap();
    let args = |format: &str| {
        let mut cmd = crate::support::process();
        cmd.args(["sso", "--format", format, "--timeout", "5s", "--resolve"])
            .arg(format!("app.sp.test:{port}:127.0.0.1"))
            .arg("--cookie-jar")
            .arg(&jar)
            .arg(format!("http://app.sp.test:{port}/app"));
        cmd.output().unwrap()
    };
    let out = args("text");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let jar_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("jar: "))
        .unwrap_or_else(|| panic!("no jar line:\n{text}"));
    assert!(jar_line.ends_with(", … and 3020 more"), "{jar_line}");
    let sent = text
        .lines()
        .find(|l| l.contains(" sent "))
        .unwrap_or_else(|| panic!("no hop sent cookies:\n{text}"));
    assert!(sent.contains("… and 20 more"), "{sent}");
    assert!(text.len() < 4096, "{} bytes of text", text.len());

    let out = args("json");
    let report: reach_report::Report = serde_json::from_slice(&out.stdout).unwrap();
    let sso = report
        .checks
        .iter()
        .find_map(|c| match &c.details {
            reach_report::Details::Sso(d) => Some(d),
            _ => None,
        })
        .expect("an sso check");
    assert_eq!(sso.seeded_cookies.len(), 3030);
    assert_eq!(sso.hops[0].cookies_sent.len(), 30);
}

#[test]
fn the_progress_bar_shows_check_names_escaped() {
    // The progress bar only draws on a terminal: `script` gives reach one.
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED the_progress_bar_shows_check_names_escaped: no `script` (util-linux)");
        return;
    }
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let preflight = dir.path().join("preflight.toml");
    std::fs::write(
        &preflight,
        format!(
            "[[endpoint]]\nname = \"\\u001b]0;pwned\\u0007 slow?access_token=SECRET-BAR-1\"\nurl = \"http://{}/\"\n",
            lab.silent
        ),
    )
    .unwrap();
    let shell = format!(
        "{} run {} --timeout 2s >/dev/null",
        bin().to_string_lossy(),
        preflight.display()
    );
    let out = Command::new("script")
        .args(["-qefc", &shell, "/dev/null"])
        .env_remove("http_proxy")
        .env_remove("HTTP_PROXY")
        .output()
        .unwrap();
    let terminal = String::from_utf8_lossy(&out.stdout);
    assert!(
        terminal.contains("slowest: "),
        "no progress bar: {terminal:?}"
    );
    assert!(!terminal.contains("\u{1b}]0;pwned"), "{terminal:?}");
    assert!(!terminal.contains("SECRET-BAR-1"), "{terminal:?}");
    assert!(terminal.contains("\\u{1b}]0;pwned"), "{terminal:?}");
}

#[test]
fn jsonl_of_an_interrupted_run_ends_with_the_cancelled_checks() {
    let (code, stdout, stderr) = interrupted("jsonl");
    assert_eq!(code, Some(130), "{stderr}");
    let checks: Vec<reach_report::Check> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(checks.len(), 1 + SILENT, "{stdout}");
    assert_eq!(checks[0].status, reach_report::Status::Pass, "{stdout}");
    assert!(
        checks[1..]
            .iter()
            .all(|c| c.status == reach_report::Status::Cancelled),
        "{stdout}"
    );
}

/// `reach check --format jsonl` on a fast target and a silent one: the
/// fast check's line is out long before the run ends.
#[test]
fn jsonl_writes_each_check_the_moment_it_ends() {
    use std::io::BufRead;
    let lab = lab();
    let mut cmd = crate::support::process();
    cmd.args(["check", "--format", "jsonl", "--timeout", "3s"])
        .arg(format!("http://{}/slow", lab.silent))
        .arg(format!("http://{}/", lab.http))
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let started = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let first_after = started.elapsed();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let status = child.wait().unwrap();
    let ended_after = started.elapsed();
    assert_eq!(status.code(), Some(1));
    let first: reach_report::Check = serde_json::from_str(&first).unwrap();
    assert_eq!(first.target, format!("http://{}/", lab.http));
    assert_eq!(first.status, reach_report::Status::Pass);
    assert!(first_after < Duration::from_secs(2), "{first_after:?}");
    assert!(ended_after >= Duration::from_secs(3), "{ended_after:?}");
    let second: reach_report::Check = serde_json::from_str(rest.trim()).unwrap();
    assert_eq!(second.status, reach_report::Status::Fail, "{rest}");
}

#[test]
fn jsonl_to_a_file_is_whole_and_redacted() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.jsonl");
    let secret = "s3cr3t-t0ken-value";
    let ended = crate::command()
        .args(["check", "--format", "jsonl", "-o"])
        .arg(&out)
        .arg(format!("http://{}/?token={secret}", lab.http))
        .arg(format!("http://{}/", lab.refused))
        .arg("http://[::1")
        .output()
        .unwrap();
    assert_eq!(ended.status.code(), Some(2), "{ended:?}");
    assert!(ended.stdout.is_empty(), "{ended:?}");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(!text.contains(secret), "{text}");
    let mut statuses: Vec<reach_report::Status> = text
        .lines()
        .map(|l| {
            serde_json::from_str::<reach_report::Check>(l)
                .unwrap()
                .status
        })
        .collect();
    statuses.sort();
    assert_eq!(
        statuses,
        [
            reach_report::Status::Pass,
            reach_report::Status::Fail,
            reach_report::Status::Error
        ],
        "{text}"
    );
    // No temp file is left beside it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn openmetrics_labels_each_check_and_keeps_no_query() {
    let lab = lab();
    let ended = crate::command()
        .args(["check", "--format", "openmetrics"])
        .arg(format!("http://{}/?token=abc", lab.http))
        .arg(format!("http://{}/", lab.refused))
        .output()
        .unwrap();
    assert_eq!(ended.status.code(), Some(1));
    let text = String::from_utf8(ended.stdout).unwrap();
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(!text.contains("token"), "{text}");
    for line in [
        format!(
            "probe_success{{kind=\"endpoint\",target=\"http://{}/\"}} 1.0",
            lab.http
        ),
        format!(
            "probe_success{{kind=\"endpoint\",target=\"http://{}/\"}} 0.0",
            lab.refused
        ),
        format!(
            "reach_finding{{kind=\"endpoint\",target=\"http://{}/\",code=\"tcp.refused\",severity=\"fail\"}} 1.0",
            lab.refused
        ),
    ] {
        assert!(text.lines().any(|l| l == line), "{line}\n{text}");
    }
}

/// A reader that stops reading (a paused pager, a stuck pipe) fills the
/// pipe; Ctrl-C still ends reach, promptly.
#[test]
fn jsonl_to_a_reader_that_stopped_reading_still_ends_on_ctrl_c() {
    let lab = lab();
    let mut cmd = crate::support::process();
    cmd.args(["check", "--format", "jsonl", "--timeout", "60s"]);
    // Enough lines to fill a pipe (64 KiB) many times over, and one check
    // that is still running when SIGINT comes.
    for i in 0..400 {
        cmd.arg(format!("http://{}/?padding-to-fill-the-pipe={i}", lab.http));
    }
    cmd.arg(format!("http://{}/", lab.silent));
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Never read.
    let _stdout = child.stdout.take();
    let ended = signal_and_wait(
        child,
        "-INT",
        Duration::from_secs(2),
        Duration::from_secs(10),
    );
    assert_eq!(ended.code, Some(130), "did not end within 10 s of SIGINT");
    assert!(ended.took < Duration::from_secs(5), "{:?}", ended.took);
}
