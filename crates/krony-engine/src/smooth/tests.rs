//! The smoothing process on its own: activation, the curve's limits and
//! end point, leap seconds, resets and the report.

use super::*;

const T0: i64 = 1_700_000_000;

fn at(secs: f64) -> UnixTime {
    UnixTime::from_secs_nanos(T0, 0).add_secs(secs)
}

fn smoother(max_freq_ppm: f64, max_wander_ppm: f64, leap_only: bool) -> Smoother {
    Smoother::new(SmoothConfig {
        max_freq_ppm,
        max_wander_ppm,
        leap_only,
    })
    .expect("enabled")
}

/// A change that leaves the cooked time at `t` (it was `t + doffset`
/// just before).
fn change(t: f64, kind: ChangeKind, dfreq: f64, doffset: f64) -> ClockChange {
    ClockChange {
        raw: at(t + doffset),
        cooked: at(t + doffset),
        dfreq,
        doffset,
        kind,
    }
}

/// A slew of `doffset` seconds at `t`, with a good skew.
fn slew(s: &mut Smoother, t: f64, doffset: f64) {
    s.clock_changed(&change(t, ChangeKind::Adjust, 0.0, doffset), 1e-12);
}

fn events(s: &mut Smoother) -> Vec<SmoothEvent> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Walks the curve from `t0` in steps of `dt` until the remaining time
/// runs out; returns the largest |freq| (ppm) and |wander| (ppm/s) seen
/// and the report at the end. With `monotonic`, checks that the offset
/// moves towards zero without overshooting (true when the frequency starts
/// at zero).
fn walk(s: &Smoother, t0: f64, dt: f64, monotonic: bool) -> (f64, f64, SmoothingReport) {
    let total = s.report(at(t0)).remaining_time;
    let (mut max_f, mut max_w) = (0.0f64, 0.0f64);
    let mut last = s.report(at(t0)).offset;
    let mut t = t0;
    while t < t0 + total {
        t = (t + dt).min(t0 + total);
        let r = s.report(at(t));
        max_f = max_f.max(r.freq_ppm.abs());
        max_w = max_w.max(r.wander_ppm.abs());
        if monotonic {
            assert!(r.offset.abs() <= last.abs() + 1e-9, "{t}: {r:?}");
            assert!(r.offset * last.signum() >= -1e-9, "{t}: {r:?}");
        }
        last = r.offset;
    }
    (max_f, max_w, s.report(at(t0 + total)))
}

#[test]
fn limits_that_are_not_positive_disable_smoothing() {
    let d = |f, w| krony_config::SmoothTime {
        max_freq: f,
        max_wander: w,
        leap_only: false,
    };
    assert!(SmoothConfig::from_directive(&d(400.0, 0.001)).is_some());
    assert!(SmoothConfig::from_directive(&d(0.0, 0.001)).is_none());
    assert!(SmoothConfig::from_directive(&d(400.0, -1.0)).is_none());
    assert!(SmoothConfig::from_directive(&d(f64::NAN, 0.001)).is_none());
}

#[test]
fn stays_locked_until_the_skew_is_small_enough() {
    // 0.001 ppm/s: unlocks below a skew of 10 ppm.
    let mut s = smoother(400.0, 0.001, false);
    assert!(!s.is_active());
    s.clock_changed(&change(0.0, ChangeKind::Adjust, 0.0, 0.5), 20e-6);
    assert!(!s.is_active());
    assert_eq!(s.offset(at(1.0)), 0.0);
    let r = s.report(at(1.0));
    assert_eq!(
        (r.active, r.last_update_ago, r.remaining_time),
        (false, 0.0, 0.0)
    );
    // This update unlocks, but is not accumulated.
    s.clock_changed(&change(10.0, ChangeKind::Adjust, 0.0, 0.5), 5e-6);
    assert!(s.is_active());
    assert_eq!(s.offset(at(11.0)), 0.0);
    assert_eq!(
        events(&mut s),
        vec![SmoothEvent::Activated { leap_only: false }]
    );
    assert_eq!(
        SmoothEvent::Activated { leap_only: false }.to_string(),
        "Activated time smoothing"
    );
    // The next one is.
    s.clock_changed(&change(20.0, ChangeKind::Adjust, 0.0, 0.5), 5e-6);
    assert!((s.offset(at(20.0)) - 0.5).abs() < 1e-12);
}

#[test]
fn big_offset_converges_with_bounded_frequency_and_wander() {
    let mut s = smoother(400.0, 0.001, false);
    s.activate(at(0.0));
    slew(&mut s, 0.0, 1.0);
    let r = s.report(at(0.0));
    assert!((r.offset - 1.0).abs() < 1e-12);
    // No plateau: two ramps of sqrt(offset / wander) = 31622.8 s each.
    let ramp = (1.0f64 / 1e-9).sqrt();
    assert!((r.remaining_time - 2.0 * ramp).abs() < 1e-6, "{r:?}");
    let (max_f, max_w, end) = walk(&s, 0.0, 10.0, true);
    // The peak frequency is wander × ramp = 31.6 ppm, below 400 (seen to
    // within the 10 s sampling: 0.01 ppm).
    assert!((max_f - 1e-3 * ramp).abs() < 0.011, "{max_f}");
    assert!(max_w <= 0.001 + 1e-12, "{max_w}");
    assert!(end.offset.abs() < 1e-9, "{end:?}");
    assert!(end.freq_ppm.abs() < 1e-6, "{end:?}");
    assert_eq!(end.remaining_time, 0.0);
    // Afterwards nothing is left.
    assert!(s.offset(at(3.0 * ramp)).abs() < 1e-9);
}

#[test]
fn frequency_limit_holds_a_plateau() {
    // 1 ppm at most, 0.01 ppm/s: ramps of 100 s, the rest at 1 ppm.
    let mut s = smoother(1.0, 0.01, false);
    s.activate(at(0.0));
    slew(&mut s, 0.0, 1.0);
    let total = s.report(at(0.0)).remaining_time;
    // Ramps remove 2 × 50e-6 s; the plateau removes the rest at 1e-6/s.
    let expected = 200.0 + (1.0 - 1e-4) / 1e-6;
    assert!((total - expected).abs() < 1e-3, "{total}");
    let (max_f, max_w, end) = walk(&s, 0.0, 97.0, true);
    assert!(max_f <= 1.0 + 1e-9, "{max_f}");
    assert!(max_w <= 0.01 + 1e-12, "{max_w}");
    assert!(end.offset.abs() < 1e-9, "{end:?}");
    // On the plateau the report says: served time 1 ppm slow, no wander.
    let mid = s.report(at(total / 2.0));
    assert!((mid.freq_ppm + 1.0).abs() < 1e-9 && mid.wander_ppm == 0.0);
}

#[test]
fn curve_ends_at_zero_for_any_start() {
    let offsets = [-100.0, -1.0, -1e-3, -1e-7, 0.0, 1e-7, 1e-3, 1.0, 100.0];
    // Frequency changes (relative) made together with the offset; the
    // large ones start above the frequency limit.
    let dfreqs = [-5e-5, -1e-6, 0.0, 1e-7, 2e-6, 5e-5];
    for (max_f, max_w) in [(400.0, 0.001), (2.0, 0.01), (10.0, 0.5)] {
        for &o in &offsets {
            for &df in &dfreqs {
                let mut s = smoother(max_f, max_w, false);
                s.activate(at(0.0));
                s.clock_changed(&change(0.0, ChangeKind::Adjust, df, o), 1e-12);
                let start = s.report(at(0.0));
                let total = start.remaining_time;
                let end = s.report(at(total));
                let tol = 1e-9 * o.abs().max(1.0);
                let ctx = format!("{max_f} {max_w} {o} {df}: {start:?} {end:?}");
                assert!(end.offset.abs() < tol, "{ctx}");
                assert!(end.freq_ppm.abs() < 1e-6, "{ctx}");
                // Never faster than the limit, or than the frequency it
                // started with when that was already beyond it.
                let limit = max_f.max(start.freq_ppm.abs()) + 1e-9;
                let (peak, wander, _) = walk(&s, 0.0, (total / 500.0).max(1.0), df == 0.0);
                assert!(peak <= limit && wander <= max_w + 1e-12, "{ctx} {peak}");
            }
        }
    }
}

#[test]
fn frequency_change_keeps_the_served_rate() {
    let mut s = smoother(400.0, 0.001, false);
    s.activate(at(0.0));
    // The clock was made 1 ppm slower: the served time compensates by
    // running 1 ppm fast of the clock for now.
    s.clock_changed(&change(0.0, ChangeKind::Adjust, 1e-6, 0.0), 1e-12);
    let r = s.report(at(0.0));
    assert!((r.freq_ppm - 1.0).abs() < 1e-5, "{r:?}");
    assert_eq!(r.offset, 0.0);
    // It first grows, then returns to zero.
    assert!(s.offset(at(100.0)) > 0.0);
    let end = s.report(at(r.remaining_time));
    assert!(end.offset.abs() < 1e-9 && end.freq_ppm.abs() < 1e-6);
}

#[test]
fn leap_only_ignores_ordinary_updates() {
    let mut s = smoother(400.0, 0.001, true);
    // The first update activates whatever the skew.
    s.clock_changed(&change(0.0, ChangeKind::Adjust, 0.0, 0.25), 1.0);
    assert!(s.is_active());
    assert_eq!(
        events(&mut s),
        vec![SmoothEvent::Activated { leap_only: true }]
    );
    s.clock_changed(&change(10.0, ChangeKind::Adjust, 1e-6, 0.5), 1.0);
    assert_eq!(s.offset(at(20.0)), 0.0);
    assert_eq!(s.report(at(20.0)).freq_ppm, 0.0);
    // An inserted leap second (the time scale went back a second) is
    // smoothed out.
    s.leap_passed(&change(100.0, ChangeKind::Step, 0.0, -1.0), 1.0);
    assert!((s.offset(at(101.0)) - 1.0).abs() < 1e-6);
    let r = s.report(at(101.0));
    assert!(
        r.active && r.leap_only && r.remaining_time > 60_000.0,
        "{r:?}"
    );
}

#[test]
fn leap_notice_only_moves_the_update_time_without_leaponly() {
    let mut s = smoother(400.0, 0.001, false);
    s.activate(at(0.0));
    s.leap_passed(&change(10.0, ChangeKind::Step, 0.0, -1.0), 1e-12);
    assert_eq!(s.offset(at(20.0)), 0.0);
    // The last update moved a second forward with the time scale.
    assert!((s.report(at(20.0)).last_update_ago - 19.0).abs() < 1e-9);
    // The slew correcting the leap second is what gets smoothed.
    slew(&mut s, 10.0, 1.0);
    assert!((s.offset(at(10.0)) - 1.0).abs() < 1e-12);
}

#[test]
fn steps_reset_but_unknown_steps_do_not() {
    let mut s = smoother(400.0, 0.001, false);
    s.activate(at(0.0));
    slew(&mut s, 0.0, 1.0);
    let _ = events(&mut s);
    s.clock_changed(&change(50.0, ChangeKind::UnknownStep, 0.0, 3.0), 1e-12);
    assert!(s.offset(at(50.0)) > 0.99);
    assert!(events(&mut s).is_empty());
    // A step of 2 s at 102 (time moved back to 100): reset, and the update
    // time moves with the clock.
    s.clock_changed(&change(100.0, ChangeKind::Step, 0.0, 2.0), 1e-12);
    assert_eq!(events(&mut s), vec![SmoothEvent::Reset]);
    assert_eq!(SmoothEvent::Reset.to_string(), "Reset time smoothing");
    let r = s.report(at(108.0));
    assert_eq!((r.offset, r.freq_ppm, r.remaining_time), (0.0, 0.0, 0.0));
    assert!((r.last_update_ago - 8.0).abs() < 1e-9, "{r:?}");
    assert!(s.is_active());
}

#[test]
fn report_fields_follow_the_curve() {
    let mut s = smoother(400.0, 0.001, false);
    s.activate(at(0.0));
    slew(&mut s, 0.0, 1.0);
    // In the first ramp after 100 s: offset 1 - w·t²/2, frequency w·t
    // (served time slowing down: negative frequency and wander).
    let r = s.report(at(100.0));
    assert!((r.offset - (1.0 - 1e-9 * 100.0 * 100.0 / 2.0)).abs() < 1e-12);
    assert!((r.freq_ppm + 0.1).abs() < 1e-9, "{r:?}");
    assert!((r.wander_ppm + 0.001).abs() < 1e-12, "{r:?}");
    assert!((r.last_update_ago - 100.0).abs() < 1e-9);
    let total = 2.0 * (1.0f64 / 1e-9).sqrt();
    assert!((r.remaining_time - (total - 100.0)).abs() < 1e-6);
    // In the second ramp the wander is positive: the slowing eases.
    assert!((s.report(at(total - 1.0)).wander_ppm - 0.001).abs() < 1e-12);
    // smoothtime reset.
    s.reset(at(200.0));
    let r = s.report(at(200.0));
    assert_eq!(
        r,
        SmoothingReport {
            active: true,
            leap_only: false,
            offset: 0.0,
            freq_ppm: 0.0,
            wander_ppm: 0.0,
            last_update_ago: 0.0,
            remaining_time: 0.0,
        }
    );
}

#[test]
fn leap_notice_is_the_first_step_of_a_leap_batch() {
    let notice = |kind, doffset| ClockNotice::Changed(change(0.0, kind, 0.0, doffset));
    let slewed = [
        ClockNotice::Dispersion(1e-6),
        notice(ChangeKind::Step, -1.0),
        notice(ChangeKind::Adjust, 1.0),
    ];
    let stepped = [
        notice(ChangeKind::Step, -1.0),
        notice(ChangeKind::Step, 1.0),
    ];
    let slew_event = [DisciplineEvent::LeapSlewStarted];
    let step_event = [DisciplineEvent::LeapStepped];
    assert_eq!(leap_notice_index(&slewed, &slew_event), Some(1));
    assert_eq!(leap_notice_index(&stepped, &step_event), Some(0));
    // A step without a leap second is an ordinary step.
    let other = [DisciplineEvent::ClockStepped { offset: 1.0 }];
    assert_eq!(leap_notice_index(&stepped, &other), None);
    assert_eq!(leap_notice_index(&stepped, &[]), None);
}
