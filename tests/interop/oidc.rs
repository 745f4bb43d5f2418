//! Interop cases: OIDC with node oidc-provider as the identity provider and a
//! small relying-party app (`tests/interop/node/oidc-lab.mjs`), judged by
//! headless Chromium (`browser.rs`). Each case walks the flow in Chromium
//! first and asserts what the browser did (the truth), then runs `reach
//! sso` on the same flow and compares it with Chromium hop by hop.
//!
//! The app (`app.oidc-app.test`) and the identity provider
//! (`idp.oidc-idp.test`) are different sites, so the callback is a
//! cross-site request as in real deployments. Case N runs them on 127.0.4.(10N+1) and 127.0.4.(10N+2),
//! port 8443, with a certificate of a CA made for the case.
//!
//! The `oauth_*` cases call the identity provider's token endpoint with
//! curl first (the truth: status and `error`), then with `reach oauth
//! token`, for the lab's service clients (a secret in the header or the
//! form) and its public client (`--auth none`).

use std::path::Path;
use std::process::Command;

use reach_report::{Check, Code};

use crate::browser::{Judgement, Spec, compare, judge, node, node_dir, sso_details};
use crate::{Run, Server, TempDir, case_pki, codes, command, run_with};

const APP: &str = "app.oidc-app.test";
const IDP: &str = "idp.oidc-idp.test";
const PORT: u16 = 8443;

/// The state cookie's attributes, as most apps write it.
const LAX: &str = "Path=/; Secure; HttpOnly; SameSite=Lax";

/// One case's identity provider and app.
struct Lab {
    dir: TempDir,
    app_ip: String,
    idp_ip: String,
    _server: Server,
}

impl Lab {
    /// Starts case `n`'s identity provider and app: the app asks for `response_mode`
    /// (`query` or `form_post`) and writes its state cookie with
    /// `state_cookie` attributes.
    #[track_caller]
    fn start(n: u8, response_mode: &str, state_cookie: &str) -> Lab {
        Lab::start_with(n, response_mode, state_cookie, &serde_json::json!({}))
    }

    /// [`Lab::start`] with more of the lab's settings (`keep_state`,
    /// `lifetime_s`; see `oidc-lab.mjs`).
    #[track_caller]
    fn start_with(n: u8, response_mode: &str, state_cookie: &str, more: &serde_json::Value) -> Lab {
        let node = node();
        let dir = TempDir::new();
        case_pki(dir.path(), "reach interop OIDC CA", "leaf", &[APP, IDP]);
        let app_ip = format!("127.0.4.{}", n * 10 + 1);
        let idp_ip = format!("127.0.4.{}", n * 10 + 2);
        let config = serde_json::json!({
            "cert": dir.arg("leaf.pem"),
            "key": dir.arg("leaf.key"),
            "ca": dir.arg("ca.pem"),
            "idp": {"host": IDP, "addr": idp_ip, "port": PORT},
            "app": {"host": APP, "addr": app_ip, "port": PORT},
            "response_mode": response_mode,
            "state_cookie": state_cookie,
            "lifetime_s": 150,
        });
        let mut config = config;
        for (k, v) in more.as_object().into_iter().flatten() {
            config[k] = v.clone();
        }
        let config = dir.write("lab.json", &config.to_string());
        // node itself, so that dropping the Server stops it by its PID; it
        // also exits by itself after `lifetime_s`.
        let mut cmd = Command::new(node);
        cmd.arg(node_dir().join("oidc-lab.mjs"))
            .arg(config)
            .current_dir(node_dir());
        let log = dir.join("lab.log");
        let server = Server::spawn("the OIDC lab (oidc-provider and the app)", cmd, &log);
        // Its own lines say it listens on both addresses: a TCP connect
        // could reach a stale server of an earlier run on the same address.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let text = server.log_text();
            if text.contains("idp on https://") && text.contains("app on https://") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline && !text.contains("Error"),
                "the OIDC lab did not start on {app_ip} and {idp_ip}: {text}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Lab {
            dir,
            app_ip,
            idp_ip,
            _server: server,
        }
    }

    fn start_url() -> String {
        format!("https://{APP}:{PORT}/")
    }

    fn spec(&self, start: &str) -> Spec {
        Spec::new(start, &[(APP, &self.app_ip), (IDP, &self.idp_ip)])
    }

    /// A Chromium profile directory of this case.
    fn profile(&self) -> std::path::PathBuf {
        let dir = self.dir.join("profile");
        std::fs::create_dir_all(&dir).expect("a profile directory");
        dir
    }

    /// A person signs in to the identity provider for real in Chromium with `profile`:
    /// the identity provider's sign-in page, filled and submitted. They come from the
    /// identity provider's own link (an authorize request that no app session started),
    /// so the profile keeps the identity provider's session and nothing of the app. The
    /// truth that the sign-in worked is asserted here.
    #[track_caller]
    fn sign_in(&self, profile: &Path) -> Judgement {
        let authorize = format!(
            "https://{IDP}:{PORT}/auth?client_id=interop-app&response_type=code&scope=openid%20email\
             &redirect_uri=https%3A%2F%2F{APP}%3A{PORT}%2Fcallback&state=from-the-idp-portal"
        );
        let spec = self.spec(&authorize).profile(profile).step(
            &[
                ("input[name=login]", "alice"),
                ("input[name=password]", "correct horse"),
            ],
            "button[type=submit]",
        );
        let signed_in = judge(&spec, &self.dir);
        assert_eq!(
            signed_in.walk().end.title,
            "Sign-in",
            "the IdP shows its sign-in page first: {:#?}",
            signed_in.walk()
        );
        let after = &signed_in.walks[1];
        let callback = after.hop_to("/callback").unwrap_or_else(|| {
            panic!("the sign-in ends at the app's callback with a code: {after:#?}")
        });
        assert!(callback.url.contains("code="), "{after:#?}");
        assert!(
            signed_in
                .jar
                .iter()
                .any(|c| c.name == "_session" && c.domain == IDP && c.expires.is_some()),
            "the IdP keeps a persistent session cookie: {:#?}",
            signed_in.jar
        );
        signed_in
    }

    /// `reach sso` on `url` with the lab's names, CA and `args`.
    #[track_caller]
    fn reach(&self, url: &str, args: &[&str]) -> Run {
        let app = format!("{APP}:{PORT}:{}", self.app_ip);
        let idp = format!("{IDP}:{PORT}:{}", self.idp_ip);
        let ca = self.dir.arg("ca.pem");
        let mut all = vec![
            "sso",
            "--resolve",
            &app,
            "--resolve",
            &idp,
            "--ca-file",
            &ca,
        ];
        all.extend_from_slice(args);
        all.push(url);
        run_with(command(), &all)
    }

    /// `reach sso` with the jar the sign-in left (`--cookie-jar`).
    #[track_caller]
    fn reach_with_jar(&self, url: &str, signed_in: &Judgement) -> Run {
        let jar = self.dir.write("cookies.txt", &signed_in.cookies_txt);
        let jar = jar.display().to_string();
        self.reach(url, &["--cookie-jar", &jar])
    }
}

/// The `sso.cookie_samesite` finding of `check`, which must name `cookie`.
#[track_caller]
fn samesite_finding_names(check: &Check, cookie: &str) {
    let findings: Vec<_> = check
        .findings
        .iter()
        .filter(|f| f.code == Code::SsoCookieSamesite)
        .collect();
    assert!(
        findings.iter().any(|f| f.message.contains(cookie)
            || serde_json::Value::Object(f.evidence.clone())
                .to_string()
                .contains(cookie)),
        "reach must report sso.cookie_samesite naming {cookie}: {:#?}",
        check.findings
    );
}

/// A fresh browser on the app's start URL: / → /login → the identity provider's authorize
/// endpoint → its sign-in page. reach walks the same chain and stops at the
/// same page.
#[test]
fn oidc_fresh_code_flow_ends_at_the_sign_in_page() {
    let lab = Lab::start(0, "query", LAX);
    let truth = judge(&lab.spec(&Lab::start_url()), &lab.dir);
    let walk = truth.walk();
    assert_eq!(walk.end.title, "Sign-in", "{walk:#?}");
    assert_eq!(walk.end.status, Some(200), "{walk:#?}");
    assert!(walk.end.url.contains("/interaction/"), "{walk:#?}");
    assert!(walk.hop_to("/auth").is_some(), "{walk:#?}");
    assert!(walk.hops[1].cookies_set.contains(&"rp_state".to_owned()));

    let run = lab.reach(&Lab::start_url(), &[]);
    let check = run.only();
    compare(check, walk);
    assert_eq!(sso_details(check).end.kind, "login_page", "{check:#?}");
    assert!(!codes(check).contains(&Code::SsoAutoLogin), "{check:#?}");
}

/// Issue 13, point 1: the app sets its state cookie `SameSite=None`
/// without `Secure`. Chromium rejects it at Set-Cookie, so with a live identity provider
/// session the callback finds no state and the sign-in fails. reach must
/// drop the cookie too, end at the same failure, and name the cookie in
/// `sso.cookie_samesite`.
#[test]
fn oidc_samesite_none_without_secure_is_rejected() {
    let lab = Lab::start(1, "query", "Path=/; HttpOnly; SameSite=None");
    let profile = lab.profile();
    let signed_in = lab.sign_in(&profile);

    let truth = judge(&lab.spec(&Lab::start_url()).profile(&profile), &lab.dir);
    let walk = truth.walk();
    let login = walk.hop_to("/login").expect("the app's /login");
    assert!(
        login
            .cookies_rejected
            .iter()
            .any(|c| c.name == "rp_state" && c.reasons.iter().any(|r| r == "SameSiteNoneInsecure")),
        "Chromium rejects rp_state at Set-Cookie: {walk:#?}"
    );
    let callback = walk
        .hop_to("/callback")
        .expect("a silent sign-in to the callback");
    assert!(!callback.cookies_sent.contains(&"rp_state".to_owned()));
    assert_eq!(walk.end.status, Some(400), "{walk:#?}");
    assert!(
        walk.end.text.contains("rp_state did not come back"),
        "{walk:#?}"
    );

    let run = lab.reach_with_jar(&Lab::start_url(), &signed_in);
    let check = run.only();
    compare(check, walk);
    samesite_finding_names(check, "rp_state");
}

/// Issue 13, point 2: `response_mode=form_post`, the state in a
/// `SameSite=Lax` cookie. The identity provider's page posts the code to the callback
/// from another site; Chromium withholds the Lax cookie on that POST and
/// the app fails. reach must end the same way and report
/// `sso.cookie_samesite` for the cookie.
#[test]
fn oidc_form_post_withholds_a_lax_state_cookie() {
    let lab = Lab::start(2, "form_post", LAX);
    let profile = lab.profile();
    let signed_in = lab.sign_in(&profile);

    let truth = judge(&lab.spec(&Lab::start_url()).profile(&profile), &lab.dir);
    let walk = truth.walk();
    let callback = walk
        .hop_to("/callback")
        .expect("the form post to the callback");
    assert_eq!(callback.method, "POST", "{walk:#?}");
    assert!(
        callback
            .cookies_withheld
            .iter()
            .any(|c| c.name == "rp_state" && c.reasons.iter().any(|r| r.ends_with("SameSiteLax"))),
        "Chromium withholds the Lax cookie on the cross-site POST: {walk:#?}"
    );
    assert!(!callback.cookies_sent.contains(&"rp_state".to_owned()));
    assert_eq!(walk.end.status, Some(400), "{walk:#?}");
    assert!(
        walk.end.text.contains("rp_state did not come back"),
        "{walk:#?}"
    );

    let run = lab.reach_with_jar(&Lab::start_url(), &signed_in);
    let check = run.only();
    compare(check, walk);
    samesite_finding_names(check, "rp_state");
}

/// The same `form_post` flow with the state cookie `SameSite=None; Secure`:
/// Chromium sends it on the cross-site POST and the sign-in succeeds;
/// reach follows and has nothing to say about `SameSite`.
#[test]
fn oidc_form_post_with_a_samesite_none_secure_cookie_signs_in() {
    let lab = Lab::start(3, "form_post", "Path=/; Secure; HttpOnly; SameSite=None");
    let profile = lab.profile();
    let signed_in = lab.sign_in(&profile);

    let truth = judge(&lab.spec(&Lab::start_url()).profile(&profile), &lab.dir);
    let walk = truth.walk();
    let callback = walk
        .hop_to("/callback")
        .expect("the form post to the callback");
    assert_eq!(callback.method, "POST", "{walk:#?}");
    assert!(
        callback.cookies_sent.contains(&"rp_state".to_owned()),
        "{walk:#?}"
    );
    assert_eq!(walk.end.status, Some(200), "{walk:#?}");
    assert_eq!(walk.end.title, "Signed in", "{walk:#?}");
    assert!(
        truth.jar.iter().any(|c| c.name == "rp_state" && c.secure),
        "the Secure cookie is kept on the https origin: {:#?}",
        truth.jar
    );

    let run = lab.reach_with_jar(&Lab::start_url(), &signed_in);
    let check = run.only();
    compare(check, walk);
    assert!(
        !codes(check).contains(&Code::SsoCookieSamesite),
        "{:#?}",
        check.findings
    );
}

/// What both walks of a signed-in profile must show (issue 13, point 3):
/// / → /login → the identity provider (silent) → /callback → / "Signed in": back at the
/// start URL with a session, which is progress, not a loop.
#[track_caller]
fn signed_in_silently(check: &Check, walk: &crate::browser::Walk, start: &str) {
    compare(check, walk);
    let found = codes(check);
    assert!(
        !found.contains(&Code::SsoRedirectLoop),
        "coming back to the start URL signed in is not a loop: {:#?}",
        check.findings
    );
    assert!(found.contains(&Code::SsoAutoLogin), "{:#?}", check.findings);
    assert!(
        found.contains(&Code::SsoNoReauthParam),
        "{:#?}",
        check.findings
    );
    assert_eq!(sso_details(check).end.url, start, "{check:#?}");
}

/// The truth of a signed-in profile on the start URL: a silent sign-in
/// that comes back to `/` signed in.
#[track_caller]
fn silent_walk(lab: &Lab, profile: &Path) -> Judgement {
    let truth = judge(&lab.spec(&Lab::start_url()).profile(profile), &lab.dir);
    let walk = truth.walk();
    let paths: Vec<String> = walk
        .hops
        .iter()
        .map(|h| url::Url::parse(&h.url).expect("a URL").path().to_owned())
        .collect();
    assert_eq!(
        paths,
        ["/", "/login", "/auth", "/callback", "/"],
        "{walk:#?}"
    );
    assert_eq!(walk.hops[0].url, walk.hops[4].url);
    assert_eq!(walk.end.title, "Signed in", "{walk:#?}");
    assert!(walk.end.text.contains("Signed in as alice"), "{walk:#?}");
    truth
}

/// Issue 13, point 3, with the session handed over as a cookies.txt (the
/// judge's jar after signing in).
#[test]
fn oidc_signed_in_profile_walks_back_to_the_app_with_a_cookie_jar() {
    let lab = Lab::start(4, "query", LAX);
    let profile = lab.profile();
    let signed_in = lab.sign_in(&profile);
    let run = lab.reach_with_jar(&Lab::start_url(), &signed_in);
    let truth = silent_walk(&lab, &profile);
    signed_in_silently(run.only(), truth.walk(), &Lab::start_url());
}

/// Issue 13, point 3, with the session read from the Chromium profile
/// itself (`--cookies-from-browser chromium:DIR`), read before Chromium
/// opens the profile again.
#[test]
fn oidc_signed_in_profile_walks_back_to_the_app_from_the_browser() {
    let lab = Lab::start(5, "query", LAX);
    let profile = lab.profile();
    lab.sign_in(&profile);
    let from = format!("chromium:{}", profile.display());
    let run = lab.reach(&Lab::start_url(), &["--cookies-from-browser", &from]);
    let truth = silent_walk(&lab, &profile);
    signed_in_silently(run.only(), truth.walk(), &Lab::start_url());
}

/// Issue 13, point 6: the "fresh account choice" URL reach prints, opened
/// in the signed-in browser, brings up the identity provider's sign-in page instead of a
/// silent sign-in (oidc-provider refuses `prompt=select_account`, so the
/// value must be one it supports).
#[test]
fn oidc_fresh_account_choice_url_shows_the_sign_in_page() {
    let lab = Lab::start(6, "query", LAX);
    let profile = lab.profile();
    let signed_in = lab.sign_in(&profile);
    let run = lab.reach_with_jar(&Lab::start_url(), &signed_in);
    let check = run.only();
    let rewritten = check
        .findings
        .iter()
        .filter(|f| matches!(f.code, Code::SsoAutoLogin | Code::SsoNoReauthParam))
        .find_map(|f| f.evidence.get("rewritten_url").and_then(|v| v.as_str()))
        .unwrap_or_else(|| panic!("reach prints a fresh account choice URL: {check:#?}"))
        .to_owned();

    // The control: the same profile on the start URL signs in silently.
    silent_walk(&lab, &profile);
    let truth = judge(&lab.spec(&rewritten).profile(&profile), &lab.dir);
    let walk = truth.walk();
    assert!(
        walk.hops.iter().all(|h| !h.url.contains("/callback")),
        "{rewritten} signs in silently in Chromium instead of asking: {walk:#?}"
    );
    assert_eq!(
        walk.end.title, "Sign-in",
        "{rewritten} must bring up the IdP's sign-in page in Chromium: {walk:#?}"
    );
    assert!(walk.end.url.contains(&format!("{IDP}:{PORT}/interaction/")));
}

/// Issue 13, point 2, the other half: a state cookie with no `SameSite`
/// attribute is Lax by default, but Chromium still sends it on a
/// cross-site POST within two minutes of setting it (its Lax+POST
/// allowance), so a `form_post` sign-in right after `/login` succeeds. reach
/// must send it too and have nothing to say about `SameSite`.
#[test]
fn oidc_form_post_sends_a_fresh_cookie_without_samesite() {
    let lab = Lab::start(7, "form_post", "Path=/; Secure; HttpOnly");
    let profile = lab.profile();
    let signed_in = lab.sign_in(&profile);

    let truth = judge(&lab.spec(&Lab::start_url()).profile(&profile), &lab.dir);
    let walk = truth.walk();
    let callback = walk
        .hop_to("/callback")
        .expect("the form post to the callback");
    assert_eq!(callback.method, "POST", "{walk:#?}");
    assert!(
        callback.cookies_sent.contains(&"rp_state".to_owned()),
        "Chromium sends a two-minute-old default cookie on the cross-site POST: {walk:#?}"
    );
    assert_eq!(walk.end.title, "Signed in", "{walk:#?}");
    assert!(
        truth
            .jar
            .iter()
            .any(|c| c.name == "rp_state" && c.same_site.is_none()),
        "{:#?}",
        truth.jar
    );

    let run = lab.reach_with_jar(&Lab::start_url(), &signed_in);
    let check = run.only();
    compare(check, walk);
    assert!(
        !codes(check).contains(&Code::SsoCookieSamesite),
        "{:#?}",
        check.findings
    );
}

/// Issue 13, point 2, the two-minute limit: a state cookie with no
/// `SameSite` attribute, set when the app was first opened and reused by
/// `/login`, is more than two minutes old when the `form_post` reaches the
/// callback. Chromium withholds it on that cross-site POST and the app
/// fails. reach, reading the profile with the cookie's creation time
/// (`--cookies-from-browser`), must withhold it too and name it in
/// `sso.cookie_samesite`. This case waits out the two minutes.
#[test]
fn oidc_form_post_withholds_a_default_cookie_older_than_two_minutes() {
    let lab = Lab::start_with(
        8,
        "form_post",
        "Path=/; Secure; HttpOnly; Max-Age=1800",
        &serde_json::json!({"keep_state": true, "lifetime_s": 260}),
    );
    let profile = lab.profile();
    lab.sign_in(&profile);
    let prepare = format!("https://{APP}:{PORT}/prepare");
    let opened = judge(&lab.spec(&prepare).profile(&profile), &lab.dir);
    assert_eq!(
        opened.walk().hops[0].cookies_set,
        ["rp_state"],
        "{opened:#?}"
    );
    let set_at = std::time::Instant::now();
    std::thread::sleep(std::time::Duration::from_secs(125).saturating_sub(set_at.elapsed()));

    let from = format!("chromium:{}", profile.display());
    let run = lab.reach(&Lab::start_url(), &["--cookies-from-browser", &from]);
    let truth = judge(&lab.spec(&Lab::start_url()).profile(&profile), &lab.dir);
    let walk = truth.walk();
    let login = walk.hop_to("/login").expect("the app's /login");
    assert!(
        login.cookies_sent.contains(&"rp_state".to_owned()),
        "{walk:#?}"
    );
    assert!(
        login.cookies_set.is_empty(),
        "/login reuses the state: {walk:#?}"
    );
    let callback = walk
        .hop_to("/callback")
        .expect("the form post to the callback");
    assert_eq!(callback.method, "POST", "{walk:#?}");
    assert!(
        callback
            .cookies_withheld
            .iter()
            .any(|c| c.name == "rp_state"
                && c.reasons
                    .iter()
                    .any(|r| r.ends_with("SameSiteUnspecifiedTreatedAsLax"))),
        "Chromium withholds the old default cookie on the cross-site POST: {walk:#?}"
    );
    assert_eq!(walk.end.status, Some(400), "{walk:#?}");
    assert!(
        walk.end.text.contains("rp_state did not come back"),
        "{walk:#?}"
    );

    let check = run.only();
    compare(check, walk);
    samesite_finding_names(check, "rp_state");
}

/// The identity provider's token endpoint.
fn token_url() -> String {
    format!("https://{IDP}:{PORT}/token")
}

/// The truth: what the token endpoint answers curl for `form` (with `user`
/// as HTTP Basic credentials when given): its status and its JSON.
#[track_caller]
fn curl_token(lab: &Lab, user: Option<&str>, form: &[&str]) -> (u16, serde_json::Value) {
    let resolve = format!("{IDP}:{PORT}:{}", lab.idp_ip);
    let ca = lab.dir.arg("ca.pem");
    let url = token_url();
    let mut args = vec![
        "-sS",
        "--resolve",
        &resolve,
        "--cacert",
        &ca,
        "-w",
        "\n%{http_code}",
    ];
    if let Some(user) = user {
        args.extend(["-u", user]);
    }
    for field in form {
        args.extend(["--data-urlencode", field]);
    }
    args.push(&url);
    let out = crate::curl(&args);
    let (body, status) = out.rsplit_once('\n').expect("curl's status line");
    let json = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    (status.parse().expect("a status"), json)
}

/// `reach oauth token` against the identity provider, the secret (when
/// given) in an environment variable.
fn reach_token(lab: &Lab, secret: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = command();
    cmd.args(["oauth", "token", "--token-url", &token_url()])
        .arg("--resolve")
        .arg(format!("{IDP}:{PORT}:{}", lab.idp_ip))
        .arg("--ca-file")
        .arg(lab.dir.arg("ca.pem"));
    if let Some(secret) = secret {
        cmd.env("INTEROP_SECRET", secret)
            .args(["--client-secret-env", "INTEROP_SECRET"]);
    }
    run_with(cmd, args)
}

/// The token details of a run's only check.
fn token_details(run: &Run) -> reach_report::oauth::OauthTokenDetails {
    match &run.only().details {
        reach_report::Details::OauthToken(d) => (**d).clone(),
        other => panic!("no token details: {other:#?}"),
    }
}

#[test]
fn oauth_client_credentials_agree_with_oidc_provider() {
    let lab = Lab::start(9, "query", LAX);

    // A service with its secret in the Authorization header: granted.
    let (status, json) = curl_token(
        &lab,
        Some("interop-service:interop-service-secret"),
        &["grant_type=client_credentials"],
    );
    assert_eq!(status, 200, "{json}");
    let run = reach_token(
        &lab,
        Some("interop-service-secret"),
        &["--client-id", "interop-service", "--auth", "basic"],
    );
    assert_eq!(run.code, 0, "{:#?}", run.only());
    let granted = token_details(&run);
    assert_eq!(granted.status, Some(200));
    assert_eq!(granted.token_type.as_deref(), json["token_type"].as_str());
    assert_eq!(granted.expires_in, json["expires_in"].as_i64());
    assert!(
        !run.stdout.contains("interop-service-secret"),
        "{}",
        run.stdout
    );

    // A wrong secret: the server's invalid_client, in reach's words.
    let (status, json) = curl_token(
        &lab,
        Some("interop-service:not-the-secret"),
        &["grant_type=client_credentials"],
    );
    assert_eq!(
        (status, json["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let run = reach_token(
        &lab,
        Some("not-the-secret"),
        &["--client-id", "interop-service", "--auth", "basic"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        codes(run.only()),
        [Code::OauthTokenInvalidClient],
        "{:#?}",
        run.only()
    );
    assert_eq!(token_details(&run).status, Some(401));

    // The right secret in the form, for a client registered for the
    // header: oidc-provider takes it all the same, and so must reach.
    let (status, json) = curl_token(
        &lab,
        None,
        &[
            "grant_type=client_credentials",
            "client_id=interop-service",
            "client_secret=interop-service-secret",
        ],
    );
    assert_eq!(status, 200, "{json}");
    let run = reach_token(
        &lab,
        Some("interop-service-secret"),
        &["--client-id", "interop-service", "--auth", "post"],
    );
    assert_eq!(run.code, 0, "{:#?}", run.only());
    // The client registered for the form, that way.
    let run = reach_token(
        &lab,
        Some("interop-service-post-secret"),
        &["--client-id", "interop-service-post", "--auth", "post"],
    );
    assert_eq!(run.code, 0, "{:#?}", run.only());
}

#[test]
fn oauth_refresh_of_a_public_client_agrees_with_oidc_provider() {
    let lab = Lab::start(10, "query", LAX);
    // A public client (no secret) whose refresh token is no longer valid:
    // invalid_grant, the "cannot be refreshed" case.
    let (status, json) = curl_token(
        &lab,
        None,
        &[
            "grant_type=refresh_token",
            "client_id=interop-native",
            "refresh_token=expired-or-revoked",
        ],
    );
    assert_eq!(
        (status, json["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let mut cmd = command();
    let refresh = lab.dir.write("refresh-token", "expired-or-revoked\n");
    cmd.args(["oauth", "token", "--token-url", &token_url()])
        .arg("--resolve")
        .arg(format!("{IDP}:{PORT}:{}", lab.idp_ip))
        .arg("--ca-file")
        .arg(lab.dir.arg("ca.pem"))
        .arg("--refresh-token-file")
        .arg(&refresh);
    let run = run_with(
        cmd,
        &[
            "--client-id",
            "interop-native",
            "--auth",
            "none",
            "--grant",
            "refresh_token",
        ],
    );
    assert_eq!(run.code, 1);
    assert_eq!(
        codes(run.only()),
        [Code::OauthTokenInvalidGrant],
        "{:#?}",
        run.only()
    );
    let refused = token_details(&run);
    assert_eq!((refused.status, refused.auth.as_str()), (Some(400), "none"));
    assert!(!run.stdout.contains("expired-or-revoked"), "{}", run.stdout);
}
