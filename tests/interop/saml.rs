//! Interop cases: SimpleSAMLphp 1.19 (Debian's package, served by nginx and
//! php-fpm 8.2) as a real SAML IdP and SP. The IdP (`idp.saml.test`) signs
//! users in with exampleauth:UserPass; the app (`app.saml.test`) is a
//! `saml:SP` authsource and a page that calls `requireAuth()` and prints
//! "Signed in as …". Both speak https with certificates made by the openssl
//! CLI, each on its own loopback address (127.0.5.x), everything in the
//! case's directory.
//!
//! The truth of each flow is what the real software did: the SAML messages
//! the SP and the IdP really sent (decoded with PHP's DOM by `decode.php`),
//! the pages curl got from them, and the hops headless Chromium made (the
//! judge, `browser.rs`). reach's hops, cookies, end and findings must match.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reach_report::{Code, Finding};
use serde_json::Value;
use url::Url;

use crate::{Run, Server, TempDir, codes, command, curl, require, run_with, tool};

const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const APP: &str = "https://app.saml.test:8443/";
const IDP_SSO: &str = "https://idp.saml.test:8443/simplesaml/saml2/idp/SSOService.php";
const ACS: &str = "https://app.saml.test:8443/simplesaml/module.php/saml/sp/saml2-acs.php/app-sp";
const LOGIN_PAGE: &str = "https://idp.saml.test:8443/simplesaml/module.php/core/loginuserpass.php";
const USER: &str = "alice";
const PASSWORD: &str = "wonderland";

/// How the SP of a case sends its `AuthnRequest`.
#[derive(Clone, Copy)]
struct Sp {
    /// The only `SingleSignOnService` binding in the SP's copy of the IdP's
    /// metadata: the SP uses it.
    binding: &'static str,
    force_authn: bool,
    is_passive: bool,
}

const PLAIN: Sp = Sp {
    binding: REDIRECT,
    force_authn: false,
    is_passive: false,
};

/// The TLS certificate of both hosts (signed by a CA of the suite) and the
/// IdP's SAML signing key, made once with the openssl CLI.
struct Pki {
    dir: PathBuf,
}

impl Pki {
    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Command::new(require("openssl", "openssl"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl runs");
    assert!(
        output.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-saml-pki");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pki dir");
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=SAML Interop CA",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        std::fs::write(
            dir.join("tls.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:idp.saml.test,DNS:app.saml.test\n",
        )
        .expect("ext file");
        openssl(
            &dir,
            &[
                "req",
                "-new",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "tls.key",
                "-out",
                "tls.csr",
                "-subj",
                "/CN=saml.test",
            ],
        );
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "tls.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "365",
                "-sha256",
                "-extfile",
                "tls.ext",
                "-out",
                "tls.pem",
            ],
        );
        // The IdP's signing key: self-signed, as SimpleSAMLphp's manual
        // makes it.
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "signing.key",
                "-out",
                "signing.pem",
                "-days",
                "3650",
                "-subj",
                "/CN=idp.saml.test SAML signing",
            ],
        );
        Pki { dir }
    })
}

/// `template` with every `@NAME@` replaced; a name left over is a mistake
/// in the template.
fn fill(template: &str, vars: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in vars {
        text = text.replace(&format!("@{name}@"), value);
    }
    let left = text
        .split('@')
        .skip(1)
        .find(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'));
    assert!(left.is_none(), "@{}@ is not filled in", left.unwrap_or(""));
    text
}

/// One case's SimpleSAMLphp: the IdP and the app on their own addresses,
/// one nginx and one php-fpm, stopped by PID when dropped (servers first,
/// then the directory).
struct Saml {
    _nginx: Server,
    fpm: Fpm,
    dir: TempDir,
    idp_ip: &'static str,
    app_ip: &'static str,
}

impl Saml {
    #[track_caller]
    fn start(idp_ip: &'static str, app_ip: &'static str, sp: Sp) -> Saml {
        let pki = pki();
        let dir = TempDir::new();
        let root = dir.path().display().to_string();
        let mkdir = |p: &str| std::fs::create_dir_all(dir.join(p)).expect("case directory");
        for who in ["idp", "app"] {
            for sub in ["config/metadata", "cert", "log", "data", "tmp", "sessions"] {
                mkdir(&format!("{who}/{sub}"));
            }
        }
        mkdir("app/www");
        let secret = format!("interop-{}", std::process::id());
        for (who, host, is_idp, lifetime) in [
            ("idp", "idp.saml.test", "true", "3600"),
            ("app", "app.saml.test", "false", "0"),
        ] {
            let instance = format!("{root}/{who}");
            let base = format!("https://{host}:8443/simplesaml/");
            dir.write(
                &format!("{who}/config/config.php"),
                &fill(
                    include_str!("saml/config.php"),
                    &[
                        ("DIR", &instance),
                        ("BASEURL", &base),
                        ("SECRET", &secret),
                        ("IS_IDP", is_idp),
                        ("COOKIE_LIFETIME", lifetime),
                    ],
                ),
            );
        }
        dir.write(
            "idp/config/authsources.php",
            include_str!("saml/idp-authsources.php"),
        );
        dir.write(
            "idp/config/metadata/saml20-idp-hosted.php",
            include_str!("saml/idp-hosted.php"),
        );
        dir.write(
            "idp/config/metadata/saml20-sp-remote.php",
            include_str!("saml/idp-sp-remote.php"),
        );
        let flag = |b: bool| if b { "true" } else { "false" };
        dir.write(
            "app/config/authsources.php",
            &fill(
                include_str!("saml/sp-authsources.php"),
                &[
                    ("FORCE_AUTHN", flag(sp.force_authn)),
                    ("IS_PASSIVE", flag(sp.is_passive)),
                ],
            ),
        );
        dir.write(
            "app/config/metadata/saml20-idp-remote.php",
            &fill(
                include_str!("saml/sp-idp-remote.php"),
                &[("SSO_BINDING", sp.binding)],
            ),
        );
        dir.write("app/www/index.php", include_str!("saml/app.php"));
        dir.write("decode.php", include_str!("saml/decode.php"));
        for (from, to) in [
            ("signing.key", "idp/cert/signing.key"),
            ("signing.pem", "idp/cert/signing.pem"),
            ("signing.pem", "app/cert/idp-signing.pem"),
        ] {
            std::fs::copy(pki.dir.join(from), dir.join(to)).expect("copy a key");
        }
        let vars = [
            ("DIR", root.as_str()),
            ("PKI", &pki.dir.display().to_string()),
            ("IDP_IP", idp_ip),
            ("APP_IP", app_ip),
        ];
        let fpm_conf = dir.write(
            "php-fpm.conf",
            &fill(include_str!("saml/php-fpm.conf"), &vars),
        );
        let nginx_conf = dir.write("nginx.conf", &fill(include_str!("saml/nginx.conf"), &vars));

        // php-fpm in the foreground, as root in CI (-R), on a unix socket:
        // ready when the socket exists.
        let mut cmd = Command::new(require("php-fpm8.2", "php8.2-fpm"));
        cmd.arg("-F").arg("-R").arg("-y").arg(&fpm_conf);
        let fpm = Fpm {
            server: Server::spawn("php-fpm", cmd, &dir.join("php-fpm.out")),
            pid_file: dir.join("php-fpm.pid"),
        };
        let socket = dir.join("php-fpm.sock");
        let deadline = Instant::now() + Duration::from_secs(15);
        while !socket.exists() {
            assert!(
                Instant::now() < deadline,
                "php-fpm did not open {} within 15 s: {}",
                socket.display(),
                fpm.server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut cmd = Command::new(require("nginx", "nginx-light"));
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&nginx_conf)
            .arg("-e")
            .arg(dir.join("nginx-error.log"));
        // nginx binds every listen address before it serves any.
        let addr = format!("{idp_ip}:8443").parse().expect("address");
        let nginx = Server::start("nginx", cmd, addr, &dir.join("nginx.out"));
        Saml {
            _nginx: nginx,
            fpm,
            dir,
            idp_ip,
            app_ip,
        }
    }

    fn ca(&self) -> String {
        pki().path("ca.pem")
    }

    /// The names of the case, for curl and reach (`--resolve`).
    fn resolve(&self) -> Vec<String> {
        vec![
            "--resolve".to_owned(),
            format!("idp.saml.test:8443:{}", self.idp_ip),
            "--resolve".to_owned(),
            format!("app.saml.test:8443:{}", self.app_ip),
        ]
    }

    /// What the servers logged: shown when a truth does not hold.
    fn logs(&self) -> String {
        let read = |p: &str| std::fs::read_to_string(self.dir.join(p)).unwrap_or_default();
        format!(
            "php errors:\n{}\nIdP log:\n{}\nSP log:\n{}\nphp-fpm:\n{}\nnginx:\n{}",
            read("php-errors.log"),
            read("idp/log/simplesamlphp.log"),
            read("app/log/simplesamlphp.log"),
            self.fpm.server.log_text(),
            read("nginx-error.log")
        )
    }

    /// One request by curl with the case's names, CA and cookie jar file
    /// (read and written back, as a browser keeps its cookies): a form is
    /// POSTed when `form` is not empty.
    #[track_caller]
    fn fetch(&self, jar: &Path, url: &str, form: &[(&str, &str)]) -> Page {
        if !jar.exists() {
            std::fs::write(jar, "").expect("cookie jar");
        }
        let body = self.dir.join("curl-body.html");
        let _ = std::fs::remove_file(&body);
        let jar = jar.display().to_string();
        let ca = self.ca();
        let body_arg = body.display().to_string();
        let mut args: Vec<String> = vec![
            "-sS".into(),
            "--max-time".into(),
            "15".into(),
            "--cacert".into(),
            ca,
            "-b".into(),
            jar.clone(),
            "-c".into(),
            jar,
            "-D".into(),
            "-".into(),
            "-o".into(),
            body_arg,
        ];
        args.extend(self.resolve());
        for (k, v) in form {
            args.push("--data-urlencode".into());
            args.push(format!("{k}={v}"));
        }
        args.push(url.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let head = curl(&args);
        let status = head
            .lines()
            .find(|l| l.starts_with("HTTP/"))
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("curl got no answer from {url}: {head}\n{}", self.logs()));
        let headers = head
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Page {
            method: if form.is_empty() { "GET" } else { "POST" },
            url: url.to_owned(),
            status,
            headers,
            body: std::fs::read_to_string(&body).unwrap_or_default(),
        }
    }

    /// Walks from `start` with curl as a browser would in this flow:
    /// redirects, and the self-submitting SAML forms (SimpleSAMLphp's
    /// post page clicks its button by script). Ends at any other page.
    #[track_caller]
    fn follow(&self, jar: &Path, start: &str) -> Vec<Page> {
        let mut pages: Vec<Page> = Vec::new();
        let mut next = (start.to_owned(), Vec::<(String, String)>::new());
        for _ in 0..12 {
            let form: Vec<(&str, &str)> = next
                .1
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let page = self.fetch(jar, &next.0, &form);
            let step = if let Some(location) = page.location() {
                Some((location, Vec::new()))
            } else if let Some(action) = page.saml_form() {
                let fields = ["SAMLRequest", "SAMLResponse", "RelayState"]
                    .iter()
                    .filter_map(|n| page.hidden(n).map(|v| ((*n).to_owned(), v)))
                    .collect();
                Some((action, fields))
            } else {
                None
            };
            pages.push(page);
            match step {
                Some(step) => next = step,
                None => return pages,
            }
        }
        panic!("curl went on for 12 pages from {start}: {pages:#?}");
    }

    /// The truth about a SAML message: `decode.php` (PHP's DOM) reads it.
    #[track_caller]
    fn decode(&self, binding: &str, value: &str) -> Value {
        let php = require("php", "php8.2-cli");
        let script = self.dir.arg("decode.php");
        let out = tool(&php, &[&script, binding], Some(value));
        let text = String::from_utf8_lossy(&out.stdout);
        serde_json::from_str(&text).unwrap_or_else(|e| {
            panic!(
                "decode.php ({e}): {text} {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    /// Signs alice in with curl from the sign-in page `login` (the last
    /// page of a walk), then follows the SAMLResponse to the app. Returns
    /// the pages after the sign-in.
    #[track_caller]
    fn sign_in(&self, jar: &Path, login: &Page) -> Vec<Page> {
        assert!(login.url.starts_with(LOGIN_PAGE), "{login:#?}");
        let state = login.hidden("AuthState").expect("the form has AuthState");
        let posted = self.fetch(
            jar,
            &login.url,
            &[
                ("username", USER),
                ("password", PASSWORD),
                ("AuthState", &state),
            ],
        );
        let action = posted
            .saml_form()
            .unwrap_or_else(|| panic!("no SAMLResponse form after signing in: {posted:#?}"));
        let fields: Vec<(String, String)> = ["SAMLResponse", "RelayState"]
            .iter()
            .filter_map(|n| posted.hidden(n).map(|v| ((*n).to_owned(), v)))
            .collect();
        let form: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (&**k, &**v)).collect();
        let acs = self.fetch(jar, &action, &form);
        let mut pages = vec![posted, acs];
        if let Some(location) = pages[1].location() {
            pages.extend(self.follow(jar, &location));
        }
        pages
    }

    /// `reach sso URL` with the case's names and CA, seeded with `jar`.
    fn reach(&self, jar: Option<&Path>, url: &str) -> Run {
        let mut cmd = command();
        cmd.arg("sso");
        let mut args = self.resolve();
        args.extend(["--ca-file".to_owned(), self.ca()]);
        args.extend(["--timeout".to_owned(), "30s".to_owned()]);
        if let Some(jar) = jar {
            args.extend(["--cookie-jar".to_owned(), jar.display().to_string()]);
        }
        args.push(url.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run_with(cmd, &args)
    }
}

/// php-fpm's master and its workers. The master is asked to stop first
/// (SIGTERM, by the PID it wrote: the process this case started), so that it
/// stops its workers; a master killed outright leaves them running.
struct Fpm {
    server: Server,
    pid_file: PathBuf,
}

impl Drop for Fpm {
    fn drop(&mut self) {
        let Some(pid) = std::fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok())
        else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        // php-fpm removes its PID file once its workers are gone.
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.pid_file.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // Then `server` is dropped: the master is killed if still there.
    }
}

/// A page curl got.
#[derive(Debug)]
struct Page {
    method: &'static str,
    url: String,
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Page {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn location(&self) -> Option<String> {
        if !(300..400).contains(&self.status) {
            return None;
        }
        let location = self.header("location")?;
        Some(
            Url::parse(&self.url)
                .and_then(|u| u.join(location))
                .expect("a Location")
                .to_string(),
        )
    }

    /// The value of the hidden input `name` (SimpleSAMLphp writes
    /// `name="…" value="…"` in that order).
    fn hidden(&self, name: &str) -> Option<String> {
        let at = self.body.find(&format!("name=\"{name}\""))?;
        let rest = &self.body[at..];
        let value = rest.split("value=\"").nth(1)?.split('"').next()?;
        Some(
            value
                .replace("&amp;", "&")
                .replace("&quot;", "\"")
                .replace("&#039;", "'")
                .replace("&lt;", "<")
                .replace("&gt;", ">"),
        )
    }

    /// The action of a form carrying a SAML message, if this page is one.
    fn saml_form(&self) -> Option<String> {
        if self.hidden("SAMLRequest").is_none() && self.hidden("SAMLResponse").is_none() {
            return None;
        }
        let form = &self.body[self.body.find("<form")?..];
        let action = form.split("action=\"").nth(1)?.split('"').next()?;
        Some(action.replace("&amp;", "&"))
    }

    /// The SAMLRequest the Location header carries (HTTP-Redirect binding).
    fn redirect_request(&self) -> Option<String> {
        let url = Url::parse(&self.location()?).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == "SAMLRequest")
            .map(|(_, v)| v.into_owned())
    }

    fn is_sign_in(&self) -> bool {
        self.status == 200
            && self.url.starts_with(LOGIN_PAGE)
            && self.body.contains("type=\"password\"")
    }
}

/// A hop as both sides can say it: method, URL without its query (the
/// SAML messages differ from run to run) and status.
fn hop_key(method: &str, url: &str, status: u16) -> String {
    let mut url = Url::parse(url).expect("a hop URL");
    url.set_query(None);
    url.set_fragment(None);
    format!("{method} {url} {status}")
}

fn curl_hops(pages: &[Page]) -> Vec<String> {
    pages
        .iter()
        .map(|p| hop_key(p.method, &p.url, p.status))
        .collect()
}

fn reach_hops(run: &Run) -> Vec<String> {
    details(run)
        .hops
        .iter()
        .map(|h| hop_key(&h.method, &h.url, h.status.unwrap_or(0)))
        .collect()
}

fn details(run: &Run) -> &reach_report::sso::SsoDetails {
    match &run.only().details {
        reach_report::Details::Sso(d) => d,
        other => panic!("not an sso check: {other:#?}"),
    }
}

fn has(run: &Run, code: Code) -> Option<&Finding> {
    run.only().findings.iter().find(|f| f.code == code)
}

/// Only the cookies a browser profile keeps when the browser closes: a
/// cookies.txt without its session cookies (expiry 0).
fn persistent_only(cookies_txt: &str) -> String {
    cookies_txt
        .lines()
        .filter(|l| {
            let fields: Vec<&str> = l.split('\t').collect();
            fields.len() != 7 || fields[4] != "0"
        })
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn redirect_binding_without_a_session_ends_at_the_sign_in_page() {
    let saml = Saml::start("127.0.5.1", "127.0.5.2", PLAIN);
    let jar = saml.dir.join("curl-jar.txt");
    // Truth: the SP sends an AuthnRequest by the Redirect binding without
    // ForceAuthn, and the IdP answers with its sign-in page.
    let pages = saml.follow(&jar, APP);
    let request = pages[0]
        .redirect_request()
        .unwrap_or_else(|| panic!("no Redirect-binding SAMLRequest: {pages:#?}"));
    let request = saml.decode("redirect", &request);
    assert_eq!(request["element"], "AuthnRequest", "{request}");
    assert_eq!(request["force_authn"], Value::Null, "{request}");
    let last = pages.last().expect("pages");
    assert!(last.is_sign_in(), "{last:#?}\n{}", saml.logs());
    let truth = curl_hops(&pages);
    assert_eq!(
        truth,
        [
            hop_key("GET", APP, 302),
            hop_key("GET", IDP_SSO, 302),
            hop_key("GET", LOGIN_PAGE, 200)
        ]
    );

    let run = saml.reach(None, APP);
    assert_eq!(reach_hops(&run), truth, "{}", run.stdout);
    let d = details(&run);
    assert_eq!(d.end.kind, "login_page", "{}", run.stdout);
    let f = has(&run, Code::SsoNoReauthParam)
        .unwrap_or_else(|| panic!("no sso.no_reauth_param: {:#?}", codes(run.only())));
    assert!(f.message.contains("ForceAuthn"), "{}", f.message);
    assert!(has(&run, Code::SsoAutoLogin).is_none(), "{}", run.stdout);
}

#[test]
fn a_signed_in_session_comes_back_to_the_app_without_a_loop() {
    let saml = Saml::start("127.0.5.3", "127.0.5.4", PLAIN);
    let jar = saml.dir.join("curl-jar.txt");
    // Truth: alice signs in; the IdP's Response is a success naming her,
    // the ACS sends the browser back to the app with a 303, and the app
    // greets her.
    let pages = saml.follow(&jar, APP);
    let after = saml.sign_in(&jar, pages.last().expect("pages"));
    let response = saml.decode(
        "post",
        &after[0].hidden("SAMLResponse").expect("a response"),
    );
    assert_eq!(
        response["status_codes"],
        serde_json::json!(["urn:oasis:names:tc:SAML:2.0:status:Success"]),
        "{response}"
    );
    assert_eq!(response["uid"], USER, "{response}");
    assert_eq!(after[1].status, 303, "{:#?}", after[1]);
    let app = after.last().expect("pages");
    assert!(app.body.contains("Signed in as alice"), "{app:#?}");

    // What a browser profile holds once the browser closed: the IdP's
    // persistent session cookies, not the app's session cookie. With it,
    // the app sends the browser to the IdP, which answers at once.
    let profile = std::fs::read_to_string(&jar).expect("curl's jar");
    let seed = saml
        .dir
        .write("seed-cookies.txt", &persistent_only(&profile));
    let kept = std::fs::read_to_string(&seed).expect("seed");
    assert!(kept.contains("idp.saml.test"), "{profile}");
    assert!(!kept.contains("app.saml.test"), "{profile}");
    let again = saml.dir.join("curl-jar-2.txt");
    std::fs::copy(&seed, &again).expect("copy");
    let pages = saml.follow(&again, APP);
    let truth = curl_hops(&pages);
    assert_eq!(
        truth,
        [
            hop_key("GET", APP, 302),
            hop_key("GET", IDP_SSO, 200),
            hop_key("POST", ACS, 303),
            hop_key("GET", APP, 200),
        ],
        "{pages:#?}"
    );
    assert!(pages[3].body.contains("Signed in as alice"));

    let run = saml.reach(Some(&seed), APP);
    assert_eq!(reach_hops(&run), truth, "{}", run.stdout);
    assert!(
        has(&run, Code::SsoRedirectLoop).is_none(),
        "a second visit of the app with its new session cookie is progress, not a loop: {:#?}",
        codes(run.only())
    );
    let f = has(&run, Code::SsoAutoLogin)
        .unwrap_or_else(|| panic!("no sso.auto_login: {:#?}", codes(run.only())));
    assert!(f.message.contains("alice"), "{}", f.message);
    assert_eq!(details(&run).end.kind, "app_page", "{}", run.stdout);
}

#[test]
fn post_binding_authn_request_is_read_for_force_authn() {
    let saml = Saml::start(
        "127.0.5.5",
        "127.0.5.6",
        Sp {
            binding: POST,
            ..PLAIN
        },
    );
    let jar = saml.dir.join("curl-jar.txt");
    // Truth: the app answers with SimpleSAMLphp's self-submitting form
    // carrying the AuthnRequest (no ForceAuthn) to the IdP, which shows
    // its sign-in page.
    let pages = saml.follow(&jar, APP);
    assert_eq!(pages[0].status, 200, "{:#?}", pages[0]);
    assert_eq!(pages[0].saml_form().as_deref(), Some(IDP_SSO));
    let request = saml.decode(
        "post",
        &pages[0].hidden("SAMLRequest").expect("a SAMLRequest"),
    );
    assert_eq!(request["element"], "AuthnRequest", "{request}");
    assert_eq!(request["force_authn"], Value::Null, "{request}");
    let truth = curl_hops(&pages);
    assert_eq!(
        truth,
        [
            hop_key("GET", APP, 200),
            hop_key("POST", IDP_SSO, 303),
            hop_key("GET", LOGIN_PAGE, 200)
        ],
        "{pages:#?}"
    );
    assert!(pages[2].is_sign_in(), "{:#?}", pages[2]);

    let run = saml.reach(None, APP);
    assert_eq!(reach_hops(&run), truth, "{}", run.stdout);
    assert_eq!(details(&run).end.kind, "login_page", "{}", run.stdout);
    let f = has(&run, Code::SsoNoReauthParam).unwrap_or_else(|| {
        panic!(
            "the HTTP-POST AuthnRequest has no ForceAuthn, yet no sso.no_reauth_param: {:#?}",
            codes(run.only())
        )
    });
    assert_eq!(f.evidence["hop"], 2, "{f:#?}");
}

#[test]
fn force_authn_brings_up_the_sign_in_page_despite_a_session() {
    let saml = Saml::start(
        "127.0.5.7",
        "127.0.5.8",
        Sp {
            force_authn: true,
            ..PLAIN
        },
    );
    let jar = saml.dir.join("curl-jar.txt");
    let pages = saml.follow(&jar, APP);
    let request = saml.decode("redirect", &pages[0].redirect_request().expect("request"));
    assert_eq!(request["force_authn"], "true", "{request}");
    let after = saml.sign_in(&jar, pages.last().expect("pages"));
    assert!(
        after
            .last()
            .expect("pages")
            .body
            .contains("Signed in as alice")
    );
    // Truth: with the IdP's session, the IdP still asks for the password.
    let profile = std::fs::read_to_string(&jar).expect("curl's jar");
    let seed = saml
        .dir
        .write("seed-cookies.txt", &persistent_only(&profile));
    let again = saml.dir.join("curl-jar-2.txt");
    std::fs::copy(&seed, &again).expect("copy");
    let pages = saml.follow(&again, APP);
    let truth = curl_hops(&pages);
    assert!(pages.last().expect("pages").is_sign_in(), "{pages:#?}");

    let run = saml.reach(Some(&seed), APP);
    assert_eq!(reach_hops(&run), truth, "{}", run.stdout);
    assert_eq!(details(&run).end.kind, "login_page", "{}", run.stdout);
    assert!(
        has(&run, Code::SsoNoReauthParam).is_none(),
        "{:#?}",
        codes(run.only())
    );
    assert!(
        has(&run, Code::SsoAutoLogin).is_none(),
        "{:#?}",
        codes(run.only())
    );
}

#[test]
fn no_passive_response_is_an_idp_error_not_a_sign_in() {
    let saml = Saml::start(
        "127.0.5.9",
        "127.0.5.10",
        Sp {
            is_passive: true,
            ..PLAIN
        },
    );
    let jar = saml.dir.join("curl-jar.txt");
    // Truth: without a session the IdP answers the passive request with a
    // Response whose status is Responder / NoPassive and that carries no
    // assertion; the SP shows its error page.
    let pages = saml.follow(&jar, APP);
    let request = saml.decode("redirect", &pages[0].redirect_request().expect("request"));
    assert_eq!(request["is_passive"], "true", "{request}");
    let response = saml.decode(
        "post",
        &pages[1].hidden("SAMLResponse").expect("a SAMLResponse"),
    );
    assert_eq!(
        response["status_codes"],
        serde_json::json!([
            "urn:oasis:names:tc:SAML:2.0:status:Responder",
            "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
        ]),
        "{response}"
    );
    assert_eq!(response["assertions"], 0, "{response}");
    let message = response["status_message"]
        .as_str()
        .expect("a StatusMessage")
        .to_owned();
    let truth = curl_hops(&pages);
    assert_eq!(
        truth,
        [
            hop_key("GET", APP, 302),
            hop_key("GET", IDP_SSO, 200),
            hop_key("POST", ACS, 200),
        ],
        "{pages:#?}"
    );
    assert!(pages[2].body.contains("NoPassive"), "{:#?}", pages[2]);

    let run = saml.reach(None, APP);
    assert_eq!(reach_hops(&run), truth, "{}", run.stdout);
    assert!(
        has(&run, Code::SsoAutoLogin).is_none(),
        "a NoPassive Response without an assertion is no sign-in: {:#?}",
        codes(run.only())
    );
    let f = has(&run, Code::SsoIdpError)
        .unwrap_or_else(|| panic!("no sso.idp_error: {:#?}", codes(run.only())));
    assert!(f.message.contains("NoPassive"), "{}", f.message);
    assert!(f.message.contains(&message), "{}", f.message);
}
