//! The reports: each module fetches its data from the daemon, renders it
//! as chronyc does (text or `-c` CSV) with pure functions that the golden
//! tests call directly, and serialises it for `--json`.

pub mod clients;
pub mod ntpdata;
pub mod selection;
pub mod sources;
pub mod system;

use std::io::Write;

use krony_wire::cmdmon::{CmdAddr, ReplyBody, ReplyCode, Request, SourceData, Timespec};
use serde::Serialize;

use crate::client::{Client, Failure};
use crate::names;
use crate::report::Rec;

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

/// Prints a one-record report as text, CSV or JSON.
pub fn show<W: Write, T: Serialize>(c: &mut Client<W>, rec: &Rec, value: &T) {
    if c.set.json {
        print_json(c, value);
    } else {
        let csv = c.set.csv;
        c.print(&rec.render(csv));
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

/// A table's rows: each printed at once as text or CSV, or, with
/// `--json`, gathered and printed as one array by [`Rows::finish`].
pub struct Rows<R> {
    json: bool,
    rows: Vec<R>,
}

impl<R: Serialize> Rows<R> {
    /// No rows yet, in the client's output mode.
    pub fn new<W: Write>(c: &Client<W>) -> Rows<R> {
        Rows {
            json: c.set.json,
            rows: Vec::new(),
        }
    }

    /// Prints a row (`rec` renders it), or keeps it for the JSON array.
    pub fn add<W: Write>(&mut self, c: &mut Client<W>, row: R, rec: impl FnOnce(&R) -> Rec) {
        if self.json {
            self.rows.push(row);
        } else {
            let csv = c.set.csv;
            c.print(&rec(&row).render(csv));
        }
    }

    /// Prints the JSON array (nothing more in the other modes).
    pub fn finish<W: Write>(self, c: &mut Client<W>) {
        if self.json {
            print_json(c, &self.rows);
        }
    }
}

/// How a report with one row per source is printed.
pub struct SourceTable<R> {
    /// The `-v` legend, shifted by the `-w` width.
    pub legend: fn(usize) -> String,
    /// The header, for the `-w` width and CSV mode.
    pub header: fn(usize, bool) -> String,
    /// A row as chronyc prints it, for the `-w` width.
    pub rec: fn(&R, usize) -> Rec,
}

/// Runs a report with one row per source (`sources`, `sourcestats`,
/// `authdata`, `selectdata`): the legend with `-v`, the header, then the
/// row `fetch` gives for each source index. `fetch` returns `Ok(None)`
/// for a source the report does not list, and `Err` when a request
/// failed, which ends the command.
pub fn per_source<W: Write, R: Serialize>(
    c: &mut Client<W>,
    args: &str,
    table: &SourceTable<R>,
    mut fetch: impl FnMut(&mut Client<W>, u32, SourceOpts) -> Result<Option<R>, Failure>,
) -> bool {
    let o = SourceOpts::parse(args, c.set.csv);
    let Some(n) = n_sources(c) else {
        return false;
    };
    let (csv, wide) = (c.set.csv, c.set.wide);
    if !c.set.json {
        if o.verbose {
            c.print(&(table.legend)(wide));
        }
        c.print(&(table.header)(wide, csv));
    }
    let mut rows = Rows::new(c);
    for i in 0..n {
        match fetch(c, i, o) {
            Ok(Some(row)) => rows.add(c, row, |r| (table.rec)(r, wide)),
            Ok(None) => {}
            Err(_) => return false,
        }
    }
    rows.finish(c);
    true
}

/// Whether a source with this address is listed without `-a`
/// (unresolved sources are hidden).
pub fn listed(addr: &CmdAddr, o: SourceOpts) -> bool {
    o.all || !matches!(addr, CmdAddr::Id(_))
}

/// Asks for the source with this index; `Err` if the request failed
/// (already reported).
pub fn source_data<W: Write>(c: &mut Client<W>, i: u32) -> Result<SourceData, Failure> {
    let req = Request::SourceData(i32::try_from(i).unwrap_or(i32::MAX));
    let reply = c.request(&req, &[ReplyCode::SOURCE_DATA], false)?;
    match reply.body {
        ReplyBody::SourceData(d) => Ok(d),
        _ => Err(Failure::BadReply),
    }
}

/// How a report that carries a refid names a source: by the refid when
/// there is no address (a reference clock), else as
/// [`Client::source_label`] does.
pub fn label_or_refid<W: Write>(
    c: &mut Client<W>,
    addr: &CmdAddr,
    ref_id: u32,
    trunc: usize,
) -> String {
    match addr {
        CmdAddr::Unspec => names::refid_string(ref_id),
        a => c.source_label(a, trunc),
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
