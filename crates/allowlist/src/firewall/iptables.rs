//! `iptables-save` / `ip6tables-save` output (and `iptables …` command
//! lines): tokens, one rule's options, what it means for the remote side,
//! then the chains in order, with `-I` insertions and jumps.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::rules::{
    Families, Matches, NON_TERMINATING, Out, complement_ports, constrain_ports, parse_port_list,
};
use crate::model::Direction;
use crate::set::IpSet;
use crate::text::parse_cidr;

#[derive(Debug)]
struct Token {
    text: String,
    quoted: bool,
}

/// Splits a line into words, honouring `"…"` (with `\` escapes) and `'…'`.
fn tokenize(line: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return Ok(tokens);
        }
        let mut text = String::new();
        let mut quoted = false;
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() {
                break;
            }
            chars.next();
            match c {
                '"' => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            None => return Err("unterminated `\"` quote".to_owned()),
                            Some('"') => break,
                            Some('\\') => match chars.next() {
                                Some(e) => text.push(e),
                                None => return Err("unterminated `\"` quote".to_owned()),
                            },
                            Some(other) => text.push(other),
                        }
                    }
                }
                '\'' => {
                    quoted = true;
                    loop {
                        match chars.next() {
                            None => return Err("unterminated `'` quote".to_owned()),
                            Some('\'') => break,
                            Some(other) => text.push(other),
                        }
                    }
                }
                other => text.push(other),
            }
        }
        tokens.push(Token { text, quoted });
    }
}

/// An address in iptables syntax: `ADDR`, `ADDR/LEN`, `ADDR/NETMASK`.
fn parse_ipt_addr(text: &str) -> Result<IpNet, String> {
    if let Some((addr, mask)) = text.split_once('/')
        && (mask.contains('.') || (mask.contains(':') && addr.contains(':')))
    {
        let ip: IpAddr = addr
            .parse()
            .map_err(|_| format!("`{addr}` is not an IP address"))?;
        let mask: IpAddr = mask
            .parse()
            .map_err(|_| format!("`{mask}` is not a netmask"))?;
        let len = match (ip, mask) {
            (IpAddr::V4(_), IpAddr::V4(m)) => contiguous(u128::from(u32::from(m)) << 96),
            (IpAddr::V6(_), IpAddr::V6(m)) => contiguous(u128::from(m)),
            _ => None,
        }
        .ok_or_else(|| format!("`{mask}` is not a contiguous netmask"))?;
        return IpNet::new(ip, len)
            .map(|n| n.trunc())
            .map_err(|e| e.to_string());
    }
    parse_cidr(text)
}

/// The prefix length of a left-aligned contiguous mask.
fn contiguous(mask: u128) -> Option<u8> {
    let ones = mask.leading_ones();
    (mask.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
}

/// An option and whether it was negated.
#[derive(Debug, Default, Clone)]
struct Opt {
    value: String,
    negated: bool,
}

#[derive(Debug, Default)]
struct IptRule {
    chain: String,
    table: Option<String>,
    source: Option<Opt>,
    destination: Option<Opt>,
    protocol: Option<Opt>,
    dports: Vec<Opt>,
    target: Option<String>,
    /// `-g CHAIN` rather than `-j CHAIN`.
    goto: bool,
    in_iface: Option<Opt>,
    out_iface: Option<Opt>,
    states: Vec<Opt>,
    /// Matches reach does not evaluate, as people would name them.
    unknown: Vec<String>,
    /// `-I CHAIN [N]`: the 0-based position it is inserted at.
    insert: Option<usize>,
}

/// Match modules whose options reach reads (or that only name the
/// protocol, or only comment).
const KNOWN_MODULES: &[&str] = &[
    "tcp",
    "udp",
    "sctp",
    "multiport",
    "state",
    "conntrack",
    "comment",
    "icmp",
    "icmp6",
];

/// Options that change nothing about what a rule admits: counters, the
/// comment, ICMP types (the rule is not TCP anyway).
const HARMLESS_OPTIONS: &[&str] = &["-c", "--set-counters", "--icmp-type", "--icmpv6-type"];

/// Parses the words of an `-A CHAIN …` / `-I CHAIN [N] …` rule.
fn parse_ipt_rule(tokens: &[Token]) -> Result<IptRule, String> {
    let mut rule = IptRule::default();
    let insert = matches!(
        tokens.first().map(|t| t.text.as_str()),
        Some("-I" | "--insert")
    );
    let chain = tokens.get(1).ok_or("missing chain name")?;
    if chain.text.starts_with('-') && !chain.quoted {
        return Err("missing chain name".to_owned());
    }
    chain.text.clone_into(&mut rule.chain);
    let mut i = 2;
    if insert {
        rule.insert = Some(0);
        if let Some(n) = tokens.get(2).and_then(|t| t.text.parse::<usize>().ok()) {
            rule.insert = Some(n.saturating_sub(1));
            i = 3;
        }
    }
    let mut negated = false;
    while let Some(token) = tokens.get(i) {
        i += 1;
        if token.quoted || !token.text.starts_with('-') {
            negated = !token.quoted && token.text == "!";
            continue;
        }
        let name = token.text.as_str();
        if !takes_value(name) {
            // An option we do not model; its values are skipped as words.
            // After the target, options are the target's (`--reject-with`,
            // `--log-prefix`): they change nothing about what is matched.
            if rule.target.is_none() && !HARMLESS_OPTIONS.contains(&name) {
                rule.unknown
                    .push(format!("`{}{name}`", if negated { "! " } else { "" }));
            }
            negated = false;
            continue;
        }
        let mut value = tokens
            .get(i)
            .ok_or_else(|| format!("`{name}` needs a value"))?;
        i += 1;
        if !value.quoted && value.text == "!" {
            // Old syntax: `-s ! ADDR`.
            negated = true;
            value = tokens
                .get(i)
                .ok_or_else(|| format!("`{name}` needs a value"))?;
            i += 1;
        }
        let opt = Opt {
            value: value.text.clone(),
            negated,
        };
        negated = false;
        rule.set(name, opt);
    }
    Ok(rule)
}

/// The options whose value [`IptRule::set`] reads.
fn takes_value(name: &str) -> bool {
    matches!(
        name,
        "-s" | "--source"
            | "--src"
            | "-d"
            | "--destination"
            | "--dst"
            | "-p"
            | "--protocol"
            | "--dport"
            | "--destination-port"
            | "--dports"
            | "--destination-ports"
            | "--ports"
            | "-j"
            | "--jump"
            | "-g"
            | "--goto"
            | "-i"
            | "--in-interface"
            | "-o"
            | "--out-interface"
            | "--state"
            | "--ctstate"
            | "-t"
            | "--table"
            | "-m"
            | "--match"
            | "--comment"
    )
}

impl IptRule {
    /// Records option `name` (one that [`takes_value`]) with its value.
    fn set(&mut self, name: &str, opt: Opt) {
        match name {
            "-s" | "--source" | "--src" => self.source = Some(opt),
            "-d" | "--destination" | "--dst" => self.destination = Some(opt),
            "-p" | "--protocol" => self.protocol = Some(opt),
            "-j" | "--jump" => self.target = Some(opt.value),
            "-g" | "--goto" => {
                self.target = Some(opt.value);
                self.goto = true;
            }
            "-i" | "--in-interface" => self.in_iface = Some(opt),
            "-o" | "--out-interface" => self.out_iface = Some(opt),
            "--state" | "--ctstate" => self.states.push(opt),
            "-t" | "--table" => self.table = Some(opt.value),
            "-m" | "--match" => {
                if !KNOWN_MODULES.contains(&opt.value.as_str()) {
                    self.unknown
                        .push(format!("the `{}` match module", opt.value));
                }
            }
            "--comment" => {}
            _ => self.dports.push(opt),
        }
    }
}

/// A parsed rule with a target, before its family is known.
struct IptVerdict {
    line: usize,
    verdict: Verdict,
    /// The chain as written.
    chain_name: String,
    /// The chain, told apart per `*table` block.
    chain: String,
    insert: Option<usize>,
    block: usize,
    family: Families,
}

/// Whether a rule lets traffic through or stops it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    Accept,
    /// DROP / REJECT: what it matches never reaches later rules.
    Block,
    /// Any other target: a user chain, `RETURN`, `LOG`, `QUEUE` …; for
    /// `goto`, the calling chain is left for good.
    Target {
        name: String,
        goto: bool,
    },
}

/// What a rule matches on the remote side, and what it does with it.
struct Verdict {
    action: Action,
    /// Empty means every address.
    nets: Vec<IpNet>,
    /// The addresses are negated (`! -d …`): only blocking rules keep that.
    negated: bool,
    /// Everything else it matches.
    matches: Matches,
}

impl Verdict {
    /// The remote addresses it matches, given the family of the rule
    /// when it names none.
    fn addresses(&self, family: Families) -> IpSet {
        if self.nets.is_empty() {
            return IpSet::from_nets(family.any_nets());
        }
        let nets = IpSet::from_nets(self.nets.iter().copied());
        if self.negated {
            let families = self
                .nets
                .iter()
                .fold(Families::default(), |f, n| f.union(Families::of(n)));
            IpSet::from_nets(families.any_nets()).difference(&nets)
        } else {
            nets
        }
    }
}

/// The built-in chains whose rules decide the traffic of `direction`.
fn ipt_counted_chains(direction: Direction) -> [&'static str; 3] {
    match direction {
        Direction::Egress => ["OUTPUT", "FORWARD", "POSTROUTING"],
        Direction::Ingress => ["INPUT", "FORWARD", "PREROUTING"],
    }
}

/// What one `-A` line means for the allowlist: `None` when it has no
/// target or is in a table or chain that does not count.
fn interpret_ipt_rule(
    rule: &IptRule,
    direction: Direction,
    seen: &mut Families,
) -> Result<Option<Verdict>, String> {
    // Parse everything first, so malformed rules are reported whatever
    // their target.
    let parse_addrs = |opt: &Option<Opt>| -> Result<Vec<IpNet>, String> {
        match opt {
            Some(o) => o
                .value
                .split(',')
                .map(|a| parse_ipt_addr(a.trim()))
                .collect(),
            None => Ok(Vec::new()),
        }
    };
    let sources = parse_addrs(&rule.source)?;
    let destinations = parse_addrs(&rule.destination)?;
    for net in sources.iter().chain(&destinations) {
        *seen = seen.union(Families::of(net));
    }
    let mut m = Matches::default();
    for d in &rule.dports {
        let mut list = parse_port_list(&d.value)?;
        if d.negated {
            list = complement_ports(&list);
        }
        constrain_ports(&mut m.ports, list);
    }

    let action = match rule.target.as_deref() {
        Some("ACCEPT") => Action::Accept,
        Some("DROP" | "REJECT") => Action::Block,
        Some(other) => Action::Target {
            name: other.to_owned(),
            goto: rule.goto,
        },
        None => return Ok(None),
    };
    if !matches!(rule.table.as_deref(), None | Some("filter")) {
        return Ok(None);
    }
    let wrong_chains = match direction {
        Direction::Egress => ["INPUT", "PREROUTING"],
        Direction::Ingress => ["OUTPUT", "POSTROUTING"],
    };
    if wrong_chains.contains(&rule.chain.as_str()) {
        return Ok(None);
    }
    let (remote, nets, local, local_nets, local_flag) = match direction {
        Direction::Egress => (&rule.destination, destinations, &rule.source, sources, "-s"),
        Direction::Ingress => (&rule.source, sources, &rule.destination, destinations, "-d"),
    };
    if let Some(p) = &rule.protocol {
        let names: Vec<&str> = p.value.split(',').collect();
        if p.negated {
            m.protos.exclude(&names);
        } else {
            m.protos.only(&names);
        }
    }
    for s in &rule.states {
        let values: Vec<&str> = s.value.split(',').collect();
        m.states(&values, s.negated);
    }
    for iface in [&rule.out_iface, &rule.in_iface].into_iter().flatten() {
        m.interface(&[iface.value.as_str()], iface.negated);
    }
    let negated = remote.as_ref().is_some_and(|o| o.negated);
    if negated {
        m.unknown(
            "it accepts every address except some; reach counts only rules that name the addresses they admit",
        );
    }
    if let Some(l) = local
        && (l.negated || local_nets.iter().any(|n| n.prefix_len() > 0))
    {
        m.unknown(format!(
            "it also matches this machine's own address (`{local_flag} {}`), which reach cannot check",
            l.value
        ));
    }
    if let Some(first) = rule.unknown.first() {
        m.unknown(format!(
            "it matches on {first}, which reach does not evaluate"
        ));
    }
    Ok(Some(Verdict {
        action,
        nets,
        negated,
        matches: m,
    }))
}

pub(super) fn read_iptables(out: &mut Out<'_>, input: &str, direction: Direction) {
    let file = read_ipt_lines(out, input, direction);
    walk_ipt_chains(out, &file, direction);
}

/// What the lines of an `iptables-save` file say, before its chains are
/// walked.
struct IptFile {
    /// Per `*table` block: the family its header comment or addresses tell.
    blocks: Vec<Families>,
    /// The rules with a target, in file order.
    verdicts: Vec<IptVerdict>,
    /// User chains declared (`:NAME - [0:0]`, `-N NAME`), per block.
    declared: HashSet<String>,
}

/// Reads every line: comments, `*table` and `:CHAIN` headers, commands;
/// the rules' errors go to `out`.
fn read_ipt_lines(out: &mut Out<'_>, input: &str, direction: Direction) -> IptFile {
    let mut file = IptFile {
        blocks: vec![Families::default()],
        verdicts: Vec::new(),
        declared: HashSet::new(),
    };
    let mut hint = Families::default();
    let mut table: Option<String> = None;
    for (index, raw) in input.lines().enumerate() {
        let line = index + 1;
        let text = raw.trim();
        if text.is_empty() || text == "COMMIT" {
            continue;
        }
        if let Some(comment) = text.strip_prefix('#') {
            if comment.contains("ip6tables") {
                hint = Families::V6;
            } else if comment.contains("iptables") {
                hint = Families::V4;
            }
            continue;
        }
        if let Some(name) = text.strip_prefix('*') {
            table = Some(name.trim().to_owned());
            file.blocks.push(std::mem::take(&mut hint));
            continue;
        }
        if let Some(decl) = text.strip_prefix(':') {
            if let Some(name) = decl.split_whitespace().next() {
                file.declare(name);
            }
            continue;
        }
        let mut tokens = match tokenize(text) {
            Ok(t) => t,
            Err(reason) => {
                out.error(line, text, reason);
                continue;
            }
        };
        let family = strip_ipt_prefixes(&mut tokens);
        let command = tokens.first().map_or("", |t| t.text.as_str());
        match command {
            "-A" | "--append" | "-I" | "--insert" => {}
            "-N" | "--new-chain" => {
                if let Some(name) = tokens.get(1) {
                    file.declare(&name.text);
                }
                continue;
            }
            "-P" | "--policy" | "-X" | "-F" | "-Z" => continue,
            _ => {
                out.error(line, text, "not an iptables-save line");
                continue;
            }
        }
        let rule = IptLine {
            line,
            tokens: &tokens,
            family,
            table: table.as_deref(),
        };
        if let Err(reason) = file.rule(&rule, direction) {
            out.error(line, text, reason);
        }
    }
    file
}

/// Takes off what may stand before the command: `iptables-save -c`'s
/// `[packets:bytes]`, and the program of an `iptables -A …` command line,
/// whose name tells the family.
fn strip_ipt_prefixes(tokens: &mut Vec<Token>) -> Families {
    // `iptables-save -c`: `[packets:bytes] -A …`.
    if tokens.first().is_some_and(|t| {
        !t.quoted && t.text.starts_with('[') && t.text.ends_with(']') && t.text.contains(':')
    }) {
        tokens.remove(0);
    }
    // `iptables -A …` as a command line.
    let mut family = Families::default();
    if let Some(first) = tokens.first() {
        let program = first.text.rsplit('/').next().unwrap_or("");
        if program.starts_with("ip6tables") {
            family = Families::V6;
            tokens.remove(0);
        } else if program.starts_with("iptables") {
            family = Families::V4;
            tokens.remove(0);
        }
    }
    family
}

/// An `-A` / `-I` line and what comes before it.
struct IptLine<'a> {
    line: usize,
    tokens: &'a [Token],
    /// The family its program tells (`ip6tables -A …`).
    family: Families,
    /// The `*table` it is in.
    table: Option<&'a str>,
}

impl IptFile {
    /// A user chain of the current block.
    fn declare(&mut self, name: &str) {
        self.declared
            .insert(format!("{}/{name}", self.blocks.len() - 1));
    }

    /// Reads one `-A` / `-I` rule into [`IptFile::verdicts`]; the addresses
    /// it names tell its block's family.
    fn rule(&mut self, at: &IptLine<'_>, direction: Direction) -> Result<(), String> {
        let block = self.blocks.len() - 1;
        let mut rule = parse_ipt_rule(at.tokens)?;
        if rule.table.is_none() {
            rule.table = at.table.map(str::to_owned);
        }
        let mut seen = Families::default();
        let verdict = interpret_ipt_rule(&rule, direction, &mut seen);
        if let Some(b) = self.blocks.last_mut() {
            *b = b.union(seen);
        }
        if let Some(verdict) = verdict? {
            self.verdicts.push(IptVerdict {
                line: at.line,
                verdict,
                // Chains of one name in different `*table` blocks (an
                // iptables-save and an ip6tables-save) are different.
                chain: format!("{block}/{}", rule.chain),
                chain_name: rule.chain,
                insert: rule.insert,
                block,
                family: at.family,
            });
        }
        Ok(())
    }
}

/// The order rules take effect in: chain order, which `-I` changes;
/// iptables-save output has only `-A`, so that is file order.
fn ipt_rule_order(verdicts: &[IptVerdict]) -> Vec<usize> {
    if verdicts.iter().all(|v| v.insert.is_none()) {
        return (0..verdicts.len()).collect();
    }
    let mut chains: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut first_seen: Vec<&str> = Vec::new();
    for (i, v) in verdicts.iter().enumerate() {
        let chain = chains.entry(v.chain.as_str()).or_insert_with(|| {
            first_seen.push(v.chain.as_str());
            Vec::new()
        });
        match v.insert {
            Some(at) => chain.insert(at.min(chain.len()), i),
            None => chain.push(i),
        }
    }
    first_seen
        .iter()
        .flat_map(|c| chains.get(c).cloned().unwrap_or_default())
        .collect()
}

/// Per chain, what each of its rules may do to a packet jumped to it:
/// `None` accepts, `Some(("", _))` stops, `Some((chain, goto))` goes on.
type IptSteps<'a> = HashMap<&'a str, Vec<Option<(String, bool)>>>;

fn ipt_steps(verdicts: &[IptVerdict]) -> IptSteps<'_> {
    let mut targets: IptSteps<'_> = HashMap::new();
    for v in verdicts {
        let step = match &v.verdict.action {
            Action::Accept => None,
            Action::Block => Some((String::new(), false)),
            Action::Target { name, goto } => Some((format!("{}/{name}", v.block), *goto)),
        };
        targets.entry(v.chain.as_str()).or_default().push(step);
    }
    targets
}

/// Walks the rules in chain order: accepting rules become entries (what
/// earlier blocking rules leave of them), blocking ones block for later.
fn walk_ipt_chains(out: &mut Out<'_>, file: &IptFile, direction: Direction) {
    let targets = ipt_steps(&file.verdicts);
    let is_chain = |key: &str| file.declared.contains(key) || targets.contains_key(key);
    let counted = ipt_counted_chains(direction);
    for i in ipt_rule_order(&file.verdicts) {
        let Some(v) = file.verdicts.get(i) else {
            continue;
        };
        let family = if v.family.is_empty() {
            file.blocks.get(v.block).copied().unwrap_or_default()
        } else {
            v.family
        };
        let rule = &v.verdict;
        let base = counted.contains(&v.chain_name.as_str());
        let blocks_later = match &rule.action {
            Action::Accept if !base => {
                out.list.not_counted(
                    v.line,
                    format!("chain {}", v.chain_name),
                    format!(
                        "it is in chain {}, which only jumps reach (reach does not follow jumps)",
                        v.chain_name
                    ),
                );
                false
            }
            Action::Accept => {
                let nets: Vec<(IpNet, usize)> = if rule.nets.is_empty() {
                    family.any_nets()
                } else {
                    rule.nets.clone()
                }
                .into_iter()
                .map(|n| (n, v.line))
                .collect();
                let label = || format!("chain {}", v.chain_name);
                out.accept_rule(&v.chain, &nets, v.line, &label, &rule.matches);
                false
            }
            _ if !base => false,
            Action::Block => true,
            Action::Target { name, goto } => {
                let key = format!("{}/{name}", v.block);
                if NON_TERMINATING.contains(&name.as_str()) {
                    false
                } else if is_chain(&key) {
                    // A jump returns what the chain neither accepts nor
                    // stops; a goto never comes back.
                    *goto || ipt_may_stop(&targets, &is_chain, &key, &mut Vec::new())
                } else {
                    // RETURN leaves the built-in chain for its policy;
                    // QUEUE and unknown targets may drop.
                    true
                }
            }
        };
        if blocks_later {
            out.blocks
                .block(&v.chain, rule.addresses(family), v.line, &rule.matches);
        }
    }
}

/// Whether a packet jumped to user chain `key` may be stopped there (or in
/// a chain it jumps to): a DROP, REJECT or unknown target. Loops count as
/// stopping.
fn ipt_may_stop<'a>(
    targets: &'a IptSteps<'_>,
    is_chain: &dyn Fn(&str) -> bool,
    key: &'a str,
    path: &mut Vec<&'a str>,
) -> bool {
    if path.contains(&key) || path.len() > 16 {
        return true;
    }
    let Some(chain) = targets.get(key) else {
        return false;
    };
    path.push(key);
    let stopping = chain.iter().flatten().any(|(target, _)| {
        let name = target.split_once('/').map_or("", |(_, n)| n);
        if target.is_empty() {
            true
        } else if NON_TERMINATING.contains(&name) || name == "RETURN" {
            false
        } else if is_chain(target) {
            ipt_may_stop(targets, is_chain, target, path)
        } else {
            true
        }
    });
    path.pop();
    stopping
}
