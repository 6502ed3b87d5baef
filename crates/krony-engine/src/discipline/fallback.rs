//! `fallbackdrift MIN MAX` (chrony's fallback drifts in `reference.c`):
//! moving averages of the clock's frequency over 2^MIN .. 2^MAX seconds,
//! kept while synchronised. When updates stop, the clock is set to the
//! average over 2^i seconds once it has been unsynchronised for 2^i
//! seconds, the longest average winning as time goes on.

use crate::UnixTime;

/// Largest usable `MAX` (2^30 s is 34 years; bigger would overflow).
const MAX_LOG2: i32 = 30;

/// One moving average.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Drift {
    /// Average frequency error, ppm.
    freq: f64,
    /// Seconds covered so far (the average becomes exponential once it
    /// covers its interval).
    secs: f64,
}

/// The fallback drifts and the timer that applies the next one.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FallbackDrifts {
    min: i32,
    drifts: Vec<Drift>,
    /// The interval (log2 s) applied or scheduled next; 0 for none.
    next: i32,
    /// When that one is due (raw time).
    timer: Option<UnixTime>,
    /// The previous reference update interval, seconds.
    prev_interval: f64,
}

impl FallbackDrifts {
    /// The drifts of `fallbackdrift min max`; `None` unless 0 < min <= max.
    pub(crate) fn new(min: i32, max: i32) -> Option<Self> {
        let max = max.min(MAX_LOG2);
        if min <= 0 || max < min {
            return None;
        }
        Some(FallbackDrifts {
            min,
            drifts: vec![Drift::default(); (max - min + 1) as usize],
            next: 0,
            timer: None,
            prev_interval: 0.0,
        })
    }

    fn secs(i: i32) -> f64 {
        f64::from(1u32 << i)
    }

    /// A reference update `interval` seconds after the previous one, at the
    /// frequency error `freq_ppm`: the averages move when synchronised and
    /// the interval is regular (at least 1 s, at most four times the
    /// previous one), and a pending fallback is cancelled.
    pub(crate) fn note_update(&mut self, synchronised: bool, freq_ppm: f64, interval: f64) {
        let prev = std::mem::replace(&mut self.prev_interval, interval);
        if !synchronised {
            return;
        }
        self.next = 0;
        self.timer = None;
        if !(1.0..=prev * 4.0).contains(&interval) {
            return;
        }
        for (i, d) in (self.min..).zip(self.drifts.iter_mut()) {
            let secs = Self::secs(i);
            if d.secs < secs {
                // A plain average over twice the interval first.
                let w = interval * 0.5;
                d.freq = (d.freq * d.secs + w * freq_ppm) / (w + d.secs);
                d.secs += w;
            } else {
                d.freq += (1.0 - (-interval / secs).exp()) * (freq_ppm - d.freq);
            }
        }
    }

    /// After an update or loss of synchronisation, `unsynchronised` seconds
    /// after the last update at raw time `now`: returns the frequency to
    /// set now, if a longer average is due, and arms the timer for the
    /// next one.
    pub(crate) fn schedule(&mut self, now: UnixTime, unsynchronised: f64) -> Option<f64> {
        if self.timer.is_some() {
            return None;
        }
        let max = self.min + self.drifts.len() as i32 - 1;
        let (mut chosen, mut pending) = (0, None);
        for i in self.min..=max {
            let secs = Self::secs(i);
            if self.drift(i).secs < secs {
                continue;
            }
            if unsynchronised < secs && i > self.next {
                pending = Some((i, secs));
                break;
            }
            chosen = i;
        }
        let mut set = None;
        if chosen > self.next {
            set = Some(self.drift(chosen).freq);
            self.next = chosen;
        }
        if let Some((i, secs)) = pending {
            self.next = i;
            self.timer = Some(now.add_secs(secs - unsynchronised));
        }
        set
    }

    fn drift(&self, i: i32) -> Drift {
        usize::try_from(i - self.min)
            .ok()
            .and_then(|k| self.drifts.get(k).copied())
            .unwrap_or_default()
    }

    /// When the next fallback is due.
    pub(crate) fn poll_timeout(&self) -> Option<UnixTime> {
        self.timer
    }

    /// The frequency to set if the timer is due at `now` (then the
    /// reference becomes unsynchronised, which schedules the next one).
    pub(crate) fn take_due(&mut self, now: UnixTime) -> Option<f64> {
        if self.timer.is_none_or(|t| t > now) {
            return None;
        }
        self.timer = None;
        Some(self.drift(self.next).freq)
    }

    /// The raw clock was stepped by `shift` seconds.
    pub(crate) fn shift(&mut self, shift: f64) {
        self.timer = self.timer.map(|t| t.add_secs(shift));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: UnixTime = UnixTime::from_secs_nanos(1_700_000_000, 0);

    #[test]
    fn invalid_ranges_disable_it() {
        assert!(FallbackDrifts::new(0, 4).is_none());
        assert!(FallbackDrifts::new(5, 4).is_none());
        assert!(FallbackDrifts::new(2, 40).is_some_and(|f| f.drifts.len() == 29));
    }

    #[test]
    fn averages_then_falls_back_longest_last() {
        // 2^4 = 16 s and 2^6 = 64 s averages, updates every 8 s.
        let mut fb = FallbackDrifts::new(4, 6).expect("valid");
        fb.note_update(true, 0.0, 8.0);
        for k in 0..40 {
            // The frequency error rises from 10 to about 14 ppm.
            fb.note_update(true, 10.0 + 0.1 * f64::from(k), 8.0);
        }
        let (short, long) = (fb.drift(4).freq, fb.drift(6).freq);
        assert!(short > long && long > 10.0, "{short} {long}");
        // Updates stop: after 16 s the 16 s average, after 64 s the 64 s one.
        assert_eq!(fb.schedule(T, 0.0), None);
        assert_eq!(fb.poll_timeout(), Some(T.add_secs(16.0)));
        assert_eq!(fb.take_due(T.add_secs(15.0)), None);
        assert_eq!(fb.take_due(T.add_secs(16.0)), Some(short));
        assert_eq!(fb.schedule(T.add_secs(16.0), 16.0), None);
        assert_eq!(fb.poll_timeout(), Some(T.add_secs(32.0)), "the 32 s one");
        assert_eq!(fb.take_due(T.add_secs(32.0)), Some(fb.drift(5).freq));
        assert_eq!(fb.schedule(T.add_secs(32.0), 32.0), None);
        assert_eq!(fb.take_due(T.add_secs(64.0)), Some(long));
        assert_eq!(fb.schedule(T.add_secs(64.0), 64.0), None);
        assert_eq!(fb.poll_timeout(), None, "nothing longer");
        // A new update cancels the fallback state.
        fb.note_update(true, 12.0, 8.0);
        assert_eq!(fb.next, 0);
    }

    #[test]
    fn irregular_intervals_do_not_count() {
        let mut fb = FallbackDrifts::new(4, 4).expect("valid");
        fb.note_update(true, 5.0, 8.0);
        fb.note_update(true, 5.0, 100.0);
        fb.note_update(true, 5.0, 0.5);
        fb.note_update(false, 5.0, 8.0);
        assert_eq!(fb.drift(4).secs, 0.0);
        fb.note_update(true, 5.0, 8.0);
        assert_eq!(fb.drift(4).secs, 4.0);
        // Not enough history for 16 s yet: nothing scheduled.
        assert_eq!(fb.schedule(T, 0.0), None);
        assert_eq!(fb.poll_timeout(), None);
    }

    #[test]
    fn a_late_start_applies_the_longest_average_at_once() {
        let mut fb = FallbackDrifts::new(4, 5).expect("valid");
        fb.note_update(true, 1.0, 8.0);
        for _ in 0..20 {
            fb.note_update(true, 3.0, 8.0);
        }
        // Unsynchronised for 40 s already: the 32 s average applies now.
        let set = fb.schedule(T, 40.0).expect("set now");
        assert!((set - fb.drift(5).freq).abs() < 1e-12);
        assert_eq!(fb.poll_timeout(), None);
    }
}
