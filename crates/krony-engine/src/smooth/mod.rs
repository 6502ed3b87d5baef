//! Server time smoothing (`smoothtime`, chrony's `smooth.c`).
//!
//! An NTP server that corrects a large offset or frequency error of its own
//! clock passes that correction to its clients at once, and clients polling
//! every 1024 s cannot follow it gracefully. With `smoothtime` the server
//! keeps an extra *smoothing offset* and serves `cooked time + offset`: every
//! correction of the clock is added to that offset, which then decays to
//! zero along a smooth curve whose frequency never exceeds `max-freq` and
//! whose frequency changes no faster than `max-wander` per second.
//!
//! # The curve
//! The offset is removed by a frequency that moves in up to three stages:
//! it ramps at ±`max-wander` (stage 1), may stay at a plateau of
//! `max-freq` (stage 2, only when the ramp would exceed it), and ramps back
//! to zero (stage 3). The offset is the integral of that frequency, so it is
//! continuous and piecewise quadratic. The stages are planned afresh after
//! every update so that the integral equals the accumulated offset and the
//! frequency ends at zero.
//!
//! # Activation
//! The process starts *locked*: updates are ignored (so the large initial
//! corrections after start-up are served at once) until the reference's
//! skew falls below 10000 × `max-wander`, or always at the first update in
//! `leaponly` mode, or on `smoothtime activate`. A step of the clock resets
//! the accumulated offset (`smoothtime reset` does too).
//!
//! # Conventions
//! All times are *cooked* (corrected) times. The offset is positive when the
//! served time is ahead of the cooked time; the internal frequency is the
//! rate at which the offset decreases (relative), and the report negates it,
//! as chronyc prints it (positive = the served time runs fast).

use std::collections::VecDeque;
use std::fmt;

use crate::UnixTime;
use crate::discipline::{ChangeKind, ClockChange, ClockNotice, DisciplineEvent};

#[cfg(test)]
mod engine_tests;
#[cfg(test)]
mod sim_tests;
#[cfg(test)]
mod tests;

/// The reference's skew must be below this many `max-wander` seconds for
/// the smoothing to unlock by itself (chrony's `UNLOCK_SKEW_WANDER_RATIO`;
/// the 1/10000 of chrony.conf(5)).
const UNLOCK_SKEW_WANDER_RATIO: f64 = 10_000.0;

/// Reference ID of responses carrying smoothed time, 127.127.1.255
/// (chrony's `NTP_REFID_SMOOTH`).
pub const REFID_SMOOTH: u32 = 0x7F7F_01FF;

/// The `smoothtime MAX-FREQ MAX-WANDER [leaponly]` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SmoothConfig {
    /// Largest frequency offset of the served time, ppm.
    pub max_freq_ppm: f64,
    /// Largest rate of change of that frequency, ppm per second.
    pub max_wander_ppm: f64,
    /// Smooth only leap seconds; other corrections are served at once.
    pub leap_only: bool,
}

impl SmoothConfig {
    /// The settings of a `smoothtime` directive; `None` when it disables
    /// smoothing (a limit that is not positive, as chronyd treats it).
    pub fn from_directive(d: &krony_config::SmoothTime) -> Option<Self> {
        let c = SmoothConfig {
            max_freq_ppm: d.max_freq,
            max_wander_ppm: d.max_wander,
            leap_only: d.leap_only,
        };
        c.is_enabled().then_some(c)
    }

    /// Whether both limits are positive and finite.
    pub fn is_enabled(&self) -> bool {
        let ok = |x: f64| x > 0.0 && x.is_finite();
        ok(self.max_freq_ppm) && ok(self.max_wander_ppm)
    }
}

/// What `chronyc smoothing` prints (cmdmon's SMOOTHING reply).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SmoothingReport {
    /// "Active": the process is unlocked.
    pub active: bool,
    /// "(leap second only)".
    pub leap_only: bool,
    /// "Offset": seconds the served time is ahead of the cooked time.
    pub offset: f64,
    /// "Frequency", ppm (negative: the served time runs slow).
    pub freq_ppm: f64,
    /// "Wander", ppm per second (negative: the served time slows down).
    pub wander_ppm: f64,
    /// "Last update", seconds ago (0 while inactive).
    pub last_update_ago: f64,
    /// "Remaining time" until offset and frequency reach zero without new
    /// updates, seconds (0 while inactive).
    pub remaining_time: f64,
}

/// A message to log, with chrony's text (Info level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmoothEvent {
    /// The process unlocked.
    Activated {
        /// In `leaponly` mode.
        leap_only: bool,
    },
    /// The accumulated offset was dropped.
    Reset,
}

impl fmt::Display for SmoothEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SmoothEvent::Activated { leap_only: false } => f.write_str("Activated time smoothing"),
            SmoothEvent::Activated { leap_only: true } => {
                f.write_str("Activated time smoothing (leap seconds only)")
            }
            SmoothEvent::Reset => f.write_str("Reset time smoothing"),
        }
    }
}

/// One stage of the frequency curve: a constant rate of frequency change
/// for some time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Stage {
    /// d(freq)/dt, relative per second.
    wander: f64,
    /// Duration, seconds.
    length: f64,
}

/// Offset, frequency and wander of the curve at some time.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Point {
    offset: f64,
    freq: f64,
    wander: f64,
}

/// The smoothing process.
///
/// Feed it every clock change the reference makes
/// ([`clock_changed`](Self::clock_changed), or
/// [`leap_passed`](Self::leap_passed) for the notice of a leap second), ask
/// [`offset`](Self::offset) when serving time, and drain
/// [`poll_event`](Self::poll_event) to log.
#[derive(Debug, Clone)]
pub struct Smoother {
    /// Frequency limit, relative.
    max_freq: f64,
    /// Wander limit, relative per second.
    max_wander: f64,
    leap_only: bool,
    /// Updates are not accumulated yet.
    locked: bool,
    /// Offset at `last_update`, seconds.
    offset: f64,
    /// Frequency at `last_update` (rate of offset decrease), relative.
    freq: f64,
    /// Cooked time of the last update; `None` before the first.
    last_update: Option<UnixTime>,
    stages: [Stage; 3],
    events: VecDeque<SmoothEvent>,
}

impl Smoother {
    /// A locked process with nothing accumulated; `None` when the settings
    /// disable smoothing.
    pub fn new(cfg: SmoothConfig) -> Option<Self> {
        if !cfg.is_enabled() {
            return None;
        }
        Some(Smoother {
            max_freq: cfg.max_freq_ppm * 1e-6,
            max_wander: cfg.max_wander_ppm * 1e-6,
            leap_only: cfg.leap_only,
            locked: true,
            offset: 0.0,
            freq: 0.0,
            last_update: None,
            stages: [Stage::default(); 3],
            events: VecDeque::new(),
        })
    }

    /// Whether the process is active (unlocked).
    pub fn is_active(&self) -> bool {
        !self.locked
    }

    /// Whether only leap seconds are smoothed.
    pub fn leap_only(&self) -> bool {
        self.leap_only
    }

    /// The offset to add to the cooked time `now` for serving, seconds.
    pub fn offset(&self, now: UnixTime) -> f64 {
        self.at(now).offset
    }

    /// Follows a change of the clock that `skew` (the reference's, relative)
    /// describes the quality of: a correction (slew) is accumulated, a step
    /// resets the process, and the time of the last update moves with the
    /// clock.
    pub fn clock_changed(&mut self, ch: &ClockChange, skew: f64) {
        match ch.kind {
            ChangeKind::Adjust if self.leap_only => self.update(ch.cooked, 0.0, 0.0, skew),
            ChangeKind::Adjust => self.update(ch.cooked, ch.doffset, ch.dfreq, skew),
            // chronyd resets on every step it makes, but not when the clock
            // jumped by itself.
            ChangeKind::Step => self.reset(ch.cooked),
            ChangeKind::UnknownStep => {}
        }
        self.follow(ch);
    }

    /// The notice of a leap second: the reference tells the time scale
    /// moved by `-ch.doffset` seconds (as if the clock had been stepped). In
    /// `leaponly` mode the leap second is smoothed out here; otherwise the
    /// slew that corrects it is accumulated like any correction.
    pub fn leap_passed(&mut self, ch: &ClockChange, skew: f64) {
        if self.leap_only {
            self.update(ch.cooked, -ch.doffset, 0.0, skew);
        }
        self.follow(ch);
    }

    /// `smoothtime activate`: starts accumulating corrections now.
    pub fn activate(&mut self, now: UnixTime) {
        if !self.locked {
            return;
        }
        self.locked = false;
        self.last_update = Some(now);
        self.events.push_back(SmoothEvent::Activated {
            leap_only: self.leap_only,
        });
    }

    /// `smoothtime reset` (and every clock step): drops the accumulated
    /// offset and frequency.
    pub fn reset(&mut self, now: UnixTime) {
        self.offset = 0.0;
        self.freq = 0.0;
        self.last_update = Some(now);
        self.stages = [Stage::default(); 3];
        self.events.push_back(SmoothEvent::Reset);
    }

    /// `chronyc smoothing` at cooked time `now`.
    pub fn report(&self, now: UnixTime) -> SmoothingReport {
        let p = self.at(now);
        let elapsed = self.last_update.map(|t| now.diff_secs(t));
        let (last_update_ago, remaining_time) = match elapsed {
            Some(e) if !self.locked && e >= 0.0 => {
                let total: f64 = self.stages.iter().map(|s| s.length).sum();
                (e, (total - e).max(0.0))
            }
            _ => (0.0, 0.0),
        };
        SmoothingReport {
            active: !self.locked,
            leap_only: self.leap_only,
            offset: p.offset,
            freq_ppm: -p.freq * 1e6,
            wander_ppm: -p.wander * 1e6,
            last_update_ago,
            remaining_time,
        }
    }

    /// The next message to log.
    pub fn poll_event(&mut self) -> Option<SmoothEvent> {
        self.events.pop_front()
    }

    /// Adds a correction of `doffset` seconds and `dfreq` (relative) made
    /// at `now`, or unlocks if the reference's `skew` is good enough.
    fn update(&mut self, now: UnixTime, doffset: f64, dfreq: f64, skew: f64) {
        if self.locked {
            // The update that unlocks is not accumulated: it is still one of
            // the corrections made while the clock settled.
            if self.leap_only || skew / self.max_wander < UNLOCK_SKEW_WANDER_RATIO {
                self.activate(now);
            }
            return;
        }
        let p = self.at(now);
        self.offset = p.offset + doffset;
        // The served time must keep its rate: a clock slowed by dfreq is
        // compensated by an offset growing at dfreq (in the new units).
        self.freq = (p.freq - dfreq) / (1.0 - dfreq);
        self.last_update = Some(now);
        self.plan();
    }

    /// Moves the time of the last update onto the clock's new time scale.
    fn follow(&mut self, ch: &ClockChange) {
        if let Some(t) = self.last_update {
            let (t, _) = crate::discipline::adjust_time(t, ch.cooked, ch.dfreq, ch.doffset);
            self.last_update = Some(t);
        }
    }

    /// The curve evaluated at `now`.
    fn at(&self, now: UnixTime) -> Point {
        let mut left = self.last_update.map_or(0.0, |t| now.diff_secs(t));
        let mut p = Point {
            offset: self.offset,
            freq: self.freq,
            wander: 0.0,
        };
        for s in &self.stages {
            if left <= 0.0 {
                break;
            }
            let len = s.length.min(left);
            p.wander = s.wander;
            p.offset -= len * (p.freq + s.wander * len / 2.0);
            p.freq += s.wander * len;
            left -= len;
        }
        if left > 0.0 {
            p.wander = 0.0;
            p.offset -= left * p.freq;
        }
        p
    }

    /// Plans the stages so that the frequency's integral equals the offset
    /// and the frequency ends at zero.
    fn plan(&mut self) {
        let w = self.max_wander;
        let (dir, mut l1, mut l3) = ramps(self.offset, self.freq, w);
        // How far the peak frequency (in the ramp's direction) would go
        // past the limit.
        let excess = dir * self.freq + l1 * w - self.max_freq;
        let mut l2 = 0.0;
        if excess > 0.0 {
            // Cut both ramps short at the limit (or, when the frequency is
            // already past it, drop the first ramp and hold the current
            // frequency), and hold that plateau long enough to remove the
            // offset the cut ramps would have removed: each second cut from
            // both ramps loses 2·plateau + wander·cut of area.
            let (cut, plateau) = if excess / w > l1 {
                (l1, dir * self.freq)
            } else {
                (excess / w, self.max_freq)
            };
            l2 = cut * (2.0 + w * cut / plateau);
            l1 -= cut;
            l3 -= cut;
        }
        self.stages = [
            Stage {
                wander: dir * w,
                length: l1,
            },
            Stage {
                wander: 0.0,
                length: l2,
            },
            Stage {
                wander: -dir * w,
                length: l3,
            },
        ];
    }
}

/// The two ramps without a frequency limit: the direction of the first
/// ramp (+1: frequency increases) and the lengths of the first and the last.
///
/// With first ramp `l1` in direction `d` and last ramp `l3` back to zero,
/// the peak frequency is `d·w·l3`, so `l1 = l3 - d·freq/w`, and the area
/// under the curve equals `offset` when `l3² = d·offset/w + freq²/(2w²)`.
/// The direction is the one that makes both lengths non-negative; when
/// rounding makes neither do so (tiny offsets), the one that misses least.
fn ramps(offset: f64, freq: f64, w: f64) -> (f64, f64, f64) {
    let try_dir = |d: f64| {
        let mut miss = 0.0;
        let mut sq = d * offset / w + freq * freq / (2.0 * w * w);
        if sq < 0.0 {
            miss -= sq;
            sq = 0.0;
        }
        let l3 = sq.sqrt();
        let mut l1 = l3 - d * freq / w;
        if l1 < 0.0 {
            miss += l1 * l1;
            l1 = 0.0;
        }
        (miss, d, l1, l3)
    };
    let down = try_dir(-1.0);
    let up = try_dir(1.0);
    let (_, d, l1, l3) = if down.0 < up.0 { down } else { up };
    (d, l1, l3)
}

/// Which of the clock notices drained together is the notice of a leap
/// second: the first step of a batch in which the reference started
/// correcting one (it announces the leap before slewing or stepping the
/// clock for it).
pub fn leap_notice_index(notices: &[ClockNotice], events: &[DisciplineEvent]) -> Option<usize> {
    let leap = events.iter().any(|e| {
        matches!(
            e,
            DisciplineEvent::LeapSlewStarted | DisciplineEvent::LeapStepped
        )
    });
    if !leap {
        return None;
    }
    notices
        .iter()
        .position(|n| matches!(n, ClockNotice::Changed(ch) if ch.kind == ChangeKind::Step))
}
