//! Which identity provider a hop belongs to, from its URL and cookies, and
//! what kind of request it is (an authorize request, a callback).

use url::Url;

/// Identity providers reach recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Idp {
    Okta,
    EntraId,
    /// `autologon.microsoftazuread-sso.com`: Kerberos-based, OS-level SSO.
    EntraSeamlessSso,
    Google,
    Adfs,
    Ping,
    OneLogin,
    Auth0,
    Keycloak,
    Workday,
    /// An `OpenID` Connect / OAuth authorize request of another provider.
    Oidc,
    /// A SAML request or response of another provider.
    Saml,
}

impl Idp {
    pub fn name(self) -> &'static str {
        match self {
            Idp::Okta => "Okta",
            Idp::EntraId => "Microsoft Entra ID",
            Idp::EntraSeamlessSso => "Microsoft Entra Seamless SSO",
            Idp::Google => "Google",
            Idp::Adfs => "ADFS",
            Idp::Ping => "Ping Identity",
            Idp::OneLogin => "OneLogin",
            Idp::Auth0 => "Auth0",
            Idp::Keycloak => "Keycloak",
            Idp::Workday => "Workday",
            Idp::Oidc => "OIDC",
            Idp::Saml => "SAML",
        }
    }

    /// Whether a private window does not stop the silent login: the OS
    /// signs in (Kerberos / Windows integrated authentication).
    pub fn is_os_level(self) -> bool {
        matches!(self, Idp::EntraSeamlessSso | Idp::Adfs)
    }
}

fn host_is(host: &str, domain: &str) -> bool {
    host == domain
        || (host.len() > domain.len()
            && host.ends_with(domain)
            && host.as_bytes()[host.len() - domain.len() - 1] == b'.')
}

/// The provider `url` belongs to, given the names of the cookies sent to
/// it and the form fields posted to it. `None` for an ordinary page.
pub fn recognise(url: &Url, cookies: &[String], form_fields: &[String]) -> Option<Idp> {
    let host = url.host_str().unwrap_or("").to_ascii_lowercase();
    let path = url.path().to_ascii_lowercase();
    let cookie = |name: &str| cookies.iter().any(|c| c.eq_ignore_ascii_case(name));
    let by_host = [
        ("autologon.microsoftazuread-sso.com", Idp::EntraSeamlessSso),
        ("login.microsoftonline.com", Idp::EntraId),
        ("login.microsoft.com", Idp::EntraId),
        ("login.windows.net", Idp::EntraId),
        ("login.live.com", Idp::EntraId),
        ("sts.windows.net", Idp::EntraId),
        ("login.microsoftonline.us", Idp::EntraId),
        ("accounts.google.com", Idp::Google),
        ("okta.com", Idp::Okta),
        ("oktapreview.com", Idp::Okta),
        ("okta-emea.com", Idp::Okta),
        ("okta-gov.com", Idp::Okta),
        ("pingone.com", Idp::Ping),
        ("pingone.eu", Idp::Ping),
        ("pingidentity.com", Idp::Ping),
        ("onelogin.com", Idp::OneLogin),
        ("auth0.com", Idp::Auth0),
        ("myworkday.com", Idp::Workday),
        ("workday.com", Idp::Workday),
    ];
    if let Some((_, idp)) = by_host.iter().find(|(d, _)| host_is(&host, d)) {
        return Some(*idp);
    }
    // Self-hosted products, by their paths and cookies.
    if path.starts_with("/adfs/") || cookie("MSISAuth") || cookie("MSISAuthenticated") {
        return Some(Idp::Adfs);
    }
    if path.contains("/protocol/openid-connect/")
        || path.contains("/protocol/saml")
        || cookie("KEYCLOAK_SESSION")
        || cookie("KEYCLOAK_IDENTITY")
    {
        return Some(Idp::Keycloak);
    }
    if path.starts_with("/as/authorization.oauth2") || path.starts_with("/idp/sso.saml2") {
        return Some(Idp::Ping);
    }
    if path.starts_with("/oauth2/v1/authorize")
        || (path.starts_with("/oauth2/") && path.ends_with("/v1/authorize"))
        || (path.starts_with("/app/") && path.contains("/sso/saml"))
        || (cookie("sid") && cookie("DT"))
    {
        return Some(Idp::Okta);
    }
    if cookie("ESTSAUTH") || cookie("ESTSAUTHPERSISTENT") {
        return Some(Idp::EntraId);
    }
    if is_authorize(url) {
        return Some(Idp::Oidc);
    }
    let has = |name: &str| {
        url.query_pairs().any(|(k, _)| k == name) || form_fields.iter().any(|f| f == name)
    };
    if has("SAMLRequest") {
        return Some(Idp::Saml);
    }
    None
}

/// An OAuth / `OpenID` Connect authorize request: `client_id` and
/// `response_type` in the query.
pub fn is_authorize(url: &Url) -> bool {
    let has = |name: &str| url.query_pairs().any(|(k, _)| k == name);
    has("client_id") && has("response_type")
}

/// A SAML `AuthnRequest` sent by redirect (`SAMLRequest` in the query).
pub fn is_saml_request(url: &Url) -> bool {
    url.query_pairs().any(|(k, _)| k == "SAMLRequest")
}

/// Parameters of `url`'s query and fragment (`#code=…` of the implicit
/// flow), in that order.
pub fn url_params(url: &Url) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if let Some(fragment) = url.fragment() {
        out.extend(
            url::form_urlencoded::parse(fragment.as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned())),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idp(url: &str, cookies: &[&str]) -> Option<Idp> {
        let cookies: Vec<String> = cookies.iter().map(|c| (*c).to_owned()).collect();
        recognise(&Url::parse(url).unwrap(), &cookies, &[])
    }

    #[test]
    fn providers() {
        let cases = [
            (
                "https://acme.okta.com/oauth2/v1/authorize?client_id=a",
                Idp::Okta,
            ),
            (
                "https://login.acme.com/oauth2/default/v1/authorize?x=1",
                Idp::Okta,
            ),
            (
                "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
                Idp::EntraId,
            ),
            (
                "https://autologon.microsoftazuread-sso.com/acme.com/winauth/sso",
                Idp::EntraSeamlessSso,
            ),
            ("https://accounts.google.com/o/oauth2/v2/auth", Idp::Google),
            ("https://sts.acme.com/adfs/ls/?SAMLRequest=x", Idp::Adfs),
            (
                "https://sso.acme.com/as/authorization.oauth2?client_id=a",
                Idp::Ping,
            ),
            (
                "https://acme.onelogin.com/trust/saml2/http-post/sso",
                Idp::OneLogin,
            ),
            ("https://acme.eu.auth0.com/authorize", Idp::Auth0),
            (
                "https://id.acme.com/realms/main/protocol/openid-connect/auth",
                Idp::Keycloak,
            ),
            ("https://wd5.myworkday.com/acme/login.htmld", Idp::Workday),
            (
                "https://idp.example/authorize?client_id=a&response_type=code",
                Idp::Oidc,
            ),
            ("https://idp.example/sso?SAMLRequest=abc", Idp::Saml),
        ];
        for (url, want) in cases {
            assert_eq!(idp(url, &[]), Some(want), "{url}");
        }
        assert_eq!(idp("https://notokta.com/", &[]), None);
        assert_eq!(idp("https://app.example/home", &[]), None);
        assert_eq!(
            idp("https://login.acme.com/", &["sid", "DT"]),
            Some(Idp::Okta)
        );
        assert_eq!(
            idp("https://login.acme.com/", &["ESTSAUTH"]),
            Some(Idp::EntraId)
        );
    }

    #[test]
    fn fragment_params() {
        let url =
            Url::parse("https://app.example/cb?state=1#id_token=x&token_type=Bearer").unwrap();
        let names: Vec<String> = url_params(&url).into_iter().map(|(k, _)| k).collect();
        assert_eq!(names, ["state", "id_token", "token_type"]);
    }
}
