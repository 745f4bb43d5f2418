//! A walk over every string of a report, in place, each with the JSON
//! member it sits under: what redaction ([`crate::redact::report`]) and the
//! printers' control-character escaping work on, so that neither copies the
//! report into a `serde_json::Value` (hundreds of bytes a string) or its
//! JSON text.
//!
//! The walk sees the report as its JSON shows it: a field's `key` is its
//! serde name (`record_type` is `type`), an item of a list has none, and
//! the evidence of a finding is walked as the JSON it is. Enums (`code`,
//! `status`, …) and numbers are not visited: their text is fixed by their
//! type. Each impl destructures its struct without `..`, so a field added
//! later does not compile until the walk visits it (or says why not).

use serde_json::{Map, Value};

use crate::allowlist::{
    AllowlistDetails, AllowlistDiffDetails, FamilyCoverage, Gap, HostAddress, HostCoverage, Input,
};
use crate::endpoint::{
    AddressRecord, Certificate, CnameRecord, DnsPhase, EndpointDetails, Header, Hop, HttpPhase,
    ProxyPhase, TcpAttempt, TcpPhase, TlsPhase,
};
use crate::oauth::{
    DiscoveredEndpoint, JwkInfo, JwtClaims, OauthDiscoverDetails, OauthScopesDetails,
    OauthTokenDetails,
};
use crate::sso::{
    CookieName, CookieSet, CookieWithheld, SsoCompare, SsoDetails, SsoEnd, SsoHop, SsoIdentity,
};
use crate::{Check, Details, Finding, Report, Tool};

/// Where a string sits in the report's JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place<'a> {
    /// The member whose value it is; `None` for an item of a list.
    pub key: Option<&'a str>,
    /// For a `value` member: the `name` string before it in the same object
    /// (a `{name, value}` header pair), as it was before the walk.
    pub name: Option<&'a str>,
}

/// The callback of a walk: each string, where it sits, to read or change.
pub type Visit<'v> = dyn FnMut(Place<'_>, &mut String) + 'v;

/// Something whose strings can be walked in place.
pub trait Strings {
    /// Calls `visit` on every string, `key` being the member this value
    /// sits under (`None` at the top or in a list).
    fn strings(&mut self, key: Option<&str>, visit: &mut Visit<'_>);
}

impl Strings for String {
    fn strings(&mut self, key: Option<&str>, visit: &mut Visit<'_>) {
        visit(Place { key, name: None }, self);
    }
}

impl<T: Strings> Strings for Option<T> {
    fn strings(&mut self, key: Option<&str>, visit: &mut Visit<'_>) {
        if let Some(value) = self {
            value.strings(key, visit);
        }
    }
}

impl<T: Strings> Strings for Vec<T> {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        for item in self {
            item.strings(None, visit);
        }
    }
}

impl<T: Strings> Strings for Box<T> {
    fn strings(&mut self, key: Option<&str>, visit: &mut Visit<'_>) {
        T::strings(self, key, visit);
    }
}

impl Strings for Value {
    fn strings(&mut self, key: Option<&str>, visit: &mut Visit<'_>) {
        match self {
            Value::String(s) => visit(Place { key, name: None }, s),
            Value::Array(items) => {
                for item in items {
                    item.strings(None, visit);
                }
            }
            Value::Object(map) => map.strings(key, visit),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
}

impl Strings for Map<String, Value> {
    /// Members in their JSON order; a string member sees the `name` string
    /// that came before it (member names are never changed).
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let mut name: Option<String> = None;
        for (key, value) in self.iter_mut() {
            match value {
                Value::String(s) => {
                    let original = (key == "name").then(|| s.clone());
                    visit(
                        Place {
                            key: Some(key),
                            name: name.as_deref(),
                        },
                        s,
                    );
                    if original.is_some() {
                        name = original;
                    }
                }
                other => other.strings(Some(key), visit),
            }
        }
    }
}

/// Visits each field as the member of its serde name.
macro_rules! members {
    ($visit:ident; $($key:literal => $field:expr),* $(,)?) => {
        $( Strings::strings($field, Some($key), $visit); )*
    };
}

impl Strings for Report {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Report {
            schema,
            tool,
            started_at,
            duration_ms: _,
            host,
            summary: _,
            checks,
        } = self;
        members!(visit; "schema" => schema, "tool" => tool, "started_at" => started_at,
            "host" => host, "checks" => checks);
    }
}

impl Strings for Tool {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Tool { name, version } = self;
        members!(visit; "name" => name, "version" => version);
    }
}

impl Strings for Check {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Check {
            kind: _,
            name,
            target,
            status: _,
            duration_ms: _,
            findings,
            details,
        } = self;
        members!(visit; "name" => name, "target" => target, "findings" => findings,
            "details" => details);
    }
}

impl Strings for Finding {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Finding {
            code: _,
            severity: _,
            message,
            remedy,
            evidence,
        } = self;
        members!(visit; "message" => message, "remedy" => remedy, "evidence" => evidence);
    }
}

impl Strings for Details {
    fn strings(&mut self, key: Option<&str>, visit: &mut Visit<'_>) {
        // Untagged: each variant is its struct's object.
        match self {
            Details::Endpoint(d) => d.strings(key, visit),
            Details::Allowlist(d) => d.strings(key, visit),
            Details::AllowlistDiff(d) => d.strings(key, visit),
            Details::Sso(d) => d.strings(key, visit),
            Details::OauthScopes(d) => d.strings(key, visit),
            Details::OauthToken(d) => d.strings(key, visit),
            Details::OauthDiscover(d) => d.strings(key, visit),
            Details::None(_) => {}
        }
    }
}

impl Strings for EndpointDetails {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let EndpointDetails {
            url,
            timings: _,
            hops,
        } = self;
        members!(visit; "url" => url, "hops" => hops);
    }
}

impl Strings for Hop {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Hop {
            url,
            timings: _,
            dns,
            tcp,
            proxy,
            tls,
            http,
        } = self;
        members!(visit; "url" => url, "dns" => dns, "tcp" => tcp, "proxy" => proxy,
            "tls" => tls, "http" => http);
    }
}

impl Strings for DnsPhase {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let DnsPhase {
            name,
            source: _,
            servers,
            cname_chain,
            answers,
            duration_ms: _,
        } = self;
        members!(visit; "name" => name, "servers" => servers, "cname_chain" => cname_chain,
            "answers" => answers);
    }
}

impl Strings for CnameRecord {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let CnameRecord {
            name,
            target,
            ttl: _,
        } = self;
        members!(visit; "name" => name, "target" => target);
    }
}

impl Strings for AddressRecord {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let AddressRecord {
            name,
            record_type,
            address,
            ttl: _,
        } = self;
        members!(visit; "name" => name, "type" => record_type, "address" => address);
    }
}

impl Strings for TcpPhase {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let TcpPhase {
            attempts,
            connected,
            local_address,
            duration_ms: _,
        } = self;
        members!(visit; "attempts" => attempts, "connected" => connected,
            "local_address" => local_address);
    }
}

impl Strings for TcpAttempt {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let TcpAttempt {
            address,
            outcome: _,
            duration_ms: _,
            error,
        } = self;
        members!(visit; "address" => address, "error" => error);
    }
}

impl Strings for ProxyPhase {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let ProxyPhase {
            url,
            source,
            bypassed,
            mode,
            status: _,
            duration_ms: _,
        } = self;
        members!(visit; "url" => url, "source" => source, "bypassed" => bypassed,
            "mode" => mode);
    }
}

impl Strings for TlsPhase {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let TlsPhase {
            sni,
            alpn_offered,
            alpn,
            version,
            cipher,
            verified: _,
            client_cert_requested: _,
            client_cert_sent: _,
            chain,
            public_root: _,
            duration_ms: _,
        } = self;
        members!(visit; "sni" => sni, "alpn_offered" => alpn_offered, "alpn" => alpn,
            "version" => version, "cipher" => cipher, "chain" => chain);
    }
}

impl Strings for Certificate {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Certificate {
            subject,
            issuer,
            sans,
            not_before,
            not_after,
            days_left: _,
            public_key,
            signed_with,
            embedded_scts: _,
            sha256,
            ca_issuers,
        } = self;
        members!(visit; "subject" => subject, "issuer" => issuer, "sans" => sans,
            "not_before" => not_before, "not_after" => not_after, "public_key" => public_key,
            "signed_with" => signed_with, "sha256" => sha256, "ca_issuers" => ca_issuers);
    }
}

impl Strings for HttpPhase {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let HttpPhase {
            method,
            version,
            request_headers,
            status: _,
            headers,
            body_bytes: _,
            body_truncated: _,
            location,
            ttfb_ms: _,
            duration_ms: _,
        } = self;
        members!(visit; "method" => method, "version" => version,
            "request_headers" => request_headers, "headers" => headers, "location" => location);
    }
}

impl Strings for Header {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Header { name, value } = self;
        // `name` comes first in the JSON: `value` sees it as it was.
        visit(
            Place {
                key: Some("value"),
                name: Some(name),
            },
            value,
        );
        members!(visit; "name" => name);
    }
}

impl Strings for SsoDetails {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let SsoDetails {
            start_url,
            seeded_cookies,
            hops,
            end,
            identity,
            rewritten_url,
            compare,
        } = self;
        members!(visit; "start_url" => start_url, "seeded_cookies" => seeded_cookies,
            "hops" => hops, "end" => end, "identity" => identity,
            "rewritten_url" => rewritten_url, "compare" => compare);
    }
}

impl Strings for SsoHop {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let SsoHop {
            index: _,
            via,
            method,
            url,
            status: _,
            idp,
            cookies_sent,
            cookies_withheld,
            cookies_set,
            page,
            title,
            form_fields,
            network,
        } = self;
        members!(visit; "via" => via, "method" => method, "url" => url, "idp" => idp,
            "cookies_sent" => cookies_sent, "cookies_withheld" => cookies_withheld,
            "cookies_set" => cookies_set, "page" => page, "title" => title,
            "form_fields" => form_fields, "network" => network);
    }
}

impl Strings for CookieName {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let CookieName { name, domain } = self;
        members!(visit; "name" => name, "domain" => domain);
    }
}

impl Strings for CookieSet {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let CookieSet {
            name,
            domain,
            path,
            secure: _,
            http_only: _,
            same_site,
            persistent: _,
            refused,
        } = self;
        members!(visit; "name" => name, "domain" => domain, "path" => path,
            "same_site" => same_site, "refused" => refused);
    }
}

impl Strings for CookieWithheld {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let CookieWithheld {
            name,
            domain,
            reason,
        } = self;
        members!(visit; "name" => name, "domain" => domain, "reason" => reason);
    }
}

impl Strings for SsoEnd {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let SsoEnd {
            kind,
            hop: _,
            url,
            summary,
            callback_hop: _,
        } = self;
        members!(visit; "kind" => kind, "url" => url, "summary" => summary);
    }
}

impl Strings for SsoIdentity {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let SsoIdentity {
            source,
            hop: _,
            verified: _,
            issuer,
            audience,
            subject,
            email,
            preferred_username,
            upn,
            name_id,
        } = self;
        members!(visit; "source" => source, "issuer" => issuer, "audience" => audience,
            "subject" => subject, "email" => email, "preferred_username" => preferred_username,
            "upn" => upn, "name_id" => name_id);
    }
}

impl Strings for SsoCompare {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let SsoCompare {
            parted_at: _,
            with_jar,
            clean,
            clean_hops,
            clean_end,
        } = self;
        members!(visit; "with_jar" => with_jar, "clean" => clean, "clean_hops" => clean_hops,
            "clean_end" => clean_end);
    }
}

impl Strings for OauthScopesDetails {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let OauthScopesDetails {
            url,
            config_source,
            client_id,
            redirect_uri,
            scope,
            optional_scope,
            required,
            conditional,
            optional,
            redirect_urls,
            corrected_url,
        } = self;
        members!(visit; "url" => url, "config_source" => config_source,
            "client_id" => client_id, "redirect_uri" => redirect_uri, "scope" => scope,
            "optional_scope" => optional_scope, "required" => required,
            "conditional" => conditional, "optional" => optional,
            "redirect_urls" => redirect_urls, "corrected_url" => corrected_url);
    }
}

impl Strings for OauthTokenDetails {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let OauthTokenDetails {
            token_url,
            grant,
            auth,
            client_id,
            status: _,
            scopes_requested,
            scopes_granted,
            token_type,
            expires_in: _,
            expires_at,
            refresh_token_returned: _,
            access_token_claims,
            error,
            error_description,
            request_id,
            network,
        } = self;
        members!(visit; "token_url" => token_url, "grant" => grant, "auth" => auth,
            "client_id" => client_id, "scopes_requested" => scopes_requested,
            "scopes_granted" => scopes_granted, "token_type" => token_type,
            "expires_at" => expires_at, "access_token_claims" => access_token_claims,
            "error" => error, "error_description" => error_description,
            "request_id" => request_id, "network" => network);
    }
}

impl Strings for JwtClaims {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let JwtClaims {
            iss,
            aud,
            exp,
            scopes,
            verified: _,
        } = self;
        members!(visit; "iss" => iss, "aud" => aud, "exp" => exp, "scopes" => scopes);
    }
}

impl Strings for OauthDiscoverDetails {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let OauthDiscoverDetails {
            issuer_url,
            document_url,
            issuer,
            endpoints,
            jwks_keys,
            scopes_supported,
            documents,
        } = self;
        members!(visit; "issuer_url" => issuer_url, "document_url" => document_url,
            "issuer" => issuer, "endpoints" => endpoints, "jwks_keys" => jwks_keys,
            "scopes_supported" => scopes_supported, "documents" => documents);
    }
}

impl Strings for DiscoveredEndpoint {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let DiscoveredEndpoint {
            name,
            url,
            reachable: _,
            status: _,
            network,
        } = self;
        members!(visit; "name" => name, "url" => url, "network" => network);
    }
}

impl Strings for JwkInfo {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let JwkInfo {
            kty,
            kid,
            alg,
            key_use,
        } = self;
        members!(visit; "kty" => kty, "kid" => kid, "alg" => alg, "key_use" => key_use);
    }
}

impl Strings for AllowlistDetails {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let AllowlistDetails {
            published,
            allowlists,
            direction,
            port: _,
            services,
            regions,
            ipv4,
            ipv6,
            uncovered,
            gaps,
            hosts,
        } = self;
        members!(visit; "published" => published, "allowlists" => allowlists,
            "direction" => direction, "services" => services, "regions" => regions,
            "ipv4" => ipv4, "ipv6" => ipv6, "uncovered" => uncovered, "gaps" => gaps,
            "hosts" => hosts);
    }
}

impl Strings for AllowlistDiffDetails {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let AllowlistDiffDetails {
            old,
            new,
            added,
            added_addresses,
            removed,
            removed_addresses,
            added_uncovered,
        } = self;
        members!(visit; "old" => old, "new" => new, "added" => added,
            "added_addresses" => added_addresses, "removed" => removed,
            "removed_addresses" => removed_addresses, "added_uncovered" => added_uncovered);
    }
}

impl Strings for Input {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Input {
            source,
            format,
            version,
            entries: _,
        } = self;
        members!(visit; "source" => source, "format" => format, "version" => version);
    }
}

impl Strings for FamilyCoverage {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let FamilyCoverage {
            published,
            covered,
            uncovered,
            coverage_percent: _,
        } = self;
        members!(visit; "published" => published, "covered" => covered,
            "uncovered" => uncovered);
    }
}

impl Strings for Gap {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let Gap {
            service,
            region,
            addresses,
            cidrs,
        } = self;
        members!(visit; "service" => service, "region" => region, "addresses" => addresses,
            "cidrs" => cidrs);
    }
}

impl Strings for HostCoverage {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let HostCoverage { name, addresses } = self;
        members!(visit; "name" => name, "addresses" => addresses);
    }
}

impl Strings for HostAddress {
    fn strings(&mut self, _: Option<&str>, visit: &mut Visit<'_>) {
        let HostAddress {
            address,
            covered_by,
        } = self;
        members!(visit; "address" => address, "covered_by" => covered_by);
    }
}

#[cfg(test)]
pub(crate) mod fixture;
