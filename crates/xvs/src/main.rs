//! The `xvs` appliance binary (placeholder until the CLI lands).
fn main() {}
