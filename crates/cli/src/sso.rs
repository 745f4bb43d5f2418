//! `reach sso URL`: reads the start URL and the cookies to seed the jar
//! with, then walks the chain (see the `reach-sso` crate).

use std::path::Path;
use std::time::{Duration, Instant};

use reach_report::{Check, CheckKind, Code, Details, Finding, Status};
use reach_sso::SsoOptions;
use reach_sso::browser::{self, Browser, BrowserSpec, Places};
use reach_sso::cookies::{FileKind, SeedCookie, parse_cookie_arg, parse_cookies_txt, sniff};
use url::Url;

use crate::args::SsoArgs;
use crate::input::{self, Kind};
use crate::network::{Context, held};

/// Runs `reach sso`: one `sso` check. An input that cannot be used (the
/// URL, a cookie jar or browser profile that cannot be read, a `--cookie`,
/// a network option) keeps the chain from running: the check is an input
/// error that names every such input, never a chain walked without it. A
/// line of a jar or a cookie of a profile that cannot be used is an input
/// error of its own, and the others still seed the jar.
pub(crate) async fn run(args: &SsoArgs, context: &Context) -> anyhow::Result<Vec<Check>> {
    let timeout = context.timeout;
    let started = Instant::now();
    let mut checks = Vec::new();
    let (network, problems) = context.network(&args.network)?;
    let start = match Url::parse(&args.url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(url),
        Ok(url) => Err(format!(
            "argument 1: `{}` is not an http(s) URL (scheme `{}`)",
            args.url,
            url.scheme()
        )),
        Err(e) => Err(format!("argument 1: `{}` is not a URL: {e}", args.url)),
    };
    let target = start
        .as_ref()
        .map_or_else(|_| args.url.clone(), Url::to_string);
    if let Err(message) = &start {
        checks.push(Check::input_error(
            CheckKind::Sso,
            &args.url,
            message.clone(),
        ));
    }
    let mut seeds: Vec<SeedCookie> = Vec::new();
    // Lines of a jar or cookies of a profile that cannot be used are input
    // errors of their own: the others still seed the jar.
    let mut partial = Vec::new();
    if let Some(path) = &args.cookie_jar {
        read_cookie_jar(path, timeout, &mut seeds, &mut checks, &mut partial).await;
    }
    if let Some(spec) = &args.cookies_from_browser {
        read_browser(spec, &mut seeds, &mut checks, &mut partial).await?;
    }
    for (i, value) in args.cookies.iter().enumerate() {
        match parse_cookie_arg(value) {
            Ok(cookie) => seeds.push(cookie),
            Err(reason) => {
                checks.push(Check::input_error(
                    CheckKind::Sso,
                    format!("--cookie {}", i + 1),
                    format!("--cookie {}{}: {}", i + 1, cookie_name(value), reason),
                ));
            }
        }
    }
    if let Some(check) = held(CheckKind::Sso, &target, &problems, checks) {
        partial.push(check);
        return Ok(partial);
    }
    let Ok(start) = start else {
        return Ok(partial);
    };
    let mut check = Check::new(CheckKind::Sso, start.to_string());
    let mut options = SsoOptions::new(start, timeout);
    options.max_hops = args.max_hops as usize;
    options.expiry_warn_days = args.expiry_warn_days;
    // Cookie values are secrets: redaction hunts them by value, raw and encoded.
    reach_report::redact::remember_all(seeds.iter().map(|c| &*c.value));
    let (details, findings) = reach_sso::run(&options, &seeds, args.compare_clean, &network).await;
    for finding in findings {
        check.push(finding);
    }
    check.details = Details::Sso(Box::new(details));
    check.duration_ms = reach_report::elapsed_ms(started);
    partial.push(check);
    Ok(partial)
}

/// ` (`sid=…`)` naming a `--cookie` value that does not parse by its
/// name, when it has one; nothing else of it, ever: without `=` the whole
/// value may be the secret (`--cookie "sidSECRET"`).
fn cookie_name(value: &str) -> String {
    let Some((name, _)) = value.split_once('=') else {
        return String::new();
    };
    let name = name.trim();
    let token = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if token {
        format!(" (`{name}=…`)")
    } else {
        String::new()
    }
}

/// `--cookie-jar FILE`: a Netscape cookies.txt, through the one input
/// reader (bounded; a FIFO that sends nothing is given up after
/// `timeout`). A browser's `SQLite` database or another binary file is one
/// input error that says what it is, not a dozen bad lines.
async fn read_cookie_jar(
    path: &Path,
    timeout: Duration,
    seeds: &mut Vec<SeedCookie>,
    checks: &mut Vec<Check>,
    partial: &mut Vec<Check>,
) {
    let name = path.display().to_string();
    let target = format!("--cookie-jar {}", input::display_name(&name));
    let sink = JarSink {
        path: path.to_path_buf(),
        text: input::Whole::new(Kind::CookieJar),
    };
    let text = match input::read(&name, "--cookie-jar", Kind::CookieJar, timeout, sink).await {
        Ok(text) => text,
        Err(message) => {
            checks.push(Check::input_error(CheckKind::Sso, &target, message));
            return;
        }
    };
    let (cookies, errors) = parse_cookies_txt(input::display_name(&name), &text);
    seeds.extend(cookies);
    for e in errors {
        let mut check = Check::new(CheckKind::Sso, &target);
        check.push(
            Finding::new(Code::InputInvalid, e.to_string())
                .with("origin", &e.origin)
                .with("reason", e.reason.to_string()),
        );
        check.status = Status::Error;
        partial.push(check);
    }
}

/// A cookies.txt read whole, told from a browser's database by its first
/// bytes.
struct JarSink {
    path: std::path::PathBuf,
    text: input::Whole,
}

impl input::Sink for JarSink {
    type Output = String;

    fn first(&mut self, bytes: &[u8]) -> Result<(), String> {
        let path = self.path.as_path();
        match sniff(bytes) {
            FileKind::CookiesTxt => Ok(()),
            FileKind::Sqlite => {
                // PROFILE may be the profile folder, or the file itself when
                // it is not named as the browser names it.
                let absolute = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
                let named = |n: &str| absolute.file_name().is_some_and(|f| f == n);
                let dir = if named("Cookies") || named("cookies.sqlite") {
                    browser::profile_dir_of(&absolute)
                } else {
                    absolute.clone()
                };
                Err(match browser::identify(path) {
                    Some(Browser::Firefox) => format!(
                        "this is Firefox's cookie database (cookies.sqlite), not a Netscape cookies.txt: read it with `--cookies-from-browser firefox:{}`",
                        dir.display()
                    ),
                    Some(_) => format!(
                        "this is a Chromium browser's cookie database (Cookies, SQLite), not a Netscape cookies.txt: read it with `--cookies-from-browser chromium:{}` (or chrome, edge, brave: BROWSER[:PROFILE])",
                        dir.display()
                    ),
                    None => "this is an SQLite database, not a Netscape cookies.txt; a browser's cookie database is read with --cookies-from-browser BROWSER[:PROFILE]".to_owned(),
                })
            }
            FileKind::Binary => Err(
                "this is a binary file, not a Netscape cookies.txt (text, one cookie a line in seven tab-separated fields)"
                    .to_owned(),
            ),
        }
    }

    fn piece(&mut self, text: &str) -> Result<(), String> {
        self.text.piece(text)
    }

    fn finish(self) -> String {
        self.text.finish()
    }
}

/// `--cookies-from-browser BROWSER[:PROFILE]`: the profile's cookies, and
/// an input error for each that could not be read (the others still seed
/// the jar).
async fn read_browser(
    spec: &BrowserSpec,
    seeds: &mut Vec<SeedCookie>,
    checks: &mut Vec<Check>,
    partial: &mut Vec<Check>,
) -> anyhow::Result<()> {
    let target = format!("--cookies-from-browser {spec}");
    let owned = spec.clone();
    // SQLite reads and secret-tool block: keep them off the async workers.
    let read =
        tokio::task::spawn_blocking(move || browser::load(&owned, &Places::from_env())).await?;
    match read {
        Ok(read) => {
            seeds.extend(read.cookies);
            for problem in read.problems {
                partial.push(Check::input_error(
                    CheckKind::Sso,
                    &target,
                    format!("{target}: {problem}"),
                ));
            }
        }
        Err(e) => checks.push(Check::input_error(
            CheckKind::Sso,
            &target,
            format!("{target}: {e}"),
        )),
    }
    Ok(())
}
