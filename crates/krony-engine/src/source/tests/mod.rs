//! Tests of the NTP source: a deterministic server and a harness that runs
//! exchanges on a virtual clock that jumps to the next deadline.

mod client;
mod peer;
mod polling;
mod xleave;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use krony_wire::ntp::{KissCode, LeapIndicator, Mode, NtpRepr, NtpShort, NtpTimestamp, RefId};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;

/// The local time the tests start at.
pub(super) const BASE: UnixTime = UnixTime::from_secs_nanos(1_700_000_000, 0);
/// The server's address.
pub(super) fn server_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 123)
}
/// Our address.
pub(super) fn local_ip() -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100))
}

/// A source for the server, online, with a fixed seed.
pub(super) fn new_source(params: SourceParams, assoc: Association, seed: u64) -> NtpSource {
    NtpSource::new(
        server_addr(),
        assoc,
        params,
        StatsParams::ntp(1e-9),
        1e-9,
        true,
        StdRng::seed_from_u64(seed),
    )
}

/// A server whose clock is `offset` seconds ahead of ours, answering like
/// chronyd (basic and interleaved modes, kiss codes).
#[derive(Debug, Clone)]
pub(super) struct TestServer {
    pub offset: f64,
    pub stratum: u8,
    pub leap: LeapIndicator,
    pub precision: i8,
    pub ref_id: RefId,
    pub root_delay: f64,
    pub root_dispersion: f64,
    /// Seconds between receiving a request and sending the response.
    pub processing: f64,
    /// How much earlier than the real send time the transmit timestamp of a
    /// basic response is taken (the error the interleaved mode removes).
    pub tx_stamp_early: f64,
    /// Whether the server answers interleaved requests in interleaved mode.
    pub interleaved: bool,
    /// Answer with this kiss code.
    pub kiss: Option<KissCode>,
    /// The receive timestamp of the last request and the real TX time of its
    /// response, for the interleaved mode.
    saved: Option<(NtpTimestamp, NtpTimestamp)>,
}

impl Default for TestServer {
    fn default() -> Self {
        TestServer {
            offset: 0.0,
            stratum: 2,
            leap: LeapIndicator::NoWarning,
            precision: -24,
            ref_id: RefId::from_ascii(b"GPS"),
            root_delay: 0.001,
            root_dispersion: 0.002,
            processing: 0.000_05,
            tx_stamp_early: 0.0,
            interleaved: false,
            kiss: None,
            saved: None,
        }
    }
}

impl TestServer {
    /// The response to `req` arriving at our local time `arrival`, and how
    /// long after `arrival` it leaves.
    pub fn respond(&mut self, req: &NtpRepr, arrival: UnixTime) -> (NtpRepr, f64) {
        let rx = NtpTimestamp::from_unix(arrival.add_secs(self.offset));
        let real_tx = NtpTimestamp::from_unix(arrival.add_secs(self.offset + self.processing));
        let stamped_tx = NtpTimestamp::from_unix(
            arrival.add_secs(self.offset + self.processing - self.tx_stamp_early),
        );
        let interleaved = self.interleaved
            && self
                .saved
                .is_some_and(|(srx, _)| !req.origin_ts.is_zero() && req.origin_ts == srx)
            && req.receive_ts != req.transmit_ts;
        let (origin, transmit) = match self.saved {
            Some((_, prev_tx)) if interleaved => (req.receive_ts, prev_tx),
            _ => (req.transmit_ts, stamped_tx),
        };
        self.saved = Some((rx, real_tx));
        let (stratum, leap, ref_id) = match self.kiss {
            Some(code) => (0, LeapIndicator::Unsynchronized, code.to_refid()),
            None => (self.stratum, self.leap, self.ref_id),
        };
        let resp = NtpRepr {
            leap,
            version: req.version,
            mode: Mode::Server,
            stratum,
            poll: req.poll,
            precision: self.precision,
            root_delay: NtpShort::from_secs(self.root_delay),
            root_dispersion: NtpShort::from_secs(self.root_dispersion),
            reference_id: ref_id,
            reference_ts: NtpTimestamp::from_unix(arrival.add_secs(self.offset - 10.0)),
            origin_ts: origin,
            receive_ts: rx,
            transmit_ts: transmit,
            extensions: vec![],
            mac: None,
        };
        (resp, self.processing)
    }
}

/// A source and a server on a virtual clock.
pub(super) struct Harness {
    pub src: NtpSource,
    pub server: TestServer,
    pub now: UnixTime,
    pub ctx: LocalContext,
    /// One-way delays, seconds.
    pub delay_out: f64,
    pub delay_back: f64,
    /// The local send times of all requests.
    pub sent_at: Vec<UnixTime>,
}

impl Harness {
    /// A started client source with `params` and a default server.
    pub fn new(params: SourceParams) -> Self {
        let mut src = new_source(params, Association::Client, 7);
        src.start(BASE);
        Harness {
            src,
            server: TestServer::default(),
            now: BASE,
            ctx: LocalContext::default(),
            delay_out: 0.01,
            delay_back: 0.01,
            sent_at: Vec::new(),
        }
    }

    /// Runs the timers until the source sends; `None` if it has no timer.
    pub fn next_request(&mut self) -> Option<Transmit> {
        for _ in 0..4 {
            let t = self.src.poll_timeout()?;
            self.now = self.now.max(t);
            self.src.handle_timeout(self.now, &self.ctx);
            if let Some(tx) = self.src.poll_transmit() {
                self.sent_at.push(self.now);
                return Some(tx);
            }
        }
        None
    }

    /// The server's response to a request and our local time of its arrival.
    pub fn response_to(&mut self, tx: &Transmit) -> (NtpRepr, UnixTime) {
        let req = NtpRepr::parse_bytes(&tx.bytes).expect("our request parses");
        let at_server = self.now.add_secs(self.delay_out);
        let (resp, processing) = self.server.respond(&req, at_server);
        (resp, at_server.add_secs(processing + self.delay_back))
    }

    /// Delivers a packet at local time `at`.
    pub fn deliver(&mut self, packet: &NtpRepr, at: UnixTime) -> RxOutcome {
        self.now = self.now.max(at);
        let rp = ReceivedPacket {
            packet,
            rx: LocalTimestamp::daemon(at),
            local_addr: Some(local_ip()),
            mac_verified: false,
        };
        self.src.handle_packet(self.now, &rp, &self.ctx)
    }

    /// One request and its response; panics if nothing was tested.
    pub fn exchange(&mut self) -> TestedPacket {
        let tx = self.next_request().expect("a request is scheduled");
        let (resp, at) = self.response_to(&tx);
        match self.deliver(&resp, at) {
            RxOutcome::Tested(t) => t,
            other => panic!("response not tested: {other:?}"),
        }
    }

    /// All queued events.
    pub fn events(&mut self) -> Vec<SourceEvent> {
        std::iter::from_fn(|| self.src.poll_event()).collect()
    }
}

/// Whether `a` and `b` differ by at most `tol`.
pub(super) fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}
