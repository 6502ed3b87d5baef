//! `tempcomp`: the sensor file is read at start and then every interval,
//! and each temperature goes to the engine (chrony's `tempcomp.c` timer).

use krony_config::{Config, TempCompModel as ConfigModel};
use krony_engine::tempcomp::{TempCompModel, parse_sensor};
use krony_engine::{Engine, UnixTime};

use crate::files::os_error_text;
use crate::logging::{Severity, log_event};

/// The sensor, its model and when to read it next.
#[derive(Debug)]
pub struct TempCompSensor {
    path: String,
    interval: f64,
    model: TempCompModel,
    /// Monotonic time of the next reading (steps of the clock do not move
    /// it, as they do not move chronyd's timeouts).
    next: UnixTime,
}

impl TempCompSensor {
    /// The `tempcomp` directive's sensor, first read at monotonic time
    /// `now`; `None` without the directive.
    ///
    /// # Errors
    /// chrony's fatal messages for an unreadable or bad point file.
    pub fn from_config(config: &Config, now: UnixTime) -> Result<Option<Self>, String> {
        let Some(tc) = &config.tempcomp else {
            return Ok(None);
        };
        let model = match &tc.model {
            ConfigModel::Coefficients { t0, k0, k1, k2 } => TempCompModel::Quadratic {
                t0: *t0,
                k0: *k0,
                k1: *k1,
                k2: *k2,
            },
            ConfigModel::Points(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("Could not open {path} : {}", os_error_text(&e)))?;
                TempCompModel::parse_points(&text, path).map_err(|e| e.to_string())?
            }
        };
        // chrony reads at least every second.
        let interval = if tc.interval > 0.0 { tc.interval } else { 1.0 };
        Ok(Some(TempCompSensor {
            path: tc.sensor.clone(),
            interval,
            model,
            next: now,
        }))
    }

    /// When the sensor is due (monotonic time).
    pub fn deadline(&self) -> UnixTime {
        self.next
    }

    /// Reads the sensor if due at monotonic time `mono` and hands the
    /// temperature to the engine (raw time `now`).
    pub fn handle_timeout(&mut self, now: UnixTime, mono: UnixTime, engine: &mut Engine) {
        if mono < self.next {
            return;
        }
        match std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| parse_sensor(&t))
        {
            Some(temp) => {
                engine.handle_temperature(now, &self.model, temp);
            }
            None => log_event(
                Severity::Warn,
                format!("Could not read temperature from {}", self.path),
            ),
        }
        self.next = mono.add_secs(self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_file_errors_are_fatal_texts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let points = dir.path().join("points");
        std::fs::write(&points, "20 1.0\n").expect("write");
        let text = format!("tempcomp /sensor 30 {}\n", points.display());
        let parsed = krony_config::parse_str(&text, "t").expect("config");
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let err = TempCompSensor::from_config(&parsed.config, now).expect_err("one point");
        assert_eq!(err, format!("Not enough points in {}", points.display()));
        std::fs::write(&points, "20 1.0\n30 2.0\n").expect("write");
        let s = TempCompSensor::from_config(&parsed.config, now)
            .expect("two points")
            .expect("configured");
        assert_eq!(s.deadline(), now);
        assert!((s.model.compensation(25.0) - 1.5).abs() < 1e-12);
    }
}
