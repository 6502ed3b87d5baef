use super::*;
use crate::random::stream_rng;

fn clock(params: ClockParams) -> SimClock {
    SimClock::new(&params, SIM_EPOCH, stream_rng(1, 0)).expect("valid params")
}

fn at(secs: f64) -> UnixTime {
    SIM_EPOCH.add_secs(secs)
}

#[test]
fn integrates_frequency_exactly() {
    let mut c = clock(ClockParams {
        freq_ppm: 100.0,
        ..ClockParams::default()
    });
    c.advance_to(at(1000.0));
    assert!((c.true_offset() - 0.1).abs() < 1e-12, "{}", c.true_offset());
    assert_eq!(c.now(), at(1000.1));
    // Piecewise: change the correction halfway through the next 1000 s.
    c.advance_to(at(1500.0));
    c.apply(ClockAction::SetFrequency {
        correction_ppm: -50.0,
    })
    .expect("in range");
    c.advance_to(at(2000.0));
    let rate2 = 100e-6 - 50e-6 - 100e-6 * 50e-6;
    let expected = 0.2 - 500.0 * 100e-6 + 500.0 * rate2;
    assert!((c.true_offset() - expected).abs() < 1e-12);
}

#[test]
fn initial_offset_and_step_add_to_the_reading() {
    let mut c = clock(ClockParams {
        offset: -0.25,
        ..ClockParams::default()
    });
    assert_eq!(c.now(), at(-0.25));
    c.advance_to(at(10.0));
    c.apply(ClockAction::Step { offset: 0.375 })
        .expect("finite");
    assert_eq!(c.now(), at(10.125));
    assert_eq!(c.log().steps, vec![(at(10.0), 0.375)]);
    assert!(c.apply(ClockAction::Step { offset: f64::NAN }).is_err());
}

#[test]
fn correction_multiplies_the_natural_frequency() {
    let mut c = clock(ClockParams {
        freq_ppm: 100.0,
        ..ClockParams::default()
    });
    c.apply(ClockAction::SetFrequency {
        correction_ppm: -100.0 / 1.0001,
    })
    .expect("in range");
    assert!(c.frequency_error().abs() < 1e-18);
    c.apply(ClockAction::SetFrequency {
        correction_ppm: 100.0,
    })
    .expect("in range");
    assert!((c.frequency_error() - 200.01e-6).abs() < 1e-18);
    assert_eq!(c.log().frequency_sets, 2);
}

#[test]
fn refuses_corrections_out_of_range() {
    let mut c = clock(ClockParams {
        max_correction_ppm: 500.0,
        ..ClockParams::default()
    });
    assert!(
        c.apply(ClockAction::SetFrequency {
            correction_ppm: 501.0
        })
        .is_err()
    );
    assert_eq!(c.correction(), 0.0);
    assert_eq!(c.log().refused, 1);
}

#[test]
fn readings_are_truncated_to_the_resolution() {
    let mut c = clock(ClockParams {
        resolution_ns: 1000,
        ..ClockParams::default()
    });
    c.advance_to(at(0.000_001_999));
    assert_eq!(c.now(), at(0.000_001));
    assert_eq!(c.precision(), 1e-6);
}

#[test]
fn true_time_of_is_the_first_instant_reading_the_target() {
    let mut c = clock(ClockParams {
        offset: 0.3,
        freq_ppm: -37.0,
        resolution_ns: 64,
        ..ClockParams::default()
    });
    c.advance_to(at(0.5));
    for target_secs in [0.9, 1.234_567_891, 0.4] {
        let target = at(target_secs);
        let t = c.true_time_of(target);
        let mut probe = c.clone();
        probe.advance_to(t);
        assert!(probe.now() >= target);
        if t > c.now_true() {
            let mut before = c.clone();
            before.advance_to(UnixTime::from_nanos(t.as_nanos() - 1));
            assert!(before.now() < target);
        }
    }
}

#[test]
fn wander_is_reproducible_and_has_the_right_spread() {
    let params = ClockParams {
        wander_ppb: 1.0,
        ..ClockParams::default()
    };
    let run = |seed: u64| {
        let mut c = SimClock::new(&params, SIM_EPOCH, stream_rng(seed, 0)).expect("valid");
        c.advance_to(at(399.5));
        (c.natural_frequency_error(), c.true_offset())
    };
    assert_eq!(run(5).0.to_bits(), run(5).0.to_bits());
    assert_eq!(run(5).1.to_bits(), run(5).1.to_bits());
    assert_ne!(run(5).0, run(6).0);
    // 400 updates (t = 0..=399) of 1 ppb each: variance 400 ppb².
    let n = 300;
    let var = (0..n).map(|s| run(s).0.powi(2)).sum::<f64>() / n as f64;
    let expected = 400.0 * 1e-18;
    assert!(
        (var / expected - 1.0).abs() < 0.3,
        "variance ratio {}",
        var / expected
    );
}

#[test]
fn inserted_leap_second_steps_back_at_midnight() {
    // 10 s before the end of 2010-01-01 in clock time.
    let mut c = clock(ClockParams {
        offset: 86_390.0,
        freq_ppm: 10.0,
        ..ClockParams::default()
    });
    c.apply(ClockAction::SetLeap {
        leap: LeapStatus::InsertSecond,
        tai_offset: 0,
    })
    .expect("ok");
    let midnight = SIM_EPOCH.add_secs(86_400.0);
    let due = c.true_time_of(midnight);
    c.advance_to(UnixTime::from_nanos(due.as_nanos() - 1));
    assert!(c.now() < midnight && c.log().leaps_applied.is_empty());
    c.advance_to(due);
    assert_eq!(c.log().leaps_applied, vec![(due, -1)]);
    assert_eq!(c.now(), midnight.add_secs(-1.0));
    // Armed again with the same status, nothing more happens.
    c.advance_to(due.add_secs(5.0));
    assert_eq!(c.log().leaps_applied.len(), 1);
    assert!(
        (c.true_offset() - (86_389.0 + 10e-6 * (due.add_secs(5.0).diff_secs(SIM_EPOCH)))).abs()
            < 1e-9
    );
}

#[test]
fn deleted_leap_second_skips_the_last_second() {
    let mut c = clock(ClockParams {
        offset: 86_390.0,
        ..ClockParams::default()
    });
    c.apply(ClockAction::SetLeap {
        leap: LeapStatus::DeleteSecond,
        tai_offset: 0,
    })
    .expect("ok");
    c.advance_to(at(9.0));
    assert_eq!(c.now(), SIM_EPOCH.add_secs(86_399.0).add_secs(1.0));
    assert_eq!(c.log().leaps_applied, vec![(at(9.0), 1)]);
}

#[test]
fn rejects_bad_parameters() {
    let bad = ClockParams {
        resolution_ns: 0,
        ..ClockParams::default()
    };
    assert!(SimClock::new(&bad, SIM_EPOCH, stream_rng(0, 0)).is_err());
}
