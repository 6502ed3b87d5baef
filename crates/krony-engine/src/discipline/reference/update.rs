//! The steps of a reference update: frequency weighting, maxchange, step or
//! slew, logging, and the special start-up modes.

use super::{MIN_SKEW, RMS_OFFSET_WEIGHT, Reference, SyncUpdate};
use crate::UnixTime;
use crate::discipline::config::RefMode;
use crate::discipline::events::DisciplineEvent;
use crate::discipline::tracking::{TrackingLogLine, refid_text};

impl Reference {
    /// Combines the frequency we run with (error 0 by construction, skew
    /// `self.skew`) and the measured one, weighting each by the inverse of
    /// its squared skew, the old estimate counting three times. Returns the
    /// frequency change to make, the new skew and the residual frequency.
    pub(super) fn clock_estimates(
        &self,
        manual: bool,
        measured_freq: f64,
        measured_skew: f64,
    ) -> (f64, f64, f64) {
        let expected_skew = self.skew;
        let gain = if manual {
            1.0
        } else if measured_skew.abs() > self.max_update_skew {
            // The measurement is too unreliable to move the frequency.
            0.0
        } else {
            let e2 = 3.0 * expected_skew * expected_skew;
            e2 / (e2 + measured_skew * measured_skew)
        };
        let gain = if gain.is_nan() {
            1.0
        } else {
            gain.clamp(0.0, 1.0)
        };
        let freq = gain * measured_freq;
        let residual = measured_freq - freq;
        // The two estimates' disagreement adds to the uncertainty.
        let extra_skew = (freq * freq * (1.0 - gain) + residual * residual * gain).sqrt();
        let skew = expected_skew + gain * (measured_skew - expected_skew) + extra_skew;
        (freq, skew.max(MIN_SKEW), residual)
    }

    /// `maxchange`: whether the offset may be corrected.
    pub(super) fn is_offset_ok(&mut self, offset: f64) -> bool {
        let Some(mc) = self.max_change.as_mut() else {
            return true;
        };
        if mc.start < 0 {
            return true;
        }
        if mc.start > 0 {
            mc.start -= 1;
            return true;
        }
        if offset.abs() <= mc.offset {
            return true;
        }
        let (max, exiting) = (mc.offset, mc.ignore == 0);
        if mc.ignore > 0 {
            mc.ignore -= 1;
        }
        self.clock.push_event(DisciplineEvent::MaxChangeExceeded {
            offset,
            max,
            exiting,
        });
        if exiting {
            self.end_mode(false);
        }
        false
    }

    /// `makestep`: whether this update steps (uses up one of the limit).
    fn is_step_limit_reached(&mut self, offset: f64, uncorrected: f64) -> bool {
        let Some(ms) = self.make_step.as_mut() else {
            return false;
        };
        if ms.limit == 0 {
            return false;
        }
        if ms.limit > 0 {
            ms.limit -= 1;
        }
        (offset - uncorrected).abs() > ms.threshold
    }

    /// Applies the new frequency and the offset (slew, or step per
    /// `makestep`). Returns the raw time after a step.
    pub(super) fn correct_clock(
        &mut self,
        now: UnixTime,
        offset: f64,
        uncorrected: f64,
        frequency: f64,
        update_interval: f64,
    ) -> UnixTime {
        // A step replaces the pending correction: cancel it and step the whole
        // offset of the raw clock.
        let (accumulate, step) = if self.is_step_limit_reached(offset, uncorrected) {
            (uncorrected, offset - uncorrected)
        } else {
            (offset, 0.0)
        };
        // Correct an offset of one standard deviation in `corrtimeratio`
        // update intervals; larger offsets proportionally faster.
        let corr_rate = self.cfg.correction_time_ratio * 0.5 * self.offset_sd * update_interval;
        self.with_clock(|c| {
            // An invalid offset is logged by the clock; the frequency is then
            // left alone too, as in chrony.
            let _ = c.accumulate_frequency_and_offset(now, frequency, accumulate, corr_rate);
        });
        if offset.abs() > self.cfg.log_change_threshold {
            self.clock
                .push_event(DisciplineEvent::ClockWrong { offset });
        }
        if self
            .cfg
            .mail_change_threshold
            .is_some_and(|t| offset.abs() > t)
        {
            self.clock
                .push_event(DisciplineEvent::MailChange { offset });
        }
        if step == 0.0 {
            return now;
        }
        let mut stepped = false;
        self.with_clock(|c| stepped = c.apply_step(now, step).is_ok());
        if stepped {
            self.clock
                .push_event(DisciplineEvent::ClockStepped { offset: step });
            now.add_secs(-step)
        } else {
            self.with_clock(|c| {
                let _ = c.accumulate_offset(now, step, 0.0);
            });
            now
        }
    }

    /// Root dispersion grown from the reference time to cooked time `t`
    /// (RFC 5905 §11.2: it grows with the frequency tolerance).
    pub(super) fn root_dispersion_at(&self, t: UnixTime) -> f64 {
        let Some(rt) = self.ref_time else {
            return 1.0;
        };
        let growth = self.skew + self.residual_freq.abs() + self.cfg.max_clock_error_ppm * 1e-6;
        self.root_dispersion + t.diff_secs(rt).abs() * growth
    }

    /// Tells the kernel our status and error bounds.
    pub(super) fn update_sync_status(&mut self, cooked: UnixTime) {
        let elapsed = self.ref_time.map_or(0.0, |rt| cooked.diff_secs(rt).abs());
        let est_error = self.offset_sd + elapsed * self.frequency_sd;
        let max_error = self.root_delay / 2.0 + self.root_dispersion_at(cooked);
        self.clock
            .set_sync_status(self.synchronised, est_error, max_error);
    }

    /// A random shift in [-1, 0] s for served reference times, or 0 without
    /// a seed.
    pub(super) fn fuzz(&mut self) -> f64 {
        let Some(state) = self.rng_state.as_mut() else {
            return 0.0;
        };
        // splitmix64: small, fast, good enough to hide a timestamp.
        *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        -((z >> 11) as f64 / (1u64 << 53) as f64)
    }

    /// Logging, driftfile and RMS offset after an update.
    pub(super) fn after_update(
        &mut self,
        now: UnixTime,
        u: &SyncUpdate,
        offset: f64,
        uncorrected: f64,
        orig_root_distance: f64,
        update_interval: f64,
    ) {
        let cooked = self.clock.cook(now);
        self.log_tracking(
            cooked,
            u.combined_sources,
            offset,
            u.offset_sd,
            uncorrected,
            orig_root_distance,
        );
        if let Some(interval) = self.cfg.driftfile_interval {
            self.drift_file_age += update_interval;
            if self.drift_file_age >= interval {
                let (frequency_ppm, skew_ppm) = self.driftfile_values();
                self.clock.push_event(DisciplineEvent::WriteDriftfile {
                    frequency_ppm,
                    skew_ppm,
                });
                self.drift_file_age = 0.0;
            }
        }
        if let Some(fb) = &mut self.fallback {
            let freq = self.clock.frequency_ppm();
            fb.note_update(self.synchronised, freq, update_interval);
            if self.synchronised {
                self.schedule_fallback(now);
            }
        }
        // RMS offset: follow the first offsets closely until they stop
        // shrinking, then average exponentially.
        let sq = offset * offset;
        if self.avg2_moving {
            self.avg2_offset += RMS_OFFSET_WEIGHT * (sq - self.avg2_offset);
        } else {
            if self.avg2_offset > 0.0 && self.avg2_offset < sq {
                self.avg2_moving = true;
            }
            self.avg2_offset = sq;
        }
    }

    /// Emits a `tracking` log line if enabled.
    pub(super) fn log_tracking(
        &mut self,
        cooked: UnixTime,
        combined_sources: u32,
        offset: f64,
        offset_sd: f64,
        uncorrected: f64,
        orig_root_distance: f64,
    ) {
        if !self.cfg.log_tracking {
            return;
        }
        let max_error = orig_root_distance + self.last_sys_offset.abs();
        self.last_sys_offset = offset - uncorrected;
        let line = TrackingLogLine {
            time: cooked,
            source: self
                .ref_ip
                .map_or_else(|| refid_text(self.ref_id), |ip| ip.to_string()),
            stratum: self.stratum,
            frequency_ppm: self.clock.frequency_ppm(),
            skew_ppm: self.skew * 1e6,
            offset,
            leap: self.leap.status,
            combined_sources,
            offset_sd,
            uncorrected_offset: uncorrected,
            root_delay: self.root_delay,
            root_dispersion: self.root_dispersion_at(cooked),
            max_error,
        };
        self.clock.push_event(DisciplineEvent::TrackingLog(line));
    }

    /// `initstepslew`, `-q` and `-Q`: one measurement (or none), then end.
    pub(super) fn special_mode_sync(&mut self, now: UnixTime, offset: Option<f64>) {
        let initstepslew = match self.mode {
            RefMode::InitStepSlew { .. } => true,
            RefMode::UpdateOnce | RefMode::PrintOnce => false,
            RefMode::Normal | RefMode::Ignore => return,
        };
        let Some(offset) = offset else {
            self.clock
                .push_event(DisciplineEvent::NoSuitableSource { initstepslew });
            self.end_mode(false);
            return;
        };
        match self.mode {
            RefMode::InitStepSlew { threshold } => {
                let step = offset.abs() >= threshold;
                self.clock
                    .push_event(DisciplineEvent::InitialOffset { offset, step });
                self.with_clock(|c| {
                    let _ = if step {
                        c.apply_step(now, offset)
                    } else {
                        c.accumulate_offset(now, offset, 0.0)
                    };
                });
            }
            _ => {
                let step = self.mode == RefMode::UpdateOnce;
                self.clock
                    .push_event(DisciplineEvent::OnceResult { offset, step });
                if step {
                    self.with_clock(|c| {
                        let _ = c.apply_step(now, offset);
                    });
                }
            }
        }
        self.end_mode(true);
    }

    /// Ends a special mode (or normal operation, for maxchange).
    pub(super) fn end_mode(&mut self, success: bool) {
        self.mode = RefMode::Ignore;
        self.clock
            .push_event(DisciplineEvent::ModeEnded { success });
    }
}
