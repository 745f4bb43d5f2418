//! `reach explain`: one finding code explained, every code listed, or the
//! codes a few words are found in, all read from report's registry. Text,
//! or JSON with `--format json`: an object for one code, an array of the
//! same objects for a list or a search. An unknown code or a search that
//! finds nothing is a usage error (exit 2) whatever the format, with
//! nothing on stdout.

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
    /// `--list`.
    All,
    /// The codes words were found in, best first, and the words.
    Found(Vec<Code>, String),
}

pub(crate) fn explain(cli: &Cli, args: &ExplainArgs) -> anyhow::Result<i32> {
    let json = match cli.output.format() {
        Format::Text => false,
        Format::Json => true,
        Format::Md | Format::Junit => {
            return Err(UsageError(
                "`reach explain` writes text or JSON (--format text or --format json)".to_owned(),
            )
            .into());
        }
    };
    let answer = if args.list {
        Answer::All
    } else {
        find(&args.words)?
    };
    let out = match (&answer, json) {
        (Answer::One(code), false) => one_text(*code),
        (Answer::One(code), true) => to_json(&Entry::of(*code))?,
        (Answer::All, false) => table(Code::ALL),
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
fn find(words: &[String]) -> anyhow::Result<Answer> {
    let words = self::words(words);
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
        if code_shaped(word) {
            return Err(
                UsageError(format!("unknown finding code `{word}`; {}", hint(word))).into(),
            );
        }
    }
    let found = Code::search(&words);
    if found.is_empty() {
        return Err(UsageError(format!(
            "no finding code matches `{query}`; `reach explain --list` lists them all"
        ))
        .into());
    }
    Ok(Answer::Found(found, query))
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
