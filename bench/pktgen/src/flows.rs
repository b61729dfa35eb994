//! The flows a run cycles through: `count` distinct ⟨source address,
//! source port⟩ pairs over a range of `addrs` consecutive addresses and as
//! many consecutive ports as needed. Consecutive flow indices change the
//! address first, so even a few flows exercise source hashing over several
//! clients; everything else (destination, protocol) is the same for all.

use std::net::Ipv4Addr;

use crate::frame::Flow;

/// Why a flow range cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FlowError {
    #[error("flows and source addresses must both be at least 1")]
    Empty,
    #[error(
        "{count} flows over {addrs} source address(es) need {ports} ports from {first_port}: \
         past 65535 (use more source addresses or a lower --src-port)"
    )]
    Ports {
        count: u32,
        addrs: u32,
        ports: u32,
        first_port: u16,
    },
    #[error("{addrs} source addresses from {first} run past 255.255.255.255")]
    Addrs { first: Ipv4Addr, addrs: u32 },
}

/// A validated flow range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSet {
    first_src: u32,
    addrs: u32,
    first_port: u16,
    count: u32,
}

impl FlowSet {
    /// `count` flows from `first_src`:`first_port`, over `addrs` addresses.
    pub fn new(
        first_src: Ipv4Addr,
        addrs: u32,
        first_port: u16,
        count: u32,
    ) -> Result<FlowSet, FlowError> {
        if count == 0 || addrs == 0 {
            return Err(FlowError::Empty);
        }
        let first = u32::from(first_src);
        if first.checked_add(addrs - 1).is_none() {
            return Err(FlowError::Addrs {
                first: first_src,
                addrs,
            });
        }
        let ports = count.div_ceil(addrs);
        if u32::from(first_port) + ports - 1 > u32::from(u16::MAX) {
            return Err(FlowError::Ports {
                count,
                addrs,
                ports,
                first_port,
            });
        }
        Ok(FlowSet {
            first_src: first,
            addrs,
            first_port,
            count,
        })
    }

    pub fn len(&self) -> u32 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Flow `i` (taken modulo the flow count).
    pub fn flow(&self, i: u32) -> Flow {
        let i = i % self.count;
        // Both stay in range: `new` checked first_src + addrs - 1 and
        // first_port + ceil(count / addrs) - 1.
        Flow {
            src: Ipv4Addr::from(self.first_src + i % self.addrs),
            sport: self.first_port + (i / self.addrs) as u16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn flows_change_the_address_first_then_the_port() {
        let s = FlowSet::new(Ipv4Addr::new(198, 18, 0, 10), 3, 1024, 7).unwrap();
        let got: Vec<(u8, u16)> = (0..8)
            .map(|i| {
                let f = s.flow(i);
                (f.src.octets()[3], f.sport)
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (10, 1024),
                (11, 1024),
                (12, 1024),
                (10, 1025),
                (11, 1025),
                (12, 1025),
                (10, 1026),
                (10, 1024), // wraps at 7
            ]
        );
    }

    #[test]
    fn every_flow_is_distinct() {
        let s = FlowSet::new(Ipv4Addr::new(198, 18, 0, 10), 1, 1024, 1024).unwrap();
        let all: HashSet<Flow> = (0..1024).map(|i| s.flow(i)).collect();
        assert_eq!(all.len(), 1024);
        assert_eq!(s.flow(1023).sport, 2047);
    }

    #[test]
    fn ranges_past_the_end_of_ports_or_addresses_are_refused() {
        let a = Ipv4Addr::new(198, 18, 0, 10);
        assert_eq!(FlowSet::new(a, 1, 1024, 0), Err(FlowError::Empty));
        assert!(matches!(
            FlowSet::new(a, 1, 65000, 1000),
            Err(FlowError::Ports { ports: 1000, .. })
        ));
        assert!(FlowSet::new(a, 2, 65000, 1000).is_ok());
        assert!(matches!(
            FlowSet::new(Ipv4Addr::new(255, 255, 255, 250), 7, 1, 7),
            Err(FlowError::Addrs { .. })
        ));
    }
}
