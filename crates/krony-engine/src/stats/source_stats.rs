//! The sample history of one source and the estimates drawn from it
//! (chrony's `sourcestats.c`).
//!
//! After each new sample, a weighted regression of offset against time over
//! the recent samples gives the source's offset, the local clock's frequency
//! relative to it (with a skew: the 99.9% confidence half-width) and the
//! spread of the samples. Samples that no longer fit a straight line are
//! dropped by the runs test, so the history adapts to the stability of the
//! clock and of the network. Offsets returned here are positive when the
//! local clock is fast (see the [module docs](super)).

use std::collections::VecDeque;

use super::dump::{self, DumpError, DumpSample};
use super::estimates::{
    DelayTestData, RegressionInfo, SelectionData, SourceReport, SourcestatsReport, TrackingData,
};
use super::regress::{
    BestFit, MIN_SAMPLES_FOR_REGRESS, RUNS_RATIO, find_best_regression, median,
    multiple_regression_b2, t_coef,
};
use super::{Sample, SampleError, adjust_time};
use crate::UnixTime;
use crate::clock::LeapStatus;

/// The most samples held for the regression (plus as many older ones kept
/// for the runs test).
pub const MAX_SAMPLES: usize = 64;

/// chrony's default `minsamples`.
pub const DEFAULT_MIN_SAMPLES: usize = 6;

/// The frequency error assumed when nothing is known: 2000 ppm.
const WORST_CASE_FREQ_BOUND: f64 = 2000.0e-6;

/// Bounds on the skew (dimensionless).
const MIN_SKEW: f64 = 1.0e-12;
const MAX_SKEW: f64 = 1.0;

/// The smallest standard deviation reported, 1 ns.
const MIN_STDDEV: f64 = 1.0e-9;

/// The offset standard deviation assumed when nothing is known, 4 s.
const WORST_CASE_STDDEV_BOUND: f64 = 4.0;

/// The assumed ratio of the samples' offset SD to the spread of their peer
/// distances (delay/2 + dispersion), used to turn distances into weights.
const SD_TO_DIST_RATIO: f64 = 0.7;

/// The largest jitter asymmetry: all of the jitter in one direction.
const MAX_ASYMMETRY: f64 = 0.5;
/// The smallest estimated asymmetry that counts towards correcting offsets.
const MIN_ASYMMETRY: f64 = 0.45;
/// How many successive estimates of the same sign enable the correction.
const MIN_ASYMMETRY_RUN: i32 = 10;
/// The bound of the counter of successive estimates.
const MAX_ASYMMETRY_RUN: i32 = 1000;

/// `MAX(lo, MIN(x, hi))`: unlike `f64::clamp`, this never panics and `lo`
/// wins when `lo > hi`, as in chrony's CLAMP.
fn c_clamp(lo: f64, x: f64, hi: f64) -> f64 {
    let m = if x < hi { x } else { hi };
    if lo > m { lo } else { m }
}

/// How a [`SourceStats`] is set up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatsParams {
    /// The fewest samples the runs test may leave (`minsamples`, default 6).
    pub min_samples: usize,
    /// The most samples held (`maxsamples`; 0 means [`MAX_SAMPLES`]).
    pub max_samples: usize,
    /// A fixed minimum round-trip delay (`mindelay`), 0 to use the smallest
    /// delay seen. Smaller delays are mirrored above it.
    pub min_delay: f64,
    /// Jitter asymmetry (`asymmetry`): 0 disables the correction, within
    /// ±0.5 it is used as given, beyond (the NTP default 1.0) it is
    /// estimated from the samples.
    pub asymmetry: f64,
    /// The precision of the local clock (seconds).
    pub precision: f64,
    /// chrony's `maxjitter` (default 1 s): the SD reported when `max_samples`
    /// is below three, so that such a source can still be selected.
    pub max_jitter: f64,
}

impl StatsParams {
    /// The defaults of an NTP source (asymmetry estimated).
    pub fn ntp(precision: f64) -> Self {
        StatsParams {
            min_samples: DEFAULT_MIN_SAMPLES,
            max_samples: MAX_SAMPLES,
            min_delay: 0.0,
            asymmetry: 1.0,
            precision,
            max_jitter: 1.0,
        }
    }

    /// The defaults of a reference clock (no asymmetry correction).
    pub fn refclock(precision: f64) -> Self {
        StatsParams {
            asymmetry: 0.0,
            ..Self::ntp(precision)
        }
    }
}

impl Default for StatsParams {
    /// [`StatsParams::ntp`] with a 1 ns clock precision.
    fn default() -> Self {
        Self::ntp(1e-9)
    }
}

/// What [`SourceStats::accumulate_sample`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accumulated {
    /// The sample was added.
    Added,
    /// The sample was not newer than the last one: the history was discarded
    /// and the sample added to the empty history (chrony logs "Out of order
    /// sample detected, discarding history for ...").
    HistoryReset,
}

/// One stored sample. Offsets are local-clock-fast positive.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Stored {
    time: UnixTime,
    /// Corrected for clock changes since the measurement.
    offset: f64,
    /// As measured.
    orig_offset: f64,
    peer_delay: f64,
    peer_dispersion: f64,
    root_delay: f64,
    root_dispersion: f64,
    stratum: u8,
    leap: LeapStatus,
}

/// The sample history of one source; see the [module docs](self).
///
/// Per sample: [`accumulate_sample`](Self::accumulate_sample) then
/// [`do_new_regression`](Self::do_new_regression). Queries take the current
/// time. Clock changes go to [`slew_samples`](Self::slew_samples),
/// [`correct_offset`](Self::correct_offset) and
/// [`add_dispersion`](Self::add_dispersion).
#[derive(Debug, Clone)]
pub struct SourceStats {
    min_samples: usize,
    max_samples: usize,
    fixed_min_delay: f64,
    fixed_asymmetry: f64,
    precision: f64,
    max_jitter: f64,
    /// Oldest first: `runs` samples kept only for the runs test, then the
    /// samples of the regression.
    samples: VecDeque<Stored>,
    runs: usize,
    regression_ok: bool,
    /// Index among the regression samples of the one giving the smallest
    /// root distance.
    best: usize,
    estimated_offset: f64,
    estimated_offset_sd: f64,
    offset_time: UnixTime,
    n_runs: usize,
    asymmetry_run: i32,
    asymmetry: f64,
    estimated_frequency: f64,
    estimated_frequency_sd: f64,
    skew: f64,
    std_dev: f64,
    /// The figures of the last successful regression, until taken (for
    /// the `statistics` log).
    last_regression: Option<RegressionInfo>,
}

impl SourceStats {
    /// An empty history; out-of-range sample counts are clamped.
    pub fn new(params: StatsParams) -> Self {
        let max_samples = match params.max_samples {
            0 => MAX_SAMPLES,
            n => n.clamp(1, MAX_SAMPLES),
        };
        let mut s = SourceStats {
            min_samples: params.min_samples.clamp(1, max_samples),
            max_samples,
            fixed_min_delay: params.min_delay,
            fixed_asymmetry: params.asymmetry,
            precision: params.precision,
            max_jitter: params.max_jitter,
            samples: VecDeque::with_capacity(MAX_SAMPLES * RUNS_RATIO),
            runs: 0,
            regression_ok: false,
            best: 0,
            estimated_offset: 0.0,
            estimated_offset_sd: WORST_CASE_STDDEV_BOUND,
            offset_time: UnixTime::EPOCH,
            n_runs: 0,
            asymmetry_run: 0,
            asymmetry: 0.0,
            estimated_frequency: 0.0,
            estimated_frequency_sd: WORST_CASE_FREQ_BOUND,
            skew: WORST_CASE_FREQ_BOUND,
            std_dev: WORST_CASE_STDDEV_BOUND,
            last_regression: None,
        };
        s.reset();
        s
    }

    /// Forgets all samples and estimates (the parameters stay).
    pub fn reset(&mut self) {
        self.samples.clear();
        self.runs = 0;
        self.regression_ok = false;
        self.best = 0;
        self.estimated_frequency = 0.0;
        self.estimated_frequency_sd = WORST_CASE_FREQ_BOUND;
        self.skew = WORST_CASE_FREQ_BOUND;
        self.estimated_offset = 0.0;
        self.estimated_offset_sd = WORST_CASE_STDDEV_BOUND;
        self.offset_time = UnixTime::EPOCH;
        self.std_dev = WORST_CASE_STDDEV_BOUND;
        self.n_runs = 0;
        self.asymmetry_run = 0;
        self.asymmetry = 0.0;
    }

    /// The samples of the regression, oldest first.
    fn active(&self) -> impl DoubleEndedIterator<Item = &Stored> + ExactSizeIterator {
        self.samples.iter().skip(self.runs)
    }

    fn newest(&self) -> Option<&Stored> {
        if self.n_samples() == 0 {
            None
        } else {
            self.samples.back()
        }
    }

    fn best_sample(&self) -> Option<&Stored> {
        let n = self.n_samples();
        // OK: the index is kept below n, and min() guards against a query
        // between accumulate_sample and do_new_regression.
        (n > 0).then(|| &self.samples[self.runs + self.best.min(n - 1)])
    }

    /// The number of samples in the regression.
    pub fn n_samples(&self) -> usize {
        self.samples.len() - self.runs
    }

    /// The configured `minsamples`.
    pub fn min_samples(&self) -> usize {
        self.min_samples
    }

    /// Moves the `k` oldest regression samples to the runs-test history,
    /// keeping at most `RUNS_RATIO - 1` of those per regression sample.
    fn prune(&mut self, k: usize) {
        let k = k.min(self.n_samples());
        self.runs += k;
        let keep_runs = self.n_samples() * (RUNS_RATIO - 1);
        while self.runs > keep_runs {
            self.samples.pop_front();
            self.runs -= 1;
        }
        self.best = self.best.saturating_sub(k);
    }

    /// Adds a sample (offset in the NTP sign of [`Sample`]) with the
    /// source's stratum and leap status at the time.
    ///
    /// # Errors
    /// [`SampleError::NonFinite`] if a field is NaN or infinite; nothing
    /// changes then.
    pub fn accumulate_sample(
        &mut self,
        sample: &Sample,
        stratum: u8,
        leap: LeapStatus,
    ) -> Result<Accumulated, SampleError> {
        if !sample.is_finite() {
            return Err(SampleError::NonFinite);
        }
        let n = self.n_samples();
        if n > 0 && n >= self.max_samples {
            self.prune(1);
        }
        let mut outcome = Accumulated::Added;
        if self.newest().is_some_and(|last| last.time >= sample.time) {
            self.reset();
            outcome = Accumulated::HistoryReset;
        }
        let mut peer_delay = sample.peer_delay;
        // A delay below the configured minimum is mirrored above it, so that
        // it does not get the best weight.
        if peer_delay < self.fixed_min_delay {
            peer_delay = 2.0 * self.fixed_min_delay - peer_delay;
        }
        self.samples.push_back(Stored {
            time: sample.time,
            offset: -sample.offset,
            orig_offset: -sample.offset,
            peer_delay,
            peer_dispersion: sample.peer_dispersion,
            root_delay: sample.root_delay,
            root_dispersion: sample.root_dispersion,
            stratum,
            leap,
        });
        Ok(outcome)
    }

    /// The smallest round-trip delay: the configured `mindelay`, else the
    /// smallest one held (including the runs-test history); `f64::MAX`
    /// without samples.
    pub fn min_round_trip_delay(&self) -> f64 {
        if self.fixed_min_delay > 0.0 {
            return self.fixed_min_delay;
        }
        if self.n_samples() == 0 {
            return f64::MAX;
        }
        self.samples
            .iter()
            .map(|s| s.peer_delay)
            .fold(f64::MAX, f64::min)
    }

    /// Regression weights of the regression samples: 1 for the samples near
    /// the smallest peer distance, growing with the distance in units of the
    /// estimated offset SD.
    fn weights(&self) -> Vec<f64> {
        let dist: Vec<f64> = self
            .active()
            .map(|s| 0.5 * s.peer_delay + s.peer_dispersion)
            .collect();
        let mut min_dist = dist.iter().copied().fold(f64::MAX, f64::min);
        let median_dist = median(&dist).unwrap_or(min_dist);
        let sd = c_clamp(
            self.precision,
            (median_dist - min_dist) / SD_TO_DIST_RATIO,
            min_dist,
        );
        min_dist += self.precision;
        dist.iter()
            .map(|&d| {
                let w = if d > min_dist {
                    1.0 + (d - min_dist) / sd
                } else {
                    1.0
                };
                w * w
            })
            .collect()
    }

    /// Estimates the jitter asymmetry from a regression of offset against
    /// time and delay; true if it is significant and stable enough to use.
    fn estimate_asymmetry(&mut self, times_back: &[f64], offsets: &[f64], delays: &[f64]) -> bool {
        let a = match multiple_regression_b2(times_back, delays, offsets) {
            Some(a) if a * f64::from(self.asymmetry_run) >= 0.0 => a,
            _ => {
                self.asymmetry = 0.0;
                self.asymmetry_run = 0;
                return false;
            }
        };
        if a <= -MIN_ASYMMETRY && self.asymmetry_run > -MAX_ASYMMETRY_RUN {
            self.asymmetry_run -= 1;
        } else if a >= MIN_ASYMMETRY && self.asymmetry_run < MAX_ASYMMETRY_RUN {
            self.asymmetry_run += 1;
        }
        if self.asymmetry_run.abs() < MIN_ASYMMETRY_RUN {
            return false;
        }
        self.asymmetry = c_clamp(-MAX_ASYMMETRY, a, MAX_ASYMMETRY);
        true
    }

    /// Moves the offsets (all held samples) to what they would have been
    /// with the minimum delay, given the jitter asymmetry.
    fn correct_asymmetry(&mut self, times_back: &[f64], offsets: &mut [f64]) {
        if self.fixed_asymmetry == 0.0 {
            return;
        }
        let min_delay = self.min_round_trip_delay();
        let delays: Vec<f64> = self
            .samples
            .iter()
            .map(|s| s.peer_delay - min_delay)
            .collect();
        if self.fixed_asymmetry.abs() <= MAX_ASYMMETRY {
            self.asymmetry = self.fixed_asymmetry;
        } else if !self.estimate_asymmetry(times_back, offsets, &delays) {
            return;
        }
        for (o, d) in offsets.iter_mut().zip(&delays) {
            *o -= self.asymmetry * d;
        }
    }

    /// Runs the regression over the held samples, updates the estimates and
    /// drops the samples the runs test rejected. Returns the figures of the
    /// fit, or `None` if there were too few samples (the estimates then fall
    /// back to the newest sample with a 2000 ppm skew and a 4 s SD).
    pub fn do_new_regression(&mut self) -> Option<RegressionInfo> {
        let fit = self.newest().copied().and_then(|last| {
            let times_back: Vec<f64> = self
                .samples
                .iter()
                .map(|s| s.time.diff_secs(last.time))
                .collect();
            let mut offsets: Vec<f64> = self.samples.iter().map(|s| s.offset).collect();
            let weights = self.weights();
            self.correct_asymmetry(&times_back, &mut offsets);
            find_best_regression(&times_back, &offsets, &weights, self.min_samples)
        });
        self.regression_ok = fit.is_some();
        let info = match fit {
            Some(best) => Some(self.apply_fit(&best)),
            None => {
                self.apply_no_fit();
                None
            }
        };
        self.find_best_sample();
        self.last_regression = info;
        info
    }

    /// The figures of the last successful regression not taken yet, with
    /// the time of its offset (the newest sample's): chrony's `statistics`
    /// log line.
    pub fn take_regression(&mut self) -> Option<(UnixTime, RegressionInfo)> {
        self.last_regression.take().map(|i| (self.offset_time, i))
    }

    /// Takes the estimates from a successful fit and drops the samples the
    /// runs test rejected.
    fn apply_fit(&mut self, best: &BestFit) -> RegressionInfo {
        let old_skew = self.skew;
        let old_freq = self.estimated_frequency;
        let f = best.fit;
        self.estimated_frequency = f.slope;
        self.estimated_frequency_sd = c_clamp(MIN_SKEW, f.slope_sd, MAX_SKEW);
        self.skew = c_clamp(MIN_SKEW, f.slope_sd * t_coef(best.dof), MAX_SKEW);
        self.estimated_offset = f.intercept;
        self.estimated_offset_sd = f.intercept_sd;
        self.std_dev = f.variance.sqrt().max(MIN_STDDEV);
        self.n_runs = best.n_runs;
        if let Some(last) = self.newest() {
            self.offset_time = last.time;
        }
        // chrony logs the count before the runs test's samples are dropped.
        let n_samples = self.n_samples();
        self.prune(best.start);
        RegressionInfo {
            std_dev: self.std_dev,
            offset: self.estimated_offset,
            offset_sd: self.estimated_offset_sd,
            frequency: self.estimated_frequency,
            skew: self.skew,
            stress: (old_freq - self.estimated_frequency).abs() / old_skew,
            n_samples,
            best_start: best.start,
            n_runs: self.n_runs,
            asymmetry: self.asymmetry,
        }
    }

    /// Without a fit, the newest sample is the estimate, with worst-case
    /// bounds.
    fn apply_no_fit(&mut self) {
        self.estimated_frequency_sd = WORST_CASE_FREQ_BOUND;
        self.skew = WORST_CASE_FREQ_BOUND;
        self.estimated_offset_sd = WORST_CASE_STDDEV_BOUND;
        self.std_dev = WORST_CASE_STDDEV_BOUND;
        self.n_runs = 0;
        let (offset, time) = self
            .newest()
            .map_or((0.0, UnixTime::EPOCH), |s| (s.offset, s.time));
        self.estimated_offset = offset;
        self.offset_time = time;
    }

    /// Picks the regression sample with the smallest root distance at the
    /// time of the newest sample, given the skew.
    fn find_best_sample(&mut self) {
        let Some(last) = self.newest().map(|s| s.time) else {
            return;
        };
        let mut best = (0, f64::MAX);
        for (i, s) in self.active().enumerate() {
            // When the regression failed, chronyd takes the ages from the
            // history counted from its oldest runs-test sample rather than
            // from the regression samples (this matters only with runs-test
            // samples held, i.e. maxsamples below 3). Done the same way so
            // that the same sample is selected.
            let time = if self.regression_ok {
                s.time
            } else {
                self.samples[i].time
            };
            let elapsed = last.diff_secs(time);
            let distance = s.root_dispersion + elapsed * self.skew + 0.5 * s.root_delay;
            if distance < best.1 {
                best = (i, distance);
            }
        }
        self.best = best.0;
    }

    /// The range the frequency lies in, `frequency ± skew`, limited to
    /// ±2000 ppm when the skew is larger than that (for the NTP dispersion
    /// tests).
    pub fn frequency_range(&self) -> (f64, f64) {
        if self.skew > WORST_CASE_FREQ_BOUND {
            return (-WORST_CASE_FREQ_BOUND, WORST_CASE_FREQ_BOUND);
        }
        (
            self.estimated_frequency - self.skew,
            self.estimated_frequency + self.skew,
        )
    }

    /// The source as seen by selection at `now`; `None` without samples or
    /// a successful regression (except with fewer than three samples when
    /// `max_samples` allows no more, where the SD is `max_jitter`).
    pub fn get_selection_data(&self, now: UnixTime) -> Option<SelectionData> {
        let best = self.best_sample()?;
        let first = self.active().next()?;
        let last = self.newest()?;
        let mut std_dev = self.std_dev;
        if !self.regression_ok {
            let n = self.n_samples();
            if n < MIN_SAMPLES_FOR_REGRESS && n == self.max_samples {
                std_dev = self.max_jitter;
            } else {
                return None;
            }
        }
        let elapsed = now.diff_secs(best.time).abs();
        let offset = best.offset + elapsed * self.estimated_frequency;
        let root_distance = 0.5 * best.root_delay + best.root_dispersion + elapsed * self.skew;
        Some(SelectionData {
            stratum: last.stratum,
            leap: last.leap,
            offset,
            root_distance,
            lo_limit: offset - root_distance,
            hi_limit: offset + root_distance,
            std_dev,
            first_sample_ago: now.diff_secs(first.time),
            last_sample_ago: now.diff_secs(last.time),
        })
    }

    /// The estimates for the reference update; `None` without samples.
    pub fn get_tracking_data(&self) -> Option<TrackingData> {
        let best = self.best_sample()?;
        let elapsed = self.offset_time.diff_secs(best.time);
        Some(TrackingData {
            ref_time: self.offset_time,
            offset: self.estimated_offset,
            offset_sd: self.estimated_offset_sd,
            frequency: self.estimated_frequency,
            frequency_sd: self.estimated_frequency_sd,
            skew: self.skew,
            root_delay: best.root_delay,
            root_dispersion: best.root_dispersion + self.skew * elapsed + self.estimated_offset_sd,
        })
    }

    /// The offset of the local clock relative to the source expected at
    /// `when` (positive = local clock fast). With fewer than three samples,
    /// the newest sample's offset (0 without samples).
    pub fn predict_offset(&self, when: UnixTime) -> f64 {
        if self.n_samples() < MIN_SAMPLES_FOR_REGRESS {
            return self.newest().map_or(0.0, |s| s.offset);
        }
        self.estimated_offset + when.diff_secs(self.offset_time) * self.estimated_frequency
    }

    /// Data for the delay test of a new sample taken at `sample_time`;
    /// `None` with fewer than six samples.
    pub fn get_delay_test_data(&self, sample_time: UnixTime) -> Option<DelayTestData> {
        if self.n_samples() < 6 {
            return None;
        }
        let ago = sample_time.diff_secs(self.offset_time);
        Some(DelayTestData {
            last_sample_ago: ago,
            predicted_offset: self.estimated_offset + ago * self.estimated_frequency,
            min_delay: self.min_round_trip_delay(),
            skew: self.skew,
            std_dev: self.std_dev,
        })
    }

    /// The estimated jitter asymmetry.
    pub fn jitter_asymmetry(&self) -> f64 {
        self.asymmetry
    }

    /// Re-expresses the history after a clock change at `when` (see
    /// [`adjust_time`] for the signs): sample times and offsets move so that
    /// predictions stay right on the changed clock, and the frequency
    /// estimate becomes relative to the new rate.
    pub fn slew_samples(&mut self, when: UnixTime, dfreq: f64, doffset: f64) {
        if self.n_samples() == 0 {
            return;
        }
        for s in &mut self.samples {
            let (t, delta) = adjust_time(s.time, when, dfreq, doffset);
            s.time = t;
            s.offset += delta;
        }
        let (t, delta) = adjust_time(self.offset_time, when, dfreq, doffset);
        self.offset_time = t;
        self.estimated_offset += delta;
        self.estimated_frequency = (self.estimated_frequency - dfreq) / (1.0 - dfreq);
    }

    /// Adds `doffset` to the held offsets without moving their times (an
    /// offset correction the sample times do not reflect).
    pub fn correct_offset(&mut self, doffset: f64) {
        if self.n_samples() == 0 {
            return;
        }
        for s in &mut self.samples {
            s.offset += doffset;
        }
        self.estimated_offset += doffset;
    }

    /// Adds dispersion (seconds) to the regression samples, e.g. after an
    /// unknown clock jump.
    pub fn add_dispersion(&mut self, dispersion: f64) {
        for s in self.samples.iter_mut().skip(self.runs) {
            s.root_dispersion += dispersion;
            s.peer_dispersion += dispersion;
        }
    }

    /// The "last sample" fields of `chronyc sources`; `ntp_source` hides
    /// the sub-second part of the sample time in the age, as chrony does for
    /// NTP sources.
    pub fn get_source_report(&self, now: UnixTime, ntp_source: bool) -> SourceReport {
        let Some(last) = self.newest() else {
            return SourceReport {
                orig_latest_meas: 0.0,
                latest_meas: 0.0,
                latest_meas_err: 0.0,
                latest_meas_ago: None,
            };
        };
        let time = if ntp_source {
            UnixTime::from_secs_nanos(last.time.secs(), 0)
        } else {
            last.time
        };
        SourceReport {
            orig_latest_meas: last.orig_offset,
            latest_meas: last.offset,
            latest_meas_err: 0.5 * last.root_delay + last.root_dispersion,
            latest_meas_ago: Some(now.diff_secs(time)),
        }
    }

    /// A `chronyc sourcestats` row at `now`.
    pub fn get_sourcestats_report(&self, now: UnixTime) -> SourcestatsReport {
        let mut r = SourcestatsReport {
            n_samples: self.n_samples(),
            n_runs: self.n_runs,
            span_seconds: 0,
            resid_freq_ppm: 1.0e6 * self.estimated_frequency,
            skew_ppm: 1.0e6 * self.skew,
            est_offset: 0.0,
            est_offset_err: 0.0,
            std_dev: self.std_dev,
        };
        if let (Some(first), Some(last), Some(best)) =
            (self.active().next(), self.newest(), self.best_sample())
        {
            // `as` saturates: a negative or huge span cannot wrap.
            r.span_seconds = last.time.diff_secs(first.time).round() as u32;
            let elapsed = now.diff_secs(self.offset_time);
            let sample_elapsed = now.diff_secs(best.time);
            r.est_offset = self.estimated_offset + elapsed * self.estimated_frequency;
            r.est_offset_err = self.estimated_offset_sd
                + sample_elapsed * self.skew
                + (0.5 * best.root_delay + best.root_dispersion);
        }
        r
    }

    /// The regression samples in chrony's dump-file format: a line with the
    /// sample count and the asymmetry counter, then one line per sample
    /// (time, offset, original offset, peer delay, peer dispersion, root
    /// delay, root dispersion). Empty without samples (chrony writes no
    /// dump then).
    pub fn dump(&self) -> String {
        let samples: Vec<DumpSample> = self
            .active()
            .map(|s| DumpSample {
                time: s.time,
                offset: s.offset,
                orig_offset: s.orig_offset,
                peer_delay: s.peer_delay,
                peer_dispersion: s.peer_dispersion,
                root_delay: s.root_delay,
                root_dispersion: s.root_dispersion,
            })
            .collect();
        dump::format(&samples, self.asymmetry_run)
    }

    /// Replaces the history with the samples of a [`dump`](Self::dump), all
    /// given the stratum and leap status stored beside them, and runs the
    /// regression. Samples must be in order and not after `now`.
    ///
    /// # Errors
    /// [`DumpError`] if the text is malformed or a sample is not sane; the
    /// history is then left as it was.
    pub fn load(
        &mut self,
        text: &str,
        now: UnixTime,
        stratum: u8,
        leap: LeapStatus,
    ) -> Result<(), DumpError> {
        let (samples, arun) = dump::parse(text, now)?;
        self.reset();
        // Keep the newest `max_samples` if the dump holds more.
        let skip = samples.len().saturating_sub(self.max_samples);
        self.samples
            .extend(samples.iter().skip(skip).map(|d| Stored {
                time: d.time,
                offset: d.offset,
                orig_offset: d.orig_offset,
                peer_delay: d.peer_delay,
                peer_dispersion: d.peer_dispersion,
                root_delay: d.root_delay,
                root_dispersion: d.root_dispersion,
                stratum,
                leap,
            }));
        self.asymmetry_run = arun.clamp(-MAX_ASYMMETRY_RUN, MAX_ASYMMETRY_RUN);
        self.do_new_regression();
        Ok(())
    }
}

#[cfg(test)]
#[path = "source_stats_tests.rs"]
mod tests;
