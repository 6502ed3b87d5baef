//! The clock the engine disciplines, as seen from the edge.
//!
//! The engine never calls a clock itself: it returns [`ClockAction`]s, and the
//! driver (kronyd's system clock, or a simulated clock in krony-sim) applies them
//! through its [`Clock`] implementation. Offsets are not slewed by the clock: the
//! engine corrects them by changing the frequency for a while, as chrony does with
//! the kernel PLL off, so a clock only needs to set a frequency and to step.
//!
//! Sign convention used throughout krony (and chrony's reports): a *frequency
//! error* is positive when the clock runs fast (gains time). The *correction* a
//! [`Clock`] applies is the opposite: positive makes the clock run faster.

use crate::UnixTime;

/// Leap second status, as chronyc's "Leap status" prints it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LeapStatus {
    /// "Normal".
    Normal,
    /// "Insert second": 23:59:60 at the end of this UTC day (Jun 30 or Dec 31).
    InsertSecond,
    /// "Delete second": 23:59:59 skipped at the end of this UTC day.
    DeleteSecond,
    /// "Not synchronised".
    #[default]
    Unsynchronised,
}

/// One adjustment the engine asks the driver to make to its clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ClockAction {
    /// Set the frequency correction, in ppm (positive = run faster). This
    /// replaces the previous correction; it is not added to it.
    SetFrequency { correction_ppm: f64 },
    /// Step the clock: add `offset` seconds to its reading at once.
    Step { offset: f64 },
    /// Tell the kernel about a leap second at the end of the current UTC day
    /// (only `InsertSecond`/`DeleteSecond` arm it; anything else disarms it),
    /// and of the TAI-UTC offset in seconds (0: unknown, left alone).
    SetLeap { leap: LeapStatus, tai_offset: i32 },
    /// Tell the kernel whether the clock is synchronised, with its estimated and
    /// maximum error in seconds (adjtimex esterror/maxerror; clearing
    /// STA_UNSYNC is what lets the kernel copy the time to the RTC).
    SetSyncStatus {
        synchronised: bool,
        est_error: f64,
        max_error: f64,
    },
}

/// Why a clock refused an adjustment.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The driver does not control the clock (kronyd -x).
    #[error("clock control disabled")]
    Disabled,
    /// The operating system refused the adjustment.
    #[error("clock adjustment failed: {0}")]
    Failed(String),
}

/// A clock the driver can read and adjust.
pub trait Clock {
    /// The clock's current reading.
    fn now(&self) -> UnixTime;

    /// The smallest interval between two different readings, in seconds.
    fn precision(&self) -> f64;

    /// The largest frequency correction the clock accepts, in ppm.
    fn max_frequency_ppm(&self) -> f64 {
        500_000.0
    }

    /// Applies one adjustment.
    ///
    /// # Errors
    /// [`ClockError`] when the adjustment could not be made; the engine's view of
    /// the clock is then out of date and the driver should log it.
    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError>;
}
