//! Address counts for people: `1,280` IPv4 addresses, `2 × /48`,
//! `≈ 1.2 × 10²⁴` IPv6 addresses. Text output only; the report keeps the
//! exact decimal strings (an IPv6 count can have 39 digits).
//!
//! ```
//! use reach_allowlist::readable;
//!
//! assert_eq!(readable::count("1208925819614629174706176", true), "≈ 1.2 × 10²⁴");
//! assert_eq!(readable::count("65536", false), "65,536");
//! let nets = ["2001:db8::/48".parse().unwrap(), "2001:db8:2::/48".parse().unwrap()];
//! assert_eq!(readable::size(&nets), "IPv6 2 × /48");
//! ```

use ipnet::IpNet;

/// Below this, an IPv6 count is exact (with separators); from it on, it is
/// rounded to two significant digits.
const EXACT_BELOW: u128 = 1_000_000;

/// `n` with a comma every three digits: `1,234,567`.
fn thousands(n: u128) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `x` rounded to two significant digits with a power of ten:
/// `≈ 1.2 × 10²⁴`.
fn approx(x: f64) -> String {
    let sci = format!("{x:.1e}");
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    format!("≈ {mantissa} × 10{}", superscript(exponent))
}

/// `-12` as `⁻¹²`.
fn superscript(digits: &str) -> String {
    digits
        .chars()
        .map(|c| match c {
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            '-' => '⁻',
            other => other,
        })
        .collect()
}

/// A count as the report holds it (a decimal string) for people: IPv4 (and
/// small IPv6 counts) exact with separators, large IPv6 counts rounded
/// (`≈ 1.2 × 10²⁴`). Text that is not a count is returned as it is.
pub fn count(decimal: &str, ipv6: bool) -> String {
    match decimal.parse::<u128>() {
        Ok(n) if !ipv6 || n < EXACT_BELOW => thousands(n),
        #[allow(clippy::cast_precision_loss)] // rounded on purpose
        Ok(n) => approx(n as f64),
        // 2^128, the whole of IPv6, is one more than a u128 holds.
        Err(_) => decimal
            .parse::<f64>()
            .map_or_else(|_| decimal.to_owned(), approx),
    }
}

/// `n` addresses: IPv4 exact, IPv6 as [`count`] does.
fn addresses(n: Option<u128>, ipv6: bool) -> String {
    let text = match n {
        Some(n) => count(&n.to_string(), ipv6),
        // More than a u128 holds: only `::/0` and more.
        None => approx(2f64.powi(128)),
    };
    let noun = if n == Some(1) { "address" } else { "addresses" };
    format!("{text} {noun}")
}

/// The size of one family's CIDRs: `2 × /48` when they are all of one
/// prefix length (IPv6), else the number of addresses.
fn family_size(prefixes: &[u8], ipv6: bool) -> String {
    let bits: u32 = if ipv6 { 128 } else { 32 };
    if ipv6 && prefixes.windows(2).all(|w| w[0] == w[1]) {
        return format!("{} × /{}", prefixes.len(), prefixes[0]);
    }
    let total = prefixes.iter().try_fold(0u128, |sum, &len| {
        1u128
            .checked_shl(bits - u32::from(len))
            .and_then(|n| sum.checked_add(n))
    });
    addresses(total, ipv6)
}

/// CIDRs as a report writes them, parsed; a string that is not one is left
/// out (a report's lists are this crate's own output). What the printers
/// and `--emit` read a report's ranges with.
pub fn nets(cidrs: &[String]) -> Vec<IpNet> {
    cidrs
        .iter()
        .filter_map(|c| crate::text::parse_cidr(c).ok())
        .collect()
}

/// How big a list of CIDRs is, per family: `IPv4 1,280 addresses · IPv6
/// 2 × /48`; empty for an empty list. The CIDRs must not overlap (the
/// report's minimal lists do not).
pub fn size(nets: &[IpNet]) -> String {
    let mut parts = Vec::new();
    for (ipv6, name) in [(false, "IPv4"), (true, "IPv6")] {
        let prefixes: Vec<u8> = nets
            .iter()
            .filter(|n| matches!(n, IpNet::V6(_)) == ipv6)
            .map(IpNet::prefix_len)
            .collect();
        if !prefixes.is_empty() {
            parts.push(format!("{name} {}", family_size(&prefixes, ipv6)));
        }
    }
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn thousands_are_separated() {
        for (n, want) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (65_536, "65,536"),
            (4_294_967_296, "4,294,967,296"),
        ] {
            assert_eq!(thousands(n), want);
        }
    }

    #[test]
    fn counts_are_exact_for_ipv4_and_rounded_for_big_ipv6() {
        for (decimal, ipv6, want) in [
            ("4294967296", false, "4,294,967,296"),
            ("256", true, "256"),
            ("999999", true, "999,999"),
            ("1000000", true, "≈ 1.0 × 10⁶"),
            ("18446744073709551616", true, "≈ 1.8 × 10¹⁹"),
            ("1208925819614629174706176", true, "≈ 1.2 × 10²⁴"),
            // 2^128: one more than a u128 holds.
            (
                "340282366920938463463374607431768211456",
                true,
                "≈ 3.4 × 10³⁸",
            ),
            // Rounding up carries into the exponent.
            ("99999999", true, "≈ 1.0 × 10⁸"),
            ("n/a", true, "n/a"),
        ] {
            assert_eq!(count(decimal, ipv6), want, "{decimal}");
        }
    }

    #[test]
    fn sizes_name_equal_prefixes_and_count_the_rest() {
        for (list, want) in [
            (&["2001:db8::/48", "2001:db8:2::/48"][..], "IPv6 2 × /48"),
            (&["2001:db8::/48"], "IPv6 1 × /48"),
            (
                &["2001:db8::/48", "2001:db9::/32"],
                "IPv6 ≈ 7.9 × 10²⁸ addresses",
            ),
            (
                &["2001:db8::/120", "2001:db8::1:0/121"],
                "IPv6 384 addresses",
            ),
            (&["::/0"], "IPv6 1 × /0"),
            (&["::/1", "8000::/2"], "IPv6 ≈ 2.6 × 10³⁸ addresses"),
            (&["10.0.0.0/24", "10.0.1.0/24"], "IPv4 512 addresses"),
            (&["10.0.0.1/32"], "IPv4 1 address"),
            (&["0.0.0.0/0"], "IPv4 4,294,967,296 addresses"),
            (
                &["10.0.0.0/22", "2001:db8::/48", "2001:db8:1::/48"],
                "IPv4 1,024 addresses · IPv6 2 × /48",
            ),
            (&[], ""),
        ] {
            assert_eq!(size(&nets(list)), want, "{list:?}");
        }
    }
}
