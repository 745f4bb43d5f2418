//! `details` of an `allowlist` check: what was compared, the coverage per
//! address family, where the gaps are, and the `--host` results; and of an
//! `allowlist diff`: what a vendor added and removed.
//!
//! Address counts are decimal strings: IPv6 counts exceed 64 bits (the
//! whole space is 2^128), and JSON numbers are not exact that far.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One input file or URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Input {
    /// The path or URL.
    pub source: String,
    /// The format it was read as (`aws`, `azure`, `cidr`, `iptables`, …).
    pub format: String,
    /// The feed's own version stamp, `key=value` (`syncToken=1706…`,
    /// `changeNumber=412`, …), so a stale feed is visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Entries read (after filters).
    pub entries: u64,
}

impl Input {
    /// How every printer names the input: `ip-ranges.json (aws,
    /// syncToken=1700000000)`, or `rules.txt (cidr)` without a version.
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{} ({}, {v})", self.source, self.format),
            None => format!("{} ({})", self.source, self.format),
        }
    }
}

/// Coverage of one address family.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FamilyCoverage {
    pub published: String,
    pub covered: String,
    pub uncovered: String,
    /// Covered share of the published addresses, 0–100 (100 when nothing is
    /// published).
    pub coverage_percent: f64,
}

impl FamilyCoverage {
    /// The feed publishes nothing of this family: its 100% is of nothing,
    /// and the printers say so instead.
    pub fn nothing_published(&self) -> bool {
        self.published == "0"
    }
}

/// Uncovered addresses of one service / region of the feed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub addresses: String,
    /// Minimal CIDRs of the uncovered part.
    pub cidrs: Vec<String>,
}

/// A `--host` check: each address the name resolved to, and what covers it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostCoverage {
    pub name: String,
    pub addresses: Vec<HostAddress>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostAddress {
    pub address: String,
    /// The allowlist entry that covers it (`file:line entry`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covered_by: Option<String>,
}

/// What `reach allowlist` computed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistDetails {
    pub published: Vec<Input>,
    pub allowlists: Vec<Input>,
    /// `egress` or `ingress`.
    pub direction: String,
    /// Only rules allowing this port counted (`--port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub ipv4: FamilyCoverage,
    pub ipv6: FamilyCoverage,
    /// Every uncovered address as minimal CIDRs.
    pub uncovered: Vec<String>,
    /// The same, by the feed's service and region.
    pub gaps: Vec<Gap>,
    pub hosts: Vec<HostCoverage>,
}

/// What `reach allowlist diff OLD NEW` computed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllowlistDiffDetails {
    pub old: Input,
    pub new: Input,
    /// Minimal CIDRs published in NEW and not in OLD.
    pub added: Vec<String>,
    pub added_addresses: String,
    /// Minimal CIDRs published in OLD and not in NEW.
    pub removed: Vec<String>,
    pub removed_addresses: String,
    /// Added ranges that the `--allowlist` does not cover.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_uncovered: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::Input;

    #[test]
    fn an_input_is_named_by_source_format_and_version() {
        let mut input = Input {
            source: "ip-ranges.json".to_owned(),
            format: "aws".to_owned(),
            version: Some("syncToken=1700000000".to_owned()),
            entries: 3,
        };
        assert_eq!(input.label(), "ip-ranges.json (aws, syncToken=1700000000)");
        input.version = None;
        assert_eq!(input.label(), "ip-ranges.json (aws)");
    }
}
