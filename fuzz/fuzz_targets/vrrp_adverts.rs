//! Fuzz the VRRP advert parser (crates/wire/src/vrrp.rs): whatever arrives
//! on a VRRP socket, whole frames or bare messages of either family, must
//! end in an advert or a `ParseError`, never a panic. The first byte picks
//! the path.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use libfuzzer_sys::fuzz_target;
use xvs_wire::vrrp;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    match selector % 3 {
        0 => {
            // Indexing by the payload range also checks it lies in the frame.
            if let Ok(received) = vrrp::parse_frame(rest) {
                let _ = vrrp::parse(&rest[received.payload], received.src, received.dst);
            }
        }
        1 => {
            let src = IpAddr::V4(Ipv4Addr::new(192, 168, 1, 2));
            let _ = vrrp::parse(rest, src, vrrp::MULTICAST_V4.into());
        }
        _ => {
            let src = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
            let _ = vrrp::parse(rest, src, vrrp::MULTICAST_V6.into());
        }
    }
});
