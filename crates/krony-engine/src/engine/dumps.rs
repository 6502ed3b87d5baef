//! Dump files (`dumpdir`, `-r`): what a source's dump holds beside its
//! samples, and restoring it at start (chrony's `SRC_ReloadSources`).
//!
//! The reachability, stratum and leap status of a reloaded source are kept
//! beside the source (an overlay), because the source itself starts afresh:
//! its own reachability register then shifts the restored one out poll by
//! poll, as chrony's register would, and its stratum and leap take over with
//! its first sample.

use super::Engine;
use crate::UnixTime;
use crate::clock::LeapStatus;
use crate::select::{REACH_BITS, Reachability, SourceId};
use crate::stats::SourceStats;

/// The state of a source stored in its dump file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceDumpState {
    /// Whether its packets were authenticated.
    pub authenticated: bool,
    /// The reachability register (newest poll in bit 0).
    pub reach: u8,
    /// How many polls the register holds (0..=8).
    pub reach_size: u8,
    /// Its stratum.
    pub stratum: u8,
    /// Its leap status.
    pub leap: LeapStatus,
}

/// What was restored from a dump, until the source's own state replaces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Restored {
    reach: u8,
    reach_size: u8,
    stratum: u8,
    leap: LeapStatus,
    /// The source has had a sample since: its stratum and leap are its own.
    sampled: bool,
}

impl Restored {
    /// The register the source would have had without the restart: the
    /// restored bits shifted by the polls made since.
    pub(super) fn reach(restored: Option<&Self>, own: Reachability) -> Reachability {
        let Some(r) = restored else { return own };
        if own.size >= REACH_BITS {
            return own;
        }
        let shifted = (u16::from(r.reach) << own.size) as u8;
        Reachability {
            register: shifted | own.register,
            size: (r.reach_size + own.size).min(REACH_BITS),
            unreachable_run: own.unreachable_run,
        }
    }

    /// The stratum and leap status to use while the source has no sample.
    pub(super) fn stratum_leap(restored: Option<&Self>) -> Option<(u8, LeapStatus)> {
        restored.filter(|r| !r.sampled).map(|r| (r.stratum, r.leap))
    }

    /// The source accumulated a sample.
    pub(super) fn sampled(restored: &mut Option<Self>) {
        if let Some(r) = restored {
            r.sampled = true;
        }
    }
}

impl Engine {
    /// The statistics of a source, to load its dump into
    /// ([`SourceStats::load`], with the time [`cook`](Self::cook)ed).
    pub fn source_stats_mut(&mut self, id: SourceId) -> Option<&mut SourceStats> {
        if !self.sources.contains_key(&id) {
            return self.refclock_stats_mut(id);
        }
        self.sources.get_mut(&id).map(|s| s.source.stats_mut())
    }

    /// The state to store in a source's dump file: its reachability (with a
    /// restored one shifted by the polls since), stratum, leap status and
    /// whether it is authenticated.
    pub fn source_dump_state(&self, id: SourceId) -> Option<SourceDumpState> {
        let Some(slot) = self.sources.get(&id) else {
            return self.refclock_dump_state(id);
        };
        let reach = Restored::reach(slot.restored.as_ref(), slot.source.reachability());
        let (stratum, leap) = Restored::stratum_leap(slot.restored.as_ref())
            .unwrap_or((slot.source.stratum(), slot.source.leap()));
        Some(SourceDumpState {
            authenticated: slot.source.candidate(id).authenticated,
            reach: reach.register,
            reach_size: reach.size,
            stratum,
            leap,
        })
    }

    /// Restores the state a source's dump file held (after its samples were
    /// loaded with [`source_stats_mut`](Self::source_stats_mut)). Unknown
    /// sources are ignored.
    pub fn restore_source_state(&mut self, id: SourceId, state: &SourceDumpState) {
        self.restore_refclock_state(id, state);
        if let Some(slot) = self.sources.get_mut(&id) {
            slot.restored = Some(Restored {
                reach: state.reach,
                reach_size: state.reach_size.min(REACH_BITS),
                stratum: state.stratum,
                leap: state.leap,
                sampled: false,
            });
        }
    }

    /// After loading dumps: every source counts as updated (so the
    /// reference may be updated at once) and selection runs (chrony's
    /// `SRC_ReloadSources`).
    pub fn finish_reload(&mut self, now: UnixTime) {
        for id in self.report_ids() {
            self.selector.count_update(id);
        }
        self.select(now, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restored_register_is_shifted_out_by_new_polls() {
        let r = Restored {
            reach: 0o377,
            reach_size: 8,
            stratum: 2,
            leap: LeapStatus::Normal,
            sampled: false,
        };
        let own = |register, size| Reachability {
            register,
            size,
            unreachable_run: 0,
        };
        assert_eq!(Restored::reach(Some(&r), own(0, 0)).register, 0o377);
        let two = Restored::reach(Some(&r), own(0b01, 2));
        assert_eq!((two.register, two.size), (0o375, 8));
        let full = Restored::reach(Some(&r), own(0o12, 8));
        assert_eq!((full.register, full.size), (0o12, 8));
        assert_eq!(Restored::reach(None, own(1, 1)).register, 1);
        let short = Restored {
            reach: 0b11,
            reach_size: 2,
            ..r
        };
        let s = Restored::reach(Some(&short), own(1, 1));
        assert_eq!((s.register, s.size), (0b111, 3));
        let mut some = Some(r);
        assert_eq!(
            Restored::stratum_leap(some.as_ref()),
            Some((2, LeapStatus::Normal))
        );
        Restored::sampled(&mut some);
        assert_eq!(Restored::stratum_leap(some.as_ref()), None);
    }
}
