//! Describing a presented certificate for the report.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use reach_report::endpoint::Certificate;
use rustls::pki_types::CertificateDer;
use sha2::{Digest, Sha256};
use x509_parser::der_parser::asn1_rs::{Any, Tag};
use x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS;
use x509_parser::prelude::{FromDer, GeneralName, ParsedExtension, X509Certificate, X509Name};
use x509_parser::public_key::PublicKey;

/// Subject, issuer, names, validity, key and fingerprint of a DER
/// certificate. A certificate that does not parse is still listed, by its
/// fingerprint.
pub fn describe(der: &CertificateDer<'_>) -> Certificate {
    described(der.as_ref()).0
}

/// [`describe`], and the certificate's notAfter in seconds since the epoch
/// when it parses (what `days_left` counts to).
fn described(der: &[u8]) -> (Certificate, Option<i64>) {
    let sha256 = hex::encode(Sha256::digest(der));
    let Ok((_, cert)) = X509Certificate::from_der(der) else {
        let unparsed = Certificate {
            subject: "(unparseable certificate)".to_owned(),
            sha256,
            ..Certificate::default()
        };
        return (unparsed, None);
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
    let not_after = validity.not_after.timestamp();
    let public_key = key_description(cert.public_key());
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
    let embedded_scts = cert
        .extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SCT(list) => Some(list.len() as u32),
            _ => None,
        })
        .unwrap_or(0);
    let described = Certificate {
        ca_issuers,
        signed_with: signature_name(&cert.signature_algorithm.algorithm.to_id_string()),
        embedded_scts,
        subject: name_string(cert.subject()),
        issuer: name_string(cert.issuer()),
        sans,
        not_before: rfc3339(validity.not_before.timestamp()),
        not_after: rfc3339(not_after),
        days_left: days_left(not_after),
        public_key,
        sha256,
    };
    (described, Some(not_after))
}

/// A distinguished name as `openssl x509 -noout -subject -nameopt
/// oneline,-space_eq` writes it, so that the report and openssl read
/// alike: the attributes in the certificate's order, `, ` between them and
/// ` + ` inside a multi-valued one, OpenSSL's short names (`CN`, `O`,
/// `emailAddress`, a dotted OID for one it has no name for), and a value
/// holding one of `,+<>;` (or a space at either end, or `#` first) in
/// double quotes, and a `"` or `\` after a backslash. Unlike openssl,
/// text beyond ASCII and control characters are written as they are (the
/// printers escape control characters), and a value that is not text is
/// `#` and the hexadecimal bytes of its content.
pub(crate) fn name_string(name: &X509Name<'_>) -> String {
    let mut out = String::new();
    for (i, rdn) in name.iter_rdn().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        for (j, attr) in rdn.iter().enumerate() {
            if j > 0 {
                out.push_str(" + ");
            }
            let oid = attr.attr_type().to_id_string();
            out.push_str(attribute_name(&oid).unwrap_or(&oid));
            out.push('=');
            if let Some(text) = attribute_text(attr.attr_value()) {
                push_value(&mut out, &text);
            } else {
                out.push('#');
                out.push_str(&hex::encode(attr.attr_value().data));
            }
        }
    }
    out
}

/// A name attribute's value as text, whichever string type holds it (BMP
/// in many enterprise CAs' names, T61 in older ones); `None` when it is not
/// a string.
fn attribute_text<'a>(value: &'a Any<'_>) -> Option<std::borrow::Cow<'a, str>> {
    let data: &[u8] = value.data;
    let text = match value.tag() {
        Tag::Utf8String
        | Tag::PrintableString
        | Tag::Ia5String
        | Tag::NumericString
        | Tag::VisibleString => std::str::from_utf8(data).ok()?.into(),
        // OpenSSL reads T61 as Latin-1, a byte a character.
        Tag::T61String => data
            .iter()
            .copied()
            .map(char::from)
            .collect::<String>()
            .into(),
        Tag::BmpString => {
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()?
                .into()
        }
        Tag::UniversalString => data
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
            .collect::<Option<String>>()?
            .into(),
        _ => return None,
    };
    Some(text)
}

/// OpenSSL's short name of a name attribute.
fn attribute_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "title",
        "2.5.4.13" => "description",
        "2.5.4.16" => "postalAddress",
        "2.5.4.18" => "postOfficeBox",
        "2.5.4.20" => "telephoneNumber",
        "2.5.4.41" => "name",
        "2.5.4.44" => "generationQualifier",
        "2.5.4.45" => "x500UniqueIdentifier",
        "2.5.4.72" => "role",
        "1.2.840.113549.1.9.2" => "unstructuredName",
        "2.5.4.15" => "businessCategory",
        "2.5.4.17" => "postalCode",
        "2.5.4.42" => "GN",
        "2.5.4.43" => "initials",
        "2.5.4.46" => "dnQualifier",
        "2.5.4.65" => "pseudonym",
        "2.5.4.97" => "organizationIdentifier",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        "1.2.840.113549.1.9.1" => "emailAddress",
        "1.3.6.1.4.1.311.60.2.1.1" => "jurisdictionL",
        "1.3.6.1.4.1.311.60.2.1.2" => "jurisdictionST",
        "1.3.6.1.4.1.311.60.2.1.3" => "jurisdictionC",
        _ => return None,
    })
}

/// A name attribute's value, quoted as OpenSSL quotes it (see
/// [`name_string`]).
fn push_value(out: &mut String, value: &str) {
    let quoted = value.contains([',', '+', '<', '>', ';'])
        || value.starts_with([' ', '#'])
        || value.ends_with(' ');
    if quoted {
        out.push('"');
    }
    for c in value.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    if quoted {
        out.push('"');
    }
}

/// Whole days from now until `not_after` (seconds since the epoch),
/// negative once it has passed.
fn days_left(not_after: i64) -> i64 {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    (not_after - now).div_euclid(86_400)
}

/// The certificates a [`crate::Tls`] has described, by their DER bytes:
/// checks of one server are shown the same chain again and again, and
/// parsing it, hashing it and looking for its root among the public ones
/// is, after the handshake's own crypto, the TLS phase's largest cost.
/// What depends on the clock (`days_left`) is computed again each time, so
/// a description from the cache is the one [`describe`] would make.
#[derive(Debug, Default)]
pub(crate) struct Descriptions {
    seen: Mutex<HashMap<Box<[u8]>, Arc<Entry>>>,
}

/// One certificate's description, made once, by the first check that asks,
/// outside the cache's lock: the checks of other servers go on meanwhile,
/// and those of the same server wait for that one description.
#[derive(Debug, Default)]
struct Entry {
    described: OnceLock<(Certificate, Option<i64>)>,
    /// [`ends_at_public_root`], once asked.
    public_root: OnceLock<bool>,
}

impl Descriptions {
    /// Distinct certificates kept at most; past that the cache starts
    /// over (a run over many servers), so memory stays bounded.
    const MAX: usize = 1024;

    /// [`describe`], from the cache when `der` was described before.
    pub(crate) fn describe(&self, der: &[u8]) -> Certificate {
        let entry = self.entry(der);
        let (certificate, not_after) = entry.described.get_or_init(|| described(der));
        let mut certificate = certificate.clone();
        if let Some(not_after) = not_after {
            certificate.days_left = days_left(*not_after);
        }
        certificate
    }

    /// [`ends_at_public_root`], from the cache when asked before.
    pub(crate) fn ends_at_public_root(&self, der: &[u8]) -> bool {
        *self
            .entry(der)
            .public_root
            .get_or_init(|| ends_at_public_root(der))
    }

    /// The cache's entry for `der`, new and empty on a miss; the lock is
    /// held only to find or insert it.
    fn entry(&self, der: &[u8]) -> Arc<Entry> {
        let Ok(mut seen) = self.seen.lock() else {
            // A panic while the lock was held: describe without the cache.
            return Arc::default();
        };
        if let Some(entry) = seen.get(der) {
            return entry.clone();
        }
        if seen.len() >= Self::MAX {
            seen.clear();
        }
        seen.entry(der.into()).or_default().clone()
    }
}

/// A signature algorithm in words, from its OID.
fn signature_name(oid: &str) -> String {
    match oid {
        "1.2.840.113549.1.1.4" => "MD5 with RSA",
        "1.2.840.113549.1.1.5" => "SHA-1 with RSA",
        "1.2.840.113549.1.1.11" => "SHA-256 with RSA",
        "1.2.840.113549.1.1.12" => "SHA-384 with RSA",
        "1.2.840.113549.1.1.13" => "SHA-512 with RSA",
        "1.2.840.113549.1.1.10" => "RSASSA-PSS",
        "1.2.840.10045.4.1" => "ECDSA with SHA-1",
        "1.2.840.10045.4.3.2" => "ECDSA with SHA-256",
        "1.2.840.10045.4.3.3" => "ECDSA with SHA-384",
        "1.2.840.10045.4.3.4" => "ECDSA with SHA-512",
        "1.2.840.10040.4.3" => "DSA with SHA-1",
        "1.3.101.112" => "Ed25519",
        "1.3.101.113" => "Ed448",
        other => return other.to_owned(),
    }
    .to_owned()
}

/// Signatures every current client refuses.
pub(crate) fn is_weak_signature(name: &str) -> bool {
    name.starts_with("MD5") || name.starts_with("SHA-1") || name.ends_with("SHA-1")
}

/// RSA keys shorter than 2048 bits, which ring (and OpenSSL at its default
/// security level) refuse.
pub(crate) fn weak_key(public_key: &str) -> bool {
    public_key
        .strip_prefix("RSA ")
        .and_then(|bits| bits.parse::<u32>().ok())
        .is_some_and(|bits| bits < 2048)
}

/// The subject Common Name of a DER certificate, and whether it has any
/// subjectAltName DNS or IP entries.
pub(crate) fn common_name_and_sans(der: &[u8]) -> Option<(Option<String>, bool)> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let has_sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .is_some_and(|ext| {
            ext.value
                .general_names
                .iter()
                .any(|n| matches!(n, GeneralName::DNSName(_) | GeneralName::IPAddress(_)))
        });
    Some((cn, has_sans))
}

/// Whether the certificate is valid at `now` (seconds since the epoch).
pub(crate) fn valid_at(der: &[u8], now: u64) -> bool {
    X509Certificate::from_der(der).is_ok_and(|(_, cert)| {
        let v = cert.validity();
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        v.not_before.timestamp() <= now && now <= v.not_after.timestamp()
    })
}

/// Whether a chain whose last presented certificate is `top` ends at a root
/// of the public root program (webpki-roots): `top` is such a root, or is
/// issued by one.
pub(crate) fn ends_at_public_root(top: &[u8]) -> bool {
    let Ok((_, cert)) = X509Certificate::from_der(top) else {
        return false;
    };
    // A trust anchor holds the contents of its subject Name, without the
    // SEQUENCE header that `as_raw` keeps.
    let names = [cert.issuer().as_raw(), cert.subject().as_raw()].map(sequence_contents);
    webpki_roots::TLS_SERVER_ROOTS
        .iter()
        .any(|anchor| names.contains(&anchor.subject.as_ref()))
}

/// The contents of a DER SEQUENCE (its tag and length removed).
fn sequence_contents(der: &[u8]) -> &[u8] {
    if der.first() != Some(&0x30) || der.len() < 2 {
        return der;
    }
    let len_byte = der[1];
    let header = if len_byte < 0x80 {
        2
    } else {
        2 + usize::from(len_byte & 0x7f)
    };
    der.get(header..).unwrap_or(der)
}

/// `RSA 2048`, `EC P-256`, `Ed25519`: the key type and size.
fn key_description(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> String {
    let algorithm = spki.algorithm.algorithm.to_id_string();
    match algorithm.as_str() {
        "1.2.840.113549.1.1.1" => match spki.parsed() {
            Ok(PublicKey::RSA(k)) => match modulus_bits(k.modulus) {
                0 => "RSA".to_owned(),
                bits => format!("RSA {bits}"),
            },
            _ => "RSA".to_owned(),
        },
        "1.2.840.10045.2.1" => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|oid| oid.to_id_string());
            match curve.as_deref() {
                Some("1.2.840.10045.3.1.7") => "EC P-256".to_owned(),
                Some("1.3.132.0.34") => "EC P-384".to_owned(),
                Some("1.3.132.0.35") => "EC P-521".to_owned(),
                Some("1.3.132.0.10") => "EC secp256k1".to_owned(),
                Some("1.3.36.3.3.2.8.1.1.7") => "EC brainpoolP256r1".to_owned(),
                Some("1.3.36.3.3.2.8.1.1.11") => "EC brainpoolP384r1".to_owned(),
                Some("1.3.36.3.3.2.8.1.1.13") => "EC brainpoolP512r1".to_owned(),
                Some(other) => format!("EC {other}"),
                None => "EC".to_owned(),
            }
        }
        "1.3.101.112" => "Ed25519".to_owned(),
        "1.3.101.113" => "Ed448".to_owned(),
        other => other.to_owned(),
    }
}

/// The size in bits of an RSA modulus (a DER INTEGER's content octets), as
/// OpenSSL counts it: from its highest set bit. x509-parser's `key_size`
/// assumes a leading zero octet, so a 1023-bit modulus would be 1016.
fn modulus_bits(modulus: &[u8]) -> usize {
    let first = modulus.iter().position(|&b| b != 0);
    first.map_or(0, |i| {
        let rest = modulus.len() - i - 1;
        rest * 8 + (8 - modulus[i].leading_zeros() as usize)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_roots_are_recognised_by_their_names() {
        // Every Mozilla root, as a certificate, is itself a public root.
        for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().take(20) {
            assert!(ends_at_public_root(root.as_ref()));
        }
        assert!(!ends_at_public_root(b"not a certificate"));
        // The same certificate renamed (the last byte of its issuer and
        // subject names changed, as a private CA's would differ) is not.
        let root = webpki_root_certs::TLS_SERVER_ROOT_CERTS[0].as_ref();
        let (_, cert) = X509Certificate::from_der(root).expect("a root parses");
        let name = sequence_contents(cert.subject().as_raw()).to_vec();
        let mut renamed = root.to_vec();
        let mut at = 0;
        while let Some(i) = renamed[at..].windows(name.len()).position(|w| w == name) {
            let last = at + i + name.len() - 1;
            renamed[last] ^= 0x01;
            at = last + 1;
        }
        assert!(at > 0, "the name was found");
        assert!(X509Certificate::from_der(&renamed).is_ok());
        assert!(!ends_at_public_root(&renamed));
    }

    /// The values of `openssl x509 -nameopt oneline,-space_eq` (OpenSSL
    /// 3.0) for these attributes; `tests/interop/tls.rs` compares whole
    /// names with openssl's.
    #[test]
    fn values_are_quoted_as_openssl_quotes_them() {
        for (value, openssl) in [
            ("a\"b\\c;d<e>f", "\"a\\\"b\\\\c;d<e>f\""),
            (" lead", "\" lead\""),
            ("#hash", "\"#hash\""),
            ("x=y", "x=y"),
            ("Reach Interop, Inc.", "\"Reach Interop, Inc.\""),
            ("trail ", "\"trail \""),
            ("in#side", "in#side"),
            ("Interop \"Quoted\" CA", "Interop \\\"Quoted\\\" CA"),
            ("a\\b", "a\\\\b"),
            ("a;b", "\"a;b\""),
        ] {
            let mut out = String::new();
            push_value(&mut out, value);
            assert_eq!(out, openssl, "{value}");
        }
    }

    /// A certificate made by `openssl req -utf8 -subj "/O=Zoë/OU=日本/CN=plain"`
    /// with `string_mask = default`: its O is a `T61String`, its OU a
    /// `BMPString` (as in many enterprise CAs' names), its CN printable.
    const T61_AND_BMP_NAMES: &str = "-----BEGIN CERTIFICATE-----\n\
         MIIBVTCB+wIUJYQoMk3+5qcMQwWZTwGUfzBhq6AwCgYIKoZIzj0EAwIwLTEMMAoG\n\
         A1UEChQDWm/rMQ0wCwYDVQQLHgRl5WcsMQ4wDAYDVQQDEwVwbGFpbjAeFw0yNjEy\n\
         MDExOTQ4MzFaFw0zNjExMjgxOTQ4MzFaMC0xDDAKBgNVBAoUA1pv6zENMAsGA1UE\n\
         Cx4EZeVnLDEOMAwGA1UEAxMFcGxhaW4wWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n\
         AATmBBAeBf3Y5/VyEPiE+2rnENkwpDBPcnZHFTtkQDHYF5/VyhdF+kE1VfujQwjE\n\
         Sx153oNnL/fcPm/SWj97Hzw0MAoGCCqGSM49BAMCA0kAMEYCIQDgnfEDhM5sGSfF\n\
         SbYf9v+RiNZyW4wXkRrsuSQDWPT12wIhALxElZIQDxuHxi7t93Sb3yBZXNvt30rH\n\
         vR22dKlcFekB\n\
         -----END CERTIFICATE-----\n\
         ";

    #[test]
    fn names_in_t61_and_bmp_strings_are_text() {
        use rustls::pki_types::pem::PemObject;
        let der = CertificateDer::from_pem_slice(T61_AND_BMP_NAMES.as_bytes()).expect("PEM");
        let (_, cert) = X509Certificate::from_der(&der).expect("the certificate parses");
        assert_eq!(name_string(cert.subject()), "O=Zoë, OU=日本, CN=plain");
    }

    #[test]
    fn weak_keys_and_signatures() {
        assert!(weak_key("RSA 1024"));
        assert!(!weak_key("RSA 2048"));
        assert!(!weak_key("EC P-256"));
        assert!(is_weak_signature("SHA-1 with RSA"));
        assert!(is_weak_signature("ECDSA with SHA-1"));
        assert!(is_weak_signature("MD5 with RSA"));
        assert!(!is_weak_signature("SHA-256 with RSA"));
        assert_eq!(signature_name("1.2.840.113549.1.1.5"), "SHA-1 with RSA");
    }

    /// `openssl req -x509 -newkey ed25519 -subj /CN=ed25519.test -addext
    /// subjectAltName=DNS:ed25519.test` (OpenSSL 3).
    const ED25519_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIIBXDCCAQ6gAwIBAgIUeivL1nFmjiVWBmhBbfrGrClrt68wBQYDK2VwMBcxFTAT\n\
BgNVBAMMDGVkMjU1MTkudGVzdDAeFw0yNjEyMDExNDM0MzlaFw0zNjExMjgxNDM0\n\
MzlaMBcxFTATBgNVBAMMDGVkMjU1MTkudGVzdDAqMAUGAytlcAMhADz30WM1bVdj\n\
CFHQlCZfT9A4DY9ez1BUE5Ntr+BlUvI9o2wwajAdBgNVHQ4EFgQUCmWX8TNmo53V\n\
jVdv0Z/YgqSDiG8wHwYDVR0jBBgwFoAUCmWX8TNmo53VjVdv0Z/YgqSDiG8wDwYD\n\
VR0TAQH/BAUwAwEB/zAXBgNVHREEEDAOggxlZDI1NTE5LnRlc3QwBQYDK2VwA0EA\n\
YFvgpDsCB+iuJs1Zqsv0nA/6yEWBRaSCJWcRBOhtz0/tUDuJYjBEqcBMQkZu9iqo\n\
OpnZQiCLjH6K5Hv29/jnCg==\n\
-----END CERTIFICATE-----\n\
";

    /// `openssl req -x509 -newkey rsa:1023 -subj /CN=rsa1023.test`: OpenSSL
    /// says `Public-Key: (1023 bit)`; its modulus has no leading zero octet.
    const RSA_1023_PEM: &str = "\
-----BEGIN CERTIFICATE-----\n\
MIICCTCCAXKgAwIBAgIUHeZOGgXPNxiAdH3KMtcvtA5vivIwDQYJKoZIhvcNAQEL\n\
BQAwFzEVMBMGA1UEAwwMcnNhMTAyMy50ZXN0MB4XDTI2MTIwMTE0MzQzOVoXDTM2\n\
MTEyODE0MzQzOVowFzEVMBMGA1UEAwwMcnNhMTAyMy50ZXN0MIGeMA0GCSqGSIb3\n\
DQEBAQUAA4GMADCBiAKBgFLimgslvDmPjvWmin7UuRmzNrBUrl3hBSRnaisC6w1k\n\
jSlK67ucxKJDVBfnujNzUl16p97XxBI5BiIva001L9NusRAxhkCssSZAQP8crKns\n\
Df/4sk7uDJBcdkzmOOuT0BTx3fvPSRjFDpDeFbND0KfjIoSUboXHbLGkDR6G76RN\n\
AgMBAAGjUzBRMB0GA1UdDgQWBBQtAi7cP5bjz6ryblRRAgQHWrYRJzAfBgNVHSME\n\
GDAWgBQtAi7cP5bjz6ryblRRAgQHWrYRJzAPBgNVHRMBAf8EBTADAQH/MA0GCSqG\n\
SIb3DQEBCwUAA4GBAEv0CdnD9R60wH3qka+hhBvMW+Z4uwWEd0Rkb9iqCKhWS9KX\n\
J/rmt4GbhPyMBusCuTc7P7NoD0nI5zNvYSAHYUTxiPOKXya66J9+W0nDkf2Aon1V\n\
tIuDBNICmX1B/1kWm8jycUeMjlGjjHpf0pkwU2LjCMF/j+BI54Nm4GEopGV0\n\
-----END CERTIFICATE-----\n\
";

    fn pem(text: &str) -> CertificateDer<'static> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::from_pem_slice(text.as_bytes()).expect("a PEM certificate")
    }

    #[test]
    fn keys_are_described_by_type_and_size() {
        let ed = describe(&pem(ED25519_PEM));
        assert_eq!(ed.public_key, "Ed25519");
        assert_eq!(ed.signed_with, "Ed25519");
        assert_eq!(ed.subject, "CN=ed25519.test");
        assert_eq!(ed.sans, ["ed25519.test"]);

        let rsa = describe(&pem(RSA_1023_PEM));
        assert_eq!(rsa.public_key, "RSA 1023");
        assert_eq!(rsa.signed_with, "SHA-256 with RSA");
        assert!(weak_key(&rsa.public_key));

        // Mozilla's roots: RSA and EC keys of the usual sizes, each named.
        let mut seen = std::collections::BTreeSet::new();
        for root in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            let key = describe(root).public_key;
            assert!(
                [
                    "RSA 2048", "RSA 3072", "RSA 4096", "EC P-256", "EC P-384", "EC P-521"
                ]
                .contains(&key.as_str()),
                "{key}"
            );
            seen.insert(key);
        }
        for key in ["RSA 2048", "RSA 4096", "EC P-256", "EC P-384"] {
            assert!(seen.contains(key), "{key}: {seen:?}");
        }
    }

    #[test]
    fn modulus_sizes_count_from_the_highest_set_bit() {
        for (modulus, bits) in [
            (&[0x00, 0x80, 0x01][..], 16),
            (&[0x80, 0x01][..], 16),
            (&[0x7f, 0xff][..], 15),
            (&[0x00, 0x00, 0x01][..], 1),
            (&[0x00][..], 0),
            (&[][..], 0),
        ] {
            assert_eq!(modulus_bits(modulus), bits, "{modulus:?}");
        }
    }
}
