//! The OAuth checks: an install URL's scopes and its corrected form, a
//! token grant's answer, a discovery document's endpoints and keys.

use std::fmt::Write as _;

use reach_report::oauth::{OauthDiscoverDetails, OauthScopesDetails, OauthTokenDetails};

use super::{Paint, TextStyle, or_none, summarised};

pub(super) fn scopes(out: &mut String, d: &OauthScopesDetails) -> String {
    let _ = writeln!(out, "      corrected: {}", d.corrected_url);
    format!(
        "scope: {} · optional_scope: {}",
        or_none(&d.scope),
        or_none(&d.optional_scope)
    )
}

pub(super) fn token(out: &mut String, d: &OauthTokenDetails, p: &Paint) -> String {
    if let Some(at) = &d.expires_at {
        let _ = writeln!(out, "      {}", p.dim(&format!("expires at {at}")));
    }
    if let Some(c) = &d.access_token_claims {
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!(
                "access token claims (unverified): aud {} · exp {} · scopes {}",
                or_none(&c.aud),
                c.exp.as_deref().unwrap_or("-"),
                or_none(&c.scopes)
            ))
        );
    }
    if let Some(id) = &d.request_id {
        let _ = writeln!(out, "      {}", p.dim(&format!("request id {id}")));
    }
    match (&d.token_type, &d.error) {
        (Some(kind), _) => format!(
            "{kind} token, {} · scopes: {}",
            d.expires_in.map_or_else(
                || "no expires_in".to_owned(),
                |s| {
                    let words = super::super::lifetime(s);
                    if s > 0 {
                        format!("expires in {words}")
                    } else {
                        words
                    }
                }
            ),
            or_none(&d.scopes_granted)
        ),
        (None, Some(error)) => format!(
            "{} {error}",
            d.status.map_or_else(String::new, |s| s.to_string())
        ),
        (None, None) => d
            .status
            .map_or_else(|| "no answer".to_owned(), |s| format!("answered {s}")),
    }
}

pub(super) fn discover(
    out: &mut String,
    d: &OauthDiscoverDetails,
    p: &Paint,
    style: TextStyle,
) -> String {
    for e in &d.endpoints {
        let status = e
            .status
            .map_or_else(|| p.bold("unreachable"), |s| s.to_string());
        let _ = writeln!(out, "      {:<24} {} {status}", e.name, e.url);
    }
    if let Some(keys) = &d.jwks_keys {
        let kids = keys
            .iter()
            .map(|k| format!("{} {}", k.kty, k.kid.as_deref().unwrap_or("-")));
        let _ = writeln!(
            out,
            "      {}",
            p.dim(&format!("jwks: {}", summarised(kids, style.shown())))
        );
    }
    format!(
        "issuer {} · {} of {} reachable",
        d.issuer.as_deref().unwrap_or("(no document)"),
        d.endpoints.iter().filter(|e| e.reachable).count(),
        reach_report::count(d.endpoints.len() as u64, "endpoint", "endpoints")
    )
}
