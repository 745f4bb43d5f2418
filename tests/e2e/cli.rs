//! The command line itself: bad input, exit codes, output files, text.

use reach_report::{Code, Status};

use crate::{codes, lab, reach, run_json};

fn bare() -> assert_cmd::Command {
    crate::command()
}

#[test]
fn malformed_targets_are_errors_and_the_good_ones_still_run() {
    let lab = lab();
    let good = format!("http://good.lab.test:{}/", lab.http.port());
    let run = run_json(&["ftp://nope/", &good, "http://", "good.lab.test:99999"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.report.checks.len(), 4);
    assert_eq!(run.check(&good).status, Status::Pass);
    for bad in ["ftp://nope/", "http://", "good.lab.test:99999"] {
        let check = run.check(bad);
        assert_eq!(check.status, Status::Error, "{check:#?}");
        assert_eq!(codes(check), [Code::InputInvalid]);
        assert!(check.findings[0].message.contains(bad), "{check:#?}");
    }
    assert_eq!(run.report.summary.error, 3);
    assert_eq!(run.report.summary.pass, 1);
}

#[test]
fn malformed_network_options_are_named() {
    let lab = lab();
    let good = format!("http://good.lab.test:{}/", lab.http.port());
    let other = format!("http://other.example.invalid:{}/", lab.http.port());
    let run = run_json(&[
        "--resolve",
        "other.example.invalid:http:127.0.0.1",
        "--dns-server",
        "not-an-ip",
        &good,
        &other,
    ]);
    assert_eq!(run.code, 2);
    // A bad value turns every check that would use it into an error that
    // names it, and is no entry of its own: every target asks the DNS
    // servers, and only `other` takes the --resolve entry.
    assert_eq!(run.report.checks.len(), 2, "{:#?}", run.report.checks);
    let named = |target: &str| -> Vec<String> {
        let check = run.check(target);
        assert_eq!(check.status, Status::Error, "{check:#?}");
        check.findings.iter().map(|f| f.message.clone()).collect()
    };
    let good = named(&good);
    assert_eq!(good.len(), 1, "{good:?}");
    assert!(
        good[0].contains("--dns-server") && good[0].contains("not-an-ip"),
        "{good:?}"
    );
    let other = named(&other);
    assert_eq!(other.len(), 2, "{other:?}");
    assert!(
        other
            .iter()
            .any(|m| m.contains("--resolve") && m.contains("`http` is not a port number")),
        "{other:?}"
    );

    // A value no target uses is still reported, on its own.
    let run = run_json(&[
        "--resolve",
        "unused.example:x:1",
        &format!("http://good.lab.test:{}/", lab.http.port()),
    ]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.check("--resolve unused.example:x:1").status,
        Status::Error
    );
}

#[test]
fn targets_come_from_a_file_and_stdin() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("targets.txt");
    let good = format!("http://good.lab.test:{}/", lab.http.port());
    std::fs::write(
        &file,
        format!("# endpoints\n{good}\n\n  not a url  # broken\n"),
    )
    .unwrap();
    let run = run_json(&["--targets-file", file.to_str().unwrap()]);
    assert_eq!(run.report.checks.len(), 2);
    assert_eq!(run.check(&good).status, Status::Pass);
    let bad = run.check("not a url");
    assert!(
        bad.findings[0].message.contains("targets.txt:4"),
        "{bad:#?}"
    );

    let out = reach()
        .args(["--json", "--targets-file", "-"])
        .write_stdin(format!("{good}\n"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: reach_report::Report = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report.checks[0].target, good);
}

#[test]
fn no_targets_is_a_usage_error() {
    let out = bare().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no targets"));
    let out = bare()
        .args(["check", "--timeout", "soon", "x"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("soon"));
}

#[test]
fn report_is_written_atomically_to_a_file() {
    let lab = lab();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.json");
    let url = format!("http://good.lab.test:{}/status/500", lab.http.port());
    let out = reach()
        .args(["--json", "-o", path.to_str().unwrap(), &url])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let report: reach_report::Report =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(codes(&report.checks[0]), [Code::HttpStatusError]);
    // Only the report is left in the directory: no temp file.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn text_report_names_verdict_timings_and_remedy() {
    let lab = lab();
    let good = format!("http://good.lab.test:{}/", lab.http.port());
    let refused = format!("http://{}/", lab.refused);
    let out = reach().args([&good, &refused]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.contains('\x1b'), "no colour when not a terminal");
    assert!(text.contains(&format!("PASS  {good}")), "{text}");
    assert!(text.contains(&format!("FAIL  {refused}")), "{text}");
    assert!(text.contains("tcp.refused"));
    assert!(text.contains("fix: Nothing listens"));
    assert!(text.contains("ttfb"));
    assert!(text.contains("summary: 1 pass, 0 warn, 1 fail, 0 error"));
}

#[test]
fn secrets_in_urls_and_headers_are_redacted() {
    let lab = lab();
    let url = format!(
        "http://good.lab.test:{}/status/200?code=s3cr3t-code&state=ok",
        lab.http.port()
    );
    let out = reach()
        .args(["--json", "-H", "Authorization: Bearer s3cr3t-token", &url])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(!stdout.contains("s3cr3t"), "{stdout}");
    assert!(stdout.contains("code=[redacted]&state=ok"));

    let out = reach()
        .args(["--json", "--no-redact", &url])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("s3cr3t-code"));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--no-redact"));
}

#[test]
fn explain_and_schema() {
    let out = bare().args(["explain", "tcp.timeout"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("firewall"), "{text}");

    let out = bare().args(["explain", "--list"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for code in Code::ALL {
        assert!(text.contains(code.name()), "{code} missing from --list");
    }

    let out = bare().args(["explain", "tcp.nope"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("tcp.refused"));

    let out = bare().arg("schema").output().unwrap();
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(schema["title"], "Report");
}

/// The JSON wire format, pinned: a change to the shape shows up as a
/// snapshot diff. Values that vary between runs are normalised first.
#[test]
fn json_report_shape_is_stable() {
    let lab = lab();
    let url = format!("http://v4only.lab.test:{}/status/503", lab.http.port());
    let out = reach().args(["--json", &url]).output().unwrap();
    let text = String::from_utf8(out.stdout)
        .unwrap()
        .replace(&lab.http.port().to_string(), "HTTP_PORT")
        .replace(&lab.dns.port().to_string(), "DNS_PORT");
    let mut value: serde_json::Value = serde_json::from_str(&text).unwrap();
    normalise(&mut value);
    // The machine's name.
    if let Some(host) = value.get_mut("host") {
        *host = serde_json::Value::String("[host]".into());
    }
    insta::assert_json_snapshot!(value);
}

fn normalise(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::Object(map) => {
            for (key, member) in map.iter_mut() {
                if key.ends_with("_ms") || key == "started_at" || key == "local_address" {
                    *member = Value::String(format!("[{key}]"));
                } else {
                    normalise(member);
                }
            }
            // Response `date` headers change every second.
            if map.get("name").and_then(Value::as_str) == Some("date") {
                map.insert("value".into(), Value::String("[date]".into()));
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalise),
        _ => {}
    }
}

/// Every command whose help is checked: its words, an option of its own
/// (listed before the shared ones), and whether it takes the network
/// options.
const HELP_COMMANDS: [(&[&str], &str, bool); 12] = [
    (&["check"], "--targets-file", true),
    (&["allowlist"], "--published", true),
    (&["allowlist", "diff"], "--published", true),
    (&["sso"], "--max-hops", true),
    (&["oauth"], "--help", false),
    (&["oauth", "scopes"], "--required", false),
    (&["oauth", "token"], "--client-id", true),
    (&["oauth", "discover"], "--scope", true),
    (&["run"], "--concurrency", false),
    (&["serve"], "--listen", false),
    (&["explain"], "--list", false),
    (&["schema"], "--help", false),
];

/// The global options (`OutputArgs`), each given by the name it is listed by.
const OUTPUT_OPTIONS: [&str; 9] = [
    "--format",
    "--json",
    "--output",
    "--timeout",
    "--strict",
    "--no-color",
    "--no-redact",
    "--quiet",
    "--verbose",
];

/// `reach ARGS` on an 80-column terminal: clap reads the width from
/// `COLUMNS` when stdout is not a terminal.
fn help_at_80(args: &[&str]) -> String {
    help_at(80, args)
}

/// `reach ARGS` on a terminal `columns` wide.
fn help_at(columns: u16, args: &[&str]) -> String {
    let out = bare()
        .env("COLUMNS", columns.to_string())
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "reach {args:?}");
    String::from_utf8(out.stdout).unwrap()
}

/// The help cut at its headings (`Options:`, `Network options:`, …): a
/// heading's section runs to the next line that is not indented. Prose
/// between sections belongs to the heading "".
fn help_sections(help: &str) -> Vec<(&str, Vec<&str>)> {
    let mut sections = vec![("", Vec::new())];
    for line in help.lines() {
        if line.is_empty() || line.starts_with(' ') {
            sections.last_mut().unwrap().1.push(line);
        } else if let Some(heading) = line.strip_suffix(':') {
            sections.push((heading, Vec::new()));
        } else {
            sections.push(("", vec![line]));
        }
    }
    sections
}

/// Whether `line` is where clap lists `flag` (`  -o, --output <FILE>  …`),
/// not a description that mentions it.
fn lists(line: &str, flag: &str) -> bool {
    let text = line.trim_start();
    line.len() - text.len() <= 6
        && text.starts_with('-')
        && text
            .split([' ', ','])
            .take_while(|word| word.is_empty() || word.starts_with('-'))
            .any(|word| word == flag)
}

/// The headings under which `flag` is listed, in order.
fn headings_listing<'h>(sections: &[(&'h str, Vec<&str>)], flag: &str) -> Vec<&'h str> {
    sections
        .iter()
        .filter(|(_, lines)| lines.iter().any(|line| lists(line, flag)))
        .map(|(heading, _)| *heading)
        .collect()
}

/// The names under a `Commands:` heading.
fn subcommands(help: &str) -> Vec<String> {
    help_sections(help)
        .into_iter()
        .filter(|(heading, _)| *heading == "Commands")
        .flat_map(|(_, lines)| lines)
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .filter(|name| name != "help")
        .collect()
}

/// Point 10 of issue 16: help read on an 80-column terminal. No line is
/// wider (tables and examples in the after-help are written to fit, not
/// re-wrapped mid-line by clap), in `-h` and `--help` alike.
#[test]
fn every_help_fits_80_columns() {
    let mut commands: Vec<&[&str]> = vec![&[]];
    commands.extend(HELP_COMMANDS.iter().map(|(words, _, _)| *words));
    for words in commands {
        for flag in ["-h", "--help"] {
            let args = [words, &[flag]].concat();
            let help = help_at_80(&args);
            let wide: Vec<_> = help
                .lines()
                .filter(|line| line.chars().count() > 80)
                .collect();
            assert!(
                wide.is_empty(),
                "reach {} has lines over 80 columns:\n{}",
                args.join(" "),
                wide.join("\n")
            );
            // clap wraps every line to the width, so the test above holds
            // by itself: the after-help must also read the same as on a
            // wider terminal, i.e. not be cut mid-line by clap at 80.
            let wider = help_at(100, &args);
            assert_eq!(
                prose(&help),
                prose(&wider),
                "reach {}: clap re-wraps the help's prose at 80 columns",
                args.join(" ")
            );
        }
    }
}

/// The after-help: what follows the option lists (its prose, tables and
/// examples, written to fit 80 columns). The about text before them is
/// clap's to wrap.
fn prose(help: &str) -> Vec<&str> {
    const LISTS: [&str; 5] = [
        "Options",
        "Network options",
        "Output options",
        "Commands",
        "Arguments",
    ];
    help_sections(help)
        .into_iter()
        .skip_while(|(heading, _)| !LISTS.contains(heading))
        .filter(|(heading, _)| !LISTS.contains(heading))
        .flat_map(|(_, lines)| lines)
        .collect()
}

/// Point 10 of issue 16: each command's help lists its own options first,
/// then the network options under their heading (where it takes them),
/// then the global output options under theirs, and each option only once.
#[test]
fn help_lists_own_then_network_then_output_options() {
    for (words, own, network) in HELP_COMMANDS {
        for flag in ["-h", "--help"] {
            let args = [words, &[flag]].concat();
            let command = args.join(" ");
            let help = help_at_80(&args);
            let sections = help_sections(&help);
            let at = |heading: &str| sections.iter().position(|(h, _)| *h == heading);
            let options = at("Options").unwrap_or_else(|| panic!("reach {command}:\n{help}"));
            let output = at("Output options").unwrap_or_else(|| panic!("reach {command}:\n{help}"));
            assert!(options < output, "reach {command}:\n{help}");
            assert_eq!(
                headings_listing(&sections, own),
                ["Options"],
                "reach {command}: {own}\n{help}"
            );
            for option in OUTPUT_OPTIONS {
                assert_eq!(
                    headings_listing(&sections, option),
                    ["Output options"],
                    "reach {command}: {option}\n{help}"
                );
            }
            if network {
                let network =
                    at("Network options").unwrap_or_else(|| panic!("reach {command}:\n{help}"));
                assert!(
                    options < network && network < output,
                    "reach {command}:\n{help}"
                );
                for option in ["--dns-server", "--resolve", "--proxy"] {
                    assert_eq!(
                        headings_listing(&sections, option),
                        ["Network options"],
                        "reach {command}: {option}\n{help}"
                    );
                }
            } else {
                assert_eq!(at("Network options"), None, "reach {command}:\n{help}");
            }
        }
    }
    // The top level shows the global options under the same heading.
    let help = help_at_80(&["--help"]);
    assert_eq!(
        headings_listing(&help_sections(&help), "--timeout"),
        ["Output options"],
        "{help}"
    );
}

/// The list above covers every command there is: a new one fails here
/// until its help is checked too.
#[test]
fn help_checks_cover_every_command() {
    let checked: Vec<String> = HELP_COMMANDS
        .iter()
        .map(|(words, _, _)| words.join(" "))
        .collect();
    for parent in [&[][..], &["allowlist"], &["oauth"]] {
        let help = help_at_80(&[parent, &["--help"]].concat());
        let names = subcommands(&help);
        assert!(!names.is_empty(), "reach {parent:?}:\n{help}");
        for name in names {
            let command = [parent, &[name.as_str()]].concat().join(" ");
            assert!(checked.contains(&command), "reach {command} is not checked");
        }
    }
}
