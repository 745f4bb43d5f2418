//! `reach explain`: one finding code explained, every code listed, the
//! codes a few words are found in (report's registry), or the causes of an
//! error text as a user pastes it (the `reach-explain` catalogue). Text, or
//! JSON with `--format json`: an object for one code, an array of the same
//! objects for a list or a search, `{query, matches}` for a text. An
//! unknown code is a usage error (exit 2) whatever the format, with nothing
//! on stdout; a text nothing is close enough to exits 1.

use std::fmt::Write as _;

use reach_report::{Code, Severity};
use serde::Serialize;

use crate::args::{Cli, ExplainArgs, Format};
use crate::{UsageError, emit, exit};

/// One code as `--format json` gives it: the names a report's finding
/// uses (`code`, `severity`, `message`, `remedy`), and the registry's
/// `explanation`.
#[derive(Serialize)]
struct Entry {
    code: Code,
    severity: Severity,
    message: &'static str,
    remedy: &'static str,
    explanation: &'static str,
}

impl Entry {
    fn of(code: Code) -> Self {
        let info = code.info();
        Entry {
            code,
            severity: info.severity,
            message: info.message,
            remedy: info.remedy,
            explanation: info.explanation,
        }
    }
}

/// What was asked for.
enum Answer {
    /// A code by its name.
    One(Code),
    /// A vendor topic by its id.
    Topic(&'static reach_explain::Topic),
    /// `--list`.
    All,
    /// The codes words were found in, best first, and the words.
    Found(Vec<Code>, String),
    /// The catalogue's causes of a pasted text (none: nothing close enough).
    Matched(Vec<reach_explain::Match>, String),
}

/// A pasted text's causes as `--format json` gives them.
#[derive(Serialize)]
struct Matched<'a> {
    query: &'a str,
    matches: Vec<MatchEntry<'a>>,
}

#[derive(Serialize)]
struct MatchEntry<'a> {
    code: &'a str,
    score: f64,
    title: &'a str,
    cause: &'a str,
    remedy: &'a str,
    check: Option<&'a str>,
    source: &'a str,
}

pub(crate) fn explain(cli: &Cli, args: &ExplainArgs) -> anyhow::Result<i32> {
    let json = match cli.output.format() {
        Format::Text => false,
        Format::Json => true,
        Format::Md | Format::Html | Format::Junit | Format::Openmetrics | Format::Jsonl => {
            return Err(UsageError(
                "`reach explain` writes text or JSON (--format text or --format json)".to_owned(),
            )
            .into());
        }
    };
    let answer = if args.list {
        Answer::All
    } else if let Some(path) = &args.message {
        let text = message(path, cli.output.timeout)?;
        let query = text.trim().to_owned();
        Answer::Matched(reach_explain::matches(&query), query)
    } else {
        find(&args.words)?
    };
    let out = match (&answer, json) {
        (Answer::Matched(found, query), _) => return matched(cli, found, query, json),
        (Answer::One(code), false) => one_text(*code),
        (Answer::One(code), true) => to_json(&Entry::of(*code))?,
        (Answer::All, false) => {
            let mut out = table(Code::ALL);
            let _ = writeln!(out, "\nVendor topics (no network check shows them):");
            for topic in reach_explain::topics() {
                let _ = writeln!(out, "{:<44} {}", topic.id, topic.title);
            }
            out
        }
        (Answer::Topic(topic), false) => format!(
            "{}  (vendor topic: no network check shows it)\n\n{}\n\n{}\n\nFix: {}\n",
            topic.id, topic.title, topic.cause, topic.remedy
        ),
        (Answer::Topic(topic), true) => to_json(&serde_json::json!({
            "code": topic.id,
            "title": topic.title,
            "cause": topic.cause,
            "remedy": topic.remedy,
        }))?,
        (Answer::Found(codes, query), false) => {
            let mut out = table(codes);
            let n = codes.len();
            let what = if n == 1 {
                "code matches"
            } else {
                "codes match"
            };
            let _ = writeln!(
                out,
                "\n{n} {what} `{query}`; `reach explain CODE` tells more."
            );
            out
        }
        (Answer::All, true) => to_json(&entries(Code::ALL))?,
        (Answer::Found(codes, _), true) => to_json(&entries(codes))?,
    };
    emit(cli, &out)?;
    Ok(exit::OK)
}

/// The code `words` name, or the codes they are found in.
fn find(args: &[String]) -> anyhow::Result<Answer> {
    let words = self::words(args);
    let query = words.join(" ");
    if words.is_empty() {
        return Err(UsageError(
            "give a finding code (tcp.timeout) or words to search for (timeout)".to_owned(),
        )
        .into());
    }
    if let [word] = words[..] {
        if let Ok(code) = word.parse::<Code>() {
            return Ok(Answer::One(code));
        }
        if let Some(topic) = reach_explain::topic(word) {
            return Ok(Answer::Topic(topic));
        }
        if code_shaped(word) {
            return Err(
                UsageError(format!("unknown finding code `{word}`; {}", hint(word))).into(),
            );
        }
    }
    // A few words are a search of the codes; a longer text, or one the
    // codes' words do not hold, is matched against what users paste.
    let found = Code::search(&words);
    if words.len() <= 3 && !found.is_empty() {
        return Ok(Answer::Found(found, query));
    }
    let text = args_text(args);
    let matched = reach_explain::matches(&text);
    if matched.is_empty() && !found.is_empty() {
        return Ok(Answer::Found(found, query));
    }
    Ok(Answer::Matched(matched, text))
}

/// The arguments as the text they were pasted as.
fn args_text(args: &[String]) -> String {
    args.join(" ").trim().to_owned()
}

/// `--message FILE|-`, through the one bounded input reader.
fn message(path: &std::path::Path, timeout: std::time::Duration) -> anyhow::Result<String> {
    use crate::input::{self, Kind};
    let source = path.display().to_string();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime
        .block_on(input::read(
            &source,
            "--message",
            Kind::Message,
            timeout,
            input::Whole::new(Kind::Message),
        ))
        .map_err(|e| UsageError(e).into())
}

/// The causes of a pasted text, best first; nothing close enough exits 1.
fn matched(
    cli: &Cli,
    found: &[reach_explain::Match],
    query: &str,
    json: bool,
) -> anyhow::Result<i32> {
    let out = if json {
        // A pasted log line may carry a credential: echoed redacted.
        let query = reach_report::redact::text(query);
        to_json(&Matched {
            query: &query,
            matches: found
                .iter()
                .map(|m| MatchEntry {
                    code: &m.id,
                    score: (m.score * 100.0).round() / 100.0,
                    title: &m.title,
                    cause: &m.cause,
                    remedy: &m.remedy,
                    check: m.check.as_deref(),
                    source: &m.source,
                })
                .collect(),
        })?
    } else if found.is_empty() {
        // Nothing to print: say so where diagnostics go (escaped: the text
        // is the user's, pasted from anywhere), as grep says nothing.
        let shown: String = query.chars().take(80).collect();
        let cut = if shown.len() < query.len() { "…" } else { "" };
        crate::to_stderr(&format!(
            "reach: nothing reach knows is close enough to `{shown}{cut}`; `reach explain --list` lists the finding codes and vendor topics, `reach explain WORD` searches them"
        ));
        return Ok(exit::FAILED);
    } else {
        let mut out = String::new();
        for (i, m) in found.iter().enumerate() {
            let _ = writeln!(out, "{}. {}  (score {:.2})", i + 1, m.id, m.score);
            let _ = writeln!(out, "   {}", m.title);
            let _ = writeln!(out, "   why: {}", m.cause);
            let _ = writeln!(out, "   fix: {}", m.remedy);
            if let Some(check) = &m.check {
                let _ = writeln!(out, "   check: {check}");
            }
            out.push('\n');
        }
        out
    };
    emit(cli, &out)?;
    Ok(if found.is_empty() {
        exit::FAILED
    } else {
        exit::OK
    })
}

/// The words of the arguments: `reach explain "proxy auth"` is two, as
/// `reach explain proxy auth`; quotes and punctuation around a word go.
fn words(args: &[String]) -> Vec<&str> {
    args.iter()
        .flat_map(|w| w.split_whitespace())
        .map(|w| {
            w.trim_matches(|c| {
                matches!(
                    c,
                    ',' | ';' | ':' | '!' | '?' | '"' | '\'' | '(' | ')' | '`'
                )
            })
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// `area.name` or `area.group.name`: letters, digits and `_` between dots,
/// each part starting with a letter. `tls.nope` is a code nobody has;
/// `HTTP/1.1` and `1.2` are words to search for.
fn code_shaped(word: &str) -> bool {
    word.contains('.')
        && word.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic())
                && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// What to say after "unknown finding code": the codes close to it, else
/// the codes of its area, else where to look.
fn hint(word: &str) -> String {
    let similar = Code::similar(word);
    if !similar.is_empty() {
        return format!("did you mean {}?", one_of(&similar));
    }
    let area = word.split('.').next().unwrap_or_default().to_lowercase();
    let in_area: Vec<&str> = Code::ALL
        .iter()
        .filter(|c| c.area() == area)
        .map(|c| c.name())
        .collect();
    if in_area.is_empty() {
        "`reach explain --list` lists them all".to_owned()
    } else {
        format!("codes in `{area}`: {}", in_area.join(", "))
    }
}

/// `a`, `a or b`, `a, b or c`.
fn one_of(codes: &[Code]) -> String {
    let names: Vec<&str> = codes.iter().map(|c| c.name()).collect();
    match names.split_last() {
        Some((last, [])) => (*last).to_owned(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

fn entries(codes: &[Code]) -> Vec<Entry> {
    codes.iter().map(|c| Entry::of(*c)).collect()
}

fn one_text(code: Code) -> String {
    let info = code.info();
    format!(
        "{}  ({})\n\n{}\n\n{}\n\nFix: {}\n",
        info.name,
        info.severity.as_str(),
        info.message,
        info.explanation,
        info.remedy
    )
}

/// One line per code: name, severity, summary.
fn table(codes: &[Code]) -> String {
    let mut out = String::new();
    for code in codes {
        let info = code.info();
        let _ = writeln!(
            out,
            "{:<38} {:<5} {}",
            info.name,
            info.severity.as_str(),
            info.message
        );
    }
    out
}

fn to_json(value: &impl Serialize) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(value)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_shapes() {
        for word in ["tls.nope", "oauth.token.nope", "TLS.Nope", "a1.b_2"] {
            assert!(code_shaped(word), "{word}");
        }
        for word in [
            "timeout", "HTTP/1.1", "1.2", "tls.", ".tls", "tls..x", "e.g-x",
        ] {
            assert!(!code_shaped(word), "{word}");
        }
    }

    #[test]
    fn hints() {
        assert_eq!(hint("dns.nxdomian"), "did you mean dns.nxdomain?");
        assert!(hint("tls.nope").starts_with("codes in `tls`: tls.cert_expired, "));
        assert_eq!(hint("zzz.nope"), "`reach explain --list` lists them all");
        assert_eq!(
            one_of(&[Code::DnsTimeout, Code::TcpTimeout, Code::HttpTimeout]),
            "dns.timeout, tcp.timeout or http.timeout"
        );
    }
}
