//! Redaction: the one place that decides what is a secret.
//!
//! Probes record what the network did, values included; [`report`] is applied
//! to the finished report before any renderer sees it (unless the user asked
//! for `--no-redact`). It walks every string of the report, so a secret is
//! caught wherever it ended up: a URL in a hop, a header, a finding's
//! message or evidence.
//!
//! What is replaced by `[redacted]`:
//! * URL query and fragment parameters named like a secret (`code`,
//!   `access_token`, `refresh_token`, `id_token`, `client_secret`,
//!   `password`, `SAMLResponse`, `SAMLRequest`, …) and the password of a
//!   URL's user info;
//! * `Authorization` / `Proxy-Authorization` credentials (`Bearer …`,
//!   `Basic …`) anywhere in text;
//! * values of the `Authorization`, `Proxy-Authorization`, `Cookie` and
//!   `Set-Cookie` headers (cookie names and attributes are kept);
//! * object members whose key names a secret (`client_secret`, `password`, …).

use serde_json::Value;

use crate::Report;

/// The replacement text.
pub const REDACTED: &str = "[redacted]";

/// Names (of URL and form parameters, headers, JSON members) that are
/// secrets whatever they hold, compared case-insensitively.
const SECRET_NAMES: &[&str] = &[
    "code",
    "key",
    "apikey",
    "sig",
    "pwd",
    "passwd",
    "samlresponse",
    "samlrequest",
    "cookie",
    "set-cookie",
    "authorization",
    "proxy-authorization",
];

/// Parts of a name that make it a secret: `access_token`, `X-Auth-Token`,
/// `client_secret`, `X-Amz-Signature`, `X-Amz-Credential`,
/// `code_verifier`, `x-api-key`, `session_state`, ….
const SECRET_PARTS: &[&str] = &[
    "token",
    "secret",
    "password",
    "signature",
    "credential",
    "assertion",
    "verifier",
    "api-key",
    "api_key",
    "session",
];

/// Suffixes of names that describe a secret rather than hold one:
/// `token_type`, `token_endpoint`, `expires_in`, `jwks_uri`, …
const DESCRIBING_SUFFIXES: &[&str] = &[
    "_type",
    "_endpoint",
    "_uri",
    "_url",
    "_supported",
    "_in",
    "_hint_supported",
];

/// Names that contain a secret-looking part but are public: a feed's
/// version stamp (`syncToken` of AWS, GCP and Atlassian feeds).
const PUBLIC_NAMES: &[&str] = &["synctoken"];

/// Whether a parameter, header or member with this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    if SECRET_NAMES.contains(&lower.as_str()) {
        return true;
    }
    if PUBLIC_NAMES.contains(&lower.as_str()) {
        return false;
    }
    SECRET_PARTS.iter().any(|p| lower.contains(p))
        && !DESCRIBING_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Redacts every secret in a report, in place.
pub fn report(report: &mut Report) {
    let mut value = serde_json::to_value(&*report).expect("a report always serializes");
    value_in_place(&mut value);
    // The walk only replaces string contents, so the shape is unchanged and
    // the value always deserializes back.
    *report = serde_json::from_value(value).expect("redaction keeps the report's shape");
}

/// Redacts secrets in any JSON value, in place.
pub fn value_in_place(value: &mut Value) {
    match value {
        Value::String(s) => {
            if let Some(r) = text_changed(s) {
                *s = r;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(value_in_place),
        Value::Object(map) => {
            // A header in the report's `{name, value}` shape.
            let header_name = map
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase);
            if let (Some(name), Some(Value::String(v))) = (header_name, map.get_mut("value"))
                && is_secret_name(&name)
            {
                *v = header(&name, v);
            }
            for (key, member) in map.iter_mut() {
                let lower = key.to_ascii_lowercase();
                // `code` names a finding's code in the report, not an OAuth code.
                if let Value::String(s) = member
                    && lower != "code"
                    && is_secret_name(&lower)
                    && s != REDACTED
                {
                    REDACTED.clone_into(s);
                    continue;
                }
                value_in_place(member);
            }
        }
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// The value of header `name` with its secret part replaced. Cookies keep
/// their names and attributes: `SID=[redacted]; Path=/; HttpOnly`.
pub fn header(name: &str, value: &str) -> String {
    match name.to_ascii_lowercase().as_str() {
        "set-cookie" => {
            let mut parts = value.splitn(2, ';');
            let pair = parts.next().unwrap_or_default();
            let cookie_name = pair.split('=').next().unwrap_or_default().trim();
            match parts.next() {
                Some(attrs) => format!("{cookie_name}={REDACTED};{attrs}"),
                None => format!("{cookie_name}={REDACTED}"),
            }
        }
        "cookie" => value
            .split(';')
            .map(|pair| {
                let cookie_name = pair.split('=').next().unwrap_or_default().trim();
                format!("{cookie_name}={REDACTED}")
            })
            .collect::<Vec<_>>()
            .join("; "),
        "authorization" | "proxy-authorization" => match value.split_once(' ') {
            Some((scheme, _)) => format!("{scheme} {REDACTED}"),
            None => REDACTED.to_owned(),
        },
        lower if is_secret_name(lower) => REDACTED.to_owned(),
        _ => value.to_owned(),
    }
}

/// `text` with secrets replaced.
pub fn text(text: &str) -> String {
    text_changed(text).unwrap_or_else(|| text.to_owned())
}

/// `Some(redacted)` when `text` holds a secret, `None` when it is clean.
fn text_changed(text: &str) -> Option<String> {
    // Every secret form needs `=`, a space (`Bearer x`) or `://` (user
    // info): most strings (addresses, CIDRs, names) have none.
    if !text.bytes().any(|b| b == b'=' || b == b' ') && !text.contains("://") {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // `name=value` after a parameter boundary.
        let at_boundary = i == 0
            || matches!(
                bytes[i - 1],
                b'?' | b'&' | b'#' | b';' | b' ' | b'\n' | b'\t' | b'"' | b',' | b'('
            );
        if at_boundary && let Some(len) = secret_param_at(&text[i..]) {
            let value_start = i + len;
            let value_end = text[value_start..]
                .find(['&', '#', ' ', '"', '\'', '<', '>', '\n', ',', ')', ';'])
                .map_or(text.len(), |n| value_start + n);
            out.push_str(&text[i..value_start]);
            if value_end > value_start {
                out.push_str(REDACTED);
                changed |= &text[value_start..value_end] != REDACTED;
            }
            i = value_end;
            continue;
        }
        // `Bearer xxx` / `Basic xxx` credentials.
        if let Some(len) = auth_scheme_at(text, i)
            && let Some(value_len) = credentials_at(&text[i + len..])
        {
            // Extra spaces between scheme and credentials are still one header.
            let spaces = text[i + len..].len() - text[i + len..].trim_start_matches(' ').len();
            let value_start = i + len + spaces;
            let value_end = value_start + value_len;
            out.push_str(&text[i..value_start]);
            out.push_str(REDACTED);
            changed |= &text[value_start..value_end] != REDACTED;
            i = value_end;
            continue;
        }
        // `scheme://user:password@host`.
        if text[i..].starts_with("://") {
            let rest = &text[i + 3..];
            let authority_end = rest.find(['/', '?', '#', ' ', '"']).unwrap_or(rest.len());
            let authority = &rest[..authority_end];
            if let Some(at) = authority.rfind('@') {
                // `user:password@` keeps the user; a lone `token@` is all secret.
                let secret_from = authority[..at].find(':').map_or(0, |colon| colon + 1);
                out.push_str("://");
                out.push_str(&authority[..secret_from]);
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
                changed |= &authority[secret_from..at] != REDACTED;
                i += 3 + authority_end;
                continue;
            }
        }
        let ch = text[i..].chars().next().expect("i is on a char boundary");
        out.push(ch);
        i += ch.len_utf8();
    }
    changed.then_some(out)
}

/// Length of `name=` when `s` starts with a secret parameter name and `=`.
fn secret_param_at(s: &str) -> Option<usize> {
    // A parameter name is short and made of token characters; looking at a
    // bounded prefix keeps the scan linear on long texts.
    let name_len = s
        .bytes()
        .take(48)
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))?;
    if name_len == 0 || s.as_bytes()[name_len] != b'=' {
        return None;
    }
    is_secret_name(&s[..name_len]).then_some(name_len + 1)
}

/// The length of the credentials after `Bearer ` / `Basic ` (and any more
/// spaces), when what follows is one: a token68 (RFC 9110), or an already
/// redacted value. Not a challenge's auth-params (`realm="x"`,
/// `error="invalid_token"`) nor ordinary words (`Basic or form body`):
/// credentials are long or carry digits and base64 symbols.
fn credentials_at(rest: &str) -> Option<usize> {
    let value = rest.trim_start_matches(' ');
    if value.starts_with(REDACTED) {
        return Some(REDACTED.len());
    }
    let b = value.as_bytes();
    let token = b
        .iter()
        .take_while(|c| {
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
        .count();
    let padding = b[token..].iter().take_while(|c| **c == b'=').count();
    let end = token + padding;
    if token == 0 {
        return None;
    }
    // `name=value` or `name="value"` is an auth-param, not a token68.
    if padding > 0
        && b.get(end)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'"')
    {
        return None;
    }
    let looks_secret = token >= 8
        || b[..end]
            .iter()
            .any(|c| c.is_ascii_digit() || matches!(c, b'+' | b'/' | b'='));
    looks_secret.then_some(end)
}

/// Length of `Bearer ` / `Basic ` (case-insensitive) at word start `i`.
fn auth_scheme_at(text: &str, i: usize) -> Option<usize> {
    if i > 0 && text.as_bytes()[i - 1].is_ascii_alphanumeric() {
        return None;
    }
    ["bearer ", "basic "].iter().find_map(|scheme| {
        let end = i + scheme.len();
        (text.len() > end
            && text.is_char_boundary(end)
            && text[i..end].eq_ignore_ascii_case(scheme))
        .then_some(scheme.len())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn url_secrets_are_redacted() {
        let cases = [
            (
                "https://app/cb?code=abc123&state=xyz",
                "https://app/cb?code=[redacted]&state=xyz",
            ),
            (
                "https://app/cb#access_token=tok&token_type=bearer",
                "https://app/cb#access_token=[redacted]&token_type=bearer",
            ),
            (
                "https://idp/sso?SAMLRequest=PHNhbWw%2B&RelayState=r",
                "https://idp/sso?SAMLRequest=[redacted]&RelayState=r",
            ),
            (
                "http://user:hunter2@proxy:3128/",
                "http://user:[redacted]@proxy:3128/",
            ),
            (
                "redirected to https://x/?client_secret=s3 then",
                "redirected to https://x/?client_secret=[redacted] then",
            ),
            ("https://x/?postcode=123", "https://x/?postcode=123"),
            (
                "https://s3/o?X-Amz-Credential=AKIA&X-Amz-Signature=abc&key=k1",
                "https://s3/o?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&key=[redacted]",
            ),
            (
                "https://ghp_tok@github.com/x",
                "https://[redacted]@github.com/x",
            ),
            ("(code=abc)", "(code=[redacted])"),
            ("https://x/?state=abc", "https://x/?state=abc"),
        ];
        for (input, want) in cases {
            assert_eq!(text(input), want, "input {input}");
        }
    }

    #[test]
    fn credentials_in_text_are_redacted() {
        assert_eq!(
            text("Authorization: Bearer eyJabc.def"),
            "Authorization: Bearer [redacted]"
        );
        assert_eq!(text("basic dXNlcjpwYXNz"), "basic [redacted]");
        assert_eq!(text("a basically fine text"), "a basically fine text");
        assert_eq!(text("Bearer   abc1 def"), "Bearer   [redacted] def");
        assert_eq!(
            text("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
            "Bearer [redacted]"
        );
        // Challenges and prose are not credentials.
        assert_eq!(text(r#"Basic realm="lab""#), r#"Basic realm="lab""#);
        assert_eq!(
            text(r#"Bearer realm="api", error="invalid_token""#),
            r#"Bearer realm="api", error="invalid_token""#
        );
        assert_eq!(
            text("(Basic header or form body)"),
            "(Basic header or form body)"
        );
    }

    #[test]
    fn headers_keep_cookie_names() {
        assert_eq!(
            header("Set-Cookie", "SID=s3cr3t; Path=/; HttpOnly"),
            "SID=[redacted]; Path=/; HttpOnly"
        );
        assert_eq!(header("cookie", "a=1; b=2"), "a=[redacted]; b=[redacted]");
        // A Cookie header inside a message keeps its separators.
        assert_eq!(
            text("cookie: idp_session=abc; session_token=xyz; theme=dark"),
            "cookie: idp_session=[redacted]; session_token=[redacted]; theme=dark"
        );
        assert_eq!(header("Authorization", "Bearer x"), "Bearer [redacted]");
        assert_eq!(header("content-type", "text/html"), "text/html");
        assert_eq!(header("X-API-Key", "k"), REDACTED);
        assert_eq!(header("X-Subject-Token", "t"), REDACTED);
        assert_eq!(
            header("WWW-Authenticate", "Bearer realm=x"),
            "Bearer realm=x"
        );
    }

    #[test]
    fn values_are_walked() {
        let mut v = json!({
            "code": "tls.cert_expired",
            "headers": [{"name": "Set-Cookie", "value": "SID=s3cr3t; Secure"}],
            "evidence": {"client_secret": "s3cr3t", "url": "https://a/?code=c0de"},
        });
        value_in_place(&mut v);
        assert_eq!(v["code"], "tls.cert_expired");
        assert_eq!(v["headers"][0]["value"], "SID=[redacted]; Secure");
        assert_eq!(v["evidence"]["client_secret"], REDACTED);
        assert_eq!(v["evidence"]["url"], "https://a/?code=[redacted]");
        let s = v.to_string();
        assert!(!s.contains("s3cr3t") && !s.contains("c0de"), "{s}");
    }

    #[test]
    fn redaction_is_idempotent_and_utf8_safe() {
        let once = text("https://ä/?code=ü&x=ß");
        assert_eq!(once, "https://ä/?code=[redacted]&x=ß");
        assert_eq!(text(&once), once);
        assert!(text_changed(&once).is_none());
    }
}
