//! `reach oauth scopes|token|discover`: the scope lint on files of both
//! app shapes, and grants and discovery against the lab's authorization
//! server (`auth.as.test`, reached with `--resolve`).

use reach_report::oauth::{OauthDiscoverDetails, OauthTokenDetails};
use reach_report::{Check, Code, Details, Severity, Status};

use crate::{Run, codes, command, lab, run_with};

const AS: &str = "auth.as.test";

fn base() -> String {
    format!("http://{AS}:{}", lab().idp.port())
}

/// `reach oauth SUB` with the AS name resolved and the lab's DNS (for the
/// names a document points at).
fn oauth(sub: &str, envs: &[(&str, &str)], args: &[&str]) -> Run {
    let lab = lab();
    let mut cmd = command();
    cmd.arg("oauth")
        .arg(sub)
        .arg("--resolve")
        .arg(format!("{AS}:{}:127.0.0.1", lab.idp.port()))
        .arg("--dns-server")
        .arg(lab.dns.to_string())
        .env_remove("LAB_SECRET")
        .env_remove("LAB_REFRESH");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    run_with(cmd, args)
}

fn scopes(args: &[&str]) -> Run {
    let mut cmd = command();
    cmd.arg("oauth").arg("scopes");
    run_with(cmd, args)
}

fn only(run: &Run) -> &Check {
    run.only()
}

fn token_details(check: &Check) -> &OauthTokenDetails {
    match &check.details {
        Details::OauthToken(d) => d,
        _ => panic!("no token details: {check:#?}"),
    }
}

fn discover_details(check: &Check) -> &OauthDiscoverDetails {
    match &check.details {
        Details::OauthDiscover(d) => d,
        _ => panic!("no discovery details: {check:#?}"),
    }
}

const HSMETA: &str = r#"{"uid": "lab-app", "type": "app", "config": {"name": "Lab", "auth": {
  "type": "oauth",
  "redirectUrls": ["https://app.example.com/oauth/callback"],
  "requiredScopes": ["oauth", "crm.objects.contacts.read"],
  "optionalScopes": ["crm.objects.companies.read"],
  "conditionallyRequiredScopes": ["crm.objects.deals.read"]}}}"#;

const PUBLIC_APP: &str = r#"{"name": "Lab", "auth": {
  "redirectUrls": ["https://app.example.com/oauth/callback"],
  "requiredScopes": ["oauth"], "optionalScopes": [], "conditionallyRequiredScopes": []}}"#;

#[test]
fn install_urls_are_linted_against_both_app_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let hsmeta = dir.path().join("app-hsmeta.json");
    std::fs::write(&hsmeta, HSMETA).unwrap();
    let public = dir.path().join("public-app.json");
    std::fs::write(&public, PUBLIC_APP).unwrap();

    let bad = "https://app.hubspot.com/oauth/authorize?client_id=abc\
               &redirect_uri=https%3A%2F%2Fevil.example%2Fcb\
               &scope=oauth%20crm.objects.companies.read%20tickets\
               &optional_scope=crm.objects.contacts.read+crm.objects.deals.read";
    let run = scopes(&["--app", hsmeta.to_str().unwrap(), "--url", bad]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let check = only(&run);
    let found = codes(check);
    for code in [
        Code::OauthScopeRequiredInOptional,
        Code::OauthScopeNotConfigured,
        Code::OauthScopeConditionalInOptional,
        Code::OauthScopeOptionalInScope,
        Code::OauthRedirectUriMismatch,
    ] {
        assert!(found.contains(&code), "{code:?} missing from {found:?}");
    }
    let Details::OauthScopes(d) = &check.details else {
        panic!("{check:#?}")
    };
    // The corrected URL passes.
    let run = scopes(&["--app", hsmeta.to_str().unwrap(), "--url", &d.corrected_url]);
    assert_eq!(run.code, 0, "{}: {}", d.corrected_url, run.stdout);

    let missing = "https://app.hubspot.com/oauth/authorize?client_id=abc\
                   &redirect_uri=https://app.example.com/oauth/callback&scope=crm.objects.deals.read";
    let run = scopes(&["--app", public.to_str().unwrap(), "--url", missing]);
    let check = only(&run);
    assert!(codes(check).contains(&Code::OauthScopeRequiredMissing));
    assert!(codes(check).contains(&Code::OauthScopeNotConfigured));
    assert!(
        check
            .findings
            .iter()
            .any(|f| f.message.contains("the provided scopes are insufficient")),
        "{check:#?}"
    );

    // Flags instead of a file.
    let run = scopes(&[
        "--required",
        "oauth,crm.objects.contacts.read",
        "--redirect-url",
        "https://app.example.com/oauth/callback",
        "--url",
        "https://app.hubspot.com/oauth/authorize?client_id=a&redirect_uri=https://app.example.com/oauth/callback&scope=oauth+crm.objects.contacts.read",
    ]);
    assert_eq!(run.code, 0, "{}", run.stdout);
}

#[test]
fn bad_scope_inputs_exit_2_naming_them() {
    let run = scopes(&[
        "--required",
        "oauth",
        "--url",
        "https://app.hubspot.com/oauth/authorize",
    ]);
    assert_eq!(run.code, 2);
    assert!(
        only(&run).findings[0].message.contains("no query"),
        "{}",
        run.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("odd.json");
    std::fs::write(&odd, r#"{"name": "not an app"}"#).unwrap();
    let run = scopes(&[
        "--app",
        odd.to_str().unwrap(),
        "--url",
        "https://x.example/?client_id=a",
    ]);
    assert_eq!(run.code, 2);
    let message = &only(&run).findings[0].message;
    assert!(
        message.contains("odd.json") && message.contains("tried"),
        "{message}"
    );
}

#[test]
fn client_credentials_good_and_bad() {
    let url = format!("{}/oauth/token", base());
    let run = oauth(
        "token",
        &[("LAB_SECRET", "lab-secret")],
        &[
            "--token-url",
            &url,
            "--client-id",
            "lab-client",
            "--client-secret-env",
            "LAB_SECRET",
            "--scope",
            "read write",
        ],
    );
    let check = only(&run);
    // A token, but the lab never grants `write`.
    assert_eq!(codes(check), [Code::OauthTokenScopeReduced], "{check:#?}");
    assert_eq!(check.status, Status::Warn);
    let d = token_details(check);
    assert_eq!(d.token_type.as_deref(), Some("Bearer"));
    assert_eq!(d.expires_in, Some(3600));
    assert!(d.expires_at.is_some());
    assert_eq!(d.scopes_granted, ["read"]);
    let claims = d.access_token_claims.as_ref().expect("JWT claims");
    assert_eq!(claims.aud, ["https://api.lab.test"]);
    assert!(!claims.verified);
    for secret in ["lab-secret", "eyJ", "bGFiLWNsaWVudDpsYWItc2VjcmV0"] {
        assert!(
            !run.stdout.contains(secret),
            "{secret} leaked: {}",
            run.stdout
        );
    }

    // The same by form fields.
    let run = oauth(
        "token",
        &[("LAB_SECRET", "lab-secret")],
        &[
            "--token-url",
            &url,
            "--client-id",
            "lab-client",
            "--client-secret-env",
            "LAB_SECRET",
            "--auth",
            "post",
        ],
    );
    assert_eq!(only(&run).status, Status::Pass, "{}", run.stdout);
}

#[test]
fn client_credentials_refused() {
    let url = format!("{}/oauth/token", base());

    let run = oauth(
        "token",
        &[("LAB_SECRET", "wrong")],
        &[
            "--token-url",
            &url,
            "--client-id",
            "lab-client",
            "--client-secret-env",
            "LAB_SECRET",
        ],
    );
    assert_eq!(run.code, 1);
    let check = only(&run);
    assert_eq!(codes(check), [Code::OauthTokenInvalidClient]);
    assert!(
        check.findings[0]
            .message
            .contains("Failed to receive access token")
    );
    assert!(token_details(check).request_id.is_some(), "{check:#?}");
    // The answer's own words are in the evidence (issue 16, point 11).
    let body = check.findings[0].evidence["body"]
        .as_str()
        .unwrap_or_default();
    assert!(body.contains("invalid_client"), "{check:#?}");

    for (client, secret, scope, want) in [
        (
            "restricted-client",
            "restricted-secret",
            "read",
            Code::OauthTokenUnauthorizedClient,
        ),
        (
            "lab-client",
            "lab-secret",
            "admin",
            Code::OauthTokenInvalidScope,
        ),
    ] {
        let run = oauth(
            "token",
            &[("LAB_SECRET", secret)],
            &[
                "--token-url",
                &url,
                "--client-id",
                client,
                "--client-secret-env",
                "LAB_SECRET",
                "--scope",
                scope,
            ],
        );
        assert_eq!(codes(only(&run)), [want], "{}", run.stdout);
    }
}

#[test]
fn refresh_tokens_standard_and_hubspot_shaped() {
    let url = format!("{}/oauth/token", base());
    let args = |url: &str| -> Vec<String> {
        [
            "--token-url",
            url,
            "--client-id",
            "lab-client",
            "--client-secret-env",
            "LAB_SECRET",
            "--grant",
            "refresh_token",
            "--refresh-token-env",
            "LAB_REFRESH",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    };
    let refs = |v: &[String]| -> Vec<String> { v.to_vec() };
    let run_with_refresh = |url: &str, refresh: &str, extra: &[&str]| {
        let mut a = refs(&args(url));
        a.extend(extra.iter().map(|s| (*s).to_owned()));
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        oauth(
            "token",
            &[("LAB_SECRET", "lab-secret"), ("LAB_REFRESH", refresh)],
            &a,
        )
    };
    let run = run_with_refresh(&url, "good-refresh", &[]);
    let check = only(&run);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    assert!(token_details(check).refresh_token_returned);
    assert!(!run.stdout.contains("good-refresh"), "{}", run.stdout);

    let run = run_with_refresh(&url, "expired-refresh", &[]);
    let check = only(&run);
    assert_eq!(codes(check), [Code::OauthTokenInvalidGrant]);
    assert!(check.findings[0].message.contains("re-authorized"));
    assert!(!run.stdout.contains("expired-refresh"), "{}", run.stdout);

    let hubspot = format!("{}/hubspot/oauth/v1/token", base());
    let run = run_with_refresh(&hubspot, "expired-refresh", &["--auth", "post"]);
    let check = only(&run);
    assert_eq!(codes(check), [Code::OauthTokenInvalidGrant], "{check:#?}");
    let d = token_details(check);
    assert_eq!(d.error.as_deref(), Some("BAD_REFRESH_TOKEN"));
    assert_eq!(
        d.request_id.as_deref(),
        Some("c0ffee00-0000-4000-8000-000000000003")
    );
    assert_eq!(
        check.findings[0].evidence["request_id"],
        "c0ffee00-0000-4000-8000-000000000003"
    );

    let run = oauth(
        "token",
        &[("LAB_SECRET", "nope")],
        &[
            "--token-url",
            &hubspot,
            "--client-id",
            "lab-client",
            "--client-secret-env",
            "LAB_SECRET",
            "--auth",
            "post",
        ],
    );
    assert_eq!(codes(only(&run)), [Code::OauthTokenInvalidClient]);
    // A grant the client may not use: HubSpot's validation error.
    let run = oauth(
        "token",
        &[("LAB_SECRET", "restricted-secret")],
        &[
            "--token-url",
            &hubspot,
            "--client-id",
            "restricted-client",
            "--client-secret-env",
            "LAB_SECRET",
            "--auth",
            "post",
        ],
    );
    let check = only(&run);
    assert_eq!(codes(check), [Code::OauthTokenError]);
    assert_eq!(
        token_details(check).error.as_deref(),
        Some("VALIDATION_ERROR")
    );
}

#[test]
fn secrets_only_from_the_environment_or_files() {
    let url = format!("{}/oauth/token", base());
    let run = oauth(
        "token",
        &[],
        &[
            "--token-url",
            &url,
            "--client-id",
            "lab-client",
            "--client-secret-env",
            "LAB_SECRET",
        ],
    );
    assert_eq!(run.code, 2);
    assert!(
        only(&run).findings[0].message.contains("LAB_SECRET"),
        "{}",
        run.stdout
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "lab-secret\n").unwrap();
    let run = oauth(
        "token",
        &[],
        &[
            "--token-url",
            &url,
            "--client-id",
            "lab-client",
            "--client-secret-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
}

/// `reach oauth token` as a public client (`--auth none`) refreshing at
/// the standard endpoint, plus `extra`.
fn public_refresh(client: &str, envs: &[(&str, &str)], extra: &[&str]) -> Run {
    let url = format!("{}/oauth/token", base());
    let mut args = vec!["--token-url", &url, "--client-id", client, "--auth", "none"];
    args.extend_from_slice(extra);
    oauth("token", envs, &args)
}

#[test]
fn a_public_client_refreshes_with_its_client_id_alone() {
    let refresh = [("LAB_REFRESH", "good-refresh")];
    let grant = [
        "--grant",
        "refresh_token",
        "--refresh-token-env",
        "LAB_REFRESH",
    ];
    let run = public_refresh("lab-public", &refresh, &grant);
    assert_eq!(run.code, 0, "{}", run.stdout);
    let check = only(&run);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let d = token_details(check);
    assert_eq!(d.auth, "none");
    assert_eq!(d.grant, "refresh_token");
    assert_eq!(d.client_id, "lab-public");
    assert!(d.refresh_token_returned);
    // The lab refuses lab-public with any secret, so none was sent; its
    // token says whom it was issued to.
    let claims = d.access_token_claims.as_ref().expect("JWT claims");
    assert_eq!(claims.scopes, ["read"]);
    // Neither the refresh token nor the access token reaches the report,
    // in any format.
    for format in ["json", "text", "md", "junit"] {
        let out = command()
            .arg("oauth")
            .arg("token")
            .arg("--resolve")
            .arg(format!("{AS}:{}:127.0.0.1", lab().idp.port()))
            .args(["--token-url", &format!("{}/oauth/token", base())])
            .args(["--client-id", "lab-public", "--auth", "none"])
            .args(grant)
            .args(["--format", format, "-v"])
            .env("LAB_REFRESH", "good-refresh")
            .output()
            .unwrap();
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {all}");
        for secret in ["good-refresh", "eyJ"] {
            assert!(!all.contains(secret), "{secret} leaked ({format}): {all}");
        }
    }
}

#[test]
fn a_public_client_the_server_has_as_confidential_is_told_so() {
    let run = public_refresh(
        "lab-client",
        &[("LAB_REFRESH", "good-refresh")],
        &[
            "--grant",
            "refresh_token",
            "--refresh-token-env",
            "LAB_REFRESH",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stdout);
    let check = only(&run);
    assert_eq!(codes(check), [Code::OauthTokenInvalidClient], "{check:#?}");
    let f = &check.findings[0];
    assert!(
        f.message.starts_with(&format!(
            "{}/oauth/token: Failed to receive access token: the server does not accept this client without a secret",
            base()
        )),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("registered as a confidential client"),
        "{}",
        f.message
    );
    assert!(
        f.remedy.contains("--auth none") && f.remedy.contains("--client-secret-env"),
        "{}",
        f.remedy
    );
    let d = token_details(check);
    assert_eq!(d.auth, "none");
    assert_eq!(d.error.as_deref(), Some("invalid_client"));
    assert!(d.request_id.is_some(), "{d:#?}");
}

#[test]
fn a_public_client_with_a_secret_or_client_credentials_is_refused() {
    let refresh = [
        "--grant",
        "refresh_token",
        "--refresh-token-env",
        "LAB_REFRESH",
    ];
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret");
    std::fs::write(&file, "lab-secret\n").unwrap();
    let file = file.to_str().unwrap();
    // The variable is not even set: the flags are refused before any
    // secret is read.
    for (secret, flag) in [
        (["--client-secret-env", "LAB_SECRET"], "--client-secret-env"),
        (["--client-secret-file", file], "--client-secret-file"),
    ] {
        let mut extra = refresh.to_vec();
        extra.extend(secret);
        let run = public_refresh("lab-public", &[("LAB_REFRESH", "good-refresh")], &extra);
        assert_eq!(run.code, 2, "{}", run.stdout);
        let check = only(&run);
        assert_eq!(codes(check), [Code::InputInvalid], "{check:#?}");
        let message = &check.findings[0].message;
        assert!(
            message.contains("--auth none") && message.contains(flag),
            "{message}"
        );
        assert!(!message.contains("not set"), "{message}");
        assert!(matches!(check.details, Details::None(_)), "{check:#?}");
    }
    // client_credentials, asked for or by default.
    for extra in [&["--grant", "client_credentials"][..], &[]] {
        let run = public_refresh("lab-public", &[], extra);
        assert_eq!(run.code, 2, "{extra:?}: {}", run.stdout);
        let message = &only(&run).findings[0].message;
        assert!(
            message.contains("--auth none")
                && message.contains("--grant client_credentials")
                && message.contains("confidential clients only"),
            "{message}"
        );
    }
    // A confidential method without a secret points at none.
    let url = format!("{}/oauth/token", base());
    let run = oauth(
        "token",
        &[("LAB_REFRESH", "good-refresh")],
        &[
            "--token-url",
            &url,
            "--client-id",
            "lab-public",
            "--auth",
            "post",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let message = &only(&run).findings[0].message;
    assert!(message.contains("--auth none"), "{message}");
}

#[test]
fn a_preflight_entry_with_auth_none() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pre.toml");
    let port = lab().idp.port();
    std::fs::write(
        &file,
        format!(
            r#"[defaults]
resolve = ["{AS}:{port}:127.0.0.1"]

[[oauth_token]]
name = "native app"
token_url = "http://{AS}:{port}/oauth/token"
client_id = "lab-public"
auth = "none"
grant = "refresh_token"
refresh_token_env = "LAB_REFRESH"

[[oauth_token]]
name = "native app with a secret"
token_url = "http://{AS}:{port}/oauth/token"
client_id = "lab-public"
auth = "none"
client_secret_env = "LAB_SECRET"
grant = "refresh_token"
refresh_token_env = "LAB_REFRESH"
"#
        ),
    )
    .unwrap();
    let mut cmd = command();
    cmd.arg("run")
        .env("LAB_REFRESH", "good-refresh")
        .env("LAB_SECRET", "lab-secret");
    let run = run_with(cmd, &[file.to_str().unwrap()]);
    // The second entry's input error gives exit 2; the first one ran.
    assert_eq!(run.code, 2, "{}", run.stdout);
    let [public, with_secret] = &run.report.checks[..] else {
        panic!("{:#?}", run.report.checks)
    };
    assert_eq!(public.status, Status::Pass, "{public:#?}");
    assert_eq!(token_details(public).auth, "none");
    assert!(token_details(public).refresh_token_returned);
    assert_eq!(with_secret.status, Status::Error, "{with_secret:#?}");
    let message = &with_secret.findings[0].message;
    assert!(
        message.contains("--auth none") && message.contains("--client-secret-env"),
        "{message}"
    );
    for secret in ["good-refresh", "lab-secret", "eyJ"] {
        assert!(
            !run.stdout.contains(secret),
            "{secret} leaked: {}",
            run.stdout
        );
    }
}

#[test]
fn discovery_good_wrong_and_rfc8414() {
    let run = oauth("discover", &[], &["--scope", "openid email admin", &base()]);
    let check = only(&run);
    assert_eq!(
        codes(check),
        [Code::OauthDiscoveryScopeUnsupported],
        "{check:#?}"
    );
    assert_eq!(check.findings[0].severity, Severity::Warn);
    let d = discover_details(check);
    assert!(d.endpoints.iter().all(|e| e.reachable), "{d:#?}");
    assert!(d.endpoints.iter().any(|e| e.name == "token_endpoint"));
    assert_eq!(d.jwks_keys.as_ref().map(Vec::len), Some(2));

    let run = oauth("discover", &[], &[&format!("{}/wrong", base())]);
    assert_eq!(run.code, 1);
    let check = only(&run);
    let found = codes(check);
    assert!(
        found.contains(&Code::OauthDiscoveryIssuerMismatch),
        "{found:?}"
    );
    assert!(
        found.contains(&Code::OauthDiscoveryJwksInvalid),
        "{found:?}"
    );
    assert!(found.contains(&Code::DnsNxdomain), "{found:?}");
    let d = discover_details(check);
    let userinfo = d
        .endpoints
        .iter()
        .find(|e| e.name == "userinfo_endpoint")
        .expect("userinfo");
    assert!(!userinfo.reachable);

    let run = oauth("discover", &[], &[&format!("{}/rfc8414", base())]);
    let check = only(&run);
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let d = discover_details(check);
    assert!(
        d.document_url
            .as_deref()
            .is_some_and(|u| u.contains("/.well-known/oauth-authorization-server/rfc8414")),
        "{d:#?}"
    );
}
