//! Errors that stop the TLS phase from being set up (bad files, bad keys).
//! A failed handshake is not an error: it is a finding in the outcome.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    #[error("--client-cert and --client-key go together")]
    ClientPair,
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}
