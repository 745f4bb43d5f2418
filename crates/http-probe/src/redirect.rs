//! Following redirects: the rules `reach check -L` and the SSO walker
//! share. A loop is a repeated request: the same method, URL (without its
//! fragment, which is never sent), body and cookies, so that a URL asked
//! again once a sign-in has set a cookie is progress, not a loop; a chain
//! has a most number of requests; 303 and a POST's 301/302 become GETs, as
//! browsers and curl do. Each caller words what stopped it with its own
//! finding codes (`http.*` for an endpoint, `sso.*` for a sign-in chain).

use http::Method;
use url::Url;

/// The requests of one chain so far, and its bound.
#[derive(Debug)]
pub struct Redirects {
    made: Vec<Request>,
    /// The most requests the chain may make, the first included.
    most: usize,
}

#[derive(Debug, PartialEq, Eq)]
struct Request {
    method: Method,
    url: String,
    body: Vec<u8>,
    cookies: String,
}

/// Why a chain stops before a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The request repeats an earlier one.
    Loop {
        /// Its URL, without the fragment.
        url: String,
        /// Every request made so far, `METHOD URL`, in order.
        chain: Vec<String>,
    },
    /// The chain has made as many requests as it may.
    TooMany,
}

impl Redirects {
    /// A chain that may make `most` requests, the first included.
    pub fn new(most: usize) -> Redirects {
        Redirects {
            made: Vec::new(),
            most,
        }
    }

    /// Records the next request, or says why it must not be made: a loop
    /// first (the truer cause when both hold), then the bound. `cookies`
    /// is the `Cookie` header it sends, if any.
    pub fn admit(
        &mut self,
        method: &Method,
        url: &Url,
        body: &[u8],
        cookies: Option<&str>,
    ) -> Result<(), Stop> {
        let request = Request {
            method: method.clone(),
            url: without_fragment(url),
            body: body.to_vec(),
            cookies: cookies.unwrap_or_default().to_owned(),
        };
        if self.made.contains(&request) {
            return Err(Stop::Loop {
                url: request.url,
                chain: self
                    .made
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.url))
                    .collect(),
            });
        }
        if self.made.len() >= self.most {
            return Err(Stop::TooMany);
        }
        self.made.push(request);
        Ok(())
    }
}

/// The method of the request a redirect with `status` leads to: 303 makes
/// every method but HEAD a GET, and 301/302 turn a POST into a GET.
pub fn method_after(status: u16, method: &Method) -> Method {
    if (status == 303 && method != Method::HEAD)
        || (matches!(status, 301 | 302) && method == Method::POST)
    {
        Method::GET
    } else {
        method.clone()
    }
}

/// Whether `status` is a redirect that a `Location` is followed for.
pub fn is_redirect(status: u16) -> bool {
    matches!(status, 301 | 302 | 303 | 307 | 308)
}

/// Whether going from `from` to `to` leaves https for plain http.
pub fn downgrades(from: &Url, to: &Url) -> bool {
    from.scheme() == "https" && to.scheme() == "http"
}

/// `url` as sent: without its fragment.
fn without_fragment(url: &Url) -> String {
    let mut u = url.clone();
    u.set_fragment(None);
    u.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn a_loop_is_the_same_request_with_the_same_cookies() {
        let mut r = Redirects::new(10);
        let a = url("https://a.example/x#one");
        assert_eq!(r.admit(&Method::GET, &a, b"", None), Ok(()));
        // Another fragment is the same request.
        let again = r.admit(&Method::GET, &url("https://a.example/x#two"), b"", None);
        assert_eq!(
            again,
            Err(Stop::Loop {
                url: "https://a.example/x".into(),
                chain: vec!["GET https://a.example/x".into()],
            })
        );
        // Another method, body or cookie header is progress.
        assert_eq!(r.admit(&Method::POST, &a, b"", None), Ok(()));
        assert_eq!(r.admit(&Method::POST, &a, b"k=v", None), Ok(()));
        assert_eq!(r.admit(&Method::GET, &a, b"", Some("sid=1")), Ok(()));
        assert_eq!(r.made.len(), 4);
    }

    #[test]
    fn the_bound_counts_requests_and_a_loop_is_named_first() {
        let mut r = Redirects::new(2);
        assert_eq!(r.admit(&Method::GET, &url("http://a/1"), b"", None), Ok(()));
        assert_eq!(r.admit(&Method::GET, &url("http://a/2"), b"", None), Ok(()));
        assert_eq!(
            r.admit(&Method::GET, &url("http://a/3"), b"", None),
            Err(Stop::TooMany)
        );
        assert!(matches!(
            r.admit(&Method::GET, &url("http://a/1"), b"", None),
            Err(Stop::Loop { .. })
        ));
    }

    #[test]
    fn methods_change_as_browsers_change_them() {
        for (status, before, after) in [
            (303, Method::POST, Method::GET),
            (303, Method::PUT, Method::GET),
            (303, Method::HEAD, Method::HEAD),
            (301, Method::POST, Method::GET),
            (302, Method::POST, Method::GET),
            (302, Method::PUT, Method::PUT),
            (307, Method::POST, Method::POST),
            (308, Method::POST, Method::POST),
        ] {
            assert_eq!(method_after(status, &before), after, "{status} {before}");
        }
    }

    #[test]
    fn only_https_to_http_is_a_downgrade() {
        assert!(downgrades(&url("https://a/"), &url("http://a/")));
        assert!(!downgrades(&url("http://a/"), &url("https://a/")));
        assert!(!downgrades(&url("https://a/"), &url("https://b/")));
    }
}
