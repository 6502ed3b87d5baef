//! Refclock settings, the filter period and an engine synchronising to
//! refclocks on a simulated clock.

use super::*;
use crate::clock::ClockAction;
use crate::select::ReportState;
use crate::{Engine, EngineConfig, EngineEvent};

const T0: i64 = 1_700_000_000;

fn spec(line: &str) -> RefclockSpec {
    let text = format!("refclock {line}\n");
    let parsed = krony_config::parse_str(&text, "t.conf").expect("valid refclock line");
    parsed.config.refclocks[0].clone()
}

#[test]
fn default_refids_follow_chronyd() {
    assert_eq!(ref_id_text(default_ref_id("SOCK", 0)), "SOC0");
    assert_eq!(ref_id_text(default_ref_id("SHM", 1)), "SHM1");
    assert_eq!(ref_id_text(default_ref_id("PPS", 12)), "PP12");
    assert_eq!(ref_id_text(ref_id_from_text("GPS")), "GPS");
    let (p, _) = RefclockParams::from_spec(&spec("SHM 3 refid NMEA"), 0, 1e-9);
    assert_eq!(ref_id_text(p.ref_id), "NMEA");
}

#[test]
fn dpoll_limits_the_filter() {
    let (p, w) = RefclockParams::from_spec(&spec("SHM 0 poll 2 dpoll 1"), 0, 1e-9);
    assert_eq!(p.filter_length, 2);
    assert_eq!(w, vec!["Setting filter length for SHM0 to 2".to_string()]);
    let (p, w) = RefclockParams::from_spec(&spec("SHM 0 poll 4 dpoll 5"), 0, 1e-9);
    assert_eq!((p.driver_poll, p.filter_length), (4, 1));
    assert_eq!(w.len(), 1);
    // A driver that is not polled keeps its filter.
    let (p, w) = RefclockParams::from_spec(&spec("SOCK /s poll 0"), 0, 1e-9);
    assert_eq!(p.filter_length, 64);
    assert!(w.is_empty());
    let (p, _) = RefclockParams::from_spec(&spec("PPS /dev/pps0 precision 1e-3"), 0, 1e-6);
    assert_eq!(p.precision, 1e-3);
    let (p, _) = RefclockParams::from_spec(&spec("PPS /dev/pps0 local"), 0, 1e-6);
    assert!(p.pps_forced && p.lock_ref_id == Some(p.ref_id) && p.max_lock_age == 3);
}

fn t(secs: f64) -> UnixTime {
    UnixTime::from_secs_nanos(T0, 0).add_secs(secs)
}

#[test]
fn polled_driver_outputs_once_per_poll_keeping_the_middle() {
    let (p, _) = RefclockParams::from_spec(&spec("SHM 0 poll 3 dpoll 0"), 0, 1e-9);
    let mut r = RefclockSource::new(p, StatsParams::refclock(1e-9));
    r.start(t(0.0));
    // Eight polls; one outlier far out on each side.
    let offsets = [1e-3, 1.1e-3, 0.9e-3, 5.0, 1.05e-3, -5.0, 0.95e-3, 1e-3];
    let mut outputs = Vec::new();
    for (i, o) in offsets.iter().enumerate() {
        let now = t(i as f64);
        assert!(r.driver_poll_due(now));
        assert!(r.accumulate(now, *o, 1e-6, LeapStatus::Normal, false));
        outputs.push(r.tick(now));
    }
    assert!(outputs[..7].iter().all(|x| *x == Tick::Waiting));
    let Tick::Filtered(s) = outputs[7] else {
        panic!("no output after eight polls: {:?}", outputs[7]);
    };
    // 60% of eight around the median: the outliers are gone.
    assert!((s.offset - 1e-3).abs() < 1e-4, "{}", s.offset);
    // The next period without samples leaves a 0 in the register.
    for i in 8..16 {
        let tick = r.tick(t(f64::from(i)));
        if i < 15 {
            assert_eq!(tick, Tick::Waiting);
        } else {
            assert_eq!(tick, Tick::NoSample);
        }
    }
}

#[test]
fn filter_needs_four_samples() {
    let (p, _) = RefclockParams::from_spec(&spec("SOCK /s poll 2"), 0, 1e-9);
    let mut r = RefclockSource::new(p, StatsParams::refclock(1e-9));
    r.start(t(0.0));
    for i in 0..3 {
        r.accumulate(t(f64::from(i)), 1e-3, 1e-6, LeapStatus::Normal, false);
    }
    assert_eq!(r.tick(t(3.0)), Tick::NoSample);
    r.accumulate(t(3.5), 1e-3, 1e-6, LeapStatus::Normal, false);
    assert!(matches!(r.tick(t(4.0)), Tick::Filtered(_)));
    assert_eq!(r.driver_polled(), 0);
}

/// A virtual clock driven by the engine's actions (true time = seconds
/// since `T0`).
struct Sim {
    engine: Engine,
    /// Reading minus true time, seconds.
    offset: f64,
    natural: f64,
    correction: f64,
    now: f64,
    logs: Vec<String>,
    refclock_lines: usize,
}

impl Sim {
    fn new(config: &str, offset: f64, natural: f64) -> Self {
        let parsed = krony_config::parse_str(config, "t.conf").expect("valid config");
        let cfg = EngineConfig::from_config(&parsed.config).expect("engine config");
        let raw = t(offset);
        let mut engine = Engine::new(cfg, raw, 1).expect("engine");
        for spec in &parsed.config.refclocks {
            engine.add_refclock(spec);
        }
        engine.start_refclocks(raw);
        let mut sim = Sim {
            engine,
            offset,
            natural,
            correction: 0.0,
            now: 0.0,
            logs: Vec::new(),
            refclock_lines: 0,
        };
        sim.drain();
        sim
    }

    fn raw(&self, true_time: f64) -> UnixTime {
        t(true_time + self.offset)
    }

    fn drain(&mut self) {
        while let Some(a) = self.engine.poll_clock_action() {
            match a {
                ClockAction::SetFrequency { correction_ppm } => {
                    self.correction = correction_ppm * 1e-6
                }
                ClockAction::Step { offset } => self.offset += offset,
                _ => {}
            }
        }
        while let Some(e) = self.engine.poll_event() {
            match e {
                EngineEvent::Log(m) => self.logs.push(m.text),
                EngineEvent::RefclockLog(_) => self.refclock_lines += 1,
                _ => {}
            }
        }
    }

    /// Runs to true time `until`, calling `feed` (with the true time) every
    /// `step` seconds before the engine's timers.
    fn run(&mut self, until: f64, step: f64, mut feed: impl FnMut(&mut Sim, f64)) {
        while self.now < until {
            let dt = step.min(until - self.now);
            self.offset += dt * ((1.0 + self.natural) * (1.0 + self.correction) - 1.0);
            self.now += dt;
            feed(self, self.now);
            self.drain();
            let raw = self.raw(self.now);
            while self.engine.poll_timeout().is_some_and(|d| d <= raw) {
                self.engine.handle_timeout(raw);
                self.drain();
            }
        }
    }
}

#[test]
fn engine_selects_a_sock_refclock_and_becomes_stratum_one() {
    let conf = "refclock SOCK /tmp/x.sock poll 2\nlog refclocks\nmakestep 1 3\n";
    let mut sim = Sim::new(conf, 0.05, 20e-6);
    let id = sim.engine.refclock_ids()[0];
    let mut accepted = 0;
    sim.run(600.0, 0.25, |s, true_now| {
        // A sample every second, 0.1 s after it was taken.
        if (true_now.fract()).abs() < 1e-9 {
            let when = true_now - 0.1;
            let sample = RefclockSample {
                sys_time: s.raw(when),
                ref_time: t(when),
                leap: 0,
            };
            let now = s.raw(true_now);
            if s.engine.handle_refclock_sample(now, id, sample) {
                accepted += 1;
            }
        }
    });
    assert!(accepted > 550, "accepted {accepted}");
    let raw = sim.raw(sim.now);
    let rows = sim.engine.sources(raw);
    assert_eq!(rows.len(), 1);
    assert!(rows[0].refclock);
    assert_eq!(rows[0].name, "SOC0");
    assert_eq!(rows[0].state, ReportState::Selected);
    assert_eq!(rows[0].reach, 0o377);
    let tr = sim.engine.tracking(raw);
    assert_eq!(tr.stratum, 1);
    assert_eq!(ref_id_text(tr.ref_id), "SOC0");
    assert!(tr.ref_ip.is_none());
    assert!(sim.offset.abs() < 1e-4, "offset {}", sim.offset);
    assert!(
        sim.logs.iter().any(|l| l == "Selected source SOC0"),
        "{:?}",
        sim.logs
    );
    // One line per sample and one per filter output.
    assert!(sim.refclock_lines > accepted, "{}", sim.refclock_lines);
}

#[test]
fn pps_locked_to_a_coarse_refclock() {
    // NMEA is off by 30 ms and noisy; the PPS edge is exact.
    let conf = "refclock SOCK /tmp/nmea.sock refid NMEA noselect poll 2\n\
                refclock SOCK /tmp/pps.sock refid PPS lock NMEA poll 2 pps\n";
    let mut sim = Sim::new(conf, 0.2, -10e-6);
    let ids = sim.engine.refclock_ids();
    let (nmea, pps) = (ids[0], ids[1]);
    let mut pulses = 0;
    let mut k = 0u32;
    sim.run(900.0, 0.5, |s, true_now| {
        if (true_now.fract()).abs() > 1e-9 {
            return;
        }
        k += 1;
        let noise = if k % 2 == 0 { 0.004 } else { -0.004 };
        let when = true_now;
        let now = s.raw(true_now);
        let nmea_sample = RefclockSample {
            sys_time: s.raw(when - 0.4 + noise),
            ref_time: t(when - 0.43),
            leap: 0,
        };
        s.engine.handle_refclock_sample(now, nmea, nmea_sample);
        // The pulse at the true second: the driver gives the system time
        // of the edge, and the reference time of its second.
        let sys = s.raw(when);
        let second = f64::from(sys.subsec_nanos()) * 1e-9;
        if s.engine.handle_refclock_pulse(now, pps, sys, second) {
            pulses += 1;
        }
    });
    assert!(pulses > 800, "pulses {pulses}");
    let raw = sim.raw(sim.now);
    let rows = sim.engine.sources(raw);
    let pps_row = rows.iter().find(|r| r.id == pps).expect("pps row");
    assert_eq!(pps_row.state, ReportState::Selected);
    assert_eq!(sim.engine.tracking(raw).stratum, 1);
    // Locked to NMEA's second but with the pulse's precision.
    assert!(sim.offset.abs() < 1e-5, "offset {}", sim.offset);
}

#[test]
fn invalid_lock_is_reported() {
    let sim = Sim::new("refclock SOCK /tmp/p.sock lock GPS pps\n", 0.0, 0.0);
    assert!(
        sim.logs.iter().any(|l| l == "Invalid lock refid GPS"),
        "{:?}",
        sim.logs
    );
}

#[test]
fn unlocked_pps_needs_a_synchronised_clock() {
    let mut sim = Sim::new("refclock SOCK /tmp/p.sock pps\n", 0.0, 0.0);
    let id = sim.engine.refclock_ids()[0];
    let now = sim.raw(1.0);
    // Unsynchronised: the pulse is dropped.
    assert!(!sim.engine.handle_refclock_pulse(now, id, sim.raw(0.9), 0.0));
}

#[test]
fn samples_from_the_future_or_too_old_are_dropped() {
    let mut sim = Sim::new("refclock SOCK /tmp/x.sock poll 2\n", 0.0, 0.0);
    let id = sim.engine.refclock_ids()[0];
    let now = t(100.0);
    let at = |s: f64| RefclockSample {
        sys_time: t(s),
        ref_time: t(s),
        leap: 0,
    };
    assert!(!sim.engine.handle_refclock_sample(now, id, at(100.5)));
    assert!(!sim.engine.handle_refclock_sample(now, id, at(91.0)));
    assert!(sim.engine.handle_refclock_sample(now, id, at(93.0)));
    let bad_leap = RefclockSample {
        leap: 3,
        ..at(99.0)
    };
    assert!(!sim.engine.handle_refclock_sample(now, id, bad_leap));
}

#[test]
fn local_refclock_follows_frequency_changes_without_being_selected() {
    // A stable but unsynchronised reference (a PHC): the clock's frequency
    // error jumps from 50 to 60 ppm; the local refclock puts the clock back
    // to the rate it had against the reference (chrony's `follow_local`
    // follows changes of its regression, not the first estimate).
    let mut sim = Sim::new("refclock SOCK /tmp/l.sock local poll 2\n", 0.3, 50e-6);
    let id = sim.engine.refclock_ids()[0];
    sim.run(1800.0, 0.25, |s, true_now| {
        if (true_now - 600.0).abs() < 1e-9 {
            s.natural = 60e-6;
        }
        if (true_now.fract()).abs() < 1e-9 {
            let when = true_now - 0.05;
            let sample = RefclockSample {
                sys_time: s.raw(when),
                ref_time: t(when),
                leap: 0,
            };
            s.engine.handle_refclock_sample(s.raw(true_now), id, sample);
        }
    });
    let rate = (1.0 + sim.natural) * (1.0 + sim.correction) - 1.0;
    assert!((rate - 50e-6).abs() < 1e-6, "frequency error {rate}");
    let raw = sim.raw(sim.now);
    let rows = sim.engine.sources(raw);
    assert_ne!(rows[0].state, ReportState::Selected);
    assert_eq!(rows[0].reach, 0o377);
    // Nothing was selected: the reference did not become synchronised.
    assert_eq!(sim.engine.tracking(raw).stratum, 0);
    assert!(
        !sim.logs.iter().any(|l| l.contains("lost lock")),
        "{:?}",
        sim.logs
    );
}

#[test]
fn unlocked_pps_takes_over_from_a_coarse_refclock() {
    // A coarse source 20 ms off (with the `offset` correcting most of it)
    // synchronises the clock well enough for an unlocked PPS, whose
    // seconds come from the clock; the PPS then wins selection.
    let conf = "refclock SOCK /tmp/nmea.sock refid NMEA offset 0.02 delay 0.1 poll 2\n\
                refclock SOCK /tmp/pps.sock refid PPS poll 2 pps\n\
                maxupdateskew 10000\n";
    let mut sim = Sim::new(conf, 0.1, 30e-6);
    let ids = sim.engine.refclock_ids();
    let (nmea, pps) = (ids[0], ids[1]);
    let mut pulses = 0;
    sim.run(900.0, 0.5, |s, true_now| {
        if (true_now.fract()).abs() > 1e-9 {
            return;
        }
        let now = s.raw(true_now);
        let coarse = RefclockSample {
            sys_time: s.raw(true_now - 0.4),
            ref_time: t(true_now - 0.4 - 0.02),
            leap: 0,
        };
        s.engine.handle_refclock_sample(now, nmea, coarse);
        let sys = s.raw(true_now);
        let second = f64::from(sys.subsec_nanos()) * 1e-9;
        if s.engine.handle_refclock_pulse(now, pps, sys, second) {
            pulses += 1;
        }
    });
    assert!(pulses > 500, "pulses {pulses}");
    let raw = sim.raw(sim.now);
    let rows = sim.engine.sources(raw);
    let row = rows.iter().find(|r| r.id == pps).expect("pps");
    assert_eq!(row.state, ReportState::Selected, "{rows:?}");
    assert!(sim.offset.abs() < 1e-5, "offset {}", sim.offset);
}
