//! Giving up long work: the command line asks for it when the run is
//! interrupted (Ctrl-C, SIGTERM) or no longer waits for the result, and
//! the long loops (reading millions of list lines, the coverage's phases)
//! look at it and return early. What they return then is incomplete and
//! must not be used: it exists only so that the work stops.

use std::sync::atomic::{AtomicBool, Ordering};

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every long loop of this crate to stop (for the rest of the
/// process: an interrupted run does not start new work).
pub fn request() {
    REQUESTED.store(true, Ordering::Relaxed);
}

/// Whether [`request`] was called.
pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}
