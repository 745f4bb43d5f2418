//! Interop case: allowlist coverage as `FireHOL`'s `iprange` computes it.
//! Published ranges and an allowlist, thousands of overlapping and
//! adjacent IPv4 networks and single addresses, are given to both; the
//! truth is iprange's: the uncovered set (`iprange P --except A`, the
//! fewest CIDRs that hold it) and its address counts (`iprange -C`).
//! reach must list the same CIDRs and count the same addresses. Nothing
//! touches the network.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::Path;

use reach_report::{Code, Details};

use crate::{TempDir, codes, command, require, run_with, tool};

/// A small deterministic generator (splitmix64): the same lists on every
/// run, so a failure can be replayed.
struct Numbers(u64);

impl Numbers {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `count` networks inside 10.0.0.0/8 (so that they overlap, nest and
/// touch), prefixes `/shortest` to /32, written as a list file: one a line,
/// a /32 as a bare address now and then (both tools read both), with a
/// comment.
fn networks(numbers: &mut Numbers, count: usize, shortest: u32) -> String {
    let mut text = String::from("# generated for the interop case\n");
    for _ in 0..count {
        let prefix = shortest + numbers.below(u64::from(33 - shortest)) as u32;
        let address = 0x0A00_0000 | (numbers.next() as u32 & 0x00FF_FFFF);
        let network = address & (u32::MAX << (32 - prefix));
        let ip = std::net::Ipv4Addr::from(network);
        if prefix == 32 && numbers.below(2) == 0 {
            let _ = writeln!(text, "{ip}");
        } else {
            let _ = writeln!(text, "{ip}/{prefix}");
        }
    }
    text
}

/// What iprange prints, one network a line, each written as a CIDR (it
/// prints a /32 as a bare address).
fn iprange_set(stdout: &[u8]) -> BTreeSet<String> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| {
            if l.contains('/') {
                l.to_owned()
            } else {
                format!("{l}/32")
            }
        })
        .collect()
}

/// `iprange -C FILE`'s unique-address count (it prints `entries,addresses`).
fn iprange_count(iprange: &Path, file: &Path) -> u64 {
    let out = tool(iprange, &["-C", &file.display().to_string()], None);
    assert!(out.status.success(), "iprange -C: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .split(',')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("iprange -C said {text:?}"))
}

#[test]
fn gaps_and_counts_agree_with_iprange() {
    let iprange = require("iprange", "iprange");
    let dir = TempDir::new();
    let mut numbers = Numbers(0x5EED_0018);
    let published = dir.write("published.txt", &networks(&mut numbers, 3000, 14));
    let allowlist = dir.write("allowlist.txt", &networks(&mut numbers, 3000, 16));
    let (p, a) = (
        published.display().to_string(),
        allowlist.display().to_string(),
    );

    // Truth: iprange's uncovered set and its counts.
    let out = tool(&iprange, &[&p, "--except", &a], None);
    assert!(out.status.success(), "iprange --except: {out:?}");
    let gap = iprange_set(&out.stdout);
    let mut listed = String::new();
    for cidr in &gap {
        let _ = writeln!(listed, "{cidr}");
    }
    let gap_file = dir.write("gap.txt", &listed);
    let published_count = iprange_count(&iprange, &published);
    let uncovered_count = iprange_count(&iprange, &gap_file);
    // The case means something: a gap, and coverage too.
    assert!(gap.len() > 100, "{}", gap.len());
    assert!(uncovered_count > 0 && uncovered_count < published_count);

    let mut cmd = command();
    cmd.arg("allowlist")
        .args(["--published", &p, "--published-format", "cidr"])
        .args(["--allowlist", &a, "--allowlist-format", "cidr"]);
    let run = run_with(cmd, &[]);
    let check = run.only();
    assert_eq!(codes(check)[0], Code::AllowlistGap, "{}", run.stdout);
    let Details::Allowlist(d) = &check.details else {
        panic!("not an allowlist check: {check:#?}");
    };
    let reach_gap: BTreeSet<String> = d.uncovered.iter().cloned().collect();
    assert_eq!(
        reach_gap.len(),
        d.uncovered.len(),
        "a CIDR listed twice: {:?}",
        d.uncovered
    );
    let only_iprange: Vec<_> = gap.difference(&reach_gap).take(10).collect();
    let only_reach: Vec<_> = reach_gap.difference(&gap).take(10).collect();
    assert!(
        only_iprange.is_empty() && only_reach.is_empty(),
        "iprange only: {only_iprange:?}; reach only: {only_reach:?}"
    );
    assert_eq!(d.ipv4.published, published_count.to_string());
    assert_eq!(d.ipv4.uncovered, uncovered_count.to_string());
    assert_eq!(
        d.ipv4.covered,
        (published_count - uncovered_count).to_string()
    );
    assert_eq!(run.code, 1);
}
