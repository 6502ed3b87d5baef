//! Reference clocks: the source kind fed by a local driver (SOCK, SHM, PPS,
//! PHC) instead of NTP packets (chrony's `refclock.c`).
//!
//! A driver hands timestamped samples to the engine (a system time with the
//! reference's time or offset, a leap status) or pulses (a system time at
//! which a second of the reference began). Samples go through a median
//! filter that keeps the 60% of them nearest the median; once per `poll`
//! the filter's output becomes one sample of the source's statistics, which
//! takes part in selection like an NTP source (mode `#`).
//!
//! This module holds one refclock's state and the pure parts of its
//! algorithms; [`Engine`](crate::Engine) cooks the driver's timestamps,
//! resolves `lock` and runs selection (see `engine/refclocks.rs`).

mod log;
pub mod pulse;
#[cfg(test)]
mod tests;

pub use log::{REFCLOCKS_LOG_HEADER, RefclockLogRecord};

use krony_config::{RefclockDriver, RefclockSpec};

use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::select::{Reachability, SelectOptions, SourceKind};
use crate::stats::{FilterParams, Sample, SampleFilter, SourceStats, StatsParams};

/// Offsets must stay within ±2^32 s (chrony's `MAX_OFFSET`).
const MAX_OFFSET: f64 = 4_294_967_296.0;

/// What a driver reads: a system time and the reference's time for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefclockSample {
    /// When the sample was taken, a raw reading of the system clock.
    pub sys_time: UnixTime,
    /// The reference's time at `sys_time`.
    pub ref_time: UnixTime,
    /// The leap status the driver reports: 0 normal, 1 insert, 2 delete;
    /// anything else makes the sample ignored (as chronyd does).
    pub leap: i32,
}

/// A reference clock's settings, derived from its `refclock` line as
/// chronyd's `RCL_AddRefclock` derives them.
#[derive(Debug, Clone, PartialEq)]
pub struct RefclockParams {
    /// The driver name (`SOCK`, `SHM`, `PPS`, `PHC`, `RTC`).
    pub driver: &'static str,
    /// Whether the driver is polled (SHM, PPS, PHC) rather than pushing
    /// samples itself (SOCK).
    pub driver_polls: bool,
    /// Reference ID (`refid`, or the driver name's first three letters and
    /// the refclock's index).
    pub ref_id: u32,
    /// `poll`: log2 seconds between filter outputs.
    pub poll: i8,
    /// `dpoll`: log2 seconds between driver polls (at most `poll`).
    pub driver_poll: i8,
    /// The median filter's length after the `dpoll` limit.
    pub filter_length: usize,
    /// `lock`: the refid whose samples give this PPS refclock its seconds.
    pub lock_ref_id: Option<u32>,
    /// `pps` (or `local`): samples are pulses.
    pub pps_forced: bool,
    /// `rate`: pulses per second.
    pub rate: u32,
    /// `maxlockage`: pulses a locked reference's sample may be old.
    pub max_lock_age: u32,
    /// `stratum`.
    pub stratum: u8,
    /// `tai`: the reference keeps TAI.
    pub tai: bool,
    /// `local`.
    pub local: bool,
    /// `offset`, seconds.
    pub offset: f64,
    /// `delay`, seconds.
    pub delay: f64,
    /// The larger of `precision` and the system clock's precision.
    pub precision: f64,
    /// `width`: pulse width, seconds (0: not checked).
    pub pulse_width: f64,
    /// `maxdispersion`, seconds (0: no limit).
    pub max_dispersion: f64,
    /// Configured selection options.
    pub select: SelectOptions,
    /// `maxunreach`.
    pub max_unreach: u32,
}

impl RefclockParams {
    /// The settings of `spec`, the `index`th refclock (from 0), on a system
    /// clock of precision `sys_precision`. Also returns the warnings chronyd
    /// logs while setting it up.
    pub fn from_spec(spec: &RefclockSpec, index: usize, sys_precision: f64) -> (Self, Vec<String>) {
        let o = &spec.options;
        let (driver, driver_polls) = match spec.driver {
            RefclockDriver::Sock { .. } => ("SOCK", false),
            RefclockDriver::Shm { .. } => ("SHM", true),
            RefclockDriver::Pps { .. } => ("PPS", true),
            RefclockDriver::Phc { .. } => ("PHC", true),
            RefclockDriver::Rtc { .. } => ("RTC", true),
        };
        let ref_id = o
            .refid
            .as_deref()
            .map_or_else(|| default_ref_id(driver, index), ref_id_from_text);
        let mut p = RefclockParams {
            driver,
            driver_polls,
            ref_id,
            poll: o.poll,
            driver_poll: o.dpoll,
            filter_length: usize::try_from(o.filter).unwrap_or(usize::MAX),
            lock_ref_id: o.lock.as_deref().map(ref_id_from_text),
            pps_forced: o.pps,
            rate: o.rate.max(1),
            max_lock_age: o.maxlockage,
            stratum: o.stratum,
            tai: o.tai,
            local: o.local,
            offset: o.offset,
            delay: o.delay,
            precision: o.precision.map_or(sys_precision, |p| p.max(sys_precision)),
            pulse_width: o.width,
            max_dispersion: o.maxdispersion,
            select: SelectOptions {
                noselect: o.select.noselect,
                prefer: o.select.prefer,
                trust: o.select.trust,
                require: o.select.require,
            },
            max_unreach: o.maxunreach,
        };
        if p.local {
            p.pps_forced = true;
            p.lock_ref_id = Some(p.ref_id);
            p.max_lock_age = p.max_lock_age.max(3);
        }
        let mut warnings = Vec::new();
        if p.driver_polls {
            p.driver_poll = p.driver_poll.min(p.poll);
            let max = 1usize << (p.poll - p.driver_poll).clamp(0, 30);
            if max < p.filter_length {
                if max < 4 {
                    warnings.push(format!(
                        "Setting filter length for {} to {max}",
                        ref_id_text(p.ref_id)
                    ));
                }
                p.filter_length = max;
            }
        }
        (p, warnings)
    }

    /// Driver polls per filter output (1 for a driver that is not polled).
    fn polls_per_output(&self) -> u32 {
        if self.driver_polls {
            1u32 << (self.poll - self.driver_poll).clamp(0, 30)
        } else {
            1
        }
    }

    /// The interval of the source's timer, seconds.
    fn timer_interval(&self) -> f64 {
        let log2 = if self.driver_polls {
            self.driver_poll
        } else {
            self.poll
        };
        2f64.powi(i32::from(log2))
    }
}

/// chronyd's default refid: the driver name's first three letters and the
/// refclock's index (its last two digits from the tenth on).
pub fn default_ref_id(driver: &str, index: usize) -> u32 {
    let mut b = [0u8; 4];
    for (d, s) in b.iter_mut().zip(driver.bytes().take(3)) {
        *d = s;
    }
    // OK to truncate: single decimal digits.
    b[3] = b'0' + (index % 10) as u8;
    if index >= 10 {
        b[2] = b'0' + ((index / 10) % 10) as u8;
    }
    u32::from_be_bytes(b)
}

/// A refid written as up to four characters, left-aligned.
pub fn ref_id_from_text(s: &str) -> u32 {
    let mut b = [0u8; 4];
    for (d, s) in b.iter_mut().zip(s.bytes()) {
        *d = s;
    }
    u32::from_be_bytes(b)
}

/// A refid as text (chrony's `UTI_RefidToString`: printable characters up
/// to the first NUL).
pub fn ref_id_text(ref_id: u32) -> String {
    ref_id
        .to_be_bytes()
        .iter()
        .take_while(|b| **b != 0)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// Whether `time + offset` is a sane time (chrony's `UTI_IsTimeOffsetSane`).
pub(crate) fn time_offset_sane(time: UnixTime, offset: f64) -> bool {
    // chrony's NTP_ERA_SPLIT: 2025-01-01 minus 18250 days.
    const ERA_SPLIT: f64 = 1_735_689_600.0 - 18_250.0 * 86_400.0;
    if !(offset > -MAX_OFFSET && offset < MAX_OFFSET) {
        return false;
    }
    let t = time.as_nanos() as f64 / 1e9 + offset;
    (ERA_SPLIT..=ERA_SPLIT + MAX_OFFSET).contains(&t)
}

/// What a timer tick of a refclock gave.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Tick {
    /// The filter period is not over yet.
    Waiting,
    /// The period ended without a filtered sample: the reach register got a 0.
    NoSample,
    /// The filtered sample of the period.
    Filtered(Sample),
}

/// One reference clock.
#[derive(Debug, Clone)]
pub struct RefclockSource {
    params: RefclockParams,
    filter: SampleFilter,
    stats: SourceStats,
    reach: Reachability,
    /// The leap status of the last sample (or of the locked reference).
    leap: LeapStatus,
    /// The stratum and leap status given to the statistics with the last
    /// filtered sample (chrony's `SRC_UpdateStatus`).
    status: (u8, LeapStatus),
    /// Whether the last sample was a pulse.
    pps_active: bool,
    /// Driver polls (or samples) in the current filter period.
    driver_polled: u32,
    /// The refclock whose samples give pulses their seconds, once resolved.
    lock: Option<crate::select::SourceId>,
    /// When the timer next fires (raw time); `None` until started.
    next_tick: Option<UnixTime>,
}

impl RefclockSource {
    /// A refclock with these settings; `stats` are the statistics settings
    /// (its `minsamples`/`maxsamples` already applied).
    pub fn new(params: RefclockParams, stats: StatsParams) -> Self {
        let filter = SampleFilter::new(FilterParams {
            // chronyd 4.3 needs four samples per output (or a full filter
            // when it is shorter).
            min_samples: params.filter_length.min(4),
            ..FilterParams::refclock(
                params.filter_length,
                params.max_dispersion,
                params.precision,
            )
        });
        let leap = if params.local {
            LeapStatus::Unsynchronised
        } else {
            LeapStatus::Normal
        };
        RefclockSource {
            params,
            filter,
            stats: SourceStats::new(stats),
            reach: Reachability::default(),
            leap,
            status: (0, LeapStatus::Unsynchronised),
            pps_active: false,
            driver_polled: 0,
            lock: None,
            next_tick: None,
        }
    }

    /// The settings.
    pub fn params(&self) -> &RefclockParams {
        &self.params
    }

    /// The reference ID.
    pub fn ref_id(&self) -> u32 {
        self.params.ref_id
    }

    /// Starts the timer: the first tick is at once (raw `now`).
    pub fn start(&mut self, now: UnixTime) {
        self.next_tick = Some(now);
    }

    /// Sets the refclock `lock` resolved to.
    pub fn set_lock(&mut self, lock: Option<crate::select::SourceId>) {
        self.lock = lock;
    }

    /// The refclock whose samples give pulses their seconds.
    pub fn lock(&self) -> Option<crate::select::SourceId> {
        self.lock
    }

    /// When [`tick`](Self::tick) is next due (raw time).
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.next_tick
    }

    /// The statistics.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// The statistics, to change them.
    pub fn stats_mut(&mut self) -> &mut SourceStats {
        &mut self.stats
    }

    /// The median filter.
    pub fn filter(&self) -> &SampleFilter {
        &self.filter
    }

    /// The reachability register.
    pub fn reachability(&self) -> Reachability {
        self.reach
    }

    /// The leap status of the last sample.
    pub fn leap(&self) -> LeapStatus {
        self.leap
    }

    /// The stratum of the last filtered sample.
    pub fn stratum(&self) -> u8 {
        self.status.0
    }

    /// The leap status given to selection with the last filtered sample.
    pub fn status_leap(&self) -> LeapStatus {
        self.status.1
    }

    /// State from a dump file (`-r`): reachability, stratum and leap.
    pub fn restore(&mut self, reach: u8, size: u8, stratum: u8, leap: LeapStatus) {
        self.reach = Reachability {
            register: reach,
            size: size.min(crate::select::REACH_BITS),
            unreachable_run: 0,
        };
        self.status = (stratum, leap);
    }

    /// Whether the last sample was an unlocked or locked pulse.
    pub fn pps_active(&self) -> bool {
        self.pps_active
    }

    /// Driver polls or samples so far in this filter period (the `DP`
    /// column of the refclocks log).
    pub fn driver_polled(&self) -> u32 {
        self.driver_polled
    }

    /// The candidate selection sees (its statistics left out).
    pub fn candidate(&self, id: crate::select::SourceId) -> crate::select::Candidate {
        crate::select::Candidate {
            id,
            kind: SourceKind::Refclock,
            ref_id: self.params.ref_id,
            local_ref_id: 0,
            authenticated: false,
            options: self.params.select,
            stratum: self.status.0,
            leap: self.status.1,
            reach: self.reach,
            max_unreach: self.params.max_unreach,
            stats: None,
        }
    }

    /// Whether a cooked sample time is acceptable at cooked `now`: not in
    /// the future and at most two polls old.
    pub fn valid_sample_time(&self, now: UnixTime, sample_time: UnixTime) -> bool {
        let age = now.diff_secs(sample_time);
        age >= 0.0 && age <= 2f64.powi(i32::from(self.params.poll) + 1)
    }

    /// Adds a sample (cooked time, offset in the NTP sign: positive when the
    /// reference is ahead) to the filter; false if the filter refused it.
    pub fn accumulate(
        &mut self,
        time: UnixTime,
        offset: f64,
        dispersion: f64,
        leap: LeapStatus,
        pulse: bool,
    ) -> bool {
        let sample = Sample {
            time,
            offset,
            peer_delay: self.params.delay,
            peer_dispersion: dispersion,
            root_delay: self.params.delay,
            root_dispersion: dispersion,
        };
        if self.filter.accumulate(sample).is_err() {
            return false;
        }
        self.leap = leap;
        self.pps_active = pulse;
        if !self.params.driver_polls {
            self.driver_polled += 1;
        }
        true
    }

    /// Drops the samples in the filter (an unlocked pulse while we are not
    /// synchronised well enough, an unknown clock step).
    pub fn drop_samples(&mut self) {
        self.filter.reset();
    }

    /// Runs the timer at raw `now`: after the driver was polled (by the
    /// caller, for a polled driver), once per filter period the filter gives
    /// its output. The caller then calls [`accumulate_filtered`](Self::accumulate_filtered)
    /// with the stratum to report, or [`update_reachability`](Self::update_reachability).
    pub fn tick(&mut self, now: UnixTime) -> Tick {
        self.next_tick = Some(now.add_secs(self.params.timer_interval()));
        if self.params.driver_polls {
            self.driver_polled += 1;
            if self.driver_polled < self.params.polls_per_output() {
                return Tick::Waiting;
            }
        }
        self.driver_polled = 0;
        match self.filter.output() {
            Some(s) => Tick::Filtered(s),
            None => Tick::NoSample,
        }
    }

    /// Whether the timer is due at raw `now` and the driver must be
    /// polled first.
    pub fn driver_poll_due(&self, now: UnixTime) -> bool {
        self.params.driver_polls && self.next_tick.is_some_and(|t| t <= now)
    }

    /// Shifts the reachability register (chrony's `SRC_UpdateReachability`).
    pub fn update_reachability(&mut self, reachable: bool) {
        let r = &mut self.reach;
        r.register = (r.register << 1) | u8::from(reachable);
        if r.size < crate::select::REACH_BITS {
            r.size += 1;
        }
        if r.register == 0 {
            r.unreachable_run = r.unreachable_run.saturating_add(1);
        } else {
            r.unreachable_run = 0;
        }
    }

    /// A filtered sample goes to the statistics with this stratum (the
    /// reachability gets a 1 first), unless it is `near_leap` (within
    /// seconds of a leap second: dropped, as chronyd does). Returns
    /// whether it was accumulated.
    pub fn accumulate_filtered(&mut self, sample: &Sample, stratum: u8, near_leap: bool) -> bool {
        if self.params.local {
            self.leap = LeapStatus::Unsynchronised;
        }
        self.update_reachability(true);
        self.status = (stratum, self.leap);
        if near_leap {
            return false;
        }
        if self
            .stats
            .accumulate_sample(sample, stratum, self.leap)
            .is_err()
        {
            return false;
        }
        self.stats.do_new_regression();
        true
    }

    /// Applies a clock change (see [`crate::stats::adjust_time`]) to the filter and the
    /// statistics.
    pub fn slew_times(&mut self, when: UnixTime, dfreq: f64, doffset: f64) {
        self.filter.slew_samples(when, dfreq, doffset);
        self.stats.slew_samples(when, dfreq, doffset);
    }

    /// Moves the (raw) timer after a step of the raw clock.
    pub fn shift_timer(&mut self, secs: f64) {
        if let Some(t) = &mut self.next_tick {
            *t = t.add_secs(secs);
        }
    }

    /// The regression's time, frequency and offset (sourcestats signs)
    /// once it has `minsamples` samples (chronyd's `get_local_stats`).
    pub fn local_stats(&self) -> Option<(UnixTime, f64, f64)> {
        if self.stats.n_samples() < self.stats.min_samples() {
            return None;
        }
        let t = self.stats.get_tracking_data()?;
        Some((t.ref_time, t.frequency, t.offset))
    }

    /// After a `local` adjustment of the clock: the samples follow it, and
    /// whole seconds of offset are taken out so that no precision is lost.
    pub fn follow_local_change(&mut self, now: UnixTime, dfreq: f64, doffset: f64, offset: f64) {
        self.stats.slew_samples(now, dfreq, doffset);
        self.filter.slew_samples(now, dfreq, doffset);
        if offset.abs() >= 1.0 {
            self.stats.correct_offset(-offset.round());
            self.filter.correct_offset(-offset.round());
        }
    }

    /// Adds dispersion (seconds) to the filter's and the statistics'
    /// samples.
    pub fn add_dispersion(&mut self, d: f64) {
        self.filter.add_dispersion(d);
        self.stats.add_dispersion(d);
    }

    /// After a clock step of unknown size: the filter and the statistics
    /// start over.
    pub fn reset_after_unknown_step(&mut self) {
        self.filter.reset();
        self.stats.reset();
    }
}
