//! `reach oauth discover ISSUER`: the `OpenID` Connect discovery document
//! (or the RFC 8414 authorization server metadata), its `issuer`, every
//! endpoint it names reached through the endpoint pipeline, its JWKS, and
//! the scopes it supports.

use std::time::Duration;

use http::{HeaderValue, Method};
use reach_http_probe::{HopOptions, Network};
use reach_report::endpoint::Hop;
use reach_report::oauth::{DiscoveredEndpoint, JwkInfo, OauthDiscoverDetails};
use reach_report::{Code, Finding};
use url::Url;

/// The document fields that name an endpoint, in the order checked.
const ENDPOINT_FIELDS: &[&str] = &[
    "authorization_endpoint",
    "token_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
    "registration_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "end_session_endpoint",
    "device_authorization_endpoint",
    "pushed_authorization_request_endpoint",
];

/// The URLs the document may live at: `OpenID` Connect Discovery appends
/// `/.well-known/openid-configuration` to the issuer; RFC 8414 inserts
/// `/.well-known/oauth-authorization-server` before the issuer's path.
pub fn document_urls(issuer: &Url) -> Vec<Url> {
    let base = issuer.as_str().trim_end_matches('/');
    let mut out = Vec::new();
    if let Ok(u) = Url::parse(&format!("{base}/.well-known/openid-configuration")) {
        out.push(u);
    }
    let path = issuer.path().trim_end_matches('/');
    let mut rfc8414 = issuer.clone();
    rfc8414.set_path(&format!("/.well-known/oauth-authorization-server{path}"));
    rfc8414.set_query(None);
    rfc8414.set_fragment(None);
    if !out.contains(&rfc8414) {
        out.push(rfc8414);
    }
    out
}

/// One GET through the pipeline, body kept.
async fn get(
    url: &Url,
    network: &Network,
    expiry_warn_days: i64,
    deadline: tokio::time::Instant,
) -> (Hop, Vec<Finding>, Vec<u8>) {
    let headers = vec![(
        http::header::ACCEPT,
        HeaderValue::from_static("application/json"),
    )];
    let get = HopOptions {
        method: Method::GET,
        headers: &headers,
        body: &[],
        body_cap: 1024 * 1024,
        keep_body: true,
        expiry_warn_days,
        deadline,
    };
    let result = reach_http_probe::hop(url, &get, network).await;
    (result.hop, result.findings, result.body)
}

/// A JSON object, as the discovery document and its fields are read.
type Document = serde_json::Map<String, serde_json::Value>;

/// An endpoint the document names, in [`ENDPOINT_FIELDS`]' order, and
/// what a GET to it gave (`None` when its value is not a URL).
type Reached = (
    usize,
    &'static str,
    String,
    Option<(Hop, Vec<Finding>, Vec<u8>)>,
);

/// Checks the server of `issuer`; `scopes` are the ones the client will ask
/// for.
pub async fn discover(
    issuer: &Url,
    scopes: &[String],
    network: &Network,
    timeout: Duration,
    expiry_warn_days: i64,
) -> (OauthDiscoverDetails, Vec<Finding>) {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut details = OauthDiscoverDetails {
        issuer_url: issuer.to_string(),
        ..OauthDiscoverDetails::default()
    };
    let mut findings = Vec::new();
    let Some(document) = fetch_document(
        issuer,
        network,
        expiry_warn_days,
        deadline,
        &mut details,
        &mut findings,
    )
    .await
    else {
        return (details, findings);
    };
    check_document(issuer, scopes, &document, &mut details, &mut findings);
    for (_, name, raw, outcome) in
        reach_endpoints(&document, network, expiry_warn_days, deadline).await
    {
        record_endpoint(name, raw, outcome, &mut details, &mut findings);
    }
    (details, findings)
}

/// The discovery document, from the first of [`document_urls`] that
/// serves one; each try is kept in `details.documents`. `None` (and
/// `oauth.discovery_invalid` when a server answered) when none does.
async fn fetch_document(
    issuer: &Url,
    network: &Network,
    expiry_warn_days: i64,
    deadline: tokio::time::Instant,
    details: &mut OauthDiscoverDetails,
    findings: &mut Vec<Finding>,
) -> Option<Document> {
    let mut tried = Vec::new();
    for url in document_urls(issuer) {
        let (hop, hop_findings, body) = get(&url, network, expiry_warn_days, deadline).await;
        let status = hop.http.as_ref().and_then(|h| h.status);
        details.documents.push(hop);
        tried.push(format!(
            "{url} ({})",
            status.map_or_else(|| "no answer".to_owned(), |s| s.to_string())
        ));
        if status.is_none() {
            // Unreachable: the pipeline's findings say why; the other URL
            // is on the same host.
            findings.extend(hop_findings);
            break;
        }
        let json: Option<Document> = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.as_object().cloned());
        if status == Some(200)
            && let Some(json) = json.filter(|j| j.get("issuer").is_some())
        {
            details.document_url = Some(url.to_string());
            return Some(json);
        }
    }
    if details.documents.iter().any(|h| h.http.is_some()) {
        findings.push(
            Finding::new(
                Code::OauthDiscoveryInvalid,
                format!(
                    "no discovery document for {issuer}: tried {}",
                    tried.join(", ")
                ),
            )
            .with("tried", &tried),
        );
    }
    None
}

/// The document's own claims: its `issuer` against the one asked about,
/// and `scopes_supported` against the client's `scopes`.
fn check_document(
    issuer: &Url,
    scopes: &[String],
    document: &Document,
    details: &mut OauthDiscoverDetails,
    findings: &mut Vec<Finding>,
) {
    details.issuer = text(document, "issuer");
    let given = issuer.as_str().trim_end_matches('/');
    if details.issuer.as_deref().map(|i| i.trim_end_matches('/')) != Some(given) {
        findings.push(
            Finding::new(
                Code::OauthDiscoveryIssuerMismatch,
                format!(
                    "the document at {} says issuer `{}`, not `{}`: clients that validate tokens reject them",
                    details.document_url.as_deref().unwrap_or(""),
                    details.issuer.as_deref().unwrap_or(""),
                    issuer
                ),
            )
            .with("issuer", details.issuer.clone())
            .with("expected", issuer.as_str()),
        );
    }
    details.scopes_supported = document
        .get("scopes_supported")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !details.scopes_supported.is_empty() {
        for s in scopes
            .iter()
            .filter(|s| !details.scopes_supported.contains(s))
        {
            findings.push(
                Finding::new(
                    Code::OauthDiscoveryScopeUnsupported,
                    format!(
                        "scope `{s}` is not in scopes_supported ({})",
                        details.scopes_supported.join(" ")
                    ),
                )
                .with("scope", s),
            );
        }
    }
}

/// A text field of the document.
fn text(document: &Document, key: &str) -> Option<String> {
    document
        .get(key)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// A GET to every endpoint the document names, all at once (one slow host
/// does not starve the others), in [`ENDPOINT_FIELDS`]' order.
async fn reach_endpoints(
    document: &Document,
    network: &Network,
    expiry_warn_days: i64,
    deadline: tokio::time::Instant,
) -> Vec<Reached> {
    let mut tasks = tokio::task::JoinSet::new();
    for (order, name) in ENDPOINT_FIELDS.iter().enumerate() {
        let Some(raw) = text(document, name) else {
            continue;
        };
        let network = network.clone();
        tasks.spawn(async move {
            let Ok(url) = Url::parse(&raw) else {
                return (order, *name, raw, None);
            };
            let (hop, hop_findings, body) = get(&url, &network, expiry_warn_days, deadline).await;
            (order, *name, raw, Some((hop, hop_findings, body)))
        });
    }
    let mut results = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(r) => results.push(r),
            // A request that panicked is a bug: it goes on (exit 3), as
            // every other task's panic does, instead of an endpoint
            // silently missing from the report.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => {}
        }
    }
    results.sort_by_key(|r| r.0);
    results
}

/// What one endpoint's GET says: reachable or not, its pipeline's
/// findings, and for `jwks_uri` the keys.
fn record_endpoint(
    name: &'static str,
    raw: String,
    outcome: Option<(Hop, Vec<Finding>, Vec<u8>)>,
    details: &mut OauthDiscoverDetails,
    findings: &mut Vec<Finding>,
) {
    let Some((hop, hop_findings, body)) = outcome else {
        findings.push(
            Finding::new(
                Code::OauthDiscoveryInvalid,
                format!("{name} `{raw}` is not a URL"),
            )
            .with("field", name),
        );
        return;
    };
    let status = hop.http.as_ref().and_then(|h| h.status);
    // Any HTTP answer means reachable: a token endpoint answers a GET
    // with 400 or 405, a userinfo endpoint with 401.
    for mut f in hop_findings
        .into_iter()
        .filter(|f| f.code != Code::HttpBodyTruncated)
    {
        f.message = format!("{name} {raw}: {}", f.message);
        findings.push(f.with("endpoint", name));
    }
    if name == "jwks_uri" && status.is_some() {
        match jwks(&body) {
            Some(keys) if !keys.is_empty() && status == Some(200) => {
                details.jwks_keys = Some(keys);
            }
            _ => findings.push(
                Finding::new(
                    Code::OauthDiscoveryJwksInvalid,
                    format!(
                        "jwks_uri {raw} answered {} without a JSON Web Key Set",
                        status.unwrap_or(0)
                    ),
                )
                .with("status", status)
                .with("url", &raw),
            ),
        }
    }
    details.endpoints.push(DiscoveredEndpoint {
        name: name.to_owned(),
        url: raw,
        reachable: status.is_some(),
        status,
        network: hop,
    });
}

/// The keys of a JWKS document; `None` when it is not one.
pub fn jwks(body: &[u8]) -> Option<Vec<JwkInfo>> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let keys = value.get("keys")?.as_array()?;
    keys.iter()
        .map(|k| {
            let text = |f: &str| k.get(f).and_then(|v| v.as_str()).map(str::to_owned);
            Some(JwkInfo {
                kty: text("kty")?,
                kid: text("kid"),
                alg: text("alg"),
                key_use: text("use"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_urls() {
        let urls = |s: &str| -> Vec<String> {
            document_urls(&Url::parse(s).unwrap())
                .iter()
                .map(ToString::to_string)
                .collect()
        };
        assert_eq!(
            urls("https://as.example"),
            [
                "https://as.example/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server"
            ]
        );
        assert_eq!(
            urls("https://login.example/tenant/v2.0/"),
            [
                "https://login.example/tenant/v2.0/.well-known/openid-configuration",
                "https://login.example/.well-known/oauth-authorization-server/tenant/v2.0"
            ]
        );
    }

    #[test]
    fn jwks_documents() {
        let keys = jwks(
            br#"{"keys":[{"kty":"RSA","kid":"k1","use":"sig","alg":"RS256","n":"x","e":"AQAB"}]}"#,
        )
        .unwrap();
        assert_eq!(keys[0].kid.as_deref(), Some("k1"));
        assert_eq!(keys[0].key_use.as_deref(), Some("sig"));
        assert!(jwks(b"<html>").is_none());
        assert!(jwks(br#"{"keys":[{"kid":"no kty"}]}"#).is_none());
        assert_eq!(jwks(br#"{"keys":[]}"#).map(|k| k.len()), Some(0));
    }
}
