//! Why a cookie could not be read or seeded, a browser named, or the
//! keyring give the key of `v11` cookies ([`KeyringError`]). A chain that
//! fails on the network is not an error: it is the chain's end and its
//! findings. A browser profile's problems are [`BrowserError`]s, which
//! name the profile and the path.
//!
//! The messages describe values, never the flag they came from: the CLI
//! says where (`--cookie 2`, `jar.txt:7`). None holds a cookie's value.
//!
//! [`BrowserError`]: crate::browser::BrowserError

/// A cookie (a `cookies.txt` line, a `NAME=VALUE@DOMAIN`, a seed) or a
/// browser name that reach cannot use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A `cookies.txt` line without seven tab-separated fields.
    #[error(
        "expected 7 tab-separated fields (domain, subdomains, path, secure, expiry, name, value), found {found}"
    )]
    FieldCount { found: usize },
    /// A `cookies.txt` flag field (`field`: "the subdomains field", "the
    /// secure field") that is not `TRUE` or `FALSE`.
    #[error("{field} must be TRUE or FALSE, not {}", shown(value))]
    NotTrueOrFalse { field: &'static str, value: String },
    /// A `cookies.txt` line with an empty name field.
    #[error("the cookie has no name")]
    NoName,
    /// A path that does not start with `/`.
    #[error("the path must start with `/`, not {}", shown(value))]
    RelativePath { value: String },
    /// An expiry that is not a number of seconds.
    #[error(
        "the expiry must be a number of seconds (0 for a session cookie), not {}",
        shown(value)
    )]
    BadExpiry { value: String },
    /// A domain with characters no domain has.
    #[error("{} is not a domain", shown(value))]
    NotADomain { value: String },
    /// A `NAME=VALUE@DOMAIN` without its `missing` part (`@DOMAIN` or
    /// `=`).
    #[error("expected NAME=VALUE@DOMAIN (no `{missing}`)")]
    NotNameValueDomain { missing: &'static str },
    /// A `NAME=VALUE@DOMAIN` whose name is empty or holds a separator. Not
    /// quoted: without a clean `NAME=`, the "name" may be the secret.
    #[error("the cookie name is empty or holds `;`, a space or a tab")]
    BadName,
    /// A seed whose expiry (Unix seconds) no date holds.
    #[error("expiry {at} is out of range")]
    ExpiryOutOfRange { at: i64 },
    /// A seed that has expired.
    #[error("expired at {at}")]
    Expired { at: time::OffsetDateTime },
    /// A seed whose domain is not a host a request could go to.
    #[error("`{domain}` is not a host: {reason}")]
    NotAHost {
        domain: String,
        reason: url::ParseError,
    },
    /// More seeds than the jar indexes (2³² of them).
    #[error("too many cookies")]
    TooManyCookies,
    /// A `BROWSER` that is not one reach reads cookies from.
    #[error(
        "`{}` is not a browser reach reads cookies from: chromium, chrome, edge, brave or firefox",
        value.chars().take(40).collect::<String>()
    )]
    UnknownBrowser { value: String },
}

/// Why the password Chromium keeps in the Secret Service (for `v11`
/// values) could not be had: what is missing.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyringError {
    #[error("secret-tool is not installed (Debian and Ubuntu: the libsecret-tools package)")]
    NotInstalled,
    #[error("secret-tool could not be started: {reason}")]
    CannotStart { reason: std::io::Error },
    #[error(
        "secret-tool gave no answer within {seconds} seconds (is the keyring locked, waiting for its password?)"
    )]
    NoAnswer { seconds: u64 },
    #[error("secret-tool's answer could not be read: {reason}")]
    Unreadable { reason: std::io::Error },
    /// The Secret Service answered, without a password for `application`:
    /// another application name may have one.
    #[error("the Secret Service holds no password for application `{application}`")]
    NoPassword { application: &'static str },
    /// secret-tool found no Secret Service; `said` is its first line.
    #[error(
        "no Secret Service answered (secret-tool said: {said}); a keyring such as gnome-keyring must run and be unlocked in this session"
    )]
    NoService { said: String },
}

/// Input text as a message may quote it: in backquotes, at most 60
/// characters, and never binary (control characters or bytes that were not
/// UTF-8).
pub(crate) fn shown(text: &str) -> String {
    if text.chars().any(|c| c.is_control() || c == '\u{fffd}') {
        return format!("{} bytes of binary data", text.len());
    }
    let mut out: String = text.chars().take(60).collect();
    if out.len() < text.len() {
        out.push('…');
    }
    format!("`{out}`")
}
