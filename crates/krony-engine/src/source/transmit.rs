//! Building our packets (chrony's `transmit_packet` for client and
//! symmetric active mode).

use krony_wire::ntp::{LeapIndicator, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId};
use rand::RngCore;

use super::types::{Association, LocalContext, LocalTimestamp, Transmit};
use super::{AuthMode, MAX_STRATUM, NtpSource};
use crate::UnixTime;

/// The precision field of client requests: 32, so that the whole transmit
/// timestamp is random and the request reveals nothing about our clock.
const CLIENT_PRECISION: i8 = 32;

/// Random bits below the precision (2^`precision` s) of a 32.32 timestamp:
/// all 64 bits at precision 32, none at -32 (`UTI_GetNtp64Fuzz`).
pub(super) fn fuzz(rng: &mut impl RngCore, precision: i32) -> u64 {
    match (precision + 32).clamp(0, 64) {
        0 => 0,
        64 => rng.next_u64(),
        bits => rng.next_u64() & ((1u64 << bits) - 1),
    }
}

/// The NTP timestamp of a local time with random low bits; zero for an
/// unknown time (`UTI_TimespecToNtp64` with fuzz).
fn fuzzed(t: Option<UnixTime>, fuzz: u64) -> NtpTimestamp {
    match t {
        Some(t) if t != UnixTime::EPOCH => NtpTimestamp(NtpTimestamp::from_unix(t).0 ^ fuzz),
        _ => NtpTimestamp::ZERO,
    }
}

/// The timestamps of a packet being built.
struct Stamps {
    origin: NtpTimestamp,
    receive: NtpTimestamp,
    transmit: NtpTimestamp,
}

impl NtpSource {
    /// Builds our next packet, remembers its timestamps and queues it.
    /// `initial`: a peer answers the last packet it got even though it was
    /// not a valid response.
    pub(super) fn build_and_queue(
        &mut self,
        now: UnixTime,
        ctx: &LocalContext,
        interleaved: bool,
        initial: bool,
    ) {
        let client = self.assoc == Association::Client;
        let (remote_rx, remote_tx, local_rx) = if initial {
            (None, self.xchg.init_remote_ntp_tx, self.xchg.init_local_rx)
        } else {
            (
                Some(self.xchg.remote_ntp_rx),
                self.xchg.remote_ntp_tx,
                self.xchg.local_rx,
            )
        };
        // The interleaved mode needs the remote's RX timestamp and our own
        // previous TX timestamp.
        let interleaved = interleaved && remote_rx.is_some() && self.xchg.local_tx.is_some();
        let precision = if client {
            CLIENT_PRECISION
        } else {
            ctx.precision_log2.clamp(-32, 32)
        };
        let stamps = self.stamps(now, precision, interleaved, remote_rx, remote_tx, local_rx);
        let mut repr = self.header(ctx, precision, &stamps);
        if self.params.mono_root && repr.version == 4 {
            // A peer sends its root values and the monotonic time of its
            // receive timestamp; a client only asks for the field.
            let peer = (!client).then(|| {
                let r = &ctx.reference;
                (
                    r.root_delay,
                    r.root_dispersion,
                    local_rx.map(|t| t.time),
                    ctx.mono,
                )
            });
            let fuzz = fuzz(&mut self.rng, i32::from(precision));
            repr.extensions
                .push(super::mono_root::request_field(peer, fuzz));
        }
        self.xchg.local_tx = Some(LocalTimestamp::daemon(now));
        self.xchg.local_ntp_rx = stamps.receive;
        self.xchg.local_ntp_tx = stamps.transmit;
        let mac_key_id = match self.params.auth {
            AuthMode::Symmetric { key_id } => Some(key_id),
            _ => None,
        };
        // OK to skip: emitting a plain header with version 1-4 cannot fail.
        if let Ok(bytes) = repr.to_vec() {
            self.transmits.push_back(Transmit {
                remote: self.remote,
                bytes,
                transmit_ts: stamps.transmit,
                new_client_socket: client,
                mac_key_id,
            });
        }
    }

    /// Origin, receive and transmit timestamps. Ours are never equal to the
    /// others nor to our previous ones, so that responses to older packets
    /// and the interleaved mode can be told apart.
    fn stamps(
        &mut self,
        now: UnixTime,
        precision: i8,
        interleaved: bool,
        remote_rx: Option<NtpTimestamp>,
        remote_tx: NtpTimestamp,
        local_rx: Option<LocalTimestamp>,
    ) -> Stamps {
        let p = i32::from(precision);
        let client = self.assoc == Association::Client;
        let (origin, receive) = if !client || interleaved {
            let origin = match (interleaved, remote_rx) {
                (true, Some(rx)) => rx,
                _ => remote_tx,
            };
            let rx_time = local_rx.map(|t| t.time);
            let receive = loop {
                let r = fuzzed(rx_time, fuzz(&mut self.rng, p));
                if r.is_zero() || (r != origin && r != self.xchg.local_ntp_rx) {
                    break r;
                }
            };
            (origin, receive)
        } else {
            (NtpTimestamp::ZERO, NtpTimestamp::ZERO)
        };
        let tx_time = if interleaved {
            self.xchg.local_tx.map(|t| t.time)
        } else {
            Some(now)
        };
        let transmit = loop {
            let t = fuzzed(tx_time, fuzz(&mut self.rng, p));
            let reused = t == receive || t == origin || t == self.xchg.local_ntp_tx;
            if !t.is_zero() && !reused {
                break t;
            }
        };
        Stamps {
            origin,
            receive,
            transmit,
        }
    }

    /// The header: client requests reveal nothing of our clock; a peer
    /// sends our reference.
    fn header(&self, ctx: &LocalContext, precision: i8, s: &Stamps) -> NtpRepr {
        let client = self.assoc == Association::Client;
        let r = &ctx.reference;
        let (leap, stratum, ref_id, ref_ts, delay, disp) = if client {
            (
                LeapIndicator::NoWarning,
                0,
                RefId::UNSYNC,
                NtpTimestamp::ZERO,
                0.0,
                0.0,
            )
        } else {
            let ref_ts = if r.ref_time == UnixTime::EPOCH {
                NtpTimestamp::ZERO
            } else {
                NtpTimestamp::from_unix(r.ref_time)
            };
            // Stratum 16 and above are sent as 0 ("invalid").
            let stratum = if r.stratum < MAX_STRATUM {
                r.stratum
            } else {
                0
            };
            (
                r.leap,
                stratum,
                r.ref_id,
                ref_ts,
                r.root_delay,
                r.root_dispersion,
            )
        };
        NtpRepr {
            leap,
            version: self.params.version,
            mode: if client {
                Mode::Client
            } else {
                Mode::SymmetricActive
            },
            stratum,
            poll: self.local_poll,
            precision,
            root_delay: NtpShort::from_secs(delay),
            root_dispersion: NtpShort::from_secs(disp),
            reference_id: ref_id,
            reference_ts: ref_ts,
            origin_ts: s.origin,
            receive_ts: s.receive,
            transmit_ts: s.transmit,
            extensions: vec![],
            mac: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn fuzz_keeps_to_the_precision() {
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..100 {
            // Precision -20: bits below 2^-20 s, i.e. the low 12 bits.
            assert!(fuzz(&mut rng, -20) < 1 << 12);
            assert_eq!(fuzz(&mut rng, -32), 0);
        }
        let all: Vec<u64> = (0..8).map(|_| fuzz(&mut rng, 32)).collect();
        assert!(all.iter().any(|v| v >> 63 == 1), "high bits are random too");
    }
}
