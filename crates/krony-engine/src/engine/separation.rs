//! Spacing the transmissions of different sources, as chrony's scheduler
//! does with its timeout classes (`SCH_AddTimeoutInClass`): client requests
//! form one class, symmetric packets another. When a source's transmission
//! timer restarts, its deadline is moved so that it keeps the source's
//! sampling separation from the other pending transmissions of its class
//! and from the last transmission of the class. Timers already scheduled do
//! not move. The sources so never send within microseconds of each other
//! (which would make their requests queue behind each other on the way),
//! and a server with many clients sees their requests spread out.

use crate::UnixTime;
use crate::source::{Association, TimerRestart};
use crate::stats::adjust_time;

use super::Engine;

/// The last transmission of each class of timers, on the corrected time
/// scale (chrony's `last_class_dispatch`).
#[derive(Debug, Clone, Default)]
pub(super) struct Dispatches {
    client: Option<UnixTime>,
    peer: Option<UnixTime>,
}

impl Dispatches {
    fn of(&mut self, assoc: Association) -> &mut Option<UnixTime> {
        match assoc {
            Association::Client => &mut self.client,
            Association::SymmetricActive => &mut self.peer,
        }
    }

    /// Re-expresses the times after a clock change, as the sources'
    /// deadlines are.
    pub(super) fn slew(&mut self, when: UnixTime, dfreq: f64, doffset: f64) {
        for t in [&mut self.client, &mut self.peer].into_iter().flatten() {
            *t = adjust_time(*t, when, dfreq, doffset).0;
        }
    }
}

/// The delay after `r.now` that keeps `r.separation` from the class's last
/// transmission at `last` and from the pending transmissions `others` (in
/// any order): the restarted timer goes into the first gap that is wide
/// enough, never earlier than `r.delay`.
pub(super) fn separated_delay(
    r: &TimerRestart,
    last: Option<UnixTime>,
    others: &[UnixTime],
) -> f64 {
    let sep = r.separation;
    let mut delay = r.delay;
    if let Some(last) = last {
        let since = r.now.diff_secs(last);
        if (0.0..sep).contains(&since) && since + delay < sep {
            delay = sep - since;
        }
    }
    let mut pending: Vec<f64> = others.iter().map(|t| t.diff_secs(r.now)).collect();
    pending.sort_by(f64::total_cmp);
    for at in pending {
        if (delay - at).abs() < sep {
            delay = at + sep;
        }
    }
    delay
}

impl Engine {
    /// Notes that a source's transmission timer fires at `now` (corrected).
    pub(super) fn record_dispatch(&mut self, assoc: Association, now: UnixTime) {
        *self.dispatches.of(assoc) = Some(now);
    }

    /// Spaces every restarted transmission timer from the others of its
    /// class, in the order of the sources.
    pub(super) fn separate_timers(&mut self) {
        let restarted: Vec<_> = self
            .sources
            .iter_mut()
            .filter_map(|(id, s)| s.source.take_timer_restart().map(|r| (*id, r)))
            .collect();
        for (n, (id, r)) in restarted.iter().enumerate() {
            let Some(assoc) = self.sources.get(id).map(|s| s.source.association()) else {
                continue;
            };
            // Timers restarted at the same moment but not yet placed count
            // as not scheduled yet (chrony adds them one after another).
            let later = &restarted[n + 1..];
            let others: Vec<UnixTime> = self
                .sources
                .iter()
                .filter(|(other, s)| {
                    *other != id
                        && s.source.association() == assoc
                        && !later.iter().any(|(l, _)| l == *other)
                })
                .filter_map(|(_, s)| s.source.transmit_at())
                .collect();
            let last = *self.dispatches.of(assoc);
            let delay = separated_delay(r, last, &others);
            if delay > r.delay {
                if let Some(slot) = self.sources.get_mut(id) {
                    slot.source.postpone_transmit(r.now.add_secs(delay));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> UnixTime {
        UnixTime::from_secs_nanos(1_000_000, 0).add_secs(s)
    }

    fn restart(now: f64, delay: f64) -> TimerRestart {
        TimerRestart {
            now: t(now),
            delay,
            separation: 0.2,
        }
    }

    #[test]
    fn alone_keeps_its_delay() {
        assert_eq!(separated_delay(&restart(0.0, 64.0), None, &[]), 64.0);
    }

    #[test]
    fn keeps_separation_from_the_last_transmission() {
        // Restarted 0.05 s after another source sent, with no delay.
        let d = separated_delay(&restart(0.05, 0.0), Some(t(0.0)), &[]);
        assert!((d - 0.15).abs() < 1e-9, "{d}");
        // A delay that already keeps it is not changed.
        assert_eq!(separated_delay(&restart(0.05, 0.2), Some(t(0.0)), &[]), 0.2);
        // A transmission long ago does not matter.
        assert_eq!(separated_delay(&restart(5.0, 0.0), Some(t(0.0)), &[]), 0.0);
    }

    #[test]
    fn moves_past_pending_transmissions_into_a_wide_enough_gap() {
        // Pending at 0.2, 0.35 and 1.0: 0.2 +- 0.2 and 0.35 +- 0.2 are
        // taken, the gap between 0.55 and 0.8 is wide enough.
        let others = [t(1.0), t(0.2), t(0.35)];
        let d = separated_delay(&restart(0.0, 0.2), None, &others);
        assert!((d - 0.55).abs() < 1e-9, "{d}");
        // Started together, the sources of a configuration are spaced.
        let d = separated_delay(&restart(0.0, 0.2), None, &[t(0.2)]);
        assert!((d - 0.4).abs() < 1e-9, "{d}");
        // A pending transmission far enough does not matter.
        assert_eq!(separated_delay(&restart(0.0, 64.0), None, &[t(0.2)]), 64.0);
    }
}
