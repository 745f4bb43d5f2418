use super::*;
#[test]
fn the_start_of_a_file_tells_its_format() {
    // One line, cut long before its end: JSON by its first character.
    let nft = "{\"nftables\": [{\"metainfo\": {\"version\": \"1.0.6\"}}, {\"rule\"";
    assert_eq!(detect_start(nft), Some(AllowlistFormat::NftJson));
    let sg = "\u{feff}  {\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPerm";
    assert_eq!(detect_start(sg), Some(AllowlistFormat::AwsSg));
    assert_eq!(detect_start("[{\"GroupId\":"), Some(AllowlistFormat::AwsSg));
    assert_eq!(detect_start("{\"other\": 1"), None);
    // The first 4 KiB may end inside a character.
    let long = format!("{{\"SecurityGroups\": [\"{}é", " ".repeat(4074));
    assert_eq!(detect_start(&long), Some(AllowlistFormat::AwsSg));
    assert_eq!(
        detect_start("*filter\n:INPUT ACCEPT [0:0]\n-A INP"),
        Some(AllowlistFormat::Iptables)
    );
    assert_eq!(
        detect_start("10.0.0.0/8\n192.0.2.0/24\n-A cut"),
        Some(AllowlistFormat::Cidr)
    );
}

const IPTABLES: &str = include_str!("../../tests/data/iptables-save.txt");
const NFT: &str = include_str!("../../tests/data/nft-ruleset.json");
const SG: &str = include_str!("../../tests/data/aws-sg.json");

fn show(list: &Allowlist) -> Vec<String> {
    list.entries
        .iter()
        .map(|e| {
            let target = e.net.to_string();
            let rule = list.rule(e.rule);
            let ports = rule.ports.as_ref().map_or("*".to_owned(), |ps| {
                ps.iter()
                    .map(|p| {
                        if p.first == p.last {
                            p.first.to_string()
                        } else {
                            format!("{}-{}", p.first, p.last)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(",")
            });
            format!(
                "{} {} {} @{}",
                target,
                rule.protocol.as_deref().unwrap_or("any"),
                ports,
                e.at.line
            )
        })
        .collect()
}

#[test]
fn detects_formats() {
    assert_eq!(detect(IPTABLES), Some(AllowlistFormat::Iptables));
    assert_eq!(detect(NFT), Some(AllowlistFormat::NftJson));
    assert_eq!(detect(SG), Some(AllowlistFormat::AwsSg));
    assert_eq!(
        detect("[{\"GroupId\": \"sg-1\"}]"),
        Some(AllowlistFormat::AwsSg)
    );
    assert_eq!(
        detect("10.0.0.0/8\n::1\n*.example.com\n"),
        Some(AllowlistFormat::Cidr)
    );
    assert_eq!(detect("::/0\n"), Some(AllowlistFormat::Cidr));
    let late = format!(
        "{}-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\n",
        "10.0.0.0/8\n".repeat(40)
    );
    assert_eq!(detect(&late), Some(AllowlistFormat::Cidr));
    let (_, errors) = crate::text::parse_cidr_allowlist("a", &late);
    assert!(errors[0].reason.contains("iptables"), "{errors:?}");
    assert_eq!(detect("{\"x\": 1}"), None);
    assert_eq!(detect("{\"nftables\": ["), None);
}

/// `line: reason` of each rule that does not count.
fn skipped(list: &Allowlist) -> Vec<String> {
    list.not_counted
        .iter()
        .map(|n| format!("{}: {}", n.at.line, n.reason))
        .collect()
}

fn shadows(list: &Allowlist) -> Vec<String> {
    list.shadowed
        .iter()
        .map(|s| {
            let counted: Vec<String> = s.counted.iter().map(ToString::to_string).collect();
            format!(
                "{} @{} by {:?}: {}",
                s.net,
                s.at.line,
                s.by,
                counted.join(" ")
            )
        })
        .collect()
}

#[test]
fn earlier_blocks_override_later_accepts() {
    let input = "*filter\n\
                 -A OUTPUT -d 10.1.0.0/16 -j ACCEPT\n\
                 -A OUTPUT -d 10.0.0.0/8 -j DROP\n\
                 -A OUTPUT -d 10.0.0.0/8 -p tcp --dport 443 -j ACCEPT\n\
                 -A OUTPUT -d 192.0.2.0/24 -p tcp --dport 25 -j REJECT\n\
                 -A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n\
                 -A OUTPUT ! -d 198.51.100.0/24 -j DROP\n\
                 -A OUTPUT -d 198.51.100.128/25 -j ACCEPT\n\
                 -A OUTPUT -d 203.0.113.0/24 -j ACCEPT\n\
                 -A OTHER -d 10.0.0.0/8 -j ACCEPT\n\
                 -A OUTPUT -o lo -j DROP\n\
                 -A OUTPUT -m state --state INVALID -j DROP\n\
                 -A OUTPUT -d 10.0.0.0/8 -j DROP\n\
                 COMMIT\n";
    // Without a port: the DROP of 10/8 (line 3) leaves nothing of the
    // 10/8 accept on line 4; the port-25 REJECT does not block every
    // port; `! -d 198.51.100.0/24 -j DROP` blocks everything else, so
    // line 9 counts nothing; another chain is not affected, and neither
    // is an accept before the block.
    let list = parse_allowlist_rules(
        "r",
        input,
        Some(AllowlistFormat::Iptables),
        Direction::Egress,
        None,
    )
    .unwrap();
    assert_eq!(
        show(&list),
        [
            "10.1.0.0/16 any * @2",
            "192.0.2.0/24 any * @6",
            "198.51.100.128/25 any * @8",
        ]
    );
    // A user chain's rules count only through jumps, which reach does
    // not follow.
    assert_eq!(
        skipped(&list),
        ["10: it is in chain OTHER, which only jumps reach (reach does not follow jumps)"]
    );
    assert_eq!(
        shadows(&list),
        ["10.0.0.0/8 @4 by [3]: ", "203.0.113.0/24 @9 by [7]: ",]
    );
    // For TCP port 25 the REJECT applies too.
    let list = parse_allowlist_rules(
        "r",
        input,
        Some(AllowlistFormat::Iptables),
        Direction::Egress,
        Some(25),
    )
    .unwrap();
    assert!(
        shadows(&list).contains(&"192.0.2.0/24 @6 by [5]: ".to_owned()),
        "{:?}",
        shadows(&list)
    );
    // A block that leaves part of an accept: the rest counts.
    let input = "-A OUTPUT -d 10.0.0.0/9 -j DROP\n-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\n";
    let list = parse_allowlist_rules(
        "r",
        input,
        Some(AllowlistFormat::Iptables),
        Direction::Egress,
        None,
    )
    .unwrap();
    assert_eq!(show(&list), ["10.128.0.0/9 any * @2"]);
    assert_eq!(shadows(&list), ["10.0.0.0/8 @2 by [1]: 10.128.0.0/9"]);
}

/// One rule set, the port asked about, what counts, and the reasons
/// of the rules that do not.
type Case<'a> = (&'a str, Option<u16>, &'a [&'a str], &'a [&'a str]);

#[track_caller]
fn check_cases(format: AllowlistFormat, cases: &[Case<'_>]) {
    for &(input, port, counted, reasons) in cases {
        let list = parse_allowlist_rules("r", input, Some(format), Direction::Egress, port)
            .unwrap_or_else(|e| panic!("{input}: {e:?}"));
        assert_eq!(show(&list), counted, "{input} (port {port:?})");
        let got = skipped(&list);
        assert_eq!(got.len(), reasons.len(), "{input}: {got:?}");
        for (got, want) in got.iter().zip(reasons) {
            assert!(got.contains(want), "{input}: `{got}` lacks `{want}`");
        }
    }
}

/// The iptables-save files of the iptables cases: one rule set each in
/// `OUTPUT` of an IPv4 `*filter`.
fn ipt_inputs() -> Vec<String> {
    let v4 = "# Generated by iptables-save\n*filter\n:OUTPUT DROP [0:0]\n";
    let case = |rules: &str| format!("{v4}{rules}COMMIT\n");
    [
        "-A OUTPUT -p icmp -j ACCEPT\n",
        "-A OUTPUT -p udp -m udp --dport 443 -j ACCEPT\n",
        "-A OUTPUT -p tcp -m tcp --dport 22 -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -p tcp -m tcp --dport 443 -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -p all -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 ! -p udp -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 ! -p tcp -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -p tcp -m multiport --dports 80,400:500 -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -p tcp -m tcp --dport 1000:2000 -j ACCEPT\n",
        "-A OUTPUT -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -m conntrack ! --ctstate NEW -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -m conntrack --ctstate NEW,ESTABLISHED -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -o eth0 -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 ! -o lo -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -m owner --uid-owner 1000 -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -p tcp --syn -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -m set --match-set vendor dst -j ACCEPT\n",
        "[5:300] -A OUTPUT -d 192.0.2.0/24 -m comment --comment \"vendor\" -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/24 -j LOG --log-prefix \"out \"\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
        // A DROP whose match reach does not read still blocks (wider).
        "-A OUTPUT -m owner --uid-owner 0 -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
        // A UDP DROP does not stop TCP; a TCP one does.
        "-A OUTPUT -p udp -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
        "-A OUTPUT ! -p udp -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
        // Invalid-only and loopback DROPs never meet the traffic.
        "-A OUTPUT -m conntrack --ctstate INVALID -j DROP\n-A OUTPUT -o lo -j DROP\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
        // A jump to a chain that may drop blocks later rules; to one
        // that only accepts, it does not.
        ":CHK - [0:0]\n-A OUTPUT -j CHK\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n-A CHK -d 192.0.2.128/25 -j DROP\n",
        ":OK - [0:0]\n-A OUTPUT -j OK\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n-A OK -d 192.0.2.128/25 -j ACCEPT\n",
        "-A OUTPUT -j NFQUEUE --queue-num 1\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
        "-A OUTPUT -d 192.0.2.0/25 -j RETURN\n-A OUTPUT -d 192.0.2.0/24 -j ACCEPT\n",
    ]
    .iter()
    .map(|r| case(r))
    .collect()
}

#[test]
fn iptables_counts_only_what_admits_tcp() {
    let inputs = ipt_inputs();
    let any = "192.0.2.0/24 any * @4";
    let cases: &[Case<'_>] = &[
        (&inputs[0], None, &[], &["4: it admits only ICMP, not TCP"]),
        (
            &inputs[1],
            Some(443),
            &[],
            &["4: it admits only UDP, not TCP"],
        ),
        (
            &inputs[2],
            Some(443),
            &[],
            &["4: it admits TCP only to port 22, not to port 443"],
        ),
        (&inputs[2], None, &["0.0.0.0/0 tcp 22 @4"], &[]),
        (&inputs[3], Some(443), &["192.0.2.0/24 tcp 443 @4"], &[]),
        (
            &inputs[3],
            Some(80),
            &[],
            &["only to port 443, not to port 80"],
        ),
        (&inputs[4], Some(443), &[any], &[]),
        (&inputs[5], Some(443), &[any], &[]),
        (
            &inputs[6],
            Some(443),
            &[],
            &["it admits every protocol except TCP"],
        ),
        (
            &inputs[7],
            Some(443),
            &["192.0.2.0/24 tcp 80,400-500 @4"],
            &[],
        ),
        (
            &inputs[7],
            Some(22),
            &[],
            &["only to port 80 or 400-500, not to port 22"],
        ),
        (
            &inputs[8],
            Some(1500),
            &["192.0.2.0/24 tcp 1000-2000 @4"],
            &[],
        ),
    ];
    check_cases(AllowlistFormat::Iptables, cases);
}

#[test]
fn iptables_states_interfaces_modules_and_blocks() {
    let inputs = ipt_inputs();
    let any = "192.0.2.0/24 any * @4";
    let cases: &[Case<'_>] = &[
        (&inputs[9], None, &[], &["not new ones"]),
        (&inputs[10], None, &[], &["not new ones"]),
        (&inputs[11], None, &[any], &[]),
        (&inputs[12], None, &[], &["interface eth0"]),
        (&inputs[13], None, &[any], &[]),
        (&inputs[14], None, &[], &["the `owner` match module"]),
        (&inputs[15], None, &[], &["`--syn`"]),
        (&inputs[16], None, &[], &["the `set` match module"]),
        (&inputs[17], None, &[any], &[]),
        (&inputs[18], None, &["192.0.2.0/24 any * @5"], &[]),
        (&inputs[19], None, &[], &[]),
        (&inputs[20], Some(443), &["192.0.2.0/24 any * @5"], &[]),
        (&inputs[21], Some(443), &[], &[]),
        (&inputs[22], Some(443), &["192.0.2.0/24 any * @6"], &[]),
        // Without following the jump, all it may drop is subtracted.
        (&inputs[23], None, &[], &[]),
        (&inputs[24], None, &["192.0.2.0/24 any * @6"], &["chain OK"]),
        (&inputs[25], None, &[], &[]),
        (&inputs[26], None, &["192.0.2.128/25 any * @5"], &[]),
    ];
    check_cases(AllowlistFormat::Iptables, cases);
}

/// One rule a line, in `inet t out` (hook output), after a set `allowed`
/// of 192.0.2.0/24 and a regular chain `side`; `side|…` puts a rule in
/// `side`.
fn nft_ruleset(rules: &[&str]) -> String {
    use std::fmt::Write as _;
    let mut out = String::from(
        "{\"nftables\": [\n\
         {\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"out\", \"type\": \"filter\", \"hook\": \"output\", \"policy\": \"drop\"}},\n\
         {\"chain\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"side\"}},\n\
         {\"set\": {\"family\": \"inet\", \"table\": \"t\", \"name\": \"allowed\", \"type\": \"ipv4_addr\", \"flags\": [\"interval\"], \"elem\": [{\"prefix\": {\"addr\": \"192.0.2.0\", \"len\": 24}}]}}",
    );
    for (i, r) in rules.iter().enumerate() {
        let (chain, expr) = r.split_once('|').unwrap_or(("out", r));
        let _ = write!(
            out,
            ",\n{{\"rule\": {{\"family\": \"inet\", \"table\": \"t\", \"chain\": \"{chain}\", \"handle\": {}, \"expr\": [{expr}]}}}}",
            i + 10
        );
    }
    out.push_str("\n]}\n");
    out
}

const DADDR: &str = r#"{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.2.0", "len": 24}}}}"#;
const ACCEPT: &str = r#"{"accept": null}"#;
const DROP: &str = r#"{"drop": null}"#;

/// A `==` match expression.
fn nft_m(left: &str, right: &str) -> String {
    format!(r#"{{"match": {{"op": "==", "left": {left}, "right": {right}}}}}"#)
}

fn nft_l4(p: &str) -> String {
    nft_m(r#"{"meta": {"key": "l4proto"}}"#, &format!("\"{p}\""))
}

fn nft_dport(p: &str, n: &str) -> String {
    nft_m(
        &format!(r#"{{"payload": {{"protocol": "{p}", "field": "dport"}}}}"#),
        n,
    )
}

fn nft_rule(parts: &[&str]) -> String {
    parts.join(", ")
}

/// `192.0.2.0/24` to TCP 443, with a counter.
fn nft_tcp443() -> String {
    let counter = r#"{"counter": {"packets": 3, "bytes": 180}}"#;
    nft_rule(&[DADDR, &nft_dport("tcp", "443"), counter, ACCEPT])
}

#[test]
fn nft_counts_only_what_admits_tcp() {
    let icmpv6 = nft_rule(&[
        &nft_m(
            r#"{"payload": {"protocol": "icmpv6", "field": "type"}}"#,
            r#"{"set": ["nd-neighbor-solicit", "nd-neighbor-advert"]}"#,
        ),
        ACCEPT,
    ]);
    let l4icmp = nft_rule(&[&nft_l4("icmp"), ACCEPT]);
    let udp443 = nft_rule(&[DADDR, &nft_dport("udp", "443"), ACCEPT]);
    let tcp22 = nft_rule(&[DADDR, &nft_dport("tcp", "22"), ACCEPT]);
    let th443 = nft_rule(&[DADDR, &nft_dport("th", "443"), ACCEPT]);
    let l4set = nft_rule(&[
        DADDR,
        &nft_m(
            r#"{"meta": {"key": "l4proto"}}"#,
            r#"{"set": ["tcp", "udp"]}"#,
        ),
        ACCEPT,
    ]);
    let established = nft_rule(&[
        &nft_m(
            r#"{"ct": {"key": "state"}}"#,
            r#"["established", "related"]"#,
        ),
        ACCEPT,
    ]);
    let new_state = nft_rule(&[
        DADDR,
        &nft_m(r#"{"ct": {"key": "state"}}"#, r#""new""#),
        ACCEPT,
    ]);
    let oif = nft_rule(&[
        DADDR,
        &nft_m(r#"{"meta": {"key": "oifname"}}"#, r#""eth9""#),
        ACCEPT,
    ]);
    let inputs = [
        nft_ruleset(&[&icmpv6]),
        nft_ruleset(&[&l4icmp]),
        nft_ruleset(&[&udp443]),
        nft_ruleset(&[&tcp22]),
        nft_ruleset(&[&nft_tcp443()]),
        nft_ruleset(&[&th443]),
        nft_ruleset(&[&l4set]),
        nft_ruleset(&[&established]),
        nft_ruleset(&[&new_state]),
        nft_ruleset(&[&oif]),
    ];
    let cases: &[Case<'_>] = &[
        (
            &inputs[0],
            None,
            &[],
            &["5: it admits only ICMPv6, not TCP"],
        ),
        (&inputs[1], None, &[], &["5: it admits only ICMP, not TCP"]),
        (&inputs[2], Some(443), &[], &["it admits only UDP, not TCP"]),
        (
            &inputs[3],
            Some(443),
            &[],
            &["only to port 22, not to port 443"],
        ),
        (&inputs[3], None, &["192.0.2.0/24 tcp 22 @5"], &[]),
        (&inputs[4], Some(443), &["192.0.2.0/24 tcp 443 @5"], &[]),
        (&inputs[5], Some(443), &["192.0.2.0/24 any 443 @5"], &[]),
        (&inputs[6], Some(443), &["192.0.2.0/24 tcp * @5"], &[]),
        (&inputs[7], None, &[], &["not new ones"]),
        (&inputs[8], None, &["192.0.2.0/24 any * @5"], &[]),
        (&inputs[9], None, &[], &["interface eth9"]),
    ];
    check_cases(AllowlistFormat::NftJson, cases);
}

#[test]
fn nft_unevaluated_matches_blocks_and_jumps() {
    let named = nft_rule(&[
        &nft_m(
            r#"{"payload": {"protocol": "ip", "field": "daddr"}}"#,
            r#""@allowed""#,
        ),
        &nft_dport("tcp", "443"),
        ACCEPT,
    ]);
    let mark = nft_rule(&[DADDR, &nft_m(r#"{"meta": {"key": "mark"}}"#, "1"), ACCEPT]);
    let limit = nft_rule(&[DADDR, r#"{"limit": {"rate": 10, "per": "second"}}"#, ACCEPT]);
    let sport = nft_rule(&[
        DADDR,
        &nft_m(
            r#"{"payload": {"protocol": "tcp", "field": "sport"}}"#,
            "1000",
        ),
        ACCEPT,
    ]);
    let tcp443 = nft_tcp443();
    let jump = r#"{"jump": {"target": "side"}}"#;
    let side_drop = format!(
        "side|{}",
        nft_rule(&[
            &nft_m(
                r#"{"payload": {"protocol": "ip", "field": "daddr"}}"#,
                r#""192.0.2.7""#
            ),
            DROP
        ])
    );
    let side_accept = format!("side|{}", nft_rule(&[DADDR, ACCEPT]));
    let vmap_state = r#"{"vmap": {"key": {"ct": {"key": "state"}}, "data": {"set": [["established", {"accept": null}], ["invalid", {"drop": null}]]}}}"#;
    let vmap_drop = r#"{"vmap": {"key": {"meta": {"key": "l4proto"}}, "data": {"set": [["tcp", {"drop": null}]]}}}"#;
    let mark_drop = nft_rule(&[&nft_m(r#"{"meta": {"key": "mark"}}"#, "1"), DROP]);
    let udp_drop = nft_rule(&[&nft_l4("udp"), DROP]);
    let invalid_drop = nft_rule(&[&nft_m(r#"{"ct": {"key": "state"}}"#, r#""invalid""#), DROP]);
    let inputs = [
        nft_ruleset(&[&named]),
        nft_ruleset(&[&mark]),
        nft_ruleset(&[&limit]),
        nft_ruleset(&[&sport]),
        nft_ruleset(&[jump, &tcp443, &side_drop]),
        nft_ruleset(&[jump, &tcp443, &side_accept]),
        nft_ruleset(&[vmap_state, &tcp443]),
        nft_ruleset(&[vmap_drop, &tcp443]),
        nft_ruleset(&[&mark_drop, &tcp443]),
        nft_ruleset(&[&udp_drop, &invalid_drop, &tcp443]),
    ];
    let at = |line: usize| format!("192.0.2.0/24 tcp 443 @{line}");
    let (l6, l7) = (at(6), at(7));
    let cases: &[Case<'_>] = &[
        // The set element's own line.
        (&inputs[0], Some(443), &["192.0.2.0/24 tcp 443 @4"], &[]),
        (&inputs[1], None, &[], &["`meta mark`"]),
        (&inputs[2], None, &[], &["`limit` statement"]),
        (&inputs[3], None, &[], &["`tcp sport`"]),
        // A jump to a chain that may drop: nothing after it counts
        // (reach does not follow it); the chain's own rules do not
        // count either.
        (&inputs[4], Some(443), &[], &[]),
        (&inputs[5], Some(443), &[&l6], &["7: it is in chain side"]),
        (&inputs[6], Some(443), &[&l6], &[]),
        (&inputs[7], Some(443), &[], &[]),
        (&inputs[8], Some(443), &[], &[]),
        (&inputs[9], Some(443), &[&l7], &[]),
    ];
    check_cases(AllowlistFormat::NftJson, cases);
}

#[test]
fn inserted_rules_take_their_place() {
    // `-I OUTPUT` puts the DROP first, above the earlier ACCEPT;
    // `-I OUTPUT 2` puts the second ACCEPT above the DROP... which is
    // then at position 1, so the ACCEPT at position 2 is still behind it.
    let input = "-A OUTPUT -d 10.0.0.0/8 -j ACCEPT\n\
                 -I OUTPUT -d 10.0.0.0/16 -j DROP\n\
                 -I OUTPUT 1 -d 10.0.1.0/24 -j ACCEPT\n";
    let list = parse_allowlist_rules(
        "r",
        input,
        Some(AllowlistFormat::Iptables),
        Direction::Egress,
        None,
    )
    .unwrap();
    let mut got = show(&list);
    got.sort();
    assert_eq!(
        got,
        [
            "10.0.1.0/24 any * @3",
            "10.1.0.0/16 any * @1",
            "10.128.0.0/9 any * @1",
            "10.16.0.0/12 any * @1",
            "10.2.0.0/15 any * @1",
            "10.32.0.0/11 any * @1",
            "10.4.0.0/14 any * @1",
            "10.64.0.0/10 any * @1",
            "10.8.0.0/13 any * @1",
        ]
    );
    assert_eq!(list.shadowed.len(), 1);
    assert_eq!(list.shadowed[0].by, [2]);
}

#[test]
fn nft_drops_override_later_accepts() {
    let input = r#"{"nftables": [
  {"chain": {"family": "inet", "table": "fw", "name": "out", "type": "filter", "hook": "output"}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 9}}}},
{"drop": null}]}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}},
{"accept": null}]}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
{"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "192.0.2.0/24"}},
{"reject": null}]}},
  {"rule": {"family": "inet", "table": "fw", "chain": "out", "expr": [
{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "192.0.0.0", "len": 16}}}},
{"accept": null}]}}
]}"#;
    let list = parse_allowlist_rules("n", input, None, Direction::Egress, None).unwrap();
    assert_eq!(
        show(&list),
        ["10.128.0.0/9 any * @7", "192.0.2.0/24 any * @13"]
    );
    assert_eq!(
        shadows(&list),
        [
            "10.0.0.0/8 @7 by [3]: 10.128.0.0/9",
            "192.0.0.0/16 @13 by [9]: 192.0.2.0/24"
        ]
    );
}

#[test]
fn iptables_egress() {
    let list = parse_allowlist_rules("rules.v4", IPTABLES, None, Direction::Egress, None).unwrap();
    assert_eq!(list.format, AllowlistFormat::Iptables);
    assert_eq!(
        show(&list),
        [
            "192.0.2.0/24 tcp 443 @11",
            "198.51.100.0/25 tcp 80,443,8000-8080 @12",
            "198.51.100.128/25 tcp 80,443,8000-8080 @12",
            "2001:db8:1::/48 tcp 443 @30",
            "::/0 tcp 0-24,26-65535 @31",
        ]
    );
    assert_eq!(
        skipped(&list),
        [
            "10: it applies only to the loopback interface",
            "13: it admits only UDP, not TCP",
            "14: it accepts every address except some; reach counts only rules that name the addresses they admit",
            "15: it also matches this machine's own address (`-s 198.51.100.10/32`), which reach cannot check",
            "16: it admits only established or related connections, not new ones",
            "18: it is in chain VENDOR, which only jumps reach (reach does not follow jumps)",
            "28: it admits every protocol except TCP",
        ]
    );
}

#[test]
fn iptables_ingress() {
    let list = parse_allowlist_rules("rules.v4", IPTABLES, None, Direction::Ingress, None).unwrap();
    assert_eq!(
        show(&list),
        ["203.0.113.0/24 tcp 22 @8", "2001:db8:2::/48 tcp 443 @29",]
    );
    assert_eq!(
        skipped(&list),
        [
            "7: it applies only to the loopback interface",
            "9: it admits only established or related connections, not new ones",
            "15: it also matches this machine's own address (`-d 203.0.113.0/24`), which reach cannot check",
            "18: it is in chain VENDOR, which only jumps reach (reach does not follow jumps)",
            "27: it admits only ICMPv6, not TCP",
        ]
    );
}

#[test]
fn iptables_errors_with_lines() {
    let input = "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -d 10.0.0.300/32 -j ACCEPT\n-A OUTPUT -p tcp --dport 70000 -j ACCEPT\n-A\n-A OUTPUT -m comment --comment \"open -j ACCEPT\nbogus line\n-A OUTPUT -d 10.0.0.0/255.0.255.0 -j ACCEPT\n-A OUTPUT -d 10.1.0.0/255.255.0.0 -j ACCEPT\nCOMMIT\n";
    let errors = parse_allowlist_rules("x", input, None, Direction::Egress, None).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, [3, 4, 5, 6, 7, 8], "{errors:#?}");
    assert_eq!(errors[0].text, "-A OUTPUT -d 10.0.0.300/32 -j ACCEPT");
    let (list, errors) =
        parse_allowlist_rules_partial("x", input, None, Direction::Egress, None).unwrap();
    assert_eq!(errors.len(), 6);
    assert_eq!(show(&list), ["10.1.0.0/16 any * @9"]);
}

#[test]
fn iptables_command_lines_and_families() {
    let input = "iptables -A OUTPUT -p tcp --dport 443 -j ACCEPT\nip6tables -A OUTPUT -p tcp --dport 443 -j ACCEPT\n-A OUTPUT -j ACCEPT\n";
    let list = parse_allowlist_rules(
        "x",
        input,
        Some(AllowlistFormat::Iptables),
        Direction::Egress,
        None,
    )
    .unwrap();
    assert_eq!(
        show(&list),
        [
            "0.0.0.0/0 tcp 443 @1",
            "::/0 tcp 443 @2",
            "0.0.0.0/0 any * @3",
            "::/0 any * @3",
        ]
    );
}

#[test]
fn nft_egress() {
    let list = parse_allowlist_rules("nft.json", NFT, None, Direction::Egress, None).unwrap();
    assert_eq!(list.format, AllowlistFormat::NftJson);
    assert_eq!(
        show(&list),
        [
            // `ip daddr @vendor tcp dport 443 accept`: the named set.
            "192.0.2.0/24 tcp 443 @19",
            "198.51.100.0/25 tcp 443 @20",
            "203.0.113.8/29 tcp 443 @21",
            "203.0.113.16/30 tcp 443 @21",
            "203.0.113.20/32 tcp 443 @22",
            // `ip6 daddr { 2001:db8:3::/48, 2001:db8:4::1 } tcp dport { 80, 443 }`.
            "2001:db8:3::/48 tcp 80,443 @67",
            "2001:db8:4::1/128 tcp 80,443 @68",
        ]
    );
    // UDP, established only, loopback, all but some addresses, and the
    // rules of a chain only a jump reaches do not count.
    assert_eq!(
        skipped(&list),
        [
            "29: it admits only established or related connections, not new ones",
            "38: it applies only to the loopback interface",
            "79: it admits only UDP, not TCP",
            "90: it accepts every address except some; reach counts only rules that name the addresses they admit",
            "122: it is in chain vendor_out, which only jumps reach (reach does not follow jumps)",
            "131: it is in chain vendor_out, which only jumps reach (reach does not follow jumps)",
        ]
    );
    assert_eq!(
        list.not_counted[0].rule,
        "rule handle 6 in chain inet filter output"
    );
}

#[test]
fn nft_ingress() {
    let list = parse_allowlist_rules("nft.json", NFT, None, Direction::Ingress, None).unwrap();
    assert_eq!(show(&list), ["203.0.113.0/24 tcp 22 @115"]);
}

#[test]
fn nft_errors() {
    let input = r#"{"nftables": [
  {"table": {"family": "inet", "name": "f", "handle": 1}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 2,
"expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "@missing"}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 3,
"expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}},
  "right": {"range": ["10.0.0.9", "10.0.0.1"]}}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 4,
"expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": "10.0.0.256"}}, {"accept": null}]}},
  {"rule": {"family": "inet", "table": "f", "chain": "out", "handle": 5,
"expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"payload": {"protocol": "tcp", "field": "dport"}}]}, "right": "@pairs"}}, {"accept": null}]}}
]}"#;
    let errors = parse_allowlist_rules("n.json", input, None, Direction::Egress, None).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, [7, 9], "{errors:#?}");
    assert!(errors[0].reason.contains("backwards"));
    assert_eq!(errors[1].text, "10.0.0.256");
    // A set that is not there and a concatenation are not errors in the
    // input: the rules just do not count.
    let (list, _) =
        parse_allowlist_rules_partial("n.json", input, None, Direction::Egress, None).unwrap();
    assert!(list.entries.is_empty());
    assert_eq!(
        skipped(&list),
        [
            "3: set `@missing` is not defined in table inet f, so reach cannot tell what it matches",
            "10: it matches on a concatenation of fields, which reach does not evaluate",
        ]
    );
}

#[test]
fn aws_security_groups() {
    let list = parse_allowlist_rules("sg.json", SG, None, Direction::Egress, None).unwrap();
    assert_eq!(list.format, AllowlistFormat::AwsSg);
    assert_eq!(
        show(&list),
        [
            "192.0.2.0/24 tcp 443 @14",
            "2001:db8:1::/48 tcp 443 @17",
            "198.51.100.0/24 any * @27",
        ]
    );
    assert_eq!(skipped(&list), ["32: it admits only UDP, not TCP"]);
    assert_eq!(
        list.not_counted[0].rule,
        "security group sg-0123456789abcdef0"
    );
    let list = parse_allowlist_rules("sg.json", SG, None, Direction::Ingress, None).unwrap();
    assert_eq!(show(&list), ["203.0.113.5/32 tcp 22 @50"]);
    assert_eq!(skipped(&list), ["52: it admits only ICMP, not TCP"]);
}

#[test]
fn aws_sg_errors() {
    let input = "{\"SecurityGroups\": [{\"GroupId\": \"sg-1\", \"IpPermissionsEgress\": [\n {\"IpProtocol\": \"tcp\", \"FromPort\": 443, \"ToPort\": 443,\n  \"IpRanges\": [{\"CidrIp\": \"192.0.2.0/33\"}]},\n {\"IpProtocol\": \"tcp\", \"FromPort\": 500, \"ToPort\": 400, \"IpRanges\": []}]}]}";
    let errors =
        parse_allowlist_rules("sg.json", input, None, Direction::Egress, None).unwrap_err();
    let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
    assert_eq!(lines, [3, 4], "{errors:#?}");
    assert_eq!(errors[0].text, "192.0.2.0/33");
}

#[test]
fn unknown_and_invalid() {
    let errors =
        parse_allowlist_rules("x", "{\"a\": 1}", None, Direction::Egress, None).unwrap_err();
    assert!(
        errors[0]
            .reason
            .contains("tried iptables, nft-json, aws-sg"),
        "{errors:?}"
    );
    let errors = parse_allowlist_rules("x", "{\n\"nftables\": [,]}", None, Direction::Egress, None)
        .unwrap_err();
    assert_eq!(errors[0].origin.line, 2);
    assert!(errors[0].reason.starts_with("invalid JSON"));
    let errors =
        parse_allowlist_rules("x", "10.0.0.0/8\n", None, Direction::Egress, None).unwrap_err();
    assert!(errors[0].reason.contains("tried"));
    let errors = parse_allowlist_rules(
        "x",
        "10.0.0.0/8\n",
        Some(AllowlistFormat::Cidr),
        Direction::Egress,
        None,
    )
    .unwrap_err();
    assert_eq!(errors.len(), 1);
    let errors = parse_allowlist_rules(
        "x",
        "{\"x\": 1}",
        Some(AllowlistFormat::NftJson),
        Direction::Egress,
        None,
    )
    .unwrap_err();
    assert!(errors[0].reason.contains("nftables"), "{errors:?}");
}

proptest::proptest! {
    #[test]
    fn never_panics(input in ".{0,200}") {
        let _ = detect(&input);
        for format in [AllowlistFormat::Iptables, AllowlistFormat::NftJson, AllowlistFormat::AwsSg] {
            let _ = parse_allowlist_rules("p", &input, Some(format), Direction::Egress, None);
        }
    }

    #[test]
    fn iptables_like_never_panics(input in "(-A|!|-d|-s|-p|tcp|--dport|-j|ACCEPT|[0-9./:,\"]{1,6}| |\n){0,40}") {
        let _ = parse_allowlist_rules("p", &input, Some(AllowlistFormat::Iptables), Direction::Egress, None);
        let _ = parse_allowlist_rules("p", &input, Some(AllowlistFormat::Iptables), Direction::Ingress, None);
    }

}
