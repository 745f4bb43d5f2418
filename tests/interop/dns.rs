//! Interop cases: DNS against Knot DNS (`knotd`, authoritative only), a
//! closed DNS port, and a machine with no network (a network namespace of
//! its own, loopback down).
//!
//! The truth of each Knot case is what `kdig` says about the same server and
//! name, asserted first (`status: REFUSED`, the CNAME chain, …). For the
//! closed port and the missing network it is what the kernel says: a
//! connected UDP socket gets `ECONNREFUSED` (ICMP port unreachable), and
//! `ip route get` finds no route.
//!
//! Each case has its own Knot on its own address (127.0.3.1–4, port 5353).
//! Knot answers SERVFAIL for a zone it is configured to serve but whose
//! file failed to load (`broken.test`, a file that does not parse), and
//! REFUSED for every name outside its zones.

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use reach_report::endpoint::DnsPhase;
use reach_report::{Check, Code, Details, Finding, Status};

use crate::{Run, Server, TempDir, codes, command, finding, require, run_with, tool};

const PORT: u16 = 5353;

/// The zone Knot serves. `www` points at an address where nothing listens,
/// so a check of it ends with a TCP finding after DNS succeeded.
const ZONE: &str = "\
$ORIGIN interop.test.
$TTL 300
@        SOA   ns hostmaster 1 3600 600 86400 300
@        NS    ns
ns       A     127.0.3.1
www      A     127.0.3.250
www      AAAA  ::1
alias    60    CNAME alias2
alias2   60    CNAME www
nodata   TXT   \"no address here\"
dangling CNAME missing
";

/// A running `knotd` on `ip`:5353, serving `interop.test.` and a
/// `broken.test.` whose zone file does not parse.
struct Knot {
    ip: &'static str,
    kdig: PathBuf,
    server: Server,
    _dir: TempDir,
}

impl Knot {
    #[track_caller]
    fn start(ip: &'static str) -> Knot {
        let knotd = require("knotd", "knot");
        let kdig = require("kdig", "knot-dnsutils");
        let dir = TempDir::new();
        for sub in ["run", "db"] {
            std::fs::create_dir(dir.join(sub)).expect("knot directories");
        }
        dir.write("interop.test.zone", ZONE);
        dir.write("broken.test.zone", "this is not a zone file {\n");
        let config = format!(
            "server:\n    rundir: \"{run}\"\n    listen: {ip}@{PORT}\n    udp-workers: 1\n    \
             tcp-workers: 1\n    background-workers: 1\n\
             database:\n    storage: \"{db}\"\n\
             log:\n  - target: stderr\n    any: info\n\
             template:\n  - id: default\n    storage: \"{dir}\"\n\
             zone:\n  - domain: interop.test\n    file: interop.test.zone\n  \
             - domain: broken.test\n    file: broken.test.zone\n",
            run = dir.arg("run"),
            db = dir.arg("db"),
            dir = dir.path().display(),
        );
        let conf = dir.write("knot.conf", &config);
        // In the foreground (no -d), started directly so that dropping the
        // Server stops knotd itself by its PID (a wrapper killed in its
        // place would leave knotd running).
        let mut cmd = Command::new(knotd);
        cmd.arg("-c").arg(&conf);
        let server = Server::spawn("knotd", cmd, &dir.join("knot.log"));
        let knot = Knot {
            ip,
            kdig,
            server,
            _dir: dir,
        };
        knot.wait_until_it_answers();
        knot
    }

    fn addr(&self) -> String {
        format!("{}:{PORT}", self.ip)
    }

    /// `kdig @ip -p 5353 NAME TYPE` and its whole output.
    fn kdig(&self, name: &str, rtype: &str) -> String {
        let server = format!("@{}", self.ip);
        let port = PORT.to_string();
        let out = tool(
            &self.kdig,
            &[&server, "-p", &port, "+retry=0", "+timeout=2", name, rtype],
            None,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[track_caller]
    fn wait_until_it_answers(&self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            // Our own knotd (its log says it started: one that could not
            // bind its address says so and exits), and it answers.
            let log = self.server.log_text();
            assert!(!log.contains("critical:"), "knotd did not start: {log}");
            if log.contains("server started")
                && self.kdig("interop.test", "SOA").contains("status: NOERROR")
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "knotd on {} did not answer within 15 s: {}",
            self.addr(),
            self.server.log_text()
        );
    }

    /// `reach check --dns-server ip:5353 URL…`
    fn reach(&self, urls: &[&str]) -> Run {
        let mut cmd = command();
        cmd.arg("check");
        let mut args = vec!["--timeout", "5s"];
        let addr = self.addr();
        args.extend(["--dns-server", &addr]);
        args.extend_from_slice(urls);
        run_with(cmd, &args)
    }
}

/// The finding of the DNS phase, the only one of its area.
#[track_caller]
fn dns_finding(check: &Check) -> &Finding {
    let dns: Vec<&Finding> = check
        .findings
        .iter()
        .filter(|f| f.code.area() == "dns")
        .collect();
    assert_eq!(dns.len(), 1, "{check:#?}");
    dns[0]
}

#[test]
fn knot_answers_and_cname_chains() {
    let knot = Knot::start("127.0.3.1");
    let www = knot.kdig("www.interop.test", "A");
    assert!(www.contains("status: NOERROR"), "{www}");
    assert!(www.contains("127.0.3.250"), "{www}");
    let alias = knot.kdig("alias.interop.test", "A");
    assert!(alias.contains("status: NOERROR"), "{alias}");
    assert!(
        alias.contains("alias.interop.test.") && alias.contains("CNAME\talias2.interop.test."),
        "{alias}"
    );
    assert!(alias.contains("CNAME\twww.interop.test."), "{alias}");

    let run = knot.reach(&["https://www.interop.test/", "https://alias.interop.test/"]);
    for url in ["https://www.interop.test/", "https://alias.interop.test/"] {
        let check = run.check(url);
        // DNS succeeded (what TCP finds at the address is not this case's).
        assert!(
            !codes(check).iter().any(|c| c.area() == "dns"),
            "{check:#?}"
        );
        let dns = dns_phase(check);
        let mut answers: Vec<(&str, &str)> = dns
            .answers
            .iter()
            .map(|a| (a.record_type.as_str(), a.address.as_str()))
            .collect();
        answers.sort_unstable();
        assert_eq!(answers, [("A", "127.0.3.250"), ("AAAA", "::1")], "{dns:#?}");
    }
    let dns = dns_phase(run.check("https://alias.interop.test/"));
    let chain: Vec<(&str, &str, u32)> = dns
        .cname_chain
        .iter()
        .map(|c| (c.name.as_str(), c.target.as_str(), c.ttl))
        .collect();
    assert_eq!(
        chain,
        [
            ("alias.interop.test.", "alias2.interop.test.", 60),
            ("alias2.interop.test.", "www.interop.test.", 60)
        ]
    );
}

fn dns_phase(check: &Check) -> &DnsPhase {
    match &check.details {
        Details::Endpoint(d) => d.hops[0].dns.as_ref().expect("a DNS phase"),
        other => panic!("no endpoint details: {other:#?}"),
    }
}

#[test]
fn knot_nxdomain_nodata_and_a_dangling_alias() {
    let knot = Knot::start("127.0.3.2");
    let nope = knot.kdig("nope.interop.test", "A");
    assert!(nope.contains("status: NXDOMAIN"), "{nope}");
    for rtype in ["A", "AAAA"] {
        let nodata = knot.kdig("nodata.interop.test", rtype);
        assert!(nodata.contains("status: NOERROR"), "{nodata}");
        assert!(nodata.contains("ANSWER: 0"), "{nodata}");
    }
    let dangling = knot.kdig("dangling.interop.test", "A");
    assert!(dangling.contains("status: NXDOMAIN"), "{dangling}");
    assert!(
        dangling.contains("CNAME\tmissing.interop.test."),
        "{dangling}"
    );

    let run = knot.reach(&[
        "https://nope.interop.test/",
        "https://nodata.interop.test/",
        "https://dangling.interop.test/",
    ]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    let check = run.check("https://nope.interop.test/");
    assert_eq!(codes(check), [Code::DnsNxdomain], "{check:#?}");
    assert!(dns_finding(check).message.contains(&knot.addr()));
    let check = run.check("https://nodata.interop.test/");
    assert_eq!(codes(check), [Code::DnsNoRecords], "{check:#?}");
    let check = run.check("https://dangling.interop.test/");
    assert_eq!(codes(check), [Code::DnsNxdomain], "{check:#?}");
    let f = finding(check, Code::DnsNxdomain);
    assert!(f.message.contains("missing.interop.test"), "{}", f.message);
    assert_eq!(
        f.evidence["cname_chain"][0]["target"],
        "missing.interop.test."
    );
}

#[test]
fn knot_refuses_names_outside_its_zones() {
    let knot = Knot::start("127.0.3.3");
    let truth = knot.kdig("www.example.com", "A");
    assert!(truth.contains("status: REFUSED"), "{truth}");

    let run = knot.reach(&["https://www.example.com/"]);
    let check = run.only();
    assert_eq!(check.status, Status::Fail);
    assert_eq!(codes(check), [Code::DnsRefused], "{check:#?}");
    let f = finding(check, Code::DnsRefused);
    assert_eq!(f.evidence["rcode"], "REFUSED");
    assert_eq!(f.evidence["results"][0]["server"], knot.addr());
    assert_eq!(f.evidence["results"][0]["result"], "refused");
    assert!(f.message.contains("REFUSED"), "{}", f.message);
    // Not SERVFAIL's DNSSEC advice: REFUSED says nothing about the name.
    assert!(!f.remedy.contains("DNSSEC"), "{}", f.remedy);
}

#[test]
fn knot_servfail_for_a_zone_that_failed_to_load() {
    let knot = Knot::start("127.0.3.4");
    // Knot says why: the zone file did not parse (its log, written as the
    // zone loads, beside the server answering).
    let deadline = Instant::now() + Duration::from_secs(10);
    while !knot
        .server
        .log_text()
        .contains("[broken.test.] zone event 'load' failed")
    {
        assert!(Instant::now() < deadline, "{}", knot.server.log_text());
        std::thread::sleep(Duration::from_millis(100));
    }
    let truth = knot.kdig("www.broken.test", "A");
    assert!(truth.contains("status: SERVFAIL"), "{truth}");

    let run = knot.reach(&["https://www.broken.test/"]);
    let check = run.only();
    assert_eq!(codes(check), [Code::DnsServfail], "{check:#?}");
    let f = finding(check, Code::DnsServfail);
    assert_eq!(f.evidence["rcode"], "SERVFAIL");
    assert!(f.message.contains("SERVFAIL"), "{}", f.message);
}

/// A port nothing listens on, on an address of its own.
const CLOSED: &str = "127.0.3.9:5399";

#[test]
fn a_closed_dns_port_ends_at_once() {
    // The kernel's truth: a connected UDP socket hears the ICMP port
    // unreachable as ECONNREFUSED, at once.
    let probe = UdpSocket::bind("127.0.3.9:0").expect("bind on 127.0.3.9");
    probe.connect(CLOSED).expect("connect");
    probe
        .set_read_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    probe.send(&[0; 12]).expect("send");
    let err = probe.recv(&mut [0; 64]).expect_err("nothing answers");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
    // And kdig over TCP finds nothing listening either.
    let kdig = require("kdig", "knot-dnsutils");
    let out = tool(
        &kdig,
        &[
            "@127.0.3.9",
            "-p",
            "5399",
            "+tcp",
            "+retry=0",
            "+timeout=2",
            "x.test",
        ],
        None,
    );
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("can't connect"), "{text}");

    let mut cmd = command();
    cmd.arg("check");
    let started = Instant::now();
    let run = run_with(
        cmd,
        &[
            "--timeout",
            "10s",
            "--dns-server",
            CLOSED,
            "https://www.interop.test/",
        ],
    );
    // A bound, not a benchmark: the kernel's answer ends it, not the 10 s.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let check = run.only();
    assert_eq!(codes(check), [Code::DnsUnreachable], "{check:#?}");
    let f = finding(check, Code::DnsUnreachable);
    assert!(
        f.message.contains("nothing listens on 127.0.3.9:5399"),
        "{}",
        f.message
    );
    assert_eq!(f.evidence["results"][0]["result"], "port_closed");
}

#[test]
fn with_no_network_no_dns_server_can_be_reached() {
    let unshare = require("unshare", "util-linux");
    let ip = require("ip", "iproute2");
    // The kernel's truth in a network namespace of its own (loopback down,
    // no routes): there is no route to the server.
    let route = tool(
        &unshare,
        &["-n", ip.to_str().unwrap(), "route", "get", "127.0.3.9"],
        None,
    );
    let text = String::from_utf8_lossy(&route.stderr);
    assert!(text.contains("Network is unreachable"), "{text}");

    // The same binary, run inside that namespace.
    let reach = crate::support::bin();
    let mut cmd = assert_cmd::Command::from_std({
        let mut std = Command::new(&unshare);
        std.arg("-n").arg(reach).arg("check");
        for var in crate::support::PROXY_VARS {
            std.env_remove(var);
        }
        std
    });
    cmd.timeout(Duration::from_secs(60));
    let started = Instant::now();
    let run = run_with(
        cmd,
        &[
            "--timeout",
            "10s",
            "--dns-server",
            CLOSED,
            "https://www.interop.test/",
        ],
    );
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "took {took:?}");
    let check = run.only();
    assert_eq!(codes(check), [Code::DnsUnreachable], "{check:#?}");
    let f = finding(check, Code::DnsUnreachable);
    assert!(
        f.message.contains("no DNS server could be reached"),
        "{}",
        f.message
    );
    assert!(f.message.contains("network unreachable"), "{}", f.message);
    assert_eq!(f.evidence["results"][0]["result"], "no_route");
}

#[test]
fn with_several_servers_each_is_asked_and_reported() {
    let knot = Knot::start("127.0.3.5");
    let truth = knot.kdig("www.example.com", "A");
    assert!(truth.contains("status: REFUSED"), "{truth}");
    let mut cmd = command();
    cmd.arg("check");
    let addr = knot.addr();
    let started = Instant::now();
    let run = run_with(
        cmd,
        &[
            "--timeout",
            "10s",
            "--dns-server",
            CLOSED,
            "--dns-server",
            &addr,
            "https://www.example.com/",
            "https://www.interop.test/",
        ],
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    // Knot answers its own names: the closed port beside it changes nothing.
    let check = run.check("https://www.interop.test/");
    assert!(
        !codes(check).iter().any(|c| c.area() == "dns"),
        "{check:#?}"
    );
    // Neither gives an answer for a foreign name: each is named.
    let check = run.check("https://www.example.com/");
    assert_eq!(codes(check), [Code::DnsRefused], "{check:#?}");
    let f = finding(check, Code::DnsRefused);
    assert!(
        f.message.contains("nothing listens on 127.0.3.9:5399"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains(&format!("{addr} refused the query")),
        "{}",
        f.message
    );
}
