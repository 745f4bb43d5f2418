//! From what rustls said to a finding: typed errors only, never strings.

use reach_report::endpoint::TlsPhase;
use reach_report::{Code, Finding};
use rustls::{AlertDescription, CertificateError, PeerIncompatible};

use crate::certs;

/// The rustls error inside `error` or any of its sources (an `io::Error`
/// from tokio-rustls, a hyper error around it).
pub fn find_rustls_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a rustls::Error> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    for _ in 0..16 {
        let e = current?;
        if let Some(r) = e.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        current = e.source();
    }
    None
}

/// Whether the server refused every version rustls offers (TLS 1.2, 1.3):
/// the cue to ask it, with a legacy hello, what it does speak.
pub fn is_version_refusal(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::PeerIncompatible(
            PeerIncompatible::ServerDoesNotSupportTls12Or13
                | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
                | PeerIncompatible::SupportedVersionsExtensionRequired
        ) | rustls::Error::AlertReceived(AlertDescription::ProtocolVersion)
    )
}

/// webpki's `CaUsedAsEndEntity`, which rustls passes on as an opaque
/// `CertificateError::Other`: the server's certificate has CA:TRUE.
pub fn is_ca_used_as_end_entity(error: &CertificateError) -> bool {
    matches!(
        error,
        CertificateError::Other(other)
            if matches!(other.0.downcast_ref::<webpki::Error>(), Some(webpki::Error::CaUsedAsEndEntity))
    )
}

/// Alerts a server sends when it wanted a client certificate it did not get
/// (or did not like).
fn is_client_cert_alert(alert: AlertDescription) -> bool {
    matches!(
        alert,
        AlertDescription::CertificateRequired
            | AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied
            | AlertDescription::HandshakeFailure
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::DecryptError
    )
}

/// `HandshakeFailure` → `handshake_failure`, the name the RFCs use.
pub fn alert_name(alert: AlertDescription) -> String {
    let debug = format!("{alert:?}");
    let mut out = String::with_capacity(debug.len() + 4);
    let mut previous_lower = false;
    for c in debug.chars() {
        if c.is_ascii_uppercase() && previous_lower {
            out.push('_');
        }
        previous_lower = c.is_ascii_lowercase();
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The largest handshake message rustls accepts (its deframer's limit).
const MAX_HANDSHAKE_MESSAGE: usize = 0xffff;

/// The finding for a failed handshake (or a TLS failure on the first read,
/// where TLS 1.3 servers reject a client certificate).
pub fn finding(error: &rustls::Error, host: &str, phase: &TlsPhase) -> Finding {
    match error {
        rustls::Error::InvalidCertificate(cert_error) => {
            certificate_finding(cert_error, error, host, phase)
        }
        rustls::Error::AlertReceived(alert)
            if phase.client_cert_requested && is_client_cert_alert(*alert) =>
        {
            let message = if phase.client_cert_sent {
                format!(
                    "{host} asked for a client certificate and rejected the one given ({})",
                    alert_name(*alert)
                )
            } else {
                format!(
                    "{host} requires a client certificate and none was given ({})",
                    alert_name(*alert)
                )
            };
            Finding::new(Code::TlsClientCertRequired, message)
                .with("alert", alert_name(*alert))
                .with("client_cert_sent", phase.client_cert_sent)
        }
        e if is_version_refusal(e) => Finding::new(
            Code::TlsProtocolTooOld,
            format!("{host} does not speak TLS 1.2 or 1.3"),
        )
        .with("reason", e.to_string()),
        rustls::Error::AlertReceived(alert) => Finding::new(
            Code::TlsHandshakeFailed,
            format!(
                "{host} ended the handshake with the alert {}",
                alert_name(*alert)
            ),
        )
        .with("alert", alert_name(*alert)),
        rustls::Error::InvalidMessage(rustls::InvalidMessage::HandshakePayloadTooLarge) => {
            Finding::new(
                Code::TlsHandshakeFailed,
                format!(
                    "{host} sent a handshake message larger than the {} KiB TLS clients accept: its certificate message (the chain it presents) is too large",
                    MAX_HANDSHAKE_MESSAGE / 1024
                ),
            )
            .with_remedy(
                "The server presents a certificate chain over 64 KiB, which rustls, Go, Java and most TLS clients refuse. Configure it to send only its certificate and the intermediates up to the root (not the root, cross-signs it does not need, or unrelated certificates).",
            )
            .with("max_message_bytes", MAX_HANDSHAKE_MESSAGE)
            .with("reason", "handshake message too large")
        }
        rustls::Error::InvalidMessage(_) => Finding::new(
            Code::TlsHandshakeFailed,
            format!("{host} does not answer with TLS: what came back is not a TLS record; is this port plain HTTP or another protocol?"),
        )
        .with("reason", error.to_string()),
        other => Finding::new(
            Code::TlsHandshakeFailed,
            format!("the TLS handshake with {host} failed: {other}"),
        )
        .with("reason", other.to_string()),
    }
}

/// The finding for a certificate rustls refused.
fn certificate_finding(
    cert_error: &CertificateError,
    error: &rustls::Error,
    host: &str,
    phase: &TlsPhase,
) -> Finding {
    let leaf = phase.chain.first();
    // An intermediate can be the expired (or not yet valid) one: name the
    // certificate whose dates are at fault.
    let expired = phase.chain.iter().find(|c| c.days_left < 0).or(leaf);
    match cert_error {
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => Finding::new(
            Code::TlsCertExpired,
            match expired {
                Some(c) if phase.chain.first().is_some_and(|l| l.sha256 != c.sha256) => format!(
                    "a certificate in the chain of {host} ({}) expired on {}",
                    c.subject, c.not_after
                ),
                Some(c) => format!("the certificate of {host} expired on {}", c.not_after),
                None => format!("the certificate of {host} has expired"),
            },
        )
        .with("not_after", expired.map(|l| &l.not_after))
        .with("subject", expired.map(|l| &l.subject)),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            Finding::new(
                Code::TlsCertNotYetValid,
                format!(
                    "the certificate of {host} is valid only from {}",
                    leaf.map_or("a later date", |l| l.not_before.as_str())
                ),
            )
            .with("not_before", leaf.map(|l| &l.not_before))
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            let names = leaf.map(|l| l.sans.clone()).unwrap_or_default();
            let covered = if names.is_empty() {
                "no DNS names".to_owned()
            } else {
                names.join(", ")
            };
            Finding::new(
                Code::TlsHostnameMismatch,
                format!("the certificate of {host} covers {covered}, not {host}"),
            )
            .with("names", names)
            .with("requested", host)
        }
        CertificateError::UnknownIssuer => unknown_issuer(host, phase),
        e if is_ca_used_as_end_entity(e) => ca_used_as_end_entity(host, phase),
        CertificateError::UnsupportedSignatureAlgorithmContext { .. }
        | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. }
        | CertificateError::BadSignature => weak_or_bad_signature(host, phase, error),
        _ => Finding::new(
            Code::TlsHandshakeFailed,
            format!(
                "the certificate of {host} was rejected: {}",
                certificate_error_words(cert_error)
            ),
        )
        .with("reason", error.to_string()),
    }
}

/// What rustls refused a certificate for, in words.
fn certificate_error_words(error: &CertificateError) -> &'static str {
    match error {
        CertificateError::BadEncoding => "it is not a well-formed X.509 certificate",
        CertificateError::Revoked => "it is revoked",
        CertificateError::UnknownRevocationStatus => "its revocation status is unknown",
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "it is not meant for TLS servers (its extended key usage)"
        }
        CertificateError::ApplicationVerificationFailure => "the verifier refused it",
        _ => "it failed verification (see the evidence)",
    }
}

/// A server certificate with basicConstraints CA:TRUE. Self-signed (what
/// `openssl req -x509` makes), it is a self-signed certificate that is not
/// trusted, as openssl and curl say; otherwise webpki refuses a CA
/// certificate as a server's own.
fn ca_used_as_end_entity(host: &str, phase: &TlsPhase) -> Finding {
    let Some(leaf) = phase.chain.first() else {
        return unknown_issuer(host, phase);
    };
    if leaf.subject == leaf.issuer {
        return unknown_issuer(host, phase).with("ca_true", true);
    }
    Finding::new(
        Code::TlsHandshakeFailed,
        format!(
            "the certificate of {host} ({}) is a CA certificate (basicConstraints CA:TRUE) used as the server's own: rustls and other strict clients refuse it, OpenSSL-based clients may accept it",
            leaf.subject
        ),
    )
    .with("subject", &leaf.subject)
    .with("ca_true", true)
}

/// A signature rustls could not (or would not) verify: SHA-1 or MD5, or an
/// RSA key under 2048 bits (ring refuses it, so the signature it made reads
/// as bad). OpenSSL: 68 "CA signature digest algorithm too weak", 66 "EE
/// certificate key too weak".
fn weak_or_bad_signature(host: &str, phase: &TlsPhase, error: &rustls::Error) -> Finding {
    // A root's own signature is never checked: only certificates a CA signed.
    let signed = phase.chain.iter().filter(|c| c.subject != c.issuer);
    if let Some(c) = signed
        .clone()
        .find(|c| certs::is_weak_signature(&c.signed_with))
    {
        return Finding::new(
            Code::TlsWeakCertificate,
            format!(
                "the certificate {} of {host} is signed with {}, which clients refuse (OpenSSL: CA signature digest algorithm too weak)",
                c.subject, c.signed_with
            ),
        )
        .with("subject", &c.subject)
        .with("signed_with", &c.signed_with);
    }
    if let Some(c) = phase.chain.iter().find(|c| certs::weak_key(&c.public_key)) {
        return Finding::new(
            Code::TlsWeakCertificate,
            format!(
                "the certificate {} of {host} has a {}-bit key, which clients refuse (OpenSSL: EE certificate key too weak)",
                c.subject,
                c.public_key.trim_start_matches("RSA ")
            ),
        )
        .with("subject", &c.subject)
        .with("public_key", &c.public_key);
    }
    Finding::new(
        Code::TlsHandshakeFailed,
        format!("a signature in the certificate chain of {host} does not verify, or uses an algorithm reach does not support"),
    )
    .with("reason", error.to_string())
}

/// `UnknownIssuer` covers two different faults: a chain that ends in an
/// untrusted root, and a chain missing its intermediate. On the wire both
/// can be a lone leaf; what tells them apart is that a publicly issued leaf
/// names where its issuer can be fetched (AIA caIssuers, which browsers
/// follow and API clients do not), while a leaf from a private root usually
/// does not.
fn unknown_issuer(host: &str, phase: &TlsPhase) -> Finding {
    let Some(leaf) = phase.chain.first() else {
        return Finding::new(
            Code::TlsUntrustedIssuer,
            format!("the certificate of {host} is not issued by a trusted CA"),
        );
    };
    let self_signed = leaf.subject == leaf.issuer;
    let issuer_sent = phase.chain[1..].iter().any(|c| c.subject == leaf.issuer);
    if !self_signed && !issuer_sent {
        // The issuer is neither the leaf itself nor a trusted root (or the
        // chain would verify), and the server did not send it: testssl.sh's
        // "chain incomplete", openssl's "unable to get local issuer".
        let message = if leaf.ca_issuers.is_empty() {
            format!(
                "{host} sent its certificate without the certificate of its issuer ({}), which is not a trusted root: \
                 the server must send the intermediate (or, for a private CA, pass its root with --ca-file)",
                leaf.issuer
            )
        } else {
            format!(
                "{host} sent its certificate without the intermediate that issued it ({}); \
                 browsers may hide this by fetching it from {} (AIA), but connectors, Java and \
                 Python clients fail",
                leaf.issuer,
                leaf.ca_issuers.join(", ")
            )
        };
        Finding::new(Code::TlsIncompleteChain, message)
            .with("missing_issuer", &leaf.issuer)
            .with("certificates_sent", phase.chain.len())
            .with("ca_issuers", &leaf.ca_issuers)
    } else {
        let top = phase.chain.last().unwrap_or(leaf);
        Finding::new(
            Code::TlsUntrustedIssuer,
            if self_signed {
                format!(
                    "the certificate of {host} is self-signed ({})",
                    leaf.subject
                )
            } else {
                format!(
                    "the chain of {host} ends at {}, which is not a trusted root",
                    top.issuer
                )
            },
        )
        .with("issuer", &top.issuer)
        .with("self_signed", self_signed)
    }
}

/// Issuer names of TLS-inspecting proxies, security products and
/// debugging proxies: a chain issued by one of them means the connection is
/// intercepted and re-signed. Matched case-insensitively against the issuer
/// of every presented certificate and the subject of every CA certificate
/// presented.
const INSPECTORS: &[(&str, &str)] = &[
    ("zscaler", "Zscaler"),
    ("netskope", "Netskope"),
    ("palo alto networks", "Palo Alto Networks"),
    ("pan-fw", "Palo Alto Networks"),
    ("fortinet", "Fortinet FortiGate"),
    ("fortigate", "Fortinet FortiGate"),
    ("blue coat", "Symantec / Blue Coat ProxySG"),
    ("bluecoat", "Symantec / Blue Coat ProxySG"),
    ("symantec ssl visibility", "Symantec SSL Visibility"),
    ("cisco umbrella", "Cisco Umbrella"),
    ("opendns", "Cisco Umbrella"),
    ("check point", "Check Point"),
    ("checkpoint", "Check Point"),
    ("forcepoint", "Forcepoint"),
    ("websense", "Forcepoint (Websense)"),
    ("sophos", "Sophos"),
    ("mcafee web gateway", "McAfee / Skyhigh Web Gateway"),
    ("skyhigh", "McAfee / Skyhigh Web Gateway"),
    ("barracuda", "Barracuda"),
    ("sonicwall", "SonicWall"),
    ("watchguard", "WatchGuard"),
    ("iboss", "iboss"),
    ("menlo security", "Menlo Security"),
    ("cato networks", "Cato Networks"),
    ("kaspersky", "Kaspersky"),
    ("eset ssl filter", "ESET"),
    ("avast web/mail shield", "Avast"),
    ("untangle", "Untangle"),
    ("smoothwall", "Smoothwall"),
    ("lightspeed", "Lightspeed Systems"),
    ("contentkeeper", "ContentKeeper"),
    ("mitmproxy", "mitmproxy"),
    ("fiddler", "Fiddler"),
    ("charles proxy", "Charles Proxy"),
    ("portswigger", "Burp Suite"),
    ("burp suite", "Burp Suite"),
    ("squid", "Squid"),
];

/// Response headers a proxy adds to what it relays. Inside a CONNECT
/// tunnel a proxy sees nothing, so on an HTTPS response that came through
/// one, they show the proxy read (decrypted) the traffic.
const PROXY_HEADERS: &[&str] = &[
    "via",
    "x-squid-error",
    "x-cache",
    "x-cache-lookup",
    "proxy-status",
];

/// What the network showed beyond the chain: whether the connection went
/// through a CONNECT tunnel, and the HTTP response's headers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Seen<'a> {
    /// The proxy the TLS connection was tunnelled through (`CONNECT`).
    pub tunnel_proxy: Option<&'a str>,
    /// The HTTPS response's headers, once there is one.
    pub response_headers: &'a [reach_report::endpoint::Header],
}

/// Whether `host` is a name on the public Internet: its suffix is in the
/// public suffix list (so not `.test`, `.local`, `.internal`, `.corp`, a
/// single label or an IP address). A private PKI for such a name is normal.
pub fn is_public_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    if host.parse::<std::net::IpAddr>().is_ok() || !host.contains('.') {
        return false;
    }
    psl::suffix(host.as_bytes()).is_some_and(|s| s.is_known())
}

/// `tls.intercepted`, judged from what the network shows: an issuer naming
/// an inspection product or debugging proxy (enough alone); or, for a
/// public name, a chain ending at a root outside the public root program
/// together with one more sign (no Certificate Transparency timestamps on
/// the leaf, a CONNECT tunnel, or proxy headers on the tunnelled HTTPS
/// response). Never for a private PKI on an internal name.
pub fn intercepted(host: &str, phase: &TlsPhase, seen: Seen<'_>) -> Option<Finding> {
    let leaf = phase.chain.first()?;
    let mut signals: Vec<String> = Vec::new();
    // Issuers of every certificate, and subjects of the CA certificates:
    // never the leaf's own subject, or checking a vendor's own site
    // (www.zscaler.com) would read as interception.
    let issuers = phase
        .chain
        .iter()
        .map(|c| &c.issuer)
        .chain(phase.chain.iter().skip(1).map(|c| &c.subject));
    let named = issuers.into_iter().find_map(|name| {
        let lower = name.to_ascii_lowercase();
        INSPECTORS
            .iter()
            .find(|(needle, _)| lower.contains(needle))
            .map(|(_, vendor)| (name.clone(), *vendor))
    });
    if let Some((issuer, vendor)) = &named {
        signals.push(format!("the issuer {issuer} names {vendor}"));
    }
    let public = is_public_name(host);
    let private_root = public && phase.public_root == Some(false);
    let top = phase.chain.last().map_or(&leaf.issuer, |c| &c.issuer);
    if private_root {
        signals.push(format!(
            "the chain for the public name {host} ends at {top}, a root this machine trusts that is not publicly trusted"
        ));
    }
    let mut supporting = 0;
    if private_root && leaf.embedded_scts == 0 {
        supporting += 1;
        signals.push("the certificate carries no Certificate Transparency timestamps, which publicly trusted certificates have".to_owned());
    }
    if let Some(proxy) = seen.tunnel_proxy {
        let relayed: Vec<String> = seen
            .response_headers
            .iter()
            .filter(|h| PROXY_HEADERS.contains(&h.name.to_ascii_lowercase().as_str()))
            .map(|h| format!("{}: {}", h.name, h.value))
            .collect();
        if !relayed.is_empty() {
            supporting += 1;
            signals.push(format!(
                "the HTTPS response that came through the CONNECT tunnel of {proxy} carries proxy headers ({})",
                relayed.join("; ")
            ));
        } else if private_root {
            supporting += 1;
            signals.push(format!("the connection went through the proxy {proxy}"));
        }
    }
    let by_name = named.is_some();
    if !(by_name || private_root && supporting > 0) {
        return None;
    }
    let who = named.as_ref().map_or_else(
        || "an inspecting proxy".to_owned(),
        |(_, vendor)| format!("{vendor} (an inspecting or debugging proxy)"),
    );
    Some(
        Finding::new(
            Code::TlsIntercepted,
            format!(
                "the connection to {host} is re-signed by {who}: {}",
                signals.join("; ")
            ),
        )
        .with("vendor", named.as_ref().map(|(_, v)| *v))
        .with("issuer", named.as_ref().map_or(top, |(i, _)| i))
        .with("signals", &signals),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use reach_report::endpoint::Certificate;

    fn phase(subjects: &[(&str, &str)]) -> TlsPhase {
        TlsPhase {
            chain: subjects
                .iter()
                .map(|(s, i)| Certificate {
                    subject: (*s).to_owned(),
                    issuer: (*i).to_owned(),
                    ..Certificate::default()
                })
                .collect(),
            ..TlsPhase::default()
        }
    }

    #[test]
    fn alert_names_are_snake_case() {
        assert_eq!(
            alert_name(AlertDescription::HandshakeFailure),
            "handshake_failure"
        );
        assert_eq!(alert_name(AlertDescription::UnknownCA), "unknown_ca");
    }

    #[test]
    fn inspection_proxies_are_recognised() {
        let p = phase(&[(
            "CN=api.example.com",
            "CN=Zscaler Intermediate Root CA, O=Zscaler Inc.",
        )]);
        let seen = Seen::default();
        let f = intercepted("api.example.com", &p, seen).unwrap();
        assert_eq!(f.code, Code::TlsIntercepted);
        assert_eq!(f.evidence["vendor"], "Zscaler");
        let mut p = phase(&[("CN=api.example.com", "CN=R11, O=Let's Encrypt")]);
        p.public_root = Some(true);
        assert!(intercepted("api.example.com", &p, seen).is_none());
        // A vendor's own site is not an interception.
        let p = phase(&[("CN=www.zscaler.com", "CN=R11, O=Let's Encrypt")]);
        assert!(intercepted("www.zscaler.com", &p, seen).is_none());
    }

    #[test]
    fn interception_is_judged_from_what_the_network_shows() {
        let mut p = phase(&[("CN=api.example.com", "CN=ACME Corp Proxy CA")]);
        p.public_root = Some(false);
        // A private root for a public name, without CT timestamps.
        let f = intercepted("api.example.com", &p, Seen::default()).unwrap();
        assert_eq!(f.evidence["signals"].as_array().unwrap().len(), 2, "{f:#?}");
        // The same private PKI on an internal name: no alarm.
        assert!(intercepted("jira.corp", &p, Seen::default()).is_none());
        assert!(intercepted("app.sp.test", &p, Seen::default()).is_none());
        assert!(intercepted("10.1.2.3", &p, Seen::default()).is_none());
        // A public root with CT timestamps: nothing.
        p.public_root = Some(true);
        p.chain[0].embedded_scts = 2;
        assert!(intercepted("api.example.com", &p, Seen::default()).is_none());
    }

    #[test]
    fn unknown_issuer_tells_incomplete_from_untrusted() {
        // A lone leaf whose issuer is not sent: incomplete, with or without AIA.
        let mut p = phase(&[("CN=leaf", "CN=Some Intermediate")]);
        assert_eq!(unknown_issuer("h", &p).code, Code::TlsIncompleteChain);
        p.chain[0].ca_issuers = vec!["http://ca.example/int.crt".into()];
        assert_eq!(unknown_issuer("h", &p).code, Code::TlsIncompleteChain);
        // The whole chain sent, ending at an untrusted root.
        let p = phase(&[("CN=leaf", "CN=Int"), ("CN=Int", "CN=Private Root")]);
        assert_eq!(unknown_issuer("h", &p).code, Code::TlsUntrustedIssuer);
        let p = phase(&[("CN=self", "CN=self")]);
        assert_eq!(unknown_issuer("h", &p).code, Code::TlsUntrustedIssuer);
    }
}
