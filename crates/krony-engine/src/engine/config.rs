//! What the engine takes from chrony.conf: the settings of selection,
//! discipline, the sources' statistics and the NTP server.
//!
//! Directives about files, sockets, privileges and logging destinations stay
//! the daemon's; the engine only needs to know whether a driftfile exists
//! (its write interval) and which log files want records from it.

use std::net::IpAddr;

use krony_config::{Config, LeapSecMode};

use super::BroadcastConfig;
use crate::discipline::{
    DisciplineConfig, LeapMode, LocalClockConfig, LocalConfig, MakeStep, MaxChange, RefMode,
};
use crate::select::{AuthSelectMode, SelectConfig};
use crate::server::{ServerConfig, ServerError};
use crate::smooth::SmoothConfig;
use crate::stats::StatsParams;

/// chrony's default clock precision (`clockprecision`, one nanosecond).
pub const DEFAULT_PRECISION: f64 = 1e-9;

/// Largest `maxsamples` (chrony's `MAX_SAMPLES`).
const MAX_SAMPLES: u32 = 64;

/// Everything the [`Engine`](super::Engine) is configured with.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Reference and local clock settings (`makestep`, `maxupdateskew`,
    /// `maxslewrate`, `local`, `leapsecmode`, ...).
    pub discipline: DisciplineConfig,
    /// Selection settings (`minsources`, `maxdistance`, `maxjitter`, ...).
    pub select: SelectConfig,
    /// The statistics settings every source starts from (`minsamples`,
    /// `maxsamples`, `maxjitter`, the clock precision).
    pub stats: StatsParams,
    /// The NTP server; `None` when it is disabled (`port 0`).
    pub server: Option<ServerConfig>,
    /// The precision of the disciplined clock, seconds (`clockprecision`,
    /// or what the driver measured).
    pub precision: f64,
    /// `maxclockerror` as a fraction (1 ppm = 1e-6).
    pub max_clock_error: f64,
    /// The frequency error and skew (ppm) read from the driftfile, if any.
    pub initial_frequency: Option<(f64, f64)>,
    /// `log measurements`: emit [`EngineEvent::Measurement`](super::EngineEvent::Measurement).
    pub log_measurements: bool,
    /// `log rawmeasurements`: also for responses that failed tests.
    pub log_raw_measurements: bool,
    /// `log statistics`: emit [`EngineEvent::Statistics`](super::EngineEvent::Statistics).
    pub log_statistics: bool,
    /// `log refclocks`: emit [`EngineEvent::RefclockLog`](super::EngineEvent::RefclockLog).
    pub log_refclocks: bool,
    /// `log selection`: emit [`EngineEvent::Selection`](super::EngineEvent::Selection).
    pub log_selection: bool,
    /// Seed of the per-source and server random streams; `None` takes it from
    /// the seed given to [`Engine::new`](super::Engine::new).
    pub rng_seed: Option<u64>,
    /// `smoothtime`: smooth the time served to clients; `None` when off.
    pub smooth: Option<SmoothConfig>,
    /// `broadcast` destinations.
    pub broadcasts: Vec<BroadcastConfig>,
}

impl Default for EngineConfig {
    /// chrony's defaults with the server disabled.
    fn default() -> Self {
        EngineConfig {
            discipline: DisciplineConfig::default(),
            select: SelectConfig::default(),
            stats: StatsParams::ntp(DEFAULT_PRECISION),
            server: None,
            precision: DEFAULT_PRECISION,
            max_clock_error: 1e-6,
            initial_frequency: None,
            log_measurements: false,
            log_raw_measurements: false,
            log_statistics: false,
            log_selection: false,
            log_refclocks: false,
            rng_seed: None,
            smooth: None,
            broadcasts: Vec::new(),
        }
    }
}

impl EngineConfig {
    /// The engine's settings from a parsed chrony.conf, with the clock
    /// precision from `clockprecision` (1 ns by default). Host names in
    /// `allow`/`deny` cannot be resolved here: use
    /// [`from_config_with`](Self::from_config_with) for them.
    ///
    /// # Errors
    /// [`ServerError`] for an `allow`/`deny` rule naming a host, or a bad
    /// subnet.
    pub fn from_config(config: &Config) -> Result<Self, ServerError> {
        let precision = config.clock_precision.unwrap_or(DEFAULT_PRECISION);
        Self::from_config_with(config, precision, |_| None)
    }

    /// As [`from_config`](Self::from_config) with the clock precision the
    /// driver measured and a resolver for `allow`/`deny` host names.
    ///
    /// # Errors
    /// As [`ServerConfig::from_config`].
    pub fn from_config_with<F>(
        config: &Config,
        precision: f64,
        resolve: F,
    ) -> Result<Self, ServerError>
    where
        F: FnMut(&str) -> Option<IpAddr>,
    {
        let precision = if precision.is_finite() && precision > 0.0 {
            precision
        } else {
            DEFAULT_PRECISION
        };
        let server = if config.port == 0 {
            None
        } else {
            Some(ServerConfig::from_config(config, precision, resolve)?)
        };
        let max_samples = match config.maxsamples {
            0 => MAX_SAMPLES,
            n => n.min(MAX_SAMPLES),
        };
        let stats = StatsParams {
            min_samples: config.minsamples as usize,
            max_samples: max_samples as usize,
            max_jitter: config.max_jitter,
            ..StatsParams::ntp(precision)
        };
        Ok(EngineConfig {
            discipline: discipline_config(config),
            select: select_config(config),
            stats,
            server,
            precision,
            max_clock_error: config.max_clock_error * 1e-6,
            initial_frequency: None,
            log_measurements: config.log.measurements || config.log.raw_measurements,
            log_raw_measurements: config.log.raw_measurements,
            log_statistics: config.log.statistics,
            log_selection: config.log.selection,
            log_refclocks: config.log.refclocks,
            rng_seed: None,
            smooth: config
                .smoothtime
                .as_ref()
                .and_then(SmoothConfig::from_directive),
            broadcasts: config
                .broadcasts
                .iter()
                .map(BroadcastConfig::from_directive)
                .collect(),
        })
    }
}

/// The discipline's part of the configuration.
fn discipline_config(c: &Config) -> DisciplineConfig {
    let defaults = DisciplineConfig::default();
    DisciplineConfig {
        clock: LocalClockConfig {
            max_drift_ppm: c.max_drift,
            max_slew_rate_ppm: c.max_slew_rate,
            ..LocalClockConfig::default()
        },
        correction_time_ratio: c.corr_time_ratio,
        max_update_skew_ppm: c.max_update_skew,
        max_clock_error_ppm: c.max_clock_error,
        make_step: c.makestep.map(|m| MakeStep {
            threshold: m.threshold,
            limit: m.limit,
        }),
        max_change: c.maxchange.map(|m| MaxChange {
            offset: m.offset,
            start: m.start,
            ignore: m.ignore,
        }),
        log_change_threshold: c.log_change,
        mail_change_threshold: c.mail_on_change.as_ref().map(|m| m.threshold),
        leap_mode: match c.leapsec_mode {
            LeapSecMode::System => LeapMode::System,
            LeapSecMode::Step => LeapMode::Step,
            LeapSecMode::Slew => LeapMode::Slew,
            LeapSecMode::Ignore => LeapMode::Ignore,
        },
        local: c.local.map(|l| LocalConfig {
            stratum: l.stratum,
            distance: l.distance,
            orphan: l.orphan,
            activate: l.activate,
            wait_synced: l.waitsynced,
            wait_unsynced: l.waitunsynced,
        }),
        driftfile_interval: c.driftfile.as_ref().map(|d| f64::from(d.interval)),
        log_tracking: c.log.tracking,
        fallback_drift: c.fallback_drift.map(|f| (f.min, f.max)),
        mode: c
            .initstepslew
            .as_ref()
            .map_or(RefMode::Normal, |i| RefMode::InitStepSlew {
                threshold: i.threshold,
            }),
        ..defaults
    }
}

/// The selection's part of the configuration.
fn select_config(c: &Config) -> SelectConfig {
    SelectConfig {
        min_sources: c.min_sources as usize,
        max_distance: c.max_distance,
        max_jitter: c.max_jitter,
        min_stratum: u8::try_from(c.min_stratum).unwrap_or(u8::MAX),
        max_stratum: u8::try_from(c.max_stratum).unwrap_or(u8::MAX),
        reselect_distance: c.reselect_dist,
        stratum_weight: c.stratum_weight,
        combine_limit: c.combine_limit,
        max_clock_error: c.max_clock_error * 1e-6,
        auth_select_mode: match c.authselect_mode {
            krony_config::AuthSelectMode::Require => AuthSelectMode::Require,
            krony_config::AuthSelectMode::Prefer => AuthSelectMode::Prefer,
            krony_config::AuthSelectMode::Mix => AuthSelectMode::Mix,
            krony_config::AuthSelectMode::Ignore => AuthSelectMode::Ignore,
        },
        orphan_stratum: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directives_reach_the_parts() {
        let text = "makestep 1 3\nminsources 2\nmaxdistance 1.5\nmaxupdateskew 50\n\
                    local stratum 8 orphan\nallow 192.0.2.0/24\nmaxsamples 16\nport 0\n";
        let parsed = krony_config::parse_str(text, "t.conf").expect("valid config");
        let cfg = EngineConfig::from_config(&parsed.config).expect("no host names");
        assert_eq!(
            cfg.discipline.make_step,
            Some(MakeStep {
                threshold: 1.0,
                limit: 3
            })
        );
        assert_eq!(cfg.select.min_sources, 2);
        assert_eq!(cfg.select.max_distance, 1.5);
        assert_eq!(cfg.discipline.max_update_skew_ppm, 50.0);
        assert_eq!(
            cfg.discipline.local.map(|l| (l.stratum, l.orphan)),
            Some((8, true))
        );
        assert_eq!(cfg.stats.max_samples, 16);
        // port 0: no server.
        assert!(cfg.server.is_none());
        let parsed = krony_config::parse_str("allow all\n", "t.conf").expect("valid");
        let cfg = EngineConfig::from_config(&parsed.config).expect("no host names");
        let server = cfg.server.expect("server enabled by default");
        assert!(
            server
                .access
                .is_allowed("198.51.100.7".parse().expect("ip"))
        );
        assert_eq!(cfg.stats.max_samples, 64);
    }

    #[test]
    fn host_names_need_a_resolver() {
        let parsed = krony_config::parse_str("allow ntp.example\n", "t.conf").expect("valid");
        assert!(EngineConfig::from_config(&parsed.config).is_err());
        let ip: IpAddr = "192.0.2.9".parse().expect("ip");
        let cfg =
            EngineConfig::from_config_with(&parsed.config, 1e-8, |_| Some(ip)).expect("resolved");
        assert!(cfg.server.expect("server").access.is_allowed(ip));
        assert_eq!(cfg.precision, 1e-8);
    }
}
