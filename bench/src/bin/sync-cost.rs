//! What connection sync costs the worker, and the sync traffic it makes,
//! as an A/B in one process: the `sync` bench's scenarios (a stream of
//! short TCP connections, see `xvs_bench::sync_cost`) with the sync link
//! off, on (after every burst, in the same thread, the control thread's
//! work: events popped, entries read and offered to the sync sender,
//! datagrams taken) and on with the events left queued until the round
//! ends, timed round by round in turn, so that whatever the host does to
//! one mode it does to the others within milliseconds.
//!
//! ```sh
//! cargo build -p xvs-bench --release --bin sync-cost
//! taskset -c 1 target/release/sync-cost 300     # rounds per mode
//! ```
//!
//! Prints, per mode, the fastest and the median round in ns per packet
//! minus the frame copy (timed the same way), and each mode's ratio to
//! off: on a shared machine the ratios are the figures to quote. Then the
//! same run's sync traffic: connections synced per connection opened,
//! datagrams, entries per datagram, bytes per connection (UDP payload, and
//! with 28 bytes of IPv4 and UDP headers per datagram), and what one core
//! at the mode's median rate would open and send.

use std::hint::black_box;
use std::process::ExitCode;
use std::time::Duration;

use xvs_bench::rig::time_bursts;
use xvs_bench::sync_cost::{
    run_round, SyncTraffic, EVENTS_PER_FLOW, IPV4_UDP_HEADERS, SENDER_CONFIG,
};
use xvs_bench::{sync_flows, SyncMode, PACKETS_PER_FLOW};

fn main() -> ExitCode {
    let rounds = match std::env::args().nth(1).map(|a| a.parse::<usize>()) {
        None => 200,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: sync-cost [rounds per mode, default 200]");
            return ExitCode::from(2);
        }
    };
    let mut scenarios = Vec::new();
    for mode in SyncMode::ALL {
        match sync_flows(mode).and_then(|mut s| run_round(&mut s).map(|()| s)) {
            Ok(s) => scenarios.push(s),
            Err(e) => {
                eprintln!("{}: {e}", mode.name());
                return ExitCode::FAILURE;
            }
        }
    }
    let frames = scenarios[0].frames.clone();
    let packets = frames.len();
    let flows = packets / PACKETS_PER_FLOW;
    let before: Vec<SyncTraffic> = scenarios.iter().map(|s| s.traffic()).collect();
    let mut times: Vec<Vec<Duration>> = vec![Vec::with_capacity(rounds); scenarios.len()];
    let mut copies = Vec::with_capacity(rounds);
    for _ in 0..rounds {
        for (s, t) in scenarios.iter_mut().zip(&mut times) {
            s.reset();
            let mut forwarded = 0;
            t.push(time_bursts(packets as u64, &frames, &mut 0, |b| {
                forwarded += s.burst(black_box(b));
            }));
            if forwarded != packets {
                eprintln!("{}: a round did not forward every frame", s.mode.name());
                return ExitCode::FAILURE;
            }
            if s.events_dropped() != 0 {
                eprintln!("{}: events were dropped", s.mode.name());
                return ExitCode::FAILURE;
            }
        }
        let rig = &mut scenarios[0].rig;
        copies.push(time_bursts(packets as u64, &frames, &mut 0, |b| {
            black_box(rig.copy_burst(black_box(b)));
        }));
    }
    // The last round's queued events and partial datagram.
    let traffic: Vec<SyncTraffic> = scenarios
        .iter_mut()
        .zip(&before)
        .map(|(s, &b)| {
            s.reset();
            s.traffic() - b
        })
        .collect();
    if let Some(s) = scenarios.iter().find(|s| s.events_dropped() != 0) {
        eprintln!("{}: events were dropped", s.mode.name());
        return ExitCode::FAILURE;
    }

    let ns = |d: Duration| d.as_secs_f64() * 1e9 / packets as f64;
    let stats = |mut v: Vec<Duration>| {
        v.sort_unstable();
        (ns(v[0]), ns(v[v.len() / 2]))
    };
    let (copy_best, copy_median) = stats(copies);
    let args: Vec<String> = std::env::args().collect();
    println!("command: {}", args.join(" "));
    println!("CPUs allowed: {}", cpus_allowed());
    println!(
        "{rounds} rounds per mode of {packets} packets ({flows} TCP flows: SYN, ACK, 3 data, FIN+ACK; \
         DR, rr); sender: SyncID {}, MTU {}, max delay {} ms, refresh {} s",
        SENDER_CONFIG.sync_id,
        SENDER_CONFIG.mtu,
        SENDER_CONFIG.max_delay.as_millis(),
        SENDER_CONFIG.refresh_secs,
    );
    println!(
        "ns/packet minus the copy ({copy_best:.1} fastest, {copy_median:.1} median); \
         on = consumer after every burst of {}, timed; on_queued = after the round, untimed",
        xvs_bench::rig::BURST
    );
    let figures: Vec<(f64, f64)> = times
        .into_iter()
        .map(stats)
        .map(|(b, m)| (b - copy_best, m - copy_median))
        .collect();
    let (off_best, off_median) = figures[0];
    println!();
    println!(
        "{:<10} {:>8} {:>8}   {:>13}",
        "mode", "fastest", "median", "ratio to off"
    );
    for (s, (best, median)) in scenarios.iter().zip(&figures) {
        println!(
            "{:<10} {best:8.1} {median:8.1}   {:.3} / {:.3}",
            s.mode.name(),
            best / off_best,
            median / off_median
        );
    }

    let opened = (rounds * flows) as f64;
    println!();
    println!(
        "{:<10} {:>7} {:>9} {:>7} {:>7} {:>7}   {:>10} {:>9}",
        "mode", "synced", "datagrams", "entries", "bytes/", "wire/", "conn/s", "sync"
    );
    println!(
        "{:<10} {:>7} {:>9} {:>7} {:>7} {:>7}   {:>10} {:>9}",
        "", "/conn", "", "/dgram", "conn", "conn", "one core", "Mbit/s"
    );
    for ((s, t), (_, median)) in scenarios.iter().zip(&traffic).zip(&figures) {
        // The core's median rate, a connection every PACKETS_PER_FLOW.
        let conn_per_sec = 1e9 / (median * PACKETS_PER_FLOW as f64);
        let wire_per_conn = t.wire_bytes() as f64 / opened;
        let per_dgram = if t.datagrams == 0 {
            0.0
        } else {
            t.entries as f64 / t.datagrams as f64
        };
        println!(
            "{:<10} {:>7.3} {:>9} {:>7.1} {:>7.1} {:>7.1}   {:>9.2}M {:>9.1}",
            s.mode.name(),
            t.entries as f64 / opened,
            t.datagrams,
            per_dgram,
            t.bytes as f64 / opened,
            wire_per_conn,
            conn_per_sec / 1e6,
            conn_per_sec * wire_per_conn * 8.0 / 1e6,
        );
    }
    // The consumer's work, on the director the control thread's: what
    // `on` adds over the worker's pushes alone (`on_queued`).
    let consumer = figures[1].1 - figures[2].1;
    let entries_per_packet = traffic[1].entries as f64 / (opened * PACKETS_PER_FLOW as f64);
    let per_entry = consumer / entries_per_packet;
    println!();
    println!(
        "consumer (on − on_queued, medians): {consumer:.1} ns/packet = {:.0} ns per event \
         popped, {per_entry:.0} ns per entry synced (≈ {:.1} M entries/s on one core)",
        consumer * PACKETS_PER_FLOW as f64 / EVENTS_PER_FLOW as f64,
        1e3 / per_entry
    );
    println!(
        "synced/conn: entries sent per connection opened ({} opened per mode); bytes/conn: \
         UDP payload; wire/conn: with {IPV4_UDP_HEADERS} bytes of IPv4+UDP headers a datagram; \
         conn/s and Mbit/s: one core at the mode's median ns/packet (pipeline only, no driver)",
        rounds * flows
    );
    ExitCode::SUCCESS
}

/// The CPUs this process may run on (`taskset`), as the kernel lists them.
fn cpus_allowed() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}
