//! Lines of the `statistics` and `selection` logs, which krony-engine reports as
//! figures rather than text (the `measurements` and `tracking` lines come ready
//! from the engine: `MeasurementRecord::to_log_line`, `TrackingLogLine`).
//!
//! The layouts are chrony's (`sourcestats.c`, `sources.c`), checked against the
//! files chronyd 4.3 writes.

use std::fmt::Write as _;

use krony_engine::UnixTime;
use krony_engine::cfmt::c_exp;
use krony_engine::discipline::log_time;
use krony_engine::select::{SelectOptions, SelectState};
use krony_engine::stats::RegressionInfo;

/// One line of the `statistics` log, written after each regression of a
/// source's samples.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatisticsLogLine<'a> {
    /// Time of the estimated offset (the newest sample's time).
    pub time: UnixTime,
    /// The source's address, or a refclock's refid as text.
    pub source: &'a str,
    /// The figures of the regression.
    pub info: RegressionInfo,
}

/// Header of the `statistics` log (chrony's column titles).
pub const STATISTICS_LOG_HEADER: &str = "   Date (UTC) Time     IP Address    Std dev'n Est offset  Offset sd  Diff freq   Est skew  Stress  Ns  Bs  Nr  Asym";

impl std::fmt::Display for StatisticsLogLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let i = &self.info;
        write!(
            f,
            "{} {:<15} {} {} {} {} {} {} {:3} {:3} {:3} {:5.2}",
            log_time(self.time),
            self.source,
            c_exp(i.std_dev, 3, 10),
            c_exp(i.offset, 3, 10),
            c_exp(i.offset_sd, 3, 10),
            c_exp(i.frequency, 3, 10),
            c_exp(i.skew, 3, 10),
            c_exp(i.stress, 1, 7),
            i.n_samples,
            i.best_start,
            i.n_runs,
            i.asymmetry,
        )
    }
}

/// One line of the `selection` log, written for each source whose selection
/// state was set in a round.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SelectionLogLine<'a> {
    /// Time of the selection round.
    pub time: UnixTime,
    /// The source's address, or a refclock's refid as text.
    pub source: &'a str,
    /// Its state.
    pub state: SelectState,
    /// Its configured options (`noselect`, `prefer`, `trust`, `require`).
    pub options: SelectOptions,
    /// Its reachability register.
    pub reach: u8,
    /// Its score against the system peer.
    pub score: f64,
    /// Age of its newest sample, seconds.
    pub last_sample_ago: f64,
    /// Low end of its selection interval, seconds.
    pub lo: f64,
    /// High end of its selection interval, seconds.
    pub hi: f64,
}

/// Header of the `selection` log (chrony's column titles).
pub const SELECTION_LOG_HEADER: &str =
    "   Date (UTC) Time     IP Address   S EOpts Reach Score Last sample  Low end   High end";

impl std::fmt::Display for SelectionLogLine<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let flag = |set: bool, c: char| if set { c } else { '-' };
        let o = self.options;
        let mut opts = String::from("-");
        for (set, c) in [
            (o.noselect, 'N'),
            (o.prefer, 'P'),
            (o.trust, 'T'),
            (o.require, 'R'),
        ] {
            opts.push(flag(set, c));
        }
        let mut line = String::new();
        // Writing to a String cannot fail.
        let _ = write!(
            line,
            "{} {:<15} {} {opts} {:4o} {:5.2} {} {} {}",
            log_time(self.time),
            self.source,
            self.state.as_char(),
            self.reach,
            self.score,
            c_exp(self.last_sample_ago, 3, 10),
            c_exp(self.lo, 3, 10),
            c_exp(self.hi, 3, 10),
        );
        f.write_str(&line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIME: UnixTime = UnixTime::from_secs_nanos(1_795_599_681, 500_000_000);

    #[test]
    fn statistics_line_matches_chronyd() {
        // A line chronyd 4.3 wrote:
        // 2026-11-25 09:41:21 127.0.0.1        2.563e-08 -1.764e-06  3.723e-08 -5.622e-06  2.148e-04 2.8e-03   3   0   3  0.00
        let line = StatisticsLogLine {
            time: TIME,
            source: "127.0.0.1",
            info: RegressionInfo {
                std_dev: 2.563e-8,
                offset: -1.764e-6,
                offset_sd: 3.723e-8,
                frequency: -5.622e-6,
                skew: 2.148e-4,
                stress: 2.8e-3,
                n_samples: 3,
                best_start: 0,
                n_runs: 3,
                asymmetry: 0.0,
            },
        };
        assert_eq!(
            line.to_string(),
            "2026-11-25 09:41:21 127.0.0.1        2.563e-08 -1.764e-06  3.723e-08 -5.622e-06  2.148e-04 2.8e-03   3   0   3  0.00"
        );
        assert_eq!(STATISTICS_LOG_HEADER.len(), line.to_string().len());
    }

    #[test]
    fn selection_line_matches_chronyd() {
        // Lines chronyd 4.3 wrote:
        // 2026-11-25 09:41:21 127.0.0.1       M -----    1  1.00  5.240e-05 -4.350e-06  2.294e-06
        // 2026-11-25 09:41:21 127.0.0.1       * -----   37  1.00  4.644e-05 -7.378e-06  9.507e-07
        let mut line = SelectionLogLine {
            time: TIME,
            source: "127.0.0.1",
            state: SelectState::MissingSamples,
            options: SelectOptions::default(),
            reach: 1,
            score: 1.0,
            last_sample_ago: 5.240e-5,
            lo: -4.350e-6,
            hi: 2.294e-6,
        };
        assert_eq!(
            line.to_string(),
            "2026-11-25 09:41:21 127.0.0.1       M -----    1  1.00  5.240e-05 -4.350e-06  2.294e-06"
        );
        line.state = SelectState::Selected;
        line.reach = 0o37;
        line.options.prefer = true;
        line.options.require = true;
        assert_eq!(
            line.to_string(),
            "2026-11-25 09:41:21 127.0.0.1       * --P-R   37  1.00  5.240e-05 -4.350e-06  2.294e-06"
        );
        assert_eq!(SELECTION_LOG_HEADER.len(), 87);
    }
}
