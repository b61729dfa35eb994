//! The route device against the real kernel (root): routes appear in the
//! table with xvs's protocol, go on withdraw, and vanish with the device
//! when its descriptor closes — what makes a killed xvs withdraw.

use std::net::IpAddr;
use std::process::Command;

use xvs_route::{RouteDevice, RTPROT_XVS};

/// One test at a time: a child another test forks holds every descriptor
/// of this process until it execs (O_CLOEXEC closes them only then), so
/// a device dropped meanwhile would go a moment late.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn table(table: u32) -> String {
    let out = Command::new("ip")
        .args(["-4", "route", "show", "table", &table.to_string()])
        .output()
        .expect("ip runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn routes_live_and_die_with_the_device() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: needs root to create a TUN device and routes");
        return;
    }
    let _serial = serial();
    let pid = std::process::id();
    let name = format!("xvsrt{}", pid % 100_000);
    // A table of its own: nothing else on the machine uses it.
    let t = 40_000 + pid % 20_000;
    let dev = RouteDevice::create(&name, t, RTPROT_XVS).expect("create the device");
    let vip: IpAddr = "198.18.250.7".parse().unwrap();
    dev.announce(vip).expect("add");
    dev.announce(vip).expect("adding twice replaces");
    let shown = table(t);
    assert!(
        shown.contains(&format!("198.18.250.7 dev {name} proto 210 scope link")),
        "{shown}"
    );
    let again = RouteDevice::create(&name, t, RTPROT_XVS).expect_err("a second holder");
    assert!(again.to_string().contains("exists already"), "{again}");
    dev.withdraw(vip).expect("remove");
    dev.withdraw(vip).expect("removing a missing route is fine");
    assert_eq!(table(t).trim(), "");
    dev.announce(vip).expect("add again");
    drop(dev);
    assert_eq!(table(t).trim(), "", "the route went with the device");
    let links = Command::new("ip")
        .args(["link", "show", &name])
        .output()
        .unwrap();
    assert!(!links.status.success(), "the device is gone");
}

#[test]
fn a_persistent_device_of_that_name_is_refused() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: needs root to create a TUN device");
        return;
    }
    let _serial = serial();
    let name = format!("xvspt{}", std::process::id() % 100_000);
    let ip = |args: &[&str]| Command::new("ip").args(args).status().expect("ip runs");
    assert!(ip(&["tuntap", "add", "dev", &name, "mode", "tun"]).success());
    let refused = RouteDevice::create(&name, 40_000, RTPROT_XVS);
    // Remove it before asserting, so a failure leaves nothing behind.
    assert!(ip(&["link", "del", &name]).success());
    let err = refused.expect_err("attaching to a persistent device would outlive xvs");
    assert!(err.to_string().contains("ip link del"), "{err}");
}
