//! The report model of reach: every command fills one [`Report`].
//!
//! This crate is the bottom of the workspace: plain data with serde and
//! JSON Schema derives, the finding-code registry ([`Code`]) and redaction.
//! No I/O, no async runtime.
//!
//! # The wire format (`reach.report/v1`)
//!
//! ```json
//! {
//!   "schema": "reach.report/v1",
//!   "tool": {"name": "reach", "version": "0.1.0"},
//!   "started_at": "2026-11-24T21:55:42Z", "duration_ms": 12.5,
//!   "summary": {"pass": 1, "warn": 0, "fail": 1, "error": 0},
//!   "checks": [{
//!     "kind": "endpoint", "target": "https://example.com/",
//!     "status": "fail", "duration_ms": 10.2,
//!     "findings": [{"code": "tcp.refused", "severity": "fail",
//!                   "message": "…", "remedy": "…", "evidence": {}}],
//!     "details": {"url": "https://example.com/", "timings": {}, "hops": []}
//!   }]
//! }
//! ```
//!
//! * `status` of a check is the worst severity among its findings (`info`
//!   counts as `pass`), or `error` when the check could not run at all.
//! * `details` holds the kind's data; for `endpoint` it is
//!   [`EndpointDetails`]: one entry per HTTP hop, each with its DNS, TCP,
//!   TLS and HTTP phases and timings in milliseconds (sub-ms precision).
//! * Secrets never appear unless the user passes `--no-redact`: see
//!   [`redact`].
//!
//! ```no_run
//! use reach_report::{Check, CheckKind, Code, Finding};
//! let mut check = Check::new(CheckKind::Endpoint, "https://example.com/");
//! check.push(Finding::new(Code::TcpRefused, "127.0.0.1:443 refused the connection"));
//! assert_eq!(check.status, reach_report::Status::Fail);
//! ```

pub mod allowlist;
mod code;
pub mod endpoint;
pub mod oauth;
pub mod redact;
pub mod sso;
pub mod strings;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use code::{Code, CodeInfo, UnknownCode};
pub use endpoint::EndpointDetails;

/// Milliseconds since `since`, with sub-millisecond precision: the unit of
/// every `*_ms` field.
pub fn elapsed_ms(since: std::time::Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

/// A count with its noun in the right number: `1 check`, `2 checks`,
/// `0 checks` (`one` and `many` are the noun's two forms).
pub fn count(n: impl Into<u128>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A duration as people write it in a message: `3 s`, `0.5 s`, `250 ms`,
/// never `Duration`'s `Debug` (`2.999478055s`).
pub fn seconds(duration: std::time::Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1000) {
        format!("{} s", ms / 1000)
    } else {
        let text = format!("{:.1}", duration.as_secs_f64());
        format!("{} s", text.trim_end_matches(".0"))
    }
}

/// The value of [`Report::schema`].
pub const SCHEMA_ID: &str = "reach.report/v1";

/// One run of reach: every check it made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Report {
    /// Always `reach.report/v1`.
    pub schema: String,
    pub tool: Tool,
    /// When the run started (RFC 3339, UTC).
    pub started_at: String,
    /// Wall time of the whole run.
    pub duration_ms: f64,
    /// The machine reach ran on (its host name), for a ticket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub summary: Summary,
    /// The checks, in input order.
    pub checks: Vec<Check>,
}

impl Report {
    /// A report of `checks`, with the summary computed from them.
    pub fn new(tool: Tool, started_at: String, duration_ms: f64, checks: Vec<Check>) -> Self {
        let summary = Summary::of(&checks);
        Report {
            schema: SCHEMA_ID.to_owned(),
            tool,
            started_at,
            duration_ms,
            host: None,
            summary,
            checks,
        }
    }

    /// The JSON Schema of the report, generated from these types.
    pub fn json_schema() -> serde_json::Value {
        let schema = schemars::schema_for!(Report);
        serde_json::to_value(schema).expect("a schema always serializes")
    }
}

/// The tool that wrote the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

/// Count of checks by status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Summary {
    pub pass: u64,
    pub warn: u64,
    pub fail: u64,
    pub error: u64,
    /// Checks an interrupted run did not finish.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cancelled: u64,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl Summary {
    pub fn of(checks: &[Check]) -> Self {
        let mut s = Summary::default();
        for c in checks {
            match c.status {
                Status::Pass => s.pass += 1,
                Status::Warn => s.warn += 1,
                Status::Fail => s.fail += 1,
                Status::Error => s.error += 1,
                Status::Cancelled => s.cancelled += 1,
            }
        }
        s
    }
}

/// What kind of check produced a [`Check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    Endpoint,
    Allowlist,
    Sso,
    OauthScopes,
    OauthToken,
    OauthDiscover,
}

impl CheckKind {
    /// Every kind, in the order reports and preflight files list them: the
    /// one list of kinds (`reach run --only`, the preflight tables).
    pub const ALL: [CheckKind; 6] = [
        CheckKind::Endpoint,
        CheckKind::Allowlist,
        CheckKind::Sso,
        CheckKind::OauthScopes,
        CheckKind::OauthToken,
        CheckKind::OauthDiscover,
    ];

    /// The kind's name in the report and in a preflight file (`oauth_token`).
    pub const fn name(self) -> &'static str {
        match self {
            CheckKind::Endpoint => "endpoint",
            CheckKind::Allowlist => "allowlist",
            CheckKind::Sso => "sso",
            CheckKind::OauthScopes => "oauth_scopes",
            CheckKind::OauthToken => "oauth_token",
            CheckKind::OauthDiscover => "oauth_discover",
        }
    }
}

/// The outcome of one check.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// The check could not run (bad input, internal error).
    Error,
    /// The run was interrupted (Ctrl-C, SIGTERM) before the check ended.
    Cancelled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Error => "error",
            Status::Cancelled => "cancelled",
        }
    }
}

/// How bad a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warn,
    Fail,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warn => "warn",
            Severity::Fail => "fail",
        }
    }

    /// The check status a finding of this severity implies.
    pub fn status(self) -> Status {
        match self {
            Severity::Info => Status::Pass,
            Severity::Warn => Status::Warn,
            Severity::Fail => Status::Fail,
        }
    }
}

/// One check: a target, its verdict, why, and the data behind it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub kind: CheckKind,
    /// The check's name in a preflight file (`name = …`), if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The target as the user gave it.
    pub target: String,
    pub status: Status,
    pub duration_ms: f64,
    pub findings: Vec<Finding>,
    pub details: Details,
}

impl Check {
    /// A passing check with no findings yet.
    pub fn new(kind: CheckKind, target: impl Into<String>) -> Self {
        Check {
            kind,
            name: None,
            target: target.into(),
            status: Status::Pass,
            duration_ms: 0.0,
            findings: Vec::new(),
            details: Details::None(Empty {}),
        }
    }

    /// A check that could not run because its input is bad.
    pub fn input_error(kind: CheckKind, target: impl Into<String>, message: String) -> Self {
        let mut check = Check::new(kind, target);
        check.push(Finding::new(Code::InputInvalid, message));
        check.status = Status::Error;
        check
    }

    /// Adds a finding and raises the status to its severity. An `error`
    /// status stays `error`.
    pub fn push(&mut self, finding: Finding) {
        let implied = finding.severity.status();
        if self.status != Status::Error && implied > self.status {
            self.status = implied;
        }
        self.findings.push(finding);
    }

    pub fn has(&self, code: Code) -> bool {
        self.findings.iter().any(|f| f.code == code)
    }
}

/// Kind-specific data of a check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum Details {
    Endpoint(Box<EndpointDetails>),
    Allowlist(Box<allowlist::AllowlistDetails>),
    AllowlistDiff(Box<allowlist::AllowlistDiffDetails>),
    Sso(Box<sso::SsoDetails>),
    OauthScopes(Box<oauth::OauthScopesDetails>),
    OauthToken(Box<oauth::OauthTokenDetails>),
    OauthDiscover(Box<oauth::OauthDiscoverDetails>),
    /// A check that produced no data (e.g. it could not run).
    None(Empty),
}

/// An empty object, `{}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// Something reach found: a code from the registry, what exactly happened,
/// what to do, and the data that shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    pub code: Code,
    pub severity: Severity,
    /// What happened, specific to this check (names hosts, addresses, values).
    pub message: String,
    pub remedy: String,
    /// The data that shows it; an object whose keys depend on the code.
    pub evidence: serde_json::Map<String, serde_json::Value>,
}

impl Finding {
    /// A finding with the code's registered severity and remedy.
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        let info = code.info();
        Finding {
            code,
            severity: info.severity,
            message: message.into(),
            remedy: info.remedy.to_owned(),
            evidence: serde_json::Map::new(),
        }
    }

    /// Replaces the registered remedy where this case needs its own advice.
    #[must_use]
    pub fn with_remedy(mut self, remedy: impl Into<String>) -> Self {
        self.remedy = remedy.into();
        self
    }

    /// Adds one evidence entry.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        self.evidence.insert(key.to_owned(), value);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_is_the_worst_severity() {
        let mut c = Check::new(CheckKind::Endpoint, "x");
        c.push(Finding::new(Code::AllowlistStaleEntry, "info"));
        assert_eq!(c.status, Status::Pass);
        c.push(Finding::new(Code::TlsCertExpiringSoon, "warn"));
        assert_eq!(c.status, Status::Warn);
        c.push(Finding::new(Code::TcpRefused, "fail"));
        assert_eq!(c.status, Status::Fail);
        c.push(Finding::new(Code::TlsCertExpiringSoon, "warn again"));
        assert_eq!(c.status, Status::Fail);
    }

    #[test]
    fn kind_names_are_the_report_s() {
        for kind in CheckKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
    }

    #[test]
    fn input_error_stays_error() {
        let mut c = Check::input_error(CheckKind::Endpoint, "::", "bad".into());
        c.push(Finding::new(Code::TcpRefused, "x"));
        assert_eq!(c.status, Status::Error);
    }

    #[test]
    fn report_round_trips_with_empty_details() {
        let checks = vec![Check::new(CheckKind::Endpoint, "a")];
        let r = Report::new(
            Tool {
                name: "reach".into(),
                version: "0".into(),
            },
            "2026-01-01T00:00:00Z".into(),
            1.5,
            checks,
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["schema"], "reach.report/v1");
        assert_eq!(json["checks"][0]["details"], serde_json::json!({}));
        assert_eq!(json["summary"]["pass"], 1);
        let back: Report = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }
}
