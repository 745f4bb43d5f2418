//! `--cookies-from-browser` and the cookie files browsers and their
//! exporters leave, against the lab's identity provider: a Chromium profile
//! whose `Cookies` database holds the identity provider's session signs in
//! silently, as the browser would; a yt-dlp cookies.txt with Chromium's
//! expiry is read; what cannot be read is one clear input error, and the
//! chain still runs.

use std::path::{Path, PathBuf};

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use reach_report::sso::SsoDetails;
use reach_report::{Check, CheckKind, Code, Details, Status};
use rusqlite::{Connection, params};
use sha2::{Digest, Sha256};

use crate::{Run, codes, command, lab, run_with};

const APP: &str = "app.sp.test";
const IDP: &str = "idp.idp.test";

/// Chromium's Linux `v10` key: PBKDF2-HMAC-SHA1("peanuts", "saltysalt", 1
/// iteration, 16 bytes), as Python's `hashlib.pbkdf2_hmac` computes it.
const V10_KEY: [u8; 16] = [
    0xfd, 0x62, 0x1f, 0xe5, 0xa2, 0xb4, 0x02, 0x53, 0x9d, 0xfa, 0x14, 0x7c, 0xa9, 0x27, 0x27, 0x78,
];

/// The tables as Chromium 156 creates them (schema version 24).
const CHROMIUM_SCHEMA: &str = "
CREATE TABLE meta(key LONGVARCHAR NOT NULL UNIQUE PRIMARY KEY, value LONGVARCHAR);
CREATE TABLE cookies(creation_utc INTEGER NOT NULL,host_key TEXT NOT NULL,top_frame_site_key TEXT NOT NULL,name TEXT NOT NULL,value TEXT NOT NULL,encrypted_value BLOB NOT NULL,path TEXT NOT NULL,expires_utc INTEGER NOT NULL,is_secure INTEGER NOT NULL,is_httponly INTEGER NOT NULL,last_access_utc INTEGER NOT NULL,has_expires INTEGER NOT NULL,is_persistent INTEGER NOT NULL,priority INTEGER NOT NULL,samesite INTEGER NOT NULL,source_scheme INTEGER NOT NULL,source_port INTEGER NOT NULL,last_update_utc INTEGER NOT NULL,source_type INTEGER NOT NULL,has_cross_site_ancestor INTEGER NOT NULL);
INSERT INTO meta VALUES ('mmap_status', '-1'), ('version', '24'), ('last_compatible_version', '24');
";

/// 2030-01-01 and 2026-01-01 in Chromium's microseconds since 1601.
const EXPIRES_2030: i64 = (1_893_456_000 + 11_644_473_600) * 1_000_000;
const CREATED_2026: i64 = (1_767_225_600 + 11_644_473_600) * 1_000_000;

/// `v10` + AES-128-CBC(SHA-256(host) + value), IV of 16 spaces: what
/// Chromium writes with `--password-store=basic`. `v11` values get another
/// key (the Secret Service's).
fn encrypt(prefix: &[u8], key: &[u8; 16], host: &str, value: &str) -> Vec<u8> {
    let mut buf: Vec<u8> = Sha256::digest(host.as_bytes()).to_vec();
    buf.extend_from_slice(value.as_bytes());
    let len = buf.len();
    buf.resize(len + 16, 0);
    let cipher = cbc::Encryptor::<aes::Aes128>::new(key.into(), &[b' '; 16].into())
        .encrypt_padded_mut::<Pkcs7>(&mut buf, len)
        .unwrap()
        .to_vec();
    [prefix, &cipher].concat()
}

/// A profile folder `dir/Default` whose `Network/Cookies` holds the
/// identity provider's session (`idp_session=alice`, `HttpOnly`, no
/// `SameSite` attribute, created long ago) and a `v11` cookie only the
/// Secret Service can open.
fn chromium_profile(dir: &Path) -> PathBuf {
    let profile = dir.join("Default");
    std::fs::create_dir_all(profile.join("Network")).unwrap();
    let conn = Connection::open(profile.join("Network/Cookies")).unwrap();
    conn.execute_batch(CHROMIUM_SCHEMA).unwrap();
    for (name, encrypted) in [
        ("idp_session", encrypt(b"v10", &V10_KEY, IDP, "alice")),
        ("keyring_only", encrypt(b"v11", &[7; 16], IDP, "k")),
    ] {
        conn.execute(
            "INSERT INTO cookies VALUES (?1, ?2, '', ?3, '', ?4, '/', ?5, 0, 1, ?1, 1, 1, 1, -1, 1, 80, ?1, 0, 0)",
            params![CREATED_2026, IDP, name, encrypted, EXPIRES_2030],
        )
        .unwrap();
    }
    profile
}

fn port() -> u16 {
    lab().idp.port()
}

fn login() -> String {
    format!("http://{APP}:{}/login?mode=form_post", port())
}

/// `reach sso` with the lab's names resolved, `secret-tool` out of reach
/// (an empty PATH) and HOME in `home`.
fn sso(home: &Path, args: &[&str]) -> Run {
    let mut cmd = command();
    let p = port();
    cmd.env("PATH", home)
        .env("HOME", home)
        .env_remove("XDG_CONFIG_HOME")
        .arg("sso")
        .arg("--resolve")
        .arg(format!("{APP}:{p}:127.0.0.1"))
        .arg("--resolve")
        .arg(format!("{IDP}:{p}:127.0.0.1"))
        .arg("--timeout")
        .arg("20s");
    run_with(cmd, args)
}

fn sso_check(run: &Run) -> &Check {
    run.report
        .checks
        .iter()
        .find(|c| c.kind == CheckKind::Sso && matches!(c.details, Details::Sso(_)))
        .unwrap_or_else(|| panic!("no sso check: {}", run.stdout))
}

fn details(check: &Check) -> &SsoDetails {
    match &check.details {
        Details::Sso(d) => d,
        _ => panic!("no sso details"),
    }
}

/// The input errors of a run, by target.
/// The run's one check.
#[track_caller]
fn only_check(run: &Run) -> &Check {
    assert_eq!(run.report.checks.len(), 1, "{}", run.stdout);
    &run.report.checks[0]
}

fn input_errors(run: &Run) -> Vec<(&str, &str)> {
    run.report
        .checks
        .iter()
        .filter(|c| c.status == Status::Error)
        .flat_map(|c| {
            c.findings
                .iter()
                .filter(|f| f.code == Code::InputInvalid)
                .map(|f| (c.target.as_str(), f.message.as_str()))
        })
        .collect()
}

#[test]
fn a_chromium_profile_signs_in_with_its_session() {
    let dir = tempfile::tempdir().unwrap();
    // Without the session, the chain stops at the IdP's sign-in page.
    let clean = sso(dir.path(), &[&login()]);
    assert_eq!(details(sso_check(&clean)).end.kind, "login_page");

    let profile = chromium_profile(dir.path());
    let spec = format!("chromium:{}", profile.display());
    let run = sso(dir.path(), &["--cookies-from-browser", &spec, &login()]);
    let check = sso_check(&run);
    let d = details(check);
    let seeded: Vec<&str> = d.seeded_cookies.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(seeded, ["idp_session"], "{}", run.stdout);
    assert_eq!(d.hops[1].cookies_sent, ["idp_session"], "{d:#?}");
    assert!(codes(check).contains(&Code::SsoAutoLogin), "{}", run.stdout);
    assert_eq!(
        d.identity.as_ref().and_then(|i| i.email.as_deref()),
        Some("alice@idp.test")
    );
    // The v11 cookie: one input error saying what is missing (exit 2), the
    // chain ran with the rest.
    assert_eq!(run.code, 2, "{}", run.stdout);
    let errors = input_errors(&run);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (target, message) = errors[0];
    assert_eq!(target, format!("--cookies-from-browser {spec}"));
    assert!(
        message.contains("1 chromium cookie(s) in ")
            && message.contains(&profile.join("Network/Cookies").display().to_string())
            && message.contains("secret-tool is not installed")
            && message.contains("libsecret-tools"),
        "{message}"
    );
    // Values stay private (the lab's session value is also the user's
    // name, which the claims show).
    assert!(!run.stdout.contains("idp_session=alice"), "{}", run.stdout);

    // The user-data folder (its Default profile) and the database file
    // itself name the same profile.
    for spec in [
        format!("chromium:{}", dir.path().display()),
        format!("chromium:{}", profile.join("Network/Cookies").display()),
    ] {
        let run = sso(dir.path(), &["--cookies-from-browser", &spec, &login()]);
        assert!(
            codes(sso_check(&run)).contains(&Code::SsoAutoLogin),
            "{spec}"
        );
    }
}

/// A profile by name, under HOME, the way `reach` finds a real browser's;
/// and in a preflight file, a relative path taken from the file's folder.
#[test]
fn profiles_by_name_and_in_preflight_files() {
    let home = tempfile::tempdir().unwrap();
    let user_data = home.path().join(".config/google-chrome");
    chromium_profile(&user_data);
    let run = sso(
        home.path(),
        &["--cookies-from-browser", "chrome:Default", &login()],
    );
    assert!(
        codes(sso_check(&run)).contains(&Code::SsoAutoLogin),
        "{}",
        run.stdout
    );

    let p = port();
    std::fs::write(
        user_data.join("preflight.toml"),
        format!(
            "[defaults]\ntimeout = \"20s\"\nresolve = [\"{APP}:{p}:127.0.0.1\", \"{IDP}:{p}:127.0.0.1\"]\n\n\
             [[sso]]\nname = \"from the browser\"\nurl = \"{}\"\ncookies_from_browser = \"chrome:./Default\"\n",
            login()
        ),
    )
    .unwrap();
    let mut cmd = command();
    cmd.current_dir(home.path())
        .env("PATH", home.path())
        .arg("run")
        .arg(user_data.join("preflight.toml"));
    let run = run_with(cmd, &[]);
    let sso = sso_check(&run);
    assert!(codes(sso).contains(&Code::SsoAutoLogin), "{}", run.stdout);
}

#[test]
fn what_cannot_be_read_is_named_and_no_chain_runs_without_it() {
    let home = tempfile::tempdir().unwrap();
    let nowhere = home.path().join("no-such-profile");
    let txt = home.path().join("cookies.txt");
    std::fs::write(
        &txt,
        format!("{IDP}\tFALSE\t/\tFALSE\t0\tidp_session\talice\n"),
    )
    .unwrap();
    let cases = [
        (
            format!("chromium:{}", nowhere.display()),
            format!("no chromium profile folder at {}", nowhere.display()),
        ),
        (
            "chromium:Profile 9".to_owned(),
            format!(
                "no chromium profile `Profile 9` at {}",
                home.path().join(".config/chromium/Profile 9").display()
            ),
        ),
        (
            format!("chromium:{}", txt.display()),
            format!(
                "{} is not a Chromium cookie database: it is not an SQLite database",
                txt.display()
            ),
        ),
        (
            "firefox".to_owned(),
            format!(
                "no firefox profile folder at {}",
                home.path().join(".config/mozilla/firefox").display()
            ),
        ),
    ];
    for (spec, expected) in cases {
        let run = sso(home.path(), &["--cookies-from-browser", &spec, &login()]);
        assert_eq!(run.code, 2, "{spec}: {}", run.stdout);
        let errors = input_errors(&run);
        let want = format!("--cookies-from-browser {spec}: {expected}");
        assert_eq!(errors, [(login().as_str(), want.as_str())]);
        // The sso check is that error: no chain walked without the session.
        let check = only_check(&run);
        assert_eq!(check.kind, CheckKind::Sso);
        assert_eq!(
            check.findings[0].evidence["input"],
            format!("--cookies-from-browser {spec}"),
            "{spec}"
        );
    }
    // An unknown browser is a usage error.
    let out = command()
        .args(["sso", "--cookies-from-browser", "safari", &login()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("chromium, chrome, edge, brave or firefox")
    );
}

/// Issue 13, point 8: Chromium's `Cookies` given to `--cookie-jar` is one
/// error that says what the file is and what reads it, not a dozen bad
/// lines quoting binary.
#[test]
fn a_cookie_database_given_as_a_cookies_txt() {
    let home = tempfile::tempdir().unwrap();
    let profile = chromium_profile(home.path());
    let db = profile.join("Network/Cookies");
    let run = sso(
        home.path(),
        &["--cookie-jar", db.to_str().unwrap(), &login()],
    );
    assert_eq!(run.code, 2, "{}", run.stdout);
    let errors = input_errors(&run);
    assert_eq!(errors.len(), 1, "{errors:?}");
    let message = errors[0].1;
    assert!(
        message.contains("this is a Chromium browser's cookie database")
            && message.contains(&format!(
                "--cookies-from-browser chromium:{}",
                std::fs::canonicalize(&profile).unwrap().display()
            )),
        "{message}"
    );
    assert!(!message.contains("tab-separated"), "{message}");
    assert!(
        !message.chars().any(|c| c.is_control() || c == '\u{fffd}'),
        "{message:?}"
    );
    // No chain walked without the jar it was given.
    assert_eq!(only_check(&run).status, Status::Error);

    // Firefox's database, and a binary file that is no database.
    let firefox = home.path().join("abcd1234.default-release");
    std::fs::create_dir_all(&firefox).unwrap();
    Connection::open(firefox.join("cookies.sqlite"))
        .unwrap()
        .execute_batch(
            "CREATE TABLE moz_cookies (id INTEGER PRIMARY KEY, name TEXT, value TEXT, host TEXT, path TEXT, expiry INTEGER)",
        )
        .unwrap();
    let binary = home.path().join("cookies.bin");
    std::fs::write(&binary, b"\x7fELF\x02\x01\x01\0\0\0\tTRUE\t/\n").unwrap();
    for (file, expected) in [
        (
            firefox.join("cookies.sqlite"),
            format!(
                "this is Firefox's cookie database (cookies.sqlite), not a Netscape cookies.txt: read it with `--cookies-from-browser firefox:{}`",
                std::fs::canonicalize(&firefox).unwrap().display()
            ),
        ),
        (
            binary,
            "this is a binary file, not a Netscape cookies.txt".to_owned(),
        ),
    ] {
        let run = sso(
            home.path(),
            &["--cookie-jar", file.to_str().unwrap(), &login()],
        );
        let errors = input_errors(&run);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].1.contains(&expected), "{}", errors[0].1);
    }
}

/// Issue 13, point 7: `yt-dlp --cookies-from-browser chrome --cookies
/// FILE` copies Chromium's expiry (microseconds since 1601) into the
/// cookies.txt; curl reads the line, and so must reach.
#[test]
fn a_yt_dlp_cookies_txt_with_chromium_expiries() {
    let home = tempfile::tempdir().unwrap();
    let jar = home.path().join("yt-dlp.txt");
    std::fs::write(
        &jar,
        format!(
            "# Netscape HTTP Cookie File\n# This file is generated by yt-dlp.  Do not edit.\n\n\
             {IDP}\tFALSE\t/\tFALSE\t{EXPIRES_2030}\tidp_session\talice\n"
        ),
    )
    .unwrap();
    let run = sso(
        home.path(),
        &["--cookie-jar", jar.to_str().unwrap(), &login()],
    );
    assert_eq!(input_errors(&run), [], "{}", run.stdout);
    let check = sso_check(&run);
    assert_eq!(details(check).hops[1].cookies_sent, ["idp_session"]);
    assert!(codes(check).contains(&Code::SsoAutoLogin), "{}", run.stdout);
}
