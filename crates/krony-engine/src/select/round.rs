//! One selection round over the candidates, following chrony's steps.

use super::combine::{Combiner, too_far};
use super::interval::{Interval, find_agreement};
use super::options::effective_options;
use super::selector::{Flags, Memory, SelInfo, Selector, leap_majority};
use super::{
    BAD_HANDLE_THRESHOLD, Candidate, DISTANT_PENALTY, MAX_STRATUM, REACH_BITS, ReferenceUpdate,
    SCORE_LIMIT, SelectConfig, SelectEvent, SelectOptions, SelectState, Selection, SourceId,
    SourceKind, SourceReport, TrackingData, WaitReason,
};
use crate::clock::LeapStatus;

/// One source during a round.
struct Slot<'a> {
    cand: &'a Candidate,
    opts: SelectOptions,
    /// `None` while the source is still OK (chrony's SRC_OK, never final).
    state: Option<SelectState>,
    mem: Memory,
}

/// Figures gathered while excluding unusable sources.
#[derive(Debug, Default)]
struct Counts {
    require_pending: bool,
    unreachable: usize,
    bad_stats: usize,
    max_bad_reach: u8,
    max_bad_reach_size: u8,
    max_sel_reach: u8,
    max_sel_reach_size: u8,
    /// Age of the oldest sample among reachable selectable sources.
    max_reach_sample_ago: f64,
}

/// One selection round, working on indexes into the candidates.
pub(super) struct Round<'a> {
    slots: Vec<Slot<'a>>,
    config: SelectConfig,
    flags: Flags,
    selected: Option<usize>,
    updated: Option<usize>,
    last_updated: Option<usize>,
    events: Vec<SelectEvent>,
    reference: Option<ReferenceUpdate>,
}

impl<'a> Round<'a> {
    pub(super) fn start(
        sel: &mut Selector,
        candidates: &'a [Candidate],
        updated: Option<SourceId>,
        config: &SelectConfig,
    ) -> Self {
        let position =
            |id: Option<SourceId>| id.and_then(|id| candidates.iter().position(|c| c.id == id));
        let updated_index = position(updated);
        if updated_index.is_some() {
            sel.last_updated = updated;
        }
        let mut flags = sel.flags;
        let selected = position(sel.selected);
        if sel.selected.is_some() && selected.is_none() {
            // The peer was removed: lost without a message of its own.
            flags.report_selection_loss = true;
        }
        let opts = effective_options(candidates, config.auth_select_mode);
        let slots = candidates
            .iter()
            .zip(opts)
            .map(|(cand, opts)| {
                let mut mem = sel.memory.get(&cand.id).copied().unwrap_or_default();
                mem.leap_vote = false;
                if Some(cand.id) == updated {
                    mem.updates = mem.updates.saturating_add(1);
                }
                Slot {
                    cand,
                    opts,
                    state: Some(mem.status),
                    mem,
                }
            })
            .collect();
        Round {
            slots,
            config: *config,
            flags,
            selected,
            updated: updated_index,
            last_updated: position(sel.last_updated),
            events: Vec::new(),
            reference: None,
        }
    }

    pub(super) fn finish(self, sel: &mut Selector) -> Selection {
        sel.flags = self.flags;
        sel.selected = self.selected.map(|i| self.slots[i].cand.id);
        sel.memory.clear();
        let mut sources = Vec::with_capacity(self.slots.len());
        for slot in &self.slots {
            let mut mem = slot.mem;
            // A source still OK here was left undecided; keep its old state.
            mem.status = slot.state.unwrap_or(mem.status);
            sel.memory.insert(slot.cand.id, mem);
            sources.push(SourceReport {
                id: slot.cand.id,
                state: mem.status,
                effective: slot.opts,
                score: mem.score,
                lo: mem.info.lo,
                hi: mem.info.hi,
                root_distance: mem.info.root_distance,
                last_sample_ago: mem.info.last_sample_ago,
                leap_vote: mem.leap_vote,
            });
        }
        if sel
            .last_updated
            .is_some_and(|id| !sel.memory.contains_key(&id))
        {
            sel.last_updated = None;
        }
        Selection {
            sources,
            selected: sel.selected,
            reference: self.reference,
            events: self.events,
        }
    }

    fn is_ok(&self, i: usize) -> bool {
        self.slots[i].state.is_none()
    }

    fn ok_indexes(&self) -> Vec<usize> {
        (0..self.slots.len()).filter(|&i| self.is_ok(i)).collect()
    }

    /// Sets a state without logging; counts bad states of the last updated
    /// source and asks for its replacement when they persist.
    fn set_state(&mut self, i: usize, state: SelectState) {
        let is_last_updated = self.last_updated == Some(i);
        let slot = &mut self.slots[i];
        slot.state = Some(state);
        if !is_last_updated {
            return;
        }
        let bad = matches!(
            state,
            SelectState::Falseticker
                | SelectState::BadDistance
                | SelectState::BadStratum
                | SelectState::Jittery
        );
        slot.mem.bad = if bad {
            slot.mem.bad.saturating_add(1)
        } else {
            0
        };
        if slot.mem.bad >= BAD_HANDLE_THRESHOLD && slot.cand.kind == SourceKind::Ntp {
            self.events.push(SelectEvent::BadSource(slot.cand.id));
        }
    }

    /// Sets a state and logs it once per peer change, if it is worth logging.
    fn mark(&mut self, i: usize, state: SelectState) {
        self.set_state(i, state);
        let cfg = &self.config;
        let slot = &mut self.slots[i];
        let bit = 1u32 << state.index();
        if slot.mem.reported & bit != 0 {
            return;
        }
        let source = slot.cand.id;
        let persistent = slot.mem.bad >= BAD_HANDLE_THRESHOLD;
        let event = match state {
            SelectState::BadStratum if persistent => {
                let below = slot.cand.stratum < cfg.min_stratum;
                let limit = if below {
                    cfg.min_stratum
                } else {
                    cfg.max_stratum
                };
                SelectEvent::StratumOutOfRange {
                    source,
                    below,
                    limit,
                }
            }
            SelectState::BadDistance if persistent => SelectEvent::DistanceTooLarge {
                source,
                max_distance: cfg.max_distance,
            },
            SelectState::Jittery if persistent => SelectEvent::JitterTooLarge {
                source,
                max_jitter: cfg.max_jitter,
            },
            SelectState::Falseticker => SelectEvent::Falseticker(source),
            SelectState::Selected => SelectEvent::Selected(source),
            _ => return,
        };
        slot.mem.reported |= bit;
        self.events.push(event);
    }

    /// Gives every source that is still OK the same state, without logging.
    fn mark_ok(&mut self, state: SelectState) {
        for i in self.ok_indexes() {
            self.set_state(i, state);
        }
    }

    /// Drops the peer; logs `message` only when a loss is to be reported
    /// (`None` means a transient state that waits for a later message).
    fn unselect(&mut self, message: Option<SelectEvent>) {
        if self.selected.take().is_some() {
            self.flags.report_selection_loss = true;
        }
        if let Some(event) = message {
            if self.flags.report_selection_loss {
                self.events.push(event);
                self.flags.report_selection_loss = false;
            }
        }
    }

    pub(super) fn run(&mut self) {
        if self.slots.is_empty() {
            self.unselect(Some(SelectEvent::NoSources));
            return;
        }
        let mut counts = self.exclude_unusable();
        let n_sel = self.exclude_stale_and_orphans(counts.max_reach_sample_ago);
        if !self.may_proceed(&counts, n_sel) {
            return;
        }
        let Some(mut chosen) = self.falseticker_test(&mut counts) else {
            return;
        };
        if chosen.iter().any(|&i| self.slots[i].opts.prefer) {
            for &i in &chosen {
                if !self.slots[i].opts.prefer {
                    self.mark(i, SelectState::NonPreferred);
                }
            }
            chosen.retain(|&i| self.slots[i].opts.prefer);
        }
        let Some(best) = self.update_scores(&chosen) else {
            // Only with non-finite or negative distances.
            self.unselect(None);
            self.mark_ok(SelectState::WaitsSources);
            return;
        };
        if !self.switch_peer(best) {
            return;
        }
        self.update_reference(&chosen);
    }

    /// Step 1: excludes sources that cannot be used at all.
    fn exclude_unusable(&mut self) -> Counts {
        let mut counts = Counts::default();
        for i in 0..self.slots.len() {
            // A required source counts even when noselect: then nothing can
            // ever be selected, as in chrony.
            counts.require_pending |= self.slots[i].opts.require;
            if let Some(state) = self.usability(i, &mut counts) {
                self.mark(i, state);
                continue;
            }
            let slot = &mut self.slots[i];
            slot.state = None;
            let reach = slot.cand.reach;
            let first_ago = slot.cand.stats.map_or(0.0, |s| s.first_sample_ago);
            if reach.register != 0 && counts.max_reach_sample_ago < first_ago {
                counts.max_reach_sample_ago = first_ago;
            }
            counts.max_sel_reach = counts.max_sel_reach.max(reach.register);
            counts.max_sel_reach_size = counts.max_sel_reach_size.max(reach.size);
        }
        counts
    }

    /// Why source `i` is unusable, or `None` when it is usable; refreshes
    /// its selection data.
    fn usability(&mut self, i: usize, counts: &mut Counts) -> Option<SelectState> {
        let cfg = self.config;
        let slot = &mut self.slots[i];
        let cand = slot.cand;
        if slot.opts.noselect {
            return Some(SelectState::Noselect);
        }
        if cand.reach.register == 0 {
            counts.unreachable += 1;
        }
        if let Some(stats) = cand.stats {
            slot.mem.info = SelInfo {
                lo: stats.lo,
                hi: stats.hi,
                root_distance: stats.root_distance,
                std_dev: stats.std_dev,
                last_sample_ago: stats.last_sample_ago,
            };
        }
        let Some(stats) = cand.stats.filter(|s| s.usable) else {
            counts.bad_stats += 1;
            counts.max_bad_reach = counts.max_bad_reach.max(cand.reach.register);
            counts.max_bad_reach_size = counts.max_bad_reach_size.max(cand.reach.size);
            return Some(SelectState::MissingSamples);
        };
        if cand.leap == LeapStatus::Unsynchronised {
            return Some(SelectState::Unsynchronised);
        }
        if cand.stratum < cfg.min_stratum || cand.stratum > cfg.max_stratum {
            return Some(SelectState::BadStratum);
        }
        // Without new samples (the newest is older than half the span of all
        // of them) the clock error accumulates as extra dispersion.
        let info = &mut slot.mem.info;
        if stats.first_sample_ago < 2.0 * stats.last_sample_ago {
            let extra =
                cfg.max_clock_error * (2.0 * stats.last_sample_ago - stats.first_sample_ago);
            info.root_distance += extra;
            info.lo -= extra;
            info.hi += extra;
        }
        // Written to fail for NaN too.
        if !(info.root_distance <= cfg.max_distance && info.lo <= info.hi) {
            return Some(SelectState::BadDistance);
        }
        if info.std_dev > cfg.max_jitter {
            return Some(SelectState::Jittery);
        }
        None
    }

    /// Step 2: stale sources and orphans; returns how many remain selectable.
    fn exclude_stale_and_orphans(&mut self, max_reach_sample_ago: f64) -> usize {
        let orphan_stratum = self.config.orphan_stratum.unwrap_or(MAX_STRATUM);
        let mut n_sel = 0;
        let mut orphan: Option<usize> = None;
        for i in self.ok_indexes() {
            let slot = &self.slots[i];
            let cand = slot.cand;
            // An unreachable source stays selectable while its newest sample
            // is not older than the oldest sample of the reachable ones and
            // it has not been unreachable for more than maxunreach polls.
            if cand.reach.register == 0
                && (slot.mem.info.last_sample_ago > max_reach_sample_ago
                    || cand.reach.unreachable_run > cand.max_unreach)
            {
                self.mark(i, SelectState::Stale);
                continue;
            }
            // NTP sources at the orphan stratum serve unsynchronised local
            // time; deeper ones follow such an orphan. Both are ignored, but
            // the reachable orphan with the lowest refid is remembered.
            if cand.stratum >= orphan_stratum && cand.kind == SourceKind::Ntp {
                let lower = orphan.is_none_or(|o| cand.ref_id < self.slots[o].cand.ref_id);
                if cand.stratum == orphan_stratum && cand.reach.register != 0 && lower {
                    orphan = Some(i);
                }
                self.mark(i, SelectState::Orphan);
                continue;
            }
            n_sel += 1;
        }
        match orphan {
            Some(o) if n_sel == 0 => self.consider_orphan(o),
            _ => n_sel,
        }
    }

    /// With nothing else selectable, an orphan source is followed when its
    /// refid is below ours, so a group of orphans settles on one leader.
    fn consider_orphan(&mut self, o: usize) -> usize {
        let cand = self.slots[o].cand;
        if cand.local_ref_id == 0 {
            self.events.push(SelectEvent::UnknownLocalRefid);
            0
        } else if cand.ref_id < cand.local_ref_id {
            self.slots[o].state = None;
            1
        } else {
            0
        }
    }

    /// Waits for sources still collecting samples, and gives up without any
    /// selectable source. Returns whether to go on.
    fn may_proceed(&mut self, counts: &Counts, n_sel: usize) -> bool {
        // At start, hold off while a source without enough samples polls in
        // step with the best selectable one, so that all servers polled at the
        // same interval get a chance.
        if counts.bad_stats > 0
            && n_sel > 0
            && self.selected.is_none()
            && counts.max_sel_reach_size < REACH_BITS
            && counts.max_sel_reach >> 1 == counts.max_bad_reach
        {
            self.mark_ok(SelectState::WaitsStats);
            self.unselect(None);
            return false;
        }
        if !self.flags.forced_first_report
            && counts.max_sel_reach_size.max(counts.max_bad_reach_size) == REACH_BITS
        {
            self.flags.report_selection_loss = true;
            self.flags.forced_first_report = true;
        }
        if self.ok_indexes().is_empty() {
            self.unselect(Some(SelectEvent::NoSelectableSources {
                unreachable: counts.unreachable,
            }));
            return false;
        }
        true
    }

    /// Steps 3 and 4: finds the majority, marks falsetickers and enforces
    /// `require` and `minsources`. Returns the selectable sources.
    fn falseticker_test(&mut self, counts: &mut Counts) -> Option<Vec<usize>> {
        let ok = self.ok_indexes();
        let intervals: Vec<Interval> = ok
            .iter()
            .map(|&i| Interval {
                lo: self.slots[i].mem.info.lo,
                hi: self.slots[i].mem.info.hi,
                trusted: self.slots[i].opts.trust,
            })
            .collect();
        let best = find_agreement(&intervals);
        let trusted = best.trust_depth > 0;
        let (depth, total) = if trusted {
            (
                best.trust_depth,
                intervals.iter().filter(|v| v.trusted).count(),
            )
        } else {
            (best.depth, intervals.len())
        };
        if depth <= total / 2 {
            self.no_majority(depth, total, trusted);
            return None;
        }

        let mut chosen = Vec::new();
        for (&i, iv) in ok.iter().zip(&intervals) {
            let around = iv.lo <= best.lo && iv.hi >= best.hi;
            let inside = iv.lo >= best.lo && iv.hi <= best.hi;
            if !(around || inside) {
                self.mark(i, SelectState::Falseticker);
            } else if trusted && !iv.trusted && !(iv.lo >= best.trust_lo && iv.hi <= best.trust_hi)
            {
                // Untrusted sources must not pull the offset out of the
                // trusted interval.
                self.mark(i, SelectState::Untrusted);
            } else {
                chosen.push(i);
                if self.slots[i].opts.require {
                    counts.require_pending = false;
                }
            }
        }

        if !self.enough_sources(&chosen, counts.require_pending) {
            return None;
        }
        for &i in &chosen {
            if !trusted || self.slots[i].opts.trust {
                self.slots[i].mem.leap_vote = true;
            }
        }
        Some(chosen)
    }

    /// Enforces `require` and `minsources`; the sources wait (`W`) otherwise.
    fn enough_sources(&mut self, chosen: &[usize], require_pending: bool) -> bool {
        let reason = if chosen.is_empty() {
            WaitReason::NoSources
        } else if require_pending {
            WaitReason::NoRequired
        } else if chosen.len() < self.config.min_sources {
            WaitReason::NotEnough
        } else {
            return true;
        };
        self.unselect(Some(SelectEvent::NotEnoughSources(reason)));
        self.mark_ok(SelectState::WaitsSources);
        false
    }

    fn no_majority(&mut self, depth: usize, total: usize, trusted: bool) {
        if !self.flags.reported_no_majority {
            self.events.push(SelectEvent::NoMajority {
                agreeing: depth,
                total,
                trusted,
            });
            self.flags.reported_no_majority = true;
            self.flags.report_selection_loss = false;
        }
        if self.selected.take().is_some() {
            self.events.push(SelectEvent::Unsynchronise);
        }
        // Shown as falsetickers in the reports.
        self.mark_ok(SelectState::Falseticker);
    }

    /// Distance used for scoring: root distance, a penalty per stratum above
    /// the lowest selectable one, and for NTP sources the reselect distance.
    fn score_distance(&self, i: usize, min_stratum: u8, with_reselect: bool) -> f64 {
        let slot = &self.slots[i];
        let strata = f64::from(slot.cand.stratum) - f64::from(min_stratum);
        let mut distance = slot.mem.info.root_distance + strata * self.config.stratum_weight;
        if with_reselect && slot.cand.kind == SourceKind::Ntp {
            distance += self.config.reselect_distance;
        }
        distance
    }

    /// Step 5: updates the scores against the peer; returns the source with
    /// the highest score.
    fn update_scores(&mut self, chosen: &[usize]) -> Option<usize> {
        let min_stratum = chosen.iter().map(|&i| self.slots[i].cand.stratum).min()?;
        let peer_distance = self
            .selected
            .map(|s| self.score_distance(s, min_stratum, false));
        let (updated, selected) = (self.updated, self.selected);
        let peer_or_updated =
            |i: usize| updated.is_some() && (Some(i) == updated || selected == updated);
        let mut best: Option<(usize, f64)> = None;
        for i in 0..self.slots.len() {
            if !self.is_ok(i) || !chosen.contains(&i) {
                self.slots[i].mem.score = 1.0;
                self.slots[i].mem.distant = DISTANT_PENALTY;
                continue;
            }
            let distance = self.score_distance(i, min_stratum, true);
            let update = peer_or_updated(i);
            let score = &mut self.slots[i].mem.score;
            match peer_distance {
                // Only pairs where one side has a new sample are rescored.
                Some(peer) if update => *score = (*score * peer / distance).max(1.0),
                Some(_) => {}
                // No peer yet: the shortest distance gets the highest score.
                None => *score = 1.0 / distance,
            }
            let score = *score;
            if best.is_none_or(|(_, s)| s < score) && score > 0.0 {
                best = Some((i, score));
            }
        }
        best.map(|(i, _)| i)
    }

    /// Keeps the peer unless it is no longer selectable or another source's
    /// score passed the limit. Returns whether to go on to the reference.
    fn switch_peer(&mut self, best: usize) -> bool {
        let best_score = self.slots[best].mem.score;
        let switch = match self.selected {
            None => true,
            Some(s) => !self.is_ok(s) || (best != s && best_score > SCORE_LIMIT),
        };
        if switch {
            if self.slots[best].mem.updates == 0 {
                // The reference cannot be updated before the new peer has a
                // new sample.
                self.unselect(None);
                self.mark_ok(SelectState::WaitsUpdate);
                return false;
            }
            self.selected = Some(best);
            for slot in &mut self.slots {
                slot.mem.score = 1.0;
                slot.mem.distant = 0;
                slot.mem.reported = 0;
            }
            self.flags = Flags {
                reported_no_majority: false,
                report_selection_loss: false,
                forced_first_report: true,
            };
        }
        let peer = self.selected.unwrap_or(best);
        self.mark(peer, SelectState::Selected);
        true
    }

    /// Step 6: combines the selectable sources and produces the reference
    /// update, when the peer has a new sample.
    fn update_reference(&mut self, chosen: &[usize]) {
        let Some(peer) = self.selected else { return };
        if self.slots[peer].mem.updates == 0 {
            for &i in chosen {
                if self.is_ok(i) {
                    let distant = self.slots[i].mem.distant > 0;
                    let state = if distant {
                        SelectState::Distant
                    } else {
                        SelectState::Combined
                    };
                    self.mark(i, state);
                }
            }
            return;
        }
        for slot in &mut self.slots {
            slot.mem.updates = 0;
        }
        let leap = leap_majority(
            self.slots
                .iter()
                .filter(|s| s.mem.leap_vote)
                .map(|s| s.cand.leap),
        );
        let Some(stats) = self.slots[peer].cand.stats else {
            return;
        };
        let (tracking, combined) = if chosen.len() == 1 {
            (stats.tracking, 1)
        } else {
            self.combine(peer, stats.tracking, chosen)
        };
        let cand = self.slots[peer].cand;
        self.reference = Some(ReferenceUpdate {
            source: cand.id,
            stratum: cand.stratum,
            leap,
            combined,
            ref_id: cand.ref_id,
            tracking,
        });
    }

    /// Combines the peer with the chosen sources close enough to it; sources
    /// too far stay out for a while (`D`). Returns the estimate and count.
    fn combine(
        &mut self,
        peer: usize,
        peer_tracking: TrackingData,
        chosen: &[usize],
    ) -> (TrackingData, usize) {
        let cfg = self.config;
        let peer_distance = self.score_distance(peer, self.slots[peer].cand.stratum, true);
        let mut combiner = Combiner::new(peer_tracking);
        for &i in chosen {
            let Some(stats) = self.slots[i].cand.stats else {
                continue;
            };
            let distance = self.slots[i].mem.info.root_distance;
            let full_reach = self.slots[i].cand.reach.size >= REACH_BITS;
            let mem = &mut self.slots[i].mem;
            if i != peer
                && too_far(
                    &peer_tracking,
                    peer_distance,
                    &stats.tracking,
                    distance,
                    cfg.combine_limit,
                    cfg.max_clock_error,
                )
            {
                // A smaller penalty during the first polls.
                mem.distant = if full_reach { DISTANT_PENALTY } else { 1 };
            } else {
                mem.distant = mem.distant.saturating_sub(1);
            }
            if mem.distant > 0 {
                self.mark(i, SelectState::Distant);
                continue;
            }
            if self.is_ok(i) {
                self.mark(i, SelectState::Combined);
            }
            combiner.add(&stats.tracking, distance);
        }
        (combiner.finish(), combiner.count())
    }
}
