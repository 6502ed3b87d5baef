//! Source selection: which sources agree, which one leads, which are combined.
//!
//! This is krony's counterpart of chrony's source selection (`sources.c`). It is
//! a pure state machine: the caller describes every configured source as a
//! [`Candidate`] (statistics evaluated at the current time, reachability,
//! stratum, leap status, options) and calls [`Selector::select`] whenever a
//! source has a new sample or its reachability drops. The [`Selection`] it
//! returns says what state each source is in (the `S` column of `kronyc
//! selectdata` and `sources`), which source is the system peer, the combined
//! estimate the reference should be updated with, and the events to log.
//!
//! The steps, in order:
//! 1. sources that cannot be used are excluded (noselect, too few samples,
//!    unsynchronised, stratum out of range, distance or jitter too large,
//!    stale, orphan);
//! 2. an endpoint sweep finds the offset interval contained in the most
//!    selection intervals, intervals of `trust` sources first; without a
//!    majority nothing is selected and every remaining source is a falseticker;
//! 3. `require` and `minsources` are enforced and `prefer` narrows the set;
//! 4. each source keeps a score against the current system peer and a new peer
//!    is chosen only when a score exceeds [`SCORE_LIMIT`];
//! 5. the remaining sources whose distance and frequency are close enough are
//!    combined with the system peer, and the leap status is a majority vote.

mod combine;
mod events;
mod interval;
mod options;
mod round;
mod selector;
#[cfg(test)]
mod tests;

pub use events::{SelectEvent, Severity, WaitReason};
pub use options::effective_options;
pub use selector::Selector;

use crate::UnixTime;
use crate::clock::LeapStatus;

/// A score above this replaces the system peer (chrony's `SCORE_LIMIT`).
pub const SCORE_LIMIT: f64 = 10.0;

/// Selection rounds a source stays out of combining after it was too distant,
/// once its reachability register is full (chrony's `DISTANT_PENALTY`).
pub const DISTANT_PENALTY: u32 = 32;

/// Consecutive bad states of the last updated source after which it is
/// reported, and an NTP source is offered for replacement.
pub const BAD_HANDLE_THRESHOLD: u32 = 4;

/// Bits in a reachability register (RFC 5905 §13 "reach" is 8 bits).
pub const REACH_BITS: u8 = 8;

/// The stratum that means "unsynchronised" (RFC 5905 §7.3: 16).
pub const MAX_STRATUM: u8 = 16;

/// Identifies a source across calls; the caller chooses the values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(pub u32);

/// Selection options of a source (the `COpts`/`EOpts` columns of selectdata).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SelectOptions {
    /// Never select the source (`noselect`).
    pub noselect: bool,
    /// Prefer the source over sources without it (`prefer`).
    pub prefer: bool,
    /// Assume the source is correct when others disagree (`trust`).
    pub trust: bool,
    /// Do not update the clock unless this source is selectable (`require`).
    pub require: bool,
}

impl SelectOptions {
    /// The cmdmon bit for `noselect` (RPY_SD_OPTION_NOSELECT, also used by
    /// the SELECT_OPTS request).
    pub const NOSELECT_BIT: u32 = 0x1;
    /// The cmdmon bit for `prefer`.
    pub const PREFER_BIT: u32 = 0x2;
    /// The cmdmon bit for `trust`.
    pub const TRUST_BIT: u32 = 0x4;
    /// The cmdmon bit for `require`.
    pub const REQUIRE_BIT: u32 = 0x8;

    /// The options as cmdmon bits.
    pub fn bits(self) -> u32 {
        let mut bits = 0;
        for (set, bit) in [
            (self.noselect, Self::NOSELECT_BIT),
            (self.prefer, Self::PREFER_BIT),
            (self.trust, Self::TRUST_BIT),
            (self.require, Self::REQUIRE_BIT),
        ] {
            if set {
                bits |= bit;
            }
        }
        bits
    }

    /// Options from cmdmon bits; unknown bits are ignored.
    pub fn from_bits(bits: u32) -> Self {
        SelectOptions {
            noselect: bits & Self::NOSELECT_BIT != 0,
            prefer: bits & Self::PREFER_BIT != 0,
            trust: bits & Self::TRUST_BIT != 0,
            require: bits & Self::REQUIRE_BIT != 0,
        }
    }

    /// The options as selectdata prints them, e.g. `"--TR-"`: N, P, T, R or
    /// `-` for each, and a fifth column that is always `-`.
    pub fn letters(self) -> String {
        let flag = |set: bool, c: char| if set { c } else { '-' };
        [
            flag(self.noselect, 'N'),
            flag(self.prefer, 'P'),
            flag(self.trust, 'T'),
            flag(self.require, 'R'),
            '-',
        ]
        .iter()
        .collect()
    }
}

/// How selection treats authenticated and unauthenticated sources
/// (`authselectmode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AuthSelectMode {
    /// Unauthenticated NTP sources are never selected.
    Require,
    /// Unauthenticated NTP sources are not selected while an authenticated
    /// NTP source is configured.
    Prefer,
    /// With both kinds configured, authenticated NTP sources and reference
    /// clocks get `require` and `trust`.
    #[default]
    Mix,
    /// Authentication does not matter.
    Ignore,
}

/// What kind of source a candidate is; NTP sources and reference clocks
/// differ in reselect distance, orphan handling, authselectmode and
/// replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SourceKind {
    /// An NTP server, peer or pool member.
    Ntp,
    /// A reference clock.
    Refclock,
}

/// A source's reachability as its poller tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Reachability {
    /// The register, newest poll in bit 0 (the `Reach` column in octal).
    pub register: u8,
    /// How many polls the register holds, 0 to [`REACH_BITS`].
    pub size: u8,
    /// Consecutive register updates that left it zero.
    pub unreachable_run: u32,
}

/// The source's regression estimate (chrony's "tracking data"): what the
/// reference is updated with when the source leads or is combined.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrackingData {
    /// The time the offset estimate refers to.
    pub ref_time: UnixTime,
    /// Estimated offset at `ref_time`, seconds.
    pub offset: f64,
    /// Standard deviation of the offset estimate, seconds.
    pub offset_sd: f64,
    /// Estimated frequency offset as a fraction (s/s, not ppm), with the sign
    /// that makes `offset + elapsed * frequency` the offset `elapsed` seconds
    /// after `ref_time`.
    pub frequency: f64,
    /// Standard deviation of `frequency`, s/s.
    pub frequency_sd: f64,
    /// Skew (error bound of `frequency`), s/s.
    pub skew: f64,
    /// Root delay of the best sample, seconds.
    pub root_delay: f64,
    /// Root dispersion at `ref_time`, seconds.
    pub root_dispersion: f64,
}

/// A source's statistics evaluated at the time of the selection (chrony's
/// "selection data"), present once the source has at least one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceStats {
    /// False while the statistics cannot be used for selection (the
    /// regression has not succeeded yet): the source then shows `M`.
    pub usable: bool,
    /// Low end of the selection interval: the offset of the best sample
    /// extrapolated to now, minus `root_distance`.
    pub lo: f64,
    /// High end of the selection interval (offset + `root_distance`).
    pub hi: f64,
    /// Root distance now: root delay / 2 + root dispersion + age × skew.
    pub root_distance: f64,
    /// Standard deviation of the samples (the jitter), seconds.
    pub std_dev: f64,
    /// Age of the oldest sample held, seconds.
    pub first_sample_ago: f64,
    /// Age of the newest sample held, seconds.
    pub last_sample_ago: f64,
    /// The regression estimate.
    pub tracking: TrackingData,
}

/// One configured source as the selection sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candidate {
    /// The caller's identifier for the source.
    pub id: SourceId,
    /// NTP source or reference clock.
    pub kind: SourceKind,
    /// The source's own reference ID (from its address, or the refclock's
    /// refid): what the reference takes when the source is selected.
    pub ref_id: u32,
    /// For NTP sources: the reference ID of our local address used to talk to
    /// it (orphan mode compares it with `ref_id`); 0 when unknown.
    pub local_ref_id: u32,
    /// Whether authentication (key or NTS) is enabled for the source.
    pub authenticated: bool,
    /// The configured options (effective ones are derived, see
    /// [`effective_options`]).
    pub options: SelectOptions,
    /// The stratum the source reports (not plus one).
    pub stratum: u8,
    /// The leap status the source reports; `Unsynchronised` excludes it.
    pub leap: LeapStatus,
    /// The reachability register.
    pub reach: Reachability,
    /// `maxunreach`: polls an unreachable source may stay selectable.
    pub max_unreach: u32,
    /// The statistics at the time of the selection; `None` without samples.
    pub stats: Option<SourceStats>,
}

/// Selection settings (chrony.conf directives of the same names).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelectConfig {
    /// `minsources`: selectable sources needed to update the clock.
    pub min_sources: usize,
    /// `maxdistance`: largest root distance of a selectable source, seconds.
    pub max_distance: f64,
    /// `maxjitter`: largest standard deviation of a selectable source, seconds.
    pub max_jitter: f64,
    /// `minstratum`: smallest selectable stratum.
    pub min_stratum: u8,
    /// `maxstratum`: largest selectable stratum.
    pub max_stratum: u8,
    /// `reselectdist`: distance added to NTP sources other than the system
    /// peer, seconds.
    pub reselect_distance: f64,
    /// `stratumweight`: seconds of distance per stratum above the lowest.
    pub stratum_weight: f64,
    /// `combinelimit`: how much worse than the system peer a combined source
    /// may be.
    pub combine_limit: f64,
    /// `maxclockerror` as a fraction (1 ppm = 1e-6).
    pub max_clock_error: f64,
    /// `authselectmode`.
    pub auth_select_mode: AuthSelectMode,
    /// The local stratum when `local orphan` is configured and the reference
    /// is in normal mode; `None` otherwise (then no source is an orphan).
    pub orphan_stratum: Option<u8>,
}

impl Default for SelectConfig {
    /// chrony's defaults.
    fn default() -> Self {
        SelectConfig {
            min_sources: 1,
            max_distance: 3.0,
            max_jitter: 1.0,
            min_stratum: 0,
            max_stratum: 15,
            reselect_distance: 1e-4,
            stratum_weight: 1e-3,
            combine_limit: 3.0,
            max_clock_error: 1e-6,
            auth_select_mode: AuthSelectMode::Mix,
            orphan_stratum: None,
        }
    }
}

/// The state of a source after a selection round: the `S` column of
/// `selectdata`. Chrony's unused "outlier" state is not represented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SelectState {
    /// `N`: has the noselect option.
    Noselect,
    /// `M`: does not have enough measurements.
    MissingSamples,
    /// `s`: is not synchronised.
    Unsynchronised,
    /// `r`: stratum outside minstratum..=maxstratum.
    BadStratum,
    /// `d`: root distance above maxdistance.
    BadDistance,
    /// `~`: jitter above maxjitter.
    Jittery,
    /// `w`: waits for other sources to get out of `M`.
    WaitsStats,
    /// `S`: only samples older than reachable sources have, or unreachable
    /// for more than maxunreach polls.
    Stale,
    /// `O`: stratum at or above the orphan stratum.
    Orphan,
    /// `T`: does not fully agree with the trusted sources.
    Untrusted,
    /// `x`: does not agree with the other sources.
    Falseticker,
    /// `W`: waits for other sources (minsources, or a required one).
    WaitsSources,
    /// `P`: another selectable source has the prefer option.
    NonPreferred,
    /// `U`: waits for a new measurement after another best source was found.
    WaitsUpdate,
    /// `D`: has, or recently had, a distance too large to be combined.
    Distant,
    /// `+`: combined with the best source.
    Combined,
    /// `*`: the best source, updating the reference.
    Selected,
}

impl SelectState {
    /// Every state, in chrony's order (used for the reported-once flags).
    pub const ALL: [SelectState; 17] = [
        SelectState::Noselect,
        SelectState::MissingSamples,
        SelectState::Unsynchronised,
        SelectState::BadStratum,
        SelectState::BadDistance,
        SelectState::Jittery,
        SelectState::WaitsStats,
        SelectState::Stale,
        SelectState::Orphan,
        SelectState::Untrusted,
        SelectState::Falseticker,
        SelectState::WaitsSources,
        SelectState::NonPreferred,
        SelectState::WaitsUpdate,
        SelectState::Distant,
        SelectState::Combined,
        SelectState::Selected,
    ];

    /// The character selectdata prints.
    pub fn as_char(self) -> char {
        match self {
            SelectState::Noselect => 'N',
            SelectState::MissingSamples => 'M',
            SelectState::Unsynchronised => 's',
            SelectState::BadStratum => 'r',
            SelectState::BadDistance => 'd',
            SelectState::Jittery => '~',
            SelectState::WaitsStats => 'w',
            SelectState::Stale => 'S',
            SelectState::Orphan => 'O',
            SelectState::Untrusted => 'T',
            SelectState::Falseticker => 'x',
            SelectState::WaitsSources => 'W',
            SelectState::NonPreferred => 'P',
            SelectState::WaitsUpdate => 'U',
            SelectState::Distant => 'D',
            SelectState::Combined => '+',
            SelectState::Selected => '*',
        }
    }

    /// The coarser state the `sources` report shows.
    pub fn report_state(self) -> ReportState {
        match self {
            SelectState::Falseticker => ReportState::Falseticker,
            SelectState::Jittery => ReportState::Jittery,
            SelectState::WaitsSources
            | SelectState::NonPreferred
            | SelectState::WaitsUpdate
            | SelectState::Distant => ReportState::Selectable,
            SelectState::Combined => ReportState::Unselected,
            SelectState::Selected => ReportState::Selected,
            _ => ReportState::Nonselectable,
        }
    }

    fn index(self) -> usize {
        // OK because ALL lists every variant once, in declaration order.
        self as usize
    }
}

/// The source state of the `sources` report (cmdmon `RPY_SD_ST_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReportState {
    /// `*`: the system peer.
    Selected,
    /// `?`: not selectable.
    Nonselectable,
    /// `x`: a falseticker.
    Falseticker,
    /// `~`: too variable.
    Jittery,
    /// `+`: combined with the system peer.
    Unselected,
    /// `-`: selectable but not combined.
    Selectable,
}

impl ReportState {
    /// The value on the cmdmon wire (SOURCE_DATA `state`).
    pub fn wire_value(self) -> u16 {
        match self {
            ReportState::Selected => 0,
            ReportState::Nonselectable => 1,
            ReportState::Falseticker => 2,
            ReportState::Jittery => 3,
            ReportState::Unselected => 4,
            ReportState::Selectable => 5,
        }
    }

    /// The state from its wire value.
    pub fn from_wire(value: u16) -> Option<Self> {
        Some(match value {
            0 => ReportState::Selected,
            1 => ReportState::Nonselectable,
            2 => ReportState::Falseticker,
            3 => ReportState::Jittery,
            4 => ReportState::Unselected,
            5 => ReportState::Selectable,
            _ => return None,
        })
    }

    /// The character `sources` prints.
    pub fn as_char(self) -> char {
        match self {
            ReportState::Selected => '*',
            ReportState::Nonselectable => '?',
            ReportState::Falseticker => 'x',
            ReportState::Jittery => '~',
            ReportState::Unselected => '+',
            ReportState::Selectable => '-',
        }
    }
}

/// What selectdata shows for one source after a round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceReport {
    /// The source.
    pub id: SourceId,
    /// Its state.
    pub state: SelectState,
    /// Effective options after `authselectmode`.
    pub effective: SelectOptions,
    /// Score against the system peer (1.0 when not selectable).
    pub score: f64,
    /// Low end of the selection interval used, seconds (with the extra
    /// dispersion of a source without new samples).
    pub lo: f64,
    /// High end of the selection interval used, seconds.
    pub hi: f64,
    /// Root distance used, seconds.
    pub root_distance: f64,
    /// Age of the newest sample, seconds.
    pub last_sample_ago: f64,
    /// Whether the source votes on leap seconds.
    pub leap_vote: bool,
}

/// The estimate the reference is to be updated with (chrony's
/// `REF_SetReference` arguments).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReferenceUpdate {
    /// The system peer.
    pub source: SourceId,
    /// Its stratum (the reference adds one).
    pub stratum: u8,
    /// Leap status voted by the selectable sources (never `Unsynchronised`).
    pub leap: LeapStatus,
    /// Sources combined, the system peer included.
    pub combined: usize,
    /// The system peer's reference ID.
    pub ref_id: u32,
    /// The system peer's estimate, with offset, frequency and their
    /// deviations and skew replaced by the combined values.
    pub tracking: TrackingData,
}

/// The outcome of one selection round.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Every candidate's report, in the order of the candidates.
    pub sources: Vec<SourceReport>,
    /// The system peer after the round.
    pub selected: Option<SourceId>,
    /// The update for the reference, when the system peer had a new sample.
    pub reference: Option<ReferenceUpdate>,
    /// Things to log or act on, in the order they happened.
    pub events: Vec<SelectEvent>,
}
