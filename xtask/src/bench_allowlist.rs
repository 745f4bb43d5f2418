//! `cargo xtask bench allowlist`: published-minus-allowlist on generated
//! data, `reach allowlist` against `FireHOL` `iprange P --except A` in the
//! same run, plus a mixed IPv4/IPv6 case and the real Azure Service Tags
//! file when `../shared` is beside the repo.
//!
//! The data are generated deterministically (xorshift, fixed seeds):
//! prefixes clustered in a few thousand /12s (/32 for IPv6) with lengths
//! /16–/28 (/40–/64), so they overlap and nest as real lists do.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, bail};

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn v4_lines(seed: u64, count: usize, out: &mut String) {
    let mut rng = Rng(seed);
    let clusters: Vec<u32> = (0..4000)
        .map(|_| (rng.next() as u32) & 0xfff0_0000)
        .collect();
    for _ in 0..count {
        let base = clusters[rng.below(clusters.len() as u64) as usize];
        let len = 16 + rng.below(13) as u32;
        let addr = (base | (rng.next() as u32 & 0x000f_ffff)) & (u32::MAX << (32 - len));
        let _ = writeln!(out, "{}/{len}", std::net::Ipv4Addr::from(addr));
    }
}

fn v6_lines(seed: u64, count: usize, out: &mut String) {
    let mut rng = Rng(seed);
    let clusters: Vec<u128> = (0..4000)
        .map(|_| (0x2001_0db8u128 << 96) | (u128::from(rng.next() as u16) << 80))
        .collect();
    for _ in 0..count {
        let base = clusters[rng.below(clusters.len() as u64) as usize];
        let len = 40 + rng.below(25) as u32;
        let noise = u128::from(rng.next()) << 16;
        let addr = (base | (noise & ((1u128 << 80) - 1))) & (u128::MAX << (128 - len));
        let _ = writeln!(out, "{}/{len}", std::net::Ipv6Addr::from(addr));
    }
}

/// Runs of each timed command; the median is reported.
const RUNS: usize = 5;

/// The median wall time of [`RUNS`] runs of `run`, and its last result.
fn median_time<T>(mut run: impl FnMut() -> anyhow::Result<T>) -> anyhow::Result<(f64, T)> {
    let mut times = Vec::with_capacity(RUNS);
    let mut last = None;
    for _ in 0..RUNS {
        let started = Instant::now();
        last = Some(run()?);
        times.push(started.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    let result = last.context("no run")?;
    Ok((times[RUNS / 2], result))
}

fn reach_uncovered(
    reach: &Path,
    published: &Path,
    allowlist: &Path,
    report: &Path,
) -> anyhow::Result<(f64, BTreeSet<String>)> {
    let (secs, status) = median_time(|| {
        Ok(Command::new(reach)
            .args(["allowlist", "--json", "--published"])
            .arg(published)
            .arg("--allowlist")
            .arg(allowlist)
            .arg("-o")
            .arg(report)
            .status()?)
    })?;
    if !matches!(status.code(), Some(0 | 1)) {
        bail!("reach allowlist: {status}");
    }
    let parsed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report)?)?;
    let uncovered = parsed["checks"][0]["details"]["uncovered"]
        .as_array()
        .context("no details.uncovered in reach's report")?
        .iter()
        .filter_map(|v| v.as_str().map(str::to_owned))
        .collect();
    Ok((secs, uncovered))
}

pub(crate) fn run(reach: &Path, work: &Path) -> anyhow::Result<()> {
    let lines = 1_000_000;
    let write = |name: &str, text: &str| -> anyhow::Result<PathBuf> {
        let path = work.join(name);
        std::fs::write(&path, text)?;
        Ok(path)
    };
    // IPv4: 1M + 1M, against iprange.
    let mut text = String::new();
    v4_lines(0x9E37_79B9_7F4A_7C15, lines, &mut text);
    let published = write("published-v4.txt", &text)?;
    text.clear();
    v4_lines(0xD1B5_4A32_D192_ED03, lines, &mut text);
    let allowlist = write("allowlist-v4.txt", &text)?;
    let report = work.join("report.json");
    let (reach_secs, reach_set) = reach_uncovered(reach, &published, &allowlist, &report)?;

    let (iprange_secs, out) = median_time(|| {
        Command::new("iprange")
            .arg(&published)
            .arg("--except")
            .arg(&allowlist)
            .output()
            .context("cannot run iprange (apt-get install iprange)")
    })?;
    if !out.status.success() {
        bail!("iprange: {}", out.status);
    }
    let iprange_set: BTreeSet<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            // iprange prints a bare address for a /32.
            if l.contains('/') {
                l.to_owned()
            } else {
                format!("{l}/32")
            }
        })
        .collect();
    let identical = reach_set == iprange_set;

    // Mixed: 500k IPv4 + 500k IPv6 a side.
    text.clear();
    v4_lines(0x1234_5678_9ABC_DEF1, lines / 2, &mut text);
    v6_lines(0x0FED_CBA9_8765_4321, lines / 2, &mut text);
    let mixed_published = write("published-mixed.txt", &text)?;
    text.clear();
    v4_lines(0x1357_9BDF_2468_ACE0, lines / 2, &mut text);
    v6_lines(0x0246_8ACE_1357_9BDF, lines / 2, &mut text);
    let mixed_allowlist = write("allowlist-mixed.txt", &text)?;
    let (mixed_secs, mixed_set) =
        reach_uncovered(reach, &mixed_published, &mixed_allowlist, &report)?;

    println!("Median of {RUNS} runs each, wall time, end to end (reading, parsing, report).");
    println!();
    println!("| case | reach allowlist | iprange --except | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| 1M + 1M IPv4 prefixes | {reach_secs:.3} s | {iprange_secs:.3} s | {:.2}× iprange's time |",
        reach_secs / iprange_secs
    );
    println!("| 1M + 1M mixed IPv4/IPv6 | {mixed_secs:.3} s | (IPv4 only) | |");
    println!();
    println!(
        "IPv4 result identical to iprange's: {identical} ({} CIDRs uncovered); mixed case: {} CIDRs uncovered",
        reach_set.len(),
        mixed_set.len()
    );
    if !identical {
        let only_reach = reach_set
            .difference(&iprange_set)
            .take(5)
            .collect::<Vec<_>>();
        let only_iprange = iprange_set
            .difference(&reach_set)
            .take(5)
            .collect::<Vec<_>>();
        bail!("results differ: only reach {only_reach:?}, only iprange {only_iprange:?}");
    }

    // The real Azure Service Tags file, if the shared data are beside us.
    let azure = crate::root().join("../shared/data/published/azure-servicetags-2025-11-06.json");
    if azure.exists() {
        text.clear();
        // An allowlist of our making: every tenth /16 of 20.0.0.0/8 and 40.0.0.0/8,
        // and a few IPv6 /32s.
        for second in (0..=255).step_by(10) {
            let _ = writeln!(text, "20.{second}.0.0/16\n40.{second}.0.0/16");
        }
        text.push_str("2603:1000::/24\n2a01:111::/32\n");
        let allow = write("azure-allowlist.txt", &text)?;
        let (azure_secs, azure_set) = reach_uncovered(reach, &azure, &allow, &report)?;
        println!(
            "Azure Service Tags (4.1 MB, every tag): {azure_secs:.3} s end to end, {} CIDRs uncovered",
            azure_set.len()
        );
    }
    Ok(())
}
