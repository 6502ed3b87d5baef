//! `smoothtime` wired into the engine: the smoother follows the clock's
//! corrections, the server serves smoothed time, and chronyc's `smoothing`,
//! `smoothtime` and `doffset` reach it.

use super::{Engine, EngineEvent};
use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::discipline::{ClockNotice, DisciplineEvent, LeapMode, LogLevel, ServerParams};
use crate::smooth::{REFID_SMOOTH, SmoothingReport, leap_notice_index};

/// NTP mode of a symmetric active request (RFC 5905 §3): answered in
/// symmetric passive mode, which chrony does not smooth.
const MODE_SYMMETRIC_ACTIVE: u8 = 1;
/// NTP mode of a server response (RFC 5905 §3).
const MODE_SERVER: u8 = 4;

/// The mode field of an NTP packet (RFC 5905 §7.3: the low 3 bits of the
/// first octet).
fn packet_mode(bytes: &[u8]) -> Option<u8> {
    bytes.first().map(|b| b & 0x07)
}

impl Engine {
    /// chronyc `smoothing` at raw time `now`; `None` without `smoothtime`
    /// (chronyc "505 Facility not enabled in daemon").
    pub fn smoothing(&self, now: UnixTime) -> Option<SmoothingReport> {
        let cooked = self.cook(now);
        self.smooth.as_ref().map(|s| s.report(cooked))
    }

    /// chronyc `smoothtime activate`; false without `smoothtime`.
    pub fn smoothtime_activate(&mut self, now: UnixTime) -> bool {
        let cooked = self.cook(now);
        let Some(s) = self.smooth.as_mut() else {
            return false;
        };
        s.activate(cooked);
        self.drain_smoother();
        true
    }

    /// chronyc `smoothtime reset`; false without `smoothtime`.
    pub fn smoothtime_reset(&mut self, now: UnixTime) -> bool {
        let cooked = self.cook(now);
        let Some(s) = self.smooth.as_mut() else {
            return false;
        };
        s.reset(cooked);
        self.drain_smoother();
        true
    }

    /// chronyc `doffset SECONDS` (chrony's `LCL_AccumulateOffset`): adds
    /// `offset` (positive = the clock is ahead, so it is slowed) to the
    /// correction being slewed out, which tracking's "System time" shows.
    /// False when the corrected time would be out of range (chronyc "500
    /// Failure").
    pub fn accumulate_offset(&mut self, now: UnixTime, offset: f64) -> bool {
        let ok = self.reference.accumulate_offset(now, offset);
        if ok {
            self.events.push_back(EngineEvent::log(
                LogLevel::Info,
                format!("Accumulated delta offset of {offset:.6} seconds"),
            ));
        }
        self.drain_reference(now);
        ok
    }

    /// Feeds the clock changes of one drain of the reference to the
    /// smoother, in order.
    pub(super) fn follow_smoothing(&mut self, notices: &[ClockNotice], events: &[DisciplineEvent]) {
        let Some(s) = self.smooth.as_mut() else {
            return;
        };
        let skew = self.reference.skew();
        let leap = leap_notice_index(notices, events);
        for (i, n) in notices.iter().enumerate() {
            let ClockNotice::Changed(ch) = n else {
                continue;
            };
            if Some(i) == leap {
                s.leap_passed(ch, skew);
            } else {
                s.clock_changed(ch, skew);
            }
        }
        self.drain_smoother();
    }

    /// What a response to `request` carries with smoothing: the header
    /// fields and the receive and transmit times (cooked), as chrony's
    /// server mode does it. Symmetric passive responses are not smoothed.
    pub(super) fn smooth_response(
        &self,
        request: &[u8],
        mut params: ServerParams,
        rx_time: UnixTime,
        tx_time: UnixTime,
    ) -> (ServerParams, UnixTime, UnixTime) {
        let Some(s) = self.smooth.as_ref() else {
            return (params, rx_time, tx_time);
        };
        if packet_mode(request) == Some(MODE_SYMMETRIC_ACTIVE) {
            return (params, rx_time, tx_time);
        }
        // With leap seconds slewed, clients must not hear of the leap
        // second: the smoothed time has no leap in it.
        if self.cfg.discipline.leap_mode == LeapMode::Slew
            && matches!(
                params.leap,
                LeapStatus::InsertSecond | LeapStatus::DeleteSecond
            )
        {
            params.leap = LeapStatus::Normal;
        }
        let offset = s.offset(tx_time);
        // An offset below the clock's precision changes nothing served.
        if offset.abs() <= self.cfg.precision {
            return (params, rx_time, tx_time);
        }
        params.ref_id = REFID_SMOOTH;
        if params.ref_time != UnixTime::EPOCH {
            params.ref_time = params.ref_time.add_secs(offset);
        }
        (params, rx_time.add_secs(offset), tx_time.add_secs(offset))
    }

    /// A kernel or hardware TX time (cooked) of a server response moved
    /// onto the smoothed time scale the response was built on.
    pub(super) fn smooth_tx_timestamp(&self, sent: &[u8], tx: UnixTime) -> UnixTime {
        match &self.smooth {
            Some(s) if packet_mode(sent) == Some(MODE_SERVER) => tx.add_secs(s.offset(tx)),
            _ => tx,
        }
    }

    /// Moves the smoother's log lines to the engine's events.
    fn drain_smoother(&mut self) {
        let Some(s) = self.smooth.as_mut() else {
            return;
        };
        while let Some(e) = s.poll_event() {
            self.events
                .push_back(EngineEvent::log(LogLevel::Info, e.to_string()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;

    fn engine(conf: &str) -> Engine {
        let parsed = krony_config::parse_str(conf, "t.conf").expect("valid config");
        let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
        Engine::new(cfg, UnixTime::from_secs_nanos(1_700_000_000, 0), 1).expect("engine")
    }

    fn params(leap: LeapStatus) -> ServerParams {
        ServerParams {
            synchronised: true,
            leap,
            stratum: 2,
            ref_id: 0x0A00_0001,
            ref_time: UnixTime::from_secs_nanos(1_699_999_990, 0),
            root_delay: 0.01,
            root_dispersion: 0.02,
        }
    }

    #[test]
    fn leap_second_is_hidden_only_with_slewed_leap_seconds() {
        let t = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let client = [0x23u8];
        let e = engine("smoothtime 400 0.001\nleapsecmode slew\n");
        let (p, rx, tx) = e.smooth_response(&client, params(LeapStatus::InsertSecond), t, t);
        assert_eq!(p.leap, LeapStatus::Normal);
        // No offset accumulated: nothing else changes.
        assert_eq!((p.ref_id, rx, tx), (0x0A00_0001, t, t));
        // Symmetric passive responses keep it.
        let (p, _, _) = e.smooth_response(&[0x21], params(LeapStatus::DeleteSecond), t, t);
        assert_eq!(p.leap, LeapStatus::DeleteSecond);
        let e = engine("smoothtime 400 0.001\n");
        let (p, _, _) = e.smooth_response(&client, params(LeapStatus::InsertSecond), t, t);
        assert_eq!(p.leap, LeapStatus::InsertSecond);
        let e = engine("leapsecmode slew\n");
        let (p, _, _) = e.smooth_response(&client, params(LeapStatus::InsertSecond), t, t);
        assert_eq!(p.leap, LeapStatus::InsertSecond);
    }

    #[test]
    fn kernel_tx_times_of_server_responses_are_smoothed() {
        let t = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = engine("smoothtime 400 0.001\n");
        assert!(e.smoothtime_activate(t));
        assert!(e.accumulate_offset(t, 1.0));
        let later = t.add_secs(0.5);
        let cooked = e.cook(later);
        let offset = e.smoothing(later).map_or(0.0, |r| r.offset);
        assert!((offset - 1.0).abs() < 1e-6);
        // Mode 4 (server) is moved, mode 2 (symmetric passive) is not.
        let moved = e.smooth_tx_timestamp(&[0x24], cooked);
        assert!((moved.diff_secs(cooked) - offset).abs() < 1e-9);
        assert_eq!(e.smooth_tx_timestamp(&[0x22], cooked), cooked);
        assert_eq!(e.smooth_tx_timestamp(&[], cooked), cooked);
    }
}
