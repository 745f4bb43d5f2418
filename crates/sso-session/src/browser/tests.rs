//! Browser databases made here with Chromium's and Firefox's real schemas
//! (and one written by Chromium 156 itself), read back.

use std::path::{Path, PathBuf};

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use cookie::SameSite;
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use super::*;

/// `CREATE` statements as Chromium 156 wrote them (`sqlite3 Cookies
/// .schema` on a profile it made; schema version 24).
const CHROMIUM_SCHEMA: &str = "
CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
CREATE TABLE cookies(creation_utc INTEGER NOT NULL,host_key TEXT NOT NULL,top_frame_site_key TEXT NOT NULL,name TEXT NOT NULL,value TEXT NOT NULL,encrypted_value BLOB NOT NULL,path TEXT NOT NULL,expires_utc INTEGER NOT NULL,is_secure INTEGER NOT NULL,is_httponly INTEGER NOT NULL,last_access_utc INTEGER NOT NULL,has_expires INTEGER NOT NULL,is_persistent INTEGER NOT NULL,priority INTEGER NOT NULL,samesite INTEGER NOT NULL,source_scheme INTEGER NOT NULL,source_port INTEGER NOT NULL,last_update_utc INTEGER NOT NULL,source_type INTEGER NOT NULL,has_cross_site_ancestor INTEGER NOT NULL);
CREATE UNIQUE INDEX cookies_unique_index ON cookies(host_key, top_frame_site_key, has_cross_site_ancestor, name, path, source_scheme, source_port);
";

/// Firefox's `moz_cookies` as `CookiePersistentStorage::CreateTableWorker`
/// creates it today (schema 16 and later count the expiry in milliseconds).
const FIREFOX_SCHEMA: &str = "
CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, originAttributes TEXT NOT NULL DEFAULT '', name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER, lastAccessed INTEGER, creationTime INTEGER, isSecure INTEGER, isHttpOnly INTEGER, inBrowserElement INTEGER DEFAULT 0, sameSite INTEGER DEFAULT 0, schemeMap INTEGER DEFAULT 0, isPartitionedAttributeSet INTEGER DEFAULT 0, updateTime INTEGER, CONSTRAINT moz_uniqueid UNIQUE (name, host, path, originAttributes));
";

type AesCbcEnc = cbc::Encryptor<aes::Aes128>;

/// What Chromium stores: `v10`/`v11` + AES-128-CBC(SHA-256(host) + value).
fn encrypt(prefix: &[u8], password: &[u8], host: &str, value: &str, hash_prefix: bool) -> Vec<u8> {
    let mut plain = Vec::new();
    if hash_prefix {
        plain.extend_from_slice(&Sha256::digest(host.as_bytes()));
    }
    plain.extend_from_slice(value.as_bytes());
    let len = plain.len();
    let mut buf = plain;
    buf.resize(len + 16, 0);
    let key = derive_key(password);
    let cipher = AesCbcEnc::new(&key.into(), &[b' '; 16].into())
        .encrypt_padded_mut::<Pkcs7>(&mut buf, len)
        .unwrap()
        .to_vec();
    [prefix, &cipher].concat()
}

/// µs since 1601 of a Unix time.
fn chromium_time(unix: i64) -> i64 {
    (unix + 11_644_473_600) * 1_000_000 + 123_456
}

struct Row<'a> {
    host: &'a str,
    partition: &'a str,
    name: &'a str,
    plain: &'a str,
    encrypted: Vec<u8>,
    expires: i64,
    secure: bool,
    http_only: bool,
    persistent: bool,
    same_site: i64,
    created: i64,
}

fn chromium_db(path: &Path, version: i64, rows: &[Row<'_>]) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(CHROMIUM_SCHEMA).unwrap();
    conn.execute(
        "INSERT INTO meta VALUES ('mmap_status', '-1'), ('version', ?1), ('last_compatible_version', ?1)",
        params![version.to_string()],
    )
    .unwrap();
    for r in rows {
        conn.execute(
            "INSERT INTO cookies VALUES (?1, ?2, ?3, ?4, ?5, ?6, '/', ?7, ?8, ?9, ?1, ?10, ?10, 1, ?11, 2, 443, ?1, 0, 0)",
            params![
                r.created,
                r.host,
                r.partition,
                r.name,
                r.plain,
                r.encrypted,
                r.expires,
                r.secure,
                r.http_only,
                r.persistent,
                r.same_site
            ],
        )
        .unwrap();
    }
}

fn row<'a>(host: &'a str, name: &'a str, encrypted: Vec<u8>) -> Row<'a> {
    Row {
        host,
        partition: "",
        name,
        plain: "",
        encrypted,
        expires: chromium_time(1_900_000_000),
        secure: true,
        http_only: true,
        persistent: true,
        same_site: -1,
        created: chromium_time(1_780_000_000),
    }
}

fn no_keyring(_: Browser) -> Result<Vec<u8>, KeyringError> {
    Err(KeyringError::NotInstalled)
}

fn spec(s: &str) -> BrowserSpec {
    s.parse().unwrap()
}

fn find<'a>(cookies: &'a [SeedCookie], name: &str) -> &'a SeedCookie {
    cookies
        .iter()
        .find(|c| &*c.name == name)
        .unwrap_or_else(|| panic!("no {name}: {cookies:?}"))
}

#[test]
fn a_version_24_chromium_profile() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("Default");
    std::fs::create_dir_all(profile.join("Network")).unwrap();
    let host = ".idp.example";
    let mut lax = row(
        host,
        "sid",
        encrypt(b"v10", b"peanuts", host, "alice-session", true),
    );
    lax.same_site = 1;
    let mut strict = row(
        "app.example",
        "st",
        encrypt(b"v10", b"peanuts", "app.example", "s", true),
    );
    strict.same_site = 2;
    strict.http_only = false;
    let mut none = row(
        "app.example",
        "nn",
        encrypt(b"v10", b"peanuts", "app.example", "n", true),
    );
    none.same_site = 0;
    let mut session = row(
        "app.example",
        "sess",
        encrypt(b"v10", b"", "app.example", "e", true),
    );
    session.persistent = false;
    session.expires = 0;
    session.secure = false;
    let mut old_plain = row("app.example", "plain", Vec::new());
    old_plain.plain = "in-the-clear";
    let mut partitioned = row(
        "cdn.example",
        "chips",
        encrypt(b"v10", b"peanuts", "cdn.example", "p", true),
    );
    partitioned.partition = "https://app.example";
    let wrong_host = row(
        "other.example",
        "moved",
        encrypt(b"v10", b"peanuts", "app.example", "x", true),
    );
    chromium_db(
        &profile.join("Network/Cookies"),
        24,
        &[
            lax,
            strict,
            none,
            session,
            old_plain,
            partitioned,
            wrong_host,
        ],
    );
    let read = load_with(
        &spec(&format!("chromium:{}", profile.display())),
        &Places::default(),
        &no_keyring,
    )
    .unwrap();
    assert_eq!(read.database, profile.join("Network/Cookies"));
    let c = &read.cookies;
    let sid = find(c, "sid");
    assert_eq!(&*sid.value, "alice-session");
    assert_eq!(&*sid.domain, "idp.example");
    assert!(sid.include_subdomains && sid.secure && sid.http_only);
    assert_eq!(sid.same_site, Some(SameSite::Lax));
    assert_eq!(sid.expires, Some(1_900_000_000));
    assert_eq!(sid.created, Some(1_780_000_000));
    let st = find(c, "st");
    assert_eq!((&*st.value, st.same_site), ("s", Some(SameSite::Strict)));
    assert!(!st.include_subdomains && !st.http_only);
    assert_eq!(find(c, "nn").same_site, Some(SameSite::None));
    // Unspecified (-1): Lax by default is the jar's call.
    let sess = find(c, "sess");
    assert_eq!(
        (&*sess.value, sess.expires, sess.same_site),
        ("e", None, None)
    );
    assert_eq!(&*find(c, "plain").value, "in-the-clear");
    assert!(
        c.iter().all(|k| &*k.name != "chips"),
        "partitioned cookies stay out"
    );
    // A value whose host hash is not its host's does not decrypt.
    assert!(c.iter().all(|k| &*k.name != "moved"));
    assert_eq!(c.len(), 5);
    assert_eq!(read.problems.len(), 1, "{:?}", read.problems);
    let problem = read.problems[0].to_string();
    assert!(problem.starts_with("1 chromium cookie(s) in "), "{problem}");
    assert!(!problem.contains("alice-session") && !problem.contains("in-the-clear"));
}

#[test]
fn an_older_chromium_profile_and_v11_values() {
    let dir = tempfile::tempdir().unwrap();
    let user_data = dir.path().join("google-chrome");
    std::fs::create_dir_all(user_data.join("Profile 1")).unwrap();
    // Schema 23: no host hash; the database in the profile folder itself.
    chromium_db(
        &user_data.join("Profile 1/Cookies"),
        23,
        &[
            row(
                "idp.example",
                "v10",
                encrypt(b"v10", b"peanuts", "idp.example", "ten", false),
            ),
            row(
                "idp.example",
                "v11",
                encrypt(b"v11", b"from-the-keyring", "idp.example", "eleven", false),
            ),
            row(
                "idp.example",
                "v11b",
                encrypt(
                    b"v11",
                    b"from-the-keyring",
                    "idp.example",
                    "eleven-b",
                    false,
                ),
            ),
            row("idp.example", "v12", b"v12abcdefghijklmnop".to_vec()),
        ],
    );
    let places = Places {
        home: Some(dir.path().join("home")),
        config_home: Some(dir.path().to_path_buf()),
    };
    let keyring = |b: Browser| {
        assert_eq!(b, Browser::Chrome);
        Ok(b"from-the-keyring".to_vec())
    };
    let read = load_with(&spec("chrome:Profile 1"), &places, &keyring).unwrap();
    let names: Vec<(&str, &str)> = read.cookies.iter().map(|c| (&*c.name, &*c.value)).collect();
    assert_eq!(
        names,
        [("v10", "ten"), ("v11", "eleven"), ("v11b", "eleven-b")]
    );
    assert_eq!(read.problems.len(), 1);
    assert!(read.problems[0].to_string().contains("neither v10 nor v11"));

    // Without the Secret Service: the v10 cookie still loads, and one
    // error says what is missing.
    let read = load_with(&spec("chrome:Profile 1"), &places, &no_keyring).unwrap();
    assert_eq!(read.cookies.len(), 1);
    assert_eq!(&*read.cookies[0].value, "ten");
    let messages: Vec<String> = read.problems.iter().map(ToString::to_string).collect();
    assert!(
        messages[0].starts_with("2 chrome cookie(s) in ")
            && messages[0].contains("Secret Service (v11), and secret-tool is not installed"),
        "{messages:?}"
    );
    assert!(messages[0].contains(&user_data.join("Profile 1/Cookies").display().to_string()));
}

/// A database Chromium 156 wrote itself (`--password-store=basic`, schema
/// 24) after a page set `persist=val1; Max-Age=86400; HttpOnly;
/// SameSite=Lax`, `strict=val3; Max-Age=3600; SameSite=Strict` and a
/// session cookie (which Chromium keeps out of the database).
#[test]
fn a_database_chromium_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("Cookies");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/chromium-156-Cookies"),
        &db,
    )
    .unwrap();
    let read = load_with(
        &spec(&format!("chromium:{}", db.display())),
        &Places::default(),
        &no_keyring,
    )
    .unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let c = &read.cookies;
    assert_eq!(c.len(), 2);
    let persist = find(c, "persist");
    assert_eq!(&*persist.value, "val1");
    assert_eq!(&*persist.domain, "127.0.0.1");
    assert!(!persist.include_subdomains && persist.http_only && !persist.secure);
    assert_eq!(persist.same_site, Some(SameSite::Lax));
    assert_eq!(persist.created, Some(1_796_121_245));
    assert_eq!(persist.expires, Some(1_796_121_245 + 86_400));
    let strict = find(c, "strict");
    assert_eq!(&*strict.value, "val3");
    assert_eq!(strict.same_site, Some(SameSite::Strict));
    assert_eq!(strict.expires, Some(1_796_121_245 + 3_600));
    assert_eq!(identify(&db), Some(Browser::Chromium));
}

/// The same page, with Chromium 156 keeping its key in a real Secret
/// Service (gnome-keyring under `dbus-run-session`,
/// `--password-store=gnome-libsecret`): every value is `v11`, and the
/// password is what `secret-tool lookup application chromium` printed
/// (a throwaway keyring's).
#[test]
fn a_v11_database_chromium_wrote() {
    const PASSWORD: &[u8] = b"VSD6hGQejZyzuhl4U22xmg==";
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("Cookies");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/chromium-156-v11-Cookies"),
        &db,
    )
    .unwrap();
    let spec = spec(&format!("chromium:{}", db.display()));
    let keyring = |b: Browser| {
        assert_eq!(b, Browser::Chromium);
        Ok(PASSWORD.to_vec())
    };
    let read = load_with(&spec, &Places::default(), &keyring).unwrap();
    assert!(read.problems.is_empty(), "{:?}", read.problems);
    let c = &read.cookies;
    let values: Vec<(&str, &str)> = c.iter().map(|k| (&*k.name, &*k.value)).collect();
    assert_eq!(
        values,
        [("persist", "val1"), ("sess", "val2"), ("strict", "val3")]
    );
    // Chromium keeps this session cookie with is_persistent = 0.
    assert_eq!(find(c, "sess").expires, None);
    assert_eq!(find(c, "sess").same_site, None);
    assert_eq!(find(c, "persist").created, Some(1_796_122_002));
    assert_eq!(find(c, "persist").expires, Some(1_796_122_002 + 86_400));
    // Without the Secret Service nothing opens, and one error says why.
    let read = load_with(&spec, &Places::default(), &no_keyring).unwrap();
    assert!(read.cookies.is_empty());
    assert_eq!(read.problems.len(), 1);
    assert!(
        read.problems[0]
            .to_string()
            .starts_with("3 chromium cookie(s) in "),
        "{}",
        read.problems[0]
    );
}

fn firefox_db(path: &Path, schema: i64) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(FIREFOX_SCHEMA).unwrap();
    conn.execute_batch(&format!("PRAGMA user_version = {schema}"))
        .unwrap();
    let scale = if schema >= 16 { 1000 } else { 1 };
    for (origin, name, host, same_site, secure) in [
        ("", "sid", ".idp.example", 1, 1),
        ("", "pref", "app.example", 256, 0),
        ("", "none", "app.example", 0, 1),
        ("^userContextId=2", "work", "idp.example", 2, 1),
    ] {
        conn.execute(
            "INSERT INTO moz_cookies (originAttributes, name, value, host, path, expiry, lastAccessed, creationTime, isSecure, isHttpOnly, sameSite) VALUES (?1, ?2, ?3, ?4, '/', ?5, 0, ?6, ?7, 1, ?8)",
            params![origin, name, format!("{name}-value"), host, 1_900_000_000_i64 * scale, 1_780_000_000_i64 * 1_000_000, secure, same_site],
        )
        .unwrap();
    }
}

fn ff_places(dir: &Path) -> Places {
    Places {
        home: Some(dir.to_path_buf()),
        config_home: Some(dir.join("config")),
    }
}

#[test]
fn firefox_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(".mozilla/firefox");
    for p in ["abcd1234.default", "wxyz9876.default-release", "old"] {
        std::fs::create_dir_all(root.join(p)).unwrap();
    }
    firefox_db(&root.join("wxyz9876.default-release/cookies.sqlite"), 17);
    firefox_db(&root.join("abcd1234.default/cookies.sqlite"), 12);
    std::fs::write(
        root.join("profiles.ini"),
        "[Profile1]\nName=default\nIsRelative=1\nPath=abcd1234.default\nDefault=1\n\n\
         [Profile0]\nName=default-release\nIsRelative=1\nPath=wxyz9876.default-release\n\n\
         [Install4F96D1932A9F858E]\nDefault=wxyz9876.default-release\nLocked=1\n",
    )
    .unwrap();
    let places = ff_places(dir.path());
    // No profile: the one the installed Firefox opens.
    let read = load_with(&spec("firefox"), &places, &no_keyring).unwrap();
    assert_eq!(
        read.database,
        root.join("wxyz9876.default-release/cookies.sqlite")
    );
    let c = &read.cookies;
    assert_eq!(c.len(), 3, "the container's cookie stays out: {c:?}");
    let sid = find(c, "sid");
    assert_eq!(&*sid.value, "sid-value");
    assert!(sid.include_subdomains && sid.secure && sid.http_only);
    assert_eq!(
        sid.expires,
        Some(1_900_000_000),
        "milliseconds from schema 16"
    );
    assert_eq!(sid.created, Some(1_780_000_000));
    assert_eq!(sid.same_site, Some(SameSite::Lax));
    assert_eq!(find(c, "pref").same_site, None);
    assert_eq!(find(c, "none").same_site, Some(SameSite::None));
    // By profiles.ini name, by folder name, by the name's suffix: schema
    // 12 counts seconds.
    for name in ["firefox:default", "firefox:abcd1234.default"] {
        let read = load_with(&spec(name), &places, &no_keyring).unwrap();
        assert_eq!(
            read.database,
            root.join("abcd1234.default/cookies.sqlite"),
            "{name}"
        );
        assert_eq!(find(&read.cookies, "sid").expires, Some(1_900_000_000));
    }
    std::fs::remove_file(root.join("profiles.ini")).unwrap();
    let read = load_with(&spec("firefox:default-release"), &places, &no_keyring).unwrap();
    assert_eq!(
        read.database,
        root.join("wxyz9876.default-release/cookies.sqlite")
    );
    assert_eq!(identify(&read.database), Some(Browser::Firefox));
}

/// A browser holds its database with an exclusive lock and keeps recent
/// writes in the write-ahead log: reach reads a copy of both.
#[test]
fn a_database_in_use_is_read_from_a_copy() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cookies.sqlite");
    firefox_db(&db, 17);
    let browser = Connection::open(&db).unwrap();
    browser
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA locking_mode = EXCLUSIVE;
             INSERT INTO moz_cookies (name, value, host, path, expiry, isSecure, isHttpOnly, sameSite)
             VALUES ('late', 'written-last', 'idp.example', '/', 1900000000000, 1, 1, 2);",
        )
        .unwrap();
    assert!(
        dir.path().join("cookies.sqlite-wal").is_file(),
        "the row is in the log"
    );
    let other = Connection::open(&db).unwrap();
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    assert!(
        other
            .query_row("SELECT count(*) FROM moz_cookies", [], |r| r
                .get::<_, i64>(0))
            .is_err(),
        "the lock keeps other readers out"
    );
    let read = load_with(
        &spec(&format!("firefox:{}", db.display())),
        &Places::default(),
        &no_keyring,
    )
    .unwrap();
    let late = find(&read.cookies, "late");
    assert_eq!(&*late.value, "written-last");
    assert_eq!(late.expires, Some(1_900_000_000));
    assert_eq!(read.cookies.len(), 4);
    drop(browser);
}

#[test]
fn what_is_missing_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let places = ff_places(dir.path());
    let err = |s: &str| {
        load_with(&spec(s), &places, &no_keyring)
            .unwrap_err()
            .to_string()
    };
    let config = dir.path().join("config");
    assert_eq!(
        err("chromium"),
        format!(
            "no chromium profile folder at {}",
            config.join("chromium").display()
        )
    );
    std::fs::create_dir_all(config.join("chromium/Default")).unwrap();
    assert_eq!(
        err("chromium:Profile 3"),
        format!(
            "no chromium profile `Profile 3` at {}",
            config.join("chromium/Profile 3").display()
        )
    );
    assert!(err("chromium:Default").starts_with(&format!(
        "no chromium cookie database in {} (looked for Network/Cookies",
        config.join("chromium/Default").display()
    )));
    assert!(err("chromium").starts_with("no chromium cookie database in "));
    let missing = dir.path().join("nowhere");
    assert_eq!(
        err(&format!("edge:{}", missing.display())),
        format!("no edge profile folder at {}", missing.display())
    );
    let text = dir.path().join("cookies.txt");
    std::fs::write(&text, "# Netscape HTTP Cookie File\n").unwrap();
    assert_eq!(
        err(&format!("brave:{}", text.display())),
        format!(
            "{} is not a Chromium cookie database: it is not an SQLite database",
            text.display()
        )
    );
    // SQLite, but not a browser's.
    let other = dir.path().join("other.db");
    Connection::open(&other)
        .unwrap()
        .execute_batch("CREATE TABLE t(x)")
        .unwrap();
    assert!(err(&format!("chromium:{}", other.display())).contains("no schema version"));
    assert!(err(&format!("firefox:{}", other.display())).contains("no moz_cookies table"));
    assert_eq!(identify(&other), None);
    let no_home = load_with(&spec("firefox"), &Places::default(), &no_keyring)
        .unwrap_err()
        .to_string();
    assert!(no_home.contains("HOME is not set"), "{no_home}");
}

#[test]
fn specs() {
    assert_eq!(
        spec("Chrome:Profile 1"),
        BrowserSpec {
            browser: Browser::Chrome,
            profile: Some("Profile 1".to_owned())
        }
    );
    assert_eq!(spec("firefox:").profile, None);
    assert_eq!(spec("brave").to_string(), "brave");
    assert_eq!(spec("chromium:/a:b").profile.as_deref(), Some("/a:b"));
    let bad = "safari".parse::<BrowserSpec>().unwrap_err().to_string();
    assert!(
        bad.contains("chromium, chrome, edge, brave or firefox"),
        "{bad}"
    );
    assert!(is_path("~/x") && is_path("./p") && is_path("/p") && !is_path("Profile 1"));
    assert_eq!(
        profile_dir_of(Path::new("/u/Default/Network/Cookies")),
        PathBuf::from("/u/Default")
    );
    assert_eq!(
        profile_dir_of(Path::new("/f/x.default/cookies.sqlite")),
        PathBuf::from("/f/x.default")
    );
}

/// secret-tool where this machine has it; else the error names the
/// package. Either way no panic and no hang.
#[test]
fn the_secret_service_answers_or_says_what_is_missing() {
    match secret_service_password(Browser::Chromium) {
        Ok(password) => assert!(!password.is_empty()),
        Err(missing) => {
            let missing = missing.to_string();
            assert!(
                missing.contains("secret-tool") || missing.contains("Secret Service"),
                "{missing}"
            );
        }
    }
}
