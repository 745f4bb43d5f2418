//! Allowlist coverage: a bar per address family, the gaps grouped by the
//! feed's service and region, the `--host` verdicts; and a feed diff's
//! added and removed ranges.

use std::fmt::Write as _;

use reach_allowlist::readable;
use reach_report::allowlist::{AllowlistDetails, AllowlistDiffDetails, FamilyCoverage, Gap};

use super::{escape, listed};

/// Every CIDR of `cidrs`, one a line, in a `<pre>` that scrolls on screen
/// past a dozen lines and prints whole: the CIDRs to add are the remedy,
/// so the page carries all of them, as the text report does.
fn cidr_list(out: &mut String, cidrs: &[String]) {
    if cidrs.is_empty() {
        return;
    }
    out.push_str("<pre class=\"cidrs\">");
    for (i, cidr) in cidrs.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&escape(cidr));
    }
    out.push_str("</pre>");
}

/// How big a list of CIDRs is, as the text report says it: `IPv4 1,280
/// addresses · IPv6 2 × /48`.
fn size(cidrs: &[String]) -> String {
    readable::size(&readable::nets(cidrs))
}

const WIDTH: f64 = 600.0;

pub(super) fn coverage(out: &mut String, d: &AllowlistDetails) {
    let inputs: Vec<String> = d
        .published
        .iter()
        .chain(&d.allowlists)
        .map(|i| {
            format!(
                "{}: {}",
                i.label(),
                reach_report::count(i.entries, "entry", "entries")
            )
        })
        .collect();
    let _ = writeln!(out, "<p class=\"muted\">{}</p>", listed(&inputs));
    bar(out, "IPv4", &d.ipv4, false);
    bar(out, "IPv6", &d.ipv6, true);
    for host in &d.hosts {
        for a in &host.addresses {
            let verdict = a.covered_by.as_deref().map_or_else(
                || "<b>not covered</b>".to_owned(),
                |by| format!("covered by {}", escape(by)),
            );
            let _ = writeln!(
                out,
                "<p>host {} {}: {verdict}</p>",
                escape(&host.name),
                escape(&a.address)
            );
        }
    }
    gaps(out, &d.gaps);
}

/// One family's coverage as a bar: covered in green, the rest in red.
fn bar(out: &mut String, family: &str, f: &FamilyCoverage, ipv6: bool) {
    let nothing = f.nothing_published();
    let percent = if f.coverage_percent.is_finite() {
        f.coverage_percent.clamp(0.0, 100.0)
    } else {
        0.0
    };
    let covered = WIDTH * percent / 100.0;
    let _ = writeln!(
        out,
        "<h4>{family}: {}</h4>",
        if nothing {
            "nothing published".to_owned()
        } else {
            format!(
                "{percent:.2}% covered ({} of {})",
                escape(&readable::count(&f.covered, ipv6)),
                escape(&readable::count(&f.published, ipv6))
            )
        }
    );
    let _ = write!(
        out,
        "<svg class=\"coverage\" viewBox=\"0 0 {WIDTH} 14\" width=\"{WIDTH}\" height=\"14\" \
         role=\"img\" aria-label=\"{family} coverage\">"
    );
    if nothing {
        let _ = write!(
            out,
            "<rect class=\"cov-none\" width=\"{WIDTH}\" height=\"14\"/>"
        );
    } else {
        let _ = write!(
            out,
            "<rect class=\"cov-no\" width=\"{WIDTH}\" height=\"14\"><title>uncovered: {}</title></rect>\
             <rect class=\"cov-yes\" width=\"{covered:.1}\" height=\"14\"><title>covered: {}</title></rect>",
            escape(&readable::count(&f.uncovered, ipv6)),
            escape(&readable::count(&f.covered, ipv6))
        );
    }
    out.push_str("</svg>\n");
}

/// The gaps as a table, grouped by service (in the order the report
/// names them first), a row a region.
fn gaps(out: &mut String, gaps: &[Gap]) {
    if gaps.is_empty() {
        return;
    }
    let mut services: Vec<Option<&str>> = Vec::new();
    for g in gaps {
        if !services.contains(&g.service.as_deref()) {
            services.push(g.service.as_deref());
        }
    }
    out.push_str(
        "<h4>Gaps by service and region</h4>\n<table>\n\
         <tr><th>service</th><th>region</th><th>uncovered</th><th>CIDRs to add</th></tr>\n",
    );
    for service in services {
        let group: Vec<&Gap> = gaps
            .iter()
            .filter(|g| g.service.as_deref() == service)
            .collect();
        for (i, g) in group.iter().enumerate() {
            out.push_str("<tr>");
            if i == 0 {
                let _ = write!(
                    out,
                    "<td rowspan=\"{}\">{}</td>",
                    group.len(),
                    escape(service.unwrap_or("(any)"))
                );
            }
            // Each family counted as itself: a group may hold both.
            let _ = write!(
                out,
                "<td>{}</td><td class=\"num\">{}</td><td>",
                escape(g.region.as_deref().unwrap_or("(any)")),
                escape(&size(&g.cidrs)),
            );
            cidr_list(out, &g.cidrs);
            out.push_str("</td></tr>\n");
        }
    }
    out.push_str("</table>\n");
}

pub(super) fn diff(out: &mut String, d: &AllowlistDiffDetails) {
    let _ = writeln!(
        out,
        "<p class=\"muted\">{} → {}</p>",
        escape(&d.old.label()),
        escape(&d.new.label())
    );
    for (what, cidrs) in [("added", &d.added), ("removed", &d.removed)] {
        let size = match size(cidrs) {
            size if size.is_empty() => String::new(),
            size => format!(" ({})", escape(&size)),
        };
        let _ = writeln!(
            out,
            "<h4>{what}: {}{size}</h4>",
            reach_report::count(cidrs.len() as u64, "range", "ranges"),
        );
        cidr_list(out, cidrs);
    }
    if let Some(uncovered) = &d.added_uncovered {
        let _ = writeln!(
            out,
            "<h4>added and not in the allowlist: {}</h4>",
            reach_report::count(uncovered.len() as u64, "range", "ranges"),
        );
        cidr_list(out, uncovered);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_grouped_by_service_in_first_seen_order() {
        let gap = |service: &str, region: &str| Gap {
            service: Some(service.to_owned()),
            region: Some(region.to_owned()),
            addresses: "256".to_owned(),
            cidrs: vec!["192.0.2.0/24".to_owned()],
        };
        let mut out = String::new();
        gaps(
            &mut out,
            &[
                gap("EC2", "eu-west-1"),
                gap("S3<x>", "us-east-1"),
                gap("EC2", "us-east-1"),
            ],
        );
        assert!(out.contains("<td rowspan=\"2\">EC2</td>"), "{out}");
        assert!(out.contains("<td rowspan=\"1\">S3&lt;x&gt;</td>"), "{out}");
        let ec2 = out.find("us-east-1").unwrap();
        let s3 = out.find("S3").unwrap();
        assert!(ec2 < s3, "EC2's regions stay together: {out}");
    }

    #[test]
    fn the_bar_is_as_long_as_the_coverage() {
        let mut out = String::new();
        let f = FamilyCoverage {
            published: "1024".to_owned(),
            covered: "768".to_owned(),
            uncovered: "256".to_owned(),
            coverage_percent: 75.0,
        };
        bar(&mut out, "IPv4", &f, false);
        assert!(out.contains("class=\"cov-yes\" width=\"450.0\""), "{out}");
        assert!(out.contains("75.00% covered (768 of 1,024)"), "{out}");
    }

    #[test]
    fn every_cidr_to_add_is_on_the_page() {
        let cidrs: Vec<String> = (0..40).map(|i| format!("10.0.{i}.0/24")).collect();
        let mut out = String::new();
        gaps(
            &mut out,
            &[Gap {
                service: None,
                region: None,
                addresses: "10240".to_owned(),
                cidrs: cidrs.clone(),
            }],
        );
        assert!(
            out.contains(&format!("<pre class=\"cidrs\">{}</pre>", cidrs.join("\n"))),
            "{out}"
        );
        assert!(!out.contains("more"), "{out}");
        assert!(out.contains(">IPv4 10,240 addresses<"), "{out}");
    }

    #[test]
    fn a_diff_says_how_big_its_ranges_are_for_people() {
        let d = AllowlistDiffDetails {
            added: (0..30).map(|i| format!("10.1.{i}.0/24")).collect(),
            added_addresses: "7680".to_owned(),
            removed: vec!["2001:db8::/48".to_owned(), "2001:db8:1::/48".to_owned()],
            removed_addresses: "2417851639229258349412352".to_owned(),
            added_uncovered: Some(vec!["10.1.29.0/24".to_owned()]),
            ..AllowlistDiffDetails::default()
        };
        let mut out = String::new();
        diff(&mut out, &d);
        assert!(
            out.contains("added: 30 ranges (IPv4 7,680 addresses)"),
            "{out}"
        );
        assert!(out.contains("removed: 2 ranges (IPv6 2 × /48)"), "{out}");
        assert!(!out.contains("2417851639229258349412352"), "{out}");
        assert!(out.contains("10.1.29.0/24</pre>"), "{out}");
        assert!(!out.contains("more"), "{out}");
    }
}
