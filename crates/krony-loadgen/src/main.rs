//! `krony-loadgen`: loads kronyd and chronyd (or given servers) on loopback
//! with NTP client requests and prints their figures side by side.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use krony_loadgen::daemon::{Flavour, Server};
use krony_loadgen::{LoadConfig, Measurement, measure, table};

const USAGE: &str = "\
usage: krony-loadgen [OPTIONS]

Starts kronyd -x and chronyd -x as servers on 127.0.0.1 (allow 127.0.0.0/8,
no rate limit), sends each N client requests and prints requests/s, losses
and the server's CPU time per request side by side.

  -n, --requests N      requests per server (default 100000)
  -s, --sockets S       client sockets, one thread each (default 4)
  -w, --window W        requests outstanding at most, in all (default 64)
      --timeout MS      an answer later than this is a loss (default 1000)
      --kronyd PATH     kronyd binary (default: next to this program, else kronyd)
      --chronyd PATH    chronyd binary (default /usr/sbin/chronyd)
      --no-kronyd       do not start kronyd
      --no-chronyd      do not start chronyd
      --noclientlog     start the servers with noclientlog
      --target NAME=ADDR[,PID]
                        also load a running server (CPU time only with PID)
  -h, --help            this text

Exit status: 0 if every request got a valid answer, 1 otherwise, 2 on errors.";

struct Args {
    load: LoadConfig,
    kronyd: Option<PathBuf>,
    chronyd: Option<PathBuf>,
    noclientlog: bool,
    targets: Vec<(String, SocketAddr, Option<u32>)>,
}

fn default_kronyd() -> PathBuf {
    std::env::current_exe()
        .ok()
        .map(|p| p.with_file_name("kronyd"))
        .filter(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from("kronyd"))
}

fn parse_target(v: &str) -> Result<(String, SocketAddr, Option<u32>), String> {
    let (name, rest) = v.split_once('=').ok_or("--target wants NAME=ADDR[,PID]")?;
    let (addr, pid) = match rest.split_once(',') {
        Some((a, p)) => (a, Some(p.parse().map_err(|_| format!("bad PID {p}"))?)),
        None => (rest, None),
    };
    let addr = addr.parse().map_err(|_| format!("bad address {addr}"))?;
    Ok((name.to_string(), addr, pid))
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut a = Args {
        load: LoadConfig {
            requests: 100_000,
            sockets: 4,
            window: 64,
            timeout: Duration::from_secs(1),
        },
        kronyd: Some(default_kronyd()),
        chronyd: Some(PathBuf::from("/usr/sbin/chronyd")),
        noclientlog: false,
        targets: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(opt) = it.next() {
        let mut value = || it.next().ok_or(format!("{opt} needs a value"));
        let num = |v: String| v.parse::<u64>().map_err(|_| format!("bad number {v}"));
        match opt.as_str() {
            "-n" | "--requests" => a.load.requests = num(value()?)?,
            "-s" | "--sockets" => {
                a.load.sockets = u16::try_from(num(value()?)?.clamp(1, 1024)).unwrap_or(1)
            }
            "-w" | "--window" => {
                a.load.window = u32::try_from(num(value()?)?.max(1)).unwrap_or(u32::MAX)
            }
            "--timeout" => a.load.timeout = Duration::from_millis(num(value()?)?),
            "--kronyd" => a.kronyd = Some(PathBuf::from(value()?)),
            "--chronyd" => a.chronyd = Some(PathBuf::from(value()?)),
            "--no-kronyd" => a.kronyd = None,
            "--no-chronyd" => a.chronyd = None,
            "--noclientlog" => a.noclientlog = true,
            "--target" => a.targets.push(parse_target(&value()?)?),
            "-h" | "--help" => return Ok(None),
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(Some(a))
}

/// Starts each configured daemon in turn (one at a time, so that they do
/// not compete for the CPU) and measures it, then the given targets.
fn run(args: &Args) -> Result<Vec<Measurement>, String> {
    let mut out = Vec::new();
    let daemons = [
        ("kronyd", Flavour::Krony, &args.kronyd),
        ("chronyd", Flavour::Chrony, &args.chronyd),
    ];
    for (name, flavour, bin) in daemons {
        let Some(bin) = bin else { continue };
        let server = Server::start(flavour, bin, args.noclientlog).map_err(|e| e.to_string())?;
        let m = measure(name, server.addr, Some(server.pid()), &args.load)
            .map_err(|e| format!("{name}: {e}"))?;
        out.push(m);
    }
    for (name, addr, pid) in &args.targets {
        out.push(measure(name, *addr, *pid, &args.load).map_err(|e| format!("{name}: {e}"))?);
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("krony-loadgen: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let l = &args.load;
    println!(
        "{} requests per server from {} sockets, window {}, timeout {} ms",
        l.requests,
        l.sockets,
        l.window,
        l.timeout.as_millis()
    );
    match run(&args) {
        Ok(ms) => {
            print!("{}", table(&ms));
            let all = ms
                .iter()
                .all(|m| m.load.answered == m.load.sent && m.load.invalid == 0);
            if all {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("krony-loadgen: {e}");
            ExitCode::from(2)
        }
    }
}
