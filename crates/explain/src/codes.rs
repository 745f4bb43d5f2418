//! Identifiers in a pasted text, in the catalogue's normalised forms (the
//! table is in the crate docs).

use reach_report::Code;

/// curl's error names (libcurl-errors(3)) that have a number.
const CURL_NAMES: &[(&str, u32)] = &[
    ("UNSUPPORTED_PROTOCOL", 1),
    ("URL_MALFORMAT", 3),
    ("COULDNT_RESOLVE_PROXY", 5),
    ("COULDNT_RESOLVE_HOST", 6),
    ("COULDNT_CONNECT", 7),
    ("WEIRD_SERVER_REPLY", 8),
    ("HTTP_RETURNED_ERROR", 22),
    ("OPERATION_TIMEDOUT", 28),
    ("SSL_CONNECT_ERROR", 35),
    ("TOO_MANY_REDIRECTS", 47),
    ("GOT_NOTHING", 52),
    ("SEND_ERROR", 55),
    ("RECV_ERROR", 56),
    ("SSL_CERTPROBLEM", 58),
    ("SSL_CIPHER", 59),
    ("PEER_FAILED_VERIFICATION", 60),
    ("SSL_CACERT", 60),
    ("SSL_CACERT_BADFILE", 77),
    ("HTTP2", 16),
    ("HTTP2_STREAM", 92),
];

/// OpenSSL's verify error names (openssl-verify(1)), without `X509_V_ERR_`.
const OPENSSL_NAMES: &[(&str, u32)] = &[
    ("UNABLE_TO_GET_ISSUER_CERT", 2),
    ("CERT_SIGNATURE_FAILURE", 7),
    ("CERT_NOT_YET_VALID", 9),
    ("CERT_HAS_EXPIRED", 10),
    ("DEPTH_ZERO_SELF_SIGNED_CERT", 18),
    ("SELF_SIGNED_CERT_IN_CHAIN", 19),
    ("UNABLE_TO_GET_ISSUER_CERT_LOCALLY", 20),
    ("UNABLE_TO_VERIFY_LEAF_SIGNATURE", 21),
    ("CERT_REVOKED", 23),
    ("INVALID_CA", 24),
    ("HOSTNAME_MISMATCH", 62),
    ("EE_KEY_TOO_SMALL", 66),
    ("CA_KEY_TOO_SMALL", 67),
    ("CA_MD_TOO_WEAK", 68),
];

/// The identifiers `text` names, normalised, each once, in order of
/// appearance: `curl:60`, `openssl:20`, `AADSTS50011`, `E0000011`,
/// `ENOTFOUND`, `SELF_SIGNED_CERT_IN_CHAIN`, `NameResolutionError`,
/// `tls.cert_expired` (the forms are in the crate docs).
pub fn extract_codes(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut push = |code: String| {
        if !found.contains(&code) {
            found.push(code);
        }
    };
    for code in numbered(text) {
        push(code);
    }
    for token in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if let Some(code) = token_code(token) {
            push(code);
        }
    }
    let lower = text.to_lowercase();
    for code in Code::ALL {
        if contains_word(&lower, code.name()) {
            push(code.name().to_owned());
        }
    }
    found
}

/// A catalogue file's code in its normalised form: a named curl or
/// OpenSSL error becomes its number, `aadsts50011` becomes `AADSTS50011`.
pub(crate) fn normalize_code(code: &str) -> String {
    let code = code.trim();
    if let Some(n) = numbered(code).into_iter().next() {
        return n;
    }
    token_code(code).unwrap_or_else(|| code.to_owned())
}

/// The code of one token, if it is one.
fn token_code(token: &str) -> Option<String> {
    let upper = token.to_ascii_uppercase();
    if let Some(digits) = upper.strip_prefix("AADSTS") {
        return (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then_some(upper);
    }
    if let Some(name) = token.strip_prefix("CURLE_") {
        return Some(
            lookup(CURL_NAMES, name).map_or_else(|| token.to_owned(), |n| format!("curl:{n}")),
        );
    }
    if let Some(name) = token.strip_prefix("X509_V_ERR_") {
        return Some(
            lookup(OPENSSL_NAMES, name)
                .map_or_else(|| token.to_owned(), |n| format!("openssl:{n}")),
        );
    }
    let bytes = token.as_bytes();
    let okta = bytes.len() == 8 && bytes[0] == b'E' && bytes[1..].iter().all(u8::is_ascii_digit);
    let capitals = bytes.len() >= 5
        && bytes[0].is_ascii_uppercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_');
    let errno = capitals && bytes[0] == b'E' && !token.contains('_') && token != "ERROR";
    let snake = capitals && token.contains('_') && !token.ends_with('_');
    let class = bytes.first().is_some_and(u8::is_ascii_uppercase)
        && bytes.iter().any(u8::is_ascii_lowercase)
        && (token.ends_with("Error") || token.ends_with("Exception"))
        && !matches!(token, "Error" | "Exception");
    (okta || errno || snake || class).then(|| token.to_owned())
}

fn lookup(table: &[(&str, u32)], name: &str) -> Option<u32> {
    table
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, number)| *number)
}

/// `curl: (60)`, `curl error 60`, `verify error:num=20`, `Verify return
/// code: 20`, `error 20 at 0 depth lookup`: the numbered forms.
fn numbered(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut found = Vec::new();
    let patterns: [(&str, &str); 5] = [
        ("curl: (", "curl"),
        ("curl error ", "curl"),
        ("verify error:num=", "openssl"),
        ("verify return code: ", "openssl"),
        ("error ", "openssl-depth"),
    ];
    for (pattern, tool) in patterns {
        for (at, _) in lower.match_indices(pattern) {
            let rest = &lower[at + pattern.len()..];
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if digits.is_empty() || digits.len() > 3 {
                continue;
            }
            let after = &rest[digits.len()..];
            let code = match tool {
                "openssl-depth" if is_depth_lookup(after) => format!("openssl:{digits}"),
                "openssl-depth" => continue,
                // `Verify return code: 0 (ok)` is a success.
                "openssl" if digits == "0" => continue,
                _ => format!("{tool}:{digits}"),
            };
            if !found.contains(&code) {
                found.push(code);
            }
        }
    }
    found
}

/// ` at 0 depth lookup`: what follows the number in `openssl verify`'s
/// `error 20 at 0 depth lookup: …`.
fn is_depth_lookup(after: &str) -> bool {
    after.strip_prefix(" at ").is_some_and(|rest| {
        let depth = rest.chars().take_while(char::is_ascii_digit).count();
        depth > 0 && rest[depth..].starts_with(" depth lookup")
    })
}

/// Whether `name` occurs in `text` not inside a longer name.
fn contains_word(text: &str, name: &str) -> bool {
    let part = |c: char| c.is_alphanumeric() || c == '_' || c == '.';
    text.match_indices(name).any(|(at, _)| {
        !text[..at].chars().next_back().is_some_and(part)
            && !text[at + name.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[cfg(test)]
mod tests {
    use super::extract_codes;

    #[test]
    fn every_code_form_is_found() {
        let cases: &[(&str, &str)] = &[
            ("curl: (60) SSL certificate problem", "curl:60"),
            ("cURL error 6: Could not resolve host", "curl:6"),
            ("curl error 28 while fetching", "curl:28"),
            ("failed with CURLE_PEER_FAILED_VERIFICATION", "curl:60"),
            ("CURLE_COULDNT_RESOLVE_HOST (6)", "curl:6"),
            (
                "verify error:num=20:unable to get local issuer certificate",
                "openssl:20",
            ),
            (
                "Verify return code: 21 (unable to verify the first certificate)",
                "openssl:21",
            ),
            (
                "error 10 at 0 depth lookup: certificate has expired",
                "openssl:10",
            ),
            ("X509_V_ERR_HOSTNAME_MISMATCH", "openssl:62"),
            ("AADSTS50011: The redirect URI", "AADSTS50011"),
            ("error code aadsts700016", "AADSTS700016"),
            (
                "errorCode: E0000011, errorSummary: Invalid token provided",
                "E0000011",
            ),
            ("Error: getaddrinfo ENOTFOUND api.example.com", "ENOTFOUND"),
            ("connect ETIMEDOUT 10.0.0.1:443", "ETIMEDOUT"),
            ("connect ECONNREFUSED 127.0.0.1:443", "ECONNREFUSED"),
            (
                "code: 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY'",
                "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
            ),
            (
                "code: 'SELF_SIGNED_CERT_IN_CHAIN'",
                "SELF_SIGNED_CERT_IN_CHAIN",
            ),
            ("\"category\":\"BAD_CLIENT_ID\"", "BAD_CLIENT_ID"),
            ("{\"status\":\"BAD_REFRESH_TOKEN\"}", "BAD_REFRESH_TOKEN"),
            ("category: MISSING_SCOPES", "MISSING_SCOPES"),
            (
                "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed",
                "CERTIFICATE_VERIFY_FAILED",
            ),
            (
                "urllib3.exceptions.NameResolutionError: <urllib3.connection>",
                "NameResolutionError",
            ),
            (
                "javax.net.ssl.SSLHandshakeException: PKIX path",
                "SSLHandshakeException",
            ),
            ("finding tls.cert_expired in the report", "tls.cert_expired"),
        ];
        for (text, code) in cases {
            let found = extract_codes(text);
            assert!(
                found.iter().any(|f| f == code),
                "{text}: {found:?} lacks {code}"
            );
        }
    }

    #[test]
    fn success_and_plain_words_are_not_codes() {
        for text in [
            "Verify return code: 0 (ok)",
            "Error: something went wrong at line 12",
            "ERROR the job failed",
            "Exception in thread main",
        ] {
            let found = extract_codes(text);
            assert!(found.is_empty(), "{text}: {found:?}");
        }
    }
}
