//! `--format html`: one self-contained page. Secrets are redacted as in
//! every format (the commands and secrets of `redaction.rs`), and markup
//! from the network or the command line stays text: a server's header, an
//! SSO hop's page title, the target as typed.

use crate::redaction::{SECRETS, commands, forms};
use crate::{command, lab, reach};

/// The page's tags and attributes as html5gum reads them: (tag, attributes).
fn tags(page: &str) -> Vec<(String, Vec<(String, String)>)> {
    crate::support::tags(page)
        .into_iter()
        .filter_map(|tag| match tag {
            crate::support::Tag::Start { name, attrs, .. } => {
                Some((name, attrs.into_iter().collect()))
            }
            crate::support::Tag::End(_) => None,
        })
        .collect()
}

/// The page's Content-Security-Policy, as it must appear: once, in the
/// head.
const CSP_META: &str = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
     style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">";

/// Every tag the page writes (HTML, then the SVG of its pictures), as
/// html5gum names them.
const TAGS: &[&str] = &[
    "html", "head", "meta", "title", "style", "body", "header", "footer", "section", "article",
    "h1", "h2", "h3", "h4", "p", "span", "div", "b", "a", "code", "pre", "dl", "dt", "dd", "ul",
    "li", "table", "tr", "th", "td", "details", "summary", // SVG:
    "svg", "g", "defs", "pattern", "rect", "line", "path", "circle", "text",
];

/// Every attribute the page writes, lower-cased as html5gum reads them;
/// `href` and `http-equiv` are checked for their values too.
const ATTRIBUTES: &[&str] = &[
    "lang",
    "charset",
    "name",
    "content",
    "http-equiv",
    "class",
    "id",
    "href",
    "title",
    "role",
    "aria-label",
    "aria-hidden",
    "rowspan",
    "colspan", // SVG:
    "viewbox",
    "width",
    "height",
    "x",
    "y",
    "x1",
    "y1",
    "x2",
    "y2",
    "cx",
    "cy",
    "r",
    "d",
    "text-anchor",
    "fill",
    "stroke",
    "stroke-width",
    "patternunits",
];

/// A page that can run nothing and fetch nothing: only the page's own
/// small set of tags and attributes (anything else fails, a tag the page
/// never writes as much as a script), links within the page only, and its
/// exact Content-Security-Policy once.
#[track_caller]
fn assert_inert(page: &str, what: &str) {
    assert_eq!(
        page.matches(CSP_META).count(),
        1,
        "the policy is not once in the page of {what}:\n{page}"
    );
    for (tag, attrs) in tags(page) {
        assert!(
            TAGS.contains(&tag.as_str()),
            "<{tag}> in the page of {what}"
        );
        for (name, value) in attrs {
            assert!(
                ATTRIBUTES.contains(&name.as_str()),
                "<{tag} {name}=\"{value}\"> in the page of {what}"
            );
            match name.as_str() {
                "href" => assert!(
                    value.starts_with('#'),
                    "<{tag} href=\"{value}\"> in the page of {what}"
                ),
                "http-equiv" => assert_eq!(
                    value, "Content-Security-Policy",
                    "<{tag} http-equiv> in the page of {what}"
                ),
                _ => {}
            }
        }
    }
}

/// `text` as the page must write it: every character of markup escaped.
fn escaped(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[test]
fn html_pages_hold_no_secret() {
    for args in commands() {
        let out = command()
            .env("SECRET", "lab-secret")
            .env("REFRESH", "good-refresh")
            .args(&args)
            .args(["--format", "html", "-v", "--timeout", "5s"])
            .output()
            .unwrap();
        let page = String::from_utf8_lossy(&out.stdout);
        let all = format!("{page}{}", String::from_utf8_lossy(&out.stderr));
        let input_error = args[0] == "run" || args.iter().any(|a| a.contains("SECRET-NOEQ"));
        assert!(
            out.status
                .code()
                .is_some_and(|c| c <= 1 || (input_error && c == 2)),
            "{args:?}: {all}"
        );
        assert!(
            page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"),
            "{args:?}: {all}"
        );
        // The echoing server answered: its headers are on the page, redacted.
        if args[0] == "check" && args.iter().any(|a| a.ends_with("/reflect")) {
            assert!(page.contains(">x-echo-base64<"), "{args:?}: {page}");
        }
        assert_inert(&page, &format!("{args:?}"));
        for secret in SECRETS {
            for form in forms(secret) {
                assert!(
                    !all.contains(&form),
                    "{secret} leaked as {form} by {args:?} --format html:\n{all}"
                );
            }
        }
    }
}

/// The hunt above looks where secrets go: without redaction the page
/// shows them (the URL's token, the echoed cookie).
#[test]
fn html_pages_show_secrets_with_no_redact() {
    let commands = commands();
    let reflect = commands
        .iter()
        .find(|c| c[0] == "check" && c.iter().any(|a| a.ends_with("/reflect")))
        .unwrap();
    for (args, secret) in [(&commands[0], "SECRET-AT-1"), (reflect, "SECRET/COOKIE+11")] {
        let out = command()
            .args(args)
            .args(["--format", "html", "--no-redact"])
            .output()
            .unwrap();
        let page = String::from_utf8_lossy(&out.stdout);
        assert!(page.contains(secret), "{secret} not in {page}");
    }
}

const MARKUP: &str = "<script>alert(1)</script><img src=x onerror=alert(2)>\"q\" 'a'";

#[test]
fn markup_from_a_server_header_stays_text() {
    let lab = lab();
    // The lab echoes the request header X-Evil in its answer's x-echo.
    let target = format!(
        "http://good.lab.test:{}/echo-header/x-evil?<b>typed</b>",
        lab.http.port()
    );
    let out = reach()
        .args([
            "-H",
            &format!("X-Evil: {MARKUP}"),
            &target,
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{page}");
    assert_inert(&page, "a check of /echo-header");
    assert!(page.contains(&format!(">{}<", escaped(MARKUP))), "{page}");
    assert!(!page.contains("<b>typed"), "{page}");
    assert!(page.contains("&lt;b&gt;typed&lt;/b&gt;"), "{page}");
}

#[test]
fn markup_in_an_sso_page_title_stays_text() {
    let lab = lab();
    let idp = lab.idp.port();
    let out = command()
        .args([
            "sso",
            "--resolve",
            &format!("app.sp.test:{idp}:127.0.0.1"),
            &format!("http://app.sp.test:{idp}/hostile-title"),
            "--format",
            "html",
        ])
        .output()
        .unwrap();
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.code().is_some_and(|c| c <= 1), "{page}");
    assert_inert(&page, "an sso chain to /hostile-title");
    // The page's title as the browser reads it, written as text in the
    // hop's box (and in the chain's end).
    let title = escaped(reach_lab::HOSTILE_TITLE);
    assert!(page.contains(&format!("“{title}”")), "{page}");
    assert!(
        page.contains("&lt;/title&gt;&lt;script&gt;alert(1)"),
        "{page}"
    );
}

/// The check above refuses what the page never writes, not only a list of
/// known-bad tags: an unknown tag, an attribute, a link off the page, a
/// second or a changed policy.
#[test]
fn assert_inert_refuses_anything_the_page_does_not_write() {
    let page = |body: &str| {
        format!("<!DOCTYPE html><html><head>{CSP_META}</head><body>{body}</body></html>")
    };
    assert_inert(
        &page("<p class=\"x\"><a href=\"#c1\">1</a></p>"),
        "a clean page",
    );
    for body in [
        "<u>x</u>",
        "<svg><foreignObject></foreignObject></svg>",
        "<svg><use href=\"#x\"/></svg>",
        "<a href=\"https://example.test/\">x</a>",
        "<div style=\"background:url(x)\">x</div>",
        "<p onclick=\"x()\">x</p>",
        "<meta http-equiv=\"refresh\" content=\"0\">",
        CSP_META,
    ] {
        let page = page(body);
        let refused = std::panic::catch_unwind(|| assert_inert(&page, body)).is_err();
        assert!(refused, "{body} passed");
    }
    let weaker = page("").replace("; form-action 'none'", "");
    assert!(std::panic::catch_unwind(|| assert_inert(&weaker, "a weaker policy")).is_err());
}
