//! What a browser would do with a page: follow a `<meta http-equiv=refresh>`,
//! submit a form that submits itself (SAML HTTP-POST binding, OIDC
//! `response_mode=form_post`), or stop at a page that needs a person (a
//! password field).
//!
//! Read with html5gum, a WHATWG-compliant tokenizer (script and textarea
//! contents are raw text, entities decoded, broken markup recovered as a
//! browser does), never with regular expressions. The caller caps the
//! bytes; a page is read once, in linear time, whatever its content.

use html5gum::{DefaultEmitter, StartTag, Token, Tokenizer};

/// What a page holds that matters for a login chain.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub title: Option<String>,
    /// The target of a `<meta http-equiv="refresh" content="N; url=…">`.
    pub refresh: Option<String>,
    pub forms: Vec<Form>,
    /// A password field anywhere: a sign-in page.
    pub has_password: bool,
    /// A script or `onload` calls `.submit()`.
    pub submits_itself: bool,
}

/// A `<form>` and its fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    /// The `action` attribute (relative to the page), if any.
    pub action: Option<String>,
    /// `GET` or `POST` (upper case).
    pub method: String,
    /// `(name, value)` of the fields a submission sends: inputs (not
    /// buttons, not unchecked boxes), textareas, selected options are
    /// not modelled.
    pub fields: Vec<(String, String)>,
    /// Fields a person fills in: text, email, password.
    pub visible_inputs: usize,
}

impl Page {
    /// The form a browser would submit without anyone touching the page:
    /// the first form, when the page submits itself (script or `onload`)
    /// or the form carries a protocol message (`SAMLResponse`,
    /// `SAMLRequest`, `id_token`, `code`) and nothing to fill in.
    pub fn auto_submit_form(&self) -> Option<&Form> {
        let form = self.forms.first()?;
        let carries_message = form.fields.iter().any(|(name, _)| {
            matches!(
                name.as_str(),
                "SAMLResponse" | "SAMLRequest" | "id_token" | "code" | "wresult"
            )
        });
        ((self.submits_itself || carries_message) && form.visible_inputs == 0 && !self.has_password)
            .then_some(form)
    }
}

/// Reads `html`. Never fails: broken markup is read as a browser would.
pub fn parse(html: &str) -> Page {
    let mut emitter = DefaultEmitter::default();
    emitter.naively_switch_states(true);
    let mut reader = Reader::default();
    for token in Tokenizer::new_with_emitter(html, emitter) {
        let Ok(token) = token;
        match token {
            Token::StartTag(tag) => reader.start_tag(&tag),
            Token::EndTag(tag) => reader.end_tag(&tag.name),
            Token::String(text) => reader.text(&String::from_utf8_lossy(&text.value)),
            _ => {}
        }
        if !reader.in_title && !reader.title.is_empty() && reader.page.title.is_none() {
            reader.page.title = Some(collapse(&reader.title));
        }
    }
    reader.finish()
}

/// The page read so far, and where in it the tokenizer is.
#[derive(Default)]
struct Reader {
    page: Page,
    in_title: bool,
    in_script: bool,
    title: String,
    /// The form being read.
    form: Option<Form>,
    /// The name and text so far of the textarea being read.
    textarea: Option<(String, String)>,
}

/// An attribute's value.
fn attr(tag: &StartTag<()>, key: &str) -> Option<String> {
    tag.attributes
        .get(key.as_bytes())
        .map(|v| String::from_utf8_lossy(&v.value).into_owned())
}

impl Reader {
    fn start_tag(&mut self, tag: &StartTag<()>) {
        let name = String::from_utf8_lossy(&tag.name).to_ascii_lowercase();
        if attr(tag, "onload")
            .or_else(|| attr(tag, "onclick").filter(|_| name == "body"))
            .is_some_and(|js| js.contains(".submit()"))
        {
            self.page.submits_itself = true;
        }
        match name.as_str() {
            "title" if self.page.title.is_none() => self.in_title = true,
            "script" => self.in_script = true,
            "meta" => {
                let refresh = attr(tag, "http-equiv")
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("refresh"));
                if refresh
                    && self.page.refresh.is_none()
                    && let Some(url) = attr(tag, "content").as_deref().and_then(refresh_url)
                {
                    self.page.refresh = Some(url);
                }
            }
            "form" => {
                self.close_form();
                self.form = Some(Form {
                    action: attr(tag, "action"),
                    method: attr(tag, "method")
                        .map(|m| m.trim().to_ascii_uppercase())
                        .filter(|m| m == "POST")
                        .unwrap_or_else(|| "GET".to_owned()),
                    ..Form::default()
                });
            }
            "input" => self.input(tag),
            "textarea" => {
                if let Some(field) = attr(tag, "name").filter(|n| !n.is_empty()) {
                    self.textarea = Some((field, String::new()));
                }
            }
            _ => {}
        }
    }

    /// An `<input>`: a password field marks a sign-in page; in a form, a
    /// field a submission sends, or one a person fills in.
    fn input(&mut self, tag: &StartTag<()>) {
        let kind = attr(tag, "type")
            .unwrap_or_else(|| "text".to_owned())
            .to_ascii_lowercase();
        if kind == "password" {
            self.page.has_password = true;
        }
        let Some(form) = self.form.as_mut() else {
            return;
        };
        if matches!(kind.as_str(), "text" | "email" | "password" | "tel") {
            form.visible_inputs += 1;
        }
        let sent = match kind.as_str() {
            "submit" | "button" | "image" | "reset" | "file" => false,
            "checkbox" | "radio" => attr(tag, "checked").is_some(),
            _ => true,
        };
        if sent && let Some(field) = attr(tag, "name").filter(|n| !n.is_empty()) {
            form.fields
                .push((field, attr(tag, "value").unwrap_or_default()));
        }
    }

    fn end_tag(&mut self, name: &[u8]) {
        match name {
            b"title" => self.in_title = false,
            b"script" => self.in_script = false,
            b"form" => self.close_form(),
            b"textarea" => {
                if let (Some(field), Some(form)) = (self.textarea.take(), self.form.as_mut()) {
                    form.fields.push(field);
                }
            }
            _ => {}
        }
    }

    fn text(&mut self, text: &str) {
        if self.in_title {
            self.title.push_str(text);
        }
        if self.in_script && text.contains(".submit()") {
            self.page.submits_itself = true;
        }
        if let Some((_, value)) = self.textarea.as_mut() {
            value.push_str(text);
        }
    }

    fn close_form(&mut self) {
        if let Some(done) = self.form.take() {
            self.page.forms.push(done);
        }
    }

    fn finish(mut self) -> Page {
        if self.page.title.is_none() && !self.title.is_empty() {
            self.page.title = Some(collapse(&self.title));
        }
        self.close_form();
        self.page
    }
}

/// `0; url=/next` → `/next` (quotes and spaces allowed; `URL` in any case).
fn refresh_url(content: &str) -> Option<String> {
    let (_, rest) = content.split_once([';', ','])?;
    let rest = rest.trim_start();
    let lower = rest.to_ascii_lowercase();
    let rest = if lower.starts_with("url") {
        rest[3..].trim_start().strip_prefix('=')?.trim()
    } else {
        rest.trim()
    };
    let url = rest.trim_matches(['\'', '"']).trim();
    (!url.is_empty()).then(|| url.to_owned())
}

/// Whitespace runs as one space, trimmed, at most 200 characters.
fn collapse(text: &str) -> String {
    let words: Vec<&str> = text.split_whitespace().collect();
    words.join(" ").chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saml_post_binding() {
        let page = parse(
            r#"<!DOCTYPE html><html><head><title>Working...</title></head>
            <body onload="document.forms[0].submit()">
            <form method="POST" action="https://app.example.com/saml/acs">
              <input type="hidden" name="SAMLResponse" value="PHNhbWw+"/>
              <input type="hidden" name="RelayState" value="rs&amp;1"/>
              <noscript><input type="submit" value="Continue"></noscript>
            </form></body></html>"#,
        );
        assert_eq!(page.title.as_deref(), Some("Working..."));
        let form = page.auto_submit_form().expect("auto-submit");
        assert_eq!(form.method, "POST");
        assert_eq!(
            form.action.as_deref(),
            Some("https://app.example.com/saml/acs")
        );
        assert_eq!(
            form.fields,
            [
                ("SAMLResponse".to_owned(), "PHNhbWw+".to_owned()),
                ("RelayState".to_owned(), "rs&1".to_owned())
            ]
        );
    }

    #[test]
    fn login_pages_are_not_submitted() {
        let page = parse(
            "<title>Sign in</title><form method=post action=/login>
               <input name=username><input type=password name=password>
               <input type=hidden name=ctx value=c1></form>
               <script>if (x) { document.forms[0].submit() }</script>",
        );
        assert!(page.has_password);
        assert!(page.auto_submit_form().is_none());
        assert_eq!(page.forms[0].visible_inputs, 2);
    }

    #[test]
    fn meta_refresh_forms() {
        for (content, want) in [
            ("0; url=/next", Some("/next")),
            ("0;URL='https://x.test/a?b=c'", Some("https://x.test/a?b=c")),
            ("5, url = /later ", Some("/later")),
            ("0", None),
            ("0; url=", None),
        ] {
            let page = parse(&format!(
                "<meta http-equiv=\"Refresh\" content=\"{content}\">"
            ));
            assert_eq!(page.refresh.as_deref(), want, "{content}");
        }
    }

    #[test]
    fn scripts_are_raw_text() {
        // A form in a script string is not a form; a `</title>` in a
        // comment does not end anything.
        let page = parse(
            "<script>var s = '<form action=/x><input name=code>';</script><!-- </title> --><p>hi",
        );
        assert!(page.forms.is_empty());
        assert!(page.title.is_none());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,400}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_tag_soup(parts in proptest::collection::vec(proptest::sample::select(vec![
            "<form", "<input", " name=", "SAMLResponse", " value=\"", "\"", ">", "</form>",
            "<meta http-equiv=refresh content='0;url=", "<title>", "</title>", "<script>",
            "</script>", "<textarea name=t>", "</textarea>", "&amp;", "&#x", "<!--", "-->", "<",
        ]), 0..40)) {
            let _ = parse(&parts.concat());
        }
    }
}
