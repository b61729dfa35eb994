//! Counters into the `metrics` facade, and their Prometheus text. (The
//! listings `xvs list` shows are built in [`crate::api::listing`].)
//!
//! Workers keep plain single-writer counters; this module reads them (any
//! thread may) and records absolute values, so the exporter always shows
//! the truth without the packet path touching the facade.

use std::sync::atomic::Ordering;

use xvs_config::ipvsadm;
use xvs_dataplane::DropReason;

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
            ("xvs_synproxy_syn_acks_total", &c.synproxy_syn_acks),
            ("xvs_synproxy_early_data_total", &c.synproxy_early_data),
            (
                "xvs_synproxy_window_updates_total",
                &c.synproxy_window_updates,
            ),
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
        for (reason, n) in c.evictions() {
            metrics::counter!("xvs_conn_evictions_total", "worker" => worker.clone(), "reason" => reason)
                .absolute(n);
        }
        metrics::gauge!("xvs_conn_pressure", "worker" => worker.clone())
            .set(f64::from(u8::from(c.under_pressure())));
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
    record_steering(&shared.steering);
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

/// The steering programs' counters: every frame an interface received,
/// once, by outcome (steered, passed, no_socket) and reason, summed over
/// CPUs.
fn record_steering(readers: &[xvs_xdp::SteerCounterReader]) {
    for r in readers {
        let counts = match r.read() {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(interface = %r.ifname(), "reading the steering counters: {e}");
                continue;
            }
        };
        for (outcome, reason, n) in counts.iter() {
            metrics::counter!("xvs_steer_frames_total",
                "interface" => r.ifname().to_owned(), "outcome" => outcome.name(), "reason" => reason)
            .absolute(n);
        }
    }
}

/// The Prometheus text of every counter, freshly recorded (`xvs metrics`
/// and the `global.metrics_listen` endpoint), each family with its HELP.
pub fn render_metrics(
    shared: &Shared,
    table: &xvs_conn::ConnTable,
    prometheus: &metrics_exporter_prometheus::PrometheusHandle,
    rates: &crate::estimator::RateTable,
) -> String {
    static DESCRIBED: std::sync::Once = std::sync::Once::new();
    // The recorder is installed before the API serves its first request.
    DESCRIBED.call_once(describe);
    let entries: Vec<usize> = (0..shared.workers.len())
        .map(|w| table.shard_len(w))
        .collect();
    record(shared, &entries);
    metrics::gauge!("xvs_conn_capacity").set(table.capacity() as f64);
    record_rates(&shared.plan.load(), rates);
    prometheus.render()
}

/// The estimator's rates of every service and real server
/// (`ipvsadm --rate`: CPS, InPPS, OutPPS, InBPS, OutBPS) as gauges.
pub fn record_rates(plan: &xvs_dataplane::Plan, rates: &crate::estimator::RateTable) {
    let set = |labels: &[(&'static str, String)], r: crate::estimator::Rates| {
        for (name, v) in [
            ("connections", r.cps),
            ("in_packets", r.in_pps),
            ("out_packets", r.out_pps),
            ("in_bytes", r.in_bps),
            ("out_bytes", r.out_bps),
        ] {
            let labels: Vec<metrics::Label> = labels
                .iter()
                .map(|(k, v)| metrics::Label::new(*k, v.clone()))
                .collect();
            let family = if labels.len() == 1 {
                "xvs_service"
            } else {
                "xvs_real_server"
            };
            metrics::gauge!(format!("{family}_{name}_per_second"), labels).set(v as f64);
        }
    };
    for svc in &plan.services {
        let service = format!("{} {}", svc.protocol, ipvsadm::addr_port(svc.vip, svc.port));
        set(
            &[("service", service.clone())],
            rates.service(svc.protocol, svc.vip, svc.port),
        );
        for (sd, id) in svc.sched_dests.iter().zip(&svc.dest_ids) {
            set(
                &[
                    ("service", service.clone()),
                    ("real_server", ipvsadm::addr_port(sd.addr, sd.port)),
                ],
                rates.dest(*id),
            );
        }
    }
}

/// Which kind of metric a family is, for its description.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every family xvs exports, with its HELP text (Prometheus' linter,
/// `promtool check metrics`, wants one on each).
const FAMILIES: &[(&str, Kind, &str)] = &[
    (
        "xvs_rx_packets_total",
        Kind::Counter,
        "Frames a worker received from its AF_XDP sockets.",
    ),
    (
        "xvs_rx_bytes_total",
        Kind::Counter,
        "Bytes of the frames a worker received.",
    ),
    (
        "xvs_forwarded_packets_total",
        Kind::Counter,
        "Frames a worker forwarded (to a real server or a client).",
    ),
    (
        "xvs_to_control_packets_total",
        Kind::Counter,
        "Frames a worker handed to the control thread (ARP, ND, pings to VIPs, VRRP).",
    ),
    (
        "xvs_need_neighbor_packets_total",
        Kind::Counter,
        "Frames that waited for a neighbour resolution.",
    ),
    (
        "xvs_fast_path_packets_total",
        Kind::Counter,
        "Frames forwarded through the per-connection fast path.",
    ),
    (
        "xvs_synproxy_syn_acks_total",
        Kind::Counter,
        "SYN-ACKs with a SYN cookie the SYN proxy answered SYNs with.",
    ),
    (
        "xvs_synproxy_early_data_total",
        Kind::Counter,
        "Client segments of SYN-proxied connections whose data was dropped before the real server answered (the client retransmits).",
    ),
    (
        "xvs_synproxy_window_updates_total",
        Kind::Counter,
        "Window updates the SYN proxy sent clients, held at a zero window, once their real server was connected.",
    ),
    (
        "xvs_not_ours_packets_total",
        Kind::Counter,
        "Frames passed back to the kernel (not for a VIP or local address).",
    ),
    (
        "xvs_steer_frames_total",
        Kind::Counter,
        "Frames the steering program saw on an interface, each once: steered to xvs, passed to the kernel, or no_socket (claimed, but its queue had none), by reason.",
    ),
    (
        "xvs_dropped_packets_total",
        Kind::Counter,
        "Frames a worker dropped, by reason.",
    ),
    (
        "xvs_malformed_packets_total",
        Kind::Counter,
        "Malformed frames dropped, by what was wrong.",
    ),
    (
        "xvs_tx_packets_total",
        Kind::Counter,
        "Frames handed to the kernel's AF_XDP TX rings.",
    ),
    (
        "xvs_tx_ring_full_total",
        Kind::Counter,
        "Frames dropped because a TX ring was full.",
    ),
    (
        "xvs_neighbor_timeout_total",
        Kind::Counter,
        "Frames dropped after waiting too long for a neighbour.",
    ),
    (
        "xvs_punt_dropped_total",
        Kind::Counter,
        "Frames for the control thread dropped because its queue was full.",
    ),
    (
        "xvs_bad_descriptors_total",
        Kind::Counter,
        "Descriptors from the kernel that named no frame (never expected).",
    ),
    (
        "xvs_xsk_rx_dropped_total",
        Kind::Counter,
        "Packets the kernel dropped before xvs saw them (XDP_STATISTICS rx_dropped).",
    ),
    (
        "xvs_xsk_fill_ring_empty_total",
        Kind::Counter,
        "Times the kernel found a fill ring empty (XDP_STATISTICS).",
    ),
    (
        "xvs_xsk_rx_ring_full_total",
        Kind::Counter,
        "Packets dropped because an RX ring was full (XDP_STATISTICS).",
    ),
    (
        "xvs_conn_capacity",
        Kind::Gauge,
        "Connection entries the table holds at most (IPv4 and IPv6).",
    ),
    (
        "xvs_service_connections_per_second",
        Kind::Gauge,
        "New connections per second of a virtual service (IPVS estimator, ipvsadm --rate CPS).",
    ),
    (
        "xvs_service_in_packets_per_second",
        Kind::Gauge,
        "Packets per second client to real server of a virtual service (IPVS estimator).",
    ),
    (
        "xvs_service_out_packets_per_second",
        Kind::Gauge,
        "Packets per second real server to client of a virtual service (IPVS estimator).",
    ),
    (
        "xvs_service_in_bytes_per_second",
        Kind::Gauge,
        "IP bytes per second client to real server of a virtual service (IPVS estimator).",
    ),
    (
        "xvs_service_out_bytes_per_second",
        Kind::Gauge,
        "IP bytes per second real server to client of a virtual service (IPVS estimator).",
    ),
    (
        "xvs_real_server_connections_per_second",
        Kind::Gauge,
        "New connections per second to a real server (IPVS estimator, ipvsadm --rate CPS).",
    ),
    (
        "xvs_real_server_in_packets_per_second",
        Kind::Gauge,
        "Packets per second client to a real server (IPVS estimator).",
    ),
    (
        "xvs_real_server_out_packets_per_second",
        Kind::Gauge,
        "Packets per second a real server to its clients (IPVS estimator).",
    ),
    (
        "xvs_real_server_in_bytes_per_second",
        Kind::Gauge,
        "IP bytes per second client to a real server (IPVS estimator).",
    ),
    (
        "xvs_real_server_out_bytes_per_second",
        Kind::Gauge,
        "IP bytes per second a real server to its clients (IPVS estimator).",
    ),
    (
        "xvs_conn_entries",
        Kind::Gauge,
        "Connection entries in a worker's table shard.",
    ),
    (
        "xvs_conn_evictions_total",
        Kind::Counter,
        "Entries a worker freed to admit a new connection into its full table shard, by reason (embryonic, closing, expired, template).",
    ),
    (
        "xvs_conn_pressure",
        Kind::Gauge,
        "1 while a worker's table shard is under pressure (short SYN_RECV timeouts), else 0.",
    ),
    (
        "xvs_service_connections_total",
        Kind::Counter,
        "Connections scheduled to a virtual service (templates excluded).",
    ),
    (
        "xvs_service_in_packets_total",
        Kind::Counter,
        "Packets client to real server of a virtual service.",
    ),
    (
        "xvs_service_out_packets_total",
        Kind::Counter,
        "Packets real server to client of a virtual service seen by the director.",
    ),
    (
        "xvs_service_in_bytes_total",
        Kind::Counter,
        "IP bytes client to real server of a virtual service.",
    ),
    (
        "xvs_service_out_bytes_total",
        Kind::Counter,
        "IP bytes real server to client of a virtual service seen by the director.",
    ),
    (
        "xvs_real_server_connections_total",
        Kind::Counter,
        "Connections scheduled to a real server.",
    ),
    (
        "xvs_real_server_in_packets_total",
        Kind::Counter,
        "Packets client to real server.",
    ),
    (
        "xvs_real_server_out_packets_total",
        Kind::Counter,
        "Packets real server to client seen by the director.",
    ),
    (
        "xvs_real_server_in_bytes_total",
        Kind::Counter,
        "IP bytes client to real server.",
    ),
    (
        "xvs_real_server_out_bytes_total",
        Kind::Counter,
        "IP bytes real server to client seen by the director.",
    ),
    (
        "xvs_real_server_active_connections",
        Kind::Gauge,
        "A real server's active connections (ipvsadm ActiveConn).",
    ),
    (
        "xvs_real_server_inactive_connections",
        Kind::Gauge,
        "A real server's inactive connections (ipvsadm InActConn).",
    ),
    (
        "xvs_real_server_weight",
        Kind::Gauge,
        "A real server's weight in the running plan.",
    ),
    (
        "xvs_real_server_up",
        Kind::Gauge,
        "1 when a real server's health checks pass, else 0.",
    ),
    (
        "xvs_real_server_effective_weight",
        Kind::Gauge,
        "A real server's weight after health checks and slow start.",
    ),
    (
        "xvs_health_check_duration_seconds",
        Kind::Histogram,
        "How long health checks took, by checker type.",
    ),
    (
        "xvs_health_checks_total",
        Kind::Counter,
        "Health checks run, by checker type and result.",
    ),
    (
        "xvs_health_probes_started_total",
        Kind::Counter,
        "Probes the health-check engine started.",
    ),
    (
        "xvs_health_probes_deferred_total",
        Kind::Counter,
        "Probes deferred because too many were in flight.",
    ),
    (
        "xvs_health_probes_timed_out_total",
        Kind::Counter,
        "Probes that timed out.",
    ),
    (
        "xvs_health_scripts_run_total",
        Kind::Counter,
        "Check and notify scripts run.",
    ),
    (
        "xvs_health_scripts_killed_total",
        Kind::Counter,
        "Scripts killed for overrunning their timeout.",
    ),
    (
        "xvs_health_scripts_failed_total",
        Kind::Counter,
        "Scripts that could not be run.",
    ),
    (
        "xvs_vrrp_state",
        Kind::Gauge,
        "A VRRP instance's state: 0 init, 1 backup, 2 master, 3 fault.",
    ),
    (
        "xvs_vrrp_priority",
        Kind::Gauge,
        "A VRRP instance's effective priority.",
    ),
    (
        "xvs_vrrp_adverts_received_total",
        Kind::Counter,
        "VRRP adverts received.",
    ),
    (
        "xvs_vrrp_adverts_sent_total",
        Kind::Counter,
        "VRRP adverts sent.",
    ),
    (
        "xvs_vrrp_priority_zero_received_total",
        Kind::Counter,
        "VRRP adverts with priority 0 received (a master resigning).",
    ),
    (
        "xvs_vrrp_priority_zero_sent_total",
        Kind::Counter,
        "VRRP adverts with priority 0 sent.",
    ),
    (
        "xvs_vrrp_became_master_total",
        Kind::Counter,
        "Transitions to master.",
    ),
    (
        "xvs_vrrp_released_master_total",
        Kind::Counter,
        "Transitions out of master.",
    ),
    (
        "xvs_vrrp_split_brain_total",
        Kind::Counter,
        "Adverts from another master seen while master.",
    ),
    (
        "xvs_vrrp_adverts_rejected_total",
        Kind::Counter,
        "VRRP adverts rejected, by reason.",
    ),
    (
        "xvs_sync_total",
        Kind::Counter,
        "Connection sync events, by counter.",
    ),
    (
        "xvs_sync_bulk_state",
        Kind::Gauge,
        "Connection sync bulk transfer: 0 idle, 1 waiting, 2 done, 3 gave up.",
    ),
    (
        "xvs_sync_preemption_held",
        Kind::Gauge,
        "1 while connection sync holds VRRP preemption back.",
    ),
];

/// Give every family its HELP text.
fn describe() {
    for &(name, kind, help) in FAMILIES {
        match kind {
            Kind::Counter => metrics::describe_counter!(name, help),
            Kind::Gauge => metrics::describe_gauge!(name, help),
            Kind::Histogram => metrics::describe_histogram!(name, help),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Prometheus naming (and `promtool check metrics`): counters and only
    /// counters end in `_total`, each family is described once.
    #[test]
    fn families_follow_prometheus_naming() {
        let mut seen = std::collections::HashSet::new();
        for &(name, kind, help) in FAMILIES {
            assert!(seen.insert(name), "{name} twice");
            assert!(name.starts_with("xvs_"), "{name}");
            assert!(help.ends_with('.') && help.len() > 10, "{name}: {help}");
            match kind {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
                Kind::Histogram => assert!(name.ends_with("_seconds"), "{name}"),
            }
        }
    }
}
