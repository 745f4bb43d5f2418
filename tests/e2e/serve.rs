//! `reach serve` against the lab: what Prometheus sees of a probe (names,
//! labels, findings), the 400s, the exporter's own metrics, the scrape
//! timeout, the concurrency bound and SIGTERM's drain.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::lab;
use crate::support::{Ended, signal_and_wait, wait};

/// A `reach serve` process on a free loopback port, stopped by its PID.
struct Serve {
    child: Option<Child>,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Serve {
    /// Starts `reach serve` with `config` (lab paths in it as `{ca}`,
    /// `{dns}`) and `args`.
    fn start(config: &str, args: &[&str]) -> Serve {
        let dir = tempfile::tempdir().unwrap();
        let lab = lab();
        let config = config
            .replace("{ca}", &lab.ca_pem_path.display().to_string())
            .replace("{dns}", &lab.dns.to_string());
        let path = dir.path().join("reach.toml");
        std::fs::write(&path, config).unwrap();
        let mut command = crate::support::process();
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--config"])
            .arg(&path)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The first line says where it listens.
        let mut stderr = BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        stderr.read_line(&mut line).unwrap();
        let addr = line
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .parse()
            .unwrap();
        // Keep reading stderr so that the server never blocks on it.
        std::thread::spawn(move || {
            let mut rest = String::new();
            let _ = stderr.read_to_string(&mut rest);
        });
        Serve {
            child: Some(child),
            addr,
            _dir: dir,
        }
    }

    fn get(&self, path: &str) -> Answer {
        get(self.addr, path, &[])
    }

    /// SIGTERM after `after`; how it ended.
    fn terminate(mut self, after: Duration) -> Ended {
        let child = self.child.take().unwrap();
        signal_and_wait(child, "-TERM", after, Duration::from_secs(15))
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Waits (at most 5 s) until `reach_serve_probes_in_flight` is `n`.
#[track_caller]
fn until_in_flight(addr: SocketAddr, n: f64) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let body = get(addr, "/metrics", &[]).body;
        if sample(&body, "reach_serve_probes_in_flight") == Some(n) {
            return;
        }
        assert!(Instant::now() < until, "never {n} in flight: {body}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

/// A plain HTTP/1.1 GET, bounded in time.
fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        let _ = write!(request, "{name}: {value}\r\n");
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_owned())
        })
        .unwrap_or_default();
    Answer {
        status,
        content_type,
        body: body.to_owned(),
    }
}

/// The value of the sample `series` (name and labels as written).
fn sample(body: &str, series: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
}

const CONFIG: &str = r#"
[defaults]
dns_servers = ["{dns}"]
ca_files = ["{ca}"]

[modules.default]
timeout = "5s"

[modules.follow]
follow = true

[[endpoint]]
name = "two"
urls = ["http://good.lab.test:{http}/", "http://nope.lab.test/?token=abc"]

[[oauth_scopes]]
name = "scopes"
url = "https://app.hubspot.com/oauth/authorize?client_id=x&scope=crm.objects.contacts.read&redirect_uri=https://app.example/cb"
required = ["crm.objects.contacts.read", "oauth"]
"#;

fn config() -> String {
    CONFIG.replace("{http}", &lab().http.port().to_string())
}

/// Values that change from run to run (times, the certificate's expiry)
/// as `<t>`; the rest as written.
fn stable(body: &str) -> String {
    body.lines()
        .map(|l| {
            // The lab's names have IPv4 and IPv6 addresses: either may win.
            let timed = ["_seconds", "_cert_expiry", "_ip_protocol"]
                .iter()
                .any(|m| l.split(['{', ' ']).next().is_some_and(|n| n.ends_with(m)));
            match l.rsplit_once(' ') {
                Some((series, _)) if timed && !l.starts_with('#') => format!("{series} <t>"),
                _ => l.to_owned(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_probe_answers_with_blackbox_names_and_the_findings() {
    let lab = lab();
    let serve = Serve::start(&config(), &[]);
    let good = format!(
        "/probe?target=https://good.lab.test:{}/&module=default",
        lab.https.port()
    );
    let answer = serve.get(&good);
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(
        answer.content_type.starts_with("text/plain; version=0.0.4"),
        "{answer:?}"
    );
    let body = &answer.body;
    assert_eq!(sample(body, "probe_success"), Some(1.0), "{body}");
    assert_eq!(
        sample(body, "probe_http_status_code"),
        Some(200.0),
        "{body}"
    );
    assert_eq!(sample(body, "probe_http_ssl"), Some(1.0), "{body}");
    assert_eq!(
        sample(body, "probe_tls_version_info{version=\"TLS 1.3\"}"),
        Some(1.0),
        "{body}"
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let expiry = sample(body, "probe_ssl_earliest_cert_expiry").unwrap();
    assert!(expiry > now, "{body}");
    // No label of a single probe: Prometheus's `instance` says which.
    assert!(!body.contains("target="), "{body}");
    insta::assert_snapshot!("serve_probe_https", stable(body));

    // A failing target: probe_success 0 and why.
    let refused = format!("/probe?target=http://{}/", lab.refused);
    let body = serve.get(&refused).body;
    assert_eq!(sample(&body, "probe_success"), Some(0.0), "{body}");
    assert_eq!(
        sample(
            &body,
            "reach_finding{code=\"tcp.refused\",severity=\"fail\"}"
        ),
        Some(1.0),
        "{body}"
    );
    assert_eq!(sample(&body, "probe_http_status_code"), Some(0.0), "{body}");
}

#[test]
fn a_module_s_options_are_the_check_s() {
    let lab = lab();
    let serve = Serve::start(&config(), &[]);
    let redirect = format!(
        "/probe?target=http://good.lab.test:{}/redirect/2",
        lab.http.port()
    );
    // The default module does not follow: a 302 is the answer.
    let body = serve.get(&redirect).body;
    assert_eq!(
        sample(&body, "probe_http_status_code"),
        Some(302.0),
        "{body}"
    );
    let body = serve.get(&format!("{redirect}&module=follow")).body;
    assert_eq!(
        sample(&body, "probe_http_status_code"),
        Some(200.0),
        "{body}"
    );
    assert_eq!(sample(&body, "probe_http_redirects"), Some(3.0), "{body}");
}

#[test]
fn checks_of_any_kind_are_probed_by_name() {
    let serve = Serve::start(&config(), &[]);
    // A check's series say which check, whatever it made this time.
    let body = serve.get("/probe?check=scopes").body;
    let labels =
        "kind=\"oauth_scopes\",target=\"https://app.hubspot.com/oauth/authorize\",name=\"scopes\"";
    assert_eq!(
        sample(&body, &format!("probe_success{{{labels}}}")),
        Some(0.0),
        "{body}"
    );
    assert_eq!(
        sample(
            &body,
            &format!(
                "reach_finding{{{labels},code=\"oauth.scope.required_missing\",severity=\"fail\"}}"
            )
        ),
        Some(1.0),
        "{body}"
    );
    // An entry with two targets: a series for each, labelled, and no
    // query string (it may hold a secret, and makes series unbounded).
    let body = serve.get("/probe?check=two").body;
    let good = format!(
        "probe_success{{kind=\"endpoint\",target=\"http://good.lab.test:{}/\",name=\"two\"}}",
        lab().http.port()
    );
    assert_eq!(sample(&body, &good), Some(1.0), "{body}");
    assert_eq!(
        sample(
            &body,
            "probe_success{kind=\"endpoint\",target=\"http://nope.lab.test/\",name=\"two\"}"
        ),
        Some(0.0),
        "{body}"
    );
    assert!(!body.contains("token"), "{body}");
}

#[test]
fn bad_requests_get_a_400_with_a_plain_message() {
    let serve = Serve::start(&config(), &[]);
    for (path, says) in [
        (
            "/probe?target=http://good.lab.test/&module=nope",
            "unknown module `nope` (modules: default, follow)",
        ),
        (
            "/probe?check=nope",
            "unknown check `nope` (the config's checks: scopes, two)",
        ),
        ("/probe", "give target=URL"),
        ("/probe?target=http://a/&check=two", "not both"),
        ("/probe?target=http://%5B::1", "target: "),
    ] {
        let answer = serve.get(path);
        assert_eq!(answer.status, 400, "{path}: {answer:?}");
        assert!(
            answer.content_type.starts_with("text/plain"),
            "{path}: {answer:?}"
        );
        assert!(answer.body.contains(says), "{path}: {answer:?}");
    }
    let answer = serve.get("/probe?target=http://a/&modul=x");
    assert_eq!(answer.status, 400, "{answer:?}");
    assert!(
        answer.body.contains("unknown parameter `modul`"),
        "{answer:?}"
    );
    assert_eq!(serve.get("/nope").status, 404);
    let mut stream = TcpStream::connect(serve.addr).unwrap();
    stream
        .write_all(b"POST /probe?check=scopes HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 405"), "{raw}");
    assert_eq!(serve.get("/-/healthy").status, 200);
    let index = serve.get("/").body;
    assert!(index.contains("modules: default, follow"), "{index}");
}

#[test]
fn openmetrics_is_answered_when_the_scraper_asks_for_it() {
    let serve = Serve::start(&config(), &[]);
    let answer = get(
        serve.addr,
        "/probe?check=scopes",
        &[(
            "Accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )],
    );
    assert!(
        answer
            .content_type
            .starts_with("application/openmetrics-text"),
        "{answer:?}"
    );
    assert!(answer.body.ends_with("# EOF\n"), "{answer:?}");
    let metrics = get(
        serve.addr,
        "/metrics",
        &[("Accept", "application/openmetrics-text")],
    );
    assert!(metrics.body.ends_with("# EOF\n"), "{metrics:?}");
}

#[test]
fn the_exporter_counts_its_probes() {
    let lab = lab();
    let serve = Serve::start(&config(), &[]);
    serve.get(&format!(
        "/probe?target=http://good.lab.test:{}/",
        lab.http.port()
    ));
    serve.get(&format!("/probe?target=http://{}/", lab.refused));
    serve.get("/probe?check=scopes");
    let body = serve.get("/metrics").body;
    for (series, value) in [
        (
            "reach_serve_probes_total{kind=\"endpoint\",result=\"success\"}",
            1.0,
        ),
        (
            "reach_serve_probes_total{kind=\"endpoint\",result=\"failure\"}",
            1.0,
        ),
        (
            "reach_serve_probes_total{kind=\"oauth_scopes\",result=\"failure\"}",
            1.0,
        ),
        (
            "reach_serve_probe_duration_seconds_count{kind=\"endpoint\"}",
            2.0,
        ),
        ("reach_serve_probes_in_flight", 0.0),
    ] {
        assert_eq!(sample(&body, series), Some(value), "{series}: {body}");
    }
}

#[test]
fn the_scrape_timeout_bounds_a_probe() {
    let lab = lab();
    let serve = Serve::start(&config().replace("\"5s\"", "\"30s\""), &[]);
    let started = Instant::now();
    let answer = get(
        serve.addr,
        &format!("/probe?target=http://{}/", lab.silent),
        &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")],
    );
    let took = started.elapsed();
    // The 1.5 s scrape less the half second the answer needs to travel.
    // Not the module's 30 s (a loaded machine may add a little to it).
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert!(took >= Duration::from_millis(900), "{took:?}");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(sample(&answer.body, "probe_success"), Some(0.0));
    assert!(answer.body.contains("code=\"http.timeout\""), "{answer:?}");
}

#[test]
fn probes_beyond_the_concurrency_wait_then_get_a_503() {
    let lab = lab();
    let serve = Serve::start(
        &config().replace("\"5s\"", "\"3s\""),
        &["--concurrency", "1"],
    );
    let addr = serve.addr;
    let silent = format!("/probe?target=http://{}/", lab.silent);
    let first = std::thread::spawn(move || get(addr, &silent, &[]));
    until_in_flight(addr, 1.0);
    let answer = get(
        serve.addr,
        "/probe?check=scopes",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "1")],
    );
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(
        answer
            .body
            .starts_with("1 probe was already running (--concurrency)"),
        "{answer:?}"
    );
    assert_eq!(first.join().unwrap().status, 200);
}

#[test]
fn sigterm_lets_the_probes_in_flight_finish() {
    let lab = lab();
    let serve = Serve::start(&config().replace("\"5s\"", "\"2s\""), &[]);
    let addr = serve.addr;
    let silent = format!("/probe?target=http://{}/", lab.silent);
    let probe = std::thread::spawn(move || get(addr, &silent, &[]));
    // While the probe drains, nothing new is accepted.
    let knocked = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_secs(1));
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err()
    });
    let ended = serve.terminate(Duration::from_millis(500));
    assert_eq!(ended.code, Some(0), "{}", ended.stderr);
    assert!(ended.took < Duration::from_secs(5), "{:?}", ended.took);
    // It waited for the probe: its 2 s, less the half second before SIGTERM.
    assert!(
        ended.took >= Duration::from_millis(1200),
        "{:?}",
        ended.took
    );
    assert!(
        knocked.join().unwrap(),
        "a connection was accepted while draining"
    );
    // The probe in flight got its answer: its own timeout, not a reset.
    let answer = probe.join().unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(sample(&answer.body, "probe_success"), Some(0.0));
}

#[test]
fn a_probe_the_scraper_gave_up_on_stops_and_frees_its_turn() {
    let lab = lab();
    let serve = Serve::start(
        &config().replace("\"5s\"", "\"30s\""),
        &["--concurrency", "1"],
    );
    // A scraper that gives up after half a second on a silent target.
    let mut stream = TcpStream::connect(serve.addr).unwrap();
    let request = format!(
        "GET /probe?target=http://{}/ HTTP/1.1\r\nHost: x\r\n\r\n",
        lab.silent
    );
    stream.write_all(request.as_bytes()).unwrap();
    until_in_flight(serve.addr, 1.0);
    drop(stream);
    // Stopped long before its 30 s.
    until_in_flight(serve.addr, 0.0);
    // Its turn is free again: with --concurrency 1 the next probe runs.
    let answer = get(
        serve.addr,
        "/probe?check=scopes",
        &[("X-Prometheus-Scrape-Timeout-Seconds", "2")],
    );
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[test]
fn a_probe_that_waited_for_its_turn_still_answers_within_the_scrape() {
    let lab = lab();
    let serve = Serve::start(
        &config().replace("\"5s\"", "\"30s\""),
        &["--concurrency", "1"],
    );
    let addr = serve.addr;
    let silent = format!("/probe?target=http://{}/", lab.silent);
    // The first holds the only turn for 1 s (its 1.5 s scrape less the
    // half second), the second's scrape leaves it 2 s.
    let first = std::thread::spawn(move || {
        get(
            addr,
            &silent,
            &[("X-Prometheus-Scrape-Timeout-Seconds", "1.5")],
        )
    });
    until_in_flight(addr, 1.0);
    let started = Instant::now();
    let silent = format!("/probe?target=http://{}/", lab.silent);
    let second = get(
        serve.addr,
        &silent,
        &[("X-Prometheus-Scrape-Timeout-Seconds", "2.5")],
    );
    // It waited about 1 s for its turn, then had what was left of its 2 s
    // (about 2 s in all), not 2 s more (about 3 s).
    assert!(
        started.elapsed() < Duration::from_millis(2700),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(second.status, 200, "{second:?}");
    assert_eq!(first.join().unwrap().status, 200);
}

/// `reach serve ARGS` that is expected to refuse to start: how it ended
/// (killed after 10 s if it started after all).
fn refused(args: &[&str]) -> Ended {
    let mut command = crate::support::process();
    let child = command
        .arg("serve")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait(child, Duration::from_secs(10))
}

/// `reach serve --config FILE` with `text` as the file, which it must
/// refuse (exit 2) saying each of `said`, in that order; `{file}` in them
/// is the file's path.
#[track_caller]
fn refuses_config(text: &str, said: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, text).unwrap();
    let file = path.display().to_string();
    let ended = refused(&["--listen", "127.0.0.1:0", "--config", &file]);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    let mut rest = ended.stderr.as_str();
    for words in said {
        let words = words.replace("{file}", &file);
        let at = rest.find(&words);
        assert!(at.is_some(), "{words} (in this order): {}", ended.stderr);
        rest = &rest[at.unwrap_or_default() + words.len()..];
    }
}

#[test]
fn a_config_it_cannot_use_does_not_start() {
    refuses_config(
        "[modules.default]\nurl = \"https://a/\"\n\n[modules.x]\nfolow = true\n",
        &[
            "{file}:2:1: [modules.default] has `url`",
            "unknown key `folow`",
        ],
    );
    // A value a network cannot use (a module's, a check's) is found at
    // start too, said at its key's place, in the file's order.
    refuses_config(
        "[modules.zz]\ntimeout = \"5s\"\nproxy = \"ftp://proxy.invalid\"\n\n\
         [[endpoint]]\nname = \"api\"\nurl = \"https://api.invalid/\"\nca_files = [\"/nonexistent/ca.pem\"]\n\n\
         [modules.aa]\ndns_servers = [\"300.1.1.1\"]\n",
        &[
            "{file}:3:1: `proxy` of [modules.zz]: invalid proxy in --proxy (`ftp://proxy.invalid`)",
            "\n  {file}:8:1: `ca_files` of check `api`: --ca-file: cannot read CA file /nonexistent/ca.pem",
            "\n  {file}:11:1: `dns_servers` of [modules.aa]: ",
        ],
    );
    // A value every entry takes (from [defaults]) is said once, at its
    // place in [defaults], not once an entry.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("defaults.toml");
    std::fs::write(
        &path,
        "[defaults]\nproxy = \"ftp://proxy.invalid\"\n\n[modules.a]\ntimeout = \"5s\"\n\n\
         [[endpoint]]\nname = \"x\"\nurl = \"https://x.invalid/\"\n",
    )
    .unwrap();
    let file = path.display().to_string();
    let ended = refused(&["--listen", "127.0.0.1:0", "--config", &file]);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    assert_eq!(
        ended.stderr.matches("ftp://proxy.invalid").count(),
        1,
        "{}",
        ended.stderr
    );
    assert!(
        ended.stderr.contains(&format!(
            "\n  {file}:2:1: `proxy` in [defaults]: invalid proxy"
        )),
        "{}",
        ended.stderr
    );
    let ended = refused(&["--listen", "localhost"]);
    assert_eq!(ended.code, Some(2), "{}", ended.stderr);
    assert!(
        ended.stderr.contains("--listen localhost"),
        "{}",
        ended.stderr
    );
}

/// The answer to `/probe?check=NAME` of a `reach serve` whose config is
/// the common one and `entry`; its samples of `labels` must have the
/// values `want`, and none of `secrets` may be in it.
#[track_caller]
fn probe_entry(
    entry: &str,
    name: &str,
    labels: &str,
    want: &[(&str, f64)],
    secrets: &[&str],
) -> String {
    let serve = Serve::start(&format!("{}\n{entry}", config()), &[]);
    let body = serve.get(&format!("/probe?check={name}")).body;
    for (series, value) in want {
        assert_eq!(
            sample(&body, &format!("{series}{{{labels}}}")),
            Some(*value),
            "{series}: {body}"
        );
    }
    for secret in secrets {
        assert!(!body.contains(secret), "{secret} in {body}");
    }
    body
}

/// A token entry, probed by name: the token endpoint's grant as gauges,
/// and neither the client secret (read from a file at each probe) nor the
/// token in the answer.
#[test]
fn a_token_check_is_probed_by_name_and_keeps_its_secrets() {
    let port = lab().idp.port();
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("client-secret");
    std::fs::write(&secret, "lab-secret\n").unwrap();
    // The lab's authorization server answers by its name.
    let url = format!("http://auth.as.test:{port}/oauth/token");
    let entry = format!(
        "[[oauth_token]]\nname = \"token\"\ntoken_url = \"{url}\"\nclient_id = \"lab-client\"\n\
         client_secret_file = \"{}\"\nscope = [\"read\"]\nresolve = [\"auth.as.test:{port}:127.0.0.1\"]\n",
        secret.display()
    );
    probe_entry(
        &entry,
        "token",
        &format!("kind=\"oauth_token\",target=\"{url}\",name=\"token\""),
        &[
            ("probe_success", 1.0),
            ("reach_oauth_token_lifetime_seconds", 3600.0),
        ],
        &["lab-secret", "eyJ", "bGFiLWNsaWVudDpsYWItc2VjcmV0"],
    );
}

/// An SSO entry, probed by name: an existing identity-provider session
/// that signs in without a word is a warning (`probe_success` 1, as the
/// exit code), with the chain's hops and the auto-login as gauges, and
/// neither the session cookie, the code nor the token in the answer.
#[test]
fn an_sso_check_is_probed_by_name_and_keeps_its_secrets() {
    let port = lab().idp.port();
    let (app, idp) = ("app.sp.test", "idp.idp.test");
    let entry = format!(
        "[[sso]]\nname = \"sign-in\"\nurl = \"http://{app}:{port}/login?mode=form_post\"\n\
         cookies = [\"idp_session=alice@{idp}\"]\n\
         resolve = [\"{app}:{port}:127.0.0.1\", \"{idp}:{port}:127.0.0.1\"]\n"
    );
    // The label's target is the URL without its query.
    let labels = format!("kind=\"sso\",target=\"http://{app}:{port}/login\",name=\"sign-in\"");
    let body = probe_entry(
        &entry,
        "sign-in",
        &labels,
        &[
            ("probe_success", 1.0),
            ("reach_sso_hops", 4.0),
            ("reach_sso_auto_login", 1.0),
        ],
        &["code-for-alice", "eyJ", "idp_session=alice", "alice@"],
    );
    assert!(
        body.contains(&format!(
            "reach_finding{{{labels},code=\"sso.auto_login\",severity=\"warn\"}} 1"
        )),
        "{body}"
    );
}
