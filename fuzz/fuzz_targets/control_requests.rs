//! Fuzz what the daemon reads from clients (crates/runtime/src/api): a
//! control-socket request line (docs/control-protocol.md) and the head of
//! an HTTP request to the metrics endpoint. Both end in a request or an
//! error answer, never a panic. The first byte picks the parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xvs_runtime::api::{metrics_http, protocol};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    if selector % 2 == 0 {
        let line = String::from_utf8_lossy(rest);
        if let Err(answer) = protocol::parse_request(&line) {
            assert!(!answer.is_empty());
        }
    } else if let Some(route) = metrics_http::route(rest) {
        let reply = metrics_http::response(route, String::new);
        assert!(reply.starts_with(b"HTTP/1."));
    }
});
