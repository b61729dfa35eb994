//! Fuzz the whole per-packet function: the fixture director (every method,
//! both families) processes the input split into frames; nothing may
//! panic, and whatever it forwards must parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xvs_dataplane::Verdict;

fuzz_target!(|data: &[u8]| {
    let (plan, _registry) = xvs_testkit::lab_plan(2);
    let neighbors = xvs_testkit::lab_neighbors();
    let (_table, mut workers) = xvs_testkit::workers(&plan, 2);
    // Frames are separated by a 0xFF 0x00 marker so one input can open a
    // flow and then exercise its established path, replies and errors.
    for (i, frame) in data.split(|b| *b == 0xFF).enumerate() {
        let w = &mut workers[i % 2];
        let (v, out) = xvs_testkit::run(w, &plan, &neighbors, i as u32, i % 2, frame);
        if let Verdict::Forward { .. } = v {
            assert!(xvs_wire::parse_frame(&out).is_ok());
        }
    }
});
