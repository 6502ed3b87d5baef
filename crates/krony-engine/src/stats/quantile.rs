//! A streaming estimate of one quantile, for `maxdelayquant` (chrony's
//! `quantiles.c`): the Frugal-2U algorithm (Ma, Muthukrishnan, Sandler,
//! "Frugal Streaming for Estimating Quantiles", 2014), run several times in
//! parallel with independent random draws and combined by their median.
//! Each estimate moves towards a new value with a probability that keeps
//! it at the wanted quantile, in steps that grow while it keeps moving the
//! same way, so it needs no memory of past values.

use rand::Rng;

/// One Frugal-2U estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Estimate {
    value: f64,
    step: f64,
    /// Direction of the last move: up (true) or down.
    up: bool,
}

/// The estimate of the `k`/`q` quantile of a stream of values.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantileEstimator {
    estimates: Vec<Estimate>,
    /// The quantile, 0 to 1.
    p: f64,
    /// The smallest step, also the resolution of the estimate.
    min_step: f64,
    /// Steps shrink at most to this (negative) value, so that a long run
    /// of moves the other way does not make the estimate stall.
    neg_step_limit: f64,
    /// The first value was taken as the initial estimate.
    initialised: bool,
}

impl QuantileEstimator {
    /// An estimator of the `p` quantile (0 < p < 1) with `repeat` parallel
    /// estimates (at least 1), a resolution of `min_step` (> 0) and steps
    /// limited to `-large_step_delay * min_step` below.
    pub fn new(p: f64, repeat: usize, large_step_delay: u32, min_step: f64) -> Self {
        let repeat = repeat.max(1);
        let min_step = if min_step > 0.0 { min_step } else { 1e-9 };
        let mut q = QuantileEstimator {
            estimates: Vec::with_capacity(repeat),
            p,
            min_step,
            neg_step_limit: -f64::from(large_step_delay) * min_step,
            initialised: false,
        };
        q.estimates.resize(
            repeat,
            Estimate {
                value: 0.0,
                step: min_step,
                up: true,
            },
        );
        q.reset();
        q
    }

    /// Forgets every value.
    pub fn reset(&mut self) {
        self.initialised = false;
        for e in &mut self.estimates {
            *e = Estimate {
                value: 0.0,
                step: self.min_step,
                up: true,
            };
        }
    }

    /// The resolution of the estimate.
    pub fn min_step(&self) -> f64 {
        self.min_step
    }

    /// Adds a value. The first value is the initial estimate.
    pub fn accumulate(&mut self, value: f64, rng: &mut impl Rng) {
        if !self.initialised {
            for e in &mut self.estimates {
                e.value = value;
            }
            self.initialised = true;
            return;
        }
        for i in 0..self.estimates.len() {
            let r: f64 = rng.random();
            self.update(i, value, r);
        }
    }

    /// The estimate: the median of the parallel estimates (0 before any
    /// value).
    pub fn quantile(&self) -> f64 {
        let mut values: Vec<f64> = self.estimates.iter().map(|e| e.value).collect();
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        }
    }

    /// One Frugal-2U update of estimate `i` with `value` and the uniform
    /// random draw `r`.
    fn update(&mut self, i: usize, value: f64, r: f64) {
        let (p, min_step) = (self.p, self.min_step);
        let e = &mut self.estimates[i];
        if value >= e.value {
            // Move up with probability p.
            if r < 1.0 - p {
                return;
            }
            e.step += if e.up { min_step } else { -min_step };
            e.value += e.step.max(min_step);
            if e.value > value {
                // Overshot: stop just above the value.
                e.step += value - e.value;
                e.value = value + min_step / 4.0;
            }
            if !e.up && e.step > min_step {
                e.step = min_step;
            }
            e.up = true;
        } else {
            // Move down with probability 1 - p.
            if r < p {
                return;
            }
            e.step += if e.up { -min_step } else { min_step };
            e.value -= e.step.max(min_step);
            if e.value < value {
                e.step += e.value - value;
                e.value = value - min_step / 4.0;
            }
            if e.up && e.step > min_step {
                e.step = min_step;
            }
            e.up = false;
        }
        if e.step < self.neg_step_limit {
            e.step = self.neg_step_limit;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn the_first_value_is_the_initial_estimate() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut q = QuantileEstimator::new(0.1, 7, 100, 1e-9);
        assert_eq!(q.quantile(), 0.0);
        q.accumulate(3.0, &mut rng);
        assert_eq!(q.quantile(), 3.0);
        // A lower value moves the estimates down (p = 0.1: most of them),
        // never below the value.
        q.accumulate(1.0, &mut rng);
        let e = q.quantile();
        assert!((1.0..3.0).contains(&e), "{e}");
    }

    #[test]
    fn converges_to_the_quantile_of_a_uniform_stream() {
        let mut rng = StdRng::seed_from_u64(2);
        let mut values = StdRng::seed_from_u64(3);
        for (p, want) in [(0.1, 0.1), (0.5, 0.5), (0.9, 0.9)] {
            let mut q = QuantileEstimator::new(p, 7, 100, 1e-4);
            for _ in 0..20_000 {
                q.accumulate(values.random::<f64>(), &mut rng);
            }
            let got = q.quantile();
            assert!((got - want).abs() < 0.05, "p {p}: {got}");
        }
    }

    #[test]
    fn reset_forgets() {
        let mut rng = StdRng::seed_from_u64(4);
        let mut q = QuantileEstimator::new(0.5, 3, 100, 1e-6);
        for v in [5.0, 6.0, 7.0, 8.0] {
            q.accumulate(v, &mut rng);
        }
        q.reset();
        assert_eq!(q.quantile(), 0.0);
        q.accumulate(1.0, &mut rng);
        assert_eq!(q.quantile(), 1.0);
    }
}
