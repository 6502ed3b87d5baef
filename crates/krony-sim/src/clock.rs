//! A simulated node's clock: true time in, clock readings out.
//!
//! The model follows clknetsim's (mlichvar/clknetsim `clock.cc`): the clock
//! runs at `(1 + natural) * (1 + correction)` times the rate of true time,
//! where `natural` is the oscillator's own frequency error (a fixed offset plus
//! a random walk updated once per simulated second) and `correction` is what
//! the disciplining software set. The frequency is constant between updates, so
//! the offset is integrated exactly: the clock keeps an anchor (a true time and
//! the reading at that time, to a fraction of a nanosecond) and moves it each
//! time the frequency changes.
//!
//! Leap seconds are applied like the Linux kernel does once armed: an inserted
//! second steps the reading back by one second when it reaches midnight, a
//! deleted one steps it forward when it reaches 23:59:59. True time has no leap
//! seconds (as in clknetsim), so a clock that inserted one reads 1 s behind it.

use krony_engine::clock::{Clock, ClockAction, ClockError, LeapStatus};
use krony_wire::UnixTime;
use rand_chacha::ChaCha8Rng;

use crate::SimError;
use crate::random::normal;

/// When every simulation starts: 2010-01-01T00:00:00Z, as in clknetsim.
pub const SIM_EPOCH: UnixTime = UnixTime::from_secs_nanos(1_262_304_000, 0);

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// The parameters of one simulated clock.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockParams {
    /// The reading minus true time at the start of the simulation, seconds.
    pub offset: f64,
    /// The oscillator's frequency error at the start, ppm (positive = fast).
    pub freq_ppm: f64,
    /// Random-walk frequency wander: the standard deviation of the change of
    /// the frequency error each simulated second, ppb. chrony's simulation
    /// tests use 1 ppb (`wander=1e-9`).
    pub wander_ppb: f64,
    /// Readings are truncated to a multiple of this many nanoseconds (at
    /// least 1); [`Clock::precision`] reports it.
    pub resolution_ns: u32,
    /// The largest frequency correction accepted, ppm. Linux accepts ±500 ppm
    /// through the frequency and ±10 % through the tick, so 100 000 by default.
    pub max_correction_ppm: f64,
}

impl Default for ClockParams {
    /// A perfect clock: no offset, no frequency error, no wander, 1 ns.
    fn default() -> Self {
        ClockParams {
            offset: 0.0,
            freq_ppm: 0.0,
            wander_ppb: 0.0,
            resolution_ns: 1,
            max_correction_ppm: 100_000.0,
        }
    }
}

impl ClockParams {
    /// The client clock of chrony's simulation tests (`test.common`
    /// defaults): 0.1 s offset, 100 ppm frequency error, 1 ppb/√s wander.
    pub fn chrony_client() -> Self {
        ClockParams {
            offset: 0.1,
            freq_ppm: 100.0,
            wander_ppb: 1.0,
            ..ClockParams::default()
        }
    }

    fn validate(&self) -> Result<(), SimError> {
        let ok = self.offset.is_finite()
            && self.freq_ppm.is_finite()
            && self.freq_ppm.abs() < 200_000.0
            && self.wander_ppb.is_finite()
            && self.wander_ppb >= 0.0
            && self.resolution_ns >= 1
            && self.max_correction_ppm >= 0.0;
        if ok {
            Ok(())
        } else {
            Err(SimError::InvalidScenario(format!(
                "bad clock parameters {self:?}"
            )))
        }
    }
}

/// The last sync status the disciplining software reported.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SyncStatus {
    /// Whether the clock was declared synchronised.
    pub synchronised: bool,
    /// Estimated error, seconds.
    pub est_error: f64,
    /// Maximum error, seconds.
    pub max_error: f64,
}

/// What was done to a clock, for tests and reports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClockLog {
    /// Steps requested by the node: (true time, offset in seconds).
    pub steps: Vec<(UnixTime, f64)>,
    /// How many times the frequency correction was set.
    pub frequency_sets: u64,
    /// Actions the clock refused.
    pub refused: u64,
    /// The leap status last set.
    pub leap: LeapStatus,
    /// Leap seconds applied: (true time, step in seconds, -1 or +1).
    pub leaps_applied: Vec<(UnixTime, i8)>,
    /// The sync status last set, if any.
    pub sync_status: Option<SyncStatus>,
}

/// A reading to a fraction of a nanosecond: `ns + frac`, `frac` in [0, 1).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Exact {
    ns: i64,
    frac: f64,
}

impl Exact {
    fn new(ns: i64, frac: f64) -> Self {
        let whole = frac.floor();
        let (mut ns, mut frac) = (ns.saturating_add(whole as i64), frac - whole);
        // A tiny negative `frac` rounds to exactly 1.0 after the subtraction.
        if frac >= 1.0 {
            ns = ns.saturating_add(1);
            frac = 0.0;
        }
        Exact { ns, frac }
    }

    /// `self - t` in seconds.
    fn minus(self, t: UnixTime) -> f64 {
        ((self.ns as i128 - t.as_nanos() as i128) as f64 + self.frac) / 1e9
    }
}

/// A simulated clock, driven forward in true time by the simulator.
///
/// Call [`advance_to`](Self::advance_to) to move true time on (it applies the
/// per-second wander updates and leap seconds on the way), then read it with
/// [`Clock::now`] and adjust it with [`Clock::apply`].
#[derive(Debug, Clone)]
pub struct SimClock {
    params: ClockParams,
    rng: ChaCha8Rng,
    /// True time the clock has been advanced to.
    now: UnixTime,
    /// Next per-second frequency update, in true time.
    next_update: UnixTime,
    /// Start of the current constant-frequency segment, and the reading then.
    anchor_true: UnixTime,
    anchor_reading: Exact,
    /// Oscillator frequency error (fixed part plus wander), a ratio.
    natural: f64,
    /// Frequency correction set by the node, a ratio.
    correction: f64,
    /// `(1 + natural) * (1 + correction) - 1`: reading rate minus one.
    rate: f64,
    /// True time at which an armed leap second is due, if one is.
    leap_due: Option<UnixTime>,
    /// The armed leap second was applied; wait until it is disarmed.
    leap_done: bool,
    log: ClockLog,
}

impl SimClock {
    /// A clock starting at true time `start` with the given parameters; the
    /// wander draws from `rng`.
    ///
    /// # Errors
    /// [`SimError::InvalidScenario`] for non-finite or out-of-range
    /// parameters.
    pub fn new(params: &ClockParams, start: UnixTime, rng: ChaCha8Rng) -> Result<Self, SimError> {
        params.validate()?;
        let mut clock = SimClock {
            params: params.clone(),
            rng,
            now: start,
            next_update: start,
            anchor_true: start,
            anchor_reading: Exact::new(start.as_nanos(), 0.0),
            natural: params.freq_ppm / 1e6,
            correction: 0.0,
            rate: 0.0,
            leap_due: None,
            leap_done: false,
            log: ClockLog::default(),
        };
        clock.shift_reading(params.offset);
        clock.set_rates();
        Ok(clock)
    }

    /// The parameters the clock was made with.
    pub fn params(&self) -> &ClockParams {
        &self.params
    }

    /// The true time the clock has been advanced to.
    pub fn now_true(&self) -> UnixTime {
        self.now
    }

    /// The next true time at which the clock changes on its own: its next
    /// per-second frequency update or a due leap second. Clock-time deadlines
    /// converted by [`true_time_of`](Self::true_time_of) hold until then.
    pub fn next_change(&self) -> UnixTime {
        self.leap_due
            .map_or(self.next_update, |t| t.min(self.next_update))
    }

    /// Moves true time forward to `t`, applying on the way the per-second
    /// frequency updates (the first one at the start time) and any due leap
    /// second. Times before the current one are ignored.
    pub fn advance_to(&mut self, t: UnixTime) {
        while self.next_change() <= t {
            let change = self.next_change();
            self.now = change;
            if self.leap_due == Some(change) {
                self.apply_leap();
            } else {
                self.second_update();
            }
        }
        self.now = self.now.max(t);
    }

    /// The exact reading minus true time, seconds (what clknetsim logs as the
    /// time offset).
    pub fn true_offset(&self) -> f64 {
        self.exact_at(self.now).minus(self.now)
    }

    /// The clock's frequency error relative to true time as a ratio (1e-6 is
    /// 1 ppm fast): natural error, wander and correction together (what
    /// clknetsim logs as the frequency offset, `total_freq - 1`).
    pub fn frequency_error(&self) -> f64 {
        self.rate
    }

    /// The oscillator's own frequency error (fixed part plus wander), a ratio.
    pub fn natural_frequency_error(&self) -> f64 {
        self.natural
    }

    /// The correction last set, a ratio (positive = faster).
    pub fn correction(&self) -> f64 {
        self.correction
    }

    /// What was done to the clock.
    pub fn log(&self) -> &ClockLog {
        &self.log
    }

    /// The earliest true time, not before the current one, at which
    /// [`Clock::now`] reads `target` or later, assuming the frequency stays as
    /// it is (it does until [`next_change`](Self::next_change); the simulator
    /// converts deadlines again after that).
    pub fn true_time_of(&self, target: UnixTime) -> UnixTime {
        let res = i64::from(self.params.resolution_ns);
        // now() >= target  <=>  exact reading >= target rounded up to `res`.
        let target_ns = target.as_nanos();
        let goal = target_ns.saturating_add((res - target_ns.rem_euclid(res)) % res);
        let reached = |t: i64| self.exact_at(UnixTime::from_nanos(t)).ns >= goal;
        let now_ns = self.now.as_nanos();
        if reached(now_ns) {
            return self.now;
        }
        let base = self.exact_at(self.now);
        let ahead = ((goal - base.ns) as f64 - base.frac) / (1.0 + self.rate);
        // The float estimate is within a few ns; finish exactly in integers.
        let mut t = now_ns.saturating_add(ahead.ceil().max(1.0) as i64);
        while !reached(t) {
            t = t.saturating_add(1);
        }
        while t - 1 > now_ns && reached(t - 1) {
            t -= 1;
        }
        UnixTime::from_nanos(t)
    }

    /// The exact reading at true time `t` on the current segment.
    fn exact_at(&self, t: UnixTime) -> Exact {
        let dt = t.as_nanos().saturating_sub(self.anchor_true.as_nanos());
        let extra = dt as f64 * self.rate + self.anchor_reading.frac;
        Exact::new(self.anchor_reading.ns.saturating_add(dt), extra)
    }

    /// Starts a new segment at the current true time.
    fn reanchor(&mut self) {
        self.anchor_reading = self.exact_at(self.now);
        self.anchor_true = self.now;
    }

    /// Recomputes the rate (after a re-anchor) and when a leap is due.
    fn set_rates(&mut self) {
        let (n, c) = (self.natural, self.correction);
        // (1 + n)(1 + c) - 1, without forming 1 + tiny.
        self.rate = n + c + n * c;
        self.leap_due = self.compute_leap_due();
    }

    /// Adds `secs` to the reading at the current true time.
    fn shift_reading(&mut self, secs: f64) {
        self.reanchor();
        let ns = secs * 1e9;
        let whole = ns.trunc();
        let r = self.anchor_reading;
        self.anchor_reading = Exact::new(r.ns.saturating_add(whole as i64), r.frac + (ns - whole));
    }

    /// The once-per-second update: one random-walk step of the frequency.
    fn second_update(&mut self) {
        self.reanchor();
        if self.params.wander_ppb > 0.0 {
            self.natural += self.params.wander_ppb / 1e9 * normal(&mut self.rng);
        }
        self.next_update = self.next_update.add_secs(1.0);
        self.set_rates();
    }

    /// When the armed leap second is due: the reading reaching the next
    /// midnight (insert) or the next 23:59:59 (delete).
    fn compute_leap_due(&self) -> Option<UnixTime> {
        if self.leap_done {
            return None;
        }
        let early = match self.log.leap {
            LeapStatus::InsertSecond => 0,
            LeapStatus::DeleteSecond => 1,
            LeapStatus::Normal | LeapStatus::Unsynchronised => return None,
        };
        let day_ns = SECS_PER_DAY * NANOS_PER_SEC;
        let reading = self.exact_at(self.now).ns + early * NANOS_PER_SEC;
        let midnight = (reading.div_euclid(day_ns) + 1) * day_ns;
        let due = self.true_time_of(UnixTime::from_nanos(midnight - early * NANOS_PER_SEC));
        Some(due)
    }

    fn apply_leap(&mut self) {
        let step: i8 = match self.log.leap {
            LeapStatus::InsertSecond => -1,
            _ => 1,
        };
        self.shift_reading(f64::from(step));
        self.log.leaps_applied.push((self.now, step));
        self.leap_done = true;
        self.set_rates();
    }

    fn refuse(&mut self, why: String) -> Result<(), ClockError> {
        self.log.refused += 1;
        Err(ClockError::Failed(why))
    }
}

impl Clock for SimClock {
    fn now(&self) -> UnixTime {
        let ns = self.exact_at(self.now).ns;
        let res = i64::from(self.params.resolution_ns);
        UnixTime::from_nanos(ns - ns.rem_euclid(res))
    }

    fn precision(&self) -> f64 {
        f64::from(self.params.resolution_ns) / 1e9
    }

    fn max_frequency_ppm(&self) -> f64 {
        self.params.max_correction_ppm
    }

    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError> {
        match action {
            ClockAction::SetFrequency { correction_ppm } => {
                if !correction_ppm.is_finite()
                    || correction_ppm.abs() > self.params.max_correction_ppm
                {
                    return self.refuse(format!("frequency {correction_ppm} ppm out of range"));
                }
                self.reanchor();
                self.correction = correction_ppm / 1e6;
                self.log.frequency_sets += 1;
                self.set_rates();
            }
            ClockAction::Step { offset } => {
                if !offset.is_finite() {
                    return self.refuse(format!("step {offset} s"));
                }
                self.shift_reading(offset);
                self.log.steps.push((self.now, offset));
                self.set_rates();
            }
            ClockAction::SetLeap { leap, .. } => {
                if leap != self.log.leap {
                    // A new status re-arms the kernel's state machine.
                    self.leap_done = false;
                }
                self.log.leap = leap;
                self.set_rates();
            }
            ClockAction::SetSyncStatus {
                synchronised,
                est_error,
                max_error,
            } => {
                self.log.sync_status = Some(SyncStatus {
                    synchronised,
                    est_error,
                    max_error,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "clock_tests.rs"]
mod tests;
