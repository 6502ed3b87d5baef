//! The engine: sources, selection, discipline and the NTP server wired
//! together as chrony's `main.c` wires its modules, behind one sans-IO
//! state machine.
//!
//! Data flow: a packet goes to its [`NtpSource`] (packet tests, sample,
//! median filter, regression in the source's statistics); a new sample
//! runs source [selection](crate::select); its estimate updates the
//! [`Reference`], which turns it into [`ClockAction`]s (frequency, slew,
//! step, leap). Every change of the clock is forwarded to all sources'
//! statistics and timestamps and to the server's client log, so that they
//! stay on the corrected time scale.
//!
//! # Time
//! The driver passes *raw* readings of the disciplined clock (what
//! `clock_gettime(CLOCK_REALTIME)` returns, or a kernel timestamp taken on
//! that clock). The engine cooks them ([`LocalClock::cook`](crate::discipline::LocalClock::cook):
//! the raw time plus the correction still being slewed) before sources and
//! server see them. [`Engine::poll_timeout`] is a raw time too.

mod broadcast;
mod commands;
mod config;
mod dumps;
mod events;
mod manual;
mod modes;
mod refclocks;
mod reports;
mod rtc;
mod separation;
mod smoothing;
mod sources;
mod tempcomp;
mod unresolved;

#[cfg(test)]
mod tests;

pub use broadcast::BroadcastConfig;
pub use commands::SourceCommand;
pub use config::{DEFAULT_PRECISION, EngineConfig};
pub use dumps::SourceDumpState;
pub use events::{EngineEvent, LogMessage, SelectionRecord, StatisticsRecord};
pub use manual::{MAX_MANUAL_SAMPLES, ManualSample, ManualTimestamp};
pub use reports::{ActivityReport, SelectDataRow, SourceRow, SourceStatsRow};

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use krony_wire::ntp::{NtpRepr, Packet};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::UnixTime;
use crate::clientlog::TimestampSource;
use crate::clock::ClockAction;
use crate::discipline::{ChangeKind, ClockNotice, DisciplineEvent, LogLevel, Reference};
use crate::select::{SelectConfig, SelectOptions, Selector, SourceId};
use crate::server::{NtsCheck, Received, Server, ServerError, SymmetricKeys};
use crate::smooth::Smoother;
use crate::source::{LocalTimestamp, NtpSource, TimestampKind};

/// Extra time added to deadlines converted from the corrected to the raw
/// time scale, so that rounding never wakes the driver a little before a
/// timer is due (which would make it ask for the same deadline again).
const DEADLINE_MARGIN: f64 = 1e-6;

/// Enough iterations of [`Engine::uncook`] for any offset below 2^32 s at
/// a slew rate up to 1/2 (convergence is much faster at real rates).
const MAX_UNCOOK_ITERATIONS: usize = 64;

/// Why an engine call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The server could not be set up.
    #[error(transparent)]
    Server(#[from] ServerError),
    /// A source with this address and port already exists.
    #[error("Source {0} already present")]
    SourceExists(SocketAddr),
    /// No source has this id.
    #[error("Unknown source")]
    UnknownSource,
}

/// Which socket a packet arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RxSocket {
    /// The NTP server socket (or any shared socket): a packet from a
    /// source's address and port goes to that source, anything else to the
    /// server (chrony's `NSR_ProcessRx`). Peers always use it.
    Server,
    /// The socket the driver opened for a request of this source (client
    /// mode without `acquisitionport`): only a response from the source,
    /// while it waits for one, is processed.
    Client(SourceId),
}

/// A datagram received, with what the driver knows about it.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The UDP payload.
    pub bytes: &'a [u8],
    /// The sender.
    pub from: SocketAddr,
    /// The local address it was sent to, if known.
    pub local: Option<IpAddr>,
    /// The receive time, a raw reading of the disciplined clock (kernel,
    /// hardware or daemon timestamp).
    pub rx_time: UnixTime,
    /// How `rx_time` was taken.
    pub rx_kind: TimestampKind,
    /// The socket it arrived on.
    pub socket: RxSocket,
    /// For a source with a symmetric key: whether the driver verified the
    /// packet's MAC with that key; for an NTS source: whether the driver
    /// verified the response's NTS authenticator and unique identifier.
    pub mac_verified: bool,
    /// For an NTS request to the server: the driver's verdict.
    pub nts: NtsCheck,
}

impl<'a> Incoming<'a> {
    /// A datagram on the server socket with a daemon timestamp.
    pub fn new(bytes: &'a [u8], from: SocketAddr, rx_time: UnixTime) -> Self {
        Incoming {
            bytes,
            from,
            local: None,
            rx_time,
            rx_kind: TimestampKind::Daemon,
            socket: RxSocket::Server,
            mac_verified: false,
            nts: NtsCheck::NotChecked,
        }
    }
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination.
    pub to: SocketAddr,
    /// Source address to send from, if it matters (server responses leave
    /// from the address the request came to).
    pub local: Option<IpAddr>,
    /// The source that sends it; `None` for server responses.
    pub source: Option<SourceId>,
    /// The payload.
    pub bytes: Vec<u8>,
    /// Send from a new client socket (a client request without
    /// `acquisitionport`); otherwise from the server socket.
    pub new_client_socket: bool,
    /// Append a MAC with this key before sending (the engine holds no keys).
    pub mac_key_id: Option<u32>,
    /// Ask the kernel for a TX timestamp and pass it to
    /// [`Engine::handle_tx_timestamp`].
    pub wants_tx_timestamp: bool,
}

/// One configured source.
#[derive(Debug, Clone)]
struct Slot {
    source: NtpSource,
    /// The name as configured (host name or address).
    name: String,
    /// The configured selection options (commands may change them).
    options: SelectOptions,
    /// The source's line of the last selection round.
    selection: Option<crate::select::SourceReport>,
    /// State restored from a dump file (`-r`).
    restored: Option<dumps::Restored>,
    /// Registered before its name resolved: a placeholder address, not
    /// polling (chronyd's `ID#` sources).
    unresolved: bool,
}

/// The timekeeping engine: sources, selection, discipline, server.
///
/// # Method groups, and the order to call them
/// 1. **Set up**: [`new`](Self::new) with an [`EngineConfig`] (from
///    [`EngineConfig::from_config`]), [`add_source`](Self::add_source) for
///    every `server`/`peer`/`pool` address, optionally
///    [`set_symmetric_keys`](Self::set_symmetric_keys).
/// 2. **Inputs**, each with the current raw clock reading `now`:
///    [`handle_packet`](Self::handle_packet) for every datagram (client
///    and server sockets), [`handle_tx_timestamp`](Self::handle_tx_timestamp)
///    for kernel/hardware TX timestamps, [`handle_send_error`](Self::handle_send_error),
///    [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout)
///    is reached, and the commands ([`source_command`](Self::source_command),
///    [`make_step`](Self::make_step), ...).
/// 3. **Outputs**, drained after every input in this order:
///    [`poll_clock_action`](Self::poll_clock_action) (apply each to the
///    clock at once: later outputs assume they were applied),
///    [`poll_transmit`](Self::poll_transmit) (send each, passing it to
///    [`stamp_transmit`](Self::stamp_transmit) with a fresh clock reading
///    right before the send system call),
///    [`poll_event`](Self::poll_event) (log, write files), then sleep until
///    [`poll_timeout`](Self::poll_timeout).
/// 4. **Reports** at any time: [`tracking`](Self::tracking),
///    [`sources`](Self::sources), [`sourcestats`](Self::sourcestats),
///    [`selectdata`](Self::selectdata), [`ntpdata`](Self::ntpdata),
///    [`activity`](Self::activity), [`serverstats`](Self::serverstats),
///    [`clients`](Self::clients), [`smoothing`](Self::smoothing).
pub struct Engine {
    cfg: EngineConfig,
    reference: Reference,
    selector: Selector,
    sources: BTreeMap<SourceId, Slot>,
    next_id: u32,
    server: Option<Server>,
    keys: Option<Box<dyn SymmetricKeys>>,
    rng: StdRng,
    transmits: VecDeque<Transmit>,
    actions: VecDeque<ClockAction>,
    events: VecDeque<EngineEvent>,
    /// The `settime` samples (manual reference).
    manual: manual::Manual,
    /// `smoothtime`: the offset added to the time served to clients.
    smooth: Option<Smoother>,
    /// `broadcast` destinations and their next deadlines.
    broadcasts: Vec<broadcast::Destination>,
    /// The last transmission of each class of sources (their spacing).
    dispatches: separation::Dispatches,
    /// `rtcfile`: the real-time clock's tracking.
    rtc: Option<crate::rtc::RtcTracker>,
    /// Reference clocks (they share the id space with `sources`).
    refclocks: refclocks::Refclocks,
    /// Our monotonic timescale for peers' `extfield F323`.
    mono: crate::source::MonoScale,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("reference", &self.reference)
            .field("sources", &self.sources.len())
            .field("selected", &self.selector.selected())
            .field("server", &self.server.is_some())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine with no sources, unsynchronised, at raw time `now`;
    /// `seed` drives every random choice (request timestamps, poll
    /// randomisation, the client log's hash): seed it from the OS in the
    /// daemon, fixed in tests.
    ///
    /// The clock is assumed to run with no frequency correction yet: the
    /// first outputs set the one of the driftfile, if given.
    ///
    /// # Errors
    /// [`EngineError::Server`] if the server's client log refuses its
    /// configuration.
    pub fn new(cfg: EngineConfig, now: UnixTime, seed: u64) -> Result<Self, EngineError> {
        let mut rng = StdRng::seed_from_u64(cfg.rng_seed.unwrap_or(seed));
        let server = match &cfg.server {
            Some(s) => Some(Server::new(s.clone(), &mut rng)?),
            None => None,
        };
        let mut reference = Reference::new(cfg.discipline.clone(), now, 0.0);
        if let Some((freq, skew)) = cfg.initial_frequency {
            reference.initial_frequency(now, freq, skew);
        }
        // Not drawn from `rng`: the other draws stay as they were.
        let mono = crate::source::MonoScale {
            offset: 0.0,
            epoch: (seed ^ (seed >> 32) ^ 0x9E37_79B9) as u32,
        };
        let mut engine = Engine {
            mono,
            cfg,
            reference,
            selector: Selector::new(),
            sources: BTreeMap::new(),
            next_id: 1,
            server,
            keys: None,
            rng,
            transmits: VecDeque::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            manual: manual::Manual::default(),
            smooth: None,
            broadcasts: Vec::new(),
            dispatches: separation::Dispatches::default(),
            rtc: None,
            refclocks: refclocks::Refclocks::default(),
        };
        engine.refclocks.log = engine.cfg.log_refclocks;
        engine.drain_reference(now);
        engine.start_broadcasts(engine.cook(now));
        // Set up after the driftfile's frequency was applied, which is not a
        // correction to smooth out (chronyd starts smoothing after it too).
        engine.smooth = engine.cfg.smooth.and_then(Smoother::new);
        Ok(engine)
    }

    /// The configuration in use.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The keys the server checks and signs symmetric-key requests with.
    pub fn set_symmetric_keys(&mut self, keys: Option<Box<dyn SymmetricKeys>>) {
        self.keys = keys;
    }

    /// The reference (synchronisation state, local clock model).
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The NTP server, if enabled (allow/deny tables, client log).
    pub fn server(&self) -> Option<&Server> {
        self.server.as_ref()
    }

    /// The NTP server, to change its access table at run time.
    pub fn server_mut(&mut self) -> Option<&mut Server> {
        self.server.as_mut()
    }

    /// The current system peer.
    pub fn selected_source(&self) -> Option<SourceId> {
        self.selector.selected()
    }

    /// A raw reading moved onto the corrected time scale.
    pub fn cook(&self, raw: UnixTime) -> UnixTime {
        self.reference.clock().cook(raw)
    }

    /// A cooked timestamp with its error, for sources.
    fn cooked_ts(&self, raw: UnixTime, kind: TimestampKind) -> LocalTimestamp {
        let (corr, err) = self.reference.clock().offset_correction(raw);
        LocalTimestamp {
            time: raw.add_secs(corr),
            err,
            kind,
        }
    }

    /// The raw time at which the corrected clock reads `cooked`: the fixed
    /// point of `raw = cooked - correction(raw)`. The correction changes at
    /// the slew rate (below `maxslewrate`, at most 1/12), so each iteration
    /// shrinks the error at least twelvefold; a 10 s offset being slewed
    /// needs about ten iterations to reach a nanosecond.
    fn uncook(&self, cooked: UnixTime) -> UnixTime {
        let clock = self.reference.clock();
        let mut raw = cooked;
        for _ in 0..MAX_UNCOOK_ITERATIONS {
            let next = cooked.add_secs(-clock.offset_correction(raw).0);
            if next == raw {
                break;
            }
            raw = next;
        }
        raw
    }

    // ---- outputs ----

    /// The next adjustment of the clock; apply it before anything else.
    pub fn poll_clock_action(&mut self) -> Option<ClockAction> {
        self.actions.pop_front()
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// Gives a server response the transmit timestamp of the raw time
    /// `now`, read right before it is sent (chronyd reads the clock for it
    /// only after processing the request: time spent in between would
    /// count as network delay on the server's side only and bias every
    /// client's offset by half of it). Responses whose timestamp cannot
    /// change (interleaved, KoD, signed) are left as they are. A source's
    /// packet is not changed, but `now` becomes its daemon TX time, until
    /// a kernel timestamp arrives. Returns whether `t` changed.
    pub fn stamp_transmit(&mut self, t: &mut Transmit, now: UnixTime) -> bool {
        if let Some(id) = t.source {
            let ts = self.cooked_ts(now, TimestampKind::Daemon);
            if let (Ok(p), Some(slot)) =
                (Packet::new_checked(&t.bytes[..]), self.sources.get_mut(&id))
            {
                slot.source.handle_send_time(ts, p.transmit_timestamp());
            }
            return false;
        }
        let tx = self.smooth_tx_timestamp(&t.bytes, self.cook(now));
        match &mut self.server {
            Some(server) => server.stamp_response(&mut t.bytes, tx, &mut self.rng),
            None => false,
        }
    }

    /// The next thing to log or do.
    pub fn poll_event(&mut self) -> Option<EngineEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called, as
    /// a raw clock reading; `None` when nothing is scheduled.
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        let sources = self
            .sources
            .values()
            .filter_map(|s| s.source.poll_timeout())
            .min()
            .map(|d| self.uncook(d).add_secs(DEADLINE_MARGIN));
        let broadcasts = self
            .broadcast_timeout()
            .map(|d| self.uncook(d).add_secs(DEADLINE_MARGIN));
        [
            sources,
            self.reference.poll_timeout(),
            broadcasts,
            self.refclock_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- inputs ----

    /// Fires every timer due at raw time `now`: slew ends, leap seconds,
    /// source polls, broadcasts.
    pub fn handle_timeout(&mut self, now: UnixTime) {
        if self.reference.poll_timeout().is_some_and(|t| t <= now) {
            self.reference.handle_timeout(now);
            self.drain_reference(now);
        }
        let due: Vec<SourceId> = self
            .sources
            .iter()
            .filter(|(_, s)| s.source.poll_timeout().is_some_and(|t| t <= self.cook(now)))
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let ctx = self.local_context(now);
            let cooked = self.cook(now);
            if let Some(slot) = self.sources.get_mut(&id) {
                if slot.source.transmit_at().is_some_and(|t| t <= cooked) {
                    let assoc = slot.source.association();
                    self.record_dispatch(assoc, cooked);
                }
            }
            if let Some(slot) = self.sources.get_mut(&id) {
                slot.source.handle_timeout(cooked, &ctx);
            }
            self.drain_source(now, id);
        }
        if self
            .broadcast_timeout()
            .is_some_and(|t| t <= self.cook(now))
        {
            self.fire_broadcasts(self.cook(now));
        }
        self.refclock_timeouts(now);
    }

    /// Handles one received datagram; `now` is the raw time it is handled
    /// at (a server response's transmit time).
    pub fn handle_packet(&mut self, now: UnixTime, rx: &Incoming<'_>) {
        let target = match rx.socket {
            RxSocket::Client(id) => match self.sources.get(&id) {
                Some(s) if s.source.remote() == rx.from && s.source.expects_response() => Some(id),
                _ => return,
            },
            RxSocket::Server => self.source_by_addr(rx.from),
        };
        let Some(id) = target else {
            self.serve(now, rx);
            return;
        };
        let Ok(packet) = NtpRepr::parse_bytes(rx.bytes) else {
            if let Some(slot) = self.sources.get_mut(&id) {
                slot.source.handle_malformed_packet(rx.rx_kind);
            }
            return;
        };
        if self.process_source_packet(now, id, rx, &packet) {
            self.serve(now, rx);
        }
    }

    /// A kernel or hardware transmit timestamp (raw time `tx_time`) of a
    /// datagram sent earlier: `source` and `bytes` as in its [`Transmit`].
    pub fn handle_tx_timestamp(
        &mut self,
        source: Option<SourceId>,
        bytes: &[u8],
        tx_time: UnixTime,
        kind: TimestampKind,
    ) {
        let mut ts = self.cooked_ts(tx_time, kind);
        match source {
            Some(id) => {
                let Ok(sent) = NtpRepr::parse_bytes(bytes) else {
                    return;
                };
                if let Some(slot) = self.sources.get_mut(&id) {
                    slot.source.handle_tx_timestamp(ts, &sent);
                }
            }
            None => {
                let source = match kind {
                    TimestampKind::Daemon => TimestampSource::Daemon,
                    TimestampKind::Kernel => TimestampSource::Kernel,
                    TimestampKind::Hardware => TimestampSource::Hardware,
                };
                ts.time = self.smooth_tx_timestamp(bytes, ts.time);
                if let Some(server) = &mut self.server {
                    server.handle_tx_timestamp(bytes, ts.time, source);
                }
            }
        }
    }

    /// A request of `source` could not be sent (right after
    /// [`poll_transmit`](Self::poll_transmit) returned it).
    pub fn handle_send_error(&mut self, now: UnixTime, source: SourceId) {
        let cooked = self.cook(now);
        if let Some(slot) = self.sources.get_mut(&source) {
            slot.source.handle_send_error(cooked);
        }
        self.drain_source(now, source);
    }

    /// Before exiting: leaves the clock running at the estimated frequency
    /// and disarms a pending leap second (drain the clock actions after).
    pub fn shutdown(&mut self, now: UnixTime) {
        self.reference.shutdown(now);
        self.drain_reference(now);
    }

    /// Answers a request with the server, if enabled.
    fn serve(&mut self, now: UnixTime, rx: &Incoming<'_>) {
        let params = self.reference.server_params(now);
        let rx_time = self.cook(rx.rx_time);
        let tx_time = self.cook(now);
        let (params, rx_time, tx_time) = self.smooth_response(rx.bytes, params, rx_time, tx_time);
        let Some(server) = &mut self.server else {
            return;
        };
        let received = Received {
            bytes: rx.bytes,
            remote: rx.from,
            local: rx.local,
            rx_time,
            rx_source: match rx.rx_kind {
                TimestampKind::Daemon => TimestampSource::Daemon,
                TimestampKind::Kernel => TimestampSource::Kernel,
                TimestampKind::Hardware => TimestampSource::Hardware,
            },
            nts: rx.nts,
        };
        let keys = self.keys.as_deref();
        if let Some(r) = server.handle_request(&received, tx_time, &params, keys, &mut self.rng) {
            self.transmits.push_back(Transmit {
                to: r.to,
                local: r.local,
                source: None,
                bytes: r.bytes,
                new_client_socket: false,
                mac_key_id: None,
                wants_tx_timestamp: r.wants_tx_timestamp,
            });
        }
    }

    /// Moves the reference's outputs to the engine's and applies its clock
    /// notices to every source and the server.
    fn drain_reference(&mut self, now: UnixTime) {
        while let Some(a) = self.reference.poll_action() {
            self.actions.push_back(a);
        }
        let notices: Vec<ClockNotice> =
            std::iter::from_fn(|| self.reference.poll_notice()).collect();
        let discipline_events: Vec<DisciplineEvent> =
            std::iter::from_fn(|| self.reference.poll_event()).collect();
        self.follow_smoothing(&notices, &discipline_events);
        let mut reselect = false;
        for n in notices {
            match n {
                ClockNotice::Changed(ch) => {
                    self.manual.follow(&ch);
                    if let Some(rtc) = &mut self.rtc {
                        rtc.follow(&ch);
                    }
                    for slot in self.sources.values_mut() {
                        if ch.kind == ChangeKind::UnknownStep {
                            slot.source.shift_deadlines(-ch.doffset);
                            slot.source.stats_mut().reset();
                            slot.source.reset_after_unknown_step(ch.cooked);
                            reselect = true;
                        } else {
                            slot.source.slew_times(ch.cooked, ch.dfreq, ch.doffset);
                        }
                    }
                    self.dispatches.slew(ch.cooked, ch.dfreq, ch.doffset);
                    self.refclocks_follow_change(&ch);
                    if let Some(server) = &mut self.server {
                        server.handle_clock_change(&ch, &mut self.rng);
                    }
                    if ch.kind == ChangeKind::Adjust {
                        self.mono.offset += ch.doffset;
                    } else {
                        self.mono = crate::source::MonoScale {
                            offset: 0.0,
                            epoch: self.rng.next_u32(),
                        };
                    }
                }
                ClockNotice::Dispersion(d) => {
                    for slot in self.sources.values_mut() {
                        slot.source.stats_mut().add_dispersion(d);
                    }
                    self.refclocks_add_dispersion(d);
                }
            }
        }
        self.separate_timers();
        for e in discipline_events {
            self.push_discipline_event(e);
        }
        if reselect {
            self.select(now, None);
        }
    }

    fn push_discipline_event(&mut self, e: DisciplineEvent) {
        let event = match e {
            DisciplineEvent::WriteDriftfile {
                frequency_ppm,
                skew_ppm,
            } => EngineEvent::WriteDriftfile {
                frequency_ppm,
                skew_ppm,
            },
            DisciplineEvent::TrackingLog(line) => EngineEvent::TrackingLog(line),
            DisciplineEvent::ModeEnded { success } => EngineEvent::Exit { success },
            DisciplineEvent::MailChange { offset } => EngineEvent::MailChange { offset },
            other => EngineEvent::log(other.level().unwrap_or(LogLevel::Info), other.to_string()),
        };
        self.events.push_back(event);
    }

    /// The selection settings with the current orphan stratum.
    fn select_config(&self) -> SelectConfig {
        let orphan = self.reference.orphan_stratum();
        SelectConfig {
            orphan_stratum: (orphan < crate::discipline::MAX_STRATUM).then_some(orphan),
            ..self.cfg.select
        }
    }

    /// A fresh seed for a source's random stream.
    fn source_seed(&mut self) -> u64 {
        self.rng.next_u64()
    }
}
