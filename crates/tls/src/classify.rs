//! From what rustls said to a finding: typed errors only, never strings.

use reach_report::endpoint::TlsPhase;
use reach_report::{Code, Finding};
use rustls::{AlertDescription, CertificateError, PeerIncompatible};

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

/// The finding for a failed handshake (or a TLS failure on the first read,
/// where TLS 1.3 servers reject a client certificate).
pub fn finding(error: &rustls::Error, host: &str, phase: &TlsPhase) -> Finding {
    let leaf = phase.chain.first();
    // An intermediate can be the expired (or not yet valid) one: name the
    // certificate whose dates are at fault.
    let expired = phase.chain.iter().find(|c| c.days_left < 0).or(leaf);
    match error {
        rustls::Error::InvalidCertificate(cert_error) => match cert_error {
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
            other => Finding::new(
                Code::TlsHandshakeFailed,
                format!("the certificate of {host} was rejected: {other:?}"),
            )
            .with("reason", format!("{other:?}")),
        },
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
    if !self_signed && !issuer_sent && !leaf.ca_issuers.is_empty() {
        Finding::new(
            Code::TlsIncompleteChain,
            format!(
                "{host} sent its certificate without the intermediate that issued it ({}); \
                 browsers may hide this by fetching it from {} (AIA), but connectors, Java and \
                 Python clients fail",
                leaf.issuer,
                leaf.ca_issuers.join(", ")
            ),
        )
        .with("missing_issuer", &leaf.issuer)
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

/// Issuer names of TLS-inspecting proxies and security products: a chain
/// issued by one of them means the connection is intercepted and re-signed.
/// Matched case-insensitively against the issuer of every presented
/// certificate and the subject of every CA certificate presented.
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
];

/// `tls.intercepted` when the presented chain names an inspecting proxy.
pub fn intercepted(host: &str, phase: &TlsPhase) -> Option<Finding> {
    // Issuers of every certificate, and subjects of the CA certificates:
    // never the leaf's own subject, or checking a vendor's own site
    // (www.zscaler.com) would read as interception.
    let names = phase
        .chain
        .iter()
        .map(|c| &c.issuer)
        .chain(phase.chain.iter().skip(1).map(|c| &c.subject));
    names.into_iter().find_map(|name| {
        let lower = name.to_ascii_lowercase();
        let (_, vendor) = INSPECTORS
            .iter()
            .find(|(needle, _)| lower.contains(needle))?;
        Some(
            Finding::new(
                Code::TlsIntercepted,
                format!(
                    "the certificate {host} presented is issued by {name}: a {vendor} TLS inspection proxy re-signs this connection"
                ),
            )
            .with("vendor", *vendor)
            .with("issuer", name),
        )
    })
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
        let f = intercepted("api.example.com", &p).unwrap();
        assert_eq!(f.code, Code::TlsIntercepted);
        assert_eq!(f.evidence["vendor"], "Zscaler");
        let p = phase(&[("CN=api.example.com", "CN=R11, O=Let's Encrypt")]);
        assert!(intercepted("api.example.com", &p).is_none());
        // A vendor's own site is not an interception.
        let p = phase(&[("CN=www.zscaler.com", "CN=R11, O=Let's Encrypt")]);
        assert!(intercepted("www.zscaler.com", &p).is_none());
    }

    #[test]
    fn unknown_issuer_tells_incomplete_from_untrusted() {
        let mut p = phase(&[("CN=leaf", "CN=Some Intermediate")]);
        assert_eq!(unknown_issuer("h", &p).code, Code::TlsUntrustedIssuer);
        p.chain[0].ca_issuers = vec!["http://ca.example/int.crt".into()];
        assert_eq!(unknown_issuer("h", &p).code, Code::TlsIncompleteChain);
        let p = phase(&[("CN=self", "CN=self")]);
        assert_eq!(unknown_issuer("h", &p).code, Code::TlsUntrustedIssuer);
    }
}
