//! The two report formats made for other tools: Markdown for a ticket,
//! `JUnit` XML for CI. Both render the redacted report (see `finish`), so a
//! secret cannot reach them that the JSON does not show.

use std::fmt::Write as _;

use reach_report::{Check, Details, Report, Severity, Status};

fn label(check: &Check) -> String {
    match &check.name {
        Some(name) if name != &check.target => format!("{name} ({})", check.target),
        _ => check.target.clone(),
    }
}

fn kind(check: &Check) -> String {
    serde_json::to_value(check.kind)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
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

/// A Markdown table cell: pipes escaped, line breaks as spaces.
fn cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Inline code that cannot be broken by a backtick in the text.
fn code(text: &str) -> String {
    let fence = if text.contains('`') { "``" } else { "`" };
    format!("{fence}{}{fence}", text.replace(['\n', '\r'], " "))
}

/// A ticket-ready Markdown report.
pub(crate) fn markdown(report: &Report) -> String {
    // Control characters from input or the network are shown escaped.
    let report = &crate::render::printable(report);
    let mut out = String::new();
    let s = &report.summary;
    let total = report.checks.len();
    let bad = s.fail + s.error;
    let _ = writeln!(
        out,
        "# reach report: {}\n",
        if s.cancelled > 0 {
            format!(
                "interrupted, {} of {total} checks cancelled ({bad} failed, {} warned)",
                s.cancelled, s.warn
            )
        } else if bad == 0 && s.warn == 0 {
            format!("all {total} checks passed")
        } else if bad == 0 {
            format!("{} of {total} checks warned", s.warn)
        } else {
            format!("{bad} of {total} checks failed")
        }
    );
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| when | {} |", cell(&report.started_at));
    if let Some(host) = &report.host {
        let _ = writeln!(out, "| host | {} |", cell(host));
    }
    let _ = writeln!(
        out,
        "| tool | {} {} |",
        cell(&report.tool.name),
        cell(&report.tool.version)
    );
    let _ = writeln!(out, "| duration | {:.0} ms |", report.duration_ms);
    let _ = writeln!(
        out,
        "| result | {} pass · {} warn · {} fail · {} error{} |\n",
        s.pass,
        s.warn,
        s.fail,
        s.error,
        if s.cancelled > 0 {
            format!(" · {} cancelled", s.cancelled)
        } else {
            String::new()
        }
    );
    let _ = writeln!(out, "## Checks\n");
    let _ = writeln!(
        out,
        "| status | kind | check | time | findings |\n|---|---|---|---|---|"
    );
    for c in &report.checks {
        let codes: Vec<String> = c.findings.iter().map(|f| code(f.code.name())).collect();
        let _ = writeln!(
            out,
            "| **{}** | {} | {} | {:.0} ms | {} |",
            status_word(c.status),
            kind(c),
            cell(&label(c)),
            c.duration_ms,
            cell(&codes.join(" "))
        );
    }
    let attention: Vec<&Check> = report
        .checks
        .iter()
        .filter(|c| c.status != Status::Pass)
        .collect();
    if !attention.is_empty() {
        let _ = writeln!(out, "\n## What needs attention");
    }
    for c in attention {
        let _ = writeln!(
            out,
            "\n### {} {} ({})\n",
            status_word(c.status),
            code(&label(c)),
            kind(c)
        );
        if let Details::Endpoint(d) = &c.details {
            let t = &d.timings;
            let mut parts = Vec::new();
            for (name, v) in [
                ("dns", t.dns_ms),
                ("connect", t.connect_ms),
                ("tls", t.tls_ms),
                ("ttfb", t.ttfb_ms),
            ] {
                if let Some(v) = v {
                    parts.push(format!("{name} {v:.1} ms"));
                }
            }
            parts.push(format!("total {:.1} ms", t.total_ms));
            let _ = writeln!(out, "Timings: {}\n", parts.join(" · "));
        }
        for f in c.findings.iter().filter(|f| f.severity != Severity::Info) {
            let _ = writeln!(
                out,
                "- **{}** ({}): {}",
                code(f.code.name()),
                severity_word(f.severity),
                f.message.replace('\n', " ")
            );
            let _ = writeln!(out, "  - fix: {}", f.remedy.replace('\n', " "));
            if !f.evidence.is_empty() {
                let json = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
                let _ = writeln!(out, "  - evidence:\n\n    ```json");
                for line in json.lines() {
                    let _ = writeln!(out, "    {line}");
                }
                let _ = writeln!(out, "    ```");
            }
        }
    }
    let _ = writeln!(
        out,
        "\n<sub>reach.report/v1 · secrets redacted · `reach explain CODE` explains a finding</sub>"
    );
    out
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warn => "warn",
        Severity::Fail => "fail",
    }
}

/// XML text and attribute escaping; control characters (which XML 1.0
/// forbids or discourages, and which would drive a terminal showing the
/// file) are written escaped, as the text report shows them.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => {
                let _ = write!(out, "{}", c.escape_default());
            }
            c if matches!(c as u32, 0xFFFE | 0xFFFF) => {}
            c => out.push(c),
        }
    }
    out
}

/// `JUnit` XML: one `testcase` per check; a failed check carries a
/// `failure`, a check that could not run an `error`, both with every
/// finding's message and remedy; warnings go to `system-out` (and are
/// failures with `--strict`). A check an interrupted run cancelled is
/// `skipped`, never an empty (passing) testcase.
pub(crate) fn junit(report: &Report, strict: bool) -> String {
    let failed = |c: &Check| c.status == Status::Fail || (strict && c.status == Status::Warn);
    let failures = report.checks.iter().filter(|c| failed(c)).count();
    let count = |status: Status| report.checks.iter().filter(|c| c.status == status).count();
    let errors = count(Status::Error);
    let skipped = count(Status::Cancelled);
    let secs = report.duration_ms / 1000.0;
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"reach\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{secs:.3}\">",
        report.checks.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"reach\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{secs:.3}\" timestamp=\"{}\" hostname=\"{}\">",
        report.checks.len(),
        xml(&report.started_at),
        xml(report.host.as_deref().unwrap_or("localhost"))
    );
    let _ = writeln!(
        out,
        "    <properties><property name=\"tool\" value=\"{} {}\"/></properties>",
        xml(&report.tool.name),
        xml(&report.tool.version)
    );
    for c in &report.checks {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"reach.{}\" time=\"{:.3}\"",
            xml(&label(c)),
            xml(&kind(c)),
            c.duration_ms / 1000.0
        );
        let mut body = String::new();
        for f in &c.findings {
            let _ = writeln!(
                body,
                "[{}] {}: {}\nfix: {}",
                severity_word(f.severity),
                f.code.name(),
                f.message,
                f.remedy
            );
        }
        let first = c
            .findings
            .iter()
            .find(|f| f.severity != Severity::Info)
            .or_else(|| c.findings.first());
        let (message, kind_attr) = first.map_or((String::new(), String::new()), |f| {
            (f.message.clone(), f.code.name().to_owned())
        });
        if c.status == Status::Cancelled {
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"cancelled\">the run was interrupted (Ctrl-C or SIGTERM) before this check ended</skipped>\n    </testcase>"
            );
            continue;
        }
        let element = if c.status == Status::Error {
            Some("error")
        } else if failed(c) {
            Some("failure")
        } else {
            None
        };
        match element {
            Some(element) => {
                let _ = writeln!(
                    out,
                    ">\n      <{element} message=\"{}\" type=\"{}\">{}</{element}>\n    </testcase>",
                    xml(&message),
                    xml(&kind_attr),
                    xml(&body)
                );
            }
            None if !body.is_empty() => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    xml(&body)
                );
            }
            None => {
                let _ = writeln!(out, "/>");
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}
