//! `reach run PREFLIGHT.toml`: every check of a file, at once.
//!
//! Each entry becomes the command line of the command it names (`[[sso]]`
//! is `reach sso …`), parsed by the same clap definitions and run by the
//! same code as when typed: one way to make each check. Keys are the
//! commands' long flags with `_` for `-`; `[defaults]` adds the shared
//! network options. Bad entries become input-error checks naming
//! `file:line:column`; the others still run.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Parser;
use reach_report::{Check, CheckKind};
use serde::Deserialize;
use toml::Spanned;

use crate::args::{Cli, OutputArgs, RunArgs};

/// How a key becomes arguments.
#[derive(Debug, Clone, Copy)]
enum Arg {
    /// `true` → `--flag`.
    Flag(&'static str),
    /// A scalar → `--flag VALUE`.
    One(&'static str),
    /// A scalar or an array → `--flag V` for each.
    Many(&'static str),
    /// A path (relative to the file) → `--flag PATH`.
    Path(&'static str),
    /// Paths, or URLs kept as they are.
    Paths(&'static str),
    /// `BROWSER[:PROFILE]`, a relative PROFILE path taken from the file.
    Browser(&'static str),
    /// The command's positional argument(s).
    Positional,
}

impl Arg {
    /// The option the key becomes (`--redirect-url`); none for positionals.
    fn flag(self) -> Option<&'static str> {
        match self {
            Arg::Flag(f)
            | Arg::One(f)
            | Arg::Many(f)
            | Arg::Path(f)
            | Arg::Paths(f)
            | Arg::Browser(f) => Some(f),
            Arg::Positional => None,
        }
    }
}

/// The argument of `key` in `keys`: by the key's name (`redirect_urls`), or
/// by its option's own name with `_` for `-` (`redirect_url` for
/// `--redirect-url`), so that either spelling works.
fn lookup(keys: &[(&'static str, Arg)], key: &str) -> Option<Arg> {
    let by_option = |arg: Arg| {
        arg.flag()
            .and_then(|f| f.strip_prefix("--"))
            .is_some_and(|f| f.replace('-', "_") == key)
    };
    keys.iter()
        .find(|(k, _)| *k == key)
        .or_else(|| keys.iter().find(|(_, a)| by_option(*a)))
        .map(|(_, a)| *a)
}

/// Whether an entry's `table` sets the network option of the `[defaults]`
/// key `key`, under either of its names.
fn sets(table: &toml::Table, key: &str) -> bool {
    let option = lookup(NETWORK, key).and_then(Arg::flag);
    option.is_some()
        && table
            .keys()
            .any(|k| lookup(NETWORK, k).and_then(Arg::flag) == option)
}

/// Keys every networked kind takes (and `[defaults]` holds).
const NETWORK: &[(&str, Arg)] = &[
    // First: the one key of every kind (see `Table::shared`).
    ("timeout", Arg::One("--timeout")),
    ("dns_servers", Arg::Many("--dns-server")),
    ("resolve", Arg::Many("--resolve")),
    ("ca_files", Arg::Paths("--ca-file")),
    ("client_cert", Arg::Path("--client-cert")),
    ("client_key", Arg::Path("--client-key")),
    ("proxy", Arg::One("--proxy")),
    ("noproxy", Arg::One("--noproxy")),
];

/// A kind's preflight table (named by the kind, `[[oauth_token]]`): the
/// command words, whether it takes the network options, and its own keys.
struct Table {
    kind: CheckKind,
    command: &'static [&'static str],
    network: bool,
    keys: &'static [(&'static str, Arg)],
}

impl Table {
    fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The keys of every command this kind shares: the network options, or
    /// only `timeout` (every command has `--timeout`).
    fn shared(&self) -> &'static [(&'static str, Arg)] {
        if self.network { NETWORK } else { &NETWORK[..1] }
    }
}

const TABLES: &[Table] = &[
    Table {
        kind: CheckKind::Endpoint,
        command: &["check"],
        network: true,
        keys: &[
            ("url", Arg::Positional),
            ("urls", Arg::Positional),
            ("method", Arg::One("--method")),
            ("headers", Arg::Many("--header")),
            ("follow", Arg::Flag("--follow")),
            ("max_redirects", Arg::One("--max-redirects")),
            ("tls", Arg::Flag("--tls")),
            ("max_body", Arg::One("--max-body")),
            ("expiry_warn_days", Arg::One("--expiry-warn-days")),
        ],
    },
    Table {
        kind: CheckKind::Allowlist,
        command: &["allowlist"],
        network: true,
        keys: &[
            ("published", Arg::Paths("--published")),
            ("published_format", Arg::One("--published-format")),
            ("allowlist", Arg::Paths("--allowlist")),
            ("allowlist_format", Arg::One("--allowlist-format")),
            ("services", Arg::Many("--service")),
            ("regions", Arg::Many("--region")),
            ("direction", Arg::One("--direction")),
            ("port", Arg::One("--port")),
            ("lenient", Arg::Flag("--lenient")),
            ("hosts", Arg::Many("--host")),
            ("broad_prefix", Arg::One("--broad-prefix")),
            ("broad_prefix6", Arg::One("--broad-prefix6")),
        ],
    },
    Table {
        kind: CheckKind::Sso,
        command: &["sso"],
        network: true,
        keys: &[
            ("url", Arg::Positional),
            ("max_hops", Arg::One("--max-hops")),
            ("cookie_jar", Arg::Path("--cookie-jar")),
            ("cookies", Arg::Many("--cookie")),
            (
                "cookies_from_browser",
                Arg::Browser("--cookies-from-browser"),
            ),
            ("compare_clean", Arg::Flag("--compare-clean")),
            ("expiry_warn_days", Arg::One("--expiry-warn-days")),
        ],
    },
    Table {
        kind: CheckKind::OauthScopes,
        command: &["oauth", "scopes"],
        network: false,
        keys: &[
            ("url", Arg::One("--url")),
            ("app", Arg::Path("--app")),
            ("required", Arg::Many("--required")),
            ("conditional", Arg::Many("--conditional")),
            ("optional", Arg::Many("--optional")),
            ("redirect_urls", Arg::Many("--redirect-url")),
        ],
    },
    Table {
        kind: CheckKind::OauthToken,
        command: &["oauth", "token"],
        network: true,
        keys: &[
            ("token_url", Arg::One("--token-url")),
            ("client_id", Arg::One("--client-id")),
            ("client_secret_env", Arg::One("--client-secret-env")),
            ("client_secret_file", Arg::Path("--client-secret-file")),
            ("grant", Arg::One("--grant")),
            ("refresh_token_env", Arg::One("--refresh-token-env")),
            ("refresh_token_file", Arg::Path("--refresh-token-file")),
            ("scope", Arg::Many("--scope")),
            ("auth", Arg::One("--auth")),
            ("expiry_warn_days", Arg::One("--expiry-warn-days")),
        ],
    },
    Table {
        kind: CheckKind::OauthDiscover,
        command: &["oauth", "discover"],
        network: true,
        keys: &[
            ("issuer", Arg::Positional),
            ("scope", Arg::Many("--scope")),
            ("expiry_warn_days", Arg::One("--expiry-warn-days")),
        ],
    },
];

/// The file: `[defaults]` and the entries of each kind, each table with
/// where it starts. Its tables are the kinds' names ([`CheckKind::ALL`]);
/// any other is refused as serde refuses an unknown field, at its place.
#[derive(Debug, Default)]
struct Document {
    defaults: Option<Spanned<toml::Table>>,
    /// `[modules.NAME]`: `reach serve`'s endpoint options by name (`reach
    /// run` reads them and runs none).
    modules: Option<Spanned<toml::Table>>,
    entries: HashMap<CheckKind, Vec<Spanned<toml::Table>>>,
    /// Tables that are not a kind's (`[[endpiont]]`): each name and where
    /// it is, reported while the others run.
    unknown: Vec<Spanned<String>>,
}

/// A top-level table's name: `defaults`, a kind's, or another.
enum TableName {
    Defaults,
    Modules,
    Kind(CheckKind),
    Unknown,
}

impl TableName {
    fn of(name: &str) -> TableName {
        if name == "defaults" {
            return TableName::Defaults;
        }
        if name == "modules" {
            return TableName::Modules;
        }
        CheckKind::ALL
            .into_iter()
            .find(|k| k.name() == name)
            .map_or(TableName::Unknown, TableName::Kind)
    }
}

impl<'de> Deserialize<'de> for Document {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Tables;
        impl<'de> serde::de::Visitor<'de> for Tables {
            type Value = Document;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a preflight file")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<Document, M::Error> {
                let mut doc = Document::default();
                while let Some(name) = map.next_key::<Spanned<String>>()? {
                    match TableName::of(name.get_ref()) {
                        TableName::Defaults => doc.defaults = Some(map.next_value()?),
                        TableName::Modules => doc.modules = Some(map.next_value()?),
                        TableName::Kind(kind) => {
                            doc.entries.insert(kind, map.next_value()?);
                        }
                        TableName::Unknown => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            doc.unknown.push(name);
                        }
                    }
                }
                Ok(doc)
            }
        }
        deserializer.deserialize_map(Tables)
    }
}

/// Where a key of an entry is written, and the words it became.
struct Place {
    key: String,
    /// `file:line:column`.
    at: String,
    /// The same, as a byte offset: for file order.
    offset: usize,
    /// The key is `[defaults]`' (the entry takes it from there).
    default: bool,
    /// `--flag=VALUE` words.
    words: Vec<String>,
}

impl Place {
    /// Whether an input error about `target` (the check's) and `message`
    /// concerns this key: it names the key's option or quotes its value.
    fn concerns(&self, target: &str, message: &str) -> bool {
        self.words.iter().any(|word| {
            let (flag, value) = word.split_once('=').unwrap_or((word, ""));
            let short = match flag {
                "--header" => "-H",
                "--method" => "-X",
                _ => flag,
            };
            let named = |text: &str| {
                text.split_whitespace()
                    .any(|w| w == flag || w == short || w.starts_with(&format!("{flag}=")))
            };
            named(target)
                || named(message)
                || (value.chars().count() >= 2
                    && (target.contains(value) || message.contains(value)))
        })
    }
}

/// Where an entry (or a module) starts and where each of its keys is
/// written: to say at which `file:line:column` a problem found later lies.
pub(crate) struct Located {
    /// Where the entry starts (`file:line:column`).
    at: String,
    /// The same, as a byte offset: for file order.
    pub(crate) offset: usize,
    places: Vec<Place>,
}

/// Where in the file a problem lies: `file:line:column` and its byte
/// offset, and the key when a key holds it (`[defaults]`' when `default`).
pub(crate) struct Spot<'a> {
    pub(crate) at: &'a str,
    pub(crate) offset: usize,
    pub(crate) key: Option<&'a str>,
    pub(crate) default: bool,
}

impl Spot<'_> {
    /// What a message about this spot starts with: the place and the key
    /// (``pre.toml:7:1: `proxy` ``, with `in [defaults]` for a default),
    /// or the place alone.
    pub(crate) fn said(&self) -> String {
        match (self.key, self.default) {
            (Some(key), true) => format!("{}: `{key}` in [defaults]", self.at),
            (Some(key), false) => format!("{}: `{key}`", self.at),
            (None, _) => self.at.to_owned(),
        }
    }
}

impl Located {
    /// The key whose option a problem of the check of `target` names (in
    /// `target` or `message`) or whose value it quotes.
    pub(crate) fn key(&self, target: &str, message: &str) -> Option<Spot<'_>> {
        self.places
            .iter()
            .find(|p| p.concerns(target, message))
            .map(|p| Spot {
                at: &p.at,
                offset: p.offset,
                key: Some(&p.key),
                default: p.default,
            })
    }

    /// Where a problem of the check of `target` lies: at [`Located::key`],
    /// else where the entry starts.
    pub(crate) fn place(&self, target: &str, message: &str) -> Spot<'_> {
        self.key(target, message).unwrap_or(Spot {
            at: &self.at,
            offset: self.offset,
            key: None,
            default: false,
        })
    }
}

/// One entry, ready to run or already an error.
struct Entry {
    kind: &'static Table,
    label: String,
    plan: Result<Vec<String>, String>,
    /// Where it starts and where its keys are.
    located: Located,
}

/// `file:line:column` of a byte offset.
fn position(file: &str, text: &str, offset: usize) -> String {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    format!("{file}:{line}:{column}")
}

/// Where `key` is written inside `span` (a line starting with it), else
/// the span's start.
fn key_offset(text: &str, span: std::ops::Range<usize>, key: &str) -> usize {
    // A table's span may cover only its `[[header]]`: its keys run to the
    // next header.
    let from = text.get(span.start..).unwrap_or("");
    let header_end = from.find('\n').map_or(from.len(), |i| i + 1);
    let end = from[header_end..]
        .find("\n[")
        .map_or(from.len(), |i| header_end + i + 1)
        .max(span.end.saturating_sub(span.start).min(from.len()));
    let region = &from[..end];
    let mut at = 0;
    for line in region.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indent = line.len() - trimmed.len();
        let bare = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('=') || rest.starts_with('.'));
        let quoted = trimmed.starts_with(&format!("\"{key}\""));
        if bare || quoted {
            return span.start + at + indent;
        }
        at += line.len();
    }
    span.start
}

/// `${NAME}` replaced by the environment variable NAME.
fn expand(value: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit());
        if valid {
            let v = std::env::var(name)
                .map_err(|_| format!("${{{name}}}: the environment variable is not set"))?;
            out.push_str(&v);
        } else {
            out.push_str(&rest[start..=start + 2 + end]);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A scalar as a command-line word.
fn scalar(value: &toml::Value) -> Result<String, String> {
    match value {
        toml::Value::String(s) => expand(s),
        toml::Value::Integer(i) => Ok(i.to_string()),
        toml::Value::Float(f) => Ok(f.to_string()),
        toml::Value::Boolean(b) => Ok(b.to_string()),
        other => Err(format!(
            "expected a string or a number, found {}",
            other.type_str()
        )),
    }
}

fn resolve_path(base: &Path, value: &str) -> String {
    let p = Path::new(value);
    if p.is_absolute() {
        value.to_owned()
    } else {
        base.join(p).display().to_string()
    }
}

/// The arguments `key = value` adds.
fn arguments(
    arg: Arg,
    value: &toml::Value,
    base: &Path,
    flags: &mut Vec<String>,
    positionals: &mut Vec<String>,
) -> Result<(), String> {
    let many = |value: &toml::Value| -> Result<Vec<String>, String> {
        match value {
            toml::Value::Array(items) => items.iter().map(scalar).collect(),
            other => Ok(vec![scalar(other)?]),
        }
    };
    match arg {
        Arg::Flag(flag) => match value {
            toml::Value::Boolean(true) => flags.push(flag.to_owned()),
            toml::Value::Boolean(false) => {}
            other => {
                return Err(format!(
                    "expected true or false, found {}",
                    other.type_str()
                ));
            }
        },
        // `--flag=VALUE`, one word: a value that starts with `-` is a
        // value, never taken for an option (whose error would quote it).
        Arg::One(flag) => {
            if matches!(value, toml::Value::Array(_)) {
                return Err("expected one value, found an array".to_owned());
            }
            flags.push(format!("{flag}={}", scalar(value)?));
        }
        Arg::Many(flag) => {
            for v in many(value)? {
                flags.push(format!("{flag}={v}"));
            }
        }
        Arg::Path(flag) => {
            flags.push(format!("{flag}={}", resolve_path(base, &scalar(value)?)));
        }
        Arg::Paths(flag) => {
            for v in many(value)? {
                let v = if v.contains("://") {
                    v
                } else {
                    resolve_path(base, &v)
                };
                flags.push(format!("{flag}={v}"));
            }
        }
        Arg::Browser(flag) => {
            if matches!(value, toml::Value::Array(_)) {
                return Err("expected one value, found an array".to_owned());
            }
            let spec = scalar(value)?;
            let spec = match spec.split_once(':') {
                // A path, as reach_sso::browser reads PROFILE, but relative.
                Some((browser, profile))
                    if profile.contains('/') && !profile.starts_with(['/', '~']) =>
                {
                    format!("{browser}:{}", resolve_path(base, profile))
                }
                _ => spec,
            };
            flags.push(format!("{flag}={spec}"));
        }
        Arg::Positional => positionals.extend(many(value)?),
    }
    Ok(())
}

/// The preflight file being read.
struct Source<'a> {
    file: &'a str,
    text: &'a str,
    /// Its folder: relative paths start there.
    base: &'a Path,
    /// Where `[defaults]` is, when the file has it.
    defaults: Option<std::ops::Range<usize>>,
}

/// The command line of one entry.
fn plan(
    kind: &Table,
    table: &toml::Table,
    defaults: &toml::Table,
    src: &Source<'_>,
    span: std::ops::Range<usize>,
    fallback_timeout: Duration,
    places: &mut Vec<Place>,
) -> Result<Vec<String>, String> {
    let mut flags: Vec<String> = Vec::new();
    let mut positionals: Vec<String> = Vec::new();
    let find = |key: &str| -> Option<Arg> {
        lookup(kind.keys, key).or_else(|| lookup(kind.shared(), key))
    };
    for (key, value) in table {
        if key == "name" {
            continue;
        }
        let offset = key_offset(src.text, span.clone(), key);
        let at = || position(src.file, src.text, offset);
        let Some(arg) = find(key) else {
            let mut known: Vec<&str> = kind.keys.iter().map(|(k, _)| *k).collect();
            known.extend(kind.shared().iter().map(|(k, _)| *k));
            known.push("name");
            return Err(format!(
                "{}: unknown key `{key}` in [[{}]] (known: {})",
                at(),
                kind.name(),
                known.join(", ")
            ));
        };
        let before = flags.len();
        arguments(arg, value, src.base, &mut flags, &mut positionals)
            .map_err(|e| format!("{}: `{key}`: {e}", at()))?;
        places.push(Place {
            key: key.clone(),
            at: at(),
            offset,
            default: false,
            words: flags[before..].to_vec(),
        });
    }
    // Defaults the entry does not override.
    if kind.network {
        for (key, value) in defaults {
            if sets(table, key) {
                continue;
            }
            if let Some(arg) = lookup(NETWORK, key) {
                let before = flags.len();
                arguments(arg, value, src.base, &mut flags, &mut positionals)
                    .map_err(|e| format!("{}: [defaults] `{key}`: {e}", src.file))?;
                if let Some(span) = &src.defaults {
                    let offset = key_offset(src.text, span.clone(), key);
                    places.push(Place {
                        key: key.clone(),
                        at: position(src.file, src.text, offset),
                        offset,
                        default: true,
                        words: flags[before..].to_vec(),
                    });
                }
            }
        }
    } else if let Some(timeout) = defaults
        .get("timeout")
        .filter(|_| !table.contains_key("timeout"))
    {
        let timeout =
            scalar(timeout).map_err(|e| format!("{}: [defaults] `timeout`: {e}", src.file))?;
        flags.push(format!("--timeout={timeout}"));
    }
    // Neither the entry nor [defaults] set a timeout: the run's own.
    if !flags.iter().any(|f| f.starts_with("--timeout=")) {
        flags.push(format!(
            "--timeout={}ms",
            fallback_timeout.as_millis().max(1)
        ));
    }
    let mut argv = vec!["reach".to_owned()];
    argv.extend(kind.command.iter().map(|s| (*s).to_owned()));
    argv.extend(flags);
    if !positionals.is_empty() {
        argv.push("--".to_owned());
        argv.extend(positionals);
    }
    Ok(argv)
}

/// Reads the file into entries, in file order; `Err` when the file itself
/// cannot be read or is not TOML of the known shape.
async fn entries(path: &Path, args: &RunArgs, timeout: Duration) -> Result<Vec<Entry>, String> {
    let text = read(path, "", timeout).await?;
    entries_of(path, &text, args, timeout)
}

/// A preflight file's text, through the one bounded input reader; `flag`
/// is the option that named it (`--config`), if one did.
pub(crate) async fn read(path: &Path, flag: &str, timeout: Duration) -> Result<String, String> {
    use crate::input::{Kind, Whole};
    let file = path.display().to_string();
    crate::input::read(
        &file,
        flag,
        Kind::Preflight,
        timeout,
        Whole::new(Kind::Preflight),
    )
    .await
}

/// The command lines of a preflight file's checks (for the fuzzer: any
/// text, never a panic).
pub(crate) fn plan_text(text: &str) -> usize {
    let args = RunArgs {
        file: PathBuf::from("fuzz.toml"),
        concurrency: 1,
        only: Vec::new(),
        skip: Vec::new(),
    };
    entries_of(Path::new("fuzz.toml"), text, &args, Duration::from_secs(10)).map_or(0, |e| e.len())
}

fn entries_of(
    path: &Path,
    text: &str,
    args: &RunArgs,
    timeout: Duration,
) -> Result<Vec<Entry>, String> {
    parsed(path, text, args, timeout).map(|(entries, _)| entries)
}

/// A `[modules.NAME]` table: `reach check`'s command line without its
/// target, or why it cannot be one.
struct Module {
    name: String,
    plan: Result<Vec<String>, String>,
    /// Where its table starts and where its keys are.
    located: Located,
}

/// The file's entries, in file order, and its modules.
fn parsed(
    path: &Path,
    text: &str,
    args: &RunArgs,
    timeout: Duration,
) -> Result<(Vec<Entry>, Vec<Module>), String> {
    let file = path.display().to_string();
    let text = text.to_owned();
    let doc: Document = toml::from_str(&text).map_err(|e| {
        let at = e
            .span()
            .map_or_else(|| file.clone(), |s| position(&file, &text, s.start));
        format!("{at}: {}", e.message())
    })?;
    let base = path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let src = Source {
        file: &file,
        text: &text,
        base: &base,
        defaults: doc.defaults.as_ref().map(Spanned::span),
    };
    // Every problem of the file is reported at once, at its place; the
    // entries it does not concern still run.
    let mut out = Vec::new();
    for name in &doc.unknown {
        let at = position(&file, &text, name.span().start);
        let known: Vec<String> = CheckKind::ALL
            .iter()
            .map(|k| format!("[[{}]]", k.name()))
            .collect();
        out.push(problem(
            name.span().start,
            format!("[[{}]]", name.get_ref()),
            at.clone(),
            format!(
                "{at}: unknown table `{}` (known: [defaults], {}, and [modules.NAME] for reach serve)",
                name.get_ref(),
                known.join(", ")
            ),
        ));
    }
    let (defaults, bad_defaults) = match &doc.defaults {
        Some(d) => checked_defaults(d, &src, &mut out),
        None => (toml::Table::new(), Vec::new()),
    };
    let defaults = &defaults;
    for kind in TABLES {
        let wanted = (args.only.is_empty() || args.only.contains(&kind.kind))
            && !args.skip.contains(&kind.kind);
        let Some(list) = doc.entries.get(&kind.kind).filter(|_| wanted) else {
            continue;
        };
        for (i, entry) in list.iter().enumerate() {
            let table = entry.get_ref();
            let label = table
                .get("name")
                .and_then(toml::Value::as_str)
                .map_or_else(|| format!("{} #{}", kind.name(), i + 1), str::to_owned);
            let mut places = Vec::new();
            let entry_at = position(&file, &text, entry.span().start);
            // A bad default the entry would take holds it back, named by
            // where it is; the entry's own value wins over it.
            let held = bad_defaults
                .iter()
                .find(|(key, _)| !sets(table, key) && (kind.network || key == "timeout"));
            let plan = match held {
                Some((key, at)) => Err(format!(
                    "{entry_at}: not run: it takes [defaults] `{key}` ({at}), which is invalid"
                )),
                None => plan(
                    kind,
                    table,
                    defaults,
                    &src,
                    entry.span(),
                    timeout,
                    &mut places,
                ),
            };
            out.push(Entry {
                kind,
                label,
                plan,
                located: Located {
                    at: entry_at,
                    offset: entry.span().start,
                    places,
                },
            });
        }
    }
    out.sort_by_key(|e| e.located.offset);
    let modules = match &doc.modules {
        Some(modules) => planned_modules(modules, defaults, &src, timeout),
        None => Vec::new(),
    };
    Ok((out, modules))
}

/// Each `[modules.NAME]` as an endpoint entry without its target.
fn planned_modules(
    modules: &Spanned<toml::Table>,
    defaults: &toml::Table,
    src: &Source<'_>,
    timeout: Duration,
) -> Vec<Module> {
    let endpoint = &TABLES[0];
    let mut out = Vec::new();
    for (name, value) in modules.get_ref() {
        // A module's keys sit in its own `[modules.NAME]` table when it
        // has one: where it starts, else where the modules' table does.
        let header = format!("[modules.{name}]");
        let span = match src.text.find(&header) {
            Some(start) => start..start + header.len(),
            None => modules.span(),
        };
        let (at, offset) = (position(src.file, src.text, span.start), span.start);
        let mut places = Vec::new();
        let plan = match value.as_table() {
            None => Err(format!(
                "{at}: [modules.{name}] must be a table of endpoint options"
            )),
            Some(table) => {
                if let Some(key) = ["url", "urls"].iter().find(|k| table.contains_key(**k)) {
                    let key_at =
                        position(src.file, src.text, key_offset(src.text, span.clone(), key));
                    Err(format!(
                        "{key_at}: [modules.{name}] has `{key}`: a module's target comes from the probe (/probe?target=URL)"
                    ))
                } else {
                    plan(endpoint, table, defaults, src, span, timeout, &mut places)
                }
            }
        };
        out.push(Module {
            name: name.clone(),
            plan,
            located: Located { at, offset, places },
        });
    }
    out
}

/// `reach serve`'s configuration: the checks of a preflight file, by name,
/// for `/probe?check=NAME`, and its `[modules.NAME]` for
/// `/probe?target=URL&module=NAME`, each as the command line it runs.
pub(crate) struct ServeConfig {
    /// Name → `reach check` of a stand-in target ([`MODULE_TARGET`]), which
    /// each probe replaces with its own.
    pub(crate) modules: HashMap<String, Cli>,
    /// Name (or `endpoint #2` for an entry without one) → the command line.
    pub(crate) checks: HashMap<String, (CheckKind, Cli)>,
    /// Where each module and each check is written, by the name it has in
    /// `modules` or `checks`: a problem found once the file is read (a
    /// proxy URL a network cannot use) is said at its key's place too.
    pub(crate) module_places: HashMap<String, Located>,
    pub(crate) check_places: HashMap<String, Located>,
}

/// The target a module's command line is parsed with, once, at start.
pub(crate) const MODULE_TARGET: &str = "https://module.invalid/";

/// Reads `text`, the file at `path`, as `reach serve`'s configuration.
/// Every problem is returned at once, each at its `file:line:column`: an
/// exporter does not start on a configuration it cannot fully use.
pub(crate) fn serve_config(
    path: &Path,
    text: &str,
    timeout: Duration,
) -> Result<ServeConfig, Vec<String>> {
    let args = RunArgs {
        file: path.to_path_buf(),
        concurrency: 1,
        only: Vec::new(),
        skip: Vec::new(),
    };
    let (entries, modules) = parsed(path, text, &args, timeout).map_err(|e| vec![e])?;
    let mut problems = Vec::new();
    let mut config = ServeConfig {
        modules: HashMap::new(),
        checks: HashMap::new(),
        module_places: HashMap::new(),
        check_places: HashMap::new(),
    };
    for module in modules {
        // Parsed once, with a stand-in target.
        let cli = module.plan.and_then(|mut words| {
            words.extend(["--".to_owned(), MODULE_TARGET.to_owned()]);
            Cli::try_parse_from(&words).map_err(|e| {
                format!(
                    "{}: [modules.{}]: {}",
                    module.located.at,
                    module.name,
                    clap_reason(&e)
                )
            })
        });
        match cli {
            Ok(cli) => {
                config.modules.insert(module.name.clone(), cli);
                config.module_places.insert(module.name, module.located);
            }
            Err(message) => problems.push(message),
        }
    }
    for entry in entries {
        match command_line(&entry, path) {
            Err(check) => problems.extend(check.findings.into_iter().map(|f| f.message)),
            Ok(_) if config.checks.contains_key(&entry.label) => problems.push(format!(
                "{}: a second check named `{}`: /probe?check=NAME needs each name once",
                entry.located.at, entry.label
            )),
            Ok(cli) => {
                config
                    .checks
                    .insert(entry.label.clone(), (entry.kind.kind, cli));
                config.check_places.insert(entry.label, entry.located);
            }
        }
    }
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// The first line of clap's refusal, without its `error: `.
fn clap_reason(error: &clap::Error) -> String {
    let text = error.to_string();
    text.lines()
        .next()
        .unwrap_or("")
        .trim_start_matches("error: ")
        .to_owned()
}

/// Runs the file's checks, `args.concurrency` at once, and returns them in
/// file order.
pub(crate) async fn run(args: &RunArgs, output: &OutputArgs) -> anyhow::Result<Vec<Check>> {
    let file = args.file.display().to_string();
    let entries = match entries(&args.file, args, output.timeout).await {
        // A file with nothing to run is a mistake (the wrong file, a
        // misspelt table), never a green run of no checks.
        Ok(e) if e.is_empty() => Err(nothing_to_run(&file, args)),
        found => found,
    };
    let entries = match entries {
        Ok(e) => e,
        Err(message) => {
            return Ok(vec![Check::input_error(CheckKind::Endpoint, file, message)]);
        }
    };
    let owner = crate::partial::plan(
        entries
            .iter()
            .map(|e| (e.kind.kind, e.label.clone()))
            .collect(),
    );
    let progress = Progress::new(entries.len(), output.quiet);
    let (at_once, note) = crate::limits::concurrency(args.concurrency as usize);
    if let Some(note) = note {
        crate::to_stderr(&format!("reach: {note}"));
    }
    let limit = Arc::new(tokio::sync::Semaphore::new(at_once));
    // Entries with the same network options share one network.
    let context = crate::network::Context::new(output.timeout);
    let mut tasks = tokio::task::JoinSet::new();
    let mut results: Vec<Option<Vec<Check>>> = Vec::new();
    results.resize_with(entries.len(), || None);
    for (index, entry) in entries.into_iter().enumerate() {
        let cli = match command_line(&entry, &args.file) {
            Ok(cli) => cli,
            Err(check) => {
                results[index] = if owner {
                    crate::partial::finished(index, vec![check])
                } else {
                    Some(vec![check])
                };
                progress.done(index);
                continue;
            }
        };
        let limit = Arc::clone(&limit);
        let progress = progress.clone();
        let label = entry.label.clone();
        let file = args.file.display().to_string();
        let located = entry.located;
        let kind = entry.kind.kind;
        let context = context.with_timeout(cli.output.timeout);
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            progress.start(index, &label);
            let checks = match crate::checks_for(&cli.command, &context).await {
                Ok(checks) => checks,
                Err(e) => vec![Check::input_error(kind, &label, format!("{label}: {e:#}"))],
            };
            progress.done(index);
            let checks: Vec<Check> = checks
                .into_iter()
                .map(|c| placed(named(c, &label), &file, &located))
                .collect();
            (index, checks)
        });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Some((index, checks)) = crate::input::joined_task(joined) {
            // Written now with --format jsonl, and then not kept.
            results[index] = if owner {
                crate::partial::finished(index, checks)
            } else {
                Some(checks)
            };
        }
    }
    progress.finish();
    if owner {
        return Ok(crate::partial::take_finished());
    }
    Ok(results.into_iter().flatten().flatten().collect())
}

/// A problem of the file itself (an unknown table, a bad `[defaults]`
/// key): an entry that reports it and runs nothing.
fn problem(offset: usize, label: String, at: String, message: String) -> Entry {
    Entry {
        kind: &TABLES[0],
        label,
        plan: Err(message),
        located: Located {
            at,
            offset,
            places: Vec::new(),
        },
    }
}

/// `[defaults]` with its bad keys taken out: each unknown key or value
/// that does not parse is a [`problem`] at its line, in the file's words
/// (`timeout = "3 seconds"`), reported once; the keys and places of the
/// bad values are returned, so that the entries that would take one are
/// held back.
fn checked_defaults(
    defaults: &Spanned<toml::Table>,
    src: &Source<'_>,
    problems: &mut Vec<Entry>,
) -> (toml::Table, Vec<(String, String)>) {
    let mut good = toml::Table::new();
    let mut bad = Vec::new();
    for (key, value) in defaults.get_ref() {
        let offset = key_offset(src.text, defaults.span(), key);
        let at = position(src.file, src.text, offset);
        let line = src.text[offset..].lines().next().unwrap_or_default().trim();
        let Some(arg) = lookup(NETWORK, key) else {
            let known: Vec<&str> = NETWORK.iter().map(|(k, _)| *k).collect();
            let message = format!(
                "{at}: unknown key `{key}` in [defaults] (known: {})",
                known.join(", ")
            );
            problems.push(problem(offset, "[defaults]".to_owned(), at, message));
            continue;
        };
        match default_value_problem(arg, value, src) {
            None => {
                good.insert(key.clone(), value.clone());
            }
            Some(why) => {
                let message = format!("{at}: `{line}` in [defaults]: {why}");
                problems.push(problem(
                    offset,
                    "[defaults]".to_owned(),
                    at.clone(),
                    message,
                ));
                bad.push((key.clone(), at));
            }
        }
    }
    (good, bad)
}

/// Why a `[defaults]` value cannot be used, as the command line would
/// refuse it (the value's own reason, without the flag's name).
fn default_value_problem(arg: Arg, value: &toml::Value, src: &Source<'_>) -> Option<String> {
    let mut flags = Vec::new();
    let mut positionals = Vec::new();
    if let Err(e) = arguments(arg, value, src.base, &mut flags, &mut positionals) {
        return Some(e);
    }
    let words = ["reach", "check"]
        .into_iter()
        .map(str::to_owned)
        .chain(flags)
        .chain(["--".to_owned(), "http://x/".to_owned()]);
    let error = Cli::try_parse_from(words).err()?;
    // The value parser's own reason, without clap's framing.
    Some(std::error::Error::source(&error).map_or_else(|| clap_reason(&error), ToString::to_string))
}

/// Why a preflight file that parsed has no check to run.
fn nothing_to_run(file: &str, args: &RunArgs) -> String {
    let tables: Vec<String> = CheckKind::ALL
        .iter()
        .map(|k| format!("[[{}]]", k.name()))
        .collect();
    if args.only.is_empty() && args.skip.is_empty() {
        format!(
            "{file}: no checks to run: a preflight file lists its checks as tables {}",
            tables.join(", ")
        )
    } else {
        format!("{file}: no checks to run: --only and --skip leave none of the file's checks")
    }
}

/// The entry's command line, parsed by the command's own clap definitions,
/// or the input error that says why it cannot run.
fn command_line(entry: &Entry, file: &Path) -> Result<Cli, Check> {
    let error = |message| {
        named(
            Check::input_error(entry.kind.kind, &entry.label, message),
            &entry.label,
        )
    };
    let words = entry
        .plan
        .as_ref()
        .map_err(|message| error(message.clone()))?;
    Cli::try_parse_from(words).map_err(|e| {
        error(format!(
            "{}: {} ({})",
            file.display(),
            clap_reason(&e),
            entry.label
        ))
    })
}

/// An input error of an entry's check says where in the file the value
/// it is about is written (`pre.toml:7:1: `headers`: invalid header …`),
/// unless it already names the file.
fn placed(mut check: Check, file: &str, located: &Located) -> Check {
    if check.status != reach_report::Status::Error {
        return check;
    }
    let target = check.target.clone();
    for finding in &mut check.findings {
        if finding.code != reach_report::Code::InputInvalid || finding.message.starts_with(file) {
            continue;
        }
        let spot = located.place(&target, &finding.message);
        finding.message = format!("{}: {}", spot.said(), finding.message);
    }
    check
}

fn named(mut check: Check, label: &str) -> Check {
    check.name = Some(label.to_owned());
    check
}

/// The progress bar on stderr, when stderr is a terminal (and not `-q`).
#[derive(Clone)]
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    running: Arc<Mutex<HashMap<usize, (String, Instant)>>>,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Self {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::with_draw_target(
                Some(total as u64),
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} checks  {wide_msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Progress {
            bar,
            running: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    fn start(&self, index: usize, label: &str) {
        if let Ok(mut running) = self.running.lock() {
            // The label is input: shown on the terminal like every stderr line.
            let shown = crate::printer::escape_controls(&reach_report::redact::text(label), &[])
                .into_owned();
            running.insert(index, (shown, Instant::now()));
        }
        self.show_slowest();
    }

    fn done(&self, index: usize) {
        if let Ok(mut running) = self.running.lock() {
            running.remove(&index);
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        self.show_slowest();
    }

    /// The message: the check running longest.
    fn show_slowest(&self) {
        let Some(bar) = &self.bar else { return };
        let slowest = self.running.lock().ok().and_then(|running| {
            running
                .values()
                .min_by_key(|(_, started)| *started)
                .map(|(label, started)| {
                    format!(
                        "slowest: {label} ({:.0} s)",
                        started.elapsed().as_secs_f64()
                    )
                })
        });
        bar.set_message(slowest.unwrap_or_default());
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_table_in_the_report_s_order() {
        let kinds: Vec<CheckKind> = TABLES.iter().map(|t| t.kind).collect();
        assert_eq!(kinds, CheckKind::ALL);
    }

    #[test]
    fn every_problem_of_a_file_is_reported_at_its_place_and_the_rest_runs() {
        let args = RunArgs {
            file: PathBuf::from("f.toml"),
            concurrency: 1,
            only: Vec::new(),
            skip: Vec::new(),
        };
        let text = "[defaults]\ntimeout = \"3 seconds\"\ndns_sever = \"x\"\n\n[[endpiont]]\nurl = \"x\"\n\n[[endpoint]]\nurl = \"http://a/\"\n\n[[endpoint]]\nurl = \"http://b/\"\ntimeout = \"1s\"\n";
        let entries = entries_of(Path::new("f.toml"), text, &args, Duration::from_secs(1))
            .expect("the file is read");
        let plans: Vec<Result<&Vec<String>, &String>> =
            entries.iter().map(|e| e.plan.as_ref()).collect();
        let errors: Vec<&str> = plans
            .iter()
            .filter_map(|p| p.err().map(String::as_str))
            .collect();
        assert_eq!(errors.len(), 4, "{errors:#?}");
        assert!(
            errors[0]
                .starts_with("f.toml:2:1: `timeout = \"3 seconds\"` in [defaults]: unknown unit"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with("f.toml:3:1: unknown key `dns_sever` in [defaults]"),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].starts_with("f.toml:5:3: unknown table `endpiont` (known: [defaults], [[endpoint]], [[allowlist]]"),
            "{}",
            errors[2]
        );
        assert!(
            errors[3].contains("not run: it takes [defaults] `timeout` (f.toml:2:1)"),
            "{}",
            errors[3]
        );
        // The entry with its own timeout runs.
        assert!(
            plans[4].is_ok_and(|w| w.contains(&"--timeout=1s".to_owned())),
            "{plans:#?}"
        );
    }

    #[test]
    fn a_key_may_also_be_its_option_s_own_name() {
        let table = TABLES
            .iter()
            .find(|t| t.kind == CheckKind::OauthScopes)
            .unwrap();
        assert_eq!(
            lookup(table.keys, "redirect_url").and_then(Arg::flag),
            Some("--redirect-url")
        );
        assert_eq!(
            lookup(table.keys, "redirect_urls").and_then(Arg::flag),
            Some("--redirect-url")
        );
        assert_eq!(
            lookup(NETWORK, "dns_server").and_then(Arg::flag),
            Some("--dns-server")
        );
        assert!(lookup(NETWORK, "dns_sever").is_none());
        let entry: toml::Table = toml::from_str("dns_server = \"x\"").unwrap();
        assert!(sets(&entry, "dns_servers"));
        assert!(!sets(&entry, "proxy"));
    }

    #[test]
    fn positions_and_keys() {
        let text = "[defaults]\ntimeout = \"5s\"\n\n[[sso]]\nurl = \"x\"\n  cookie = \"y\"\n";
        assert_eq!(position("f", text, 0), "f:1:1");
        let sso = text.find("[[sso]]").unwrap();
        assert_eq!(
            position("f", text, key_offset(text, sso..text.len(), "cookie")),
            "f:6:3"
        );
        assert_eq!(
            position("f", text, key_offset(text, sso..text.len(), "nope")),
            "f:4:1"
        );
    }

    #[test]
    fn environment_expansion() {
        // SAFETY-free: set_var is safe in edition 2024 only in unsafe; use an
        // existing variable instead.
        let home = std::env::var("PATH").unwrap_or_default();
        assert_eq!(expand("a ${PATH} b").unwrap(), format!("a {home} b"));
        assert_eq!(expand("${ } $x ${1a}").unwrap(), "${ } $x ${1a}");
        assert!(
            expand("${REACH_SURELY_UNSET_VARIABLE}")
                .unwrap_err()
                .contains("not set")
        );
        assert_eq!(expand("tail ${").unwrap(), "tail ${");
    }
}
