//! Shared assertions of the rejection tests.

use xvs_config::load_str;

/// Assert `yaml` is rejected at `at` ("line:col") on `key` with a message
/// containing `fragment`.
#[track_caller]
pub fn rejects(yaml: &str, at: &str, key: &str, fragment: &str) {
    let err = match load_str(yaml, "bad.yaml") {
        Ok(_) => panic!("accepted a config that must be rejected:\n{yaml}"),
        Err(e) => e,
    };
    let text = err.to_string();
    let prefix = if key.is_empty() {
        format!("bad.yaml:{at}: ")
    } else {
        format!("bad.yaml:{at}: {key}: ")
    };
    assert!(
        text.starts_with(&prefix),
        "expected `{prefix}…`, got `{text}`"
    );
    assert!(text.contains(fragment), "expected `{fragment}` in `{text}`");
}

#[track_caller]
pub fn accepts(yaml: &str) -> xvs_config::Snapshot {
    load_str(yaml, "ok.yaml").unwrap_or_else(|e| panic!("{e}"))
}
