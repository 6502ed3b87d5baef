//! chronyd-compatible command line.
//!
//! chronyd parses its options with GNU `getopt(3)` and the option string
//! `46df:F:hl:L:mnN:pP:qQrRst:u:Uvx`: options can be clustered (`-dd`, `-dp`), an option's
//! argument can be attached (`-fFILE`) or separate (`-f FILE`), options and other arguments
//! can be mixed (GNU permutation), and `--` ends the options. `--help` and `--version` are
//! recognised anywhere. The remaining arguments are configuration lines that replace the
//! configuration file. This is a small hand-written getopt, because clap cannot mimic
//! these rules exactly.

use std::fmt;

/// The configuration file read when no other is given.
pub const DEFAULT_CONFIG_FILE: &str = "/etc/krony/krony.conf";

/// Option letters that take an argument.
const WITH_ARGUMENT: &str = "fFlLNPtu";
/// Option letters without an argument.
const FLAGS: &str = "46dhmnpqQrRsUvx";

/// Restriction to one address family (`-4`, `-6`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressFamily {
    /// `-4`
    Ipv4,
    /// `-6`
    Ipv6,
}

/// What the daemon does with the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunMode {
    /// Run normally.
    #[default]
    Normal,
    /// `-q`: correct the clock once and exit.
    UpdateOnce,
    /// `-Q`: print the offset once and exit, without touching the clock.
    PrintOnce,
}

/// Everything the command line sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `-4`/`-6` (the last one wins).
    pub family: Option<AddressFamily>,
    /// Number of `-d` (1: foreground with logging to stderr, 2: debug messages).
    pub debug: u32,
    /// Stay in the foreground (`-n`, `-d`, `-p`, `-q`, `-Q`).
    pub nofork: bool,
    /// `-f FILE`.
    pub config_file: String,
    /// `-l FILE`.
    pub log_file: Option<String>,
    /// `-L LEVEL` (0: informational and above).
    pub log_level: i32,
    /// `-p`: print the configuration and exit.
    pub print_config: bool,
    /// `-q`/`-Q`.
    pub mode: RunMode,
    /// `-r`: reload dump files.
    pub reload_dumps: bool,
    /// `-R`: adapt the configuration for a restart.
    pub restarted: bool,
    /// `-s`: set the clock from the RTC.
    pub init_rtc: bool,
    /// `-t SECONDS`: exit after this time.
    pub timeout: Option<i32>,
    /// `-u USER`.
    pub user: Option<String>,
    /// Check that the daemon is started as root (off with `-U`, `-p`, `-Q`).
    pub user_check: bool,
    /// `-F LEVEL`: system call filter level.
    pub scfilter_level: i32,
    /// `-P PRIORITY`: SCHED_FIFO priority.
    pub sched_priority: i32,
    /// `-m`: lock memory.
    pub lock_memory: bool,
    /// Control the system clock (off with `-x`, `-Q`).
    pub clock_control: bool,
    /// `-N FD`: notify the supervisor on this descriptor.
    pub notify_fd: Option<i32>,
    /// Log to syslog (off with `-d`, `-p`, `-q`, `-Q`).
    pub system_log: bool,
    /// Trailing arguments: configuration lines replacing the file.
    pub config_lines: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            family: None,
            debug: 0,
            nofork: false,
            config_file: DEFAULT_CONFIG_FILE.to_string(),
            log_file: None,
            log_level: 0,
            print_config: false,
            mode: RunMode::Normal,
            reload_dumps: false,
            restarted: false,
            init_rtc: false,
            timeout: None,
            user: None,
            user_check: true,
            scfilter_level: 0,
            sched_priority: 0,
            lock_memory: false,
            clock_control: true,
            notify_fd: None,
            system_log: true,
            config_lines: Vec::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Run with these options.
    Run(Box<Options>),
    /// `-h`/`--help`: print usage, exit 0.
    Help,
    /// `-v`/`--version`: print the version, exit 0.
    Version,
}

/// A command-line error (usage is printed after it, exit status 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionsError {
    /// An option letter getopt does not know.
    UnknownOption(char),
    /// An option that needs an argument was last.
    MissingArgument(char),
    /// A numeric argument that is not an integer.
    InvalidNumber(String),
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionsError::UnknownOption(c) => write!(f, "invalid option -- '{c}'"),
            OptionsError::MissingArgument(c) => write!(f, "option requires an argument -- '{c}'"),
            OptionsError::InvalidNumber(s) => write!(f, "Invalid argument {s}"),
        }
    }
}

impl std::error::Error for OptionsError {}

/// The usage text printed by `-h`.
pub fn usage(progname: &str) -> String {
    format!(
        "Usage: {progname} [OPTION]... [DIRECTIVE]...\n\
         \n\
         Options:\n\
         \x20 -4\t\tUse only IPv4 addresses\n\
         \x20 -6\t\tUse only IPv6 addresses\n\
         \x20 -f FILE\tRead the configuration from FILE ({DEFAULT_CONFIG_FILE})\n\
         \x20 -n\t\tStay in the foreground\n\
         \x20 -d\t\tStay in the foreground and log to stderr (twice: debug messages)\n\
         \x20 -l FILE\tLog to FILE\n\
         \x20 -L LEVEL\tMinimum severity of logged messages (0)\n\
         \x20 -p\t\tPrint the configuration and exit\n\
         \x20 -q\t\tCorrect the clock once and exit\n\
         \x20 -Q\t\tPrint the offset once and exit without correcting the clock\n\
         \x20 -r\t\tLoad measurement history from the dump directory\n\
         \x20 -R\t\tAdapt the configuration for a restart\n\
         \x20 -s\t\tSet the clock from the RTC\n\
         \x20 -t SECONDS\tExit after SECONDS\n\
         \x20 -u USER\tRun as USER after start (root)\n\
         \x20 -U\t\tDo not require to be started as root\n\
         \x20 -F LEVEL\tSystem call filter level (0)\n\
         \x20 -P PRIORITY\tScheduling priority (0)\n\
         \x20 -m\t\tLock memory\n\
         \x20 -x\t\tDo not control the system clock\n\
         \x20 -N FD\t\tNotify the supervisor on descriptor FD\n\
         \x20 -v, --version\tPrint the version and exit\n\
         \x20 -h, --help\tPrint this help and exit\n\
         \n\
         Directives given as arguments replace the configuration file.\n"
    )
}

fn int_arg(value: &str) -> Result<i32, OptionsError> {
    value
        .parse()
        .map_err(|_| OptionsError::InvalidNumber(value.to_string()))
}

/// Parses the arguments after the program name.
///
/// # Errors
/// An unknown option, a missing option argument, or a non-numeric numeric argument.
pub fn parse_args(args: &[String]) -> Result<Action, OptionsError> {
    // chronyd looks for the long options before anything else, in every argument.
    for a in args {
        match a.as_str() {
            "--help" => return Ok(Action::Help),
            "--version" => return Ok(Action::Version),
            _ => {}
        }
    }
    let mut o = Options::default();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        i += 1;
        if arg == "--" {
            o.config_lines.extend(args.iter().skip(i).cloned());
            break;
        }
        let Some(cluster) = arg.strip_prefix('-').filter(|c| !c.is_empty()) else {
            // GNU getopt permutes: non-options are collected and options after them still count.
            o.config_lines.push(arg.clone());
            continue;
        };
        for (pos, c) in cluster.char_indices() {
            if WITH_ARGUMENT.contains(c) {
                let rest = &cluster[pos + c.len_utf8()..];
                let value = if rest.is_empty() {
                    i += 1;
                    args.get(i - 1)
                        .cloned()
                        .ok_or(OptionsError::MissingArgument(c))?
                } else {
                    rest.to_string()
                };
                apply_with_argument(&mut o, c, &value)?;
                break;
            }
            if !FLAGS.contains(c) {
                return Err(OptionsError::UnknownOption(c));
            }
            match c {
                'h' => return Ok(Action::Help),
                'v' => return Ok(Action::Version),
                _ => apply_flag(&mut o, c),
            }
        }
    }
    Ok(Action::Run(Box::new(o)))
}

fn apply_with_argument(o: &mut Options, c: char, value: &str) -> Result<(), OptionsError> {
    match c {
        'f' => o.config_file = value.to_string(),
        'F' => o.scfilter_level = int_arg(value)?,
        'l' => o.log_file = Some(value.to_string()),
        'L' => o.log_level = int_arg(value)?,
        'N' => o.notify_fd = Some(int_arg(value)?),
        'P' => o.sched_priority = int_arg(value)?,
        't' => o.timeout = Some(int_arg(value)?),
        'u' => o.user = Some(value.to_string()),
        _ => return Err(OptionsError::UnknownOption(c)),
    }
    Ok(())
}

/// Sets what chronyd sets for each flag (`main.c`); `-h`/`-v` are handled by the caller.
fn apply_flag(o: &mut Options, c: char) {
    match c {
        '4' => o.family = Some(AddressFamily::Ipv4),
        '6' => o.family = Some(AddressFamily::Ipv6),
        'd' => {
            o.debug += 1;
            o.nofork = true;
            o.system_log = false;
        }
        'm' => o.lock_memory = true,
        'n' => o.nofork = true,
        'p' => {
            o.print_config = true;
            o.user_check = false;
            o.nofork = true;
            o.system_log = false;
        }
        'q' => {
            o.mode = RunMode::UpdateOnce;
            o.nofork = true;
            o.system_log = false;
        }
        'Q' => {
            o.mode = RunMode::PrintOnce;
            o.nofork = true;
            o.user_check = false;
            o.clock_control = false;
            o.system_log = false;
        }
        'r' => o.reload_dumps = true,
        'R' => o.restarted = true,
        's' => o.init_rtc = true,
        'U' => o.user_check = false,
        'x' => o.clock_control = false,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        match parse_args(&args) {
            Ok(Action::Run(o)) => *o,
            other => panic!("{other:?}"),
        }
    }

    fn parse(args: &[&str]) -> Result<Action, OptionsError> {
        parse_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults() {
        let o = run(&[]);
        assert_eq!(o, Options::default());
        assert_eq!(o.config_file, "/etc/krony/krony.conf");
    }

    #[test]
    fn clusters_and_attached_arguments() {
        let o = run(&["-dd", "-fmy.conf", "-L", "-1", "-x4"]);
        assert_eq!(o.debug, 2);
        assert_eq!(o.config_file, "my.conf");
        assert_eq!(o.log_level, -1);
        assert!(!o.clock_control);
        assert_eq!(o.family, Some(AddressFamily::Ipv4));
        // An option argument may itself start with '-'.
        assert_eq!(run(&["-f", "-p"]).config_file, "-p");
        assert!(!run(&["-f", "-p"]).print_config);
        // Letters after an argument-taking letter are its argument.
        let o = run(&["-pf", "x.conf"]);
        assert!(o.print_config && o.config_file == "x.conf");
    }

    #[test]
    fn permutation_and_double_dash() {
        let o = run(&["server a iburst", "-p", "makestep 1 3"]);
        assert!(o.print_config);
        assert_eq!(o.config_lines, ["server a iburst", "makestep 1 3"]);
        let o = run(&["-p", "--", "-x", "-"]);
        assert!(o.clock_control);
        assert_eq!(o.config_lines, ["-x", "-"]);
    }

    #[test]
    fn every_option() {
        let o = run(&[
            "-6", "-n", "-l", "/l", "-q", "-r", "-R", "-s", "-t", "10", "-u", "chrony", "-U", "-F",
            "1", "-P", "5", "-m", "-N", "3",
        ]);
        assert_eq!(o.family, Some(AddressFamily::Ipv6));
        assert!(o.nofork && o.reload_dumps && o.restarted && o.init_rtc && o.lock_memory);
        assert_eq!(o.log_file.as_deref(), Some("/l"));
        assert_eq!(o.mode, RunMode::UpdateOnce);
        assert_eq!((o.timeout, o.notify_fd), (Some(10), Some(3)));
        assert_eq!(o.user.as_deref(), Some("chrony"));
        assert!(!o.user_check);
        assert_eq!((o.scfilter_level, o.sched_priority), (1, 5));
        let o = run(&["-Q"]);
        assert!(o.mode == RunMode::PrintOnce && !o.clock_control && !o.user_check);
    }

    #[test]
    fn help_version_and_errors() {
        assert_eq!(parse(&["-h"]), Ok(Action::Help));
        assert_eq!(parse(&["-v", "-z"]), Ok(Action::Version));
        assert_eq!(parse(&["-z", "--version"]), Ok(Action::Version));
        assert_eq!(parse(&["-p", "--help"]), Ok(Action::Help));
        assert_eq!(parse(&["-z"]), Err(OptionsError::UnknownOption('z')));
        assert_eq!(parse(&["-f"]), Err(OptionsError::MissingArgument('f')));
        assert_eq!(
            parse(&["-t", "1x"]),
            Err(OptionsError::InvalidNumber("1x".into()))
        );
        assert_eq!(
            OptionsError::UnknownOption('z').to_string(),
            "invalid option -- 'z'"
        );
    }
}
