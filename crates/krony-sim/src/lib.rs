//! Deterministic simulator running krony's sans-IO engine against simulated
//! clocks and networks, much faster than real time.
//!
//! - [`clock`]: [`SimClock`](clock::SimClock), a node's clock (offset,
//!   frequency error, random-walk wander, resolution, leap seconds), which
//!   implements krony-engine's [`Clock`](krony_engine::clock::Clock);
//! - [`network`]: links with delay, exponential jitter, asymmetry, loss and
//!   outages, per direction;
//! - [`server`]: simulated NTP servers (honest or falsetickers);
//! - [`scenario`]: what to simulate; [`runner`]: the event loop and the
//!   [`SimNode`] trait a client (e.g. the engine's adapter) implements;
//! - [`naive`]: a naive reference client node;
//! - [`metrics`]: time to sync, max and RMS offset and frequency error,
//!   defined as clknetsim and chrony's simulation tests define them.
//!
//! Everything random comes from ChaCha8 streams derived from the scenario
//! seed: the same scenario and seed give bit-identical results.
//!
//! ```
//! use krony_sim::{Scenario, run};
//! let mut scenario = Scenario::chrony_default(1);
//! scenario.clients.clear(); // only the server: nothing to discipline
//! scenario.duration = 100.0;
//! let report = run(&scenario, |_| unreachable!("no clients"))?;
//! assert_eq!(report.nodes.len(), 1);
//! assert_eq!(report.simulated_secs, 100.0);
//! # Ok::<(), krony_sim::SimError>(())
//! ```
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub mod clock;
pub mod engine_node;
pub mod metrics;
pub mod naive;
pub mod network;
pub mod random;
pub mod runner;
pub mod scenario;
pub mod server;

pub use clock::{ClockParams, SIM_EPOCH, SimClock};
pub use engine_node::{EngineNode, EngineProbe};
pub use metrics::{ClockStats, ClockSummary, MetricsConfig, PacketStats, SyncCriteria};
pub use network::{LinkOverride, LinkPair, LinkParams, Outage};
pub use runner::{NodeReport, Report, Role, SimNode, Simulation, run};
pub use scenario::{ClientContext, ClientSpec, Scenario, ServerSpec};
pub use server::{NtpServer, ServerParams};

/// Why a simulation could not be set up or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The scenario has a parameter out of range.
    #[error("invalid scenario: {0}")]
    InvalidScenario(String),
    /// A node kept asking to be woken at the same instant.
    #[error("node {node:?} is stuck at {elapsed} s")]
    Livelock {
        /// The node.
        node: NodeId,
        /// Seconds since the start.
        elapsed: f64,
    },
}

/// The index of a node in a simulation (servers first, then clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

impl NodeId {
    /// The node's IP address: 192.168.123.1 for node 0 and up from there, as
    /// nodes are numbered in chrony's simulation tests (node N+1 there).
    pub fn ip(self) -> IpAddr {
        let base = u32::from(Ipv4Addr::new(192, 168, 123, 0));
        // OK: scenarios have far fewer than 2^24 nodes; wrapping keeps it total.
        IpAddr::V4(Ipv4Addr::from(
            base.wrapping_add(self.0 as u32).wrapping_add(1),
        ))
    }

    /// The node's NTP socket address (port 123).
    pub fn addr(self) -> SocketAddr {
        SocketAddr::new(self.ip(), krony_wire::ntp::PORT)
    }
}
