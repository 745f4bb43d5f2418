//! `reach sso`: walks a login chain hop by hop without a browser, on the
//! same network pipeline as `reach check` (every hop gets the DNS, TCP,
//! proxy, TLS and HTTP record and findings), with a cookie jar carried
//! across hops.
//!
//! - [`html`]: meta refresh and self-submitting forms, read with a WHATWG
//!   tokenizer.
//! - [`jar`]: the cookie jar.
//! - [`cookies`]: seeding it: `cookies.txt`, `NAME=VALUE@DOMAIN`; and
//!   [`browser`]: a browser profile's own database.
//! - [`idp`]: which identity provider a hop belongs to.
//! - [`tokens`]: the account an ID token or SAML assertion names
//!   (unverified).
//! - [`error`]: inputs that cannot be used (typed, with the value).
//!
//! [`walk`] goes through the chain one hop at a time. What a hop does next
//! is decided as a browser would: a 3xx `Location` (303, and 301/302
//! after a POST, become a GET), a `<meta refresh>`, a form that submits
//! itself. Anything else ends the chain: a sign-in page (it needs a
//! person), an error page, the application. A redirect policy (the hop
//! limit, loops, the https downgrade) stops or flags a chain whatever its
//! pages say.

pub mod browser;
pub mod cookies;
pub mod error;
pub mod html;
pub mod idp;
pub mod jar;
pub mod tokens;
mod walk;

pub use error::Error;
pub use walk::walk;

use std::collections::HashSet;
use std::time::Duration;

use http::{HeaderValue, Method};
use reach_http_probe::{HopOptions, Network};
use reach_report::sso::{CookieWithheld, SsoCompare, SsoDetails, SsoEnd, SsoHop, SsoIdentity};
use reach_report::{Code, Finding};
use url::Url;

use crate::cookies::SeedCookie;
use crate::idp::Idp;
use crate::jar::Jar;

/// What to walk and the limits.
#[derive(Debug, Clone)]
pub struct SsoOptions {
    pub start: Url,
    /// Hops at most (`--max-hops`, default 20).
    pub max_hops: usize,
    /// The whole chain's deadline.
    pub timeout: Duration,
    pub expiry_warn_days: i64,
    /// Bytes of a page read at most.
    pub body_cap: u64,
}

impl SsoOptions {
    pub fn new(start: Url, timeout: Duration) -> Self {
        SsoOptions {
            start,
            max_hops: 20,
            timeout,
            expiry_warn_days: 14,
            body_cap: 1024 * 1024,
        }
    }
}

/// A walked chain.
#[derive(Debug, Clone, Default)]
pub struct Chain {
    pub hops: Vec<SsoHop>,
    pub end: SsoEnd,
    pub identity: Option<SsoIdentity>,
    pub findings: Vec<Finding>,
    /// The first authorize request (OIDC) or `AuthnRequest` (SAML).
    pub authorize: Option<Authorize>,
    /// The provider and the names of the cookies sent to it before the
    /// callback.
    pub idp_cookies: Vec<(Idp, Vec<String>)>,
    /// A sign-in page came before the callback (or the chain ended on one).
    pub interactive: bool,
    /// A server asked for Windows integrated authentication
    /// (`WWW-Authenticate: Negotiate`).
    pub negotiate: bool,
}

/// An authorize request (OIDC) or `AuthnRequest` (SAML, by redirect or
/// by a self-submitting form).
#[derive(Debug, Clone)]
pub struct Authorize {
    pub url: Url,
    /// The posted fields (HTTP-POST binding), empty for a redirect.
    pub fields: Vec<(String, String)>,
    /// 1-based.
    pub hop: usize,
}

impl Authorize {
    fn params(&self) -> Vec<(String, String)> {
        let mut params = idp::url_params(&self.url);
        params.extend(self.fields.iter().cloned());
        params
    }

    fn is_oidc(&self) -> bool {
        idp::is_authorize(&self.url)
    }
}

/// Which cookie rules the walk applies when sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sending {
    /// Chromium's `SameSite` rules.
    AsBrowser,
    /// Every matching cookie, `SameSite` ignored: the walk that tells
    /// whether a withheld cookie mattered.
    Everything,
}

/// Runs `reach sso`: the chain with the seeded jar, its findings, and with
/// `compare_clean` the same chain with an empty jar.
pub async fn run(
    options: &SsoOptions,
    seeds: &[SeedCookie],
    compare_clean: bool,
    network: &Network,
) -> (SsoDetails, Vec<Finding>) {
    // The jar borrows the seeds: a million cookies are not copied.
    let (jar, refused) = Jar::seeded(seeds);
    let mut findings = Vec::new();
    for (i, reason) in refused {
        let seed = &seeds[i];
        findings.push(
            Finding::new(
                Code::InputInvalid,
                format!(
                    "cookie `{}` for {} was not put in the jar: {reason}",
                    seed.name, seed.domain
                ),
            )
            .with("cookie", &*seed.name)
            .with("domain", &*seed.domain),
        );
    }
    // A cookie that could not be seeded is a warning, not a failed check.
    for f in &mut findings {
        f.severity = reach_report::Severity::Warn;
    }
    let seeded_cookies = jar.names();
    let chain = walk(options, jar.clone(), network, Sending::AsBrowser).await;
    let clean = if compare_clean {
        Some(walk(options, Jar::new(), network, Sending::AsBrowser).await)
    } else {
        None
    };
    // A cookie a browser holds back matters only if the chain ends
    // elsewhere with it: walk again sending everything, and compare.
    if chain.hops.iter().any(|h| !h.cookies_withheld.is_empty()) {
        let everything = walk(options, jar, network, Sending::Everything).await;
        findings.extend(samesite_findings(&chain, &everything));
    }
    let rewritten_url = fresh_sign_in_url(&chain, options, network).await;
    findings.extend(chain_findings(
        &chain,
        clean.as_ref(),
        rewritten_url.as_deref(),
    ));
    findings.extend(chain.findings.iter().cloned());
    let compare = clean.map(|clean| compare_runs(&chain, clean));
    let details = SsoDetails {
        start_url: options.start.to_string(),
        seeded_cookies,
        hops: chain.hops,
        end: chain.end,
        identity: chain.identity,
        rewritten_url,
        compare,
    };
    (details, findings)
}

/// `sso.cookie_samesite` for each cookie a browser held back, when sending
/// it changes where the chain ends.
fn samesite_findings(chain: &Chain, everything: &Chain) -> Vec<Finding> {
    let outcome = |c: &Chain| (c.end.kind.clone(), c.end.callback_hop.is_some());
    if outcome(chain) == outcome(everything) {
        return Vec::new();
    }
    // Each cookie once, at the first hop that held it back.
    let mut seen = HashSet::new();
    let distinct: Vec<(&SsoHop, &CookieWithheld)> = chain
        .hops
        .iter()
        .flat_map(|h| h.cookies_withheld.iter().map(move |w| (h, w)))
        .filter(|(_, w)| seen.insert((w.name.as_str(), w.domain.as_str())))
        .collect();
    // The second walk sent every held-back cookie at once: with several,
    // it shows what they do together, not which one matters.
    let mut out = Vec::new();
    for (hop, w) in &distinct {
        let others: Vec<&str> = distinct
            .iter()
            .filter(|(_, o)| !std::ptr::eq(*o, *w))
            .map(|(_, o)| o.name.as_str())
            .collect();
        let (pronoun, with_others) = if others.is_empty() {
            ("it", String::new())
        } else {
            (
                "them",
                format!(" (held back with `{}`)", others.join("`, `")),
            )
        };
        let host = Url::parse(&hop.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        out.push(
            Finding::new(
                Code::SsoCookieSamesite,
                format!(
                    "browsers do not send cookie `{}` on the {} to {host} at hop {} ({}){with_others}: without {pronoun} the chain ends with {}; with {pronoun}, {}",
                    w.name,
                    hop.method,
                    hop.index,
                    w.reason,
                    chain.end.summary,
                    everything.end.summary
                ),
            )
            .with("cookie_name", &w.name)
            .with("domain", &w.domain)
            .with("reason", &w.reason)
            .with("method", &hop.method)
            .with("hop", hop.index)
            .with("ends_with", &chain.end.summary)
            .with("would_end_with", &everything.end.summary),
        );
    }
    out
}

/// Where the two runs part and what each reached.
fn compare_runs(with: &Chain, clean: Chain) -> SsoCompare {
    let key = |h: &SsoHop| {
        let mut url = Url::parse(&h.url).ok();
        if let Some(u) = url.as_mut() {
            u.set_query(None);
            u.set_fragment(None);
        }
        (
            h.method.clone(),
            url.map(|u| u.to_string()).unwrap_or_default(),
            h.status,
        )
    };
    let parted_at = (0..with.hops.len().max(clean.hops.len()))
        .find(|&i| with.hops.get(i).map(key) != clean.hops.get(i).map(key))
        .map(|i| i + 1);
    SsoCompare {
        parted_at,
        with_jar: format!("with your session: {}", with.end.summary),
        clean: format!("clean: {}", clean.end.summary),
        clean_hops: clean.hops,
        clean_end: clean.end,
    }
}

/// A URL that brings up the identity provider's sign-in page even with a
/// session: the chain's authorize request with a `prompt` value the
/// provider supports (OIDC), or its `AuthnRequest` with `ForceAuthn="true"` (SAML
/// HTTP-Redirect binding, unsigned). `None` when the request already forces
/// a sign-in, or cannot be rewritten (POST binding, signed request).
async fn fresh_sign_in_url(
    chain: &Chain,
    options: &SsoOptions,
    network: &Network,
) -> Option<String> {
    let authorize = chain.authorize.as_ref()?;
    if has_reauth(authorize) {
        return None;
    }
    let mut url = authorize.url.clone();
    let (name, value) = if authorize.is_oidc() {
        let prompt = prompt_value(&authorize.url, options, network).await;
        match prompt {
            Some(prompt) => ("prompt", prompt.to_owned()),
            None => ("max_age", "0".to_owned()),
        }
    } else {
        if !authorize.fields.is_empty() || url.query_pairs().any(|(k, _)| k == "Signature") {
            return None;
        }
        let request = url
            .query_pairs()
            .find(|(k, _)| k == "SAMLRequest")
            .map(|(_, v)| v.into_owned())?;
        let xml = tokens::saml_request_xml(&request)?;
        ("SAMLRequest", tokens::force_authn_request(&xml)?)
    };
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != name)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(name, &value);
    Some(url.to_string())
}

/// The `prompt` value that asks for a fresh sign-in, by the provider's own
/// discovery document (`prompt_values_supported`): `select_account` when
/// listed, else `login`; `login` when there is no document (`OpenID`
/// Connect Core defines it); `None` when the provider lists neither.
async fn prompt_value(
    authorize: &Url,
    options: &SsoOptions,
    network: &Network,
) -> Option<&'static str> {
    let Some(document) = discovery(authorize, options, network).await else {
        return Some("login");
    };
    let Some(values) = document
        .get("prompt_values_supported")
        .and_then(|v| v.as_array())
    else {
        return Some("login");
    };
    let listed = |p: &str| values.iter().any(|v| v.as_str() == Some(p));
    if listed("select_account") {
        Some("select_account")
    } else if listed("login") {
        Some("login")
    } else {
        None
    }
}

/// The `OpenID` Provider's discovery document whose
/// `authorization_endpoint` is `authorize`: looked for at
/// `/.well-known/openid-configuration` under the authorize URL's folders,
/// innermost first (at most three requests).
async fn discovery(
    authorize: &Url,
    options: &SsoOptions,
    network: &Network,
) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut endpoint = authorize.clone();
    endpoint.set_query(None);
    endpoint.set_fragment(None);
    let segments: Vec<&str> = authorize
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let headers = [(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    )];
    let get = HopOptions {
        method: Method::GET,
        headers: &headers,
        body: b"",
        body_cap: 256 * 1024,
        keep_body: true,
        expiry_warn_days: options.expiry_warn_days,
        deadline: tokio::time::Instant::now() + options.timeout,
    };
    for depth in (0..segments.len()).rev().take(3) {
        let mut url = endpoint.clone();
        let mut path = String::new();
        for segment in &segments[..depth] {
            path.push('/');
            path.push_str(segment);
        }
        path.push_str("/.well-known/openid-configuration");
        url.set_path(&path);
        let result = reach_http_probe::hop(&url, &get, network).await;
        if result.hop.http.as_ref().and_then(|h| h.status) != Some(200) {
            continue;
        }
        let Ok(serde_json::Value::Object(doc)) = serde_json::from_slice(&result.body) else {
            continue;
        };
        let matches = doc
            .get("authorization_endpoint")
            .and_then(|v| v.as_str())
            .and_then(|v| Url::parse(v).ok())
            .is_some_and(|u| u == endpoint);
        if matches {
            return Some(doc);
        }
    }
    None
}

/// Whether an authorize request forces a fresh login or account choice:
/// `Some(true|false)`, or `None` for a SAML request that cannot be read.
fn reauth(authorize: &Authorize) -> Option<bool> {
    let mut saml_request = None;
    for (k, v) in authorize.params() {
        let forced = match k.as_ref() {
            "prompt" => v
                .split(' ')
                .any(|p| matches!(p, "login" | "select_account")),
            "max_age" => v == "0",
            "ForceAuthn" | "forceAuthn" => v.eq_ignore_ascii_case("true"),
            "SAMLRequest" => {
                saml_request = Some(v);
                false
            }
            _ => false,
        };
        if forced {
            return Some(true);
        }
    }
    match saml_request {
        Some(request) => tokens::saml_request_xml(&request).map(|xml| tokens::forces_authn(&xml)),
        None => Some(false),
    }
}

fn has_reauth(authorize: &Authorize) -> bool {
    reauth(authorize).unwrap_or(true)
}

/// The findings about the chain as a whole: silent sign-in, no re-auth
/// parameter. `clean` is the `--compare-clean` run, which tells a browser
/// session from an ambient sign-in.
fn chain_findings(chain: &Chain, clean: Option<&Chain>, fresh_url: Option<&str>) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Some(at) = chain.end.callback_hop
        && !chain.interactive
    {
        out.push(auto_login(chain, at, clean, fresh_url));
    }
    if let Some(authorize) = &chain.authorize
        && reauth(authorize) == Some(false)
    {
        let hop = authorize.hop;
        let message = if authorize.is_oidc() {
            format!(
                "the authorize request at hop {hop} has no prompt=login, prompt=select_account or max_age=0: an existing session decides the account"
            )
        } else {
            let binding = if authorize.fields.is_empty() {
                "redirect"
            } else {
                "a self-submitting form (HTTP-POST binding)"
            };
            format!(
                "the SAML AuthnRequest sent by {binding} at hop {hop} has no ForceAuthn=\"true\": an existing session decides the account (set it in the service provider's SAML settings)"
            )
        };
        let mut finding = Finding::new(Code::SsoNoReauthParam, message).with("hop", hop);
        if let Some(url) = fresh_url {
            finding = finding.with("rewritten_url", url);
        }
        out.push(finding);
    }
    out
}

/// `sso.auto_login`: the callback was reached at hop `at` without a
/// sign-in page. Whether a browser session chose the account (cookies went
/// to the provider, and a clean run meets a sign-in page) or something
/// ambient did (no cookie went to the provider, or the clean run signs in silently too).
fn auto_login(chain: &Chain, at: usize, clean: Option<&Chain>, fresh_url: Option<&str>) -> Finding {
    let who = chain
        .identity
        .as_ref()
        .and_then(|i| {
            i.email
                .clone()
                .or_else(|| i.preferred_username.clone())
                .or_else(|| i.upn.clone())
                .or_else(|| i.name_id.clone())
                .or_else(|| i.subject.clone())
        })
        .map(|who| format!(" as {who} (unverified)"))
        .unwrap_or_default();
    let clean_silent = clean.map(|c| c.end.callback_hop.is_some() && !c.interactive);
    let session = chain.idp_cookies.first();
    let idp_name = session.map_or_else(
        || {
            chain
                .hops
                .iter()
                .find_map(|h| h.idp.clone())
                .unwrap_or_else(|| "identity provider".to_owned())
        },
        |(idp, _)| idp.name().to_owned(),
    );
    let os_level = session.is_some_and(|(idp, _)| idp.is_os_level()) || chain.negotiate;
    let ambient = session.is_none() || clean_silent == Some(true) || os_level;
    let message = match (session, ambient) {
        (Some((_, cookies)), false) => format!(
            "the callback was reached at hop {at}{who} without a sign-in page: the existing {idp_name} session (cookies `{}`) chose the account{}",
            cookies.join("`, `"),
            // Only what the clean run showed: it stopped at a sign-in page.
            if clean.is_some_and(|c| c.end.kind == "login_page") {
                "; without those cookies the chain stops at a sign-in page"
            } else {
                ""
            }
        ),
        _ => format!(
            "the callback was reached at hop {at}{who} without a sign-in page, {}: something other than a browser session chose the account (Windows integrated sign-in, a client certificate, an assertion the IdP sent on its own, or the network)",
            if clean_silent == Some(true) {
                "and a run without any cookie signs in silently too"
            } else if chain.negotiate {
                "after the server asked for Windows integrated sign-in"
            } else {
                "and no cookie went to the identity provider"
            }
        ),
    };
    let mut finding = Finding::new(Code::SsoAutoLogin, message)
        .with("idp", &idp_name)
        .with(
            "cookies_sent_to_idp",
            session.map(|(_, c)| c.clone()).unwrap_or_default(),
        )
        .with("callback_hop", at)
        .with("cause", if ambient { "ambient" } else { "session" })
        .with("os_level_sso", os_level);
    if let Some(url) = fresh_url {
        finding = finding.with("rewritten_url", url);
        finding.remedy.push_str(
            " To choose the account afresh now, open the fresh sign-in URL reach prints: it asks the identity provider for its sign-in page whatever the session.",
        );
    }
    if ambient {
        finding.remedy.push_str(
            " Here no browser session chose the account, so a private window does not help: sign in from another machine or network, or use prompt=login / ForceAuthn.",
        );
    } else if clean.is_none() {
        finding
            .remedy
            .push_str(" Run with --compare-clean to see the chain without your session.");
    }
    finding
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holding_back(chain: &mut Chain, names: &[&str]) {
        chain.hops.push(SsoHop {
            index: chain.hops.len() + 1,
            method: "POST".to_owned(),
            url: "https://app.example.com/callback".to_owned(),
            cookies_withheld: names
                .iter()
                .map(|name| CookieWithheld {
                    name: (*name).to_owned(),
                    domain: "app.example.com".to_owned(),
                    reason: "SameSite=Lax: not sent on a cross-site POST".to_owned(),
                })
                .collect(),
            ..SsoHop::default()
        });
    }

    fn ending(kind: &str, summary: &str) -> Chain {
        let mut chain = Chain::default();
        chain.end.kind = kind.to_owned();
        summary.clone_into(&mut chain.end.summary);
        chain
    }

    #[test]
    fn samesite_findings_claim_only_what_the_second_walk_showed() {
        let everything = ending("app_page", "the app page");
        // The same end with every cookie sent: nothing to say.
        let mut same = ending("app_page", "the app page");
        holding_back(&mut same, &["state"]);
        assert!(samesite_findings(&same, &everything).is_empty());
        // One cookie, the same one twice: one finding, about it alone.
        let mut chain = ending("error_page", "an error page");
        holding_back(&mut chain, &["state"]);
        holding_back(&mut chain, &["state"]);
        let found = samesite_findings(&chain, &everything);
        assert_eq!(found.len(), 1);
        assert!(
            found[0]
                .message
                .contains("without it the chain ends with an error page; with it, the app page")
        );
        // Two cookies were sent together: neither is said to matter alone.
        holding_back(&mut chain, &["nonce"]);
        let found = samesite_findings(&chain, &everything);
        assert_eq!(found.len(), 2);
        assert!(
            found[0]
                .message
                .contains("(held back with `nonce`): without them"),
            "{}",
            found[0].message
        );
        assert!(
            found[1]
                .message
                .contains("(held back with `state`): without them"),
            "{}",
            found[1].message
        );
    }
}
