//! How many NTP responses per second the server responder builds
//! (`Server::handle_request`: parse, access check, client log and rate
//! limit, response, serialisation), for a realistic client request from a
//! rotating set of client addresses.
//!
//! Variants:
//! - `no_ratelimit`: 1024 clients, no `ratelimit`: every request answered;
//! - `ratelimit_within`: `ratelimit` with each client polling every ~10 s,
//!   slower than the 8 s interval: every request answered, plus the
//!   token-bucket bookkeeping;
//! - `ratelimit_over`: each client polling every ~10 ms: after the burst
//!   most requests are dropped (the cheap path), one in four leaks;
//! - `evicting`: 100,000 rotating addresses through the default 4096-record
//!   client log with `ratelimit`: every request replaces a record.
//!
//! Figures are printed by criterion (time per request and requests/s) and,
//! after each variant, the share of requests answered. No timing is
//! asserted.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use krony_config::{Loader, NoFs};
use krony_engine::UnixTime;
use krony_engine::clientlog::TimestampSource;
use krony_engine::clock::LeapStatus;
use krony_engine::discipline::ServerParams;
use krony_engine::server::{Received, Server, ServerConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// A request as Debian's ntpdig sends it (48 bytes, NTPv4 client mode, only
/// the transmit timestamp set); the transmit timestamp is renewed for each
/// request.
const NTPDIG_REQUEST: [u8; 48] = {
    let mut b = [0u8; 48];
    b[0] = 0xe3;
    b
};

/// A 2026 time in NTP era 0.
const START_SECS: i64 = 1_795_598_154;

fn server(conf: &str) -> Server {
    let mut loader = Loader::new(&NoFs);
    loader.load_text(conf, "bench.conf").expect("config parses");
    let cfg =
        ServerConfig::from_config(&loader.finish().config, 1e-8, |_| None).expect("server config");
    Server::new(cfg, &mut ChaCha8Rng::seed_from_u64(1)).expect("server")
}

fn params() -> ServerParams {
    ServerParams {
        synchronised: true,
        leap: LeapStatus::Normal,
        stratum: 2,
        ref_id: 0xC000_0201,
        ref_time: UnixTime::from_secs_nanos(START_SECS - 30, 0),
        root_delay: 0.0123,
        root_dispersion: 0.000_45,
    }
}

/// The `i`-th client address: IPv4 for even `i`, IPv6 for odd.
fn client(i: u32) -> SocketAddr {
    let ip = if i % 2 == 0 {
        IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (i / 2)))
    } else {
        let x = i / 2;
        IpAddr::V6(Ipv6Addr::new(
            0x2001,
            0xdb8,
            0,
            (x >> 16) as u16,
            0,
            0,
            0,
            x as u16,
        ))
    };
    SocketAddr::new(ip, 32_768 + (i % 1024) as u16)
}

/// A stream of requests: `clients` rotating addresses, `step_ns` apart.
struct Load {
    server: Server,
    params: ServerParams,
    rng: ChaCha8Rng,
    addrs: Vec<SocketAddr>,
    next: usize,
    now: UnixTime,
    step_ns: i64,
    request: [u8; 48],
}

impl Load {
    fn new(conf: &str, clients: u32, step_ns: i64) -> Self {
        Load {
            server: server(conf),
            params: params(),
            rng: ChaCha8Rng::seed_from_u64(2),
            addrs: (0..clients).map(client).collect(),
            next: 0,
            now: UnixTime::from_secs_nanos(START_SECS, 0),
            step_ns,
            request: NTPDIG_REQUEST,
        }
    }

    /// One request in, at most one response out; returns its length.
    fn step(&mut self) -> usize {
        let remote = self.addrs[self.next];
        self.next = (self.next + 1) % self.addrs.len();
        self.now = UnixTime::from_nanos(self.now.as_nanos() + self.step_ns);
        // The client's transmit timestamp: anything unique will do.
        let tx = (self.now.as_nanos() as u64).rotate_left(17);
        self.request[40..48].copy_from_slice(&tx.to_be_bytes());
        let rx = Received {
            bytes: &self.request,
            remote,
            local: None,
            rx_time: self.now,
            rx_source: TimestampSource::Kernel,
            nts: Default::default(),
        };
        // The response is sent 20 µs after the request arrived.
        let send_at = UnixTime::from_nanos(self.now.as_nanos() + 20_000);
        self.server
            .handle_request(&rx, send_at, &self.params, None, &mut self.rng)
            .map_or(0, |r| black_box(r.bytes).len())
    }

    fn report(&self, name: &str) {
        let stats = self.server.server_stats();
        let c = self.server.counters();
        println!(
            "server_response/{name}: {} requests, {:.1}% answered ({} KoD), {} dropped, \
             {} client records evicted",
            stats.ntp_hits,
            100.0 * c.responses as f64 / stats.ntp_hits.max(1) as f64,
            c.kod_responses,
            stats.ntp_drops,
            stats.log_drops,
        );
    }
}

fn bench_server(c: &mut Criterion) {
    let mut group = c.benchmark_group("server_response");
    group.throughput(Throughput::Elements(1));
    let variants: [(&str, &str, u32, i64); 4] = [
        ("no_ratelimit", "allow\n", 1024, 1_000_000),
        ("ratelimit_within", "allow\nratelimit\n", 1024, 10_000_000),
        ("ratelimit_over", "allow\nratelimit\n", 1024, 10_000),
        ("evicting", "allow\nratelimit\n", 100_000, 10_000),
    ];
    for (name, conf, clients, step_ns) in variants {
        let mut load = Load::new(conf, clients, step_ns);
        group.bench_function(name, |b| b.iter(|| load.step()));
        load.report(name);
    }
    group.finish();
}

criterion_group!(benches, bench_server);
criterion_main!(benches);
