//! Allowlist coverage: does a firewall allowlist cover a vendor's published
//! IP ranges? Pure: parsers take bytes, the algebra takes parsed entries;
//! no I/O here (the CLI reads files and fetches URLs).
//!
//! - [`set`]: exact interval-set algebra on IPv4 (`u32`) and IPv6 (`u128`)
//!   addresses, minimal CIDR decomposition, exact counts.
//! - [`text`]: plain CIDR / address / FQDN lists.
//! - [`feeds`]: the vendors' JSON feeds (AWS, Azure, GCP, GitHub,
//!   Atlassian), detected automatically.
//! - [`firewall`]: `iptables-save`, `nft -j list ruleset`, AWS security
//!   groups.
//! - [`coverage`]: the coverage report and the feed diff.
//! - [`read`]: the format options, parsing an input into what the report
//!   says of it, and reading a big allowlist in pieces.
//! - [`findings`]: the `allowlist.*` findings and the check's details
//!   (`reach-report`'s types) built from a coverage or a diff.
//! - [`emit`]: the uncovered ranges as lines for the user's firewall
//!   (`--emit`: CIDRs, iptables, nft, AWS security group permissions).
//! - [`readable`]: address counts and sizes for people (`2 × /48`,
//!   `≈ 1.2 × 10²⁴`).
//! - [`cancel`]: stopping the long loops when the run is interrupted.
//!
//! Below them, `json` is the line-keeping JSON reader the feed and firewall
//! parsers share, and `text::parse_cidr` the one CIDR parser of every format.

pub mod cancel;
pub mod coverage;
pub mod emit;
pub mod feeds;
pub mod findings;
pub mod firewall;
mod json;
pub mod model;
pub mod read;
pub mod readable;
pub mod set;
mod sort;
pub mod text;

pub use model::*;
