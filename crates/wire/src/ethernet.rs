//! Ethernet II frames (IEEE 802.3 §3.2.6) with 802.1Q VLAN tags and
//! 802.1ad (QinQ) service tags skipped, so the payload ethertype and offset
//! are those of the packet the frame carries.
//!
//! A tag is four bytes after the source MAC: a TPID (0x8100, 0x88A8, or the
//! pre-standard 0x9100) and a TCI whose low 12 bits are the VLAN id.

use crate::WireError;

/// An Ethernet MAC address, as in `xvs_config::MacAddr`.
pub type MacAddr = [u8; 6];

/// ff:ff:ff:ff:ff:ff.
pub const BROADCAST: MacAddr = [0xff; 6];

/// Untagged Ethernet II header length.
pub const HEADER_LEN: usize = 14;
/// One VLAN tag.
pub const VLAN_TAG_LEN: usize = 4;
/// Stacked tags we skip: an 802.1ad S-tag and an 802.1Q C-tag.
pub const MAX_VLAN_TAGS: usize = 2;
/// Smallest Ethernet frame without FCS (IEEE 802.3 §3.2.8: 64 with FCS).
pub const MIN_FRAME_LEN: usize = 60;

pub mod field {
    //! Byte ranges of the untagged header.
    use core::ops::Range;
    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
}

/// Ethertype values xvs branches on.
pub mod ethertype {
    pub const IPV4: u16 = 0x0800;
    pub const ARP: u16 = 0x0806;
    pub const IPV6: u16 = 0x86dd;
    pub const VLAN: u16 = 0x8100;
    pub const QINQ: u16 = 0x88a8;
    /// Pre-802.1ad QinQ TPID still sent by some switches.
    pub const QINQ_LEGACY: u16 = 0x9100;
}

/// True for a TPID that introduces a VLAN tag.
pub const fn is_vlan_tpid(ethertype: u16) -> bool {
    matches!(
        ethertype,
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_LEGACY
    )
}

/// True for a group (multicast or broadcast) MAC: the I/G bit.
pub const fn is_multicast(mac: &MacAddr) -> bool {
    mac[0] & 0x01 != 0
}

/// A zero-copy view of an Ethernet frame whose tags have been validated.
#[derive(Debug, Clone, Copy)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
    /// Header length including tags: the offset of the payload.
    header_len: usize,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Validates the header and up to [`MAX_VLAN_TAGS`] tags.
    pub fn new_checked(buffer: T) -> Result<Self, WireError> {
        let header_len = tagged_header_len(buffer.as_ref())?;
        Ok(Packet { buffer, header_len })
    }

    pub fn into_inner(self) -> T {
        self.buffer
    }

    pub fn destination(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::DESTINATION.start)
    }

    pub fn source(&self) -> MacAddr {
        mac_at(self.buffer.as_ref(), field::SOURCE.start)
    }

    /// Header length including VLAN tags: where the payload starts.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Number of VLAN tags skipped.
    pub fn vlan_tags(&self) -> usize {
        (self.header_len - HEADER_LEN) / VLAN_TAG_LEN
    }

    /// The outermost VLAN id, if tagged.
    pub fn vlan(&self) -> Option<u16> {
        if self.header_len > HEADER_LEN {
            let b = self.buffer.as_ref();
            Some(u16::from_be_bytes([b[14], b[15]]) & 0x0fff)
        } else {
            None
        }
    }

    /// Ethertype of the payload (after every tag).
    pub fn ethertype(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[self.header_len - 2], b[self.header_len - 1]])
    }

    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[self.header_len..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub fn set_destination(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::DESTINATION].copy_from_slice(&mac);
    }

    pub fn set_source(&mut self, mac: MacAddr) {
        self.buffer.as_mut()[field::SOURCE].copy_from_slice(&mac);
    }

    /// Rewrites the payload ethertype (the innermost one).
    pub fn set_ethertype(&mut self, ethertype: u16) {
        let at = self.header_len - 2;
        self.buffer.as_mut()[at..at + 2].copy_from_slice(&ethertype.to_be_bytes());
    }

    pub fn payload_mut(&mut self) -> &mut [u8] {
        let at = self.header_len;
        &mut self.buffer.as_mut()[at..]
    }
}

fn mac_at(b: &[u8], at: usize) -> MacAddr {
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&b[at..at + 6]);
    mac
}

/// Length of the header with its tags, after checking they are all there.
pub fn tagged_header_len(frame: &[u8]) -> Result<usize, WireError> {
    if frame.len() < HEADER_LEN {
        return Err(WireError::EthernetTruncated);
    }
    let mut ethertype_at = field::ETHERTYPE.start;
    for _ in 0..=MAX_VLAN_TAGS {
        let ethertype = u16::from_be_bytes([frame[ethertype_at], frame[ethertype_at + 1]]);
        if !is_vlan_tpid(ethertype) {
            return Ok(ethertype_at + 2);
        }
        // The tag's TCI, then the next ethertype.
        ethertype_at += VLAN_TAG_LEN;
        if frame.len() < ethertype_at + 2 {
            return Err(WireError::VlanTruncated);
        }
    }
    Err(WireError::TooManyVlanTags)
}

/// Writes an Ethernet II header, with one 802.1Q tag when `vlan` is set,
/// and returns its length (14 or 18).
pub fn write_header(
    out: &mut [u8],
    destination: MacAddr,
    source: MacAddr,
    vlan: Option<u16>,
    ethertype: u16,
) -> Result<usize, WireError> {
    let len = HEADER_LEN + if vlan.is_some() { VLAN_TAG_LEN } else { 0 };
    let hdr = out.get_mut(..len).ok_or(WireError::BufferTooSmall)?;
    hdr[field::DESTINATION].copy_from_slice(&destination);
    hdr[field::SOURCE].copy_from_slice(&source);
    let mut at = field::ETHERTYPE.start;
    if let Some(id) = vlan {
        hdr[at..at + 2].copy_from_slice(&ethertype::VLAN.to_be_bytes());
        // PCP 0, DEI 0: we do not set priorities.
        hdr[at + 2..at + 4].copy_from_slice(&(id & 0x0fff).to_be_bytes());
        at += VLAN_TAG_LEN;
    }
    hdr[at..at + 2].copy_from_slice(&ethertype.to_be_bytes());
    Ok(len)
}

/// Zero-fills a frame being built up to the 60-byte minimum and returns the
/// padded length: not every AF_XDP driver pads short frames on transmit.
pub fn pad_to_minimum(out: &mut [u8], len: usize) -> Result<usize, WireError> {
    if len >= MIN_FRAME_LEN {
        return Ok(len);
    }
    let pad = out
        .get_mut(len..MIN_FRAME_LEN)
        .ok_or(WireError::BufferTooSmall)?;
    pad.fill(0);
    Ok(MIN_FRAME_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::{PacketBuilder, SlicedPacket, VlanId};

    const SRC: MacAddr = [0x02, 0, 0, 0, 0, 1];
    const DST: MacAddr = [0x02, 0, 0, 0, 0, 2];

    fn udp_frame(vlans: &[u16]) -> Vec<u8> {
        let eth = PacketBuilder::ethernet2(SRC, DST);
        let mut out = Vec::new();
        let payload = [0xaa; 4];
        match vlans {
            [] => eth
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1, 2)
                .write(&mut out, &payload),
            [a] => eth
                .single_vlan(VlanId::try_new(*a).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1, 2)
                .write(&mut out, &payload),
            [a, b] => eth
                .double_vlan(VlanId::try_new(*a).unwrap(), VlanId::try_new(*b).unwrap())
                .ipv4([10, 0, 0, 1], [10, 0, 0, 2], 64)
                .udp(1, 2)
                .write(&mut out, &payload),
            _ => unreachable!("test helper takes at most two tags"),
        }
        .unwrap();
        out
    }

    #[test]
    fn untagged() {
        let f = udp_frame(&[]);
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(p.source(), SRC);
        assert_eq!(p.destination(), DST);
        assert_eq!(p.ethertype(), ethertype::IPV4);
        assert_eq!(p.header_len(), 14);
        assert_eq!(p.vlan(), None);
        assert_eq!(p.payload()[0], 0x45);
    }

    #[test]
    fn single_and_double_tags_are_skipped() {
        let f = udp_frame(&[100]);
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(
            (p.header_len(), p.vlan(), p.vlan_tags()),
            (18, Some(100), 1)
        );
        assert_eq!(p.ethertype(), ethertype::IPV4);

        let f = udp_frame(&[7, 300]);
        let p = Packet::new_checked(&f[..]).unwrap();
        assert_eq!(
            f[12..14],
            [0x88, 0xa8],
            "etherparse writes an 802.1ad S-tag"
        );
        assert_eq!((p.header_len(), p.vlan(), p.vlan_tags()), (22, Some(7), 2));
        assert_eq!(p.ethertype(), ethertype::IPV4);
        let sliced = SlicedPacket::from_ethernet(&f).unwrap();
        let ip = sliced.net.unwrap();
        assert_eq!(p.payload().len(), f.len() - 22);
        assert!(matches!(ip, etherparse::NetSlice::Ipv4(_)));
    }

    #[test]
    fn truncated_and_overtagged() {
        assert_eq!(
            Packet::new_checked(&[0u8; 13][..]).unwrap_err(),
            WireError::EthernetTruncated
        );
        let mut f = udp_frame(&[5]);
        f.truncate(17);
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            WireError::VlanTruncated
        );
        // Three tags: 8100 after 88a8 after 8100.
        let mut f = [0u8; 40];
        for at in [12, 16, 20] {
            f[at..at + 2].copy_from_slice(&0x8100u16.to_be_bytes());
        }
        assert_eq!(
            Packet::new_checked(&f[..]).unwrap_err(),
            WireError::TooManyVlanTags
        );
    }

    #[test]
    fn setters_and_write_header_round_trip() {
        let mut f = udp_frame(&[42]);
        let mut p = Packet::new_checked(&mut f[..]).unwrap();
        p.set_source(DST);
        p.set_destination(SRC);
        p.set_ethertype(ethertype::IPV6);
        assert_eq!(&f[0..6], &SRC);
        assert_eq!(&f[6..12], &DST);
        assert_eq!(&f[16..18], &[0x86, 0xdd]);

        let mut buf = [0u8; 18];
        assert_eq!(
            write_header(&mut buf, DST, SRC, Some(42), ethertype::IPV4),
            Ok(18)
        );
        let want = udp_frame(&[42]);
        assert_eq!(buf[..], want[..18]);
        assert_eq!(
            write_header(&mut buf, DST, SRC, None, ethertype::IPV4),
            Ok(14)
        );
        assert_eq!(buf[..14], udp_frame(&[])[..14]);
        assert_eq!(
            write_header(&mut buf[..10], DST, SRC, None, 0),
            Err(WireError::BufferTooSmall)
        );
    }

    #[test]
    fn padding() {
        let mut buf = [0xffu8; 64];
        assert_eq!(pad_to_minimum(&mut buf, 42), Ok(60));
        assert!(buf[42..60].iter().all(|&b| b == 0));
        assert_eq!(buf[60], 0xff);
        assert_eq!(pad_to_minimum(&mut buf, 62), Ok(62));
        assert_eq!(
            pad_to_minimum(&mut buf[..50], 42),
            Err(WireError::BufferTooSmall)
        );
    }
}
