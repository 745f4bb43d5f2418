//! The embedded catalogue: its files, their format, and the entries
//! generated from reach's own finding codes.

use std::sync::OnceLock;

use reach_report::Code;
use serde::Deserialize;

use crate::codes::normalize_code;
use crate::text::{Grams, Weights};

/// Every catalogue file, by name: the one list.
pub(crate) const FILES: &[(&str, &str)] = &[
    ("curl", include_str!("../catalogue/curl.toml")),
    ("openssl", include_str!("../catalogue/openssl.toml")),
    ("java", include_str!("../catalogue/java.toml")),
    ("dotnet", include_str!("../catalogue/dotnet.toml")),
    ("python", include_str!("../catalogue/python.toml")),
    ("node", include_str!("../catalogue/node.toml")),
    ("entra", include_str!("../catalogue/entra.toml")),
    ("okta", include_str!("../catalogue/okta.toml")),
    ("hubspot-api", include_str!("../catalogue/hubspot-api.toml")),
    ("hubspot", include_str!("../catalogue/hubspot.toml")),
    ("uipath", include_str!("../catalogue/uipath.toml")),
];

/// Where the generated entries say their texts come from.
const REGISTRY_SOURCE: &str = "reach's finding-code registry (reach-report, code.rs)";

/// Why the catalogue does not load: a fault in the embedded data, which
/// the tests rule out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum LoadError {
    /// A file is not valid TOML or does not have the catalogue's shape.
    #[error("catalogue file {file}.toml does not parse: {message}")]
    Parse { file: String, message: String },
    /// Two entries of one file have the same id.
    #[error("catalogue file {file}.toml: the id `{id}` appears twice")]
    DuplicateId { file: String, id: String },
    /// A code-shaped id (no vendor prefix) that is not a reach finding code.
    #[error("catalogue file {file}.toml: `{id}` is not a reach finding code")]
    UnknownCode { file: String, id: String },
    /// A topic entry lacks its title, cause or remedy.
    #[error("catalogue file {file}.toml: the topic `{id}` needs a {field}")]
    MissingField {
        file: String,
        id: String,
        field: &'static str,
    },
    /// An entry with nothing to match: neither a text nor a code.
    #[error("catalogue file {file}.toml: `{id}` has no text and no code")]
    NothingToMatch { file: String, id: String },
    /// An entry whose source is empty.
    #[error("catalogue file {file}.toml: `{id}` has no source")]
    NoSource { file: String, id: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    entry: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: String,
    source: String,
    check: Option<String>,
    title: Option<String>,
    cause: Option<String>,
    remedy: Option<String>,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    texts: Vec<RawText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    #[allow(
        dead_code,
        reason = "read by people and checked by the parser; matching is language-blind"
    )]
    lang: String,
    text: String,
}

/// One cause, complete: a code's defaults filled in, codes normalised.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) id: String,
    /// The file it comes from (`reach` for a code's own message): test messages name it.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "only the tests' messages name the file")
    )]
    pub(crate) file: &'static str,
    pub(crate) source: String,
    pub(crate) check: Option<String>,
    pub(crate) title: String,
    pub(crate) cause: String,
    pub(crate) remedy: String,
    pub(crate) codes: Vec<String>,
    #[cfg_attr(
        not(test),
        expect(
            dead_code,
            reason = "matching reads `grams`; the tests paste the texts"
        )
    )]
    pub(crate) texts: Vec<String>,
    /// Each text's n-grams, in the order of `texts`.
    pub(crate) grams: Vec<Grams>,
}

/// The loaded catalogue and its n-gram weights.
pub(crate) struct Catalogue {
    pub(crate) entries: Vec<Entry>,
    pub(crate) weights: Weights,
    /// The topics (ids that are no finding code), once each, by id.
    pub(crate) topics: Vec<crate::Topic>,
}

/// The catalogue, loaded once.
pub(crate) fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        let entries = load().expect("the embedded catalogue is valid: the tests load every file");
        let weights = Weights::new(entries.iter().flat_map(|e| &e.grams));
        let mut topics: Vec<crate::Topic> = entries
            .iter()
            .filter(|e| is_topic(&e.id))
            .map(|e| crate::Topic {
                id: e.id.clone(),
                title: e.title.clone(),
                cause: e.cause.clone(),
                remedy: e.remedy.clone(),
            })
            .collect();
        topics.sort_by(|a, b| a.id.cmp(&b.id));
        topics.dedup_by(|a, b| a.id == b.id);
        Catalogue {
            entries,
            weights,
            topics,
        }
    })
}

/// Every file's entries, then one entry per finding code.
pub(crate) fn load() -> Result<Vec<Entry>, LoadError> {
    let mut entries = Vec::new();
    for (file, data) in FILES {
        entries.extend(load_file(file, data)?);
    }
    entries.extend(Code::ALL.iter().map(|code| code_entry(*code)));
    Ok(entries)
}

/// The entries of one file, checked.
pub(crate) fn load_file(file: &'static str, data: &str) -> Result<Vec<Entry>, LoadError> {
    let parsed: File = toml::from_str(data).map_err(|e| LoadError::Parse {
        file: file.to_owned(),
        message: e.to_string(),
    })?;
    let mut entries: Vec<Entry> = Vec::with_capacity(parsed.entry.len());
    for raw in parsed.entry {
        if entries.iter().any(|e| e.id == raw.id) {
            return Err(LoadError::DuplicateId {
                file: file.to_owned(),
                id: raw.id,
            });
        }
        entries.push(entry(file, raw)?);
    }
    Ok(entries)
}

fn entry(file: &'static str, raw: RawEntry) -> Result<Entry, LoadError> {
    let err_id = || (file.to_owned(), raw.id.clone());
    if raw.source.trim().is_empty() {
        let (file, id) = err_id();
        return Err(LoadError::NoSource { file, id });
    }
    if raw.texts.iter().all(|t| t.text.trim().is_empty()) && raw.codes.is_empty() {
        let (file, id) = err_id();
        return Err(LoadError::NothingToMatch { file, id });
    }
    let code = raw.id.parse::<Code>().ok().filter(|c| c.name() == raw.id);
    let (title, cause, remedy) = if let Some(code) = code {
        let info = code.info();
        (
            raw.title.unwrap_or_else(|| info.message.to_owned()),
            raw.cause.unwrap_or_else(|| info.explanation.to_owned()),
            raw.remedy.unwrap_or_else(|| info.remedy.to_owned()),
        )
    } else if is_topic(&raw.id) {
        let missing = |field| {
            let (file, id) = err_id();
            LoadError::MissingField { file, id, field }
        };
        (
            raw.title.clone().ok_or_else(|| missing("title"))?,
            raw.cause.clone().ok_or_else(|| missing("cause"))?,
            raw.remedy.clone().ok_or_else(|| missing("remedy"))?,
        )
    } else {
        let (file, id) = err_id();
        return Err(LoadError::UnknownCode { file, id });
    };
    Ok(Entry {
        id: raw.id,
        file,
        source: raw.source,
        check: raw.check,
        title,
        cause,
        remedy,
        codes: raw.codes.iter().map(|c| normalize_code(c)).collect(),
        grams: raw.texts.iter().map(|t| Grams::of(&t.text)).collect(),
        texts: raw.texts.into_iter().map(|t| t.text).collect(),
    })
}

/// A topic id is `vendor.area.name` whose vendor is not a finding code's
/// area: `entra.signin.redirect_uri` is a topic, `tls.cert_expird` a typo.
fn is_topic(id: &str) -> bool {
    let parts: Vec<&str> = id.split('.').collect();
    let word = |p: &&str| {
        !p.is_empty()
            && p.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    };
    parts.len() >= 3 && parts.iter().all(word) && !Code::ALL.iter().any(|c| c.area() == parts[0])
}

/// The entry of a finding code's own message: generated, never copied.
fn code_entry(code: Code) -> Entry {
    let info = code.info();
    Entry {
        id: info.name.to_owned(),
        file: "reach",
        source: REGISTRY_SOURCE.to_owned(),
        check: None,
        title: info.message.to_owned(),
        cause: info.explanation.to_owned(),
        remedy: info.remedy.to_owned(),
        codes: vec![info.name.to_owned()],
        texts: vec![info.message.to_owned()],
        grams: vec![Grams::of(info.message)],
    }
}
