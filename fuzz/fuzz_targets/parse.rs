//! Fuzz the frame parser and the decoders that read a parsed frame further
//! (ICMP errors, fragment identification): they must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = xvs_wire::parse_frame(data) {
        let _ = xvs_wire::parse_icmp_error(data, &info);
        if let Ok(Some(id)) = xvs_wire::fragment_id(data, &info) {
            // A fragment cannot carry more data than its frame holds.
            assert!(id.data_len as usize <= data.len(), "{id:?}");
            assert_eq!(id.offset % 8, 0, "offsets count 8-byte units: {id:?}");
        }
    }
});
