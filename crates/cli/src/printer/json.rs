//! The JSON report (`reach.report/v1`, documented in the report crate):
//! the report as serde writes it, pretty, with a final line break.

use reach_report::Report;

pub(super) fn render(report: &Report) -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}
