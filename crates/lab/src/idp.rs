//! The lab's identity provider and the app that signs in with it ([`Lab::idp`](crate::Lab::idp)).
//!
//! One plain HTTP/1.1 listener serves two sites told apart by the `Host` header: the identity provider
//! ([`IDP_HOST`](crate::IDP_HOST), OAuth 2.0 / OIDC authorization and a SAML
//! HTTP-Redirect endpoint) and the app ([`SP_HOST`](crate::SP_HOST)) that starts sign-ins and
//! receives their results. Clients reach both names by mapping them to `127.0.0.1`, so every
//! absolute URL written here uses the listener's own port.
//!
//! Nothing is random and nothing depends on the clock: codes, states and tokens are fixed
//! strings derived from the user name, so tests can compare them verbatim. None of it is
//! secure, on purpose: tokens are unsigned and sessions are the user name in a cookie.

use std::{convert::Infallible, error::Error as StdError, fmt::Write as _, sync::Arc};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, LengthLimitError, Limited};
use hyper::{
    Method, Request, Response, StatusCode,
    body::Body as HttpBody,
    header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, HeaderValue, SET_COOKIE},
    http::request::Parts,
    server::conn::http1,
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use url::form_urlencoded;

use crate::{AS_HOST, IDP_HOST, SP_HOST, authserver::AuthServer, http};

/// Most bytes of a request body read (larger bodies get `413`).
pub(crate) const MAX_BODY: usize = 64 * 1024;
/// The only `client_id` the identity provider knows.
pub(crate) const CLIENT_ID: &str = "lab-app";
/// The password every user signs in with.
pub(crate) const PASSWORD: &str = "secret";
/// Value of the `idp_login_ctx` cookie and of the login form's hidden `ctx` input.
pub(crate) const LOGIN_CTX: &str = "ctx1";
/// The `state` the app sends, and the value of its `sp_state` cookie.
pub(crate) const SP_STATE: &str = "st1";
/// The `RelayState` the app sends with its SAML request.
pub(crate) const RELAY_STATE: &str = "rs1";
/// `exp` of every ID token (and access token): 2100-01-01T00:00:00Z, so it never expires in a test.
pub(crate) const ID_TOKEN_EXP: u64 = 4_102_444_800;
/// `iat` of every ID token (and access token): 2023-11-14T22:13:20Z.
pub(crate) const ID_TOKEN_IAT: u64 = 1_700_000_000;
/// Longest user name `POST /login` accepts.
const MAX_USERNAME: usize = 256;
/// The (fixed, not deflated) `AuthnRequest` the app sends, base64-encoded, as `SAMLRequest`.
const AUTHN_REQUEST: &str = r#"<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="req1" Version="2.0"/>"#;

/// Standard base64 alphabet (RFC 4648 §4).
const BASE64_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
/// URL- and file-name-safe base64 alphabet (RFC 4648 §5).
const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

pub(crate) type Body = Full<Bytes>;

/// The identity provider, the app and the authorization server, for one listener.
pub(crate) struct Idp {
    /// `http://idp.idp.test:{port}`.
    provider_origin: String,
    /// `http://app.sp.test:{port}`.
    app_origin: String,
    /// The OAuth 2.0 authorization server on [`AS_HOST`].
    auth: AuthServer,
}

/// The parts of a request the routes look at, decoded once.
pub(crate) struct Call {
    method: Method,
    /// The `Host` name, port stripped, lower-cased (empty when the request had none).
    host: String,
    path: String,
    query: Vec<(String, String)>,
    cookies: Vec<(String, String)>,
    /// The first `Authorization` header, when it is text.
    authorization: Option<String>,
    /// The `application/x-www-form-urlencoded` body of a `POST` (empty otherwise).
    form: Vec<(String, String)>,
}

/// How a route treats a request method.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `GET` or `HEAD` (hyper leaves the body out for `HEAD`).
    Get,
    Post,
    Other,
}

impl Idp {
    /// The sites for a listener on `port`.
    pub(crate) fn new(port: u16) -> Self {
        Self {
            provider_origin: format!("http://{IDP_HOST}:{port}"),
            app_origin: format!("http://{SP_HOST}:{port}"),
            auth: AuthServer::new(port),
        }
    }

    /// Reads the request (a `POST` body up to [`MAX_BODY`]) and routes it. Never fails: every
    /// problem is an HTTP status.
    pub(crate) async fn handle<B>(&self, req: Request<B>) -> Response<Body>
    where
        B: HttpBody<Data = Bytes>,
        B::Error: Into<Box<dyn StdError + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let mut call = Call::new(&parts);
        if parts.method == Method::POST {
            let (status, message) = match Limited::new(body, MAX_BODY).collect().await {
                Ok(collected) => {
                    call.form = parse_pairs(&collected.to_bytes());
                    return self.route(&call);
                }
                Err(e) if e.is::<LengthLimitError>() => {
                    (StatusCode::PAYLOAD_TOO_LARGE, "request body too large")
                }
                Err(_) => (StatusCode::BAD_REQUEST, "unreadable request body"),
            };
            return if call.host == AS_HOST {
                self.auth.body_error(&call, status, message)
            } else {
                error_page(status, message)
            };
        }
        self.route(&call)
    }

    /// Picks the site by host name.
    fn route(&self, call: &Call) -> Response<Body> {
        match call.host.as_str() {
            IDP_HOST => self.idp(call),
            SP_HOST => self.app(call),
            AS_HOST => self.auth.route(call),
            _ => not_found(),
        }
    }

    /// The identity provider's routes.
    fn idp(&self, call: &Call) -> Response<Body> {
        match (call.verb(), call.path.as_str()) {
            (Verb::Get, "/oauth2/authorize") => self.authorize(call),
            (Verb::Get, "/saml/sso") => self.saml_sso(call),
            (Verb::Post, "/login") => login(call),
            (Verb::Get, "/signed-in") => signed_in(call),
            (Verb::Get, "/error") => idp_error(call),
            (_, "/oauth2/authorize" | "/saml/sso" | "/signed-in" | "/error") => {
                method_not_allowed("GET, HEAD")
            }
            (_, "/login") => method_not_allowed("POST"),
            _ => not_found(),
        }
    }

    /// The app's routes.
    fn app(&self, call: &Call) -> Response<Body> {
        let path = call.path.as_str();
        match (call.verb(), path) {
            (Verb::Get, "/login") => self.app_login(call),
            (Verb::Get, "/saml/login") => self.app_saml_login(call),
            (Verb::Get, "/callback") => callback(call),
            (Verb::Post, "/callback-post" | "/saml/acs") => require_state_cookie(call),
            (Verb::Get, "/app") => html(
                StatusCode::OK,
                "Dashboard - Lab App",
                "<h1>Dashboard</h1>\n<p>Welcome</p>",
            ),
            (Verb::Get, "/app-error") => app_error(call),
            (Verb::Get, "/meta") => meta_refresh(),
            (Verb::Get, "/hostile-title") => html(StatusCode::OK, HOSTILE_TITLE, "<p>hostile</p>"),
            (Verb::Get, "/loop/a") => http::redirect("/loop/b"),
            (Verb::Get, "/loop/b") => http::redirect("/loop/a"),
            (Verb::Get, "/again") => again(call),
            (Verb::Get, "/cookie-flood") => cookie_flood(),
            (Verb::Get, "/grow") => grow(call),
            (Verb::Get, "/limited") => limited(call),
            (Verb::Get, _) if path.starts_with("/chain/") => chain(path),
            // Redirects a client must not (or cannot) follow.
            (Verb::Get, "/bad-location") => http::redirect("http://[::1"),
            (Verb::Get, "/js-location") => http::redirect("javascript:alert(1)"),
            (Verb::Get, "/empty-location") => http::redirect(""),
            (Verb::Get, "/nowhere-location") => http::redirect("//"),
            (_, "/callback-post" | "/saml/acs") => method_not_allowed("POST"),
            (
                _,
                "/login" | "/saml/login" | "/callback" | "/app" | "/app-error" | "/meta"
                | "/loop/a" | "/loop/b" | "/again" | "/bad-location" | "/js-location"
                | "/empty-location" | "/nowhere-location" | "/cookie-flood" | "/grow" | "/limited"
                | "/hostile-title",
            ) => method_not_allowed("GET, HEAD"),
            _ => not_found(),
        }
    }

    // ------------------------------------------------------------ IdP

    /// `GET /oauth2/authorize`: the OAuth 2.0 / OIDC authorization endpoint.
    fn authorize(&self, call: &Call) -> Response<Body> {
        let (Some(client_id), Some(redirect_uri)) =
            (call.query("client_id"), call.query("redirect_uri"))
        else {
            return error_page(StatusCode::BAD_REQUEST, "error=invalid_request");
        };
        let state = call.query("state");
        if client_id != CLIENT_ID {
            return redirect_with(
                redirect_uri,
                &[
                    ("error", "unauthorized_client"),
                    ("error_description", "unknown client"),
                ],
                state,
            );
        }
        let prompts: Vec<&str> = call
            .query("prompt")
            .unwrap_or_default()
            .split_whitespace()
            .collect();
        // `domain_hint=lab-network`: the network vouches for bob, as
        // Windows integrated sign-in does on a corporate network: no
        // cookie, no sign-in page.
        let session = call
            .session()
            .or((call.query("domain_hint") == Some("lab-network")).then_some("bob"));
        let forced = prompts.contains(&"login")
            || prompts.contains(&"select_account")
            || call
                .query("max_age")
                .is_some_and(|age| age.trim().parse::<u64>() == Ok(0));
        if prompts.contains(&"none") && (session.is_none() || forced) {
            // prompt=none must never show the login page (OpenID Connect Core §3.1.2.1).
            let description = if session.is_none() {
                "no session"
            } else {
                "login required"
            };
            return redirect_with(
                redirect_uri,
                &[
                    ("error", "login_required"),
                    ("error_description", description),
                ],
                state,
            );
        }
        let Some(user) = session.filter(|_| !forced) else {
            return login_page(None);
        };
        let code = format!("code-for-{user}");
        if call.query("response_mode") == Some("form_post") {
            let id_token = self.id_token(user, call.query("nonce"));
            let mut fields = vec![("code", code.as_str())];
            fields.extend(state.map(|state| ("state", state)));
            fields.push(("id_token", id_token.as_str()));
            auto_submit(redirect_uri, &fields)
        } else {
            redirect_with(redirect_uri, &[("code", &code)], state)
        }
    }

    /// An unsigned JWT (`alg` `none`) with the lab's fixed claims for `user`.
    pub(crate) fn id_token(&self, user: &str, nonce: Option<&str>) -> String {
        let header = r#"{"alg":"none","typ":"JWT"}"#;
        let nonce = nonce.map_or_else(|| "null".to_owned(), json_string);
        let claims = format!(
            r#"{{"iss":{iss},"aud":{aud},"sub":{sub},"email":{email},"preferred_username":{email},"name":{name},"exp":{ID_TOKEN_EXP},"iat":{ID_TOKEN_IAT},"nonce":{nonce}}}"#,
            iss = json_string(&self.provider_origin),
            aud = json_string(CLIENT_ID),
            sub = json_string(&format!("00u-{user}")),
            email = json_string(&format!("{user}@idp.test")),
            name = json_string(user),
        );
        format!(
            "{}.{}.",
            base64_url(header.as_bytes()),
            base64_url(claims.as_bytes())
        )
    }

    /// `GET /saml/sso`: the SAML HTTP-Redirect binding in, an HTTP-POST binding response out.
    fn saml_sso(&self, call: &Call) -> Response<Body> {
        if call.query("SAMLRequest").is_none() {
            return error_page(StatusCode::BAD_REQUEST, "SAMLRequest missing");
        }
        let Some(user) = call.session() else {
            return login_page(None);
        };
        if call.query("ForceAuthn") == Some("true") {
            return login_page(None);
        }
        let response = base64_standard(self.saml_response(user).as_bytes());
        let mut fields = vec![("SAMLResponse", response.as_str())];
        fields.extend(call.query("RelayState").map(|relay| ("RelayState", relay)));
        auto_submit(&format!("{}/saml/acs", self.app_origin), &fields)
    }

    /// The (unsigned) SAML `Response` asserting `user`.
    pub(crate) fn saml_response(&self, user: &str) -> String {
        let issuer = format!("{}/saml", self.provider_origin);
        let audience = format!("{}/saml/metadata", self.app_origin);
        let email = escape(&format!("{user}@idp.test"));
        format!(
            concat!(
                r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="r1" Version="2.0">"#,
                "<saml:Issuer>{issuer}</saml:Issuer>",
                r#"<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>"#,
                r#"<saml:Assertion ID="a1" Version="2.0">"#,
                "<saml:Issuer>{issuer}</saml:Issuer>",
                r#"<saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">{email}</saml:NameID></saml:Subject>"#,
                "<saml:Conditions><saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction></saml:Conditions>",
                "</saml:Assertion></samlp:Response>",
            ),
            issuer = issuer,
            email = email,
            audience = audience,
        )
    }

    // ------------------------------------------------------------ app

    /// `GET /login`: starts an OIDC sign-in at the identity provider.
    fn app_login(&self, call: &Call) -> Response<Body> {
        let form_post = call.query("mode") == Some("form_post");
        let redirect_uri = if form_post {
            format!("{}/callback-post", self.app_origin)
        } else {
            format!("{}/callback", self.app_origin)
        };
        let mut params = vec![
            ("client_id", call.query("client").unwrap_or(CLIENT_ID)),
            ("redirect_uri", redirect_uri.as_str()),
            ("response_type", "code"),
            ("state", SP_STATE),
            ("scope", "openid email"),
        ];
        if call.query("silent") == Some("1") {
            params.push(("prompt", "none"));
        } else {
            params.extend(call.query("prompt").map(|prompt| ("prompt", prompt)));
        }
        params.extend(call.query("max_age").map(|age| ("max_age", age)));
        params.extend(call.query("domain_hint").map(|hint| ("domain_hint", hint)));
        if form_post {
            params.push(("response_mode", "form_post"));
        }
        let location = with_query(
            &format!("{}/oauth2/authorize", self.provider_origin),
            &params,
        );
        set_cookie(http::redirect(&location), &state_cookie(call))
    }

    /// `GET /saml/login`: starts a SAML sign-in at the identity provider.
    fn app_saml_login(&self, call: &Call) -> Response<Body> {
        let request = base64_standard(AUTHN_REQUEST.as_bytes());
        let mut params = vec![
            ("SAMLRequest", request.as_str()),
            ("RelayState", RELAY_STATE),
        ];
        if call.query("force") == Some("1") {
            params.push(("ForceAuthn", "true"));
        }
        let location = with_query(&format!("{}/saml/sso", self.provider_origin), &params);
        set_cookie(http::redirect(&location), &state_cookie(call))
    }
}

impl Call {
    /// Decodes the request line and the `Host`, `Cookie` and `Authorization` headers; the form
    /// starts empty (the caller fills it from a `POST` body).
    fn new(parts: &Parts) -> Self {
        // HTTP/1.1 carries the name in Host; an absolute-form target also in the URI.
        let authority = parts
            .headers
            .get(HOST)
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                parts
                    .uri
                    .authority()
                    .map(hyper::http::uri::Authority::as_str)
            })
            .unwrap_or_default();
        let cookies = parts
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.split_once('=')?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect();
        Self {
            method: parts.method.clone(),
            host: http::host_part(authority).to_ascii_lowercase(),
            path: parts.uri.path().to_owned(),
            query: parse_pairs(parts.uri.query().unwrap_or_default().as_bytes()),
            cookies,
            authorization: parts
                .headers
                .get(AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            form: Vec::new(),
        }
    }

    pub(crate) fn verb(&self) -> Verb {
        match self.method {
            Method::GET | Method::HEAD => Verb::Get,
            Method::POST => Verb::Post,
            _ => Verb::Other,
        }
    }

    /// The first query parameter `name`.
    fn query(&self, name: &str) -> Option<&str> {
        first(&self.query, name)
    }

    /// The first form field `name`.
    pub(crate) fn form(&self, name: &str) -> Option<&str> {
        first(&self.form, name)
    }

    /// The request path.
    pub(crate) fn path(&self) -> &str {
        &self.path
    }

    /// The `Authorization` header, when the request had one that is text.
    pub(crate) fn authorization(&self) -> Option<&str> {
        self.authorization.as_deref()
    }

    /// The first cookie `name`.
    fn cookie(&self, name: &str) -> Option<&str> {
        first(&self.cookies, name)
    }

    /// The signed-in user of the identity provider: a non-empty `idp_session` cookie.
    fn session(&self) -> Option<&str> {
        self.cookie("idp_session").filter(|user| !user.is_empty())
    }

    /// Whether the app's `sp_state` cookie is there with the value the app set.
    fn has_state_cookie(&self) -> bool {
        self.cookie("sp_state") == Some(SP_STATE)
    }
}

/// Serves the identity provider and the app on `listener` until the runtime shuts down.
pub(crate) async fn serve(listener: TcpListener, idp: Arc<Idp>) {
    http::accept_each(listener, move |stream| {
        serve_connection(Arc::clone(&idp), stream)
    })
    .await;
}

/// Serves one HTTP/1.1 connection.
async fn serve_connection(idp: Arc<Idp>, stream: TcpStream) {
    let service = service_fn(move |req| {
        let idp = Arc::clone(&idp);
        async move { Ok::<_, Infallible>(idp.handle(req).await) }
    });
    // Errors here are client misbehaviour (resets, garbage); the lab just drops the connection.
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

// ---------------------------------------------------------------- IdP routes

/// `POST /login`: the login form's target.
fn login(call: &Call) -> Response<Body> {
    if call.cookie("idp_login_ctx") != Some(LOGIN_CTX) {
        return error_page(StatusCode::BAD_REQUEST, "login context cookie missing");
    }
    let username = call.form("username").unwrap_or_default();
    if !is_cookie_value(username) {
        return login_page(Some("invalid username"));
    }
    if call.form("password") != Some(PASSWORD) {
        return login_page(Some("wrong password"));
    }
    set_cookie(
        http::redirect("/signed-in"),
        &format!("idp_session={username}; Path=/; HttpOnly"),
    )
}

/// `GET /signed-in`: where a login that was not part of a flow ends.
fn signed_in(call: &Call) -> Response<Body> {
    let body = match call.session() {
        Some(user) => format!("<h1>Signed in</h1>\n<p>Signed in as {}.</p>", escape(user)),
        None => "<h1>Signed in</h1>".to_owned(),
    };
    html(StatusCode::OK, "Signed in", &body)
}

/// `GET /error`: the identity provider's own error page.
fn idp_error(call: &Call) -> Response<Body> {
    let body = format!("<h1>Error</h1>\n{}", error_paragraphs(call));
    html(StatusCode::BAD_REQUEST, "Error", &body)
}

/// The request's `error` (as `error=…`) and `error_description`, as escaped paragraphs.
fn error_paragraphs(call: &Call) -> String {
    let error = escape(call.query("error").unwrap_or("unknown_error"));
    let description = call
        .query("error_description")
        .map_or_else(String::new, |description| {
            format!("\n<p>{}</p>", escape(description))
        });
    format!("<p>error={error}</p>{description}")
}

/// The identity provider's login page, with a notice (e.g. `wrong password`) above the form. It sets the
/// `idp_login_ctx` cookie that `POST /login` requires.
fn login_page(notice: Option<&str>) -> Response<Body> {
    let notice = notice.map_or_else(String::new, |notice| {
        format!("<p class=\"error\">{}</p>\n", escape(notice))
    });
    let body = format!(
        concat!(
            "<h1>Sign in</h1>\n",
            "{notice}",
            "<form method=\"post\" action=\"/login\">\n",
            "<label>Username <input type=\"text\" name=\"username\" autocomplete=\"username\"></label>\n",
            "<label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\"></label>\n",
            "<input type=\"hidden\" name=\"ctx\" value=\"{ctx}\">\n",
            "<button type=\"submit\">Sign in</button>\n",
            "</form>",
        ),
        notice = notice,
        ctx = LOGIN_CTX,
    );
    set_cookie(
        html(StatusCode::OK, "Sign in - Lab IdP", &body),
        &format!("idp_login_ctx={LOGIN_CTX}; Path=/; HttpOnly"),
    )
}

/// A page that posts `fields` to `action` as soon as it loads (OAuth `form_post`, SAML
/// HTTP-POST binding).
fn auto_submit(action: &str, fields: &[(&str, &str)]) -> Response<Body> {
    let mut inputs = String::new();
    for (name, value) in fields {
        // Writing to a String cannot fail.
        let _ = writeln!(
            inputs,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    let form = format!(
        "<form method=\"post\" action=\"{}\">\n{inputs}</form>\n<script>document.forms[0].submit()</script>",
        escape(action)
    );
    let page = document(
        "Submitting",
        "",
        "<body onload=\"document.forms[0].submit()\">",
        &form,
    );
    html_response(StatusCode::OK, page)
}

// ---------------------------------------------------------------- app routes

/// `GET /callback`: the OAuth redirect target.
fn callback(call: &Call) -> Response<Body> {
    if let Some(error) = call.query("error") {
        let mut params = vec![("error", error)];
        params.extend(
            call.query("error_description")
                .map(|description| ("error_description", description)),
        );
        return http::redirect(&with_query("/app-error", &params));
    }
    if call.has_state_cookie() && call.query("state") == Some(SP_STATE) {
        http::redirect("/app")
    } else {
        error_page(StatusCode::BAD_REQUEST, "state mismatch")
    }
}

/// `POST /callback-post` and `POST /saml/acs`: accepted when the `sp_state` cookie came along.
fn require_state_cookie(call: &Call) -> Response<Body> {
    if call.has_state_cookie() {
        http::redirect("/app")
    } else {
        error_page(StatusCode::BAD_REQUEST, "state cookie missing")
    }
}

/// `GET /app-error`: where the app shows an error the identity provider sent back.
fn app_error(call: &Call) -> Response<Body> {
    let body = format!("<h1>Sign-in failed</h1>\n{}", error_paragraphs(call));
    html(StatusCode::OK, "Sign-in failed", &body)
}

/// The title of `GET /hostile-title`: markup a report must show as text.
pub const HOSTILE_TITLE: &str =
    "</title><script>alert(1)</script><img src=x onerror=alert(2)> \"q\" 'a' &amp;";

/// `GET /meta`: a `<meta http-equiv="refresh">` hop to `/login`.
fn meta_refresh() -> Response<Body> {
    let page = document(
        "Redirecting",
        "<meta http-equiv=\"refresh\" content=\"0; url=/login\">\n",
        "<body>",
        "<p><a href=\"/login\">Continue</a></p>",
    );
    html_response(StatusCode::OK, page)
}

/// `GET /chain/{n}`: 302 to `/chain/{n-1}`, and `/chain/0` to `/app`.
fn chain(path: &str) -> Response<Body> {
    match path.strip_prefix("/chain/").map(str::parse::<u32>) {
        Some(Ok(0)) => http::redirect("/app"),
        Some(Ok(n)) => http::redirect(&format!("/chain/{}", n - 1)),
        _ => error_page(
            StatusCode::BAD_REQUEST,
            "chain length must be a non-negative integer",
        ),
    }
}

/// `GET /again`: without the cookie `visited`, sets it and redirects to
/// itself; with it, the app page. The same URL twice, with other cookies:
/// progress, not a loop.
fn again(call: &Call) -> Response<Body> {
    if call.cookie("visited") == Some("1") {
        html(StatusCode::OK, "Signed in - Lab App", "<p>Signed in</p>")
    } else {
        set_cookie(http::redirect("/again"), "visited=1; Path=/")
    }
}

/// Number of `Set-Cookie` headers `/cookie-flood` sends.
pub(crate) const FLOOD_COOKIES: usize = 90;
/// Length of each `/cookie-flood` cookie's value.
pub(crate) const FLOOD_COOKIE_LEN: usize = 2000;
/// Length of `x` on the first `/grow` page's refresh URL; it doubles at every hop.
pub(crate) const GROW_START: usize = 4096;

/// `GET /cookie-flood`: 302 to `/app` with [`FLOOD_COOKIES`] `Set-Cookie` headers
/// `flood{n}=aaa…` ([`FLOOD_COOKIE_LEN`] bytes of value each, 180 KB in all): a response head
/// larger than clients read.
fn cookie_flood() -> Response<Body> {
    let value = "a".repeat(FLOOD_COOKIE_LEN);
    let mut response = http::redirect("/app");
    for n in 0..FLOOD_COOKIES {
        response = set_cookie(response, &format!("flood{n}={value}; Path=/"));
    }
    response
}

/// `GET /grow?x=…`: a page whose meta refresh goes to `/grow` with `x` twice as long (`x` of
/// [`GROW_START`] `a` when the request has none), so the URL grows until no client can send it.
fn grow(call: &Call) -> Response<Body> {
    let x = match call.query("x") {
        Some(x) if !x.is_empty() => x.repeat(2),
        _ => "a".repeat(GROW_START),
    };
    let page = document(
        "Growing",
        &format!(
            "<meta http-equiv=\"refresh\" content=\"0; url=/grow?x={}\">\n",
            escape(&x)
        ),
        "<body>",
        "<p>Redirecting</p>",
    );
    html_response(StatusCode::OK, page)
}

/// Longest query `/limited` accepts, as nginx's default buffers allow about 8 KiB.
pub(crate) const LIMITED_QUERY: usize = 8192;

/// `GET /limited`: `414 URI Too Long` when the decoded query is longer than
/// [`LIMITED_QUERY`] bytes, else the app page.
fn limited(call: &Call) -> Response<Body> {
    let query: usize = call.query.iter().map(|(k, v)| k.len() + v.len() + 2).sum();
    if query > LIMITED_QUERY {
        error_page(StatusCode::URI_TOO_LONG, "uri too long")
    } else {
        html(StatusCode::OK, "Limited", "<p>Short enough</p>")
    }
}

/// `sp_state=st1; Path=/; HttpOnly`, deliberately without `SameSite`
/// unless the query asks for one (`?samesite=Lax|Strict|None`; `None`
/// also gets `Secure`).
fn state_cookie(call: &Call) -> String {
    match call.query("samesite") {
        Some(v @ ("Lax" | "Strict")) => {
            format!("sp_state={SP_STATE}; Path=/; HttpOnly; SameSite={v}")
        }
        Some("None") => format!("sp_state={SP_STATE}; Path=/; HttpOnly; SameSite=None; Secure"),
        _ => format!("sp_state={SP_STATE}; Path=/; HttpOnly"),
    }
}

// ---------------------------------------------------------------- helpers

/// Decodes `application/x-www-form-urlencoded` pairs (a query string or a form body).
fn parse_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `base` with `params` form-encoded onto its query (after `?`, or `&` when it has one).
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    let separator = if base.contains('?') { '&' } else { '?' };
    format!("{base}{separator}{query}")
}

/// A 302 to `redirect_uri` with `params` and then `state` (when the request had one).
fn redirect_with(
    redirect_uri: &str,
    params: &[(&str, &str)],
    state: Option<&str>,
) -> Response<Body> {
    let mut params = params.to_vec();
    params.extend(state.map(|state| ("state", state)));
    http::redirect(&with_query(redirect_uri, &params))
}

/// Whether `value` can be a cookie value as is: non-empty, bounded, only RFC 6265
/// `cookie-octet`s (no space, `"`, `,`, `;` or `\`).
fn is_cookie_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_USERNAME
        && value
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e))
}

/// Adds a `Set-Cookie` header (left out if it could not be a header value, which the callers
/// rule out).
fn set_cookie(mut response: Response<Body>, cookie: &str) -> Response<Body> {
    if let Ok(value) = HeaderValue::from_str(cookie) {
        response.headers_mut().append(SET_COOKIE, value);
    }
    response
}

/// `s` as a JSON string literal.
pub(crate) fn json_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// Escapes text for HTML (and XML) content and double- or single-quoted attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// base64 of `bytes` in `alphabet`, with or without `=` padding.
fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let triple = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                let index = (triple >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(alphabet[index as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding.
pub(crate) fn base64_standard(bytes: &[u8]) -> String {
    base64(bytes, BASE64_STANDARD, true)
}

/// URL-safe base64 without padding (JWT segments).
pub(crate) fn base64_url(bytes: &[u8]) -> String {
    base64(bytes, BASE64_URL, false)
}

/// A small HTML5 document. `title` is escaped; `head` and `body` are markup.
fn document(title: &str, head: &str, body_tag: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n{head}<title>{}</title>\n</head>\n{body_tag}\n{body}\n</body>\n</html>\n",
        escape(title)
    )
}

/// A plain HTML page: `title`, and `body` markup.
pub(crate) fn html(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    html_response(status, document(title, "", "<body>", body))
}

fn html_response(status: StatusCode, page: String) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(page)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
}

/// An error page titled `Error` showing `message`.
fn error_page(status: StatusCode, message: &str) -> Response<Body> {
    html(
        status,
        "Error",
        &format!("<h1>Error</h1>\n<p>{}</p>", escape(message)),
    )
}

fn not_found() -> Response<Body> {
    html(StatusCode::NOT_FOUND, "Not found", "<h1>Not found</h1>")
}

pub(crate) fn method_not_allowed(allow: &'static str) -> Response<Body> {
    let mut response = html(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        "<h1>Method not allowed</h1>",
    );
    response
        .headers_mut()
        .insert(ALLOW, HeaderValue::from_static(allow));
    response
}

#[cfg(test)]
mod tests {
    use super::{base64_standard, base64_url, escape};

    #[test]
    fn base64_vectors() {
        // RFC 4648 §10.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_standard(plain.as_bytes()), encoded);
            assert_eq!(base64_url(plain.as_bytes()), encoded.trim_end_matches('='));
        }
        assert_eq!(base64_standard(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8");
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
