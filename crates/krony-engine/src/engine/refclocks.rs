//! Reference clocks in the engine (chrony's `refclock.c` glue): adding
//! them, cooking their drivers' samples and pulses, `lock`, the timer that
//! turns a poll's samples into one filtered sample, and the clock changes
//! they follow.

use std::collections::BTreeMap;

use krony_config::RefclockSpec;

use super::{Engine, EngineEvent};
use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::discipline::{ChangeKind, ClockChange, LogLevel};
use crate::refclock::{
    RefclockLogRecord, RefclockParams, RefclockSample, RefclockSource, Tick, pulse, ref_id_text,
    time_offset_sane,
};
use crate::select::{self, SelectOptions, SourceId};
use crate::stats::StatsParams;

/// One configured refclock.
#[derive(Debug, Clone)]
pub(super) struct RefSlot {
    pub(super) source: RefclockSource,
    /// The configured selection options (commands may change them).
    pub(super) options: SelectOptions,
    /// The refclock's line of the last selection round.
    pub(super) selection: Option<select::SourceReport>,
}

/// The engine's refclocks and what they need from the daemon.
#[derive(Debug, Clone, Default)]
pub(super) struct Refclocks {
    pub(super) slots: BTreeMap<SourceId, RefSlot>,
    /// TAI-UTC offsets from the leap second database: (UTC time the offset
    /// starts, offset), ascending.
    tai_offsets: Vec<(i64, i32)>,
    /// `log refclocks`.
    pub(super) log: bool,
}

impl Refclocks {
    /// The TAI-UTC offset at UTC time `t` (0 when unknown).
    fn tai_offset(&self, t: i64) -> i32 {
        crate::discipline::tai_offset_at(&self.tai_offsets, t)
    }
}

impl Engine {
    /// Adds the refclock of a `refclock` line; its timer starts with
    /// [`start_refclocks`](Self::start_refclocks). Refclocks are numbered
    /// in the order they are added (the default refid's digit).
    pub fn add_refclock(&mut self, spec: &RefclockSpec) -> SourceId {
        let index = self.refclocks.slots.len();
        let (params, warnings) = RefclockParams::from_spec(spec, index, self.cfg.precision);
        for w in warnings {
            self.events.push_back(EngineEvent::log(LogLevel::Warn, w));
        }
        let o = &spec.options;
        let stats = StatsParams {
            min_samples: o
                .minsamples
                .map_or(self.cfg.stats.min_samples, |n| n as usize),
            max_samples: o
                .maxsamples
                .map_or(self.cfg.stats.max_samples, |n| n as usize),
            ..StatsParams::refclock(self.cfg.precision)
        };
        let options = params.select;
        let source = RefclockSource::new(params, stats);
        let id = SourceId(self.next_id);
        self.next_id += 1;
        self.refclocks.slots.insert(
            id,
            RefSlot {
                source,
                options,
                selection: None,
            },
        );
        id
    }

    /// Starts every refclock's timer (at raw time `now`) and resolves the
    /// `lock` refids, as chronyd's `RCL_StartRefclocks`.
    pub fn start_refclocks(&mut self, now: UnixTime) {
        let by_ref: Vec<(SourceId, u32, bool, i8)> = self
            .refclocks
            .slots
            .iter()
            .map(|(id, s)| {
                let p = s.source.params();
                (*id, p.ref_id, p.driver_polls, p.driver_poll)
            })
            .collect();
        let mut messages = Vec::new();
        for (id, slot) in &mut self.refclocks.slots {
            slot.source.start(now);
            let p = slot.source.params().clone();
            let Some(lock) = p.lock_ref_id else {
                continue;
            };
            let target = by_ref.iter().find(|(_, r, _, _)| *r == lock);
            if let Some((_, _, polls, dpoll)) = target {
                let age = f64::from(p.max_lock_age) / f64::from(p.rate);
                if p.driver_polls && *polls && age < 2f64.powi(i32::from(*dpoll)) {
                    messages.push(format!(
                        "{} maxlockage too small for {}",
                        ref_id_text(p.ref_id),
                        ref_id_text(lock)
                    ));
                }
            }
            let target = target.map(|t| t.0);
            if target.is_none() || (target == Some(*id) && !p.local) {
                messages.push(format!("Invalid lock refid {}", ref_id_text(lock)));
            }
            slot.source.set_lock(target);
        }
        for m in messages {
            self.events.push_back(EngineEvent::log(LogLevel::Warn, m));
        }
    }

    /// The ids of the refclocks, in order.
    pub fn refclock_ids(&self) -> Vec<SourceId> {
        self.refclocks.slots.keys().copied().collect()
    }

    /// A refclock, to read its state.
    pub fn refclock(&self, id: SourceId) -> Option<&RefclockSource> {
        self.refclocks.slots.get(&id).map(|s| &s.source)
    }

    /// The TAI-UTC offsets of the leap second database (for `tai`): pairs
    /// of the UTC time an offset starts and the offset, ascending.
    pub fn set_tai_offsets(&mut self, offsets: Vec<(i64, i32)>) {
        self.reference.set_tai_offsets(offsets.clone());
        self.refclocks.tai_offsets = offsets;
    }

    /// The refclocks whose drivers must be polled before
    /// [`handle_timeout`](Self::handle_timeout) at raw time `now`: read
    /// them and pass what they give to [`handle_refclock_sample`](Self::handle_refclock_sample)
    /// or [`handle_refclock_pulse`](Self::handle_refclock_pulse) first.
    pub fn due_refclock_polls(&self, now: UnixTime) -> Vec<SourceId> {
        self.refclocks
            .slots
            .iter()
            .filter(|(_, s)| s.source.driver_poll_due(now))
            .map(|(id, _)| *id)
            .collect()
    }

    /// A driver's sample (chronyd's `RCL_AddSample`) at raw time `now`;
    /// false if it was not accepted.
    pub fn handle_refclock_sample(
        &mut self,
        now: UnixTime,
        id: SourceId,
        s: RefclockSample,
    ) -> bool {
        let Some(slot) = self.refclocks.slots.get(&id) else {
            return false;
        };
        let p = slot.source.params();
        if p.pps_forced {
            let second = (i64::from(s.sys_time.subsec_nanos())
                - i64::from(s.ref_time.subsec_nanos())) as f64
                * 1e-9;
            return self.handle_refclock_pulse(now, id, s.sys_time, second);
        }
        let raw_offset = s.ref_time.diff_secs(s.sys_time);
        let (correction, clock_err) = self.reference.clock().offset_correction(s.sys_time);
        let cooked_time = s.sys_time.add_secs(correction);
        let dispersion = clock_err + p.precision;
        if !time_offset_sane(s.sys_time, raw_offset)
            || !slot.source.valid_sample_time(self.cook(now), cooked_time)
        {
            return false;
        }
        let leap = match s.leap {
            0 => LeapStatus::Normal,
            1 => LeapStatus::InsertSecond,
            2 => LeapStatus::DeleteSecond,
            _ => return false,
        };
        // The integer nanoseconds keep the precision of large offsets.
        let mut offset =
            (s.ref_time.as_nanos() - s.sys_time.as_nanos()) as f64 * 1e-9 - correction + p.offset;
        if p.tai {
            let tai_time = s.sys_time.add_secs(offset);
            let approx = self.refclocks.tai_offset(tai_time.secs());
            let tai = self
                .refclocks
                .tai_offset(tai_time.secs() - i64::from(approx));
            if tai == 0 {
                return false;
            }
            offset -= f64::from(tai);
        }
        let slot = self.refclocks.slots.get_mut(&id);
        let Some(slot) = slot else { return false };
        if !slot
            .source
            .accumulate(cooked_time, offset, dispersion, leap, false)
        {
            return false;
        }
        self.log_refclock_sample(id, cooked_time, false, raw_offset, offset, dispersion);
        true
    }

    /// A pulse at raw time `pulse_time` that came `second` seconds after
    /// the start of the reference's second, as the driver saw it (chronyd's
    /// `RCL_AddPulse`); false if it was not accepted.
    pub fn handle_refclock_pulse(
        &mut self,
        now: UnixTime,
        id: SourceId,
        pulse_time: UnixTime,
        second: f64,
    ) -> bool {
        let (correction, dispersion) = self.reference.clock().offset_correction(pulse_time);
        if !time_offset_sane(pulse_time, 0.0) {
            return false;
        }
        let cooked = pulse_time.add_secs(correction);
        self.handle_refclock_cooked_pulse(
            now,
            id,
            cooked,
            second + correction,
            dispersion,
            correction,
        )
    }

    /// A pulse already on the cooked time scale (chronyd's
    /// `RCL_AddCookedPulse`): `second` as for
    /// [`handle_refclock_pulse`](Self::handle_refclock_pulse) plus the
    /// correction, `raw_correction` what was added to the raw time (for
    /// the log).
    pub fn handle_refclock_cooked_pulse(
        &mut self,
        now: UnixTime,
        id: SourceId,
        cooked_time: UnixTime,
        second: f64,
        dispersion: f64,
        raw_correction: f64,
    ) -> bool {
        let cooked_now = self.cook(now);
        let Some(slot) = self.refclocks.slots.get(&id) else {
            return false;
        };
        if !time_offset_sane(cooked_time, second)
            || !slot.source.valid_sample_time(cooked_now, cooked_time)
        {
            return false;
        }
        let p = slot.source.params().clone();
        let dispersion = dispersion + p.precision;
        let offset = pulse::fold_offset(-second + p.offset, p.rate);
        let accepted = match slot.source.lock() {
            Some(lock) => self.locked_pulse(id, lock, &p, cooked_time, offset, dispersion),
            None => self.unlocked_pulse(now, id, &p, offset),
        };
        let Some((offset, leap)) = accepted else {
            return false;
        };
        let Some(slot) = self.refclocks.slots.get_mut(&id) else {
            return false;
        };
        if !slot
            .source
            .accumulate(cooked_time, offset, dispersion, leap, true)
        {
            return false;
        }
        let raw = offset + raw_correction - p.offset;
        self.log_refclock_sample(id, cooked_time, true, raw, offset, dispersion);
        true
    }

    /// A pulse of a refclock locked to `lock`: its whole seconds come from
    /// the reference's last sample. Returns the offset and leap status.
    fn locked_pulse(
        &mut self,
        id: SourceId,
        lock: SourceId,
        p: &RefclockParams,
        cooked_time: UnixTime,
        offset: f64,
        dispersion: f64,
    ) -> Option<(f64, LeapStatus)> {
        let reference = self.refclocks.slots.get(&lock)?;
        let (ref_time, ref_offset, ref_disp) = match reference.source.filter().last_sample() {
            Some(s) => (s.time, s.offset, s.root_dispersion),
            // A local refclock locks to itself from its first pulse.
            None if p.local => (cooked_time, offset, 0.0),
            None => return None,
        };
        let ref_disp = ref_disp + reference.source.filter().avg_sample_dispersion();
        let ref_leap = reference.source.leap();
        let rate = f64::from(p.rate);
        if cooked_time.diff_secs(ref_time).abs() >= f64::from(p.max_lock_age) / rate {
            if p.local {
                self.events
                    .push_back(EngineEvent::log(LogLevel::Warn, "Local refclock lost lock"));
                if let Some(slot) = self.refclocks.slots.get_mut(&id) {
                    slot.source.drop_samples();
                    slot.source.stats_mut().reset();
                }
            }
            return None;
        }
        let offset = pulse::align_to_reference(offset, ref_offset, p.rate);
        if !pulse::lock_agrees(offset, ref_offset, ref_disp, dispersion, p.rate)
            || !pulse::edge_ok(p.pulse_width, p.rate, ref_offset - offset, 0.0)
        {
            return None;
        }
        Some((offset, ref_leap))
    }

    /// A pulse without `lock`: the seconds come from the system clock, so
    /// it must be synchronised to within half a pulse interval.
    fn unlocked_pulse(
        &mut self,
        now: UnixTime,
        id: SourceId,
        p: &RefclockParams,
        offset: f64,
    ) -> Option<(f64, LeapStatus)> {
        let params = self.reference.server_params(now);
        let leap = params.leap;
        let distance = params.root_delay.abs() / 2.0 + params.root_dispersion;
        if params.leap == LeapStatus::Unsynchronised || distance >= 0.5 / f64::from(p.rate) {
            if let Some(slot) = self.refclocks.slots.get_mut(&id) {
                slot.source.drop_samples();
            }
            return None;
        }
        if !pulse::edge_ok(p.pulse_width, p.rate, offset, distance) {
            return None;
        }
        Some((offset, leap))
    }

    /// The `refclocks` log line of a driver's sample.
    fn log_refclock_sample(
        &mut self,
        id: SourceId,
        time: UnixTime,
        pulse: bool,
        raw_offset: f64,
        cooked_offset: f64,
        dispersion: f64,
    ) {
        if !self.refclocks.log {
            return;
        }
        let Some(slot) = self.refclocks.slots.get(&id) else {
            return;
        };
        let record = RefclockLogRecord {
            time,
            ref_id: ref_id_text(slot.source.ref_id()),
            raw: Some((slot.source.driver_polled(), pulse)),
            leap: slot.source.leap(),
            raw_offset,
            cooked_offset,
            dispersion,
        };
        self.events
            .push_back(EngineEvent::RefclockLog(Box::new(record)));
    }

    /// The earliest refclock timer, raw (chronyd's scheduler runs on the
    /// raw clock: a poll is 2^poll seconds of it, whatever is slewed).
    pub(super) fn refclock_deadline(&self) -> Option<UnixTime> {
        self.refclocks
            .slots
            .values()
            .filter_map(|s| s.source.poll_timeout())
            .min()
    }

    /// Runs the refclock timers due at raw time `now`.
    pub(super) fn refclock_timeouts(&mut self, now: UnixTime) {
        let due: Vec<SourceId> = self
            .refclocks
            .slots
            .iter()
            .filter(|(_, s)| s.source.poll_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let tick = match self.refclocks.slots.get_mut(&id) {
                Some(slot) => slot.source.tick(now),
                None => continue,
            };
            match tick {
                Tick::Waiting => {}
                Tick::NoSample => {
                    if let Some(slot) = self.refclocks.slots.get_mut(&id) {
                        slot.source.update_reachability(false);
                    }
                    if self.selector.selected() == Some(id) {
                        self.select(now, None);
                    }
                }
                Tick::Filtered(sample) => self.refclock_filtered(now, id, &sample),
            }
        }
    }

    /// A poll's filtered sample: into the statistics, then selection.
    fn refclock_filtered(&mut self, now: UnixTime, id: SourceId, sample: &crate::stats::Sample) {
        let stratum = self.refclock_stratum(now, id, sample.time);
        let near_leap = self
            .reference
            .is_sample_near_leap(now, sample.time, sample.offset);
        if near_leap {
            self.events.push_back(EngineEvent::log(
                LogLevel::Info,
                "Dropping sample around leap second",
            ));
        }
        let Some(slot) = self.refclocks.slots.get_mut(&id) else {
            return;
        };
        let local_before = slot
            .source
            .params()
            .local
            .then(|| slot.source.local_stats())
            .flatten();
        slot.source.accumulate_filtered(sample, stratum, near_leap);
        let regression = slot.source.stats_mut().take_regression();
        let ref_id = slot.source.ref_id();
        let leap = slot.source.leap();
        if self.cfg.log_statistics {
            if let Some((time, info)) = regression {
                let record = super::StatisticsRecord {
                    id,
                    addr: std::net::IpAddr::V4(ref_id.into()),
                    time,
                    info,
                };
                self.events
                    .push_back(EngineEvent::Statistics(Box::new(record)));
            }
        }
        self.select(now, Some(id));
        if let Some(before) = local_before {
            self.follow_local(now, id, before);
        }
        if self.refclocks.log {
            let record = RefclockLogRecord {
                time: sample.time,
                ref_id: ref_id_text(ref_id),
                raw: None,
                leap,
                raw_offset: 0.0,
                cooked_offset: sample.offset,
                dispersion: sample.peer_dispersion,
            };
            self.events
                .push_back(EngineEvent::RefclockLog(Box::new(record)));
        }
    }

    /// A `local` refclock steers the clock between updates by the change
    /// of its own regression (chronyd's `follow_local`), then moves its
    /// samples with the clock.
    fn follow_local(&mut self, now: UnixTime, id: SourceId, before: (UnixTime, f64, f64)) {
        let (prev_time, prev_freq, prev_offset) = before;
        let Some((time, freq, offset)) = self
            .refclocks
            .slots
            .get(&id)
            .and_then(|s| s.source.local_stats())
        else {
            return;
        };
        let dfreq = (freq - prev_freq) / (1.0 - prev_freq);
        let doffset = offset - time.diff_secs(prev_time) * prev_freq - prev_offset;
        if !self.reference.adjust_reference(now, doffset, dfreq) {
            return;
        }
        self.drain_reference(now);
        let cooked = self.cook(now);
        if let Some(slot) = self.refclocks.slots.get_mut(&id) {
            slot.source
                .follow_local_change(cooked, dfreq, doffset, offset);
        }
    }

    /// The stratum of a filtered sample: the configured one, except for an
    /// unlocked PPS refclock (chronyd's `pps_stratum`), which takes ours
    /// minus one when it, another unlocked PPS refclock or the local
    /// reference is what we are synchronised to, and 0 otherwise.
    fn refclock_stratum(&mut self, now: UnixTime, id: SourceId, _time: UnixTime) -> u8 {
        let Some(slot) = self.refclocks.slots.get(&id) else {
            return 0;
        };
        let src = &slot.source;
        if !(src.pps_active() && src.lock().is_none()) {
            return src.params().stratum;
        }
        let own = src.ref_id();
        let p = self.reference.server_params(now);
        let local_active = !p.synchronised && p.leap != LeapStatus::Unsynchronised;
        let via_pps = self.refclocks.slots.values().any(|s| {
            s.source.ref_id() == p.ref_id && s.source.pps_active() && s.source.lock().is_none()
        });
        if p.ref_id == own || local_active || via_pps {
            p.stratum.saturating_sub(1)
        } else {
            0
        }
    }

    /// A refclock's statistics (to load its dump into).
    pub(super) fn refclock_stats_mut(
        &mut self,
        id: SourceId,
    ) -> Option<&mut crate::stats::SourceStats> {
        self.refclocks
            .slots
            .get_mut(&id)
            .map(|s| s.source.stats_mut())
    }

    /// What a refclock's dump file stores.
    pub(super) fn refclock_dump_state(&self, id: SourceId) -> Option<super::SourceDumpState> {
        let r = &self.refclocks.slots.get(&id)?.source;
        let reach = r.reachability();
        Some(super::SourceDumpState {
            authenticated: false,
            reach: reach.register,
            reach_size: reach.size,
            stratum: r.stratum(),
            leap: r.status_leap(),
        })
    }

    /// Restores a refclock's state from its dump file.
    pub(super) fn restore_refclock_state(&mut self, id: SourceId, state: &super::SourceDumpState) {
        if let Some(slot) = self.refclocks.slots.get_mut(&id) {
            slot.source
                .restore(state.reach, state.reach_size, state.stratum, state.leap);
        }
    }

    /// Follows a clock change (the reference's notices).
    pub(super) fn refclocks_follow_change(&mut self, ch: &ClockChange) {
        for slot in self.refclocks.slots.values_mut() {
            if ch.kind == ChangeKind::UnknownStep {
                slot.source.reset_after_unknown_step();
            } else {
                slot.source.slew_times(ch.cooked, ch.dfreq, ch.doffset);
            }
            if ch.kind == ChangeKind::Step {
                // The raw clock moved back by `doffset`: so do raw timers.
                slot.source.shift_timer(-ch.doffset);
            }
        }
    }

    /// Adds dispersion to every refclock's filter and statistics.
    pub(super) fn refclocks_add_dispersion(&mut self, d: f64) {
        for slot in self.refclocks.slots.values_mut() {
            slot.source.add_dispersion(d);
        }
    }
}
