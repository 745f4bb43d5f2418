//! A ticket-ready Markdown report: the run's facts, a table of every
//! check, then what needs attention with each finding's fix and evidence.

use std::fmt::Write as _;

use reach_report::{Check, Details, Severity, Status};

use super::{Printable, label, status_word, tenths_ms, timings_line, verdict};

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

pub(super) fn render(report: &Printable) -> String {
    let mut out = String::new();
    facts(&mut out, report);
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
            c.kind.name(),
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
        needs_attention(&mut out, c);
    }
    let _ = writeln!(
        out,
        "\n<sub>reach.report/v1 · secrets redacted · `reach explain CODE` explains a finding</sub>"
    );
    out
}

/// The title (the verdict) and the table of the run's facts.
fn facts(out: &mut String, report: &Printable) {
    let s = &report.summary;
    let _ = writeln!(out, "# reach report: {}\n", verdict(report));
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
}

/// A check that did not pass: its timings (endpoints), then each warning
/// or failure with its fix and evidence.
fn needs_attention(out: &mut String, c: &Check) {
    let _ = writeln!(
        out,
        "\n### {} {} ({})\n",
        status_word(c.status),
        code(&label(c)),
        c.kind.name()
    );
    if let Details::Endpoint(d) = &c.details {
        let _ = writeln!(out, "Timings: {}\n", timings_line(&d.timings, tenths_ms));
    }
    for f in c.findings.iter().filter(|f| f.severity != Severity::Info) {
        let _ = writeln!(
            out,
            "- **{}** ({}): {}",
            code(f.code.name()),
            f.severity.as_str(),
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
