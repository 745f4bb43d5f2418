//! Plain lists: one CIDR, address (or, in an allowlist, host name) a line.
//!
//! `#` starts a comment, on its own line or after the value; blank lines
//! are skipped; `\r\n` line ends and a leading byte-order mark are
//! accepted. A bare address is a `/32` or `/128`; a CIDR with host bits set
//! (`10.0.0.1/8`) is accepted and normalised to its network (`10.0.0.0/8`),
//! as `iprange` does. IPv4 is parsed by hand (no allocation for a valid
//! line); an octet with a leading zero (`010.0.0.1`) is refused, as by the
//! standard library, since some tools read it as octal.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::model::{
    Allowlist, AllowlistBuilder, AllowlistFormat, Feed, FeedFormat, Origin, ParseError,
    PublishedEntry, line32,
};

/// The longest offending text kept in a [`ParseError`], in characters.
const MAX_ERROR_TEXT: usize = 200;

/// Parses a published list: one CIDR or address a line.
///
/// Returns every entry that parsed and every line that did not, in input
/// order,
/// each with its origin `source:line`. `lenient` does not change the
/// result: all errors are always returned and the caller decides whether
/// they are fatal (`--lenient` turns them into warnings). Entries carry no
/// service or region.
pub fn parse_cidr_feed(source: &str, input: &str, lenient: bool) -> (Feed, Vec<ParseError>) {
    let _ = lenient;
    let mut feed = Feed::new(FeedFormat::Cidr);
    feed.entries.reserve(line_count(input));
    let mut errors = Vec::new();
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    for_each_value_from(input, 0, |line, value| {
        if let Some(Item::Net(net)) = item(value, false, source, line, &mut errors) {
            feed.entries.push(PublishedEntry {
                net,
                line: line32(line),
                label: 0,
            });
        }
    });
    (feed, errors)
}

/// Parses an allowlist: one CIDR, address, host name (`api.example.com`) or
/// wildcard (`*.example.com`) a line.
///
/// Host names are lower-cased, a trailing dot is dropped, and they must be
/// valid DNS names: at least two labels, each of 1 to 63 characters from
/// `a-z`, `0-9` and `-` and not starting or ending with `-`, the last not
/// all digits, at most 253 characters in all; `*` only as the whole first
/// label. Entries allow every port and protocol.
pub fn parse_cidr_allowlist(source: &str, input: &str) -> (Allowlist, Vec<ParseError>) {
    let mut list = AllowlistBuilder::new(AllowlistFormat::Cidr, source);
    list.reserve(line_count(input));
    let mut errors = Vec::new();
    let input = input.strip_prefix('\u{feff}').unwrap_or(input);
    for_each_value_from(input, 0, |line, value| {
        match item(value, true, source, line, &mut errors) {
            Some(Item::Net(net)) => list.net(net, line, 0),
            Some(Item::Name(name)) => list.name(name, line, 0),
            None => {}
        }
    });
    (list.finish(), errors)
}

/// What a line of a plain list holds.
enum Item {
    Net(IpNet),
    Name(String),
}

/// A line's entry; `None` (with the error recorded) when it is neither a
/// network nor, where allowed, a host name.
fn item(
    value: Value<'_>,
    names_allowed: bool,
    source: &str,
    line: usize,
    errors: &mut Vec<ParseError>,
) -> Option<Item> {
    match value {
        Value::Net(net) => Some(Item::Net(net)),
        Value::Text(text) => {
            if let Some(net) = parse_net(text) {
                Some(Item::Net(net))
            } else if let Some(name) = parse_host_name(text).filter(|_| names_allowed) {
                Some(Item::Name(name))
            } else {
                errors.push(error(source, line, text, diagnose(text, names_allowed)));
                None
            }
        }
    }
}

/// A hasher for networks: a multiply-rotate over the words written, much
/// faster than the default `SipHash` for millions of small keys (no
/// protection against crafted collisions is needed: a list is the user's
/// own file, and a collision only costs time).
#[derive(Default, Clone, Copy)]
struct FastHasher(u64);

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.write_u64(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// How many repeated lines a list keeps as examples.
const DUPLICATE_EXAMPLES: usize = 100;

/// Reads a plain list in pieces, so a file need not be in memory whole,
/// keeping each distinct network once: memory grows with the distinct
/// entries, not with the lines. The repeats are counted (with some
/// examples) rather than kept. For a text already in memory,
/// [`parse_cidr_allowlist`] keeps every line as an entry instead, and the
/// coverage reports a repeat as a redundant entry. Both read lines with
/// the same code.
pub struct PlainListReader {
    source: String,
    /// Host names are entries (an allowlist) rather than errors (a feed).
    names_allowed: bool,
    seen: FastMap<IpNet, u32>,
    nets: Vec<(IpNet, u32)>,
    names: Vec<(String, u32)>,
    errors: Vec<ParseError>,
    duplicates: u64,
    duplicate_examples: Vec<(u32, u32)>,
    /// Lines handed to the parser so far.
    lines: usize,
    /// The end of the last piece after its last line break.
    pending: String,
    started: bool,
}

/// What a [`PlainListReader`] read.
#[derive(Debug, Clone, Default)]
pub struct PlainList {
    source: String,
    /// Distinct networks with the line of their first occurrence.
    pub nets: Vec<(IpNet, u32)>,
    pub names: Vec<(String, u32)>,
    pub errors: Vec<ParseError>,
    /// Lines that repeat a network listed earlier.
    pub duplicates: u64,
    /// Some of them: (line, line of the first occurrence).
    pub duplicate_examples: Vec<(u32, u32)>,
}

impl PlainListReader {
    pub fn new(source: &str, names_allowed: bool) -> Self {
        PlainListReader {
            source: source.to_owned(),
            names_allowed,
            seen: FastMap::default(),
            nets: Vec::new(),
            names: Vec::new(),
            errors: Vec::new(),
            duplicates: 0,
            duplicate_examples: Vec::new(),
            lines: 0,
            pending: String::new(),
            started: false,
        }
    }

    /// Room for about `n` entries.
    pub fn reserve(&mut self, n: usize) {
        self.nets.reserve(n);
        self.seen.reserve(n);
    }

    /// Reads the next piece of the list (any split, even mid-line).
    pub fn push(&mut self, piece: &str) {
        let mut piece = piece;
        if !self.started && !piece.is_empty() {
            self.started = true;
            piece = piece.strip_prefix('\u{feff}').unwrap_or(piece);
        }
        let Some(cut) = piece.rfind('\n') else {
            self.pending.push_str(piece);
            return;
        };
        if self.pending.is_empty() {
            self.lines_of(&piece[..=cut]);
        } else {
            let mut whole = std::mem::take(&mut self.pending);
            whole.push_str(&piece[..=cut]);
            self.lines_of(&whole);
        }
        self.pending.push_str(&piece[cut + 1..]);
    }

    /// The list read.
    pub fn finish(mut self) -> PlainList {
        let rest = std::mem::take(&mut self.pending);
        if !rest.is_empty() {
            self.lines_of(&rest);
        }
        PlainList {
            source: self.source,
            nets: self.nets,
            names: self.names,
            errors: self.errors,
            duplicates: self.duplicates,
            duplicate_examples: self.duplicate_examples,
        }
    }

    /// Whole lines (the last may lack its line break).
    fn lines_of(&mut self, text: &str) {
        let before = self.lines;
        let source = &self.source;
        let names_allowed = self.names_allowed;
        let (seen, nets, names, errors) = (
            &mut self.seen,
            &mut self.nets,
            &mut self.names,
            &mut self.errors,
        );
        let (duplicates, examples) = (&mut self.duplicates, &mut self.duplicate_examples);
        for_each_value_from(text, before, |line, value| {
            let net = match item(value, names_allowed, source, line, errors) {
                Some(Item::Net(net)) => net,
                Some(Item::Name(name)) => {
                    names.push((name, line32(line)));
                    return;
                }
                None => return,
            };
            match seen.entry(net) {
                std::collections::hash_map::Entry::Occupied(first) => {
                    *duplicates += 1;
                    if examples.len() < DUPLICATE_EXAMPLES {
                        examples.push((line32(line), *first.get()));
                    }
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(line32(line));
                    nets.push((net, line32(line)));
                }
            }
        });
        self.lines = before + text.matches('\n').count();
    }
}

impl PlainList {
    /// As an allowlist (every entry allows every port and protocol).
    pub fn allowlist(&self) -> Allowlist {
        let mut list = AllowlistBuilder::new(AllowlistFormat::Cidr, &self.source);
        list.reserve(self.nets.len());
        for &(net, line) in &self.nets {
            list.net(net, line as usize, 0);
        }
        for (name, line) in &self.names {
            list.name(name.clone(), *line as usize, 0);
        }
        let mut list = list.finish();
        list.duplicate_lines = self.duplicates;
        list.duplicate_examples = self
            .duplicate_examples
            .iter()
            .map(|&(line, first)| {
                (
                    crate::model::At { source: 0, line },
                    crate::model::At {
                        source: 0,
                        line: first,
                    },
                )
            })
            .collect();
        list
    }
}

/// Parses one CIDR or bare address (`/32`, `/128`), normalised to its
/// network: `10.0.0.1/8` is `10.0.0.0/8`. `None` when it is neither.
pub fn parse_net(value: &str) -> Option<IpNet> {
    if let Some(net) = parse_v4(value.as_bytes()) {
        return Some(IpNet::V4(net));
    }
    if !value.contains(':') {
        return None;
    }
    if let Some((bits, len)) = parse_v6_fast(value.as_bytes()) {
        return v6_net(bits, len).map(IpNet::V6);
    }
    // Forms the fast path leaves alone (an embedded IPv4 tail) or rejects.
    if value.contains('/') {
        value.parse::<Ipv6Net>().ok().map(|n| IpNet::V6(n.trunc()))
    } else {
        let addr = value.parse::<Ipv6Addr>().ok()?;
        Ipv6Net::new(addr, 128).ok().map(IpNet::V6)
    }
}

/// `hex:hex::hex[/len]` in one pass, without allocation: the address bits
/// and the prefix length (128 without one). `None` for anything else,
/// including valid forms it does not handle (an embedded IPv4 tail), which
/// the caller hands to the standard parser.
fn parse_v6_fast(b: &[u8]) -> Option<(u128, u8)> {
    parse_v6_at(b, 0).and_then(|(bits, len, end)| (end == b.len()).then_some((bits, len)))
}

/// Hex digit values, `NOT_HEX` for other bytes.
const HEX: [u8; 256] = {
    let mut t = [NOT_HEX; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};
const NOT_HEX: u8 = 0xFF;

fn hex_digit(c: u8) -> Option<u16> {
    let d = HEX[usize::from(c)];
    (d != NOT_HEX).then_some(u16::from(d))
}

/// Reads `hex:hex::hex[/len]` starting at `start`: the address bits, the
/// prefix length (128 without one) and the index just past it. What
/// follows is the caller's to check (a `.` means an embedded IPv4 tail,
/// which this parser leaves to the standard one).
fn parse_v6_at(b: &[u8], start: usize) -> Option<(u128, u8, usize)> {
    let is_hex = |i: usize| b.get(i).is_some_and(|&c| hex_digit(c).is_some());
    let mut head = [0u16; 8];
    let mut tail = [0u16; 8];
    let (mut heads, mut tails) = (0usize, 0usize);
    let mut compressed = false;
    let mut i = start;
    if b.get(i) == Some(&b':') {
        if b.get(i + 1) != Some(&b':') {
            return None;
        }
        compressed = true;
        i += 2;
    }
    // Each turn reads one group; a turn starts only at a hex digit, or
    // right after a leading `::` (`::`, `::/0`).
    while is_hex(i) {
        let mut group = 0u16;
        let first = i;
        while i - first < 4
            && let Some(d) = b.get(i).and_then(|&c| hex_digit(c))
        {
            group = (group << 4) | d;
            i += 1;
        }
        if is_hex(i) {
            return None; // a fifth digit
        }
        if heads + tails == 8 {
            return None;
        }
        if compressed {
            tail[tails] = group;
            tails += 1;
        } else {
            head[heads] = group;
            heads += 1;
        }
        if b.get(i) != Some(&b':') {
            break;
        }
        i += 1;
        if b.get(i) == Some(&b':') {
            if compressed {
                return None;
            }
            compressed = true;
            i += 1;
        } else if !is_hex(i) {
            return None; // a single trailing colon
        }
    }
    let groups = heads + tails;
    if (compressed && groups > 7) || (!compressed && groups != 8) {
        return None;
    }
    let mut len = 128u8;
    if b.get(i) == Some(&b'/') {
        i += 1;
        let first = i;
        let mut value = 0u32;
        while i - first < 3
            && let Some(&c) = b.get(i).filter(|c| c.is_ascii_digit())
        {
            value = value * 10 + u32::from(c - b'0');
            i += 1;
        }
        if i == first || b.get(i).is_some_and(u8::is_ascii_digit) {
            return None;
        }
        len = u8::try_from(value).ok().filter(|l| *l <= 128)?;
    }
    let mut bits = 0u128;
    for (k, g) in head[..heads].iter().enumerate() {
        bits |= u128::from(*g) << (112 - 16 * k);
    }
    for (k, g) in tail[..tails].iter().enumerate() {
        bits |= u128::from(*g) << (16 * (tails - 1 - k));
    }
    Some((bits, len, i))
}

/// The IPv6 network of `bits` / `len` (host bits cleared).
fn v6_net(bits: u128, len: u8) -> Option<Ipv6Net> {
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    Ipv6Net::new(Ipv6Addr::from(bits & mask), len).ok()
}

/// `net` as text, exactly as its `Display` writes it (RFC 5952 for IPv6)
/// but several times faster: a report can list a hundred thousand CIDRs.
pub fn cidr_string(net: &IpNet) -> String {
    let mut out = String::with_capacity(20);
    match net {
        IpNet::V4(n) => {
            for (i, octet) in n.addr().octets().iter().enumerate() {
                if i > 0 {
                    out.push('.');
                }
                push_decimal(&mut out, u32::from(*octet));
            }
        }
        IpNet::V6(n) => {
            let addr = n.addr();
            if addr.to_ipv4_mapped().is_some() {
                return net.to_string();
            }
            let groups = addr.segments();
            // The longest run of two or more zero groups (the first of
            // equals) becomes `::`.
            let (mut best, mut best_len, mut run, mut run_len) = (0, 0, 0, 0);
            for (i, g) in groups.iter().enumerate() {
                if *g == 0 {
                    if run_len == 0 {
                        run = i;
                    }
                    run_len += 1;
                    if run_len > best_len {
                        (best, best_len) = (run, run_len);
                    }
                } else {
                    run_len = 0;
                }
            }
            let hex = |out: &mut String, groups: &[u16]| {
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        out.push(':');
                    }
                    push_hex(out, *g);
                }
            };
            if best_len > 1 {
                hex(&mut out, &groups[..best]);
                out.push_str("::");
                hex(&mut out, &groups[best + best_len..]);
            } else {
                hex(&mut out, &groups);
            }
        }
    }
    out.push('/');
    push_decimal(&mut out, u32::from(net.prefix_len()));
    out
}

fn push_decimal(out: &mut String, v: u32) {
    if v >= 10 {
        push_decimal(out, v / 10);
    }
    out.push(char::from(b'0' + (v % 10) as u8));
}

fn push_hex(out: &mut String, g: u16) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut started = false;
    for shift in [12u16, 8, 4, 0] {
        let d = usize::from((g >> shift) & 0xF);
        if d != 0 || started || shift == 0 {
            out.push(char::from(DIGITS[d]));
            started = true;
        }
    }
}

/// Parses a host name or `*.` wildcard as allowed in an allowlist (see
/// [`parse_cidr_allowlist`]), lower-cased and without a trailing dot.
pub fn parse_host_name(value: &str) -> Option<String> {
    let name = value.strip_suffix('.').unwrap_or(value);
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    let rest = name.strip_prefix("*.").unwrap_or(name);
    let mut labels = 0usize;
    if rest.len() < name.len() {
        labels += 1;
    }
    let mut last = "";
    for label in rest.split('.') {
        let b = label.as_bytes();
        if b.is_empty() || b.len() > 63 || b[0] == b'-' || b[b.len() - 1] == b'-' {
            return None;
        }
        if !b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-') {
            return None;
        }
        labels += 1;
        last = label;
    }
    if labels < 2 || last.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// A non-blank line: a CIDR or address read on the fast path, or the
/// line's text (comment and surrounding whitespace removed) for the caller
/// to parse.
#[derive(Clone, Copy)]
enum Value<'a> {
    Net(IpNet),
    Text(&'a str),
}

/// Calls `f(line_number, value)` for each non-blank line of a piece of a
/// list whose first line is line `lines_before + 1`. One pass over the
/// bytes: an IPv4 or IPv6 line is parsed where it stands, its end found by
/// the parse itself; any other line is cut at its `\n`, its comment and
/// surrounding whitespace removed.
fn for_each_value_from(input: &str, lines_before: usize, mut f: impl FnMut(usize, Value<'_>)) {
    let b = input.as_bytes();
    let mut pos = 0usize;
    let mut line = lines_before;
    while pos < b.len() {
        line += 1;
        // Millions of lines take seconds: stop when the run is given up.
        if line.trailing_zeros() >= 16 && crate::cancel::requested() {
            break;
        }
        let mut p = pos;
        while p < b.len() && matches!(b[p], b' ' | b'\t') {
            p += 1;
        }
        let fast = match parse_v4_at(b, p) {
            Some((net, end)) => Some((IpNet::V4(net), end)),
            None => parse_v6_at(b, p)
                .and_then(|(bits, len, end)| Some((IpNet::V6(v6_net(bits, len)?), end))),
        };
        if let Some((net, end)) = fast {
            let mut r = end;
            while r < b.len() && matches!(b[r], b' ' | b'\t' | b'\r') {
                r += 1;
            }
            match b.get(r) {
                None => {
                    f(line, Value::Net(net));
                    break;
                }
                Some(b'\n') => {
                    f(line, Value::Net(net));
                    pos = r + 1;
                    continue;
                }
                Some(b'#') => {
                    f(line, Value::Net(net));
                    pos = line_end(b, r) + 1;
                    continue;
                }
                Some(_) => {}
            }
        }
        let end = line_end(b, pos);
        // `pos` and `end` are at ASCII bytes (or the ends), so char
        // boundaries; `get` keeps that from ever panicking.
        let raw = input.get(pos..end).unwrap_or_default();
        let value = match raw.find('#') {
            Some(c) => &raw[..c],
            None => raw,
        };
        let value = value.trim_ascii();
        if !value.is_empty() {
            f(line, Value::Text(value));
        }
        pos = end + 1;
    }
}

/// An upper bound of the entries in `input`, to allocate once: growing a
/// vector of a million entries by doubling copies it twenty times.
fn line_count(input: &str) -> usize {
    input.bytes().filter(|&b| b == b'\n').count() + 1
}

/// The index of the `\n` ending the line that holds `from`, or the length.
fn line_end(b: &[u8], from: usize) -> usize {
    b.get(from..)
        .and_then(|rest| rest.iter().position(|&c| c == b'\n'))
        .map_or(b.len(), |i| from + i)
}

fn error(source: &str, line: usize, value: &str, reason: String) -> ParseError {
    let text = match value.char_indices().nth(MAX_ERROR_TEXT) {
        Some((cut, _)) => value[..cut].to_owned(),
        None => value.to_owned(),
    };
    ParseError {
        origin: Origin {
            source: Arc::from(source),
            line,
        },
        text,
        reason,
    }
}

/// Parses exactly `a.b.c.d` or `a.b.c.d/n` (host bits cleared).
fn parse_v4(b: &[u8]) -> Option<Ipv4Net> {
    match parse_v4_at(b, 0) {
        Some((net, end)) if end == b.len() => Some(net),
        _ => None,
    }
}

/// Parses `a.b.c.d` or `a.b.c.d/n` starting at `b[start]` (host bits
/// cleared), returning the network and the index after it. The caller
/// checks what follows; a digit, `.` or `/` there means the text is not a
/// valid CIDR.
fn parse_v4_at(b: &[u8], start: usize) -> Option<(Ipv4Net, usize)> {
    let mut i = start;
    let mut addr: u32 = 0;
    for octet in 0..4 {
        let first = i;
        let mut v: u32 = 0;
        while i < b.len() && i - first < 3 && b[i].is_ascii_digit() {
            v = v * 10 + u32::from(b[i] - b'0');
            i += 1;
        }
        let n = i - first;
        if n == 0 || v > 255 || (n > 1 && b[first] == b'0') {
            return None;
        }
        addr = (addr << 8) | v;
        if octet < 3 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
    }
    let mut prefix = 32u8;
    if b.get(i) == Some(&b'/') {
        i += 1;
        let first = i;
        let mut p = 0u8;
        while i < b.len() && i - first < 2 && b[i].is_ascii_digit() {
            p = p * 10 + (b[i] - b'0');
            i += 1;
        }
        if i == first || p > 32 {
            return None;
        }
        prefix = p;
    }
    if b.get(i)
        .is_some_and(|c| c.is_ascii_digit() || *c == b'.' || *c == b'/')
    {
        return None;
    }
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    let net = Ipv4Net::new(Ipv4Addr::from(addr & mask), prefix).ok()?;
    Some((net, i))
}

/// Parses `ADDR/LEN` or a bare address (a `/32` or `/128`); host bits are
/// cleared. The CIDR parser of every format (feeds, firewall rules): the
/// plain-list one, with its diagnosis of what is wrong.
pub(crate) fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let t = text.trim();
    parse_net(t).ok_or_else(|| diagnose(t, false))
}

/// Whether a line is an `iptables-save` line or an `iptables` command
/// (told apart from a list value, and by the firewall detection).
pub(crate) fn is_iptables_line(line: &str) -> bool {
    let t = line.trim();
    let mut chars = t.chars();
    let first = chars.next();
    let second = chars.next();
    ["-A ", "-I ", "-P ", "-N ", "iptables ", "ip6tables "]
        .iter()
        .any(|p| t.starts_with(p))
        || t == "COMMIT"
        || (matches!(first, Some('*' | ':')) && second.is_some_and(|c| c.is_ascii_alphabetic()))
}

/// Why `value` is not a CIDR or address (or host name, with `names`).
pub(crate) fn diagnose(value: &str, names: bool) -> String {
    if is_iptables_line(value) {
        return "an iptables rule in a plain list (for iptables-save output give \
                --allowlist-format iptables)"
            .to_owned();
    }
    let (addr, prefix) = match value.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (value, None),
    };
    if let Ok(ip) = addr.parse::<IpAddr>() {
        let (family, max) = if ip.is_ipv4() {
            ("IPv4", 32)
        } else {
            ("IPv6", 128)
        };
        return match prefix.map(str::parse::<u32>) {
            Some(Ok(n)) if n > max => {
                format!("prefix length {n} is out of range for {family} (0-{max})")
            }
            Some(_) => "invalid prefix length".to_owned(),
            None => format!("invalid {family} address"),
        };
    }
    if let Some((host, _)) = addr.split_once(':')
        && host.parse::<Ipv4Addr>().is_ok()
    {
        return "a port is not allowed here".to_owned();
    }
    let v4ish = addr.bytes().all(|c| c.is_ascii_digit() || c == b'.');
    if v4ish && addr.contains('.') {
        "invalid IPv4 address".to_owned()
    } else if addr.contains(':') {
        "invalid IPv6 address".to_owned()
    } else if names && prefix.is_none() {
        "not a CIDR, IP address or valid host name".to_owned()
    } else if names {
        "not a CIDR, IP address or host name".to_owned()
    } else {
        "not a CIDR or IP address".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> IpNet {
        s.parse().unwrap()
    }

    #[test]
    fn feed_lines() {
        let input = "\u{feff}# vendor list\r\n\
                     10.0.0.0/8\r\n\
                     \r\n\
                     192.0.2.1   # a single host\n\
                     \t10.1.2.3/8\n\
                     2001:db8::/32\n\
                     2001:db8::1\n\
                     2001:db8::1/64 # host bits\n\
                     0.0.0.0/0\n\
                     255.255.255.255\n\
                     1.2.3.4/01";
        let (feed, errors) = parse_cidr_feed("feed.txt", input, false);
        let entries = &feed.entries;
        assert!(errors.is_empty(), "{errors:?}");
        let nets: Vec<IpNet> = entries.iter().map(|e| e.net).collect();
        assert_eq!(
            nets,
            vec![
                n("10.0.0.0/8"),
                n("192.0.2.1/32"),
                n("10.0.0.0/8"),
                n("2001:db8::/32"),
                n("2001:db8::1/128"),
                n("2001:db8::/64"),
                n("0.0.0.0/0"),
                n("255.255.255.255/32"),
                n("0.0.0.0/1"),
            ]
        );
        let lines: Vec<u32> = entries.iter().map(|e| e.line).collect();
        assert_eq!(lines, vec![2, 4, 5, 6, 7, 8, 9, 10, 11]);
        assert!(entries.iter().all(|e| e.label == 0));
        assert_eq!(feed.labels, vec![crate::model::Label::default()]);
    }

    #[test]
    fn feed_errors() {
        let input = "10.0.0.0/8\n\
                     10.0.0.256\n\
                     10.0.0.0/33\n\
                     2001:db8::/129\n\
                     api.example.com\n\
                     010.0.0.1\n\
                     10.0.0\n\
                     1.2.3.4 5.6.7.8\n\
                     10.0.0.0/\n\
                     fe80::1%eth0\n\
                     10.0.0.0/8 # fine\n";
        let (feed, errors) = parse_cidr_feed("f", input, true);
        assert_eq!(feed.entries.len(), 2);
        let got: Vec<(usize, &str)> = errors
            .iter()
            .map(|e| (e.origin.line, e.text.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "10.0.0.256"),
                (3, "10.0.0.0/33"),
                (4, "2001:db8::/129"),
                (5, "api.example.com"),
                (6, "010.0.0.1"),
                (7, "10.0.0"),
                (8, "1.2.3.4 5.6.7.8"),
                (9, "10.0.0.0/"),
                (10, "fe80::1%eth0"),
            ]
        );
        assert_eq!(errors[0].reason, "invalid IPv4 address");
        assert_eq!(
            errors[1].reason,
            "prefix length 33 is out of range for IPv4 (0-32)"
        );
        assert_eq!(
            errors[2].reason,
            "prefix length 129 is out of range for IPv6 (0-128)"
        );
        assert_eq!(errors[3].reason, "not a CIDR or IP address");
        assert_eq!(errors[7].reason, "invalid prefix length");
        assert_eq!(
            errors[1].to_string(),
            "f:3: prefix length 33 is out of range for IPv4 (0-32) (`10.0.0.0/33`)"
        );
        let long = "x".repeat(500);
        let (_, errors) = parse_cidr_feed("f", &long, false);
        assert_eq!(errors[0].text.chars().count(), 200);
        let (_, errors) = parse_cidr_feed("f", &"é".repeat(300), false);
        assert_eq!(errors[0].text.chars().count(), 200);
    }

    #[test]
    fn allowlist_names() {
        let input = "API.Example.com\n\
                     *.Example.com.\n\
                     10.0.0.1/8\n\
                     a-b.c0.io\n\
                     localhost\n\
                     *.*.example.com\n\
                     a.*.example.com\n\
                     -a.example.com\n\
                     a-.example.com\n\
                     a_b.example.com\n\
                     example.123\n\
                     a..example.com\n\
                     *example.com\n\
                     xn--bcher-kva.example\n";
        let (list, errors) = parse_cidr_allowlist("allow.txt", input);
        let names: Vec<(&str, u32)> = list
            .names
            .iter()
            .map(|e| (e.name.as_str(), e.at.line))
            .collect();
        assert_eq!(
            names,
            vec![
                ("api.example.com", 1),
                ("*.example.com", 2),
                ("a-b.c0.io", 4),
                ("xn--bcher-kva.example", 14),
            ]
        );
        let nets: Vec<(IpNet, u32)> = list.entries.iter().map(|e| (e.net, e.at.line)).collect();
        assert_eq!(nets, vec![(n("10.0.0.0/8"), 3)]);
        assert_eq!(list.rules, vec![crate::model::Rule::default()]);
        assert!(list.entries.iter().all(|e| e.rule == 0) && list.names.iter().all(|e| e.rule == 0));
        assert_eq!(list.origin(list.entries[0].at).to_string(), "allow.txt:3");
        let lines: Vec<usize> = errors.iter().map(|e| e.origin.line).collect();
        assert_eq!(lines, vec![5, 6, 7, 8, 9, 10, 11, 12, 13]);
        assert_eq!(
            errors[0].reason,
            "not a CIDR, IP address or valid host name"
        );
        let long = format!("{}.com", "a".repeat(64));
        assert!(parse_host_name(&long).is_none());
        let ok = format!("{}.com", "a".repeat(63));
        assert!(parse_host_name(&ok).is_some());
        let too_long = format!("{}com", "abcdefghi.".repeat(26));
        assert!(too_long.len() > 253 && parse_host_name(&too_long).is_none());
    }

    /// The single-pass scanner agrees with a plain split / trim / parse.
    type Lines = (Vec<(usize, IpNet)>, Vec<(usize, String)>);

    fn reference(input: &str) -> Lines {
        let input = input.strip_prefix('\u{feff}').unwrap_or(input);
        let (mut ok, mut bad) = (Vec::new(), Vec::new());
        for (i, raw) in input.split('\n').enumerate() {
            let value = raw.split('#').next().unwrap_or("").trim_ascii();
            if value.is_empty() {
                continue;
            }
            match parse_net(value) {
                Some(net) => ok.push((i + 1, net)),
                None => bad.push((i + 1, value.chars().take(200).collect())),
            }
        }
        (ok, bad)
    }

    #[test]
    fn fast_ipv6_agrees_with_the_standard_parser_on_edge_cases() {
        for text in [
            "::",
            "::1",
            "1::",
            "1::2",
            "2001:db8::/32",
            "2001:db8::1/128",
            "ff02::1:2/64",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8/129",
            ":1",
            "1:",
            "1:::2",
            "1::2::3",
            "12345::",
            "1:2:3:4:5:6:7:8:9",
            "::ffff:1.2.3.4",
            "g::",
            "1::/",
            "1::/01",
            "::/0",
            "1:2:3:4:5:6:7::8",
        ] {
            let std = text
                .parse::<Ipv6Net>()
                .or_else(|_| {
                    text.parse::<Ipv6Addr>()
                        .map(|a| Ipv6Net::new(a, 128).unwrap())
                })
                .ok()
                .map(|n| IpNet::V6(n.trunc()));
            assert_eq!(parse_net(text), std, "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_ipv6_agrees_with_the_standard_parser(text in "[0-9a-fA-F:./]{0,24}") {
            proptest::prop_assume!(text.contains(':'));
            let std = text
                .parse::<Ipv6Net>()
                .or_else(|_| text.parse::<Ipv6Addr>().map(|a| Ipv6Net::new(a, 128).unwrap()))
                .ok()
                .map(|n| IpNet::V6(n.trunc()));
            // The standard parser reads `/01` as 1; lists never mean that.
            let leading_zero = text.split('/').nth(1).is_some_and(|l| l.len() > 1 && l.starts_with('0'));
            if !leading_zero {
                proptest::prop_assert_eq!(parse_net(&text), std);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn cidr_string_is_display(bits in proptest::num::u128::ANY, v4 in proptest::num::u32::ANY, len in 0u8..=128, zeros in 0usize..8, at in 0usize..8) {
            // Zero runs of every length and place exercise `::`.
            let mask = if zeros > 0 { !((u128::MAX >> (128 - 16 * zeros)) << (16 * at.min(8 - zeros))) } else { u128::MAX };
            let net = IpNet::V6(Ipv6Net::new(Ipv6Addr::from(bits & mask), len).unwrap());
            proptest::prop_assert_eq!(cidr_string(&net), net.to_string());
            let net = IpNet::V4(Ipv4Net::new(Ipv4Addr::from(v4), len % 33).unwrap());
            proptest::prop_assert_eq!(cidr_string(&net), net.to_string());
        }
    }

    #[test]
    fn cidr_string_edge_cases() {
        for text in [
            "::/0",
            "::1/128",
            "1::/16",
            "::ffff:1.2.3.4/128",
            "1:0:0:1:0:0:0:1/128",
            "1:0:0:1:0:0:1:1/128",
            "0.0.0.0/0",
            "255.255.255.255/32",
            "1:2:3:4:5:6:7:8/128",
            "1:0:2:3:4:5:6:7/128",
        ] {
            let net: IpNet = text.parse().unwrap();
            assert_eq!(cidr_string(&net), net.to_string(), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn fast_ipv6_round_trips(bits in proptest::num::u128::ANY, len in 0u8..=128, zeros in 0usize..8) {
            // Runs of zero groups exercise `::` compression.
            let bits = if zeros > 0 { bits & !(((1u128 << (16 * zeros)) - 1) << 16) } else { bits };
            let text = format!("{}/{len}", Ipv6Addr::from(bits));
            let want = Ipv6Net::new(Ipv6Addr::from(bits), len).unwrap().trunc();
            proptest::prop_assert_eq!(parse_net(&text), Some(IpNet::V6(want)));
            proptest::prop_assert_eq!(parse_v6_fast(text.as_bytes()).map(|(b, _)| b), Some(bits).filter(|_| !text.contains('.')));
        }
    }

    proptest::proptest! {
        #[test]
        fn scanner_matches_reference(
            parts in proptest::collection::vec(
                proptest::sample::select(vec![
                    "1.2.3.4", "10.0.0.1/8", "255.255.255.255/32", "0.0.0.0/0", "1.2.3.4/33",
                    "1.2.3", "01.2.3.4", "1.2.3.4.5", "1.2.3.456", "1.2.3.4/", "1.2.3.4/8/9",
                    "1.2.3.4/123", "2001:db8::/32", "::1", "x", "#", "# c", " ", "\t", "\r",
                    "\n", "\r\n", "/", ".", "é", "1.2.3.4:80", "9", "\u{feff}",
                    "2001:DB8::1/64", "::", "1::/0", "::ffff:1.2.3.4", "fe80::1%eth0",
                    "1:2:3:4:5:6:7:8", "1::2::3", "1:2:3:4:5:6:7:8/129", "::1/", ":", "1:",
                ]),
                0..24,
            )
        ) {
            let input: String = parts.concat();
            let (feed, errors) = parse_cidr_feed("s", &input, false);
            let got_ok: Vec<(usize, IpNet)> = feed.entries.iter().map(|e| (e.line as usize, e.net)).collect();
            let got_bad: Vec<(usize, String)> = errors.iter().map(|e| (e.origin.line, e.text.clone())).collect();
            let (want_ok, want_bad) = reference(&input);
            proptest::prop_assert_eq!(got_ok, want_ok);
            proptest::prop_assert_eq!(got_bad, want_bad);
        }
    }

    proptest::proptest! {
        #[test]
        fn pieces_read_as_the_whole(
            lines in proptest::collection::vec(proptest::sample::select(vec![
                "10.0.0.0/8", "10.0.0.1", "2001:db8::/32", "bad", "# c", "", "api.example.com",
                "10.0.0.0/8 # again", "\u{feff}1.2.3.4",
            ]), 0..30),
            cuts in proptest::collection::vec(0usize..200, 0..6),
        ) {
            let text = lines.join("\n");
            let mut whole = PlainListReader::new("f", true);
            whole.push(&text);
            let whole = whole.finish();
            let mut pieces = PlainListReader::new("f", true);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(text.len())).collect();
            cuts.sort_unstable();
            let mut at = 0;
            for c in cuts.into_iter().chain([text.len()]) {
                let c = (c..=text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
                if c >= at {
                    pieces.push(&text[at..c]);
                    at = c;
                }
            }
            let pieces = pieces.finish();
            proptest::prop_assert_eq!(&pieces.nets, &whole.nets);
            proptest::prop_assert_eq!(&pieces.names, &whole.names);
            proptest::prop_assert_eq!(pieces.duplicates, whole.duplicates);
            proptest::prop_assert_eq!(pieces.errors, whole.errors);
        }
    }

    #[test]
    fn repeats_are_counted_not_kept() {
        let mut reader = PlainListReader::new("a", true);
        reader.push("10.0.0.0/8\n10.0.0.1/8\n\n10.0.0.0/8\n");
        let list = reader.finish().allowlist();
        assert_eq!(list.entries.len(), 1);
        assert_eq!(list.duplicate_lines, 2);
        let lines: Vec<(u32, u32)> = list
            .duplicate_examples
            .iter()
            .map(|(d, f)| (d.line, f.line))
            .collect();
        assert_eq!(lines, [(2, 1), (4, 1)]);
    }

    #[test]
    fn inline_comments_and_spacing() {
        let input = "1.2.3.4#c\n  1.2.3.5/32 \t# c\n1.2.3.4:80\n1.2.3.4/8/9\n\t\n1.2.3.6";
        let (feed, errors) = parse_cidr_feed("f", input, false);
        let entries = &feed.entries;
        let nets: Vec<IpNet> = entries.iter().map(|e| e.net).collect();
        assert_eq!(
            nets,
            vec![n("1.2.3.4/32"), n("1.2.3.5/32"), n("1.2.3.6/32")]
        );
        assert_eq!(entries[2].line, 6);
        assert_eq!(errors.len(), 2);
        assert_eq!(errors[0].reason, "a port is not allowed here");
        assert_eq!(
            (errors[1].origin.line, errors[1].text.as_str()),
            (4, "1.2.3.4/8/9")
        );
    }

    #[test]
    fn no_panic_on_odd_input() {
        for s in [
            "/",
            "//",
            "1.2.3.4/",
            "1.2.3.4/999",
            ":",
            "::/",
            "*.",
            "*",
            ".",
            "\u{0}",
            "1.2.3.4/3a",
            "#",
            "\r",
        ] {
            let _ = parse_cidr_allowlist("x", s);
            let _ = parse_cidr_feed("x", s, false);
        }
    }

    #[test]
    fn parse_cidr_forms() {
        assert_eq!(
            parse_cidr(" 10.1.2.3/8 ").unwrap().to_string(),
            "10.0.0.0/8"
        );
        assert_eq!(parse_cidr("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(
            parse_cidr("2001:db8::1").unwrap().to_string(),
            "2001:db8::1/128"
        );
        assert!(parse_cidr("10.0.0.0/33").is_err());
        assert!(parse_cidr("10.0.0.0/+8").is_err());
        assert!(parse_cidr("10.0.0.0/").is_err());
        assert!(parse_cidr("example.com").is_err());
        assert!(parse_cidr("").is_err());
    }
}
