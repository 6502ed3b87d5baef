use super::*;
use crate::UnixTime;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn sample(t: f64, offset: f64, disp: f64) -> Sample {
    Sample {
        time: UnixTime::from_secs_nanos(1_700_000_000, 0).add_secs(t),
        offset,
        peer_delay: 1e-3,
        peer_dispersion: disp,
        root_delay: 2e-3,
        root_dispersion: disp + 1e-4,
    }
}

fn ntp_filter(len: usize) -> SampleFilter {
    SampleFilter::new(FilterParams::ntp(len, 1e-6))
}

#[test]
fn the_median_is_picked() {
    let mut f = ntp_filter(5);
    for (i, off) in [5e-3, 1e-3, 3e-3, 100e-3, 2e-3].into_iter().enumerate() {
        f.accumulate(sample(i as f64, off, 1e-5)).unwrap();
    }
    let out = f.output().unwrap();
    assert_eq!(out.offset, 3e-3);
    // Only the sample at t = 2 was used.
    assert_eq!(out.time, sample(2.0, 0.0, 0.0).time);
    assert!(f.is_empty());
    assert_eq!(f.last_sample().unwrap().offset, 2e-3);
}

#[test]
fn high_dispersion_samples_are_left_out() {
    let mut f = ntp_filter(8);
    let input = [
        (1e-3, 1e-4),
        (50e-3, 1e-3),
        (2e-3, 1.2e-4),
        (-40e-3, 1e-3),
        (3e-3, 1.4e-4),
        (4e-3, 1.1e-4),
    ];
    for (i, (off, disp)) in input.into_iter().enumerate() {
        f.accumulate(sample(i as f64, off, disp)).unwrap();
    }
    // Four precise samples: the two middle ones (2 and 3 ms) are averaged.
    let out = f.output().unwrap();
    assert!((out.offset - 2.5e-3).abs() < 1e-15);
    assert_eq!(out.time, sample(3.0, 0.0, 0.0).time);
}

#[test]
fn all_samples_are_used_when_few_are_precise() {
    let mut f = ntp_filter(8);
    let input = [
        (1e-3, 1e-4),
        (9e-3, 1e-3),
        (2e-3, 1e-4),
        (8e-3, 1e-3),
        (7e-3, 1e-4),
    ];
    for (i, (off, disp)) in input.into_iter().enumerate() {
        f.accumulate(sample(i as f64, off, disp)).unwrap();
    }
    // Only three are within 1.5× the minimum, so all five count: median 7 ms.
    assert_eq!(f.output().unwrap().offset, 7e-3);
}

#[test]
fn refclock_filter_averages_the_middle_sixty_percent() {
    let mut f = SampleFilter::new(FilterParams::refclock(10, 1.0, 1e-6));
    let offsets = [9.0, 0.0, 8.0, 1.0, 7.0, 2.0, 6.0, 3.0, 5.0, 4.0];
    for (i, off) in offsets.into_iter().enumerate() {
        f.accumulate(sample(i as f64, off * 1e-6, 1e-6)).unwrap();
    }
    // from = ⌊10·0.4/2⌋ = 2: offsets 2..=7 µs remain, mean 4.5 µs.
    let out = f.output().unwrap();
    assert!((out.offset - 4.5e-6).abs() < 1e-15);
}

#[test]
fn bad_samples_are_refused() {
    let mut f = ntp_filter(4);
    f.accumulate(sample(1.0, 0.0, 1e-6)).unwrap();
    assert_eq!(
        f.accumulate(sample(1.0, 0.0, 1e-6)),
        Err(SampleError::NonIncreasingTime)
    );
    assert_eq!(
        f.accumulate(sample(0.5, 0.0, 1e-6)),
        Err(SampleError::NonIncreasingTime)
    );
    assert_eq!(
        f.accumulate(sample(2.0, f64::NAN, 1e-6)),
        Err(SampleError::NonFinite)
    );
    assert_eq!(f.len(), 1);
}

#[test]
fn a_too_large_dispersion_keeps_the_samples() {
    let mut f = SampleFilter::new(FilterParams::refclock(4, 1e-3, 1e-6));
    for (i, off) in [0.0, 1.0, -1.0, 0.5].into_iter().enumerate() {
        f.accumulate(sample(i as f64, off, 1e-6)).unwrap();
    }
    assert!(f.output().is_none());
    assert_eq!(f.len(), 4);
}

#[test]
fn degenerate_filters_do_not_panic() {
    // One sample and zero dispersions.
    let mut f = SampleFilter::new(FilterParams {
        min_samples: 0,
        max_samples: 0,
        max_dispersion: 0.0,
        combine_ratio: f64::NAN,
        precision: 0.0,
    });
    assert!(f.output().is_none());
    f.accumulate(sample(0.0, 1e-3, 0.0)).unwrap();
    let out = f.output().unwrap();
    assert_eq!(out.offset, 1e-3);
    assert!(out.peer_dispersion > 0.0);
    let mut f = ntp_filter(6);
    for i in 0..6 {
        f.accumulate(sample(i as f64, 1e-3 * f64::from(i % 2), 0.0))
            .unwrap();
    }
    let out = f.output().unwrap();
    assert!(out.offset.is_finite() && out.peer_dispersion.is_finite());
}

#[test]
fn slewing_moves_held_and_last_samples() {
    let mut f = ntp_filter(4);
    for i in 0..4 {
        f.accumulate(sample(f64::from(i) * 10.0, 1e-3, 1e-6))
            .unwrap();
    }
    let when = sample(40.0, 0.0, 0.0).time;
    // The clock is stepped back by 1 ms: every sample's offset grows by 1 ms
    // (the source is now further ahead) and its time moves back by 1 ms.
    f.slew_samples(when, 0.0, 1e-3);
    assert!((f.last_sample().unwrap().offset - 2e-3).abs() < 1e-15);
    let out = f.output().unwrap();
    assert!((out.offset - 2e-3).abs() < 1e-15);
    // The last sample stays readable and in step with later changes.
    f.slew_samples(when, 1e-6, 0.0);
    // It was taken 10.001 s before the change: 10.001 µs later, that much
    // smaller an offset.
    let last = f.last_sample().unwrap();
    let moved = 10.001e-6;
    assert_eq!(last.time, sample(30.0 - 1e-3 + moved, 0.0, 0.0).time);
    assert!((last.offset - (2e-3 - moved)).abs() < 1e-15);
    f.correct_offset(1e-3);
    assert!((f.last_sample().unwrap().offset - (1e-3 - moved)).abs() < 1e-15);
    f.reset();
    assert!(f.last_sample().is_none());
}

/// chrony's samplefilt unit test, with a seeded generator: random filter
/// settings, random offsets about a mean, the output stays within the
/// samples' bounds and unbiased.
#[test]
fn random_filters_stay_within_bounds() {
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    for _ in 0..40 {
        let max_samples = rng.random_range(1..=20);
        let min_samples = rng.random_range(1..=max_samples);
        let mut f = SampleFilter::new(FilterParams {
            min_samples,
            max_samples,
            max_dispersion: 2.0,
            combine_ratio: rng.random_range(0.0..1.0),
            precision: 1e-6,
        });
        assert_eq!(f.max_samples(), max_samples);
        let (mut sum_err, mut count) = (0.0, 0);
        for _ in 0..30 {
            let mean = rng.random_range(-1e3..1e3);
            let mut t = UnixTime::EPOCH;
            let mut input = sample(0.0, 0.0, 0.0);
            for k in 0..100 {
                t = t.add_secs(rng.random_range(0.1..100.0));
                input = Sample {
                    time: t,
                    offset: mean + rng.random_range(-1.0..1.0),
                    peer_dispersion: rng.random_range(1e-4..2e-4),
                    root_dispersion: rng.random_range(1e-3..2e-3),
                    peer_delay: rng.random_range(1e-2..2e-2),
                    root_delay: rng.random_range(1e-1..2e-1),
                };
                f.accumulate(input).unwrap();
                assert!(f.accumulate(input).is_err());
                assert_eq!(f.len(), (k + 1).min(max_samples));
                assert_eq!(f.last_sample(), Some(&input));
                f.slew_samples(t, 0.0, 0.0);
                if k + 1 < min_samples {
                    assert!(f.output().is_none());
                }
            }
            if rng.random_range(0..10) > 0 {
                let out = f.output().unwrap();
                assert!(f.avg_sample_dispersion() <= 2.0);
                sum_err += out.offset - mean;
                count += 1;
                assert!(out.time <= input.time && out.time >= UnixTime::EPOCH);
                assert!((out.offset - mean).abs() <= 1.0);
                assert!(
                    out.peer_dispersion >= 1e-4 && (out.peer_dispersion <= 2e-4 || max_samples > 1)
                );
                assert!(
                    out.root_dispersion >= 1e-3 && (out.root_dispersion <= 2e-3 || max_samples > 1)
                );
                assert!((1e-2..=2e-2).contains(&out.peer_delay));
                assert!((1e-1..=2e-1).contains(&out.root_delay));
                if max_samples == 1 {
                    assert_eq!(out, input);
                }
            } else {
                f.reset();
                assert!(f.last_sample().is_none());
            }
            assert_eq!(f.len(), 0);
        }
        assert!((sum_err / f64::from(count)).abs() < 0.3);
    }
}
