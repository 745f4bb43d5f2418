//! The JSON report (`reach.report/v1`, documented in the report crate):
//! the report as serde writes it, pretty, with a final line break.

use reach_report::Report;

pub(super) fn render(report: &Report) -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

/// `--format jsonl`: one check a line, compact. Checks streamed while the
/// run went on were written already; these are the ones left at its end.
pub(super) fn lines(report: &Report) -> serde_json::Result<String> {
    let mut text = String::new();
    for check in &report.checks {
        text.push_str(&serde_json::to_string(check)?);
        text.push('\n');
    }
    Ok(text)
}
