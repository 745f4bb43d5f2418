//! Printers: one module per output format, each over the typed report,
//! already redacted (see `finish`): `text` for people, `markdown` for a
//! ticket, `html` for a ticket or a CI artifact, `junit` for CI, `json`,
//! `jsonl` and `openmetrics` for machines. What they share is here: check
//! labels and kinds, status words, the run's verdict, an endpoint's
//! headline and timings line, markup escaping (HTML and `JUnit`) and the
//! escaping of control characters that text, Markdown and HTML print
//! through ([`Printable`]).

mod html;
pub(crate) mod json;
mod junit;
mod markdown;
pub(crate) mod metrics;
mod text;

use std::borrow::Cow;
use std::fmt::Write as _;

use reach_report::endpoint::{EndpointDetails, Timings};
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
/// [`escape_controls`]), in place: the only form text, Markdown and HTML
/// print.
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

/// The first `shown` items joined by `, `, then how many more there are.
pub(super) fn summarised<I>(items: I, shown: usize) -> String
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    I::Item: std::fmt::Display,
{
    let items = items.into_iter();
    let total = items.len();
    let mut out = String::new();
    for (i, item) in items.take(shown).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    if total > shown {
        let _ = write!(out, ", … and {} more", total - shown);
    }
    out
}

/// The account an SSO chain signed in as, as the text and HTML reports
/// say it: each claim it has (`email=… sub=…`) and the issuer.
/// A token's lifetime (`expires_in`) in words: `45 seconds`, `10
/// minutes`, `about 2 hours`; `already expired` for none left.
fn lifetime(seconds: i64) -> String {
    let Ok(seconds) = u64::try_from(seconds) else {
        return "already expired".to_owned();
    };
    if seconds == 0 {
        return "already expired".to_owned();
    }
    let (unit, one, many) = match seconds {
        0..120 => (1, "second", "seconds"),
        120..7200 => (60, "minute", "minutes"),
        _ => (3600, "hour", "hours"),
    };
    let about = if seconds.is_multiple_of(unit) {
        ""
    } else {
        "about "
    };
    format!("{about}{}", reach_report::count(seconds / unit, one, many))
}

fn account(id: &reach_report::sso::SsoIdentity) -> String {
    let who: Vec<String> = [
        ("email", &id.email),
        ("preferred_username", &id.preferred_username),
        ("upn", &id.upn),
        ("NameID", &id.name_id),
        ("sub", &id.subject),
        ("issuer", &id.issuer),
    ]
    .iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
    .collect();
    who.join(" ")
}

/// A set cookie's attributes as a browser's devtools show them: `Secure`,
/// `HttpOnly`, `SameSite=…` (`unset` when the server gave none).
fn cookie_attributes(cookie: &reach_report::sso::CookieSet) -> Vec<String> {
    let mut attrs = Vec::new();
    if cookie.secure {
        attrs.push("Secure".to_owned());
    }
    if cookie.http_only {
        attrs.push("HttpOnly".to_owned());
    }
    attrs.push(format!(
        "SameSite={}",
        cookie.same_site.as_deref().unwrap_or("unset")
    ));
    attrs
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

/// `1 check`, `3 checks`.
fn checks(total: usize) -> String {
    reach_report::count(total as u64, "check", "checks")
}

/// The run in a few words, the title of a ticket: `2 of 12 checks
/// failed`, `all 3 checks passed`, `no checks`.
fn verdict(report: &Report) -> String {
    let s = &report.summary;
    let total = report.checks.len();
    let bad = s.fail + s.error;
    if s.cancelled > 0 {
        format!(
            "interrupted, {} of {} cancelled ({bad} failed, {} warned)",
            s.cancelled,
            checks(total),
            s.warn
        )
    } else if bad == 0 && s.warn == 0 {
        match total {
            0 => "no checks".to_owned(),
            1 => "the check passed".to_owned(),
            _ => format!("all {total} checks passed"),
        }
    } else if bad == 0 {
        format!("{} of {} warned", s.warn, checks(total))
    } else {
        format!("{bad} of {} failed", checks(total))
    }
}

/// What an endpoint's last answer says, in a few words: `200 · HTTP/1.1 ·
/// TLSv1.3 · 127.0.0.1:443 · 3 hops` (nothing when there was no hop).
fn endpoint_headline(d: &EndpointDetails) -> Vec<String> {
    let Some(last) = d.hops.last() else {
        return Vec::new();
    };
    let mut parts = Vec::new();
    if let Some(http) = &last.http {
        if let Some(status) = http.status {
            parts.push(status.to_string());
        }
        parts.push(http.version.clone());
    }
    if let Some(v) = last.tls.as_ref().and_then(|t| t.version.as_ref()) {
        parts.push(v.clone());
    }
    if let Some(addr) = last.tcp.as_ref().and_then(|t| t.connected.as_ref()) {
        parts.push(addr.clone());
    }
    if d.hops.len() > 1 {
        parts.push(format!("{} hops", d.hops.len()));
    }
    parts
}

/// A check's or a hop's timings in a line, each phase that ran with its
/// time as `duration` writes it: `dns 2.2 ms · connect 4.8 ms · tls 27.6
/// ms · ttfb 35.4 ms · total 35.4 ms`.
fn timings_line(t: &Timings, duration: fn(f64) -> String) -> String {
    let mut parts: Vec<String> = [
        ("dns", t.dns_ms),
        ("connect", t.connect_ms),
        ("proxy", t.proxy_ms),
        ("tls", t.tls_ms),
        ("ttfb", t.ttfb_ms),
        ("redirects", t.redirect_ms),
    ]
    .into_iter()
    .filter_map(|(name, v)| v.map(|v| format!("{name} {}", duration(v))))
    .collect();
    parts.push(format!("total {}", duration(t.total_ms)));
    parts.join(" · ")
}

/// `12.3 ms`, as text and Markdown write a time.
fn tenths_ms(ms: f64) -> String {
    format!("{ms:.1} ms")
}

/// `text` safe in HTML and XML text and in a quoted attribute value: `&`,
/// `<`, `>`, `"` and `'` as character references; the noncharacters
/// U+FFFE and U+FFFF (which XML forbids) left out. Whatever a server or an
/// input says stays text: it can open no tag and close no attribute.
/// Control characters are the caller's ([`escape_controls`]).
fn escape_markup(text: &str) -> Cow<'_, str> {
    let special = |c: char| matches!(c, '&' | '<' | '>' | '"' | '\'' | '\u{fffe}' | '\u{ffff}');
    if !text.contains(special) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    Cow::Owned(out)
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
        let report = report_of(vec![check]);
        let options = plain();
        for format in [Format::Text, Format::Md] {
            let out = print(report.clone(), format, options).unwrap();
            assert!(!out.contains(['\u{1b}', '\u{9b}']), "{out}");
            assert!(out.contains("CN=\\u{1b}[2Jevil"), "{out}");
        }
    }

    /// The options of a plain run: no colour, neither -q nor -v nor --strict.
    fn plain() -> Options {
        Options {
            text: TextStyle {
                color: false,
                quiet: false,
                verbose: false,
            },
            strict: false,
        }
    }

    /// A report of `checks`, as the printers' tests make it.
    pub(super) fn report_of(checks: Vec<Check>) -> Report {
        Report::new(
            Tool {
                name: "reach".into(),
                version: "0".into(),
            },
            "2026-12-01T16:54:13.123456789Z".into(),
            0.0,
            checks,
        )
    }

    fn empty_report() -> Report {
        report_of(Vec::new())
    }

    #[test]
    fn a_run_of_no_checks_says_so() {
        let options = plain();
        assert_eq!(verdict(&empty_report()), "no checks");
        for format in [Format::Md, Format::Html] {
            let out = print(empty_report(), format, options).unwrap();
            assert!(out.contains("reach report: no checks"), "{out}");
            assert!(!out.contains("all 0"), "{out}");
        }
    }

    #[test]
    fn markup_is_escaped_for_html_and_xml() {
        for (input, escaped) in [
            ("plain text · ünïcode", "plain text · ünïcode"),
            (
                "<a href=\"x\">'&'</a>",
                "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;",
            ),
            ("no\u{fffe}n\u{ffff}char", "nonchar"),
            (
                "<script>alert(1)</script>",
                "&lt;script&gt;alert(1)&lt;/script&gt;",
            ),
            (
                "<img src=x onerror=\"alert(1)\">",
                "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;",
            ),
            ("' onmouseover='x", "&#39; onmouseover=&#39;x"),
            ("&lt; stays as written", "&amp;lt; stays as written"),
            ("]]></text><text>", "]]&gt;&lt;/text&gt;&lt;text&gt;"),
            ("", ""),
        ] {
            assert_eq!(escape_markup(input), escaped, "{input}");
            // Safe in HTML text, a quoted attribute and SVG text alike.
            for c in ['<', '>', '"', '\''] {
                assert!(!escape_markup(input).contains(c), "{input}");
            }
        }
        assert!(matches!(escape_markup("nothing to do"), Cow::Borrowed(_)));
    }
}
