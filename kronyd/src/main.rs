//! kronyd: the krony NTP daemon.
//!
//! For now only the front end exists: the chronyd-compatible command line and `-p`, which
//! prints the parsed configuration. Running the daemon is a later step and is refused
//! with an error rather than pretended.
// `deny`, not `forbid`: the one exception, `sys`, is allowed below (design.md, principle 5).
#![deny(unsafe_code)]

// The command server; the event loop that uses it is written later.
#[allow(dead_code)]
mod cmdmon;
// The event loop that uses them is written later.
#[allow(dead_code)]
mod files;
#[allow(dead_code)]
mod logging;
mod options;
// The event loop that uses it is written later.
#[allow(unsafe_code, dead_code)]
mod sys;

use std::process::ExitCode;

use krony_config::{ConfigError, Loader, Parsed, RealFs, Warning};
use options::{Action, Options, parse_args, usage};

/// Compile-time features, in chronyd's `-v` order. A feature is listed with `+` only when
/// kronyd really provides it; nothing runs yet, so every one is `-` for now.
const FEATURES: &[(&str, bool)] = &[
    ("CMDMON", false),
    ("NTP", false),
    ("REFCLOCK", false),
    ("RTC", false),
    ("PRIVDROP", false),
    ("SCFILTER", false),
    ("SIGND", false),
    ("ASYNCDNS", false),
    ("NTS", false),
    ("SECHASH", false),
    ("IPV6", false),
    ("DEBUG", false),
];

/// The `-v` line, e.g. `kronyd (krony) version 0.1.0 (-CMDMON -NTP ...)`.
fn version_line() -> String {
    let features: Vec<String> = FEATURES
        .iter()
        .map(|(name, on)| format!("{}{name}", if *on { '+' } else { '-' }))
        .collect();
    format!(
        "kronyd (krony) version {} ({})",
        env!("CARGO_PKG_VERSION"),
        features.join(" ")
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
    print_warnings(&parsed.warnings);
    if opts.print_config {
        print!("{}", parsed.to_conf_string());
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "Fatal error : running the daemon is not implemented yet \
         (kronyd -p checks and prints a configuration)"
    );
    ExitCode::FAILURE
}

fn main() -> ExitCode {
    let mut args = std::env::args();
    let progname = args.next().unwrap_or_else(|| "kronyd".to_string());
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
