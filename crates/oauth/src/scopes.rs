//! `reach oauth scopes`: an install / authorize URL against the app's
//! configured scopes and redirect URLs. Pure: the caller reads the files.
//!
//! The rules are the ones the platforms enforce at install time (`HubSpot`'s
//! messages quoted in each code's text): required scopes belong in `scope`,
//! optional ones in `optional_scope`, conditionally required ones in `scope`
//! when they apply, and nothing the app does not configure.

use reach_report::{Code, Finding};
use url::Url;

use crate::error::Error;

/// The scopes and redirect URLs an app is configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppConfig {
    pub required: Vec<String>,
    pub conditional: Vec<String>,
    pub optional: Vec<String>,
    pub redirect_urls: Vec<String>,
}

/// Reads an app configuration file: `HubSpot`'s `app-hsmeta.json`
/// (`config.auth`), the older `public-app.json` (`auth` at the top level),
/// or an object holding the keys itself. Keys: `requiredScopes`,
/// `conditionallyRequiredScopes`, `optionalScopes`, `redirectUrls`.
/// `Err` names the line of invalid JSON or the shapes tried.
pub fn parse_app_file(source: &str, text: &str) -> Result<AppConfig, Error> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root: serde_json::Value = serde_json::from_str(text).map_err(|e| Error::InvalidJson {
        file: source.to_owned(),
        line: e.line().max(1),
        reason: e,
    })?;
    let candidates = [
        root.get("config").and_then(|c| c.get("auth")),
        root.get("auth"),
        Some(&root),
    ];
    let auth = candidates
        .into_iter()
        .flatten()
        .find(|v| {
            [
                "requiredScopes",
                "optionalScopes",
                "conditionallyRequiredScopes",
                "redirectUrls",
            ]
            .iter()
            .any(|k| v.get(k).is_some())
        })
        .ok_or_else(|| Error::NotAppConfig {
            file: source.to_owned(),
        })?;
    let list = |key: &'static str| -> Result<Vec<String>, Error> {
        match auth.get(key) {
            None | Some(serde_json::Value::Null) => Ok(Vec::new()),
            Some(serde_json::Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str()
                        .map(|s| s.trim().to_owned())
                        .ok_or_else(|| Error::NotAString {
                            file: source.to_owned(),
                            key,
                            value: v.clone(),
                        })
                })
                .collect(),
            Some(other) => Err(Error::NotAnArray {
                file: source.to_owned(),
                key,
                value: other.clone(),
            }),
        }
    };
    Ok(AppConfig {
        required: list("requiredScopes")?,
        conditional: list("conditionallyRequiredScopes")?,
        optional: list("optionalScopes")?,
        redirect_urls: list("redirectUrls")?,
    })
}

/// Splits a scope list: spaces (`+` and `%20` in a URL decode to spaces),
/// and commas, which some vendors' docs use.
pub fn split_scopes(value: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in value
        .split([' ', ','])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if !out.iter().any(|o| o == s) {
            out.push(s.to_owned());
        }
    }
    out
}

/// Scope lists given as several arguments (each space- or
/// comma-separated), in order, without repeats.
pub fn scope_list(args: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for s in args.iter().flat_map(|a| split_scopes(a)) {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// What the lint found.
#[derive(Debug, Default)]
pub struct ScopeLint {
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Vec<String>,
    pub optional_scope: Vec<String>,
    pub findings: Vec<Finding>,
    /// Problems with the URL itself (no query, no `client_id` or
    /// `redirect_uri`): input errors.
    pub input_errors: Vec<Error>,
    pub corrected_url: String,
}

/// Lints `url` against `app`.
pub fn lint(url: &Url, app: &AppConfig) -> ScopeLint {
    let param = |name: &str| {
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    let mut out = ScopeLint {
        client_id: param("client_id"),
        redirect_uri: param("redirect_uri"),
        scope: param("scope")
            .as_deref()
            .map(split_scopes)
            .unwrap_or_default(),
        optional_scope: param("optional_scope")
            .as_deref()
            .map(split_scopes)
            .unwrap_or_default(),
        ..ScopeLint::default()
    };
    out.input_errors = url_errors(url, &out);
    out.findings = scope_findings(app, &out.scope, &out.optional_scope);
    if let Some(finding) = redirect_finding(app, out.redirect_uri.as_deref()) {
        out.findings.push(finding);
    }
    out.corrected_url = corrected(url, app, &out);
    out
}

/// What the install URL lacks: a query, or `client_id` or
/// `redirect_uri` in it.
fn url_errors(url: &Url, lint: &ScopeLint) -> Vec<Error> {
    if url.query().is_none_or(str::is_empty) {
        return vec![Error::NoQuery { url: url.clone() }];
    }
    [
        ("client_id", &lint.client_id),
        ("redirect_uri", &lint.redirect_uri),
    ]
    .into_iter()
    .filter(|(_, value)| value.as_deref().is_none_or(str::is_empty))
    .map(|(name, _)| Error::MissingParameter { name })
    .collect()
}

/// Each scope of the URL's `scope` and `optional_scope` that is not
/// where the app's configuration puts it, and each required one missing.
fn scope_findings(app: &AppConfig, scope: &[String], optional_scope: &[String]) -> Vec<Finding> {
    let mut findings = Vec::new();
    let configured = |s: &String| {
        app.required.contains(s) || app.conditional.contains(s) || app.optional.contains(s)
    };
    for s in &app.required {
        if optional_scope.contains(s) {
            findings.push(
                Finding::new(
                    Code::OauthScopeRequiredInOptional,
                    format!(
                        "required scope `{s}` is in optional_scope: the provided scopes are insufficient"
                    ),
                )
                .with("scope", s),
            );
        } else if !scope.contains(s) {
            findings.push(
                Finding::new(
                    Code::OauthScopeRequiredMissing,
                    format!(
                        "required scope `{s}` is missing from scope: the provided scopes are insufficient"
                    ),
                )
                .with("scope", s),
            );
        }
    }
    for (param, list) in [("scope", scope), ("optional_scope", optional_scope)] {
        for s in list.iter().filter(|s| !configured(s)) {
            findings.push(
                Finding::new(
                    Code::OauthScopeNotConfigured,
                    format!(
                        "`{s}` in {param} is not configured for the app: there is a mismatch between the scopes in the install URL and the app's configured scopes"
                    ),
                )
                .with("scope", s)
                .with("parameter", param),
            );
        }
    }
    for s in optional_scope
        .iter()
        .filter(|s| app.conditional.contains(s))
    {
        findings.push(
            Finding::new(
                Code::OauthScopeConditionalInOptional,
                format!(
                    "conditionally required scope `{s}` is in optional_scope: there is a mismatch between the scopes in the install URL and the app's configured scopes"
                ),
            )
            .with("scope", s),
        );
    }
    for s in scope.iter().filter(|s| app.optional.contains(s)) {
        findings.push(
            Finding::new(
                Code::OauthScopeOptionalInScope,
                format!(
                    "optional scope `{s}` is in scope: there is a mismatch between the scopes in the install URL and the app's configured scopes"
                ),
            )
            .with("scope", s),
        );
    }
    findings
}

/// `oauth.redirect_uri_mismatch` when the URL's `redirect_uri` is not one
/// the app is configured with.
fn redirect_finding(app: &AppConfig, redirect_uri: Option<&str>) -> Option<Finding> {
    let redirect = redirect_uri.filter(|r| !r.is_empty())?;
    if app.redirect_urls.is_empty() || app.redirect_urls.iter().any(|u| u == redirect) {
        return None;
    }
    Some(
        Finding::new(
            Code::OauthRedirectUriMismatch,
            format!(
                "redirect_uri `{redirect}` is not one of the app's redirect URLs ({})",
                app.redirect_urls.join(", ")
            ),
        )
        .with("redirect_uri", redirect)
        .with("configured", &app.redirect_urls),
    )
}

/// The URL with the scopes where they belong: required and the
/// conditionally required ones the URL asked for in `scope`, the app's
/// optional ones in `optional_scope`, a configured `redirect_uri` when the
/// given one is not; every other parameter kept, in order.
fn corrected(url: &Url, app: &AppConfig, lint: &ScopeLint) -> String {
    let asked = |s: &String| lint.scope.contains(s) || lint.optional_scope.contains(s);
    let mut scope: Vec<String> = app.required.clone();
    scope.extend(app.conditional.iter().filter(|s| asked(s)).cloned());
    let optional: Vec<String> = app.optional.clone();
    let redirect = match (&lint.redirect_uri, app.redirect_urls.first()) {
        (Some(r), Some(first)) if !app.redirect_urls.contains(r) => Some(first.clone()),
        _ => None,
    };
    let mut fixed = url.clone();
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut placed = (false, false);
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "scope" => {
                if !placed.0 {
                    pairs.push(("scope".to_owned(), scope.join(" ")));
                    placed.0 = true;
                }
            }
            "optional_scope" => {
                if !placed.1 && !optional.is_empty() {
                    pairs.push(("optional_scope".to_owned(), optional.join(" ")));
                }
                placed.1 = true;
            }
            "redirect_uri" => pairs.push((
                "redirect_uri".to_owned(),
                redirect.clone().unwrap_or_else(|| v.into_owned()),
            )),
            _ => pairs.push((k.into_owned(), v.into_owned())),
        }
    }
    if !placed.0 && !scope.is_empty() {
        pairs.push(("scope".to_owned(), scope.join(" ")));
    }
    if !placed.1 && !optional.is_empty() {
        pairs.push(("optional_scope".to_owned(), optional.join(" ")));
    }
    fixed.set_query(None);
    if !pairs.is_empty() {
        fixed.query_pairs_mut().extend_pairs(pairs);
    }
    fixed.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app() -> AppConfig {
        AppConfig {
            required: vec!["crm.objects.contacts.read".into(), "oauth".into()],
            conditional: vec!["crm.objects.deals.read".into()],
            optional: vec!["crm.objects.companies.read".into()],
            redirect_urls: vec!["https://app.example.com/oauth/callback".into()],
        }
    }

    fn url(query: &str) -> Url {
        Url::parse(&format!("https://app.hubspot.com/oauth/authorize?{query}")).unwrap()
    }

    const GOOD: &str = "client_id=abc&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback\
                        &scope=crm.objects.contacts.read%20oauth&optional_scope=crm.objects.companies.read";

    fn codes(lint: &ScopeLint) -> Vec<(Code, String)> {
        lint.findings
            .iter()
            .map(|f| {
                let scope = f
                    .evidence
                    .get("scope")
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned();
                (f.code, scope)
            })
            .collect()
    }

    #[test]
    fn every_rule() {
        let cases: Vec<(&str, Vec<(Code, &str)>)> = vec![
            (GOOD, vec![]),
            // `+` separates too.
            (
                "client_id=abc&redirect_uri=https://app.example.com/oauth/callback&scope=oauth+crm.objects.contacts.read",
                vec![],
            ),
            (
                "client_id=abc&redirect_uri=https://app.example.com/oauth/callback&scope=oauth",
                vec![(Code::OauthScopeRequiredMissing, "crm.objects.contacts.read")],
            ),
            (
                "client_id=abc&redirect_uri=https://app.example.com/oauth/callback&scope=oauth&optional_scope=crm.objects.contacts.read",
                vec![(
                    Code::OauthScopeRequiredInOptional,
                    "crm.objects.contacts.read",
                )],
            ),
            (
                "client_id=abc&redirect_uri=https://app.example.com/oauth/callback&scope=oauth%20crm.objects.contacts.read%20tickets",
                vec![(Code::OauthScopeNotConfigured, "tickets")],
            ),
            (
                "client_id=abc&redirect_uri=https://app.example.com/oauth/callback&scope=oauth%20crm.objects.contacts.read&optional_scope=e-commerce",
                vec![(Code::OauthScopeNotConfigured, "e-commerce")],
            ),
            (
                "client_id=abc&redirect_uri=https://app.example.com/oauth/callback&scope=oauth%20crm.objects.contacts.read&optional_scope=crm.objects.deals.read",
                vec![(
                    Code::OauthScopeConditionalInOptional,
                    "crm.objects.deals.read",
                )],
            ),
            (
                "client_id=abc&redirect_uri=https://app.example.com/oauth/callback&scope=oauth%20crm.objects.contacts.read%20crm.objects.companies.read",
                vec![(
                    Code::OauthScopeOptionalInScope,
                    "crm.objects.companies.read",
                )],
            ),
            (
                "client_id=abc&redirect_uri=https://evil.example/cb&scope=oauth%20crm.objects.contacts.read",
                vec![(Code::OauthRedirectUriMismatch, "")],
            ),
        ];
        for (query, want) in cases {
            let got = lint(&url(query), &app());
            let want: Vec<(Code, String)> =
                want.into_iter().map(|(c, s)| (c, s.to_owned())).collect();
            assert_eq!(codes(&got), want, "{query}");
            assert!(
                got.input_errors.is_empty(),
                "{query}: {:?}",
                got.input_errors
            );
        }
    }

    #[test]
    fn messages_quote_the_platform() {
        let got = lint(&url("client_id=a&redirect_uri=x&scope=nope"), &app());
        assert!(
            got.findings
                .iter()
                .any(|f| f.message.contains("the provided scopes are insufficient"))
        );
        assert!(got.findings.iter().any(|f| f.message.contains(
            "there is a mismatch between the scopes in the install URL and the app's configured scopes"
        )));
    }

    #[test]
    fn the_corrected_url_passes_the_lint() {
        let bad = url(
            "client_id=abc&redirect_uri=https://evil.example/cb&scope=tickets%20crm.objects.companies.read\
             &optional_scope=crm.objects.contacts.read%20crm.objects.deals.read&state=s1",
        );
        let got = lint(&bad, &app());
        assert!(got.findings.len() >= 5, "{:?}", codes(&got));
        let fixed = Url::parse(&got.corrected_url).unwrap();
        let again = lint(&fixed, &app());
        assert!(
            again.findings.is_empty(),
            "{}: {:?}",
            got.corrected_url,
            codes(&again)
        );
        assert_eq!(
            again.scope,
            [
                "crm.objects.contacts.read",
                "oauth",
                "crm.objects.deals.read"
            ]
        );
        assert_eq!(again.optional_scope, ["crm.objects.companies.read"]);
        assert!(got.corrected_url.contains("state=s1"));
        assert!(got.corrected_url.contains("client_id=abc"));
    }

    #[test]
    fn missing_parameters_are_input_errors() {
        let got = lint(
            &Url::parse("https://app.hubspot.com/oauth/authorize").unwrap(),
            &app(),
        );
        assert!(got.input_errors[0].to_string().contains("no query"));
        let got = lint(&url("scope=oauth"), &app());
        assert_eq!(got.input_errors.len(), 2);
        assert!(matches!(
            got.input_errors[0],
            Error::MissingParameter { name: "client_id" }
        ));
    }

    #[test]
    fn app_file_shapes() {
        let hsmeta = r#"{"uid": "app", "type": "app", "config": {"name": "x", "auth": {
            "type": "oauth", "redirectUrls": ["https://a.example/cb"],
            "requiredScopes": ["oauth", "crm.objects.contacts.read"],
            "optionalScopes": [], "conditionallyRequiredScopes": ["crm.objects.deals.read"]}}}"#;
        let app = parse_app_file("app-hsmeta.json", hsmeta).unwrap();
        assert_eq!(app.required, ["oauth", "crm.objects.contacts.read"]);
        assert_eq!(app.conditional, ["crm.objects.deals.read"]);
        assert_eq!(app.redirect_urls, ["https://a.example/cb"]);
        let public = r#"{"name": "x", "auth": {"redirectUrls": ["https://a.example/cb"],
            "requiredScopes": ["oauth"], "optionalScopes": ["tickets"]}}"#;
        let app = parse_app_file("public-app.json", public).unwrap();
        assert_eq!(app.optional, ["tickets"]);
        let err = parse_app_file("x.json", r#"{"name": "x"}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("tried") && err.starts_with("x.json"), "{err}");
        let err = parse_app_file("x.json", "{\n\"auth\": [,]}")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("x.json:2"), "{err}");
        let err = parse_app_file("x.json", r#"{"auth": {"requiredScopes": "oauth"}}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("not an array"), "{err}");
    }
}
