//! chronyc's commands that change sources and the discipline at run time.

use super::{Engine, EngineError, EngineEvent};
use crate::UnixTime;
use crate::discipline::{LocalConfig, LogLevel};
use crate::select::{SelectOptions, SourceId};
use crate::source::Connectivity;

/// A command for one source (chronyc `online`, `burst`, `minpoll`, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SourceCommand {
    /// `online`.
    Online,
    /// `offline`.
    Offline,
    /// `burst GOOD/TOTAL`.
    Burst {
        /// Good samples wanted.
        good: i32,
        /// Requests at most.
        total: i32,
    },
    /// `minpoll N`.
    MinPoll(i32),
    /// `maxpoll N`.
    MaxPoll(i32),
    /// `maxdelay S`.
    MaxDelay(f64),
    /// `maxdelayratio R`.
    MaxDelayRatio(f64),
    /// `maxdelaydevratio R`.
    MaxDelayDevRatio(f64),
    /// `minstratum N`.
    MinStratum(i32),
    /// `polltarget N`.
    PollTarget(i32),
    /// `offset S`.
    Offset(f64),
    /// `selectopts`: set the options in `mask` to those in `options`.
    SelectOptions {
        /// The options to change.
        mask: SelectOptions,
        /// Their new values.
        options: SelectOptions,
    },
}

impl Engine {
    /// Applies a command to a source at raw time `now`.
    ///
    /// # Errors
    /// [`EngineError::UnknownSource`].
    pub fn source_command(
        &mut self,
        now: UnixTime,
        id: SourceId,
        cmd: SourceCommand,
    ) -> Result<(), EngineError> {
        let cooked = self.cook(now);
        let slot = self
            .sources
            .get_mut(&id)
            .ok_or(EngineError::UnknownSource)?;
        let s = &mut slot.source;
        match cmd {
            SourceCommand::Online => s.set_connectivity(cooked, Connectivity::Online),
            SourceCommand::Offline => s.set_connectivity(cooked, Connectivity::Offline),
            SourceCommand::Burst { good, total } => s.initiate_burst(cooked, good, total),
            SourceCommand::MinPoll(v) => s.modify_minpoll(v),
            SourceCommand::MaxPoll(v) => s.modify_maxpoll(v),
            SourceCommand::MaxDelay(v) => s.modify_maxdelay(v),
            SourceCommand::MaxDelayRatio(v) => s.modify_maxdelayratio(v),
            SourceCommand::MaxDelayDevRatio(v) => s.modify_maxdelaydevratio(v),
            SourceCommand::MinStratum(v) => s.modify_minstratum(v),
            SourceCommand::PollTarget(v) => s.modify_polltarget(v),
            SourceCommand::Offset(v) => s.modify_offset(v),
            SourceCommand::SelectOptions { mask, options } => {
                let o = &mut slot.options;
                let pick = |m: bool, new: bool, old: bool| if m { new } else { old };
                let new = SelectOptions {
                    noselect: pick(mask.noselect, options.noselect, o.noselect),
                    prefer: pick(mask.prefer, options.prefer, o.prefer),
                    trust: pick(mask.trust, options.trust, o.trust),
                    require: pick(mask.require, options.require, o.require),
                };
                // As chronyd: the next selection round uses them; no
                // reselection now.
                if new != *o {
                    *o = new;
                    let ip = s.remote().ip();
                    self.events.push_back(EngineEvent::log(
                        LogLevel::Info,
                        format!("Source {ip} selection options modified"),
                    ));
                }
            }
        }
        self.drain_source(now, id);
        Ok(())
    }

    /// chronyc `makestep`: step out the offset still being slewed. Returns
    /// whether the clock could be stepped.
    pub fn make_step(&mut self, now: UnixTime) -> bool {
        let ok = self.reference.make_step(now);
        self.drain_reference(now);
        ok
    }

    /// chronyc `makestep THRESHOLD LIMIT`.
    pub fn set_make_step(&mut self, now: UnixTime, threshold: f64, limit: i32) {
        self.reference.set_make_step(threshold, limit);
        self.drain_reference(now);
    }

    /// chronyc `maxupdateskew PPM`.
    pub fn set_max_update_skew(&mut self, now: UnixTime, ppm: f64) {
        self.reference.set_max_update_skew(ppm);
        self.drain_reference(now);
    }

    /// chronyc `local ...` / `local off`.
    pub fn set_local(&mut self, now: UnixTime, local: Option<LocalConfig>) {
        self.reference.set_local(local);
        self.drain_reference(now);
    }

    /// chronyc `reselect`: choose the best source afresh.
    pub fn reselect(&mut self, now: UnixTime) {
        self.selector.reselect();
        self.select(now, None);
    }

    /// chronyc `reselectdist D`.
    pub fn set_reselect_distance(&mut self, now: UnixTime, distance: f64) {
        if self.cfg.select.reselect_distance != distance {
            self.cfg.select.reselect_distance = distance;
            self.events.push_back(EngineEvent::log(
                LogLevel::Info,
                format!("New reselect distance {distance:.6}"),
            ));
        }
        self.select(now, None);
    }

    /// The driver saw the clock jump by itself, removing `offset` seconds
    /// (positive: time went back); `now` is read after the jump.
    pub fn notify_external_step(&mut self, now: UnixTime, offset: f64, dispersion: f64) {
        self.reference.notify_external_step(now, offset, dispersion);
        self.drain_reference(now);
    }
}
