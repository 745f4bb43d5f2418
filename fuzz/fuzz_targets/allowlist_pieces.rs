#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reach_cli::fuzzing::run("allowlist_pieces", data);
});
