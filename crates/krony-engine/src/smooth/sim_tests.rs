//! A client engine with `smoothtime` synchronising to a server engine on a
//! virtual clock: the smoothing unlocks by itself once the frequency is
//! known, and a later disturbance of the clock is corrected quickly on the
//! clock but slowly in the time served to others.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use krony_wire::ntp::{Mode, NtpRepr};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::clock::ClockAction;
use crate::{Engine, EngineConfig, Incoming, UnixTime};

const T0: i64 = 1_700_000_000;
const STEP: f64 = 1.0 / 64.0;
/// One-way network delay: a base and a uniformly distributed jitter.
const DELAY: f64 = 1e-3;
const JITTER: f64 = 200e-6;

fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), 123)
}

fn engine(conf: &str, now: UnixTime) -> Engine {
    let parsed = krony_config::parse_str(conf, "t.conf").expect("valid config");
    let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
    let mut e = Engine::new(cfg, now, 9).expect("engine");
    for s in &parsed.config.sources {
        let ip: IpAddr = s.host.parse().expect("address");
        let a = SocketAddr::new(ip, s.options.port);
        e.add_source(now, a, s.kind, &s.options, &s.host)
            .expect("source");
    }
    e
}

/// The client's clock: reading minus true time, and its frequency.
struct Clock {
    offset: f64,
    natural: f64,
    correction: f64,
    /// True time the offset refers to.
    t: f64,
}

impl Clock {
    /// Runs the clock to true time `t` at its current rate (the engine's
    /// model changes the rate exactly at its outputs, so must this).
    fn advance(&mut self, t: f64) {
        let dt = t - self.t;
        self.offset += dt * ((1.0 + self.natural) * (1.0 + self.correction) - 1.0);
        self.t = t;
    }

    fn raw(&self, t: f64) -> UnixTime {
        UnixTime::from_secs_nanos(T0, 0).add_secs(t + self.offset)
    }
}

struct Sim {
    server: Engine,
    client: Engine,
    clock: Clock,
    t: f64,
    /// Packets in flight: arrival (true time), to the server?, bytes.
    flight: Vec<(f64, bool, Vec<u8>)>,
    rng: StdRng,
}

impl Sim {
    fn new() -> Self {
        let clock = Clock {
            offset: 0.05,
            natural: 20e-6,
            correction: 0.0,
            t: 0.0,
        };
        let conf = "server 192.0.2.1 iburst minpoll 0 maxpoll 0\nallow all\n\
                    smoothtime 400 0.001\n";
        let start = UnixTime::from_secs_nanos(T0, 0);
        Sim {
            server: engine("local stratum 1\nallow all\n", start),
            client: engine(conf, clock.raw(0.0)),
            clock,
            t: 0.0,
            flight: Vec::new(),
            rng: StdRng::seed_from_u64(5),
        }
    }

    fn true_time(&self) -> UnixTime {
        UnixTime::from_secs_nanos(T0, 0).add_secs(self.t)
    }

    /// One step: packets due arrive at their time, timers fire, outputs
    /// are drained.
    fn step(&mut self) {
        let end = self.t + STEP;
        loop {
            self.flight.sort_by(|a, b| b.0.total_cmp(&a.0));
            if !self.flight.last().is_some_and(|p| p.0 <= end) {
                break;
            }
            let Some((at, to_server, bytes)) = self.flight.pop() else {
                break;
            };
            self.t = at;
            self.clock.advance(at);
            if to_server {
                let now = self.true_time();
                self.server
                    .handle_packet(now, &Incoming::new(&bytes, addr(2), now));
            } else {
                let now = self.clock.raw(at);
                self.client
                    .handle_packet(now, &Incoming::new(&bytes, addr(1), now));
            }
            self.drain();
        }
        self.t = end;
        self.clock.advance(end);
        let (now_s, now_c) = (self.true_time(), self.clock.raw(self.t));
        if self.server.poll_timeout().is_some_and(|d| d <= now_s) {
            self.server.handle_timeout(now_s);
        }
        if self.client.poll_timeout().is_some_and(|d| d <= now_c) {
            self.client.handle_timeout(now_c);
        }
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(a) = self.client.poll_clock_action() {
            match a {
                ClockAction::SetFrequency { correction_ppm } => {
                    self.clock.correction = correction_ppm * 1e-6;
                }
                ClockAction::Step { offset } => self.clock.offset += offset,
                _ => {}
            }
        }
        while self.server.poll_clock_action().is_some() {}
        while self.client.poll_event().is_some() {}
        while self.server.poll_event().is_some() {}
        while let Some(tx) = self.client.poll_transmit() {
            let delay = DELAY + JITTER * self.rng.random::<f64>();
            self.flight.push((self.t + delay, true, tx.bytes));
        }
        while let Some(tx) = self.server.poll_transmit() {
            let delay = DELAY + JITTER * self.rng.random::<f64>();
            self.flight.push((self.t + delay, false, tx.bytes));
        }
    }

    fn run(&mut self, secs: f64) {
        let end = self.t + secs;
        while self.t < end {
            self.step();
        }
    }

    /// How far the time the client serves now is from true time.
    fn served_error(&mut self) -> f64 {
        let req = crate::server::tests::request(4, Mode::Client, 0, 0, 0x0102_0304_0506_0708);
        let bytes = req.to_vec().expect("emit");
        let now = self.clock.raw(self.t);
        self.client
            .handle_packet(now, &Incoming::new(&bytes, addr(9), now));
        let tx = self.client.poll_transmit().expect("a response");
        let resp = NtpRepr::parse_bytes(&tx.bytes).expect("parses");
        let truth = self.true_time();
        resp.transmit_ts.to_unix(truth).diff_secs(truth)
    }
}

#[test]
fn smoothing_unlocks_and_spreads_a_correction_out() {
    let mut sim = Sim::new();
    // The initial 50 ms is corrected before the smoothing unlocks.
    let mut unlocked_at = None;
    while sim.t < 600.0 && unlocked_at.is_none() {
        sim.run(1.0);
        let now = sim.clock.raw(sim.t);
        if sim.client.smoothing(now).is_some_and(|r| r.active) {
            unlocked_at = Some(sim.t);
        }
    }
    let unlocked_at = unlocked_at.expect("smoothing activated by itself");
    sim.run(600.0 - sim.t);
    let skew = sim.client.reference().skew();
    // With 200 µs of jitter the skew needs a few samples to fall below
    // 10 ppm (10000 × 0.001 ppm/s).
    assert!(skew < 10e-6 && unlocked_at > 5.0, "{unlocked_at} {skew}");
    assert!(sim.clock.offset.abs() < 1e-3, "{}", sim.clock.offset);
    let before = sim.served_error();
    assert!(before.abs() < 2e-3, "{before}");

    // The clock jumps 10 ms ahead. The engine slews it back within about
    // a minute; clients see the served time come back at a few ppm.
    sim.clock.offset += 0.01;
    sim.run(2.0);
    let mut last = sim.served_error();
    let mut last_clock = sim.clock.offset;
    let (mut max_rate, mut max_clock_rate) = (0.0f64, 0.0f64);
    for _ in 0..300 {
        sim.run(1.0);
        let e = sim.served_error();
        max_rate = max_rate.max((e - last).abs());
        max_clock_rate = max_clock_rate.max((sim.clock.offset - last_clock).abs());
        last = e;
        last_clock = sim.clock.offset;
    }
    assert!(sim.clock.offset.abs() < 1e-3, "clock {}", sim.clock.offset);
    // The clock was slewed at hundreds of ppm; the served time moved by
    // the smoothing's 0.3 ppm at most (300 s into the first ramp at 0.001
    // ppm/s) plus the clock's own frequency error, and less than 0.5 ms of
    // the 10 ms was given back yet.
    assert!(max_clock_rate > 100e-6, "{max_clock_rate}");
    assert!(max_rate < 5e-6, "{max_rate}");
    assert!(last - before > 0.0095, "{last} {before}");
    // Served = corrected clock + smoothing offset. Part of the jump was
    // taken as a frequency error at first, which the smoothing holds as
    // frequency rather than offset.
    let now = sim.clock.raw(sim.t);
    let r = sim.client.smoothing(now).expect("enabled");
    let truth = sim.true_time();
    let cooked_error = sim.client.cook(now).diff_secs(truth);
    assert!(
        (r.offset - (last - cooked_error)).abs() < 1e-6,
        "{r:?} {last}"
    );
    assert!(r.active && r.offset > 0.005, "{r:?}");
    assert!(r.freq_ppm < 0.0 && r.freq_ppm > -5.0, "{r:?}");
    assert!(r.remaining_time > 3000.0, "{r:?}");
}
