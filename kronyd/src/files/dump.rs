//! The per-source dump files of `dumpdir`: written by the `dump` command and at
//! exit, loaded at start with `-r` and then removed, in chrony 4.x's format so
//! that a chronyd dump is loaded by kronyd and the other way round.
//!
//! A file is named after the source's address, `192.0.2.1.dat` or
//! `2001:db8::1.dat`, or for a reference clock its refid in hex,
//! `refid:47505300.dat`. Its contents:
//!
//! ```text
//! SRC0                      format identifier
//! ntp.example.net           the source's configured name (`.` for a refclock)
//! 0 377 8 1 0               authenticated, reach (octal), reach size, stratum, leap
//! 64 0                      the samples, as SourceStats::dump() writes them
//! 1700000000.123456789 ...
//! ```
//!
//! Loading checks the identifier, that the name is the source's (so a dump is
//! not applied to another server that got the same address), that an
//! authenticated source's dump was authenticated too, the ranges of stratum
//! and leap, and then every sample (in [`SourceStats::load`]).

use std::fs;
use std::io::{self, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use krony_engine::UnixTime;
use krony_engine::clock::LeapStatus;
use krony_engine::stats::SourceStats;

use super::{FileError, create_new, os_error_text, remove_if_exists};
use crate::logging::Severity;

/// First line of a dump file (chrony's `DUMP_IDENTIFIER`).
const IDENTIFIER: &str = "SRC0";

/// Bits of the reachability register (chrony's `SOURCE_REACH_BITS`).
const REACH_BITS: u8 = 8;

/// Strata 0..16 are valid in a dump (RFC 5905 §7.3: 16 = unsynchronised).
const MAX_STRATUM: i64 = 16;

/// Dump file names longer than this are not chrony's (its 64-byte buffer).
const MAX_NAME_LEN: usize = 63;

/// Which source a dump belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpSource<'a> {
    /// An NTP server or peer: its address and its name as configured (a host
    /// name, or the address as written in the configuration).
    Ntp {
        /// The address in use.
        addr: IpAddr,
        /// The configured name.
        name: &'a str,
    },
    /// A reference clock.
    Refclock {
        /// Its reference ID.
        ref_id: u32,
    },
}

impl DumpSource<'_> {
    /// The file name without `.dat`.
    pub fn file_stem(&self) -> String {
        match self {
            DumpSource::Ntp { addr, .. } => ip_text(addr),
            DumpSource::Refclock { ref_id } => format!("refid:{ref_id:08x}"),
        }
    }

    /// How chrony names the source in its messages: the address, or a
    /// refclock's refid as text.
    pub fn display_name(&self) -> String {
        match self {
            DumpSource::Ntp { addr, .. } => ip_text(addr),
            DumpSource::Refclock { ref_id } => ref_id
                .to_be_bytes()
                .iter()
                .filter(|b| b.is_ascii_graphic() || **b == b' ')
                .map(|&b| char::from(b))
                .collect(),
        }
    }

    /// The name stored in the file.
    fn stored_name(&self) -> &str {
        match self {
            DumpSource::Ntp { name, .. } => name,
            DumpSource::Refclock { .. } => ".",
        }
    }
}

/// An address as chrony prints it (C's `inet_ntop`): like Rust's `Display`,
/// except that an IPv4-compatible IPv6 address keeps its dotted tail
/// (`::192.0.2.1`).
pub fn ip_text(addr: &IpAddr) -> String {
    if let IpAddr::V6(v6) = addr {
        let s = v6.segments();
        if s[..6].iter().all(|&w| w == 0) && s[6] != 0 {
            let [.., a, b, c, d] = v6.octets();
            return format!("::{a}.{b}.{c}.{d}");
        }
    }
    addr.to_string()
}

/// The state of a source kept beside its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SourceState {
    /// Whether its packets were authenticated.
    pub authenticated: bool,
    /// The reachability register (newest poll in bit 0).
    pub reach: u8,
    /// How many bits of the register are in use (0..=8).
    pub reach_size: u8,
    /// Its stratum.
    pub stratum: u8,
    /// Its leap status.
    pub leap: LeapStatus,
}

/// Why a dump could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// No dump for the source, or it cannot be read (debug level in chrony).
    #[error("Could not open {} : {}", path.display(), os_error_text(source))]
    Open {
        /// The dump file.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// The dump is not valid for the source; `reason` is for debug output.
    #[error("Could not load dump file for {name}")]
    Invalid {
        /// The source's name in messages.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

impl LoadError {
    /// The severity chrony logs this with: debug for a missing file, warning
    /// for an invalid one.
    pub fn severity(&self) -> Severity {
        match self {
            LoadError::Open { .. } => Severity::Debug,
            LoadError::Invalid { .. } => Severity::Warn,
        }
    }
}

/// The `dumpdir` directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpDir {
    dir: PathBuf,
}

impl DumpDir {
    /// The dump directory at `dir` (create it with
    /// [`super::create_dir_and_parents`] and [`super::DIR_MODE`]).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DumpDir { dir: dir.into() }
    }

    /// Where the dump of `source` is kept.
    pub fn path_for(&self, source: &DumpSource<'_>) -> PathBuf {
        self.dir.join(format!("{}.dat", source.file_stem()))
    }

    /// Writes the dump of a source. A source without samples gets no dump and
    /// an old one is removed, as in chrony. Returns whether a file was written.
    ///
    /// # Errors
    /// [`FileError`] with chrony's texts, logged at error level; a partly
    /// written file is removed.
    pub fn save(
        &self,
        source: &DumpSource<'_>,
        state: &SourceState,
        stats: &SourceStats,
    ) -> Result<bool, FileError> {
        let path = self.path_for(source);
        let samples = stats.dump();
        if samples.is_empty() {
            remove_if_exists(&path)?;
            return Ok(false);
        }
        let text = format!(
            "{IDENTIFIER}\n{}\n{} {:o} {} {} {}\n{samples}",
            source.stored_name(),
            u8::from(state.authenticated),
            state.reach,
            state.reach_size,
            state.stratum,
            leap_number(state.leap),
        );
        let mut file = create_new(&path)?;
        if let Err(source) = file.write_all(text.as_bytes()) {
            drop(file);
            let _ = fs::remove_file(&path);
            return Err(FileError::Write { path, source });
        }
        Ok(true)
    }

    /// Loads the dump of `source` into `stats` (a source with the
    /// `authenticated` flag accepts only an authenticated dump) and returns the
    /// state to restore. `now` is the current time: samples from the future
    /// make a dump invalid. On error `stats` is left as it was.
    ///
    /// # Errors
    /// [`LoadError`]: log it with [`LoadError::severity`] and go on.
    pub fn load(
        &self,
        source: &DumpSource<'_>,
        authenticated: bool,
        stats: &mut SourceStats,
        now: UnixTime,
    ) -> Result<SourceState, LoadError> {
        let path = self.path_for(source);
        let bytes = fs::read(&path).map_err(|source| LoadError::Open { path, source })?;
        let invalid = |reason: String| LoadError::Invalid {
            name: source.display_name(),
            reason,
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| invalid("not text".into()))?;
        let (state, samples) = parse_header(text, source, authenticated).map_err(invalid)?;
        stats
            .load(samples, now, state.stratum, state.leap)
            .map_err(|e| invalid(e.to_string()))?;
        Ok(state)
    }

    /// Removes every file that looks like a dump (`<address>.dat` or
    /// `refid:*.dat`), as chronyd does after loading them at start. Returns the
    /// files that could not be removed.
    pub fn remove_all(&self) -> Vec<FileError> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut errors = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(stem) = name.to_str().and_then(|n| n.strip_suffix(".dat")) else {
                continue;
            };
            if is_dump_stem(stem) {
                if let Err(e) = remove_if_exists(&entry.path()) {
                    errors.push(e);
                }
            }
        }
        errors
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }
}

/// Whether a file name (without `.dat`) is one chrony's dumps use.
fn is_dump_stem(stem: &str) -> bool {
    stem.len() + 4 <= MAX_NAME_LEN && (stem.starts_with("refid:") || stem.parse::<IpAddr>().is_ok())
}

/// The message chronyd logs (at info level) after loading a dump.
pub fn loaded_message(source: &DumpSource<'_>) -> String {
    format!("Loaded dump file for {}", source.display_name())
}

fn leap_number(leap: LeapStatus) -> u8 {
    match leap {
        LeapStatus::Normal => 0,
        LeapStatus::InsertSecond => 1,
        LeapStatus::DeleteSecond => 2,
        LeapStatus::Unsynchronised => 3,
    }
}

/// Splits off the first line (with its newline, which must be there).
fn take_line<'t>(text: &mut &'t str) -> Option<&'t str> {
    let (line, rest) = text.split_once('\n')?;
    *text = rest;
    Some(line)
}

/// Checks the three header lines; returns the state and the sample text.
fn parse_header<'t>(
    mut text: &'t str,
    source: &DumpSource<'_>,
    authenticated: bool,
) -> Result<(SourceState, &'t str), String> {
    if take_line(&mut text) != Some(IDENTIFIER) {
        return Err("no SRC0 identifier".into());
    }
    let name_line = take_line(&mut text).ok_or("no name line")?;
    let mut words = name_line.split_ascii_whitespace();
    let name = words.next().ok_or("empty name line")?;
    if words.next().is_some() {
        return Err("more than one name".into());
    }
    if matches!(source, DumpSource::Ntp { .. }) && name != source.stored_name() {
        return Err(format!("dump of {name:?}"));
    }
    let state_line = take_line(&mut text).ok_or("no state line")?;
    let state = parse_state(state_line)?;
    if authenticated && !state.authenticated {
        return Err("not authenticated".into());
    }
    Ok((state, text))
}

/// `auth reach(octal) reach_size stratum leap`.
fn parse_state(line: &str) -> Result<SourceState, String> {
    let bad = || format!("bad state line {line:?}");
    let fields: Vec<&str> = line.split_ascii_whitespace().collect();
    let [auth, reach, size, stratum, leap] = fields[..] else {
        return Err(bad());
    };
    let int = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let reach = u32::from_str_radix(reach, 8).map_err(|_| bad())?;
    let stratum = int(stratum)?;
    let leap = match int(leap)? {
        0 => LeapStatus::Normal,
        1 => LeapStatus::InsertSecond,
        2 => LeapStatus::DeleteSecond,
        _ => return Err(bad()),
    };
    if !(0..MAX_STRATUM).contains(&stratum) {
        return Err(bad());
    }
    Ok(SourceState {
        authenticated: int(auth)? != 0,
        // Masked and clamped like chrony: the register keeps its low bits.
        reach: (reach & 0xff) as u8,
        reach_size: int(size)?.clamp(0, i64::from(REACH_BITS)) as u8,
        stratum: stratum as u8,
        leap,
    })
}

#[cfg(test)]
#[path = "dump_tests.rs"]
mod tests;
