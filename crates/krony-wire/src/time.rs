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
        // The i64 difference, when it does not overflow (always, for times
        // that matter), converts with one instruction; i128 needs a
        // library call. Both round the same exact integer the same way.
        match self.0.checked_sub(earlier.0) {
            Some(d) => d as f64 / 1e9,
            None => (self.0 as i128 - earlier.0 as i128) as f64 / 1e9,
        }
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
    fn diff_rounds_as_the_wide_difference_and_survives_overflow() {
        // Beyond 2^53 ns the conversion rounds: the same way as in i128.
        let cases = [
            (i64::MAX, i64::MIN),
            (i64::MIN, i64::MAX),
            ((1 << 53) + 1, 0),
            (-(1 << 60) - 3, 5),
            (1_700_000_000_123_456_789, 1_600_000_000_987_654_321),
        ];
        for (a, b) in cases {
            let wide = (i128::from(a) - i128::from(b)) as f64 / 1e9;
            let got = UnixTime(a).diff_secs(UnixTime(b));
            assert_eq!(got.to_bits(), wide.to_bits(), "{a} - {b}");
        }
    }

    #[test]
    fn add_secs_rounds_and_saturates() {
        let t = UnixTime::from_secs_nanos(10, 0);
        assert_eq!(t.add_secs(-0.5).as_nanos(), 9_500_000_000);
        assert_eq!(t.add_secs(1e30).as_nanos(), i64::MAX);
        assert_eq!(t.add_secs(f64::NAN), t);
    }
}
