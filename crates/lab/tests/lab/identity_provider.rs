//! The identity provider and the app that signs in with it ([`reach_lab::Lab::idp`], hosts
//! [`IDP_HOST`] and [`SP_HOST`]), over raw HTTP/1.1 with explicit `Host` headers.

use std::net::SocketAddr;

use reach_lab::{IDP_HOST, Lab, SP_HOST};
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    time::timeout,
};

use crate::support::{IO_TIMEOUT, Reply, connect, parse_reply, send_raw, start, unbase64};

/// The largest POST body the identity provider reads: 64 KiB.
const MAX_BODY: usize = 64 * 1024;

/// Sends one request (`Connection: close`) to the lab's identity provider listener and parses the answer.
async fn send(
    lab: &Lab,
    method: &str,
    host: &str,
    target: &str,
    headers: &str,
    body: &str,
) -> Reply {
    send_raw(
        lab.idp,
        method,
        &format!("{host}:{}", lab.idp.port()),
        target,
        headers,
        body,
    )
    .await
}

async fn idp_get(lab: &Lab, target: &str, headers: &str) -> Reply {
    send(lab, "GET", IDP_HOST, target, headers, "").await
}

async fn app_get(lab: &Lab, target: &str, headers: &str) -> Reply {
    send(lab, "GET", SP_HOST, target, headers, "").await
}

fn authorize(lab: &Lab, extra: &str) -> String {
    format!(
        "/oauth2/authorize?client_id=lab-app&redirect_uri=http%3A%2F%2Fapp.sp.test%3A{}%2Fcallback&response_type=code&state=st1{extra}",
        lab.idp.port()
    )
}

fn assert_login_page(reply: &Reply) {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.title(), "Sign in - Lab IdP");
    assert_eq!(
        reply.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(
        reply.all("set-cookie"),
        ["idp_login_ctx=ctx1; Path=/; HttpOnly"]
    );
    assert!(reply.body.starts_with("<!DOCTYPE html>"));
    assert!(
        reply
            .body
            .contains(r#"<form method="post" action="/login">"#)
    );
    assert!(reply.body.contains(r#"name="username""#));
    assert!(reply.body.contains(r#"type="password" name="password""#));
    assert_eq!(reply.input("ctx"), Some("ctx1"));
    assert!(reply.body.contains(r#"<button type="submit">"#));
    assert!(!reply.body.contains("<script"), "no auto-submit");
    assert!(!reply.body.contains("onload"), "no auto-submit");
}

#[tokio::test]
async fn authorize_login_page_silent_code_and_prompts() {
    let lab = start();
    let port = lab.idp.port();
    let callback = format!("http://app.sp.test:{port}/callback");

    // No session: the login page and its context cookie.
    let page = idp_get(&lab, &authorize(&lab, ""), "").await;
    assert_login_page(&page);

    // A session: silent re-authorization.
    let silent = idp_get(&lab, &authorize(&lab, ""), "Cookie: idp_session=alice\r\n").await;
    assert_eq!(silent.status, 302, "{silent:?}");
    assert_eq!(
        silent.location(),
        Some(format!("{callback}?code=code-for-alice&state=st1").as_str())
    );
    assert!(silent.all("set-cookie").is_empty());
    // Among other cookies, and with an empty session cookie.
    let among = idp_get(
        &lab,
        &authorize(&lab, ""),
        "Cookie: a=b; idp_session=bob; c=d\r\n",
    )
    .await;
    assert_eq!(
        among.location(),
        Some(format!("{callback}?code=code-for-bob&state=st1").as_str())
    );
    let empty = idp_get(&lab, &authorize(&lab, ""), "Cookie: idp_session=\r\n").await;
    assert_login_page(&empty);

    // Forced re-authentication shows the login page despite the session.
    for extra in ["&prompt=login", "&prompt=select_account", "&max_age=0"] {
        let forced = idp_get(
            &lab,
            &authorize(&lab, extra),
            "Cookie: idp_session=alice\r\n",
        )
        .await;
        assert_login_page(&forced);
    }
    let max_age = idp_get(
        &lab,
        &authorize(&lab, "&max_age=3600"),
        "Cookie: idp_session=alice\r\n",
    )
    .await;
    assert_eq!(max_age.status, 302);

    // prompt=none: an error without a session, the code with one.
    let none = idp_get(&lab, &authorize(&lab, "&prompt=none"), "").await;
    assert_eq!(none.status, 302);
    assert_eq!(
        none.location(),
        Some(
            format!("{callback}?error=login_required&error_description=no+session&state=st1")
                .as_str()
        )
    );
    let none_with_session = idp_get(
        &lab,
        &authorize(&lab, "&prompt=none"),
        "Cookie: idp_session=alice\r\n",
    )
    .await;
    assert_eq!(
        none_with_session.location(),
        Some(format!("{callback}?code=code-for-alice&state=st1").as_str())
    );

    // Client errors.
    let unknown = idp_get(
        &lab,
        &authorize(&lab, "").replace("lab-app", "other"),
        "Cookie: idp_session=alice\r\n",
    )
    .await;
    assert_eq!(unknown.status, 302);
    assert_eq!(
        unknown.location(),
        Some(
            format!(
                "{callback}?error=unauthorized_client&error_description=unknown+client&state=st1"
            )
            .as_str()
        )
    );
    for target in [
        "/oauth2/authorize?client_id=lab-app&state=st1",
        "/oauth2/authorize?redirect_uri=http%3A%2F%2Fx%2F",
        "/oauth2/authorize",
    ] {
        let bad = idp_get(&lab, target, "").await;
        assert_eq!(bad.status, 400, "{target}");
        assert_eq!(bad.title(), "Error");
        assert!(bad.body.contains("error=invalid_request"));
    }
}

#[tokio::test]
async fn form_post_carries_a_decodable_id_token() {
    let lab = start();
    let port = lab.idp.port();
    let page = idp_get(
        &lab,
        &authorize(&lab, "&response_mode=form_post&nonce=n-0S6"),
        "Cookie: idp_session=alice\r\n",
    )
    .await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains(&format!(
        r#"<form method="post" action="http://app.sp.test:{port}/callback">"#
    )));
    assert!(
        page.body
            .contains("<script>document.forms[0].submit()</script>")
    );
    assert!(
        page.body
            .contains(r#"<body onload="document.forms[0].submit()">"#)
    );
    assert_eq!(page.input("code"), Some("code-for-alice"));
    assert_eq!(page.input("state"), Some("st1"));

    let token = page.input("id_token").expect("id_token");
    let segments: Vec<&str> = token.split('.').collect();
    assert_eq!(segments.len(), 3, "{token}");
    assert_eq!(segments[2], "", "unsigned");
    assert!(!token.contains('='), "no padding");
    let header: serde_json::Value = serde_json::from_slice(&unbase64(segments[0])).expect("json");
    assert_eq!(header, serde_json::json!({"alg": "none", "typ": "JWT"}));
    let claims: serde_json::Value = serde_json::from_slice(&unbase64(segments[1])).expect("json");
    assert_eq!(
        claims,
        serde_json::json!({
            "iss": format!("http://idp.idp.test:{port}"),
            "aud": "lab-app",
            "sub": "00u-alice",
            "email": "alice@idp.test",
            "preferred_username": "alice@idp.test",
            "name": "alice",
            "exp": 4_102_444_800_u64,
            "iat": 1_700_000_000_u64,
            "nonce": "n-0S6",
        })
    );
    // The claims are written in the documented order.
    let raw_claims = String::from_utf8(unbase64(segments[1])).expect("utf-8");
    assert!(raw_claims.starts_with(&format!(
        r#"{{"iss":"http://idp.idp.test:{port}","aud":"lab-app","sub":"00u-alice""#
    )));

    // Without a nonce the claim is null.
    let page = idp_get(
        &lab,
        &authorize(&lab, "&response_mode=form_post"),
        "Cookie: idp_session=bob\r\n",
    )
    .await;
    let token = page.input("id_token").expect("id_token");
    let claims: serde_json::Value =
        serde_json::from_slice(&unbase64(token.split('.').nth(1).expect("claims"))).expect("json");
    assert_eq!(claims["nonce"], serde_json::Value::Null);
    assert_eq!(claims["email"], "bob@idp.test");
}

#[tokio::test]
async fn saml_sso_and_acs() {
    let lab = start();
    let port = lab.idp.port();

    // The app's SAML start.
    let start = app_get(&lab, "/saml/login", "").await;
    assert_eq!(start.status, 302);
    assert_eq!(start.all("set-cookie"), ["sp_state=st1; Path=/; HttpOnly"]);
    let location = start.location().expect("location");
    let prefix = format!("http://idp.idp.test:{port}/saml/sso?SAMLRequest=");
    assert!(location.starts_with(&prefix), "{location}");
    assert!(location.ends_with("&RelayState=rs1"), "{location}");
    let forced = app_get(&lab, "/saml/login?force=1", "").await;
    assert!(
        forced
            .location()
            .expect("location")
            .ends_with("&RelayState=rs1&ForceAuthn=true")
    );

    // Without a session, or forced: the login page.
    let sso = &location[location.find("/saml/sso").expect("path")..];
    assert_login_page(&idp_get(&lab, sso, "").await);
    assert_login_page(
        &idp_get(
            &lab,
            &format!("{sso}&ForceAuthn=true"),
            "Cookie: idp_session=alice\r\n",
        )
        .await,
    );
    assert_eq!(
        idp_get(&lab, "/saml/sso?RelayState=x", "").await.status,
        400
    );

    // With a session: the auto-posting response.
    let page = idp_get(&lab, sso, "Cookie: idp_session=alice\r\n").await;
    assert_eq!(page.status, 200, "{page:?}");
    assert!(page.body.contains(&format!(
        r#"<form method="post" action="http://app.sp.test:{port}/saml/acs">"#
    )));
    assert!(
        page.body
            .contains("<script>document.forms[0].submit()</script>")
    );
    assert!(
        page.body
            .contains(r#"<body onload="document.forms[0].submit()">"#)
    );
    assert_eq!(page.input("RelayState"), Some("rs1"));
    let response = page.input("SAMLResponse").expect("SAMLResponse");
    assert_eq!(response.len() % 4, 0, "padded");
    let xml = String::from_utf8(unbase64(response)).expect("utf-8");
    assert!(xml.starts_with("<samlp:Response "), "{xml}");
    assert!(xml.contains(">alice@idp.test</saml:NameID>"), "{xml}");
    assert!(xml.contains(&format!(
        "<saml:Issuer>http://idp.idp.test:{port}/saml</saml:Issuer>"
    )));
    assert!(xml.contains(&format!(
        "<saml:Audience>http://app.sp.test:{port}/saml/metadata</saml:Audience>"
    )));
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"));

    // The ACS wants the app's state cookie.
    let form = format!(
        "SAMLResponse={}&RelayState=rs1",
        response
            .replace('+', "%2B")
            .replace('/', "%2F")
            .replace('=', "%3D")
    );
    let accepted = send(
        &lab,
        "POST",
        SP_HOST,
        "/saml/acs",
        "Cookie: sp_state=st1\r\n",
        &form,
    )
    .await;
    assert_eq!(accepted.status, 302, "{accepted:?}");
    assert_eq!(accepted.location(), Some("/app"));
    let refused = send(&lab, "POST", SP_HOST, "/saml/acs", "", &form).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.title(), "Error");
    assert!(refused.body.contains("state cookie missing"));
    let wrong = send(
        &lab,
        "POST",
        SP_HOST,
        "/saml/acs",
        "Cookie: sp_state=other\r\n",
        &form,
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(app_get(&lab, "/saml/acs", "").await.status, 405);
}

#[tokio::test]
async fn idp_login_form() {
    let lab = start();
    let form = "username=bob&password=secret&ctx=ctx1";

    let missing = send(&lab, "POST", IDP_HOST, "/login", "", form).await;
    assert_eq!(missing.status, 400);
    assert_eq!(missing.title(), "Error");
    assert!(missing.body.contains("login context cookie missing"));

    let ok = send(
        &lab,
        "POST",
        IDP_HOST,
        "/login",
        "Cookie: idp_login_ctx=ctx1\r\n",
        form,
    )
    .await;
    assert_eq!(ok.status, 302, "{ok:?}");
    assert_eq!(ok.location(), Some("/signed-in"));
    assert_eq!(ok.all("set-cookie"), ["idp_session=bob; Path=/; HttpOnly"]);

    let wrong = send(
        &lab,
        "POST",
        IDP_HOST,
        "/login",
        "Cookie: idp_login_ctx=ctx1\r\n",
        "username=bob&password=guess&ctx=ctx1",
    )
    .await;
    assert_login_page(&wrong);
    assert!(wrong.body.contains("wrong password"));

    for bad_name in ["", "a%3Bb", "a+b"] {
        let bad = send(
            &lab,
            "POST",
            IDP_HOST,
            "/login",
            "Cookie: idp_login_ctx=ctx1\r\n",
            &format!("username={bad_name}&password=secret"),
        )
        .await;
        assert_login_page(&bad);
        assert!(bad.body.contains("invalid username"), "{bad_name}");
    }

    let signed_in = idp_get(&lab, "/signed-in", "Cookie: idp_session=bob\r\n").await;
    assert_eq!(signed_in.status, 200);
    assert_eq!(signed_in.title(), "Signed in");

    let error = idp_get(
        &lab,
        "/error?error=access_denied&error_description=User+%3Cdenied%3E",
        "",
    )
    .await;
    assert_eq!(error.status, 400);
    assert!(error.body.contains("access_denied"));
    assert!(error.body.contains("User &lt;denied&gt;"), "escaped");

    assert_eq!(idp_get(&lab, "/login", "").await.status, 405);
    let too_big = send(
        &lab,
        "POST",
        IDP_HOST,
        "/login",
        "Cookie: idp_login_ctx=ctx1\r\n",
        &"a".repeat(MAX_BODY + 1),
    )
    .await;
    assert_eq!(too_big.status, 413);
    // Garbage bodies are just fields that do not match.
    let garbage = send(
        &lab,
        "POST",
        IDP_HOST,
        "/login",
        "Cookie: idp_login_ctx=ctx1\r\n",
        "%%%&&==\u{7f}%ZZ",
    )
    .await;
    assert_eq!(garbage.status, 200);
}

#[tokio::test]
async fn app_routes() {
    let lab = start();
    app_login_redirects(&lab).await;
    app_callbacks(&lab).await;
    app_pages(&lab).await;
}

/// `/login`: the redirect to the identity provider, its cookie and the options passed on.
async fn app_login_redirects(lab: &Lab) {
    let port = lab.idp.port();
    let authorize = format!(
        "http://idp.idp.test:{port}/oauth2/authorize?client_id=lab-app&redirect_uri=http%3A%2F%2Fapp.sp.test%3A{port}%2Fcallback&response_type=code&state=st1&scope=openid+email"
    );

    let login = app_get(lab, "/login", "").await;
    assert_eq!(login.status, 302);
    assert_eq!(login.location(), Some(authorize.as_str()));
    assert_eq!(login.all("set-cookie"), ["sp_state=st1; Path=/; HttpOnly"]);
    for (query, suffix) in [
        ("?prompt=login", "&prompt=login".to_owned()),
        ("?max_age=0", "&max_age=0".to_owned()),
        ("?silent=1", "&prompt=none".to_owned()),
    ] {
        let reply = app_get(lab, &format!("/login{query}"), "").await;
        assert_eq!(
            reply.location(),
            Some(format!("{authorize}{suffix}").as_str()),
            "{query}"
        );
    }
    let form_post = app_get(lab, "/login?mode=form_post", "").await;
    assert_eq!(
        form_post.location(),
        Some(
            format!(
                "{}&response_mode=form_post",
                authorize.replace("%2Fcallback", "%2Fcallback-post")
            )
            .as_str()
        )
    );
    let other = app_get(lab, "/login?client=other", "").await;
    assert_eq!(
        other.location(),
        Some(
            authorize
                .replace("client_id=lab-app", "client_id=other")
                .as_str()
        )
    );
}

/// `/callback` and `/callback-post`: state checks and errors passed on to `/app-error`.
async fn app_callbacks(lab: &Lab) {
    // The callback.
    let good = app_get(
        lab,
        "/callback?code=c&state=st1",
        "Cookie: sp_state=st1\r\n",
    )
    .await;
    assert_eq!(good.location(), Some("/app"));
    for (target, cookie) in [
        ("/callback?code=c&state=st1", ""),
        ("/callback?code=c&state=xx", "Cookie: sp_state=st1\r\n"),
        ("/callback?code=c", "Cookie: sp_state=st1\r\n"),
    ] {
        let bad = app_get(lab, target, cookie).await;
        assert_eq!(bad.status, 400, "{target} {cookie}");
        assert!(bad.body.contains("state mismatch"));
    }
    let error = app_get(
        lab,
        "/callback?error=access_denied&error_description=User+said+no&state=st1",
        "",
    )
    .await;
    assert_eq!(
        error.location(),
        Some("/app-error?error=access_denied&error_description=User+said+no")
    );
    let shown = app_get(lab, error.location().expect("location"), "").await;
    assert_eq!(shown.status, 200);
    assert_eq!(shown.title(), "Sign-in failed");
    assert!(shown.body.contains("access_denied"));
    assert!(shown.body.contains("User said no"));

    let posted = send(
        lab,
        "POST",
        SP_HOST,
        "/callback-post",
        "Cookie: sp_state=st1\r\n",
        "code=c&state=st1&id_token=x",
    )
    .await;
    assert_eq!(posted.location(), Some("/app"));
    let refused = send(
        lab,
        "POST",
        SP_HOST,
        "/callback-post",
        "",
        "code=c&state=st1",
    )
    .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("state cookie missing"));
}

/// The pages: the dashboard, meta refresh, loops and chains.
async fn app_pages(lab: &Lab) {
    let app = app_get(lab, "/app", "").await;
    assert_eq!(app.status, 200);
    assert_eq!(app.title(), "Dashboard - Lab App");
    assert!(app.body.contains("Welcome"));

    let meta = app_get(lab, "/meta", "").await;
    assert_eq!(meta.status, 200);
    assert_eq!(meta.title(), "Redirecting");
    assert!(
        meta.body
            .contains(r#"<meta http-equiv="refresh" content="0; url=/login">"#)
    );

    assert_eq!(
        app_get(lab, "/loop/a", "").await.location(),
        Some("/loop/b")
    );
    assert_eq!(
        app_get(lab, "/loop/b", "").await.location(),
        Some("/loop/a")
    );
    assert_eq!(
        app_get(lab, "/chain/3", "").await.location(),
        Some("/chain/2")
    );
    assert_eq!(app_get(lab, "/chain/0", "").await.location(), Some("/app"));
    assert_eq!(app_get(lab, "/chain/x", "").await.status, 400);
    assert_eq!(app_get(lab, "/nope", "").await.status, 404);
}

#[tokio::test]
async fn routing_by_host() {
    let lab = start();
    // Case and port do not matter; other names and a missing Host get 404.
    let upper = send_raw(lab.idp, "GET", "APP.SP.TEST:1", "/app", "", "").await;
    assert_eq!(upper.status, 200);
    let bare = send_raw(lab.idp, "GET", "app.sp.test", "/app", "", "").await;
    assert_eq!(bare.status, 200);
    let idp_app = idp_get(&lab, "/app", "").await;
    assert_eq!(idp_app.status, 404);
    let app_authorize = app_get(&lab, &authorize(&lab, ""), "").await;
    assert_eq!(app_authorize.status, 404);
    let other = send_raw(lab.idp, "GET", "good.lab.test", "/app", "", "").await;
    assert_eq!(other.status, 404);
    let mut stream = connect(lab.idp).await;
    stream
        .write_all(b"GET /app HTTP/1.0\r\n\r\n")
        .await
        .expect("write");
    let mut response = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut response))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(parse_reply(&String::from_utf8_lossy(&response)).status, 404);
}

/// The whole code flow, as a browser would walk it.
#[tokio::test]
async fn code_flow_end_to_end() {
    let lab = start();
    let port = lab.idp.port();
    let origin = format!("http://app.sp.test:{port}");

    let start = app_get(&lab, "/login", "").await;
    let authorize = start.location().expect("location");
    let authorize = &authorize[authorize.find("/oauth2/").expect("path")..];
    let page = idp_get(&lab, authorize, "").await;
    assert_login_page(&page);
    let signed = send(
        &lab,
        "POST",
        IDP_HOST,
        "/login",
        "Cookie: idp_login_ctx=ctx1\r\n",
        "username=carol&password=secret&ctx=ctx1",
    )
    .await;
    assert_eq!(signed.location(), Some("/signed-in"));
    let again = idp_get(&lab, authorize, "Cookie: idp_session=carol\r\n").await;
    let callback = again.location().expect("location");
    assert_eq!(
        callback,
        format!("{origin}/callback?code=code-for-carol&state=st1")
    );
    let done = app_get(&lab, &callback[origin.len()..], "Cookie: sp_state=st1\r\n").await;
    assert_eq!(done.location(), Some("/app"));
}

/// Sends `bytes`, then returns everything until the server closes.
async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut stream = connect(addr).await;
    stream.write_all(bytes).await.expect("write");
    let mut reply = Vec::new();
    timeout(IO_TIMEOUT, stream.read_to_end(&mut reply))
        .await
        .expect("closed in time")
        .expect("read");
    reply
}

/// `GET target` on the app, `Connection: close`; the raw response head.
async fn app_head(lab: &Lab, method: &str, target: &str) -> String {
    let request = format!(
        "{method} {target} HTTP/1.1\r\nHost: {SP_HOST}:{}\r\nConnection: close\r\n\r\n",
        lab.idp.port()
    );
    let response = exchange(lab.idp, request.as_bytes()).await;
    let response = String::from_utf8(response).expect("text");
    let (head, _) = response.split_once("\r\n\r\n").expect("a head");
    format!("{head}\r\n")
}

#[tokio::test]
async fn app_malformed_redirects() {
    let lab = start();
    for (path, line) in [
        ("/bad-location", "\r\nlocation: http://[::1\r\n"),
        ("/js-location", "\r\nlocation: javascript:alert(1)\r\n"),
        ("/empty-location", "\r\nlocation: \r\n"),
        ("/nowhere-location", "\r\nlocation: //\r\n"),
    ] {
        let head = app_head(&lab, "GET", path).await;
        assert!(head.starts_with("HTTP/1.1 302 Found\r\n"), "{path}: {head}");
        assert!(head.contains(line), "{path}: {head}");
        assert_eq!(head.matches("\r\nlocation:").count(), 1, "{head}");

        let head = app_head(&lab, "POST", path).await;
        assert!(head.starts_with("HTTP/1.1 405 "), "{path}: {head}");
        assert!(head.contains("\r\nallow: GET, HEAD\r\n"), "{path}: {head}");
    }
    // Only on the app.
    let request = format!(
        "GET /js-location HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n",
        IDP_HOST,
        lab.idp.port()
    );
    let response = exchange(lab.idp, request.as_bytes()).await;
    assert!(response.starts_with(b"HTTP/1.1 404 "));
}
