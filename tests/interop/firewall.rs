//! Interop cases: firewall.
