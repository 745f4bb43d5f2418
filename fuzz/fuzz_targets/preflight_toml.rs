#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reach_cli::fuzzing::run("preflight_toml", data);
});
