//! The allowlist checks: coverage per address family with the inputs and
//! `--host` verdicts, and a feed diff's added and removed ranges.

use std::fmt::Write as _;

use reach_allowlist::emit::group_label;
use reach_allowlist::readable;
use reach_allowlist::set::{AddrCount, IpSet};
use reach_report::allowlist::{AllowlistDetails, AllowlistDiffDetails};

use super::{Paint, TextStyle};

pub(super) fn coverage(
    out: &mut String,
    d: &AllowlistDetails,
    p: &Paint,
    style: TextStyle,
) -> String {
    for input in d.published.iter().chain(&d.allowlists) {
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!(
                "{}: {}",
                input.label(),
                reach_report::count(input.entries, "entry", "entries")
            ))
        );
    }
    for host in &d.hosts {
        for a in &host.addresses {
            let verdict = a
                .covered_by
                .as_deref()
                .map_or_else(|| p.bold("not covered"), |by| format!("covered by {by}"));
            let _ = writeln!(out, "      host {} {}: {verdict}", host.name, a.address);
        }
    }
    to_add(out, d, p, style);
    format!(
        "{} · {}",
        family("IPv4", &d.ipv4, false),
        family("IPv6", &d.ipv6, true)
    )
}

/// One family's coverage for the check's line: `IPv4 75.00% covered (768
/// of 1,024)`, or `IPv6 nothing published` (no percentage of nothing).
fn family(name: &str, f: &reach_report::allowlist::FamilyCoverage, ipv6: bool) -> String {
    if f.nothing_published() {
        return format!("{name} nothing published");
    }
    format!(
        "{name} {:.2}% covered ({} of {})",
        f.coverage_percent,
        readable::count(&f.covered, ipv6),
        readable::count(&f.published, ipv6)
    )
}

/// `3 CIDRs{more} · IPv4 768 addresses · IPv6 2 × /48`.
fn counted(cidrs: &[String], more: &str) -> String {
    format!(
        "{}{more} · {}",
        reach_report::count(cidrs.len() as u64, "CIDR", "CIDRs"),
        readable::size(&readable::nets(cidrs))
    )
}

/// `to add: 4 CIDRs{more} · IPv4 384 addresses · IPv6 2 × /48`, and with
/// `-q` where the CIDRs are.
fn headline(out: &mut String, cidrs: &[String], more: &str, p: &Paint, style: TextStyle) {
    let hint = if style.quiet {
        " (-q: not listed; --emit cidr lists them)"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "      {} {}{hint}",
        p.bold("to add:"),
        counted(cidrs, more),
    );
}

/// The fix: every uncovered CIDR, by the feed's service and region when it
/// has them, each group with its count and size; with `-q` the counts only.
fn to_add(out: &mut String, d: &AllowlistDetails, p: &Paint, style: TextStyle) {
    if d.uncovered.is_empty() {
        return;
    }
    let groups = match d.gaps.len() {
        0 | 1 => String::new(),
        n => format!(" in {n} service/region groups"),
    };
    headline(out, &d.uncovered, &groups, p, style);
    let list = |out: &mut String, cidrs: &[String], indent: &str| {
        if !style.quiet {
            for cidr in cidrs {
                let _ = writeln!(out, "{indent}{cidr}");
            }
        }
    };
    if d.gaps.is_empty() {
        list(out, &d.uncovered, "        ");
        return;
    }
    // Groups overlap when their sizes add up to more than the whole.
    let size = |cidrs: &[String]| IpSet::from_nets(readable::nets(cidrs)).count();
    let overlap = d
        .gaps
        .iter()
        .fold(AddrCount::ZERO, |sum, g| sum.saturating_add(size(&g.cidrs)))
        > size(&d.uncovered);
    for gap in &d.gaps {
        let label = group_label(gap.service.as_deref(), gap.region.as_deref())
            .unwrap_or_else(|| reach_allowlist::emit::NO_GROUP.to_owned());
        let _ = writeln!(
            out,
            "        {}: {}",
            p.bold(&label),
            counted(&gap.cidrs, "")
        );
        list(out, &gap.cidrs, "          ");
    }
    if overlap {
        let _ = writeln!(
            out,
            "        {}",
            p.dim("(the feed lists some ranges under more than one service/region: they are in each of those groups)")
        );
    }
}

pub(super) fn diff(
    out: &mut String,
    d: &AllowlistDiffDetails,
    p: &Paint,
    style: TextStyle,
) -> String {
    for (label, input) in [("old", &d.old), ("new", &d.new)] {
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!("{label}: {}", input.label()))
        );
    }
    let shown = if style.verbose { usize::MAX } else { 20 };
    for (sign, list) in [("+", &d.added), ("-", &d.removed)] {
        for cidr in list.iter().take(shown) {
            let _ = writeln!(out, "      {sign} {cidr}");
        }
        if list.len() > shown {
            let _ = writeln!(
                out,
                "      {sign} … {} more (-v or --json for all)",
                list.len() - shown
            );
        }
    }
    // The fix: the added ranges the allowlist does not cover, all of them.
    if let Some(gaps) = d.added_uncovered.as_ref().filter(|g| !g.is_empty()) {
        headline(out, gaps, " added and not covered", p, style);
        if !style.quiet {
            for cidr in gaps {
                let _ = writeln!(out, "        {cidr}");
            }
        }
    }
    let size = |cidrs: &[String]| match readable::size(&readable::nets(cidrs)) {
        size if size.is_empty() => String::new(),
        size => format!(" ({size})"),
    };
    format!(
        "{} added{} · {} removed{}",
        d.added.len(),
        size(&d.added),
        d.removed.len(),
        size(&d.removed)
    )
}
