//! `initstepslew THRESHOLD HOST...` (chronyd's `main.c` and `conf.c`): at
//! start the hosts are measured as servers with `iburst`; the first
//! estimate is stepped (at least THRESHOLD seconds) or slewed by the
//! engine's `InitStepSlew` mode; two seconds after the mode ended, with or
//! without a measurement, the hosts are removed and the configured sources
//! start. `-R` skips it.

use std::net::{IpAddr, SocketAddr};

use krony_config::{InitStepSlew, SourceKind, SourceOptions};
use krony_engine::discipline::RefMode;
use krony_engine::select::SourceId;
use krony_engine::{Engine, UnixTime};

use crate::logging::{Severity, log_event};
use crate::resolver::{self, Family};

/// chronyd waits this long after the mode ended before the configured
/// sources start, so that a server also used by initstepslew is not polled
/// sooner than its burst interval.
const END_DELAY: f64 = 2.0;

/// The measuring phase of `initstepslew`.
#[derive(Debug, Clone, PartialEq)]
pub struct InitPhase {
    addrs: Vec<IpAddr>,
    ids: Vec<SourceId>,
    end_at: Option<UnixTime>,
}

/// Sets up `initstepslew` for the start of `sources`: only in normal
/// operation (`-q`/`-Q` replace the mode) and not with `-R`.
pub fn configure(
    config: &krony_config::Config,
    restarted: bool,
    family: Family,
    engine: &mut Engine,
    sources: &mut super::sources::Sources,
) {
    if !matches!(engine.reference().mode(), RefMode::InitStepSlew { .. }) {
        return;
    }
    match &config.initstepslew {
        Some(init) if !restarted => {
            sources.set_init_step_slew(InitPhase::resolve(init, family, engine))
        }
        _ => engine.set_reference_mode(RefMode::Normal),
    }
}

impl InitPhase {
    /// The hosts of `init`, resolved now (chronyd resolves them while
    /// reading its configuration); `None` when none resolved, and then the
    /// engine is switched out of the mode, as chronyd never enters it.
    pub fn resolve(init: &InitStepSlew, family: Family, engine: &mut Engine) -> Option<Self> {
        let mut addrs = Vec::new();
        for host in &init.hosts {
            let ip = resolver::parse_literal(host).or_else(|| {
                resolver::resolve_blocking(host, 0, family)
                    .ok()
                    .and_then(|a| a.first().map(|a| a.ip()))
            });
            match ip {
                Some(ip) if family.accepts(&ip) => addrs.push(ip),
                _ => log_event(
                    Severity::Warn,
                    format!("Could not resolve address of initstepslew server {host}"),
                ),
            }
        }
        if addrs.is_empty() {
            engine.set_reference_mode(RefMode::Normal);
            return None;
        }
        Some(InitPhase {
            addrs,
            ids: Vec::new(),
            end_at: None,
        })
    }

    /// Adds the hosts as servers with `iburst` and otherwise default options.
    pub fn start(&mut self, now: UnixTime, engine: &mut Engine) {
        let options = SourceOptions {
            iburst: true,
            ..SourceOptions::default()
        };
        for ip in &self.addrs {
            let addr = SocketAddr::new(*ip, options.port);
            let name = crate::files::dump::ip_text(ip);
            match engine.add_source(now, addr, SourceKind::Server, &options, &name) {
                Ok(id) => self.ids.push(id),
                Err(e) => log_event(
                    Severity::Error,
                    format!("Could not add source {name} : {e}"),
                ),
            }
        }
    }

    /// The mode ended (the engine asked to exit): schedule the switch.
    pub fn mode_ended(&mut self, now: UnixTime) {
        self.end_at.get_or_insert(now.add_secs(END_DELAY));
    }

    /// When the switch to the configured sources is due.
    pub fn deadline(&self) -> Option<UnixTime> {
        self.end_at
    }

    /// Removes the hosts and puts the engine in normal mode.
    pub fn finish(self, now: UnixTime, engine: &mut Engine) {
        for id in self.ids {
            let ip = engine.source(id).map(|s| s.remote().ip());
            if engine.remove_source(now, id).is_ok() {
                if let Some(ip) = ip {
                    log_event(Severity::Info, format!("Removed source {ip}"));
                }
            }
        }
        engine.set_reference_mode(RefMode::Normal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krony_engine::EngineConfig;

    #[test]
    fn hosts_become_iburst_servers_and_leave_after_the_mode() {
        let parsed =
            krony_config::parse_str("initstepslew 0.5 192.0.2.1 ::1\n", "t").expect("config");
        let init = parsed.config.initstepslew.clone().expect("initstepslew");
        let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = Engine::new(cfg, now, 1).expect("engine");
        let mut phase = InitPhase::resolve(&init, Family::V4, &mut e).expect("one address");
        assert_eq!(phase.addrs, ["192.0.2.1".parse::<IpAddr>().expect("ip")]);
        phase.start(now, &mut e);
        let id = e.source_ids()[0];
        let src = e.source(id).expect("added");
        assert_eq!(src.remote().port(), 123);
        assert!(src.params().auto_iburst);
        assert_eq!(phase.deadline(), None);
        phase.mode_ended(now);
        assert_eq!(phase.deadline(), Some(now.add_secs(END_DELAY)));
        phase.finish(now, &mut e);
        assert!(e.source_ids().is_empty());
        assert_eq!(e.reference().mode(), RefMode::Normal);
    }

    #[test]
    fn no_resolved_host_means_no_initstepslew() {
        let parsed = krony_config::parse_str("initstepslew 0.5 ::1\n", "t").expect("config");
        let init = parsed.config.initstepslew.clone().expect("initstepslew");
        let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = Engine::new(cfg, now, 1).expect("engine");
        assert!(InitPhase::resolve(&init, Family::V4, &mut e).is_none());
        assert_eq!(e.reference().mode(), RefMode::Normal);
    }
}
