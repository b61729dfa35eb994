//! Fuzz `xvs import` (crates/config/src/keepalived): whatever text a
//! keepalived.conf holds, the lexer, block tree and converter end in an
//! import or an error naming file:line, never a panic, and the YAML it
//! writes is loaded by the xvs loader without a panic (it may be
//! rejected: the fuzzer's interfaces are not real).
#![no_main]

use libfuzzer_sys::fuzz_target;
use xvs_config::keepalived::{import_str, Director};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Includes are resolved against a directory that holds nothing.
    if let Ok(import) = import_str(&text, "/nonexistent/keepalived.conf") {
        let yaml = import.render(&Director::default());
        let _ = xvs_config::load_str(&yaml, "imported.yaml");
    }
});
