//! What chronyc's `ntpdata`, `sources` and the `measurements` log show about
//! a source.

use std::net::{IpAddr, SocketAddr};

use krony_wire::ntp::{LeapIndicator, Mode, NtpRepr, RefId};

use super::NtpSource;
use super::checks::PacketTests;
use super::sample::Measurement;
use super::types::{Association, TimestampKind};
use crate::UnixTime;
use crate::discipline::log_time;
use crate::select::Reachability;

/// The packet and timestamp counters of ntpdata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NtpCounters {
    /// `Total TX`: requests sent.
    pub total_tx: u32,
    /// `Total RX`: packets received from the address.
    pub total_rx: u32,
    /// `Total valid RX`: responses that passed tests 1-3 and 5.
    pub total_valid: u32,
    /// `Total good RX`: responses that passed all tests.
    pub total_good: u32,
    /// `Total kernel TX`: kernel TX timestamps.
    pub total_kernel_tx: u32,
    /// `Total kernel RX`.
    pub total_kernel_rx: u32,
    /// `Total HW TX`: hardware TX timestamps.
    pub total_hw_tx: u32,
    /// `Total HW RX`.
    pub total_hw_rx: u32,
}

/// Everything `chronyc ntpdata` prints for a source: the fields of the last
/// valid response and the counters (chrony's `RPT_NTPReport`).
#[derive(Debug, Clone, PartialEq)]
pub struct NtpDataReport {
    /// `Remote address`.
    pub remote_addr: IpAddr,
    /// `Remote port`.
    pub remote_port: u16,
    /// `Local address` (unknown before the first valid response).
    pub local_addr: Option<IpAddr>,
    /// `Leap status`.
    pub leap: LeapIndicator,
    /// `Version`.
    pub version: u8,
    /// `Mode` of the response (Server, Symmetric active, Symmetric passive).
    pub mode: Mode,
    /// `Stratum`.
    pub stratum: u8,
    /// `Poll interval` of the response, log2 s.
    pub poll: i8,
    /// `Precision`, log2 s.
    pub precision: i8,
    /// `Root delay`, seconds.
    pub root_delay: f64,
    /// `Root dispersion`, seconds.
    pub root_dispersion: f64,
    /// `Reference ID`.
    pub ref_id: RefId,
    /// `Reference time` (the epoch for a zero timestamp).
    pub ref_time: UnixTime,
    /// `Offset`, seconds (positive = the source is ahead).
    pub offset: f64,
    /// `Peer delay`.
    pub peer_delay: f64,
    /// `Peer dispersion`.
    pub peer_dispersion: f64,
    /// `Response time`: the server's processing time.
    pub response_time: f64,
    /// `Jitter asymmetry`.
    pub jitter_asymmetry: f64,
    /// `NTP tests`.
    pub tests: PacketTests,
    /// `Interleaved`.
    pub interleaved: bool,
    /// `Authenticated`: authentication is enabled for the source.
    pub authenticated: bool,
    /// `TX timestamping`.
    pub tx_kind: TimestampKind,
    /// `RX timestamping`.
    pub rx_kind: TimestampKind,
    /// The counters.
    pub counters: NtpCounters,
}

impl NtpDataReport {
    /// An empty report (chrony's `reset_report`: zeros and the address).
    pub fn new(remote: SocketAddr) -> Self {
        NtpDataReport {
            remote_addr: remote.ip(),
            remote_port: remote.port(),
            local_addr: None,
            leap: LeapIndicator::NoWarning,
            version: 0,
            mode: Mode::Reserved,
            stratum: 0,
            poll: 0,
            precision: 0,
            root_delay: 0.0,
            root_dispersion: 0.0,
            ref_id: RefId::UNSYNC,
            ref_time: UnixTime::EPOCH,
            offset: 0.0,
            peer_delay: 0.0,
            peer_dispersion: 0.0,
            response_time: 0.0,
            jitter_asymmetry: 0.0,
            tests: PacketTests::default(),
            interleaved: false,
            authenticated: false,
            tx_kind: TimestampKind::Daemon,
            rx_kind: TimestampKind::Daemon,
            counters: NtpCounters::default(),
        }
    }
}

/// What `chronyc sources` needs from the source itself (the rest comes from
/// the statistics and selection).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceReportData {
    /// `^` (client) or `=` (peer).
    pub association: Association,
    /// `Poll`, log2 s.
    pub poll: i8,
    /// The stratum.
    pub stratum: u8,
    /// `Reach` (print in octal).
    pub reach: Reachability,
}

/// One line of the `measurements` log.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasurementRecord {
    /// The sample time (or the RX time without a measurement).
    pub time: UnixTime,
    /// The source's address.
    pub remote: IpAddr,
    /// Leap indicator of the packet.
    pub leap: LeapIndicator,
    /// Stratum of the packet.
    pub stratum: u8,
    /// The tests.
    pub tests: PacketTests,
    /// Our poll (`LP`).
    pub local_poll: i8,
    /// The packet's poll (`RP`).
    pub remote_poll: i8,
    /// The poll score.
    pub poll_score: f64,
    /// Offset, seconds.
    pub offset: f64,
    /// Peer delay.
    pub peer_delay: f64,
    /// Peer dispersion.
    pub peer_dispersion: f64,
    /// Root delay of the packet.
    pub root_delay: f64,
    /// Root dispersion of the packet.
    pub root_dispersion: f64,
    /// Reference ID of the packet.
    pub ref_id: RefId,
    /// Mode of the packet.
    pub mode: Mode,
    /// Interleaved (`I`) or basic (`B`).
    pub interleaved: bool,
    /// TX timestamping.
    pub tx_kind: TimestampKind,
    /// RX timestamping.
    pub rx_kind: TimestampKind,
}

/// The header of the `measurements` log (chrony's column titles).
pub const MEASUREMENTS_LOG_HEADER: &str = "   Date (UTC) Time     IP Address   L St 123 567 ABCD  LP RP Score    Offset  Peer del. Peer disp.  Root del. Root disp. Refid     MTxRx";

/// `x` as C's `%10.3e` prints it.
fn c_exp(x: f64) -> String {
    crate::cfmt::c_exp(x, 3, 10)
}

impl MeasurementRecord {
    /// The log line, in chrony's format.
    pub fn to_log_line(&self) -> String {
        let leap = ['N', '+', '-', '?'][usize::from(self.leap.bits())];
        let bits: String = self
            .tests
            .in_order()
            .iter()
            .map(|&b| if b { '1' } else { '0' })
            .collect();
        format!(
            "{} {:<15} {} {:2} {} {} {}  {:2} {:2} {:4.2} {} {} {} {} {} {} {}{} {} {}",
            log_time(self.time),
            self.remote.to_string(),
            leap,
            self.stratum,
            &bits[0..3],
            &bits[3..6],
            &bits[6..10],
            self.local_poll,
            self.remote_poll,
            self.poll_score,
            c_exp(self.offset),
            c_exp(self.peer_delay),
            c_exp(self.peer_dispersion),
            c_exp(self.root_delay),
            c_exp(self.root_dispersion),
            self.ref_id,
            self.mode.bits(),
            if self.interleaved { 'I' } else { 'B' },
            self.tx_kind.code(),
            self.rx_kind.code(),
        )
    }
}

impl NtpSource {
    /// The `ntpdata` report.
    pub fn ntp_data_report(&self) -> NtpDataReport {
        self.report.clone()
    }

    /// How many valid responses came (`ntpdata`'s "Total valid RX").
    pub fn valid_responses(&self) -> u32 {
        self.report.counters.total_valid
    }

    /// The `sources` fields owned by the source.
    pub fn source_report(&self) -> SourceReportData {
        SourceReportData {
            association: self.assoc,
            poll: self.poll(),
            stratum: self.stratum,
            reach: self.reach,
        }
    }

    /// Records a valid response in the report (`process_response`).
    pub(super) fn update_report(
        &mut self,
        p: &NtpRepr,
        tests: PacketTests,
        interleaved: bool,
        m: &Measurement,
        good: bool,
    ) {
        let r = &mut self.report;
        r.local_addr = self.local_addr;
        r.leap = p.leap;
        r.version = p.version;
        r.mode = p.mode;
        r.stratum = p.stratum;
        r.poll = p.poll;
        r.precision = p.precision;
        r.root_delay = p.root_delay.to_secs();
        r.root_dispersion = p.root_dispersion.to_secs();
        r.ref_id = p.reference_id;
        r.ref_time = p
            .reference_ts
            .to_unix_opt(m.local_receive.time)
            .unwrap_or(UnixTime::EPOCH);
        r.offset = m.sample.offset;
        r.peer_delay = m.sample.peer_delay;
        r.peer_dispersion = m.sample.peer_dispersion;
        r.response_time = m.response_time;
        r.jitter_asymmetry = self.stats.jitter_asymmetry();
        r.tests = tests;
        r.interleaved = interleaved;
        r.authenticated = self.params.auth != super::AuthMode::None;
        r.tx_kind = m.local_transmit.map_or(TimestampKind::Daemon, |t| t.kind);
        r.rx_kind = m.local_receive.kind;
        r.counters.total_valid += 1;
        if good {
            r.counters.total_good += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_style_exponent() {
        assert_eq!(c_exp(1.234e-3), " 1.234e-03");
        assert_eq!(c_exp(-5.0e-10), "-5.000e-10");
        assert_eq!(c_exp(0.0), " 0.000e+00");
    }

    #[test]
    fn log_time_is_utc_civil() {
        let t = UnixTime::from_secs_nanos(1_700_000_000, 0);
        assert_eq!(log_time(t), "2023-11-14 22:13:20");
        assert_eq!(log_time(UnixTime::EPOCH), "1970-01-01 00:00:00");
    }
}
