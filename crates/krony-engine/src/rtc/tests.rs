use super::*;

const T0: i64 = 1_262_304_000;

/// Feeds readings of an RTC that is `fast` seconds ahead of the system
/// clock and gains `ppm`, one every `step` seconds from `start`.
fn feed(t: &mut RtcTracker, start: i64, n: usize, step: i64, fast: f64, ppm: f64) -> UnixTime {
    let mut last = UnixTime::from_secs_nanos(start, 0);
    for i in 0..n {
        let elapsed = i as i64 * step;
        let rtc = start + elapsed;
        // The system time at the RTC's second boundary.
        // Alternating noise, as real readings have, keeps the runs test
        // from dropping samples.
        let noise = if i % 2 == 0 { 1e-6 } else { -1e-6 };
        let err = fast + elapsed as f64 * ppm * 1e-6 + noise;
        let sys = UnixTime::from_secs_nanos(rtc, 0).add_secs(-err);
        t.handle_reading(sys, sys, Some(rtc));
        last = sys;
    }
    last
}

#[test]
fn coefficients_file_format() {
    let c = RtcCoefs::parse("1 1262313790 -9.013456 99.987\n").expect("coefs");
    assert_eq!(
        c,
        RtcCoefs {
            valid: true,
            ref_time: 1_262_313_790,
            offset: -9.013456,
            rate_ppm: 99.987
        }
    );
    assert_eq!(c.to_string(), "1 1262313790 -9.013456 99.987\n");
    assert_eq!(RtcCoefs::parse("1 2 3"), None);
    assert!((c.error_at(1_262_313_790 + 10_000) - (-9.013456 + 0.99987)).abs() < 1e-9);
}

#[test]
fn tracking_finds_offset_and_rate() {
    let mut t = RtcTracker::new(None, 0.0);
    t.start_measurements();
    assert_eq!(t.poll_action(), Some(RtcAction::UpdateInterrupts(true)));
    feed(&mut t, T0, 20, 60, -10.0, 100.0);
    let r = t.report();
    assert_eq!(r.n_samples, 20);
    assert_eq!(r.span_seconds, 19 * 60);
    assert_eq!(r.ref_time, T0 + 19 * 60);
    assert!((r.gain_rate_ppm - 100.0).abs() < 0.01, "{r:?}");
    assert!(
        (r.seconds_fast - (-10.0 + 1140.0 * 100e-6)).abs() < 1e-4,
        "{r:?}"
    );
    // Each reading in normal mode turns interrupts off and arms the timer.
    assert!(t.poll_timeout().is_some());
    assert_eq!(t.parameters().map(|c| c.valid), Some(true));
}

#[test]
fn measurement_period_grows() {
    let mut t = RtcTracker::new(None, 0.0);
    let mut last = None;
    for n in 0..16 {
        let (_, line) = t.handle_reading(
            UnixTime::from_secs_nanos(T0 + n * 100, 0),
            UnixTime::from_secs_nanos(T0 + n * 100, 0),
            Some(T0 + n * 100),
        );
        last = line;
    }
    assert_eq!(last.map(|l| l.period), Some(240));
}

#[test]
fn initial_trim_uses_the_file() {
    // The file says the RTC was 5 s fast at T0 and gains nothing; now it is
    // 2 s fast of the system clock, so the system clock is 3 s fast.
    let file = RtcCoefs {
        valid: true,
        ref_time: T0 - 1000,
        offset: 5.0,
        rate_ppm: 0.0,
    };
    let mut t = RtcTracker::new(Some(file), 0.0);
    t.start_initial();
    let mut trim = None;
    for i in 0..8 {
        let rtc = T0 + i;
        let sys = UnixTime::from_secs_nanos(rtc, 0).add_secs(-2.0);
        if let (ReadingOutcome::InitialTrim(x), _) = t.handle_reading(sys, sys, Some(rtc)) {
            trim = x;
        }
    }
    let trim = trim.expect("trimmed");
    assert!((trim - 3.0).abs() < 1e-6, "{trim}");
    let actions: Vec<_> = std::iter::from_fn(|| t.poll_action()).collect();
    assert!(actions.contains(&RtcAction::InitDone));
    assert_eq!(actions.last(), Some(&RtcAction::UpdateInterrupts(false)));
}

#[test]
fn trim_steps_the_rtc_and_relocks() {
    let mut t = RtcTracker::new(None, 0.0);
    let last = feed(&mut t, T0, 10, 60, -10.0, 0.0);
    while t.poll_action().is_some() {}
    let msg = t.trim(last.add_secs(0.25)).expect("stepped");
    assert_eq!(msg, "RTC wrong by -10.000 seconds (step)");
    assert_eq!(
        t.poll_action(),
        Some(RtcAction::SetTime(last.add_secs(0.25).secs()))
    );
    assert_eq!(t.poll_action(), Some(RtcAction::UpdateInterrupts(true)));
    // Relock: eight readings, then the file is written with the old rate.
    let now = last.secs() + 2;
    feed(&mut t, now, 8, 1, -0.5, 0.0);
    let write = std::iter::from_fn(|| t.poll_action()).find_map(|a| match a {
        RtcAction::WriteFile(c) => Some(c),
        _ => None,
    });
    let c = write.expect("written");
    assert!((c.offset - -0.5).abs() < 1e-3, "{c:?}");
    assert!(c.rate_ppm.abs() < 0.01, "{c:?}");
    // A small offset needs no trim.
    assert_eq!(t.trim(UnixTime::from_secs_nanos(now + 10, 0)), None);
}

#[test]
fn clock_changes_move_samples_and_coefficients() {
    let mut t = RtcTracker::new(None, 0.0);
    let last = feed(&mut t, T0, 5, 60, 1.0, 0.0);
    let before = t.report().seconds_fast;
    t.follow(&ClockChange {
        raw: last,
        cooked: last,
        dfreq: 0.0,
        doffset: 0.5,
        kind: ChangeKind::Step,
    });
    assert!((t.report().seconds_fast - (before + 0.5)).abs() < 1e-9);
    // The measurement timer moved back with the clock.
    let timer = t.poll_timeout().expect("timer");
    t.follow(&ClockChange {
        raw: last,
        cooked: last,
        dfreq: 0.0,
        doffset: 100.0,
        kind: ChangeKind::Step,
    });
    assert_eq!(t.poll_timeout(), Some(timer.add_secs(-100.0)));
    t.follow(&ClockChange {
        raw: last,
        cooked: last,
        dfreq: 0.0,
        doffset: 0.0,
        kind: ChangeKind::UnknownStep,
    });
    assert_eq!(t.report().n_samples, 0);
}

#[test]
fn log_line_format() {
    let l = RtcLogLine {
        time: UnixTime::from_secs_nanos(T0, 0),
        rtc_fast: -9.5,
        valid: true,
        est_fast: -9.013,
        slope_ppm: 99.99,
        n_samples: 7,
        n_runs: 4,
        period: 60,
    };
    assert_eq!(
        l.to_string(),
        "2010-01-01 00:00:00      -9.500000 1       -9.013000        99.990   7   4   60"
    );
}
