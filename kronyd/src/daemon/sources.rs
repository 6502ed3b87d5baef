//! The configured sources on their way into the engine (chrony's
//! `ntp_sources.c`): addresses go in at once, host names through the
//! resolver thread, a pool adds up to `maxsources` of its addresses, and a
//! pool member the engine gives up on (unreachable, falseticker) is moved
//! to an address the pool's name gives that no source uses yet.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;

use krony_config::{SourceKind, SourceSpec};
use krony_engine::select::SourceId;
use krony_engine::{Engine, UnixTime};

use super::initstepslew::InitPhase;
use crate::logging::{Severity, log_event};
use crate::resolver::{self, Family, Request, Resolver, Response};

mod refresh;

/// First delay before a name that did not resolve is tried again (chrony
/// doubles it up to about 17 minutes between attempts).
const RETRY_FIRST: f64 = 8.0;
/// Longest delay between attempts.
const RETRY_MAX: f64 = 1024.0;
/// After a replacement, the next one waits a random time up to this long
/// (chrony's `RESOLVE_INTERVAL_UNIT << MAX_REPLACEMENT_INTERVAL`, 7 * 512 s),
/// whichever source asks.
const MAX_REPLACE_INTERVAL: f64 = 7.0 * 512.0;
/// chrony caps `maxsources` at 16.
const MAX_POOL_SOURCES: usize = 16;

/// What a lookup is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Adding the configured source (or a pool's first members).
    Add,
    /// Moving this source to a new address.
    Replace(SourceId),
    /// Moving this source only if its address is no longer among the name's.
    Refresh(SourceId),
}

/// A lookup in flight or waiting to be retried.
#[derive(Debug, Clone)]
struct Lookup {
    spec_index: usize,
    purpose: Purpose,
    /// Delay before the next attempt if this one fails.
    retry_delay: f64,
}

/// The sources of the configuration and their names.
#[derive(Debug)]
pub struct Sources {
    specs: Vec<SourceSpec>,
    family: Family,
    resolver: Option<Resolver>,
    in_flight: BTreeMap<u64, Lookup>,
    retries: Vec<(UnixTime, Lookup)>,
    /// Which configured line each engine source comes from.
    origin: BTreeMap<SourceId, usize>,
    /// No replacement before this time (one for all sources, as chrony's).
    next_replace: Option<UnixTime>,
    next_tag: u64,
    /// The `sourcedir` directives (each a list of directories).
    source_dirs: Vec<Vec<String>>,
    /// The lines of `specs` that came from the `sourcedir` files, in use.
    from_dirs: Vec<usize>,
    /// Source ids reserved for the lines whose names are not resolved yet,
    /// so that the reports keep the order of the configuration.
    reserved: BTreeMap<usize, VecDeque<SourceId>>,
    /// The lines added by chronyc `add`.
    from_commands: Vec<usize>,
    /// `initstepslew` while it measures.
    init: Option<InitPhase>,
    /// The configured sources were started (after `initstepslew`).
    started: bool,
    /// Periodic refreshment of the addresses (`refresh`).
    refresh: refresh::RefreshState,
    /// Pool lines whose spare unresolved records were dropped.
    pools_full: BTreeSet<usize>,
}

impl Sources {
    /// The sources of `specs`, restricted to `family` (`-4`/`-6`).
    pub fn new(specs: Vec<SourceSpec>, family: Family) -> Self {
        Sources {
            specs,
            family,
            resolver: None,
            in_flight: BTreeMap::new(),
            retries: Vec::new(),
            origin: BTreeMap::new(),
            next_replace: None,
            next_tag: 1,
            source_dirs: Vec::new(),
            from_dirs: Vec::new(),
            from_commands: Vec::new(),
            reserved: BTreeMap::new(),
            init: None,
            started: false,
            refresh: refresh::RefreshState::default(),
            pools_full: BTreeSet::new(),
        }
    }

    /// `initstepslew`: [`start`](Self::start) measures its hosts first.
    pub fn set_init_step_slew(&mut self, init: Option<InitPhase>) {
        self.init = init;
    }

    /// The reference mode ended: with `initstepslew` measuring, the
    /// configured sources start two seconds later (returns true); otherwise
    /// it is the end of `-q`/`-Q` (false).
    pub fn reference_mode_ended(&mut self, now: UnixTime) -> bool {
        match &mut self.init {
            Some(init) => {
                init.mode_ended(now);
                true
            }
            None => false,
        }
    }

    /// The `sourcedir` directories, read by [`start`](Self::start) and
    /// [`reload_source_dirs`](Self::reload_source_dirs).
    pub fn set_source_dirs(&mut self, dirs: Vec<Vec<String>>) {
        self.source_dirs = dirs;
    }

    /// Adds every configured source (addresses now, names once resolved),
    /// then those of the `sourcedir` files, as chronyd does; with
    /// `initstepslew`, its hosts instead, until it ended.
    pub fn start(&mut self, now: UnixTime, engine: &mut Engine) {
        if let Some(init) = &mut self.init {
            init.start(now, engine);
            return;
        }
        self.started = true;
        for i in 0..self.specs.len() {
            self.start_one(now, engine, i);
        }
        self.reload_source_dirs(now, engine);
    }

    /// Reads the `sourcedir` files (at start and on `reload sources`):
    /// sources whose line is gone or changed are removed, new lines are
    /// added, and sources whose line is unchanged keep their state
    /// (chrony's `reload_source_dirs`).
    pub fn reload_source_dirs(&mut self, now: UnixTime, engine: &mut Engine) {
        let (mut wanted, warnings) =
            krony_config::load_source_dirs(&krony_config::RealFs, &self.source_dirs);
        for w in warnings {
            log_event(Severity::Warn, w);
        }
        let mut kept = Vec::new();
        for i in self.from_dirs.clone() {
            let pos = self
                .specs
                .get(i)
                .and_then(|spec| wanted.iter().position(|w| w == spec));
            match pos {
                Some(p) => {
                    wanted.remove(p);
                    kept.push(i);
                }
                None => self.retire(now, engine, i),
            }
        }
        self.from_dirs = kept;
        for spec in wanted {
            self.specs.push(spec);
            let i = self.specs.len() - 1;
            self.from_dirs.push(i);
            self.start_one(now, engine, i);
        }
    }

    /// Removes the sources of configured line `i` and drops its lookups
    /// (an answer to one then finds no lookup and is ignored).
    fn retire(&mut self, now: UnixTime, engine: &mut Engine, i: usize) {
        let ids: Vec<SourceId> = self
            .origin
            .iter()
            .filter(|(_, line)| **line == i)
            .map(|(id, _)| *id)
            .collect();
        let level = self.log_level(i);
        let pool = self
            .specs
            .get(i)
            .filter(|s| s.kind == SourceKind::Pool && !ids.is_empty());
        if let Some(spec) = pool {
            log_event(level, format!("Removed pool {}", spec.host));
        }
        self.pools_full.remove(&i);
        for id in ids {
            self.origin.remove(&id);
            self.refresh.last_resolving.remove(&id);
            let addr = engine.source(id).map(|s| s.remote());
            let unresolved = engine.is_unresolved(id);
            if engine.remove_source(now, id).is_ok() && pool.is_none() {
                if let (Some(addr), Some(spec)) = (addr, self.specs.get(i)) {
                    let text = if unresolved {
                        format!("ID#{:010} ({})", id.0, spec.host)
                    } else {
                        source_text(&addr, spec)
                    };
                    log_event(level, format!("Removed source {text}"));
                }
            }
        }
        self.in_flight.retain(|_, l| l.spec_index != i);
        self.retries.retain(|(_, l)| l.spec_index != i);
        self.reserved.remove(&i);
    }

    /// Adds the source of configured line `i`, or starts its lookup.
    fn start_one(&mut self, now: UnixTime, engine: &mut Engine, i: usize) {
        let Some(spec) = self.specs.get(i) else {
            return;
        };
        let family = self.spec_family(i);
        match resolver::parse_literal(&spec.host) {
            Some(ip) if family.is_some_and(|f| f.accepts(&ip)) => {
                let addr = SocketAddr::new(ip, spec.options.port);
                self.add(now, engine, i, &[addr]);
            }
            Some(_) => {}
            None => {
                // Keep the place of the line in the reports (chronyd
                // registers a named source at once, before it resolves).
                let n = match spec.kind {
                    SourceKind::Pool => {
                        (spec.options.maxsources as usize).clamp(1, MAX_POOL_SOURCES)
                    }
                    SourceKind::Server | SourceKind::Peer => 1,
                };
                let ids: VecDeque<SourceId> = (0..n).map(|_| engine.reserve_source_id()).collect();
                if spec.kind != SourceKind::Pool {
                    // A server or peer is listed at once as ID#N (chronyd).
                    if let Some(&id) = ids.front() {
                        if engine
                            .add_unresolved_source(id, now, spec.kind, &spec.options, &spec.host)
                            .is_ok()
                        {
                            self.origin.insert(id, i);
                            self.refresh.last_resolving.insert(id, now);
                            let text = format!("ID#{:010} ({})", id.0, spec.host);
                            log_event(self.log_level(i), format!("Added source {text}"));
                        }
                    }
                }
                self.reserved.insert(i, ids);
                self.lookup(
                    now,
                    Lookup {
                        spec_index: i,
                        purpose: Purpose::Add,
                        retry_delay: RETRY_FIRST,
                    },
                )
            }
        }
    }

    /// The families a configured line may use (`None`: excluded by `-4`/`-6`).
    fn spec_family(&self, i: usize) -> Option<Family> {
        let own = match self.specs.get(i).map(|s| s.options.family) {
            Some(krony_config::Family::Ipv4) => Family::V4,
            Some(krony_config::Family::Ipv6) => Family::V6,
            _ => Family::Any,
        };
        self.family.and(own)
    }

    /// Whether lookups are in flight or waiting (special modes wait for them).
    pub fn resolving(&self) -> bool {
        !self.in_flight.is_empty() || !self.retries.is_empty()
    }

    /// Whether every configured name has had its first lookup (chronyd's
    /// end of resolving, after which dumps are loaded): lookups retried
    /// after a failure do not count.
    pub fn first_lookups_done(&self) -> bool {
        self.started
            && !self
                .in_flight
                .values()
                .any(|l| l.purpose == Purpose::Add && l.retry_delay <= RETRY_FIRST)
    }

    /// How many records without an address chronyd would have besides the
    /// engine's placeholders of named servers and peers: the spare records
    /// of pools (chronyc `activity`: "sources with unknown address").
    pub fn unresolved(&self) -> u32 {
        u32::try_from(self.pool_spares()).unwrap_or(u32::MAX)
    }

    /// The resolver, to poll its wake-up pipe, while it owes answers.
    pub fn resolver(&self) -> Option<&Resolver> {
        self.resolver.as_ref().filter(|r| r.busy())
    }

    /// The earliest retry of a failed lookup.
    pub fn next_retry(&self) -> Option<UnixTime> {
        let init = self.init.as_ref().and_then(InitPhase::deadline);
        self.retries.iter().map(|(t, _)| *t).chain(init).min()
    }

    /// Starts the retries that are due, and the configured sources when
    /// `initstepslew` is over.
    pub fn handle_timeout(&mut self, now: UnixTime, engine: &mut Engine) {
        if self
            .init
            .as_ref()
            .and_then(InitPhase::deadline)
            .is_some_and(|t| t <= now)
        {
            if let Some(init) = self.init.take() {
                init.finish(now, engine);
            }
            self.start(now, engine);
        }
        let (due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut self.retries)
            .into_iter()
            .partition(|(t, _)| *t <= now);
        self.retries = later;
        for (_, lookup) in due {
            self.lookup(now, lookup);
        }
    }

    /// Sends a lookup to the resolver thread (started on first use).
    fn lookup(&mut self, now: UnixTime, lookup: Lookup) {
        let Some(spec) = self.specs.get(lookup.spec_index) else {
            return;
        };
        let Some(family) = self.spec_family(lookup.spec_index) else {
            return;
        };
        if self.resolver.is_none() {
            match Resolver::start() {
                Ok(r) => self.resolver = Some(r),
                Err(e) => {
                    log_event(Severity::Error, format!("Could not resolve names : {e}"));
                    self.retries
                        .push((now.add_secs(lookup.retry_delay), lookup));
                    return;
                }
            }
        }
        let tag = self.next_tag;
        self.next_tag += 1;
        if let Some(r) = &mut self.resolver {
            r.submit(Request {
                tag,
                name: spec.host.clone(),
                port: spec.options.port,
                family,
            });
        }
        self.in_flight.insert(tag, lookup);
    }

    /// Handles the resolver's answers (its pipe was readable).
    pub fn handle_responses(&mut self, now: UnixTime, engine: &mut Engine) {
        let responses = match &mut self.resolver {
            Some(r) => r.drain(),
            None => return,
        };
        for r in responses {
            self.handle_response(now, engine, r);
        }
    }

    fn handle_response(&mut self, now: UnixTime, engine: &mut Engine, r: Response) {
        let Some(lookup) = self.in_flight.remove(&r.tag) else {
            return;
        };
        let Some(name) = self.specs.get(lookup.spec_index).map(|s| s.host.clone()) else {
            return;
        };
        match (r.result, lookup.purpose) {
            (Ok(addrs), Purpose::Add) => self.add(now, engine, lookup.spec_index, &addrs),
            (Ok(addrs), Purpose::Replace(id)) => replace(now, engine, id, &addrs),
            (Ok(addrs), Purpose::Refresh(id)) => match engine.source(id).map(|s| s.remote()) {
                Some(current) if addrs.contains(&current) => {
                    let ip = crate::files::dump::ip_text(&current.ip());
                    log_event(Severity::Debug, format!("{ip} still fresh"));
                }
                Some(_) => replace(now, engine, id, &addrs),
                None => {}
            },
            (Err(e), Purpose::Add) => {
                log_event(Severity::Debug, format!("Could not resolve {name} : {e}"));
                let delay = lookup.retry_delay;
                let next = Lookup {
                    retry_delay: (delay * 2.0).min(RETRY_MAX),
                    ..lookup
                };
                self.retries.push((now.add_secs(delay), next));
            }
            (Err(e), Purpose::Replace(_) | Purpose::Refresh(_)) => {
                log_event(Severity::Debug, format!("Could not resolve {name} : {e}"))
            }
        }
    }

    /// Adds the source of line `i` at the first address (a pool: at up to
    /// `maxsources` of them).
    fn add(&mut self, now: UnixTime, engine: &mut Engine, i: usize, addrs: &[SocketAddr]) {
        let Some(spec) = self.specs.get(i) else {
            return;
        };
        let wanted = match spec.kind {
            SourceKind::Pool => (spec.options.maxsources as usize).clamp(1, MAX_POOL_SOURCES),
            SourceKind::Server | SourceKind::Peer => 1,
        };
        let mut added = 0;
        let level = self.log_level(i);
        for addr in addrs {
            if added == wanted {
                break;
            }
            let reserved = self.reserved.get_mut(&i).and_then(|r| r.pop_front());
            let result = match reserved {
                Some(id) if engine.is_unresolved(id) => {
                    // Listed since the start: it gets its address now.
                    match engine.resolve_source(now, id, *addr) {
                        Ok(()) => {
                            self.refresh.last_resolving.insert(id, now);
                            added += 1;
                            continue;
                        }
                        Err(e) => Err(e),
                    }
                }
                Some(id) => {
                    engine.add_source_as(id, now, *addr, spec.kind, &spec.options, &spec.host)
                }
                None => engine.add_source(now, *addr, spec.kind, &spec.options, &spec.host),
            };
            if let (Err(_), Some(id)) = (&result, reserved) {
                // Not used: keep it for the next address.
                if let Some(r) = self.reserved.get_mut(&i) {
                    r.push_front(id);
                }
            }
            match result {
                Ok(id) => {
                    // chronyd names a pool once, when its first member comes.
                    let first = !self.origin.values().any(|l| *l == i);
                    self.origin.insert(id, i);
                    self.refresh.last_resolving.insert(id, now);
                    added += 1;
                    if spec.kind != SourceKind::Pool {
                        log_event(level, format!("Added source {}", source_text(addr, spec)));
                    } else if first {
                        log_event(level, format!("Added pool {}", spec.host));
                    }
                }
                Err(e) => log_event(Severity::Debug, format!("{e}")),
            }
        }
    }

    /// How additions and removals of line `i` are logged: at info level when
    /// a `sourcedir` file or a command brought it (chronyd's log contexts),
    /// else at debug level.
    fn log_level(&self, i: usize) -> Severity {
        if self.from_dirs.contains(&i) || self.from_commands.contains(&i) {
            Severity::Info
        } else {
            Severity::Debug
        }
    }

    /// The configuration line engine source `id` comes from.
    pub fn spec_of(&self, id: SourceId) -> Option<SourceSpec> {
        self.origin
            .get(&id)
            .and_then(|i| self.specs.get(*i))
            .cloned()
    }

    /// Adds a source at run time (chronyc `add server NAME`).
    pub fn add_spec(&mut self, now: UnixTime, engine: &mut Engine, spec: SourceSpec) {
        self.specs.push(spec);
        let i = self.specs.len() - 1;
        self.from_commands.push(i);
        self.start_one(now, engine, i);
    }

    /// chronyc `refresh`: looks every source's name up again and moves the
    /// sources whose address it no longer gives.
    pub fn refresh(&mut self, now: UnixTime, engine: &Engine) {
        let named: Vec<(SourceId, usize)> = self
            .origin
            .iter()
            .filter(|(id, i)| self.is_named(**i) && !engine.is_unresolved(**id))
            .map(|(id, i)| (*id, *i))
            .collect();
        for (id, i) in named {
            self.refresh_one(now, engine, id, i);
        }
    }

    /// The engine asks to replace source `id` (unreachable, a falseticker or
    /// too far): look its name up again. Sources given by address are kept;
    /// after a replacement the next waits a random time up to an hour.
    pub fn replace(&mut self, now: UnixTime, id: SourceId) {
        let Some(&i) = self.origin.get(&id) else {
            return;
        };
        if self
            .specs
            .get(i)
            .is_none_or(|s| resolver::parse_literal(&s.host).is_some())
        {
            return;
        }
        if self.next_replace.is_some_and(|t| now < t) {
            return;
        }
        if self
            .in_flight
            .values()
            .any(|l| l.purpose == Purpose::Replace(id))
        {
            return;
        }
        let wait = rand::random::<f64>() * MAX_REPLACE_INTERVAL;
        self.next_replace = Some(now.add_secs(wait));
        self.refresh.last_resolving.insert(id, now);
        self.lookup(
            now,
            Lookup {
                spec_index: i,
                purpose: Purpose::Replace(id),
                retry_delay: RETRY_FIRST,
            },
        );
    }

    /// chrony's `special_mode_end`: in `-q`/`-Q`, whether no source can
    /// still give the samples a measurement needs (each active source has
    /// been polled through its initial burst, or too few polls remain for
    /// the three samples a regression needs).
    pub fn special_mode_failed(&self, engine: &Engine) -> bool {
        /// chrony's `SOURCE_REACH_BITS - 1`: the polls of an initial burst.
        const BURST_POLLS: usize = 7;
        /// chrony's `MIN_SAMPLES_FOR_REGRESS`.
        const MIN_SAMPLES: usize = 3;
        if self.resolving() {
            return false;
        }
        !engine.source_ids().into_iter().any(|id| {
            engine.source(id).is_some_and(|s| {
                let size = usize::from(s.reachability().size);
                s.is_active()
                    && size < BURST_POLLS
                    && BURST_POLLS - size + s.stats().n_samples() >= MIN_SAMPLES
            })
        })
    }
}

/// A source in chronyd's "Added/Removed source" messages: the address, with
/// the configured name in parentheses when it is not the address.
fn source_text(addr: &SocketAddr, spec: &SourceSpec) -> String {
    let ip = crate::files::dump::ip_text(&addr.ip());
    if spec.host == ip {
        ip
    } else {
        format!("{ip} ({})", spec.host)
    }
}

/// Moves `id` to the first of `addrs` no source uses.
fn replace(now: UnixTime, engine: &mut Engine, id: SourceId, addrs: &[SocketAddr]) {
    let Some(current) = engine.source(id).map(|s| s.remote()) else {
        return;
    };
    let free = addrs
        .iter()
        .find(|a| **a != current && engine.source_by_addr(**a).is_none());
    if let Some(addr) = free {
        if let Err(e) = engine.change_source_address(now, id, *addr) {
            log_event(Severity::Debug, format!("{e}"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use krony_engine::EngineConfig;

    fn engine() -> Engine {
        Engine::new(
            EngineConfig::default(),
            UnixTime::from_secs_nanos(1e9 as i64, 0),
            1,
        )
        .expect("engine")
    }

    fn specs(text: &str) -> Vec<SourceSpec> {
        krony_config::parse_str(text, "t")
            .expect("config")
            .config
            .sources
    }

    #[test]
    fn addresses_are_added_at_once_and_families_filter() {
        let now = UnixTime::from_secs_nanos(1e9 as i64, 0);
        let mut e = engine();
        let mut s = Sources::new(
            specs("server 127.0.0.1 port 1234\nserver ::1\nserver 192.0.2.1 ipv6\n"),
            Family::V4,
        );
        s.start(now, &mut e);
        assert_eq!(e.source_ids().len(), 1);
        let id = e.source_ids()[0];
        assert_eq!(
            e.source(id).map(|x| x.remote()),
            Some("127.0.0.1:1234".parse().expect("addr"))
        );
        assert!(!s.resolving());
        // An address source is never re-resolved.
        s.replace(now, id);
        assert!(!s.resolving());
    }

    #[test]
    fn pools_take_up_to_maxsources() {
        let now = UnixTime::from_secs_nanos(1e9 as i64, 0);
        let mut e = engine();
        let mut s = Sources::new(specs("pool pool.example maxsources 2\n"), Family::Any);
        let addrs: Vec<SocketAddr> = ["192.0.2.1:123", "192.0.2.2:123", "192.0.2.3:123"]
            .iter()
            .map(|a| a.parse().expect("addr"))
            .collect();
        s.add(now, &mut e, 0, &addrs);
        assert_eq!(e.source_ids().len(), 2);
        let first = e.source_ids()[0];
        replace(now, &mut e, first, &addrs);
        assert_eq!(
            e.source(first).map(|x| x.remote()),
            Some(addrs[2]),
            "moved to the unused address"
        );
    }

    #[test]
    fn replacements_of_named_servers_are_spaced_for_all_sources() {
        let now = UnixTime::from_secs_nanos(1e9 as i64, 0);
        let mut e = engine();
        let mut s = Sources::new(
            specs("server localhost\nserver localhost port 1234\n"),
            Family::Any,
        );
        s.add(now, &mut e, 0, &["127.0.0.1:123".parse().expect("addr")]);
        s.add(now, &mut e, 1, &["127.0.0.1:1234".parse().expect("addr")]);
        let ids = e.source_ids();
        assert_eq!(ids.len(), 2);
        // A server given by name is looked up again, as a pool member is.
        s.replace(now, ids[0]);
        assert_eq!(s.in_flight.len(), 1);
        // Another source must wait for the random delay (up to an hour).
        s.replace(now.add_secs(1.0), ids[1]);
        assert_eq!(s.in_flight.len(), 1);
        s.replace(now.add_secs(MAX_REPLACE_INTERVAL + 1.0), ids[1]);
        assert_eq!(s.in_flight.len(), 2);
    }

    #[test]
    fn named_sources_keep_their_place_in_the_configuration() {
        let now = UnixTime::from_secs_nanos(1e9 as i64, 0);
        let mut e = engine();
        let mut s = Sources::new(
            specs("server localhost\nserver 127.0.0.1 port 1234\n"),
            Family::Any,
        );
        s.start(now, &mut e);
        // The name is listed at once as a placeholder (chronyd's ID#1).
        let ids = e.source_ids();
        assert_eq!(ids.len(), 2);
        assert!(e.is_unresolved(ids[0]) && !e.is_unresolved(ids[1]));
        assert_eq!(e.activity().unresolved, 1);
        // The name resolves after the address was added.
        let resolved: SocketAddr = "127.0.0.1:123".parse().expect("addr");
        s.add(now, &mut e, 0, &[resolved]);
        let order: Vec<SocketAddr> = e
            .source_ids()
            .into_iter()
            .filter_map(|id| e.source(id).map(|x| x.remote()))
            .collect();
        let literal: SocketAddr = "127.0.0.1:1234".parse().expect("addr");
        assert_eq!(order, vec![resolved, literal]);
        assert_eq!(e.source_ids(), ids, "the placeholder got the address");
        assert_eq!(e.activity().unresolved, 0);
    }

    #[test]
    fn special_mode_fails_without_active_sources() {
        let now = UnixTime::from_secs_nanos(1e9 as i64, 0);
        let mut e = engine();
        let s = Sources::new(Vec::new(), Family::Any);
        assert!(s.special_mode_failed(&e));
        let mut s = Sources::new(specs("server 192.0.2.1 iburst\n"), Family::Any);
        s.start(now, &mut e);
        assert!(
            !s.special_mode_failed(&e),
            "a new source still has its burst"
        );
    }

    #[test]
    fn reload_keeps_unchanged_lines_and_replaces_changed_ones() {
        let now = UnixTime::from_secs_nanos(1e9 as i64, 0);
        let tmp = tempfile::tempdir().expect("tempdir");
        let file = tmp.path().join("x.sources");
        std::fs::write(&file, "server 192.0.2.1\nserver 192.0.2.2\n").expect("write");
        let mut e = engine();
        let mut s = Sources::new(specs("server 192.0.2.9\n"), Family::Any);
        s.set_source_dirs(vec![vec![tmp.path().display().to_string()]]);
        s.start(now, &mut e);
        let remote = |e: &Engine| -> Vec<String> {
            let ids = e.source_ids();
            ids.iter()
                .filter_map(|id| e.source(*id).map(|x| x.remote().ip().to_string()))
                .collect()
        };
        assert_eq!(remote(&e), ["192.0.2.9", "192.0.2.1", "192.0.2.2"]);
        let kept = e.source_ids()[1];
        // A changed option is a new line: the source is replaced.
        std::fs::write(&file, "server 192.0.2.1\nserver 192.0.2.2 minpoll 4\n").expect("write");
        s.reload_source_dirs(now, &mut e);
        assert_eq!(remote(&e), ["192.0.2.9", "192.0.2.1", "192.0.2.2"]);
        assert_eq!(e.source_ids()[1], kept);
        assert_ne!(e.source_ids()[2], SourceId(3));
        std::fs::remove_file(&file).expect("remove");
        s.reload_source_dirs(now, &mut e);
        assert_eq!(remote(&e), ["192.0.2.9"], "configured sources stay");
    }
}
