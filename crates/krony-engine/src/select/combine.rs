//! Combining the system peer's estimate with other selectable sources.
//!
//! Offsets are averaged with weights 1/root distance, extrapolated to the
//! system peer's reference time with each source's own frequency; frequencies
//! are averaged with weights 1/sd²; the combined frequency deviation and skew
//! are the inverse root of the sums of inverse squares.

use super::TrackingData;

/// Whether a source is too far from the system peer to be combined: its
/// distance exceeds `limit` × the peer's distance (reselect distance included
/// for an NTP peer), or the frequencies differ by more than `limit` × (both
/// skews + the maximum clock error).
pub(crate) fn too_far(
    peer: &TrackingData,
    peer_distance: f64,
    source: &TrackingData,
    source_distance: f64,
    limit: f64,
    max_clock_error: f64,
) -> bool {
    source_distance > limit * peer_distance
        || (peer.frequency - source.frequency).abs()
            > limit * (peer.skew + source.skew + max_clock_error)
}

/// Running sums of the combination.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Combiner {
    peer: TrackingData,
    sum_offset_weight: f64,
    sum_offset: f64,
    sum_offset_var: f64,
    sum_frequency_weight: f64,
    sum_frequency: f64,
    inv_frequency_var: f64,
    inv_skew_sq: f64,
    count: usize,
}

impl Combiner {
    /// Starts a combination around the system peer's estimate (the peer
    /// itself must still be added).
    pub(crate) fn new(peer: TrackingData) -> Self {
        Combiner {
            peer,
            sum_offset_weight: 0.0,
            sum_offset: 0.0,
            sum_offset_var: 0.0,
            sum_frequency_weight: 0.0,
            sum_frequency: 0.0,
            inv_frequency_var: 0.0,
            inv_skew_sq: 0.0,
            count: 0,
        }
    }

    /// Adds a source with its selection root distance.
    pub(crate) fn add(&mut self, source: &TrackingData, root_distance: f64) {
        let elapsed = self.peer.ref_time.diff_secs(source.ref_time);
        let offset = source.offset + elapsed * source.frequency;
        let offset_sd = source.offset_sd + elapsed * source.frequency_sd;
        let offset_weight = 1.0 / root_distance;
        let frequency_var = source.frequency_sd * source.frequency_sd;
        let deviation = offset - self.peer.offset;

        self.sum_offset_weight += offset_weight;
        self.sum_offset += offset_weight * offset;
        // The spread around the peer's offset counts as extra variance.
        self.sum_offset_var += offset_weight * (offset_sd * offset_sd + deviation * deviation);
        self.sum_frequency_weight += 1.0 / frequency_var;
        self.sum_frequency += source.frequency / frequency_var;
        self.inv_frequency_var += 1.0 / frequency_var;
        self.inv_skew_sq += 1.0 / (source.skew * source.skew);
        self.count += 1;
    }

    /// Sources added so far.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The peer's estimate with the combined values; the peer's alone when
    /// nothing was added.
    pub(crate) fn finish(&self) -> TrackingData {
        if self.count == 0 {
            return self.peer;
        }
        TrackingData {
            offset: self.sum_offset / self.sum_offset_weight,
            offset_sd: (self.sum_offset_var / self.sum_offset_weight).sqrt(),
            frequency: self.sum_frequency / self.sum_frequency_weight,
            frequency_sd: 1.0 / self.inv_frequency_var.sqrt(),
            skew: 1.0 / self.inv_skew_sq.sqrt(),
            ..self.peer
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::UnixTime;

    fn est(offset: f64, frequency: f64, frequency_sd: f64, skew: f64) -> TrackingData {
        TrackingData {
            ref_time: UnixTime::from_secs_nanos(1000, 0),
            offset,
            offset_sd: 0.001,
            frequency,
            frequency_sd,
            skew,
            root_delay: 0.02,
            root_dispersion: 0.001,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-12 * b.abs().max(1e-9)
    }

    #[test]
    fn offsets_weighted_by_inverse_distance_frequencies_by_inverse_variance() {
        let peer = est(0.010, 1e-6, 1e-8, 2e-8);
        let other = est(0.004, 3e-6, 2e-8, 2e-8);
        let mut c = Combiner::new(peer);
        c.add(&peer, 0.01);
        c.add(&other, 0.02);
        let r = c.finish();
        // weights 100 and 50: (100*0.010 + 50*0.004) / 150
        assert!(close(r.offset, 0.008));
        // sd: sqrt((100*1e-6 + 50*(1e-6 + 0.006^2)) / 150)
        assert!(close(
            r.offset_sd,
            ((100e-6 + 50.0 * (1e-6 + 36e-6)) / 150.0f64).sqrt()
        ));
        // frequency weights 1e16 and 2.5e15: (1e-6*1e16 + 3e-6*2.5e15) / 1.25e16
        assert!(close(r.frequency, 1.4e-6));
        assert!(close(r.frequency_sd, 1.0 / (1.25e16f64).sqrt()));
        assert!(close(r.skew, 2e-8 / 2f64.sqrt()));
        assert_eq!(r.root_delay, 0.02);
        assert_eq!(c.count(), 2);
    }

    #[test]
    fn older_estimates_are_extrapolated_to_the_peer_time() {
        let peer = est(0.0, 0.0, 1e-8, 1e-8);
        let mut other = est(0.001, 1e-5, 1e-8, 1e-8);
        other.ref_time = UnixTime::from_secs_nanos(900, 0);
        let mut c = Combiner::new(peer);
        c.add(&peer, 0.01);
        c.add(&other, 0.01);
        // other moves by 100 s * 1e-5 = 0.001 to 0.002; mean of 0 and 0.002
        assert!(close(c.finish().offset, 0.001));
    }

    #[test]
    fn distance_and_frequency_limits() {
        let peer = est(0.0, 0.0, 1e-8, 1e-7);
        let near = est(0.0, 5e-7, 1e-8, 1e-7);
        assert!(!too_far(&peer, 0.01, &near, 0.03, 3.0, 1e-6));
        assert!(too_far(&peer, 0.01, &near, 0.0301, 3.0, 1e-6));
        // 3 * (1e-7 + 1e-7 + 1e-6) = 3.6e-6
        let drifting = est(0.0, 3.7e-6, 1e-8, 1e-7);
        assert!(too_far(&peer, 0.01, &drifting, 0.01, 3.0, 1e-6));
    }
}
