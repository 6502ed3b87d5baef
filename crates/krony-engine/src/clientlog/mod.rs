//! The client log: per-client access records, response rate limiting, the
//! `clients` and `serverstats` reports, and the timestamps kept for the NTP
//! interleaved mode. Behaviour follows chrony's client log.
//!
//! # Use
//! For each request from a client (NTP, NTS-KE or command) that passed the
//! access check ([`crate::access`]):
//! 1. [`ClientLog::log_access`] counts it and returns the client's record
//!    index (none with `noclientlog` or for a Unix-socket command client);
//! 2. [`ClientLog::limit_rate`] with that index says whether to answer,
//!    drop, or (NTP only) send a KoD RATE. Call it right after step 1: an
//!    index may change when a later request grows the table.
//!
//! [`ClientLog::check_access`] does both, and never limits commands from
//! 127.0.0.1 or ::1, as chronyd does.
//!
//! The log never reads a clock or a random source of its own: times are
//! passed in and randomness comes from the caller's [`RngCore`], so a seeded
//! generator gives reproducible decisions.

mod bucket;
mod ntpts;
mod report;
mod table;

pub use ntpts::StoredTx;
pub use report::{
    ClientAccess, ClientAccesses, INTERVAL_UNKNOWN, MAX_CLIENT_ACCESSES, NEVER, ServerStats,
};

use std::net::IpAddr;

use rand::RngCore;

use crate::UnixTime;
use crate::access::is_cmd_localhost;
use bucket::{Bucket, RandomBits, fixed_ts};
use ntpts::NtpTimestampMap;
use table::{INVALID_RATE, INVALID_TS, RecordTable, SERVICES};

/// Default `clientloglimit` in bytes.
pub const DEFAULT_CLIENT_LOG_LIMIT: u64 = 524_288;

/// Errors of the client log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientLogError {
    /// `noclientlog` together with `ratelimit`, `ntsratelimit` or
    /// `cmdratelimit` (chrony refuses to start).
    #[error("Rate limiting cannot be enabled with noclientlog")]
    RateLimitWithoutLog,
    /// The log is disabled (`noclientlog`); cmdmon status 15, chronyc
    /// "519 Client logging is not active in the daemon".
    #[error("client logging is not active")]
    Inactive,
}

/// A service whose requests are logged and limited separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// NTP requests (`ratelimit`).
    Ntp = 0,
    /// NTS-KE connections (`ntsratelimit`).
    NtsKe = 1,
    /// Command (cmdmon) requests (`cmdratelimit`).
    Cmd = 2,
}

impl Service {
    fn idx(self) -> usize {
        self as usize
    }
}

/// How a timestamp was captured (serverstats counts each kind).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampSource {
    /// Read by the daemon after the fact.
    Daemon,
    /// Taken by the kernel (SO_TIMESTAMPING software).
    Kernel,
    /// Taken by the network card.
    Hardware,
}

/// The answer of the rate limiter for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// Respond normally.
    Pass,
    /// Do not respond.
    Drop,
    /// Respond with a KoD RATE packet instead (NTP with `kod` only).
    Kod,
}

/// One `ratelimit`-style directive. Values out of chrony's ranges are
/// clamped when the log is created (interval -19..12, burst 1..255, leak
/// 1..4, kod 0..4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RateLimitConfig {
    /// Minimum interval between responses, log2 seconds.
    pub interval: i32,
    /// Responses allowed in a burst above the interval.
    pub burst: i32,
    /// One in 2^leak limited responses is sent anyway, so that a spoofed
    /// flood cannot silence a real client.
    pub leak: i32,
    /// One in 2^kod limited responses becomes a KoD RATE (0 = never; NTP
    /// only).
    pub kod: i32,
}

impl RateLimitConfig {
    /// `ratelimit` with no options.
    pub const NTP_DEFAULT: RateLimitConfig = RateLimitConfig {
        interval: 3,
        burst: 8,
        leak: 2,
        kod: 0,
    };
    /// `ntsratelimit` with no options.
    pub const NTS_DEFAULT: RateLimitConfig = RateLimitConfig {
        interval: 6,
        ..Self::NTP_DEFAULT
    };
    /// `cmdratelimit` with no options.
    pub const CMD_DEFAULT: RateLimitConfig = RateLimitConfig {
        interval: -4,
        ..Self::NTP_DEFAULT
    };
}

/// The client-log directives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientLogConfig {
    /// False with `noclientlog`: no records, no rate limiting, no
    /// interleaved server mode.
    pub enabled: bool,
    /// `clientloglimit` in bytes.
    pub limit_bytes: u64,
    /// `ratelimit`, if given.
    pub ntp: Option<RateLimitConfig>,
    /// `ntsratelimit`, if given.
    pub nts: Option<RateLimitConfig>,
    /// `cmdratelimit`, if given.
    pub cmd: Option<RateLimitConfig>,
}

impl Default for ClientLogConfig {
    fn default() -> Self {
        ClientLogConfig {
            enabled: true,
            limit_bytes: DEFAULT_CLIENT_LOG_LIMIT,
            ntp: None,
            nts: None,
            cmd: None,
        }
    }
}

/// A client's position in the log. It is meant for the request just
/// logged: a later access may move or replace the record, and then the
/// index no longer finds the client (and limits nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientIndex {
    index: usize,
    ip: IpAddr,
}

impl ClientIndex {
    /// The record index, as used by the `clients` report.
    pub fn get(self) -> usize {
        self.index
    }
}

/// The client log of a server.
#[derive(Debug, Clone)]
pub struct ClientLog {
    /// `None` with `noclientlog`.
    table: Option<RecordTable>,
    /// `None` with `noclientlog`.
    timestamps: Option<NtpTimestampMap>,
    buckets: [Bucket; SERVICES],
    /// Random offset (below 1/16 s) added to times before they are stored.
    ts_offset: u32,
    random: RandomBits,
    stats: ServerStats,
}

impl ClientLog {
    /// A log for `config`, drawing its hash seed and time offset from `rng`.
    ///
    /// # Errors
    /// [`ClientLogError::RateLimitWithoutLog`] if a rate limit is configured
    /// with `noclientlog`.
    pub fn new<R: RngCore + ?Sized>(
        config: &ClientLogConfig,
        rng: &mut R,
    ) -> Result<Self, ClientLogError> {
        let bucket = |c: &Option<RateLimitConfig>| c.as_ref().map_or(Bucket::DISABLED, Bucket::new);
        let buckets = [
            bucket(&config.ntp),
            bucket(&config.nts),
            bucket(&config.cmd),
        ];
        if !config.enabled && buckets.iter().any(Bucket::enabled) {
            return Err(ClientLogError::RateLimitWithoutLog);
        }
        let (table, timestamps) = if config.enabled {
            let max_slots =
                usize::try_from(table::max_slots_for(config.limit_bytes)).unwrap_or(usize::MAX);
            let max_records =
                usize::try_from(table::max_records_for(config.limit_bytes)).unwrap_or(usize::MAX);
            // A zero seed would make the hash start from zero for everyone.
            let seed = rng.next_u32().max(1);
            (
                Some(RecordTable::new(max_slots, seed)),
                Some(NtpTimestampMap::new(max_records)),
            )
        } else {
            (None, None)
        };
        let ts_offset = rng.next_u32() % (1_000_000_000 >> bucket::TS_FRAC);
        Ok(ClientLog {
            table,
            timestamps,
            buckets,
            ts_offset,
            random: RandomBits::default(),
            stats: ServerStats::default(),
        })
    }

    /// Whether client records are kept (no `noclientlog`).
    pub fn is_active(&self) -> bool {
        self.table.is_some()
    }

    /// The most client records the configured memory allows (a power of
    /// two: 4096 for the default 524288 bytes); 0 with `noclientlog`.
    pub fn max_records(&self) -> usize {
        self.timestamps.as_ref().map_or(0, |t| t.max_size())
    }

    /// Counts a request of `service` from `client` (`None` for a client
    /// without an IP address, e.g. on the Unix command socket) and updates
    /// its record: hit counter, last-hit time, rate estimate, token bucket.
    pub fn log_access(
        &mut self,
        service: Service,
        client: Option<IpAddr>,
        now: UnixTime,
    ) -> Option<ClientIndex> {
        let s = service.idx();
        report::count_hit(&mut self.stats, service);
        let (ip, table) = (client?, self.table.as_mut()?);
        let full = self.buckets.map(|b| b.max_tokens);
        let placed = table.find_or_insert(ip, full);
        if placed.evicted {
            self.stats.log_drops += 1;
        }
        let record = table.get_mut(placed.index)?;
        let now_ts = fixed_ts(now, self.ts_offset);
        let prev = record.last_hit[s];
        record.last_hit[s] = now_ts;
        record.hits[s] = record.hits[s].wrapping_add(1);

        let interval = now_ts.wrapping_sub(prev);
        // Nothing to measure on the first request or if time went back.
        if prev != INVALID_TS && (interval as i32) >= 0 {
            let bucket = &self.buckets[s];
            record.tokens[s] = bucket.refill(record.tokens[s], now_ts, prev);
            // After a dropped NTP request the interval shows how the client
            // behaves without answers; it is tracked separately.
            let rate = if service == Service::Ntp && record.drop_flags & (1 << s) != 0 {
                &mut record.ntp_timeout_rate
            } else {
                &mut record.rate[s]
            };
            bucket::update_rate(rate, bucket::scaled_log2_interval(interval));
        }
        Some(ClientIndex {
            index: placed.index,
            ip,
        })
    }

    /// Decides whether to answer the request just logged for `index`.
    ///
    /// A response costs tokens from the client's bucket; when the bucket is
    /// short the response is dropped, except one in 2^leak which is let
    /// through (and empties the bucket). For NTP with `kod`, one in 2^kod of
    /// the dropped responses becomes a KoD RATE instead (not counted as a
    /// drop). An NTP client that polls more than twice as fast when it gets
    /// no answers is mostly answered, to avoid making it worse.
    pub fn limit_rate<R: RngCore + ?Sized>(
        &mut self,
        service: Service,
        index: ClientIndex,
        rng: &mut R,
    ) -> Limit {
        let s = service.idx();
        let bucket = self.buckets[s];
        if !bucket.enabled() {
            return Limit::Pass;
        }
        let record = self.table.as_mut().and_then(|t| t.get_mut(index.index));
        let Some(record) = record.filter(|r| r.ip == Some(index.ip)) else {
            return Limit::Pass;
        };
        record.drop_flags &= !(1 << s);
        if record.tokens[s] >= bucket.tokens_per_hit {
            record.tokens[s] -= bucket.tokens_per_hit;
            return Limit::Pass;
        }
        let mut drop = !self.random.one_in_pow2(bucket.leak, rng);
        if service == Service::Ntp
            && record.ntp_timeout_rate != INVALID_RATE
            && i32::from(record.ntp_timeout_rate) > i32::from(record.rate[s]) + bucket::RATE_SCALE
        {
            drop = !drop;
        }
        if !drop {
            record.tokens[s] = 0;
            return Limit::Pass;
        }
        if bucket.kod > 0 && self.random.one_in_pow2(bucket.kod, rng) {
            return Limit::Kod;
        }
        record.drop_flags |= 1 << s;
        record.drops[s] = record.drops[s].wrapping_add(1);
        report::count_drop(&mut self.stats, service);
        Limit::Drop
    }

    /// [`log_access`](Self::log_access) then [`limit_rate`](Self::limit_rate);
    /// commands from 127.0.0.1 and ::1 (and from clients without an IP
    /// address) are never limited.
    pub fn check_access<R: RngCore + ?Sized>(
        &mut self,
        service: Service,
        client: Option<IpAddr>,
        now: UnixTime,
        rng: &mut R,
    ) -> (Option<ClientIndex>, Limit) {
        let index = self.log_access(service, client, now);
        let exempt = service == Service::Cmd && client.is_some_and(is_cmd_localhost);
        let limit = match index {
            Some(i) if !exempt => self.limit_rate(service, i, rng),
            _ => Limit::Pass,
        };
        (index, limit)
    }

    /// The minimum poll (log2 s) to advertise in NTP responses: the
    /// `ratelimit` interval, or -19 without rate limiting.
    pub fn ntp_min_poll(&self) -> i32 {
        self.buckets[Service::Ntp.idx()].interval
    }

    /// Counts an NTP response for serverstats: whether it was
    /// authenticated (not counting KoD, MS-SNTP or unauthenticated ones) and
    /// how its RX and TX timestamps were taken.
    pub fn update_ntp_stats(
        &mut self,
        authenticated: bool,
        rx: Option<TimestampSource>,
        tx: Option<TimestampSource>,
    ) {
        report::count_ntp_response(&mut self.stats, authenticated, rx, tx);
    }

    /// The server statistics (chronyc serverstats).
    pub fn server_stats(&self) -> ServerStats {
        let mut s = self.stats;
        if let Some(m) = &self.timestamps {
            s.ntp_timestamps = m.len() as u64;
            s.ntp_span_seconds = m.span_secs();
        }
        s
    }

    /// Mutable access to the counters the responder keeps itself (NTS-KE
    /// accepted/dropped are counted here via [`Service::NtsKe`]).
    pub fn server_stats_mut(&mut self) -> &mut ServerStats {
        &mut self.stats
    }
}

#[cfg(test)]
mod tests;
