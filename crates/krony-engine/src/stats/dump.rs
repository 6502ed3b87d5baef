//! The sample part of chrony's per-source dump files (`dumpdir`, written on
//! exit and read back with `chronyd -r`), so that kronyd and chronyd can read
//! each other's dumps.
//!
//! Format: a line `"<n> <asymmetry run>"`, then `n` lines of seven fields
//! separated by spaces: the sample time as `seconds.nanoseconds`, then the
//! offset, the original offset, the peer delay, the peer dispersion, the root
//! delay and the root dispersion, each like C's `%.6e` (offsets positive =
//! local clock fast).

use std::fmt::Write as _;

use super::source_stats::MAX_SAMPLES;
use crate::UnixTime;

/// Offsets beyond ±2³² s are not sane (chrony's bound for time offsets).
const MAX_OFFSET: f64 = 4_294_967_296.0;

/// Delays and dispersions must be below this (1e6 s).
const MAX_DELAY: f64 = 1.0e6;

/// Why a dump could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DumpError {
    /// The first line is not two integers.
    #[error("malformed sample count line")]
    BadHeader,
    /// The sample count is not in 1..=64.
    #[error("sample count {0} out of range")]
    BadCount(i64),
    /// Fewer sample lines than announced.
    #[error("missing sample line {0}")]
    MissingLine(usize),
    /// A sample line is not seven numbers.
    #[error("malformed sample line {0}")]
    BadLine(usize),
    /// A sample has an impossible time, offset, delay or dispersion, is in
    /// the future, or is not after the previous one.
    #[error("sample {0} is not sane")]
    InsaneSample(usize),
    /// Text follows the last sample.
    #[error("unexpected data after the samples")]
    TrailingData,
}

/// One dumped sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DumpSample {
    pub(crate) time: UnixTime,
    pub(crate) offset: f64,
    pub(crate) orig_offset: f64,
    pub(crate) peer_delay: f64,
    pub(crate) peer_dispersion: f64,
    pub(crate) root_delay: f64,
    pub(crate) root_dispersion: f64,
}

/// `v` as C's `printf("%.6e")` prints it.
fn c_exp(v: f64) -> String {
    crate::cfmt::c_exp(v, 6, 0)
}

/// Text for `samples` (nothing if there are none).
pub(crate) fn format(samples: &[DumpSample], asymmetry_run: i32) -> String {
    let mut out = String::new();
    if samples.is_empty() {
        return out;
    }
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{} {}", samples.len(), asymmetry_run);
    for s in samples {
        let _ = writeln!(
            out,
            "{}.{:09} {} {} {} {} {} {}",
            s.time.secs(),
            s.time.subsec_nanos(),
            c_exp(s.offset),
            c_exp(s.orig_offset),
            c_exp(s.peer_delay),
            c_exp(s.peer_dispersion),
            c_exp(s.root_delay),
            c_exp(s.root_dispersion),
        );
    }
    out
}

/// A time written as `seconds.nanoseconds` (exact), or failing that any
/// number of seconds (as chrony reads it, to the precision of an f64).
fn parse_time(s: &str) -> Option<UnixTime> {
    if let Some((secs, frac)) = s.split_once('.') {
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if digits(secs) && digits(frac) && frac.len() <= 9 {
            let secs: i64 = secs.parse().ok()?;
            let nanos: i64 = format!("{frac:0<9}").parse().ok()?;
            return Some(UnixTime::from_secs_nanos(secs, nanos));
        }
    }
    let v: f64 = s.parse().ok()?;
    // Out-of-range values are rejected by the sanity checks (before 1970 or
    // after `now`); NaN fails this comparison.
    (v.abs() < 1e10).then(|| UnixTime::EPOCH.add_secs(v))
}

fn parse_line(line: &str, index: usize) -> Result<DumpSample, DumpError> {
    let bad = || DumpError::BadLine(index);
    let mut fields = line.split_ascii_whitespace();
    let time = parse_time(fields.next().ok_or_else(bad)?).ok_or_else(bad)?;
    let mut v = [0.0; 6];
    for slot in &mut v {
        *slot = fields.next().ok_or_else(bad)?.parse().map_err(|_| bad())?;
    }
    if fields.next().is_some() {
        return Err(bad());
    }
    let [
        offset,
        orig_offset,
        peer_delay,
        peer_dispersion,
        root_delay,
        root_dispersion,
    ] = v;
    Ok(DumpSample {
        time,
        offset,
        orig_offset,
        peer_delay,
        peer_dispersion,
        root_delay,
        root_dispersion,
    })
}

/// chrony's checks on a loaded sample (NaN fails every comparison).
fn is_sane(s: &DumpSample, prev: Option<&DumpSample>, now: UnixTime) -> bool {
    let offset_ok = |o: f64| o > -MAX_OFFSET && o < MAX_OFFSET;
    let delay_ok = |d: f64| d.abs() < MAX_DELAY;
    s.time >= UnixTime::EPOCH
        && s.time <= now
        && offset_ok(s.offset)
        && offset_ok(s.orig_offset)
        // The true time of the sample must be after 1970 too.
        && s.time.add_secs(-s.offset) >= UnixTime::EPOCH
        && delay_ok(s.peer_delay)
        && delay_ok(s.peer_dispersion)
        && delay_ok(s.root_delay)
        && delay_ok(s.root_dispersion)
        && prev.is_none_or(|p| p.time < s.time)
}

/// The samples and asymmetry counter in `text`.
pub(crate) fn parse(text: &str, now: UnixTime) -> Result<(Vec<DumpSample>, i32), DumpError> {
    let mut lines = text.lines();
    let header = lines.next().ok_or(DumpError::BadHeader)?;
    let mut words = header.split_ascii_whitespace();
    let mut int = || -> Result<i64, DumpError> {
        words
            .next()
            .and_then(|w| w.parse().ok())
            .ok_or(DumpError::BadHeader)
    };
    let (count, arun) = (int()?, int()?);
    if words.next().is_some() {
        return Err(DumpError::BadHeader);
    }
    let n = usize::try_from(count)
        .ok()
        .filter(|n| (1..=MAX_SAMPLES).contains(n))
        .ok_or(DumpError::BadCount(count))?;
    let mut samples: Vec<DumpSample> = Vec::with_capacity(n);
    for i in 0..n {
        let line = lines.next().ok_or(DumpError::MissingLine(i))?;
        let s = parse_line(line, i)?;
        if !is_sane(&s, samples.last(), now) {
            return Err(DumpError::InsaneSample(i));
        }
        samples.push(s);
    }
    if lines.any(|l| !l.trim().is_empty()) {
        return Err(DumpError::TrailingData);
    }
    // Saturating: the caller clamps the counter to ±1000 anyway.
    let arun = i32::try_from(arun).unwrap_or(if arun < 0 { i32::MIN } else { i32::MAX });
    Ok((samples, arun))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_like_c() {
        assert_eq!(c_exp(1.5e-3), "1.500000e-03");
        assert_eq!(c_exp(-2.0), "-2.000000e+00");
        assert_eq!(c_exp(0.0), "0.000000e+00");
        assert_eq!(c_exp(1.234_567_8e123), "1.234568e+123");
        assert_eq!(c_exp(f64::NAN), "nan");
    }

    #[test]
    fn times_parse_exactly_or_as_numbers() {
        assert_eq!(
            parse_time("1700000000.000000001"),
            Some(UnixTime::from_secs_nanos(1_700_000_000, 1))
        );
        assert_eq!(
            parse_time("12.5"),
            Some(UnixTime::from_secs_nanos(12, 500_000_000))
        );
        assert_eq!(parse_time("1.5e1"), Some(UnixTime::from_secs_nanos(15, 0)));
        assert_eq!(parse_time("1e300"), None);
        assert_eq!(parse_time("nan"), None);
        assert_eq!(parse_time("x"), None);
    }

    #[test]
    fn chrony_written_lines_load() {
        // A dump as chronyd writes it (values made up).
        let text = "2 0\n\
            1700000000.123456789 -1.234000e-04 -1.200000e-04 2.000000e-02 1.500000e-06 3.000000e-02 4.000000e-04\n\
            1700000064.000000000 -1.100000e-04 -1.050000e-04 2.100000e-02 1.600000e-06 3.000000e-02 4.100000e-04\n";
        let (s, arun) = parse(text, UnixTime::from_secs_nanos(1_700_000_100, 0)).unwrap();
        assert_eq!(arun, 0);
        assert_eq!(s.len(), 2);
        assert_eq!(
            s[0].time,
            UnixTime::from_secs_nanos(1_700_000_000, 123_456_789)
        );
        assert_eq!(s[0].offset, -1.234e-4);
        assert_eq!(s[1].root_dispersion, 4.1e-4);
        assert_eq!(format(&s, 0), text);
    }
}
