//! Accuracy metrics, defined exactly as clknetsim and chrony's simulation
//! tests define them, so that chrony's pass criteria apply unchanged.
//!
//! Sources of the definitions (read for facts, no code copied):
//! - mlichvar/clknetsim `network.cc` (`Network::update`,
//!   `update_clock_stats`): once per simulated second, starting at time 0,
//!   each clock's *offset* (its reading minus true time, seconds) and
//!   *frequency* (`total_freq - 1`: its rate relative to true time minus one,
//!   natural error and correction together, a ratio) are logged and added to
//!   the statistics. The per-second frequency update of the clock comes first.
//! - clknetsim `stats.cc`: "RMS offset" is `sqrt(sum(offset²) / n)`,
//!   "Maximum absolute offset" is `max |offset|`, likewise for the frequency;
//!   also the mean and mean absolute values.
//! - clknetsim `server.cc` option `-r secs`: the statistics are reset after
//!   `secs` seconds, so they cover only the samples taken strictly after it
//!   (the sample at exactly `secs` is taken before the reset). chrony's
//!   `run_simulation` passes `-r max_sync_time` (210 s by default), so the
//!   maximum and RMS limits of `check_sync` apply after that time only.
//! - clknetsim `clknetsim.bash` `find_sync`: walking the whole per-second log
//!   from time 0, the absolute offset and frequency are smoothed
//!   exponentially (`avg += smooth * (x - avg)`, restarting from the sample
//!   while both averages are exactly zero); a sample is *not synchronised*
//!   when the smoothed offset exceeds the offset limit or the smoothed
//!   frequency exceeds the frequency limit. The *time to sync* is the index
//!   (= seconds since the start) of the first sample after the last
//!   unsynchronised one: 0 if none was, the number of samples if the last one
//!   was. chrony's `check_sync` (`test/simulation/test.common`) calls it with
//!   the limits `time_max_limit` (1e-3) and `freq_max_limit` (5e-4) and
//!   smoothing 1.0 (no smoothing).
//! - clknetsim `stats.cc` `update_packet_stats`: per node, packets sent are
//!   counted when sent (a lost packet with delay 0), packets received when
//!   delivered; RMS delay and the mean and minimum interval between packets.

/// Which samples the statistics cover and what "synchronised" means.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// Statistics cover the samples taken strictly after this many seconds
    /// (clknetsim `-r`); `None` covers all samples from time 0.
    pub stats_after: Option<f64>,
    /// `find_sync` offset limit, seconds.
    pub sync_max_offset: f64,
    /// `find_sync` frequency limit, a ratio.
    pub sync_max_freq: f64,
    /// `find_sync` smoothing constant (1.0 = none, as `check_sync` uses).
    pub sync_smoothing: f64,
    /// Keep every per-second sample in [`ClockSummary::series`].
    pub keep_series: bool,
}

impl Default for MetricsConfig {
    /// chrony's `check_sync` with the default test settings.
    fn default() -> Self {
        MetricsConfig {
            stats_after: Some(210.0),
            sync_max_offset: 1e-3,
            sync_max_freq: 5e-4,
            sync_smoothing: 1.0,
            keep_series: false,
        }
    }
}

/// Offset and frequency statistics of one clock (clknetsim's "RMS offset",
/// "Maximum absolute offset", ...). Offsets in seconds, frequencies as ratios.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClockStats {
    /// Number of samples.
    pub samples: u64,
    /// `sqrt(mean(offset²))`.
    pub rms_offset: f64,
    /// `max |offset|`.
    pub max_abs_offset: f64,
    /// `mean |offset|`.
    pub mean_abs_offset: f64,
    /// `mean(offset)`.
    pub mean_offset: f64,
    /// `sqrt(mean(freq²))`.
    pub rms_freq: f64,
    /// `max |freq|`.
    pub max_abs_freq: f64,
    /// `mean |freq|`.
    pub mean_abs_freq: f64,
    /// `mean(freq)`.
    pub mean_freq: f64,
}

/// The metrics of one clock at the end of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockSummary {
    /// `find_sync`'s time to sync, seconds since the start (equal to the
    /// number of samples when the last sample was not synchronised).
    pub time_to_sync: u64,
    /// Whether the last sample was synchronised.
    pub synchronised_at_end: bool,
    /// Statistics over the samples after [`MetricsConfig::stats_after`];
    /// `None` when there were none.
    pub stats: Option<ClockStats>,
    /// Every (offset, frequency) sample, one per second from time 0, when
    /// [`MetricsConfig::keep_series`] is set.
    pub series: Option<Vec<(f64, f64)>>,
}

#[derive(Debug, Clone, Default)]
struct Sums {
    n: u64,
    off2: f64,
    off_abs: f64,
    off: f64,
    off_max: f64,
    freq2: f64,
    freq_abs: f64,
    freq: f64,
    freq_max: f64,
}

/// Collects the per-second samples of one clock.
#[derive(Debug, Clone)]
pub struct ClockMetrics {
    config: MetricsConfig,
    /// Samples seen, i.e. the index of the next one.
    index: u64,
    last_unsync: Option<u64>,
    avg_off: f64,
    avg_freq: f64,
    sums: Sums,
    series: Option<Vec<(f64, f64)>>,
}

impl ClockMetrics {
    /// An empty collector.
    pub fn new(config: &MetricsConfig) -> Self {
        ClockMetrics {
            config: config.clone(),
            index: 0,
            last_unsync: None,
            avg_off: 0.0,
            avg_freq: 0.0,
            sums: Sums::default(),
            series: config.keep_series.then(Vec::new),
        }
    }

    /// Adds the sample taken `elapsed` seconds after the start (samples come
    /// once per second from 0): the clock's offset in seconds and frequency
    /// error as a ratio.
    pub fn record(&mut self, elapsed: f64, offset: f64, freq: f64) {
        self.track_sync(offset.abs(), freq.abs());
        if let Some(series) = &mut self.series {
            series.push((offset, freq));
        }
        if self.config.stats_after.is_none_or(|after| elapsed > after) {
            let s = &mut self.sums;
            s.n += 1;
            s.off2 += offset * offset;
            s.off_abs += offset.abs();
            s.off += offset;
            s.off_max = s.off_max.max(offset.abs());
            s.freq2 += freq * freq;
            s.freq_abs += freq.abs();
            s.freq += freq;
            s.freq_max = s.freq_max.max(freq.abs());
        }
    }

    fn track_sync(&mut self, off: f64, freq: f64) {
        if self.avg_off == 0.0 && self.avg_freq == 0.0 {
            self.avg_off = off;
            self.avg_freq = freq;
        } else {
            let k = self.config.sync_smoothing;
            self.avg_off += k * (off - self.avg_off);
            self.avg_freq += k * (freq - self.avg_freq);
        }
        if self.avg_off > self.config.sync_max_offset || self.avg_freq > self.config.sync_max_freq {
            self.last_unsync = Some(self.index);
        }
        self.index += 1;
    }

    /// The metrics so far.
    pub fn summary(&self) -> ClockSummary {
        let s = &self.sums;
        let n = s.n as f64;
        let stats = (s.n > 0).then(|| ClockStats {
            samples: s.n,
            rms_offset: (s.off2 / n).sqrt(),
            max_abs_offset: s.off_max,
            mean_abs_offset: s.off_abs / n,
            mean_offset: s.off / n,
            rms_freq: (s.freq2 / n).sqrt(),
            max_abs_freq: s.freq_max,
            mean_abs_freq: s.freq_abs / n,
            mean_freq: s.freq / n,
        });
        ClockSummary {
            time_to_sync: self.last_unsync.map_or(0, |i| i + 1),
            synchronised_at_end: self.index > 0 && self.last_unsync != Some(self.index - 1),
            stats,
            series: self.series.clone(),
        }
    }
}

/// Packet statistics of one node (clknetsim's "RMS incoming packet delay",
/// "Mean incoming packet interval", ...).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PacketStats {
    /// Packets delivered to the node.
    pub received: u64,
    /// Packets the node sent (lost ones included).
    pub sent: u64,
    in_delay2: f64,
    out_delay2: f64,
    in_last: f64,
    out_last: f64,
    in_interval_sum: f64,
    out_interval_sum: f64,
    in_interval_min: f64,
    out_interval_min: f64,
}

impl PacketStats {
    /// Counts a packet delivered `elapsed` seconds after the start after
    /// `delay` seconds on the way.
    pub fn record_received(&mut self, elapsed: f64, delay: f64) {
        Self::record(
            &mut self.received,
            &mut self.in_delay2,
            &mut self.in_last,
            &mut self.in_interval_sum,
            &mut self.in_interval_min,
            elapsed,
            delay,
        );
    }

    /// Counts a packet sent `elapsed` seconds after the start; `delay` is
    /// its delay, or `None` if it was lost (counted as 0, as clknetsim does).
    pub fn record_sent(&mut self, elapsed: f64, delay: Option<f64>) {
        Self::record(
            &mut self.sent,
            &mut self.out_delay2,
            &mut self.out_last,
            &mut self.out_interval_sum,
            &mut self.out_interval_min,
            elapsed,
            delay.unwrap_or(0.0),
        );
    }

    fn record(
        count: &mut u64,
        delay2: &mut f64,
        last: &mut f64,
        interval_sum: &mut f64,
        interval_min: &mut f64,
        elapsed: f64,
        delay: f64,
    ) {
        *count += 1;
        *delay2 += delay * delay;
        if *count >= 2 {
            let interval = elapsed - *last;
            *interval_sum += interval;
            if *count == 2 || interval < *interval_min {
                *interval_min = interval;
            }
        }
        *last = elapsed;
    }

    /// RMS delay of the packets received (infinite if none).
    pub fn rms_in_delay(&self) -> f64 {
        rms(self.in_delay2, self.received)
    }

    /// RMS delay of the packets sent (infinite if none).
    pub fn rms_out_delay(&self) -> f64 {
        rms(self.out_delay2, self.sent)
    }

    /// Mean interval between packets received (infinite for fewer than 2).
    pub fn mean_in_interval(&self) -> f64 {
        mean_interval(self.in_interval_sum, self.received)
    }

    /// Mean interval between packets sent (infinite for fewer than 2).
    pub fn mean_out_interval(&self) -> f64 {
        mean_interval(self.out_interval_sum, self.sent)
    }

    /// Shortest interval between packets received (infinite for fewer than 2).
    pub fn min_in_interval(&self) -> f64 {
        if self.received >= 2 {
            self.in_interval_min
        } else {
            f64::INFINITY
        }
    }

    /// Shortest interval between packets sent (infinite for fewer than 2).
    pub fn min_out_interval(&self) -> f64 {
        if self.sent >= 2 {
            self.out_interval_min
        } else {
            f64::INFINITY
        }
    }
}

/// chrony's `check_sync` pass criteria (`test/simulation/test.common`), with
/// its default limits.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncCriteria {
    /// Shortest acceptable time to sync, seconds (`min_sync_time`).
    pub min_sync_time: f64,
    /// Longest acceptable time to sync, seconds (`max_sync_time`); also
    /// when the statistics start.
    pub max_sync_time: f64,
    /// Largest acceptable `max |offset|`, seconds (`time_max_limit`).
    pub time_max_limit: f64,
    /// Largest acceptable `max |freq|`, a ratio (`freq_max_limit`).
    pub freq_max_limit: f64,
    /// Largest acceptable RMS offset, seconds (`time_rms_limit`).
    pub time_rms_limit: f64,
    /// Largest acceptable RMS frequency, a ratio (`freq_rms_limit`).
    pub freq_rms_limit: f64,
}

impl Default for SyncCriteria {
    fn default() -> Self {
        SyncCriteria {
            min_sync_time: 120.0,
            max_sync_time: 210.0,
            time_max_limit: 1e-3,
            freq_max_limit: 5e-4,
            time_rms_limit: 3e-4,
            freq_rms_limit: 1e-5,
        }
    }
}

impl SyncCriteria {
    /// The metrics configuration `check_sync` implies: statistics after
    /// `max_sync_time`, sync detected with the maximum limits, unsmoothed.
    pub fn metrics_config(&self) -> MetricsConfig {
        MetricsConfig {
            stats_after: Some(self.max_sync_time),
            sync_max_offset: self.time_max_limit,
            sync_max_freq: self.freq_max_limit,
            sync_smoothing: 1.0,
            keep_series: false,
        }
    }

    /// The criteria `summary` fails, as messages (empty when it passes).
    /// Like clknetsim's `check_stat`, a value passes within one millionth of
    /// itself of the limit.
    pub fn check(&self, summary: &ClockSummary) -> Vec<String> {
        let mut failures = Vec::new();
        let mut expect = |name: &str, value: f64, min: f64, max: f64| {
            let tol = value / 1e6;
            if !(value + tol >= min && value - tol <= max) {
                failures.push(format!("{name} {value:e} outside [{min:e}, {max:e}]"));
            }
        };
        expect(
            "time to sync",
            summary.time_to_sync as f64,
            self.min_sync_time,
            self.max_sync_time,
        );
        match &summary.stats {
            Some(s) => {
                expect("max |offset|", s.max_abs_offset, 0.0, self.time_max_limit);
                expect("max |freq|", s.max_abs_freq, 0.0, self.freq_max_limit);
                expect("RMS offset", s.rms_offset, 0.0, self.time_rms_limit);
                expect("RMS freq", s.rms_freq, 0.0, self.freq_rms_limit);
            }
            None => failures.push("no samples after the sync time".to_string()),
        }
        failures
    }
}

fn rms(sum2: f64, n: u64) -> f64 {
    if n == 0 {
        f64::INFINITY
    } else {
        (sum2 / n as f64).sqrt()
    }
}

fn mean_interval(sum: f64, n: u64) -> f64 {
    if n < 2 {
        f64::INFINITY
    } else {
        sum / (n - 1) as f64
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
