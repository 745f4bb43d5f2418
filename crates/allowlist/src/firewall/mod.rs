//! Firewall rule sets as allowlists: `iptables-save` / `ip6tables-save`
//! output, `nft -j list ruleset`, and AWS `describe-security-groups` JSON.
//! The plain CIDR list is read by [`crate::text::parse_cidr_allowlist`].
//!
//! Each address an accepting rule allows on the remote side becomes one
//! [`AllowEntry`]: the destination for [`Direction::Egress`], the source for
//! [`Direction::Ingress`]. Its origin is the line of the address (for JSON,
//! the line of the value; for a named nft set, the line of the element).
//!
//! What counts, and what is skipped on purpose (skipping never claims
//! coverage the firewall does not give):
//!
//! - A rule counts only for the traffic it provably admits: new TCP
//!   connections, to `--port` when given ([`Rule::admits_tcp`]). An ICMP
//!   (IPv4 or IPv6) or UDP rule, a rule for other ports, one that negates TCP, and
//!   one that admits only established / related connections count for
//!   nothing. So does a rule with a match reach does not evaluate: an
//!   interface other than loopback, this machine's own address (the source
//!   for egress), a mark, an owner, `--syn`, a source port, a rate limit,
//!   a set it cannot resolve, a concatenation, a verdict map, an unknown
//!   match module or statement. Each such accepting rule is listed in
//!   [`Allowlist::not_counted`] with its reason. Counters, comments and
//!   logging change nothing.
//! - Accepting rules: iptables `-j ACCEPT`, nft rules whose verdict is
//!   `accept`, every security-group permission.
//! - Blocking rules (iptables `-j DROP` / `-j REJECT`, nft `drop` /
//!   `reject`) take what they match out of the *later* accepting rules of
//!   the same chain, since the first matching rule wins; such an accepting
//!   rule is listed in [`Allowlist::shadowed`]. A blocking rule counts when
//!   it stops the traffic asked about: with a port, TCP to that port;
//!   without, TCP to every port. A match reach does not evaluate is left
//!   out of a blocking rule, which only widens what it blocks; only a
//!   loopback interface or a state match without new and established
//!   connections (`ct state invalid drop`) makes it miss the traffic.
//!   `! -d X -j DROP` blocks all but `X`. `-I CHAIN [N]` rules take their
//!   place in the chain.
//! - Jumps are not followed: the rules of a chain without a hook (nft) or
//!   of a user-defined chain (iptables) never count. A jump to a chain
//!   that may drop (a DROP, REJECT, queue or unknown target in it or in a
//!   chain it jumps to), a goto, a RETURN in a built-in chain, a queue and
//!   an unknown target block what they match for the later rules.
//! - An accepting rule that matches the remote address negated (`! -d …`, nft
//!   `!=`) does not count.
//! - Rules in the built-in chains (iptables) or base chains (nft, by hook) of
//!   the other direction are skipped: `INPUT`/`PREROUTING` for egress,
//!   `OUTPUT`/`POSTROUTING` for ingress. `FORWARD` counts both ways. Only
//!   the `filter` table (iptables) and `filter`-type chains of the `ip`,
//!   `ip6` and `inet` families (nft) count. An nft rule whose chain the
//!   input does not list (a hand-written excerpt) is read as in a base
//!   chain.
//! - A rule with no remote address allows every address of its family:
//!   `0.0.0.0/0` and/or `::/0`. The family comes from the rule's other
//!   matches (nft `ip`/`ip6` payloads), the table family (nft), the
//!   `iptables-save` / `ip6tables-save` header comment or the addresses of
//!   the same `*table` block (iptables); when nothing tells, both.
//! - Ports are destination ports (`--dport`, `-m multiport --dports`, nft
//!   `th|tcp|udp dport`, security-group `FromPort`..`ToPort`); a negated port
//!   match becomes its complement; several port matches intersect.
//! - AWS prefix lists (`PrefixListIds`) and group references
//!   (`UserIdGroupPairs`) name no addresses and are skipped; protocol `-1`
//!   is every protocol and port.

mod aws_sg;
mod iptables;
mod nft;
mod rules;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::json::{Node, first_line, looks_like_json, parse_json_document, strip_bom};
#[cfg(doc)]
use crate::model::AllowEntry;
#[cfg(doc)]
use crate::model::Rule;
use crate::model::{
    Allowlist, AllowlistBuilder, AllowlistFormat, Direction, ParseError, clip, origin,
};
use crate::text::is_iptables_line;

use self::rules::{ChainBlocks, Out};

/// Sniffs an allowlist's format: `nft -j` JSON (an object with an
/// `nftables` array), AWS security groups (an object with a
/// `SecurityGroups` array, or an array of groups), `iptables-save` (a line
/// starting `*table`, `:CHAIN`, `-A ` …); anything else that is not JSON is
/// `Some(AllowlistFormat::Cidr)`. `None` for broken JSON or JSON of another
/// shape.
pub fn detect(input: &str) -> Option<AllowlistFormat> {
    let text = strip_bom(input);
    if looks_like_json(text) {
        let root = crate::json::parse(text).ok()?;
        return detect_json(&root);
    }
    Some(text_format(text))
}

/// iptables-save or a plain list, by the first value lines of `text`.
/// `iptables-save` output announces itself in its first lines (`*filter`,
/// `:INPUT ACCEPT`, `-A …`). Looking no further keeps a million-line CIDR
/// list from being scanned twice; an iptables line further down a list is
/// reported as such by the list parser.
fn text_format(text: &str) -> AllowlistFormat {
    let iptables = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .take(DETECT_LINES)
        .any(is_iptables_line);
    if iptables {
        AllowlistFormat::Iptables
    } else {
        AllowlistFormat::Cidr
    }
}

/// The format of an allowlist from its first bytes only (a prefix of the
/// file, cut anywhere), for a file too big to hold before deciding how to
/// read it. A JSON document is told by its first character, whatever its
/// line breaks (`nft -j` prints one line): `Some(NftJson)` or
/// `Some(AwsSg)` when its first key says so, `None` for JSON of another or
/// not yet visible shape (read it whole, then [`detect`]). Otherwise the
/// complete lines of the prefix tell iptables-save from a plain list.
pub fn detect_start(prefix: &str) -> Option<AllowlistFormat> {
    let text = strip_bom(prefix);
    if looks_like_json(text) {
        let mut end = text.len().min(4096);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let head = &text[..end];
        let key = |k: &str| head.contains(&format!("\"{k}\""));
        return if key("nftables") {
            Some(AllowlistFormat::NftJson)
        } else if [
            "SecurityGroups",
            "GroupId",
            "IpPermissions",
            "IpPermissionsEgress",
        ]
        .iter()
        .any(|k| key(k))
        {
            Some(AllowlistFormat::AwsSg)
        } else {
            None
        };
    }
    // Only whole lines: the last may be cut.
    let whole = text.rfind('\n').map_or("", |at| &text[..at]);
    Some(text_format(whole))
}

/// How many value lines [`detect`] reads to tell iptables from a list.
const DETECT_LINES: usize = 32;

/// Parses a firewall rule set into allowlist entries, all of it or nothing:
/// any rule that does not parse makes it an `Err` listing every problem.
///
/// `format` `None` auto-detects among [`AllowlistFormat::Iptables`],
/// [`AllowlistFormat::NftJson`] and [`AllowlistFormat::AwsSg`];
/// `Some(AllowlistFormat::Cidr)` is an error (the CIDR list is
/// [`crate::text::parse_cidr_allowlist`]'s). `direction` picks the remote
/// side of each rule (see the module documentation).
pub fn parse_allowlist_rules(
    source: &str,
    input: &str,
    format: Option<AllowlistFormat>,
    direction: Direction,
    port: Option<u16>,
) -> Result<Allowlist, Vec<ParseError>> {
    let (list, errors) = parse_allowlist_rules_partial(source, input, format, direction, port)?;
    if errors.is_empty() {
        Ok(list)
    } else {
        Err(errors)
    }
}

/// Like [`parse_allowlist_rules`], for `--lenient`: rules that do not parse
/// are returned beside the allowlist (which holds every entry that did).
/// `Err` only when nothing can be read: invalid JSON, an unknown shape.
pub fn parse_allowlist_rules_partial(
    source: &str,
    input: &str,
    format: Option<AllowlistFormat>,
    direction: Direction,
    port: Option<u16>,
) -> Result<(Allowlist, Vec<ParseError>), Vec<ParseError>> {
    let whole = |reason: String| {
        vec![ParseError {
            origin: origin(source, 1),
            text: clip(first_line(input)),
            reason,
        }]
    };
    let format = match format {
        Some(AllowlistFormat::Cidr) => {
            return Err(whole(
                "the cidr allowlist format is a plain list, not a rule set".to_owned(),
            ));
        }
        Some(f) => f,
        None => match detect(input) {
            Some(
                f @ (AllowlistFormat::Iptables | AllowlistFormat::NftJson | AllowlistFormat::AwsSg),
            ) => f,
            _ if looks_like_json(strip_bom(input)) => {
                // Report invalid JSON as such, with its line.
                parse_json_document(source, input).map_err(|e| vec![e])?;
                return Err(whole(
                    "not a firewall rule set of a known shape (tried iptables, nft-json, aws-sg)"
                        .to_owned(),
                ));
            }
            _ => {
                return Err(whole(
                    "not a firewall rule set of a known shape (tried iptables, nft-json, aws-sg)"
                        .to_owned(),
                ));
            }
        },
    };
    let mut out = Out {
        source,
        list: AllowlistBuilder::new(format, source),
        errors: Vec::new(),
        blocks: ChainBlocks {
            port,
            chains: HashMap::new(),
        },
    };
    match format {
        AllowlistFormat::Iptables => iptables::read_iptables(&mut out, strip_bom(input), direction),
        AllowlistFormat::NftJson | AllowlistFormat::AwsSg => {
            let root = parse_json_document(source, input).map_err(|e| vec![e])?;
            let shaped = if format == AllowlistFormat::NftJson {
                nft::read_nft(&mut out, &root, direction)
            } else {
                aws_sg::read_aws_sg(&mut out, &root, direction)
            };
            shaped
                .map_err(|reason| whole(format!("not an {} rule set: {reason}", format.name())))?;
        }
        AllowlistFormat::Cidr => {}
    }
    Ok((out.list.finish(), out.errors))
}

fn detect_json(root: &Node) -> Option<AllowlistFormat> {
    if root.get("nftables").and_then(Node::as_array).is_some() {
        return Some(AllowlistFormat::NftJson);
    }
    if root
        .get("SecurityGroups")
        .and_then(Node::as_array)
        .is_some()
    {
        return Some(AllowlistFormat::AwsSg);
    }
    let groups = root.as_array()?;
    let is_group = |g: &Node| {
        ["GroupId", "IpPermissions", "IpPermissionsEgress"]
            .iter()
            .any(|k| g.get(k).is_some())
    };
    (!groups.is_empty() && groups.iter().all(is_group)).then_some(AllowlistFormat::AwsSg)
}
