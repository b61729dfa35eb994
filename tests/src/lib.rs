//! The end-to-end suites' shared support (the top-level `tests/` package,
//! `xvs-e2e`): each suite in `e2e/` builds a lab of network namespaces
//! ([`xvs_lab`]), runs the real `xvs` binary in it and talks to it as an
//! operator would, through its control socket and its CLI. This library is
//! the part they share; it is test code, so it panics on what it does not
//! expect, with the reason.
//!
//! - [`support`]: a lab with one running director, its configuration, the
//!   `xvs` binary ([`support::xvs`]), counters read back.
//! - [`health_support`]: services with checkers, `xvs status --json`, a
//!   background client that records which real server answered when.
//! - [`vrrp_support`]: a VRRP pair of directors and their states.
//! - [`bgp_support`]: three directors behind an ECMP router, BIRD in each.
//!
//! Run a suite with `cargo build -p xvs && cargo test -p xvs-e2e --test
//! e2e_sync` (root, or it skips loudly); `scripts/test.sh` runs them all.

pub mod bgp_support;
pub mod health_support;
pub mod support;
pub mod vrrp_support;

#[cfg(test)]
mod tests {
    use std::path::Path;

    /// `autotests = false`: a suite in e2e/ without its [[test]] entry in
    /// Cargo.toml would never be built or run, silently.
    #[test]
    fn every_suite_is_listed_in_the_manifest() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("read Cargo.toml");
        for entry in std::fs::read_dir(root.join("e2e")).expect("read e2e/") {
            let name = entry.expect("e2e/ entry").file_name();
            let name = name.to_str().expect("UTF-8 file name");
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            let listed = format!("[[test]]\nname = \"{stem}\"\npath = \"e2e/{name}\"\n");
            assert!(
                manifest.contains(&listed),
                "e2e/{name} has no [[test]] entry in tests/Cargo.toml; add:\n\n{listed}"
            );
        }
    }
}
