//! xvs-fwd: the bare AF_XDP forwarding ceiling the xvs forwarding rate is
//! compared with (DESIGN.md "Performance"). It uses what xvs uses — the
//! steering XDP program on both director interfaces, one worker with one
//! AF_XDP socket per interface on a shared UMEM, busy polling — and does
//! the least a forwarder can do: take a frame from the client side,
//! rewrite its two MAC addresses and put the same UMEM frame on the TX
//! ring of the real-server side. Whatever xvs costs beyond this is the
//! price of load balancing (parsing, connection table, scheduling,
//! rewriting).
//!
//! Layer: benchmark tool. This library holds the per-packet rewrite and
//! its parsing helpers, tested here; the sockets live in the binary.

/// Why a received frame is not forwarded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Skip {
    #[error("frame shorter than an Ethernet header")]
    Short,
    /// Not IPv4 (ARP for the VIP, which steering also claims, or IPv6):
    /// the ceiling forwards only the benchmark traffic.
    #[error("ethertype {0:#06x} is not IPv4")]
    NotIpv4(u16),
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETH_HLEN: usize = 14;

/// The whole per-packet job of the ceiling: check that `frame` is an
/// Ethernet II IPv4 frame and set its destination and source MACs.
#[inline]
pub fn rewrite_macs(frame: &mut [u8], dst: [u8; 6], src: [u8; 6]) -> Result<(), Skip> {
    let Some(header) = frame.get_mut(..ETH_HLEN) else {
        return Err(Skip::Short);
    };
    let ethertype = u16::from_be_bytes([header[12], header[13]]);
    if ethertype != ETHERTYPE_IPV4 {
        return Err(Skip::NotIpv4(ethertype));
    }
    header[..6].copy_from_slice(&dst);
    header[6..12].copy_from_slice(&src);
    Ok(())
}

/// Parses `aa:bb:cc:dd:ee:ff` (as `ip link` and /sys/class/net/IF/address
/// print it).
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.trim().split(':');
    for b in &mut mac {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 2 {
            return None;
        }
        *b = u8::from_str_radix(p, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_the_macs_of_an_ipv4_frame() {
        // 60-byte UDP frame as the generator sends it (client → VIP:9).
        let mut frame: Vec<u8> = [
            &[0x02, 0, 0, 0, 0, 0x02][..], // dst: director
            &[0x02, 0, 0, 0, 0, 0x0a],     // src: client
            &[0x08, 0x00],
            &[0x45, 0, 0, 46, 0, 0, 0x40, 0, 64, 17, 0, 0],
            &[198, 18, 0, 10, 198, 18, 0, 100],
            &[0x04, 0x00, 0x00, 0x09, 0, 26, 0, 0],
        ]
        .concat();
        frame.resize(60, 0xab);
        let before = frame.clone();
        let rs = [0x02, 0, 0, 0, 1, 0x11];
        let us = [0x02, 0, 0, 0, 0, 0x01];
        assert_eq!(rewrite_macs(&mut frame, rs, us), Ok(()));
        assert_eq!(&frame[..6], &rs);
        assert_eq!(&frame[6..12], &us);
        assert_eq!(&frame[12..], &before[12..], "nothing past the MACs changes");
    }

    #[test]
    fn arp_ipv6_and_runts_are_not_forwarded() {
        let mut arp = [0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        let before = arp;
        assert_eq!(
            rewrite_macs(&mut arp, [1; 6], [2; 6]),
            Err(Skip::NotIpv4(0x0806))
        );
        assert_eq!(arp, before, "a skipped frame is left alone");
        let mut v6 = [0u8; 60];
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(
            rewrite_macs(&mut v6, [1; 6], [2; 6]),
            Err(Skip::NotIpv4(0x86dd))
        );
        assert_eq!(
            rewrite_macs(&mut [0u8; 13], [1; 6], [2; 6]),
            Err(Skip::Short)
        );
    }

    #[test]
    fn macs_parse() {
        assert_eq!(parse_mac("02:0a:FF:00:1:2\n"), Some([2, 10, 255, 0, 1, 2]));
        assert_eq!(parse_mac("02:0a:ff:00:01"), None);
        assert_eq!(parse_mac("02:0a:ff:00:01:02:03"), None);
        assert_eq!(parse_mac("zz:0a:ff:00:01:02"), None);
    }
}
