//! What the three formats share: the rules' model (what a rule's matches
//! say about new TCP connections, [`Matches`]; its protocols, [`Protos`];
//! what earlier blocking rules of a chain take from later accepting ones,
//! [`ChainBlocks`]), the address families a rule tells, port and protocol
//! names, and [`Out`], which collects entries and errors.

use std::collections::HashMap;

use ipnet::IpNet;

use crate::json::{Node, snippet};
use crate::model::{AllowlistBuilder, ParseError, PortRange, clip, origin};
use crate::set::IpSet;

/// Collects entries and errors.
pub(super) struct Out<'a> {
    pub(super) source: &'a str,
    pub(super) list: AllowlistBuilder,
    pub(super) errors: Vec<ParseError>,
    pub(super) blocks: ChainBlocks,
}

impl Out<'_> {
    pub(super) fn error(&mut self, line: usize, text: &str, reason: impl Into<String>) {
        self.errors.push(ParseError {
            origin: origin(self.source, line),
            text: clip(text),
            reason: reason.into(),
        });
    }

    pub(super) fn entry(
        &mut self,
        net: IpNet,
        line: usize,
        ports: Option<&Vec<PortRange>>,
        protocol: Option<&String>,
    ) {
        let rule = self
            .list
            .rule(ports.map(Vec::as_slice), protocol.map(String::as_str));
        self.list.net(net, line, rule);
    }

    /// An accepting rule of `chain` (at `line`, `label` for people) over
    /// `nets` (each with its own line). It counts only when it provably
    /// admits TCP, to the port asked about: otherwise it is listed in
    /// [`Allowlist::not_counted`] with the reason. What earlier blocking
    /// rules of the chain leave of each net becomes entries.
    pub(super) fn accept_rule(
        &mut self,
        chain: &str,
        nets: &[(IpNet, usize)],
        line: usize,
        label: &dyn Fn() -> String,
        m: &Matches,
    ) {
        if let Some(reason) = m.why_not_counted(self.blocks.port) {
            self.list.not_counted(line, label(), reason);
            return;
        }
        let protocol = m.protos.label();
        for &(net, at) in nets {
            self.accept(chain, net, at, m.ports.as_ref(), protocol.as_ref());
        }
    }

    /// An accepting rule of `chain`: what earlier blocking rules of the
    /// chain leave of `net` becomes entries.
    pub(super) fn accept(
        &mut self,
        chain: &str,
        net: IpNet,
        line: usize,
        ports: Option<&Vec<PortRange>>,
        protocol: Option<&String>,
    ) {
        match self.blocks.pass(chain, &net) {
            None => self.entry(net, line, ports, protocol),
            Some((counted, by)) => {
                for piece in &counted {
                    self.entry(*piece, line, ports, protocol);
                }
                self.list.shadowed(net, line, by, counted);
            }
        }
    }
}

/// The protocols a rule's matches allow: `only` these (when a match names
/// them) and `not` these (negated matches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Protos {
    pub(super) only: Option<Vec<String>>,
    pub(super) not: Vec<String>,
}

impl Protos {
    /// A match on these protocol names (`all` / `any` is no constraint).
    pub(super) fn only(&mut self, names: &[&str]) {
        // `all` among them: every protocol.
        let Some(mut names) = names
            .iter()
            .map(|n| protocol_name(n))
            .collect::<Option<Vec<String>>>()
        else {
            return;
        };
        names.sort();
        names.dedup();
        self.only = Some(match self.only.take() {
            Some(have) => have.into_iter().filter(|p| names.contains(p)).collect(),
            None => names,
        });
    }

    /// A negated match on these protocol names (`! -p all` admits
    /// nothing).
    pub(super) fn exclude(&mut self, names: &[&str]) {
        for n in names {
            match protocol_name(n) {
                Some(p) => self.not.push(p),
                None => self.only = Some(Vec::new()),
            }
        }
    }

    pub(super) fn admits_tcp(&self) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|p| p == "tcp"))
            && !self.not.iter().any(|p| p == "tcp")
    }

    /// The protocol recorded on the entries of a counting rule: `tcp` when
    /// a match names protocols (TCP is among them), else any.
    pub(super) fn label(&self) -> Option<String> {
        self.only.as_ref().map(|_| "tcp".to_owned())
    }

    /// Why a rule with these protocols admits no TCP, in words.
    pub(super) fn describe(&self) -> String {
        match &self.only {
            Some(o) if !o.is_empty() => {
                let names: Vec<String> = o.iter().map(|p| protocol_label(p)).collect();
                format!("it admits only {}, not TCP", names.join(" and "))
            }
            Some(_) => "it admits no protocol at all".to_owned(),
            None => "it admits every protocol except TCP".to_owned(),
        }
    }
}

/// A protocol's name as people write it: `UDP`, `ICMPv6`.
pub(super) fn protocol_label(name: &str) -> String {
    match name {
        "icmpv6" => "ICMPv6".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

/// What a rule's matches other than the remote address say about the
/// traffic reach asks about (new TCP connections, to `--port` when given).
#[derive(Debug, Clone, Default)]
pub(super) struct Matches {
    pub(super) protos: Protos,
    /// Destination ports; `None` is every port.
    pub(super) ports: Option<Vec<PortRange>>,
    /// Why an accepting rule with these matches does not count (the first
    /// reason found): a match reach does not evaluate, one that admits
    /// only established connections, an interface, a chain only jumps
    /// reach. A blocking rule ignores it: leaving out a match only widens
    /// what it blocks.
    pub(super) not_counted: Option<String>,
    /// A blocking rule that never meets the traffic asked about (loopback
    /// only, invalid connections only).
    pub(super) never_blocks: bool,
}

impl Matches {
    /// Notes a reason not to count the rule, keeping the first.
    pub(super) fn unknown(&mut self, reason: impl Into<String>) {
        if self.not_counted.is_none() {
            self.not_counted = Some(reason.into());
        }
    }

    /// `None` when an accepting rule with these matches counts for `port`.
    pub(super) fn why_not_counted(&self, port: Option<u16>) -> Option<String> {
        if !self.protos.admits_tcp() {
            return Some(self.protos.describe());
        }
        if let (Some(p), Some(ranges)) = (port, &self.ports)
            && !ranges.iter().any(|r| r.contains(p))
        {
            return Some(if ranges.is_empty() {
                "it admits no port at all".to_owned()
            } else {
                format!(
                    "it admits TCP only to port {}, not to port {p}",
                    ports_text(ranges)
                )
            });
        }
        self.not_counted.clone()
    }

    /// Whether a blocking rule with these matches stops the traffic asked
    /// about: with `--port`, TCP to that port; without, TCP to every port.
    pub(super) fn blocks(&self, port: Option<u16>) -> bool {
        if self.never_blocks || !self.protos.admits_tcp() {
            return false;
        }
        match (port, &self.ports) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(p), Some(ranges)) => ranges.iter().any(|r| r.contains(p)),
        }
    }

    /// A connection-state match (`ct state`, `--ctstate`): an accepting
    /// rule counts only when it admits new connections; a blocking rule
    /// meets the traffic asked about when it matches new or established
    /// ones.
    pub(super) fn states(&mut self, states: &[&str], negated: bool) {
        let has = |s: &str| states.iter().any(|v| v.trim().eq_ignore_ascii_case(s));
        if has("new") == negated {
            self.unknown("it admits only established or related connections, not new ones");
        }
        let meets = if negated {
            !(has("new") && has("established"))
        } else {
            has("new") || has("established")
        };
        if !meets {
            self.never_blocks = true;
        }
    }

    /// An outgoing or incoming interface match.
    pub(super) fn interface(&mut self, names: &[&str], negated: bool) {
        let loopback = names == ["lo"];
        if negated && loopback {
            // Every interface but loopback: the vendor's traffic.
            return;
        }
        if loopback {
            self.never_blocks = true;
            self.unknown("it applies only to the loopback interface");
        } else {
            self.unknown(format!(
                "it applies only to traffic {}through interface {} (reach cannot tell which interface the traffic uses)",
                if negated { "not " } else { "" },
                names.join(", ")
            ));
        }
    }
}

/// `22`, `80, 443 and 8000-8080`.
pub(super) fn ports_text(ranges: &[PortRange]) -> String {
    let items: Vec<String> = ranges
        .iter()
        .map(|r| {
            if r.first == r.last {
                r.first.to_string()
            } else {
                format!("{}-{}", r.first, r.last)
            }
        })
        .collect();
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => items.concat(),
    }
}

/// What earlier DROP / REJECT rules of each chain keep from its later
/// ACCEPT rules (the first matching rule wins), for the port asked about.
pub(super) struct ChainBlocks {
    pub(super) port: Option<u16>,
    /// Per chain: the union of its blocking rules so far, and each rule's
    /// addresses with its line.
    pub(super) chains: HashMap<String, (IpSet, Vec<(IpSet, u32)>)>,
}

impl ChainBlocks {
    /// A blocking rule of `chain` over `set`. It counts when it blocks the
    /// traffic asked about ([`Matches::blocks`]): a rule for other ports or
    /// another protocol does not; without `--port`, neither does a rule
    /// for some ports only (the addresses stay reachable on others).
    pub(super) fn block(&mut self, chain: &str, set: IpSet, line: usize, m: &Matches) {
        if !m.blocks(self.port) || set.is_empty() {
            return;
        }
        let (union, rules) = self.chains.entry(chain.to_owned()).or_default();
        *union = union.union(&set);
        rules.push((set, crate::model::line32(line)));
    }

    /// `None` when no earlier blocking rule of `chain` meets `net`; else
    /// what is left of it and the lines of the rules that meet it.
    pub(super) fn pass(&self, chain: &str, net: &IpNet) -> Option<(Vec<IpNet>, Vec<u32>)> {
        let (union, rules) = self.chains.get(chain)?;
        if !union.intersects_net(net) {
            return None;
        }
        let left = IpSet::from_nets([*net]).difference(union);
        let by = rules
            .iter()
            .filter(|(set, _)| set.intersects_net(net))
            .map(|(_, line)| *line)
            .collect();
        Some((left.to_cidrs(), by))
    }
}

/// An address family, when a rule or block tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Families {
    pub(super) v4: bool,
    pub(super) v6: bool,
}

impl Families {
    pub(super) const V4: Families = Families {
        v4: true,
        v6: false,
    };
    pub(super) const V6: Families = Families {
        v4: false,
        v6: true,
    };

    pub(super) fn of(net: &IpNet) -> Families {
        if matches!(net, IpNet::V4(_)) {
            Families::V4
        } else {
            Families::V6
        }
    }

    pub(super) fn union(self, other: Families) -> Families {
        Families {
            v4: self.v4 || other.v4,
            v6: self.v6 || other.v6,
        }
    }

    pub(super) fn is_empty(self) -> bool {
        !self.v4 && !self.v6
    }

    /// `0.0.0.0/0` and/or `::/0`; both when nothing is known.
    pub(super) fn any_nets(self) -> Vec<IpNet> {
        let both = self.is_empty() || (self.v4 && self.v6);
        let mut nets = Vec::new();
        if self.v4 || both {
            nets.push(IpNet::V4(ipnet::Ipv4Net::default()));
        }
        if self.v6 || both {
            nets.push(IpNet::V6(ipnet::Ipv6Net::default()));
        }
        nets
    }
}

// ---------------------------------------------------------------------------
// Ports and protocols.

pub(super) fn port_number(text: &str) -> Result<u16, String> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().map_err(|_| format!("port {t} is above 65535"));
    }
    let known = [
        ("ftp", 21),
        ("ssh", 22),
        ("telnet", 23),
        ("smtp", 25),
        ("domain", 53),
        ("http", 80),
        ("pop3", 110),
        ("ntp", 123),
        ("imap", 143),
        ("imap2", 143),
        ("snmp", 161),
        ("ldap", 389),
        ("https", 443),
        ("submissions", 465),
        ("smtps", 465),
        ("submission", 587),
        ("ldaps", 636),
        ("imaps", 993),
        ("pop3s", 995),
        ("ms-sql-s", 1433),
        ("mysql", 3306),
        ("postgresql", 5432),
        ("http-alt", 8080),
    ];
    known
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(t))
        .map(|&(_, port)| port)
        .ok_or_else(|| format!("`{t}` is not a port"))
}

pub(super) fn port_range(first: u16, last: u16) -> Result<PortRange, String> {
    if first > last {
        Err(format!("port range {first}:{last} is backwards"))
    } else {
        Ok(PortRange { first, last })
    }
}

/// `N`, `N:M`, `:M`, `N:` (and `N-M`), comma-separated.
pub(super) fn parse_port_list(text: &str) -> Result<Vec<PortRange>, String> {
    let mut out = Vec::new();
    for item in text.split(',') {
        let item = item.trim();
        let split = item.split_once(':').or_else(|| item.split_once('-'));
        let range = if let Some((a, b)) = split {
            let first = if a.trim().is_empty() {
                0
            } else {
                port_number(a)?
            };
            let last = if b.trim().is_empty() {
                u16::MAX
            } else {
                port_number(b)?
            };
            port_range(first, last)?
        } else {
            let p = port_number(item)?;
            PortRange { first: p, last: p }
        };
        out.push(range);
    }
    Ok(crate::model::normalize_ports(&out))
}

pub(super) fn complement_ports(ranges: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    let mut next: u32 = 0;
    for r in crate::model::normalize_ports(ranges) {
        if u32::from(r.first) > next {
            out.push(PortRange {
                first: next as u16,
                last: r.first - 1,
            });
        }
        next = u32::from(r.last) + 1;
    }
    if let Ok(first) = u16::try_from(next) {
        out.push(PortRange {
            first,
            last: u16::MAX,
        });
    }
    out
}

pub(super) fn intersect_ports(a: &[PortRange], b: &[PortRange]) -> Vec<PortRange> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let first = x.first.max(y.first);
            let last = x.last.min(y.last);
            if first <= last {
                out.push(PortRange { first, last });
            }
        }
    }
    crate::model::normalize_ports(&out)
}

/// Adds a port constraint to what a rule already has (they intersect).
pub(super) fn constrain_ports(current: &mut Option<Vec<PortRange>>, more: Vec<PortRange>) {
    *current = Some(match current.take() {
        Some(have) => intersect_ports(&have, &more),
        None => more,
    });
}

/// Lower-case protocol name; `None` for "every protocol".
pub(super) fn protocol_name(text: &str) -> Option<String> {
    let t = text.trim().to_ascii_lowercase();
    let name = match t.as_str() {
        "" | "all" | "-1" | "any" => return None,
        "6" => "tcp",
        "17" => "udp",
        "1" => "icmp",
        "58" | "icmpv6" | "ipv6-icmp" => "icmpv6",
        "132" => "sctp",
        other => other,
    };
    Some(name.to_owned())
}

/// Targets that neither accept nor stop a packet: it goes on to the next
/// rule.
pub(super) const NON_TERMINATING: &[&str] = &[
    "LOG",
    "NFLOG",
    "ULOG",
    "MARK",
    "CONNMARK",
    "CLASSIFY",
    "AUDIT",
    "TEE",
    "SET",
    "IDLETIMER",
    "LED",
    "SECMARK",
    "CONNSECMARK",
    "TRACE",
    "CHECKSUM",
    "DSCP",
    "TOS",
    "TTL",
    "HL",
    "NOTRACK",
    "CT",
    "TCPMSS",
    "TCPOPTSTRIP",
    "HMARK",
    "RATEEST",
];

/// Where a value could not be read.
pub(super) struct ValueError {
    pub(super) line: usize,
    pub(super) text: String,
    pub(super) reason: String,
    /// A set reach cannot resolve (not defined, a concatenated type): the
    /// rule does not count, but the input is not broken.
    pub(super) unresolved: bool,
}

impl ValueError {
    pub(super) fn at(node: &Node, reason: impl Into<String>) -> ValueError {
        ValueError {
            line: node.line,
            text: snippet(node),
            reason: reason.into(),
            unresolved: false,
        }
    }

    pub(super) fn unresolved(node: &Node, reason: impl Into<String>) -> ValueError {
        ValueError {
            unresolved: true,
            ..ValueError::at(node, reason)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn port_helpers() {
        assert_eq!(
            parse_port_list("22,80:81,https,1024:").unwrap(),
            [
                PortRange {
                    first: 22,
                    last: 22
                },
                PortRange {
                    first: 80,
                    last: 81
                },
                PortRange {
                    first: 443,
                    last: 443
                },
                PortRange {
                    first: 1024,
                    last: 65535
                },
            ]
        );
        assert!(parse_port_list("90:80").is_err());
        assert!(parse_port_list("").is_err());
        assert_eq!(
            complement_ports(&[PortRange {
                first: 0,
                last: 65535
            }]),
            []
        );
        assert_eq!(
            complement_ports(&[]),
            [PortRange {
                first: 0,
                last: 65535
            }]
        );
    }
}
