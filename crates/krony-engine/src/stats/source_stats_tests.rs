use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BASE: i64 = 1_700_000_000;

fn at(t: f64) -> UnixTime {
    UnixTime::from_secs_nanos(BASE, 0).add_secs(t)
}

/// A sample at `t` seconds after BASE where the local clock is `local_fast`
/// seconds ahead of the source.
fn sample(t: f64, local_fast: f64, delay: f64) -> Sample {
    Sample {
        time: at(t),
        offset: -local_fast,
        peer_delay: delay,
        peer_dispersion: 1e-6,
        root_delay: delay + 1e-3,
        root_dispersion: 1e-4,
    }
}

fn add(stats: &mut SourceStats, s: &Sample) -> Option<RegressionInfo> {
    stats.accumulate_sample(s, 2, LeapStatus::Normal).unwrap();
    stats.do_new_regression()
}

/// A local clock 1 ms fast, gaining 10 ppm, measured every 64 s with ±10 µs
/// of noise.
fn drifting_source(n: usize, seed: u64) -> (SourceStats, f64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut stats = SourceStats::new(StatsParams::refclock(1e-9));
    let mut t = 0.0;
    for _ in 0..n {
        let noise = rng.random_range(-1e-5..1e-5);
        add(&mut stats, &sample(t, 1e-3 + 10e-6 * t + noise, 1e-3));
        t += 64.0;
    }
    (stats, t - 64.0)
}

#[test]
fn a_drifting_clock_is_estimated() {
    let (stats, last) = drifting_source(30, 1);
    let tr = stats.get_tracking_data().unwrap();
    assert_eq!(tr.ref_time, at(last));
    assert!((tr.frequency - 10e-6).abs() < 0.1e-6, "{}", tr.frequency);
    assert!((tr.offset - (1e-3 + 10e-6 * last)).abs() < 2e-5);
    assert!(tr.skew > 0.0 && tr.skew < 1e-6);
    let r = stats.get_sourcestats_report(at(last + 100.0));
    assert_eq!(r.n_samples, stats.n_samples());
    assert!(r.n_samples >= DEFAULT_MIN_SAMPLES);
    assert!((r.resid_freq_ppm - 10.0).abs() < 0.1);
    // Positive = the local clock is fast; 100 s later it is 1 ms further.
    assert!((r.est_offset - (1e-3 + 10e-6 * (last + 100.0))).abs() < 3e-5);
    assert!(r.std_dev > 1e-6 && r.std_dev < 2e-5);
    assert!(r.est_offset_err > 0.0);
    let p = stats.predict_offset(at(last + 100.0));
    assert!((p - r.est_offset).abs() < 1e-12);
}

#[test]
fn too_few_samples_give_worst_case_estimates() {
    let mut stats = SourceStats::new(StatsParams::default());
    assert!(stats.get_selection_data(at(0.0)).is_none());
    assert!(stats.get_tracking_data().is_none());
    assert_eq!(stats.predict_offset(at(0.0)), 0.0);
    assert!(add(&mut stats, &sample(0.0, 1e-3, 1e-3)).is_none());
    assert!(add(&mut stats, &sample(64.0, 2e-3, 1e-3)).is_none());
    let r = stats.get_sourcestats_report(at(100.0));
    assert_eq!((r.n_samples, r.n_runs, r.span_seconds), (2, 0, 64));
    assert!((r.skew_ppm - 2000.0).abs() < 1e-9);
    assert_eq!(r.std_dev, 4.0);
    assert_eq!(stats.predict_offset(at(1000.0)), 2e-3);
    assert!(stats.get_selection_data(at(100.0)).is_none());
    assert_eq!(stats.frequency_range(), (-2000e-6 + 0.0, 2000e-6));
    assert!(add(&mut stats, &sample(128.0, 3e-3, 1e-3)).is_some());
    assert!(stats.get_selection_data(at(130.0)).is_some());
}

#[test]
fn maxsamples_below_three_is_selectable_with_maxjitter() {
    let mut stats = SourceStats::new(StatsParams {
        max_samples: 1,
        max_jitter: 0.25,
        ..StatsParams::default()
    });
    add(&mut stats, &sample(0.0, 1e-3, 1e-3));
    add(&mut stats, &sample(64.0, 2e-3, 1e-3));
    assert_eq!(stats.n_samples(), 1);
    let sel = stats.get_selection_data(at(64.0)).unwrap();
    assert_eq!(sel.std_dev, 0.25);
    assert_eq!(sel.offset, 2e-3);
}

#[test]
fn selection_interval_is_built_from_the_best_sample() {
    let (stats, last) = drifting_source(20, 2);
    let now = at(last + 32.0);
    let sel = stats.get_selection_data(now).unwrap();
    assert_eq!(sel.stratum, 2);
    assert_eq!(sel.leap, LeapStatus::Normal);
    assert!((sel.last_sample_ago - 32.0).abs() < 1e-9);
    assert!(sel.first_sample_ago >= sel.last_sample_ago);
    assert!((sel.hi_limit - sel.lo_limit - 2.0 * sel.root_distance).abs() < 1e-15);
    assert!((sel.lo_limit + sel.root_distance - sel.offset).abs() < 1e-15);
    // All samples have equal root delay/dispersion, so the newest is best:
    // distance = 1 ms + 1e-3/2... plus 32 s of skew.
    let tr = stats.get_tracking_data().unwrap();
    let expected = 0.5 * 2e-3 + 1e-4 + 32.0 * tr.skew;
    assert!((sel.root_distance - expected).abs() < 1e-12);
    assert!((sel.offset - stats.predict_offset(now)).abs() < 3e-5);
}

#[test]
fn a_step_in_offset_drops_old_samples() {
    let mut stats = SourceStats::new(StatsParams::refclock(1e-9));
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for i in 0..40 {
        let noise = rng.random_range(-1e-6..1e-6);
        add(&mut stats, &sample(f64::from(i) * 16.0, noise, 1e-3));
    }
    assert!(stats.n_samples() > 30);
    for i in 40..50 {
        let noise = rng.random_range(-1e-6..1e-6);
        add(&mut stats, &sample(f64::from(i) * 16.0, 1e-3 + noise, 1e-3));
    }
    assert!(stats.n_samples() <= 16, "kept {}", stats.n_samples());
    assert!((stats.get_tracking_data().unwrap().offset - 1e-3).abs() < 1e-5);
}

#[test]
fn slewing_keeps_predictions_consistent() {
    let (mut stats, last) = drifting_source(25, 3);
    let when = at(last + 10.0);
    let future = 500.0;
    let before = stats.predict_offset(when.add_secs(future));
    let (dfreq, doffset) = (10e-6, 0.5e-3);
    stats.slew_samples(when, dfreq, doffset);
    // The instant the old clock would read as when + 500 s reads
    // 500·(1 − dfreq) − doffset after `when` on the new clock, and the clock
    // is then 500·dfreq + doffset less fast.
    let t_new = when.add_secs(future * (1.0 - dfreq) - doffset);
    let after = stats.predict_offset(t_new);
    assert!((after - (before - future * dfreq - doffset)).abs() < 2e-9);
    // A fresh regression over the slewed samples agrees.
    let tr = stats.get_tracking_data().unwrap();
    assert!(tr.frequency.abs() < 0.1e-6);
    stats.do_new_regression();
    assert!((stats.predict_offset(t_new) - after).abs() < 1e-9);
    // A correction of the offsets alone moves predictions by as much.
    stats.correct_offset(-1e-3);
    assert!((stats.predict_offset(t_new) - (after - 1e-3)).abs() < 1e-9);
    let report = stats.get_source_report(at(last + 20.0), true);
    // The newest sample was 10 s before the change.
    let moved = 10.0 * dfreq - doffset - 1e-3;
    assert!((report.latest_meas - report.orig_latest_meas - moved).abs() < 1e-12);
}

#[test]
fn jitter_asymmetry_is_estimated_and_corrected() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut auto = SourceStats::new(StatsParams::ntp(1e-9));
    let mut off = SourceStats::new(StatsParams::refclock(1e-9));
    for i in 0..80 {
        // All the jitter on the way back: the measured offset is half the
        // extra delay (the local clock looks fast).
        let extra: f64 = rng.random_range(0.0..1e-3);
        let s = sample(f64::from(i) * 16.0, 0.5 * extra, 10e-3 + extra);
        add(&mut auto, &s);
        add(&mut off, &s);
    }
    assert!((auto.jitter_asymmetry() - 0.5).abs() < 1e-6);
    let corrected = auto.get_tracking_data().unwrap().offset;
    let biased = off.get_tracking_data().unwrap().offset;
    // Offsets are corrected to the smallest delay held, whose own error
    // remains.
    let residual = 0.5 * (auto.min_round_trip_delay() - 10e-3);
    assert!(
        (corrected - residual).abs() < 1e-9,
        "{corrected} {residual}"
    );
    assert!(residual < biased / 4.0, "{residual} {biased}");
    assert!(biased > 1e-4, "{biased}");
}

#[test]
fn out_of_order_samples_reset_the_history() {
    let (mut stats, last) = drifting_source(10, 4);
    let s = sample(last, 0.0, 1e-3);
    assert_eq!(
        stats.accumulate_sample(&s, 1, LeapStatus::Normal),
        Ok(Accumulated::HistoryReset)
    );
    assert_eq!(stats.n_samples(), 1);
    let bad = sample(last + 1.0, f64::NAN, 1e-3);
    assert_eq!(
        stats.accumulate_sample(&bad, 1, LeapStatus::Normal),
        Err(SampleError::NonFinite)
    );
    assert_eq!(stats.n_samples(), 1);
}

#[test]
fn degenerate_samples_never_panic() {
    let mut stats = SourceStats::new(StatsParams {
        precision: 0.0,
        min_samples: 0,
        max_samples: 1000,
        ..StatsParams::default()
    });
    for i in 0..70 {
        let s = Sample {
            time: at(f64::from(i) * 1e-9),
            offset: if i % 3 == 0 { 1e300 } else { 0.0 },
            peer_delay: 0.0,
            peer_dispersion: 0.0,
            root_delay: 0.0,
            root_dispersion: 0.0,
        };
        stats
            .accumulate_sample(&s, 0, LeapStatus::Unsynchronised)
            .unwrap();
        stats.do_new_regression();
        let _ = stats.get_selection_data(at(1.0));
        let _ = stats.get_tracking_data();
        let _ = stats.get_sourcestats_report(at(1.0));
        let _ = stats.get_delay_test_data(at(1.0));
        stats.slew_samples(at(1.0), 1e-6, 1e-3);
    }
    assert_eq!(stats.n_samples().max(1), stats.n_samples());
    assert!(stats.n_samples() <= MAX_SAMPLES);
}

#[test]
fn history_is_bounded() {
    let mut stats = SourceStats::new(StatsParams {
        max_samples: 8,
        ..StatsParams::refclock(1e-9)
    });
    for i in 0..100 {
        add(
            &mut stats,
            &sample(f64::from(i), if i % 2 == 0 { 1e-6 } else { -1e-6 }, 1e-3),
        );
        assert!(stats.n_samples() <= 8);
        assert!(stats.samples.len() <= 16);
    }
    assert_eq!(stats.n_samples(), 8);
}

#[test]
fn dump_and_load_round_trip() {
    let (stats, last) = drifting_source(12, 6);
    let text = stats.dump();
    assert!(text.starts_with(&format!("{} 0\n", stats.n_samples())));
    let mut loaded = SourceStats::new(StatsParams::refclock(1e-9));
    loaded
        .load(&text, at(last + 1.0), 3, LeapStatus::InsertSecond)
        .unwrap();
    assert_eq!(loaded.dump(), text);
    assert_eq!(loaded.n_samples(), stats.n_samples());
    let (a, b) = (
        stats.get_tracking_data().unwrap(),
        loaded.get_tracking_data().unwrap(),
    );
    assert_eq!(a.ref_time, b.ref_time);
    assert!((a.frequency - b.frequency).abs() < 1e-9);
    assert!((a.offset - b.offset).abs() < 1e-8);
    let sel = loaded.get_selection_data(at(last + 1.0)).unwrap();
    assert_eq!((sel.stratum, sel.leap), (3, LeapStatus::InsertSecond));
    assert_eq!(SourceStats::new(StatsParams::default()).dump(), "");
}

#[test]
fn malformed_dumps_are_rejected() {
    let (stats, last) = drifting_source(5, 7);
    let now = at(last + 1.0);
    let good = stats.dump();
    let lines: Vec<&str> = good.lines().collect();
    let with_line = |i: usize, l: &str| {
        let mut v = lines.clone();
        v[i] = l;
        v.join("\n")
    };
    let bad = [
        String::new(),
        "x y\n".to_string(),
        "0 0\n".to_string(),
        "65 0\n".to_string(),
        "-1 0\n".to_string(),
        "5\n".to_string(),
        lines[..3].join("\n"),
        with_line(1, "1700000000.0 1 2 3 4 5"),
        with_line(1, "1700000000.0 1 2 3 4 5 6 7"),
        with_line(1, "1700000000.0 nan 0 0 0 0 0"),
        with_line(1, "1700000000.0 0 0 1e7 0 0 0"),
        with_line(1, "-5.0 0 0 0 0 0 0"),
        with_line(1, "9999999999.0 0 0 0 0 0 0"),
        with_line(2, lines[1]),
        format!("{good}junk\n"),
    ];
    let mut target = SourceStats::new(StatsParams::default());
    add(&mut target, &sample(0.0, 1e-3, 1e-3));
    for text in &bad {
        assert!(
            target.load(text, now, 1, LeapStatus::Normal).is_err(),
            "{text:?}"
        );
        assert_eq!(target.n_samples(), 1);
    }
    // Every truncation and single-byte corruption either loads or fails
    // cleanly.
    for cut in 0..good.len() {
        let _ = target.load(&good[..cut], now, 1, LeapStatus::Normal);
    }
    let mut bytes = good.into_bytes();
    for i in 0..bytes.len() {
        let orig = bytes[i];
        for b in [b'-', b'9', b'.', b' ', b'\n', b'e'] {
            bytes[i] = b;
            let _ = target.load(&String::from_utf8_lossy(&bytes), now, 1, LeapStatus::Normal);
        }
        bytes[i] = orig;
    }
}

#[test]
fn loading_more_than_maxsamples_keeps_the_newest() {
    let (stats, last) = drifting_source(12, 8);
    let mut small = SourceStats::new(StatsParams {
        max_samples: 4,
        min_samples: 3,
        ..StatsParams::refclock(1e-9)
    });
    small
        .load(&stats.dump(), at(last), 1, LeapStatus::Normal)
        .unwrap();
    assert!(small.n_samples() <= 4);
    assert_eq!(small.get_tracking_data().unwrap().ref_time, at(last));
}

#[test]
fn dispersion_and_delay_queries() {
    let (mut stats, last) = drifting_source(10, 10);
    let before = stats.get_selection_data(at(last)).unwrap().root_distance;
    stats.add_dispersion(1e-3);
    let after = stats.get_selection_data(at(last)).unwrap().root_distance;
    assert!((after - before - 1e-3).abs() < 1e-12);
    assert_eq!(stats.min_round_trip_delay(), 1e-3);
    let d = stats.get_delay_test_data(at(last + 64.0)).unwrap();
    assert!((d.last_sample_ago - 64.0).abs() < 1e-9);
    assert_eq!(d.min_delay, 1e-3);
    let fixed = SourceStats::new(StatsParams {
        min_delay: 5e-3,
        ..StatsParams::default()
    });
    assert_eq!(fixed.min_round_trip_delay(), 5e-3);
}

#[test]
fn source_report_hides_the_subsecond_part_for_ntp() {
    let mut stats = SourceStats::new(StatsParams::default());
    add(&mut stats, &sample(0.75, 1e-3, 2e-3));
    let ntp = stats.get_source_report(at(10.0), true);
    assert_eq!(ntp.latest_meas_ago, Some(10.0));
    let refclock = stats.get_source_report(at(10.0), false);
    assert!((refclock.latest_meas_ago.unwrap() - 9.25).abs() < 1e-9);
    assert_eq!(ntp.latest_meas, 1e-3);
    assert!((ntp.latest_meas_err - (0.5 * 3e-3 + 1e-4)).abs() < 1e-15);
    let empty = SourceStats::new(StatsParams::default()).get_source_report(at(0.0), true);
    assert_eq!(empty.latest_meas_ago, None);
}

#[test]
fn regression_figures_are_taken_once_with_the_offset_time() {
    let (mut stats, last) = drifting_source(10, 3);
    let (time, info) = stats.take_regression().unwrap();
    assert_eq!(time, at(last));
    // Counted before the runs test drops samples, as chrony logs it.
    assert_eq!(info.n_samples, stats.n_samples() + info.best_start);
    assert!((info.frequency - 10e-6).abs() < 1e-6);
    assert!(stats.take_regression().is_none());
}
