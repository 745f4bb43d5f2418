//! Redaction: the one place that decides what is a secret.
//!
//! Probes record what the network did, values included; the report is
//! redacted before any printer sees it (unless the user asked for
//! `--no-redact`): [`report`] walks every string of the typed report in
//! place ([`crate::strings`]), each with the JSON member it sits under, so
//! that the rules below see the report as its JSON shows it. Every string is
//! looked at, so a secret is caught wherever it ended up: a URL in a hop, a
//! header, a finding's message or evidence. [`text`] does the same for a
//! line reach writes to stderr.
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
//! * object members whose key names a secret (`client_secret`, `password`, …);
//! * the same `name=value` rules when the `=` is percent-encoded
//!   (`idp_session%3D…` inside a redirect's URL), and every value of a
//!   `Cookie:` header quoted in text (a server echoing the request);
//! * every secret the run knows by value ([`remember`]: cookie values from
//!   `--cookie`, a jar or `-H Cookie`, `Authorization` credentials, proxy
//!   passwords, client secrets, refresh tokens), wherever it appears: raw,
//!   percent-encoded, or inside base64 (standard or URL-safe, at any
//!   offset). A value shorter than [`MIN_KNOWN_LEN`] bytes, or a short
//!   lowercase word, is too common to hunt by value (`1`, `dark`,
//!   `enabled`); the name rules still cover it. The values the name rules
//!   find (a session cookie a server set, a code in a redirect) are hunted
//!   the same way.
//!
//! Hunting known values is linear in the text: one pass over the raw
//! bytes, one over their percent-decoded form, and four alignments of
//! every base64-looking run, each position checked against a bit filter of
//! the secrets' first eight bytes before any comparison.

use std::collections::BTreeMap;
use std::sync::RwLock;

use serde_json::Value;

use crate::Report;
use crate::strings::{Place, Strings};

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
    // Called for every member of a report: no copy for a name already in
    // lower case (every serde member name).
    let lower: std::borrow::Cow<'_, str> = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        name.to_ascii_lowercase().into()
    } else {
        name.into()
    };
    let lower = lower.as_ref();
    if SECRET_NAMES.contains(&lower) {
        return true;
    }
    if PUBLIC_NAMES.contains(&lower) {
        return false;
    }
    // Names are short: comparing windows costs less than setting up a
    // substring search for each part.
    let bytes = lower.as_bytes();
    SECRET_PARTS
        .iter()
        .any(|p| bytes.windows(p.len()).any(|w| w == p.as_bytes()))
        && !DESCRIBING_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// Redacts every secret of the report, in place (see [`strings`]): first
/// by name, then every secret known by value, including the ones the name
/// rules just found (a session cookie a server set, a code in a redirect),
/// so that they are caught where they travel on, encoded or not. Only the
/// strings that hold a secret are replaced: a jar of a million cookies
/// costs no copy of the report, its JSON text or a `serde_json::Value`.
///
/// [`strings`]: crate::strings
pub fn report(report: &mut Report) {
    in_place(report);
}

/// Redacts one check, in place, by the same rules as [`report`]: for a
/// report written a check at a time (`--format jsonl`). A secret found by
/// name in this check is hunted by value in this check and every later
/// one; the checks written before it were redacted without it.
pub fn check(check: &mut crate::Check) {
    in_place(check);
}

/// Redacts secrets in any JSON value, in place, by the same rules as
/// [`report`] (a finding's evidence is such a value): for a body a server
/// just sent, whose secrets no other rule knows yet (they are remembered,
/// and hunted in the rest of the report too), and for the tests, which
/// hold the rules to single values.
pub fn value_in_place(value: &mut Value) {
    in_place(value);
}

/// The two passes of [`report`] over anything whose strings can be walked.
fn in_place(value: &mut impl Strings) {
    let mut found = Vec::new();
    value.strings(None, &mut |place, s| {
        if let Some(new) = named_string(place, s, &mut found) {
            *s = new;
        }
    });
    remember_all(found.iter().map(String::as_str));
    drop(found);
    with_known(|known| {
        if known.is_empty() {
            return;
        }
        value.strings(None, &mut |_, s| {
            if let Some(new) = known.redacted(s) {
                *s = new;
            }
        });
    });
}

/// The name rules for one string value: a member named like a secret, the
/// value of a `{name, value}` header, then [`by_name`] on any string. A
/// member named `code` is a finding's code in the report, not an OAuth
/// code.
fn named_string(place: Place<'_>, s: &str, found: &mut Vec<String>) -> Option<String> {
    if let Some(key) = place.key {
        if !key.eq_ignore_ascii_case("code") && is_secret_name(key) {
            return (s != REDACTED).then(|| REDACTED.to_owned());
        }
        if key.eq_ignore_ascii_case("value")
            && let Some(name) = place.name
            && is_secret_name(name)
        {
            found.extend(header_secrets(name, s));
            let headed = header(name, s);
            return Some(by_name(&headed, found).unwrap_or(headed)).filter(|h| h != s);
        }
    }
    by_name(s, found)
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
    let mut found = Vec::new();
    let named = by_name(text, &mut found);
    if !found.is_empty() {
        remember_all(found.iter().map(String::as_str));
    }
    let by_value = with_known(|known| known.redacted(named.as_deref().unwrap_or(text)));
    by_value.or(named).unwrap_or_else(|| text.to_owned())
}

/// `Some(redacted)` when `text` holds a secret, `None` when it is clean.
#[cfg(test)]
fn text_changed(text: &str, known: &Known) -> Option<String> {
    let named = by_name(text, &mut Vec::new());
    let by_value = known.redacted(named.as_deref().unwrap_or(text));
    by_value.or(named)
}

/// The name-based rules: `Some(redacted)` when `text` holds a secret they
/// recognise; each value they replace goes to `found`.
fn by_name(text: &str, found: &mut Vec<String>) -> Option<String> {
    // Every secret form needs `=` (or `%3D`), a space (`Bearer x`), `:`
    // (`cookie: a=b`) or `://` (user info): most strings (addresses, CIDRs,
    // names) have none.
    if !text.bytes().any(|b| matches!(b, b'=' | b' ' | b'%' | b':')) {
        return None;
    }
    // Text is copied to `out` only up to a replacement (`copied` is where
    // the copy stands): a string without a secret costs no copy.
    let mut out = String::new();
    let mut copied = 0;
    let mut changed = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !may_start_at(bytes, i) {
            i += next_char_len(text, i);
            continue;
        }
        // A `Cookie:` or `Set-Cookie:` header quoted in text: every value
        // (the first pair's, for `Set-Cookie`).
        if let Some((len, all_pairs)) = cookie_header_at(text, i) {
            out.push_str(&text[copied..i + len]);
            let (end, any) = cookie_pairs(text, i + len, all_pairs, &mut out, found);
            changed |= any;
            i = end;
            copied = end;
            continue;
        }
        // `name=value` after a parameter boundary, `name%3Dvalue` after an
        // encoded one (or a plain one: `?r=idp_session%3D…`).
        let at_boundary = i == 0 || PARAMETER_BOUNDARY[usize::from(bytes[i - 1])];
        let at_encoded_boundary =
            at_boundary || bytes[i - 1] == b'=' || encoded_delimiter_before(bytes, i);
        if at_encoded_boundary
            && let Some((len, encoded)) = secret_param_at(&text[i..])
            && (encoded || at_boundary)
        {
            let value_start = i + len;
            let value_end = if encoded {
                encoded_value_end(bytes, value_start)
            } else {
                text[value_start..]
                    .find(['&', '#', ' ', '"', '\'', '<', '>', '\n', ',', ')', ';'])
                    .map_or(text.len(), |n| value_start + n)
            };
            if value_end > value_start {
                out.push_str(&text[copied..value_start]);
                out.push_str(REDACTED);
                copied = value_end;
                let value = &text[value_start..value_end];
                changed |= value != REDACTED;
                found.push(value.to_owned());
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
            out.push_str(&text[copied..value_start]);
            out.push_str(REDACTED);
            copied = value_end;
            changed |= &text[value_start..value_end] != REDACTED;
            found.push(text[value_start..value_end].to_owned());
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
                out.push_str(&text[copied..i + 3 + secret_from]);
                out.push_str(REDACTED);
                out.push_str(&authority[at..]);
                changed |= &authority[secret_from..at] != REDACTED;
                found.push(authority[secret_from..at].to_owned());
                i += 3 + authority_end;
                copied = i;
                continue;
            }
        }
        i += next_char_len(text, i);
    }
    changed.then(|| {
        out.push_str(&text[copied..]);
        out
    })
}

/// Whether a rule of [`by_name`] can match at `i`: a cookie header or an
/// auth scheme starts with one of `sScCbB`, user info at `:`, a parameter
/// after a boundary, `=` or a percent-encoded delimiter. Most positions of
/// a report's strings are none of these, and are passed over at the cost
/// of two table lookups.
fn may_start_at(bytes: &[u8], i: usize) -> bool {
    const STARTS: [bool; 256] = byte_table(b"sScCbB:");
    i == 0
        || STARTS[usize::from(bytes[i])]
        || PARAMETER_BOUNDARY[usize::from(bytes[i - 1])]
        || bytes[i - 1] == b'='
        || (i >= 3 && bytes[i - 3] == b'%')
}

/// The bytes after which a `name=value` parameter may start.
const PARAMETER_BOUNDARY: [bool; 256] = byte_table(b"?&#; \n\t\",(");

/// A lookup table of `members`.
const fn byte_table(members: &[u8]) -> [bool; 256] {
    let mut t = [false; 256];
    let mut k = 0;
    while k < members.len() {
        t[members[k] as usize] = true;
        k += 1;
    }
    t
}

/// The length of the character at `i` (a char boundary).
fn next_char_len(text: &str, i: usize) -> usize {
    if text.as_bytes()[i].is_ascii() {
        1
    } else {
        text[i..].chars().next().map_or(1, char::len_utf8)
    }
}

/// Length of `name=` (or `name%3D`, then `true`) when `s` starts with a
/// secret parameter name.
fn secret_param_at(s: &str) -> Option<(usize, bool)> {
    // A parameter name is short and made of token characters; looking at a
    // bounded prefix keeps the scan linear on long texts.
    let name_len = s
        .bytes()
        .take(48)
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')))?;
    if name_len == 0 {
        return None;
    }
    let rest = &s.as_bytes()[name_len..];
    let (len, encoded) = if rest[0] == b'=' {
        (name_len + 1, false)
    } else if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(b"%3D") {
        (name_len + 3, true)
    } else {
        return None;
    };
    is_secret_name(&s[..name_len]).then_some((len, encoded))
}

/// Percent-encoded delimiters of parameters and header values: `&`, `?`,
/// `#`, `;`, space, `,`, `"`, `'`, line breaks.
const ENCODED_DELIMITERS: &[&[u8]] = &[
    b"%26", b"%3F", b"%23", b"%3B", b"%20", b"%2C", b"%22", b"%27", b"%0A", b"%0D",
];

fn encoded_delimiter_at(bytes: &[u8], i: usize) -> bool {
    // Asked at every position of a scanned string: most are not `%`.
    bytes.get(i) == Some(&b'%')
        && bytes.len() >= i + 3
        && ENCODED_DELIMITERS
            .iter()
            .any(|d| bytes[i..i + 3].eq_ignore_ascii_case(d))
}

fn encoded_delimiter_before(bytes: &[u8], i: usize) -> bool {
    i >= 3 && encoded_delimiter_at(bytes, i - 3)
}

/// Where a percent-encoded value starting at `start` ends: at a plain or
/// an encoded delimiter.
fn encoded_value_end(bytes: &[u8], start: usize) -> usize {
    let mut j = start;
    while j < bytes.len() {
        if matches!(
            bytes[j],
            b'&' | b'#' | b' ' | b'"' | b'\'' | b'<' | b'>' | b'\n' | b',' | b')' | b';'
        ) || encoded_delimiter_at(bytes, j)
        {
            break;
        }
        j += 1;
    }
    j
}

/// `Cookie:` / `Set-Cookie:` (any case, then spaces) at word start `i`:
/// its length, and whether every pair follows (`Cookie`) or only the first
/// (`Set-Cookie`, whose next parts are attributes).
fn cookie_header_at(text: &str, i: usize) -> Option<(usize, bool)> {
    let bytes = text.as_bytes();
    if !matches!(bytes[i], b's' | b'S' | b'c' | b'C') {
        return None;
    }
    if i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || matches!(bytes[i - 1], b'-' | b'_')) {
        return None;
    }
    let rest = &bytes[i..];
    let (len, all) = if rest.len() >= 11 && rest[..11].eq_ignore_ascii_case(b"set-cookie:") {
        (11, false)
    } else if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"cookie:") {
        (7, true)
    } else {
        return None;
    };
    let spaces = rest[len..].iter().take_while(|b| **b == b' ').count();
    Some((len + spaces, all))
}

/// Writes the cookie pairs starting at `start` to `out` with their values
/// redacted; returns where they end and whether a value was replaced.
fn cookie_pairs(
    text: &str,
    start: usize,
    all_pairs: bool,
    out: &mut String,
    found: &mut Vec<String>,
) -> (usize, bool) {
    let bytes = text.as_bytes();
    let mut i = start;
    let mut changed = false;
    loop {
        let name_len = bytes[i..]
            .iter()
            .take_while(|b| !matches!(b, b'=' | b';' | b',' | b' ' | b'"' | b'\n' | b'\''))
            .count();
        if name_len == 0 || bytes.get(i + name_len) != Some(&b'=') {
            return (i, changed);
        }
        let value_start = i + name_len + 1;
        let value_len = bytes[value_start..]
            .iter()
            .take_while(|b| !matches!(b, b';' | b',' | b' ' | b'"' | b'\n' | b'\'' | b'\\'))
            .count();
        out.push_str(&text[i..value_start]);
        let value = &text[value_start..value_start + value_len];
        if !value.is_empty() {
            out.push_str(REDACTED);
            changed |= value != REDACTED;
            found.push(value.to_owned());
        }
        i = value_start + value_len;
        // `; ` then the next pair.
        let sep = bytes[i..]
            .iter()
            .take_while(|b| matches!(b, b';' | b' '))
            .count();
        if !all_pairs || sep == 0 || bytes[i] != b';' {
            return (i, changed);
        }
        out.push_str(&text[i..i + sep]);
        i += sep;
    }
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

/// Shortest secret hunted by value: shorter ones (`1`, `dark`, `st1`)
/// would redact ordinary words and numbers everywhere.
pub const MIN_KNOWN_LEN: usize = 8;

/// The secrets this run knows by value.
static KNOWN: RwLock<Known> = RwLock::new(Known::new());

/// Remembers a secret value the run was given (a cookie value, a token, a
/// password, a client secret), so that it is redacted wherever it
/// appears, raw or encoded, in the report and on stderr. Values too short
/// or too common to hunt are ignored (see [`MIN_KNOWN_LEN`]).
pub fn remember(secret: &str) {
    if !worth_hunting(secret) {
        return;
    }
    let mut known = KNOWN
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    known.add(secret.as_bytes());
}

/// [`remember`] for many values, under one lock.
pub fn remember_all<'a>(secrets: impl IntoIterator<Item = &'a str>) {
    let mut known = KNOWN
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for secret in secrets {
        if worth_hunting(secret) {
            known.add(secret.as_bytes());
        }
    }
}

/// Remembers the secret parts of a request header the user gave (`-H`):
/// `Authorization` credentials (and, for `Basic`, the decoded `user:pass`
/// and the password), every `Cookie` value, or the whole value of another
/// header named like a secret (`X-Api-Key`).
pub fn remember_header(name: &str, value: &str) {
    let secrets = header_secrets(name, value);
    remember_all(secrets.iter().map(String::as_str));
}

fn header_secrets(name: &str, value: &str) -> Vec<String> {
    let value = value.trim();
    let mut out = Vec::new();
    match name.trim().to_ascii_lowercase().as_str() {
        "authorization" | "proxy-authorization" => {
            let (scheme, credentials) = value.split_once(' ').unwrap_or(("", value));
            let credentials = credentials.trim();
            out.push(credentials.to_owned());
            if scheme.eq_ignore_ascii_case("basic")
                && let Some(decoded) = base64_decode(credentials.as_bytes())
                && let Ok(decoded) = String::from_utf8(decoded)
            {
                if let Some((_, password)) = decoded.split_once(':') {
                    out.push(password.to_owned());
                }
                out.push(decoded);
            }
        }
        "cookie" => {
            for pair in value.split(';') {
                let (_, v) = pair.split_once('=').unwrap_or(("", pair));
                out.push(v.trim().to_owned());
            }
        }
        "set-cookie" => {
            let pair = value.split(';').next().unwrap_or_default();
            if let Some((_, v)) = pair.split_once('=') {
                out.push(v.trim().to_owned());
            }
        }
        lower if is_secret_name(lower) => out.push(value.to_owned()),
        _ => {}
    }
    out
}

/// Remembers the secrets of a URL the user gave (a proxy's, a target's):
/// the password of its user info (or a lone token user), and the values of
/// query parameters named like a secret.
pub fn remember_url(url: &str) {
    let secrets = url_secrets(url);
    remember_all(secrets.iter().map(String::as_str));
}

fn url_secrets(url: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(parsed) = url::Url::parse(url) else {
        return out;
    };
    let decoded = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    match parsed.password() {
        Some(password) => {
            out.push(password.to_owned());
            out.push(decoded(password));
        }
        None => out.push(decoded(parsed.username())),
    }
    for (name, value) in parsed.query_pairs() {
        if is_secret_name(&name) {
            out.push(value.into_owned());
        }
    }
    out
}

/// Whether a value is distinctive enough to hunt everywhere: long enough,
/// and not a short lowercase word (`enabled`, `accepted`).
fn worth_hunting(secret: &str) -> bool {
    let len = secret.len();
    len >= MIN_KNOWN_LEN
        && (len >= 16 || !secret.bytes().all(|b| b.is_ascii_lowercase()))
        && !secret.contains(REDACTED)
}

/// Runs `f` with the known secrets, their index built.
fn with_known<R>(f: impl FnOnce(&Known) -> R) -> R {
    let dirty = KNOWN
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .dirty;
    if dirty {
        KNOWN
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .build();
    }
    f(&KNOWN
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// Secret values and an index of their first [`MIN_KNOWN_LEN`] bytes.
///
/// The bulk (a jar's million cookie values) is a sorted index built once;
/// secrets found later (one at a time, from messages) go to a small map,
/// until it outgrows half the index and everything is rebuilt, so that
/// adding stays amortised O(log n).
struct Known {
    secrets: Vec<Box<[u8]>>,
    /// (first eight bytes, index into `secrets`) of `secrets[..indexed]`,
    /// sorted.
    index: Vec<(u64, u32)>,
    indexed: usize,
    /// First eight bytes → indices of the secrets added since.
    extra: BTreeMap<u64, Vec<u32>>,
    /// One bit per slot of [`Known::slot`]: whether any secret starts so.
    filter: Vec<u64>,
    /// log2 of the filter's size in bits.
    bits: u32,
    /// Secrets were added that only a rebuild indexes.
    dirty: bool,
}

/// The largest filter: 8 MiB.
const MAX_FILTER_BITS: usize = 1 << 26;

/// A byte range of the text being redacted.
type Span = (usize, usize);

impl Known {
    const fn new() -> Self {
        Known {
            secrets: Vec::new(),
            index: Vec::new(),
            indexed: 0,
            extra: BTreeMap::new(),
            filter: Vec::new(),
            bits: 0,
            dirty: false,
        }
    }

    fn add(&mut self, secret: &[u8]) {
        if !self.dirty && self.contains(secret) {
            return;
        }
        let at = u32::try_from(self.secrets.len()).unwrap_or(u32::MAX);
        self.secrets.push(secret.into());
        if self.dirty || self.filter.is_empty() {
            self.dirty = true;
            // Unindexed secrets are not checked for repeats: a process that
            // remembers without redacting (`reach serve`, each probe telling
            // the same secrets again) must not grow for ever.
            if self.secrets.len() > 2 * self.indexed + 1024 {
                self.build();
            }
            return;
        }
        let prefix = Self::prefix(secret);
        self.extra.entry(prefix).or_default().push(at);
        let slot = self.slot(prefix);
        self.filter[slot / 64] |= 1 << (slot % 64);
        let added = self.secrets.len() - self.indexed;
        let filter_bits = self.filter.len() * 64;
        if added > self.indexed / 2 + 64
            || (self.secrets.len() * 16 > filter_bits && filter_bits < MAX_FILTER_BITS)
        {
            self.dirty = true;
        }
    }

    /// The known secrets whose first eight bytes are `prefix`.
    fn starting(&self, prefix: u64) -> impl Iterator<Item = &[u8]> {
        let from = self.index.partition_point(|(p, _)| *p < prefix);
        let indexed = self.index[from..]
            .iter()
            .take_while(move |(p, _)| *p == prefix)
            .map(|(_, at)| *at);
        let extra = self.extra.get(&prefix).into_iter().flatten().copied();
        indexed.chain(extra).map(|at| &*self.secrets[at as usize])
    }

    fn contains(&self, secret: &[u8]) -> bool {
        self.starting(Self::prefix(secret)).any(|s| s == secret)
    }

    fn prefix(bytes: &[u8]) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&bytes[..MIN_KNOWN_LEN]);
        u64::from_le_bytes(b)
    }

    fn slot(&self, prefix: u64) -> usize {
        // Fibonacci hashing: the top `bits` bits of the product.
        usize::try_from(prefix.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - self.bits)).unwrap_or(0)
    }

    fn build(&mut self) {
        self.secrets.sort_unstable();
        self.secrets.dedup();
        // About 16 filter bits a secret: few false hits, at most 8 MiB.
        let want = (self.secrets.len() * 16)
            .next_power_of_two()
            .clamp(1 << 12, MAX_FILTER_BITS);
        self.bits = want.trailing_zeros();
        self.filter = vec![0; want / 64];
        self.index = self
            .secrets
            .iter()
            .enumerate()
            .map(|(i, s)| (Self::prefix(s), u32::try_from(i).unwrap_or(u32::MAX)))
            .collect();
        self.index.sort_unstable();
        for i in 0..self.index.len() {
            let slot = self.slot(self.index[i].0);
            self.filter[slot / 64] |= 1 << (slot % 64);
        }
        self.indexed = self.secrets.len();
        self.extra.clear();
        self.dirty = false;
    }

    /// Spans of `hay` where a known secret starts and ends, raw.
    fn find(&self, hay: &[u8], spans: &mut Vec<Span>) {
        if self.is_empty() || hay.len() < MIN_KNOWN_LEN {
            return;
        }
        for i in 0..=hay.len() - MIN_KNOWN_LEN {
            let prefix = Self::prefix(&hay[i..]);
            let slot = self.slot(prefix);
            if self.filter[slot / 64] & (1 << (slot % 64)) == 0 {
                continue;
            }
            for secret in self.starting(prefix) {
                if hay[i..].starts_with(secret) {
                    spans.push((i, i + secret.len()));
                }
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.filter.is_empty() || (self.index.is_empty() && self.extra.is_empty())
    }

    /// Spans of `hay` holding a known secret raw or inside base64.
    fn find_with_base64(&self, hay: &[u8], spans: &mut Vec<Span>) {
        self.find(hay, spans);
        let mut decoded = Vec::new();
        let mut found = Vec::new();
        let mut i = 0;
        while i < hay.len() {
            if base64_value(hay[i]).is_none() {
                i += 1;
                continue;
            }
            let start = i;
            while i < hay.len() && base64_value(hay[i]).is_some() {
                i += 1;
            }
            let run = &hay[start..i];
            // The shortest secret fills at least ten characters of base64.
            for align in 0..4 {
                if run.len() < align + 10 {
                    break;
                }
                decoded.clear();
                base64_decode_into(&run[align..], &mut decoded);
                found.clear();
                self.find(&decoded, &mut found);
                for &(s, e) in &found {
                    // Decoded byte k is in characters 4(k/3) + k%3 and the next.
                    let first = 4 * (s / 3) + s % 3;
                    let last = (4 * ((e - 1) / 3) + (e - 1) % 3 + 2).min(run.len() - align);
                    spans.push((start + align + first, start + align + last));
                }
            }
        }
    }

    /// `text` with every known secret (raw, percent-encoded, in base64)
    /// replaced, or `None` when it holds none.
    fn redacted(&self, text: &str) -> Option<String> {
        if self.is_empty() || text.len() < MIN_KNOWN_LEN {
            return None;
        }
        let bytes = text.as_bytes();
        let mut spans = Vec::new();
        self.find_with_base64(bytes, &mut spans);
        if let Some((decoded, starts)) = percent_decoded(bytes) {
            let mut found = Vec::new();
            self.find_with_base64(&decoded, &mut found);
            spans.extend(found.iter().map(|&(s, e)| (starts[s], starts[e])));
        }
        if spans.is_empty() {
            return None;
        }
        spans.sort_unstable();
        // Overlapping and touching spans become one, on char boundaries.
        let mut merged: Vec<Span> = Vec::with_capacity(spans.len());
        for (mut s, mut e) in spans {
            e = e.min(text.len());
            while !text.is_char_boundary(s) {
                s -= 1;
            }
            while !text.is_char_boundary(e) {
                e += 1;
            }
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (s, e) in merged {
            out.push_str(&text[at..s]);
            out.push_str(REDACTED);
            at = e;
        }
        out.push_str(&text[at..]);
        Some(out)
    }
}

/// The percent-decoded bytes of `text` (`%XX`, either case) and, for each
/// decoded byte and one past the end, where it starts in `text`; `None`
/// when nothing is encoded.
fn percent_decoded(text: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let hex = |b: u8| {
        char::from(b)
            .to_digit(16)
            .and_then(|d| u8::try_from(d).ok())
    };
    if !text.contains(&b'%') {
        return None;
    }
    let mut out = Vec::with_capacity(text.len());
    let mut starts = Vec::with_capacity(text.len() + 1);
    let mut i = 0;
    let mut any = false;
    while i < text.len() {
        starts.push(i);
        if text[i] == b'%'
            && let (Some(h), Some(l)) = (
                text.get(i + 1).copied().and_then(hex),
                text.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            i += 3;
            any = true;
        } else {
            out.push(text[i]);
            i += 1;
        }
    }
    starts.push(text.len());
    any.then_some((out, starts))
}

/// The value of a base64 character, standard (`+/`) or URL-safe (`-_`).
fn base64_value(b: u8) -> Option<u8> {
    match b {
        b'A'..=b'Z' => Some(b - b'A'),
        b'a'..=b'z' => Some(b - b'a' + 26),
        b'0'..=b'9' => Some(b - b'0' + 52),
        b'+' | b'-' => Some(62),
        b'/' | b'_' => Some(63),
        _ => None,
    }
}

/// Decodes base64 characters (no padding) into `out`; a last group of two
/// or three characters gives one or two bytes.
fn base64_decode_into(chars: &[u8], out: &mut Vec<u8>) {
    for group in chars.chunks(4) {
        let mut n: u32 = 0;
        for (k, c) in group.iter().enumerate() {
            n |= u32::from(base64_value(*c).unwrap_or(0)) << (18 - 6 * k);
        }
        let [_, a, b, c] = n.to_be_bytes();
        let bytes = [a, b, c];
        out.extend_from_slice(&bytes[..group.len().saturating_sub(1)]);
    }
}

/// Decodes padded or unpadded base64; `None` if it is not base64.
fn base64_decode(text: &[u8]) -> Option<Vec<u8>> {
    let body = text
        .strip_suffix(b"==")
        .or_else(|| text.strip_suffix(b"="))
        .unwrap_or(text);
    if body.is_empty() || body.len() % 4 == 1 || !body.iter().all(|b| base64_value(*b).is_some()) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    base64_decode_into(body, &mut out);
    Some(out)
}

/// Length of `Bearer ` / `Basic ` (case-insensitive) at word start `i`.
fn auth_scheme_at(text: &str, i: usize) -> Option<usize> {
    if !matches!(text.as_bytes()[i], b'b' | b'B') {
        return None;
    }
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
mod oracle;
#[cfg(test)]
mod tests;
