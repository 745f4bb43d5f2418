//! What an interrupted run keeps: commands that run many checks (`check`
//! with several targets, `run`) say what they will run and hand in each
//! result as it ends, so that Ctrl-C (SIGINT) or SIGTERM can still report
//! the finished ones and mark the rest `cancelled`.

use std::sync::Mutex;

use reach_report::{Check, CheckKind, Status};

struct Slots {
    planned: Vec<(CheckKind, String)>,
    done: Vec<Option<Vec<Check>>>,
}

static SLOTS: Mutex<Option<Slots>> = Mutex::new(None);

/// The checks about to run, in report order. Only the outermost command
/// plans (a `reach run` entry running `check` does not): `true` when this
/// call did, and so owns the results.
pub(crate) fn plan(planned: Vec<(CheckKind, String)>) -> bool {
    let done = planned.iter().map(|_| None).collect();
    match SLOTS.lock() {
        Ok(mut slots) if slots.is_none() => {
            *slots = Some(Slots { planned, done });
            true
        }
        _ => false,
    }
}

/// The result of planned check `index`.
pub(crate) fn finished(index: usize, checks: &[Check]) {
    if let Ok(mut slots) = SLOTS.lock()
        && let Some(slot) = slots.as_mut().and_then(|s| s.done.get_mut(index))
    {
        *slot = Some(checks.to_vec());
    }
}

/// The finished checks in order, each unfinished one as a `cancelled`
/// check; one `cancelled` check when nothing was planned.
pub(crate) fn take_cancelled() -> Vec<Check> {
    let slots = SLOTS.lock().ok().and_then(|mut s| s.take());
    let Some(slots) = slots else {
        return vec![cancelled(CheckKind::Endpoint, "the run")];
    };
    slots
        .planned
        .into_iter()
        .zip(slots.done)
        .flat_map(|((kind, label), done)| done.unwrap_or_else(|| vec![cancelled(kind, &label)]))
        .collect()
}

fn cancelled(kind: CheckKind, label: &str) -> Check {
    let mut check = Check::new(kind, label);
    check.status = Status::Cancelled;
    check
}
