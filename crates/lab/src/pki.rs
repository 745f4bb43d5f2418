//! The lab's throw-away PKI: one CA and one leaf it signs, generated fresh for every [`crate::Lab`].
//!
//! Generating per lab (ECDSA P-256, a few milliseconds) rather than checking in fixtures means
//! the certificates can never expire under the test suite's feet and no private key lives in git.

use anyhow::Context as _;
use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
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

/// The generated material, in the shapes the lab needs.
pub(crate) struct Pki {
    /// The CA certificate as PEM, written to `ca.pem` and returned by [`crate::Lab::ca_pem`].
    pub(crate) ca_pem: String,
    /// The leaf certificate (DER); the server sends only this, like a real server sends no root.
    pub(crate) leaf_der: CertificateDer<'static>,
    /// The leaf's private key (PKCS#8 DER).
    pub(crate) leaf_key: PrivateKeyDer<'static>,
}

/// Generates the CA and the leaf.
///
/// Validity: the CA spans yesterday .. +10 years, the leaf yesterday .. +1 year. Starting a day
/// early keeps the certificates valid even if a verifying client's clock is slightly behind.
pub(crate) fn generate() -> anyhow::Result<Pki> {
    let now = OffsetDateTime::now_utc();
    let yesterday = now - Duration::days(1);

    let ca_key = KeyPair::generate().context("generating the lab CA key")?;
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name = name("reach lab CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    ca_params.not_before = yesterday;
    ca_params.not_after = now + Duration::days(3650);
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .context("self-signing the lab CA")?;
    let ca_pem = ca_cert.pem();
    let issuer = Issuer::new(ca_params, ca_key);

    let mut sans: Vec<String> = LEAF_DNS_NAMES.iter().map(|s| (*s).to_owned()).collect();
    sans.push("127.0.0.1".to_owned());
    // `CertificateParams::new` turns strings that parse as IP addresses into iPAddress SANs.
    let mut leaf_params = CertificateParams::new(sans).context("leaf subjectAltNames")?;
    leaf_params.distinguished_name = name("good.lab.test");
    leaf_params.is_ca = IsCa::ExplicitNoCa;
    leaf_params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    leaf_params.use_authority_key_identifier_extension = true;
    leaf_params.not_before = yesterday;
    leaf_params.not_after = now + Duration::days(365);
    let leaf_key = KeyPair::generate().context("generating the lab leaf key")?;
    let leaf_cert = leaf_params
        .signed_by(&leaf_key, &issuer)
        .context("signing the lab leaf")?;

    Ok(Pki {
        ca_pem,
        leaf_der: leaf_cert.der().clone(),
        leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    })
}

fn name(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::OrganizationName, "reach lab");
    dn.push(DnType::CommonName, common_name);
    dn
}
