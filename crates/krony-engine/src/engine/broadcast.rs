//! `broadcast INTERVAL ADDRESS [PORT]`: NTP broadcast packets (mode 5)
//! sent at a fixed interval, as chronyd's `broadcast_timeout` sends them.
//!
//! The timers run on the corrected time scale, like the sources' polls.
//! Each interval is lengthened by up to 2% at random (chrony's sampling
//! randomness), and the next one is counted from when the last packet
//! left, so the schedule drifts slowly, as chrony's does.

use std::net::SocketAddr;

use rand::Rng;

use super::{Engine, Transmit};
use crate::UnixTime;
use crate::server::{broadcast_packet, precision_log2};

/// chrony's `MAX_POLL`: the longest broadcast interval is 2^24 s.
const MAX_INTERVAL: u32 = 1 << 24;

/// Random extension of each interval (chrony's `SAMPLING_RANDOMNESS`).
const RANDOMNESS: f64 = 0.02;

/// One `broadcast` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BroadcastConfig {
    /// Where the packets go.
    pub to: SocketAddr,
    /// Seconds between packets (clamped to 1 ..= 2^24 as chrony does).
    pub interval: u32,
}

impl BroadcastConfig {
    /// The destination of a `broadcast` directive.
    pub fn from_directive(b: &krony_config::Broadcast) -> Self {
        let interval = u32::try_from(b.interval.max(1))
            .unwrap_or(1)
            .min(MAX_INTERVAL);
        BroadcastConfig {
            to: SocketAddr::new(b.addr, b.port),
            interval,
        }
    }

    /// The poll field: log2 of the interval, rounded.
    pub fn poll(&self) -> i8 {
        // OK: the interval is at most 2^24, its log2 at most 24.
        f64::from(self.interval).log2().round() as i8
    }
}

/// A destination with its next deadline (corrected time).
#[derive(Debug, Clone, Copy)]
pub(super) struct Destination {
    cfg: BroadcastConfig,
    next: UnixTime,
}

/// The interval lengthened by a random fraction up to [`RANDOMNESS`].
fn randomised(interval: u32, rng: &mut impl Rng) -> f64 {
    f64::from(interval) * (1.0 + rng.random::<f64>() * RANDOMNESS)
}

impl Engine {
    /// Schedules the first packet of every `broadcast` line, one interval
    /// after `now` (cooked).
    pub(super) fn start_broadcasts(&mut self, now: UnixTime) {
        let cfgs = self.cfg.broadcasts.clone();
        self.broadcasts = cfgs
            .into_iter()
            .map(|cfg| Destination {
                cfg,
                next: now.add_secs(randomised(cfg.interval, &mut self.rng)),
            })
            .collect();
    }

    /// The earliest broadcast deadline (cooked).
    pub(super) fn broadcast_timeout(&self) -> Option<UnixTime> {
        self.broadcasts.iter().map(|d| d.next).min()
    }

    /// Sends the broadcasts due at the cooked time `now`.
    pub(super) fn fire_broadcasts(&mut self, now: UnixTime) {
        let precision = match &self.server {
            Some(s) => s.precision(),
            None => precision_log2(self.cfg.precision),
        };
        for i in 0..self.broadcasts.len() {
            let Some(d) = self.broadcasts.get(i).copied() else {
                continue;
            };
            if d.next > now {
                continue;
            }
            let params = self.reference.server_params(now);
            // With smoothing, the time and leap status are the smoothed
            // ones; the reference ID and time stay (chronyd changes them
            // only for responses to a received packet).
            let (mut smoothed, _, tx) =
                self.smooth_response(&[MODE_BROADCAST_BYTE], params, now, now);
            smoothed.ref_id = params.ref_id;
            smoothed.ref_time = params.ref_time;
            let repr = broadcast_packet(&smoothed, precision, d.cfg.poll(), tx, &mut self.rng);
            if let Ok(bytes) = repr.to_vec() {
                self.transmits.push_back(Transmit {
                    to: d.cfg.to,
                    local: None,
                    source: None,
                    bytes,
                    new_client_socket: false,
                    mac_key_id: None,
                    wants_tx_timestamp: false,
                });
            }
            let next = now.add_secs(randomised(d.cfg.interval, &mut self.rng));
            if let Some(slot) = self.broadcasts.get_mut(i) {
                slot.next = next;
            }
        }
    }
}

/// The first byte of an NTPv4 broadcast packet (LI 0, VN 4, mode 5), for
/// the smoothing code which looks at the mode only.
const MODE_BROADCAST_BYTE: u8 = 0x25;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;
    use krony_wire::ntp::{Mode, NtpRepr};

    fn engine(conf: &str, now: UnixTime) -> Engine {
        let parsed = krony_config::parse_str(conf, "t.conf").expect("valid config");
        let cfg = EngineConfig::from_config(&parsed.config).expect("config");
        Engine::new(cfg, now, 1).expect("engine")
    }

    #[test]
    fn interval_is_clamped_and_gives_the_poll() {
        let parsed = krony_config::parse_str(
            "broadcast 0 192.0.2.255\nbroadcast 100000000 192.0.2.255 1123\nbroadcast 48 ::1\n",
            "t",
        )
        .expect("config");
        let cfgs: Vec<_> = parsed
            .config
            .broadcasts
            .iter()
            .map(BroadcastConfig::from_directive)
            .collect();
        assert_eq!(
            (cfgs[0].interval, cfgs[0].poll(), cfgs[0].to.port()),
            (1, 0, 123)
        );
        assert_eq!(
            (cfgs[1].interval, cfgs[1].poll(), cfgs[1].to.port()),
            (1 << 24, 24, 1123)
        );
        // log2(48) = 5.58 rounds to 6.
        assert_eq!(cfgs[2].poll(), 6);
    }

    #[test]
    fn packets_go_out_every_interval() {
        let start = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = engine("broadcast 10 192.0.2.255 1123\nlocal stratum 5\n", start);
        let first = e.poll_timeout().expect("scheduled");
        let wait = first.diff_secs(start);
        assert!((10.0..=10.2 + 1e-3).contains(&wait), "{wait}");
        assert!(e.poll_transmit().is_none());
        e.handle_timeout(first);
        let t = e.poll_transmit().expect("a broadcast");
        assert_eq!(t.to, "192.0.2.255:1123".parse().expect("addr"));
        assert_eq!((t.source, t.new_client_socket), (None, false));
        let repr = NtpRepr::parse_bytes(&t.bytes).expect("ntp");
        assert_eq!((repr.mode, repr.poll), (Mode::Broadcast, 3));
        assert!(repr.origin_ts.is_zero() && repr.receive_ts.is_zero());
        assert!(e.poll_transmit().is_none());
        let second = e.poll_timeout().expect("rescheduled");
        assert!((10.0..=10.2 + 1e-3).contains(&second.diff_secs(first)));
    }
}
