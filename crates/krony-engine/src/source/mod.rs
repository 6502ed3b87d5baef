//! An NTP source: one association with a server (client mode) or a peer
//! (symmetric active mode), as chrony's `ntp_core.c` runs it.
//!
//! [`NtpSource`] is a sans-IO state machine. It decides when to send, builds
//! the requests, tests the responses (RFC 5905 §8 tests 1-7 and chrony's
//! tests A-D), turns good ones into [`Sample`]s, keeps the reachability
//! register, adapts the poll interval and feeds the source's
//! [`SourceStats`]. It never reads a clock: every input carries the current
//! time on the corrected ("cooked") local time scale.
//!
//! # Driving a source
//! 1. Create it with [`NtpSource::new`] and call [`start`](NtpSource::start)
//!    once its address is known (chrony starts sources after name
//!    resolution).
//! 2. Sleep until [`poll_timeout`](NtpSource::poll_timeout), then call
//!    [`handle_timeout`](NtpSource::handle_timeout).
//! 3. Send everything [`poll_transmit`](NtpSource::poll_transmit) returns; if
//!    a send fails, call [`handle_send_error`](NtpSource::handle_send_error)
//!    right away. A later kernel or hardware TX timestamp of the packet goes
//!    to [`handle_tx_timestamp`](NtpSource::handle_tx_timestamp).
//! 4. Give every packet from the remote address to
//!    [`handle_packet`](NtpSource::handle_packet). In client mode chrony
//!    receives each response on a fresh socket that it closes after the
//!    first valid response or the receive timeout; a driver using such
//!    sockets drops packets while
//!    [`expects_response`](NtpSource::expects_response) is false.
//! 5. Drain [`poll_event`](NtpSource::poll_event): a
//!    [`SourceEvent::SampleAccumulated`] or [`SourceEvent::Unreachable`]
//!    means source selection should run; after it, tell the source whether
//!    it is the system peer with [`set_sync_peer`](NtpSource::set_sync_peer).
//! 6. On clock changes call [`slew_times`](NtpSource::slew_times) (or
//!    [`reset_after_unknown_step`](NtpSource::reset_after_unknown_step)).
//!
//! The source owns its [`SourceStats`] (the tests B and C, the poll
//! adaptation and the dispersion need them at the moment a packet is tested,
//! as in chrony); selection and the reference read them through
//! [`stats`](NtpSource::stats).

mod checks;
mod commands;
mod config;
mod mono_root;
mod poll;
mod receive;
mod report;
mod sample;
mod transmit;
mod types;

#[cfg(test)]
mod tests;

pub use checks::PacketTests;
pub use config::{
    AuthMode, DEFAULT_MAXPOLL, DEFAULT_MINPOLL, MAX_POLL, MAX_STRATUM, MIN_POLL, SourceParams,
};
pub use mono_root::MonoScale;
pub use poll::TimerRestart;
pub use report::{
    MEASUREMENTS_LOG_HEADER, MeasurementRecord, NtpCounters, NtpDataReport, SourceReportData,
};
pub use types::{
    Activity, Association, Connectivity, DropReason, LocalContext, LocalTimestamp, OurReference,
    ReceivedPacket, RxOutcome, SourceEvent, TestedPacket, TimestampKind, Transmit,
};

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use krony_wire::ntp::{NtpTimestamp, RefId};
use rand::rngs::StdRng;

use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::select::{Reachability, SelectOptions, SourceKind};
use crate::stats::{
    FilterParams, QuantileEstimator, Sample, SampleFilter, SourceStats, StatsParams, adjust_time,
};

/// The polling mode (chrony's `OperatingMode` without "offline").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Polling {
    /// Sampling at the poll interval.
    Online,
    /// Sampling at the burst interval; then back to online (`then_online`)
    /// or offline.
    Burst { then_online: bool },
}

/// Whether the source polls, with its deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PollState {
    /// No sampling at all; no timers.
    Offline,
    /// Sampling. `tx_at` is the next transmission (`None` only before
    /// [`NtpSource::start`]); while `rx_until` is set, a response to the last
    /// request is expected (chrony keeps the client socket open until then).
    Polling {
        mode: Polling,
        tx_at: Option<UnixTime>,
        rx_until: Option<UnixTime>,
    },
}

/// The timestamps of the protocol exchange (chrony resets them with
/// `NCR_ResetInstance`). Zero NTP timestamps and `None` mean "unknown".
#[derive(Debug, Clone, Default)]
struct Exchange {
    /// Requests sent since the last valid response.
    tx_count: u32,
    /// Presend state: > 0 while the warm-up exchange is in progress.
    presend_done: i32,
    remote_poll: i8,
    remote_stratum: u8,
    remote_root_delay: f64,
    remote_root_dispersion: f64,
    /// A valid response to the last request arrived.
    valid_rx: bool,
    /// The remote timestamps below come from a synchronised server.
    valid_timestamps: bool,
    /// Receive and transmit timestamps of the last valid response.
    remote_ntp_rx: NtpTimestamp,
    remote_ntp_tx: NtpTimestamp,
    /// The receive and transmit timestamps we put in our last packet.
    local_ntp_rx: NtpTimestamp,
    local_ntp_tx: NtpTimestamp,
    /// When the last valid response arrived.
    local_rx: Option<LocalTimestamp>,
    /// When we sent our last packet (kept across resets).
    local_tx: Option<LocalTimestamp>,
    /// In interleaved mode: the TX time of the request before.
    prev_local_tx: Option<LocalTimestamp>,
    prev_local_poll: i8,
    prev_tx_count: u32,
    /// Symmetric mode: the last packet of the peer, to answer it when no
    /// valid response arrived (to (re)start the protocol).
    updated_init_timestamps: bool,
    init_remote_ntp_tx: NtpTimestamp,
    init_local_rx: Option<LocalTimestamp>,
    /// The server's monotonic timescale (`extfield F323`).
    mono: mono_root::MonoState,
}

/// What [`NtpSource::handle_send_error`] must undo.
#[derive(Debug, Clone, Copy)]
struct SendUndo {
    /// Poll and score before the back-off for a missed response.
    poll: Option<(i8, f64)>,
    /// The send decremented the burst counter in a burst back to online.
    burst_online_decremented: bool,
}

/// One NTP server or peer. See the [module docs](self) for the call order.
#[derive(Debug, Clone)]
pub struct NtpSource {
    remote: SocketAddr,
    local_addr: Option<IpAddr>,
    assoc: Association,
    params: SourceParams,
    state: PollState,
    burst_good_left: i32,
    burst_total_left: i32,
    local_poll: i8,
    poll_score: f64,
    xchg: Exchange,
    filter: Option<SampleFilter>,
    filter_count: usize,
    stats: SourceStats,
    reach: Reachability,
    /// Stratum and leap status of the source for selection (`SRC_UpdateStatus`).
    stratum: u8,
    leap: LeapStatus,
    ref_id: RefId,
    sync_peer: bool,
    active: bool,
    /// [`NtpSource::start`] was called (chrony's `tx_suspended` cleared).
    started: bool,
    /// Our stratum as last seen in a [`LocalContext`] (peer scheduling).
    our_stratum: u8,
    report: NtpDataReport,
    events: VecDeque<SourceEvent>,
    transmits: VecDeque<Transmit>,
    send_undo: Option<SendUndo>,
    /// For an NTS source: the driver has keys and a cookie for a request.
    nts_ready: bool,
    /// For an NTS source: a poll found the driver not ready since the
    /// driver last asked ([`take_nts_missed`](Self::take_nts_missed)).
    nts_missed: bool,
    log_raw_measurements: bool,
    refresh_requested: bool,
    /// `maxdelayquant`: the estimate of the delays' quantile (test C).
    delay_quant: Option<QuantileEstimator>,
    /// The last restart of the transmission timer, until the scheduler
    /// takes it.
    timer_restart: Option<TimerRestart>,
    rng: StdRng,
}

/// The statistics parameters of a source: the daemon-wide `base` with the
/// source's `minsamples`, `maxsamples`, `mindelay` and `asymmetry` options.
pub fn stats_params(o: &krony_config::SourceOptions, base: StatsParams) -> StatsParams {
    StatsParams {
        min_samples: o.minsamples.map_or(base.min_samples, |n| n as usize),
        max_samples: o.maxsamples.map_or(base.max_samples, |n| n as usize),
        min_delay: o.mindelay,
        asymmetry: o.asymmetry.unwrap_or(base.asymmetry),
        ..base
    }
}

impl NtpSource {
    /// For an NTS source: whether the driver can authenticate a request now
    /// (it has NTS keys and a cookie). Until it can, each poll counts as
    /// missed, as chrony does while it has no cookies.
    pub fn set_nts_ready(&mut self, ready: bool) {
        self.nts_ready = ready;
    }

    /// For an NTS source: whether a poll was missed for want of NTS keys or
    /// cookies since the last call. chrony's client renews its cookies (drops
    /// them after a NAK, starts NTS-KE) only when a request is due; the
    /// driver does it when this says a request was due.
    pub fn take_nts_missed(&mut self) -> bool {
        std::mem::take(&mut self.nts_missed)
    }

    /// A new source for `remote`, offline or online as `online` says (the
    /// `offline` option), not started. `precision` is the local clock's
    /// (for the median filter); `rng` drives the random transmit timestamps
    /// and poll jitter (seed it from the OS in the daemon).
    pub fn new(
        remote: SocketAddr,
        assoc: Association,
        params: SourceParams,
        stats: StatsParams,
        precision: f64,
        online: bool,
        rng: StdRng,
    ) -> Self {
        let filter = (params.filter_length >= 1)
            .then(|| SampleFilter::new(FilterParams::ntp(params.filter_length, precision)));
        let delay_quant = params.max_delay_quant.map(|q| {
            // chrony's estimator works in hundredths (k of q = 100), with 7
            // parallel estimates and half the clock's precision as step.
            QuantileEstimator::new((q * 100.0).round() / 100.0, 7, 100, precision / 2.0)
        });
        let mut s = NtpSource {
            remote,
            local_addr: None,
            assoc,
            local_poll: params.minpoll.max(0),
            params,
            state: PollState::Offline,
            burst_good_left: 0,
            burst_total_left: 0,
            poll_score: 0.0,
            xchg: Exchange::default(),
            filter,
            filter_count: 0,
            stats: SourceStats::new(stats),
            reach: Reachability::default(),
            stratum: 0,
            leap: LeapStatus::Unsynchronised,
            ref_id: RefId::from_ip(remote.ip()),
            sync_peer: false,
            active: false,
            started: false,
            our_stratum: MAX_STRATUM,
            report: NtpDataReport::new(remote),
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            send_undo: None,
            nts_ready: false,
            nts_missed: false,
            log_raw_measurements: false,
            refresh_requested: false,
            timer_restart: None,
            delay_quant,
            rng,
        };
        s.reset_instance();
        if online {
            // No timers run before `start`, so `now` is not used yet.
            s.set_connectivity_inner(UnixTime::EPOCH, Connectivity::Online);
        }
        s
    }

    /// Lets the source transmit (chrony's `NCR_StartInstance`): if it is
    /// online, the first request goes out 0.2 s from `now` at the earliest.
    pub fn start(&mut self, now: UnixTime) {
        if self.started {
            return;
        }
        self.started = true;
        if let PollState::Polling { .. } = self.state {
            self.start_initial_timeout(now);
        }
    }

    /// The remote address.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// The association mode.
    pub fn association(&self) -> Association {
        self.assoc
    }

    /// The current parameters.
    pub fn params(&self) -> &SourceParams {
        &self.params
    }

    /// Log all responses to the measurements log, not only those from
    /// synchronised servers (`log rawmeasurements`).
    pub fn set_log_raw_measurements(&mut self, on: bool) {
        self.log_raw_measurements = on;
    }

    /// The statistics of the source.
    pub fn stats(&self) -> &SourceStats {
        &self.stats
    }

    /// The statistics, to change (the reference corrects offsets and adds
    /// dispersion after clock updates).
    pub fn stats_mut(&mut self) -> &mut SourceStats {
        &mut self.stats
    }

    /// The reachability register.
    pub fn reachability(&self) -> Reachability {
        self.reach
    }

    /// Whether any of the last 8 polls got a valid response from a
    /// synchronised source.
    pub fn is_reachable(&self) -> bool {
        self.reach.register != 0
    }

    /// The stratum for selection: the server's (minus one with `copy`), at
    /// least `minstratum`.
    pub fn stratum(&self) -> u8 {
        self.stratum
    }

    /// The leap status of the source.
    pub fn leap(&self) -> LeapStatus {
        self.leap
    }

    /// The source's reference ID (from its address, or the server's with `copy`).
    pub fn ref_id(&self) -> RefId {
        self.ref_id
    }

    /// The reference ID of our address used with the source (0 while unknown).
    pub fn local_ref_id(&self) -> RefId {
        self.local_addr.map_or(RefId::UNSYNC, RefId::from_ip)
    }

    /// Whether the source has polled since it last went online (chrony's
    /// "active" flag, used to end special reference modes).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The selection options.
    pub fn select_options(&self) -> SelectOptions {
        self.params.select
    }

    /// The selection candidate without its statistics: the engine sets
    /// `stats` from [`stats`](Self::stats) at the time of the selection.
    pub fn candidate(&self, id: crate::select::SourceId) -> crate::select::Candidate {
        crate::select::Candidate {
            id,
            kind: SourceKind::Ntp,
            ref_id: self.ref_id.0,
            local_ref_id: self.local_ref_id().0,
            authenticated: self.params.auth != AuthMode::None,
            options: self.params.select,
            stratum: self.stratum,
            leap: self.leap,
            reach: self.reach,
            max_unreach: self.params.max_unreach,
            stats: None,
        }
    }

    /// Tells the source whether selection made it the system peer (it then
    /// backs off more slowly when responses are missing).
    pub fn set_sync_peer(&mut self, selected: bool) {
        self.sync_peer = selected;
    }

    /// Asks for the name to be resolved again (`chronyc refresh`); the daemon
    /// reads and clears the flag with [`take_refresh`](Self::take_refresh).
    pub fn request_refresh(&mut self) {
        self.refresh_requested = true;
    }

    /// Whether a refresh was requested since the last call.
    pub fn take_refresh(&mut self) -> bool {
        core::mem::take(&mut self.refresh_requested)
    }

    /// The next event to act on or log.
    pub fn poll_event(&mut self) -> Option<SourceEvent> {
        self.events.pop_front()
    }

    /// The next packet to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Whether a response to the last request is awaited (chrony keeps the
    /// client socket open until the first valid response, or `maxdelay` +
    /// 4 s after the request).
    pub fn expects_response(&self) -> bool {
        matches!(
            self.state,
            PollState::Polling {
                rx_until: Some(_),
                ..
            }
        )
    }

    /// Re-expresses the stored local times after a clock change at `when`
    /// (see [`adjust_time`] for the signs), as chrony's `NCR_SlewTimes` and
    /// `SST_SlewSamples` do: the exchange timestamps, the median filter and
    /// the statistics (do not slew [`stats_mut`](Self::stats_mut) again).
    /// Deadlines move with the time scale, as chrony's scheduler shifts its
    /// timers on a step.
    pub fn slew_times(&mut self, when: UnixTime, dfreq: f64, doffset: f64) {
        let adj = |t: &mut Option<LocalTimestamp>| {
            if let Some(ts) = t {
                ts.time = adjust_time(ts.time, when, dfreq, doffset).0;
            }
        };
        adj(&mut self.xchg.local_rx);
        adj(&mut self.xchg.local_tx);
        adj(&mut self.xchg.prev_local_tx);
        adj(&mut self.xchg.init_local_rx);
        if let Some(f) = &mut self.filter {
            f.slew_samples(when, dfreq, doffset);
        }
        self.stats.slew_samples(when, dfreq, doffset);
        if let PollState::Polling {
            tx_at, rx_until, ..
        } = &mut self.state
        {
            for t in [tx_at, rx_until].into_iter().flatten() {
                *t = adjust_time(*t, when, dfreq, doffset).0;
            }
        }
    }

    /// Moves the deadlines by `secs` with a clock step of unknown size, so
    /// that they stay at the same true time (chrony's scheduler shifts every
    /// timer by the step).
    pub fn shift_deadlines(&mut self, secs: f64) {
        if let PollState::Polling {
            tx_at, rx_until, ..
        } = &mut self.state
        {
            for t in [tx_at, rx_until].into_iter().flatten() {
                *t = t.add_secs(secs);
            }
        }
    }

    /// After a clock step of unknown size: forget the exchange and the
    /// statistics and return to `minpoll` (chrony's `NCR_ResetInstance`,
    /// `NCR_ResetPoll` and `SST_ResetInstance`). Selection should run again.
    pub fn reset_after_unknown_step(&mut self, now: UnixTime) {
        self.reset_instance();
        self.reset_poll(now);
        self.stats.reset();
    }

    /// Moves the association to a new address (a pool member replaced, or a
    /// name resolved again): the exchange, the statistics and the report
    /// start over; the poll returns to `minpoll` only if the source was
    /// reachable.
    pub fn change_address(&mut self, now: UnixTime, remote: SocketAddr) {
        self.reset_instance();
        self.remote = remote;
        self.close_socket();
        if self.assoc == Association::SymmetricActive {
            self.local_addr = None;
        }
        if self.is_reachable() {
            self.reset_poll(now);
        }
        self.ref_id = RefId::from_ip(remote.ip());
        self.reset_source();
        self.report = NtpDataReport::new(remote);
    }

    /// Forgets the exchange timestamps (chrony's `NCR_ResetInstance`).
    fn reset_instance(&mut self) {
        let local_tx = self.xchg.local_tx;
        self.xchg = Exchange {
            local_tx,
            ..Exchange::default()
        };
        if let Some(f) = &mut self.filter {
            f.reset();
        }
        if let Some(q) = &mut self.delay_quant {
            q.reset();
        }
        self.filter_count = 0;
    }

    /// Forgets the selection state and statistics (`SRC_ResetInstance`).
    fn reset_source(&mut self) {
        self.reach = Reachability::default();
        self.stratum = 0;
        self.leap = LeapStatus::Unsynchronised;
        self.stats.reset();
    }

    /// Shifts the reachability register (`SRC_UpdateReachability`).
    fn update_reachability(&mut self, reachable: bool) {
        let r = &mut self.reach;
        r.register = (r.register << 1) | u8::from(reachable);
        if r.size < crate::select::REACH_BITS {
            r.size += 1;
        }
        if r.register == 0 {
            r.unreachable_run = r.unreachable_run.saturating_add(1);
            let full = r.size == crate::select::REACH_BITS;
            self.events.push_back(SourceEvent::Unreachable { full });
        } else {
            r.unreachable_run = 0;
        }
    }

    /// Clears the register and counts one unreachable poll
    /// (`SRC_ResetReachability`).
    fn reset_reachability(&mut self) {
        self.reach = Reachability::default();
        self.update_reachability(false);
    }

    /// Accumulates a sample into the statistics unless a leap second is
    /// near, and queues the event for selection.
    fn accumulate(&mut self, sample: Sample, near_leap: bool) {
        if near_leap {
            self.events.push_back(SourceEvent::SampleDroppedNearLeap);
            return;
        }
        // Non-finite values cannot come from finite timestamps; such a
        // sample is dropped.
        if let Ok(acc) = self
            .stats
            .accumulate_sample(&sample, self.stratum, self.leap)
        {
            if acc == crate::stats::Accumulated::HistoryReset {
                self.events.push_back(SourceEvent::HistoryReset);
            }
            self.stats.do_new_regression();
            self.events.push_back(SourceEvent::SampleAccumulated {
                sample,
                stratum: self.stratum,
                leap: self.leap,
            });
        }
    }
}
