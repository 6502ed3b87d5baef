//! End-to-end runs of the simulator with a naive client node.

use krony_engine::clock::ClockAction;
use krony_sim::naive::NaiveClient;
use krony_sim::{
    ClientSpec, LinkOverride, LinkParams, NodeId, Report, Scenario, SimError, SimNode, run,
};
use krony_wire::UnixTime;

fn naive(scenario: &Scenario) -> Result<Report, SimError> {
    run(scenario, |ctx| {
        Box::new(NaiveClient::new(ctx.servers[0], 16.0))
    })
}

fn short_default(seed: u64) -> Scenario {
    let mut s = Scenario::chrony_default(seed);
    s.duration = 2000.0;
    s.metrics.keep_series = true;
    s
}

#[test]
fn naive_client_converges() {
    let report = naive(&short_default(1)).expect("runs");
    let client = report.clients().next().expect("one client");
    let sync = &client.clock;
    // Stepped at the first response, frequency corrected at the second.
    assert!(
        sync.time_to_sync <= 20,
        "time to sync {}",
        sync.time_to_sync
    );
    assert!(sync.synchronised_at_end);
    let stats = sync.stats.expect("samples after 210 s");
    assert_eq!(stats.samples, 1790);
    assert!(stats.max_abs_offset < 1e-3, "{stats:?}");
    assert!(stats.rms_offset < 3e-4, "{stats:?}");
    assert!(stats.max_abs_freq < 5e-5, "{stats:?}");
    // About one request every 16 s, all answered.
    assert!(
        (124..=126).contains(&client.packets.sent),
        "{:?}",
        client.packets
    );
    assert_eq!(client.packets.received, client.packets.sent);
    assert!((client.packets.mean_out_interval() - 16.0).abs() < 0.01);
    assert_eq!(report.dropped_packets, 0);
    assert_eq!(
        client.clock_log.steps.len(),
        client.packets.received as usize
    );
    // The first sample is the initial offset, before anything happened.
    let series = sync.series.as_ref().expect("kept");
    assert_eq!(series.len(), 2001);
    assert!((series[0].0 - 0.1).abs() < 1e-6);
    assert!((series[0].1 - 1e-4).abs() < 1e-8);
}

#[test]
fn same_seed_gives_bit_identical_results() {
    let a = naive(&short_default(7)).expect("runs");
    let b = naive(&short_default(7)).expect("runs");
    assert_eq!(a, b);
    let bits = |r: &Report| -> Vec<(u64, u64)> {
        let series = r.nodes[1].clock.series.as_ref().expect("kept");
        series
            .iter()
            .map(|(o, f)| (o.to_bits(), f.to_bits()))
            .collect()
    };
    assert_eq!(bits(&a), bits(&b));
}

#[test]
fn different_seeds_give_different_results() {
    let a = naive(&short_default(7)).expect("runs");
    let b = naive(&short_default(8)).expect("runs");
    assert_ne!(a.nodes[1].clock.stats, b.nodes[1].clock.stats);
    assert_ne!(a.nodes[1].final_offset, b.nodes[1].final_offset);
}

#[test]
fn packet_delays_match_the_link() {
    let mut s = short_default(3);
    s.duration = 20_000.0;
    let report = naive(&s).expect("runs");
    // Delay b + j X, X ~ Exp(1): E[d²] = b² + 2bj + 2j² = 5e-8 for b = j = 1e-4.
    let server = &report.nodes[0].packets;
    assert!(server.received > 1200);
    let rms = server.rms_in_delay();
    assert!((rms / 5e-8f64.sqrt() - 1.0).abs() < 0.05, "rms delay {rms}");
}

#[test]
fn outage_and_late_start() {
    let mut s = short_default(4);
    s.clients[0] = ClientSpec {
        start: 100.0,
        ..ClientSpec::default()
    };
    let client = s.client_id(0);
    s.link_overrides.push(LinkOverride {
        from: client,
        to: s.server_id(0),
        params: LinkParams::new(1e-4, 1e-4).with_outage(500.0, 1000.0),
    });
    let report = naive(&s).expect("runs");
    let c = &report.nodes[client.0];
    // Polls from 100 s to 2000 s, none answered for 500 s.
    assert!((118..=120).contains(&c.packets.sent), "{:?}", c.packets);
    let lost = c.packets.sent - c.packets.received;
    assert!((31..=32).contains(&lost), "lost {lost}");
    assert_eq!(report.dropped_packets, lost);
    // The frequency was corrected before the outage: the offset wanders only
    // by the residual frequency error meanwhile, and is back after it.
    let series = c.clock.series.as_ref().expect("kept");
    let max_in = |r: std::ops::Range<usize>| series[r].iter().fold(0.0f64, |m, x| m.max(x.0.abs()));
    assert!(max_in(500..1000) < 500.0 * 3e-5);
    assert!(max_in(1050..2001) < 1e-3);
    assert!((series[99].0 - (0.1 + 99.0 * 1e-4)).abs() < 1e-4);
}

#[test]
fn client_follows_a_falseticker() {
    let mut s = short_default(5);
    s.servers[0].server.timestamp_error = 1.0;
    let report = naive(&s).expect("runs");
    let c = report.clients().next().expect("client");
    assert!((c.final_offset - 1.0).abs() < 1e-3, "{}", c.final_offset);
    assert_eq!(c.clock.time_to_sync, 2001);
}

#[test]
fn drifting_server_clock_drags_the_client() {
    let mut s = short_default(6);
    s.servers[0].clock.freq_ppm = -20.0;
    let report = naive(&s).expect("runs");
    let c = report.clients().next().expect("client");
    assert!((c.final_freq + 20e-6).abs() < 5e-6, "{}", c.final_freq);
    assert!((c.final_offset - report.nodes[0].final_offset).abs() < 1e-3);
}

/// A node that always wants to be woken now.
struct Stuck;

impl SimNode for Stuck {
    fn handle_packet(&mut self, _: UnixTime, _: std::net::SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, _: UnixTime) {}
    fn poll_timeout(&mut self) -> Option<UnixTime> {
        Some(UnixTime::EPOCH)
    }
    fn poll_transmit(&mut self) -> Option<(std::net::SocketAddr, Vec<u8>)> {
        None
    }
    fn poll_clock_action(&mut self) -> Option<ClockAction> {
        None
    }
}

#[test]
fn stuck_node_is_reported() {
    let s = short_default(1);
    let err = run(&s, |_| Box::new(Stuck)).expect_err("livelock");
    assert_eq!(
        err,
        SimError::Livelock {
            node: NodeId(1),
            elapsed: 0.0
        }
    );
}

/// Arms a leap second at start and asks to be woken half a second after
/// midnight, clock time.
struct LeapNode {
    midnight: UnixTime,
    actions: Vec<ClockAction>,
    deadline: Option<UnixTime>,
    woken: std::rc::Rc<std::cell::RefCell<Vec<UnixTime>>>,
}

impl SimNode for LeapNode {
    fn handle_start(&mut self, _: UnixTime) {
        self.actions.push(ClockAction::SetLeap {
            leap: krony_engine::clock::LeapStatus::InsertSecond,
            tai_offset: 0,
        });
        self.deadline = Some(self.midnight.add_secs(0.5));
    }
    fn handle_packet(&mut self, _: UnixTime, _: std::net::SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, now: UnixTime) {
        self.woken.borrow_mut().push(now);
        self.deadline = None;
    }
    fn poll_timeout(&mut self) -> Option<UnixTime> {
        self.deadline
    }
    fn poll_transmit(&mut self) -> Option<(std::net::SocketAddr, Vec<u8>)> {
        None
    }
    fn poll_clock_action(&mut self) -> Option<ClockAction> {
        self.actions.pop()
    }
}

#[test]
fn leap_second_is_inserted_at_clock_midnight() {
    let mut s = short_default(1);
    s.duration = 30.0;
    // The client's clock reads midnight 10.25 s after the start.
    s.clients[0].clock.offset = 86_400.0 - 10.25;
    s.clients[0].clock.freq_ppm = 0.0;
    s.clients[0].clock.wander_ppb = 0.0;
    let midnight = krony_sim::SIM_EPOCH.add_secs(86_400.0);
    let woken = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let w = woken.clone();
    let report = run(&s, |_| {
        Box::new(LeapNode {
            midnight,
            actions: Vec::new(),
            deadline: None,
            woken: w.clone(),
        })
    })
    .expect("runs");
    let c = report.clients().next().expect("client");
    let leaps = &c.clock_log.leaps_applied;
    assert_eq!(leaps.len(), 1);
    assert_eq!(leaps[0].0, krony_sim::SIM_EPOCH.add_secs(10.25));
    // Woken once, at the second time the clock reads 00:00:00.5.
    assert_eq!(*woken.borrow(), vec![midnight.add_secs(0.5)]);
    let series = c.clock.series.as_ref().expect("kept");
    assert!((series[10].0 - (86_400.0 - 10.25)).abs() < 1e-9);
    assert!((series[11].0 - (86_399.0 - 10.25)).abs() < 1e-9);
}
