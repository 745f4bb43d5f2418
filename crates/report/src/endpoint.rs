//! `details` of an `endpoint` check: the pipeline's phases, hop by hop.
//!
//! Each phase is `None` when it did not run (an earlier phase failed, or it
//! does not apply: no TLS for `http://`, no DNS with `--resolve` or an IP).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// What the endpoint pipeline saw for one target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EndpointDetails {
    /// The normalised URL that was checked first (or `tcp://host:port`).
    pub url: String,
    /// Phase timings, as curl's write-out variables: cumulative from the
    /// start of the final hop, plus the time spent on earlier hops.
    pub timings: Timings,
    /// One entry per request made; more than one with `--follow`.
    pub hops: Vec<Hop>,
}

/// Timings of one hop in milliseconds, each measured from the hop's start
/// (curl's `time_namelookup`, `time_connect`, `time_appconnect`,
/// `time_starttransfer`, `time_total`). A phase that did not run is absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Timings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_ms: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    pub total_ms: f64,
    /// Until the proxy's tunnel was open (CONNECT answered), when a proxy
    /// was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_ms: Option<f64>,
    /// Time spent on hops before the final one (`--follow`), as curl's
    /// `time_redirect`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_ms: Option<f64>,
}

/// One request: the phases it went through.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hop {
    pub url: String,
    pub timings: Timings,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpPhase>,
    /// The proxy decision; with a proxy, `dns` and `tcp` are those of the
    /// proxy host (the proxy resolves the target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxyPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpPhase>,
}

/// Where the addresses came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DnsSource {
    /// The system's resolver configuration.
    System,
    /// `--dns-server`.
    Servers,
    /// `--resolve HOST:PORT:ADDR`: no query was made.
    Override,
    /// The host is an IP address literal.
    Literal,
}

/// The DNS phase.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DnsPhase {
    pub name: String,
    pub source: DnsSource,
    /// The name servers asked (empty for overrides and literals).
    pub servers: Vec<String>,
    /// The CNAME chain from `name` to the canonical name, in order.
    pub cname_chain: Vec<CnameRecord>,
    /// A and AAAA answers.
    pub answers: Vec<AddressRecord>,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CnameRecord {
    pub name: String,
    pub target: String,
    pub ttl: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AddressRecord {
    pub name: String,
    /// `A` or `AAAA`.
    #[serde(rename = "type")]
    pub record_type: String,
    pub address: String,
    /// Absent for overrides and literals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
}

/// The TCP phase: one attempt per resolved address until one connects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpPhase {
    pub attempts: Vec<TcpAttempt>,
    /// The address that connected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_address: Option<String>,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TcpAttempt {
    pub address: String,
    pub outcome: TcpOutcome,
    pub duration_ms: f64,
    /// The operating system's error, when the attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TcpOutcome {
    Connected,
    Refused,
    Timeout,
    Unreachable,
    Error,
    /// Not tried: the deadline had passed.
    Skipped,
}

/// The proxy phase: which proxy, chosen why, and what it answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyPhase {
    /// The proxy URL (its password redacted); absent when bypassed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Where the proxy setting came from: `--proxy`, `HTTPS_PROXY`,
    /// `https_proxy`, `HTTP_PROXY`, `http_proxy`.
    pub source: String,
    /// Why the proxy was not used (a `NO_PROXY` entry that matches).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bypassed: Option<String>,
    /// `connect` (a tunnel, for https) or `forward` (absolute-form
    /// request, for http).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// The status the proxy answered to CONNECT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub duration_ms: f64,
}

/// The TLS phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TlsPhase {
    /// The server name sent (SNI); absent for IP addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    pub alpn_offered: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher: Option<String>,
    /// Whether the chain was verified against the trust store.
    pub verified: bool,
    /// The server asked for a client certificate (mutual TLS).
    pub client_cert_requested: bool,
    /// A client certificate was sent in answer.
    pub client_cert_sent: bool,
    /// The certificates the server presented, leaf first.
    pub chain: Vec<Certificate>,
    /// For a verified chain: whether it ends at a root of the public root
    /// program (Mozilla's, as webpki-roots ships it) rather than at a root
    /// only this machine (or --ca-file) trusts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_root: Option<bool>,
    pub duration_ms: f64,
}

/// One presented certificate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Certificate {
    /// The distinguished name as `openssl x509 -noout -subject -nameopt
    /// oneline,-space_eq` writes it: `C=DE, O="Example, Inc.", CN=api.example.com`
    /// (text beyond ASCII as it is).
    pub subject: String,
    /// The issuer's name, written as `subject`.
    pub issuer: String,
    pub sans: Vec<String>,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Days until `not_after` (negative when expired).
    pub days_left: i64,
    /// Key type and size: `RSA 2048`, `EC P-256`, `Ed25519`.
    pub public_key: String,
    /// How the issuer signed it, in words: `SHA-256 with RSA`, `ECDSA with
    /// SHA-384`, `Ed25519`, `SHA-1 with RSA`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub signed_with: String,
    /// Signed certificate timestamps embedded in the certificate (Certificate
    /// Transparency): publicly trusted certificates carry them.
    #[serde(default)]
    pub embedded_scts: u32,
    pub sha256: String,
    /// Where the issuer's certificate can be fetched (AIA caIssuers URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ca_issuers: Vec<String>,
}

/// The HTTP phase.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HttpPhase {
    pub method: String,
    /// `HTTP/1.1` or `HTTP/2`.
    pub version: String,
    /// Request headers as sent (secret values redacted).
    pub request_headers: Vec<Header>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Response headers in order (secret values redacted).
    pub headers: Vec<Header>,
    /// Body bytes read (the read stops at the cap).
    pub body_bytes: u64,
    /// True when the body was longer than the cap and not read to its end.
    pub body_truncated: bool,
    /// Where a 3xx points, resolved against the request URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttfb_ms: Option<f64>,
    pub duration_ms: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    pub value: String,
}
