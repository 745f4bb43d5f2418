//! Errors that stop the DNS phase from running at all (bad configuration).
//! A failed lookup is not an error: it is a finding in the outcome.

/// The DNS phase could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The system resolver configuration could not be read.
    #[error("cannot read the system resolver configuration: {0}")]
    SystemConfig(String),
    /// A `--dns-server` value is not `IP[:PORT]`.
    #[error("invalid --dns-server `{value}`: {reason}")]
    InvalidServer { value: String, reason: &'static str },
    /// A `--resolve` value is not `HOST:PORT:ADDR[,ADDR…]`.
    #[error("invalid --resolve `{value}`: {reason}")]
    InvalidOverride { value: String, reason: String },
}
