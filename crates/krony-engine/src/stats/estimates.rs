//! What [`SourceStats`](super::SourceStats) tells the rest of the engine:
//! selection data, tracking data and the report rows. Offsets are positive
//! when the local clock is fast; frequencies are dimensionless unless named
//! `_ppm`.

use crate::UnixTime;
use crate::clock::LeapStatus;

/// What source selection needs to know about a source now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelectionData {
    /// Stratum of the newest sample.
    pub stratum: u8,
    /// Leap status of the newest sample.
    pub leap: LeapStatus,
    /// Offset of the local clock relative to the source now, extrapolated
    /// from the best single sample (positive = local clock fast).
    pub offset: f64,
    /// Root distance now: root delay/2 + root dispersion of the best sample,
    /// plus the skew times its age.
    pub root_distance: f64,
    /// Lower end of the interval holding the true offset (`offset − distance`).
    pub lo_limit: f64,
    /// Upper end (`offset + distance`).
    pub hi_limit: f64,
    /// Standard deviation of the samples about the regression line.
    pub std_dev: f64,
    /// Seconds since the oldest sample used in the regression.
    pub first_sample_ago: f64,
    /// Seconds since the newest sample.
    pub last_sample_ago: f64,
}

/// What the reference update needs from the selected source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackingData {
    /// The time the estimates refer to (the newest sample's).
    pub ref_time: UnixTime,
    /// Estimated offset at `ref_time` (positive = local clock fast).
    pub offset: f64,
    /// Its standard deviation.
    pub offset_sd: f64,
    /// Estimated frequency of the local clock relative to the source
    /// (positive = gaining; dimensionless).
    pub frequency: f64,
    /// Its standard deviation.
    pub frequency_sd: f64,
    /// Skew (dimensionless).
    pub skew: f64,
    /// Root delay of the best sample.
    pub root_delay: f64,
    /// Root dispersion of the best sample at `ref_time`, plus `offset_sd`.
    pub root_dispersion: f64,
}

/// Data for the NTP delay test (`maxdelaydevratio`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayTestData {
    /// Seconds from the estimates' reference time to the new sample.
    pub last_sample_ago: f64,
    /// The offset predicted at the new sample's time.
    pub predicted_offset: f64,
    /// The minimum round-trip delay.
    pub min_delay: f64,
    /// Skew (dimensionless).
    pub skew: f64,
    /// Standard deviation of the samples.
    pub std_dev: f64,
}

/// The "last sample" columns of `chronyc sources`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceReport {
    /// Offset as measured (positive = local clock fast): the bracketed value.
    pub orig_latest_meas: f64,
    /// The same offset corrected for later clock adjustments.
    pub latest_meas: f64,
    /// Its error bound: root delay/2 + root dispersion.
    pub latest_meas_err: f64,
    /// Seconds since the sample (`LastRx`); for NTP sources measured from
    /// the whole second of the sample time, to leak less of the receive
    /// timestamp. `None` without samples.
    pub latest_meas_ago: Option<f64>,
}

/// A `chronyc sourcestats` row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourcestatsReport {
    /// `NP`: samples held.
    pub n_samples: usize,
    /// `NR`: runs of residuals of the same sign.
    pub n_runs: usize,
    /// `Span`: seconds from the oldest to the newest sample, rounded.
    pub span_seconds: u32,
    /// `Frequency`: residual frequency in ppm (positive = local clock gains).
    pub resid_freq_ppm: f64,
    /// `Freq Skew` in ppm.
    pub skew_ppm: f64,
    /// `Offset`: estimated offset now (positive = local clock fast).
    pub est_offset: f64,
    /// Error bound of that offset.
    pub est_offset_err: f64,
    /// `Std Dev`.
    pub std_dev: f64,
}

/// The figures of a successful regression, for chrony's `statistics` log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegressionInfo {
    /// Standard deviation of the samples.
    pub std_dev: f64,
    /// Estimated offset (positive = local clock fast).
    pub offset: f64,
    /// Its standard deviation.
    pub offset_sd: f64,
    /// Estimated frequency (dimensionless).
    pub frequency: f64,
    /// Skew (dimensionless).
    pub skew: f64,
    /// Change of frequency relative to the previous skew.
    pub stress: f64,
    /// Samples held after the regression.
    pub n_samples: usize,
    /// Samples dropped by the runs test.
    pub best_start: usize,
    /// Runs among the residuals.
    pub n_runs: usize,
    /// The jitter asymmetry in use.
    pub asymmetry: f64,
}
