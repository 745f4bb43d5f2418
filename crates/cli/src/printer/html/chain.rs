//! An SSO chain as a diagram: one box a hop, in order, with the identity
//! provider's badge and the cookies sent, withheld and set; beside it the
//! clean run of `--compare-clean`, with a line across both where the two
//! runs part. Under it the chain's timing waterfall: where each hop's time
//! went (DNS, connect, TLS, the server's wait), as for an endpoint.

use std::fmt::Write as _;

use reach_report::sso::{SsoDetails, SsoEnd, SsoHop};

use super::{duration, escape, listed, shorten, waterfall};

pub(super) fn diagram(out: &mut String, d: &SsoDetails) {
    if !d.seeded_cookies.is_empty() {
        let names = d
            .seeded_cookies
            .iter()
            .map(|c| format!("{}@{}", c.name, c.domain));
        let _ = writeln!(
            out,
            "<p class=\"muted\">jar before the first hop: {}</p>",
            listed(names)
        );
    }
    let compare = d.compare.as_ref();
    let two = compare.is_some();
    let _ = writeln!(
        out,
        "<div class=\"chain{}\" role=\"group\" aria-label=\"the chain of hops{}\">",
        if two { " two" } else { "" },
        if two { ", beside the clean run" } else { "" }
    );
    if let Some(c) = compare {
        let _ = writeln!(
            out,
            "<div class=\"col-head\">{}</div><div class=\"col-head\">{}</div>",
            escape(&c.with_jar),
            escape(&c.clean)
        );
    }
    let clean: &[SsoHop] = compare.map_or(&[], |c| &c.clean_hops);
    let rows = d.hops.len().max(clean.len());
    let parted_at = compare.and_then(|c| c.parted_at);
    for row in 0..rows {
        if parted_at == Some(row + 1) {
            let _ = writeln!(
                out,
                "<div class=\"parting\">the two runs part here, at hop {}</div>",
                row + 1
            );
        }
        hop_box(out, d.hops.get(row), row, &d.end);
        if let Some(c) = compare {
            hop_box(out, clean.get(row), row, &c.clean_end);
        }
    }
    out.push_str("</div>\n");
    let _ = writeln!(
        out,
        "<p class=\"muted\">ended: {} (hop {}, {})</p>",
        escape(&d.end.summary),
        d.end.hop,
        escape(&d.end.kind)
    );
    if let Some(id) = &d.identity {
        let _ = writeln!(
            out,
            "<p class=\"muted\">account ({}, hop {}, unverified): {}</p>",
            escape(&id.source),
            id.hop,
            escape(&super::super::account(id))
        );
    }
    if let Some(url) = &d.rewritten_url {
        let _ = writeln!(
            out,
            "<p class=\"muted\">fresh sign-in: <code>{}</code></p>",
            escape(url)
        );
    }
    // The run with the jar (the one the verdict is about).
    if two && !d.hops.is_empty() {
        out.push_str("<p class=\"muted\">timeline of the hops with your session</p>\n");
    }
    let network: Vec<_> = d.hops.iter().map(|h| &h.network).collect();
    waterfall::svg(out, &network, 0.0);
}

/// One hop's box, or an empty cell where one run has no hop at this row.
fn hop_box(out: &mut String, hop: Option<&SsoHop>, row: usize, end: &SsoEnd) {
    let Some(hop) = hop else {
        out.push_str("<div class=\"hop empty\"></div>\n");
        return;
    };
    let mut class = String::from("hop");
    if row == 0 {
        class.push_str(" first");
    }
    if hop.index == end.hop {
        class.push_str(match end.kind.as_str() {
            "callback" | "app_page" => " ended pass",
            "login_page" => " ended warn",
            _ => " ended fail",
        });
    }
    let status = hop.status.map_or_else(|| "—".to_owned(), |s| s.to_string());
    let _ = write!(
        out,
        "<div class=\"{class}\"><div><span class=\"n\">{}</span>\
         <code>{}</code> <span class=\"mono\" title=\"{}\">{}</span></div>\
         <div class=\"meta\"><b>{}</b> → {}",
        hop.index,
        escape(&hop.method),
        escape(&hop.url),
        escape(&shorten(&hop.url, 160)),
        escape(&status),
        escape(&hop.page),
    );
    if let Some(idp) = &hop.idp {
        let _ = write!(out, " <span class=\"idp\">{}</span>", escape(idp));
    }
    if let Some(title) = &hop.title {
        let _ = write!(out, " “{}”", escape(title));
    }
    let _ = write!(
        out,
        " · {} · via {}</div>",
        duration(hop.network.timings.total_ms),
        escape(&hop.via)
    );
    cookies(out, hop);
    out.push_str("</div>\n");
}

/// The cookies a hop sent, held back, set and had refused.
fn cookies(out: &mut String, hop: &SsoHop) {
    let mut chips: Vec<(&str, String, String)> = Vec::new();
    for name in &hop.cookies_sent {
        chips.push(("sent", format!("→ {name}"), "sent".to_owned()));
    }
    for c in &hop.cookies_withheld {
        chips.push((
            "withheld",
            format!("⊘ {}", c.name),
            format!("withheld: {}", c.reason),
        ));
    }
    for c in &hop.cookies_set {
        let attrs = super::super::cookie_attributes(c);
        match &c.refused {
            Some(reason) => chips.push((
                "refused",
                format!("+ {}", c.name),
                format!("refused by browsers: {reason}; {}", attrs.join("; ")),
            )),
            None => chips.push((
                "set",
                format!("+ {}", c.name),
                format!("set for {}{}: {}", c.domain, c.path, attrs.join("; ")),
            )),
        }
    }
    if chips.is_empty() {
        return;
    }
    out.push_str("<div class=\"cookies\">");
    let total = chips.len();
    for (class, text, why) in chips.iter().take(super::LIST_SHOWN * 2) {
        let _ = write!(
            out,
            "<span class=\"ck {class}\" title=\"{}\">{}</span>",
            escape(why),
            escape(text)
        );
    }
    if total > super::LIST_SHOWN * 2 {
        let _ = write!(out, " … and {} more", total - super::LIST_SHOWN * 2);
    }
    out.push_str("</div>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use reach_report::sso::{CookieSet, SsoCompare};

    fn hop(index: usize, title: &str) -> SsoHop {
        SsoHop {
            index,
            via: "redirect".to_owned(),
            method: "GET".to_owned(),
            url: format!("http://app.test/{index}?q=\"><u>"),
            status: Some(302),
            idp: Some("Okta<i>".to_owned()),
            title: Some(title.to_owned()),
            cookies_sent: vec!["sid".to_owned()],
            cookies_set: vec![CookieSet {
                name: "<s>".to_owned(),
                refused: Some("SameSite=None without Secure".to_owned()),
                ..CookieSet::default()
            }],
            page: "redirect".to_owned(),
            ..SsoHop::default()
        }
    }

    /// Under the boxes, a waterfall of the run with the jar: a row a hop,
    /// each cut into the phases its network record has; none for a chain
    /// that made no request.
    #[test]
    fn the_chain_s_hops_have_their_waterfall() {
        let mut d = SsoDetails {
            hops: vec![hop(1, "a"), hop(2, "b")],
            ..SsoDetails::default()
        };
        d.hops[0].network.timings = reach_report::endpoint::Timings {
            dns_ms: Some(2.0),
            connect_ms: Some(3.0),
            tls_ms: Some(9.0),
            ttfb_ms: Some(20.0),
            total_ms: 21.0,
            ..Default::default()
        };
        d.hops[1].network.timings = reach_report::endpoint::Timings {
            connect_ms: Some(1.0),
            ttfb_ms: Some(40.0),
            total_ms: 42.0,
            ..Default::default()
        };
        let mut out = String::new();
        diagram(&mut out, &d);
        let waterfall = out.find("<svg class=\"waterfall\"").expect("a waterfall");
        assert!(out[..waterfall].contains("<div class=\"hop"), "{out}");
        let drawn = &out[waterfall..];
        assert_eq!(drawn.matches("class=\"track\"").count(), 2, "{out}");
        // Each hop's phases as its record has them (the legend's boxes
        // have no title).
        for segment in [
            "dns 2.0 ms",
            "connect 1.0 ms",
            "tls 6.0 ms",
            "ttfb 11 ms",
            "ttfb 39 ms",
            "transfer 2.0 ms",
        ] {
            assert!(
                drawn.contains(&format!("<title>{segment}</title>")),
                "{segment}: {out}"
            );
        }
        assert!(!drawn.contains("<title>tls 0"), "{out}");
        assert!(drawn.contains("<b>hop 2</b>"), "{out}");
        assert!(!drawn.contains("<u>"), "{out}");

        let mut none = String::new();
        diagram(&mut none, &SsoDetails::default());
        assert!(!none.contains("waterfall"), "{none}");
    }

    #[test]
    fn the_parting_line_sits_before_the_hop_where_the_runs_differ() {
        let d = SsoDetails {
            hops: vec![hop(1, "a"), hop(2, "b")],
            compare: Some(SsoCompare {
                parted_at: Some(2),
                clean_hops: vec![hop(1, "a"), hop(2, "c"), hop(3, "d")],
                ..SsoCompare::default()
            }),
            ..SsoDetails::default()
        };
        let mut out = String::new();
        diagram(&mut out, &d);
        let parting = out.find("class=\"parting\"").expect("a parting line");
        // Two boxes (with jar, clean) before it, and the rest after.
        assert_eq!(
            out[..parting].matches("<div class=\"hop").count(),
            2,
            "{out}"
        );
        assert_eq!(
            out[parting..].matches("<div class=\"hop").count(),
            4,
            "{out}"
        );
        assert!(out.contains("<div class=\"hop empty\">"), "{out}");
        for markup in ["<u>", "<i>", "<s>", "q=\">"] {
            assert!(!out.contains(markup), "{markup} in {out}");
        }
        assert!(out.contains("Okta&lt;i&gt;"), "{out}");
        assert!(out.contains("q=&quot;&gt;&lt;u&gt;"), "{out}");
        assert!(out.contains("ck refused"), "{out}");
        // A group of boxes, not a list: the column heads and the parting
        // line are no items.
        assert!(!out.contains("role=\"list"), "{out}");
    }
}
