//! Tracking of a NIC's PTP hardware clock (PHC) against the system clock,
//! to turn hardware timestamps into system time (chrony's `hwclock.c`).
//!
//! The driver reads the PHC between two readings of the system clock
//! several times in a row (`PTP_SYS_OFFSET`). [`HwClock::process_readings`]
//! combines the readings with the shortest delays into one sample (the PHC
//! time and the system time at the midpoint, with half the delay as its
//! error); [`HwClock::accumulate`] adds it to a least-squares fit of PHC
//! time against system time over the last `maxsamples` samples; and
//! [`HwClock::cook`] maps a hardware timestamp to system time through the
//! fit.
//!
//! A sample the fit does not pass within its error, a fit whose frequency
//! is implausible, or a clock going backwards restarts the tracking from
//! scratch.
//!
//! The daemon changes the system clock's rate (frequency corrections,
//! slews) and steps it. A PHC tracked against system time directly would
//! see its line bend at every correction, so the tracking is against the
//! system clock's free-running oscillator instead ([`FreeRunning`]: system
//! time with every correction the daemon made taken out), on which the PHC
//! runs at a steady rate. (chrony tracks against its cooked time and
//! divides intervals by its absolute frequency, to the same end.)
//!
//! Pure: the caller passes every reading and time in.

use std::collections::VecDeque;

use krony_wire::UnixTime;

/// Fewest samples of a fit (a line needs two points).
const MIN_SAMPLES: usize = 2;
/// Most samples kept.
const MAX_SAMPLES: usize = 64;
/// A PHC running faster or slower than the system clock by more than
/// this fraction is broken or was stepped: restart.
const MAX_FREQ_OFFSET: f64 = 0.001;
/// Readings whose delay exceeds the shortest one by more than this
/// fraction of it (or by the precision, whichever is larger) are not
/// combined.
const DELAY_WINDOW: f64 = 0.2;

/// One reading: the system clock, the PHC, the system clock again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PhcReading {
    /// System time before the PHC was read.
    pub sys_before: UnixTime,
    /// The PHC's time.
    pub phc: UnixTime,
    /// System time after.
    pub sys_after: UnixTime,
}

/// Settings from a `hwtimestamp` line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HwClockConfig {
    /// `minsamples` (at least 2).
    pub min_samples: usize,
    /// `maxsamples` (at least `min_samples`).
    pub max_samples: usize,
    /// Seconds between samples (2^`minpoll`).
    pub min_separation: f64,
    /// `precision`: the smallest error of a sample, seconds.
    pub precision: f64,
}

impl HwClockConfig {
    /// The settings of a `hwtimestamp` line, clamped as chrony clamps
    /// them.
    pub fn from_directive(h: &krony_config::HwTimestamp) -> Self {
        let min = (h.minsamples as usize).clamp(MIN_SAMPLES, MAX_SAMPLES);
        let max = (h.maxsamples as usize)
            .clamp(MIN_SAMPLES, MAX_SAMPLES)
            .max(min);
        HwClockConfig {
            min_samples: min,
            max_samples: max,
            min_separation: 2f64.powi(i32::from(h.minpoll.clamp(-6, 20))),
            precision: h.precision,
        }
    }
}

/// A sample made of combined readings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Combined {
    /// PHC time.
    pub hw: UnixTime,
    /// System time at the same instant.
    pub local: UnixTime,
    /// Its error, seconds.
    pub err: f64,
    /// How many readings were combined.
    pub readings: usize,
    /// The delay window used, seconds.
    pub window: (f64, f64),
}

/// The tracking of one PHC.
#[derive(Debug, Clone)]
pub struct HwClock {
    cfg: HwClockConfig,
    /// (system, PHC) times of the samples relative to the newest one,
    /// seconds, oldest first.
    samples: VecDeque<(f64, f64)>,
    hw_ref: UnixTime,
    local_ref: UnixTime,
    /// The fit: PHC seconds per system second, and the PHC offset from the
    /// fit at the newest sample.
    fit: Option<(f64, f64)>,
    last_err: f64,
}

impl HwClock {
    /// A clock with no samples.
    pub fn new(cfg: HwClockConfig) -> Self {
        HwClock {
            cfg,
            samples: VecDeque::new(),
            hw_ref: UnixTime::EPOCH,
            local_ref: UnixTime::EPOCH,
            fit: None,
            last_err: 0.0,
        }
    }

    /// Whether the PHC should be read at system time `now`: no sample yet,
    /// or the last one is at least the minimum separation old.
    pub fn needs_sample(&self, now: UnixTime) -> bool {
        self.samples.is_empty() || now.diff_secs(self.local_ref).abs() >= self.cfg.min_separation
    }

    /// Combines readings into a sample: those whose delay is within the
    /// window above the shortest, averaged. `None` if there are none or a
    /// delay is negative (the system clock was stepped during a reading).
    pub fn process_readings(&self, readings: &[PhcReading]) -> Option<Combined> {
        let delay = |r: &PhcReading| r.sys_after.diff_secs(r.sys_before);
        let first = readings.first()?;
        if readings.iter().any(|r| delay(r) < 0.0) {
            return None;
        }
        let min = readings.iter().map(delay).fold(f64::INFINITY, f64::min);
        let high = min + (min * DELAY_WINDOW).max(self.cfg.precision);
        let (mut n, mut hw, mut local, mut delays) = (0usize, 0.0, 0.0, 0.0);
        for r in readings.iter().filter(|r| delay(r) <= high) {
            n += 1;
            hw += r.phc.diff_secs(first.phc);
            local += r.sys_before.diff_secs(first.sys_before) + delay(r) / 2.0;
            delays += delay(r);
        }
        let k = n as f64;
        Some(Combined {
            hw: first.phc.add_secs(hw / k),
            local: first.sys_before.add_secs(local / k),
            err: (delays / k / 2.0).max(self.cfg.precision),
            readings: n,
            window: (min, high),
        })
    }

    /// Adds a sample (`local` on the free-running scale) and refits.
    /// Returns whether the clock can convert timestamps now.
    pub fn accumulate(&mut self, hw: UnixTime, local: UnixTime, err: f64) -> bool {
        if !self.samples.is_empty() {
            let hw_delta = hw.diff_secs(self.hw_ref);
            let local_delta = local.diff_secs(self.local_ref);
            if hw_delta <= 0.0 || local_delta < self.cfg.min_separation / 2.0 {
                self.samples.clear();
            }
            for s in &mut self.samples {
                s.0 -= local_delta;
                s.1 -= hw_delta;
            }
            while self.samples.len() >= self.cfg.max_samples {
                self.samples.pop_front();
            }
        }
        self.samples.push_back((0.0, 0.0));
        self.hw_ref = hw;
        self.local_ref = local;
        self.last_err = err;
        self.fit = line(&self.samples);
        if let Some((freq, offset)) = self.fit {
            if offset.abs() > err || (freq - 1.0).abs() > MAX_FREQ_OFFSET {
                self.samples.clear();
                self.fit = None;
            }
        }
        self.fit.is_some() && self.samples.len() >= self.cfg.min_samples
    }

    /// The time of the hardware timestamp `hw` on the scale of the
    /// samples, with the error of the last sample; `None` until the
    /// tracking works.
    pub fn cook(&self, hw: UnixTime) -> Option<(UnixTime, f64)> {
        let (freq, offset) = self.fit?;
        if self.samples.len() < self.cfg.min_samples {
            return None;
        }
        let elapsed = hw.diff_secs(self.hw_ref);
        let local = (elapsed - offset) / freq;
        Some((self.local_ref.add_secs(local), self.last_err))
    }

    /// The fit's frequency (PHC seconds per free-running system second),
    /// if any.
    pub fn frequency(&self) -> Option<f64> {
        self.fit.map(|f| f.0)
    }

    /// Samples in the fit.
    pub fn samples(&self) -> usize {
        self.samples.len()
    }
}

/// The system clock's free-running time: system time with the daemon's
/// corrections taken out. It is anchored at the last correction: system
/// time `sys_anchor` is free-running time `free_anchor`, and since then the
/// system clock has run at `rate` (system seconds per free-running second,
/// 1 + the frequency correction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FreeRunning {
    sys_anchor: UnixTime,
    free_anchor: UnixTime,
    rate: f64,
}

impl Default for FreeRunning {
    fn default() -> Self {
        FreeRunning {
            sys_anchor: UnixTime::EPOCH,
            free_anchor: UnixTime::EPOCH,
            rate: 1.0,
        }
    }
}

impl FreeRunning {
    /// The free-running time of system time `sys` (after the last change).
    pub fn to_free(&self, sys: UnixTime) -> UnixTime {
        self.free_anchor
            .add_secs(sys.diff_secs(self.sys_anchor) / self.rate)
    }

    /// The system time of free-running time `free`.
    pub fn to_sys(&self, free: UnixTime) -> UnixTime {
        self.sys_anchor
            .add_secs(free.diff_secs(self.free_anchor) * self.rate)
    }

    /// The system clock runs at `rate` from system time `now` on.
    pub fn set_rate(&mut self, now: UnixTime, rate: f64) {
        if !(rate.is_finite() && rate > 0.0) {
            return;
        }
        self.free_anchor = self.to_free(now);
        self.sys_anchor = now;
        self.rate = rate;
    }

    /// The system clock was stepped by `offset` seconds.
    pub fn step(&mut self, offset: f64) {
        self.sys_anchor = self.sys_anchor.add_secs(offset);
    }
}

/// Least-squares line y = b + a x through the points; (a, b at x = 0).
fn line(points: &VecDeque<(f64, f64)>) -> Option<(f64, f64)> {
    let n = points.len();
    if n < MIN_SAMPLES {
        return None;
    }
    let k = n as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x / k, sy + y / k));
    let (mut sxx, mut sxy) = (0.0, 0.0);
    for (x, y) in points {
        sxx += (x - mx) * (x - mx);
        sxy += (x - mx) * (y - my);
    }
    if sxx <= 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let intercept = my - slope * mx;
    (slope.is_finite() && intercept.is_finite()).then_some((slope, intercept))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> HwClockConfig {
        HwClockConfig {
            min_samples: 2,
            max_samples: 16,
            min_separation: 1.0,
            precision: 100e-9,
        }
    }

    /// A PHC `offset` seconds ahead of the system clock, running `ppm`
    /// fast, read at system time `t` with `delay` between the system
    /// readings.
    fn reading(t: f64, offset: f64, ppm: f64, delay: f64) -> PhcReading {
        let base = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mid = t + delay / 2.0;
        PhcReading {
            sys_before: base.add_secs(t),
            phc: base.add_secs(mid + offset + mid * ppm * 1e-6),
            sys_after: base.add_secs(t + delay),
        }
    }

    #[test]
    fn readings_with_short_delays_are_combined() {
        let c = HwClock::new(cfg());
        let r = [
            reading(0.0, 37.0, 0.0, 2e-6),
            reading(1e-5, 37.0, 0.0, 1e-6),
            reading(2e-5, 37.0, 0.0, 50e-6),
            reading(3e-5, 37.0, 0.0, 1.1e-6),
        ];
        let s = c.process_readings(&r).expect("sample");
        assert_eq!(s.readings, 2, "the 2 us and 50 us readings are left out");
        assert!((s.hw.diff_secs(s.local) - 37.0).abs() < 1e-9);
        assert!((s.err - 0.525e-6).abs() < 1e-12);
        let stepped = [PhcReading {
            sys_after: r[0].sys_before.add_secs(-1.0),
            ..r[0]
        }];
        assert!(c.process_readings(&stepped).is_none());
        assert!(c.process_readings(&[]).is_none());
    }

    #[test]
    fn converts_timestamps_of_a_fast_phc() {
        let mut c = HwClock::new(cfg());
        assert!(c.needs_sample(UnixTime::EPOCH));
        let mut ok = false;
        for i in 0..10 {
            let s = c
                .process_readings(&[reading(f64::from(i), 37.0, 20.0, 1e-6)])
                .expect("sample");
            ok = c.accumulate(s.hw, s.local, s.err);
        }
        assert!(ok);
        assert!((c.frequency().expect("fit") - 1.0 - 20e-6).abs() < 1e-9);
        // A hardware timestamp taken at system time 12.5 s.
        let t = 12.5;
        let hw = reading(t, 37.0, 20.0, 0.0).phc;
        let (local, err) = c.cook(hw).expect("tracking");
        assert!((local.diff_secs(reading(t, 0.0, 0.0, 0.0).sys_before)).abs() < 1e-9);
        assert_eq!(err, 0.5e-6);
        assert!(!c.needs_sample(reading(9.5, 0.0, 0.0, 0.0).sys_before));
        assert!(c.needs_sample(reading(10.5, 0.0, 0.0, 0.0).sys_before));
        assert_eq!(c.samples(), 10);
    }

    #[test]
    fn a_phc_step_restarts_the_tracking() {
        let mut c = HwClock::new(cfg());
        for i in 0..5 {
            let s = c
                .process_readings(&[reading(f64::from(i), 1.0, 0.0, 1e-6)])
                .expect("sample");
            c.accumulate(s.hw, s.local, s.err);
        }
        assert!(c.cook(reading(5.0, 1.0, 0.0, 0.0).phc).is_some());
        // The PHC jumps by 1 ms: the fit misses the new sample.
        let s = c
            .process_readings(&[reading(5.0, 1.001, 0.0, 1e-6)])
            .expect("sample");
        assert!(!c.accumulate(s.hw, s.local, s.err));
        assert!(c.cook(s.hw).is_none());
        // It tracks again once two new samples make a line.
        let s = c
            .process_readings(&[reading(6.0, 1.001, 0.0, 1e-6)])
            .expect("sample");
        assert!(!c.accumulate(s.hw, s.local, s.err));
        let s = c
            .process_readings(&[reading(7.0, 1.001, 0.0, 1e-6)])
            .expect("sample");
        assert!(c.accumulate(s.hw, s.local, s.err));
        let (local, _) = c.cook(reading(7.5, 1.001, 0.0, 0.0).phc).expect("tracking");
        assert!(
            local
                .diff_secs(reading(7.5, 0.0, 0.0, 0.0).sys_before)
                .abs()
                < 1e-9
        );
    }

    #[test]
    fn old_samples_are_dropped_and_close_samples_restart() {
        let mut c = HwClock::new(HwClockConfig {
            max_samples: 4,
            ..cfg()
        });
        for i in 0..10 {
            let s = c
                .process_readings(&[reading(f64::from(i), 0.5, 0.0, 1e-6)])
                .expect("sample");
            c.accumulate(s.hw, s.local, s.err);
        }
        assert_eq!(c.samples(), 4);
        // Samples closer than half the separation restart the tracking.
        let s = c
            .process_readings(&[reading(9.2, 0.5, 0.0, 1e-6)])
            .expect("sample");
        c.accumulate(s.hw, s.local, s.err);
        assert_eq!(c.samples(), 1);
    }

    #[test]
    fn frequency_corrections_and_steps_do_not_bend_the_fit() {
        // The PHC runs at the true rate; the system clock's oscillator is
        // 50 ppm slow; the daemon corrects it by +30 ppm at 4.3 s and steps
        // it by +1 ms at 6.7 s.
        let base = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut free = FreeRunning::default();
        free.set_rate(base, 1.0);
        // System time at true time t.
        let sys = |t: f64| {
            let mut s = base.add_secs(t.min(4.3) * (1.0 - 50e-6));
            if t > 4.3 {
                s = s.add_secs((t - 4.3) * (1.0 - 50e-6) * (1.0 + 30e-6));
            }
            if t > 6.7 { s.add_secs(1e-3) } else { s }
        };
        let mut c = HwClock::new(cfg());
        for i in 0..10 {
            let t = f64::from(i);
            if i == 5 {
                free.set_rate(sys(4.3), 1.0 + 30e-6);
            }
            if i == 7 {
                free.step(1e-3);
            }
            let r = PhcReading {
                sys_before: free.to_free(sys(t).add_secs(-5e-7)),
                phc: base.add_secs(t + 3.0),
                sys_after: free.to_free(sys(t).add_secs(5e-7)),
            };
            let s = c.process_readings(&[r]).expect("sample");
            assert!(c.accumulate(s.hw, s.local, s.err) || i == 0, "sample {i}");
        }
        let (local, _) = c.cook(base.add_secs(9.5 + 3.0)).expect("tracking");
        assert!(free.to_sys(local).diff_secs(sys(9.5)).abs() < 1e-9);
    }

    #[test]
    fn directive_options_are_clamped() {
        let mut h = krony_config::HwTimestamp::new("eth0".into());
        h.minsamples = 0;
        h.maxsamples = 1000;
        h.minpoll = -3;
        let c = HwClockConfig::from_directive(&h);
        assert_eq!((c.min_samples, c.max_samples), (2, 64));
        assert_eq!(c.min_separation, 0.125);
    }
}
