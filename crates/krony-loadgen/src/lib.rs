//! krony-loadgen: a load generator for NTP servers on loopback. It starts
//! `kronyd -x` and `chronyd -x` as servers (or uses servers at given
//! addresses), sends each the same number of client-mode requests from
//! several sockets with a bounded window of outstanding requests, checks
//! every answer, and prints side by side the answered requests per second,
//! the losses and the server's CPU time per request (utime + stime from
//! `/proc/PID/stat`). It prints figures only: nothing is asserted about
//! speed.
#![forbid(unsafe_code)]

pub mod cpu;
pub mod daemon;
pub mod load;
pub mod packet;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

pub use load::{LoadConfig, LoadResult};

/// One server's figures.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// Column title ("kronyd", "chronyd", or the name given).
    pub name: String,
    /// What the load generator saw.
    pub load: LoadResult,
    /// Server CPU time (user + system) spent during the load, if its
    /// process is known.
    pub cpu: Option<Duration>,
}

impl Measurement {
    /// Server CPU time per request sent, in microseconds.
    pub fn cpu_us_per_request(&self) -> Option<f64> {
        let cpu = self.cpu?;
        (self.load.sent > 0).then(|| cpu.as_secs_f64() * 1e6 / self.load.sent as f64)
    }
}

/// Loads the server at `addr` (process `pid`, if known) and measures it.
///
/// # Errors
/// An I/O error of the client sockets.
pub fn measure(
    name: &str,
    addr: SocketAddr,
    pid: Option<u32>,
    cfg: &LoadConfig,
) -> std::io::Result<Measurement> {
    let ticks = cpu::clock_ticks();
    let before = pid.and_then(|p| cpu::cpu_time(p, ticks));
    let load = load::run(addr, cfg)?;
    let after = pid.and_then(|p| cpu::cpu_time(p, ticks));
    let cpu = match (before, after) {
        (Some(b), Some(a)) => Some(a.saturating_sub(b)),
        _ => None,
    };
    Ok(Measurement {
        name: name.to_string(),
        load,
        cpu,
    })
}

/// A row of the table: its title and how a column's cell is written.
type Row<'a> = (&'a str, &'a dyn Fn(&Measurement) -> String);

/// The side-by-side table of the measurements.
pub fn table(ms: &[Measurement]) -> String {
    let rows: [Row<'_>; 8] = [
        ("requests sent", &|m| m.load.sent.to_string()),
        ("valid answers", &|m| m.load.answered.to_string()),
        ("invalid answers", &|m| m.load.invalid.to_string()),
        ("lost", &|m| m.load.lost.to_string()),
        ("wall time (s)", &|m| {
            format!("{:.3}", m.load.wall.as_secs_f64())
        }),
        ("answered/s", &|m| {
            format!("{:.0}", m.load.answered_per_sec())
        }),
        ("server CPU (s)", &|m| {
            m.cpu
                .map_or("-".into(), |c| format!("{:.2}", c.as_secs_f64()))
        }),
        ("CPU/request (us)", &|m| {
            m.cpu_us_per_request()
                .map_or("-".into(), |c| format!("{c:.2}"))
        }),
    ];
    let mut out = format!("{:<18}", "");
    for m in ms {
        let _ = write!(out, "{:>14}", m.name);
    }
    out.push('\n');
    for (title, value) in rows {
        let _ = write!(out, "{title:<18}");
        for m in ms {
            let _ = write!(out, "{:>14}", value(m));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_has_a_column_per_server() {
        let m = |name: &str, cpu| Measurement {
            name: name.into(),
            load: LoadResult {
                sent: 1000,
                answered: 1000,
                invalid: 0,
                lost: 0,
                wall: Duration::from_millis(500),
            },
            cpu,
        };
        let t = table(&[
            m("kronyd", Some(Duration::from_millis(20))),
            m("other", None),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].contains("kronyd") && lines[0].contains("other"));
        assert!(t.contains("answered/s"));
        let cpu_row = lines
            .iter()
            .find(|l| l.starts_with("CPU/request"))
            .expect("row");
        assert!(cpu_row.contains("20.00") && cpu_row.trim_end().ends_with('-'));
        let rate = lines
            .iter()
            .find(|l| l.starts_with("answered/s"))
            .expect("row");
        assert!(rate.contains("2000"));
    }
}
