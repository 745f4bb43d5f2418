//! The interop suite: the real `reach` binary against real servers from
//! Debian's packages (nginx, haproxy, `openssl s_server`, squid, mitmproxy,
//! Knot DNS, nftables and iptables-nft in network namespaces,
//! `SimpleSAMLphp` on php-fpm, Prometheus and `blackbox_exporter`) and
//! node's oidc-provider, all on loopback or inside namespaces the suite
//! creates. For sign-in flows the judge is
//! headless Chromium (`browser.rs`, driving Debian's chromium through
//! `node/judge.mjs`): reach must walk each flow as it does, hop by hop.
//!
//! The truth of every case comes from the real tools (`openssl s_client`,
//! `curl`, testssl.sh, `FireHOL`'s `iprange`, the kernel) and is written in the test; reach must agree with it.
//! Run it with `cargo xtask interop`, which installs the packages first (as
//! root). A missing program fails the case and names its package: nothing is
//! skipped.
//!
//! Addresses: each case has its own loopback address (127.0.N.M: tls 1,
//! proxy 2, dns 3, oidc 4, saml 5, prometheus 6, testssl 7), so cases run in parallel
//! on fixed ports without racing for them.

mod allowlist;
mod browser;
mod dns;
mod firewall;
mod html;
mod oidc;
mod prometheus;
mod proxy;
mod saml;
mod servers;
mod testssl;
mod tls;

#[path = "../support/mod.rs"]
mod support;

pub(crate) use servers::{Server, TempDir, case_pki, curl, openssl, require, tool};
pub(crate) use support::{Run, codes, command, finding, run_with};
