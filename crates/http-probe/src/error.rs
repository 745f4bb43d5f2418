//! Errors that stop an endpoint check from running: bad input.

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
    /// A `-H` value that is not `Name: value`.
    #[error("invalid header `{header}`: {reason}")]
    InvalidHeader { header: String, reason: String },
}
