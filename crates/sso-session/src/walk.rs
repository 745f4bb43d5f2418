//! One walk of a login chain: a [`Walker`] sends a hop, records what it
//! sent and received (cookies, the protocol messages in its URL or form),
//! and decides what a browser would do next: follow a redirect, a meta
//! refresh or a self-submitting form, or stop. When to stop regardless of
//! the page (too many hops, a loop) and the https-to-http downgrade are
//! the [`RedirectPolicy`]'s, in one place.

use std::collections::HashSet;

use http::{HeaderName, HeaderValue, Method};
use reach_http_probe::redirect::{self, Redirects, Stop};
use reach_http_probe::{HopOptions, HopResult, Network};
use reach_report::endpoint::HttpPhase;
use reach_report::sso::{CookieWithheld, SsoHop};
use reach_report::{Code, Finding};
use url::Url;

use crate::html::{self, Page};
use crate::idp::{self, Idp};
use crate::jar::{Context, Jar, Outgoing};
use crate::tokens::{self, SamlResponse, SamlStatus};
use crate::{Authorize, Chain, Sending, SsoOptions};

/// How the walker reached a hop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Start,
    Redirect,
    MetaRefresh,
    FormPost,
    FormGet,
}

impl Via {
    fn name(self) -> &'static str {
        match self {
            Via::Start => "start",
            Via::Redirect => "redirect",
            Via::MetaRefresh => "meta_refresh",
            Via::FormPost => "form_post",
            Via::FormGet => "form_get",
        }
    }
}

/// The next request.
struct Next {
    url: Url,
    method: Method,
    fields: Vec<(String, String)>,
    via: Via,
    /// The page that started this navigation; `None` for the start URL
    /// (typed in the address bar).
    initiator: Option<Url>,
    /// The URLs this navigation was redirected through so far.
    redirects: Vec<Url>,
}

impl Next {
    /// The start URL, typed in the address bar.
    fn start(url: &Url) -> Next {
        Next {
            url: url.clone(),
            method: Method::GET,
            fields: Vec::new(),
            via: Via::Start,
            initiator: None,
            redirects: Vec::new(),
        }
    }

    /// A GET (a meta refresh) or a form's submission started by the page
    /// at `from`: a new navigation.
    fn from_page(url: Url, from: &Url, post: Option<Vec<(String, String)>>, via: Via) -> Next {
        let (method, fields) = match post {
            Some(fields) => (Method::POST, fields),
            None => (Method::GET, Vec::new()),
        };
        Next {
            url,
            method,
            fields,
            via,
            initiator: Some(from.clone()),
            redirects: Vec::new(),
        }
    }

    /// The form-encoded fields of a POST; empty for a GET.
    fn body(&self) -> String {
        if self.method == Method::POST {
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.fields)
                .finish()
        } else {
            String::new()
        }
    }

    /// Where a 3xx with `Location` at `url` sends this request: 303, and
    /// 301/302 after a POST, become a GET; the others keep the method and
    /// the fields. Still the same navigation.
    fn redirected(&self, status: u16, url: Url) -> Next {
        let method = redirect::method_after(status, &self.method);
        let fields = if method == Method::POST {
            self.fields.clone()
        } else {
            Vec::new()
        };
        let mut redirects = self.redirects.clone();
        redirects.push(self.url.clone());
        Next {
            url,
            method,
            fields,
            via: Via::Redirect,
            initiator: self.initiator.clone(),
            redirects,
        }
    }
}

/// Where the chain ended: its kind (`login_page`, `redirect_loop`, …),
/// the hop (1-based) and URL.
struct End {
    kind: &'static str,
    hop: usize,
    url: String,
}

impl End {
    fn at(kind: &'static str, hop: usize, url: &Url) -> End {
        End {
            kind,
            hop,
            url: url.to_string(),
        }
    }
}

/// The messages that mark a callback.
const CALLBACK_PARAMS: &[&str] = &["code", "SAMLResponse", "id_token", "access_token"];

/// When a chain of navigations stops whatever the pages say, and what it
/// flags on the way: http-probe's redirect rules ([`Redirects`]: at most
/// `max_hops` requests, never the same request twice with the same
/// cookies), worded as `sso.*` findings, and the first hop that leaves
/// https for http (a downgrade, flagged once; the walk goes on).
struct RedirectPolicy {
    max_hops: usize,
    requests: Redirects,
    downgraded: bool,
}

impl RedirectPolicy {
    fn new(max_hops: usize) -> Self {
        RedirectPolicy {
            max_hops,
            requests: Redirects::new(max_hops),
            downgraded: false,
        }
    }

    /// Records hop `index`'s request, or gives the finding and the end when it
    /// repeats an earlier one (`sso.redirect_loop`: a URL visited again
    /// with other cookies is progress, signed in since) or would be one
    /// hop too many (`sso.too_many_redirects`).
    fn admit(
        &mut self,
        index: usize,
        step: &Next,
        body: &str,
        cookie: Option<&str>,
    ) -> Option<(Finding, End)> {
        let refused = self
            .requests
            .admit(&step.method, &step.url, body.as_bytes(), cookie)
            .err()?;
        Some(match refused {
            Stop::Loop { url, .. } => (
                Finding::new(
                    Code::SsoRedirectLoop,
                    format!(
                        "hop {index} repeats an earlier request ({} {url}) with the same cookies",
                        step.method
                    ),
                )
                .with("url", url.as_str())
                .with("hop", index),
                End {
                    kind: "redirect_loop",
                    hop: index - 1,
                    url,
                },
            ),
            Stop::TooMany => (
                Finding::new(
                    Code::SsoTooManyRedirects,
                    format!(
                        "the chain did not end within {} (next: {} {})",
                        reach_report::count(self.max_hops as u64, "hop", "hops"),
                        step.method,
                        step.url
                    ),
                )
                .with("max_hops", self.max_hops)
                .with("next_url", step.url.as_str()),
                End::at("too_many_redirects", index - 1, &step.url),
            ),
        })
    }

    /// `sso.https_downgrade` for the first hop from an https page to an
    /// http URL.
    fn downgrade(&mut self, index: usize, previous: Option<&Url>, to: &Url) -> Option<Finding> {
        let from = previous?;
        if !redirect::downgrades(from, to) || self.downgraded {
            return None;
        }
        self.downgraded = true;
        Some(
            Finding::new(
                Code::SsoHttpsDowngrade,
                format!("hop {index} leaves https for {to}"),
            )
            .with("from", from.as_str())
            .with("to", to.as_str())
            .with("hop", index),
        )
    }
}

/// Walks the chain from `options.start` with `jar`.
pub async fn walk(
    options: &SsoOptions,
    jar: Jar<'_>,
    network: &Network,
    sending: Sending,
) -> Chain {
    let mut walker = Walker::new(options, jar, network, sending);
    let mut step = Next::start(&options.start);
    let end = loop {
        match walker.hop(step).await {
            Ok(next) => step = next,
            Err(end) => break end,
        }
    };
    walker.finish(end)
}

/// One walk in progress: the chain so far, the jar, and what the next hops
/// need to know of the earlier ones.
struct Walker<'w, 'j> {
    network: &'w Network,
    sending: Sending,
    jar: Jar<'j>,
    /// Body bytes read at most per response.
    body_cap: u64,
    expiry_warn_days: i64,
    /// The whole chain's.
    deadline: tokio::time::Instant,
    policy: RedirectPolicy,
    chain: Chain,
    /// The URL of the last hop that answered.
    previous: Option<Url>,
    /// The errors (`error=`, SAML status codes) already flagged.
    errors_flagged: HashSet<String>,
}

/// What a hop's request carried and what it received.
struct Sent {
    index: usize,
    step: Next,
    idp: Option<Idp>,
    cookie_names: Vec<String>,
    withheld: Vec<CookieWithheld>,
    result: HopResult,
}

impl Sent {
    /// The hop as the report shows it, before its response is read.
    fn record(&mut self) -> SsoHop {
        let step = &self.step;
        SsoHop {
            index: self.index,
            via: step.via.name().to_owned(),
            method: step.method.to_string(),
            url: step.url.to_string(),
            status: None,
            idp: self.idp.map(|i| i.name().to_owned()),
            cookies_sent: self.cookie_names.clone(),
            cookies_withheld: std::mem::take(&mut self.withheld),
            cookies_set: Vec::new(),
            page: String::new(),
            title: None,
            form_fields: step.fields.iter().map(|(k, _)| k.clone()).collect(),
            network: std::mem::take(&mut self.result.hop),
        }
    }
}

impl<'w, 'j> Walker<'w, 'j> {
    fn new(options: &SsoOptions, jar: Jar<'j>, network: &'w Network, sending: Sending) -> Self {
        let deadline = tokio::time::Instant::now() + options.timeout;
        Walker {
            network,
            sending,
            jar,
            body_cap: options.body_cap,
            expiry_warn_days: options.expiry_warn_days,
            deadline,
            policy: RedirectPolicy::new(options.max_hops),
            chain: Chain::default(),
            previous: None,
            errors_flagged: HashSet::new(),
        }
    }

    /// Makes the request `step` and records it as the next hop: the next
    /// request a browser would make, or where the chain ends.
    async fn hop(&mut self, step: Next) -> Result<Next, End> {
        let index = self.chain.hops.len() + 1;
        let mut sent = self.send(index, step).await?;
        let mut hop = sent.record();
        let error = self.read_messages(&sent, &mut hop);
        let next = self.answer(sent, &mut hop, error.is_some());
        self.chain.hops.push(hop);
        next
    }

    /// Sends hop `index` unless the policy stops the chain first.
    async fn send(&mut self, index: usize, step: Next) -> Result<Sent, End> {
        let body = step.body();
        let outgoing = self.jar.outgoing(&step.url, self.context(&step));
        if let Some((finding, end)) =
            self.policy
                .admit(index, &step, &body, outgoing.header.as_deref())
        {
            self.chain.findings.push(finding);
            return Err(end);
        }
        if let Some(finding) = self
            .policy
            .downgrade(index, self.previous.as_ref(), &step.url)
        {
            self.chain.findings.push(finding);
        }
        let headers = self.headers(&step, &outgoing);
        let request = HopOptions {
            method: step.method.clone(),
            headers: &headers,
            body: body.as_bytes(),
            body_cap: self.body_cap,
            keep_body: true,
            expiry_warn_days: self.expiry_warn_days,
            deadline: self.deadline,
        };
        let result = reach_http_probe::hop(&step.url, &request, self.network).await;
        let cookie_names: Vec<String> = outgoing.sent.iter().map(|c| c.name.clone()).collect();
        let field_names: Vec<String> = step.fields.iter().map(|(k, _)| k.clone()).collect();
        let idp = idp::recognise(&step.url, &cookie_names, &field_names);
        Ok(Sent {
            index,
            step,
            idp,
            cookie_names,
            withheld: outgoing.withheld,
            result,
        })
    }

    /// The cookie rules the request `step` is judged by.
    fn context(&self, step: &Next) -> Context {
        match self.sending {
            Sending::AsBrowser => Context::navigation(
                &step.url,
                step.initiator.as_ref(),
                &step.redirects,
                &step.method,
            ),
            Sending::Everything => Context {
                same_site: true,
                safe_method: true,
            },
        }
    }

    /// A browser's request headers, with the jar's cookies; a POST's
    /// `Content-Type` and `Origin` (the page that posted it).
    fn headers(&self, step: &Next, outgoing: &Outgoing) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers: Vec<(HeaderName, HeaderValue)> = vec![
            (
                http::header::ACCEPT,
                HeaderValue::from_static("text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"),
            ),
            (
                http::header::USER_AGENT,
                HeaderValue::from_static(concat!(
                    "Mozilla/5.0 (compatible; reach/",
                    env!("CARGO_PKG_VERSION"),
                    ")"
                )),
            ),
        ];
        if let Some(cookie) = &outgoing.header
            && let Ok(value) = HeaderValue::from_str(cookie)
        {
            headers.push((http::header::COOKIE, value));
        }
        if step.method == Method::POST {
            headers.push((
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            ));
            if let Some(prev) = &self.previous
                && let Ok(origin) = HeaderValue::from_str(&prev.origin().ascii_serialization())
            {
                headers.push((http::header::ORIGIN, origin));
            }
        }
        headers
    }

    /// What the hop's URL or posted form carries: the first authorize
    /// request, an identity provider's error (each flagged once), a
    /// callback, the account it names, the cookies sent to the provider.
    /// The error, if any.
    fn read_messages(&mut self, sent: &Sent, hop: &mut SsoHop) -> Option<String> {
        let (index, step) = (sent.index, &sent.step);
        let mut params = idp::url_params(&step.url);
        params.extend(step.fields.iter().cloned());
        self.note_authorize(index, step);
        // Each SAMLResponse decoded once: its status, then its assertion.
        let saml: Vec<Option<SamlResponse>> = params
            .iter()
            .map(|(k, v)| {
                if k == "SAMLResponse" {
                    SamlResponse::decode(v)
                } else {
                    None
                }
            })
            .collect();
        let saml_status = params
            .iter()
            .position(|(k, _)| k == "SAMLResponse")
            .and_then(|i| saml[i].as_ref())
            .and_then(SamlResponse::status);
        let error = self.idp_error(index, &step.url, &params, saml_status);
        let is_callback = error.is_none()
            && params
                .iter()
                .any(|(k, v)| CALLBACK_PARAMS.contains(&k.as_str()) && !v.is_empty())
            && !idp::is_authorize(&step.url);
        if is_callback && self.chain.end.callback_hop.is_none() {
            self.chain.end.callback_hop = Some(index);
            mark(hop, "callback");
        }
        if self.chain.identity.is_none() {
            self.chain.identity =
                params
                    .iter()
                    .zip(&saml)
                    .find_map(|((k, v), saml)| match k.as_str() {
                        "id_token" => tokens::from_id_token(v, index),
                        "SAMLResponse" => saml.as_ref().and_then(|r| r.identity(index)),
                        _ => None,
                    });
        }
        if let Some(idp) = sent.idp
            && !sent.cookie_names.is_empty()
            && self.chain.end.callback_hop.is_none()
        {
            self.chain
                .idp_cookies
                .push((idp, sent.cookie_names.clone()));
        }
        error
    }

    /// Keeps the chain's first authorize request (OIDC) or `AuthnRequest`
    /// (SAML, by redirect or by a self-submitting form).
    fn note_authorize(&mut self, index: usize, step: &Next) {
        let saml_request = step.fields.iter().any(|(k, _)| k == "SAMLRequest");
        if (idp::is_authorize(&step.url) || idp::is_saml_request(&step.url) || saml_request)
            && self.chain.authorize.is_none()
        {
            self.chain.authorize = Some(Authorize {
                url: step.url.clone(),
                fields: if saml_request {
                    step.fields.clone()
                } else {
                    Vec::new()
                },
                hop: index,
            });
        }
    }

    /// The error an identity provider answered with (`error=`, or the
    /// failed `saml_status` of the first `SAMLResponse`), flagged as
    /// `sso.idp_error` the first time it is seen.
    fn idp_error(
        &mut self,
        index: usize,
        url: &Url,
        params: &[(String, String)],
        saml_status: Option<SamlStatus>,
    ) -> Option<String> {
        let saml_error = saml_status.filter(|status| !status.is_success());
        if let Some(status) = &saml_error {
            let codes = status.codes.join(" / ");
            if self.errors_flagged.insert(codes) {
                self.chain.findings.push(
                    Finding::new(
                        Code::SsoIdpError,
                        format!(
                            "the identity provider answered with SAML status {}{}{} (hop {index})",
                            status
                                .codes
                                .iter()
                                .map(|c| format!("`{c}`"))
                                .collect::<Vec<_>>()
                                .join(" / "),
                            status
                                .message
                                .as_deref()
                                .map(|m| format!(": \"{}\"", m.trim_end_matches('.')))
                                .unwrap_or_default(),
                            if status.has_assertion {
                                ""
                            } else {
                                ", and no assertion"
                            }
                        ),
                    )
                    .with("status_codes", &status.codes)
                    .with("status_message", status.message.clone())
                    .with("hop", index)
                    .with("url", url.as_str()),
                );
            }
        }
        let error = params
            .iter()
            .find(|(k, _)| k == "error")
            .map(|(_, v)| v.clone())
            .or_else(|| saml_error.map(|s| s.codes.join(" / ")));
        if let Some(error) = &error
            && self.errors_flagged.insert(error.clone())
        {
            let description = params
                .iter()
                .find(|(k, _)| k == "error_description")
                .map(|(_, v)| v.clone());
            self.chain.findings.push(
                Finding::new(
                    Code::SsoIdpError,
                    format!(
                        "the identity provider answered error={error}{} (hop {index})",
                        description
                            .as_deref()
                            .map(|d| format!(": {d}"))
                            .unwrap_or_default()
                    ),
                )
                .with("error", error)
                .with("error_description", description)
                .with("hop", index)
                .with("url", url.as_str()),
            );
        }
        error
    }

    /// Reads the hop's response: the network's findings and the cookies
    /// it set, then what a browser does next: follow a redirect, a meta
    /// refresh or a self-submitting form, or stop.
    fn answer(&mut self, sent: Sent, hop: &mut SsoHop, idp_error: bool) -> Result<Next, End> {
        let Sent {
            index,
            step,
            idp,
            result,
            ..
        } = sent;
        let Some(http) = hop.network.http.clone() else {
            // DNS, TCP, proxy or TLS failed: the hop's own findings say how.
            let host = step.url.host_str().unwrap_or("").to_owned();
            let phase = result
                .findings
                .first()
                .map_or_else(|| "connect".to_owned(), |f| f.code.area().to_owned());
            self.chain.findings.push(
                Finding::new(
                    Code::SsoUnreachableHop,
                    format!("hop {index}: {host} cannot be reached ({phase} phase failed)"),
                )
                .with("host", &host)
                .with("phase", &phase)
                .with("hop", index),
            );
            self.chain.findings.extend(result.findings);
            mark(hop, "unreachable");
            return Err(End::at("unreachable", index, &step.url));
        };
        self.chain.findings.extend(result.findings);
        hop.status = http.status;
        let Some(status) = http.status else {
            // The server was reached but gave no usable response (a head
            // too large, a URL too long to send, a timeout, not HTTP): the
            // hop's own finding says which, and the chain ends here.
            mark(hop, "no_response");
            return Err(End::at("no_response", index, &step.url));
        };
        self.record_cookies(index, &step.url, &http, hop);
        self.previous = Some(step.url.clone());
        let location = http
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("location"))
            .map(|h| h.value.as_str());
        // Browsers (the Fetch standard) follow a Location only with a
        // redirect status: a 300 or 304 with one is a page.
        if redirect::is_redirect(status)
            && let Some(location) = location
        {
            mark(hop, "redirect");
            return self.follow_redirect(index, &step, status, location);
        }
        let text = String::from_utf8_lossy(&result.body);
        let page = html::parse(&text);
        hop.title.clone_from(&page.title);
        if let Some(next) = page_navigation(&step.url, &page, hop) {
            return Ok(next);
        }
        Err(self.stop(hop, status, idp, &page, idp_error))
    }

    /// Stores the cookies the response set (flagging those a browser
    /// refuses) and notes a `WWW-Authenticate: Negotiate`.
    fn record_cookies(&mut self, index: usize, url: &Url, http: &HttpPhase, hop: &mut SsoHop) {
        for header in &http.headers {
            if header.name.eq_ignore_ascii_case("set-cookie")
                && let Some(set) = self.jar.store(&header.value, url)
            {
                if let Some(reason) = &set.refused {
                    self.chain.findings.push(
                        Finding::new(
                            Code::SsoCookieSamesite,
                            format!(
                                "hop {index} sets cookie `{}` with {reason}: browsers refuse to store it, so it is never sent back",
                                set.name
                            ),
                        )
                        .with("cookie_name", &set.name)
                        .with("domain", &set.domain)
                        .with("reason", reason)
                        .with("hop", index),
                    );
                }
                hop.cookies_set.push(set);
            }
            if header.name.eq_ignore_ascii_case("www-authenticate")
                && header.value.trim_start().starts_with("Negotiate")
            {
                self.chain.negotiate = true;
            }
        }
    }

    /// The request a 3xx's `Location` leads to, or the end of the chain
    /// (an error page) when a browser would not follow it.
    fn follow_redirect(
        &mut self,
        index: usize,
        step: &Next,
        status: u16,
        location: &str,
    ) -> Result<Next, End> {
        match redirect_target(&step.url, location) {
            Ok(url) => Ok(step.redirected(status, url)),
            Err(e) => {
                self.chain.findings.push(
                    Finding::new(
                        Code::HttpProtocolError,
                        format!("hop {index} redirects to an invalid Location `{location}`: {e}"),
                    )
                    .with("location", location),
                );
                Err(End::at("error_page", index, &step.url))
            }
        }
    }

    /// Where the chain ends at a page that does nothing by itself: a
    /// sign-in page (it needs a person), an identity provider's error, an
    /// error page, the callback or the application.
    fn stop(
        &mut self,
        hop: &mut SsoHop,
        status: u16,
        idp: Option<Idp>,
        page: &Page,
        idp_error: bool,
    ) -> End {
        let sign_in = page.has_password
            || (status < 400
                && idp.is_some_and(|i| !matches!(i, Idp::Oidc | Idp::Saml))
                && self.chain.end.callback_hop.is_none());
        let kind = if sign_in {
            self.chain.interactive = true;
            "login_page"
        } else if idp_error || !self.errors_flagged.is_empty() {
            "idp_error"
        } else if status >= 400 {
            "error_page"
        } else if self.chain.end.callback_hop == Some(hop.index) {
            "callback"
        } else {
            "app_page"
        };
        if hop.page.is_empty() || hop.page == "callback" && kind != "callback" {
            hop.page.clear();
            mark(
                hop,
                if kind == "idp_error" {
                    "error_page"
                } else {
                    kind
                },
            );
        }
        End {
            kind,
            hop: hop.index,
            url: hop.url.clone(),
        }
    }

    /// The chain, with where it ended and the summary of that.
    fn finish(self, end: End) -> Chain {
        let mut chain = self.chain;
        chain.end.summary = summary(&chain, end.kind, end.hop);
        end.kind.clone_into(&mut chain.end.kind);
        chain.end.hop = end.hop;
        chain.end.url = end.url;
        chain
    }
}

/// Why a browser does not follow a `Location`.
#[derive(Debug, thiserror::Error)]
enum Unfollowable {
    #[error("{0}")]
    NotAUrl(url::ParseError),
    #[error("not an http(s) URL with a host")]
    NotHttp,
}

/// A `Location` as a browser follows it: resolved against the request's
/// URL, and only to an http(s) URL with a host (`javascript:`, `//` and
/// the like end the chain); why not otherwise.
fn redirect_target(base: &Url, location: &str) -> Result<Url, Unfollowable> {
    let url = base.join(location.trim()).map_err(Unfollowable::NotAUrl)?;
    if followable(&url) && !location.trim().is_empty() {
        Ok(url)
    } else {
        Err(Unfollowable::NotHttp)
    }
}

/// The navigation a page at `from` starts by itself: a meta refresh, or
/// a form that submits itself.
fn page_navigation(from: &Url, page: &Page, hop: &mut SsoHop) -> Option<Next> {
    if let Some(target) = page
        .refresh
        .as_deref()
        .and_then(|r| from.join(r).ok())
        .filter(followable)
    {
        mark(hop, "meta_refresh");
        return Some(Next::from_page(target, from, None, Via::MetaRefresh));
    }
    let form = page.auto_submit_form()?;
    let action = form
        .action
        .as_deref()
        .filter(|a| !a.trim().is_empty())
        .map_or_else(|| Ok(from.clone()), |a| from.join(a.trim()));
    let mut url = action.ok().filter(followable)?;
    mark(hop, "auto_submit_form");
    let post = form.method == "POST";
    if post {
        Some(Next::from_page(
            url,
            from,
            Some(form.fields.clone()),
            Via::FormPost,
        ))
    } else {
        url.query_pairs_mut().clear().extend_pairs(&form.fields);
        Some(Next::from_page(url, from, None, Via::FormGet))
    }
}

/// Whether a browser would go there on its own: an http(s) URL with a
/// host (never `javascript:`, `data:`, `file:`, …).
fn followable(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https") && url.host_str().is_some_and(|h| !h.is_empty())
}

/// Sets what a hop's response is, unless already known.
fn mark(hop: &mut SsoHop, page: &str) {
    if hop.page.is_empty() {
        page.clone_into(&mut hop.page);
    }
}

/// `callback with code after 2 hops, then the app page`.
fn summary(chain: &Chain, kind: &str, at: usize) -> String {
    let hops = |n: usize| reach_report::count(n as u64, "hop", "hops");
    let hop = chain.hops.get(at.saturating_sub(1));
    let callback = chain.end.callback_hop.map(|c| {
        let what = chain
            .hops
            .get(c - 1)
            .and_then(|h| {
                let url = Url::parse(&h.url).ok()?;
                let mut names: Vec<String> =
                    idp::url_params(&url).into_iter().map(|(k, _)| k).collect();
                names.extend(h.form_fields.iter().cloned());
                CALLBACK_PARAMS
                    .iter()
                    .find(|p| names.iter().any(|n| n == *p))
                    .map(|p| (*p).to_owned())
            })
            .unwrap_or_else(|| "code".to_owned());
        format!("callback with {what} after {}", hops(c))
    });
    let place = || {
        let title = hop.and_then(|h| h.title.clone());
        let idp = hop.and_then(|h| h.idp.clone());
        match (idp, title) {
            (Some(idp), Some(title)) => format!("{idp} page \"{title}\""),
            (Some(idp), None) => format!("{idp} page"),
            (None, Some(title)) => format!("\"{title}\""),
            (None, None) => hop.map(|h| h.url.clone()).unwrap_or_default(),
        }
    };
    match kind {
        "login_page" => format!("sign-in page after {}: {}", hops(at), place()),
        "callback" | "app_page" => match callback {
            Some(c) if kind == "callback" => c,
            Some(c) => format!("{c}, then the app page {}", place()),
            None => format!(
                "app page after {} without a callback: {}",
                hops(at),
                place()
            ),
        },
        "idp_error" => format!("identity provider error after {}: {}", hops(at), place()),
        "error_page" => format!(
            "error page ({}) after {}: {}",
            hop.and_then(|h| h.status).unwrap_or(0),
            hops(at),
            place()
        ),
        "unreachable" => format!(
            "hop {at} unreachable: {}",
            hop.and_then(|h| Url::parse(&h.url).ok())
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default()
        ),
        "redirect_loop" => format!("a redirect loop after {}", hops(at)),
        "no_response" => format!(
            "no usable response at hop {at}: {}",
            hop.and_then(|h| Url::parse(&h.url).ok())
                .and_then(|u| u.host_str().map(str::to_owned))
                .unwrap_or_default()
        ),
        _ => format!("no end within {}", hops(at)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(url: &str) -> Next {
        Next::start(&Url::parse(url).unwrap())
    }

    #[test]
    fn the_policy_stops_at_the_limit_and_at_a_loop() {
        let mut policy = RedirectPolicy::new(2);
        let step = get("https://idp.example/a#frag");
        assert!(policy.admit(1, &step, "", Some("sid=1")).is_none());
        // Other cookies: progress, not a loop.
        assert!(policy.admit(2, &step, "", Some("sid=2")).is_none());
        // The same request without its fragment, the same cookies: a loop,
        // named before the limit.
        let again = get("https://idp.example/a");
        let (finding, end) = policy.admit(3, &again, "", Some("sid=1")).unwrap();
        assert_eq!(finding.code, Code::SsoRedirectLoop);
        assert_eq!(
            (end.kind, end.hop, end.url.as_str()),
            ("redirect_loop", 2, "https://idp.example/a")
        );
        let (finding, end) = policy
            .admit(3, &get("https://idp.example/b"), "", None)
            .unwrap();
        assert_eq!(finding.code, Code::SsoTooManyRedirects);
        assert_eq!((end.kind, end.hop), ("too_many_redirects", 2));
    }

    #[test]
    fn the_policy_flags_the_first_downgrade_only() {
        let mut policy = RedirectPolicy::new(20);
        let https = Url::parse("https://app.example/").unwrap();
        let http = Url::parse("http://app.example/next").unwrap();
        assert!(policy.downgrade(1, None, &http).is_none());
        assert!(policy.downgrade(2, Some(&http), &https).is_none());
        let finding = policy.downgrade(3, Some(&https), &http).unwrap();
        assert_eq!(finding.code, Code::SsoHttpsDowngrade);
        assert!(policy.downgrade(4, Some(&https), &http).is_none());
    }

    #[test]
    fn redirects_change_the_method_as_browsers_do() {
        let mut post = get("https://idp.example/sso");
        post.method = Method::POST;
        post.fields = vec![("SAMLResponse".to_owned(), "x".to_owned())];
        let to = Url::parse("https://app.example/acs").unwrap();
        for (status, method, fields) in [
            (302, Method::GET, 0),
            (303, Method::GET, 0),
            (307, Method::POST, 1),
            (308, Method::POST, 1),
        ] {
            let next = post.redirected(status, to.clone());
            assert_eq!(
                (next.method, next.fields.len()),
                (method, fields),
                "{status}"
            );
            assert_eq!(next.redirects, [post.url.clone()]);
            assert_eq!(next.via, Via::Redirect);
        }
        assert_eq!(
            redirect_target(&post.url, "javascript:alert(1)")
                .unwrap_err()
                .to_string(),
            "not an http(s) URL with a host"
        );
        assert_eq!(
            redirect_target(&post.url, "http://[::1")
                .unwrap_err()
                .to_string(),
            url::ParseError::InvalidIpv6Address.to_string()
        );
        assert!(redirect_target(&post.url, " ").is_err());
        assert_eq!(
            redirect_target(&post.url, "/next").unwrap().as_str(),
            "https://idp.example/next"
        );
    }
}
