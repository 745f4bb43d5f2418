//! From a pasted error text to the causes that explain it: the core of
//! `reach explain "<pasted error>"`.
//!
//! A user pastes what a vendor, a client library or a tool printed (curl,
//! `OpenSSL`, Java, .NET, Python, Node, Entra ID, Okta, `HubSpot`, …, in any of
//! the catalogue's languages); [`matches()`] returns the catalogue entries
//! that explain it, best first, each with its cause and remedy.
//!
//! ```no_run
//! let found = reach_explain::matches("curl: (60) SSL certificate problem: certificate has expired");
//! for m in &found {
//!     println!("{} ({:.2}): {}\n  {}", m.id, m.score, m.title, m.remedy);
//! }
//! if found.is_empty() {
//!     println!("no known cause");
//! }
//! ```
//!
//! # The catalogue
//!
//! One TOML file per vendor or client in `catalogue/`, embedded in the
//! binary and listed once in `FILES` (in `catalogue.rs`). Each `[[entry]]`
//! is a cause:
//!
//! ```toml
//! [[entry]]
//! id = "tls.cert_expired"              # a reach finding code, or a topic `vendor.area.name`
//! source = "curl: libcurl-errors(3)"   # where the texts come from (URL or document name)
//! check = "reach check https://HOST/"  # optional: the reach command that checks it
//! title = "…"                          # optional for codes, required for topics
//! cause = "…"                          # optional for codes, required for topics
//! remedy = "…"                         # optional for codes, required for topics
//! codes = ["curl:60"]                  # optional: identifiers, matched before any text
//! texts = [{ lang = "en", text = "SSL certificate problem: certificate has expired" }]
//! ```
//!
//! For a finding code the title is the code's message, and the cause and
//! remedy default to the code's explanation and remedy in
//! [`reach_report::Code`]. Every code's own message is in the catalogue
//! without being written in a file (the `reach` part, generated at load).
//!
//! # Codes
//!
//! Identifiers in the pasted text are found first and match an entry whose
//! `codes` name them with score 1.0. Write them in a file in these forms
//! (a file's codes go through the same normalisation, so `CURLE_…` and
//! `X509_V_ERR_…` names that have a number become the number):
//!
//! | Form | Found in the text as |
//! |---|---|
//! | `curl:60` | `curl: (60)`, `curl error 60`, `cURL error 60`, `CURLE_PEER_FAILED_VERIFICATION` |
//! | `openssl:20` | `verify error:num=20`, `Verify return code: 20`, `error 20 at 0 depth lookup`, `X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY` |
//! | `AADSTS50011` | `AADSTS50011` (any case) |
//! | `E0000011` | an Okta error code, `E` and seven digits |
//! | `ENOTFOUND` | an errno-style name: `E` and capitals (`ETIMEDOUT`, `ECONNREFUSED`) |
//! | `UNABLE_TO_GET_ISSUER_CERT_LOCALLY` | any capitalised name with an underscore, as written (Node's TLS codes, `HubSpot`'s `BAD_CLIENT_ID`, Python's `CERTIFICATE_VERIFY_FAILED`) |
//! | `NameResolutionError` | a class name ending in `Error` or `Exception`, as written, without its package (`javax.net.ssl.SSLHandshakeException` → `SSLHandshakeException`) |
//! | `tls.cert_expired` | a reach finding code's name |
//!
//! # Text matching
//!
//! Both sides are normalised (NFKC, lowercase, punctuation as spaces) and
//! stripped of what differs from one occurrence to the next: log prefixes,
//! timestamps, URLs, host names, addresses, identifiers and long numbers.
//! A catalogue text then scores by its character n-grams (4-grams; 2-grams
//! for Chinese, Japanese and Korean, written without spaces), each weighed
//! by how rare it is in the catalogue (inverse document frequency), half
//! by the share of its n-grams the pasted text contains (so a shortened
//! quote still matches) and half by the share of the pasted text it
//! accounts for, counted over at most three times its own size (so a long
//! log around the error is not held against it, while an unrelated stack
//! trace does not match everything). An entry's best text is its score.
//! See [`matches()`] and [`THRESHOLD`].

mod catalogue;
mod codes;
mod text;

#[cfg(test)]
mod tests;

pub use codes::extract_codes;

/// A cause that explains a pasted text.
#[derive(Debug, Clone, PartialEq)]
pub struct Match {
    /// A reach finding code (`tls.cert_expired`) or a topic id (`entra.signin.redirect_uri`).
    pub id: String,
    /// How well it matches, 0.0 to 1.0: 1.0 when the text names one of the
    /// entry's codes.
    pub score: f64,
    /// One line: what went wrong.
    pub title: String,
    /// Why it happens.
    pub cause: String,
    /// What to do about it.
    pub remedy: String,
    /// The reach command that checks it, if there is one.
    pub check: Option<String>,
    /// Where the entry's texts come from: a URL or a document's name.
    pub source: String,
}

/// The scores below this are not matches. Tuned by the tests: every
/// catalogue text cut to its middle 60 %, re-quoted and put in a log line
/// with a URL still scores 0.71 or more for its entry; stack traces, prose
/// and error-like sentences the catalogue does not hold stay under 0.42.
pub const THRESHOLD: f64 = 0.5;

/// At most this many matches are returned.
pub const MAX_MATCHES: usize = 5;

/// The causes that explain `text`, best first, at most [`MAX_MATCHES`].
///
/// Entries that name a code found in the text come first, with score 1.0
/// (among them, the better text match first); then entries whose best text
/// scores at least [`THRESHOLD`]. An id matched through several entries
/// (a code's own message and a curl text, say) appears once, with the best
/// of them. Nothing matches: an empty vector.
pub fn matches(text: &str) -> Vec<Match> {
    let catalogue = catalogue::catalogue();
    let entries = &catalogue.entries;
    let found = codes::extract_codes(text);
    let query = text::Query::new(text, &catalogue.weights);
    // (code hit, text score, entry index), best per id.
    let mut best: Vec<(bool, f64, usize)> = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        let by_code = entry
            .codes
            .iter()
            .any(|code| found.iter().any(|f| f.eq_ignore_ascii_case(code)));
        let score = entry
            .grams
            .iter()
            .map(|g| query.score(g))
            .fold(0.0_f64, f64::max);
        if !by_code && score < THRESHOLD {
            continue;
        }
        let candidate = (by_code, score, index);
        match best.iter_mut().find(|(_, _, i)| entries[*i].id == entry.id) {
            Some(held) if rank(candidate) > rank(*held) => *held = candidate,
            Some(_) => {}
            None => best.push(candidate),
        }
    }
    best.sort_by(|a, b| {
        rank(*b)
            .partial_cmp(&rank(*a))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    best.into_iter()
        .take(MAX_MATCHES)
        .map(|(by_code, score, index)| {
            let entry = &entries[index];
            Match {
                id: entry.id.clone(),
                score: if by_code { 1.0 } else { score.min(1.0) },
                title: entry.title.clone(),
                cause: entry.cause.clone(),
                remedy: entry.remedy.clone(),
                check: entry.check.clone(),
                source: entry.source.clone(),
            }
        })
        .collect()
}

/// A cause the network cannot show (`hubspot.connect.permission_denied`):
/// a topic of the catalogue, with no finding code behind it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    pub id: String,
    pub title: String,
    pub cause: String,
    pub remedy: String,
}

/// Every topic of the catalogue (an id that is no finding code), once each,
/// sorted by id.
pub fn topics() -> &'static [Topic] {
    &catalogue::catalogue().topics
}

/// The topic `id`, if the catalogue has it.
pub fn topic(id: &str) -> Option<&'static Topic> {
    topics().iter().find(|t| t.id == id)
}

/// Code hits first, then the text score.
fn rank((by_code, score, _): (bool, f64, usize)) -> (u8, f64) {
    (u8::from(by_code), score)
}
