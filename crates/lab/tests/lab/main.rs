//! Tests of the lab itself, through its public API, with plain sockets, hand-built DNS
//! messages and a rustls client, so that they do not depend on reach's own clients.
//!
//! One test binary (a file per subject) to keep link time down. Unit tests of the lab's
//! private helpers (encoders, parsers, destination rules) stay beside them in `src/`.

mod auth_server;
mod dns_zone;
mod hostile_servers;
mod http_app;
mod identity_provider;
mod lifecycle;
mod malformed_peers;
mod proxies;
mod support;
mod tls_faults;
