//! The fuzz targets of reach, one plain function each, taking arbitrary bytes. None may panic,
//! hang or allocate without bound.
//!
//! `fuzz/` (cargo-fuzz, its own workspace, nightly; `cargo xtask fuzz`) wraps each in a
//! libFuzzer binary of the same name, and this crate's tests replay `fuzz/seeds/` (and any
//! `fuzz/corpus/` a fuzzing run left) through [`TARGETS`] on stable Rust. The targets call the
//! library crates directly, as ripgrep's fuzz targets do. Two go through `reach_cli::readers`:
//! [`preflight_toml`], because reading a preflight file (each entry parsed by the command's own
//! clap definitions) is the CLI's job, and [`allowlist_pieces`], which runs reach-allowlist's
//! chunked reader alone and also behind the CLI's bounded file reader.
//!
//! ```no_run
//! for target in reach_fuzz_targets::TARGETS {
//!     (target.run)(b"10.0.0.0/8\n");
//! }
//! ```

use reach_allowlist::read::{AllowlistText, FormatChoice, ListReader};
use reach_allowlist::{AllowlistFormat, Direction, FeedFilter};

/// A fuzz target: its name (that of its `fuzz/fuzz_targets/NAME.rs` binary and of its seed and
/// corpus folders) and its function.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

/// Every target, by name.
pub const TARGETS: &[Target] = &[
    Target {
        name: "plain_list",
        run: plain_list,
    },
    Target {
        name: "feed_json",
        run: feed_json,
    },
    Target {
        name: "iptables",
        run: iptables,
    },
    Target {
        name: "nft_json",
        run: nft_json,
    },
    Target {
        name: "aws_sg",
        run: aws_sg,
    },
    Target {
        name: "cookies_txt",
        run: cookies_txt,
    },
    Target {
        name: "set_cookie",
        run: set_cookie,
    },
    Target {
        name: "html_hop",
        run: html_hop,
    },
    Target {
        name: "install_url",
        run: install_url,
    },
    Target {
        name: "app_config",
        run: app_config,
    },
    Target {
        name: "preflight_toml",
        run: preflight_toml,
    },
    Target {
        name: "legacy_server_hello",
        run: legacy_server_hello,
    },
    Target {
        name: "token_response",
        run: token_response,
    },
    Target {
        name: "identity_tokens",
        run: identity_tokens,
    },
    Target {
        name: "allowlist_pieces",
        run: allowlist_pieces,
    },
];

/// A plain CIDR list, whole (as an allowlist and as a feed) and through the piece-wise reader
/// in two pieces split anywhere (the first byte chooses where).
pub fn plain_list(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = reach_allowlist::text::parse_cidr_allowlist("f", &text);
    let _ = reach_allowlist::text::parse_cidr_feed("f", &text, false);
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

/// A published feed: format detection and the lenient JSON feed parser.
pub fn feed_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = reach_allowlist::feeds::detect(&text);
    let _ =
        reach_allowlist::feeds::parse_feed_json_partial("f", &text, None, &FeedFilter::default());
}

/// An `iptables-save` rule set.
pub fn iptables(data: &[u8]) {
    firewall(data, AllowlistFormat::Iptables);
}

/// An `nft -j list ruleset` document.
pub fn nft_json(data: &[u8]) {
    firewall(data, AllowlistFormat::NftJson);
}

/// An AWS security group (`describe-security-groups` JSON).
pub fn aws_sg(data: &[u8]) {
    firewall(data, AllowlistFormat::AwsSg);
}

/// A firewall rule set of `format`: detection, then the rules both ways for port 443.
fn firewall(data: &[u8], format: AllowlistFormat) {
    let text = String::from_utf8_lossy(data);
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

/// A `cookies.txt` file seeded into a jar, and its first lines as `--cookie` values.
pub fn cookies_txt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (cookies, _) = reach_sso::cookies::parse_cookies_txt("f", &text);
    let mut jar = reach_sso::jar::Jar::new();
    for c in &cookies {
        let _ = jar.seed(c);
    }
    for line in text.lines().take(16) {
        let _ = reach_sso::cookies::parse_cookie_arg(line);
    }
}

/// `Set-Cookie` values stored in a jar, then the cookies it would send, same-site and not.
pub fn set_cookie(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut jar = reach_sso::jar::Jar::new();
    let Ok(url) = url::Url::parse("https://app.example.com/a/b") else {
        return;
    };
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

/// An HTML page of an SSO hop: meta refresh and self-submitting forms.
pub fn html_hop(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let page = reach_sso::html::parse(&text);
    let _ = page.auto_submit_form();
}

/// An install or authorize URL: the scope lint, its corrected URL, and which identity provider it is.
pub fn install_url(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(url) = url::Url::parse(&text) else {
        return;
    };
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

/// An app's scope configuration file (`--app-config`).
pub fn app_config(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = reach_oauth::scopes::parse_app_file("f", &text);
}

/// A preflight file (`reach run FILE`), read as `reach run` reads it.
pub fn preflight_toml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = reach_cli::readers::preflight(&text);
}

/// A server's answer to the minimal legacy `ClientHello`.
pub fn legacy_server_hello(data: &[u8]) {
    let _ = reach_tls::legacy::parse_answer(data);
}

/// A token endpoint's answer, a JWT's claims and a JWKS document.
pub fn token_response(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // An error answer and a success (whose lifetime and token are read).
    for status in [400, 200] {
        let _ = reach_oauth::token::classify(
            status,
            &[("x-request-id".to_owned(), "r".to_owned())],
            data,
            &reach_oauth::token::Grant::RefreshToken("t".into()),
            &["read".to_owned()],
            reach_oauth::token::ClientAuth::None,
            time::OffsetDateTime::UNIX_EPOCH,
        );
    }
    let _ = reach_oauth::token::jwt_claims(&text);
    let _ = reach_oauth::discover::jwks(data);
}

/// ID tokens, SAML responses and SAML requests.
pub fn identity_tokens(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = reach_sso::tokens::from_id_token(&text, 1);
    let _ = reach_sso::tokens::from_saml_response(&text, 1);
    if let Some(response) = reach_sso::tokens::SamlResponse::decode(&text) {
        let _ = response.status();
    }
    if let Some(xml) = reach_sso::tokens::saml_request_xml(&text) {
        let _ = reach_sso::tokens::forces_authn(&xml);
    }
}

/// An allowlist too big to hold (over 32 MiB), scaled down: the first two bytes choose how
/// many bytes each read gives and when the plain-list reader takes over.
pub fn allowlist_pieces(data: &[u8]) {
    let (chunk, above) = match data {
        [a, b, ..] => (usize::from(*a % 64) + 1, usize::from(*b)),
        _ => (1, 0),
    };
    let rest = data.get(2..).unwrap_or_default();
    for piece in [4, 7, 64] {
        // The library's chunked reader alone, and behind the CLI's bounded
        // file reader (line length, binary files, the first read).
        let _ = list_reader_in_pieces(rest, chunk, piece, above);
        let _ = reach_cli::readers::allowlist_in_pieces(rest, chunk, piece, above);
    }
}

/// An allowlist read through reach-allowlist's [`ListReader`] alone, from
/// `data` given `chunk` bytes at a time, in pieces of at most `piece`
/// bytes (a character cut at the end of a piece waits for the next),
/// going over to the plain-list reader above `stream_above` bytes. Returns
/// the entries read, or the bytes held; 0 for text that is not UTF-8.
fn list_reader_in_pieces(data: &[u8], chunk: usize, piece: usize, stream_above: usize) -> usize {
    let mut reader =
        ListReader::new("f", FormatChoice::Auto, 512 * 1024 * 1024).stream_above(stream_above);
    let step = chunk.max(1).min(piece.max(4));
    let mut carry: Vec<u8> = Vec::new();
    for (i, bytes) in data.chunks(step).enumerate() {
        carry.extend_from_slice(bytes);
        let last = (i + 1) * step >= data.len();
        let valid = match std::str::from_utf8(&carry) {
            Ok(_) => carry.len(),
            Err(e) if e.error_len().is_none() && !last => e.valid_up_to(),
            Err(_) => return 0,
        };
        let text = std::str::from_utf8(&carry[..valid]).unwrap_or_default();
        if reader.push(text).is_err() {
            return 0;
        }
        carry.drain(..valid);
    }
    match reader.finish() {
        AllowlistText::Parsed(parsed) => parsed.value.map_or(0, |(list, _)| list.len()),
        AllowlistText::Text(text) => text.len(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_list_reader_is_fed_in_pieces_and_characters_are_never_cut() {
        let text = "10.0.0.0/8\n192.0.2.0/24\n10.0.0.0/8\n";
        assert_eq!(super::list_reader_in_pieces(text.as_bytes(), 3, 7, 4), 2);
        assert_eq!(super::list_reader_in_pieces(b"a\xff", 1, 4, 0), 0);
    }
}
