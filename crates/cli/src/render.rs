//! Renderers: the report as text for people and JSON for machines. Both
//! read the same (already redacted) [`Report`].

use std::fmt::Write as _;

use reach_report::endpoint::{EndpointDetails, Hop, TcpOutcome, Timings};
use reach_report::sso::{SsoDetails, SsoHop};
use reach_report::{Check, Details, Report, Severity, Status};

/// How text output looks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextStyle {
    pub(crate) color: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: bool,
}

struct Paint {
    on: bool,
}

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.on {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
    fn status(&self, status: Status) -> String {
        let (code, label) = match status {
            Status::Pass => ("32", "PASS "),
            Status::Warn => ("33", "WARN "),
            Status::Fail => ("31", "FAIL "),
            Status::Error => ("35", "ERROR"),
            Status::Cancelled => ("2", "CANCELLED"),
        };
        self.wrap(&format!("1;{code}"), label)
    }
    fn severity(&self, severity: Severity) -> String {
        let code = match severity {
            Severity::Info => "36",
            Severity::Warn => "33",
            Severity::Fail => "31",
        };
        self.wrap(code, severity.as_str())
    }
    fn dim(&self, text: &str) -> String {
        self.wrap("2", text)
    }
    fn bold(&self, text: &str) -> String {
        self.wrap("1", text)
    }
}

/// `text` with every control character escaped (`ESC` as `\u{1b}`) except
/// those in `keep`: bytes from input or the network (a hostile certificate
/// subject, a header value, an allowlist line) would otherwise drive the
/// terminal, set its title or clear it. The text report, Markdown and every
/// line reach writes to stderr go through here.
pub(crate) fn escape_controls<'a>(text: &'a str, keep: &[char]) -> std::borrow::Cow<'a, str> {
    let escaped = |c: char| c.is_control() && !keep.contains(&c);
    if !text.chars().any(escaped) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if escaped(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The report with control characters escaped in every string (see
/// [`escape_controls`]). Most reports hold none: those are found by
/// streaming their JSON through [`ControlScan`] and returned as they are,
/// so a jar of a million cookies is not copied into a `serde_json::Value`
/// tree (about 600 bytes a cookie).
pub(crate) fn printable(report: &Report) -> std::borrow::Cow<'_, Report> {
    let mut scan = ControlScan::default();
    if serde_json::to_writer(&mut scan, report).is_ok() && !scan.found {
        return std::borrow::Cow::Borrowed(report);
    }
    std::borrow::Cow::Owned(escaped(report))
}

/// Whether JSON text holds a control character in a string: `serde_json`
/// writes C0 controls as `\n`, `\t`, `\u001b`… and DEL and C1 controls
/// as they are.
#[derive(Default)]
struct ControlScan {
    found: bool,
    /// After a backslash.
    escape: bool,
    /// After the lead byte `0xc2` of U+0080..U+00BF.
    c2: bool,
}

impl std::io::Write for ControlScan {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        for &b in bytes {
            if self.escape {
                self.escape = false;
                self.found |= matches!(b, b'n' | b'r' | b't' | b'b' | b'f' | b'u');
            } else if self.c2 {
                self.c2 = false;
                self.found |= (0x80..=0x9f).contains(&b);
            } else {
                self.escape = b == b'\\';
                self.c2 = b == 0xc2;
                self.found |= b == 0x7f;
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// [`printable`]'s copy of a report that holds control characters.
fn escaped(report: &Report) -> Report {
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::String(s) if s.chars().any(char::is_control) => {
                *s = escape_controls(s, &[]).into_owned();
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            serde_json::Value::Object(map) => map.values_mut().for_each(walk),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(report).expect("a report always serializes");
    walk(&mut value);
    serde_json::from_value(value).expect("escaping keeps the report's shape")
}

/// How many items of a list text shows (a jar's cookie names, the cookies a
/// hop sent, JWKS keys, response headers) before "… and N more": a jar of
/// a million cookies is one line, not 20 MB. JSON keeps every item.
const LIST_SHOWN: usize = 10;
/// The same with `-v`.
const LIST_SHOWN_VERBOSE: usize = 100;

impl TextStyle {
    fn shown(self) -> usize {
        if self.verbose {
            LIST_SHOWN_VERBOSE
        } else {
            LIST_SHOWN
        }
    }
}

/// The first `shown` items joined by `, `, then how many more there are.
fn summarised<I>(items: I, shown: usize) -> String
where
    I: IntoIterator,
    I::IntoIter: ExactSizeIterator,
    I::Item: std::fmt::Display,
{
    let items = items.into_iter();
    let total = items.len();
    let mut out = String::new();
    for (i, item) in items.take(shown).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{item}");
    }
    if total > shown {
        let _ = write!(out, ", … and {} more", total - shown);
    }
    out
}

pub(crate) fn text(report: &Report, style: TextStyle) -> String {
    let report = &printable(report);
    let p = Paint { on: style.color };
    let mut out = String::new();
    for check in &report.checks {
        if style.quiet && check.status == Status::Pass {
            continue;
        }
        render_check(&mut out, check, &p, style);
    }
    let s = &report.summary;
    let _ = writeln!(
        out,
        "{} {} pass, {} warn, {} fail, {} error{} · {} checks in {:.1} ms · {} {}",
        p.bold("summary:"),
        s.pass,
        s.warn,
        s.fail,
        s.error,
        if s.cancelled > 0 {
            format!(", {} cancelled", s.cancelled)
        } else {
            String::new()
        },
        report.checks.len(),
        report.duration_ms,
        report.tool.name,
        report.tool.version,
    );
    out
}

fn render_check(out: &mut String, check: &Check, p: &Paint, style: TextStyle) {
    let headline = match &check.details {
        Details::Endpoint(d) => endpoint_headline(d),
        Details::Allowlist(d) => format!(
            "IPv4 {:.2}% covered ({} of {}) · IPv6 {:.2}% covered ({} of {})",
            d.ipv4.coverage_percent,
            d.ipv4.covered,
            d.ipv4.published,
            d.ipv6.coverage_percent,
            d.ipv6.covered,
            d.ipv6.published
        ),
        Details::AllowlistDiff(d) => format!(
            "{} added ({} addresses) · {} removed ({} addresses)",
            d.added.len(),
            d.added_addresses,
            d.removed.len(),
            d.removed_addresses
        ),
        Details::Sso(d) => d.end.summary.clone(),
        Details::OauthScopes(d) => format!(
            "scope: {} · optional_scope: {}",
            or_none(&d.scope),
            or_none(&d.optional_scope)
        ),
        Details::OauthToken(d) => match (&d.token_type, &d.error) {
            (Some(kind), _) => format!(
                "{kind} token, {} · scopes: {}",
                d.expires_in.map_or_else(
                    || "no expires_in".to_owned(),
                    |s| format!("expires in {s} s")
                ),
                or_none(&d.scopes_granted)
            ),
            (None, Some(error)) => format!(
                "{} {error}",
                d.status.map_or_else(String::new, |s| s.to_string())
            ),
            (None, None) => d
                .status
                .map_or_else(|| "no answer".to_owned(), |s| format!("answered {s}")),
        },
        Details::OauthDiscover(d) => format!(
            "issuer {} · {} of {} endpoints reachable",
            d.issuer.as_deref().unwrap_or("(no document)"),
            d.endpoints.iter().filter(|e| e.reachable).count(),
            d.endpoints.len()
        ),
        Details::None(_) => String::new(),
    };
    let title = match &check.name {
        Some(name) => format!("{}  {}", p.bold(name), p.dim(&check.target)),
        None => p.bold(&check.target),
    };
    let _ = writeln!(
        out,
        "{} {title}  {}",
        p.status(check.status),
        p.dim(&headline)
    );
    if let Details::Endpoint(d) = &check.details {
        let _ = writeln!(out, "      {}", p.dim(&timings_line(&d.timings)));
        if d.hops.len() > 1 || style.verbose {
            for (i, hop) in d.hops.iter().enumerate() {
                render_hop(out, i, hop, p, style.verbose);
            }
        }
    }
    match &check.details {
        Details::Sso(d) => render_sso(out, d, p, style),
        Details::OauthScopes(d) => {
            let _ = writeln!(out, "      corrected: {}", d.corrected_url);
        }
        Details::OauthToken(d) => {
            if let Some(at) = &d.expires_at {
                let _ = writeln!(out, "      {}", p.dim(&format!("expires at {at}")));
            }
            if let Some(c) = &d.access_token_claims {
                let _ = writeln!(
                    out,
                    "      {}",
                    p.dim(&format!(
                        "access token claims (unverified): aud {} · exp {} · scopes {}",
                        or_none(&c.aud),
                        c.exp.as_deref().unwrap_or("-"),
                        or_none(&c.scopes)
                    ))
                );
            }
            if let Some(id) = &d.request_id {
                let _ = writeln!(out, "      {}", p.dim(&format!("request id {id}")));
            }
        }
        Details::OauthDiscover(d) => {
            for e in &d.endpoints {
                let status = e
                    .status
                    .map_or_else(|| p.bold("unreachable"), |s| s.to_string());
                let _ = writeln!(out, "      {:<24} {} {status}", e.name, e.url);
            }
            if let Some(keys) = &d.jwks_keys {
                let kids = keys
                    .iter()
                    .map(|k| format!("{} {}", k.kty, k.kid.as_deref().unwrap_or("-")));
                let _ = writeln!(
                    out,
                    "      {}",
                    p.dim(&format!("jwks: {}", summarised(kids, style.shown())))
                );
            }
        }
        Details::Allowlist(d) => {
            for input in d.published.iter().chain(&d.allowlists) {
                let version = input
                    .version
                    .as_deref()
                    .map_or_else(String::new, |v| format!(", {v}"));
                let _ = writeln!(
                    out,
                    "      {}",
                    p.dim(&format!(
                        "{} ({}{version}): {} entries",
                        input.source, input.format, input.entries
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
        }
        Details::AllowlistDiff(d) => {
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
        }
        _ => {}
    }
    for f in &check.findings {
        let _ = writeln!(
            out,
            "      {} {}  {}",
            p.severity(f.severity),
            p.bold(f.code.name()),
            f.message
        );
        let _ = writeln!(out, "        {} {}", p.dim("fix:"), f.remedy);
    }
    out.push('\n');
}

/// The chain, one line a hop; `-v` adds each hop's network record.
fn render_sso(out: &mut String, d: &SsoDetails, p: &Paint, style: TextStyle) {
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
        sso_hop_line(out, hop, p, style.shown());
        if style.verbose {
            render_hop(out, hop.index - 1, &hop.network, p, true);
        }
    }
    if let Some(id) = &d.identity {
        let who = [
            ("email", &id.email),
            ("preferred_username", &id.preferred_username),
            ("upn", &id.upn),
            ("NameID", &id.name_id),
            ("sub", &id.subject),
        ]
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}")))
        .collect::<Vec<_>>()
        .join(" ");
        let _ = writeln!(
            out,
            "      account ({}, hop {}, unverified): {who}{}",
            id.source,
            id.hop,
            id.issuer
                .as_deref()
                .map(|i| format!(" issuer={i}"))
                .unwrap_or_default()
        );
    }
    if let Some(url) = &d.rewritten_url {
        let _ = writeln!(out, "      fresh sign-in: {url}");
    }
    if let Some(c) = &d.compare {
        let parted = c.parted_at.map_or_else(
            || "the runs do not part".to_owned(),
            |h| format!("the runs part at hop {h}"),
        );
        let _ = writeln!(out, "      compare: {parted}");
        let _ = writeln!(out, "        {}", c.with_jar);
        let _ = writeln!(out, "        {}", c.clean);
        for hop in &c.clean_hops {
            out.push_str("  ");
            sso_hop_line(out, hop, p, style.shown());
        }
    }
}

fn sso_hop_line(out: &mut String, hop: &SsoHop, p: &Paint, shown: usize) {
    let status = hop
        .status
        .map_or_else(|| "---".to_owned(), |s| s.to_string());
    let idp = hop
        .idp
        .as_deref()
        .map(|i| format!(" [{i}]"))
        .unwrap_or_default();
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
            let mut attrs = Vec::new();
            if c.secure {
                attrs.push("Secure".to_owned());
            }
            if c.http_only {
                attrs.push("HttpOnly".to_owned());
            }
            attrs.push(format!(
                "SameSite={}",
                c.same_site.as_deref().unwrap_or("unset")
            ));
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

fn or_none(list: &[String]) -> String {
    if list.is_empty() {
        "(none)".to_owned()
    } else {
        list.join(" ")
    }
}

fn endpoint_headline(d: &EndpointDetails) -> String {
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

fn render_hop(out: &mut String, index: usize, hop: &Hop, p: &Paint, verbose: bool) {
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
    if let Some(dns) = &hop.dns {
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
    if let Some(tcp) = &hop.tcp {
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
    if let Some(tls) = &hop.tls {
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
    if let Some(http) = &hop.http {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use reach_report::{Check, CheckKind, Code, Finding, Tool};

    #[test]
    fn control_characters_are_escaped_in_text() {
        let mut check = Check::new(CheckKind::Endpoint, "x");
        check.push(Finding::new(Code::TlsUntrustedIssuer, "CN=\u{1b}[2Jevil"));
        let report = Report::new(
            Tool {
                name: "reach".into(),
                version: "0".into(),
            },
            String::new(),
            0.0,
            vec![check],
        );
        let style = TextStyle {
            color: false,
            quiet: false,
            verbose: false,
        };
        let out = text(&report, style);
        assert!(!out.contains('\u{1b}'), "{out}");
        assert!(out.contains("CN=\\u{1b}[2Jevil"), "{out}");
    }

    /// The scan that spares a report without control characters its copy
    /// finds each kind `serde_json` writes, and nothing in plain text.
    #[test]
    fn control_scan_finds_what_needs_escaping() {
        let has = |text: &str| {
            let mut scan = ControlScan::default();
            serde_json::to_writer(&mut scan, &serde_json::json!({ "k": [text] })).unwrap();
            scan.found
        };
        for control in [
            "a\u{1b}[2J",
            "line\nbreak",
            "tab\t",
            "del\u{7f}",
            "csi\u{9b}2J",
            "nul\u{0}",
        ] {
            assert!(has(control), "{control:?}");
        }
        for plain in [
            "plain",
            "back\\slash\\n",
            "quote\"",
            "café",
            "nbsp\u{a0}",
            "€ ✓",
        ] {
            assert!(!has(plain), "{plain:?}");
        }
    }
}
