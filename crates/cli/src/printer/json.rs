//! The JSON report (`reach.report/v1`, documented in the report crate):
//! the report as serde writes it, pretty, with a final line break.

use reach_report::Report;
use std::io::Write;

pub(super) fn render(report: &Report) -> serde_json::Result<String> {
    // The same bytes as [`write`] (`pretty_is_serde_jsons_layout`).
    let mut text = serde_json::to_string_pretty(report)?;
    text.push('\n');
    Ok(text)
}

/// The JSON report into `out`, as it is rendered, with its final line
/// break.
pub(crate) fn write(report: &Report, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    // serde_json writes a token at a time: into a buffer of a known type
    // (a copy the compiler inlines), not through `dyn Write` (a call each).
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, out);
    let mut serializer = serde_json::Serializer::with_formatter(&mut buffered, Pretty::default());
    serde::Serialize::serialize(report, &mut serializer).map_err(std::io::Error::from)?;
    buffered.write_all(b"\n")?;
    buffered.flush()
}

/// `serde_json`'s pretty layout (two spaces an indent level), byte for
/// byte, with each line break and its indentation written at once: its
/// own `PrettyFormatter` writes the indentation one level at a time, and a
/// report nests ten levels deep, so that made most of the writes of a large
/// report.
#[derive(Default)]
struct Pretty {
    level: usize,
    has_value: bool,
}

/// `,`, a line break and the deepest indentation written at once.
const BREAK: &[u8; 2 + 2 * 32] =
    b",\n                                                                ";

impl Pretty {
    /// A line break (after `,` when `comma`) and the indentation of the
    /// current level, in one write.
    fn new_line<W: ?Sized + std::io::Write>(&self, w: &mut W, comma: bool) -> std::io::Result<()> {
        let from = usize::from(!comma);
        let width = 2 * self.level;
        if let Some(line) = BREAK.get(from..2 + width) {
            return w.write_all(line);
        }
        // Deeper than a report nests: the rest a space at a time.
        w.write_all(&BREAK[from..])?;
        (BREAK.len() - 2..width).try_for_each(|_| w.write_all(b" "))
    }

    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.level -= 1;
        if self.has_value {
            self.new_line(w, false)?;
        }
        w.write_all(bracket)
    }
}

impl serde_json::ser::Formatter for Pretty {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.new_line(w, !first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.new_line(w, !first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// `--format jsonl`: one check a line, compact. The checks of a run are
/// written by `partial` as they end, each through [`line`]; these are the
/// ones a whole report holds.
pub(super) fn lines(report: &Report) -> String {
    let mut text = String::new();
    for check in &report.checks {
        line(check, &mut text);
    }
    text
}

/// One check as a line of `--format jsonl`, appended to `out`.
pub(crate) fn line(check: &reach_report::Check, out: &mut String) {
    match serde_json::to_string(check) {
        Ok(json) => {
            out.push_str(&json);
            out.push('\n');
        }
        // The report's types always serialize; a bug if not.
        Err(e) => tracing::error!("a check could not be written: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::Pretty;

    fn pretty(value: &serde_json::Value) -> String {
        let mut out = Vec::new();
        let mut serializer = serde_json::Serializer::with_formatter(&mut out, Pretty::default());
        serde::Serialize::serialize(value, &mut serializer).unwrap();
        String::from_utf8(out).unwrap()
    }

    /// The same bytes as `serde_json::to_string_pretty`: empty and full
    /// arrays and objects, and nesting past the indentation written at once.
    #[test]
    fn pretty_is_serde_jsons_layout() {
        let mut deep = serde_json::json!({"leaf": [1, "two", null, {}, []]});
        for depth in 0..40 {
            deep = serde_json::json!({"depth": depth, "inner": [deep, {"k": "v"}], "empty": {}});
        }
        let cases = [
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({"a": [], "b": {}, "c": [1, 2], "d": {"e": "f\n\"g\""}}),
            deep,
        ];
        for value in &cases {
            assert_eq!(pretty(value), serde_json::to_string_pretty(value).unwrap());
        }
    }
}
