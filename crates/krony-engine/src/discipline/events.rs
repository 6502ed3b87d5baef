//! What the discipline reports to the daemon: log messages with chrony's texts
//! (admins grep them), and requests for I/O it cannot do itself.

use core::fmt;

use super::tracking::TrackingLogLine;

/// Syslog severity of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Debug output only.
    Debug,
    /// LOG_INFO.
    Info,
    /// LOG_WARNING.
    Warn,
    /// LOG_ERR.
    Error,
}

/// Something the daemon should log or act upon.
#[derive(Debug, Clone, PartialEq)]
pub enum DisciplineEvent {
    /// A step was refused by the clock (no clock control).
    StepFailed,
    /// A frequency beyond `maxdrift` was clamped.
    FrequencyClamped { requested_ppm: f64 },
    /// An adjustment would put the clock outside the representable range and
    /// was refused (`offset` in this module's sign).
    InvalidAdjustment { offset: f64 },
    /// The offset of an update exceeded `logchange`.
    ClockWrong { offset: f64 },
    /// The clock was stepped to remove `offset`.
    ClockStepped { offset: f64 },
    /// The offset of an update exceeded `mailonchange`'s threshold: the
    /// daemon mails the admin.
    MailChange { offset: f64 },
    /// `maxchange` rejected an update; with `exiting` the daemon must exit
    /// (a [`DisciplineEvent::ModeEnded`] with `success: false` follows).
    MaxChangeExceeded {
        offset: f64,
        max: f64,
        exiting: bool,
    },
    /// `leapsecmode slew` started correcting a leap second.
    LeapSlewStarted,
    /// `leapsecmode step` stepped the clock for a leap second.
    LeapStepped,
    /// `leapsecmode ignore` let a leap second pass.
    LeapIgnored,
    /// `initstepslew` corrected the initial offset.
    InitialOffset { offset: f64, step: bool },
    /// `-q`/`-Q`: the one measurement (stepped with `step`).
    OnceResult { offset: f64, step: bool },
    /// A special mode found no source (`initstepslew` or `-q`/`-Q`).
    NoSuitableSource { initstepslew: bool },
    /// A special mode ended, or `maxchange` asks to exit: chronyd exits with
    /// status 0 on success, 1 otherwise.
    ModeEnded { success: bool },
    /// Time to write the driftfile with these values (`"%20.6f %20.6f\n"`,
    /// see [`super::format_driftfile`]).
    WriteDriftfile { frequency_ppm: f64, skew_ppm: f64 },
    /// A line for the `tracking` log file.
    TrackingLog(TrackingLogLine),
    /// The local reference mode was enabled or disabled at run time.
    LocalModeChanged { enabled: bool },
    /// `maxupdateskew` was changed at run time.
    MaxUpdateSkewChanged { ppm: f64 },
    /// `makestep` was changed at run time.
    MakeStepChanged { threshold: f64, limit: i32 },
}

impl DisciplineEvent {
    /// The severity chrony logs this message with; `None` for events that are
    /// not log messages (driftfile writes, tracking log lines, mode ends).
    pub fn level(&self) -> Option<LogLevel> {
        use DisciplineEvent::*;
        match self {
            FrequencyClamped { .. }
            | InvalidAdjustment { .. }
            | ClockWrong { .. }
            | ClockStepped { .. }
            | MaxChangeExceeded { .. }
            | LeapSlewStarted
            | LeapStepped
            | LeapIgnored
            | NoSuitableSource { .. } => Some(LogLevel::Warn),
            InitialOffset { .. }
            | OnceResult { .. }
            | LocalModeChanged { .. }
            | MaxUpdateSkewChanged { .. }
            | MakeStepChanged { .. } => Some(LogLevel::Info),
            StepFailed => Some(LogLevel::Error),
            ModeEnded { .. } | WriteDriftfile { .. } | TrackingLog(_) | MailChange { .. } => None,
        }
    }
}

impl fmt::Display for DisciplineEvent {
    /// chrony's message text. The printed offsets are the corrections made
    /// (the negation of this module's offsets), as chrony prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DisciplineEvent::*;
        match self {
            StepFailed => f.write_str("Could not step system clock"),
            FrequencyClamped { requested_ppm } => {
                write!(
                    f,
                    "Frequency {requested_ppm:.1} ppm exceeds allowed maximum"
                )
            }
            InvalidAdjustment { offset } => {
                write!(f, "Adjustment of {:.1} seconds is invalid", -offset)
            }
            ClockWrong { offset } => write!(f, "System clock wrong by {:.6} seconds", -offset),
            MailChange { offset } => {
                write!(f, "mailonchange: adjustment of {:.3} seconds", -offset)
            }
            ClockStepped { offset } => {
                write!(f, "System clock was stepped by {:.6} seconds", -offset)
            }
            // chrony's text ends with a space; kept for grep compatibility.
            MaxChangeExceeded {
                offset,
                max,
                exiting,
            } => write!(
                f,
                "Adjustment of {:.3} seconds exceeds the allowed maximum of {max:.3} seconds ({}) ",
                -offset,
                if *exiting { "exiting" } else { "ignored" }
            ),
            LeapSlewStarted => f.write_str("Adjusting system clock for leap second"),
            LeapStepped => f.write_str("System clock was stepped for leap second"),
            LeapIgnored => f.write_str("Ignoring leap second"),
            InitialOffset { offset, step } => write!(
                f,
                "System's initial offset : {:.6} seconds {} of true ({})",
                offset.abs(),
                if *offset >= 0.0 { "fast" } else { "slow" },
                if *step { "step" } else { "slew" }
            ),
            OnceResult { offset, step } => write!(
                f,
                "System clock wrong by {:.6} seconds ({})",
                -offset,
                if *step { "step" } else { "ignored" }
            ),
            NoSuitableSource { initstepslew: true } => {
                f.write_str("No suitable source for initstepslew")
            }
            NoSuitableSource {
                initstepslew: false,
            } => f.write_str("No suitable source for synchronisation"),
            ModeEnded { success } => write!(f, "Reference mode ended (success: {success})"),
            WriteDriftfile {
                frequency_ppm,
                skew_ppm,
            } => {
                write!(f, "Driftfile update {frequency_ppm:.6} {skew_ppm:.6}")
            }
            TrackingLog(line) => write!(f, "{line}"),
            LocalModeChanged { enabled } => write!(
                f,
                "{} local reference mode",
                if *enabled { "Enabled" } else { "Disabled" }
            ),
            MaxUpdateSkewChanged { ppm } => write!(f, "New maxupdateskew {ppm:.6} ppm"),
            MakeStepChanged { threshold, limit } => {
                write!(f, "New makestep {threshold:.6} {limit}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_chrony() {
        let e = DisciplineEvent::ClockWrong { offset: -1.5 };
        assert_eq!(e.to_string(), "System clock wrong by 1.500000 seconds");
        let e = DisciplineEvent::ClockStepped { offset: 0.25 };
        assert_eq!(
            e.to_string(),
            "System clock was stepped by -0.250000 seconds"
        );
        let e = DisciplineEvent::MaxChangeExceeded {
            offset: 2.0,
            max: 1.0,
            exiting: false,
        };
        assert_eq!(
            e.to_string(),
            "Adjustment of -2.000 seconds exceeds the allowed maximum of 1.000 seconds (ignored) "
        );
        let e = DisciplineEvent::InitialOffset {
            offset: 0.5,
            step: false,
        };
        assert_eq!(
            e.to_string(),
            "System's initial offset : 0.500000 seconds fast of true (slew)"
        );
        let e = DisciplineEvent::OnceResult {
            offset: 0.5,
            step: true,
        };
        assert_eq!(
            e.to_string(),
            "System clock wrong by -0.500000 seconds (step)"
        );
        assert_eq!(
            DisciplineEvent::FrequencyClamped {
                requested_ppm: 123456.78
            }
            .to_string(),
            "Frequency 123456.8 ppm exceeds allowed maximum"
        );
        assert_eq!(
            DisciplineEvent::LocalModeChanged { enabled: true }.to_string(),
            "Enabled local reference mode"
        );
        assert_eq!(DisciplineEvent::LeapStepped.level(), Some(LogLevel::Warn));
        assert_eq!(DisciplineEvent::ModeEnded { success: true }.level(), None);
    }
}
