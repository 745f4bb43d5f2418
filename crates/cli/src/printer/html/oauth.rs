//! OAuth checks on the page: what a token endpoint granted or refused
//! (the scopes asked for against those granted, the token's lifetime) with
//! the request's timing waterfall, and what an issuer's discovery document
//! points at and whether each endpoint answered.

use std::fmt::Write as _;

use reach_report::oauth::{OauthDiscoverDetails, OauthTokenDetails};

use super::super::lifetime;
use super::{escape, fact, listed, waterfall};

/// A token request: its facts, the scopes, the request's waterfall.
pub(super) fn token(out: &mut String, d: &OauthTokenDetails) {
    let granted = d.status.is_some_and(|s| (200..300).contains(&s));
    out.push_str("<dl class=\"facts\">\n");
    fact(out, "grant", &d.grant);
    fact(
        out,
        "client",
        &format!("{} (authentication: {})", d.client_id, d.auth),
    );
    if let Some(status) = d.status {
        fact(out, "answer", &format!("HTTP {status}"));
    }
    if let Some(error) = &d.error {
        let said = match &d.error_description {
            Some(description) => format!("{error}: {description}"),
            None => error.clone(),
        };
        fact(out, "refused", &said);
    }
    if let Some(kind) = &d.token_type {
        fact(out, "token", kind);
    }
    if let Some(seconds) = d.expires_in {
        let until = d
            .expires_at
            .as_deref()
            .map(|at| format!(", until {}", super::to_the_second(at)))
            .unwrap_or_default();
        fact(out, "lifetime", &format!("{}{until}", lifetime(seconds)));
    }
    if granted {
        let refresh = if d.refresh_token_returned {
            "returned (not shown)"
        } else {
            "none"
        };
        fact(out, "refresh token", refresh);
    }
    if let Some(id) = &d.request_id {
        fact(out, "request id", id);
    }
    out.push_str("</dl>\n");
    if !d.scopes_requested.is_empty() || !d.scopes_granted.is_empty() {
        let missing: Vec<&String> = d
            .scopes_requested
            .iter()
            .filter(|s| !d.scopes_granted.contains(s))
            .collect();
        let _ = writeln!(
            out,
            "<p>scopes asked for: {}</p>\n<p>granted: {}</p>",
            listed(&d.scopes_requested),
            listed(&d.scopes_granted)
        );
        if granted && !missing.is_empty() {
            let _ = writeln!(
                out,
                "<p class=\"fail\">not granted: {}</p>",
                listed(missing)
            );
        }
    }
    waterfall::svg(
        out,
        std::slice::from_ref(&d.network),
        d.network.timings.total_ms,
    );
}

/// A discovery: the document, then each endpoint it names and whether it
/// answered.
pub(super) fn discover(out: &mut String, d: &OauthDiscoverDetails) {
    out.push_str("<dl class=\"facts\">\n");
    if let Some(url) = &d.document_url {
        fact(out, "document", url);
    }
    if let Some(issuer) = &d.issuer {
        fact(out, "issuer", issuer);
    }
    if let Some(keys) = &d.jwks_keys {
        fact(
            out,
            "signing keys",
            &reach_report::count(keys.len() as u64, "key", "keys"),
        );
    }
    out.push_str("</dl>\n");
    if !d.scopes_supported.is_empty() {
        let _ = writeln!(
            out,
            "<p>scopes supported: {}</p>",
            listed(&d.scopes_supported)
        );
    }
    if d.endpoints.is_empty() {
        return;
    }
    out.push_str("<table>\n<tr><th>endpoint</th><th>URL</th><th>answer</th></tr>\n");
    for e in &d.endpoints {
        let answer = match (e.reachable, e.status) {
            (true, Some(status)) => format!("HTTP {status}"),
            (true, None) => "answered".to_owned(),
            (false, _) => "no answer".to_owned(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"mono\">{}</td><td class=\"mono wrap\">{}</td><td class=\"{}\">{}</td></tr>",
            escape(&e.name),
            escape(&e.url),
            if e.reachable { "pass" } else { "fail" },
            answer
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::lifetime;

    #[test]
    fn lifetimes_read_in_words() {
        assert_eq!(lifetime(45), "45 seconds");
        assert_eq!(lifetime(600), "10 minutes");
        assert_eq!(lifetime(3600), "60 minutes");
        assert_eq!(lifetime(3599), "about 59 minutes");
        assert_eq!(lifetime(86_400), "24 hours");
        assert_eq!(lifetime(7201), "about 2 hours");
        // A token that arrives expired is not "45 seconds" long.
        assert_eq!(lifetime(0), "already expired");
        assert_eq!(lifetime(-45), "already expired");
    }
}
