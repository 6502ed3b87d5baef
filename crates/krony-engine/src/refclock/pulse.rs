//! The arithmetic of pulse-per-second samples (chrony's `RCL_AddCookedPulse`):
//! a pulse says only where a second (or a `1/rate` interval) began, so its
//! offset is folded into half an interval around zero and, with `lock`,
//! shifted by whole intervals to the offset of another refclock's sample.

/// Largest offset between a locked pulse and its reference sample, as a
/// fraction of the pulse interval (chrony's `PPS_LOCK_LIMIT`).
pub const PPS_LOCK_LIMIT: f64 = 0.4;

/// Folds `offset` into `[-0.5/rate, 0.5/rate)`.
pub fn fold_offset(offset: f64, rate: u32) -> f64 {
    let rate_f = f64::from(rate.max(1));
    // Whole intervals are dropped first (truncated toward zero, as the C
    // code's cast to long does), then one interval at most is added back.
    let mut o = offset - (offset * rate_f).trunc() / rate_f;
    if o < -0.5 / rate_f {
        o += 1.0 / rate_f;
    } else if o >= 0.5 / rate_f {
        o -= 1.0 / rate_f;
    }
    o
}

/// Shifts a folded pulse offset by whole intervals to be nearest the
/// offset of the locked reference's sample.
pub fn align_to_reference(offset: f64, ref_offset: f64, rate: u32) -> f64 {
    let rate_f = f64::from(rate.max(1));
    offset + ((ref_offset - offset) * rate_f).round() / rate_f
}

/// Whether a locked pulse agrees with its reference sample well enough:
/// their difference plus both dispersions is below [`PPS_LOCK_LIMIT`] of
/// the interval.
pub fn lock_agrees(
    offset: f64,
    ref_offset: f64,
    ref_dispersion: f64,
    dispersion: f64,
    rate: u32,
) -> bool {
    let rate_f = f64::from(rate.max(1));
    (ref_offset - offset).abs() + ref_dispersion + dispersion <= PPS_LOCK_LIMIT / rate_f
}

/// The `width` check: with a known pulse width, the offset (and the
/// distance of the reference) must be within half of the shorter of the
/// pulse and the gap, or the wrong edge may have been timestamped.
pub fn edge_ok(width: f64, rate: u32, offset: f64, distance: f64) -> bool {
    if width <= 0.0 {
        return true;
    }
    let rate_f = f64::from(rate.max(1));
    let max_error = 0.5 * width.min(1.0 / rate_f - width);
    offset.abs() <= max_error && distance <= max_error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_into_half_an_interval() {
        assert!((fold_offset(0.3, 1) - 0.3).abs() < 1e-12);
        assert!((fold_offset(0.7, 1) + 0.3).abs() < 1e-12);
        assert!((fold_offset(-0.7, 1) - 0.3).abs() < 1e-12);
        assert!((fold_offset(12.25, 1) - 0.25).abs() < 1e-12);
        assert!((fold_offset(-3.000_001, 1) + 0.000_001).abs() < 1e-9);
        // At exactly half an interval the upper bound is open.
        assert!((fold_offset(0.5, 1) + 0.5).abs() < 1e-12);
        // 10 Hz: intervals of 0.1 s.
        assert!((fold_offset(0.27, 10) + 0.03).abs() < 1e-12);
        assert!((fold_offset(0.04, 10) - 0.04).abs() < 1e-12);
    }

    #[test]
    fn aligns_to_the_reference_second() {
        // The reference says we are 2.0001 s behind; the pulse knows 0.0002.
        assert!((align_to_reference(0.0002, 2.0001, 1) - 2.0002).abs() < 1e-12);
        assert!((align_to_reference(-0.4, 0.45, 1) - 0.6).abs() < 1e-12);
        assert!((align_to_reference(0.01, -0.98, 1) + 0.99).abs() < 1e-12);
    }

    #[test]
    fn lock_limit_is_forty_percent() {
        assert!(lock_agrees(0.0, 0.3, 0.05, 0.04, 1));
        assert!(!lock_agrees(0.0, 0.3, 0.05, 0.06, 1));
        assert!(!lock_agrees(0.0, 0.05, 0.0, 0.0, 10));
        assert!(lock_agrees(0.0, 0.039, 0.0, 0.0, 10));
    }

    #[test]
    fn width_limits_the_error() {
        assert!(edge_ok(0.0, 1, 0.45, 0.45));
        // 0.2 s pulse at 1 Hz: half the pulse, 0.1 s.
        assert!(edge_ok(0.2, 1, 0.09, 0.0));
        assert!(!edge_ok(0.2, 1, 0.11, 0.0));
        assert!(!edge_ok(0.2, 1, 0.0, 0.11));
        // 0.9 s pulse: the gap (0.1 s) is shorter.
        assert!(!edge_ok(0.9, 1, 0.06, 0.0));
    }
}
