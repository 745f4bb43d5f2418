//! A small JSON reader that keeps the line each value starts on and the
//! members of objects in document order, shared by the feed and firewall
//! parsers. Inputs are validated by `serde_json` first
//! ([`parse_json_document`]); this reader still rejects, and never panics
//! on, anything malformed.

use crate::model::{ParseError, clip, origin};

/// A JSON value and the 1-based line where it starts.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    pub(crate) line: usize,
    pub(crate) value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// The number's text as written.
    Number(String),
    String(String),
    Array(Vec<Node>),
    /// Members in document order (duplicates kept; [`Node::get`]
    /// returns the last, as `serde_json` does).
    Object(Vec<(String, Node)>),
}

impl Node {
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    pub(crate) fn as_object(&self) -> Option<&[(String, Node)]> {
        match &self.value {
            Value::Object(members) => Some(members),
            _ => None,
        }
    }

    pub(crate) fn as_i64(&self) -> Option<i64> {
        match &self.value {
            Value::Number(n) => n.parse().ok(),
            _ => None,
        }
    }

    /// A string's or a number's text.
    pub(crate) fn scalar_text(&self) -> Option<&str> {
        match &self.value {
            Value::String(s) | Value::Number(s) => Some(s),
            _ => None,
        }
    }
}

/// Why the input is not JSON, and where.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) line: usize,
    pub(crate) message: String,
}

const MAX_DEPTH: usize = 256;

pub(crate) fn parse(text: &str) -> Result<Node, Failure> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    p.skip_ws();
    let node = p.value(0)?;
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.fail("trailing characters after the JSON value"));
    }
    Ok(node)
}

/// Parses a document whose root is an object, handing each element of
/// the top-level arrays whose key `stream` accepts to `each` as soon as
/// it is parsed, instead of keeping it: those arrays come back empty.
/// Once `each` returns `false`, the rest of that array is checked but not
/// built (detection samples the first elements of a big feed).
/// Any other root is parsed whole.
pub(crate) fn parse_streaming(
    text: &str,
    stream: &dyn Fn(&str) -> bool,
    each: &mut dyn FnMut(&str, Node) -> bool,
) -> Result<Node, Failure> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        line: 1,
    };
    p.skip_ws();
    let node = if p.peek() == Some(b'{') {
        let line = p.line;
        let value = p.object_with(0, &mut |p, key, depth| {
            if p.peek() == Some(b'[') && stream(key) {
                let line = p.line;
                let mut more = true;
                p.items(depth, &mut |p, depth| {
                    if more {
                        more = each(key, p.value(depth)?);
                        Ok(())
                    } else {
                        p.skip(depth)
                    }
                })?;
                Ok(Node {
                    line,
                    value: Value::Array(Vec::new()),
                })
            } else {
                p.value(depth)
            }
        })?;
        Node { line, value }
    } else {
        p.value(0)?
    };
    p.skip_ws();
    if p.pos < p.bytes.len() {
        return Err(p.fail("trailing characters after the JSON value"));
    }
    Ok(node)
}

/// Writes `node` as compact JSON, stopping once `out` is past `limit`
/// bytes.
pub(crate) fn compact(node: &Node, out: &mut String, limit: usize) {
    if out.len() > limit {
        return;
    }
    match &node.value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(n),
        Value::String(s) => {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                compact(item, out, limit);
                if out.len() > limit {
                    return;
                }
            }
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (key, value)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                out.push_str(key);
                out.push_str("\":");
                compact(value, out, limit);
                if out.len() > limit {
                    return;
                }
            }
            out.push('}');
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    line: usize,
}

impl Parser<'_> {
    fn fail(&self, message: &str) -> Failure {
        Failure {
            line: self.line,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, Failure> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        let line = self.line;
        let value = match self.peek() {
            None => return Err(self.fail("unexpected end of input")),
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => Value::String(self.string()?),
            Some(b't') => self.literal("true", Value::Bool(true))?,
            Some(b'f') => self.literal("false", Value::Bool(false))?,
            Some(b'n') => self.literal("null", Value::Null)?,
            Some(b'-' | b'0'..=b'9') => self.number()?,
            Some(_) => return Err(self.fail("unexpected character")),
        };
        Ok(Node { line, value })
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, Failure> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.fail("unexpected word"))
        }
    }

    fn number(&mut self) -> Result<Value, Failure> {
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.pos += 1;
        }
        let text = self.text.get(start..self.pos).unwrap_or("");
        if text.parse::<f64>().is_err() {
            return Err(self.fail("invalid number"));
        }
        Ok(Value::Number(text.to_owned()))
    }

    fn array(&mut self, depth: usize) -> Result<Value, Failure> {
        let mut items = Vec::new();
        self.items(depth, &mut |p, depth| {
            items.push(p.value(depth)?);
            Ok(())
        })?;
        Ok(Value::Array(items))
    }

    /// Checks a value as [`Parser::value`] does (same failures, same
    /// lines), without building its arrays and objects.
    fn skip(&mut self, depth: usize) -> Result<(), Failure> {
        if depth > MAX_DEPTH {
            return Err(self.fail("nested too deeply"));
        }
        match self.peek() {
            Some(b'{') => self.members(depth, &mut |p, _, depth| p.skip(depth)),
            Some(b'[') => self.items(depth, &mut |p, depth| p.skip(depth)),
            _ => self.value(depth).map(drop),
        }
    }

    /// Parses an array; `each` parses each element (at `depth + 1`).
    fn items(
        &mut self,
        depth: usize,
        each: &mut dyn FnMut(&mut Self, usize) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            each(self, depth + 1)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.fail("expected `,` or `]`")),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<Value, Failure> {
        self.object_with(depth, &mut |p, _, depth| p.value(depth))
    }

    /// Parses an object; `member` parses each member's value (at
    /// `depth + 1`) after its key.
    fn object_with(
        &mut self,
        depth: usize,
        member: &mut dyn FnMut(&mut Self, &str, usize) -> Result<Node, Failure>,
    ) -> Result<Value, Failure> {
        let mut members = Vec::new();
        self.members(depth, &mut |p, key, depth| {
            let value = member(p, &key, depth)?;
            members.push((key, value));
            Ok(())
        })?;
        Ok(Value::Object(members))
    }

    /// Reads an object's keys; `member` parses each member's value (at
    /// `depth + 1`) after its key.
    fn members(
        &mut self,
        depth: usize,
        member: &mut dyn FnMut(&mut Self, String, usize) -> Result<(), Failure>,
    ) -> Result<(), Failure> {
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(());
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.fail("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.fail("expected `:`"));
            }
            self.pos += 1;
            self.skip_ws();
            member(self, key, depth + 1)?;
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(());
                }
                _ => return Err(self.fail("expected `,` or `}`")),
            }
        }
    }

    fn hex4(&mut self) -> Result<u32, Failure> {
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .filter(|d| d.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(|| self.fail("invalid \\u escape"))?;
        self.pos += 4;
        u32::from_str_radix(digits, 16).map_err(|_| self.fail("invalid \\u escape"))
    }

    fn string(&mut self) -> Result<String, Failure> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(self.text.get(start..self.pos).unwrap_or(""));
            match self.peek() {
                None => return Err(self.fail("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let escape = self
                        .peek()
                        .ok_or_else(|| self.fail("unterminated string"))?;
                    self.pos += 1;
                    match escape {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => {
                            let mut code = self.hex4()?;
                            if (0xD800..0xDC00).contains(&code)
                                && self.bytes[self.pos..].starts_with(b"\\u")
                            {
                                self.pos += 2;
                                let low = self.hex4()?;
                                if (0xDC00..0xE000).contains(&low) {
                                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                                } else {
                                    out.push('\u{fffd}');
                                    code = low;
                                }
                            }
                            out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                        }
                        _ => return Err(self.fail("invalid escape")),
                    }
                }
                Some(_) => return Err(self.fail("control character in string")),
            }
        }
    }
}

/// Parses a whole JSON document: invalid JSON is one error with `serde_json`'s
/// line and message.
pub(crate) fn parse_json_document(source: &str, input: &str) -> Result<Node, ParseError> {
    validate_json_document(source, input)?;
    let text = strip_bom(input);
    parse(text).map_err(|f| json_error(source, text, &f))
}

/// Checks that `input` is JSON, cheaply (nothing is kept): invalid JSON is
/// one error with `serde_json`'s line and message.
pub(crate) fn validate_json_document(source: &str, input: &str) -> Result<(), ParseError> {
    let text = strip_bom(input);
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| {
            let line = e.line().max(1);
            ParseError {
                origin: origin(source, line),
                text: clip(text.lines().nth(line - 1).unwrap_or("")),
                reason: format!("invalid JSON: {e}"),
            }
        })
}

pub(crate) fn json_error(source: &str, text: &str, f: &Failure) -> ParseError {
    ParseError {
        origin: origin(source, f.line),
        text: clip(text.lines().nth(f.line.saturating_sub(1)).unwrap_or("")),
        reason: format!("invalid JSON: {}", f.message),
    }
}

pub(crate) fn strip_bom(input: &str) -> &str {
    input.strip_prefix('\u{feff}').unwrap_or(input)
}

/// The first non-blank character is `{` or `[`.
pub(crate) fn looks_like_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

pub(crate) fn first_line(input: &str) -> &str {
    strip_bom(input)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
}

/// A short rendering of a JSON value for an error's text: strings as they
/// are, everything else as compact JSON, cut at 200 characters.
pub(crate) fn snippet(node: &Node) -> String {
    if let Some(s) = node.as_str() {
        return clip(s);
    }
    let mut out = String::new();
    compact(node, &mut out, 200);
    clip(&out)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn json_reader_lines_and_escapes() {
        let node = parse("{\n\"a\": [1,\n  \"x\\u00e9\\ud83d\\ude00\"],\n\"a\": true}").unwrap();
        let a = node.get("a").unwrap();
        assert_eq!(a.line, 4);
        let obj = node.as_object().unwrap();
        let first = obj[0].1.as_array().unwrap();
        assert_eq!(first[1].line, 3);
        assert_eq!(first[1].as_str(), Some("xé😀"));
        assert!(parse("[1, 2").is_err());
        assert!(parse("\"abc").is_err());
        assert!(parse("[\"\\u12\"]").is_err());
        assert!(parse(&"[".repeat(1000)).is_err());
    }

    #[test]
    fn skipped_elements_are_checked_not_built() {
        let text = "{\"a\": [1, {\"b\": [2]}, [3]],\n \"c\": 4}";
        let mut seen = Vec::new();
        let root = parse_streaming(text, &|_| true, &mut |_, item| {
            seen.push(item);
            false
        })
        .unwrap();
        assert_eq!(seen.len(), 1);
        assert_eq!(root.get("c").unwrap().line, 2);
        // A skipped element fails as a built one would, on its line.
        for bad in ["[1, {\"b\": [2}]", "[1,\n tru]", "[1, \"\\x\"]", "[1, 2,]"] {
            let doc = format!("{{\"a\": {bad}}}");
            let built = parse(&doc).unwrap_err();
            let skipped = parse_streaming(&doc, &|_| true, &mut |_, _| false).unwrap_err();
            assert_eq!(
                (skipped.line, skipped.message),
                (built.line, built.message),
                "{bad}"
            );
        }
        let deep = format!("{{\"a\": [1, {}]}}", "[".repeat(300));
        assert!(parse_streaming(&deep, &|_| true, &mut |_, _| false).is_err());
    }
}
