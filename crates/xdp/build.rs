//! Compiles the XDP programs in bpf/ with clang into OUT_DIR; the crate
//! embeds the objects with `include_bytes_aligned!`. No object file is
//! committed: the C source is the only source.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const PROGRAMS: &[&str] = &["steer", "decap"];

fn main() {
    let manifest =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let bpf = manifest.join("bpf");
    let clang = env::var("CLANG").unwrap_or_else(|_| "clang".to_string());

    println!("cargo:rerun-if-env-changed=CLANG");
    println!("cargo:rerun-if-changed=bpf/common.h");

    // <linux/types.h> includes <asm/types.h>, which Debian keeps under the
    // host's multiarch directory; `-target bpf` does not search it.
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".to_string());
    let multiarch = format!("/usr/include/{arch}-linux-gnu");

    for name in PROGRAMS {
        let src = bpf.join(format!("{name}.c"));
        let obj = out.join(format!("{name}.o"));
        println!("cargo:rerun-if-changed=bpf/{name}.c");
        let status = Command::new(&clang)
            .args(["-O2", "-g", "-Wall", "-Werror", "-target", "bpf"])
            .arg(format!("-I{multiarch}"))
            .arg("-c")
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!(
                "xvs-xdp: `{clang} -target bpf -c {}` failed ({s}); see the compiler output above",
                src.display()
            ),
            Err(e) => panic!(
                "xvs-xdp: cannot run `{clang}` ({e}): the XDP programs are compiled from C at \
                 build time. Install clang and libbpf-dev (scripts/install-deps.sh does), or \
                 point the CLANG environment variable at a clang binary."
            ),
        }
    }
}
