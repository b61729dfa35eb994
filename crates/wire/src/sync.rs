//! IPVS connection synchronisation, protocol version 1 (REFERENCE §9;
//! `ip_vs_sync.c`): the UDP datagrams a master director multicasts to
//! 224.0.0.81:8848 so that backups learn its connections.
//!
//! Sans-IO and control path only: [`parse`] and [`build`] work on whole
//! UDP payloads and allocate the entry list.
//!
//! Layout (big-endian):
//! - header, 8 bytes: reserved (0), SyncID, total size, entry count,
//!   version (1), spare (0);
//! - entries, each 36 bytes (IPv4) or 72 bytes (IPv6): type (bit 0 =
//!   IPv6), protocol, 4-bit entry version (0) + 12-bit entry size
//!   (options included, padding excluded), flags, state, cport, vport,
//!   dport, fwmark, timeout (s), caddr, vaddr, daddr;
//! - then options ⟨type, len, data⟩ up to the entry size; each entry is
//!   zero-padded to a multiple of 4 bytes.
//!
//! Parsing follows the kernel backup (`ip_vs_process_message`,
//! `ip_vs_proc_sync_conn`): a header that does not hold up rejects the
//! datagram ([`SyncError`]); a structurally broken entry ends the parse
//! (the kernel drops the rest of the datagram), an entry with an unknown
//! mandatory option is rejected alone and parsing continues
//! ([`EntryError::drops_rest`]). What the kernel checks later against its
//! tables (protocol, state range, persistence engine) is left to the
//! caller.
//!
//! Option types: the kernel masks the optional bit 0x40 *before* matching
//! the known types, so 0x41–0x43 are read as seq data, PE data and PE name
//! just like 1–3. The xvs extensions therefore use 0x44, 0x45 and 0x46
//! ([`OPT_XVS_LOCAL`], [`OPT_XVS_WORKER`], [`OPT_XVS_SYNPROXY`]):
//! optional, and not one of the known types once masked, so IPVS backups
//! skip them.
//!
//! xvs control datagrams ([`Control`], [`build_control`],
//! [`parse_control`]) ask a peer for its whole table and mark the end of
//! that bulk transfer. They are 8 bytes, `[0, SyncID, 0, 8, 0, 1, 'X',
//! kind]`: a v1 header with no entries but spare bytes ≠ 0. A kernel
//! backup reads spare ≠ 0 as a version 0 datagram, whose 4-byte header
//! ⟨count 0, SyncID, size 8⟩ announces no entries, so IPVS ignores them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::family::{to_v4, to_v6};

/// UDP port of the sync traffic (the first sync thread; thread *n* uses
/// `PORT + n` when `sync_ports` > 1).
pub const PORT: u16 = 8848;
/// IPv4 multicast group of the sync traffic.
pub const GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 81);
/// The protocol version this module speaks.
pub const VERSION: u8 = 1;
/// Header length.
pub const HEADER_LEN: usize = 8;
/// Fixed part of an IPv4 entry.
pub const ENTRY_V4_LEN: usize = 36;
/// Fixed part of an IPv6 entry.
pub const ENTRY_V6_LEN: usize = 72;
/// The count byte limits a datagram to 255 entries.
pub const MAX_ENTRIES: usize = 255;
/// The 12-bit entry size field limits an entry to 4095 bytes.
pub const MAX_ENTRY_LEN: usize = 0x0fff;
/// Entry type bit: the addresses are IPv6.
pub const TYPE_F_INET6: u8 = 0x01;
/// Option type bit: a receiver that does not know the type skips the
/// option; without it an unknown type rejects the entry.
pub const OPT_F_OPTIONAL: u8 = 0x40;
/// Sequence adjustment data: 24 bytes, `in_seq` then `out_seq`, each
/// ⟨init_seq, delta, previous_delta⟩ as big-endian u32.
pub const OPT_SEQ_DATA: u8 = 1;
/// Persistence-engine data (at most 255 bytes).
pub const OPT_PE_DATA: u8 = 2;
/// Persistence-engine name (at most [`PE_NAME_MAX`] bytes).
pub const OPT_PE_NAME: u8 = 3;
/// Length of the seq data option.
pub const SEQ_DATA_LEN: usize = 24;
/// Longest PE name the kernel accepts (`IP_VS_PENAME_MAXLEN`).
pub const PE_NAME_MAX: usize = 16;
/// xvs extension (optional, ignored by IPVS): the FullNAT local address
/// and port of the connection, 4 or 16 address bytes then a u16 port.
pub const OPT_XVS_LOCAL: u8 = OPT_F_OPTIONAL | 0x04;
/// xvs extension (optional, ignored by IPVS): the worker owning the
/// connection, a u16.
pub const OPT_XVS_WORKER: u8 = OPT_F_OPTIONAL | 0x05;
/// xvs extension (optional, ignored by IPVS): the sequence translation of
/// a SYN-proxied connection, [`SYNPROXY_DELTA_LEN`] bytes
/// ([`SynproxyDelta`]).
pub const OPT_XVS_SYNPROXY: u8 = OPT_F_OPTIONAL | 0x06;
/// Length of the [`OPT_XVS_SYNPROXY`] option's data.
pub const SYNPROXY_DELTA_LEN: usize = 12;

/// What a director needs to carry on a SYN-proxied connection it did not
/// open: the client saw the proxy's cookie as the server's ISN and the
/// proxy's timestamps, so every segment is shifted by these deltas, and
/// windows rescaled between the scales each side announced (0 = none).
/// On the wire: Δseq, Δts (u32 each), then the four scales, one byte each.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SynproxyDelta {
    /// Server ISN − cookie.
    pub seq: u32,
    /// Server's TSval − the proxy's TSval, at the handshake.
    pub ts: u32,
    /// The real server's window scale.
    pub server_scale: u8,
    /// The scale the proxy announced to the client.
    pub client_sees_scale: u8,
    /// The client's window scale.
    pub client_scale: u8,
    /// The scale the proxy announced to the real server.
    pub server_sees_scale: u8,
}

/// Largest sync datagram a master sends on a link of this MTU, header
/// included: `4 + 24·min(255, (MTU − 20 − 8 − 4 − 20) / 24)` (1444 at MTU
/// 1500), as the kernel sizes its buffers (REFERENCE §9).
pub fn max_message_len(mtu: u16) -> usize {
    let room = usize::from(mtu).saturating_sub(20 + 8 + 4 + 20);
    4 + 24 * (room / 24).min(MAX_ENTRIES)
}

/// The datagram header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SyncHeader {
    pub sync_id: u8,
    /// Entries announced (the parse may yield fewer; see [`parse`]).
    pub count: u8,
}

/// One synchronised connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyncEntry {
    /// All three addresses are IPv6 (they must be of this family).
    pub ipv6: bool,
    pub protocol: u8,
    /// Connection flags (`IP_VS_CONN_F_*`, without HASHED).
    pub flags: u32,
    pub state: u16,
    pub cport: u16,
    pub vport: u16,
    pub dport: u16,
    pub fwmark: u32,
    /// Seconds.
    pub timeout: u32,
    pub caddr: IpAddr,
    pub vaddr: IpAddr,
    pub daddr: IpAddr,
    pub options: Vec<SyncOption>,
}

/// An entry option.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncOption {
    /// Type 1 (or 0x41): sequence adjustment data.
    Seq([u8; SEQ_DATA_LEN]),
    /// Type 2 (or 0x42): persistence-engine data, 1–255 bytes.
    PeData(Vec<u8>),
    /// Type 3 (or 0x43): persistence-engine name, 1–16 bytes.
    PeName(Vec<u8>),
    /// Any other optional type (0x40 bit set), data 1–255 bytes; the xvs
    /// extensions are carried this way.
    Other { kind: u8, data: Vec<u8> },
}

impl SyncOption {
    /// The xvs local address + port option ([`OPT_XVS_LOCAL`]).
    pub fn xvs_local(addr: IpAddr, port: u16) -> SyncOption {
        let mut data = match addr {
            IpAddr::V4(a) => a.octets().to_vec(),
            IpAddr::V6(a) => a.octets().to_vec(),
        };
        data.extend_from_slice(&port.to_be_bytes());
        SyncOption::Other {
            kind: OPT_XVS_LOCAL,
            data,
        }
    }

    /// The xvs owning-worker option ([`OPT_XVS_WORKER`]).
    pub fn xvs_worker(worker: u16) -> SyncOption {
        SyncOption::Other {
            kind: OPT_XVS_WORKER,
            data: worker.to_be_bytes().to_vec(),
        }
    }

    /// The xvs SYN proxy option ([`OPT_XVS_SYNPROXY`]).
    pub fn xvs_synproxy(d: &SynproxyDelta) -> SyncOption {
        let mut data = Vec::with_capacity(SYNPROXY_DELTA_LEN);
        data.extend_from_slice(&d.seq.to_be_bytes());
        data.extend_from_slice(&d.ts.to_be_bytes());
        data.extend_from_slice(&[
            d.server_scale,
            d.client_sees_scale,
            d.client_scale,
            d.server_sees_scale,
        ]);
        SyncOption::Other {
            kind: OPT_XVS_SYNPROXY,
            data,
        }
    }

    /// The SYN proxy's translation, if this is a well-formed
    /// [`OPT_XVS_SYNPROXY`] option (scales above 14, RFC 7323's limit,
    /// are refused).
    pub fn as_xvs_synproxy(&self) -> Option<SynproxyDelta> {
        let SyncOption::Other {
            kind: OPT_XVS_SYNPROXY,
            data,
        } = self
        else {
            return None;
        };
        if data.len() != SYNPROXY_DELTA_LEN || data[8..].iter().any(|&s| s > 14) {
            return None;
        }
        Some(SynproxyDelta {
            seq: be32(data, 0),
            ts: be32(data, 4),
            server_scale: data[8],
            client_sees_scale: data[9],
            client_scale: data[10],
            server_sees_scale: data[11],
        })
    }

    /// The local address and port, if this is a well-formed
    /// [`OPT_XVS_LOCAL`] option.
    pub fn as_xvs_local(&self) -> Option<(IpAddr, u16)> {
        let SyncOption::Other {
            kind: OPT_XVS_LOCAL,
            data,
        } = self
        else {
            return None;
        };
        let (addr, port) = match data.len() {
            6 => (IpAddr::from(array::<4>(data, 0)), 4),
            18 => (IpAddr::from(array::<16>(data, 0)), 16),
            _ => return None,
        };
        Some((addr, be16(data, port)))
    }

    /// The worker, if this is a well-formed [`OPT_XVS_WORKER`] option.
    pub fn as_xvs_worker(&self) -> Option<u16> {
        match self {
            SyncOption::Other {
                kind: OPT_XVS_WORKER,
                data,
            } if data.len() == 2 => Some(be16(data, 0)),
            _ => None,
        }
    }

    fn kind_and_data(&self) -> (u8, &[u8]) {
        match self {
            SyncOption::Seq(d) => (OPT_SEQ_DATA, d),
            SyncOption::PeData(d) => (OPT_PE_DATA, d),
            SyncOption::PeName(d) => (OPT_PE_NAME, d),
            SyncOption::Other { kind, data } => (*kind, data),
        }
    }
}

/// Why a datagram is rejected as a whole. Stable names for counters
/// ([`SyncError::reason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum SyncError {
    /// Shorter than the 8-byte header.
    #[error("sync datagram shorter than its header")]
    Short,
    /// The size field differs from the datagram length.
    #[error("sync size field differs from the datagram length")]
    Size,
    /// Reserved byte not 0 (a version 0 datagram, or garbage).
    #[error("sync reserved byte not 0")]
    Reserved,
    /// Version not 1.
    #[error("sync version not 1")]
    Version,
    /// Spare bytes not 0.
    #[error("sync spare bytes not 0")]
    Spare,
}

impl SyncError {
    pub const fn reason(self) -> &'static str {
        match self {
            SyncError::Short => "short",
            SyncError::Size => "size",
            SyncError::Reserved => "reserved",
            SyncError::Version => "version",
            SyncError::Spare => "spare",
        }
    }
}

/// Why an entry is rejected. Stable names for counters
/// ([`EntryError::reason`]); all but [`EntryError::MandatoryOption`] end
/// the parse ([`EntryError::drops_rest`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
pub enum EntryError {
    /// Fewer than 36 bytes left, or the entry size runs past the datagram.
    #[error("sync entry truncated")]
    Truncated,
    /// Entry version nibble not 0.
    #[error("sync entry version not 0")]
    Version,
    /// Type byte neither 0 (IPv4) nor with bit 0 set (IPv6).
    #[error("sync entry type unknown")]
    Type,
    /// Entry size smaller than the fixed part of its address family.
    #[error("sync entry size smaller than its address family needs")]
    Size,
    /// An option header cut short, a zero length, or data past the entry.
    #[error("sync entry option malformed")]
    Option,
    /// Seq data not 24 bytes, or twice.
    #[error("sync entry seq data invalid")]
    SeqData,
    /// PE data twice.
    #[error("sync entry PE data twice")]
    PeData,
    /// PE name longer than 16 bytes, or twice.
    #[error("sync entry PE name invalid")]
    PeName,
    /// An unknown option type without the optional bit (the type given).
    #[error("sync entry has unknown mandatory option {0:#04x}")]
    MandatoryOption(u8),
}

impl EntryError {
    pub const fn reason(self) -> &'static str {
        match self {
            EntryError::Truncated => "entry_truncated",
            EntryError::Version => "entry_version",
            EntryError::Type => "entry_type",
            EntryError::Size => "entry_size",
            EntryError::Option => "option_malformed",
            EntryError::SeqData => "seq_data",
            EntryError::PeData => "pe_data",
            EntryError::PeName => "pe_name",
            EntryError::MandatoryOption(_) => "mandatory_option",
        }
    }

    /// Whether the kernel drops the rest of the datagram on this error
    /// ([`parse`] then stops); otherwise only this entry is skipped.
    pub const fn drops_rest(self) -> bool {
        !matches!(self, EntryError::MandatoryOption(_))
    }
}

mod field {
    //! Byte positions (REFERENCE §9).
    pub const RESERVED: usize = 0;
    pub const SYNC_ID: usize = 1;
    pub const SIZE: usize = 2;
    pub const COUNT: usize = 4;
    pub const VERSION: usize = 5;
    pub const SPARE: usize = 6;

    pub const TYPE: usize = 0;
    pub const PROTOCOL: usize = 1;
    pub const VER_SIZE: usize = 2;
    pub const FLAGS: usize = 4;
    pub const STATE: usize = 8;
    pub const CPORT: usize = 10;
    pub const VPORT: usize = 12;
    pub const DPORT: usize = 14;
    pub const FWMARK: usize = 16;
    pub const TIMEOUT: usize = 20;
    pub const ADDRS: usize = 24;
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes(array(b, at))
}

fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(array(b, at))
}

/// `N` bytes at `at`; callers check the length first (zeros otherwise).
fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0; N];
    if let Some(s) = b.get(at..at + N) {
        a.copy_from_slice(s);
    }
    a
}

/// Parses a sync datagram (a whole UDP payload).
///
/// The header must be version 1 with reserved and spare bytes 0 and a
/// size equal to the datagram length, else [`SyncError`]. Then up to
/// `count` entries are read, one result each; after an error that
/// [drops the rest](EntryError::drops_rest) no more are read, so the list
/// may be shorter than `count`. Bytes after the last announced entry are
/// ignored, as the kernel does. Never panics.
pub fn parse(
    datagram: &[u8],
) -> Result<(SyncHeader, Vec<Result<SyncEntry, EntryError>>), SyncError> {
    if datagram.len() < HEADER_LEN {
        return Err(SyncError::Short);
    }
    if usize::from(be16(datagram, field::SIZE)) != datagram.len() {
        return Err(SyncError::Size);
    }
    if datagram[field::RESERVED] != 0 {
        return Err(SyncError::Reserved);
    }
    if datagram[field::VERSION] != VERSION {
        return Err(SyncError::Version);
    }
    if be16(datagram, field::SPARE) != 0 {
        return Err(SyncError::Spare);
    }
    let header = SyncHeader {
        sync_id: datagram[field::SYNC_ID],
        count: datagram[field::COUNT],
    };
    let mut entries = Vec::with_capacity(usize::from(header.count));
    let mut at = HEADER_LEN;
    for _ in 0..header.count {
        let rest = &datagram[at..];
        if rest.len() < ENTRY_V4_LEN {
            entries.push(Err(EntryError::Truncated));
            break;
        }
        let ver_size = be16(rest, field::VER_SIZE);
        let size = usize::from(ver_size & 0x0fff);
        if size > rest.len() {
            entries.push(Err(EntryError::Truncated));
            break;
        }
        if ver_size >> 12 != 0 {
            entries.push(Err(EntryError::Version));
            break;
        }
        let entry = parse_entry(rest, size);
        let stop = matches!(entry, Err(e) if e.drops_rest());
        entries.push(entry);
        if stop {
            break;
        }
        // Padding to 4 bytes; may step past the end, caught above.
        at = (at + size.next_multiple_of(4)).min(datagram.len());
    }
    Ok((header, entries))
}

/// One entry: `rest` holds at least [`ENTRY_V4_LEN`] bytes and `size`
/// (its size field) is at most `rest.len()`.
fn parse_entry(rest: &[u8], size: usize) -> Result<SyncEntry, EntryError> {
    let ty = rest.get(field::TYPE).copied().unwrap_or(0);
    let ipv6 = ty & TYPE_F_INET6 != 0;
    if !ipv6 && ty != 0 {
        return Err(EntryError::Type);
    }
    let fixed = if ipv6 { ENTRY_V6_LEN } else { ENTRY_V4_LEN };
    let Some(e) = rest.get(..size).filter(|e| e.len() >= fixed) else {
        return Err(EntryError::Size);
    };
    let addr = |i: usize| -> IpAddr {
        if ipv6 {
            Ipv6Addr::from(array::<16>(e, field::ADDRS + 16 * i)).into()
        } else {
            Ipv4Addr::from(array::<4>(e, field::ADDRS + 4 * i)).into()
        }
    };
    let mut options = Vec::new();
    let (mut seen_seq, mut seen_pe_data, mut seen_pe_name) = (false, false, false);
    let mut p = fixed;
    while p < e.len() {
        if p + 2 > e.len() {
            return Err(EntryError::Option);
        }
        let (kind, len) = (e[p], usize::from(e[p + 1]));
        let Some(data) = e.get(p + 2..p + 2 + len).filter(|_| len > 0) else {
            return Err(EntryError::Option);
        };
        match kind & !OPT_F_OPTIONAL {
            OPT_SEQ_DATA => {
                if len != SEQ_DATA_LEN || seen_seq {
                    return Err(EntryError::SeqData);
                }
                seen_seq = true;
                options.push(SyncOption::Seq(array(data, 0)));
            }
            OPT_PE_DATA => {
                if seen_pe_data {
                    return Err(EntryError::PeData);
                }
                seen_pe_data = true;
                options.push(SyncOption::PeData(data.to_vec()));
            }
            OPT_PE_NAME => {
                if len > PE_NAME_MAX || seen_pe_name {
                    return Err(EntryError::PeName);
                }
                seen_pe_name = true;
                options.push(SyncOption::PeName(data.to_vec()));
            }
            // The kernel skips the entry at once, reading no further.
            _ if kind & OPT_F_OPTIONAL == 0 => return Err(EntryError::MandatoryOption(kind)),
            _ => options.push(SyncOption::Other {
                kind,
                data: data.to_vec(),
            }),
        }
        p += 2 + len;
    }
    Ok(SyncEntry {
        ipv6,
        protocol: e[field::PROTOCOL],
        flags: be32(e, field::FLAGS),
        state: be16(e, field::STATE),
        cport: be16(e, field::CPORT),
        vport: be16(e, field::VPORT),
        dport: be16(e, field::DPORT),
        fwmark: be32(e, field::FWMARK),
        timeout: be32(e, field::TIMEOUT),
        caddr: addr(0),
        vaddr: addr(1),
        daddr: addr(2),
        options,
    })
}

/// Appends a whole sync datagram to `out` and returns how many entries it
/// holds.
///
/// At most [`MAX_ENTRIES`] (255) entries are written, and no more than fit
/// the 16-bit size field; the caller sends the rest in another datagram
/// (and should keep to [`max_message_len`] anyway). Addresses of the wrong
/// family are written mapped (IPv4-mapped IPv6, or the IPv4 of a mapped
/// IPv6 address, else 0.0.0.0). Options the kernel would reject are left
/// out rather than written: empty or over 255 bytes of data, a PE name
/// over 16 bytes, and any option that would take the entry past 4095
/// bytes. `Other` kinds are written as given; use kinds with
/// [`OPT_F_OPTIONAL`] set and, once it is masked, not 1–3.
pub fn build(out: &mut Vec<u8>, sync_id: u8, entries: &[SyncEntry]) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0, sync_id, 0, 0, 0, VERSION, 0, 0]);
    let mut count = 0;
    for entry in entries.iter().take(MAX_ENTRIES) {
        let before = out.len();
        build_entry(out, entry);
        if out.len() - start > usize::from(u16::MAX) {
            out.truncate(before);
            break;
        }
        count += 1;
    }
    let size = u16::try_from(out.len() - start).unwrap_or(u16::MAX);
    out[start + field::SIZE..start + field::SIZE + 2].copy_from_slice(&size.to_be_bytes());
    // `count` ≤ MAX_ENTRIES = 255.
    out[start + field::COUNT] = count as u8;
    count
}

fn build_entry(out: &mut Vec<u8>, s: &SyncEntry) {
    let start = out.len();
    out.push(if s.ipv6 { TYPE_F_INET6 } else { 0 });
    out.push(s.protocol);
    out.extend_from_slice(&[0, 0]); // version 0 + size, set below
    out.extend_from_slice(&s.flags.to_be_bytes());
    out.extend_from_slice(&s.state.to_be_bytes());
    out.extend_from_slice(&s.cport.to_be_bytes());
    out.extend_from_slice(&s.vport.to_be_bytes());
    out.extend_from_slice(&s.dport.to_be_bytes());
    out.extend_from_slice(&s.fwmark.to_be_bytes());
    out.extend_from_slice(&s.timeout.to_be_bytes());
    for a in [s.caddr, s.vaddr, s.daddr] {
        if s.ipv6 {
            out.extend_from_slice(&to_v6(a).octets());
        } else {
            out.extend_from_slice(&to_v4(a).octets());
        }
    }
    for o in &s.options {
        let (kind, data) = o.kind_and_data();
        let max = if matches!(o, SyncOption::PeName(_)) {
            PE_NAME_MAX
        } else {
            255
        };
        if data.is_empty() || data.len() > max || out.len() - start + 2 + data.len() > MAX_ENTRY_LEN
        {
            continue;
        }
        out.push(kind);
        // data.len() ≤ 255, checked above.
        out.push(data.len() as u8);
        out.extend_from_slice(data);
    }
    // ≤ MAX_ENTRY_LEN (0x0fff), so the version nibble stays 0.
    let size = (out.len() - start) as u16;
    out[start + field::VER_SIZE..start + field::VER_SIZE + 2].copy_from_slice(&size.to_be_bytes());
    out.resize(start + usize::from(size).next_multiple_of(4), 0);
}

/// Length of an xvs control datagram.
pub const CONTROL_LEN: usize = 8;
/// First spare byte of an xvs control datagram.
pub const CONTROL_MAGIC: u8 = b'X';

/// An xvs control datagram: bulk transfer of a peer's whole table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Control {
    /// "Send me every connection you have" (kind `'B'`), sent by a
    /// director that joins or returns, before it takes over.
    BulkRequest,
    /// "That was all of them" (kind `'D'`), sent after the last datagram
    /// of a bulk transfer.
    BulkDone,
}

impl Control {
    const fn kind(self) -> u8 {
        match self {
            Control::BulkRequest => b'B',
            Control::BulkDone => b'D',
        }
    }
}

/// Appends the 8-byte control datagram `c` for `sync_id` to `out`:
/// `[0, sync_id, 0, 8, 0, 1, 'X', kind]` (size 8, no entries, version 1,
/// spare = `'X'`, kind).
pub fn build_control(out: &mut Vec<u8>, sync_id: u8, c: Control) {
    // `CONTROL_LEN` = 8 fits the size byte.
    out.extend_from_slice(&[
        0,
        sync_id,
        0,
        CONTROL_LEN as u8,
        0,
        VERSION,
        CONTROL_MAGIC,
        c.kind(),
    ]);
}

/// The SyncID and meaning of an xvs control datagram; `None` for
/// anything that is not exactly one (8 bytes, the fixed bytes as
/// [`build_control`] writes them, a known kind). Never panics.
pub fn parse_control(datagram: &[u8]) -> Option<(u8, Control)> {
    let &[0, sync_id, 0, 8, 0, VERSION, CONTROL_MAGIC, kind] = datagram else {
        return None;
    };
    let c = match kind {
        b'B' => Control::BulkRequest,
        b'D' => Control::BulkDone,
        _ => return None,
    };
    Some((sync_id, c))
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
