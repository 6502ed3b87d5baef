//! kronyc: the krony command-line client, compatible with chronyc.
//!
//! It speaks chrony's command and monitoring protocol (cmdmon, version 6)
//! to kronyd or chronyd and prints every report byte for byte as chronyc
//! does, in text and `-c` CSV; `--json` prints reports as JSON.
//!
//! Layers, bottom up: [`transport`] (sockets, timeouts, retries, reply
//! checks), [`client`] (status lines, names), [`report`] (chronyc's field
//! formats), [`reports`] (one module per report: fetch, render, JSON),
//! [`commands`] (command lines) and [`cli`] (options, prompt).
#![forbid(unsafe_code)]

pub mod cfmt;
pub mod cli;
pub mod client;
pub mod commands;
pub mod help;
pub mod names;
pub mod options;
pub mod report;
pub mod reports;
pub mod transport;
