//! The median sample filter (chrony's `samplefilt.c`, the `filter N` option of
//! NTP sources and the `filter` option of reference clocks).
//!
//! Samples collected over several polls are reduced to one: the ones with a
//! small dispersion are kept, sorted by offset, the middle part is averaged,
//! and the dispersion of the result says how well the kept samples agree.
//! Offsets here use the NTP sign of [`Sample`] (positive = source ahead).

use std::collections::VecDeque;

use super::regress::{chi2_coef, weighted_regression};
use super::{Sample, SampleError, add_secs_truncated, adjust_time};

/// Bounds on the number of samples a filter holds (chrony's limits).
const MIN_SAMPLES: usize = 1;
const MAX_SAMPLES: usize = 256;

/// The largest dispersion of a filtered NTP sample, 16 s: the NTP "maximum
/// distance" (RFC 5905 §7.2, MAXDISP).
pub const NTP_MAX_DISPERSION: f64 = 16.0;

/// Below this variance (1e-20 s², a dispersion of 0.1 ns) the estimate is
/// treated as this value, so that the dispersion is never zero.
const MIN_VARIANCE: f64 = 1e-20;

/// After this many degrees of freedom, the long-term variance average turns
/// from a plain mean into an exponential moving average.
const AVG_VAR_DOF: f64 = 50.0;

/// How a [`SampleFilter`] is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FilterParams {
    /// The fewest samples from which an output is made (1..=256).
    pub min_samples: usize,
    /// The most samples held; older ones are overwritten (1..=256, at least
    /// `min_samples`).
    pub max_samples: usize,
    /// Outputs with a larger dispersion (seconds) are discarded; 0 disables it.
    pub max_dispersion: f64,
    /// Fraction of the samples around the median that are averaged (0 = the
    /// median alone, 1 = all but the extremes).
    pub combine_ratio: f64,
    /// The precision of the local clock in seconds: the first estimate of the
    /// samples' variance.
    pub precision: f64,
}

impl FilterParams {
    /// The filter of an NTP source with the `filter length` option: at least
    /// one sample, up to `length`, only the median combined.
    pub fn ntp(length: usize, precision: f64) -> Self {
        FilterParams {
            min_samples: 1,
            max_samples: length,
            max_dispersion: NTP_MAX_DISPERSION,
            combine_ratio: 0.0,
            precision,
        }
    }

    /// The filter of a reference clock: 60% of the samples nearest the median
    /// are averaged.
    pub fn refclock(length: usize, max_dispersion: f64, precision: f64) -> Self {
        FilterParams {
            min_samples: 1,
            max_samples: length,
            max_dispersion,
            combine_ratio: 0.6,
            precision,
        }
    }
}

/// Reduces the samples of several polls to one.
///
/// Call [`accumulate`](Self::accumulate) for each new sample and
/// [`output`](Self::output) when a filtered sample is wanted (on each poll
/// when the buffer is full, in chrony); clock changes go to
/// [`slew_samples`](Self::slew_samples), [`correct_offset`](Self::correct_offset)
/// and [`add_dispersion`](Self::add_dispersion).
#[derive(Debug, Clone)]
pub struct SampleFilter {
    min_samples: usize,
    max_samples: usize,
    max_var: f64,
    combine_ratio: f64,
    /// The held samples, oldest first (times strictly increasing).
    samples: VecDeque<Sample>,
    /// The newest sample after an output emptied the buffer: it can still be
    /// read with `last_sample`, so it is kept in step with clock changes.
    kept_last: Option<Sample>,
    /// Degrees of freedom accumulated into `avg_var` (it stops counting once
    /// the average has become a moving one).
    avg_var_n: usize,
    /// Long-term average variance of the filtered samples.
    avg_var: f64,
}

impl SampleFilter {
    /// A new, empty filter; out-of-range parameters are clamped.
    pub fn new(params: FilterParams) -> Self {
        let min_samples = params.min_samples.clamp(MIN_SAMPLES, MAX_SAMPLES);
        let max_samples = params
            .max_samples
            .clamp(MIN_SAMPLES, MAX_SAMPLES)
            .max(min_samples);
        let combine_ratio = if params.combine_ratio.is_nan() {
            0.0
        } else {
            params.combine_ratio.clamp(0.0, 1.0)
        };
        SampleFilter {
            min_samples,
            max_samples,
            max_var: params.max_dispersion * params.max_dispersion,
            combine_ratio,
            samples: VecDeque::with_capacity(max_samples),
            kept_last: None,
            avg_var_n: 0,
            avg_var: params.precision * params.precision,
        }
    }

    /// Adds a sample, overwriting the oldest when full.
    ///
    /// # Errors
    /// [`SampleError::NonIncreasingTime`] if it is not newer than the last
    /// held sample, [`SampleError::NonFinite`] if a field is NaN or infinite;
    /// the sample is then ignored.
    pub fn accumulate(&mut self, sample: Sample) -> Result<(), SampleError> {
        if !sample.is_finite() {
            return Err(SampleError::NonFinite);
        }
        if self
            .samples
            .back()
            .is_some_and(|last| last.time >= sample.time)
        {
            return Err(SampleError::NonIncreasingTime);
        }
        if self.samples.len() == self.max_samples {
            self.samples.pop_front();
        }
        self.samples.push_back(sample);
        self.kept_last = None;
        Ok(())
    }

    /// The newest sample accumulated, even if it was already used in an
    /// output (until [`reset`](Self::reset)).
    pub fn last_sample(&self) -> Option<&Sample> {
        self.samples.back().or(self.kept_last.as_ref())
    }

    /// The number of samples held.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether no samples are held.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// The most samples held.
    pub fn max_samples(&self) -> usize {
        self.max_samples
    }

    /// The long-term average dispersion of the outputs (seconds), which
    /// chrony adds to a locked reference clock's root dispersion.
    pub fn avg_sample_dispersion(&self) -> f64 {
        self.avg_var.sqrt()
    }

    /// Drops all samples, including the last one.
    pub fn reset(&mut self) {
        self.samples.clear();
        self.kept_last = None;
    }

    /// Combines the held samples into one and empties the buffer (keeping the
    /// last sample readable).
    ///
    /// `None` when fewer than `min_samples` are held, or when the result's
    /// variance exceeds `max_dispersion²` (the samples are then kept).
    pub fn output(&mut self) -> Option<Sample> {
        let selected = self.select();
        if selected.is_empty() {
            return None;
        }
        let result = self.combine(&selected)?;
        self.kept_last = self.samples.back().copied();
        self.samples.clear();
        Some(result)
    }

    /// Indices (oldest first) of the samples to combine; empty if too few.
    fn select(&self) -> Vec<usize> {
        let used = self.samples.len();
        if used < self.min_samples || used == 0 {
            return Vec::new();
        }
        let mut selected: Vec<usize> = Vec::with_capacity(used);
        // With more than four samples, prefer the precise ones: those within
        // 1.5× the smallest dispersion.
        if used > 4 {
            let min_disp = self
                .samples
                .iter()
                .map(|s| s.peer_dispersion)
                .fold(f64::INFINITY, f64::min);
            selected
                .extend((0..used).filter(|&i| self.samples[i].peer_dispersion <= 1.5 * min_disp));
        }
        if selected.len() < 4 {
            selected.clear();
            selected.extend(0..used);
        }
        selected.sort_by(|&a, &b| self.samples[a].offset.total_cmp(&self.samples[b].offset));
        let n = selected.len();
        // Keep the middle of the offsets: drop `from` at each end.
        let from = if n > 2 {
            // Truncation as in chrony (the value is non-negative).
            let f = (n as f64 * (1.0 - self.combine_ratio) / 2.0) as usize;
            f.max(1).min((n - 1) / 2)
        } else {
            0
        };
        let mut middle = selected[from..n - from].to_vec();
        middle.sort_unstable();
        middle
    }

    /// The mean of the selected samples, with a dispersion from their spread.
    fn combine(&mut self, selected: &[usize]) -> Option<Sample> {
        let n = selected.len();
        let last = self.samples[*selected.last()?];
        let x: Vec<f64> = selected
            .iter()
            .map(|&i| self.samples[i].time.diff_secs(last.time))
            .collect();
        let y: Vec<f64> = selected.iter().map(|&i| self.samples[i].offset).collect();
        let mean_x = x.iter().sum::<f64>() / n as f64;
        let mean_y = y.iter().sum::<f64>() / n as f64;

        let (mut var, mut disp, dof) = self.spread(&x, &y, selected, mean_x, mean_y);
        if var < MIN_VARIANCE {
            var = MIN_VARIANCE;
            disp = var.sqrt();
        }
        if self.max_var > 0.0 && var > self.max_var {
            return None;
        }
        let prev_avg_var = self.update_avg_var(var, dof);
        // Unless this estimate is clearly better (below the 90% chi-square
        // bound of the long-term average), scale the dispersion to the average
        // variance: fewer jumps in the weights of the regression downstream.
        if var * dof as f64 / chi2_coef(dof) < prev_avg_var {
            disp = self.avg_var.sqrt() * disp / var.sqrt();
        }

        let mean = |f: fn(&Sample) -> f64| {
            selected.iter().map(|&i| f(&self.samples[i])).sum::<f64>() / n as f64
        };
        Some(Sample {
            time: add_secs_truncated(last.time, mean_x),
            offset: mean_y,
            peer_delay: mean(|s| s.peer_delay),
            peer_dispersion: disp.max(mean(|s| s.peer_dispersion)),
            root_delay: mean(|s| s.root_delay),
            root_dispersion: disp.max(mean(|s| s.root_dispersion)),
        })
    }

    /// (variance, dispersion, degrees of freedom) of the selected offsets.
    fn spread(
        &self,
        x: &[f64],
        y: &[f64],
        selected: &[usize],
        mean_x: f64,
        mean_y: f64,
    ) -> (f64, f64, usize) {
        let n = y.len();
        if n >= 4 {
            // A line through the samples (weighted by their dispersion), with
            // the time axis at the mean sample time: the intercept's SD is the
            // uncertainty of the mean offset even if the clock drifted.
            let xc: Vec<f64> = x.iter().map(|v| v - mean_x).collect();
            let w: Vec<f64> = selected
                .iter()
                .map(|&i| self.samples[i].peer_dispersion)
                .collect();
            if let Some(fit) = weighted_regression(&xc, y, &w) {
                return (fit.variance, fit.intercept_sd, n - 2);
            }
            // Zero dispersions or equal times: fall back to the plain SD.
        }
        if n >= 2 {
            let ss: f64 = y.iter().map(|v| (v - mean_y) * (v - mean_y)).sum();
            let var = ss / (n - 1) as f64;
            (var, var.sqrt(), n - 1)
        } else {
            (self.avg_var, self.avg_var.sqrt(), 1)
        }
    }

    /// Folds a new variance estimate into the long-term average; returns the
    /// average to compare the estimate with.
    fn update_avg_var(&mut self, var: f64, dof: usize) -> f64 {
        let mut prev = self.avg_var;
        let (n, d) = (self.avg_var_n as f64, dof as f64);
        if n > AVG_VAR_DOF {
            self.avg_var += d / (d + AVG_VAR_DOF) * (var - self.avg_var);
        } else {
            self.avg_var = (self.avg_var * n + var * d) / (d + n);
            if self.avg_var_n == 0 {
                prev = self.avg_var;
            }
            self.avg_var_n += dof;
        }
        prev
    }

    /// Applies a clock change to the held samples (and the kept last one);
    /// see [`adjust_time`] for the signs.
    pub fn slew_samples(&mut self, when: crate::UnixTime, dfreq: f64, doffset: f64) {
        self.for_each_held(|s| {
            let (t, delta) = adjust_time(s.time, when, dfreq, doffset);
            s.time = t;
            s.offset -= delta;
        });
    }

    /// Corrects the held offsets after the local clock was moved back by
    /// `doffset` seconds without the change being reflected in their times.
    pub fn correct_offset(&mut self, doffset: f64) {
        self.for_each_held(|s| s.offset -= doffset);
    }

    /// Adds dispersion (seconds) to the samples in the buffer, e.g. after an
    /// unknown clock jump.
    pub fn add_dispersion(&mut self, dispersion: f64) {
        for s in &mut self.samples {
            s.peer_dispersion += dispersion;
            s.root_dispersion += dispersion;
        }
    }

    fn for_each_held(&mut self, mut f: impl FnMut(&mut Sample)) {
        self.samples.iter_mut().for_each(&mut f);
        if let Some(s) = self.kept_last.as_mut() {
            f(s);
        }
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
