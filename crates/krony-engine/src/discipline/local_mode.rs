//! Local reference mode (`local` directive): when to serve the local clock
//! as a reference, and its slowly refreshed reference time.

use super::config::LocalConfig;
use crate::UnixTime;

/// How often the reference time served in local mode is refreshed (s).
const LOCAL_REF_UPDATE_INTERVAL: f64 = 64.0;

/// What the server announces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Served {
    /// The real reference we are synchronised to.
    Real,
    /// The local clock at the configured stratum.
    Local,
    /// Nothing: unsynchronised.
    Unsynchronised,
}

/// Local reference state.
#[derive(Debug, Clone)]
pub(crate) struct LocalMode {
    cfg: Option<LocalConfig>,
    /// Latched once a real reference got below the `activate` distance.
    activate_ok: bool,
    ref_time: Option<UnixTime>,
}

impl LocalMode {
    pub fn new(cfg: Option<LocalConfig>) -> Self {
        LocalMode {
            cfg: cfg.map(clamp_stratum),
            activate_ok: false,
            ref_time: None,
        }
    }

    pub fn set(&mut self, cfg: Option<LocalConfig>) {
        self.cfg = cfg.map(clamp_stratum);
    }

    pub fn config(&self) -> Option<&LocalConfig> {
        self.cfg.as_ref()
    }

    /// The stratum orphan mode tells source selection, if orphan is on.
    pub fn orphan_stratum(&self) -> Option<u8> {
        self.cfg.filter(|c| c.orphan).map(|c| c.stratum)
    }

    /// Decides what to serve. `distance` is our root distance when
    /// synchronised, `since_update` the seconds since the reference time when
    /// synchronised, `unsynced_for` the seconds since we lost it otherwise.
    pub fn decide(
        &mut self,
        synchronised: bool,
        distance: f64,
        since_update: f64,
        unsynced_for: f64,
    ) -> Served {
        let Some(cfg) = self.cfg else {
            return if synchronised {
                Served::Real
            } else {
                Served::Unsynchronised
            };
        };
        if cfg.activate == 0.0 || (synchronised && distance < cfg.activate) {
            self.activate_ok = true;
        }
        let wait_ok = if synchronised {
            since_update >= cfg.wait_synced
        } else {
            unsynced_for >= cfg.wait_unsynced
        };
        let local_ok = self.activate_ok && wait_ok;
        if synchronised && !(local_ok && distance > cfg.distance) {
            Served::Real
        } else if local_ok {
            Served::Local
        } else {
            Served::Unsynchronised
        }
    }

    /// The reference time to serve at cooked time `now`: one second before a
    /// refresh (so no client sees a reference time after the transmit time),
    /// refreshed every 64 s or when the clock went back. `fuzz` in [-1, 0] s is
    /// added at each refresh.
    pub fn ref_time(&mut self, now: UnixTime, fuzz: impl FnOnce() -> f64) -> UnixTime {
        let stale = self.ref_time.is_none_or(|t| {
            let age = now.diff_secs(t);
            !(1.0..=LOCAL_REF_UPDATE_INTERVAL).contains(&age)
        });
        if stale {
            self.ref_time = Some(now.add_secs(-1.0 + fuzz()));
        }
        self.ref_time.unwrap_or(now)
    }
}

fn clamp_stratum(mut cfg: LocalConfig) -> LocalConfig {
    cfg.stratum = cfg.stratum.clamp(1, 15);
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: f64) -> UnixTime {
        UnixTime::from_secs_nanos(1_700_000_000, 0).add_secs(secs)
    }

    #[test]
    fn without_local_config_only_real_or_nothing() {
        let mut m = LocalMode::new(None);
        assert_eq!(m.decide(true, 5.0, 0.0, 0.0), Served::Real);
        assert_eq!(m.decide(false, 0.0, 0.0, 1e6), Served::Unsynchronised);
        assert_eq!(m.orphan_stratum(), None);
    }

    #[test]
    fn local_replaces_a_distant_or_missing_reference() {
        let mut m = LocalMode::new(Some(LocalConfig::new(10)));
        assert_eq!(m.decide(false, 0.0, 0.0, 0.0), Served::Local);
        assert_eq!(m.decide(true, 0.5, 0.0, 0.0), Served::Real);
        // Root distance above `distance` 1 s: the local clock is better.
        assert_eq!(m.decide(true, 1.5, 0.0, 0.0), Served::Local);
    }

    #[test]
    fn wait_and_activate_conditions() {
        let mut cfg = LocalConfig::new(8);
        cfg.orphan = true;
        cfg.wait_unsynced = 300.0;
        cfg.activate = 0.1;
        let mut m = LocalMode::new(Some(cfg));
        assert_eq!(m.orphan_stratum(), Some(8));
        // Never had a good reference: activation not yet allowed.
        assert_eq!(m.decide(false, 0.0, 0.0, 1000.0), Served::Unsynchronised);
        assert_eq!(m.decide(true, 0.05, 0.0, 0.0), Served::Real);
        // Lost it 100 s ago: wait until 300 s.
        assert_eq!(m.decide(false, 0.0, 0.0, 100.0), Served::Unsynchronised);
        assert_eq!(m.decide(false, 0.0, 0.0, 300.0), Served::Local);
    }

    #[test]
    fn stratum_is_clamped() {
        let m = LocalMode::new(Some(LocalConfig::new(0)));
        assert_eq!(m.config().map(|c| c.stratum), Some(1));
        let m = LocalMode::new(Some(LocalConfig::new(16)));
        assert_eq!(m.config().map(|c| c.stratum), Some(15));
    }

    #[test]
    fn ref_time_refreshes_every_64_seconds() {
        let mut m = LocalMode::new(Some(LocalConfig::new(10)));
        assert_eq!(m.ref_time(t(0.0), || 0.0), t(-1.0));
        assert_eq!(m.ref_time(t(60.0), || 0.0), t(-1.0));
        assert_eq!(m.ref_time(t(63.0), || 0.0), t(-1.0));
        assert_eq!(m.ref_time(t(65.5), || -0.25), t(64.25));
        // The clock went back: refresh so the reference time stays behind.
        assert_eq!(m.ref_time(t(64.5), || 0.0), t(63.5));
    }
}
