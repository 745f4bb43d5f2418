//! `reach oauth scopes|token|discover`: reads the inputs (files, secrets
//! from the environment) and turns the `reach-oauth` results into checks.

use std::time::{Duration, Instant};

use reach_oauth::scopes::{AppConfig, lint, parse_app_file, scope_list};
use reach_oauth::token::{Grant, TokenRequest, request_token};
use reach_report::oauth::OauthScopesDetails;
use reach_report::{Check, CheckKind, Details};
use url::Url;

use crate::args::{GrantType, OauthCommand, OauthDiscoverArgs, OauthScopesArgs, OauthTokenArgs};
use crate::input::{self, Kind};
use crate::network::{Context, held};

pub(crate) async fn run(command: &OauthCommand, context: &Context) -> anyhow::Result<Vec<Check>> {
    match command {
        OauthCommand::Scopes(args) => Ok(vec![scopes(args, context.timeout).await]),
        OauthCommand::Token(args) => token(args, context).await,
        OauthCommand::Discover(args) => discover(args, context).await,
    }
}

/// A URL given on the command line, or the input error naming it.
fn parse_url(kind: CheckKind, what: &str, value: &str) -> Result<Url, Box<Check>> {
    match Url::parse(value) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(url),
        Ok(_) => Err(Box::new(Check::input_error(
            kind,
            value,
            format!("{what} `{value}` is not an http(s) URL"),
        ))),
        Err(e) => Err(Box::new(Check::input_error(
            kind,
            value,
            format!("{what} `{value}` is not a URL: {e}"),
        ))),
    }
}

async fn scopes(args: &OauthScopesArgs, timeout: Duration) -> Check {
    let started = Instant::now();
    let url = match parse_url(CheckKind::OauthScopes, "--url", &args.url) {
        Ok(u) => u,
        Err(check) => return *check,
    };
    let (app, source) = match app_config(args, timeout).await {
        Ok(found) => found,
        Err(e) => return Check::input_error(CheckKind::OauthScopes, &args.url, e),
    };
    let result = lint(&url, &app);
    let mut check = Check::new(CheckKind::OauthScopes, url.to_string());
    for e in &result.input_errors {
        check.push(reach_report::Finding::new(
            reach_report::Code::InputInvalid,
            e.to_string(),
        ));
        check.status = reach_report::Status::Error;
    }
    for f in result.findings {
        check.push(f);
    }
    check.details = Details::OauthScopes(Box::new(OauthScopesDetails {
        url: url.to_string(),
        config_source: source,
        client_id: result.client_id,
        redirect_uri: result.redirect_uri,
        scope: result.scope,
        optional_scope: result.optional_scope,
        required: app.required,
        conditional: app.conditional,
        optional: app.optional,
        redirect_urls: app.redirect_urls,
        corrected_url: result.corrected_url,
    }));
    check.duration_ms = reach_report::elapsed_ms(started);
    check
}

/// The app's configuration, from `--app` or the flags, and where it came
/// from.
async fn app_config(
    args: &OauthScopesArgs,
    timeout: Duration,
) -> Result<(AppConfig, String), String> {
    if let Some(path) = &args.app {
        let name = path.display().to_string();
        let text = input::read(
            &name,
            "--app",
            Kind::App,
            timeout,
            input::Whole::new(Kind::App),
        )
        .await?;
        let app = parse_app_file(input::display_name(&name), &text).map_err(|e| e.to_string())?;
        return Ok((app, name));
    }
    let app = AppConfig {
        required: scope_list(&args.required),
        conditional: scope_list(&args.conditional),
        optional: scope_list(&args.optional),
        redirect_urls: args.redirect_urls.clone(),
    };
    if app.required.is_empty() && app.conditional.is_empty() && app.optional.is_empty() {
        return Err(
            "no app configuration: give --app APP.json, or --required / --conditional / --optional"
                .to_owned(),
        );
    }
    Ok((app, "flags".to_owned()))
}

/// A secret from `--X-env VAR` or `--X-file FILE`; `what` names it.
async fn secret(
    env: Option<&String>,
    file: Option<&std::path::PathBuf>,
    what: &str,
    timeout: Duration,
) -> Result<Option<String>, String> {
    if let Some(var) = env {
        return match std::env::var(var) {
            Ok(v) if !v.is_empty() => {
                reach_report::redact::remember(&v);
                Ok(Some(v))
            }
            Ok(_) => Err(format!(
                "--{what}-env {var}: the environment variable is empty"
            )),
            Err(_) => Err(format!(
                "--{what}-env {var}: the environment variable is not set"
            )),
        };
    }
    if let Some(path) = file {
        // Often `<(pass show …)`: a pipe, read like a FIFO.
        let text = input::read(
            &path.display().to_string(),
            &format!("--{what}-file"),
            Kind::Secret,
            timeout,
            input::Whole::new(Kind::Secret),
        )
        .await?;
        let value = text.lines().next().unwrap_or("").trim().to_owned();
        if value.is_empty() {
            return Err(format!(
                "--{what}-file {}: the file is empty",
                path.display()
            ));
        }
        reach_report::redact::remember(&value);
        return Ok(Some(value));
    }
    Ok(None)
}

/// `--auth none` is a public client (RFC 6749 §2.1): it has no secret to
/// give, and may not use `client_credentials` (§4.4). The rules are the
/// library's ([`reach_oauth::token::ClientAuth::may_make`]); here they are
/// said by the flags that break them, before any secret is read: a secret
/// is never dropped silently. A confidential client's missing secret is
/// said when it is looked for (an empty variable is none too).
fn public_client_flags(args: &OauthTokenArgs) -> Result<(), String> {
    let given: Vec<&str> = [
        args.client_secret_env
            .as_ref()
            .map(|_| "--client-secret-env"),
        args.client_secret_file
            .as_ref()
            .map(|_| "--client-secret-file"),
    ]
    .into_iter()
    .flatten()
    .collect();
    let client_credentials = args.grant == GrantType::ClientCredentials;
    match args.auth.may_make(!given.is_empty(), client_credentials) {
        Err(reach_oauth::Error::SecretForPublicClient) => Err(format!(
            "--auth none is a public client, which sends no secret, but {} was given: drop it, or use --auth basic or --auth post for a confidential client",
            given.join(" and ")
        )),
        Err(reach_oauth::Error::PublicClientCredentials) => Err(
            "--auth none cannot use --grant client_credentials (the default): that grant is for confidential clients only (RFC 6749 §4.4); a public client refreshes with --grant refresh_token and --refresh-token-env or --refresh-token-file".to_owned(),
        ),
        _ => Ok(()),
    }
}

/// The client secret (`None` for a public client) and the grant, with its
/// refresh token, from the environment or files; or the input error.
async fn credentials(
    args: &OauthTokenArgs,
    timeout: Duration,
) -> Result<(Option<String>, Grant), String> {
    public_client_flags(args)?;
    let client_secret = if args.auth.sends_secret() {
        let secret = secret(
            args.client_secret_env.as_ref(),
            args.client_secret_file.as_ref(),
            "client-secret",
            timeout,
        )
        .await?;
        Some(secret.ok_or(
            "give the client secret with --client-secret-env VAR or --client-secret-file FILE (never on the command line), or --auth none for a public client, which has none",
        )?)
    } else {
        None
    };
    let grant = if args.grant == GrantType::RefreshToken {
        let token = secret(
            args.refresh_token_env.as_ref(),
            args.refresh_token_file.as_ref(),
            "refresh-token",
            timeout,
        )
        .await?
        .ok_or(
            "--grant refresh_token needs --refresh-token-env VAR or --refresh-token-file FILE",
        )?;
        Grant::RefreshToken(token)
    } else {
        Grant::ClientCredentials
    };
    Ok((client_secret, grant))
}

async fn token(args: &OauthTokenArgs, context: &Context) -> anyhow::Result<Vec<Check>> {
    let timeout = context.timeout;
    let started = Instant::now();
    let (network, problems) = context.network(&args.network)?;
    let kind = CheckKind::OauthToken;
    let mut errors = Vec::new();
    let url = parse_url(kind, "--token-url", &args.token_url)
        .map_err(|check| errors.push(*check))
        .ok();
    let target = url
        .as_ref()
        .map_or_else(|| args.token_url.clone(), Url::to_string);
    let secrets = match url {
        Some(_) => credentials(args, timeout)
            .await
            .map_err(|message| errors.push(Check::input_error(kind, &target, message)))
            .ok(),
        None => None,
    };
    // A bad value keeps the check from running, and is named in it (a
    // missing URL or secret is such a value: `held` has them all).
    if let Some(check) = held(kind, &target, &problems, errors) {
        return Ok(vec![check]);
    }
    let (Some(url), Some((client_secret, grant))) = (url, secrets) else {
        return Ok(Vec::new());
    };
    let scopes = scope_list(&args.scope);
    let request = TokenRequest {
        token_url: url,
        client_id: args.client_id.clone(),
        client_secret,
        grant,
        scopes,
        auth: args.auth,
        timeout,
        expiry_warn_days: args.expiry_warn_days,
    };
    let (details, findings) = match request_token(&request, &network).await {
        Ok(done) => done,
        // The flags were checked above: only a request built otherwise.
        Err(e) => return Ok(vec![Check::input_error(kind, &target, e.to_string())]),
    };
    let mut check = Check::new(CheckKind::OauthToken, target);
    for f in findings {
        check.push(f);
    }
    check.details = Details::OauthToken(Box::new(details));
    check.duration_ms = reach_report::elapsed_ms(started);
    Ok(vec![check])
}

async fn discover(args: &OauthDiscoverArgs, context: &Context) -> anyhow::Result<Vec<Check>> {
    let timeout = context.timeout;
    let started = Instant::now();
    let (network, problems) = context.network(&args.network)?;
    let kind = CheckKind::OauthDiscover;
    let mut errors = Vec::new();
    let issuer = parse_url(kind, "ISSUER", &args.issuer)
        .map_err(|check| errors.push(*check))
        .ok();
    let target = issuer
        .as_ref()
        .map_or_else(|| args.issuer.clone(), Url::to_string);
    if let Some(check) = held(kind, &target, &problems, errors) {
        return Ok(vec![check]);
    }
    // `held` has the URL's error, if it had one.
    let Some(issuer) = issuer else {
        return Ok(Vec::new());
    };
    let scopes = scope_list(&args.scope);
    let (details, findings) =
        reach_oauth::discover::discover(&issuer, &scopes, &network, timeout, args.expiry_warn_days)
            .await;
    let mut check = Check::new(CheckKind::OauthDiscover, issuer.to_string());
    for f in findings {
        check.push(f);
    }
    check.details = Details::OauthDiscover(Box::new(details));
    check.duration_ms = reach_report::elapsed_ms(started);
    Ok(vec![check])
}
