//! The reference: synchronisation state and the clock update policy (chrony's
//! `reference.c`).

use std::net::{IpAddr, Ipv4Addr};

use super::adjust_time;
use super::config::{DisciplineConfig, LocalConfig, MakeStep, MaxChange, RefMode};
use super::events::DisciplineEvent;
use super::fallback::FallbackDrifts;
use super::leap::{KnownLeap, LeapState};
use super::local_clock::{ChangeKind, ClockNotice, LocalClock};
use super::local_mode::{LocalMode, Served};
use super::tracking::{ServerParams, TrackingReport};
use super::{MAX_STRATUM, REFID_LOCAL, REFID_MANUAL, REFID_UNSYNC};
use crate::UnixTime;
use crate::clock::{ClockAction, LeapStatus};

/// Smallest skew kept (relative), so weights never divide by zero.
const MIN_SKEW: f64 = 1e-12;

/// Weight of a new squared offset in the RMS offset average.
const RMS_OFFSET_WEIGHT: f64 = 0.1;

/// One update from source selection: the combined estimate of the selected
/// sources (chrony's `REF_SetReference` arguments).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncUpdate {
    /// Stratum of the selected source (ours will be one more).
    pub stratum: u8,
    /// Leap status voted by the selectable sources.
    pub leap: LeapStatus,
    /// How many sources were combined.
    pub combined_sources: u32,
    /// Reference ID of the selected source.
    pub ref_id: u32,
    /// Address of the selected source (None for reference clocks).
    pub ref_ip: Option<IpAddr>,
    /// Cooked time the estimate refers to.
    pub ref_time: UnixTime,
    /// How far the clock was ahead of true time at `ref_time` (s).
    pub offset: f64,
    /// Standard deviation of `offset` (s).
    pub offset_sd: f64,
    /// Frequency error of the (corrected) clock, relative, positive = fast.
    pub frequency: f64,
    /// Standard deviation of `frequency` (relative).
    pub frequency_sd: f64,
    /// Skew: the frequency's error bound (relative).
    pub skew: f64,
    /// Root delay to the primary reference (s).
    pub root_delay: f64,
    /// Root dispersion at `ref_time` (s).
    pub root_dispersion: f64,
}

/// The synchronisation state and clock update policy.
///
/// Use: [`new`](Self::new), optionally
/// [`initial_frequency`](Self::initial_frequency) from the driftfile; then for
/// every selection result [`set_reference`](Self::set_reference) or
/// [`set_unsynchronised`](Self::set_unsynchronised). After each call drain
/// [`poll_action`](Self::poll_action), [`poll_notice`](Self::poll_notice) and
/// [`poll_event`](Self::poll_event); wake up at [`poll_timeout`](Self::poll_timeout)
/// for [`handle_timeout`](Self::handle_timeout). The server asks
/// [`server_params`](Self::server_params), cmdmon [`tracking_report`](Self::tracking_report).
#[derive(Debug, Clone)]
pub struct Reference {
    cfg: DisciplineConfig,
    clock: LocalClock,
    mode: RefMode,
    synchronised: bool,
    stratum: u8,
    ref_id: u32,
    ref_ip: Option<IpAddr>,
    /// Cooked reference time (fuzzed), None before the first update.
    ref_time: Option<UnixTime>,
    skew: f64,
    residual_freq: f64,
    root_delay: f64,
    root_dispersion: f64,
    offset_sd: f64,
    frequency_sd: f64,
    max_update_skew: f64,
    last_offset: f64,
    avg2_offset: f64,
    avg2_moving: bool,
    make_step: Option<MakeStep>,
    max_change: Option<MaxChange>,
    local: LocalMode,
    /// Raw time synchronisation was lost (shifted with steps).
    unsynchronised_since: UnixTime,
    /// Raw time of the last update (shifted with steps).
    last_ref_update: Option<UnixTime>,
    last_ref_update_interval: f64,
    /// `local` refclock adjustments since the last update (chrony's
    /// `ref_adjustments`).
    ref_adjustments: u32,
    /// Raw time of the last such adjustment.
    last_ref_adjustment: UnixTime,
    drift_file_age: f64,
    leap: LeapState,
    rng_state: Option<u64>,
    /// The correction pending at the previous update (tracking log).
    last_sys_offset: f64,
    /// `fallbackdrift`.
    fallback: Option<FallbackDrifts>,
}

impl Reference {
    /// A reference that is not synchronised, for a clock currently
    /// compensating `clock_frequency_ppm` (negated adjtimex frequency).
    pub fn new(cfg: DisciplineConfig, now: UnixTime, clock_frequency_ppm: f64) -> Self {
        let make_step = cfg.make_step.map(|mut m| {
            // chronyd -R: a restart must not step the clock again.
            if cfg.restarted && m.limit > 0 {
                m.limit = 0;
            }
            m
        });
        let mut r = Reference {
            clock: LocalClock::new(cfg.clock, now, clock_frequency_ppm),
            // Special modes start after the initial "unsynchronised" report.
            mode: RefMode::Normal,
            synchronised: false,
            stratum: 0,
            ref_id: REFID_UNSYNC,
            ref_ip: None,
            ref_time: None,
            skew: 1.0,
            residual_freq: 0.0,
            root_delay: 1.0,
            root_dispersion: 1.0,
            offset_sd: 0.0,
            frequency_sd: 0.0,
            max_update_skew: cfg.max_update_skew_ppm.abs() * 1e-6,
            last_offset: 0.0,
            avg2_offset: 0.0,
            avg2_moving: false,
            make_step,
            max_change: cfg.max_change,
            local: LocalMode::new(cfg.local),
            unsynchronised_since: now,
            last_ref_update: None,
            last_ref_update_interval: 0.0,
            ref_adjustments: 0,
            last_ref_adjustment: now,
            drift_file_age: 0.0,
            leap: LeapState::new(cfg.leap_mode),
            rng_state: cfg.ref_time_fuzz_seed,
            last_sys_offset: 0.0,
            fallback: cfg
                .fallback_drift
                .and_then(|(min, max)| FallbackDrifts::new(min, max)),
            cfg,
        };
        r.set_unsynchronised(now);
        r.mode = r.cfg.mode;
        r
    }

    /// Starts from a driftfile's frequency error and skew (ppm).
    pub fn initial_frequency(&mut self, now: UnixTime, frequency_ppm: f64, skew_ppm: f64) {
        self.skew = (skew_ppm * 1e-6).max(MIN_SKEW);
        self.with_clock(|c| c.set_absolute_frequency(now, frequency_ppm));
    }

    /// Sets the temperature compensation (ppm; see
    /// [`LocalClock::set_temp_comp`]).
    pub fn set_temp_comp(&mut self, now: UnixTime, comp_ppm: f64) {
        self.with_clock(|c| c.set_temp_comp(now, comp_ppm));
    }

    /// The values to write to the driftfile: frequency error and skew (ppm).
    pub fn driftfile_values(&self) -> (f64, f64) {
        (self.clock.frequency_ppm(), self.skew * 1e6)
    }

    /// The model of the disciplined clock (read only: adjustments go through
    /// the reference so it can follow them).
    pub fn clock(&self) -> &LocalClock {
        &self.clock
    }

    /// Whether the clock is synchronised to a real reference.
    pub fn is_synchronised(&self) -> bool {
        self.synchronised
    }

    /// The current mode.
    pub fn mode(&self) -> RefMode {
        self.mode
    }

    /// Switches mode (e.g. back to normal after `initstepslew`).
    pub fn set_mode(&mut self, mode: RefMode) {
        self.mode = mode;
    }

    /// Takes the combined estimate of the selected sources.
    pub fn set_reference(&mut self, now: UnixTime, u: &SyncUpdate) {
        if self.mode != RefMode::Normal {
            self.special_mode_sync(now, Some(u.offset));
            return;
        }
        let manual = u.leap == LeapStatus::Unsynchronised;
        let (uncorrected, _) = self.clock.offset_correction(now);
        let cooked = now.add_secs(uncorrected);
        // Carry the offset from the estimate's time to now.
        let offset = u.offset + cooked.diff_secs(u.ref_time) * u.frequency;
        let update_interval = self.last_ref_update.map_or(0.0, |t| now.diff_secs(t));
        let (frequency, skew, residual) = self.clock_estimates(manual, u.frequency, u.skew);
        if !self.is_offset_ok(offset) {
            return;
        }
        let orig_root_distance = self.root_delay / 2.0 + self.root_dispersion_at(cooked);

        self.synchronised = !manual;
        self.stratum = u.stratum.saturating_add(1);
        self.ref_id = u.ref_id;
        self.ref_ip = u.ref_ip;
        self.ref_time = Some(u.ref_time);
        self.skew = skew;
        self.residual_freq = residual;
        self.root_delay = u.root_delay;
        self.root_dispersion = u.root_dispersion;
        self.frequency_sd = u.frequency_sd;
        self.offset_sd = u.offset_sd;
        self.last_ref_update = Some(now);
        self.last_ref_update_interval = update_interval;
        self.last_offset = offset;
        self.ref_adjustments = 0;

        let now = self.correct_clock(now, offset, uncorrected, frequency, update_interval);
        let cooked = self.clock.cook(now);
        let near = self.leap.is_near(now, cooked);
        self.leap
            .update(u.leap, Some(now), near, false, &mut self.clock);
        self.update_sync_status(cooked);
        self.ref_time = self.ref_time.map(|t| t.add_secs(self.fuzz()));

        self.after_update(
            now,
            u,
            offset,
            uncorrected,
            orig_root_distance,
            update_interval,
        );
    }

    /// Takes an update from a manual reference (`settime`) or a local
    /// reference clock: not "synchronised", logged as MANU.
    pub fn set_manual_reference(
        &mut self,
        now: UnixTime,
        ref_time: UnixTime,
        offset: f64,
        frequency: f64,
        skew: f64,
    ) {
        let u = SyncUpdate {
            stratum: 0,
            leap: LeapStatus::Unsynchronised,
            combined_sources: 1,
            ref_id: REFID_MANUAL,
            ref_ip: None,
            ref_time,
            offset,
            offset_sd: 0.0,
            frequency,
            frequency_sd: skew,
            skew,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        self.set_reference(now, &u);
    }

    /// No source is selectable: we are not synchronised any more.
    pub fn set_unsynchronised(&mut self, now: UnixTime) {
        if self.mode != RefMode::Normal {
            self.special_mode_sync(now, None);
            return;
        }
        let (uncorrected, _) = self.clock.offset_correction(now);
        let cooked = now.add_secs(uncorrected);
        let near = self.leap.is_near(now, cooked);
        self.leap.update(
            LeapStatus::Unsynchronised,
            None,
            near,
            false,
            &mut self.clock,
        );
        self.schedule_fallback(now);
        self.ref_ip = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        self.stratum = 0;
        if self.synchronised {
            self.unsynchronised_since = now;
        }
        self.synchronised = false;
        self.clock.set_sync_status(false, 0.0, 0.0);
        let max_error = self.root_delay / 2.0 + self.root_dispersion_at(cooked);
        self.log_tracking(cooked, 0, 0.0, 0.0, uncorrected, max_error);
    }

    /// A new leap status from the sources between full updates.
    pub fn update_leap_status(&mut self, now: UnixTime, leap: LeapStatus) {
        if !self.synchronised {
            return;
        }
        let cooked = self.clock.cook(now);
        let near = self.leap.is_near(now, cooked);
        self.leap
            .update(leap, Some(now), near, false, &mut self.clock);
        self.update_sync_status(cooked);
    }

    /// Feeds a leap second known from a list or time zone data (`leapsectz`,
    /// `leapseclist`); used when the sources say "Normal" on its day.
    pub fn set_known_leap(&mut self, known: Option<KnownLeap>) {
        self.leap.set_known(known);
    }

    /// The TAI-UTC offsets of the leap second database, given to the kernel
    /// with the leap status in `leapsecmode system`.
    pub fn set_tai_offsets(&mut self, offsets: Vec<(i64, i32)>) {
        self.leap.set_tai_offsets(offsets);
    }

    /// Whether `now` is within ±5 s of a leap second (samples should be
    /// dropped: "Dropping sample around leap second").
    pub fn is_near_leap(&self, now: UnixTime) -> bool {
        self.leap.is_near(now, self.clock.cook(now))
    }

    /// Whether the current time or a sample at `sample_time` (with `offset`)
    /// is within ±5 s of a leap second.
    pub fn is_sample_near_leap(&self, now: UnixTime, sample_time: UnixTime, offset: f64) -> bool {
        self.is_near_leap(now) || self.leap.is_sample_near(sample_time, offset)
    }

    /// The stratum orphan mode gives selection (16 when orphan is off).
    pub fn orphan_stratum(&self) -> u8 {
        match (self.mode, self.local.orphan_stratum()) {
            (RefMode::Normal, Some(s)) => s,
            _ => MAX_STRATUM,
        }
    }

    /// chronyc `makestep`: step out the pending correction now.
    pub fn make_step(&mut self, now: UnixTime) -> bool {
        let mut ok = false;
        self.with_clock(|c| ok = c.make_step(now).is_ok());
        ok
    }

    /// A `local` refclock's correction of the clock between updates
    /// (chrony's `REF_AdjustReference`): `offset` (positive = ahead) and
    /// `dfreq` are applied without notices, at a rate from the offset and
    /// from the last update's offset SD. False if refused.
    pub fn adjust_reference(&mut self, now: UnixTime, offset: f64, dfreq: f64) -> bool {
        self.ref_adjustments += 1;
        let ratio = self.cfg.correction_time_ratio * 0.5;
        let adj_rate = ratio * offset.abs() * now.diff_secs(self.last_ref_adjustment);
        let ref_rate = ratio * self.offset_sd * self.last_ref_update_interval
            / f64::from(self.ref_adjustments);
        self.last_ref_adjustment = now;
        self.clock
            .accumulate_frequency_and_offset_quietly(now, dfreq, offset, adj_rate.max(ref_rate))
            .is_ok()
    }

    /// chronyc `doffset` (chrony's `LCL_AccumulateOffset` with the default
    /// rate): adds `offset` (positive = the clock is ahead) to the
    /// correction being slewed out. False, with nothing changed, when the
    /// corrected time would be out of range.
    pub fn accumulate_offset(&mut self, now: UnixTime, offset: f64) -> bool {
        let mut ok = false;
        self.with_clock(|c| ok = c.accumulate_offset(now, offset, 0.0).is_ok());
        ok
    }

    /// The driver saw the clock jump by itself (removing `offset`; `now` read
    /// after the jump): drop the pending correction and synchronisation.
    pub fn notify_external_step(&mut self, now: UnixTime, offset: f64, dispersion: f64) {
        self.with_clock(|c| c.notify_external_step(now, offset, dispersion));
    }

    /// chronyc `maxupdateskew`.
    pub fn set_max_update_skew(&mut self, ppm: f64) {
        self.max_update_skew = ppm * 1e-6;
        self.clock
            .push_event(DisciplineEvent::MaxUpdateSkewChanged { ppm });
    }

    /// chronyc `makestep THRESHOLD LIMIT`.
    pub fn set_make_step(&mut self, threshold: f64, limit: i32) {
        self.make_step = Some(MakeStep { threshold, limit });
        self.clock
            .push_event(DisciplineEvent::MakeStepChanged { threshold, limit });
    }

    /// chronyc `local ...` / `local off`.
    pub fn set_local(&mut self, local: Option<LocalConfig>) {
        let enabled = local.is_some();
        self.local.set(local);
        self.clock
            .push_event(DisciplineEvent::LocalModeChanged { enabled });
    }

    /// Before exiting: disarm a kernel leap and leave the clock running at
    /// the estimated frequency without a slew. The pending offset is
    /// dropped first, with the usual notice, so that the samples (and the
    /// dumps written from them) are again relative to the clock as it is
    /// left, as chronyd's `LCL_CancelOffsetCorrection` before its dumps.
    pub fn shutdown(&mut self, now: UnixTime) {
        self.clock.cancel_offset_correction(now);
        let near = self.is_near_leap(now);
        self.leap.update(
            LeapStatus::Unsynchronised,
            None,
            near,
            false,
            &mut self.clock,
        );
        self.clock.finish(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        let fallback = self
            .fallback
            .as_ref()
            .and_then(FallbackDrifts::poll_timeout);
        [
            self.clock.poll_timeout(),
            self.leap.poll_timeout(),
            fallback,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Ends or renews slews and runs the leap second timers.
    pub fn handle_timeout(&mut self, now: UnixTime) {
        self.with_clock(|c| c.handle_timeout(now));
        let start = self.clock.notice_count();
        self.leap.handle_timeout(now, &mut self.clock);
        self.follow_changes(start);
        if let Some(freq) = self.fallback.as_mut().and_then(|f| f.take_due(now)) {
            self.with_clock(|c| c.set_absolute_frequency(now, freq));
            self.set_unsynchronised(now);
        }
    }

    /// `fallbackdrift`: after an update or loss of synchronisation, applies
    /// or schedules the average for the time spent without updates.
    fn schedule_fallback(&mut self, now: UnixTime) {
        let (Some(fb), Some(last)) = (self.fallback.as_mut(), self.last_ref_update) else {
            return;
        };
        if let Some(freq) = fb.schedule(now, now.diff_secs(last)) {
            self.with_clock(|c| c.set_absolute_frequency(now, freq));
        }
    }

    /// The next adjustment to apply to the clock.
    pub fn poll_action(&mut self) -> Option<ClockAction> {
        self.clock.poll_action()
    }

    /// The next notice for every source's statistics.
    pub fn poll_notice(&mut self) -> Option<ClockNotice> {
        self.clock.poll_notice()
    }

    /// The next event to log or act upon.
    pub fn poll_event(&mut self) -> Option<DisciplineEvent> {
        self.clock.poll_event()
    }

    /// What the NTP server puts in its responses at raw time `now`.
    pub fn server_params(&mut self, now: UnixTime) -> ServerParams {
        let cooked = self.clock.cook(now);
        let (dispersion, since_update) = match (self.synchronised, self.ref_time) {
            (true, Some(rt)) => (self.root_dispersion_at(cooked), cooked.diff_secs(rt)),
            _ => (0.0, 0.0),
        };
        let distance = self.root_delay / 2.0 + dispersion;
        let unsynced_for = now.diff_secs(self.unsynchronised_since);
        match self
            .local
            .decide(self.synchronised, distance, since_update, unsynced_for)
        {
            Served::Real => ServerParams {
                synchronised: true,
                leap: if self.leap.in_progress {
                    LeapStatus::Unsynchronised
                } else {
                    self.leap.status
                },
                stratum: self.stratum,
                ref_id: self.ref_id,
                ref_time: self.ref_time.unwrap_or(UnixTime::EPOCH),
                root_delay: self.root_delay,
                root_dispersion: dispersion,
            },
            Served::Local => {
                let fuzz = self.fuzz();
                ServerParams {
                    synchronised: false,
                    leap: LeapStatus::Normal,
                    stratum: self.local.config().map_or(MAX_STRATUM, |c| c.stratum),
                    ref_id: REFID_LOCAL,
                    ref_time: self.local.ref_time(cooked, || fuzz),
                    root_delay: 0.0,
                    root_dispersion: 0.0,
                }
            }
            Served::Unsynchronised => ServerParams {
                synchronised: false,
                leap: LeapStatus::Unsynchronised,
                stratum: MAX_STRATUM,
                ref_id: REFID_UNSYNC,
                ref_time: UnixTime::EPOCH,
                root_delay: 1.0,
                root_dispersion: 1.0,
            },
        }
    }

    /// Everything `kronyc tracking` prints, at raw time `now`.
    pub fn tracking_report(&mut self, now: UnixTime) -> TrackingReport {
        let (correction, _) = self.clock.offset_correction(now);
        let p = self.server_params(now);
        let stratum = if p.stratum == MAX_STRATUM && !p.synchronised {
            0
        } else {
            p.stratum
        };
        TrackingReport {
            ref_id: p.ref_id,
            ref_ip: if p.synchronised { self.ref_ip } else { None },
            stratum,
            ref_time: p.ref_time,
            current_correction: correction,
            last_offset: self.last_offset,
            rms_offset: self.avg2_offset.sqrt(),
            frequency_ppm: self.clock.frequency_ppm(),
            residual_freq_ppm: if p.synchronised {
                self.residual_freq * 1e6
            } else {
                0.0
            },
            skew_ppm: if p.synchronised { self.skew * 1e6 } else { 0.0 },
            root_delay: p.root_delay,
            root_dispersion: p.root_dispersion,
            update_interval: self.last_ref_update_interval,
            leap: p.leap,
        }
    }

    /// The skew of our frequency estimate (relative).
    pub fn skew(&self) -> f64 {
        self.skew
    }

    // ---- internals ----

    /// Runs a clock operation and follows the changes it made.
    fn with_clock(&mut self, op: impl FnOnce(&mut LocalClock)) {
        let start = self.clock.notice_count();
        op(&mut self.clock);
        self.follow_changes(start);
    }

    /// Keeps our own times on the clock's time scale after changes.
    fn follow_changes(&mut self, start: usize) {
        let end = self.clock.notice_count();
        for i in start..end {
            let Some(ClockNotice::Changed(ch)) = self.clock.notice_at(i) else {
                continue;
            };
            if let Some(rt) = self.ref_time {
                self.ref_time = Some(adjust_time(rt, ch.cooked, ch.dfreq, ch.doffset).0);
            }
            if ch.kind == ChangeKind::Adjust {
                continue;
            }
            // The raw clock moved: so do raw times measured on it. (An
            // unknown step is reported with the raw time after it.)
            let shift = -ch.doffset;
            let after = if ch.kind == ChangeKind::Step {
                ch.raw.add_secs(shift)
            } else {
                ch.raw
            };
            if ch.kind == ChangeKind::Step {
                self.unsynchronised_since = self.unsynchronised_since.add_secs(shift);
                self.last_ref_update = self.last_ref_update.map(|t| t.add_secs(shift));
                if let Some(fb) = &mut self.fallback {
                    fb.shift(shift);
                }
            } else {
                self.last_ref_update = None;
                self.set_unsynchronised(after);
            }
            if self.leap.leap_sec != 0 && !self.leap.in_progress {
                let status = self.leap.status;
                self.leap
                    .update(status, Some(after), false, true, &mut self.clock);
            }
        }
    }
}

mod update;

#[cfg(test)]
mod tests;
