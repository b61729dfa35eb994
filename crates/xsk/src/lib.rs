//! xvs-xsk: AF_XDP sockets for the poll-mode workers — UMEM (packet memory
//! shared with the kernel), the four lock-free rings, bind with zero-copy
//! detection, and the need_wakeup kicks; plus the raw link-layer socket the
//! control thread uses for ARP/ND.
//!
//! Layer: driver. This is one of the two crates where `unsafe` is allowed
//! (the other is xvs-xdp); every block says why it is sound. The ring index
//! arithmetic is plain code tested against a FIFO model.
//!
//! Why not the xsk-rs crate: its frame descriptors fix a packet's TX
//! address at the start of the frame's data segment and hand out the
//! headroom and the data as two separate slices, so the pipeline could not
//! grow a frame at the front in place (the IPIP header of TUN) or replace
//! it with a longer ICMP error without copying every packet. Owning the
//! descriptors here lets a worker hand the pipeline the whole frame and
//! transmit from wherever the packet ends up.
#![allow(unsafe_code)]

pub mod packet;
pub mod ring;
pub mod socket;
pub mod umem;

pub use packet::PacketSocket;
pub use ring::Ring;
pub use socket::{ifindex, poll_readable, BindMode, Desc, XskError, XskSocket};
pub use umem::{FramePool, Umem};
