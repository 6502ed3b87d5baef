//! Deterministic simulator running krony-engine against simulated clocks and networks.
#![forbid(unsafe_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

pub mod clock;
pub mod network;
pub mod random;

/// Why a simulation could not be set up or run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SimError {
    /// The scenario has a parameter out of range.
    #[error("invalid scenario: {0}")]
    InvalidScenario(String),
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
