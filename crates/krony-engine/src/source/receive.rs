//! Handling a packet from the source (chrony's `NCR_ProcessRxKnown` and
//! `process_response`): the packet tests, the protocol state, and what a
//! valid response changes.

use core::cmp::Ordering;

use krony_wire::ntp::{ExtensionField, KissCode, LeapIndicator, Mode, NtpRepr, NtpTimestamp};

use super::checks::PacketTests;
use super::mono_root::{self, MonoRootField};
use super::report::MeasurementRecord;
use super::sample::{Measurement, cmp_ntp};
use super::types::{
    Association, Connectivity, DropReason, LocalContext, LocalTimestamp, ReceivedPacket, RxOutcome,
    SourceEvent, TestedPacket, TimestampKind,
};
use super::{AuthMode, MAX_STRATUM, NtpSource, PollState, Polling};
use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::stats::Sample;

/// RFC 5905 §7.3: a root distance of 16 s or more is unusable (MAXDISP).
const NTP_MAX_DISPERSION: f64 = 16.0;

/// The leap status chrony's reports and selection use.
pub(super) fn leap_status(leap: LeapIndicator) -> LeapStatus {
    match leap {
        LeapIndicator::NoWarning => LeapStatus::Normal,
        LeapIndicator::Insert => LeapStatus::InsertSecond,
        LeapIndicator::Delete => LeapStatus::DeleteSecond,
        LeapIndicator::Unsynchronized => LeapStatus::Unsynchronised,
    }
}

/// How a packet is authenticated, as chrony classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PacketAuth {
    None,
    Symmetric,
    Nts,
}

fn packet_auth(p: &NtpRepr) -> PacketAuth {
    let nts = p.extensions.iter().any(|e| {
        matches!(
            e.field_type,
            ExtensionField::NTS_UNIQUE_IDENTIFIER
                | ExtensionField::NTS_COOKIE
                | ExtensionField::NTS_COOKIE_PLACEHOLDER
                | ExtensionField::NTS_AUTH_AND_EEF
        )
    });
    if p.mac.is_some() {
        PacketAuth::Symmetric
    } else if nts {
        PacketAuth::Nts
    } else {
        PacketAuth::None
    }
}

/// Tests 1-7 and what follows from them.
#[derive(Debug, Clone, Copy)]
pub(super) struct Basic {
    pub tests: PacketTests,
    pub valid: bool,
    pub synced: bool,
    pub interleaved: bool,
    /// The server's root delay and dispersion: from the monotonic-root
    /// field when there is one (28 fraction bits), else from the header.
    pub root_delay: f64,
    pub root_dispersion: f64,
    /// The monotonic-root field, when we asked for it (`extfield F323`).
    pub mono: Option<MonoRootField>,
}

impl NtpSource {
    /// Handles a packet from the source's address received at `now`.
    ///
    /// Responses are tested; a good one becomes a sample, accumulated into
    /// the statistics ([`SourceEvent::SampleAccumulated`]). Requests from the
    /// remote are returned as [`RxOutcome::Request`] for the server part to
    /// answer. Nothing here fails: bad packets are counted and reported.
    pub fn handle_packet(
        &mut self,
        now: UnixTime,
        rp: &ReceivedPacket<'_>,
        ctx: &LocalContext,
    ) -> RxOutcome {
        self.count_rx(rp.rx.kind);
        let mode = rp.packet.mode;
        let process = match (mode, self.assoc) {
            (Mode::SymmetricActive, Association::SymmetricActive)
            | (Mode::SymmetricPassive, Association::SymmetricActive)
            | (Mode::Server, Association::Client) => true,
            (Mode::Client, _) | (Mode::SymmetricActive, Association::Client) => {
                return RxOutcome::Request;
            }
            _ => false,
        };
        if !process {
            return RxOutcome::Dropped(DropReason::ModeMismatch);
        }
        if matches!(self.state, PollState::Offline) || !self.started {
            return RxOutcome::Dropped(DropReason::NotPolling);
        }
        self.our_stratum = ctx.reference.stratum;
        RxOutcome::Tested(self.process_response(now, rp, ctx))
    }

    /// Counts a packet from the source that could not be parsed (chrony
    /// counts it as received before parsing).
    pub fn handle_malformed_packet(&mut self, rx_kind: TimestampKind) {
        self.count_rx(rx_kind);
    }

    fn count_rx(&mut self, kind: TimestampKind) {
        let c = &mut self.report.counters;
        c.total_rx += 1;
        match kind {
            TimestampKind::Kernel => c.total_kernel_rx += 1,
            TimestampKind::Hardware => c.total_hw_rx += 1,
            TimestampKind::Daemon => {}
        }
    }

    fn process_response(
        &mut self,
        now: UnixTime,
        rp: &ReceivedPacket<'_>,
        ctx: &LocalContext,
    ) -> TestedPacket {
        let p = rp.packet;
        let mut b = self.basic_tests(rp);
        let t = b.tests;
        let kiss = (t.t1_not_duplicate
            && t.t2_not_bogus
            && t.t5_authentic
            && p.leap == LeapIndicator::Unsynchronized
            && p.stratum == 0)
            .then(|| KissCode::from(p.reference_id));
        let m = if b.synced && (!b.interleaved || self.xchg.valid_timestamps) {
            self.measure(rp, &b, ctx)
        } else {
            None
        }
        .unwrap_or_else(|| Measurement::none(rp.rx, self.xchg.local_tx));
        b.tests.ta_delay_ok = m.test_a;
        b.tests.tb_delay_ratio = m.test_b;
        b.tests.tc_delay_dev_ratio = m.test_c;
        b.tests.td_no_sync_loop = m.test_d;
        let mut good = m.test_a && m.test_b && m.test_c && m.test_d;
        self.update_timestamps(rp, &b, good, m.mono_doffset);
        // At most one response per request is accepted.
        if self.xchg.valid_rx {
            b.tests.t2_not_bogus = false;
            b.tests.t3_timestamps_set = false;
            b.valid = false;
            b.synced = false;
            good = false;
        } else if b.valid {
            self.xchg.valid_rx = true;
        }
        let mut sample = None;
        if b.valid {
            sample = self.handle_valid(now, rp, &b, &m, good, kiss, ctx);
        }
        if self.log_raw_measurements || b.synced {
            self.log_measurement(p, &b, &m);
        }
        TestedPacket {
            tests: b.tests,
            valid: b.valid,
            synced: b.synced,
            good,
            interleaved: b.interleaved,
            kiss,
            sample,
        }
    }

    /// RFC 5905 §8 tests 1, 2, 3, 5, 6 and 7.
    fn basic_tests(&self, rp: &ReceivedPacket<'_>) -> Basic {
        let p = rp.packet;
        let x = &self.xchg;
        let t2n = p.origin_ts == x.local_ntp_tx;
        let t2i = self.params.interleaved && p.origin_ts == x.local_ntp_rx;
        let mono = self.params.mono_root.then(|| mono_root::find(p)).flatten();
        let (root_delay, root_dispersion) = match &mono {
            Some(f) => (f.root_delay, f.root_dispersion),
            None => (p.root_delay.to_secs(), p.root_dispersion.to_secs()),
        };
        let root_distance = root_delay / 2.0 + root_dispersion;
        let tests = PacketTests {
            t1_not_duplicate: p.receive_ts != x.remote_ntp_rx || p.transmit_ts != x.remote_ntp_tx,
            t2_not_bogus: t2n || t2i,
            t3_timestamps_set: !p.origin_ts.is_zero()
                && !p.receive_ts.is_zero()
                && !p.transmit_ts.is_zero(),
            t5_authentic: self.auth_ok(rp),
            t6_synchronised: p.leap != LeapIndicator::Unsynchronized
                && p.stratum < MAX_STRATUM
                && p.stratum != 0,
            t7_root_distance: root_distance < NTP_MAX_DISPERSION,
            ..PacketTests::default()
        };
        let valid = tests.t1_not_duplicate
            && tests.t2_not_bogus
            && tests.t3_timestamps_set
            && tests.t5_authentic;
        Basic {
            tests,
            valid,
            synced: valid && tests.t6_synchronised && tests.t7_root_distance,
            interleaved: !t2n && t2i,
            root_delay,
            root_dispersion,
            mono,
        }
    }

    /// Test 5: the packet is authenticated as configured. Without a key it
    /// must carry no MAC and no NTS fields; with a key, the driver verified
    /// the MAC. NTS is not implemented, so it always fails.
    fn auth_ok(&self, rp: &ReceivedPacket<'_>) -> bool {
        let p = rp.packet;
        match (self.params.auth, packet_auth(p)) {
            (AuthMode::None, PacketAuth::None) => true,
            (AuthMode::Symmetric { key_id }, PacketAuth::Symmetric) => {
                rp.mac_verified && p.mac.as_ref().is_some_and(|m| m.key_id == key_id)
            }
            // The driver checked the authenticator and the unique identifier.
            (AuthMode::Nts, PacketAuth::Nts) => rp.mac_verified,
            _ => false,
        }
    }

    /// Keeps the remote timestamps of a valid response for the next request
    /// (and the interleaved mode); a peer also keeps the last packet of any
    /// kind to answer it.
    /// `mono_doffset`: the server's correction measured from this response.
    fn update_timestamps(
        &mut self,
        rp: &ReceivedPacket<'_>,
        b: &Basic,
        good: bool,
        mono_doffset: f64,
    ) {
        let p = rp.packet;
        let x = &mut self.xchg;
        let client = self.assoc == Association::Client;
        let newer = cmp_ntp(x.remote_ntp_tx, p.transmit_ts) == Ordering::Less;
        if b.valid && (!x.valid_rx || (!client && newer)) {
            x.remote_ntp_rx = p.receive_ts;
            x.remote_ntp_tx = p.transmit_ts;
            x.local_rx = Some(rp.rx);
            x.valid_timestamps = b.synced;
            x.init_remote_ntp_tx = krony_wire::ntp::NtpTimestamp::ZERO;
            x.init_local_rx = None;
            x.updated_init_timestamps = false;
            // Do not reuse the timestamps of an accumulated sample when
            // switching from basic to interleaved mode.
            x.prev_local_tx = if b.interleaved || !good {
                x.local_tx
            } else {
                None
            };
            // Here, not with the sample: a peer may answer one request
            // more than once.
            x.mono.update(b.mono.as_ref(), mono_doffset);
        } else if !client
            && b.tests.t1_not_duplicate
            && !p.transmit_ts.is_zero()
            && b.tests.t5_authentic
            && (!x.updated_init_timestamps
                || cmp_ntp(x.init_remote_ntp_tx, p.transmit_ts) == Ordering::Less)
        {
            x.init_remote_ntp_tx = p.transmit_ts;
            x.init_local_rx = Some(rp.rx);
            x.updated_init_timestamps = true;
        }
    }

    /// What a valid response changes: reachability, status, the sample,
    /// the burst, the next poll, the report.
    #[allow(clippy::too_many_arguments)]
    fn handle_valid(
        &mut self,
        now: UnixTime,
        rp: &ReceivedPacket<'_>,
        b: &Basic,
        m: &Measurement,
        good: bool,
        kiss: Option<KissCode>,
        ctx: &LocalContext,
    ) -> Option<Sample> {
        let p = rp.packet;
        self.xchg.remote_poll = p.poll;
        self.xchg.remote_stratum = if p.stratum != 0 {
            p.stratum.min(MAX_STRATUM)
        } else {
            MAX_STRATUM
        };
        self.xchg.remote_root_delay = b.root_delay;
        self.xchg.remote_root_dispersion = b.root_dispersion;
        self.xchg.prev_local_poll = self.local_poll;
        self.xchg.prev_tx_count = self.xchg.tx_count;
        self.xchg.tx_count = 0;
        self.update_reachability(b.synced);
        if self.params.copy {
            if b.synced && self.xchg.remote_stratum > 0 {
                self.xchg.remote_stratum -= 1;
                self.ref_id = p.reference_id;
            } else {
                self.reset_source();
            }
        }
        if b.synced {
            if let Some(q) = &mut self.delay_quant {
                q.accumulate(m.sample.peer_delay, &mut self.rng);
            }
            self.stratum = self.xchg.remote_stratum.max(self.params.min_stratum);
            if !ctx.near_leap_second {
                self.leap = leap_status(p.leap);
            }
        }
        let sample = if good {
            let s = self.process_sample(Some(m.sample), ctx);
            self.count_burst_sample();
            s
        } else {
            // Back off slowly while responses are not good.
            self.adjust_poll(if m.test_d { 0.02 } else { 0.1 });
            self.process_sample(None, ctx)
        };
        self.close_socket();
        self.local_addr = rp.local_addr;
        self.requeue_after_response(now, kiss);
        self.update_report(p, b.tests, b.interleaved, m, good);
        sample
    }

    /// A good sample in a burst: end the burst after enough of them.
    fn count_burst_sample(&mut self) {
        if let PollState::Polling {
            mode: Polling::Burst { then_online },
            ..
        } = self.state
        {
            self.burst_good_left -= 1;
            if self.burst_good_left <= 0 {
                if then_online {
                    if let PollState::Polling { mode, .. } = &mut self.state {
                        *mode = Polling::Online;
                    }
                } else {
                    self.take_offline();
                }
            }
        }
    }

    /// Schedules the next request after a response; a KoD RATE adds four
    /// poll intervals and ends a burst; DENY/RSTR stop polling only with
    /// `stop_on_deny` (chrony ignores them).
    fn requeue_after_response(&mut self, now: UnixTime, kiss: Option<KissCode>) {
        if let PollState::Offline = self.state {
            return;
        }
        let mut delay = self.transmit_delay(now, false);
        match kiss {
            Some(KissCode::Rate) => {
                self.events.push_back(SourceEvent::KodRate);
                delay += 4.0 * super::poll::log2_to_secs(i32::from(self.local_poll));
                if let PollState::Polling {
                    mode: Polling::Burst { .. },
                    ..
                } = self.state
                {
                    self.burst_good_left = 0;
                }
            }
            Some(code) if code.is_deny() => {
                self.events.push_back(SourceEvent::KodDeny { code });
                if self.params.stop_on_deny {
                    self.set_connectivity(now, Connectivity::Offline);
                    return;
                }
            }
            _ => {}
        }
        self.restart_timeout(now, delay);
    }

    /// Feeds a sample (or a missing one, `None`) through the median filter
    /// into the statistics and adapts the poll (`process_sample`). Returns
    /// the sample accumulated, if any.
    pub(super) fn process_sample(
        &mut self,
        sample: Option<Sample>,
        ctx: &LocalContext,
    ) -> Option<Sample> {
        let sample = match &mut self.filter {
            Some(filter) => {
                if let Some(s) = sample {
                    // An out-of-order or non-finite sample is ignored.
                    let _ = filter.accumulate(s);
                }
                self.filter_count += 1;
                if self.filter_count < filter.max_samples() {
                    return None;
                }
                let out = filter.output()?;
                self.filter_count = 0;
                out
            }
            None => sample?,
        };
        // Predicted offsets are positive when the local clock is fast, the
        // sample's when the source is ahead.
        let estimated = self.stats.predict_offset(sample.time);
        let error_in_estimate = (-sample.offset - estimated).abs();
        // The server's corrections since the last sample move the older
        // samples (`extfield F323`).
        if let Some(d) = self.xchg.mono.take() {
            self.stats.correct_offset(d);
        }
        self.accumulate(sample, ctx.near_leap_second);
        let peer_distance = sample.peer_dispersion + 0.5 * sample.peer_delay;
        self.adjust_poll(self.poll_adjustment(error_in_estimate, peer_distance));
        Some(sample)
    }

    fn log_measurement(&mut self, p: &NtpRepr, b: &Basic, m: &Measurement) {
        let record = MeasurementRecord {
            time: m.sample.time,
            remote: self.remote.ip(),
            leap: p.leap,
            stratum: p.stratum,
            tests: b.tests,
            local_poll: self.local_poll,
            remote_poll: p.poll,
            poll_score: self.poll_score,
            offset: m.sample.offset,
            peer_delay: m.sample.peer_delay,
            peer_dispersion: m.sample.peer_dispersion,
            root_delay: b.root_delay,
            root_dispersion: b.root_dispersion,
            ref_id: p.reference_id,
            mode: p.mode,
            interleaved: b.interleaved,
            tx_kind: m.local_transmit.map_or(TimestampKind::Daemon, |t| t.kind),
            rx_kind: m.local_receive.kind,
        };
        self.events
            .push_back(SourceEvent::Measurement(Box::new(record)));
    }

    /// The daemon's time (cooked) read right before the packet whose
    /// transmit timestamp is `transmit_ts` was handed to the kernel, as
    /// chronyd reads it once more there: closer to the real transmission
    /// than the time the packet was built at, it stands for our TX time
    /// until a kernel or hardware timestamp replaces it. Returns whether it
    /// was taken: only for our last packet, while its TX time is the
    /// daemon's, and at most 1 s later.
    pub fn handle_send_time(&mut self, ts: LocalTimestamp, transmit_ts: NtpTimestamp) -> bool {
        let Some(old) = self.xchg.local_tx else {
            return false;
        };
        let delay = ts.time.diff_secs(old.time);
        let take = old.kind == TimestampKind::Daemon
            && transmit_ts == self.xchg.local_ntp_tx
            && (0.0..=1.0).contains(&delay);
        if take {
            self.xchg.local_tx = Some(ts);
        }
        take
    }

    /// A later, more accurate TX timestamp of a packet we sent (kernel or
    /// hardware, from the error queue). It replaces the daemon timestamp if
    /// it belongs to our last packet and is at most 1 s later.
    pub fn handle_tx_timestamp(&mut self, ts: LocalTimestamp, sent: &NtpRepr) {
        if !matches!(sent.mode, Mode::Client | Mode::SymmetricActive) {
            return;
        }
        if let Some(old) = self.xchg.local_tx {
            let ours = sent.receive_ts == self.xchg.local_ntp_rx
                && sent.transmit_ts == self.xchg.local_ntp_tx;
            let delay = ts.time.diff_secs(old.time);
            // chrony's MAX_TX_DELAY: a later timestamp is not plausible.
            if ours && (0.0..=1.0).contains(&delay) {
                self.xchg.local_tx = Some(ts);
            }
        }
        match ts.kind {
            TimestampKind::Hardware => self.report.counters.total_hw_tx += 1,
            TimestampKind::Kernel => self.report.counters.total_kernel_tx += 1,
            TimestampKind::Daemon => {}
        }
    }
}
