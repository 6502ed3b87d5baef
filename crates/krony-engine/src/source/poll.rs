//! When to send: timers, online/offline, bursts and the poll interval
//! (chrony's `transmit_timeout`, `get_transmit_delay`, `adjust_poll`,
//! `set_connectivity` and `NCR_InitiateSampleBurst`).

use rand::Rng;

use super::types::{Activity, Association, Connectivity, LocalContext, SourceEvent};
use super::{AuthMode, NtpSource, PollState, Polling, SendUndo};
use crate::UnixTime;

/// The earliest first request after going online, seconds (chrony's
/// `INITIAL_DELAY`).
const INITIAL_DELAY: f64 = 0.2;
/// Random extension of every interval: up to 2% (`SAMPLING_RANDOMNESS`).
const SAMPLING_RANDOMNESS: f64 = 0.02;
/// Symmetric mode: how much longer to wait for a peer of higher stratum
/// (`PEER_SAMPLING_ADJ`).
const PEER_SAMPLING_ADJ: f64 = 1.1;
/// Burst spacing: at most 2 s and at most a quarter of the poll interval
/// (`MAX_BURST_INTERVAL`, `MAX_BURST_POLL_RATIO`).
const MAX_BURST_INTERVAL: f64 = 2.0;
const MAX_BURST_POLL_RATIO: f64 = 0.25;
/// The initial burst (`iburst`): until 4 good samples, at most 8 requests
/// (one reachability register).
pub(super) const IBURST_GOOD_SAMPLES: i32 = 4;
pub(super) const IBURST_TOTAL_SAMPLES: i32 = 8;
/// The automatic burst (`burst`): one good sample, at most 4 requests.
const BURST_GOOD_SAMPLES: i32 = 1;
const MAX_BURST_TOTAL_SAMPLES: i32 = 4;
/// After a presend exchange, the measurement follows 2 s later
/// (`WARM_UP_DELAY`).
const WARM_UP_DELAY: f64 = 2.0;
/// How long a server may take to answer, seconds (`MAX_SERVER_INTERVAL`).
pub(super) const MAX_SERVER_INTERVAL: f64 = 4.0;
/// Sub-second polls are allowed only when the delay is below 10 ms
/// (`MIN_NONLAN_POLL`, `MAX_LAN_PEER_DELAY`).
const MIN_NONLAN_POLL: i8 = 0;
const MAX_LAN_PEER_DELAY: f64 = 0.01;
/// Interleaved client mode is attempted only while fewer than 4 requests
/// went unanswered (`MAX_CLIENT_INTERLEAVED_TX`).
const MAX_CLIENT_INTERLEAVED_TX: u32 = 4;
/// The spacing chrony keeps between transmissions of different sources
/// (`MIN_SAMPLING_SEPARATION`, `MAX_SAMPLING_SEPARATION`).
const MIN_SAMPLING_SEPARATION: f64 = 0.002;
const MAX_SAMPLING_SEPARATION: f64 = 0.2;

/// A restart of a source's transmission timer, for the scheduler that
/// spaces the transmissions of several sources (chrony's
/// `SCH_AddTimeoutInClass`): the randomisation extends the delay and the
/// separation alike.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimerRestart {
    /// When the timer restarted (corrected time scale).
    pub now: UnixTime,
    /// The delay chosen, seconds from `now`.
    pub delay: f64,
    /// The separation wanted from other sources' transmissions, seconds.
    pub separation: f64,
}

/// 2^`poll` seconds, with chrony's limits of ±31.
pub(super) fn log2_to_secs(poll: i32) -> f64 {
    2f64.powi(poll.clamp(-31, 31))
}

impl NtpSource {
    /// When [`handle_timeout`](Self::handle_timeout) should be called next.
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        match self.state {
            PollState::Offline => None,
            PollState::Polling {
                tx_at, rx_until, ..
            } => match (tx_at, rx_until) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
        }
    }

    /// Fires the timers due at `now`: closes the wait for a response and,
    /// when the poll is due, queues the next request (see
    /// [`poll_transmit`](Self::poll_transmit)).
    pub fn handle_timeout(&mut self, now: UnixTime, ctx: &LocalContext) {
        self.our_stratum = ctx.reference.stratum;
        if let PollState::Polling { rx_until, .. } = &mut self.state {
            if rx_until.is_some_and(|t| t <= now) {
                *rx_until = None;
            }
        }
        if let PollState::Polling { tx_at: Some(t), .. } = self.state {
            if t <= now {
                self.transmit_timeout(now, ctx);
            }
        }
    }

    /// The poll interval the source uses now, log2 s (the `Poll` column of
    /// `sources`): for a responding peer the shorter of ours and the
    /// peer's, but not below `minpoll`.
    pub fn poll(&self) -> i8 {
        let poll = self.local_poll;
        if self.assoc == Association::SymmetricActive
            && poll > self.xchg.remote_poll
            && self.is_reachable()
        {
            return self.xchg.remote_poll.max(self.params.minpoll);
        }
        poll
    }

    /// The local poll interval, log2 s, and its fractional score.
    pub fn local_poll(&self) -> (i8, f64) {
        (self.local_poll, self.poll_score)
    }

    /// The state `chronyc activity` counts.
    pub fn activity(&self) -> Activity {
        match self.state {
            PollState::Offline => Activity::Offline,
            PollState::Polling { mode, .. } => match mode {
                Polling::Online => Activity::Online,
                Polling::Burst { then_online: true } => Activity::BurstOnline,
                Polling::Burst { then_online: false } => Activity::BurstOffline,
            },
        }
    }

    /// Whether the source is online (polling, or in a burst that returns to
    /// online).
    pub fn is_online(&self) -> bool {
        matches!(self.activity(), Activity::Online | Activity::BurstOnline)
    }

    /// The spacing chrony's scheduler keeps between this source's
    /// transmissions and other sources' (2^(poll-3) s within 2-200 ms, so
    /// that up to 8 sources with the same short poll are not slowed down;
    /// chrony's `get_separation`).
    pub fn sampling_separation(&self) -> f64 {
        log2_to_secs(i32::from(self.local_poll) - 3)
            .clamp(MIN_SAMPLING_SEPARATION, MAX_SAMPLING_SEPARATION)
    }

    /// The next transmission, if one is scheduled.
    pub fn transmit_at(&self) -> Option<UnixTime> {
        match self.state {
            PollState::Polling { tx_at, .. } => tx_at,
            PollState::Offline => None,
        }
    }

    /// The transmission timer restarted since the last call, if it did: the
    /// scheduler of several sources spaces it from the other sources'
    /// transmissions (see [`TimerRestart`]) and moves it with
    /// [`postpone_transmit`](Self::postpone_transmit).
    pub fn take_timer_restart(&mut self) -> Option<TimerRestart> {
        self.timer_restart.take()
    }

    /// Moves the scheduled transmission to `at` (never earlier than it
    /// was); nothing happens when no transmission is scheduled.
    pub fn postpone_transmit(&mut self, at: UnixTime) {
        if let PollState::Polling { tx_at: Some(t), .. } = &mut self.state {
            if at > *t {
                *t = at;
            }
        }
    }

    /// `chronyc online`/`offline` (and `onoffline` once the driver knows
    /// whether the address is routable). Logs a change of online state.
    pub fn set_connectivity(&mut self, now: UnixTime, connectivity: Connectivity) {
        let was_online = self.is_online();
        self.set_connectivity_inner(now, connectivity);
        let online = self.is_online();
        if was_online != online {
            self.events.push_back(SourceEvent::Connectivity { online });
        }
    }

    pub(super) fn set_connectivity_inner(&mut self, now: UnixTime, connectivity: Connectivity) {
        let mode = match self.state {
            PollState::Offline => None,
            PollState::Polling { mode, .. } => Some(mode),
        };
        match (connectivity, mode) {
            (Connectivity::Online, None) => {
                self.state = PollState::Polling {
                    mode: Polling::Online,
                    tx_at: None,
                    rx_until: None,
                };
                self.reset_instance();
                self.start_initial_timeout(now);
                if self.params.auto_iburst {
                    self.initiate_burst_inner(now, IBURST_GOOD_SAMPLES, IBURST_TOTAL_SAMPLES);
                }
            }
            (Connectivity::Online, Some(Polling::Burst { then_online: false })) => {
                self.set_polling_mode(Polling::Burst { then_online: true });
            }
            (Connectivity::Offline, Some(Polling::Online)) => self.take_offline(),
            (Connectivity::Offline, Some(Polling::Burst { then_online: true })) => {
                self.set_polling_mode(Polling::Burst { then_online: false });
            }
            _ => {}
        }
    }

    /// `chronyc burst good/total`: sends up to `total` requests at the burst
    /// spacing until `good` good samples arrive, then returns to the previous
    /// state. Client mode only (a burst would disturb a peer's sampling).
    pub fn initiate_burst(&mut self, now: UnixTime, good: i32, total: i32) {
        self.initiate_burst_inner(now, good, total);
    }

    fn initiate_burst_inner(&mut self, now: UnixTime, good: i32, total: i32) {
        if self.assoc != Association::Client {
            return;
        }
        let then_online = match self.state {
            PollState::Polling {
                mode: Polling::Burst { .. },
                ..
            } => return,
            PollState::Polling { .. } => true,
            PollState::Offline => false,
        };
        if let PollState::Offline = self.state {
            self.state = PollState::Polling {
                mode: Polling::Burst { then_online },
                tx_at: None,
                rx_until: None,
            };
        } else {
            self.set_polling_mode(Polling::Burst { then_online });
        }
        self.burst_good_left = good;
        self.burst_total_left = total;
        self.start_initial_timeout(now);
    }

    fn set_polling_mode(&mut self, new: Polling) {
        if let PollState::Polling { mode, .. } = &mut self.state {
            *mode = new;
        }
    }

    /// Stops polling: no timers, reachability cleared, exchange forgotten.
    pub(super) fn take_offline(&mut self) {
        self.state = PollState::Offline;
        self.reset_reachability();
        self.active = false;
        self.reset_instance();
    }

    /// Stops waiting for a response.
    pub(super) fn close_socket(&mut self) {
        if let PollState::Polling { rx_until, .. } = &mut self.state {
            *rx_until = None;
        }
    }

    /// Schedules the first request after a change of mode, keeping at least
    /// the poll interval since the last request (`start_initial_timeout`).
    pub(super) fn start_initial_timeout(&mut self, now: UnixTime) {
        if let PollState::Polling { tx_at: None, .. } = self.state {
            self.active = true;
        }
        let delay = if self.xchg.local_tx.is_some() {
            self.transmit_delay(now, false)
        } else {
            0.0
        };
        self.restart_timeout(now, delay.max(INITIAL_DELAY));
    }

    /// Sets the next transmission `delay` seconds (plus up to 2%) from `now`
    /// and stops waiting for a response.
    pub(super) fn restart_timeout(&mut self, now: UnixTime, delay: f64) {
        if !self.started {
            return;
        }
        let r = 1.0 + self.rng.random::<f64>() * SAMPLING_RANDOMNESS;
        let separation = self.sampling_separation() * r;
        if let PollState::Polling {
            tx_at, rx_until, ..
        } = &mut self.state
        {
            *rx_until = None;
            *tx_at = Some(now.add_secs(delay * r));
            self.timer_restart = Some(TimerRestart {
                now,
                delay: delay * r,
                separation,
            });
        }
    }

    /// Returns to `minpoll` (`NCR_ResetPoll`).
    pub(super) fn reset_poll(&mut self, now: UnixTime) {
        self.poll_score = 0.0;
        if self.local_poll != self.params.minpoll {
            self.local_poll = self.params.minpoll;
            if let PollState::Polling { tx_at: Some(_), .. } = self.state {
                let delay = self.transmit_delay(now, false);
                self.restart_timeout(now, delay);
            }
        }
    }

    /// Seconds until the next request (`get_transmit_delay`); `on_tx` when
    /// called right after sending.
    pub(super) fn transmit_delay(&self, now: UnixTime, on_tx: bool) -> f64 {
        let last_tx = match self.xchg.local_tx {
            Some(tx) if !on_tx => now.diff_secs(tx.time),
            _ => 0.0,
        };
        let mut delay = log2_to_secs(i32::from(self.poll()));
        match self.state {
            PollState::Polling {
                mode: Polling::Online,
                ..
            } => match self.assoc {
                Association::Client if self.xchg.presend_done > 0 => delay = WARM_UP_DELAY,
                Association::Client => {}
                Association::SymmetricActive => {
                    // Let a peer of higher stratum send first, so that its
                    // measurement has the shorter delay; interleave evenly
                    // with a peer of the same stratum.
                    let diff = i32::from(self.xchg.remote_stratum) - i32::from(self.our_stratum);
                    if (diff > 0 && last_tx * PEER_SAMPLING_ADJ < delay)
                        || (!on_tx && diff == 0 && last_tx / delay > PEER_SAMPLING_ADJ - 0.5)
                    {
                        delay *= PEER_SAMPLING_ADJ;
                    }
                }
            },
            PollState::Polling {
                mode: Polling::Burst { .. },
                ..
            } => delay = (MAX_BURST_POLL_RATIO * delay).min(MAX_BURST_INTERVAL),
            PollState::Offline => {}
        }
        if last_tx > 0.0 {
            delay -= last_tx;
        }
        delay.max(0.0)
    }

    /// Adds `adj` to the poll score; whole units move the poll, within
    /// `minpoll..=maxpoll` (`adjust_poll`).
    pub(super) fn adjust_poll(&mut self, adj: f64) {
        self.poll_score += adj;
        if self.poll_score >= 1.0 {
            let whole = self.poll_score.trunc();
            self.local_poll = self.local_poll.saturating_add(whole as i8);
            self.poll_score -= whole;
        }
        if self.poll_score < 0.0 {
            let whole = (self.poll_score - 1.0).trunc();
            self.local_poll = self.local_poll.saturating_add(whole as i8);
            self.poll_score -= whole;
        }
        if self.local_poll < self.params.minpoll {
            self.local_poll = self.params.minpoll;
            self.poll_score = 0.0;
        } else if self.local_poll > self.params.maxpoll {
            self.local_poll = self.params.maxpoll;
            self.poll_score = 1.0;
        }
        if self.local_poll < MIN_NONLAN_POLL && !self.lan_delay() {
            self.local_poll = MIN_NONLAN_POLL;
        }
    }

    /// Whether sub-second polls are allowed: reachable, and the minimum
    /// delay (or the last filtered one) below 10 ms.
    fn lan_delay(&self) -> bool {
        self.is_reachable()
            && (self.stats.min_round_trip_delay() <= MAX_LAN_PEER_DELAY
                || self
                    .filter
                    .as_ref()
                    .and_then(|f| f.last_sample())
                    .is_some_and(|s| s.peer_delay <= MAX_LAN_PEER_DELAY))
    }

    /// The poll adjustment after a sample (`get_poll_adj`): back off when the
    /// prediction missed by more than the peer distance, else steer the
    /// number of samples in the statistics towards `polltarget`.
    pub(super) fn poll_adjustment(&self, error_in_estimate: f64, peer_distance: f64) -> f64 {
        if error_in_estimate > peer_distance {
            return -(error_in_estimate / peer_distance).log2();
        }
        let samples = self.stats.n_samples() as f64;
        let target = f64::from(self.params.poll_target);
        let adj = (samples / target - 1.0) / target;
        if samples < target { adj * 2.0 } else { adj }
    }

    /// The transmit timer fired (`transmit_timeout`).
    fn transmit_timeout(&mut self, now: UnixTime, ctx: &LocalContext) {
        if let PollState::Polling { tx_at, .. } = &mut self.state {
            *tx_at = None;
        }
        self.send_undo = None;
        match self.state {
            PollState::Polling {
                mode: Polling::Burst { then_online: true },
                ..
            } if self.burst_total_left <= 1 => self.set_polling_mode(Polling::Online),
            PollState::Polling {
                mode: Polling::Burst { then_online: false },
                ..
            } if self.burst_total_left <= 0 => self.take_offline(),
            PollState::Polling {
                mode: Polling::Online,
                ..
            } if self.params.auto_burst && self.local_poll > self.params.minpoll => {
                let n = 1i32 << (self.local_poll - self.params.minpoll).min(30);
                self.initiate_burst_inner(now, BURST_GOOD_SAMPLES, n.min(MAX_BURST_TOTAL_SAMPLES));
            }
            _ => {}
        }
        if let PollState::Offline = self.state {
            return;
        }
        if self.params.auth == AuthMode::Nts && !self.nts_ready {
            // As chrony without cookies (NTS-KE not done yet or failed):
            // count a missed poll and try again later.
            self.nts_missed = true;
            self.update_reachability(false);
            let delay = self.transmit_delay(now, true);
            self.restart_timeout(now, delay);
            self.process_sample(None, ctx);
            return;
        }
        self.send_request(now, ctx);
    }

    /// Sends the request and schedules the next one.
    fn send_request(&mut self, now: UnixTime, ctx: &LocalContext) {
        let interleaved = self.params.interleaved
            && match self.assoc {
                Association::Client => self.xchg.tx_count < MAX_CLIENT_INTERLEAVED_TX,
                Association::SymmetricActive => {
                    self.xchg.prev_tx_count == 1 && self.xchg.tx_count == 0
                }
            };
        // A peer answers its peer's last packet even when it failed some
        // tests, so that the protocol can (re)start.
        let initial = self.assoc == Association::SymmetricActive
            && !self.xchg.valid_rx
            && !self.xchg.init_remote_ntp_tx.is_zero();
        self.xchg.valid_rx = false;
        self.xchg.updated_init_timestamps = false;
        if initial {
            self.xchg.valid_timestamps = false;
        }
        let presend_due = self
            .params
            .presend_minpoll
            .is_some_and(|p| p <= self.local_poll);
        if presend_due && self.xchg.presend_done == 0 && self.burst_total_left == 0 {
            self.xchg.presend_done = if interleaved { 2 } else { 1 };
        } else if self.xchg.presend_done > 0 {
            self.xchg.presend_done -= 1;
        }
        self.build_and_queue(now, ctx, interleaved, initial);
        self.after_send(now, ctx);
    }

    /// The bookkeeping after a request was handed to the driver.
    fn after_send(&mut self, now: UnixTime, ctx: &LocalContext) {
        self.xchg.tx_count += 1;
        self.report.counters.total_tx += 1;
        let mut undo = SendUndo {
            poll: None,
            burst_online_decremented: false,
        };
        if self.xchg.tx_count >= 2 {
            // At least one response is missing: back off, slowly for the
            // system peer.
            undo.poll = Some((self.local_poll, self.poll_score));
            self.adjust_poll(if self.sync_peer { 0.1 } else { 0.25 });
            self.update_reachability(false);
            self.process_sample(None, ctx);
        }
        if let PollState::Polling {
            mode: Polling::Burst { then_online },
            ..
        } = self.state
        {
            self.burst_total_left -= 1;
            undo.burst_online_decremented = then_online;
        }
        self.send_undo = Some(undo);
        let delay = self.transmit_delay(now, true);
        self.restart_timeout(now, delay);
        if self.assoc == Association::Client {
            if let PollState::Polling { rx_until, .. } = &mut self.state {
                *rx_until = Some(now.add_secs(self.params.max_delay + MAX_SERVER_INTERVAL));
            }
        }
    }

    /// The last request could not be sent: undo what assumed it was, and go
    /// offline with `auto_offline`.
    pub fn handle_send_error(&mut self, now: UnixTime) {
        let Some(undo) = self.send_undo.take() else {
            return;
        };
        self.report.counters.total_tx = self.report.counters.total_tx.saturating_sub(1);
        if let Some((poll, score)) = undo.poll {
            self.local_poll = poll;
            self.poll_score = score;
        }
        if self.params.auto_offline {
            self.set_connectivity(now, Connectivity::Offline);
        }
        // While unreachable, an online burst does not count requests that
        // could not be sent.
        let still_burst_online = matches!(
            self.state,
            PollState::Polling {
                mode: Polling::Burst { then_online: true },
                ..
            }
        );
        if undo.burst_online_decremented && still_burst_online && !self.is_reachable() {
            self.burst_total_left += 1;
        }
    }
}
