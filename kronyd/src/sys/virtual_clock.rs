//! The clock of `kronyd -x`: the system clock is never changed ("Disabled
//! control of system clock", as chronyd -x says); frequency corrections and
//! steps are applied in software, like chrony's null driver, so the engine
//! still disciplines a (virtual) clock and kronyd tracks the offset and
//! frequency of the free-running system clock, and serves corrected time.
//!
//! Reading = raw + correction, where the correction is integrated exactly over
//! the piecewise-constant frequency: at each frequency change the correction
//! accumulated so far is folded into `offset_ns`.

use krony_engine::clock::{Clock, ClockAction, ClockError};
use krony_wire::UnixTime;

use super::clock::{measure_precision, realtime_now};

/// A software-corrected view of a raw clock (the system clock, or an
/// injected time source in tests).
#[derive(Debug)]
pub struct VirtualClock<F: Fn() -> UnixTime> {
    raw: F,
    /// Raw time of the last frequency change.
    base: UnixTime,
    /// Correction (ns, fractional) accumulated up to `base`.
    offset_ns: f64,
    /// Current frequency correction, ppm (positive = faster).
    correction_ppm: f64,
    precision: f64,
}

impl VirtualClock<fn() -> UnixTime> {
    /// A virtual clock over the system clock, with its measured precision
    /// (or `precision`, from `clockprecision`).
    pub fn system(precision: Option<f64>) -> Self {
        let p = precision.unwrap_or_else(|| measure_precision(realtime_now));
        VirtualClock::new(realtime_now, p)
    }
}

impl<F: Fn() -> UnixTime> VirtualClock<F> {
    /// A virtual clock over `raw` with no correction yet.
    pub fn new(raw: F, precision: f64) -> Self {
        let base = raw();
        VirtualClock {
            raw,
            base,
            offset_ns: 0.0,
            correction_ppm: 0.0,
            precision,
        }
    }

    /// The correction (ns) at raw time `t`.
    fn correction_at(&self, t: UnixTime) -> f64 {
        // As UnixTime::diff_secs: the i64 difference converts cheaply.
        let elapsed_ns = match t.as_nanos().checked_sub(self.base.as_nanos()) {
            Some(d) => d as f64,
            None => (i128::from(t.as_nanos()) - i128::from(self.base.as_nanos())) as f64,
        };
        self.offset_ns + elapsed_ns * self.correction_ppm * 1e-6
    }

    /// The current correction in seconds (reading minus raw time), which is
    /// minus the estimated offset of the free-running system clock.
    pub fn correction_secs(&self) -> f64 {
        self.correction_at((self.raw)()) * 1e-9
    }

    /// The current frequency correction in ppm.
    pub fn correction_ppm(&self) -> f64 {
        self.correction_ppm
    }
}

impl<F: Fn() -> UnixTime> Clock for VirtualClock<F> {
    fn now(&self) -> UnixTime {
        let raw = (self.raw)();
        raw.add_secs(self.correction_at(raw) * 1e-9)
    }

    fn precision(&self) -> f64 {
        self.precision
    }

    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError> {
        match action {
            ClockAction::SetFrequency { correction_ppm } => {
                if !correction_ppm.is_finite() {
                    return Err(ClockError::Failed(format!(
                        "invalid frequency {correction_ppm} ppm"
                    )));
                }
                let now = (self.raw)();
                self.offset_ns = self.correction_at(now);
                self.base = now;
                let max = self.max_frequency_ppm();
                self.correction_ppm = correction_ppm.clamp(-max, max);
            }
            ClockAction::Step { offset } => {
                if !offset.is_finite() {
                    return Err(ClockError::Failed(format!(
                        "cannot step by {offset} seconds"
                    )));
                }
                self.offset_ns += offset * 1e9;
            }
            // Nothing to tell a kernel that is not being controlled.
            ClockAction::SetLeap { .. } | ClockAction::SetSyncStatus { .. } => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// A raw clock the test moves by hand.
    fn fake(start: i64) -> (Rc<Cell<i64>>, impl Fn() -> UnixTime) {
        let t = Rc::new(Cell::new(start));
        let t2 = Rc::clone(&t);
        (t, move || UnixTime::from_nanos(t2.get()))
    }

    const SEC: i64 = 1_000_000_000;

    #[test]
    fn without_corrections_it_reads_raw_time() {
        let (t, raw) = fake(1_700_000_000 * SEC);
        let c = VirtualClock::new(raw, 1e-9);
        assert_eq!(c.now(), UnixTime::from_nanos(t.get()));
        t.set(t.get() + 123);
        assert_eq!(c.now(), UnixTime::from_nanos(t.get()));
        assert_eq!(c.precision(), 1e-9);
    }

    #[test]
    fn frequency_is_integrated_piecewise() {
        let start = 1_700_000_000 * SEC;
        let (t, raw) = fake(start);
        let mut c = VirtualClock::new(raw, 1e-9);
        c.apply(ClockAction::SetFrequency {
            correction_ppm: 10.0,
        })
        .expect("freq");
        t.set(start + 100 * SEC);
        // 100 s at +10 ppm: +1 ms.
        assert_eq!(c.now().as_nanos() - t.get(), 1_000_000);
        c.apply(ClockAction::SetFrequency {
            correction_ppm: -5.0,
        })
        .expect("freq");
        t.set(start + 300 * SEC);
        // then 200 s at -5 ppm: -1 ms, back to zero.
        assert_eq!(c.now().as_nanos() - t.get(), 0);
        assert!((c.correction_secs()).abs() < 1e-12);
        assert_eq!(c.correction_ppm(), -5.0);
        // Setting the same frequency again changes nothing.
        c.apply(ClockAction::SetFrequency {
            correction_ppm: -5.0,
        })
        .expect("freq");
        t.set(start + 500 * SEC);
        assert_eq!(c.now().as_nanos() - t.get(), -1_000_000);
    }

    #[test]
    fn steps_add_to_the_reading_and_status_is_ignored() {
        let (t, raw) = fake(SEC);
        let mut c = VirtualClock::new(raw, 1e-9);
        c.apply(ClockAction::Step { offset: -0.5 }).expect("step");
        assert_eq!(c.now().as_nanos(), t.get() - SEC / 2);
        c.apply(ClockAction::Step { offset: 2.25 }).expect("step");
        assert_eq!(c.now().as_nanos(), t.get() + 1_750_000_000);
        c.apply(ClockAction::SetLeap {
            leap: krony_engine::clock::LeapStatus::InsertSecond,
            tai_offset: 0,
        })
        .expect("leap");
        c.apply(ClockAction::SetSyncStatus {
            synchronised: true,
            est_error: 0.0,
            max_error: 0.0,
        })
        .expect("sync");
        assert_eq!(c.now().as_nanos(), t.get() + 1_750_000_000);
        assert!(c.apply(ClockAction::Step { offset: f64::NAN }).is_err());
        assert!(
            c.apply(ClockAction::SetFrequency {
                correction_ppm: f64::INFINITY
            })
            .is_err()
        );
    }

    #[test]
    fn many_small_changes_accumulate_without_drift() {
        let (t, raw) = fake(0);
        let mut c = VirtualClock::new(raw, 1e-9);
        // 10000 intervals of 16 s alternating +1/-1 ppm: net zero.
        for i in 0..10_000 {
            let ppm = if i % 2 == 0 { 1.0 } else { -1.0 };
            c.apply(ClockAction::SetFrequency {
                correction_ppm: ppm,
            })
            .expect("freq");
            t.set(t.get() + 16 * SEC);
        }
        assert!((c.now().as_nanos() - t.get()).abs() <= 1);
    }

    #[test]
    fn frequency_is_clamped_and_time_stays_monotonic() {
        let (t, raw) = fake(0);
        let mut c = VirtualClock::new(raw, 1e-9);
        c.apply(ClockAction::SetFrequency {
            correction_ppm: -2e6,
        })
        .expect("freq");
        assert_eq!(c.correction_ppm(), -c.max_frequency_ppm());
        let a = c.now();
        t.set(t.get() + SEC);
        assert!(c.now() > a);
    }

    #[test]
    fn system_virtual_clock_follows_the_real_clock() {
        let c = VirtualClock::system(Some(1e-8));
        let d = c.now().diff_secs(realtime_now());
        assert!(d.abs() < 0.1, "{d}");
        assert_eq!(c.precision(), 1e-8);
    }
}
