//! Simulated links between nodes: delay, jitter, loss and outages, per
//! direction.
//!
//! A packet's one-way delay is `base_delay + jitter * X` with `X` drawn from the
//! exponential distribution of mean 1, the model of chrony's simulation tests
//! (`get_delay_expr` in chrony's `test/simulation/test.common`:
//! `(+ base_delay (* asym jitter (exponential)))`). Each direction of each pair
//! of nodes draws from its own random stream, two numbers per packet (loss,
//! then delay), whether or not the packet is lost, so the delays a link gives
//! do not depend on its loss setting.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::random::{LINK_STREAM_BASE, exponential, stream_rng};
use crate::{NodeId, SimError};

/// A time window during which a link carries nothing, in seconds since the
/// start of the simulation: down from `start` (inclusive) to `end`
/// (exclusive).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Outage {
    /// Start of the window, seconds since the start.
    pub start: f64,
    /// End of the window, seconds since the start.
    pub end: f64,
}

/// One direction of a link.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkParams {
    /// The smallest one-way delay, seconds.
    pub base_delay: f64,
    /// The mean of the exponential delay added to the base, seconds.
    pub jitter: f64,
    /// The probability that a packet is lost, 0 to 1.
    pub loss: f64,
    /// Windows when the link is down (packets sent then are lost).
    pub outages: Vec<Outage>,
}

impl LinkParams {
    /// A link with the given base delay and mean exponential jitter, no loss.
    pub fn new(base_delay: f64, jitter: f64) -> Self {
        LinkParams {
            base_delay,
            jitter,
            loss: 0.0,
            outages: Vec::new(),
        }
    }

    /// The same link losing packets with probability `loss`.
    pub fn with_loss(mut self, loss: f64) -> Self {
        self.loss = loss;
        self
    }

    /// The same link, also down from `start` to `end` seconds.
    pub fn with_outage(mut self, start: f64, end: f64) -> Self {
        self.outages.push(Outage { start, end });
        self
    }

    /// Whether the link is down `elapsed` seconds after the start.
    pub fn is_down(&self, elapsed: f64) -> bool {
        self.outages
            .iter()
            .any(|o| (o.start..o.end).contains(&elapsed))
    }

    fn validate(&self) -> Result<(), SimError> {
        let ok = self.base_delay.is_finite()
            && self.base_delay >= 0.0
            && self.jitter.is_finite()
            && self.jitter >= 0.0
            && (0.0..=1.0).contains(&self.loss)
            && self
                .outages
                .iter()
                .all(|o| o.start.is_finite() && o.end.is_finite());
        if ok {
            Ok(())
        } else {
            Err(SimError::InvalidScenario(format!("bad link {self:?}")))
        }
    }
}

/// Both directions of a link. `up` carries packets from a node to one
/// created before it (clients to servers: scenarios list servers first),
/// `down` the other way, as in chrony's simulation tests.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkPair {
    /// Towards the node with the lower [`NodeId`].
    pub up: LinkParams,
    /// Towards the node with the higher [`NodeId`].
    pub down: LinkParams,
}

impl LinkPair {
    /// The same parameters both ways.
    pub fn symmetric(base_delay: f64, jitter: f64) -> Self {
        LinkPair {
            up: LinkParams::new(base_delay, jitter),
            down: LinkParams::new(base_delay, jitter),
        }
    }

    /// chrony's test link: the jitter scaled by `1 - 2a` upwards and `1 + 2a`
    /// downwards for a jitter asymmetry `a` (`jitter_asymmetry` in
    /// `test.common`), so the mean delays differ by `4 a jitter`.
    pub fn chrony(base_delay: f64, jitter: f64, jitter_asymmetry: f64) -> Self {
        LinkPair {
            up: LinkParams::new(base_delay, jitter * (1.0 - 2.0 * jitter_asymmetry)),
            down: LinkParams::new(base_delay, jitter * (1.0 + 2.0 * jitter_asymmetry)),
        }
    }

    /// The defaults of chrony's simulation tests: 100 µs base delay, 100 µs
    /// mean jitter, symmetric.
    pub fn chrony_default() -> Self {
        LinkPair::chrony(1e-4, 1e-4, 0.0)
    }
}

impl Default for LinkPair {
    fn default() -> Self {
        LinkPair::chrony_default()
    }
}

/// Parameters for one direction between two nodes, replacing the default.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkOverride {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// The link from `from` to `to`.
    pub params: LinkParams,
}

/// What happened to a packet put on a link.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transit {
    /// Delivered after this many seconds.
    Delivered(f64),
    /// Lost at random.
    Lost,
    /// Sent while the link was down.
    Down,
}

/// All links of a simulation.
#[derive(Debug, Clone)]
pub struct Network {
    seed: u64,
    default: LinkPair,
    overrides: BTreeMap<(NodeId, NodeId), LinkParams>,
    rngs: BTreeMap<(NodeId, NodeId), ChaCha8Rng>,
}

impl Network {
    /// A network where every pair of nodes is joined by `default`, except
    /// the directions in `overrides`.
    ///
    /// # Errors
    /// [`SimError::InvalidScenario`] for negative or non-finite delays and
    /// loss probabilities outside 0 to 1.
    pub fn new(seed: u64, default: LinkPair, overrides: &[LinkOverride]) -> Result<Self, SimError> {
        default.up.validate()?;
        default.down.validate()?;
        let mut map = BTreeMap::new();
        for o in overrides {
            o.params.validate()?;
            map.insert((o.from, o.to), o.params.clone());
        }
        Ok(Network {
            seed,
            default,
            overrides: map,
            rngs: BTreeMap::new(),
        })
    }

    /// The link from `from` to `to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkParams {
        match self.overrides.get(&(from, to)) {
            Some(p) => p,
            None if from > to => &self.default.up,
            None => &self.default.down,
        }
    }

    /// Puts a packet on the link from `from` to `to`, `elapsed` seconds after
    /// the start: how long it takes, or why it is lost.
    pub fn transit(&mut self, from: NodeId, to: NodeId, elapsed: f64) -> Transit {
        let seed = self.seed;
        let rng = self.rngs.entry((from, to)).or_insert_with(|| {
            // 20 bits per node index: more nodes than any scenario needs.
            let pair = ((from.0 as u64) << 20) | (to.0 as u64 & 0xF_FFFF);
            stream_rng(seed, LINK_STREAM_BASE + pair)
        });
        let u: f64 = rng.random();
        let x = exponential(rng);
        let link = self.link(from, to);
        if link.is_down(elapsed) {
            Transit::Down
        } else if u < link.loss {
            Transit::Lost
        } else {
            Transit::Delivered(link.base_delay + link.jitter * x)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: NodeId = NodeId(0);
    const B: NodeId = NodeId(1);

    fn mean_delay(net: &mut Network, from: NodeId, to: NodeId, n: usize) -> f64 {
        let mut sum = 0.0;
        for _ in 0..n {
            match net.transit(from, to, 0.0) {
                Transit::Delivered(d) => sum += d,
                other => panic!("unexpected {other:?}"),
            }
        }
        sum / n as f64
    }

    #[test]
    fn jitter_mean_matches_in_both_directions() {
        let mut net = Network::new(3, LinkPair::chrony(1e-4, 2e-4, 0.25), &[]).expect("valid");
        // Upwards (B -> A): jitter 2e-4 * 0.5; downwards 2e-4 * 1.5.
        let up = mean_delay(&mut net, B, A, 100_000);
        let down = mean_delay(&mut net, A, B, 100_000);
        assert!((up - 2e-4).abs() < 2e-6, "up {up}");
        assert!((down - 4e-4).abs() < 6e-6, "down {down}");
    }

    #[test]
    fn delays_never_fall_below_the_base() {
        let mut net = Network::new(1, LinkPair::symmetric(5e-3, 1e-3), &[]).expect("valid");
        for _ in 0..10_000 {
            match net.transit(A, B, 1.0) {
                Transit::Delivered(d) => assert!(d >= 5e-3),
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn loss_rate_matches() {
        let lossy = LinkParams::new(1e-3, 0.0).with_loss(0.2);
        let o = LinkOverride {
            from: A,
            to: B,
            params: lossy,
        };
        let mut net = Network::new(9, LinkPair::default(), &[o]).expect("valid");
        let n = 50_000;
        let lost = (0..n)
            .filter(|_| net.transit(A, B, 0.0) == Transit::Lost)
            .count();
        let rate = lost as f64 / n as f64;
        assert!((rate - 0.2).abs() < 0.01, "loss rate {rate}");
        // The other direction keeps the default, lossless link.
        assert!((0..1000).all(|_| matches!(net.transit(B, A, 0.0), Transit::Delivered(_))));
    }

    #[test]
    fn outages_drop_everything_inside_the_window() {
        let o = LinkOverride {
            from: B,
            to: A,
            params: LinkParams::new(1e-3, 1e-4).with_outage(100.0, 200.0),
        };
        let mut net = Network::new(0, LinkPair::default(), &[o]).expect("valid");
        assert!(matches!(net.transit(B, A, 99.9), Transit::Delivered(_)));
        assert_eq!(net.transit(B, A, 100.0), Transit::Down);
        assert_eq!(net.transit(B, A, 199.9), Transit::Down);
        assert!(matches!(net.transit(B, A, 200.0), Transit::Delivered(_)));
        assert!(matches!(net.transit(A, B, 150.0), Transit::Delivered(_)));
    }

    #[test]
    fn same_seed_same_delays_and_streams_are_independent() {
        let draws = |seed: u64, other_traffic: bool| {
            let mut net = Network::new(seed, LinkPair::default(), &[]).expect("valid");
            (0..100)
                .map(|_| {
                    if other_traffic {
                        net.transit(B, A, 0.0);
                    }
                    net.transit(A, B, 0.0)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(4, false), draws(4, false));
        assert_eq!(draws(4, false), draws(4, true));
        assert_ne!(draws(4, false), draws(5, false));
    }

    #[test]
    fn rejects_bad_links() {
        let bad = LinkPair::symmetric(-1.0, 0.0);
        assert!(Network::new(0, bad, &[]).is_err());
        let o = LinkOverride {
            from: A,
            to: B,
            params: LinkParams::new(0.0, 0.0).with_loss(1.5),
        };
        assert!(Network::new(0, LinkPair::default(), &[o]).is_err());
    }
}
