//! Clock discipline: turns the combined estimate of the selected sources into
//! frequency and offset corrections of the local clock, and keeps the state the
//! NTP server and `kronyc tracking` report (chrony's `reference.c`, `local.c`
//! and `sys_generic.c`).
//!
//! Two layers:
//! - [`LocalClock`] models the disciplined clock: its frequency correction, the
//!   offset still to be slewed out, and the "cooked" time (raw reading plus the
//!   pending correction). Offsets are corrected by running the clock faster or
//!   slower for a while, never by the kernel PLL.
//! - [`Reference`] holds the synchronisation state and decides, for every update
//!   from source selection, how much frequency to take, whether to step or slew,
//!   how to handle leap seconds, and what to serve when unsynchronised (local
//!   reference mode).
//!
//! # Conventions
//! - Every `now` is a *raw* reading of the disciplined clock (what
//!   `clock_gettime(CLOCK_REALTIME)` returns), taken by the caller.
//! - An *offset* handed to this module follows chrony: it is how far the clock is
//!   **ahead** of true time (positive = fast). Correcting an offset moves the
//!   clock by `-offset`; the [`ClockAction::Step`] emitted therefore carries
//!   `-offset`.
//! - A *frequency* in ppm is the clock's frequency error (positive = the
//!   uncorrected clock runs fast), as the driftfile stores it and `tracking`
//!   prints it; the [`ClockAction::SetFrequency`] correction is its negation.
//!   A correction of `c` ppm is taken to make the clock run at `1 + c·1e-6` times
//!   its uncorrected rate (adjtimex's `freq` semantics).
//!
//! # Driving it
//! After every call that may change the clock, drain in this order:
//! [`Reference::poll_action`] (apply to the clock), [`Reference::poll_notice`]
//! (pass to every source's statistics), [`Reference::poll_event`] (log, write
//! the driftfile, exit). Sleep until [`Reference::poll_timeout`] and then call
//! [`Reference::handle_timeout`].

mod civil;
mod config;
mod driftfile;
mod events;
mod fallback;
mod leap;
mod local_clock;
mod local_mode;
mod reference;
mod tracking;

#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod test_clock;

pub use civil::{is_leap_second_day, log_time};
pub use config::{
    DisciplineConfig, LeapMode, LocalClockConfig, LocalConfig, MakeStep, MaxChange, RefMode,
};
pub use driftfile::{DriftfileError, format_driftfile, parse_driftfile};
pub use events::{DisciplineEvent, LogLevel};
pub use leap::KnownLeap;
pub(crate) use leap::tai_offset_at;
pub use local_clock::{ChangeKind, ClockChange, ClockNotice, LocalClock, LocalClockError};
pub use reference::{Reference, SyncUpdate};
pub use tracking::{ServerParams, TRACKING_LOG_HEADER, TrackingLogLine, TrackingReport};

use crate::UnixTime;

/// Reference ID served in local reference mode, 127.127.1.1 (chrony's
/// `NTP_REFID_LOCAL`).
pub const REFID_LOCAL: u32 = 0x7F7F_0101;

/// Reference ID served when unsynchronised (RFC 5905 §7.3: zero until
/// synchronised).
pub const REFID_UNSYNC: u32 = 0;

/// Reference ID of a manual reference in the tracking log ("MANU").
pub const REFID_MANUAL: u32 = 0x4D41_4E55;

/// Stratum meaning "unsynchronised" (RFC 5905 §7.3: 16).
pub const MAX_STRATUM: u8 = 16;

/// Moves a timestamp taken before a clock change onto the time scale after it:
/// the change happened at `when` (cooked time), altered the frequency by
/// `dfreq` (relative) and removed `doffset` seconds of offset. Returns the new
/// timestamp and the shift applied to it in seconds.
///
/// This is how sample times and the reference time follow slews and steps.
pub fn adjust_time(old: UnixTime, when: UnixTime, dfreq: f64, doffset: f64) -> (UnixTime, f64) {
    let elapsed = when.diff_secs(old);
    let delta = elapsed * dfreq - doffset;
    (old.add_secs(delta), delta)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjust_time_follows_offset_and_frequency() {
        let when = UnixTime::from_secs_nanos(1_000, 0);
        let old = UnixTime::from_secs_nanos(900, 0);
        // Removing 0.5 s of offset moves old timestamps back by 0.5 s.
        let (t, d) = adjust_time(old, when, 0.0, 0.5);
        assert_eq!(d, -0.5);
        assert_eq!(t, UnixTime::from_secs_nanos(899, 500_000_000));
        // A frequency change of 1e-6 over 100 s moves it by 100 µs.
        let (t, d) = adjust_time(old, when, 1e-6, 0.0);
        assert!((d - 1e-4).abs() < 1e-12);
        assert_eq!(t, UnixTime::from_secs_nanos(900, 100_000));
    }
}
