#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    reach_fuzz_targets::iptables(data);
});
