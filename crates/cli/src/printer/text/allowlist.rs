//! The allowlist checks: coverage per address family with the inputs and
//! `--host` verdicts, and a feed diff's added and removed ranges.

use std::fmt::Write as _;

use reach_report::allowlist::{AllowlistDetails, AllowlistDiffDetails};

use super::{Paint, TextStyle};

pub(super) fn coverage(out: &mut String, d: &AllowlistDetails, p: &Paint) -> String {
    for input in d.published.iter().chain(&d.allowlists) {
        let version = input
            .version
            .as_deref()
            .map_or_else(String::new, |v| format!(", {v}"));
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!(
                "{} ({}{version}): {}",
                input.source,
                input.format,
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
    format!(
        "IPv4 {:.2}% covered ({} of {}) · IPv6 {:.2}% covered ({} of {})",
        d.ipv4.coverage_percent,
        d.ipv4.covered,
        d.ipv4.published,
        d.ipv6.coverage_percent,
        d.ipv6.covered,
        d.ipv6.published
    )
}

pub(super) fn diff(
    out: &mut String,
    d: &AllowlistDiffDetails,
    p: &Paint,
    style: TextStyle,
) -> String {
    for (label, input) in [("old", &d.old), ("new", &d.new)] {
        let version = input.version.as_deref().unwrap_or("no version stamp");
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!(
                "{label}: {} ({}, {version})",
                input.source, input.format
            ))
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
    format!(
        "{} added ({} addresses) · {} removed ({} addresses)",
        d.added.len(),
        d.added_addresses,
        d.removed.len(),
        d.removed_addresses
    )
}
