//! Exact interval-set algebra on IP addresses.
//!
//! [`Ranges<T>`] is a set of addresses of one family (`u32` for IPv4,
//! `u128` for IPv6) kept as a sorted list of disjoint, non-adjacent,
//! inclusive intervals. Every operation is a linear (or galloping) merge
//! over those lists, so nothing is ever enumerated address by address and
//! the ends of the address space (`u32::MAX`, `u128::MAX`) are handled
//! without overflow. [`IpSet`] pairs the two families; [`AddrCount`] counts
//! addresses exactly, up to and beyond the 2^128 addresses of all of IPv6.

use std::cmp::Ordering;
use std::fmt::{self, Write as _};
use std::iter::Sum;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::{Add, AddAssign};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// An address of one IP family, as an unsigned integer: `u32` (IPv4) or
/// `u128` (IPv6).
pub trait Address: Copy + Ord + Eq + fmt::Debug + Send + Sync + 'static {
    /// Width of the address in bits (32 or 128).
    const BITS: u8;
    /// The lowest address (`0`).
    const ZERO: Self;
    /// The highest address (all ones).
    const MAX: Self;
    /// The address widened to `u128`.
    fn to_u128(self) -> u128;
    /// The address from a `u128`, keeping only the low [`Self::BITS`] bits.
    fn from_u128(value: u128) -> Self;
    /// The next address, `None` at [`Self::MAX`].
    fn succ(self) -> Option<Self>;
    /// The previous address, `None` at [`Self::ZERO`].
    fn pred(self) -> Option<Self>;
    /// The CIDR block of `prefix_len` starting at `self` (host bits are
    /// cleared; `prefix_len` is clamped to [`Self::BITS`]).
    fn to_net(self, prefix_len: u8) -> IpNet;
    /// The high 64 bits (an IPv4 address whole), a radix sort key that
    /// orders as the address does, with ties for IPv6 addresses that share
    /// their first 64 bits.
    fn high64(self) -> u64;
}

impl Address for u32 {
    const BITS: u8 = 32;
    const ZERO: Self = 0;
    const MAX: Self = u32::MAX;
    fn to_u128(self) -> u128 {
        u128::from(self)
    }
    fn from_u128(value: u128) -> Self {
        value as u32
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
    fn to_net(self, prefix_len: u8) -> IpNet {
        let len = prefix_len.min(32);
        // The default is unreachable: `len` is at most 32.
        let net = Ipv4Net::new(Ipv4Addr::from(self), len).unwrap_or_default();
        IpNet::V4(net.trunc())
    }
    fn high64(self) -> u64 {
        u64::from(self)
    }
}

impl Address for u128 {
    const BITS: u8 = 128;
    const ZERO: Self = 0;
    const MAX: Self = u128::MAX;
    fn to_u128(self) -> u128 {
        self
    }
    fn from_u128(value: u128) -> Self {
        value
    }
    fn succ(self) -> Option<Self> {
        self.checked_add(1)
    }
    fn pred(self) -> Option<Self> {
        self.checked_sub(1)
    }
    fn to_net(self, prefix_len: u8) -> IpNet {
        let len = prefix_len.min(128);
        // The default is unreachable: `len` is at most 128.
        let net = Ipv6Net::new(Ipv6Addr::from(self), len).unwrap_or_default();
        IpNet::V6(net.trunc())
    }
    fn high64(self) -> u64 {
        // The shift leaves 64 bits.
        #[allow(clippy::cast_possible_truncation)]
        let high = (self >> 64) as u64;
        high
    }
}

/// The inclusive address interval of an IPv4 network (host bits ignored).
pub fn v4_interval(net: &Ipv4Net) -> (u32, u32) {
    (u32::from(net.network()), u32::from(net.broadcast()))
}

/// The inclusive address interval of an IPv6 network (host bits ignored).
pub fn v6_interval(net: &Ipv6Net) -> (u128, u128) {
    (u128::from(net.network()), u128::from(net.broadcast()))
}

/// A set of addresses of one family: sorted, disjoint, non-adjacent,
/// inclusive `(first, last)` intervals.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ranges<T: Address> {
    intervals: Vec<(T, T)>,
}

impl<T: Address> Default for Ranges<T> {
    fn default() -> Self {
        Ranges {
            intervals: Vec::new(),
        }
    }
}

impl<T: Address> FromIterator<(T, T)> for Ranges<T> {
    fn from_iter<I: IntoIterator<Item = (T, T)>>(iter: I) -> Self {
        Ranges::from_intervals(iter)
    }
}

/// Appends `(first, last)` to a list built in nondecreasing `first` order,
/// merging it into the previous interval when they overlap or touch.
fn push_merge<T: Address>(out: &mut Vec<(T, T)>, first: T, last: T) {
    if let Some(prev) = out.last_mut() {
        let touches = match prev.1.succ() {
            None => true,
            Some(next) => first <= next,
        };
        if touches {
            if last > prev.1 {
                prev.1 = last;
            }
            return;
        }
    }
    out.push((first, last));
}

/// The index of the first element of `s` for which `pred` is false, where
/// `pred` is true on a prefix of `s`; exponential then binary search, so
/// skipping `k` elements costs `O(log k)`.
fn gallop<X>(s: &[X], pred: impl Fn(&X) -> bool) -> usize {
    let mut hi = 1;
    while hi < s.len() && pred(&s[hi]) {
        hi *= 2;
    }
    let lo = hi / 2;
    let hi = hi.min(s.len());
    lo + s[lo..hi].partition_point(pred)
}

fn ordered<T: Address>(a: T, b: T) -> (T, T) {
    if a <= b { (a, b) } else { (b, a) }
}

impl<T: Address> Ranges<T> {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The set covering every address of the family.
    pub fn full() -> Self {
        Ranges {
            intervals: vec![(T::ZERO, T::MAX)],
        }
    }

    /// The union of inclusive intervals given in any order (overlapping and
    /// adjacent ones are merged; an interval with `first > last` is read with
    /// its bounds swapped). Sorts with `sort_unstable`: `O(n log n)`.
    pub fn from_intervals<I: IntoIterator<Item = (T, T)>>(iter: I) -> Self {
        let mut v: Vec<(T, T)> = iter.into_iter().map(|(a, b)| ordered(a, b)).collect();
        crate::sort::sort_by_key_then(&mut v, |x| x.0.high64(), Ord::cmp);
        // Merge in place: `out` is the length of the merged prefix.
        let mut out = 0usize;
        for i in 0..v.len() {
            let (first, last) = v[i];
            if out > 0 {
                let prev = &mut v[out - 1];
                let touches = match prev.1.succ() {
                    None => true,
                    Some(next) => first <= next,
                };
                if touches {
                    if last > prev.1 {
                        prev.1 = last;
                    }
                    continue;
                }
            }
            v[out] = (first, last);
            out += 1;
        }
        v.truncate(out);
        v.shrink_to_fit();
        Ranges { intervals: v }
    }

    /// The union of intervals already sorted by `first` (and each with
    /// `first <= last`), merged in one pass without sorting.
    pub(crate) fn from_sorted_intervals<I: IntoIterator<Item = (T, T)>>(iter: I) -> Self {
        let mut out = Vec::new();
        for (first, last) in iter {
            push_merge(&mut out, first, last);
        }
        Ranges { intervals: out }
    }

    /// The intervals: sorted, disjoint and non-adjacent.
    pub fn intervals(&self) -> &[(T, T)] {
        &self.intervals
    }

    /// Iterates over the intervals in ascending order.
    pub fn iter(&self) -> std::slice::Iter<'_, (T, T)> {
        self.intervals.iter()
    }

    /// Whether the set holds no address.
    pub fn is_empty(&self) -> bool {
        self.intervals.is_empty()
    }

    /// The number of intervals (not addresses: see [`Ranges::count`]).
    pub fn len(&self) -> usize {
        self.intervals.len()
    }

    /// The exact number of addresses in the set.
    pub fn count(&self) -> AddrCount {
        self.intervals
            .iter()
            .map(|&(f, l)| AddrCount::from_span(f.to_u128(), l.to_u128()))
            .sum()
    }

    /// Every address in either set.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        let (lhs, rhs) = (&self.intervals, &other.intervals);
        let mut out = Vec::with_capacity(lhs.len() + rhs.len());
        let (mut i, mut j) = (0, 0);
        while i < lhs.len() || j < rhs.len() {
            let take_lhs = j >= rhs.len() || (i < lhs.len() && lhs[i].0 <= rhs[j].0);
            let (first, last) = if take_lhs {
                i += 1;
                lhs[i - 1]
            } else {
                j += 1;
                rhs[j - 1]
            };
            push_merge(&mut out, first, last);
        }
        Ranges { intervals: out }
    }

    /// Every address in both sets. Gallops over runs of one list that end
    /// before the other's current interval, so a small set intersected with
    /// a huge one costs `O(small · log(huge))`.
    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        let (a, b) = (&self.intervals, &other.intervals);
        let mut out = Vec::new();
        let (mut i, mut j) = (0, 0);
        while i < a.len() && j < b.len() {
            if a[i].1 < b[j].0 {
                let start = b[j].0;
                i += gallop(&a[i..], |x| x.1 < start);
                continue;
            }
            if b[j].1 < a[i].0 {
                let start = a[i].0;
                j += gallop(&b[j..], |x| x.1 < start);
                continue;
            }
            let first = a[i].0.max(b[j].0);
            let last = a[i].1.min(b[j].1);
            push_merge(&mut out, first, last);
            if a[i].1 < b[j].1 {
                i += 1;
            } else {
                j += 1;
            }
        }
        Ranges { intervals: out }
    }

    /// Every address in `self` but not in `other`. Gallops over `other`, so
    /// a small set minus a huge one costs `O(small · log(huge))`.
    #[must_use]
    pub fn difference(&self, other: &Self) -> Self {
        let (a, b) = (&self.intervals, &other.intervals);
        let mut out = Vec::new();
        let mut j = 0;
        for &(f, l) in a {
            j += gallop(&b[j..], |x| x.1 < f);
            let mut cur = f;
            let mut k = j;
            loop {
                if k >= b.len() || b[k].0 > l {
                    push_merge(&mut out, cur, l);
                    break;
                }
                // b[k] overlaps [cur, l].
                if b[k].0 > cur
                    && let Some(before) = b[k].0.pred()
                {
                    push_merge(&mut out, cur, before);
                }
                match b[k].1.succ() {
                    Some(next) if next <= l => {
                        cur = next;
                        k += 1;
                    }
                    _ => break,
                }
            }
            j = k;
        }
        Ranges { intervals: out }
    }

    /// Whether `addr` is in the set (binary search).
    pub fn contains(&self, addr: T) -> bool {
        let i = self.intervals.partition_point(|x| x.0 <= addr);
        i > 0 && self.intervals[i - 1].1 >= addr
    }

    /// Whether every address of `first..=last` is in the set.
    pub fn contains_range(&self, first: T, last: T) -> bool {
        let (first, last) = ordered(first, last);
        let i = self.intervals.partition_point(|x| x.0 <= first);
        i > 0 && self.intervals[i - 1].1 >= last
    }

    /// Whether some address of `first..=last` is in the set.
    pub fn intersects_range(&self, first: T, last: T) -> bool {
        let (first, last) = ordered(first, last);
        let i = self.intervals.partition_point(|x| x.1 < first);
        i < self.intervals.len() && self.intervals[i].0 <= last
    }

    /// The set as the fewest CIDR blocks, ascending: each interval is cut
    /// greedily into the largest aligned block starting at its first
    /// address that fits.
    pub fn to_cidrs(&self) -> Vec<IpNet> {
        let mut out = Vec::with_capacity(self.intervals.len());
        for &(f, l) in &self.intervals {
            push_cidrs::<T>(&mut out, f.to_u128(), l.to_u128());
        }
        out
    }
}

impl<'a, T: Address> IntoIterator for &'a Ranges<T> {
    type Item = &'a (T, T);
    type IntoIter = std::slice::Iter<'a, (T, T)>;
    fn into_iter(self) -> Self::IntoIter {
        self.intervals.iter()
    }
}

/// `2^k - 1`, for `k` in `0..=128`.
fn low_mask(k: u32) -> u128 {
    if k >= 128 {
        u128::MAX
    } else {
        (1u128 << k) - 1
    }
}

/// Appends the minimal CIDR cover of `first..=last` (values of a `T`
/// widened to `u128`).
fn push_cidrs<T: Address>(out: &mut Vec<IpNet>, mut first: u128, last: u128) {
    let bits = u32::from(T::BITS);
    loop {
        let align = if first == 0 {
            bits
        } else {
            first.trailing_zeros().min(bits)
        };
        let span_minus_one = last - first;
        // floor(log2(span)), span = last - first + 1 (2^128 when the whole
        // IPv6 space).
        let fits = if span_minus_one == u128::MAX {
            128
        } else {
            (span_minus_one + 1).ilog2()
        };
        let k = align.min(fits);
        out.push(T::from_u128(first).to_net((bits - k) as u8));
        let block_last = first + low_mask(k);
        if block_last >= last {
            break;
        }
        first = block_last + 1;
    }
}

/// The minimal CIDRs covering exactly `first..=last`, in order; an error
/// when the two are of different families or out of order.
pub(crate) fn range_to_cidrs(first: IpAddr, last: IpAddr) -> Result<Vec<IpNet>, String> {
    let mut out = Vec::new();
    match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) if a <= b => {
            push_cidrs::<u32>(&mut out, u32::from(a).into(), u32::from(b).into());
        }
        (IpAddr::V6(a), IpAddr::V6(b)) if a <= b => {
            push_cidrs::<u128>(&mut out, a.into(), b.into());
        }
        (IpAddr::V4(_), IpAddr::V4(_)) | (IpAddr::V6(_), IpAddr::V6(_)) => {
            return Err(format!("range {first}-{last} is backwards"));
        }
        _ => return Err(format!("range {first}-{last} mixes address families")),
    }
    Ok(out)
}

/// A set of IPv4 and IPv6 addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct IpSet {
    /// The IPv4 addresses.
    pub v4: Ranges<u32>,
    /// The IPv6 addresses.
    pub v6: Ranges<u128>,
}

impl FromIterator<IpNet> for IpSet {
    fn from_iter<I: IntoIterator<Item = IpNet>>(iter: I) -> Self {
        IpSet::from_nets(iter)
    }
}

impl IpSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// The union of networks (host bits are ignored: `10.0.0.1/8` is
    /// `10.0.0.0/8`).
    pub fn from_nets<I: IntoIterator<Item = IpNet>>(nets: I) -> Self {
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        for net in nets {
            match net {
                IpNet::V4(n) => v4.push(v4_interval(&n)),
                IpNet::V6(n) => v6.push(v6_interval(&n)),
            }
        }
        IpSet {
            v4: Ranges::from_intervals(v4),
            v6: Ranges::from_intervals(v6),
        }
    }

    /// Whether the set holds no address of either family.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// The exact number of addresses, both families together.
    pub fn count(&self) -> AddrCount {
        self.v4.count() + self.v6.count()
    }

    /// Every address in either set.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        IpSet {
            v4: self.v4.union(&other.v4),
            v6: self.v6.union(&other.v6),
        }
    }

    /// Every address in both sets.
    #[must_use]
    pub fn intersection(&self, other: &Self) -> Self {
        IpSet {
            v4: self.v4.intersection(&other.v4),
            v6: self.v6.intersection(&other.v6),
        }
    }

    /// Every address in `self` but not in `other`.
    #[must_use]
    pub fn difference(&self, other: &Self) -> Self {
        IpSet {
            v4: self.v4.difference(&other.v4),
            v6: self.v6.difference(&other.v6),
        }
    }

    /// The set as the fewest CIDR blocks: IPv4 ascending, then IPv6
    /// ascending.
    pub fn to_cidrs(&self) -> Vec<IpNet> {
        let mut out = self.v4.to_cidrs();
        out.extend(self.v6.to_cidrs());
        out
    }

    /// Whether `ip` is in the set. An IPv4-mapped IPv6 address
    /// (`::ffff:a.b.c.d`) is looked up as IPv6, as written.
    pub fn contains_ip(&self, ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(a) => self.v4.contains(u32::from(a)),
            IpAddr::V6(a) => self.v6.contains(u128::from(a)),
        }
    }

    /// Whether every address of `net` is in the set.
    pub fn contains_net(&self, net: &IpNet) -> bool {
        match net {
            IpNet::V4(n) => {
                let (f, l) = v4_interval(n);
                self.v4.contains_range(f, l)
            }
            IpNet::V6(n) => {
                let (f, l) = v6_interval(n);
                self.v6.contains_range(f, l)
            }
        }
    }

    /// Whether some address of `net` is in the set.
    pub fn intersects_net(&self, net: &IpNet) -> bool {
        match net {
            IpNet::V4(n) => {
                let (f, l) = v4_interval(n);
                self.v4.intersects_range(f, l)
            }
            IpNet::V6(n) => {
                let (f, l) = v6_interval(n);
                self.v6.intersects_range(f, l)
            }
        }
    }
}

/// An exact count of addresses. Holds any sum of address counts, in
/// particular 2^128 (all of IPv6), which does not fit a `u128`. Displays
/// and serialises as a decimal string.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AddrCount {
    /// 192-bit value, most significant limb first (so the derived ordering
    /// is numeric).
    limbs: [u64; 3],
}

impl AddrCount {
    /// Zero addresses.
    pub const ZERO: AddrCount = AddrCount { limbs: [0; 3] };

    /// A count that fits a `u128`.
    pub fn from_u128(n: u128) -> Self {
        AddrCount {
            limbs: [0, (n >> 64) as u64, n as u64],
        }
    }

    /// The number of addresses in `first..=last` (`0` when `first > last`);
    /// `from_span(0, u128::MAX)` is 2^128.
    pub fn from_span(first: u128, last: u128) -> Self {
        if first > last {
            return AddrCount::ZERO;
        }
        match (last - first).checked_add(1) {
            Some(n) => AddrCount::from_u128(n),
            None => AddrCount { limbs: [1, 0, 0] },
        }
    }

    /// The count as a `u128`, `None` when it is 2^128 or more.
    pub fn to_u128(self) -> Option<u128> {
        if self.limbs[0] == 0 {
            Some((u128::from(self.limbs[1]) << 64) | u128::from(self.limbs[2]))
        } else {
            None
        }
    }

    /// Whether the count is zero.
    pub fn is_zero(self) -> bool {
        self.limbs == [0; 3]
    }

    /// The count as a float (rounded to 53 significant bits).
    pub fn as_f64(self) -> f64 {
        const TWO_64: f64 = 18_446_744_073_709_551_616.0;
        let [hi, mid, lo] = self.limbs;
        (hi as f64 * TWO_64 + mid as f64) * TWO_64 + lo as f64
    }

    /// `self` as a percentage of `total`. Coverage of nothing is vacuously
    /// complete: `100.0` when `total` is zero. When `self < total` the
    /// result is strictly below `100.0` (even where rounding would reach
    /// it), so "100 %" is only ever claimed for a complete count; when
    /// `self > 0` it is strictly above `0.0`.
    pub fn percent_of(&self, total: &AddrCount) -> f64 {
        if total.is_zero() {
            return 100.0;
        }
        let p = self.as_f64() / total.as_f64() * 100.0;
        if self < total && p >= 100.0 {
            100.0f64.next_down()
        } else {
            p
        }
    }

    /// The sum, saturating at 2^192 − 1 (unreachable by address counts).
    #[must_use]
    pub fn saturating_add(self, other: AddrCount) -> AddrCount {
        let mut limbs = [0u64; 3];
        let mut carry = false;
        for i in (0..3).rev() {
            let (s1, c1) = self.limbs[i].overflowing_add(other.limbs[i]);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            limbs[i] = s2;
            carry = c1 || c2;
        }
        if carry {
            return AddrCount {
                limbs: [u64::MAX; 3],
            };
        }
        AddrCount { limbs }
    }

    /// The difference, `0` when `other > self`.
    #[must_use]
    pub fn saturating_sub(self, other: AddrCount) -> AddrCount {
        if other >= self {
            return AddrCount::ZERO;
        }
        let mut limbs = [0u64; 3];
        let mut borrow = false;
        for i in (0..3).rev() {
            let (d1, b1) = self.limbs[i].overflowing_sub(other.limbs[i]);
            let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
            limbs[i] = d2;
            borrow = b1 || b2;
        }
        AddrCount { limbs }
    }
}

impl From<u128> for AddrCount {
    fn from(n: u128) -> Self {
        AddrCount::from_u128(n)
    }
}

impl From<u64> for AddrCount {
    fn from(n: u64) -> Self {
        AddrCount::from_u128(u128::from(n))
    }
}

impl Add for AddrCount {
    type Output = AddrCount;
    fn add(self, other: AddrCount) -> AddrCount {
        self.saturating_add(other)
    }
}

impl AddAssign for AddrCount {
    fn add_assign(&mut self, other: AddrCount) {
        *self = self.saturating_add(other);
    }
}

impl Sum for AddrCount {
    fn sum<I: Iterator<Item = AddrCount>>(iter: I) -> Self {
        iter.fold(AddrCount::ZERO, Add::add)
    }
}

impl PartialEq<u128> for AddrCount {
    fn eq(&self, other: &u128) -> bool {
        self.to_u128() == Some(*other)
    }
}

impl PartialOrd<u128> for AddrCount {
    fn partial_cmp(&self, other: &u128) -> Option<Ordering> {
        Some(self.cmp(&AddrCount::from_u128(*other)))
    }
}

impl fmt::Display for AddrCount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Base 10^19 digits, least significant first; 2^192 < 10^58 needs 4.
        const BASE: u128 = 10_000_000_000_000_000_000;
        let mut n = self.limbs;
        let mut parts = [0u64; 4];
        let mut used = 0;
        loop {
            let mut rem: u128 = 0;
            for limb in &mut n {
                let cur = (rem << 64) | u128::from(*limb);
                *limb = (cur / BASE) as u64;
                rem = cur % BASE;
            }
            parts[used] = rem as u64;
            used += 1;
            if n == [0; 3] || used == parts.len() {
                break;
            }
        }
        let mut s = String::with_capacity(used * 19);
        write!(s, "{}", parts[used - 1])?;
        for p in parts[..used - 1].iter().rev() {
            write!(s, "{p:019}")?;
        }
        f.pad(&s)
    }
}

impl serde::Serialize for AddrCount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(test)]
#[allow(clippy::many_single_char_names)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// Intervals as offsets in `0..512` from `base`.
    fn to_ranges<T: Address>(base: u128, ivs: &[(u16, u16)]) -> Ranges<T> {
        Ranges::from_intervals(ivs.iter().map(|&(a, b)| {
            (
                T::from_u128(base + u128::from(a)),
                T::from_u128(base + u128::from(b)),
            )
        }))
    }

    fn oracle(ivs: &[(u16, u16)]) -> BTreeSet<u128> {
        let mut s = BTreeSet::new();
        for &(a, b) in ivs {
            let (a, b) = if a <= b { (a, b) } else { (b, a) };
            s.extend((a..=b).map(u128::from));
        }
        s
    }

    fn members<T: Address>(base: u128, r: &Ranges<T>) -> BTreeSet<u128> {
        let mut s = BTreeSet::new();
        for &(f, l) in r {
            s.extend((f.to_u128() - base)..=(l.to_u128() - base));
        }
        s
    }

    fn check_canonical<T: Address>(r: &Ranges<T>) {
        for w in r.intervals().windows(2) {
            assert!(w[0].0 <= w[0].1);
            assert!(
                w[0].1.succ().is_some_and(|n| n < w[1].0),
                "not merged: {w:?}"
            );
        }
    }

    fn net_bounds(net: &IpNet) -> (u128, u128) {
        match net {
            IpNet::V4(n) => {
                let (f, l) = v4_interval(n);
                (u128::from(f), u128::from(l))
            }
            IpNet::V6(n) => v6_interval(n),
        }
    }

    fn check_cidrs<T: Address>(base: u128, r: &Ranges<T>, expect: &BTreeSet<u128>) {
        let cidrs = r.to_cidrs();
        let mut covered = BTreeSet::new();
        let mut total = 0u128;
        for net in &cidrs {
            assert_eq!(net.max_prefix_len(), T::BITS);
            assert_eq!(net.addr(), net.network(), "not truncated: {net}");
            let (f, l) = net_bounds(net);
            total += l - f + 1;
            covered.extend((f - base)..=(l - base));
        }
        assert_eq!(&covered, expect, "cover");
        assert_eq!(total, expect.len() as u128, "disjoint");
        for w in cidrs.windows(2) {
            assert!(net_bounds(&w[0]).1 < net_bounds(&w[1]).0, "sorted");
        }
        for (i, a) in cidrs.iter().enumerate() {
            for b in &cidrs[i + 1..] {
                assert!(!a.is_sibling(b), "mergeable {a} {b}");
            }
        }
    }

    fn ivs() -> impl Strategy<Value = Vec<(u16, u16)>> {
        prop::collection::vec((0u16..512, 0u16..512), 0..8).prop_map(|v| {
            // Mostly short intervals, so sets have several pieces.
            v.into_iter()
                .map(|(a, b)| {
                    if b > a + 40 {
                        (a, a + (b - a) % 40)
                    } else {
                        (a, b)
                    }
                })
                .collect()
        })
    }

    fn bases32() -> impl Strategy<Value = u128> {
        prop_oneof![
            Just(0u128),
            Just(3),
            Just(1_000_001),
            Just(u128::from(u32::MAX) - 511),
            Just(u128::from(u32::MAX) - 700),
        ]
    }

    fn bases128() -> impl Strategy<Value = u128> {
        prop_oneof![
            Just(0u128),
            Just(5),
            Just(1u128 << 100),
            Just(u128::MAX - 511),
            Just(u128::MAX - 600),
        ]
    }

    fn run_all<T: Address>(base: u128, a: &[(u16, u16)], b: &[(u16, u16)], probe: u16) {
        let (ra, rb) = (to_ranges::<T>(base, a), to_ranges::<T>(base, b));
        let (oa, ob) = (oracle(a), oracle(b));
        check_canonical(&ra);
        assert_eq!(members(base, &ra), oa);
        assert_eq!(ra.is_empty(), oa.is_empty());
        assert_eq!(ra.count(), AddrCount::from_u128(oa.len() as u128));

        let u = ra.union(&rb);
        check_canonical(&u);
        assert_eq!(members(base, &u), oa.union(&ob).copied().collect());
        let i = ra.intersection(&rb);
        check_canonical(&i);
        assert_eq!(members(base, &i), oa.intersection(&ob).copied().collect());
        let d = ra.difference(&rb);
        check_canonical(&d);
        let od: BTreeSet<u128> = oa.difference(&ob).copied().collect();
        assert_eq!(members(base, &d), od);
        assert_eq!(d.count(), AddrCount::from_u128(od.len() as u128));

        check_cidrs(base, &ra, &oa);
        check_cidrs(base, &d, &od);

        let p = u128::from(probe);
        assert_eq!(ra.contains(T::from_u128(base + p)), oa.contains(&p));
        for &(x, y) in b {
            let (x, y) = (u128::from(x.min(y)), u128::from(x.max(y)));
            let (tx, ty) = (T::from_u128(base + x), T::from_u128(base + y));
            assert_eq!(ra.contains_range(tx, ty), (x..=y).all(|v| oa.contains(&v)));
            assert_eq!(
                ra.intersects_range(tx, ty),
                (x..=y).any(|v| oa.contains(&v))
            );
            assert_eq!(ra.contains_range(ty, tx), ra.contains_range(tx, ty));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]
        #[test]
        fn algebra_v4(base in bases32(), a in ivs(), b in ivs(), probe in 0u16..512) {
            run_all::<u32>(base, &a, &b, probe);
        }

        #[test]
        fn algebra_v6(base in bases128(), a in ivs(), b in ivs(), probe in 0u16..512) {
            run_all::<u128>(base, &a, &b, probe);
        }

        #[test]
        fn ipset_matches_ranges(a in ivs(), b in ivs()) {
            let nets = |v: &[(u16, u16)]| -> IpSet {
                let r4 = to_ranges::<u32>(0, v);
                let r6 = to_ranges::<u128>(u128::MAX - 511, v);
                let mut cidrs = r4.to_cidrs();
                cidrs.extend(r6.to_cidrs());
                IpSet::from_nets(cidrs)
            };
            let (sa, sb) = (nets(&a), nets(&b));
            prop_assert_eq!(&sa.v4, &to_ranges::<u32>(0, &a));
            prop_assert_eq!(&sa.v6, &to_ranges::<u128>(u128::MAX - 511, &a));
            let d = sa.difference(&sb);
            prop_assert_eq!(&d.v4, &to_ranges::<u32>(0, &a).difference(&to_ranges(0, &b)));
            prop_assert_eq!(IpSet::from_nets(d.to_cidrs()), d.clone());
            prop_assert_eq!(sa.union(&sb).intersection(&sa), sa.clone());
        }

        #[test]
        fn addr_count_add_display(a: u128, b: u128) {
            let s = AddrCount::from_u128(a) + AddrCount::from_u128(b);
            if let Some(n) = a.checked_add(b) {
                prop_assert_eq!(s.to_string(), n.to_string());
                prop_assert_eq!(s.to_u128(), Some(n));
            } else {
                prop_assert_eq!(s.to_u128(), None);
            }
            prop_assert_eq!(s.saturating_sub(AddrCount::from_u128(b)), AddrCount::from_u128(a));
            prop_assert_eq!(AddrCount::from_u128(a).to_string(), a.to_string());
        }
    }

    #[test]
    fn whole_spaces() {
        let all4 = Ranges::<u32>::full();
        assert_eq!(all4.count(), 1u128 << 32);
        assert_eq!(all4.to_cidrs(), vec!["0.0.0.0/0".parse::<IpNet>().unwrap()]);
        let all6 = Ranges::<u128>::full();
        assert_eq!(
            all6.count().to_string(),
            "340282366920938463463374607431768211456"
        );
        assert_eq!(all6.count().to_u128(), None);
        assert_eq!(all6.to_cidrs(), vec!["::/0".parse::<IpNet>().unwrap()]);
        assert!(all6.contains(u128::MAX));
        assert!(all6.difference(&all6).is_empty());
        let top = Ranges::from_intervals([(u128::MAX, u128::MAX), (0, u128::MAX - 1)]);
        assert_eq!(top, all6);
        let minus_top = all6.difference(&Ranges::from_intervals([(u128::MAX, u128::MAX)]));
        assert_eq!(minus_top.to_cidrs().len(), 128);
        assert_eq!(minus_top.count().to_string(), u128::MAX.to_string());
        let v4top = Ranges::from_intervals([(u32::MAX, u32::MAX), (u32::MAX - 1, u32::MAX - 1)]);
        assert_eq!(
            v4top.to_cidrs(),
            vec!["255.255.255.254/31".parse::<IpNet>().unwrap()]
        );
        let c = all6.count() + all4.count();
        assert_eq!(c.to_string(), "340282366920938463463374607436063178752");
        assert!((c.as_f64() - 2f64.powi(128)).abs() / 2f64.powi(128) < 1e-9);
        assert_eq!(
            serde_json::to_string(&all6.count()).unwrap(),
            "\"340282366920938463463374607431768211456\""
        );
    }

    #[test]
    fn percent() {
        let z = AddrCount::ZERO;
        assert!((z.percent_of(&z) - 100.0).abs() < f64::EPSILON);
        let all = Ranges::<u128>::full().count();
        let almost = all.saturating_sub(AddrCount::from_u128(1));
        let p = almost.percent_of(&all);
        assert!(p < 100.0 && p > 99.999);
        assert!(AddrCount::from_u128(1).percent_of(&all) > 0.0);
        assert!(
            (AddrCount::from_u128(1).percent_of(&AddrCount::from_u128(4)) - 25.0).abs() < 1e-12
        );
        assert!((all.percent_of(&all) - 100.0).abs() < f64::EPSILON);
    }

    #[test]
    fn set_ops_mixed() {
        let n = |s: &str| s.parse::<IpNet>().unwrap();
        let a = IpSet::from_nets([n("10.0.0.0/8"), n("2001:db8::/32"), n("10.0.0.1/8")]);
        assert_eq!(a.v4.len(), 1);
        assert!(a.contains_ip("10.255.255.255".parse().unwrap()));
        assert!(!a.contains_ip("11.0.0.0".parse().unwrap()));
        assert!(a.contains_ip("2001:db8::1".parse().unwrap()));
        let b = IpSet::from_nets([n("10.128.0.0/9")]);
        let d = a.difference(&b);
        assert_eq!(d.to_cidrs(), vec![n("10.0.0.0/9"), n("2001:db8::/32")]);
        assert!(a.contains_net(&n("10.1.0.0/16")));
        assert!(!d.contains_net(&n("10.0.0.0/8")));
        assert!(d.intersects_net(&n("10.0.0.0/8")));
        assert!(!d.intersects_net(&n("10.128.0.0/9")));
    }

    #[test]
    fn ranges_to_cidrs() {
        let cidrs = |a: &str, b: &str| -> Vec<String> {
            range_to_cidrs(a.parse().unwrap(), b.parse().unwrap())
                .unwrap()
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(cidrs("10.0.0.0", "10.0.0.255"), ["10.0.0.0/24"]);
        assert_eq!(cidrs("0.0.0.0", "255.255.255.255"), ["0.0.0.0/0"]);
        assert_eq!(
            cidrs("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"),
            ["::/0"]
        );
        assert_eq!(
            cidrs("255.255.255.255", "255.255.255.255"),
            ["255.255.255.255/32"]
        );
        assert_eq!(
            cidrs("10.0.0.1", "10.0.0.6"),
            ["10.0.0.1/32", "10.0.0.2/31", "10.0.0.4/31", "10.0.0.6/32"]
        );
        assert_eq!(
            range_to_cidrs("10.0.0.2".parse().unwrap(), "10.0.0.1".parse().unwrap()),
            Err("range 10.0.0.2-10.0.0.1 is backwards".to_owned())
        );
        assert_eq!(
            range_to_cidrs("10.0.0.2".parse().unwrap(), "::1".parse().unwrap()),
            Err("range 10.0.0.2-::1 mixes address families".to_owned())
        );
    }

    proptest! {
        #[test]
        fn range_cover_is_exact(a in any::<u32>(), b in any::<u32>()) {
            let (lo, hi) = (a.min(b), a.max(b));
            let nets = range_to_cidrs(IpAddr::V4(lo.into()), IpAddr::V4(hi.into())).unwrap();
            let mut next = u64::from(lo);
            for net in &nets {
                let IpNet::V4(n) = net else { panic!("family") };
                prop_assert_eq!(u64::from(u32::from(n.network())), next);
                next = u64::from(u32::from(n.broadcast())) + 1;
            }
            prop_assert_eq!(next, u64::from(hi) + 1);
            prop_assert!(nets.len() <= 62);
        }
    }
}
