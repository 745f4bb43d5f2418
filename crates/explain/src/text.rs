//! Text normalisation, noise stripping and n-gram scoring.

use std::collections::{HashMap, HashSet};

use unicode_normalization::UnicodeNormalization;

/// How much of the score is the share of the catalogue text found in the
/// query; the rest is the share of the query the catalogue text explains.
const CONTAINMENT_WEIGHT: f64 = 0.5;

/// The share of the query a catalogue text explains is measured against at
/// most this many times the text's own weight: a log of many lines around
/// the error is not held against it, a long text it explains little of is.
const QUERY_WINDOW: f64 = 3.0;

/// The n-gram length of alphabetic scripts: 4-grams keep more of the
/// word order than 3-grams ("is in optional scope" against "optional scope
/// is in scope"), and still match a word cut in half.
const LATIN_N: usize = 4;

/// The n-gram length of Chinese, Japanese and Korean, where a character is
/// often a word.
const CJK_N: usize = 2;

/// A catalogue text with fewer n-grams in common with the query than this
/// does not match, whatever its share: two or three shared trigrams are chance.
const MIN_SHARED: usize = 4;

/// A catalogue text's n-grams: 2-grams when it is mostly Chinese, Japanese
/// or Korean, 4-grams otherwise.
#[derive(Debug, Clone)]
pub(crate) struct Grams {
    n: usize,
    set: HashSet<String>,
}

impl Grams {
    pub(crate) fn of(text: &str) -> Self {
        let normal = normalize(text);
        let n = if mostly_cjk(&normal) { CJK_N } else { LATIN_N };
        Grams {
            n,
            set: ngrams(&normal, n),
        }
    }
}

/// How much an n-gram tells: n-grams many catalogue texts share ("tion",
/// "the ", "certificate") weigh less than rare ones (inverse document
/// frequency), so two causes that share half their words are told apart
/// by the other half.
pub(crate) struct Weights {
    frequency: HashMap<String, u32>,
    texts: f64,
}

impl Weights {
    pub(crate) fn new<'a>(all: impl IntoIterator<Item = &'a Grams>) -> Self {
        let mut frequency: HashMap<String, u32> = HashMap::new();
        let mut texts = 0_u32;
        for grams in all {
            texts += 1;
            for gram in &grams.set {
                *frequency.entry(gram.clone()).or_default() += 1;
            }
        }
        Weights {
            frequency,
            texts: f64::from(texts),
        }
    }

    fn of(&self, gram: &str) -> f64 {
        let seen = self.frequency.get(gram).copied().unwrap_or(0);
        (1.0 + self.texts / (1.0 + f64::from(seen))).ln()
    }

    fn sum<'a>(&self, grams: impl IntoIterator<Item = &'a String>) -> f64 {
        grams.into_iter().map(|g| self.of(g)).sum()
    }
}

/// A pasted text, normalised, with its n-grams of both lengths and their
/// weights.
pub(crate) struct Query<'w> {
    weights: &'w Weights,
    cjk: (HashSet<String>, f64),
    latin: (HashSet<String>, f64),
}

impl<'w> Query<'w> {
    pub(crate) fn new(text: &str, weights: &'w Weights) -> Self {
        let normal = normalize(text);
        let with_sum = |set: HashSet<String>| {
            let sum = weights.sum(&set);
            (set, sum)
        };
        Query {
            weights,
            cjk: with_sum(ngrams(&normal, CJK_N)),
            latin: with_sum(ngrams(&normal, LATIN_N)),
        }
    }

    /// How well a catalogue text matches this query, 0.0 to 1.0.
    pub(crate) fn score(&self, text: &Grams) -> f64 {
        let (have, have_sum) = if text.n == CJK_N {
            &self.cjk
        } else {
            &self.latin
        };
        if text.set.is_empty() || have.is_empty() {
            return 0.0;
        }
        let shared: Vec<&String> = text.set.iter().filter(|g| have.contains(*g)).collect();
        if shared.len() < MIN_SHARED.min(text.set.len()) {
            return 0.0;
        }
        let shared_sum = self.weights.sum(shared);
        let text_sum = self.weights.sum(&text.set);
        let containment = shared_sum / text_sum;
        let coverage = shared_sum / have_sum.min(QUERY_WINDOW * text_sum);
        (CONTAINMENT_WEIGHT * containment + (1.0 - CONTAINMENT_WEIGHT) * coverage).min(1.0)
    }
}

/// NFKC, lowercase, noise removed, punctuation as spaces, spaces collapsed.
pub(crate) fn normalize(text: &str) -> String {
    let folded: String = text.nfkc().collect::<String>().to_lowercase();
    let mut out = String::with_capacity(folded.len());
    for line in folded.lines() {
        let mut first = true;
        for word in line.split_whitespace() {
            if is_noise(word, first) {
                continue;
            }
            first = false;
            for c in word.chars() {
                out.push(if c.is_alphanumeric() { c } else { ' ' });
            }
            out.push(' ');
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether a whitespace-separated word is noise: what changes from one
/// occurrence of an error to the next, or a log prefix.
fn is_noise(word: &str, line_start: bool) -> bool {
    let core = word.trim_matches(|c: char| !c.is_alphanumeric());
    if core.is_empty() {
        return false;
    }
    if line_start && is_log_prefix(word) {
        return true;
    }
    word.contains("://")
        || word.starts_with("www.")
        || is_timestamp(core)
        || is_address(core)
        || is_host(core)
        || is_identifier(core)
        || is_long_number(core)
}

/// `[error]`, `error:`, `warn`, `[2026-…]`: a level or bracketed prefix.
fn is_log_prefix(word: &str) -> bool {
    let bare = word.trim_matches(|c: char| matches!(c, '[' | ']' | '(' | ')' | ':' | '<' | '>'));
    let level = matches!(
        bare,
        "error" | "err" | "warn" | "warning" | "info" | "debug" | "fatal" | "critical" | "trace"
    );
    level || (word.starts_with('[') && word.ends_with(']'))
}

/// `2026-12-01`, `10:00:00`, `2026-12-01t10:00:00z`, `10:00:00.123`.
fn is_timestamp(core: &str) -> bool {
    let digits = core.chars().filter(char::is_ascii_digit).count();
    digits >= 4
        && core.contains(['-', ':', '/'])
        && core.chars().all(|c| {
            c.is_ascii_digit() || matches!(c, '-' | ':' | '.' | '/' | 't' | 'z' | '+' | ',')
        })
}

/// An IPv4 or IPv6 address, with or without a port.
fn is_address(core: &str) -> bool {
    let v4 = core.split(['.', ':']).count() >= 4
        && core
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ':');
    let v6 = core.matches(':').count() >= 2
        && core
            .chars()
            .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    v4 || v6
}

/// `api.example.com`, `login.microsoftonline.com:443`: labels and a
/// short alphabetic top label. `javax.net.ssl.sslhandshakeexception` is
/// not one: its last label is too long.
fn is_host(core: &str) -> bool {
    let host = core.split(':').next().unwrap_or(core);
    let labels: Vec<&str> = host.split('.').collect();
    let last = labels.last().copied().unwrap_or("");
    labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        && (2..=6).contains(&last.len())
        && last.chars().all(|c| c.is_ascii_alphabetic())
}

/// A UUID, or a long hexadecimal or mixed identifier (a request id, a
/// correlation id, a trace id).
fn is_identifier(core: &str) -> bool {
    let hex: usize = core.chars().filter(char::is_ascii_hexdigit).count();
    let digits = core.chars().filter(char::is_ascii_digit).count();
    let only_hex = core.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    (only_hex && hex >= 12 && digits >= 2)
        || (core.len() >= 16
            && digits >= 4
            && core
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

/// A number of more than four digits.
fn is_long_number(core: &str) -> bool {
    core.len() > 4 && core.chars().all(|c| c.is_ascii_digit())
}

/// Whether most letters are Chinese, Japanese or Korean.
fn mostly_cjk(text: &str) -> bool {
    let (cjk, other) =
        text.chars()
            .filter(|c| !c.is_whitespace())
            .fold((0, 0), |(cjk, other), c| {
                if is_cjk(c) {
                    (cjk + 1, other)
                } else {
                    (cjk, other + 1)
                }
            });
    cjk > other
}

fn is_cjk(c: char) -> bool {
    matches!(u32::from(c),
        0x3040..=0x30ff      // hiragana, katakana
        | 0x3400..=0x4dbf    // CJK extension A
        | 0x4e00..=0x9fff    // CJK unified ideographs
        | 0xac00..=0xd7af    // hangul
        | 0xf900..=0xfaff) // compatibility ideographs
}

/// The character n-grams of a normalised text. Between CJK characters a
/// space is dropped: Japanese is written without spaces, and a space the
/// noise stripping left between two of its characters is not a word break.
fn ngrams(normal: &str, n: usize) -> HashSet<String> {
    let chars: Vec<char> = normal.chars().collect();
    let kept: Vec<char> = chars
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            !(**c == ' '
                && i.checked_sub(1).is_some_and(|p| is_cjk(chars[p]))
                && chars.get(i + 1).is_some_and(|n| is_cjk(*n)))
        })
        .map(|(_, c)| *c)
        .collect();
    if kept.len() < n {
        return if kept.is_empty() {
            HashSet::new()
        } else {
            HashSet::from([kept.iter().collect()])
        };
    }
    kept.windows(n).map(|w| w.iter().collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::normalize;

    #[test]
    fn noise_is_stripped() {
        let cases: &[(&str, &str)] = &[
            (
                "2026-12-01T10:00:00Z [ERROR] Error: Could not resolve host: api.hubapi.com",
                "could not resolve host",
            ),
            (
                "2026-12-01 10:00:00 [ERROR] connect ECONNREFUSED 10.1.2.3:443",
                "connect econnrefused",
            ),
            (
                "request 3f2a9c1e-8b7d-4e2a-9c1e-8b7d4e2a9c1e failed after 123456 ms, see https://x.example/a?b=c",
                "request failed after ms see",
            ),
            (
                "ＳＳＬ　ｃｅｒｔｉｆｉｃａｔｅ「問題」",
                "ssl certificate 問題",
            ),
            ("‘quoted’ “double” «guillemets»", "quoted double guillemets"),
            (
                "javax.net.ssl.SSLHandshakeException: x",
                "javax net ssl sslhandshakeexception x",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(normalize(text), *want, "{text}");
        }
    }
}
