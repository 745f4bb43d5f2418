//! `reach explain`: a code in text and JSON, the list, the keyword search,
//! and exit 2 for an unknown code or a search that finds nothing, in every
//! format. Every answer is checked against report's registry, the table
//! the command reads.

use reach_report::{Code, Severity};
use serde::Deserialize;

use crate::support::programmer_text;

/// One code as `--format json` gives it; an unknown member is an error.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    code: Code,
    severity: Severity,
    message: String,
    remedy: String,
    explanation: String,
}

impl Entry {
    /// Fails unless this entry is the registry's, word for word.
    #[track_caller]
    fn assert_registered(&self) {
        let info = self.code.info();
        assert_eq!(self.severity, info.severity, "{}", info.name);
        assert_eq!(self.message, info.message, "{}", info.name);
        assert_eq!(self.remedy, info.remedy, "{}", info.name);
        assert_eq!(self.explanation, info.explanation, "{}", info.name);
    }
}

struct Ended {
    code: i32,
    stdout: String,
    stderr: String,
}

fn explain(args: &[&str]) -> Ended {
    let out = crate::command()
        .arg("explain")
        .args(args)
        .output()
        .expect("reach runs");
    Ended {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

#[track_caller]
fn json<T: serde::de::DeserializeOwned>(ended: &Ended) -> T {
    assert_eq!(ended.code, 0, "{}", ended.stderr);
    serde_json::from_str(&ended.stdout).unwrap_or_else(|e| panic!("{e}: {}", ended.stdout))
}

/// The codes of a text table (`reach explain --list` or a search): the
/// first column of each line up to the blank line before the count.
fn listed(text: &str) -> Vec<Code> {
    text.lines()
        .take_while(|line| !line.is_empty())
        .map(|line| {
            let name = line.split_whitespace().next().unwrap_or_default();
            name.parse()
                .unwrap_or_else(|e| panic!("{e} in line {line:?} of\n{text}"))
        })
        .collect()
}

/// Whether `word` starts a word of one of the code's texts, as the search
/// promises (`cert` is in "certificate", `out` is not in "timeout").
fn mentions(code: Code, word: &str) -> bool {
    let info = code.info();
    let word = word.to_lowercase();
    [info.name, info.message, info.remedy, info.explanation]
        .iter()
        .any(|text| {
            let text = text.to_lowercase();
            text.match_indices(&word).any(|(at, _)| {
                !text[..at]
                    .chars()
                    .next_back()
                    .is_some_and(char::is_alphanumeric)
            })
        })
}

/// Exit 2, nothing on stdout, one message for people on stderr.
#[track_caller]
fn assert_usage_error(ended: &Ended, wanted: &str) {
    assert_eq!(ended.code, 2, "{}{}", ended.stdout, ended.stderr);
    assert_eq!(ended.stdout, "", "{}", ended.stderr);
    assert!(ended.stderr.contains(wanted), "{}", ended.stderr);
    assert_eq!(programmer_text(&ended.stderr), None, "{}", ended.stderr);
}

#[test]
fn a_known_code_in_text_is_the_registry_entry() {
    let ended = explain(&["tcp.timeout"]);
    assert_eq!(ended.code, 0, "{}", ended.stderr);
    let info = Code::TcpTimeout.info();
    assert_eq!(
        ended.stdout,
        format!(
            "tcp.timeout  (fail)\n\n{}\n\n{}\n\nFix: {}\n",
            info.message, info.explanation, info.remedy
        )
    );
    // Any case, as a code is typed from a report.
    assert_eq!(explain(&["TCP.Timeout"]).stdout, ended.stdout);
}

#[test]
fn a_known_code_in_json_is_one_object() {
    for flags in [&["--json"][..], &["--format", "json"]] {
        let ended = explain(&[flags, &["http.timeout"]].concat());
        let entry: Entry = json(&ended);
        assert_eq!(entry.code, Code::HttpTimeout);
        assert_eq!(entry.severity, Severity::Fail);
        entry.assert_registered();
        // The spellings of a report's finding.
        let value: serde_json::Value = json(&ended);
        assert_eq!(value["code"], "http.timeout");
        assert_eq!(value["severity"], "fail");
    }
    let entry: Entry = json(&explain(&["--json", "tls.intercepted"]));
    assert_eq!(entry.severity, Severity::Warn);
}

#[test]
fn list_in_json_has_every_code_in_registry_order() {
    let entries: Vec<Entry> = json(&explain(&["--list", "--format", "json"]));
    let codes: Vec<Code> = entries.iter().map(|e| e.code).collect();
    assert_eq!(codes, Code::ALL);
    entries.iter().for_each(Entry::assert_registered);

    let text = explain(&["--list"]);
    assert_eq!(text.code, 0);
    assert_eq!(listed(&text.stdout), Code::ALL);
}

#[test]
fn a_word_lists_the_codes_it_is_in_names_first() {
    let ended = explain(&["timeout"]);
    assert_eq!(ended.code, 0, "{}", ended.stderr);
    let found = listed(&ended.stdout);
    // The codes named for it come first, in registry order.
    assert_eq!(
        found[..3],
        [Code::DnsTimeout, Code::TcpTimeout, Code::HttpTimeout],
        "{}",
        ended.stdout
    );
    assert!(found.len() > 3, "only the names matched:\n{}", ended.stdout);
    // Every code listed has the word; every code with the word is listed.
    for code in Code::ALL {
        assert_eq!(found.contains(code), mentions(*code, "timeout"), "{code}");
    }
    let summary = format!("{} codes match `timeout`", found.len());
    assert!(ended.stdout.contains(&summary), "{}", ended.stdout);

    // The same codes, in the same order, in JSON.
    let entries: Vec<Entry> = json(&explain(&["--json", "TimeOut"]));
    let codes: Vec<Code> = entries.iter().map(|e| e.code).collect();
    assert_eq!(codes, found);
    entries.iter().for_each(Entry::assert_registered);
}

#[test]
fn several_words_must_all_match() {
    let ended = explain(&["proxy", "auth"]);
    assert_eq!(ended.code, 0, "{}", ended.stderr);
    let found = listed(&ended.stdout);
    assert_eq!(found[0], Code::ProxyAuthRequired, "{}", ended.stdout);
    for code in Code::ALL {
        let both = mentions(*code, "proxy") && mentions(*code, "auth");
        assert_eq!(found.contains(code), both, "{code}");
    }
    // Each word alone finds more than both together.
    assert!(listed(&explain(&["proxy"]).stdout).len() > found.len());
    // One quoted argument is the same words.
    assert_eq!(listed(&explain(&["proxy auth"]).stdout), found);
}

#[test]
fn nothing_close_enough_exits_1_in_text_and_json() {
    // `nxdomain` and `samesite` each find a code, never the same one; and
    // no text users paste is like either.
    for words in [&["zzzz"][..], &["nxdomain", "samesite"]] {
        let ended = explain(words);
        assert_eq!(ended.code, 1, "{}{}", ended.stdout, ended.stderr);
        assert!(ended.stdout.is_empty(), "{}", ended.stdout);
        assert!(
            ended
                .stderr
                .contains("nothing reach knows is close enough to `"),
            "{}",
            ended.stderr
        );
        let ended = explain(&[&["--json"], words].concat());
        assert_eq!(ended.code, 1, "{}", ended.stderr);
        let doc: serde_json::Value = serde_json::from_str(&ended.stdout).expect("JSON");
        assert_eq!(doc["query"], words.join(" "));
        assert_eq!(doc["matches"], serde_json::json!([]));
    }
    assert_eq!(explain(&["nxdomain"]).code, 0);
    assert_eq!(explain(&["samesite"]).code, 0);
    assert_usage_error(&explain(&[" "]), "give a finding code");
}

/// A pasted error, in any language the catalogue holds, with its log
/// prefix and a URL: the cause, the fix and the command that checks it.
#[test]
fn a_pasted_error_gives_its_causes_and_the_check_to_run() {
    for (text, wanted, check) in [
        (
            "2026-12-01 10:00:00 [ERROR] Failed to receive access token",
            "oauth.token.invalid_client",
            "reach oauth token",
        ),
        (
            "curl: (60) SSL certificate problem: unable to get local issuer certificate",
            "tls.incomplete_chain",
            "reach check",
        ),
        (
            "「提供されたスコープが不十分なため、認証に失敗しました」",
            "oauth.scope.required_missing",
            "reach oauth scopes",
        ),
        (
            "Error: AADSTS50011: The redirect URI 'https://app.example.com/cb' specified in the request does not match",
            "oauth.redirect_uri_mismatch",
            "reach oauth scopes",
        ),
    ] {
        let ended = explain(&["--json", text]);
        assert_eq!(ended.code, 0, "{text}: {}", ended.stderr);
        let doc: serde_json::Value = serde_json::from_str(&ended.stdout).expect("JSON");
        // One message may have several causes (HubSpot shows one for
        // several): those tie, and the wanted one is among the best.
        let matches = doc["matches"].as_array().expect("matches");
        let top = matches[0]["score"].as_f64().unwrap_or_default();
        let first = matches
            .iter()
            .take_while(|m| m["score"].as_f64() == Some(top))
            .find(|m| m["code"] == wanted)
            .unwrap_or_else(|| panic!("{text}: {doc:#}"));
        assert!(first["score"].as_f64().is_some_and(|s| s > 0.5), "{doc:#}");
        assert!(
            first["check"]
                .as_str()
                .is_some_and(|c| c.starts_with(check)),
            "{doc:#}"
        );
        assert!(!first["remedy"].as_str().unwrap_or_default().is_empty());
        // The text output names the same cause and command.
        let ended = explain(&[text]);
        assert!(
            ended.stdout.contains(&format!(". {wanted}  (score")),
            "{}",
            ended.stdout
        );
        assert!(
            ended.stdout.contains(&format!("check: {check}")),
            "{}",
            ended.stdout
        );
    }
}

#[test]
fn a_pasted_credential_is_not_echoed() {
    let text = "POST /token Authorization: Bearer SECRET-TOKEN-77abc AADSTS7000215: Invalid client secret provided.";
    let ended = explain(&["--json", text]);
    assert_eq!(ended.code, 0, "{}", ended.stderr);
    assert!(
        !ended.stdout.contains("SECRET-TOKEN-77abc"),
        "{}",
        ended.stdout
    );
    assert!(ended.stdout.contains("AADSTS7000215"), "{}", ended.stdout);
}

#[test]
fn a_message_is_read_from_stdin_and_the_vendor_topics_are_listed() {
    // Through command(): bounded in time, with the environment cleaned.
    let out = crate::command()
        .args(["explain", "--message", "-"])
        .write_stdin("コネクションは現在非アクティブ状態です。\n")
        .output()
        .expect("reach runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.starts_with("1. oauth.token.invalid_grant"),
        "{stdout}"
    );

    let list = explain(&["--list"]);
    let topics = list
        .stdout
        .split("Vendor topics (no network check shows them):")
        .nth(1)
        .expect("a section of vendor topics");
    for id in [
        "hubspot.connect.permission_denied",
        "hubspot.connect.account_lacks_feature",
        "uipath.connection.delete_with_triggers",
        "uipath.connection.folder_permission",
    ] {
        assert!(topics.contains(id), "{id}: {topics}");
        assert_eq!(explain(&[id]).code, 0, "{id}");
    }
}

#[test]
fn an_unknown_code_exits_2_in_every_format() {
    for format in [&[][..], &["--json"], &["--format", "json"]] {
        let ended = explain(&[format, &["tls.nope"]].concat());
        assert_usage_error(&ended, "unknown finding code `tls.nope`");
        // No close code: the codes of its area.
        assert!(
            ended.stderr.contains("tls.cert_expired"),
            "{}",
            ended.stderr
        );

        let ended = explain(&[format, &["dns.nxdomian"]].concat());
        assert_usage_error(&ended, "did you mean dns.nxdomain?");
    }
    // The right name in the wrong area.
    assert_usage_error(
        &explain(&["tls.timeout"]),
        "did you mean dns.timeout, tcp.timeout or http.timeout?",
    );
    // A code and --list: neither is silently dropped.
    assert_eq!(explain(&["--list", "tls.nope"]).code, 2);
    assert_eq!(explain(&["--list", "tcp.timeout"]).code, 2);
}

#[test]
fn formats_explain_cannot_write_are_refused() {
    for format in ["md", "junit", "html"] {
        assert_usage_error(
            &explain(&["--format", format, "tcp.timeout"]),
            "`reach explain` writes text or JSON",
        );
    }
}

#[test]
fn help_teaches_the_three_uses_in_80_columns() {
    let ended = explain(&["--help"]);
    assert_eq!(ended.code, 0);
    let examples = ended
        .stdout
        .split("Examples:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no examples:\n{}", ended.stdout));
    for use_ in [
        "reach explain tcp.timeout",
        "reach explain timeout",
        "reach explain proxy auth",
        "reach explain --list",
    ] {
        assert!(examples.contains(use_), "{use_} missing:\n{examples}");
    }
    for line in examples.lines() {
        assert!(line.chars().count() <= 80, "wraps: {line:?}");
    }
}
