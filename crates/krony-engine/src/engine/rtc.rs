//! The real-time clock's tracking wired to the reference: readings in,
//! device actions out, the initial trim of `-s` and autotrim applied to
//! the clock, `rtcdata`/`trimrtc`/`writertc` answered.

use super::Engine;
use super::events::EngineEvent;
use crate::UnixTime;
use crate::discipline::{LogLevel, MAX_STRATUM};
use crate::rtc::{ReadingOutcome, RtcAction, RtcCoefs, RtcReport, RtcTracker};

impl Engine {
    /// Starts tracking the RTC (`rtcfile` with a working device), with the
    /// coefficients read from the file and the `rtcautotrim` threshold.
    pub fn enable_rtc(&mut self, file: Option<RtcCoefs>, autotrim: f64) {
        self.rtc = Some(RtcTracker::new(file, autotrim));
    }

    /// Whether the RTC is tracked (else the RTC commands answer "RTC driver
    /// not running").
    pub fn rtc_enabled(&self) -> bool {
        self.rtc.is_some()
    }

    /// `-s` with a working RTC: readings a second apart, then the clock is
    /// slewed by what the `rtcfile` says ([`RtcAction::InitDone`] follows).
    pub fn rtc_start_initial(&mut self) {
        if let Some(r) = &mut self.rtc {
            r.start_initial();
        }
    }

    /// Starts the periodic RTC measurements.
    pub fn rtc_start_measurements(&mut self) {
        if let Some(r) = &mut self.rtc {
            r.start_measurements();
        }
    }

    /// When [`handle_rtc_timeout`](Self::handle_rtc_timeout) is due (raw).
    pub fn rtc_timeout(&self) -> Option<UnixTime> {
        self.rtc.as_ref().and_then(RtcTracker::poll_timeout)
    }

    /// Turns the measurement interrupts on again when due.
    pub fn handle_rtc_timeout(&mut self, now: UnixTime) {
        if let Some(r) = &mut self.rtc {
            r.handle_timeout(now);
        }
    }

    /// The next device action.
    pub fn poll_rtc_action(&mut self) -> Option<RtcAction> {
        self.rtc.as_mut().and_then(RtcTracker::poll_action)
    }

    /// An update interrupt at raw time `now`: the RTC read `rtc` (Unix
    /// seconds), or `None` if it could not be read.
    pub fn handle_rtc_reading(&mut self, now: UnixTime, rtc: Option<i64>) {
        let sys = self.cook(now);
        let Some(r) = &mut self.rtc else { return };
        let (outcome, line) = r.handle_reading(now, sys, rtc);
        match outcome {
            ReadingOutcome::None => {}
            ReadingOutcome::InitialTrim(Some(offset)) => {
                self.reference.accumulate_offset(now, offset);
                self.events.push_back(EngineEvent::log(
                    LogLevel::Info,
                    format!("System clock off from RTC by {offset:.6} seconds (slew)"),
                ));
                self.drain_reference(now);
            }
            ReadingOutcome::InitialTrim(None) => self.events.push_back(EngineEvent::log(
                LogLevel::Warn,
                "No valid rtcfile coefficients",
            )),
            ReadingOutcome::MaybeAutotrim => {
                let synchronised = self.reference.server_params(now).stratum < MAX_STRATUM;
                if synchronised && r.autotrim_due() {
                    self.rtc_trim(now);
                }
            }
        }
        if let Some(line) = line {
            self.events.push_back(EngineEvent::RtcLog(line));
        }
    }

    /// `trimrtc`: false when no RTC is tracked.
    pub fn rtc_trim(&mut self, now: UnixTime) -> bool {
        let cooked = self.cook(now);
        let Some(r) = &mut self.rtc else {
            return false;
        };
        if let Some(msg) = r.trim(cooked) {
            self.events.push_back(EngineEvent::log(LogLevel::Info, msg));
        }
        true
    }

    /// `writertc` and exit: `None` when no RTC is tracked, `Some(None)`
    /// when there is nothing valid to write.
    pub fn rtc_parameters(&self) -> Option<Option<RtcCoefs>> {
        self.rtc.as_ref().map(RtcTracker::parameters)
    }

    /// `rtcdata`: `None` when no RTC is tracked.
    pub fn rtc_report(&self) -> Option<RtcReport> {
        self.rtc.as_ref().map(RtcTracker::report)
    }
}
