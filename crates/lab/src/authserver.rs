//! The lab's OAuth 2.0 authorization server ([`AS_HOST`](crate::AS_HOST) on
//! [`Lab::idp`](crate::Lab::idp)).
//!
//! A token endpoint in the standard shape (RFC 6749 §5) and one in the shape of `HubSpot`'s,
//! discovery documents (a good one, a wrong one, and an RFC 8414 one for an issuer with a path),
//! a JWKS and a few endpoints that only have to exist. Like the identity provider it is
//! deterministic and deliberately insecure: three fixed clients (two confidential, one public),
//! one refresh token that always works and unsigned access tokens. The only state is the counter behind `x-request-id`.

use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{
    Response, StatusCode,
    header::{
        ALLOW, CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, PRAGMA, WWW_AUTHENTICATE,
    },
};
use serde_json::{Value, json};

use crate::{
    AS_HOST, ZONE,
    idp::{self, Body, Call, Verb},
};

/// The standard token endpoint.
const TOKEN_PATH: &str = "/oauth/token";
/// The `HubSpot`-shaped token endpoint.
const HUBSPOT_TOKEN_PATH: &str = "/hubspot/oauth/v1/token";
/// `aud` of every access token.
pub(crate) const AUDIENCE: &str = "https://api.lab.test";
/// `expires_in` of every token response.
const EXPIRES_IN: u64 = 3600;
/// The one refresh token the server accepts, and the one it hands out.
pub(crate) const GOOD_REFRESH: &str = "good-refresh";
/// Scopes granted when the request names none.
const DEFAULT_SCOPE: &str = "read";
/// A scope clients may ask for but are never granted.
const WITHHELD_SCOPE: &str = "write";
/// A name under [`ZONE`] that the lab DNS answers NXDOMAIN for (only ever a CNAME target).
pub(crate) const NXDOMAIN_LABEL: &str = "missing";
/// Header carrying the per-listener request counter on the standard token endpoint.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Header carrying the `HubSpot` correlation id (the same as in the body).
const CORRELATION_ID: HeaderName = HeaderName::from_static("x-hubspot-correlation-id");
/// `HubSpot` correlation ids: success, then one per kind of error.
const CORRELATION_OK: &str = "c0ffee00-0000-4000-8000-000000000000";
const CORRELATION_VALIDATION: &str = "c0ffee00-0000-4000-8000-000000000001";
const CORRELATION_BAD_CLIENT: &str = "c0ffee00-0000-4000-8000-000000000002";
const CORRELATION_BAD_REFRESH: &str = "c0ffee00-0000-4000-8000-000000000003";
/// Standard base64 alphabet (RFC 4648 §4), for `Authorization: Basic`.
const BASE64_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// x of the P-256 base point (SEC 2), a real curve point for the EC key of the JWKS.
const P256_GX: [u8; 32] = [
    0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40, 0xf2,
    0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2, 0x96,
];
/// y of the P-256 base point.
const P256_GY: [u8; 32] = [
    0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e, 0x16,
    0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51, 0xf5,
];

/// A registered client.
struct Client {
    id: &'static str,
    /// `None` for a public client (RFC 6749 §2.1, token endpoint authentication `none`): it
    /// names itself with `client_id` in the form and authenticates with nothing else.
    secret: Option<&'static str>,
    /// Whether it may use the `client_credentials` grant.
    allows_client_credentials: bool,
    /// The scopes it may request.
    scopes: &'static [&'static str],
}

/// Every client the server knows. Ids and secrets are unreserved characters only, so the
/// form-encoding RFC 6749 §2.3.1 asks for inside `Basic` leaves them unchanged.
const CLIENTS: &[Client] = &[
    Client {
        id: "lab-client",
        secret: Some("lab-secret"),
        allows_client_credentials: true,
        scopes: &["read", "write", "openid", "email"],
    },
    Client {
        id: "restricted-client",
        secret: Some("restricted-secret"),
        allows_client_credentials: false,
        scopes: &["read", "write", "openid", "email"],
    },
    // A native app's registration: refresh only (RFC 6749 §4.4 keeps client_credentials for
    // confidential clients).
    Client {
        id: "lab-public",
        secret: None,
        allows_client_credentials: false,
        scopes: &["read", "write", "openid", "email"],
    },
];

/// Why a token request was turned down, before it is put in either endpoint's words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refusal {
    BadClient,
    MissingGrantType,
    UnsupportedGrant,
    UnauthorizedClient,
    InvalidScope,
    MissingRefresh,
    BadRefresh,
}

/// A token request that succeeded.
struct Grant<'a> {
    client: &'static Client,
    /// Granted scopes, in request order, without duplicates.
    scopes: Vec<&'a str>,
    /// Whether it was the `refresh_token` grant (the response then carries a refresh token).
    refresh: bool,
}

/// The authorization server of one listener.
pub(crate) struct AuthServer {
    /// `http://auth.as.test:{port}`.
    origin: String,
    /// `GET /.well-known/openid-configuration`.
    discovery: String,
    /// `GET /wrong/.well-known/openid-configuration`.
    wrong_discovery: String,
    /// `GET /.well-known/oauth-authorization-server/rfc8414`.
    rfc8414_discovery: String,
    /// `GET /jwks`.
    jwks: String,
    /// Responses of the standard token endpoint so far (`x-request-id: req-<n>`).
    requests: AtomicU64,
}

impl AuthServer {
    /// The server for a listener on `port`.
    pub(crate) fn new(port: u16) -> Self {
        let origin = format!("http://{AS_HOST}:{port}");
        let userinfo = format!("{origin}/userinfo");
        let jwks_uri = format!("{origin}/jwks");
        Self {
            discovery: metadata(&origin, &origin, &jwks_uri, &userinfo),
            wrong_discovery: metadata(
                &origin,
                &format!("{origin}/elsewhere"),
                &format!("{origin}/bad-jwks"),
                &format!("http://{NXDOMAIN_LABEL}.{ZONE}:{port}/userinfo"),
            ),
            rfc8414_discovery: metadata(
                &origin,
                &format!("{origin}/rfc8414"),
                &jwks_uri,
                &userinfo,
            ),
            jwks: jwks(),
            origin,
            requests: AtomicU64::new(0),
        }
    }

    /// The server's routes.
    pub(crate) fn route(&self, call: &Call) -> Response<Body> {
        match (call.verb(), call.path()) {
            (Verb::Post, TOKEN_PATH) => self.with_request_id(self.token(call)),
            (_, TOKEN_PATH) => self.with_request_id(method_not_allowed("POST")),
            (Verb::Post, HUBSPOT_TOKEN_PATH) => self.hubspot_token(call),
            (_, HUBSPOT_TOKEN_PATH) => method_not_allowed("POST"),
            (Verb::Get, "/.well-known/openid-configuration") => json_text(&self.discovery),
            (Verb::Get, "/wrong/.well-known/openid-configuration") => {
                json_text(&self.wrong_discovery)
            }
            (Verb::Get, "/.well-known/oauth-authorization-server/rfc8414") => {
                json_text(&self.rfc8414_discovery)
            }
            (Verb::Get, "/jwks") => json_text(&self.jwks),
            (Verb::Get, "/bad-jwks") => bad_jwks(),
            (Verb::Get, "/oauth/authorize") => login_page(),
            (Verb::Get | Verb::Post, "/userinfo") => userinfo(),
            (_, "/userinfo") => method_not_allowed("GET, HEAD, POST"),
            (
                _,
                "/.well-known/openid-configuration"
                | "/wrong/.well-known/openid-configuration"
                | "/.well-known/oauth-authorization-server/rfc8414"
                | "/jwks"
                | "/bad-jwks"
                | "/oauth/authorize",
            ) => method_not_allowed("GET, HEAD"),
            _ => json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found"})),
        }
    }

    /// The answer to a `POST` whose body could not be read (too large, broken), in the shape
    /// of the endpoint it was sent to.
    pub(crate) fn body_error(
        &self,
        call: &Call,
        status: StatusCode,
        message: &str,
    ) -> Response<Body> {
        match call.path() {
            HUBSPOT_TOKEN_PATH => hubspot_error(
                status,
                "error",
                "missing or invalid parameter",
                CORRELATION_VALIDATION,
                Some("VALIDATION_ERROR"),
            ),
            path => {
                let response = no_store(oauth_error(status, "invalid_request", message));
                if path == TOKEN_PATH {
                    self.with_request_id(response)
                } else {
                    response
                }
            }
        }
    }

    /// `POST /oauth/token`.
    fn token(&self, call: &Call) -> Response<Body> {
        match grant(call) {
            Ok(grant) => self.token_response(&grant, "Bearer", None),
            Err(refusal) => no_store(standard_refusal(refusal)),
        }
    }

    /// `POST /hubspot/oauth/v1/token`.
    fn hubspot_token(&self, call: &Call) -> Response<Body> {
        let validation = || {
            hubspot_error(
                StatusCode::BAD_REQUEST,
                "error",
                "missing or invalid parameter",
                CORRELATION_VALIDATION,
                Some("VALIDATION_ERROR"),
            )
        };
        if nonempty(call.form("grant_type")).is_none() || !client_id_given(call) {
            return validation();
        }
        match grant(call) {
            Ok(grant) => self.token_response(&grant, "bearer", Some(CORRELATION_OK)),
            Err(Refusal::BadClient) => hubspot_error(
                StatusCode::BAD_REQUEST,
                "BAD_CLIENT_ID",
                "missing or unknown client id",
                CORRELATION_BAD_CLIENT,
                None,
            ),
            Err(Refusal::MissingRefresh | Refusal::BadRefresh) => hubspot_error(
                StatusCode::BAD_REQUEST,
                "BAD_REFRESH_TOKEN",
                "missing or unknown refresh token",
                CORRELATION_BAD_REFRESH,
                None,
            ),
            Err(
                Refusal::MissingGrantType
                | Refusal::UnsupportedGrant
                | Refusal::UnauthorizedClient
                | Refusal::InvalidScope,
            ) => validation(),
        }
    }

    /// A 200 token response; `correlation` adds the `HubSpot` header.
    fn token_response(
        &self,
        grant: &Grant<'_>,
        token_type: &str,
        correlation: Option<&'static str>,
    ) -> Response<Body> {
        let scope = grant.scopes.join(" ");
        let mut body = json!({
            "access_token": self.access_token(grant.client.id, &grant.scopes),
            "token_type": token_type,
            "expires_in": EXPIRES_IN,
            "scope": scope,
        });
        if grant.refresh {
            body["refresh_token"] = Value::from(GOOD_REFRESH);
        }
        let mut response = no_store(json_response(StatusCode::OK, &body));
        if let Some(id) = correlation {
            response
                .headers_mut()
                .insert(CORRELATION_ID, HeaderValue::from_static(id));
        }
        response
    }

    /// An unsigned JWT (`alg` `none`) for `client` with the `scopes` granted.
    pub(crate) fn access_token(&self, client: &str, scopes: &[&str]) -> String {
        let header = r#"{"alg":"none","typ":"JWT"}"#;
        let claims = format!(
            r#"{{"iss":{iss},"aud":{aud},"sub":{sub},"scp":{scp},"scope":{scope},"exp":{exp},"iat":{iat}}}"#,
            iss = idp::json_string(&self.origin),
            aud = idp::json_string(AUDIENCE),
            sub = idp::json_string(client),
            scp = Value::from(scopes.to_vec()),
            scope = idp::json_string(&scopes.join(" ")),
            exp = idp::ID_TOKEN_EXP,
            iat = idp::ID_TOKEN_IAT,
        );
        format!(
            "{}.{}.",
            idp::base64_url(header.as_bytes()),
            idp::base64_url(claims.as_bytes())
        )
    }

    /// Adds `x-request-id: req-<n>`, `n` counting the standard token endpoint's responses on
    /// this listener from 1.
    fn with_request_id(&self, mut response: Response<Body>) -> Response<Body> {
        let n = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(value) = HeaderValue::from_str(&format!("req-{n}")) {
            response.headers_mut().insert(REQUEST_ID, value);
        }
        response
    }
}

/// Authenticates the client and checks the grant, in the order the standard endpoint reports
/// problems: client, grant type, the grant itself, scope.
fn grant(call: &Call) -> Result<Grant<'_>, Refusal> {
    let client = authenticate(call).ok_or(Refusal::BadClient)?;
    let refresh = match nonempty(call.form("grant_type")) {
        None => return Err(Refusal::MissingGrantType),
        Some("client_credentials") if client.allows_client_credentials => false,
        Some("client_credentials") => return Err(Refusal::UnauthorizedClient),
        Some("refresh_token") => match nonempty(call.form("refresh_token")) {
            None => return Err(Refusal::MissingRefresh),
            Some(GOOD_REFRESH) => true,
            Some(_) => return Err(Refusal::BadRefresh),
        },
        Some(_) => return Err(Refusal::UnsupportedGrant),
    };
    // RFC 6749 §3.3: space-delimited (the form decoding already turned `+` and `%20` into spaces).
    let requested: Vec<&str> = call
        .form("scope")
        .unwrap_or_default()
        .split(' ')
        .filter(|scope| !scope.is_empty())
        .collect();
    if requested.iter().any(|scope| !client.scopes.contains(scope)) {
        return Err(Refusal::InvalidScope);
    }
    let scopes = if requested.is_empty() {
        vec![DEFAULT_SCOPE]
    } else {
        let mut scopes: Vec<&str> = Vec::new();
        for scope in requested {
            if scope != WITHHELD_SCOPE && !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        scopes
    };
    Ok(Grant {
        client,
        scopes,
        refresh,
    })
}

/// The client the request authenticates as: by `Authorization: Basic` when the request has
/// such a header (then only by it), else by the form fields `client_id` and `client_secret`.
/// As a server holding each client to its registered method does, it refuses a confidential
/// client without its secret, and a public client that presents one (even an empty one).
fn authenticate(call: &Call) -> Option<&'static Client> {
    let (id, secret) = match basic_credentials(call) {
        Basic::Credentials(id, secret) => (id, Some(secret)),
        Basic::Malformed => return None,
        Basic::Absent => (
            call.form("client_id")?.to_owned(),
            call.form("client_secret").map(str::to_owned),
        ),
    };
    CLIENTS
        .iter()
        .find(|client| client.id == id && client.secret == secret.as_deref())
}

/// Whether the request names a client at all (`HubSpot` calls its absence a validation error).
fn client_id_given(call: &Call) -> bool {
    match basic_credentials(call) {
        Basic::Credentials(id, _) => !id.is_empty(),
        Basic::Malformed => false,
        Basic::Absent => nonempty(call.form("client_id")).is_some(),
    }
}

/// What a request's `Authorization` header says as HTTP Basic credentials.
enum Basic {
    /// No `Authorization: Basic` header (none at all, or another scheme).
    Absent,
    /// A `Basic` header that does not decode to `id:secret`.
    Malformed,
    Credentials(String, String),
}

fn basic_credentials(call: &Call) -> Basic {
    let Some((scheme, value)) = call.authorization().map(|header| {
        let header = header.trim();
        header.split_once(' ').unwrap_or((header, ""))
    }) else {
        return Basic::Absent;
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Basic::Absent;
    }
    decode_base64(value.trim())
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| {
            let (id, secret) = text.split_once(':')?;
            Some(Basic::Credentials(id.to_owned(), secret.to_owned()))
        })
        .unwrap_or(Basic::Malformed)
}

/// Decodes standard base64 (RFC 4648 §4), padding optional; `None` for anything else.
pub(crate) fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let data = text.trim_end_matches('=');
    if text.len() - data.len() > 2 || data.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() * 3 / 4);
    let (mut acc, mut bits) = (0_u32, 0_u32);
    for byte in data.bytes() {
        let value = BASE64_STANDARD.iter().position(|&c| c == byte)?;
        acc = (acc << 6) | value as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn nonempty(value: Option<&str>) -> Option<&str> {
    value.filter(|value| !value.is_empty())
}

/// A refusal in RFC 6749 §5.2 terms.
fn standard_refusal(refusal: Refusal) -> Response<Body> {
    let (error, description) = match refusal {
        Refusal::BadClient => {
            let mut response = oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            );
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="lab""#),
            );
            return response;
        }
        Refusal::MissingGrantType => ("invalid_request", "grant_type missing"),
        Refusal::UnsupportedGrant => (
            "unsupported_grant_type",
            "only client_credentials and refresh_token are supported",
        ),
        Refusal::UnauthorizedClient => (
            "unauthorized_client",
            "client may not use the client_credentials grant",
        ),
        Refusal::InvalidScope => (
            "invalid_scope",
            "requested scope not allowed for this client",
        ),
        Refusal::MissingRefresh => ("invalid_request", "refresh_token missing"),
        Refusal::BadRefresh => ("invalid_grant", "refresh token expired or revoked"),
    };
    oauth_error(StatusCode::BAD_REQUEST, error, description)
}

/// `{"error": …, "error_description": …}`.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response<Body> {
    json_response(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

/// A `HubSpot`-shaped error with its correlation id in the body and in a header.
fn hubspot_error(
    status: StatusCode,
    kind: &str,
    message: &str,
    correlation: &'static str,
    category: Option<&str>,
) -> Response<Body> {
    let mut body = json!({
        "status": kind,
        "message": message,
        "correlationId": correlation,
    });
    if let Some(category) = category {
        body["category"] = Value::from(category);
    }
    let mut response = json_response(status, &body);
    response
        .headers_mut()
        .insert(CORRELATION_ID, HeaderValue::from_static(correlation));
    response
}

/// An authorization server metadata document (`OpenID` Connect Discovery 1.0 / RFC 8414).
fn metadata(origin: &str, issuer: &str, jwks_uri: &str, userinfo: &str) -> String {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{origin}/oauth/authorize"),
        "token_endpoint": format!("{origin}{TOKEN_PATH}"),
        "jwks_uri": jwks_uri,
        "userinfo_endpoint": userinfo,
        "scopes_supported": ["openid", "email", "read", "write"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    })
    .to_string()
}

/// The JWKS: an RSA key with a fixed (not really RSA) 2048-bit modulus, and an EC P-256 key
/// whose point is the curve's base point.
fn jwks() -> String {
    let mut modulus = [0_u8; 256];
    for (i, byte) in modulus.iter_mut().enumerate() {
        *byte = (i as u8).wrapping_mul(151).wrapping_add(0x3b);
    }
    modulus[0] = 0xc5;
    modulus[255] |= 1;
    json!({
        "keys": [
            {
                "kty": "RSA",
                "kid": "lab-1",
                "use": "sig",
                "alg": "RS256",
                "n": idp::base64_url(&modulus),
                "e": "AQAB",
            },
            {
                "kty": "EC",
                "kid": "lab-2",
                "crv": "P-256",
                "x": idp::base64_url(&P256_GX),
                "y": idp::base64_url(&P256_GY),
            },
        ]
    })
    .to_string()
}

/// `GET /bad-jwks`: HTML where keys should be.
fn bad_jwks() -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from_static(b"<html>not keys</html>")));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// `GET /oauth/authorize`: a login page (the lab's authorization server signs nobody in).
fn login_page() -> Response<Body> {
    idp::html(
        StatusCode::OK,
        "Sign in - Lab AS",
        concat!(
            "<h1>Sign in</h1>\n",
            "<form method=\"get\" action=\"/oauth/authorize\">\n",
            "<label>Username <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\n",
            "<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n",
            "<button type=\"submit\">Sign in</button>\n",
            "</form>",
        ),
    )
}

/// `GET /userinfo`: every token is invalid.
fn userinfo() -> Response<Body> {
    let mut response = json_response(StatusCode::UNAUTHORIZED, &json!({"error": "invalid_token"}));
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// A JSON `405` with `Allow`.
fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = json_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &json!({"error": "method_not_allowed"}),
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

/// `Cache-Control: no-store` and `Pragma: no-cache`, as RFC 6749 §5.1 asks of token responses.
fn no_store(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn json_response(status: StatusCode, value: &Value) -> Response<Body> {
    let mut response = json_text(&value.to_string());
    *response.status_mut() = status;
    response
}

/// A 200 `application/json` response with `text` as its body.
fn json_text(text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_owned())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::decode_base64;

    #[test]
    fn basic_decoding() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("lab-client:lab-secret", "bGFiLWNsaWVudDpsYWItc2VjcmV0"),
        ] {
            assert_eq!(decode_base64(encoded).as_deref(), Some(plain.as_bytes()));
        }
        for bad in ["Z", "Zm9v!", "Zg===", "-_8"] {
            assert_eq!(decode_base64(bad), None, "{bad}");
        }
    }
}
