//! `nft -j list ruleset`: named sets and maps resolved per table, each
//! rule's expressions read into an [`NftRule`], then the base chains by
//! hook, with jumps and verdict maps.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use super::rules::{
    Families, Matches, NON_TERMINATING, Out, ValueError, complement_ports, constrain_ports,
    port_number, port_range,
};
use crate::json::{Node, Value};
use crate::model::{Direction, PortRange};
use crate::set::{IpSet, range_to_cidrs};
use crate::text::parse_cidr;

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

type NftKey = (String, String, String);

fn nft_key(obj: &Node, name_key: &str) -> NftKey {
    let s = |k: &str| obj.get(k).and_then(Node::as_str).unwrap_or("").to_owned();
    (s("family"), s("table"), s(name_key))
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
    let cmp = Comparison {
        node: m,
        op,
        negated,
        right,
    };
    if let Some(payload) = left.get("payload") {
        return payload_match(scope, &cmp, payload, fields, rule);
    }
    if let Some(meta) = left.get("meta") {
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
            _ => unknown_match(rule, &format!("`meta {key}`")),
        }
    } else if let Some(ct) = left.get("ct") {
        let key = ct.get("key").and_then(Node::as_str).unwrap_or("");
        let values = strings(right);
        if key == "state" && !values.is_empty() && matches!(op, "==" | "in" | "!=") {
            rule.matches.states(&values, negated);
        } else {
            unknown_match(rule, &format!("`ct {key}`"));
        }
    } else if left.get("concat").is_some() {
        unknown_match(rule, "a concatenation of fields");
    } else {
        let what = left
            .as_object()
            .and_then(|o| o.first())
            .map_or_else(|| "an expression".to_owned(), |(k, _)| format!("`{k}`"));
        unknown_match(rule, &what);
    }
    Ok(())
}

/// A `match` expression: its node, operator (`!=` is `negated`) and right
/// side.
struct Comparison<'a> {
    node: &'a Node,
    op: &'a str,
    negated: bool,
    right: &'a Node,
}

/// Notes a match reach does not evaluate.
fn unknown_match(rule: &mut NftRule, what: &str) {
    rule.matches.unknown(format!(
        "it matches on {what}, which reach does not evaluate"
    ));
}

/// A match on a packet field (`ip daddr`, `tcp dport`, `icmp type` …).
fn payload_match(
    scope: &NftScope<'_>,
    cmp: &Comparison<'_>,
    payload: &Node,
    fields: Fields<'_>,
    rule: &mut NftRule,
) -> Result<(), ValueError> {
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
                return address_match(scope, cmp, rule);
            } else if field == fields.local {
                rule.matches.unknown(format!(
                    "it also matches this machine's own address (`{protocol} {field}`), which reach cannot check"
                ));
            } else if matches!(field, "protocol" | "nexthdr") {
                protocols(
                    rule,
                    cmp.right,
                    cmp.negated,
                    &format!("`{protocol} {field}`"),
                );
            } else {
                unknown_match(rule, &format!("`{protocol} {field}`"));
            }
        }
        "tcp" | "udp" | "sctp" | "dccp" | "udplite" | "th" => {
            if protocol != "th" {
                rule.matches.protos.only(&[protocol]);
            }
            if field != "dport" {
                unknown_match(rule, &format!("`{protocol} {field}`"));
                return Ok(());
            }
            return port_match(scope, cmp, rule);
        }
        "" | "ether" | "vlan" | "arp" | "ip6 ext" => {
            unknown_match(rule, &format!("`{protocol} {field}`"));
        }
        // `icmp type`, `icmpv6 type`, `esp spi` …: the field exists only
        // in that protocol, so the rule is for that protocol alone.
        other => rule.matches.protos.only(&[other]),
    }
    Ok(())
}

/// A match on the remote address.
fn address_match(
    scope: &NftScope<'_>,
    cmp: &Comparison<'_>,
    rule: &mut NftRule,
) -> Result<(), ValueError> {
    let mut nets = Vec::new();
    match scope.addresses(cmp.right, &mut nets, 0) {
        Ok(()) => {}
        Err(e) if e.unresolved => {
            rule.matches.unknown(unresolved_reason(&e));
            return Ok(());
        }
        Err(e) => return Err(e),
    }
    if cmp.negated {
        rule.not_remote.extend(nets.into_iter().map(|(n, _)| n));
    } else if matches!(cmp.op, "==" | "in") {
        rule.remote.push(nets);
    } else {
        return Err(ValueError::at(
            cmp.node,
            format!("unsupported `{}` comparison on an address", cmp.op),
        ));
    }
    Ok(())
}

/// A match on the destination port.
fn port_match(
    scope: &NftScope<'_>,
    cmp: &Comparison<'_>,
    rule: &mut NftRule,
) -> Result<(), ValueError> {
    let (op, right) = (cmp.op, cmp.right);
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
                cmp.node,
                format!("unsupported `{op}` comparison on a port"),
            ));
        }
    }
    let mut list = crate::model::normalize_ports(&list);
    if cmp.negated {
        list = complement_ports(&list);
    }
    constrain_ports(&mut rule.matches.ports, list);
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

pub(super) fn read_nft(out: &mut Out<'_>, root: &Node, direction: Direction) -> Result<(), String> {
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
        let Some(base) = is_base_chain(&chains, &key, &counted_hooks) else {
            continue;
        };
        if failed {
            continue;
        }
        let (accepts, stops) = verdict_effect(&mut rule, &key, base, &jumps);
        let at = RuleAt {
            node: rule_node,
            key: &key,
            base,
        };
        count_nft_rule(out, &at, rule, accepts, stops);
    }
    Ok(())
}

/// Whether the chain of `key` is a base chain (by its hook) that decides
/// the traffic; `false` for a chain without a hook, reached only by jumps;
/// `None` for a chain of another hook or type, whose rules are skipped. A
/// rule whose chain is not listed (a hand-written excerpt) is taken as in
/// a base chain.
fn is_base_chain(
    chains: &HashMap<NftKey, &Node>,
    key: &NftKey,
    counted_hooks: &[&str],
) -> Option<bool> {
    let Some(chain) = chains.get(key) else {
        return Some(true);
    };
    let hook = chain.get("hook").and_then(Node::as_str);
    let kind = chain.get("type").and_then(Node::as_str);
    if kind.is_some_and(|k| k != "filter") {
        return None;
    }
    match hook {
        Some(h) if counted_hooks.contains(&h) => Some(true),
        Some(_) => None,
        None => Some(false),
    }
}

/// What the verdict does: (accepts, stops what it matches).
fn verdict_effect(
    rule: &mut NftRule,
    key: &NftKey,
    base: bool,
    jumps: &HashMap<NftKey, Vec<Option<String>>>,
) -> (bool, bool) {
    let (family, table, _) = key;
    match rule.verdict.as_deref() {
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
            (false, nft_may_stop(jumps, &target, 0))
        }
        Some("vmap") => vmap_effect(rule, key, jumps),
        _ => (false, false),
    }
}

/// What a verdict map does: (accepts, stops what it matches). An
/// unreadable map stops; an accepting one does not count.
fn vmap_effect(
    rule: &mut NftRule,
    key: &NftKey,
    jumps: &HashMap<NftKey, Vec<Option<String>>>,
) -> (bool, bool) {
    let (family, table, _) = key;
    let Some(entries) = rule.vmap.clone() else {
        return (false, true);
    };
    // On `ct state`, only the entries for new and established
    // connections meet the traffic asked about.
    let meets = |keys: &[String], accept: bool| {
        !rule.vmap_on_state
            || keys.iter().any(|k| {
                k.eq_ignore_ascii_case("new") || (!accept && k.eq_ignore_ascii_case("established"))
            })
    };
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
                    nft_may_stop(jumps, &t, 0)
                }
                _ => false,
            }
    });
    if accepts {
        rule.matches
            .unknown("its verdict comes from a verdict map, which reach does not evaluate");
    }
    (accepts, blocking)
}

/// A rule's node, chain, and whether that is a base chain.
struct RuleAt<'a> {
    node: &'a Node,
    key: &'a NftKey,
    base: bool,
}

/// Counts a rule of a base chain: what it stops blocks the later rules,
/// what it accepts becomes entries. An accepting rule of another chain is
/// listed as not counted.
fn count_nft_rule(
    out: &mut Out<'_>,
    at: &RuleAt<'_>,
    mut rule: NftRule,
    accepts: bool,
    stops: bool,
) {
    let (family, table, chain_name) = at.key;
    let handle = at.node.get("handle").and_then(Node::scalar_text);
    let label = || match handle {
        Some(h) => format!("rule handle {h} in chain {family} {table} {chain_name}"),
        None => format!("rule in chain {family} {table} {chain_name}"),
    };
    let line = at.node.line;
    if !at.base {
        if accepts {
            out.list.not_counted(
                line,
                label(),
                format!(
                    "it is in chain {chain_name}, which only jumps reach (reach does not follow jumps)"
                ),
            );
        }
        return;
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
