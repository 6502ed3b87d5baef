//! What the engine hands back besides packets and clock actions: log lines
//! with chrony's texts, and requests for I/O only the daemon can do.

use core::fmt;

use crate::discipline::{LogLevel, TrackingLogLine};
use crate::select::SourceId;
use crate::source::MeasurementRecord;

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
    /// A line for the `measurements` log file.
    Measurement(Box<MeasurementRecord>),
    /// The source (a pool member) is unreachable or a falseticker for long:
    /// the daemon may resolve the pool again and
    /// [`change its address`](super::Engine::change_source_address).
    ReplaceSource(SourceId),
    /// A special reference mode ended, or `maxchange` asks to exit: exit
    /// with status 0 on success, 1 otherwise.
    Exit {
        /// Whether the mode succeeded.
        success: bool,
    },
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
