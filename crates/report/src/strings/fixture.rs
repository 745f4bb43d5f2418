//! What the tests hold the walk to: a report with every field filled.

use super::*;

/// A report with every string field filled (each from `s`), every kind of
/// details, headers of every secret kind and evidence with nested objects:
/// what the tests hold the walk to.
#[expect(
    clippy::too_many_lines,
    reason = "one literal report with every field: data, not steps"
)]
pub(crate) fn full_report(s: &mut dyn FnMut() -> String) -> Report {
    use crate::endpoint::Timings;
    use crate::{CheckKind, Code, Empty, Summary};

    let list = |n: usize, s: &mut dyn FnMut() -> String| (0..n).map(|_| s()).collect();
    let header = |name: &str, s: &mut dyn FnMut() -> String| Header {
        name: name.to_owned(),
        value: s(),
    };
    let mut hop = |s: &mut dyn FnMut() -> String| Hop {
        url: s(),
        timings: Timings::default(),
        dns: Some(DnsPhase {
            name: s(),
            source: crate::endpoint::DnsSource::System,
            servers: vec![s()],
            cname_chain: vec![CnameRecord {
                name: s(),
                target: s(),
                ttl: 1,
            }],
            answers: vec![AddressRecord {
                name: s(),
                record_type: s(),
                address: s(),
                ttl: Some(1),
            }],
            duration_ms: 1.0,
        }),
        tcp: Some(TcpPhase {
            attempts: vec![TcpAttempt {
                address: s(),
                outcome: crate::endpoint::TcpOutcome::Refused,
                duration_ms: 1.0,
                error: Some(s()),
            }],
            connected: Some(s()),
            local_address: Some(s()),
            duration_ms: 1.0,
        }),
        proxy: Some(ProxyPhase {
            url: Some(s()),
            source: s(),
            bypassed: Some(s()),
            mode: Some(s()),
            status: Some(200),
            duration_ms: 1.0,
        }),
        tls: Some(TlsPhase {
            sni: Some(s()),
            alpn_offered: vec![s()],
            alpn: Some(s()),
            version: Some(s()),
            cipher: Some(s()),
            chain: vec![Certificate {
                subject: s(),
                issuer: s(),
                sans: vec![s()],
                not_before: s(),
                not_after: s(),
                public_key: s(),
                signed_with: s(),
                sha256: s(),
                ca_issuers: vec![s()],
                ..Certificate::default()
            }],
            ..TlsPhase::default()
        }),
        http: Some(HttpPhase {
            method: s(),
            version: s(),
            request_headers: vec![
                header("Authorization", s),
                header("Cookie", s),
                header("X-Api-Key", s),
            ],
            status: Some(302),
            headers: vec![
                header("Set-Cookie", s),
                header("Proxy-Authorization", s),
                header("Location", s),
                header("x-echo", s),
            ],
            location: Some(s()),
            ..HttpPhase::default()
        }),
    };
    let sso_hop = |s: &mut dyn FnMut() -> String,
                   hop: &mut dyn FnMut(&mut dyn FnMut() -> String) -> Hop| {
        SsoHop {
            index: 1,
            via: s(),
            method: s(),
            url: s(),
            status: Some(200),
            idp: Some(s()),
            cookies_sent: vec![s()],
            cookies_withheld: vec![CookieWithheld {
                name: s(),
                domain: s(),
                reason: s(),
            }],
            cookies_set: vec![CookieSet {
                name: s(),
                domain: s(),
                path: s(),
                same_site: Some(s()),
                refused: Some(s()),
                ..CookieSet::default()
            }],
            page: s(),
            title: Some(s()),
            form_fields: vec![s()],
            network: hop(s),
        }
    };
    let end = |s: &mut dyn FnMut() -> String| SsoEnd {
        kind: s(),
        hop: 1,
        url: s(),
        summary: s(),
        callback_hop: Some(1),
    };
    let input = |s: &mut dyn FnMut() -> String| Input {
        source: s(),
        format: s(),
        version: Some(s()),
        entries: 1,
    };
    let family = |s: &mut dyn FnMut() -> String| FamilyCoverage {
        published: s(),
        covered: s(),
        uncovered: s(),
        coverage_percent: 1.0,
    };
    let finding = |s: &mut dyn FnMut() -> String| {
        let mut f = Finding::new(Code::TcpRefused, s());
        f.remedy = s();
        let evidence = serde_json::json!({
            "url": s(),
            "client_secret": s(),
            "code": s(),
            "list": [s(), {"password": [s()], "name": s()}],
            "header": {"name": "Set-Cookie", "value": s()},
            "pair": {"value": s(), "name": "Authorization"},
            "number": 1,
        });
        let serde_json::Value::Object(evidence) = evidence else {
            unreachable!()
        };
        f.evidence = evidence;
        f
    };
    let details = vec![
        Details::Endpoint(Box::new(EndpointDetails {
            url: s(),
            timings: Timings::default(),
            hops: vec![hop(s), hop(s)],
        })),
        Details::Sso(Box::new(SsoDetails {
            start_url: s(),
            seeded_cookies: vec![CookieName {
                name: s(),
                domain: s(),
            }],
            hops: vec![sso_hop(s, &mut hop)],
            end: end(s),
            identity: Some(SsoIdentity {
                source: s(),
                hop: 1,
                verified: false,
                issuer: Some(s()),
                audience: vec![s()],
                subject: Some(s()),
                email: Some(s()),
                preferred_username: Some(s()),
                upn: Some(s()),
                name_id: Some(s()),
            }),
            rewritten_url: Some(s()),
            compare: Some(SsoCompare {
                parted_at: Some(1),
                with_jar: s(),
                clean: s(),
                clean_hops: vec![sso_hop(s, &mut hop)],
                clean_end: end(s),
            }),
        })),
        Details::OauthScopes(Box::new(OauthScopesDetails {
            url: s(),
            config_source: s(),
            client_id: Some(s()),
            redirect_uri: Some(s()),
            scope: list(2, s),
            optional_scope: list(1, s),
            required: list(1, s),
            conditional: list(1, s),
            optional: list(1, s),
            redirect_urls: list(1, s),
            corrected_url: s(),
        })),
        Details::OauthToken(Box::new(OauthTokenDetails {
            token_url: s(),
            grant: s(),
            auth: s(),
            client_id: s(),
            status: Some(400),
            scopes_requested: list(1, s),
            scopes_granted: list(1, s),
            token_type: Some(s()),
            expires_in: Some(1),
            expires_at: Some(s()),
            refresh_token_returned: true,
            access_token_claims: Some(JwtClaims {
                iss: Some(s()),
                aud: list(1, s),
                exp: Some(s()),
                scopes: list(1, s),
                verified: false,
            }),
            error: Some(s()),
            error_description: Some(s()),
            request_id: Some(s()),
            network: hop(s),
        })),
        Details::OauthDiscover(Box::new(OauthDiscoverDetails {
            issuer_url: s(),
            document_url: Some(s()),
            issuer: Some(s()),
            endpoints: vec![DiscoveredEndpoint {
                name: s(),
                url: s(),
                reachable: true,
                status: Some(200),
                network: hop(s),
            }],
            jwks_keys: Some(vec![JwkInfo {
                kty: s(),
                kid: Some(s()),
                alg: Some(s()),
                key_use: Some(s()),
            }]),
            scopes_supported: list(1, s),
            documents: vec![hop(s)],
        })),
        Details::Allowlist(Box::new(AllowlistDetails {
            published: vec![input(s)],
            allowlists: vec![input(s)],
            direction: s(),
            port: Some(443),
            services: list(1, s),
            regions: list(1, s),
            ipv4: family(s),
            ipv6: family(s),
            uncovered: list(1, s),
            gaps: vec![Gap {
                service: Some(s()),
                region: Some(s()),
                addresses: s(),
                cidrs: list(1, s),
            }],
            hosts: vec![HostCoverage {
                name: s(),
                addresses: vec![HostAddress {
                    address: s(),
                    covered_by: Some(s()),
                }],
            }],
        })),
        Details::AllowlistDiff(Box::new(AllowlistDiffDetails {
            old: input(s),
            new: input(s),
            added: list(1, s),
            added_addresses: s(),
            removed: list(1, s),
            removed_addresses: s(),
            added_uncovered: Some(list(1, s)),
        })),
        Details::None(Empty {}),
    ];
    let checks = details
        .into_iter()
        .map(|details| Check {
            kind: CheckKind::Endpoint,
            name: Some(s()),
            target: s(),
            status: crate::Status::Fail,
            duration_ms: 1.0,
            findings: vec![finding(s)],
            details,
        })
        .collect::<Vec<_>>();
    Report {
        schema: s(),
        tool: Tool {
            name: s(),
            version: s(),
        },
        started_at: s(),
        duration_ms: 1.0,
        host: Some(s()),
        summary: Summary::of(&checks),
        checks,
    }
}
