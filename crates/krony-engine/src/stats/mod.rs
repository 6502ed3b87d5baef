//! Per-source sample statistics: the median filter and the weighted regression.
//!
//! Data flows `Sample` → [`SampleFilter`] (optional, the `filter N` option) →
//! [`SourceStats`] (the regression over the recent history of one source), whose
//! estimates feed source selection and the clock discipline. The algorithms and
//! constants follow chrony's `samplefilt.c`, `sourcestats.c` and `regress.c`, so
//! that krony's estimates, reports and dump files match chronyd's.
//!
//! # Sign conventions (they differ between the two stages, as in chrony)
//!
//! * A [`Sample`] (input to the filter and to [`SourceStats::accumulate_sample`])
//!   uses the NTP convention of RFC 5905 §8: `offset` is positive when the
//!   **source's time is ahead** of the local clock (the local clock is slow),
//!   i.e. `offset = ((T2 - T1) + (T3 - T4)) / 2`.
//! * Everything [`SourceStats`] returns (estimated offsets, predictions, the
//!   selection interval, report offsets) uses chrony's `sourcestats.c`
//!   convention: positive when the **local clock is fast** of the source. The
//!   sign is flipped once, when a sample is accumulated. This is also the sign
//!   `chronyc sources` and `chronyc sourcestats` print.
//! * Frequencies are dimensionless (seconds per second, 1e-6 = 1 ppm) unless a
//!   name ends in `_ppm`. The estimated frequency is positive when the local
//!   clock **gains** on the source; skew is the half-width of its confidence
//!   interval.
//! * Clock changes ([`adjust_time`], the `slew_samples` methods) use chrony's
//!   parameter-change convention: `dfreq` is positive when the clock's rate was
//!   **reduced** by that fraction (a gain of `dfreq` was corrected), `doffset`
//!   is positive when the clock was moved **backwards** by that many seconds
//!   (it was fast). Both take effect at the local time `when`.
//!
//! Nothing here reads a clock: every time is passed in.

pub mod estimates;
pub mod filter;
pub mod quantile;
pub mod regress;
pub mod robust;
pub mod source_stats;

mod dump;

pub use dump::DumpError;
pub use estimates::{
    DelayTestData, RegressionInfo, SelectionData, SourceReport, SourcestatsReport, TrackingData,
};
pub use filter::{FilterParams, SampleFilter};
pub use quantile::QuantileEstimator;
pub use source_stats::{Accumulated, SourceStats, StatsParams};

use crate::UnixTime;

/// One measurement of a source (chrony's `NTP_Sample`).
///
/// All fields but `time` are seconds. See the [module docs](self) for the sign
/// of `offset`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When the measurement was made, on the local clock.
    pub time: UnixTime,
    /// Offset of the source relative to the local clock (positive = the source
    /// is ahead, the local clock is slow).
    pub offset: f64,
    /// Round-trip delay to the source.
    pub peer_delay: f64,
    /// Dispersion of the measurement itself (precisions, frequency tolerance
    /// over the round trip).
    pub peer_dispersion: f64,
    /// Delay from the source to its reference plus the peer delay.
    pub root_delay: f64,
    /// Dispersion from the source's reference plus the peer dispersion.
    pub root_dispersion: f64,
}

impl Sample {
    /// Whether every floating-point field is finite (not NaN nor infinite).
    pub fn is_finite(&self) -> bool {
        [
            self.offset,
            self.peer_delay,
            self.peer_dispersion,
            self.root_delay,
            self.root_dispersion,
        ]
        .iter()
        .all(|v| v.is_finite())
    }
}

/// Why a sample was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SampleError {
    /// A field is NaN or infinite.
    #[error("sample has a non-finite value")]
    NonFinite,
    /// The sample is not newer than the previous one.
    #[error("sample time is not after the previous sample")]
    NonIncreasingTime,
}

/// Re-expresses the local time `t` after a clock change made at `when`
/// (see the [module docs](self) for the signs of `dfreq` and `doffset`).
///
/// Returns the new time and the correction added to it, in seconds: a time
/// `elapsed` seconds before `when` moves by `elapsed * dfreq - doffset`, as if
/// the new frequency had always applied and the offset had been corrected.
pub fn adjust_time(t: UnixTime, when: UnixTime, dfreq: f64, doffset: f64) -> (UnixTime, f64) {
    let elapsed = when.diff_secs(t);
    let delta = elapsed * dfreq - doffset;
    (add_secs_truncated(t, delta), delta)
}

/// `t + secs`, truncated towards zero to the nanosecond in two parts (whole
/// seconds, then nanoseconds) as chrony's timespec arithmetic does, so that
/// slewed histories stay identical to chronyd's. Saturates; NaN adds nothing.
pub(crate) fn add_secs_truncated(t: UnixTime, secs: f64) -> UnixTime {
    let whole = secs.trunc();
    // `as` saturates for out-of-range floats and maps NaN to 0.
    let nanos = (whole * 1e9) as i64;
    let frac = ((secs - whole) * 1e9) as i64;
    UnixTime::from_nanos(t.as_nanos().saturating_add(nanos).saturating_add(frac))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjust_time_moves_past_times_with_the_frequency_change() {
        let when = UnixTime::from_secs_nanos(1000, 0);
        let t = UnixTime::from_secs_nanos(872, 0);
        // The clock now runs 2^-20 (about 0.95 ppm) slower: an instant 128 s
        // before reads 2^-13 s = 122070.3125 ns later on the new time scale
        // (truncated to the nanosecond).
        let (new, delta) = adjust_time(t, when, 1.0 / 1048576.0, 0.0);
        assert_eq!(delta, 1.0 / 8192.0);
        assert_eq!(new, UnixTime::from_secs_nanos(872, 122_070));
        // Stepping the clock back by 0.5 s moves every time back by 0.5 s.
        let (new, delta) = adjust_time(t, when, 0.0, 0.5);
        assert_eq!(delta, -0.5);
        assert_eq!(new, UnixTime::from_secs_nanos(871, 500_000_000));
    }

    #[test]
    fn additions_truncate_towards_zero() {
        let t = UnixTime::from_nanos(1_000);
        assert_eq!(add_secs_truncated(t, 1.9e-9), UnixTime::from_nanos(1_001));
        assert_eq!(add_secs_truncated(t, -1.9e-9), UnixTime::from_nanos(999));
        assert_eq!(
            add_secs_truncated(t, -2.5),
            UnixTime::from_nanos(1_000 - 2_500_000_000)
        );
        assert_eq!(add_secs_truncated(t, f64::NAN), t);
        assert_eq!(add_secs_truncated(t, 1e300).as_nanos(), i64::MAX);
    }

    #[test]
    fn sample_finiteness() {
        let mut s = Sample {
            time: UnixTime::EPOCH,
            offset: 0.0,
            peer_delay: 0.0,
            peer_dispersion: 0.0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        assert!(s.is_finite());
        s.root_delay = f64::NAN;
        assert!(!s.is_finite());
    }
}
