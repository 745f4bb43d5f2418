//! An SSO check: where the chain ended in the headline, then the jar, one
//! line a hop (`-v` adds each hop's network record), the account that
//! passed by, the fresh sign-in URL and the comparison with a clean run.

use std::fmt::Write as _;

use reach_report::sso::{SsoCompare, SsoDetails, SsoHop, SsoIdentity};

use super::{Paint, TextStyle, endpoint, summarised};

pub(super) fn details(out: &mut String, d: &SsoDetails, p: &Paint, style: TextStyle) -> String {
    if !d.seeded_cookies.is_empty() {
        let names = d
            .seeded_cookies
            .iter()
            .map(|c| format!("{}@{}", c.name, c.domain));
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!("jar: {}", summarised(names, style.shown())))
        );
    }
    for hop in &d.hops {
        hop_line(out, hop, p, style.shown());
        if style.verbose {
            endpoint::hop_lines(out, hop.index - 1, &hop.network, p, true);
        }
    }
    if let Some(id) = &d.identity {
        identity_line(out, id);
    }
    if let Some(url) = &d.rewritten_url {
        let _ = writeln!(out, "      fresh sign-in: {url}");
    }
    if let Some(c) = &d.compare {
        compare_lines(out, c, p, style);
    }
    d.end.summary.clone()
}

fn identity_line(out: &mut String, id: &SsoIdentity) {
    let _ = writeln!(
        out,
        "      account ({}, hop {}, unverified): {}",
        id.source,
        id.hop,
        super::account(id)
    );
}

fn compare_lines(out: &mut String, c: &SsoCompare, p: &Paint, style: TextStyle) {
    let parted = c.parted_at.map_or_else(
        || "the runs do not part".to_owned(),
        |h| format!("the runs part at hop {h}"),
    );
    let _ = writeln!(out, "      compare: {parted}");
    let _ = writeln!(out, "        {}", c.with_jar);
    let _ = writeln!(out, "        {}", c.clean);
    for hop in &c.clean_hops {
        out.push_str("  ");
        hop_line(out, hop, p, style.shown());
    }
}

fn hop_line(out: &mut String, hop: &SsoHop, p: &Paint, shown: usize) {
    let status = hop
        .status
        .map_or_else(|| "---".to_owned(), |s| s.to_string());
    let idp = hop
        .idp
        .as_deref()
        .map(|i| format!(" [{i}]"))
        .unwrap_or_default();
    let notes = cookie_notes(hop, shown);
    let title = hop
        .title
        .as_deref()
        .map(|t| format!(" \"{t}\""))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "      {:>2} {} {} {}{idp} → {}{title}  {}",
        hop.index,
        hop.method,
        hop.url,
        p.bold(&status),
        hop.page,
        p.dim(&format!(
            "{:.1} ms{}",
            hop.network.timings.total_ms,
            if notes.is_empty() {
                String::new()
            } else {
                format!(" · {}", notes.join(" · "))
            }
        ))
    );
}

/// The cookies a hop sent, held back and set.
fn cookie_notes(hop: &SsoHop, shown: usize) -> Vec<String> {
    let mut notes = Vec::new();
    if !hop.cookies_sent.is_empty() {
        notes.push(format!("sent {}", summarised(&hop.cookies_sent, shown)));
    }
    if !hop.cookies_withheld.is_empty() {
        let withheld = hop
            .cookies_withheld
            .iter()
            .map(|c| format!("{} ({})", c.name, c.reason));
        notes.push(format!("withheld {}", summarised(withheld, shown)));
    }
    if !hop.cookies_set.is_empty() {
        let set = hop.cookies_set.iter().map(|c| {
            let attrs = super::super::cookie_attributes(c);
            match &c.refused {
                Some(reason) => format!(
                    "{} ({}; refused by browsers: {reason})",
                    c.name,
                    attrs.join("; ")
                ),
                None => format!("{} ({})", c.name, attrs.join("; ")),
            }
        });
        notes.push(format!("set {}", summarised(set, shown)));
    }
    notes
}
