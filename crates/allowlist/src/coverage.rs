//! The coverage report's numbers and the feed diff, computed exactly with
//! the [`set`](crate::set) algebra. Plain structs: the CLI maps them to the
//! report's JSON.
//!
//! Only [`AllowTarget::Net`] entries cover addresses. With a port, an entry
//! *counts* only when it allows that port (`ports` is `None` or one of its
//! ranges holds it); entries that do not count cover nothing and are never
//! reported as stale, redundant or broad.

use std::collections::HashMap;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::model::{AllowEntry, AllowTarget, PortRange, PublishedEntry};
use crate::set::{AddrCount, Address, IpSet, Ranges, v4_interval, v6_interval};

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
    /// Indexes into `allow` of counting network entries that intersect
    /// nothing published, ascending.
    pub stale: Vec<usize>,
    /// `(entry, container)`: indexes into `allow` of a counting network
    /// entry and another counting entry that contains it and allows at
    /// least the same traffic: the container's `ports` is `None` or equal
    /// to the entry's (as a set), and its `protocol` is `None` or equal
    /// (case-insensitive). Of identical entries, the later is redundant to
    /// the earlier. Sorted by entry; each entry at most once.
    pub redundant: Vec<(usize, usize)>,
    /// Indexes into `allow` of counting network entries whose prefix is
    /// shorter than the threshold for their family, ascending.
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

/// Whether `entry` counts for `port` (always, without a port).
pub fn entry_counts(entry: &AllowEntry, port: Option<u16>) -> bool {
    match (port, &entry.ports) {
        (None, _) | (Some(_), None) => true,
        (Some(p), Some(ranges)) => ranges.iter().any(|r| r.first <= p && p <= r.last),
    }
}

/// The union of the published ranges.
pub fn published_set(published: &[PublishedEntry]) -> IpSet {
    IpSet::from_nets(published.iter().map(|e| e.net))
}

/// The addresses the allowlist covers for `port`: the union of its counting
/// network entries.
pub fn allowed_set(allow: &[AllowEntry], port: Option<u16>) -> IpSet {
    IpSet::from_nets(allow.iter().filter_map(|e| match &e.target {
        AllowTarget::Net(net) if entry_counts(e, port) => Some(*net),
        _ => None,
    }))
}

/// Computes the coverage of `published` by the network entries of `allow`
/// that count for `port`. An entry is broad when its prefix is shorter than
/// `broad_v4` (IPv4) or `broad_v6` (IPv6); `0` disables the check.
/// `O((p + a) log(p + a))` for `p` published and `a` allowlist entries.
pub fn coverage(
    published: &[PublishedEntry],
    allow: &[AllowEntry],
    port: Option<u16>,
    broad_v4: u8,
    broad_v6: u8,
) -> Coverage {
    // The published side and the allowlist side are independent until the
    // difference: each gets a core.
    let ((labels, pub4, pub6, pub_set), (broad, allowed, sorted4, sorted6, mut redundant)) =
        std::thread::scope(|scope| {
            let published_side = scope.spawn(|| published_side(published));
            let allowed_side = allowed_side(allow, port, broad_v4, broad_v6);
            let published_side = published_side
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            (published_side, allowed_side)
        });
    let mut stale = stale_in(&sorted4, &pub_set.v4);
    stale.extend(stale_in(&sorted6, &pub_set.v6));
    stale.sort_unstable();
    redundant.sort_unstable();

    let uncovered_set = pub_set.difference(&allowed);

    let family = |published: AddrCount, uncovered: AddrCount| {
        let covered = published.saturating_sub(uncovered);
        FamilyCoverage {
            published,
            covered,
            uncovered,
            percent: covered.percent_of(&published),
        }
    };
    let v4 = family(pub_set.v4.count(), uncovered_set.v4.count());
    let v6 = family(pub_set.v6.count(), uncovered_set.v6.count());

    let uncovered = uncovered_set.to_cidrs();
    // A feed with one label has one group, the whole uncovered set, already
    // computed; a feed without labels has no breakdown at all (it would
    // only repeat `uncovered`).
    if let [(service, region)] = labels[..] {
        let gaps = if uncovered.is_empty() || (service.is_none() && region.is_none()) {
            Vec::new()
        } else {
            vec![Gap {
                service: service.map(str::to_owned),
                region: region.map(str::to_owned),
                cidrs: uncovered.clone(),
                addresses: uncovered_set.count(),
            }]
        };
        return Coverage {
            v4,
            v6,
            uncovered,
            gaps,
            stale,
            redundant,
            broad,
        };
    }
    // Gaps by (service, region), in label order.
    let pieces4 = gap_pieces(&pub4, &uncovered_set.v4, labels.len());
    let pieces6 = gap_pieces(&pub6, &uncovered_set.v6, labels.len());
    let mut order: Vec<usize> = (0..labels.len()).collect();
    order.sort_unstable_by_key(|&id| labels[id]);
    let gaps = order
        .into_iter()
        .filter_map(|id| {
            let gap = IpSet {
                v4: Ranges::from_sorted_intervals(pieces4.get(id)?.iter().copied()),
                v6: Ranges::from_sorted_intervals(pieces6.get(id)?.iter().copied()),
            };
            let (service, region) = labels[id];
            (!gap.is_empty()).then(|| Gap {
                service: service.map(str::to_owned),
                region: region.map(str::to_owned),
                cidrs: gap.to_cidrs(),
                addresses: gap.count(),
            })
        })
        .collect();

    Coverage {
        v4,
        v6,
        uncovered,
        gaps,
        stale,
        redundant,
        broad,
    }
}

/// Published entries as intervals with a label id, sorted once: the
/// published set and the per-label gaps both come from this order.
#[allow(clippy::type_complexity)]
fn published_side(
    published: &[PublishedEntry],
) -> (
    Vec<Label<'_>>,
    Vec<(u32, u32, usize)>,
    Vec<(u128, u128, usize)>,
    IpSet,
) {
    let mut labels: Vec<Label<'_>> = Vec::new();
    let mut label_ids: HashMap<Label<'_>, usize> = HashMap::new();
    let mut last: Option<(Label<'_>, usize)> = None;
    let mut pub4: Vec<(u32, u32, usize)> = Vec::with_capacity(published.len());
    let mut pub6: Vec<(u128, u128, usize)> = Vec::new();
    for e in published {
        let label = (e.service.as_deref(), e.region.as_deref());
        let id = match last {
            Some((l, id)) if l == label => id,
            _ => {
                let id = *label_ids.entry(label).or_insert_with(|| {
                    labels.push(label);
                    labels.len() - 1
                });
                last = Some((label, id));
                id
            }
        };
        match &e.net {
            IpNet::V4(n) => {
                let (f, l) = v4_interval(n);
                pub4.push((f, l, id));
            }
            IpNet::V6(n) => {
                let (f, l) = v6_interval(n);
                pub6.push((f, l, id));
            }
        }
    }
    pub4.sort_unstable();
    pub6.sort_unstable();
    let pub_set = IpSet {
        v4: Ranges::from_sorted_intervals(pub4.iter().map(|&(f, l, _)| (f, l))),
        v6: Ranges::from_sorted_intervals(pub6.iter().map(|&(f, l, _)| (f, l))),
    };
    (labels, pub4, pub6, pub_set)
}

/// The counting network entries, sorted by (first, last descending,
/// index), with the broad ones, the allowed set and the redundant pairs.
#[allow(clippy::type_complexity)]
fn allowed_side(
    allow: &[AllowEntry],
    port: Option<u16>,
    broad_v4: u8,
    broad_v6: u8,
) -> (
    Vec<usize>,
    IpSet,
    Vec<Item<u32>>,
    Vec<Item<u128>>,
    Vec<(usize, usize)>,
) {
    let mut broad = Vec::new();
    let mut keys = KeyTable::default();
    let mut items4: Vec<Item<u32>> = Vec::new();
    let mut items6: Vec<Item<u128>> = Vec::new();
    for (idx, e) in allow.iter().enumerate() {
        let AllowTarget::Net(net) = &e.target else {
            continue;
        };
        if !entry_counts(e, port) {
            continue;
        }
        let key = keys.key_of(e);
        match net {
            IpNet::V4(n) => {
                if n.prefix_len() < broad_v4 {
                    broad.push(idx);
                }
                let (first, last) = v4_interval(n);
                items4.push(Item {
                    first,
                    last,
                    idx,
                    key,
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
                    idx,
                    key,
                });
            }
        }
    }
    let mut redundant = Vec::new();
    let (allowed4, items4) = family_pass(items4, &keys, &mut redundant);
    let (allowed6, items6) = family_pass(items6, &keys, &mut redundant);
    let allowed = IpSet {
        v4: allowed4,
        v6: allowed6,
    };
    (broad, allowed, items4, items6, redundant)
}

/// Indexes of the sorted entries whose interval meets no published
/// interval: one linear sweep.
fn stale_in<T: Address>(items: &[Item<T>], published: &Ranges<T>) -> Vec<usize> {
    let p = published.intervals();
    let mut stale = Vec::new();
    let mut j = 0;
    for it in items {
        while j < p.len() && p[j].1 < it.first {
            j += 1;
        }
        if j == p.len() || p[j].0 > it.last {
            stale.push(it.idx);
        }
    }
    stale
}

/// What a feed added and removed between `old` and `new`; with `allow`,
/// also the added addresses its entries counting for `port` do not cover.
pub fn diff(
    old: &[PublishedEntry],
    new: &[PublishedEntry],
    allow: Option<&[AllowEntry]>,
    port: Option<u16>,
) -> Diff {
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

/// The index of the first allowlist entry counting for `port` that covers
/// a host: a network containing `ip`, or a name matching `name` (exactly,
/// or `*.example.com` for any subdomain of `example.com`, not the apex;
/// case-insensitive, a trailing dot ignored). `None` when none does. An
/// IPv4-mapped IPv6 address is checked as IPv4.
pub fn host_covered(
    ip: IpAddr,
    name: &str,
    allow: &[AllowEntry],
    port: Option<u16>,
) -> Option<usize> {
    let ip = ip.to_canonical();
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    allow.iter().position(|e| {
        entry_counts(e, port)
            && match &e.target {
                AllowTarget::Net(net) => net.contains(&ip),
                AllowTarget::Fqdn(pattern) => name_matches(pattern, &name),
            }
    })
}

/// Whether lower-case `name` matches an allowlist name `pattern`.
/// The index of an FQDN entry (`api.example.com`, `*.example.com`) that
/// names `name`, counting for `port`: such an entry covers the host
/// whatever it resolves to.
pub fn fqdn_covered(name: &str, allow: &[AllowEntry], port: Option<u16>) -> Option<usize> {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    allow.iter().position(|e| {
        entry_counts(e, port)
            && matches!(&e.target, AllowTarget::Fqdn(pattern) if name_matches(pattern, &name))
    })
}

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

/// A published entry's (service, region).
type Label<'a> = (Option<&'a str>, Option<&'a str>);

/// For each label id, the uncovered parts of its published intervals, as
/// disjoint pieces in ascending order. `entries` is sorted by first
/// address; one sweep over it and `uncovered`, with a per-label watermark
/// so nested entries of one label do not emit the same piece twice:
/// `O(n + u + output)`.
fn gap_pieces<T: Address>(
    entries: &[(T, T, usize)],
    uncovered: &Ranges<T>,
    labels: usize,
) -> Vec<Vec<(T, T)>> {
    let mut out: Vec<Vec<(T, T)>> = vec![Vec::new(); labels];
    let mut watermark: Vec<Option<T>> = vec![None; labels];
    let u = uncovered.intervals();
    let mut j = 0;
    for &(first, last, label) in entries {
        while j < u.len() && u[j].1 < first {
            j += 1;
        }
        if j == u.len() {
            break;
        }
        let (Some(pieces), Some(mark)) = (out.get_mut(label), watermark.get_mut(label)) else {
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

/// A counting network entry, as an interval.
#[derive(Debug, Clone, Copy)]
struct Item<T> {
    first: T,
    last: T,
    idx: usize,
    key: usize,
}

/// Interns each entry's traffic key (normalised ports, lower-case
/// protocol); key 0 is "every port, any protocol".
#[derive(Default)]
struct KeyTable {
    ids: HashMap<(Option<Vec<PortRange>>, Option<String>), usize>,
    keys: Vec<(Option<Vec<PortRange>>, Option<String>)>,
}

impl KeyTable {
    /// Whether every entry seen so far has key 0.
    fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn key_of(&mut self, e: &AllowEntry) -> usize {
        if e.ports.is_none() && e.protocol.is_none() {
            return 0;
        }
        let ports = e.ports.as_ref().map(|p| crate::model::normalize_ports(p));
        let protocol = e.protocol.as_ref().map(|p| p.to_ascii_lowercase());
        self.intern((ports, protocol))
    }

    fn intern(&mut self, key: (Option<Vec<PortRange>>, Option<String>)) -> usize {
        if key.0.is_none() && key.1.is_none() {
            return 0;
        }
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        let id = self.keys.len() + 1;
        self.keys.push(key.clone());
        self.ids.insert(key, id);
        id
    }

    /// Existing keys strictly broader than `key`: ports dropped, protocol
    /// dropped, or both.
    fn broader(&self, key: usize) -> Vec<usize> {
        let Some((ports, protocol)) = key.checked_sub(1).and_then(|k| self.keys.get(k)) else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(3);
        let mut add = |k: (Option<Vec<PortRange>>, Option<String>)| {
            let id = if k.0.is_none() && k.1.is_none() {
                Some(0)
            } else {
                self.ids.get(&k).copied()
            };
            if let Some(id) = id
                && id != key
                && !out.contains(&id)
            {
                out.push(id);
            }
        };
        add((None, protocol.clone()));
        add((ports.clone(), None));
        add((None, None));
        out
    }
}

/// One key's entries, sorted by (first, last descending, index), with the
/// running maximum of `last` (and whose it is) over each prefix.
struct Group<T> {
    items: Vec<Item<T>>,
    prefix_max: Vec<(T, usize)>,
}

impl<T: Address> Group<T> {
    /// `items` must be sorted by (first, last descending, index).
    fn new(items: Vec<Item<T>>) -> Self {
        let mut prefix_max: Vec<(T, usize)> = Vec::with_capacity(items.len());
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
    fn container_before(&self, end: usize, last: T) -> Option<usize> {
        let (max_last, idx) = *self.prefix_max.get(end.checked_sub(1)?)?;
        (max_last >= last).then_some(idx)
    }

    /// An entry of this group containing `first..=last` (identical counts).
    fn container_of(&self, first: T, last: T) -> Option<usize> {
        let end = self.items.partition_point(|x| x.first <= first);
        self.container_before(end, last)
    }
}

/// One family's counting entries: sorts them once by (first, last
/// descending, index), notes the redundant ones, and returns the union of
/// the entries (the addresses allowed) with the sorted entries.
fn family_pass<T: Address>(
    mut items: Vec<Item<T>>,
    keys: &KeyTable,
    redundant: &mut Vec<(usize, usize)>,
) -> (Ranges<T>, Vec<Item<T>>) {
    items.sort_unstable_by(|a, b| {
        a.first
            .cmp(&b.first)
            .then(b.last.cmp(&a.last))
            .then(a.idx.cmp(&b.idx))
    });
    let allowed = Ranges::from_sorted_intervals(items.iter().map(|it| (it.first, it.last)));
    redundant.extend(redundant_in(&items, keys));
    (allowed, items)
}

/// `(entry, container)` pairs among one family's counting entries, sorted
/// as in [`family_pass`]: each entry is checked against the earlier-sorted
/// entries of its own key and against every entry of the broader keys.
/// `O(n log n)`.
fn redundant_in<T: Address>(items: &[Item<T>], keys: &KeyTable) -> Vec<(usize, usize)> {
    let mut by_key: HashMap<usize, Vec<Item<T>>> = HashMap::new();
    if keys.is_empty() {
        // Every entry allows every port and protocol: one group.
        by_key.insert(0, items.to_vec());
    } else {
        for it in items {
            by_key.entry(it.key).or_default().push(*it);
        }
    }
    let groups: HashMap<usize, Group<T>> = by_key
        .into_iter()
        .map(|(k, v)| (k, Group::new(v)))
        .collect();
    let mut out = Vec::new();
    for (&key, group) in &groups {
        let broader: Vec<&Group<T>> = keys
            .broader(key)
            .iter()
            .filter_map(|k| groups.get(k))
            .collect();
        for (pos, it) in group.items.iter().enumerate() {
            let container = group.container_before(pos, it.last).or_else(|| {
                broader
                    .iter()
                    .find_map(|g| g.container_of(it.first, it.last))
            });
            if let Some(c) = container {
                out.push((it.idx, c));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;

    type Row<'a> = (Option<&'a str>, Option<&'a str>, Vec<IpNet>, String);

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    fn pubd(net: &str, service: Option<&str>, region: Option<&str>) -> PublishedEntry {
        PublishedEntry {
            net: n(net),
            origin: Origin {
                source: "feed".into(),
                line: 1,
            },
            service: service.map(Into::into),
            region: region.map(Into::into),
        }
    }

    fn allow(target: &str) -> AllowEntry {
        let target = match target.parse::<IpNet>() {
            Ok(net) => AllowTarget::Net(net),
            Err(_) => AllowTarget::Fqdn(target.into()),
        };
        AllowEntry {
            target,
            origin: Origin {
                source: "allow".into(),
                line: 1,
            },
            ports: None,
            protocol: None,
        }
    }

    fn with_ports(target: &str, ports: &[(u16, u16)], protocol: Option<&str>) -> AllowEntry {
        AllowEntry {
            ports: Some(
                ports
                    .iter()
                    .map(|&(first, last)| PortRange { first, last })
                    .collect(),
            ),
            protocol: protocol.map(Into::into),
            ..allow(target)
        }
    }

    fn feed() -> Vec<PublishedEntry> {
        vec![
            pubd("10.0.0.0/24", Some("API"), Some("eu")),
            pubd("10.0.1.0/24", Some("API"), Some("us")),
            pubd("10.0.2.0/23", Some("HOOKS"), None),
            pubd("10.0.3.0/24", Some("API"), Some("eu")), // overlaps HOOKS
            pubd("2001:db8::/64", Some("API"), Some("eu")),
            pubd("2001:db8:0:1::/64", None, None),
        ]
    }

    #[test]
    fn hand_computed() {
        let allow = vec![
            allow("10.0.0.0/25"),     // 0: covers half of API/eu's /24
            allow("10.0.1.0/24"),     // 1: covers API/us
            allow("10.0.1.128/25"),   // 2: redundant to 1
            allow("10.0.1.0/24"),     // 3: duplicate of 1: redundant to 1
            allow("192.168.0.0/16"),  // 4: stale
            allow("api.example.com"), // 5: names cover nothing
            allow("2001:db8::/48"),   // 6: covers both v6 /64s; broad (< /56)
            allow("8.0.0.0/7"),       // 7: stale and broad (< /8)
            allow("10.0.2.0/24"),     // 8
            allow("2001:db8::/64"),   // 9: redundant to 6
        ];
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
        assert_eq!(c.stale, vec![4, 7]);
        assert_eq!(c.redundant, vec![(2, 1), (3, 1), (9, 6)]);
        assert_eq!(c.broad, vec![6, 7]);
    }

    #[test]
    fn ports_and_protocols() {
        let published = feed();
        let allow = vec![
            with_ports("10.0.0.0/22", &[(22, 22)], Some("tcp")), // 0: not 443
            with_ports("10.0.0.0/24", &[(400, 500)], Some("TCP")), // 1
            with_ports("10.0.0.0/25", &[(443, 443)], Some("tcp")), // 2: narrower ports
            with_ports("10.0.0.0/25", &[(400, 500)], Some("tcp")), // 3: redundant to 1
            with_ports("10.0.1.0/24", &[(443, 443)], Some("udp")), // 4
            allow("10.0.1.0/24"), // 5: any port: 4 is redundant to it
            with_ports("172.16.0.0/12", &[(443, 443)], None), // 6: stale
            with_ports("172.16.0.0/16", &[(1, 1000)], None), // 7: stale, ports differ
            with_ports("0.0.0.0/0", &[(22, 22)], None), // 8: not counting, not broad
        ];
        let c = coverage(&published, &allow, Some(443), 8, 32);
        assert_eq!(c.v4.covered, 512u128);
        assert_eq!(c.uncovered, vec![n("10.0.2.0/23"), n("2001:db8::/63")]);
        assert_eq!(c.stale, vec![6, 7]);
        assert_eq!(c.redundant, vec![(3, 1), (4, 5)]);
        assert!(c.broad.is_empty());
        assert_eq!(c.v6.covered, 0u128);
        assert!(c.v6.percent.abs() < f64::EPSILON);

        // Without a port every entry counts.
        let c = coverage(&published, &allow, None, 8, 32);
        assert_eq!(c.v4.uncovered, 0u128);
        assert_eq!(c.broad, vec![8]);
        // 0 (port 22, tcp) is inside 8 (port 22, any protocol).
        assert_eq!(c.redundant, vec![(0, 8), (3, 1), (4, 5)]);
        assert_eq!(c.stale, vec![6, 7]);
    }

    #[test]
    fn empty_inputs() {
        let c = coverage(&[], &[], None, 8, 32);
        assert!((c.v4.percent - 100.0).abs() < f64::EPSILON);
        assert!(c.gaps.is_empty() && c.uncovered.is_empty());
        let unlabelled = vec![pubd("10.0.0.0/8", None, None)];
        let c = coverage(&unlabelled, &[allow("10.0.0.0/9")], None, 0, 0);
        assert!(c.gaps.is_empty(), "no breakdown without labels");
        assert_eq!(c.uncovered, vec![n("10.128.0.0/9")]);
        assert!(c.broad.is_empty());
    }

    #[test]
    fn diff_snapshots() {
        let old = vec![
            pubd("10.0.0.0/24", None, None),
            pubd("2001:db8::/64", None, None),
        ];
        let new = vec![
            pubd("10.0.0.0/23", None, None),
            pubd("2001:db8::/65", None, None),
        ];
        let d = diff(&old, &new, None, None);
        assert_eq!(d.added.to_cidrs(), vec![n("10.0.1.0/24")]);
        assert_eq!(d.removed.to_cidrs(), vec![n("2001:db8::8000:0:0:0/65")]);
        assert!(d.added_uncovered.is_none());
        let allow = vec![
            allow("10.0.1.0/25"),
            with_ports("10.0.1.128/25", &[(22, 22)], None),
        ];
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
        let allow = vec![
            with_ports("10.0.0.0/8", &[(22, 22)], None),
            allow("*.example.com"),
            allow("api.other.com"),
            allow("192.0.2.0/24"),
        ];
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            host_covered(ip("10.1.1.1"), "x.test", &allow, None),
            Some(0)
        );
        assert_eq!(
            host_covered(ip("10.1.1.1"), "x.test", &allow, Some(443)),
            None
        );
        assert_eq!(
            host_covered(ip("1.1.1.1"), "a.b.Example.com.", &allow, Some(443)),
            Some(1)
        );
        assert_eq!(
            host_covered(ip("1.1.1.1"), "example.com", &allow, None),
            None
        );
        assert_eq!(
            host_covered(ip("1.1.1.1"), "badexample.com", &allow, None),
            None
        );
        assert_eq!(
            host_covered(ip("1.1.1.1"), "API.other.com", &allow, None),
            Some(2)
        );
        assert_eq!(
            host_covered(ip("1.1.1.1"), "x.api.other.com", &allow, None),
            None
        );
        assert_eq!(
            host_covered(ip("::ffff:192.0.2.7"), "x.test", &allow, None),
            Some(3)
        );
    }

    fn keyed(net: IpNet, ports: Option<Vec<PortRange>>, protocol: Option<&str>) -> AllowEntry {
        AllowEntry {
            target: AllowTarget::Net(net),
            origin: Origin {
                source: "a".into(),
                line: 1,
            },
            ports,
            protocol: protocol.map(Into::into),
        }
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
                (small_net(), 0usize..4, 0usize..3, proptest::bool::weighted(0.1)),
                0..10,
            ),
            port in proptest::option::of(proptest::sample::select(vec![22u16, 443])),
        ) {
            let port_opts = [None, Some(vec![PortRange { first: 443, last: 443 }]),
                Some(vec![PortRange { first: 22, last: 22 }, PortRange { first: 443, last: 443 }]),
                Some(vec![PortRange { first: 443, last: 443 }, PortRange { first: 22, last: 22 }])];
            let proto_opts = [None, Some("tcp"), Some("TCP")];
            let published: Vec<PublishedEntry> = published
                .iter()
                .enumerate()
                .map(|(i, net)| PublishedEntry {
                    net: *net,
                    origin: Origin { source: "p".into(), line: i },
                    service: (i % 2 == 0).then(|| "S".to_owned()),
                    region: (i % 3 == 0).then(|| "R".to_owned()),
                })
                .collect();
            let allow: Vec<AllowEntry> = allow
                .iter()
                .map(|(net, p, q, name)| {
                    if *name {
                        super::tests::allow("x.example.com")
                    } else {
                        keyed(*net, port_opts[*p].clone(), proto_opts[*q])
                    }
                })
                .collect();
            let c = coverage(&published, &allow, port, 27, 123);

            let pub_addrs: std::collections::BTreeSet<(bool, u128)> =
                published.iter().flat_map(|e| addrs(&e.net)).collect();
            let counting: Vec<(usize, IpNet)> = allow
                .iter()
                .enumerate()
                .filter(|(_, e)| entry_counts(e, port))
                .filter_map(|(i, e)| match e.target {
                    AllowTarget::Net(n) => Some((i, n)),
                    AllowTarget::Fqdn(_) => None,
                })
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
                    let group: std::collections::BTreeSet<(bool, u128)> = published
                        .iter()
                        .filter(|e| e.service.as_deref() == service && e.region.as_deref() == region)
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
            if published.iter().all(|e| e.service.is_none() && e.region.is_none()) {
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
                let e = &allow[i];
                (
                    e.ports.as_ref().map(|p| crate::model::normalize_ports(p)),
                    e.protocol.as_ref().map(|p| p.to_ascii_lowercase()),
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
