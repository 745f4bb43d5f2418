//! `JUnit` XML for CI: one `testcase` per check; a failed check carries a
//! `failure`, a check that could not run an `error`, both with every
//! finding's message and remedy; warnings go to `system-out` (and are
//! failures with `--strict`). A check an interrupted run cancelled is
//! `skipped`, never an empty (passing) testcase.

use std::fmt::Write as _;

use reach_report::{Check, Report, Severity, Status};

use super::{escape_controls, escape_markup, label};

/// XML text and attribute escaping; control characters (which XML 1.0
/// forbids or discourages, and which would drive a terminal showing the
/// file) are written escaped, as the text report shows them.
fn xml(text: &str) -> String {
    escape_markup(&escape_controls(text, &['\t', '\n', '\r'])).into_owned()
}

pub(super) fn render(report: &Report, strict: bool) -> String {
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
        testcase(&mut out, c, failed(c));
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// One check's `testcase`; `failed` when it counts as a failure.
fn testcase(out: &mut String, c: &Check, failed: bool) {
    let _ = write!(
        out,
        "    <testcase name=\"{}\" classname=\"reach.{}\" time=\"{:.3}\"",
        xml(&label(c)),
        xml(c.kind.name()),
        c.duration_ms / 1000.0
    );
    let mut body = String::new();
    for f in &c.findings {
        let _ = writeln!(
            body,
            "[{}] {}: {}\nfix: {}",
            f.severity.as_str(),
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
        return;
    }
    let element = if c.status == Status::Error {
        Some("error")
    } else if failed {
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
