//! What the engine hands back besides packets and clock actions: log lines
//! with chrony's texts, and requests for I/O only the daemon can do.

use core::fmt;
use std::net::IpAddr;

use crate::UnixTime;
use crate::discipline::{LogLevel, TrackingLogLine};
use crate::rtc::RtcLogLine;
use crate::select::{SelectOptions, SelectState, SourceId};
use crate::source::MeasurementRecord;
use crate::stats::RegressionInfo;
use crate::tempcomp::TempCompLogLine;

/// A line to log, at chrony's severity and with chrony's text (admins and
/// chrony's test suite grep for them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogMessage {
    /// Severity.
    pub level: LogLevel,
    /// The text, without a time stamp.
    pub text: String,
}

impl fmt::Display for LogMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Something for the daemon to log or do; drain with
/// [`Engine::poll_event`](super::Engine::poll_event).
#[derive(Debug, Clone, PartialEq)]
pub enum EngineEvent {
    /// Log this line.
    Log(LogMessage),
    /// Write the driftfile with these values (see
    /// [`format_driftfile`](crate::discipline::format_driftfile)).
    WriteDriftfile {
        /// Frequency error, ppm.
        frequency_ppm: f64,
        /// Skew, ppm.
        skew_ppm: f64,
    },
    /// A line for the `tracking` log file.
    TrackingLog(TrackingLogLine),
    /// `mailonchange`: an update corrected more than the threshold; the
    /// daemon mails the admin (`offset` positive = the clock was ahead).
    MailChange {
        /// The offset corrected (seconds).
        offset: f64,
    },
    /// A line for the `rtc` log file.
    RtcLog(RtcLogLine),
    /// A line for the `tempcomp` log file.
    TempCompLog(TempCompLogLine),
    /// A line for the `measurements` log file.
    Measurement(Box<MeasurementRecord>),
    /// A line for the `statistics` log file: a source's new regression.
    Statistics(Box<StatisticsRecord>),
    /// A line for the `refclocks` log file: a refclock's raw or filtered
    /// sample.
    RefclockLog(Box<crate::refclock::RefclockLogRecord>),
    /// A line for the `selection` log file: one source's result of a
    /// selection round.
    Selection(Box<SelectionRecord>),
    /// The source is unreachable or a falseticker for long: if it was given
    /// by name, the daemon may resolve the name again and
    /// [`change its address`](super::Engine::change_source_address).
    ReplaceSource(SourceId),
    /// A special reference mode ended, or `maxchange` asks to exit: exit
    /// with status 0 on success, 1 otherwise.
    Exit {
        /// Whether the mode succeeded.
        success: bool,
    },
}

/// The figures of a source's regression after a new sample (chrony's
/// `statistics` log, written by `sourcestats.c`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatisticsRecord {
    /// The source.
    pub id: SourceId,
    /// Its address.
    pub addr: IpAddr,
    /// The time of the estimated offset (the newest sample's, cooked).
    pub time: UnixTime,
    /// The regression's figures.
    pub info: RegressionInfo,
}

/// One source's line of a selection round (chrony's `selection` log,
/// written by `sources.c` whenever a source's state is set).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelectionRecord {
    /// The source.
    pub id: SourceId,
    /// Its address.
    pub addr: IpAddr,
    /// The (cooked) time of the round.
    pub time: UnixTime,
    /// The state the round gave it.
    pub state: SelectState,
    /// Its effective selection options.
    pub options: SelectOptions,
    /// Its reachability register.
    pub reach: u8,
    /// Its score against the system peer.
    pub score: f64,
    /// Age of its newest sample, seconds.
    pub last_sample_ago: f64,
    /// Low end of its selection interval, seconds.
    pub lo: f64,
    /// High end of its selection interval, seconds.
    pub hi: f64,
}

impl EngineEvent {
    /// A log line.
    pub(super) fn log(level: LogLevel, text: impl Into<String>) -> Self {
        EngineEvent::Log(LogMessage {
            level,
            text: text.into(),
        })
    }

    /// The log message, for events that are one.
    pub fn as_log(&self) -> Option<&LogMessage> {
        match self {
            EngineEvent::Log(m) => Some(m),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_print_their_text() {
        let e = EngineEvent::log(LogLevel::Info, "Selected source 192.0.2.1");
        assert_eq!(
            e.as_log().map(|m| (m.level, m.to_string())),
            Some((LogLevel::Info, "Selected source 192.0.2.1".to_string()))
        );
        assert_eq!(EngineEvent::Exit { success: true }.as_log(), None);
    }
}
