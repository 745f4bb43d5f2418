//! The one reader of every file reach is given (`--allowlist`,
//! `--published`, `--cookie-jar`, `--targets-file`, `--app`, secret files,
//! `reach run FILE`): a file, a FIFO or `-` (stdin), never a device, a
//! folder or a socket; read in pieces, as UTF-8 text, within a size bound
//! and a line-length bound per kind of input, off the async workers; a
//! stream that sends nothing is given up after `--timeout`, and a read
//! whose caller went away (Ctrl-C, SIGTERM) stops at its next piece.
//!
//! Every error is a message for people naming the input and, where it
//! applies, the line (`allow.txt:3: not UTF-8 text`).

use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// What an input is, which sets its bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `--allowlist`: a plain list, iptables-save, nft JSON, AWS SG JSON.
    Allowlist,
    /// `--published`, `allowlist diff OLD NEW`: a vendor's feed.
    Feed,
    /// `--cookie-jar`: a Netscape cookies.txt.
    CookieJar,
    /// `--targets-file`: one target a line.
    Targets,
    /// `reach run FILE`: a preflight TOML file.
    Preflight,
    /// `--app`: an app configuration (JSON).
    App,
    /// `--client-secret-file`, `--refresh-token-file`: one line.
    Secret,
    /// `reach explain --message`: an error text as a user pastes it.
    Message,
}

/// The bounds of one kind of input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    /// The most bytes read.
    pub(crate) file: u64,
    /// The longest line of a text format, without its line break. A JSON
    /// document (first character `{` or `[`) is often one line: only
    /// `file` bounds it.
    pub(crate) line: u64,
    /// Whether the input may be a JSON document.
    json: bool,
}

impl Kind {
    pub(crate) fn bounds(self) -> Bounds {
        let (file, line, json) = match self {
            // Plain lists are read in pieces (memory follows the distinct
            // entries); `ALLOWLIST_WHOLE` bounds those read whole.
            Kind::Allowlist => (4 * GIB, 4 * KIB, true),
            // The largest published feed (Azure's service tags) is 4 MB;
            // two million AWS prefixes take about 300 MB.
            Kind::Feed => (FEED_FILE, 4 * KIB, true),
            Kind::CookieJar | Kind::Targets => (256 * MIB, 16 * KIB, false),
            Kind::Preflight => (16 * MIB, MIB, false),
            Kind::App => (16 * MIB, MIB, true),
            Kind::Secret => (MIB, 64 * KIB, false),
            Kind::Message => (MIB, 256 * KIB, false),
        };
        Bounds { file, line, json }
    }

    /// The input as a message names it.
    fn noun(self) -> &'static str {
        match self {
            Kind::Allowlist => "an allowlist",
            Kind::Feed => "a published feed",
            Kind::CookieJar => "a cookie jar",
            Kind::Targets => "a targets file",
            Kind::Preflight => "a preflight file",
            Kind::App => "an app configuration",
            Kind::Secret => "a secret file",
            Kind::Message => "a pasted message",
        }
    }
}

/// The largest feed file, and the largest allowlist read whole (JSON,
/// iptables-save).
pub(crate) const FEED_FILE: u64 = 512 * MIB;
pub(crate) const ALLOWLIST_WHOLE: u64 = 512 * MIB;
/// The most targets one `--targets-file` gives.
pub(crate) const MAX_TARGETS: usize = 1_000_000;

/// Bytes read at once.
const PIECE: usize = 1 << 20;
/// Bytes a [`Sink`] sees before the first piece.
const HEAD: usize = 8192;

/// `1 KiB`, `4 GiB`: a bound as people write it.
pub(crate) fn size(bytes: u64) -> String {
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} bytes")
}

/// What is done with the text as it is read (in the reading thread).
pub(crate) trait Sink: Send + 'static {
    type Output: Send + 'static;
    /// The first bytes read, before any piece: `Err` stops the read with
    /// that message (after the input's name). By default a NUL byte in the
    /// first 8 KiB makes it a binary file.
    fn first(&mut self, bytes: &[u8]) -> Result<(), String> {
        if bytes[..bytes.len().min(8192)].contains(&0) {
            return Err("a binary file, not text".to_owned());
        }
        Ok(())
    }
    /// The next piece of text (cut anywhere between characters, even
    /// mid-line); `Err` stops the read with that message.
    fn piece(&mut self, text: &str) -> Result<(), String>;
    fn finish(self) -> Self::Output;
}

/// The whole text, as one `String`.
pub(crate) struct Whole {
    text: String,
    limit: u64,
    noun: &'static str,
}

impl Whole {
    pub(crate) fn new(kind: Kind) -> Self {
        Whole {
            text: String::new(),
            limit: kind.bounds().file,
            noun: kind.noun(),
        }
    }
}

impl Sink for Whole {
    type Output = String;
    fn piece(&mut self, text: &str) -> Result<(), String> {
        if (self.text.len() + text.len()) as u64 > self.limit {
            return Err(too_big(self.limit, self.noun));
        }
        self.text.push_str(text);
        Ok(())
    }
    fn finish(self) -> String {
        self.text
    }
}

fn too_big(limit: u64, noun: &str) -> String {
    format!(
        "larger than {}, the most reach reads as {noun}",
        size(limit)
    )
}

/// What the reading thread and its waiter share.
#[derive(Default)]
struct Shared {
    /// Bytes read so far.
    bytes: AtomicU64,
    /// The waiter is gone (timeout, Ctrl-C): stop at the next piece.
    stop: AtomicBool,
}

/// Sets `stop` when the waiting future is dropped, however it ends.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
    }
}

/// The input as messages name it: `stdin` for `-`, else the path as given.
pub(crate) fn display_name(source: &str) -> &str {
    if source == "-" { "stdin" } else { source }
}

/// Reads `source` (a path, or `-` for stdin) into `sink`; `what` is the
/// option that named it (`--allowlist`), empty for a positional file.
/// A FIFO or stdin that sends nothing for `timeout` is an error.
pub(crate) async fn read<S: Sink>(
    source: &str,
    what: &str,
    kind: Kind,
    timeout: Duration,
    sink: S,
) -> Result<S::Output, String> {
    let name = display_name(source).to_owned();
    let label = if what.is_empty() {
        name.clone()
    } else {
        format!("{what} {name}")
    };
    let stream = if source == "-" {
        true
    } else {
        match std::fs::metadata(source) {
            // The empty input of every shell script: read as empty.
            Ok(_) if Path::new(source) == Path::new("/dev/null") => false,
            Ok(meta) => {
                refuse_special(&meta).map_err(|why| format!("{label}: {why}"))?;
                if meta.is_file() && meta.len() > kind.bounds().file {
                    return Err(format!(
                        "{label}: {}",
                        too_big(kind.bounds().file, kind.noun())
                    ));
                }
                !meta.is_file()
            }
            Err(e) => return Err(format!("{label}: cannot read it: {}", io_reason(&e))),
        }
    };
    let shared = Arc::new(Shared::default());
    let guard = StopOnDrop(Arc::clone(&shared));
    let thread_shared = Arc::clone(&shared);
    let owned = source.to_owned();
    let thread_label = label.clone();
    let mut task = tokio::task::spawn_blocking(move || {
        let opened = if owned == "-" {
            Ok(Box::new(std::io::stdin()) as Box<dyn Read>)
        } else {
            // Opening a FIFO waits for a writer: here, not on a worker.
            std::fs::File::open(&owned).map(|f| Box::new(f) as Box<dyn Read>)
        };
        match opened {
            Ok(mut reader) => read_into(&mut reader, &owned, kind, PIECE, &thread_shared, sink)
                .map_err(|e| match e {
                    ReadError::At(message) => message,
                    ReadError::Input(why) => format!("{thread_label}: {why}"),
                }),
            Err(e) => Err(format!("{thread_label}: cannot read it: {}", io_reason(&e))),
        }
    });
    let joined = if stream {
        // A stream may wait for ever: give up when nothing came for
        // `timeout`.
        let mut seen = 0;
        loop {
            if let Ok(joined) = tokio::time::timeout(timeout, &mut task).await {
                break joined;
            }
            let now = shared.bytes.load(Ordering::Relaxed);
            if now == seen {
                let waited = reach_report::seconds(timeout);
                return Err(if now == 0 {
                    format!("{label}: no data within {waited} (--timeout)")
                } else {
                    format!("{label}: no more data within {waited} (--timeout) after {now} bytes")
                });
            }
            seen = now;
        }
    } else {
        task.await
    };
    drop(guard);
    joined_task(joined).unwrap_or_else(|| Err(format!("{label}: the read was cancelled")))
}

/// A task's result: its value, or `None` when the runtime cancelled it. A
/// task that panicked is a bug: the panic goes on (exit 3), never a silent
/// pass.
pub(crate) fn joined_task<T>(joined: Result<T, tokio::task::JoinError>) -> Option<T> {
    match joined {
        Ok(value) => Some(value),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => None,
    }
}

/// A folder, a device or a socket is not an input.
fn refuse_special(meta: &std::fs::Metadata) -> Result<(), String> {
    let kind = meta.file_type();
    if kind.is_dir() {
        return Err("a folder, not a file".to_owned());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_char_device() {
            return Err(
                "a character device (like /dev/zero or a terminal), not a file: give a file, a FIFO or - for stdin"
                    .to_owned(),
            );
        }
        if kind.is_block_device() {
            return Err("a block device (a disk), not a file".to_owned());
        }
        if kind.is_socket() {
            return Err("a socket, not a file".to_owned());
        }
    }
    Ok(())
}

/// An I/O error as a message says it (without "(os error 2)").
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(at) => text[..at].to_owned(),
        None => text,
    }
}

/// Why a read stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// A message that already names the input and the line.
    At(String),
    /// A reason about the whole input, to follow its name.
    Input(String),
}

/// Reads `reader` to its end in pieces of at most `piece_size` bytes,
/// checking the bounds of `kind`, and hands the text to `sink`. `source` is
/// the path as given (`-` for stdin), for messages.
fn read_into<S: Sink>(
    reader: &mut dyn Read,
    source: &str,
    kind: Kind,
    piece_size: usize,
    shared: &Shared,
    mut sink: S,
) -> Result<S::Output, ReadError> {
    let bounds = kind.bounds();
    let name = display_name(source);
    let piece_size = piece_size.max(4);
    // The first bytes are gathered before anything is passed on: the sink
    // judges the file by them.
    let mut buf = vec![0u8; piece_size + HEAD + 4];
    // Bytes at the start of `buf` not passed on yet: the head, or an
    // incomplete UTF-8 sequence at the end of the last read.
    let mut carry = 0usize;
    let mut total: u64 = 0;
    // Lines before the current one, and the current line's length so far.
    let mut line: u64 = 1;
    let mut line_len: u64 = 0;
    // Whether the text is a JSON document (no line bound); `None` until
    // its first non-blank character.
    let mut json: Option<bool> = None;
    let mut first = true;
    loop {
        if shared.stop.load(Ordering::Relaxed) || reach_allowlist::cancel::requested() {
            return Err(ReadError::Input("the read was cancelled".to_owned()));
        }
        let n = match reader.read(&mut buf[carry..carry + piece_size]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(ReadError::Input(format!(
                    "cannot read it: {}",
                    io_reason(&e)
                )));
            }
        };
        let eof = n == 0;
        total += n as u64;
        shared.bytes.store(total, Ordering::Relaxed);
        if total > bounds.file {
            return Err(ReadError::Input(too_big(bounds.file, kind.noun())));
        }
        let filled = carry + n;
        if first {
            if !eof && filled < HEAD {
                carry = filled;
                continue;
            }
            first = false;
            sink.first(&buf[..filled]).map_err(ReadError::Input)?;
        }
        if eof && filled == 0 {
            break;
        }
        let data = &buf[..filled];
        let (text, rest) = match std::str::from_utf8(data) {
            Ok(text) => (text, 0),
            Err(e) if e.error_len().is_none() && !eof => {
                let valid = e.valid_up_to();
                // Only the end is cut: the rest of a character is to come.
                (
                    std::str::from_utf8(&data[..valid]).unwrap_or_default(),
                    data.len() - valid,
                )
            }
            Err(e) => {
                let before = &data[..e.valid_up_to()];
                let at = line + newlines(before);
                return Err(ReadError::At(format!("{name}:{at}: not UTF-8 text")));
            }
        };
        if json.is_none() {
            let start = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
            if let Some(c) = start.chars().next() {
                json = Some(bounds.json && matches!(c, '{' | '['));
            }
        }
        let bytes = text.as_bytes();
        if json == Some(true) {
            line += newlines(bytes);
        } else {
            let mut at = 0;
            while at < bytes.len() {
                let Some(i) = bytes[at..].iter().position(|&b| b == b'\n') else {
                    line_len += (bytes.len() - at) as u64;
                    if line_len > bounds.line {
                        return Err(ReadError::At(long_line(name, line, bounds, kind)));
                    }
                    break;
                };
                if line_len + i as u64 > bounds.line {
                    return Err(ReadError::At(long_line(name, line, bounds, kind)));
                }
                line += 1;
                line_len = 0;
                at += i + 1;
            }
        }
        sink.piece(text).map_err(ReadError::Input)?;
        if eof {
            break;
        }
        let valid = data.len() - rest;
        buf.copy_within(valid..valid + rest, 0);
        carry = rest;
    }
    Ok(sink.finish())
}

/// The line breaks in `bytes`.
// LLVM vectorises this loop; no dependency needed for it.
#[allow(clippy::naive_bytecount)]
pub(crate) fn newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

fn long_line(name: &str, line: u64, bounds: Bounds, kind: Kind) -> String {
    format!(
        "{name}:{line}: line longer than {}, the longest reach reads in {}",
        size(bounds.line),
        kind.noun()
    )
}

/// For the fuzzer: reads `data` through a reader that returns at most
/// `chunk` bytes at a time, in pieces of `piece` bytes.
pub(crate) fn read_bytes<S: Sink>(
    data: &[u8],
    chunk: usize,
    piece: usize,
    kind: Kind,
    sink: S,
) -> Result<S::Output, ReadError> {
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
    }
    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.chunk.max(1)).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }
    let mut reader = Trickle { data, chunk };
    read_into(&mut reader, "fuzz", kind, piece, &Shared::default(), sink)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(data: &[u8], kind: Kind, chunk: usize) -> Result<String, ReadError> {
        read_bytes(data, chunk, 7, kind, Whole::new(kind))
    }

    fn message(e: ReadError) -> String {
        match e {
            ReadError::At(m) | ReadError::Input(m) => m,
        }
    }

    #[test]
    fn text_split_anywhere_comes_back_whole() {
        let text = "10.0.0.0/8\n# é ü ☃ comment\n192.0.2.0/24\n";
        for chunk in 1..12 {
            assert_eq!(
                whole(text.as_bytes(), Kind::Allowlist, chunk).unwrap(),
                text
            );
        }
    }

    #[test]
    fn invalid_utf8_names_its_line() {
        let data = b"10.0.0.0/8\n192.0.2.0/24\n\xff\xfe\n";
        for chunk in [1, 3, 100] {
            let e = message(whole(data, Kind::Allowlist, chunk).unwrap_err());
            assert_eq!(e, "fuzz:3: not UTF-8 text");
        }
        // A character cut at the end of the file.
        let e = message(whole(b"a\nb\xe2\x98", Kind::Targets, 2).unwrap_err());
        assert_eq!(e, "fuzz:2: not UTF-8 text");
    }

    #[test]
    fn a_long_line_is_refused_with_its_number() {
        let mut data = b"ok\nok\n".to_vec();
        data.extend(std::iter::repeat_n(b'a', 5000));
        let e = message(whole(&data, Kind::Allowlist, 4096).unwrap_err());
        assert!(e.starts_with("fuzz:3: line longer than 4 KiB"), "{e}");
        // A line of exactly the bound is read.
        let mut data = vec![b'a'; 4096];
        data.push(b'\n');
        assert!(whole(&data, Kind::Allowlist, 1000).is_ok());
    }

    #[test]
    fn json_documents_have_no_line_bound() {
        let mut data = b"  {\"nftables\": [".to_vec();
        data.extend(std::iter::repeat_n(b' ', 20_000));
        data.extend(b"]}");
        assert!(whole(&data, Kind::Allowlist, 999).is_ok());
        // Not for the kinds that are never JSON.
        assert!(whole(&data, Kind::Targets, 999).is_err());
    }

    #[test]
    fn binary_and_oversized_inputs() {
        let e = message(whole(b"SQLite format 3\0", Kind::Targets, 64).unwrap_err());
        assert!(e.contains("binary"), "{e}");
        let big = vec![b'\n'; 70_000];
        let sink = Whole {
            limit: 65_536,
            ..Whole::new(Kind::App)
        };
        let e = read_bytes(&big, 4096, 4096, Kind::App, sink);
        assert!(message(e.unwrap_err()).contains("larger than 64 KiB"));
    }

    #[test]
    fn sizes() {
        assert_eq!(size(4 * GIB), "4 GiB");
        assert_eq!(size(16 * KIB), "16 KiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
