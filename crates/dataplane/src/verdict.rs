//! What the pipeline decided for one frame, and why a frame was dropped.
//! Drop reasons are a closed set so that each has a counter (metrics name
//! from [`DropReason::name`]).

use std::net::IpAddr;

/// The outcome of [`crate::Worker::process`] for one frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Transmit the (rewritten) frame on this interface index of the plan.
    /// The frame may have grown at the front (TUN) or been replaced by an
    /// ICMP error to the client.
    Forward { iface: usize },
    /// Everything is rewritten except the destination MAC, which is not
    /// resolved yet: the driver queues the frame briefly and asks the
    /// control thread to resolve `next_hop` on `iface`.
    NeedNeighbor { iface: usize, next_hop: IpAddr },
    /// Not a data-plane packet: ARP/ND, VRRP, ICMP to the director, ...
    /// handed to the control thread unchanged.
    ToControl(Punt),
    /// Not ours at all: give it back to the kernel stack unchanged.
    Pass,
    /// Dropped; the reason is already counted.
    Drop(DropReason),
    /// A later fragment that arrived before its datagram's first: the
    /// worker kept a copy and the driver frees the frame. It comes back
    /// through `Worker::take_released_fragment` once the first arrives,
    /// or is dropped and counted when it times out.
    Held,
}

/// Why a frame goes to the control thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Punt {
    Arp,
    NeighborDiscovery,
    Vrrp,
    /// ICMP/ICMPv6 addressed to the director itself (echo to a VIP, ...).
    IcmpToDirector,
}

macro_rules! drop_reasons {
    ($($variant:ident => $name:literal, $doc:literal;)*) => {
        /// Why a frame was dropped. Every variant has its own counter.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum DropReason {
            $(#[doc = $doc] $variant,)*
        }
        impl DropReason {
            pub const ALL: &'static [DropReason] = &[$(DropReason::$variant,)*];
            pub const COUNT: usize = DropReason::ALL.len();
            /// Stable snake_case name for metrics and `xvs list --stats`.
            pub const fn name(self) -> &'static str {
                match self { $(DropReason::$variant => $name,)* }
            }
        }
    };
}

drop_reasons! {
    Malformed => "malformed", "Truncated or inconsistent headers (the wire reason is counted separately).";
    UnsupportedL3 => "unsupported_l3", "Not IPv4, IPv6 or ARP.";
    NoService => "no_service", "To a VIP we own, but no service matches the protocol and port.";
    NoRealServer => "no_real_server", "The scheduler found no available real server (IPVS: ip_vs_leave).";
    TcpNotSyn => "tcp_not_syn", "A TCP segment other than SYN with no connection entry.";
    ConnTableFull => "conn_table_full", "The worker's connection-table shard is full.";
    DestUnavailable => "dest_unavailable", "The entry's real server was removed (expire_nodest_conn = 0).";
    ReuseDrop => "conn_reuse", "A SYN hit an entry that was just expired for reuse; the client retransmits.";
    FullNatPortsExhausted => "fullnat_ports_exhausted", "No free local address:port for a new FullNAT flow.";
    NoLocalPool => "fullnat_no_pool", "FullNAT service without a usable local-address pool.";
    Fragment => "fragment", "A non-first fragment with no way to find its flow.";
    FragMapFull => "frag_map_full", "A held fragment dropped because the fragment map, full, gave its datagram's entry to a newer one.";
    FragHoldFull => "frag_hold_full", "A later fragment that came before its first when the hold pool (or its datagram's share) was full, or too large to hold.";
    FragTimeout => "frag_timeout", "A held fragment whose first fragment did not come in time.";
    FragOrphan => "frag_orphan", "A later fragment of a datagram whose first fragment was dropped.";
    NoRoute => "no_route", "No interface or gateway reaches the destination.";
    TtlExceeded => "ttl_exceeded", "TTL/hop limit ran out (an ICMP time-exceeded was sent when possible).";
    TooBig => "too_big", "Larger than the egress MTU with DF set (ICMP frag-needed/PTB sent), or a tunnelled packet to fragment whose fragments found no room to wait for transmission.";
    NoHeadroom => "no_headroom", "No room in front of the frame for the tunnel header.";
    IcmpBadChecksum => "icmp_bad_checksum", "ICMP error with a bad checksum.";
    IcmpNoConn => "icmp_no_conn", "ICMP error about a flow we do not know.";
    FamilyMismatch => "family_mismatch", "Client and real server of different address families.";
    UnknownReply => "unknown_reply", "Traffic to a local (FullNAT) address with no connection entry.";
    VrrpStandby => "vrrp_standby", "To a VIP whose VRRP instance is not master here (backup or fault): another director serves it.";
    SynproxyBadCookie => "synproxy_bad_cookie", "An ACK with no entry to a SYN-proxied service whose acknowledgment is no valid cookie (forged, stale or foreign).";
    SynproxyHandshake => "synproxy_handshake", "A segment of a SYN-proxied connection the real server has not answered yet that opens nothing (RST, FIN, SYN), or a server segment other than its SYN-ACK or RST.";
    SynproxyNoRecord => "synproxy_no_record", "A SYN-proxied entry without its translation record (no record slot, or the SYN proxy off).";
    ReplyKeyInUse => "reply_key_in_use", "A new NAT flow whose reply tuple (real server:port, client:port) another connection already has: replies could not be told apart.";
}
