//! Errors that stop the DNS phase from running at all (bad configuration).
//! A failed lookup is not an error: it is a finding in the outcome.

/// The DNS phase could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The system resolver configuration could not be read.
    #[error("cannot read the system resolver configuration: {0}")]
    SystemConfig(String),
    /// A DNS server is not `IP[:PORT]`. The library describes the value;
    /// the caller names where it came from (a flag, a file's line).
    #[error("`{value}` is not a DNS server (IP[:PORT]): {reason}")]
    InvalidServer { value: String, reason: &'static str },
    /// A name override is not `HOST:PORT:ADDR[,ADDR…]`.
    #[error("`{value}` is not a name override (HOST:PORT:ADDR[,ADDR…]): {reason}")]
    InvalidOverride { value: String, reason: String },
}
