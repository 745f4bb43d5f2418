//! Interop cases: firewall rule sets made by the real `nft` and
//! `iptables-nft` / `ip6tables-nft` inside a network namespace the case
//! creates (and always deletes). The rule set is loaded into the
//! namespace's egress (output) chain, dumped with the real tool
//! (`nft -j list ruleset`, `iptables-nft-save`), and that dump is reach's
//! `--allowlist`. The truth is the kernel's: in the same namespace a TCP
//! listener is bound on each published address (loopback addresses of that
//! namespace) and a connect is tried with a one-second bound. The verdict
//! is written in each case; reach must agree, and must never call covered
//! an address the kernel blocks.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reach_report::{Check, Code, Details};

use crate::{TempDir, codes, command, finding, require, run_with, tool};

/// A network namespace of one case, deleted when dropped (pass or panic).
struct Netns {
    name: String,
    ip: PathBuf,
}

impl Netns {
    #[track_caller]
    fn new(case: &str) -> Netns {
        let ip = require("ip", "iproute2");
        let name = format!("reach-fw-{case}-{}", std::process::id());
        // A namespace left by an earlier run of this very case and PID.
        let _ = tool(&ip, &["netns", "del", &name], None);
        let out = tool(&ip, &["netns", "add", &name], None);
        assert!(out.status.success(), "ip netns add {name}: {}", text(&out));
        let ns = Netns { name, ip };
        ns.ok(&ns.ip.clone(), &["link", "set", "lo", "up"], None);
        ns
    }

    /// Runs `program args` inside the namespace (bounded by 20 s).
    #[track_caller]
    fn exec(&self, program: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let program = program.to_string_lossy();
        let mut all = vec!["netns", "exec", self.name.as_str(), program.as_ref()];
        all.extend_from_slice(args);
        tool(&self.ip, &all, stdin)
    }

    /// Like [`Netns::exec`], and the command must succeed: its stdout.
    #[track_caller]
    fn ok(&self, program: &Path, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.exec(program, args, stdin);
        assert!(
            out.status.success(),
            "{} {args:?} in {}: {}",
            program.display(),
            self.name,
            text(&out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Loads an nft rule set (`nft -f -`) and dumps it as `nft -j list
    /// ruleset` does.
    #[track_caller]
    fn nft(&self, ruleset: &str) -> String {
        let nft = require("nft", "nftables");
        self.ok(&nft, &["-f", "-"], Some(ruleset));
        self.ok(&nft, &["-j", "list", "ruleset"], None)
    }

    /// Loads an `iptables-save` style rule set with `iptables-nft-restore`
    /// (or `ip6tables-nft-restore`) and dumps it with the matching save.
    #[track_caller]
    fn iptables(&self, v6: bool, rules: &str) -> String {
        let (restore, save) = if v6 {
            ("ip6tables-nft-restore", "ip6tables-nft-save")
        } else {
            ("iptables-nft-restore", "iptables-nft-save")
        };
        let restore = require(restore, "iptables");
        let save = require(save, "iptables");
        self.ok(&restore, &[], Some(rules));
        self.ok(&save, &[], None)
    }

    /// The kernel's verdict: for each address, whether a TCP connect to
    /// it on `port` (a listener bound there, inside the namespace) gets
    /// through the rules within one second.
    #[track_caller]
    fn connects(&self, port: u16, addrs: &[&str]) -> Vec<(String, bool)> {
        let python = require("python3", "python3");
        let port = port.to_string();
        let mut args = vec!["-c", PROBE, port.as_str()];
        args.extend_from_slice(addrs);
        let out = self.ok(&python, &args, None);
        out.lines()
            .filter_map(|l| l.split_once(' '))
            .map(|(addr, verdict)| (addr.to_owned(), verdict == "open"))
            .collect()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Only the namespace this case created, by its name.
        let _ = Command::new(&self.ip)
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// For each address: bind a listener on it, connect with a 1 s bound,
/// print `ADDR open` or `ADDR blocked`.
const PROBE: &str = r"
import socket, sys
port = int(sys.argv[1])
for addr in sys.argv[2:]:
    fam = socket.AF_INET6 if ':' in addr else socket.AF_INET
    srv = socket.socket(fam, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(8)
    c = socket.socket(fam, socket.SOCK_STREAM)
    c.settimeout(1.0)
    try:
        c.connect((addr, port))
        verdict = 'open'
    except OSError:
        verdict = 'blocked'
    c.close()
    srv.close()
    print(addr, verdict, flush=True)
";

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// An address (or CIDR) as (is IPv6, number, prefix length).
fn parse(cidr: &str) -> (bool, u128, u32) {
    let (addr, len) = cidr.split_once('/').unwrap_or((cidr, ""));
    let ip: std::net::IpAddr = addr.parse().expect("an address");
    match ip {
        std::net::IpAddr::V4(a) => (false, u128::from(u32::from(a)), len.parse().unwrap_or(32)),
        std::net::IpAddr::V6(a) => (true, u128::from(a), len.parse().unwrap_or(128)),
    }
}

/// Whether `addr` is inside `cidr`.
fn within(addr: &str, cidr: &str) -> bool {
    let (v6a, a, _) = parse(addr);
    let (v6n, n, len) = parse(cidr);
    let bits = if v6n { 128 } else { 32 };
    let shift = bits - len;
    v6a == v6n && (shift >= 128 || a >> shift == n >> shift)
}

/// One case: the kernel's verdict for each address (written here), and
/// what reach must say (covered or not) for it.
struct Expect<'a> {
    addr: &'a str,
    kernel_open: bool,
    reach_covered: bool,
}

const fn open(addr: &str) -> Expect<'_> {
    Expect {
        addr,
        kernel_open: true,
        reach_covered: true,
    }
}

const fn blocked(addr: &str) -> Expect<'_> {
    Expect {
        addr,
        kernel_open: false,
        reach_covered: false,
    }
}

/// Open in the kernel, but reach cannot prove it (a chain only a jump
/// reaches): not covered, which is the safe side.
const fn open_uncounted(addr: &str) -> Expect<'_> {
    Expect {
        addr,
        kernel_open: true,
        reach_covered: false,
    }
}

/// Checks the kernel against the written truth, runs reach on `dump` with
/// the addresses as the published list, and checks reach against both.
#[track_caller]
fn judge(ns: &Netns, dump: &str, port: Option<u16>, expect: &[Expect<'_>]) -> Check {
    let addrs: Vec<&str> = expect.iter().map(|e| e.addr).collect();
    let kernel = ns.connects(port.unwrap_or(443), &addrs);
    for e in expect {
        let got = kernel
            .iter()
            .find(|(a, _)| a == e.addr)
            .unwrap_or_else(|| panic!("no kernel verdict for {}: {kernel:?}", e.addr));
        assert_eq!(
            got.1, e.kernel_open,
            "the kernel's verdict for {} differs from the one written in the case \
             (true = open); rules:\n{dump}",
            e.addr
        );
    }
    let dir = TempDir::new();
    let published: String = addrs.iter().flat_map(|a| [a, "\n"]).collect();
    dir.write("published.txt", &published);
    dir.write("ruleset", dump);
    let mut args = vec![
        "allowlist".to_owned(),
        "--published".to_owned(),
        dir.arg("published.txt"),
        "--allowlist".to_owned(),
        dir.arg("ruleset"),
    ];
    if let Some(p) = port {
        args.push("--port".to_owned());
        args.push(p.to_string());
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_with(command(), &args);
    let check = run.only().clone();
    let Details::Allowlist(details) = &check.details else {
        panic!("no allowlist details: {check:#?}");
    };
    for e in expect {
        let covered = !details.uncovered.iter().any(|c| within(e.addr, c));
        // The worst error: coverage the firewall does not give.
        assert!(
            !covered || e.kernel_open,
            "reach claims {} covered while the kernel blocks it: {check:#?}\nrules:\n{dump}",
            e.addr
        );
        assert_eq!(
            covered, e.reach_covered,
            "reach's coverage of {}: {check:#?}",
            e.addr
        );
    }
    let any_uncovered = expect.iter().any(|e| !e.reach_covered);
    assert_eq!(
        codes(&check).contains(&Code::AllowlistGap),
        any_uncovered,
        "{check:#?}"
    );
    check
}

/// The rules reach did not count, as the finding lists them.
fn not_counted(check: &Check) -> Vec<String> {
    let f = finding(check, Code::AllowlistRuleNotCounted);
    f.evidence["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e.as_str().unwrap_or_default().to_owned())
        .collect()
}

#[track_caller]
fn assert_listed(entries: &[String], reason: &str) {
    assert!(
        entries.iter().any(|e| e.contains(reason)),
        "no rule not counted because `{reason}`: {entries:#?}"
    );
}

/// An nft rule set: output chain with policy drop, replies let through.
fn nft_ruleset(out_rules: &str, side_rules: &str) -> String {
    format!(
        "table inet fw {{
  set allowed {{ type ipv4_addr; flags interval; elements = {{ 127.0.0.2/32 }} }}
  chain side {{
{side_rules}
  }}
  chain out {{
    type filter hook output priority 0; policy drop;
    ct state established,related accept
{out_rules}
  }}
}}
"
    )
}

#[test]
fn nft_icmp_rules_cover_nothing() {
    let ns = Netns::new("icmp");
    let dump = ns.nft(&nft_ruleset(
        "    meta l4proto icmp accept
    ip protocol icmp counter accept
    icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, echo-request } accept",
        "",
    ));
    // Before the fix: 100% covered while the kernel drops every connection.
    let check = judge(&ns, &dump, None, &[blocked("127.0.0.2"), blocked("::1")]);
    let entries = not_counted(&check);
    assert_listed(&entries, "it admits only ICMP, not TCP");
    assert_listed(&entries, "it admits only ICMPv6, not TCP");
    assert_listed(
        &entries,
        "it admits only established or related connections",
    );
}

#[test]
fn nft_udp_and_other_ports_do_not_count_for_443() {
    let ns = Netns::new("ports");
    let dump = ns.nft(&nft_ruleset(
        "    ip daddr 127.0.0.2 udp dport 443 accept
    ip daddr 127.0.0.3 tcp dport 22 accept
    ip daddr 127.0.0.4 tcp dport { 80, 443 } accept",
        "",
    ));
    let check = judge(
        &ns,
        &dump,
        Some(443),
        &[
            blocked("127.0.0.2"),
            blocked("127.0.0.3"),
            open("127.0.0.4"),
        ],
    );
    let entries = not_counted(&check);
    assert_listed(&entries, "it admits only UDP, not TCP");
    assert_listed(&entries, "it admits TCP only to port 22, not to port 443");
}

#[test]
fn nft_state_interface_and_unknown_matches_do_not_count() {
    let ns = Netns::new("state");
    let dump = ns.nft(&nft_ruleset(
        "    ip daddr 127.0.0.2 oifname \"eth9\" accept
    ip daddr 127.0.0.3 meta mark 0x2a tcp dport 443 accept
    ip daddr 127.0.0.4 ct state new,established tcp dport 443 counter accept",
        "",
    ));
    let check = judge(
        &ns,
        &dump,
        Some(443),
        &[
            blocked("127.0.0.2"),
            blocked("127.0.0.3"),
            open("127.0.0.4"),
        ],
    );
    let entries = not_counted(&check);
    assert_listed(&entries, "through interface eth9");
    assert_listed(&entries, "`meta mark`");
}

#[test]
fn nft_named_sets_count_and_jumps_never_widen() {
    let ns = Netns::new("jump");
    let dump = ns.nft(&nft_ruleset(
        "    ip daddr @allowed tcp dport 443 counter accept
    jump side
    ip daddr 127.0.0.4 tcp dport 443 accept",
        "    ip daddr 127.0.0.4 drop
    ip daddr 127.0.0.5 tcp dport 443 accept",
    ));
    let check = judge(
        &ns,
        &dump,
        Some(443),
        &[
            // The named set's address, before the jump: counted.
            open("127.0.0.2"),
            // Dropped inside the chain jumped to: the later accept in the
            // output chain is never reached.
            blocked("127.0.0.4"),
            // Accepted inside the chain jumped to: reach does not follow
            // jumps, so it does not count it (the safe side).
            open_uncounted("127.0.0.5"),
        ],
    );
    assert_listed(&not_counted(&check), "which only jumps reach");
    assert!(
        codes(&check).contains(&Code::AllowlistShadowedRule),
        "{check:#?}"
    );
}

#[test]
fn nft_tcp_443_accept_really_counts() {
    let ns = Netns::new("tcp443");
    let dump = ns.nft(&nft_ruleset(
        "    ip daddr 127.0.0.3 drop
    ip daddr { 127.0.0.2, 127.0.0.3 } tcp dport 443 accept
    ip6 daddr ::1 tcp dport https accept",
        "",
    ));
    judge(
        &ns,
        &dump,
        Some(443),
        &[open("127.0.0.2"), blocked("127.0.0.3"), open("::1")],
    );
}

#[test]
fn iptables_icmp_udp_and_other_ports_do_not_count() {
    let ns = Netns::new("ipt");
    let dump = ns.iptables(
        false,
        "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
:VENDOR - [0:0]
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -p icmp -j ACCEPT
-A OUTPUT -d 127.0.0.2/32 -p udp -m udp --dport 443 -j ACCEPT
-A OUTPUT -d 127.0.0.3/32 -p tcp -m tcp --dport 22 -j ACCEPT
-A OUTPUT -d 127.0.0.4/32 -p tcp -m tcp --dport 443 -m comment --comment \"vendor api\" -j ACCEPT
-A OUTPUT -d 127.0.0.5/32 -o eth9 -j ACCEPT
-A OUTPUT -d 127.0.0.6/32 -p tcp -m multiport --dports 80,443 -j ACCEPT
-A OUTPUT -j VENDOR
-A VENDOR -d 127.0.0.7/32 -p tcp -m tcp --dport 443 -j ACCEPT
COMMIT
",
    );
    let check = judge(
        &ns,
        &dump,
        Some(443),
        &[
            blocked("127.0.0.2"),
            blocked("127.0.0.3"),
            open("127.0.0.4"),
            blocked("127.0.0.5"),
            open("127.0.0.6"),
            open_uncounted("127.0.0.7"),
            // Only the ICMP rule would have let it in.
            blocked("127.0.0.9"),
        ],
    );
    let entries = not_counted(&check);
    assert_listed(&entries, "it admits only ICMP, not TCP");
    assert_listed(&entries, "it admits only UDP, not TCP");
    assert_listed(&entries, "it admits TCP only to port 22, not to port 443");
    assert_listed(&entries, "through interface eth9");
    assert_listed(&entries, "chain VENDOR, which only jumps reach");
}

#[test]
fn ip6tables_icmpv6_does_not_count() {
    let ns = Netns::new("ip6t");
    let dump = ns.iptables(
        true,
        "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
-A OUTPUT -p ipv6-icmp -j ACCEPT
-A OUTPUT -p udp -j ACCEPT
COMMIT
",
    );
    let check = judge(&ns, &dump, None, &[blocked("::1")]);
    let entries = not_counted(&check);
    assert_listed(&entries, "it admits only ICMPv6, not TCP");
    assert_listed(&entries, "it admits only UDP, not TCP");
}

/// The published addresses of the `--emit` cases (all on the namespace's
/// loopback) and the allowlist that covers only the first.
const EMIT_PUBLISHED: &str = "127.0.0.2\n127.0.0.3\n127.0.0.4\n::1\n";
const EMIT_ALLOWLIST: &str = "127.0.0.2/32\n";

/// `reach allowlist --emit FORMAT` of the gap of [`EMIT_PUBLISHED`]
/// against [`EMIT_ALLOWLIST`], on port 443: the rules it writes.
#[track_caller]
fn emitted(dir: &TempDir, format: &str) -> String {
    dir.write("published.txt", EMIT_PUBLISHED);
    dir.write("allow.txt", EMIT_ALLOWLIST);
    let out = command()
        .args(["allowlist", "--published", &dir.arg("published.txt")])
        .args(["--allowlist", &dir.arg("allow.txt"), "--port", "443"])
        .args(["--emit", format])
        .output()
        .expect("reach runs");
    let rules = String::from_utf8_lossy(&out.stdout).into_owned();
    // Gaps: exit 1, as the report's.
    assert_eq!(out.status.code(), Some(1), "{rules}{}", text(&out));
    rules
}

/// What the kernel does once the emitted rules are loaded: the gap (and
/// only the gap, and only on port 443) gets through; then reach, reading
/// the firewall back from the real tool's dump, finds no gap left but the
/// address the emitted rules were not meant to add.
#[track_caller]
fn emitted_rules_hold(ns: &Netns, dir: &TempDir, dumps: &[String]) {
    let kernel = ns.connects(443, &["127.0.0.2", "127.0.0.3", "127.0.0.4", "::1"]);
    let open: Vec<&str> = kernel
        .iter()
        .filter(|(_, open)| *open)
        .map(|(a, _)| a.as_str())
        .collect();
    // 127.0.0.2 was in the allowlist reach was given, not in this firewall.
    assert_eq!(open, ["127.0.0.3", "127.0.0.4", "::1"], "{dumps:#?}");
    let other_port = ns.connects(22, &["127.0.0.3", "::1"]);
    assert!(
        other_port.iter().all(|(_, open)| !open),
        "the rules opened more than TCP 443: {other_port:?}"
    );
    let mut args = vec![
        "allowlist".to_owned(),
        "--published".to_owned(),
        dir.arg("published.txt"),
        "--port".to_owned(),
        "443".to_owned(),
    ];
    for (i, dump) in dumps.iter().enumerate() {
        let name = format!("dump-{i}");
        dir.write(&name, dump);
        args.extend(["--allowlist".to_owned(), dir.arg(&name)]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run_with(command(), &args);
    let Details::Allowlist(details) = &run.only().details else {
        panic!("no allowlist details: {:#?}", run.only());
    };
    assert_eq!(details.uncovered, ["127.0.0.2/32"], "{:#?}", run.only());
}

#[test]
fn emitted_nft_rules_let_the_gap_through() {
    let ns = Netns::new("emit-nft");
    let dir = TempDir::new();
    let rules = emitted(&dir, "nft");
    // The table and chain the emitted `add rule inet filter output` lines
    // name, as a host with a default-drop egress policy has them.
    let base = "table inet filter {
  chain output {
    type filter hook output priority 0; policy drop;
    ct state established,related accept
  }
}
";
    let dump = ns.nft(&format!("{base}{rules}"));
    emitted_rules_hold(&ns, &dir, &[dump]);
}

#[test]
fn emitted_iptables_rules_let_the_gap_through() {
    let ns = Netns::new("emit-ipt");
    let dir = TempDir::new();
    let rules = emitted(&dir, "iptables");
    // As the header says: the IPv4 block for iptables, the IPv6 block for
    // ip6tables, each between *filter and COMMIT.
    let (v4, v6) = rules
        .split_once("\n# IPv6")
        .unwrap_or_else(|| panic!("no IPv6 block: {rules}"));
    let table = |block: &str| {
        format!(
            "*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT DROP [0:0]
-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
{block}
COMMIT
"
        )
    };
    let dump4 = ns.iptables(false, &table(v4));
    let dump6 = ns.iptables(true, &table(&format!("# IPv6{v6}")));
    emitted_rules_hold(&ns, &dir, &[dump4, dump6]);
}
