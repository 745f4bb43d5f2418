//! Firewall rule sets as allowlists: `iptables-save` / `ip6tables-save`
//! output, `nft -j list ruleset`, and AWS `describe-security-groups` JSON.
//! The plain CIDR list is read by [`crate::text::parse_cidr_allowlist`].
//!
//! Each address an accepting rule allows on the remote side becomes one
//! [`AllowEntry`]: the destination for [`Direction::Egress`], the source for
//! [`Direction::Ingress`]. Its origin is the line of the address (for JSON,
//! the line of the value; for a named nft set, the line of the element).
//!
//! What counts, and what is skipped on purpose (skipping never claims
//! coverage the firewall does not give):
//!
//! - A rule counts only for the traffic it provably admits: new TCP
//!   connections, to `--port` when given ([`Rule::admits_tcp`]). An ICMP
//!   (IPv4 or IPv6) or UDP rule, a rule for other ports, one that negates TCP, and
//!   one that admits only established / related connections count for
//!   nothing. So does a rule with a match reach does not evaluate: an
//!   interface other than loopback, this machine's own address (the source
//!   for egress), a mark, an owner, `--syn`, a source port, a rate limit,
//!   a set it cannot resolve, a concatenation, a verdict map, an unknown
//!   match module or statement. Each such accepting rule is listed in
//!   [`Allowlist::not_counted`] with its reason. Counters, comments and
//!   logging change nothing.
//! - Accepting rules: iptables `-j ACCEPT`, nft rules whose verdict is
//!   `accept`, every security-group permission.
//! - Blocking rules (iptables `-j DROP` / `-j REJECT`, nft `drop` /
//!   `reject`) take what they match out of the *later* accepting rules of
//!   the same chain, since the first matching rule wins; such an accepting
//!   rule is listed in [`Allowlist::shadowed`]. A blocking rule counts when
//!   it stops the traffic asked about: with a port, TCP to that port;
//!   without, TCP to every port. A match reach does not evaluate is left
//!   out of a blocking rule, which only widens what it blocks; only a
//!   loopback interface or a state match without new and established
//!   connections (`ct state invalid drop`) makes it miss the traffic.
//!   `! -d X -j DROP` blocks all but `X`. `-I CHAIN [N]` rules take their
//!   place in the chain.
//! - Jumps are not followed: the rules of a chain without a hook (nft) or
//!   of a user-defined chain (iptables) never count. A jump to a chain
//!   that may drop (a DROP, REJECT, queue or unknown target in it or in a
//!   chain it jumps to), a goto, a RETURN in a built-in chain, a queue and
//!   an unknown target block what they match for the later rules.
//! - An accepting rule that matches the remote address negated (`! -d …`, nft
//!   `!=`) does not count.
//! - Rules in the built-in chains (iptables) or base chains (nft, by hook) of
//!   the other direction are skipped: `INPUT`/`PREROUTING` for egress,
//!   `OUTPUT`/`POSTROUTING` for ingress. `FORWARD` counts both ways. Only
//!   the `filter` table (iptables) and `filter`-type chains of the `ip`,
//!   `ip6` and `inet` families (nft) count. An nft rule whose chain the
//!   input does not list (a hand-written excerpt) is read as in a base
//!   chain.
//! - A rule with no remote address allows every address of its family:
//!   `0.0.0.0/0` and/or `::/0`. The family comes from the rule's other
//!   matches (nft `ip`/`ip6` payloads), the table family (nft), the
//!   `iptables-save` / `ip6tables-save` header comment or the addresses of
//!   the same `*table` block (iptables); when nothing tells, both.
//! - Ports are destination ports (`--dport`, `-m multiport --dports`, nft
//!   `th|tcp|udp dport`, security-group `FromPort`..`ToPort`); a negated port
//!   match becomes its complement; several port matches intersect.
//! - AWS prefix lists (`PrefixListIds`) and group references
//!   (`UserIdGroupPairs`) name no addresses and are skipped; protocol `-1`
//!   is every protocol and port.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use crate::json::{
    Node, Value, first_line, looks_like_json, parse_json_document, snippet, strip_bom,
};
#[cfg(doc)]
use crate::model::Rule;
use crate::model::{
    Allowlist, AllowlistBuilder, AllowlistFormat, Direction, ParseError, PortRange, clip, origin,
};
use crate::set::{IpSet, range_to_cidrs};
use crate::text::{is_iptables_line, parse_cidr};

/// Sniffs an allowlist's format: `nft -j` JSON (an object with an
/// `nftables` array), AWS security groups (an object with a
/// `SecurityGroups` array, or an array of groups), `iptables-save` (a line
/// starting `*table`, `:CHAIN`, `-A ` …); anything else that is not JSON is
/// `Some(AllowlistFormat::Cidr)`. `None` for broken JSON or JSON of another
/// shape.
pub fn detect(input: &str) -> Option<AllowlistFormat> {
    let text = strip_bom(input);
    if looks_like_json(text) {
        let root = crate::json::parse(text).ok()?;
        return detect_json(&root);
    }
    Some(text_format(text))
}

/// iptables-save or a plain list, by the first value lines of `text`.
/// `iptables-save` output announces itself in its first lines (`*filter`,
/// `:INPUT ACCEPT`, `-A …`). Looking no further keeps a million-line CIDR
/// list from being scanned twice; an iptables line further down a list is
/// reported as such by the list parser.
fn text_format(text: &str) -> AllowlistFormat {
    let iptables = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(DETECT_LINES)
        .any(is_iptables_line);
    if iptables {
        AllowlistFormat::Iptables
    } else {
        AllowlistFormat::Cidr
    }
}

/// The format of an allowlist from its first bytes only (a prefix of the
/// file, cut anywhere), for a file too big to hold before deciding how to
/// read it. A JSON document is told by its first character, whatever its
/// line breaks (`nft -j` prints one line): `Some(NftJson)` or
/// `Some(AwsSg)` when its first key says so, `None` for JSON of another or
/// not yet visible shape (read it whole, then [`detect`]). Otherwise the
/// complete lines of the prefix tell iptables-save from a plain list.
pub fn detect_start(prefix: &str) -> Option<AllowlistFormat> {
    let text = strip_bom(prefix);
    if looks_like_json(text) {
        let mut end = text.len().min(4096);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let head = &text[..end];
        let key = |k: &str| head.contains(&format!("\"{k}\""));
        return if key("nftables") {
            Some(AllowlistFormat::NftJson)
        } else if [
            "SecurityGroups",
            "GroupId",
            "IpPermissions",
            "IpPermissionsEgress",
        ]
        .iter()
        .any(|k| key(k))
        {
            Some(AllowlistFormat::AwsSg)
        } else {
            None
        };
    }
    // Only whole lines: the last may be cut.
    let whole = text.rfind('\n').map_or("", |at| &text[..at]);
    Some(text_format(whole))
}

/// How many value lines [`detect`] reads to tell iptables from a list.
const DETECT_LINES: usize = 32;

/// Parses a firewall rule set into allowlist entries, all of it or nothing:
/// any rule that does not parse makes it an `Err` listing every problem.
///
/// `format` `None` auto-detects among [`AllowlistFormat::Iptables`],
/// [`AllowlistFormat::NftJson`] and [`AllowlistFormat::AwsSg`];
/// `Some(AllowlistFormat::Cidr)` is an error (the CIDR list is
/// [`crate::text::parse_cidr_allowlist`]'s). `direction` picks the remote
/// side of each rule (see the module documentation).
pub fn parse_allowlist_rules(
    source: &str,
    input: &str,
    format: Option<AllowlistFormat>,
    direction: Direction,
    port: Option<u16>,
) -> Result<Allowlist, Vec<ParseError>> {
    let (list, errors) = parse_allowlist_rules_partial(source, input, format, direction, port)?;
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}

/// Like [`parse_allowlist_rules`], for `--lenient`: rules that do not parse
/// are returned beside the allowlist (which holds every entry that did).
/// `Err` only when nothing can be read: invalid JSON, an unknown shape.
pub fn parse_allowlist_rules_partial(
    source: &str,
    input: &str,
    format: Option<AllowlistFormat>,
    direction: Direction,
    port: Option<u16>,
) -> Result<(Allowlist, Vec<ParseError>), Vec<ParseError>> {
    let whole = |reason: String| {
        vec![ParseError {
            origin: origin(source, 1),
            text: clip(first_line(input)),
            reason,
        }]
    };
    let format = match format {
        Some(AllowlistFormat::Cidr) => {
            return Err(whole(
                "the cidr allowlist format is a plain list, not a rule set".to_owned(),
            ));
        }
        Some(f) => f,
        None => match detect(input) {
            Some(
                f @ (AllowlistFormat::Iptables | AllowlistFormat::NftJson | AllowlistFormat::AwsSg),
            ) => f,
            _ if looks_like_json(strip_bom(input)) => {
                // Report invalid JSON as such, with its line.
                parse_json_document(source, input).map_err(|e| vec![e])?;
                return Err(whole(
                    "not a firewall rule set of a known shape (tried iptables, nft-json, aws-sg)"
                        .to_owned(),
                ));
            }
            _ => {
                return Err(whole(
                    "not a firewall rule set of a known shape (tried iptables, nft-json, aws-sg)"
                        .to_owned(),
                ));
            }
        },
    };
    let mut out = Out {
        source,
        list: AllowlistBuilder::new(format, source),
        errors: Vec::new(),
        blocks: ChainBlocks {
            port,
            chains: HashMap::new(),
        },
    };
    match format {
        AllowlistFormat::Iptables => read_iptables(&mut out, strip_bom(input), direction),
        AllowlistFormat::NftJson | AllowlistFormat::AwsSg => {
            let root = parse_json_document(source, input).map_err(|e| vec![e])?;
            let shaped = if format == AllowlistFormat::NftJson {
                read_nft(&mut out, &root, direction)
            } else {
                read_aws_sg(&mut out, &root, direction)
            };
            shaped
                .map_err(|reason| whole(format!("not an {} rule set: {reason}", format.name())))?;
        }
        AllowlistFormat::Cidr => {}
    }
    Ok((out.list.finish(), out.errors))
}

fn detect_json(root: &Node) -> Option<AllowlistFormat> {
    if root.get("nftables").and_then(Node::as_array).is_some() {
        return Some(AllowlistFormat::NftJson);
    }
    if root
        .get("SecurityGroups")
        .and_then(Node::as_array)
        .is_some()
    {
        return Some(AllowlistFormat::AwsSg);
    }
    let groups = root.as_array()?;
    let is_group = |g: &Node| {
        ["GroupId", "IpPermissions", "IpPermissionsEgress"]
            .iter()
            .any(|k| g.get(k).is_some())
    };
    (!groups.is_empty() && groups.iter().all(is_group)).then_some(AllowlistFormat::AwsSg)
}

/// Collects entries and errors.
struct Out<'a> {
    source: &'a str,
    list: AllowlistBuilder,
    errors: Vec<ParseError>,
    blocks: ChainBlocks,
}

impl Out<'_> {
    fn error(&mut self, line: usize, text: &str, reason: impl Into<String>) {
        self.errors.push(ParseError {
            origin: origin(self.source, line),
            text: clip(text),
            reason: reason.into(),
        });
    }

    fn entry(
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
    fn accept_rule(
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
    fn accept(
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
struct Protos {
    only: Option<Vec<String>>,
    not: Vec<String>,
}

impl Protos {
    /// A match on these protocol names (`all` / `any` is no constraint).
    fn only(&mut self, names: &[&str]) {
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
    fn exclude(&mut self, names: &[&str]) {
        for n in names {
            match protocol_name(n) {
                Some(p) => self.not.push(p),
                None => self.only = Some(Vec::new()),
            }
        }
    }

    fn admits_tcp(&self) -> bool {
        self.only
            .as_ref()
            .is_none_or(|o| o.iter().any(|p| p == "tcp"))
            && !self.not.iter().any(|p| p == "tcp")
    }

    /// The protocol recorded on the entries of a counting rule: `tcp` when
    /// a match names protocols (TCP is among them), else any.
    fn label(&self) -> Option<String> {
        self.only.as_ref().map(|_| "tcp".to_owned())
    }

    /// Why a rule with these protocols admits no TCP, in words.
    fn describe(&self) -> String {
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
fn protocol_label(name: &str) -> String {
    match name {
        "icmpv6" => "ICMPv6".to_owned(),
        other => other.to_ascii_uppercase(),
    }
}

/// What a rule's matches other than the remote address say about the
/// traffic reach asks about (new TCP connections, to `--port` when given).
#[derive(Debug, Clone, Default)]
struct Matches {
    protos: Protos,
    /// Destination ports; `None` is every port.
    ports: Option<Vec<PortRange>>,
    /// Why an accepting rule with these matches does not count (the first
    /// reason found): a match reach does not evaluate, one that admits
    /// only established connections, an interface, a chain only jumps
    /// reach. A blocking rule ignores it: leaving out a match only widens
    /// what it blocks.
    not_counted: Option<String>,
    /// A blocking rule that never meets the traffic asked about (loopback
    /// only, invalid connections only).
    never_blocks: bool,
}

impl Matches {
    /// Notes a reason not to count the rule, keeping the first.
    fn unknown(&mut self, reason: impl Into<String>) {
        if self.not_counted.is_none() {
            self.not_counted = Some(reason.into());
        }
    }

    /// `None` when an accepting rule with these matches counts for `port`.
    fn why_not_counted(&self, port: Option<u16>) -> Option<String> {
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
    fn blocks(&self, port: Option<u16>) -> bool {
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
    fn states(&mut self, states: &[&str], negated: bool) {
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
    fn interface(&mut self, names: &[&str], negated: bool) {
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
fn ports_text(ranges: &[PortRange]) -> String {
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
struct ChainBlocks {
    port: Option<u16>,
    /// Per chain: the union of its blocking rules so far, and each rule's
    /// addresses with its line.
    chains: HashMap<String, (IpSet, Vec<(IpSet, u32)>)>,
}

impl ChainBlocks {
    /// A blocking rule of `chain` over `set`. It counts when it blocks the
    /// traffic asked about ([`Matches::blocks`]): a rule for other ports or
    /// another protocol does not; without `--port`, neither does a rule
    /// for some ports only (the addresses stay reachable on others).
    fn block(&mut self, chain: &str, set: IpSet, line: usize, m: &Matches) {
        if !m.blocks(self.port) || set.is_empty() {
            return;
        }
        let (union, rules) = self.chains.entry(chain.to_owned()).or_default();
        *union = union.union(&set);
        rules.push((set, crate::model::line32(line)));
    }

    /// `None` when no earlier blocking rule of `chain` meets `net`; else
    /// what is left of it and the lines of the rules that meet it.
    fn pass(&self, chain: &str, net: &IpNet) -> Option<(Vec<IpNet>, Vec<u32>)> {
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
struct Families {
    v4: bool,
    v6: bool,
}

impl Families {
    const V4: Families = Families {
        v4: true,
        v6: false,
    };
    const V6: Families = Families {
        v4: false,
        v6: true,
    };

    fn of(net: &IpNet) -> Families {
        if matches!(net, IpNet::V4(_)) {
            Families::V4
        } else {
            Families::V6
        }
    }

    fn union(self, other: Families) -> Families {
        Families {
            v4: self.v4 || other.v4,
            v6: self.v6 || other.v6,
        }
    }

    fn is_empty(self) -> bool {
        !self.v4 && !self.v6
    }

    /// `0.0.0.0/0` and/or `::/0`; both when nothing is known.
    fn any_nets(self) -> Vec<IpNet> {
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

fn port_number(text: &str) -> Result<u16, String> {
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

fn port_range(first: u16, last: u16) -> Result<PortRange, String> {
    if first > last {
        Err(format!("port range {first}:{last} is backwards"))
    } else {
        Ok(PortRange { first, last })
    }
}

/// `N`, `N:M`, `:M`, `N:` (and `N-M`), comma-separated.
fn parse_port_list(text: &str) -> Result<Vec<PortRange>, String> {
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

fn complement_ports(ranges: &[PortRange]) -> Vec<PortRange> {
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

fn intersect_ports(a: &[PortRange], b: &[PortRange]) -> Vec<PortRange> {
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
fn constrain_ports(current: &mut Option<Vec<PortRange>>, more: Vec<PortRange>) {
    *current = Some(match current.take() {
        Some(have) => intersect_ports(&have, &more),
        None => more,
    });
}

/// Lower-case protocol name; `None` for "every protocol".
fn protocol_name(text: &str) -> Option<String> {
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

// ---------------------------------------------------------------------------
// Addresses.

/// Addresses that are in both lists (CIDRs either nest or are disjoint).
fn intersect_nets(a: &[(IpNet, usize)], b: &[(IpNet, usize)]) -> Vec<(IpNet, usize)> {
    let mut out = Vec::new();
    for &(x, xl) in a {
        for &(y, yl) in b {
            if x.contains(&y) {
                out.push((y, yl));
            } else if y.contains(&x) {
                out.push((x, xl));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// iptables-save.

#[derive(Debug)]
struct Token {
    text: String,
    quoted: bool,
}

/// Splits a line into words, honouring `"…"` (with `\` escapes) and `'…'`.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(tokens);
        }
        let mut text = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            None => return Err("unterminated `\"` quote".to_owned()),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(e) => text.push(e),
                                None => return Err("unterminated `\"` quote".to_owned()),
                            },
                            Some(other) => text.push(other),
                        }
                    }
                }
                '\'' => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            None => return Err("unterminated `'` quote".to_owned()),
                            Some('\'') => break,
                            Some(other) => text.push(other),
                        }
                    }
                }
                other => text.push(other),
            }
        }
        tokens.push(Token { text, quoted });
    }
}

/// An address in iptables syntax: `ADDR`, `ADDR/LEN`, `ADDR/NETMASK`.
fn parse_ipt_addr(text: &str) -> Result<IpNet, String> {
    if let Some((addr, mask)) = text.split_once('/')
        && (mask.contains('.') || (mask.contains(':') && addr.contains(':')))
    {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IP address"))?;
        let mask: IpAddr = mask
            .parse()
            .map_err(|_| format!("`{mask}` is not a netmask"))?;
        let len = match (ip, mask) {
            (IpAddr::V4(_), IpAddr::V4(m)) => contiguous(u128::from(u32::from(m)) << 96),
            (IpAddr::V6(_), IpAddr::V6(m)) => contiguous(u128::from(m)),
            _ => None,
        }
        .ok_or_else(|| format!("`{mask}` is not a contiguous netmask"))?;
        return IpNet::new(ip, len)
            .map(|n| n.trunc())
            .map_err(|e| e.to_string());
    }
    parse_cidr(text)
}

/// The prefix length of a left-aligned contiguous mask.
fn contiguous(mask: u128) -> Option<u8> {
    let ones = mask.leading_ones();
    (mask.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// An option and whether it was negated.
#[derive(Debug, Default, Clone)]
struct Opt {
    value: String,
    negated: bool,
}

#[derive(Debug, Default)]
struct IptRule {
    chain: String,
    table: Option<String>,
    source: Option<Opt>,
    destination: Option<Opt>,
    protocol: Option<Opt>,
    dports: Vec<Opt>,
    target: Option<String>,
    /// `-g CHAIN` rather than `-j CHAIN`.
    goto: bool,
    in_iface: Option<Opt>,
    out_iface: Option<Opt>,
    states: Vec<Opt>,
    /// Matches reach does not evaluate, as people would name them.
    unknown: Vec<String>,
    /// `-I CHAIN [N]`: the 0-based position it is inserted at.
    insert: Option<usize>,
}

/// Match modules whose options reach reads (or that only name the
/// protocol, or only comment).
const KNOWN_MODULES: &[&str] = &[
    "tcp",
    "udp",
    "sctp",
    "multiport",
    "state",
    "conntrack",
    "comment",
    "icmp",
    "icmp6",
];

/// Options that change nothing about what a rule admits: counters, the
/// comment, ICMP types (the rule is not TCP anyway).
const HARMLESS_OPTIONS: &[&str] = &["-c", "--set-counters", "--icmp-type", "--icmpv6-type"];

/// Parses the words of an `-A CHAIN …` / `-I CHAIN [N] …` rule.
fn parse_ipt_rule(tokens: &[Token]) -> Result<IptRule, String> {
    let mut rule = IptRule::default();
    let insert = matches!(
        tokens.first().map(|t| t.text.as_str()),
        Some("-I" | "--insert")
    );
    let chain = tokens.get(1).ok_or("missing chain name")?;
    if chain.text.starts_with('-') && !chain.quoted {
        return Err("missing chain name".to_owned());
    }
    chain.text.clone_into(&mut rule.chain);
    let mut i = 2;
    if insert {
        rule.insert = Some(0);
        if let Some(n) = tokens.get(2).and_then(|t| t.text.parse::<usize>().ok()) {
            rule.insert = Some(n.saturating_sub(1));
            i = 3;
        }
    }
    let mut negated = false;
    while let Some(token) = tokens.get(i) {
        i += 1;
        if token.quoted || !token.text.starts_with('-') {
            negated = !token.quoted && token.text == "!";
            continue;
        }
        let name = token.text.as_str();
        let takes_value = matches!(
            name,
            "-s" | "--source"
                | "--src"
                | "-d"
                | "--destination"
                | "--dst"
                | "-p"
                | "--protocol"
                | "--dport"
                | "--destination-port"
                | "--dports"
                | "--destination-ports"
                | "--ports"
                | "-j"
                | "--jump"
                | "-g"
                | "--goto"
                | "-i"
                | "--in-interface"
                | "-o"
                | "--out-interface"
                | "--state"
                | "--ctstate"
                | "-t"
                | "--table"
                | "-m"
                | "--match"
                | "--comment"
        );
        if !takes_value {
            // An option we do not model; its values are skipped as words.
            // After the target, options are the target's (`--reject-with`,
            // `--log-prefix`): they change nothing about what is matched.
            if rule.target.is_none() && !HARMLESS_OPTIONS.contains(&name) {
                rule.unknown
                    .push(format!("`{}{name}`", if negated { "! " } else { "" }));
            }
            negated = false;
            continue;
        }
        let mut value = tokens
            .get(i)
            .ok_or_else(|| format!("`{name}` needs a value"))?;
        i += 1;
        if !value.quoted && value.text == "!" {
            // Old syntax: `-s ! ADDR`.
            negated = true;
            value = tokens
                .get(i)
                .ok_or_else(|| format!("`{name}` needs a value"))?;
            i += 1;
        }
        let opt = Opt {
            value: value.text.clone(),
            negated,
        };
        negated = false;
        match name {
            "-s" | "--source" | "--src" => rule.source = Some(opt),
            "-d" | "--destination" | "--dst" => rule.destination = Some(opt),
            "-p" | "--protocol" => rule.protocol = Some(opt),
            "-j" | "--jump" => rule.target = Some(opt.value),
            "-g" | "--goto" => {
                rule.target = Some(opt.value);
                rule.goto = true;
            }
            "-i" | "--in-interface" => rule.in_iface = Some(opt),
            "-o" | "--out-interface" => rule.out_iface = Some(opt),
            "--state" | "--ctstate" => rule.states.push(opt),
            "-t" | "--table" => rule.table = Some(opt.value),
            "-m" | "--match" => {
                if !KNOWN_MODULES.contains(&opt.value.as_str()) {
                    rule.unknown
                        .push(format!("the `{}` match module", opt.value));
                }
            }
            "--comment" => {}
            _ => rule.dports.push(opt),
        }
    }
    Ok(rule)
}

/// A parsed rule with a target, before its family is known.
struct IptVerdict {
    line: usize,
    verdict: Verdict,
    /// The chain as written.
    chain_name: String,
    /// The chain, told apart per `*table` block.
    chain: String,
    insert: Option<usize>,
    block: usize,
    family: Families,
}

/// Whether a rule lets traffic through or stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Accept,
    /// DROP / REJECT: what it matches never reaches later rules.
    Block,
    /// Any other target: a user chain, `RETURN`, `LOG`, `QUEUE` …; for
    /// `goto`, the calling chain is left for good.
    Target {
        name: String,
        goto: bool,
    },
}

/// What a rule matches on the remote side, and what it does with it.
struct Verdict {
    action: Action,
    /// Empty means every address.
    nets: Vec<IpNet>,
    /// The addresses are negated (`! -d …`): only blocking rules keep that.
    negated: bool,
    /// Everything else it matches.
    matches: Matches,
}

impl Verdict {
    /// The remote addresses it matches, given the family of the rule
    /// when it names none.
    fn addresses(&self, family: Families) -> IpSet {
        if self.nets.is_empty() {
            return IpSet::from_nets(family.any_nets());
        }
        let nets = IpSet::from_nets(self.nets.iter().copied());
        if self.negated {
            let families = self
                .nets
                .iter()
                .fold(Families::default(), |f, n| f.union(Families::of(n)));
            IpSet::from_nets(families.any_nets()).difference(&nets)
        } else {
            nets
        }
    }
}

/// Targets that neither accept nor stop a packet: it goes on to the next
/// rule.
const NON_TERMINATING: &[&str] = &[
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

/// The built-in chains whose rules decide the traffic of `direction`.
fn ipt_counted_chains(direction: Direction) -> [&'static str; 3] {
    match direction {
        Direction::Egress => ["OUTPUT", "FORWARD", "POSTROUTING"],
        Direction::Ingress => ["INPUT", "FORWARD", "PREROUTING"],
    }
}

/// What one `-A` line means for the allowlist: `None` when it has no
/// target or is in a table or chain that does not count.
fn interpret_ipt_rule(
    rule: &IptRule,
    direction: Direction,
    seen: &mut Families,
) -> Result<Option<Verdict>, String> {
    // Parse everything first, so malformed rules are reported whatever
    // their target.
    let parse_addrs = |opt: &Option<Opt>| -> Result<Vec<IpNet>, String> {
        match opt {
            Some(o) => o
                .value
                .split(',')
                .map(|a| parse_ipt_addr(a.trim()))
                .collect(),
            None => Ok(Vec::new()),
        }
    };
    let sources = parse_addrs(&rule.source)?;
    let destinations = parse_addrs(&rule.destination)?;
    for net in sources.iter().chain(&destinations) {
        *seen = seen.union(Families::of(net));
    }
    let mut m = Matches::default();
    for d in &rule.dports {
        let mut list = parse_port_list(&d.value)?;
        if d.negated {
            list = complement_ports(&list);
        }
        constrain_ports(&mut m.ports, list);
    }

    let action = match rule.target.as_deref() {
        Some("ACCEPT") => Action::Accept,
        Some("DROP" | "REJECT") => Action::Block,
        Some(other) => Action::Target {
            name: other.to_owned(),
            goto: rule.goto,
        },
        None => return Ok(None),
    };
    if !matches!(rule.table.as_deref(), None | Some("filter")) {
        return Ok(None);
    }
    let wrong_chains = match direction {
        Direction::Egress => ["INPUT", "PREROUTING"],
        Direction::Ingress => ["OUTPUT", "POSTROUTING"],
    };
    if wrong_chains.contains(&rule.chain.as_str()) {
        return Ok(None);
    }
    let (remote, nets, local, local_nets, local_flag) = match direction {
        Direction::Egress => (&rule.destination, destinations, &rule.source, sources, "-s"),
        Direction::Ingress => (&rule.source, sources, &rule.destination, destinations, "-d"),
    };
    if let Some(p) = &rule.protocol {
        let names: Vec<&str> = p.value.split(',').collect();
        if p.negated {
            m.protos.exclude(&names);
        } else {
            m.protos.only(&names);
        }
    }
    for s in &rule.states {
        let values: Vec<&str> = s.value.split(',').collect();
        m.states(&values, s.negated);
    }
    for iface in [&rule.out_iface, &rule.in_iface].into_iter().flatten() {
        m.interface(&[iface.value.as_str()], iface.negated);
    }
    let negated = remote.as_ref().is_some_and(|o| o.negated);
    if negated {
        m.unknown(
            "it accepts every address except some; reach counts only rules that name the addresses they admit",
        );
    }
    if let Some(l) = local
        && (l.negated || local_nets.iter().any(|n| n.prefix_len() > 0))
    {
        m.unknown(format!(
            "it also matches this machine's own address (`{local_flag} {}`), which reach cannot check",
            l.value
        ));
    }
    if let Some(first) = rule.unknown.first() {
        m.unknown(format!(
            "it matches on {first}, which reach does not evaluate"
        ));
    }
    Ok(Some(Verdict {
        action,
        nets,
        negated,
        matches: m,
    }))
}

fn read_iptables(out: &mut Out<'_>, input: &str, direction: Direction) {
    // Per `*table` block: the family its header comment or addresses tell.
    let mut blocks: Vec<Families> = vec![Families::default()];
    let mut hint = Families::default();
    let mut table: Option<String> = None;
    let mut verdicts: Vec<IptVerdict> = Vec::new();
    // User chains declared (`:NAME - [0:0]`, `-N NAME`), per block.
    let mut declared: HashSet<String> = HashSet::new();

    for (index, raw) in input.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if text.is_empty() || text == "COMMIT" {
            continue;
        }
        if let Some(comment) = text.strip_prefix('#') {
            if comment.contains("ip6tables") {
                hint = Families::V6;
            } else if comment.contains("iptables") {
                hint = Families::V4;
            }
            continue;
        }
        if let Some(name) = text.strip_prefix('*') {
            table = Some(name.trim().to_owned());
            blocks.push(std::mem::take(&mut hint));
            continue;
        }
        if let Some(decl) = text.strip_prefix(':') {
            if let Some(name) = decl.split_whitespace().next() {
                declared.insert(format!("{}/{name}", blocks.len() - 1));
            }
            continue;
        }
        let mut tokens = match tokenize(text) {
            Ok(t) => t,
            Err(reason) => {
                out.error(line, text, reason);
                continue;
            }
        };
        // `iptables-save -c`: `[packets:bytes] -A …`.
        if tokens.first().is_some_and(|t| {
            !t.quoted && t.text.starts_with('[') && t.text.ends_with(']') && t.text.contains(':')
        }) {
            tokens.remove(0);
        }
        // `iptables -A …` as a command line.
        let mut family = Families::default();
        if let Some(first) = tokens.first() {
            let program = first.text.rsplit('/').next().unwrap_or("");
            if program.starts_with("ip6tables") {
                family = Families::V6;
                tokens.remove(0);
            } else if program.starts_with("iptables") {
                family = Families::V4;
                tokens.remove(0);
            }
        }
        let command = tokens.first().map_or("", |t| t.text.as_str());
        match command {
            "-A" | "--append" | "-I" | "--insert" => {}
            "-N" | "--new-chain" => {
                if let Some(name) = tokens.get(1) {
                    declared.insert(format!("{}/{}", blocks.len() - 1, name.text));
                }
                continue;
            }
            "-P" | "--policy" | "-X" | "-F" | "-Z" => continue,
            _ => {
                out.error(line, text, "not an iptables-save line");
                continue;
            }
        }
        let block = blocks.len() - 1;
        let parsed = parse_ipt_rule(&tokens).and_then(|mut rule| {
            if rule.table.is_none() {
                rule.table.clone_from(&table);
            }
            let mut seen = Families::default();
            let verdict = interpret_ipt_rule(&rule, direction, &mut seen);
            if let Some(b) = blocks.last_mut() {
                *b = b.union(seen);
            }
            verdict.map(|v| v.map(|v| (v, rule)))
        });
        match parsed {
            Ok(Some((verdict, rule))) => verdicts.push(IptVerdict {
                line,
                verdict,
                // Chains of one name in different `*table` blocks (an
                // iptables-save and an ip6tables-save) are different.
                chain: format!("{block}/{}", rule.chain),
                chain_name: rule.chain,
                insert: rule.insert,
                block,
                family,
            }),
            Ok(None) => {}
            Err(reason) => out.error(line, text, reason),
        }
    }

    // Rules take effect in chain order, which `-I` changes; iptables-save
    // output has only `-A`, so that is file order.
    let order: Vec<usize> = if verdicts.iter().all(|v| v.insert.is_none()) {
        (0..verdicts.len()).collect()
    } else {
        let mut chains: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut first_seen: Vec<&str> = Vec::new();
        for (i, v) in verdicts.iter().enumerate() {
            let chain = chains.entry(v.chain.as_str()).or_insert_with(|| {
                first_seen.push(v.chain.as_str());
                Vec::new()
            });
            match v.insert {
                Some(at) => chain.insert(at.min(chain.len()), i),
                None => chain.push(i),
            }
        }
        first_seen
            .iter()
            .flat_map(|c| chains.get(c).cloned().unwrap_or_default())
            .collect()
    };
    // What each user chain may do to a packet jumped to it.
    let mut targets: HashMap<&str, Vec<Option<(String, bool)>>> = HashMap::new();
    for v in &verdicts {
        let step = match &v.verdict.action {
            Action::Accept => None,
            Action::Block => Some((String::new(), false)),
            Action::Target { name, goto } => Some((format!("{}/{name}", v.block), *goto)),
        };
        targets.entry(v.chain.as_str()).or_default().push(step);
    }
    let is_chain = |key: &str| declared.contains(key) || targets.contains_key(key);
    let counted = ipt_counted_chains(direction);
    for i in order {
        let Some(v) = verdicts.get(i) else { continue };
        let family = if v.family.is_empty() {
            blocks.get(v.block).copied().unwrap_or_default()
        } else {
            v.family
        };
        let rule = &v.verdict;
        let base = counted.contains(&v.chain_name.as_str());
        let blocks_later = match &rule.action {
            Action::Accept if !base => {
                out.list.not_counted(
                    v.line,
                    format!("chain {}", v.chain_name),
                    format!(
                        "it is in chain {}, which only jumps reach (reach does not follow jumps)",
                        v.chain_name
                    ),
                );
                false
            }
            Action::Accept => {
                let nets: Vec<(IpNet, usize)> = if rule.nets.is_empty() {
                    family.any_nets()
                } else {
                    rule.nets.clone()
                }
                .into_iter()
                .map(|n| (n, v.line))
                .collect();
                let label = || format!("chain {}", v.chain_name);
                out.accept_rule(&v.chain, &nets, v.line, &label, &rule.matches);
                false
            }
            _ if !base => false,
            Action::Block => true,
            Action::Target { name, goto } => {
                let key = format!("{}/{name}", v.block);
                if NON_TERMINATING.contains(&name.as_str()) {
                    false
                } else if is_chain(&key) {
                    // A jump returns what the chain neither accepts nor
                    // stops; a goto never comes back.
                    *goto || ipt_may_stop(&targets, &is_chain, &key, &mut Vec::new())
                } else {
                    // RETURN leaves the built-in chain for its policy;
                    // QUEUE and unknown targets may drop.
                    true
                }
            }
        };
        if blocks_later {
            out.blocks
                .block(&v.chain, rule.addresses(family), v.line, &rule.matches);
        }
    }
}

/// Whether a packet jumped to user chain `key` may be stopped there (or in
/// a chain it jumps to): a DROP, REJECT or unknown target. Loops count as
/// stopping.
fn ipt_may_stop<'a>(
    targets: &'a HashMap<&str, Vec<Option<(String, bool)>>>,
    is_chain: &dyn Fn(&str) -> bool,
    key: &'a str,
    path: &mut Vec<&'a str>,
) -> bool {
    if path.contains(&key) || path.len() > 16 {
        return true;
    }
    let Some(chain) = targets.get(key) else {
        return false;
    };
    path.push(key);
    let stopping = chain.iter().flatten().any(|(target, _)| {
        let name = target.split_once('/').map_or("", |(_, n)| n);
        if target.is_empty() {
            true
        } else if NON_TERMINATING.contains(&name) || name == "RETURN" {
            false
        } else if is_chain(target) {
            ipt_may_stop(targets, is_chain, target, path)
        } else {
            true
        }
    });
    path.pop();
    stopping
}

// ---------------------------------------------------------------------------
// nft -j list ruleset.

type NftKey = (String, String, String);

fn nft_key(obj: &Node, name_key: &str) -> NftKey {
    let s = |k: &str| obj.get(k).and_then(Node::as_str).unwrap_or("").to_owned();
    (s("family"), s("table"), s(name_key))
}

/// Where a value could not be read.
struct ValueError {
    line: usize,
    text: String,
    reason: String,
    /// A set reach cannot resolve (not defined, a concatenated type): the
    /// rule does not count, but the input is not broken.
    unresolved: bool,
}

impl ValueError {
    fn at(node: &Node, reason: impl Into<String>) -> ValueError {
        ValueError {
            line: node.line,
            text: snippet(node),
            reason: reason.into(),
            unresolved: false,
        }
    }

    fn unresolved(node: &Node, reason: impl Into<String>) -> ValueError {
        ValueError {
            unresolved: true,
            ..ValueError::at(node, reason)
        }
    }
}

/// Resolves nft values against the named sets of one table.
struct NftScope<'a> {
    sets: &'a HashMap<NftKey, &'a Node>,
    family: &'a str,
    table: &'a str,
}

impl NftScope<'_> {
    fn set(&self, at: &Node, name: &str) -> Result<&Node, ValueError> {
        let key = (
            self.family.to_owned(),
            self.table.to_owned(),
            name.to_owned(),
        );
        self.sets.get(&key).copied().ok_or_else(|| {
            ValueError::unresolved(
                at,
                format!(
                    "set `@{name}` is not defined in table {} {}",
                    self.family, self.table
                ),
            )
        })
    }

    /// The elements of a named set (an empty set has none).
    fn elements<'n>(&'n self, at: &Node, name: &str) -> Result<&'n [Node], ValueError> {
        let set = self.set(at, name)?;
        if set.get("type").is_some_and(|t| t.as_array().is_some()) {
            return Err(ValueError::unresolved(
                at,
                format!("set `@{name}` has a concatenated type, which reach does not evaluate"),
            ));
        }
        Ok(set.get("elem").and_then(Node::as_array).unwrap_or(&[]))
    }

    fn addresses(
        &self,
        node: &Node,
        out: &mut Vec<(IpNet, usize)>,
        depth: usize,
    ) -> Result<(), ValueError> {
        if depth > 8 {
            return Err(ValueError::at(node, "set nested too deeply"));
        }
        match &node.value {
            Value::String(s) => {
                if let Some(name) = s.strip_prefix('@') {
                    for elem in self.elements(node, name)? {
                        self.addresses(elem, out, depth + 1)?;
                    }
                } else {
                    let net = parse_cidr(s).map_err(|r| ValueError::at(node, r))?;
                    out.push((net, node.line));
                }
            }
            Value::Array(items) => {
                for item in items {
                    self.addresses(item, out, depth + 1)?;
                }
            }
            Value::Object(_) => {
                if let Some(prefix) = node.get("prefix") {
                    let addr = prefix.get("addr").and_then(Node::as_str);
                    let len = prefix.get("len").and_then(Node::as_i64);
                    let (Some(addr), Some(len)) = (addr, len) else {
                        return Err(ValueError::at(node, "prefix needs `addr` and `len`"));
                    };
                    let ip: IpAddr = addr.parse().map_err(|_| {
                        ValueError::at(node, format!("`{addr}` is not an IP address"))
                    })?;
                    let net = u8::try_from(len)
                        .ok()
                        .and_then(|len| IpNet::new(ip, len).ok())
                        .ok_or_else(|| {
                            ValueError::at(node, format!("/{len} is not a prefix length for {ip}"))
                        })?;
                    out.push((net.trunc(), node.line));
                } else if let Some(range) = node.get("range") {
                    let ends: Vec<IpAddr> = range
                        .as_array()
                        .unwrap_or(&[])
                        .iter()
                        .filter_map(|n| n.as_str().and_then(|s| s.parse().ok()))
                        .collect();
                    let [first, last] = ends[..] else {
                        return Err(ValueError::at(node, "range needs two addresses"));
                    };
                    let nets = range_to_cidrs(first, last).map_err(|r| ValueError::at(node, r))?;
                    out.extend(nets.into_iter().map(|n| (n, node.line)));
                } else if let Some(set) = node.get("set") {
                    self.addresses(set, out, depth + 1)?;
                } else if let Some(elem) = node.get("elem") {
                    let val = elem.get("val").unwrap_or(elem);
                    self.addresses(val, out, depth + 1)?;
                } else {
                    return Err(ValueError::at(node, "unsupported address expression"));
                }
            }
            _ => return Err(ValueError::at(node, "expected an address")),
        }
        Ok(())
    }

    fn ports(&self, node: &Node, out: &mut Vec<PortRange>, depth: usize) -> Result<(), ValueError> {
        if depth > 8 {
            return Err(ValueError::at(node, "set nested too deeply"));
        }
        let number = |n: &Node| -> Result<u16, ValueError> {
            match &n.value {
                Value::Number(t) | Value::String(t) => {
                    port_number(t).map_err(|r| ValueError::at(n, r))
                }
                _ => Err(ValueError::at(n, "expected a port")),
            }
        };
        match &node.value {
            Value::String(s) if s.starts_with('@') => {
                let name = s.trim_start_matches('@');
                for elem in self.elements(node, name)? {
                    self.ports(elem, out, depth + 1)?;
                }
            }
            Value::String(_) | Value::Number(_) => {
                let p = number(node)?;
                out.push(PortRange { first: p, last: p });
            }
            Value::Array(items) => {
                for item in items {
                    self.ports(item, out, depth + 1)?;
                }
            }
            Value::Object(_) => {
                if let Some(range) = node.get("range") {
                    let ends = range.as_array().unwrap_or(&[]);
                    let [first, last] = ends else {
                        return Err(ValueError::at(node, "range needs two ports"));
                    };
                    out.push(
                        port_range(number(first)?, number(last)?)
                            .map_err(|r| ValueError::at(node, r))?,
                    );
                } else if let Some(set) = node.get("set") {
                    self.ports(set, out, depth + 1)?;
                } else if let Some(elem) = node.get("elem") {
                    self.ports(elem.get("val").unwrap_or(elem), out, depth + 1)?;
                } else {
                    return Err(ValueError::at(node, "unsupported port expression"));
                }
            }
            _ => return Err(ValueError::at(node, "expected a port")),
        }
        Ok(())
    }
}

/// Strings in a value: `"x"`, `["x","y"]`, `{"set":[…]}`.
fn strings(node: &Node) -> Vec<&str> {
    match &node.value {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items.iter().flat_map(strings).collect(),
        Value::Object(_) => node.get("set").map(strings).unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// A verdict map entry: its keys as strings, the verdict, the chain of a
/// jump or goto.
type VmapEntry = (Vec<String>, String, Option<String>);

/// What an nft rule's expressions add up to.
#[derive(Default)]
struct NftRule {
    /// The first verdict: `accept`, `drop`, `jump`, `vmap` …
    verdict: Option<String>,
    /// The chain a `jump` / `goto` names.
    target: Option<String>,
    /// A `vmap` verdict's entries: the keys as strings, the verdict and
    /// its chain; `None` when the map cannot be read.
    vmap: Option<Vec<VmapEntry>>,
    /// Whether the `vmap` is keyed by the connection state.
    vmap_on_state: bool,
    remote: Vec<Vec<(IpNet, usize)>>,
    /// Negated remote matches (`ip daddr != …`).
    not_remote: Vec<IpNet>,
    family: Families,
    matches: Matches,
}

/// The fields of a rule's remote and local addresses.
#[derive(Clone, Copy)]
struct Fields<'a> {
    remote: &'a str,
    local: &'a str,
}

/// Why a rule using a set reach cannot resolve does not count.
fn unresolved_reason(e: &ValueError) -> String {
    format!("{}, so reach cannot tell what it matches", e.reason)
}

fn nft_match(
    scope: &NftScope<'_>,
    m: &Node,
    fields: Fields<'_>,
    rule: &mut NftRule,
) -> Result<(), ValueError> {
    let op = m.get("op").and_then(Node::as_str).unwrap_or("==");
    let negated = op == "!=";
    let (Some(left), Some(right)) = (m.get("left"), m.get("right")) else {
        rule.matches
            .unknown("it has a match reach cannot read, which reach does not evaluate");
        return Ok(());
    };
    let unknown = |rule: &mut NftRule, what: &str| {
        rule.matches.unknown(format!(
            "it matches on {what}, which reach does not evaluate"
        ));
    };
    if let Some(payload) = left.get("payload") {
        let protocol = payload.get("protocol").and_then(Node::as_str).unwrap_or("");
        let field = payload.get("field").and_then(Node::as_str).unwrap_or("");
        match protocol {
            "ip" | "ip6" => {
                rule.family = rule.family.union(if protocol == "ip" {
                    Families::V4
                } else {
                    Families::V6
                });
                if field == fields.remote {
                    let mut nets = Vec::new();
                    match scope.addresses(right, &mut nets, 0) {
                        Ok(()) => {}
                        Err(e) if e.unresolved => {
                            rule.matches.unknown(unresolved_reason(&e));
                            return Ok(());
                        }
                        Err(e) => return Err(e),
                    }
                    if negated {
                        rule.not_remote.extend(nets.into_iter().map(|(n, _)| n));
                    } else if matches!(op, "==" | "in") {
                        rule.remote.push(nets);
                    } else {
                        return Err(ValueError::at(
                            m,
                            format!("unsupported `{op}` comparison on an address"),
                        ));
                    }
                } else if field == fields.local {
                    rule.matches.unknown(format!(
                        "it also matches this machine's own address (`{protocol} {field}`), which reach cannot check"
                    ));
                } else if matches!(field, "protocol" | "nexthdr") {
                    protocols(rule, right, negated, &format!("`{protocol} {field}`"));
                } else {
                    unknown(rule, &format!("`{protocol} {field}`"));
                }
            }
            "tcp" | "udp" | "sctp" | "dccp" | "udplite" | "th" => {
                if protocol != "th" {
                    rule.matches.protos.only(&[protocol]);
                }
                if field != "dport" {
                    unknown(rule, &format!("`{protocol} {field}`"));
                    return Ok(());
                }
                let mut list = Vec::new();
                match op {
                    "==" | "in" | "!=" => match scope.ports(right, &mut list, 0) {
                        Ok(()) => {}
                        Err(e) if e.unresolved => {
                            rule.matches.unknown(unresolved_reason(&e));
                            return Ok(());
                        }
                        Err(e) => return Err(e),
                    },
                    "<" | "<=" | ">" | ">=" => {
                        let n = right
                            .scalar_text()
                            .ok_or_else(|| ValueError::at(right, "expected a port"))
                            .and_then(|t| port_number(t).map_err(|r| ValueError::at(right, r)))?;
                        let range = match op {
                            "<" if n > 0 => Some((0, n - 1)),
                            "<=" => Some((0, n)),
                            ">" if n < u16::MAX => Some((n + 1, u16::MAX)),
                            ">=" => Some((n, u16::MAX)),
                            _ => None,
                        };
                        list.extend(range.map(|(first, last)| PortRange { first, last }));
                    }
                    _ => {
                        return Err(ValueError::at(
                            m,
                            format!("unsupported `{op}` comparison on a port"),
                        ));
                    }
                }
                let mut list = crate::model::normalize_ports(&list);
                if negated {
                    list = complement_ports(&list);
                }
                constrain_ports(&mut rule.matches.ports, list);
            }
            "" | "ether" | "vlan" | "arp" | "ip6 ext" => {
                unknown(rule, &format!("`{protocol} {field}`"));
            }
            // `icmp type`, `icmpv6 type`, `esp spi` …: the field exists only
            // in that protocol, so the rule is for that protocol alone.
            other => rule.matches.protos.only(&[other]),
        }
    } else if let Some(meta) = left.get("meta") {
        let key = meta.get("key").and_then(Node::as_str).unwrap_or("");
        let values = strings(right);
        match key {
            "l4proto" => protocols(rule, right, negated, "`meta l4proto`"),
            "nfproto" | "protocol" if !negated && !values.is_empty() => {
                for v in values {
                    match v {
                        "ipv4" | "ip" => rule.family = rule.family.union(Families::V4),
                        "ipv6" | "ip6" => rule.family = rule.family.union(Families::V6),
                        _ => {}
                    }
                }
            }
            "oifname" | "iifname" | "oif" | "iif" if !values.is_empty() => {
                rule.matches.interface(&values, negated);
            }
            _ => unknown(rule, &format!("`meta {key}`")),
        }
    } else if let Some(ct) = left.get("ct") {
        let key = ct.get("key").and_then(Node::as_str).unwrap_or("");
        let values = strings(right);
        if key == "state" && !values.is_empty() && matches!(op, "==" | "in" | "!=") {
            rule.matches.states(&values, negated);
        } else {
            unknown(rule, &format!("`ct {key}`"));
        }
    } else if left.get("concat").is_some() {
        unknown(rule, "a concatenation of fields");
    } else {
        let what = left
            .as_object()
            .and_then(|o| o.first())
            .map_or_else(|| "an expression".to_owned(), |(k, _)| format!("`{k}`"));
        unknown(rule, &what);
    }
    Ok(())
}

/// A match on the layer-4 protocol (`meta l4proto`, `ip protocol`,
/// `ip6 nexthdr`).
fn protocols(rule: &mut NftRule, right: &Node, negated: bool, what: &str) {
    let names = strings(right);
    if names.is_empty() {
        rule.matches.unknown(format!(
            "it matches on {what}, which reach does not evaluate"
        ));
    } else if negated {
        rule.matches.protos.exclude(&names);
    } else {
        rule.matches.protos.only(&names);
    }
}

/// Statements that change nothing about what a rule admits.
const NFT_HARMLESS: &[&str] = &[
    "counter",
    "log",
    "mangle",
    "notrack",
    "set",
    "map",
    "flow",
    "dup",
    "ct helper",
    "ct timeout",
    "ct expectation",
    "secmark",
];

/// Reads one rule's expressions. Values that do not parse are errors; a
/// set reach cannot resolve makes the rule not count.
fn nft_rule(
    scope: &NftScope<'_>,
    rule_node: &Node,
    fields: Fields<'_>,
) -> (NftRule, Vec<ValueError>) {
    let mut rule = NftRule::default();
    let mut errors = Vec::new();
    let exprs = rule_node
        .get("expr")
        .and_then(Node::as_array)
        .unwrap_or(&[]);
    for expr in exprs {
        if rule.verdict.is_some() {
            break;
        }
        let Some((kind, body)) = expr.as_object().and_then(|m| m.first()) else {
            continue;
        };
        match kind.as_str() {
            "match" => {
                if let Err(e) = nft_match(scope, body, fields, &mut rule) {
                    errors.push(e);
                }
            }
            "accept" | "drop" | "reject" | "return" | "queue" | "continue" => {
                rule.verdict = Some(kind.clone());
            }
            "jump" | "goto" => {
                rule.verdict = Some(kind.clone());
                rule.target = body.get("target").and_then(Node::as_str).map(str::to_owned);
            }
            "vmap" => {
                rule.verdict = Some(kind.clone());
                rule.vmap_on_state = body
                    .get("key")
                    .and_then(|k| k.get("ct"))
                    .and_then(|c| c.get("key"))
                    .and_then(Node::as_str)
                    == Some("state");
                rule.vmap = body.get("data").and_then(|d| vmap_entries(scope, d));
            }
            "xt" => {
                let name = body.get("name").and_then(Node::as_str).unwrap_or("");
                if body.get("type").and_then(Node::as_str) == Some("target") {
                    if !NON_TERMINATING.contains(&name) {
                        rule.verdict = Some("queue".to_owned());
                    }
                } else {
                    rule.matches.unknown(format!(
                        "it matches on the `{name}` extension, which reach does not evaluate"
                    ));
                }
            }
            k if NFT_HARMLESS.contains(&k) => {}
            other => rule.matches.unknown(format!(
                "its `{other}` statement may let only some packets through, and reach does not evaluate it"
            )),
        }
    }
    (rule, errors)
}

/// The entries of a verdict map: `{"set": [[key, verdict], …]}` or a named
/// map.
fn vmap_entries(scope: &NftScope<'_>, data: &Node) -> Option<Vec<VmapEntry>> {
    let elems = match data.as_str() {
        Some(name) => scope.elements(data, name.strip_prefix('@')?).ok()?,
        None => data.get("set")?.as_array()?,
    };
    elems
        .iter()
        .map(|pair| {
            let pair = pair.get("elem").unwrap_or(pair);
            let [key, verdict] = pair.as_array()? else {
                return None;
            };
            let (kind, body) = verdict.as_object()?.first()?;
            let target = body.get("target").and_then(Node::as_str).map(str::to_owned);
            let keys = strings(key).into_iter().map(str::to_owned).collect();
            Some((keys, kind.clone(), target))
        })
        .collect()
}

/// One step of a chain, for [`nft_may_stop`]: `Some(None)` stops (drop,
/// reject, queue, an unreadable verdict map), `Some(Some(chain))` jumps.
fn nft_steps(rule: &NftRule) -> Vec<Option<String>> {
    match rule.verdict.as_deref() {
        Some("drop" | "reject" | "queue") => vec![None],
        Some("jump" | "goto") => vec![rule.target.clone()],
        Some("vmap") => match &rule.vmap {
            None => vec![None],
            Some(entries) => entries
                .iter()
                .filter_map(|(_, kind, target)| match kind.as_str() {
                    "drop" | "reject" | "queue" => Some(None),
                    "jump" | "goto" => Some(target.clone()),
                    _ => None,
                })
                .collect(),
        },
        _ => Vec::new(),
    }
}

/// Whether a packet jumped to `chain` of a table may be stopped there or in
/// a chain it jumps to. Loops count as stopping.
fn nft_may_stop(steps: &HashMap<NftKey, Vec<Option<String>>>, key: &NftKey, depth: usize) -> bool {
    if depth > 16 {
        return true;
    }
    steps.get(key).is_some_and(|s| {
        s.iter().any(|step| match step {
            None => true,
            Some(chain) => {
                let next = (key.0.clone(), key.1.clone(), chain.clone());
                nft_may_stop(steps, &next, depth + 1)
            }
        })
    })
}

fn read_nft(out: &mut Out<'_>, root: &Node, direction: Direction) -> Result<(), String> {
    let items = root
        .get("nftables")
        .and_then(Node::as_array)
        .ok_or("no `nftables` array")?;
    let mut chains: HashMap<NftKey, &Node> = HashMap::new();
    let mut sets: HashMap<NftKey, &Node> = HashMap::new();
    for item in items {
        if let Some(chain) = item.get("chain") {
            chains.insert(nft_key(chain, "name"), chain);
        }
        if let Some(set) = item.get("set").or_else(|| item.get("map")) {
            sets.insert(nft_key(set, "name"), set);
        }
    }
    let (fields, counted_hooks) = match direction {
        Direction::Egress => (
            Fields {
                remote: "daddr",
                local: "saddr",
            },
            ["output", "forward", "postrouting"],
        ),
        Direction::Ingress => (
            Fields {
                remote: "saddr",
                local: "daddr",
            },
            ["input", "forward", "prerouting"],
        ),
    };
    // Every rule read once: its chain, its reading, its value errors.
    let mut rules = Vec::new();
    let mut jumps: HashMap<NftKey, Vec<Option<String>>> = HashMap::new();
    for item in items {
        let Some(rule_node) = item.get("rule") else {
            continue;
        };
        let key = nft_key(rule_node, "chain");
        if !matches!(key.0.as_str(), "ip" | "ip6" | "inet") {
            continue;
        }
        let scope = NftScope {
            sets: &sets,
            family: &key.0,
            table: &key.1,
        };
        let (rule, errors) = nft_rule(&scope, rule_node, fields);
        jumps
            .entry(key.clone())
            .or_default()
            .extend(nft_steps(&rule));
        rules.push((rule_node, key, rule, errors));
    }
    for (rule_node, key, mut rule, errors) in rules {
        let failed = !errors.is_empty();
        for e in errors {
            out.error(e.line, &e.text, e.reason);
        }
        let (family, table, chain_name) = &key;
        // A base chain (by its hook) decides the traffic; a chain without
        // a hook is reached only by jumps. A rule whose chain is not listed
        // (a hand-written excerpt) is taken as in a base chain.
        let base = match chains.get(&key) {
            Some(chain) => {
                let hook = chain.get("hook").and_then(Node::as_str);
                let kind = chain.get("type").and_then(Node::as_str);
                if kind.is_some_and(|k| k != "filter") {
                    continue;
                }
                match hook {
                    Some(h) if counted_hooks.contains(&h) => true,
                    Some(_) => continue,
                    None => false,
                }
            }
            None => true,
        };
        if failed {
            continue;
        }
        let handle = rule_node.get("handle").and_then(Node::scalar_text);
        let label = || match handle {
            Some(h) => format!("rule handle {h} in chain {family} {table} {chain_name}"),
            None => format!("rule in chain {family} {table} {chain_name}"),
        };
        let line = rule_node.line;
        // What the verdict does: (accepts, stops what it matches).
        let (accepts, stops) = match rule.verdict.as_deref() {
            Some("accept") => (true, false),
            // A goto never comes back.
            Some("drop" | "reject" | "queue" | "goto") => (false, true),
            // RETURN leaves a base chain for its policy.
            Some("return") => (false, base),
            Some("jump") => {
                let target = (
                    family.clone(),
                    table.clone(),
                    rule.target.clone().unwrap_or_default(),
                );
                (false, nft_may_stop(&jumps, &target, 0))
            }
            Some("vmap") => {
                let entries = rule.vmap.clone();
                // On `ct state`, only the entries for new and established
                // connections meet the traffic asked about.
                let meets = |keys: &[String], accept: bool| {
                    !rule.vmap_on_state
                        || keys.iter().any(|k| {
                            k.eq_ignore_ascii_case("new")
                                || (!accept && k.eq_ignore_ascii_case("established"))
                        })
                };
                match entries {
                    None => (false, true),
                    Some(entries) => {
                        let accepts = entries
                            .iter()
                            .any(|(keys, kind, _)| kind == "accept" && meets(keys, true));
                        let blocking = entries.iter().any(|(keys, kind, target)| {
                            meets(keys, false)
                                && match kind.as_str() {
                                    "drop" | "reject" | "queue" | "goto" => true,
                                    "jump" => {
                                        let t = (
                                            family.clone(),
                                            table.clone(),
                                            target.clone().unwrap_or_default(),
                                        );
                                        nft_may_stop(&jumps, &t, 0)
                                    }
                                    _ => false,
                                }
                        });
                        if accepts {
                            rule.matches.unknown(
                                "its verdict comes from a verdict map, which reach does not evaluate",
                            );
                        }
                        (accepts, blocking)
                    }
                }
            }
            _ => (false, false),
        };
        if !base {
            if accepts {
                out.list.not_counted(
                    line,
                    label(),
                    format!(
                        "it is in chain {chain_name}, which only jumps reach (reach does not follow jumps)"
                    ),
                );
            }
            continue;
        }
        let chain_key = format!("{family}/{table}/{chain_name}");
        let rule_family = if rule.family.is_empty() {
            match family.as_str() {
                "ip" => Families::V4,
                "ip6" => Families::V6,
                _ => Families::default(),
            }
        } else {
            rule.family
        };
        let mut remote = rule.remote.into_iter();
        let nets = if let Some(first) = remote.next() {
            remote.fold(first, |acc, next| intersect_nets(&acc, &next))
        } else {
            rule_family
                .any_nets()
                .into_iter()
                .map(|n| (n, line))
                .collect()
        };
        if stops {
            let set = IpSet::from_nets(nets.iter().map(|(n, _)| *n))
                .difference(&IpSet::from_nets(rule.not_remote.iter().copied()));
            out.blocks.block(&chain_key, set, line, &rule.matches);
        }
        if accepts {
            if !rule.not_remote.is_empty() {
                rule.matches.unknown(
                    "it accepts every address except some; reach counts only rules that name the addresses they admit",
                );
            }
            out.accept_rule(&chain_key, &nets, line, &label, &rule.matches);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// AWS describe-security-groups.

fn read_aws_sg(out: &mut Out<'_>, root: &Node, direction: Direction) -> Result<(), String> {
    let groups = root
        .get("SecurityGroups")
        .unwrap_or(root)
        .as_array()
        .ok_or("no `SecurityGroups` array")?;
    let key = match direction {
        Direction::Egress => "IpPermissionsEgress",
        Direction::Ingress => "IpPermissions",
    };
    for group in groups {
        let Some(perms) = group.get(key) else {
            continue;
        };
        let Some(perms) = perms.as_array() else {
            out.error(
                perms.line,
                &snippet(perms),
                format!("`{key}` is not an array"),
            );
            continue;
        };
        for perm in perms {
            let protocol = perm
                .get("IpProtocol")
                .and_then(Node::scalar_text)
                .unwrap_or("-1");
            let protocol = protocol_name(protocol);
            let ports = match protocol.as_deref() {
                Some("tcp" | "udp" | "sctp") => match sg_ports(perm) {
                    Ok(p) => p,
                    Err(e) => {
                        out.error(e.line, &e.text, e.reason);
                        continue;
                    }
                },
                _ => None,
            };
            let mut matches = Matches {
                ports: ports.clone(),
                ..Matches::default()
            };
            if let Some(p) = &protocol {
                matches.protos.only(&[p.as_str()]);
            }
            if let Some(reason) = matches.why_not_counted(out.blocks.port) {
                let id = group.get("GroupId").and_then(Node::as_str).unwrap_or("");
                out.list
                    .not_counted(perm.line, format!("security group {id}"), reason);
                continue;
            }
            for (list, field) in [("IpRanges", "CidrIp"), ("Ipv6Ranges", "CidrIpv6")] {
                let Some(ranges) = perm.get(list) else {
                    continue;
                };
                let Some(ranges) = ranges.as_array() else {
                    out.error(
                        ranges.line,
                        &snippet(ranges),
                        format!("`{list}` is not an array"),
                    );
                    continue;
                };
                for range in ranges {
                    let Some(cidr) = range.get(field) else {
                        out.error(
                            range.line,
                            &snippet(range),
                            format!("entry has no `{field}`"),
                        );
                        continue;
                    };
                    match cidr
                        .as_str()
                        .ok_or_else(|| "expected a CIDR string".to_owned())
                        .and_then(parse_cidr)
                    {
                        Ok(net) => out.entry(net, cidr.line, ports.as_ref(), protocol.as_ref()),
                        Err(reason) => out.error(cidr.line, &snippet(cidr), reason),
                    }
                }
            }
        }
    }
    Ok(())
}

fn sg_ports(perm: &Node) -> Result<Option<Vec<PortRange>>, ValueError> {
    let port = |key: &str| -> Result<Option<u16>, ValueError> {
        match perm.get(key) {
            None => Ok(None),
            Some(n) => n
                .as_i64()
                .and_then(|v| u16::try_from(v).ok())
                .map(Some)
                .ok_or_else(|| ValueError::at(n, format!("`{key}` is not a port"))),
        }
    };
    match (port("FromPort")?, port("ToPort")?) {
        (Some(first), Some(last)) => port_range(first, last)
            .map(|r| Some(vec![r]))
            .map_err(|r| ValueError::at(perm, r)),
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_of_a_file_tells_its_format() {
        // One line, cut long before its end: JSON by its first character.
        let nft = "{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}}, {\"rule\"";
        assert_eq!(detect_start(nft), Some(AllowlistFormat::NftJson));
        let sg = "\u{feff}  {\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPerm";
        assert_eq!(detect_start(sg), Some(AllowlistFormat::AwsSg));
        assert_eq!(detect_start("[{\"GroupId\":"), Some(AllowlistFormat::AwsSg));
        assert_eq!(detect_start("{\"other\": 1"), None);
        // The first 4 KiB may end inside a character.
        let long = format!("{{\"SecurityGroups\": [\"{}é", " ".repeat(4074));
        assert_eq!(detect_start(&long), Some(AllowlistFormat::AwsSg));
        assert_eq!(
            detect_start("*filter\n:INPUT ACCEPT [0:0]\n-A INP"),
            Some(AllowlistFormat::Iptables)
        );
        assert_eq!(
            detect_start("10.0.0.0/8\n192.0.2.0/24\n-A cut"),
            Some(AllowlistFormat::Cidr)
        );
    }

    const IPTABLES: &str = include_str!("../tests/data/iptables-save.txt");
    const NFT: &str = include_str!("../tests/data/nft-ruleset.json");
    const SG: &str = include_str!("../tests/data/aws-sg.json");

    fn show(list: &Allowlist) -> Vec<String> {
        list.entries
            .iter()
            .map(|e| {
                let target = e.net.to_string();
                let rule = list.rule(e.rule);
                let ports = rule.ports.as_ref().map_or("*".to_owned(), |ps| {
                    ps.iter()
                        .map(|p| {
                            if p.first == p.last {
                                p.first.to_string()
                            } else {
                                format!("{}-{}", p.first, p.last)
                            }
                        })
                        .collect::<Vec<_>>()
                        .join(",")
                });
                format!(
                    "{} {} {} @{}",
                    target,
                    rule.protocol.as_deref().unwrap_or("any"),
                    ports,
                    e.at.line
                )
            })
            .collect()
    }

    #[test]
    fn detects_formats() {
        assert_eq!(detect(IPTABLES), Some(AllowlistFormat::Iptables));
        assert_eq!(detect(NFT), Some(AllowlistFormat::NftJson));
        assert_eq!(detect(SG), Some(AllowlistFormat::AwsSg));
        assert_eq!(
            detect("[{\"GroupId\": \"sg-1\"}]"),
            Some(AllowlistFormat::AwsSg)
        );
        assert_eq!(
            detect("10.0.0.0/8\n::1\n*.example.com\n"),
            Some(AllowlistFormat::Cidr)
        );
        assert_eq!(detect("::/0\n"), Some(AllowlistFormat::Cidr));
        let late = format!(
            "{}-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\n",
            "10.0.0.0/8\n".repeat(40)
        );
        assert_eq!(detect(&late), Some(AllowlistFormat::Cidr));
        let (_, errors) = crate::text::parse_cidr_allowlist("a", &late);
        assert!(errors[0].reason.contains("iptables"), "{errors:?}");
        assert_eq!(detect("{\"x\": 1}"), None);
        assert_eq!(detect("{\"nftables\": ["), None);
    }

    /// `line: reason` of each rule that does not count.
    fn skipped(list: &Allowlist) -> Vec<String> {
        list.not_counted
            .iter()
            .map(|n| format!("{}: {}", n.at.line, n.reason))
            .collect()
    }

    fn shadows(list: &Allowlist) -> Vec<String> {
        list.shadowed
            .iter()
            .map(|s| {
                let counted: Vec<String> = s.counted.iter().map(ToString::to_string).collect();
                format!(
                    "{} @{} by {:?}: {}",
                    s.net,
                    s.at.line,
                    s.by,
                    counted.join(" ")
                )
            })
            .collect()
    }

    #[test]
    fn earlier_blocks_override_later_accepts() {
        let input = "*filter\n\
                     -A OUTPUT -d 10.1.0.0/16 -j ACCEPT\n\
                     -A OUTPUT -d 10.0.0.0/8 -j DROP\n\
                     -A OUTPUT -d 10.0.0.0/8 -p tcp --dport 443 -j ACCEPT\n\
                     -A OUTPUT -d 192.0.2.0/24 -p tcp --dport 25 -j REJECT\n\
                     -A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n\
                     -A OUTPUT ! -d 198.51.100.0/24 -j DROP\n\
                     -A OUTPUT -d 198.51.100.128/25 -j ACCEPT\n\
                     -A OUTPUT -d 203.0.113.0/24 -j ACCEPT\n\
                     -A OTHER -d 10.0.0.0/8 -j ACCEPT\n\
                     -A OUTPUT -o lo -j DROP\n\
                     -A OUTPUT -m state --state INVALID -j DROP\n\
                     -A OUTPUT -d 10.0.0.0/8 -j DROP\n\
                     COMMIT\n";
        // Without a port: the DROP of 10/8 (line 3) leaves nothing of the
        // 10/8 accept on line 4; the port-25 REJECT does not block every
        // port; `! -d 198.51.100.0/24 -j DROP` blocks everything else, so
        // line 9 counts nothing; another chain is not affected, and neither
        // is an accept before the block.
        let list = parse_allowlist_rules(
            "r",
            input,
            Some(AllowlistFormat::Iptables),
            Direction::Egress,
            None,
        )
        .unwrap();
        assert_eq!(
            show(&list),
            [
                "10.1.0.0/16 any * @2",
                "192.0.2.0/24 any * @6",
                "198.51.100.128/25 any * @8",
            ]
        );
        // A user chain's rules count only through jumps, which reach does
        // not follow.
        assert_eq!(
            skipped(&list),
            ["10: it is in chain OTHER, which only jumps reach (reach does not follow jumps)"]
        );
        assert_eq!(
            shadows(&list),
            ["10.0.0.0/8 @4 by [3]: ", "203.0.113.0/24 @9 by [7]: ",]
        );
        // For TCP port 25 the REJECT applies too.
        let list = parse_allowlist_rules(
            "r",
            input,
            Some(AllowlistFormat::Iptables),
            Direction::Egress,
            Some(25),
        )
        .unwrap();
        assert!(
            shadows(&list).contains(&"192.0.2.0/24 @6 by [5]: ".to_owned()),
            "{:?}",
            shadows(&list)
        );
        // A block that leaves part of an accept: the rest counts.
        let input = "-A OUTPUT -d 10.0.0.0/9 -j DROP\n-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\n";
        let list = parse_allowlist_rules(
            "r",
            input,
            Some(AllowlistFormat::Iptables),
            Direction::Egress,
            None,
        )
        .unwrap();
        assert_eq!(show(&list), ["10.128.0.0/9 any * @2"]);
        assert_eq!(shadows(&list), ["10.0.0.0/8 @2 by [1]: 10.128.0.0/9"]);
    }

    /// One rule set, the port asked about, what counts, and the reasons
    /// of the rules that do not.
    type Case<'a> = (&'a str, Option<u16>, &'a [&'a str], &'a [&'a str]);

    #[track_caller]
    fn check_cases(format: AllowlistFormat, cases: &[Case<'_>]) {
        for &(input, port, counted, reasons) in cases {
            let list = parse_allowlist_rules("r", input, Some(format), Direction::Egress, port)
                .unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(show(&list), counted, "{input} (port {port:?})");
            let got = skipped(&list);
            assert_eq!(got.len(), reasons.len(), "{input}: {got:?}");
            for (got, want) in got.iter().zip(reasons) {
                assert!(got.contains(want), "{input}: `{got}` lacks `{want}`");
            }
        }
    }

    #[test]
    fn iptables_counts_only_what_admits_tcp() {
        let v4 = "# Generated by iptables-save\n*filter\n:OUTPUT DROP [0:0]\n";
        let case = |rules: &str| format!("{v4}{rules}COMMIT\n");
        let inputs: Vec<String> = [
            "-A OUTPUT -p icmp -j ACCEPT\n",
            "-A OUTPUT -p udp -m udp --dport 443 -j ACCEPT\n",
            "-A OUTPUT -p tcp -m tcp --dport 22 -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -p tcp -m tcp --dport 443 -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -p all -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 ! -p udp -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 ! -p tcp -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -p tcp -m multiport --dports 80,400:500 -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -p tcp -m tcp --dport 1000:2000 -j ACCEPT\n",
            "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -m conntrack ! --ctstate NEW -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -o eth0 -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 ! -o lo -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -m owner --uid-owner 1000 -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -p tcp --syn -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -m set --match-set vendor dst -j ACCEPT\n",
            "[5:300] -A OUTPUT -d 192.0.2.0/24 -m comment --comment \"vendor\" -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/24 -j LOG --log-prefix \"out \"\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
            // A DROP whose match reach does not read still blocks (wider).
            "-A OUTPUT -m owner --uid-owner 0 -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
            // A UDP DROP does not stop TCP; a TCP one does.
            "-A OUTPUT -p udp -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
            "-A OUTPUT ! -p udp -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
            // Invalid-only and loopback DROPs never meet the traffic.
            "-A OUTPUT -m conntrack --ctstate INVALID -j DROP\n-A OUTPUT -o lo -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
            // A jump to a chain that may drop blocks later rules; to one
            // that only accepts, it does not.
            ":CHK - [0:0]\n-A OUTPUT -j CHK\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n-A CHK -d 192.0.2.128/25 -j DROP\n",
            ":OK - [0:0]\n-A OUTPUT -j OK\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n-A OK -d 192.0.2.128/25 -j ACCEPT\n",
            "-A OUTPUT -j NFQUEUE --queue-num 1\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
            "-A OUTPUT -d 192.0.2.0/25 -j RETURN\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
        ]
        .iter()
        .map(|r| case(r))
        .collect();
        let any = "192.0.2.0/24 any * @4";
        let cases: &[Case<'_>] = &[
            (&inputs[0], None, &[], &["4: it admits only ICMP, not TCP"]),
            (
                &inputs[1],
                Some(443),
                &[],
                &["4: it admits only UDP, not TCP"],
            ),
            (
                &inputs[2],
                Some(443),
                &[],
                &["4: it admits TCP only to port 22, not to port 443"],
            ),
            (&inputs[2], None, &["0.0.0.0/0 tcp 22 @4"], &[]),
            (&inputs[3], Some(443), &["192.0.2.0/24 tcp 443 @4"], &[]),
            (
                &inputs[3],
                Some(80),
                &[],
                &["only to port 443, not to port 80"],
            ),
            (&inputs[4], Some(443), &[any], &[]),
            (&inputs[5], Some(443), &[any], &[]),
            (
                &inputs[6],
                Some(443),
                &[],
                &["it admits every protocol except TCP"],
            ),
            (
                &inputs[7],
                Some(443),
                &["192.0.2.0/24 tcp 80,400-500 @4"],
                &[],
            ),
            (
                &inputs[7],
                Some(22),
                &[],
                &["only to port 80 or 400-500, not to port 22"],
            ),
            (
                &inputs[8],
                Some(1500),
                &["192.0.2.0/24 tcp 1000-2000 @4"],
                &[],
            ),
            (&inputs[9], None, &[], &["not new ones"]),
            (&inputs[10], None, &[], &["not new ones"]),
            (&inputs[11], None, &[any], &[]),
            (&inputs[12], None, &[], &["interface eth0"]),
            (&inputs[13], None, &[any], &[]),
            (&inputs[14], None, &[], &["the `owner` match module"]),
            (&inputs[15], None, &[], &["`--syn`"]),
            (&inputs[16], None, &[], &["the `set` match module"]),
            (&inputs[17], None, &[any], &[]),
            (&inputs[18], None, &["192.0.2.0/24 any * @5"], &[]),
            (&inputs[19], None, &[], &[]),
            (&inputs[20], Some(443), &["192.0.2.0/24 any * @5"], &[]),
            (&inputs[21], Some(443), &[], &[]),
            (&inputs[22], Some(443), &["192.0.2.0/24 any * @6"], &[]),
            // Without following the jump, all it may drop is subtracted.
            (&inputs[23], None, &[], &[]),
            (&inputs[24], None, &["192.0.2.0/24 any * @6"], &["chain OK"]),
            (&inputs[25], None, &[], &[]),
            (&inputs[26], None, &["192.0.2.128/25 any * @5"], &[]),
        ];
        check_cases(AllowlistFormat::Iptables, cases);
    }

    #[test]
    fn nft_counts_only_what_admits_tcp() {
        use std::fmt::Write as _;
        // One rule a line, in `inet t out` (hook output), after a set
        // `allowed` of 192.0.2.0/24 and a regular chain `side`.
        let ruleset = |rules: &[&str]| {
            let mut out = String::from(
                "{\"nftables\": [\n\
                 {\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"out\", \"type\": \"filter\", \"hook\": \"output\", \"policy\": \"drop\"}},\n\
                 {\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"side\"}},\n\
                 {\"set\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"allowed\", \"type\": \"ipv4_addr\", \"flags\": [\"interval\"], \"elem\": [{\"prefix\": {\"addr\": \"192.0.2.0\", \"len\": 24}}]}}",
            );
            for (i, r) in rules.iter().enumerate() {
                let (chain, expr) = r.split_once('|').unwrap_or(("out", r));
                let _ = write!(
                    out,
                    ",\n{{\"rule\": {{\"family\": \"inet\", \"table\": \"t\", \"chain\": \"{chain}\", \"handle\": {}, \"expr\": [{expr}]}}}}",
                    i + 10
                );
            }
            out.push_str("\n]}\n");
            out
        };
        let daddr = r#"{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 24}}}}"#;
        let m = |left: &str, right: &str| {
            format!(r#"{{"match": {{"op": "==", "left": {left}, "right": {right}}}}}"#)
        };
        let l4 = |p: &str| m(r#"{"meta": {"key": "l4proto"}}"#, &format!("\"{p}\""));
        let dport = |p: &str, n: &str| {
            m(
                &format!(r#"{{"payload": {{"protocol": "{p}", "field": "dport"}}}}"#),
                n,
            )
        };
        let accept = r#"{"accept": null}"#;
        let drop = r#"{"drop": null}"#;
        let counter = r#"{"counter": {"packets": 3, "bytes": 180}}"#;
        let rule = |parts: &[&str]| parts.join(", ");
        let icmpv6 = rule(&[
            &m(
                r#"{"payload": {"protocol": "icmpv6", "field": "type"}}"#,
                r#"{"set": ["nd-neighbor-solicit", "nd-neighbor-advert"]}"#,
            ),
            accept,
        ]);
        let l4icmp = rule(&[&l4("icmp"), accept]);
        let udp443 = rule(&[daddr, &dport("udp", "443"), accept]);
        let tcp22 = rule(&[daddr, &dport("tcp", "22"), accept]);
        let tcp443 = rule(&[daddr, &dport("tcp", "443"), counter, accept]);
        let th443 = rule(&[daddr, &dport("th", "443"), accept]);
        let l4set = rule(&[
            daddr,
            &m(
                r#"{"meta": {"key": "l4proto"}}"#,
                r#"{"set": ["tcp", "udp"]}"#,
            ),
            accept,
        ]);
        let established = rule(&[
            &m(
                r#"{"ct": {"key": "state"}}"#,
                r#"["established", "related"]"#,
            ),
            accept,
        ]);
        let new_state = rule(&[daddr, &m(r#"{"ct": {"key": "state"}}"#, r#""new""#), accept]);
        let oif = rule(&[
            daddr,
            &m(r#"{"meta": {"key": "oifname"}}"#, r#""eth9""#),
            accept,
        ]);
        let named = rule(&[
            &m(
                r#"{"payload": {"protocol": "ip", "field": "daddr"}}"#,
                r#""@allowed""#,
            ),
            &dport("tcp", "443"),
            accept,
        ]);
        let mark = rule(&[daddr, &m(r#"{"meta": {"key": "mark"}}"#, "1"), accept]);
        let limit = rule(&[daddr, r#"{"limit": {"rate": 10, "per": "second"}}"#, accept]);
        let sport = rule(&[
            daddr,
            &m(
                r#"{"payload": {"protocol": "tcp", "field": "sport"}}"#,
                "1000",
            ),
            accept,
        ]);
        let jump = r#"{"jump": {"target": "side"}}"#;
        let side_drop = format!(
            "side|{}",
            rule(&[
                &m(
                    r#"{"payload": {"protocol": "ip", "field": "daddr"}}"#,
                    r#""192.0.2.7""#
                ),
                drop
            ])
        );
        let side_accept = format!("side|{}", rule(&[daddr, accept]));
        let vmap_state = r#"{"vmap": {"key": {"ct": {"key": "state"}}, "data": {"set": [["established", {"accept": null}], ["invalid", {"drop": null}]]}}}"#;
        let vmap_drop = r#"{"vmap": {"key": {"meta": {"key": "l4proto"}}, "data": {"set": [["tcp", {"drop": null}]]}}}"#;
        let mark_drop = rule(&[&m(r#"{"meta": {"key": "mark"}}"#, "1"), drop]);
        let udp_drop = rule(&[&l4("udp"), drop]);
        let invalid_drop = rule(&[&m(r#"{"ct": {"key": "state"}}"#, r#""invalid""#), drop]);
        let inputs = [
            ruleset(&[&icmpv6]),
            ruleset(&[&l4icmp]),
            ruleset(&[&udp443]),
            ruleset(&[&tcp22]),
            ruleset(&[&tcp443]),
            ruleset(&[&th443]),
            ruleset(&[&l4set]),
            ruleset(&[&established]),
            ruleset(&[&new_state]),
            ruleset(&[&oif]),
            ruleset(&[&named]),
            ruleset(&[&mark]),
            ruleset(&[&limit]),
            ruleset(&[&sport]),
            ruleset(&[jump, &tcp443, &side_drop]),
            ruleset(&[jump, &tcp443, &side_accept]),
            ruleset(&[vmap_state, &tcp443]),
            ruleset(&[vmap_drop, &tcp443]),
            ruleset(&[&mark_drop, &tcp443]),
            ruleset(&[&udp_drop, &invalid_drop, &tcp443]),
        ];
        let at = |line: usize| format!("192.0.2.0/24 tcp 443 @{line}");
        let (l5, l6, l7) = (at(5), at(6), at(7));
        let cases: &[Case<'_>] = &[
            (
                &inputs[0],
                None,
                &[],
                &["5: it admits only ICMPv6, not TCP"],
            ),
            (&inputs[1], None, &[], &["5: it admits only ICMP, not TCP"]),
            (&inputs[2], Some(443), &[], &["it admits only UDP, not TCP"]),
            (
                &inputs[3],
                Some(443),
                &[],
                &["only to port 22, not to port 443"],
            ),
            (&inputs[3], None, &["192.0.2.0/24 tcp 22 @5"], &[]),
            (&inputs[4], Some(443), &[&l5], &[]),
            (&inputs[5], Some(443), &["192.0.2.0/24 any 443 @5"], &[]),
            (&inputs[6], Some(443), &["192.0.2.0/24 tcp * @5"], &[]),
            (&inputs[7], None, &[], &["not new ones"]),
            (&inputs[8], None, &["192.0.2.0/24 any * @5"], &[]),
            (&inputs[9], None, &[], &["interface eth9"]),
            // The set element's own line.
            (&inputs[10], Some(443), &["192.0.2.0/24 tcp 443 @4"], &[]),
            (&inputs[11], None, &[], &["`meta mark`"]),
            (&inputs[12], None, &[], &["`limit` statement"]),
            (&inputs[13], None, &[], &["`tcp sport`"]),
            // A jump to a chain that may drop: nothing after it counts
            // (reach does not follow it); the chain's own rules do not
            // count either.
            (&inputs[14], Some(443), &[], &[]),
            (&inputs[15], Some(443), &[&l6], &["7: it is in chain side"]),
            (&inputs[16], Some(443), &[&l6], &[]),
            (&inputs[17], Some(443), &[], &[]),
            (&inputs[18], Some(443), &[], &[]),
            (&inputs[19], Some(443), &[&l7], &[]),
        ];
        check_cases(AllowlistFormat::NftJson, cases);
    }

    #[test]
    fn inserted_rules_take_their_place() {
        // `-I OUTPUT` puts the DROP first, above the earlier ACCEPT;
        // `-I OUTPUT 2` puts the second ACCEPT above the DROP... which is
        // then at position 1, so the ACCEPT at position 2 is still behind it.
        let input = "-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\n\
                     -I OUTPUT -d 10.0.0.0/16 -j DROP\n\
                     -I OUTPUT 1 -d 10.0.1.0/24 -j ACCEPT\n";
        let list = parse_allowlist_rules(
            "r",
            input,
            Some(AllowlistFormat::Iptables),
            Direction::Egress,
            None,
        )
        .unwrap();
        let mut got = show(&list);
        got.sort();
        assert_eq!(
            got,
            [
                "10.0.1.0/24 any * @3",
                "10.1.0.0/16 any * @1",
                "10.128.0.0/9 any * @1",
                "10.16.0.0/12 any * @1",
                "10.2.0.0/15 any * @1",
                "10.32.0.0/11 any * @1",
                "10.4.0.0/14 any * @1",
                "10.64.0.0/10 any * @1",
                "10.8.0.0/13 any * @1",
            ]
        );
        assert_eq!(list.shadowed.len(), 1);
        assert_eq!(list.shadowed[0].by, [2]);
    }

    #[test]
    fn nft_drops_override_later_accepts() {
        let input = r#"{"nftables": [
  {"chain": {"family": "inet", "table": "fw", "name": "out", "type": "filter", "hook": "output"}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 9}}}},
    {"drop": null}]}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}},
    {"accept": null}]}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
    {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.0/24"}},
    {"reject": null}]}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
    {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.0.0", "len": 16}}}},
    {"accept": null}]}}
]}"#;
        let list = parse_allowlist_rules("n", input, None, Direction::Egress, None).unwrap();
        assert_eq!(
            show(&list),
            ["10.128.0.0/9 any * @7", "192.0.2.0/24 any * @13"]
        );
        assert_eq!(
            shadows(&list),
            [
                "10.0.0.0/8 @7 by [3]: 10.128.0.0/9",
                "192.0.0.0/16 @13 by [9]: 192.0.2.0/24"
            ]
        );
    }

    #[test]
    fn iptables_egress() {
        let list =
            parse_allowlist_rules("rules.v4", IPTABLES, None, Direction::Egress, None).unwrap();
        assert_eq!(list.format, AllowlistFormat::Iptables);
        assert_eq!(
            show(&list),
            [
                "192.0.2.0/24 tcp 443 @11",
                "198.51.100.0/25 tcp 80,443,8000-8080 @12",
                "198.51.100.128/25 tcp 80,443,8000-8080 @12",
                "2001:db8:1::/48 tcp 443 @30",
                "::/0 tcp 0-24,26-65535 @31",
            ]
        );
        assert_eq!(
            skipped(&list),
            [
                "10: it applies only to the loopback interface",
                "13: it admits only UDP, not TCP",
                "14: it accepts every address except some; reach counts only rules that name the addresses they admit",
                "15: it also matches this machine's own address (`-s 198.51.100.10/32`), which reach cannot check",
                "16: it admits only established or related connections, not new ones",
                "18: it is in chain VENDOR, which only jumps reach (reach does not follow jumps)",
                "28: it admits every protocol except TCP",
            ]
        );
    }

    #[test]
    fn iptables_ingress() {
        let list =
            parse_allowlist_rules("rules.v4", IPTABLES, None, Direction::Ingress, None).unwrap();
        assert_eq!(
            show(&list),
            ["203.0.113.0/24 tcp 22 @8", "2001:db8:2::/48 tcp 443 @29",]
        );
        assert_eq!(
            skipped(&list),
            [
                "7: it applies only to the loopback interface",
                "9: it admits only established or related connections, not new ones",
                "15: it also matches this machine's own address (`-d 203.0.113.0/24`), which reach cannot check",
                "18: it is in chain VENDOR, which only jumps reach (reach does not follow jumps)",
                "27: it admits only ICMPv6, not TCP",
            ]
        );
    }

    #[test]
    fn iptables_errors_with_lines() {
        let input = "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 10.0.0.300/32 -j ACCEPT\n-A OUTPUT -p tcp --dport 70000 -j ACCEPT\n-A\n-A OUTPUT -m comment --comment \"open -j ACCEPT\nbogus line\n-A OUTPUT -d 10.0.0.0/255.0.255.0 -j ACCEPT\n-A OUTPUT -d 10.1.0.0/255.255.0.0 -j ACCEPT\nCOMMIT\n";
        let errors = parse_allowlist_rules("x", input, None, Direction::Egress, None).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
        assert_eq!(lines, [3, 4, 5, 6, 7, 8], "{errors:#?}");
        assert_eq!(errors[0].text, "-A OUTPUT -d 10.0.0.300/32 -j ACCEPT");
        let (list, errors) =
            parse_allowlist_rules_partial("x", input, None, Direction::Egress, None).unwrap();
        assert_eq!(errors.len(), 6);
        assert_eq!(show(&list), ["10.1.0.0/16 any * @9"]);
    }

    #[test]
    fn iptables_command_lines_and_families() {
        let input = "iptables -A OUTPUT -p tcp --dport 443 -j ACCEPT\nip6tables -A OUTPUT -p tcp --dport 443 -j ACCEPT\n-A OUTPUT -j ACCEPT\n";
        let list = parse_allowlist_rules(
            "x",
            input,
            Some(AllowlistFormat::Iptables),
            Direction::Egress,
            None,
        )
        .unwrap();
        assert_eq!(
            show(&list),
            [
                "0.0.0.0/0 tcp 443 @1",
                "::/0 tcp 443 @2",
                "0.0.0.0/0 any * @3",
                "::/0 any * @3",
            ]
        );
    }

    #[test]
    fn nft_egress() {
        let list = parse_allowlist_rules("nft.json", NFT, None, Direction::Egress, None).unwrap();
        assert_eq!(list.format, AllowlistFormat::NftJson);
        assert_eq!(
            show(&list),
            [
                // `ip daddr @vendor tcp dport 443 accept`: the named set.
                "192.0.2.0/24 tcp 443 @19",
                "198.51.100.0/25 tcp 443 @20",
                "203.0.113.8/29 tcp 443 @21",
                "203.0.113.16/30 tcp 443 @21",
                "203.0.113.20/32 tcp 443 @22",
                // `ip6 daddr { 2001:db8:3::/48, 2001:db8:4::1 } tcp dport { 80, 443 }`.
                "2001:db8:3::/48 tcp 80,443 @67",
                "2001:db8:4::1/128 tcp 80,443 @68",
            ]
        );
        // UDP, established only, loopback, all but some addresses, and the
        // rules of a chain only a jump reaches do not count.
        assert_eq!(
            skipped(&list),
            [
                "29: it admits only established or related connections, not new ones",
                "38: it applies only to the loopback interface",
                "79: it admits only UDP, not TCP",
                "90: it accepts every address except some; reach counts only rules that name the addresses they admit",
                "122: it is in chain vendor_out, which only jumps reach (reach does not follow jumps)",
                "131: it is in chain vendor_out, which only jumps reach (reach does not follow jumps)",
            ]
        );
        assert_eq!(
            list.not_counted[0].rule,
            "rule handle 6 in chain inet filter output"
        );
    }

    #[test]
    fn nft_ingress() {
        let list = parse_allowlist_rules("nft.json", NFT, None, Direction::Ingress, None).unwrap();
        assert_eq!(show(&list), ["203.0.113.0/24 tcp 22 @115"]);
    }

    #[test]
    fn nft_errors() {
        let input = r#"{"nftables": [
  {"table": {"family": "inet", "name": "f", "handle": 1}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 2,
    "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@missing"}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 3,
    "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
      "right": {"range": ["10.0.0.9", "10.0.0.1"]}}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 4,
    "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.0.0.256"}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 5,
    "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "right": "@pairs"}}, {"accept": null}]}}
]}"#;
        let errors =
            parse_allowlist_rules("n.json", input, None, Direction::Egress, None).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
        assert_eq!(lines, [7, 9], "{errors:#?}");
        assert!(errors[0].reason.contains("backwards"));
        assert_eq!(errors[1].text, "10.0.0.256");
        // A set that is not there and a concatenation are not errors in the
        // input: the rules just do not count.
        let (list, _) =
            parse_allowlist_rules_partial("n.json", input, None, Direction::Egress, None).unwrap();
        assert!(list.entries.is_empty());
        assert_eq!(
            skipped(&list),
            [
                "3: set `@missing` is not defined in table inet f, so reach cannot tell what it matches",
                "10: it matches on a concatenation of fields, which reach does not evaluate",
            ]
        );
    }

    #[test]
    fn aws_security_groups() {
        let list = parse_allowlist_rules("sg.json", SG, None, Direction::Egress, None).unwrap();
        assert_eq!(list.format, AllowlistFormat::AwsSg);
        assert_eq!(
            show(&list),
            [
                "192.0.2.0/24 tcp 443 @14",
                "2001:db8:1::/48 tcp 443 @17",
                "198.51.100.0/24 any * @27",
            ]
        );
        assert_eq!(skipped(&list), ["32: it admits only UDP, not TCP"]);
        assert_eq!(
            list.not_counted[0].rule,
            "security group sg-0123456789abcdef0"
        );
        let list = parse_allowlist_rules("sg.json", SG, None, Direction::Ingress, None).unwrap();
        assert_eq!(show(&list), ["203.0.113.5/32 tcp 22 @50"]);
        assert_eq!(skipped(&list), ["52: it admits only ICMP, not TCP"]);
    }

    #[test]
    fn aws_sg_errors() {
        let input = "{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPermissionsEgress\": [\n {\"IpProtocol\": \"tcp\", \"FromPort\": 443, \"ToPort\": 443,\n  \"IpRanges\": [{\"CidrIp\": \"192.0.2.0/33\"}]},\n {\"IpProtocol\": \"tcp\", \"FromPort\": 500, \"ToPort\": 400, \"IpRanges\": []}]}]}";
        let errors =
            parse_allowlist_rules("sg.json", input, None, Direction::Egress, None).unwrap_err();
        let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
        assert_eq!(lines, [3, 4], "{errors:#?}");
        assert_eq!(errors[0].text, "192.0.2.0/33");
    }

    #[test]
    fn unknown_and_invalid() {
        let errors =
            parse_allowlist_rules("x", "{\"a\": 1}", None, Direction::Egress, None).unwrap_err();
        assert!(
            errors[0]
                .reason
                .contains("tried iptables, nft-json, aws-sg"),
            "{errors:?}"
        );
        let errors =
            parse_allowlist_rules("x", "{\n\"nftables\": [,]}", None, Direction::Egress, None)
                .unwrap_err();
        assert_eq!(errors[0].origin.line, 2);
        assert!(errors[0].reason.starts_with("invalid JSON"));
        let errors =
            parse_allowlist_rules("x", "10.0.0.0/8\n", None, Direction::Egress, None).unwrap_err();
        assert!(errors[0].reason.contains("tried"));
        let errors = parse_allowlist_rules(
            "x",
            "10.0.0.0/8\n",
            Some(AllowlistFormat::Cidr),
            Direction::Egress,
            None,
        )
        .unwrap_err();
        assert_eq!(errors.len(), 1);
        let errors = parse_allowlist_rules(
            "x",
            "{\"x\": 1}",
            Some(AllowlistFormat::NftJson),
            Direction::Egress,
            None,
        )
        .unwrap_err();
        assert!(errors[0].reason.contains("nftables"), "{errors:?}");
    }

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

    proptest::proptest! {
        #[test]
        fn never_panics(input in ".{0,200}") {
            let _ = detect(&input);
            for format in [AllowlistFormat::Iptables, AllowlistFormat::NftJson, AllowlistFormat::AwsSg] {
                let _ = parse_allowlist_rules("p", &input, Some(format), Direction::Egress, None);
            }
        }

        #[test]
        fn iptables_like_never_panics(input in "(-A|!|-d|-s|-p|tcp|--dport|-j|ACCEPT|[0-9./:,\"]{1,6}| |\n){0,40}") {
            let _ = parse_allowlist_rules("p", &input, Some(AllowlistFormat::Iptables), Direction::Egress, None);
            let _ = parse_allowlist_rules("p", &input, Some(AllowlistFormat::Iptables), Direction::Ingress, None);
        }

    }
}
