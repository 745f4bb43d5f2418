//! Starting real servers for a case and stopping them: every process is
//! started by the case, waited for on its own address, and stopped by its
//! PID when the case ends (pass or panic).

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Panics, naming the Debian package, when `program` is not installed:
/// the suite never skips a case silently.
#[track_caller]
pub(crate) fn require(program: &str, package: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/bin"] {
        let path = Path::new(dir).join(program);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "`{program}` is not installed: the interop suite needs the Debian package `{package}` \
         (run it with `cargo xtask interop`, which installs everything as root)"
    );
}

/// Runs a real tool to completion (bounded by `timeout` seconds, via
/// coreutils' `timeout`) and returns its output.
#[track_caller]
pub(crate) fn tool(program: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut cmd = Command::new("timeout");
    cmd.arg("20").arg(program).args(args);
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
    if let Some(text) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let _ = pipe.write_all(text.as_bytes());
    }
    child.wait_with_output().expect("the tool ends")
}

/// What curl writes to stdout for `args` (bounded like every [`tool`]):
/// the truth of HTTP-level cases.
#[track_caller]
pub(crate) fn curl(args: &[&str]) -> String {
    let out = tool(&require("curl", "curl"), args, None);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs the openssl CLI in `dir`; panics with what it said when it fails.
#[track_caller]
pub(crate) fn openssl(dir: &Path, args: &[&str]) {
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

/// A self-signed RSA CA as a company or a lab makes it with `openssl req
/// -x509` (CA:TRUE, keyCertSign): `{stem}.key` and `{stem}.pem` in `dir`.
pub(crate) fn rsa_ca(dir: &Path, stem: &str, subject: &str, days: u32) {
    let (key, pem, days) = (
        format!("{stem}.key"),
        format!("{stem}.pem"),
        days.to_string(),
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            &days,
            "-subj",
            subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// A case's own PKI, made with the openssl CLI in `dir`: a CA (`ca.pem`,
/// `ca.key`, subject `ca_name`) and one server certificate it signs for
/// `names`, host names or IP addresses (`{leaf}.pem`, `{leaf}.key`), EC P-256, 30 days. Each case has
/// its own, so another test run cannot swap them under a running server.
#[track_caller]
pub(crate) fn case_pki(dir: &Path, ca_name: &str, leaf: &str, names: &[&str]) {
    std::fs::create_dir_all(dir).expect("pki dir");
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
    let subject = format!("/CN={ca_name}");
    let mut args = vec![
        "req", "-x509", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
    ];
    args.extend_from_slice(&ec);
    args.extend_from_slice(&[
        "-days",
        "30",
        "-subj",
        &subject,
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &args);
    // An address among `names` is an IP name (a client that dials an
    // address, as Prometheus's exporters do, verifies it as one).
    let san: Vec<String> = names
        .iter()
        .map(|n| {
            if n.parse::<std::net::IpAddr>().is_ok() {
                format!("IP:{n}")
            } else {
                format!("DNS:{n}")
            }
        })
        .collect();
    std::fs::write(
        dir.join(format!("{leaf}.ext")),
        format!(
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n\
             extendedKeyUsage=serverAuth\nsubjectAltName={}\n",
            san.join(",")
        ),
    )
    .expect("ext file");
    let (key, csr, pem, ext) = (
        format!("{leaf}.key"),
        format!("{leaf}.csr"),
        format!("{leaf}.pem"),
        format!("{leaf}.ext"),
    );
    let leaf_subject = format!("/CN={}", names.first().copied().unwrap_or("localhost"));
    let mut args = vec!["req", "-new", "-nodes", "-keyout", &key, "-out", &csr];
    args.extend_from_slice(&ec);
    args.extend_from_slice(&["-subj", &leaf_subject]);
    openssl(dir, &args);
    sign(dir, &csr, "ca", 30, "-sha256", &ext, &pem);
}

/// Signs the request `csr` with the CA `{ca}.pem` / `{ca}.key` in `dir`
/// (`openssl x509 -req`, as people sign by hand): `days` long, with the
/// digest flag `digest` (`-sha256`) and the extensions in `ext`, into `out`.
#[track_caller]
pub(crate) fn sign(dir: &Path, csr: &str, ca: &str, days: u32, digest: &str, ext: &str, out: &str) {
    let (ca_pem, ca_key, days) = (format!("{ca}.pem"), format!("{ca}.key"), days.to_string());
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            csr,
            "-CA",
            &ca_pem,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            &days,
            digest,
            "-extfile",
            ext,
            "-out",
            out,
        ],
    );
}

/// A server process of one case, stopped by its PID when dropped.
pub(crate) struct Server {
    child: Child,
    name: String,
    log: Option<PathBuf>,
}

impl Server {
    /// Starts `cmd` and waits until `addr` accepts TCP connections (at most
    /// 15 seconds). Output goes to `log` so a failing start can be read.
    #[track_caller]
    pub(crate) fn start(name: &str, cmd: Command, addr: SocketAddr, log: &Path) -> Server {
        let mut server = Server::spawn(name, cmd, log);
        server.wait_for(addr);
        server
    }

    /// Starts `cmd` for a server that does not listen on TCP (a UDP DNS
    /// server checks its own readiness).
    #[track_caller]
    pub(crate) fn spawn(name: &str, mut cmd: Command, log: &Path) -> Server {
        let file = std::fs::File::create(log).expect("log file");
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone().expect("log file"))
            .stderr(file);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Server {
            child,
            name: name.to_owned(),
            log: Some(log.to_owned()),
        }
    }

    #[track_caller]
    fn wait_for(&mut self, addr: SocketAddr) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited at start ({status}): {}",
                    self.name,
                    self.log_text()
                );
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "{} did not listen on {addr} within 15 s: {}",
            self.name,
            self.log_text()
        );
    }

    /// What the server wrote so far.
    pub(crate) fn log_text(&self) -> String {
        self.log
            .as_ref()
            .and_then(|p| std::fs::read_to_string(p).ok())
            .unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // By PID only: the child this case started.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory for one case's configuration, keys and logs, removed when
/// dropped.
pub(crate) struct TempDir(tempfile::TempDir);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        TempDir(tempfile::tempdir().expect("a temporary directory"))
    }

    pub(crate) fn path(&self) -> &Path {
        self.0.path()
    }

    /// `name` inside the directory.
    pub(crate) fn join(&self, name: &str) -> PathBuf {
        self.0.path().join(name)
    }

    /// Writes `text` to `name` and returns its path.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, text).expect("write a case file");
        path
    }

    /// `name`'s path as a string, for command lines.
    pub(crate) fn arg(&self, name: &str) -> String {
        self.join(name).display().to_string()
    }
}
