//! What to simulate: nodes with their clocks, links, duration, seed.
//!
//! Nodes are numbered servers first, then clients (as in chrony's simulation
//! tests, where node N is 192.168.123.N): server `i` is `NodeId(i)`, client
//! `j` is `NodeId(servers.len() + j)`.

use std::net::SocketAddr;

use crate::clock::ClockParams;
use crate::metrics::MetricsConfig;
use crate::network::{LinkOverride, LinkPair};
use crate::server::ServerParams;
use crate::{NodeId, SimError};

/// A simulated NTP server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerSpec {
    /// Its clock (perfect by default).
    pub clock: ClockParams,
    /// What it answers.
    pub server: ServerParams,
    /// When it starts answering, seconds after the start.
    pub start: f64,
}

impl Default for ServerSpec {
    fn default() -> Self {
        ServerSpec {
            clock: ClockParams::default(),
            server: ServerParams::default(),
            start: 0.0,
        }
    }
}

/// A client: a node built by the caller (e.g. krony's engine) whose clock
/// is disciplined and measured.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientSpec {
    /// Its clock before any correction.
    pub clock: ClockParams,
    /// When it starts, seconds after the start.
    pub start: f64,
}

impl Default for ClientSpec {
    /// chrony's test client: 0.1 s, 100 ppm, 1 ppb wander, starting at 0.
    fn default() -> Self {
        ClientSpec {
            clock: ClockParams::chrony_client(),
            start: 0.0,
        }
    }
}

/// A complete simulation description.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// Seed of every random stream (clock wander, link delays, node seeds).
    pub seed: u64,
    /// Simulated seconds; samples are taken at 0, 1, ..., `duration`.
    pub duration: f64,
    /// The servers, nodes 0 to `servers.len() - 1`.
    pub servers: Vec<ServerSpec>,
    /// The clients, numbered after the servers.
    pub clients: Vec<ClientSpec>,
    /// The link between any two nodes.
    pub links: LinkPair,
    /// Directions that differ from `links`.
    pub link_overrides: Vec<LinkOverride>,
    /// How the metrics are taken.
    pub metrics: MetricsConfig,
}

impl Scenario {
    /// chrony's default simulation test (`test/simulation/test.common`): one
    /// primary server with a perfect clock, one client with 0.1 s offset,
    /// 100 ppm frequency error and 1 ppb/√s wander, links of 100 µs base
    /// delay plus 100 µs mean exponential jitter, 10 000 s, statistics after
    /// 210 s.
    pub fn chrony_default(seed: u64) -> Self {
        Scenario {
            seed,
            duration: 10_000.0,
            servers: vec![ServerSpec::default()],
            clients: vec![ClientSpec::default()],
            links: LinkPair::chrony_default(),
            link_overrides: Vec::new(),
            metrics: MetricsConfig::default(),
        }
    }

    /// The id of server `i`.
    pub fn server_id(&self, i: usize) -> NodeId {
        NodeId(i)
    }

    /// The id of client `j`.
    pub fn client_id(&self, j: usize) -> NodeId {
        NodeId(self.servers.len() + j)
    }

    /// The addresses of all servers, in order.
    pub fn server_addrs(&self) -> Vec<SocketAddr> {
        (0..self.servers.len())
            .map(|i| self.server_id(i).addr())
            .collect()
    }

    /// Number of nodes.
    pub fn node_count(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    /// Checks what the runner cannot check piecemeal (clocks and links are
    /// checked when built).
    ///
    /// # Errors
    /// [`SimError::InvalidScenario`] for a negative or non-finite duration or
    /// start time, or a link override naming a missing node.
    pub fn validate(&self) -> Result<(), SimError> {
        let bad = |what: String| Err(SimError::InvalidScenario(what));
        if !(self.duration.is_finite() && self.duration >= 0.0) {
            return bad(format!("duration {}", self.duration));
        }
        let starts = self.servers.iter().map(|s| s.start);
        if let Some(s) = starts
            .chain(self.clients.iter().map(|c| c.start))
            .find(|s| !(s.is_finite() && *s >= 0.0))
        {
            return bad(format!("start time {s}"));
        }
        let n = self.node_count();
        if let Some(o) = self
            .link_overrides
            .iter()
            .find(|o| o.from.0 >= n || o.to.0 >= n)
        {
            return bad(format!("link override {:?} -> {:?}", o.from, o.to));
        }
        Ok(())
    }
}

/// What the caller's client factory gets to build a client node.
#[derive(Debug, Clone)]
pub struct ClientContext<'a> {
    /// The client's index among the clients.
    pub index: usize,
    /// Its node id.
    pub id: NodeId,
    /// Its own address.
    pub addr: SocketAddr,
    /// The servers' addresses, in order.
    pub servers: Vec<SocketAddr>,
    /// A seed for the node's own randomness, derived from the scenario seed.
    pub seed: u64,
    /// The whole scenario.
    pub scenario: &'a Scenario,
}
