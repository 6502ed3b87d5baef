//! The reports chronyc asks for, as typed values (the cmdmon server maps
//! them to wire replies).

use std::net::SocketAddr;

use super::dumps::Restored;
use super::{Engine, Slot};
use crate::UnixTime;
use crate::clientlog::{ClientAccesses, ClientLogError, ServerStats};
use crate::discipline::TrackingReport;
use crate::select::{ReportState, SelectOptions, SelectState, SourceId};
use crate::source::{Activity, Association, NtpDataReport};
use crate::stats::{SourceReport, SourcestatsReport};

/// One line of `chronyc sources`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRow {
    /// The source.
    pub id: SourceId,
    /// Its address.
    pub addr: SocketAddr,
    /// The configured name.
    pub name: String,
    /// `^` server or `=` peer (a refclock says `Client`; see `refclock`).
    pub association: Association,
    /// A reference clock (`#`): `addr` holds its refid.
    pub refclock: bool,
    /// The state column.
    pub state: ReportState,
    /// Stratum.
    pub stratum: u8,
    /// Poll, log2 s.
    pub poll: i8,
    /// Reachability register (printed in octal).
    pub reach: u8,
    /// The last sample columns (`LastRx`, offsets, error).
    pub last: SourceReport,
}

/// One line of `chronyc sourcestats`.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceStatsRow {
    /// The source.
    pub id: SourceId,
    /// Its address.
    pub addr: SocketAddr,
    /// The configured name.
    pub name: String,
    /// The statistics.
    pub stats: SourcestatsReport,
}

/// One line of `chronyc selectdata`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectDataRow {
    /// The source.
    pub id: SourceId,
    /// Its address.
    pub addr: SocketAddr,
    /// The configured name.
    pub name: String,
    /// The `S` column.
    pub state: SelectState,
    /// Whether authentication is enabled for the source.
    pub authenticated: bool,
    /// Reachability register.
    pub reach: u8,
    /// `COpts`: configured options.
    pub configured: SelectOptions,
    /// `EOpts`: effective options.
    pub effective: SelectOptions,
    /// `Last`: age of the newest sample, seconds.
    pub last_sample_ago: f64,
    /// `Score`.
    pub score: f64,
    /// Low end of the selection interval, seconds.
    pub lo: f64,
    /// High end of the selection interval, seconds.
    pub hi: f64,
    /// Whether the source votes on leap seconds.
    pub leap_vote: bool,
}

/// `chronyc activity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ActivityReport {
    /// Sources online.
    pub online: u32,
    /// Sources offline.
    pub offline: u32,
    /// Sources in a burst, returning to online.
    pub burst_online: u32,
    /// Sources in a burst, returning to offline.
    pub burst_offline: u32,
    /// Sources whose address is not resolved yet.
    pub unresolved: u32,
}

impl Engine {
    /// `chronyc tracking` at raw time `now`.
    pub fn tracking(&mut self, now: UnixTime) -> TrackingReport {
        self.reference.tracking_report(now)
    }

    /// `chronyc sources` at raw time `now`.
    pub fn sources(&self, now: UnixTime) -> Vec<SourceRow> {
        let cooked = self.cook(now);
        self.sources
            .iter()
            .map(|(id, s)| {
                let data = s.source.source_report();
                SourceRow {
                    id: *id,
                    addr: s.source.remote(),
                    name: s.name.clone(),
                    association: data.association,
                    refclock: false,
                    state: self.state_of(*id).report_state(),
                    stratum: Restored::stratum_leap(s.restored.as_ref())
                        .map_or(data.stratum, |(stratum, _)| stratum),
                    poll: data.poll,
                    reach: Restored::reach(s.restored.as_ref(), data.reach).register,
                    last: s.source.stats().get_source_report(cooked, true),
                }
            })
            .chain(self.refclocks.slots.iter().map(|(id, r)| SourceRow {
                id: *id,
                addr: refid_addr(r.source.ref_id()),
                name: crate::refclock::ref_id_text(r.source.ref_id()),
                association: Association::Client,
                refclock: true,
                state: self.state_of(*id).report_state(),
                stratum: r.source.stratum(),
                poll: r.source.params().poll,
                reach: r.source.reachability().register,
                last: r.source.stats().get_source_report(cooked, false),
            }))
            .collect::<Vec<_>>()
            .sorted_by_id()
    }

    /// `chronyc sourcestats` at raw time `now`.
    pub fn sourcestats(&self, now: UnixTime) -> Vec<SourceStatsRow> {
        let cooked = self.cook(now);
        self.sources
            .iter()
            .map(|(id, s)| SourceStatsRow {
                id: *id,
                addr: s.source.remote(),
                name: s.name.clone(),
                stats: s.source.stats().get_sourcestats_report(cooked),
            })
            .chain(self.refclocks.slots.iter().map(|(id, r)| SourceStatsRow {
                id: *id,
                addr: refid_addr(r.source.ref_id()),
                name: crate::refclock::ref_id_text(r.source.ref_id()),
                stats: r.source.stats().get_sourcestats_report(cooked),
            }))
            .collect::<Vec<_>>()
            .sorted_by_id()
    }

    /// `chronyc selectdata`: each source as the last selection round saw it.
    pub fn selectdata(&self) -> Vec<SelectDataRow> {
        self.sources
            .iter()
            .map(|(id, s)| select_row(*id, s, self.state_of(*id)))
            .chain(self.refclocks.slots.iter().map(|(id, r)| {
                let sel = r.selection;
                SelectDataRow {
                    id: *id,
                    addr: refid_addr(r.source.ref_id()),
                    name: crate::refclock::ref_id_text(r.source.ref_id()),
                    state: self.state_of(*id),
                    authenticated: false,
                    reach: r.source.reachability().register,
                    configured: r.options,
                    effective: sel.map_or(r.options, |x| x.effective),
                    last_sample_ago: sel.map_or(0.0, |x| x.last_sample_ago),
                    score: sel.map_or(1.0, |x| x.score),
                    lo: sel.map_or(0.0, |x| x.lo),
                    hi: sel.map_or(0.0, |x| x.hi),
                    leap_vote: sel.is_some_and(|x| x.leap_vote),
                }
            }))
            .collect::<Vec<_>>()
            .sorted_by_id()
    }

    /// The ids of all sources and refclocks, in the order chronyc lists
    /// them (the order they were added).
    pub fn report_ids(&self) -> Vec<SourceId> {
        let mut ids: Vec<SourceId> = self
            .sources
            .keys()
            .chain(self.refclocks.slots.keys())
            .copied()
            .collect();
        ids.sort_unstable();
        ids
    }

    /// The reference ID of a source or refclock.
    pub fn report_ref_id(&self, id: SourceId) -> Option<u32> {
        match self.sources.get(&id) {
            Some(s) => Some(s.source.ref_id().0),
            None => self.refclocks.slots.get(&id).map(|r| r.source.ref_id()),
        }
    }

    /// The leap status a source or refclock reports.
    pub fn report_leap(&self, id: SourceId) -> Option<crate::clock::LeapStatus> {
        match self.sources.get(&id) {
            Some(s) => Some(s.source.leap()),
            None => self
                .refclocks
                .slots
                .get(&id)
                .map(|r| r.source.status_leap()),
        }
    }

    /// `chronyc ntpdata` for one source.
    pub fn ntpdata(&self, id: SourceId) -> Option<NtpDataReport> {
        self.sources.get(&id).map(|s| s.source.ntp_data_report())
    }

    /// `chronyc activity`.
    pub fn activity(&self) -> ActivityReport {
        let mut r = ActivityReport::default();
        for s in self.sources.values() {
            if s.unresolved {
                r.unresolved += 1;
                continue;
            }
            match s.source.activity() {
                Activity::Online => r.online += 1,
                Activity::Offline => r.offline += 1,
                Activity::BurstOnline => r.burst_online += 1,
                Activity::BurstOffline => r.burst_offline += 1,
            }
        }
        r
    }

    /// `chronyc serverstats`; `None` without a server.
    pub fn serverstats(&self) -> Option<ServerStats> {
        self.server.as_ref().map(|s| s.server_stats())
    }

    /// `chronyc clients`: up to `n_clients` records from `first_index` with
    /// at least `min_hits` requests, at raw time `now`.
    ///
    /// # Errors
    /// [`ClientLogError::Inactive`] without a server or with `noclientlog`.
    pub fn clients(
        &mut self,
        now: UnixTime,
        first_index: u32,
        n_clients: u32,
        min_hits: u32,
        reset: bool,
    ) -> Result<ClientAccesses, ClientLogError> {
        let cooked = self.cook(now);
        let server = self.server.as_mut().ok_or(ClientLogError::Inactive)?;
        server.client_log_mut().client_accesses_by_index(
            first_index,
            n_clients,
            min_hits,
            reset,
            cooked,
        )
    }

    /// A source's state after the last round (`M` before any).
    fn state_of(&self, id: SourceId) -> SelectState {
        self.selector
            .state(id)
            .unwrap_or(SelectState::MissingSamples)
    }
}

/// A refclock's refid in the place of an address (cmdmon sends it as an
/// IPv4 address).
fn refid_addr(ref_id: u32) -> SocketAddr {
    SocketAddr::new(std::net::Ipv4Addr::from(ref_id).into(), 0)
}

/// Report rows in id order.
trait SortedById {
    fn sorted_by_id(self) -> Self;
}

macro_rules! sorted_by_id {
    ($($t:ty),*) => {$(
        impl SortedById for Vec<$t> {
            fn sorted_by_id(mut self) -> Self {
                self.sort_by_key(|r| r.id);
                self
            }
        }
    )*};
}
sorted_by_id!(SourceRow, SourceStatsRow, SelectDataRow);

fn select_row(id: SourceId, s: &Slot, state: SelectState) -> SelectDataRow {
    let sel = s.selection;
    SelectDataRow {
        id,
        addr: s.source.remote(),
        name: s.name.clone(),
        state,
        authenticated: s.source.candidate(id).authenticated,
        reach: Restored::reach(s.restored.as_ref(), s.source.reachability()).register,
        configured: s.options,
        effective: sel.map_or(s.options, |r| r.effective),
        last_sample_ago: sel.map_or(0.0, |r| r.last_sample_ago),
        score: sel.map_or(1.0, |r| r.score),
        lo: sel.map_or(0.0, |r| r.lo),
        hi: sel.map_or(0.0, |r| r.hi),
        leap_vote: sel.is_some_and(|r| r.leap_vote),
    }
}
