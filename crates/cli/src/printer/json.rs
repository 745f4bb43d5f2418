//! The JSON report (`reach.report/v1`, documented in the report crate):
//! the report as serde writes it, pretty, with a final line break.

use reach_report::Report;

pub(super) fn render(report: &Report) -> serde_json::Result<String> {
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

/// `--format jsonl`: one check a line, compact. The checks of a run are
/// written by `partial` as they end, each through [`line`]; these are the
/// ones a whole report holds.
pub(super) fn lines(report: &Report) -> String {
    let mut text = String::new();
    for check in &report.checks {
        line(check, &mut text);
    }
    text
}

/// One check as a line of `--format jsonl`, appended to `out`.
pub(crate) fn line(check: &reach_report::Check, out: &mut String) {
    match serde_json::to_string(check) {
        Ok(json) => {
            out.push_str(&json);
            out.push('\n');
        }
        // The report's types always serialize; a bug if not.
        Err(e) => tracing::error!("a check could not be written: {e}"),
    }
}
