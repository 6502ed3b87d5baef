//! What the discipline reports: the `tracking` report, the parameters the NTP
//! server puts in its responses, and the `tracking` log line.

use core::fmt;
use std::net::IpAddr;

use super::civil::log_time;
use crate::UnixTime;
use crate::clock::LeapStatus;

/// Everything `chronyc tracking` prints (cmdmon's tracking reply).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingReport {
    /// "Reference ID": the refid (0 unsynchronised, 0x7F7F0101 local).
    pub ref_id: u32,
    /// The reference's address, when synchronised to an NTP source.
    pub ref_ip: Option<IpAddr>,
    /// "Stratum" (0 when unsynchronised).
    pub stratum: u8,
    /// "Ref time (UTC)" (the epoch when there is none).
    pub ref_time: UnixTime,
    /// "System time": the correction still to be applied, seconds (positive =
    /// the clock is behind, printed "slow of NTP time").
    pub current_correction: f64,
    /// "Last offset" (positive = the clock was ahead).
    pub last_offset: f64,
    /// "RMS offset": running RMS of the update offsets.
    pub rms_offset: f64,
    /// "Frequency" in ppm (positive = fast).
    pub frequency_ppm: f64,
    /// "Residual freq" in ppm.
    pub residual_freq_ppm: f64,
    /// "Skew" in ppm.
    pub skew_ppm: f64,
    /// "Root delay" in seconds.
    pub root_delay: f64,
    /// "Root dispersion" in seconds, grown to now.
    pub root_dispersion: f64,
    /// "Update interval" in seconds.
    pub update_interval: f64,
    /// "Leap status".
    pub leap: LeapStatus,
}

/// What the NTP server puts in its responses (RFC 5905 §7.3 header fields).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerParams {
    /// Whether the clock is synchronised to a real reference (false in local
    /// reference mode).
    pub synchronised: bool,
    /// Leap indicator (Unsynchronised = 3).
    pub leap: LeapStatus,
    /// Stratum (16 = unsynchronised).
    pub stratum: u8,
    /// Reference ID.
    pub ref_id: u32,
    /// Reference timestamp (the epoch = none, sent as zero).
    pub ref_time: UnixTime,
    /// Root delay in seconds.
    pub root_delay: f64,
    /// Root dispersion in seconds, including growth since the last update.
    pub root_dispersion: f64,
}

/// Header of the `tracking` log file (chrony's column titles).
pub const TRACKING_LOG_HEADER: &str = "   Date (UTC) Time     IP Address   St   Freq ppm   Skew ppm     Offset L Co  Offset sd Rem. corr. Root delay Root disp. Max. error";

/// One line of the `tracking` log.
#[derive(Debug, Clone, PartialEq)]
pub struct TrackingLogLine {
    /// Cooked time of the update.
    pub time: UnixTime,
    /// Address of the reference, or its refid as text.
    pub source: String,
    /// Our stratum.
    pub stratum: u8,
    /// Frequency error estimate (ppm).
    pub frequency_ppm: f64,
    /// Skew (ppm).
    pub skew_ppm: f64,
    /// Offset of the update (s).
    pub offset: f64,
    /// Leap status.
    pub leap: LeapStatus,
    /// Number of combined sources.
    pub combined_sources: u32,
    /// Offset standard deviation (s).
    pub offset_sd: f64,
    /// Correction pending before the update (s).
    pub uncorrected_offset: f64,
    /// Root delay (s).
    pub root_delay: f64,
    /// Root dispersion (s).
    pub root_dispersion: f64,
    /// Maximum error: root distance before the update plus the last pending
    /// correction (s).
    pub max_error: f64,
}

impl fmt::Display for TrackingLogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let leap = match self.leap {
            LeapStatus::Normal => 'N',
            LeapStatus::InsertSecond => '+',
            LeapStatus::DeleteSecond => '-',
            LeapStatus::Unsynchronised => '?',
        };
        write!(
            f,
            "{} {:<15} {:2} {:10.3} {:10.3} {} {} {:2} {} {} {} {} {}",
            log_time(self.time),
            self.source,
            self.stratum,
            self.frequency_ppm,
            self.skew_ppm,
            c_exp10(self.offset),
            leap,
            self.combined_sources,
            c_exp10(self.offset_sd),
            c_exp10(self.uncorrected_offset),
            c_exp10(self.root_delay),
            c_exp10(self.root_dispersion),
            c_exp10(self.max_error),
        )
    }
}

/// A number printed as C's `%10.3e` (two-digit exponent at least).
fn c_exp10(v: f64) -> String {
    crate::cfmt::c_exp(v, 3, 10)
}

/// A refid as chrony prints it where there is no address: its printable
/// ASCII characters.
pub(crate) fn refid_text(ref_id: u32) -> String {
    ref_id
        .to_be_bytes()
        .iter()
        .filter(|b| b.is_ascii_graphic() || **b == b' ')
        .map(|&b| char::from(b))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn c_exponent_format() {
        assert_eq!(c_exp10(1.234_56e-5), " 1.235e-05");
        assert_eq!(c_exp10(-0.5), "-5.000e-01");
        assert_eq!(c_exp10(0.0).to_string(), " 0.000e+00");
        assert_eq!(c_exp10(12345.0).to_string(), " 1.234e+04");
    }

    #[test]
    fn log_line_layout() {
        let line = TrackingLogLine {
            time: UnixTime::from_secs_nanos(1_483_228_799, 0),
            source: "192.0.2.1".into(),
            stratum: 2,
            frequency_ppm: -12.345,
            skew_ppm: 0.1,
            offset: 1.5e-6,
            leap: LeapStatus::Normal,
            combined_sources: 3,
            offset_sd: 2e-6,
            uncorrected_offset: 0.0,
            root_delay: 1e-3,
            root_dispersion: 2e-3,
            max_error: 3e-3,
        };
        assert_eq!(
            line.to_string(),
            "2016-12-31 23:59:59 192.0.2.1        2    -12.345      0.100  1.500e-06 N  3  2.000e-06  0.000e+00  1.000e-03  2.000e-03  3.000e-03"
        );
    }

    #[test]
    fn refid_text_keeps_printable_characters() {
        assert_eq!(refid_text(0x4750_5300), "GPS");
        assert_eq!(refid_text(0x7F7F_0101), "");
    }
}
