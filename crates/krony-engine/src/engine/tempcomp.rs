//! `tempcomp`: temperatures from the daemon's sensor readings become the
//! local clock's frequency compensation.

use super::Engine;
use super::events::EngineEvent;
use crate::UnixTime;
use crate::discipline::LogLevel;
use crate::tempcomp::{MAX_COMP_PPM, TempCompLogLine, TempCompModel};

impl Engine {
    /// A temperature read from the `tempcomp` sensor at raw time `now`:
    /// the compensation `model` gives is applied to the clock and logged
    /// (`tempcomp.log`), unless it exceeds the sanity limit of 10 ppm
    /// (chrony's warning then). Returns the compensation applied.
    pub fn handle_temperature(
        &mut self,
        now: UnixTime,
        model: &TempCompModel,
        temp: f64,
    ) -> Option<f64> {
        let comp = model.compensation(temp);
        if comp.is_nan() || comp.abs() > MAX_COMP_PPM {
            self.events.push_back(EngineEvent::log(
                LogLevel::Warn,
                format!(
                    "Temperature compensation of {comp:.3} ppm exceeds sanity limit of {MAX_COMP_PPM:.1}"
                ),
            ));
            return None;
        }
        self.reference.set_temp_comp(now, comp);
        self.drain_reference(now);
        self.events
            .push_back(EngineEvent::TempCompLog(TempCompLogLine {
                time: self.cook(now),
                temp,
                comp,
            }));
        Some(comp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineConfig;
    use crate::clock::ClockAction;

    fn engine(now: UnixTime) -> Engine {
        let cfg = EngineConfig::from_config(&krony_config::Config::default()).expect("config");
        Engine::new(cfg, now, 1).expect("engine")
    }

    fn last_frequency(e: &mut Engine) -> Option<f64> {
        let mut last = None;
        while let Some(a) = e.poll_clock_action() {
            if let ClockAction::SetFrequency { correction_ppm } = a {
                last = Some(correction_ppm);
            }
        }
        last
    }

    #[test]
    fn compensation_changes_the_clock_not_the_estimate() {
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = engine(now);
        let _ = last_frequency(&mut e);
        let model = TempCompModel::Quadratic {
            t0: 20.0,
            k0: 0.0,
            k1: 0.5,
            k2: 0.0,
        };
        assert_eq!(e.handle_temperature(now, &model, 30.0), Some(5.0));
        let corr = last_frequency(&mut e).expect("frequency set");
        // A positive compensation makes the clock faster by that much.
        assert!((corr - 5.0).abs() < 1e-6, "{corr}");
        assert_eq!(e.reference().driftfile_values().0, 0.0);
        let logged = std::iter::from_fn(|| e.poll_event())
            .find_map(|ev| match ev {
                EngineEvent::TempCompLog(l) => Some(l),
                _ => None,
            })
            .expect("log line");
        assert_eq!((logged.temp, logged.comp), (30.0, 5.0));
        // The same temperature again changes nothing.
        assert_eq!(e.handle_temperature(now, &model, 30.0), Some(5.0));
        assert_eq!(last_frequency(&mut e), None);
    }

    #[test]
    fn insane_compensation_is_refused() {
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = engine(now);
        let _ = last_frequency(&mut e);
        let model = TempCompModel::Quadratic {
            t0: 0.0,
            k0: 11.0,
            k1: 0.0,
            k2: 0.0,
        };
        assert_eq!(e.handle_temperature(now, &model, 1.0), None);
        assert_eq!(last_frequency(&mut e), None);
        let warn = std::iter::from_fn(|| e.poll_event())
            .find_map(|ev| ev.as_log().map(|m| m.text.clone()))
            .expect("warning");
        assert_eq!(
            warn,
            "Temperature compensation of 11.000 ppm exceeds sanity limit of 10.0"
        );
    }
}
