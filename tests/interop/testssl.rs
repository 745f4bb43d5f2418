//! Interop case: certificate validity as testssl.sh judges it. nginx serves
//! leaves whose dates `openssl ca` set (expired, expiring within the
//! warning window, not yet valid, valid), each under its own name; the
//! truth is testssl.sh's verdict on each (`cert_expirationStatus`,
//! `cert_chain_of_trust`, and the days it counts), asserted first, and
//! reach must say the same: the finding, and the same number of days.
//!
//! Address: 127.0.7.1 (nginx, one server block a name, chosen by SNI).

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::time::SystemTime;

use reach_report::{Code, Status};

use crate::{Run, TempDir, codes, command, openssl, require, run_with};

const IP: &str = "127.0.7.1";
const DAY: u64 = 86_400;

/// `openssl ca`'s time format (`YYYYMMDDHHMMSSZ`) of `unix` seconds, by
/// coreutils' `date`.
fn asn1_time(unix: u64) -> String {
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{unix}"), "+%Y%m%d%H%M%SZ"])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A root made with `openssl req -x509`, and a leaf for `{name}.test`
/// valid from `start` to `end` (unix seconds), signed with `openssl ca`:
/// the one openssl command that sets both dates.
fn leaf_between(dir: &Path, name: &str, start: u64, end: u64) {
    let conf = format!(
        "[ca]\ndefault_ca = d\n[d]\ndir = .\ndatabase = index.txt\nserial = serial\n\
         new_certs_dir = .\ncertificate = root.pem\nprivate_key = root.key\ndefault_md = sha256\n\
         policy = p\nunique_subject = no\n[p]\ncommonName = supplied\n\
         [ext]\nbasicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n\
         subjectAltName = DNS:{name}.test\n"
    );
    let config = format!("{name}.cnf");
    std::fs::write(dir.join(&config), conf).expect("ca config");
    let (key, csr, pem, subject) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("/CN={name}.test"),
    );
    openssl(
        dir,
        &[
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", &key, "-out", &csr, "-subj",
            &subject,
        ],
    );
    let (start, end) = (asn1_time(start), asn1_time(end));
    openssl(
        dir,
        &[
            "ca",
            "-batch",
            "-notext",
            "-config",
            &config,
            "-extensions",
            "ext",
            "-startdate",
            &start,
            "-enddate",
            &end,
            "-in",
            &csr,
            "-out",
            &pem,
        ],
    );
}

/// testssl.sh's findings on `https://{name}.test:8443` (server defaults,
/// `-S`), trusting `ca`: id → (severity, finding). No DNS lookup (`--nodns
/// none`), no OCSP or CRL fetch (testssl fetches only with
/// `--phone-out`): it talks to nginx on loopback only.
fn testssl(name: &str, ca: &Path, dir: &TempDir) -> serde_json::Map<String, serde_json::Value> {
    let testssl = require("testssl", "testssl.sh");
    let json = dir.join(&format!("testssl-{name}.json"));
    let out = Command::new("timeout")
        .arg("180")
        .arg(&testssl)
        .args(["--quiet", "--warnings", "off", "--color", "0"])
        .args(["--nodns", "none", "--ip", IP, "-S"])
        .arg("--add-ca")
        .arg(ca)
        .arg("--jsonfile")
        .arg(&json)
        .arg(format!("https://{name}.test:8443"))
        .output()
        .expect("testssl runs");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!(
            "testssl wrote no JSON ({e}; {}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let list: Vec<serde_json::Value> = serde_json::from_str(&text).expect("testssl's JSON");
    list.into_iter()
        .filter_map(|f| {
            let id = f["id"].as_str()?.to_owned();
            Some((
                id,
                serde_json::json!([f["severity"].clone(), f["finding"].clone()]),
            ))
        })
        .collect()
}

/// testssl's `finding` text for `id`.
#[track_caller]
fn said<'a>(findings: &'a serde_json::Map<String, serde_json::Value>, id: &str) -> &'a str {
    findings
        .get(id)
        .and_then(|f| f[1].as_str())
        .unwrap_or_else(|| panic!("testssl said nothing of {id}: {findings:#?}"))
}

/// The days testssl counts in `cert_expirationStatus` (`expires < 30 days
/// (10)`, `199 >= 60 days`).
#[track_caller]
fn days_counted(status: &str) -> i64 {
    let digits: String = match status.split_once('(') {
        Some((_, rest)) => rest.chars().take_while(char::is_ascii_digit).collect(),
        None => status.chars().take_while(char::is_ascii_digit).collect(),
    };
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no day count in {status:?}"))
}

/// `reach check` of `https://{name}.test:8443/`, warning (as testssl's
/// high-severity band does) within 30 days of expiry.
fn reach(name: &str, ca: &Path) -> Run {
    let mut cmd = command();
    cmd.arg("check")
        .arg("--resolve")
        .arg(format!("{name}.test:8443:{IP}"))
        .arg("--ca-file")
        .arg(ca)
        .args(["--expiry-warn-days", "30"]);
    run_with(cmd, &[&format!("https://{name}.test:8443/")])
}

/// The days left reach counts for the server's certificate.
#[track_caller]
fn days_left(run: &Run) -> i64 {
    let check = run.only();
    let reach_report::Details::Endpoint(d) = &check.details else {
        panic!("not an endpoint check: {check:#?}");
    };
    d.hops[0]
        .tls
        .as_ref()
        .and_then(|t| t.chain.first())
        .map_or_else(|| panic!("no leaf in {check:#?}"), |c| c.days_left)
}

#[test]
fn certificate_dates_agree_with_testssl() {
    let dir = TempDir::new();
    let pki = dir.path();
    crate::servers::rsa_ca(pki, "root", "/CN=Testssl Interop Root", 3650);
    std::fs::write(pki.join("index.txt"), "").expect("ca database");
    std::fs::write(pki.join("serial"), "01\n").expect("ca serial");
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs();
    // Half a day off the day's edge, so that whole days count the same
    // whichever of the two looks first.
    for (name, start, end) in [
        ("expired", now - 400 * DAY, now - 30 * DAY - DAY / 2),
        ("soon", now - 10 * DAY, now + 10 * DAY + DAY / 2),
        ("early", now + 5 * DAY, now + 100 * DAY + DAY / 2),
        ("fine", now - DAY, now + 200 * DAY + DAY / 2),
    ] {
        leaf_between(pki, name, start, end);
    }
    let mut blocks = String::new();
    for name in ["expired", "soon", "early", "fine"] {
        let _ = writeln!(
            blocks,
            "server {{ listen {IP}:8443 ssl; server_name {name}.test;\n\
             ssl_certificate {dir}/{name}.pem; ssl_certificate_key {dir}/{name}.key;\n\
             location / {{ return 200 \"hello\\n\"; }} }}",
            dir = pki.display()
        );
    }
    let (_nginx, _conf) = crate::tls::nginx(IP, &blocks);
    let ca = pki.join("root.pem");

    // Expired: testssl fails the chain for it, reach fails the check.
    let truth = testssl("expired", &ca, &dir);
    assert_eq!(
        said(&truth, "cert_expirationStatus"),
        "expired",
        "{truth:#?}"
    );
    assert_eq!(said(&truth, "cert_chain_of_trust"), "failed (expired).");
    let run = reach("expired", &ca);
    assert_eq!(
        codes(run.only()),
        vec![Code::TlsCertExpired],
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 1);
    assert!(days_left(&run) < 0, "{}", run.stdout);

    // Within 30 days of expiry: testssl's high-severity band, reach's
    // warning, the same days counted.
    let truth = testssl("soon", &ca, &dir);
    let status = said(&truth, "cert_expirationStatus");
    assert!(status.starts_with("expires < 30 days"), "{truth:#?}");
    assert_eq!(said(&truth, "cert_chain_of_trust"), "passed.");
    let run = reach("soon", &ca);
    assert_eq!(
        codes(run.only()),
        vec![Code::TlsCertExpiringSoon],
        "{}",
        run.stdout
    );
    assert_eq!(run.only().status, Status::Warn);
    assert_eq!(
        days_left(&run),
        days_counted(status),
        "{status}: {}",
        run.stdout
    );

    // Not valid yet: testssl fails the chain, and counts its days all the
    // same; so does reach.
    let truth = testssl("early", &ca, &dir);
    assert_eq!(
        said(&truth, "cert_chain_of_trust"),
        "failed (not yet valid)."
    );
    let status = said(&truth, "cert_expirationStatus");
    let run = reach("early", &ca);
    assert_eq!(
        codes(run.only()),
        vec![Code::TlsCertNotYetValid],
        "{}",
        run.stdout
    );
    assert_eq!(
        days_left(&run),
        days_counted(status),
        "{status}: {}",
        run.stdout
    );

    // Valid for months: no word from either, the same days.
    let truth = testssl("fine", &ca, &dir);
    assert_eq!(said(&truth, "cert_chain_of_trust"), "passed.");
    let status = said(&truth, "cert_expirationStatus");
    assert!(status.ends_with(">= 60 days"), "{truth:#?}");
    let run = reach("fine", &ca);
    assert!(codes(run.only()).is_empty(), "{}", run.stdout);
    assert_eq!(run.code, 0);
    assert_eq!(
        days_left(&run),
        days_counted(status),
        "{status}: {}",
        run.stdout
    );
}
