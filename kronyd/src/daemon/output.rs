//! What the engine's events become: message log lines (chrony's texts), the
//! driftfile, the `logdir` logs; and, at exit, the dump files.

use krony_config::Config;
use krony_engine::engine::SourceDumpState;
use krony_engine::select::SourceId;
use krony_engine::{Engine, EngineEvent, UnixTime};

use super::mail::Mailer;
use crate::files::driftfile::Driftfile;
use crate::files::dump::{DumpDir, DumpSource, LoadError, SourceState, ip_text, loaded_message};
use crate::files::leapdb::LeapDb;
use crate::files::logfiles::{LogFiles, LogKind};
use crate::files::loglines::{SelectionLogLine, StatisticsLogLine};
use crate::files::{DIR_MODE, create_dir_and_parents};
use crate::logging::{Severity, log_event};

/// What the loop must do about an event the outputs cannot handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Replace this source (a pool member).
    ReplaceSource(SourceId),
    /// Exit with this status.
    Exit(u8),
}

/// The files the engine's events are written to.
#[derive(Debug)]
pub struct Outputs {
    driftfile: Option<Driftfile>,
    logs: LogFiles,
    dumpdir: Option<DumpDir>,
    /// Until the first name resolution has ended: whether dumps are then
    /// loaded (`-r`).
    resolving_end: Option<bool>,
    /// `leapseclist` or `leapsectz`.
    leapdb: Option<LeapDb>,
    /// Refclocks' refids as text, for the logs.
    refclock_names: Vec<(SourceId, String)>,
    /// `mailonchange`.
    mailer: Option<Mailer>,
}

impl Outputs {
    /// The driftfile, logs and dump directory of `config`. The log and dump
    /// directories are created (0750) if missing.
    pub fn from_config(config: &Config) -> Self {
        for dir in [&config.logdir, &config.dumpdir].into_iter().flatten() {
            if let Err(e) = create_dir_and_parents(std::path::Path::new(dir), DIR_MODE, None) {
                log_event(e.severity(), e);
            }
        }
        Outputs {
            driftfile: config.driftfile.as_ref().map(|d| Driftfile::new(&d.path)),
            logs: LogFiles::from_config(config),
            dumpdir: config.dumpdir.as_ref().map(DumpDir::new),
            resolving_end: Some(false),
            leapdb: LeapDb::from_config(config),
            refclock_names: Vec::new(),
            mailer: Mailer::from_config(config),
        }
    }

    /// Tells the engine of the next leap second of `leapseclist` or
    /// `leapsectz` when it changed (at start, after a leap, when the list
    /// file changed).
    pub fn update_known_leap(&mut self, engine: &mut Engine, now: UnixTime) {
        if let Some(db) = &mut self.leapdb {
            if let Some(known) = db.update(engine.cook(now).secs()) {
                engine.set_known_leap(known);
                engine.set_tai_offsets(db.tai_changes());
            }
        }
    }

    /// `-r`: load the dump files once the sources' names are resolved.
    pub fn set_reload_dumps(&mut self, reload: bool) {
        if let Some(r) = &mut self.resolving_end {
            *r = reload;
        }
    }

    /// Runs [`resolving_end`](Self::resolving_end) once, when the first
    /// lookup of every configured name has ended (`first_lookups_done`).
    pub fn after_resolving(
        &mut self,
        first_lookups_done: bool,
        engine: &mut Engine,
        now: UnixTime,
    ) {
        if first_lookups_done {
            if let Some(reload) = self.resolving_end.take() {
                self.resolving_end(engine, now, reload);
            }
        }
    }

    /// The driftfile, if configured.
    pub fn driftfile(&self) -> Option<&Driftfile> {
        self.driftfile.as_ref()
    }

    /// `cyclelogs`.
    pub fn cycle_logs(&mut self) {
        self.logs.cycle();
    }

    /// Handles one event; returns what only the loop can do.
    pub fn handle(&mut self, event: EngineEvent) -> Option<Request> {
        match event {
            EngineEvent::Log(m) => log_event(m.level, &m.text),
            EngineEvent::WriteDriftfile {
                frequency_ppm,
                skew_ppm,
            } => self.write_driftfile(frequency_ppm, skew_ppm),
            EngineEvent::TrackingLog(line) => self.log_line(LogKind::Tracking, &line.to_string()),
            EngineEvent::TempCompLog(line) => self.log_line(LogKind::TempComp, &line.to_string()),
            EngineEvent::RtcLog(line) => self.log_line(LogKind::Rtc, &line.to_string()),
            EngineEvent::MailChange { offset } => {
                if let Some(m) = &self.mailer {
                    m.send(offset, crate::sys::clock::realtime_now().secs());
                }
            }
            EngineEvent::Measurement(record) => {
                self.log_line(LogKind::Measurements, &record.to_log_line());
            }
            EngineEvent::RefclockLog(r) => self.log_line(LogKind::Refclocks, &r.to_log_line()),
            EngineEvent::Statistics(r) => {
                let addr = self.source_text(r.id, &r.addr);
                let line = StatisticsLogLine {
                    time: r.time,
                    source: &addr,
                    info: r.info,
                };
                self.log_line(LogKind::Statistics, &line.to_string());
            }
            EngineEvent::Selection(r) => {
                let addr = self.source_text(r.id, &r.addr);
                let line = SelectionLogLine {
                    time: r.time,
                    source: &addr,
                    state: r.state,
                    options: r.options,
                    reach: r.reach,
                    score: r.score,
                    last_sample_ago: r.last_sample_ago,
                    lo: r.lo,
                    hi: r.hi,
                };
                self.log_line(LogKind::Selection, &line.to_string());
            }
            EngineEvent::ReplaceSource(id) => return Some(Request::ReplaceSource(id)),
            EngineEvent::Exit { success } => return Some(Request::Exit(u8::from(!success))),
        }
        None
    }

    /// Names refclocks by their refid in the statistics and selection logs.
    pub fn set_refclock_names(&mut self, names: Vec<(SourceId, String)>) {
        self.refclock_names = names;
    }

    /// A source's address as the logs print it, or a refclock's refid.
    fn source_text(&self, id: SourceId, addr: &std::net::IpAddr) -> String {
        match self.refclock_names.iter().find(|(r, _)| *r == id) {
            Some((_, name)) => name.clone(),
            None => ip_text(addr),
        }
    }

    /// Writes the driftfile (every `interval`, and at exit).
    pub fn write_driftfile(&mut self, frequency_ppm: f64, skew_ppm: f64) {
        if let Some(d) = &self.driftfile {
            if let Err(e) = d.write(frequency_ppm, skew_ppm) {
                log_event(e.severity(), e);
            }
        }
    }

    fn log_line(&mut self, kind: LogKind, line: &str) {
        if let Err(e) = self.logs.write(kind, line) {
            log_event(e.severity(), e);
        }
    }

    /// Writes a dump file per source with samples (`dump` command and at
    /// exit, `dumpdir`).
    pub fn dump_sources(&self, engine: &Engine, now: UnixTime) {
        let Some(dir) = &self.dumpdir else { return };
        for row in engine.sources(now) {
            let stats = match engine.source(row.id) {
                Some(src) => src.stats(),
                None => match engine.refclock(row.id) {
                    Some(r) => r.stats(),
                    None => continue,
                },
            };
            let Some(s) = engine.source_dump_state(row.id) else {
                continue;
            };
            let state = SourceState {
                authenticated: s.authenticated,
                reach: s.reach,
                reach_size: s.reach_size,
                stratum: s.stratum,
                leap: s.leap,
            };
            let dump = dump_source(&row);
            if let Err(e) = dir.save(&dump, &state, stats) {
                log_event(e.severity(), e);
            }
        }
    }

    /// chronyd's end of the first name resolution: with `-r` every
    /// source's dump is loaded ("Loaded dump file for ...", an invalid one
    /// is reported and ignored) and selection runs; then the dump files
    /// are removed, with or without `-r`, so that stale ones are never
    /// loaded later.
    pub fn resolving_end(&self, engine: &mut Engine, now: UnixTime, reload: bool) {
        let Some(dir) = &self.dumpdir else { return };
        if reload {
            let cooked = engine.cook(now);
            for row in engine.sources(now) {
                let dump = dump_source(&row);
                load_one(dir, engine, row.id, &dump, cooked);
            }
            engine.finish_reload(now);
        }
        for e in dir.remove_all() {
            log_event(e.severity(), e);
        }
    }
}

/// The dump file of a `sources` row: by address, or by refid for a
/// refclock (`refid:XXXXXXXX.dat`).
fn dump_source(row: &krony_engine::engine::SourceRow) -> DumpSource<'_> {
    match row.addr.ip() {
        std::net::IpAddr::V4(v4) if row.refclock => DumpSource::Refclock {
            ref_id: u32::from(v4),
        },
        ip => DumpSource::Ntp {
            addr: ip,
            name: &row.name,
        },
    }
}

/// Loads the dump of one source into the engine.
fn load_one(
    dir: &DumpDir,
    engine: &mut Engine,
    id: SourceId,
    dump: &DumpSource<'_>,
    cooked: UnixTime,
) {
    let Some(authenticated) = engine.source_dump_state(id).map(|s| s.authenticated) else {
        return;
    };
    let Some(stats) = engine.source_stats_mut(id) else {
        return;
    };
    match dir.load(dump, authenticated, stats, cooked) {
        Ok(s) => {
            let state = SourceDumpState {
                authenticated: s.authenticated,
                reach: s.reach,
                reach_size: s.reach_size,
                stratum: s.stratum,
                leap: s.leap,
            };
            engine.restore_source_state(id, &state);
            log_event(Severity::Info, loaded_message(dump));
        }
        Err(e) => {
            if let LoadError::Invalid { reason, .. } = &e {
                log_event(Severity::Debug, format!("{}: {reason}", e));
            }
            log_event(e.severity(), e);
        }
    }
}
