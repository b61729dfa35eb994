//! Fixtures shared by the table's unit tests: addresses and the new-flow
//! record most tests start from.

use std::net::IpAddr;

use xvs_config::ForwardMethod;

use crate::{ConnFlags, ConnState, NewConn, INITIAL_TIMEOUT_SECS};

pub(crate) const TCP: u8 = 6;

pub(crate) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// A new TCP flow client → VIP:80 → RIP:8080 with `m`.
pub(crate) fn flow(m: ForwardMethod, c: &str, cport: u16, v: &str, d: &str) -> NewConn {
    NewConn {
        protocol: TCP,
        caddr: ip(c),
        cport,
        vaddr: ip(v),
        vport: 80,
        laddr: ip(c),
        lport: cport,
        daddr: ip(d),
        dport: 8080,
        flags: ConnFlags::for_method(m),
        dest_id: 7,
        controller: None,
        state: ConnState::None,
        timeout_secs: INITIAL_TIMEOUT_SECS,
    }
}

/// [`flow`] from 198.51.100.50:`cport` to 198.18.10.100 and 10.0.0.11.
pub(crate) fn flow4(m: ForwardMethod, cport: u16) -> NewConn {
    flow(m, "198.51.100.50", cport, "198.18.10.100", "10.0.0.11")
}
