//! Weighted least-squares regression with chrony's runs test, and the small
//! statistical tables that go with it.
//!
//! Weights follow chrony's convention: a weight is a *variance factor*, so a
//! larger weight means a **less** reliable point (each point counts `1/w`).

/// The fewest points a regression is run on (two for the line, one more so
/// that the residual variance has a degree of freedom).
pub const MIN_SAMPLES_FOR_REGRESS: usize = 3;

/// How many residuals the runs test may use per regression point: the test
/// looks back over up to twice as many (older) samples as the fit uses, so
/// that a fit over few recent samples can still be recognised as not
/// following a longer trend.
pub const RUNS_RATIO: usize = 2;

/// A straight-line fit `y = intercept + slope * x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    /// The estimated value of `y` at `x = 0`.
    pub intercept: f64,
    /// The estimated slope.
    pub slope: f64,
    /// The weighted average variance of the points about the line (the
    /// residual variance scaled back to a weight of 1 on average).
    pub variance: f64,
    /// The standard deviation of the intercept.
    pub intercept_sd: f64,
    /// The standard deviation of the slope.
    pub slope_sd: f64,
}

/// The result of [`find_best_regression`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BestFit {
    /// The fit over the kept points.
    pub fit: Fit,
    /// How many of the oldest regression points were dropped.
    pub start: usize,
    /// The number of runs of same-sign residuals among the kept points.
    pub n_runs: usize,
    /// Degrees of freedom of the fit (kept points − 2).
    pub dof: usize,
}

/// Weighted sums over a range of points, the part shared by both fits.
struct Sums {
    /// Σ 1/w.
    w_sum: f64,
    /// Weighted mean of x.
    x_mean: f64,
    /// Σ (x − x̄)² / w.
    v: f64,
    intercept: f64,
    slope: f64,
}

fn sums(x: &[f64], y: &[f64], w: &[f64]) -> Sums {
    let (mut u, mut w_sum) = (0.0, 0.0);
    for (xi, wi) in x.iter().zip(w) {
        u += xi / wi;
        w_sum += 1.0 / wi;
    }
    let x_mean = u / w_sum;
    let (mut p, mut q, mut v) = (0.0, 0.0, 0.0);
    for ((xi, yi), wi) in x.iter().zip(y).zip(w) {
        let dx = xi - x_mean;
        p += yi / wi;
        q += yi * dx / wi;
        v += dx * dx / wi;
    }
    let slope = q / v;
    Sums {
        w_sum,
        x_mean,
        v,
        intercept: p / w_sum - slope * x_mean,
        slope,
    }
}

/// Completes a fit from its sums and the weighted sum of squared residuals
/// over `n` points.
fn finish(s: &Sums, ss: f64, n: usize) -> Option<Fit> {
    let ss = ss / (n - 2) as f64;
    let slope_sd = (ss / s.v).sqrt();
    let aa = s.x_mean * slope_sd;
    let fit = Fit {
        intercept: s.intercept,
        slope: s.slope,
        variance: ss * n as f64 / s.w_sum,
        intercept_sd: (ss / s.w_sum + aa * aa).sqrt(),
        slope_sd,
    };
    let all_finite = [fit.intercept, fit.slope, fit.variance]
        .iter()
        .chain(&[fit.intercept_sd, fit.slope_sd])
        .all(|v| v.is_finite());
    all_finite.then_some(fit)
}

/// Weighted least-squares fit of `y` against `x` (chrony's
/// `RGR_WeightedRegression`).
///
/// Returns `None` with fewer than three points, slices of different lengths,
/// or when the fit is degenerate (all `x` equal, non-positive weights, NaN).
pub fn weighted_regression(x: &[f64], y: &[f64], w: &[f64]) -> Option<Fit> {
    let n = w.len();
    if n < MIN_SAMPLES_FOR_REGRESS || x.len() != n || y.len() != n {
        return None;
    }
    let s = sums(x, y, w);
    let ss: f64 = (0..n)
        .map(|i| {
            let r = y[i] - s.intercept - s.slope * x[i];
            r * r / w[i]
        })
        .sum();
    finish(&s, ss, n)
}

/// Number of runs of residuals with the same sign; a zero residual always
/// starts a new run (it has neither sign).
pub fn count_runs(resid: &[f64]) -> usize {
    if resid.is_empty() {
        return 0;
    }
    1 + resid
        .windows(2)
        .filter(|p| !((p[0] < 0.0 && p[1] < 0.0) || (p[0] > 0.0 && p[1] > 0.0)))
        .count()
}

/// Weighted regression over the newest points, dropping the oldest ones while
/// the residuals fail the runs test (chrony's `RGR_FindBestRegression`).
///
/// `w` holds the weights of the `n = w.len()` regression points, which are the
/// **last** `n` entries of `x` and `y`; the `x.len() - n` entries before them
/// are older points used only to extend the runs test (up to
/// [`RUNS_RATIO`] residuals per kept point). Points are dropped while the
/// number of runs is at or below the 5% critical value, stopping at
/// [`MIN_SAMPLES_FOR_REGRESS`] or `min_samples` kept points.
///
/// Returns `None` with fewer than three regression points, inconsistent
/// slice lengths, or a degenerate fit.
pub fn find_best_regression(
    x: &[f64],
    y: &[f64],
    w: &[f64],
    min_samples: usize,
) -> Option<BestFit> {
    let n = w.len();
    if n < MIN_SAMPLES_FOR_REGRESS || x.len() != y.len() || x.len() < n {
        return None;
    }
    // Index k of x/y holds regression point k - m (negative for extra points).
    let m = x.len() - n;
    let mut resid = Vec::with_capacity(x.len());
    let mut start = 0;
    let (sums, resid_start, n_runs) = loop {
        let s = sums(&x[m + start..], &y[m + start..], &w[start..]);
        // The residuals cover up to RUNS_RATIO × the kept points, reaching back
        // into the extra points if there are enough.
        let resid_start = (m + start).saturating_sub((RUNS_RATIO - 1) * (n - start));
        resid.clear();
        resid.extend((resid_start..x.len()).map(|k| y[k] - s.intercept - s.slope * x[k]));
        let n_runs = count_runs(&resid);
        let kept = n - start;
        if n_runs > critical_runs(resid.len())
            || kept <= MIN_SAMPLES_FOR_REGRESS
            || kept <= min_samples
        {
            // The reported runs count covers the kept points only.
            let own = &resid[m + start - resid_start..];
            break (s, resid_start, count_runs(own));
        }
        start += 1;
    };
    let ss: f64 = (start..n)
        .map(|i| {
            let r = resid[m + i - resid_start];
            r * r / w[i]
        })
        .sum();
    let kept = n - start;
    let fit = finish(&sums, ss, kept)?;
    Some(BestFit {
        fit,
        start,
        n_runs,
        dof: kept - 2,
    })
}

/// The 5% one-sided critical value of the number of runs among `n`
/// residuals: fewer runs than this or equal suggests the residuals are not
/// random (the line does not fit the old points).
///
/// Values for `n < 130` are chrony's table: the Wald–Wolfowitz normal
/// approximation (mean `2·n1·n2/n + 1`, with `n1 = ⌊n/2⌋` of one sign),
/// `⌊mean − 1.645·sd⌋`, zero below eight residuals, and one entry (54) a run
/// lower than the formula gives; kept as is so that the same samples are
/// dropped as by chronyd. Larger `n` use the formula.
pub fn critical_runs(n: usize) -> usize {
    #[rustfmt::skip]
    const TABLE: [u8; 130] = [
        0, 0, 0, 0, 0, 0, 0, 0, 2, 3,
        3, 3, 4, 4, 5, 5, 5, 6, 6, 7,
        7, 7, 8, 8, 9, 9, 9, 10, 10, 11,
        11, 11, 12, 12, 13, 13, 14, 14, 14, 15,
        15, 16, 16, 17, 17, 18, 18, 18, 19, 19,
        20, 20, 21, 21, 21, 22, 22, 23, 23, 24,
        24, 25, 25, 26, 26, 26, 27, 27, 28, 28,
        29, 29, 30, 30, 30, 31, 31, 32, 32, 33,
        33, 34, 34, 35, 35, 35, 36, 36, 37, 37,
        38, 38, 39, 39, 40, 40, 40, 41, 41, 42,
        42, 43, 43, 44, 44, 45, 45, 46, 46, 46,
        47, 47, 48, 48, 49, 49, 50, 50, 51, 51,
        52, 52, 52, 53, 53, 54, 54, 55, 55, 56,
    ];
    match TABLE.get(n) {
        Some(&c) => usize::from(c),
        None => critical_runs_approx(n),
    }
}

/// The normal approximation behind [`critical_runs`].
fn critical_runs_approx(n: usize) -> usize {
    // The 95% quantile of the standard normal distribution.
    const Z_95: f64 = 1.644_853_626_951_472_2;
    if n < 8 {
        return 0;
    }
    let n1 = (n / 2) as f64;
    let n2 = n as f64 - n1;
    let nf = n as f64;
    let mean = 2.0 * n1 * n2 / nf + 1.0;
    let var = 2.0 * n1 * n2 * (2.0 * n1 * n2 - nf) / (nf * nf * (nf - 1.0));
    // OK because the value is positive and far below usize::MAX for n >= 8.
    (mean - Z_95 * var.sqrt()).floor() as usize
}

/// The two-sided 99.9% (one-sided 99.95%) quantile of Student's t
/// distribution with `dof` degrees of freedom: the factor from a standard
/// deviation to a confidence half-width. 3.5 above 40 degrees of freedom, as
/// chrony; 0 degrees of freedom are treated as 1.
pub fn t_coef(dof: usize) -> f64 {
    // Standard table values (checked against the t quantile to 4 digits).
    // Stored as f32 because chronyd's table is single precision; the same
    // rounding keeps krony's skew bit-compatible.
    const T: [f32; 40] = [
        636.6, 31.6, 12.92, 8.61, 6.869, 5.959, 5.408, 5.041, 4.781, 4.587, 4.437, 4.318, 4.221,
        4.140, 4.073, 4.015, 3.965, 3.922, 3.883, 3.850, 3.819, 3.792, 3.768, 3.745, 3.725, 3.707,
        3.690, 3.674, 3.659, 3.646, 3.633, 3.622, 3.611, 3.601, 3.591, 3.582, 3.574, 3.566, 3.558,
        3.551,
    ];
    T.get(dof.max(1) - 1).map_or(3.5, |&t| f64::from(t))
}

/// The 90% quantile of the chi-square distribution with `dof` degrees of
/// freedom (1.2·dof above 64, as chrony; 0 is treated as 1).
pub fn chi2_coef(dof: usize) -> f64 {
    // Standard table values to three decimals; f32 as in chronyd's table.
    const CHI2: [f32; 64] = [
        2.706, 4.605, 6.251, 7.779, 9.236, 10.645, 12.017, 13.362, 14.684, 15.987, 17.275, 18.549,
        19.812, 21.064, 22.307, 23.542, 24.769, 25.989, 27.204, 28.412, 29.615, 30.813, 32.007,
        33.196, 34.382, 35.563, 36.741, 37.916, 39.087, 40.256, 41.422, 42.585, 43.745, 44.903,
        46.059, 47.212, 48.363, 49.513, 50.660, 51.805, 52.949, 54.090, 55.230, 56.369, 57.505,
        58.641, 59.774, 60.907, 62.038, 63.167, 64.295, 65.422, 66.548, 67.673, 68.796, 69.919,
        71.040, 72.160, 73.279, 74.397, 75.514, 76.630, 77.745, 78.860,
    ];
    CHI2.get(dof.max(1) - 1)
        .map_or(1.2 * dof as f64, |&c| f64::from(c))
}

/// The median of `x` (the mean of the two middle values for an even count);
/// `None` for an empty slice. NaNs sort above every number.
pub fn median(x: &[f64]) -> Option<f64> {
    let mut v = x.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some(0.5 * (v[n / 2] + v[n / 2 - 1])),
    }
}

/// Ordinary least squares with two independent variables,
/// `y = b0 + b1·x1 + b2·x2`; returns `b2` (chrony's `RGR_MultipleRegress`,
/// used to estimate the asymmetry of network jitter from the delays).
///
/// `None` with fewer than four points, slices of different lengths, or when
/// the system is singular or numerically unstable.
pub fn multiple_regression_b2(x1: &[f64], x2: &[f64], y: &[f64]) -> Option<f64> {
    let n = y.len();
    if n < 4 || x1.len() != n || x2.len() != n {
        return None;
    }
    let (mut s1, mut s2, mut s11, mut s12, mut s22, mut s1y, mut s2y, mut sy) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for i in 0..n {
        s1 += x1[i];
        s2 += x2[i];
        s11 += x1[i] * x1[i];
        s12 += x1[i] * x2[i];
        s22 += x2[i] * x2[i];
        s1y += x1[i] * y[i];
        s2y += x2[i] * y[i];
        sy += y[i];
    }
    let nf = n as f64;
    // Cramer's rule on the 3×3 normal equations, solved for b2.
    let num =
        nf * (s12 * s1y - s11 * s2y) + s1 * s1 * s2y - s1 * s2 * s1y + sy * (s2 * s11 - s1 * s12);
    let d1 = nf * (s12 * s12 - s11 * s22);
    let d2 = s1 * s1 * s22 + s2 * s2 * s11;
    let d3 = -2.0 * s1 * s2 * s12;
    let det = d1 + d2 + d3;
    // A determinant that is tiny relative to its terms means cancellation
    // has eaten the precision: reject rather than return noise.
    // (Written so that NaN counts as unstable.)
    let stable = det.abs() * 1e10 > -d1 + d2 + d3.abs();
    if !stable {
        return None;
    }
    let b2 = num / det;
    b2.is_finite().then_some(b2)
}

#[cfg(test)]
#[path = "regress_tests.rs"]
mod tests;
