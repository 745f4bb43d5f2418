use super::*;

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
