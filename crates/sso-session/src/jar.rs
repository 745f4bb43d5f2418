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

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use cookie_store::{CookieDomain, CookieStore};
use time::OffsetDateTime;
use url::Url;

use reach_report::sso::{CookieName, CookieSet, CookieWithheld};

use crate::cookies::SeedCookie;
use crate::error::Error;

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
    pub withheld: Vec<CookieWithheld>,
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
///
/// The cookies it was seeded with stay where they are (`seeds`, borrowed
/// from the caller when seeded with [`Jar::seeded`]) behind an index by
/// domain: a `cookies.txt` of a million cookies costs the index's few
/// bytes a cookie, not a second copy. The cookies the walk receives go to
/// `cookie_store`, and replace (or delete) a seeded one of the same
/// domain, path and name.
#[derive(Debug, Default, Clone)]
pub struct Jar<'a> {
    store: CookieStore,
    /// When each cookie the walk stored was created.
    known: HashMap<(String, String, String), Known>,
    seeds: Cow<'a, [SeedCookie]>,
    /// The usable seeds by domain (as the URL parser writes the host),
    /// each list sorted by path and name, one seed per domain, path and
    /// name (the last one given).
    index: Arc<HashMap<Arc<str>, Vec<u32>>>,
    /// Seeds a `Set-Cookie` replaced or deleted since.
    replaced: HashSet<u32>,
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A seed's domain as a request's host is written (lower-case, IDNA),
/// or why it cannot be one; `Err` too when it has expired.
fn check_seed(cookie: &SeedCookie, now: i64) -> Result<Arc<str>, Error> {
    if let Some(at) = cookie.expires {
        let at =
            OffsetDateTime::from_unix_timestamp(at).map_err(|_| Error::ExpiryOutOfRange { at })?;
        if at.unix_timestamp() <= now {
            return Err(Error::Expired { at });
        }
    }
    let url = Url::parse(&format!("https://{}{}", cookie.domain, cookie.path)).map_err(|e| {
        Error::NotAHost {
            domain: cookie.domain.to_string(),
            reason: e,
        }
    })?;
    let host = url.host_str().unwrap_or_default();
    Ok(if host == &*cookie.domain {
        Arc::clone(&cookie.domain)
    } else {
        Arc::from(host)
    })
}

/// A cookie about to go with a request, from the store or the seeds.
struct Candidate<'c> {
    name: &'c str,
    value: &'c str,
    domain: String,
    path: &'c str,
    same_site: Option<cookie::SameSite>,
    secure: bool,
    known: Known,
}

impl Jar<'static> {
    pub fn new() -> Self {
        Jar::default()
    }
}

impl<'a> Jar<'a> {
    /// A jar holding `seeds` (borrowed, not copied), and the seeds it
    /// refused with why (expired, not a host), by their index in `seeds`.
    /// Of several seeds with the same domain, path and name, the last one
    /// counts, as when each replaces the one before.
    pub fn seeded(seeds: &'a [SeedCookie]) -> (Jar<'a>, Vec<(usize, Error)>) {
        let now = now();
        let mut refused = Vec::new();
        let mut index: HashMap<Arc<str>, Vec<u32>> = HashMap::new();
        for (i, seed) in seeds.iter().enumerate() {
            let Ok(position) = u32::try_from(i) else {
                refused.push((i, Error::TooManyCookies));
                continue;
            };
            match check_seed(seed, now) {
                Ok(domain) => index.entry(domain).or_default().push(position),
                Err(reason) => refused.push((i, reason)),
            }
        }
        for list in index.values_mut() {
            // The last of equal keys first, so that dedup keeps it.
            list.sort_by(|&a, &b| {
                let (x, y) = (&seeds[a as usize], &seeds[b as usize]);
                (&x.path, &x.name, std::cmp::Reverse(a)).cmp(&(
                    &y.path,
                    &y.name,
                    std::cmp::Reverse(b),
                ))
            });
            list.dedup_by(|later, kept| {
                let (x, y) = (&seeds[*later as usize], &seeds[*kept as usize]);
                x.path == y.path && x.name == y.name
            });
            list.shrink_to_fit();
        }
        let jar = Jar {
            seeds: Cow::Borrowed(seeds),
            index: Arc::new(index),
            ..Jar::default()
        };
        (jar, refused)
    }

    /// Puts `cookie` in the jar. `Err` when the jar refuses it (expired).
    pub fn seed(&mut self, cookie: &SeedCookie) -> Result<(), Error> {
        let domain = check_seed(cookie, now())?;
        let seeds = self.seeds.to_mut();
        let position = u32::try_from(seeds.len()).map_err(|_| Error::TooManyCookies)?;
        seeds.push(cookie.clone());
        let seeds = &self.seeds;
        let list = Arc::make_mut(&mut self.index)
            .entry(Arc::clone(&domain))
            .or_default();
        let key = (&cookie.path, &cookie.name);
        match list.binary_search_by(|&i| {
            let s = &seeds[i as usize];
            (&s.path, &s.name).cmp(&key)
        }) {
            Ok(at) => list[at] = position,
            Err(at) => list.insert(at, position),
        }
        // A seed given after the walk stored the same cookie replaces it.
        self.store.remove(&domain, &cookie.path, &cookie.name);
        Ok(())
    }

    /// The seeds that go to `url`: not replaced, unexpired, and matching
    /// its host, path and scheme as RFC 6265 says (host-only seeds only
    /// their own host).
    fn seeds_for<'s>(&'s self, url: &Url, now: i64) -> Vec<(&'s str, &'s SeedCookie)> {
        let mut out = Vec::new();
        let Some(host) = url.host_str() else {
            return out;
        };
        let host = reach_http_probe::unbracket(host);
        let is_name = matches!(url.host(), Some(url::Host::Domain(_)));
        let secure = secure_origin(url, Judge::CookieStore);
        let mut domain = host;
        loop {
            if let Some((key, list)) = self.index.get_key_value(domain) {
                for &i in list {
                    let seed = &self.seeds[i as usize];
                    let usable = !self.replaced.contains(&i)
                        && (seed.include_subdomains || domain == host)
                        && seed.expires.is_none_or(|at| at > now)
                        && (!seed.secure || secure)
                        && path_matches(&seed.path, url.path());
                    if usable {
                        out.push((&**key, seed));
                    }
                }
            }
            match domain.split_once('.') {
                Some((_, parent)) if is_name && !parent.is_empty() => domain = parent,
                _ => break,
            }
        }
        out
    }

    /// What a request to `url` in `context` carries, and the cookies a
    /// browser holds back from it.
    pub fn outgoing(&self, url: &Url, context: Context) -> Outgoing {
        let now = now();
        let stored = self.store.matches(url);
        let mut matched: Vec<Candidate<'_>> = stored
            .iter()
            .map(|c| Candidate {
                name: c.name(),
                value: c.value(),
                domain: domain_of(&c.domain),
                path: c.path.as_ref(),
                same_site: c.same_site(),
                secure: c.secure().unwrap_or(false),
                known: self.known_of(c),
            })
            .collect();
        matched.extend(self.seeds_for(url, now).into_iter().map(|(domain, seed)| {
            Candidate {
                name: &seed.name,
                value: &seed.value,
                domain: domain.to_owned(),
                path: &seed.path,
                same_site: seed.same_site,
                secure: seed.secure,
                known: seed
                    .created
                    .map_or(Known::No, |created| Known::Yes { created }),
            }
        }));
        // Chromium's order: longer paths first, then older cookies.
        matched.sort_by(|a, b| {
            let created = |c: &Candidate<'_>| match c.known {
                Known::Yes { created } => created,
                Known::No => i64::MIN,
            };
            (std::cmp::Reverse(a.path.len()), created(a), a.name).cmp(&(
                std::cmp::Reverse(b.path.len()),
                created(b),
                b.name,
            ))
        });
        let mut out = Outgoing::default();
        let mut pairs = Vec::new();
        for c in matched {
            let sent = SentCookie {
                name: c.name.to_owned(),
                domain: c.domain,
                same_site: c.same_site.map(|s| s.to_string()),
                secure: c.secure,
            };
            if let Some(reason) = withhold_reason(c.same_site, c.known, context, now) {
                out.withheld.push(CookieWithheld {
                    name: sent.name,
                    domain: sent.domain,
                    reason,
                });
            } else {
                pairs.push(format!("{}={}", c.name, c.value));
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

    /// A `Set-Cookie` replaced (or deleted) the seed of this domain, path
    /// and name, if there is one.
    fn replace_seed(&mut self, domain: &str, path: &str, name: &str) {
        let Some(list) = self.index.get(domain) else {
            return;
        };
        let seeds = &self.seeds;
        if let Ok(at) = list.binary_search_by(|&i| {
            let s = &seeds[i as usize];
            (&*s.path, &*s.name).cmp(&(path, name))
        }) {
            self.replaced.insert(list[at]);
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
                self.replace_seed(&key.0, &key.1, &key.2);
                self.known.insert(key, Known::Yes { created: now() });
            }
            // An expired cookie deletes the one it names.
            Err(cookie_store::CookieError::Expired) => {
                self.replace_seed(&key.0, &key.1, &key.2);
            }
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

    /// Every unexpired cookie: names and domains; the seeds first, by
    /// domain, path and name.
    pub fn names(&self) -> Vec<CookieName> {
        let now = now();
        let mut domains: Vec<(&Arc<str>, &Vec<u32>)> = self.index.iter().collect();
        domains.sort_unstable_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::new();
        for (domain, list) in domains {
            for &i in list {
                let seed = &self.seeds[i as usize];
                if !self.replaced.contains(&i) && seed.expires.is_none_or(|at| at > now) {
                    out.push(CookieName {
                        name: seed.name.to_string(),
                        domain: domain.to_string(),
                    });
                }
            }
        }
        out.extend(self.store.iter_unexpired().map(|c| CookieName {
            name: c.name().to_owned(),
            domain: domain_of(&c.domain),
        }));
        out
    }
}

/// Why Chromium does not send a cookie in `context`, or `None` when it
/// does.
fn withhold_reason(
    same_site: Option<cookie::SameSite>,
    known: Known,
    context: Context,
    now: i64,
) -> Option<String> {
    if context.same_site {
        return None;
    }
    let method = if context.safe_method { "GET" } else { "POST" };
    match same_site {
        Some(cookie::SameSite::None) => None,
        Some(cookie::SameSite::Strict) => Some(format!(
            "SameSite=Strict: not sent on a cross-site {method}"
        )),
        Some(cookie::SameSite::Lax) => {
            (!context.safe_method).then(|| "SameSite=Lax: not sent on a cross-site POST".into())
        }
        None => match known {
            Known::No => None,
            Known::Yes { .. } if context.safe_method => None,
            Known::Yes { created } if now - created < LAX_POST_ALLOWANCE_SECS => None,
            Known::Yes { .. } => Some(
                "no SameSite attribute (Lax by default) and older than two minutes: not sent on a cross-site POST"
                    .into(),
            ),
        },
    }
}

/// Whose judgement of a secure origin applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Judge {
    /// `cookie_store`'s, which matches the stored cookies to a request:
    /// the seeds are matched the same way.
    CookieStore,
    /// Chromium's, when it decides whether to store a cookie: names under
    /// `.localhost` are secure too.
    Chromium,
}

/// Whether `url` is a secure origin, which may set and receive `Secure`
/// cookies: https, or plain HTTP to `localhost` or a loopback address.
fn secure_origin(url: &Url, judge: Judge) -> bool {
    url.scheme() == "https"
        || match url.host() {
            Some(url::Host::Domain(d)) => {
                d == "localhost" || (judge == Judge::Chromium && d.ends_with(".localhost"))
            }
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            None => false,
        }
}

/// RFC 6265 §5.1.4: the cookie's path is the request's, or a prefix of it
/// that ends with `/` or is followed by `/`.
fn path_matches(cookie_path: &str, request_path: &str) -> bool {
    let request_path = if request_path.is_empty() {
        "/"
    } else {
        request_path
    };
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/')
                || request_path.as_bytes().get(cookie_path.len()) == Some(&b'/')))
}

/// Why Chromium refuses to store `cookie` received from `url`.
fn refusal(cookie: &cookie_store::Cookie<'_>, url: &Url) -> Option<String> {
    let secure = cookie.secure().unwrap_or(false);
    if cookie.same_site() == Some(cookie::SameSite::None) && !secure {
        return Some("SameSite=None without Secure".to_owned());
    }
    let secure_origin = secure_origin(url, Judge::Chromium);
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
        assert!(matches!(
            jar.seed(&cookies[1]).unwrap_err(),
            Error::Expired { .. }
        ));
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

    /// Seeds are borrowed, not copied: the last of equal cookies counts,
    /// refused ones are named by index, and a `Set-Cookie` of the same
    /// domain, path and name replaces or deletes a seed.
    #[test]
    fn seeds_are_replaced_as_stored_cookies_are() {
        let (seeds, _) = parse_cookies_txt(
            "j",
            "app.example\tFALSE\t/\tFALSE\t0\tsid\tfirst\n\
             .app.example\tTRUE\t/\tFALSE\t0\tsid\tsecond\n\
             app.example\tFALSE\t/\tFALSE\t1000\tgone\tx\n\
             .app.example\tTRUE\t/\tFALSE\t0\tpref\tdark\n\
             App.Example\tFALSE\t/deep\tTRUE\t0\tdeep\td\n",
        );
        let (mut jar, refused) = Jar::seeded(&seeds);
        assert_eq!(refused.len(), 1);
        assert_eq!(refused[0].0, 2);
        assert!(matches!(refused[0].1, Error::Expired { .. }), "{refused:?}");
        let header = |jar: &Jar<'_>, s: &str| jar.outgoing(&url(s), SAME).header;
        assert_eq!(
            header(&jar, "http://www.app.example/").as_deref(),
            Some("pref=dark; sid=second")
        );
        // Secure and path-matched; longer paths first.
        assert_eq!(
            header(&jar, "https://app.example/deep/x").as_deref(),
            Some("deep=d; pref=dark; sid=second")
        );
        assert_eq!(
            header(&jar, "http://app.example/deep").as_deref(),
            Some("pref=dark; sid=second")
        );
        assert_eq!(
            header(&jar, "http://app.example/deeper").as_deref(),
            Some("pref=dark; sid=second")
        );
        let names: Vec<String> = jar.names().into_iter().map(|c| c.name).collect();
        assert_eq!(names, ["pref", "sid", "deep"]);
        let from = url("http://app.example/");
        assert!(
            jar.store("sid=third; Path=/", &from)
                .unwrap()
                .refused
                .is_none()
        );
        assert!(
            jar.store("pref=x; Path=/; Max-Age=0", &from)
                .unwrap()
                .refused
                .is_none()
        );
        assert_eq!(
            header(&jar, "http://app.example/").as_deref(),
            Some("sid=third")
        );
        // The clone the walk takes shares the seeds and keeps its own changes.
        let (fresh, _) = Jar::seeded(&seeds);
        let copy = fresh.clone();
        assert!(!copy.names().is_empty());
        assert_eq!(
            header(&copy, "http://app.example/").as_deref(),
            Some("pref=dark; sid=second")
        );
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
        browser_old.name = "stale".into();
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
        let reasons: Vec<(String, String)> =
            withheld.into_iter().map(|w| (w.name, w.reason)).collect();
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
