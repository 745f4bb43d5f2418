//! Printers: one module per output format, each over the typed report,
//! already redacted (see `finish`): `text` for people, `markdown` for a
//! ticket, `junit` for CI, `json` for machines. What they share is here:
//! check labels and kinds, status words, and the escaping of control
//! characters that text and Markdown print through ([`Printable`]).

mod html;
mod json;
mod junit;
mod markdown;
pub(crate) mod metrics;
mod text;

use std::fmt::Write as _;

use reach_report::strings::Strings as _;
use reach_report::{Check, Report, Status};

use crate::args::Format;
pub(crate) use json::line as json_line;
pub(crate) use text::TextStyle;

/// What a printer needs besides the report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Options {
    pub(crate) text: TextStyle,
    /// `--strict`: a warning fails (`JUnit` failures).
    pub(crate) strict: bool,
}

/// The report in `format`.
pub(crate) fn print(report: Report, format: Format, options: Options) -> anyhow::Result<String> {
    Ok(match format {
        Format::Json => json::render(&report)?,
        Format::Junit => junit::render(&report, options.strict),
        Format::Md => markdown::render(&Printable::new(report)),
        Format::Html => html::render(&Printable::new(report)),
        Format::Text => text::render(&Printable::new(report), options.text),
        Format::Openmetrics => metrics::render(
            &report.checks,
            metrics::Labels::PerCheck,
            metrics::Dialect::OpenMetrics,
        ),
        Format::Jsonl => json::lines(&report),
    })
}

/// `text` with every control character escaped (`ESC` as `\u{1b}`) except
/// those in `keep`: bytes from input or the network (a hostile certificate
/// subject, a header value, an allowlist line) would otherwise drive the
/// terminal, set its title or clear it. The text report, Markdown and every
/// line reach writes to stderr go through here.
pub(crate) fn escape_controls<'a>(text: &'a str, keep: &[char]) -> std::borrow::Cow<'a, str> {
    let escaped = |c: char| c.is_control() && !keep.contains(&c);
    if !text.chars().any(escaped) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escaped(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// A report with control characters escaped in every string (see
/// [`escape_controls`]), in place: the only form text and Markdown print.
/// Only the strings that hold one are rewritten; the report is not copied.
pub(crate) struct Printable(Report);

impl Printable {
    pub(crate) fn new(mut report: Report) -> Self {
        report.strings(None, &mut |_, s| {
            if s.chars().any(char::is_control) {
                *s = escape_controls(s, &[]).into_owned();
            }
        });
        Printable(report)
    }
}

impl std::ops::Deref for Printable {
    type Target = Report;

    fn deref(&self) -> &Report {
        &self.0
    }
}

/// A check as a ticket or CI names it: `name (target)`, or the target.
fn label(check: &Check) -> String {
    match &check.name {
        Some(name) if name != &check.target => format!("{name} ({})", check.target),
        _ => check.target.clone(),
    }
}

fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "PASS",
        Status::Warn => "WARN",
        Status::Fail => "FAIL",
        Status::Error => "ERROR",
        Status::Cancelled => "CANCELLED",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reach_report::{CheckKind, Code, Finding, Tool};

    #[test]
    fn control_characters_are_escaped_in_text_and_markdown() {
        let mut check = Check::new(CheckKind::Endpoint, "x");
        let finding = Finding::new(Code::TlsUntrustedIssuer, "CN=\u{1b}[2Jevil")
            .with("subject", "CN=\u{9b}2J");
        check.push(finding);
        let report = Report::new(
            Tool {
                name: "reach".into(),
                version: "0".into(),
            },
            String::new(),
            0.0,
            vec![check],
        );
        let options = Options {
            text: TextStyle {
                color: false,
                quiet: false,
                verbose: false,
            },
            strict: false,
        };
        for format in [Format::Text, Format::Md] {
            let out = print(report.clone(), format, options).unwrap();
            assert!(!out.contains(['\u{1b}', '\u{9b}']), "{out}");
            assert!(out.contains("CN=\\u{1b}[2Jevil"), "{out}");
        }
    }
}
