//! Fuzz the frame parser and the ICMP-error parser: they must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = xvs_wire::parse_frame(data) {
        let _ = xvs_wire::parse_icmp_error(data, &info);
    }
});
