//! Sources in the engine: adding and removing them, routing their packets,
//! acting on their events, and running selection with its result going to
//! the reference (chrony's `ntp_sources.c` and `sources.c` glue).

use std::net::SocketAddr;

use krony_config::{SourceKind as ConfigKind, SourceOptions};
use krony_wire::ntp::{LeapIndicator, NtpRepr};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::dumps::Restored;
use super::{
    Engine, EngineError, EngineEvent, Incoming, SelectionRecord, Slot, StatisticsRecord, Transmit,
};
use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::discipline::{LogLevel, RefMode, SyncUpdate};
use crate::select::{self, SelectEvent, Severity, SourceId};
use crate::source::{
    Association, LocalContext, NtpSource, OurReference, ReceivedPacket, RxOutcome, SourceEvent,
    SourceParams, stats_params,
};
use crate::stats::SourceStats;

impl Engine {
    /// Adds a `server`, `pool` member or `peer` at `addr` (the port of the
    /// configuration's `port` option), with the line's options; `name` is
    /// what the configuration says (a host name or the address). The source
    /// starts polling at once unless `offline` is set.
    ///
    /// # Errors
    /// [`EngineError::SourceExists`] if a source has this address and port.
    pub fn add_source(
        &mut self,
        now: UnixTime,
        addr: SocketAddr,
        kind: ConfigKind,
        options: &SourceOptions,
        name: &str,
    ) -> Result<SourceId, EngineError> {
        let id = self.reserve_source_id();
        self.add_source_as(id, now, addr, kind, options, name)
    }

    /// A new source id, for a source added later with
    /// [`add_source_as`](Self::add_source_as): reports list sources in the
    /// order of their ids, so a driver that reserves ids in the order of the
    /// configuration keeps that order whatever order names resolve in, as
    /// chronyd registers its sources at start.
    pub fn reserve_source_id(&mut self) -> SourceId {
        let id = SourceId(self.next_id);
        self.next_id += 1;
        id
    }

    /// [`add_source`](Self::add_source) with an id from
    /// [`reserve_source_id`](Self::reserve_source_id).
    ///
    /// # Errors
    /// [`EngineError::SourceExists`] if a source has this address and port
    /// or this id.
    pub fn add_source_as(
        &mut self,
        id: SourceId,
        now: UnixTime,
        addr: SocketAddr,
        kind: ConfigKind,
        options: &SourceOptions,
        name: &str,
    ) -> Result<SourceId, EngineError> {
        self.insert_source(id, now, addr, kind, options, name, false)
    }

    /// Creates the source; an unresolved one is not started.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn insert_source(
        &mut self,
        id: SourceId,
        now: UnixTime,
        addr: SocketAddr,
        kind: ConfigKind,
        options: &SourceOptions,
        name: &str,
        unresolved: bool,
    ) -> Result<SourceId, EngineError> {
        if self.source_by_addr(addr).is_some() || self.sources.contains_key(&id) {
            return Err(EngineError::SourceExists(addr));
        }
        let assoc = match kind {
            ConfigKind::Peer => Association::SymmetricActive,
            ConfigKind::Server | ConfigKind::Pool => Association::Client,
        };
        let params = SourceParams::from_options(options, assoc);
        let select = params.select;
        let stats = stats_params(options, self.cfg.stats);
        let rng = StdRng::seed_from_u64(self.source_seed());
        let mut source = NtpSource::new(
            addr,
            assoc,
            params,
            stats,
            self.cfg.precision,
            !options.offline,
            rng,
        );
        source.set_log_raw_measurements(self.cfg.log_raw_measurements);
        if !unresolved {
            source.start(self.cook(now));
        }
        self.sources.insert(
            id,
            Slot {
                source,
                name: name.to_string(),
                options: select,
                selection: None,
                restored: None,
                unresolved,
            },
        );
        // The driver logs "Added source/pool": it knows the names, pools
        // and whether a command or a sourcedir file added it.
        self.drain_source(now, id);
        Ok(id)
    }

    /// Removes a source; selection runs again without it. The driver logs
    /// "Removed source/pool".
    ///
    /// # Errors
    /// [`EngineError::UnknownSource`].
    pub fn remove_source(&mut self, now: UnixTime, id: SourceId) -> Result<(), EngineError> {
        self.sources.remove(&id).ok_or(EngineError::UnknownSource)?;
        self.selector.reset_source(id);
        self.select(now, None);
        Ok(())
    }

    /// Moves a source to a new address (a pool member replaced, a name
    /// resolved again); its measurements start over.
    ///
    /// # Errors
    /// [`EngineError::UnknownSource`], or [`EngineError::SourceExists`] if
    /// another source has the address.
    pub fn change_source_address(
        &mut self,
        now: UnixTime,
        id: SourceId,
        addr: SocketAddr,
    ) -> Result<(), EngineError> {
        if self.source_by_addr(addr).is_some_and(|other| other != id) {
            return Err(EngineError::SourceExists(addr));
        }
        if self.is_unresolved(id) {
            return self.resolve_source(now, id, addr);
        }
        let cooked = self.cook(now);
        let slot = self
            .sources
            .get_mut(&id)
            .ok_or(EngineError::UnknownSource)?;
        let old = slot.source.remote();
        slot.source.change_address(cooked, addr);
        slot.selection = None;
        slot.restored = None;
        let text = format!(
            "Source {} replaced with {} ({})",
            old.ip(),
            addr.ip(),
            slot.name
        );
        self.separate_timers();
        self.events
            .push_back(EngineEvent::log(LogLevel::Info, text));
        self.selector.reset_source(id);
        self.select(now, None);
        Ok(())
    }

    /// The ids of all sources, in order.
    pub fn source_ids(&self) -> Vec<SourceId> {
        self.sources.keys().copied().collect()
    }

    /// A source, to read its state.
    pub fn source(&self, id: SourceId) -> Option<&NtpSource> {
        self.sources.get(&id).map(|s| &s.source)
    }

    /// For an NTS source: whether the driver can authenticate its next
    /// request (see [`NtpSource::set_nts_ready`]).
    pub fn set_source_nts_ready(&mut self, id: SourceId, ready: bool) {
        if let Some(s) = self.sources.get_mut(&id) {
            s.source.set_nts_ready(ready);
        }
    }

    /// For an NTS source: whether a poll was missed because the driver was
    /// not ready since the last call (see [`NtpSource::take_nts_missed`]).
    pub fn take_source_nts_missed(&mut self, id: SourceId) -> bool {
        self.sources
            .get_mut(&id)
            .is_some_and(|s| s.source.take_nts_missed())
    }

    /// The source with this address and port.
    pub fn source_by_addr(&self, addr: SocketAddr) -> Option<SourceId> {
        self.sources
            .iter()
            .find(|(_, s)| s.source.remote() == addr)
            .map(|(id, _)| *id)
    }

    /// The selection state of every source after the last round.
    pub fn select_states(&self) -> Vec<(SourceId, select::SelectState)> {
        self.sources
            .keys()
            .filter_map(|id| self.selector.state(*id).map(|s| (*id, s)))
            .collect()
    }

    /// What sources need to know about us at raw time `now`.
    pub(super) fn local_context(&mut self, now: UnixTime) -> LocalContext {
        let p = self.reference.server_params(now);
        let leap = match p.leap {
            LeapStatus::Normal => LeapIndicator::NoWarning,
            LeapStatus::InsertSecond => LeapIndicator::Insert,
            LeapStatus::DeleteSecond => LeapIndicator::Delete,
            LeapStatus::Unsynchronised => LeapIndicator::Unsynchronized,
        };
        // As chronyd, the server socket is open when some client is allowed
        // or a peer needs it (peers send from and listen on it), and then
        // test D checks for synchronisation loops.
        let has_peers = || {
            self.sources
                .values()
                .any(|s| s.source.association() == Association::SymmetricActive)
        };
        let server_open = self.server.as_ref().is_some_and(|s| {
            s.access().is_any_allowed(false) || s.access().is_any_allowed(true) || has_peers()
        });
        LocalContext {
            reference: OurReference {
                leap,
                stratum: p.stratum,
                ref_id: krony_wire::ntp::RefId(p.ref_id),
                ref_time: p.ref_time,
                root_delay: p.root_delay,
                root_dispersion: p.root_dispersion,
            },
            precision: self.cfg.precision,
            precision_log2: crate::server::precision_log2(self.cfg.precision),
            max_clock_error: self.cfg.max_clock_error,
            check_sync_loop: server_open && self.reference.mode() == RefMode::Normal,
            near_leap_second: self.reference.is_near_leap(now),
            mono: self.mono,
        }
    }

    /// Gives a parsed packet to source `id`; returns true when it is a
    /// request the server should answer instead.
    pub(super) fn process_source_packet(
        &mut self,
        now: UnixTime,
        id: SourceId,
        rx: &Incoming<'_>,
        packet: &NtpRepr,
    ) -> bool {
        let ctx = self.local_context(now);
        let rx_ts = self.cooked_ts(rx.rx_time, rx.rx_kind);
        let cooked = self.cook(now);
        let Some(slot) = self.sources.get_mut(&id) else {
            return false;
        };
        let rp = ReceivedPacket {
            packet,
            rx: rx_ts,
            local_addr: rx.local,
            mac_verified: rx.mac_verified,
        };
        let outcome = slot.source.handle_packet(cooked, &rp, &ctx);
        self.drain_source(now, id);
        matches!(outcome, RxOutcome::Request)
    }

    /// Collects a source's transmits and acts on its events.
    pub(super) fn drain_source(&mut self, now: UnixTime, id: SourceId) {
        self.separate_timers();
        let mut events = Vec::new();
        if let Some(slot) = self.sources.get_mut(&id) {
            while let Some(t) = slot.source.poll_transmit() {
                self.transmits.push_back(Transmit {
                    to: t.remote,
                    local: None,
                    source: Some(id),
                    bytes: t.bytes,
                    new_client_socket: t.new_client_socket,
                    mac_key_id: t.mac_key_id,
                    wants_tx_timestamp: true,
                });
            }
            while let Some(e) = slot.source.poll_event() {
                events.push(e);
            }
        }
        for e in events {
            self.handle_source_event(now, id, e);
        }
    }

    fn handle_source_event(&mut self, now: UnixTime, id: SourceId, e: SourceEvent) {
        let Some(slot) = self.sources.get(&id) else {
            return;
        };
        let ip = slot.source.remote().ip();
        match e {
            SourceEvent::SampleAccumulated { .. } => {
                let log = self.cfg.log_statistics;
                if let Some(slot) = self.sources.get_mut(&id) {
                    Restored::sampled(&mut slot.restored);
                    let regression = slot.source.stats_mut().take_regression();
                    if let Some((time, info)) = regression.filter(|_| log) {
                        let record = StatisticsRecord {
                            id,
                            addr: ip,
                            time,
                            info,
                        };
                        self.events
                            .push_back(EngineEvent::Statistics(Box::new(record)));
                    }
                }
                self.select(now, Some(id));
            }
            SourceEvent::Unreachable { full } => {
                // Any NTP source, not only pool members: the driver keeps
                // sources given by address (chrony's `NSR_HandleBadSource`).
                if full {
                    self.events.push_back(EngineEvent::ReplaceSource(id));
                }
                self.select(now, None);
            }
            SourceEvent::Connectivity { online } => self.events.push_back(EngineEvent::log(
                LogLevel::Info,
                format!("Source {ip} {}", if online { "online" } else { "offline" }),
            )),
            SourceEvent::KodRate => self.events.push_back(EngineEvent::log(
                LogLevel::Warn,
                format!("Received KoD RATE from {ip}"),
            )),
            SourceEvent::KodDeny { code } => self.events.push_back(EngineEvent::log(
                LogLevel::Debug,
                format!("Received KoD {code:?} from {ip}"),
            )),
            SourceEvent::HistoryReset => self.events.push_back(EngineEvent::log(
                LogLevel::Warn,
                format!("Out of order sample detected, discarding history for {ip}"),
            )),
            SourceEvent::SampleDroppedNearLeap => self.events.push_back(EngineEvent::log(
                LogLevel::Info,
                "Dropping sample around leap second",
            )),
            SourceEvent::Measurement(record) => {
                if self.cfg.log_measurements {
                    self.events.push_back(EngineEvent::Measurement(record));
                }
            }
            SourceEvent::ParameterChanged { name, value } => self.events.push_back(
                EngineEvent::log(LogLevel::Info, format!("Source {ip} new {name} {value}")),
            ),
        }
    }

    /// The printable name of a source in selection messages: its address,
    /// and the configured name in parentheses when it differs.
    fn display_name(&self, id: SourceId) -> String {
        match self.sources.get(&id) {
            Some(s) => {
                let ip = s.source.remote().ip().to_string();
                if s.name.is_empty() || s.name == ip {
                    ip
                } else {
                    format!("{ip} ({})", s.name)
                }
            }
            None => match self.refclocks.slots.get(&id) {
                Some(r) => crate::refclock::ref_id_text(r.source.ref_id()),
                None => "?".to_string(),
            },
        }
    }

    /// One selection round (`updated`: the source with a new sample), and
    /// the reference update it gives.
    pub(super) fn select(&mut self, now: UnixTime, updated: Option<SourceId>) {
        let cooked = self.cook(now);
        let candidates: Vec<select::Candidate> = self
            .sources
            .iter()
            .map(|(id, slot)| {
                let mut c = slot.source.candidate(*id);
                c.options = slot.options;
                c.reach = Restored::reach(slot.restored.as_ref(), c.reach);
                if let Some((stratum, leap)) = Restored::stratum_leap(slot.restored.as_ref()) {
                    (c.stratum, c.leap) = (stratum, leap);
                }
                c.stats = selection_stats(slot.source.stats(), cooked);
                c
            })
            .chain(self.refclocks.slots.iter().map(|(id, slot)| {
                let mut c = slot.source.candidate(*id);
                c.options = slot.options;
                c.stats = selection_stats(slot.source.stats(), cooked);
                c
            }))
            .collect();
        let cfg = self.select_config();
        let sel = self.selector.select(&candidates, updated, &cfg);
        if self.cfg.log_selection {
            self.log_selection(cooked, &candidates, &sel.sources);
        }
        for r in &sel.sources {
            if let Some(slot) = self.sources.get_mut(&r.id) {
                slot.selection = Some(*r);
            } else if let Some(slot) = self.refclocks.slots.get_mut(&r.id) {
                slot.selection = Some(*r);
            }
        }
        for (id, slot) in &mut self.sources {
            slot.source.set_sync_peer(sel.selected == Some(*id));
        }
        let normal = self.reference.mode() == RefMode::Normal;
        for ev in &sel.events {
            match ev {
                SelectEvent::Unsynchronise => {
                    self.reference.set_unsynchronised(now);
                    self.drain_reference(now);
                }
                SelectEvent::BadSource(id) => {
                    self.events.push_back(EngineEvent::ReplaceSource(*id));
                }
                _ if normal => {
                    let level = match ev.severity() {
                        Some(Severity::Info) => LogLevel::Info,
                        Some(Severity::Warning) => LogLevel::Warn,
                        Some(Severity::Error) => LogLevel::Error,
                        None => continue,
                    };
                    if let Some(text) = ev.message(|id| self.display_name(id)) {
                        self.events.push_back(EngineEvent::log(level, text));
                    }
                }
                _ => {}
            }
        }
        if let Some(u) = sel.reference {
            let update = SyncUpdate {
                stratum: u.stratum,
                leap: u.leap,
                combined_sources: u32::try_from(u.combined).unwrap_or(u32::MAX),
                ref_id: u.ref_id,
                ref_ip: self.sources.get(&u.source).map(|s| s.source.remote().ip()),
                ref_time: u.tracking.ref_time,
                offset: u.tracking.offset,
                offset_sd: u.tracking.offset_sd,
                frequency: u.tracking.frequency,
                frequency_sd: u.tracking.frequency_sd,
                skew: u.tracking.skew,
                root_delay: u.tracking.root_delay,
                root_dispersion: u.tracking.root_dispersion,
            };
            self.reference.set_reference(now, &update);
            self.drain_reference(now);
        }
    }
}

impl Engine {
    /// The `selection` log's line of every source in a round.
    fn log_selection(
        &mut self,
        cooked: UnixTime,
        candidates: &[select::Candidate],
        reports: &[select::SourceReport],
    ) {
        for r in reports {
            let Some(c) = candidates.iter().find(|c| c.id == r.id) else {
                continue;
            };
            let addr = match self.sources.get(&r.id) {
                Some(slot) => slot.source.remote().ip(),
                // A refclock: its refid in the place of an address.
                None => std::net::IpAddr::V4(c.ref_id.into()),
            };
            let record = SelectionRecord {
                id: r.id,
                addr,
                time: cooked,
                state: r.state,
                options: r.effective,
                reach: c.reach.register,
                score: r.score,
                last_sample_ago: r.last_sample_ago,
                lo: r.lo,
                hi: r.hi,
            };
            self.events
                .push_back(EngineEvent::Selection(Box::new(record)));
        }
    }
}

/// A source's statistics as selection wants them at cooked time `now`;
/// `None` until the regression has succeeded.
fn selection_stats(stats: &SourceStats, now: UnixTime) -> Option<select::SourceStats> {
    let sd = stats.get_selection_data(now)?;
    let td = stats.get_tracking_data()?;
    Some(select::SourceStats {
        usable: true,
        lo: sd.lo_limit,
        hi: sd.hi_limit,
        root_distance: sd.root_distance,
        std_dev: sd.std_dev,
        first_sample_ago: sd.first_sample_ago,
        last_sample_ago: sd.last_sample_ago,
        tracking: select::TrackingData {
            ref_time: td.ref_time,
            offset: td.offset,
            offset_sd: td.offset_sd,
            frequency: td.frequency,
            frequency_sd: td.frequency_sd,
            skew: td.skew,
            root_delay: td.root_delay,
            root_dispersion: td.root_dispersion,
        },
    })
}
