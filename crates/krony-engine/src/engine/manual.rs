//! The manual reference (`settime` samples typed in by an administrator),
//! as chrony's `manual.c` keeps it: up to 16 samples, a frequency estimate
//! from a robust (least absolute deviation) line through them, and the
//! newest offset slewed out through the reference as a `MANU` update.
//!
//! Whether `settime` is permitted (`manual` directive, chronyc `manual on`)
//! is the command server's decision; the engine only keeps the samples.
//!
//! Also here: chronyc `dfreq`, the other adjustment an administrator makes
//! by hand.

use std::collections::VecDeque;

use super::Engine;
use crate::UnixTime;
use crate::discipline::{ChangeKind, ClockChange, LogLevel, adjust_time};

/// Most samples kept (chrony's `MAX_SAMPLES` in manual.c); the oldest is
/// dropped for a new one.
pub const MAX_MANUAL_SAMPLES: usize = 16;

/// Samples closer than this (seconds) to the previous one are refused.
const MIN_SAMPLE_SEPARATION: f64 = 1.0;

/// The skew a manual update claims (chrony logs it as all nines).
const MANUAL_SKEW: f64 = 0.099_999_999;

/// Latest time (s since the epoch) a `settime` value may name (the range a
/// 64-bit `time_t` converts safely, as the clock model allows).
const MAX_SANE_SECS: i64 = 9_200_000_000;

/// One `settime` sample (`chronyc manual list`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManualSample {
    /// Cooked time it was entered, moved with later clock changes.
    pub when: UnixTime,
    /// Offset (positive = our clock was fast), moved with clock changes.
    pub slewed_offset: f64,
    /// The offset as entered.
    pub orig_offset: f64,
    /// Residual of the last fit (measured minus predicted).
    pub residual: f64,
}

/// What `settime` reports back (MANUAL_TIMESTAMP2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ManualTimestamp {
    /// The offset slewed out (positive = the clock was fast), seconds.
    pub offset: f64,
    /// The frequency change, ppm.
    pub dfreq_ppm: f64,
    /// The absolute frequency afterwards, ppm.
    pub new_afreq_ppm: f64,
}

/// The sample list.
#[derive(Debug, Clone, Default)]
pub(super) struct Manual {
    samples: VecDeque<ManualSample>,
}

impl Manual {
    /// Follows a clock change; an unknown step invalidates the samples.
    pub(super) fn follow(&mut self, ch: &ClockChange) {
        if ch.kind == ChangeKind::UnknownStep {
            self.samples.clear();
        }
        for s in &mut self.samples {
            let (when, delta) = adjust_time(s.when, ch.cooked, ch.dfreq, ch.doffset);
            s.when = when;
            s.slewed_offset += delta;
        }
    }

    /// Fits the samples at cooked time `now`: the frequency error
    /// (relative, positive = fast) if at least two samples gave a line, and
    /// the intercept. The residuals are stored.
    fn estimate(&mut self) -> (Option<f64>, f64) {
        let Some(last) = self.samples.back().map(|s| s.when) else {
            return (None, 0.0);
        };
        let agos: Vec<f64> = self
            .samples
            .iter()
            .map(|s| last.diff_secs(s.when))
            .collect();
        let offsets: Vec<f64> = self.samples.iter().map(|s| s.slewed_offset).collect();
        let fit = if self.samples.len() > 1 {
            robust_line(&agos, &offsets)
        } else {
            None
        };
        let (b0, b1) = fit.unwrap_or((offsets.first().copied().unwrap_or(0.0), 0.0));
        for (s, (x, y)) in self.samples.iter_mut().zip(agos.iter().zip(&offsets)) {
            s.residual = y - (b0 + x * b1);
        }
        (fit.map(|(_, b1)| -b1), b0)
    }
}

/// The least-absolute-deviation line `y = b0 + b1·x`: such a line passes
/// through two of the points, so every pair's slope is tried with the
/// median intercept for it (at most 120 pairs for 16 samples).
fn robust_line(x: &[f64], y: &[f64]) -> Option<(f64, f64)> {
    let cost = |b1: f64| {
        let mut r: Vec<f64> = x.iter().zip(y).map(|(xi, yi)| yi - b1 * xi).collect();
        r.sort_by(f64::total_cmp);
        let b0 = r[r.len() / 2];
        let sum: f64 = x
            .iter()
            .zip(y)
            .map(|(xi, yi)| (yi - b0 - b1 * xi).abs())
            .sum();
        (sum, b0)
    };
    let mut best: Option<(f64, f64, f64)> = None;
    for i in 0..x.len() {
        for j in i + 1..x.len() {
            let dx = x[j] - x[i];
            if dx.abs() < 1e-9 {
                continue;
            }
            let b1 = (y[j] - y[i]) / dx;
            let (sum, b0) = cost(b1);
            if best.is_none_or(|(s, _, _)| sum < s) {
                best = Some((sum, b0, b1));
            }
        }
    }
    best.map(|(_, b0, b1)| (b0, b1))
}

impl Engine {
    /// chronyc `settime`: the true time was `true_time` at raw time `now`.
    /// Adds the sample, re-estimates the frequency and slews the offset out
    /// through the reference. `None` for an insane time or a sample less
    /// than a second after the previous one (chronyc "500 Failure").
    pub fn manual_settime(
        &mut self,
        now: UnixTime,
        true_time: UnixTime,
    ) -> Option<ManualTimestamp> {
        if !(0..MAX_SANE_SECS).contains(&true_time.secs()) {
            return None;
        }
        let cooked = self.cook(now);
        if let Some(last) = self.manual.samples.back() {
            if cooked.diff_secs(last.when) < MIN_SAMPLE_SEPARATION {
                return None;
            }
        }
        let offset = cooked.diff_secs(true_time);
        if self.manual.samples.len() == MAX_MANUAL_SAMPLES {
            self.manual.samples.pop_front();
        }
        self.manual.samples.push_back(ManualSample {
            when: cooked,
            slewed_offset: offset,
            orig_offset: offset,
            residual: 0.0,
        });
        let freq = self.manual_update(now, Some(offset));
        Some(ManualTimestamp {
            offset,
            dfreq_ppm: freq * 1e6,
            new_afreq_ppm: self.reference.clock().frequency_ppm(),
        })
    }

    /// chronyc `manual list`.
    pub fn manual_samples(&self) -> Vec<ManualSample> {
        self.manual.samples.iter().copied().collect()
    }

    /// chronyc `manual delete INDEX`: drops a sample and applies the
    /// estimate of the others; false for a bad index.
    pub fn manual_delete(&mut self, now: UnixTime, index: usize) -> bool {
        if self.manual.samples.remove(index).is_none() {
            return false;
        }
        self.manual_update(now, None);
        true
    }

    /// chronyc `dfreq PPM` (chrony's `LCL_AccumulateDeltaFrequency`): the
    /// frequency error being compensated (tracking's "Frequency") moves by
    /// `dfreq_ppm`, clamped to `maxdrift`; the skew is kept.
    pub fn accumulate_delta_frequency(&mut self, now: UnixTime, dfreq_ppm: f64) {
        let old = self.reference.clock().frequency_ppm();
        let new = old + dfreq_ppm * 1e-6 * (1e6 - old);
        let skew_ppm = self.reference.skew() * 1e6;
        self.reference.initial_frequency(now, new, skew_ppm);
        self.events.push_back(super::EngineEvent::log(
            LogLevel::Info,
            format!("Accumulated delta freq of {dfreq_ppm:.3}ppm"),
        ));
        self.drain_reference(now);
    }

    /// chronyc `manual reset`: forgets every sample.
    pub fn manual_reset(&mut self) {
        self.manual.samples.clear();
    }

    /// Fits the samples and gives the reference a manual update: the slew
    /// is `offset` if given (the newest sample as entered), else the fit's
    /// intercept. Returns the frequency error used (relative).
    fn manual_update(&mut self, now: UnixTime, offset: Option<f64>) -> f64 {
        let (freq, b0) = self.manual.estimate();
        let slew_by = offset.unwrap_or(b0);
        let text = match freq {
            Some(f) => format!(
                "Making a frequency change of {:.3} ppm and a slew of {slew_by:.6}",
                f * 1e6
            ),
            None => format!("Making a slew of {slew_by:.6}"),
        };
        self.events
            .push_back(super::EngineEvent::log(LogLevel::Info, text));
        let freq = freq.unwrap_or(0.0);
        let cooked = self.cook(now);
        self.reference
            .set_manual_reference(now, cooked, slew_by, freq, MANUAL_SKEW);
        self.drain_reference(now);
        freq
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn robust_line_ignores_an_outlier() {
        let x = [0.0, 10.0, 20.0, 30.0, 40.0];
        let y = [1.0, 0.9, 5.0, 0.7, 0.6];
        let (b0, b1) = robust_line(&x, &y).expect("fit");
        assert!(
            (b0 - 1.0).abs() < 1e-12 && (b1 + 0.01).abs() < 1e-12,
            "{b0} {b1}"
        );
        assert_eq!(robust_line(&[1.0, 1.0], &[0.0, 1.0]), None);
    }
}
