//! An endpoint check: its last hop in the headline, the timings, and each
//! hop (with `-v`, its proxy, DNS, TCP, TLS and HTTP record: the handshake,
//! every presented certificate, the request and the answer with their
//! headers; SSO hops use the same).

use std::fmt::Write as _;

use reach_report::endpoint::{Certificate, EndpointDetails, Header, Hop, TcpOutcome, TlsPhase};

use super::{LIST_SHOWN_VERBOSE, Paint, TextStyle, summarised};
use crate::printer::{endpoint_headline, tenths_ms, timings_line};

pub(super) fn details(
    out: &mut String,
    d: &EndpointDetails,
    p: &Paint,
    style: TextStyle,
) -> String {
    let _ = writeln!(out, "      {}", p.dim(&timings_line(&d.timings, tenths_ms)));
    if d.hops.len() > 1 || style.verbose {
        for (i, hop) in d.hops.iter().enumerate() {
            hop_lines(out, i, hop, p, style.verbose);
        }
    }
    endpoint_headline(d).join(" · ")
}

/// One hop: its status and URL; with `verbose`, its network record, in the
/// order of the pipeline and in the words of `curl -v` and `openssl
/// s_client`: the proxy, DNS, TCP, TLS and its certificates, the request
/// sent (`>`) and the answer (`<`).
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
    proxy_line(out, hop);
    dns_lines(out, hop);
    tcp_lines(out, hop);
    tls_lines(out, hop);
    http_lines(out, hop);
}

/// Which proxy the hop went through, or why none: with a proxy, the DNS and
/// TCP lines below are the proxy's.
fn proxy_line(out: &mut String, hop: &Hop) {
    let Some(proxy) = &hop.proxy else {
        return;
    };
    if let Some(why) = &proxy.bypassed {
        let _ = writeln!(out, "        proxy bypassed: {why}");
        return;
    }
    let mut parts = vec![format!(
        "via {} (from {})",
        proxy.url.as_deref().unwrap_or("a proxy"),
        proxy.source
    )];
    match (proxy.mode.as_deref(), proxy.status) {
        (Some("connect"), Some(status)) => parts.push(format!("CONNECT answered {status}")),
        (Some("connect"), None) => parts.push("CONNECT not answered".to_owned()),
        (Some("forward"), _) => parts.push("requests forwarded".to_owned()),
        (Some(other), _) => parts.push(other.to_owned()),
        (None, _) => parts.push("not reached".to_owned()),
    }
    let _ = writeln!(out, "        proxy {}", parts.join(" · "));
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

/// The handshake in one line (version, cipher, ALPN, SNI, verification),
/// or why there is none, then the presented chain.
fn tls_lines(out: &mut String, hop: &Hop) {
    let Some(tls) = &hop.tls else {
        if hop.url.starts_with("http://") && hop.tcp.as_ref().is_some_and(|t| t.connected.is_some())
        {
            let _ = writeln!(out, "        tls  none: plain HTTP (http://)");
        }
        return;
    };
    let _ = writeln!(out, "        tls  {}", tls_summary(tls));
    for (i, c) in tls.chain.iter().take(LIST_SHOWN_VERBOSE).enumerate() {
        certificate_lines(out, i + 1, c);
    }
    if tls.chain.len() > LIST_SHOWN_VERBOSE {
        let _ = writeln!(
            out,
            "        cert … and {} more (--json lists them all)",
            tls.chain.len() - LIST_SHOWN_VERBOSE
        );
    }
}

fn tls_summary(tls: &TlsPhase) -> String {
    let completed = tls.version.is_some();
    let mut parts = Vec::new();
    match (&tls.version, &tls.cipher) {
        (Some(v), Some(c)) => parts.push(format!("{v} · {c}")),
        (Some(v), None) => parts.push(v.clone()),
        (None, _) => parts.push("handshake not completed".to_owned()),
    }
    let offered = tls.alpn_offered.join(", ");
    parts.push(match (&tls.alpn, completed) {
        (Some(a), _) => format!("alpn {a}"),
        (None, _) if offered.is_empty() => "no alpn offered".to_owned(),
        (None, true) => format!("alpn none agreed (offered {offered})"),
        (None, false) => format!("alpn offered {offered}"),
    });
    parts.push(tls.sni.as_ref().map_or_else(
        || "no sni (an IP address)".to_owned(),
        |s| format!("sni {s}"),
    ));
    parts.push(verification(tls, completed));
    if tls.client_cert_requested {
        parts.push(
            if tls.client_cert_sent {
                "client certificate asked for and sent"
            } else {
                "client certificate asked for, none sent"
            }
            .to_owned(),
        );
    }
    parts.join(" · ")
}

fn verification(tls: &TlsPhase, completed: bool) -> String {
    if tls.verified {
        return match tls.public_root {
            Some(true) => "verified (public root)",
            Some(false) => "verified (private root)",
            None => "verified",
        }
        .to_owned();
    }
    match (tls.chain.is_empty(), completed) {
        (true, false) => "no certificate received: see the findings".to_owned(),
        (false, false) => "not verified: see the findings".to_owned(),
        (_, true) => "not verified".to_owned(),
    }
}

/// One certificate as `openssl s_client -showcerts` and `openssl x509
/// -text` show it: subject, issuer, names, validity, key, signature.
fn certificate_lines(out: &mut String, n: usize, c: &Certificate) {
    let label = format!("cert {n} ");
    let pad = " ".repeat(label.len());
    let mut rows: Vec<(&str, String)> = vec![("subject", c.subject.clone())];
    if !c.issuer.is_empty() {
        rows.push(("issuer", c.issuer.clone()));
    }
    // A certificate that did not parse has only its fingerprint.
    let parsed = !c.not_after.is_empty();
    if parsed {
        let names = if c.sans.is_empty() {
            "(none)".to_owned()
        } else {
            summarised(&c.sans, LIST_SHOWN_VERBOSE)
        };
        rows.push(("sans", names));
    }
    if parsed {
        let left = if c.days_left < 0 {
            "expired".to_owned()
        } else if not_yet(&c.not_before) {
            "not yet valid".to_owned()
        } else {
            reach_report::count(c.days_left.unsigned_abs(), "day left", "days left")
        };
        rows.push((
            "valid",
            format!("{} to {} ({left})", c.not_before, c.not_after),
        ));
    }
    if !c.public_key.is_empty() {
        let signed = if c.signed_with.is_empty() {
            String::new()
        } else {
            format!(" · signed with {}", c.signed_with)
        };
        rows.push(("key", format!("{}{signed}", c.public_key)));
    }
    if c.embedded_scts > 0 {
        rows.push(("ct", format!("{} embedded SCTs", c.embedded_scts)));
    }
    if !c.ca_issuers.is_empty() {
        rows.push(("ca issuers", summarised(&c.ca_issuers, LIST_SHOWN_VERBOSE)));
    }
    rows.push(("sha256", c.sha256.clone()));
    for (i, (name, value)) in rows.iter().enumerate() {
        let head = if i == 0 { &label } else { &pad };
        let line = format!("        {head}{name:<10} {value}");
        let _ = writeln!(out, "{}", line.trim_end());
    }
}

/// Whether an RFC 3339 UTC time (as the report writes a certificate's
/// validity: `2026-11-30T14:32:18Z`) is still to come. Such strings of one
/// length compare as the times do.
fn not_yet(rfc3339: &str) -> bool {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        });
    now.is_some_and(|now| {
        rfc3339.ends_with('Z') && rfc3339.len() == now.len() && rfc3339 > now.as_str()
    })
}

/// The exchange as `curl -v` shows it: the request line and headers sent
/// (`>`), the status line and headers received (`<`), then the body's size.
/// Header values arrive redacted with the rest of the report.
fn http_lines(out: &mut String, hop: &Hop) {
    let Some(http) = &hop.http else {
        return;
    };
    let _ = writeln!(
        out,
        "        > {} {} {}",
        http.method,
        request_target(hop),
        http.version
    );
    header_lines(out, ">", &http.request_headers);
    let Some(status) = http.status else {
        let _ = writeln!(out, "        < no answer: see the findings");
        return;
    };
    let _ = writeln!(out, "        < {} {status}", http.version);
    header_lines(out, "<", &http.headers);
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

/// What the request line names: the path and query, or the whole URL when
/// a proxy forwards the request (absolute form).
fn request_target(hop: &Hop) -> String {
    let forwarded = hop
        .proxy
        .as_ref()
        .is_some_and(|p| p.mode.as_deref() == Some("forward"));
    match url::Url::parse(&hop.url) {
        Ok(url) if !forwarded => {
            url[url::Position::BeforePath..url::Position::AfterQuery].to_owned()
        }
        _ => hop.url.clone(),
    }
}

fn header_lines(out: &mut String, arrow: &str, headers: &[Header]) {
    for h in headers.iter().take(LIST_SHOWN_VERBOSE) {
        let _ = writeln!(out, "        {arrow} {}: {}", h.name, h.value);
    }
    if headers.len() > LIST_SHOWN_VERBOSE {
        let _ = writeln!(
            out,
            "        {arrow} … and {} more (--json lists them all)",
            headers.len() - LIST_SHOWN_VERBOSE
        );
    }
}

#[cfg(test)]
mod tests {
    use reach_report::endpoint::HttpPhase;

    use super::*;

    fn verbose(hop: &Hop) -> String {
        let mut out = String::new();
        hop_lines(&mut out, 0, hop, &Paint { on: false }, true);
        out
    }

    /// A hostile server's lists (headers, names, a chain) are bounded in
    /// text, with how many more there are; a certificate that did not
    /// parse shows its fingerprint only.
    #[test]
    fn long_lists_are_bounded_and_unparsed_certificates_are_short() {
        let many = LIST_SHOWN_VERBOSE + 20;
        let header = |i| Header {
            name: format!("x-{i}"),
            value: "v".to_owned(),
        };
        let leaf = Certificate {
            subject: "CN=a".to_owned(),
            sans: (0..many).map(|i| format!("n{i}.test")).collect(),
            not_after: "2030-01-01T00:00:00Z".to_owned(),
            ..Certificate::default()
        };
        let unparsed = Certificate {
            subject: "(unparseable certificate)".to_owned(),
            sha256: "ab".repeat(32),
            ..Certificate::default()
        };
        let mut chain = vec![unparsed, leaf];
        chain.resize(many, Certificate::default());
        let hop = Hop {
            url: "https://a.test/p?q=1".to_owned(),
            tls: Some(TlsPhase {
                chain,
                ..TlsPhase::default()
            }),
            http: Some(HttpPhase {
                method: "GET".to_owned(),
                version: "HTTP/1.1".to_owned(),
                request_headers: (0..many).map(header).collect(),
                headers: (0..many).map(header).collect(),
                ..HttpPhase::default()
            }),
            ..Hop::default()
        };
        let out = verbose(&hop);
        assert!(out.contains("\n        > GET /p?q=1 HTTP/1.1\n"), "{out}");
        assert!(out.contains("\n        > … and 20 more (--json lists them all)\n"));
        assert!(out.contains("\n        < no answer: see the findings\n"));
        assert!(out.contains("\n        cert … and 20 more (--json lists them all)\n"));
        assert!(out.contains(", n99.test, … and 20 more\n"), "{out}");
        let unparsed = format!(
            "        cert 1 subject    (unparseable certificate)\n               sha256     {}\n        cert 2 ",
            "ab".repeat(32)
        );
        assert!(out.contains(&unparsed), "{out}");
        assert!(!out.contains("x-100:"), "{out}");
        assert!(out.len() < 64 * 1024, "{} bytes", out.len());
    }
}
