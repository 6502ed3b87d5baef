//! The NTP short format (RFC 5905 §6): unsigned 16.16 fixed-point seconds,
//! used for the root delay and root dispersion.
//!
//! RFC 5905 §6 defines the short format as unsigned, and chrony reads and
//! writes both fields as unsigned 32-bit values, so a "negative" root delay
//! cannot be represented; conversions from f64 clamp at zero.

use core::fmt;

/// The largest value of the short format in seconds: 65535 + 65535/65536.
pub const NTP_SHORT_MAX_SECS: f64 = u32::MAX as f64 / 65536.0;

/// A duration in the NTP short format: seconds in units of 2^-16 s (~15 µs).
///
/// ```
/// use krony_wire::ntp::NtpShort;
/// assert_eq!(NtpShort::from_secs(1.5).0, 0x0001_8000);
/// assert_eq!(NtpShort(0x0001_8000).to_secs(), 1.5);
/// assert_eq!(NtpShort::from_secs(-3.0), NtpShort::ZERO);
/// assert_eq!(NtpShort::from_secs(1e9), NtpShort::MAX);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpShort(pub u32);

impl NtpShort {
    /// Zero seconds.
    pub const ZERO: NtpShort = NtpShort(0);
    /// The largest representable value, also what too large values become.
    pub const MAX: NtpShort = NtpShort(u32::MAX);

    /// The value in seconds (exact: every 16.16 value is an f64).
    pub fn to_secs(self) -> f64 {
        f64::from(self.0) / 65536.0
    }

    /// From seconds, rounding up to the next 2^-16 s so that a small but
    /// nonzero delay or dispersion is never sent as zero (as chrony does).
    /// Saturates: negative values and NaN give zero, values above
    /// [`NTP_SHORT_MAX_SECS`] give [`NtpShort::MAX`].
    pub fn from_secs(secs: f64) -> Self {
        if secs >= NTP_SHORT_MAX_SECS {
            NtpShort::MAX
        } else if secs > 0.0 {
            // OK because 0 < secs * 65536 < 2^32 here; NaN fails `secs > 0.0`.
            NtpShort((secs * 65536.0).ceil() as u32)
        } else {
            NtpShort::ZERO
        }
    }
}

impl fmt::Debug for NtpShort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpShort({:.6}s)", self.to_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_exact_on_the_grid() {
        for raw in [0, 1, 0xffff, 0x1_0000, 0x1234_5678, u32::MAX] {
            let s = NtpShort(raw);
            assert_eq!(NtpShort::from_secs(s.to_secs()), s);
        }
    }

    #[test]
    fn rounds_up_between_grid_points() {
        // 1 µs is less than one unit (15.26 µs) but must not become zero.
        assert_eq!(NtpShort::from_secs(1e-6), NtpShort(1));
        assert_eq!(NtpShort::from_secs(1.0 + 1e-9), NtpShort(0x1_0001));
    }

    #[test]
    fn saturates() {
        assert_eq!(NtpShort::from_secs(f64::NAN), NtpShort::ZERO);
        assert_eq!(NtpShort::from_secs(-0.0), NtpShort::ZERO);
        assert_eq!(NtpShort::from_secs(f64::NEG_INFINITY), NtpShort::ZERO);
        assert_eq!(NtpShort::from_secs(f64::INFINITY), NtpShort::MAX);
        assert_eq!(NtpShort::from_secs(65536.0), NtpShort::MAX);
        assert_eq!(NtpShort::from_secs(NTP_SHORT_MAX_SECS), NtpShort::MAX);
        assert_eq!(NtpShort::MAX.to_secs(), NTP_SHORT_MAX_SECS);
    }
}
