//! Helpers of the two-host scenario tests (`two_host.rs`): the lab network
//! of namespaces and the daemons running in it.
#![allow(dead_code)]

pub mod daemons;
pub mod netns;
