//! A naive NTP client: a small reference [`SimNode`] used to prove the
//! simulator end to end and to measure its speed. It polls one server at a
//! fixed interval, steps its clock by each measured offset (RFC 5905 §8:
//! `((T2 - T1) + (T3 - T4)) / 2`) and corrects its frequency by the drift
//! seen since the previous step. No filtering, no selection: a yardstick,
//! not a model of chrony.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::SimNode;
use krony_engine::clock::ClockAction;
use krony_wire::UnixTime;
use krony_wire::ntp::{LeapIndicator, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId};

/// The naive client node.
#[derive(Debug, Clone)]
pub struct NaiveClient {
    server: SocketAddr,
    interval: f64,
    next_poll: Option<UnixTime>,
    /// Transmit timestamp and clock time of the request in flight.
    pending: Option<(NtpTimestamp, UnixTime)>,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    actions: VecDeque<ClockAction>,
    last_step: Option<UnixTime>,
    correction_ppm: f64,
    offsets: Vec<f64>,
}

impl NaiveClient {
    /// A client of `server` polling every `interval` seconds.
    pub fn new(server: SocketAddr, interval: f64) -> Self {
        NaiveClient {
            server,
            interval,
            next_poll: None,
            pending: None,
            outbox: VecDeque::new(),
            actions: VecDeque::new(),
            last_step: None,
            correction_ppm: 0.0,
            offsets: Vec::new(),
        }
    }

    /// Every offset measured so far, seconds.
    pub fn offsets(&self) -> &[f64] {
        &self.offsets
    }

    fn request(now: UnixTime) -> NtpRepr {
        NtpRepr {
            leap: LeapIndicator::Unsynchronized,
            version: 4,
            mode: Mode::Client,
            stratum: 0,
            poll: 4,
            precision: -20,
            root_delay: NtpShort::ZERO,
            root_dispersion: NtpShort::ZERO,
            reference_id: RefId::UNSYNC,
            reference_ts: NtpTimestamp::ZERO,
            origin_ts: NtpTimestamp::ZERO,
            receive_ts: NtpTimestamp::ZERO,
            transmit_ts: NtpTimestamp::from_unix(now),
            extensions: vec![],
            mac: None,
        }
    }
}

impl SimNode for NaiveClient {
    fn handle_start(&mut self, now: UnixTime) {
        self.next_poll = Some(now);
    }

    fn handle_packet(&mut self, now: UnixTime, from: SocketAddr, bytes: &[u8]) {
        let Ok(resp) = NtpRepr::parse_bytes(bytes) else {
            return;
        };
        let Some((tx, t1)) = self.pending else {
            return;
        };
        if from != self.server || resp.mode != Mode::Server || resp.origin_ts != tx {
            return;
        }
        self.pending = None;
        let t2 = resp.receive_ts.to_unix(now);
        let t3 = resp.transmit_ts.to_unix(now);
        let offset = (t2.diff_secs(t1) + t3.diff_secs(now)) / 2.0;
        self.offsets.push(offset);
        if let Some(last) = self.last_step {
            // Behind by `offset` after `elapsed` s: the clock runs slow.
            self.correction_ppm += offset / now.diff_secs(last) * 1e6;
            self.actions.push_back(ClockAction::SetFrequency {
                correction_ppm: self.correction_ppm,
            });
        }
        self.actions.push_back(ClockAction::Step { offset });
        self.last_step = Some(now.add_secs(offset));
    }

    fn handle_timeout(&mut self, now: UnixTime) {
        if self.next_poll.is_some_and(|t| now >= t) {
            let req = Self::request(now);
            // OK to skip: a header-only packet always encodes.
            if let Ok(bytes) = req.to_vec() {
                self.pending = Some((req.transmit_ts, now));
                self.outbox.push_back((self.server, bytes));
            }
            self.next_poll = Some(now.add_secs(self.interval));
        }
    }

    fn poll_timeout(&mut self) -> Option<UnixTime> {
        self.next_poll
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.outbox.pop_front()
    }

    fn poll_clock_action(&mut self) -> Option<ClockAction> {
        self.actions.pop_front()
    }
}
