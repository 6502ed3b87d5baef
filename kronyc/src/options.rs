//! The command line, parsed as chronyc's getopt string
//! `+46acdef:h:mnNp:u:vw` (options stop at the first command word), plus
//! `--help`, `--version` and kronyc's `--json`.

use crate::names::Family;
use crate::transport::{DEFAULT_HOSTS, DEFAULT_PORT};

/// Parsed options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// `-4`/`-6`.
    pub family: Family,
    /// `-c`.
    pub csv: bool,
    /// `-d`.
    pub debug: bool,
    /// `-e`.
    pub end_dot: bool,
    /// `-h`; `None` for the default list.
    pub hosts: Option<String>,
    /// `-m`.
    pub multi: bool,
    /// `-n`.
    pub no_dns: bool,
    /// `-N`.
    pub source_names: bool,
    /// `-p`.
    pub port: u16,
    /// `-u`.
    pub user: Option<String>,
    /// `-w`.
    pub wide: bool,
    /// `--json`.
    pub json: bool,
    /// The command words.
    pub commands: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            family: Family::Any,
            csv: false,
            debug: false,
            end_dot: false,
            hosts: None,
            multi: false,
            no_dns: false,
            source_names: false,
            port: DEFAULT_PORT,
            user: None,
            wide: false,
            json: false,
            commands: Vec::new(),
        }
    }
}

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    /// Run with these options.
    Run(Options),
    /// Print the usage and exit with 0.
    Help,
    /// Print the version and exit with 0.
    Version,
    /// Print the usage and exit with 1.
    Bad,
}

/// The usage text (`--help`).
pub fn usage(progname: &str) -> String {
    format!(
        "Usage: {progname} [OPTION]... [COMMAND]...\n\n\
         Options:\n  \
         -4\t\tUse IPv4 addresses only\n  \
         -6\t\tUse IPv6 addresses only\n  \
         -n\t\tDon't resolve hostnames\n  \
         -N\t\tPrint original source names\n  \
         -c\t\tEnable CSV format\n  \
         -e\t\tEnd responses with dot\n  \
         -d\t\tEnable debug messages\n  \
         -m\t\tAccept multiple commands\n  \
         -h HOST\tSpecify server ({DEFAULT_HOSTS})\n  \
         -p PORT\tSpecify UDP port ({DEFAULT_PORT})\n  \
         -u USER\tSpecify user (root)\n  \
         -w\t\tWide output\n  \
         -v, --version\tPrint version and exit\n      \
         --json\tPrint reports as JSON\n      \
         --help\tPrint usage and exit\n"
    )
}

/// The version line (`-v`), in chronyc's form for tools that parse it.
pub fn version_line() -> String {
    format!(
        "kronyc (krony) version {} (+READLINE +SECHASH +IPV6 -DEBUG +JSON)\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Parsed {
    // Like chronyc, --help and --version count anywhere.
    for a in args {
        match a.as_str() {
            "--help" => return Parsed::Help,
            "--version" => return Parsed::Version,
            _ => {}
        }
    }
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            i += 1;
            break;
        }
        if a == "--json" {
            o.json = true;
            i += 1;
            continue;
        }
        if !a.starts_with('-') || a == "-" {
            break;
        }
        let letters: Vec<char> = a[1..].chars().collect();
        let mut j = 0;
        while j < letters.len() {
            let ch = letters[j];
            j += 1;
            if matches!(ch, 'f' | 'h' | 'p' | 'u') {
                // The value is the rest of this word or the next word.
                let value = if j < letters.len() {
                    let v: String = letters[j..].iter().collect();
                    j = letters.len();
                    v
                } else {
                    i += 1;
                    match args.get(i) {
                        Some(v) => v.clone(),
                        None => return Parsed::Bad,
                    }
                };
                match ch {
                    'h' => o.hosts = Some(value),
                    // atoi, as chronyc.
                    'p' => o.port = u16::try_from(crate::commands::atoi(&value)).unwrap_or(0),
                    'u' => o.user = Some(value),
                    _ => {} // -f: ignored, for compatibility
                }
                continue;
            }
            match ch {
                '4' => o.family = Family::V4,
                '6' => o.family = Family::V6,
                'a' => {} // ignored, for compatibility
                'c' => o.csv = true,
                'd' => o.debug = true,
                'e' => o.end_dot = true,
                'm' => o.multi = true,
                'n' => o.no_dns = true,
                'N' => o.source_names = true,
                'v' => return Parsed::Version,
                'w' => o.wide = true,
                _ => return Parsed::Bad,
            }
        }
        i += 1;
    }
    o.commands = args[i..].to_vec();
    Parsed::Run(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Parsed {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn options_and_commands() {
        let Parsed::Run(o) = p(&["-n", "-h", "/run/x.sock", "-p4000", "-c", "sources", "-v"])
        else {
            panic!("not run");
        };
        assert!(o.no_dns && o.csv);
        assert_eq!(o.hosts.as_deref(), Some("/run/x.sock"));
        assert_eq!(o.port, 4000);
        assert_eq!(o.commands, vec!["sources", "-v"]);
    }

    #[test]
    fn combined_and_special() {
        let Parsed::Run(o) = p(&["-nc6w", "--json", "-e", "-a", "-f", "x", "tracking"]) else {
            panic!("not run");
        };
        assert!(o.no_dns && o.csv && o.wide && o.json && o.end_dot);
        assert_eq!(o.family, Family::V6);
        assert_eq!(o.commands, vec!["tracking"]);
        assert_eq!(p(&["tracking", "--help"]), Parsed::Help);
        assert_eq!(p(&["-v"]), Parsed::Version);
        assert_eq!(p(&["-x"]), Parsed::Bad);
        assert_eq!(p(&["-h"]), Parsed::Bad);
    }
}
