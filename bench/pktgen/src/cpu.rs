//! CPU time spent by the forwarder, to turn a packet count into packets per
//! CPU-second: on a shared machine the wall-clock rate depends on how much
//! of its core a forwarder got, the rate per CPU-second much less.
//!
//! Two sources: a thread's run time (`/proc/TID/schedstat`, first field, in
//! nanoseconds — for a busy-polling worker this includes the softirq work
//! its `sendto` kicks run inline, as this kernel has no
//! IRQ_TIME_ACCOUNTING), and a core's time by kind (`/proc/stat` `cpuN`
//! line, in USER_HZ ticks) for forwarding done in softirq, where no thread
//! owns it (the kernel baseline). These are their parsers.

/// USER_HZ: the unit of /proc/stat, 100 on every Linux architecture's ABI
/// (include/asm-generic/param.h).
pub const USER_HZ: f64 = 100.0;

/// Run time in nanoseconds from a schedstat line
/// (`<run ns> <run-delay ns> <timeslices>`).
pub fn parse_schedstat(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// One core's times, in ticks, by the /proc/stat columns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CpuTimes {
    pub user: u64,
    pub nice: u64,
    pub system: u64,
    pub idle: u64,
    pub iowait: u64,
    pub irq: u64,
    pub softirq: u64,
    pub steal: u64,
}

impl CpuTimes {
    /// Field-wise `self - before` (saturating: counters only grow).
    pub fn since(&self, before: &CpuTimes) -> CpuTimes {
        CpuTimes {
            user: self.user.saturating_sub(before.user),
            nice: self.nice.saturating_sub(before.nice),
            system: self.system.saturating_sub(before.system),
            idle: self.idle.saturating_sub(before.idle),
            iowait: self.iowait.saturating_sub(before.iowait),
            irq: self.irq.saturating_sub(before.irq),
            softirq: self.softirq.saturating_sub(before.softirq),
            steal: self.steal.saturating_sub(before.steal),
        }
    }
}

/// The `cpu{core}` line of /proc/stat.
pub fn parse_proc_stat(text: &str, core: usize) -> Option<CpuTimes> {
    let label = format!("cpu{core}");
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(label.as_str()))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    let at = |i: usize| v.get(i).copied();
    Some(CpuTimes {
        user: at(0)?,
        nice: at(1)?,
        system: at(2)?,
        idle: at(3)?,
        iowait: at(4)?,
        irq: at(5)?,
        softirq: at(6)?,
        // Older kernels have no steal column.
        steal: at(7).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_gives_the_run_time() {
        assert_eq!(parse_schedstat("177065 3706175 3\n"), Some(177_065));
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn proc_stat_lines_by_core() {
        let text = "\
cpu  441644 0 53524 469911 2036 0 27230 1907 0 0
cpu0 219380 0 22123 244467 524 0 10583 957 0 0
cpu1 222263 0 31400 225443 1511 0 16647 949 0 0
intr 1 2 3
";
        let c1 = parse_proc_stat(text, 1).unwrap();
        assert_eq!(
            (c1.user, c1.system, c1.softirq, c1.steal),
            (222_263, 31_400, 16_647, 949)
        );
        assert_eq!(parse_proc_stat(text, 0).unwrap().idle, 244_467);
        assert_eq!(parse_proc_stat(text, 2), None, "no such core");
        let later = CpuTimes {
            softirq: 16_700,
            ..c1
        };
        assert_eq!(later.since(&c1).softirq, 53);
        assert_eq!(c1.since(&later).softirq, 0);
    }
}
