//! Fuzz the YAML loader (crates/config): whatever text a config file
//! holds ends in a snapshot or an error naming file:line:col, never a
//! panic; a snapshot it accepts compiles into the workers' plan without a
//! panic, as `xvs run` and `xvs reload` would compile it.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use xvs_config::ConfigError;
use xvs_dataplane::{DestRegistry, Plan};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match xvs_config::load_str(&text, "fuzz.yaml") {
        Ok(snap) => {
            let workers = snap.global.workers.len().max(1);
            let mut registry = DestRegistry::new(workers);
            let _ = Plan::compile(Arc::new(snap), &mut registry, None);
        }
        Err(ConfigError::Invalid { origin, location, .. }) => {
            // Every error points into the file it read.
            assert_eq!(origin, "fuzz.yaml");
            // YAML breaks lines at LF, CRLF and a lone CR (YAML 1.2 §5.4).
            let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
            assert!(
                location.line >= 1 && location.line <= lines && location.col >= 1,
                "error at {location}, outside a text of {lines} lines"
            );
        }
        Err(other) => panic!("a text in memory cannot fail with: {other}"),
    }
});
