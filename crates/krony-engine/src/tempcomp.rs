//! Temperature compensation (`tempcomp`, chrony's `tempcomp.c`): a
//! temperature read from a sensor becomes a frequency compensation in ppm,
//! from a quadratic `k0 + (T-T0)·k1 + (T-T0)²·k2` or by interpolating a
//! table of points. The daemon reads the sensor every interval and passes
//! the temperature to [`Engine::handle_temperature`](crate::Engine::handle_temperature).

use std::fmt;

use crate::UnixTime;
use crate::cfmt::c_exp;
use crate::discipline::log_time;

/// Compensations beyond this (ppm) are refused as insane.
pub const MAX_COMP_PPM: f64 = 10.0;

/// The banner header of `tempcomp.log`.
pub const TEMPCOMP_LOG_HEADER: &str = "   Date (UTC) Time        Temp.       Comp.";

/// Why a point table is unusable (chrony's fatal messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TempCompError {
    /// A line is not two numbers.
    #[error("Could not read tempcomp point from {0}")]
    BadPoint(String),
    /// Fewer than two points.
    #[error("Not enough points in {0}")]
    NotEnoughPoints(String),
}

/// How a temperature maps to a compensation.
#[derive(Debug, Clone, PartialEq)]
pub enum TempCompModel {
    /// `k0 + (T-T0)·k1 + (T-T0)²·k2`.
    Quadratic {
        /// Reference temperature.
        t0: f64,
        /// Constant term (ppm).
        k0: f64,
        /// Linear term (ppm per degree).
        k1: f64,
        /// Quadratic term (ppm per degree²).
        k2: f64,
    },
    /// (temperature, compensation) points in the file's order (at least
    /// two), interpolated between the two around the temperature and
    /// extrapolated from the first or last two.
    Points(Vec<(f64, f64)>),
}

impl TempCompModel {
    /// Parses a point file's text: one "temperature compensation" pair a
    /// line. `path` names the file in errors.
    ///
    /// # Errors
    /// [`TempCompError`] for a line that is not two numbers, or fewer than
    /// two points.
    pub fn parse_points(text: &str, path: &str) -> Result<Self, TempCompError> {
        let mut points = Vec::new();
        for line in text.lines() {
            let mut fields = line.split_whitespace().map(parse_c_double);
            match (fields.next().flatten(), fields.next().flatten()) {
                (Some(t), Some(c)) => points.push((t, c)),
                _ => return Err(TempCompError::BadPoint(path.to_string())),
            }
        }
        if points.len() < 2 {
            return Err(TempCompError::NotEnoughPoints(path.to_string()));
        }
        Ok(TempCompModel::Points(points))
    }

    /// The compensation (ppm) for temperature `temp`.
    pub fn compensation(&self, temp: f64) -> f64 {
        match self {
            TempCompModel::Quadratic { t0, k0, k1, k2 } => {
                let d = temp - t0;
                k0 + d * k1 + d * d * k2
            }
            TempCompModel::Points(points) => {
                // The first point at or above the temperature (from the
                // second on), else the last: chrony's search.
                let mut i = 1;
                while i + 1 < points.len() && points[i].0 < temp {
                    i += 1;
                }
                let ((t1, c1), (t2, c2)) = (points[i - 1], points[i]);
                (temp - t1) / (t2 - t1) * (c2 - c1) + c1
            }
        }
    }
}

/// The temperature in a sensor file: its first number, as `fscanf("%lf")`
/// reads it (leading white space skipped, trailing text ignored).
pub fn parse_sensor(text: &str) -> Option<f64> {
    let word = text.split_whitespace().next()?;
    // Longest prefix that is a number ("45.5C" reads as 45.5).
    (1..=word.len())
        .rev()
        .filter(|&n| word.is_char_boundary(n))
        .find_map(|n| parse_c_double(&word[..n]))
}

/// A number as C's `strtod` takes it, without Rust's `inf`/`nan` words
/// surprises being accepted as temperatures.
fn parse_c_double(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// One line of `tempcomp.log`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TempCompLogLine {
    /// Cooked time of the reading.
    pub time: UnixTime,
    /// Temperature read.
    pub temp: f64,
    /// Compensation applied (ppm).
    pub comp: f64,
}

impl fmt::Display for TempCompLogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {}",
            log_time(self.time),
            c_exp(self.temp, 4, 11),
            c_exp(self.comp, 4, 11)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quadratic_model() {
        let m = TempCompModel::Quadratic {
            t0: 20.0,
            k0: 0.5,
            k1: 0.1,
            k2: 0.01,
        };
        assert!((m.compensation(20.0) - 0.5).abs() < 1e-12);
        assert!((m.compensation(30.0) - (0.5 + 1.0 + 1.0)).abs() < 1e-12);
        assert!((m.compensation(10.0) - (0.5 - 1.0 + 1.0)).abs() < 1e-12);
    }

    #[test]
    fn points_interpolate_and_extrapolate() {
        let m = TempCompModel::parse_points("20 -1.0\n30 1.0\n40 2.0\n", "p").expect("points");
        let c = |t| m.compensation(t);
        assert!((c(25.0) - 0.0).abs() < 1e-12);
        assert!((c(35.0) - 1.5).abs() < 1e-12);
        // Below the first and above the last: the outer segments go on.
        assert!((c(10.0) - -3.0).abs() < 1e-12);
        assert!((c(50.0) - 3.0).abs() < 1e-12);
        assert!((c(30.0) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn bad_point_files() {
        assert_eq!(
            TempCompModel::parse_points("20 1\n", "f"),
            Err(TempCompError::NotEnoughPoints("f".into()))
        );
        assert_eq!(
            TempCompModel::parse_points("20 1\n30\n", "f"),
            Err(TempCompError::BadPoint("f".into()))
        );
        assert_eq!(
            TempCompError::NotEnoughPoints("/x".into()).to_string(),
            "Not enough points in /x"
        );
    }

    #[test]
    fn sensor_text() {
        assert_eq!(parse_sensor("  45000\n"), Some(45000.0));
        assert_eq!(parse_sensor("21.5C\n"), Some(21.5));
        assert_eq!(parse_sensor("-3e1 x"), Some(-30.0));
        assert_eq!(parse_sensor(""), None);
        assert_eq!(parse_sensor("warm"), None);
    }

    #[test]
    fn log_line_format() {
        let line = TempCompLogLine {
            time: UnixTime::from_secs_nanos(1_262_304_000, 0),
            temp: 45.0,
            comp: -0.000123,
        };
        assert_eq!(
            line.to_string(),
            "2010-01-01 00:00:00  4.5000e+01 -1.2300e-04"
        );
        assert_eq!(c_exp(0.0, 4, 11), " 0.0000e+00");
    }
}
