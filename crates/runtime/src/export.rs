//! Counters into the `metrics` facade, and the listings `xvs list` shows.
//!
//! Workers keep plain single-writer counters; this module reads them (any
//! thread may) and records absolute values, so the exporter always shows
//! the truth without the packet path touching the facade.

use std::sync::atomic::Ordering;

use xvs_config::ipvsadm;
use xvs_dataplane::{DropReason, Plan};

use crate::shared::Shared;

/// Record every counter in the metrics facade.
pub fn record(shared: &Shared, conn_entries: &[usize]) {
    for (w, c) in shared.workers.iter().enumerate() {
        let worker = w.to_string();
        let set = |name: &'static str, cell: &std::sync::atomic::AtomicU64| {
            metrics::counter!(name, "worker" => worker.clone())
                .absolute(cell.load(Ordering::Relaxed))
        };
        for (name, cell) in [
            ("xvs_rx_packets_total", &c.rx_packets),
            ("xvs_rx_bytes_total", &c.rx_bytes),
            ("xvs_forwarded_packets_total", &c.forwarded),
            ("xvs_to_control_packets_total", &c.to_control),
            ("xvs_need_neighbor_packets_total", &c.need_neighbor),
            ("xvs_fast_path_packets_total", &c.fast_path),
            ("xvs_not_ours_packets_total", &c.passed),
        ] {
            set(name, cell);
        }
        for r in DropReason::ALL {
            metrics::counter!("xvs_dropped_packets_total", "worker" => worker.clone(), "reason" => r.name())
                .absolute(c.drops(*r));
        }
        for (reason, n) in c.malformed_by_reason() {
            metrics::counter!("xvs_malformed_packets_total", "worker" => worker.clone(), "reason" => reason)
                .absolute(n);
        }
        if let Some(d) = shared.drivers.get(w) {
            for (name, cell) in [
                ("xvs_tx_packets_total", &d.tx_packets),
                ("xvs_tx_ring_full_total", &d.tx_ring_full),
                ("xvs_neighbor_timeout_total", &d.neighbor_timeout),
                ("xvs_punt_dropped_total", &d.punt_dropped),
                ("xvs_bad_descriptors_total", &d.bad_descriptors),
                // The kernel's own drops before xvs saw the packets.
                ("xvs_xsk_rx_dropped_total", &d.kernel_rx_dropped),
                ("xvs_xsk_fill_ring_empty_total", &d.kernel_fill_ring_empty),
                ("xvs_xsk_rx_ring_full_total", &d.kernel_rx_ring_full),
            ] {
                set(name, cell);
            }
        }
        if let Some(n) = conn_entries.get(w) {
            metrics::gauge!("xvs_conn_entries", "worker" => worker.clone()).set(*n as f64);
        }
    }
    let plan = shared.plan.load();
    for svc in &plan.services {
        let service = format!("{} {}", svc.protocol, ipvsadm::addr_port(svc.vip, svc.port));
        let t = svc.shared.stats.totals();
        let s = |name: &'static str, v: u64| {
            metrics::counter!(name, "service" => service.clone()).absolute(v)
        };
        s("xvs_service_connections_total", t.conns);
        s("xvs_service_in_packets_total", t.in_packets);
        s("xvs_service_out_packets_total", t.out_packets);
        s("xvs_service_in_bytes_total", t.in_bytes);
        s("xvs_service_out_bytes_total", t.out_bytes);
        for (sd, id) in svc.sched_dests.iter().zip(&svc.dest_ids) {
            let Some(d) = plan.dest(*id) else { continue };
            let dest = ipvsadm::addr_port(sd.addr, sd.port);
            let t = d.shared.stats.totals();
            let r = |name: &'static str, v: u64| {
                metrics::counter!(name, "service" => service.clone(), "real_server" => dest.clone())
                    .absolute(v)
            };
            r("xvs_real_server_connections_total", t.conns);
            r("xvs_real_server_in_packets_total", t.in_packets);
            r("xvs_real_server_out_packets_total", t.out_packets);
            r("xvs_real_server_in_bytes_total", t.in_bytes);
            r("xvs_real_server_out_bytes_total", t.out_bytes);
            let g = |name: &'static str, v: u32| {
                metrics::gauge!(name, "service" => service.clone(), "real_server" => dest.clone())
                    .set(f64::from(v))
            };
            g("xvs_real_server_active_connections", sd.load.activeconns());
            g("xvs_real_server_inactive_connections", sd.load.inactconns());
            g("xvs_real_server_weight", sd.weight);
        }
    }
}

/// `ipvsadm -Ln` with live connection counts.
pub fn list(plan: &Plan) -> String {
    ipvsadm::list_with(&plan.snapshot, |si, di| {
        let load = &plan.services[si].sched_dests[di].load;
        ipvsadm::DestConns {
            active: load.activeconns(),
            inactive: load.inactconns(),
        }
    })
}

/// `ipvsadm -Ln --stats`.
pub fn list_stats(plan: &Plan, exact: bool) -> String {
    let conv = |t: xvs_dataplane::StatsTotals| ipvsadm::Stats {
        conns: t.conns,
        in_packets: t.in_packets,
        out_packets: t.out_packets,
        in_bytes: t.in_bytes,
        out_bytes: t.out_bytes,
    };
    ipvsadm::list_stats(
        &plan.snapshot,
        |si| conv(plan.services[si].shared.stats.totals()),
        |si, di| {
            let id = plan.services[si].dest_ids[di];
            plan.dest(id)
                .map(|d| conv(d.shared.stats.totals()))
                .unwrap_or_default()
        },
        exact,
    )
}

/// Connection sync's counters (`xvs_sync_total{counter=…}`), its bulk
/// transfer state (0 idle, 1 waiting, 2 done, 3 gave up) and whether it
/// holds VRRP preemption.
pub fn record_sync(s: &crate::sync::SyncDriver) {
    for (name, n) in s.counters() {
        metrics::counter!("xvs_sync_total", "counter" => name).absolute(n);
    }
    let state = match s.bulk_state() {
        xvs_sync::BulkState::Idle => 0.0,
        xvs_sync::BulkState::Waiting { .. } => 1.0,
        xvs_sync::BulkState::Done => 2.0,
        xvs_sync::BulkState::GaveUp => 3.0,
    };
    metrics::gauge!("xvs_sync_bulk_state").set(state);
    metrics::gauge!("xvs_sync_preemption_held").set(if s.holds_preemption() { 1.0 } else { 0.0 });
}

/// VRRP instances into the metrics facade (state as a number: 0 init,
/// 1 backup, 2 master, 3 fault, as keepalived's SNMP MIB counts them).
pub fn record_vrrp(instances: &[xvs_vrrp::InstanceStatus]) {
    use xvs_vrrp::State;
    for i in instances {
        let name = i.name.clone();
        let state = match i.state {
            State::Init => 0.0,
            State::Backup => 1.0,
            State::Master => 2.0,
            State::Fault => 3.0,
        };
        metrics::gauge!("xvs_vrrp_state", "instance" => name.clone()).set(state);
        metrics::gauge!("xvs_vrrp_priority", "instance" => name.clone())
            .set(f64::from(i.effective_priority));
        let c = &i.counters;
        for (metric, n) in [
            ("xvs_vrrp_adverts_received_total", c.adverts_received),
            ("xvs_vrrp_adverts_sent_total", c.adverts_sent),
            (
                "xvs_vrrp_priority_zero_received_total",
                c.priority_zero_received,
            ),
            ("xvs_vrrp_priority_zero_sent_total", c.priority_zero_sent),
            ("xvs_vrrp_became_master_total", c.became_master),
            ("xvs_vrrp_released_master_total", c.released_master),
            ("xvs_vrrp_split_brain_total", c.split_brain),
        ] {
            metrics::counter!(metric, "instance" => name.clone()).absolute(n);
        }
        for (reason, n) in &c.rejected {
            metrics::counter!("xvs_vrrp_adverts_rejected_total", "instance" => name.clone(), "reason" => reason.clone())
                .absolute(*n);
        }
    }
}
