//! The statistics logs of `log measurements statistics tracking ...` in
//! `logdir`: `measurements.log`, `statistics.log`, `tracking.log`,
//! `selection.log` (and `refclocks.log`, `tempcomp.log`, `rtc.log` for the
//! features that write them), as chrony writes them.
//!
//! Each file is opened for appending when its first line is written (created
//! with mode 0644, a symlink refused). Before the first line and then every
//! `logbanner` lines (default 32; 0 = never) comes a banner: a row of `=` as
//! long as the column header, the header, and the row of `=` again. The lines
//! themselves start with their UTC time, `YYYY-MM-DD HH:MM:SS`, which the
//! callers' line formatters put there. `cyclelogs` closes the files; the next
//! line reopens them at their paths (so a rotated file is replaced by a new
//! one) and starts with a banner.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use krony_config::{Config, LogKinds};
use krony_engine::discipline::TRACKING_LOG_HEADER;
use krony_engine::source::MEASUREMENTS_LOG_HEADER;

use super::loglines::{SELECTION_LOG_HEADER, STATISTICS_LOG_HEADER};
use super::{FILE_MODE, FileError, open_append};
use crate::logging::Severity;

/// The default of `logbanner`.
pub const DEFAULT_LOG_BANNER: u32 = 32;

/// Header of the `refclocks` log.
const REFCLOCKS_LOG_HEADER: &str =
    "   Date (UTC) Time         Refid  DP L P  Raw offset   Cooked offset      Disp.";

/// Header of the `tempcomp` log.
const TEMPCOMP_LOG_HEADER: &str = "   Date (UTC) Time        Temp.       Comp.";

/// Header of the `rtc` log.
const RTC_LOG_HEADER: &str =
    "   Date (UTC) Time   RTC fast (s) Val   Est fast (s)   Slope (ppm)  Ns  Nr Meas";

/// One of the log files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LogKind {
    /// `measurements.log` (`log measurements`, or `rawmeasurements` which
    /// also logs the measurements that failed a test).
    Measurements,
    /// `statistics.log`: every regression of a source's samples.
    Statistics,
    /// `tracking.log`: every update of the clock.
    Tracking,
    /// `selection.log`: the state of every source after each selection.
    Selection,
    /// `refclocks.log`: reference clock samples.
    Refclocks,
    /// `tempcomp.log`: temperature compensation.
    TempComp,
    /// `rtc.log`: real-time clock measurements.
    Rtc,
}

impl LogKind {
    /// Every kind, in the order of [`LogFiles`]' table.
    pub const ALL: [LogKind; 7] = [
        LogKind::Measurements,
        LogKind::Statistics,
        LogKind::Tracking,
        LogKind::Selection,
        LogKind::Refclocks,
        LogKind::TempComp,
        LogKind::Rtc,
    ];

    /// The file name in `logdir`.
    pub fn file_name(self) -> &'static str {
        match self {
            LogKind::Measurements => "measurements.log",
            LogKind::Statistics => "statistics.log",
            LogKind::Tracking => "tracking.log",
            LogKind::Selection => "selection.log",
            LogKind::Refclocks => "refclocks.log",
            LogKind::TempComp => "tempcomp.log",
            LogKind::Rtc => "rtc.log",
        }
    }

    /// The column header of the banner.
    pub fn header(self) -> &'static str {
        match self {
            LogKind::Measurements => MEASUREMENTS_LOG_HEADER,
            LogKind::Statistics => STATISTICS_LOG_HEADER,
            LogKind::Tracking => TRACKING_LOG_HEADER,
            LogKind::Selection => SELECTION_LOG_HEADER,
            LogKind::Refclocks => REFCLOCKS_LOG_HEADER,
            LogKind::TempComp => TEMPCOMP_LOG_HEADER,
            LogKind::Rtc => RTC_LOG_HEADER,
        }
    }

    /// Whether the `log` directive enables this kind.
    fn enabled_in(self, kinds: &LogKinds) -> bool {
        match self {
            LogKind::Measurements => kinds.measurements || kinds.raw_measurements,
            LogKind::Statistics => kinds.statistics,
            LogKind::Tracking => kinds.tracking,
            LogKind::Selection => kinds.selection,
            LogKind::Refclocks => kinds.refclocks,
            LogKind::TempComp => kinds.tempcomp,
            LogKind::Rtc => kinds.rtc,
        }
    }

    fn index(self) -> usize {
        // OK because ALL lists every variant once, in declaration order.
        self as usize
    }
}

/// Why a log is off from now on.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    /// `log` without `logdir` (chrony's warning, given once per log).
    #[error("logdir not specified")]
    NoLogDir,
    /// The file could not be opened (chrony's "Could not open ...").
    #[error(transparent)]
    Open(FileError),
}

impl LogFileError {
    /// The severity chrony logs this with.
    pub fn severity(&self) -> Severity {
        match self {
            LogFileError::NoLogDir => Severity::Warn,
            LogFileError::Open(_) => Severity::Error,
        }
    }
}

/// The state of one log.
#[derive(Debug, Default)]
struct Slot {
    enabled: bool,
    file: Option<File>,
    /// Lines written since the file was (re)opened.
    writes: u64,
}

/// The log files of `logdir`.
#[derive(Debug)]
pub struct LogFiles {
    dir: Option<PathBuf>,
    banner_every: u32,
    raw_measurements: bool,
    slots: [Slot; 7],
}

impl LogFiles {
    /// Logs in `dir` (`None` without `logdir`), a banner every `banner_every`
    /// lines (0 = no banners); no log enabled yet.
    pub fn new(dir: Option<PathBuf>, banner_every: u32) -> Self {
        LogFiles {
            dir,
            banner_every,
            raw_measurements: false,
            slots: Default::default(),
        }
    }

    /// The logs the configuration asks for (`log`, `logdir`, `logbanner`).
    pub fn from_config(config: &Config) -> Self {
        let mut logs = LogFiles::new(config.logdir.as_ref().map(PathBuf::from), config.log_banner);
        for kind in LogKind::ALL {
            if kind.enabled_in(&config.log) {
                logs.enable(kind);
            }
        }
        logs.raw_measurements = config.log.raw_measurements;
        logs
    }

    /// Turns a log on.
    pub fn enable(&mut self, kind: LogKind) {
        self.slots[kind.index()].enabled = true;
    }

    /// Whether lines of `kind` are wanted (callers can skip formatting them).
    pub fn is_enabled(&self, kind: LogKind) -> bool {
        self.slots[kind.index()].enabled
    }

    /// Whether `rawmeasurements` asks for measurements that failed a test too.
    pub fn raw_measurements(&self) -> bool {
        self.raw_measurements
    }

    /// The path of a log file, if there is a `logdir`.
    pub fn path(&self, kind: LogKind) -> Option<PathBuf> {
        self.dir.as_deref().map(|d| d.join(kind.file_name()))
    }

    /// Appends `line` (without its newline) to the log of `kind`, after a
    /// banner when one is due. Lines for a disabled log are dropped. A write
    /// error is ignored, as chrony ignores it.
    ///
    /// # Errors
    /// [`LogFileError`] when the log cannot be opened; the log is then turned
    /// off (reported once, as chrony does).
    pub fn write(&mut self, kind: LogKind, line: &str) -> Result<(), LogFileError> {
        let banner_every = u64::from(self.banner_every);
        let path = self.path(kind);
        let slot = &mut self.slots[kind.index()];
        if !slot.enabled {
            return Ok(());
        }
        if slot.file.is_none() {
            let Some(path) = path else {
                slot.enabled = false;
                return Err(LogFileError::NoLogDir);
            };
            match open_append(&path, FILE_MODE) {
                Ok(f) => slot.file = Some(f),
                Err(e) => {
                    slot.enabled = false;
                    return Err(LogFileError::Open(e));
                }
            }
        }
        let mut text = String::with_capacity(line.len() + 1);
        if banner_every > 0 && slot.writes % banner_every == 0 {
            let rule = "=".repeat(kind.header().len());
            for l in [&rule, kind.header(), &rule] {
                text.push_str(l);
                text.push('\n');
            }
        }
        slot.writes += 1;
        text.push_str(line);
        text.push('\n');
        if let Some(f) = &mut slot.file {
            // One write per line: the line reaches the file at once (chrony
            // flushes after each line).
            let _ = f.write_all(text.as_bytes());
        }
        Ok(())
    }

    /// `cyclelogs`: closes every log; each is reopened by its next line, with a
    /// banner.
    pub fn cycle(&mut self) {
        for slot in &mut self.slots {
            slot.file = None;
            slot.writes = 0;
        }
    }

    /// The log directory.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn logs(banner: u32) -> (tempfile::TempDir, LogFiles) {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut l = LogFiles::new(Some(tmp.path().to_path_buf()), banner);
        l.enable(LogKind::Tracking);
        l.enable(LogKind::Statistics);
        (tmp, l)
    }

    fn read(tmp: &tempfile::TempDir, kind: LogKind) -> String {
        fs::read_to_string(tmp.path().join(kind.file_name())).expect("read log")
    }

    fn banner(kind: LogKind) -> String {
        let rule = "=".repeat(kind.header().len());
        format!("{rule}\n{}\n{rule}\n", kind.header())
    }

    #[test]
    fn banner_every_n_lines() {
        let (tmp, mut l) = logs(2);
        for i in 0..5 {
            l.write(LogKind::Tracking, &format!("line {i}"))
                .expect("write");
        }
        let b = banner(LogKind::Tracking);
        assert_eq!(
            read(&tmp, LogKind::Tracking),
            format!("{b}line 0\nline 1\n{b}line 2\nline 3\n{b}line 4\n")
        );
    }

    #[test]
    fn banner_widths_match_chronyd() {
        // Widths of the '=' rows in the logs chronyd 4.3 wrote.
        let width = |k: LogKind| k.header().len();
        assert_eq!(width(LogKind::Measurements), 136);
        assert_eq!(width(LogKind::Statistics), 116);
        assert_eq!(width(LogKind::Tracking), 131);
        assert_eq!(width(LogKind::Selection), 87);
    }

    #[test]
    fn default_banner_is_every_32_lines() {
        let (tmp, mut l) = logs(DEFAULT_LOG_BANNER);
        for i in 0..65 {
            l.write(LogKind::Statistics, &i.to_string()).expect("write");
        }
        let text = read(&tmp, LogKind::Statistics);
        assert_eq!(text.matches(STATISTICS_LOG_HEADER).count(), 3);
        assert_eq!(text.lines().count(), 65 + 3 * 3);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[3 + 32 + 1], STATISTICS_LOG_HEADER);
    }

    #[test]
    fn logbanner_zero_means_no_banner() {
        let (tmp, mut l) = logs(0);
        l.write(LogKind::Tracking, "a").expect("write");
        l.write(LogKind::Tracking, "b").expect("write");
        assert_eq!(read(&tmp, LogKind::Tracking), "a\nb\n");
    }

    #[test]
    fn disabled_logs_write_nothing() {
        let (tmp, mut l) = logs(32);
        assert!(!l.is_enabled(LogKind::Selection));
        l.write(LogKind::Selection, "x").expect("dropped");
        assert!(!tmp.path().join("selection.log").exists());
    }

    #[test]
    fn existing_file_is_appended_to() {
        let (tmp, mut l) = logs(0);
        fs::write(tmp.path().join("tracking.log"), "old\n").expect("write");
        l.write(LogKind::Tracking, "new").expect("write");
        assert_eq!(read(&tmp, LogKind::Tracking), "old\nnew\n");
    }

    #[test]
    fn cyclelogs_reopens_after_rotation() {
        let (tmp, mut l) = logs(3);
        l.write(LogKind::Tracking, "1").expect("write");
        l.write(LogKind::Tracking, "2").expect("write");
        let rotated = tmp.path().join("tracking.log.1");
        fs::rename(tmp.path().join("tracking.log"), &rotated).expect("rename");
        // Until cyclelogs the open file (now renamed) is written.
        l.write(LogKind::Tracking, "3").expect("write");
        l.cycle();
        l.write(LogKind::Tracking, "4").expect("write");
        let b = banner(LogKind::Tracking);
        assert_eq!(
            fs::read_to_string(&rotated).expect("read"),
            format!("{b}1\n2\n3\n")
        );
        assert_eq!(read(&tmp, LogKind::Tracking), format!("{b}4\n"));
    }

    #[test]
    fn missing_logdir_is_reported_once() {
        let mut l = LogFiles::new(None, 32);
        l.enable(LogKind::Tracking);
        let err = l.write(LogKind::Tracking, "x").expect_err("no logdir");
        assert_eq!(err.to_string(), "logdir not specified");
        assert_eq!(err.severity(), Severity::Warn);
        assert!(l.write(LogKind::Tracking, "y").is_ok());
        assert!(!l.is_enabled(LogKind::Tracking));
    }

    #[test]
    fn unopenable_log_is_reported_and_disabled() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut l = LogFiles::new(Some(tmp.path().join("missing")), 32);
        l.enable(LogKind::Statistics);
        let err = l.write(LogKind::Statistics, "x").expect_err("no dir");
        assert_eq!(
            err.to_string(),
            format!(
                "Could not open {}/missing/statistics.log : No such file or directory",
                tmp.path().display()
            )
        );
        assert_eq!(err.severity(), Severity::Error);
        assert!(l.write(LogKind::Statistics, "y").is_ok());
    }

    #[test]
    fn configuration_selects_the_logs() {
        let mut loader = krony_config::Loader::new(&krony_config::NoFs);
        for (i, line) in [
            "logdir /var/log/krony",
            "log rawmeasurements tracking",
            "logbanner 7",
        ]
        .iter()
        .enumerate()
        {
            loader.load_line(line, "test", i + 1).expect("valid line");
        }
        let parsed = loader.finish();
        let l = LogFiles::from_config(&parsed.config);
        assert!(l.is_enabled(LogKind::Measurements));
        assert!(l.raw_measurements());
        assert!(l.is_enabled(LogKind::Tracking));
        assert!(!l.is_enabled(LogKind::Statistics));
        assert_eq!(l.banner_every, 7);
        assert_eq!(
            l.path(LogKind::Tracking),
            Some(PathBuf::from("/var/log/krony/tracking.log"))
        );
    }
}
