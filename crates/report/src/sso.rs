//! `details` of an `sso` check: every hop of the login chain (with the same
//! per-phase network record as an endpoint check), where the chain ended,
//! which account passed by, and the comparison with a clean run.
//!
//! Cookie values, codes, tokens and SAML messages never appear: hops list
//! cookie *names* and attributes; URLs and form fields are redacted by the
//! report's one redaction pass.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::endpoint::Hop;

/// The chain walked from the start URL.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoDetails {
    pub start_url: String,
    /// Cookies the jar held before the first hop (`--cookie-jar`,
    /// `--cookie`): names and domains.
    pub seeded_cookies: Vec<CookieName>,
    pub hops: Vec<SsoHop>,
    pub end: SsoEnd,
    /// The identity an ID token or SAML assertion carried past, unverified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<SsoIdentity>,
    /// A URL that brings up the identity provider's sign-in page even with
    /// a session: the chain's authorize request with a `prompt` value the
    /// provider supports (`select_account` when its discovery document lists it,
    /// else `login`; `max_age=0` when it lists neither), or its SAML
    /// `AuthnRequest` (HTTP-Redirect binding, unsigned) with
    /// `ForceAuthn="true"`. Present when the chain signed in silently or
    /// the request forces nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewritten_url: Option<String>,
    /// `--compare-clean`: the same chain without the jar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compare: Option<SsoCompare>,
}

/// One request of the chain.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoHop {
    /// 1-based.
    pub index: usize,
    /// How the chain got here: `start`, `redirect`, `meta_refresh`,
    /// `form_post`, `form_get`.
    pub via: String,
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The identity provider this hop belongs to (`Okta`, `Microsoft Entra
    /// ID`, …, `OIDC`, `SAML`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp: Option<String>,
    /// Names of the cookies sent.
    pub cookies_sent: Vec<String>,
    /// Cookies the jar holds for this URL that a browser does not send on
    /// this request (`SameSite`), and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cookies_withheld: Vec<CookieWithheld>,
    /// Cookies the response set, with their attributes; a cookie a browser
    /// refuses to store is listed with `refused`.
    pub cookies_set: Vec<CookieSet>,
    /// What the response is: `redirect`, `meta_refresh`,
    /// `auto_submit_form`, `login_page`, `error_page`, `callback`,
    /// `app_page`, `unreachable`, `no_response` (the server was reached
    /// but gave no usable response: see the hop's findings).
    pub page: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Names of the form fields posted to this hop (values redacted).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub form_fields: Vec<String>,
    /// The full network record: DNS, TCP, proxy, TLS, HTTP, timings.
    pub network: Hop,
}

/// A cookie's name and domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CookieName {
    pub name: String,
    pub domain: String,
}

/// A `Set-Cookie`, value left out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CookieSet {
    pub name: String,
    /// The `Domain` attribute, or the host for a host-only cookie.
    pub domain: String,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    /// `Strict`, `Lax`, `None`, or absent (browsers then treat it as Lax).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub same_site: Option<String>,
    /// Whether it outlives the browser session (`Expires` / `Max-Age`).
    pub persistent: bool,
    /// Why a browser refuses to store it (then reach does not store it
    /// either), e.g. "SameSite=None without Secure".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

/// A cookie a browser holds but does not send on a request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CookieWithheld {
    pub name: String,
    pub domain: String,
    /// Why, in words: "SameSite=Lax, cross-site POST".
    pub reason: String,
}

/// Where and how the chain ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoEnd {
    /// `login_page`, `callback`, `idp_error`, `error_page`, `app_page`,
    /// `unreachable`, `no_response`, `redirect_loop`, `too_many_redirects`.
    pub kind: String,
    /// The hop it ended at (1-based).
    pub hop: usize,
    pub url: String,
    /// One line for people: `callback with code after 2 hops`.
    pub summary: String,
    /// The hop where the callback (`code=`, `SAMLResponse`, `id_token`) was
    /// reached, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_hop: Option<usize>,
}

/// Identity claims seen in the chain. Never verified: reach holds no keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoIdentity {
    /// `id_token` or `saml_assertion`.
    pub source: String,
    /// The hop it passed by.
    pub hop: usize,
    /// Always `false`: the signature is not checked.
    pub verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audience: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    /// SAML `NameID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name_id: Option<String>,
}

/// The chain with the jar against the chain without it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SsoCompare {
    /// The first hop (1-based) where the two runs differ; `None` when they
    /// are the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parted_at: Option<usize>,
    /// `with your session: callback with code after 1 hop`.
    pub with_jar: String,
    /// `clean: Lab IdP sign-in page after 2 hops`.
    pub clean: String,
    /// The clean run's hops.
    pub clean_hops: Vec<SsoHop>,
    pub clean_end: SsoEnd,
}
