//! Events of a selection round: what the daemon logs and what it must do.
//!
//! The texts are chrony's, because administrators grep for them.

use super::SourceId;

/// How loud an event is logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Informational.
    Info,
    /// A warning.
    Warning,
    /// An error.
    Error,
}

/// Why selectable sources were not enough to update the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WaitReason {
    /// No source survived the falseticker test.
    NoSources,
    /// No source with the `require` option is selectable.
    NoRequired,
    /// Fewer than `minsources` selectable sources.
    NotEnough,
}

/// Something the daemon logs or acts on.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SelectEvent {
    /// A new system peer was selected (logged once per change).
    Selected(SourceId),
    /// A source disagrees with the majority (logged once per peer change).
    Falseticker(SourceId),
    /// The last updated source kept a stratum out of range.
    StratumOutOfRange {
        /// The source.
        source: SourceId,
        /// True when below `minstratum`, false when above `maxstratum`.
        below: bool,
        /// The limit it violates.
        limit: u8,
    },
    /// The last updated source kept a root distance above `maxdistance`.
    DistanceTooLarge {
        /// The source.
        source: SourceId,
        /// `maxdistance`, seconds.
        max_distance: f64,
    },
    /// The last updated source kept a jitter above `maxjitter`.
    JitterTooLarge {
        /// The source.
        source: SourceId,
        /// `maxjitter`, seconds.
        max_jitter: f64,
    },
    /// An NTP source was a falseticker, or its stratum, distance or jitter
    /// was out of range, in several consecutive rounds: replace it if it came
    /// from a pool (chrony's `NSR_HandleBadSource`). Not logged.
    BadSource(SourceId),
    /// Nothing to select from: no sources are configured.
    NoSources,
    /// No source passed the usability tests.
    NoSelectableSources {
        /// How many of the sources (noselect ones excluded) are unreachable.
        unreachable: usize,
    },
    /// The sources do not agree.
    NoMajority {
        /// Sources in the best agreement.
        agreeing: usize,
        /// Sources (trusted ones, if any) taking part.
        total: usize,
        /// Whether only trusted sources were counted.
        trusted: bool,
    },
    /// Selectable sources were found but cannot update the clock.
    NotEnoughSources(WaitReason),
    /// The reference must become unsynchronised now (it lost its peer to a
    /// failed majority). Not logged.
    Unsynchronise,
    /// Orphan mode could not compare reference IDs: the local address of the
    /// orphan source is unknown.
    UnknownLocalRefid,
}

impl SelectEvent {
    /// The severity chrony logs the event with; `None` for events that are
    /// actions, not messages.
    pub fn severity(&self) -> Option<Severity> {
        Some(match self {
            SelectEvent::Selected(_) => Severity::Info,
            SelectEvent::UnknownLocalRefid => Severity::Error,
            SelectEvent::BadSource(_) | SelectEvent::Unsynchronise => return None,
            _ => Severity::Warning,
        })
    }

    /// The source the event is about, if any.
    pub fn source(&self) -> Option<SourceId> {
        match *self {
            SelectEvent::Selected(id)
            | SelectEvent::Falseticker(id)
            | SelectEvent::BadSource(id)
            | SelectEvent::StratumOutOfRange { source: id, .. }
            | SelectEvent::DistanceTooLarge { source: id, .. }
            | SelectEvent::JitterTooLarge { source: id, .. } => Some(id),
            _ => None,
        }
    }

    /// The log line, with `name` giving a source's printable name (chrony
    /// prints the address, then the configured name in parentheses when it
    /// differs; a refclock by its refid). `None` for events not logged.
    ///
    /// Chrony does not log selection messages while the reference is in a
    /// special mode (initstepslew, `-q`/`-Q`); the caller suppresses them.
    pub fn message(&self, name: impl Fn(SourceId) -> String) -> Option<String> {
        const CANT: &str = "Can't synchronise";
        Some(match *self {
            SelectEvent::Selected(id) => format!("Selected source {}", name(id)),
            SelectEvent::Falseticker(id) => format!("Detected falseticker {}", name(id)),
            SelectEvent::StratumOutOfRange {
                source,
                below,
                limit,
            } => {
                let which = if below { "below min" } else { "above max" };
                format!("Stratum of {} {which}stratum of {limit}", name(source))
            }
            SelectEvent::DistanceTooLarge {
                source,
                max_distance,
            } => format!(
                "Root distance of {} exceeds maxdistance of {max_distance:.3} seconds",
                name(source)
            ),
            SelectEvent::JitterTooLarge { source, max_jitter } => format!(
                "Jitter of {} exceeds maxjitter of {max_jitter:.3} seconds",
                name(source)
            ),
            SelectEvent::NoSources => format!("{CANT}: no sources"),
            SelectEvent::NoSelectableSources { unreachable } => {
                format!("{CANT}: no selectable sources ({unreachable} unreachable sources)")
            }
            SelectEvent::NoMajority {
                agreeing,
                total,
                trusted,
            } => {
                let kind = if trusted { "trusted " } else { "" };
                if agreeing < 2 {
                    format!("{CANT}: no majority (no agreement among {total} {kind}sources)")
                } else {
                    format!("{CANT}: no majority (only {agreeing} of {total} {kind}sources agree)")
                }
            }
            SelectEvent::NotEnoughSources(reason) => {
                let what = match reason {
                    WaitReason::NoSources => "no",
                    WaitReason::NoRequired => "no required source in",
                    WaitReason::NotEnough => "not enough",
                };
                format!("{CANT}: {what} selectable sources")
            }
            SelectEvent::UnknownLocalRefid => "Unknown local refid in orphan mode".to_string(),
            SelectEvent::BadSource(_) | SelectEvent::Unsynchronise => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(id: SourceId) -> String {
        format!("192.0.2.{}", id.0)
    }

    #[test]
    fn chrony_texts() {
        let m = |e: SelectEvent| e.message(name).unwrap_or_default();
        assert_eq!(
            m(SelectEvent::Selected(SourceId(1))),
            "Selected source 192.0.2.1"
        );
        assert_eq!(
            m(SelectEvent::Falseticker(SourceId(4))),
            "Detected falseticker 192.0.2.4"
        );
        assert_eq!(
            m(SelectEvent::NoMajority {
                agreeing: 1,
                total: 2,
                trusted: false
            }),
            "Can't synchronise: no majority (no agreement among 2 sources)"
        );
        assert_eq!(
            m(SelectEvent::NoMajority {
                agreeing: 2,
                total: 4,
                trusted: true
            }),
            "Can't synchronise: no majority (only 2 of 4 trusted sources agree)"
        );
        assert_eq!(
            m(SelectEvent::NoSelectableSources { unreachable: 3 }),
            "Can't synchronise: no selectable sources (3 unreachable sources)"
        );
        assert_eq!(
            m(SelectEvent::NotEnoughSources(WaitReason::NoRequired)),
            "Can't synchronise: no required source in selectable sources"
        );
        assert_eq!(
            m(SelectEvent::StratumOutOfRange {
                source: SourceId(2),
                below: false,
                limit: 15
            }),
            "Stratum of 192.0.2.2 above maxstratum of 15"
        );
        assert_eq!(
            m(SelectEvent::DistanceTooLarge {
                source: SourceId(3),
                max_distance: 3.0
            }),
            "Root distance of 192.0.2.3 exceeds maxdistance of 3.000 seconds"
        );
        assert_eq!(SelectEvent::Unsynchronise.message(name), None);
        assert_eq!(SelectEvent::BadSource(SourceId(1)).severity(), None);
        assert_eq!(SelectEvent::NoSources.severity(), Some(Severity::Warning));
    }
}
