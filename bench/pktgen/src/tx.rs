//! The send loop: AF_XDP sockets on one or more TX queues of the interface,
//! sharing one UMEM whose frames all hold a prebuilt packet. Each round,
//! per socket: reap completions, take a batch of free frames, re-aim each
//! at the next flow if it last carried another one (a few bytes and two
//! incremental checksums, `xvs_pktgen::retarget`), put them on the TX ring
//! and kick. In copy mode (veth) the kernel transmits only on a kick,
//! at most 32 frames per `sendto` (TX_BATCH_SIZE in net/xdp/xsk.c), so
//! the loop kicks every round and keeps the ring topped up.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context, Result};
use xvs_pktgen::{retarget, FlowSet, FrameSpec, Pacer};
use xvs_xsk::{BindMode, Desc, FramePool, Umem, XskError, XskSocket};

/// UMEM frame size: the smallest the kernel takes, room for a 1518-byte frame.
const FRAME_SIZE: u32 = 2048;

/// How long to retry a bind the kernel calls busy.
const BIND_RETRY: Duration = Duration::from_secs(3);

/// Bind, retrying while the queue is busy: the kernel releases a closed
/// socket's hold on a queue from a workqueue (net/xdp/xsk_buff_pool.c,
/// xp_release_deferred), so a run started right after another one finds
/// the queue still taken for a moment (EBUSY).
pub fn bind_retrying(
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

/// Socket and memory sizes.
#[derive(Debug, Clone, Copy)]
pub struct TxConfig {
    pub queues: u32,
    pub ring: u32,
    pub frames: u32,
    pub batch: usize,
}

/// What one run transmitted.
#[derive(Debug, Clone, Copy, Default)]
pub struct TxStats {
    /// Frames put on TX rings.
    pub queued: u64,
    /// Frames the kernel handed back on completion rings (transmitted, or
    /// dropped by the device: the interface counters tell which).
    pub completed: u64,
    /// From the start until the last completion came back.
    pub elapsed: Duration,
    /// Rounds in which a TX ring had no room (the kernel was behind).
    pub ring_full_rounds: u64,
}

/// The generator's sockets and memory.
#[derive(Debug)]
pub struct Generator {
    // First: fields drop in declaration order, and the sockets must close
    // before the UMEM they registered is unmapped.
    socks: Vec<XskSocket>,
    umem: Umem,
    pool: FramePool,
    /// Flow index each frame currently holds.
    frame_flow: Vec<u32>,
    spec: FrameSpec,
    flows: FlowSet,
    cfg: TxConfig,
    next_flow: u32,
}

impl Generator {
    /// Bind `cfg.queues` sockets on `iface` and write flow 0's frame into
    /// every UMEM frame.
    pub fn new(iface: &str, spec: FrameSpec, flows: FlowSet, cfg: TxConfig) -> Result<Generator> {
        let template = spec.build(flows.flow(0))?;
        let mut umem = Umem::new(cfg.frames, FRAME_SIZE).context("allocating the UMEM")?;
        let mut socks: Vec<XskSocket> = Vec::new();
        for q in 0..cfg.queues {
            let sock = bind_retrying(|| {
                XskSocket::bind(&umem, socks.first(), iface, q, cfg.ring, BindMode::Auto)
            })
            .with_context(|| format!("binding an AF_XDP socket on {iface} queue {q}"))?;
            socks.push(sock);
        }
        for i in 0..cfg.frames {
            let addr = u64::from(i) * u64::from(FRAME_SIZE);
            let (frame, _) = umem
                .frame_mut(addr)
                .ok_or_else(|| anyhow!("UMEM frame {i} out of range"))?;
            frame[..template.len()].copy_from_slice(&template);
        }
        let pool = FramePool::new(&umem);
        Ok(Generator {
            socks,
            umem,
            pool,
            frame_flow: vec![0; cfg.frames as usize],
            spec,
            flows,
            cfg,
            next_flow: 0,
        })
    }

    pub fn zero_copy(&self) -> bool {
        self.socks.first().is_some_and(XskSocket::is_zero_copy)
    }

    fn reap(&mut self, si: usize) -> u64 {
        let mut done = [0u64; 256];
        let mut total = 0;
        loop {
            let n = self.socks[si].comp.consume(&mut done);
            for &a in &done[..n] {
                self.pool.free(self.umem.chunk_of(a));
            }
            total += n as u64;
            if n < done.len() {
                return total;
            }
        }
    }

    /// Fill `descs` with up to `n` frames, each holding the next flow.
    fn prepare(&mut self, n: usize, descs: &mut Vec<Desc>) -> Result<()> {
        descs.clear();
        let len = self.spec.wire_len() as u32;
        for _ in 0..n {
            let Some(addr) = self.pool.alloc() else { break };
            let idx = (addr / u64::from(FRAME_SIZE)) as usize;
            let want = self.next_flow;
            self.next_flow = (self.next_flow + 1) % self.flows.len();
            if self.frame_flow[idx] != want {
                let (frame, _) = self
                    .umem
                    .frame_mut(addr)
                    .ok_or_else(|| anyhow!("frame {addr:#x} outside the UMEM"))?;
                let from = self.flows.flow(self.frame_flow[idx]);
                retarget(frame, self.spec.l4, from, self.flows.flow(want))?;
                self.frame_flow[idx] = want;
            }
            descs.push(Desc {
                addr,
                len,
                options: 0,
            });
        }
        Ok(())
    }

    /// Transmit for `duration` at `pacer`'s rate, then wait (at most a
    /// second) for the last frames to complete.
    pub fn run(&mut self, duration: Duration, pacer: Pacer) -> Result<TxStats> {
        let mut st = TxStats::default();
        let mut descs = Vec::with_capacity(self.cfg.batch);
        let start = Instant::now();
        let nsocks = self.socks.len();
        let mut si = 0;
        loop {
            let elapsed = start.elapsed();
            if elapsed >= duration {
                break;
            }
            st.completed += self.reap(si);
            let room = self.socks[si].tx.free(self.cfg.batch as u32) as usize;
            if room < self.cfg.batch {
                st.ring_full_rounds += 1;
            }
            let want = room.min(self.cfg.batch).min(self.pool.len());
            let ns = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
            let allowed = pacer.allowance(ns, st.queued, want as u64) as usize;
            if allowed > 0 {
                self.prepare(allowed, &mut descs)?;
                // Fits: `room` slots were free and only we produce.
                let n = self.socks[si].tx.produce(&descs);
                for d in &descs[n..] {
                    self.pool.free(d.addr);
                }
                st.queued += n as u64;
            }
            // Copy mode transmits only inside sendto; zero-copy only when
            // the driver asks.
            let s = &self.socks[si];
            if !s.is_zero_copy() || s.tx.needs_wakeup() {
                s.kick_tx();
            }
            if allowed == 0 && pacer.is_limited() {
                std::hint::spin_loop();
            }
            si = (si + 1) % nsocks;
        }
        let drain_until = Instant::now() + Duration::from_secs(1);
        while st.completed < st.queued && Instant::now() < drain_until {
            for si in 0..nsocks {
                self.socks[si].kick_tx();
                st.completed += self.reap(si);
            }
        }
        st.elapsed = start.elapsed();
        Ok(st)
    }
}

#[cfg(test)]
mod tests {
    //! Root-only: a real AF_XDP generator on a veth whose peer, in a
    //! namespace the test creates, counts what arrives.

    use super::*;
    use std::net::Ipv4Addr;
    use std::process::Command;

    use xvs_pktgen::{Pacer, L4};

    fn sh(args: &[&str]) -> bool {
        Command::new(args[0])
            .args(&args[1..])
            .status()
            .is_ok_and(|s| s.success())
    }

    fn root() -> bool {
        std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                == Some("0")
        })
    }

    struct Veth {
        a: String,
        ns: String,
    }

    impl Drop for Veth {
        fn drop(&mut self) {
            sh(&["ip", "link", "del", &self.a]);
            sh(&["ip", "netns", "del", &self.ns]);
        }
    }

    fn peer_rx(ns: &str) -> u64 {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "cat",
                "/sys/class/net/b/statistics/rx_packets",
            ])
            .output()
            .expect("ip netns exec");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(0)
    }

    #[test]
    fn every_queued_frame_completes_and_reaches_the_peer() {
        if !root() {
            eprintln!("SKIP every_queued_frame_completes_and_reaches_the_peer: needs root (AF_XDP, netns)");
            return;
        }
        let id = std::process::id();
        let v = Veth {
            a: format!("pg{id}a"),
            ns: format!("pg{id}"),
        };
        let ok = sh(&["ip", "netns", "add", &v.ns])
            && sh(&[
                "ip", "link", "add", &v.a, "type", "veth", "peer", "name", "b", "netns", &v.ns,
            ])
            && sh(&["ip", "link", "set", "dev", &v.a, "up"])
            // `dev` spelled out: a bare "b" would abbreviate `broadcast`.
            && sh(&["ip", "-n", &v.ns, "link", "set", "dev", "b", "up"]);
        assert!(
            ok,
            "root, yet the test's netns and veth could not be created"
        );
        let spec = FrameSpec {
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            dst: Ipv4Addr::new(198, 18, 0, 100),
            dport: 9,
            l4: L4::Udp,
            size: 64,
        };
        // More flows than UMEM frames, so frames are re-aimed as they cycle.
        let flows = FlowSet::new(Ipv4Addr::new(198, 18, 0, 10), 3, 1024, 300).unwrap();
        let cfg = TxConfig {
            queues: 1,
            ring: 64,
            frames: 128,
            batch: 16,
        };
        let mut g = Generator::new(&v.a, spec, flows, cfg).expect("bind AF_XDP on the veth");
        assert!(!g.zero_copy(), "veth has no zero-copy");
        let before = peer_rx(&v.ns);
        let st = g
            .run(Duration::from_millis(300), Pacer::new(20_000))
            .unwrap();
        assert!(st.queued > 0);
        assert_eq!(
            st.completed, st.queued,
            "every frame comes back on the completion ring"
        );
        // The pacer never runs ahead of the target rate (plus one batch).
        let allowed = 20_000.0 * st.elapsed.as_secs_f64() + cfg.batch as f64;
        assert!((st.queued as f64) <= allowed, "{st:?}");
        assert_eq!(
            g.pool.len(),
            cfg.frames as usize,
            "all frames back in the pool"
        );
        assert!(
            peer_rx(&v.ns) >= before + st.completed,
            "the peer received every frame"
        );
        // Frames carry the flow they were last re-aimed to, checksums intact.
        for (i, &f) in g.frame_flow.iter().enumerate() {
            let addr = i as u64 * u64::from(FRAME_SIZE);
            let (frame, _) = g.umem.frame_mut(addr).unwrap();
            let expect = spec.build(flows.flow(f)).unwrap();
            assert_eq!(&frame[..expect.len()], &expect[..], "frame {i}");
        }
    }
}
