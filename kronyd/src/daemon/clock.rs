//! The clock the daemon disciplines: the system clock, or with `-x` (and
//! `-Q`) a virtual clock over it that leaves the system clock alone.

use krony_engine::UnixTime;
use krony_engine::clock::{Clock, ClockAction, ClockError};

use crate::sys::clock::SystemClock;
use crate::sys::virtual_clock::VirtualClock;

/// The system clock or its virtual stand-in.
#[derive(Debug)]
pub enum DaemonClock {
    /// The kernel's clock, adjusted through adjtimex.
    System(SystemClock),
    /// `-x`: corrections applied in software only.
    Virtual(VirtualClock<fn() -> UnixTime>),
}

impl DaemonClock {
    /// A kernel timestamp (taken on the system clock) as a reading of this
    /// clock: with `-x` the virtual correction is added. The correction is
    /// the current one; it changes by at most `maxslewrate` (1/12) times the
    /// timestamp's age, nanoseconds for a packet read at once.
    pub fn kernel_to_clock(&self, t: UnixTime) -> UnixTime {
        match self {
            DaemonClock::System(_) => t,
            DaemonClock::Virtual(v) => t.add_secs(v.correction_secs()),
        }
    }

    /// Whether the system clock is controlled.
    pub fn controls_system_clock(&self) -> bool {
        matches!(self, DaemonClock::System(_))
    }
}

impl Clock for DaemonClock {
    fn now(&self) -> UnixTime {
        match self {
            DaemonClock::System(c) => c.now(),
            DaemonClock::Virtual(c) => c.now(),
        }
    }

    fn precision(&self) -> f64 {
        match self {
            DaemonClock::System(c) => c.precision(),
            DaemonClock::Virtual(c) => c.precision(),
        }
    }

    fn max_frequency_ppm(&self) -> f64 {
        match self {
            DaemonClock::System(c) => c.max_frequency_ppm(),
            DaemonClock::Virtual(c) => c.max_frequency_ppm(),
        }
    }

    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError> {
        match self {
            DaemonClock::System(c) => c.apply(action),
            DaemonClock::Virtual(c) => c.apply(action),
        }
    }
}

impl crate::refclock::DriverClock for DaemonClock {
    fn now(&self) -> UnixTime {
        Clock::now(self)
    }

    fn system_to_clock(&self, t: UnixTime) -> UnixTime {
        self.kernel_to_clock(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_clock_converts_kernel_timestamps() {
        let mut c = DaemonClock::Virtual(VirtualClock::system(Some(1e-9)));
        assert!(!c.controls_system_clock());
        c.apply(ClockAction::Step { offset: 2.5 })
            .expect("virtual step");
        let t = UnixTime::from_secs_nanos(1_000_000, 0);
        let d = c.kernel_to_clock(t).diff_secs(t);
        assert!((d - 2.5).abs() < 1e-6, "{d}");
        assert!(c.now().diff_secs(crate::sys::clock::realtime_now()) > 2.4);
    }
}
