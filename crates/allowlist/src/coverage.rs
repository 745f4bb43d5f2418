//! The coverage report's numbers and the feed diff, computed exactly with
//! the [`set`](crate::set) algebra. Plain structs: the CLI maps them to the
//! report's JSON.
//!
//! Only network entries ([`Allowlist::entries`]) cover addresses. An entry
//! *counts* only when its rule admits TCP, to the port when one is asked
//! about ([`Rule::admits_tcp`]): a UDP or ICMP rule, or one for another
//! port, covers nothing. Entries that do not count are never reported as
//! stale, redundant or broad.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{Allowlist, Feed, Label, Rule};
use crate::set::{AddrCount, Address, IpSet, Ranges, v4_interval, v6_interval};
use crate::sort::sort_by_key_then;

/// Coverage figures for one address family.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyCoverage {
    /// Addresses published (the union of the published ranges).
    pub published: AddrCount,
    /// Published addresses the allowlist covers.
    pub covered: AddrCount,
    /// Published addresses it does not cover.
    pub uncovered: AddrCount,
    /// `covered` as a percentage of `published`: `100.0` when nothing is
    /// published, and strictly below `100.0` whenever something is
    /// uncovered (see [`AddrCount::percent_of`]).
    pub percent: f64,
}

/// The uncovered part of one (service, region) group of published entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gap {
    /// The entries' service / tag label, if the feed has one.
    pub service: Option<String>,
    /// The entries' region / scope label, if the feed has one.
    pub region: Option<String>,
    /// The group's uncovered addresses, as the fewest CIDRs.
    pub cidrs: Vec<IpNet>,
    /// How many addresses that is.
    pub addresses: AddrCount,
}

/// The coverage of a published feed by an allowlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage {
    /// IPv4 figures.
    pub v4: FamilyCoverage,
    /// IPv6 figures.
    pub v6: FamilyCoverage,
    /// The whole uncovered set, as the fewest CIDRs (IPv4 first).
    pub uncovered: Vec<IpNet>,
    /// The uncovered set broken down by the (service, region) labels of
    /// the published entries, sorted by (service, region) with unlabelled
    /// first; only groups with something uncovered. A feed without any
    /// label gives no groups (`uncovered` says it all). Groups may overlap
    /// when a feed lists a range under several labels.
    pub gaps: Vec<Gap>,
    /// Indexes into [`Allowlist::entries`] of counting entries that
    /// intersect nothing published, ascending.
    pub stale: Vec<usize>,
    /// `(entry, container)`: indexes into [`Allowlist::entries`] of a
    /// counting entry and another counting entry that contains it and
    /// allows at least the same traffic: the container's rule allows every
    /// port or the same ports (as a set), and every protocol or the same
    /// one. Of identical entries, the later is redundant to the earlier.
    /// Sorted by entry; each entry at most once.
    pub redundant: Vec<(usize, usize)>,
    /// Indexes into [`Allowlist::entries`] of counting entries whose prefix
    /// is shorter than the threshold for their family, ascending.
    pub broad: Vec<usize>,
}

/// What changed between two snapshots of a feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Addresses in the new snapshot only.
    pub added: IpSet,
    /// Addresses in the old snapshot only.
    pub removed: IpSet,
    /// With an allowlist: the added addresses it does not cover.
    pub added_uncovered: Option<IpSet>,
}

/// For each rule of `allow`, whether its entries count for `port`.
fn counting_rules(allow: &Allowlist, port: Option<u16>) -> Vec<bool> {
    allow.rules.iter().map(|r| r.admits_tcp(port)).collect()
}

/// The union of the published ranges.
pub fn published_set(feed: &Feed) -> IpSet {
    IpSet::from_nets(feed.entries.iter().map(|e| e.net))
}

/// The addresses the allowlist covers for `port`: the union of its counting
/// network entries.
pub fn allowed_set(allow: &Allowlist, port: Option<u16>) -> IpSet {
    let counts = counting_rules(allow, port);
    IpSet::from_nets(
        allow
            .entries
            .iter()
            .filter(|e| counts.get(e.rule as usize).copied().unwrap_or(true))
            .map(|e| e.net),
    )
}

/// Computes the coverage of `feed` by the network entries of `allow` that
/// count for `port`. An entry is broad when its prefix is shorter than
/// `broad_v4` (IPv4) or `broad_v6` (IPv6); `0` disables the check.
/// Bucket sorts (the private `sort` module) and linear sweeps over the `p`
/// published and `a` allowlist entries: `O((p + a) log(p + a))` at worst.
pub fn coverage(
    feed: &Feed,
    allow: &Allowlist,
    port: Option<u16>,
    broad_v4: u8,
    broad_v6: u8,
) -> Coverage {
    // The published side and the allowlist side are independent until the
    // difference: each gets a core.
    let (published, allowed) = std::thread::scope(|scope| {
        let published = scope.spawn(|| PublishedSide::new(feed));
        let allowed = AllowedSide::new(allow, port, broad_v4, broad_v6);
        let published = published
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (published, allowed)
    });
    if crate::cancel::requested() {
        return cancelled();
    }
    let n = allow.entries.len();
    let mut is_stale = vec![false; n];
    stale_in(&allowed.items4, &published.set.v4, &mut is_stale);
    stale_in(&allowed.items6, &published.set.v6, &mut is_stale);
    let stale = (0..n).filter(|&i| is_stale[i]).collect();
    let redundant = allowed.redundant(n);

    if crate::cancel::requested() {
        return cancelled();
    }
    let uncovered_set = published.set.difference(&allowed.set);

    let family = |published: AddrCount, uncovered: AddrCount| {
        let covered = published.saturating_sub(uncovered);
        FamilyCoverage {
            published,
            covered,
            uncovered,
            percent: covered.percent_of(&published),
        }
    };
    let v4 = family(published.set.v4.count(), uncovered_set.v4.count());
    let v6 = family(published.set.v6.count(), uncovered_set.v6.count());

    if crate::cancel::requested() {
        return cancelled();
    }
    let uncovered = uncovered_set.to_cidrs();
    let used: Vec<u32> = (0..published.used.len())
        .filter(|&id| published.used[id])
        .filter_map(|id| u32::try_from(id).ok())
        .collect();
    let gaps = match used[..] {
        // A feed with one label has one group, the whole uncovered set,
        // already computed; a feed without labels has no breakdown at all
        // (it would only repeat `uncovered`).
        [] => Vec::new(),
        [id] => {
            let label = label(feed, id);
            if uncovered.is_empty() || (label.service.is_none() && label.region.is_none()) {
                Vec::new()
            } else {
                vec![Gap {
                    service: label.service.clone(),
                    region: label.region.clone(),
                    cidrs: uncovered.clone(),
                    addresses: uncovered_set.count(),
                }]
            }
        }
        _ => {
            let labels = feed.labels.len();
            let pieces4 = gap_pieces(&published.items4, &uncovered_set.v4, labels);
            let pieces6 = gap_pieces(&published.items6, &uncovered_set.v6, labels);
            let mut order = used;
            order.sort_unstable_by_key(|&id| label(feed, id));
            order
                .into_iter()
                .filter_map(|id| {
                    let gap = IpSet {
                        v4: Ranges::from_sorted_intervals(
                            pieces4.get(id as usize)?.iter().copied(),
                        ),
                        v6: Ranges::from_sorted_intervals(
                            pieces6.get(id as usize)?.iter().copied(),
                        ),
                    };
                    let label = label(feed, id);
                    (!gap.is_empty()).then(|| Gap {
                        service: label.service.clone(),
                        region: label.region.clone(),
                        cidrs: gap.to_cidrs(),
                        addresses: gap.count(),
                    })
                })
                .collect()
        }
    };

    Coverage {
        v4,
        v6,
        uncovered,
        gaps,
        stale,
        redundant,
        broad: allowed.broad,
    }
}

/// What [`coverage`] returns when it stops early (see [`crate::cancel`]):
/// nothing, never to be reported.
fn cancelled() -> Coverage {
    let nothing = FamilyCoverage {
        published: AddrCount::ZERO,
        covered: AddrCount::ZERO,
        uncovered: AddrCount::ZERO,
        percent: 0.0,
    };
    Coverage {
        v4: nothing.clone(),
        v6: nothing,
        uncovered: Vec::new(),
        gaps: Vec::new(),
        stale: Vec::new(),
        redundant: Vec::new(),
        broad: Vec::new(),
    }
}

fn label(feed: &Feed, id: u32) -> &Label {
    static NONE: Label = Label {
        service: None,
        region: None,
    };
    feed.labels.get(id as usize).unwrap_or(&NONE)
}

/// A published entry as an interval, with its label id.
#[derive(Debug, Clone, Copy)]
struct Labelled<T> {
    first: T,
    last: T,
    label: u32,
}

/// Published entries as intervals sorted by first address (the published
/// set and the per-label gaps both come from this order), and which labels
/// are in use.
struct PublishedSide {
    items4: Vec<Labelled<u32>>,
    items6: Vec<Labelled<u128>>,
    set: IpSet,
    used: Vec<bool>,
}

impl PublishedSide {
    fn new(feed: &Feed) -> Self {
        let mut used = vec![false; feed.labels.len().max(1)];
        // Room for every entry in both: only the pages written are paid for.
        let mut items4 = Vec::with_capacity(feed.entries.len());
        let mut items6 = Vec::with_capacity(feed.entries.len());
        for e in &feed.entries {
            if let Some(u) = used.get_mut(e.label as usize) {
                *u = true;
            }
            match &e.net {
                IpNet::V4(n) => {
                    let (first, last) = v4_interval(n);
                    items4.push(Labelled {
                        first,
                        last,
                        label: e.label,
                    });
                }
                IpNet::V6(n) => {
                    let (first, last) = v6_interval(n);
                    items6.push(Labelled {
                        first,
                        last,
                        label: e.label,
                    });
                }
            }
        }
        let set = IpSet {
            v4: sort_labelled(&mut items4),
            v6: sort_labelled(&mut items6),
        };
        PublishedSide {
            items4,
            items6,
            set,
            used,
        }
    }
}

/// Sorts published intervals by (first, last, label) and returns their
/// union.
fn sort_labelled<T: Address>(items: &mut [Labelled<T>]) -> Ranges<T> {
    sort_by_key_then(
        items,
        |x| x.first.high64(),
        |a, b| (a.first, a.last, a.label).cmp(&(b.first, b.last, b.label)),
    );
    Ranges::from_sorted_intervals(items.iter().map(|x| (x.first, x.last)))
}

/// A counting network entry, as an interval.
#[derive(Debug, Clone, Copy)]
struct Item<T> {
    first: T,
    last: T,
    idx: u32,
    rule: u32,
}

/// The counting network entries sorted by (first, last descending, index),
/// the allowed set, and the broad entries.
struct AllowedSide<'a> {
    allow: &'a Allowlist,
    items4: Vec<Item<u32>>,
    items6: Vec<Item<u128>>,
    set: IpSet,
    broad: Vec<usize>,
    /// Whether any counting entry has a rule other than allow-everything.
    ruled: bool,
}

impl<'a> AllowedSide<'a> {
    fn new(allow: &'a Allowlist, port: Option<u16>, broad_v4: u8, broad_v6: u8) -> Self {
        let counts = counting_rules(allow, port);
        let mut broad = Vec::new();
        let mut items4: Vec<Item<u32>> = Vec::with_capacity(allow.entries.len());
        // Room for every entry in both: only the pages written are paid for.
        let mut items6: Vec<Item<u128>> = Vec::with_capacity(allow.entries.len());
        let mut ruled = false;
        for (idx, e) in allow.entries.iter().enumerate() {
            if !counts.get(e.rule as usize).copied().unwrap_or(true) {
                continue;
            }
            ruled |= e.rule != 0;
            let Ok(idx32) = u32::try_from(idx) else {
                break;
            };
            match &e.net {
                IpNet::V4(n) => {
                    if n.prefix_len() < broad_v4 {
                        broad.push(idx);
                    }
                    let (first, last) = v4_interval(n);
                    items4.push(Item {
                        first,
                        last,
                        idx: idx32,
                        rule: e.rule,
                    });
                }
                IpNet::V6(n) => {
                    if n.prefix_len() < broad_v6 {
                        broad.push(idx);
                    }
                    let (first, last) = v6_interval(n);
                    items6.push(Item {
                        first,
                        last,
                        idx: idx32,
                        rule: e.rule,
                    });
                }
            }
        }
        let set = IpSet {
            v4: sort_items(&mut items4),
            v6: sort_items(&mut items6),
        };
        AllowedSide {
            allow,
            items4,
            items6,
            set,
            broad,
            ruled,
        }
    }

    /// The redundant `(entry, container)` pairs, sorted by entry.
    fn redundant(&self, n: usize) -> Vec<(usize, usize)> {
        let mut container = vec![u32::MAX; n];
        if self.ruled {
            redundant_by_rule(&self.items4, self.allow, &mut container);
            redundant_by_rule(&self.items6, self.allow, &mut container);
        } else {
            // Every entry allows every port and protocol: one group.
            redundant_in_group(&self.items4, &mut container);
            redundant_in_group(&self.items6, &mut container);
        }
        container
            .iter()
            .enumerate()
            .filter(|&(_, &c)| c != u32::MAX)
            .map(|(i, &c)| (i, c as usize))
            .collect()
    }
}

/// Sorts one family's items by (first, last descending, index) and returns
/// the union of their intervals.
fn sort_items<T: Address>(items: &mut [Item<T>]) -> Ranges<T> {
    // The index makes the order total: the same result on every run.
    sort_by_key_then(
        items,
        |x| x.first.high64(),
        |a, b| {
            a.first
                .cmp(&b.first)
                .then(b.last.cmp(&a.last))
                .then(a.idx.cmp(&b.idx))
        },
    );
    Ranges::from_sorted_intervals(items.iter().map(|it| (it.first, it.last)))
}

/// Marks the sorted entries whose interval meets no published interval:
/// one linear sweep.
fn stale_in<T: Address>(items: &[Item<T>], published: &Ranges<T>, stale: &mut [bool]) {
    let p = published.intervals();
    let mut j = 0;
    for it in items {
        while j < p.len() && p[j].1 < it.first {
            j += 1;
        }
        if (j == p.len() || p[j].0 > it.last)
            && let Some(s) = stale.get_mut(it.idx as usize)
        {
            *s = true;
        }
    }
}

/// Entries sorted by (first, last descending, index), all of one rule:
/// each is contained in an earlier one exactly when the running maximum of
/// `last` before it reaches its own `last`. One sweep, no copy.
fn redundant_in_group<T: Address>(items: &[Item<T>], container: &mut [u32]) {
    let mut max: Option<(T, u32)> = None;
    for it in items {
        match max {
            Some((last, idx)) if last >= it.last => {
                if let Some(c) = container.get_mut(it.idx as usize) {
                    *c = idx;
                }
            }
            _ => max = Some((it.last, it.idx)),
        }
    }
}

/// One rule's entries, sorted by (first, last descending, index), with the
/// running maximum of `last` (and whose it is) over each prefix.
struct Group<T> {
    items: Vec<Item<T>>,
    prefix_max: Vec<(T, u32)>,
}

impl<T: Address> Group<T> {
    /// `items` must be sorted by (first, last descending, index).
    fn new(items: Vec<Item<T>>) -> Self {
        let mut prefix_max: Vec<(T, u32)> = Vec::with_capacity(items.len());
        for it in &items {
            let next = match prefix_max.last() {
                Some(&(last, idx)) if last >= it.last => (last, idx),
                _ => (it.last, it.idx),
            };
            prefix_max.push(next);
        }
        Group { items, prefix_max }
    }

    /// An entry of this group containing `first..=last`, among those
    /// sorted before position `end`.
    fn container_before(&self, end: usize, last: T) -> Option<u32> {
        let (max_last, idx) = *self.prefix_max.get(end.checked_sub(1)?)?;
        (max_last >= last).then_some(idx)
    }

    /// An entry of this group containing `first..=last` (identical counts).
    fn container_of(&self, first: T, last: T) -> Option<u32> {
        let end = self.items.partition_point(|x| x.first <= first);
        self.container_before(end, last)
    }
}

/// Rules strictly broader than `rule` that `allow` has: its ports dropped,
/// its protocol dropped, or both.
fn broader_rules(allow: &Allowlist, ids: &HashMap<&Rule, u32>, rule: u32) -> Vec<u32> {
    let Some(r) = allow.rules.get(rule as usize) else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(3);
    for candidate in [
        Rule {
            ports: None,
            protocol: r.protocol.clone(),
        },
        Rule {
            ports: r.ports.clone(),
            protocol: None,
        },
        Rule::default(),
    ] {
        if let Some(&id) = ids.get(&candidate)
            && id != rule
            && !out.contains(&id)
        {
            out.push(id);
        }
    }
    out
}

/// Redundant entries when rules differ: each entry is checked against the
/// earlier-sorted entries of its own rule and against every entry of the
/// broader rules. `O(n log n)`.
fn redundant_by_rule<T: Address>(items: &[Item<T>], allow: &Allowlist, container: &mut [u32]) {
    let mut by_rule: HashMap<u32, Vec<Item<T>>> = HashMap::new();
    for it in items {
        by_rule.entry(it.rule).or_default().push(*it);
    }
    let groups: HashMap<u32, Group<T>> = by_rule
        .into_iter()
        .map(|(k, v)| (k, Group::new(v)))
        .collect();
    let ids: HashMap<&Rule, u32> = allow.rules.iter().zip(0..).collect();
    for (&rule, group) in &groups {
        let broader: Vec<&Group<T>> = broader_rules(allow, &ids, rule)
            .iter()
            .filter_map(|k| groups.get(k))
            .collect();
        for (pos, it) in group.items.iter().enumerate() {
            let found = group.container_before(pos, it.last).or_else(|| {
                broader
                    .iter()
                    .find_map(|g| g.container_of(it.first, it.last))
            });
            if let (Some(c), Some(slot)) = (found, container.get_mut(it.idx as usize)) {
                *slot = c;
            }
        }
    }
}

/// What a feed added and removed between `old` and `new`; with `allow`,
/// also the added addresses its entries counting for `port` do not cover.
pub fn diff(old: &Feed, new: &Feed, allow: Option<&Allowlist>, port: Option<u16>) -> Diff {
    let old_set = published_set(old);
    let new_set = published_set(new);
    let added = new_set.difference(&old_set);
    let removed = old_set.difference(&new_set);
    let added_uncovered = allow.map(|a| added.difference(&allowed_set(a, port)));
    Diff {
        added,
        removed,
        added_uncovered,
    }
}

/// The index into [`Allowlist::entries`] of the first entry counting for
/// `port` whose network contains `ip`; `None` when none does. An
/// IPv4-mapped IPv6 address is checked as IPv4.
pub fn host_covered(ip: IpAddr, allow: &Allowlist, port: Option<u16>) -> Option<usize> {
    let ip = ip.to_canonical();
    allow
        .entries
        .iter()
        .position(|e| allow.rule(e.rule).admits_tcp(port) && e.net.contains(&ip))
}

/// The index into [`Allowlist::names`] of the first name entry counting for
/// `port` that names `name` (exactly, or `*.example.com` for any subdomain
/// of `example.com`, not the apex; case-insensitive, a trailing dot
/// ignored): such an entry covers the host whatever it resolves to.
pub fn fqdn_covered(name: &str, allow: &Allowlist, port: Option<u16>) -> Option<usize> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    allow
        .names
        .iter()
        .position(|e| allow.rule(e.rule).admits_tcp(port) && name_matches(&e.name, &name))
}

/// Whether lower-case `name` matches an allowlist name `pattern`.
fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.strip_suffix('.').unwrap_or(pattern);
    match pattern.strip_prefix("*.") {
        Some(base) => {
            let base = base.to_ascii_lowercase();
            name.len() > base.len() + 1
                && name.ends_with(base.as_str())
                && name.as_bytes()[name.len() - base.len() - 1] == b'.'
                && !name.contains('*')
        }
        None => pattern.eq_ignore_ascii_case(name),
    }
}

/// For each label id, the uncovered parts of its published intervals, as
/// disjoint pieces in ascending order. `entries` is sorted by first
/// address; one sweep over it and `uncovered`, with a per-label watermark
/// so nested entries of one label do not emit the same piece twice:
/// `O(n + u + output)`.
fn gap_pieces<T: Address>(
    entries: &[Labelled<T>],
    uncovered: &Ranges<T>,
    labels: usize,
) -> Vec<Vec<(T, T)>> {
    let mut out: Vec<Vec<(T, T)>> = vec![Vec::new(); labels];
    let mut watermark: Vec<Option<T>> = vec![None; labels];
    let u = uncovered.intervals();
    let mut j = 0;
    for &Labelled { first, last, label } in entries {
        while j < u.len() && u[j].1 < first {
            j += 1;
        }
        if j == u.len() {
            break;
        }
        let (Some(pieces), Some(mark)) = (
            out.get_mut(label as usize),
            watermark.get_mut(label as usize),
        ) else {
            continue;
        };
        let start = match *mark {
            Some(w) if w >= last => continue,
            Some(w) if w >= first => match w.succ() {
                Some(next) => next,
                None => continue,
            },
            _ => first,
        };
        let mut k = j + gallop_first_ending_at_or_after(&u[j..], start);
        while k < u.len() && u[k].0 <= last {
            pieces.push((start.max(u[k].0), last.min(u[k].1)));
            k += 1;
        }
        *mark = Some(last);
    }
    out
}

/// The index of the first interval ending at or after `addr`.
fn gallop_first_ending_at_or_after<T: Address>(s: &[(T, T)], addr: T) -> usize {
    let mut hi = 1;
    while hi < s.len() && s[hi].1 < addr {
        hi *= 2;
    }
    let lo = hi / 2;
    let hi = hi.min(s.len());
    lo + s[lo..hi].partition_point(|x| x.1 < addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AllowlistBuilder, PortRange, PublishedEntry};

    type Row<'a> = (Option<&'a str>, Option<&'a str>, Vec<IpNet>, String);

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    /// A feed of (net, service, region) rows, labels interned.
    fn feed_of(rows: &[(&str, Option<&str>, Option<&str>)]) -> Feed {
        let mut feed = Feed::new(crate::model::FeedFormat::Cidr);
        let mut ids = HashMap::new();
        ids.insert(Label::default(), 0);
        for (i, (net, service, region)) in rows.iter().enumerate() {
            let label = Label {
                service: service.map(Into::into),
                region: region.map(Into::into),
            };
            let label = crate::model::intern(&mut feed.labels, &mut ids, label);
            feed.entries.push(PublishedEntry {
                net: n(net),
                line: u32::try_from(i + 1).unwrap(),
                label,
            });
        }
        feed
    }

    type AllowRow<'a> = (&'a str, Option<&'a [(u16, u16)]>, Option<&'a str>);

    /// An allowlist of (net or name, ports, protocol) rows.
    fn list_of(rows: &[AllowRow<'_>]) -> Allowlist {
        let mut b = AllowlistBuilder::new(crate::model::AllowlistFormat::Cidr, "allow");
        for (i, (target, ports, protocol)) in rows.iter().enumerate() {
            let ports: Option<Vec<PortRange>> = ports.map(|p| {
                p.iter()
                    .map(|&(first, last)| PortRange { first, last })
                    .collect()
            });
            let rule = b.rule(ports.as_deref(), *protocol);
            match target.parse::<IpNet>() {
                Ok(net) => b.net(net, i + 1, rule),
                Err(_) => b.name((*target).to_owned(), i + 1, rule),
            }
        }
        b.finish()
    }

    fn any(target: &str) -> AllowRow<'_> {
        (target, None, None)
    }

    fn feed() -> Feed {
        feed_of(&[
            ("10.0.0.0/24", Some("API"), Some("eu")),
            ("10.0.1.0/24", Some("API"), Some("us")),
            ("10.0.2.0/23", Some("HOOKS"), None),
            ("10.0.3.0/24", Some("API"), Some("eu")), // overlaps HOOKS
            ("2001:db8::/64", Some("API"), Some("eu")),
            ("2001:db8:0:1::/64", None, None),
        ])
    }

    #[test]
    fn hand_computed() {
        let allow = list_of(&[
            any("10.0.0.0/25"),     // 0: covers half of API/eu's /24
            any("10.0.1.0/24"),     // 1: covers API/us
            any("10.0.1.128/25"),   // 2: redundant to 1
            any("10.0.1.0/24"),     // 3: duplicate of 1: redundant to 1
            any("192.168.0.0/16"),  // 4: stale
            any("api.example.com"), // a name: covers nothing, not in `entries`
            any("2001:db8::/48"),   // 5: covers both v6 /64s; broad (< /56)
            any("8.0.0.0/7"),       // 6: stale and broad (< /8)
            any("10.0.2.0/24"),     // 7
            any("2001:db8::/64"),   // 8: redundant to 5
        ]);
        let c = coverage(&feed(), &allow, None, 8, 56);
        assert_eq!(c.v4.published, 1024u128);
        assert_eq!(c.v4.covered, 128u128 + 256 + 256);
        assert_eq!(c.v4.uncovered, 128u128 + 256);
        assert!((c.v4.percent - 62.5).abs() < 1e-12);
        assert_eq!(c.v6.published, 1u128 << 65);
        assert_eq!(c.v6.uncovered, 0u128);
        assert!((c.v6.percent - 100.0).abs() < f64::EPSILON);
        assert_eq!(c.uncovered, vec![n("10.0.0.128/25"), n("10.0.3.0/24")]);
        let gaps: Vec<Row<'_>> = c
            .gaps
            .iter()
            .map(|g| {
                (
                    g.service.as_deref(),
                    g.region.as_deref(),
                    g.cidrs.clone(),
                    g.addresses.to_string(),
                )
            })
            .collect();
        assert_eq!(
            gaps,
            vec![
                (
                    Some("API"),
                    Some("eu"),
                    vec![n("10.0.0.128/25"), n("10.0.3.0/24")],
                    "384".into()
                ),
                (Some("HOOKS"), None, vec![n("10.0.3.0/24")], "256".into()),
            ]
        );
        assert_eq!(c.stale, vec![4, 6]);
        assert_eq!(c.redundant, vec![(2, 1), (3, 1), (8, 5)]);
        assert_eq!(c.broad, vec![5, 6]);
    }

    #[test]
    fn ports_and_protocols() {
        let published = feed();
        let allow = list_of(&[
            ("10.0.0.0/22", Some(&[(22, 22)]), Some("tcp")), // 0: not 443
            ("10.0.0.0/24", Some(&[(400, 500)]), Some("TCP")), // 1
            ("10.0.0.0/25", Some(&[(443, 443)]), Some("tcp")), // 2: narrower ports
            ("10.0.0.0/25", Some(&[(400, 500)]), Some("tcp")), // 3: redundant to 1
            ("10.0.1.0/24", Some(&[(443, 443)]), Some("udp")), // 4: UDP never counts
            any("10.0.1.0/24"),                              // 5: any port
            ("172.16.0.0/12", Some(&[(443, 443)]), None),    // 6: stale
            ("172.16.0.0/16", Some(&[(1, 1000)]), None),     // 7: stale, ports differ
            ("0.0.0.0/0", Some(&[(22, 22)]), None),          // 8: not counting, not broad
        ]);
        let c = coverage(&published, &allow, Some(443), 8, 32);
        assert_eq!(c.v4.covered, 512u128);
        assert_eq!(c.uncovered, vec![n("10.0.2.0/23"), n("2001:db8::/63")]);
        assert_eq!(c.stale, vec![6, 7]);
        assert_eq!(c.redundant, vec![(3, 1)]);
        assert!(c.broad.is_empty());
        assert_eq!(c.v6.covered, 0u128);
        assert!(c.v6.percent.abs() < f64::EPSILON);

        // Without a port every entry counts.
        let c = coverage(&published, &allow, None, 8, 32);
        assert_eq!(c.v4.uncovered, 0u128);
        assert_eq!(c.broad, vec![8]);
        // 0 (port 22, tcp) is inside 8 (port 22, any protocol).
        assert_eq!(c.redundant, vec![(0, 8), (3, 1)]);
        assert_eq!(c.stale, vec![6, 7]);
    }

    #[test]
    fn empty_inputs() {
        let c = coverage(&feed_of(&[]), &list_of(&[]), None, 8, 32);
        assert!((c.v4.percent - 100.0).abs() < f64::EPSILON);
        assert!(c.gaps.is_empty() && c.uncovered.is_empty());
        let unlabelled = feed_of(&[("10.0.0.0/8", None, None)]);
        let c = coverage(&unlabelled, &list_of(&[any("10.0.0.0/9")]), None, 0, 0);
        assert!(c.gaps.is_empty(), "no breakdown without labels");
        assert_eq!(c.uncovered, vec![n("10.128.0.0/9")]);
        assert!(c.broad.is_empty());
    }

    #[test]
    fn diff_snapshots() {
        let old = feed_of(&[("10.0.0.0/24", None, None), ("2001:db8::/64", None, None)]);
        let new = feed_of(&[("10.0.0.0/23", None, None), ("2001:db8::/65", None, None)]);
        let d = diff(&old, &new, None, None);
        assert_eq!(d.added.to_cidrs(), vec![n("10.0.1.0/24")]);
        assert_eq!(d.removed.to_cidrs(), vec![n("2001:db8::8000:0:0:0/65")]);
        assert!(d.added_uncovered.is_none());
        let allow = list_of(&[
            any("10.0.1.0/25"),
            ("10.0.1.128/25", Some(&[(22, 22)]), None),
        ]);
        let d = diff(&old, &new, Some(&allow), Some(443));
        assert_eq!(
            d.added_uncovered.unwrap().to_cidrs(),
            vec![n("10.0.1.128/25")]
        );
        let d = diff(&old, &new, Some(&allow), None);
        assert!(d.added_uncovered.unwrap().is_empty());
    }

    #[test]
    fn hosts() {
        let allow = list_of(&[
            ("10.0.0.0/8", Some(&[(22, 22)]), None),
            any("*.example.com"),
            any("api.other.com"),
            any("192.0.2.0/24"),
        ]);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(host_covered(ip("10.1.1.1"), &allow, None), Some(0));
        assert_eq!(host_covered(ip("10.1.1.1"), &allow, Some(443)), None);
        assert_eq!(host_covered(ip("::ffff:192.0.2.7"), &allow, None), Some(1));
        assert_eq!(host_covered(ip("1.1.1.1"), &allow, None), None);
        assert_eq!(fqdn_covered("a.b.Example.com.", &allow, Some(443)), Some(0));
        assert_eq!(fqdn_covered("example.com", &allow, None), None);
        assert_eq!(fqdn_covered("badexample.com", &allow, None), None);
        assert_eq!(fqdn_covered("API.other.com", &allow, None), Some(1));
        assert_eq!(fqdn_covered("x.api.other.com", &allow, None), None);
    }

    #[test]
    fn rules_are_canonical() {
        let allow = list_of(&[
            ("10.0.0.0/8", Some(&[(443, 443), (22, 22)]), Some("TCP")),
            ("10.0.0.0/9", Some(&[(22, 22), (443, 443)]), Some("tcp")),
        ]);
        assert_eq!(allow.entries[0].rule, allow.entries[1].rule);
        let c = coverage(&feed(), &allow, None, 8, 32);
        assert_eq!(c.redundant, vec![(1, 0)]);
    }

    fn small_net() -> impl proptest::strategy::Strategy<Value = IpNet> {
        use proptest::prelude::*;
        (0u32..64, 26u8..=32, any::<bool>()).prop_map(|(host, len, v6)| {
            if v6 {
                let a = 0x2001_0db8_u128 << 96 | u128::from(host);
                IpNet::V6(ipnet::Ipv6Net::new(a.into(), len + 96).unwrap().trunc())
            } else {
                let a = 0x0a00_0000 | host;
                IpNet::V4(ipnet::Ipv4Net::new(a.into(), len).unwrap().trunc())
            }
        })
    }

    fn addrs(net: &IpNet) -> std::collections::BTreeSet<(bool, u128)> {
        let (v6, f, l) = match net {
            IpNet::V4(n) => {
                let (f, l) = v4_interval(n);
                (false, u128::from(f), u128::from(l))
            }
            IpNet::V6(n) => {
                let (f, l) = v6_interval(n);
                (true, f, l)
            }
        };
        (f..=l).map(|a| (v6, a)).collect()
    }

    proptest::proptest! {
        #[test]
        fn matches_naive_oracle(
            published in proptest::collection::vec(small_net(), 0..6),
            allow in proptest::collection::vec(
                (small_net(), 0usize..4, 0usize..4, proptest::bool::weighted(0.1)),
                0..10,
            ),
            port in proptest::option::of(proptest::sample::select(vec![22u16, 443])),
        ) {
            let port_opts: [Option<&[(u16, u16)]>; 4] =
                [None, Some(&[(443, 443)]), Some(&[(22, 22), (443, 443)]), Some(&[(443, 443), (22, 22)])];
            let proto_opts = [None, Some("tcp"), Some("TCP"), Some("udp")];
            let nets: Vec<String> = published.iter().map(ToString::to_string).collect();
            let rows: Vec<(&str, Option<&str>, Option<&str>)> = nets
                .iter()
                .enumerate()
                .map(|(i, net)| (net.as_str(), (i % 2 == 0).then_some("S"), (i % 3 == 0).then_some("R")))
                .collect();
            let feed = feed_of(&rows);
            let targets: Vec<String> = allow
                .iter()
                .map(|(net, _, _, name)| if *name { "x.example.com".to_owned() } else { net.to_string() })
                .collect();
            let allow_rows: Vec<AllowRow<'_>> = allow
                .iter()
                .zip(&targets)
                .map(|((_, p, q, _), target)| (target.as_str(), port_opts[*p], proto_opts[*q]))
                .collect();
            let allow = list_of(&allow_rows);
            let c = coverage(&feed, &allow, port, 27, 123);

            let pub_addrs: std::collections::BTreeSet<(bool, u128)> =
                feed.entries.iter().flat_map(|e| addrs(&e.net)).collect();
            let counting: Vec<(usize, IpNet)> = allow
                .entries
                .iter()
                .enumerate()
                .filter(|(_, e)| {
                    // Only TCP (or any protocol) counts, to the port.
                    let r = allow.rule(e.rule);
                    r.protocol.as_deref().is_none_or(|p| p.eq_ignore_ascii_case("tcp"))
                        && r.allows_port(port)
                })
                .map(|(i, e)| (i, e.net))
                .collect();
            let allowed: std::collections::BTreeSet<(bool, u128)> =
                counting.iter().flat_map(|(_, n)| addrs(n)).collect();
            let covered = pub_addrs.intersection(&allowed).count() as u128;
            let uncovered: std::collections::BTreeSet<(bool, u128)> =
                pub_addrs.difference(&allowed).copied().collect();
            proptest::prop_assert_eq!(c.v4.covered + c.v6.covered, AddrCount::from_u128(covered));
            proptest::prop_assert_eq!(
                c.uncovered.iter().flat_map(addrs).collect::<std::collections::BTreeSet<_>>(),
                uncovered.clone()
            );
            let mut want_gaps = Vec::new();
            for service in [None, Some("S")] {
                for region in [None, Some("R")] {
                    let group: std::collections::BTreeSet<(bool, u128)> = feed
                        .entries
                        .iter()
                        .filter(|e| {
                            let l = feed.label_of(e);
                            l.service.as_deref() == service && l.region.as_deref() == region
                        })
                        .flat_map(|e| addrs(&e.net))
                        .collect();
                    let gap: std::collections::BTreeSet<(bool, u128)> =
                        group.intersection(&uncovered).copied().collect();
                    if !gap.is_empty() {
                        want_gaps.push((service, region, gap));
                    }
                }
            }
            // A feed without any label has no breakdown.
            if feed.entries.iter().all(|e| *feed.label_of(e) == Label::default()) {
                want_gaps.clear();
            }
            let got_gaps: Vec<_> = c
                .gaps
                .iter()
                .map(|g| {
                    let set: std::collections::BTreeSet<(bool, u128)> =
                        g.cidrs.iter().flat_map(addrs).collect();
                    proptest::prop_assert_eq!(g.addresses, AddrCount::from_u128(set.len() as u128));
                    Ok((g.service.as_deref(), g.region.as_deref(), set))
                })
                .collect::<Result<_, proptest::test_runner::TestCaseError>>()?;
            proptest::prop_assert_eq!(got_gaps, want_gaps);

            let want_stale: Vec<usize> = counting
                .iter()
                .filter(|(_, n)| addrs(n).is_disjoint(&pub_addrs))
                .map(|(i, _)| *i)
                .collect();
            proptest::prop_assert_eq!(&c.stale, &want_stale);
            let want_broad: Vec<usize> = counting
                .iter()
                .filter(|(_, n)| n.prefix_len() < if matches!(n, IpNet::V4(_)) { 27 } else { 123 })
                .map(|(i, _)| *i)
                .collect();
            proptest::prop_assert_eq!(&c.broad, &want_broad);

            let key = |i: usize| {
                let r = allow.rule(allow.entries[i].rule);
                (
                    r.ports.as_ref().map(|p| crate::model::normalize_ports(p)),
                    r.protocol.as_ref().map(|p| p.to_ascii_lowercase()),
                )
            };
            let valid = |i: usize, j: usize| {
                let (ni, nj) = (counting.iter().find(|c| c.0 == i).unwrap().1, counting.iter().find(|c| c.0 == j).unwrap().1);
                let (ki, kj) = (key(i), key(j));
                i != j
                    && nj.contains(&ni)
                    && (kj.0.is_none() || kj.0 == ki.0)
                    && (kj.1.is_none() || kj.1 == ki.1)
                    && !(ni == nj && ki == kj && j > i)
            };
            let want_redundant: Vec<usize> = counting
                .iter()
                .filter(|(i, _)| counting.iter().any(|(j, _)| valid(*i, *j)))
                .map(|(i, _)| *i)
                .collect();
            let got: Vec<usize> = c.redundant.iter().map(|r| r.0).collect();
            proptest::prop_assert_eq!(got, want_redundant);
            for &(i, j) in &c.redundant {
                proptest::prop_assert!(valid(i, j), "({}, {}) is not a valid container", i, j);
            }
        }
    }
}
