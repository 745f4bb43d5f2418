//! What a coverage or a diff says in a report: the `allowlist.*` findings
//! and the check's details, in `reach-report`'s types. The command line
//! reads the inputs, resolves `--host` names and puts these in its check.
//!
//! ```no_run
//! use reach_allowlist::{coverage, findings, text};
//!
//! let (feed, _) = text::parse_cidr_feed("feed.txt", "192.0.2.0/24\n", false);
//! let (allow, _) = text::parse_cidr_allowlist("allow.txt", "192.0.2.0/25\n");
//! let result = coverage::coverage(&feed, &allow, None, 8, 32);
//! let found = findings::coverage_findings(&result, &allow, (8, 32), None);
//! assert_eq!(found[0].code, reach_report::Code::AllowlistGap);
//! ```

use std::net::IpAddr;

use ipnet::IpNet;
use reach_report::allowlist::{self as report, AllowlistDiffDetails, HostAddress, HostCoverage};
use reach_report::{Code, Finding, Severity};

use crate::coverage::{self, Coverage, Diff, FamilyCoverage, Gap};
use crate::model::{Allowlist, Feed, ParseError};
use crate::readable;
use crate::set::IpSet;

/// At most this many findings of one kind per check; the rest are counted.
pub const FINDINGS_CAP: usize = 200;

/// `allow.txt:12 10.0.0.0/8`: a network entry, by index.
pub fn describe(allow: &Allowlist, index: usize) -> String {
    match allow.entries.get(index) {
        Some(e) => format!("{} {}", allow.origin(e.at), e.net),
        None => format!("entry {index}"),
    }
}

/// `allow.txt:3 *.example.com`: a name entry, by index.
pub fn describe_name(allow: &Allowlist, index: usize) -> String {
    match allow.names.get(index) {
        Some(e) => format!("{} {}", allow.origin(e.at), e.name),
        None => format!("name {index}"),
    }
}

fn cidr_strings(nets: &[IpNet]) -> Vec<String> {
    nets.iter().map(crate::text::cidr_string).collect()
}

impl FamilyCoverage {
    /// The report's figures: counts as decimal strings.
    pub fn to_report(&self) -> report::FamilyCoverage {
        report::FamilyCoverage {
            published: self.published.to_string(),
            covered: self.covered.to_string(),
            uncovered: self.uncovered.to_string(),
            coverage_percent: self.covered.percent_of(&self.published),
        }
    }
}

impl Gap {
    /// The report's gap: the count and CIDRs as strings.
    pub fn to_report(&self) -> report::Gap {
        report::Gap {
            service: self.service.clone(),
            region: self.region.clone(),
            addresses: self.addresses.to_string(),
            cidrs: cidr_strings(&self.cidrs),
        }
    }
}

/// What was asked of a coverage, for its details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asked {
    /// The inputs read.
    pub published: Vec<report::Input>,
    pub allowlists: Vec<report::Input>,
    pub direction: crate::model::Direction,
    pub port: Option<u16>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
}

/// The details of an `allowlist` check (without `--host` results).
pub fn coverage_details(result: &Coverage, asked: Asked) -> report::AllowlistDetails {
    report::AllowlistDetails {
        published: asked.published,
        allowlists: asked.allowlists,
        direction: asked.direction.name().to_owned(),
        port: asked.port,
        services: asked.services,
        regions: asked.regions,
        ipv4: result.v4.to_report(),
        ipv6: result.v6.to_report(),
        uncovered: cidr_strings(&result.uncovered),
        gaps: result.gaps.iter().map(Gap::to_report).collect(),
        hosts: Vec::new(),
    }
}

/// The coverage of `allow` over `published` (dropped once computed: it can
/// hold millions of entries) and what the report says of it: its findings
/// and the check's details (without `--host` results). `broad` as for
/// [`coverage_findings`].
pub fn coverage_report(
    published: Feed,
    allow: &Allowlist,
    broad: (u8, u8),
    asked: Asked,
) -> (Vec<Finding>, report::AllowlistDetails) {
    let result = coverage::coverage(&published, allow, asked.port, broad.0, broad.1);
    drop(published);
    let found = coverage_findings(&result, allow, broad, asked.port);
    (found, coverage_details(&result, asked))
}

/// The findings of a coverage; `broad` the IPv4 and IPv6 prefix lengths
/// below which an entry is overly broad, `port` the `--port` asked about.
pub fn coverage_findings(
    result: &Coverage,
    allow: &Allowlist,
    broad: (u8, u8),
    port: Option<u16>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    if !result.uncovered.is_empty() {
        out.push(gap_finding(result));
    }
    if !result.broad.is_empty() {
        let what = |is, noun| {
            format!(
                "allowlist {noun} {is} wider than /{} (IPv4) or /{} (IPv6)",
                broad.0, broad.1
            )
        };
        let what = (what("is", "entry"), what("are", "entries"));
        let entries = result.broad.iter().map(|&i| describe(allow, i));
        out.push(entries_finding(
            Code::AllowlistOverlyBroad,
            result.broad.len(),
            (&what.0, &what.1),
            entries,
        ));
    }
    if !result.stale.is_empty() {
        let entries = result.stale.iter().map(|&i| describe(allow, i));
        out.push(entries_finding(
            Code::AllowlistStaleEntry,
            result.stale.len(),
            (
                "allowlist entry covers nothing the feed publishes",
                "allowlist entries cover nothing the feed publishes",
            ),
            entries,
        ));
    }
    out.extend(rule_findings(allow, port));
    out.extend(redundant_findings(result, allow));
    out
}

/// `allowlist.gap`: what the allowlist does not cover, per family and per
/// service / region group.
fn gap_finding(result: &Coverage) -> Finding {
    let by_group: Vec<serde_json::Value> = result
        .gaps
        .iter()
        .take(FINDINGS_CAP)
        .map(|g| {
            serde_json::json!({
                "service": g.service,
                "region": g.region,
                "addresses": g.addresses.to_string(),
                "cidrs": cidr_strings(&g.cidrs.iter().take(20).copied().collect::<Vec<_>>()),
            })
        })
        .collect();
    let mut parts = Vec::new();
    // Readable counts: an IPv6 count has up to 39 digits; the details
    // keep the exact ones.
    for (name, fam) in [("IPv4", &result.v4), ("IPv6", &result.v6)] {
        if !fam.uncovered.is_zero() {
            let readable =
                |n: crate::set::AddrCount| readable::count(&n.to_string(), name == "IPv6");
            parts.push(format!(
                "{} of {} published {name} addresses ({:.2}%)",
                readable(fam.uncovered),
                readable(fam.published),
                100.0 - fam.covered.percent_of(&fam.published)
            ));
        }
    }
    Finding::new(
        Code::AllowlistGap,
        format!(
            "{} are not covered by the allowlist: {} to add{}",
            parts.join(" and "),
            reach_report::count(result.uncovered.len() as u64, "CIDR", "CIDRs"),
            match result.gaps.len() {
                0 | 1 => String::new(),
                n => format!(", in {n} service/region groups"),
            }
        ),
    )
    .with(
        "uncovered",
        cidr_strings(
            &result
                .uncovered
                .iter()
                .take(FINDINGS_CAP)
                .copied()
                .collect::<Vec<_>>(),
        ),
    )
    .with("uncovered_cidrs", result.uncovered.len())
    .with("by_service", by_group)
}

/// What the firewall rules say: shadowed and not-counted accepting rules.
fn rule_findings(allow: &Allowlist, port: Option<u16>) -> Vec<Finding> {
    let mut out = Vec::new();
    if !allow.shadowed.is_empty() {
        let entries = allow.shadowed.iter().map(|s| {
            let by: Vec<String> = s.by.iter().map(ToString::to_string).collect();
            let counted = if s.counted.is_empty() {
                "nothing counted".to_owned()
            } else {
                format!("counted: {}", cidr_strings(&s.counted).join(", "))
            };
            format!(
                "{} {} is blocked in part or whole by line {} ({counted})",
                allow.origin(s.at),
                crate::text::cidr_string(&s.net),
                by.join(", "),
            )
        });
        out.push(entries_finding(
            Code::AllowlistShadowedRule,
            allow.shadowed.len(),
            (
                "ACCEPT rule is overridden by earlier DROP/REJECT rules of its chain",
                "ACCEPT rules are overridden by earlier DROP/REJECT rules of their chain",
            ),
            entries,
        ));
    }
    if !allow.not_counted.is_empty() {
        let entries = allow
            .not_counted
            .iter()
            .map(|n| format!("{} ({}): {}", allow.origin(n.at), n.rule, n.reason));
        let to_port = port.map_or_else(String::new, |port| format!(" to port {port}"));
        let what = (
            format!(
                "accepting rule does not count: it does not provably admit new TCP connections{to_port}"
            ),
            format!(
                "accepting rules do not count: they do not provably admit new TCP connections{to_port}"
            ),
        );
        out.push(entries_finding(
            Code::AllowlistRuleNotCounted,
            allow.not_counted.len(),
            (&what.0, &what.1),
            entries,
        ));
    }
    out
}

/// `allowlist.redundant_entry`: repeated lines, then entries inside others.
fn redundant_findings(result: &Coverage, allow: &Allowlist) -> Vec<Finding> {
    let mut out = Vec::new();
    if allow.duplicate_lines > 0 {
        let entries = allow
            .duplicate_examples
            .iter()
            .map(|(dup, first)| format!("{} repeats line {}", allow.origin(*dup), first.line));
        let finding = entries_finding(
            Code::AllowlistRedundantEntry,
            usize::try_from(allow.duplicate_lines).unwrap_or(usize::MAX),
            (
                "allowlist line repeats an entry listed earlier (counted once)",
                "allowlist lines repeat an entry listed earlier (each counted once)",
            ),
            entries,
        );
        out.push(finding.with("repeated_lines", allow.duplicate_lines));
    }
    if !result.redundant.is_empty() {
        let entries = result
            .redundant
            .iter()
            .map(|&(i, by)| format!("{} (inside {})", describe(allow, i), describe(allow, by)));
        out.push(entries_finding(
            Code::AllowlistRedundantEntry,
            result.redundant.len(),
            (
                "allowlist entry is contained in another entry",
                "allowlist entries are contained in other entries",
            ),
            entries,
        ));
    }
    out
}

/// One finding for `count` allowlist entries: the first few in the
/// message, at most [`FINDINGS_CAP`] in the evidence.
fn entries_finding(
    code: Code,
    count: usize,
    (one, many): (&str, &str),
    entries: impl Iterator<Item = String>,
) -> Finding {
    let entries: Vec<String> = entries.take(FINDINGS_CAP).collect();
    let first: Vec<&str> = entries.iter().take(5).map(String::as_str).collect();
    let what = reach_report::count(count as u64, one, many);
    Finding::new(code, format!("{what}: {}", first.join("; ")))
        .with("entries", &entries)
        .with("count", count)
}

/// The findings of inputs that could not be used at all: input errors.
pub fn fatal_error_findings(errors: &[ParseError]) -> Vec<Finding> {
    errors
        .iter()
        .map(|e| {
            Finding::new(Code::InputInvalid, e.to_string())
                .with("origin", e.origin.to_string())
                .with("reason", &e.reason)
        })
        .collect()
}

/// The findings of lines that did not parse: with `lenient` warnings (the
/// lines were skipped), otherwise input errors that void every figure; at
/// most [`FINDINGS_CAP`], then one that counts the rest.
pub fn parse_error_findings(errors: &[ParseError], lenient: bool) -> Vec<Finding> {
    let total = errors.len();
    let (severity, remedy) = if lenient {
        (
            Severity::Warn,
            "The line was skipped (--lenient); fix it to have it counted.",
        )
    } else {
        (Severity::Fail, Code::InputInvalid.info().remedy)
    };
    let settle = |mut finding: Finding| {
        finding.severity = severity;
        remedy.clone_into(&mut finding.remedy);
        finding
    };
    let mut out: Vec<Finding> = errors
        .iter()
        .take(FINDINGS_CAP)
        .map(|e| {
            settle(
                Finding::new(Code::InputInvalid, e.to_string())
                    .with("origin", e.origin.to_string())
                    .with("text", &e.text)
                    .with("reason", &e.reason),
            )
        })
        .collect();
    if total > FINDINGS_CAP {
        out.push(settle(
            Finding::new(
                Code::InputInvalid,
                format!(
                    "… and {} more lines that do not parse",
                    total - FINDINGS_CAP
                ),
            )
            .with("lines", total),
        ));
    }
    out
}

/// A `--host` name's coverage: each address it resolved to and what
/// covers it (an FQDN entry naming the host covers it whatever it resolves
/// to), and `allowlist.host_not_covered` when some address is not.
pub fn host_coverage(
    name: &str,
    addresses: &[IpAddr],
    allow: &Allowlist,
    port: Option<u16>,
) -> (HostCoverage, Option<Finding>) {
    let by_name = coverage::fqdn_covered(name, allow, port).map(|i| describe_name(allow, i));
    let mut out = Vec::new();
    let mut uncovered: Vec<IpAddr> = Vec::new();
    for ip in addresses {
        let covered_by = by_name
            .clone()
            .or_else(|| coverage::host_covered(*ip, allow, port).map(|i| describe(allow, i)));
        if covered_by.is_none() {
            uncovered.push(*ip);
        }
        out.push(HostAddress {
            address: ip.to_string(),
            covered_by,
        });
    }
    let finding = (!uncovered.is_empty()).then(|| {
        let list: Vec<String> = uncovered.iter().map(ToString::to_string).collect();
        Finding::new(
            Code::AllowlistHostNotCovered,
            format!(
                "{name} resolves to {}, which no allowlist entry covers",
                list.join(", ")
            ),
        )
        .with("host", name)
        .with("addresses", list)
    });
    let host = HostCoverage {
        name: name.to_owned(),
        addresses: out,
    };
    (host, finding)
}

/// What `reach allowlist diff OLD NEW` reports: `allowlist.gap` when the
/// vendor added ranges the allowlist does not cover, and the details.
pub fn diff_report(
    result: &Diff,
    old: report::Input,
    new: report::Input,
) -> (Option<Finding>, AllowlistDiffDetails) {
    let count = |set: &IpSet| set.count().to_string();
    let added_uncovered = result
        .added_uncovered
        .as_ref()
        .map(|s| cidr_strings(&s.to_cidrs()));
    let finding = added_uncovered
        .as_ref()
        .filter(|g| !g.is_empty())
        .map(|gaps| {
            Finding::new(
                Code::AllowlistGap,
                format!(
                    "the vendor added {} that the allowlist does not cover: {}",
                    reach_report::count(gaps.len() as u64, "range", "ranges"),
                    gaps.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                ),
            )
            .with(
                "uncovered",
                gaps.iter().take(FINDINGS_CAP).collect::<Vec<_>>(),
            )
        });
    let details = AllowlistDiffDetails {
        old,
        new,
        added_addresses: count(&result.added),
        removed_addresses: count(&result.removed),
        added: cidr_strings(&result.added.to_cidrs()),
        removed: cidr_strings(&result.removed.to_cidrs()),
        added_uncovered,
    };
    (finding, details)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::{Errors, Parsed};

    fn errors(n: usize) -> Vec<ParseError> {
        (1..=n)
            .map(|line| ParseError {
                origin: crate::model::origin("a.txt", line),
                text: "x".to_owned(),
                reason: "not a CIDR or IP address".to_owned(),
            })
            .collect()
    }

    #[test]
    fn parse_errors_are_capped_and_lenient_ones_warn() {
        let found = parse_error_findings(&errors(FINDINGS_CAP + 3), false);
        assert_eq!(found.len(), FINDINGS_CAP + 1);
        assert_eq!(found[0].message, "a.txt:1: not a CIDR or IP address (`x`)");
        assert_eq!(
            found[FINDINGS_CAP].message,
            "… and 3 more lines that do not parse"
        );
        assert!(found.iter().all(|f| f.severity == Severity::Fail));
        let found = parse_error_findings(&errors(1), true);
        assert_eq!(found[0].severity, Severity::Warn);
        assert!(found[0].remedy.contains("--lenient"));
    }

    #[test]
    fn errors_void_the_figures_unless_lenient() {
        let parsed = |fatal| Parsed::<()> {
            value: None,
            errors: errors(1),
            fatal,
        };
        for (fatal, lenient, void) in [
            (false, false, true),
            (false, true, false),
            (true, true, true),
        ] {
            let mut all = Errors::default();
            all.take(parsed(fatal));
            let (found, got) = all.settle(lenient);
            assert_eq!((found.len(), got), (1, void), "{fatal} {lenient}");
            assert_eq!(all, Errors::default());
        }
    }
}
