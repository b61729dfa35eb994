//! xvs-conn: lock-free sharded connection table with IPVS TCP states and timeouts.
