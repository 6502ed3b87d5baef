//! Periodic refreshment of the addresses of sources given by name (the
//! `refresh` directive, chrony 4.4): when a valid response arrives and the
//! interval has passed, the source whose name was resolved longest ago is
//! looked up again, and moved if its name no longer gives its address.
//! Only one source is refreshed at a time (chrony's `maybe_refresh_source`).

use krony_config::SourceKind;
use krony_engine::select::SourceId;
use krony_engine::{Engine, UnixTime};

use super::{Lookup, Purpose, RETRY_FIRST, Sources};
use crate::logging::{Severity, log_event};
use crate::resolver;

/// The refreshment state of [`Sources`].
#[derive(Debug, Default)]
pub(super) struct RefreshState {
    /// The `refresh` interval in seconds (0 disables).
    pub(super) interval: f64,
    /// When each source's name was last resolved (or the lookup started).
    pub(super) last_resolving: std::collections::BTreeMap<SourceId, UnixTime>,
    /// The last time a source was picked (or found fresh enough).
    last_refreshment: Option<UnixTime>,
    /// The engine's count of valid responses when last looked at.
    valid_seen: u64,
}

impl Sources {
    /// Sets the `refresh` interval (seconds; 0 disables).
    pub fn set_refresh_interval(&mut self, secs: u32) {
        self.refresh.interval = f64::from(secs);
    }

    /// After received packets: if a valid response came, maybe refresh the
    /// address of one source (chronyd does it only on valid responses, so
    /// that a lost network does not count).
    pub fn after_receive(&mut self, now: UnixTime, engine: &Engine) {
        let total: u64 = engine
            .source_ids()
            .into_iter()
            .filter_map(|id| engine.source(id).map(|s| u64::from(s.valid_responses())))
            .sum();
        let grew = total > self.refresh.valid_seen;
        self.refresh.valid_seen = total;
        if grew {
            self.update_pools(engine);
            self.maybe_refresh(now, engine);
        }
    }

    /// chrony's `maybe_refresh_source`: picks the source whose name was
    /// resolved longest ago, if the interval has passed since then.
    pub(super) fn maybe_refresh(&mut self, now: UnixTime, engine: &Engine) {
        let interval = self.refresh.interval;
        if interval <= 0.0
            || self
                .refresh
                .last_refreshment
                .is_some_and(|t| now < t.add_secs(interval))
        {
            return;
        }
        self.refresh.last_refreshment = Some(now);
        let oldest = self
            .origin
            .iter()
            .filter(|(id, i)| self.is_named(**i) && !engine.is_unresolved(**id))
            .map(|(id, i)| {
                let t = self.refresh.last_resolving.get(id).copied().unwrap_or(now);
                (t, *id, *i)
            })
            .min_by(|a, b| a.0.cmp(&b.0));
        let Some((last, id, i)) = oldest else {
            return;
        };
        if now < last.add_secs(interval) {
            // Not due yet: wait until this one is.
            self.refresh.last_refreshment = Some(last);
            return;
        }
        self.refresh_one(now, engine, id, i);
    }

    /// Looks up again the name of source `id` (configured line `i`).
    pub(super) fn refresh_one(&mut self, now: UnixTime, engine: &Engine, id: SourceId, i: usize) {
        if let (Some(src), Some(spec)) = (engine.source(id), self.specs.get(i)) {
            let ip = crate::files::dump::ip_text(&src.remote().ip());
            log_event(Severity::Debug, format!("refreshing {ip} ({})", spec.host));
        }
        self.mark_resolving(now, id);
        self.lookup(
            now,
            Lookup {
                spec_index: i,
                purpose: Purpose::Refresh(id),
                retry_delay: RETRY_FIRST,
            },
        );
    }

    /// Whether configured line `i` names its host (not an address).
    pub(super) fn is_named(&self, i: usize) -> bool {
        self.specs
            .get(i)
            .is_some_and(|s| resolver::parse_literal(&s.host).is_none())
    }

    /// Notes that the name of `id` was resolved (or its lookup started).
    pub(super) fn mark_resolving(&mut self, now: UnixTime, id: SourceId) {
        self.refresh.last_resolving.insert(id, now);
    }

    /// The number of spare, unresolved records chronyd keeps for pools
    /// (`activity`'s "sources with unknown address"): a pool gets twice its
    /// `maxsources` records (at most 16), the addresses fill them, and the
    /// records still without one are dropped when `maxsources` members
    /// have answered.
    pub(super) fn pool_spares(&self) -> usize {
        self.reserved
            .keys()
            .filter(|i| {
                self.specs
                    .get(**i)
                    .is_some_and(|s| s.kind == SourceKind::Pool && !self.pools_full.contains(i))
            })
            .map(|i| {
                let max = self.pool_max(*i);
                let members = self.origin.values().filter(|l| *l == i).count();
                (2 * max)
                    .min(super::MAX_POOL_SOURCES)
                    .saturating_sub(members)
            })
            .sum()
    }

    /// Drops the spare records of the pools that have `maxsources` members
    /// which answered (chrony's end of a pool's tentative sources).
    fn update_pools(&mut self, engine: &Engine) {
        self.mark_full_pools(|id| engine.source(id).is_some_and(|s| s.valid_responses() > 0));
    }

    /// [`update_pools`](Self::update_pools) with `answered` telling which
    /// sources had a valid response.
    fn mark_full_pools(&mut self, answered: impl Fn(SourceId) -> bool) {
        let full: Vec<usize> = self
            .reserved
            .keys()
            .copied()
            .filter(|i| {
                self.specs
                    .get(*i)
                    .is_some_and(|s| s.kind == SourceKind::Pool)
                    && !self.pools_full.contains(i)
            })
            .filter(|i| {
                let confirmed = self
                    .origin
                    .iter()
                    .filter(|(id, l)| **l == *i && answered(**id))
                    .count();
                confirmed >= self.pool_max(*i)
            })
            .collect();
        self.pools_full.extend(full);
    }

    /// A pool line's `maxsources`, as chrony clamps it.
    fn pool_max(&self, i: usize) -> usize {
        self.specs.get(i).map_or(1, |s| {
            (s.options.maxsources as usize).clamp(1, super::MAX_POOL_SOURCES)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use krony_config::SourceSpec;
    use krony_engine::EngineConfig;

    use super::*;
    use crate::resolver::{Family, Response};

    fn start() -> UnixTime {
        UnixTime::from_secs_nanos(1e9 as i64, 0)
    }

    fn engine() -> Engine {
        Engine::new(EngineConfig::default(), start(), 1).expect("engine")
    }

    fn specs(text: &str) -> Vec<SourceSpec> {
        krony_config::parse_str(text, "t")
            .expect("config")
            .config
            .sources
    }

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("addr")
    }

    /// The tag of the refresh lookup of `id` in flight, if any.
    fn refresh_tag(s: &Sources, id: SourceId) -> Option<u64> {
        s.in_flight
            .iter()
            .find(|(_, l)| l.purpose == Purpose::Refresh(id))
            .map(|(t, _)| *t)
    }

    #[test]
    fn a_changed_name_moves_the_source_after_the_interval() {
        let t0 = start();
        let mut e = engine();
        let mut s = Sources::new(specs("server localhost\nserver 192.0.2.9\n"), Family::Any);
        s.set_refresh_interval(100);
        s.add(t0, &mut e, 0, &[addr("192.0.2.1:123")]);
        s.add(t0, &mut e, 1, &[addr("192.0.2.9:123")]);
        let id = e.source_ids()[0];
        // Resolved 50 s ago: not due.
        s.maybe_refresh(t0.add_secs(50.0), &e);
        assert!(s.in_flight.is_empty());
        s.maybe_refresh(t0.add_secs(101.0), &e);
        let tag = refresh_tag(&s, id).expect("refresh lookup");
        assert_eq!(s.in_flight.len(), 1, "only the named source, once");
        // The name now gives another address (the resolver's answer).
        let moved = addr("192.0.2.2:123");
        let answer = Response {
            tag,
            result: Ok(vec![moved]),
        };
        s.handle_response(t0.add_secs(101.0), &mut e, answer);
        assert_eq!(e.source(id).map(|x| x.remote()), Some(moved));
        // The next refreshment waits for the interval again.
        s.maybe_refresh(t0.add_secs(150.0), &e);
        assert!(refresh_tag(&s, id).is_none());
        s.maybe_refresh(t0.add_secs(202.0), &e);
        let tag = refresh_tag(&s, id).expect("second refresh");
        // An answer that still has the address keeps it.
        let answer = Response {
            tag,
            result: Ok(vec![addr("192.0.2.3:123"), moved]),
        };
        s.handle_response(t0.add_secs(202.0), &mut e, answer);
        assert_eq!(e.source(id).map(|x| x.remote()), Some(moved));
    }

    #[test]
    fn zero_disables_refreshment() {
        let t0 = start();
        let mut e = engine();
        let mut s = Sources::new(specs("server localhost\n"), Family::Any);
        s.set_refresh_interval(0);
        s.add(t0, &mut e, 0, &[addr("192.0.2.1:123")]);
        s.maybe_refresh(t0.add_secs(1e8), &e);
        assert!(s.in_flight.is_empty());
    }

    #[test]
    fn pools_keep_spare_unresolved_records_until_enough_answer() {
        let t0 = start();
        let mut e = engine();
        // Default maxsources 4: 8 records; a name with 3 addresses.
        let mut s = Sources::new(
            specs("pool localhost\npool localhost maxsources 3\n"),
            Family::Any,
        );
        s.start(t0, &mut e);
        assert_eq!(s.unresolved(), 8 + 6);
        let three = [
            addr("192.0.2.1:123"),
            addr("192.0.2.2:123"),
            addr("192.0.2.3:123"),
        ];
        s.add(t0, &mut e, 0, &three);
        assert_eq!(s.unresolved(), 5 + 6);
        let four = [
            addr("192.0.2.4:123"),
            addr("192.0.2.5:123"),
            addr("192.0.2.6:123"),
            addr("192.0.2.7:123"),
        ];
        s.add(t0, &mut e, 1, &four);
        assert_eq!(s.unresolved(), 5 + 3);
        // Every member answered: the second pool has its 3, the first
        // still lacks one and keeps its spares (chronyd's 149 figures).
        s.mark_full_pools(|_| true);
        assert_eq!(s.unresolved(), 5);
        assert_eq!(e.activity().unresolved, 0, "pools have no placeholders");
    }
}
