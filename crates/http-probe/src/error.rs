//! Errors that stop an endpoint check from running: bad input, or a
//! network that cannot be built from its configuration.

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A target that is not a URL, `host:port` or host name.
    #[error("invalid target `{target}`: {reason}")]
    InvalidTarget { target: String, reason: String },
    /// A proxy URL (from `--proxy` or an environment variable) that cannot be used.
    #[error("invalid proxy in {source_name} (`{value}`): {reason}")]
    InvalidProxy {
        source_name: String,
        value: String,
        reason: String,
    },
    /// The resolver could not be built (the system configuration).
    #[error(transparent)]
    Dns(#[from] reach_dns::Error),
    /// The TLS client could not be built (a CA file, the client identity).
    #[error(transparent)]
    Tls(#[from] reach_tls::Error),
}
