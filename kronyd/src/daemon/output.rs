//! What the engine's events become: message log lines (chrony's texts), the
//! driftfile, the `logdir` logs; and, at exit, the dump files.

use krony_config::Config;
use krony_engine::select::SourceId;
use krony_engine::{Engine, EngineEvent, UnixTime};

use crate::files::driftfile::Driftfile;
use crate::files::dump::{DumpDir, DumpSource, SourceState};
use crate::files::logfiles::{LogFiles, LogKind};
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
        let l = &config.log;
        for (on, name) in [
            (l.statistics, "statistics"),
            (l.selection, "selection"),
            (l.refclocks, "refclocks"),
            (l.tempcomp, "tempcomp"),
            (l.rtc, "rtc"),
        ] {
            if on {
                // The engine does not report these figures yet.
                log_event(
                    Severity::Warn,
                    format!("log {name} is not supported by kronyd yet (ignored)"),
                );
            }
        }
        Outputs {
            driftfile: config.driftfile.as_ref().map(|d| Driftfile::new(&d.path)),
            logs: LogFiles::from_config(config),
            dumpdir: config.dumpdir.as_ref().map(DumpDir::new),
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
            EngineEvent::Measurement(record) => {
                self.log_line(LogKind::Measurements, &record.to_log_line());
            }
            EngineEvent::ReplaceSource(id) => return Some(Request::ReplaceSource(id)),
            EngineEvent::Exit { success } => return Some(Request::Exit(u8::from(!success))),
        }
        None
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

    /// Writes a dump file per source with samples (at exit, `dumpdir`).
    pub fn dump_sources(&self, engine: &Engine, now: UnixTime) {
        let Some(dir) = &self.dumpdir else { return };
        for row in engine.sources(now) {
            let Some(src) = engine.source(row.id) else {
                continue;
            };
            let reach = src.reachability();
            let state = SourceState {
                authenticated: false,
                reach: reach.register,
                reach_size: reach.size,
                stratum: src.stratum(),
                leap: src.leap(),
            };
            let name = row.name.clone();
            let dump = DumpSource::Ntp {
                addr: row.addr.ip(),
                name: &name,
            };
            if let Err(e) = dir.save(&dump, &state, src.stats()) {
                log_event(e.severity(), e);
            }
        }
    }
}
