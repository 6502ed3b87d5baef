//! How many samples per second the statistics process, and how long a
//! selection round takes.
//!
//! - `samples/stats_64`: one NTP sample into a [`SourceStats`] that already
//!   holds 64 (the maximum), then the weighted regression with the runs
//!   test: what chrony does for every sample of a source;
//! - `samples/filter4_stats_64`: the same behind a `filter 4` median filter
//!   (every sample into the [`SampleFilter`], every fourth output into the
//!   statistics); the figure is per input sample;
//! - `select/4` and `select/16`: one [`Selector::select`] round over 4 or
//!   16 sources whose statistics come from real regressions, with one
//!   source updated per round.
//!
//! The samples come from a seeded simulated server: a 64 s poll, 100 µs
//! base delay with exponential jitter, a local clock 12 ppm fast.
//! criterion prints time per element and elements/s; nothing is asserted.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use krony_engine::UnixTime;
use krony_engine::clock::LeapStatus;
use krony_engine::select::{
    Candidate, Reachability, SelectConfig, SelectOptions, Selector, SourceId, SourceKind,
    SourceStats as SelectStats, TrackingData as SelectTracking,
};
use krony_engine::stats::{FilterParams, Sample, SampleFilter, SourceStats, StatsParams};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const START_SECS: i64 = 1_795_598_154;
const POLL_SECS: f64 = 64.0;
/// The local clock's frequency error (fast).
const FREQ_ERROR: f64 = 12e-6;
/// Precision of the local clock, seconds.
const PRECISION: f64 = 1e-8;

/// A simulated server's samples, in time order.
struct SampleSource {
    rng: ChaCha8Rng,
    elapsed: f64,
    /// True offset of the source at time 0 (source ahead positive).
    offset0: f64,
}

impl SampleSource {
    fn new(seed: u64, offset0: f64) -> Self {
        SampleSource {
            rng: ChaCha8Rng::seed_from_u64(seed),
            elapsed: 0.0,
            offset0,
        }
    }

    /// Exponentially distributed jitter with mean `mean`.
    fn jitter(&mut self, mean: f64) -> f64 {
        let u: f64 = self.rng.random_range(f64::EPSILON..1.0);
        -mean * u.ln()
    }

    fn next(&mut self) -> Sample {
        self.elapsed += POLL_SECS;
        let (up, down) = (100e-6 + self.jitter(50e-6), 100e-6 + self.jitter(50e-6));
        let delay = up + down;
        // The local clock gains, so the source falls behind it.
        let offset = self.offset0 - FREQ_ERROR * self.elapsed + (up - down) / 2.0;
        Sample {
            time: UnixTime::from_secs_nanos(START_SECS, 0).add_secs(self.elapsed),
            offset,
            peer_delay: delay,
            peer_dispersion: 1e-6,
            root_delay: delay + 0.01,
            root_dispersion: 0.001,
        }
    }
}

/// Statistics holding `n` samples of `source`, regressed.
fn filled_stats(source: &mut SampleSource, n: usize) -> SourceStats {
    let mut stats = SourceStats::new(StatsParams::ntp(PRECISION));
    for _ in 0..n {
        stats
            .accumulate_sample(&source.next(), 2, LeapStatus::Normal)
            .expect("finite sample");
        stats.do_new_regression();
    }
    stats
}

fn add_and_regress(stats: &mut SourceStats, sample: &Sample) {
    stats
        .accumulate_sample(sample, 2, LeapStatus::Normal)
        .expect("finite sample");
    black_box(stats.do_new_regression());
}

fn bench_samples(c: &mut Criterion) {
    let mut group = c.benchmark_group("samples");
    group.throughput(Throughput::Elements(1));

    let mut source = SampleSource::new(1, 0.0);
    let mut stats = filled_stats(&mut source, 64);
    group.bench_function("stats_64", |b| {
        b.iter(|| add_and_regress(&mut stats, &source.next()));
    });
    println!("samples/stats_64: {} samples held", stats.n_samples());

    let mut source = SampleSource::new(2, 0.0);
    let mut stats = filled_stats(&mut source, 64);
    let mut filter = SampleFilter::new(FilterParams::ntp(4, PRECISION));
    group.bench_function("filter4_stats_64", |b| {
        b.iter(|| {
            filter.accumulate(source.next()).expect("newer sample");
            if filter.len() == filter.max_samples() {
                if let Some(out) = filter.output() {
                    add_and_regress(&mut stats, &out);
                }
            }
        });
    });
    println!(
        "samples/filter4_stats_64: {} samples held",
        stats.n_samples()
    );
    group.finish();
}

/// A source as the selection sees it, from regressed statistics.
fn candidate(id: u32, stats: &SourceStats, now: UnixTime) -> Candidate {
    let sel = stats.get_selection_data(now).expect("regression succeeded");
    let tr = stats.get_tracking_data().expect("samples held");
    Candidate {
        id: SourceId(id),
        kind: SourceKind::Ntp,
        ref_id: 0xC000_0200 | id,
        local_ref_id: 0,
        authenticated: false,
        options: SelectOptions::default(),
        stratum: 2,
        leap: LeapStatus::Normal,
        reach: Reachability {
            register: 0xff,
            size: 8,
            unreachable_run: 0,
        },
        max_unreach: 100_000,
        stats: Some(SelectStats {
            usable: true,
            lo: sel.lo_limit,
            hi: sel.hi_limit,
            root_distance: sel.root_distance,
            std_dev: sel.std_dev,
            first_sample_ago: sel.first_sample_ago,
            last_sample_ago: sel.last_sample_ago,
            tracking: SelectTracking {
                ref_time: tr.ref_time,
                offset: tr.offset,
                offset_sd: tr.offset_sd,
                frequency: tr.frequency,
                frequency_sd: tr.frequency_sd,
                skew: tr.skew,
                root_delay: tr.root_delay,
                root_dispersion: tr.root_dispersion,
            },
        }),
    }
}

fn bench_select(c: &mut Criterion) {
    let mut group = c.benchmark_group("select");
    // One element = one selection round.
    group.throughput(Throughput::Elements(1));
    for n in [4u32, 16] {
        // Sources that agree within a few hundred microseconds.
        let mut sources: Vec<SourceStats> = (0..n)
            .map(|i| {
                let offset0 = f64::from(i) * 50e-6;
                filled_stats(&mut SampleSource::new(10 + u64::from(i), offset0), 16)
            })
            .collect();
        let now = UnixTime::from_secs_nanos(START_SECS, 0).add_secs(16.0 * POLL_SECS + 1.0);
        let candidates: Vec<Candidate> = sources
            .iter_mut()
            .enumerate()
            .map(|(i, s)| candidate(i as u32, s, now))
            .collect();
        let config = SelectConfig::default();
        let mut selector = Selector::new();
        // Every source reports a sample once, so that one can be selected.
        let mut last = None;
        for i in 0..n {
            last = Some(selector.select(&candidates, Some(SourceId(i)), &config));
        }
        let states: String = last
            .map(|sel| sel.sources.iter().map(|r| r.state.as_char()).collect())
            .unwrap_or_default();
        println!(
            "select/{n}: states {states}, selected {:?}",
            selector.selected()
        );
        let mut round = 0u32;
        group.bench_function(n.to_string(), |b| {
            b.iter(|| {
                round = (round + 1) % n;
                black_box(selector.select(&candidates, Some(SourceId(round)), &config))
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench_samples, bench_select);
criterion_main!(benches);
