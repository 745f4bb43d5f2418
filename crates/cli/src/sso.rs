//! `reach sso URL`: reads the start URL and the cookies to seed the jar
//! with, then walks the chain (see the `reach-sso` crate).

use std::time::{Duration, Instant};

use reach_report::{Check, CheckKind, Code, Details, Finding, Status};
use reach_sso::SsoOptions;
use reach_sso::cookies::{SeedCookie, parse_cookie_arg, parse_cookies_txt};
use url::Url;

use crate::args::SsoArgs;
use crate::check;

/// Runs `reach sso`: one `sso` check, plus an input-error check for each
/// unusable input (a bad cookie line is reported and the chain still runs
/// with the others).
pub(crate) async fn run(args: &SsoArgs, timeout: Duration) -> anyhow::Result<Vec<Check>> {
    let started = Instant::now();
    let mut checks = Vec::new();
    let (network, blocked) = check::network(&args.network, timeout, &mut checks)?;
    let start = match Url::parse(&args.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => url,
        Ok(url) => {
            checks.push(Check::input_error(
                CheckKind::Sso,
                &args.url,
                format!(
                    "argument 1: `{}` is not an http(s) URL (scheme `{}`)",
                    args.url,
                    url.scheme()
                ),
            ));
            return Ok(checks);
        }
        Err(e) => {
            checks.push(Check::input_error(
                CheckKind::Sso,
                &args.url,
                format!("argument 1: `{}` is not a URL: {e}", args.url),
            ));
            return Ok(checks);
        }
    };
    let mut seeds: Vec<SeedCookie> = Vec::new();
    if let Some(path) = &args.cookie_jar {
        let name = path.display().to_string();
        match std::fs::read(path) {
            Ok(bytes) => {
                let (cookies, errors) = parse_cookies_txt(&name, &String::from_utf8_lossy(&bytes));
                seeds.extend(cookies);
                for e in errors {
                    let mut check = Check::new(CheckKind::Sso, format!("--cookie-jar {name}"));
                    check.push(
                        Finding::new(Code::InputInvalid, e.to_string())
                            .with("origin", &e.origin)
                            .with("reason", &e.reason),
                    );
                    check.status = Status::Error;
                    checks.push(check);
                }
            }
            Err(e) => checks.push(Check::input_error(
                CheckKind::Sso,
                format!("--cookie-jar {name}"),
                format!("--cookie-jar {name}: cannot read it: {e}"),
            )),
        }
    }
    for (i, value) in args.cookies.iter().enumerate() {
        match parse_cookie_arg(value) {
            Ok(cookie) => seeds.push(cookie),
            Err(reason) => {
                // The value is a secret: name only what precedes it.
                let name = value.split('=').next().unwrap_or("");
                checks.push(Check::input_error(
                    CheckKind::Sso,
                    format!("--cookie {}", i + 1),
                    format!("--cookie {} (`{name}=…`): {reason}", i + 1),
                ));
            }
        }
    }
    let mut check = Check::new(CheckKind::Sso, start.to_string());
    if let Some(reason) = blocked.all {
        checks.push(Check::input_error(
            CheckKind::Sso,
            start.to_string(),
            format!("not run: {reason}"),
        ));
        return Ok(checks);
    }
    let mut options = SsoOptions::new(start, timeout);
    options.max_hops = args.max_hops as usize;
    options.expiry_warn_days = args.expiry_warn_days;
    let (details, findings) = reach_sso::run(&options, &seeds, args.compare_clean, &network).await;
    for finding in findings {
        check.push(finding);
    }
    check.details = Details::Sso(Box::new(details));
    check.duration_ms = reach_report::elapsed_ms(started);
    checks.push(check);
    Ok(checks)
}
