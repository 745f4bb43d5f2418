//! The cookie jar carried across the hops of a chain: RFC 6265 storage and
//! matching by `cookie_store`.

use cookie_store::{CookieDomain, CookieStore, RawCookie};
use time::OffsetDateTime;
use url::Url;

use reach_report::sso::{CookieName, CookieSet};

use crate::cookies::SeedCookie;

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
    use crate::cookies::{parse_cookie_arg, parse_cookies_txt};

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
