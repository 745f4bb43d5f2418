//! Why an input of `reach oauth` cannot be used: an app configuration
//! file that is not one, an install URL without what it must carry, a
//! token request whose client cannot make it (a secret where a public
//! client has none, none where a confidential one needs it). A token
//! endpoint that refuses a grant is not an error: it is the
//! outcome's finding.
//!
//! The messages describe the values (a file by the name the caller gives
//! it, a URL), never the flag they came from.

/// An app configuration or install URL that reach cannot lint, or a token
/// request that cannot be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not JSON.
    #[error("{file}:{line}: invalid JSON: {reason}")]
    InvalidJson {
        file: String,
        line: usize,
        reason: serde_json::Error,
    },
    /// JSON, but none of the shapes of an app configuration.
    #[error(
        "{file}: not an app configuration (tried app-hsmeta.json `config.auth`, public-app.json `auth`, and top-level `requiredScopes` / `redirectUrls`)"
    )]
    NotAppConfig { file: String },
    /// A list of scopes or URLs (`key`) that is not an array.
    #[error("{file}: `{key}` is not an array: {value}")]
    NotAnArray {
        file: String,
        key: &'static str,
        value: serde_json::Value,
    },
    /// A list of scopes or URLs (`key`) holding something else than text.
    #[error("{file}: `{key}` holds a non-string: {value}")]
    NotAString {
        file: String,
        key: &'static str,
        value: serde_json::Value,
    },
    /// A client authentication method other than `basic`, `post` and `none`.
    #[error("`{0}` is not a client authentication method (basic, post or none)")]
    UnknownClientAuth(String),
    /// A confidential client's method (`basic`, `post`) without a secret.
    #[error("client authentication `{auth}` sends a client secret, and none was given")]
    NoClientSecret { auth: &'static str },
    /// A secret for a public client, which has none: sending it, or dropping
    /// it silently, would both hide a mistake.
    #[error("a public client (client authentication `none`) has no secret, but one was given")]
    SecretForPublicClient,
    /// `client_credentials` for a public client (RFC 6749 §4.4: confidential
    /// clients only).
    #[error(
        "the client_credentials grant is for confidential clients only (RFC 6749 §4.4): a public client (client authentication `none`) cannot use it"
    )]
    PublicClientCredentials,
    /// An install URL without a query.
    #[error("`{url}` has no query: an install URL carries client_id, redirect_uri and scope")]
    NoQuery { url: url::Url },
    /// An install URL without one of the parameters it must carry.
    #[error("the install URL has no `{name}` parameter")]
    MissingParameter { name: &'static str },
}
