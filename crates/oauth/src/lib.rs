//! `reach oauth`: the three OAuth failures vendors' troubleshooting pages
//! are full of, each diagnosed from what really happened.
//!
//! - [`scopes`]: an install / authorize URL against the app's configured
//!   scopes and redirect URLs (pure), with the corrected URL.
//! - [`token`]: a `client_credentials` or `refresh_token` grant through the
//!   endpoint pipeline, its RFC 6749 §5.2 (or vendor-shaped) error
//!   classified, or what it granted.
//! - [`discover`]: the discovery document, its issuer, every endpoint it
//!   names, its JWKS and supported scopes.
//! - [`error`]: an app configuration or install URL that cannot be linted.

pub mod discover;
pub mod error;
pub mod scopes;
pub mod token;

pub use error::Error;
