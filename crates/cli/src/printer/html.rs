//! One self-contained HTML page for a ticket or a CI artifact: the run's
//! facts and a table of every check, then what needs attention (each
//! finding's message, fix and evidence), then what passed, compact; each
//! check with its picture: an endpoint's timing waterfall ([`waterfall`],
//! SVG), an SSO chain as a diagram with its waterfall ([`chain`]),
//! allowlist coverage as bars with the gaps by service and region
//! ([`coverage`]), what a token endpoint granted and what a discovery
//! document points at ([`oauth`]).
//!
//! Nothing is fetched: the CSS is inline, the pictures are inline SVG and
//! there is no script; a Content-Security-Policy of `default-src 'none'`
//! (and `base-uri 'none'; form-action 'none'`) says so to the browser as
//! well. Every string of the report goes through
//! [`escape`] (text, attribute values and SVG text alike), after the
//! report's redaction and [`Printable`]'s control-character escaping.

mod chain;
mod coverage;
mod oauth;
mod waterfall;

use std::borrow::Cow;
use std::fmt::Write as _;

use reach_report::{Check, Details, Finding, Severity, Status};

use super::{Printable, endpoint_headline, label, status_word, summarised, verdict};

/// `text` safe in HTML text, in a quoted attribute value and in SVG text
/// (the markup escaping `JUnit` uses too).
pub(super) use super::escape_markup as escape;

/// A time as the page writes it everywhere (the facts, the tables, the
/// waterfall's axis and lines, an SSO hop): `0`, `4.2 ms`, `35 ms`,
/// `3.00 s`.
pub(super) fn duration(ms: f64) -> String {
    if ms.is_nan() || ms <= 0.0 {
        "0".to_owned()
    } else if ms >= 1000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else if ms >= 10.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// When the run started, to the second: `2026-12-01 16:54:13 UTC` from
/// RFC 3339 (`2026-12-01T16:54:13.123456789Z`); anything else as it is.
fn to_the_second(rfc3339: &str) -> Cow<'_, str> {
    let bytes = rfc3339.as_bytes();
    let shaped = bytes.len() >= 20
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && rfc3339.is_char_boundary(19);
    if !shaped {
        return Cow::Borrowed(rfc3339);
    }
    let (day_time, rest) = rfc3339.split_at(19);
    let zone = rest.trim_start_matches(|c: char| c == '.' || c.is_ascii_digit());
    let zone = match zone {
        "Z" | "z" | "+00:00" => " UTC".to_owned(),
        other => format!(" {other}"),
    };
    Cow::Owned(format!("{}{zone}", day_time.replacen('T', " ", 1)))
}

/// At most `max` characters of `text`, the rest as `…`: for SVG text and
/// other places that do not wrap (the whole text goes in a tooltip).
fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.chars().count() <= max {
        return Cow::Borrowed(text);
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    Cow::Owned(out)
}

/// How many items of a list the page shows (cookies, codes) before "… and
/// N more": the page stays a page whatever the report holds. JSON keeps
/// every item.
const LIST_SHOWN: usize = 12;

/// The first [`LIST_SHOWN`] items, escaped, joined by `, `, then how many
/// more there are.
fn listed<I>(items: I) -> String
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    I::Item: std::fmt::Display,
{
    escape(&summarised(items, LIST_SHOWN)).into_owned()
}

/// The page's Content-Security-Policy: nothing to fetch, no script, no
/// base URL to change and no form to send; only the inline style.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

const STYLE: &str = r#"
:root{color-scheme:light;--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--error:#8250df;--cancelled:#6e7781;--muted:#57606a;--line:#d0d7de;--soft:#f6f8fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:#1f2328;background:#fff;margin:0 auto;max-width:1060px;padding:24px}
h1{font-size:22px;margin:0 0 6px}
h2{font-size:17px;margin:30px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:0;display:flex;gap:8px;align-items:baseline;flex-wrap:wrap}
h4{font-size:13px;margin:12px 0 4px;color:var(--muted)}
code,pre,.mono{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace}
pre{background:var(--soft);padding:8px 10px;border-radius:4px;margin:4px 0;white-space:pre-wrap;overflow-wrap:anywhere}
pre.cidrs{max-height:16em;overflow:auto;margin:0}
a{color:inherit}
.facts{display:grid;grid-template-columns:max-content 1fr;gap:1px 14px;margin:8px 0 12px}
.facts dt{color:var(--muted)}.facts dd{margin:0;overflow-wrap:anywhere}
.tally span{display:inline-block;padding:1px 10px;border-radius:10px;margin:0 6px 4px 0;color:#fff;font-weight:600}
.badge{display:inline-block;min-width:4.6em;text-align:center;padding:0 6px;border-radius:4px;color:#fff;font-size:12px;font-weight:700}
.pass{--c:var(--pass)}.warn{--c:var(--warn)}.fail{--c:var(--fail)}.error{--c:var(--error)}.cancelled{--c:var(--cancelled)}.info{--c:#0969da}
.badge,.tally span{background:var(--c)}
table{border-collapse:collapse;width:100%;margin:6px 0}
th,td{text-align:left;vertical-align:top;padding:3px 8px;border-bottom:1px solid var(--line)}
th{font-size:12px;color:var(--muted);font-weight:600}
td.num{text-align:right;white-space:nowrap}
td.wrap{overflow-wrap:anywhere}
.check{border:1px solid var(--line);border-left:5px solid var(--c);border-radius:6px;padding:10px 14px;margin:12px 0;break-inside:avoid}
.compact .check{padding:6px 12px;margin:8px 0}
.kind,.muted{color:var(--muted);font-size:12px}
.label{overflow-wrap:anywhere}
.headline{color:var(--muted);font-size:13px;margin:2px 0 0;overflow-wrap:anywhere}
.finding{margin:10px 0 4px;padding-left:10px;border-left:3px solid var(--c)}
.finding p{margin:2px 0;overflow-wrap:anywhere}
.finding .fix::before{content:"fix: ";font-weight:600}
.infos{margin:6px 0 0;padding-left:18px;font-size:12px;color:var(--muted)}
.infos li{overflow-wrap:anywhere}
svg{display:block;max-width:100%;height:auto;margin:8px 0}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:#1f2328}
svg .axis{stroke:#8c959f;stroke-width:1}svg .grid{stroke:#eaeef2;stroke-width:1}svg .tick{fill:var(--muted)}
svg .track{fill:var(--soft)}
.ph-dns{fill:url(#pat-dns) #0969da}.ph-connect{fill:url(#pat-connect) #bf8700}.ph-proxy{fill:url(#pat-proxy) #8250df}.ph-tls{fill:url(#pat-tls) #bc4c00}.ph-ttfb{fill:url(#pat-ttfb) #1a7f37}.ph-transfer{fill:url(#pat-transfer) #6e7781}.ph-unfinished{fill:url(#pat-unfinished) #f0a8ac}
svg.defs{position:absolute;width:0;height:0;margin:0;overflow:hidden}
.timings{margin:0 0 6px;padding:0;list-style:none;font-size:12px;color:var(--muted)}
.timings li{overflow-wrap:anywhere}.timings b{font-weight:600;color:#1f2328}
.cov-yes{fill:#2da44e}.cov-no{fill:#cf222e}.cov-none{fill:#d0d7de}
.chain{display:grid;grid-template-columns:1fr;gap:0 18px;margin:8px 0}
.chain.two{grid-template-columns:1fr 1fr}
.col-head{font-weight:600;font-size:13px;padding:4px 0}
.hop{position:relative;border:1px solid var(--line);border-radius:6px;padding:5px 9px;margin-top:18px;background:#fff;font-size:13px;overflow-wrap:anywhere}
.hop::before{content:"\2193";position:absolute;top:-18px;left:16px;color:var(--muted);font-size:13px;line-height:18px}
.hop.first{margin-top:4px}.hop.first::before{content:none}
.hop.empty{border:none;background:none}.hop.empty::before{content:none}
.hop.ended{border-color:var(--c);box-shadow:inset 3px 0 0 var(--c)}
.hop .n{display:inline-block;min-width:1.6em;height:1.6em;line-height:1.6em;text-align:center;border-radius:50%;background:#1f2328;color:#fff;font-size:11px;font-weight:700;margin-right:4px}
.hop .meta{color:var(--muted);font-size:12px}
.idp{display:inline-block;padding:0 6px;border-radius:9px;background:#ddf4ff;color:#0550ae;border:1px solid #54aeff;font-size:11px;font-weight:600}
.cookies{margin-top:2px;font-size:12px}
.ck{display:inline-block;margin:1px 4px 1px 0;padding:0 5px;border-radius:3px;border:1px solid var(--line)}
.ck.sent{background:#ddf4ff}.ck.set{background:#dafbe1}.ck.withheld{background:#fff8c5}.ck.refused{background:#ffebe9;text-decoration:line-through}
.parting{grid-column:1/-1;margin-top:14px;padding:2px 8px;border-top:2px dashed var(--fail);color:var(--fail);font-size:12px;font-weight:600}
.legend span{display:inline-block;margin-right:10px;font-size:12px}
details{margin:4px 0}summary{cursor:pointer}
footer{margin-top:30px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
@media print{
body{max-width:none;padding:0;font-size:10pt}
*{-webkit-print-color-adjust:exact;print-color-adjust:exact}
h2{break-after:avoid}
details:not([open]){display:none}
pre.cidrs{max-height:none;overflow:visible}
.check,.hop,svg,tr{break-inside:avoid}
a{text-decoration:none}
}
"#;

pub(super) fn render(report: &Printable) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let verdict = verdict(report);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"generator\" content=\"{} {}\">\n\
         <title>reach report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&report.tool.name),
        escape(&report.tool.version),
        escape(&verdict)
    );
    if report.checks.iter().any(|c| match &c.details {
        Details::Endpoint(d) => !d.hops.is_empty(),
        Details::Sso(d) => !d.hops.is_empty(),
        Details::OauthToken(_) => true,
        _ => false,
    }) {
        waterfall::defs(&mut out);
    }
    header(&mut out, report, &verdict);
    overview(&mut out, report);
    let (mut attention, passed): (Vec<_>, Vec<_>) = report
        .checks
        .iter()
        .enumerate()
        .partition(|(_, c)| c.status != Status::Pass);
    // Failures first, then warnings, then what an interruption left.
    attention.sort_by_key(|(_, c)| match c.status {
        Status::Fail | Status::Error => 0,
        Status::Warn => 1,
        Status::Pass | Status::Cancelled => 2,
    });
    section(
        &mut out,
        "id=\"attention\"",
        "What needs attention",
        &attention,
    );
    section(
        &mut out,
        "id=\"passed\" class=\"compact\"",
        "What passed",
        &passed,
    );
    let _ = writeln!(
        out,
        "<footer>{} · {} {} · <code>reach explain CODE</code> explains a finding</footer>\n</body>\n</html>",
        escape(&report.schema),
        escape(&report.tool.name),
        escape(&report.tool.version),
    );
    out
}

/// The title, the tally and the facts: when, from which host, which tool.
fn header(out: &mut String, report: &Printable, verdict: &str) {
    let s = &report.summary;
    let _ = writeln!(
        out,
        "<header>\n<h1>reach report: {}</h1>\n<p class=\"tally\">",
        escape(verdict)
    );
    for (n, class, word) in [
        (s.fail, "fail", "failed"),
        (s.error, "error", "could not run"),
        (s.warn, "warn", "warned"),
        (s.pass, "pass", "passed"),
        (s.cancelled, "cancelled", "cancelled"),
    ] {
        if n > 0 {
            let _ = write!(out, "<span class=\"{class}\">{n} {word}</span>");
        }
    }
    out.push_str("</p>\n<dl class=\"facts\">\n");
    fact(out, "when", &to_the_second(&report.started_at));
    if let Some(host) = &report.host {
        fact(out, "host", host);
    }
    fact(
        out,
        "tool",
        &format!("{} {}", report.tool.name, report.tool.version),
    );
    fact(out, "duration", &duration(report.duration_ms));
    out.push_str("</dl>\n</header>\n");
}

/// A section of check cards (none when there are no checks); `attrs` are
/// the section's own.
fn section(out: &mut String, attrs: &str, title: &str, checks: &[(usize, &Check)]) {
    if checks.is_empty() {
        return;
    }
    let _ = writeln!(out, "<section {attrs}>\n<h2>{title}</h2>");
    for (i, c) in checks {
        check_card(out, *i, c);
    }
    out.push_str("</section>\n");
}

/// `name` and `value` as a line of a fact list.
fn fact(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "<dt>{name}</dt><dd>{}</dd>", escape(value));
}

/// Every check in a table, each linking to its card.
fn overview(out: &mut String, report: &Printable) {
    if report.checks.is_empty() {
        return;
    }
    out.push_str(
        "<section id=\"checks\">\n<h2>Checks</h2>\n<table>\n\
         <tr><th>status</th><th>check</th><th>kind</th><th>findings</th><th>time</th></tr>\n",
    );
    for (i, c) in report.checks.iter().enumerate() {
        let codes: Vec<&str> = c
            .findings
            .iter()
            .filter(|f| f.severity != Severity::Info)
            .map(|f| f.code.name())
            .collect();
        let _ = writeln!(
            out,
            "<tr class=\"{}\"><td><span class=\"badge\">{}</span></td>\
             <td class=\"wrap\"><a href=\"#c{i}\">{}</a></td><td class=\"kind\">{}</td>\
             <td class=\"mono wrap\">{}</td><td class=\"num\">{}</td></tr>",
            c.status.as_str(),
            status_word(c.status),
            escape(&label(c)),
            c.kind.name(),
            listed(codes),
            duration(c.duration_ms)
        );
    }
    out.push_str("</table>\n</section>\n");
}

/// One check: its status, name and headline; its findings (those that
/// need attention with fix and evidence, then the informational ones in a
/// line each); then its picture.
fn check_card(out: &mut String, index: usize, c: &Check) {
    let _ = writeln!(
        out,
        "<article class=\"check {}\" id=\"c{index}\">\n<h3><span class=\"badge\">{}</span> \
         <span class=\"label\">{}</span> <span class=\"kind\">{} · {}</span></h3>",
        c.status.as_str(),
        status_word(c.status),
        escape(&label(c)),
        c.kind.name(),
        duration(c.duration_ms)
    );
    let headline = headline(c);
    if !headline.is_empty() {
        let _ = writeln!(out, "<p class=\"headline\">{}</p>", escape(&headline));
    }
    let (attention, infos): (Vec<&Finding>, Vec<&Finding>) = c
        .findings
        .iter()
        .partition(|f| f.severity != Severity::Info);
    for f in attention {
        finding(out, f);
    }
    if !infos.is_empty() {
        out.push_str("<ul class=\"infos\">\n");
        for f in infos {
            let _ = writeln!(
                out,
                "<li><code>{}</code> {}</li>",
                f.code.name(),
                escape(&f.message)
            );
        }
        out.push_str("</ul>\n");
    }
    match &c.details {
        Details::Endpoint(d) => {
            waterfall::svg(out, &d.hops, d.timings.total_ms);
            answer_headers(out, d.hops.last());
        }
        Details::Sso(d) => chain::diagram(out, d),
        Details::Allowlist(d) => coverage::coverage(out, d),
        Details::AllowlistDiff(d) => coverage::diff(out, d),
        Details::OauthScopes(d) => {
            let _ = writeln!(
                out,
                "<p class=\"muted\">corrected install URL: <code>{}</code></p>",
                escape(&d.corrected_url)
            );
        }
        Details::OauthToken(d) => oauth::token(out, d),
        Details::OauthDiscover(d) => oauth::discover(out, d),
        Details::None(_) => {}
    }
    out.push_str("</article>\n");
}

/// The last answer's headers, folded: what a server says about itself
/// (`Server`, `Via`, a cache) helps a ticket. Bounded like every list.
fn answer_headers(out: &mut String, hop: Option<&reach_report::endpoint::Hop>) {
    let Some(http) = hop.and_then(|h| h.http.as_ref()) else {
        return;
    };
    if http.headers.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "<details><summary class=\"muted\">the answer's headers ({} {}, {})</summary>\n<table>",
        http.status
            .map_or_else(|| "—".to_owned(), |s| s.to_string()),
        escape(&http.version),
        reach_report::count(http.headers.len() as u64, "header", "headers")
    );
    for h in http.headers.iter().take(LIST_SHOWN * 8) {
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td class=\"mono wrap\">{}</td></tr>",
            escape(&h.name),
            escape(&shorten(&h.value, 2000))
        );
    }
    if http.headers.len() > LIST_SHOWN * 8 {
        let _ = writeln!(
            out,
            "<tr><td colspan=\"2\">… and {} more</td></tr>",
            http.headers.len() - LIST_SHOWN * 8
        );
    }
    out.push_str("</table>\n</details>\n");
}

/// One warning or failure: code and severity, message, fix, evidence.
fn finding(out: &mut String, f: &Finding) {
    let _ = writeln!(
        out,
        "<div class=\"finding {}\">\n<p><code>{}</code> <span class=\"badge\">{}</span></p>\n\
         <p>{}</p>\n<p class=\"fix\">{}</p>",
        f.severity.as_str(),
        f.code.name(),
        f.severity.as_str(),
        escape(&f.message),
        escape(&f.remedy)
    );
    if !f.evidence.is_empty() {
        let json = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
        let _ = writeln!(out, "<pre>{}</pre>", escape(&json));
    }
    out.push_str("</div>\n");
}

/// A line under the check's title: an endpoint's last answer, where a
/// chain ended, an allowlist's coverage.
fn headline(c: &Check) -> String {
    match &c.details {
        Details::Endpoint(d) => {
            let mut parts = endpoint_headline(d);
            if !d.hops.is_empty() {
                parts.push(d.url.clone());
            }
            parts.join(" · ")
        }
        Details::Sso(d) => d.end.summary.clone(),
        Details::Allowlist(d) => format!(
            "{} · {}",
            d.direction,
            reach_report::count(d.gaps.len() as u64, "gap", "gaps")
        ),
        Details::OauthScopes(d) => format!("scope: {}", d.scope.join(" ")),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_short_text_and_cuts_long_text_by_characters() {
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab…");
        assert_eq!(shorten("ééééé", 4), "ééé…");
    }

    #[test]
    fn lists_are_bounded_and_escaped() {
        let many: Vec<String> = (0..20).map(|i| format!("<c{i}>")).collect();
        let out = listed(&many);
        assert!(out.starts_with("&lt;c0&gt;, &lt;c1&gt;"), "{out}");
        assert!(out.ends_with(", … and 8 more"), "{out}");
        assert!(!out.contains('<'), "{out}");
    }

    #[test]
    fn times_are_written_one_way() {
        for (ms, text) in [
            (0.0, "0"),
            (f64::NAN, "0"),
            (4.25, "4.2 ms"),
            (35.4, "35 ms"),
            (3001.4, "3.00 s"),
        ] {
            assert_eq!(duration(ms), text, "{ms}");
        }
        let mut check = Check::new(reach_report::CheckKind::Endpoint, "x");
        check.duration_ms = 3001.4;
        let mut report = super::super::tests::report_of(vec![check]);
        report.duration_ms = 3002.0;
        let page = render(&Printable::new(report));
        assert!(!page.contains("3001"), "{page}");
        assert!(!page.contains("3002"), "{page}");
        assert!(page.contains("<td class=\"num\">3.00 s</td>"), "{page}");
        assert!(page.contains("<dd>2026-12-01 16:54:13 UTC</dd>"), "{page}");
        assert!(!page.contains("123456789"), "{page}");
    }

    #[test]
    fn the_start_is_shown_to_the_second() {
        for (input, shown) in [
            ("2026-12-01T16:54:13.123456789Z", "2026-12-01 16:54:13 UTC"),
            ("2026-12-01T16:54:13Z", "2026-12-01 16:54:13 UTC"),
            ("2026-12-01T16:54:13.5+02:00", "2026-12-01 16:54:13 +02:00"),
            ("yesterday", "yesterday"),
            ("", ""),
        ] {
            assert_eq!(to_the_second(input), shown, "{input}");
        }
    }

    /// The phases' fills (colours and print patterns) are on the page
    /// whenever a check drew a waterfall: an SSO chain's too.
    #[test]
    fn a_page_with_a_chain_has_the_phases_fills() {
        let mut check = Check::new(reach_report::CheckKind::Sso, "https://app.test/");
        check.details = Details::Sso(Box::new(reach_report::sso::SsoDetails {
            hops: vec![reach_report::sso::SsoHop::default()],
            ..Default::default()
        }));
        let page = render(&Printable::new(super::super::tests::report_of(vec![check])));
        assert!(page.contains("<svg class=\"defs\""), "{page}");
        assert!(page.contains("<svg class=\"waterfall\""), "{page}");
        let mut empty = Check::new(reach_report::CheckKind::Sso, "https://app.test/");
        empty.details = Details::Sso(Box::default());
        let page = render(&Printable::new(super::super::tests::report_of(vec![empty])));
        assert!(!page.contains("<svg class=\"defs\""), "{page}");
    }

    /// Whatever charset a server that hands the page out claims, the
    /// style reads the same: characters past ASCII in it are CSS escapes.
    #[test]
    fn the_style_is_ascii() {
        assert!(STYLE.is_ascii(), "{STYLE}");
        assert!(STYLE.contains(r#"content:"\2193""#));
    }
}
