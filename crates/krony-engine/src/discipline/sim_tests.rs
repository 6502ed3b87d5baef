//! The discipline driving an ideal simulated clock: it must bring the clock's
//! true offset and frequency error to zero using only its own actions.

use super::test_clock::IdealClock;
use super::*;
use crate::clock::LeapStatus;

const T0: i64 = 1_700_000_000;

/// Ideal measurement of the clock by perfect sources at the current instant.
fn measure(r: &Reference, sim: &IdealClock, natural: f64) -> SyncUpdate {
    let raw = sim.raw();
    let cooked = r.clock().cook(raw);
    // Frequency error of the corrected time scale, without the slew (what a
    // regression over slewed samples sees).
    let rate = (1.0 + natural) * (1.0 - r.clock().frequency_ppm() * 1e-6);
    SyncUpdate {
        stratum: 1,
        leap: LeapStatus::Normal,
        combined_sources: 1,
        ref_id: 0x4750_5300,
        ref_ip: None,
        ref_time: cooked,
        offset: cooked.diff_secs(sim.truth()),
        offset_sd: 1e-6,
        frequency: rate - 1.0,
        frequency_sd: 1e-9,
        skew: 1e-8,
        root_delay: 0.0,
        root_dispersion: 1e-6,
    }
}

fn apply_actions(r: &mut Reference, sim: &mut IdealClock) {
    while let Some(a) = r.poll_action() {
        sim.apply(a);
    }
    while r.poll_notice().is_some() {}
    while r.poll_event().is_some() {}
}

/// Runs `updates` updates `interval` seconds apart; returns the largest
/// |cooked − true| seen after the first update.
fn run(r: &mut Reference, sim: &mut IdealClock, natural: f64, updates: u32, interval: f64) -> f64 {
    let mut worst: f64 = 0.0;
    for i in 0..updates {
        let u = measure(r, sim, natural);
        r.set_reference(sim.raw(), &u);
        apply_actions(r, sim);
        let next_update = sim.truth().add_secs(interval);
        while sim.truth() < next_update {
            let remaining = next_update.diff_secs(sim.truth());
            let until_deadline = r
                .poll_timeout()
                .map_or(remaining, |d| d.diff_secs(sim.raw()).max(0.0));
            sim.advance(until_deadline.min(remaining).max(1e-3));
            r.handle_timeout(sim.raw());
            apply_actions(r, sim);
            if i > 0 {
                let err = r.clock().cook(sim.raw()).diff_secs(sim.truth());
                worst = worst.max(err.abs());
            }
        }
    }
    worst
}

#[test]
fn slewing_removes_offset_and_frequency_error() {
    let natural = 20e-6;
    let mut sim = IdealClock::new(UnixTime::from_secs_nanos(T0, 0), 0.05, natural);
    let mut r = Reference::new(DisciplineConfig::default(), sim.raw(), 0.0);
    apply_actions(&mut r, &mut sim);
    let worst = run(&mut r, &mut sim, natural, 40, 64.0);
    assert!(
        sim.ahead().abs() < 1e-7,
        "clock still off by {}",
        sim.ahead()
    );
    assert!(sim.steps.is_empty());
    // The frequency correction cancels the natural error: (1+e)(1+c) = 1.
    let c = -r.clock().frequency_ppm() * 1e-6;
    assert!(((1.0 + natural) * (1.0 + c) - 1.0).abs() < 1e-10);
    assert!(worst < 1e-7, "cooked time strayed by {worst}");
    assert!(sim.max_abs_correction_ppm <= 1e6 / 12.0 + 1e-6);
    let t = r.tracking_report(sim.raw());
    assert!((t.frequency_ppm - 20.0).abs() < 1e-3, "{}", t.frequency_ppm);
    assert!(t.current_correction.abs() < 1e-7);
    assert!(sim.synchronised);
}

#[test]
fn makestep_then_track() {
    let natural = -35e-6;
    let mut sim = IdealClock::new(UnixTime::from_secs_nanos(T0, 0), -12.0, natural);
    let cfg = DisciplineConfig {
        make_step: Some(MakeStep {
            threshold: 1.0,
            limit: 3,
        }),
        ..Default::default()
    };
    let mut r = Reference::new(cfg, sim.raw(), 0.0);
    apply_actions(&mut r, &mut sim);
    run(&mut r, &mut sim, natural, 20, 16.0);
    assert_eq!(sim.steps.len(), 1);
    assert!((sim.steps[0] - 12.0).abs() < 1e-6, "{:?}", sim.steps);
    assert!(
        sim.ahead().abs() < 1e-7,
        "clock still off by {}",
        sim.ahead()
    );
}

#[test]
fn large_offset_without_makestep_is_slewed_at_the_maximum_rate() {
    let mut sim = IdealClock::new(UnixTime::from_secs_nanos(T0, 0), 3.0, 0.0);
    let mut r = Reference::new(DisciplineConfig::default(), sim.raw(), 0.0);
    apply_actions(&mut r, &mut sim);
    let u = measure(&r, &sim, 0.0);
    r.set_reference(sim.raw(), &u);
    apply_actions(&mut r, &mut sim);
    assert!((sim.correction_ppm() + 1e6 / 12.0).abs() < 1e-6);
    // 3 s at 1/12 slower takes 36 s of true time, 33 s on the slowed clock.
    let deadline = r.poll_timeout().expect("slew planned");
    assert!((deadline.diff_secs(sim.raw()) - 33.0).abs() < 1e-6);
    sim.advance(35.0);
    assert!((sim.ahead() - 1.0 / 12.0).abs() < 1e-9);
    sim.advance_to_raw(deadline);
    assert!((sim.truth().diff_secs(UnixTime::from_secs_nanos(T0, 0)) - 36.0).abs() < 1e-6);
    r.handle_timeout(sim.raw());
    apply_actions(&mut r, &mut sim);
    assert!(sim.ahead().abs() < 1e-7, "{}", sim.ahead());
    assert_eq!(sim.correction_ppm(), 0.0);
}
