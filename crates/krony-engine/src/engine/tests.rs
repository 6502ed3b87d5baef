//! Two engines on a virtual clock: a `local stratum 1` server and a client
//! that synchronises to it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::clock::{ClockAction, LeapStatus};
use crate::select::ReportState;

const T0: i64 = 1_700_000_000;

fn addr(last: u8) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)), 123)
}

/// A clock with an offset and a frequency error, corrected by the
/// engine's actions; true time is seconds since `T0`.
struct TestClock {
    /// Reading minus true time, seconds.
    offset: f64,
    /// Natural frequency error, relative.
    natural: f64,
    /// Correction, relative (positive = faster).
    correction: f64,
    steps: Vec<f64>,
}

impl TestClock {
    fn advance(&mut self, dt: f64) {
        self.offset += dt * ((1.0 + self.natural) * (1.0 + self.correction) - 1.0);
    }
    fn raw(&self, t: f64) -> UnixTime {
        UnixTime::from_secs_nanos(T0, 0).add_secs(t + self.offset)
    }
    fn apply(&mut self, a: ClockAction) {
        match a {
            ClockAction::SetFrequency { correction_ppm } => self.correction = correction_ppm * 1e-6,
            ClockAction::Step { offset } => {
                self.offset += offset;
                self.steps.push(offset);
            }
            _ => {}
        }
    }
}

struct Node {
    engine: Engine,
    clock: TestClock,
    addr: SocketAddr,
    log: Vec<String>,
    /// Events other than log lines.
    events: Vec<EngineEvent>,
    /// The true times of the datagrams the node sent.
    sent: Vec<f64>,
}

fn node(config: &str, addr: SocketAddr, offset: f64, natural: f64, seed: u64) -> Node {
    let parsed = krony_config::parse_str(config, "t.conf").expect("valid config");
    let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
    let clock = TestClock {
        offset,
        natural,
        correction: 0.0,
        steps: Vec::new(),
    };
    let mut engine = Engine::new(cfg, clock.raw(0.0), seed).expect("engine");
    for s in &parsed.config.sources {
        let ip: IpAddr = s.host.parse().expect("address");
        let a = SocketAddr::new(ip, s.options.port);
        engine
            .add_source(clock.raw(0.0), a, s.kind, &s.options, &s.host)
            .expect("new source");
    }
    Node {
        engine,
        clock,
        addr,
        log: Vec::new(),
        events: Vec::new(),
        sent: Vec::new(),
    }
}

/// Packets in flight: (arrival true time, destination index, from, bytes).
type Flight = Vec<(f64, usize, SocketAddr, Vec<u8>)>;

fn drain(nodes: &mut [Node], i: usize, t: f64, flight: &mut Flight) {
    let n = &mut nodes[i];
    while let Some(a) = n.engine.poll_clock_action() {
        n.clock.apply(a);
    }
    while let Some(e) = n.engine.poll_event() {
        match e.as_log() {
            Some(m) => n.log.push(m.text.clone()),
            None => n.events.push(e),
        }
    }
    let from = n.addr;
    let mut out = Vec::new();
    while let Some(tx) = nodes[i].engine.poll_transmit() {
        out.push(tx);
    }
    for tx in out {
        nodes[i].sent.push(t);
        if let Some(dest) = nodes.iter().position(|n| n.addr.ip() == tx.to.ip()) {
            // 1 ms each way.
            flight.push((t + 1e-3, dest, from, tx.bytes));
        }
    }
}

/// Runs the nodes for `secs` true seconds in steps of 1/64 s.
fn run(nodes: &mut [Node], secs: f64) {
    run_from(nodes, 0.0, secs);
}

/// Runs the nodes from true time `from` to `until` (packets in flight at
/// `from` are lost).
fn run_from(nodes: &mut [Node], from: f64, until: f64) {
    let dt = 1.0 / 64.0;
    let mut flight: Flight = Vec::new();
    let mut t = from;
    while t < until {
        t += dt;
        for n in nodes.iter_mut() {
            n.clock.advance(dt);
        }
        flight.sort_by(|a, b| a.0.total_cmp(&b.0));
        let (due, rest): (Flight, Flight) = flight.drain(..).partition(|p| p.0 <= t);
        flight = rest;
        for (_, dest, from, bytes) in due {
            let now = nodes[dest].clock.raw(t);
            let mut incoming = Incoming::new(&bytes, from, now);
            incoming.local = Some(nodes[dest].addr.ip());
            nodes[dest].engine.handle_packet(now, &incoming);
            drain(nodes, dest, t, &mut flight);
        }
        for i in 0..nodes.len() {
            let now = nodes[i].clock.raw(t);
            if nodes[i].engine.poll_timeout().is_some_and(|d| d <= now) {
                nodes[i].engine.handle_timeout(now);
                drain(nodes, i, t, &mut flight);
            }
        }
    }
}

#[test]
fn client_synchronises_to_an_engine_server() {
    let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 1);
    let client = node(
        "server 192.0.2.1 minpoll 0 maxpoll 2 iburst\nport 0\n",
        addr(2),
        0.05,
        20e-6,
        2,
    );
    let mut nodes = [server, client];
    run(&mut nodes, 600.0);
    let [server, client] = &mut nodes;
    assert!(
        client.log.iter().any(|l| l == "Selected source 192.0.2.1"),
        "{:?}",
        client.log
    );
    assert!(client.clock.steps.is_empty(), "no makestep: slewed only");
    assert!(
        client.clock.offset.abs() < 1e-4,
        "offset {}",
        client.clock.offset
    );
    let now = client.clock.raw(600.0);
    let tracking = client.engine.tracking(now);
    assert_eq!(tracking.stratum, 2);
    assert_eq!(tracking.ref_id, 0xC000_0201);
    assert_eq!(tracking.leap, LeapStatus::Normal);
    assert!((tracking.frequency_ppm - 20.0).abs() < 1.0, "{tracking:?}");
    let rows = client.engine.sources(now);
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].state, ReportState::Selected);
    assert_eq!(rows[0].reach, 0o377);
    assert_eq!(client.engine.activity().online, 1);
    let id = rows[0].id;
    let ntp = client.engine.ntpdata(id).expect("source exists");
    assert_eq!(ntp.stratum, 1);
    assert!(ntp.counters.total_good > 100);
    assert_eq!(client.engine.selectdata()[0].state.as_char(), '*');
    assert!(client.engine.sourcestats(now)[0].stats.n_samples >= 6);
    let served = server.engine.serverstats().expect("server on");
    assert_eq!(served.ntp_hits, u64::from(ntp.counters.total_tx));
    // The client has no server (port 0) and nothing answers its own port.
    assert!(client.engine.serverstats().is_none());
}

#[test]
fn sources_transmit_at_least_the_sampling_separation_apart() {
    let mut nodes: Vec<Node> = (1..=4)
        .map(|i| {
            node(
                "local stratum 1\nallow all\n",
                addr(i),
                0.0,
                0.0,
                u64::from(i),
            )
        })
        .collect();
    let config = (1..=4)
        .map(|i| format!("server 192.0.2.{i} iburst\n"))
        .collect::<String>();
    nodes.push(node(&format!("{config}port 0\n"), addr(5), 0.01, 10e-6, 5));
    run(&mut nodes, 1200.0);
    let client = &nodes[4];
    assert!(client.sent.len() > 60, "{}", client.sent.len());
    // The 1/64 s steps of the run round the times: chrony's 0.2 s (at the
    // default minpoll 6) shows as at least 0.1875 s.
    let min = client
        .sent
        .windows(2)
        .map(|w| w[1] - w[0])
        .fold(f64::INFINITY, f64::min);
    assert!(min >= 0.18, "requests {min} s apart");
    assert!(
        client.log.iter().any(|l| l.starts_with("Selected source")),
        "{:?}",
        client.log
    );
    assert!(client.clock.offset.abs() < 1e-3, "{}", client.clock.offset);
}

#[test]
fn an_unreachable_server_is_offered_for_replacement_as_a_pool_member_is() {
    // Nothing answers 192.0.2.9: after 8 polls its register is empty.
    let mut nodes = [node(
        "server 192.0.2.9 minpoll 0 maxpoll 0\nport 0\n",
        addr(2),
        0.0,
        0.0,
        6,
    )];
    run(&mut nodes, 20.0);
    assert!(
        nodes[0]
            .events
            .iter()
            .any(|e| matches!(e, EngineEvent::ReplaceSource(_))),
        "{:?}",
        nodes[0].events
    );
}

#[test]
fn after_an_external_step_polling_goes_on_at_the_same_true_time() {
    let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 7);
    let client = node(
        "server 192.0.2.1 minpoll 2 maxpoll 2\nport 0\n",
        addr(2),
        0.0,
        0.0,
        8,
    );
    let mut nodes = [server, client];
    run(&mut nodes, 300.0);
    // Someone steps the client's clock back 100 s; the driver notices.
    nodes[1].clock.offset -= 100.0;
    let now = nodes[1].clock.raw(300.0);
    nodes[1].engine.notify_external_step(now, 100.0, 100.0);
    nodes[1].log.clear();
    let sent = nodes[1].sent.len();
    run_from(&mut nodes, 300.0, 400.0);
    let client = &nodes[1];
    // The 4 s poll goes on: the deadlines moved with the step.
    let first = client.sent.get(sent).copied().unwrap_or(f64::INFINITY);
    assert!(first < 305.0, "first request after the step at {first}");
    assert!(
        client.log.iter().any(|l| l == "Selected source 192.0.2.1"),
        "{:?}",
        client.log
    );
}

#[test]
fn at_shutdown_the_samples_take_back_the_offset_not_slewed_out() {
    let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 9);
    // At 1 ppm the 0.1 s offset is still being slewed at the end.
    let client = node(
        "server 192.0.2.1 minpoll 0 maxpoll 0\nmaxslewrate 1\nport 0\n",
        addr(2),
        0.1,
        0.0,
        10,
    );
    let mut nodes = [server, client];
    run(&mut nodes, 60.0);
    let client = &mut nodes[1];
    let id = client.engine.source_ids()[0];
    let now = client.clock.raw(60.0);
    let latest = |e: &Engine| {
        e.source(id)
            .expect("source")
            .stats()
            .get_source_report(now, true)
            .latest_meas
    };
    assert!(
        latest(&client.engine).abs() < 0.01,
        "{}",
        latest(&client.engine)
    );
    client.engine.shutdown(now);
    // As chronyd's dumps: relative to the clock as it is left.
    let after = latest(&client.engine);
    assert!((after - 0.1).abs() < 0.01, "{after}");
}

#[test]
fn selectopts_change_the_options_for_the_next_round_only() {
    let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 11);
    let client = node(
        "server 192.0.2.1 minpoll 0 maxpoll 0 iburst\nport 0\n",
        addr(2),
        0.0,
        0.0,
        12,
    );
    let mut nodes = [server, client];
    run(&mut nodes, 60.0);
    let now = nodes[1].clock.raw(60.0);
    let engine = &mut nodes[1].engine;
    let id = engine.source_ids()[0];
    assert_eq!(engine.sources(now)[0].state, ReportState::Selected);
    let noselect = SelectOptions {
        noselect: true,
        ..SelectOptions::default()
    };
    engine
        .source_command(
            now,
            id,
            SourceCommand::SelectOptions {
                mask: noselect,
                options: noselect,
            },
        )
        .expect("source exists");
    // chronyd shows the old state until the next selection.
    assert_eq!(engine.sources(now)[0].state, ReportState::Selected);
    let mut log = Vec::new();
    while let Some(e) = engine.poll_event() {
        if let Some(m) = e.as_log() {
            log.push(m.text.clone());
        }
    }
    assert!(
        log.contains(&"Source 192.0.2.1 selection options modified".to_string()),
        "{log:?}"
    );
    run_from(&mut nodes, 60.0, 70.0);
    let now = nodes[1].clock.raw(70.0);
    assert_ne!(nodes[1].engine.sources(now)[0].state, ReportState::Selected);
}

#[test]
fn makestep_steps_a_large_offset_once() {
    let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 3);
    let client = node(
        "server 192.0.2.1 minpoll 0 maxpoll 2 iburst\nmakestep 1 3\nport 0\n",
        addr(2),
        -5.0,
        0.0,
        4,
    );
    let mut nodes = [server, client];
    run(&mut nodes, 120.0);
    let client = &nodes[1];
    assert_eq!(client.clock.steps.len(), 1, "{:?}", client.log);
    assert!((client.clock.steps[0] - 5.0).abs() < 1e-2);
    assert!(
        client
            .log
            .iter()
            .any(|l| l.starts_with("System clock wrong by 5.0")),
        "{:?}",
        client.log
    );
    assert!(client.clock.offset.abs() < 1e-3);
}

#[test]
fn duplicate_and_unknown_sources() {
    let mut n = node("server 192.0.2.1\nport 0\n", addr(2), 0.0, 0.0, 5);
    let now = n.clock.raw(0.0);
    let opts = krony_config::SourceOptions::default();
    let kind = krony_config::SourceKind::Server;
    assert_eq!(
        n.engine.add_source(now, addr(1), kind, &opts, "x"),
        Err(EngineError::SourceExists(addr(1)))
    );
    let id = n.engine.source_ids()[0];
    n.engine.remove_source(now, id).expect("exists");
    assert_eq!(
        n.engine.remove_source(now, id),
        Err(EngineError::UnknownSource)
    );
    assert!(n.engine.poll_timeout().is_none());
}

#[test]
fn statistics_and_selection_records_with_log_statistics_selection() {
    let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 7);
    let config = "server 192.0.2.1 minpoll 0 maxpoll 2 iburst prefer\nport 0\n\
                  log statistics selection\n";
    let client = node(config, addr(2), 0.01, 0.0, 8);
    let mut nodes = [server, client];
    run(&mut nodes, 30.0);
    let client = &nodes[1];
    let stats: Vec<&StatisticsRecord> = client
        .events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Statistics(r) => Some(&**r),
            _ => None,
        })
        .collect();
    let selection: Vec<&SelectionRecord> = client
        .events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::Selection(r) => Some(&**r),
            _ => None,
        })
        .collect();
    // A regression needs three samples; then one line per sample.
    assert!(stats.len() >= 5, "{}", stats.len());
    let first = stats[0];
    assert_eq!(first.addr, addr(1).ip());
    assert_eq!(first.info.n_samples, 3);
    assert!(stats.windows(2).all(|w| w[0].time < w[1].time));
    // One line per round; the source ends up selected, with its options.
    assert!(selection.len() >= stats.len(), "{}", selection.len());
    let last = selection[selection.len() - 1];
    assert_eq!(last.state.as_char(), '*');
    assert!(last.options.prefer);
    assert_ne!(last.reach, 0);
    assert!(last.lo <= last.hi);
    // Without the log directives, no records.
    assert!(
        nodes[0]
            .events
            .iter()
            .all(|e| !matches!(e, EngineEvent::Statistics(_) | EngineEvent::Selection(_)))
    );
}

#[test]
fn responses_are_stamped_when_sent_and_requests_are_not() {
    let mut n = node(
        "server 192.0.2.1 minpoll 0 iburst\nlocal stratum 1\nallow all\n",
        addr(2),
        0.0,
        0.0,
        6,
    );
    let now = n.clock.raw(0.0);
    n.engine.handle_timeout(now.add_secs(10.0));
    let mut request = n.engine.poll_transmit().expect("a request to the source");
    let sent = request.bytes.clone();
    assert!(!n.engine.stamp_transmit(&mut request, now.add_secs(10.001)));
    assert_eq!(request.bytes, sent);
    let rx = now.add_secs(20.0);
    n.engine
        .handle_packet(rx, &Incoming::new(&sent, addr(9), rx));
    let mut response = n.engine.poll_transmit().expect("a response");
    let later = rx.add_secs(40e-6);
    assert!(n.engine.stamp_transmit(&mut response, later));
    let p = NtpRepr::parse_bytes(&response.bytes).expect("response parses");
    let tx = p.transmit_ts.to_unix(later).diff_secs(n.engine.cook(later));
    assert!(
        tx.abs() < 1e-6,
        "transmit timestamp {tx} s from the send time"
    );
    let rx_off = p.receive_ts.to_unix(rx).diff_secs(n.engine.cook(rx));
    assert!(rx_off.abs() < 1e-6, "receive timestamp unchanged: {rx_off}");
}

#[test]
fn a_known_leap_second_is_announced_on_its_day() {
    // 30 June 2024, 22:00 UTC on both clocks; the day ends at 1719792000.
    let start = (1_719_792_000 - 7200 - T0) as f64;
    let leap = crate::discipline::KnownLeap {
        day_end: 1_719_792_000,
        leap: LeapStatus::InsertSecond,
    };
    for (known, want) in [
        (Some(leap), LeapStatus::InsertSecond),
        (None, LeapStatus::Normal),
    ] {
        let server = node("local stratum 1\nallow all\n", addr(1), start, 0.0, 9);
        let config = "server 192.0.2.1 minpoll 0 maxpoll 2 iburst\nport 0\n";
        let mut client = node(config, addr(2), start, 0.0, 10);
        client.engine.set_known_leap(known);
        let mut nodes = [server, client];
        run(&mut nodes, 60.0);
        let client = &mut nodes[1];
        let now = client.clock.raw(60.0);
        assert_eq!(client.engine.tracking(now).leap, want);
    }
}

#[test]
fn fallbackdrift_takes_over_when_updates_stop() {
    for (fallback, want) in [
        ("fallbackdrift 4 6\n", LeapStatus::Unsynchronised),
        ("", LeapStatus::Normal),
    ] {
        let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 11);
        let config = format!("server 192.0.2.1 minpoll 0 maxpoll 2 iburst\nport 0\n{fallback}");
        let client = node(&config, addr(2), 0.001, 20e-6, 12);
        let mut nodes = [server, client];
        run(&mut nodes, 300.0);
        // The server goes away: the client's requests reach nobody.
        nodes[0].addr = addr(9);
        run_from(&mut nodes, 300.0, 322.0);
        let client = &mut nodes[1];
        let now = client.clock.raw(322.0);
        // 16 s without an update: the 16 s average is applied and the
        // reference is unsynchronised, long before the source is
        // unreachable (8 polls of 4 s).
        assert_eq!(client.engine.tracking(now).leap, want, "{fallback}");
        let freq = client.engine.reference().clock().frequency_ppm();
        assert!((freq - 20.0).abs() < 1.0, "{freq}");
    }
}

/// Interleaved symmetric peers that allow no clients (clknetsim's
/// 122-xleave): B synchronises to A in the interleaved mode, and A's test D
/// rejects B's packets, which name A's address as their reference (the
/// server socket is open for the peers, so synchronisation loops are
/// checked, as in chronyd).
#[test]
fn interleaved_peers_without_allow_check_sync_loops() {
    let a = node(
        "local stratum 10\npeer 192.0.2.2 minpoll 0 maxpoll 0 xleave\n",
        addr(1),
        0.0,
        0.0,
        1,
    );
    let b = node(
        "peer 192.0.2.1 minpoll 0 maxpoll 0 xleave\n",
        addr(2),
        0.01,
        10e-6,
        2,
    );
    let mut nodes = [a, b];
    run(&mut nodes, 300.0);
    let [a, b] = &mut nodes;
    assert!(
        b.log.iter().any(|l| l == "Selected source 192.0.2.1"),
        "{:?}",
        b.log
    );
    let now = b.clock.raw(300.0);
    let id = b.engine.sources(now)[0].id;
    let seen_by_b = b.engine.ntpdata(id).expect("source exists");
    assert!(seen_by_b.interleaved, "{seen_by_b:?}");
    assert!(seen_by_b.tests.td_no_sync_loop, "{seen_by_b:?}");
    assert!(
        !a.log.iter().any(|l| l.starts_with("Selected source")),
        "{:?}",
        a.log
    );
    let now = a.clock.raw(300.0);
    let id = a.engine.sources(now)[0].id;
    let seen_by_a = a.engine.ntpdata(id).expect("source exists");
    assert_eq!(seen_by_a.stratum, 11, "{seen_by_a:?}");
    assert!(!seen_by_a.tests.td_no_sync_loop, "{seen_by_a:?}");
}

/// The spread of the client's samples, and how far the client's clock is
/// from the server's, 3.5 s after the server corrected its clock by 0.1 s
/// (chronyc `doffset 0.1` on the server).
fn after_server_correction(options: &str) -> (f64, f64) {
    let server = node("local stratum 1\nallow all\n", addr(1), 0.0, 0.0, 1);
    let conf = format!("server 192.0.2.1 minpoll 0 maxpoll 0 {options}\nport 0\n");
    let client = node(&conf, addr(2), 0.0, 0.0, 2);
    let mut nodes = [server, client];
    run_from(&mut nodes, 0.0, 100.0);
    let now = nodes[0].clock.raw(100.0);
    assert!(nodes[0].engine.accumulate_offset(now, 0.1));
    // The server's clock starts slewing at once.
    drain(&mut nodes, 0, 100.0, &mut Vec::new());
    run_from(&mut nodes, 100.0, 103.5);
    let now = nodes[1].clock.raw(103.5);
    let spread = nodes[1].engine.sourcestats(now)[0].stats.std_dev;
    let cooked = |n: &Node| n.engine.cook(n.clock.raw(103.5));
    (spread, cooked(&nodes[1]).diff_secs(cooked(&nodes[0])))
}

#[test]
fn mono_root_field_moves_old_samples_by_the_servers_correction() {
    // With the field, the older samples follow the server's correction:
    // they agree with the new ones, and the client follows at once.
    for options in ["extfield F323", "xleave extfield F323"] {
        let (spread, offset) = after_server_correction(options);
        assert!(spread < 1e-6, "{options}: spread {spread}");
        assert!(offset.abs() < 1e-3, "{options}: offset {offset}");
    }
    // Without it, the correction is a jump among the samples.
    let (spread, offset) = after_server_correction("");
    assert!(spread > 1e-2, "spread {spread}");
    assert!(offset.abs() > 1e-3, "offset {offset}");
}
