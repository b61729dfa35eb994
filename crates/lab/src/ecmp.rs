//! The ECMP lab (`directors: 3`): three directors side by side behind an
//! upstream router, as large LVS sites run them, each announcing the VIPs
//! to the router over BGP; the router spreads flows over them with Linux
//! multipath routes.
//!
//! ```text
//! ns {p}cl   client        eth0 198.18.2.10/24 (+ .11-.20), fd00:0:0:3::10/64
//!    | veth                default routes via the router
//! ns {p}rt   router        eth0 198.18.2.1, fd00:0:0:3::1 (client side)
//!    |                     eth1 198.18.0.1, fd00:0:0:1::1 (on br1, the directors' segment)
//!    |                     eth2 198.18.1.1, fd00:0:0:2::1 (on br0: the real servers' gateway)
//!    |                     forwarding on; multipath hashing on the 5-tuple
//! ns {p}sw   switch        br1: "rt", "dirc", "dir2c", "dir3c"
//!    |                     br0: "rts", "dir", "dir2", "dir3", "rsI"
//! ns {p}dirI director I    {p}c 198.18.0.(1+I), {p}r 198.18.1.(1+I) (and fd00 likewise)
//! ns {p}rsI  real servers  default routes via the router (DR replies go
//!                          straight back to the client)
//! ```
//!
//! The VIPs must lie outside every segment (e.g. 198.18.3.0/24): a VIP
//! on the directors' segment would be reached by ARP, which any director
//! answers, and the router's routes — the whole point — would not matter.
//!
//! The router hashes with `fib_multipath_hash_policy=3` and explicit
//! fields (addresses, protocol, ports). Policy 1 on a veth reuses the
//! sender's socket hash, which TCP re-randomises on every retransmission
//! timeout (`sk_rethink_txhash`), so a flow stuck on a dead director would
//! move by itself and hide the failure a test looks for.
//!
//! Layer: test support.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::names::Names;
use crate::spec::{LabSpec, PREFIX_LEN4, PREFIX_LEN6};
use crate::topology::{addresses_up, full_checksums, ip, sysctl, veth};
use crate::LabError;

/// The ECMP client's addresses (its own segment behind the router).
pub const ECMP_CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 10);
pub const ECMP_CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 3, 0, 0, 0, 0x10);
/// The router's client-side addresses (the client's gateway).
pub const ROUTER_CLIENT4: Ipv4Addr = Ipv4Addr::new(198, 18, 2, 1);
pub const ROUTER_CLIENT6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 3, 0, 0, 0, 1);
/// The router's address on the directors' segment: their BGP neighbour.
pub const ROUTER_DIRECTORS4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const ROUTER_DIRECTORS6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 1, 0, 0, 0, 1);
/// The router's interfaces.
pub const ROUTER_CLIENT_IF: &str = "eth0";
pub const ROUTER_DIRECTORS_IF: &str = "eth1";
pub const ROUTER_SERVERS_IF: &str = "eth2";
/// The directors' segment, where no VIP may lie.
pub const DIRECTORS_NET4: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 0);

/// The ECMP client's extra source addresses, 198.18.2.11 ..= 198.18.2.20.
pub fn ecmp_client_extra4() -> Vec<Ipv4Addr> {
    crate::spec::CLIENT4_EXTRA
        .map(|h| Ipv4Addr::new(198, 18, 2, h))
        .collect()
}

/// The router namespace and its three legs (the switch's bridges are
/// made by the caller; this makes the ports "rt" and "rts" on it).
pub(crate) fn build_router(names: &Names, spec: &LabSpec) -> Result<(), LabError> {
    let rt = names.router();
    let sw = names.switch();
    sysctl(
        &rt,
        &[
            "net.ipv4.ip_forward=1".into(),
            "net.ipv6.conf.all.forwarding=1".into(),
            "net.ipv4.conf.all.send_redirects=0".into(),
            "net.ipv4.conf.default.send_redirects=0".into(),
            // Custom hash fields (policy 3): source and destination
            // address, protocol, ports — the 5-tuple, nothing from the
            // sender's socket (see the module docs).
            "net.ipv4.fib_multipath_hash_policy=3".into(),
            "net.ipv4.fib_multipath_hash_fields=0x003f".into(),
            "net.ipv6.fib_multipath_hash_policy=3".into(),
            "net.ipv6.fib_multipath_hash_fields=0x003f".into(),
        ],
    )?;
    veth(&rt, ROUTER_DIRECTORS_IF, "rt", &sw, spec.queues)?;
    veth(&rt, ROUTER_SERVERS_IF, "rts", &sw, spec.queues)?;
    veth(&rt, ROUTER_CLIENT_IF, "eth0", &names.client(), spec.queues)?;
    for (ifname, a4, a6) in [
        (ROUTER_CLIENT_IF, ROUTER_CLIENT4, ROUTER_CLIENT6),
        (ROUTER_DIRECTORS_IF, ROUTER_DIRECTORS4, ROUTER_DIRECTORS6),
        (
            ROUTER_SERVERS_IF,
            crate::spec::SERVER_GW4,
            crate::spec::SERVER_GW6,
        ),
    ] {
        addresses_up(&rt, ifname, a4, a6)?;
        // Its BGP and BFD packets reach the directors' XDP programs.
        full_checksums(&rt, ifname)?;
    }
    sysctl(
        &rt,
        &[ROUTER_CLIENT_IF, ROUTER_DIRECTORS_IF, ROUTER_SERVERS_IF]
            .map(|i| format!("net.ipv4.conf.{i}.rp_filter=0")),
    )
}

/// The client behind the router.
pub(crate) fn build_client(names: &Names) -> Result<(), LabError> {
    let cl = names.client();
    ip(
        &cl,
        &[
            "addr",
            "add",
            &format!("{ECMP_CLIENT4}/{PREFIX_LEN4}"),
            "dev",
            "eth0",
        ],
    )?;
    for a in ecmp_client_extra4() {
        ip(
            &cl,
            &["addr", "add", &format!("{a}/{PREFIX_LEN4}"), "dev", "eth0"],
        )?;
    }
    ip(
        &cl,
        &[
            "addr",
            "add",
            &format!("{ECMP_CLIENT6}/{PREFIX_LEN6}"),
            "dev",
            "eth0",
            "nodad",
        ],
    )?;
    ip(&cl, &["link", "set", "eth0", "up"])?;
    full_checksums(&cl, "eth0")?;
    ip(
        &cl,
        &[
            "route",
            "add",
            "default",
            "via",
            &ROUTER_CLIENT4.to_string(),
        ],
    )?;
    ip(
        &cl,
        &[
            "-6",
            "route",
            "add",
            "default",
            "via",
            &ROUTER_CLIENT6.to_string(),
        ],
    )
}
