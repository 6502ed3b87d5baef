//! Prints krony's accuracy in chrony's simulation scenarios (issue 3): the
//! default scenario against chrony's pass criteria, and the jitter series
//! against chrony's published RMS offsets. Figures only; the assertions are
//! in `tests/scenarios.rs`.

use krony_sim::engine_node::run_engines;
use krony_sim::{EngineNode, LinkPair, Scenario, SyncCriteria};

/// chrony's RMS offsets for 10 µs, 100 µs, 1 ms and 10 ms network jitter
/// (default polling, 1 ppb/s wander), microseconds.
const CHRONY_RMS_US: [(f64, f64); 4] = [(1e-5, 35.0), (1e-4, 109.0), (1e-3, 475.0), (1e-2, 1603.0)];

fn main() {
    let seeds: Vec<u64> = (1..=5).collect();
    println!("chrony default scenario (0.1 s, 100 ppm, 100 us + 100 us jitter, 10000 s)");
    println!("seed  sync[s]  max|off|[us]  rms off[us]  max|freq|[ppm]  rms freq[ppm]  pass");
    for &seed in &seeds {
        let s = Scenario::chrony_default(seed);
        match run_engines(&s, |ctx| EngineNode::client_config(ctx, "", "")) {
            Ok((report, _)) => {
                let Some(c) = report.clients().next() else {
                    continue;
                };
                let st = c.clock.stats;
                let fails = SyncCriteria::default().check(&c.clock);
                println!(
                    "{seed:4}  {:7}  {:12.1}  {:11.1}  {:14.3}  {:13.4}  {}",
                    c.clock.time_to_sync,
                    st.map_or(f64::NAN, |x| x.max_abs_offset * 1e6),
                    st.map_or(f64::NAN, |x| x.rms_offset * 1e6),
                    st.map_or(f64::NAN, |x| x.max_abs_freq * 1e6),
                    st.map_or(f64::NAN, |x| x.rms_freq * 1e6),
                    if fails.is_empty() {
                        "yes".to_string()
                    } else {
                        fails.join("; ")
                    }
                );
            }
            Err(e) => println!("{seed:4}  error: {e}"),
        }
    }
    println!();
    println!(
        "jitter series (default polling, 1 ppb/s wander, 100 000 s, mean over {} seeds)",
        seeds.len()
    );
    println!("| jitter | chrony RMS offset | krony RMS offset | krony/chrony |");
    println!("|-------:|------------------:|-----------------:|-------------:|");
    for (jitter, chrony) in CHRONY_RMS_US {
        let mut sum = 0.0;
        let mut n = 0.0;
        for &seed in &seeds {
            let s = jitter_scenario(seed, jitter);
            if let Ok((report, _)) = run_engines(&s, |ctx| EngineNode::client_config(ctx, "", "")) {
                if let Some(st) = report.clients().next().and_then(|c| c.clock.stats) {
                    sum += st.rms_offset * 1e6;
                    n += 1.0;
                }
            }
        }
        let krony = sum / n;
        println!(
            "| {:>6} | {:>14.0} us | {:>13.1} us | {:>12.2} |",
            format!("{} us", jitter * 1e6),
            chrony,
            krony,
            krony / chrony
        );
    }
}

/// The jitter scenario: chrony's default client and server with `jitter`
/// mean exponential jitter each way on a 100 µs base delay.
fn jitter_scenario(seed: u64, jitter: f64) -> Scenario {
    let mut s = Scenario::chrony_default(seed);
    s.links = LinkPair::symmetric(1e-4, jitter);
    s.duration = 100_000.0;
    s.metrics.stats_after = Some(2000.0);
    s
}
