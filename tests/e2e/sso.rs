//! `reach sso` against the lab's identity provider (`idp.idp.test`) and app
//! (`app.sp.test`), both on one loopback listener reached with `--resolve`:
//! real redirects, self-submitting forms, cookies and sessions.

use reach_report::sso::SsoDetails;
use reach_report::{Check, CheckKind, Code, Details, Severity, Status};

use crate::{Run, codes, command, finding, lab, run_with};

const APP: &str = "app.sp.test";
const IDP: &str = "idp.idp.test";

fn port() -> u16 {
    lab().idp.port()
}

fn app(path: &str) -> String {
    format!("http://{APP}:{}{path}", port())
}

/// `reach sso` with both lab names resolved to the identity provider listener.
fn sso(args: &[&str]) -> Run {
    let mut cmd = command();
    let p = port();
    cmd.arg("sso")
        .arg("--resolve")
        .arg(format!("{APP}:{p}:127.0.0.1"))
        .arg("--resolve")
        .arg(format!("{IDP}:{p}:127.0.0.1"))
        .arg("--timeout")
        .arg("20s");
    run_with(cmd, args)
}

fn session() -> String {
    format!("idp_session=alice@{IDP}")
}

fn sso_check(run: &Run) -> &Check {
    run.report
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Sso && matches!(c.details, Details::Sso(_)))
        .unwrap_or_else(|| panic!("no sso check: {:#?}", run.report))
}

fn details(check: &Check) -> &SsoDetails {
    match &check.details {
        Details::Sso(d) => d,
        _ => panic!("no sso details: {check:#?}"),
    }
}

#[test]
fn an_existing_session_logs_in_silently() {
    let run = sso(&["--cookie", &session(), &app("/login?mode=form_post")]);
    assert_eq!(run.code, 0, "warnings only: {}", run.stdout);
    let check = sso_check(&run);
    assert_eq!(check.status, Status::Warn);
    let found = codes(check);
    assert!(found.contains(&Code::SsoAutoLogin), "{found:?}");
    assert!(found.contains(&Code::SsoNoReauthParam), "{found:?}");
    let d = details(check);
    // app /login → IdP authorize (session cookie sent) → form_post page →
    // POST /callback-post → /app.
    let pages: Vec<&str> = d.hops.iter().map(|h| h.page.as_str()).collect();
    assert_eq!(
        pages,
        ["redirect", "auto_submit_form", "callback", "app_page"],
        "{d:#?}"
    );
    assert_eq!(d.hops[1].idp.as_deref(), Some("OIDC"));
    assert_eq!(d.hops[1].cookies_sent, ["idp_session"]);
    assert_eq!(d.hops[2].method, "POST");
    assert_eq!(d.hops[2].via, "form_post");
    assert_eq!(d.end.kind, "app_page");
    assert_eq!(d.end.callback_hop, Some(3));
    let id = d.identity.as_ref().expect("the id_token's claims");
    assert_eq!(id.email.as_deref(), Some("alice@idp.test"));
    assert_eq!(id.source, "id_token");
    assert!(!id.verified);
    // The fresh sign-in URL is the IdP's authorize request (the app drops
    // what is added to its own URL), with prompt=login: the lab IdP has no
    // discovery document listing select_account.
    let rewritten = d.rewritten_url.as_deref().expect("a rewritten URL");
    assert!(rewritten.contains("/oauth2/authorize?"), "{rewritten}");
    assert!(rewritten.ends_with("&prompt=login"), "{rewritten}");
    // Secrets never reach the report: the code, the token, cookie values.
    for secret in ["code-for-alice", "eyJ", "idp_session=alice"] {
        assert!(
            !run.stdout.contains(secret),
            "{secret} leaked: {}",
            run.stdout
        );
    }
}

#[test]
fn prompt_login_is_honoured() {
    let run = sso(&["--cookie", &session(), &app("/login?prompt=login")]);
    let check = sso_check(&run);
    let d = details(check);
    assert_eq!(d.end.kind, "login_page", "{d:#?}");
    assert_eq!(d.end.callback_hop, None);
    assert!(
        d.end.summary.contains("Sign in - Lab IdP"),
        "{}",
        d.end.summary
    );
    let found = codes(check);
    assert!(!found.contains(&Code::SsoAutoLogin), "{found:?}");
    assert!(!found.contains(&Code::SsoNoReauthParam), "{found:?}");
    assert!(d.rewritten_url.is_none());
}

#[test]
fn prompt_none_without_a_session_is_an_idp_error() {
    let run = sso(&[&app("/login?silent=1")]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let check = sso_check(&run);
    let error = check
        .findings
        .iter()
        .find(|f| f.code == Code::SsoIdpError)
        .expect("sso.idp_error");
    assert_eq!(error.severity, Severity::Fail);
    assert_eq!(error.evidence["error"], "login_required");
    assert_eq!(details(check).end.kind, "idp_error");
}

#[test]
fn saml_post_with_a_samesite_less_cookie() {
    let run = sso(&["--cookie", &session(), &app("/saml/login")]);
    let check = sso_check(&run);
    let d = details(check);
    let post = d
        .hops
        .iter()
        .find(|h| h.via == "form_post")
        .expect("a SAML POST hop");
    assert_eq!(post.form_fields, ["SAMLResponse", "RelayState"]);
    assert!(post.url.ends_with("/saml/acs"), "{}", post.url);
    // `sp_state` has no SameSite and was set seconds ago: Chromium still
    // sends it on the cross-site POST (its two-minute Lax+POST allowance),
    // so the flow works and nothing is flagged.
    assert_eq!(post.cookies_sent, ["sp_state"]);
    assert!(!codes(check).contains(&Code::SsoCookieSamesite));
    assert_eq!(d.end.kind, "app_page");
    let id = d.identity.as_ref().expect("the assertion's NameID");
    assert_eq!(id.source, "saml_assertion");
    assert_eq!(id.name_id.as_deref(), Some("alice@idp.test"));
    assert!(codes(check).contains(&Code::SsoAutoLogin));
    // The AuthnRequest (read from the SAMLRequest) has no ForceAuthn.
    assert!(codes(check).contains(&Code::SsoNoReauthParam));
    // The SAML message itself is redacted.
    assert!(!run.stdout.contains("PHNhbWxw"), "{}", run.stdout);

    // ForceAuthn: the IdP asks again, nothing is flagged.
    let run = sso(&["--cookie", &session(), &app("/saml/login?force=1")]);
    let check = sso_check(&run);
    assert_eq!(details(check).end.kind, "login_page");
    assert!(
        !codes(check).contains(&Code::SsoNoReauthParam),
        "{check:#?}"
    );
    assert!(!codes(check).contains(&Code::SsoAutoLogin));
}

#[test]
fn a_lax_cookie_is_withheld_on_the_cross_site_post() {
    let run = sso(&["--cookie", &session(), &app("/saml/login?samesite=Lax")]);
    let check = sso_check(&run);
    let d = details(check);
    let post = d
        .hops
        .iter()
        .find(|h| h.via == "form_post")
        .expect("a SAML POST hop");
    assert!(post.cookies_sent.is_empty(), "{post:#?}");
    assert_eq!(post.cookies_withheld[0].name, "sp_state");
    // Without the cookie the ACS refuses, as it does in a browser.
    assert_eq!(d.end.kind, "error_page", "{d:#?}");
    let samesite = finding(check, Code::SsoCookieSamesite);
    assert_eq!(samesite.evidence["cookie_name"], "sp_state");
    assert_eq!(samesite.evidence["method"], "POST");
    assert!(
        samesite.evidence["would_end_with"]
            .as_str()
            .is_some_and(|e| e.contains("app page")),
        "{samesite:#?}"
    );
    // SameSite=None; Secure on plain http is refused when set: reported,
    // and the flow fails the same way.
    let run = sso(&["--cookie", &session(), &app("/saml/login?samesite=None")]);
    let check = sso_check(&run);
    let refused = finding(check, Code::SsoCookieSamesite);
    assert!(
        refused.message.contains("insecure page"),
        "{}",
        refused.message
    );
    assert_eq!(details(check).hops[0].cookies_set[0].name, "sp_state");
    assert!(details(check).hops[0].cookies_set[0].refused.is_some());
}

#[test]
fn a_sign_in_without_any_cookie_is_ambient() {
    // The IdP signs in with no cookie at all (the network vouches for the
    // machine): a private window would not help, and the message says so.
    let run = sso(&[&app("/login?domain_hint=lab-network")]);
    let check = sso_check(&run);
    let found = finding(check, Code::SsoAutoLogin);
    assert_eq!(found.evidence["cause"], "ambient");
    assert!(
        found
            .message
            .contains("no cookie went to the identity provider"),
        "{}",
        found.message
    );
    assert!(found.remedy.contains("private window does not help"));
    assert!(details(check).hops[1].cookies_sent.is_empty());
    // With a session too, a clean run that still signs in silently shows
    // the session is not what chose the account.
    let run = sso(&[
        "--compare-clean",
        "--cookie",
        &session(),
        &app("/login?domain_hint=lab-network"),
    ]);
    let found = finding(sso_check(&run), Code::SsoAutoLogin);
    assert_eq!(found.evidence["cause"], "ambient");
    assert!(
        found
            .message
            .contains("a run without any cookie signs in silently too"),
        "{}",
        found.message
    );
    // The session case, for contrast: the clean run meets the sign-in page.
    let run = sso(&["--compare-clean", "--cookie", &session(), &app("/login")]);
    assert_eq!(
        finding(sso_check(&run), Code::SsoAutoLogin).evidence["cause"],
        "session"
    );
}

#[test]
fn meta_refresh_hops_are_followed() {
    let run = sso(&[&app("/meta")]);
    let d = details(sso_check(&run)).clone();
    assert_eq!(d.hops[0].page, "meta_refresh");
    assert_eq!(d.hops[1].via, "meta_refresh");
    assert!(d.hops[1].url.ends_with("/login"), "{}", d.hops[1].url);
    // Without a session the chain stops at the IdP's sign-in page.
    assert_eq!(d.end.kind, "login_page");
}

/// As browsers do (the Fetch standard), only 301, 302, 303, 307 and 308
/// are followed: a 300 with a Location is a page, and the chain ends there.
#[test]
fn only_redirect_statuses_are_followed() {
    let lab = lab();
    let at = |code: u16| {
        format!(
            "http://good.lab.test:{}/status/{code}?location=/status/200",
            lab.http.port()
        )
    };
    for (code, hops) in [(302, 2), (307, 2), (300, 1), (304, 1)] {
        let mut cmd = command();
        cmd.arg("sso").arg("--dns-server").arg(lab.dns.to_string());
        let run = run_with(cmd, &[&at(code)]);
        let d = details(sso_check(&run));
        assert_eq!(d.hops.len(), hops, "{code}: {:#?}", d.hops);
    }
}

#[test]
fn loops_and_endless_chains() {
    let run = sso(&[&app("/loop/a")]);
    assert_eq!(run.code, 1);
    assert!(codes(sso_check(&run)).contains(&Code::SsoRedirectLoop));
    // The same URL again with a cookie set since is progress.
    let run = sso(&[&app("/again")]);
    let check = sso_check(&run);
    assert!(!codes(check).contains(&Code::SsoRedirectLoop), "{check:#?}");
    let d = details(check);
    assert_eq!(d.hops.len(), 2);
    assert_eq!(d.hops[1].cookies_sent, ["visited"]);
    assert_eq!(d.end.kind, "app_page");
    let run = sso(&["--max-hops", "5", &app("/chain/30")]);
    assert_eq!(run.code, 1);
    let check = sso_check(&run);
    assert!(codes(check).contains(&Code::SsoTooManyRedirects));
    assert_eq!(details(check).hops.len(), 5);
}

#[test]
fn https_downgrade_and_unreachable_hops() {
    let lab = lab();
    let mut cmd = command();
    cmd.arg("sso")
        .arg("--dns-server")
        .arg(lab.dns.to_string())
        .arg("--ca-file")
        .arg(&lab.ca_pem_path);
    let url = format!("https://good.lab.test:{}/downgrade", lab.https.port());
    let run = run_with(cmd, &[&url]);
    let check = sso_check(&run);
    assert!(
        codes(check).contains(&Code::SsoHttpsDowngrade),
        "{check:#?}"
    );

    let mut cmd = command();
    cmd.arg("sso").arg("--dns-server").arg(lab.dns.to_string());
    let url = format!(
        "http://good.lab.test:{}/to?http://127.0.0.1:{}/",
        lab.http.port(),
        lab.refused.port()
    );
    let run = run_with(cmd, &[&url]);
    let check = sso_check(&run);
    let hop = check
        .findings
        .iter()
        .find(|f| f.code == Code::SsoUnreachableHop)
        .expect("sso.unreachable_hop");
    assert_eq!(hop.evidence["phase"], "tcp");
    assert_eq!(hop.evidence["host"], "127.0.0.1");
    assert!(
        codes(check).contains(&Code::TcpRefused),
        "the hop's own finding too"
    );
    assert_eq!(details(check).end.kind, "unreachable");
}

/// Timings and the lab's port change from run to run.
fn stable(text: &str) -> String {
    let text = text.replace(&port().to_string(), "PORT");
    let mut out = String::new();
    for line in text.lines() {
        // `12.3 ms` → `X ms` (hop numbers and statuses stay).
        let words: Vec<String> = line
            .split(' ')
            .map(|w| {
                if w.contains('.') && w.chars().all(|c| c.is_ascii_digit() || c == '.') {
                    "X".to_owned()
                } else {
                    w.to_owned()
                }
            })
            .collect();
        out.push_str(words.join(" ").trim_end());
        out.push('\n');
    }
    out
}

#[test]
fn compare_clean_shows_where_the_runs_part() {
    let p = port();
    let output = command()
        .arg("sso")
        .arg("--no-color")
        .arg("--resolve")
        .arg(format!("{APP}:{p}:127.0.0.1"))
        .arg("--resolve")
        .arg(format!("{IDP}:{p}:127.0.0.1"))
        .arg("--cookie")
        .arg(session())
        .arg("--compare-clean")
        .arg(app("/login"))
        .output()
        .expect("reach runs");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(!text.contains("code-for-alice"), "{text}");
    insta::assert_snapshot!("sso_compare_clean", stable(&text));
}

#[test]
fn bad_cookies_are_named_and_a_bad_option_stops_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let jar = dir.path().join("cookies.txt");
    std::fs::write(
        &jar,
        format!("# Netscape HTTP Cookie File\n{IDP}\tFALSE\t/\tFALSE\t0\tidp_session\talice\nnot a cookie line\n"),
    )
    .unwrap();
    let run = sso(&[
        "--cookie-jar",
        jar.to_str().unwrap(),
        "--cookie",
        "broken-no-domain",
        &app("/login"),
    ]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let messages: Vec<&str> = run
        .report
        .checks
        .iter()
        .filter(|c| c.status == Status::Error)
        .flat_map(|c| c.findings.iter().map(|f| f.message.as_str()))
        .collect();
    let jar_line = format!("{}:3", jar.display());
    assert!(
        messages.iter().any(|m| m.contains(&jar_line)),
        "{jar_line} not named: {messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("--cookie 1")),
        "{messages:?}"
    );
    // A --cookie that cannot be used keeps the chain from running: the sso
    // check is that error, never a chain walked without the cookie.
    // Two checks: the jar's bad line, and the chain held back.
    assert_eq!(run.report.checks.len(), 2, "{:#?}", run.report.checks);
    let check = run.check(&app("/login"));
    assert_eq!(check.kind, CheckKind::Sso);
    assert_eq!(check.status, Status::Error);
    assert!(!matches!(check.details, Details::Sso(_)), "{check:#?}");
    // A bad line of a jar is an error of its own: the good line still
    // seeded the jar, and the chain logged in silently.
    let run = sso(&["--cookie-jar", jar.to_str().unwrap(), &app("/login")]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    let check = sso_check(&run);
    assert_eq!(details(check).seeded_cookies[0].name, "idp_session");
    assert!(codes(check).contains(&Code::SsoAutoLogin));

    let bad = sso(&["ftp://app.sp.test/"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.report.checks[0].findings[0]
            .message
            .contains("argument 1")
    );
}

#[test]
fn enormous_pages_are_capped() {
    let lab = lab();
    let mut cmd = command();
    cmd.arg("sso").arg("--dns-server").arg(lab.dns.to_string());
    let url = format!("http://good.lab.test:{}/big", lab.http.port());
    let run = run_with(cmd, &[&url]);
    let check = sso_check(&run);
    assert_eq!(details(check).end.kind, "app_page");
    assert!(check.findings.iter().all(|f| f.code != Code::InternalError));
}
