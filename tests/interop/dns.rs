//! Interop cases: dns.
