//! Leap seconds (chrony's leap handling in `reference.c`): arming at the end
//! of June 30 / December 31, and correcting the clock at midnight per
//! `leapsecmode`.

use super::civil::{is_leap_second_day, next_midnight};
use super::config::LeapMode;
use super::events::DisciplineEvent;
use super::local_clock::LocalClock;
use crate::UnixTime;
use crate::clock::LeapStatus;

/// Seconds around a leap second in which measurements are not trusted (the
/// clocks involved may or may not have applied it yet).
const LEAP_SECOND_CLOSE: i64 = 5;

/// How long after the start of a leap the correction is considered finished
/// (one second plus room).
const LEAP_END_DELAY: f64 = 2.0;

/// A leap second known from elsewhere than the sources (a leap second list or
/// time zone database): it is used when the sources say "Normal" on its day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownLeap {
    /// The UTC midnight (seconds since 1970) ending the day of the leap.
    pub day_end: i64,
    /// Insert or delete.
    pub leap: LeapStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LeapTimer {
    /// Correct the clock now.
    Start,
    /// The leap is over.
    End,
}

/// Leap second state.
#[derive(Debug, Clone)]
pub(crate) struct LeapState {
    mode: LeapMode,
    /// The leap status we announce.
    pub status: LeapStatus,
    /// +1 insert, −1 delete, 0 none at the end of today.
    pub leap_sec: i32,
    /// The midnight of the upcoming or last leap (s since 1970).
    leap_when: Option<i64>,
    /// The clock is being corrected for a leap and may be a second off.
    pub in_progress: bool,
    timer: Option<(UnixTime, LeapTimer)>,
    known: Option<KnownLeap>,
    /// TAI-UTC offsets of the leap second database: (UTC time the offset
    /// starts, offset), ascending.
    tai_offsets: Vec<(i64, i32)>,
    /// The TAI-UTC offset given to the kernel with the leap (0: unknown).
    pub tai_offset: i32,
}

/// The TAI-UTC offset at UTC time `t` in `offsets` ((start, offset),
/// ascending); 0 when unknown.
pub(crate) fn tai_offset_at(offsets: &[(i64, i32)], t: i64) -> i32 {
    offsets
        .iter()
        .take_while(|(start, _)| *start <= t)
        .last()
        .map_or(0, |(_, o)| *o)
}

impl LeapState {
    pub fn new(mode: LeapMode) -> Self {
        LeapState {
            mode,
            status: LeapStatus::Unsynchronised,
            leap_sec: 0,
            leap_when: None,
            in_progress: false,
            timer: None,
            known: None,
            tai_offsets: Vec::new(),
            tai_offset: 0,
        }
    }

    pub fn set_known(&mut self, known: Option<KnownLeap>) {
        self.known = known;
    }

    /// The TAI-UTC offsets of the leap second database (see
    /// [`tai_offset_at`]); taken at the next [`update`](Self::update).
    pub fn set_tai_offsets(&mut self, offsets: Vec<(i64, i32)>) {
        self.tai_offsets = offsets;
    }

    fn is_close(&self, t: UnixTime) -> bool {
        self.leap_when.is_some_and(|w| {
            let t = t.secs();
            t >= w - LEAP_SECOND_CLOSE && t < w + LEAP_SECOND_CLOSE
        })
    }

    /// Whether either reading of the current time is within ±5 s of a leap.
    pub fn is_near(&self, raw: UnixTime, cooked: UnixTime) -> bool {
        self.is_close(raw) || self.is_close(cooked)
    }

    /// Whether a sample taken at `t` (and `t + offset`) is near a leap.
    pub fn is_sample_near(&self, t: UnixTime, offset: f64) -> bool {
        self.is_close(t) || self.is_close(t.add_secs(offset))
    }

    /// Takes a new leap status from the sources. With `date` (the raw time),
    /// a leap is accepted only on a leap second day and a known leap fills in
    /// for "Normal"; without it the leap is cleared. `reset` re-arms the
    /// timer even when nothing changed (after a step).
    pub fn update(
        &mut self,
        leap: LeapStatus,
        date: Option<UnixTime>,
        near: bool,
        reset: bool,
        clock: &mut LocalClock,
    ) {
        let mut leap = leap;
        let mut leap_sec = 0;
        let tai_offset = date.map_or(0, |d| tai_offset_at(&self.tai_offsets, d.secs()));
        if let Some(now) = date {
            if leap == LeapStatus::Normal {
                if let Some(k) = self.known.filter(|k| k.day_end == next_midnight(now)) {
                    leap = k.leap;
                }
            }
        }
        if matches!(leap, LeapStatus::InsertSecond | LeapStatus::DeleteSecond) {
            if date.is_some_and(is_leap_second_day) {
                leap_sec = if leap == LeapStatus::InsertSecond {
                    1
                } else {
                    -1
                };
            } else {
                leap = LeapStatus::Normal;
            }
        }
        let epoch = UnixTime::EPOCH;
        if (leap_sec != self.leap_sec || tai_offset != self.tai_offset) && !near {
            self.leap_sec = leap_sec;
            self.tai_offset = tai_offset;
            if self.mode == LeapMode::System {
                clock.set_system_leap(sec_to_status(leap_sec), tai_offset);
            }
            self.set_timer(date.unwrap_or(epoch));
        } else if reset {
            self.set_timer(date.unwrap_or(epoch));
        }
        self.status = leap;
    }

    fn set_timer(&mut self, now: UnixTime) {
        self.timer = None;
        self.in_progress = false;
        if self.leap_sec == 0 {
            return;
        }
        let midnight = next_midnight(now);
        self.leap_when = Some(midnight);
        // An inserted second starts at midnight; a deleted one is skipped at
        // 23:59:59. The kernel applies it itself in system mode, so wake up
        // half a second earlier to be there before it.
        let mut when = UnixTime::from_secs_nanos(midnight, 0);
        if self.leap_sec < 0 {
            when = when.add_secs(-1.0);
        }
        if self.mode == LeapMode::System {
            when = when.add_secs(-0.5);
        }
        self.timer = Some((when, LeapTimer::Start));
    }

    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.timer.map(|(t, _)| t)
    }

    /// Fires the leap timer if due.
    pub fn handle_timeout(&mut self, now: UnixTime, clock: &mut LocalClock) {
        match self.timer {
            Some((t, LeapTimer::Start)) if t <= now => self.start(now, clock),
            Some((t, LeapTimer::End)) if t <= now => self.end(clock),
            _ => {}
        }
    }

    fn start(&mut self, now: UnixTime, clock: &mut LocalClock) {
        self.in_progress = true;
        let leap = self.leap_sec;
        let mut end = now.add_secs(LEAP_END_DELAY);
        match self.mode {
            LeapMode::System => {}
            LeapMode::Slew => {
                clock.notify_leap(now, leap);
                // The offset is a whole second: slew it at the largest rate.
                if clock.accumulate_offset(now, f64::from(leap), 0.0).is_ok() {
                    clock.push_event(DisciplineEvent::LeapSlewStarted);
                }
            }
            LeapMode::Step => {
                clock.notify_leap(now, leap);
                if clock.apply_step(now, f64::from(leap)).is_ok() {
                    // Our timer runs on the raw clock, which just moved.
                    end = end.add_secs(-f64::from(leap));
                    clock.push_event(DisciplineEvent::LeapStepped);
                }
            }
            LeapMode::Ignore => clock.push_event(DisciplineEvent::LeapIgnored),
        }
        self.timer = Some((end, LeapTimer::End));
    }

    fn end(&mut self, clock: &mut LocalClock) {
        self.timer = None;
        self.in_progress = false;
        if self.tai_offset != 0 {
            self.tai_offset += self.leap_sec;
        }
        self.leap_sec = 0;
        if self.mode == LeapMode::System {
            clock.set_system_leap(LeapStatus::Normal, self.tai_offset);
        }
        if matches!(
            self.status,
            LeapStatus::InsertSecond | LeapStatus::DeleteSecond
        ) {
            self.status = LeapStatus::Normal;
        }
    }
}

fn sec_to_status(leap_sec: i32) -> LeapStatus {
    match leap_sec {
        1 => LeapStatus::InsertSecond,
        -1 => LeapStatus::DeleteSecond,
        _ => LeapStatus::Normal,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ClockAction;
    use crate::discipline::config::LocalClockConfig;

    /// 2016-12-31 12:00:00 UTC, the day of the last inserted leap second.
    const LEAP_DAY_NOON: i64 = 1_483_185_600;
    const MIDNIGHT: i64 = 1_483_228_800;

    fn at(secs: i64) -> UnixTime {
        UnixTime::from_secs_nanos(secs, 0)
    }

    fn setup(mode: LeapMode, now: i64) -> (LeapState, LocalClock) {
        (
            LeapState::new(mode),
            LocalClock::new(LocalClockConfig::default(), at(now), 0.0),
        )
    }

    #[test]
    fn leap_is_armed_only_on_month_end_days() {
        let (mut l, mut c) = setup(LeapMode::System, LEAP_DAY_NOON);
        l.update(
            LeapStatus::InsertSecond,
            Some(at(LEAP_DAY_NOON)),
            false,
            false,
            &mut c,
        );
        assert_eq!(l.status, LeapStatus::InsertSecond);
        assert_eq!(l.leap_sec, 1);
        assert_eq!(
            c.poll_action(),
            Some(ClockAction::SetLeap {
                leap: LeapStatus::InsertSecond,
                tai_offset: 0,
            })
        );
        assert_eq!(l.poll_timeout(), Some(at(MIDNIGHT).add_secs(-0.5)));

        // A day earlier the same announcement is only "Normal".
        let day_before = LEAP_DAY_NOON - 86_400;
        let (mut l, mut c) = setup(LeapMode::System, day_before);
        l.update(
            LeapStatus::InsertSecond,
            Some(at(day_before)),
            false,
            false,
            &mut c,
        );
        assert_eq!(l.status, LeapStatus::Normal);
        assert_eq!(l.leap_sec, 0);
        assert_eq!(c.poll_action(), None);
        assert_eq!(l.poll_timeout(), None);
    }

    #[test]
    fn step_mode_steps_back_one_second_at_midnight() {
        let (mut l, mut c) = setup(LeapMode::Step, LEAP_DAY_NOON);
        l.update(
            LeapStatus::InsertSecond,
            Some(at(LEAP_DAY_NOON)),
            false,
            false,
            &mut c,
        );
        assert_eq!(c.poll_action(), None, "no kernel leap in step mode");
        assert_eq!(l.poll_timeout(), Some(at(MIDNIGHT)));
        l.handle_timeout(at(MIDNIGHT - 1), &mut c);
        assert!(!l.in_progress);
        l.handle_timeout(at(MIDNIGHT), &mut c);
        assert!(l.in_progress);
        assert_eq!(c.poll_action(), Some(ClockAction::Step { offset: -1.0 }));
        assert_eq!(c.poll_event(), Some(DisciplineEvent::LeapStepped));
        // The end timer is two real seconds later, on the stepped clock.
        assert_eq!(l.poll_timeout(), Some(at(MIDNIGHT + 1)));
        l.handle_timeout(at(MIDNIGHT + 1), &mut c);
        assert!(!l.in_progress);
        assert_eq!(l.status, LeapStatus::Normal);
        assert_eq!(l.leap_sec, 0);
        assert!(l.is_near(at(MIDNIGHT + 4), at(MIDNIGHT + 4)));
        assert!(l.is_near(at(MIDNIGHT - 5), at(MIDNIGHT - 5)));
        assert!(!l.is_near(at(MIDNIGHT + 5), at(MIDNIGHT + 5)));
        assert!(!l.is_near(at(MIDNIGHT - 6), at(MIDNIGHT - 6)));
    }

    #[test]
    fn delete_second_fires_at_235959_and_slews_forward() {
        let (mut l, mut c) = setup(LeapMode::Slew, LEAP_DAY_NOON);
        l.update(
            LeapStatus::DeleteSecond,
            Some(at(LEAP_DAY_NOON)),
            false,
            false,
            &mut c,
        );
        assert_eq!(l.poll_timeout(), Some(at(MIDNIGHT - 1)));
        l.handle_timeout(at(MIDNIGHT - 1), &mut c);
        assert_eq!(c.poll_event(), Some(DisciplineEvent::LeapSlewStarted));
        // Deleting a second leaves the clock one second behind: speed it up.
        let Some(ClockAction::SetFrequency { correction_ppm }) = c.poll_action() else {
            panic!("expected a slew");
        };
        assert!((correction_ppm - 1e6 / 12.0).abs() < 1e-6);
    }

    #[test]
    fn no_change_near_the_leap_and_cleared_when_unsynchronised() {
        let (mut l, mut c) = setup(LeapMode::System, LEAP_DAY_NOON);
        l.update(
            LeapStatus::InsertSecond,
            Some(at(LEAP_DAY_NOON)),
            false,
            false,
            &mut c,
        );
        let _ = c.poll_action();
        // Sources stop announcing it 3 s before midnight: too late to change.
        l.update(
            LeapStatus::Normal,
            Some(at(MIDNIGHT - 3)),
            true,
            false,
            &mut c,
        );
        assert_eq!(l.leap_sec, 1);
        assert_eq!(c.poll_action(), None);
        // Far from the leap, losing synchronisation disarms the kernel.
        l.update(LeapStatus::Unsynchronised, None, false, false, &mut c);
        assert_eq!(l.leap_sec, 0);
        assert_eq!(
            c.poll_action(),
            Some(ClockAction::SetLeap {
                leap: LeapStatus::Normal,
                tai_offset: 0,
            })
        );
        assert_eq!(l.poll_timeout(), None);
    }

    #[test]
    fn known_tai_offset_is_given_with_the_leap_and_follows_it() {
        let (mut l, mut c) = setup(LeapMode::System, LEAP_DAY_NOON);
        l.set_tai_offsets(vec![(MIDNIGHT - 86_400 * 560, 36), (MIDNIGHT, 37)]);
        let update = |l: &mut LeapState, c: &mut LocalClock, leap, t: i64| {
            l.update(leap, Some(at(t)), false, false, c);
            c.poll_action()
        };
        let set = |leap, tai_offset| Some(ClockAction::SetLeap { leap, tai_offset });
        // Synchronised a day early: no leap, but the offset is news.
        let before = LEAP_DAY_NOON - 86_400;
        assert_eq!(
            update(&mut l, &mut c, LeapStatus::Normal, before),
            set(LeapStatus::Normal, 36)
        );
        assert_eq!(
            update(&mut l, &mut c, LeapStatus::Normal, before + 64),
            None
        );
        assert_eq!(
            update(&mut l, &mut c, LeapStatus::InsertSecond, LEAP_DAY_NOON),
            set(LeapStatus::InsertSecond, 36)
        );
        // The kernel inserts the second; the offset it then has is 37.
        l.handle_timeout(at(MIDNIGHT), &mut c);
        l.handle_timeout(at(MIDNIGHT + 3), &mut c);
        assert_eq!(l.tai_offset, 37);
        assert_eq!(c.poll_action(), set(LeapStatus::Normal, 37));
        assert_eq!(
            update(&mut l, &mut c, LeapStatus::Normal, MIDNIGHT + 64),
            None
        );
        // Without a database nothing is known: the kernel's offset is kept.
        let (mut l, mut c) = setup(LeapMode::System, LEAP_DAY_NOON);
        assert_eq!(
            update(&mut l, &mut c, LeapStatus::Normal, LEAP_DAY_NOON),
            None
        );
    }

    #[test]
    fn known_leap_fills_in_for_normal() {
        let (mut l, mut c) = setup(LeapMode::Ignore, LEAP_DAY_NOON);
        l.set_known(Some(KnownLeap {
            day_end: MIDNIGHT,
            leap: LeapStatus::InsertSecond,
        }));
        l.update(
            LeapStatus::Normal,
            Some(at(LEAP_DAY_NOON)),
            false,
            false,
            &mut c,
        );
        assert_eq!(l.status, LeapStatus::InsertSecond);
        l.handle_timeout(at(MIDNIGHT), &mut c);
        assert_eq!(c.poll_event(), Some(DisciplineEvent::LeapIgnored));
        assert_eq!(c.poll_action(), None);
    }
}
