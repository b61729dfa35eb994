//! xvs-sched: IPVS schedulers with kernel semantics and per-core state.
