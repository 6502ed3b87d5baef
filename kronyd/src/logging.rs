//! The daemon's message log, as chronyd's: to stderr with `-d`, to a file with
//! `-l FILE`, otherwise to syslog (facility daemon, identity `kronyd[PID]`).
//!
//! On stderr and in a `-l` file every line starts with the UTC time, as chrony
//! writes it: `2024-01-31T12:00:00Z Selected source 192.0.2.1`. Syslog lines carry
//! no time of their own (syslog adds it). The minimum severity comes from `-L`
//! (-1 debug, 0 info, 1 warning, 2 error, 3 fatal; default 0) or `-d -d` (debug).
//!
//! The event loop logs through [`log_event`] (a process-wide logger, set up once
//! with [`init`]); before [`init`] messages go to stderr at info level, as chrony's
//! do before it has read its options. Message texts are chrony's, with "chronyd"
//! replaced by "kronyd" where the daemon names itself, unless it was started
//! under chronyd's name (see [`set_program_name`]).

use std::fmt::Display;
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;

use krony_engine::UnixTime;
use krony_engine::discipline::{LogLevel, log_time};
use krony_engine::select;

use crate::files::{self, FileError};

/// Mode of the `-l` log file when created (chrony's 0640).
const MESSAGE_LOG_MODE: u32 = 0o640;

/// The syslog socket of the local system.
pub const SYSLOG_PATH: &str = "/dev/log";

/// Syslog facility `LOG_DAEMON` (RFC 5424 §6.2.1, table 1: facility 3).
const FACILITY_DAEMON: u8 = 3;

/// The name kronyd logs under (chronyd's `openlog("chronyd", ...)`).
pub const IDENT: &str = "kronyd";

/// The name chosen by [`set_program_name`].
static PROGRAM_NAME: OnceLock<&'static str> = OnceLock::new();

/// The name the daemon gives itself when started as `argv0`: "chronyd" when
/// the executable is called chronyd (installed as a drop-in replacement,
/// e.g. a `chronyd` link, where scripts and test suites grep "chronyd
/// exiting"), else [`IDENT`].
pub fn program_name_for(argv0: &str) -> &'static str {
    if Path::new(argv0).file_name().is_some_and(|n| n == "chronyd") {
        "chronyd"
    } else {
        IDENT
    }
}

/// Sets the name the daemon logs under from its `argv[0]` (first call wins).
pub fn set_program_name(argv0: &str) {
    let _ = PROGRAM_NAME.set(program_name_for(argv0));
}

/// The name the daemon logs under: syslog identity, start and exit messages.
pub fn ident() -> &'static str {
    PROGRAM_NAME.get().copied().unwrap_or(IDENT)
}

/// The message chronyd logs when it starts, naming kronyd: `features` is the
/// `-v` list, e.g. `"+CMDMON +NTP -REFCLOCK"`.
pub fn starting_message(features: &str) -> String {
    format!(
        "{} version {} starting ({features})",
        ident(),
        env!("CARGO_PKG_VERSION")
    )
}

/// The message logged when the daemon exits ("kronyd exiting", chrony's
/// "chronyd exiting").
pub fn exiting_message() -> String {
    format!("{} exiting", ident())
}

/// How serious a message is (chrony's `LOG_Severity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Debug output (`-d -d` or `-L -1`).
    Debug,
    /// Informational (`-L 0`, the default minimum).
    Info,
    /// A warning (`-L 1`).
    Warn,
    /// A non-fatal error (`-L 2`).
    Error,
    /// A fatal error: the daemon exits after logging it (`-L 3`).
    Fatal,
}

impl Severity {
    /// The minimum severity for a `-L` level; out-of-range levels are clamped
    /// (as chrony clamps them).
    pub fn from_level(level: i32) -> Severity {
        match level {
            i32::MIN..=-1 => Severity::Debug,
            0 => Severity::Info,
            1 => Severity::Warn,
            2 => Severity::Error,
            _ => Severity::Fatal,
        }
    }

    /// The minimum severity chronyd uses for its options: debug with `-d -d`,
    /// else the `-L` level.
    pub fn from_options(debug: u32, level: i32) -> Severity {
        if debug >= 2 {
            Severity::Debug
        } else {
            Severity::from_level(level)
        }
    }

    /// The syslog severity (RFC 5424 §6.2.1, table 2): chrony logs fatal errors
    /// as `LOG_CRIT`.
    fn syslog_severity(self) -> u8 {
        match self {
            Severity::Debug => 7,
            Severity::Info => 6,
            Severity::Warn => 4,
            Severity::Error => 3,
            Severity::Fatal => 2,
        }
    }

    /// The letter that marks a line's severity when debugging (chrony's
    /// debug builds: D, I, W, E, F).
    fn letter(self) -> char {
        match self {
            Severity::Debug => 'D',
            Severity::Info => 'I',
            Severity::Warn => 'W',
            Severity::Error => 'E',
            Severity::Fatal => 'F',
        }
    }
}

impl From<LogLevel> for Severity {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Debug => Severity::Debug,
            LogLevel::Info => Severity::Info,
            LogLevel::Warn => Severity::Warn,
            LogLevel::Error => Severity::Error,
        }
    }
}

impl From<select::Severity> for Severity {
    fn from(level: select::Severity) -> Self {
        match level {
            select::Severity::Info => Severity::Info,
            select::Severity::Warning => Severity::Warn,
            select::Severity::Error => Severity::Error,
        }
    }
}

/// The current time of the (possibly simulated) system clock.
fn now() -> UnixTime {
    match SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => UnixTime::from_secs_nanos(d.as_secs() as i64, i64::from(d.subsec_nanos())),
        Err(e) => {
            let d = e.duration();
            UnixTime::from_secs_nanos(-(d.as_secs() as i64), -i64::from(d.subsec_nanos()))
        }
    }
}

/// A line for stderr or the `-l` file, without the newline: the time as
/// `YYYY-MM-DDTHH:MM:SSZ`, the severity letter when debugging, then the message
/// (after "Fatal error : " for fatal errors).
pub fn format_line(time: UnixTime, severity: Severity, debugging: bool, message: &str) -> String {
    let mut line = log_time(time).replacen(' ', "T", 1);
    line.push_str("Z ");
    if debugging {
        line.push(severity.letter());
        line.push_str(": ");
    }
    if severity == Severity::Fatal {
        line.push_str("Fatal error : ");
    }
    line.push_str(message);
    line
}

/// A syslog datagram in the BSD format that `syslog(3)` sends to `/dev/log`
/// (RFC 3164 §4.1): `<PRI>kronyd[PID]: message`. The TIMESTAMP is left out;
/// the local syslog daemon (journald, rsyslog, syslog-ng) then stamps the
/// message with its reception time (RFC 3164 §4.3.2).
pub fn format_syslog(severity: Severity, pid: u32, message: &str) -> String {
    let pri = FACILITY_DAEMON * 8 + severity.syslog_severity();
    let fatal = if severity == Severity::Fatal {
        "Fatal error : "
    } else {
        ""
    };
    format!("<{pri}>{}[{pid}]: {fatal}{message}", ident())
}

/// A connection to the local syslog daemon.
#[derive(Debug)]
pub struct Syslog {
    socket: UnixDatagram,
    path: PathBuf,
    pid: u32,
}

impl Syslog {
    /// A sender to the syslog socket at `path` (normally [`SYSLOG_PATH`]). The
    /// socket is not connected, so a restarted syslog daemon is found again.
    ///
    /// # Errors
    /// The socket could not be created.
    pub fn new(path: impl AsRef<Path>) -> io::Result<Self> {
        Ok(Syslog {
            socket: UnixDatagram::unbound()?,
            path: path.as_ref().to_path_buf(),
            pid: std::process::id(),
        })
    }

    /// Sends one message; failures are ignored, as `syslog(3)` ignores them.
    fn send(&self, severity: Severity, message: &str) {
        let datagram = format_syslog(severity, self.pid, message);
        let _ = self.socket.send_to(datagram.as_bytes(), &self.path);
    }
}

/// Where messages go.
#[derive(Debug)]
pub enum Sink {
    /// Standard error (`-d`, and before the logger is set up).
    Stderr,
    /// The `-l` file.
    File {
        /// Its path (reopened by `cyclelogs` if the file was moved away).
        path: PathBuf,
        /// The open file.
        file: File,
    },
    /// Syslog.
    Syslog(Syslog),
    /// Nowhere (a daemonised kronyd whose stderr is gone and that has no
    /// other log).
    Discard,
}

/// The message log: a sink, a minimum severity and, while a daemonising
/// kronyd's parent waits for it, the pipe to that parent.
pub struct Logger {
    sink: Sink,
    min: Severity,
    parent: Option<Box<dyn Write + Send>>,
    /// Whether kronyd ever had a parent to notify (chrony's `parent_fd != 0`):
    /// without one, fatal errors also go to stderr.
    daemonised: bool,
}

impl std::fmt::Debug for Logger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logger")
            .field("sink", &self.sink)
            .field("min", &self.min)
            .field("parent", &self.parent.is_some())
            .finish()
    }
}

impl Logger {
    /// A logger writing to `sink` messages of at least `min` severity.
    pub fn new(sink: Sink, min: Severity) -> Self {
        Logger {
            sink,
            min,
            parent: None,
            daemonised: false,
        }
    }

    /// A logger for the `-l` file at `path`, opened for appending (created with
    /// mode 0640, symlinks refused).
    ///
    /// # Errors
    /// "Could not open FILE : reason": chrony exits on it (a fatal error).
    pub fn to_file(path: impl AsRef<Path>, min: Severity) -> Result<Self, FileError> {
        let path = path.as_ref().to_path_buf();
        let file = files::open_append(&path, MESSAGE_LOG_MODE)?;
        Ok(Logger::new(Sink::File { path, file }, min))
    }

    /// The minimum severity logged.
    pub fn min_severity(&self) -> Severity {
        self.min
    }

    /// Changes the minimum severity logged.
    pub fn set_min_severity(&mut self, min: Severity) {
        self.min = min;
    }

    /// Whether a message of `severity` would be logged (lets callers skip
    /// formatting debug messages).
    pub fn enabled(&self, severity: Severity) -> bool {
        severity >= self.min
    }

    /// Logs `message` with the current time.
    pub fn log(&mut self, severity: Severity, message: &str) {
        self.log_at(now(), severity, message);
    }

    /// Logs `message` as if at `time` (stderr and file sinks show it).
    pub fn log_at(&mut self, time: UnixTime, severity: Severity, message: &str) {
        if !self.enabled(severity) {
            return;
        }
        let debugging = self.min == Severity::Debug;
        match &mut self.sink {
            Sink::Stderr => {
                let line = format_line(time, severity, debugging, message) + "\n";
                let _ = io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::File { file, .. } => {
                let line = format_line(time, severity, debugging, message) + "\n";
                let _ = file.write_all(line.as_bytes());
            }
            Sink::Syslog(s) => s.send(severity, message),
            Sink::Discard => {}
        }
    }

    /// Logs a fatal error ("Fatal error : message") and passes it to the waiting
    /// parent, or, when kronyd never daemonised and logs to syslog, to stderr as
    /// well, as chronyd does. The caller then exits with status 1.
    pub fn fatal(&mut self, message: &str) {
        self.log(Severity::Fatal, message);
        if self.parent.is_some() {
            self.notify_parent(message);
        } else if !self.daemonised && matches!(self.sink, Sink::Syslog(_)) {
            let _ = writeln!(io::stderr().lock(), "Fatal error : {message}");
        }
    }

    /// Gives the logger the pipe to the parent of a daemonising kronyd, which
    /// waits for a fatal error message or the end of the pipe. Messages no
    /// longer go to stderr from then on (chrony's `LOG_SetParentFd`).
    pub fn set_parent(&mut self, parent: Box<dyn Write + Send>) {
        self.parent = Some(parent);
        self.daemonised = true;
        if matches!(self.sink, Sink::Stderr) {
            self.sink = Sink::Discard;
        }
    }

    /// Sends `message` and a NUL byte to the waiting parent, if any.
    pub fn notify_parent(&mut self, message: &str) {
        if let Some(p) = &mut self.parent {
            let mut bytes = message.as_bytes().to_vec();
            bytes.push(0);
            let _ = p.write_all(&bytes);
            let _ = p.flush();
        }
    }

    /// Closes the pipe to the parent (startup went well), letting it exit 0.
    pub fn close_parent(&mut self) {
        self.parent = None;
    }

    /// `cyclelogs` for the message log: a `-l` file that was moved away (nothing
    /// is at its path any more) is reopened at its path; if that fails the old
    /// file is kept (kronyd may no longer be allowed to create files there).
    pub fn cycle(&mut self) {
        if let Sink::File { path, file } = &mut self.sink {
            let gone = matches!(std::fs::symlink_metadata(&*path),
                Err(e) if e.kind() == io::ErrorKind::NotFound);
            if gone {
                if let Ok(f) = files::open_append(path, MESSAGE_LOG_MODE) {
                    *file = f;
                }
            }
        }
    }
}

/// The process-wide logger; `None` until [`init`] (stderr, info level).
static LOGGER: Mutex<Option<Logger>> = Mutex::new(None);

/// Runs `f` on the process-wide logger. A panic elsewhere while the lock was
/// held does not silence the log.
fn with_logger<R>(f: impl FnOnce(&mut Logger) -> R) -> R {
    let mut guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    let logger = guard.get_or_insert_with(|| Logger::new(Sink::Stderr, Severity::Info));
    f(logger)
}

/// Installs the process-wide logger (replacing any previous one).
pub fn init(logger: Logger) {
    let mut guard = LOGGER.lock().unwrap_or_else(|e| e.into_inner());
    *guard = Some(logger);
}

/// Logs `message` through the process-wide logger.
pub fn log_event(severity: impl Into<Severity>, message: impl Display) {
    let severity = severity.into();
    with_logger(|l| {
        if l.enabled(severity) {
            l.log(severity, &message.to_string());
        }
    });
}

/// Logs a fatal error through the process-wide logger (see [`Logger::fatal`]);
/// the caller then exits with status 1.
pub fn log_fatal(message: impl Display) {
    let message = message.to_string();
    with_logger(|l| l.fatal(&message));
}

/// Whether the process-wide logger would log a message of `severity`.
pub fn enabled(severity: Severity) -> bool {
    with_logger(|l| l.enabled(severity))
}

/// Runs `f` on the process-wide logger, e.g. to [`Logger::cycle`] it or to
/// hand it the parent pipe.
pub fn configure<R>(f: impl FnOnce(&mut Logger) -> R) -> R {
    with_logger(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    const T: UnixTime = UnixTime::from_secs_nanos(1_700_000_000, 999_000_000);

    #[test]
    fn line_format_is_chronys() {
        // Checked against chronyd 4.3 -d: "2026-11-25T09:41:21Z Selected source 127.0.0.1".
        assert_eq!(
            format_line(T, Severity::Info, false, "Selected source 192.0.2.1"),
            "2023-11-14T22:13:20Z Selected source 192.0.2.1"
        );
        assert_eq!(
            format_line(T, Severity::Fatal, false, "Could not open x : y"),
            "2023-11-14T22:13:20Z Fatal error : Could not open x : y"
        );
        assert_eq!(
            format_line(T, Severity::Warn, true, "m"),
            "2023-11-14T22:13:20Z W: m"
        );
    }

    #[test]
    fn levels_follow_chronyd_options() {
        assert_eq!(Severity::from_level(-1), Severity::Debug);
        assert_eq!(Severity::from_level(-7), Severity::Debug);
        assert_eq!(Severity::from_level(0), Severity::Info);
        assert_eq!(Severity::from_level(2), Severity::Error);
        assert_eq!(Severity::from_level(9), Severity::Fatal);
        assert_eq!(Severity::from_options(2, 1), Severity::Debug);
        assert_eq!(Severity::from_options(1, 1), Severity::Warn);
        assert_eq!(Severity::from(LogLevel::Warn), Severity::Warn);
        assert_eq!(Severity::from(select::Severity::Error), Severity::Error);
    }

    #[test]
    fn syslog_datagrams() {
        assert_eq!(
            format_syslog(Severity::Info, 42, "kronyd exiting"),
            "<30>kronyd[42]: kronyd exiting"
        );
        assert_eq!(format_syslog(Severity::Warn, 1, "w"), "<28>kronyd[1]: w");
        assert_eq!(format_syslog(Severity::Error, 1, "e"), "<27>kronyd[1]: e");
        assert_eq!(format_syslog(Severity::Debug, 1, "d"), "<31>kronyd[1]: d");
        assert_eq!(
            format_syslog(Severity::Fatal, 1, "f"),
            "<26>kronyd[1]: Fatal error : f"
        );
    }

    #[test]
    fn syslog_sink_sends_to_the_socket() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("log");
        let server = UnixDatagram::bind(&path).expect("bind");
        let mut logger = Logger::new(
            Sink::Syslog(Syslog::new(&path).expect("socket")),
            Severity::Warn,
        );
        logger.log(Severity::Info, "dropped: below the minimum");
        logger.log(Severity::Warn, "Can't synchronise: no majority");
        let mut buf = [0u8; 256];
        let n = server.recv(&mut buf).expect("datagram");
        let text = std::str::from_utf8(&buf[..n]).expect("utf8");
        let want = format!(
            "<28>kronyd[{}]: Can't synchronise: no majority",
            std::process::id()
        );
        assert_eq!(text, want);
        server.set_nonblocking(true).expect("nonblocking");
        assert!(server.recv(&mut buf).is_err(), "only one datagram");
    }

    #[test]
    fn named_chronyd_only_when_started_as_chronyd() {
        assert_eq!(program_name_for("chronyd"), "chronyd");
        assert_eq!(program_name_for("/usr/sbin/chronyd"), "chronyd");
        assert_eq!(program_name_for("../../chronyd"), "chronyd");
        assert_eq!(program_name_for("kronyd"), "kronyd");
        assert_eq!(program_name_for("/usr/sbin/kronyd"), "kronyd");
        assert_eq!(program_name_for("chronyd-old"), "kronyd");
        assert_eq!(program_name_for(""), "kronyd");
    }

    #[test]
    fn file_log_appends_and_filters() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("kronyd.log");
        std::fs::write(&path, "old line\n").expect("write");
        let mut logger = Logger::to_file(&path, Severity::Info).expect("open");
        logger.log_at(T, Severity::Debug, "not logged");
        logger.log_at(T, Severity::Info, &starting_message("+NTP -RTC"));
        logger.log_at(T, Severity::Info, &exiting_message());
        let text = std::fs::read_to_string(&path).expect("read");
        let version = env!("CARGO_PKG_VERSION");
        assert_eq!(
            text,
            format!(
                "old line\n2023-11-14T22:13:20Z kronyd version {version} starting (+NTP -RTC)\n\
                 2023-11-14T22:13:20Z kronyd exiting\n"
            )
        );
    }

    #[test]
    fn new_file_log_is_not_world_readable() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("new.log");
        let _logger = Logger::to_file(&path, Severity::Info).expect("open");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode();
        assert_eq!(mode & 0o7, 0);
        let err = Logger::to_file(tmp.path().join("no/dir/x.log"), Severity::Info)
            .expect_err("missing directory");
        assert!(
            err.to_string()
                .ends_with("x.log : No such file or directory"),
            "{err}"
        );
    }

    #[test]
    fn cycle_reopens_a_moved_file_only() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("kronyd.log");
        let moved = tmp.path().join("kronyd.log.1");
        let mut logger = Logger::to_file(&path, Severity::Info).expect("open");
        logger.log_at(T, Severity::Info, "one");
        // Not moved: cycling keeps writing to the same file.
        logger.cycle();
        logger.log_at(T, Severity::Info, "two");
        std::fs::rename(&path, &moved).expect("rename");
        logger.log_at(T, Severity::Info, "three");
        logger.cycle();
        logger.log_at(T, Severity::Info, "four");
        let old = std::fs::read_to_string(&moved).expect("read");
        let new = std::fs::read_to_string(&path).expect("read");
        assert_eq!(old.lines().count(), 3, "{old}");
        assert!(old.ends_with("Z three\n"), "{old}");
        assert_eq!(new, "2023-11-14T22:13:20Z four\n");
    }

    /// A parent pipe that can be read after the logger wrote to it.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn fatal_errors_reach_the_waiting_parent() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("kronyd.log");
        let mut logger = Logger::to_file(&path, Severity::Fatal).expect("open");
        let pipe = Shared::default();
        logger.set_parent(Box::new(pipe.clone()));
        logger.log(Severity::Error, "below -L 3");
        logger.fatal("Could not open /x : Permission denied");
        let sent = pipe.0.lock().expect("lock").clone();
        assert_eq!(sent, b"Could not open /x : Permission denied\0");
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            text.ends_with("Z Fatal error : Could not open /x : Permission denied\n"),
            "{text}"
        );
        assert_eq!(text.lines().count(), 1);
        logger.close_parent();
        logger.fatal("again");
        assert_eq!(pipe.0.lock().expect("lock").len(), sent.len());
    }

    #[test]
    fn a_daemon_without_stderr_discards() {
        let mut logger = Logger::new(Sink::Stderr, Severity::Info);
        logger.set_parent(Box::new(io::sink()));
        assert!(matches!(logger.sink, Sink::Discard));
    }
}
