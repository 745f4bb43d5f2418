//! The report as metrics: the Prometheus text format (0.0.4) or
//! `OpenMetrics`, through the `prometheus-client` crate. `--format
//! openmetrics` writes it for `node_exporter`'s textfile collector, and
//! `reach serve` answers `/probe` with it.
//!
//! Names are `blackbox_exporter`'s where they mean the same thing
//! (`probe_success`, `probe_duration_seconds`, `probe_http_*`,
//! `probe_ssl_earliest_cert_expiry`, `probe_tls_version_info`), so that
//! dashboards and alerts written for it keep working; what only reach
//! knows is `reach_*`: `reach_finding{code,severity}` for every finding,
//! and a few gauges per kind of check.
//!
//! Cardinality stays low: no label holds an address, and a target label is
//! the URL without its user, query or fragment.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::{prometheus_text, text as openmetrics_text};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use reach_report::endpoint::{EndpointDetails, Hop};
use reach_report::{Check, Code, Details, Status};

/// Which text format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `text/plain; version=0.0.4`: what Prometheus asks for by default.
    Prometheus,
    /// `application/openmetrics-text; version=1.0.0`, ending in `# EOF`.
    OpenMetrics,
}

impl Dialect {
    /// The `Content-Type` of an answer in this dialect.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Dialect::Prometheus => prometheus_text::CONTENT_TYPE,
            Dialect::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The dialect a scraper's `Accept` header asks for: `OpenMetrics` when
    /// it names it, as Prometheus does when it prefers it.
    pub(crate) fn accepted(accept: Option<&str>) -> Dialect {
        let wanted = accept.unwrap_or_default().split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            // `q=0` says "not this one".
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f64>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            media.eq_ignore_ascii_case("application/openmetrics-text") && !refused
        });
        if wanted {
            Dialect::OpenMetrics
        } else {
            Dialect::Prometheus
        }
    }

    /// `registry` in this dialect.
    pub(crate) fn encode(self, registry: &Registry) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = match self {
            Dialect::Prometheus => prometheus_text::encode(&mut out, registry),
            Dialect::OpenMetrics => openmetrics_text::encode(&mut out, registry),
        };
        out
    }
}

/// Whether each series says which check it is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Labels {
    /// One probe, as `blackbox_exporter` answers: Prometheus's own `instance`
    /// label says which target it was.
    None,
    /// Several checks in one exposition (a file, a preflight entry that
    /// makes several checks): `kind`, `target` and, when the check has
    /// one, `name` on every series.
    PerCheck,
}

type Set = Vec<(String, String)>;
type Series = Family<Set, Gauge<f64, AtomicU64>>;

/// The metrics of `checks`.
pub(crate) fn render(checks: &[Check], labels: Labels, dialect: Dialect) -> String {
    let metrics = Metrics::default();
    for check in checks {
        metrics.add(check, labels);
    }
    metrics.encode(dialect)
}

/// A label value from a check's target: a URL without its user, password,
/// query and fragment (which may hold secrets and make every scrape a new
/// series); other targets up to a `?`.
pub(crate) fn target_label(target: &str) -> String {
    let shown = match url::Url::parse(target) {
        Ok(mut url) if url.has_host() => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        _ => target
            .split(['?', '#'])
            .next()
            .unwrap_or_default()
            .to_owned(),
    };
    shown.chars().take(200).collect()
}

/// Every family an exposition may hold, in the order it writes them: name
/// and help. The help of a `blackbox_exporter` name is its own.
const FAMILIES: [(&str, &str); 19] = [
    (
        "probe_success",
        "Displays whether or not the probe was a success",
    ),
    (
        "probe_duration_seconds",
        "Returns how long the probe took to complete in seconds",
    ),
    (
        "reach_finding",
        "A finding of the check (reach explain CODE tells what it means and how to fix it)",
    ),
    (
        "probe_dns_lookup_time_seconds",
        "Returns the time taken for probe dns lookup in seconds",
    ),
    (
        "probe_http_duration_seconds",
        "Duration of http request by phase, summed over all redirects",
    ),
    ("probe_http_status_code", "Response HTTP status code"),
    (
        "probe_http_version",
        "Returns the version of HTTP of the probe response",
    ),
    ("probe_http_redirects", "The number of redirects"),
    (
        "probe_http_ssl",
        "Indicates if SSL was used for the final redirect",
    ),
    (
        "probe_ip_protocol",
        "Specifies whether probe ip protocol is IP4 or IP6",
    ),
    (
        "probe_ssl_earliest_cert_expiry",
        "Returns earliest SSL cert expiry in unixtime",
    ),
    ("probe_tls_version_info", "Contains the TLS version used"),
    (
        "reach_allowlist_coverage_ratio",
        "Share of the published addresses the allowlist covers, by address family",
    ),
    (
        "reach_allowlist_uncovered_addresses",
        "Published addresses the allowlist does not cover, by address family",
    ),
    (
        "reach_allowlist_published_addresses",
        "Addresses in the published ranges, by address family",
    ),
    ("reach_sso_hops", "Requests the sign-in chain made"),
    (
        "reach_sso_auto_login",
        "Whether an existing session signed in without asking (1) or not (0)",
    ),
    (
        "reach_oauth_token_lifetime_seconds",
        "Lifetime of the granted access token (expires_in) in seconds",
    ),
    (
        "reach_oauth_discovery_unreachable_endpoints",
        "Endpoints of the discovery document that could not be reached",
    ),
];

// Indexes into FAMILIES.
const SUCCESS: usize = 0;
const DURATION: usize = 1;
const FINDING: usize = 2;
const DNS_LOOKUP: usize = 3;
const HTTP_DURATION: usize = 4;
const HTTP_STATUS: usize = 5;
const HTTP_VERSION: usize = 6;
const HTTP_REDIRECTS: usize = 7;
const HTTP_SSL: usize = 8;
const IP_PROTOCOL: usize = 9;
const CERT_EXPIRY: usize = 10;
const TLS_VERSION: usize = 11;
const ALLOWLIST_COVERAGE: usize = 12;
const ALLOWLIST_UNCOVERED: usize = 13;
const ALLOWLIST_PUBLISHED: usize = 14;
const SSO_HOPS: usize = 15;
const SSO_AUTO_LOGIN: usize = 16;
const TOKEN_LIFETIME: usize = 17;
const DISCOVERY_UNREACHABLE: usize = 18;

/// The series of an exposition being built, family by family; a family
/// no check gave a value is left out.
#[derive(Default)]
struct Metrics {
    series: [Series; FAMILIES.len()],
    used: [std::cell::Cell<bool>; FAMILIES.len()],
    /// The label sets of the checks so far, and how often each came.
    seen: std::cell::RefCell<std::collections::HashMap<Set, usize>>,
}

/// `set` plus one more label.
fn with(set: &Set, key: &str, value: impl Into<String>) -> Set {
    let mut out = set.clone();
    out.push((key.to_owned(), value.into()));
    out
}

fn flag(on: bool) -> f64 {
    if on { 1.0 } else { 0.0 }
}

impl Metrics {
    fn set(&self, family: usize, labels: &Set, value: f64) {
        self.used[family].set(true);
        self.series[family].get_or_create(labels).set(value);
    }

    fn add(&self, check: &Check, labels: Labels) {
        let set: Set = match labels {
            Labels::None => Vec::new(),
            Labels::PerCheck => {
                let mut set = vec![
                    ("kind".to_owned(), check.kind.name().to_owned()),
                    ("target".to_owned(), target_label(&check.target)),
                ];
                if let Some(name) = &check.name {
                    set.push(("name".to_owned(), name.clone()));
                }
                // Two checks that differ only in what a label leaves out
                // (a query string), or the same target twice: the second
                // is `repeat="2"`, not written over the first.
                let mut seen = self.seen.borrow_mut();
                let count = seen.entry(set.clone()).or_insert(0);
                *count += 1;
                if *count > 1 {
                    set.push(("repeat".to_owned(), count.to_string()));
                }
                set
            }
        };
        let success = matches!(check.status, Status::Pass | Status::Warn);
        self.set(SUCCESS, &set, flag(success));
        self.set(DURATION, &set, check.duration_ms / 1000.0);
        for finding in &check.findings {
            let labels = with(
                &with(&set, "code", finding.code.name()),
                "severity",
                finding.severity.as_str(),
            );
            self.set(FINDING, &labels, 1.0);
        }
        match &check.details {
            Details::Endpoint(details) => self.endpoint(details, &set),
            Details::Allowlist(details) => {
                for (family, coverage) in [("ipv4", &details.ipv4), ("ipv6", &details.ipv6)] {
                    let labels = with(&set, "family", family);
                    self.set(
                        ALLOWLIST_COVERAGE,
                        &labels,
                        coverage.coverage_percent / 100.0,
                    );
                    if let Ok(n) = coverage.uncovered.parse::<f64>() {
                        self.set(ALLOWLIST_UNCOVERED, &labels, n);
                    }
                    if let Ok(n) = coverage.published.parse::<f64>() {
                        self.set(ALLOWLIST_PUBLISHED, &labels, n);
                    }
                }
            }
            Details::Sso(details) => {
                self.set(SSO_HOPS, &set, details.hops.len() as f64);
                self.set(SSO_AUTO_LOGIN, &set, flag(check.has(Code::SsoAutoLogin)));
            }
            Details::OauthToken(details) => {
                if let Some(status) = details.status {
                    self.set(HTTP_STATUS, &set, f64::from(status));
                }
                if let Some(seconds) = details.expires_in {
                    self.set(TOKEN_LIFETIME, &set, seconds as f64);
                }
            }
            Details::OauthDiscover(details) => {
                let down = details.endpoints.iter().filter(|e| !e.reachable).count();
                self.set(DISCOVERY_UNREACHABLE, &set, down as f64);
            }
            Details::AllowlistDiff(_) | Details::OauthScopes(_) | Details::None(_) => {}
        }
    }

    /// `blackbox_exporter`'s http prober metrics, from the hops.
    fn endpoint(&self, details: &EndpointDetails, set: &Set) {
        let (Some(first), Some(last)) = (details.hops.first(), details.hops.last()) else {
            return;
        };
        if let Some(dns) = first.timings.dns_ms {
            self.set(DNS_LOOKUP, set, dns / 1000.0);
        }
        // Durations by phase, summed over the hops, as blackbox's.
        let mut phases = [0.0_f64; 5];
        for hop in &details.hops {
            for (sum, ms) in phases.iter_mut().zip(phase_durations(hop)) {
                *sum += ms;
            }
        }
        for (name, ms) in ["resolve", "connect", "tls", "processing", "transfer"]
            .into_iter()
            .zip(phases)
        {
            self.set(HTTP_DURATION, &with(set, "phase", name), ms / 1000.0);
        }
        self.set(HTTP_REDIRECTS, set, (details.hops.len() - 1) as f64);
        if details.url.starts_with("http") && last.http.is_none() {
            // No answer is 0, as `blackbox_exporter` reports it.
            self.set(HTTP_STATUS, set, 0.0);
        }
        if let Some(http) = &last.http {
            self.set(HTTP_STATUS, set, f64::from(http.status.unwrap_or(0)));
            if let Some(version) = http_version(&http.version) {
                self.set(HTTP_VERSION, set, version);
            }
            self.set(HTTP_SSL, set, flag(last.tls.is_some()));
        }
        if let Some(address) = last.tcp.as_ref().and_then(|t| t.connected.as_deref()) {
            let six = address.starts_with('[') || address.matches(':').count() > 1;
            self.set(IP_PROTOCOL, set, if six { 6.0 } else { 4.0 });
        }
        if let Some(tls) = &last.tls {
            let earliest = tls
                .chain
                .iter()
                .filter_map(|c| unix_time(&c.not_after))
                .min();
            if let Some(earliest) = earliest {
                self.set(CERT_EXPIRY, set, earliest as f64);
            }
            if let Some(version) = &tls.version {
                self.set(TLS_VERSION, &with(set, "version", version.clone()), 1.0);
            }
        }
    }

    fn encode(&self, dialect: Dialect) -> String {
        let mut registry = Registry::default();
        for (i, (name, help)) in FAMILIES.iter().enumerate() {
            if self.used[i].get() {
                registry.register(*name, *help, self.series[i].clone());
            }
        }
        sorted(&dialect.encode(&registry))
    }
}

/// `text` with the samples of each family in a stable order (a family
/// keeps its series in a hash map): the same report always writes the
/// same file, and a textfile or a snapshot diffs cleanly.
fn sorted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut samples: Vec<&str> = Vec::new();
    let flush = |samples: &mut Vec<&str>, out: &mut String| {
        samples.sort_unstable();
        for line in samples.drain(..) {
            out.push_str(line);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut samples, &mut out);
            out.push_str(line);
            out.push('\n');
        } else {
            samples.push(line);
        }
    }
    flush(&mut samples, &mut out);
    out
}

/// Each phase's own duration in milliseconds (resolve, connect, tls,
/// processing, transfer) from a hop's cumulative timings; a proxy's
/// CONNECT counts as connecting.
fn phase_durations(hop: &Hop) -> [f64; 5] {
    let t = &hop.timings;
    let resolve = t.dns_ms.unwrap_or(0.0);
    let connected = t.proxy_ms.or(t.connect_ms).unwrap_or(resolve);
    let secured = t.tls_ms.unwrap_or(connected);
    let first_byte = t.ttfb_ms.unwrap_or(secured);
    let end = t.total_ms.max(first_byte);
    [
        resolve,
        (connected - resolve).max(0.0),
        (secured - connected).max(0.0),
        (first_byte - secured).max(0.0),
        if t.ttfb_ms.is_some() {
            end - first_byte
        } else {
            0.0
        },
    ]
}

/// `HTTP/1.1` → 1.1, `HTTP/2` → 2, as `blackbox_exporter`'s gauge.
fn http_version(version: &str) -> Option<f64> {
    version.strip_prefix("HTTP/")?.parse().ok()
}

/// Seconds since the epoch of an RFC 3339 time.
fn unix_time(rfc3339: &str) -> Option<i64> {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(time::OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_labels_keep_no_secret_and_no_query() {
        assert_eq!(
            target_label("https://user:pw@api.example.com:8443/v1?token=abc#x"),
            "https://api.example.com:8443/v1"
        );
        assert_eq!(target_label("host:443"), "host:443");
        assert_eq!(target_label("a.json?x=1"), "a.json");
    }

    #[test]
    fn checks_a_label_cannot_tell_apart_are_all_kept() {
        use reach_report::CheckKind;
        let checks = [
            Check::new(CheckKind::Endpoint, "https://a.example/?token=1"),
            Check::new(CheckKind::Endpoint, "https://a.example/?token=2"),
        ];
        let text = render(&checks, Labels::PerCheck, Dialect::Prometheus);
        for line in [
            "probe_success{kind=\"endpoint\",target=\"https://a.example/\"} 1.0",
            "probe_success{kind=\"endpoint\",target=\"https://a.example/\",repeat=\"2\"} 1.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
    }

    #[test]
    fn phases_are_durations_from_cumulative_timings() {
        let mut hop = Hop::default();
        hop.timings.dns_ms = Some(1.0);
        hop.timings.connect_ms = Some(3.0);
        hop.timings.tls_ms = Some(7.0);
        hop.timings.ttfb_ms = Some(12.0);
        hop.timings.total_ms = 20.0;
        let phases = phase_durations(&hop);
        let want = [1.0, 2.0, 4.0, 5.0, 8.0];
        assert!(
            phases.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-9),
            "{phases:?}"
        );
    }

    /// Every kind's own gauges, from its details; a check without details
    /// (it could not run) claims none of them.
    #[test]
    fn each_kind_gives_its_own_gauges() {
        use reach_report::oauth::OauthTokenDetails;
        use reach_report::sso::{SsoDetails, SsoHop};
        use reach_report::{CheckKind, Finding};

        let mut sso = Check::new(CheckKind::Sso, "https://app.example/login");
        sso.push(Finding::new(Code::SsoAutoLogin, "signed in without asking"));
        sso.details = Details::Sso(Box::new(SsoDetails {
            hops: vec![SsoHop::default(); 4],
            ..SsoDetails::default()
        }));
        let mut token = Check::new(CheckKind::OauthToken, "https://idp.example/token");
        token.details = Details::OauthToken(Box::new(OauthTokenDetails {
            status: Some(200),
            expires_in: Some(3599),
            ..OauthTokenDetails::default()
        }));
        let unread = Check::input_error(
            CheckKind::Allowlist,
            "--allowlist a.txt",
            "no such file".to_owned(),
        );
        let text = render(&[sso, token, unread], Labels::PerCheck, Dialect::Prometheus);
        for line in [
            "reach_sso_hops{kind=\"sso\",target=\"https://app.example/login\"} 4.0",
            "reach_sso_auto_login{kind=\"sso\",target=\"https://app.example/login\"} 1.0",
            "reach_oauth_token_lifetime_seconds{kind=\"oauth_token\",target=\"https://idp.example/token\"} 3599.0",
            "probe_http_status_code{kind=\"oauth_token\",target=\"https://idp.example/token\"} 200.0",
            "probe_success{kind=\"allowlist\",target=\"--allowlist a.txt\"} 0.0",
        ] {
            assert!(text.lines().any(|l| l == line), "{line}\n{text}");
        }
        assert!(!text.contains("reach_allowlist_coverage_ratio"), "{text}");
        assert!(!text.contains("# EOF"), "{text}");
    }

    #[test]
    fn openmetrics_only_when_the_scraper_takes_it() {
        for (accept, dialect) in [
            (None, Dialect::Prometheus),
            (Some("text/plain;version=0.0.4"), Dialect::Prometheus),
            (
                Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5"),
                Dialect::OpenMetrics,
            ),
            (
                Some("application/openmetrics-text; q=0, text/plain"),
                Dialect::Prometheus,
            ),
        ] {
            assert_eq!(Dialect::accepted(accept), dialect, "{accept:?}");
        }
    }

    #[test]
    fn http_versions_are_numbers() {
        assert_eq!(http_version("HTTP/1.1"), Some(1.1));
        assert_eq!(http_version("HTTP/2"), Some(2.0));
        assert_eq!(http_version("h3"), None);
    }
}
