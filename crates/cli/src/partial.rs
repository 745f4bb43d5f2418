//! Where finished checks go while a run goes on. Commands that run many
//! checks (`check` with several targets, `run`) say what they will run and
//! hand in each result as it ends:
//! - so that Ctrl-C (SIGINT) or SIGTERM can still report the finished ones
//!   and mark the rest `cancelled`;
//! - and, with `--format jsonl`, so that each check is written the moment
//!   it ends and then dropped: memory stays flat however many targets
//!   there are ([`stream`]).

use std::io::Write;
use std::sync::Mutex;

use reach_report::{Check, CheckKind, Status};

enum State {
    /// Nothing planned yet: the outermost command may plan.
    Idle,
    Planned(Slots),
    /// `reach serve`: each probe keeps its own checks; nothing is planned.
    Off,
}

struct Slots {
    planned: Vec<(CheckKind, String)>,
    /// The finished checks, or (when they were streamed) only that they
    /// finished.
    done: Vec<Option<Vec<Check>>>,
}

static SLOTS: Mutex<State> = Mutex::new(State::Idle);

/// A report written a check at a time (`--format jsonl`).
pub(crate) struct Stream {
    out: Box<dyn Write + Send>,
    redact: bool,
    /// The statuses written so far, for the exit code.
    statuses: Vec<crate::Written>,
    /// The first write error: the rest is not written, and the run says so.
    failed: Option<std::io::Error>,
}

static STREAM: Mutex<Option<Stream>> = Mutex::new(None);

/// From now on, checks are written to `out` as JSON lines as they are
/// handed in, redacted unless `redact` is false.
pub(crate) fn stream(out: Box<dyn Write + Send>, redact: bool) {
    if let Ok(mut stream) = STREAM.lock() {
        *stream = Some(Stream {
            out,
            redact,
            statuses: Vec::new(),
            failed: None,
        });
    }
}

/// `reach serve`: probes run side by side for ever; none plans.
pub(crate) fn off() {
    if let Ok(mut slots) = SLOTS.lock() {
        *slots = State::Off;
    }
}

/// The checks about to run, in report order. Only the outermost command
/// plans (a `reach run` entry running `check` does not): `true` when this
/// call did, and so owns the results.
pub(crate) fn plan(planned: Vec<(CheckKind, String)>) -> bool {
    let done = planned.iter().map(|_| None).collect();
    match SLOTS.lock() {
        Ok(mut slots) if matches!(*slots, State::Idle) => {
            *slots = State::Planned(Slots { planned, done });
            true
        }
        _ => false,
    }
}

/// The result of planned check `index`. With `--format jsonl` the checks
/// are written now and `None` comes back: the caller keeps nothing.
/// Otherwise they come back, and a copy is kept for an interruption.
pub(crate) fn finished(index: usize, checks: Vec<Check>) -> Option<Vec<Check>> {
    let kept = write(checks);
    if let Ok(mut slots) = SLOTS.lock()
        && let State::Planned(slots) = &mut *slots
        && let Some(slot) = slots.done.get_mut(index)
    {
        // A streamed check is finished, and already written.
        *slot = Some(kept.clone().unwrap_or_default());
    }
    kept
}

/// Writes `checks` when the report is streamed (`None` back); else gives
/// them back. Input errors are also said on stderr, as [`crate::finish`]
/// says them for a whole report.
pub(crate) fn write(checks: Vec<Check>) -> Option<Vec<Check>> {
    let Ok(mut guard) = STREAM.lock() else {
        return Some(checks);
    };
    let Some(stream) = guard.as_mut() else {
        return Some(checks);
    };
    let mut lines = String::new();
    for mut check in checks {
        crate::say_errors(&check);
        if stream.redact {
            reach_report::redact::check(&mut check);
        }
        stream.statuses.push(crate::Written::of(&check));
        match serde_json::to_string(&check) {
            Ok(line) => {
                lines.push_str(&line);
                lines.push('\n');
            }
            Err(e) => tracing::error!("a check could not be written: {e}"),
        }
    }
    if stream.failed.is_none()
        && let Err(e) = stream
            .out
            .write_all(lines.as_bytes())
            .and_then(|()| stream.out.flush())
    {
        stream.failed = Some(e);
    }
    // Mark them finished for an interruption, without keeping them.
    None
}

/// The end of a streamed report: the statuses written, and the first write
/// error; `None` when the report was not streamed.
pub(crate) fn end_stream() -> Option<(Vec<crate::Written>, Option<std::io::Error>)> {
    let stream = STREAM.lock().ok()?.take()?;
    let Stream {
        mut out,
        statuses,
        failed,
        ..
    } = stream;
    let failed = failed.or_else(|| out.flush().err());
    Some((statuses, failed))
}

/// The finished checks in order, each unfinished one as a `cancelled`
/// check; one `cancelled` check when nothing was planned.
pub(crate) fn take_cancelled() -> Vec<Check> {
    let state = SLOTS
        .lock()
        .ok()
        .map(|mut s| std::mem::replace(&mut *s, State::Idle));
    let Some(State::Planned(slots)) = state else {
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
