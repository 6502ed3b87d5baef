//! The daemon's devices besides sockets: the `tempcomp` sensor and the
//! real-time clock, with their timers and descriptors for the loop.

use std::os::fd::BorrowedFd;

use krony_engine::{Engine, UnixTime};

use super::net::timeout_ns;
use super::rtc::RtcDriver;
use super::tempcomp::TempCompSensor;

/// The optional devices.
#[derive(Debug, Default)]
pub struct Devices {
    /// `tempcomp`.
    pub tempcomp: Option<TempCompSensor>,
    /// `rtcfile` with a working device.
    pub rtc: Option<RtcDriver>,
    /// Set when `-s`'s initial RTC trim ended and the sources may start.
    init_done: bool,
}

impl Devices {
    /// The devices the configuration opened.
    pub fn new(tempcomp: Option<TempCompSensor>, rtc: Option<RtcDriver>) -> Self {
        Devices {
            tempcomp,
            rtc,
            init_done: false,
        }
    }

    /// Nanoseconds until the earliest timer: the sensor's on the monotonic
    /// clock (`mono`), the RTC's on the raw clock (`now`).
    pub fn timeout_ns(&self, engine: &Engine, now: UnixTime, mono: UnixTime) -> Option<u64> {
        let tc = self
            .tempcomp
            .as_ref()
            .map(|t| timeout_ns(mono, t.deadline()));
        let rtc = self
            .rtc
            .as_ref()
            .and_then(|_| engine.rtc_timeout())
            .map(|d| timeout_ns(now, d));
        tc.into_iter().chain(rtc).min()
    }

    /// Fires the timers that are due at raw time `now`, monotonic `mono`.
    pub fn handle_timeout(&mut self, now: UnixTime, mono: UnixTime, engine: &mut Engine) {
        if let Some(t) = &mut self.tempcomp {
            t.handle_timeout(now, mono, engine);
        }
        if engine.rtc_timeout().is_some_and(|t| t <= now) {
            engine.handle_rtc_timeout(now);
        }
        self.apply_rtc_actions(engine);
    }

    /// The RTC's descriptor while the driver runs.
    pub fn rtc_fd(&self) -> Option<BorrowedFd<'_>> {
        self.rtc.as_ref().and_then(RtcDriver::fd)
    }

    /// The RTC is readable at raw time `now`.
    pub fn handle_rtc_readable(&mut self, now: UnixTime, engine: &mut Engine) {
        if let Some(r) = &mut self.rtc {
            self.init_done |= r.handle_readable(now, engine);
        }
    }

    /// Carries out what the engine asks of the RTC (also after `trimrtc`).
    pub fn apply_rtc_actions(&mut self, engine: &mut Engine) {
        if let Some(r) = &mut self.rtc {
            self.init_done |= r.apply_actions(engine);
        }
    }

    /// Whether the initial RTC trim just ended (once).
    pub fn take_init_done(&mut self) -> bool {
        std::mem::take(&mut self.init_done)
    }
}
