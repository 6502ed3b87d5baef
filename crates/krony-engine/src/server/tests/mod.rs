use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use krony_wire::ntp::{ExtensionField, LeapIndicator, Mac, NtpShort, RefId};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::access::Subnet;
use crate::clientlog::RateLimitConfig;
use crate::clock::LeapStatus;
use crate::discipline::MAX_STRATUM;

const CLIENT: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const PRECISION: i8 = -20;
/// 2^PRECISION seconds: how far fuzz may move a timestamp.
const FUZZ: f64 = 1.0 / (1u64 << 20) as f64;

fn t(secs: f64) -> UnixTime {
    UnixTime::from_secs_nanos(1_795_598_154, 0).add_secs(secs)
}

fn rng() -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(7)
}

fn config(ntp_limit: Option<RateLimitConfig>) -> ServerConfig {
    let mut c = ServerConfig {
        precision: PRECISION,
        ..ServerConfig::default()
    };
    c.access
        .allow(&Subnet::new(Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 0))), 24).expect("subnet"));
    c.client_log.ntp = ntp_limit;
    c
}

fn server(ntp_limit: Option<RateLimitConfig>) -> Server {
    Server::new(config(ntp_limit), &mut rng()).expect("server")
}

fn synced() -> ServerParams {
    ServerParams {
        synchronised: true,
        leap: LeapStatus::Normal,
        stratum: 2,
        ref_id: 0xC000_0201,
        ref_time: t(-30.0),
        root_delay: 0.0123,
        root_dispersion: 0.000_45,
    }
}

fn unsynced() -> ServerParams {
    ServerParams {
        synchronised: false,
        leap: LeapStatus::Unsynchronised,
        stratum: MAX_STRATUM,
        ref_id: 0,
        ref_time: UnixTime::EPOCH,
        root_delay: 1.0,
        root_dispersion: 1.0,
    }
}

/// A request with the given mode and timestamps (also used by other modules' tests).
pub(crate) fn request(
    version: u8,
    mode: Mode,
    origin: u64,
    receive: u64,
    transmit: u64,
) -> NtpRepr {
    NtpRepr {
        leap: LeapIndicator::NoWarning,
        version,
        mode,
        stratum: 0,
        poll: 6,
        precision: -24,
        root_delay: NtpShort::ZERO,
        root_dispersion: NtpShort::ZERO,
        reference_id: RefId::UNSYNC,
        reference_ts: NtpTimestamp::ZERO,
        origin_ts: NtpTimestamp(origin),
        receive_ts: NtpTimestamp(receive),
        transmit_ts: NtpTimestamp(transmit),
        extensions: vec![],
        mac: None,
    }
}

fn client_request(transmit: u64) -> Vec<u8> {
    request(4, Mode::Client, 0, 0, transmit)
        .to_vec()
        .expect("emit")
}

fn received(bytes: &[u8], rx_time: UnixTime) -> Received<'_> {
    Received {
        bytes,
        remote: SocketAddr::new(IpAddr::V4(CLIENT), 40_123),
        local: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        rx_time,
        rx_source: TimestampSource::Kernel,
        nts: Default::default(),
    }
}

fn parse(r: &Response) -> NtpRepr {
    NtpRepr::parse_bytes(&r.bytes).expect("response parses")
}

/// Asserts that `ts` is `expected` plus fuzz below the precision.
fn assert_near(ts: NtpTimestamp, expected: UnixTime) {
    let d = ts.to_unix(expected).diff_secs(expected);
    assert!(
        (0.0..FUZZ).contains(&d.abs()),
        "{ts:?} vs {expected:?}: {d}"
    );
}

#[test]
fn client_request_gets_a_full_response() {
    let mut s = server(None);
    let bytes = client_request(0x1234_5678_9abc_def0);
    let r = s
        .handle_request(
            &received(&bytes, t(0.0)),
            t(0.000_02),
            &synced(),
            None,
            &mut rng(),
        )
        .expect("response");
    assert_eq!(r.to, SocketAddr::new(IpAddr::V4(CLIENT), 40_123));
    assert_eq!(r.local, Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))));
    assert_eq!(r.kind, ResponseKind::Basic);
    assert!(!r.wants_tx_timestamp, "a zero origin cannot be interleaved");
    assert_eq!(r.bytes.len(), 48);
    let p = parse(&r);
    assert_eq!(p.leap, LeapIndicator::NoWarning);
    assert_eq!(p.version, 4);
    assert_eq!(p.mode, Mode::Server);
    assert_eq!(p.stratum, 2);
    assert_eq!(p.poll, 6, "the client's poll, above the minimum of -19");
    assert_eq!(p.precision, PRECISION);
    assert_eq!(p.root_delay, NtpShort::from_secs(0.0123));
    assert_eq!(p.root_delay.0, 807, "0.0123 * 65536 = 806.1, rounded up");
    assert_eq!(p.root_dispersion, NtpShort(30));
    assert_eq!(p.reference_id, RefId(0xC000_0201));
    assert_eq!(p.reference_ts, NtpTimestamp::from_unix(t(-30.0)));
    assert_eq!(p.origin_ts, NtpTimestamp(0x1234_5678_9abc_def0));
    assert_near(p.receive_ts, t(0.0));
    assert_near(p.transmit_ts, t(0.000_02));
    assert_eq!(p.receive_ts.0 & 1, 1, "receive flag bit");
    assert_eq!(p.transmit_ts.0 & 1, 0);
    assert!(p.extensions.is_empty() && p.mac.is_none());

    let st = s.server_stats();
    assert_eq!(st.ntp_hits, 1);
    assert_eq!(st.ntp_kernel_rx_timestamps, 1);
    assert_eq!(st.ntp_daemon_tx_timestamps, 1);
    assert_eq!(st.ntp_drops + st.ntp_auth_hits + st.ntp_interleaved_hits, 0);
    assert_eq!(s.counters().responses, 1);
}

#[test]
fn versions_and_modes() {
    let mut s = server(None);
    let mut answer = |repr: NtpRepr, port: u16| {
        let bytes = repr.to_vec().expect("emit");
        let mut rx = received(&bytes, t(0.0));
        rx.remote.set_port(port);
        s.handle_request(&rx, t(0.0), &synced(), None, &mut rng())
            .map(|r| parse(&r))
    };
    for v in 2..=4 {
        let p = answer(request(v, Mode::Client, 0, 0, 99), 1024).expect("answered");
        assert_eq!((p.version, p.mode), (v, Mode::Server));
    }
    // NTPv1 has no mode: a client is told by its port.
    let p = answer(request(1, Mode::Reserved, 0, 0, 99), 1024).expect("answered");
    assert_eq!((p.version, p.mode), (1, Mode::Server));
    assert!(answer(request(1, Mode::Reserved, 0, 0, 99), 123).is_none());
    assert!(answer(request(2, Mode::Reserved, 0, 0, 99), 1024).is_none());
    // An unknown symmetric active peer gets a passive answer.
    let p = answer(request(4, Mode::SymmetricActive, 0, 0, 99), 123).expect("answered");
    assert_eq!(p.mode, Mode::SymmetricPassive);
    assert_eq!(p.origin_ts, NtpTimestamp(99));
    for m in [
        Mode::Server,
        Mode::SymmetricPassive,
        Mode::Broadcast,
        Mode::Control,
        Mode::Private,
    ] {
        assert!(answer(request(4, m, 0, 0, 99), 123).is_none(), "{m:?}");
    }
    assert_eq!(s.counters().bad_mode, 7);
    assert_eq!(
        s.server_stats().ntp_hits,
        5,
        "only answered modes are counted"
    );
}

#[test]
fn denied_client_gets_nothing() {
    let mut s = server(None);
    let bytes = client_request(1);
    let mut rx = received(&bytes, t(0.0));
    rx.remote = "198.51.100.1:123".parse().expect("addr");
    assert!(
        s.handle_request(&rx, t(0.0), &synced(), None, &mut rng())
            .is_none()
    );
    rx.remote = "[2001:db8::1]:123".parse().expect("addr");
    assert!(
        s.handle_request(&rx, t(0.0), &synced(), None, &mut rng())
            .is_none()
    );
    assert_eq!(s.counters().denied, 2);
    assert_eq!(s.server_stats().ntp_hits, 0);
    // Allowed at run time (cmdmon ALLOW).
    s.access_mut().allow(&Subnet::ANY);
    assert!(
        s.handle_request(&rx, t(0.0), &synced(), None, &mut rng())
            .is_some()
    );
}

#[test]
fn malformed_packets_are_dropped_and_counted() {
    let mut s = server(None);
    let good = client_request(5);
    let mut bad_version = good.clone();
    bad_version[0] = 0x2b; // version 5
    let mut odd_len = good.clone();
    odd_len.extend_from_slice(&[0; 6]);
    let mut bad_ef = good.clone(); // a 12-byte extension field in NTPv4
    bad_ef.extend_from_slice(&[0x12, 0x34, 0, 12]);
    bad_ef.extend_from_slice(&[0; 24]);
    for bytes in [&good[..47], &[][..], &bad_version, &odd_len, &bad_ef] {
        assert!(
            s.handle_request(
                &received(bytes, t(0.0)),
                t(0.0),
                &synced(),
                None,
                &mut rng()
            )
            .is_none()
        );
    }
    assert_eq!(s.counters().malformed, 5);
    let mode4 = request(4, Mode::Server, 0, 0, 5).to_vec().expect("emit");
    assert!(
        s.handle_request(
            &received(&mode4, t(0.0)),
            t(0.0),
            &synced(),
            None,
            &mut rng()
        )
        .is_none()
    );
    assert_eq!(s.counters().bad_mode, 1);
    // chrony's serverstats do not count any of these.
    assert_eq!(s.server_stats(), ServerStats::default());
}

#[test]
fn unsynchronised_server_sends_leap_3_stratum_0() {
    let mut s = server(None);
    let bytes = client_request(77);
    let r = s
        .handle_request(
            &received(&bytes, t(0.0)),
            t(0.0),
            &unsynced(),
            None,
            &mut rng(),
        )
        .expect("response");
    let p = parse(&r);
    assert_eq!(p.leap, LeapIndicator::Unsynchronized);
    assert_eq!(p.stratum, 0);
    assert_eq!(p.reference_id, RefId::UNSYNC);
    assert_eq!(p.reference_ts, NtpTimestamp::ZERO);
    assert_eq!(p.root_delay, NtpShort(0x0001_0000));
    assert_eq!(p.root_dispersion, NtpShort(0x0001_0000));
    assert_eq!(p.origin_ts, NtpTimestamp(77));
    assert_eq!(r.kind, ResponseKind::Basic, "not a KoD: the refid is zero");
}

#[test]
fn leap_second_warning_is_sent() {
    let mut s = server(None);
    let bytes = client_request(77);
    let mut params = synced();
    params.leap = LeapStatus::InsertSecond;
    let r = s.handle_request(&received(&bytes, t(0.0)), t(0.0), &params, None, &mut rng());
    assert_eq!(r.map(|r| parse(&r).leap), Some(LeapIndicator::Insert));
}

/// Sends `n` requests 1 ms apart and returns the responses.
fn burst(s: &mut Server, n: usize, rng: &mut ChaCha8Rng) -> Vec<Option<NtpRepr>> {
    (0..n)
        .map(|i| {
            let bytes = client_request(1000 + i as u64);
            let now = t(i as f64 * 1e-3);
            s.handle_request(&received(&bytes, now), now, &synced(), None, rng)
                .map(|r| parse(&r))
        })
        .collect()
}

#[test]
fn rate_limit_drops_after_the_burst() {
    let mut s = server(Some(RateLimitConfig::NTP_DEFAULT));
    let out = burst(&mut s, 200, &mut rng());
    assert!(out[..8].iter().all(Option::is_some), "burst of 8 answered");
    let answered = out.iter().filter(|r| r.is_some()).count();
    // After the burst about one in 2^leak = 4 requests leaks through.
    assert!((8 + 20..8 + 80).contains(&answered), "{answered}");
    // The poll field asks for at least the limit interval (2^3 s).
    let first = out[0].as_ref().expect("answered");
    assert_eq!(first.poll, 6);
    let st = s.server_stats();
    assert_eq!(st.ntp_hits, 200);
    assert_eq!(st.ntp_drops, (200 - answered) as u64);
    assert_eq!(s.counters().rate_limited, st.ntp_drops);
    assert!(
        out.iter().flatten().all(|p| p.stratum == 2),
        "no KoD without kod"
    );
}

#[test]
fn rate_limit_with_kod_sends_kod_rate() {
    let limit = RateLimitConfig {
        kod: 1,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut s = server(Some(limit));
    let out = burst(&mut s, 200, &mut rng());
    let kods: Vec<&NtpRepr> = out.iter().flatten().filter(|p| p.stratum == 0).collect();
    assert!((20..120).contains(&kods.len()), "{}", kods.len());
    for (i, p) in out.iter().enumerate() {
        let Some(p) = p else { continue };
        if p.stratum != 0 {
            continue;
        }
        assert_eq!(p.leap, LeapIndicator::Unsynchronized);
        assert_eq!(p.reference_id, RefId::from_ascii(b"RATE"));
        assert_eq!(p.kiss_code(), Some(KissCode::Rate));
        assert_eq!(p.mode, Mode::Server);
        // Timestamps as in any response.
        assert_eq!(p.origin_ts, NtpTimestamp(1000 + i as u64));
        assert_near(p.receive_ts, t(i as f64 * 1e-3));
        assert_near(p.transmit_ts, t(i as f64 * 1e-3));
    }
    assert_eq!(s.counters().kod_responses, kods.len() as u64);
    // A KoD is not a drop.
    let st = s.server_stats();
    let answered = out.iter().flatten().count() as u64;
    assert_eq!(st.ntp_drops, 200 - answered);
}

#[test]
fn kod_is_never_longer_than_the_request() {
    let limit = RateLimitConfig {
        burst: 1,
        leak: 4,
        kod: 1,
        ..RateLimitConfig::NTP_DEFAULT
    };
    let mut s = server(Some(limit));
    let mut rng = rng();
    let mut kods = 0;
    for i in 0..100 {
        let bytes = client_request(i);
        if let Some(r) =
            s.handle_request(&received(&bytes, t(0.0)), t(0.0), &synced(), None, &mut rng)
        {
            assert_eq!(r.bytes.len(), 48);
            kods += usize::from(matches!(r.kind, ResponseKind::Kod(_)));
        }
    }
    assert!(kods > 10, "{kods}");
}

#[test]
fn ntpdig_request_gets_a_response_that_parses_back() {
    // Debian ntpdig's request, from crates/krony-wire/tests/ntp_golden.rs.
    let bytes: Vec<u8> = [
        0xe3u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xee, 0xb1, 0x25, 0xca, 0xd1, 0xbd, 0x70, 0x00,
    ]
    .to_vec();
    let mut s = server(None);
    let mut params = synced();
    params.stratum = 1;
    params.ref_id = RefId::LOCAL.0;
    let r = s
        .handle_request(
            &received(&bytes, t(0.0)),
            t(1e-5),
            &params,
            None,
            &mut rng(),
        )
        .expect("response");
    let p = parse(&r);
    assert_eq!(p.origin_ts, NtpTimestamp(0xeeb1_25ca_d1bd_7000));
    assert_eq!(
        (p.version, p.mode, p.stratum, p.poll),
        (4, Mode::Server, 1, 0)
    );
    assert_eq!(p.reference_id, RefId::LOCAL);
    assert!(p.transmit_ts.diff_secs(p.receive_ts) > 0.0);
    assert_eq!(r.bytes.len(), bytes.len());
}

fn with_extension(field_type: u16, body: Vec<u8>) -> Vec<u8> {
    let mut req = request(4, Mode::Client, 0, 0, 3);
    req.extensions.push(ExtensionField { field_type, body });
    req.to_vec().expect("emit")
}

#[test]
fn unknown_extension_fields_are_not_echoed() {
    let mut s = server(None);
    let bytes = with_extension(0x7777, vec![1; 24]);
    let r = s
        .handle_request(
            &received(&bytes, t(0.0)),
            t(0.0),
            &synced(),
            None,
            &mut rng(),
        )
        .expect("response");
    assert_eq!(r.bytes.len(), 48);
    assert!(parse(&r).extensions.is_empty());
}

#[test]
fn mono_root_field_is_echoed_with_our_values() {
    let mut s = server(None);
    let mut body = request::MONO_ROOT_MAGIC.to_be_bytes().to_vec();
    body.resize(request::MONO_ROOT_BODY_LEN, 0);
    let bytes = with_extension(ExtensionField::EXP_MONO_ROOT, body);
    let mut rng = rng();
    let change = ClockChange {
        raw: t(-1.0),
        cooked: t(-1.0),
        dfreq: 0.0,
        doffset: 0.25,
        kind: ChangeKind::Adjust,
    };
    s.handle_clock_change(&change, &mut rng);
    let r = s
        .handle_request(&received(&bytes, t(0.0)), t(0.0), &synced(), None, &mut rng)
        .expect("response");
    assert_eq!(r.bytes.len(), bytes.len());
    let p = parse(&r);
    let [f] = &p.extensions[..] else {
        panic!("one field expected: {:?}", p.extensions)
    };
    assert_eq!(f.field_type, ExtensionField::EXP_MONO_ROOT);
    let word = |i: usize| u32::from_be_bytes(f.body[i..i + 4].try_into().expect("4 bytes"));
    assert_eq!(word(0), request::MONO_ROOT_MAGIC);
    assert_eq!(word(4), (0.0123f64 * f64::from(1u32 << 28)).ceil() as u32);
    assert_eq!(word(8), (0.000_45f64 * f64::from(1u32 << 28)).ceil() as u32);
    let mono = NtpTimestamp(u64::from(word(12)) << 32 | u64::from(word(16)));
    assert_near(mono, t(0.25));
    let epoch = word(20);
    // A step restarts the timescale with a new epoch.
    let step = ClockChange {
        kind: ChangeKind::Step,
        ..change
    };
    s.handle_clock_change(&step, &mut rng);
    let r = s
        .handle_request(&received(&bytes, t(1.0)), t(1.0), &synced(), None, &mut rng)
        .expect("response");
    let p = parse(&r);
    let body = &p.extensions[0].body;
    assert_ne!(
        u32::from_be_bytes(body[20..24].try_into().expect("4")),
        epoch
    );
    let mono = NtpTimestamp(u64::from_be_bytes(body[12..20].try_into().expect("8")));
    assert_near(mono, t(1.0));
}

#[test]
fn new_rejects_ratelimit_without_client_log() {
    let mut cfg = config(Some(RateLimitConfig::NTP_DEFAULT));
    cfg.client_log.enabled = false;
    assert_eq!(
        Server::new(cfg, &mut rng()).map(|_| ()),
        Err(ServerError::ClientLog(ClientLogError::RateLimitWithoutLog))
    );
}

mod authenticated;
mod interleaved;
mod stamp;
