//! The `KernelNat` baseline: the director namespace balances the VIPs
//! itself with an nftables DNAT rule, so xvs can be compared with the
//! kernel on the same topology and the same traffic.
//!
//! `numgen inc mod N` picks the real servers in turn (round robin) for the
//! first packet of each conntrack flow; conntrack maps the rest of the flow
//! and un-NATs the replies, which come back because the director is the
//! real servers' default gateway. The destination port is kept, so every
//! VIP:port the backends serve (80, 8080, 53, 5353) is balanced.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The nftables table the rules live in (its own, so flushing it touches
/// nothing else).
pub const TABLE: &str = "xvs_lab";

/// The ruleset for `nft -f -`: one DNAT rule per VIP over `rs4`/`rs6` (in
/// order, real server 1 first). Empty lists produce no rule.
pub fn kernel_nat_ruleset(
    vips4: &[Ipv4Addr],
    vips6: &[Ipv6Addr],
    rs4: &[Ipv4Addr],
    rs6: &[Ipv6Addr],
) -> String {
    let mut out = String::new();
    // `table ...` then `delete table ...` makes the load idempotent: the
    // first line creates the table if missing, so the delete never fails.
    let _ = writeln!(out, "table inet {TABLE}");
    let _ = writeln!(out, "delete table inet {TABLE}");
    let _ = writeln!(out, "table inet {TABLE} {{");
    let _ = writeln!(out, "\tchain prerouting {{");
    let _ = writeln!(
        out,
        "\t\ttype nat hook prerouting priority dstnat; policy accept;"
    );
    if !rs4.is_empty() {
        for vip in vips4 {
            let _ = writeln!(
                out,
                "\t\tip daddr {vip} meta l4proto {{ tcp, udp }} dnat ip to numgen inc mod {} map {{ {} }}",
                rs4.len(),
                map(rs4)
            );
        }
    }
    if !rs6.is_empty() {
        for vip in vips6 {
            let _ = writeln!(
                out,
                "\t\tip6 daddr {vip} meta l4proto {{ tcp, udp }} dnat ip6 to numgen inc mod {} map {{ {} }}",
                rs6.len(),
                map(rs6)
            );
        }
    }
    let _ = writeln!(out, "\t}}");
    let _ = writeln!(out, "}}");
    out
}

fn map<T: std::fmt::Display>(servers: &[T]) -> String {
    servers
        .iter()
        .enumerate()
        .map(|(i, a)| format!("{i} : {a}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{rs_addr4, rs_addr6, DEFAULT_VIP4, DEFAULT_VIP6};

    #[test]
    fn ruleset_spreads_each_vip_over_every_real_server() {
        let rs4: Vec<_> = (1..=3).map(rs_addr4).collect();
        let rs6: Vec<_> = (1..=3).map(rs_addr6).collect();
        let text = kernel_nat_ruleset(&[DEFAULT_VIP4], &[DEFAULT_VIP6], &rs4, &rs6);
        let expected = "\
table inet xvs_lab
delete table inet xvs_lab
table inet xvs_lab {
\tchain prerouting {
\t\ttype nat hook prerouting priority dstnat; policy accept;
\t\tip daddr 198.18.0.100 meta l4proto { tcp, udp } dnat ip to numgen inc mod 3 map { 0 : 198.18.1.11, 1 : 198.18.1.12, 2 : 198.18.1.13 }
\t\tip6 daddr fd00:0:0:1::100 meta l4proto { tcp, udp } dnat ip6 to numgen inc mod 3 map { 0 : fd00:0:0:2::11, 1 : fd00:0:0:2::12, 2 : fd00:0:0:2::13 }
\t}
}
";
        assert_eq!(text, expected);
    }

    #[test]
    fn one_rule_per_vip_and_none_without_servers() {
        let vips = [DEFAULT_VIP4, Ipv4Addr::new(198, 18, 0, 101)];
        let text = kernel_nat_ruleset(&vips, &[DEFAULT_VIP6], &[rs_addr4(1)], &[]);
        assert_eq!(text.matches("dnat ip to numgen inc mod 1").count(), 2);
        assert!(!text.contains("ip6 daddr"), "{text}");
    }
}
