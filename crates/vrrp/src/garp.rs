//! Gratuitous ARP / unsolicited NA after becoming master (keepalived
//! `vrrp_state_become_master`, `vrrp_gratuitous_arp_thread`,
//! `vrrp_gratuitous_arp_refresh_thread`; REFERENCE §8.4 "Becoming
//! master"): `garp_master_repeat` at once, as many again after
//! `garp_master_delay` (unless 0), then `garp_master_refresh_repeat` every
//! `garp_master_refresh` from `delay + refresh` on. Cancelled when the
//! instance leaves MASTER.

use std::time::{Duration, Instant};

use xvs_config::GarpSettings;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The second burst, `garp_master_delay` after becoming master.
    Delayed,
    /// The periodic refresh.
    Refresh,
}

/// The announcement schedule of one master.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Garp {
    next: Option<(Instant, Phase)>,
}

fn refresh(settings: &GarpSettings) -> Option<Duration> {
    settings.master_refresh.filter(|r| !r.is_zero())
}

impl Garp {
    /// Becoming master at `now`: returns the schedule and how many
    /// announcements to make at once.
    pub(crate) fn start(settings: &GarpSettings, now: Instant) -> (Garp, u32) {
        let next = if !settings.master_delay.is_zero() {
            Some((now + settings.master_delay, Phase::Delayed))
        } else {
            // keepalived starts the refresh timer at delay + refresh either way.
            refresh(settings).map(|r| (now + r, Phase::Refresh))
        };
        (Garp { next }, settings.master_repeat)
    }

    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.next.map(|(at, _)| at)
    }

    pub(crate) fn cancel(&mut self) {
        self.next = None;
    }

    /// The timer fired at `now` (≥ its deadline): how many to announce.
    pub(crate) fn fire(&mut self, settings: &GarpSettings, now: Instant) -> u32 {
        let Some((at, phase)) = self.next else {
            return 0;
        };
        if now < at {
            return 0;
        }
        match phase {
            Phase::Delayed => {
                // The refresh timer was started with the first burst at
                // delay + refresh, that is `refresh` from the second burst.
                self.next = refresh(settings).map(|r| (at + r, Phase::Refresh));
                settings.master_repeat
            }
            Phase::Refresh => {
                self.next = refresh(settings).map(|r| (now + r, Phase::Refresh));
                settings.master_refresh_repeat
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_with_delay_and_refresh() {
        let t0 = Instant::now();
        let s = GarpSettings {
            master_delay: Duration::from_secs(5),
            master_repeat: 3,
            master_refresh: Some(Duration::from_secs(60)),
            master_refresh_repeat: 2,
        };
        let (mut g, now) = Garp::start(&s, t0);
        assert_eq!(now, 3);
        assert_eq!(g.deadline(), Some(t0 + Duration::from_secs(5)));
        assert_eq!(g.fire(&s, t0 + Duration::from_secs(4)), 0);
        assert_eq!(g.fire(&s, t0 + Duration::from_secs(5)), 3);
        assert_eq!(g.deadline(), Some(t0 + Duration::from_secs(65)));
        assert_eq!(g.fire(&s, t0 + Duration::from_secs(65)), 2);
        assert_eq!(g.deadline(), Some(t0 + Duration::from_secs(125)));
        g.cancel();
        assert_eq!(g.deadline(), None);
    }

    #[test]
    fn no_delay_no_refresh_is_one_burst() {
        let t0 = Instant::now();
        let s = GarpSettings {
            master_delay: Duration::ZERO,
            master_repeat: 5,
            master_refresh: None,
            master_refresh_repeat: 1,
        };
        let (g, n) = Garp::start(&s, t0);
        assert_eq!((g.deadline(), n), (None, 5));
        let s = GarpSettings {
            master_refresh: Some(Duration::from_secs(10)),
            ..s
        };
        let (g, _) = Garp::start(&s, t0);
        assert_eq!(g.deadline(), Some(t0 + Duration::from_secs(10)));
    }
}
