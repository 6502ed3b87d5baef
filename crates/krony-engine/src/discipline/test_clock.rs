//! A tiny ideal clock for tests: it applies [`ClockAction`]s exactly and
//! knows its true offset.

use crate::UnixTime;
use crate::clock::{ClockAction, LeapStatus};

/// A clock with a natural frequency error that follows frequency corrections
/// (`1 + c·1e-6` times its natural rate) and steps.
#[derive(Debug, Clone)]
pub(crate) struct IdealClock {
    truth: UnixTime,
    /// Raw reading minus true time, in seconds.
    ahead: f64,
    /// Natural frequency error (relative, positive = fast).
    natural: f64,
    correction_ppm: f64,
    pub leap: LeapStatus,
    pub synchronised: bool,
    pub steps: Vec<f64>,
    pub max_abs_correction_ppm: f64,
}

impl IdealClock {
    pub fn new(truth: UnixTime, ahead: f64, natural: f64) -> Self {
        IdealClock {
            truth,
            ahead,
            natural,
            correction_ppm: 0.0,
            leap: LeapStatus::Unsynchronised,
            synchronised: false,
            steps: Vec::new(),
            max_abs_correction_ppm: 0.0,
        }
    }

    /// Lets `dt` seconds of true time pass.
    pub fn advance(&mut self, dt: f64) {
        let rate = (1.0 + self.natural) * (1.0 + self.correction_ppm * 1e-6);
        self.ahead += dt * (rate - 1.0);
        self.truth = self.truth.add_secs(dt);
    }

    /// Lets true time pass until the raw reading reaches `raw` (approximately).
    pub fn advance_to_raw(&mut self, raw: UnixTime) {
        let rate = (1.0 + self.natural) * (1.0 + self.correction_ppm * 1e-6);
        let dt = raw.diff_secs(self.raw()) / rate;
        if dt > 0.0 {
            self.advance(dt);
        }
    }

    pub fn apply(&mut self, action: ClockAction) {
        match action {
            ClockAction::SetFrequency { correction_ppm } => {
                self.correction_ppm = correction_ppm;
                self.max_abs_correction_ppm = self.max_abs_correction_ppm.max(correction_ppm.abs());
            }
            ClockAction::Step { offset } => {
                self.ahead += offset;
                self.steps.push(offset);
            }
            ClockAction::SetLeap { leap, .. } => self.leap = leap,
            ClockAction::SetSyncStatus { synchronised, .. } => self.synchronised = synchronised,
        }
    }

    pub fn raw(&self) -> UnixTime {
        self.truth.add_secs(self.ahead)
    }

    pub fn truth(&self) -> UnixTime {
        self.truth
    }

    /// How far the raw reading is ahead of true time.
    pub fn ahead(&self) -> f64 {
        self.ahead
    }

    pub fn correction_ppm(&self) -> f64 {
        self.correction_ppm
    }
}
