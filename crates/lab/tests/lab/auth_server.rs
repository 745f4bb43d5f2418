//! The OAuth 2.0 authorization server ([`AS_HOST`] on [`Lab::idp`]): token grants, errors in
//! the RFC 6749 and `HubSpot` shapes, discovery documents and keys, over raw HTTP/1.1 with
//! explicit `Host` headers.

use hickory_proto::{op::ResponseCode, rr::RecordType};
use reach_lab::{AS_HOST, Lab};
use serde_json::{Value, json};

use crate::{
    dns_zone::udp,
    support::{Reply, base64, send_raw, start, unbase64},
};

/// The largest POST body the authorization server reads: 64 KiB.
const MAX_BODY: usize = 64 * 1024;

fn origin(lab: &Lab) -> String {
    format!("http://auth.as.test:{}", lab.idp.port())
}

async fn as_send(lab: &Lab, method: &str, target: &str, headers: &str, body: &str) -> Reply {
    send_raw(
        lab.idp,
        method,
        &format!("{AS_HOST}:{}", lab.idp.port()),
        target,
        headers,
        body,
    )
    .await
}

async fn as_get(lab: &Lab, target: &str) -> Reply {
    as_send(lab, "GET", target, "", "").await
}

/// `POST /oauth/token` with `body`, and `Authorization: Basic` for `basic` (`id:secret`).
async fn token(lab: &Lab, basic: Option<&str>, body: &str) -> Reply {
    let headers = basic.map_or_else(String::new, |credentials| {
        format!(
            "Authorization: Basic {}\r\n",
            base64(credentials.as_bytes())
        )
    });
    as_send(lab, "POST", "/oauth/token", &headers, body).await
}

async fn hubspot(lab: &Lab, body: &str) -> Reply {
    as_send(lab, "POST", "/hubspot/oauth/v1/token", "", body).await
}

fn json_of(reply: &Reply) -> Value {
    assert_eq!(
        reply.header("content-type"),
        Some("application/json"),
        "{reply:?}"
    );
    serde_json::from_str(&reply.body).unwrap_or_else(|e| panic!("JSON body ({e}): {reply:?}"))
}

/// The claims of an unsigned JWT, after checking its header and empty signature.
fn claims(jwt: &str) -> Value {
    let parts: Vec<&str> = jwt.split('.').collect();
    assert_eq!(parts.len(), 3, "{jwt}");
    assert!(!parts[0].contains('='), "no padding");
    assert!(!parts[1].contains('='), "no padding");
    assert_eq!(parts[2], "", "empty signature");
    let header: Value = serde_json::from_slice(&unbase64(parts[0])).expect("header JSON");
    assert_eq!(header, json!({"alg": "none", "typ": "JWT"}));
    serde_json::from_slice(&unbase64(parts[1])).expect("claims JSON")
}

fn assert_token(reply: &Reply, token_type: &str, scope: &str, refresh: bool) -> Value {
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = json_of(reply);
    assert_eq!(body["token_type"], token_type);
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(body["scope"], scope);
    if refresh {
        assert_eq!(body["refresh_token"], "good-refresh");
    } else {
        assert!(body.get("refresh_token").is_none(), "{body}");
    }
    let expected_keys = if refresh { 5 } else { 4 };
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(expected_keys)
    );
    claims(body["access_token"].as_str().expect("access_token"))
}

fn assert_oauth_error(reply: &Reply, status: u16, error: &str, description: Option<&str>) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    let body = json_of(reply);
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
    if let Some(description) = description {
        assert_eq!(body["error_description"], description);
    }
    assert_eq!(body.as_object().map(serde_json::Map::len), Some(2));
}

fn assert_invalid_client(reply: &Reply) {
    assert_oauth_error(
        reply,
        401,
        "invalid_client",
        Some("client authentication failed"),
    );
    assert_eq!(
        reply.header("www-authenticate"),
        Some(r#"Basic realm="lab""#)
    );
}

#[tokio::test]
async fn client_credentials_by_basic_and_by_post() {
    let lab = start();
    let origin = origin(&lab);

    let basic = token(
        &lab,
        Some("lab-client:lab-secret"),
        "grant_type=client_credentials",
    )
    .await;
    assert_eq!(basic.header("x-request-id"), Some("req-1"));
    let claims = assert_token(&basic, "Bearer", "read", false);
    assert_eq!(
        claims,
        json!({
            "iss": origin,
            "aud": "https://api.lab.test",
            "sub": "lab-client",
            "scp": ["read"],
            "scope": "read",
            "exp": 4_102_444_800_u64,
            "iat": 1_700_000_000_u64,
        })
    );

    let post = token(
        &lab,
        None,
        "grant_type=client_credentials&client_id=lab-client&client_secret=lab-secret",
    )
    .await;
    assert_eq!(post.header("x-request-id"), Some("req-2"));
    assert_token(&post, "Bearer", "read", false);
    // The claims' order is the documented one.
    let body = json_of(&post);
    let payload = unbase64(
        body["access_token"]
            .as_str()
            .expect("token")
            .split('.')
            .nth(1)
            .expect("payload"),
    );
    assert!(
        String::from_utf8(payload)
            .expect("UTF-8")
            .starts_with(&format!(r#"{{"iss":"{origin}","aud":"https://api.lab.test","sub":"lab-client","scp":["read"],"scope":"read","exp":4102444800,"iat":1700000000}}"#))
    );

    // A non-Basic Authorization header is ignored in favour of the form.
    let bearer = as_send(
        &lab,
        "POST",
        "/oauth/token",
        "Authorization: Bearer xyz\r\n",
        "grant_type=client_credentials&client_id=lab-client&client_secret=lab-secret",
    )
    .await;
    assert_token(&bearer, "Bearer", "read", false);
    assert_eq!(bearer.header("x-request-id"), Some("req-3"));
}

#[tokio::test]
async fn scopes_are_checked_and_reduced() {
    let lab = start();
    // `+` and `%20` both separate scopes; `write` is never granted; duplicates collapse.
    for body in [
        "grant_type=client_credentials&scope=read+write+openid",
        "grant_type=client_credentials&scope=read%20write%20openid",
        "grant_type=client_credentials&scope=read+write+openid+read",
    ] {
        let reply = token(&lab, Some("lab-client:lab-secret"), body).await;
        let claims = assert_token(&reply, "Bearer", "read openid", false);
        assert_eq!(claims["scp"], json!(["read", "openid"]));
        assert_eq!(claims["scope"], "read openid");
    }
    let email = token(
        &lab,
        Some("lab-client:lab-secret"),
        "grant_type=client_credentials&scope=email",
    )
    .await;
    assert_eq!(
        assert_token(&email, "Bearer", "email", false)["scp"],
        json!(["email"])
    );
    // Only `write`: nothing is granted.
    let write = token(
        &lab,
        Some("lab-client:lab-secret"),
        "grant_type=client_credentials&scope=write",
    )
    .await;
    assert_eq!(assert_token(&write, "Bearer", "", false)["scp"], json!([]));
    // An empty scope is no scope.
    let empty = token(
        &lab,
        Some("lab-client:lab-secret"),
        "grant_type=client_credentials&scope=",
    )
    .await;
    assert_token(&empty, "Bearer", "read", false);

    for scope in ["admin", "read+admin", "READ"] {
        let reply = token(
            &lab,
            Some("lab-client:lab-secret"),
            &format!("grant_type=client_credentials&scope={scope}"),
        )
        .await;
        assert_oauth_error(&reply, 400, "invalid_scope", None);
    }
}

#[tokio::test]
async fn token_errors() {
    let lab = start();
    let good = "grant_type=client_credentials";

    // Client authentication.
    assert_invalid_client(&token(&lab, Some("lab-client:wrong"), good).await);
    assert_invalid_client(&token(&lab, Some("nobody:lab-secret"), good).await);
    assert_invalid_client(&token(&lab, Some("lab-client"), good).await);
    assert_invalid_client(
        &token(
            &lab,
            None,
            "grant_type=client_credentials&client_id=lab-client&client_secret=wrong",
        )
        .await,
    );
    assert_invalid_client(
        &token(
            &lab,
            None,
            "grant_type=client_credentials&client_id=lab-client",
        )
        .await,
    );
    assert_invalid_client(&token(&lab, None, good).await);
    // Basic, when present, is the only credential looked at.
    assert_invalid_client(
        &token(
            &lab,
            Some("lab-client:wrong"),
            "grant_type=client_credentials&client_id=lab-client&client_secret=lab-secret",
        )
        .await,
    );
    let garbage = as_send(
        &lab,
        "POST",
        "/oauth/token",
        "Authorization: Basic !!!\r\n",
        good,
    )
    .await;
    assert_invalid_client(&garbage);
    let bare = as_send(
        &lab,
        "POST",
        "/oauth/token",
        "Authorization: Basic\r\n",
        "grant_type=client_credentials&client_id=lab-client&client_secret=lab-secret",
    )
    .await;
    assert_invalid_client(&bare);

    // Grant types.
    let missing = token(&lab, Some("lab-client:lab-secret"), "scope=read").await;
    assert_oauth_error(&missing, 400, "invalid_request", None);
    for grant in ["password", "authorization_code", "urn%3Aietf%3Aparams"] {
        let reply = token(
            &lab,
            Some("lab-client:lab-secret"),
            &format!("grant_type={grant}"),
        )
        .await;
        assert_oauth_error(&reply, 400, "unsupported_grant_type", None);
    }
    let restricted = token(&lab, Some("restricted-client:restricted-secret"), good).await;
    assert_oauth_error(&restricted, 400, "unauthorized_client", None);
    assert!(restricted.header("www-authenticate").is_none());
    let restricted_post = token(
        &lab,
        None,
        "grant_type=client_credentials&client_id=restricted-client&client_secret=restricted-secret",
    )
    .await;
    assert_oauth_error(&restricted_post, 400, "unauthorized_client", None);

    // Every answer of the endpoint is numbered.
    let ids: Vec<u64> = [&garbage, &missing, &restricted, &restricted_post]
        .iter()
        .map(|reply| {
            reply
                .header("x-request-id")
                .and_then(|id| id.strip_prefix("req-"))
                .and_then(|n| n.parse().ok())
                .expect("x-request-id")
        })
        .collect();
    assert!(ids.windows(2).all(|pair| pair[0] < pair[1]), "{ids:?}");

    // Too large a body.
    let too_big = token(
        &lab,
        Some("lab-client:lab-secret"),
        &"a".repeat(MAX_BODY + 1),
    )
    .await;
    assert_oauth_error(&too_big, 413, "invalid_request", None);
    assert!(too_big.header("x-request-id").is_some());
    // Garbage is just fields that do not match.
    let junk = token(&lab, Some("lab-client:lab-secret"), "%%%&&==\u{7f}%ZZ").await;
    assert_oauth_error(&junk, 400, "invalid_request", None);

    // GET is not allowed, and still numbered.
    let get = as_get(&lab, "/oauth/token").await;
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));
    assert!(get.header("x-request-id").is_some());
}

#[tokio::test]
async fn refresh_token_grant() {
    let lab = start();
    let good = token(
        &lab,
        Some("lab-client:lab-secret"),
        "grant_type=refresh_token&refresh_token=good-refresh",
    )
    .await;
    let claims = assert_token(&good, "Bearer", "read", true);
    assert_eq!(claims["sub"], "lab-client");
    let scoped = token(
        &lab,
        None,
        "grant_type=refresh_token&refresh_token=good-refresh&scope=openid+write&client_id=lab-client&client_secret=lab-secret",
    )
    .await;
    assert_token(&scoped, "Bearer", "openid", true);
    // The restricted client may refresh.
    let restricted = token(
        &lab,
        Some("restricted-client:restricted-secret"),
        "grant_type=refresh_token&refresh_token=good-refresh",
    )
    .await;
    assert_eq!(
        assert_token(&restricted, "Bearer", "read", true)["sub"],
        "restricted-client"
    );

    for refresh in ["expired-refresh", "anything", "GOOD-REFRESH"] {
        let reply = token(
            &lab,
            Some("lab-client:lab-secret"),
            &format!("grant_type=refresh_token&refresh_token={refresh}"),
        )
        .await;
        assert_oauth_error(
            &reply,
            400,
            "invalid_grant",
            Some("refresh token expired or revoked"),
        );
        assert_eq!(
            reply.body,
            r#"{"error":"invalid_grant","error_description":"refresh token expired or revoked"}"#
        );
    }
    for body in [
        "grant_type=refresh_token",
        "grant_type=refresh_token&refresh_token=",
    ] {
        let reply = token(&lab, Some("lab-client:lab-secret"), body).await;
        assert_oauth_error(&reply, 400, "invalid_request", None);
    }
    // Client authentication comes first.
    let bad_client = token(
        &lab,
        Some("lab-client:nope"),
        "grant_type=refresh_token&refresh_token=good-refresh",
    )
    .await;
    assert_invalid_client(&bad_client);
}

#[tokio::test]
async fn a_public_client_refreshes_with_its_id_alone() {
    let lab = start();
    let refresh = "grant_type=refresh_token&refresh_token=good-refresh&client_id=lab-public";
    let public = token(&lab, None, refresh).await;
    assert_eq!(
        assert_token(&public, "Bearer", "read", true)["sub"],
        "lab-public"
    );
    let scoped = token(&lab, None, &format!("{refresh}&scope=openid+write")).await;
    assert_token(&scoped, "Bearer", "openid", true);
    // The refresh token is still checked.
    let stale = token(
        &lab,
        None,
        "grant_type=refresh_token&refresh_token=expired-refresh&client_id=lab-public",
    )
    .await;
    assert_oauth_error(&stale, 400, "invalid_grant", None);
    // Held to its method: any secret, in the form or a Basic header, is refused.
    for (basic, body) in [
        (None, format!("{refresh}&client_secret=x")),
        (None, format!("{refresh}&client_secret=")),
        (Some("lab-public:"), refresh.to_owned()),
        (
            Some("lab-public:x"),
            "grant_type=refresh_token&refresh_token=good-refresh".to_owned(),
        ),
    ] {
        assert_invalid_client(&token(&lab, basic, &body).await);
    }
    // client_credentials is for confidential clients (RFC 6749 §4.4).
    let credentials = token(
        &lab,
        None,
        "grant_type=client_credentials&client_id=lab-public",
    )
    .await;
    assert_oauth_error(&credentials, 400, "unauthorized_client", None);
    // A confidential client without its secret is refused the same refresh.
    let confidential = token(
        &lab,
        None,
        "grant_type=refresh_token&refresh_token=good-refresh&client_id=lab-client",
    )
    .await;
    assert_invalid_client(&confidential);
}

#[tokio::test]
async fn hubspot_token_endpoint() {
    let lab = start();
    hubspot_refusals(&lab).await;
    hubspot_grants(&lab).await;
}

/// The client id and secret of `lab-client`, as form fields.
const HUBSPOT_CREDS: &str = "client_id=lab-client&client_secret=lab-secret";

/// Checks a `HubSpot`-shaped error: 400, the body and the correlation header.
fn assert_hubspot(reply: &Reply, status: &str, message: &str, id: &str, category: bool) {
    assert_eq!(reply.status, 400, "{reply:?}");
    assert_eq!(reply.header("x-hubspot-correlation-id"), Some(id));
    let mut expected = json!({"status": status, "message": message, "correlationId": id});
    if category {
        expected["category"] = json!("VALIDATION_ERROR");
    }
    assert_eq!(json_of(reply), expected);
}

fn validation(reply: &Reply) {
    assert_hubspot(
        reply,
        "error",
        "missing or invalid parameter",
        "c0ffee00-0000-4000-8000-000000000001",
        true,
    );
}

fn bad_client(reply: &Reply) {
    assert_hubspot(
        reply,
        "BAD_CLIENT_ID",
        "missing or unknown client id",
        "c0ffee00-0000-4000-8000-000000000002",
        false,
    );
}

fn bad_refresh(reply: &Reply) {
    assert_hubspot(
        reply,
        "BAD_REFRESH_TOKEN",
        "missing or unknown refresh token",
        "c0ffee00-0000-4000-8000-000000000003",
        false,
    );
}

/// Which refusal each bad request gets, in the order the endpoint checks.
async fn hubspot_refusals(lab: &Lab) {
    let creds = HUBSPOT_CREDS;
    // Missing parameters come before the client check.
    validation(&hubspot(lab, creds).await);
    validation(&hubspot(lab, "grant_type=refresh_token&refresh_token=good-refresh").await);
    validation(
        &hubspot(
            lab,
            "grant_type=refresh_token&client_id=&client_secret=x&refresh_token=good-refresh",
        )
        .await,
    );
    validation(&hubspot(lab, "").await);
    // Unknown client, wrong secret.
    bad_client(
        &hubspot(
            lab,
            "grant_type=refresh_token&client_id=nobody&client_secret=lab-secret&refresh_token=good-refresh",
        )
        .await,
    );
    bad_client(
        &hubspot(
            lab,
            "grant_type=refresh_token&client_id=lab-client&client_secret=wrong&refresh_token=good-refresh",
        )
        .await,
    );
    bad_client(&hubspot(lab, "grant_type=refresh_token&client_id=lab-client").await);
    // Refresh tokens.
    bad_refresh(
        &hubspot(
            lab,
            &format!("grant_type=refresh_token&{creds}&refresh_token=expired-refresh"),
        )
        .await,
    );
    bad_refresh(&hubspot(lab, &format!("grant_type=refresh_token&{creds}")).await);
    // Other refusals are validation errors.
    validation(&hubspot(lab, &format!("grant_type=password&{creds}")).await);
    validation(
        &hubspot(
            lab,
            "grant_type=client_credentials&client_id=restricted-client&client_secret=restricted-secret",
        )
        .await,
    );
    validation(
        &hubspot(
            lab,
            &format!("grant_type=client_credentials&{creds}&scope=admin"),
        )
        .await,
    );
}

/// Grants by refresh token and client credentials, by form fields and by Basic.
async fn hubspot_grants(lab: &Lab) {
    let creds = HUBSPOT_CREDS;
    // Success.
    let ok = hubspot(
        lab,
        &format!("grant_type=refresh_token&{creds}&refresh_token=good-refresh&scope=read+write"),
    )
    .await;
    assert_eq!(
        ok.header("x-hubspot-correlation-id"),
        Some("c0ffee00-0000-4000-8000-000000000000")
    );
    let claims = assert_token(&ok, "bearer", "read", true);
    assert_eq!(claims["scp"], json!(["read"]));
    assert!(ok.header("x-request-id").is_none());
    let cc = hubspot(lab, &format!("grant_type=client_credentials&{creds}")).await;
    assert_token(&cc, "bearer", "read", false);
    // Basic works here too.
    let basic = as_send(
        lab,
        "POST",
        "/hubspot/oauth/v1/token",
        &format!(
            "Authorization: Basic {}\r\n",
            base64(b"lab-client:lab-secret")
        ),
        "grant_type=client_credentials",
    )
    .await;
    assert_token(&basic, "bearer", "read", false);

    let get = as_get(lab, "/hubspot/oauth/v1/token").await;
    assert_eq!(get.status, 405);
    assert_eq!(get.header("allow"), Some("POST"));
}

#[tokio::test]
async fn discovery_documents_and_keys() {
    let lab = start();
    let port = lab.idp.port();
    let origin = origin(&lab);
    let good = json!({
        "issuer": origin,
        "authorization_endpoint": format!("{origin}/oauth/authorize"),
        "token_endpoint": format!("{origin}/oauth/token"),
        "jwks_uri": format!("{origin}/jwks"),
        "userinfo_endpoint": format!("{origin}/userinfo"),
        "scopes_supported": ["openid", "email", "read", "write"],
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
    });

    let discovery = as_get(&lab, "/.well-known/openid-configuration").await;
    assert_eq!(discovery.status, 200);
    assert_eq!(json_of(&discovery), good);

    let wrong = as_get(&lab, "/wrong/.well-known/openid-configuration").await;
    assert_eq!(wrong.status, 200);
    let mut expected = good.clone();
    expected["issuer"] = json!(format!("{origin}/elsewhere"));
    expected["userinfo_endpoint"] = json!(format!("http://missing.lab.test:{port}/userinfo"));
    expected["jwks_uri"] = json!(format!("{origin}/bad-jwks"));
    assert_eq!(json_of(&wrong), expected);
    // The userinfo host really is NXDOMAIN in the lab zone.
    let answer = udp(lab.dns, "missing.lab.test.", RecordType::A).await;
    assert_eq!(answer.metadata.response_code, ResponseCode::NXDomain);

    let oidc_with_path = as_get(&lab, "/rfc8414/.well-known/openid-configuration").await;
    assert_eq!(oidc_with_path.status, 404);
    let rfc8414 = as_get(&lab, "/.well-known/oauth-authorization-server/rfc8414").await;
    assert_eq!(rfc8414.status, 200);
    let mut expected = good.clone();
    expected["issuer"] = json!(format!("{origin}/rfc8414"));
    assert_eq!(json_of(&rfc8414), expected);

    let jwks = as_get(&lab, "/jwks").await;
    assert_eq!(jwks.status, 200);
    let jwks = json_of(&jwks);
    let keys = jwks["keys"].as_array().expect("keys");
    assert_eq!(keys.len(), 2);
    assert_eq!(keys[0]["kty"], "RSA");
    assert_eq!(keys[0]["kid"], "lab-1");
    assert_eq!(keys[0]["use"], "sig");
    assert_eq!(keys[0]["alg"], "RS256");
    assert_eq!(keys[0]["e"], "AQAB");
    let n = keys[0]["n"].as_str().expect("n");
    assert!(!n.contains(['=', '+', '/']), "base64url without padding");
    assert_eq!(unbase64(n).len(), 256);
    assert_eq!(keys[1]["kty"], "EC");
    assert_eq!(keys[1]["kid"], "lab-2");
    assert_eq!(keys[1]["crv"], "P-256");
    for coordinate in ["x", "y"] {
        let value = keys[1][coordinate].as_str().expect("coordinate");
        assert!(!value.contains(['=', '+', '/']));
        assert_eq!(unbase64(value).len(), 32);
    }

    let bad = as_get(&lab, "/bad-jwks").await;
    assert_eq!(bad.status, 200);
    assert_eq!(bad.header("content-type"), Some("text/html"));
    assert_eq!(bad.body, "<html>not keys</html>");

    let authorize = as_get(&lab, "/oauth/authorize?client_id=lab-client").await;
    assert_eq!(authorize.status, 200);
    assert_eq!(authorize.title(), "Sign in - Lab AS");
    assert_eq!(
        authorize.header("content-type"),
        Some("text/html; charset=utf-8")
    );

    let userinfo = as_get(&lab, "/userinfo").await;
    assert_eq!(userinfo.status, 401);
    assert_eq!(userinfo.header("www-authenticate"), Some("Bearer"));
    assert_eq!(json_of(&userinfo), json!({"error": "invalid_token"}));

    assert_eq!(as_get(&lab, "/nope").await.status, 404);
    assert_eq!(
        as_get(&lab, "/.well-known/oauth-authorization-server")
            .await
            .status,
        404
    );
    let post_jwks = as_send(&lab, "POST", "/jwks", "", "").await;
    assert_eq!(post_jwks.status, 405);
    assert_eq!(post_jwks.header("allow"), Some("GET, HEAD"));
}

#[tokio::test]
async fn routing_by_host() {
    let lab = start();
    // Case and port do not matter; the other sites do not serve these routes.
    let upper = send_raw(
        lab.idp,
        "GET",
        "AUTH.AS.TEST:1",
        "/.well-known/openid-configuration",
        "",
        "",
    )
    .await;
    assert_eq!(upper.status, 200);
    // The issuer carries the listener's port, whatever the Host said.
    assert_eq!(json_of(&upper)["issuer"], origin(&lab));
    let bare = send_raw(lab.idp, "GET", "auth.as.test", "/jwks", "", "").await;
    assert_eq!(bare.status, 200);
    for host in ["idp.idp.test", "app.sp.test", "as.test"] {
        let other = send_raw(lab.idp, "GET", host, "/jwks", "", "").await;
        assert_eq!(other.status, 404, "{host}");
    }
}
