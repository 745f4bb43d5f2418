//! Every file input goes through one reader: a device, a folder or a
//! socket is an input error naming it; a FIFO that sends nothing is given
//! up after `--timeout`, and Ctrl-C or SIGTERM while it waits gives the
//! interrupted report; the format of an allowlist is told from its first
//! bytes; text that is not UTF-8 names its line; a value that may be a
//! secret never reaches a message.
//!
//! Each case runs the binary under a bounded wait (and, for the devices,
//! a memory limit), so a build that reads /dev/zero for ever fails the test
//! instead of taking the machine with it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reach_report::{Report, Status};

use crate::support::{Ended, PROXY_VARS, bin, signal_and_wait, wait};

/// `reach ARGS` in `dir`, under a 4 GiB address-space limit.
fn spawn(dir: &Path, args: &[&str]) -> Child {
    let line = "ulimit -v 4194304 2>/dev/null; exec \"$0\" \"$@\"";
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(line)
        .arg(bin())
        .args(args)
        .current_dir(dir);
    for var in PROXY_VARS {
        cmd.env_remove(var);
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("reach starts")
}

fn run(dir: &Path, args: &[&str]) -> Ended {
    wait(spawn(dir, args), Duration::from_secs(20))
}

/// What a failed assertion shows: the command line, stderr and stdout.
fn said(args: &[&str], ended: &Ended) -> String {
    format!(
        "reach {}: {}\n{}",
        args.join(" "),
        ended.stderr,
        ended.stdout
    )
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

/// A small working set of inputs in a temp dir.
fn workdir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    std::fs::write(path.join("feed.txt"), "192.0.2.0/24\n").unwrap();
    std::fs::write(path.join("allow.txt"), "192.0.2.0/24\n").unwrap();
    (dir, path)
}

/// Each file input, with `FILE` where the input goes.
const INPUTS: &[&[&str]] = &[
    &[
        "allowlist",
        "--published",
        "feed.txt",
        "--allowlist",
        "FILE",
    ],
    &[
        "allowlist",
        "--published",
        "FILE",
        "--allowlist",
        "allow.txt",
    ],
    &["allowlist", "diff", "feed.txt", "FILE"],
    &["check", "--targets-file", "FILE"],
    &["sso", "http://127.0.0.1:9/", "--cookie-jar", "FILE"],
    &["run", "FILE"],
    &[
        "oauth",
        "scopes",
        "--url",
        "https://a.example/authorize?client_id=x&scope=a",
        "--app",
        "FILE",
    ],
    &[
        "oauth",
        "token",
        "--token-url",
        "http://127.0.0.1:9/token",
        "--client-id",
        "x",
        "--client-secret-file",
        "FILE",
    ],
];

fn with_file<'a>(input: &[&'a str], file: &'a str) -> Vec<&'a str> {
    input
        .iter()
        .map(|a| if *a == "FILE" { file } else { a })
        .collect()
}

#[test]
fn devices_and_folders_are_input_errors_at_once() {
    let (_dir, path) = workdir();
    let folder = path.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let folder = folder.display().to_string();
    for input in INPUTS {
        for file in ["/dev/zero", "/dev/urandom", folder.as_str()] {
            let mut args = with_file(input, file);
            args.extend(["--timeout", "2s"]);
            let ended = run(&path, &args);
            let said = said(&args, &ended);
            assert_eq!(ended.code, Some(2), "{said}");
            assert!(ended.took < Duration::from_secs(10), "{said}");
            let named = ended
                .stderr
                .lines()
                .any(|l| l.starts_with("reach: error:") && l.contains(file));
            assert!(named, "the message names {file}: {said}");
            let kind = if file.starts_with("/dev/") {
                "character device"
            } else {
                "folder"
            };
            assert!(ended.stderr.contains(kind), "{said}");
        }
    }
}

/// The PEM inputs (read by the tls crate) are bounded too: a device or a
/// folder as `--ca-file`, `--client-cert` or `--client-key` is refused by
/// what it is, at once.
#[test]
fn devices_as_pem_files_are_refused_at_once() {
    let (_dir, path) = workdir();
    let folder = path.join("folder");
    std::fs::create_dir(&folder).unwrap();
    let folder = folder.display().to_string();
    for file in ["/dev/zero", "/dev/urandom", folder.as_str()] {
        for args in [
            vec!["check", "--ca-file", file],
            vec!["check", "--client-cert", file, "--client-key", file],
        ] {
            let mut args = args.clone();
            args.extend(["--timeout", "2s", "http://127.0.0.1:9/"]);
            let ended = run(&path, &args);
            let said = said(&args, &ended);
            assert_eq!(ended.code, Some(2), "{said}");
            assert!(ended.took < Duration::from_secs(10), "{said}");
            let kind = if file.starts_with("/dev/") {
                "not a device"
            } else {
                "not a folder"
            };
            assert!(
                ended.stderr.contains(file) && ended.stderr.contains(kind),
                "{said}"
            );
        }
    }
}

#[test]
fn a_fifo_that_sends_nothing_is_given_up_after_the_timeout() {
    let (_dir, path) = workdir();
    let fifo = path.join("silent.fifo");
    mkfifo(&fifo);
    let fifo = fifo.display().to_string();
    for input in INPUTS {
        let mut args = with_file(input, &fifo);
        args.extend(["--timeout", "1s"]);
        let ended = run(&path, &args);
        let said = said(&args, &ended);
        assert_eq!(ended.code, Some(2), "{said}");
        assert!(
            ended
                .stderr
                .contains(&format!("{fifo}: no data within 1 s")),
            "{said}"
        );
    }
    // A usage error after the read gave up does not wait for the thread
    // still blocked on the FIFO.
    let args = [
        "check",
        "http://127.0.0.1:9/",
        "--targets-file",
        &fifo,
        "--ca-file",
        "/nonexistent/ca.pem",
        "--timeout",
        "1s",
    ];
    let ended = run(&path, &args);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    assert!(ended.stderr.contains("--ca-file"), "{}", ended.stderr);
}

#[test]
fn a_fifo_and_stdin_are_read_as_files() {
    let (_dir, path) = workdir();
    let fifo = path.join("allow.fifo");
    mkfifo(&fifo);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || std::fs::write(fifo, "192.0.2.0/24\n"))
    };
    let args = [
        "allowlist",
        "--json",
        "--published",
        "feed.txt",
        "--allowlist",
        fifo.to_str().unwrap(),
    ];
    let ended = run(&path, &args);
    writer.join().unwrap().unwrap();
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let report: Report = serde_json::from_str(&ended.stdout).unwrap();
    assert_eq!(report.checks[0].status, Status::Pass);
    // `-` is stdin, for every input.
    let mut child = crate::support::process()
        .args([
            "allowlist",
            "--json",
            "--published",
            "-",
            "--allowlist",
            "allow.txt",
        ])
        .current_dir(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"192.0.2.0/25\n").unwrap();
    let ended = wait(child, Duration::from_secs(20));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    let report: Report = serde_json::from_str(&ended.stdout).unwrap();
    let details = serde_json::to_value(&report.checks[0].details).unwrap();
    assert_eq!(details["published"][0]["entries"], 1, "{details}");
}

/// Ctrl-C or SIGTERM while reach waits for a FIFO: the interrupted report
/// at once.
#[test]
fn a_signal_while_waiting_for_a_fifo_gives_the_interrupted_report() {
    let (_dir, path) = workdir();
    let fifo = path.join("silent.fifo");
    mkfifo(&fifo);
    let fifo = fifo.display().to_string();
    for signal in ["-TERM", "-INT"] {
        for input in [INPUTS[0], INPUTS[3], INPUTS[5]] {
            let mut args = with_file(input, &fifo);
            args.extend(["--timeout", "60s", "--json"]);
            let ended = signalled(&path, &args, signal, Duration::from_millis(800));
            let said = format!(
                "reach {} ({signal}): {}\n{}",
                args.join(" "),
                ended.stderr,
                ended.stdout
            );
            assert_eq!(ended.code, Some(130), "{said}");
            assert!(ended.took < Duration::from_secs(5), "{said}");
            let report: Report = serde_json::from_str(&ended.stdout).expect(&said);
            assert!(report.summary.cancelled >= 1, "{said}");
            assert!(ended.stderr.contains("interrupted"), "{said}");
        }
    }
}

/// Starts reach, sends `signal` after `after`; `took` counts from the
/// signal.
fn signalled(dir: &Path, args: &[&str], signal: &str, after: Duration) -> Ended {
    signal_and_wait(spawn(dir, args), signal, after, Duration::from_secs(30))
}

/// A big feed (two million prefixes) keeps reach busy reading, parsing
/// and computing for seconds: Ctrl-C or SIGTERM stops it at once, with
/// the interrupted report.
#[test]
fn a_signal_during_long_allowlist_work_stops_it_at_once() {
    let (_dir, path) = workdir();
    let mut feed = String::with_capacity(40 << 20);
    let mut x: u32 = 0x9E37_79B9;
    for _ in 0..2_000_000 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        let _ = writeln!(
            feed,
            "{}.{}.{}.0/24",
            1 + (x >> 24) % 223,
            (x >> 16) & 0xFF,
            (x >> 8) & 0xFF
        );
    }
    std::fs::write(path.join("big-feed.txt"), &feed).unwrap();
    let half = feed[..feed.len() / 2].rfind('\n').unwrap() + 1;
    std::fs::write(path.join("big-allow.txt"), &feed[..half]).unwrap();
    drop(feed);
    for signal in ["-INT", "-TERM"] {
        let args = [
            "allowlist",
            "--json",
            "--published",
            "big-feed.txt",
            "--allowlist",
            "big-allow.txt",
        ];
        let ended = signalled(&path, &args, signal, Duration::from_millis(1500));
        let said = format!("{signal}: {}\n{:.300}", ended.stderr, ended.stdout);
        assert_eq!(ended.code, Some(130), "{said}");
        assert!(
            ended.took < Duration::from_secs(2),
            "took {:?}: {said}",
            ended.took
        );
        let report: Report = serde_json::from_str(&ended.stdout).expect(&said);
        assert_eq!(report.checks[0].status, Status::Cancelled, "{said}");
    }
}

/// `nft -j` prints one line; so may an AWS export. Over 32 MiB (where
/// plain lists are read in pieces) it is still read as JSON.
#[test]
fn a_one_line_json_allowlist_over_32_mib_is_read_as_json() {
    let (_dir, path) = workdir();
    let cases = [
        (
            "nft.json",
            include_str!("../../crates/allowlist/tests/data/nft-ruleset.json"),
            "nft-json",
        ),
        (
            "sg.json",
            include_str!("../../crates/allowlist/tests/data/aws-sg.json"),
            "aws-sg",
        ),
    ];
    for (name, fixture, format) in cases {
        // One line: the fixture without its line breaks, padded with JSON
        // white space past 32 MiB before its last `}`.
        let one_line: String = fixture.chars().filter(|c| *c != '\n').collect();
        let end = one_line.rfind('}').unwrap();
        let mut text = String::with_capacity(34 << 20);
        text.push_str(&one_line[..end]);
        text.push_str(&" ".repeat(33 << 20));
        text.push_str(&one_line[end..]);
        assert!(!text.contains('\n') && text.len() > 32 << 20);
        std::fs::write(path.join(name), &text).unwrap();
        drop(text);
        let args = [
            "allowlist",
            "--json",
            "--published",
            "feed.txt",
            "--allowlist",
            name,
        ];
        let ended = wait(spawn(&path, &args), Duration::from_secs(60));
        let said = format!("{name}: {}\n{:.2000}", ended.stderr, ended.stdout);
        let report: Report = serde_json::from_str(&ended.stdout).expect(&said);
        let check = &report.checks[0];
        assert_ne!(check.status, Status::Error, "{said}");
        let value = serde_json::to_value(&check.details).unwrap();
        assert_eq!(value["allowlists"][0]["format"], format, "{said}");
        assert!(
            value["allowlists"][0]["entries"].as_u64().unwrap() > 0,
            "{said}"
        );
    }
}

#[test]
fn text_that_is_not_utf8_names_its_line() {
    let (_dir, path) = workdir();
    std::fs::write(
        path.join("bad.txt"),
        b"192.0.2.0/24\n# fine\n10.\xff\xfe.0.0/16\n",
    )
    .unwrap();
    for (args, file) in [
        (
            vec![
                "allowlist",
                "--published",
                "feed.txt",
                "--allowlist",
                "bad.txt",
            ],
            "bad.txt:3",
        ),
        (
            vec![
                "allowlist",
                "--published",
                "bad.txt",
                "--allowlist",
                "allow.txt",
            ],
            "bad.txt:3",
        ),
        (vec!["check", "--targets-file", "bad.txt"], "bad.txt:3"),
    ] {
        let ended = run(&path, &args);
        let said = said(&args, &ended);
        assert_eq!(ended.code, Some(2), "{said}");
        assert!(
            ended.stderr.contains(&format!("{file}: not UTF-8 text")),
            "{said}"
        );
    }
}

#[test]
fn a_line_over_the_bound_is_refused_with_its_number() {
    let (_dir, path) = workdir();
    let mut text = b"192.0.2.0/24\n".to_vec();
    text.extend(std::iter::repeat_n(b'1', 1 << 20));
    std::fs::write(path.join("long.txt"), &text).unwrap();
    let ended = run(
        &path,
        &[
            "allowlist",
            "--published",
            "feed.txt",
            "--allowlist",
            "long.txt",
        ],
    );
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("long.txt:2: line longer than 4 KiB"),
        "{}",
        ended.stderr
    );
}

/// A TOML syntax error, and a bad value in an entry, say `file:line:column`.
#[test]
fn preflight_errors_say_where() {
    let (_dir, path) = workdir();
    std::fs::write(
        path.join("syntax.toml"),
        "[[endpoint]]\nurl = \"http://127.0.0.1:9/\"\n[[endpoint]\n",
    )
    .unwrap();
    let ended = run(&path, &["run", "syntax.toml"]);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    assert!(ended.stderr.contains("syntax.toml:3:"), "{}", ended.stderr);
    std::fs::write(
        path.join("header.toml"),
        "[[endpoint]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/\"\nheaders = [\"not a header\"]\n",
    )
    .unwrap();
    let ended = run(&path, &["run", "header.toml", "--timeout", "2s"]);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    let line = ended
        .stderr
        .lines()
        .find(|l| l.contains("invalid header"))
        .unwrap_or_default();
    assert!(line.contains("header.toml:4:1"), "{}", ended.stderr);
}

/// `--cookie VALUE` without `=` may be the secret itself: no message shows
/// it, on stderr or in any format.
#[test]
fn a_cookie_that_does_not_parse_is_never_echoed() {
    let (_dir, path) = workdir();
    std::fs::write(
        path.join("pre.toml"),
        "[[sso]]\nurl = \"http://127.0.0.1:9/\"\ncookies = [\"sidSECRET1\", \"sid=SECRET2\", \"SECRET3@x.example\", \"-SECRET4\"]\n",
    )
    .unwrap();
    let formats = ["text", "json", "md", "junit"];
    for format in formats {
        for args in [
            vec![
                "sso",
                "http://127.0.0.1:9/",
                "--cookie",
                "sidSECRET1",
                "--cookie",
                "sid=SECRET2",
                "--cookie=SECRET3@x.example",
                "--cookie=-SECRET4",
            ],
            vec!["run", "pre.toml"],
        ] {
            let mut args = args;
            args.extend(["--timeout", "2s", "--format", format]);
            let ended = run(&path, &args);
            let said = said(&args, &ended);
            assert_eq!(ended.code, Some(2), "{said}");
            assert!(ended.stderr.contains("--cookie 1"), "{said}");
            for secret in ["SECRET1", "SECRET2", "SECRET3", "SECRET4"] {
                assert!(!ended.stdout.contains(secret), "{secret}: {said}");
                assert!(!ended.stderr.contains(secret), "{secret}: {said}");
            }
        }
    }
}

/// A bad network value is an input error of the command that was given
/// it, naming the flag: under `reach sso` the sso check, under `reach
/// oauth discover` the `oauth_discover` check, never an endpoint check.
#[test]
fn a_bad_network_value_is_an_error_of_its_own_command() {
    let (_dir, path) = workdir();
    for (args, kind) in [
        (
            vec!["sso", "--dns-server", "nope", "http://127.0.0.1:9/"],
            "sso",
        ),
        (
            vec![
                "oauth",
                "discover",
                "--dns-server",
                "nope",
                "http://127.0.0.1:9/",
            ],
            "oauth_discover",
        ),
        (
            vec!["check", "--dns-server", "nope", "http://127.0.0.1:9/"],
            "endpoint",
        ),
    ] {
        let mut args = args.clone();
        args.extend(["--timeout", "2s", "--json"]);
        let ended = run(&path, &args);
        let said = said(&args, &ended);
        assert_eq!(ended.code, Some(2), "{said}");
        let report: serde_json::Value = serde_json::from_str(&ended.stdout).expect(&said);
        let bad = report["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .find(|c| c["findings"][0]["evidence"]["input"] == "--dns-server nope")
            .unwrap_or_else(|| panic!("no check names the flag: {said}"));
        assert_eq!(bad["kind"], kind, "{said}");
        assert_eq!(bad["status"], "error", "{said}");
        assert!(
            ended
                .stderr
                .contains("--dns-server: `nope` is not a DNS server"),
            "{said}"
        );
    }
}
