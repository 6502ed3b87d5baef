//! The reports: each module fetches its data from the daemon, renders it
//! as chronyc does (text or `-c` CSV) with pure functions that the golden
//! tests call directly, and serialises it for `--json`.

pub mod clients;
pub mod ntpdata;
pub mod selection;
pub mod sources;
pub mod system;

use std::io::Write;

use krony_wire::cmdmon::{CmdAddr, ReplyBody, ReplyCode, Request, Timespec};
use serde::Serialize;

use crate::client::Client;
use crate::names;

/// Seconds and nanoseconds of a wire time, read as chrony reads it
/// (`TV_NOHIGHSEC` means no high word; nanoseconds are clamped).
pub fn timespec_parts(t: &Timespec) -> (i64, u32) {
    let high = if t.sec_high == Timespec::NO_HIGH_SEC {
        0
    } else {
        t.sec_high
    };
    // The u64 → i64 cast is chronyd's (time_t)(uint64_t) conversion.
    let secs = ((u64::from(high) << 32) | u64::from(t.sec_low)) as i64;
    (secs, t.nsec.min(999_999_999))
}

/// A wire time as Unix seconds for JSON (f64: microsecond resolution is
/// plenty for a report).
pub fn timespec_unix_s(t: &Timespec) -> f64 {
    let (s, ns) = timespec_parts(t);
    s as f64 + f64::from(ns) * 1e-9
}

/// The numeric address for JSON: `null` for none.
pub fn json_addr(a: &CmdAddr) -> Option<String> {
    match a {
        CmdAddr::Unspec => None,
        a => Some(names::addr_string(a)),
    }
}

/// A reference ID for JSON: 8 hexadecimal digits.
pub fn json_refid(id: u32) -> String {
    format!("{id:08X}")
}

/// A leap status for JSON.
pub fn json_leap(v: u32) -> &'static str {
    match v {
        0 => "normal",
        1 => "insert_second",
        2 => "delete_second",
        3 => "not_synchronised",
        _ => "invalid",
    }
}

/// `u32::MAX` means unknown in the "seconds ago" fields.
pub fn json_ago(v: u32) -> Option<u32> {
    (v != u32::MAX).then_some(v)
}

/// Prints a value as pretty JSON followed by a newline.
pub fn print_json<W: Write, T: Serialize>(c: &mut Client<W>, value: &T) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => {
            c.print(&s);
            c.print("\n");
        }
        Err(e) => eprintln!("Could not serialise report: {e}"),
    }
}

/// Asks for the number of sources.
pub fn n_sources<W: Write>(c: &mut Client<W>) -> Option<u32> {
    let reply = c
        .request(&Request::NSources, &[ReplyCode::N_SOURCES], false)
        .ok()?;
    match reply.body {
        ReplyBody::NSources(n) => Some(n),
        _ => None,
    }
}

/// Options of the source reports: `-a` (include unresolved sources) and
/// `-v` (legend; ignored in CSV mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceOpts {
    /// `-a`.
    pub all: bool,
    /// `-v`.
    pub verbose: bool,
}

impl SourceOpts {
    /// Parses the words after the command; unknown words are ignored, as
    /// in chronyc.
    pub fn parse(args: &str, csv: bool) -> SourceOpts {
        let mut o = SourceOpts::default();
        for w in args.split_whitespace() {
            match w {
                "-a" => o.all = true,
                "-v" => o.verbose = !csv,
                _ => {}
            }
        }
        o
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timespec_reading() {
        let t = Timespec {
            sec_high: Timespec::NO_HIGH_SEC,
            sec_low: 10,
            nsec: 2_000_000_000,
        };
        assert_eq!(timespec_parts(&t), (10, 999_999_999));
        let t = Timespec {
            sec_high: 1,
            sec_low: 0,
            nsec: 5,
        };
        assert_eq!(timespec_parts(&t), (1 << 32, 5));
    }

    #[test]
    fn source_options() {
        assert_eq!(
            SourceOpts::parse("-v -a x", false),
            SourceOpts {
                all: true,
                verbose: true
            }
        );
        assert!(!SourceOpts::parse("-v", true).verbose);
        assert_eq!(json_ago(u32::MAX), None);
        assert_eq!(json_leap(3), "not_synchronised");
    }
}
