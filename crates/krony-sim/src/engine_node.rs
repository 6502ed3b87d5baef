//! [`EngineNode`]: krony's real [`Engine`] as a simulated node.
//!
//! The node is configured with chrony.conf text (parsed by krony-config);
//! source lines must name IP addresses (there is no DNS in the
//! simulation). [`EngineNode::client_config`] writes a `server` line for
//! every simulated server. Every packet is delivered as if it arrived on
//! the server socket with a daemon timestamp, which routes it as chrony
//! does (a response to its source, a request to the NTP server).
//!
//! What happens inside is recorded in an [`EngineProbe`] the test keeps: log
//! lines, the selection states each source has been in, measurements.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;

use krony_engine::clock::{ClockAction, ClockError};
use krony_engine::discipline::LogLevel;
use krony_engine::engine::LogMessage;
use krony_engine::source::MeasurementRecord;
use krony_engine::{Engine, EngineConfig, EngineEvent, Incoming};
use krony_wire::UnixTime;

use crate::runner::{Report, run};
use crate::scenario::{ClientContext, Scenario};
use crate::{SimError, SimNode};

/// Why an engine node could not be built.
#[derive(Debug, thiserror::Error)]
pub enum EngineNodeError {
    /// The configuration text does not parse.
    #[error(transparent)]
    Config(#[from] krony_config::ConfigError),
    /// The engine refused the configuration.
    #[error(transparent)]
    Server(#[from] krony_engine::server::ServerError),
    /// A source line names a host, not an address.
    #[error("source {0} is not an IP address")]
    NotAnAddress(String),
}

/// What an [`EngineNode`] recorded, shared with the test that built it.
#[derive(Debug, Default)]
pub struct ProbeData {
    /// Every log line, with the node's clock reading when it was emitted.
    pub log: Vec<(UnixTime, LogMessage)>,
    /// The selection states (chronyc selectdata's `S` characters) each
    /// source, by address, has been in after any selection round.
    pub states: BTreeMap<SocketAddr, BTreeSet<char>>,
    /// Measurements (with `log measurements` in the configuration).
    pub measurements: Vec<MeasurementRecord>,
    /// Exit requests.
    pub exits: Vec<bool>,
    /// Whether the reference was synchronised when last looked at.
    pub synchronised: bool,
}

impl ProbeData {
    /// How many log lines contain `text`.
    pub fn count_log(&self, text: &str) -> usize {
        self.log
            .iter()
            .filter(|(_, m)| m.text.contains(text))
            .count()
    }

    /// Whether the source at `addr` was ever in the state `c`.
    pub fn was_in_state(&self, addr: SocketAddr, c: char) -> bool {
        self.states.get(&addr).is_some_and(|s| s.contains(&c))
    }
}

/// The test's handle on what an [`EngineNode`] recorded.
#[derive(Debug, Clone, Default)]
pub struct EngineProbe(Rc<RefCell<ProbeData>>);

impl EngineProbe {
    /// Reads the recorded data.
    pub fn with<T>(&self, f: impl FnOnce(&ProbeData) -> T) -> T {
        f(&self.0.borrow())
    }
}

/// A simulated node running krony's [`Engine`].
#[derive(Debug)]
pub struct EngineNode {
    config: EngineConfig,
    sources: Vec<krony_config::SourceSpec>,
    seed: u64,
    engine: Option<Engine>,
    probe: EngineProbe,
    /// A change of the oscillator's frequency to simulate: from this clock
    /// reading on, every frequency correction is off by this many ppm.
    freq_step: Option<(UnixTime, f64)>,
    freq_step_active: bool,
    last_correction_ppm: f64,
    /// The biased correction to set at once when the change starts.
    pending_bias: Option<f64>,
}

impl EngineNode {
    /// The lines `server ADDR OPTIONS` for every server of the scenario,
    /// followed by `extra` (the rest of the configuration).
    pub fn client_config(ctx: &ClientContext<'_>, options: &str, extra: &str) -> String {
        let mut text = String::new();
        for s in &ctx.servers {
            text.push_str(&format!("server {} {options}\n", s.ip()));
        }
        text.push_str(extra);
        text.push('\n');
        text
    }

    /// A node configured by chrony.conf `text`; its clock precision is the
    /// simulated clock's resolution unless `clockprecision` says otherwise.
    ///
    /// # Errors
    /// [`EngineNodeError`] for text that does not parse, host names, or a
    /// configuration the engine refuses.
    pub fn new(
        ctx: &ClientContext<'_>,
        text: &str,
    ) -> Result<(Self, EngineProbe), EngineNodeError> {
        let parsed = krony_config::parse_str(text, "sim.conf")?;
        let resolution = ctx
            .scenario
            .clients
            .get(ctx.index)
            .map_or(1, |c| c.clock.resolution_ns);
        let precision = parsed
            .config
            .clock_precision
            .unwrap_or(f64::from(resolution) * 1e-9);
        let config = EngineConfig::from_config_with(&parsed.config, precision, |_| None)?;
        for s in &parsed.config.sources {
            if s.host.parse::<IpAddr>().is_err() {
                return Err(EngineNodeError::NotAnAddress(s.host.clone()));
            }
        }
        let probe = EngineProbe::default();
        let node = EngineNode {
            config,
            sources: parsed.config.sources,
            seed: ctx.seed,
            engine: None,
            probe: probe.clone(),
            freq_step: None,
            freq_step_active: false,
            last_correction_ppm: 0.0,
            pending_bias: None,
        };
        Ok((node, probe))
    }

    /// Simulates a sudden change of the oscillator's frequency by `ppm`
    /// (positive = faster) when the node's clock reads `at`: the corrections
    /// the engine sets from then on are applied with that bias, which the
    /// engine does not know about, exactly as if the crystal had changed.
    pub fn with_frequency_step(mut self, at: UnixTime, ppm: f64) -> Self {
        self.freq_step = Some((at, ppm));
        self
    }

    /// The engine, once the node has started.
    pub fn engine(&self) -> Option<&Engine> {
        self.engine.as_ref()
    }

    /// Records the engine's events and the selection states; starts the
    /// simulated frequency change when its time has come.
    fn record(&mut self, now: UnixTime) {
        if let Some((at, ppm)) = self.freq_step {
            if !self.freq_step_active && now >= at {
                self.freq_step_active = true;
                self.pending_bias = Some(self.last_correction_ppm + ppm);
            }
        }
        let Some(engine) = &mut self.engine else {
            return;
        };
        let mut data = self.probe.0.borrow_mut();
        while let Some(e) = engine.poll_event() {
            match e {
                EngineEvent::Log(m) if m.level >= LogLevel::Info => data.log.push((now, m)),
                EngineEvent::Measurement(r) => data.measurements.push(*r),
                EngineEvent::Exit { success } => data.exits.push(success),
                _ => {}
            }
        }
        data.synchronised = engine.reference().is_synchronised();
        for (id, state) in engine.select_states() {
            if let Some(s) = engine.source(id) {
                data.states
                    .entry(s.remote())
                    .or_default()
                    .insert(state.as_char());
            }
        }
    }
}

impl SimNode for EngineNode {
    fn handle_start(&mut self, now: UnixTime) {
        // OK to drop the error: the configuration was checked by `new`, and
        // a refused server configuration leaves the node inert.
        let Ok(mut engine) = Engine::new(self.config.clone(), now, self.seed) else {
            return;
        };
        for s in &self.sources {
            let Ok(ip) = s.host.parse::<IpAddr>() else {
                continue;
            };
            let addr = SocketAddr::new(ip, s.options.port);
            // A duplicate line is ignored, as chronyd ignores it.
            let _ = engine.add_source(now, addr, s.kind, &s.options, &s.host);
        }
        self.engine = Some(engine);
        self.record(now);
    }

    fn handle_packet(&mut self, now: UnixTime, from: SocketAddr, bytes: &[u8]) {
        if let Some(engine) = &mut self.engine {
            engine.handle_packet(now, &Incoming::new(bytes, from, now));
        }
        self.record(now);
    }

    fn handle_timeout(&mut self, now: UnixTime) {
        if let Some(engine) = &mut self.engine {
            if engine.poll_timeout().is_some_and(|t| t <= now) {
                engine.handle_timeout(now);
            }
        }
        self.record(now);
    }

    fn poll_timeout(&mut self) -> Option<UnixTime> {
        let engine = self.engine.as_ref()?.poll_timeout();
        let step = self
            .freq_step
            .filter(|_| !self.freq_step_active)
            .map(|(t, _)| t);
        match (engine, step) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.engine
            .as_mut()?
            .poll_transmit()
            .map(|t| (t.to, t.bytes))
    }

    fn poll_clock_action(&mut self) -> Option<ClockAction> {
        if let Some(correction_ppm) = self.pending_bias.take() {
            return Some(ClockAction::SetFrequency { correction_ppm });
        }
        let bias = match self.freq_step {
            Some((_, ppm)) if self.freq_step_active => ppm,
            _ => 0.0,
        };
        match self.engine.as_mut()?.poll_clock_action() {
            Some(ClockAction::SetFrequency { correction_ppm }) => {
                self.last_correction_ppm = correction_ppm;
                Some(ClockAction::SetFrequency {
                    correction_ppm: correction_ppm + bias,
                })
            }
            Some(other) => Some(other),
            None => None,
        }
    }

    fn handle_clock_error(&mut self, now: UnixTime, action: ClockAction, error: ClockError) {
        let text = format!("Clock refused {action:?}: {error}");
        self.probe.0.borrow_mut().log.push((
            now,
            LogMessage {
                level: LogLevel::Error,
                text,
            },
        ));
    }
}

/// A node that does nothing (stands in for a node that could not be built).
struct Inert;

impl SimNode for Inert {
    fn handle_packet(&mut self, _: UnixTime, _: SocketAddr, _: &[u8]) {}
    fn handle_timeout(&mut self, _: UnixTime) {}
    fn poll_timeout(&mut self) -> Option<UnixTime> {
        None
    }
    fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        None
    }
    fn poll_clock_action(&mut self) -> Option<ClockAction> {
        None
    }
}

/// Runs `scenario` with every client an [`EngineNode`] configured by
/// `config(ctx)`; returns the report and each client's probe, in order.
///
/// # Errors
/// [`SimError`] from the run; a configuration that does not build a node
/// is reported as [`SimError::InvalidScenario`].
pub fn run_engines<F>(
    scenario: &Scenario,
    mut config: F,
) -> Result<(Report, Vec<EngineProbe>), SimError>
where
    F: FnMut(&ClientContext<'_>) -> String,
{
    let mut probes = Vec::new();
    let mut error = None;
    let report = run(scenario, |ctx| {
        let text = config(ctx);
        match EngineNode::new(ctx, &text) {
            Ok((node, probe)) => {
                probes.push(probe);
                Box::new(node)
            }
            Err(e) => {
                error = Some(format!("client {}: {e}", ctx.index));
                probes.push(EngineProbe::default());
                Box::new(Inert)
            }
        }
    })?;
    match error {
        Some(e) => Err(SimError::InvalidScenario(e)),
        None => Ok((report, probes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_node_synchronises_in_the_default_scenario() {
        let mut scenario = Scenario::chrony_default(7);
        scenario.duration = 1000.0;
        let mut probe = None;
        let report = run(&scenario, |ctx| {
            let text = EngineNode::client_config(ctx, "", "");
            let (node, p) = EngineNode::new(ctx, &text).expect("valid config");
            probe = Some(p);
            Box::new(node)
        })
        .expect("runs");
        let probe = probe.expect("client built");
        assert_eq!(
            probe.with(|d| d.count_log("Selected source 192.168.123.1")),
            1
        );
        let client = report.clients().next().expect("one client");
        assert!(client.final_offset.abs() < 1e-3, "{client:?}");
        assert!(client.clock_log.steps.is_empty());
    }

    #[test]
    fn host_names_are_refused() {
        let scenario = Scenario::chrony_default(1);
        let ctx = ClientContext {
            index: 0,
            id: scenario.client_id(0),
            addr: scenario.client_id(0).addr(),
            servers: scenario.server_addrs(),
            seed: 1,
            scenario: &scenario,
        };
        assert!(matches!(
            EngineNode::new(&ctx, "server ntp.example\n"),
            Err(EngineNodeError::NotAnAddress(_))
        ));
        assert!(matches!(
            EngineNode::new(&ctx, "server 192.0.2.1 minpoll x\n"),
            Err(EngineNodeError::Config(_))
        ));
    }
}
