//! The `clients` report (cmdmon CLIENT_ACCESSES_BY_INDEX3) and the
//! `serverstats` counters, in the wire's types.

use std::net::IpAddr;

use krony_wire::cmdmon::CmdAddr;
pub use krony_wire::cmdmon::{ClientAccess, ClientAccesses, MAX_CLIENT_ACCESSES, ServerStats};

use super::bucket::{TS_FRAC, fixed_ts, reported_interval};
use super::table::{INVALID_TS, Record};
use super::{ClientLog, ClientLogError, Service, TimestampSource};
use crate::UnixTime;

/// "Last hit ago" of a service the client never used (or a hit that lies in
/// the future after a clock step); chronyc prints `-`.
pub const NEVER: u32 = u32::MAX;

/// Interval of a rate that was never measured; chronyc prints `-`.
pub const INTERVAL_UNKNOWN: i8 = 127;

/// Counts a request of `service`.
pub(super) fn count_hit(stats: &mut ServerStats, service: Service) {
    let c = match service {
        Service::Ntp => &mut stats.ntp_hits,
        Service::NtsKe => &mut stats.nke_hits,
        Service::Cmd => &mut stats.cmd_hits,
    };
    *c += 1;
}

/// Counts a request of `service` dropped by rate limiting.
pub(super) fn count_drop(stats: &mut ServerStats, service: Service) {
    let c = match service {
        Service::Ntp => &mut stats.ntp_drops,
        Service::NtsKe => &mut stats.nke_drops,
        Service::Cmd => &mut stats.cmd_drops,
    };
    *c += 1;
}

/// Counts an NTP response: authenticated or not, and how its timestamps
/// were taken.
pub(super) fn count_ntp_response(
    stats: &mut ServerStats,
    authenticated: bool,
    rx: Option<TimestampSource>,
    tx: Option<TimestampSource>,
) {
    if authenticated {
        stats.ntp_auth_hits += 1;
    }
    match rx {
        Some(TimestampSource::Daemon) => stats.ntp_daemon_rx_timestamps += 1,
        Some(TimestampSource::Kernel) => stats.ntp_kernel_rx_timestamps += 1,
        Some(TimestampSource::Hardware) => stats.ntp_hw_rx_timestamps += 1,
        None => {}
    }
    match tx {
        Some(TimestampSource::Daemon) => stats.ntp_daemon_tx_timestamps += 1,
        Some(TimestampSource::Kernel) => stats.ntp_kernel_tx_timestamps += 1,
        Some(TimestampSource::Hardware) => stats.ntp_hw_tx_timestamps += 1,
        None => {}
    }
}

/// Whole seconds from `then` to `now` (fixed-point times), or [`NEVER`].
fn seconds_ago(now: u32, then: u32) -> u32 {
    let diff = now.wrapping_sub(then);
    if then == INVALID_TS || (diff as i32) < 0 {
        NEVER
    } else {
        diff >> TS_FRAC
    }
}

fn make_report(record: &Record, ip: IpAddr, now_ts: u32) -> ClientAccess {
    let [ntp, nke, cmd] = [Service::Ntp, Service::NtsKe, Service::Cmd].map(|s| s as usize);
    ClientAccess {
        ip: CmdAddr::from(ip),
        ntp_hits: record.hits[ntp],
        nke_hits: record.hits[nke],
        cmd_hits: record.hits[cmd],
        ntp_drops: u32::from(record.drops[ntp]),
        nke_drops: u32::from(record.drops[nke]),
        cmd_drops: u32::from(record.drops[cmd]),
        ntp_interval: reported_interval(record.rate[ntp]),
        nke_interval: reported_interval(record.rate[nke]),
        cmd_interval: reported_interval(record.rate[cmd]),
        ntp_timeout_interval: reported_interval(record.ntp_timeout_rate),
        last_ntp_hit_ago: seconds_ago(now_ts, record.last_hit[ntp]),
        last_nke_hit_ago: seconds_ago(now_ts, record.last_hit[nke]),
        last_cmd_hit_ago: seconds_ago(now_ts, record.last_hit[cmd]),
    }
}

impl ClientLog {
    /// Size of the record index space, `None` with `noclientlog`.
    pub fn number_of_indices(&self) -> Option<u32> {
        self.table
            .as_ref()
            .map(|t| u32::try_from(t.len()).unwrap_or(u32::MAX))
    }

    /// The report for record `index`, if it holds a client with at least
    /// `min_hits` requests of some service (any client when 0). With
    /// `reset`, the record's hit and drop counters are zeroed after reading,
    /// whether it was reported or not.
    pub fn client_report(
        &mut self,
        index: usize,
        reset: bool,
        min_hits: u32,
        now: UnixTime,
    ) -> Option<ClientAccess> {
        let now_ts = fixed_ts(now, self.ts_offset);
        let record = self.table.as_mut()?.get_mut(index)?;
        let ip = record.ip?;
        let wanted = min_hits == 0 || record.hits.iter().any(|&h| h >= min_hits);
        let report = wanted.then(|| make_report(record, ip, now_ts));
        if reset {
            record.hits = [0; 3];
            record.drops = [0; 3];
        }
        report
    }

    /// Answers a CLIENT_ACCESSES_BY_INDEX3 request: walks the records from
    /// `first_index` and collects up to `n_clients` (at most 8) that pass
    /// `min_hits`, resetting the visited ones if asked.
    ///
    /// # Errors
    /// [`ClientLogError::Inactive`] with `noclientlog`.
    pub fn client_accesses_by_index(
        &mut self,
        first_index: u32,
        n_clients: u32,
        min_hits: u32,
        reset: bool,
        now: UnixTime,
    ) -> Result<ClientAccesses, ClientLogError> {
        let n_indices = self.number_of_indices().ok_or(ClientLogError::Inactive)?;
        let wanted =
            usize::try_from(n_clients).map_or(MAX_CLIENT_ACCESSES, |n| n.min(MAX_CLIENT_ACCESSES));
        let mut clients = Vec::with_capacity(wanted);
        let mut index = first_index;
        while index < n_indices && clients.len() < wanted {
            if let Some(r) = self.client_report(index as usize, reset, min_hits, now) {
                clients.push(r);
            }
            index += 1;
        }
        Ok(ClientAccesses {
            n_indices,
            next_index: index,
            clients,
        })
    }
}
