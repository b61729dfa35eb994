//! Table-size scenarios: the fixture's DR service with `live` connections
//! in the table, each opened by a SYN through the pipeline (so entries,
//! index keys and counters are exactly what traffic leaves), and
//! [`HOT_FLOWS`] ACK frames of connections picked at scattered positions
//! among them. The bench sends those ACKs round-robin, so consecutive
//! packets hit unrelated entries and index groups, as interleaved traffic
//! from many clients does. Each hot connection is ACKed once during setup
//! (SYN_RECV → ESTABLISHED) so the timed packets take the established path.

use xvs_conn::ConnState;
use xvs_testkit::{Spec, ACK, CLIENT_IF, LAB_YAML, SERVER_IF, SYN, TCP_PORT, VIP4_DR};

use crate::flows::{client_addr, client_port, scattered};
use crate::neighbors::FastNeighbors;
use crate::rig::{expect_forward, Rig, SetupError};

/// ACK frames the bench rotates through ("a few thousand").
pub const HOT_FLOWS: usize = 4096;
/// IPv4 capacity of the table: the configuration's default `conn_capacity`
/// (2^20), whatever the number of live entries, so 1 K and 1 M differ only
/// in how full the table is.
pub const POPULATED_CAPACITY: usize = 1 << 20;

/// A rig with `live` connections and the frames to bench.
#[derive(Debug)]
pub struct Populated {
    pub rig: Rig,
    /// ACKs of `min(HOT_FLOWS, live)` distinct established connections.
    pub frames: Vec<Vec<u8>>,
}

fn frame(i: usize, flags: u8) -> Vec<u8> {
    Spec::tcp(
        client_addr(i).into(),
        client_port(i),
        VIP4_DR.into(),
        TCP_PORT,
        flags,
    )
    .frame()
}

/// Fill a table of `capacity` IPv4 entries (usually
/// [`POPULATED_CAPACITY`]) with `live` connections.
pub fn populated(live: usize, capacity: usize) -> Result<Populated, SetupError> {
    populated_hot(live, capacity, HOT_FLOWS)
}

/// [`populated`] with `hot` ACK frames instead of [`HOT_FLOWS`] (at most
/// `live`): the same hot set in tables of different fullness separates
/// what the table's size costs from what the hot set's size costs.
pub fn populated_hot(live: usize, capacity: usize, hot: usize) -> Result<Populated, SetupError> {
    let mut rig = Rig::new(LAB_YAML, capacity, 1024, FastNeighbors::lab())?;
    for i in 0..live {
        expect_forward(
            &mut rig,
            "populating SYN",
            CLIENT_IF,
            &frame(i, SYN),
            SERVER_IF,
        )?;
    }
    let found = rig.table.len();
    if found != live {
        return Err(SetupError::TableLen {
            what: "after populating",
            expected: live,
            found,
        });
    }
    let frames: Vec<Vec<u8>> = scattered(hot, live)
        .into_iter()
        .map(|i| frame(i, ACK))
        .collect();
    for f in &frames {
        expect_forward(&mut rig, "hot ACK", CLIENT_IF, f, SERVER_IF)?;
    }
    Ok(Populated { rig, frames })
}

/// How many entries are ESTABLISHED (the hot ones) — a scenario check.
pub fn established_count(rig: &Rig) -> usize {
    let mut n = 0;
    rig.table
        .for_each(|e| n += usize::from(e.state == ConnState::Established));
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use xvs_dataplane::Verdict;

    #[test]
    fn hot_frames_hit_established_entries_without_adding_any() {
        let mut p = populated(1000, 4096).expect("populated");
        assert_eq!(p.frames.len(), 1000, "1 K table: every connection is hot");
        assert_eq!(established_count(&p.rig), 1000);
        for f in &p.frames {
            assert_eq!(
                p.rig.process(CLIENT_IF, f),
                Verdict::Forward { iface: SERVER_IF }
            );
        }
        assert_eq!(p.rig.table.len(), 1000);

        let p = populated(20_000, POPULATED_CAPACITY).expect("populated");
        assert_eq!(p.frames.len(), HOT_FLOWS);
        assert_eq!(p.rig.table.len(), 20_000);
        assert_eq!(established_count(&p.rig), HOT_FLOWS, "only the hot ones");

        let p = populated_hot(20_000, POPULATED_CAPACITY, 1000).expect("populated");
        assert_eq!((p.frames.len(), p.rig.table.len()), (1000, 20_000));
        assert_eq!(established_count(&p.rig), 1000);
    }
}
