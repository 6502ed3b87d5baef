//! The values kronyd writes to the kernel clock with `adjtimex`, computed by
//! pure functions (so they are tested without touching the clock), following
//! what chronyd's Linux driver does (sys_linux.c, sys_timex.c):
//!
//! - Frequency: the kernel's `freq` field is limited to ±500 ppm, so larger
//!   corrections also move `tick` (µs added per USER_HZ tick). With USER_HZ =
//!   100 the nominal tick is 10000 µs and one tick unit is 100 ppm; tick may
//!   move by 10% (the kernel's bound), so corrections reach ±100000 ppm.
//!   `freq` is in ppm scaled by 2^16 (`timex.freq`, "scaled ppm").
//! - Kernel PLL off (STA_PLL clear): kronyd slews offsets by frequency itself.
//! - Steps: ADJ_SETOFFSET | ADJ_NANO with the offset as seconds + nanoseconds.
//! - Leap seconds: STA_INS / STA_DEL. Synchronisation: STA_UNSYNC, cleared only
//!   with `rtcsync` (then the kernel copies the time to the RTC every 11
//!   minutes), and esterror/maxerror in microseconds, capped at 16 s.
//!
//! Sign convention (krony-engine's clock module): a *correction* is positive
//! when it makes the clock run faster.

use krony_engine::clock::LeapStatus;

/// `timex.freq` units per ppm (2^16: "scaled ppm").
pub const FREQ_SCALE: f64 = 65536.0;
/// Errors at or above this (seconds) mean "not synchronised" (chrony's MAX_SYNC_ERROR).
pub const MAX_SYNC_ERROR: f64 = 16.0;

/// The tick parameters of the running kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickParams {
    /// USER_HZ (sysconf(_SC_CLK_TCK)), normally 100.
    pub hz: i64,
    /// The uncompensated tick in µs: 1e6 / hz, rounded as the kernel does.
    pub nominal_tick: i64,
    /// How far tick may move from nominal (the kernel allows 10%).
    pub max_tick_bias: i64,
}

impl TickParams {
    /// Parameters for a USER_HZ (values below 1 are treated as 100, Linux's usual).
    pub fn new(hz: i64) -> Self {
        let hz = if hz < 1 { 100 } else { hz };
        let nominal_tick = (1_000_000 + hz / 2) / hz;
        TickParams {
            hz,
            nominal_tick,
            max_tick_bias: nominal_tick / 10,
        }
    }

    /// The largest correction in ppm the tick range allows (100000 for hz 100).
    pub fn max_correction_ppm(&self) -> f64 {
        1e6 * self.max_tick_bias as f64 / self.nominal_tick as f64
    }

    /// ppm per unit of tick (1 µs per 1/hz s): equal to hz.
    fn ppm_per_tick(&self) -> f64 {
        self.hz as f64
    }
}

/// A frequency correction split between `tick` and `freq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TickFreq {
    /// timex.tick (µs per tick).
    pub tick: i64,
    /// timex.freq (scaled ppm, within ±500 ppm).
    pub freq: i64,
}

impl TickFreq {
    /// The correction in ppm that this tick and freq give (positive = faster).
    pub fn correction_ppm(&self, p: &TickParams) -> f64 {
        (self.tick - p.nominal_tick) as f64 * p.ppm_per_tick() + self.freq as f64 / FREQ_SCALE
    }
}

/// Splits a correction (ppm, positive = faster; clamped to the tick range) into
/// the nearest whole tick and the remainder in `freq` (at most hz/2 ppm), as
/// chronyd does. `freq` truncates towards zero, like C's double-to-long.
pub fn tick_freq_for(correction_ppm: f64, p: &TickParams) -> TickFreq {
    let max = p.max_correction_ppm();
    let c = if correction_ppm.is_nan() {
        0.0
    } else {
        correction_ppm.clamp(-max, max)
    };
    let delta_tick = (c / p.ppm_per_tick()).round() as i64;
    let remainder = c - delta_tick as f64 * p.ppm_per_tick();
    TickFreq {
        tick: p.nominal_tick + delta_tick,
        freq: (remainder * FREQ_SCALE) as i64,
    }
}

/// The status bits kronyd owns: PLL off, STA_UNSYNC unless synchronised, and
/// the leap second flags.
pub fn status_word(synchronised: bool, leap: LeapStatus) -> i32 {
    let mut status = 0;
    if !synchronised {
        status |= libc::STA_UNSYNC;
    }
    match leap {
        LeapStatus::InsertSecond => status |= libc::STA_INS,
        LeapStatus::DeleteSecond => status |= libc::STA_DEL,
        LeapStatus::Normal | LeapStatus::Unsynchronised => {}
    }
    status
}

/// What to tell the kernel about synchronisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncValues {
    /// Clear STA_UNSYNC.
    pub synchronised: bool,
    /// timex.esterror, µs.
    pub esterror_us: i64,
    /// timex.maxerror, µs.
    pub maxerror_us: i64,
}

/// The sync status values as chronyd computes them: errors capped at 16 s; a
/// maximum error of 16 s or more, or `rtcsync` off, leaves the clock marked
/// unsynchronised (on Linux, clearing STA_UNSYNC enables the 11-minute RTC
/// update, which only `rtcsync` asks for).
pub fn sync_values(
    synchronised: bool,
    est_error: f64,
    max_error: f64,
    rtcsync: bool,
) -> SyncValues {
    let (mut sync, mut est, mut max) = (synchronised, est_error, max_error);
    if sync {
        est = est.min(MAX_SYNC_ERROR);
        if max.is_nan() || max >= MAX_SYNC_ERROR {
            max = MAX_SYNC_ERROR;
            sync = false;
        }
    } else {
        est = MAX_SYNC_ERROR;
        max = MAX_SYNC_ERROR;
    }
    let us = |s: f64| {
        if s.is_nan() {
            (MAX_SYNC_ERROR * 1e6) as i64
        } else {
            (s.max(0.0) * 1e6) as i64
        }
    };
    SyncValues {
        synchronised: sync && rtcsync,
        esterror_us: us(est),
        maxerror_us: us(max),
    }
}

/// The `timex.time` of an ADJ_SETOFFSET | ADJ_NANO step adding `offset`
/// seconds to the clock: whole seconds (floor) and nanoseconds in 0..1e9.
/// None for a non-finite or absurd (beyond ±2^62 ns) offset.
pub fn setoffset_time(offset: f64) -> Option<(i64, i64)> {
    let ns = (offset * 1e9).round();
    if !ns.is_finite() || ns.abs() >= 4.6e18 {
        return None;
    }
    let ns = ns as i64;
    Some((ns.div_euclid(1_000_000_000), ns.rem_euclid(1_000_000_000)))
}

/// Guesses USER_HZ from the kernel's current tick when sysconf cannot tell
/// (chronyd's fallback): 100 if tick is within 9000..=11000, else the power of
/// two whose nominal tick is within -1/3..+1/3 of it.
pub fn guess_hz(tick: i64) -> Option<i64> {
    if (9000..=11000).contains(&tick) {
        return Some(100);
    }
    (4..16).map(|i| 1i64 << i).find(|&hz| {
        let nominal = 1e6 / hz as f64;
        let lo = (0.5 + nominal * 2.0 / 3.0) as i64;
        let hi = (0.5 + nominal * 4.0 / 3.0) as i64;
        lo < tick && tick <= hi
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ100: TickParams = TickParams {
        hz: 100,
        nominal_tick: 10000,
        max_tick_bias: 1000,
    };

    #[test]
    fn tick_params() {
        assert_eq!(TickParams::new(100), HZ100);
        assert_eq!(TickParams::new(0), HZ100);
        let p = TickParams::new(1024);
        assert_eq!((p.nominal_tick, p.max_tick_bias), (977, 97));
        assert!((HZ100.max_correction_ppm() - 100_000.0).abs() < 1e-9);
    }

    #[test]
    fn small_corrections_use_freq_only() {
        let tf = tick_freq_for(12.5, &HZ100);
        assert_eq!(
            tf,
            TickFreq {
                tick: 10000,
                freq: 819_200
            }
        );
        let tf = tick_freq_for(-12.5, &HZ100);
        assert_eq!(
            tf,
            TickFreq {
                tick: 10000,
                freq: -819_200
            }
        );
        assert_eq!(
            tick_freq_for(0.0, &HZ100),
            TickFreq {
                tick: 10000,
                freq: 0
            }
        );
    }

    #[test]
    fn large_corrections_move_tick() {
        // +1234.5 ppm: 12 ticks (1200 ppm) and 34.5 ppm in freq.
        let tf = tick_freq_for(1234.5, &HZ100);
        assert_eq!(tf.tick, 10012);
        assert_eq!(tf.freq, (34.5 * FREQ_SCALE) as i64);
        // -1260 ppm rounds to -13 ticks, +40 ppm in freq.
        let tf = tick_freq_for(-1260.0, &HZ100);
        assert_eq!(tf.tick, 9987);
        assert_eq!(tf.freq, (40.0 * FREQ_SCALE) as i64);
    }

    #[test]
    fn freq_stays_within_kernel_limit_and_round_trips() {
        let mut c = -100_000.0;
        while c <= 100_000.0 {
            let tf = tick_freq_for(c, &HZ100);
            assert!(tf.freq.abs() as f64 <= 50.0 * FREQ_SCALE, "{c}: {tf:?}");
            assert!((tf.tick - 10000).abs() <= 1000);
            assert!(
                (tf.correction_ppm(&HZ100) - c).abs() < 1.0 / FREQ_SCALE * 1.01,
                "{c}"
            );
            c += 173.37;
        }
    }

    #[test]
    fn out_of_range_corrections_are_clamped() {
        assert_eq!(
            tick_freq_for(250_000.0, &HZ100),
            TickFreq {
                tick: 11000,
                freq: 0
            }
        );
        assert_eq!(
            tick_freq_for(-1e9, &HZ100),
            TickFreq {
                tick: 9000,
                freq: 0
            }
        );
        assert_eq!(
            tick_freq_for(f64::NAN, &HZ100),
            TickFreq {
                tick: 10000,
                freq: 0
            }
        );
    }

    #[test]
    fn status_words() {
        assert_eq!(status_word(false, LeapStatus::Normal), libc::STA_UNSYNC);
        assert_eq!(status_word(true, LeapStatus::Normal), 0);
        assert_eq!(status_word(true, LeapStatus::InsertSecond), libc::STA_INS);
        assert_eq!(
            status_word(false, LeapStatus::DeleteSecond),
            libc::STA_UNSYNC | libc::STA_DEL
        );
        assert_eq!(status_word(true, LeapStatus::Normal) & libc::STA_PLL, 0);
    }

    #[test]
    fn sync_values_follow_chrony() {
        let v = sync_values(true, 0.001, 0.05, true);
        assert_eq!(
            v,
            SyncValues {
                synchronised: true,
                esterror_us: 1000,
                maxerror_us: 50000
            }
        );
        // Without rtcsync the kernel still gets the errors but stays unsynchronised.
        let v = sync_values(true, 0.001, 0.05, false);
        assert!(!v.synchronised);
        assert_eq!(v.maxerror_us, 50000);
        // A maximum error of 16 s or more is not synchronised.
        let v = sync_values(true, 20.0, 16.0, true);
        assert_eq!(
            v,
            SyncValues {
                synchronised: false,
                esterror_us: 16_000_000,
                maxerror_us: 16_000_000
            }
        );
        let v = sync_values(false, 0.001, 0.002, true);
        assert_eq!(
            v,
            SyncValues {
                synchronised: false,
                esterror_us: 16_000_000,
                maxerror_us: 16_000_000
            }
        );
    }

    #[test]
    fn setoffset_splits_into_seconds_and_nanoseconds() {
        assert_eq!(setoffset_time(1.5), Some((1, 500_000_000)));
        assert_eq!(setoffset_time(-0.25), Some((-1, 750_000_000)));
        assert_eq!(setoffset_time(-2.0), Some((-2, 0)));
        assert_eq!(setoffset_time(0.999_999_999_9), Some((1, 0)));
        assert_eq!(setoffset_time(1e-9), Some((0, 1)));
        assert_eq!(setoffset_time(f64::NAN), None);
        assert_eq!(setoffset_time(1e12), None);
    }

    #[test]
    fn hz_guess() {
        assert_eq!(guess_hz(10000), Some(100));
        assert_eq!(guess_hz(9990), Some(100));
        assert_eq!(guess_hz(977), Some(1024));
        assert_eq!(guess_hz(3906), Some(256));
        assert_eq!(guess_hz(1), None);
    }
}
