//! Interop cases: tls.
