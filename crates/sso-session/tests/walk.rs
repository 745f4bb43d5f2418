//! The SSO walker as a library, against the lab's identity provider and the app that signs in
//! with it: `reach_sso::walk` and `reach_sso::run` called directly (as trippy-core's
//! `tests/sim` drives its tracer), not through `reach sso`.
//!
//! Both lab names resolve to the lab's one identity provider listener by overrides (`--resolve`), so nothing
//! here leaves loopback. What each hop should be is what the lab's documented routes answer.

use std::sync::LazyLock;
use std::time::Duration;

use reach_http_probe::{Network, NetworkConfig, proxy::ProxySettings};
use reach_lab::{IDP_HOST, Lab, SP_HOST};
use reach_sso::{
    Chain, Sending, SsoOptions,
    cookies::{SeedCookie, parse_cookie_arg},
    idp::Idp,
    jar::Jar,
};
use url::Url;

/// One lab for the whole binary: starting one per test would cost more than the tests.
static LAB: LazyLock<Lab> = LazyLock::new(|| Lab::start().expect("lab starts"));

/// Every walk's deadline: far above what loopback needs, far below a hung test.
const TIMEOUT: Duration = Duration::from_secs(5);

/// The network `reach sso --resolve app.sp.test:PORT:127.0.0.1 --resolve idp.idp.test:…`
/// builds.
fn network() -> Network {
    let port = LAB.idp.port();
    let overrides = [SP_HOST, IDP_HOST]
        .map(|host| {
            format!("{host}:{port}:127.0.0.1")
                .parse()
                .expect("override")
        })
        .to_vec();
    Network::new(&NetworkConfig {
        dns: reach_dns::DnsConfig {
            servers: vec![LAB.dns],
            overrides,
            timeout: Duration::from_secs(2),
        },
        tls: reach_tls::TlsConfig::default(),
        proxy: ProxySettings::default(),
    })
    .expect("network")
}

/// `http://app.sp.test:PORT{path}`.
fn app(path: &str) -> String {
    format!("http://{SP_HOST}:{}{path}", LAB.idp.port())
}

fn idp(path: &str) -> String {
    format!("http://{IDP_HOST}:{}{path}", LAB.idp.port())
}

fn options(path: &str) -> SsoOptions {
    SsoOptions::new(Url::parse(&app(path)).expect("URL"), TIMEOUT)
}

/// The identity provider's session cookie for alice, as `--cookie` gives it.
fn session() -> Vec<SeedCookie> {
    vec![parse_cookie_arg(&format!("idp_session=alice@{IDP_HOST}")).expect("cookie")]
}

async fn walk(path: &str, seeds: &[SeedCookie]) -> Chain {
    let (jar, refused) = Jar::seeded(seeds);
    assert!(refused.is_empty(), "{refused:?}");
    reach_sso::walk(&options(path), jar, &network(), Sending::AsBrowser).await
}

fn pages(chain: &Chain) -> Vec<(&str, &str)> {
    chain
        .hops
        .iter()
        .map(|h| (h.via.as_str(), h.page.as_str()))
        .collect()
}

fn codes(chain: &Chain) -> Vec<&'static str> {
    chain.findings.iter().map(|f| f.code.name()).collect()
}

#[tokio::test]
async fn a_fresh_walk_ends_at_the_sign_in_page() {
    let chain = walk("/login", &[]).await;

    assert_eq!(
        pages(&chain),
        [("start", "redirect"), ("redirect", "login_page")]
    );
    let [start, login] = chain.hops.as_slice() else {
        panic!("two hops: {:?}", pages(&chain));
    };
    let set: Vec<&str> = start.cookies_set.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(set, ["sp_state"]);
    assert_eq!(login.idp.as_deref(), Some("OIDC"));
    assert!(login.cookies_sent.is_empty(), "no session to send");
    assert_eq!(login.title.as_deref(), Some("Sign in - Lab IdP"));

    assert_eq!(chain.end.kind, "login_page");
    assert_eq!(chain.end.hop, 2);
    assert_eq!(chain.end.callback_hop, None);
    assert!(chain.interactive);
    assert!(chain.identity.is_none());
    assert!(chain.findings.is_empty(), "{:?}", codes(&chain));
    let authorize = chain.authorize.as_ref().expect("the authorize request");
    assert!(
        authorize
            .url
            .as_str()
            .starts_with(&idp("/oauth2/authorize?client_id=lab-app&")),
        "{}",
        authorize.url
    );
}

#[tokio::test]
async fn a_session_signs_in_through_the_code_flow() {
    let chain = walk("/login", &session()).await;

    assert_eq!(
        pages(&chain),
        [
            ("start", "redirect"),
            ("redirect", "redirect"),
            ("redirect", "callback"),
            ("redirect", "app_page"),
        ]
    );
    let sent: Vec<&[String]> = chain.hops.iter().map(|h| &h.cookies_sent[..]).collect();
    assert_eq!(
        sent,
        [
            &[][..],
            &["idp_session".to_owned()],
            &["sp_state".to_owned()],
            &["sp_state".to_owned()]
        ]
    );
    assert_eq!(
        chain.hops[2].url,
        app("/callback?code=code-for-alice&state=st1")
    );
    assert_eq!(chain.end.kind, "app_page");
    assert_eq!(chain.end.callback_hop, Some(3));
    assert_eq!(chain.hops[3].title.as_deref(), Some("Dashboard - Lab App"));
    assert!(!chain.interactive);
    assert_eq!(
        chain.idp_cookies,
        [(Idp::Oidc, vec!["idp_session".to_owned()])]
    );
    // A code carries no identity: only an ID token or an assertion does.
    assert!(chain.identity.is_none());
}

#[tokio::test]
async fn form_post_carries_the_id_token_identity() {
    let chain = walk("/login?mode=form_post", &session()).await;

    assert_eq!(
        pages(&chain),
        [
            ("start", "redirect"),
            ("redirect", "auto_submit_form"),
            ("form_post", "callback"),
            ("redirect", "app_page"),
        ]
    );
    let post = &chain.hops[2];
    assert_eq!(post.method, "POST");
    assert_eq!(post.url, app("/callback-post"));
    assert_eq!(post.form_fields, ["code", "state", "id_token"]);
    assert_eq!(post.cookies_sent, ["sp_state"]);

    let identity = chain.identity.as_ref().expect("the ID token's claims");
    assert_eq!(identity.source, "id_token");
    assert_eq!(identity.hop, 3);
    assert!(!identity.verified);
    assert_eq!(identity.issuer.as_deref(), Some(idp("").as_str()));
    assert_eq!(identity.audience, ["lab-app"]);
    assert_eq!(identity.subject.as_deref(), Some("00u-alice"));
    assert_eq!(identity.email.as_deref(), Some("alice@idp.test"));
    assert_eq!(chain.end.kind, "app_page");
}

#[tokio::test]
async fn saml_post_carries_the_assertion_identity() {
    let chain = walk("/saml/login", &session()).await;

    assert_eq!(
        pages(&chain),
        [
            ("start", "redirect"),
            ("redirect", "auto_submit_form"),
            ("form_post", "callback"),
            ("redirect", "app_page"),
        ]
    );
    assert_eq!(chain.hops[1].idp.as_deref(), Some("SAML"));
    assert_eq!(chain.hops[2].url, app("/saml/acs"));
    assert_eq!(chain.hops[2].form_fields, ["SAMLResponse", "RelayState"]);
    let identity = chain.identity.as_ref().expect("the assertion's subject");
    assert_eq!(identity.source, "saml_assertion");
    assert_eq!(identity.name_id.as_deref(), Some("alice@idp.test"));
    assert_eq!(
        chain.idp_cookies,
        [(Idp::Saml, vec!["idp_session".to_owned()])]
    );
}

#[tokio::test]
async fn meta_refresh_is_followed_and_a_loop_ends_the_walk() {
    let meta = walk("/meta", &[]).await;
    assert_eq!(
        pages(&meta),
        [
            ("start", "meta_refresh"),
            ("meta_refresh", "redirect"),
            ("redirect", "login_page"),
        ]
    );
    assert_eq!(meta.hops[1].url, app("/login"));

    let looping = walk("/loop/a", &[]).await;
    assert_eq!(looping.hops.len(), 2);
    assert_eq!(looping.end.kind, "redirect_loop");
    assert_eq!(codes(&looping), ["sso.redirect_loop"]);
}

#[tokio::test]
async fn prompt_none_without_a_session_ends_at_the_idp_error() {
    let chain = walk("/login?silent=1", &[]).await;

    assert_eq!(chain.hops.len(), 4, "{:?}", pages(&chain));
    assert!(
        chain.hops[2].url.contains("error=login_required"),
        "{}",
        chain.hops[2].url
    );
    assert_eq!(chain.end.kind, "idp_error");
    assert_eq!(codes(&chain), ["sso.idp_error"]);
}

#[tokio::test]
async fn run_compares_with_a_clean_jar_and_offers_a_fresh_sign_in_url() {
    let (details, findings) =
        reach_sso::run(&options("/login"), &session(), true, &network()).await;

    assert_eq!(details.start_url, app("/login"));
    assert_eq!(details.seeded_cookies.len(), 1);
    assert_eq!(details.seeded_cookies[0].name, "idp_session");
    assert_eq!(details.end.kind, "app_page");
    let compare = details.compare.as_ref().expect("--compare-clean");
    assert_eq!(compare.parted_at, Some(2));
    assert_eq!(compare.clean_end.kind, "login_page");
    let rewritten = details.rewritten_url.as_deref().expect("a rewritten URL");
    assert!(
        rewritten.starts_with(&idp("/oauth2/authorize?")) && rewritten.ends_with("&prompt=login"),
        "{rewritten}"
    );
    let codes: Vec<&str> = findings.iter().map(|f| f.code.name()).collect();
    assert_eq!(codes, ["sso.auto_login", "sso.no_reauth_param"]);
}
