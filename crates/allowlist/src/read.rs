//! Reading the inputs of `reach allowlist`: the format options (detect, or
//! a named format), parsing a feed or an allowlist into what the report
//! says of it ([`Input`]), and reading an allowlist too big to hold in
//! pieces. The caller reads the bytes (files, stdin, URLs) and hands over
//! text; no I/O here.
//!
//! ```no_run
//! use reach_allowlist::read::{ReadOptions, parse_allowlist};
//!
//! let options = ReadOptions::default(); // detect the format, egress
//! let parsed = parse_allowlist(&options, "allow.txt", "10.0.0.0/8\n");
//! assert!(parsed.errors.is_empty());
//! ```

use std::fmt;
use std::str::FromStr;

use reach_report::Finding;
use reach_report::allowlist::Input;

use crate::model::{
    Allowlist, AllowlistFormat, Direction, Feed, FeedFilter, FeedFormat, Origin, ParseError,
};
use crate::text::PlainListReader;

/// A format option (`--published-format`, `--allowlist-format`): `auto`
/// detects the format from the input, a name reads it as that format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FormatChoice<F> {
    #[default]
    Auto,
    Named(F),
}

impl<F: Copy> FormatChoice<F> {
    /// The named format; `None` for `auto`.
    pub fn named(self) -> Option<F> {
        match self {
            FormatChoice::Auto => None,
            FormatChoice::Named(f) => Some(f),
        }
    }
}

/// A name that is not one of the formats (or directions).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}` (expected one of: {expected})")]
pub struct UnknownName {
    pub what: &'static str,
    pub name: String,
    /// The names accepted, comma-separated.
    pub expected: String,
}

/// The value of `name` among `all`.
pub(crate) fn by_name<T: Copy>(
    what: &'static str,
    all: &[T],
    name_of: fn(T) -> &'static str,
    name: &str,
) -> Result<T, UnknownName> {
    all.iter()
        .copied()
        .find(|v| name_of(*v) == name)
        .ok_or_else(|| UnknownName {
            what,
            name: name.to_owned(),
            expected: all
                .iter()
                .map(|v| name_of(*v))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl FromStr for FeedFormat {
    type Err = UnknownName;
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        by_name("feed format", FeedFormat::ALL, FeedFormat::name, name)
    }
}

impl FromStr for AllowlistFormat {
    type Err = UnknownName;
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        by_name(
            "allowlist format",
            AllowlistFormat::ALL,
            AllowlistFormat::name,
            name,
        )
    }
}

impl<F: FromStr<Err = UnknownName>> FromStr for FormatChoice<F> {
    type Err = UnknownName;
    /// `auto`, or a format's name.
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        if name == "auto" {
            Ok(FormatChoice::Auto)
        } else {
            name.parse().map(FormatChoice::Named)
        }
    }
}

impl Direction {
    pub const ALL: &'static [Direction] = &[Direction::Egress, Direction::Ingress];

    /// `egress`, `ingress`.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Egress => "egress",
            Direction::Ingress => "ingress",
        }
    }
}

impl FromStr for Direction {
    type Err = UnknownName;
    fn from_str(name: &str) -> Result<Self, UnknownName> {
        by_name("direction", Direction::ALL, Direction::name, name)
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the inputs are read: the options of `reach allowlist` that parsing
/// needs, validated once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReadOptions {
    /// `--published-format`.
    pub published_format: FormatChoice<FeedFormat>,
    /// `--service`, `--region`.
    pub filter: FeedFilter,
    /// `--allowlist-format`.
    pub allowlist_format: FormatChoice<AllowlistFormat>,
    /// `--direction`.
    pub direction: Direction,
    /// `--port`: only rules that allow it count.
    pub port: Option<u16>,
    /// `--lenient`: lines that do not parse are skipped, not fatal.
    pub lenient: bool,
}

/// What parsing one input produced.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed<T> {
    /// What was read, and the input as the report lists it; `None` when
    /// the input could not be used at all.
    pub value: Option<(T, Input)>,
    /// Lines or values that did not parse.
    pub errors: Vec<ParseError>,
    /// The input could not be used at all (unknown shape, invalid JSON, a
    /// filter the feed cannot apply), even with `--lenient`.
    pub fatal: bool,
}

impl<T> Parsed<T> {
    fn fatal(errors: Vec<ParseError>) -> Self {
        Parsed {
            value: None,
            errors,
            fatal: true,
        }
    }
}

/// Parses a published feed in the format asked for (or detected).
pub fn parse_feed(options: &ReadOptions, source: &str, text: &str) -> Parsed<Feed> {
    let filter = &options.filter;
    let format = match options.published_format {
        FormatChoice::Auto => crate::feeds::detect(text),
        FormatChoice::Named(f) => Some(f),
    };
    let (feed, errors) = if format == Some(FeedFormat::Cidr) {
        if !filter.services.is_empty() || !filter.regions.is_empty() {
            return Parsed::fatal(vec![ParseError {
                origin: Origin {
                    source: source.into(),
                    line: 1,
                },
                text: String::new(),
                reason: "a plain CIDR list has no service or region labels to filter on \
                         (--service, --region)"
                    .to_owned(),
            }]);
        }
        crate::text::parse_cidr_feed(source, text, options.lenient)
    } else {
        match crate::feeds::parse_feed_json_partial(source, text, format, filter) {
            Ok(parsed) => parsed,
            Err(errors) => return Parsed::fatal(errors),
        }
    };
    let input = Input {
        source: source.to_owned(),
        format: feed.format.name().to_owned(),
        version: feed.version.as_ref().map(|(k, v)| format!("{k}={v}")),
        entries: feed.entries.len() as u64,
    };
    Parsed {
        value: Some((feed, input)),
        errors,
        fatal: false,
    }
}

/// Parses an allowlist in the format asked for (or detected).
pub fn parse_allowlist(options: &ReadOptions, source: &str, text: &str) -> Parsed<Allowlist> {
    let format = match options.allowlist_format {
        FormatChoice::Auto => crate::firewall::detect(text),
        FormatChoice::Named(f) => Some(f),
    };
    let (list, errors) = if format == Some(AllowlistFormat::Cidr) {
        crate::text::parse_cidr_allowlist(source, text)
    } else {
        match crate::firewall::parse_allowlist_rules_partial(
            source,
            text,
            format,
            options.direction,
            options.port,
        ) {
            Ok(parsed) => parsed,
            Err(errors) => return Parsed::fatal(errors),
        }
    };
    allowlist_parsed(source, list, errors)
}

fn allowlist_parsed(source: &str, list: Allowlist, errors: Vec<ParseError>) -> Parsed<Allowlist> {
    let input = Input {
        source: source.to_owned(),
        format: list.format.name().to_owned(),
        version: None,
        entries: list.len() as u64,
    };
    Parsed {
        value: Some((list, input)),
        errors,
        fatal: false,
    }
}

/// Parses the feeds and the allowlists given as text (`(source, text)`),
/// the two sides in parallel: a big comparison takes as long as its longer
/// side.
pub fn parse_all(
    options: &ReadOptions,
    feeds: &[(String, String)],
    lists: &[(String, String)],
) -> (Vec<Parsed<Feed>>, Vec<Parsed<Allowlist>>) {
    std::thread::scope(|scope| {
        let feeds = scope.spawn(|| {
            feeds
                .iter()
                .map(|(source, text)| parse_feed(options, source, text))
                .collect::<Vec<_>>()
        });
        let lists: Vec<_> = lists
            .iter()
            .map(|(source, text)| parse_allowlist(options, source, text))
            .collect();
        // A parser that panicked is a bug: never a silent pass.
        let feeds = feeds
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (feeds, lists)
    })
}

/// The parse errors of the inputs read so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Errors {
    /// Lines that did not parse: they void every figure (unless
    /// `lenient`).
    pub lines: Vec<ParseError>,
    /// Inputs that could not be used at all (unknown shape, invalid JSON,
    /// a filter the feed cannot apply), even with `lenient`.
    pub fatal: Vec<ParseError>,
}

impl Errors {
    /// Keeps the errors of `parsed`; returns what it read.
    pub fn take<T>(&mut self, parsed: Parsed<T>) -> Option<(T, Input)> {
        if parsed.fatal {
            self.fatal.extend(parsed.errors);
        } else {
            self.lines.extend(parsed.errors);
        }
        parsed.value
    }

    /// What parsed of one side, as one value (the first kept as it is, no
    /// copy of a million entries; the others `append`ed to it), and the
    /// inputs it came from.
    pub fn gather<T>(
        &mut self,
        parsed: Vec<Parsed<T>>,
        append: fn(&mut T, T),
    ) -> (Option<T>, Vec<Input>) {
        let mut all: Option<T> = None;
        let mut inputs = Vec::new();
        for parsed in parsed {
            if let Some((value, input)) = self.take(parsed) {
                match &mut all {
                    Some(all) => append(all, value),
                    None => all = Some(value),
                }
                inputs.push(input);
            }
        }
        (all, inputs)
    }

    /// The findings of the errors, unusable inputs first, taking them; and
    /// whether they void every figure (an unusable input or, without
    /// `lenient`, a line that did not parse).
    pub fn settle(&mut self, lenient: bool) -> (Vec<Finding>, bool) {
        let fatal = std::mem::take(&mut self.fatal);
        let lines = std::mem::take(&mut self.lines);
        let mut found = crate::findings::fatal_error_findings(&fatal);
        found.extend(crate::findings::parse_error_findings(&lines, lenient));
        let void = !fatal.is_empty() || (!lines.is_empty() && !lenient);
        (found, void)
    }
}

/// Why a feed that kept no range cannot be compared (nothing to cover
/// would read as 100% covered); `None` when it has ranges.
pub fn nothing_published(feed: &Feed, filter: &FeedFilter) -> Option<String> {
    if !feed.entries.is_empty() {
        return None;
    }
    let filters: Vec<String> = [
        ("--service", &filter.services),
        ("--region", &filter.regions),
    ]
    .iter()
    .filter(|(_, v)| !v.is_empty())
    .map(|(flag, v)| format!("{flag} {}", v.join(",")))
    .collect();
    Some(if filters.is_empty() {
        "the published feed has no ranges".to_owned()
    } else {
        format!("no published range matches {}", filters.join(" "))
    })
}

/// Plain lists bigger than this are read in pieces, never whole: memory
/// then grows with the distinct entries, not with the file.
pub const STREAM_ABOVE: usize = 32 * 1024 * 1024;

/// An allowlist as read: text to parse, or a big plain list parsed as it
/// was read.
#[derive(Debug)]
pub enum AllowlistText {
    Text(String),
    Parsed(Box<Parsed<Allowlist>>),
}

/// An allowlist that is not a plain list grew past the most read whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("larger than {limit} bytes, the most reach reads of an allowlist that is not a plain list")]
pub struct TooBig {
    /// The bound given to [`ListReader::new`], in bytes.
    pub limit: u64,
}

/// Reads an allowlist given in pieces (cut anywhere between characters):
/// whole, until it is bigger than [`STREAM_ABOVE`]; then, if its first
/// bytes say it is a plain list, in pieces into a [`PlainListReader`]. The
/// format is told from the first bytes, not the first line break: a JSON
/// document (`nft -j` prints one line) is always read whole, up to the
/// bound given.
pub struct ListReader {
    source: String,
    format: FormatChoice<AllowlistFormat>,
    /// The most bytes held of an allowlist that is not read in pieces.
    whole_limit: u64,
    text: String,
    list: Option<PlainListReader>,
    /// [`STREAM_ABOVE`], smaller for the fuzzer.
    stream_above: usize,
}

impl ListReader {
    pub fn new(source: &str, format: FormatChoice<AllowlistFormat>, whole_limit: u64) -> Self {
        ListReader {
            source: source.to_owned(),
            format,
            whole_limit,
            text: String::new(),
            list: None,
            stream_above: STREAM_ABOVE,
        }
    }

    /// Goes over to the plain-list reader above `bytes` instead of
    /// [`STREAM_ABOVE`] (the fuzzer's scaled-down reads).
    #[must_use]
    pub fn stream_above(mut self, bytes: usize) -> Self {
        self.stream_above = bytes;
        self
    }

    /// Whether a text whose start is `text` is read in pieces.
    fn streams(&self) -> bool {
        match self.format {
            FormatChoice::Named(AllowlistFormat::Cidr) => true,
            FormatChoice::Auto => {
                crate::firewall::detect_start(&self.text) == Some(AllowlistFormat::Cidr)
            }
            FormatChoice::Named(_) => false,
        }
    }

    /// The next piece of the text.
    pub fn push(&mut self, text: &str) -> Result<(), TooBig> {
        if let Some(list) = &mut self.list {
            list.push(text);
            return Ok(());
        }
        if (self.text.len() + text.len()) as u64 > self.whole_limit {
            return Err(TooBig {
                limit: self.whole_limit,
            });
        }
        self.text.push_str(text);
        if self.text.len() > self.stream_above && self.streams() {
            let mut list = PlainListReader::new(&self.source, true);
            list.push(&std::mem::take(&mut self.text));
            self.list = Some(list);
        }
        Ok(())
    }

    /// The text, or the plain list read in pieces.
    pub fn finish(self) -> AllowlistText {
        match self.list {
            Some(list) => {
                let list = list.finish();
                let errors = list.errors.clone();
                AllowlistText::Parsed(Box::new(allowlist_parsed(
                    &self.source,
                    list.allowlist(),
                    errors,
                )))
            }
            None => AllowlistText::Text(self.text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names() {
        assert_eq!("auto".parse(), Ok(FormatChoice::<FeedFormat>::Auto));
        for &f in FeedFormat::ALL {
            assert_eq!(f.name().parse(), Ok(FormatChoice::Named(f)));
        }
        for &f in AllowlistFormat::ALL {
            assert_eq!(f.name().parse(), Ok(FormatChoice::Named(f)));
        }
        assert_eq!("ingress".parse(), Ok(Direction::Ingress));
        let e = "nft".parse::<AllowlistFormat>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "unknown allowlist format `nft` (expected one of: cidr, iptables, nft-json, aws-sg)"
        );
    }

    #[test]
    fn big_plain_lists_are_read_in_pieces() {
        let text = "10.0.0.0/8\n192.0.2.0/24\n10.0.0.0/8\n";
        let mut reader = ListReader::new("a", FormatChoice::Auto, 1 << 20);
        reader.stream_above = 4;
        for piece in text.as_bytes().chunks(5) {
            reader.push(std::str::from_utf8(piece).unwrap()).unwrap();
        }
        let AllowlistText::Parsed(parsed) = reader.finish() else {
            panic!("not read in pieces");
        };
        let (list, input) = parsed.value.unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!((input.format.as_str(), input.entries), ("cidr", 2));
        // JSON is always held whole, within its bound.
        let mut reader = ListReader::new("a", FormatChoice::Auto, 8);
        reader.stream_above = 4;
        reader.push("{\"nftables\"").unwrap_err();
    }
}
