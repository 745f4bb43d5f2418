//! The redaction reach did before the typed walk, on a report's JSON
//! text: kept as the oracle the typed walk is held to (see the tests).

use super::{named_string, remember_all, with_known};
use crate::strings::Place;

/// Redacts the JSON text of a report (or any JSON text as `serde_json`
/// writes it) string by string, layout and key order kept: the same two
/// passes as [`super::report`], over the text.
pub(super) fn json_text(json: &str) -> String {
    let mut found = Vec::new();
    let named = rewrite_strings(json, |place, s| named_string(place, s, &mut found));
    remember_all(found.iter().map(String::as_str));
    drop(found);
    with_known(|known| {
        if known.is_empty() {
            return named;
        }
        rewrite_strings(&named, |_, s| known.redacted(s))
    })
}

/// One open object or array while [`rewrite_strings`] walks the text.
enum Frame {
    Object {
        /// The next string is a key.
        at_key: bool,
        key: String,
        name: Option<String>,
    },
    Array,
}

/// Copies JSON text, replacing each string value by what `change` returns
/// for it (unescaped in, escaped out); keys, numbers and layout are copied
/// as they are.
pub(super) fn rewrite_strings(
    json: &str,
    mut change: impl FnMut(Place<'_>, &str) -> Option<String>,
) -> String {
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let mut stack: Vec<Frame> = Vec::new();
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'{' => stack.push(Frame::Object {
                at_key: true,
                key: String::new(),
                name: None,
            }),
            b'[' => stack.push(Frame::Array),
            b'}' | b']' => {
                stack.pop();
            }
            b',' => {
                if let Some(Frame::Object { at_key, .. }) = stack.last_mut() {
                    *at_key = true;
                }
            }
            b':' => {
                if let Some(Frame::Object { at_key, .. }) = stack.last_mut() {
                    *at_key = false;
                }
            }
            b'"' => {
                let start = i;
                i += 1;
                let mut escaped = false;
                while i < bytes.len() && bytes[i] != b'"' {
                    if bytes[i] == b'\\' {
                        escaped = true;
                        i += 1;
                    }
                    i += 1;
                }
                let end = (i + 1).min(bytes.len());
                let raw = &json[start..end];
                let text: std::borrow::Cow<'_, str> = if escaped {
                    serde_json::from_str::<String>(raw)
                        .map_or(std::borrow::Cow::Borrowed(""), std::borrow::Cow::Owned)
                } else {
                    std::borrow::Cow::Borrowed(
                        raw.get(1..raw.len().saturating_sub(1)).unwrap_or(""),
                    )
                };
                match stack.last_mut() {
                    Some(Frame::Object {
                        at_key: true, key, ..
                    }) => {
                        text.as_ref().clone_into(key);
                    }
                    frame => {
                        let (key, sibling_name) = match &frame {
                            Some(Frame::Object { key, name, .. }) => {
                                (Some(key.as_str()), name.as_deref())
                            }
                            _ => (None, None),
                        };
                        let place = Place {
                            key,
                            name: sibling_name,
                        };
                        if let Some(new) = change(place, &text) {
                            out.push_str(&json[copied..start]);
                            out.push_str(
                                &serde_json::to_string(&new).unwrap_or_else(|_| "\"\"".to_owned()),
                            );
                            copied = end;
                        }
                        if let Some(Frame::Object { key, name, .. }) = frame
                            && key == "name"
                        {
                            *name = Some(text.into_owned());
                        }
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    out.push_str(&json[copied..]);
    out
}
