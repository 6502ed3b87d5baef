use std::net::{IpAddr, Ipv4Addr};

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// A generator that always returns the same word: all ones never lets a
/// limited response leak, all zeros always does.
struct ConstRng(u32);

impl RngCore for ConstRng {
    fn next_u32(&mut self) -> u32 {
        self.0
    }
    fn next_u64(&mut self) -> u64 {
        u64::from(self.0) << 32 | u64::from(self.0)
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        dst.fill(self.0 as u8);
    }
}

const NO_LEAK: u32 = u32::MAX;

fn v4(n: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
}

fn at(secs: f64) -> UnixTime {
    UnixTime::from_secs_nanos(1_700_000_000, 0).add_secs(secs)
}

fn log_with(config: ClientLogConfig) -> ClientLog {
    ClientLog::new(&config, &mut ChaCha8Rng::seed_from_u64(1)).expect("valid config")
}

fn ntp_limited(rl: RateLimitConfig) -> ClientLog {
    log_with(ClientLogConfig {
        ntp: Some(rl),
        ..ClientLogConfig::default()
    })
}

/// Sends `n` NTP requests from `ip` every `step` seconds from `start`;
/// returns the decisions.
fn burst_of<R: RngCore>(
    log: &mut ClientLog,
    ip: IpAddr,
    n: usize,
    start: f64,
    step: f64,
    rng: &mut R,
) -> Vec<Limit> {
    (0..n)
        .map(|i| {
            log.check_access(Service::Ntp, Some(ip), at(start + step * i as f64), rng)
                .1
        })
        .collect()
}

fn count(v: &[Limit], which: Limit) -> usize {
    v.iter().filter(|&&l| l == which).count()
}

#[test]
fn no_ratelimit_passes_everything() {
    let mut log = log_with(ClientLogConfig::default());
    let r = burst_of(&mut log, v4(1), 50, 0.0, 0.01, &mut ConstRng(NO_LEAK));
    assert_eq!(count(&r, Limit::Pass), 50);
    assert_eq!(log.ntp_min_poll(), -19);
    assert_eq!(log.server_stats().ntp_hits, 50);
}

#[test]
fn ratelimit_drops_after_burst_then_one_per_interval() {
    // Default ratelimit: 8 s interval, burst 8. At one request per second
    // the bucket (8 responses) gains 1/8 response per second, so the first
    // nine pass, then every eighth.
    let mut log = ntp_limited(RateLimitConfig::NTP_DEFAULT);
    assert_eq!(log.ntp_min_poll(), 3);
    let r = burst_of(&mut log, v4(1), 100, 0.0, 1.0, &mut ConstRng(NO_LEAK));
    let passed: Vec<usize> = (0..100).filter(|&i| r[i] == Limit::Pass).collect();
    let mut expected: Vec<usize> = (0..9).collect();
    expected.extend((16..100).step_by(8));
    assert_eq!(passed, expected);
    let stats = log.server_stats();
    assert_eq!((stats.ntp_hits, stats.ntp_drops), (100, 80));
    let page = log
        .client_accesses_by_index(0, 8, 0, false, at(99.0))
        .expect("active");
    let c = page.clients[0];
    assert_eq!((c.ntp_hits, c.ntp_drops), (100, 80));
    // One request per second: log2 interval 0, also after drops.
    assert_eq!((c.ntp_interval, c.ntp_timeout_interval), (0, 0));
}

#[test]
fn leak_lets_one_in_four_through() {
    // Requests 10 ms apart: after the burst the bucket stays empty, so
    // every answer is a leak. Leak 2 = 1/4.
    let mut log = ntp_limited(RateLimitConfig::NTP_DEFAULT);
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let n = 8008;
    let r = burst_of(&mut log, v4(7), n, 0.0, 0.01, &mut rng);
    let leaked = count(&r[8..], Limit::Pass);
    // Binomial(8000, 1/4): mean 2000, sd ~39; the seed gives one exact count.
    assert!((1800..=2200).contains(&leaked), "leaked {leaked}");
    assert_eq!(leaked, 2053);
    assert_eq!(count(&r, Limit::Kod), 0);
    assert_eq!(log.server_stats().ntp_drops as usize, n - 8 - leaked);
    // Same seed, same decisions.
    let mut log2 = ntp_limited(RateLimitConfig::NTP_DEFAULT);
    let r2 = burst_of(
        &mut log2,
        v4(7),
        n,
        0.0,
        0.01,
        &mut ChaCha8Rng::seed_from_u64(42),
    );
    assert_eq!(r, r2);
}

#[test]
fn leak_rate_configurable() {
    let rl = RateLimitConfig {
        leak: 4,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut log = ntp_limited(rl);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let r = burst_of(&mut log, v4(1), 16_008, 0.0, 0.01, &mut rng);
    let leaked = count(&r[8..], Limit::Pass);
    // Binomial(16000, 1/16): mean 1000, sd ~31.
    assert!((850..=1150).contains(&leaked), "leaked {leaked}");
    // All-zero randomness leaks every limited response.
    let mut log = ntp_limited(rl);
    let r = burst_of(&mut log, v4(1), 100, 0.0, 0.01, &mut ConstRng(0));
    assert_eq!(count(&r, Limit::Pass), 100);
}

#[test]
fn kod_replaces_some_drops() {
    let rl = RateLimitConfig {
        kod: 2,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut log = ntp_limited(rl);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let r = burst_of(&mut log, v4(2), 16_008, 0.0, 0.01, &mut rng);
    let limited = &r[8..];
    let (pass, kod, drop) = (
        count(limited, Limit::Pass),
        count(limited, Limit::Kod),
        count(limited, Limit::Drop),
    );
    // Pass 1/4, KoD 3/4 × 1/4 = 3/16, drop 9/16 (means 4000, 3000, 9000).
    assert!((3700..=4300).contains(&pass), "pass {pass}");
    assert!((2700..=3300).contains(&kod), "kod {kod}");
    assert!((8600..=9400).contains(&drop), "drop {drop}");
    // KoD responses are not counted as drops.
    assert_eq!(log.server_stats().ntp_drops as usize, drop);
    let index = log
        .log_access(Service::Ntp, Some(v4(2)), at(200.0))
        .expect("logged");
    let c = log.client_report(index.get(), false, 0, at(200.0));
    assert_eq!(c.map(|c| c.ntp_drops as usize), Some(drop));
    // Without kod, no KoD ever.
    let mut log = ntp_limited(RateLimitConfig::NTP_DEFAULT);
    let r = burst_of(&mut log, v4(2), 1000, 0.0, 0.01, &mut rng);
    assert_eq!(count(&r, Limit::Kod), 0);
}

#[test]
fn client_that_speeds_up_without_answers_is_answered() {
    // Limit 64 s, burst 1; the client polls every 16 s while answered but
    // every second after a drop. chrony then gives up limiting it.
    let rl = RateLimitConfig {
        interval: 6,
        burst: 1,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut log = ntp_limited(rl);
    let mut rng = ConstRng(NO_LEAK);
    let ip = v4(3);
    let mut t = 0.0;
    let mut check = |t: f64| log.check_access(Service::Ntp, Some(ip), at(t), &mut rng).1;
    assert_eq!(check(t), Limit::Pass);
    t += 16.0;
    assert_eq!(check(t), Limit::Drop);
    t += 1.0;
    assert_eq!(check(t), Limit::Pass);
}

#[test]
fn separate_clients_have_separate_buckets() {
    let rl = RateLimitConfig {
        burst: 1,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut log = ntp_limited(rl);
    let mut rng = ConstRng(NO_LEAK);
    for ip in [v4(1), v4(2), "2001:db8::1".parse().expect("ip")] {
        let r = burst_of(&mut log, ip, 3, 0.0, 1.0, &mut rng);
        assert_eq!(r, [Limit::Pass, Limit::Drop, Limit::Drop]);
    }
}

#[test]
fn cmd_ratelimit_never_applies_to_localhost() {
    let mut log = log_with(ClientLogConfig {
        cmd: Some(RateLimitConfig {
            burst: 1,
            ..RateLimitConfig::CMD_DEFAULT
        }),
        ..ClientLogConfig::default()
    });
    let mut rng = ConstRng(NO_LEAK);
    for ip in [Some(IpAddr::V4(Ipv4Addr::LOCALHOST)), None] {
        for i in 0..20 {
            let (_, l) = log.check_access(Service::Cmd, ip, at(f64::from(i) * 0.001), &mut rng);
            assert_eq!(l, Limit::Pass);
        }
    }
    let remote = Some(v4(9));
    let (_, first) = log.check_access(Service::Cmd, remote, at(0.0), &mut rng);
    let (_, second) = log.check_access(Service::Cmd, remote, at(0.001), &mut rng);
    assert_eq!((first, second), (Limit::Pass, Limit::Drop));
    let s = log.server_stats();
    assert_eq!((s.cmd_hits, s.cmd_drops), (42, 1));
}

#[test]
fn noclientlog_keeps_only_totals() {
    let config = ClientLogConfig {
        enabled: false,
        ..ClientLogConfig::default()
    };
    let mut log = log_with(config);
    assert!(!log.is_active());
    let (index, limit) = log.check_access(Service::Ntp, Some(v4(1)), at(0.0), &mut ConstRng(0));
    assert_eq!((index, limit), (None, Limit::Pass));
    assert_eq!(log.server_stats().ntp_hits, 1);
    assert_eq!(log.number_of_indices(), None);
    assert_eq!(
        log.client_accesses_by_index(0, 8, 0, false, at(0.0)),
        Err(ClientLogError::Inactive)
    );
    log.save_ntp_timestamps(1 << 40, None, TimestampSource::Daemon);
    assert_eq!(log.ntp_tx_timestamp(1 << 40), None);
    let with_limit = ClientLogConfig {
        ntp: Some(RateLimitConfig::NTP_DEFAULT),
        ..config
    };
    assert_eq!(
        ClientLog::new(&with_limit, &mut ConstRng(1)).err(),
        Some(ClientLogError::RateLimitWithoutLog)
    );
}

#[test]
fn memory_limit_maps_to_records() {
    let records = |bytes| {
        log_with(ClientLogConfig {
            limit_bytes: bytes,
            ..ClientLogConfig::default()
        })
        .max_records()
    };
    // chrony.conf(5): the default 524288 bytes monitor 4096 addresses.
    assert_eq!(records(DEFAULT_CLIENT_LOG_LIMIT), 4096);
    assert_eq!(records(1_048_576), 8192);
    assert_eq!(records(0), 8);
    // The effective maximum, 2 GB, gives 16777216 addresses.
    assert_eq!(records(2_147_483_648), 16_777_216);
    assert_eq!(records(u64::MAX), 16_777_216);
}

#[test]
fn table_grows_to_limit_and_counts_dropped_records() {
    let mut log = log_with(ClientLogConfig::default());
    let mut rng = ConstRng(NO_LEAK);
    for n in 0..6000 {
        log.check_access(Service::Ntp, Some(v4(n)), at(f64::from(n)), &mut rng);
    }
    assert_eq!(log.number_of_indices(), Some(4096));
    let held = (0..4096)
        .filter(|&i| log.client_report(i, false, 0, at(6000.0)).is_some())
        .count();
    let dropped = log.server_stats().log_drops;
    // Every client not held was dropped; the hash spreads them so that the
    // table is nearly full before slots overflow.
    assert_eq!(held as u64 + dropped, 6000);
    assert!(held > 3500, "held {held}");
    // The newest clients are all held: each replaced an older one.
    for n in 5990..6000 {
        let i = log
            .log_access(Service::Cmd, Some(v4(n)), at(6000.0))
            .expect("held");
        assert_eq!(
            log.client_report(i.get(), false, 0, at(6000.0))
                .map(|r| r.ntp_hits),
            Some(1)
        );
    }
}

#[test]
fn full_slot_evicts_least_recently_seen() {
    // Below 1920 bytes the table is one slot of eight records.
    let mut log = log_with(ClientLogConfig {
        limit_bytes: 1000,
        ..ClientLogConfig::default()
    });
    for n in 1..=8 {
        log.log_access(Service::Ntp, Some(v4(n)), at(f64::from(n)));
    }
    // Client 1 comes back (via another service), so 2 is now the oldest.
    log.log_access(Service::Cmd, Some(v4(1)), at(9.0));
    let index = log
        .log_access(Service::Ntp, Some(v4(9)), at(10.0))
        .expect("logged");
    assert_eq!(log.server_stats().log_drops, 1);
    assert_eq!(index.get(), 1, "client 2 was in the second record");
    let ips: Vec<IpAddr> = (0..8)
        .filter_map(|i| log.client_report(i, false, 0, at(10.0)))
        .map(|r| r.ip.ip().expect("an IP client"))
        .collect();
    assert_eq!(ips, [1, 9, 3, 4, 5, 6, 7, 8].map(v4));
}

#[test]
fn equally_old_records_evict_the_one_with_fewer_hits() {
    let mut log = log_with(ClientLogConfig {
        limit_bytes: 1000,
        ..ClientLogConfig::default()
    });
    for n in 1..=8 {
        // Same time for all; client n gets n hits.
        for _ in 0..n {
            log.log_access(Service::Ntp, Some(v4(n)), at(5.0));
        }
    }
    let index = log
        .log_access(Service::Ntp, Some(v4(9)), at(6.0))
        .expect("logged");
    assert_eq!(index.get(), 0, "client 1 had the fewest hits");
}

#[test]
fn clients_report_pages_filters_and_resets() {
    let mut log = log_with(ClientLogConfig::default());
    let mut rng = ConstRng(NO_LEAK);
    for n in 0..20 {
        let hits = if n % 2 == 0 { 3 } else { 1 };
        for h in 0..hits {
            log.check_access(Service::Ntp, Some(v4(n)), at(f64::from(h) * 64.0), &mut rng);
        }
    }
    let now = at(200.0);
    let walk = |log: &mut ClientLog, min_hits: u32, reset: bool, n_clients: u32| {
        let mut seen = Vec::new();
        let mut first = 0;
        loop {
            let page = log
                .client_accesses_by_index(first, n_clients, min_hits, reset, now)
                .expect("active");
            assert!(page.clients.len() <= (n_clients as usize).min(MAX_CLIENT_ACCESSES));
            seen.extend(page.clients.iter().copied());
            if page.next_index >= page.n_indices {
                return seen;
            }
            first = page.next_index;
        }
    };
    let all = walk(&mut log, 0, false, 100);
    assert_eq!(all.len(), 20);
    let mut ips: Vec<IpAddr> = all
        .iter()
        .map(|c| c.ip.ip().expect("an IP client"))
        .collect();
    ips.sort();
    assert_eq!(ips, (0..20).map(v4).collect::<Vec<_>>());
    let busy = walk(&mut log, 2, false, 3);
    assert_eq!(busy.len(), 10);
    let c = busy
        .iter()
        .find(|c| c.ip.ip() == Some(v4(4)))
        .expect("client 4");
    // Three requests 64 s apart, the last 72 s ago.
    assert_eq!((c.ntp_hits, c.ntp_interval, c.last_ntp_hit_ago), (3, 6, 72));
    assert_eq!((c.last_cmd_hit_ago, c.last_nke_hit_ago), (NEVER, NEVER));
    assert_eq!(
        (c.cmd_interval, c.ntp_timeout_interval),
        (INTERVAL_UNKNOWN, INTERVAL_UNKNOWN)
    );
    let once = all
        .iter()
        .find(|c| c.ip.ip() == Some(v4(5)))
        .expect("client 5");
    assert_eq!(
        (once.ntp_hits, once.ntp_interval, once.last_ntp_hit_ago),
        (1, 127, 200)
    );
    // -r: counters are zeroed after reporting; the records stay.
    let reset = walk(&mut log, 0, true, 8);
    assert_eq!(reset.len(), 20);
    assert!(walk(&mut log, 1, false, 8).is_empty());
    let after = walk(&mut log, 0, false, 8);
    assert!(
        after
            .iter()
            .all(|c| c.ntp_hits == 0 && c.last_ntp_hit_ago != NEVER)
    );
}

#[test]
fn page_stops_after_n_clients() {
    let mut log = log_with(ClientLogConfig::default());
    for n in 0..5 {
        log.log_access(Service::Ntp, Some(v4(n)), at(0.0));
    }
    let page = log
        .client_accesses_by_index(0, 2, 0, true, at(1.0))
        .expect("active");
    assert_eq!(page.clients.len(), 2);
    assert_eq!(page.n_indices, 8);
    // Only the visited records were reset.
    let rest = log
        .client_accesses_by_index(page.next_index, 8, 1, false, at(1.0))
        .expect("active");
    assert_eq!(rest.clients.len(), 3);
    assert_eq!(rest.next_index, 8);
    let past_end = log
        .client_accesses_by_index(100, 8, 0, false, at(1.0))
        .expect("active");
    assert_eq!((past_end.next_index, past_end.clients.len()), (100, 0));
}

#[test]
fn serverstats_counts_responses_and_timestamps() {
    let mut log = log_with(ClientLogConfig::default());
    log.update_ntp_stats(
        true,
        Some(TimestampSource::Kernel),
        Some(TimestampSource::Daemon),
    );
    log.update_ntp_stats(false, Some(TimestampSource::Hardware), None);
    let rx0 = (3_900_000_000u64 << 32) | 1;
    let rx1 = (3_900_000_010u64 << 32) | 1;
    let tx = UnixTime::from_secs_nanos(3_900_000_010 - 2_208_988_800, 1000);
    log.save_ntp_timestamps(rx0, None, TimestampSource::Daemon);
    log.save_ntp_timestamps(rx1, Some(tx), TimestampSource::Kernel);
    assert_eq!(log.ntp_tx_timestamp(rx1).and_then(|s| s.tx), Some(tx));
    log.disable_ntp_timestamps(rx1);
    assert_eq!(log.ntp_tx_timestamp(rx1), None);
    let s = log.server_stats();
    assert_eq!(s.ntp_auth_hits, 1);
    assert_eq!((s.ntp_kernel_rx_timestamps, s.ntp_hw_rx_timestamps), (1, 1));
    assert_eq!(
        (s.ntp_daemon_tx_timestamps, s.ntp_kernel_tx_timestamps),
        (1, 0)
    );
    assert_eq!(
        (s.ntp_timestamps, s.ntp_span_seconds, s.ntp_interleaved_hits),
        (2, 10, 1)
    );
}

#[test]
fn stale_index_limits_nothing() {
    let rl = RateLimitConfig {
        burst: 1,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut log = log_with(ClientLogConfig {
        limit_bytes: 1000,
        ntp: Some(rl),
        ..ClientLogConfig::default()
    });
    let mut rng = ConstRng(NO_LEAK);
    let old = log
        .log_access(Service::Ntp, Some(v4(1)), at(0.0))
        .expect("logged");
    // Eight newer clients fill the single slot and replace client 1.
    for n in 2..=9 {
        log.log_access(Service::Ntp, Some(v4(n)), at(f64::from(n)));
    }
    assert_eq!(log.limit_rate(Service::Ntp, old, &mut rng), Limit::Pass);
    assert_eq!(log.server_stats().ntp_drops, 0);
}
