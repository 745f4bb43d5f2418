//! `details` of the `oauth_scopes`, `oauth_token` and `oauth_discover`
//! checks. Tokens, secrets and codes never appear: a token is described by
//! its type, lifetime, scopes and (for a JWT) its unverified claims.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::endpoint::Hop;

/// An install / authorize URL linted against the app's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OauthScopesDetails {
    pub url: String,
    /// Where the configuration came from: the `--app` file, or `flags`.
    pub config_source: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// The URL's `scope` parameter, split.
    pub scope: Vec<String>,
    /// The URL's `optional_scope` parameter, split.
    pub optional_scope: Vec<String>,
    /// The app's configuration.
    pub required: Vec<String>,
    pub conditional: Vec<String>,
    pub optional: Vec<String>,
    pub redirect_urls: Vec<String>,
    /// The URL with required and conditionally required scopes in `scope`,
    /// optional ones in `optional_scope`, nothing unconfigured.
    pub corrected_url: String,
}

/// A token grant performed against a token endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OauthTokenDetails {
    pub token_url: String,
    /// `client_credentials` or `refresh_token`.
    pub grant: String,
    /// Client authentication: `basic` or `post` (a confidential client's
    /// secret in a header or the form), or `none` (a public client: its
    /// `client_id` in the form, no secret).
    pub auth: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub scopes_requested: Vec<String>,
    /// Scopes the server says it granted (its `scope` field, else the
    /// requested ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes_granted: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
    /// RFC 3339: when the access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// The server also returned a refresh token (not shown).
    pub refresh_token_returned: bool,
    /// The access token's claims, when it is a JWT (never verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_claims: Option<JwtClaims>,
    /// The RFC 6749 `error` (or the vendor's status), on failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// The server's correlation / request id, for the vendor's support.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    pub network: Hop,
}

/// Claims of a JWT access token, unverified.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwtClaims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aud: Vec<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exp: Option<String>,
    /// `scp` or `scope`, split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
    pub verified: bool,
}

/// An authorization server's discovery document, checked.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OauthDiscoverDetails {
    /// The issuer URL given.
    pub issuer_url: String,
    /// The document's URL (the one that answered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_url: Option<String>,
    /// The document's `issuer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    pub endpoints: Vec<DiscoveredEndpoint>,
    /// Keys the `jwks_uri` returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_keys: Option<Vec<JwkInfo>>,
    pub scopes_supported: Vec<String>,
    /// The requests made for the document (one per URL tried).
    pub documents: Vec<Hop>,
}

/// One endpoint of the document and whether it answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiscoveredEndpoint {
    /// The document's field: `token_endpoint`, `jwks_uri`, …
    pub name: String,
    pub url: String,
    /// It answered over HTTP (any status: a token endpoint answers a GET
    /// with 400 or 405).
    pub reachable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub network: Hop,
}

/// A key of the JWKS: what it is, not its material.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JwkInfo {
    pub kty: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<String>,
}
