//! Robust (least absolute deviation) line fit with the runs test, as
//! chrony's `RGR_FindBestRobustRegression` does it for the RTC: the slope
//! is the root of `Σ xᵢ·sign(yᵢ − a − b·xᵢ)` (with `a` the median of
//! `y − b·x`), found by bisection around the least-squares slope; then the
//! oldest points are dropped while the residuals have too few runs.

use super::regress::{count_runs, critical_runs};

/// Fewest points the runs test may leave.
const MIN_POINTS: usize = 3;
/// The bracket around the least-squares slope is widened up to this.
const MAX_BRACKET: f64 = 100.0;

/// A robust fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustFit {
    /// Intercept.
    pub b0: f64,
    /// Slope.
    pub b1: f64,
    /// Runs of the residuals' signs (0 for a two-point line).
    pub n_runs: usize,
    /// Index of the first point kept.
    pub best_start: usize,
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2] + v[n / 2 - 1])
    }
}

/// The intercept for slope `b` and the sign sum whose root is sought.
fn residual(x: &[f64], y: &[f64], b: f64) -> (f64, f64) {
    let mut d: Vec<f64> = x.iter().zip(y).map(|(xi, yi)| yi - b * xi).collect();
    let a = median(&mut d);
    let r = x
        .iter()
        .zip(y)
        .map(|(xi, yi)| {
            let del = yi - a - b * xi;
            if del > 0.0 {
                *xi
            } else if del < 0.0 {
                -xi
            } else {
                0.0
            }
        })
        .sum();
    (a, r)
}

/// Fits `y = b0 + b1·x` to the points from `start` on; `None` when no
/// bracket for the slope is found.
fn fit_from(x: &[f64], y: &[f64], tol: f64) -> Option<(f64, f64)> {
    let w = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / w, y.iter().sum::<f64>() / w);
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (xi, yi) in x.iter().zip(y) {
        sxy += (yi - my) * (xi - mx);
        sxx += (xi - mx) * (xi - mx);
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    let s2: f64 = x
        .iter()
        .zip(y)
        .map(|(xi, yi)| (yi - a - b * xi).powi(2))
        .sum();
    let mut incr = (s2 * w / sxx).sqrt().max(tol);
    let (mut blo, mut bhi, mut rlo, mut rhi);
    loop {
        incr *= 2.0;
        // Written so that a NaN increment gives up too.
        if incr.is_nan() || incr > MAX_BRACKET {
            return None;
        }
        blo = b - incr;
        bhi = b + incr;
        rlo = residual(x, y, blo).1;
        rhi = residual(x, y, bhi).1;
        if rlo * rhi < 0.0 {
            break;
        }
    }
    let mut a = 0.0;
    let mut bmid;
    loop {
        bmid = 0.5 * (blo + bhi);
        if !(blo < bmid && bmid < bhi) {
            break;
        }
        let (am, rmid) = residual(x, y, bmid);
        a = am;
        if rmid == 0.0 {
            break;
        } else if rmid * rlo > 0.0 {
            blo = bmid;
            rlo = rmid;
        } else {
            bhi = bmid;
        }
        if bhi - blo <= tol {
            break;
        }
    }
    Some((a, bmid))
}

/// The robust fit of at least two points (`x` and `y` of equal length),
/// the slope to within `tol`.
pub fn best_robust_regression(x: &[f64], y: &[f64], tol: f64) -> Option<RobustFit> {
    let n = x.len().min(y.len());
    if n < 2 {
        return None;
    }
    if n == 2 {
        let b1 = (y[1] - y[0]) / (x[1] - x[0]);
        return b1.is_finite().then_some(RobustFit {
            b0: y[0] - b1 * x[0],
            b1,
            n_runs: 0,
            best_start: 0,
        });
    }
    let mut start = 0;
    // At the minimum the test is skipped and the last count stays.
    let mut n_runs = 0;
    loop {
        let (xs, ys) = (&x[start..n], &y[start..n]);
        let (b0, b1) = fit_from(xs, ys, tol)?;
        let resid: Vec<f64> = xs
            .iter()
            .zip(ys)
            .map(|(xi, yi)| yi - b0 - b1 * xi)
            .collect();
        if xs.len() > MIN_POINTS {
            n_runs = count_runs(&resid);
        }
        if xs.len() == MIN_POINTS || n_runs > critical_runs(xs.len()) {
            return Some(RobustFit {
                b0,
                b1,
                n_runs,
                best_start: start,
            });
        }
        start += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_with_an_outlier() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let mut y: Vec<f64> = x.iter().map(|v| 2.0 + 0.5 * v).collect();
        // Alternating noise keeps the runs high.
        for (i, v) in y.iter_mut().enumerate() {
            *v += if i % 2 == 0 { 1e-3 } else { -1e-3 };
        }
        y[4] += 100.0;
        let f = best_robust_regression(&x, &y, 1e-9).expect("fit");
        assert!((f.b1 - 0.5).abs() < 1e-3, "{f:?}");
        assert!((f.b0 - 2.0).abs() < 1e-2, "{f:?}");
        assert_eq!(f.best_start, 0);
    }

    #[test]
    fn two_points_and_too_few() {
        let f = best_robust_regression(&[0.0, 2.0], &[1.0, 2.0], 1e-9).expect("line");
        assert_eq!((f.b0, f.b1), (1.0, 0.5));
        assert_eq!(best_robust_regression(&[0.0], &[1.0], 1e-9), None);
        assert_eq!(best_robust_regression(&[1.0, 1.0], &[1.0, 2.0], 1e-9), None);
    }

    #[test]
    fn old_points_off_the_line_are_dropped() {
        // Ten points on a line with alternating noise, preceded by six
        // points of another line: the runs test drops the old ones.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..6 {
            x.push(f64::from(i));
            y.push(10.0 + f64::from(i));
        }
        for i in 6..16 {
            x.push(f64::from(i));
            y.push(0.1 * f64::from(i) + if i % 2 == 0 { 1e-4 } else { -1e-4 });
        }
        let f = best_robust_regression(&x, &y, 1e-9).expect("fit");
        assert!(f.best_start >= 3, "{f:?}");
        assert!((f.b1 - 0.1).abs() < 1e-3, "{f:?}");
    }
}
