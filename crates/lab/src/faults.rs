//! Network failures of one real server, made with nftables inside its own
//! namespace: a black hole (the host is there but nothing it receives gets
//! an answer) and a host that ignores pings. Health-check tests use them to
//! tell "no answer at all" (a timeout) from "refused" (a RST, a stopped
//! backend).
//!
//! The rules live in one table of their own, [`FAULT_TABLE`], one input
//! chain per fault, so faults combine and [`Lab::clear_filters`] removes
//! exactly them. Each ruleset declares its table and chain (nft merges a
//! declaration with an existing one), flushes its chain and adds its rules,
//! so applying a fault twice is the same as once.

use std::fmt::Write;

use crate::process::run_with_stdin;
use crate::{Lab, LabError};

/// The nftables table holding a real server's faults.
pub const FAULT_TABLE: &str = "xvs_lab_faults";

/// The interface of a real server (topology.rs names it).
const RS_IFACE: &str = "eth0";

/// Drop everything arriving on `iface` except neighbour discovery.
///
/// ND stays (RFC 4861 solicitations and adverts), as ARP does (ARP is not
/// IP, so an inet chain never sees it): the director keeps resolving the
/// real server, so a probe's connect() times out (no SYN-ACK, no RST, no
/// ICMP) instead of failing early with "no route to host" once neighbour
/// resolution gives up. That is the state a health checker must detect by
/// its timeout.
pub fn blackhole_ruleset(iface: &str) -> String {
    fault_chain(
        "blackhole",
        &[
            format!(
                "iifname \"{iface}\" icmpv6 type {{ nd-neighbor-solicit, nd-neighbor-advert }} accept"
            ),
            format!("iifname \"{iface}\" drop"),
        ],
    )
}

/// Drop ICMP and ICMPv6 echo requests arriving on `iface` (RFC 792 type
/// 8, RFC 4443 type 128); everything else is answered as before.
pub fn drop_icmp_echo_ruleset(iface: &str) -> String {
    fault_chain(
        "icmp_echo",
        &[
            format!("iifname \"{iface}\" icmp type echo-request drop"),
            format!("iifname \"{iface}\" icmpv6 type echo-request drop"),
        ],
    )
}

/// Remove every fault (idempotent: declaring the table first means the
/// delete never fails for a table that does not exist).
pub fn clear_ruleset() -> String {
    format!("table inet {FAULT_TABLE}\ndelete table inet {FAULT_TABLE}\n")
}

fn fault_chain(chain: &str, rules: &[String]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "table inet {FAULT_TABLE} {{");
    let _ = writeln!(out, "\tchain {chain} {{");
    let _ = writeln!(
        out,
        "\t\ttype filter hook input priority filter; policy accept;"
    );
    let _ = writeln!(out, "\t}}");
    let _ = writeln!(out, "}}");
    let _ = writeln!(out, "flush chain inet {FAULT_TABLE} {chain}");
    for rule in rules {
        let _ = writeln!(out, "add rule inet {FAULT_TABLE} {chain} {rule}");
    }
    out
}

impl Lab {
    /// Real server `i` stops answering anything that reaches it (TCP, UDP,
    /// ICMP, also traffic xvs forwards), without a RST or an ICMP error:
    /// probes time out. ARP and ND still work (see [`blackhole_ruleset`]).
    /// Undo with [`clear_filters`](Self::clear_filters).
    pub fn blackhole(&self, i: usize) -> Result<(), LabError> {
        self.apply_faults(i, &blackhole_ruleset(RS_IFACE))
    }

    /// Real server `i` ignores ICMP and ICMPv6 echo requests (ping) and
    /// still serves TCP and UDP.
    pub fn drop_icmp_echo(&self, i: usize) -> Result<(), LabError> {
        self.apply_faults(i, &drop_icmp_echo_ruleset(RS_IFACE))
    }

    /// Remove every fault of real server `i`.
    pub fn clear_filters(&self, i: usize) -> Result<(), LabError> {
        self.apply_faults(i, &clear_ruleset())
    }

    fn apply_faults(&self, i: usize, ruleset: &str) -> Result<(), LabError> {
        self.check_rs(i)?;
        let ns = self.ns_rs(i);
        run_with_stdin(
            &["ip", "netns", "exec", &ns, "nft", "-f", "-"],
            Some(ruleset),
        )
        .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackhole_keeps_neighbour_discovery_and_drops_the_rest() {
        let expected = "\
table inet xvs_lab_faults {
\tchain blackhole {
\t\ttype filter hook input priority filter; policy accept;
\t}
}
flush chain inet xvs_lab_faults blackhole
add rule inet xvs_lab_faults blackhole iifname \"eth0\" icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept
add rule inet xvs_lab_faults blackhole iifname \"eth0\" drop
";
        assert_eq!(blackhole_ruleset("eth0"), expected);
    }

    #[test]
    fn icmp_echo_fault_has_its_own_chain() {
        let text = drop_icmp_echo_ruleset("eth0");
        assert!(text.contains("\tchain icmp_echo {\n"), "{text}");
        assert!(text.contains("flush chain inet xvs_lab_faults icmp_echo\n"));
        assert!(text.contains("icmp type echo-request drop\n"));
        assert!(text.contains("icmpv6 type echo-request drop\n"));
        assert!(!text.contains("blackhole"));
    }

    #[test]
    fn clearing_deletes_only_the_fault_table() {
        assert_eq!(
            clear_ruleset(),
            "table inet xvs_lab_faults\ndelete table inet xvs_lab_faults\n"
        );
    }
}
