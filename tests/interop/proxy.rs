//! Interop cases: proxy.
