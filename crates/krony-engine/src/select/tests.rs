//! Scenario tests of whole selection rounds.

use super::*;

const T0: i64 = 1_700_000_000;

/// A reachable, synchronised stratum-2 NTP source whose interval is
/// `offset ± distance`, with fresh samples (no extra dispersion).
pub(crate) fn candidate(id: u32, offset: f64, distance: f64) -> Candidate {
    Candidate {
        id: SourceId(id),
        kind: SourceKind::Ntp,
        ref_id: 0x0a00_0000 + id,
        local_ref_id: 0x0a00_0064,
        authenticated: false,
        options: SelectOptions::default(),
        stratum: 2,
        leap: LeapStatus::Normal,
        reach: Reachability {
            register: 0xff,
            size: 8,
            unreachable_run: 0,
        },
        max_unreach: 100_000,
        stats: Some(SourceStats {
            usable: true,
            lo: offset - distance,
            hi: offset + distance,
            root_distance: distance,
            std_dev: 0.0005,
            first_sample_ago: 600.0,
            last_sample_ago: 10.0,
            tracking: TrackingData {
                ref_time: UnixTime::from_secs_nanos(T0, 0),
                offset,
                offset_sd: 0.001,
                frequency: 0.0,
                frequency_sd: 1e-8,
                skew: 1e-8,
                root_delay: distance,
                root_dispersion: distance / 2.0,
            },
        }),
    }
}

fn state_chars(sel: &Selection) -> String {
    sel.sources.iter().map(|s| s.state.as_char()).collect()
}

fn run(cands: &[Candidate], updated: u32) -> (Selector, Selection) {
    let mut selector = Selector::new();
    let sel = selector.select(cands, Some(SourceId(updated)), &SelectConfig::default());
    (selector, sel)
}

#[test]
fn single_good_source_is_selected() {
    let (selector, sel) = run(&[candidate(1, 0.002, 0.01)], 1);
    assert_eq!(sel.selected, Some(SourceId(1)));
    assert_eq!(selector.selected(), Some(SourceId(1)));
    assert_eq!(state_chars(&sel), "*");
    assert_eq!(sel.events, vec![SelectEvent::Selected(SourceId(1))]);
    let r = sel.reference.expect("reference update");
    assert_eq!(
        (r.source, r.stratum, r.combined, r.ref_id),
        (SourceId(1), 2, 1, 0x0a00_0001)
    );
    assert_eq!(r.leap, LeapStatus::Normal);
    assert_eq!(r.tracking.offset, 0.002);
    let rep = sel.sources[0];
    assert_eq!(rep.state.report_state().wire_value(), 0);
    assert_eq!((rep.lo, rep.hi, rep.score), (0.002 - 0.01, 0.012, 1.0));
    assert!(rep.leap_vote);
}

#[test]
fn falseticker_among_four() {
    let cands = [
        candidate(1, 0.001, 0.010),
        candidate(2, 0.003, 0.012),
        candidate(3, -0.002, 0.008),
        candidate(4, 0.100, 0.010),
    ];
    let (_, sel) = run(&cands, 3);
    assert_eq!(state_chars(&sel), "++*x");
    assert_eq!(sel.selected, Some(SourceId(3)));
    assert!(sel.events.contains(&SelectEvent::Falseticker(SourceId(4))));
    assert_eq!(sel.reference.map(|r| r.combined), Some(3));
    assert_eq!(
        sel.sources[3].state.report_state(),
        ReportState::Falseticker
    );
    assert!(!sel.sources[3].leap_vote);
}

#[test]
fn two_disagreeing_sources_have_no_majority() {
    let cands = [candidate(1, 0.0, 0.01), candidate(2, 0.5, 0.01)];
    let mut selector = Selector::new();
    let cfg = SelectConfig::default();
    let sel = selector.select(&cands, Some(SourceId(1)), &cfg);
    assert_eq!(state_chars(&sel), "xx");
    assert_eq!(sel.selected, None);
    assert_eq!(
        sel.events,
        vec![SelectEvent::NoMajority {
            agreeing: 1,
            total: 2,
            trusted: false
        }]
    );
    // Reported once only.
    let sel = selector.select(&cands, Some(SourceId(2)), &cfg);
    assert!(sel.events.is_empty());
}

#[test]
fn losing_majority_unsynchronises() {
    let mut selector = Selector::new();
    let cfg = SelectConfig::default();
    let agree = [candidate(1, 0.0, 0.01), candidate(2, 0.005, 0.01)];
    assert_eq!(
        selector.select(&agree, Some(SourceId(1)), &cfg).selected,
        Some(SourceId(1))
    );
    let apart = [candidate(1, 0.0, 0.01), candidate(2, 0.5, 0.01)];
    let sel = selector.select(&apart, Some(SourceId(2)), &cfg);
    assert_eq!(sel.selected, None);
    assert!(sel.events.contains(&SelectEvent::Unsynchronise));
    assert!(sel.reference.is_none());
}

#[test]
fn noselect_source_is_never_selected() {
    let mut quiet = candidate(1, 0.0, 0.001);
    quiet.options.noselect = true;
    let (_, sel) = run(&[quiet, candidate(2, 0.0, 0.01)], 2);
    assert_eq!(state_chars(&sel), "N*");
    assert_eq!(sel.sources[0].effective.letters(), "N----");
    // Alone it gives nothing to select, and at start nothing is logged.
    let (_, sel) = run(&[quiet], 1);
    assert_eq!((state_chars(&sel), sel.selected), ("N".to_string(), None));
    assert!(sel.events.is_empty());
}

#[test]
fn prefer_narrows_the_set() {
    let mut preferred = candidate(2, 0.0, 0.02);
    preferred.options.prefer = true;
    let (_, sel) = run(&[candidate(1, 0.0, 0.01), preferred], 2);
    assert_eq!(state_chars(&sel), "P*");
    assert_eq!(sel.reference.map(|r| r.combined), Some(1));
    assert_eq!(sel.sources[0].state.report_state().as_char(), '-');
}

#[test]
fn require_waits_for_the_required_source() {
    let mut required = candidate(1, 0.0, 5.0);
    required.options.require = true;
    let (_, sel) = run(&[required, candidate(2, 0.0, 0.01)], 2);
    assert_eq!(state_chars(&sel), "dW");
    assert_eq!(sel.selected, None);
    // Full reachability registers allow the first failure to be logged.
    assert_eq!(
        sel.events,
        vec![SelectEvent::NotEnoughSources(WaitReason::NoRequired)]
    );
    let good_required = Candidate {
        stats: candidate(1, 0.0, 0.02).stats,
        ..required
    };
    let (_, sel) = run(&[good_required, candidate(2, 0.0, 0.01)], 2);
    assert_eq!(state_chars(&sel), "+*");
}

#[test]
fn trusted_source_wins_and_others_must_fit_inside_it() {
    let mut trusted = candidate(1, 0.01, 0.02);
    trusted.options.trust = true;
    // Agrees with the trusted source but reaches beyond its interval.
    let wide = candidate(2, 0.02, 0.02);
    let far = candidate(3, 0.3, 0.01);
    let (_, sel) = run(&[trusted, wide, far], 1);
    assert_eq!(state_chars(&sel), "*Tx");
    // Two against one: the trusted source still wins.
    let (_, sel) = run(
        &[trusted, candidate(2, 0.3, 0.01), candidate(3, 0.3, 0.01)],
        1,
    );
    assert_eq!(state_chars(&sel), "*xx");
    assert!(sel.sources[1..].iter().all(|s| !s.leap_vote));
}

#[test]
fn minsources_holds_off_the_update() {
    let cfg = SelectConfig {
        min_sources: 2,
        ..SelectConfig::default()
    };
    let mut selector = Selector::new();
    let sel = selector.select(&[candidate(1, 0.0, 0.01)], Some(SourceId(1)), &cfg);
    assert_eq!(state_chars(&sel), "W");
    assert_eq!(
        sel.events,
        vec![SelectEvent::NotEnoughSources(WaitReason::NotEnough)]
    );
    let sel = selector.select(
        &[candidate(1, 0.0, 0.01), candidate(2, 0.0, 0.02)],
        Some(SourceId(1)),
        &cfg,
    );
    assert_eq!(state_chars(&sel), "*+");
}

#[test]
fn maxdistance_is_reported_after_repeated_updates() {
    let cands = [candidate(1, 0.0, 3.5), candidate(2, 0.0, 0.01)];
    let mut selector = Selector::new();
    let cfg = SelectConfig::default();
    let mut all = Vec::new();
    for _ in 0..4 {
        let sel = selector.select(&cands, Some(SourceId(1)), &cfg);
        assert_eq!(sel.sources[0].state, SelectState::BadDistance);
        all.push(sel.events);
    }
    let text = SelectEvent::DistanceTooLarge {
        source: SourceId(1),
        max_distance: 3.0,
    };
    assert!(all[..3].iter().all(|e| !e.contains(&text)));
    assert!(all[3].contains(&text));
    assert!(all[3].contains(&SelectEvent::BadSource(SourceId(1))));
}

#[test]
fn maxjitter_excludes_jittery_sources() {
    let mut jittery = candidate(1, 0.0, 0.01);
    if let Some(s) = jittery.stats.as_mut() {
        s.std_dev = 1.5;
    }
    let (_, sel) = run(&[jittery, candidate(2, 0.0, 0.02)], 2);
    assert_eq!(state_chars(&sel), "~*");
    assert_eq!(sel.sources[0].state.report_state().wire_value(), 3);
}

#[test]
fn stale_and_unsynchronised_and_bad_stratum() {
    let mut stale = candidate(1, 0.0, 0.01);
    stale.reach.register = 0;
    if let Some(s) = stale.stats.as_mut() {
        // Newest sample older than the oldest of the reachable source.
        s.last_sample_ago = 700.0;
        s.first_sample_ago = 2000.0;
    }
    let mut unsync = candidate(3, 0.0, 0.01);
    unsync.leap = LeapStatus::Unsynchronised;
    let mut deep = candidate(4, 0.0, 0.01);
    deep.stratum = 16;
    let (_, sel) = run(&[stale, candidate(2, 0.0, 0.02), unsync, deep], 2);
    assert_eq!(state_chars(&sel), "S*sr");
    // Too long unreachable counts as stale too.
    stale.stats = candidate(1, 0.0, 0.01).stats;
    stale.reach.unreachable_run = 5;
    stale.max_unreach = 4;
    let (_, sel) = run(&[stale, candidate(2, 0.0, 0.02)], 2);
    assert_eq!(state_chars(&sel), "S*");
}

#[test]
fn old_samples_add_dispersion() {
    let mut old = candidate(1, 0.0, 0.01);
    if let Some(s) = old.stats.as_mut() {
        s.first_sample_ago = 1000.0;
        s.last_sample_ago = 900.0;
    }
    let (_, sel) = run(&[old], 1);
    // 1e-6 * (2 * 900 - 1000) = 0.0008 more on each side.
    let rep = sel.sources[0];
    assert!((rep.root_distance - 0.0108).abs() < 1e-12);
    assert!((rep.hi - 0.0108).abs() < 1e-12);
}

#[test]
fn stratum_weight_favours_lower_stratum() {
    let mut low = candidate(1, 0.0, 0.0100);
    low.stratum = 1;
    let mut high = candidate(2, 0.0, 0.0095);
    high.stratum = 3;
    // 0.0100 + 1e-4 against 0.0095 + 2 * 1e-3 + 1e-4
    let (_, sel) = run(&[low, high], 1);
    assert_eq!(sel.selected, Some(SourceId(1)));
    let cfg = SelectConfig {
        stratum_weight: 0.0,
        ..SelectConfig::default()
    };
    let sel = Selector::new().select(&[low, high], Some(SourceId(2)), &cfg);
    assert_eq!(sel.selected, Some(SourceId(2)));
}

#[test]
fn a_better_source_takes_over_only_when_its_score_passes_ten() {
    let cfg = SelectConfig::default();
    let mut selector = Selector::new();
    let sel = selector.select(
        &[candidate(1, 0.0, 0.010), candidate(2, 0.0, 0.011)],
        Some(SourceId(1)),
        &cfg,
    );
    assert_eq!(sel.selected, Some(SourceId(1)));
    let better = [candidate(1, 0.0, 0.010), candidate(2, 0.0, 0.009)];
    // Each update of source 2 multiplies its score by 0.010 / 0.0091.
    let ratio: f64 = 0.010 / 0.0091;
    let needed = (10f64.ln() / ratio.ln()).floor() as usize + 1;
    assert_eq!(needed, 25);
    for n in 1..needed {
        let sel = selector.select(&better, Some(SourceId(2)), &cfg);
        assert_eq!(sel.selected, Some(SourceId(1)), "switched after {n}");
        assert!((sel.sources[1].score - ratio.powi(n as i32)).abs() < 1e-9);
    }
    let sel = selector.select(&better, Some(SourceId(2)), &cfg);
    assert_eq!(sel.selected, Some(SourceId(2)));
    assert_eq!(sel.events, vec![SelectEvent::Selected(SourceId(2))]);
    assert_eq!(sel.sources[1].score, 1.0);
}

#[test]
fn combining_weights_and_distant_sources() {
    let cands = [
        candidate(1, 0.002, 0.010),
        candidate(2, 0.004, 0.020),
        candidate(3, 0.000, 0.040),
    ];
    let (_, sel) = run(&cands, 1);
    assert_eq!(state_chars(&sel), "*+D");
    let r = sel.reference.expect("reference update");
    assert_eq!(r.combined, 2);
    // Weights 1/0.010 and 1/0.020.
    let expect = (100.0 * 0.002 + 50.0 * 0.004) / 150.0;
    assert!((r.tracking.offset - expect).abs() < 1e-15);
    // Equal frequency deviations: the frequency SD shrinks by sqrt(2).
    assert!((r.tracking.frequency_sd - 1e-8 / 2f64.sqrt()).abs() < 1e-20);
    // The peer's own delay and dispersion are kept.
    assert_eq!(
        (r.tracking.root_delay, r.tracking.root_dispersion),
        (0.010, 0.005)
    );
}

#[test]
fn leap_second_majority_vote() {
    let mut cands = [
        candidate(1, 0.0, 0.01),
        candidate(2, 0.0, 0.01),
        candidate(3, 0.0, 0.01),
    ];
    cands[0].leap = LeapStatus::InsertSecond;
    let (selector, sel) = run(&cands, 1);
    assert_eq!(sel.reference.map(|r| r.leap), Some(LeapStatus::Normal));
    cands[1].leap = LeapStatus::InsertSecond;
    assert_eq!(selector.leap_status(&cands), LeapStatus::InsertSecond);
    let (_, sel) = run(&cands, 1);
    assert_eq!(
        sel.reference.map(|r| r.leap),
        Some(LeapStatus::InsertSecond)
    );
}

#[test]
fn orphan_with_lower_refid_is_followed() {
    let cfg = SelectConfig {
        orphan_stratum: Some(5),
        ..SelectConfig::default()
    };
    let mut orphan = candidate(1, 0.0, 0.01);
    orphan.stratum = 5;
    let mut follower = candidate(2, 0.0, 0.01);
    follower.stratum = 6;
    let sel = Selector::new().select(&[orphan, follower], Some(SourceId(1)), &cfg);
    assert_eq!(state_chars(&sel), "*O");
    // Our refid is lower: we are the one serving local time.
    orphan.local_ref_id = 0x0a00_0000;
    let sel = Selector::new().select(&[orphan, follower], Some(SourceId(1)), &cfg);
    assert_eq!((state_chars(&sel), sel.selected), ("OO".to_string(), None));
    orphan.local_ref_id = 0;
    let sel = Selector::new().select(&[orphan], Some(SourceId(1)), &cfg);
    assert_eq!(sel.events[0], SelectEvent::UnknownLocalRefid);
    // A real source below the orphan stratum is preferred.
    let sel = Selector::new().select(&[orphan, candidate(3, 0.0, 0.02)], Some(SourceId(3)), &cfg);
    assert_eq!(state_chars(&sel), "O*");
}

#[test]
fn waits_for_stats_and_for_update() {
    let mut young = candidate(1, 0.0, 0.01);
    young.reach = Reachability {
        register: 0b11,
        size: 2,
        unreachable_run: 0,
    };
    let mut younger = candidate(2, 0.0, 0.01);
    younger.reach = Reachability {
        register: 0b1,
        size: 2,
        unreachable_run: 0,
    };
    younger.stats = None;
    let (_, sel) = run(&[young, younger], 1);
    assert_eq!(state_chars(&sel), "wM");
    // Without a new sample of the best source, selection waits for one.
    let sel = Selector::new().select(&[candidate(1, 0.0, 0.01)], None, &SelectConfig::default());
    assert_eq!((state_chars(&sel), sel.selected), ("U".to_string(), None));
}

#[test]
fn peer_without_new_sample_keeps_states_without_update() {
    let cands = [candidate(1, 0.0, 0.010), candidate(2, 0.0, 0.012)];
    let (mut selector, _) = run(&cands, 1);
    let sel = selector.select(&cands, Some(SourceId(2)), &SelectConfig::default());
    assert_eq!(state_chars(&sel), "*+");
    assert!(sel.reference.is_none());
    assert!(sel.events.is_empty());
}

#[test]
fn losing_every_source_is_logged_once() {
    let (mut selector, _) = run(&[candidate(1, 0.0, 0.01)], 1);
    let cfg = SelectConfig::default();
    let sel = selector.select(&[], None, &cfg);
    assert_eq!(sel.events, vec![SelectEvent::NoSources]);
    assert_eq!(sel.selected, None);
    assert!(selector.select(&[], None, &cfg).events.is_empty());
}

#[test]
fn report_state_mapping() {
    let chars: String = SelectState::ALL.iter().map(|s| s.as_char()).collect();
    assert_eq!(chars, "NMsrd~wSOTxWPUD+*");
    let reports: String = SelectState::ALL
        .iter()
        .map(|s| s.report_state().as_char())
        .collect();
    assert_eq!(reports, "?????~????x----+*");
    for v in 0..6 {
        assert_eq!(
            ReportState::from_wire(v).map(ReportState::wire_value),
            Some(v)
        );
    }
    assert_eq!(ReportState::from_wire(6), None);
    for (i, s) in SelectState::ALL.iter().enumerate() {
        assert_eq!(s.index(), i);
    }
}

/// A small deterministic generator (xorshift64*), enough for scenario mixing.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn random_candidate(rng: &mut Rng, id: u32) -> Candidate {
    let mut c = candidate(id, (rng.unit() - 0.5) * 0.2, 0.001 + rng.unit() * 0.05);
    c.kind = if rng.below(5) == 0 {
        SourceKind::Refclock
    } else {
        SourceKind::Ntp
    };
    c.authenticated = rng.below(3) == 0;
    c.options = SelectOptions::from_bits(if rng.below(3) == 0 {
        rng.below(16) as u32
    } else {
        0
    });
    c.stratum = 1 + rng.below(4) as u8;
    c.leap = [
        LeapStatus::Normal,
        LeapStatus::InsertSecond,
        LeapStatus::Unsynchronised,
    ][rng.below(3) as usize];
    c.reach.register = if rng.below(4) == 0 {
        0
    } else {
        rng.below(256) as u8
    };
    c.reach.size = rng.below(9) as u8;
    if rng.below(6) == 0 {
        c.stats = None;
    }
    c
}

fn check_invariants(cands: &[Candidate], sel: &Selection) {
    let stars: Vec<SourceId> = sel
        .sources
        .iter()
        .filter(|s| s.state == SelectState::Selected)
        .map(|s| s.id)
        .collect();
    match sel.selected {
        Some(id) => assert_eq!(stars, vec![id]),
        None => assert!(stars.is_empty()),
    }
    for s in &sel.sources {
        if s.state == SelectState::Falseticker || s.state == SelectState::Noselect {
            assert!(!s.leap_vote);
        }
    }
    let Some(r) = sel.reference else { return };
    assert_eq!(Some(r.source), sel.selected);
    let used: Vec<f64> = sel
        .sources
        .iter()
        .zip(cands)
        .filter(|(s, _)| matches!(s.state, SelectState::Selected | SelectState::Combined))
        .filter_map(|(_, c)| c.stats.map(|st| st.tracking.offset))
        .collect();
    assert_eq!(r.combined, used.len());
    let lo = used.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = used.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    assert!(r.tracking.offset >= lo - 1e-15 && r.tracking.offset <= hi + 1e-15);
    assert_ne!(r.leap, LeapStatus::Unsynchronised);
}

#[test]
fn random_scenarios_keep_invariants() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..500 {
        let n = 1 + rng.below(6) as u32;
        let mut cands: Vec<Candidate> = (0..n).map(|id| random_candidate(&mut rng, id)).collect();
        let cfg = SelectConfig {
            min_sources: 1 + rng.below(2) as usize,
            orphan_stratum: if rng.below(4) == 0 { Some(3) } else { None },
            ..SelectConfig::default()
        };
        let mut selector = Selector::new();
        for _ in 0..20 {
            let k = rng.below(u64::from(n)) as usize;
            cands[k] = random_candidate(&mut rng, k as u32);
            let updated = (rng.below(4) != 0).then_some(SourceId(k as u32));
            let sel = selector.select(&cands, updated, &cfg);
            check_invariants(&cands, &sel);
            assert_eq!(selector.selected(), sel.selected);
        }
    }
}
