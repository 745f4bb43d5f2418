//! Errors that stop the TLS phase from being set up (bad files, bad keys).
//! A failed handshake is not an error: it is a finding in the outcome.

use std::path::PathBuf;

/// Which of the TLS configuration's files an error is about. The library
/// describes the file; the caller names where it came from (a flag, a
/// preflight key).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PemFile {
    /// An extra trusted CA bundle.
    Ca,
    /// The client certificate chain.
    ClientCert,
    /// The client certificate's private key.
    ClientKey,
}

impl std::fmt::Display for PemFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PemFile::Ca => "CA file",
            PemFile::ClientCert => "client certificate",
            PemFile::ClientKey => "client key",
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("cannot read {file} {path}: {source}")]
    Read {
        file: PemFile,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Pem {
        file: PemFile,
        path: PathBuf,
        reason: String,
    },
    /// A client certificate without its key, or a key without its
    /// certificate.
    #[error("a client certificate and its key go together")]
    ClientPair,
    #[error("TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}
