//! UTC calendar arithmetic for leap second days and log timestamps (no time
//! zone database: UTC only, proleptic Gregorian calendar).

use crate::UnixTime;

const SECS_PER_DAY: i64 = 86_400;

/// A UTC calendar date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Date {
    pub year: i64,
    /// 1..=12
    pub month: u32,
    /// 1..=31
    pub day: u32,
}

/// The calendar date of a day counted from 1970-01-01 (day 0).
///
/// Works in 400-year eras of 146097 days starting on March 1st, so that the
/// leap day is the last day of a "year" and month lengths follow a simple
/// pattern (the well-known days-to-civil construction).
pub(crate) fn date_from_days(days: i64) -> Date {
    // Shift the epoch to 0000-03-01.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146096
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of March-based year
    let mp = (5 * doy + 2) / 153; // March = 0
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date { year, month, day }
}

/// Whether a leap second may occur at the end of the UTC day containing `t`:
/// only on June 30 and December 31 (ITU-R TF.460-6 allows other month ends,
/// but chrony, like every leap so far, uses only these two).
pub fn is_leap_second_day(t: UnixTime) -> bool {
    let d = date_from_days(t.secs().div_euclid(SECS_PER_DAY));
    (d.month == 6 && d.day == 30) || (d.month == 12 && d.day == 31)
}

/// The start of the next UTC day after the one containing `t`, in whole
/// seconds since the epoch.
pub(crate) fn next_midnight(t: UnixTime) -> i64 {
    (t.secs().div_euclid(SECS_PER_DAY) + 1) * SECS_PER_DAY
}

/// Formats `t` (rounded down to the second) as chrony's log files do:
/// `YYYY-MM-DD HH:MM:SS` in UTC.
pub fn log_time(t: UnixTime) -> String {
    let secs = t.secs();
    let d = date_from_days(secs.div_euclid(SECS_PER_DAY));
    let sod = secs.rem_euclid(SECS_PER_DAY);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        d.year,
        d.month,
        d.day,
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> UnixTime {
        UnixTime::from_secs_nanos(secs, 0)
    }

    #[test]
    fn known_dates() {
        assert_eq!(
            date_from_days(0),
            Date {
                year: 1970,
                month: 1,
                day: 1
            }
        );
        // 2000-02-29 (a leap day in a century leap year) is day 11016.
        assert_eq!(
            date_from_days(11_016),
            Date {
                year: 2000,
                month: 2,
                day: 29
            }
        );
        // 2016-12-31 (day of the last inserted leap second) is day 17166.
        assert_eq!(
            date_from_days(17_166),
            Date {
                year: 2016,
                month: 12,
                day: 31
            }
        );
        assert_eq!(
            date_from_days(-1),
            Date {
                year: 1969,
                month: 12,
                day: 31
            }
        );
    }

    #[test]
    fn leap_days_are_june_30_and_december_31_only() {
        // 2016-12-31 12:00:00 UTC
        assert!(is_leap_second_day(at(1_483_185_600)));
        // 2016-12-31 23:59:59 UTC, still that day
        assert!(is_leap_second_day(at(1_483_228_799)));
        // 2017-01-01 00:00:00 UTC
        assert!(!is_leap_second_day(at(1_483_228_800)));
        // 2015-06-30 10:00:00 UTC
        assert!(is_leap_second_day(at(1_435_658_400)));
        // 2015-06-29 and 2015-07-01
        assert!(!is_leap_second_day(at(1_435_572_000)));
        assert!(!is_leap_second_day(at(1_435_744_800)));
        // 2016-11-30: a month end, but not one chrony accepts
        assert!(!is_leap_second_day(at(1_480_507_200)));
    }

    #[test]
    fn log_time_format() {
        assert_eq!(log_time(at(1_483_228_799)), "2016-12-31 23:59:59");
        assert_eq!(
            log_time(UnixTime::from_secs_nanos(0, 999_999_999)),
            "1970-01-01 00:00:00"
        );
    }

    #[test]
    fn next_midnight_is_the_following_day_start() {
        assert_eq!(next_midnight(at(1_483_185_600)), 1_483_228_800);
        assert_eq!(next_midnight(at(1_483_228_800)), 1_483_228_800 + 86_400);
    }
}
