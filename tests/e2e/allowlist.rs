//! `reach allowlist`: coverage figures, findings, formats, bad input, hosts
//! and feeds fetched through the pipeline. Every input is written here.

use std::fmt::Write as _;
use std::path::PathBuf;

use reach_report::allowlist::{AllowlistDetails, AllowlistDiffDetails};
use reach_report::{Check, Code, Details, Severity, Status};

use crate::{Run, codes, command, lab, run_with};

struct Files(tempfile::TempDir);

impl Files {
    fn new() -> Files {
        Files(tempfile::tempdir().unwrap())
    }
    fn write(&self, name: &str, text: &str) -> String {
        let path: PathBuf = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }
}

fn allowlist(args: &[&str]) -> Run {
    let mut cmd = command();
    cmd.arg("allowlist")
        .arg("--dns-server")
        .arg(lab().dns.to_string());
    run_with(cmd, args)
}

fn details(check: &Check) -> &AllowlistDetails {
    match &check.details {
        Details::Allowlist(d) => d,
        _ => panic!("no allowlist details: {check:#?}"),
    }
}

#[test]
fn coverage_gaps_and_entry_hygiene() {
    let f = Files::new();
    let published = f.write(
        "published.txt",
        "# vendor ranges\n10.0.0.0/24\n10.0.1.0/24\n10.0.2.7\n2001:db8::/64\n",
    );
    let allow = f.write(
        "allow.txt",
        "10.0.0.0/24\n10.0.0.0/25\n192.168.0.0/16\n12.0.0.0/7\n10.0.2.7\n",
    );
    let run = allowlist(&["--published", &published, "--allowlist", &allow]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let check = &run.report.checks[0];
    assert_eq!(check.status, Status::Fail);
    let found = codes(check);
    for code in [
        Code::AllowlistGap,
        Code::AllowlistOverlyBroad,
        Code::AllowlistStaleEntry,
        Code::AllowlistRedundantEntry,
    ] {
        assert!(found.contains(&code), "{code} missing: {check:#?}");
    }
    let d = details(check);
    assert_eq!(d.ipv4.published, "513");
    assert_eq!(d.ipv4.covered, "257");
    assert_eq!(d.ipv4.uncovered, "256");
    assert!((d.ipv4.coverage_percent - 100.0 * 257.0 / 513.0).abs() < 1e-9);
    // IPv6 counts are exact beyond 64 bits' worth of JSON numbers.
    assert_eq!(d.ipv6.published, "18446744073709551616");
    assert_eq!(d.ipv6.covered, "0");
    assert_eq!(d.uncovered, ["10.0.1.0/24", "2001:db8::/64"]);
    // Stale and redundant entries are named with file:line.
    let stale = check
        .findings
        .iter()
        .find(|f| f.code == Code::AllowlistStaleEntry)
        .unwrap();
    assert!(
        stale.message.contains("allow.txt:3 192.168.0.0/16"),
        "{}",
        stale.message
    );
    assert_eq!(stale.severity, Severity::Info);
    let redundant = check
        .findings
        .iter()
        .find(|f| f.code == Code::AllowlistRedundantEntry)
        .unwrap();
    assert!(
        redundant.message.contains("allow.txt:2 10.0.0.0/25"),
        "{}",
        redundant.message
    );
}

#[test]
fn json_feeds_are_detected_filtered_and_stamped() {
    let f = Files::new();
    let aws = f.write(
        "ip-ranges.json",
        r#"{"syncToken": "1717", "createDate": "2026-01-30-12-00-00",
            "prefixes": [
              {"ip_prefix": "198.51.100.0/24", "region": "eu-west-1", "service": "AMAZON"},
              {"ip_prefix": "203.0.113.0/24", "region": "us-east-1", "service": "AMAZON"},
              {"ip_prefix": "192.0.2.0/24", "region": "eu-west-1", "service": "S3"}],
            "ipv6_prefixes": []}"#,
    );
    let allow = f.write("allow.txt", "198.51.100.0/24\n");
    let run = allowlist(&[
        "--published",
        &aws,
        "--service",
        "amazon",
        "--region",
        "eu-west-1",
        "--allowlist",
        &allow,
    ]);
    let check = &run.report.checks[0];
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    let d = details(check);
    assert_eq!(d.published[0].format, "aws");
    assert_eq!(d.published[0].version.as_deref(), Some("syncToken=1717"));
    assert_eq!(d.published[0].entries, 1);
    assert_eq!(d.ipv4.uncovered, "0");
    assert!((d.ipv4.coverage_percent - 100.0).abs() < f64::EPSILON);

    // Without filters the other regions and services are gaps, by group.
    let run = allowlist(&["--published", &aws, "--allowlist", &allow]);
    let d = details(&run.report.checks[0]);
    let groups: Vec<(Option<&str>, Option<&str>)> = d
        .gaps
        .iter()
        .map(|g| (g.service.as_deref(), g.region.as_deref()))
        .collect();
    assert!(
        groups.contains(&(Some("AMAZON"), Some("us-east-1"))),
        "{groups:?}"
    );
    assert!(
        groups.contains(&(Some("S3"), Some("eu-west-1"))),
        "{groups:?}"
    );
}

#[test]
fn bad_lines_are_all_reported_and_void_the_figures() {
    let f = Files::new();
    let published = f.write(
        "published.txt",
        "10.0.0.0/24\n10.0.0.0/33\nnot an ip\n10.0.1.0/24\n",
    );
    let allow = f.write("allow.txt", "10.0.0.0/24\n300.1.1.1\n");
    let run = allowlist(&["--published", &published, "--allowlist", &allow]);
    assert_eq!(run.code, 2);
    let check = &run.report.checks[0];
    assert_eq!(check.status, Status::Error);
    assert!(
        matches!(check.details, Details::None(_)),
        "no figures from a partial read"
    );
    let messages: Vec<&str> = check.findings.iter().map(|f| f.message.as_str()).collect();
    for (origin, text) in [
        ("published.txt:2", "10.0.0.0/33"),
        ("published.txt:3", "not an ip"),
        ("allow.txt:2", "300.1.1.1"),
    ] {
        assert!(
            messages
                .iter()
                .any(|m| m.contains(origin) && m.contains(text)),
            "{origin} {text} missing from {messages:#?}"
        );
    }

    let run = allowlist(&[
        "--lenient",
        "--published",
        &published,
        "--allowlist",
        &allow,
    ]);
    let check = &run.report.checks[0];
    assert_eq!(details(check).ipv4.published, "512");
    let skipped = check
        .findings
        .iter()
        .filter(|f| f.code == Code::InputInvalid)
        .count();
    assert_eq!(skipped, 3);
    assert!(
        check
            .findings
            .iter()
            .filter(|f| f.code == Code::InputInvalid)
            .all(|f| f.severity == Severity::Warn)
    );
}

#[test]
fn unknown_json_shape_names_the_formats_tried() {
    let f = Files::new();
    let published = f.write("feed.json", r#"{"ranges": ["10.0.0.0/8"]}"#);
    let allow = f.write("allow.txt", "10.0.0.0/8\n");
    let run = allowlist(&["--published", &published, "--allowlist", &allow]);
    assert_eq!(run.code, 2);
    let message = &run.report.checks[0].findings[0].message;
    for name in ["aws", "azure", "gcp", "github", "atlassian"] {
        assert!(message.contains(name), "{message}");
    }
}

#[test]
fn hosts_are_resolved_and_checked() {
    let f = Files::new();
    let published = f.write("published.txt", "127.0.0.0/8\n");
    let v4_only = f.write("allow.txt", "127.0.0.1/32\n");
    // good.lab.test has A 127.0.0.1 and AAAA ::1: the IPv6 address is not covered.
    let run = allowlist(&[
        "--published",
        &published,
        "--allowlist",
        &v4_only,
        "--host",
        "good.lab.test",
    ]);
    let check = &run.report.checks[0];
    let host = check
        .findings
        .iter()
        .find(|f| f.code == Code::AllowlistHostNotCovered)
        .unwrap();
    assert!(
        host.message.contains("::1") && !host.message.contains("127.0.0.1"),
        "{}",
        host.message
    );
    let d = details(check);
    assert_eq!(d.hosts[0].name, "good.lab.test");
    assert_eq!(d.hosts[0].addresses.len(), 2);

    // An FQDN entry covers the name whatever it resolves to.
    let with_fqdn = f.write("allow-fqdn.txt", "127.0.0.1/32\n*.lab.test\n");
    let run = allowlist(&[
        "--published",
        &published,
        "--allowlist",
        &with_fqdn,
        "--host",
        "good.lab.test",
    ]);
    assert!(!codes(&run.report.checks[0]).contains(&Code::AllowlistHostNotCovered));
}

#[test]
fn firewall_rules_with_ports() {
    let f = Files::new();
    let published = f.write("published.txt", "198.51.100.0/24\n203.0.113.0/24\n");
    let rules = f.write(
        "rules.v4",
        "*filter\n:OUTPUT ACCEPT [0:0]\n\
         -A OUTPUT -d 198.51.100.0/24 -p tcp -m tcp --dport 443 -j ACCEPT\n\
         -A OUTPUT -d 203.0.113.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\n\
         COMMIT\n",
    );
    let run = allowlist(&["--published", &published, "--allowlist", &rules]);
    let d = details(&run.report.checks[0]);
    assert_eq!(run.report.checks[0].status, Status::Pass);
    assert_eq!(d.allowlists[0].format, "iptables");
    let run = allowlist(&[
        "--published",
        &published,
        "--allowlist",
        &rules,
        "--port",
        "443",
    ]);
    assert_eq!(details(&run.report.checks[0]).uncovered, ["203.0.113.0/24"]);
}

#[test]
fn a_drop_before_an_accept_is_not_coverage() {
    let f = Files::new();
    let published = f.write("published.txt", "198.51.100.0/24\n");
    // First match wins: the DROP of the upper half stops it before the ACCEPT.
    let rules = f.write(
        "rules.v4",
        "*filter\n:OUTPUT DROP [0:0]\n\
         -A OUTPUT -d 198.51.100.128/25 -j DROP\n\
         -A OUTPUT -d 198.51.100.0/24 -p tcp --dport 443 -j ACCEPT\n\
         COMMIT\n",
    );
    let run = allowlist(&[
        "--published",
        &published,
        "--allowlist",
        &rules,
        "--port",
        "443",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let check = &run.report.checks[0];
    assert_eq!(details(check).uncovered, ["198.51.100.128/25"]);
    let shadow = check
        .findings
        .iter()
        .find(|f| f.code == Code::AllowlistShadowedRule)
        .expect("a shadowed_rule finding");
    assert_eq!(shadow.severity, Severity::Warn);
    assert!(
        shadow.message.contains("rules.v4:4 198.51.100.0/24")
            && shadow.message.contains("line 3")
            && shadow.message.contains("counted: 198.51.100.0/25"),
        "{}",
        shadow.message
    );
}

#[test]
fn feeds_are_fetched_through_the_pipeline() {
    let lab = lab();
    let f = Files::new();
    let allow = f.write("allow.txt", "198.51.100.0/24\n2001:db8:1::/48\n");
    let url = format!("http://good.lab.test:{}/feed/aws.json", lab.http.port());
    let run = allowlist(&[
        "--published",
        &url,
        "--region",
        "eu-west-1",
        "--allowlist",
        &allow,
    ]);
    let check = &run.report.checks[0];
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    assert_eq!(
        details(check).published[0].version.as_deref(),
        Some("syncToken=1700000000")
    );

    // A feed URL that fails gets the pipeline's own finding.
    let refused = format!("http://{}/feed.json", lab.refused);
    let run = allowlist(&["--published", &refused, "--allowlist", &allow]);
    assert!(codes(&run.report.checks[0]).contains(&Code::TcpRefused));
}

#[test]
fn diff_shows_what_the_vendor_changed() {
    let f = Files::new();
    let old = f.write("old.txt", "10.0.0.0/24\n10.0.1.0/24\n");
    let new = f.write("new.txt", "10.0.1.0/24\n10.0.2.0/23\n");
    let allow = f.write("allow.txt", "10.0.2.0/24\n");
    let mut cmd = command();
    cmd.args(["allowlist", "diff"]);
    let run = run_with(cmd, &[&old, &new, "--allowlist", &allow]);
    let check = &run.report.checks[0];
    let Details::AllowlistDiff(d) = &check.details else {
        panic!("{check:#?}")
    };
    let d: &AllowlistDiffDetails = d;
    assert_eq!(d.added, ["10.0.2.0/23"]);
    assert_eq!(d.removed, ["10.0.0.0/24"]);
    assert_eq!(d.added_addresses, "512");
    assert_eq!(
        d.added_uncovered.as_deref(),
        Some(&["10.0.3.0/24".to_owned()][..])
    );
    assert_eq!(codes(check), [Code::AllowlistGap]);
}

#[test]
fn a_filter_that_matches_nothing_is_an_error_not_full_coverage() {
    let f = Files::new();
    let aws = f.write(
        "ip-ranges.json",
        r#"{"syncToken": "1", "createDate": "x",
            "prefixes": [{"ip_prefix": "198.51.100.0/24", "region": "eu-west-1", "service": "AMAZON"}],
            "ipv6_prefixes": []}"#,
    );
    let allow = f.write("allow.txt", "198.51.100.0/24\n");
    let run = allowlist(&[
        "--published",
        &aws,
        "--region",
        "us-eastt-1",
        "--allowlist",
        &allow,
    ]);
    assert_eq!(run.code, 2);
    let check = &run.report.checks[0];
    assert!(
        check.findings[0].message.contains("us-eastt-1"),
        "{check:#?}"
    );

    // --lenient does not turn an unusable input into a pass.
    let broken = f.write("broken.json", "{\"prefixes\": [");
    let run = allowlist(&["--lenient", "--published", &broken, "--allowlist", &allow]);
    assert_eq!(run.code, 2);
    assert_eq!(run.report.checks[0].status, Status::Error);
}

#[test]
fn a_huge_repetitive_allowlist_is_read_in_pieces() {
    // Over 32 MB: read in pieces, each network kept once.
    let f = Files::new();
    let published = f.write("published.txt", "10.0.0.0/16\n");
    let mut text = String::with_capacity(40 * 1024 * 1024);
    while text.len() < 34 * 1024 * 1024 {
        for i in 0..=255 {
            text.push_str("10.0.");
            text.push_str(&i.to_string());
            text.push_str(".0/24\n");
        }
    }
    let lines = text.lines().count();
    let allow = f.write("huge.txt", &text);
    drop(text);
    let run = allowlist(&["--published", &published, "--allowlist", &allow]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let check = &run.report.checks[0];
    let d = details(check);
    assert_eq!(d.allowlists[0].entries, 256, "distinct networks only");
    assert_eq!(d.ipv4.uncovered, "0");
    let repeats = check
        .findings
        .iter()
        .find(|f| f.code == Code::AllowlistRedundantEntry)
        .expect("the repeats are reported");
    assert_eq!(repeats.evidence["repeated_lines"], (lines - 256) as u64);
    assert!(
        repeats.message.contains("huge.txt:257 repeats line 1"),
        "{}",
        repeats.message
    );
}

#[test]
fn rules_that_do_not_admit_tcp_are_listed_not_counted() {
    let f = Files::new();
    let published = f.write("published.txt", "198.51.100.0/24\n203.0.113.0/24\n");
    // Before: the ICMP rule read as accepting every address, 100% covered.
    let rules = f.write(
        "rules.v4",
        "*filter\n:OUTPUT DROP [0:0]\n\
         -A OUTPUT -p icmp -j ACCEPT\n\
         -A OUTPUT -d 203.0.113.0/24 -p udp -m udp --dport 443 -j ACCEPT\n\
         -A OUTPUT -d 203.0.113.0/24 -p tcp -m tcp --dport 22 -j ACCEPT\n\
         -A OUTPUT -d 198.51.100.0/24 -p tcp -m tcp --dport 443 -j ACCEPT\n\
         COMMIT\n",
    );
    let run = allowlist(&[
        "--published",
        &published,
        "--allowlist",
        &rules,
        "--port",
        "443",
    ]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let check = &run.report.checks[0];
    assert_eq!(details(check).uncovered, ["203.0.113.0/24"]);
    let listed = check
        .findings
        .iter()
        .find(|f| f.code == Code::AllowlistRuleNotCounted)
        .expect("a rule_not_counted finding");
    assert_eq!(listed.severity, Severity::Info);
    assert_eq!(listed.evidence["count"], 3);
    let entries: Vec<&str> = listed.evidence["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(
        entries[0].ends_with("rules.v4:3 (chain OUTPUT): it admits only ICMP, not TCP"),
        "{entries:?}"
    );
    assert!(
        entries[1].ends_with("it admits only UDP, not TCP"),
        "{entries:?}"
    );
    assert!(
        entries[2].ends_with("it admits TCP only to port 22, not to port 443"),
        "{entries:?}"
    );
    assert!(listed.message.starts_with("3 accepting rules do not count"));
}

/// A feed with service/region labels: AMAZON and EC2 list the same
/// eu-west-1 range; two IPv6 /48s.
const LABELLED_FEED: &str = r#"{"syncToken": "1700000000", "createDate": "2026-11-01-00-00-00",
  "prefixes": [
    {"ip_prefix": "198.51.100.0/24", "region": "eu-west-1", "service": "AMAZON"},
    {"ip_prefix": "198.51.100.0/24", "region": "eu-west-1", "service": "EC2"},
    {"ip_prefix": "203.0.113.0/24", "region": "us-east-1", "service": "AMAZON"}],
  "ipv6_prefixes": [
    {"ipv6_prefix": "2001:db8:1::/48", "region": "eu-west-1", "service": "AMAZON"},
    {"ipv6_prefix": "2001:db8:2::/48", "region": "eu-west-1", "service": "AMAZON"}]}"#;

/// `reach allowlist` without `--json`: exit code, stdout, stderr.
fn allowlist_text(args: &[&str]) -> (i32, String, String) {
    let output = command()
        .arg("allowlist")
        .args(args)
        .output()
        .expect("reach runs");
    (
        output.status.code().expect("exited"),
        String::from_utf8(output.stdout).expect("UTF-8 output"),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The lines of `text` that are neither comments nor blank.
fn rules(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect()
}

/// The longest run of digits in `text`.
fn longest_number(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_digit())
        .map(str::len)
        .max()
        .unwrap_or(0)
}

#[test]
fn text_lists_every_cidr_to_add_by_group_with_readable_sizes() {
    let f = Files::new();
    let feed = f.write("ip-ranges.json", LABELLED_FEED);
    let allow = f.write("allow.txt", "198.51.100.0/25\n");
    let (code, text, stderr) = allowlist_text(&["--published", &feed, "--allowlist", &allow]);
    assert_eq!(code, 1, "{stderr}");
    // Each group with its count and size, then its CIDRs, all of them.
    let want = "      to add: 4 CIDRs in 3 service/region groups · IPv4 384 addresses · IPv6 2 × /48
        AMAZON eu-west-1: 3 CIDRs · IPv4 128 addresses · IPv6 2 × /48
          198.51.100.128/25
          2001:db8:1::/48
          2001:db8:2::/48
        AMAZON us-east-1: 1 CIDR · IPv4 256 addresses
          203.0.113.0/24
        EC2 eu-west-1: 1 CIDR · IPv4 128 addresses
          198.51.100.128/25
        (the feed lists some ranges under more than one service/region: they are in each of those groups)
";
    assert!(text.contains(want), "{text}");
    // IPv6 counts are readable in text: no 25-digit numbers.
    assert!(
        text.contains("IPv6 0.00% covered (0 of ≈ 2.4 × 10²⁴)"),
        "{text}"
    );
    assert!(longest_number(&text) < 16, "{text}");
    // The report keeps the exact counts.
    let run = allowlist(&["--published", &feed, "--allowlist", &allow]);
    let d = details(&run.report.checks[0]);
    assert_eq!(d.ipv6.uncovered, "2417851639229258349412352");
    assert_eq!(d.gaps[0].addresses, "2417851639229258349412480");

    // -q: the counts per group, no CIDR.
    let (code, quiet, _) = allowlist_text(&["-q", "--published", &feed, "--allowlist", &allow]);
    assert_eq!(code, 1);
    assert!(
        quiet.contains("        AMAZON us-east-1: 1 CIDR · IPv4 256 addresses\n        EC2"),
        "{quiet}"
    );
    assert!(quiet.contains("--emit cidr lists them"), "{quiet}");
    for cidr in [
        "198.51.100.128/25\n",
        "203.0.113.0/24\n",
        "2001:db8:1::/48\n",
    ] {
        assert!(!quiet.contains(cidr), "{cidr} in {quiet}");
    }
}

#[test]
fn text_of_a_feed_without_labels_lists_the_cidrs_in_one_block() {
    let f = Files::new();
    let feed = f.write("feed.txt", "10.0.0.0/24\n10.0.1.0/24\n2001:db8::/64\n");
    let allow = f.write("allow.txt", "10.0.0.0/24\n");
    let (code, text, _) = allowlist_text(&["--published", &feed, "--allowlist", &allow]);
    assert_eq!(code, 1);
    let want = "      to add: 2 CIDRs · IPv4 256 addresses · IPv6 1 × /64
        10.0.1.0/24
        2001:db8::/64
";
    assert!(text.contains(want), "{text}");
}

/// A family the feed publishes nothing of gets no percentage (100% of
/// nothing is no coverage), and one CIDR is one CIDR.
#[test]
fn a_family_with_nothing_published_is_said_so() {
    let f = Files::new();
    let feed = f.write("feed.txt", "10.0.1.0/24\n");
    let allow = f.write("allow.txt", "10.0.0.0/24\n");
    let (code, text, _) = allowlist_text(&["--published", &feed, "--allowlist", &allow]);
    assert_eq!(code, 1);
    assert!(
        text.contains("IPv4 0.00% covered (0 of 256) · IPv6 nothing published"),
        "{text}"
    );
    assert!(text.contains(": 1 CIDR to add"), "{text}");
    assert!(!text.contains("100.00% covered"), "{text}");
}

#[test]
fn emit_writes_the_additions_in_the_firewalls_syntax() {
    let f = Files::new();
    let feed = f.write("ip-ranges.json", LABELLED_FEED);
    let allow = f.write("allow.txt", "198.51.100.0/25\n");
    let base = ["--published", &feed, "--allowlist", &allow];
    let emit = |extra: &[&str]| {
        let (code, out, stderr) = allowlist_text(&[&base[..], extra].concat());
        // The exit code stays the report's: there are gaps.
        assert_eq!(code, 1, "{extra:?}: {stderr}");
        out
    };

    let out = emit(&["--emit", "cidr"]);
    assert_eq!(
        rules(&out),
        [
            "198.51.100.128/25",
            "203.0.113.0/24",
            "2001:db8:1::/48",
            "2001:db8:2::/48"
        ]
    );
    assert!(out.starts_with("# Generated by reach "), "{out}");
    assert!(out.contains("# Feed: "), "{out}");
    assert!(out.contains("\n# AMAZON eu-west-1\n"), "{out}");
    // EC2's range is AMAZON's: written once.
    assert!(
        out.contains("\n# EC2 eu-west-1 (and 1 CIDR listed above)\n"),
        "{out}"
    );

    let out = emit(&["--emit", "iptables", "--port", "443"]);
    assert_eq!(
        rules(&out),
        [
            "-A OUTPUT -d 198.51.100.128/25 -p tcp --dport 443 -j ACCEPT",
            "-A OUTPUT -d 203.0.113.0/24 -p tcp --dport 443 -j ACCEPT",
            "-A OUTPUT -d 2001:db8:1::/48 -p tcp --dport 443 -j ACCEPT",
            "-A OUTPUT -d 2001:db8:2::/48 -p tcp --dport 443 -j ACCEPT",
        ]
    );
    let (v4, v6) = out.split_once("# IPv6: 2 CIDRs, for ip6tables\n").unwrap();
    assert!(
        v4.contains("# IPv4: 2 CIDRs, for iptables\n") && !v4.contains("2001:"),
        "{out}"
    );
    assert!(!v6.contains("198.51."), "{out}");

    let out = emit(&["--emit", "iptables", "--direction", "ingress"]);
    assert_eq!(
        rules(&out)[0],
        "-A INPUT -s 198.51.100.128/25 -p tcp -j ACCEPT"
    );
    assert!(out.contains("\n# Port: none given (--port): the rules match TCP to every port\n"));

    let out = emit(&["--emit", "nft", "--port", "443"]);
    assert_eq!(
        rules(&out),
        [
            "add rule inet filter output ip daddr 198.51.100.128/25 tcp dport 443 accept",
            "add rule inet filter output ip daddr 203.0.113.0/24 tcp dport 443 accept",
            "add rule inet filter output ip6 daddr 2001:db8:1::/48 tcp dport 443 accept",
            "add rule inet filter output ip6 daddr 2001:db8:2::/48 tcp dport 443 accept",
        ]
    );
    let out = emit(&["--emit", "nft", "--port", "443", "--direction", "ingress"]);
    assert_eq!(
        rules(&out)[2],
        "add rule inet filter input ip6 saddr 2001:db8:1::/48 tcp dport 443 accept"
    );
}

#[test]
fn emit_aws_sg_is_ip_permissions_json_and_o_takes_it() {
    let f = Files::new();
    let feed = f.write("ip-ranges.json", LABELLED_FEED);
    let allow = f.write("allow.txt", "198.51.100.0/25\n");
    let base = ["--published", &feed, "--allowlist", &allow];
    let emit = |extra: &[&str]| {
        let (code, out, stderr) = allowlist_text(&[&base[..], extra].concat());
        assert_eq!(code, 1, "{extra:?}: {stderr}");
        out
    };
    let out = emit(&["--emit", "aws-sg", "--port", "443"]);
    let permissions: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let p = &permissions[0];
    assert_eq!(permissions.as_array().unwrap().len(), 1, "{out}");
    assert_eq!(
        (
            p["IpProtocol"].as_str(),
            p["FromPort"].as_u64(),
            p["ToPort"].as_u64()
        ),
        (Some("tcp"), Some(443), Some(443))
    );
    let ranges: Vec<(&str, &str)> = p["IpRanges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["CidrIp"].as_str().unwrap(),
                r["Description"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(ranges.len(), 2, "{out}");
    assert_eq!(ranges[0].0, "198.51.100.128/25");
    assert!(
        ranges[0]
            .1
            .starts_with("AMAZON eu-west-1 - added by reach "),
        "{out}"
    );
    assert_eq!(ranges[1].0, "203.0.113.0/24");
    let v6: Vec<&str> = p["Ipv6Ranges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["CidrIpv6"].as_str().unwrap())
        .collect();
    assert_eq!(v6, ["2001:db8:1::/48", "2001:db8:2::/48"]);

    assert!(!stderr_of_quota(&f, 60).contains("note:"));
    assert!(
        stderr_of_quota(&f, 61).contains("note: 61 IPv4 ranges to add: a security group holds 60"),
        "{}",
        stderr_of_quota(&f, 61)
    );

    // -o takes the rules instead of the report.
    let path = f.0.path().join("add.rules");
    let out = emit(&["--emit", "cidr", "-o", path.to_str().unwrap()]);
    assert!(out.is_empty(), "{out}");
    let written = std::fs::read_to_string(&path).unwrap();
    assert_eq!(rules(&written).len(), 4, "{written}");
}

/// `--emit aws-sg`'s stderr for `n` uncovered IPv4 addresses (non-adjacent:
/// one range each).
fn stderr_of_quota(f: &Files, n: u32) -> String {
    let feed = (0..n).fold(String::new(), |mut feed, i| {
        let _ = writeln!(feed, "10.0.{i}.1");
        feed
    });
    let feed = f.write(&format!("quota{n}.txt"), &feed);
    let allow = f.write("quota-allow.txt", "192.0.2.0/24\n");
    let (code, _, stderr) = allowlist_text(&[
        "--published",
        &feed,
        "--allowlist",
        &allow,
        "--emit",
        "aws-sg",
    ]);
    assert_eq!(code, 1, "{stderr}");
    stderr
}

#[test]
fn emitted_rules_close_the_gaps_once_applied() {
    let f = Files::new();
    let feed = f.write("ip-ranges.json", LABELLED_FEED);
    let allow = f.write("allow.txt", "198.51.100.0/25\n");
    let base = ["--published", &feed, "--allowlist", &allow, "--port", "443"];
    // iptables: the IPv4 block into an iptables-save file, the IPv6 block
    // into an ip6tables-save one, next to the old list.
    let (_, out, _) = allowlist_text(&[&base[..], &["--emit", "iptables"]].concat());
    let (v4, v6) = out.split_once("# IPv6").unwrap();
    let save = |rules: &str| format!("*filter\n:OUTPUT DROP [0:0]\n{rules}\nCOMMIT\n");
    let v4 = f.write("v4.rules", &save(v4));
    let v6 = f.write("v6.rules", &save(&format!("# IPv6{v6}")));
    let run = allowlist(&[&base[..], &["--allowlist", &v4, "--allowlist", &v6]].concat());
    let check = &run.report.checks[0];
    assert_eq!(check.status, Status::Pass, "{check:#?}");
    assert_eq!(details(check).uncovered, Vec::<String>::new());

    // aws-sg: the permissions as a security group's egress.
    let (_, out, _) = allowlist_text(&[&base[..], &["--emit", "aws-sg"]].concat());
    let group = format!(
        r#"{{"SecurityGroups": [{{"GroupId": "sg-1", "IpPermissions": [], "IpPermissionsEgress": {out}}}]}}"#
    );
    let sg = f.write("sg.json", &group);
    let run = allowlist(&[&base[..], &["--allowlist", &sg]].concat());
    let check = &run.report.checks[0];
    assert_eq!(check.status, Status::Pass, "{check:#?}");
}

#[test]
fn diff_emits_the_added_ranges_the_allowlist_does_not_cover() {
    let f = Files::new();
    let old = f.write("old.txt", "10.0.0.0/24\n");
    let new = f.write("new.txt", "10.0.0.0/24\n10.0.2.0/23\n2001:db8::/48\n");
    let allow = f.write("allow.txt", "10.0.2.0/24\n");
    let output = command()
        .args(["allowlist", "diff", &old, &new, "--allowlist", &allow])
        .args(["--emit", "iptables", "--port", "443"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let out = String::from_utf8(output.stdout).unwrap();
    assert_eq!(
        rules(&out),
        [
            "-A OUTPUT -d 10.0.3.0/24 -p tcp --dport 443 -j ACCEPT",
            "-A OUTPUT -d 2001:db8::/48 -p tcp --dport 443 -j ACCEPT",
        ]
    );
    assert!(out.contains("old.txt (cidr) → "), "{out}");
    // The text lists them too, with readable sizes.
    let (code, text, _) = allowlist_text(&["diff", &old, &new, "--allowlist", &allow]);
    assert_eq!(code, 1);
    let want = "      to add: 2 CIDRs added and not covered · IPv4 256 addresses · IPv6 1 × /48
        10.0.3.0/24
        2001:db8::/48
";
    assert!(text.contains(want), "{text}");
    assert!(
        text.contains("2 added (IPv4 512 addresses · IPv6 1 × /48) · 0 removed"),
        "{text}"
    );
}

#[test]
fn emit_and_a_report_format_ask_for_different_outputs() {
    let f = Files::new();
    let feed = f.write("feed.txt", "10.0.0.0/24\n");
    let allow = f.write("allow.txt", "10.0.0.0/24\n");
    for format in [&["--json"][..], &["--format", "md"]] {
        let (code, out, stderr) = allowlist_text(
            &[
                &["--published", &feed, "--allowlist", &allow, "--emit", "nft"][..],
                format,
            ]
            .concat(),
        );
        assert_eq!(code, 2, "{format:?}: {out}");
        assert!(stderr.contains("--emit"), "{stderr}");
    }
    // Covered: nothing to add, said in a comment; exit 0.
    let (code, out, _) =
        allowlist_text(&["--published", &feed, "--allowlist", &allow, "--emit", "nft"]);
    assert_eq!(code, 0);
    assert!(rules(&out).is_empty(), "{out}");
    assert!(out.contains("# Nothing to add"), "{out}");
    // No coverage computed (a line that does not parse): no rules at all,
    // not even an empty -o file; stderr says why, exit 2.
    let bad = f.write("bad.txt", "10.0.0.0/24\nnot a cidr\n");
    let path = f.0.path().join("add.rules");
    let (code, out, stderr) =
        allowlist_text(&["--published", &bad, "--allowlist", &allow, "--emit", "cidr"]);
    assert_eq!((code, out.as_str()), (2, ""), "{stderr}");
    assert!(stderr.contains("bad.txt:2"), "{stderr}");
    let (code, _, _) = allowlist_text(&[
        "--published",
        &bad,
        "--allowlist",
        &allow,
        "--emit",
        "cidr",
        "-o",
        path.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(!path.exists());
}
