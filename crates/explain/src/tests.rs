//! The catalogue against itself, mangled the ways pasted errors are, and
//! against texts it must not match.

use std::collections::BTreeSet;

use crate::catalogue::{self, Entry, FILES, LoadError};
use crate::text::normalize;
use crate::{MAX_MATCHES, matches};

/// A text's own entry must score the best. A mangled text (cut to its
/// middle) may have lost the words that told two causes apart ("response
/// 403" from "response 407"): its entry must score within this of the best.
const NEAR_TIE: f64 = 0.05;

/// The ids whose score is within `tolerance` of the best of `text`'s
/// matches: a text two causes share (`HubSpot` shows one message for
/// several) finds them all.
fn top_ids(text: &str, tolerance: f64) -> Vec<String> {
    let found = matches(text);
    let Some(best) = found.first().map(|m| m.score) else {
        return Vec::new();
    };
    found
        .into_iter()
        .filter(|m| best - m.score <= tolerance)
        .map(|m| m.id)
        .collect()
}

fn assert_finds(entry: &Entry, original: &str, pasted: &str, how: &str) {
    let tolerance = if original == pasted { 1e-9 } else { NEAR_TIE };
    let top = top_ids(pasted, tolerance);
    assert!(
        top.contains(&entry.id),
        "{}.toml `{}`: {how} of {original:?}\n  pasted {pasted:?}\n  top {top:?}\n  all {:?}",
        entry.file,
        entry.id,
        matches(pasted)
            .iter()
            .map(|m| (m.id.clone(), m.score))
            .collect::<Vec<_>>()
    );
}

/// The middle 60 % of `text`, cut at character boundaries.
fn middle(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let cut = chars.len() / 5;
    chars[cut..chars.len() - cut].iter().collect()
}

/// ASCII as full-width forms, the space as the ideographic space.
fn full_width(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ' ' => '\u{3000}',
            '!'..='~' => char::from_u32(u32::from(c) + 0xfee0).unwrap_or(c),
            _ => c,
        })
        .collect()
}

/// Straight quotes as typographic ones and the other way round.
fn swap_quotes(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\'' => '\u{2019}',
            '\u{2019}' | '\u{2018}' => '\'',
            '"' => '\u{201c}',
            '\u{201c}' | '\u{201d}' | '「' | '」' => '"',
            _ => c,
        })
        .collect()
}

/// A log line around the text, with a URL in its middle.
fn in_a_log_line(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let half = chars.len() / 2;
    let at = (half..chars.len())
        .find(|i| chars[*i] == ' ')
        .unwrap_or(chars.len());
    let (head, tail): (String, String) =
        (chars[..at].iter().collect(), chars[at..].iter().collect());
    format!(
        "2026-12-01 10:00:00 [ERROR] {head} https://status.example.com/incidents/8f3a2b1c9d{tail}"
    )
}

#[test]
fn every_file_loads() {
    let entries = catalogue::load().unwrap_or_else(|e| panic!("{e}"));
    for (file, _) in FILES {
        assert!(
            entries.iter().any(|e| e.file == *file),
            "{file}.toml has no entries"
        );
    }
    assert!(entries.iter().any(|e| e.file == "reach"));
}

#[test]
fn every_file_in_the_folder_is_listed_and_loads() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/catalogue");
    let listed: BTreeSet<&str> = FILES.iter().map(|(name, _)| *name).collect();
    let mut seen = 0;
    for item in std::fs::read_dir(folder).expect("the catalogue folder") {
        let path = item.expect("a folder entry").path();
        if path.extension().and_then(|e| e.to_str()) != Some("toml") {
            continue;
        }
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .expect("a UTF-8 name")
            .to_owned();
        assert!(
            listed.contains(name.as_str()),
            "{name}.toml is not in FILES"
        );
        let data = std::fs::read_to_string(&path).expect("a readable file");
        let name: &'static str = Box::leak(name.into_boxed_str());
        catalogue::load_file(name, &data).unwrap_or_else(|e| panic!("{e}"));
        seen += 1;
    }
    assert_eq!(
        seen,
        FILES.len(),
        "a file in FILES is missing from the folder"
    );
}

/// A file's text and whether the error is the one it must give.
type LoadCase = (&'static str, fn(&LoadError) -> bool);

#[test]
fn the_loader_refuses_incomplete_entries() {
    let cases: &[LoadCase] = &[
        (
            "[[entry]]\nid = \"dns.nxdomain\"\nsource = \"s\"\ntexts = [{ lang = \"en\", text = \"a\" }]\n[[entry]]\nid = \"dns.nxdomain\"\nsource = \"s\"\ncodes = [\"curl:6\"]\n",
            |e| matches!(e, LoadError::DuplicateId { .. }),
        ),
        (
            "[[entry]]\nid = \"dns.nxdomian\"\nsource = \"s\"\ncodes = [\"curl:6\"]\n",
            |e| matches!(e, LoadError::UnknownCode { .. }),
        ),
        (
            "[[entry]]\nid = \"tls.cert.expird\"\nsource = \"s\"\ntitle = \"t\"\ncause = \"c\"\nremedy = \"r\"\ncodes = [\"x\"]\n",
            |e| matches!(e, LoadError::UnknownCode { .. }),
        ),
        (
            "[[entry]]\nid = \"acme.api.broken\"\nsource = \"s\"\ntitle = \"t\"\nremedy = \"r\"\ncodes = [\"x\"]\n",
            |e| matches!(e, LoadError::MissingField { field: "cause", .. }),
        ),
        ("[[entry]]\nid = \"dns.nxdomain\"\nsource = \"s\"\n", |e| {
            matches!(e, LoadError::NothingToMatch { .. })
        }),
        (
            "[[entry]]\nid = \"dns.nxdomain\"\nsource = \" \"\ncodes = [\"curl:6\"]\n",
            |e| matches!(e, LoadError::NoSource { .. }),
        ),
        (
            "[[entry]]\nid = \"dns.nxdomain\"\ncodes = [\"curl:6\"]\n",
            |e| matches!(e, LoadError::Parse { .. }),
        ),
        (
            "[[entry]]\nid = \"dns.nxdomain\"\nsource = \"s\"\ncode = [\"curl:6\"]\n",
            |e| matches!(e, LoadError::Parse { .. }),
        ),
    ];
    for (data, expected) in cases {
        match catalogue::load_file("test", data) {
            Err(e) => assert!(expected(&e), "{data}: {e}"),
            Ok(_) => panic!("{data}: loaded"),
        }
    }
}

#[test]
fn every_text_finds_its_entry() {
    for entry in catalogue::load().expect("the catalogue") {
        for text in &entry.texts {
            assert_finds(&entry, text, text, "the text itself");
        }
    }
}

#[test]
fn every_text_finds_its_entry_when_pasted_differently() {
    for entry in catalogue::load().expect("the catalogue") {
        for text in &entry.texts {
            assert_finds(&entry, text, &swap_quotes(text), "quotes swapped");
            assert_finds(&entry, text, &full_width(text), "full width");
            assert_finds(&entry, text, &in_a_log_line(text), "in a log line");
            // Cut the message, not the host names and ids around it that
            // matching ignores; a short message cut further is no longer it.
            let message = normalize(text);
            let cjk = message
                .chars()
                .any(|c| ('\u{3040}'..='\u{9fff}').contains(&c));
            if message.chars().count() >= if cjk { 12 } else { 30 } {
                let cut = middle(&message);
                assert_finds(&entry, text, &cut, "its middle");
                assert_finds(
                    &entry,
                    text,
                    &in_a_log_line(&swap_quotes(&cut)),
                    "its middle, re-quoted in a log line",
                );
            }
        }
    }
}

#[test]
fn a_code_matches_with_score_one() {
    for (text, id) in [
        (
            "request failed: AADSTS50011 (see portal)",
            "oauth.redirect_uri_mismatch",
        ),
        ("curl: (6) whatever the text", "dns.nxdomain"),
        ("verify error:num=20", "tls.incomplete_chain"),
        ("{\"errorCode\":\"E0000011\"}", "okta.api.invalid_token"),
        ("code: 'ENOTFOUND'", "dns.nxdomain"),
        ("code: 'SELF_SIGNED_CERT_IN_CHAIN'", "tls.untrusted_issuer"),
        (
            "{\"status\":\"BAD_CLIENT_ID\"}",
            "oauth.token.invalid_client",
        ),
        ("category MISSING_SCOPES", "hubspot.api.missing_scopes"),
        ("urllib3.exceptions.NameResolutionError", "dns.nxdomain"),
        ("reach said tls.weak_certificate", "tls.weak_certificate"),
    ] {
        let found = matches(text);
        let first = found.first().unwrap_or_else(|| panic!("{text}: nothing"));
        assert_eq!((first.id.as_str(), first.score), (id, 1.0), "{text}");
    }
}

#[test]
fn a_code_shared_by_causes_ranks_them_by_text() {
    let found = matches(
        "curl: (60) SSL certificate problem: certificate has expired\nMore details here: https://curl.se/docs/sslcerts.html",
    );
    assert_eq!(
        found.first().map(|m| m.id.as_str()),
        Some("tls.cert_expired")
    );
    assert!(found.iter().all(|m| (m.score - 1.0).abs() < f64::EPSILON));
    assert!(found.len() <= MAX_MATCHES);
}

#[test]
fn a_long_log_with_the_error_in_it_matches() {
    let log = "\
2026-12-01T10:00:00Z INFO  starting sync job 4412 for tenant contoso
2026-12-01T10:00:01Z DEBUG loading configuration from /etc/connector/config.yaml
2026-12-01T10:00:02Z ERROR javax.net.ssl.SSLHandshakeException: PKIX path building failed: sun.security.provider.certpath.SunCertPathBuilderException: unable to find valid certification path to requested target
\tat java.base/sun.security.ssl.Alert.createSSLException(Alert.java:131)
\tat java.base/sun.security.ssl.TransportContext.fatal(TransportContext.java:378)
2026-12-01T10:00:02Z INFO  retrying in 30 seconds";
    assert_eq!(
        top_ids(log, 1e-9).first().map(String::as_str),
        Some("tls.untrusted_issuer")
    );
}

#[test]
fn japanese_without_spaces_matches() {
    let found = matches(
        "エラー：対象のコンピューターによって拒否されたため、接続できませんでした。127.0.0.1:443",
    );
    assert_eq!(found.first().map(|m| m.id.as_str()), Some("tcp.refused"));
    let found = matches("そのようなホストは不明です");
    assert_eq!(found.first().map(|m| m.id.as_str()), Some("dns.nxdomain"));
}

#[test]
fn unrelated_texts_match_nothing() {
    let texts = [
        "thread 'main' panicked at src/main.rs:14:5:\ncalled `Option::unwrap()` on a `None` value\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace\nstack backtrace:\n   0: rust_begin_unwind\n   1: core::panicking::panic_fmt\n   2: core::panicking::panic\n   3: core::option::unwrap_failed\n   4: demo::main\n             at ./src/main.rs:14:5",
        "Exception in thread \"main\" java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"<local1>\" is null\n\tat com.example.App.run(App.java:42)\n\tat com.example.App.main(App.java:12)",
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat.",
        "user@build-01:~/src/reach$ cargo build --release && ls -la target/release",
        "今日の東京は晴れのち曇りで、最高気温は十八度の予報です。夕方から北風が強まるでしょう。",
        "The quarterly report is attached; please review the figures before Friday's meeting.",
        "",
        "   \n\t ",
    ];
    for text in texts {
        let found = matches(text);
        assert!(
            found.is_empty(),
            "{text:?} matched {:?}",
            found.iter().map(|m| (&m.id, m.score)).collect::<Vec<_>>()
        );
    }
}

#[test]
fn matches_are_best_first_and_at_most_five() {
    for text in [
        "SSL certificate problem certificate has expired unable to get local issuer certificate self-signed certificate in certificate chain hostname mismatch connection refused",
        "curl: (60) SSL certificate problem",
    ] {
        let found = matches(text);
        assert!(
            !found.is_empty() && found.len() <= MAX_MATCHES,
            "{text}: {}",
            found.len()
        );
        assert!(found.windows(2).all(|w| w[0].score >= w[1].score), "{text}");
        let ids: BTreeSet<&str> = found.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids.len(), found.len(), "{text}: an id twice");
    }
}

#[test]
fn a_match_carries_its_texts() {
    let found = matches(
        "AADSTS700016: Application with identifier 'abc' was not found in the directory 'x'.",
    );
    let m = found.first().expect("a match");
    assert_eq!(m.id, "entra.app.not_found");
    assert!(!m.title.is_empty() && !m.cause.is_empty() && !m.remedy.is_empty());
    assert!(m.source.contains("Microsoft"));
    let found = matches("The name does not exist (NXDOMAIN)");
    let m = found.first().expect("a match");
    assert_eq!(m.id, "dns.nxdomain");
    assert_eq!(m.remedy, reach_report::Code::DnsNxdomain.info().remedy);
}

#[test]
fn the_vendor_topics_the_network_cannot_show_are_listed() {
    let ids: Vec<&str> = crate::topics().iter().map(|t| t.id.as_str()).collect();
    for id in [
        "hubspot.connect.permission_denied",
        "hubspot.connect.account_lacks_feature",
        "uipath.connection.delete_with_triggers",
        "uipath.connection.folder_permission",
    ] {
        assert!(ids.contains(&id), "{id} in {ids:?}");
        assert!(crate::topic(id).is_some(), "{id}");
    }
    assert!(!ids.contains(&"tls.cert_expired"));
}
