//! `reach oauth token`: performs a `client_credentials` or `refresh_token`
//! grant through the endpoint pipeline, as a confidential client (its
//! secret in a `Basic` header or the form) or a public one (its
//! `client_id` alone), and says why it failed (RFC 6749 §5.2, and vendors'
//! own shapes such as `HubSpot`'s `BAD_REFRESH_TOKEN`) or what it granted. The token and the secrets stay in memory: the report
//! gets the token's type, lifetime, scopes and unverified claims.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use http::{HeaderName, HeaderValue, Method};
use reach_http_probe::{HopOptions, Network};
use reach_report::oauth::{JwtClaims, OauthTokenDetails};
use reach_report::{Code, Finding};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

/// The grant to perform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    ClientCredentials,
    /// With the refresh token (a secret).
    RefreshToken(String),
}

impl Grant {
    pub fn name(&self) -> &'static str {
        match self {
            Grant::ClientCredentials => "client_credentials",
            Grant::RefreshToken(_) => "refresh_token",
        }
    }
}

/// How the client authenticates (RFC 6749 §2.3.1), or that it does not
/// (a public client, §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` (`client_secret_basic`).
    Basic,
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    Post,
    /// A public client (PKCE and native apps, RFC 8252): `client_id` in
    /// the form and no secret anywhere (RFC 8414's `none`).
    None,
}

impl ClientAuth {
    pub const ALL: &'static [ClientAuth] = &[ClientAuth::Basic, ClientAuth::Post, ClientAuth::None];

    /// `basic`, `post`, `none`.
    pub fn name(self) -> &'static str {
        match self {
            ClientAuth::Basic => "basic",
            ClientAuth::Post => "post",
            ClientAuth::None => "none",
        }
    }

    /// Whether the client proves itself with a secret: a confidential
    /// client (RFC 6749 §2.1).
    pub fn sends_secret(self) -> bool {
        !matches!(self, ClientAuth::None)
    }
}

impl std::str::FromStr for ClientAuth {
    type Err = crate::Error;
    /// `basic`, `post` or `none`.
    fn from_str(name: &str) -> Result<Self, crate::Error> {
        ClientAuth::ALL
            .iter()
            .copied()
            .find(|a| a.name() == name)
            .ok_or_else(|| crate::Error::UnknownClientAuth(name.to_owned()))
    }
}

/// A token request.
#[derive(Debug, Clone)]
pub struct TokenRequest {
    pub token_url: Url,
    pub client_id: String,
    /// The secret of a confidential client (`basic`, `post`); `None` for a
    /// public one (`none`). [`request_token`] refuses any other pairing.
    pub client_secret: Option<String>,
    pub grant: Grant,
    pub scopes: Vec<String>,
    pub auth: ClientAuth,
    pub timeout: Duration,
    pub expiry_warn_days: i64,
}

impl TokenRequest {
    /// Whether the client, the way it authenticates, can make this grant
    /// at all: a secret exactly when the method sends one, and no
    /// `client_credentials` for a public client (RFC 6749 §4.4).
    pub fn validate(&self) -> Result<(), crate::Error> {
        self.auth.may_make(
            self.client_secret.is_some(),
            matches!(self.grant, Grant::ClientCredentials),
        )
    }
}

impl ClientAuth {
    /// Whether a client that authenticates this way may make a grant, with
    /// a secret (`has_secret`) or without, of `client_credentials` or not:
    /// a secret exactly when the method sends one, and no
    /// `client_credentials` for a public client (RFC 6749 §2.1, §4.4). The
    /// one statement of these rules: [`TokenRequest::validate`] and the
    /// command line (which names its flags) ask here.
    pub fn may_make(self, has_secret: bool, client_credentials: bool) -> Result<(), crate::Error> {
        match (self, has_secret, client_credentials) {
            (ClientAuth::None, true, _) => Err(crate::Error::SecretForPublicClient),
            (ClientAuth::None, false, true) => Err(crate::Error::PublicClientCredentials),
            (auth @ (ClientAuth::Basic | ClientAuth::Post), false, _) => {
                Err(crate::Error::NoClientSecret { auth: auth.name() })
            }
            _ => Ok(()),
        }
    }
}

/// Performs the grant. `Err` only when the request cannot be made at all
/// ([`TokenRequest::validate`]); a refusal is a finding.
pub async fn request_token(
    req: &TokenRequest,
    network: &Network,
) -> Result<(OauthTokenDetails, Vec<Finding>), crate::Error> {
    req.validate()?;
    let deadline = tokio::time::Instant::now() + req.timeout;

    let (body, headers) = request_parts(req);
    let post = HopOptions {
        method: Method::POST,
        headers: &headers,
        body: body.as_bytes(),
        body_cap: 1024 * 1024,
        keep_body: true,
        expiry_warn_days: req.expiry_warn_days,
        deadline,
    };
    let result = reach_http_probe::hop(&req.token_url, &post, network).await;
    let mut details = OauthTokenDetails {
        token_url: req.token_url.to_string(),
        grant: req.grant.name().to_owned(),
        auth: req.auth.name().to_owned(),
        client_id: req.client_id.clone(),
        scopes_requested: req.scopes.clone(),
        ..OauthTokenDetails::default()
    };
    let mut findings: Vec<Finding> = result.findings;
    let http = result.hop.http.clone();
    details.network = result.hop;
    let Some(http) = http else {
        // DNS, TCP, proxy or TLS failed: its findings say why.
        return Ok((details, findings));
    };
    let headers: Vec<(String, String)> = http
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
        .collect();
    let status = http.status.unwrap_or(0);
    details.status = http.status;
    let outcome = classify(
        status,
        &headers,
        &result.body,
        &req.grant,
        &req.scopes,
        req.auth,
        OffsetDateTime::now_utc(),
    );
    details.token_type = outcome.token_type;
    details.expires_in = outcome.expires_in;
    details.expires_at = outcome.expires_at;
    details.scopes_granted = outcome.scopes_granted;
    details.refresh_token_returned = outcome.refresh_token_returned;
    details.access_token_claims = outcome.claims;
    details.error = outcome.error;
    details.error_description = outcome.error_description;
    details.request_id = outcome.request_id;
    for mut f in outcome.findings {
        f.message = format!("{}: {}", req.token_url, f.message);
        findings.push(f);
    }
    Ok((details, findings))
}

/// The form body and headers of a token request.
fn request_parts(req: &TokenRequest) -> (String, Vec<(HeaderName, HeaderValue)>) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", req.grant.name());
    if let Grant::RefreshToken(token) = &req.grant {
        form.append_pair("refresh_token", token);
    }
    if !req.scopes.is_empty() {
        form.append_pair("scope", &req.scopes.join(" "));
    }
    let mut headers: Vec<(HeaderName, HeaderValue)> = vec![
        (
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        ),
        (
            http::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        ),
    ];
    // A secret the method does not send is never sent (validate refuses
    // the pairing before a request is made).
    match (req.auth, req.client_secret.as_deref()) {
        (ClientAuth::Post, Some(secret)) => {
            form.append_pair("client_id", &req.client_id);
            form.append_pair("client_secret", secret);
        }
        (ClientAuth::Basic, Some(secret)) => {
            // RFC 6749 §2.3.1: each part form-encoded, then base64.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(&req.client_id), enc(secret));
            if let Ok(mut value) =
                HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
            {
                value.set_sensitive(true);
                headers.push((http::header::AUTHORIZATION, value));
            }
        }
        // RFC 6749 §3.2.1 and §6: a public client names itself in the form.
        (ClientAuth::None, _) | (ClientAuth::Basic | ClientAuth::Post, None) => {
            form.append_pair("client_id", &req.client_id);
        }
    }
    let body = form.finish();
    (body, headers)
}

/// What a token response says.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub token_type: Option<String>,
    pub expires_in: Option<i64>,
    pub expires_at: Option<String>,
    pub scopes_granted: Vec<String>,
    pub refresh_token_returned: bool,
    pub claims: Option<JwtClaims>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub request_id: Option<String>,
}

/// Headers that carry a request id for the vendor's support.
const REQUEST_ID_HEADERS: &[&str] = &[
    "x-request-id",
    "request-id",
    "x-correlation-id",
    "x-hubspot-correlation-id",
    "x-ms-request-id",
    "x-amzn-requestid",
    "x-trace-id",
    "cf-ray",
];

/// A JSON object, as a token response is read.
type Json = serde_json::Map<String, serde_json::Value>;

/// Classifies a token endpoint's answer to a client that authenticated
/// with `auth`. Pure.
pub fn classify(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    grant: &Grant,
    requested: &[String],
    auth: ClientAuth,
    now: OffsetDateTime,
) -> Outcome {
    let json: Option<Json> = serde_json::from_slice(body)
        .ok()
        .and_then(|v: serde_json::Value| v.as_object().cloned());
    let json = json.as_ref();
    let mut out = Outcome {
        request_id: request_id(headers, json),
        ..Outcome::default()
    };
    if let Some(finding) = rejection(status, json, grant, requested, auth, &mut out) {
        out.findings.push(with_body(finding, body));
        return out;
    }
    let token = json
        .and_then(|j| j.get("access_token"))
        .and_then(|v| v.as_str());
    let Some(token) = token.filter(|_| (200..300).contains(&status)) else {
        let what = if json.is_some() {
            "a JSON answer without access_token or error"
        } else {
            "an answer that is not JSON"
        };
        let content_type = headers
            .iter()
            .find(|(n, _)| n == "content-type")
            .map(|(_, v)| v.clone());
        let finding = with_ids(
            Finding::new(
                Code::OauthTokenError,
                format!(
                    "Failed to receive access token: the token endpoint answered {status} with {what}"
                ),
            ),
            status,
            &out,
        )
        .with("content_type", content_type)
        .with("body_bytes", body.len());
        out.findings.push(with_body(finding, body));
        return out;
    };
    granted(&mut out, json, token, requested, now);
    out
}

/// The answer's first lines in the finding's evidence: an error page or a
/// JSON error often names its cause (`AADSTS7000215`, `BAD_CLIENT_ID`).
/// A JSON answer is redacted first by the report's own rules (its members
/// named like a secret: `access_token`, `refresh_token`, …), since a token
/// the server just made is known to no rule by value; the rest is redacted
/// with the report, like every string of it.
fn with_body(finding: Finding, body: &[u8]) -> Finding {
    let excerpt = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut json) => {
            reach_report::redact::value_in_place(&mut json);
            reach_http_probe::body_excerpt(json.to_string().as_bytes())
        }
        Err(_) => reach_http_probe::body_excerpt(body),
    };
    match excerpt {
        Some(excerpt) => finding.with("body", excerpt),
        None => finding,
    }
}

/// A field of the answer as text (a number too).
fn text(json: Option<&Json>, key: &str) -> Option<String> {
    json.and_then(|j| j.get(key)).and_then(|v| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// The id the vendor's support asks for: a header, or a field of the
/// answer.
fn request_id(headers: &[(String, String)], json: Option<&Json>) -> Option<String> {
    REQUEST_ID_HEADERS
        .iter()
        .find_map(|h| headers.iter().find(|(n, _)| n == h).map(|(_, v)| v.clone()))
        .or_else(|| {
            [
                "correlationId",
                "correlation_id",
                "requestId",
                "request_id",
                "trace_id",
            ]
            .iter()
            .find_map(|k| text(json, k))
        })
}

/// `finding` with the status and the ids a support request needs.
fn with_ids(finding: Finding, status: u16, out: &Outcome) -> Finding {
    finding
        .with("status", status)
        .with("error", out.error.clone())
        .with("error_description", out.error_description.clone())
        .with("request_id", out.request_id.clone())
}

/// The finding for an error answer (RFC 6749 §5.2: `{"error": …}`;
/// `HubSpot`: `{"status": "BAD_…"}` or a validation error with a
/// category), with `out.error` and `out.error_description` set; `None`
/// when the answer is not an error.
fn rejection(
    status: u16,
    json: Option<&Json>,
    grant: &Grant,
    requested: &[String],
    auth: ClientAuth,
    out: &mut Outcome,
) -> Option<Finding> {
    let standard = text(json, "error");
    let vendor = text(json, "status").filter(|s| s.starts_with("BAD_") || s == "error");
    let error = standard.clone().or(vendor)?;
    let description = text(json, "error_description")
        .or_else(|| text(json, "message"))
        .or_else(|| text(json, "category"));
    out.error = Some(match (&standard, text(json, "category")) {
        (None, Some(category)) if error == "error" => category,
        _ => error.clone(),
    });
    out.error_description.clone_from(&description);
    let detail = description
        .as_deref()
        .map(|d| format!(": {d}"))
        .unwrap_or_default();
    let shown = out.error.clone().unwrap_or_default();
    let said = format!("{shown}{detail}");
    let finding = match error.as_str() {
        "invalid_client" | "BAD_CLIENT_ID" | "BAD_CLIENT_SECRET" => invalid_client(auth, &said),
        "invalid_grant" | "BAD_REFRESH_TOKEN" | "BAD_AUTH_CODE" => Finding::new(
            Code::OauthTokenInvalidGrant,
            match grant {
                Grant::RefreshToken(_) => format!(
                    "the refresh token was rejected ({said}): it expired or was revoked, so the connection must be re-authorized"
                ),
                Grant::ClientCredentials => format!("the grant was rejected ({said})"),
            },
        ),
        "invalid_scope" | "BAD_SCOPES" => Finding::new(
            Code::OauthTokenInvalidScope,
            format!(
                "the requested scopes ({}) were refused ({said})",
                requested.join(" ")
            ),
        ),
        "unauthorized_client" => Finding::new(
            Code::OauthTokenUnauthorizedClient,
            format!("the client may not use the {} grant ({said})", grant.name()),
        ),
        _ => Finding::new(
            Code::OauthTokenError,
            format!("the token endpoint answered {status} {said}"),
        ),
    };
    Some(with_ids(finding, status, out))
}

/// `oauth.token.invalid_client`, in the words of the client's kind: a
/// public client has no secret to get wrong, but a server that knows it as
/// confidential (or not at all) refuses it the same way.
fn invalid_client(auth: ClientAuth, said: &str) -> Finding {
    if auth.sends_secret() {
        return Finding::new(
            Code::OauthTokenInvalidClient,
            format!(
                "Failed to receive access token: the client credentials were rejected ({said}); check the client ID and secret and the authentication method (--auth basic|post, or none for a public client)"
            ),
        );
    }
    Finding::new(
        Code::OauthTokenInvalidClient,
        format!(
            "Failed to receive access token: the server does not accept this client without a secret ({said}): it may be registered as a confidential client, or the client ID is wrong"
        ),
    )
    .with_remedy(
        "A public client (--auth none) sends only its client ID. Check the client ID, and that the authorization server registers the client as public (token endpoint authentication method `none`); if it is confidential, give its secret with --client-secret-env or --client-secret-file and --auth basic or post.",
    )
}

/// What a token answer granted, and `oauth.token_scope_reduced` when
/// it is less than `requested`.
fn granted(
    out: &mut Outcome,
    json: Option<&Json>,
    token: &str,
    requested: &[String],
    now: OffsetDateTime,
) {
    out.token_type = text(json, "token_type");
    out.expires_in = json.and_then(|j| j.get("expires_in")).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
    });
    out.expires_at = out
        .expires_in
        // A server's number may be absurd (1e15 s): no date rather than a panic.
        .and_then(|s| now.checked_add(time::Duration::seconds(s)))
        .and_then(|at| at.format(&Rfc3339).ok());
    out.refresh_token_returned =
        json.is_some_and(|j| j.get("refresh_token").is_some_and(|v| !v.is_null()));
    // RFC 6749 §5.1: without `scope`, the granted scope is the requested.
    out.scopes_granted = text(json, "scope").map_or_else(|| requested.to_vec(), |s| split(&s));
    out.claims = jwt_claims(token);
    let missing: Vec<&String> = requested
        .iter()
        .filter(|s| !out.scopes_granted.contains(s))
        .collect();
    if !missing.is_empty() {
        let names: Vec<&str> = missing.iter().map(|s| s.as_str()).collect();
        out.findings.push(
            Finding::new(
                Code::OauthTokenScopeReduced,
                format!(
                    "a token was issued, but without {} (granted: {})",
                    names.join(", "),
                    out.scopes_granted.join(" ")
                ),
            )
            .with("missing", &names)
            .with("granted", &out.scopes_granted),
        );
    }
}

fn split(value: &str) -> Vec<String> {
    value
        .split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The claims of a JWT access token that matter here, unverified. `None`
/// for an opaque token.
pub fn jwt_claims(token: &str) -> Option<JwtClaims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes).ok()?;
    let strings = |v: Option<&serde_json::Value>| -> Vec<String> {
        match v {
            Some(serde_json::Value::String(s)) => split(s),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        }
    };
    let mut scopes = strings(claims.get("scp"));
    if scopes.is_empty() {
        scopes = strings(claims.get("scope"));
    }
    Some(JwtClaims {
        iss: claims
            .get("iss")
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        aud: strings(claims.get("aud")),
        exp: claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
            .and_then(|t| t.format(&Rfc3339).ok()),
        scopes,
        verified: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
    }

    fn run(
        status: u16,
        headers: &[(&str, &str)],
        body: &str,
        grant: &Grant,
        scopes: &[&str],
    ) -> Outcome {
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        classify(
            status,
            &headers,
            body.as_bytes(),
            grant,
            &scopes,
            ClientAuth::Basic,
            now(),
        )
    }

    fn request(auth: ClientAuth, secret: Option<&str>, grant: Grant) -> TokenRequest {
        TokenRequest {
            token_url: Url::parse("https://as.example/token").unwrap(),
            client_id: "my app".to_owned(),
            client_secret: secret.map(str::to_owned),
            grant,
            scopes: vec!["read".to_owned()],
            auth,
            timeout: Duration::from_secs(1),
            expiry_warn_days: 14,
        }
    }

    /// The form's fields, decoded, and the value of `Authorization`.
    fn parts(req: &TokenRequest) -> (Vec<(String, String)>, Option<String>) {
        let (body, headers) = request_parts(req);
        let form = url::form_urlencoded::parse(body.as_bytes())
            .into_owned()
            .collect();
        let authorization = headers
            .iter()
            .find(|(n, _)| n == http::header::AUTHORIZATION)
            .map(|(_, v)| v.to_str().unwrap().to_owned());
        (form, authorization)
    }

    fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
        form.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn a_public_client_names_itself_in_the_form_and_sends_no_secret() {
        let refresh = Grant::RefreshToken("r-1".into());
        let (form, authorization) = parts(&request(ClientAuth::None, None, refresh.clone()));
        assert_eq!(authorization, None);
        assert_eq!(
            form,
            [
                ("grant_type", "refresh_token"),
                ("refresh_token", "r-1"),
                ("scope", "read"),
                ("client_id", "my app"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
        // Even handed a secret (validate refuses that request), the public
        // method sends none: not in the form, not in a header.
        let req = request(ClientAuth::None, Some("s3cr3t"), refresh);
        let (body, headers) = request_parts(&req);
        assert!(
            !body.contains("client_secret") && !body.contains("s3cr3t"),
            "{body}"
        );
        for (name, value) in &headers {
            assert_ne!(name, http::header::AUTHORIZATION);
            assert!(!value.as_bytes().windows(6).any(|w| w == b"s3cr3t"));
        }
    }

    #[test]
    fn confidential_clients_send_their_secret_as_the_method_says() {
        let grant = Grant::ClientCredentials;
        let (form, authorization) = parts(&request(ClientAuth::Post, Some("s:3"), grant.clone()));
        assert_eq!(authorization, None);
        assert_eq!(field(&form, "client_id"), Some("my app"));
        assert_eq!(field(&form, "client_secret"), Some("s:3"));
        let (form, authorization) = parts(&request(ClientAuth::Basic, Some("s:3"), grant));
        assert_eq!(field(&form, "client_id"), None);
        assert_eq!(field(&form, "client_secret"), None);
        // RFC 6749 §2.3.1: `my+app:s%3A3`, then base64.
        assert_eq!(
            authorization.as_deref(),
            Some(format!("Basic {}", STANDARD.encode("my+app:s%3A3")).as_str())
        );
    }

    #[test]
    fn a_client_that_cannot_make_the_grant_is_refused_before_any_request() {
        let refresh = || Grant::RefreshToken("r".into());
        let cases = [
            (ClientAuth::None, None, refresh(), None),
            (ClientAuth::Basic, Some("s"), refresh(), None),
            (ClientAuth::Post, Some("s"), Grant::ClientCredentials, None),
            (
                ClientAuth::None,
                Some("s"),
                refresh(),
                Some("has no secret, but one was given"),
            ),
            (
                ClientAuth::None,
                None,
                Grant::ClientCredentials,
                Some("confidential clients only"),
            ),
            (
                ClientAuth::Post,
                None,
                refresh(),
                Some("`post` sends a client secret"),
            ),
            (
                ClientAuth::Basic,
                None,
                Grant::ClientCredentials,
                Some("`basic` sends a client secret"),
            ),
        ];
        for (auth, secret, grant, want) in cases {
            let got = request(auth, secret, grant.clone()).validate();
            match (want, got) {
                (None, Ok(())) => {}
                (Some(want), Err(e)) => assert!(e.to_string().contains(want), "{e}"),
                (want, got) => panic!("{auth:?} {secret:?} {grant:?}: {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn every_method_parses_by_its_name() {
        for auth in ClientAuth::ALL {
            assert_eq!(auth.name().parse::<ClientAuth>().ok(), Some(*auth));
        }
        assert_eq!("none".parse::<ClientAuth>().ok(), Some(ClientAuth::None));
        assert!(!ClientAuth::None.sends_secret());
        let e = "jwt".parse::<ClientAuth>().unwrap_err().to_string();
        assert!(e.contains("basic, post or none"), "{e}");
    }

    #[test]
    fn invalid_client_speaks_to_a_public_client() {
        let refresh = Grant::RefreshToken("r".into());
        let body =
            r#"{"error":"invalid_client","error_description":"client authentication failed"}"#;
        for (auth, message, remedy) in [
            (
                ClientAuth::None,
                "does not accept this client without a secret",
                "registers the client as public",
            ),
            (
                ClientAuth::Basic,
                "the client credentials were rejected",
                "how the secret is sent",
            ),
        ] {
            let o = classify(401, &[], body.as_bytes(), &refresh, &[], auth, now());
            assert_eq!(code(&o), Some(Code::OauthTokenInvalidClient));
            let f = &o.findings[0];
            assert!(
                f.message.starts_with("Failed to receive access token"),
                "{}",
                f.message
            );
            assert!(f.message.contains(message), "{}", f.message);
            assert!(
                f.message.contains("client authentication failed"),
                "{}",
                f.message
            );
            assert!(f.remedy.contains(remedy), "{}", f.remedy);
            assert_eq!(f.evidence["status"], 401);
        }
        // HubSpot's shape too.
        let o = classify(
            400,
            &[],
            br#"{"status":"BAD_CLIENT_ID","message":"missing or unknown client id"}"#,
            &refresh,
            &[],
            ClientAuth::None,
            now(),
        );
        assert!(o.findings[0].message.contains("without a secret"));
    }

    fn code(o: &Outcome) -> Option<Code> {
        o.findings.first().map(|f| f.code)
    }

    #[test]
    fn an_error_answer_s_first_lines_are_evidence_without_its_tokens() {
        let o = run(
            401,
            &[],
            r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided.","refresh_token":"rt-SECRET-1"}"#,
            &Grant::ClientCredentials,
            &[],
        );
        let body = o.findings[0].evidence["body"].as_str().unwrap_or_default();
        assert!(body.contains("AADSTS7000215"), "{body}");
        assert!(!body.contains("rt-SECRET-1"), "{body}");
        let page = "<html><head><title>Bad Gateway</title></head>\n<body><h1>502 Bad Gateway</h1><p>upstream sso.example is down</p></body></html>";
        let o = run(502, &[], page, &Grant::ClientCredentials, &[]);
        let body = o.findings[0].evidence["body"].as_str().unwrap_or_default();
        assert_eq!(
            body,
            "Bad Gateway\n502 Bad Gateway\nupstream sso.example is down"
        );
    }

    #[test]
    fn an_absurd_lifetime_gives_no_date_and_no_panic() {
        for lifetime in [
            "1000000000000000",
            "-1000000000000000",
            "9223372036854775807",
        ] {
            let body = format!(r#"{{"access_token":"a","expires_in":{lifetime}}}"#);
            let o = run(200, &[], &body, &Grant::ClientCredentials, &[]);
            assert_eq!(o.expires_in, lifetime.parse().ok(), "{lifetime}");
            assert_eq!(o.expires_at, None, "{lifetime}");
        }
    }

    #[test]
    fn rfc6749_errors() {
        let refresh = Grant::RefreshToken("r".into());
        let cases = [
            (
                401,
                r#"{"error":"invalid_client","error_description":"bad secret"}"#,
                Code::OauthTokenInvalidClient,
            ),
            (
                400,
                r#"{"error":"invalid_grant"}"#,
                Code::OauthTokenInvalidGrant,
            ),
            (
                400,
                r#"{"error":"invalid_scope"}"#,
                Code::OauthTokenInvalidScope,
            ),
            (
                400,
                r#"{"error":"unauthorized_client"}"#,
                Code::OauthTokenUnauthorizedClient,
            ),
            (
                400,
                r#"{"error":"unsupported_grant_type"}"#,
                Code::OauthTokenError,
            ),
            (500, "<html>oops</html>", Code::OauthTokenError),
            (200, r#"{"token_type":"Bearer"}"#, Code::OauthTokenError),
        ];
        for (status, body, want) in cases {
            let o = run(status, &[("x-request-id", "req-9")], body, &refresh, &[]);
            assert_eq!(code(&o), Some(want), "{body}");
            assert_eq!(o.request_id.as_deref(), Some("req-9"));
        }
        let o = run(400, &[], r#"{"error":"invalid_grant"}"#, &refresh, &[]);
        assert!(
            o.findings[0].message.contains("re-authorized"),
            "{}",
            o.findings[0].message
        );
        let o = run(
            401,
            &[],
            r#"{"error":"invalid_client"}"#,
            &Grant::ClientCredentials,
            &[],
        );
        assert!(
            o.findings[0]
                .message
                .starts_with("Failed to receive access token")
        );
    }

    #[test]
    fn hubspot_shapes() {
        let refresh = Grant::RefreshToken("r".into());
        let o = run(
            400,
            &[],
            r#"{"status":"BAD_REFRESH_TOKEN","message":"missing or unknown refresh token","correlationId":"abc-1"}"#,
            &refresh,
            &[],
        );
        assert_eq!(code(&o), Some(Code::OauthTokenInvalidGrant));
        assert_eq!(o.request_id.as_deref(), Some("abc-1"));
        assert_eq!(o.error.as_deref(), Some("BAD_REFRESH_TOKEN"));
        let o = run(
            400,
            &[],
            r#"{"status":"BAD_CLIENT_ID","message":"missing or unknown client id","correlationId":"abc-2"}"#,
            &refresh,
            &[],
        );
        assert_eq!(code(&o), Some(Code::OauthTokenInvalidClient));
        let o = run(
            400,
            &[],
            r#"{"status":"error","message":"missing or invalid parameter","correlationId":"abc-3","category":"VALIDATION_ERROR"}"#,
            &refresh,
            &[],
        );
        assert_eq!(code(&o), Some(Code::OauthTokenError));
        assert_eq!(o.error.as_deref(), Some("VALIDATION_ERROR"));
        assert_eq!(
            o.error_description.as_deref(),
            Some("missing or invalid parameter")
        );
    }

    #[test]
    fn success_and_scope_reduction() {
        let payload = URL_SAFE_NO_PAD.encode(
            r#"{"iss":"https://as.example","aud":"https://api.example","scp":["read"],"exp":1800003600}"#,
        );
        let body = format!(
            r#"{{"access_token":"h.{payload}.","token_type":"Bearer","expires_in":3600,"scope":"read","refresh_token":"r2"}}"#
        );
        let o = run(
            200,
            &[],
            &body,
            &Grant::ClientCredentials,
            &["read", "write"],
        );
        assert_eq!(code(&o), Some(Code::OauthTokenScopeReduced));
        assert_eq!(o.scopes_granted, ["read"]);
        assert_eq!(o.expires_in, Some(3600));
        assert_eq!(o.expires_at.as_deref(), Some("2027-01-15T09:00:00Z"));
        assert!(o.refresh_token_returned);
        let claims = o.claims.unwrap();
        assert_eq!(claims.aud, ["https://api.example"]);
        assert_eq!(claims.scopes, ["read"]);
        assert_eq!(claims.exp.as_deref(), Some("2027-01-15T09:00:00Z"));
        // No `scope` in the answer: granted as requested; opaque token.
        let o = run(
            200,
            &[],
            r#"{"access_token":"opaque","expires_in":"60"}"#,
            &Grant::ClientCredentials,
            &["read"],
        );
        assert!(o.findings.is_empty());
        assert_eq!(o.scopes_granted, ["read"]);
        assert!(o.claims.is_none());
        assert_eq!(o.expires_in, Some(60));
    }
}
