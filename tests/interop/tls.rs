//! Interop cases: TLS against nginx, haproxy and `openssl s_server`, with
//! certificates made by the openssl CLI. The truth of each case is what
//! `openssl s_client` (its verify result) or curl says about the same
//! server, asserted first.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use reach_report::{Code, Severity, Status};

use crate::{
    Run, Server, TempDir, codes, command, curl, finding, openssl, require, run_with, tool,
};

/// A PKI made with the openssl CLI as people make it: a root, an
/// intermediate, and leaves of every shape the cases need.
pub(crate) struct Pki {
    pub(crate) dir: PathBuf,
}

impl Pki {
    pub(crate) fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }
}

/// A leaf signed by `ca` (`root` or `int`), with `ext` as its extensions.
fn leaf(dir: &Path, name: &str, newkey: &[&str], ca: &str, digest: &str, ext: &str) {
    std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext file");
    let key = format!("{name}.key");
    let csr = format!("{name}.csr");
    let mut args = vec!["req", "-new", "-nodes", "-keyout", &key, "-out", &csr];
    args.extend_from_slice(newkey);
    let subject = format!("/CN={name}.test");
    args.extend_from_slice(&["-subj", &subject]);
    openssl(dir, &args);
    let (ext_file, pem) = (format!("{name}.ext"), format!("{name}.pem"));
    crate::servers::sign(dir, &csr, ca, 365, digest, &ext_file, &pem);
}

pub(crate) fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("interop-pki");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pki dir");
        authorities(&dir);
        leaves(&dir);
        self_signed_and_chains(&dir);
        Pki { dir }
    })
}

/// The root and the intermediate CA, by `openssl req` and `openssl x509`.
fn authorities(dir: &Path) {
    let dir = dir.to_path_buf();
    crate::servers::rsa_ca(&dir, "root", "/CN=Interop Root CA", 3650);
    let ca_ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
    std::fs::write(dir.join("int.ext"), ca_ext).expect("ext");
    openssl(
        &dir,
        &[
            "req",
            "-new",
            "-nodes",
            "-newkey",
            "rsa:2048",
            "-keyout",
            "int.key",
            "-out",
            "int.csr",
            "-subj",
            "/CN=Interop Intermediate CA",
        ],
    );
    crate::servers::sign(
        &dir, "int.csr", "root", 1825, "-sha256", "int.ext", "int.pem",
    );
}

/// The servers' leaves (one per fault or key type) and a client
/// certificate.
fn leaves(dir: &Path) {
    let dir = dir.to_path_buf();
    let rsa = ["-newkey", "rsa:2048"];
    let server = |name: &str| {
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:{name}.test\n"
        )
    };
    leaf(&dir, "good", &rsa, "int", "-sha256", &server("good"));
    leaf(&dir, "sha1", &rsa, "int", "-sha1", &server("sha1"));
    leaf(
        &dir,
        "rsa1024",
        &["-newkey", "rsa:1024"],
        "int",
        "-sha256",
        &server("rsa1024"),
    );
    leaf(
        &dir,
        "p384",
        &["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "int",
        "-sha384",
        &server("p384").replace(",keyEncipherment", ""),
    );
    leaf(
        &dir,
        "ed25519",
        &["-newkey", "ed25519"],
        "int",
        "-sha256",
        &server("ed25519").replace(",keyEncipherment", ""),
    );
    leaf(
        &dir,
        "sanless",
        &rsa,
        "int",
        "-sha256",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    );
    leaf(
        &dir,
        "wild",
        &rsa,
        "int",
        "-sha256",
        &server("wild").replace("DNS:wild.test", "DNS:*.wild.test"),
    );
    leaf(&dir, "default", &rsa, "int", "-sha256", &server("default"));
    leaf(
        &dir,
        "api",
        &rsa,
        "int",
        "-sha256",
        &server("api").replace("DNS:api.test", "DNS:api.example.com"),
    );
    leaf(
        &dir,
        "client",
        &rsa,
        "root",
        "-sha256",
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    );
}

/// The usual self-signed certificate, and full chains as servers send
/// them.
fn self_signed_and_chains(dir: &Path) {
    let dir = dir.to_path_buf();
    // The usual self-signed certificate: CA:TRUE, no SAN.
    openssl(
        &dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=selfsigned.test",
            "-keyout",
            "selfsigned.key",
            "-out",
            "selfsigned.pem",
        ],
    );
    // Full chains as servers send them: in order, and out of order.
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).expect("pem");
    for name in [
        "good", "sha1", "rsa1024", "p384", "ed25519", "sanless", "wild", "default", "api",
    ] {
        let chain = format!("{}{}", read(&format!("{name}.pem")), read("int.pem"));
        std::fs::write(dir.join(format!("{name}-chain.pem")), chain).expect("chain");
    }
    let disorder = format!(
        "{}{}{}",
        read("good.pem"),
        read("root.pem"),
        read("int.pem")
    );
    std::fs::write(dir.join("good-disorder.pem"), disorder).expect("chain");
}

/// nginx on `ip:8443` with `server` as the body of its one TLS server block
/// (or several blocks, when `server` holds whole `server { … }` blocks).
pub(crate) fn nginx(ip: &str, blocks: &str) -> (Server, TempDir) {
    nginx_with(ip, blocks, false)
}

/// nginx as [`nginx`], at OpenSSL security level 0 when `weak` (so that it
/// loads SHA-1 and RSA-1024 certificates at all, as old servers do).
fn nginx_with(ip: &str, blocks: &str, weak: bool) -> (Server, TempDir) {
    let nginx = require("nginx", "nginx-light");
    let dir = TempDir::new();
    let d = dir.path().display();
    let conf = format!(
        "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log info;\nevents {{ worker_connections 64; }}\n\
         http {{\n access_log off;\n client_body_temp_path {d}/body;\n proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n uwsgi_temp_path {d}/uwsgi;\n scgi_temp_path {d}/scgi;\n\
         {blocks}\n}}\n"
    );
    let path = dir.write("nginx.conf", &conf);
    let mut cmd = Command::new(nginx);
    cmd.arg("-p")
        .arg(dir.path())
        .arg("-c")
        .arg(&path)
        .arg("-e")
        .arg(dir.join("error.log"));
    if weak {
        let conf = dir.write(
            "openssl.cnf",
            "openssl_conf = openssl_init\n[openssl_init]\nssl_conf = ssl_sect\n[ssl_sect]\n\
             system_default = system_default_sect\n[system_default_sect]\nCipherString = DEFAULT:@SECLEVEL=0\n",
        );
        cmd.env("OPENSSL_CONF", conf);
    }
    let addr: SocketAddr = format!("{ip}:8443").parse().expect("address");
    let server = Server::start("nginx", cmd, addr, &dir.join("stderr.log"));
    (server, dir)
}

/// One TLS server block serving `cert` (a chain file) and `key`.
fn tls_block(ip: &str, cert: &str, key: &str, extra: &str) -> String {
    let pki = pki();
    format!(
        "server {{ listen {ip}:8443 ssl; ssl_certificate {}; ssl_certificate_key {};\n {extra}\n\
         location / {{ return 200 \"hello from nginx\\n\"; }} }}",
        pki.path(cert),
        pki.path(key)
    )
}

/// `openssl s_client`'s verdict on `ip:8443` for `name`: its `Verify
/// return code` line.
fn s_client(ip: &str, name: &str, extra: &[&str]) -> String {
    let connect = format!("{ip}:8443");
    let mut args = vec![
        "s_client",
        "-connect",
        &connect,
        "-servername",
        name,
        "-verify_hostname",
        name,
    ];
    args.extend_from_slice(extra);
    let out = tool(&require("openssl", "openssl"), &args, Some("Q\n"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    text.lines()
        .filter(|l| {
            l.contains("Verify return code") || l.contains("alert") || l.contains("Protocol")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `reach check` of `https://name:8443/` with `name` resolved to `ip`.
fn reach_check(ip: &str, name: &str, extra: &[&str]) -> Run {
    let mut cmd = command();
    cmd.arg("check")
        .arg("--resolve")
        .arg(format!("{name}:8443:{ip}"));
    let url = format!("https://{name}:8443/");
    let mut args: Vec<&str> = extra.to_vec();
    args.push(&url);
    run_with(cmd, &args)
}

#[test]
fn self_signed_ca_true_is_untrusted_and_accepted_as_its_own_ca() {
    let ip = "127.0.1.1";
    let _nginx = nginx(ip, &tls_block(ip, "selfsigned.pem", "selfsigned.key", ""));
    let pki = pki();
    // Truth: openssl says "self-signed certificate" (18) without trust, and
    // accepts it when the very certificate is the CA file.
    let verdict = s_client(ip, "selfsigned.test", &[]);
    assert!(
        verdict.contains("Verify return code: 18 (self-signed certificate)"),
        "{verdict}"
    );
    let verdict = s_client(
        ip,
        "selfsigned.test",
        &["-CAfile", &pki.path("selfsigned.pem")],
    );
    assert!(verdict.contains("Verify return code: 0 (ok)"), "{verdict}");

    let run = reach_check(ip, "selfsigned.test", &[]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsUntrustedIssuer], "{check:#?}");
    let f = finding(check, Code::TlsUntrustedIssuer);
    assert!(f.message.contains("self-signed"), "{}", f.message);
    assert_eq!(f.evidence["self_signed"], true);

    let run = reach_check(
        ip,
        "selfsigned.test",
        &["--ca-file", &pki.path("selfsigned.pem")],
    );
    let check = run.only();
    // Accepted as openssl and curl accept it (exit 0), with a note on the
    // CA:TRUE leaf and a warning on its CN-only name (no subjectAltName).
    assert_eq!(run.code, 0, "{check:#?}");
    assert_eq!(
        codes(check),
        vec![Code::TlsCaAsServerCert, Code::TlsNameOnlyInCommonName],
        "{check:#?}"
    );
    assert_eq!(
        finding(check, Code::TlsCaAsServerCert).severity,
        Severity::Info
    );
    let note = finding(check, Code::TlsCaAsServerCert);
    assert!(note.message.contains("CA:TRUE"), "{}", note.message);
}

#[test]
fn weak_signature_and_weak_key_are_named() {
    let ip = "127.0.1.2";
    let blocks = format!(
        "{}\n{}",
        tls_block(ip, "sha1-chain.pem", "sha1.key", "server_name sha1.test;"),
        tls_block(
            ip,
            "rsa1024-chain.pem",
            "rsa1024.key",
            "server_name rsa1024.test;"
        )
    );
    let _nginx = nginx_with(ip, &blocks, true);
    let root = pki().path("root.pem");
    let verdict = s_client(ip, "sha1.test", &["-CAfile", &root]);
    assert!(
        verdict.contains("Verify return code: 68 (CA signature digest algorithm too weak)"),
        "{verdict}"
    );
    let verdict = s_client(ip, "rsa1024.test", &["-CAfile", &root]);
    assert!(
        verdict.contains("Verify return code: 66 (EE certificate key too weak)"),
        "{verdict}"
    );

    let run = reach_check(ip, "sha1.test", &["--ca-file", &root]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsWeakCertificate], "{check:#?}");
    let f = finding(check, Code::TlsWeakCertificate);
    assert_eq!(f.evidence["signed_with"], "SHA-1 with RSA", "{f:#?}");
    assert!(f.message.contains("SHA-1"), "{}", f.message);

    let run = reach_check(ip, "rsa1024.test", &["--ca-file", &root]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsWeakCertificate], "{check:#?}");
    let f = finding(check, Code::TlsWeakCertificate);
    assert_eq!(f.evidence["public_key"], "RSA 1024", "{f:#?}");
    assert!(f.message.contains("1024"), "{}", f.message);
}

#[test]
fn a_leaf_without_its_intermediate_is_an_incomplete_chain() {
    let ip = "127.0.1.3";
    // good.pem alone: no intermediate, and (made by the openssl CLI) no AIA.
    let _nginx = nginx(ip, &tls_block(ip, "good.pem", "good.key", ""));
    let root = pki().path("root.pem");
    let verdict = s_client(ip, "good.test", &["-CAfile", &root]);
    // OpenSSL 3 says 21 for a lone leaf whose issuer it cannot find.
    assert!(
        verdict.contains("Verify return code: 21 (unable to verify the first certificate)")
            || verdict.contains("Verify return code: 20 (unable to get local issuer certificate)"),
        "{verdict}"
    );
    let run = reach_check(ip, "good.test", &["--ca-file", &root]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsIncompleteChain], "{check:#?}");
    let f = finding(check, Code::TlsIncompleteChain);
    assert_eq!(f.evidence["missing_issuer"], "CN=Interop Intermediate CA");
}

#[test]
fn good_chains_in_any_order_and_any_key_type_pass() {
    let ip = "127.0.1.4";
    let blocks = [
        ("good", "good-disorder.pem", "good.key", "RSA 2048"),
        ("p384", "p384-chain.pem", "p384.key", "EC P-384"),
        ("ed25519", "ed25519-chain.pem", "ed25519.key", "Ed25519"),
    ];
    let conf: Vec<String> = blocks
        .iter()
        .map(|(name, chain, key, _)| {
            tls_block(ip, chain, key, &format!("server_name {name}.test;"))
        })
        .collect();
    let _nginx = nginx(ip, &conf.join("\n"));
    let root = pki().path("root.pem");
    for (name, _, _, key) in blocks {
        let host = format!("{name}.test");
        let verdict = s_client(ip, &host, &["-CAfile", &root]);
        assert!(
            verdict.contains("Verify return code: 0 (ok)"),
            "{name}: {verdict}"
        );
        let run = reach_check(ip, &host, &["--ca-file", &root]);
        let check = run.only();
        assert_eq!(check.status, Status::Pass, "{name}: {check:#?}");
        let endpoint = serde_json::to_value(&check.details).expect("details");
        assert_eq!(
            endpoint["hops"][0]["tls"]["chain"][0]["public_key"], key,
            "{name}"
        );
        assert_eq!(endpoint["hops"][0]["http"]["status"], 200, "{name}");
    }
}

#[test]
fn names_the_certificate_does_not_cover() {
    let ip = "127.0.1.5";
    let blocks = format!(
        "{}\n{}\n{}",
        tls_block(
            ip,
            "default-chain.pem",
            "default.key",
            "server_name default.test; listen 127.0.1.5:8443 ssl default_server;"
        )
        .replacen(&format!("listen {ip}:8443 ssl;"), "", 1),
        tls_block(ip, "wild-chain.pem", "wild.key", "server_name *.wild.test;"),
        tls_block(
            ip,
            "sanless-chain.pem",
            "sanless.key",
            "server_name sanless.test;"
        ),
    );
    let _nginx = nginx(ip, &blocks);
    let root = pki().path("root.pem");
    // A nested name under a wildcard, and an unknown name that gets the
    // default server's certificate: openssl says hostname mismatch (62).
    for name in ["a.b.wild.test", "other.test"] {
        let verdict = s_client(ip, name, &["-CAfile", &root]);
        assert!(
            verdict.contains("Verify return code: 62 (hostname mismatch)"),
            "{name}: {verdict}"
        );
        let run = reach_check(ip, name, &["--ca-file", &root]);
        let check = run.only();
        assert_eq!(
            codes(check),
            vec![Code::TlsHostnameMismatch],
            "{name}: {check:#?}"
        );
    }
    let run = reach_check(ip, "one.wild.test", &["--ca-file", &root]);
    assert_eq!(run.only().status, Status::Pass, "{:#?}", run.only());
    // A certificate with no subjectAltName: OpenSSL (and so curl) fall back
    // to the CN and accept it; browsers refuse it. reach passes it, warning.
    let verdict = s_client(ip, "sanless.test", &["-CAfile", &root]);
    assert!(verdict.contains("Verify return code: 0 (ok)"), "{verdict}");
    let run = reach_check(ip, "sanless.test", &["--ca-file", &root]);
    let check = run.only();
    assert_eq!(
        codes(check),
        vec![Code::TlsNameOnlyInCommonName],
        "{check:#?}"
    );
    assert_eq!(check.status, Status::Warn);
}

#[test]
fn a_tls_1_0_only_server_is_too_old() {
    let ip = "127.0.1.6";
    let _nginx = nginx(
        ip,
        &tls_block(
            ip,
            "good-chain.pem",
            "good.key",
            "ssl_protocols TLSv1; ssl_ciphers DEFAULT:@SECLEVEL=0;",
        ),
    );
    let root = pki().path("root.pem");
    let verdict = s_client(
        ip,
        "good.test",
        &["-CAfile", &root, "-tls1", "-cipher", "DEFAULT:@SECLEVEL=0"],
    );
    assert!(
        verdict.contains("Protocol  : TLSv1\n") || verdict.contains("Protocol  : TLSv1"),
        "{verdict}"
    );
    let run = reach_check(ip, "good.test", &["--ca-file", &root]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsProtocolTooOld], "{check:#?}");
    assert_eq!(
        finding(check, Code::TlsProtocolTooOld).evidence["server_version"],
        "TLS 1.0"
    );
}

#[test]
fn nginx_verify_client_on_requires_a_certificate() {
    let ip = "127.0.1.7";
    let root = pki().path("root.pem");
    let blocks = format!(
        "{}\n{}",
        tls_block(
            ip,
            "good-chain.pem",
            "good.key",
            &format!("server_name good.test; ssl_client_certificate {root}; ssl_verify_client on;")
        ),
        tls_block(
            ip,
            "default-chain.pem",
            "default.key",
            &format!(
                "server_name default.test; ssl_client_certificate {root}; ssl_verify_client optional;"
            )
        ),
    );
    let _nginx = nginx(ip, &blocks);
    // Truth: curl completes the handshake and nginx answers 400.
    let body = curl(&[
        "-sS",
        "--cacert",
        &root,
        "--resolve",
        &format!("good.test:8443:{ip}"),
        "https://good.test:8443/",
    ]);
    assert!(
        body.contains("No required SSL certificate was sent"),
        "{body}"
    );
    let run = reach_check(ip, "good.test", &["--ca-file", &root]);
    let check = run.only();
    assert_eq!(
        codes(check),
        vec![Code::TlsClientCertRequired],
        "{check:#?}"
    );
    assert_eq!(
        finding(check, Code::TlsClientCertRequired).evidence["status"],
        400
    );
    // With the certificate, and with `optional`, it answers 200.
    let pki = pki();
    let run = reach_check(
        ip,
        "good.test",
        &[
            "--ca-file",
            &root,
            "--client-cert",
            &pki.path("client.pem"),
            "--client-key",
            &pki.path("client.key"),
        ],
    );
    assert_eq!(run.only().status, Status::Pass, "{:#?}", run.only());
    let run = reach_check(ip, "default.test", &["--ca-file", &root]);
    assert_eq!(run.only().status, Status::Pass, "{:#?}", run.only());
}

#[test]
fn plain_http_to_the_tls_port_names_the_scheme() {
    let ip = "127.0.1.8";
    let _nginx = nginx(ip, &tls_block(ip, "good-chain.pem", "good.key", ""));
    let body = curl(&[
        "-sS",
        "--resolve",
        &format!("good.test:8443:{ip}"),
        "http://good.test:8443/",
    ]);
    assert!(
        body.contains("The plain HTTP request was sent to HTTPS port"),
        "{body}"
    );
    let mut cmd = command();
    cmd.arg("check")
        .arg("--resolve")
        .arg(format!("good.test:8443:{ip}"));
    let run = run_with(cmd, &["http://good.test:8443/"]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::HttpWrongScheme], "{check:#?}");
    let f = finding(check, Code::HttpWrongScheme);
    assert_eq!(f.evidence["https_url"], "https://good.test:8443/");
    assert!(
        f.message.contains("https://good.test:8443/"),
        "{}",
        f.message
    );
}

#[test]
fn openssl_s_server_mtls_alert_116() {
    let ip = "127.0.1.9";
    let pki = pki();
    let openssl_bin = require("openssl", "openssl");
    let dir = TempDir::new();
    let mut cmd = Command::new(&openssl_bin);
    cmd.args([
        "s_server",
        "-accept",
        &format!("{ip}:8443"),
        "-cert",
        &pki.path("good.pem"),
        "-cert_chain",
        &pki.path("int.pem"),
        "-key",
        &pki.path("good.key"),
        "-CAfile",
        &pki.path("root.pem"),
        "-Verify",
        "1",
        "-tls1_3",
        "-www",
        "-naccept",
        "4",
    ]);
    let _server = Server::start(
        "openssl s_server",
        cmd,
        format!("{ip}:8443").parse().expect("addr"),
        &dir.join("s_server.log"),
    );
    // Truth: s_client without a certificate gets alert 116. TLS 1.3 sends
    // it after the handshake, so s_client keeps reading past the end of its
    // input (-ign_eof) until the server closes; otherwise, on a busy
    // machine, it may quit before the alert arrives.
    let connect = format!("{ip}:8443");
    let out = tool(
        &openssl_bin,
        &[
            "s_client",
            "-ign_eof",
            "-connect",
            &connect,
            "-servername",
            "good.test",
            "-CAfile",
            &pki.path("root.pem"),
        ],
        Some("GET / HTTP/1.0\r\n\r\n"),
    );
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("alert number 116") || text.contains("certificate required"),
        "{text}"
    );
    let run = reach_check(ip, "good.test", &["--ca-file", &pki.path("root.pem")]);
    let check = run.only();
    assert_eq!(
        codes(check),
        vec![Code::TlsClientCertRequired],
        "{check:#?}"
    );
    assert_eq!(
        finding(check, Code::TlsClientCertRequired).evidence["alert"],
        "certificate_required"
    );
}

#[test]
fn haproxy_h2_only() {
    let ip = "127.0.1.10";
    let pki = pki();
    let haproxy = require("haproxy", "haproxy");
    let dir = TempDir::new();
    // haproxy wants the key and chain in one file.
    let bundle = format!(
        "{}{}",
        std::fs::read_to_string(pki.path("good-chain.pem")).expect("chain"),
        std::fs::read_to_string(pki.path("good.key")).expect("key")
    );
    let bundle = dir.write("good.bundle.pem", &bundle);
    let conf = format!(
        "global\n  maxconn 64\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n\
         frontend fe\n  bind {ip}:8443 ssl crt {} alpn h2\n  http-request return status 200 content-type text/plain string \"hello from haproxy\"\n",
        bundle.display()
    );
    let conf = dir.write("haproxy.cfg", &conf);
    let mut cmd = Command::new(haproxy);
    cmd.arg("-db").arg("-f").arg(&conf);
    let _server = Server::start(
        "haproxy",
        cmd,
        format!("{ip}:8443").parse().expect("addr"),
        &dir.join("haproxy.log"),
    );
    let answer = curl(&[
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version} %{http_code}",
        "--cacert",
        &pki.path("root.pem"),
        "--resolve",
        &format!("good.test:8443:{ip}"),
        "https://good.test:8443/",
    ]);
    assert_eq!(answer, "2 200");
    let run = reach_check(ip, "good.test", &["--ca-file", &pki.path("root.pem")]);
    let check = run.only();
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let endpoint = serde_json::to_value(&check.details).expect("details");
    assert_eq!(endpoint["hops"][0]["tls"]["alpn"], "h2");
    assert_eq!(endpoint["hops"][0]["http"]["version"], "HTTP/2");
}

#[test]
fn a_silent_tls_server_times_out_in_words() {
    let ip = "127.0.1.11";
    let listener = std::net::TcpListener::bind(format!("{ip}:8443")).expect("bind");
    // Accepts, never answers; the thread ends when the case's connection does.
    let accepter = std::thread::spawn(move || {
        if let Ok((stream, _)) = listener.accept() {
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(10)))
                .ok();
            let mut buf = [0u8; 4096];
            let _ = std::io::Read::read(&mut &stream, &mut buf);
            let _ = std::io::Read::read(&mut &stream, &mut buf);
        }
    });
    let run = reach_check(ip, "good.test", &["--timeout", "2s"]);
    let check = run.only();
    assert_eq!(codes(check), vec![Code::TlsHandshakeFailed], "{check:#?}");
    let f = &check.findings[0];
    assert!(f.message.contains("within 2 s"), "{}", f.message);
    assert!(!f.remedy.contains("alert"), "{}", f.remedy);
    accepter.join().expect("accepter ends");
}

/// openssl's words for `field` of the certificate `pem` (`openssl x509
/// -noout ARGS`), with its `name=` prefix taken off.
fn x509(dir: &Path, pem: &str, args: &[&str]) -> String {
    let mut all = vec!["x509", "-in", pem, "-noout"];
    all.extend_from_slice(args);
    let out = Command::new(require("openssl", "openssl"))
        .current_dir(dir)
        .args(&all)
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "openssl {all:?}");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    text.split_once('=')
        .map_or(text.clone(), |(_, v)| v.to_owned())
}

/// A CA and a leaf for `details.interop.test` (127.0.1.12) in `d`, by the
/// openssl CLI, with names a careless formatter gets wrong: a comma and
/// quotes inside a value, a multi-valued name, a leading space,
/// `emailAddress`; RSA 3072 signed with SHA-384; every kind of
/// subjectAltName.
fn details_pki(d: &Path) {
    crate::servers::rsa_ca(
        d,
        "ca",
        "/C=DE/O=Reach Interop, Inc./OU=Trust+OU=PKI/CN=Interop \"Quoted\" CA",
        30,
    );
    openssl(
        d,
        &[
            "req",
            "-new",
            "-newkey",
            "rsa:3072",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/C=DE/ST=Berlin/O=a\"b\\\\c;d<e>f/OU= lead/CN=details.interop.test/emailAddress=ops@example.com",
        ],
    );
    std::fs::write(
        d.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:details.interop.test,\
         DNS:*.wild.interop.test,IP:127.0.1.12,IP:::1,email:ops@example.com,URI:https://example.com/x\n",
    )
    .expect("write leaf.ext");
    crate::servers::sign(d, "leaf.csr", "ca", 20, "-sha384", "leaf.ext", "leaf.pem");
}

#[test]
fn certificate_details_agree_with_openssl_x509() {
    let ip = "127.0.1.12";
    let dir = TempDir::new();
    let d = dir.path();
    details_pki(d);
    let block = format!(
        "server {{ listen {ip}:8443 ssl; ssl_certificate {}; ssl_certificate_key {};\n\
         location / {{ return 200 \"hello from nginx\\n\"; }} }}",
        dir.arg("leaf.pem"),
        dir.arg("leaf.key"),
    );
    let _nginx = nginx(ip, &block);
    let ca = dir.arg("ca.pem");
    let verdict = s_client(ip, "details.interop.test", &["-CAfile", &ca]);
    assert!(verdict.contains("Verify return code: 0 (ok)"), "{verdict}");

    let run = reach_check(ip, "details.interop.test", &["--ca-file", &ca]);
    let check = run.only();
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let endpoint = serde_json::to_value(&check.details).expect("details");
    let leaf = &endpoint["hops"][0]["tls"]["chain"][0];

    // The truth, from openssl x509.
    let names = ["-nameopt", "oneline,-space_eq"];
    let subject = x509(d, "leaf.pem", &[&["-subject"], &names[..]].concat());
    let issuer = x509(d, "leaf.pem", &[&["-issuer"], &names[..]].concat());
    assert_eq!(
        subject,
        "C=DE, ST=Berlin, O=\"a\\\"b\\\\c;d<e>f\", OU=\" lead\", CN=details.interop.test, emailAddress=ops@example.com"
    );
    assert_eq!(leaf["subject"], subject.as_str(), "{leaf:#}");
    assert_eq!(leaf["issuer"], issuer.as_str(), "{leaf:#}");
    let fingerprint = x509(d, "leaf.pem", &["-fingerprint", "-sha256"])
        .replace(':', "")
        .to_ascii_lowercase();
    assert_eq!(leaf["sha256"], fingerprint.as_str());
    let iso = ["-dateopt", "iso_8601"];
    for (field, flag) in [("not_before", "-startdate"), ("not_after", "-enddate")] {
        // `2026-12-01 19:23:02Z` in openssl's words.
        let date = x509(d, "leaf.pem", &[&[flag], &iso[..]].concat()).replacen(' ', "T", 1);
        assert_eq!(leaf[field], date.as_str(), "{field}");
    }
    // The DNS names and addresses openssl lists, in its order (an email
    // and a URI name no host): IPv6 as openssl writes it, compared as
    // addresses.
    let sans = x509(d, "leaf.pem", &["-ext", "subjectAltName"]);
    let openssl_names: Vec<String> = sans
        .lines()
        .skip(1)
        .flat_map(|l| l.split(", "))
        .filter_map(|n| {
            let n = n.trim();
            n.strip_prefix("DNS:").map(str::to_owned).or_else(|| {
                n.strip_prefix("IP Address:").map(|ip| {
                    ip.parse::<std::net::IpAddr>()
                        .expect("an address")
                        .to_string()
                })
            })
        })
        .collect();
    assert_eq!(openssl_names.len(), 4, "{sans}");
    assert_eq!(leaf["sans"], serde_json::json!(openssl_names), "{sans}");
    let text = x509(d, "leaf.pem", &["-text"]);
    assert!(text.contains("Public-Key: (3072 bit)") && text.contains("rsaEncryption"));
    assert_eq!(leaf["public_key"], "RSA 3072");
    assert!(text.contains("Signature Algorithm: sha384WithRSAEncryption"));
    assert_eq!(leaf["signed_with"], "SHA-384 with RSA");
}
