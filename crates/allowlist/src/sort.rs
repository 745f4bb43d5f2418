//! Sorting a million intervals in a few milliseconds: a stable LSD radix
//! sort on a 64-bit key, then a comparison sort of each run of equal keys.
//!
//! Comparison sorts of a million 16-byte tuples take 60–90 ms here; the
//! radix sort moves each item once per 11-bit digit that is not the same
//! for every item (three passes for IPv4 addresses), which is why
//! `reach allowlist` can be faster than `iprange`.

use std::cmp::Ordering;

/// Below this many items a comparison sort is as fast.
const SMALL: usize = 512;
const DIGIT_BITS: u32 = 11;
const BUCKETS: usize = 1 << DIGIT_BITS;
const DIGITS: usize = 64_usize.div_ceil(DIGIT_BITS as usize);

/// Sorts `items` by `key`, then orders each run of items with equal keys by
/// `tie` (which must agree with `key`: items with different keys compare
/// as their keys do). Stable with respect to `key` before `tie` is applied.
pub(crate) fn sort_by_key_then<T, K, C>(items: &mut [T], key: K, tie: C)
where
    T: Copy,
    K: Fn(&T) -> u64,
    C: Fn(&T, &T) -> Ordering,
{
    if items.len() <= SMALL {
        items.sort_unstable_by(|a, b| key(a).cmp(&key(b)).then_with(|| tie(a, b)));
        return;
    }
    radix_sort(items, &key);
    let mut start = 0;
    while start < items.len() {
        let k = key(&items[start]);
        let mut end = start + 1;
        while end < items.len() && key(&items[end]) == k {
            end += 1;
        }
        if end - start > 1 {
            items[start..end].sort_unstable_by(&tie);
        }
        start = end;
    }
}

/// Stable LSD radix sort of `items` by `key`, 11 bits a pass; a digit that
/// every item shares costs no pass.
fn radix_sort<T: Copy, K: Fn(&T) -> u64>(items: &mut [T], key: &K) {
    let mut counts = vec![[0usize; BUCKETS]; DIGITS];
    for item in items.iter() {
        let k = key(item);
        for (d, count) in counts.iter_mut().enumerate() {
            count[digit(k, d)] += 1;
        }
    }
    let n = items.len();
    let mut buf: Vec<T> = items.to_vec();
    // `from_items`: whether the current order is in `items` (else `buf`).
    let mut from_items = true;
    for (d, count) in counts.iter().enumerate() {
        if count.contains(&n) {
            continue;
        }
        let mut next = [0usize; BUCKETS];
        let mut sum = 0;
        for (slot, &c) in next.iter_mut().zip(count.iter()) {
            *slot = sum;
            sum += c;
        }
        let (src, dst): (&[T], &mut [T]) = if from_items {
            (&*items, &mut buf)
        } else {
            (&buf, &mut *items)
        };
        for item in src {
            let b = digit(key(item), d);
            dst[next[b]] = *item;
            next[b] += 1;
        }
        from_items = !from_items;
    }
    if !from_items {
        items.copy_from_slice(&buf);
    }
}

fn digit(key: u64, d: usize) -> usize {
    // The shift is below 64 and the mask keeps 11 bits: no truncation.
    #[allow(clippy::cast_possible_truncation)]
    let v = ((key >> (d as u32 * DIGIT_BITS)) & (BUCKETS as u64 - 1)) as usize;
    v
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
    fn stable_on_the_key() {
        let mut items: Vec<(u64, usize)> = (0..5000).map(|i| ((i * 7919 % 13) as u64, i)).collect();
        radix_sort(&mut items, &|it: &(u64, usize)| it.0);
        for w in items.windows(2) {
            assert!(w[0].0 < w[1].0 || (w[0].0 == w[1].0 && w[0].1 < w[1].1));
        }
    }
}
