//! The shared vocabulary of the allowlist crate: where an entry came from,
//! what a feed or a firewall rule says, and what did not parse.

use std::fmt;
use std::sync::Arc;

use ipnet::IpNet;

/// Where a line came from: the input's name (a path or URL) and its 1-based
/// line number (for JSON inputs, the line where the value starts).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Origin {
    /// Shared by every entry of one input: a million lines make a million
    /// origins, not a million copies of the file name.
    pub source: Arc<str>,
    pub line: usize,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.source, self.line)
    }
}

/// A line (or JSON value) that did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub origin: Origin,
    /// The offending text, as it stands in the input (trimmed, at most 200
    /// characters).
    pub text: String,
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} (`{}`)", self.origin, self.reason, self.text)
    }
}

/// One published range, with the feed's labels for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEntry {
    pub net: IpNet,
    pub origin: Origin,
    /// The feed's service / tag name (`AMAZON`, `AzureCloud.westeurope`,
    /// GitHub's `hooks`, GCP's `service`), when it has one.
    pub service: Option<String>,
    /// The feed's region / scope, when it has one.
    pub region: Option<String>,
}

/// A parsed published feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The format it was read as.
    pub format: FeedFormat,
    /// The feed's own version stamp: (`syncToken`, "1706…"),
    /// (`createDate`, …), (`changeNumber`, …), (`creationTime`, …).
    pub version: Option<(String, String)>,
    pub entries: Vec<PublishedEntry>,
}

/// The published feed formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// One CIDR or address a line, `#` comments.
    Cidr,
    /// AWS `ip-ranges.json`.
    Aws,
    /// Azure Service Tags JSON.
    Azure,
    /// GCP `cloud.json` / `goog.json`.
    Gcp,
    /// GitHub `meta` API.
    Github,
    /// Atlassian `ip-ranges.json`.
    Atlassian,
}

impl FeedFormat {
    pub const ALL: &'static [FeedFormat] = &[
        FeedFormat::Cidr,
        FeedFormat::Aws,
        FeedFormat::Azure,
        FeedFormat::Gcp,
        FeedFormat::Github,
        FeedFormat::Atlassian,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FeedFormat::Cidr => "cidr",
            FeedFormat::Aws => "aws",
            FeedFormat::Azure => "azure",
            FeedFormat::Gcp => "gcp",
            FeedFormat::Github => "github",
            FeedFormat::Atlassian => "atlassian",
        }
    }
}

/// Filters on a feed's labels (`--service`, `--region`): an entry is kept
/// when it matches any value given for each filter (case-insensitive).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    pub services: Vec<String>,
    pub regions: Vec<String>,
}

/// Which end of a firewall rule is the remote side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    /// Outbound: the destination address is the vendor's (default).
    #[default]
    Egress,
    /// Inbound: the source address is the vendor's.
    Ingress,
}

/// An inclusive port range a rule allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PortRange {
    pub first: u16,
    pub last: u16,
}

/// Port ranges as one canonical set: each range ordered, sorted, and
/// overlapping or adjacent ranges merged, so equal sets compare equal.
pub fn normalize_ports(ranges: &[PortRange]) -> Vec<PortRange> {
    let mut v: Vec<PortRange> = ranges
        .iter()
        .map(|r| PortRange {
            first: r.first.min(r.last),
            last: r.first.max(r.last),
        })
        .collect();
    v.sort_unstable();
    let mut out: Vec<PortRange> = Vec::with_capacity(v.len());
    for r in v {
        match out.last_mut() {
            Some(prev) if u32::from(r.first) <= u32::from(prev.last) + 1 => {
                prev.last = prev.last.max(r.last);
            }
            _ => out.push(r),
        }
    }
    out
}

/// What an allowlist entry allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowTarget {
    Net(IpNet),
    /// `host.example.com`, or `*.example.com` for every subdomain.
    Fqdn(String),
}

/// One allowlist entry (a line of a list, one address of a firewall rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowEntry {
    pub target: AllowTarget,
    pub origin: Origin,
    /// Ports the rule allows; `None` means every port (or not stated).
    pub ports: Option<Vec<PortRange>>,
    /// Protocol the rule allows (`tcp`, `udp`, …); `None` means any.
    pub protocol: Option<String>,
}

/// The allowlist formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AllowlistFormat {
    /// One CIDR, address, FQDN or `*.domain` a line.
    Cidr,
    /// `iptables-save` / `ip6tables-save` output.
    Iptables,
    /// `nft -j list ruleset`.
    NftJson,
    /// AWS `describe-security-groups` JSON.
    AwsSg,
}

impl AllowlistFormat {
    pub const ALL: &'static [AllowlistFormat] = &[
        AllowlistFormat::Cidr,
        AllowlistFormat::Iptables,
        AllowlistFormat::NftJson,
        AllowlistFormat::AwsSg,
    ];

    pub fn name(self) -> &'static str {
        match self {
            AllowlistFormat::Cidr => "cidr",
            AllowlistFormat::Iptables => "iptables",
            AllowlistFormat::NftJson => "nft-json",
            AllowlistFormat::AwsSg => "aws-sg",
        }
    }
}

/// A parsed allowlist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    pub format: AllowlistFormat,
    pub entries: Vec<AllowEntry>,
}
