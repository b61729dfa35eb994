//! `xvs run` and `xvs decap`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use xvs_runtime::RunOptions;
use xvs_xdp::AttachMode;

fn mode(m: Option<&str>) -> Option<AttachMode> {
    match m {
        Some("generic") => Some(AttachMode::Generic),
        Some(_) => Some(AttachMode::Native),
        None => None,
    }
}

pub fn run(config: PathBuf, control: PathBuf, xdp_mode: Option<&str>) -> ExitCode {
    let opts = RunOptions {
        config,
        control_socket: control,
        xdp_mode: mode(xdp_mode),
    };
    match xvs_runtime::run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e @ xvs_runtime::RunError::Config(_)) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("xvs run: {e}");
            ExitCode::FAILURE
        }
    }
}

pub fn decap(iface: &str, vips: &[IpAddr], xdp_mode: Option<&str>) -> ExitCode {
    let attach = |m| xvs_xdp::Decap::attach(iface, vips, m);
    let res = match mode(xdp_mode) {
        Some(m) => attach(m),
        None => attach(AttachMode::Native).or_else(|_| attach(AttachMode::Generic)),
    };
    let decap = match res {
        Ok(d) => d,
        Err(e) => {
            eprintln!("xvs decap: {iface}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&stop)) {
            eprintln!("xvs decap: signal handler: {e}");
            return ExitCode::FAILURE;
        }
    }
    eprintln!(
        "xvs decap: stripping IPIP for {} VIP(s) on {iface}",
        vips.len()
    );
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    drop(decap);
    eprintln!("xvs decap: detached from {iface}");
    ExitCode::SUCCESS
}
