//! The cookie jar carried across the hops of a chain: RFC 6265 storage and
//! matching by `cookie_store`, with the rules Chromium adds on top:
//!
//! - when a cookie is set: `SameSite=None` without `Secure` is refused, so
//!   is a `Secure` cookie (or a `__Secure-` / `__Host-` one) from an
//!   insecure origin, and a `Domain` that is a public suffix;
//! - when a request is made: `SameSite` decides by the request's context
//!   ([`Context`]): `Strict` only same-site, `Lax` also on cross-site
//!   top-level GETs, `None` always, and no attribute as Lax, except that a
//!   cookie younger than two minutes is still sent on a cross-site
//!   top-level POST (Chromium's Lax+POST allowance).
//!
//! A site is a scheme and a registrable domain by the public suffix list
//! ("schemeful same-site"); an IP address or a name with no registrable
//! domain is its own site.

use std::collections::HashMap;

use cookie_store::{CookieDomain, CookieStore, RawCookie};
use time::OffsetDateTime;
use url::Url;

use reach_report::sso::{CookieName, CookieSet, CookieWithheld};

use crate::cookies::SeedCookie;

/// How long a cookie without `SameSite` is still sent on a cross-site
/// top-level POST after it was created (Chromium's Lax+POST allowance).
pub const LAX_POST_ALLOWANCE_SECS: i64 = 120;

/// A site as browsers compare them for `SameSite`: scheme and registrable
/// domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Site {
    pub scheme: String,
    pub domain: String,
}

impl std::fmt::Display for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.domain)
    }
}

/// The site of `url`.
pub fn site(url: &Url) -> Site {
    let domain = match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            psl::domain_str(&d).map_or_else(|| d.clone(), str::to_owned)
        }
        Some(host) => host.to_string(),
        None => String::new(),
    };
    Site {
        scheme: url.scheme().to_owned(),
        domain,
    }
}

/// The request a cookie would go with, as Chromium judges it for
/// `SameSite`: a top-level navigation, same-site when its initiator and
/// every URL of its redirect chain so far are of the target's site.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Context {
    pub same_site: bool,
    /// GET or HEAD.
    pub safe_method: bool,
}

impl Context {
    /// The context of a navigation to `target` started by `initiator`
    /// (`None`: typed in the address bar) through `redirects` (the URLs
    /// before `target` in this navigation's redirect chain).
    pub fn navigation(
        target: &Url,
        initiator: Option<&Url>,
        redirects: &[Url],
        method: &http::Method,
    ) -> Context {
        let to = site(target);
        let same_site =
            initiator.is_none_or(|i| site(i) == to) && redirects.iter().all(|u| site(u) == to);
        Context {
            same_site,
            safe_method: matches!(*method, http::Method::GET | http::Method::HEAD),
        }
    }
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

/// What a request carries and what it leaves behind.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub sent: Vec<SentCookie>,
    /// `name=value; …`, or `None` when nothing is sent.
    pub header: Option<String>,
    pub withheld: Vec<(SentCookie, CookieWithheld)>,
}

/// Where a cookie's attributes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Known {
    /// Set during the walk or read from a browser: its `SameSite` and age
    /// are known, so browser rules apply.
    Yes { created: i64 },
    /// From `cookies.txt` or `--cookie`, which do not record `SameSite`:
    /// sent like the file's owner would have it (no claim either way).
    No,
}

/// The jar: RFC 6265 storage and matching, and Chromium's rules.
#[derive(Debug, Default, Clone)]
pub struct Jar {
    store: CookieStore,
    known: HashMap<(String, String, String), Known>,
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
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
        if let Some(same_site) = cookie.same_site.as_deref().and_then(parse_same_site) {
            raw = raw.same_site(same_site);
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
            .map_err(|e| e.to_string())?;
        let known = match cookie.created {
            Some(created) => Known::Yes { created },
            None => Known::No,
        };
        self.known.insert(
            (
                cookie.domain.clone(),
                cookie.path.clone(),
                cookie.name.clone(),
            ),
            known,
        );
        Ok(())
    }

    /// What a request to `url` in `context` carries, and the cookies a
    /// browser holds back from it.
    pub fn outgoing(&self, url: &Url, context: Context) -> Outgoing {
        let mut matched = self.store.matches(url);
        // Chromium's order: longer paths first, then older cookies.
        matched.sort_by_key(|c| {
            let created = match self.known_of(c) {
                Known::Yes { created } => created,
                Known::No => i64::MIN,
            };
            (
                std::cmp::Reverse(String::from(&c.path).len()),
                created,
                c.name().to_owned(),
            )
        });
        let mut out = Outgoing::default();
        let mut pairs = Vec::new();
        for c in matched {
            let sent = SentCookie {
                name: c.name().to_owned(),
                domain: domain_of(&c.domain),
                same_site: c.same_site().map(|s| s.to_string()),
                secure: c.secure().unwrap_or(false),
            };
            if let Some(reason) = self.withhold_reason(c, context) {
                let withheld = CookieWithheld {
                    name: sent.name.clone(),
                    domain: sent.domain.clone(),
                    reason,
                };
                out.withheld.push((sent, withheld));
            } else {
                pairs.push(format!("{}={}", c.name(), c.value()));
                out.sent.push(sent);
            }
        }
        out.header = (!pairs.is_empty()).then(|| pairs.join("; "));
        out
    }

    fn known_of(&self, c: &cookie_store::Cookie<'_>) -> Known {
        let key = (
            domain_of(&c.domain),
            String::from(&c.path),
            c.name().to_owned(),
        );
        self.known.get(&key).copied().unwrap_or(Known::No)
    }

    /// Why Chromium does not send `c` in `context`, or `None` when it does.
    fn withhold_reason(&self, c: &cookie_store::Cookie<'_>, context: Context) -> Option<String> {
        if context.same_site {
            return None;
        }
        let method = if context.safe_method { "GET" } else { "POST" };
        match c.same_site() {
            Some(cookie::SameSite::None) => None,
            Some(cookie::SameSite::Strict) => Some(format!(
                "SameSite=Strict: not sent on a cross-site {method}"
            )),
            Some(cookie::SameSite::Lax) => {
                (!context.safe_method).then(|| "SameSite=Lax: not sent on a cross-site POST".into())
            }
            None => match self.known_of(c) {
                Known::No => None,
                Known::Yes { .. } if context.safe_method => None,
                Known::Yes { created } if now() - created < LAX_POST_ALLOWANCE_SECS => None,
                Known::Yes { .. } => Some(
                    "no SameSite attribute (Lax by default) and older than two minutes: not sent on a cross-site POST"
                        .into(),
                ),
            },
        }
    }

    /// Stores a `Set-Cookie` received from `url` unless a browser would
    /// refuse it; its attributes (never its value) for the report, with
    /// `refused` saying why when it was not stored. `None` when it does
    /// not parse.
    pub fn store(&mut self, set_cookie: &str, url: &Url) -> Option<CookieSet> {
        let parsed = cookie_store::Cookie::parse(set_cookie, url).ok()?;
        let mut info = CookieSet {
            name: parsed.name().to_owned(),
            domain: domain_of(&parsed.domain),
            path: String::from(&parsed.path),
            secure: parsed.secure().unwrap_or(false),
            http_only: parsed.http_only().unwrap_or(false),
            same_site: parsed.same_site().map(|s| s.to_string()),
            persistent: parsed.is_persistent(),
            refused: None,
        };
        info.refused = refusal(&parsed, url);
        if info.refused.is_some() {
            return Some(info);
        }
        let key = (info.domain.clone(), info.path.clone(), info.name.clone());
        match self.store.insert(parsed.into_owned(), url) {
            Ok(_) => {
                self.known.insert(key, Known::Yes { created: now() });
            }
            Err(cookie_store::CookieError::Expired) => {}
            Err(cookie_store::CookieError::DomainMismatch) => {
                info.refused = Some(format!(
                    "Domain={} while the page is {}",
                    info.domain,
                    url.host_str().unwrap_or("")
                ));
            }
            Err(e) => info.refused = Some(e.to_string()),
        }
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

/// Why Chromium refuses to store `cookie` received from `url`.
fn refusal(cookie: &cookie_store::Cookie<'_>, url: &Url) -> Option<String> {
    let secure = cookie.secure().unwrap_or(false);
    if cookie.same_site() == Some(cookie::SameSite::None) && !secure {
        return Some("SameSite=None without Secure".to_owned());
    }
    let secure_origin = url.scheme() == "https"
        || match url.host() {
            Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        };
    if secure && !secure_origin {
        return Some(format!(
            "Secure, but set by an insecure page ({})",
            url.origin().ascii_serialization()
        ));
    }
    let name = cookie.name();
    if name.starts_with("__Secure-") && !(secure && secure_origin) {
        return Some("a __Secure- name without Secure from a secure page".to_owned());
    }
    if name.starts_with("__Host-")
        && !(secure
            && secure_origin
            && matches!(cookie.domain, CookieDomain::HostOnly(_))
            && String::from(&cookie.path) == "/")
    {
        return Some("a __Host- name without Secure, Path=/ and no Domain".to_owned());
    }
    if let CookieDomain::Suffix(domain) = &cookie.domain
        && url.host_str() != Some(domain.as_str())
        && psl::suffix_str(domain) == Some(domain.as_str())
    {
        return Some(format!("Domain={domain} is a public suffix"));
    }
    None
}

fn parse_same_site(value: &str) -> Option<cookie::SameSite> {
    match value.to_ascii_lowercase().as_str() {
        "strict" => Some(cookie::SameSite::Strict),
        "lax" => Some(cookie::SameSite::Lax),
        "none" => Some(cookie::SameSite::None),
        _ => None,
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

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    const SAME: Context = Context {
        same_site: true,
        safe_method: true,
    };

    fn sent(jar: &Jar, to: &str, context: Context) -> Vec<String> {
        jar.outgoing(&url(to), context)
            .sent
            .into_iter()
            .map(|c| c.name)
            .collect()
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
        let header = |s: &str| jar.outgoing(&url(s), SAME).header;
        assert_eq!(
            header("https://login.idp.example/a").as_deref(),
            Some("sid=1")
        );
        assert_eq!(
            header("http://app.example/app/x").as_deref(),
            Some("host=2")
        );
        assert_eq!(header("http://app.example/other"), None);
        assert_eq!(header("http://sub.app.example/app"), None);
        let set = jar
            .store(
                "st=9; Path=/; HttpOnly; SameSite=Lax",
                &url("http://app.example/login"),
            )
            .unwrap();
        assert_eq!(set.name, "st");
        assert_eq!(set.same_site.as_deref(), Some("Lax"));
        assert!(set.http_only && !set.persistent && set.refused.is_none());
        let names = sent(&jar, "http://app.example/app/y", SAME);
        // The longer path first, as browsers order them.
        assert_eq!(names, ["host", "st"]);
    }

    #[test]
    fn sites_follow_the_public_suffix_list() {
        let s = |u: &str| site(&url(u)).to_string();
        assert_eq!(s("https://login.example.co.uk/x"), "https://example.co.uk");
        assert_eq!(s("https://a.b.example.com"), "https://example.com");
        // Private suffixes count: two github.io pages are different sites.
        assert_ne!(s("https://one.github.io"), s("https://two.github.io"));
        assert_eq!(s("https://127.0.0.1:8443/"), "https://127.0.0.1");
        // Schemeful: http and https of one domain are two sites.
        assert_ne!(s("http://example.com"), s("https://example.com"));
        let nav = |to: &str, from: Option<&str>, chain: &[&str], m: http::Method| {
            let chain: Vec<Url> = chain.iter().map(|u| url(u)).collect();
            Context::navigation(&url(to), from.map(url).as_ref(), &chain, &m).same_site
        };
        assert!(nav(
            "https://app.example.com/",
            None,
            &[],
            http::Method::GET
        ));
        assert!(nav(
            "https://app.example.com/cb",
            Some("https://login.example.com/"),
            &[],
            http::Method::POST
        ));
        assert!(!nav(
            "https://app.example.com/cb",
            Some("https://idp.example.net/"),
            &[],
            http::Method::POST
        ));
        // A redirect chain through another site makes the request cross-site.
        assert!(!nav(
            "https://app.example.com/cb",
            None,
            &["https://app.example.com/", "https://idp.example.net/auth"],
            http::Method::GET
        ));
    }

    #[test]
    fn samesite_as_chromium_applies_it() {
        let mut jar = Jar::new();
        let from = url("https://app.example.com/login");
        for set in [
            "strict=1; Path=/; Secure; SameSite=Strict",
            "lax=1; Path=/; Secure; SameSite=Lax",
            "none=1; Path=/; Secure; SameSite=None",
            "fresh=1; Path=/; Secure",
        ] {
            assert_eq!(jar.store(set, &from).unwrap().refused, None, "{set}");
        }
        let (old, _) = parse_cookies_txt("j", "app.example.com\tFALSE\t/\tTRUE\t0\tunknown\t1\n");
        jar.seed(&old[0]).unwrap();
        let mut browser_old = old[0].clone();
        browser_old.name = "stale".to_owned();
        browser_old.created = Some(now() - 600);
        jar.seed(&browser_old).unwrap();

        let to = "https://app.example.com/callback";
        let cross_get = Context {
            same_site: false,
            safe_method: true,
        };
        let cross_post = Context {
            same_site: false,
            safe_method: false,
        };
        let mut all = sent(&jar, to, SAME);
        all.sort();
        assert_eq!(all, ["fresh", "lax", "none", "stale", "strict", "unknown"]);
        let mut get = sent(&jar, to, cross_get);
        get.sort();
        assert_eq!(get, ["fresh", "lax", "none", "stale", "unknown"]);
        let mut post = sent(&jar, to, cross_post);
        post.sort();
        // Lax and Strict held back; a young cookie without SameSite rides
        // the two-minute allowance, an old one does not; a cookies.txt
        // cookie (SameSite unknown) is sent: reach claims nothing about it.
        assert_eq!(post, ["fresh", "none", "unknown"]);
        let withheld = jar.outgoing(&url(to), cross_post).withheld;
        let reasons: Vec<(String, String)> = withheld
            .into_iter()
            .map(|(_, w)| (w.name, w.reason))
            .collect();
        assert!(
            reasons
                .iter()
                .any(|(n, r)| n == "stale" && r.contains("older than two minutes")),
            "{reasons:?}"
        );
        assert!(
            reasons
                .iter()
                .any(|(n, r)| n == "lax" && r == "SameSite=Lax: not sent on a cross-site POST")
        );
    }

    #[test]
    fn refused_as_chromium_refuses() {
        let mut jar = Jar::new();
        let https = url("https://app.example.com/");
        let http = url("http://app.example.com/");
        let cases = [
            (
                "a=1; SameSite=None",
                &https,
                Some("SameSite=None without Secure"),
            ),
            ("b=1; Secure", &http, Some("insecure page")),
            ("__Secure-c=1", &https, Some("__Secure-")),
            (
                "__Host-d=1; Secure; Path=/; Domain=example.com",
                &https,
                Some("__Host-"),
            ),
            ("__Host-e=1; Secure; Path=/", &https, None),
            ("f=1; Domain=com", &https, Some("public suffix")),
            ("g=1; SameSite=None; Secure", &https, None),
        ];
        for (set, from, want) in cases {
            let got = jar.store(set, from).unwrap().refused;
            match want {
                Some(part) => assert!(
                    got.as_deref().is_some_and(|r| r.contains(part)),
                    "{set}: {got:?}"
                ),
                None => assert_eq!(got, None, "{set}"),
            }
        }
        let mut kept = sent(&jar, "https://app.example.com/", SAME);
        kept.sort();
        assert_eq!(kept, ["__Host-e", "g"]);
    }
}
