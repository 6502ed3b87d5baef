use super::*;
use crate::discipline::config::{LeapMode, LocalConfig, MaxChange};

const T0: i64 = 1_700_000_000;

fn at(secs: f64) -> UnixTime {
    UnixTime::from_secs_nanos(T0, 0).add_secs(secs)
}

fn reference(cfg: DisciplineConfig) -> Reference {
    let mut r = Reference::new(cfg, at(0.0), 0.0);
    drain(&mut r);
    r
}

fn drain(r: &mut Reference) -> (Vec<ClockAction>, Vec<DisciplineEvent>) {
    let actions = std::iter::from_fn(|| r.poll_action()).collect();
    while r.poll_notice().is_some() {}
    let events = std::iter::from_fn(|| r.poll_event()).collect();
    (actions, events)
}

/// Lets the clock model run to raw time `until`, ending slews on time.
fn advance(r: &mut Reference, until: f64) {
    while let Some(t) = r.poll_timeout().filter(|t| *t <= at(until)) {
        r.handle_timeout(t);
    }
}

fn update(now: f64, offset: f64) -> SyncUpdate {
    SyncUpdate {
        stratum: 1,
        leap: LeapStatus::Normal,
        combined_sources: 1,
        ref_id: 0xC000_0201,
        ref_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))),
        ref_time: at(now),
        offset,
        offset_sd: 1e-4,
        frequency: 0.0,
        frequency_sd: 1e-8,
        skew: 1e-7,
        root_delay: 0.01,
        root_dispersion: 0.001,
    }
}

fn steps(actions: &[ClockAction]) -> Vec<f64> {
    actions
        .iter()
        .filter_map(|a| match a {
            ClockAction::Step { offset } => Some(*offset),
            _ => None,
        })
        .collect()
}

#[test]
fn frequency_gain_weights_by_skew() {
    let mut r = reference(DisciplineConfig::default());
    r.skew = 1e-6;
    // Measured skew equal to ours: gain 3/(3+1) = 0.75.
    let (f, s, resid) = r.clock_estimates(false, 4e-6, 1e-6);
    assert!((f - 3e-6).abs() < 1e-15, "{f}");
    assert!((resid - 1e-6).abs() < 1e-15);
    // skew = 1e-6 + 0 + sqrt(9e-12·0.25 + 1e-12·0.75) = 1e-6 + sqrt(3)e-6
    assert!((s - (1e-6 + 3f64.sqrt() * 1e-6)).abs() < 1e-15, "{s}");
    // A measurement 10× less certain barely moves it: 3/(3+100).
    let (f, _, _) = r.clock_estimates(false, 1e-6, 1e-5);
    assert!((f - 1e-6 * 3.0 / 103.0).abs() < 1e-18);
    // A manual reference is taken whole.
    let (f, _, _) = r.clock_estimates(true, 1e-6, 1e-2);
    assert_eq!(f, 1e-6);
}

#[test]
fn maxupdateskew_skips_the_frequency_update() {
    let mut r = reference(DisciplineConfig::default());
    let mut u = update(10.0, 0.0);
    u.frequency = 50e-6;
    u.skew = 2e-3; // 2000 ppm > maxupdateskew 1000 ppm
    r.set_reference(at(10.0), &u);
    assert_eq!(r.clock().frequency_ppm(), 0.0);
    let t = r.tracking_report(at(10.0));
    assert!((t.residual_freq_ppm - 50.0).abs() < 1e-9);
    // Gain 0 keeps the starting skew of 1 (no driftfile) with no extra
    // skew: `tracking` shows 1000000.000 ppm, as chronyd 4.3 does after such
    // an update (checked with `maxupdateskew 1`), and the root dispersion
    // grows by about 1 s per second since the reference time.
    assert_eq!(t.skew_ppm, 1e6);
    let later = r.tracking_report(at(10.5));
    assert!(later.root_dispersion - t.root_dispersion > 0.5, "{later:?}");
    // Below the limit the first update (our skew is 1 = "unknown") takes it all.
    u.skew = 1e-6;
    r.set_reference(at(20.0), &u);
    assert!((r.clock().frequency_ppm() - 50.0).abs() < 1e-6);
}

#[test]
fn makestep_steps_within_the_limit_then_slews() {
    let cfg = DisciplineConfig {
        make_step: Some(MakeStep {
            threshold: 1.0,
            limit: 2,
        }),
        ..Default::default()
    };
    let mut r = reference(cfg);
    // 0.5 s is below the threshold: slewed.
    r.set_reference(at(10.0), &update(10.0, 0.5));
    let (a, _) = drain(&mut r);
    assert!(steps(&a).is_empty());
    // 5 s, with 0.1 s of the slew still pending: the step removes both.
    advance(&mut r, 15.0);
    let pending = -r.clock().offset_correction(at(15.0)).0;
    assert!((pending - (0.5 - 5.0 / 11.0)).abs() < 1e-9, "{pending}");
    r.set_reference(at(15.0), &update(15.0, 5.0));
    let (a, e) = drain(&mut r);
    let s = steps(&a);
    assert_eq!(s.len(), 1);
    assert!((s[0] + 5.0 + pending).abs() < 1e-9, "step {s:?}");
    assert!(
        e.iter()
            .any(|e| matches!(e, DisciplineEvent::ClockStepped { .. }))
    );
    assert!(
        e.iter()
            .any(|e| matches!(e, DisciplineEvent::ClockWrong { .. }))
    );
    assert!(
        r.clock()
            .offset_correction(at(15.0).add_secs(-5.0 - pending))
            .0
            .abs()
            < 1e-9
    );
    // The limit (2 updates) is used up: 5 s is now slewed.
    r.set_reference(at(30.0), &update(30.0, 5.0));
    let (a, e) = drain(&mut r);
    assert!(steps(&a).is_empty());
    assert!(
        !e.iter()
            .any(|e| matches!(e, DisciplineEvent::ClockStepped { .. }))
    );
}

#[test]
fn makestep_negative_limit_always_steps_and_restart_disables_positive() {
    let mut cfg = DisciplineConfig {
        make_step: Some(MakeStep {
            threshold: 0.1,
            limit: -1,
        }),
        ..Default::default()
    };
    let mut r = reference(cfg.clone());
    for i in 1..=5 {
        let t = f64::from(i) * 64.0;
        r.set_reference(at(t), &update(t, 0.2));
        let (a, _) = drain(&mut r);
        assert_eq!(steps(&a).len(), 1, "update {i}");
    }
    cfg.make_step = Some(MakeStep {
        threshold: 0.1,
        limit: 3,
    });
    cfg.restarted = true;
    let mut r = reference(cfg);
    r.set_reference(at(10.0), &update(10.0, 0.2));
    assert!(steps(&drain(&mut r).0).is_empty());
}

#[test]
fn maxchange_ignores_then_exits() {
    let cfg = DisciplineConfig {
        max_change: Some(MaxChange {
            offset: 1.0,
            start: 1,
            ignore: 1,
        }),
        ..Default::default()
    };
    let mut r = reference(cfg);
    // The first update is let through whatever it is.
    r.set_reference(at(10.0), &update(10.0, 2.0));
    assert!(r.is_synchronised());
    let (_, e) = drain(&mut r);
    assert!(
        !e.iter()
            .any(|e| matches!(e, DisciplineEvent::MaxChangeExceeded { .. }))
    );
    r.set_reference(at(20.0), &update(20.0, 2.0));
    let (_, e) = drain(&mut r);
    assert!(e.contains(&DisciplineEvent::MaxChangeExceeded {
        offset: 2.0,
        max: 1.0,
        exiting: false
    }));
    r.set_reference(at(30.0), &update(30.0, -3.0));
    let (_, e) = drain(&mut r);
    assert!(e.contains(&DisciplineEvent::MaxChangeExceeded {
        offset: -3.0,
        max: 1.0,
        exiting: true
    }));
    assert!(e.contains(&DisciplineEvent::ModeEnded { success: false }));
    assert_eq!(r.mode(), RefMode::Ignore);
}

#[test]
fn synchronised_tracking_and_server_fields() {
    let mut r = reference(DisciplineConfig::default());
    let mut u = update(100.0, 0.001);
    u.frequency = 2e-6;
    u.skew = 1e-8;
    r.set_reference(at(100.0), &u);
    let (a, _) = drain(&mut r);
    // The kernel's error estimates include the 1 ms still to slew out.
    let sync = a.iter().find_map(|x| match x {
        ClockAction::SetSyncStatus {
            synchronised,
            est_error,
            max_error,
        } => Some((*synchronised, *est_error, *max_error)),
        _ => None,
    });
    let (synced, est, max) = sync.expect("sync status set");
    assert!(synced);
    assert!((est - 0.001).abs() < 1e-12, "{est}");
    assert!((max - (0.005 + 0.001 + 0.001)).abs() < 1e-12, "{max}");
    let t = r.tracking_report(at(100.0));
    assert_eq!(t.ref_id, 0xC000_0201);
    assert_eq!(t.stratum, 2);
    assert_eq!(t.leap, LeapStatus::Normal);
    // The reference time moved with the 1 ms correction, as chrony's does.
    assert_eq!(t.ref_time, at(100.0 - 0.001));
    assert_eq!(t.last_offset, 0.001);
    assert!((t.rms_offset - 0.001).abs() < 1e-12);
    assert!((t.frequency_ppm - 2.0).abs() < 1e-6);
    assert!((t.current_correction + 0.001).abs() < 1e-9);
    assert_eq!(t.root_delay, 0.01);
    assert!((t.root_dispersion - 0.001).abs() < 1e-12);
    // Root dispersion grows by skew + residual + 1 ppm per second.
    advance(&mut r, 1100.0);
    let p = r.server_params(at(1100.0));
    let growth = r.skew() + r.residual_freq.abs() + 1e-6;
    assert!(
        (p.root_dispersion - (0.001 + 1000.0 * growth)).abs() < 1e-8,
        "{p:?}"
    );
    assert_eq!(p.stratum, 2);
    assert!(p.synchronised);
}

#[test]
fn unsynchronised_server_and_tracking_fields() {
    let mut r = reference(DisciplineConfig::default());
    let p = r.server_params(at(5.0));
    assert_eq!(
        p,
        ServerParams {
            synchronised: false,
            leap: LeapStatus::Unsynchronised,
            stratum: 16,
            ref_id: 0,
            ref_time: UnixTime::EPOCH,
            root_delay: 1.0,
            root_dispersion: 1.0,
        }
    );
    let t = r.tracking_report(at(5.0));
    assert_eq!((t.ref_id, t.stratum, t.ref_ip), (0, 0, None));
    assert_eq!(t.leap, LeapStatus::Unsynchronised);
}

#[test]
fn local_stratum_when_unsynchronised() {
    let cfg = DisciplineConfig {
        local: Some(LocalConfig::new(10)),
        ..Default::default()
    };
    let mut r = reference(cfg);
    let t = r.tracking_report(at(5.0));
    assert_eq!(t.ref_id, 0x7F7F_0101);
    assert_eq!(t.stratum, 10);
    assert_eq!(t.ref_ip, None);
    assert_eq!(t.leap, LeapStatus::Normal);
    assert_eq!(t.root_delay, 0.0);
    assert_eq!(t.root_dispersion, 0.0);
    assert_eq!(t.ref_time, at(4.0));
    let p = r.server_params(at(30.0));
    assert_eq!(
        (p.stratum, p.ref_id, p.leap),
        (10, REFID_LOCAL, LeapStatus::Normal)
    );
    assert!(!p.synchronised);
    assert_eq!(p.ref_time, at(4.0));
    assert_eq!(r.server_params(at(70.0)).ref_time, at(69.0));
    // Synchronised with a good reference: the real one is served.
    r.set_reference(at(80.0), &update(80.0, 0.0));
    assert_eq!(r.server_params(at(80.0)).stratum, 2);
    assert_eq!(r.orphan_stratum(), 16);
}

#[test]
fn orphan_stratum_is_reported() {
    let mut cfg = DisciplineConfig::default();
    let mut local = LocalConfig::new(5);
    local.orphan = true;
    cfg.local = Some(local);
    let r = reference(cfg);
    assert_eq!(r.orphan_stratum(), 5);
}

#[test]
fn loss_of_sync_is_reported_to_the_kernel() {
    let mut r = reference(DisciplineConfig::default());
    r.set_reference(at(10.0), &update(10.0, 0.0));
    drain(&mut r);
    r.set_unsynchronised(at(20.0));
    let (a, _) = drain(&mut r);
    assert!(a.contains(&ClockAction::SetSyncStatus {
        synchronised: false,
        est_error: 0.0,
        max_error: 0.0
    }));
    assert!(!r.is_synchronised());
    assert_eq!(r.server_params(at(21.0)).stratum, 16);
}

#[test]
fn driftfile_values_and_write_events() {
    let cfg = DisciplineConfig {
        driftfile_interval: Some(100.0),
        ..Default::default()
    };
    let mut r = reference(cfg);
    r.initial_frequency(at(0.0), -12.5, 0.5);
    assert_eq!(r.driftfile_values(), (-12.5, 0.5));
    let (a, _) = drain(&mut r);
    assert_eq!(
        a,
        vec![ClockAction::SetFrequency {
            correction_ppm: 12.5
        }]
    );
    let mut writes = 0;
    for i in 1..=5 {
        let t = f64::from(i) * 64.0;
        r.set_reference(at(t), &update(t, 0.0));
        let (_, e) = drain(&mut r);
        writes += e
            .iter()
            .filter(|e| matches!(e, DisciplineEvent::WriteDriftfile { .. }))
            .count();
    }
    // 4 intervals of 64 s accumulate 256 s: written at 128 s and 256 s.
    assert_eq!(writes, 2);
}

#[test]
fn leap_status_flows_to_the_kernel_and_server() {
    let cfg = DisciplineConfig {
        leap_mode: LeapMode::System,
        ..Default::default()
    };
    let noon = UnixTime::from_secs_nanos(1_483_185_600, 0);
    let mut r = Reference::new(cfg, noon, 0.0);
    drain(&mut r);
    let mut u = update(0.0, 0.0);
    u.ref_time = noon;
    u.leap = LeapStatus::InsertSecond;
    r.set_reference(noon, &u);
    let (a, _) = drain(&mut r);
    assert!(a.contains(&ClockAction::SetLeap {
        leap: LeapStatus::InsertSecond,
        tai_offset: 0,
    }));
    assert_eq!(r.server_params(noon).leap, LeapStatus::InsertSecond);
    let midnight = UnixTime::from_secs_nanos(1_483_228_800, 0);
    assert_eq!(r.leap.poll_timeout(), Some(midnight.add_secs(-0.5)));
    assert!(r.is_near_leap(midnight.add_secs(-2.0)));
    assert!(!r.is_near_leap(noon));
    assert!(r.is_sample_near_leap(noon, midnight, 0.0));
    // During the leap the server says "unsynchronised".
    r.handle_timeout(midnight.add_secs(-0.5));
    assert_eq!(r.server_params(midnight).leap, LeapStatus::Unsynchronised);
    r.handle_timeout(midnight.add_secs(1.5));
    assert_eq!(
        r.server_params(midnight.add_secs(2.0)).leap,
        LeapStatus::Normal
    );
    let (a, _) = drain(&mut r);
    assert!(a.contains(&ClockAction::SetLeap {
        leap: LeapStatus::Normal,
        tai_offset: 0,
    }));
}

#[test]
fn special_modes_end_after_one_update() {
    let mut cfg = DisciplineConfig {
        mode: RefMode::UpdateOnce,
        ..Default::default()
    };
    let mut r = reference(cfg.clone());
    r.set_reference(at(1.0), &update(1.0, 0.25));
    let (a, e) = drain(&mut r);
    assert_eq!(steps(&a), vec![-0.25]);
    assert!(e.contains(&DisciplineEvent::OnceResult {
        offset: 0.25,
        step: true
    }));
    assert!(e.contains(&DisciplineEvent::ModeEnded { success: true }));

    cfg.mode = RefMode::InitStepSlew { threshold: 1.0 };
    let mut r = reference(cfg.clone());
    assert_eq!(r.mode(), cfg.mode);
    r.set_reference(at(1.0), &update(1.0, 0.25));
    let (a, e) = drain(&mut r);
    assert!(steps(&a).is_empty());
    assert!(e.contains(&DisciplineEvent::InitialOffset {
        offset: 0.25,
        step: false
    }));
    assert_eq!(r.mode(), RefMode::Ignore);

    let mut r = reference(cfg);
    r.set_unsynchronised(at(1.0));
    let (_, e) = drain(&mut r);
    assert!(e.contains(&DisciplineEvent::NoSuitableSource { initstepslew: true }));
    assert!(e.contains(&DisciplineEvent::ModeEnded { success: false }));
}

#[test]
fn external_step_drops_sync_and_pending_correction() {
    let mut r = reference(DisciplineConfig::default());
    r.set_reference(at(10.0), &update(10.0, 0.3));
    drain(&mut r);
    assert!(r.is_synchronised());
    r.notify_external_step(at(11.0), 100.0, 0.01);
    assert!(!r.is_synchronised());
    assert_eq!(r.last_ref_update, None);
    assert!(r.clock().offset_correction(at(11.0)).0.abs() < 1e-12);
    let notices: Vec<ClockNotice> = std::iter::from_fn(|| r.poll_notice()).collect();
    assert!(notices.iter().any(|n| matches!(
        n,
        ClockNotice::Changed(c) if c.kind == ChangeKind::UnknownStep && c.doffset == 100.0
    )));
    assert!(notices.contains(&ClockNotice::Dispersion(0.01)));
}

#[test]
fn shutdown_leaves_only_the_frequency_correction() {
    let mut r = reference(DisciplineConfig::default());
    r.initial_frequency(at(0.0), 7.0, 1.0);
    r.set_reference(at(10.0), &update(10.0, 0.5));
    drain(&mut r);
    r.shutdown(at(11.0));
    let (a, _) = drain(&mut r);
    assert_eq!(
        a.last(),
        Some(&ClockAction::SetFrequency {
            correction_ppm: -7.0
        })
    );
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn mailonchange_reports_offsets_above_its_threshold() {
    let cfg = DisciplineConfig {
        mail_change_threshold: Some(0.7),
        ..Default::default()
    };
    let mut r = reference(cfg);
    r.set_reference(at(10.0), &update(10.0, 0.5));
    let (_, e) = drain(&mut r);
    assert!(
        !e.iter()
            .any(|e| matches!(e, DisciplineEvent::MailChange { .. }))
    );
    r.set_reference(at(20.0), &update(20.0, -0.9));
    let (_, e) = drain(&mut r);
    assert!(
        e.iter()
            .any(|e| matches!(e, DisciplineEvent::MailChange { offset } if *offset == -0.9)),
        "{e:?}"
    );
}
