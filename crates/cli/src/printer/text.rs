//! The text report, for people: one block a check (its status, name and
//! headline, the lines of its kind, its findings), then the summary. Each
//! kind of details has its renderer: [`endpoint`], [`sso`], [`oauth`],
//! [`allowlist`].

mod allowlist;
mod endpoint;
mod oauth;
mod sso;

use std::fmt::Write as _;

use reach_report::{Check, Details, Severity, Status};

use super::{Printable, account, summarised};

/// How text output looks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextStyle {
    pub(crate) color: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: bool,
}

/// How many items of a list text shows (a jar's cookie names, the cookies a
/// hop sent, JWKS keys, response headers) before "… and N more": a jar of
/// a million cookies is one line, not 20 MB. JSON keeps every item.
const LIST_SHOWN: usize = 10;
/// The same with `-v`.
const LIST_SHOWN_VERBOSE: usize = 100;

impl TextStyle {
    fn shown(self) -> usize {
        if self.verbose {
            LIST_SHOWN_VERBOSE
        } else {
            LIST_SHOWN
        }
    }
}

/// ANSI colours, or none.
struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn status(&self, status: Status) -> String {
        let (code, label) = match status {
            Status::Pass => ("32", "PASS "),
            Status::Warn => ("33", "WARN "),
            Status::Fail => ("31", "FAIL "),
            Status::Error => ("35", "ERROR"),
            Status::Cancelled => ("2", "CANCELLED"),
        };
        self.wrap(&format!("1;{code}"), label)
    }
    fn severity(&self, severity: Severity) -> String {
        let code = match severity {
            Severity::Info => "36",
            Severity::Warn => "33",
            Severity::Fail => "31",
        };
        self.wrap(code, severity.as_str())
    }
    fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }
    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
}

/// A list of words, or `(none)`.
fn or_none(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".to_owned()
    } else {
        list.join(" ")
    }
}

pub(super) fn render(report: &Printable, style: TextStyle) -> String {
    let p = Paint { on: style.color };
    let mut out = String::new();
    for check in &report.checks {
        if style.quiet && check.status == Status::Pass {
            continue;
        }
        render_check(&mut out, check, &p, style);
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{} {} pass, {} warn, {} fail, {} error{} · {} in {:.1} ms · {} {}",
        p.bold("summary:"),
        s.pass,
        s.warn,
        s.fail,
        s.error,
        if s.cancelled > 0 {
            format!(", {} cancelled", s.cancelled)
        } else {
            String::new()
        },
        reach_report::count(report.checks.len() as u64, "check", "checks"),
        report.duration_ms,
        report.tool.name,
        report.tool.version,
    );
    out
}

fn render_check(out: &mut String, check: &Check, p: &Paint, style: TextStyle) {
    let mut lines = String::new();
    let headline = details(check, &mut lines, p, style);
    let title = match &check.name {
        Some(name) => format!("{}  {}", p.bold(name), p.dim(&check.target)),
        None => p.bold(&check.target),
    };
    let _ = writeln!(
        out,
        "{} {title}  {}",
        p.status(check.status),
        p.dim(&headline)
    );
    out.push_str(&lines);
    for f in &check.findings {
        let _ = writeln!(
            out,
            "      {} {}  {}",
            p.severity(f.severity),
            p.bold(f.code.name()),
            f.message
        );
        let _ = writeln!(out, "        {} {}", p.dim("fix:"), f.remedy);
    }
    out.push('\n');
}

/// A check's details: the headline beside its status (returned), and the
/// lines under it (written to `out`).
fn details(check: &Check, out: &mut String, p: &Paint, style: TextStyle) -> String {
    match &check.details {
        Details::Endpoint(d) => endpoint::details(out, d, p, style),
        Details::Allowlist(d) => allowlist::coverage(out, d, p, style),
        Details::AllowlistDiff(d) => allowlist::diff(out, d, p, style),
        Details::Sso(d) => sso::details(out, d, p, style),
        Details::OauthScopes(d) => oauth::scopes(out, d),
        Details::OauthToken(d) => oauth::token(out, d, p),
        Details::OauthDiscover(d) => oauth::discover(out, d, p, style),
        Details::None(_) => String::new(),
    }
}
