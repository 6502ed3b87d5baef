//! The `clients` report (cmdmon CLIENT_ACCESSES_BY_INDEX3) and the
//! `serverstats` counters.

use std::net::IpAddr;

use super::bucket::{TS_FRAC, fixed_ts, reported_interval};
use super::table::{INVALID_TS, Record};
use super::{ClientLog, ClientLogError, Service, TimestampSource};
use crate::UnixTime;

/// Most clients in one CLIENT_ACCESSES_BY_INDEX3 reply.
pub const MAX_CLIENT_ACCESSES: u32 = 8;

/// "Last hit ago" of a service the client never used (or a hit that lies in
/// the future after a clock step); chronyc prints `-`.
pub const NEVER: u32 = u32::MAX;

/// Interval of a rate that was never measured; chronyc prints `-`.
pub const INTERVAL_UNKNOWN: i8 = 127;

/// One client's line in the `clients` report (fields as on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAccessReport {
    /// The client address.
    pub ip: IpAddr,
    /// NTP requests since the last reset.
    pub ntp_hits: u32,
    /// NTS-KE connections since the last reset.
    pub nke_hits: u32,
    /// Command requests since the last reset.
    pub cmd_hits: u32,
    /// NTP responses dropped by rate limiting (16-bit counter).
    pub ntp_drops: u32,
    /// NTS-KE connections dropped.
    pub nke_drops: u32,
    /// Command responses dropped.
    pub cmd_drops: u32,
    /// Average NTP request interval, log2 s ("Int").
    pub ntp_interval: i8,
    /// Average NTS-KE interval, log2 s.
    pub nke_interval: i8,
    /// Average command interval, log2 s.
    pub cmd_interval: i8,
    /// Average NTP interval after dropped requests, log2 s ("IntL").
    pub ntp_timeout_interval: i8,
    /// Seconds since the last NTP request, or [`NEVER`].
    pub last_ntp_hit_ago: u32,
    /// Seconds since the last NTS-KE connection, or [`NEVER`].
    pub last_nke_hit_ago: u32,
    /// Seconds since the last command request, or [`NEVER`].
    pub last_cmd_hit_ago: u32,
}

/// One reply's worth of the `clients` report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAccessesPage {
    /// Size of the record table (the index space to walk).
    pub n_indices: u32,
    /// Where the next request should start.
    pub next_index: u32,
    /// At most [`MAX_CLIENT_ACCESSES`] clients.
    pub clients: Vec<ClientAccessReport>,
}

/// The serverstats counters (cmdmon SERVER_STATS4, in wire order).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ServerStats {
    /// NTP packets received (from allowed addresses).
    pub ntp_hits: u64,
    /// NTS-KE connections accepted.
    pub nke_hits: u64,
    /// Command packets received.
    pub cmd_hits: u64,
    /// NTP packets dropped by rate limiting.
    pub ntp_drops: u64,
    /// NTS-KE connections dropped.
    pub nke_drops: u64,
    /// Command packets dropped.
    pub cmd_drops: u64,
    /// Client records replaced for lack of memory ("Client log records
    /// dropped").
    pub log_drops: u64,
    /// Authenticated NTP responses.
    pub ntp_auth_hits: u64,
    /// Interleaved NTP responses.
    pub ntp_interleaved_hits: u64,
    /// Interleaved-mode timestamps held.
    pub ntp_timestamps: u64,
    /// Span of those timestamps in seconds.
    pub ntp_span_seconds: u64,
    /// NTP responses whose RX timestamp the daemon took.
    pub ntp_daemon_rx_timestamps: u64,
    /// NTP responses whose TX timestamp the daemon took.
    pub ntp_daemon_tx_timestamps: u64,
    /// RX timestamps from the kernel.
    pub ntp_kernel_rx_timestamps: u64,
    /// TX timestamps from the kernel.
    pub ntp_kernel_tx_timestamps: u64,
    /// RX timestamps from the hardware.
    pub ntp_hw_rx_timestamps: u64,
    /// TX timestamps from the hardware.
    pub ntp_hw_tx_timestamps: u64,
}

impl ServerStats {
    pub(super) fn add_hit(&mut self, service: Service) {
        let c = match service {
            Service::Ntp => &mut self.ntp_hits,
            Service::NtsKe => &mut self.nke_hits,
            Service::Cmd => &mut self.cmd_hits,
        };
        *c += 1;
    }

    pub(super) fn add_drop(&mut self, service: Service) {
        let c = match service {
            Service::Ntp => &mut self.ntp_drops,
            Service::NtsKe => &mut self.nke_drops,
            Service::Cmd => &mut self.cmd_drops,
        };
        *c += 1;
    }

    pub(super) fn add_ntp_response(
        &mut self,
        authenticated: bool,
        rx: Option<TimestampSource>,
        tx: Option<TimestampSource>,
    ) {
        if authenticated {
            self.ntp_auth_hits += 1;
        }
        match rx {
            Some(TimestampSource::Daemon) => self.ntp_daemon_rx_timestamps += 1,
            Some(TimestampSource::Kernel) => self.ntp_kernel_rx_timestamps += 1,
            Some(TimestampSource::Hardware) => self.ntp_hw_rx_timestamps += 1,
            None => {}
        }
        match tx {
            Some(TimestampSource::Daemon) => self.ntp_daemon_tx_timestamps += 1,
            Some(TimestampSource::Kernel) => self.ntp_kernel_tx_timestamps += 1,
            Some(TimestampSource::Hardware) => self.ntp_hw_tx_timestamps += 1,
            None => {}
        }
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

fn make_report(record: &Record, ip: IpAddr, now_ts: u32) -> ClientAccessReport {
    let [ntp, nke, cmd] = [Service::Ntp, Service::NtsKe, Service::Cmd].map(|s| s as usize);
    ClientAccessReport {
        ip,
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
    ) -> Option<ClientAccessReport> {
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
    ) -> Result<ClientAccessesPage, ClientLogError> {
        let n_indices = self.number_of_indices().ok_or(ClientLogError::Inactive)?;
        let wanted = n_clients.min(MAX_CLIENT_ACCESSES) as usize;
        let mut clients = Vec::with_capacity(wanted);
        let mut index = first_index;
        while index < n_indices && clients.len() < wanted {
            if let Some(r) = self.client_report(index as usize, reset, min_hits, now) {
                clients.push(r);
            }
            index += 1;
        }
        Ok(ClientAccessesPage {
            n_indices,
            next_index: index,
            clients,
        })
    }
}
