use super::*;
use crate::discipline::test_clock::IdealClock;

const T0: i64 = 1_700_000_000;

fn start(ahead: f64, natural: f64) -> (IdealClock, LocalClock) {
    let sim = IdealClock::new(UnixTime::from_secs_nanos(T0, 0), ahead, natural);
    let lc = LocalClock::new(LocalClockConfig::default(), sim.raw(), 0.0);
    (sim, lc)
}

fn drain(lc: &mut LocalClock, sim: &mut IdealClock) {
    while let Some(a) = lc.poll_action() {
        sim.apply(a);
    }
}

/// Runs slew after slew until the clock's own deadline passes `until` true
/// seconds, checking that the cooked time stays on true time throughout.
fn run(lc: &mut LocalClock, sim: &mut IdealClock, until: f64) {
    let end = sim.truth().add_secs(until);
    while sim.truth() < end {
        drain(lc, sim);
        let cooked_err = lc.cook(sim.raw()).diff_secs(sim.truth());
        assert!(cooked_err.abs() < 1e-8, "cooked time off by {cooked_err}");
        let deadline = lc.poll_timeout().expect("a slew is always planned");
        let step_to = deadline.min(sim.raw().add_secs(7.0));
        sim.advance_to_raw(step_to);
        lc.handle_timeout(sim.raw());
    }
    drain(lc, sim);
}

#[test]
fn slew_rate_is_bounded_and_cooked_time_converges() {
    let (mut sim, mut lc) = start(0.5, 0.0);
    lc.accumulate_offset(sim.raw(), 0.5, 0.0)
        .expect("valid offset");
    let t_start = sim.raw();
    // 0.5 s at the largest rate: 1e6/12 ppm slows the clock by 1/12, which
    // removes 1/11 s per raw second, so the slew takes 5.5 s.
    let planned = lc.poll_timeout().expect("slew planned").diff_secs(t_start);
    assert!((planned - 5.5).abs() < 1e-6, "planned {planned}");
    run(&mut lc, &mut sim, 30.0);
    assert!(sim.max_abs_correction_ppm <= 1e6 / 12.0 + 1e-6);
    assert!(sim.max_abs_correction_ppm > 83_000.0);
    assert!(
        sim.ahead().abs() < 1e-8,
        "clock still off by {}",
        sim.ahead()
    );
    assert_eq!(sim.correction_ppm(), 0.0);
    assert!(lc.offset_correction(sim.raw()).0.abs() < 1e-8);
}

#[test]
fn slew_duration_follows_correction_rate() {
    let (sim, mut lc) = start(0.0, 0.0);
    // corrtimeratio 3 × 0.5 × sd 1e-4 × interval 64 s: an offset of 1 ms
    // takes 9.6 s.
    let corr_rate = 3.0 * 0.5 * 1e-4 * 64.0;
    lc.accumulate_offset(sim.raw(), 1e-3, corr_rate)
        .expect("valid offset");
    let Some(ClockAction::SetFrequency { correction_ppm }) = lc.poll_action() else {
        panic!("expected a frequency action");
    };
    assert!(
        (correction_ppm + 1e-3 / 9.6 * 1e6).abs() < 1e-6,
        "{correction_ppm}"
    );
    let planned = lc
        .poll_timeout()
        .expect("slew planned")
        .diff_secs(sim.raw());
    assert!((planned - 9.6).abs() < 1e-2, "planned {planned}");
}

#[test]
fn slew_duration_is_clamped_to_one_second_and_ten_thousand() {
    let (sim, mut lc) = start(0.0, 0.0);
    lc.accumulate_offset(sim.raw(), 1e-6, 0.0)
        .expect("valid offset");
    let planned = lc.poll_timeout().expect("planned").diff_secs(sim.raw());
    assert!((planned - 1.0).abs() < 1e-6, "short slew {planned}");

    let (sim, mut lc) = start(0.0, 0.0);
    lc.accumulate_offset(sim.raw(), 1e-6, 1.0)
        .expect("valid offset");
    let planned = lc.poll_timeout().expect("planned").diff_secs(sim.raw());
    assert!((planned - 1e4).abs() < 1e-6, "long slew {planned}");
}

#[test]
fn offset_converges_with_a_frequency_estimate() {
    // The clock runs 10 ppm fast; the model knows it.
    let natural = 10e-6 / (1.0 - 10e-6);
    let (mut sim, mut lc) = start(-0.02, natural);
    lc.set_absolute_frequency(sim.raw(), 10.0);
    lc.accumulate_offset(sim.raw(), -0.02, 0.5)
        .expect("valid offset");
    run(&mut lc, &mut sim, 200.0);
    assert!(sim.ahead().abs() < 1e-8, "clock off by {}", sim.ahead());
    assert!((sim.correction_ppm() + 10.0).abs() < 1e-9);
}

#[test]
fn clock_frequency_limit_is_respected() {
    let cfg = LocalClockConfig {
        clock_max_frequency_ppm: 500.0,
        ..Default::default()
    };
    let mut sim = IdealClock::new(UnixTime::from_secs_nanos(T0, 0), 0.1, 0.0);
    let mut lc = LocalClock::new(cfg, sim.raw(), 0.0);
    lc.accumulate_offset(sim.raw(), 0.1, 0.0)
        .expect("valid offset");
    // At 500 ppm, 0.1 s takes about 200 s.
    let planned = lc.poll_timeout().expect("planned").diff_secs(sim.raw());
    assert!((planned - 200.0).abs() < 0.1, "planned {planned}");
    run(&mut lc, &mut sim, 400.0);
    assert!(sim.max_abs_correction_ppm <= 500.0);
    assert!(sim.ahead().abs() < 1e-8);
}

#[test]
fn step_moves_the_clock_and_reports_a_step_change() {
    let (mut sim, mut lc) = start(2.0, 0.0);
    let before = sim.raw();
    lc.apply_step(before, 2.0).expect("valid step");
    drain(&mut lc, &mut sim);
    assert_eq!(sim.steps, vec![-2.0]);
    assert!(sim.ahead().abs() < 1e-12);
    let Some(ClockNotice::Changed(change)) = lc.poll_notice() else {
        panic!("expected a change notice");
    };
    assert_eq!(change.kind, ChangeKind::Step);
    assert_eq!(change.doffset, 2.0);
    assert_eq!(change.cooked, before);
    assert_eq!(lc.cook(sim.raw()), sim.raw());
}

#[test]
fn make_step_removes_the_pending_offset() {
    let (mut sim, mut lc) = start(0.3, 0.0);
    lc.accumulate_offset(sim.raw(), 0.3, 100.0)
        .expect("valid offset");
    drain(&mut lc, &mut sim);
    sim.advance(10.0);
    lc.handle_timeout(sim.raw());
    drain(&mut lc, &mut sim);
    let pending = -lc.offset_correction(sim.raw()).0;
    assert!(pending > 0.0 && pending < 0.3);
    let stepped = lc.make_step(sim.raw()).expect("valid step");
    assert!((stepped - pending).abs() < 1e-12);
    drain(&mut lc, &mut sim);
    assert!(sim.ahead().abs() < 1e-8, "clock off by {}", sim.ahead());
    assert!(matches!(
        lc.poll_event(),
        Some(DisciplineEvent::ClockStepped { .. })
    ));
    assert!(sim.correction_ppm().abs() < 1e-9);
}

#[test]
fn frequency_is_clamped_to_maxdrift() {
    let (sim, mut lc) = start(0.0, 0.0);
    lc.set_absolute_frequency(sim.raw(), 2e5);
    assert_eq!(lc.frequency_ppm(), 100_000.0);
    assert_eq!(
        lc.poll_event(),
        Some(DisciplineEvent::FrequencyClamped { requested_ppm: 2e5 })
    );
    assert_eq!(
        lc.poll_action(),
        Some(ClockAction::SetFrequency {
            correction_ppm: -100_000.0
        })
    );
    let Some(ClockNotice::Changed(change)) = lc.poll_notice() else {
        panic!("expected a change notice");
    };
    assert!((change.dfreq - 0.1).abs() < 1e-12);
}

#[test]
fn invalid_offsets_are_refused_without_effect() {
    let (sim, mut lc) = start(0.0, 0.0);
    for bad in [1e10, f64::NAN, 2e9] {
        assert!(
            lc.accumulate_offset(sim.raw(), bad, 0.0).is_err(),
            "offset {bad} accepted"
        );
    }
    assert!(lc.apply_step(sim.raw(), 1e10).is_err());
    assert_eq!(lc.poll_action(), None);
    assert_eq!(lc.poll_notice(), None);
    assert!(matches!(
        lc.poll_event(),
        Some(DisciplineEvent::InvalidAdjustment { .. })
    ));
}

#[test]
fn sync_status_includes_the_pending_offset() {
    let (sim, mut lc) = start(0.0, 0.0);
    lc.accumulate_offset(sim.raw(), -0.25, 1e3)
        .expect("valid offset");
    while lc.poll_action().is_some() {}
    lc.set_sync_status(true, 0.001, 0.01);
    assert_eq!(
        lc.poll_action(),
        Some(ClockAction::SetSyncStatus {
            synchronised: true,
            est_error: 0.25,
            max_error: 0.26
        })
    );
}

#[test]
fn frequency_changes_add_dispersion() {
    let (sim, mut lc) = start(0.0, 0.0);
    lc.accumulate_offset(sim.raw(), 0.01, 0.0)
        .expect("valid offset");
    let dispersion = (0..lc.notice_count())
        .filter_map(|i| match lc.notice_at(i) {
            Some(ClockNotice::Dispersion(d)) => Some(d),
            _ => None,
        })
        .sum::<f64>();
    // 10 ms over 1 s = 1e-2 relative, times a 10 ms (plus 50%) settling time.
    assert!(
        (dispersion - 1e-2 / (1.0 - 1e-2) * 0.015).abs() < 1e-9,
        "{dispersion}"
    );
}

#[test]
fn without_clock_control_steps_fail_and_offsets_stay_in_the_cooked_time() {
    // chronyd -x: the null driver.
    let sim = IdealClock::new(UnixTime::from_secs_nanos(T0, 0), 5.0, 0.0);
    let cfg = LocalClockConfig {
        no_control: true,
        ..LocalClockConfig::default()
    };
    let mut lc = LocalClock::new(cfg, sim.raw(), 0.0);
    let mut sim = sim;
    assert_eq!(
        lc.apply_step(sim.raw(), 5.0),
        Err(LocalClockError::StepFailed)
    );
    assert!(matches!(lc.poll_event(), Some(DisciplineEvent::StepFailed)));
    assert_eq!(
        DisciplineEvent::StepFailed.to_string(),
        "Could not step system clock"
    );
    lc.accumulate_offset(sim.raw(), 5.0, 100.0)
        .expect("valid offset");
    drain(&mut lc, &mut sim);
    assert!(sim.steps.is_empty());
    // Never slewed out: the correction stays and no slew is planned.
    assert_eq!(lc.poll_timeout(), None);
    sim.advance(1000.0);
    let (corr, _) = lc.offset_correction(sim.raw());
    assert!((corr + 5.0).abs() < 1e-12, "{corr}");
    assert!((sim.ahead() - 5.0).abs() < 1e-9, "{}", sim.ahead());
    assert!(lc.cook(sim.raw()).diff_secs(sim.truth()).abs() < 1e-9);
    // chronyc makestep fails and keeps the offset.
    assert_eq!(lc.make_step(sim.raw()), Err(LocalClockError::StepFailed));
    let (corr, _) = lc.offset_correction(sim.raw());
    assert!((corr + 5.0).abs() < 1e-9, "{corr}");
}
