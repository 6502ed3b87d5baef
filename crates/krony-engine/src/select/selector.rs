//! The selection state kept between rounds.

use std::collections::BTreeMap;

use super::round::Round;
use super::{Candidate, SelectConfig, SelectState, Selection, SourceId};
use crate::clock::LeapStatus;

/// The part of the selection data kept for reports.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct SelInfo {
    pub(super) lo: f64,
    pub(super) hi: f64,
    pub(super) root_distance: f64,
    pub(super) std_dev: f64,
    pub(super) last_sample_ago: f64,
}

/// What the selector remembers about one source between rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Memory {
    pub(super) status: SelectState,
    /// Score against the system peer; a new peer needs more than SCORE_LIMIT.
    pub(super) score: f64,
    /// Rounds left before the source may be combined again.
    pub(super) distant: u32,
    /// Consecutive bad states while it was the last updated source.
    pub(super) bad: u32,
    /// New samples since the reference was last updated.
    pub(super) updates: u32,
    /// One bit per [`SelectState`] already logged since the peer changed.
    pub(super) reported: u32,
    pub(super) leap_vote: bool,
    pub(super) info: SelInfo,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            status: SelectState::MissingSamples,
            score: 1.0,
            distant: 0,
            bad: 0,
            updates: 0,
            reported: 0,
            leap_vote: false,
            info: SelInfo::default(),
        }
    }
}

/// Flags that keep selection messages from repeating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Flags {
    pub(super) reported_no_majority: bool,
    /// The peer was lost; the next failure message is worth logging.
    pub(super) report_selection_loss: bool,
    /// One failed selection was allowed to be logged before the first
    /// successful one.
    pub(super) forced_first_report: bool,
}

/// Selection state kept across rounds: the system peer, per-source scores
/// and the flags that keep messages from repeating.
///
/// Call [`Selector::select`] after every new sample of a source (passing its
/// id as `updated`) and whenever a source's reachability register drops to
/// zero or a source is added, removed or reset (passing `None`).
///
/// ```
/// use krony_engine::UnixTime;
/// use krony_engine::clock::LeapStatus;
/// use krony_engine::select::*;
///
/// let tracking = TrackingData {
///     ref_time: UnixTime::from_secs_nanos(1_700_000_000, 0),
///     offset: 0.002,
///     offset_sd: 0.0005,
///     frequency: 0.0,
///     frequency_sd: 1e-8,
///     skew: 1e-8,
///     root_delay: 0.01,
///     root_dispersion: 0.001,
/// };
/// let server = Candidate {
///     id: SourceId(1),
///     kind: SourceKind::Ntp,
///     ref_id: 0xc000_0201,
///     local_ref_id: 0,
///     authenticated: false,
///     options: SelectOptions::default(),
///     stratum: 2,
///     leap: LeapStatus::Normal,
///     reach: Reachability { register: 0xff, size: 8, unreachable_run: 0 },
///     max_unreach: 100_000,
///     stats: Some(SourceStats {
///         usable: true,
///         lo: -0.004,
///         hi: 0.008,
///         root_distance: 0.006,
///         std_dev: 0.0005,
///         first_sample_ago: 300.0,
///         last_sample_ago: 20.0,
///         tracking,
///     }),
/// };
/// let mut selector = Selector::new();
/// let sel = selector.select(&[server], Some(SourceId(1)), &SelectConfig::default());
/// assert_eq!(sel.selected, Some(SourceId(1)));
/// assert_eq!(sel.sources[0].state.as_char(), '*');
/// let name = |_| "192.0.2.1".to_string();
/// assert_eq!(sel.events[0].message(name).as_deref(), Some("Selected source 192.0.2.1"));
/// assert_eq!(sel.reference.map(|r| r.tracking.offset), Some(0.002));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Selector {
    pub(super) memory: BTreeMap<SourceId, Memory>,
    pub(super) selected: Option<SourceId>,
    pub(super) last_updated: Option<SourceId>,
    pub(super) flags: Flags,
}

impl Selector {
    /// A selector with no history.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current system peer.
    pub fn selected(&self) -> Option<SourceId> {
        self.selected
    }

    /// Forgets the system peer so that the next round selects the best
    /// source afresh (chronyc `reselect`).
    pub fn reselect(&mut self) {
        self.selected = None;
    }

    /// Forgets what is known about a source whose samples were dropped
    /// (its state becomes `M`, its score 1).
    pub fn reset_source(&mut self, id: SourceId) {
        self.memory.remove(&id);
    }

    /// Counts a new sample of a source without running a round (chrony's
    /// `SRC_ReloadSources` after a dump was loaded: an immediate update of
    /// the reference is allowed).
    pub fn count_update(&mut self, id: SourceId) {
        let mem = self.memory.entry(id).or_default();
        mem.updates = mem.updates.saturating_add(1);
    }

    /// The state of a source after the last round.
    pub fn state(&self, id: SourceId) -> Option<SelectState> {
        self.memory.get(&id).map(|m| m.status)
    }

    /// The leap status voted by the sources that were selectable in the last
    /// round, from their current leap status: insert or delete when more than
    /// half of the voters announce it, normal otherwise. Call it when a
    /// voting source's leap status changes between rounds.
    pub fn leap_status(&self, candidates: &[Candidate]) -> LeapStatus {
        let voters = candidates
            .iter()
            .filter(|c| self.memory.get(&c.id).is_some_and(|m| m.leap_vote))
            .map(|c| c.leap);
        leap_majority(voters)
    }

    /// Runs one selection round over all configured sources.
    ///
    /// `updated` is the source that has just got a new sample, if any: only
    /// pairs involving it (or the peer) change their scores, and the
    /// reference is only updated when the peer has a new sample. Source ids
    /// must be unique; sources absent from `candidates` are forgotten.
    pub fn select(
        &mut self,
        candidates: &[Candidate],
        updated: Option<SourceId>,
        config: &SelectConfig,
    ) -> Selection {
        let mut round = Round::start(self, candidates, updated, config);
        round.run();
        round.finish(self)
    }
}

/// Counts the votes: a leap second wins with more than half of them.
pub(super) fn leap_majority(votes: impl Iterator<Item = LeapStatus>) -> LeapStatus {
    let (mut total, mut insert, mut delete) = (0usize, 0usize, 0usize);
    for leap in votes {
        total += 1;
        match leap {
            LeapStatus::InsertSecond => insert += 1,
            LeapStatus::DeleteSecond => delete += 1,
            _ => {}
        }
    }
    if insert > total / 2 {
        LeapStatus::InsertSecond
    } else if delete > total / 2 {
        LeapStatus::DeleteSecond
    } else {
        LeapStatus::Normal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leap_vote_needs_more_than_half() {
        use LeapStatus::*;
        let vote = |v: &[LeapStatus]| leap_majority(v.iter().copied());
        assert_eq!(vote(&[InsertSecond, InsertSecond, Normal]), InsertSecond);
        assert_eq!(vote(&[InsertSecond, Normal]), Normal);
        assert_eq!(
            vote(&[DeleteSecond, DeleteSecond, InsertSecond]),
            DeleteSecond
        );
        assert_eq!(vote(&[]), Normal);
    }
}
