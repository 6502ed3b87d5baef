//! Simulated NTP servers: they answer client requests (mode 3) with server
//! responses (mode 4, RFC 5905 §7.3, §8) read from their own simulated clock.

use std::collections::VecDeque;
use std::net::SocketAddr;

use krony_engine::clock::ClockAction;
use krony_wire::UnixTime;
use krony_wire::ntp::{LeapIndicator, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId};

use crate::runner::SimNode;

/// What a simulated server says about itself, and how wrong it is.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerParams {
    /// Stratum (1 for a primary server).
    pub stratum: u8,
    /// Reference ID.
    pub refid: RefId,
    /// Leap indicator in every response.
    pub leap: LeapIndicator,
    /// Precision, log2 seconds.
    pub precision: i8,
    /// Root delay, seconds.
    pub root_delay: f64,
    /// Root dispersion, seconds.
    pub root_dispersion: f64,
    /// Added to every timestamp the server sends, seconds: a falseticker
    /// when nonzero (chrony's tests give falseticker N an offset of N s).
    pub timestamp_error: f64,
}

impl Default for ServerParams {
    /// A primary server like chrony's `local stratum 1`.
    fn default() -> Self {
        ServerParams {
            stratum: 1,
            refid: RefId::LOCAL,
            leap: LeapIndicator::NoWarning,
            precision: -20,
            root_delay: 0.0,
            root_dispersion: 1e-5,
            timestamp_error: 0.0,
        }
    }
}

/// An NTP server node: answers each valid mode-3 request at once, with
/// receive and transmit timestamps both read at the arrival of the request.
#[derive(Debug, Clone)]
pub struct NtpServer {
    params: ServerParams,
    outbox: VecDeque<(SocketAddr, Vec<u8>)>,
    answered: u64,
    ignored: u64,
}

impl NtpServer {
    /// A server with the given parameters.
    pub fn new(params: ServerParams) -> Self {
        NtpServer {
            params,
            outbox: VecDeque::new(),
            answered: 0,
            ignored: 0,
        }
    }

    /// Requests answered so far.
    pub fn answered(&self) -> u64 {
        self.answered
    }

    /// Packets ignored so far (malformed, or not client requests).
    pub fn ignored(&self) -> u64 {
        self.ignored
    }

    /// The response to `request` received at clock time `now`, or `None`
    /// if it is not a client request.
    pub fn respond(&self, now: UnixTime, request: &NtpRepr) -> Option<NtpRepr> {
        if request.mode != Mode::Client {
            return None;
        }
        let p = &self.params;
        let ts = NtpTimestamp::from_unix(now.add_secs(p.timestamp_error));
        Some(NtpRepr {
            leap: p.leap,
            // RFC 5905 §9.2 (and chrony): answer in the client's version.
            version: request.version,
            mode: Mode::Server,
            stratum: p.stratum,
            poll: request.poll,
            precision: p.precision,
            root_delay: NtpShort::from_secs(p.root_delay),
            root_dispersion: NtpShort::from_secs(p.root_dispersion),
            reference_id: p.refid,
            // The server's reference is always fresh in the simulation.
            reference_ts: ts,
            origin_ts: request.transmit_ts,
            receive_ts: ts,
            transmit_ts: ts,
            extensions: Vec::new(),
            mac: None,
        })
    }
}

impl SimNode for NtpServer {
    fn handle_packet(&mut self, now: UnixTime, from: SocketAddr, bytes: &[u8]) {
        let reply = NtpRepr::parse_bytes(bytes)
            .ok()
            .and_then(|req| self.respond(now, &req))
            .and_then(|resp| resp.to_vec().ok());
        match reply {
            Some(bytes) => {
                self.answered += 1;
                self.outbox.push_back((from, bytes));
            }
            None => self.ignored += 1,
        }
    }

    fn handle_timeout(&mut self, _now: UnixTime) {}

    fn poll_timeout(&mut self) -> Option<UnixTime> {
        None
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.outbox.pop_front()
    }

    fn poll_clock_action(&mut self) -> Option<ClockAction> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeId;

    fn request(version: u8, mode: Mode, tx: NtpTimestamp) -> NtpRepr {
        NtpRepr {
            leap: LeapIndicator::Unsynchronized,
            version,
            mode,
            stratum: 0,
            poll: 6,
            precision: -20,
            root_delay: NtpShort::ZERO,
            root_dispersion: NtpShort::ZERO,
            reference_id: RefId::UNSYNC,
            reference_ts: NtpTimestamp::ZERO,
            origin_ts: NtpTimestamp::ZERO,
            receive_ts: NtpTimestamp::ZERO,
            transmit_ts: tx,
            extensions: vec![],
            mac: None,
        }
    }

    #[test]
    fn answers_client_requests() {
        let mut server = NtpServer::new(ServerParams {
            stratum: 2,
            refid: RefId::from_ascii(b"GPS"),
            root_delay: 0.001,
            ..ServerParams::default()
        });
        let tx = NtpTimestamp::from_parts(123, 456);
        let now = UnixTime::from_secs_nanos(1_262_304_100, 500_000_000);
        let bytes = request(3, Mode::Client, tx).to_vec().expect("valid");
        let client = NodeId(1).addr();
        server.handle_packet(now, client, &bytes);
        let (to, reply) = server.poll_transmit().expect("a response");
        assert_eq!(to, client);
        assert!(server.poll_transmit().is_none());
        let resp = NtpRepr::parse_bytes(&reply).expect("valid response");
        assert_eq!(resp.mode, Mode::Server);
        assert_eq!(resp.version, 3);
        assert_eq!(resp.stratum, 2);
        assert_eq!(resp.poll, 6);
        assert_eq!(resp.leap, LeapIndicator::NoWarning);
        assert_eq!(resp.reference_id, RefId::from_ascii(b"GPS"));
        assert_eq!(resp.origin_ts, tx);
        assert_eq!(resp.receive_ts, NtpTimestamp::from_unix(now));
        assert_eq!(resp.transmit_ts, resp.receive_ts);
        assert!((resp.root_delay.to_secs() - 0.001).abs() < 2e-5);
        assert_eq!(server.answered(), 1);
    }

    #[test]
    fn falseticker_shifts_its_timestamps() {
        let server = NtpServer::new(ServerParams {
            timestamp_error: 2.0,
            ..ServerParams::default()
        });
        let now = UnixTime::from_secs_nanos(1_262_304_000, 0);
        let req = request(4, Mode::Client, NtpTimestamp::ZERO);
        let resp = server.respond(now, &req).expect("answered");
        assert_eq!(resp.receive_ts.to_unix(now), now.add_secs(2.0));
    }

    #[test]
    fn ignores_garbage_and_other_modes() {
        let mut server = NtpServer::new(ServerParams::default());
        let now = UnixTime::from_secs_nanos(1_262_304_000, 0);
        server.handle_packet(now, NodeId(1).addr(), &[0u8; 10]);
        let bytes = request(4, Mode::Server, NtpTimestamp::ZERO)
            .to_vec()
            .expect("valid");
        server.handle_packet(now, NodeId(1).addr(), &bytes);
        assert!(server.poll_transmit().is_none());
        assert_eq!(server.ignored(), 2);
    }
}
