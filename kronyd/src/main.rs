//! kronyd: the krony NTP daemon, a drop-in replacement for chronyd.
//!
//! `main` parses chronyd's command line and the configuration (`-p` prints it), then hands
//! over to [`daemon::run`]: start-up as chronyd's, the single-threaded `poll(2)` event loop
//! driving krony-engine, and a clean exit.
// `deny`, not `forbid`: the one exception, `sys`, is allowed below (design.md, principle 5).
#![deny(unsafe_code)]

// The command server, wired into the event loop by `daemon`.
#[allow(dead_code)]
mod cmdmon;
mod daemon;
mod keys;
// Parts of the file formats (e.g. dump loading) are not used by the daemon yet.
#[allow(dead_code)]
mod files;
#[allow(dead_code)]
mod logging;
mod nts;
mod options;
mod refclock;
mod resolver;
// Some system calls (e.g. notification by abstract socket) are kept for later use.
#[allow(unsafe_code, dead_code)]
mod sys;

use std::process::ExitCode;

use krony_config::{ConfigError, Loader, Parsed, RealFs, Warning};
use options::{Action, Options, parse_args, usage};

/// Compile-time features, in chronyd's `-v` order. A feature is listed with `+` only when
/// kronyd really provides it.
const FEATURES: &[(&str, bool)] = &[
    ("CMDMON", true),
    ("NTP", true),
    ("REFCLOCK", true),
    ("RTC", true),
    ("PRIVDROP", true),
    ("SCFILTER", true),
    ("SIGND", false),
    ("ASYNCDNS", true),
    ("NTS", true),
    ("SECHASH", true),
    ("IPV6", true),
    ("DEBUG", false),
];

/// The feature list, e.g. `-CMDMON +NTP ...`.
fn features() -> String {
    let features: Vec<String> = FEATURES
        .iter()
        .map(|(name, on)| format!("{}{name}", if *on { '+' } else { '-' }))
        .collect();
    features.join(" ")
}

/// The `-v` line, e.g. `kronyd (krony) version 0.1.0 (-CMDMON +NTP ...)`.
fn version_line() -> String {
    format!(
        "kronyd (krony) version {} ({})",
        env!("CARGO_PKG_VERSION"),
        features()
    )
}

/// Name used in messages for configuration lines given as arguments.
const COMMAND_LINE: &str = "<command line>";

/// Reads the configuration: the trailing arguments if any, else the configuration file.
fn read_config(opts: &Options) -> Result<Parsed, ConfigError> {
    let mut loader = Loader::new(&RealFs);
    if opts.config_lines.is_empty() {
        loader.load_file(&opts.config_file, None)?;
    } else {
        for (i, line) in opts.config_lines.iter().enumerate() {
            loader.load_line(line, COMMAND_LINE, i + 1)?;
        }
    }
    Ok(loader.finish())
}

fn print_warnings(warnings: &[Warning]) {
    for w in warnings {
        eprintln!("Warning : {w}");
    }
}

fn run(opts: &Options) -> ExitCode {
    let parsed = match read_config(opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("Fatal error : {e}");
            return ExitCode::FAILURE;
        }
    };
    if opts.print_config {
        print_warnings(&parsed.warnings);
        print!("{}", parsed.to_conf_string());
        return ExitCode::SUCCESS;
    }
    let warnings = parsed.warnings.clone();
    daemon::run(opts, parsed.config, &warnings, &features())
}

fn main() -> ExitCode {
    let mut args = std::env::args();
    let progname = args.next().unwrap_or_else(|| "kronyd".to_string());
    logging::set_program_name(&progname);
    let args: Vec<String> = args.collect();
    match parse_args(&args) {
        Ok(Action::Help) => {
            print!("{}", usage(&progname));
            ExitCode::SUCCESS
        }
        Ok(Action::Version) => {
            println!("{}", version_line());
            ExitCode::SUCCESS
        }
        Ok(Action::Run(opts)) => run(&opts),
        Err(e) => {
            eprintln!("{progname}: {e}");
            print!("{}", usage(&progname));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_lists_every_feature() {
        let v = version_line();
        assert!(v.starts_with("kronyd (krony) version 0.1.0 ("), "{v}");
        assert_eq!(v.matches(['+', '-']).count(), FEATURES.len());
    }
}
