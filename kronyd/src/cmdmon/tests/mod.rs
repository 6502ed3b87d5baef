//! Tests of the command server: a real engine in-process, requests encoded
//! with krony-wire as chronyc encodes them, replies decoded.

mod commands;
mod props;
mod reports;
mod rules;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use krony_engine::{Engine, EngineConfig, Incoming, UnixTime};
use krony_wire::cmdmon::{Reply, ReplyBody, Request, RequestMsg, Status};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::{CommandServer, Handled, Origin};

const T0: i64 = 1_700_000_000;

/// The address of the NTP server engine the client polls.
fn server_addr() -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), 123)
}

/// A UDP origin from 127.0.0.1.
fn localhost() -> Origin {
    Origin::Udp(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 40_000))
}

/// A UDP origin from another host.
fn remote(last: u8) -> Origin {
    Origin::Udp(SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(198, 51, 100, last)),
        40_000,
    ))
}

fn engine_for(text: &str, now: UnixTime, seed: u64) -> (Engine, krony_config::Config) {
    let parsed = krony_config::parse_str(text, "t.conf").expect("valid config");
    let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
    let engine = Engine::new(cfg, now, seed).expect("engine");
    (engine, parsed.config)
}

/// A daemon's engine and command server, and optionally an NTP server
/// engine (`local stratum 1`) at [`server_addr`] for its sources to poll.
struct Harness {
    engine: Engine,
    server: CommandServer,
    upstream: Option<Engine>,
    now: UnixTime,
    rng: StdRng,
    seq: u32,
}

impl Harness {
    fn new(conf: &str) -> Self {
        let now = UnixTime::from_secs_nanos(T0, 0);
        let (engine, config) = engine_for(conf, now, 1);
        let server = CommandServer::new(&config, |_| None).expect("command server");
        Harness {
            engine,
            server,
            upstream: None,
            now,
            rng: StdRng::seed_from_u64(7),
            seq: 0,
        }
    }

    /// Also runs an upstream server the daemon's sources can reach.
    fn with_upstream(conf: &str) -> Self {
        let mut h = Harness::new(conf);
        let (up, _) = engine_for("local stratum 1\nallow all\n", h.now, 2);
        h.upstream = Some(up);
        h
    }

    /// Sends raw bytes.
    fn raw(&mut self, bytes: &[u8], origin: Origin) -> Handled {
        self.server
            .handle(&mut self.engine, self.now, bytes, origin, &mut self.rng)
    }

    /// Sends a request as chronyc does and decodes the reply.
    fn ask(&mut self, req: Request, origin: Origin) -> Option<Reply> {
        self.seq += 1;
        let bytes = RequestMsg::new(req.clone(), self.seq).to_bytes();
        let out = self.raw(&bytes, origin);
        let reply = Reply::parse(&out.reply?).expect("a valid reply");
        assert_eq!(reply.sequence, self.seq, "sequence echoed");
        assert_eq!(reply.command, req.command(), "command echoed");
        Some(reply)
    }

    /// Over the Unix socket, expecting a reply.
    fn unix(&mut self, req: Request) -> Reply {
        self.ask(req, Origin::Unix).expect("a reply")
    }

    /// The status of a request over the Unix socket.
    fn status(&mut self, req: Request) -> Status {
        self.unix(req).status
    }

    /// The reply body of a successful request over the Unix socket.
    fn body(&mut self, req: Request) -> ReplyBody {
        let r = self.unix(req.clone());
        assert_eq!(r.status, Status::SUCCESS, "{req:?}");
        r.body
    }

    /// Runs both engines for `secs` seconds, delivering packets at once.
    fn run(&mut self, secs: f64) {
        let end = self.now.add_secs(secs);
        while self.now < end {
            self.now = self.now.add_secs(0.125);
            let now = self.now;
            for e in [Some(&mut self.engine), self.upstream.as_mut()]
                .into_iter()
                .flatten()
            {
                if e.poll_timeout().is_some_and(|t| t <= now) {
                    e.handle_timeout(now);
                }
            }
            self.exchange();
        }
    }

    /// Delivers every pending datagram between the two engines.
    fn exchange(&mut self) {
        let now = self.now;
        for _ in 0..16 {
            while self.engine.poll_clock_action().is_some() {}
            while self.engine.poll_event().is_some() {}
            let mut moved = false;
            while let Some(tx) = self.engine.poll_transmit() {
                moved = true;
                if let Some(up) = self.upstream.as_mut().filter(|_| tx.to == server_addr()) {
                    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 100)), 123);
                    up.handle_packet(now, &Incoming::new(&tx.bytes, from, now));
                }
            }
            if let Some(up) = self.upstream.as_mut() {
                while up.poll_clock_action().is_some() {}
                while up.poll_event().is_some() {}
                while let Some(tx) = up.poll_transmit() {
                    moved = true;
                    let rx = now.add_secs(1e-3);
                    self.engine
                        .handle_packet(rx, &Incoming::new(&tx.bytes, server_addr(), rx));
                }
            }
            if !moved {
                break;
            }
        }
    }
}
