//! Entry points for the fuzzer (`fuzz/`, `cargo xtask fuzz`) and for the
//! test that replays its corpora on stable Rust: one function a parser,
//! taking arbitrary bytes. None may panic, hang or allocate without bound.

use reach_allowlist::{AllowlistFormat, Direction, FeedFilter};

/// The targets, by name (the names of `fuzz/fuzz_targets/*.rs` and of the
/// corpus folders).
pub const TARGETS: &[&str] = &[
    "plain_list",
    "feed_json",
    "iptables",
    "nft_json",
    "aws_sg",
    "cookies_txt",
    "set_cookie",
    "html_hop",
    "install_url",
    "app_config",
    "preflight_toml",
    "legacy_server_hello",
    "token_response",
    "identity_tokens",
    "allowlist_pieces",
];

/// Runs target `name` on `data`; `false` for an unknown name.
pub fn run(name: &str, data: &[u8]) -> bool {
    let text = String::from_utf8_lossy(data);
    match name {
        "plain_list" => {
            let _ = reach_allowlist::text::parse_cidr_allowlist("f", &text);
            let _ = reach_allowlist::text::parse_cidr_feed("f", &text, false);
            // The same text in two pieces, split anywhere.
            let cut = data
                .first()
                .map_or(0, |b| usize::from(*b) % (text.len() + 1));
            let cut = (cut..=text.len())
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            let mut reader = reach_allowlist::text::PlainListReader::new("f", true);
            reader.push(&text[..cut]);
            reader.push(&text[cut..]);
            let _ = reader.finish().allowlist();
        }
        "feed_json" => {
            let _ = reach_allowlist::feeds::detect(&text);
            let _ = reach_allowlist::feeds::parse_feed_json_partial(
                "f",
                &text,
                None,
                &FeedFilter::default(),
            );
        }
        "iptables" | "nft_json" | "aws_sg" => {
            let format = match name {
                "iptables" => AllowlistFormat::Iptables,
                "nft_json" => AllowlistFormat::NftJson,
                _ => AllowlistFormat::AwsSg,
            };
            let _ = reach_allowlist::firewall::detect(&text);
            for direction in [Direction::Egress, Direction::Ingress] {
                let _ = reach_allowlist::firewall::parse_allowlist_rules_partial(
                    "f",
                    &text,
                    Some(format),
                    direction,
                    Some(443),
                );
            }
        }
        "cookies_txt" => {
            let (cookies, _) = reach_sso::cookies::parse_cookies_txt("f", &text);
            let mut jar = reach_sso::jar::Jar::new();
            for c in &cookies {
                let _ = jar.seed(c);
            }
            for line in text.lines().take(16) {
                let _ = reach_sso::cookies::parse_cookie_arg(line);
            }
        }
        "set_cookie" => {
            let mut jar = reach_sso::jar::Jar::new();
            if let Ok(url) = url::Url::parse("https://app.example.com/a/b") {
                for line in text.lines().take(64) {
                    let _ = jar.store(line, &url);
                }
                for (same_site, safe_method) in [(true, true), (false, false)] {
                    let context = reach_sso::jar::Context {
                        same_site,
                        safe_method,
                    };
                    let _ = jar.outgoing(&url, context);
                }
            }
        }
        "html_hop" => {
            let page = reach_sso::html::parse(&text);
            let _ = page.auto_submit_form();
        }
        "install_url" => {
            if let Ok(url) = url::Url::parse(&text) {
                let app = reach_oauth::scopes::AppConfig {
                    required: vec!["oauth".into(), "a b".into()],
                    conditional: vec!["c".into()],
                    optional: vec!["d".into()],
                    redirect_urls: vec!["https://x.example/cb".into()],
                };
                let lint = reach_oauth::scopes::lint(&url, &app);
                let _ = url::Url::parse(&lint.corrected_url);
                let _ = reach_sso::idp::recognise(&url, &[], &[]);
                let _ = reach_sso::idp::url_params(&url);
            }
        }
        "app_config" => {
            let _ = reach_oauth::scopes::parse_app_file("f", &text);
        }
        "preflight_toml" => {
            let _ = crate::run::plan_text(&text);
        }
        "legacy_server_hello" => {
            let _ = reach_tls::legacy::parse_answer(data);
        }
        "token_response" => {
            let _ = reach_oauth::token::classify(
                400,
                &[("x-request-id".to_owned(), "r".to_owned())],
                data,
                &reach_oauth::token::Grant::RefreshToken("t".into()),
                &["read".to_owned()],
                time::OffsetDateTime::UNIX_EPOCH,
            );
            let _ = reach_oauth::token::jwt_claims(&text);
            let _ = reach_oauth::discover::jwks(data);
        }
        "identity_tokens" => {
            let _ = reach_sso::tokens::from_id_token(&text, 1);
            let _ = reach_sso::tokens::from_saml_response(&text, 1);
            if let Some(xml) = reach_sso::tokens::saml_request_xml(&text) {
                let _ = reach_sso::tokens::forces_authn(&xml);
            }
        }
        "allowlist_pieces" => {
            // The reader of allowlists too big to hold (over 32 MiB),
            // scaled down, alone and behind the CLI's file reader: the
            // first two bytes choose how many bytes each read gives and
            // when the plain-list reader takes over.
            let (chunk, above) = match data {
                [a, b, ..] => (usize::from(*a % 64) + 1, usize::from(*b)),
                _ => (1, 0),
            };
            let rest = data.get(2..).unwrap_or_default();
            for piece in [4, 7, 64] {
                let _ = reach_allowlist::read::fuzz_read(rest, chunk, piece, above);
                let _ = crate::allowlist::fuzz_read(rest, chunk, piece, above);
            }
        }
        _ => return false,
    }
    true
}
