//! Tracking of the real-time clock against the system clock (chrony's
//! `rtc_linux.c`, measurement side): readings of the RTC taken at its
//! update interrupts, paired with the cooked system time, give by robust
//! regression how fast the RTC is and how fast it gains; the `rtcfile`
//! keeps these coefficients between runs, and `-s` uses them.
//!
//! The tracker does no I/O: the daemon turns its [`RtcAction`]s into
//! ioctls and file writes and feeds back what the device reads.

use std::collections::VecDeque;
use std::fmt;

use crate::UnixTime;
use crate::discipline::{ChangeKind, ClockChange, adjust_time, log_time};
use crate::stats::robust::best_robust_regression;

/// Most samples held.
const MAX_SAMPLES: usize = 64;
/// Samples kept when full: the oldest are dropped down to this many.
const NEW_FIRST_WHEN_FULL: usize = 4;
/// Shortest interval between measurements (s); it doubles as samples
/// accumulate, up to 16 times this.
const LOWEST_MEASUREMENT_PERIOD: u32 = 15;
/// Readings taken a second apart before the initial trim and after a trim.
const RAPID_SAMPLES: usize = 8;

/// The banner header of `rtc.log`.
pub const RTC_LOG_HEADER: &str =
    "   Date (UTC) Time   RTC fast (s) Val   Est fast (s)   Slope (ppm)  Ns  Nr Meas";

/// The `rtcfile` contents: "valid ref_time offset rate_ppm".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtcCoefs {
    /// Whether the coefficients are usable.
    pub valid: bool,
    /// Reference time (RTC seconds).
    pub ref_time: i64,
    /// How far the RTC was fast of the system clock at `ref_time` (s).
    pub offset: f64,
    /// How fast the RTC gains (ppm).
    pub rate_ppm: f64,
}

impl RtcCoefs {
    /// Parses the file as `fscanf("%d%lf%lf%lf")`: `None` (chrony's "Could
    /// not read coefficients") unless four numbers come first.
    pub fn parse(text: &str) -> Option<Self> {
        let mut w = text.split_whitespace();
        let valid: i64 = w.next()?.parse().ok()?;
        let mut num = || w.next().and_then(|s| s.parse::<f64>().ok());
        let (ref_time, offset, rate_ppm) = (num()?, num()?, num()?);
        Some(RtcCoefs {
            valid: valid != 0,
            ref_time: ref_time as i64,
            offset,
            rate_ppm,
        })
    }

    /// The RTC's error (s fast) at RTC time `rtc_secs`, from these
    /// coefficients.
    pub fn error_at(&self, rtc_secs: i64) -> f64 {
        self.offset + (rtc_secs - self.ref_time) as f64 * 1e-6 * self.rate_ppm
    }
}

impl fmt::Display for RtcCoefs {
    /// chrony's `"%1d %.0f %.6f %.3f\n"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {} {:.6} {:.3}",
            u8::from(self.valid),
            self.ref_time,
            self.offset,
            self.rate_ppm
        )
    }
}

/// What the daemon must do with the device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RtcAction {
    /// Turn update interrupts on (readings follow each second) or off.
    UpdateInterrupts(bool),
    /// Set the RTC to this Unix time (whole seconds).
    SetTime(i64),
    /// Write these coefficients to the `rtcfile`.
    WriteFile(RtcCoefs),
    /// The initial trim of `-s` is over: start the sources.
    InitDone,
}

/// The `rtcdata` report.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtcReport {
    /// Reference time of the coefficients (Unix seconds).
    pub ref_time: i64,
    /// Samples held.
    pub n_samples: u16,
    /// Runs of the last regression.
    pub n_runs: u16,
    /// RTC seconds between the first and last sample.
    pub span_seconds: u32,
    /// How fast the RTC is (s).
    pub seconds_fast: f64,
    /// How fast it gains (ppm).
    pub gain_rate_ppm: f64,
}

/// One line of `rtc.log`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RtcLogLine {
    /// The system time of the reading.
    pub time: UnixTime,
    /// RTC minus system time (s).
    pub rtc_fast: f64,
    /// Whether the coefficients are valid.
    pub valid: bool,
    /// Estimated seconds fast.
    pub est_fast: f64,
    /// Gain rate (ppm).
    pub slope_ppm: f64,
    /// Samples held.
    pub n_samples: usize,
    /// Runs.
    pub n_runs: usize,
    /// Measurement period (s).
    pub period: u32,
}

impl fmt::Display for RtcLogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:14.6} {:1}  {:14.6}  {:12.3}  {:2}  {:2} {:4}",
            log_time(self.time),
            self.rtc_fast,
            u8::from(self.valid),
            self.est_fast,
            self.slope_ppm,
            self.n_samples,
            self.n_runs,
            self.period
        )
    }
}

/// The operating mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Normal,
    /// `-s`: readings a second apart, then the system clock is trimmed.
    Initial,
    /// After the RTC was stepped: readings a second apart to relock.
    AfterTrim,
}

/// Coefficients of the last good regression.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Coefs {
    valid: bool,
    ref_time: i64,
    seconds_fast: f64,
    gain_rate: f64,
}

/// The RTC tracker.
#[derive(Debug, Clone)]
pub struct RtcTracker {
    /// (RTC seconds, cooked system time) pairs, oldest first.
    samples: Vec<(i64, UnixTime)>,
    since_regression: usize,
    n_runs: usize,
    coefs: Coefs,
    saved_gain_rate: f64,
    mode: Mode,
    period: u32,
    /// Raw time to turn the interrupts on again.
    timer: Option<UnixTime>,
    autotrim: f64,
    file: Option<RtcCoefs>,
    actions: VecDeque<RtcAction>,
}

/// What a reading leads to beyond the tracker itself.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ReadingOutcome {
    /// Nothing more.
    None,
    /// Initial trim: slew out this offset (s, positive = system clock
    /// fast); `None` without valid file coefficients.
    InitialTrim(Option<f64>),
    /// Autotrim is due (if synchronised).
    MaybeAutotrim,
}

impl RtcTracker {
    /// A tracker with the coefficients read from the `rtcfile` (if any) and
    /// the `rtcautotrim` threshold (s, 0 = off).
    pub fn new(file: Option<RtcCoefs>, autotrim: f64) -> Self {
        RtcTracker {
            samples: Vec::new(),
            since_regression: 0,
            n_runs: 0,
            coefs: Coefs::default(),
            saved_gain_rate: 0.0,
            mode: Mode::Normal,
            period: LOWEST_MEASUREMENT_PERIOD,
            timer: None,
            autotrim,
            file,
            actions: VecDeque::new(),
        }
    }

    /// `-s`: take readings a second apart for the initial trim.
    pub fn start_initial(&mut self) {
        self.mode = Mode::Initial;
        self.timer = None;
        self.actions.push_back(RtcAction::UpdateInterrupts(true));
    }

    /// Starts the periodic measurements.
    pub fn start_measurements(&mut self) {
        self.timer = None;
        self.actions.push_back(RtcAction::UpdateInterrupts(true));
    }

    /// When to turn the interrupts on again (raw time).
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.timer
    }

    pub(crate) fn handle_timeout(&mut self, now: UnixTime) {
        if self.timer.is_some_and(|t| t <= now) {
            self.start_measurements();
        }
    }

    /// The next device action.
    pub fn poll_action(&mut self) -> Option<RtcAction> {
        self.actions.pop_front()
    }

    /// Follows a change of the system clock: the samples' system times and
    /// the coefficients move with it; an unknown step drops the samples.
    pub(crate) fn follow(&mut self, ch: &ClockChange) {
        match ch.kind {
            ChangeKind::UnknownStep => self.samples.clear(),
            // The timer is a raw time: it moves with a step, as the
            // scheduler's timeouts do.
            ChangeKind::Step => self.timer = self.timer.map(|t| t.add_secs(-ch.doffset)),
            ChangeKind::Adjust => {}
        }
        for s in &mut self.samples {
            s.1 = adjust_time(s.1, ch.cooked, ch.dfreq, ch.doffset).0;
        }
        if self.coefs.valid {
            self.coefs.seconds_fast += ch.doffset;
            self.coefs.gain_rate += ch.dfreq * (1.0 - self.coefs.gain_rate);
        }
    }

    fn accumulate(&mut self, rtc: i64, sys: UnixTime) {
        if self.samples.len() == MAX_SAMPLES {
            self.samples.drain(..NEW_FIRST_WHEN_FULL);
        }
        // The RTC went back (not by our trim): start again.
        if self.samples.last().is_some_and(|s| s.0 >= rtc) {
            self.samples.clear();
        }
        self.samples.push((rtc, sys));
        self.since_regression += 1;
    }

    /// Fits the samples; the coefficients if the fit succeeded.
    fn regression(&mut self) -> Option<Coefs> {
        let rtc_ref = self.samples.last()?.0;
        let x: Vec<f64> = self
            .samples
            .iter()
            .map(|s| (s.0 - rtc_ref) as f64)
            .collect();
        let y: Vec<f64> = self
            .samples
            .iter()
            .map(|s| UnixTime::from_secs_nanos(s.0, 0).diff_secs(s.1))
            .collect();
        let fit = best_robust_regression(&x, &y, 1e-9)?;
        self.n_runs = fit.n_runs;
        if fit.best_start > 0 {
            self.samples.drain(..fit.best_start);
        }
        Some(Coefs {
            valid: true,
            ref_time: rtc_ref,
            seconds_fast: fit.b0,
            gain_rate: fit.b1,
        })
    }

    /// A reading: the RTC showed `rtc` (Unix seconds; `None` if it could
    /// not be read) at the update interrupt, at cooked system time `sys`
    /// (raw `now`). Returns what the engine must do next and the log line.
    pub(crate) fn handle_reading(
        &mut self,
        now: UnixTime,
        sys: UnixTime,
        rtc: Option<i64>,
    ) -> (ReadingOutcome, Option<RtcLogLine>) {
        let Some(rtc) = rtc else {
            if self.mode == Mode::Initial {
                self.actions.push_back(RtcAction::InitDone);
            }
            self.mode = Mode::Normal;
            self.rest(now);
            return (ReadingOutcome::None, None);
        };
        self.accumulate(rtc, sys);
        let mut outcome = ReadingOutcome::None;
        match self.mode {
            Mode::Normal => {
                if let Some(c) = self.regression() {
                    self.coefs = c;
                }
                self.since_regression = 0;
                outcome = ReadingOutcome::MaybeAutotrim;
            }
            Mode::Initial if self.since_regression >= RAPID_SAMPLES => {
                outcome = ReadingOutcome::InitialTrim(self.initial_trim());
            }
            Mode::AfterTrim if self.since_regression >= RAPID_SAMPLES => self.relock(),
            Mode::Initial | Mode::AfterTrim => {}
        }
        let line = RtcLogLine {
            time: sys,
            rtc_fast: UnixTime::from_secs_nanos(rtc, 0).diff_secs(sys),
            valid: self.coefs.valid,
            est_fast: self.coefs.seconds_fast,
            slope_ppm: self.coefs.gain_rate * 1e6,
            n_samples: self.samples.len(),
            n_runs: self.n_runs,
            period: self.period,
        };
        self.period = match self.samples.len() {
            0..4 => LOWEST_MEASUREMENT_PERIOD,
            4..6 => LOWEST_MEASUREMENT_PERIOD << 1,
            6..10 => LOWEST_MEASUREMENT_PERIOD << 2,
            10..14 => LOWEST_MEASUREMENT_PERIOD << 3,
            _ => LOWEST_MEASUREMENT_PERIOD << 4,
        };
        if self.mode == Mode::Normal {
            self.rest(now);
        }
        (outcome, Some(line))
    }

    /// Interrupts off until the next measurement.
    fn rest(&mut self, now: UnixTime) {
        self.actions.push_back(RtcAction::UpdateInterrupts(false));
        self.timer = Some(now.add_secs(f64::from(self.period)));
    }

    fn initial_trim(&mut self) -> Option<f64> {
        if let Some(c) = self.regression() {
            self.coefs = c;
        }
        self.since_regression = 0;
        self.samples.clear();
        let trim = self
            .file
            .filter(|f| f.valid)
            .map(|f| f.error_at(self.coefs.ref_time) - self.coefs.seconds_fast);
        self.coefs.valid = false;
        self.actions.push_back(RtcAction::InitDone);
        self.mode = Mode::Normal;
        trim
    }

    fn relock(&mut self) {
        if let Some(c) = self.regression() {
            self.actions.push_back(RtcAction::WriteFile(RtcCoefs {
                valid: true,
                ref_time: c.ref_time,
                offset: c.seconds_fast,
                rate_ppm: self.saved_gain_rate * 1e6,
            }));
        }
        self.coefs.valid = false;
        self.samples.clear();
        self.since_regression = 0;
        self.mode = Mode::Normal;
        self.period = LOWEST_MEASUREMENT_PERIOD;
    }

    /// Whether autotrim applies now (fresh coefficients above the
    /// threshold, normal mode); the caller checks synchronisation.
    pub(crate) fn autotrim_due(&self) -> bool {
        self.mode == Mode::Normal
            && self.coefs.valid
            && self.since_regression == 0
            && self.autotrim > 0.0
            && self.coefs.seconds_fast.abs() >= self.autotrim
    }

    /// `trimrtc`: if the RTC is more than a second off, set it to the
    /// system time `now_cooked` and relock; the log message if stepped.
    pub fn trim(&mut self, now_cooked: UnixTime) -> Option<String> {
        self.saved_gain_rate = self.coefs.gain_rate;
        if self.coefs.seconds_fast.abs() <= 1.0 {
            return None;
        }
        let msg = format!("RTC wrong by {:.3} seconds (step)", self.coefs.seconds_fast);
        // Set to the whole second: the RTC ticks the next one half a
        // second later, so its error stays within half a second.
        self.actions
            .push_back(RtcAction::SetTime(now_cooked.secs()));
        self.samples.clear();
        self.mode = Mode::AfterTrim;
        self.coefs.seconds_fast = 0.5 - f64::from(now_cooked.subsec_nanos()) / 1e9;
        self.coefs.ref_time = now_cooked.secs();
        self.timer = None;
        self.actions.push_back(RtcAction::UpdateInterrupts(true));
        Some(msg)
    }

    /// The coefficients to save (`writertc`, exit); `None` when they are
    /// not valid (the file is then left as it is).
    pub fn parameters(&self) -> Option<RtcCoefs> {
        self.coefs.valid.then_some(RtcCoefs {
            valid: true,
            ref_time: self.coefs.ref_time,
            offset: self.coefs.seconds_fast,
            rate_ppm: self.coefs.gain_rate * 1e6,
        })
    }

    /// The `rtcdata` report.
    pub fn report(&self) -> RtcReport {
        let span = match (self.samples.first(), self.samples.last()) {
            (Some(a), Some(b)) if self.samples.len() > 1 => b.0 - a.0,
            _ => 0,
        };
        RtcReport {
            ref_time: self.coefs.ref_time,
            n_samples: u16::try_from(self.samples.len()).unwrap_or(u16::MAX),
            n_runs: u16::try_from(self.n_runs).unwrap_or(u16::MAX),
            span_seconds: u32::try_from(span).unwrap_or(0),
            seconds_fast: self.coefs.seconds_fast,
            gain_rate_ppm: self.coefs.gain_rate * 1e6,
        }
    }
}

#[cfg(test)]
mod tests;
