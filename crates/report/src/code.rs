//! The finding-code registry: one table holds each code's wire name,
//! severity, message, remedy and explanation. `reach explain` and every
//! report read this same table.

use std::fmt;
use std::str::FromStr;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Severity;

/// Everything the registry knows about one code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeInfo {
    /// Stable wire name, e.g. `tls.cert_expired`.
    pub name: &'static str,
    /// Default severity of a finding with this code.
    pub severity: Severity,
    /// One-line summary: what went wrong.
    pub message: &'static str,
    /// What to do about it.
    pub remedy: &'static str,
    /// Longer text for `reach explain`: how reach detects it and why it matters.
    pub explanation: &'static str,
}

macro_rules! codes {
    ($(
        $(#[$meta:meta])*
        $variant:ident = $name:literal, $sev:ident,
            message: $message:literal,
            remedy: $remedy:literal,
            explain: $explain:literal;
    )*) => {
        /// A stable finding code. The wire name (`Code::name`) never changes
        /// once published; new codes may be added.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
        #[non_exhaustive]
        pub enum Code {
            $(
                $(#[$meta])*
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl Code {
            /// Every code, in registry order (grouped by area).
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// The registry entry of this code.
            pub fn info(self) -> &'static CodeInfo {
                match self {
                    $(Code::$variant => &CodeInfo {
                        name: $name,
                        severity: Severity::$sev,
                        message: $message,
                        remedy: $remedy,
                        explanation: $explain,
                    },)*
                }
            }
        }
    };
}

impl Code {
    /// The stable wire name, e.g. `dns.nxdomain`.
    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// The area prefix (`dns`, `tcp`, `tls`, …).
    pub fn area(self) -> &'static str {
        let name = self.name();
        name.split('.').next().unwrap_or(name)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of parsing an unknown code name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode(pub String);

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown finding code `{}`", self.0)
    }
}

impl std::error::Error for UnknownCode {}

impl FromStr for Code {
    type Err = UnknownCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim();
        Code::ALL
            .iter()
            .copied()
            .find(|c| c.name().eq_ignore_ascii_case(wanted))
            .ok_or_else(|| UnknownCode(s.to_owned()))
    }
}

impl Code {
    /// The codes every one of `words` is found in, best first: for
    /// `reach explain WORD…`. A word matches where a word of the code's
    /// name, message, remedy or explanation starts with it, ignoring case
    /// (`cert` finds "certificate", `expired` finds `tls.cert_expired`,
    /// `out` does not find "timeout"). Codes with more words in their name
    /// come first, then those with more in their message; ties keep
    /// registry order. No words, no codes.
    pub fn search<S: AsRef<str>>(words: &[S]) -> Vec<Code> {
        let words: Vec<String> = words
            .iter()
            .map(|w| w.as_ref().to_lowercase())
            .filter(|w| !w.is_empty())
            .collect();
        if words.is_empty() {
            return Vec::new();
        }
        let mut found: Vec<((usize, usize), Code)> = Vec::new();
        'codes: for code in Code::ALL {
            let info = code.info();
            let name = info.name.to_lowercase();
            let message = info.message.to_lowercase();
            let rest = [info.remedy.to_lowercase(), info.explanation.to_lowercase()];
            let (mut in_name, mut in_message) = (0, 0);
            for word in &words {
                if has_word(&name, word) {
                    in_name += 1;
                } else if has_word(&message, word) {
                    in_message += 1;
                } else if !rest.iter().any(|text| has_word(text, word)) {
                    continue 'codes;
                }
            }
            found.push(((in_name, in_message), *code));
        }
        // Stable: equal ranks stay in registry order.
        found.sort_by_key(|(rank, _)| std::cmp::Reverse(*rank));
        found.into_iter().map(|(_, code)| code).collect()
    }

    /// Codes whose name is close to `name`, an unknown code-shaped name,
    /// closest first (at most six): a typo (`dns.nxdomian`), a prefix
    /// (`tls.cert`: the `tls.cert_*` codes) or the right code in the wrong
    /// area (`tls.timeout`: `dns.timeout`, `tcp.timeout`, `http.timeout`).
    pub fn similar(name: &str) -> Vec<Code> {
        let wanted = name.trim().to_lowercase();
        if wanted.is_empty() {
            return Vec::new();
        }
        let leaf = |n: &str| n.split_once('.').map_or("", |(_, rest)| rest).to_owned();
        let wanted_leaf = leaf(&wanted);
        let mut near: Vec<(usize, Code)> = Code::ALL
            .iter()
            .filter_map(|code| {
                let name = code.name();
                let typo = edit_distance(&wanted, name);
                let distance = if typo <= (wanted.chars().count() / 6).max(2) {
                    typo
                } else if wanted.contains('.') && name.starts_with(&wanted) {
                    3
                } else if wanted_leaf.len() >= 4 && edit_distance(&wanted_leaf, &leaf(name)) <= 1 {
                    4
                } else {
                    return None;
                };
                Some((distance, *code))
            })
            .collect();
        near.sort_by_key(|(distance, _)| *distance);
        near.into_iter().take(6).map(|(_, code)| code).collect()
    }
}

/// Whether `word` starts a word of `text` (both lowercase): at the start, or
/// after a character that is not a letter or digit. A word that itself
/// starts with punctuation (`--timeout`) may match anywhere.
fn has_word(text: &str, word: &str) -> bool {
    let starts_with_punct = !word.chars().next().is_some_and(char::is_alphanumeric);
    text.match_indices(word).any(|(at, _)| {
        starts_with_punct
            || !text[..at]
                .chars()
                .next_back()
                .is_some_and(char::is_alphanumeric)
    })
}

/// Edit distance where swapping two neighbours costs one (optimal string
/// alignment), over characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows: two back (for a swap), the previous, the current.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut current = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            current[j] = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                current[j] = current[j].min(before[j - 2] + 1);
            }
        }
        before = std::mem::replace(&mut previous, current);
    }
    previous[b.len()]
}

codes! {
    // ---- input -------------------------------------------------------
    /// The check could not run: its input (a URL, a flag value, a file line) is malformed.
    InputInvalid = "input.invalid", Fail,
        message: "The input could not be used",
        remedy: "Correct the value named in the message.",
        explain: "reach validates every target, flag value and input file before it touches the network. A value that cannot be parsed (a URL without a host, a --resolve entry that is not HOST:PORT:ADDR, an address that is not an IP) makes that one check end with status `error` and this finding; the other checks still run. The process exits with code 2.";

    /// Added to the first set of codes: reach itself failed (a bug).
    InternalError = "internal.error", Fail,
        message: "reach failed internally",
        remedy: "This is a bug in reach: please report it with the command line and the report.",
        explain: "A check ended because of a fault in reach itself, not in the network. The other checks are unaffected; the process exits with code 3.";

    // ---- dns ---------------------------------------------------------
    DnsNxdomain = "dns.nxdomain", Fail,
        message: "The name does not exist (NXDOMAIN)",
        remedy: "Check the spelling of the host name; if it is an internal or split-horizon name, query the DNS server that serves it (--dns-server) or ask the vendor for the correct host.",
        explain: "The DNS server answered NXDOMAIN: no such name. When the name is an alias (CNAME) whose target does not exist, the server also answers NXDOMAIN; reach shows the CNAME chain as evidence so you can see which link is broken. Common causes: a typo, a decommissioned vendor host, a private zone that this resolver does not see, or a DNS filter that answers NXDOMAIN for blocked names.";
    DnsNoRecords = "dns.no_records", Fail,
        message: "The name exists but has no address records (NODATA)",
        remedy: "The name has no A/AAAA record of the family asked for; check the record type the vendor publishes, or whether this network only resolves IPv4/IPv6.",
        explain: "The server answered NOERROR with an empty answer for both A and AAAA: the name exists (it may have other record types) but has no address. This differs from NXDOMAIN: the zone is reachable and authoritative, but holds no address for this name.";
    DnsServfail = "dns.servfail", Fail,
        message: "The DNS server failed to answer (SERVFAIL)",
        remedy: "The resolver could not resolve the name: often a DNSSEC validation failure, an unreachable authoritative server, or a broken delegation. Try another resolver (--dns-server) to tell a local resolver problem from a vendor zone problem.",
        explain: "SERVFAIL means the resolver gave up: the authoritative servers did not answer, the delegation is broken, or DNSSEC validation failed. It is not a statement that the name does not exist.";
    DnsTimeout = "dns.timeout", Fail,
        message: "No DNS answer before the timeout",
        remedy: "The DNS server did not answer: check that it is reachable (UDP and TCP port 53 allowed outbound) or point reach at a reachable one with --dns-server.",
        explain: "No answer arrived from any configured name server before the deadline. A firewall dropping DNS traffic, a resolver that is down, or a VPN that changed resolvers are the usual causes.";
    /// Added to the first set of codes: the server answered REFUSED.
    DnsRefused = "dns.refused", Fail,
        message: "The DNS server refused the query (REFUSED)",
        remedy: "This server will not answer this name for this machine: it is an authoritative server for other zones, or it allows recursion only to some clients. Use the resolver your network provides, or a server that serves this zone (--dns-server).",
        explain: "The server answered with rcode REFUSED: it is up and reachable, but declines the query by policy. Authoritative-only servers (Knot, NSD, BIND without recursion) refuse names outside their zones; recursive resolvers refuse clients outside their access list. Unlike SERVFAIL it says nothing about the name itself. With several servers, reach asks them all and reports what each did.";
    /// Added to the first set of codes: no DNS server could be reached at all.
    DnsUnreachable = "dns.unreachable", Fail,
        message: "No DNS server could be reached",
        remedy: "If the message says nothing listens on the server's port, the address or port is wrong or the DNS service is down: check --dns-server or /etc/resolv.conf. If it says the network is unreachable, this machine has no route to the server: check the network connection, the default route and the VPN.",
        explain: "The operating system reported an error for every DNS server before any answer: ICMP port unreachable from the server's host (nothing listens on that UDP port: connection refused), or no route to it (network or host unreachable, network down, no usable local address). reach ends at once with this finding instead of waiting for the timeout; the evidence gives each server's error.";

    // ---- tcp ---------------------------------------------------------
    TcpRefused = "tcp.refused", Fail,
        message: "The connection was refused (RST)",
        remedy: "Nothing listens on that address and port, or a firewall rejects actively. Check the port, that the service runs, and any reject rules between here and the host.",
        explain: "The host answered the SYN with a RST: it is reachable, but nothing accepts connections on that port (or a firewall rule is configured to reject). Contrast with tcp.timeout, where nothing answers at all.";
    TcpTimeout = "tcp.timeout", Fail,
        message: "The connection attempt timed out (SYN dropped: likely a firewall)",
        remedy: "Packets to this address are silently dropped: the classic symptom of an egress firewall or security group that does not allow the destination. Ask the network team to allow it, or allowlist the vendor's published ranges (see `reach allowlist`).",
        explain: "The SYN got no answer before the connect timeout: no SYN-ACK, no RST, no ICMP error. Firewalls and cloud security groups drop packets this way. reach tries every resolved address (IPv6 and IPv4) and records each attempt.";
    TcpUnreachable = "tcp.unreachable", Fail,
        message: "No route to the host (network or host unreachable)",
        remedy: "The local routing table or an ICMP unreachable message says there is no path: check the default route, VPN state and IPv6 connectivity (a host with an AAAA record but no IPv6 route fails this way).",
        explain: "The operating system reported EHOSTUNREACH or ENETUNREACH: either there is no route to the address, or a router answered with ICMP destination unreachable. Frequent with IPv6 addresses on networks without IPv6.";

    // ---- proxy -------------------------------------------------------
    ProxyConnectFailed = "proxy.connect_failed", Fail,
        message: "Could not connect to the proxy",
        remedy: "Check the proxy address (HTTPS_PROXY, HTTP_PROXY, --proxy) and that it is reachable from this machine.",
        explain: "The DNS lookup of, or the TCP connection to, the configured proxy failed, so the target was never tried.";
    ProxyAuthRequired = "proxy.auth_required", Fail,
        message: "The proxy requires authentication (407)",
        remedy: "Give proxy credentials in the proxy URL (http://user:password@proxy:port) or configure the connector's proxy authentication.",
        explain: "The proxy answered the CONNECT request with 407 Proxy Authentication Required: the credentials were missing or wrong.";
    ProxyDenied = "proxy.denied", Fail,
        message: "The proxy refused the tunnel",
        remedy: "The proxy's policy blocks this destination: ask the proxy administrators to allow the host and port.",
        explain: "The proxy answered CONNECT with 403 or another refusal, or closed the connection: its policy does not allow this destination.";

    /// Added to the first set of codes: the proxy answered, but could not reach the target.
    ProxyUpstreamFailed = "proxy.upstream_failed", Fail,
        message: "The proxy could not reach the target",
        remedy: "The proxy itself is reachable and accepted the request, but its own connection to the target failed (502/503/504): check the proxy's upstream firewall, DNS and the target's availability from the proxy.",
        explain: "The proxy answered CONNECT (or a forwarded request) with 502 Bad Gateway, 503 Service Unavailable or 504 Gateway Timeout: the failure is between the proxy and the target, not between this machine and the proxy. The proxy's Proxy-Status or X-Squid-Error header, when present, is in the evidence.";

    // ---- tls ---------------------------------------------------------
    TlsCertExpired = "tls.cert_expired", Fail,
        message: "The server certificate has expired",
        remedy: "The service owner must renew the certificate. If only you see it, check this machine's clock.",
        explain: "A certificate in the presented chain is past its not-after date. Clients refuse the connection.";
    TlsCertNotYetValid = "tls.cert_not_yet_valid", Fail,
        message: "The server certificate is not valid yet",
        remedy: "Check this machine's clock first; otherwise the service deployed a certificate before its not-before date.",
        explain: "A certificate in the presented chain has a not-before date in the future relative to this machine's clock.";
    TlsCertExpiringSoon = "tls.cert_expiring_soon", Warn,
        message: "The server certificate expires soon",
        remedy: "Ask the service owner to renew it before it expires; the threshold is --expiry-warn-days.",
        explain: "The leaf certificate is valid now but expires within the warning threshold.";
    TlsHostnameMismatch = "tls.hostname_mismatch", Fail,
        message: "The certificate does not cover the host name",
        remedy: "Use a host name the certificate covers (see the evidence), or ask the service owner to add this name to the certificate.",
        explain: "None of the certificate's subject alternative names matches the name reach connected to. Often a wrong host name, a load balancer serving a default certificate, or SNI not being routed.";
    TlsUntrustedIssuer = "tls.untrusted_issuer", Fail,
        message: "The certificate chain does not lead to a trusted root",
        remedy: "If the issuer is your organisation's CA, pass it with --ca-file (and install it where the connector runs); otherwise the certificate is self-signed or from an unknown CA and the service owner must fix it.",
        explain: "The chain is complete but ends in a root that is not in the system trust store nor in --ca-file: a self-signed certificate or a private CA.";
    TlsIncompleteChain = "tls.incomplete_chain", Fail,
        message: "The server does not send the intermediate certificate",
        remedy: "The service owner must configure the full chain (leaf plus intermediates). Browsers may hide this by fetching the missing issuer (AIA), while connectors, Java and Python clients fail.",
        explain: "The leaf is issued by an intermediate that the server did not send and that is not in the trust store. Browsers often work anyway because they fetch or cache the intermediate; most API clients do not.";
    TlsProtocolTooOld = "tls.protocol_too_old", Fail,
        message: "The server only speaks an obsolete TLS version",
        remedy: "TLS 1.0 and 1.1 are refused by modern clients: the service owner must enable TLS 1.2 or 1.3.",
        explain: "The server refused TLS 1.2 and 1.3; reach found out which older version it picks.";
    TlsClientCertRequired = "tls.client_cert_required", Fail,
        message: "The server requires a client certificate",
        remedy: "Pass the client certificate and key the service expects (--client-cert, --client-key).",
        explain: "The server asked for a client certificate (mutual TLS) and none, or one it does not accept, was presented.";
    TlsIntercepted = "tls.intercepted", Warn,
        message: "The connection is intercepted by an inspecting proxy",
        remedy: "A TLS-inspecting proxy re-signs this site. Ask the network team to exempt the vendor's hosts from inspection; connectors that pin certificates or use their own trust store fail through it.",
        explain: "The chain is issued by a CA known to belong to a TLS inspection product (Zscaler, Netskope, Palo Alto, Fortinet, Blue Coat, Cisco Umbrella, Check Point, …).";
    TlsHandshakeFailed = "tls.handshake_failed", Fail,
        message: "The TLS handshake failed",
        remedy: "See the alert or error in the evidence; check that the port speaks TLS and that client and server share a protocol version and cipher.",
        explain: "The TLS handshake did not complete for a reason other than certificate validation: a TLS alert from the server, a non-TLS service on the port, or a connection closed mid-handshake.";

    /// Added to the first set of codes: a key or signature modern clients refuse.
    TlsWeakCertificate = "tls.weak_certificate", Fail,
        message: "A certificate in the chain uses a key or signature clients refuse",
        remedy: "The service owner must reissue the certificate with an RSA key of 2048 bits or more (or an EC key) and a SHA-256 (or stronger) signature.",
        explain: "A presented certificate is signed with SHA-1 (or MD5), or carries an RSA key shorter than 2048 bits. OpenSSL at its default security level says \"CA signature digest algorithm too weak\" (68) or \"EE certificate key too weak\" (66); browsers, Java, Go and rustls refuse the connection.";
    /// Added to the first set of codes: the host name is only in the subject CN.
    TlsNameOnlyInCommonName = "tls.name_only_in_common_name", Warn,
        message: "The certificate names the host only in its Common Name",
        remedy: "Ask the service owner to reissue the certificate with the host in its subjectAltName: browsers, Go and Python clients refuse a certificate without one, while OpenSSL-based clients such as curl still accept it.",
        explain: "The certificate has no subjectAltName DNS names; its subject Common Name matches the host. OpenSSL (and so curl and openssl s_client) falls back to the CN and accepts it; browsers since 2017, Go since 1.15 and Python's ssl module do not. reach completes the check as OpenSSL would and warns.";
    /// Added to the first set of codes: a CA certificate serving as the server's own.
    TlsCaAsServerCert = "tls.ca_as_server_cert", Info,
        message: "The server certificate is a CA certificate (CA:TRUE) trusted by --ca-file",
        remedy: "OpenSSL and curl accept it because the certificate itself is in --ca-file; strict clients (rustls, Go with some settings, webpki-based connectors) refuse a CA:TRUE certificate as a server certificate. Reissue it with basicConstraints CA:FALSE, or from a CA, for those clients.",
        explain: "`openssl req -x509` makes a self-signed certificate with basicConstraints CA:TRUE. Given as its own --ca-file it is trusted, as it is by openssl s_client -CAfile and curl --cacert; reach accepts it after checking its dates and name, and notes that stricter clients will not.";

    // ---- http --------------------------------------------------------
    HttpStatusError = "http.status_error", Fail,
        message: "The server answered with an error status",
        remedy: "The network path works; the application refused the request. 401/403: credentials or IP restrictions; 404: wrong path; 5xx: the service is failing.",
        explain: "The HTTP response status was 4xx or 5xx. Everything below HTTP (DNS, TCP, TLS) succeeded.";
    HttpTimeout = "http.timeout", Fail,
        message: "The server accepted the connection but did not answer in time",
        remedy: "The service (or a proxy in between) is overloaded or hung. Retry with a longer --timeout to tell a slow service from a hung one.",
        explain: "The connection was established but no complete response arrived before the deadline.";
    HttpRedirectLoop = "http.redirect_loop", Fail,
        message: "The redirects loop back to an address already visited",
        remedy: "The service redirects in a circle: typically a cookie or session that is not kept, or an http/https or host canonicalisation rule fighting another.",
        explain: "While following redirects, reach reached a URL it had already requested.";
    HttpTooManyRedirects = "http.too_many_redirects", Fail,
        message: "Too many redirects",
        remedy: "The chain is longer than --max-redirects; raise the limit if the chain is legitimate, otherwise fix the redirect rules.",
        explain: "The number of redirects exceeded the limit before a final response.";
    HttpHttpsDowngrade = "http.https_downgrade", Warn,
        message: "A redirect downgrades from HTTPS to plain HTTP",
        remedy: "Credentials and cookies would travel unencrypted: the service must redirect to an https:// URL.",
        explain: "An https:// response redirected to an http:// URL.";

    /// Added to the first set of codes: plain HTTP sent to a port that speaks TLS.
    HttpWrongScheme = "http.wrong_scheme", Fail,
        message: "Plain HTTP was sent to a port that speaks HTTPS",
        remedy: "Use the https:// URL given in the message (the port expects TLS).",
        explain: "The URL says http://, but the server on that port speaks TLS: nginx answers 400 \"The plain HTTP request was sent to HTTPS port\", other servers send a TLS alert or close. reach confirms it by a TLS hello on a new connection, and gives the https:// URL.";

    /// Added to the first set of codes: the peer answered, but not with HTTP.
    HttpProtocolError = "http.protocol_error", Fail,
        message: "The server's answer is not valid HTTP",
        remedy: "Something other than the expected HTTP service answers on this port (or it closed the connection without a response): check the port and scheme (http:// vs https://), and any proxy or load balancer in between.",
        explain: "The connection was established, but the response could not be parsed as HTTP (malformed status line or headers, a closed connection before any response, a lying Content-Length). The evidence holds the parser's error.";

    /// Added to the first set of codes: a body larger than the read cap.
    HttpBodyTruncated = "http.body_truncated", Info,
        message: "The response body is longer than the read cap",
        remedy: "Nothing to fix if a large body is expected; raise --max-body to read more of it.",
        explain: "reach counts body bytes without keeping them and stops at --max-body (1 MiB by default), so an endless or huge body cannot exhaust memory or time. The check's status is not affected.";

    // ---- allowlist ---------------------------------------------------
    AllowlistGap = "allowlist.gap", Fail,
        message: "Published ranges are not covered by the allowlist",
        remedy: "Add the uncovered CIDRs listed in the evidence to the allowlist.",
        explain: "Some addresses in the vendor's published ranges are not allowed by any allowlist entry: connections to them will be blocked.";
    AllowlistHostNotCovered = "allowlist.host_not_covered", Fail,
        message: "A host resolves to an address outside the allowlist",
        remedy: "Allow the address (or the vendor's range containing it), or add an FQDN entry if the firewall supports them.",
        explain: "The host name resolved to an address that no allowlist entry covers.";
    AllowlistStaleEntry = "allowlist.stale_entry", Info,
        message: "An allowlist entry covers nothing the vendor publishes",
        remedy: "The vendor may have retired the range: consider removing the entry.",
        explain: "The entry does not intersect any published range.";
    AllowlistRedundantEntry = "allowlist.redundant_entry", Info,
        message: "An allowlist entry is contained in another entry",
        remedy: "The entry can be removed without changing what is allowed.",
        explain: "Every address of the entry is also allowed by another entry.";
    AllowlistOverlyBroad = "allowlist.overly_broad", Warn,
        message: "An allowlist entry is very broad",
        remedy: "Replace it with the vendor's published ranges; the threshold is --broad-prefix.",
        explain: "The entry is wider than the broad-prefix threshold (/8 for IPv4, /32 for IPv6 by default).";
    AllowlistShadowedRule = "allowlist.shadowed_rule", Warn,
        message: "An accepting firewall rule is overridden by an earlier DROP or REJECT rule",
        remedy: "Move the ACCEPT rule above the blocking rule, or narrow the blocking rule; only what the ACCEPT rule still allows is counted.",
        explain: "Firewalls apply the first matching rule of a chain: addresses an earlier DROP / REJECT rule of the same chain matches (for the port asked about with --port, else for every port) never reach the later ACCEPT rule. reach subtracts them from its coverage.";
    /// Added to the first set of codes: an accepting rule that does not count.
    AllowlistRuleNotCounted = "allowlist.rule_not_counted", Info,
        message: "Accepting firewall rules do not count toward coverage",
        remedy: "Nothing to fix if these rules are not meant for this traffic. To have a rule count, make it accept new TCP connections (to the --port asked about) by destination address, port and protocol alone, in a built-in or base chain; the evidence gives each rule's reason.",
        explain: "A rule counts only for the traffic it admits: new TCP connections, to the port given with --port. ICMP, UDP and other-protocol rules, rules for other ports, and rules that accept only established or related connections admit none of it. A rule with a match reach does not evaluate (an interface other than loopback, this machine's own address, a mark, an owner, a rate limit, a set it cannot resolve, a concatenation, a verdict map) may admit less than its addresses say, and a rule in a chain reached only by a jump depends on the jump's matches, which reach does not follow: such rules never widen coverage. They are listed here with the reason, never counted. Blocking rules are read the other way: a match reach does not evaluate is ignored, so the DROP is taken as wider, which can only lower coverage.";

    // ---- sso ---------------------------------------------------------
    SsoAutoLogin = "sso.auto_login", Warn,
        message: "The account was chosen without a sign-in page",
        remedy: "Add prompt=login or prompt=select_account (OIDC), max_age=0, or ForceAuthn (SAML); or use a private window or sign out of the IdP. OS-level SSO (Entra Seamless SSO, Kerberos Negotiate) is not cured by a private window.",
        explain: "The callback was reached with a code or assertion without an interactive sign-in page. When cookies went to the IdP and a run without them (--compare-clean) meets a sign-in page, the existing browser session chose the account (cause: session). When no cookie went to the IdP, or a clean run signs in silently too, something else did: Windows integrated sign-in, a client certificate, an IdP-initiated assertion or the network (cause: ambient), and a private window does not help.";
    SsoNoReauthParam = "sso.no_reauth_param", Warn,
        message: "The authorize request does not force a fresh login",
        remedy: "Add prompt=login, prompt=select_account or max_age=0 (OIDC) or ForceAuthn=\"true\" (SAML) so the user chooses the account.",
        explain: "The authorization request carries none of the parameters that make the IdP ask for the account.";
    SsoRedirectLoop = "sso.redirect_loop", Fail,
        message: "The login flow loops",
        remedy: "Usually a cookie that is dropped between hops (SameSite, third-party cookie blocking) or a misconfigured callback URL.",
        explain: "The chain made the same request again (method, URL, body) with the same cookies, so the servers will answer it the same way forever. A URL visited again with other cookies (signed in since) is progress, not a loop.";
    SsoTooManyRedirects = "sso.too_many_redirects", Fail,
        message: "The login flow exceeds the hop limit",
        remedy: "Raise --max-hops if the chain is legitimate; otherwise look for a loop with changing parameters.",
        explain: "The chain did not end within --max-hops hops.";
    SsoHttpsDowngrade = "sso.https_downgrade", Fail,
        message: "The login flow passes through plain HTTP",
        remedy: "Every hop of a login flow must use https://; fix the redirect URL or IdP configuration.",
        explain: "A hop of the SSO chain moved from https:// to http://, exposing codes, assertions and cookies.";
    SsoIdpError = "sso.idp_error", Fail,
        message: "The identity provider returned an error",
        remedy: "See error and error_description (OAuth) or the SAML status codes and message in the evidence: login_required, access_denied, a Responder status, … name the IdP-side cause.",
        explain: "An `error` parameter appeared in a redirect's query or fragment or in a posted form, or a SAMLResponse carried a status other than Success.";
    SsoCookieSamesite = "sso.cookie_samesite", Warn,
        message: "A cookie the flow needs will be dropped by browsers",
        remedy: "Set the cookie with SameSite=None; Secure, from an https page.",
        explain: "Browsers refuse to store some cookies (SameSite=None without Secure, Secure from an http page, a __Host- or __Secure- name without its rules, a Domain that is a public suffix) and hold others back on cross-site requests: SameSite=Strict always, SameSite=Lax on a POST (SAML HTTP-POST binding, response_mode=form_post), and a cookie without SameSite on a POST once it is two minutes old. A site is the scheme and registrable domain (public suffix list). reach does the same, and reports a held-back cookie only when sending it would change where the chain ends.";
    SsoUnreachableHop = "sso.unreachable_hop", Fail,
        message: "A hop of the login flow cannot be reached",
        remedy: "See the host and the failing phase: allow it through the firewall or proxy.",
        explain: "The DNS, TCP or TLS phase failed for one hop of the chain.";

    // ---- oauth -------------------------------------------------------
    OauthScopeRequiredMissing = "oauth.scope.required_missing", Fail,
        message: "A required scope is missing from the install URL: the provided scopes are insufficient",
        remedy: "Add every required scope to the `scope` parameter (see the corrected URL).",
        explain: "The app configures the scope as required, but the install URL's `scope` parameter does not contain it.";
    OauthScopeRequiredInOptional = "oauth.scope.required_in_optional", Fail,
        message: "A required scope is in optional_scope: the provided scopes are insufficient",
        remedy: "Move the scope from `optional_scope` to `scope`.",
        explain: "Required scopes must be in `scope`; placing one in `optional_scope` makes the install fail.";
    OauthScopeNotConfigured = "oauth.scope.not_configured", Fail,
        message: "There is a mismatch between the scopes in the install URL and the app's configured scopes",
        remedy: "Remove the scope from the URL or add it to the app's configuration.",
        explain: "The URL asks for a scope the app does not configure.";
    OauthScopeConditionalInOptional = "oauth.scope.conditional_in_optional", Fail,
        message: "A conditionally required scope is in optional_scope: there is a mismatch between the scopes in the install URL and the app's configured scopes",
        remedy: "Put conditionally required scopes in `scope` when they apply.",
        explain: "Conditionally required scopes belong in `scope`, not `optional_scope`.";
    OauthScopeOptionalInScope = "oauth.scope.optional_in_scope", Fail,
        message: "An optional scope is in scope: there is a mismatch between the scopes in the install URL and the app's configured scopes",
        remedy: "Move the scope to `optional_scope`.",
        explain: "Optional scopes belong in `optional_scope`.";
    OauthRedirectUriMismatch = "oauth.redirect_uri_mismatch", Fail,
        message: "redirect_uri is not among the app's configured redirect URLs",
        remedy: "Use one of the configured redirect URLs exactly, or add this one to the app.",
        explain: "Authorization servers compare redirect_uri exactly against the registered list.";
    OauthTokenInvalidClient = "oauth.token.invalid_client", Fail,
        message: "Failed to receive access token: client authentication failed (invalid_client)",
        remedy: "Check the client ID and secret, and how the secret is sent (Basic header or form body). A public client sends no secret (--auth none) and must be registered as public at the authorization server.",
        explain: "RFC 6749 §5.2 invalid_client: unknown client, wrong secret, or unsupported authentication method; for a public client (no secret, RFC 6749 §2.1), a server that has the client registered as confidential.";
    OauthTokenInvalidGrant = "oauth.token.invalid_grant", Fail,
        message: "The grant is invalid, expired or revoked (invalid_grant)",
        remedy: "The refresh token or code no longer works: reconnect (re-authorize) the connection.",
        explain: "RFC 6749 §5.2 invalid_grant: the authorization code or refresh token is invalid, expired, revoked, or issued to another client.";
    OauthTokenInvalidScope = "oauth.token.invalid_scope", Fail,
        message: "The requested scope is invalid (invalid_scope)",
        remedy: "Request only scopes the client is allowed.",
        explain: "RFC 6749 §5.2 invalid_scope.";
    OauthTokenUnauthorizedClient = "oauth.token.unauthorized_client", Fail,
        message: "The client may not use this grant type (unauthorized_client)",
        remedy: "Enable the grant type for the client at the authorization server.",
        explain: "RFC 6749 §5.2 unauthorized_client.";
    OauthDiscoveryIssuerMismatch = "oauth.discovery.issuer_mismatch", Fail,
        message: "The discovery document's issuer does not match",
        remedy: "Use the issuer URL exactly as the document states it, or fix the IdP configuration.",
        explain: "OpenID Connect Discovery requires the `issuer` value to equal the URL the document was fetched for.";
    OauthTokenError = "oauth.token.error", Fail,
        message: "The token endpoint did not issue a token",
        remedy: "See the status, error and error_description in the evidence; keep the request id for the vendor's support.",
        explain: "The grant failed for a reason other than the client, the grant, the scope or the client's rights: an invalid request, an unsupported grant type, a server error, or an answer that is not an OAuth token response.";
    OauthTokenScopeReduced = "oauth.token.scope_reduced", Warn,
        message: "The token grants fewer scopes than requested",
        remedy: "Enable the missing scopes for the client at the vendor, or stop requesting them.",
        explain: "The token response's `scope` lacks scopes the request asked for (RFC 6749 §5.1): calls that need them will be refused.";
    OauthDiscoveryInvalid = "oauth.discovery.invalid", Fail,
        message: "The discovery document cannot be read",
        remedy: "Check the issuer URL: the document lives at ISSUER/.well-known/openid-configuration (or /.well-known/oauth-authorization-server).",
        explain: "Neither well-known URL returned a JSON object with the required fields.";
    OauthDiscoveryJwksInvalid = "oauth.discovery.jwks_invalid", Fail,
        message: "The jwks_uri does not return keys",
        remedy: "Tokens cannot be verified: fix the jwks_uri or what it serves (a JSON object with a `keys` array).",
        explain: "The document's jwks_uri answered with something that is not a JSON Web Key Set with at least one key.";
    OauthDiscoveryScopeUnsupported = "oauth.discovery.scope_unsupported", Warn,
        message: "A requested scope is not in scopes_supported",
        remedy: "Check the scope name, or ask the vendor to enable it; some servers list only a subset.",
        explain: "The document's scopes_supported does not list a scope given with --scope.";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first set of codes (the product contract's table, which is not in
    /// this repository), verbatim: the registry must hold each, as codes are
    /// never renamed.
    const SPEC_CODES: &[&str] = &[
        "dns.nxdomain",
        "dns.no_records",
        "dns.servfail",
        "dns.timeout",
        "tcp.refused",
        "tcp.timeout",
        "tcp.unreachable",
        "proxy.connect_failed",
        "proxy.auth_required",
        "proxy.denied",
        "tls.cert_expired",
        "tls.cert_not_yet_valid",
        "tls.cert_expiring_soon",
        "tls.hostname_mismatch",
        "tls.untrusted_issuer",
        "tls.incomplete_chain",
        "tls.protocol_too_old",
        "tls.client_cert_required",
        "tls.intercepted",
        "tls.handshake_failed",
        "http.status_error",
        "http.timeout",
        "http.redirect_loop",
        "http.too_many_redirects",
        "http.https_downgrade",
        "allowlist.gap",
        "allowlist.host_not_covered",
        "allowlist.stale_entry",
        "allowlist.redundant_entry",
        "allowlist.overly_broad",
        "sso.auto_login",
        "sso.no_reauth_param",
        "sso.redirect_loop",
        "sso.too_many_redirects",
        "sso.https_downgrade",
        "sso.idp_error",
        "sso.cookie_samesite",
        "sso.unreachable_hop",
        "oauth.scope.required_missing",
        "oauth.scope.required_in_optional",
        "oauth.scope.not_configured",
        "oauth.scope.conditional_in_optional",
        "oauth.scope.optional_in_scope",
        "oauth.redirect_uri_mismatch",
        "oauth.token.invalid_client",
        "oauth.token.invalid_grant",
        "oauth.token.invalid_scope",
        "oauth.token.unauthorized_client",
        "oauth.discovery.issuer_mismatch",
    ];

    #[test]
    fn every_spec_code_is_registered_and_round_trips() {
        for name in SPEC_CODES {
            let code: Code = name.parse().unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(code.name(), *name);
            let json = serde_json::to_string(&code).unwrap();
            assert_eq!(json, format!("\"{name}\""));
            assert_eq!(serde_json::from_str::<Code>(&json).unwrap(), code);
        }
    }

    #[test]
    fn registry_entries_are_complete_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let info = code.info();
            assert!(seen.insert(info.name), "duplicate name {}", info.name);
            assert!(!info.message.is_empty(), "{} has no message", info.name);
            assert!(info.remedy.len() > 10, "{} has no remedy", info.name);
            assert!(
                info.explanation.len() > 10,
                "{} has no explanation",
                info.name
            );
            assert!(
                info.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '.' || c == '_'),
                "{} is not a stable snake/dot name",
                info.name
            );
        }
    }

    #[test]
    fn unknown_code_is_an_error() {
        assert!("dns.nope".parse::<Code>().is_err());
        assert_eq!("DNS.NXDOMAIN".parse::<Code>(), Ok(Code::DnsNxdomain));
    }

    #[test]
    fn search_ranks_name_matches_first_and_needs_every_word() {
        let found = Code::search(&["timeout"]);
        assert_eq!(
            &found[..3],
            &[Code::DnsTimeout, Code::TcpTimeout, Code::HttpTimeout]
        );
        assert!(found.len() > 3, "{found:?}");
        assert_eq!(Code::search(&["PROXY", "auth"])[0], Code::ProxyAuthRequired);
        for code in Code::search(&["proxy", "auth"]) {
            let info = code.info();
            let all = format!(
                "{} {} {} {}",
                info.name, info.message, info.remedy, info.explanation
            )
            .to_lowercase();
            assert!(all.contains("proxy") && all.contains("auth"), "{code}");
        }
        // A word matches at the start of a word only.
        assert!(!Code::search(&["imeout"]).contains(&Code::DnsTimeout));
        assert!(Code::search(&["expired"]).contains(&Code::TlsCertExpired));
        assert!(Code::search(&["zzzz"]).is_empty());
        assert!(Code::search::<&str>(&[]).is_empty());
        assert!(Code::search(&[""]).is_empty());
    }

    #[test]
    fn similar_finds_typos_prefixes_and_other_areas() {
        assert_eq!(Code::similar("dns.nxdomian")[0], Code::DnsNxdomain);
        assert_eq!(Code::similar("TLS.cert_expird")[0], Code::TlsCertExpired);
        let prefix = Code::similar("tls.cert");
        assert!(prefix.contains(&Code::TlsCertExpired), "{prefix:?}");
        assert!(prefix.contains(&Code::TlsCertNotYetValid), "{prefix:?}");
        let area = Code::similar("tls.timeout");
        for code in [Code::DnsTimeout, Code::TcpTimeout, Code::HttpTimeout] {
            assert!(area.contains(&code), "{area:?}");
        }
        assert!(Code::similar("tls.nope").is_empty());
        assert!(Code::similar("").is_empty());
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
