//! The event loop: true time jumps from event to event (per-second clock
//! updates and samples, node wake-ups, packet deliveries), so a simulated
//! day takes well under a second of wall time.
//!
//! At one instant, events run in this order (as in clknetsim, where the
//! per-second update comes first, then timers, then packets): the
//! per-second update of every clock and the metric samples; then node
//! starts and wake-ups, by node id; then packet deliveries, in sending order.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::net::{IpAddr, SocketAddr};

use krony_engine::clock::{Clock, ClockAction, ClockError};
use krony_wire::UnixTime;
use rand::Rng;

use crate::clock::{ClockLog, SIM_EPOCH, SimClock};
use crate::metrics::{ClockMetrics, ClockSummary, PacketStats};
use crate::network::{Network, Transit};
use crate::random::{CLOCK_STREAM_BASE, NODE_STREAM_BASE, stream_rng};
use crate::scenario::{ClientContext, Scenario};
use crate::server::NtpServer;
use crate::{NodeId, SimError};

/// A node the simulator drives: a sans-IO state machine that is told the
/// time (its own clock's reading) and asked for what it wants to do.
///
/// After each `handle_*` call the simulator drains, in this order,
/// [`poll_clock_action`](Self::poll_clock_action) (applying each action to the
/// node's clock), [`poll_transmit`](Self::poll_transmit) (sending each packet
/// at the current instant), then asks [`poll_timeout`](Self::poll_timeout)
/// when to call [`handle_timeout`](Self::handle_timeout) next.
pub trait SimNode {
    /// The node starts; `now` is its clock's reading.
    fn handle_start(&mut self, now: UnixTime) {
        let _ = now;
    }

    /// A packet from `from` arrived when the node's clock read `now` (the
    /// receive timestamp).
    fn handle_packet(&mut self, now: UnixTime, from: SocketAddr, bytes: &[u8]);

    /// The deadline returned by [`poll_timeout`](Self::poll_timeout) was
    /// reached (possibly a little early, e.g. after a leap second stepped the
    /// clock back; the node should then ask for the same deadline again).
    fn handle_timeout(&mut self, now: UnixTime);

    /// When the node next wants [`handle_timeout`](Self::handle_timeout), in
    /// its own clock's time.
    fn poll_timeout(&mut self) -> Option<UnixTime>;

    /// A packet to send now.
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)>;

    /// An adjustment of the node's clock to make now.
    fn poll_clock_action(&mut self) -> Option<ClockAction>;

    /// The clock refused `action`.
    fn handle_clock_error(&mut self, now: UnixTime, action: ClockAction, error: ClockError) {
        let _ = (now, action, error);
    }
}

/// Whether a node is a built-in server or a caller's client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// A [`NtpServer`].
    Server,
    /// A node built by the caller.
    Client,
}

/// The results for one node.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    /// Its id.
    pub id: NodeId,
    /// Its address.
    pub addr: SocketAddr,
    /// Server or client.
    pub role: Role,
    /// Its clock's metrics.
    pub clock: ClockSummary,
    /// Its packets.
    pub packets: PacketStats,
    /// What was done to its clock.
    pub clock_log: ClockLog,
    /// Its clock's offset at the end, seconds.
    pub final_offset: f64,
    /// Its clock's frequency error at the end, a ratio.
    pub final_freq: f64,
}

/// The results of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Every node, servers first.
    pub nodes: Vec<NodeReport>,
    /// Simulated seconds.
    pub simulated_secs: f64,
    /// Events processed (samples, wake-ups, deliveries).
    pub events: u64,
    /// Packets lost, sent while a link was down, or sent to no node.
    pub dropped_packets: u64,
}

impl Report {
    /// The clients' reports.
    pub fn clients(&self) -> impl Iterator<Item = &NodeReport> {
        self.nodes.iter().filter(|n| n.role == Role::Client)
    }
}

struct Slot {
    id: NodeId,
    role: Role,
    node: Box<dyn SimNode>,
    clock: SimClock,
    start: UnixTime,
    started: bool,
    /// The node's deadline converted to true time.
    wake: Option<UnixTime>,
    /// The deadline in the node's clock time.
    deadline: Option<UnixTime>,
    metrics: ClockMetrics,
    packets: PacketStats,
}

struct Delivery {
    at: UnixTime,
    seq: u64,
    from: NodeId,
    to: NodeId,
    delay: f64,
    bytes: Vec<u8>,
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Delivery {}
impl PartialOrd for Delivery {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Delivery {
    fn cmp(&self, other: &Self) -> Ordering {
        (self.at, self.seq).cmp(&(other.at, other.seq))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    Tick,
    Node(usize),
    Packet,
}

/// How many times one node may be handled at one instant before the run is
/// declared stuck (a node whose deadline never moves forward).
const MAX_SAME_INSTANT: u32 = 10_000;

/// A running simulation.
pub struct Simulation {
    slots: Vec<Slot>,
    network: Network,
    queue: BinaryHeap<Reverse<Delivery>>,
    seq: u64,
    now: UnixTime,
    next_tick: UnixTime,
    end: UnixTime,
    events: u64,
    dropped: u64,
    same_instant: (UnixTime, usize, u32),
}

impl Simulation {
    /// Sets up `scenario`, building each client with `make_client`.
    ///
    /// # Errors
    /// [`SimError::InvalidScenario`] for parameters out of range.
    pub fn new<F>(scenario: &Scenario, mut make_client: F) -> Result<Self, SimError>
    where
        F: FnMut(&ClientContext<'_>) -> Box<dyn SimNode>,
    {
        scenario.validate()?;
        let network = Network::new(
            scenario.seed,
            scenario.links.clone(),
            &scenario.link_overrides,
        )?;
        let mut slots = Vec::with_capacity(scenario.node_count());
        for s in &scenario.servers {
            let node = Box::new(NtpServer::new(s.server.clone()));
            slots.push(Self::slot(
                scenario,
                slots.len(),
                Role::Server,
                &s.clock,
                s.start,
                node,
            )?);
        }
        for (index, c) in scenario.clients.iter().enumerate() {
            let id = scenario.client_id(index);
            let ctx = ClientContext {
                index,
                id,
                addr: id.addr(),
                servers: scenario.server_addrs(),
                seed: stream_rng(scenario.seed, NODE_STREAM_BASE + id.0 as u64).random(),
                scenario,
            };
            let node = make_client(&ctx);
            slots.push(Self::slot(
                scenario,
                id.0,
                Role::Client,
                &c.clock,
                c.start,
                node,
            )?);
        }
        Ok(Simulation {
            slots,
            network,
            queue: BinaryHeap::new(),
            seq: 0,
            now: SIM_EPOCH,
            next_tick: SIM_EPOCH,
            end: SIM_EPOCH.add_secs(scenario.duration),
            events: 0,
            dropped: 0,
            same_instant: (SIM_EPOCH, 0, 0),
        })
    }

    fn slot(
        scenario: &Scenario,
        index: usize,
        role: Role,
        clock: &crate::clock::ClockParams,
        start: f64,
        node: Box<dyn SimNode>,
    ) -> Result<Slot, SimError> {
        let rng = stream_rng(scenario.seed, CLOCK_STREAM_BASE + index as u64);
        Ok(Slot {
            id: NodeId(index),
            role,
            node,
            clock: SimClock::new(clock, SIM_EPOCH, rng)?,
            start: SIM_EPOCH.add_secs(start),
            started: false,
            wake: None,
            deadline: None,
            metrics: ClockMetrics::new(&scenario.metrics),
            packets: PacketStats::default(),
        })
    }

    /// True time now.
    pub fn now(&self) -> UnixTime {
        self.now
    }

    /// Seconds of true time since the start.
    pub fn elapsed(&self) -> f64 {
        self.now.diff_secs(SIM_EPOCH)
    }

    /// The clock of node `id`, if it exists.
    pub fn clock(&self, id: NodeId) -> Option<&SimClock> {
        self.slots.get(id.0).map(|s| &s.clock)
    }

    /// Runs to the end of the scenario and reports.
    ///
    /// # Errors
    /// [`SimError::Livelock`] if a node keeps asking to be woken at the same
    /// instant.
    pub fn run(mut self) -> Result<Report, SimError> {
        self.run_until(self.end)?;
        Ok(self.report())
    }

    /// Runs every event up to and including true time `t` (at most the end
    /// of the scenario).
    ///
    /// # Errors
    /// As [`run`](Self::run).
    pub fn run_until(&mut self, t: UnixTime) -> Result<(), SimError> {
        let limit = t.min(self.end);
        while let Some((at, event)) = self.next_event() {
            if at > limit {
                break;
            }
            self.now = at;
            self.events += 1;
            match event {
                Event::Tick => self.tick(),
                Event::Node(i) => self.wake(i)?,
                Event::Packet => self.deliver(),
            }
        }
        self.now = self.now.max(limit);
        for s in &mut self.slots {
            s.clock.advance_to(self.now);
        }
        Ok(())
    }

    fn next_event(&self) -> Option<(UnixTime, Event)> {
        let tick = (self.next_tick, Event::Tick);
        let nodes = self.slots.iter().enumerate().map(|(i, s)| {
            let at = if s.started {
                // A leap second changes the clock before the next tick.
                let change = s.clock.next_change();
                s.wake.map_or(change, |w| w.min(change))
            } else {
                s.start
            };
            (at, Event::Node(i))
        });
        let packet = self.queue.peek().map(|Reverse(d)| (d.at, Event::Packet));
        std::iter::once(tick).chain(nodes).chain(packet).min()
    }

    /// The per-second update: every clock's wander step, then the samples.
    fn tick(&mut self) {
        let elapsed = self.now.diff_secs(SIM_EPOCH);
        for s in &mut self.slots {
            s.clock.advance_to(self.now);
            let (offset, freq) = (s.clock.true_offset(), s.clock.frequency_error());
            s.metrics.record(elapsed, offset, freq);
            s.wake = s.deadline.map(|d| s.clock.true_time_of(d));
        }
        self.next_tick = self.next_tick.add_secs(1.0);
    }

    fn wake(&mut self, i: usize) -> Result<(), SimError> {
        self.check_livelock(i)?;
        let now = self.now;
        let s = &mut self.slots[i];
        s.clock.advance_to(now);
        let reading = s.clock.now();
        if !s.started {
            s.started = true;
            s.node.handle_start(reading);
        } else if s.deadline.is_some_and(|d| reading >= d) {
            s.deadline = None;
            s.node.handle_timeout(reading);
        }
        self.drain(i);
        Ok(())
    }

    fn check_livelock(&mut self, i: usize) -> Result<(), SimError> {
        let (at, node, count) = &mut self.same_instant;
        if *at == self.now && *node == i {
            *count += 1;
            if *count > MAX_SAME_INSTANT {
                return Err(SimError::Livelock {
                    node: NodeId(i),
                    elapsed: self.now.diff_secs(SIM_EPOCH),
                });
            }
        } else {
            self.same_instant = (self.now, i, 0);
        }
        Ok(())
    }

    fn deliver(&mut self) {
        let Some(Reverse(d)) = self.queue.pop() else {
            return;
        };
        let now = self.now;
        let elapsed = now.diff_secs(SIM_EPOCH);
        let s = &mut self.slots[d.to.0];
        if !s.started {
            self.dropped += 1;
            return;
        }
        s.clock.advance_to(now);
        s.packets.record_received(elapsed, d.delay);
        let reading = s.clock.now();
        s.node.handle_packet(reading, d.from.addr(), &d.bytes);
        self.drain(d.to.0);
    }

    /// Collects what node `i` wants done after it was handled.
    fn drain(&mut self, i: usize) {
        let s = &mut self.slots[i];
        while let Some(action) = s.node.poll_clock_action() {
            if let Err(e) = s.clock.apply(action) {
                let reading = s.clock.now();
                s.node.handle_clock_error(reading, action, e);
            }
        }
        while let Some((to, bytes)) = self.slots[i].node.poll_transmit() {
            self.send(i, to, bytes);
        }
        let s = &mut self.slots[i];
        s.deadline = s.node.poll_timeout();
        s.wake = s.deadline.map(|d| s.clock.true_time_of(d));
    }

    fn send(&mut self, from: usize, to: SocketAddr, bytes: Vec<u8>) {
        let elapsed = self.now.diff_secs(SIM_EPOCH);
        let Some(dest) = self.node_at(to.ip()) else {
            self.slots[from].packets.record_sent(elapsed, None);
            self.dropped += 1;
            return;
        };
        let from = NodeId(from);
        match self.network.transit(from, dest, elapsed) {
            Transit::Delivered(delay) => {
                self.slots[from.0].packets.record_sent(elapsed, Some(delay));
                self.seq += 1;
                self.queue.push(Reverse(Delivery {
                    at: self.now.add_secs(delay),
                    seq: self.seq,
                    from,
                    to: dest,
                    delay,
                    bytes,
                }));
            }
            Transit::Lost | Transit::Down => {
                self.slots[from.0].packets.record_sent(elapsed, None);
                self.dropped += 1;
            }
        }
    }

    fn node_at(&self, ip: IpAddr) -> Option<NodeId> {
        self.slots.iter().map(|s| s.id).find(|id| id.ip() == ip)
    }

    /// The results so far.
    pub fn report(&self) -> Report {
        let nodes = self
            .slots
            .iter()
            .map(|s| NodeReport {
                id: s.id,
                addr: s.id.addr(),
                role: s.role,
                clock: s.metrics.summary(),
                packets: s.packets.clone(),
                clock_log: s.clock.log().clone(),
                final_offset: s.clock.true_offset(),
                final_freq: s.clock.frequency_error(),
            })
            .collect();
        Report {
            nodes,
            simulated_secs: self.elapsed(),
            events: self.events,
            dropped_packets: self.dropped,
        }
    }
}

/// Sets up and runs `scenario`, building each client with `make_client`.
///
/// # Errors
/// As [`Simulation::new`] and [`Simulation::run`].
pub fn run<F>(scenario: &Scenario, make_client: F) -> Result<Report, SimError>
where
    F: FnMut(&ClientContext<'_>) -> Box<dyn SimNode>,
{
    Simulation::new(scenario, make_client)?.run()
}
