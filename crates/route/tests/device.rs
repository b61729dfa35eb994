//! The route device against the real kernel (root): routes appear in the
//! table with xvs's protocol, go on withdraw, and vanish with the device
//! when its descriptor closes — what makes a killed xvs withdraw.

use std::net::IpAddr;
use std::process::Command;

use xvs_route::{RouteDevice, RTPROT_XVS};

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
    assert!(
        RouteDevice::create(&name, t, RTPROT_XVS).is_err(),
        "a second holder of the same device is refused"
    );
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
