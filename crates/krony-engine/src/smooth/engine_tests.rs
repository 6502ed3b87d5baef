//! `smoothtime` through the engine: the commands, `doffset`, and the time
//! the server serves.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use krony_wire::ntp::{Mode, NtpRepr, NtpTimestamp, RefId};

use crate::{Engine, EngineConfig, Incoming, UnixTime};

const T0: i64 = 1_700_000_000;
/// Reference ID of the local reference mode, 127.127.1.1.
const REFID_LOCL: u32 = 0x7F7F_0101;

fn at(secs: f64) -> UnixTime {
    UnixTime::from_secs_nanos(T0, 0).add_secs(secs)
}

fn engine(conf: &str) -> Engine {
    let parsed = krony_config::parse_str(conf, "t.conf").expect("valid config");
    let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
    Engine::new(cfg, at(0.0), 1).expect("engine")
}

fn logs(e: &mut Engine) -> Vec<String> {
    std::iter::from_fn(|| e.poll_event())
        .filter_map(|ev| ev.as_log().map(|m| m.text.clone()))
        .collect()
}

/// Sends a request of `mode` at raw time `now` and returns the response.
fn ask(e: &mut Engine, now: UnixTime, mode: Mode) -> NtpRepr {
    let req = crate::server::tests::request(4, mode, 0, 0, 0x1234_5678_9abc_def0);
    let bytes = req.to_vec().expect("emit");
    let from = SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10)), 123);
    e.handle_packet(now, &Incoming::new(&bytes, from, now));
    while e.poll_clock_action().is_some() {}
    let tx = e.poll_transmit().expect("a response");
    NtpRepr::parse_bytes(&tx.bytes).expect("response parses")
}

/// How far a timestamp of a response is from `expected`, seconds.
fn off(ts: NtpTimestamp, expected: UnixTime) -> f64 {
    ts.to_unix(expected).diff_secs(expected)
}

const CONF: &str = "local stratum 1\nallow all\nsmoothtime 400 0.001\n";

#[test]
fn without_smoothtime_the_commands_are_not_enabled() {
    let mut e = engine("local stratum 1\nallow all\n");
    assert_eq!(e.smoothing(at(0.0)), None);
    assert!(!e.smoothtime_activate(at(0.0)));
    assert!(!e.smoothtime_reset(at(0.0)));
    // doffset works without it.
    assert!(e.accumulate_offset(at(0.0), 0.25));
    let r = ask(&mut e, at(1.0), Mode::Client);
    assert_eq!(r.reference_id, RefId(REFID_LOCL));
    assert!(off(r.transmit_ts, e.cook(at(1.0))).abs() < 1e-6);
}

#[test]
fn doffset_slews_the_clock_and_tracking_shows_it() {
    let mut e = engine("");
    let now = at(10.0);
    assert!(e.tracking(now).current_correction.abs() < 1e-12);
    assert!(e.accumulate_offset(now, 0.5));
    assert_eq!(
        logs(&mut e),
        ["Accumulated delta offset of 0.500000 seconds"]
    );
    // "System time": 0.5 s fast of NTP time.
    assert!((e.tracking(now).current_correction + 0.5).abs() < 1e-9);
    // The clock is slowed to remove it.
    let slowed = std::iter::from_fn(|| e.poll_clock_action()).any(|a| {
        matches!(a, crate::clock::ClockAction::SetFrequency { correction_ppm } if correction_ppm < -1000.0)
    });
    assert!(slowed);
    // Slowed by maxslewrate (83333 ppm, 1/12), the clock loses 1/11 s per
    // second against its corrected rate.
    let rate = (1.0 / 12.0) / (1.0 - 1.0 / 12.0);
    let later = e.tracking(at(12.0)).current_correction;
    assert!((later + 0.5 - 2.0 * rate).abs() < 1e-4, "{later}");
    // An impossible offset fails and changes nothing.
    assert!(!e.accumulate_offset(now, f64::NAN));
    assert!(!e.accumulate_offset(now, 1e12));
    assert!((e.tracking(now).current_correction + 0.5).abs() < 1e-9);
}

#[test]
fn server_serves_smoothed_time_after_a_correction() {
    let mut e = engine(CONF);
    let r = e.smoothing(at(0.0)).expect("enabled");
    assert!(!r.active);
    // Locked (the skew is still large): a correction is served at once.
    assert!(e.accumulate_offset(at(0.0), 0.25));
    assert_eq!(e.smoothing(at(0.0)).map(|r| r.offset), Some(0.0));
    let _ = logs(&mut e);

    assert!(e.smoothtime_activate(at(1.0)));
    assert_eq!(logs(&mut e), ["Activated time smoothing"]);
    assert!(e.accumulate_offset(at(1.0), 1.0));
    let r = e.smoothing(at(1.0)).expect("enabled");
    assert!(r.active && (r.offset - 1.0).abs() < 1e-6, "{r:?}");
    assert!(
        (r.remaining_time - 2.0 * 1e9f64.sqrt()).abs() < 1.0,
        "{r:?}"
    );

    // The clock is corrected by more than a second in a few seconds, but
    // clients see time one second ahead of it, decaying slowly.
    let now = at(3.0);
    let resp = ask(&mut e, now, Mode::Client);
    let cooked = e.cook(now);
    let smooth = e.smoothing(now).expect("enabled").offset;
    assert!((smooth - 1.0).abs() < 1e-6, "{smooth}");
    assert!((off(resp.transmit_ts, cooked) - smooth).abs() < 1e-6);
    assert!((off(resp.receive_ts, cooked) - smooth).abs() < 1e-6);
    assert_eq!(resp.reference_id, RefId(super::REFID_SMOOTH));
    assert_eq!(resp.stratum, 1);
    // The reference time moved with it.
    let plain = e.tracking(now).ref_time;
    assert!((off(resp.reference_ts, plain) - smooth).abs() < 1e-6);

    // A symmetric active request is answered with the clock's time.
    let resp = ask(&mut e, now, Mode::SymmetricActive);
    assert!(off(resp.transmit_ts, e.cook(now)).abs() < 1e-6);
    assert_eq!(resp.reference_id, RefId(REFID_LOCL));

    // smoothtime reset: the clock's time again.
    assert!(e.smoothtime_reset(now));
    assert_eq!(
        logs(&mut e),
        [
            "Accumulated delta offset of 1.000000 seconds",
            "Reset time smoothing"
        ]
    );
    let resp = ask(&mut e, at(4.0), Mode::Client);
    assert!(off(resp.transmit_ts, e.cook(at(4.0))).abs() < 1e-6);
    assert_eq!(resp.reference_id, RefId(REFID_LOCL));
}

#[test]
fn makestep_resets_the_smoothing() {
    let mut e = engine(CONF);
    assert!(e.smoothtime_activate(at(0.0)));
    assert!(e.accumulate_offset(at(0.0), 2.0));
    assert!(e.smoothing(at(1.0)).expect("enabled").offset > 1.9);
    let _ = logs(&mut e);
    assert!(e.make_step(at(1.0)));
    let log = logs(&mut e);
    assert!(log.iter().any(|l| l == "Reset time smoothing"), "{log:?}");
    let r = e.smoothing(at(2.0)).expect("enabled");
    assert_eq!((r.offset, r.remaining_time), (0.0, 0.0));
    assert!(r.active);
    // Nothing left to serve differently.
    let resp = ask(&mut e, at(2.0), Mode::Client);
    assert_eq!(resp.reference_id, RefId(REFID_LOCL));
}
