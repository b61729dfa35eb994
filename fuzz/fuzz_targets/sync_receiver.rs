//! Fuzz the sync receiver (crates/sync/src/receiver.rs, over the codec in
//! crates/wire/src/sync.rs): whatever arrives on the sync port, from a
//! peer, must end in entries, a control message or a counted drop, never a
//! panic. The first byte picks the receiver's SyncID (0 accepts any).
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use xvs_sync::{Received, Receiver, ReceiverConfig, Synced};

fuzz_target!(|data: &[u8]| {
    let Some((&sync_id, datagram)) = data.split_first() else {
        return;
    };
    let peer = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
    let mut rx = Receiver::new(ReceiverConfig {
        sync_id,
        peers: vec![peer],
    });
    if let Received::Entries(entries) = rx.handle(peer, datagram) {
        // Whatever is returned is a fixed point of the checks: sent on,
        // it would be received unchanged.
        for s in &entries {
            assert_eq!(Synced::from_wire(&s.to_wire()), Ok(*s));
        }
    }
});
