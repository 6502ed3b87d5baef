//! The Linux system clock as a krony-engine [`Clock`]: read with
//! `clock_gettime(CLOCK_REALTIME)`, adjusted with `adjtimex` as chronyd's
//! Linux driver does (the values come from the pure functions in
//! the [`timex`] module).
//!
//! Creating a [`SystemClock`] takes control of the kernel clock (resets its
//! PLL and marks it unsynchronised), so tests never create one; they test the
//! values it would write ([`timex_request`]) and the read-only calls.

use krony_engine::clock::{Clock, ClockAction, ClockError, LeapStatus};
use krony_wire::UnixTime;

use super::timex::{self, TickParams};
use super::{SysError, check};
use crate::logging::{Severity, log_event};

/// A C `long` (32 bits on 32-bit targets, where the conversion is not a no-op).
#[allow(clippy::useless_conversion)]
fn long(v: libc::c_long) -> i64 {
    i64::from(v)
}

/// Reads a clock (CLOCK_REALTIME or CLOCK_MONOTONIC).
fn read_clock(id: libc::clockid_t) -> UnixTime {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec. These clocks always exist on
    // Linux, so the call cannot fail (EINVAL/EFAULT are excluded).
    unsafe { libc::clock_gettime(id, &mut ts) };
    UnixTime::from_secs_nanos(ts.tv_sec, ts.tv_nsec)
}

/// The system (realtime) clock now.
pub fn realtime_now() -> UnixTime {
    read_clock(libc::CLOCK_REALTIME)
}

/// The monotonic clock now (for timers; its epoch is arbitrary).
pub fn monotonic_now() -> UnixTime {
    read_clock(libc::CLOCK_MONOTONIC)
}

/// Measures the clock's precision as chronyd does when no `clockprecision`
/// is configured: the smallest positive difference between consecutive
/// readings, over 100 changes of the reading, clamped to 1 ns..1 s. Gives up
/// after a million readings of a clock that does not move (then 1 s).
pub fn measure_precision(mut read: impl FnMut() -> UnixTime) -> f64 {
    const CHANGES: u32 = 100;
    const MAX_READS: u32 = 1_000_000;
    let mut prev = read();
    let mut best = i64::MAX;
    let mut changes = 0;
    for _ in 0..MAX_READS {
        let now = read();
        let diff = now.as_nanos().saturating_sub(prev.as_nanos());
        prev = now;
        if diff > 0 {
            best = best.min(diff);
            changes += 1;
            if changes >= CHANGES {
                break;
            }
        }
    }
    (best as f64 / 1e9).clamp(1e-9, 1.0)
}

/// The fields of a `struct timex` kronyd sets, with its `modes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TimexRequest {
    /// ADJ_* bits.
    pub modes: u32,
    /// timex.tick (ADJ_TICK).
    pub tick: i64,
    /// timex.freq (ADJ_FREQUENCY).
    pub freq: i64,
    /// timex.status (ADJ_STATUS).
    pub status: i32,
    /// timex.esterror in µs (ADJ_ESTERROR).
    pub esterror: i64,
    /// timex.maxerror in µs (ADJ_MAXERROR).
    pub maxerror: i64,
    /// timex.time seconds and nanoseconds (ADJ_SETOFFSET | ADJ_NANO).
    pub time: (i64, i64),
    /// timex.constant: the TAI-UTC offset with ADJ_TAI.
    pub constant: i64,
}

/// The state [`timex_request`] needs besides the action.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockState {
    /// USER_HZ and tick range.
    pub params: TickParams,
    /// `rtcsync`: clear STA_UNSYNC when synchronised.
    pub rtcsync: bool,
    /// Whether STA_UNSYNC is currently clear.
    pub synchronised: bool,
    /// The leap second currently armed.
    pub leap: LeapStatus,
    /// The TAI-UTC offset the kernel is believed to have (0: never set).
    pub tai_offset: i32,
}

/// The kernel's TAI-UTC offset after a leap status change to `leap` with
/// `tai_offset` (0: unknown, not set), as chronyd tracks it: when the
/// kernel has just applied a leap (`applied`: it reported TIME_WAIT) and no
/// new leap is armed, the kernel moved its own offset by the leap. Returns
/// the new offset and whether it differs from what the kernel had, which is
/// logged ("System clock TAI offset set to N seconds").
pub fn next_tai_offset(
    state: &ClockState,
    leap: LeapStatus,
    tai_offset: i32,
    applied: bool,
) -> (i32, bool) {
    if tai_offset == 0 {
        return (state.tai_offset, false);
    }
    let mut kernel = state.tai_offset;
    if applied && !matches!(leap, LeapStatus::InsertSecond | LeapStatus::DeleteSecond) {
        kernel += if state.leap == LeapStatus::InsertSecond {
            1
        } else {
            -1
        };
    }
    (tai_offset, kernel != tai_offset)
}

/// What `adjtimex` must be given to carry out `action`, and the state after it.
///
/// # Errors
/// [`ClockError::Failed`] for a step that cannot be expressed (NaN, absurd).
pub fn timex_request(
    action: &ClockAction,
    state: &ClockState,
) -> Result<(TimexRequest, ClockState), ClockError> {
    let mut next = *state;
    let req = match *action {
        ClockAction::SetFrequency { correction_ppm } => {
            let tf = timex::tick_freq_for(correction_ppm, &state.params);
            TimexRequest {
                modes: libc::ADJ_TICK | libc::ADJ_FREQUENCY,
                tick: tf.tick,
                freq: tf.freq,
                ..TimexRequest::default()
            }
        }
        ClockAction::Step { offset } => {
            let time = timex::setoffset_time(offset)
                .ok_or_else(|| ClockError::Failed(format!("cannot step by {offset} seconds")))?;
            TimexRequest {
                modes: libc::ADJ_SETOFFSET | libc::ADJ_NANO,
                time,
                ..TimexRequest::default()
            }
        }
        ClockAction::SetLeap { leap, tai_offset } => {
            next.leap = leap;
            // The offset is given with every leap update once known.
            let tai = if tai_offset != 0 { libc::ADJ_TAI } else { 0 };
            TimexRequest {
                modes: libc::ADJ_STATUS | tai,
                status: timex::status_word(next.synchronised, leap),
                constant: i64::from(tai_offset),
                ..TimexRequest::default()
            }
        }
        ClockAction::SetSyncStatus {
            synchronised,
            est_error,
            max_error,
        } => {
            let v = timex::sync_values(synchronised, est_error, max_error, state.rtcsync);
            next.synchronised = v.synchronised;
            TimexRequest {
                modes: libc::ADJ_STATUS | libc::ADJ_ESTERROR | libc::ADJ_MAXERROR,
                status: timex::status_word(v.synchronised, next.leap),
                esterror: v.esterror_us,
                maxerror: v.maxerror_us,
                ..TimexRequest::default()
            }
        }
    };
    Ok((req, next))
}

/// Calls adjtimex with `req`; returns the kernel's timex and clock state.
fn adjtimex(req: &TimexRequest) -> Result<(libc::timex, libc::c_int), SysError> {
    // SAFETY: timex is a plain C struct (integers and padding); all zeroes is
    // valid, and means "change nothing" until modes is set.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    tx.modes = req.modes;
    tx.tick = req.tick as _;
    tx.freq = req.freq as _;
    tx.status = req.status;
    tx.esterror = req.esterror as _;
    tx.constant = req.constant as _;
    tx.maxerror = req.maxerror as _;
    tx.time.tv_sec = req.time.0 as _;
    // With ADJ_NANO the kernel reads tv_usec as nanoseconds.
    tx.time.tv_usec = req.time.1 as _;
    // SAFETY: tx is a valid, writable timex.
    let state = check(unsafe { libc::adjtimex(&mut tx) }, || {
        format!("adjtimex(0x{:x})", req.modes)
    })?;
    Ok((tx, state))
}

/// Reads the kernel clock's timex without changing anything (modes 0).
///
/// # Errors
/// [`SysError`] if adjtimex fails.
pub fn read_timex() -> Result<libc::timex, SysError> {
    adjtimex(&TimexRequest::default()).map(|(tx, _)| tx)
}

/// USER_HZ: sysconf(_SC_CLK_TCK), else guessed from the kernel's tick.
fn user_hz() -> Result<i64, SysError> {
    // SAFETY: sysconf takes no pointers.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if hz >= 1 {
        return Ok(hz as i64);
    }
    let tick = long(read_timex()?.tick);
    timex::guess_hz(tick)
        .ok_or_else(|| SysError::InvalidArgument(format!("Can't determine hz from tick {tick}")))
}

/// The Linux system clock, disciplined through adjtimex.
#[derive(Debug)]
pub struct SystemClock {
    state: ClockState,
    precision: f64,
}

impl SystemClock {
    /// Takes control of the system clock as chronyd does at start: cancels any
    /// adjtime() offset in progress, resets the kernel PLL offset and turns the
    /// PLL off, and marks the clock unsynchronised. Measures the precision
    /// unless `precision` (`clockprecision`) is given.
    ///
    /// # Errors
    /// [`SysError`] if adjtimex is refused (no CAP_SYS_TIME: use `-x`).
    pub fn new(rtcsync: bool, precision: Option<f64>) -> Result<Self, SysError> {
        let params = TickParams::new(user_hz()?);
        adjtimex(&TimexRequest {
            modes: libc::ADJ_OFFSET_SINGLESHOT,
            ..TimexRequest::default()
        })?;
        let unsync = timex::status_word(false, LeapStatus::Normal);
        adjtimex(&TimexRequest {
            modes: libc::ADJ_OFFSET | libc::ADJ_STATUS,
            status: libc::STA_PLL | unsync,
            ..TimexRequest::default()
        })?;
        adjtimex(&TimexRequest {
            modes: libc::ADJ_STATUS,
            status: unsync,
            ..TimexRequest::default()
        })?;
        Ok(SystemClock {
            state: ClockState {
                params,
                rtcsync,
                synchronised: false,
                leap: LeapStatus::Normal,
                tai_offset: 0,
            },
            precision: precision.unwrap_or_else(|| measure_precision(realtime_now)),
        })
    }

    /// The frequency correction the kernel applies now, in ppm (positive =
    /// faster): what to start from when there is no driftfile.
    ///
    /// # Errors
    /// [`SysError`] if adjtimex fails.
    pub fn current_correction_ppm(&self) -> Result<f64, SysError> {
        let tx = read_timex()?;
        let tf = timex::TickFreq {
            tick: long(tx.tick),
            freq: long(tx.freq),
        };
        Ok(tf.correction_ppm(&self.state.params))
    }
}

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        realtime_now()
    }

    fn precision(&self) -> f64 {
        self.precision
    }

    fn max_frequency_ppm(&self) -> f64 {
        self.state.params.max_correction_ppm()
    }

    fn apply(&mut self, action: ClockAction) -> Result<(), ClockError> {
        let failed = |e: SysError| ClockError::Failed(e.to_string());
        let (req, mut next) = timex_request(&action, &self.state)?;
        let mut tai_changed = false;
        if let ClockAction::SetLeap { leap, tai_offset } = action {
            if tai_offset != 0 {
                let (_, kernel_state) = adjtimex(&TimexRequest::default()).map_err(failed)?;
                let applied = kernel_state == libc::TIME_WAIT;
                (next.tai_offset, tai_changed) =
                    next_tai_offset(&self.state, leap, tai_offset, applied);
            }
        }
        adjtimex(&req).map_err(failed)?;
        self.state = next;
        if tai_changed {
            log_event(
                Severity::Info,
                format_args!("System clock TAI offset set to {} seconds", next.tai_offset),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> ClockState {
        ClockState {
            params: TickParams::new(100),
            rtcsync: true,
            synchronised: false,
            leap: LeapStatus::Normal,
            tai_offset: 0,
        }
    }

    #[test]
    fn known_tai_offset_goes_with_the_leap_status() {
        let (req, _) = timex_request(
            &ClockAction::SetLeap {
                leap: LeapStatus::InsertSecond,
                tai_offset: 36,
            },
            &state(),
        )
        .expect("leap");
        assert_eq!(req.modes, libc::ADJ_STATUS | libc::ADJ_TAI);
        assert_eq!(req.constant, 36);
        let (req, _) = timex_request(
            &ClockAction::SetLeap {
                leap: LeapStatus::Normal,
                tai_offset: 0,
            },
            &state(),
        )
        .expect("no tai");
        assert_eq!(req.modes, libc::ADJ_STATUS);
    }

    #[test]
    fn tai_offset_change_is_reported_once() {
        let mut s = state();
        // First known offset: set and logged.
        assert_eq!(
            next_tai_offset(&s, LeapStatus::Normal, 37, false),
            (37, true)
        );
        s.tai_offset = 37;
        // The same again: nothing to log.
        assert_eq!(
            next_tai_offset(&s, LeapStatus::Normal, 37, false),
            (37, false)
        );
        // Unknown: left alone.
        assert_eq!(
            next_tai_offset(&s, LeapStatus::Normal, 0, false),
            (37, false)
        );
    }

    #[test]
    fn kernel_applied_leap_counts_towards_its_tai_offset() {
        let mut s = state();
        s.tai_offset = 36;
        s.leap = LeapStatus::InsertSecond;
        // The kernel inserted the second and moved its offset to 37 itself.
        assert_eq!(
            next_tai_offset(&s, LeapStatus::Normal, 37, true),
            (37, false)
        );
        // Without TIME_WAIT the kernel did not: 37 is news.
        assert_eq!(
            next_tai_offset(&s, LeapStatus::Normal, 37, false),
            (37, true)
        );
        s.leap = LeapStatus::DeleteSecond;
        assert_eq!(
            next_tai_offset(&s, LeapStatus::Normal, 35, true),
            (35, false)
        );
    }

    #[test]
    fn frequency_request_sets_tick_and_freq() {
        let (req, next) = timex_request(
            &ClockAction::SetFrequency {
                correction_ppm: 250.25,
            },
            &state(),
        )
        .expect("request");
        assert_eq!(req.modes, libc::ADJ_TICK | libc::ADJ_FREQUENCY);
        assert_eq!(req.tick, 10003);
        assert_eq!(req.freq, (-49.75 * 65536.0) as i64);
        assert_eq!(next, state());
    }

    #[test]
    fn step_request_uses_setoffset_nano() {
        let (req, _) =
            timex_request(&ClockAction::Step { offset: -1.25 }, &state()).expect("request");
        assert_eq!(req.modes, libc::ADJ_SETOFFSET | libc::ADJ_NANO);
        assert_eq!(req.time, (-2, 750_000_000));
        assert!(
            timex_request(
                &ClockAction::Step {
                    offset: f64::INFINITY
                },
                &state()
            )
            .is_err()
        );
    }

    #[test]
    fn leap_and_sync_status_keep_each_other() {
        let s = state();
        let (req, s) = timex_request(
            &ClockAction::SetLeap {
                leap: LeapStatus::InsertSecond,
                tai_offset: 0,
            },
            &s,
        )
        .expect("leap");
        assert_eq!(req.modes, libc::ADJ_STATUS);
        assert_eq!(req.status, libc::STA_UNSYNC | libc::STA_INS);
        let (req, s) = timex_request(
            &ClockAction::SetSyncStatus {
                synchronised: true,
                est_error: 0.001,
                max_error: 0.1,
            },
            &s,
        )
        .expect("sync");
        assert_eq!(
            req.modes,
            libc::ADJ_STATUS | libc::ADJ_ESTERROR | libc::ADJ_MAXERROR
        );
        assert_eq!(
            req.status,
            libc::STA_INS,
            "synchronised, leap still armed, PLL off"
        );
        assert_eq!((req.esterror, req.maxerror), (1000, 100_000));
        assert!(s.synchronised);
        let (req, _) = timex_request(
            &ClockAction::SetLeap {
                leap: LeapStatus::Normal,
                tai_offset: 0,
            },
            &s,
        )
        .expect("disarm");
        assert_eq!(req.status, 0);
    }

    #[test]
    fn without_rtcsync_the_clock_stays_unsynchronised() {
        let s = ClockState {
            rtcsync: false,
            ..state()
        };
        let (req, next) = timex_request(
            &ClockAction::SetSyncStatus {
                synchronised: true,
                est_error: 0.001,
                max_error: 0.1,
            },
            &s,
        )
        .expect("sync");
        assert_eq!(req.status & libc::STA_UNSYNC, libc::STA_UNSYNC);
        assert!(!next.synchronised);
    }

    #[test]
    fn precision_is_the_smallest_step() {
        let mut t = 0i64;
        let mut n = 0u32;
        // Steps of 3, 5 and 7 ns, with repeated readings in between.
        let p = measure_precision(|| {
            n += 1;
            if n % 2 == 0 {
                t += [7, 5, 3][(n as usize / 2) % 3];
            }
            UnixTime::from_nanos(t)
        });
        assert!((p - 3e-9).abs() < 1e-15, "{p}");
        // A clock that never moves gives up at 1 s.
        assert_eq!(measure_precision(|| UnixTime::from_nanos(5)), 1.0);
        // The real clock: somewhere between 1 ns and 1 ms.
        let real = measure_precision(realtime_now);
        assert!((1e-9..1e-3).contains(&real), "{real}");
    }

    #[test]
    fn clocks_read_sane_values() {
        let a = realtime_now();
        let b = realtime_now();
        assert!(b >= a);
        assert!(a.secs() > 1_600_000_000);
        let m1 = monotonic_now();
        let m2 = monotonic_now();
        assert!(m2 >= m1);
        let sys = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970");
        assert!((realtime_now().secs() - sys.as_secs() as i64).abs() <= 1);
    }

    #[test]
    fn reading_the_kernel_clock_changes_nothing_and_gives_hz() {
        let tx = read_timex().expect("adjtimex read");
        let hz = user_hz().expect("hz");
        let params = TickParams::new(hz);
        assert!((long(tx.tick) - params.nominal_tick).abs() <= params.max_tick_bias);
    }
}
