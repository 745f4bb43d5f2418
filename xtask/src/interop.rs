//! `cargo xtask interop`: installs the real servers the interop suite runs
//! against (Debian's packages, as root), then runs `tests/interop` — the
//! `reach` binary against nginx, haproxy, openssl, squid, mitmproxy, Knot
//! DNS and the kernel's firewall in network namespaces.

use std::process::Command;

use anyhow::{Context, bail};

/// Every package the suite uses, with a program it installs (to tell
/// whether it is there already).
const PACKAGES: &[(&str, &str)] = &[
    ("nginx-light", "/usr/sbin/nginx"),
    ("haproxy", "/usr/sbin/haproxy"),
    ("openssl", "/usr/bin/openssl"),
    ("curl", "/usr/bin/curl"),
    // The judge of certificate dates (expired, expiring, not yet valid).
    ("testssl.sh", "/usr/bin/testssl"),
    // The judge of allowlist coverage: the uncovered set and its counts.
    ("iprange", "/usr/bin/iprange"),
    ("squid-openssl", "/usr/sbin/squid"),
    ("mitmproxy", "/usr/bin/mitmdump"),
    ("knot", "/usr/sbin/knotd"),
    ("knot-dnsutils", "/usr/bin/kdig"),
    ("nftables", "/usr/sbin/nft"),
    ("iptables", "/usr/sbin/iptables-nft"),
    ("iproute2", "/usr/sbin/ip"),
    ("python3", "/usr/bin/python3"),
    // The SSO cases: headless Chromium is the judge of cookies and
    // redirects; node runs oidc-provider and drives Chromium over the
    // DevTools protocol; SimpleSAMLphp is a real SAML IdP and SP.
    ("chromium", "/usr/bin/chromium"),
    ("chromium-driver", "/usr/bin/chromedriver"),
    ("nodejs", "/usr/bin/node"),
    ("npm", "/usr/bin/npm"),
    ("simplesamlphp", "/usr/share/simplesamlphp/www/index.php"),
    ("php-fpm", "/usr/sbin/php-fpm8.2"),
    // SimpleSAMLphp needs PHP's DOM (Debian's package does not depend on
    // it); the cases decode SAML messages with the PHP CLI.
    ("php8.2-xml", "/etc/php/8.2/mods-available/dom.ini"),
    ("php8.2-cli", "/usr/bin/php8.2"),
    // `reach serve` as Prometheus scrapes it; blackbox_exporter is the
    // reference exporter, promtool (in `prometheus`) lints the text format
    // and Python's prometheus_client holds the OpenMetrics reference parser.
    ("prometheus", "/usr/bin/prometheus"),
    (
        "prometheus-blackbox-exporter",
        "/usr/bin/prometheus-blackbox-exporter",
    ),
    (
        "python3-prometheus-client",
        "/usr/lib/python3/dist-packages/prometheus_client/openmetrics/parser.py",
    ),
];

/// The node packages of the SSO cases (oidc-provider, playwright-core),
/// installed from their lock file.
const NODE_DIR: &str = "tests/interop/node";

pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    if !is_root() {
        eprintln!(
            "cargo xtask interop needs root: it installs Debian packages ({}) with apt-get, \
             and creates network namespaces for the firewall cases.\n\
             Run it as root (sudo -E cargo xtask interop), or in CI where .ci/run is root.",
            PACKAGES
                .iter()
                .map(|(p, _)| *p)
                .collect::<Vec<_>>()
                .join(", ")
        );
        std::process::exit(2);
    }
    install()?;
    npm_ci()?;
    let mut test = crate::cargo();
    test.args([
        "test",
        "--locked",
        "-p",
        "reach-cli",
        "--test",
        "interop",
        "--",
    ]);
    test.args(args);
    crate::run(test)
}

/// `npm ci` in [`NODE_DIR`] when its `node_modules` is missing or older
/// than the lock file.
fn npm_ci() -> anyhow::Result<()> {
    let dir = crate::root().join(NODE_DIR);
    let lock = dir.join("package-lock.json");
    if !lock.exists() {
        return Ok(());
    }
    let modified = |p: &std::path::Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let installed = dir.join("node_modules/.package-lock.json");
    if modified(&installed).is_some_and(|at| Some(at) >= modified(&lock)) {
        return Ok(());
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
        .current_dir(&dir);
    crate::run(npm).context("npm ci for the interop suite's node packages failed")
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// apt-get install of whatever is missing. Services must not start on
/// their own (the cases start their own on loopback), so a policy-rc.d
/// that refuses is in place during the install.
fn install() -> anyhow::Result<()> {
    let missing: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, program)| !std::path::Path::new(program).exists())
        .map(|(package, _)| *package)
        .collect();
    if missing.is_empty() {
        eprintln!("interop: every package is installed");
        return Ok(());
    }
    eprintln!("interop: installing {}", missing.join(", "));
    let policy = std::path::Path::new("/usr/sbin/policy-rc.d");
    let had_policy = policy.exists();
    if !had_policy {
        std::fs::write(policy, "#!/bin/sh\nexit 101\n").context("write policy-rc.d")?;
        std::fs::set_permissions(policy, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .context("make policy-rc.d executable")?;
    }
    let result = apt(&missing);
    if !had_policy {
        let _ = std::fs::remove_file(policy);
    }
    result?;
    let still: Vec<&str> = PACKAGES
        .iter()
        .filter(|(_, program)| !std::path::Path::new(program).exists())
        .map(|(package, _)| *package)
        .collect();
    if !still.is_empty() {
        bail!(
            "these packages did not install, so the interop suite cannot run: {}",
            still.join(", ")
        );
    }
    Ok(())
}

fn apt(packages: &[&str]) -> anyhow::Result<()> {
    let mut update = Command::new("apt-get");
    update.args(["update", "-qq"]);
    crate::run(update).context("apt-get update failed")?;
    let mut install = Command::new("apt-get");
    install
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive");
    crate::run(install).with_context(|| format!("apt-get install {} failed", packages.join(" ")))
}
