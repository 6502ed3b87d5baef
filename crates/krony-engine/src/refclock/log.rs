//! Lines of the `refclocks` log (chrony's `log refclocks`).

use crate::UnixTime;
use crate::cfmt::c_exp;
use crate::clock::LeapStatus;

/// The log's column header (chrony's titles).
pub const REFCLOCKS_LOG_HEADER: &str =
    "   Date (UTC) Time         Refid  DP L P  Raw offset   Cooked offset      Disp.";

/// One sample, raw or filtered, of a refclock.
#[derive(Debug, Clone, PartialEq)]
pub struct RefclockLogRecord {
    /// The (cooked) sample time.
    pub time: UnixTime,
    /// The refid as text.
    pub ref_id: String,
    /// For a driver's sample: the polls so far in the filter period (`DP`)
    /// and whether it was a pulse (`P`); `None` for a filtered sample.
    pub raw: Option<(u32, bool)>,
    /// The leap status (`L`: N, +, - or ?).
    pub leap: LeapStatus,
    /// The offset as read, before the clock's correction and `offset`
    /// (raw samples only).
    pub raw_offset: f64,
    /// The offset accumulated (NTP sign: positive = reference ahead).
    pub cooked_offset: f64,
    /// Its dispersion.
    pub dispersion: f64,
}

impl RefclockLogRecord {
    /// The whole line of the log file.
    pub fn to_log_line(&self) -> String {
        format!(
            "{}{}",
            crate::discipline::log_time(self.time),
            self.columns()
        )
    }

    /// The line without its `YYYY-MM-DD HH:MM:SS` prefix: the fraction of
    /// the second in microseconds and the columns, as chronyd writes them.
    pub fn columns(&self) -> String {
        let leap = match self.leap {
            LeapStatus::Normal => 'N',
            LeapStatus::InsertSecond => '+',
            LeapStatus::DeleteSecond => '-',
            LeapStatus::Unsynchronised => '?',
        };
        let usec = self.time.as_nanos().rem_euclid(1_000_000_000) / 1000;
        match self.raw {
            Some((polled, pulse)) => format!(
                ".{usec:06} {:<5} {polled:3} {leap} {} {} {} {}",
                self.ref_id,
                u8::from(pulse),
                c_exp(self.raw_offset, 6, 13),
                c_exp(self.cooked_offset, 6, 13),
                c_exp(self.dispersion, 3, 10),
            ),
            None => format!(
                ".{usec:06} {:<5}   - {leap} -       -       {} {}",
                self.ref_id,
                c_exp(self.cooked_offset, 6, 13),
                c_exp(self.dispersion, 3, 10),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_match_chronyd() {
        let time = UnixTime::from_nanos(1_262_304_000_123_456_789);
        let raw = RefclockLogRecord {
            time,
            ref_id: "SHM0".into(),
            raw: Some((3, false)),
            leap: LeapStatus::Normal,
            raw_offset: -1.2345e-4,
            cooked_offset: 5.0e-7,
            dispersion: 1.0e-6,
        };
        assert_eq!(
            raw.columns(),
            ".123456 SHM0    3 N 0 -1.234500e-04  5.000000e-07  1.000e-06"
        );
        let filtered = RefclockLogRecord { raw: None, ..raw };
        assert_eq!(
            filtered.columns(),
            ".123456 SHM0    - N -       -        5.000000e-07  1.000e-06"
        );
    }
}
