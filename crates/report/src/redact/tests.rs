use super::oracle::{json_text, rewrite_strings};
use super::*;
use serde_json::json;

#[test]
fn url_secrets_are_redacted() {
    let cases = [
        (
            "https://app/cb?code=abc123&state=xyz",
            "https://app/cb?code=[redacted]&state=xyz",
        ),
        (
            "https://app/cb#access_token=tok&token_type=bearer",
            "https://app/cb#access_token=[redacted]&token_type=bearer",
        ),
        (
            "https://idp/sso?SAMLRequest=PHNhbWw%2B&RelayState=r",
            "https://idp/sso?SAMLRequest=[redacted]&RelayState=r",
        ),
        (
            "http://user:hunter2@proxy:3128/",
            "http://user:[redacted]@proxy:3128/",
        ),
        (
            "redirected to https://x/?client_secret=s3 then",
            "redirected to https://x/?client_secret=[redacted] then",
        ),
        ("https://x/?postcode=123", "https://x/?postcode=123"),
        (
            "https://s3/o?X-Amz-Credential=AKIA&X-Amz-Signature=abc&key=k1",
            "https://s3/o?X-Amz-Credential=[redacted]&X-Amz-Signature=[redacted]&key=[redacted]",
        ),
        (
            "https://ghp_tok@github.com/x",
            "https://[redacted]@github.com/x",
        ),
        ("(code=abc)", "(code=[redacted])"),
        ("https://x/?state=abc", "https://x/?state=abc"),
    ];
    for (input, want) in cases {
        assert_eq!(text(input), want, "input {input}");
    }
}

#[test]
fn credentials_in_text_are_redacted() {
    assert_eq!(
        text("Authorization: Bearer eyJabc.def"),
        "Authorization: Bearer [redacted]"
    );
    assert_eq!(text("basic dXNlcjpwYXNz"), "basic [redacted]");
    assert_eq!(text("a basically fine text"), "a basically fine text");
    assert_eq!(text("Bearer   abc1 def"), "Bearer   [redacted] def");
    assert_eq!(
        text("Bearer eyJhbGciOiJIUzI1NiJ9.e30.x"),
        "Bearer [redacted]"
    );
    // Challenges and prose are not credentials.
    assert_eq!(text(r#"Basic realm="lab""#), r#"Basic realm="lab""#);
    assert_eq!(
        text(r#"Bearer realm="api", error="invalid_token""#),
        r#"Bearer realm="api", error="invalid_token""#
    );
    assert_eq!(
        text("(Basic header or form body)"),
        "(Basic header or form body)"
    );
}

#[test]
fn headers_keep_cookie_names() {
    assert_eq!(
        header("Set-Cookie", "SID=s3cr3t; Path=/; HttpOnly"),
        "SID=[redacted]; Path=/; HttpOnly"
    );
    assert_eq!(header("cookie", "a=1; b=2"), "a=[redacted]; b=[redacted]");
    // A Cookie header inside a message keeps its separators.
    // Every value of a quoted Cookie header is a secret, whatever its name.
    assert_eq!(
        text("cookie: idp_session=abc; session_token=xyz; theme=dark"),
        "cookie: idp_session=[redacted]; session_token=[redacted]; theme=[redacted]"
    );
    // A server that echoes the request into one header.
    assert_eq!(
        text("GET / cookie: sid=abc; b=c, authorization: Bearer x1, accept: */*"),
        "GET / cookie: sid=[redacted]; b=[redacted], authorization: Bearer [redacted], accept: */*"
    );
    assert_eq!(
        text("Set-Cookie: sid=abc; Path=/; HttpOnly"),
        "Set-Cookie: sid=[redacted]; Path=/; HttpOnly"
    );
    assert_eq!(text("no cookie: here"), "no cookie: here");
    assert_eq!(text("x-cookie: a=b"), "x-cookie: a=b");
    assert_eq!(header("Authorization", "Bearer x"), "Bearer [redacted]");
    assert_eq!(header("content-type", "text/html"), "text/html");
    assert_eq!(header("X-API-Key", "k"), REDACTED);
    assert_eq!(header("X-Subject-Token", "t"), REDACTED);
    assert_eq!(
        header("WWW-Authenticate", "Bearer realm=x"),
        "Bearer realm=x"
    );
}

#[test]
fn values_are_walked() {
    let mut v = json!({
        "code": "tls.cert_expired",
        "headers": [{"name": "Set-Cookie", "value": "SID=s3cr3t; Secure"}],
        "evidence": {"client_secret": "s3cr3t", "url": "https://a/?code=c0de"},
    });
    value_in_place(&mut v);
    assert_eq!(v["code"], "tls.cert_expired");
    assert_eq!(v["headers"][0]["value"], "SID=[redacted]; Secure");
    assert_eq!(v["evidence"]["client_secret"], REDACTED);
    assert_eq!(v["evidence"]["url"], "https://a/?code=[redacted]");
    let s = v.to_string();
    assert!(!s.contains("s3cr3t") && !s.contains("c0de"), "{s}");
}

#[test]
fn redaction_is_idempotent_and_utf8_safe() {
    let once = text("https://ä/?code=ü&x=ß");
    assert_eq!(once, "https://ä/?code=[redacted]&x=ß");
    assert_eq!(text(&once), once);
    assert!(text_changed(&once, &Known::new()).is_none());
}

#[test]
fn percent_encoded_parameters_are_redacted() {
    assert_eq!(
        text("http://a/x?r=idp_session%3Dalice%26theme%3Ddark"),
        "http://a/x?r=idp_session%3D[redacted]%26theme%3Ddark"
    );
    assert_eq!(
        text("/cb?next=%2Fapp%3Fcode%3Dc0de%26state%3Ds"),
        "/cb?next=%2Fapp%3Fcode%3D[redacted]%26state%3Ds"
    );
    assert_eq!(text("a%3Db%26postcode%3D1"), "a%3Db%26postcode%3D1");
}

fn known(secrets: &[&str]) -> Known {
    let mut known = Known::new();
    for s in secrets {
        assert!(worth_hunting(s), "{s}");
        known.add(s.as_bytes());
    }
    known.build();
    known
}

fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let mut n = 0u32;
        for (k, b) in chunk.iter().enumerate() {
            n |= u32::from(*b) << (16 - 8 * k);
        }
        for k in 0..=chunk.len() {
            out.push(char::from(alphabet[(n >> (18 - 6 * k)) as usize & 63]));
        }
    }
    out
}

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

#[test]
fn known_secrets_are_hunted_raw_encoded_and_in_base64() {
    let secret = "Sid~4f/9+x=Q";
    let k = known(&[secret, "SECRET-COOKIE-4"]);
    let clean = |t: &str| k.redacted(t).unwrap_or_else(|| t.to_owned());
    assert_eq!(
        clean("x-echo: sid=SECRET-COOKIE-4, theme=dark"),
        "x-echo: sid=[redacted], theme=dark"
    );
    assert_eq!(
        clean("Location: /?r=sid%3DSid%7E4f%2F9%2Bx%3DQ%26a%3Db"),
        "Location: /?r=sid%3D[redacted]%26a%3Db"
    );
    // Inside base64 at every offset, both alphabets: nothing of the
    // secret's bytes can be decoded back from what is left.
    for prefix in ["", "a", "ab", "abc", "cookie: sid="] {
        for alphabet in [STANDARD, URL_SAFE] {
            let plain = format!("{prefix}{secret}; more text after it");
            let encoded = base64(plain.as_bytes(), alphabet);
            let shown = clean(&format!("x-echo-base64: {encoded}"));
            assert!(shown.contains(REDACTED), "{prefix:?} {shown}");
            let rest = shown.replace(REDACTED, " ");
            for word in rest.split(' ') {
                for align in 0..4.min(word.len()) {
                    let mut bytes = Vec::new();
                    base64_decode_into(&word.as_bytes()[align..], &mut bytes);
                    let bytes = String::from_utf8_lossy(&bytes);
                    assert!(!bytes.contains("4f/9"), "{prefix:?} {shown}");
                }
            }
        }
    }
    // Clean text stays as it is, and redacting twice changes nothing.
    assert_eq!(k.redacted("nothing to see here at all"), None);
    let once = clean("a Sid~4f/9+x=Q b");
    assert_eq!(once, "a [redacted] b");
    assert_eq!(k.redacted(&once), None);
    assert_eq!(clean("ä Sid~4f/9+x=Qü"), "ä [redacted]ü");
}

#[test]
fn values_found_by_name_are_hunted_elsewhere() {
    // A session cookie a server set, and a code in a redirect, travel on
    // under names the rules do not know.
    let echoed = base64(b"sid=Zx81-qq0Lm-set; x", STANDARD);
    let mut v = json!({
        "headers": [{"name": "Set-Cookie", "value": "sid=Zx81-qq0Lm-set; Path=/"}],
        "url": "https://app/cb?code=C0DE-found-1&state=s",
        "next": "https://x/?r=Zx81-qq0Lm-set&c=C0DE-found-1",
        "echo": echoed,
    });
    value_in_place(&mut v);
    let s = v.to_string();
    assert!(!s.contains("Zx81") && !s.contains("C0DE"), "{s}");
    assert_eq!(v["next"], "https://x/?r=[redacted]&c=[redacted]");
    assert!(v["echo"].as_str().unwrap().contains(REDACTED), "{s}");
}

#[test]
fn secrets_added_after_the_index_are_found() {
    let mut k = known(&["first-secret-1"]);
    let mut rebuilds = 0;
    for i in 0..500 {
        k.add(format!("later-secret-{i:04}").as_bytes());
        k.add(b"first-secret-1");
        if k.dirty {
            k.build();
            rebuilds += 1;
        }
        let last = format!("x later-secret-{i:04} y");
        assert_eq!(k.redacted(&last).as_deref(), Some("x [redacted] y"));
    }
    // Added one by one, indexed a few times, each secret once.
    assert!(rebuilds < 10, "{rebuilds}");
    assert_eq!(k.secrets.len(), 501);
    assert_eq!(k.redacted("first-secret-1").as_deref(), Some(REDACTED));
}

#[test]
fn json_text_redacts_pretty_and_compact_text_alike() {
    let sample = json!({
        "schema": "reach.report/v1",
        "checks": [{
            "code": "tls.cert_expired",
            "name": "a \"quoted\" name\n\u{1b}[2J",
            "headers": [
                {"name": "Set-Cookie", "value": "sid=Jt-91xq-QQ; Path=/"},
                {"name": "x-echo", "value": "cookie: a=b; c=d, x=Jt-91xq-QQ"},
                {"value": "Bearer abcdef123", "name": "Authorization"},
            ],
            "evidence": {"client_secret": "s3", "url": "https://a/?code=c0de&x=1",
                         "nested": [["token=zz"], {"password": ["kept-in-array"]}]},
            "numbers": [1, 2.5, true, null, "ä ü \\ /"],
        }],
    });
    let pretty = serde_json::to_string_pretty(&sample).unwrap();
    let streamed: Value = serde_json::from_str(&json_text(&pretty)).unwrap();
    let check = &streamed["checks"][0];
    assert_eq!(check["code"], "tls.cert_expired");
    assert_eq!(check["name"], sample["checks"][0]["name"]);
    assert_eq!(check["headers"][0]["value"], "sid=[redacted]; Path=/");
    assert_eq!(
        check["headers"][1]["value"],
        "cookie: a=[redacted]; c=[redacted], x=[redacted]"
    );
    assert_eq!(check["headers"][2]["value"], "Bearer [redacted]");
    assert_eq!(check["evidence"]["client_secret"], "[redacted]");
    assert_eq!(check["evidence"]["url"], "https://a/?code=[redacted]&x=1");
    assert_eq!(check["numbers"], sample["checks"][0]["numbers"]);
    // Compact text gives the same, and clean text comes back as it was.
    let compact = serde_json::to_string(&sample).unwrap();
    let again: Value = serde_json::from_str(&json_text(&compact)).unwrap();
    assert_eq!(again, streamed);
    let mut in_place = sample.clone();
    value_in_place(&mut in_place);
    assert_eq!(in_place, streamed);
    let clean = r#"{"a": [1, "x", {"b": "y"}], "c": "\u00e4"}"#;
    assert_eq!(json_text(clean), clean);
}

type Seen = (Option<String>, Option<String>, String);

fn seen(place: Place<'_>, s: &str) -> Seen {
    // Only a `value` member reads the `name` before it.
    let name = place.name.filter(|_| place.key == Some("value"));
    (
        place.key.map(str::to_owned),
        name.map(str::to_owned),
        s.to_owned(),
    )
}

/// The typed walk visits the strings the report's JSON holds, each under
/// the member name (and header name) the JSON shows: the rules cannot
/// tell the two apart.
#[test]
fn the_walk_sees_every_string_where_the_json_has_it() {
    let mut n = 0;
    let mut report = crate::strings::fixture::full_report(&mut || {
        n += 1;
        format!("<{n}>")
    });
    let json = serde_json::to_string(&report).unwrap();
    let mut from_json = Vec::new();
    rewrite_strings(&json, |place, s| {
        from_json.push(seen(place, s));
        None
    });
    let mut from_walk = Vec::new();
    report.strings(None, &mut |place, s| from_walk.push(seen(place, s)));
    // Enums are strings in the JSON; their text is fixed by their type.
    let is_enum = |(key, _, s): &Seen| {
        !s.starts_with('<')
            && matches!(
                key.as_deref(),
                Some("kind" | "status" | "code" | "severity" | "source" | "outcome")
            )
    };
    from_json.retain(|e| !is_enum(e));
    assert!(!from_walk.iter().any(is_enum));
    assert!(from_walk.len() > 300, "{}", from_walk.len());
    from_json.sort();
    from_walk.sort();
    assert_eq!(from_walk, from_json);
}

/// The typed redaction gives, string for string, what redacting the
/// report's JSON text gave before it.
#[test]
fn typed_redaction_matches_the_json_text_redaction() {
    remember("known-typed-secret-42");
    let echoed = base64(b"sid=Sess-typed-99; x", STANDARD);
    let samples = [
        "https://app/cb?code=C0DE-typed-1&state=s",
        "Bearer eyJ-typed-abc.def",
        "sid=Sess-typed-99; Path=/; HttpOnly",
        "a=Ck-typed-1; b=Ck-typed-2",
        "http://user:pw-typed-7@proxy:3128/",
        "x-echo: cookie: a=b; c=d, x=Ck-typed-1",
        "/cb?next=%2Fapp%3Fcode%3Dc0de-typed%26state%3Ds",
        "echo Sess-typed-99 and C0DE-typed-1 and pw-typed-7",
        &echoed,
        "plain \u{1b}[2J text \"quoted\"",
        "ä ü \\ /",
        REDACTED,
        "",
        "Basic dXNlcjpodW50ZXIyMjI=",
        "known-typed-secret-42 in text",
        "https://ghp_tok@github.com/x",
        "r=idp_session%3Dalice%26theme%3Ddark",
    ];
    let mut i = 0;
    let original = crate::strings::fixture::full_report(&mut || {
        i += 1;
        samples[i % samples.len()].to_owned()
    });
    let pretty = serde_json::to_string_pretty(&original).unwrap();
    let want = json_text(&pretty);
    let mut typed = original;
    report(&mut typed);
    let got = serde_json::to_string_pretty(&typed).unwrap();
    assert_eq!(got, want);
    for secret in [
        "C0DE-typed",
        "Sess-typed",
        "Ck-typed",
        "pw-typed",
        "known-typed",
        "hunter2",
    ] {
        assert!(!got.contains(secret), "{secret}");
    }
}

#[test]
fn only_distinctive_values_are_hunted() {
    for common in ["1", "dark", "alice", "enabled", "accepted", "[redacted]x1"] {
        assert!(!worth_hunting(common), "{common}");
    }
    for secret in ["s3cr3t-v4lue", "SECRET-COOKIE-4", "averyveryverylongword"] {
        assert!(worth_hunting(secret), "{secret}");
    }
}

#[test]
fn secret_parts_of_headers_and_urls() {
    assert_eq!(
        header_secrets("Authorization", "Basic dXNlcjpodW50ZXIyMjI="),
        ["dXNlcjpodW50ZXIyMjI=", "hunter222", "user:hunter222"]
    );
    assert_eq!(
        header_secrets("cookie", "a=SECRET-1; b=SECRET-2"),
        ["SECRET-1", "SECRET-2"]
    );
    assert_eq!(header_secrets("X-Api-Key", " k3y "), ["k3y"]);
    assert!(header_secrets("Accept", "text/html").is_empty());
    assert_eq!(
        url_secrets("http://user:p%40ss-w0rd@proxy:3128/?token=T0KEN-x&a=b"),
        ["p%40ss-w0rd", "p@ss-w0rd", "T0KEN-x"]
    );
}

/// The same secrets told again and again, with no redaction in between
/// (`reach serve`'s probes): the known set stays the size of the distinct
/// secrets.
#[test]
fn secrets_told_again_do_not_pile_up() {
    let mut known = Known::new();
    for _ in 0..10_000 {
        for secret in ["s3cr3t-one-value", "s3cr3t-two-value"] {
            known.add(secret.as_bytes());
        }
    }
    assert!(
        known.secrets.len() < 2 * 2 + 1024 + 2,
        "{}",
        known.secrets.len()
    );
    known.build();
    assert_eq!(known.secrets.len(), 2);
}
