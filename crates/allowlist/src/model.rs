//! The shared vocabulary of the allowlist crate: where an entry came from,
//! what a feed or a firewall rule says, and what did not parse.

use std::collections::HashMap;
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

/// A line (or JSON value) that did not parse: `source:line: reason
/// (`text`)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {reason} (`{text}`)")]
pub struct ParseError {
    pub origin: Origin,
    /// The offending text, as it stands in the input (trimmed, at most 200
    /// characters).
    pub text: String,
    pub reason: String,
}

/// The origin of line `line` (at least 1) of `source`.
pub(crate) fn origin(source: &str, line: usize) -> Origin {
    Origin {
        source: source.into(),
        line: line.max(1),
    }
}

/// Trimmed, at most 200 characters.
pub(crate) fn clip(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((end, _)) => t[..end].to_owned(),
        None => t.to_owned(),
    }
}

/// The labels a feed gives a range: its service / tag name (`AMAZON`,
/// `AzureCloud.westeurope`, GitHub's `hooks`, GCP's `service`) and its
/// region / scope, when it has them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    pub service: Option<String>,
    pub region: Option<String>,
}

/// One published range. Small and `Copy` on purpose: a feed can hold
/// millions of them, so the labels live once in [`Feed::labels`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedEntry {
    pub net: IpNet,
    /// The 1-based line in its feed (for JSON, the line of the value).
    pub line: u32,
    /// Index into [`Feed::labels`].
    pub label: u32,
}

/// A parsed published feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The format it was read as.
    pub format: FeedFormat,
    /// The feed's own version stamp: (`syncToken`, "1706…"),
    /// (`createDate`, …), (`changeNumber`, …), (`creationTime`, …).
    pub version: Option<(String, String)>,
    /// The distinct labels of the entries; `labels[0]` is the empty label.
    pub labels: Vec<Label>,
    pub entries: Vec<PublishedEntry>,
}

impl Feed {
    /// An empty feed of `format`.
    pub fn new(format: FeedFormat) -> Self {
        Feed {
            format,
            version: None,
            labels: vec![Label::default()],
            entries: Vec::new(),
        }
    }

    /// The labels of `entry` (the empty label for an id out of range).
    pub fn label_of(&self, entry: &PublishedEntry) -> &Label {
        static NONE: Label = Label {
            service: None,
            region: None,
        };
        self.labels.get(entry.label as usize).unwrap_or(&NONE)
    }

    /// Moves `other`'s entries into this feed, with their labels.
    pub fn append(&mut self, other: Feed) {
        let mut ids: HashMap<Label, u32> = self.labels.iter().cloned().zip(0..).collect();
        let map: Vec<u32> = other
            .labels
            .into_iter()
            .map(|label| intern(&mut self.labels, &mut ids, label))
            .collect();
        self.entries
            .extend(other.entries.into_iter().map(|e| PublishedEntry {
                label: map.get(e.label as usize).copied().unwrap_or(0),
                ..e
            }));
    }
}

/// The id of `value` in `table`, adding it when new.
pub(crate) fn intern<K: Clone + Eq + std::hash::Hash>(
    table: &mut Vec<K>,
    ids: &mut HashMap<K, u32>,
    value: K,
) -> u32 {
    if let Some(&id) = ids.get(&value) {
        return id;
    }
    let id = u32::try_from(table.len()).unwrap_or(u32::MAX);
    table.push(value.clone());
    ids.insert(value, id);
    id
}

/// A line number as stored in an entry (lines past 4 billion saturate).
pub(crate) fn line32(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
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

impl PortRange {
    /// Whether `port` is in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.first <= port && port <= self.last
    }
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

/// What a rule allows besides the address: its destination ports and its
/// protocol. `Rule::default()` allows every port and protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Ports the rule allows, as a canonical set ([`normalize_ports`]);
    /// `None` means every port (or not stated).
    pub ports: Option<Vec<PortRange>>,
    /// Lower-case protocol (`tcp`, `udp`, …); `None` means any.
    pub protocol: Option<String>,
}

impl Rule {
    /// The rule in canonical form: ports normalised, protocol lower-cased.
    pub fn new(ports: Option<&[PortRange]>, protocol: Option<&str>) -> Self {
        Rule {
            ports: ports.map(normalize_ports),
            protocol: protocol.map(str::to_ascii_lowercase),
        }
    }

    /// Whether the rule allows `port` (always, without a port).
    pub fn allows_port(&self, port: Option<u16>) -> bool {
        match (port, &self.ports) {
            (None, _) | (Some(_), None) => true,
            (Some(p), Some(ranges)) => ranges.iter().any(|r| r.contains(p)),
        }
    }

    /// Whether the rule admits the traffic reach asks about: TCP (any
    /// protocol or `tcp`), to `port` when given. Only such rules count
    /// toward coverage.
    pub fn admits_tcp(&self, port: Option<u16>) -> bool {
        self.protocol.as_deref().is_none_or(|p| p == "tcp") && self.allows_port(port)
    }
}

/// Where an allowlist entry stands: an index into [`Allowlist::sources`]
/// and a 1-based line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct At {
    pub source: u32,
    pub line: u32,
}

/// One network an allowlist allows (a line of a list, one address of a
/// firewall rule). Small and `Copy`: a rule set can hold millions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllowEntry {
    pub net: IpNet,
    pub at: At,
    /// Index into [`Allowlist::rules`].
    pub rule: u32,
}

/// A host name an allowlist allows: `host.example.com`, or
/// `*.example.com` for every subdomain (lower case, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameEntry {
    pub name: String,
    pub at: At,
    /// Index into [`Allowlist::rules`].
    pub rule: u32,
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

/// An accepting rule that earlier DROP / REJECT rules of its chain
/// override in part or whole (the first matching rule wins): only what it
/// still allows is in [`Allowlist::entries`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shadowed {
    /// The accepting rule's address as written, and where.
    pub net: IpNet,
    pub at: At,
    /// The lines of the earlier blocking rules that meet it.
    pub by: Vec<u32>,
    /// What of `net` still counts, as the fewest CIDRs (empty: nothing).
    pub counted: Vec<IpNet>,
}

/// A firewall rule that accepts something but does not count toward
/// coverage: it does not admit TCP (to the port asked about), or it has a
/// match reach does not evaluate, so it may admit less than it seems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCounted {
    /// Where the rule is (for JSON, the line where it starts).
    pub at: At,
    /// Which rule, for people: `chain OUTPUT`, `rule handle 7 in chain
    /// inet filter output`, `security group sg-1`.
    pub rule: String,
    /// Why it does not count, in words.
    pub reason: String,
}

/// A parsed allowlist (or several, appended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowlist {
    pub format: AllowlistFormat,
    /// The inputs' names (paths or URLs) that [`At::source`] indexes.
    pub sources: Vec<Arc<str>>,
    /// The distinct rules of the entries, each in canonical form;
    /// `rules[0]` is `Rule::default()` (every port, any protocol).
    pub rules: Vec<Rule>,
    /// Network entries, in input order.
    pub entries: Vec<AllowEntry>,
    /// Host name entries, in input order.
    pub names: Vec<NameEntry>,
    /// Accepting rules that earlier blocking rules override (rule sets
    /// only), in input order.
    pub shadowed: Vec<Shadowed>,
    /// Accepting rules that do not count, in input order (rule sets only).
    pub not_counted: Vec<NotCounted>,
    /// Lines of a plain list that repeat a network listed earlier (kept
    /// once, at its first line).
    pub duplicate_lines: u64,
    /// Some of them: (the repeat, the first occurrence).
    pub duplicate_examples: Vec<(At, At)>,
}

impl Allowlist {
    /// An empty allowlist of `format` read from `source`.
    pub fn new(format: AllowlistFormat, source: &str) -> Self {
        Allowlist {
            format,
            sources: vec![Arc::from(source)],
            rules: vec![Rule::default()],
            entries: Vec::new(),
            names: Vec::new(),
            shadowed: Vec::new(),
            not_counted: Vec::new(),
            duplicate_lines: 0,
            duplicate_examples: Vec::new(),
        }
    }

    /// How many entries, networks and names.
    pub fn len(&self) -> usize {
        self.entries.len() + self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The input and line of `at`.
    pub fn origin(&self, at: At) -> Origin {
        Origin {
            source: self
                .sources
                .get(at.source as usize)
                .cloned()
                .unwrap_or_else(|| Arc::from("?")),
            line: at.line as usize,
        }
    }

    /// The rule `id` (the allow-everything rule for an id out of range).
    pub fn rule(&self, id: u32) -> &Rule {
        static ANY: Rule = Rule {
            ports: None,
            protocol: None,
        };
        self.rules.get(id as usize).unwrap_or(&ANY)
    }

    /// Moves `other`'s entries into this allowlist, with their sources and
    /// rules.
    pub fn append(&mut self, other: Allowlist) {
        let base = u32::try_from(self.sources.len()).unwrap_or(u32::MAX);
        self.sources.extend(other.sources);
        let mut ids: HashMap<Rule, u32> = self.rules.iter().cloned().zip(0..).collect();
        let map: Vec<u32> = other
            .rules
            .into_iter()
            .map(|rule| intern(&mut self.rules, &mut ids, rule))
            .collect();
        let rule = |id: u32| map.get(id as usize).copied().unwrap_or(0);
        let at = |at: At| At {
            source: base.saturating_add(at.source),
            line: at.line,
        };
        self.entries
            .extend(other.entries.into_iter().map(|e| AllowEntry {
                net: e.net,
                at: at(e.at),
                rule: rule(e.rule),
            }));
        self.names
            .extend(other.names.into_iter().map(|e| NameEntry {
                name: e.name,
                at: at(e.at),
                rule: rule(e.rule),
            }));
        self.shadowed.extend(
            other
                .shadowed
                .into_iter()
                .map(|s| Shadowed { at: at(s.at), ..s }),
        );
        self.not_counted.extend(
            other
                .not_counted
                .into_iter()
                .map(|n| NotCounted { at: at(n.at), ..n }),
        );
        self.duplicate_lines += other.duplicate_lines;
        self.duplicate_examples.extend(
            other
                .duplicate_examples
                .into_iter()
                .map(|(dup, first)| (at(dup), at(first))),
        );
    }
}

/// Builds an [`Allowlist`] from one input, interning rules as it goes.
pub(crate) struct AllowlistBuilder {
    list: Allowlist,
    ids: HashMap<Rule, u32>,
    /// The last rule interned, to skip the hash for runs of one rule.
    last: Option<(Rule, u32)>,
}

impl AllowlistBuilder {
    pub(crate) fn new(format: AllowlistFormat, source: &str) -> Self {
        let list = Allowlist::new(format, source);
        let ids = list.rules.iter().cloned().zip(0..).collect();
        AllowlistBuilder {
            list,
            ids,
            last: None,
        }
    }

    /// The id of the rule allowing `ports` over `protocol`.
    pub(crate) fn rule(&mut self, ports: Option<&[PortRange]>, protocol: Option<&str>) -> u32 {
        if ports.is_none() && protocol.is_none() {
            return 0;
        }
        let rule = Rule::new(ports, protocol);
        if let Some((last, id)) = &self.last
            && *last == rule
        {
            return *id;
        }
        let id = intern(&mut self.list.rules, &mut self.ids, rule.clone());
        self.last = Some((rule, id));
        id
    }

    pub(crate) fn net(&mut self, net: IpNet, line: usize, rule: u32) {
        self.list.entries.push(AllowEntry {
            net,
            at: At {
                source: 0,
                line: line32(line),
            },
            rule,
        });
    }

    pub(crate) fn name(&mut self, name: String, line: usize, rule: u32) {
        self.list.names.push(NameEntry {
            name,
            at: At {
                source: 0,
                line: line32(line),
            },
            rule,
        });
    }

    pub(crate) fn shadowed(&mut self, net: IpNet, line: usize, by: Vec<u32>, counted: Vec<IpNet>) {
        self.list.shadowed.push(Shadowed {
            net,
            at: At {
                source: 0,
                line: line32(line),
            },
            by,
            counted,
        });
    }

    pub(crate) fn not_counted(&mut self, line: usize, rule: String, reason: String) {
        self.list.not_counted.push(NotCounted {
            at: At {
                source: 0,
                line: line32(line),
            },
            rule,
            reason,
        });
    }

    pub(crate) fn reserve(&mut self, n: usize) {
        self.list.entries.reserve(n);
    }

    pub(crate) fn finish(self) -> Allowlist {
        self.list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_error_is_an_error_with_its_text() {
        let e = ParseError {
            origin: origin("list.txt", 0),
            text: clip("  10.0.0.0/33  "),
            reason: "invalid prefix length".to_owned(),
        };
        assert_eq!(
            e.to_string(),
            "list.txt:1: invalid prefix length (`10.0.0.0/33`)"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(e);
        assert!(boxed.source().is_none());
    }
}
