//! Simulation speed: runs chrony's default scenario (one server, one client,
//! 10 000 s) with the naive client and a larger one (4 servers, 20 clients),
//! and prints simulated seconds per wall-clock second. Prints figures, asserts
//! nothing about time.

use std::time::Instant;

use krony_sim::naive::NaiveClient;
use krony_sim::{ClientSpec, Scenario, ServerSpec, run};

fn measure(name: &str, scenario: &Scenario) {
    let started = Instant::now();
    let report = match run(scenario, |ctx| {
        let server = ctx.servers[ctx.index % ctx.servers.len()];
        Box::new(NaiveClient::new(server, 16.0))
    }) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{name}: {e}");
            return;
        }
    };
    let wall = started.elapsed().as_secs_f64();
    println!(
        "{name}: {:.0} simulated s in {:.3} s wall: {:.0} simulated s/s, {} events ({:.0} events/s)",
        report.simulated_secs,
        wall,
        report.simulated_secs / wall,
        report.events,
        report.events as f64 / wall,
    );
}

fn main() {
    measure(
        "chrony default (1 server, 1 client)",
        &Scenario::chrony_default(1),
    );
    let mut big = Scenario::chrony_default(2);
    big.servers = vec![ServerSpec::default(); 4];
    big.clients = vec![ClientSpec::default(); 20];
    measure("4 servers, 20 clients", &big);
    let mut long = Scenario::chrony_default(3);
    long.duration = 1_000_000.0;
    measure("1 client, 1 000 000 s", &long);
}
