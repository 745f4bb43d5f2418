//! Interop cases: proxies. One real squid (forward proxy with an open
//! port, a Basic-auth port, a port whose only route is a dead parent proxy,
//! and an `ssl_bump` port re-signing with its own CA), and mitmproxy. The
//! truth is what curl (and `openssl s_client -proxy`) get from the same
//! proxy, asserted first.

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reach_report::{Code, Status};

use crate::tls::{nginx, pki};
use crate::{Run, Server, TempDir, codes, command, curl, finding, require, run_with, tool};

/// The origin: nginx on 127.0.2.10:8443, plain HTTP (`/` answers 200,
/// `/forbidden` 403), and TLS as api.example.com on 127.0.2.11:8443.
/// 127.0.2.20 is denied by squid's ACL, nothing listens on 127.0.2.21, and
/// 127.0.2.22 resets every connection.
const ORIGIN: &str = "127.0.2.10";
const ORIGIN_TLS: &str = "127.0.2.11";
const DENIED: &str = "127.0.2.20";
const DEAD: &str = "127.0.2.21";
const RESETS: &str = "127.0.2.22";
const OPEN: &str = "127.0.2.1:3128";
const AUTH: &str = "127.0.2.2:3128";
const PARENT: &str = "127.0.2.3:3128";
const BUMP: &str = "127.0.2.4:3128";
const MITM: &str = "127.0.2.6:8080";

fn squid_conf(dir: &TempDir, htpasswd: &str) -> String {
    let d = dir.path().display();
    format!(
        "http_port {OPEN} name=open\n\
         http_port {AUTH} name=auth\n\
         http_port {PARENT} name=parent\n\
         http_port {BUMP} name=bump ssl-bump generate-host-certificates=on dynamic_cert_mem_cache_size=4MB tls-cert={d}/proxyca.pem tls-key={d}/proxyca.key\n\
         pid_filename {d}/run/squid.pid\n\
         cache_log {d}/run/cache.log\n\
         access_log none\n\
         cache deny all\n\
         coredump_dir {d}/run\n\
         hosts_file {d}/hosts\n\
         dns_nameservers 127.0.0.1\n\
         shutdown_lifetime 0 seconds\n\
         auth_param basic program /usr/lib/squid/basic_ncsa_auth {htpasswd}\n\
         auth_param basic realm interop\n\
         acl on_auth myportname auth\n\
         acl on_parent myportname parent\n\
         acl authed proxy_auth REQUIRED\n\
         acl denied dst {DENIED}\n\
         http_access deny denied\n\
         http_access deny on_auth !authed\n\
         http_access allow all\n\
         cache_peer 127.0.2.99 parent 3128 0 no-query no-digest connect-fail-limit=1 name=deadparent\n\
         cache_peer_access deadparent allow on_parent\n\
         cache_peer_access deadparent deny all\n\
         never_direct allow on_parent\n\
         sslcrtd_program /usr/lib/squid/security_file_certgen -s {d}/run/ssl_db -M 4MB\n\
         sslcrtd_children 2 startup=1 idle=1\n\
         tls_outgoing_options cafile={d}/root.pem\n\
         acl step1 at_step SslBump1\n\
         ssl_bump peek step1\n\
         ssl_bump bump all\n"
    )
}

/// squid and its origin for one case; both are stopped (by PID) when it is
/// dropped, then the next case may bind the same addresses.
struct Proxies {
    _squid: Server,
    _origin: (Server, TempDir),
    _dir: TempDir,
    proxy_ca: String,
    _turn: MutexGuard<'static, ()>,
}

/// The proxy cases share fixed addresses: one runs at a time.
fn proxies() -> Proxies {
    static TURN: Mutex<()> = Mutex::new(());
    let turn = TURN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    start(turn)
}

fn start(turn: MutexGuard<'static, ()>) -> Proxies {
    let squid = require("squid", "squid-openssl");
    let openssl = require("openssl", "openssl");
    let pki = pki();
    let origin_blocks = format!(
        "server {{ listen {ORIGIN}:8443; location / {{ return 200 \"hello from the origin\\n\"; }} location /forbidden {{ return 403 \"the application says no\\n\"; }} }}\n\
         server {{ listen {ORIGIN_TLS}:8443 ssl; server_name api.example.com; ssl_certificate {}; ssl_certificate_key {}; location / {{ return 200 \"hello from api.example.com\\n\"; }} }}",
        pki.path("api-chain.pem"),
        pki.path("api.key")
    );
    let origin = nginx(ORIGIN, &origin_blocks);
    let dir = TempDir::new();
    // squid drops root for the `proxy` user: its files must be readable,
    // and its run directory writable.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir(dir.join("run")).expect("run dir");
    std::fs::set_permissions(dir.join("run"), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    dir.write("hosts", &format!("{ORIGIN_TLS} api.example.com\n"));
    // squid reads it as `proxy`, who may not see the checkout (/root/…).
    std::fs::copy(pki.path("root.pem"), dir.join("root.pem")).expect("copy the root");
    // The inspecting proxy's CA, as a company makes it.
    crate::servers::rsa_ca(
        dir.path(),
        "proxyca",
        "/O=ACME Corp/CN=ACME Corp Proxy CA",
        365,
    );
    for f in ["proxyca.key", "proxyca.pem", "hosts", "root.pem"] {
        std::fs::set_permissions(dir.join(f), std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let hash = tool(&openssl, &["passwd", "-apr1", "right-password"], None);
    let htpasswd = dir.write(
        "htpasswd",
        &format!("alice:{}", String::from_utf8_lossy(&hash.stdout)),
    );
    std::fs::set_permissions(&htpasswd, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let init = Command::new("/usr/lib/squid/security_file_certgen")
        .args(["-c", "-s"])
        .arg(dir.join("run/ssl_db"))
        .args(["-M", "4MB"])
        .output()
        .expect("security_file_certgen");
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let _ = Command::new("chown")
        .args(["-R", "proxy:proxy"])
        .arg(dir.join("run"))
        .status();
    let conf = dir.write(
        "squid.conf",
        &squid_conf(&dir, &htpasswd.display().to_string()),
    );
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut cmd = Command::new(squid);
    // A service name of its own: squid names its shared state after it.
    let service = format!("reachinterop{}", std::process::id());
    cmd.arg("-N").arg("-n").arg(service).arg("-f").arg(&conf);
    let server = Server::start(
        "squid",
        cmd,
        OPEN.parse().expect("addr"),
        &dir.join("squid.log"),
    );
    for addr in [AUTH, PARENT, BUMP] {
        let addr: SocketAddr = addr.parse().expect("addr");
        assert!(
            std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(5)).is_ok(),
            "squid does not listen on {addr}"
        );
    }
    let proxy_ca = dir.join("proxyca.pem").display().to_string();
    Proxies {
        _squid: server,
        _origin: origin,
        _dir: dir,
        proxy_ca,
        _turn: turn,
    }
}

/// A listener on 127.0.2.22:8443 that resets every connection
/// (`SO_LINGER` 0), for as long as the returned guard lives (at most a
/// minute); dropping it stops and joins the thread.
struct Resetter {
    thread: Option<std::thread::JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

fn resetter() -> Resetter {
    let listener = std::net::TcpListener::bind(format!("{RESETS}:8443")).expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !flag.load(Ordering::Relaxed) && Instant::now() < deadline {
            match listener.accept() {
                Ok((stream, _)) => {
                    let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                    std::thread::sleep(Duration::from_millis(50));
                    drop(stream);
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    Resetter {
        thread: Some(thread),
        stop,
    }
}

impl Drop for Resetter {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// curl through `proxy`: the status and the X-Squid-Error header.
fn curl_via(proxy: &str, url: &str, extra: &[&str]) -> (String, String) {
    let proxy_url = format!("http://{proxy}");
    let mut args = vec![
        "-sS",
        "-o",
        "/dev/null",
        "-D",
        "-",
        "-w",
        "%{http_code}",
        "--proxy",
        &proxy_url,
    ];
    args.extend_from_slice(extra);
    args.push(url);
    let text = curl(&args);
    let squid_error = text
        .lines()
        .find_map(|l| l.strip_prefix("X-Squid-Error: "))
        .unwrap_or_default()
        .trim()
        .to_owned();
    let written = text.lines().next_back().unwrap_or_default();
    // A refused CONNECT leaves curl's code at 000: its status is in the
    // dumped head.
    let code = if written == "000" {
        text.lines()
            .filter_map(|l| l.strip_prefix("HTTP/1.1 "))
            .next_back()
            .and_then(|l| l.split_whitespace().next())
            .unwrap_or("000")
    } else {
        written
    };
    (code.to_owned(), squid_error)
}

fn reach_via(proxy: &str, url: &str, extra: &[&str]) -> Run {
    let mut cmd = command();
    cmd.arg("check").arg("--proxy").arg(proxy);
    let mut args = extra.to_vec();
    args.push(url);
    run_with(cmd, &args)
}

#[test]
fn the_proxy_s_own_refusals_are_the_proxy_s() {
    let _p = proxies();
    let _reset = resetter();
    let open = format!("http://{OPEN}");
    // ACL deny, for a forwarded request and for a CONNECT tunnel.
    let url = format!("http://{DENIED}:8443/");
    assert_eq!(
        curl_via(OPEN, &url, &[]),
        ("403".into(), "ERR_ACCESS_DENIED 0".into())
    );
    let run = reach_via(&open, &url, &[]);
    assert_eq!(
        codes(run.only()),
        vec![Code::ProxyDenied],
        "{:#?}",
        run.only()
    );
    let https = format!("https://{DENIED}:8443/");
    let run = reach_via(&open, &https, &[]);
    assert_eq!(
        codes(run.only()),
        vec![Code::ProxyDenied],
        "{:#?}",
        run.only()
    );
    // Nothing listens behind the proxy: squid's ERR_CONNECT_FAIL (503).
    let url = format!("http://{DEAD}:8443/");
    let (code, err) = curl_via(OPEN, &url, &[]);
    assert_eq!(code, "503");
    assert!(err.starts_with("ERR_CONNECT_FAIL"), "{err}");
    let run = reach_via(&open, &url, &[]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::ProxyUpstreamFailed], "{check:#?}");
    assert!(
        finding(check, Code::ProxyUpstreamFailed).evidence["squid_error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("ERR_CONNECT_FAIL")
    );
    // The target resets the connection: a 502 from squid.
    let url = format!("http://{RESETS}:8443/");
    let (code, err) = curl_via(OPEN, &url, &[]);
    assert_eq!(code, "502", "{err}");
    assert!(err.starts_with("ERR_"), "{err}");
    let run = reach_via(&open, &url, &[]);
    assert_eq!(
        codes(run.only()),
        vec![Code::ProxyUpstreamFailed],
        "{:#?}",
        run.only()
    );
    // The application's own 403, relayed by the proxy, stays the application's.
    let url = format!("http://{ORIGIN}:8443/forbidden");
    assert_eq!(curl_via(OPEN, &url, &[]), ("403".into(), String::new()));
    let run = reach_via(&open, &url, &[]);
    assert_eq!(
        codes(run.only()),
        vec![Code::HttpStatusError],
        "{:#?}",
        run.only()
    );
    let url = format!("http://{ORIGIN}:8443/");
    let run = reach_via(&open, &url, &[]);
    assert_eq!(run.only().status, Status::Pass, "{:#?}", run.only());
}

#[test]
fn basic_auth_missing_wrong_and_right() {
    let _p = proxies();
    let url = format!("http://{ORIGIN}:8443/");
    assert_eq!(curl_via(AUTH, &url, &[]).0, "407");
    assert_eq!(
        curl_via(AUTH, &url, &["--proxy-user", "alice:wrong"]).0,
        "407"
    );
    assert_eq!(
        curl_via(AUTH, &url, &["--proxy-user", "alice:right-password"]).0,
        "200"
    );
    for scheme in ["http", "https"] {
        let url = if scheme == "http" {
            format!("http://{ORIGIN}:8443/")
        } else {
            "https://api.example.com:8443/".to_owned()
        };
        let run = reach_via(&format!("http://{AUTH}"), &url, &[]);
        let check = run.only();
        assert_eq!(
            codes(check),
            vec![Code::ProxyAuthRequired],
            "{scheme}: {check:#?}"
        );
        assert_eq!(
            finding(check, Code::ProxyAuthRequired).evidence["credentials_given"],
            false
        );
        let run = reach_via(&format!("http://alice:wrong@{AUTH}"), &url, &[]);
        let check = run.only();
        assert_eq!(
            codes(check),
            vec![Code::ProxyAuthRequired],
            "{scheme}: {check:#?}"
        );
        let f = finding(check, Code::ProxyAuthRequired);
        assert_eq!(f.evidence["credentials_given"], true);
        assert!(
            f.message.contains("rejected the credentials"),
            "{}",
            f.message
        );
    }
    let run = reach_via(&format!("http://alice:right-password@{AUTH}"), &url, &[]);
    assert_eq!(run.only().status, Status::Pass, "{:#?}", run.only());
}

#[test]
fn a_dead_parent_proxy_is_an_upstream_failure() {
    let _p = proxies();
    // squid may only go through the parent, which is down: it answers 5xx
    // with its own error (ERR_READ_ERROR, ERR_CONNECT_FAIL or, once it has
    // marked the parent dead, ERR_CANNOT_FORWARD), never a policy refusal.
    for url in [
        format!("http://{ORIGIN}:8443/"),
        "https://api.example.com:8443/".to_owned(),
    ] {
        let (code, err) = curl_via(PARENT, &url, &[]);
        assert!(
            code.starts_with('5') && err.starts_with("ERR_"),
            "{url}: {code} {err}"
        );
        let run = reach_via(&format!("http://{PARENT}"), &url, &[]);
        let check = run.only();
        assert_eq!(
            codes(check),
            vec![Code::ProxyUpstreamFailed],
            "{url}: {check:#?}"
        );
        let f = finding(check, Code::ProxyUpstreamFailed);
        let squid = f.evidence["squid_error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(squid.starts_with("ERR_"), "{f:#?}");
        if squid.starts_with("ERR_CANNOT_FORWARD") {
            assert!(f.message.contains("parent proxy"), "{}", f.message);
        }
        eprintln!("{url}: curl {code} {err}; reach: {}", f.message);
    }
}

#[test]
fn squid_ssl_bump_with_a_trusted_company_ca_is_interception() {
    let p = proxies();
    let openssl = require("openssl", "openssl");
    // Truth: straight to the origin the issuer is the interop intermediate;
    // through squid it is the company's proxy CA.
    let out = tool(
        &openssl,
        &[
            "s_client",
            "-proxy",
            BUMP,
            "-connect",
            "api.example.com:8443",
            "-servername",
            "api.example.com",
            "-CAfile",
            &p.proxy_ca,
        ],
        Some("Q\n"),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("issuer=O = ACME Corp, CN = ACME Corp Proxy CA"),
        "{text}"
    );
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    let run = reach_via(
        &format!("http://{BUMP}"),
        "https://api.example.com:8443/",
        &["--ca-file", &p.proxy_ca],
    );
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsIntercepted], "{check:#?}");
    assert_eq!(check.status, Status::Warn);
    let f = finding(check, Code::TlsIntercepted);
    let signals = f.evidence["signals"].to_string();
    assert!(signals.contains("ACME Corp Proxy CA"), "{signals}");
    assert!(signals.contains("Certificate Transparency"), "{signals}");
    assert!(signals.to_ascii_lowercase().contains("via"), "{signals}");
}

#[test]
fn mitmproxy_is_recognised() {
    let _p = proxies();
    let mitmdump = require("mitmdump", "mitmproxy");
    let dir = TempDir::new();
    let (host, port) = MITM.split_once(':').expect("addr");
    let mut cmd = Command::new(mitmdump);
    cmd.args(["--listen-host", host, "--listen-port", port, "--set"])
        .arg(format!("confdir={}", dir.path().display()))
        .args(["--set", "ssl_insecure=true", "-q"]);
    let _mitm = Server::start(
        "mitmdump",
        cmd,
        MITM.parse().expect("addr"),
        &dir.join("mitm.log"),
    );
    let ca = dir.join("mitmproxy-ca-cert.pem").display().to_string();
    let target = format!("https://{ORIGIN_TLS}:8443/");
    let status = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--proxy",
        &format!("http://{MITM}"),
        "--cacert",
        &ca,
        &target,
    ]);
    assert_eq!(status, "200");
    let run = reach_via(&format!("http://{MITM}"), &target, &["--ca-file", &ca]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsIntercepted], "{check:#?}");
    assert_eq!(
        finding(check, Code::TlsIntercepted).evidence["vendor"],
        "mitmproxy"
    );
}
