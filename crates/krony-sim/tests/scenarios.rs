//! Issue 3's accuracy acceptance: krony's engine in chrony's simulation
//! scenarios, with fixed seeds, held to chrony's own pass criteria
//! (`test/simulation/test.common` `check_sync` and the individual tests
//! named below). The scenario table is printed by `src/bin/scenarios.rs`.

use krony_sim::engine_node::{EngineProbe, run_engines};
use krony_sim::{
    ClientSpec, ClockParams, EngineNode, LinkOverride, LinkPair, LinkParams, NodeId, NodeReport,
    Report, SIM_EPOCH, Scenario, ServerSpec, SimNode, SyncCriteria, run,
};

/// Runs `scenario` with every client configured by `config`.
fn engines(
    scenario: &Scenario,
    config: impl FnMut(&krony_sim::ClientContext<'_>) -> String,
) -> (Report, Vec<EngineProbe>) {
    run_engines(scenario, config).expect("scenario runs")
}

fn client(report: &Report, i: usize) -> &NodeReport {
    report.clients().nth(i).expect("client exists")
}

/// Asserts chrony's `check_sync` for a client.
fn assert_sync(node: &NodeReport, criteria: &SyncCriteria) {
    let failures = criteria.check(&node.clock);
    assert!(
        failures.is_empty(),
        "{:?}: {failures:?}\n{:?}",
        node.addr,
        node.clock
    );
}

/// A scenario with the default metrics of `criteria`.
fn with_criteria(mut s: Scenario, criteria: &SyncCriteria) -> Scenario {
    s.metrics = criteria.metrics_config();
    s
}

// ---- 1. chrony's default scenario (001-defaults) ----

#[test]
fn default_scenario_meets_chronys_criteria() {
    for seed in [1, 2, 3] {
        let s = Scenario::chrony_default(seed);
        let (report, probes) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
        let c = client(&report, 0);
        assert_sync(c, &SyncCriteria::default());
        assert!(c.clock_log.steps.is_empty(), "no makestep: no step");
        probes[0].with(|d| {
            assert_eq!(d.count_log("Selected source 192.168.123.1"), 1);
            assert_eq!(d.count_log("Can't synchronise"), 0);
            assert!(d.synchronised);
        });
    }
}

// ---- 2. jitter series (assertion; the table is printed by the bin) ----

/// chrony's RMS offsets with 10 µs, 100 µs, 1 ms and 10 ms jitter.
const CHRONY_RMS: [(f64, f64); 4] = [
    (1e-5, 35e-6),
    (1e-4, 109e-6),
    (1e-3, 475e-6),
    (1e-2, 1603e-6),
];

#[test]
fn jitter_series_at_or_below_chrony() {
    for (jitter, chrony) in CHRONY_RMS {
        let mut sum = 0.0;
        // The same set-up as the table printed by `src/bin/scenarios.rs`.
        let seeds = [1, 2, 3, 4, 5];
        for seed in seeds {
            let mut s = Scenario::chrony_default(seed);
            s.links = LinkPair::symmetric(1e-4, jitter);
            s.duration = 100_000.0;
            s.metrics.stats_after = Some(2000.0);
            let (report, _) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
            let st = client(&report, 0).clock.stats.expect("samples");
            sum += st.rms_offset;
        }
        let rms = sum / seeds.len() as f64;
        println!(
            "jitter {jitter:e}: krony RMS offset {:.1} us, chrony {:.0} us",
            rms * 1e6,
            chrony * 1e6
        );
        assert!(
            rms <= chrony,
            "jitter {jitter}: RMS {rms} above chrony's {chrony}"
        );
    }
}

// ---- 3. falsetickers (009-sourceselection) ----

fn servers_with_errors(errors: &[f64]) -> Vec<ServerSpec> {
    errors
        .iter()
        .map(|&e| {
            let mut s = ServerSpec::default();
            s.server.timestamp_error = e;
            s
        })
        .collect()
}

#[test]
fn falseticker_is_marked_and_never_used() {
    let mut s = Scenario::chrony_default(11);
    s.servers = servers_with_errors(&[0.0, 0.0, 0.0, 0.5]);
    s.links = LinkPair::symmetric(1e-3, 1e-4);
    let (report, probes) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
    assert_sync(client(&report, 0), &SyncCriteria::default());
    let bad = s.server_id(3).addr();
    probes[0].with(|d| {
        assert!(d.was_in_state(bad, 'x'), "{:?}", d.states);
        assert!(!d.was_in_state(bad, '*') && !d.was_in_state(bad, '+'));
        // Logged once per change of the system peer, as chrony does.
        assert!(d.count_log("Detected falseticker 192.168.123.4") >= 1);
        assert_eq!(d.count_log("Detected falseticker 192.168.123.1"), 0);
        assert_eq!(d.count_log("no majority"), 0);
        let good: Vec<_> = (0..3).map(|i| s.server_id(i).addr()).collect();
        assert!(good.iter().any(|a| d.was_in_state(*a, '*')));
        assert!(good.iter().all(|a| !d.was_in_state(*a, 'x')));
    });
}

#[test]
fn two_disagreeing_servers_give_no_majority() {
    let mut s = Scenario::chrony_default(12);
    s.servers = servers_with_errors(&[0.0, 0.5]);
    s.duration = 3000.0;
    let (report, probes) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
    let c = client(&report, 0);
    assert!(!c.clock.synchronised_at_end);
    assert!(!SyncCriteria::default().check(&c.clock).is_empty());
    probes[0].with(|d| {
        assert_eq!(
            d.count_log("Can't synchronise: no majority (no agreement among 2 sources)"),
            1,
            "{:?}",
            d.log
        );
        assert_eq!(d.count_log("Selected source"), 0);
        assert!(!d.synchronised);
        for i in 0..2 {
            assert!(d.was_in_state(s.server_id(i).addr(), 'x'));
        }
    });
}

// ---- 4. makestep (109-makestep) and slewing a large offset ----

fn offset_client(offset: f64) -> Vec<ClientSpec> {
    vec![ClientSpec {
        clock: ClockParams {
            offset,
            ..ClockParams::chrony_client()
        },
        start: 0.0,
    }]
}

#[test]
fn makestep_steps_once_at_start() {
    let mut s = Scenario::chrony_default(21);
    s.clients = offset_client(10.0);
    let (report, probes) = engines(&s, |ctx| EngineNode::client_config(ctx, "", "makestep 1 3"));
    let c = client(&report, 0);
    assert_eq!(c.clock_log.steps.len(), 1, "{:?}", c.clock_log.steps);
    let (when, step) = c.clock_log.steps[0];
    assert!((step + 10.0).abs() < 0.1, "stepped by {step}");
    assert!(when.diff_secs(SIM_EPOCH) < 300.0);
    assert_sync(c, &SyncCriteria::default());
    probes[0].with(|d| assert_eq!(d.count_log("System clock wrong by -10.0"), 1, "{:?}", d.log));
}

#[test]
fn without_makestep_the_offset_is_slewed_at_maxslewrate() {
    let mut s = Scenario::chrony_default(22);
    s.clients = offset_client(10.0);
    s.metrics.keep_series = true;
    let criteria = SyncCriteria {
        min_sync_time: 0.0,
        max_sync_time: 1000.0,
        ..SyncCriteria::default()
    };
    s.metrics = SyncCriteria { ..criteria.clone() }.metrics_config();
    s.metrics.keep_series = true;
    let (report, _) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
    let c = client(&report, 0);
    assert!(c.clock_log.steps.is_empty());
    let series = c.clock.series.as_ref().expect("kept");
    // The slew runs at maxslewrate (83333 ppm): the clock's frequency error
    // reaches it, never more, and the offset falls at that rate.
    let max_freq = series.iter().map(|(_, f)| f.abs()).fold(0.0, f64::max);
    println!(
        "slew: max |freq| {max_freq:e}, time to sync {}",
        c.clock.time_to_sync
    );
    assert!(max_freq <= 1e6 / 12.0 * 1e-6 + 2e-4, "{max_freq}");
    assert!(max_freq >= 0.08, "{max_freq}");
    assert_sync(c, &criteria);
}

// ---- 5. large and changing frequency errors (003-largefreqoffset) ----

#[test]
fn large_frequency_errors_converge_without_step() {
    let criteria = SyncCriteria {
        max_sync_time: 1000.0,
        ..SyncCriteria::default()
    };
    for (seed, ppm) in [(31, 500.0), (32, -500.0)] {
        let mut s = with_criteria(Scenario::chrony_default(seed), &criteria);
        s.clients = vec![ClientSpec {
            clock: ClockParams {
                freq_ppm: ppm,
                // As chrony's test: close to zero at the first update.
                offset: -(ppm * 1e-6 * 130.0),
                ..ClockParams::chrony_client()
            },
            start: 0.0,
        }];
        let (report, _) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
        let c = client(&report, 0);
        assert!(c.clock_log.steps.is_empty());
        assert_sync(c, &criteria);
    }
}

#[test]
fn sudden_frequency_change_converges_without_step() {
    let mut s = Scenario::chrony_default(33);
    s.duration = 20_000.0;
    s.metrics.keep_series = true;
    let mut probe = None;
    let report = run(&s, |ctx| {
        let text = EngineNode::client_config(ctx, "", "");
        let (node, p) = EngineNode::new(ctx, &text).expect("valid");
        probe = Some(p);
        Box::new(node.with_frequency_step(SIM_EPOCH.add_secs(10_000.0), 10.0)) as Box<dyn SimNode>
    })
    .expect("runs");
    let c = client(&report, 0);
    assert!(c.clock_log.steps.is_empty());
    let series = c.clock.series.as_ref().expect("kept");
    let window = |a: usize, b: usize| {
        let w = &series[a..b];
        let max = w.iter().map(|(o, _)| o.abs()).fold(0.0, f64::max);
        let rms = (w.iter().map(|(o, _)| o * o).sum::<f64>() / w.len() as f64).sqrt();
        (max, rms)
    };
    let (max_after, _) = window(10_000, 20_001);
    let (max_end, rms_end) = window(14_000, 20_001);
    println!(
        "10 ppm step: max |offset| after {max_after:e}, in the last 6000 s {max_end:e} (RMS {rms_end:e})"
    );
    assert!(max_after < 10e-3, "{max_after}");
    assert!(max_end < 1e-3 && rms_end < 3e-4, "{max_end} {rms_end}");
    let last_freq = series[20_000].1.abs();
    assert!(last_freq < 1e-6, "{last_freq}");
    assert!(probe.expect("built").with(|d| d.synchronised));
}

// ---- 6. server unreachable for 30 minutes (014-intermittent) ----

#[test]
fn outage_keeps_offset_bounded_and_resyncs_without_step() {
    let (start, end) = (4000.0, 4000.0 + 1800.0);
    let mut s = Scenario::chrony_default(41);
    s.duration = 12_000.0;
    s.metrics.keep_series = true;
    let link = LinkParams::new(1e-4, 1e-4).with_outage(start, end);
    s.link_overrides = vec![
        LinkOverride {
            from: NodeId(0),
            to: NodeId(1),
            params: link.clone(),
        },
        LinkOverride {
            from: NodeId(1),
            to: NodeId(0),
            params: link,
        },
    ];
    let (report, probes) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
    let c = client(&report, 0);
    assert!(c.clock_log.steps.is_empty());
    let series = c.clock.series.as_ref().expect("kept");
    let max_in = |a: f64, b: f64| {
        series[a as usize..b as usize]
            .iter()
            .map(|(o, _)| o.abs())
            .fold(0.0, f64::max)
    };
    let before = max_in(1000.0, start);
    let during = max_in(start, end);
    let after = max_in(end + 2000.0, 12_001.0);
    println!(
        "outage: max |offset| before {before:e}, during {during:e}, from 2000 s after {after:e}"
    );
    assert!(during < 1e-3, "{during}");
    assert!(after < 1e-3, "{after}");
    probes[0].with(|d| {
        assert!(d.synchronised);
        assert_eq!(
            d.count_log("Selected source 192.168.123.1"),
            d.count_log("Can't synchronise") + 1
        );
    });
}

// ---- 7. peers (108-peer) and interleaved mode (122-xleave) ----

/// Two clients peering with each other; the first cannot reach the server.
fn peer_scenario(seed: u64) -> Scenario {
    let mut s = Scenario::chrony_default(seed);
    s.clients = vec![ClientSpec::default(), ClientSpec::default()];
    s.link_overrides = vec![LinkOverride {
        from: NodeId(1),
        to: NodeId(0),
        params: LinkParams::new(1e-4, 1e-4).with_outage(0.0, 1e9),
    }];
    s
}

fn peer_config(ctx: &krony_sim::ClientContext<'_>, server: &str, peer: &str) -> String {
    let other = if ctx.index == 0 { 2 } else { 1 };
    let extra = format!("peer 192.168.123.{} {peer}", other + 1);
    EngineNode::client_config(ctx, server, &extra)
}

#[test]
fn peers_converge() {
    let criteria = SyncCriteria {
        max_sync_time: 1000.0,
        ..SyncCriteria::default()
    };
    let s = with_criteria(peer_scenario(51), &criteria);
    let (report, probes) = engines(&s, |ctx| {
        peer_config(ctx, "minpoll 6 maxpoll 6", "minpoll 6 maxpoll 6")
    });
    for i in 0..2 {
        assert_sync(client(&report, i), &criteria);
    }
    probes[0].with(|d| {
        assert_eq!(
            d.count_log("Selected source 192.168.123.3"),
            1,
            "{:?}",
            d.log
        )
    });
    probes[1].with(|d| {
        assert_eq!(
            d.count_log("Selected source 192.168.123.1"),
            1,
            "{:?}",
            d.log
        )
    });
}

#[test]
fn interleaved_client_converges() {
    let criteria = SyncCriteria {
        max_sync_time: 270.0,
        ..SyncCriteria::default()
    };
    let mut s = with_criteria(Scenario::chrony_default(61), &criteria);
    // The server is an engine too (the simulator's servers answer in basic
    // mode only): node 0 with a perfect clock.
    s.servers.clear();
    s.clients = vec![
        ClientSpec {
            clock: ClockParams::default(),
            start: 0.0,
        },
        ClientSpec::default(),
    ];
    let (report, probes) = engines(&s, |ctx| match ctx.index {
        0 => "local stratum 1\nallow all\n".to_string(),
        _ => "server 192.168.123.1 xleave\nlog measurements\nport 0\n".to_string(),
    });
    assert_sync(client(&report, 1), &criteria);
    probes[1].with(|d| {
        let xleave = d.measurements.iter().filter(|m| m.interleaved).count();
        let basic = d.measurements.len() - xleave;
        println!("xleave client: {xleave} interleaved, {basic} basic measurements");
        assert!(
            xleave >= 30,
            "{xleave} interleaved of {}",
            d.measurements.len()
        );
        assert!(basic <= 2, "{basic}");
    });
}

#[test]
fn interleaved_peers_converge() {
    let criteria = SyncCriteria {
        max_sync_time: 500.0,
        ..SyncCriteria::default()
    };
    let s = with_criteria(peer_scenario(71), &criteria);
    let (report, probes) = engines(&s, |ctx| {
        let text = peer_config(ctx, "", "xleave minpoll 5 maxpoll 5");
        format!("{text}log measurements\n")
    });
    for i in 0..2 {
        assert_sync(client(&report, i), &criteria);
    }
    probes[0].with(|d| {
        let xleave = d
            .measurements
            .iter()
            .filter(|m| m.interleaved && m.remote.to_string() == "192.168.123.3")
            .count();
        println!("xleave peer: {xleave} interleaved measurements");
        assert!(xleave >= 200, "{xleave}");
    });
}

// ---- sampling separation between sources (002-largenetwork) ----

#[test]
fn four_servers_are_polled_apart_and_accuracy_holds() {
    // chrony's check_packet_interval: with several servers, a client's
    // requests are at least the 0.2 s sampling separation apart (0.18 s
    // with the scheduler's randomness), yet it stays as accurate as with
    // chrony's default criteria and as with a single server.
    for seed in [81, 82] {
        let mut s = Scenario::chrony_default(seed);
        s.servers = vec![ServerSpec::default(); 4];
        let (report, probes) = engines(&s, |ctx| EngineNode::client_config(ctx, "", ""));
        let c = client(&report, 0);
        assert_sync(c, &SyncCriteria::default());
        let min = c.packets.min_out_interval();
        assert!(min >= 0.18, "seed {seed}: requests {min} s apart");
        let mut single = Scenario::chrony_default(seed);
        single.servers.truncate(1);
        let (one, _) = engines(&single, |ctx| EngineNode::client_config(ctx, "", ""));
        let rms = c.clock.stats.expect("samples").rms_offset;
        let rms_one = client(&one, 0).clock.stats.expect("samples").rms_offset;
        println!("seed {seed}: RMS offset 4 servers {rms:e}, 1 server {rms_one:e}");
        assert!(rms <= rms_one * 1.5, "seed {seed}: {rms} vs {rms_one}");
        probes[0].with(|d| assert_eq!(d.count_log("Can't synchronise"), 0));
    }
}

// ---- maxdelayquant (118-maxdelay) ----

#[test]
fn maxdelayquant_accepts_about_its_quantile_of_the_delays() {
    // chrony's 118-maxdelay: 10 us base delay and 10 us jitter, 4 s polls
    // for 10000 s, `maxdelayquant 0.1`: test C passes for roughly a tenth
    // of the responses (chrony's test wants 200-500 of about 2500). The
    // estimator's step is half the clock's precision: about 100 ns under
    // clknetsim, where the test runs.
    let mut s = Scenario::chrony_default(91);
    s.links = LinkPair::symmetric(1e-5, 1e-5);
    let (report, probes) = engines(&s, |ctx| {
        EngineNode::client_config(
            ctx,
            "minpoll 2 maxpoll 2 maxdelayquant 0.1",
            "log measurements\nlog rawmeasurements\nclockprecision 1e-7",
        )
    });
    assert!(client(&report, 0).clock.stats.is_some());
    probes[0].with(|d| {
        let all = d.measurements.len();
        let passed = d
            .measurements
            .iter()
            .filter(|m| m.tests.tc_delay_dev_ratio)
            .count();
        println!("maxdelayquant 0.1: test C passed {passed} of {all}");
        assert!(all > 2000, "{all}");
        assert!((150..=600).contains(&passed), "{passed} of {all}");
    });
}
