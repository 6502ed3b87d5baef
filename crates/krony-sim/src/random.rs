//! Seeded random streams and the two distributions the simulator draws from.
//!
//! Every random process (each clock's frequency wander, each direction of each
//! link) has its own ChaCha8 stream derived from the scenario seed and a stream
//! number, so adding a node or a packet on one link does not shift the random
//! numbers another one sees. Same seed, same streams, same results.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Stream numbers of clocks start here (plus the node index).
pub(crate) const CLOCK_STREAM_BASE: u64 = 1 << 32;
/// Stream numbers of node seeds start here (plus the node index).
pub(crate) const NODE_STREAM_BASE: u64 = 3 << 32;
/// Stream numbers of link directions start here (plus `from << 20 | to`).
pub(crate) const LINK_STREAM_BASE: u64 = 2 << 32;

/// A ChaCha8 generator for `seed`, positioned on stream `stream`.
pub fn stream_rng(seed: u64, stream: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream);
    rng
}

/// A uniform draw in the open-closed interval (0, 1].
fn uniform_open_zero<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    // random::<f64>() is in [0, 1); 1 - x is in (0, 1], so ln() is finite.
    1.0 - rng.random::<f64>()
}

/// A draw from the exponential distribution with mean 1.
pub fn exponential<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    -uniform_open_zero(rng).ln()
}

/// A draw from the standard normal distribution (mean 0, deviation 1), by
/// Marsaglia's polar method (the method clknetsim's generator also uses).
pub fn normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    loop {
        let x = 2.0 * rng.random::<f64>() - 1.0;
        let y = 2.0 * rng.random::<f64>() - 1.0;
        let s = x * x + y * y;
        // s == 0 would divide by zero; s >= 1 is outside the unit circle.
        if s > 0.0 && s < 1.0 {
            return x * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(mut draw: impl FnMut() -> f64, n: usize) -> (f64, f64) {
        let (mut sum, mut sum2) = (0.0, 0.0);
        for _ in 0..n {
            let x = draw();
            sum += x;
            sum2 += x * x;
        }
        let mean = sum / n as f64;
        (mean, sum2 / n as f64 - mean * mean)
    }

    #[test]
    fn exponential_has_mean_and_variance_one() {
        let mut rng = stream_rng(1, 0);
        let (mean, var) = moments(|| exponential(&mut rng), 200_000);
        assert!((mean - 1.0).abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.03, "variance {var}");
    }

    #[test]
    fn normal_has_mean_zero_and_variance_one() {
        let mut rng = stream_rng(2, 0);
        let (mean, var) = moments(|| normal(&mut rng), 200_000);
        assert!(mean.abs() < 0.01, "mean {mean}");
        assert!((var - 1.0).abs() < 0.02, "variance {var}");
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<u64> = (0..4).map(|_| stream_rng(7, 3).random()).collect();
        let mut r1 = stream_rng(7, 3);
        let mut r2 = stream_rng(7, 3);
        let mut r3 = stream_rng(7, 4);
        let x1: u64 = r1.random();
        assert_eq!(x1, r2.random::<u64>());
        assert_ne!(x1, r3.random::<u64>());
        assert!(a.iter().all(|&v| v == a[0]));
    }
}
