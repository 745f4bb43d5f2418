//! Secrets never reach a report: every command against the lab with secrets
//! in every place they travel (URL parameters, headers, proxy credentials,
//! cookies, codes, ID tokens, SAML messages, client secrets, refresh and
//! access tokens), in every output format; and `--no-redact` shows them
//! with a warning.

use crate::{command, lab};

/// Strings that must never appear: the ones we pass, and the ones the lab
/// generates along the way (codes, tokens, SAML messages, encodings).
const SECRETS: &[&str] = &[
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
];

fn commands() -> Vec<Vec<String>> {
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
    let dir = std::env::temp_dir().join(format!("reach-redaction-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
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

#[test]
fn no_secret_in_any_format() {
    for args in commands() {
        for format in ["json", "text", "md", "junit"] {
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
            assert!(
                out.status.code().is_some_and(|c| c <= 1),
                "{args:?} --format {format}: {all}"
            );
            for secret in SECRETS {
                assert!(
                    !all.contains(secret),
                    "{secret} leaked by {args:?} --format {format}:\n{all}"
                );
            }
        }
    }
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
