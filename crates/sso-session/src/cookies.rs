//! The ways to seed the jar ([`crate::jar`]) with an existing session:
//! Netscape `cookies.txt` files (as `curl -c` and browser exporters write
//! them), `NAME=VALUE@DOMAIN` (the CLI's `--cookie`), and a browser's own
//! cookie database ([`crate::browser`]).

/// The latest instant `time` represents without its `large-dates` feature
/// (9999-12-31T23:59:59Z), in Unix seconds: the "never expires" of an
/// expiry beyond it.
pub const FAR_FUTURE: i64 = 253_402_300_799;

use std::collections::HashSet;
use std::sync::Arc;

use crate::error::Error;

/// Seconds from 1601-01-01 (Windows' and Chromium's epoch) to 1970-01-01.
const SECONDS_1601_TO_1970: i64 = 11_644_473_600;

/// Chromium's timestamps (`expires_utc`, `creation_utc`) are microseconds
/// since 1601-01-01 UTC: the same instant in Unix seconds, clamped to
/// [`FAR_FUTURE`]. `None` for `0`, Chromium's "no time" (a session cookie's
/// expiry).
pub fn unix_from_chromium_micros(micros: i64) -> Option<i64> {
    (micros > 0).then(|| (micros / 1_000_000 - SECONDS_1601_TO_1970).min(FAR_FUTURE))
}

/// The `SameSite` of a browser database's integer: Chromium's `samesite`
/// column and Firefox's `sameSite` (nsICookie) agree on 0 `None`, 1 `Lax`,
/// 2 `Strict`; anything else (Chromium's -1, Firefox's 256) is unset.
pub fn same_site_of(value: i64) -> Option<cookie::SameSite> {
    match value {
        0 => Some(cookie::SameSite::None),
        1 => Some(cookie::SameSite::Lax),
        2 => Some(cookie::SameSite::Strict),
        _ => None,
    }
}

/// What a file given as a `cookies.txt` really holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// Text: read it with [`parse_cookies_txt`].
    CookiesTxt,
    /// An `SQLite` database (`SQLite format 3\0`): a browser's own cookie
    /// store, Chromium's `Cookies` or Firefox's `cookies.sqlite`.
    Sqlite,
    /// Some other binary file (it holds NUL bytes).
    Binary,
}

/// Tells a `cookies.txt` from a browser's database or another binary file
/// by its first bytes, before any line is read.
pub fn sniff(bytes: &[u8]) -> FileKind {
    if bytes.starts_with(b"SQLite format 3\0") {
        FileKind::Sqlite
    } else if bytes[..bytes.len().min(8192)].contains(&0) {
        FileKind::Binary
    } else {
        FileKind::CookiesTxt
    }
}

/// A cookie to put in the jar before the first hop.
///
/// Kept small, as a `cookies.txt` may hold a million of them: names,
/// domains and paths are shared between the cookies that have the same
/// one ([`Interner`]), the value is one allocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedCookie {
    pub name: Arc<str>,
    pub value: Box<str>,
    /// Without a leading dot.
    pub domain: Arc<str>,
    /// Sent to subdomains too (a `Domain` cookie) rather than host-only.
    pub include_subdomains: bool,
    pub path: Arc<str>,
    pub secure: bool,
    pub http_only: bool,
    /// Unix seconds; `None` for a session cookie.
    pub expires: Option<i64>,
    /// `SameSite` as the browser stored it; `None` when the attribute was
    /// absent (Lax by default) or the source does not say.
    pub same_site: Option<cookie::SameSite>,
    /// Unix seconds when the browser created it; `None` when the source
    /// does not say (taken as older than Chromium's 2-minute Lax+POST
    /// allowance).
    pub created: Option<i64>,
}

/// One shared copy of each name, domain and path a source repeats.
#[derive(Debug, Default)]
pub struct Interner(HashSet<Arc<str>>);

impl Interner {
    /// The shared copy of `text`.
    pub fn get(&mut self, text: &str) -> Arc<str> {
        if let Some(shared) = self.0.get(text) {
            return Arc::clone(shared);
        }
        let shared: Arc<str> = Arc::from(text);
        self.0.insert(Arc::clone(&shared));
        shared
    }
}

/// A line of input that is not a cookie: where, what, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieError {
    /// `file:line`.
    pub origin: String,
    /// The offending text, its value part replaced: cookie values are
    /// secrets.
    pub text: String,
    pub reason: Error,
}

impl std::fmt::Display for CookieError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (`{}`)", self.origin, self.reason, self.text)
    }
}

/// Reads a Netscape `cookies.txt`: seven tab-separated fields a line
/// (domain, include-subdomains `TRUE`/`FALSE`, path, secure, expiry, name,
/// value; a line without the value field has an empty value, as curl reads
/// it). `#` starts a comment, except `#HttpOnly_` which prefixes the domain
/// of an `HttpOnly` cookie. Returns every cookie and every bad line (with
/// `source:line`).
///
/// The expiry is read as curl reads it, a number of seconds (`0` or empty:
/// a session cookie), and normalised to Unix seconds: a fraction (Python's
/// `http.cookiejar` writes `1767225600.0`) is dropped; Chromium's
/// microseconds since 1601, which `yt-dlp --cookies-from-browser` copies
/// into the file unchanged, are converted; anything later than `time` can
/// represent becomes [`FAR_FUTURE`], as curl keeps such a cookie as not
/// expired.
pub fn parse_cookies_txt(source: &str, text: &str) -> (Vec<SeedCookie>, Vec<CookieError>) {
    let mut cookies = Vec::new();
    let mut errors = Vec::new();
    let mut shared = Interner::default();
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        let (line, http_only) = match line.strip_prefix("#HttpOnly_") {
            Some(rest) => (rest, true),
            None => (line, false),
        };
        if line.trim().is_empty() || (!http_only && line.starts_with('#')) {
            continue;
        }
        match parse_txt_line(line, http_only, &mut shared) {
            Ok(cookie) => cookies.push(cookie),
            Err(reason) => errors.push(CookieError {
                origin: format!("{source}:{}", i + 1),
                text: mask_txt_line(line),
                reason,
            }),
        }
    }
    (cookies, errors)
}

fn parse_txt_line(line: &str, http_only: bool, shared: &mut Interner) -> Result<SeedCookie, Error> {
    let mut fields: Vec<&str> = line.split('\t').collect();
    if fields.len() == 6 {
        // curl reads a missing value field as an empty value.
        fields.push("");
    }
    if fields.len() != 7 {
        return Err(Error::FieldCount {
            found: fields.len(),
        });
    }
    let flag = |value: &str, field: &'static str| match value.to_ascii_uppercase().as_str() {
        "TRUE" => Ok(true),
        "FALSE" => Ok(false),
        _ => Err(Error::NotTrueOrFalse {
            field,
            value: value.to_owned(),
        }),
    };
    let domain = fields[0].trim();
    let include_subdomains = flag(fields[1], "the subdomains field")?;
    let path = fields[2];
    let secure = flag(fields[3], "the secure field")?;
    let expires = parse_expiry(fields[4])?;
    let name = fields[5];
    check_domain(domain)?;
    if name.is_empty() {
        return Err(Error::NoName);
    }
    if !path.starts_with('/') {
        return Err(Error::RelativePath {
            value: path.to_owned(),
        });
    }
    let bare = domain.trim_start_matches('.');
    let domain_shared = if bare.bytes().any(|b| b.is_ascii_uppercase()) {
        shared.get(&bare.to_ascii_lowercase())
    } else {
        shared.get(bare)
    };
    Ok(SeedCookie {
        name: shared.get(name),
        value: fields[6].into(),
        domain: domain_shared,
        // A leading dot means a domain cookie whatever the flag says.
        include_subdomains: include_subdomains || domain.starts_with('.'),
        path: shared.get(path),
        secure,
        http_only,
        expires,
        same_site: None,
        created: None,
    })
}

/// The expiry field as Unix seconds; `None` for a session cookie.
fn parse_expiry(field: &str) -> Result<Option<i64>, Error> {
    let field = field.trim();
    if field.is_empty() {
        return Ok(None);
    }
    let whole = match field.split_once('.') {
        Some((whole, fraction))
            if !whole.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) =>
        {
            whole
        }
        _ => field,
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::BadExpiry {
            value: field.to_owned(),
        });
    }
    // Digits only: a parse failure is an overflow, a time past any other.
    let value = whole.parse::<i64>().unwrap_or(i64::MAX);
    Ok(if value == 0 {
        None
    } else if value >= SECONDS_1601_TO_1970 * 1_000_000 {
        // Microseconds since 1601: 1970 itself is 11644473600000000 there,
        // and no Unix time in seconds, milliseconds or microseconds before
        // the year 2338 reaches it.
        unix_from_chromium_micros(value)
    } else {
        Some(value.min(FAR_FUTURE))
    })
}

/// The line with its value field replaced.
fn mask_txt_line(line: &str) -> String {
    let fields: Vec<&str> = line.split('\t').collect();
    let text = if fields.len() >= 7 {
        let mut kept: Vec<&str> = fields[..6].to_vec();
        kept.push("[redacted]");
        kept.join("\\t")
    } else {
        // No value field to tell apart: keep only the first field.
        format!("{} …", fields.first().copied().unwrap_or(""))
    };
    if text.chars().any(|c| c.is_control() || c == '\u{fffd}') {
        return format!("{} bytes, not text", line.len());
    }
    text.chars().take(200).collect()
}

fn check_domain(domain: &str) -> Result<(), Error> {
    let bare = domain.trim_start_matches('.');
    let valid = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if valid {
        Ok(())
    } else {
        Err(Error::NotADomain {
            value: domain.to_owned(),
        })
    }
}

/// Reads `NAME=VALUE@DOMAIN`: a session cookie for `DOMAIN` and
/// its subdomains, path `/`. The last `@` separates the domain, so values
/// may hold `@`.
pub fn parse_cookie_arg(arg: &str) -> Result<SeedCookie, Error> {
    let (pair, domain) = arg
        .rsplit_once('@')
        .ok_or(Error::NotNameValueDomain { missing: "@DOMAIN" })?;
    let (name, value) = pair
        .split_once('=')
        .ok_or(Error::NotNameValueDomain { missing: "=" })?;
    let name = name.trim();
    if name.is_empty() || name.contains([';', ' ', '\t']) {
        return Err(Error::BadName);
    }
    check_domain(domain.trim())?;
    Ok(SeedCookie {
        name: name.into(),
        value: value.into(),
        domain: domain
            .trim()
            .trim_start_matches('.')
            .to_ascii_lowercase()
            .into(),
        include_subdomains: true,
        path: "/".into(),
        secure: false,
        http_only: false,
        expires: None,
        same_site: None,
        created: None,
    })
}

/// What of a `NAME=VALUE@DOMAIN` argument may be a secret, whether it
/// parses or not: the value (the one [`parse_cookie_arg`] reads), or the
/// whole argument when it has no `=` (`sidSECRET`).
pub fn cookie_arg_secret(arg: &str) -> &str {
    arg.split_once('=')
        .map_or(arg, |(_, v)| v.rsplit_once('@').map_or(v, |(v, _)| v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_txt_lines() {
        let text = "# Netscape HTTP Cookie File\n\
                    \n\
                    .okta.example\tTRUE\t/\tTRUE\t0\tsid\tabc\n\
                    #HttpOnly_idp.example\tFALSE\t/login\tFALSE\t4102444800\tDT\txyz\n\
                    # a comment\n\
                    bad line without tabs\n\
                    a.example\tMAYBE\t/\tFALSE\t0\tn\tv\n\
                    a.example\tFALSE\t/\tFALSE\tsoon\tn\tsecret-value\n";
        let (cookies, errors) = parse_cookies_txt("jar.txt", text);
        assert_eq!(cookies.len(), 2);
        assert_eq!(&*cookies[0].domain, "okta.example");
        assert!(cookies[0].include_subdomains && cookies[0].secure && !cookies[0].http_only);
        assert_eq!(cookies[0].expires, None);
        assert_eq!(&*cookies[1].name, "DT");
        assert!(cookies[1].http_only && !cookies[1].include_subdomains);
        assert_eq!(&*cookies[1].path, "/login");
        // One shared copy of a repeated domain.
        let (twice, _) = parse_cookies_txt(
            "j",
            "a.example\tFALSE\t/\tFALSE\t0\tx\t1\nA.example\tFALSE\t/\tFALSE\t0\ty\t2\n",
        );
        assert!(Arc::ptr_eq(&twice[0].domain, &twice[1].domain));
        assert!(Arc::ptr_eq(&twice[0].path, &twice[1].path));
        assert_eq!(cookies[1].expires, Some(4_102_444_800));
        let origins: Vec<&str> = errors.iter().map(|e| e.origin.as_str()).collect();
        assert_eq!(origins, ["jar.txt:6", "jar.txt:7", "jar.txt:8"]);
        assert!(errors[1].reason.to_string().contains("TRUE or FALSE"));
        assert!(errors[2].reason.to_string().contains("number of seconds"));
        // Values never reach a message.
        assert!(
            !errors[2].to_string().contains("secret-value"),
            "{}",
            errors[2]
        );
    }

    /// Lines as `yt-dlp --cookies-from-browser chrome --cookies FILE` writes
    /// them: Chromium's `expires_utc` copied as it is, in microseconds since
    /// 1601; and as Python's cookiejar writes a Firefox expiry it divided by
    /// 1000 (a float).
    #[test]
    fn expiries_are_read_as_curl_reads_them() {
        let text = "# Netscape HTTP Cookie File\n\
                    .idp.example\tTRUE\t/\tTRUE\t13419667225000000\tSID\ts1\n\
                    idp.example\tFALSE\t/\tFALSE\t13264000000000000\told\ts2\n\
                    idp.example\tFALSE\t/\tFALSE\t1767225600.0\tff\ts3\n\
                    idp.example\tFALSE\t/\tFALSE\t4102444800000\tms\ts4\n\
                    idp.example\tFALSE\t/\tFALSE\t99999999999999999999999\thuge\ts5\n\
                    idp.example\tFALSE\t/\tFALSE\t\tempty\ts6\n\
                    idp.example\tFALSE\t/\tFALSE\t0\tnovalue\n\
                    idp.example\tFALSE\t/\tFALSE\t-1\tneg\ts7\n\
                    idp.example\tFALSE\t/\tFALSE\t1e9\texp\ts8\n";
        let (cookies, errors) = parse_cookies_txt("yt.txt", text);
        let expiry = |name: &str| {
            cookies
                .iter()
                .find(|c| &*c.name == name)
                .unwrap_or_else(|| panic!("{name} not read: {errors:?}"))
                .expires
        };
        // 13419667225 s after 1601-01-01 is 2026-04-03T05:20:25Z.
        assert_eq!(expiry("SID"), Some(1_775_193_625));
        // 2021-04-30, in the past: read, and left to the jar to refuse.
        assert_eq!(expiry("old"), Some(1_619_526_400));
        assert_eq!(expiry("ff"), Some(1_767_225_600));
        // Milliseconds and numbers past i64: seconds far in the future for
        // curl, the latest time reach can hold here.
        assert_eq!(expiry("ms"), Some(FAR_FUTURE));
        assert_eq!(expiry("huge"), Some(FAR_FUTURE));
        assert_eq!(expiry("empty"), None);
        let novalue = cookies.iter().find(|c| &*c.name == "novalue").unwrap();
        assert_eq!(&*novalue.value, "");
        let origins: Vec<&str> = errors.iter().map(|e| e.origin.as_str()).collect();
        assert_eq!(origins, ["yt.txt:9", "yt.txt:10"], "{errors:?}");
        // The far future is one the jar takes.
        let mut jar = crate::jar::Jar::new();
        for name in ["ms", "huge"] {
            let cookie = cookies.iter().find(|c| &*c.name == name).unwrap();
            jar.seed(cookie).unwrap();
        }
        assert_eq!(jar.names().len(), 2);
    }

    #[test]
    fn chromium_times() {
        assert_eq!(unix_from_chromium_micros(0), None);
        assert_eq!(unix_from_chromium_micros(11_644_473_600_000_000), Some(0));
        assert_eq!(
            unix_from_chromium_micros(13_440_594_845_523_925),
            Some(1_796_121_245)
        );
        assert_eq!(unix_from_chromium_micros(i64::MAX), Some(FAR_FUTURE));
    }

    #[test]
    fn binary_is_never_quoted() {
        assert_eq!(sniff(b"SQLite format 3\0\x10\0"), FileKind::Sqlite);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0"), FileKind::Binary);
        assert_eq!(
            sniff(b"# Netscape HTTP Cookie File\n"),
            FileKind::CookiesTxt
        );
        let bytes =
            b"\x01\x02\xff\xfe\tTRUE\t/\tFALSE\t0\tn\tv\nx.example\t\x03\xff\t/\tFALSE\t0\tn\tv\n";
        let text = String::from_utf8_lossy(bytes);
        let (_, errors) = parse_cookies_txt("bin", &text);
        assert_eq!(errors.len(), 2);
        for e in &errors {
            let shown = e.to_string();
            assert!(
                !shown.chars().any(|c| c.is_control() || c == '\u{fffd}'),
                "{shown:?}"
            );
            assert!(shown.contains("binary"), "{shown}");
        }
    }

    #[test]
    fn cookie_args() {
        let c = parse_cookie_arg("sid=a@b=c@.Okta.example").unwrap();
        assert_eq!((&*c.name, &*c.value), ("sid", "a@b=c"));
        assert_eq!(&*c.domain, "okta.example");
        for bad in [
            "sid=x",
            "x@okta.example",
            "=v@d.example",
            "s=v@",
            "s=v@bad domain",
        ] {
            assert!(parse_cookie_arg(bad).is_err(), "{bad}");
        }
        for arg in ["sid=a@b=c@.Okta.example", "s= v @d.example", "s=@d"] {
            let value = parse_cookie_arg(arg).unwrap().value;
            assert_eq!(cookie_arg_secret(arg), &*value, "{arg}");
        }
        assert_eq!(cookie_arg_secret("sidSECRET"), "sidSECRET");
        assert_eq!(cookie_arg_secret("sid=SECRET"), "SECRET");
    }
}
