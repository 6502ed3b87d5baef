//! The model of the disciplined clock (chrony's `local.c` with the generic
//! slewing driver of `sys_generic.c`).
//!
//! The clock is only ever told two things: a frequency correction and a step.
//! An offset is removed by adding extra frequency for a while; this model
//! remembers the frequency it asked for and when, so it always knows how much
//! of the offset is still pending and can "cook" a raw reading into the
//! corrected time scale the sources and the server use.

use std::collections::VecDeque;

use super::config::LocalClockConfig;
use super::events::DisciplineEvent;
use crate::UnixTime;
use crate::clock::{ClockAction, LeapStatus};

/// Offsets below this are considered corrected (one nanosecond, the clock's
/// resolution).
const MIN_OFFSET_CORRECTION: f64 = 1e-9;
/// Shortest slew, so the correction never becomes a near-step.
const MIN_SLEW_DURATION: f64 = 1.0;
/// Longest slew; the slew is re-evaluated at least this often.
const MAX_SLEW_DURATION: f64 = 1e4;
/// Lateness of a slew end above this is taken as a suspend, not as scheduling
/// delay.
const MAX_SLEW_EXCESS_DURATION: f64 = 100.0;
/// A slew lasts at least this many times the recent lateness, so that the
/// lateness cannot make the correction oscillate.
const MIN_SLEW_DURATION_EXCESS_RATIO: f64 = 5.0;
/// Per-slew decay of the remembered lateness.
const SLEW_EXCESS_DURATION_DECAY: f64 = 0.9;
/// Largest offset an adjustment may carry (2^32 s, the NTP era length).
const MAX_ADJUSTMENT: f64 = 4_294_967_296.0;
/// Latest time (s since 1970) the engine can represent (i64 nanoseconds).
const MAX_TIME_SECS: f64 = 9.2e9;

/// What kind of change a [`ClockChange`] describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Frequency and/or offset correction (slew); the raw clock did not jump.
    Adjust,
    /// The clock was stepped (or a leap second passed) under our control.
    Step,
    /// The clock jumped without us (detected by the driver).
    UnknownStep,
}

/// A change of the clock's parameters, which every holder of measurements on
/// the old time scale must apply (sample times and offsets, the reference
/// time): see [`super::adjust_time`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockChange {
    /// Raw reading at the change (before a step).
    pub raw: UnixTime,
    /// Cooked time just before the change.
    pub cooked: UnixTime,
    /// Relative frequency change (positive: the clock is now slowed more).
    pub dfreq: f64,
    /// Offset removed (positive: the clock's time moved back by this).
    pub doffset: f64,
    /// Slew or step.
    pub kind: ChangeKind,
}

/// A notification for the sources' statistics.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockNotice {
    /// Parameters changed: slew the samples (chrony's parameter change
    /// handlers, `SST_SlewSamples`).
    Changed(ClockChange),
    /// Extra dispersion (seconds) to add to every sample, from the uncertain
    /// moment a frequency change took effect (`SST_AddDispersion`).
    Dispersion(f64),
}

/// An adjustment that was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum LocalClockError {
    /// The adjustment would move the time out of the supported range.
    #[error("invalid clock adjustment removing {0} s")]
    InvalidOffset(f64),
    /// The clock is not controlled: it cannot be stepped.
    #[error("could not step system clock")]
    StepFailed,
}

/// The disciplined clock: frequency estimate, pending offset, running slew.
///
/// Call order: any adjustment, then drain [`poll_action`](Self::poll_action)
/// (apply each to the clock in order), [`poll_notice`](Self::poll_notice) and
/// [`poll_event`](Self::poll_event); call [`handle_timeout`](Self::handle_timeout)
/// at [`poll_timeout`](Self::poll_timeout).
#[derive(Debug, Clone)]
pub struct LocalClock {
    cfg: LocalClockConfig,
    /// Frequency error being compensated (ppm, positive = clock fast).
    base_freq: f64,
    /// Offset still to slew out as of `slew_start` (s, positive = clock ahead).
    offset_register: f64,
    /// Rate at which the running slew removes offset (relative).
    slew_freq: f64,
    /// Raw time the running slew started.
    slew_start: UnixTime,
    /// Planned length of the running slew (s).
    slew_duration: f64,
    /// Decaying maximum of how late slew ends were handled (s).
    slew_excess: f64,
    /// Suggested correction rate: offset × correction time (s²).
    correction_rate: f64,
    /// Uncertainty of the offset while a frequency change settles (s).
    slew_error: f64,
    /// Raw time the running slew must be re-evaluated.
    deadline: Option<UnixTime>,
    /// The last frequency correction emitted (ppm).
    applied_correction: Option<f64>,
    /// Temperature compensation (ppm, positive = the clock is made faster),
    /// applied between the estimate and the clock as chrony's `local.c`
    /// does: the estimate (`base_freq`) stays uncompensated.
    temp_comp: f64,
    actions: VecDeque<ClockAction>,
    notices: VecDeque<ClockNotice>,
    events: VecDeque<DisciplineEvent>,
}

impl LocalClock {
    /// A model of a clock whose current frequency correction compensates a
    /// frequency error of `current_frequency_ppm` (what adjtimex reports,
    /// negated; 0 for a fresh clock), with no offset pending.
    pub fn new(cfg: LocalClockConfig, now: UnixTime, current_frequency_ppm: f64) -> Self {
        LocalClock {
            cfg,
            base_freq: current_frequency_ppm,
            offset_register: 0.0,
            slew_freq: 0.0,
            slew_start: now,
            // No slew is running yet, so none can be late.
            slew_duration: f64::INFINITY,
            slew_excess: 0.0,
            correction_rate: 0.0,
            slew_error: 0.0,
            deadline: None,
            applied_correction: None,
            temp_comp: 0.0,
            actions: VecDeque::new(),
            notices: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// The frequency error being compensated (ppm, positive = the uncorrected
    /// clock runs fast), excluding the slew in progress.
    pub fn frequency_ppm(&self) -> f64 {
        self.base_freq
    }

    /// The correction to add to a raw reading to get true time as far as we
    /// know (negative while the clock is ahead), and its uncertainty.
    pub fn offset_correction(&self, raw: UnixTime) -> (f64, f64) {
        let elapsed = raw.diff_secs(self.slew_start);
        let corr = self.slew_freq * elapsed - self.offset_register;
        let err = if elapsed.abs() <= self.max_freq_change_delay() {
            self.slew_error
        } else {
            0.0
        };
        (corr, err)
    }

    /// A raw reading moved onto the corrected time scale.
    pub fn cook(&self, raw: UnixTime) -> UnixTime {
        raw.add_secs(self.offset_correction(raw).0)
    }

    /// The frequency correction (ppm, positive = faster) currently applied.
    pub fn applied_correction_ppm(&self) -> Option<f64> {
        self.applied_correction
    }

    /// The extra frequency of the running slew (relative, positive = slowing).
    pub fn slew_rate(&self) -> f64 {
        self.slew_freq
    }

    /// Sets the frequency error estimate to `ppm` (clamped to `maxdrift`).
    pub fn set_absolute_frequency(&mut self, now: UnixTime, ppm: f64) {
        let ppm = self.clamp_drift(ppm);
        let old = self.base_freq;
        let cooked = self.cook(now);
        self.base_freq = ppm;
        self.update_slew(now);
        self.notify(
            now,
            cooked,
            (ppm - old) / (1e6 - old),
            0.0,
            ChangeKind::Adjust,
        );
    }

    /// Changes the frequency error estimate by `dfreq` (relative; the gradient
    /// of offset against time).
    pub fn accumulate_delta_frequency(&mut self, now: UnixTime, dfreq: f64) {
        let old = self.base_freq;
        let cooked = self.cook(now);
        self.base_freq = self.clamp_drift(old + dfreq * (1e6 - old));
        self.update_slew(now);
        let dfreq = (self.base_freq - old) / (1e6 - old);
        self.notify(now, cooked, dfreq, 0.0, ChangeKind::Adjust);
    }

    /// Sets the temperature compensation (ppm, positive = the clock is made
    /// faster; `tempcomp`). The frequency estimate is not changed and the
    /// statistics are not told: the compensation is meant to keep the
    /// clock's measured frequency steady (chrony's `LCL_SetTempComp`).
    pub fn set_temp_comp(&mut self, now: UnixTime, comp_ppm: f64) {
        if self.temp_comp == comp_ppm {
            return;
        }
        self.temp_comp = comp_ppm;
        self.update_slew(now);
    }

    /// The temperature compensation in force (ppm).
    pub fn temp_comp_ppm(&self) -> f64 {
        self.temp_comp
    }

    /// The frequency error the clock is corrected for: the estimate with
    /// the temperature compensation applied (chrony's compensated
    /// `current_freq_ppm`).
    fn compensated_freq(&self) -> f64 {
        let c = self.temp_comp;
        if c == 0.0 {
            self.base_freq
        } else {
            self.base_freq * (1.0 - 1e-6 * c) - c
        }
    }

    /// Adds `offset` (positive = clock ahead) to the offset to slew out.
    /// `corr_rate` (s²) suggests how fast: an offset `x` takes `corr_rate/|x|`
    /// seconds, within 1..10000 s and `maxslewrate`.
    ///
    /// # Errors
    /// [`LocalClockError::InvalidOffset`] when the corrected time would be out
    /// of range; nothing is changed then.
    pub fn accumulate_offset(
        &mut self,
        now: UnixTime,
        offset: f64,
        corr_rate: f64,
    ) -> Result<(), LocalClockError> {
        self.accumulate_frequency_and_offset(now, 0.0, offset, corr_rate)
    }

    /// Changes the frequency estimate by `dfreq` (relative) and adds `doffset`
    /// to the offset to slew out, in one adjustment.
    ///
    /// # Errors
    /// [`LocalClockError::InvalidOffset`] as for
    /// [`accumulate_offset`](Self::accumulate_offset).
    pub fn accumulate_frequency_and_offset(
        &mut self,
        now: UnixTime,
        dfreq: f64,
        doffset: f64,
        corr_rate: f64,
    ) -> Result<(), LocalClockError> {
        let cooked = self.cook(now);
        self.check_offset(cooked, doffset)?;
        let old = self.base_freq;
        if dfreq != 0.0 {
            self.base_freq = self.clamp_drift(old + dfreq * (1e6 - old));
        }
        // The register holds the offset as of `slew_start`; update_slew folds
        // in what the running slew removed since then, which is linear, so
        // adding first is the same.
        self.offset_register += doffset;
        self.correction_rate = corr_rate;
        self.update_slew(now);
        let dfreq = (self.base_freq - old) / (1e6 - old);
        self.notify(now, cooked, dfreq, doffset, ChangeKind::Adjust);
        Ok(())
    }

    /// [`accumulate_frequency_and_offset`](Self::accumulate_frequency_and_offset)
    /// without telling anyone (chrony's `LCL_AccumulateFrequencyAndOffsetNoHandlers`):
    /// no [`ClockNotice`] is queued, so samples keep their times (a `local`
    /// refclock slews its own).
    ///
    /// # Errors
    /// As [`accumulate_frequency_and_offset`](Self::accumulate_frequency_and_offset).
    pub fn accumulate_frequency_and_offset_quietly(
        &mut self,
        now: UnixTime,
        dfreq: f64,
        doffset: f64,
        corr_rate: f64,
    ) -> Result<(), LocalClockError> {
        let queued = self.notices.len();
        let r = self.accumulate_frequency_and_offset(now, dfreq, doffset, corr_rate);
        self.notices.truncate(queued);
        r
    }

    /// Steps the clock to remove `offset` (positive = clock ahead, so the
    /// clock goes back). The pending slew is kept.
    ///
    /// # Errors
    /// [`LocalClockError::InvalidOffset`] when the stepped time would be out of
    /// range; nothing is changed then.
    pub fn apply_step(&mut self, now: UnixTime, offset: f64) -> Result<(), LocalClockError> {
        let cooked = self.cook(now);
        self.check_offset(now, offset)?;
        if self.cfg.no_control {
            self.events.push_back(DisciplineEvent::StepFailed);
            return Err(LocalClockError::StepFailed);
        }
        self.actions
            .push_back(ClockAction::Step { offset: -offset });
        // Raw times we hold move with the clock (chrony's sys_generic step
        // handler and the scheduler's timeout shift).
        self.slew_start = self.slew_start.add_secs(-offset);
        self.deadline = self.deadline.map(|d| d.add_secs(-offset));
        self.notify(now, cooked, 0.0, offset, ChangeKind::Step);
        Ok(())
    }

    /// Removes the whole pending offset at once by a step (chronyc
    /// `makestep`). Returns the offset stepped out.
    ///
    /// # Errors
    /// [`LocalClockError::InvalidOffset`] as for [`apply_step`](Self::apply_step).
    pub fn make_step(&mut self, now: UnixTime) -> Result<f64, LocalClockError> {
        let (corr, _) = self.offset_correction(now);
        self.check_offset(now, -corr)?;
        self.accumulate_offset(now, corr, 0.0)?;
        if let Err(e) = self.apply_step(now, -corr) {
            // Keep slewing what could not be stepped.
            let _ = self.accumulate_offset(now, -corr, 0.0);
            return Err(e);
        }
        self.events
            .push_back(DisciplineEvent::ClockStepped { offset: -corr });
        Ok(-corr)
    }

    /// Drops whatever offset is still to be slewed out.
    pub fn cancel_offset_correction(&mut self, now: UnixTime) {
        let (corr, _) = self.offset_correction(now);
        // OK to ignore: removing a pending offset only brings the cooked time
        // back to the raw reading, which is in range.
        let _ = self.accumulate_offset(now, corr, 0.0);
    }

    /// The driver found that the clock jumped by itself, removing `offset`
    /// (positive = time went back); `now` is read after the jump. The pending
    /// correction is dropped and `dispersion` is added to all samples.
    pub fn notify_external_step(&mut self, now: UnixTime, offset: f64, dispersion: f64) {
        self.cancel_offset_correction(now);
        let cooked = self.cook(now);
        self.notify(now, cooked, 0.0, offset, ChangeKind::UnknownStep);
        self.notices.push_back(ClockNotice::Dispersion(dispersion));
    }

    /// A leap second of `leap` seconds (+1 inserted, −1 deleted) just passed on
    /// the true time scale: tell the statistics as if the clock had been
    /// stepped by it. The clock itself is corrected separately.
    pub fn notify_leap(&mut self, now: UnixTime, leap: i32) {
        let cooked = self.cook(now);
        self.notify(now, cooked, 0.0, -f64::from(leap), ChangeKind::Step);
    }

    /// Tells the kernel whether we are synchronised and how wrong the clock
    /// may be; the offset still being slewed is added to both errors.
    pub fn set_sync_status(&mut self, synchronised: bool, est_error: f64, max_error: f64) {
        let pending = self.offset_register.abs();
        self.actions.push_back(ClockAction::SetSyncStatus {
            synchronised,
            est_error: est_error.max(pending),
            max_error: max_error + pending,
        });
    }

    /// Arms (or with anything but Insert/Delete, disarms) the kernel's leap
    /// and, when known (non-zero), sets its TAI-UTC offset.
    pub fn set_system_leap(&mut self, leap: LeapStatus, tai_offset: i32) {
        self.actions
            .push_back(ClockAction::SetLeap { leap, tai_offset });
    }

    /// Stops the slew for good (before exiting): the clock keeps only the
    /// frequency correction, the pending offset is abandoned.
    pub fn finish(&mut self, now: UnixTime) {
        self.advance_register(now);
        self.slew_freq = 0.0;
        self.deadline = None;
        let max = self.cfg.clock_max_frequency_ppm;
        let correction_ppm = -self.compensated_freq().clamp(-max, max);
        self.actions
            .push_back(ClockAction::SetFrequency { correction_ppm });
        self.applied_correction = Some(correction_ppm);
    }

    /// When the running slew must be re-evaluated (raw time).
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.deadline
    }

    /// Ends or renews the slew when its time has come.
    pub fn handle_timeout(&mut self, now: UnixTime) {
        if self.deadline.is_some_and(|d| d <= now) {
            self.update_slew(now);
        }
    }

    /// The next adjustment to apply to the clock, oldest first.
    pub fn poll_action(&mut self) -> Option<ClockAction> {
        self.actions.pop_front()
    }

    /// The next notice for the sources' statistics, oldest first.
    pub fn poll_notice(&mut self) -> Option<ClockNotice> {
        self.notices.pop_front()
    }

    /// The next event to log, oldest first.
    pub fn poll_event(&mut self) -> Option<DisciplineEvent> {
        self.events.pop_front()
    }

    pub(crate) fn push_event(&mut self, event: DisciplineEvent) {
        self.events.push_back(event);
    }

    /// How many notices are queued (so a wrapper can look at the ones an
    /// operation added).
    pub(crate) fn notice_count(&self) -> usize {
        self.notices.len()
    }

    pub(crate) fn notice_at(&self, i: usize) -> Option<ClockNotice> {
        self.notices.get(i).copied()
    }

    fn max_freq_change_delay(&self) -> f64 {
        self.cfg.max_freq_change_delay * (1.0 + self.cfg.clock_max_frequency_ppm / 1e6)
    }

    fn notify(
        &mut self,
        raw: UnixTime,
        cooked: UnixTime,
        dfreq: f64,
        doffset: f64,
        kind: ChangeKind,
    ) {
        self.notices.push_back(ClockNotice::Changed(ClockChange {
            raw,
            cooked,
            dfreq,
            doffset,
            kind,
        }));
    }

    fn clamp_drift(&mut self, ppm: f64) -> f64 {
        // The time must never stop or run backwards: maxdrift is capped at
        // 100000 ppm whatever the configuration says.
        let max = self.cfg.max_drift_ppm.clamp(0.0, 100_000.0);
        if (-max..=max).contains(&ppm) {
            return ppm;
        }
        self.events
            .push_back(DisciplineEvent::FrequencyClamped { requested_ppm: ppm });
        if ppm.is_nan() {
            0.0
        } else {
            ppm.clamp(-max, max)
        }
    }

    fn check_offset(&mut self, t: UnixTime, offset: f64) -> Result<(), LocalClockError> {
        // Written so that NaN fails.
        let sane_size = offset > -MAX_ADJUSTMENT && offset < MAX_ADJUSTMENT;
        let result = t.secs() as f64 - offset;
        if sane_size && (0.0..MAX_TIME_SECS).contains(&result) {
            return Ok(());
        }
        self.events
            .push_back(DisciplineEvent::InvalidAdjustment { offset });
        Err(LocalClockError::InvalidOffset(offset))
    }

    /// Subtracts from the register what the running slew removed since it
    /// started, and restarts the slew's clock at `now`.
    fn advance_register(&mut self, now: UnixTime) {
        let elapsed = now.diff_secs(self.slew_start);
        self.offset_register -= self.slew_freq * elapsed;
        self.slew_start = now;
        // Remember how late the previous slew was ended, decaying the old
        // maximum even when it ended early (a tiny term avoids denormals).
        self.slew_excess = (self.slew_excess + 1e-9) * SLEW_EXCESS_DURATION_DECAY;
        let excess = elapsed - self.slew_duration;
        if self.slew_excess < excess && excess <= MAX_SLEW_EXCESS_DURATION {
            self.slew_excess = excess;
        }
        // Until update_slew plans the next one.
        self.slew_duration = f64::INFINITY;
    }

    /// Plans a new slew for the offset still pending and sets the frequency.
    fn update_slew(&mut self, now: UnixTime) {
        self.advance_register(now);
        if self.cfg.no_control {
            self.keep_offset();
            return;
        }
        let reg = self.offset_register;
        // How long to take: the suggested rate, but no faster than a second
        // and than a few times the recent scheduling lateness.
        let wanted = if reg.abs() < MIN_OFFSET_CORRECTION {
            MAX_SLEW_DURATION
        } else {
            (self.correction_rate / reg.abs())
                .max(MIN_SLEW_DURATION)
                .max(MIN_SLEW_DURATION_EXCESS_RATIO * self.slew_excess)
        };
        let max_corr = self.cfg.max_slew_rate_ppm / 1e6;
        let corr_freq = (reg / wanted).clamp(-max_corr, max_corr);
        let clock_max = self.cfg.clock_max_frequency_ppm;
        let base = self.compensated_freq();
        let total = (base + corr_freq * (1e6 - base)).clamp(-clock_max, clock_max);
        if self.applied_correction != Some(-total) {
            self.actions.push_back(ClockAction::SetFrequency {
                correction_ppm: -total,
            });
            self.applied_correction = Some(-total);
        }
        // The slew rate relative to the clock's corrected rate: with the clock
        // running at (1 - f·1e-6) of its natural rate, switching from `base`
        // to `total` removes this much offset per raw second.
        let old_slew_freq = self.slew_freq;
        self.slew_freq = (total - base) / (1e6 - total);
        self.slew_error = ((old_slew_freq - self.slew_freq) * self.max_freq_change_delay()).abs();
        if self.slew_error >= MIN_OFFSET_CORRECTION {
            self.notices
                .push_back(ClockNotice::Dispersion(self.slew_error));
        }
        // The slew ends when the offset is gone; if it cannot progress (zero
        // or wrong-signed rate after clamping), look again later.
        let duration = if reg.abs() < MIN_OFFSET_CORRECTION || reg * self.slew_freq <= 0.0 {
            MAX_SLEW_DURATION
        } else {
            (reg / self.slew_freq).clamp(MIN_SLEW_DURATION, MAX_SLEW_DURATION)
        };
        self.slew_duration = duration;
        self.deadline = Some(now.add_secs(duration));
    }
}

impl LocalClock {
    /// Without clock control the pending offset stays in the corrected time
    /// (chrony's null driver): no slew, only the estimated frequency is set.
    fn keep_offset(&mut self) {
        let clock_max = self.cfg.clock_max_frequency_ppm;
        let total = self.compensated_freq().clamp(-clock_max, clock_max);
        if self.applied_correction != Some(-total) {
            self.actions.push_back(ClockAction::SetFrequency {
                correction_ppm: -total,
            });
            self.applied_correction = Some(-total);
        }
        self.slew_freq = 0.0;
        self.slew_error = 0.0;
        self.slew_duration = f64::INFINITY;
        self.deadline = None;
    }
}

#[cfg(test)]
mod tests;
