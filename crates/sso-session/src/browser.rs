//! The session straight from a browser profile (`BROWSER[:PROFILE]`,
//! yt-dlp's convention): Chromium's `Cookies` database (Chromium, Chrome,
//! Edge, Brave) and Firefox's `cookies.sqlite`, read into
//! [`SeedCookie`]s with what the jar's `SameSite` rules need (the stored
//! `SameSite`, `Secure`, creation time).
//!
//! The database is copied (with its `-wal` or `-journal`) to a private
//! temporary folder first, so a running browser's lock does not matter and
//! its files are never written. Chromium encrypts values on Linux with
//! AES-128-CBC: `v10` with a key derived from the fixed password `peanuts`
//! (what Chromium uses with `--password-store=basic` or without a
//! keyring), `v11` with a key derived from the password Chromium keeps in
//! the Secret Service, fetched with `secret-tool`. Schema 24 and later put
//! SHA-256 of the cookie's host before the value; it is checked and
//! stripped. Cookie values never appear in an error.
//!
//! ```no_run
//! use reach_sso::browser::{BrowserSpec, Places, load};
//! let spec: BrowserSpec = "chromium:Default".parse().unwrap();
//! let read = load(&spec, &Places::from_env()).unwrap();
//! println!("{} cookies from {}", read.cookies.len(), read.database.display());
//! ```

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use crate::cookies::{FAR_FUTURE, Interner, SeedCookie, same_site_of, unix_from_chromium_micros};
use crate::error::{Error, KeyringError};

/// A browser reach reads cookies from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chromium,
    Chrome,
    Edge,
    Brave,
    Firefox,
}

impl Browser {
    pub const ALL: [Browser; 5] = [
        Browser::Chromium,
        Browser::Chrome,
        Browser::Edge,
        Browser::Brave,
        Browser::Firefox,
    ];

    /// The name `BROWSER` takes.
    pub fn name(self) -> &'static str {
        match self {
            Browser::Chromium => "chromium",
            Browser::Chrome => "chrome",
            Browser::Edge => "edge",
            Browser::Brave => "brave",
            Browser::Firefox => "firefox",
        }
    }

    /// Chromium and the browsers built on it share one database format.
    pub fn is_chromium(self) -> bool {
        self != Browser::Firefox
    }

    /// Its folders of profiles (Linux), most likely first.
    fn roots(self, places: &Places) -> Vec<PathBuf> {
        let config = places.config();
        let home = places.home.as_deref();
        let under = |base: Option<&Path>, rel: &str| base.map(|b| b.join(rel));
        match self {
            Browser::Chromium => under(config.as_deref(), "chromium").into_iter().collect(),
            Browser::Chrome => under(config.as_deref(), "google-chrome")
                .into_iter()
                .collect(),
            Browser::Edge => under(config.as_deref(), "microsoft-edge")
                .into_iter()
                .collect(),
            Browser::Brave => under(config.as_deref(), "BraveSoftware/Brave-Browser")
                .into_iter()
                .collect(),
            Browser::Firefox => [
                under(config.as_deref(), "mozilla/firefox"),
                under(home, ".mozilla/firefox"),
                under(home, ".var/app/org.mozilla.firefox/config/mozilla/firefox"),
                under(home, ".var/app/org.mozilla.firefox/.mozilla/firefox"),
                under(home, "snap/firefox/common/.mozilla/firefox"),
            ]
            .into_iter()
            .flatten()
            .collect(),
        }
    }

    /// The `application` attribute Chromium gives its "Safe Storage"
    /// password in the Secret Service (libsecret), to try in order.
    fn secret_applications(self) -> &'static [&'static str] {
        match self {
            Browser::Chromium | Browser::Firefox => &["chromium"],
            Browser::Chrome => &["chrome"],
            Browser::Brave => &["brave", "chromium"],
            Browser::Edge => &["microsoft-edge", "chromium"],
        }
    }
}

impl fmt::Display for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Browser {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let lower = s.trim().to_ascii_lowercase();
        Browser::ALL
            .into_iter()
            .find(|b| b.name() == lower)
            .ok_or_else(|| Error::UnknownBrowser {
                value: s.to_owned(),
            })
    }
}

/// `BROWSER[:PROFILE]`: PROFILE is a profile's name (`Default`,
/// `Profile 1`, a Firefox profile's name) or a path (it holds a `/`, or
/// starts with `~` or `.`): a profile folder, a browser's user-data folder
/// (its `Default` profile is read), or the database file itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserSpec {
    pub browser: Browser,
    pub profile: Option<String>,
}

impl FromStr for BrowserSpec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let (browser, profile) = match s.split_once(':') {
            Some((browser, profile)) => (browser, Some(profile)),
            None => (s, None),
        };
        Ok(BrowserSpec {
            browser: browser.parse()?,
            profile: profile.filter(|p| !p.is_empty()).map(str::to_owned),
        })
    }
}

impl fmt::Display for BrowserSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.profile {
            Some(profile) => write!(f, "{}:{profile}", self.browser),
            None => write!(f, "{}", self.browser),
        }
    }
}

/// Where profiles are looked for: the home folder and the XDG config
/// folder.
#[derive(Debug, Clone, Default)]
pub struct Places {
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`; `~/.config` when `None`.
    pub config_home: Option<PathBuf>,
}

impl Places {
    /// `$HOME` and `$XDG_CONFIG_HOME` (ignored unless absolute, as the XDG
    /// specification says).
    pub fn from_env() -> Self {
        let absolute = |name: &str| {
            std::env::var_os(name)
                .map(PathBuf::from)
                .filter(|p| p.is_absolute())
        };
        Places {
            home: absolute("HOME"),
            config_home: absolute("XDG_CONFIG_HOME"),
        }
    }

    fn config(&self) -> Option<PathBuf> {
        self.config_home
            .clone()
            .or_else(|| self.home.as_ref().map(|h| h.join(".config")))
    }
}

/// What a browser profile gave.
#[derive(Debug)]
pub struct BrowserCookies {
    pub cookies: Vec<SeedCookie>,
    /// The database that was read (the original, not the copy).
    pub database: PathBuf,
    /// Cookies that could not be read (the others were): no key for `v11`
    /// values, values that do not decrypt.
    pub problems: Vec<BrowserError>,
}

/// Why a profile's cookies could not be read (or some of them). Each names
/// the browser, the profile and the path; none holds a cookie value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BrowserError {
    #[error(
        "reading {browser}'s cookies on {os} is not supported yet ({why}); export them to a cookies.txt (a browser extension, or `yt-dlp --cookies-from-browser {browser} --cookies FILE`) and give that file instead"
    )]
    Unsupported {
        browser: Browser,
        os: &'static str,
        why: &'static str,
    },
    #[error(
        "no home folder to look for {browser} profiles in (HOME is not set): give the profile as a path, {browser}:/path/to/profile"
    )]
    NoHome { browser: Browser },
    #[error("no {browser} profile {what} at {}", path.display())]
    NoProfile {
        browser: Browser,
        /// `` `NAME` `` or "folder".
        what: String,
        path: PathBuf,
    },
    #[error("no {browser} cookie database in {} (looked for {looked})", dir.display())]
    NoDatabase {
        browser: Browser,
        dir: PathBuf,
        looked: String,
    },
    #[error("cannot read {browser}'s cookie database {}: {reason}", path.display())]
    Unreadable {
        browser: Browser,
        path: PathBuf,
        reason: String,
    },
    #[error("{} is not {what}: {reason}", path.display())]
    NotADatabase {
        path: PathBuf,
        what: &'static str,
        reason: String,
    },
    #[error(
        "{count} {browser} cookie(s) in {} are encrypted with the key Chromium keeps in the Secret Service (v11), and {missing}; the other cookies were read",
        path.display()
    )]
    KeyUnavailable {
        browser: Browser,
        path: PathBuf,
        count: usize,
        /// What is missing: secret-tool, a running Secret Service, the
        /// password.
        missing: KeyringError,
    },
    #[error(
        "{count} {browser} cookie(s) in {} could not be decrypted ({why}); the other cookies were read",
        path.display()
    )]
    Undecryptable {
        browser: Browser,
        path: PathBuf,
        count: usize,
        why: String,
    },
}

/// Where `v11` values' password comes from: given the browser, the
/// password Chromium keeps in the Secret Service, or what is missing.
pub type Keyring<'a> = &'a dyn Fn(Browser) -> Result<Vec<u8>, KeyringError>;

/// Reads the cookies of `spec`'s profile, with `v11` keys from the Secret
/// Service ([`secret_service_password`]).
pub fn load(spec: &BrowserSpec, places: &Places) -> Result<BrowserCookies, BrowserError> {
    load_with(spec, places, &secret_service_password)
}

/// [`load`] with another source of the `v11` password.
pub fn load_with(
    spec: &BrowserSpec,
    places: &Places,
    keyring: Keyring<'_>,
) -> Result<BrowserCookies, BrowserError> {
    unsupported(spec)?;
    let database = locate(spec, places)?;
    let unreadable = |reason: String| BrowserError::Unreadable {
        browser: spec.browser,
        path: database.clone(),
        reason,
    };
    check_header(&database, spec.browser)?;
    let dir = tempfile::Builder::new()
        .prefix("reach-cookies")
        .tempdir()
        .map_err(|e| unreadable(format!("cannot make a temporary copy: {e}")))?;
    let conn = open_copy(&database, dir.path()).map_err(unreadable)?;
    let (cookies, problems) = if spec.browser.is_chromium() {
        read_chromium(&conn, spec.browser, &database, keyring)?
    } else {
        (read_firefox(&conn, &database)?, Vec::new())
    };
    Ok(BrowserCookies {
        cookies,
        database,
        problems,
    })
}

/// The browser family whose cookie database `path` is (Chromium's
/// `Cookies` or Firefox's `cookies.sqlite`), read from a copy; `None` when
/// it is neither or cannot be read.
pub fn identify(path: &Path) -> Option<Browser> {
    let dir = tempfile::Builder::new()
        .prefix("reach-cookies")
        .tempdir()
        .ok()?;
    let conn = open_copy(path, dir.path()).ok()?;
    let tables = table_names(&conn).ok()?;
    if tables.iter().any(|t| t == "moz_cookies") {
        Some(Browser::Firefox)
    } else if tables.iter().any(|t| t == "cookies") && tables.iter().any(|t| t == "meta") {
        Some(Browser::Chromium)
    } else {
        None
    }
}

/// The profile folder a cookie database belongs to: its folder, or the
/// one above Chromium's `Network` folder.
pub fn profile_dir_of(database: &Path) -> PathBuf {
    let dir = database.parent().unwrap_or(Path::new("."));
    match dir.file_name() {
        Some(name) if name == "Network" => dir.parent().unwrap_or(dir).to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

#[allow(clippy::unnecessary_wraps)]
fn unsupported(spec: &BrowserSpec) -> Result<(), BrowserError> {
    #[cfg(target_os = "macos")]
    if spec.browser.is_chromium() {
        return Err(BrowserError::Unsupported {
            browser: spec.browser,
            os: "macOS",
            why: "its key is in the Keychain",
        });
    }
    #[cfg(windows)]
    if spec.browser.is_chromium() {
        return Err(BrowserError::Unsupported {
            browser: spec.browser,
            os: "Windows",
            why: "its values are encrypted with DPAPI and app-bound keys",
        });
    }
    #[cfg(any(target_os = "macos", windows))]
    if !spec.browser.is_chromium() && !spec.profile.as_deref().is_some_and(is_path) {
        return Err(BrowserError::Unsupported {
            browser: spec.browser,
            os: if cfg!(windows) { "Windows" } else { "macOS" },
            why: "reach looks for profiles where Linux keeps them; give the profile folder as a path",
        });
    }
    let _ = spec;
    Ok(())
}

/// A profile given as a path rather than a name.
fn is_path(profile: &str) -> bool {
    profile.contains('/')
        || profile.contains(std::path::MAIN_SEPARATOR)
        || profile.starts_with('~')
        || profile.starts_with('.')
}

/// Where the database files sit in a profile (or user-data) folder.
fn candidates(browser: Browser) -> &'static [&'static str] {
    if browser.is_chromium() {
        &[
            "Network/Cookies",
            "Cookies",
            "Default/Network/Cookies",
            "Default/Cookies",
        ]
    } else {
        &["cookies.sqlite"]
    }
}

fn in_dir(browser: Browser, dir: &Path) -> Result<PathBuf, BrowserError> {
    candidates(browser)
        .iter()
        .map(|c| dir.join(c))
        .find(|p| p.is_file())
        .ok_or_else(|| BrowserError::NoDatabase {
            browser,
            dir: dir.to_path_buf(),
            looked: candidates(browser).join(", "),
        })
}

/// The database file `spec` names.
fn locate(spec: &BrowserSpec, places: &Places) -> Result<PathBuf, BrowserError> {
    let browser = spec.browser;
    if let Some(profile) = spec.profile.as_deref().filter(|p| is_path(p)) {
        let path = match (profile.strip_prefix("~/"), &places.home) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(profile),
        };
        if path.is_file() {
            return Ok(path);
        }
        if path.is_dir() {
            return in_dir(browser, &path);
        }
        return Err(BrowserError::NoProfile {
            browser,
            what: "folder".to_owned(),
            path,
        });
    }
    let roots = browser.roots(places);
    if roots.is_empty() {
        return Err(BrowserError::NoHome { browser });
    }
    let existing: Vec<&PathBuf> = roots.iter().filter(|r| r.is_dir()).collect();
    if let Some(name) = spec.profile.as_deref() {
        for root in &existing {
            if let Some(dir) = named_profile(browser, root, name) {
                return in_dir(browser, &dir);
            }
        }
        return Err(BrowserError::NoProfile {
            browser,
            what: format!("`{name}`"),
            path: existing.first().copied().unwrap_or(&roots[0]).join(name),
        });
    }
    let Some(root) = existing.first() else {
        return Err(BrowserError::NoProfile {
            browser,
            what: "folder".to_owned(),
            path: roots[0].clone(),
        });
    };
    if browser == Browser::Firefox
        && let Some(dir) = firefox_default(root)
    {
        return in_dir(browser, &dir);
    }
    newest_profile(browser, root).ok_or_else(|| BrowserError::NoDatabase {
        browser,
        dir: (*root).clone(),
        looked: format!("*/{}", candidates(browser)[..2].join(", */")),
    })
}

/// A profile by name: a folder of that name; for Firefox also the
/// profiles.ini entry of that name or a folder `xxxxxxxx.NAME`.
fn named_profile(browser: Browser, root: &Path, name: &str) -> Option<PathBuf> {
    let dir = root.join(name);
    if dir.is_dir() {
        return Some(dir);
    }
    if browser != Browser::Firefox {
        return None;
    }
    let ini = firefox_profiles(root);
    if let Some(section) = ini.iter().find(|s| s.get("Name") == Some(name))
        && let Some(dir) = section.path(root)
    {
        return Some(dir);
    }
    std::fs::read_dir(root)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.split_once('.'))
                    .is_some_and(|(_, suffix)| suffix == name)
        })
}

/// The most recently written database among the root's profiles (yt-dlp's
/// choice when no profile is named: the profile in use).
fn newest_profile(browser: Browser, root: &Path) -> Option<PathBuf> {
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(root).ok()?.flatten() {
        if let Ok(db) = in_dir(browser, &entry.path())
            && let Ok(modified) = std::fs::metadata(&db).and_then(|m| m.modified())
        {
            found.push((modified, db));
        }
    }
    found.into_iter().max_by_key(|(t, _)| *t).map(|(_, p)| p)
}

/// One `[section]` of profiles.ini.
#[derive(Debug, Default)]
struct IniSection {
    name: String,
    keys: Vec<(String, String)>,
}

impl IniSection {
    fn get(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `Path=`, relative to the root when `IsRelative=1` (or absent).
    fn path(&self, root: &Path) -> Option<PathBuf> {
        let path = self.get("Path")?;
        Some(if self.get("IsRelative") == Some("0") {
            PathBuf::from(path)
        } else {
            root.join(path)
        })
    }
}

fn firefox_profiles(root: &Path) -> Vec<IniSection> {
    let Ok(text) = std::fs::read_to_string(root.join("profiles.ini")) else {
        return Vec::new();
    };
    let mut sections: Vec<IniSection> = Vec::new();
    for line in text.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            sections.push(IniSection {
                name: name.to_owned(),
                keys: Vec::new(),
            });
        } else if let (Some(section), Some((k, v))) = (sections.last_mut(), line.split_once('=')) {
            section
                .keys
                .push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    sections
}

/// Firefox's default profile: the `[Install…]` section's `Default=` (the
/// profile the installed Firefox opens), else the `[Profile…]` marked
/// `Default=1`.
fn firefox_default(root: &Path) -> Option<PathBuf> {
    let ini = firefox_profiles(root);
    let install = ini
        .iter()
        .filter(|s| s.name.starts_with("Install"))
        .find_map(|s| s.get("Default"))
        .map(|p| {
            let path = PathBuf::from(p);
            if path.is_absolute() {
                path
            } else {
                root.join(path)
            }
        });
    install
        .or_else(|| {
            ini.iter()
                .filter(|s| s.name.starts_with("Profile"))
                .find(|s| s.get("Default") == Some("1"))
                .and_then(|s| s.path(root))
        })
        .filter(|p| p.is_dir())
}

fn check_header(path: &Path, browser: Browser) -> Result<(), BrowserError> {
    let mut header = [0u8; 16];
    let read = std::fs::File::open(path).and_then(|mut f| f.read(&mut header));
    match read {
        Err(e) => Err(BrowserError::Unreadable {
            browser,
            path: path.to_path_buf(),
            reason: e.to_string(),
        }),
        Ok(n) if crate::cookies::sniff(&header[..n]) != crate::cookies::FileKind::Sqlite => {
            Err(BrowserError::NotADatabase {
                path: path.to_path_buf(),
                what: what_db(browser),
                reason: "it is not an SQLite database".to_owned(),
            })
        }
        Ok(_) => Ok(()),
    }
}

fn what_db(browser: Browser) -> &'static str {
    if browser.is_chromium() {
        "a Chromium cookie database"
    } else {
        "a Firefox cookie database"
    }
}

/// Copies the database and its rollback journal or write-ahead log into
/// `dir` and opens the copy. The copy is opened read-write so that `SQLite`
/// can roll back a journal the browser left mid-write, or read the log, as
/// the browser itself would; only the private copy is ever written.
fn open_copy(database: &Path, dir: &Path) -> Result<Connection, String> {
    let copy = dir.join("cookies.db");
    std::fs::copy(database, &copy).map_err(|e| e.to_string())?;
    for suffix in ["-wal", "-journal"] {
        let mut side = database.as_os_str().to_owned();
        side.push(suffix);
        let side = PathBuf::from(side);
        if side.is_file() {
            let mut to = copy.as_os_str().to_owned();
            to.push(suffix);
            std::fs::copy(&side, PathBuf::from(to)).map_err(|e| e.to_string())?;
        }
    }
    Connection::open_with_flags(
        &copy,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| e.to_string())
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let names = stmt
        .query_map([], |row| row.get::<_, String>(1))?
        .collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

/// Column `i` of a row, moved out.
fn take(row: &mut [Value], i: usize) -> Value {
    std::mem::replace(&mut row[i], Value::Null)
}

/// A column as text (`SQLite` may hold any type in any column).
fn text(value: Value) -> String {
    match value {
        Value::Text(s) => s,
        Value::Blob(b) => String::from_utf8_lossy(&b).into_owned(),
        Value::Integer(i) => i.to_string(),
        Value::Real(r) => r.to_string(),
        Value::Null => String::new(),
    }
}

fn integer(value: &Value) -> i64 {
    match value {
        Value::Integer(i) => *i,
        Value::Text(s) => s.trim().parse().unwrap_or(0),
        #[allow(clippy::cast_possible_truncation)]
        Value::Real(r) => *r as i64,
        _ => 0,
    }
}

/// The first of `names` that is a column, else `fallback` (an SQL
/// literal).
fn pick(present: &[String], names: &[&str], fallback: &str) -> String {
    names
        .iter()
        .find(|n| present.iter().any(|c| c == *n))
        .map_or_else(|| fallback.to_owned(), |n| (*n).to_owned())
}

type AesCbcDec = cbc::Decryptor<aes::Aes128>;

/// Why a Chromium cookie was left out.
#[derive(Debug, Clone, Copy)]
enum Skip {
    /// `v11` and no password from the Secret Service.
    NoKey,
    /// No key opens it.
    Undecryptable,
    /// Neither `v10` nor `v11`.
    UnknownFormat,
}

/// Chromium's Linux key: PBKDF2-HMAC-SHA1 of the password, salt
/// `saltysalt`, one iteration, 16 bytes.
fn derive_key(password: &[u8]) -> [u8; 16] {
    let mut key = [0u8; 16];
    pbkdf2::pbkdf2_hmac::<sha1::Sha1>(password, b"saltysalt", 1, &mut key);
    key
}

/// AES-128-CBC with an IV of 16 spaces and PKCS#7 padding; from schema 24
/// on, the plain text starts with SHA-256 of the host, which must match
/// (as Chromium checks it): a wrong key is told from a right one.
fn decrypt(key: &[u8; 16], data: &[u8], host: &str, hash_prefix: bool) -> Option<String> {
    let mut buf = data.to_vec();
    let plain = AesCbcDec::new(key.into(), &[b' '; 16].into())
        .decrypt_padded_mut::<Pkcs7>(&mut buf)
        .ok()?;
    let plain = if hash_prefix {
        let digest = Sha256::digest(host.as_bytes());
        plain.strip_prefix(digest.as_slice())?
    } else {
        plain
    };
    String::from_utf8(plain.to_vec()).ok()
}

fn read_chromium(
    conn: &Connection,
    browser: Browser,
    path: &Path,
    keyring: Keyring<'_>,
) -> Result<(Vec<SeedCookie>, Vec<BrowserError>), BrowserError> {
    let not_db = |reason: String| BrowserError::NotADatabase {
        path: path.to_path_buf(),
        what: "a Chromium cookie database",
        reason,
    };
    let (sql, hash_prefix) = chromium_query(conn).map_err(not_db)?;
    let mut stmt = conn.prepare(&sql).map_err(|e| not_db(e.to_string()))?;
    let rows = stmt
        .query_map([], |row| {
            (0..12)
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<Value>>>()
        })
        .map_err(|e| not_db(e.to_string()))?;
    let mut keys = ChromiumKeys::new(browser, keyring, hash_prefix);
    let mut shared = Interner::default();
    let mut cookies = Vec::new();
    let mut skipped = Skipped::default();
    for row in rows {
        let mut row = row.map_err(|e| not_db(e.to_string()))?;
        let partition = text(take(&mut row, 11));
        if !partition.is_empty() {
            // A partitioned (CHIPS) cookie goes only with pages embedded
            // under that top-level site, never on a sign-in's navigations.
            continue;
        }
        let host = text(take(&mut row, 0));
        let plain = text(take(&mut row, 2));
        let encrypted = match take(&mut row, 3) {
            Value::Blob(b) => b,
            Value::Text(s) => s.into_bytes(),
            _ => Vec::new(),
        };
        let decrypted = if !plain.is_empty() || encrypted.is_empty() {
            Ok(plain)
        } else {
            keys.decrypt(&encrypted, &host)
        };
        match decrypted {
            Ok(value) => cookies.push(chromium_cookie(&mut row, &host, value, &mut shared)),
            Err(skip) => skipped.count(skip),
        }
    }
    Ok((cookies, skipped.problems(browser, path, keys.v11)))
}

/// The `SELECT` of a Chromium `cookies` table with the columns this
/// schema has, and whether its values start with SHA-256 of the host
/// (schema 24 and later); `Err` says why it is not a Chromium database.
fn chromium_query(conn: &Connection) -> Result<(String, bool), String> {
    let version = conn
        .query_row("SELECT value FROM meta WHERE key = 'version'", [], |row| {
            row.get::<_, Value>(0)
        })
        .map_err(|e| format!("no schema version in its meta table ({e})"))?;
    let hash_prefix = integer(&version) >= 24;
    let present = columns(conn, "cookies").map_err(|e| e.to_string())?;
    for needed in [
        "host_key",
        "name",
        "value",
        "encrypted_value",
        "path",
        "expires_utc",
    ] {
        if !present.iter().any(|c| c == needed) {
            return Err(format!("its cookies table has no `{needed}` column"));
        }
    }
    let sql = format!(
        "SELECT host_key, name, value, encrypted_value, path, expires_utc, {secure}, {http_only}, {same_site}, {created}, {persistent}, {partition} FROM cookies",
        secure = pick(&present, &["is_secure", "secure"], "0"),
        http_only = pick(&present, &["is_httponly", "httponly"], "0"),
        same_site = pick(&present, &["samesite"], "-1"),
        created = pick(&present, &["creation_utc"], "0"),
        persistent = pick(&present, &["is_persistent", "has_expires"], "1"),
        partition = pick(&present, &["top_frame_site_key"], "''"),
    );
    Ok((sql, hash_prefix))
}

/// The keys that open a profile's encrypted values: `v10`'s, fixed, and
/// `v11`'s, from the keyring when the first `v11` value needs them.
struct ChromiumKeys<'k> {
    browser: Browser,
    keyring: Keyring<'k>,
    hash_prefix: bool,
    v10: [[u8; 16]; 2],
    /// `None` until asked for; `Err` says what is missing.
    v11: Option<Result<[[u8; 16]; 2], KeyringError>>,
}

impl<'k> ChromiumKeys<'k> {
    fn new(browser: Browser, keyring: Keyring<'k>, hash_prefix: bool) -> Self {
        ChromiumKeys {
            browser,
            keyring,
            hash_prefix,
            v10: [derive_key(b"peanuts"), derive_key(b"")],
            v11: None,
        }
    }

    /// The value of an `encrypted_value` set for `host`, or why not.
    fn decrypt(&mut self, encrypted: &[u8], host: &str) -> Result<String, Skip> {
        let hash_prefix = self.hash_prefix;
        if let Some(data) = encrypted.strip_prefix(b"v10") {
            self.v10
                .iter()
                .find_map(|k| decrypt(k, data, host, hash_prefix))
                .ok_or(Skip::Undecryptable)
        } else if let Some(data) = encrypted.strip_prefix(b"v11") {
            let (browser, keyring) = (self.browser, self.keyring);
            let keys = self.v11.get_or_insert_with(|| {
                keyring(browser).map(|password| [derive_key(&password), derive_key(b"")])
            });
            match keys {
                Ok(keys) => keys
                    .iter()
                    .find_map(|k| decrypt(k, data, host, hash_prefix))
                    .ok_or(Skip::Undecryptable),
                Err(_) => Err(Skip::NoKey),
            }
        } else {
            Err(Skip::UnknownFormat)
        }
    }
}

/// A row of Chromium's `cookies` (as [`chromium_query`] selects it) with
/// its decrypted `value`; names, domains and paths shared.
fn chromium_cookie(
    row: &mut [Value],
    host: &str,
    value: String,
    shared: &mut Interner,
) -> SeedCookie {
    let persistent = integer(&row[10]) != 0;
    SeedCookie {
        name: shared.get(&text(take(row, 1))),
        value: value.into(),
        domain: shared.get(&host.trim_start_matches('.').to_ascii_lowercase()),
        include_subdomains: host.starts_with('.'),
        path: shared.get(&text(take(row, 4))),
        secure: integer(&row[6]) != 0,
        http_only: integer(&row[7]) != 0,
        expires: if persistent {
            unix_from_chromium_micros(integer(&row[5]))
        } else {
            None
        },
        same_site: same_site_of(integer(&row[8])),
        created: unix_from_chromium_micros(integer(&row[9])),
    }
}

/// How many cookies were left out, by why.
#[derive(Default)]
struct Skipped {
    no_key: usize,
    undecryptable: usize,
    unknown: usize,
}

impl Skipped {
    fn count(&mut self, skip: Skip) {
        *match skip {
            Skip::NoKey => &mut self.no_key,
            Skip::Undecryptable => &mut self.undecryptable,
            Skip::UnknownFormat => &mut self.unknown,
        } += 1;
    }

    /// One problem for each reason some cookies were left out; `v11` is
    /// what the keyring gave, if it was asked.
    fn problems(
        &self,
        browser: Browser,
        path: &Path,
        v11: Option<Result<[[u8; 16]; 2], KeyringError>>,
    ) -> Vec<BrowserError> {
        let mut problems = Vec::new();
        // A cookie lacks its key only when the keyring was asked and failed.
        if self.no_key > 0
            && let Some(Err(missing)) = v11
        {
            problems.push(BrowserError::KeyUnavailable {
                browser,
                path: path.to_path_buf(),
                count: self.no_key,
                missing,
            });
        }
        if self.undecryptable > 0 {
            problems.push(BrowserError::Undecryptable {
                browser,
                path: path.to_path_buf(),
                count: self.undecryptable,
                why: "neither Chromium's fixed key nor the Secret Service's opens them: the profile may come from another machine or user".to_owned(),
            });
        }
        if self.unknown > 0 {
            problems.push(BrowserError::Undecryptable {
                browser,
                path: path.to_path_buf(),
                count: self.unknown,
                why: "their encryption is neither v10 nor v11, the formats Chromium uses on Linux"
                    .to_owned(),
            });
        }
        problems
    }
}

fn read_firefox(conn: &Connection, path: &Path) -> Result<Vec<SeedCookie>, BrowserError> {
    let not_db = |reason: String| BrowserError::NotADatabase {
        path: path.to_path_buf(),
        what: "a Firefox cookie database",
        reason,
    };
    let schema: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|e| not_db(e.to_string()))?;
    let present = columns(conn, "moz_cookies").map_err(|e| not_db(e.to_string()))?;
    if present.is_empty() {
        return Err(not_db("it has no moz_cookies table".to_owned()));
    }
    for needed in ["host", "name", "value", "path", "expiry"] {
        if !present.iter().any(|c| c == needed) {
            return Err(not_db(format!(
                "its moz_cookies table has no `{needed}` column"
            )));
        }
    }
    let sql = format!(
        "SELECT host, name, value, path, expiry, {secure}, {http_only}, {same_site}, {created}, {origin} FROM moz_cookies",
        secure = pick(&present, &["isSecure"], "0"),
        http_only = pick(&present, &["isHttpOnly"], "0"),
        same_site = pick(&present, &["sameSite"], "256"),
        created = pick(&present, &["creationTime"], "0"),
        origin = pick(&present, &["originAttributes"], "''"),
    );
    let mut stmt = conn.prepare(&sql).map_err(|e| not_db(e.to_string()))?;
    let rows = stmt
        .query_map([], |row| {
            (0..10)
                .map(|i| row.get::<_, Value>(i))
                .collect::<rusqlite::Result<Vec<Value>>>()
        })
        .map_err(|e| not_db(e.to_string()))?;
    let mut shared = Interner::default();
    let mut cookies = Vec::new();
    for row in rows {
        let mut row = row.map_err(|e| not_db(e.to_string()))?;
        if !text(take(&mut row, 9)).is_empty() {
            // A container's, a private window's or a partitioned cookie:
            // not the default context a sign-in runs in.
            continue;
        }
        let host = text(take(&mut row, 0));
        // Firefox 142 (schema 16) counts the expiry in milliseconds.
        let expiry = integer(&row[4]);
        let expiry = if schema >= 16 { expiry / 1000 } else { expiry };
        let created = integer(&row[8]) / 1_000_000;
        cookies.push(SeedCookie {
            name: shared.get(&text(take(&mut row, 1))),
            value: text(take(&mut row, 2)).into(),
            domain: shared.get(&host.trim_start_matches('.').to_ascii_lowercase()),
            include_subdomains: host.starts_with('.'),
            path: shared.get(&text(take(&mut row, 3))),
            secure: integer(&row[5]) != 0,
            http_only: integer(&row[6]) != 0,
            expires: (expiry > 0).then_some(expiry.min(FAR_FUTURE)),
            same_site: same_site_of(integer(&row[7])),
            created: (created > 0).then_some(created),
        });
    }
    Ok(cookies)
}

/// How long `secret-tool` may take: a keyring that waits for its unlock
/// password would otherwise hold the run.
const SECRET_TOOL_LIMIT: Duration = Duration::from_secs(5);

/// The password Chromium keeps in the Secret Service (libsecret), through
/// `secret-tool lookup application NAME`; `Err` says what is missing.
pub fn secret_service_password(browser: Browser) -> Result<Vec<u8>, KeyringError> {
    let mut first_error = None;
    for app in browser.secret_applications() {
        match secret_tool(app) {
            Ok(password) => return Ok(password),
            // Another application name may have it.
            Err(e @ KeyringError::NoPassword { .. }) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(first_error.unwrap_or(KeyringError::NoPassword {
        application: browser.name(),
    }))
}

fn secret_tool(app: &'static str) -> Result<Vec<u8>, KeyringError> {
    let mut child = Command::new("secret-tool")
        .args(["lookup", "application", app])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                KeyringError::NotInstalled
            } else {
                KeyringError::CannotStart { reason: e }
            }
        })?;
    let started = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if started.elapsed() < SECRET_TOOL_LIMIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(KeyringError::NoAnswer {
                    seconds: SECRET_TOOL_LIMIT.as_secs(),
                });
            }
        }
    }
    let output = child
        .wait_with_output()
        .map_err(|e| KeyringError::Unreadable { reason: e })?;
    let mut password = output.stdout;
    if password.last() == Some(&b'\n') {
        password.pop();
    }
    if output.status.success() && !password.is_empty() {
        return Ok(password);
    }
    let said: String = String::from_utf8_lossy(&output.stderr)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("")
        .trim_start_matches("secret-tool: ")
        .chars()
        .filter(|c| !c.is_control())
        .take(160)
        .collect();
    if said.is_empty() {
        Err(KeyringError::NoPassword { application: app })
    } else {
        Err(KeyringError::NoService { said })
    }
}

// The profiles these tests build are read where reach reads them: Linux.
#[cfg(all(test, not(any(target_os = "macos", windows))))]
mod tests;

#[cfg(all(test, any(target_os = "macos", windows)))]
#[test]
fn not_supported_yet() {
    let spec: BrowserSpec = "chrome".parse().unwrap();
    let message = load(&spec, &Places::from_env()).unwrap_err().to_string();
    assert!(message.contains("is not supported yet"), "{message}");
}
