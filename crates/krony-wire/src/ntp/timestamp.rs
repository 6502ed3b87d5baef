//! NTP 64-bit timestamps (RFC 5905 §6): 32 bits of seconds since
//! 1900-01-01T00:00:00Z and 32 bits of fraction.
//!
//! The seconds wrap every 2^32 s (~136 years): era 0 ends at
//! 2036-02-07T06:28:16Z. A timestamp therefore does not name one instant by
//! itself; [`NtpTimestamp::to_unix`] picks the instant closest to a pivot time
//! (normally "now"), which is right as long as the two are within ~68 years.

use core::fmt;

use crate::UnixTime;

/// Seconds from 1900-01-01 (the NTP prime epoch) to 1970-01-01 (the Unix
/// epoch): 70 years, 17 of them leap years (RFC 5905 §6, Figure 4).
pub const NTP_UNIX_OFFSET_SECS: i64 = 2_208_988_800;

const NANOS_PER_SEC: u64 = 1_000_000_000;
const FRAC_PER_SEC: u64 = 1 << 32;

/// An NTP timestamp in the 32.32 fixed-point format of RFC 5905 §6, as it is
/// on the wire (big-endian when emitted).
///
/// The all-zero value is special: RFC 5905 §7.3 uses it for "unknown" (for
/// example the origin timestamp of a client's first request). Conversions do
/// not treat it specially; test with [`is_zero`](Self::is_zero) or use
/// [`to_unix_opt`](Self::to_unix_opt).
///
/// ```
/// use krony_wire::{UnixTime, ntp::NtpTimestamp};
/// let t = UnixTime::from_secs_nanos(1_700_000_000, 123_456_789);
/// let ntp = NtpTimestamp::from_unix(t);
/// assert_eq!(ntp.to_unix(t), t);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NtpTimestamp(pub u64);

impl NtpTimestamp {
    /// The zero timestamp, meaning "unknown" or "not set" (RFC 5905 §7.3).
    pub const ZERO: NtpTimestamp = NtpTimestamp(0);

    /// From the seconds and fraction halves.
    pub const fn from_parts(secs: u32, frac: u32) -> Self {
        NtpTimestamp(((secs as u64) << 32) | frac as u64)
    }

    /// The seconds half (seconds since the start of the timestamp's era).
    pub const fn secs(self) -> u32 {
        (self.0 >> 32) as u32
    }

    /// The fraction half, in units of 2^-32 s.
    pub const fn frac(self) -> u32 {
        self.0 as u32
    }

    /// Whether this is the zero timestamp ("unknown").
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The NTP timestamp of a Unix time. The fraction is rounded to the
    /// nearest 2^-32 s, so that [`to_unix`](Self::to_unix) gives back the
    /// same nanosecond (one nanosecond is ~4.3 fraction units, so the rounding
    /// error of 0.12 ns cannot move it to a neighbouring nanosecond).
    ///
    /// Times outside the era of the result wrap, as on the wire: 1900 and
    /// 2036-02-07T06:28:16Z both give seconds 0.
    pub fn from_unix(t: UnixTime) -> Self {
        // OK because rem_euclid of 2^32 is in 0..2^32.
        let secs = (t.secs() + NTP_UNIX_OFFSET_SECS).rem_euclid(1 << 32) as u32;
        // At most 999_999_999 * 2^32 + 5e8 < 2^63, no overflow; the quotient
        // is at most round(2^32 - 4.29) < 2^32, so the fraction never carries.
        let frac = (u64::from(t.subsec_nanos()) * FRAC_PER_SEC + NANOS_PER_SEC / 2) / NANOS_PER_SEC;
        NtpTimestamp::from_parts(secs, frac as u32)
    }

    /// The Unix time of this timestamp in the era that puts it closest to
    /// `pivot`: the result is within 2^31 s (~68 years) of the pivot. The
    /// fraction is rounded to the nearest nanosecond.
    ///
    /// Pass the current time as the pivot when reading packets from the
    /// network, as chrony does with its build-time era split.
    pub fn to_unix(self, pivot: UnixTime) -> UnixTime {
        let pivot_ntp = pivot.secs() + NTP_UNIX_OFFSET_SECS;
        // OK to truncate: only the difference modulo 2^32 matters here.
        let delta = self.secs().wrapping_sub(pivot_ntp as u32) as i32;
        let secs = pivot.secs() + i64::from(delta);
        // Round to the nearest nanosecond; may reach 1e9, which
        // from_secs_nanos carries into the seconds.
        let nanos = (u64::from(self.frac()) * NANOS_PER_SEC + FRAC_PER_SEC / 2) >> 32;
        // OK because nanos <= 1e9 fits in i64.
        UnixTime::from_secs_nanos(secs, nanos as i64)
    }

    /// Like [`to_unix`](Self::to_unix), but `None` for the zero timestamp.
    pub fn to_unix_opt(self, pivot: UnixTime) -> Option<UnixTime> {
        (!self.is_zero()).then(|| self.to_unix(pivot))
    }

    /// `self - other` in seconds, era-independent: the result is taken
    /// modulo 2^32 s into `[-2^31, 2^31)` s, so it is right whenever the
    /// two timestamps are less than ~68 years apart.
    pub fn diff_secs(self, other: NtpTimestamp) -> f64 {
        // The wrapping difference of the 64-bit values, read as signed, is
        // the difference modulo 2^32 s in 32.32 fixed point.
        let d = self.0.wrapping_sub(other.0) as i64;
        d as f64 / FRAC_PER_SEC as f64
    }
}

impl fmt::Debug for NtpTimestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NtpTimestamp({:08x}.{:08x})", self.secs(), self.frac())
    }
}

impl fmt::Display for NtpTimestamp {
    /// Hex seconds and fraction separated by a dot, like ntpq.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}.{:08x}", self.secs(), self.frac())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2036-02-07T06:28:16Z, where NTP era 0 ends (2^32 s after 1900).
    const ERA1_START_UNIX: i64 = (1 << 32) - NTP_UNIX_OFFSET_SECS;

    fn unix(secs: i64, nanos: i64) -> UnixTime {
        UnixTime::from_secs_nanos(secs, nanos)
    }

    #[test]
    fn era_boundary_is_2036_02_07() {
        // python3: datetime(2036,2,7,6,28,16,tzinfo=utc).timestamp() == 2085978496
        assert_eq!(ERA1_START_UNIX, 2_085_978_496);
        let t = unix(ERA1_START_UNIX, 0);
        assert_eq!(NtpTimestamp::from_unix(t), NtpTimestamp::ZERO);
        assert_eq!(NtpTimestamp::ZERO.to_unix(t), t);
        // One second before the boundary is the last second of era 0.
        let before = NtpTimestamp::from_unix(unix(ERA1_START_UNIX - 1, 0));
        assert_eq!(before.secs(), u32::MAX);
        assert_eq!(before.to_unix(t), unix(ERA1_START_UNIX - 1, 0));
    }

    #[test]
    fn dates_across_eras_round_trip_near_a_pivot() {
        let cases = [
            (-NTP_UNIX_OFFSET_SECS, 0),   // 1900-01-01
            (0, 0),                       // 1970-01-01
            (0, 1),                       // 1970 + 1 ns
            (1_795_598_154, 819_296_837), // 2026-11-25 (golden capture)
            (2_064_268_800, 999_999_999), // 2035-06-01
            (ERA1_START_UNIX, 500_000_000),
            (2_208_988_800, 1), // 2040-01-01
            (4_000_000_000, 7), // 2096
        ];
        for (secs, nanos) in cases {
            let t = unix(secs, nanos);
            let ntp = NtpTimestamp::from_unix(t);
            for pivot_off in [-2_000_000_000, -1, 0, 1, 2_000_000_000] {
                let pivot = unix(secs + pivot_off, 0);
                assert_eq!(ntp.to_unix(pivot), t, "{t:?} near pivot {pivot:?}");
            }
        }
    }

    #[test]
    fn known_wire_values() {
        // 1970-01-01 is 0x83aa7e80 s after 1900.
        assert_eq!(
            NtpTimestamp::from_unix(UnixTime::EPOCH).0,
            0x83aa_7e80_0000_0000
        );
        // Half a second is fraction 0x80000000.
        assert_eq!(
            NtpTimestamp::from_unix(unix(0, 500_000_000)).frac(),
            0x8000_0000
        );
        // 2040-01-01T00:00:00Z is in era 1. 1970..2040 has as many leap days
        // (17) as 1900..1970, so it is 2 * 2208988800 s after 1900, modulo 2^32.
        let t2040 = NtpTimestamp::from_unix(unix(2_208_988_800, 0));
        assert_eq!(u64::from(t2040.secs()), (2 * 2_208_988_800u64) % (1 << 32));
    }

    #[test]
    fn pivot_chooses_the_closer_era() {
        let ntp = NtpTimestamp::from_parts(10, 0);
        // Near 1900 it is 1900 + 10 s.
        assert_eq!(
            ntp.to_unix(unix(-NTP_UNIX_OFFSET_SECS, 0)),
            unix(10 - NTP_UNIX_OFFSET_SECS, 0)
        );
        // Near 2036 it is 10 s after the era boundary.
        assert_eq!(
            ntp.to_unix(unix(2_000_000_000, 0)),
            unix(ERA1_START_UNIX + 10, 0)
        );
    }

    #[test]
    fn every_fraction_edge_rounds_sensibly() {
        // The largest fraction rounds up to the next second.
        let ntp = NtpTimestamp::from_parts(0x83aa_7e80, u32::MAX);
        assert_eq!(ntp.to_unix(UnixTime::EPOCH), unix(1, 0));
        // The smallest nonzero fraction rounds down to 0 ns.
        let ntp = NtpTimestamp::from_parts(0x83aa_7e80, 1);
        assert_eq!(ntp.to_unix(UnixTime::EPOCH), UnixTime::EPOCH);
        // Every nanosecond near the ends of a second survives a round trip.
        for n in (0..2000).chain(999_998_000..1_000_000_000) {
            let t = unix(1_700_000_000, n);
            assert_eq!(NtpTimestamp::from_unix(t).to_unix(t), t);
        }
    }

    #[test]
    fn zero_means_unknown() {
        assert!(NtpTimestamp::ZERO.is_zero());
        assert_eq!(NtpTimestamp::ZERO.to_unix_opt(UnixTime::EPOCH), None);
        let one = NtpTimestamp::from_parts(0, 1);
        assert!(one.to_unix_opt(UnixTime::EPOCH).is_some());
    }

    #[test]
    fn diff_is_era_independent() {
        let a = NtpTimestamp::from_parts(1, 0x8000_0000);
        let b = NtpTimestamp::from_parts(u32::MAX, 0);
        assert_eq!(a.diff_secs(b), 2.5);
        assert_eq!(b.diff_secs(a), -2.5);
    }

    #[test]
    fn display_is_hex() {
        let t = NtpTimestamp::from_parts(0xeeb1_25ca, 0xd1bd_7000);
        assert_eq!(t.to_string(), "eeb125ca.d1bd7000");
        assert_eq!(format!("{t:?}"), "NtpTimestamp(eeb125ca.d1bd7000)");
    }
}
