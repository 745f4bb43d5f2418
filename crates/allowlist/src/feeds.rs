//! The vendors' published JSON feeds: AWS `ip-ranges.json`, Azure Service
//! Tags, GCP `cloud.json` / `goog.json`, GitHub `meta`, Atlassian
//! `ip-ranges.json`. The plain CIDR text format is read by
//! [`crate::text::parse_cidr_feed`]; [`detect`] only says when an input is
//! not JSON.
//!
//! Labels and version stamps, per format:
//!
//! | format    | service                  | region                     | version stamp                         |
//! |-----------|--------------------------|----------------------------|---------------------------------------|
//! | aws       | `service`                | `region`                   | `syncToken` (else `createDate`)       |
//! | azure     | `values[].name` (the tag)| `properties.region`        | `changeNumber`                        |
//! | gcp       | `service`                | `scope`                    | `creationTime` (else `syncToken`)     |
//! | github    | the key (`hooks`, `web`) | none                       | none                                  |
//! | atlassian | `product[]` joined by `,`| `region[]` joined by `,`   | `syncToken` (else `creationDate`)     |
//!
//! An empty label (Azure's global tags have `region: ""`) is `None`.
//! AWS lists a prefix once per service (`AMAZON` and `EC2`): each listing
//! is its own entry. GitHub arrays that hold no address (`ssh_keys`) and
//! non-array keys (`domains`, `ssh_key_fingerprints`) are skipped.
//! Atlassian's `direction` is not read.
//!
//! Filters ([`FeedFilter`]) match a label case-insensitively, either as a
//! whole or any of its comma-separated parts (so `--service confluence`
//! selects an Atlassian item whose products are `jira,confluence`). A filter
//! on a label that no entry of the feed carries (`--region` on the GitHub
//! feed, `--service` on GCP's `goog.json`) is an error rather than an empty
//! result.
//!
//! Every entry's [`Origin`](crate::model::Origin) carries the line where its prefix string
//! stands. A prefix with host bits set (`10.0.0.1/8`) is read as its
//! network (`10.0.0.0/8`); a bare address is a `/32` or `/128`.

use std::collections::HashMap;

use crate::json::{
    self, Node, first_line, json_error, looks_like_json, snippet, strip_bom, validate_json_document,
};
use crate::model::{
    Feed, FeedFilter, FeedFormat, Label, ParseError, PublishedEntry, clip, intern, line32, origin,
};
use crate::text::parse_cidr;

/// The JSON formats [`detect`] and [`parse_feed_json`] try, in order.
const JSON_FORMATS: [FeedFormat; 5] = [
    FeedFormat::Aws,
    FeedFormat::Azure,
    FeedFormat::Gcp,
    FeedFormat::Github,
    FeedFormat::Atlassian,
];

/// GitHub `meta` keys whose arrays hold CIDRs (other arrays are kept only
/// when at least one element parses as an address).
const GITHUB_CIDR_KEYS: &[&str] = &[
    "hooks",
    "web",
    "api",
    "git",
    "github_enterprise_importer",
    "packages",
    "pages",
    "importer",
    "actions",
    "actions_macos",
    "codespaces",
    "dependabot",
    "copilot",
];

/// Sniffs a published feed's format from its shape.
///
/// Returns `Some(FeedFormat::Cidr)` when the input does not look like JSON
/// (its first non-blank character is neither `{` nor `[`), the JSON format
/// whose shape matches, or `None` for broken JSON or JSON of an unknown
/// shape.
pub fn detect(input: &str) -> Option<FeedFormat> {
    let text = strip_bom(input);
    if !looks_like_json(text) {
        return Some(FeedFormat::Cidr);
    }
    detect_node(&sample_document("", text).ok()?)
}

/// Parses a published JSON feed, all of it or nothing: any entry that does
/// not parse makes it an `Err` listing every problem at once.
///
/// `format` `None` auto-detects among the JSON formats; an unknown shape is
/// one error naming the formats tried. `Some(FeedFormat::Cidr)` is an error
/// (the text format is [`crate::text::parse_cidr_feed`]'s). `filter` keeps
/// the entries whose labels match (see the module documentation).
pub fn parse_feed_json(
    source: &str,
    input: &str,
    format: Option<FeedFormat>,
    filter: &FeedFilter,
) -> Result<Feed, Vec<ParseError>> {
    let (feed, errors) = parse_feed_json_partial(source, input, format, filter)?;
    if errors.is_empty() {
        Ok(feed)
    } else {
        Err(errors)
    }
}

/// Like [`parse_feed_json`], for `--lenient`: entries that do not parse are
/// returned beside the feed (which holds every entry that did) instead of
/// failing it. `Err` only for what leaves nothing to read: invalid JSON, an
/// unknown shape, a filter on a label the feed does not have.
pub fn parse_feed_json_partial(
    source: &str,
    input: &str,
    format: Option<FeedFormat>,
    filter: &FeedFilter,
) -> Result<(Feed, Vec<ParseError>), Vec<ParseError>> {
    if format == Some(FeedFormat::Cidr) {
        return Err(vec![ParseError {
            origin: origin(source, 1),
            text: clip(first_line(input)),
            reason: "the cidr feed format is plain text, not JSON".to_owned(),
        }]);
    }
    if format.is_none() && !looks_like_json(strip_bom(input)) {
        return Err(vec![ParseError {
            origin: origin(source, 1),
            text: clip(first_line(input)),
            reason: format!(
                "not a JSON feed (tried {}); a plain list is the cidr format",
                tried_formats()
            ),
        }]);
    }
    validate_json_document(source, input).map_err(|e| vec![e])?;
    let text = strip_bom(input);
    // Big feeds (2M prefixes) are read element by element: the top-level
    // arrays of entries are never held whole. Detection looks at a sample.
    let format = match format {
        Some(format) => Some(format),
        None => detect_node(&sample_document(source, text).map_err(|e| vec![e])?),
    };
    let Some(format) = format else {
        return Err(vec![ParseError {
            origin: origin(source, 1),
            text: clip(first_line(input)),
            reason: format!(
                "not a published feed of a known shape (tried {})",
                tried_formats()
            ),
        }]);
    };
    let mut reader = Reader {
        source,
        feed: Feed::new(format),
        ids: HashMap::new(),
        errors: Vec::new(),
    };
    let streamed = streamed_arrays(format);
    let root = json::parse_streaming(text, &|key| streamed.contains(&key), &mut |key, item| {
        read_item(&mut reader, format, key, &item);
        true
    })
    .map_err(|f| vec![json_error(source, text, &f)])?;
    let version = match format {
        FeedFormat::Aws => read_aws(&mut reader, &root),
        FeedFormat::Azure => read_azure(&mut reader, &root),
        FeedFormat::Gcp => read_gcp(&mut reader, &root),
        FeedFormat::Github => read_github(&mut reader, &root),
        FeedFormat::Atlassian => read_atlassian(&mut reader, &root),
        FeedFormat::Cidr => Err(String::from("the cidr feed format is not JSON")),
    }
    .map_err(|reason| {
        vec![ParseError {
            origin: origin(source, root.line),
            text: clip(first_line(input)),
            reason: format!("not a {} feed: {reason}", format.name()),
        }]
    })?;
    let mut feed = reader.feed;
    feed.version = version;
    apply_filter(source, &mut feed, filter)?;
    Ok((feed, reader.errors))
}

/// `aws, azure, gcp, github, atlassian`.
fn tried_formats() -> String {
    let names: Vec<&str> = JSON_FORMATS.iter().map(|f| f.name()).collect();
    names.join(", ")
}

fn detect_node(root: &Node) -> Option<FeedFormat> {
    root.as_object()?;
    let has = |key: &str| root.get(key).is_some();
    let items = |key: &str| root.get(key).and_then(Node::as_array);
    let any_item_has = |key: &str, fields: &[&str]| {
        items(key).is_some_and(|items| {
            items
                .iter()
                .any(|item| fields.iter().any(|f| item.get(f).is_some()))
        })
    };

    let aws_arrays = items("prefixes").is_some() || items("ipv6_prefixes").is_some();
    if aws_arrays
        && (has("createDate")
            || any_item_has("prefixes", &["ip_prefix", "ipv6_prefix"])
            || any_item_has("ipv6_prefixes", &["ip_prefix", "ipv6_prefix"]))
    {
        return Some(FeedFormat::Aws);
    }
    if items("prefixes").is_some()
        && (has("creationTime") || any_item_has("prefixes", &["ipv4Prefix", "ipv6Prefix"]))
    {
        return Some(FeedFormat::Gcp);
    }
    if let Some(values) = items("values") {
        let tagged = values.iter().any(|v| {
            v.get("properties")
                .and_then(|p| p.get("addressPrefixes"))
                .is_some()
        });
        if tagged || has("changeNumber") || has("cloud") {
            return Some(FeedFormat::Azure);
        }
    }
    if items("items").is_some()
        && (any_item_has("items", &["cidr"]) || (has("creationDate") && has("syncToken")))
    {
        return Some(FeedFormat::Atlassian);
    }
    let string_array =
        |key: &str| items(key).is_some_and(|a| a.iter().all(|n| n.as_str().is_some()));
    if string_array("hooks") || string_array("web") || string_array("api") {
        return Some(FeedFormat::Github);
    }
    None
}

/// Collects entries and per-entry errors while a feed is read.
struct Reader<'a> {
    source: &'a str,
    feed: Feed,
    ids: HashMap<Label, u32>,
    errors: Vec<ParseError>,
}

impl Reader<'_> {
    fn error(&mut self, line: usize, text: &str, reason: impl Into<String>) {
        self.errors.push(ParseError {
            origin: origin(self.source, line),
            text: clip(text),
            reason: reason.into(),
        });
    }

    /// The id of the label (`service`, `region`).
    fn label(&mut self, service: Option<String>, region: Option<String>) -> u32 {
        if service.is_none() && region.is_none() {
            return 0;
        }
        if self.ids.is_empty() {
            self.ids = self.feed.labels.iter().cloned().zip(0..).collect();
        }
        intern(
            &mut self.feed.labels,
            &mut self.ids,
            Label { service, region },
        )
    }

    /// Reads one prefix value, with the label `label`.
    fn prefix(&mut self, node: &Node, label: u32) {
        let Some(text) = node.as_str() else {
            self.error(node.line, &snippet(node), "expected a CIDR string");
            return;
        };
        match parse_cidr(text) {
            Ok(net) => self.feed.entries.push(PublishedEntry {
                net,
                line: line32(node.line),
                label,
            }),
            Err(reason) => self.error(node.line, text, reason),
        }
    }

    /// Reads the array at `node`, or records that it is not one.
    fn array<'n>(&mut self, node: &'n Node, what: &str) -> &'n [Node] {
        if let Some(items) = node.as_array() {
            items
        } else {
            self.error(
                node.line,
                &snippet(node),
                format!("`{what}` is not an array"),
            );
            &[]
        }
    }
}

/// The top-level arrays of entries of `format`, read one element at a
/// time. GitHub's arrays are small, and which of them hold addresses is
/// decided from the whole array, so they are kept.
fn streamed_arrays(format: FeedFormat) -> &'static [&'static str] {
    match format {
        FeedFormat::Aws => &["prefixes", "ipv6_prefixes"],
        FeedFormat::Azure => &["values"],
        FeedFormat::Gcp => &["prefixes"],
        FeedFormat::Atlassian => &["items"],
        FeedFormat::Github | FeedFormat::Cidr => &[],
    }
}

/// Reads one element of a streamed top-level array `key`.
fn read_item(r: &mut Reader<'_>, format: FeedFormat, key: &str, item: &Node) {
    match format {
        FeedFormat::Aws => match item.get("ip_prefix").or_else(|| item.get("ipv6_prefix")) {
            Some(p) => {
                let id = r.label(label(item.get("service")), label(item.get("region")));
                r.prefix(p, id);
            }
            None => r.error(
                item.line,
                &snippet(item),
                "entry has no `ip_prefix` or `ipv6_prefix`",
            ),
        },
        FeedFormat::Azure => {
            let service = label(item.get("name"));
            let properties = item.get("properties");
            let region = label(properties.and_then(|p| p.get("region")));
            match properties.and_then(|p| p.get("addressPrefixes")) {
                Some(prefixes) => {
                    let id = r.label(service.clone(), region);
                    for p in r.array(prefixes, "addressPrefixes") {
                        r.prefix(p, id);
                    }
                }
                None => r.error(
                    item.line,
                    service.as_deref().unwrap_or("values[]"),
                    "tag has no `properties.addressPrefixes`",
                ),
            }
        }
        FeedFormat::Gcp => match item.get("ipv4Prefix").or_else(|| item.get("ipv6Prefix")) {
            Some(p) => {
                let id = r.label(label(item.get("service")), label(item.get("scope")));
                r.prefix(p, id);
            }
            None => r.error(
                item.line,
                &snippet(item),
                "entry has no `ipv4Prefix` or `ipv6Prefix`",
            ),
        },
        FeedFormat::Atlassian => match item.get("cidr") {
            Some(p) => {
                let id = r.label(label(item.get("product")), label(item.get("region")));
                r.prefix(p, id);
            }
            None => r.error(item.line, &snippet(item), "item has no `cidr`"),
        },
        FeedFormat::Github | FeedFormat::Cidr => {
            debug_assert!(false, "{key} is not streamed for {}", format.name());
        }
    }
}

/// A top-level member that should have been an array of entries (and so
/// was streamed) but is something else.
fn not_an_array(r: &mut Reader<'_>, root: &Node, key: &str) {
    if let Some(node) = root.get(key)
        && node.as_array().is_none()
    {
        r.array(node, key);
    }
}

fn read_aws(r: &mut Reader<'_>, root: &Node) -> Result<Option<(String, String)>, String> {
    if root.get("prefixes").is_none() && root.get("ipv6_prefixes").is_none() {
        return Err("no `prefixes` or `ipv6_prefixes` array".to_owned());
    }
    not_an_array(r, root, "prefixes");
    not_an_array(r, root, "ipv6_prefixes");
    Ok(stamp(root, &["syncToken", "createDate"]))
}

fn read_azure(r: &mut Reader<'_>, root: &Node) -> Result<Option<(String, String)>, String> {
    root.get("values").ok_or("no `values` array")?;
    not_an_array(r, root, "values");
    Ok(stamp(root, &["changeNumber"]))
}

fn read_gcp(r: &mut Reader<'_>, root: &Node) -> Result<Option<(String, String)>, String> {
    root.get("prefixes").ok_or("no `prefixes` array")?;
    not_an_array(r, root, "prefixes");
    Ok(stamp(root, &["creationTime", "syncToken"]))
}

fn read_github(r: &mut Reader<'_>, root: &Node) -> Result<Option<(String, String)>, String> {
    let members = root.as_object().ok_or("not a JSON object")?;
    let mut any = false;
    for (key, node) in members {
        let Some(items) = node.as_array() else {
            continue;
        };
        let known = GITHUB_CIDR_KEYS.contains(&key.as_str());
        let addresses = items
            .iter()
            .any(|n| n.as_str().is_some_and(|s| parse_cidr(s).is_ok()));
        if !known && !addresses {
            // `ssh_keys` and other arrays of non-addresses.
            continue;
        }
        any = true;
        let id = r.label(Some(key.clone()), None);
        for item in items {
            r.prefix(item, id);
        }
    }
    if any {
        Ok(None)
    } else {
        Err("no arrays of CIDRs (`hooks`, `web`, `api`, …)".to_owned())
    }
}

fn read_atlassian(r: &mut Reader<'_>, root: &Node) -> Result<Option<(String, String)>, String> {
    root.get("items").ok_or("no `items` array")?;
    not_an_array(r, root, "items");
    Ok(stamp(root, &["syncToken", "creationDate"]))
}

/// A label: a non-empty string, a number, or an array of those joined by
/// `,`.
fn label(node: Option<&Node>) -> Option<String> {
    let node = node?;
    let text = match node.as_array() {
        Some(items) => items
            .iter()
            .filter_map(Node::scalar_text)
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(","),
        None => node.scalar_text()?.trim().to_owned(),
    };
    (!text.is_empty()).then_some(text)
}

/// The first of `keys` present at the top level, with its value as text.
fn stamp(root: &Node, keys: &[&str]) -> Option<(String, String)> {
    keys.iter().find_map(|key| {
        let value = root.get(key)?.scalar_text()?;
        Some(((*key).to_owned(), value.to_owned()))
    })
}

/// Keeps the entries whose labels match `filter`. A filter on a label the
/// feed does not have at all is an error, not an empty result.
fn apply_filter(source: &str, feed: &mut Feed, filter: &FeedFilter) -> Result<(), Vec<ParseError>> {
    type Get = fn(&Label) -> Option<&str>;
    let mut errors = Vec::new();
    let checks: [(&[String], &str, Get); 2] = [
        (&filter.services, "service", |l| l.service.as_deref()),
        (&filter.regions, "region", |l| l.region.as_deref()),
    ];
    for (wanted, what, get) in checks {
        if !wanted.is_empty()
            && !feed.entries.is_empty()
            && feed.entries.iter().all(|e| get(feed.label_of(e)).is_none())
        {
            errors.push(ParseError {
                origin: origin(source, 1),
                text: clip(&wanted.join(",")),
                reason: format!(
                    "the {} feed has no {what} labels, so a {what} filter cannot select anything",
                    feed.format.name()
                ),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    if filter.services.is_empty() && filter.regions.is_empty() {
        return Ok(());
    }
    let keep: Vec<bool> = feed
        .labels
        .iter()
        .map(|l| {
            label_matches(l.service.as_deref(), &filter.services)
                && label_matches(l.region.as_deref(), &filter.regions)
        })
        .collect();
    feed.entries
        .retain(|e| keep.get(e.label as usize).copied().unwrap_or(false));
    Ok(())
}

fn label_matches(label: Option<&str>, wanted: &[String]) -> bool {
    if wanted.is_empty() {
        return true;
    }
    let Some(label) = label else { return false };
    wanted.iter().map(|w| w.trim()).any(|w| {
        label.trim().eq_ignore_ascii_case(w)
            || label
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(w))
    })
}

/// The document with each top-level array cut to its first few elements:
/// enough to tell the format, never the whole of a big feed.
fn sample_document(source: &str, text: &str) -> Result<Node, ParseError> {
    const SAMPLE: usize = 16;
    let mut samples: HashMap<String, Vec<Node>> = HashMap::new();
    // Past the sample, elements are checked, not built.
    let mut root = json::parse_streaming(text, &|_| true, &mut |key, item| {
        let kept = samples.entry(key.to_owned()).or_default();
        if kept.len() < SAMPLE {
            kept.push(item);
        }
        kept.len() < SAMPLE
    })
    .map_err(|f| json_error(source, text, &f))?;
    if let json::Value::Object(members) = &mut root.value {
        for (key, node) in members.iter_mut() {
            if let (json::Value::Array(items), Some(kept)) = (&mut node.value, samples.remove(key))
            {
                *items = kept;
            }
        }
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AWS: &str = include_str!("../tests/data/feed-aws.json");
    const AZURE: &str = include_str!("../tests/data/feed-azure.json");
    const GCP: &str = include_str!("../tests/data/feed-gcp.json");
    const GOOG: &str = include_str!("../tests/data/feed-goog.json");
    const GITHUB: &str = include_str!("../tests/data/feed-github.json");
    const ATLASSIAN: &str = include_str!("../tests/data/feed-atlassian.json");
    const AWS_BAD: &str = include_str!("../tests/data/feed-aws-bad.json");

    fn none() -> FeedFilter {
        FeedFilter::default()
    }

    fn nets(feed: &Feed) -> Vec<String> {
        feed.entries.iter().map(|e| e.net.to_string()).collect()
    }

    #[test]
    fn detects_each_format() {
        assert_eq!(detect(AWS), Some(FeedFormat::Aws));
        assert_eq!(detect(AWS_BAD), Some(FeedFormat::Aws));
        assert_eq!(detect(AZURE), Some(FeedFormat::Azure));
        assert_eq!(detect(GCP), Some(FeedFormat::Gcp));
        assert_eq!(detect(GOOG), Some(FeedFormat::Gcp));
        assert_eq!(detect(GITHUB), Some(FeedFormat::Github));
        assert_eq!(detect(ATLASSIAN), Some(FeedFormat::Atlassian));
        assert_eq!(detect("10.0.0.0/8\n# comment\n"), Some(FeedFormat::Cidr));
        assert_eq!(detect(""), Some(FeedFormat::Cidr));
        assert_eq!(detect("{\"foo\": [1]}"), None);
        assert_eq!(detect("{\"prefixes\": "), None);
    }

    #[test]
    fn aws_entries_labels_and_stamp() {
        let feed = parse_feed_json("aws.json", AWS, None, &none()).unwrap();
        assert_eq!(feed.format, FeedFormat::Aws);
        assert_eq!(
            feed.version,
            Some(("syncToken".to_owned(), "1700000000".to_owned()))
        );
        assert_eq!(
            nets(&feed),
            [
                "192.0.2.0/24",
                "192.0.2.0/24",
                "198.51.100.0/25",
                "2001:db8:1::/48",
            ]
        );
        let first = &feed.entries[0];
        assert_eq!(feed.label_of(first).service.as_deref(), Some("AMAZON"));
        assert_eq!(feed.label_of(first).region.as_deref(), Some("eu-west-1"));
        assert_eq!(first.line, 6);
        // The same prefix listed again under EC2 is kept, with its own line.
        assert_eq!(
            feed.label_of(&feed.entries[1]).service.as_deref(),
            Some("EC2")
        );
        assert_eq!(feed.entries[1].line, 12);
        assert_eq!(feed.entries[3].line, 26);
    }

    #[test]
    fn big_arrays_are_streamed_not_kept() {
        let text = "{\"a\": [1, {\"b\": [2]}],\n \"c\": [3], \"d\": 4}";
        let mut seen = Vec::new();
        let root = json::parse_streaming(text, &|k| k == "a", &mut |key, item| {
            seen.push((key.to_owned(), item.line));
            true
        })
        .unwrap();
        assert_eq!(seen, [("a".to_owned(), 1), ("a".to_owned(), 1)]);
        assert_eq!(
            root.get("a").and_then(Node::as_array).map(<[Node]>::len),
            Some(0)
        );
        assert_eq!(
            root.get("c").and_then(Node::as_array).map(<[Node]>::len),
            Some(1)
        );
        assert_eq!(root.get("c").unwrap().line, 2);
        // A streamed key that is not an array is still reported.
        let errors = parse_feed_json(
            "aws.json",
            "{\"createDate\": \"x\", \"prefixes\": \"oops\", \"ipv6_prefixes\": []}",
            Some(FeedFormat::Aws),
            &none(),
        )
        .unwrap_err();
        assert!(
            errors[0].reason.contains("`prefixes` is not an array"),
            "{errors:?}"
        );
        // Detection reads a sample: an AWS feed is told from its first
        // entries, whatever follows.
        let mut big = String::from("{\"prefixes\": [");
        for i in 0..100 {
            big.push_str("{\"ip_prefix\": \"10.0.0.");
            big.push_str(&i.to_string());
            big.push_str("/32\"},");
        }
        big.push_str("{\"ip_prefix\": \"10.0.1.0/24\"}]}");
        assert_eq!(detect(&big), Some(FeedFormat::Aws));
        let feed = parse_feed_json("big.json", &big, None, &none()).unwrap();
        assert_eq!(feed.entries.len(), 101);
    }

    #[test]
    fn aws_filters() {
        let filter = FeedFilter {
            services: vec!["ec2".to_owned()],
            regions: vec![],
        };
        let feed = parse_feed_json("aws.json", AWS, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["192.0.2.0/24", "198.51.100.0/25"]);
        let filter = FeedFilter {
            services: vec!["EC2".to_owned()],
            regions: vec!["US-EAST-1".to_owned()],
        };
        let feed = parse_feed_json("aws.json", AWS, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["198.51.100.0/25"]);
    }

    #[test]
    fn aws_bad_prefixes_are_reported_with_lines() {
        let errors = parse_feed_json("bad.json", AWS_BAD, None, &none()).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert_eq!(errors[0].origin.line, 12);
        assert_eq!(errors[0].text, "192.0.2.300/24");
        assert_eq!(errors[1].origin.line, 15);
        assert!(
            errors[1].reason.contains("ip_prefix"),
            "{}",
            errors[1].reason
        );
        let (feed, errors) = parse_feed_json_partial("bad.json", AWS_BAD, None, &none()).unwrap();
        assert_eq!(errors.len(), 2);
        assert_eq!(nets(&feed), ["192.0.2.0/24", "2001:db8::/32"]);
    }

    #[test]
    fn azure_tags() {
        let feed = parse_feed_json("az.json", AZURE, None, &none()).unwrap();
        assert_eq!(feed.format, FeedFormat::Azure);
        assert_eq!(
            feed.version,
            Some(("changeNumber".to_owned(), "42".to_owned()))
        );
        assert_eq!(feed.entries.len(), 5);
        assert_eq!(
            feed.label_of(&feed.entries[0]).service.as_deref(),
            Some("ActionGroup")
        );
        assert_eq!(feed.label_of(&feed.entries[0]).region, None);
        let filter = FeedFilter {
            services: vec!["azurecloud.westeurope".to_owned()],
            regions: vec![],
        };
        let feed = parse_feed_json("az.json", AZURE, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["203.0.113.0/24", "2001:db8:5::/48"]);
        assert_eq!(
            feed.label_of(&feed.entries[0]).region.as_deref(),
            Some("westeurope")
        );
        assert_eq!(feed.entries[1].line, 28);
        // The exact tag name only: the global tag does not match.
        let filter = FeedFilter {
            services: vec!["AzureCloud".to_owned()],
            regions: vec![],
        };
        let feed = parse_feed_json("az.json", AZURE, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["198.51.100.0/24"]);
    }

    #[test]
    fn gcp_cloud_and_goog() {
        let feed = parse_feed_json("cloud.json", GCP, None, &none()).unwrap();
        assert_eq!(feed.format, FeedFormat::Gcp);
        assert_eq!(
            feed.version,
            Some((
                "creationTime".to_owned(),
                "2024-01-02T03:04:05.000000".to_owned()
            ))
        );
        assert_eq!(
            nets(&feed),
            ["192.0.2.0/24", "2001:db8:9000::/44", "198.51.100.0/23"]
        );
        assert_eq!(
            feed.label_of(&feed.entries[1]).service.as_deref(),
            Some("Google Cloud")
        );
        assert_eq!(
            feed.label_of(&feed.entries[1]).region.as_deref(),
            Some("africa-south1")
        );
        let filter = FeedFilter {
            services: vec![],
            regions: vec!["asia-east1".to_owned()],
        };
        let feed = parse_feed_json("cloud.json", GCP, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["198.51.100.0/23"]);

        let goog = parse_feed_json("goog.json", GOOG, None, &none()).unwrap();
        assert_eq!(goog.entries.len(), 3);
        assert!(
            goog.entries
                .iter()
                .all(|e| goog.label_of(e).service.is_none())
        );
        // goog.json has no service labels: a service filter is an error.
        let filter = FeedFilter {
            services: vec!["Google Cloud".to_owned()],
            regions: vec![],
        };
        let errors = parse_feed_json("goog.json", GOOG, None, &filter).unwrap_err();
        assert!(errors[0].reason.contains("no service labels"), "{errors:?}");
    }

    #[test]
    fn github_meta() {
        let feed = parse_feed_json("meta.json", GITHUB, None, &none()).unwrap();
        assert_eq!(feed.format, FeedFormat::Github);
        assert_eq!(feed.version, None);
        let services: Vec<&str> = feed
            .entries
            .iter()
            .filter_map(|e| feed.label_of(e).service.as_deref())
            .collect();
        assert_eq!(
            services,
            ["hooks", "web", "web", "api", "actions_macos", "copilot"]
        );
        assert_eq!(feed.entries[0].line, 12);
        let filter = FeedFilter {
            services: vec!["WEB".to_owned()],
            regions: vec![],
        };
        let feed = parse_feed_json("meta.json", GITHUB, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["192.0.2.0/24", "2001:db8:2::/48"]);
        let filter = FeedFilter {
            services: vec![],
            regions: vec!["us".to_owned()],
        };
        let errors = parse_feed_json("meta.json", GITHUB, None, &filter).unwrap_err();
        assert!(
            errors[0]
                .reason
                .contains("github feed has no region labels"),
            "{errors:?}"
        );
    }

    #[test]
    fn atlassian_items() {
        let feed = parse_feed_json("atl.json", ATLASSIAN, None, &none()).unwrap();
        assert_eq!(feed.format, FeedFormat::Atlassian);
        assert_eq!(
            feed.version,
            Some(("syncToken".to_owned(), "1700000123".to_owned()))
        );
        assert_eq!(
            feed.label_of(&feed.entries[0]).service.as_deref(),
            Some("jira,confluence")
        );
        assert_eq!(
            feed.label_of(&feed.entries[0]).region.as_deref(),
            Some("us-east-1,us-west-2")
        );
        let filter = FeedFilter {
            services: vec!["Confluence".to_owned()],
            regions: vec![],
        };
        let feed = parse_feed_json("atl.json", ATLASSIAN, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["192.0.2.0/25"]);
        let filter = FeedFilter {
            services: vec![],
            regions: vec!["global".to_owned()],
        };
        let feed = parse_feed_json("atl.json", ATLASSIAN, None, &filter).unwrap();
        assert_eq!(nets(&feed), ["2001:db8:7::/48"]);
    }

    #[test]
    fn unknown_shape_names_the_formats_tried() {
        let errors = parse_feed_json("x.json", "{\n \"hello\": 1\n}\n", None, &none()).unwrap_err();
        assert_eq!(errors.len(), 1);
        let reason = &errors[0].reason;
        for name in ["aws", "azure", "gcp", "github", "atlassian"] {
            assert!(reason.contains(name), "{reason}");
        }
        assert_eq!(errors[0].origin.to_string(), "x.json:1");
    }

    #[test]
    fn invalid_json_has_serde_json_line() {
        let input = "{\n  \"syncToken\": \"1\",\n  \"prefixes\": [\n    {\"ip_prefix\": \"10.0.0.0/8\",}\n  ]\n}\n";
        let errors = parse_feed_json("x.json", input, None, &none()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].origin.line, 4);
        assert!(
            errors[0].reason.starts_with("invalid JSON"),
            "{}",
            errors[0].reason
        );
        assert!(errors[0].text.contains("ip_prefix"));
    }

    #[test]
    fn explicit_format_mismatch_and_cidr() {
        let errors = parse_feed_json("x.json", GITHUB, Some(FeedFormat::Aws), &none()).unwrap_err();
        assert!(errors[0].reason.starts_with("not a aws feed"), "{errors:?}");
        let errors =
            parse_feed_json("x", "10.0.0.0/8", Some(FeedFormat::Cidr), &none()).unwrap_err();
        assert_eq!(errors.len(), 1);
        let errors = parse_feed_json("x", "10.0.0.0/8\n", None, &none()).unwrap_err();
        assert!(errors[0].reason.contains("tried aws, azure"), "{errors:?}");
        // An explicit format reads a feed that auto-detection would also find.
        let feed = parse_feed_json("x", GOOG, Some(FeedFormat::Gcp), &none()).unwrap();
        assert_eq!(feed.entries.len(), 3);
    }

    #[test]
    fn bom_and_escaped_slashes() {
        let input = "\u{feff}{\"createDate\": \"x\", \"prefixes\": [{\"ip_prefix\": \"10.0.0.0\\/8\", \"service\": \"S\"}]}";
        let feed = parse_feed_json("x", input, None, &none()).unwrap();
        assert_eq!(nets(&feed), ["10.0.0.0/8"]);
    }

    proptest::proptest! {
        #[test]
        fn never_panics(input in ".{0,200}") {
            let _ = detect(&input);
            let _ = parse_feed_json("p", &input, None, &FeedFilter::default());
            let _ = json::parse(&input);
        }

        #[test]
        fn never_panics_on_jsonish(input in "[\\[\\]{}\",:0-9a-z\\\\ \n.-]{0,120}") {
            let _ = json::parse(&input);
            let _ = parse_feed_json("p", &input, None, &FeedFilter::default());
        }
    }
}
