//! Why a frame was rejected: one [`WireError`] variant per reason, each with
//! a stable snake_case name ([`WireError::reason`]) and a dense index
//! ([`WireError::index`]) so the data plane can keep one drop counter per
//! reason in a plain array.

/// Defines the error enum together with its reason table, so the reason
/// names, the index order and [`WireError::ALL`] can never drift apart.
macro_rules! wire_errors {
    ($( $(#[$doc:meta])* $variant:ident => $reason:literal, $msg:literal; )+) => {
        /// A malformed or unusable frame, or a buffer too small for a builder.
        ///
        /// Unit variants only: the value is `Copy`, carries no data and costs
        /// nothing to return on the per-packet path.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
        #[non_exhaustive]
        pub enum WireError {
            $( $(#[$doc])* #[error($msg)] $variant, )+
        }

        impl WireError {
            /// Every variant, in [`WireError::index`] order.
            pub const ALL: &'static [WireError] = &[$(WireError::$variant),+];
            /// Reason names, in [`WireError::index`] order (metric labels).
            pub const REASONS: &'static [&'static str] = &[$($reason),+];
            /// Number of variants: the length of a per-reason counter array.
            pub const COUNT: usize = WireError::ALL.len();

            /// Stable snake_case name for metrics and logs; never renamed.
            pub const fn reason(&self) -> &'static str {
                match self {
                    $( WireError::$variant => $reason, )+
                }
            }

            /// Dense index in `0..COUNT`, for per-reason counter arrays.
            pub const fn index(&self) -> usize {
                *self as usize
            }
        }
    };
}

wire_errors! {
    /// Fewer than 14 bytes of Ethernet header.
    EthernetTruncated => "ethernet_truncated", "frame shorter than an Ethernet header";
    /// A VLAN tag announced by the ethertype is cut short.
    VlanTruncated => "vlan_truncated", "802.1Q/802.1ad tag truncated";
    /// More stacked VLAN tags than 802.1ad QinQ (two) allows us to skip.
    TooManyVlanTags => "too_many_vlan_tags", "more than two stacked VLAN tags";
    /// ARP packet shorter than the 28 bytes of an Ethernet/IPv4 ARP.
    ArpTruncated => "arp_truncated", "ARP packet truncated";
    /// ARP for a hardware/protocol pair other than Ethernet/IPv4.
    ArpUnsupported => "arp_unsupported", "ARP is not Ethernet/IPv4";
    /// Fewer bytes than the IPv4 header (20, or IHL x 4 with options).
    Ipv4Truncated => "ipv4_truncated", "IPv4 header truncated";
    /// Ethertype says IPv4 but the version nibble is not 4.
    Ipv4BadVersion => "ipv4_bad_version", "IPv4 version field is not 4";
    /// IHL below 5 words (RFC 791: the minimum header is 20 bytes).
    Ipv4BadIhl => "ipv4_bad_ihl", "IPv4 IHL below 5";
    /// Total length larger than the bytes received.
    Ipv4TotalLengthBeyondFrame => "ipv4_total_length_beyond_frame", "IPv4 total length beyond the frame";
    /// Total length smaller than the header itself.
    Ipv4TotalLengthBelowHeader => "ipv4_total_length_below_header", "IPv4 total length below the header length";
    /// Fewer than 40 bytes of IPv6 header.
    Ipv6Truncated => "ipv6_truncated", "IPv6 header truncated";
    /// Ethertype says IPv6 but the version nibble is not 6.
    Ipv6BadVersion => "ipv6_bad_version", "IPv6 version field is not 6";
    /// Payload length runs past the bytes received.
    Ipv6BadPayloadLength => "ipv6_bad_payload_length", "IPv6 payload length beyond the frame";
    /// An extension header runs past the end of the payload.
    Ipv6ExtensionTruncated => "ipv6_extension_truncated", "IPv6 extension header truncated";
    /// More extension headers than we are willing to walk.
    Ipv6TooManyExtensions => "ipv6_too_many_extensions", "too many IPv6 extension headers";
    /// Fewer than 20 bytes of TCP header.
    TcpTruncated => "tcp_truncated", "TCP header truncated";
    /// TCP data offset below 5 words (RFC 9293 §3.1).
    TcpBadDataOffset => "tcp_bad_data_offset", "TCP data offset below 5";
    /// TCP data offset points past the end of the segment.
    TcpDataOffsetBeyondPacket => "tcp_data_offset_beyond_packet", "TCP data offset beyond the packet";
    /// Fewer than 8 bytes of UDP header.
    UdpTruncated => "udp_truncated", "UDP header truncated";
    /// UDP length field below 8 or not equal to the IP payload length.
    UdpLengthMismatch => "udp_length_mismatch", "UDP length does not match the IP payload";
    /// Fewer than 8 bytes of ICMP header.
    IcmpTruncated => "icmp_truncated", "ICMP header truncated";
    /// Fewer bytes than the ICMPv6 message needs (4-byte header, 8 for errors).
    Icmpv6Truncated => "icmpv6_truncated", "ICMPv6 message truncated";
    /// ICMP/ICMPv6 checksum does not verify.
    IcmpBadChecksum => "icmp_bad_checksum", "ICMP checksum mismatch";
    /// The packet quoted inside an ICMP error is too short to identify a flow.
    IcmpInnerTruncated => "icmp_inner_truncated", "packet embedded in ICMP error truncated";
    /// The packet quoted inside an ICMP error is not a valid IP header.
    IcmpInnerMalformed => "icmp_inner_malformed", "packet embedded in ICMP error malformed";
    /// Neighbour Discovery message fails RFC 4861 validation.
    NdiscInvalid => "ndisc_invalid", "neighbour discovery message invalid";
    /// Not an IP-in-IP packet (decapsulation asked for protocol 4 or 41).
    NotTunnel => "not_tunnel", "not an IP-in-IP packet";
    /// A fragmented tunnel packet cannot be decapsulated without reassembly.
    TunnelFragmented => "tunnel_fragmented", "tunnel packet is fragmented";
    /// Not enough headroom in front of the packet for the outer header.
    NoHeadroom => "no_headroom", "no headroom for the encapsulation header";
    /// Encapsulating would exceed the 65535-byte IP length limit.
    TooLong => "too_long", "packet too long to encapsulate";
    /// The caller's buffer is too small for the packet being built.
    BufferTooSmall => "buffer_too_small", "output buffer too small";
    /// The frame summary does not match the buffer it is applied to.
    FrameMismatch => "frame_mismatch", "frame summary does not match the buffer";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_unique_snake_case_and_indexed() {
        assert_eq!(WireError::REASONS.len(), WireError::COUNT);
        for (i, e) in WireError::ALL.iter().enumerate() {
            assert_eq!(e.index(), i);
            assert_eq!(e.reason(), WireError::REASONS[i]);
            assert!(e
                .reason()
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'));
        }
        let mut names: Vec<_> = WireError::REASONS.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), WireError::COUNT);
    }

    #[test]
    fn display_is_a_sentence() {
        assert_eq!(WireError::Ipv4BadIhl.to_string(), "IPv4 IHL below 5");
        assert_eq!(WireError::TcpBadDataOffset.reason(), "tcp_bad_data_offset");
    }
}
