//! Absolute time as integer nanoseconds on the Unix time scale.
//!
//! Absolute times are never f64 (an f64 holding seconds since 1970 keeps only
//! ~0.2 µs of resolution); differences between them are, since offsets and
//! delays are small.

use core::fmt;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// A point in time: nanoseconds since 1970-01-01T00:00:00 UTC (leap seconds not
/// counted, as in POSIX time). The i64 covers the years 1677 to 2262.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(i64);

impl UnixTime {
    /// The Unix epoch.
    pub const EPOCH: UnixTime = UnixTime(0);

    /// From nanoseconds since the epoch.
    pub const fn from_nanos(nanos: i64) -> Self {
        UnixTime(nanos)
    }

    /// From whole seconds and a nanosecond part (which may exceed one second
    /// or be negative; it is normalised). Saturates at the ends of the range.
    pub const fn from_secs_nanos(secs: i64, nanos: i64) -> Self {
        UnixTime(secs.saturating_mul(NANOS_PER_SEC).saturating_add(nanos))
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded towards minus infinity.
    pub const fn secs(self) -> i64 {
        self.0.div_euclid(NANOS_PER_SEC)
    }

    /// The nanoseconds past [`secs`](Self::secs), in `0..1_000_000_000`.
    pub const fn subsec_nanos(self) -> u32 {
        // OK because rem_euclid of a positive modulus is in 0..NANOS_PER_SEC.
        self.0.rem_euclid(NANOS_PER_SEC) as u32
    }

    /// `self - earlier` in seconds. Exact to the nanosecond for differences
    /// below ~104 days, since the subtraction is done in integers first.
    pub fn diff_secs(self, earlier: UnixTime) -> f64 {
        (self.0 as i128 - earlier.0 as i128) as f64 / 1e9
    }

    /// This time moved by `secs` seconds (rounded to the nanosecond,
    /// saturating at the ends of the range; NaN moves nothing).
    pub fn add_secs(self, secs: f64) -> UnixTime {
        let delta = (secs * 1e9).round();
        if delta.is_nan() {
            return self;
        }
        // `as` saturates for out-of-range floats.
        UnixTime(self.0.saturating_add(delta as i64))
    }
}

impl fmt::Debug for UnixTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UnixTime({}.{:09})", self.secs(), self.subsec_nanos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secs_and_nanos_round_down_before_epoch() {
        let t = UnixTime::from_nanos(-1);
        assert_eq!(t.secs(), -1);
        assert_eq!(t.subsec_nanos(), 999_999_999);
    }

    #[test]
    fn diff_is_exact_for_nanoseconds() {
        let a = UnixTime::from_secs_nanos(1_700_000_000, 1);
        let b = UnixTime::from_secs_nanos(1_700_000_000, 0);
        assert_eq!(a.diff_secs(b), 1e-9);
    }

    #[test]
    fn add_secs_rounds_and_saturates() {
        let t = UnixTime::from_secs_nanos(10, 0);
        assert_eq!(t.add_secs(-0.5).as_nanos(), 9_500_000_000);
        assert_eq!(t.add_secs(1e30).as_nanos(), i64::MAX);
        assert_eq!(t.add_secs(f64::NAN), t);
    }
}
