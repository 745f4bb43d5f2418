//! Secrets never reach a report: every command against the lab with secrets
//! in every place they travel (URL parameters, headers, proxy credentials,
//! cookies, codes, ID tokens, SAML messages, client secrets, refresh and
//! access tokens), in every output format; and `--no-redact` shows them
//! with a warning.

use crate::{command, lab};

/// Strings that must never appear: the ones we pass, and the ones the lab
/// generates along the way (codes, tokens, SAML messages, encodings).
pub(crate) const SECRETS: &[&str] = &[
    "SECRET-AT-1",
    "SECRET-KEY-2",
    "SECRET-BEARER-3",
    "SECRET-COOKIE-4",
    "SECRET-PROXY-5",
    "SECRET-APIKEY-6",
    "SECRET-COOKIE-8",
    "SECRET-FEED-9",
    "SECRET-CS-10",
    "lab-secret",
    "good-refresh",
    "code-for-alice",
    // An ID token or access token (a JWT header starts `eyJ`), a SAML
    // message (base64 of `<samlp`), Basic credentials of lab-client.
    "eyJ",
    "PHNhbWxw",
    "bGFiLWNsaWVudDpsYWItc2VjcmV0",
    // Basic credentials of user:SECRET-PROXY-5.
    "dXNlcjpTRUNSRVQtUFJPWFktNQ",
    // Echoed back by /reflect: raw, percent-encoded and in base64.
    "SECRET/COOKIE+11",
    "SECRET-BEARER-12",
    "SECRET-COOKIE-13",
    "SECRET-JAR/14+x",
    // `--cookie` and a preflight `cookies` entry without `=`: input errors.
    "SECRET-NOEQ-15",
    "SECRET-PREFLIGHT-16",
];

pub(crate) fn commands() -> Vec<Vec<String>> {
    let lab = lab();
    let idp = lab.idp.port();
    let resolve = |host: &str| format!("{host}:{idp}:127.0.0.1");
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let mut out = Vec::new();
    let mut check = s(&["check", "--dns-server"]);
    check.extend([
        lab.dns.to_string(),
        "--proxy".to_owned(),
        format!("http://user:SECRET-PROXY-5@{}", lab.proxy.open),
        "-H".to_owned(),
        "Authorization: Bearer SECRET-BEARER-3".to_owned(),
        "-H".to_owned(),
        "Cookie: session=SECRET-COOKIE-4".to_owned(),
        "-H".to_owned(),
        "X-Api-Key: SECRET-APIKEY-6".to_owned(),
        format!(
            "http://good.lab.test:{}/headers?access_token=SECRET-AT-1&api_key=SECRET-KEY-2",
            lab.http.port()
        ),
    ]);
    out.push(check);
    for start in ["/login?mode=form_post", "/saml/login", "/login"] {
        out.push(vec![
            "sso".to_owned(),
            "--resolve".to_owned(),
            resolve("app.sp.test"),
            "--resolve".to_owned(),
            resolve("idp.idp.test"),
            "--cookie".to_owned(),
            "idp_session=alice@idp.idp.test".to_owned(),
            "--cookie".to_owned(),
            "tracker=SECRET-COOKIE-8@idp.idp.test".to_owned(),
            "--compare-clean".to_owned(),
            format!("http://app.sp.test:{idp}{start}"),
        ]);
    }
    for grant in [
        &["--grant", "client_credentials"][..],
        &["--grant", "refresh_token", "--refresh-token-env", "REFRESH"][..],
    ] {
        let mut token = s(&["oauth", "token", "--resolve"]);
        token.push(resolve("auth.as.test"));
        token.extend(s(&[
            "--client-id",
            "lab-client",
            "--client-secret-env",
            "SECRET",
            "--token-url",
        ]));
        token.push(format!("http://auth.as.test:{idp}/oauth/token"));
        token.extend(s(grant));
        out.push(token);
    }
    out.push(vec![
        "oauth".to_owned(),
        "scopes".to_owned(),
        "--required".to_owned(),
        "oauth".to_owned(),
        "--url".to_owned(),
        "https://app.example.com/authorize?client_id=a&redirect_uri=https://x.example/cb&scope=oauth&client_secret=SECRET-CS-10".to_owned(),
    ]);
    out.extend(echoed_and_files(lab));
    out
}

/// Commands whose secrets come back from the network (a server that
/// echoes the request, /reflect) or come from files: a jar, a preflight
/// file, a feed URL with a token.
fn echoed_and_files(lab: &reach_lab::Lab) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let dir = std::env::temp_dir().join(format!("reach-redaction-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    // A server that echoes the request (/reflect) in its headers and its
    // redirect, to `check -H …` and to an sso chain seeded from --cookie
    // and a jar.
    let reflect = format!("http://good.lab.test:{}/reflect", lab.http.port());
    out.push(vec![
        "check".to_owned(),
        "--dns-server".to_owned(),
        lab.dns.to_string(),
        "-H".to_owned(),
        "Cookie: sid=SECRET/COOKIE+11; theme=dark".to_owned(),
        "-H".to_owned(),
        "Authorization: Bearer SECRET-BEARER-12".to_owned(),
        reflect.clone(),
    ]);
    let jar = dir.join("cookies.txt");
    std::fs::write(
        &jar,
        "good.lab.test\tFALSE\t/\tFALSE\t0\tidp_session\tSECRET-JAR/14+x\n",
    )
    .unwrap();
    out.push(vec![
        "sso".to_owned(),
        "--dns-server".to_owned(),
        lab.dns.to_string(),
        "--cookie".to_owned(),
        "sid=SECRET-COOKIE-13@good.lab.test".to_owned(),
        "--cookie-jar".to_owned(),
        jar.display().to_string(),
        reflect.clone(),
    ]);
    // A --cookie without `=` keeps its chain from running: the error alone.
    out.push(vec![
        "sso".to_owned(),
        "--cookie".to_owned(),
        "SECRET-NOEQ-15".to_owned(),
        "http://127.0.0.1:9/".to_owned(),
    ]);
    let preflight = dir.join("preflight.toml");
    std::fs::write(
        &preflight,
        format!(
            "[defaults]\ndns_servers = [\"{}\"]\n\n[[sso]]\nurl = \"{reflect}\"\ncookies = [\"SECRET-PREFLIGHT-16\"]\n\n[[sso]]\nurl = \"{reflect}\"\n",
            lab.dns
        ),
    )
    .unwrap();
    out.push(vec!["run".to_owned(), preflight.display().to_string()]);
    let allow = dir.join("allow.txt");
    std::fs::write(&allow, "0.0.0.0/0\n").unwrap();
    out.push(vec![
        "allowlist".to_owned(),
        "--dns-server".to_owned(),
        lab.dns.to_string(),
        "--published".to_owned(),
        format!(
            "http://good.lab.test:{}/feed/aws.json?token=SECRET-FEED-9",
            lab.http.port()
        ),
        "--allowlist".to_owned(),
        allow.display().to_string(),
    ]);
    out
}

/// Every `--format` reach offers, as its own usage error lists them.
fn formats() -> Vec<String> {
    let out = command()
        .args(["check", "--format", "none-such"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let list = stderr
        .split("[possible values: ")
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .unwrap_or_else(|| panic!("no list of formats in: {stderr}"));
    let formats: Vec<String> = list.split(", ").map(str::to_owned).collect();
    assert!(formats.len() >= 4, "{formats:?}");
    formats
}

/// The forms a secret can take on its way: raw, percent-encoded (as a URL
/// query or form carries it) and inside base64, standard or URL-safe, at
/// any of the three offsets a byte string can start at (only the
/// characters that depend on the secret alone). Short markers (`eyJ`) are
/// hunted raw only.
pub(crate) fn forms(secret: &str) -> Vec<String> {
    let mut forms = vec![secret.to_owned()];
    if secret.len() < 8 {
        return forms;
    }
    forms.push(url::form_urlencoded::byte_serialize(secret.as_bytes()).collect());
    forms.push(
        secret
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
    );
    for alphabet in [
        &b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[..],
        &b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[..],
    ] {
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let bits = |j: usize| {
                (0..6).fold(0usize, |v, b| {
                    let bit = 6 * j + b;
                    let byte = bytes.get(bit / 8).copied().unwrap_or(0);
                    v << 1 | usize::from(byte >> (7 - bit % 8) & 1)
                })
            };
            // Character j holds bits 6j..6j+6: keep those of the secret alone.
            let first = (8 * offset).div_ceil(6);
            let end = 8 * bytes.len() / 6;
            let core: String = (first..end)
                .map(|j| char::from(alphabet[bits(j)]))
                .collect();
            forms.push(core);
        }
    }
    forms.sort();
    forms.dedup();
    forms
}

#[test]
fn no_secret_in_any_format_raw_or_encoded() {
    let formats = formats();
    for args in commands() {
        for format in &formats {
            let out = command()
                .env("SECRET", "lab-secret")
                .env("REFRESH", "good-refresh")
                .args(&args)
                .args(["--format", format, "-v", "--timeout", "5s"])
                .output()
                .unwrap();
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            // A `--cookie` or preflight entry without `=` is an input error.
            let input_error = args[0] == "run" || args.iter().any(|a| a.contains("SECRET-NOEQ"));
            assert!(
                out.status
                    .code()
                    .is_some_and(|c| c <= 1 || (input_error && c == 2)),
                "{args:?} --format {format}: {all}"
            );
            // The chains to /reflect ran (a bad cookie stops only its own).
            if format == "text"
                && (args[0] == "run" || args.iter().any(|a| a.ends_with("/reflect")))
            {
                assert!(all.contains("x-echo-base64: "), "{args:?}: {all}");
            }
            for secret in SECRETS {
                for form in forms(secret) {
                    assert!(
                        !all.contains(&form),
                        "{secret} leaked as {form} by {args:?} --format {format}:\n{all}"
                    );
                }
            }
        }
    }
}

/// The server really echoes what the hunt looks for: with --no-redact
/// each secret shows raw, percent-encoded and in base64.
#[test]
fn the_reflecting_server_shows_every_form_without_redaction() {
    let commands = commands();
    let reflect = commands
        .iter()
        .find(|c| c[0] == "check" && c.iter().any(|a| a.ends_with("/reflect")))
        .unwrap();
    let out = command()
        .args(reflect)
        .args(["--json", "--no-redact"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let forms = forms("SECRET/COOKIE+11");
    assert!(stdout.contains("SECRET/COOKIE+11"), "{stdout}");
    assert!(stdout.contains("SECRET%2FCOOKIE%2B11"), "{stdout}");
    let base64 = forms
        .iter()
        .filter(|f| f.len() > 8 && !f.contains("SECRET"))
        .filter(|f| stdout.contains(f.as_str()))
        .count();
    assert!(base64 > 0, "no base64 form of the cookie in {stdout}");
}

#[test]
fn no_redact_shows_them_with_a_warning() {
    let args = &commands()[0];
    let out = command()
        .args(args)
        .args(["--json", "--no-redact"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("SECRET-AT-1"), "{stdout}");
    assert!(stdout.contains("SECRET-BEARER-3"), "{stdout}");
    assert!(stderr.contains("--no-redact"), "{stderr}");
}
