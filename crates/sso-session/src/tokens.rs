//! Which account an ID token or a SAML assertion names. Nothing here is
//! verified (reach holds no keys): the claims are shown, marked so, and the
//! token itself never leaves this module.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use html5gum::{Token, Tokenizer};

use reach_report::sso::SsoIdentity;

/// Decodes a JWT's claims (the middle part). `None` for anything that is
/// not a JWT with a JSON object payload.
pub fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    let mut parts = token.trim().split('.');
    let (_header, payload) = (parts.next()?, parts.next()?);
    parts.next()?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The identity an ID token carries.
pub fn from_id_token(token: &str, hop: usize) -> Option<SsoIdentity> {
    let claims = jwt_claims(token)?;
    let text = |key: &str| claims.get(key).and_then(|v| v.as_str()).map(str::to_owned);
    let audience = match claims.get("aud") {
        Some(serde_json::Value::String(s)) => vec![s.clone()],
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Some(SsoIdentity {
        source: "id_token".to_owned(),
        hop,
        verified: false,
        issuer: text("iss"),
        audience,
        subject: text("sub"),
        email: text("email"),
        preferred_username: text("preferred_username"),
        upn: text("upn"),
        name_id: None,
    })
}

/// A `SAMLResponse` (base64 XML, POST binding), decoded once for its
/// status and the account its assertion names.
#[derive(Debug, Clone)]
pub struct SamlResponse {
    xml: String,
}

/// The bytes of a base64 value (standard alphabet), whitespace ignored:
/// some identity providers wrap it in lines.
fn base64_bytes(value: &str) -> Option<Vec<u8>> {
    let compact: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(compact).ok()
}

/// The identity a `SAMLResponse` carries ([`SamlResponse::identity`]).
pub fn from_saml_response(value: &str, hop: usize) -> Option<SsoIdentity> {
    SamlResponse::decode(value)?.identity(hop)
}

impl SamlResponse {
    /// `None` when `value` is not base64.
    pub fn decode(value: &str) -> Option<SamlResponse> {
        let xml = base64_bytes(value)?;
        Some(SamlResponse {
            xml: String::from_utf8_lossy(&xml).into_owned(),
        })
    }

    /// The identity the assertion carries: its `NameID`, `Issuer` and
    /// `Audience`, and the attributes named like an e-mail or UPN.
    pub fn identity(&self, hop: usize) -> Option<SsoIdentity> {
        let xml = &self.xml;
        let mut identity = SsoIdentity {
            source: "saml_assertion".to_owned(),
            hop,
            verified: false,
            ..SsoIdentity::default()
        };
        // XML read with the HTML tokenizer: element names come lower-cased with
        // their prefix (`saml:nameid`), text with entities decoded.
        let mut current: Option<String> = None;
        let mut attribute: Option<String> = None;
        let mut found = false;
        let mut assertion = false;
        for token in Tokenizer::new(xml.as_str()) {
            let Ok(token) = token;
            match token {
                Token::StartTag(tag) => {
                    let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                    let local = name.rsplit(':').next().unwrap_or("").to_owned();
                    if local == "assertion" {
                        assertion = true;
                    }
                    if local == "attribute" {
                        attribute = tag
                            .attributes
                            .get(b"name".as_slice())
                            .map(|v| String::from_utf8_lossy(&v.value).to_ascii_lowercase());
                    }
                    current = Some(local);
                }
                Token::EndTag(tag) => {
                    if tag.name.ends_with(b"attribute") {
                        attribute = None;
                    }
                    current = None;
                }
                Token::String(text) => {
                    let text = String::from_utf8_lossy(&text.value).trim().to_owned();
                    if text.is_empty() {
                        continue;
                    }
                    match current.as_deref() {
                        Some("nameid") if identity.name_id.is_none() => {
                            identity.name_id = Some(text);
                            found = true;
                        }
                        Some("issuer") if identity.issuer.is_none() => identity.issuer = Some(text),
                        Some("audience") => identity.audience.push(text),
                        Some("attributevalue") => {
                            let name = attribute.as_deref().unwrap_or("");
                            if name.ends_with("emailaddress") || name == "email" || name == "mail" {
                                identity.email.get_or_insert(text);
                                found = true;
                            } else if name.ends_with("/upn") || name == "upn" {
                                identity.upn.get_or_insert(text);
                                found = true;
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        // A Response without an assertion (an error status) names no account.
        (assertion && (found || identity.issuer.is_some())).then_some(identity)
    }
}

/// The top-level `Status` of a `SAMLResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlStatus {
    /// The status codes, outermost first, without the
    /// `urn:oasis:names:tc:SAML:2.0:status:` prefix (`Responder`,
    /// `NoPassive`).
    pub codes: Vec<String>,
    pub message: Option<String>,
    /// Whether the Response carries an assertion (plain or encrypted).
    pub has_assertion: bool,
}

impl SamlStatus {
    pub fn is_success(&self) -> bool {
        self.codes.first().is_some_and(|c| c == "Success")
    }
}

impl SamlResponse {
    /// The Response's own `Status`; `None` when it has no status code.
    pub fn status(&self) -> Option<SamlStatus> {
        let xml = &self.xml;
        let mut status = SamlStatus {
            codes: Vec::new(),
            message: None,
            has_assertion: false,
        };
        let mut depth_in_assertion = 0usize;
        let mut in_message = false;
        for token in Tokenizer::new(xml.as_str()) {
            let Ok(token) = token;
            match token {
                Token::StartTag(tag) => {
                    let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                    let local = name.rsplit(':').next().unwrap_or("");
                    match local {
                        "assertion" | "encryptedassertion" => {
                            status.has_assertion = true;
                            if !tag.self_closing {
                                depth_in_assertion += 1;
                            }
                        }
                        // Only the Response's own status, not one inside an
                        // assertion.
                        "statuscode" if depth_in_assertion == 0 => {
                            if let Some(v) = tag.attributes.get(b"value".as_slice()) {
                                let v = String::from_utf8_lossy(&v.value);
                                let short = v.rsplit(':').next().unwrap_or(&v).trim().to_owned();
                                status.codes.push(short);
                            }
                        }
                        "statusmessage" if depth_in_assertion == 0 => in_message = true,
                        _ => {}
                    }
                }
                Token::EndTag(tag) => {
                    let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
                    match name.rsplit(':').next().unwrap_or("") {
                        "assertion" | "encryptedassertion" => {
                            depth_in_assertion = depth_in_assertion.saturating_sub(1);
                        }
                        "statusmessage" => in_message = false,
                        _ => {}
                    }
                }
                Token::String(text) if in_message => {
                    let text = String::from_utf8_lossy(&text.value).trim().to_owned();
                    if !text.is_empty() {
                        let message: String = text.chars().take(300).collect();
                        status.message.get_or_insert(message);
                    }
                }
                _ => {}
            }
        }
        (!status.codes.is_empty()).then_some(status)
    }
}

/// Sets `ForceAuthn="true"` on an `AuthnRequest` and encodes it for the
/// HTTP-Redirect binding (DEFLATE, base64). `None` when `xml` is not one.
pub fn force_authn_request(xml: &str) -> Option<String> {
    let start = find_ci(xml, "authnrequest")?;
    let open = xml[..start].rfind('<')?;
    let end = open + xml[open..].find('>')?;
    let tag = &xml[open..end];
    let new_tag = if let Some(at) = find_ci(tag, "forceauthn=") {
        let quote_at = at + "forceauthn=".len();
        let quote = tag[quote_at..].chars().next()?;
        let close = quote_at + 1 + tag[quote_at + 1..].find(quote)?;
        format!("{}ForceAuthn=\"true\"{}", &tag[..at], &tag[close + 1..])
    } else {
        let trimmed = tag.trim_end_matches('/');
        let slash = &tag[trimmed.len()..];
        format!("{trimmed} ForceAuthn=\"true\"{slash}")
    };
    let xml = format!("{}{new_tag}{}", &xml[..open], &xml[end..]);
    let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6);
    Some(STANDARD.encode(deflated))
}

fn find_ci(haystack: &str, needle: &str) -> Option<usize> {
    haystack.to_ascii_lowercase().find(needle)
}

/// The XML of a `SAMLRequest`: base64, and DEFLATE-compressed when sent by
/// redirect (HTTP-Redirect binding). At most 1 MiB inflated.
pub fn saml_request_xml(value: &str) -> Option<String> {
    let bytes = base64_bytes(value)?;
    let xml = if bytes.first() == Some(&b'<') {
        bytes
    } else {
        miniz_oxide::inflate::decompress_to_vec_with_limit(&bytes, 1024 * 1024).ok()?
    };
    Some(String::from_utf8_lossy(&xml).into_owned())
}

/// Whether an `AuthnRequest` asks for a fresh login (`ForceAuthn="true"`).
pub fn forces_authn(xml: &str) -> bool {
    for token in Tokenizer::new(xml) {
        let Ok(token) = token;
        if let Token::StartTag(tag) = token
            && tag.name.ends_with(b"authnrequest")
        {
            return tag
                .attributes
                .get(b"forceauthn".as_slice())
                .is_some_and(|v| v.value.eq_ignore_ascii_case(b"true"));
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_token_claims() {
        let payload = URL_SAFE_NO_PAD.encode(
            r#"{"iss":"https://idp.example","aud":["app","other"],"sub":"00u1","email":"a@example.com","preferred_username":"alice"}"#,
        );
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.");
        let id = from_id_token(&token, 3).unwrap();
        assert_eq!(id.email.as_deref(), Some("a@example.com"));
        assert_eq!(id.audience, ["app", "other"]);
        assert_eq!(id.hop, 3);
        assert!(!id.verified);
        for bad in ["", "a.b", "a.!!!.c", "a.bm90anNvbg.c"] {
            assert!(from_id_token(bad, 1).is_none(), "{bad}");
        }
    }

    #[test]
    fn saml_requests() {
        let xml = r#"<samlp:AuthnRequest xmlns:samlp="p" ID="x" ForceAuthn="true"><saml:Issuer>sp</saml:Issuer></samlp:AuthnRequest>"#;
        let deflated = miniz_oxide::deflate::compress_to_vec(xml.as_bytes(), 6);
        for encoded in [STANDARD.encode(xml), STANDARD.encode(&deflated)] {
            let got = saml_request_xml(&encoded).unwrap();
            assert_eq!(got, xml);
            assert!(forces_authn(&got));
        }
        assert!(!forces_authn("<samlp:AuthnRequest ID=\"x\"/>"));
        assert!(!forces_authn("<AuthnRequest ForceAuthn=\"false\"/>"));
        assert!(saml_request_xml("!!").is_none());
        assert!(saml_request_xml(&STANDARD.encode([0xFF, 0x00, 0x12])).is_none());
    }

    #[test]
    fn saml_status_codes() {
        let error = r#"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"><saml:Issuer>idp</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Responder"><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:NoPassive"/></samlp:StatusCode><samlp:StatusMessage>Passive authentication not supported.</samlp:StatusMessage></samlp:Status></samlp:Response>"#;
        let status = SamlResponse::decode(&STANDARD.encode(error))
            .and_then(|r| r.status())
            .unwrap();
        assert_eq!(status.codes, ["Responder", "NoPassive"]);
        assert_eq!(
            status.message.as_deref(),
            Some("Passive authentication not supported.")
        );
        assert!(!status.is_success() && !status.has_assertion);
        // No assertion: no account, whatever the Issuer says.
        assert!(from_saml_response(&STANDARD.encode(error), 1).is_none());
        let ok = r#"<Response><Status><StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></Status><Assertion><Subject><NameID>a</NameID></Subject></Assertion></Response>"#;
        let status = SamlResponse::decode(&STANDARD.encode(ok))
            .and_then(|r| r.status())
            .unwrap();
        assert!(status.is_success() && status.has_assertion);
        assert!(
            SamlResponse::decode(&STANDARD.encode("<x/>"))
                .and_then(|r| r.status())
                .is_none()
        );
    }

    #[test]
    fn forcing_authn() {
        for xml in [
            r#"<samlp:AuthnRequest xmlns:samlp="p" ID="x"><saml:Issuer>sp</saml:Issuer></samlp:AuthnRequest>"#,
            r#"<samlp:AuthnRequest ForceAuthn='false' ID="x"/>"#,
            r#"<?xml version="1.0"?><AuthnRequest ID="x"/>"#,
        ] {
            let encoded = force_authn_request(xml).unwrap();
            let back = saml_request_xml(&encoded).unwrap();
            assert!(forces_authn(&back), "{xml} -> {back}");
            assert!(back.contains("ID=\"x\""), "{back}");
        }
        assert!(force_authn_request("<Response/>").is_none());
    }

    #[test]
    fn saml_assertion() {
        let xml = r#"<samlp:Response xmlns:samlp="p" xmlns:saml="a"><saml:Issuer>https://idp.example/saml</saml:Issuer>
<saml:Assertion><saml:Issuer>https://idp.example/saml</saml:Issuer><saml:Subject><saml:NameID Format="e">bob@example.com</saml:NameID></saml:Subject>
<saml:Conditions><saml:AudienceRestriction><saml:Audience>https://app.example/sp</saml:Audience></saml:AudienceRestriction></saml:Conditions>
<saml:AttributeStatement><saml:Attribute Name="http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"><saml:AttributeValue>bob@corp.example</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
</saml:Assertion></samlp:Response>"#;
        let encoded = STANDARD.encode(xml);
        // Line breaks inside the base64, as some IdPs send it.
        let wrapped = format!("{}\n{}", &encoded[..40], &encoded[40..]);
        let id = from_saml_response(&wrapped, 2).unwrap();
        assert_eq!(id.name_id.as_deref(), Some("bob@example.com"));
        assert_eq!(id.issuer.as_deref(), Some("https://idp.example/saml"));
        assert_eq!(id.audience, ["https://app.example/sp"]);
        assert_eq!(id.upn.as_deref(), Some("bob@corp.example"));
        assert!(from_saml_response("not base64!", 1).is_none());
        assert!(from_saml_response(&STANDARD.encode("<x>nothing</x>"), 1).is_none());
    }
}
