//! Leap seconds known from files: `leapsectz` (a "right/" time zone of the
//! system's time-zone database, in the TZif format of RFC 8536) and
//! `leapseclist` (the IERS/IETF `leap-seconds.list`). The engine is told of
//! the next leap second, which it announces on its day when the sources say
//! nothing of it (chrony's `leapdb.c`).
//!
//! Both files become one table of the UTC midnights at which the TAI−UTC
//! offset changes. As chronyd does, a table must give the leap second of
//! 30 June 2012 (TAI−UTC 34 s that day) and none on 31 December 2012 (35 s),
//! or it is ignored with a warning.

use std::fs;
use std::path::{Path, PathBuf};

use krony_config::Config;
use krony_engine::clock::LeapStatus;
use krony_engine::discipline::KnownLeap;

use crate::logging::{Severity, log_event};

/// Seconds per day (leap seconds happen at UTC midnight).
const DAY: i64 = 86_400;

/// TAI−UTC before the first entry: 10 s since 1 January 1972.
const INITIAL_TAI_OFFSET: i32 = 10;

/// Seconds from 1900-01-01 (NTP era 0, the list's time scale) to 1970-01-01.
const NTP_UNIX_OFFSET: i64 = 2_208_988_800;

/// Where `leapsectz` names are looked up (glibc's default `TZDIR`).
const ZONEINFO: &str = "/usr/share/zoneinfo";

/// A TZif file is refused beyond this size (real ones are a few kB).
const MAX_TZIF_LEN: usize = 1 << 20;

/// The list is read again this often (chronyd checks twice a day).
const RELOAD_INTERVAL: i64 = 12 * 3600;

/// The dates chronyd checks a leap second source with: 30 June 2012 had
/// a leap second (TAI−UTC 34 s that day), 31 December 2012 had none (35 s).
const CHECK_LEAP_DAY: i64 = 1_341_014_400;
const CHECK_NORMAL_DAY: i64 = 1_356_912_000;

/// Why a leap second file could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeapDbError {
    /// The file could not be read.
    #[error("cannot read: {0}")]
    Read(String),
    /// Not a TZif file, or a truncated one.
    #[error("not a valid TZif file: {0}")]
    BadTzif(&'static str),
    /// A line of the list is not understood, or it lacks its dates.
    #[error("bad leap second list: {0}")]
    BadList(String),
}

/// The TAI−UTC offsets and when they change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeapTable {
    /// (UTC midnight in Unix seconds, TAI−UTC from then on), in order.
    changes: Vec<(i64, i32)>,
    /// The list's expiry (Unix seconds), if it has one.
    expiry: Option<i64>,
}

/// The midnight ending the UTC day of `t`.
fn day_end(t: i64) -> i64 {
    (t.div_euclid(DAY) + 1) * DAY
}

impl LeapTable {
    /// Reads the leap second records of a TZif file (RFC 8536 §3): each is
    /// the time the correction takes effect, counted with the leap seconds
    /// before it, and the total correction from then on.
    ///
    /// # Errors
    /// [`LeapDbError::BadTzif`] for anything that is not a complete TZif file.
    pub fn parse_tzif(bytes: &[u8]) -> Result<Self, LeapDbError> {
        let mut r = TzifReader { bytes, pos: 0 };
        let first = r.header()?;
        let records = if first.version >= b'2' {
            // Skip the 32-bit block (RFC 8536 §3.2), then use the 64-bit one.
            r.skip(first.data_len(4))?;
            let second = r.header()?;
            r.leap_records(&second, 8)?
        } else {
            r.leap_records(&first, 4)?
        };
        let mut changes = Vec::with_capacity(records.len());
        let mut previous = 0i64;
        for (occurrence, correction) in records {
            // Take out the leap seconds already counted; a deleted second
            // takes effect one second before midnight: round up to the day.
            let utc = occurrence - previous;
            let midnight = (utc + DAY - 1).div_euclid(DAY) * DAY;
            let tai = i64::from(INITIAL_TAI_OFFSET) + correction;
            let tai = i32::try_from(tai).map_err(|_| LeapDbError::BadTzif("correction"))?;
            if changes.last().is_some_and(|(m, _)| *m >= midnight) {
                return Err(LeapDbError::BadTzif("leap records out of order"));
            }
            changes.push((midnight, tai));
            previous = correction;
        }
        Ok(LeapTable {
            changes,
            expiry: None,
        })
    }

    /// Reads a `leap-seconds.list`: `#$ updated` and `#@ expires` lines,
    /// other `#` comments, and entries `NTP-seconds TAI-UTC [# comment]`.
    ///
    /// # Errors
    /// [`LeapDbError::BadList`] for a line that is none of these, or a list
    /// without its update or expiry date (chronyd refuses those too).
    pub fn parse_list(text: &str) -> Result<Self, LeapDbError> {
        let bad = |line: &str| LeapDbError::BadList(format!("{line:?}"));
        let mut changes: Vec<(i64, i32)> = Vec::new();
        let (mut updated, mut expiry) = (None, None);
        for line in text.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            if let Some(rest) = line.strip_prefix('#') {
                let date = |s: &str| first_number::<i64>(s).ok_or_else(|| bad(line));
                match rest.chars().next() {
                    Some('$') => updated = Some(date(&rest[1..])?),
                    Some('@') => expiry = Some(date(&rest[1..])?),
                    _ => {}
                }
                continue;
            }
            let mut words = trimmed.split_ascii_whitespace();
            let when = words.next().and_then(|w| w.parse::<i64>().ok());
            let tai = words.next().and_then(|w| w.parse::<i32>().ok());
            let (Some(when), Some(tai)) = (when, tai) else {
                return Err(bad(line));
            };
            let midnight = when - NTP_UNIX_OFFSET;
            if changes.last().is_some_and(|(m, _)| *m >= midnight) {
                return Err(bad(line));
            }
            changes.push((midnight, tai));
        }
        if updated.is_none() || expiry.is_none() {
            return Err(LeapDbError::BadList("no update or expiry date".into()));
        }
        Ok(LeapTable {
            changes,
            expiry: expiry.map(|e: i64| e - NTP_UNIX_OFFSET),
        })
    }

    /// The leap second at the end of the UTC day of `t` (Unix seconds), and
    /// TAI−UTC during that day (chrony's `LDB_GetLeap`).
    pub fn leap_on_day(&self, t: i64) -> (LeapStatus, i32) {
        let midnight = day_end(t);
        let mut previous = INITIAL_TAI_OFFSET;
        for &(m, tai) in &self.changes {
            if m == midnight {
                return (leap_between(previous, tai), previous);
            }
            if m > midnight {
                break;
            }
            previous = tai;
        }
        (LeapStatus::Normal, previous)
    }

    /// chronyd's sanity check of a leap second source.
    pub fn passes_check(&self) -> bool {
        self.leap_on_day(CHECK_LEAP_DAY) == (LeapStatus::InsertSecond, 34)
            && self.leap_on_day(CHECK_NORMAL_DAY) == (LeapStatus::Normal, 35)
    }

    /// The first leap second after the day of `t`'s start, ending the day
    /// of `t` or a later one.
    pub fn next_leap(&self, t: i64) -> Option<KnownLeap> {
        let today_end = day_end(t);
        let mut previous = INITIAL_TAI_OFFSET;
        for &(m, tai) in &self.changes {
            let leap = leap_between(previous, tai);
            previous = tai;
            if m >= today_end && leap != LeapStatus::Normal {
                return Some(KnownLeap { day_end: m, leap });
            }
        }
        None
    }

    /// The list's expiry date (Unix seconds).
    pub fn expiry(&self) -> Option<i64> {
        self.expiry
    }
}

/// Insert when TAI−UTC grows by the change, delete when it shrinks.
fn leap_between(before: i32, after: i32) -> LeapStatus {
    match after.cmp(&before) {
        std::cmp::Ordering::Greater => LeapStatus::InsertSecond,
        std::cmp::Ordering::Less => LeapStatus::DeleteSecond,
        std::cmp::Ordering::Equal => LeapStatus::Normal,
    }
}

/// The first whitespace-separated word of `s` as a number.
fn first_number<T: std::str::FromStr>(s: &str) -> Option<T> {
    s.split_ascii_whitespace().next()?.parse().ok()
}

/// The counts of a TZif header (RFC 8536 §3.1).
#[derive(Debug, Clone, Copy)]
struct TzifHeader {
    version: u8,
    isutcnt: usize,
    isstdcnt: usize,
    leapcnt: usize,
    timecnt: usize,
    typecnt: usize,
    charcnt: usize,
}

impl TzifHeader {
    /// Length of the data block after the header, with `time` bytes per
    /// transition and leap time.
    fn data_len(&self, time: usize) -> usize {
        self.timecnt * time
            + self.timecnt
            + self.typecnt * 6
            + self.charcnt
            + self.leapcnt * (time + 4)
            + self.isstdcnt
            + self.isutcnt
    }
}

/// A bounds-checked cursor over a TZif file.
struct TzifReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl TzifReader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], LeapDbError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|e| *e <= self.bytes.len())
            .ok_or(LeapDbError::BadTzif("truncated"))?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn skip(&mut self, n: usize) -> Result<(), LeapDbError> {
        self.take(n).map(|_| ())
    }

    fn int(&mut self, n: usize) -> Result<i64, LeapDbError> {
        let b = self.take(n)?;
        Ok(match *b {
            [a, b, c, d] => i64::from(i32::from_be_bytes([a, b, c, d])),
            [a, b, c, d, e, f, g, h] => i64::from_be_bytes([a, b, c, d, e, f, g, h]),
            _ => return Err(LeapDbError::BadTzif("integer size")),
        })
    }

    fn count(&mut self) -> Result<usize, LeapDbError> {
        let v = self.int(4)?;
        usize::try_from(v).map_err(|_| LeapDbError::BadTzif("negative count"))
    }

    /// "TZif", the version, 15 reserved bytes and six counts.
    fn header(&mut self) -> Result<TzifHeader, LeapDbError> {
        if self.take(4)? != b"TZif" {
            return Err(LeapDbError::BadTzif("no TZif magic"));
        }
        let version = self.take(1)?[0];
        self.skip(15)?;
        Ok(TzifHeader {
            version,
            isutcnt: self.count()?,
            isstdcnt: self.count()?,
            leapcnt: self.count()?,
            timecnt: self.count()?,
            typecnt: self.count()?,
            charcnt: self.count()?,
        })
    }

    /// Skips to the leap records of the data block and reads them.
    fn leap_records(
        &mut self,
        h: &TzifHeader,
        time: usize,
    ) -> Result<Vec<(i64, i64)>, LeapDbError> {
        self.skip(h.timecnt * time + h.timecnt + h.typecnt * 6 + h.charcnt)?;
        (0..h.leapcnt)
            .map(|_| Ok((self.int(time)?, self.int(4)?)))
            .collect()
    }
}

/// Where the leap seconds come from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Source {
    /// `leapsectz`: the name as configured and its TZif file.
    Timezone { name: String, path: PathBuf },
    /// `leapseclist`.
    List(PathBuf),
}

impl Source {
    fn read(&self) -> Result<LeapTable, LeapDbError> {
        match self {
            Source::Timezone { path, .. } => {
                let bytes = fs::read(path).map_err(|e| LeapDbError::Read(e.to_string()))?;
                if bytes.len() > MAX_TZIF_LEN {
                    return Err(LeapDbError::BadTzif("too large"));
                }
                LeapTable::parse_tzif(&bytes)
            }
            Source::List(path) => {
                let text =
                    fs::read_to_string(path).map_err(|e| LeapDbError::Read(e.to_string()))?;
                LeapTable::parse_list(&text)
            }
        }
    }
}

/// The path of a time zone's TZif file, as glibc finds it: absolute names
/// as they are, others under `TZDIR` (default `/usr/share/zoneinfo`).
pub fn zone_path(name: &str) -> PathBuf {
    let name = name.strip_prefix(':').unwrap_or(name);
    if name.starts_with('/') {
        return PathBuf::from(name);
    }
    let dir = std::env::var_os("TZDIR").map_or_else(|| PathBuf::from(ZONEINFO), PathBuf::from);
    dir.join(name)
}

/// The leap second source in use and what the engine was told last.
#[derive(Debug, Clone)]
pub struct LeapDb {
    source: Source,
    table: LeapTable,
    /// The leap second given to the engine last.
    told: Option<KnownLeap>,
    /// When the list is read again.
    reload_at: i64,
    /// Whether the engine was told at all yet.
    started: bool,
}

impl LeapDb {
    /// The `leapseclist` of `config`, else its `leapsectz`, if it passes
    /// chronyd's check ("Using ..." logged); a source failing it is
    /// reported and ignored, as by chronyd.
    pub fn from_config(config: &Config) -> Option<Self> {
        // Both are checked, as by chronyd, and the list wins.
        let tz = config.leapsec_tz.as_ref().and_then(|tz| {
            let source = Source::Timezone {
                name: tz.clone(),
                path: zone_path(tz),
            };
            Self::checked(source, || {
                format!("Timezone {tz} failed leap second check, ignoring")
            })
        });
        let list = config.leapsec_list.as_ref().and_then(|l| {
            let source = Source::List(PathBuf::from(l));
            Self::checked(source, || {
                format!("Leap second list {l} failed check, ignoring")
            })
        });
        let (db, message) = match (list, tz) {
            (Some(db), _) => {
                let m = format!("Using leap second list {}", db.name());
                (db, m)
            }
            (None, Some(db)) => {
                let m = format!("Using {} timezone to obtain leap second data", db.name());
                (db, m)
            }
            (None, None) => return None,
        };
        log_event(Severity::Info, message);
        Some(db)
    }

    fn checked(source: Source, failed: impl FnOnce() -> String) -> Option<Self> {
        match source.read() {
            Ok(table) if table.passes_check() => Some(LeapDb {
                source,
                table,
                told: None,
                reload_at: i64::MIN,
                started: false,
            }),
            Ok(_) => {
                log_event(Severity::Warn, failed());
                None
            }
            Err(e) => {
                log_event(Severity::Debug, format!("{e}"));
                log_event(Severity::Warn, failed());
                None
            }
        }
    }

    /// TAI−UTC from each change on: (UTC Unix time, offset), ascending.
    pub fn tai_changes(&self) -> Vec<(i64, i32)> {
        self.table.changes.clone()
    }

    /// The file or zone name for messages.
    fn name(&self) -> String {
        match &self.source {
            Source::Timezone { name, .. } => name.clone(),
            Source::List(p) => p.display().to_string(),
        }
    }

    /// The leap second the engine should know at Unix time `now`, when it
    /// changed since the last call (`Some(None)`: none any more). A list is
    /// read again twice a day, with chronyd's messages when it fails or has
    /// expired.
    pub fn update(&mut self, now: i64) -> Option<Option<KnownLeap>> {
        if let Source::List(path) = &self.source {
            if now >= self.reload_at {
                self.reload_at = now + RELOAD_INTERVAL;
                self.reload_list(path.clone(), now);
            }
        }
        let next = self.table.next_leap(now);
        if self.started && next == self.told {
            return None;
        }
        self.started = true;
        self.told = next;
        Some(next)
    }

    fn reload_list(&mut self, path: PathBuf, now: i64) {
        match self.source.read() {
            Ok(t) => self.table = t,
            Err(LeapDbError::Read(_)) => log_event(
                Severity::Error,
                format!("Failed to open leap seconds list {}", path.display()),
            ),
            Err(_) => log_event(
                Severity::Error,
                format!("Failed to parse leap seconds list {}", path.display()),
            ),
        }
        if self.table.expiry().is_some_and(|e| now >= e) {
            log_event(
                Severity::Warn,
                format!("Leap second list {} needs update", path.display()),
            );
        }
    }

    /// The file the leap seconds come from.
    pub fn path(&self) -> &Path {
        match &self.source {
            Source::Timezone { path, .. } | Source::List(path) => path,
        }
    }
}

#[cfg(test)]
#[path = "leapdb_tests.rs"]
mod tests;
