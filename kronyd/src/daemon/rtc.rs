//! The real-time clock (chrony's `rtc.c` and the device side of
//! `rtc_linux.c`): `-s` setting the system clock at start from the RTC or
//! the driftfile's modification time, and with `rtcfile` the driver that
//! takes readings at the RTC's update interrupts for the engine's
//! [`RtcTracker`](krony_engine::rtc::RtcTracker) and keeps the file.

use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;

use krony_config::Config;
use krony_engine::clock::{Clock, ClockAction};
use krony_engine::rtc::{RtcAction, RtcCoefs};
use krony_engine::{Engine, UnixTime};

use super::clock::DaemonClock;
use crate::files::os_error_text;
use crate::files::rtcfile::{read_coefs, write_coefs};
use crate::logging::{Severity, log_event};
use crate::sys::SysError;
use crate::sys::rtc::{RtcDevice, rtc_to_unix, unix_to_rtc};

/// chrony's default `rtcdevice`.
pub const DEFAULT_RTC_DEVICE: &str = "/dev/rtc";

/// The RTC settings of the configuration.
#[derive(Debug, Clone)]
struct RtcSetup {
    device: String,
    utc: bool,
    file: Option<PathBuf>,
}

impl RtcSetup {
    /// `rtcdevice`, `rtconutc` overridden by `hwclockfile`'s third line.
    fn from_config(config: &Config) -> Self {
        let mut utc = config.rtc_on_utc;
        if let Some(path) = config.hwclock_file.as_deref().filter(|p| !p.is_empty()) {
            if let Ok(text) = std::fs::read_to_string(path) {
                match text.lines().nth(2) {
                    Some(l) if l.starts_with("LOCAL") => utc = false,
                    Some(l) if l.starts_with("UTC") => utc = true,
                    _ => log_event(
                        Severity::Warn,
                        format!("Could not read RTC LOCAL/UTC setting from {path}"),
                    ),
                }
            }
        }
        RtcSetup {
            device: config
                .rtc_device
                .clone()
                .unwrap_or_else(|| DEFAULT_RTC_DEVICE.to_string()),
            utc,
            file: config.rtc_file.as_ref().map(PathBuf::from),
        }
    }

    /// The `rtcfile` coefficients, if the file exists and reads.
    fn read_coefs(&self) -> Option<RtcCoefs> {
        let path = self.file.as_ref()?;
        let coefs = read_coefs(path)?;
        if coefs.is_none() {
            log_event(
                Severity::Warn,
                format!("Could not read coefficients from {}", path.display()),
            );
        }
        coefs
    }
}

/// Steps the clock by `offset` (chrony's sign: positive = the clock is
/// ahead and goes back). With `-x` the step is refused, as chronyd's null
/// driver refuses it.
fn step_clock(clock: &mut DaemonClock, offset: f64) -> bool {
    let stepped =
        clock.controls_system_clock() && clock.apply(ClockAction::Step { offset: -offset }).is_ok();
    if !stepped {
        log_event(Severity::Error, "Could not step system clock");
    }
    stepped
}

/// `-s`: before the engine starts, sets the clock from the RTC (corrected
/// by the `rtcfile`), or else from the driftfile's modification time if the
/// clock is behind it. Returns whether the RTC was read (the driver may
/// then do the initial trim).
pub fn set_clock_at_start(config: &Config, clock: &mut DaemonClock) -> bool {
    let driftfile_time = config
        .driftfile
        .as_ref()
        .and_then(|d| std::fs::metadata(&d.path).ok())
        .and_then(|m| m.modified().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    if set_from_rtc(config, clock, driftfile_time) {
        return true;
    }
    if driftfile_time != 0 {
        let now = clock.now();
        if now.secs() < driftfile_time {
            // Whole seconds, as chrony's time_t arithmetic.
            if step_clock(clock, (now.secs() - driftfile_time) as f64) {
                log_event(Severity::Info, "System time restored from driftfile");
            }
        }
    }
    false
}

/// Reads the RTC twice until both reads show the same second.
fn read_rtc_now(dev: &RtcDevice, utc: bool) -> Option<i64> {
    loop {
        let a = dev.read_time().ok()?;
        let b = dev.read_time().ok()?;
        if a.sec == b.sec {
            return rtc_to_unix(&a, utc);
        }
    }
}

fn set_from_rtc(config: &Config, clock: &mut DaemonClock, driftfile_time: i64) -> bool {
    let setup = RtcSetup::from_config(config);
    let coefs = setup.read_coefs().filter(|c| c.valid);
    let Ok(dev) = RtcDevice::open(&setup.device, false) else {
        return false;
    };
    let rtc = read_rtc_now(&dev, setup.utc);
    let old = clock.now();
    drop(dev);
    let Some(rtc) = rtc else { return false };
    let error = coefs.map_or(0.0, |c| c.error_at(rtc));
    // The RTC's second started on average half a second ago.
    let new = UnixTime::from_secs_nanos(rtc, 500_000_000).add_secs(-error);
    if new.secs() < driftfile_time {
        log_event(
            Severity::Warn,
            "RTC time before last driftfile modification (ignored)",
        );
        return false;
    }
    let offset = old.diff_secs(new);
    if offset.abs() >= 1.0 && step_clock(clock, offset) {
        log_event(Severity::Info, "System time set from RTC");
    }
    true
}

/// The RTC driver of `rtcfile`.
#[derive(Debug)]
pub struct RtcDriver {
    device: Option<RtcDevice>,
    setup: RtcSetup,
    /// Interrupts to ignore after enabling them (the first may be stale).
    skip_interrupts: u32,
}

impl RtcDriver {
    /// Opens the driver if `rtcfile` is set (chrony's `RTC_Initialise`):
    /// `None` with chrony's error messages if the device does not work.
    ///
    /// # Errors
    /// chrony's fatal message when `rtcsync` is set too.
    pub fn open(config: &Config) -> Result<Option<Self>, String> {
        if config.rtc_file.is_none() {
            return Ok(None);
        }
        if config.rtc_sync {
            return Err("rtcfile directive cannot be used with rtcsync".into());
        }
        let device = config.rtc_device.as_deref().unwrap_or(DEFAULT_RTC_DEVICE);
        let dev = match RtcDevice::open(device, true) {
            Ok(d) => d,
            Err(e) => {
                log_event(
                    Severity::Error,
                    format!("Could not open RTC device {device} : {}", sys_text(&e)),
                );
                log_event(Severity::Error, "RTC driver could not be initialised");
                return Ok(None);
            }
        };
        let mut driver = RtcDriver {
            device: Some(dev),
            setup: RtcSetup::from_config(config),
            skip_interrupts: 0,
        };
        if !(driver.switch_interrupts(true) && driver.switch_interrupts(false)) {
            log_event(Severity::Error, "RTC driver could not be initialised");
            return Ok(None);
        }
        Ok(Some(driver))
    }

    /// The coefficients of the `rtcfile` for the engine.
    pub fn file_coefs(&self) -> Option<RtcCoefs> {
        self.setup.read_coefs()
    }

    /// The descriptor to poll while the driver runs.
    pub fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.device.as_ref().map(AsFd::as_fd)
    }

    fn switch_interrupts(&mut self, on: bool) -> bool {
        let Some(dev) = &self.device else {
            return false;
        };
        if let Err(e) = dev.set_update_interrupts(on) {
            let what = if on { "enable" } else { "disable" };
            log_event(
                Severity::Error,
                format!("Could not {what} RTC interrupt : {}", sys_text(&e)),
            );
            return false;
        }
        if on {
            self.skip_interrupts = 1;
        }
        true
    }

    /// The device is readable at raw time `now`: an interrupt to take a
    /// reading from. Returns true when the initial trim ended.
    pub fn handle_readable(&mut self, now: UnixTime, engine: &mut Engine) -> bool {
        let Some(dev) = &self.device else {
            return false;
        };
        let update = match dev.read_update_interrupt() {
            Ok(u) => u,
            Err(e) => {
                log_event(
                    Severity::Error,
                    format!(
                        "Could not read flags {} : {}",
                        self.setup.device,
                        sys_text(&e)
                    ),
                );
                let _ = dev.set_update_interrupts(false);
                self.device = None;
                return false;
            }
        };
        if self.skip_interrupts > 0 {
            self.skip_interrupts -= 1;
            return false;
        }
        if !update {
            return false;
        }
        let rtc = match dev.read_time() {
            Ok(t) => rtc_to_unix(&t, self.setup.utc),
            Err(e) => {
                log_event(
                    Severity::Error,
                    format!(
                        "Could not read time from {} : {}",
                        self.setup.device,
                        sys_text(&e)
                    ),
                );
                None
            }
        };
        engine.handle_rtc_reading(now, rtc);
        self.apply_actions(engine)
    }

    /// Carries out the engine's device actions; true if the initial trim
    /// ended.
    pub fn apply_actions(&mut self, engine: &mut Engine) -> bool {
        let mut init_done = false;
        while let Some(action) = engine.poll_rtc_action() {
            match action {
                RtcAction::UpdateInterrupts(on) => {
                    self.switch_interrupts(on);
                }
                RtcAction::SetTime(t) => self.set_time(t),
                RtcAction::WriteFile(c) => {
                    let _ = self.write_file(&c);
                }
                RtcAction::InitDone => init_done = true,
            }
        }
        init_done
    }

    fn set_time(&self, t: i64) {
        let done = match (&self.device, unix_to_rtc(t, self.setup.utc)) {
            (Some(dev), Some(rtc)) => dev.set_time(&rtc).is_ok(),
            _ => false,
        };
        if !done {
            log_event(Severity::Error, "Could not set RTC time");
        }
    }

    /// Writes the coefficients (through `FILE.tmp`, as chrony); false
    /// (logged) on failure.
    pub fn write_file(&self, c: &RtcCoefs) -> bool {
        let Some(path) = &self.setup.file else {
            return true;
        };
        match write_coefs(path, c) {
            Ok(()) => true,
            Err(e) => {
                log_event(Severity::Error, e);
                false
            }
        }
    }

    /// At exit, after the engine dropped its pending offset: interrupts
    /// off, the coefficients saved if valid. `unapplied` (s) is the part of
    /// the correction the engine does not hold (`-x`'s virtual frequency
    /// correction), which chronyd's null driver drops at exit too, moving
    /// the coefficients onto the uncorrected clock as chronyd does.
    pub fn finish(&mut self, engine: &Engine, unapplied: f64) {
        if self.device.is_none() {
            return;
        }
        self.switch_interrupts(false);
        if let Some(Some(mut c)) = engine.rtc_parameters() {
            c.offset += unapplied;
            self.write_file(&c);
        }
        self.device = None;
    }
}

fn sys_text(e: &SysError) -> String {
    match e {
        SysError::Os { source, .. } => os_error_text(source),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::virtual_clock::VirtualClock;

    fn config(text: &str) -> Config {
        krony_config::parse_str(text, "t").expect("config").config
    }

    #[test]
    fn rtcfile_with_rtcsync_is_fatal() {
        let c = config("rtcfile /tmp/x\nrtcsync\n");
        assert_eq!(
            RtcDriver::open(&c).expect_err("fatal"),
            "rtcfile directive cannot be used with rtcsync"
        );
        assert!(
            RtcDriver::open(&config("rtcsync\n"))
                .expect("no rtcfile")
                .is_none()
        );
    }

    #[test]
    fn missing_device_disables_the_driver() {
        let c = config("rtcfile /tmp/x\nrtcdevice /nonexistent/rtc\n");
        assert!(RtcDriver::open(&c).expect("not fatal").is_none());
    }

    #[test]
    fn hwclock_file_selects_utc_or_local() {
        let dir = tempfile::tempdir().expect("tempdir");
        let adj = dir.path().join("adjtime");
        std::fs::write(&adj, "0.0 0 0.0\n0\nUTC\n").expect("write");
        let c = config(&format!("hwclockfile {}\n", adj.display()));
        assert!(RtcSetup::from_config(&c).utc);
        std::fs::write(&adj, "0.0 0 0.0\n0\nLOCAL\n").expect("write");
        let c = config(&format!("hwclockfile {}\nrtconutc\n", adj.display()));
        assert!(!RtcSetup::from_config(&c).utc);
    }

    #[test]
    fn driftfile_time_in_the_future_is_not_stepped_to_with_x() {
        let dir = tempfile::tempdir().expect("tempdir");
        let drift = dir.path().join("drift");
        std::fs::write(&drift, "0.0 0.0\n").expect("write");
        let future = std::time::SystemTime::now() + std::time::Duration::from_secs(86_400);
        std::fs::File::options()
            .write(true)
            .open(&drift)
            .and_then(|f| f.set_modified(future))
            .expect("mtime");
        let c = config(&format!(
            "driftfile {}\nrtcdevice /nonexistent/rtc\n",
            drift.display()
        ));
        let mut clock = DaemonClock::Virtual(VirtualClock::system(None));
        let before = clock.now();
        assert!(!set_clock_at_start(&c, &mut clock));
        // Refused as chronyd -x refuses it: the clock did not move a day.
        assert!(clock.now().diff_secs(before).abs() < 60.0);
    }
}
