//! The firewall parsers through their entry points: detection and what
//! the formats share here, one file per format beside.

use super::*;

mod aws_sg;
mod iptables;
mod nft;

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

const IPTABLES: &str = include_str!("../../../tests/data/iptables-save.txt");
const NFT: &str = include_str!("../../../tests/data/nft-ruleset.json");
const SG: &str = include_str!("../../../tests/data/aws-sg.json");

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
