//! `xvs-fwd`: forward every IPv4 frame for the VIP from the client-side
//! interface to one real server, rewriting only the MACs, as fast as
//! AF_XDP allows; print the counters as JSON on SIGINT/SIGTERM.
//!
//! ```text
//! ip netns exec tpdir xvs-fwd --in tpc --out tpr --vip 198.18.0.100 \
//!     --dst-mac 02:..:.. --core 0
//! ```
//!
//! One busy-polling worker per `--core` (`--core 0,1`: two, on queues 0
//! and 1), each with one socket per interface on its own UMEM, the
//! steering program on both interfaces claiming the VIP: the same plumbing
//! as xvs's workers (crates/runtime/src/worker_loop.rs), without the
//! pipeline.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use clap::Parser;
use xvs_fwd::{parse_mac, rewrite_macs};
use xvs_xdp::{AttachMode, SteerRules, Steering};
use xvs_xsk::{BindMode, Desc, FramePool, Umem, XskError, XskSocket};

#[derive(Debug, Parser)]
#[command(
    name = "xvs-fwd",
    about = "Bare AF_XDP forwarding ceiling for the xvs veth lab"
)]
struct Cli {
    /// Client-side interface (receives the VIP traffic).
    #[arg(long = "in")]
    in_iface: String,
    /// Real-server-side interface (transmits it).
    #[arg(long = "out")]
    out_iface: String,
    /// The VIP the steering program claims.
    #[arg(long)]
    vip: std::net::IpAddr,
    /// The real server's MAC (destination of forwarded frames).
    #[arg(long, value_parser = mac_arg)]
    dst_mac: [u8; 6],
    /// Source MAC of forwarded frames (default: the out interface's).
    #[arg(long, value_parser = mac_arg)]
    src_mac: Option<[u8; 6]>,
    /// First queue of both interfaces to serve; worker `i` serves queue
    /// `queue + i`.
    #[arg(long, default_value_t = 0)]
    queue: u32,
    /// One worker per listed core, pinned to it (`--core 0,1`: two workers,
    /// queues `queue` and `queue + 1`, as xvs with `workers: [0, 1]`).
    /// Without it, one unpinned worker.
    #[arg(long, value_delimiter = ',')]
    core: Vec<usize>,
    /// Ring size (as xvs's `ring_size`).
    #[arg(long, default_value_t = 2048)]
    ring: u32,
    /// UMEM frames of 4 KiB (as xvs's `umem_frames`).
    #[arg(long, default_value_t = 4096)]
    frames: u32,
    /// RX burst.
    #[arg(long, default_value_t = 64)]
    batch: usize,
    /// Attach the steering program in generic (skb) mode.
    #[arg(long)]
    generic: bool,
    /// Kick TX the way crates/runtime/src/worker_loop.rs does: one sendto
    /// per round, only in rounds that queued frames. For comparison: in
    /// copy mode a kick sends at most 32 frames, so what is left waits for
    /// the next round that receives something.
    #[arg(long)]
    lazy_kick: bool,
}

fn mac_arg(s: &str) -> Result<[u8; 6], String> {
    parse_mac(s).ok_or_else(|| format!("{s:?} is not a MAC address (aa:bb:cc:dd:ee:ff)"))
}

/// Counters printed at the end (summed over the workers).
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    rx: u64,
    forwarded: u64,
    not_ipv4: u64,
    tx_ring_full: u64,
    /// sendto calls made to push TX in copy mode.
    kicks: u64,
    /// Frames steered to the out-side socket (none expected), recycled.
    stray: u64,
}

/// A frame size xvs also uses.
const FRAME_SIZE: u32 = 4096;
/// The most `sendto`s per round while the TX ring still holds frames:
/// copy mode sends at most 32 per call (TX_BATCH_SIZE in net/xdp/xsk.c).
const MAX_KICKS: u32 = 8;

struct Worker {
    // Sockets first: they must close before the UMEM is unmapped.
    rx_sock: XskSocket,
    tx_sock: XskSocket,
    umem: Umem,
    pool: FramePool,
    dst: [u8; 6],
    src: [u8; 6],
    batch: usize,
    lazy_kick: bool,
    counts: Counts,
}

impl Worker {
    fn refill(&mut self, scratch: &mut Vec<u64>) {
        let want = self.rx_sock.fill.free(1).min(self.pool.len() as u32) as usize;
        if want > 0 {
            self.pool.take(want, scratch);
            let n = self.rx_sock.fill.produce(scratch);
            for &a in &scratch[n..] {
                self.pool.free(a);
            }
        }
        if self.rx_sock.fill.needs_wakeup() {
            self.rx_sock.kick_rx();
        }
    }

    fn reap(&mut self) {
        let mut done = [0u64; 256];
        loop {
            let n = self.tx_sock.comp.consume(&mut done);
            for &a in &done[..n] {
                self.pool.free(self.umem.chunk_of(a));
            }
            if n < done.len() {
                break;
            }
        }
    }

    /// Frames still on the TX ring (not yet taken by the kernel).
    fn tx_pending(&mut self) -> u32 {
        let size = self.tx_sock.tx.size();
        size - self.tx_sock.tx.free(size)
    }

    fn run(&mut self, stop: &AtomicBool) {
        let mut rx = vec![
            Desc {
                addr: 0,
                len: 0,
                options: 0
            };
            self.batch
        ];
        let mut tx: Vec<Desc> = Vec::with_capacity(self.batch);
        let mut scratch = Vec::with_capacity(self.rx_sock.fill.size() as usize);
        while !stop.load(Ordering::Relaxed) {
            self.reap();
            self.refill(&mut scratch);
            let n = self.rx_sock.rx.consume(&mut rx);
            self.counts.rx += n as u64;
            tx.clear();
            // As xvs's worker does: start loading the burst's headers
            // first, so the ceiling pays for cross-core misses no more
            // than xvs does.
            for d in &rx[..n] {
                self.umem.prefetch(d.addr);
            }
            for d in &rx[..n] {
                let chunk = self.umem.chunk_of(d.addr);
                let Some((frame, off)) = self.umem.frame_mut(d.addr) else {
                    continue;
                };
                let end = off + d.len as usize;
                match frame
                    .get_mut(off..end)
                    .map(|f| rewrite_macs(f, self.dst, self.src))
                {
                    Some(Ok(())) => tx.push(*d),
                    _ => {
                        self.counts.not_ipv4 += 1;
                        self.pool.free(chunk);
                    }
                }
            }
            let mut sent = 0;
            if !tx.is_empty() {
                sent = self.tx_sock.tx.produce(&tx);
                self.counts.forwarded += sent as u64;
                for d in &tx[sent..] {
                    self.counts.tx_ring_full += 1;
                    self.pool.free(self.umem.chunk_of(d.addr));
                }
            }
            let wants_kick = self.tx_sock.tx.needs_wakeup() || !self.tx_sock.is_zero_copy();
            let mut kicks = 0;
            if self.lazy_kick {
                if sent > 0 && wants_kick {
                    self.tx_sock.kick_tx();
                    kicks = 1;
                }
            } else {
                // Copy mode transmits only inside sendto, 32 frames a
                // call: push until the ring is empty (bounded, so RX is
                // not starved), also in rounds that received nothing.
                while kicks < MAX_KICKS && wants_kick && self.tx_pending() > 0 {
                    self.tx_sock.kick_tx();
                    kicks += 1;
                }
            }
            self.counts.kicks += u64::from(kicks);
            // Anything steered to the out side (nothing should be) goes back.
            let m = self.tx_sock.rx.consume(&mut rx);
            for d in &rx[..m] {
                self.pool.free(self.umem.chunk_of(d.addr));
            }
            self.counts.stray += m as u64;
            if n == 0 {
                std::hint::spin_loop();
            }
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xvs-fwd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// How long to retry a bind the kernel calls busy.
const BIND_RETRY: Duration = Duration::from_secs(3);

/// Bind, retrying while the queue is busy: the kernel releases a closed
/// socket's hold on a queue from a workqueue (net/xdp/xsk_buff_pool.c,
/// xp_release_deferred), so a forwarder started right after another one
/// (xvs, or an earlier xvs-fwd) finds the queue still taken for a moment.
fn bind_retrying(
    mut bind: impl FnMut() -> Result<XskSocket, XskError>,
) -> Result<XskSocket, XskError> {
    let t0 = Instant::now();
    loop {
        match bind() {
            Err(XskError::Os { ref source, .. })
                if source.kind() == std::io::ErrorKind::ResourceBusy
                    && t0.elapsed() < BIND_RETRY =>
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => return other,
        }
    }
}

fn iface_mac(iface: &str) -> Result<[u8; 6]> {
    let path = format!("/sys/class/net/{iface}/address");
    let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
    parse_mac(&text).ok_or_else(|| anyhow!("{path}: not a MAC address: {text:?}"))
}

fn run(cli: Cli) -> Result<()> {
    if cli.batch == 0 {
        return Err(anyhow!("--batch must be at least 1"));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .context("installing signal handlers")?;
    }
    let src = match cli.src_mac {
        Some(m) => m,
        None => iface_mac(&cli.out_iface)?,
    };
    let cores: Vec<Option<usize>> = if cli.core.is_empty() {
        vec![None]
    } else {
        cli.core.iter().copied().map(Some).collect()
    };
    let mut workers = Vec::new();
    for i in 0..cores.len() {
        let queue = cli.queue + i as u32;
        workers.push(bind_worker(&cli, queue, src)?);
    }

    let mode = if cli.generic {
        AttachMode::Generic
    } else {
        AttachMode::Native
    };
    let rules = SteerRules {
        vips: vec![cli.vip],
        ..SteerRules::default()
    };
    // Kept alive until the end: dropping a Steering detaches it.
    let mut steering = Vec::new();
    for (side, iface) in [&cli.in_iface, &cli.out_iface].into_iter().enumerate() {
        let mut s = Steering::attach(iface, mode)
            .with_context(|| format!("attaching the steering program to {iface}"))?;
        s.update(&rules)?;
        for (i, w) in workers.iter().enumerate() {
            let sock = if side == 0 { &w.rx_sock } else { &w.tx_sock };
            s.set_socket(cli.queue + i as u32, sock.fd())?;
        }
        steering.push(s);
    }
    eprintln!(
        "xvs-fwd: {} → {} queues {}..{} ({} mode, cores {:?}), forwarding to {}",
        cli.in_iface,
        cli.out_iface,
        cli.queue,
        cli.queue + workers.len() as u32 - 1,
        if workers[0].rx_sock.is_zero_copy() {
            "zero-copy"
        } else {
            "copy"
        },
        cli.core,
        fmt_mac(cli.dst_mac)
    );

    let threads: Vec<std::thread::JoinHandle<Result<Worker>>> = workers
        .into_iter()
        .zip(cores)
        .map(|(mut worker, core)| {
            let stop = Arc::clone(&stop);
            let name = format!("fwd-worker-{}", core.unwrap_or(0));
            std::thread::Builder::new()
                .name(name)
                .spawn(move || -> Result<Worker> {
                    if let Some(id) = core {
                        if !core_affinity::set_for_current(core_affinity::CoreId { id }) {
                            return Err(anyhow!("cannot pin to core {id}"));
                        }
                    }
                    worker.run(&stop);
                    Ok(worker)
                })
        })
        .collect::<std::io::Result<_>>()
        .context("starting the forwarding threads")?;
    let mut c = Counts::default();
    let (mut dropped, mut ring_full, mut fill_empty) = (0, 0, 0);
    for t in threads {
        let worker = t
            .join()
            .map_err(|_| anyhow!("a forwarding thread panicked"))??;
        let w = worker.counts;
        c.rx += w.rx;
        c.forwarded += w.forwarded;
        c.not_ipv4 += w.not_ipv4;
        c.tx_ring_full += w.tx_ring_full;
        c.kicks += w.kicks;
        c.stray += w.stray;
        if let Ok(st) = worker.rx_sock.statistics() {
            dropped += st.rx_dropped;
            ring_full += st.rx_ring_full;
            fill_empty += st.rx_fill_ring_empty_descs;
        }
    }
    println!(
        concat!(
            "{{\"rx\":{},\"forwarded\":{},\"not_ipv4\":{},\"tx_ring_full\":{},\"kicks\":{},",
            "\"stray\":{},\"xsk_rx_dropped\":{},\"xsk_rx_ring_full\":{},\"xsk_fill_empty\":{}}}"
        ),
        c.rx,
        c.forwarded,
        c.not_ipv4,
        c.tx_ring_full,
        c.kicks,
        c.stray,
        dropped,
        ring_full,
        fill_empty,
    );
    drop(steering);
    Ok(())
}

/// One worker's UMEM and its sockets on queue `queue` of both interfaces.
fn bind_worker(cli: &Cli, queue: u32, src: [u8; 6]) -> Result<Worker> {
    let umem = Umem::new(cli.frames, FRAME_SIZE).context("allocating the UMEM")?;
    let rx_sock = bind_retrying(|| {
        XskSocket::bind(&umem, None, &cli.in_iface, queue, cli.ring, BindMode::Auto)
    })
    .with_context(|| format!("binding AF_XDP on {} queue {queue}", cli.in_iface))?;
    let tx_sock = bind_retrying(|| {
        XskSocket::bind(
            &umem,
            Some(&rx_sock),
            &cli.out_iface,
            queue,
            cli.ring,
            BindMode::Auto,
        )
    })
    .with_context(|| format!("binding AF_XDP on {} queue {queue}", cli.out_iface))?;
    let pool = FramePool::new(&umem);
    Ok(Worker {
        rx_sock,
        tx_sock,
        umem,
        pool,
        dst: cli.dst_mac,
        src,
        batch: cli.batch,
        lazy_kick: cli.lazy_kick,
        counts: Counts::default(),
    })
}

fn fmt_mac(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_needs_both_interfaces_the_vip_and_a_mac() {
        let cli = Cli::try_parse_from([
            "xvs-fwd",
            "--in",
            "tpc",
            "--out",
            "tpr",
            "--vip",
            "198.18.0.100",
            "--dst-mac",
            "02:00:00:00:01:11",
        ])
        .unwrap();
        assert_eq!(
            (cli.in_iface.as_str(), cli.out_iface.as_str()),
            ("tpc", "tpr")
        );
        assert_eq!(cli.dst_mac, [2, 0, 0, 0, 1, 0x11]);
        assert_eq!((cli.queue, cli.ring, cli.frames), (0, 2048, 4096));
        assert!(
            Cli::try_parse_from(["xvs-fwd", "--in", "a", "--out", "b", "--vip", "1.2.3.4"])
                .is_err()
        );
        assert_eq!(fmt_mac([2, 0, 0, 0, 1, 0x11]), "02:00:00:00:01:11");
    }
}
