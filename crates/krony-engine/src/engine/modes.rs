//! The reference's modes as the driver sees them: `initstepslew` ends by
//! the driver's decision (chronyd's `main.c` switches to normal operation
//! two seconds after the measurement), and a special mode whose sources
//! can no longer answer is ended as unsynchronised; leap seconds known
//! from files.

use super::Engine;
use crate::UnixTime;
use crate::discipline::{KnownLeap, RefMode};

impl Engine {
    /// Switches the reference's mode: back to [`RefMode::Normal`] after
    /// `initstepslew`, or out of `initstepslew` when none of its servers
    /// could be resolved (chronyd then never enters it).
    pub fn set_reference_mode(&mut self, mode: RefMode) {
        self.reference.set_mode(mode);
    }

    /// The next leap second known from `leapsectz` or `leapseclist`: the
    /// reference announces it on its day when the sources say "Normal".
    pub fn set_known_leap(&mut self, known: Option<KnownLeap>) {
        self.reference.set_known_leap(known);
    }

    /// No source can be selected any more (chrony's `REF_SetUnsynchronised`):
    /// in a special mode (`initstepslew`, `-q`, `-Q`) this ends the mode
    /// without a measurement ("No suitable source for ..."); drain the
    /// events after.
    pub fn set_unsynchronised(&mut self, now: UnixTime) {
        self.reference.set_unsynchronised(now);
        self.drain_reference(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EngineEvent;
    use crate::engine::EngineConfig;

    #[test]
    fn initstepslew_without_sources_ends_unsynchronised() {
        let parsed = krony_config::parse_str("initstepslew 1 192.0.2.1\n", "t").expect("valid");
        let cfg = EngineConfig::from_config(&parsed.config).expect("config");
        let now = UnixTime::from_secs_nanos(1_700_000_000, 0);
        let mut e = Engine::new(cfg, now, 1).expect("engine");
        assert_eq!(
            e.reference().mode(),
            RefMode::InitStepSlew { threshold: 1.0 }
        );
        e.set_unsynchronised(now);
        let events: Vec<EngineEvent> = std::iter::from_fn(|| e.poll_event()).collect();
        assert!(
            events.iter().any(|ev| ev
                .as_log()
                .is_some_and(|m| m.text == "No suitable source for initstepslew")),
            "{events:?}"
        );
        assert!(events.contains(&EngineEvent::Exit { success: false }));
        assert_eq!(e.reference().mode(), RefMode::Ignore);
        e.set_reference_mode(RefMode::Normal);
        assert_eq!(e.reference().mode(), RefMode::Normal);
    }
}
