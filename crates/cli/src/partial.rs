//! Where finished checks go while a run goes on. Commands that run many
//! checks (`check` with several targets, `run`) say what they will run and
//! hand in each result as it ends:
//! - so that Ctrl-C (SIGINT) or SIGTERM can still report the finished ones
//!   and mark the rest `cancelled`;
//! - and, with `--format jsonl`, so that each check is written the moment
//!   it ends and then dropped: memory stays flat however many targets
//!   there are ([`stream`]).

use std::io::Write;
use std::sync::{Arc, Mutex};

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

/// A report written a check at a time (`--format jsonl`): the checks go to
/// a writer thread, so that a reader that stops reading holds up neither
/// the checks nor Ctrl-C.
struct Stream {
    to_writer: std::sync::mpsc::Sender<Vec<Check>>,
    writer: std::thread::JoinHandle<()>,
    tally: Arc<Mutex<Tally>>,
}

/// What the writer wrote: the statuses (for the exit code) and its first
/// error (after which it writes nothing more).
#[derive(Default)]
struct Tally {
    written: Vec<crate::Written>,
    failed: Option<std::io::Error>,
}

static STREAM: Mutex<Option<Stream>> = Mutex::new(None);

/// From now on, checks are written to `out` as JSON lines as they are
/// handed in, redacted unless `redact` is false.
pub(crate) fn stream(mut out: Box<dyn Write + Send>, redact: bool) {
    let (to_writer, checks) = std::sync::mpsc::channel::<Vec<Check>>();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let shared = Arc::clone(&tally);
    let writer = std::thread::spawn(move || {
        for batch in checks {
            let mut lines = String::new();
            let mut written = Vec::with_capacity(batch.len());
            for mut check in batch {
                crate::say_errors(&check);
                if redact {
                    reach_report::redact::check(&mut check);
                }
                written.push(crate::Written::of(&check));
                crate::printer::json_line(&check, &mut lines);
            }
            let result = out.write_all(lines.as_bytes()).and_then(|()| out.flush());
            let Ok(mut tally) = shared.lock() else { return };
            tally.written.extend(written);
            if let Err(e) = result {
                tally.failed = Some(e);
                return;
            }
        }
    });
    if let Ok(mut stream) = STREAM.lock() {
        *stream = Some(Stream {
            to_writer,
            writer,
            tally,
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

/// The result of planned check `index`, kept here (once, not copied) for
/// the report or an interruption; with `--format jsonl` written now and
/// only marked finished. `Some` gives the checks back when nothing was
/// planned (the caller keeps them).
pub(crate) fn finished(index: usize, checks: Vec<Check>) -> Option<Vec<Check>> {
    let kept = write(checks);
    let Ok(mut slots) = SLOTS.lock() else {
        return kept;
    };
    match &mut *slots {
        State::Planned(slots) if index < slots.done.len() => {
            slots.done[index] = Some(kept.unwrap_or_default());
            None
        }
        _ => kept,
    }
}

/// The planned checks that finished, in order: the owner's result at the
/// end of its run (the streamed ones were written already).
pub(crate) fn take_finished() -> Vec<Check> {
    take_planned()
        .map(|slots| slots.done.into_iter().flatten().flatten().collect())
        .unwrap_or_default()
}

/// The plan and what finished of it, leaving nothing planned; `None` when
/// nothing was.
fn take_planned() -> Option<Slots> {
    let state = SLOTS
        .lock()
        .ok()
        .map(|mut s| std::mem::replace(&mut *s, State::Idle));
    match state {
        Some(State::Planned(slots)) => Some(slots),
        _ => None,
    }
}

/// Hands `checks` to the writer when the report is streamed (`None`
/// back); else gives them back. Input errors are also said on stderr, as
/// [`crate::finish`] says them for a whole report.
pub(crate) fn write(checks: Vec<Check>) -> Option<Vec<Check>> {
    let Ok(guard) = STREAM.lock() else {
        return Some(checks);
    };
    match guard.as_ref() {
        // Marked finished for an interruption, and not kept.
        Some(stream) => stream.to_writer.send(checks).err().map(|e| e.0),
        None => Some(checks),
    }
}

/// The end of a streamed report, once the writer wrote what it was given:
/// the statuses written, and the first write error; `None` when the report
/// was not streamed. With `patience`, a writer still blocked after it (a
/// reader that stopped reading, after Ctrl-C) is left behind.
pub(crate) fn end_stream(
    patience: Option<std::time::Duration>,
) -> Option<(Vec<crate::Written>, Option<std::io::Error>)> {
    let Stream {
        to_writer,
        writer,
        tally,
    } = STREAM.lock().ok()?.take()?;
    drop(to_writer);
    match patience {
        None => {
            let _ = writer.join();
        }
        Some(patience) => {
            let until = std::time::Instant::now() + patience;
            while !writer.is_finished() && std::time::Instant::now() < until {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    }
    let mut tally = tally.lock().ok()?;
    Some((std::mem::take(&mut tally.written), tally.failed.take()))
}

/// The finished checks in order, each unfinished one as a `cancelled`
/// check; one `cancelled` check when nothing was planned.
pub(crate) fn take_cancelled() -> Vec<Check> {
    let Some(slots) = take_planned() else {
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
