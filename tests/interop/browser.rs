//! The judge of the SSO cases: Debian's headless Chromium, driven by
//! `tests/interop/node/judge.mjs` (playwright-core plus a developer-tools session
//! for cookie details). It walks a flow as a person would, typing the start
//! URL and filling forms, and records every main-frame document request:
//! method, URL, status, the cookies it sent and withheld (with Chromium's
//! reasons), the cookies it stored and rejected, and where it ended.
//!
//! [`judge`] runs it on a [`Spec`]; [`compare`] holds `reach sso`'s chain
//! against a walk hop by hop and prints both side by side when they part.
//!
//! Chromium stays on loopback: only the spec's hosts resolve (to their
//! loopback addresses, `--host-resolver-rules`), every other name fails,
//! and anything that would go through a proxy goes to a dead one. The run
//! is bounded twice: by the judge's own `timeout_ms` (it kills the browser)
//! and by coreutils' `timeout` around node.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use reach_report::Details;
use reach_report::sso::{SsoDetails, SsoHop};
use serde::{Deserialize, Serialize};

use crate::{TempDir, require};

/// The judge's node package: `judge.mjs` and its `node_modules`.
pub(crate) fn node_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/interop/node")
}

/// `node`, and the node packages `npm ci` installs from the lock file:
/// panics naming what is missing.
#[track_caller]
pub(crate) fn node() -> PathBuf {
    let node = require("node", "nodejs");
    let dir = node_dir();
    for package in ["playwright-core", "oidc-provider"] {
        assert!(
            dir.join("node_modules").join(package).is_dir(),
            "the node package `{package}` is not installed in {}: run `npm ci --ignore-scripts` \
             there (`cargo xtask interop` does)",
            dir.display()
        );
    }
    node
}

/// What the judge does: type `start`, then do `steps` in order.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Spec {
    /// The URL typed in the address bar.
    pub(crate) start: String,
    /// Host name → loopback address; every other name fails to resolve.
    pub(crate) hosts: BTreeMap<String, String>,
    /// A persistent profile (`--user-data-dir`), kept between runs; `None`
    /// is a fresh profile thrown away afterwards.
    pub(crate) profile: Option<PathBuf>,
    pub(crate) steps: Vec<Step>,
    pub(crate) timeout_ms: u64,
}

/// One thing a person does on the page where the walk stopped: fill
/// fields (CSS selector → text), then click.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Step {
    pub(crate) fill: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) click: Option<String>,
}

impl Spec {
    /// A fresh profile, no steps, 25 seconds.
    pub(crate) fn new(start: &str, hosts: &[(&str, &str)]) -> Spec {
        Spec {
            start: start.to_owned(),
            hosts: hosts
                .iter()
                .map(|(h, a)| ((*h).to_owned(), (*a).to_owned()))
                .collect(),
            profile: None,
            steps: Vec::new(),
            timeout_ms: 25_000,
        }
    }

    #[must_use]
    pub(crate) fn profile(mut self, dir: &Path) -> Spec {
        self.profile = Some(dir.to_owned());
        self
    }

    #[must_use]
    pub(crate) fn step(mut self, fill: &[(&str, &str)], click: &str) -> Spec {
        self.steps.push(Step {
            fill: fill
                .iter()
                .map(|(s, v)| ((*s).to_owned(), (*v).to_owned()))
                .collect(),
            click: Some(click.to_owned()),
        });
        self
    }
}

/// What Chromium did.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Judgement {
    /// `walks[0]`: from typing the start URL until the page settled;
    /// `walks[i]`: after `steps[i-1]`.
    pub(crate) walks: Vec<Walk>,
    /// The jar at the end (no values).
    pub(crate) jar: Vec<JarCookie>,
    /// The jar at the end with values, as a Netscape cookies.txt.
    pub(crate) cookies_txt: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Walk {
    pub(crate) hops: Vec<BrowserHop>,
    pub(crate) end: End,
}

/// One main-frame document request (each redirect is its own hop).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct BrowserHop {
    pub(crate) method: String,
    pub(crate) url: String,
    pub(crate) status: Option<u16>,
    pub(crate) cookies_sent: Vec<String>,
    pub(crate) cookies_withheld: Vec<Blocked>,
    /// Cookies the response set that Chromium stored.
    pub(crate) cookies_set: Vec<String>,
    pub(crate) cookies_rejected: Vec<Blocked>,
    /// Chromium's network error (`net::ERR_…`), when the request failed.
    #[serde(default)]
    pub(crate) error: Option<String>,
}

/// A cookie Chromium withheld or rejected, with the reasons its developer tools give
/// (`SameSiteLax`, `SameSiteNoneInsecure`, …).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Blocked {
    pub(crate) name: String,
    pub(crate) reasons: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct End {
    pub(crate) url: String,
    pub(crate) status: Option<u16>,
    pub(crate) title: String,
    /// The first 500 characters of the page's text.
    pub(crate) text: String,
}

/// A cookie of the final jar, value left out. Not every case reads every
/// attribute.
#[allow(dead_code)]
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct JarCookie {
    pub(crate) name: String,
    pub(crate) domain: String,
    pub(crate) path: String,
    pub(crate) secure: bool,
    #[serde(rename = "httpOnly")]
    pub(crate) http_only: bool,
    #[serde(rename = "sameSite")]
    pub(crate) same_site: Option<String>,
    /// Seconds since the epoch; `None` for a session cookie.
    pub(crate) expires: Option<f64>,
}

impl Judgement {
    /// The first walk (from the start URL).
    #[track_caller]
    pub(crate) fn walk(&self) -> &Walk {
        self.walks.first().expect("the judge walks at least once")
    }
}

impl Walk {
    /// The hop that requested a URL with `path`, first one.
    pub(crate) fn hop_to(&self, path: &str) -> Option<&BrowserHop> {
        self.hops
            .iter()
            .find(|h| url::Url::parse(&h.url).is_ok_and(|u| u.path() == path))
    }
}

/// Runs the judge on `spec` (the spec file goes to `dir`) and returns what
/// Chromium did; panics with the judge's stderr when it fails.
#[track_caller]
pub(crate) fn judge(spec: &Spec, dir: &TempDir) -> Judgement {
    let node = node();
    require("chromium", "chromium");
    let n = std::fs::read_dir(dir.path()).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("judge-"))
        })
        .count()
    });
    let file = dir.write(
        &format!("judge-{n}.json"),
        &serde_json::to_string_pretty(spec).expect("a spec"),
    );
    // The judge's own timeout kills the browser; this one is for node.
    let seconds = spec.timeout_ms.div_ceil(1000) + 10;
    let output = Command::new("timeout")
        .args(["-k", "5", &seconds.to_string()])
        .arg(&node)
        .arg(node_dir().join("judge.mjs"))
        .arg(&file)
        .current_dir(node_dir())
        .stdin(Stdio::null())
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the Chromium judge failed ({}) on {}: {stderr}",
        output.status,
        spec.start
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("the judge's output is not a judgement ({e}): {stdout}"))
}

/// The sso details of reach's only check.
#[track_caller]
pub(crate) fn sso_details(check: &reach_report::Check) -> &SsoDetails {
    match &check.details {
        Details::Sso(d) => d,
        other => panic!("not an sso check: {other:#?}"),
    }
}

/// A URL as the comparison sees it: values that change on every run
/// (state, nonce, codes, interaction ids, what reach redacted) become `*`,
/// the query is sorted, the fragment dropped.
pub(crate) fn normalize(raw: &str) -> String {
    let Ok(url) = url::Url::parse(raw) else {
        return raw.to_owned();
    };
    let path: Vec<String> = url
        .path()
        .split('/')
        .map(|seg| {
            if volatile(seg) {
                "*".to_owned()
            } else {
                seg.to_owned()
            }
        })
        .collect();
    let mut query: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| {
            let v = if VOLATILE_PARAMS.contains(&k.as_ref()) || volatile(&v) {
                "*".to_owned()
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    query.sort();
    let mut out = format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.port().map(|p| format!(":{p}")).unwrap_or_default()
    );
    out.push_str(&path.join("/"));
    if !query.is_empty() {
        out.push('?');
        let pairs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&pairs.join("&"));
    }
    out
}

/// Parameters whose value is new on every run.
const VOLATILE_PARAMS: &[&str] = &[
    "state",
    "nonce",
    "code",
    "code_challenge",
    "session_state",
    "iss",
    "SAMLRequest",
    "SAMLResponse",
    "RelayState",
    "AuthState",
    "Signature",
];

/// A random token (interaction ids, codes) or what reach redacted.
fn volatile(s: &str) -> bool {
    s == reach_report::redact::REDACTED
        || (s.len() >= 16
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

fn sorted(names: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = names.into_iter().collect();
    v.sort();
    v.dedup();
    v
}

fn list(names: &[String]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        names.join(",")
    }
}

fn blocked(names: &[Blocked]) -> String {
    if names.is_empty() {
        "-".to_owned()
    } else {
        names
            .iter()
            .map(|b| format!("{} ({})", b.name, b.reasons.join(" ")))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn status(s: Option<u16>) -> String {
    s.map_or_else(|| "---".to_owned(), |s| s.to_string())
}

/// Both chains, hop by hop, one above the other.
pub(crate) fn side_by_side(reach: &SsoDetails, walk: &Walk) -> String {
    let mut out = String::new();
    let n = reach.hops.len().max(walk.hops.len());
    for i in 0..n {
        let _ = writeln!(out, "hop {}", i + 1);
        match walk.hops.get(i) {
            Some(h) => {
                let _ = writeln!(
                    out,
                    "  chromium {} {} -> {}{}  sent: {}  withheld: {}  set: {}  rejected: {}",
                    h.method,
                    h.url,
                    status(h.status),
                    h.error
                        .as_ref()
                        .map(|e| format!(" ({e})"))
                        .unwrap_or_default(),
                    list(&h.cookies_sent),
                    blocked(&h.cookies_withheld),
                    list(&h.cookies_set),
                    blocked(&h.cookies_rejected),
                );
            }
            None => {
                let _ = writeln!(out, "  chromium (none)");
            }
        }
        match reach.hops.get(i) {
            Some(h) => {
                let withheld: Vec<String> = h
                    .cookies_withheld
                    .iter()
                    .map(|c| format!("{} ({})", c.name, c.reason))
                    .collect();
                let refused: Vec<String> = h
                    .cookies_set
                    .iter()
                    .filter_map(|c| c.refused.as_ref().map(|r| format!("{} ({r})", c.name)))
                    .collect();
                let _ = writeln!(
                    out,
                    "  reach    {} {} -> {}  sent: {}  withheld: {}  set: {}  rejected: {}  page: {}",
                    h.method,
                    h.url,
                    status(h.status),
                    list(&h.cookies_sent),
                    list(&withheld),
                    list(&reach_stored(h)),
                    list(&refused),
                    h.page,
                );
            }
            None => {
                let _ = writeln!(out, "  reach    (none)");
            }
        }
    }
    let _ = writeln!(
        out,
        "end\n  chromium {} -> {} \"{}\"\n  reach    {} at hop {} ({}): {}",
        walk.end.url,
        status(walk.end.status),
        walk.end.title,
        reach.end.url,
        reach.end.hop,
        reach.end.kind,
        reach.end.summary
    );
    out
}

/// The cookies Chromium withheld for a `SameSite` reason (it also lists
/// cookies of other paths, which no jar would send).
fn samesite_withheld(hop: &BrowserHop) -> Vec<String> {
    sorted(
        hop.cookies_withheld
            .iter()
            .filter(|c| c.reasons.iter().any(|r| r.contains("SameSite")))
            .map(|c| c.name.clone()),
    )
}

fn reach_withheld(hop: &SsoHop) -> Vec<String> {
    sorted(hop.cookies_withheld.iter().map(|c| c.name.clone()))
}

fn reach_stored(hop: &SsoHop) -> Vec<String> {
    sorted(
        hop.cookies_set
            .iter()
            .filter(|c| c.refused.is_none())
            .map(|c| c.name.clone()),
    )
}

fn reach_refused(hop: &SsoHop) -> Vec<String> {
    sorted(
        hop.cookies_set
            .iter()
            .filter(|c| c.refused.is_some())
            .map(|c| c.name.clone()),
    )
}

/// Asserts that reach walked the chain Chromium walked, hop by hop: the
/// same requests (method, URL with run-specific values masked), the same
/// statuses, the same cookies sent and withheld for `SameSite`, the same
/// cookies stored and rejected at Set-Cookie, and the same end. Panics
/// with every difference and both chains side by side.
#[track_caller]
pub(crate) fn compare(reach: &reach_report::Check, walk: &Walk) {
    let details = sso_details(reach);
    let mut diffs = Vec::new();
    if details.hops.len() != walk.hops.len() {
        diffs.push(format!(
            "Chromium made {} requests, reach {}",
            walk.hops.len(),
            details.hops.len()
        ));
    }
    for (i, (b, r)) in walk.hops.iter().zip(&details.hops).enumerate() {
        let n = i + 1;
        if b.method != r.method {
            diffs.push(format!("hop {n}: method {} vs {}", b.method, r.method));
        }
        if normalize(&b.url) != normalize(&r.url) {
            diffs.push(format!(
                "hop {n}: URL {} vs {}",
                normalize(&b.url),
                normalize(&r.url)
            ));
        }
        if b.status != r.status {
            diffs.push(format!(
                "hop {n}: status {} vs {}",
                status(b.status),
                status(r.status)
            ));
        }
        let chromium_sent = sorted(b.cookies_sent.iter().cloned());
        let reach_sent = sorted(r.cookies_sent.iter().cloned());
        if chromium_sent != reach_sent {
            diffs.push(format!(
                "hop {n}: cookies sent [{}] vs [{}]",
                list(&chromium_sent),
                list(&reach_sent)
            ));
        }
        let pairs = [
            (
                "cookies withheld (SameSite)",
                samesite_withheld(b),
                reach_withheld(r),
            ),
            (
                "cookies stored",
                sorted(b.cookies_set.iter().cloned()),
                reach_stored(r),
            ),
            (
                "cookies rejected at Set-Cookie",
                sorted(b.cookies_rejected.iter().map(|c| c.name.clone())),
                reach_refused(r),
            ),
        ];
        for (what, chromium, reach) in pairs {
            if chromium != reach {
                diffs.push(format!(
                    "hop {n}: {what} [{}] vs [{}]",
                    list(&chromium),
                    list(&reach)
                ));
            }
        }
    }
    if normalize(&walk.end.url) != normalize(&details.end.url) {
        diffs.push(format!(
            "end URL {} vs {}",
            normalize(&walk.end.url),
            normalize(&details.end.url)
        ));
    }
    let reach_end_status = details
        .end
        .hop
        .checked_sub(1)
        .and_then(|i| details.hops.get(i))
        .and_then(|h| h.status);
    if walk.end.status != reach_end_status {
        diffs.push(format!(
            "end status {} vs {}",
            status(walk.end.status),
            status(reach_end_status)
        ));
    }
    let findings: Vec<String> = reach
        .findings
        .iter()
        .map(|f| format!("{}: {}", f.code.name(), f.message))
        .collect();
    assert!(
        diffs.is_empty(),
        "reach and Chromium (the truth) part ways (Chromium first, then reach):\n  {}\n\n{}\
         reach's findings:\n  {}",
        diffs.join("\n  "),
        side_by_side(details, walk),
        findings.join("\n  ")
    );
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn run_specific_values_are_masked() {
        assert_eq!(
            normalize("https://idp.test:8443/interaction/Xk2bq9vVfK3mA8lQpR1sT?b=2&a=1#frag"),
            "https://idp.test:8443/interaction/*?a=1&b=2"
        );
        assert_eq!(
            normalize("https://app.test/cb?code=[redacted]&state=abc"),
            normalize("https://app.test/cb?state=zzz&code=q7Hc9f0a1b2c3d4e5f6a7b8c9d0")
        );
        assert_ne!(
            normalize("https://app.test/cb?prompt=login"),
            normalize("https://app.test/cb?prompt=none")
        );
    }
}
