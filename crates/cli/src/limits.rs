//! Open-file limits: thousands of checks at once need thousands of
//! sockets. reach raises its soft limit toward the hard one where it may,
//! and otherwise runs fewer checks at once and says so, rather than fail
//! checks with "too many open files".

/// File descriptors one running check may hold at once (its socket, a
/// resolver socket, a second address tried) and a reserve for the rest of
/// the process.
const PER_CHECK: u64 = 3;
const RESERVE: u64 = 64;

/// The concurrency to use for `wanted` checks at once, raising the soft
/// limit on open files if needed; with a note when it had to be lowered.
pub(crate) fn concurrency(wanted: usize) -> (usize, Option<String>) {
    let need = wanted as u64 * PER_CHECK + RESERVE;
    let Some(limit) = raise_to(need) else {
        return (wanted, None);
    };
    if limit >= need {
        return (wanted, None);
    }
    let fits = usize::try_from(limit.saturating_sub(RESERVE) / PER_CHECK)
        .unwrap_or(1)
        .max(1);
    (
        fits,
        Some(format!(
            "--concurrency {wanted} needs about {need} open files, but the limit is {limit}: running {} at once (raise it with `ulimit -n`)",
            reach_report::count(fits as u64, "check", "checks")
        )),
    )
}

/// Raises the soft open-files limit to `need` (at most the hard limit);
/// returns the limit now in force, `None` when unknown or unlimited.
#[cfg(unix)]
fn raise_to(need: u64) -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let current = getrlimit(Resource::Nofile);
    let soft = current.current?;
    if soft >= need {
        return Some(soft);
    }
    let target = current.maximum.map_or(need, |hard| hard.min(need));
    if target > soft
        && setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(target),
                maximum: current.maximum,
            },
        )
        .is_ok()
    {
        return Some(target);
    }
    Some(soft)
}

#[cfg(not(unix))]
fn raise_to(_need: u64) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_runs_are_untouched() {
        assert_eq!(concurrency(4), (4, None));
    }

    #[test]
    fn a_huge_run_fits_the_hard_limit() {
        let (n, note) = concurrency(100_000_000);
        assert!(n >= 1);
        if n < 100_000_000 {
            assert!(note.unwrap().contains("ulimit -n"));
        }
    }
}
