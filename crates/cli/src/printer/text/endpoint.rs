//! An endpoint check: its last hop in the headline, the timings, and each
//! hop (with `-v`, its DNS, TCP, TLS and HTTP record; SSO and OAuth hops
//! use the same).

use std::fmt::Write as _;

use reach_report::endpoint::{EndpointDetails, Hop, TcpOutcome, Timings};

use super::{LIST_SHOWN_VERBOSE, Paint, TextStyle};

pub(super) fn details(
    out: &mut String,
    d: &EndpointDetails,
    p: &Paint,
    style: TextStyle,
) -> String {
    let _ = writeln!(out, "      {}", p.dim(&timings_line(&d.timings)));
    if d.hops.len() > 1 || style.verbose {
        for (i, hop) in d.hops.iter().enumerate() {
            hop_lines(out, i, hop, p, style.verbose);
        }
    }
    headline(d)
}

fn headline(d: &EndpointDetails) -> String {
    let Some(last) = d.hops.last() else {
        return String::new();
    };
    let mut parts = Vec::new();
    if let Some(http) = &last.http {
        if let Some(status) = http.status {
            parts.push(status.to_string());
        }
        parts.push(http.version.clone());
    }
    if let Some(tls) = &last.tls
        && let Some(v) = &tls.version
    {
        parts.push(v.clone());
    }
    if let Some(addr) = last.tcp.as_ref().and_then(|t| t.connected.as_ref()) {
        parts.push(addr.clone());
    }
    if d.hops.len() > 1 {
        parts.push(format!("{} hops", d.hops.len()));
    }
    parts.join(" · ")
}

fn timings_line(t: &Timings) -> String {
    let f = |name: &str, v: Option<f64>| v.map(|v| format!("{name} {v:.1} ms"));
    let mut parts: Vec<String> = [
        f("dns", t.dns_ms),
        f("connect", t.connect_ms),
        f("tls", t.tls_ms),
        f("ttfb", t.ttfb_ms),
        f("redirects", t.redirect_ms),
    ]
    .into_iter()
    .flatten()
    .collect();
    parts.push(format!("total {:.1} ms", t.total_ms));
    parts.join(" · ")
}

/// One hop: its status and URL; with `verbose`, its network record.
pub(super) fn hop_lines(out: &mut String, index: usize, hop: &Hop, p: &Paint, verbose: bool) {
    let status = hop
        .http
        .as_ref()
        .and_then(|h| h.status)
        .map_or_else(|| "—".to_owned(), |s| s.to_string());
    let _ = writeln!(
        out,
        "      {} {status} {}",
        p.dim(&format!("hop {}:", index + 1)),
        hop.url
    );
    if !verbose {
        return;
    }
    dns_lines(out, hop);
    tcp_lines(out, hop);
    tls_lines(out, hop);
    http_lines(out, hop);
}

fn dns_lines(out: &mut String, hop: &Hop) {
    let Some(dns) = &hop.dns else {
        return;
    };
    for c in &dns.cname_chain {
        let _ = writeln!(
            out,
            "        dns  {} CNAME {} (ttl {})",
            c.name, c.target, c.ttl
        );
    }
    for a in &dns.answers {
        let ttl = a.ttl.map_or_else(String::new, |t| format!(" (ttl {t})"));
        let _ = writeln!(
            out,
            "        dns  {} {} {}{ttl}",
            a.name, a.record_type, a.address
        );
    }
}

fn tcp_lines(out: &mut String, hop: &Hop) {
    let Some(tcp) = &hop.tcp else {
        return;
    };
    for a in &tcp.attempts {
        let outcome = match a.outcome {
            TcpOutcome::Connected => "connected",
            TcpOutcome::Refused => "refused",
            TcpOutcome::Timeout => "timeout",
            TcpOutcome::Unreachable => "unreachable",
            TcpOutcome::Error => "error",
            TcpOutcome::Skipped => "skipped",
        };
        let _ = writeln!(
            out,
            "        tcp  {} {outcome} in {:.1} ms",
            a.address, a.duration_ms
        );
    }
}

fn tls_lines(out: &mut String, hop: &Hop) {
    let Some(tls) = &hop.tls else {
        return;
    };
    let _ = writeln!(
        out,
        "        tls  {} {} alpn {} verified {}",
        tls.version.as_deref().unwrap_or("—"),
        tls.cipher.as_deref().unwrap_or("—"),
        tls.alpn.as_deref().unwrap_or("—"),
        tls.verified
    );
    for c in &tls.chain {
        let _ = writeln!(
            out,
            "        cert {} (issuer {}; {} days left; {})",
            c.subject, c.issuer, c.days_left, c.public_key
        );
    }
}

fn http_lines(out: &mut String, hop: &Hop) {
    let Some(http) = &hop.http else {
        return;
    };
    for h in http.headers.iter().take(LIST_SHOWN_VERBOSE) {
        let _ = writeln!(out, "        hdr  {}: {}", h.name, h.value);
    }
    if http.headers.len() > LIST_SHOWN_VERBOSE {
        let _ = writeln!(
            out,
            "        hdr  … and {} more (--json lists them all)",
            http.headers.len() - LIST_SHOWN_VERBOSE
        );
    }
    let _ = writeln!(
        out,
        "        body {} bytes{}",
        http.body_bytes,
        if http.body_truncated {
            " (truncated)"
        } else {
            ""
        }
    );
}
