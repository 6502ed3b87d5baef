//! The endpoint sweep: the offset interval that most selection intervals
//! contain, giving intervals of trusted sources priority.
//!
//! A Marzullo-style search (RFC 5905 §11.2.1 describes the family): sort the
//! low and high ends of all intervals, walk them in order counting how many
//! intervals are open, and remember where the count peaks. Among equal counts
//! the first peak wins.

use std::cmp::Ordering;

/// A selection interval of one source.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Interval {
    pub lo: f64,
    pub hi: f64,
    pub trusted: bool,
}

/// The result of the sweep.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(crate) struct Agreement {
    /// Intervals containing `lo..=hi` (with trusted ones, the depth of the
    /// best region among those where the trusted depth peaks).
    pub depth: usize,
    pub lo: f64,
    pub hi: f64,
    /// Trusted intervals containing `trust_lo..=trust_hi`; 0 without trust.
    pub trust_depth: usize,
    pub trust_lo: f64,
    pub trust_hi: f64,
}

#[derive(Debug, Clone, Copy)]
struct Endpoint {
    at: f64,
    /// Low ends sort before high ends at the same offset, so that touching
    /// intervals count as overlapping.
    is_high: bool,
    trusted: bool,
}

fn order(a: &Endpoint, b: &Endpoint) -> Ordering {
    a.at.total_cmp(&b.at).then(a.is_high.cmp(&b.is_high))
}

/// Finds the best agreement among `intervals`.
///
/// The low end of the best region is the low end at which the (trusted, then
/// total) depth first reaches its maximum; its high end is the last high end
/// that closes a region of that same depth (chrony's behaviour, which can
/// widen the region across two separate peaks of equal depth).
pub(crate) fn find_agreement(intervals: &[Interval]) -> Agreement {
    let mut ends = Vec::with_capacity(2 * intervals.len());
    for iv in intervals {
        ends.push(Endpoint {
            at: iv.lo,
            is_high: false,
            trusted: iv.trusted,
        });
        ends.push(Endpoint {
            at: iv.hi,
            is_high: true,
            trusted: iv.trusted,
        });
    }
    ends.sort_by(order);

    let mut best = Agreement::default();
    let (mut depth, mut trust_depth) = (0usize, 0usize);
    for end in &ends {
        if !end.is_high {
            depth += 1;
            trust_depth += usize::from(end.trusted);
            if trust_depth > best.trust_depth {
                best.trust_depth = trust_depth;
                best.trust_lo = end.at;
                best.depth = depth;
                best.lo = end.at;
            } else if trust_depth == best.trust_depth && depth > best.depth {
                best.depth = depth;
                best.lo = end.at;
            }
        } else {
            if trust_depth == best.trust_depth {
                if depth == best.depth {
                    best.hi = end.at;
                }
                best.trust_hi = end.at;
            }
            // Saturating: OK because every high end follows its own low end
            // in the sorted order for well-formed intervals (lo <= hi).
            trust_depth = trust_depth.saturating_sub(usize::from(end.trusted));
            depth = depth.saturating_sub(1);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iv(lo: f64, hi: f64) -> Interval {
        Interval {
            lo,
            hi,
            trusted: false,
        }
    }

    #[test]
    fn three_agreeing_one_outside() {
        let a = find_agreement(&[
            iv(-0.010, 0.010),
            iv(-0.005, 0.015),
            iv(-0.008, 0.004),
            iv(0.100, 0.120),
        ]);
        assert_eq!(a.depth, 3);
        assert_eq!((a.lo, a.hi), (-0.005, 0.004));
        assert_eq!(a.trust_depth, 0);
    }

    #[test]
    fn touching_intervals_overlap() {
        let a = find_agreement(&[iv(0.0, 1.0), iv(1.0, 2.0)]);
        assert_eq!((a.depth, a.lo, a.hi), (2, 1.0, 1.0));
    }

    #[test]
    fn equal_later_peak_extends_the_high_end() {
        // As in chrony: the low end stays at the first peak, but every high
        // end closing a region of the best depth moves the high end.
        let a = find_agreement(&[iv(0.0, 1.0), iv(0.5, 1.5), iv(3.0, 4.0), iv(3.5, 4.5)]);
        assert_eq!((a.depth, a.lo, a.hi), (2, 0.5, 4.0));
        // So a wide source bridging two majorities makes nobody a falseticker.
        let a = find_agreement(&[iv(0.0, 10.0), iv(0.0, 1.0), iv(9.0, 10.0)]);
        assert_eq!((a.depth, a.lo, a.hi), (2, 0.0, 10.0));
    }

    #[test]
    fn trusted_interval_beats_a_larger_untrusted_group() {
        let trusted = Interval {
            lo: 0.5,
            hi: 0.7,
            trusted: true,
        };
        let a = find_agreement(&[
            iv(0.0, 0.2),
            iv(0.05, 0.25),
            iv(0.1, 0.3),
            trusted,
            iv(0.6, 0.9),
        ]);
        assert_eq!(a.trust_depth, 1);
        assert_eq!((a.trust_lo, a.trust_hi), (0.5, 0.7));
        assert_eq!((a.depth, a.lo, a.hi), (2, 0.6, 0.7));
    }
}
