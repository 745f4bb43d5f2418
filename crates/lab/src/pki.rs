//! The lab's throw-away PKI, generated fresh for every [`crate::Lab`]: the lab CA and the HTTPS
//! leaf it signs, plus the certificates of the [`crate::TlsLab`] servers (expired and
//! not-yet-valid leaves, intermediates, a separate untrusted root, a fake intercepting CA and
//! client certificates).
//!
//! Generating per lab (ECDSA P-256, a few milliseconds) rather than checking in fixtures means
//! the certificates can never expire under the test suite's feet and no private key lives in git.

use anyhow::{Context as _, anyhow};
use rcgen::{
    BasicConstraints, Certificate, CertificateParams, CustomExtension, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// DNS names the leaf certificate is valid for (its subjectAltName, besides `127.0.0.1`).
pub(crate) const LEAF_DNS_NAMES: [&str; 4] = [
    "good.lab.test",
    "alias.lab.test",
    "v4only.lab.test",
    "localhost",
];

/// The `caIssuers` URI in the Authority Information Access extension of the `incomplete_chain`
/// leaf (nothing serves it: the lab has no way to answer for `pki.lab.test` over HTTP).
pub(crate) const AIA_CA_ISSUERS_URI: &str = "http://pki.lab.test/intermediate.crt";

/// A certificate chain (leaf first, as the server sends it) and the leaf's private key.
pub(crate) struct Identity {
    pub(crate) chain: Vec<CertificateDer<'static>>,
    pub(crate) key: PrivateKeyDer<'static>,
}

/// The generated material, in the shapes the lab needs.
pub(crate) struct Pki {
    /// The CA certificate as PEM, written to `ca.pem` and returned by [`crate::Lab::ca_pem`].
    pub(crate) ca_pem: String,
    /// The HTTPS leaf and its key as PEM, for servers outside the lab (the
    /// benchmark's nginx).
    pub(crate) leaf_pem: String,
    pub(crate) leaf_key_pem: String,
    /// The leaf certificate (DER); the server sends only this, like a real server sends no root.
    pub(crate) leaf_der: CertificateDer<'static>,
    /// The leaf's private key (PKCS#8 DER).
    pub(crate) leaf_key: PrivateKeyDer<'static>,
    /// Everything the [`crate::TlsLab`] servers and files need.
    pub(crate) tls: TlsPki,
}

/// The material of the [`crate::TlsLab`] servers.
pub(crate) struct TlsPki {
    /// The lab CA certificate (DER): the client-certificate root of `client_auth`.
    pub(crate) lab_ca_der: CertificateDer<'static>,
    pub(crate) expired: Identity,
    pub(crate) not_yet_valid: Identity,
    pub(crate) expiring_soon: Identity,
    pub(crate) self_signed: Identity,
    /// leaf + intermediate, under "Untrusted Root CA".
    pub(crate) untrusted_root: Identity,
    /// leaf only, issued by "Lab Intermediate CA", with an AIA `caIssuers` URI.
    pub(crate) incomplete_chain: Identity,
    /// leaf + "Lab Intermediate CA".
    pub(crate) full_chain: Identity,
    /// leaf issued by the fake "Zscaler Root CA".
    pub(crate) intercepted: Identity,
    pub(crate) intercept_ca_pem: String,
    pub(crate) client_cert_pem: String,
    pub(crate) client_key_pem: String,
    pub(crate) wrong_client_cert_pem: String,
    pub(crate) wrong_client_key_pem: String,
}

type OwnedIssuer = Issuer<'static, KeyPair>;

/// Generates the CA, the HTTPS leaf and the material of the [`crate::TlsLab`] servers.
///
/// Validity: the CA spans yesterday .. +10 years, the leaf yesterday .. +1 year. Starting a day
/// early keeps the certificates valid even if a verifying client's clock is slightly behind.
pub(crate) fn generate() -> anyhow::Result<Pki> {
    let now = OffsetDateTime::now_utc();
    let yesterday = now - Duration::days(1);

    // Path length 1 (not 0): the lab CA also issues "Lab Intermediate CA", whose leaves must
    // verify up to it (`TlsLab::full_chain`).
    let (ca_cert, ca) = new_ca(name("reach lab CA"), 1, now, "the lab CA", None)?;
    let ca_pem = ca_cert.pem();

    let mut params = server_leaf_params(yesterday, now + Duration::days(365), Vec::new())?;
    params.use_authority_key_identifier_extension = true;
    let leaf_key_pair = KeyPair::generate().context("generating the lab leaf key")?;
    let leaf_cert = params
        .signed_by(&leaf_key_pair, &ca)
        .context("signing the lab leaf")?;
    let leaf_pem = leaf_cert.pem();
    let leaf_key_pem = leaf_key_pair.serialize_pem();
    let leaf = identity(vec![leaf_cert.der().clone()], &leaf_key_pair);
    let [leaf_der] = <[CertificateDer<'static>; 1]>::try_from(leaf.chain)
        .map_err(|_| anyhow!("the lab leaf chain must be one certificate"))?;

    let tls = generate_tls(&ca, ca_cert.der().clone(), now)?;
    Ok(Pki {
        ca_pem,
        leaf_pem,
        leaf_key_pem,
        leaf_der,
        leaf_key: leaf.key,
        tls,
    })
}

fn generate_tls(
    ca: &OwnedIssuer,
    lab_ca_der: CertificateDer<'static>,
    now: OffsetDateTime,
) -> anyhow::Result<TlsPki> {
    let yesterday = now - Duration::days(1);
    let a_year = now + Duration::days(365);

    let expired = issue_server_leaf(ca, now - Duration::days(400), yesterday, Vec::new())
        .context("the expired leaf")?;
    let not_yet_valid = issue_server_leaf(ca, now + Duration::days(2), a_year, Vec::new())
        .context("the not-yet-valid leaf")?;
    let expiring_soon = issue_server_leaf(ca, yesterday, now + Duration::days(5), Vec::new())
        .context("the expiring-soon leaf")?;

    let self_signed = {
        let params = server_leaf_params(yesterday, a_year, Vec::new())?;
        let key = KeyPair::generate().context("generating the self-signed key")?;
        let cert = params
            .self_signed(&key)
            .context("self-signing the self-signed leaf")?;
        identity(vec![cert.der().clone()], &key)
    };

    let untrusted_root = {
        let (_, root) = new_ca(
            common_name("Untrusted Root CA"),
            1,
            now,
            "the untrusted root",
            None,
        )?;
        let (intermediate_cert, intermediate) = new_ca(
            common_name("Untrusted Intermediate CA"),
            0,
            now,
            "the untrusted intermediate",
            Some(&root),
        )?;
        let mut leaf = issue_server_leaf(&intermediate, yesterday, a_year, Vec::new())
            .context("the untrusted-root leaf")?;
        leaf.chain.push(intermediate_cert.der().clone());
        leaf
    };

    let (lab_intermediate_cert, lab_intermediate) = new_ca(
        common_name("Lab Intermediate CA"),
        0,
        now,
        "the lab intermediate",
        Some(ca),
    )?;
    let incomplete_chain = issue_server_leaf(
        &lab_intermediate,
        yesterday,
        a_year,
        vec![aia_ca_issuers(AIA_CA_ISSUERS_URI)],
    )
    .context("the incomplete-chain leaf")?;
    let full_chain = {
        let mut leaf = issue_server_leaf(&lab_intermediate, yesterday, a_year, Vec::new())
            .context("the full-chain leaf")?;
        leaf.chain.push(lab_intermediate_cert.der().clone());
        leaf
    };

    let (intercept_ca_cert, intercept_ca) =
        new_ca(zscaler_name(), 1, now, "the intercepting CA", None)?;
    let intercepted = issue_server_leaf(&intercept_ca, yesterday, a_year, Vec::new())
        .context("the intercepted leaf")?;

    let (client_cert_pem, client_key_pem) = client_cert(Some(ca), yesterday, a_year)?;
    let (wrong_client_cert_pem, wrong_client_key_pem) = client_cert(None, yesterday, a_year)?;

    Ok(TlsPki {
        lab_ca_der,
        expired,
        not_yet_valid,
        expiring_soon,
        self_signed,
        untrusted_root,
        incomplete_chain,
        full_chain,
        intercepted,
        intercept_ca_pem: intercept_ca_cert.pem(),
        client_cert_pem,
        client_key_pem,
        wrong_client_cert_pem,
        wrong_client_key_pem,
    })
}

/// A CA valid from yesterday for 10 years with the given path length constraint, self-signed
/// or issued by `parent`.
fn new_ca(
    dn: DistinguishedName,
    path_len: u8,
    now: OffsetDateTime,
    what: &str,
    parent: Option<&OwnedIssuer>,
) -> anyhow::Result<(Certificate, OwnedIssuer)> {
    let key = KeyPair::generate().with_context(|| format!("generating the key of {what}"))?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params.not_before = now - Duration::days(1);
    params.not_after = now + Duration::days(3650);
    let cert = match parent {
        None => params.self_signed(&key),
        Some(parent) => {
            params.use_authority_key_identifier_extension = true;
            params.signed_by(&key, parent)
        }
    }
    .with_context(|| format!("signing {what}"))?;
    Ok((cert, Issuer::new(params, key)))
}

/// Parameters of a server leaf for the lab's names ([`LEAF_DNS_NAMES`] and `127.0.0.1`).
fn server_leaf_params(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    custom_extensions: Vec<CustomExtension>,
) -> anyhow::Result<CertificateParams> {
    let mut sans: Vec<String> = LEAF_DNS_NAMES.iter().map(|s| (*s).to_owned()).collect();
    sans.push("127.0.0.1".to_owned());
    // `CertificateParams::new` turns strings that parse as IP addresses into iPAddress SANs.
    let mut params = CertificateParams::new(sans).context("leaf subjectAltNames")?;
    params.distinguished_name = name("good.lab.test");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.not_before = not_before;
    params.not_after = not_after;
    params.custom_extensions = custom_extensions;
    Ok(params)
}

/// A server leaf issued by `issuer`; the chain holds just the leaf.
fn issue_server_leaf(
    issuer: &OwnedIssuer,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    custom_extensions: Vec<CustomExtension>,
) -> anyhow::Result<Identity> {
    let mut params = server_leaf_params(not_before, not_after, custom_extensions)?;
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().context("generating a leaf key")?;
    let cert = params.signed_by(&key, issuer).context("signing a leaf")?;
    Ok(identity(vec![cert.der().clone()], &key))
}

/// A TLS client certificate and key (PEM): issued by `issuer`, or self-signed without one.
fn client_cert(
    issuer: Option<&OwnedIssuer>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> anyhow::Result<(String, String)> {
    let mut params = CertificateParams::new(vec!["client.lab.test".to_owned()])
        .context("client subjectAltNames")?;
    params.distinguished_name = name(if issuer.is_some() {
        "reach lab client"
    } else {
        "reach lab wrong client"
    });
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = not_before;
    params.not_after = not_after;
    let key = KeyPair::generate().context("generating a client key")?;
    let cert = match issuer {
        Some(issuer) => {
            params.use_authority_key_identifier_extension = true;
            params.signed_by(&key, issuer)
        }
        None => params.self_signed(&key),
    }
    .context("signing a client certificate")?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn identity(chain: Vec<CertificateDer<'static>>, key: &KeyPair) -> Identity {
    Identity {
        chain,
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    }
}

/// The Authority Information Access extension (RFC 5280 §4.2.2.1) with one `caIssuers` URI:
/// `SEQUENCE { SEQUENCE { OID 1.3.6.1.5.5.7.48.2, [6] IA5String uri } }`.
pub(crate) fn aia_ca_issuers(uri: &str) -> CustomExtension {
    /// id-ad-`caIssuers`, 1.3.6.1.5.5.7.48.2, as DER content octets.
    const CA_ISSUERS: [u8; 8] = [0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x02];
    let mut access_description = der_tlv(0x06, &CA_ISSUERS);
    // GeneralName uniformResourceIdentifier: context-specific primitive tag 6, implicit.
    access_description.extend(der_tlv(0x86, uri.as_bytes()));
    let syntax = der_tlv(0x30, &der_tlv(0x30, &access_description));
    // id-pe-authorityInfoAccess
    CustomExtension::from_oid_content(&[1, 3, 6, 1, 5, 5, 7, 1, 1], syntax)
}

/// One DER tag-length-value with a definite length (short or long form).
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "reach lab");
    dn.push(DnType::CommonName, common_name);
    dn
}

fn common_name(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

/// `CN=Zscaler Root CA, O=Zscaler Inc., OU=Zscaler Inc.`, in that order: the subject of the
/// CA a TLS-intercepting corporate proxy re-signs traffic with.
fn zscaler_name() -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "Zscaler Root CA");
    dn.push(DnType::OrganizationName, "Zscaler Inc.");
    dn.push(DnType::OrganizationalUnitName, "Zscaler Inc.");
    dn
}
