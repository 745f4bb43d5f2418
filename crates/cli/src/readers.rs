//! Two of the CLI's file readers, callable without running a command: public for the fuzz
//! targets (`crates/fuzz-targets`), which otherwise call the library crates directly.
//!
//! A preflight file is read by the CLI itself (each entry parsed by the command's own clap
//! definitions), so its reader stays here; [`allowlist_in_pieces`] is the CLI's bounded file
//! reader (line length, binary files, the first read) in front of reach-allowlist's chunked
//! `ListReader`.

/// The number of checks the preflight file `text` plans, read exactly as `reach run` reads
/// it (with `--only` and `--skip` empty); 0 when `reach run` would refuse the file. Any text
/// is safe: it never panics.
///
/// ```
/// assert_eq!(reach_cli::readers::preflight("not = [toml"), 0);
/// ```
pub fn preflight(text: &str) -> usize {
    crate::run::plan_text(text)
}

/// An allowlist read as `reach allowlist` reads one, from a reader that gives `chunk` bytes at
/// a time, in pieces of `piece` bytes, going over to the plain-list reader above
/// `stream_above` bytes (32 MiB for a real file); the number of entries read, or of bytes held
/// when it was not parsed. Any bytes are safe: it never panics.
pub fn allowlist_in_pieces(data: &[u8], chunk: usize, piece: usize, stream_above: usize) -> usize {
    crate::allowlist::fuzz_read(data, chunk, piece, stream_above)
}
