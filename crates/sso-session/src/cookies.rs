//! The cookie jar carried across the hops of a chain (RFC 6265, by
//! `cookie_store`), and the two ways to seed it with an existing session:
//! Netscape `cookies.txt` files (as `curl -c` and browser exporters write
//! them) and `--cookie NAME=VALUE@DOMAIN`.

use cookie_store::{CookieDomain, CookieStore, RawCookie};
use time::OffsetDateTime;
use url::Url;

use reach_report::sso::{CookieName, CookieSet};

/// A cookie to put in the jar before the first hop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedCookie {
    pub name: String,
    pub value: String,
    /// Without a leading dot.
    pub domain: String,
    /// Sent to subdomains too (a `Domain` cookie) rather than host-only.
    pub include_subdomains: bool,
    pub path: String,
    pub secure: bool,
    pub http_only: bool,
    /// Unix seconds; `None` for a session cookie.
    pub expires: Option<i64>,
}

/// A line of input that is not a cookie: where, what, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CookieError {
    /// `file:line`, or `--cookie N`.
    pub origin: String,
    /// The offending text, its value part replaced: cookie values are
    /// secrets.
    pub text: String,
    pub reason: String,
}

impl std::fmt::Display for CookieError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} (`{}`)", self.origin, self.reason, self.text)
    }
}

/// Reads a Netscape `cookies.txt`: seven tab-separated fields a line
/// (domain, include-subdomains `TRUE`/`FALSE`, path, secure, expiry in
/// Unix seconds with `0` for a session cookie, name, value). `#` starts a
/// comment, except `#HttpOnly_` which prefixes the domain of an `HttpOnly`
/// cookie. Returns every cookie and every bad line (with `source:line`).
pub fn parse_cookies_txt(source: &str, text: &str) -> (Vec<SeedCookie>, Vec<CookieError>) {
    let mut cookies = Vec::new();
    let mut errors = Vec::new();
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
        match parse_txt_line(line, http_only) {
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

fn parse_txt_line(line: &str, http_only: bool) -> Result<SeedCookie, String> {
    let fields: Vec<&str> = line.split('\t').collect();
    if fields.len() != 7 {
        return Err(format!(
            "expected 7 tab-separated fields (domain, subdomains, path, secure, expiry, name, value), found {}",
            fields.len()
        ));
    }
    let flag = |value: &str, what: &str| match value.to_ascii_uppercase().as_str() {
        "TRUE" => Ok(true),
        "FALSE" => Ok(false),
        _ => Err(format!("{what} must be TRUE or FALSE, not `{value}`")),
    };
    let domain = fields[0].trim();
    let include_subdomains = flag(fields[1], "the subdomains field")?;
    let path = fields[2];
    let secure = flag(fields[3], "the secure field")?;
    let expires = fields[4]
        .trim()
        .parse::<i64>()
        .map_err(|_| format!("the expiry must be Unix seconds, not `{}`", fields[4]))?;
    let name = fields[5];
    check_domain(domain)?;
    if name.is_empty() {
        return Err("the cookie has no name".to_owned());
    }
    if !path.starts_with('/') {
        return Err(format!("the path must start with `/`, not `{path}`"));
    }
    Ok(SeedCookie {
        name: name.to_owned(),
        value: fields[6].to_owned(),
        domain: domain.trim_start_matches('.').to_ascii_lowercase(),
        // A leading dot means a domain cookie whatever the flag says.
        include_subdomains: include_subdomains || domain.starts_with('.'),
        path: path.to_owned(),
        secure,
        http_only,
        expires: (expires > 0).then_some(expires),
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
    text.chars().take(200).collect()
}

fn check_domain(domain: &str) -> Result<(), String> {
    let bare = domain.trim_start_matches('.');
    let valid = !bare.is_empty()
        && bare
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
    if valid {
        Ok(())
    } else {
        Err(format!("`{domain}` is not a domain"))
    }
}

/// Reads `--cookie NAME=VALUE@DOMAIN`: a session cookie for `DOMAIN` and
/// its subdomains, path `/`. The last `@` separates the domain, so values
/// may hold `@`.
pub fn parse_cookie_arg(arg: &str) -> Result<SeedCookie, String> {
    let (pair, domain) = arg
        .rsplit_once('@')
        .ok_or("expected NAME=VALUE@DOMAIN (no `@DOMAIN`)")?;
    let (name, value) = pair
        .split_once('=')
        .ok_or("expected NAME=VALUE@DOMAIN (no `=`)")?;
    let name = name.trim();
    if name.is_empty() || name.contains([';', ' ', '\t']) {
        return Err(format!("`{name}` is not a cookie name"));
    }
    check_domain(domain.trim())?;
    Ok(SeedCookie {
        name: name.to_owned(),
        value: value.to_owned(),
        domain: domain.trim().trim_start_matches('.').to_ascii_lowercase(),
        include_subdomains: true,
        path: "/".to_owned(),
        secure: false,
        http_only: false,
        expires: None,
    })
}

/// A cookie as a request would carry it, with what `SameSite` rules need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentCookie {
    pub name: String,
    pub domain: String,
    /// `Strict`, `Lax`, `None`, or `None` when absent.
    pub same_site: Option<String>,
    pub secure: bool,
}

/// The jar: RFC 6265 storage and matching.
#[derive(Debug, Default)]
pub struct Jar {
    store: CookieStore,
}

impl Jar {
    pub fn new() -> Self {
        Jar::default()
    }

    /// Puts `cookie` in the jar. `Err` when the jar refuses it (expired).
    pub fn seed(&mut self, cookie: &SeedCookie) -> Result<(), String> {
        let mut raw = RawCookie::build((cookie.name.clone(), cookie.value.clone()))
            .path(cookie.path.clone())
            .secure(cookie.secure)
            .http_only(cookie.http_only);
        if cookie.include_subdomains {
            raw = raw.domain(cookie.domain.clone());
        }
        if let Some(at) = cookie.expires {
            let at = OffsetDateTime::from_unix_timestamp(at)
                .map_err(|_| format!("expiry {at} is out of range"))?;
            if at <= OffsetDateTime::now_utc() {
                return Err(format!("expired at {at}"));
            }
            raw = raw.expires(at);
        }
        let url = Url::parse(&format!("https://{}{}", cookie.domain, cookie.path))
            .map_err(|e| format!("`{}` is not a host: {e}", cookie.domain))?;
        self.store
            .insert_raw(&raw.build(), &url)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    /// The `Cookie` header for a request to `url`, if any cookie matches.
    pub fn header(&self, url: &Url) -> Option<String> {
        let pairs: Vec<String> = self
            .store
            .get_request_values(url)
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        (!pairs.is_empty()).then(|| pairs.join("; "))
    }

    /// The cookies a request to `url` carries.
    pub fn sent(&self, url: &Url) -> Vec<SentCookie> {
        self.store
            .matches(url)
            .into_iter()
            .map(|c| SentCookie {
                name: c.name().to_owned(),
                domain: domain_of(&c.domain),
                same_site: c.same_site().map(|s| s.to_string()),
                secure: c.secure().unwrap_or(false),
            })
            .collect()
    }

    /// Stores a `Set-Cookie` received from `url`; its attributes (never its
    /// value) for the report. `None` when it does not parse.
    pub fn store(&mut self, set_cookie: &str, url: &Url) -> Option<CookieSet> {
        let parsed = cookie_store::Cookie::parse(set_cookie, url).ok()?;
        let info = CookieSet {
            name: parsed.name().to_owned(),
            domain: domain_of(&parsed.domain),
            path: String::from(&parsed.path),
            secure: parsed.secure().unwrap_or(false),
            http_only: parsed.http_only().unwrap_or(false),
            same_site: parsed.same_site().map(|s| s.to_string()),
            persistent: parsed.is_persistent(),
        };
        // A refused cookie (domain mismatch, …) is still reported as set.
        let _ = self.store.insert(parsed.into_owned(), url);
        Some(info)
    }

    /// Every unexpired cookie: names and domains.
    pub fn names(&self) -> Vec<CookieName> {
        self.store
            .iter_unexpired()
            .map(|c| CookieName {
                name: c.name().to_owned(),
                domain: domain_of(&c.domain),
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.store.iter_unexpired().next().is_none()
    }
}

fn domain_of(domain: &CookieDomain) -> String {
    domain
        .as_cow()
        .map(std::borrow::Cow::into_owned)
        .unwrap_or_default()
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
        assert_eq!(cookies[0].domain, "okta.example");
        assert!(cookies[0].include_subdomains && cookies[0].secure && !cookies[0].http_only);
        assert_eq!(cookies[0].expires, None);
        assert_eq!(cookies[1].name, "DT");
        assert!(cookies[1].http_only && !cookies[1].include_subdomains);
        assert_eq!(cookies[1].path, "/login");
        assert_eq!(cookies[1].expires, Some(4_102_444_800));
        let origins: Vec<&str> = errors.iter().map(|e| e.origin.as_str()).collect();
        assert_eq!(origins, ["jar.txt:6", "jar.txt:7", "jar.txt:8"]);
        assert!(errors[1].reason.contains("TRUE or FALSE"));
        assert!(errors[2].reason.contains("Unix seconds"));
        // Values never reach a message.
        assert!(
            !errors[2].to_string().contains("secret-value"),
            "{}",
            errors[2]
        );
    }

    #[test]
    fn cookie_args() {
        let c = parse_cookie_arg("sid=a@b=c@.Okta.example").unwrap();
        assert_eq!((c.name.as_str(), c.value.as_str()), ("sid", "a@b=c"));
        assert_eq!(c.domain, "okta.example");
        for bad in [
            "sid=x",
            "x@okta.example",
            "=v@d.example",
            "s=v@",
            "s=v@bad domain",
        ] {
            assert!(parse_cookie_arg(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jar_matches_domains_and_paths() {
        let mut jar = Jar::new();
        jar.seed(&parse_cookie_arg("sid=1@idp.example").unwrap())
            .unwrap();
        let (cookies, _) = parse_cookies_txt(
            "j",
            "app.example\tFALSE\t/app\tFALSE\t0\thost\t2\nold.example\tFALSE\t/\tFALSE\t1000\tgone\t3\n",
        );
        jar.seed(&cookies[0]).unwrap();
        assert!(jar.seed(&cookies[1]).unwrap_err().contains("expired"));
        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            jar.header(&url("https://login.idp.example/a")).as_deref(),
            Some("sid=1")
        );
        assert_eq!(
            jar.header(&url("http://app.example/app/x")).as_deref(),
            Some("host=2")
        );
        assert_eq!(jar.header(&url("http://app.example/other")), None);
        assert_eq!(jar.header(&url("http://sub.app.example/app")), None);
        let set = jar
            .store(
                "st=9; Path=/; HttpOnly; SameSite=Lax",
                &url("http://app.example/login"),
            )
            .unwrap();
        assert_eq!(set.name, "st");
        assert_eq!(set.same_site.as_deref(), Some("Lax"));
        assert!(set.http_only && !set.persistent);
        let carried = jar.sent(&url("http://app.example/app/y"));
        let names: Vec<&str> = carried.iter().map(|c| c.name.as_str()).collect();
        assert!(
            names.contains(&"st") && names.contains(&"host"),
            "{names:?}"
        );
    }
}
