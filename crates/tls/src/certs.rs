//! Describing a presented certificate for the report.

use reach_report::endpoint::Certificate;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Subject, issuer, names, validity, key and fingerprint of a DER
/// certificate. A certificate that does not parse is still listed, by its
/// fingerprint.
pub fn describe(der: &CertificateDer<'_>) -> Certificate {
    let sha256 = hex::encode(Sha256::digest(der.as_ref()));
    let Ok((_, cert)) = X509Certificate::from_der(der.as_ref()) else {
        return Certificate {
            subject: "(unparseable certificate)".to_owned(),
            sha256,
            ..Certificate::default()
        };
    };
    let sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some((*d).to_owned()),
                    GeneralName::IPAddress(ip) => ip_string(ip),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let validity = cert.validity();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let days_left = (validity.not_after.timestamp() - now).div_euclid(86_400);
    let key = match cert.public_key().parsed() {
        Ok(PublicKey::RSA(k)) => format!("RSA {}", k.key_size()),
        Ok(PublicKey::EC(k)) => format!("EC {}", k.key_size()),
        Ok(other) => format!("{} bits", other.key_size()),
        Err(_) => cert.public_key().algorithm.algorithm.to_id_string(),
    };
    let ca_issuers = cert
        .extensions()
        .iter()
        .filter_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityInfoAccess(aia) => Some(aia),
            _ => None,
        })
        .flat_map(|aia| aia.accessdescs.iter())
        .filter(|d| d.access_method == OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS)
        .filter_map(|d| match d.access_location {
            GeneralName::URI(uri) => Some(uri.to_owned()),
            _ => None,
        })
        .collect();
    Certificate {
        ca_issuers,
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_before: rfc3339(validity.not_before.timestamp()),
        not_after: rfc3339(validity.not_after.timestamp()),
        days_left,
        key,
        sha256,
    }
}

fn ip_string(bytes: &[u8]) -> Option<String> {
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?).to_string()),
        16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?).to_string()),
        _ => None,
    }
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| unix.to_string())
}
