//! Acceptance tests of the NTP server responder (issue 3, item 8), through
//! the public API only and starting from chrony.conf text:
//!
//! - the response to a client request carries the RFC 5905 §7.3 header
//!   fields, decoded here byte by byte, independently of krony-wire;
//! - `allow`/`deny` behave as chrony.conf(5) documents them;
//! - rate limiting (burst, leak, kod) behaves as chrony's, with a seeded RNG;
//! - the client log stays within `clientloglimit` under a flood from
//!   100,000 distinct IPv4 and IPv6 addresses, counts what it evicts, and
//!   the server keeps answering.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use krony_config::{Config, Loader, NoFs};
use krony_engine::UnixTime;
use krony_engine::clientlog::TimestampSource;
use krony_engine::clock::LeapStatus;
use krony_engine::discipline::ServerParams;
use krony_engine::server::{Received, Response, ResponseKind, Server, ServerConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Seconds between the NTP era 0 epoch (1900) and the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;
/// The server's time of the first request (2026-11-25, in NTP era 0).
const BASE_SECS: u64 = 1_795_598_154;
/// `BASE_SECS` as a 64-bit NTP timestamp.
const BASE_NTP: u64 = (BASE_SECS + NTP_UNIX_OFFSET) << 32;
/// The clock precision passed to the server: 1 µs, advertised as 2^-20 s.
const PRECISION_SECS: f64 = 1e-6;
const PRECISION_LOG2: i8 = -20;
/// How far the random fuzz below the precision may move a timestamp.
const FUZZ: f64 = 1.0 / (1u64 << 20) as f64;

/// The server's time `secs` after `BASE_SECS`.
fn at(secs: f64) -> UnixTime {
    UnixTime::from_secs_nanos(BASE_SECS as i64, 0).add_secs(secs)
}

/// An NTP timestamp `secs` after `BASE_SECS`.
fn ntp_at(secs: f64) -> u64 {
    BASE_NTP.wrapping_add_signed((secs * 4_294_967_296.0).round() as i64)
}

/// Seconds from `BASE_SECS` to the NTP timestamp `ts`.
fn since_base(ts: u64) -> f64 {
    ts.wrapping_sub(BASE_NTP) as i64 as f64 / 4_294_967_296.0
}

fn config(text: &str) -> Config {
    let mut loader = Loader::new(&NoFs);
    loader.load_text(text, "test.conf").expect("config parses");
    loader.finish().config
}

fn server_seeded(text: &str, seed: u64) -> Server {
    let cfg =
        ServerConfig::from_config(&config(text), PRECISION_SECS, |_| None).expect("server config");
    Server::new(cfg, &mut ChaCha8Rng::seed_from_u64(seed)).expect("server")
}

fn server(text: &str) -> Server {
    server_seeded(text, 1)
}

/// A synchronised stratum-2 server whose reference was updated 30 s ago.
fn synced() -> ServerParams {
    ServerParams {
        synchronised: true,
        leap: LeapStatus::Normal,
        stratum: 2,
        ref_id: 0xC000_0201,
        ref_time: at(-30.0),
        root_delay: 0.0123,
        root_dispersion: 0.000_45,
    }
}

/// A 48-byte request: LI 0, the given version and mode, the given poll, the
/// client's transmit timestamp and optionally origin and receive.
fn request(version: u8, mode: u8, poll: i8, transmit: u64) -> Vec<u8> {
    let mut b = vec![0u8; 48];
    b[0] = (version << 3) | mode;
    b[2] = poll as u8;
    b[3] = (-24i8) as u8;
    b[40..48].copy_from_slice(&transmit.to_be_bytes());
    b
}

/// The header fields of RFC 5905 §7.3, read from the wire.
#[derive(Debug)]
struct Header {
    leap: u8,
    version: u8,
    mode: u8,
    stratum: u8,
    poll: i8,
    precision: i8,
    root_delay: f64,
    root_dispersion: f64,
    refid: [u8; 4],
    reference: u64,
    origin: u64,
    receive: u64,
    transmit: u64,
}

fn decode(b: &[u8]) -> Header {
    assert!(b.len() >= 48, "short response: {} bytes", b.len());
    let u32_at = |i: usize| u32::from_be_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
    // NTP short format: unsigned 16.16 seconds.
    let short = |i: usize| f64::from(u32_at(i)) / 65536.0;
    Header {
        leap: b[0] >> 6,
        version: (b[0] >> 3) & 7,
        mode: b[0] & 7,
        stratum: b[1],
        poll: b[2] as i8,
        precision: b[3] as i8,
        root_delay: short(4),
        root_dispersion: short(8),
        refid: b[12..16].try_into().expect("4 bytes"),
        reference: u64_at(16),
        origin: u64_at(24),
        receive: u64_at(32),
        transmit: u64_at(40),
    }
}

fn from(addr: IpAddr) -> SocketAddr {
    SocketAddr::new(addr, 40_123)
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

fn ask(
    s: &mut Server,
    bytes: &[u8],
    remote: SocketAddr,
    rx: UnixTime,
    tx: UnixTime,
    params: &ServerParams,
    rng: &mut ChaCha8Rng,
) -> Option<Response> {
    let received = Received {
        bytes,
        remote,
        local: None,
        rx_time: rx,
        rx_source: TimestampSource::Kernel,
        nts: Default::default(),
    };
    s.handle_request(&received, tx, params, None, rng)
}

// ---------------------------------------------------------------------------
// RFC 5905 fields

#[test]
fn client_response_has_rfc5905_fields_in_order() {
    let mut s = server("allow 192.0.2.0/24\n");
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    let client = from(v4(192, 0, 2, 7));
    // The client's clock is 0.5 s behind ours; the request takes 100 µs to
    // arrive, we hold it 25 µs, the response takes 100 µs back.
    let client_clock = -0.5;
    let t1 = ntp_at(client_clock - 100e-6);
    let t4 = ntp_at(client_clock + 125e-6);
    let req = request(4, 3, 10, t1);
    let r = ask(
        &mut s,
        &req,
        client,
        at(0.0),
        at(25e-6),
        &synced(),
        &mut rng,
    )
    .expect("answered");
    assert_eq!(r.to, client, "sent back to the sender");
    assert_eq!(r.kind, ResponseKind::Basic);
    assert_eq!(r.bytes.len(), req.len(), "no amplification");
    let h = decode(&r.bytes);

    assert_eq!(h.leap, 0, "LI: no warning");
    assert_eq!(h.version, 4, "VN echoes the request");
    assert_eq!(h.mode, 4, "mode 4 (server) answers mode 3 (client)");
    assert_eq!(h.stratum, 2);
    assert_eq!(h.poll, 10, "poll echoes the client's");
    assert_eq!(h.precision, PRECISION_LOG2);
    // Root delay and dispersion in 16.16 format, rounded up (never less).
    for (wire, value) in [(h.root_delay, 0.0123), (h.root_dispersion, 0.000_45)] {
        assert!(
            wire >= value && wire - value < 1.0 / 65536.0,
            "{wire} vs {value}"
        );
    }
    assert_eq!(h.refid, [192, 0, 2, 1], "refid of our reference");
    // Reference timestamp: the last update of our clock, 30 s ago.
    assert!((since_base(h.reference) + 30.0).abs() < 1e-9, "{h:?}");
    // Origin: the client's transmit timestamp, bit for bit.
    assert_eq!(h.origin, t1);
    // Receive and transmit: our times, fuzzed below the precision only.
    let (t2, t3) = (since_base(h.receive), since_base(h.transmit));
    assert!(t2.abs() < FUZZ, "receive {t2}");
    assert!((t3 - 25e-6).abs() < FUZZ, "transmit {t3}");
    assert!(
        since_base(h.reference) < t2 && t2 < t3,
        "reference < T2 < T3"
    );

    // What the client computes (RFC 5905 §8) from T1..T4.
    let (c1, c4) = (since_base(t1), since_base(t4));
    let offset = ((t2 - c1) + (t3 - c4)) / 2.0;
    let delay = (c4 - c1) - (t3 - t2);
    assert!((offset - 0.5).abs() < 2.0 * FUZZ, "offset {offset}");
    assert!((delay - 200e-6).abs() < 2.0 * FUZZ, "delay {delay}");
}

#[test]
fn versions_and_symmetric_mode_are_echoed() {
    let mut s = server("allow\n");
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let me = from(v4(198, 51, 100, 1));
    for version in 2..=4u8 {
        let req = request(version, 3, 6, ntp_at(-1.0));
        let r = ask(&mut s, &req, me, at(0.0), at(0.0), &synced(), &mut rng).expect("answered");
        let h = decode(&r.bytes);
        assert_eq!((h.version, h.mode), (version, 4));
    }
    // An unknown symmetric active peer (mode 1) gets a passive answer (2).
    let req = request(4, 1, 6, ntp_at(-1.0));
    let r = ask(&mut s, &req, me, at(1.0), at(1.0), &synced(), &mut rng).expect("answered");
    assert_eq!(decode(&r.bytes).mode, 2);
    // Server (4) and broadcast (5) packets are not requests.
    for mode in [4u8, 5] {
        let req = request(4, mode, 6, ntp_at(-1.0));
        assert!(ask(&mut s, &req, me, at(2.0), at(2.0), &synced(), &mut rng).is_none());
    }
}

#[test]
fn unsynchronised_server_says_so() {
    let mut s = server("allow\n");
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let params = ServerParams {
        synchronised: false,
        leap: LeapStatus::Unsynchronised,
        stratum: 16,
        ref_id: 0,
        ref_time: UnixTime::EPOCH,
        root_delay: 1.0,
        root_dispersion: 1.0,
    };
    let t1 = ntp_at(-0.2);
    let req = request(4, 3, 6, t1);
    let r = ask(
        &mut s,
        &req,
        from(v4(10, 0, 0, 1)),
        at(0.0),
        at(0.0),
        &params,
        &mut rng,
    )
    .expect("answered");
    let h = decode(&r.bytes);
    assert_eq!(h.leap, 3, "alarm: not synchronised");
    assert_eq!(h.stratum, 0, "stratum 16 is sent as 0 (RFC 5905 §7.3)");
    assert_eq!(h.refid, [0; 4]);
    assert_eq!(h.reference, 0, "no reference time");
    assert_eq!((h.root_delay, h.root_dispersion), (1.0, 1.0));
    assert_eq!(h.origin, t1);
    assert_eq!(r.kind, ResponseKind::Basic, "not a KoD despite stratum 0");
}

// ---------------------------------------------------------------------------
// allow / deny

/// Whether `server` answers a request from `addr`.
fn answers(s: &Server, addr: IpAddr) -> bool {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let req = request(4, 3, 6, ntp_at(-1.0));
    let answered = ask(
        &mut s.clone(),
        &req,
        from(addr),
        at(0.0),
        at(0.0),
        &synced(),
        &mut rng,
    );
    // The table alone (what `accheck` reports) must agree.
    assert_eq!(answered.is_some(), s.access().is_allowed(addr), "{addr}");
    answered.is_some()
}

/// Which of `addrs` the configuration `lines` (joined in the given order)
/// allows.
fn allowed(lines: &[&str], addrs: &[IpAddr]) -> Vec<bool> {
    let s = server(&(lines.join("\n") + "\n"));
    addrs.iter().map(|&a| answers(&s, a)).collect()
}

/// All orderings of three lines.
fn permutations3(l: [&str; 3]) -> Vec<[&str; 3]> {
    let [a, b, c] = l;
    vec![
        [a, b, c],
        [a, c, b],
        [b, a, c],
        [b, c, a],
        [c, a, b],
        [c, b, a],
    ]
}

#[test]
fn default_is_deny() {
    let addrs = [v4(192, 0, 2, 1), IpAddr::V6(Ipv6Addr::LOCALHOST)];
    assert_eq!(allowed(&[], &addrs), [false, false]);
    assert_eq!(
        allowed(&["deny 10.0.0.0/8"], &[v4(10, 1, 1, 1), v4(11, 1, 1, 1)]),
        [false, false]
    );
}

#[test]
fn any_address_forms() {
    let addrs = [v4(203, 0, 113, 9), "2001:db8::9".parse().expect("ip")];
    // `allow` alone: both families; 0/0 and ::/0: one family each.
    assert_eq!(allowed(&["allow"], &addrs), [true, true]);
    assert_eq!(allowed(&["allow 0/0"], &addrs), [true, false]);
    assert_eq!(allowed(&["allow ::/0"], &addrs), [false, true]);
    assert_eq!(allowed(&["allow", "deny"], &addrs), [false, false]);
    assert_eq!(allowed(&["allow", "deny ::/0"], &addrs), [true, false]);
    // IPv4 rules do not cover IPv4-mapped IPv6 addresses (chrony's IPv6
    // sockets are V6ONLY).
    let mapped: IpAddr = "::ffff:203.0.113.9".parse().expect("ip");
    assert_eq!(allowed(&["allow 0/0"], &[mapped]), [false]);
}

#[test]
fn most_specific_subnet_wins_in_any_order() {
    // chrony.conf(5), `allow`: "the 1.2.0.0/16 subnet is allowed access,
    // except for the 1.2.3.0/24 subnet, which is denied access, while the
    // host 1.2.3.4 is allowed access" -- whatever the order.
    let addrs = [
        v4(1, 2, 3, 4),
        v4(1, 2, 3, 5),
        v4(1, 2, 4, 1),
        v4(1, 3, 0, 1),
    ];
    for lines in permutations3(["allow 1.2.3.4", "deny 1.2.3.0/24", "allow 1.2.0.0/16"]) {
        assert_eq!(
            allowed(&lines, &addrs),
            [true, false, true, false],
            "{lines:?}"
        );
    }
    // Short IPv4 forms and IPv6 subnets nest the same way.
    let addrs = [
        v4(10, 20, 30, 40),
        v4(10, 20, 99, 1),
        "2001:db8:1::1".parse().expect("ip"),
        "2001:db8:2::1".parse().expect("ip"),
    ];
    let lines = [
        "allow 10.20.30",
        "deny 10",
        "allow 2001:db8::/32",
        "deny 2001:db8:2::/48",
    ];
    assert_eq!(allowed(&lines, &addrs), [true, false, true, false]);
}

#[test]
fn allow_all_and_deny_all_erase_more_specific_rules() {
    // chrony.conf(5): `allow all 1.2.0.0/16` "overrides the effect of any
    // previous directive relating to a subnet within the specified subnet".
    let addrs = [v4(1, 2, 3, 4), v4(1, 2, 3, 5), v4(1, 2, 4, 1)];
    let last = ["allow 1.2.3.4", "deny 1.2.3.0/24", "allow all 1.2.0.0/16"];
    assert_eq!(allowed(&last, &addrs), [true, true, true]);
    // Rules given after it still apply.
    let first = ["allow all 1.2.0.0/16", "allow 1.2.3.4", "deny 1.2.3.0/24"];
    assert_eq!(allowed(&first, &addrs), [true, false, true]);
    // `deny all` likewise.
    let addrs = [v4(10, 1, 2, 3), v4(10, 9, 9, 9), v4(11, 0, 0, 1)];
    assert_eq!(
        allowed(&["allow", "allow 10.1.2.3", "deny 10.0.0.0/8"], &addrs),
        [true, false, true]
    );
    assert_eq!(
        allowed(&["allow", "allow 10.1.2.3", "deny all 10.0.0.0/8"], &addrs),
        [false, false, true]
    );
    assert_eq!(allowed(&["allow 10.1.2.3", "deny all"], &addrs), [false; 3]);
}

#[test]
fn prefixes_in_one_table_overwrite_each_other_in_order() {
    // chrony.conf(5): "1.2.3.0/28 and 1.2.3.0/29 are in different tables,
    // but 1.2.3.0/25 and 1.2.3.0/28 are in the same table", so only the
    // latter pair depends on the order.
    let a = [v4(1, 2, 3, 1)];
    assert_eq!(
        allowed(&["allow 1.2.3.0/28", "deny 1.2.3.0/25"], &a),
        [false]
    );
    assert_eq!(
        allowed(&["deny 1.2.3.0/25", "allow 1.2.3.0/28"], &a),
        [true]
    );
    assert_eq!(
        allowed(&["allow 1.2.3.0/29", "deny 1.2.3.0/28"], &a),
        [true]
    );
    assert_eq!(
        allowed(&["deny 1.2.3.0/28", "allow 1.2.3.0/29"], &a),
        [true]
    );
    // The rest of the /25 is decided by the /25 rule alone.
    assert_eq!(
        allowed(
            &["deny 1.2.3.0/25", "allow 1.2.3.0/28"],
            &[v4(1, 2, 3, 100)]
        ),
        [false]
    );
}

#[test]
fn denied_requests_are_not_counted_in_serverstats() {
    let mut s = server("allow 192.0.2.0/24\n");
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let req = request(4, 3, 6, ntp_at(-1.0));
    let outsider = from(v4(198, 51, 100, 1));
    assert!(
        ask(
            &mut s,
            &req,
            outsider,
            at(0.0),
            at(0.0),
            &synced(),
            &mut rng
        )
        .is_none()
    );
    assert_eq!(
        s.server_stats().ntp_hits,
        0,
        "chrony counts allowed packets only"
    );
    assert_eq!(s.counters().denied, 1);
    assert!(logged_clients(&mut s, at(0.0)).is_empty(), "nothing logged");
}

// ---------------------------------------------------------------------------
// Rate limiting

/// What a run of requests got.
#[derive(Debug, Default, PartialEq, Eq)]
struct Tally {
    answered: usize,
    kods: usize,
    dropped: usize,
}

/// Sends `n` requests from `client` at time `t` (all within one 1/16 s
/// tick, so no tokens refill) and tallies the outcomes.
fn flood_one(
    s: &mut Server,
    client: IpAddr,
    t: f64,
    n: usize,
    rng: &mut ChaCha8Rng,
) -> (Tally, Vec<bool>) {
    let mut tally = Tally::default();
    let mut pattern = Vec::with_capacity(n);
    for i in 0..n {
        let req = request(4, 3, 6, ntp_at(t - 1.0) + i as u64);
        match ask(&mut *s, &req, from(client), at(t), at(t), &synced(), rng) {
            Some(r) if matches!(r.kind, ResponseKind::Kod(_)) => {
                let h = decode(&r.bytes);
                assert_eq!(
                    (h.leap, h.stratum, &h.refid, h.mode),
                    (3, 0, b"RATE", 4),
                    "KoD RATE (RFC 5905 §7.4)"
                );
                assert_eq!(h.origin, ntp_at(t - 1.0) + i as u64);
                assert_eq!(r.bytes.len(), req.len());
                tally.kods += 1;
                pattern.push(true);
            }
            Some(r) => {
                assert_eq!(decode(&r.bytes).stratum, 2);
                tally.answered += 1;
                pattern.push(true);
            }
            None => {
                tally.dropped += 1;
                pattern.push(false);
            }
        }
    }
    (tally, pattern)
}

/// Asserts that `count` of `n` trials is within 4.5 standard deviations of
/// the binomial mean for probability `p`.
fn assert_binomial(count: usize, n: usize, p: f64, what: &str) {
    let mean = n as f64 * p;
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    assert!(
        (count as f64 - mean).abs() <= 4.5 * sd,
        "{what}: {count} of {n}, expected {mean:.0} ± {sd:.0}"
    );
}

#[test]
fn burst_is_answered_then_requests_are_dropped() {
    let mut s = server("allow\nratelimit interval 3 burst 8 leak 4\n");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let client = v4(192, 0, 2, 50);
    let (tally, pattern) = flood_one(&mut s, client, 0.0, 400, &mut rng);
    assert!(
        pattern[..8].iter().all(|&a| a),
        "the burst of 8 is answered"
    );
    // After the burst only the leak (1 in 2^4) gets through.
    assert_binomial(tally.answered - 8, 392, 1.0 / 16.0, "leaked");
    assert_eq!(tally.kods, 0, "no KoD without `kod`");
    let stats = s.server_stats();
    assert_eq!(stats.ntp_hits, 400);
    assert_eq!(stats.ntp_drops, tally.dropped as u64);

    // One interval (8 s) later one response's worth of tokens is back.
    let (one, _) = flood_one(&mut s, client, 8.0, 1, &mut rng);
    assert_eq!(one.answered, 1);
    // After burst × interval (64 s) the whole burst is back.
    let (_, pattern) = flood_one(&mut s, client, 8.0 + 64.0, 8, &mut rng);
    assert!(pattern.iter().all(|&a| a), "{pattern:?}");

    // Other addresses have buckets of their own.
    let (other, _) = flood_one(&mut s, v4(192, 0, 2, 51), 72.0, 8, &mut rng);
    assert_eq!(other.answered, 8);
}

#[test]
fn client_polling_at_the_interval_is_never_limited() {
    let mut s = server("allow\nratelimit interval 3 burst 2 leak 4\n");
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let client = v4(192, 0, 2, 60);
    for i in 0..500 {
        let t = f64::from(i) * 8.0;
        let (tally, _) = flood_one(&mut s, client, t, 1, &mut rng);
        assert_eq!(tally.answered, 1, "poll {i}");
    }
    assert_eq!(s.server_stats().ntp_drops, 0);
}

#[test]
fn leak_fraction_follows_the_leak_option() {
    for leak in 1..=4u32 {
        let conf = format!("allow\nratelimit interval 3 burst 1 leak {leak}\n");
        let mut s = server(&conf);
        let mut rng = ChaCha8Rng::seed_from_u64(100 + u64::from(leak));
        let n = 4000;
        let (tally, pattern) = flood_one(&mut s, v4(192, 0, 2, 70), 0.0, n, &mut rng);
        assert!(pattern[0], "burst of 1");
        let p = 1.0 / f64::from(1u32 << leak);
        assert_binomial(tally.answered - 1, n - 1, p, &format!("leak {leak}"));
        assert_eq!(s.server_stats().ntp_drops, tally.dropped as u64);

        // The same seeds give the same decisions.
        let mut again = server(&conf);
        let mut rng = ChaCha8Rng::seed_from_u64(100 + u64::from(leak));
        let (_, pattern2) = flood_one(&mut again, v4(192, 0, 2, 70), 0.0, n, &mut rng);
        assert_eq!(pattern, pattern2, "leak {leak}: reproducible with a seed");
    }
}

#[test]
fn kod_replaces_part_of_the_drops() {
    let mut s = server("allow\nratelimit interval 3 burst 8 leak 2 kod 1\n");
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let n = 4000;
    let (tally, pattern) = flood_one(&mut s, v4(192, 0, 2, 80), 0.0, n, &mut rng);
    assert!(pattern[..8].iter().all(|&a| a));
    let limited = n - 8;
    // Limited requests: 1/4 leak through; of the other 3/4 half become KoDs.
    assert_binomial(tally.answered - 8, limited, 0.25, "leaked");
    assert_binomial(tally.kods, limited, 0.375, "KoD");
    assert_binomial(tally.dropped, limited, 0.375, "dropped");
    let stats = s.server_stats();
    assert_eq!(stats.ntp_drops, tally.dropped as u64, "a KoD is not a drop");
    assert_eq!(s.counters().kod_responses, tally.kods as u64);
}

#[test]
fn response_poll_asks_for_at_least_the_limit_interval() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    let me = from(v4(192, 0, 2, 90));
    let poll_of = |s: &mut Server, poll: i8, t: f64, rng: &mut ChaCha8Rng| {
        let req = request(4, 3, poll, ntp_at(t - 1.0));
        let r = ask(s, &req, me, at(t), at(t), &synced(), rng).expect("answered");
        decode(&r.bytes).poll
    };
    let mut limited = server("allow\nratelimit interval 4\n");
    assert_eq!(poll_of(&mut limited, 0, 0.0, &mut rng), 4);
    assert_eq!(poll_of(&mut limited, 10, 100.0, &mut rng), 10);
    let mut open = server("allow\n");
    assert_eq!(poll_of(&mut open, -3, 0.0, &mut rng), -3);
}

// ---------------------------------------------------------------------------
// Client log under a flood

/// The `n`-th distinct flooding address: even ones IPv4, odd ones IPv6.
fn flood_addr(n: u32) -> IpAddr {
    if n % 2 == 0 {
        // 10.0.0.0/8 holds 2^24 addresses, more than enough.
        IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (n / 2)))
    } else {
        let x = n / 2;
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
    }
}

/// Clients holding a record, found by walking the `clients` report.
fn logged_clients(s: &mut Server, now: UnixTime) -> Vec<IpAddr> {
    let log = s.client_log_mut();
    let n = log.number_of_indices().expect("client log active");
    (0..n as usize)
        .filter_map(|i| log.client_report(i, false, 0, now))
        .map(|r| r.ip.ip().expect("an IP client"))
        .collect()
}

/// chrony's accounting (clientlog.c): 64 bytes per client record and 16 per
/// interleaved timestamp, with room for the copy made while the table
/// doubles.
fn accounted_bytes(records: usize) -> u64 {
    records as u64 * (64 + 16) * 3 / 2
}

/// Floods the server with one request from each of `flood` distinct
/// addresses, 1 ms apart, while a regular client polls every 8 s; checks
/// the bounds as it goes and returns the regular client's poll count.
fn run_flood(s: &mut Server, limit: u64, flood: u32, rng: &mut ChaCha8Rng) -> u32 {
    let max_records = s.client_log().max_records();
    let regular = from(v4(192, 0, 2, 123));
    let mut regular_polls = 0;
    for n in 0..flood {
        let t = f64::from(n) * 1e-3;
        // Half of the flood looks like interleaved clients (origin with the
        // low bit set, receive != transmit), to fill the timestamp store.
        let mut req = request(4, 3, 6, ntp_at(t - 1.0) & !1);
        if n % 4 < 2 {
            req[24..32].copy_from_slice(&(ntp_at(t - 65.0) | 1).to_be_bytes());
            req[32..40].copy_from_slice(&ntp_at(t - 64.9).to_be_bytes());
        }
        let r = ask(
            &mut *s,
            &req,
            from(flood_addr(n)),
            at(t),
            at(t),
            &synced(),
            rng,
        );
        assert!(r.is_some(), "a new client has a full bucket ({n})");
        if n % 8000 == 0 {
            regular_polls += 1;
            let req = request(4, 3, 3, ntp_at(t - 1.0));
            let r = ask(&mut *s, &req, regular, at(t), at(t), &synced(), rng);
            let h = decode(
                &r.expect("the regular client is served during the flood")
                    .bytes,
            );
            assert_eq!((h.mode, h.stratum), (4, 2));
        }
        if n % 4096 == 0 {
            let indices = s.client_log().number_of_indices().expect("active") as usize;
            assert!(indices <= max_records, "{indices} > {max_records}");
            assert!(accounted_bytes(indices) <= limit);
            assert!(s.server_stats().ntp_timestamps <= max_records as u64);
        }
    }
    regular_polls
}

fn flood_test(limit: u64, expected_records: usize, flood: u32) {
    let conf = format!("allow\nratelimit\nclientloglimit {limit}\n");
    let mut s = server_seeded(&conf, 11);
    assert_eq!(s.client_log().max_records(), expected_records);
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let polls = run_flood(&mut s, limit, flood, &mut rng);
    let end = at(f64::from(flood) * 1e-3);

    let clients = logged_clients(&mut s, end);
    let stats = s.server_stats();
    assert_eq!(
        clients.len(),
        expected_records,
        "the table is full, not more"
    );
    assert!(accounted_bytes(clients.len()) <= limit);
    assert!(stats.ntp_timestamps <= expected_records as u64);
    assert!(stats.ntp_timestamps > 0);
    assert_eq!(stats.ntp_hits, u64::from(flood + polls));
    assert_eq!(stats.ntp_drops, 0);
    // Every record ever created is either still held or was evicted and
    // counted ("Client log records dropped"): the flood made `flood`
    // records, the regular client between 1 and `polls` (it is re-created
    // when evicted between its polls).
    let created = stats.log_drops + clients.len() as u64;
    let regular_created = created
        .checked_sub(u64::from(flood))
        .expect("at least one record per flooding address");
    assert!(
        (1..=u64::from(polls)).contains(&regular_created),
        "log_drops {} records {} polls {polls}",
        stats.log_drops,
        clients.len()
    );
    // Both families were logged.
    assert!(clients.iter().any(IpAddr::is_ipv4) && clients.iter().any(IpAddr::is_ipv6));

    // Serving goes on after the flood, for old and new clients alike.
    let req = request(4, 3, 6, ntp_at(f64::from(flood)));
    for addr in [
        v4(192, 0, 2, 123),
        v4(198, 51, 100, 200),
        flood_addr(flood + 1),
    ] {
        let r = ask(
            &mut s,
            &req,
            from(addr),
            end.add_secs(60.0),
            end.add_secs(60.0),
            &synced(),
            &mut rng,
        );
        assert!(r.is_some(), "{addr}");
    }
    assert!(logged_clients(&mut s, end).len() <= expected_records);
}

#[test]
fn client_log_stays_within_the_default_limit_under_a_100k_flood() {
    // chrony.conf(5): the default 524288 bytes monitor up to 4096 addresses.
    flood_test(524_288, 4096, 100_000);
}

#[test]
fn client_log_stays_within_a_small_limit_under_a_100k_flood() {
    // 20000 bytes: 20 slots of 8 records fit, rounded down to a power of 2.
    flood_test(20_000, 128, 100_000);
}
