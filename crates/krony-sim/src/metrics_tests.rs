use super::*;

fn run(config: &MetricsConfig, offsets: &[f64]) -> ClockSummary {
    let mut m = ClockMetrics::new(config);
    for (i, &off) in offsets.iter().enumerate() {
        m.record(i as f64, off, 0.0);
    }
    m.summary()
}

fn unsmoothed() -> MetricsConfig {
    MetricsConfig {
        stats_after: None,
        ..MetricsConfig::default()
    }
}

#[test]
fn time_to_sync_is_the_sample_after_the_last_unsynchronised_one() {
    let s = run(&unsmoothed(), &[0.1, 0.01, 5e-4, -2e-3, 1e-4, 1e-4]);
    assert_eq!(s.time_to_sync, 4);
    assert!(s.synchronised_at_end);
    assert_eq!(run(&unsmoothed(), &[1e-4, 2e-4]).time_to_sync, 0);
    let late = run(&unsmoothed(), &[1e-4, 2e-3]);
    assert_eq!(late.time_to_sync, 2);
    assert!(!late.synchronised_at_end);
}

#[test]
fn frequency_limit_also_marks_unsynchronised() {
    let mut m = ClockMetrics::new(&unsmoothed());
    m.record(0.0, 0.0, 6e-4);
    m.record(1.0, 0.0, 1e-5);
    assert_eq!(m.summary().time_to_sync, 1);
}

#[test]
fn smoothing_follows_find_sync() {
    // |offset| 2 ms for 5 s, then 0: the average decays by 0.95 a second and
    // first falls to 1 ms after 14 updates (0.95^13 > 0.5 > 0.95^14).
    let config = MetricsConfig {
        sync_smoothing: 0.05,
        ..unsmoothed()
    };
    let mut offsets = vec![2e-3; 5];
    offsets.extend([0.0; 30]);
    assert_eq!(run(&config, &offsets).time_to_sync, 18);
}

#[test]
fn statistics_cover_samples_strictly_after_the_reset() {
    let config = MetricsConfig {
        stats_after: Some(210.0),
        keep_series: true,
        ..MetricsConfig::default()
    };
    let mut offsets = vec![1.0; 211];
    offsets.extend([3e-4, -4e-4]);
    let s = run(&config, &offsets);
    let stats = s.stats.expect("two samples after 210 s");
    assert_eq!(stats.samples, 2);
    assert!((stats.rms_offset - (12.5e-8f64).sqrt()).abs() < 1e-15);
    assert_eq!(stats.max_abs_offset, 4e-4);
    assert!((stats.mean_offset + 0.5e-4).abs() < 1e-15);
    assert!((stats.mean_abs_offset - 3.5e-4).abs() < 1e-15);
    assert_eq!(s.series.map(|v| v.len()), Some(213));
    assert_eq!(run(&config, &[0.0; 100]).stats, None);
}

#[test]
fn packet_intervals_and_delays() {
    let mut p = PacketStats::default();
    assert_eq!(p.mean_out_interval(), f64::INFINITY);
    p.record_sent(10.0, Some(3e-4));
    p.record_sent(26.0, None);
    p.record_sent(30.0, Some(4e-4));
    assert_eq!(p.sent, 3);
    assert_eq!(p.mean_out_interval(), 10.0);
    assert_eq!(p.min_out_interval(), 4.0);
    assert!((p.rms_out_delay() - (25e-8f64 / 3.0).sqrt()).abs() < 1e-15);
    p.record_received(11.0, 2e-4);
    assert_eq!(p.rms_in_delay(), 2e-4);
    assert_eq!(p.min_in_interval(), f64::INFINITY);
}

#[test]
fn criteria_pass_and_fail_like_check_sync() {
    let criteria = SyncCriteria::default();
    let config = criteria.metrics_config();
    let mut m = ClockMetrics::new(&config);
    for i in 0..1000 {
        let off = if i < 150 { 0.01 } else { 1e-4 };
        m.record(f64::from(i), off, 1e-6);
    }
    assert_eq!(criteria.check(&m.summary()), Vec::<String>::new());
    m.record(1000.0, 2e-3, 1e-6);
    let failures = criteria.check(&m.summary());
    assert_eq!(failures.len(), 2, "{failures:?}"); // sync time and max offset
    let mut early = ClockMetrics::new(&config);
    for i in 0..300 {
        early.record(f64::from(i), 1e-4, 1e-6);
    }
    assert_eq!(criteria.check(&early.summary()).len(), 1);
}
