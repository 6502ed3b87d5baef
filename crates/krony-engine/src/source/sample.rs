//! The measurement made from a valid response of a synchronised server:
//! offset, delay, dispersion (RFC 5905 §8, chrony's `process_response`),
//! and chrony's tests A to D.

use core::cmp::Ordering;

use krony_wire::ntp::{NtpShort, NtpTimestamp, RefId};

use super::NtpSource;
use super::poll::{MAX_SERVER_INTERVAL, log2_to_secs};
use super::receive::Basic;
use super::types::{Association, LocalContext, LocalTimestamp, ReceivedPacket};
use crate::UnixTime;
use crate::stats::Sample;

/// Offsets must stay within ±2^32 s (chrony's `MAX_OFFSET`).
const MAX_OFFSET: f64 = 4_294_967_296.0;
/// The start of the 136-year interval NTP timestamps are mapped to, as a
/// chrony built in 2025 with the default 50-year split uses
/// (`NTP_ERA_SPLIT`): 2025-01-01 minus 18250 days.
const NTP_ERA_SPLIT: f64 = 1_735_689_600.0 - 18_250.0 * 86_400.0;
/// In interleaved mode, prefer the previous exchange when the local
/// interval is this much shorter (`MAX_INTERLEAVED_L2L_RATIO`).
const MAX_INTERLEAVED_L2L_RATIO: f64 = 0.1;

/// chrony's `UTI_CompareNtp64`: the seconds compared modulo 2^32 as a
/// signed difference, then the fractions.
pub(super) fn cmp_ntp(a: NtpTimestamp, b: NtpTimestamp) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    // OK to truncate: the wrapping difference of the seconds read as signed.
    let diff = a.secs().wrapping_sub(b.secs()) as i32;
    match diff.cmp(&0) {
        Ordering::Equal => a.frac().cmp(&b.frac()),
        other => other,
    }
}

/// Whether `time + offset` is a sane time for NTP (`UTI_IsTimeOffsetSane`).
fn time_offset_sane(time: UnixTime, offset: f64) -> bool {
    if !(offset > -MAX_OFFSET && offset < MAX_OFFSET) {
        return false;
    }
    let t = time.as_nanos() as f64 / 1e9 + offset;
    t >= 0.0 && (NTP_ERA_SPLIT..=NTP_ERA_SPLIT + 4_294_967_296.0).contains(&t)
}

/// The four timestamps of a measurement and the root values to add.
struct Exchange4 {
    local_transmit: LocalTimestamp,
    remote_receive: UnixTime,
    /// The server's RX time of the request this response answers.
    remote_request_receive: UnixTime,
    remote_transmit: UnixTime,
    local_receive: LocalTimestamp,
    /// Interleaved symmetric mode: the peer's previous TX time.
    prev_remote_transmit: Option<UnixTime>,
    root_delay: f64,
    root_dispersion: f64,
}

/// The result of measuring a response.
#[derive(Debug, Clone, Copy)]
pub(super) struct Measurement {
    pub sample: Sample,
    pub response_time: f64,
    pub local_receive: LocalTimestamp,
    pub local_transmit: Option<LocalTimestamp>,
    pub test_a: bool,
    pub test_b: bool,
    pub test_c: bool,
    pub test_d: bool,
    /// The server's offset correction since the last valid response
    /// (`extfield F323`), 0 when unknown.
    pub mono_doffset: f64,
}

impl Measurement {
    /// No measurement: the tests A-D fail, the timestamps are the packet's.
    pub fn none(rx: LocalTimestamp, tx: Option<LocalTimestamp>) -> Self {
        Measurement {
            sample: Sample {
                time: rx.time,
                offset: 0.0,
                peer_delay: 0.0,
                peer_dispersion: 0.0,
                root_delay: 0.0,
                root_dispersion: 0.0,
            },
            response_time: 0.0,
            local_receive: rx,
            local_transmit: tx,
            test_a: false,
            test_b: false,
            test_c: false,
            test_d: false,
            mono_doffset: 0.0,
        }
    }
}

impl NtpSource {
    /// Measures a valid response of a synchronised server and runs tests
    /// A-D. `None` if our TX time is unknown (cannot happen after test 2).
    pub(super) fn measure(
        &self,
        rp: &ReceivedPacket<'_>,
        b: &Basic,
        ctx: &LocalContext,
    ) -> Option<Measurement> {
        let p = rp.packet;
        let interleaved = b.interleaved;
        let mono_doffset =
            self.xchg
                .mono
                .doffset(b.mono.as_ref(), p.receive_ts, self.xchg.remote_ntp_rx);
        let x = self.select_timestamps(rp, b, mono_doffset)?;
        let remote_interval = x.remote_transmit.diff_secs(x.remote_receive);
        let remote_average = x.remote_receive.add_secs(remote_interval / 2.0);
        let local_interval = x.local_receive.time.diff_secs(x.local_transmit.time);
        let local_average = x.local_transmit.time.add_secs(local_interval / 2.0);
        let response_time = x.remote_transmit.diff_secs(x.remote_request_receive).abs();
        let precision = ctx.precision + log2_to_secs(i32::from(p.precision));
        let peer_delay = (local_interval - remote_interval).abs().max(precision);
        let offset = remote_average.diff_secs(local_average) + self.params.offset_correction;
        let (freq_lo, freq_hi) = self.stats.frequency_range();
        let skew = (freq_hi - freq_lo) / 2.0;
        let peer_dispersion = precision.max(x.local_transmit.err.max(x.local_receive.err))
            + skew * local_interval.abs();
        let sample = Sample {
            // The middle of the local interval: the only choice that gives
            // the right frequency for every pair of samples.
            time: local_average,
            offset,
            peer_delay,
            peer_dispersion,
            root_delay: x.root_delay + peer_delay,
            root_dispersion: x.root_dispersion + peer_dispersion,
        };
        let test_a = self.test_a(rp, &x, &sample, precision, response_time, interleaved);
        Some(Measurement {
            sample,
            response_time,
            local_receive: x.local_receive,
            local_transmit: Some(x.local_transmit),
            test_a,
            test_b: self.test_b(&sample, ctx),
            test_c: self.test_c(&sample, ctx),
            test_d: self.test_d(rp, ctx),
            mono_doffset,
        })
    }

    /// The timestamps to measure with. In interleaved mode the response
    /// carries the server's TX time of its previous response, so the
    /// measurement pairs it with our RX time of that response.
    /// The server's remote timestamps of earlier responses are moved by
    /// `mono_doffset`, the correction it made since.
    fn select_timestamps(
        &self,
        rp: &ReceivedPacket<'_>,
        b: &Basic,
        mono_doffset: f64,
    ) -> Option<Exchange4> {
        let p = rp.packet;
        let pivot = rp.rx.time;
        let local_tx = self.xchg.local_tx?;
        let (root_delay, root_dispersion) = (b.root_delay, b.root_dispersion);
        if !b.interleaved {
            let remote_receive = p.receive_ts.to_unix(pivot);
            return Some(Exchange4 {
                local_transmit: local_tx,
                remote_receive,
                remote_request_receive: remote_receive,
                remote_transmit: p.transmit_ts.to_unix(pivot),
                local_receive: rp.rx,
                prev_remote_transmit: None,
                root_delay,
                root_dispersion,
            });
        }
        let local_rx = self.xchg.local_rx?;
        let prev_rx = self.xchg.remote_ntp_rx.to_unix(pivot);
        // Prefer the previous request (whose server RX time we have) when its
        // round trip is much shorter than the time to the current request.
        let use_prev = self.xchg.prev_local_tx.filter(|prev| {
            MAX_INTERLEAVED_L2L_RATIO * local_tx.time.diff_secs(local_rx.time)
                > local_rx.time.diff_secs(prev.time)
        });
        let (local_transmit, remote_receive, root_delay, root_dispersion) = match use_prev {
            Some(prev) => (
                prev,
                prev_rx.add_secs(-mono_doffset),
                self.xchg.remote_root_delay,
                self.xchg.remote_root_dispersion,
            ),
            None => (
                local_tx,
                p.receive_ts.to_unix(pivot),
                root_delay.max(self.xchg.remote_root_delay),
                root_dispersion.max(self.xchg.remote_root_dispersion),
            ),
        };
        Some(Exchange4 {
            local_transmit,
            remote_receive,
            remote_request_receive: prev_rx,
            remote_transmit: p.transmit_ts.to_unix(pivot).add_secs(-mono_doffset),
            local_receive: local_rx,
            prev_remote_transmit: Some(self.xchg.remote_ntp_tx.to_unix(pivot)),
            root_delay,
            root_dispersion,
        })
    }

    /// Test A: the delay is within `maxdelay`, this is not the warm-up
    /// exchange of `presend`, the offset is sane, the server answered within
    /// 4 s (client mode), and the interleaved timestamps are consistent.
    fn test_a(
        &self,
        rp: &ReceivedPacket<'_>,
        x: &Exchange4,
        s: &Sample,
        precision: f64,
        response_time: f64,
        interleaved: bool,
    ) -> bool {
        let client = self.assoc == Association::Client;
        let basic = s.peer_delay - s.peer_dispersion <= self.params.max_delay
            && precision <= self.params.max_delay
            && self.xchg.presend_done <= 0
            && time_offset_sane(s.time, s.offset)
            && !(client && response_time > MAX_SERVER_INTERVAL);
        // Client: after a good basic response, do not measure with the
        // current request's TX time (the previous one was not kept).
        let client_reuse = client
            && interleaved
            && self.xchg.prev_local_tx.is_none()
            && Some(x.local_transmit.time) == self.xchg.local_tx.map(|t| t.time);
        basic && !client_reuse && !(!client && interleaved && self.peer_missed_response(rp, x, s))
    }

    /// Interleaved symmetric mode: whether the delay or the remote
    /// timestamps suggest a response was missed.
    fn peer_missed_response(&self, rp: &ReceivedPacket<'_>, x: &Exchange4, s: &Sample) -> bool {
        let p = rp.packet;
        let prev_remote_poll = log2_to_secs(i32::from(
            self.xchg.remote_poll.min(self.xchg.prev_local_poll),
        ));
        let remote_gap = x
            .prev_remote_transmit
            .map_or(0.0, |prev| x.remote_transmit.diff_secs(prev));
        s.peer_delay > 0.5 * prev_remote_poll
            || cmp_ntp(p.receive_ts, p.transmit_ts) != Ordering::Greater
            || (self.xchg.remote_poll <= self.xchg.prev_local_poll
                && remote_gap > 1.5 * prev_remote_poll)
    }

    /// Test B: the delay is within `maxdelayratio` × the minimum delay in the
    /// statistics (plus the dispersion since then).
    fn test_b(&self, s: &Sample, ctx: &LocalContext) -> bool {
        if self.params.max_delay_ratio < 1.0 {
            return true;
        }
        let Some(d) = self.stats.get_delay_test_data(s.time) else {
            return true;
        };
        let max_delay = d.min_delay * self.params.max_delay_ratio
            + d.last_sample_ago * (d.skew + ctx.max_clock_error);
        s.peer_delay <= max_delay
    }

    /// Test C: with `maxdelayquant`, the delay is within the estimated
    /// quantile of the delays; otherwise the increase of the delay over the minimum is within
    /// `maxdelaydevratio` × the jitter, unless the offset moved even more
    /// than the delay (then the prediction is wrong, not the sample).
    fn test_c(&self, s: &Sample, ctx: &LocalContext) -> bool {
        if let Some(q) = &self.delay_quant {
            return s.peer_delay <= q.quantile() + q.min_step() / 2.0;
        }
        let Some(d) = self.stats.get_delay_test_data(s.time) else {
            return true;
        };
        let max_delta = d.std_dev * self.params.max_delay_dev_ratio
            + d.last_sample_ago * (d.skew + ctx.max_clock_error);
        let delta = (s.peer_delay - d.min_delay) / 2.0;
        if delta <= max_delta {
            return true;
        }
        // The statistics' offsets are positive when the local clock is fast.
        let error_in_estimate = s.offset + d.predicted_offset;
        error_in_estimate.abs() - delta > max_delta
    }

    /// Test D: the source is not synchronised to us, and is not us.
    fn test_d(&self, rp: &ReceivedPacket<'_>, ctx: &LocalContext) -> bool {
        if !ctx.check_sync_loop {
            return true;
        }
        let p = rp.packet;
        let our_refid = rp.local_addr.map_or(RefId::UNSYNC, RefId::from_ip);
        if p.stratum > 1 && p.reference_id == our_refid {
            return false;
        }
        let r = &ctx.reference;
        let is_us = p.stratum == r.stratum
            && p.reference_id == r.ref_id
            && p.root_delay == NtpShort::from_secs(r.root_delay)
            && !p.reference_ts.is_zero()
            && r.ref_time != UnixTime::EPOCH
            && p.reference_ts == NtpTimestamp::from_unix(r.ref_time);
        !is_us
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ntp_comparison_wraps_like_chrony() {
        let a = NtpTimestamp::from_parts(0xFFFF_FFFF, 0);
        let b = NtpTimestamp::from_parts(1, 0);
        // b is 2 s after a across the era boundary.
        assert_eq!(cmp_ntp(a, b), Ordering::Less);
        assert_eq!(cmp_ntp(b, a), Ordering::Greater);
        let c = NtpTimestamp::from_parts(1, 5);
        assert_eq!(cmp_ntp(b, c), Ordering::Less);
        assert_eq!(cmp_ntp(c, c), Ordering::Equal);
    }

    #[test]
    fn offset_sanity() {
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        assert!(time_offset_sane(now, 0.5));
        assert!(!time_offset_sane(now, 5e9));
        assert!(!time_offset_sane(now, f64::NAN));
        assert!(!time_offset_sane(UnixTime::EPOCH, -1.0));
    }
}
