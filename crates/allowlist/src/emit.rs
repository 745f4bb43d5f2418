//! The fix as firewall input: the published ranges an allowlist does not
//! cover, as lines to add in the syntax of the user's firewall (`reach
//! allowlist --emit FORMAT`). Pure: it renders what a report's details
//! hold.
//!
//! Each CIDR is written once: where a feed lists a range under several
//! service/region groups, the first group (in the report's order) has it,
//! and a later one says what it shares with those above. Families are
//! apart, IPv4 first: iptables takes the IPv4 block and ip6tables the
//! IPv6 one; nft writes `ip` or `ip6` matches for an `inet` table;
//! `aws-sg` puts them in `IpRanges` and `Ipv6Ranges`.
//!
//! ```
//! use reach_allowlist::Direction;
//! use reach_allowlist::emit::{Additions, EmitFormat, Group, render};
//!
//! let additions = Additions {
//!     tool: "reach 1.0".to_owned(),
//!     feed: "ip-ranges.json (aws)".to_owned(),
//!     direction: Direction::Egress,
//!     port: Some(443),
//!     groups: vec![Group {
//!         label: Some("AMAZON eu-west-1".to_owned()),
//!         cidrs: vec!["198.51.100.192/26".parse().unwrap()],
//!     }],
//! };
//! let rules = render(EmitFormat::Iptables, &additions);
//! assert!(rules.contains("-A OUTPUT -d 198.51.100.192/26 -p tcp --dport 443 -j ACCEPT\n"));
//! ```

use std::fmt::Write as _;
use std::str::FromStr;

use ipnet::IpNet;
use reach_report::allowlist::{AllowlistDetails, AllowlistDiffDetails, Input};

use crate::model::Direction;
use crate::read::UnknownName;
use crate::set::IpSet;

/// How the CIDRs of a feed without labels, or of no label, are headed.
pub const NO_GROUP: &str = "(no service or region)";

/// The syntaxes `--emit` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmitFormat {
    /// One CIDR a line.
    Cidr,
    /// `iptables` / `ip6tables` rule specifications (`-A OUTPUT …`).
    Iptables,
    /// `nft` commands for an `inet filter` table.
    Nft,
    /// The `--ip-permissions` JSON of `aws ec2
    /// authorize-security-group-egress` (or `-ingress`).
    AwsSg,
}

impl EmitFormat {
    pub const ALL: &'static [EmitFormat] = &[
        EmitFormat::Cidr,
        EmitFormat::Iptables,
        EmitFormat::Nft,
        EmitFormat::AwsSg,
    ];

    pub fn name(self) -> &'static str {
        match self {
            EmitFormat::Cidr => "cidr",
            EmitFormat::Iptables => "iptables",
            EmitFormat::Nft => "nft",
            EmitFormat::AwsSg => "aws-sg",
        }
    }
}

impl FromStr for EmitFormat {
    type Err = UnknownName;
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        crate::read::by_name("output syntax", EmitFormat::ALL, EmitFormat::name, name)
    }
}

/// The CIDRs of one service/region group of the feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// `AMAZON eu-west-1`; `None` for a feed without labels.
    pub label: Option<String>,
    pub cidrs: Vec<IpNet>,
}

/// What to add, and for which traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Additions {
    /// Who generated it: `reach 1.4.0`.
    pub tool: String,
    /// The feed(s) the ranges come from, as a comment names them.
    pub feed: String,
    pub direction: Direction,
    /// The port the rules allow; `None`: every TCP port.
    pub port: Option<u16>,
    pub groups: Vec<Group>,
}

/// A group's name: its service and region, whichever the feed gives.
pub fn group_label(service: Option<&str>, region: Option<&str>) -> Option<String> {
    match (service, region) {
        (Some(s), Some(r)) => Some(format!("{s} {r}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

/// `ip-ranges.json (aws, syncToken=1700000000)`, inputs joined by `, `.
fn inputs(list: &[&Input]) -> String {
    list.iter()
        .map(|i| i.label())
        .collect::<Vec<_>>()
        .join(", ")
}

impl Additions {
    /// The uncovered ranges of a coverage: by the feed's groups, then any
    /// uncovered range no group holds (none, when the report is whole).
    pub fn from_coverage(tool: String, d: &AllowlistDetails) -> Additions {
        let mut groups: Vec<Group> = d
            .gaps
            .iter()
            .map(|g| Group {
                label: group_label(g.service.as_deref(), g.region.as_deref()),
                cidrs: crate::readable::nets(&g.cidrs),
            })
            .collect();
        let grouped = IpSet::from_nets(groups.iter().flat_map(|g| g.cidrs.iter().copied()));
        let rest = IpSet::from_nets(crate::readable::nets(&d.uncovered)).difference(&grouped);
        if !rest.is_empty() {
            groups.push(Group {
                label: None,
                cidrs: rest.to_cidrs(),
            });
        }
        Additions {
            tool,
            feed: inputs(&d.published.iter().collect::<Vec<_>>()),
            direction: Direction::from_str(&d.direction).unwrap_or_default(),
            port: d.port,
            groups,
        }
    }

    /// The ranges a vendor added that the allowlist does not cover (all
    /// the added ones when no allowlist was given).
    pub fn from_diff(
        tool: String,
        d: &AllowlistDiffDetails,
        direction: Direction,
        port: Option<u16>,
    ) -> Additions {
        let cidrs = crate::readable::nets(d.added_uncovered.as_ref().unwrap_or(&d.added));
        Additions {
            tool,
            feed: format!("{} → {}", inputs(&[&d.old]), inputs(&[&d.new])),
            direction,
            port,
            groups: vec![Group {
                label: Some("added since the old snapshot".to_owned()),
                cidrs,
            }],
        }
    }

    /// The groups with each CIDR once: a group keeps what no group before
    /// it has; `shared` are its CIDRs a group above holds whole.
    fn distinct(&self) -> Vec<Distinct<'_>> {
        let mut seen = IpSet::new();
        self.groups
            .iter()
            .map(|g| {
                let set = IpSet::from_nets(g.cidrs.iter().copied());
                let own = set.difference(&seen);
                let cidrs = if own == set {
                    g.cidrs.clone()
                } else {
                    own.to_cidrs()
                };
                seen = seen.union(&own);
                Distinct {
                    label: g.label.as_deref(),
                    shared: g
                        .cidrs
                        .iter()
                        .filter(|c| !own.intersects_net(c))
                        .copied()
                        .collect(),
                    cidrs,
                }
            })
            .collect()
    }
}

/// A group once its CIDRs listed by a group above are taken out.
struct Distinct<'a> {
    label: Option<&'a str>,
    cidrs: Vec<IpNet>,
    /// CIDRs of the group that a group above already holds whole.
    shared: Vec<IpNet>,
}

/// The additions in `format`, ready to apply or to review.
pub fn render(format: EmitFormat, additions: &Additions) -> String {
    match format {
        EmitFormat::AwsSg => aws_sg(additions),
        text => lines(text, additions),
    }
}

/// One rule (or CIDR) for `net`.
fn line(format: EmitFormat, a: &Additions, net: &IpNet) -> String {
    let v6 = matches!(net, IpNet::V6(_));
    let net = crate::text::cidr_string(net);
    let ingress = a.direction == Direction::Ingress;
    match format {
        EmitFormat::Iptables => {
            let (chain, side) = if ingress {
                ("INPUT", "-s")
            } else {
                ("OUTPUT", "-d")
            };
            let port = a.port.map_or_else(String::new, |p| format!(" --dport {p}"));
            format!("-A {chain} {side} {net} -p tcp{port} -j ACCEPT")
        }
        EmitFormat::Nft => {
            let (chain, side) = if ingress {
                ("input", "saddr")
            } else {
                ("output", "daddr")
            };
            let family = if v6 { "ip6" } else { "ip" };
            let tcp = a.port.map_or_else(
                || "meta l4proto tcp".to_owned(),
                |p| format!("tcp dport {p}"),
            );
            format!("add rule inet filter {chain} {family} {side} {net} {tcp} accept")
        }
        EmitFormat::Cidr | EmitFormat::AwsSg => net,
    }
}

/// The text formats: a comment header, then per family, per group, a line
/// per CIDR.
fn lines(format: EmitFormat, a: &Additions) -> String {
    let mut out = header(format, a);
    let groups = a.distinct();
    let total: usize = groups.iter().map(|g| g.cidrs.len()).sum();
    if total == 0 {
        out.push_str("# Nothing to add: no range is left uncovered.\n");
        return out;
    }
    for (v6, family) in [(false, "IPv4"), (true, "IPv6")] {
        let of_family = |nets: &[IpNet]| -> Vec<IpNet> {
            nets.iter()
                .filter(|n| matches!(n, IpNet::V6(_)) == v6)
                .copied()
                .collect()
        };
        let count: usize = groups.iter().map(|g| of_family(&g.cidrs).len()).sum();
        if count == 0 {
            continue;
        }
        let cidrs = |n: usize| reach_report::count(n as u64, "CIDR", "CIDRs");
        let tool = match (format, v6) {
            (EmitFormat::Iptables, false) => ", for iptables",
            (EmitFormat::Iptables, true) => ", for ip6tables",
            _ => "",
        };
        let _ = writeln!(out, "\n# {family}: {}{tool}", cidrs(count));
        for g in &groups {
            let (nets, shared) = (of_family(&g.cidrs), of_family(&g.shared).len());
            if nets.is_empty() && shared == 0 {
                continue;
            }
            let mut comment = g.label.unwrap_or(NO_GROUP).to_owned();
            if shared > 0 {
                let _ = write!(comment, " (and {} listed above)", cidrs(shared));
            }
            let _ = writeln!(out, "# {comment}");
            for net in &nets {
                let _ = writeln!(out, "{}", line(format, a, net));
            }
        }
    }
    out
}

/// Who made it, from what, and for which traffic.
fn header(format: EmitFormat, a: &Additions) -> String {
    let mut out = String::new();
    let what = match format {
        EmitFormat::Cidr => "as CIDRs",
        EmitFormat::Iptables => "as iptables rules",
        EmitFormat::Nft => "as nft rules (table inet filter)",
        EmitFormat::AwsSg => "",
    };
    let _ = writeln!(
        out,
        "# Generated by {}: the published ranges the allowlist does not cover, {what}.",
        a.tool
    );
    let _ = writeln!(out, "# Feed: {}", a.feed);
    let side = match a.direction {
        Direction::Egress => "egress: the vendor is the destination",
        Direction::Ingress => "ingress: the vendor is the source",
    };
    let _ = writeln!(out, "# Direction: {side}");
    match a.port {
        Some(port) => {
            let _ = writeln!(out, "# Port: TCP {port}");
        }
        None if format == EmitFormat::Cidr => {}
        None => {
            let _ = writeln!(
                out,
                "# Port: none given (--port): the rules match TCP to every port"
            );
        }
    }
    match format {
        EmitFormat::Iptables => {
            let _ = writeln!(
                out,
                "# Rule specifications: the IPv4 block for iptables, the IPv6 block for \
                 ip6tables (`iptables LINE`, or between *filter and COMMIT for \
                 `iptables-restore --noflush`)."
            );
        }
        EmitFormat::Nft => {
            let _ = writeln!(
                out,
                "# For `nft -f FILE`: the table inet filter and its chain must exist."
            );
        }
        EmitFormat::Cidr | EmitFormat::AwsSg => {}
    }
    out
}

/// What AWS accepts in a rule's description: at most 255 of
/// `a-zA-Z0-9. _-:/()#,@[]+=&;{}!$*`; any other character becomes `_`.
fn aws_description(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " ._-:/()#,@[]+=&;{}!$*".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(255)
        .collect()
}

/// `[{"IpProtocol": "tcp", "FromPort", "ToPort", "IpRanges",
/// "Ipv6Ranges"}]`: one permission, each range described by its group.
fn aws_sg(a: &Additions) -> String {
    let mut v4 = Vec::new();
    let mut v6 = Vec::new();
    for g in a.distinct() {
        let label = g.label.unwrap_or(NO_GROUP);
        let description = aws_description(&format!("{label} - added by {}", a.tool));
        for net in &g.cidrs {
            let cidr = crate::text::cidr_string(net);
            match net {
                IpNet::V4(_) => v4.push(serde_json::json!({
                    "CidrIp": cidr,
                    "Description": description,
                })),
                IpNet::V6(_) => v6.push(serde_json::json!({
                    "CidrIpv6": cidr,
                    "Description": description,
                })),
            }
        }
    }
    let permissions = if v4.is_empty() && v6.is_empty() {
        Vec::new()
    } else {
        let (from, to) = a.port.map_or((0, u16::MAX), |p| (p, p));
        vec![serde_json::json!({
            "IpProtocol": "tcp",
            "FromPort": from,
            "ToPort": to,
            "IpRanges": v4,
            "Ipv6Ranges": v6,
        })]
    };
    let mut out = serde_json::to_string_pretty(&permissions).unwrap_or_default();
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;
