//! The IPVS TCP state machine (ip_vs_proto_tcp.c), as pure lookup tables.
//!
//! A connection entry carries one of IPVS's eleven TCP states (or `Udp`).
//! Each packet is classified by its TCP flags the way the kernel's
//! `tcp_state_idx()` does (RST, else SYN, else FIN, else ACK; a segment with
//! none of them sends the entry to CLOSE) and the next state is read from the
//! table for its direction: INPUT (client → director), OUTPUT (real-server
//! replies seen by the director, NAT/FullNAT only) or INPUT-ONLY (entries that
//! never see replies: DR/TUN, `F_NOOUTPUT`). The tables are REFERENCE.md §4.2
//! row for row; the timeout of each state is §4.1, taken from
//! [`xvs_config::Timeouts`] so `ipvsadm --set`-style edits apply.
//!
//! Layer: conn. No clock and no table access here; [`crate::ConnTable`]
//! applies the result atomically.

use xvs_config::Timeouts;

/// IPVS connection state. TCP values and order are the kernel's
/// `IP_VS_TCP_S_*` numbering (0..=10), so `state as u8` is what
/// `/proc/net/ip_vs_conn` and sync v1 carry for TCP. `Udp` is xvs's single
/// UDP state (the kernel calls it `IP_VS_UDP_S_NORMAL` and numbers it 0 in
/// its own protocol's space; a sync encoder must map it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ConnState {
    None = 0,
    Established = 1,
    SynSent = 2,
    SynRecv = 3,
    FinWait = 4,
    TimeWait = 5,
    Close = 6,
    CloseWait = 7,
    LastAck = 8,
    Listen = 9,
    SynAck = 10,
    Udp = 11,
}

impl ConnState {
    /// All states, in numbering order.
    pub const ALL: [ConnState; 12] = [
        ConnState::None,
        ConnState::Established,
        ConnState::SynSent,
        ConnState::SynRecv,
        ConnState::FinWait,
        ConnState::TimeWait,
        ConnState::Close,
        ConnState::CloseWait,
        ConnState::LastAck,
        ConnState::Listen,
        ConnState::SynAck,
        ConnState::Udp,
    ];

    /// The state for a stored byte; `None` for a value no state has.
    #[inline]
    pub const fn from_u8(v: u8) -> Option<ConnState> {
        if (v as usize) < ConnState::ALL.len() {
            Some(ConnState::ALL[v as usize])
        } else {
            None
        }
    }

    /// The name `ipvsadm -Lnc` prints (ip_vs_proto_tcp.c tcp_state_name_table,
    /// "UDP" for UDP entries).
    pub const fn name(self) -> &'static str {
        match self {
            ConnState::None => "NONE",
            ConnState::Established => "ESTABLISHED",
            ConnState::SynSent => "SYN_SENT",
            ConnState::SynRecv => "SYN_RECV",
            ConnState::FinWait => "FIN_WAIT",
            ConnState::TimeWait => "TIME_WAIT",
            ConnState::Close => "CLOSE",
            ConnState::CloseWait => "CLOSE_WAIT",
            ConnState::LastAck => "LAST_ACK",
            ConnState::Listen => "LISTEN",
            ConnState::SynAck => "SYNACK",
            ConnState::Udp => "UDP",
        }
    }

    /// Idle timeout of this state in seconds (REFERENCE §4.1). NONE has no
    /// knob in ipvsadm: 2 s as in the kernel's tcp_timeouts[].
    #[inline]
    pub const fn timeout(self, t: &Timeouts) -> u32 {
        match self {
            ConnState::None => NONE_TIMEOUT_SECS,
            ConnState::Established => t.tcp,
            ConnState::SynSent => t.syn_sent,
            ConnState::SynRecv => t.syn_recv,
            ConnState::FinWait => t.tcp_fin,
            ConnState::TimeWait => t.time_wait,
            ConnState::Close => t.close,
            ConnState::CloseWait => t.close_wait,
            ConnState::LastAck => t.last_ack,
            ConnState::Listen => t.listen,
            ConnState::SynAck => t.synack,
            ConnState::Udp => t.udp,
        }
    }
}

/// Timeout of the NONE state once a transition lands in it (kernel
/// `tcp_timeouts[IP_VS_TCP_S_NONE]` = 2 s). No table row leads to NONE, so in
/// practice this only documents §4.1.
pub const NONE_TIMEOUT_SECS: u32 = 2;

/// Timeout a brand-new entry gets before its first transition (REFERENCE
/// §4.1: "New entries start in NONE with 3 s"; ip_vs_conn_new's initial
/// 3*HZ).
pub const INITIAL_TIMEOUT_SECS: u32 = 3;

/// Which IPVS state table a packet is run through (REFERENCE §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client → director.
    Input,
    /// Real server → director (replies; NAT/FullNAT only).
    Output,
    /// Client → director for entries that never see replies (`F_NOOUTPUT`:
    /// DR, TUN). [`crate::ConnTable::tcp_transition`] picks this itself for
    /// an `Input` packet on a NOOUTPUT entry, as set_tcp_state() does.
    InputOnly,
}

/// The kernel's packet classes, in its table-row order (tcp_state_idx()).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PacketClass {
    Syn = 0,
    Fin = 1,
    Ack = 2,
    Rst = 3,
}

/// TCP header flag bits (RFC 9293 §3.1), as they sit in byte 13.
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// Classify a segment by its flags byte: RST wins, then SYN, then FIN, then
/// ACK (tcp_state_idx() in ip_vs_proto_tcp.c). `None` when the segment has
/// none of the four; such a segment moves the entry to CLOSE.
#[inline]
pub const fn classify(flags: u8) -> Option<PacketClass> {
    if flags & tcp_flags::RST != 0 {
        Some(PacketClass::Rst)
    } else if flags & tcp_flags::SYN != 0 {
        Some(PacketClass::Syn)
    } else if flags & tcp_flags::FIN != 0 {
        Some(PacketClass::Fin)
    } else if flags & tcp_flags::ACK != 0 {
        Some(PacketClass::Ack)
    } else {
        None
    }
}

use ConnState::{
    Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA, Listen as LI,
    SynRecv as SR, SynSent as SS, TimeWait as TW,
};

/// One table: rows syn, fin, ack, rst; columns the current TCP state
/// NO ES SS SR FW TW CL CW LA LI SA.
type Table = [[ConnState; 11]; 4];

/// REFERENCE §4.2 INPUT (ip_vs_proto_tcp.c tcp_states[], INPUT block).
#[rustfmt::skip]
const INPUT: Table = [
    /*        NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA */
    /*syn*/ [ SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR ],
    /*fin*/ [ CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW ],
    /*ack*/ [ ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES ],
    /*rst*/ [ CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR ],
];

/// REFERENCE §4.2 OUTPUT (tcp_states[], OUTPUT block).
#[rustfmt::skip]
const OUTPUT: Table = [
    /*        NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA */
    /*syn*/ [ SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR ],
    /*fin*/ [ TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW ],
    /*ack*/ [ ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES ],
    /*rst*/ [ CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL ],
];

/// REFERENCE §4.2 INPUT-ONLY (tcp_states[], INPUT-ONLY block): INPUT except
/// fin in ES → FW, fin in FW → FW, rst in SA → CL.
#[rustfmt::skip]
const INPUT_ONLY: Table = [
    /*        NO  ES  SS  SR  FW  TW  CL  CW  LA  LI  SA */
    /*syn*/ [ SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR ],
    /*fin*/ [ CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW ],
    /*ack*/ [ ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES ],
    /*rst*/ [ CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL ],
];

/// Next TCP state for a packet with `flags` in direction `dir` on an entry
/// in `cur`. `None` when `cur` is not a TCP state (`Udp`): the TCP tables do
/// not apply.
#[inline]
pub fn next_state(dir: Direction, flags: u8, cur: ConnState) -> Option<ConnState> {
    let col = cur as usize;
    if col >= 11 {
        return None;
    }
    let Some(class) = classify(flags) else {
        // set_tcp_state(): new_state starts as CLOSE and stays so when the
        // segment carries none of RST/SYN/FIN/ACK.
        return Some(ConnState::Close);
    };
    let table = match dir {
        Direction::Input => &INPUT,
        Direction::Output => &OUTPUT,
        Direction::InputOnly => &INPUT_ONLY,
    };
    Some(table[class as usize][col])
}

#[cfg(test)]
mod tests {
    use super::tcp_flags::*;
    use super::*;

    const NO: ConnState = ConnState::None;
    const SA: ConnState = ConnState::SynAck;

    fn step(dir: Direction, flags: u8, cur: ConnState) -> ConnState {
        next_state(dir, flags, cur).unwrap_or(ConnState::Udp)
    }

    #[test]
    fn classification_priority_matches_tcp_state_idx() {
        assert_eq!(classify(RST | SYN | FIN | ACK), Some(PacketClass::Rst));
        assert_eq!(classify(SYN | ACK), Some(PacketClass::Syn));
        assert_eq!(classify(FIN | ACK), Some(PacketClass::Fin));
        assert_eq!(classify(ACK | PSH), Some(PacketClass::Ack));
        assert_eq!(classify(PSH), None);
        assert_eq!(classify(0), None);
    }

    #[test]
    fn input_rows_match_reference() {
        // REFERENCE §4.2 INPUT, syn row.
        let syn: Vec<_> = ConnState::ALL[..11]
            .iter()
            .map(|&s| step(Direction::Input, SYN, s))
            .collect();
        assert_eq!(syn, [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR]);
        // fin row.
        let fin: Vec<_> = ConnState::ALL[..11]
            .iter()
            .map(|&s| step(Direction::Input, FIN | ACK, s))
            .collect();
        assert_eq!(fin, [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW]);
        // ack row.
        let ack: Vec<_> = ConnState::ALL[..11]
            .iter()
            .map(|&s| step(Direction::Input, ACK, s))
            .collect();
        assert_eq!(ack, [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES]);
        // rst row.
        let rst: Vec<_> = ConnState::ALL[..11]
            .iter()
            .map(|&s| step(Direction::Input, RST | ACK, s))
            .collect();
        assert_eq!(rst, [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR]);
    }

    #[test]
    fn output_rows_match_reference() {
        let row = |f: u8| -> Vec<ConnState> {
            ConnState::ALL[..11]
                .iter()
                .map(|&s| step(Direction::Output, f, s))
                .collect()
        };
        assert_eq!(row(SYN | ACK), [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR]);
        assert_eq!(row(FIN), [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW]);
        assert_eq!(row(ACK), [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES]);
        assert_eq!(row(RST), [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL]);
    }

    #[test]
    fn input_only_differs_from_input_in_exactly_three_cells() {
        // REFERENCE §4.2: fin in ES → FW, fin in FW → FW, rst in SA → CL.
        let mut diffs = Vec::new();
        for f in [SYN, FIN, ACK, RST] {
            for &s in &ConnState::ALL[..11] {
                let a = step(Direction::Input, f, s);
                let b = step(Direction::InputOnly, f, s);
                if a != b {
                    diffs.push((f, s, a, b));
                }
            }
        }
        assert_eq!(
            diffs,
            [(FIN, ES, CW, FW), (FIN, FW, TW, FW), (RST, SA, SR, CL)]
        );
    }

    #[test]
    fn flagless_segment_closes_in_every_direction() {
        for dir in [Direction::Input, Direction::Output, Direction::InputOnly] {
            for &s in &ConnState::ALL[..11] {
                assert_eq!(next_state(dir, PSH, s), Some(CL));
            }
        }
    }

    #[test]
    fn udp_state_has_no_tcp_transition() {
        assert_eq!(next_state(Direction::Input, SYN, ConnState::Udp), None);
    }

    #[test]
    fn a_normal_nat_handshake_and_close() {
        // Client SYN, RS SYN-ACK, client ACK: NONE → SR → SR → ES.
        let mut s = NO;
        s = step(Direction::Input, SYN, s);
        assert_eq!(s, SR);
        s = step(Direction::Output, SYN | ACK, s);
        assert_eq!(s, SR);
        s = step(Direction::Input, ACK, s);
        assert_eq!(s, ES);
        // Client FIN → CLOSE_WAIT, RS FIN → TIME_WAIT.
        s = step(Direction::Input, FIN | ACK, s);
        assert_eq!(s, CW);
        s = step(Direction::Output, FIN | ACK, s);
        assert_eq!(s, TW);
    }

    #[test]
    fn timeouts_come_from_config_per_state() {
        let t = Timeouts {
            tcp: 1,
            tcp_fin: 2,
            udp: 3,
            syn_sent: 4,
            syn_recv: 5,
            time_wait: 6,
            close: 7,
            close_wait: 8,
            last_ack: 9,
            listen: 10,
            synack: 11,
        };
        let got: Vec<u32> = ConnState::ALL.iter().map(|s| s.timeout(&t)).collect();
        assert_eq!(got, [2, 1, 4, 5, 2, 6, 7, 8, 9, 10, 11, 3]);
        let d = Timeouts::default();
        assert_eq!(ConnState::Established.timeout(&d), 900);
        assert_eq!(ConnState::Close.timeout(&d), 10);
    }

    #[test]
    fn state_bytes_round_trip_and_names() {
        for s in ConnState::ALL {
            assert_eq!(ConnState::from_u8(s as u8), Some(s));
        }
        assert_eq!(ConnState::from_u8(12), None);
        assert_eq!(ConnState::SynRecv.name(), "SYN_RECV");
        assert_eq!(ConnState::Established as u8, 1);
        assert_eq!(ConnState::SynAck as u8, 10);
    }
}
