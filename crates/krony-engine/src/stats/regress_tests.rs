use super::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

#[test]
fn hand_computed_unweighted_fit() {
    // OLS by hand: x̄ = 1.5, ȳ = 4.25, Sxy = 11.5, Sxx = 5, residuals
    // 0.2, -0.1, -0.4, 0.3 (sum of squares 0.3, two degrees of freedom).
    let fit = weighted_regression(&[0.0, 1.0, 2.0, 3.0], &[1.0, 3.0, 5.0, 8.0], &[1.0; 4]).unwrap();
    assert!(close(fit.slope, 2.3, 1e-12));
    assert!(close(fit.intercept, 0.8, 1e-12));
    assert!(close(fit.variance, 0.15, 1e-12));
    assert!(close(fit.slope_sd, (0.15f64 / 5.0).sqrt(), 1e-12));
    assert!(close(fit.intercept_sd, 0.105f64.sqrt(), 1e-12));
}

#[test]
fn scaling_all_weights_changes_nothing() {
    let x = [0.0, -1.0, -3.0, -4.0, -7.0];
    let y = [0.1, 0.3, -0.2, 0.5, 0.0];
    let w = [1.0, 2.0, 1.5, 3.0, 1.2];
    let w10: Vec<f64> = w.iter().map(|v| v * 10.0).collect();
    let a = weighted_regression(&x, &y, &w).unwrap();
    let b = weighted_regression(&x, &y, &w10).unwrap();
    for (p, q) in [
        (a.intercept, b.intercept),
        (a.slope, b.slope),
        (a.variance, b.variance),
        (a.intercept_sd, b.intercept_sd),
        (a.slope_sd, b.slope_sd),
    ] {
        assert!(close(p, q, 1e-12 * p.abs().max(1.0)), "{p} {q}");
    }
}

#[test]
fn a_heavier_weight_counts_less() {
    // The last point is off the line y = x; with a large weight it barely
    // pulls the fit.
    let x = [0.0, 1.0, 2.0, 3.0];
    let y = [0.0, 1.0, 2.0, 4.0];
    let even = weighted_regression(&x, &y, &[1.0; 4]).unwrap();
    let light = weighted_regression(&x, &y, &[1.0, 1.0, 1.0, 1e6]).unwrap();
    assert!((light.slope - 1.0).abs() < (even.slope - 1.0).abs() / 100.0);
}

/// chrony's unit test: lines with noise of alternating sign (so the runs test
/// passes) are recovered to within the noise.
#[test]
fn random_lines_are_recovered() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    for n in 3..=64 {
        for _ in 0..20 {
            let slope = rng.random_range(-0.1..0.1);
            let intercept = rng.random_range(-1.0..1.0);
            let sd = rng.random_range(1e-6..1e-4);
            let mut x = Vec::new();
            let mut y = Vec::new();
            let mut w = Vec::new();
            for j in 0..n {
                let xj = -(j as f64);
                let sign = if j % 2 == 1 { 1.0 } else { -1.0 };
                x.push(xj);
                y.push(intercept + slope * xj + sign * rng.random_range(1e-6..sd));
                w.push(rng.random_range(1.0..2.0));
            }
            let fit = weighted_regression(&x, &y, &w).unwrap();
            assert!(close(fit.intercept, intercept, sd + 1e-3));
            assert!(close(fit.slope, slope, sd));
            let best = find_best_regression(&x, &y, &w, 3).unwrap();
            assert!(close(best.fit.intercept, intercept, sd + 1e-3));
            assert!(close(best.fit.slope, slope, sd));
            assert_eq!(best.dof, n - best.start - 2);
        }
    }
}

#[test]
fn alternating_residuals_keep_every_point() {
    let x: Vec<f64> = (0..30).map(|i| -f64::from(i)).collect();
    let y: Vec<f64> = (0..30)
        .map(|i| 1e-3 + 1e-6 * f64::from(i) + if i % 2 == 0 { 1e-5 } else { -1e-5 })
        .collect();
    let best = find_best_regression(&x, &y, &[1.0; 30], 3).unwrap();
    assert_eq!(best.start, 0);
    assert!(best.n_runs > critical_runs(30));
}

/// Points ordered oldest first: 30 old ones around 0, then 10 new ones
/// around +1 ms (a step). The old points do not fit a line through the new
/// ones, the runs test notices, and they are dropped.
fn step_data() -> (Vec<f64>, Vec<f64>) {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let n = 40;
    let x: Vec<f64> = (0..n).map(|i| f64::from(i - (n - 1)) * 64.0).collect();
    let y: Vec<f64> = (0..n)
        .map(|i| {
            let level = if i >= 30 { 1e-3 } else { 0.0 };
            level + rng.random_range(-1e-5..1e-5)
        })
        .collect();
    (x, y)
}

#[test]
fn a_step_in_offset_drops_the_old_points() {
    let (x, y) = step_data();
    let best = find_best_regression(&x, &y, &[1.0; 40], 3).unwrap();
    let kept = 40 - best.start;
    assert!((3..=14).contains(&kept), "kept {kept}");
    assert!(close(best.fit.intercept, 1e-3, 5e-5));
}

#[test]
fn min_samples_limits_the_dropping() {
    let (x, y) = step_data();
    let best = find_best_regression(&x, &y, &[1.0; 40], 25).unwrap();
    assert_eq!(40 - best.start, 25);
}

#[test]
fn extra_points_extend_the_runs_test() {
    // A V shape: the flat fit leaves residuals + + - - - - - + +, three runs,
    // at the critical value for nine, so the oldest point would be dropped.
    let x: Vec<f64> = (0..9).map(f64::from).collect();
    let y: Vec<f64> = (0..9).map(|i| f64::from((i - 4i32).abs())).collect();
    let alone = find_best_regression(&x, &y, &[1.0; 9], 3).unwrap();
    assert!(alone.start > 0);
    // Nine older points alternating far about the fit add runs, so the
    // residuals over all eighteen look random and nothing is dropped.
    let mean = 20.0 / 9.0;
    let mut xe: Vec<f64> = (-9..0).map(f64::from).collect();
    let mut ye: Vec<f64> = (0..9)
        .map(|i| mean + if i % 2 == 0 { 10.0 } else { -10.0 })
        .collect();
    xe.extend(&x);
    ye.extend(&y);
    let extended = find_best_regression(&xe, &ye, &[1.0; 9], 3).unwrap();
    assert_eq!(extended.start, 0);
    // The reported runs count only the kept points.
    assert_eq!(extended.n_runs, 3);
}

#[test]
fn degenerate_inputs_give_none() {
    assert!(weighted_regression(&[0.0, 1.0], &[0.0, 1.0], &[1.0, 1.0]).is_none());
    assert!(weighted_regression(&[1.0; 5], &[0.0, 1.0, 2.0, 3.0, 4.0], &[1.0; 5]).is_none());
    assert!(weighted_regression(&[0.0, 1.0, 2.0], &[0.0, f64::NAN, 2.0], &[1.0; 3]).is_none());
    assert!(weighted_regression(&[0.0, 1.0, 2.0], &[0.0, 1.0], &[1.0; 3]).is_none());
    assert!(find_best_regression(&[1.0; 6], &[0.0; 6], &[1.0; 6], 3).is_none());
    assert!(find_best_regression(&[0.0, 1.0], &[0.0, 1.0], &[1.0; 2], 3).is_none());
    assert!(find_best_regression(&[0.0, 1.0, 2.0], &[0.0; 3], &[1.0; 4], 3).is_none());
    assert!(find_best_regression(&[0.0, 1.0, 2.0], &[0.0; 2], &[1.0; 3], 3).is_none());
}

#[test]
fn an_exact_line_has_zero_variance() {
    let x = [-3.0, -2.0, -1.0, 0.0];
    let y = [0.7, 0.8, 0.9, 1.0];
    let fit = weighted_regression(&x, &y, &[1.0; 4]).unwrap();
    assert!(close(fit.slope, 0.1, 1e-12));
    assert!(close(fit.intercept, 1.0, 1e-12));
    assert!(fit.variance < 1e-25);
}

#[test]
fn runs_are_counted_with_zero_breaking_runs() {
    assert_eq!(count_runs(&[]), 0);
    assert_eq!(count_runs(&[1.0]), 1);
    assert_eq!(count_runs(&[1.0, 2.0, -1.0, -2.0, 3.0]), 3);
    assert_eq!(count_runs(&[0.0, 0.0, 0.0]), 3);
    assert_eq!(count_runs(&[1.0, 0.0, 1.0]), 3);
}

#[test]
fn critical_table_matches_the_normal_approximation() {
    for n in 0..200 {
        // chrony's table is one run lower than the formula at 54.
        let expected = if n == 54 { 21 } else { critical_runs_approx(n) };
        assert_eq!(critical_runs(n), expected, "n = {n}");
    }
}

#[test]
fn quantile_tables() {
    assert_eq!(t_coef(1), f64::from(636.6f32));
    assert_eq!(t_coef(0), t_coef(1));
    assert_eq!(t_coef(40), f64::from(3.551f32));
    assert_eq!(t_coef(41), 3.5);
    assert_eq!(chi2_coef(1), f64::from(2.706f32));
    assert_eq!(chi2_coef(64), f64::from(78.860f32));
    assert_eq!(chi2_coef(100), 120.0);
}

#[test]
fn medians() {
    assert_eq!(median(&[]), None);
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[f64::NAN, 1.0, 2.0]), Some(2.0));
}

#[test]
fn multiple_regression_recovers_the_second_slope() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let x1: Vec<f64> = (0..20).map(|i| -f64::from(i) * 16.0).collect();
    let x2: Vec<f64> = (0..20).map(|_| rng.random_range(0.0..1e-3)).collect();
    let y: Vec<f64> = x1
        .iter()
        .zip(&x2)
        .map(|(a, b)| 1e-3 + 1e-6 * a + 0.3 * b)
        .collect();
    let b2 = multiple_regression_b2(&x1, &x2, &y).unwrap();
    assert!(close(b2, 0.3, 1e-6));
    // x2 proportional to x1: no unique solution.
    let x2c: Vec<f64> = x1.iter().map(|a| 2.0 * a).collect();
    assert!(multiple_regression_b2(&x1, &x2c, &y).is_none());
    assert!(multiple_regression_b2(&x1[..3], &x2[..3], &y[..3]).is_none());
}
