//! The program: options, connection, then commands from the arguments,
//! the interactive prompt (line editing, history, tab completion) or
//! standard input.

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use rustyline::completion::{Completer, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Editor, Helper};

use crate::client::{Client, Settings};
use crate::commands::{Outcome, process_line};
use crate::help::{COMMANDS, subcommands};
use crate::options::{Options, Parsed, parse, usage, version_line};
use crate::transport::{DEFAULT_HOSTS, Transport, parse_hosts};

/// The interactive prompt.
pub const PROMPT: &str = "kronyc> ";
/// chronyc's limit on a command line built from arguments.
const MAX_LINE_LENGTH: usize = 2048;

/// Runs kronyc with these arguments (without the program name) and
/// returns the exit status.
pub fn run(progname: &str, args: &[String]) -> i32 {
    let opts = match parse(args) {
        Parsed::Run(o) => o,
        Parsed::Help => {
            print!("{}", usage(progname));
            return 0;
        }
        Parsed::Version => {
            print!("{}", version_line());
            return 0;
        }
        Parsed::Bad => {
            print!("{}", usage(progname));
            return 1;
        }
    };
    if let Some(user) = &opts.user {
        if let Err(msg) = drop_root(user) {
            eprintln!("{msg}");
            return 1;
        }
    }
    let on_terminal = std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal()
        && std::io::stderr().is_terminal();
    if on_terminal && opts.commands.is_empty() {
        print!("{}", banner());
    }
    let quit = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        // Without the handler a signal simply ends the program, which
        // only leaves the client socket behind.
        let _ = signal_hook::flag::register(sig, Arc::clone(&quit));
    }
    let hosts = opts.hosts.as_deref().unwrap_or(DEFAULT_HOSTS);
    let mut transport = Transport::new(parse_hosts(hosts, opts.port, opts.family), quit);
    transport.debug = opts.debug;
    if !transport.open_next() {
        eprintln!("Could not open connection to daemon");
        return 1;
    }
    let mut client = Client::new(transport, std::io::stdout(), settings(&opts));
    let ok = if opts.commands.is_empty() {
        if on_terminal {
            interactive(&mut client)
        } else {
            from_stdin(&mut client)
        }
    } else {
        from_args(&mut client, &opts.commands, opts.multi)
    };
    client.transport.close();
    i32::from(!ok)
}

fn settings(o: &Options) -> Settings {
    Settings {
        csv: o.csv,
        no_dns: o.no_dns,
        source_names: o.source_names,
        wide: if o.wide { 14 } else { 0 },
        json: o.json,
        family: o.family,
        end_dot: o.end_dot,
    }
}

/// The greeting of an interactive session.
fn banner() -> String {
    format!(
        "kronyc (krony) version {}\n\
         krony comes with ABSOLUTELY NO WARRANTY. It is licensed under the MIT\n\
         or Apache-2.0 license, at your option.\n\n",
        env!("CARGO_PKG_VERSION")
    )
}

/// `-u USER`: as root, switch to this user before talking to the daemon.
fn drop_root(user: &str) -> Result<(), String> {
    use nix::unistd::{Uid, User, setgid, setgroups, setuid};
    if user == "root" || !Uid::effective().is_root() {
        return Ok(());
    }
    let u = User::from_name(user)
        .ok()
        .flatten()
        .ok_or_else(|| format!("Could not get user/group ID of {user}"))?;
    setgroups(&[u.gid])
        .and_then(|()| setgid(u.gid))
        .and_then(|()| setuid(u.uid))
        .map_err(|e| format!("Could not drop root privileges : {e}"))
}

/// Commands from the arguments: one line of all words, or with `-m` one
/// command per argument, stopping at the first failure.
fn from_args<W: Write>(c: &mut Client<W>, words: &[String], multi: bool) -> bool {
    let lines: Vec<String> = if multi {
        words.to_vec()
    } else {
        vec![words.join(" ")]
    };
    let mut ok = false;
    for line in lines {
        if line.len() + 1 >= MAX_LINE_LENGTH {
            eprintln!("Command too long");
            return false;
        }
        match process_line(c, &line) {
            Outcome::Ok => ok = true,
            Outcome::Failed => return false,
            Outcome::Quit => return true,
        }
    }
    ok
}

/// Commands from standard input, one per line, until EOF or `quit`.
fn from_stdin<W: Write>(c: &mut Client<W>) -> bool {
    let mut ok = true;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if c.transport.quitting() {
            break;
        }
        match process_line(c, &line) {
            Outcome::Ok => ok = true,
            Outcome::Failed => ok = false,
            Outcome::Quit => return true,
        }
    }
    ok
}

/// Tab completion of command names and their first argument.
struct Completion;

impl Completer for Completion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = line.get(..pos).unwrap_or(line);
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        let word = &before[start..];
        let names: &[&str] = if start == 0 {
            COMMANDS
        } else {
            // Only the first argument of a few commands is completed.
            let words: Vec<&str> = before[..start].split_whitespace().collect();
            match words.as_slice() {
                [cmd] => subcommands(cmd),
                _ => &[],
            }
        };
        let found = names
            .iter()
            .filter(|n| n.starts_with(word))
            .map(|n| Pair {
                display: n.to_string(),
                replacement: n.to_string(),
            })
            .collect();
        Ok((start, found))
    }
}

impl Hinter for Completion {
    type Hint = String;
}
impl Highlighter for Completion {}
impl Validator for Completion {}
impl Helper for Completion {}

/// The interactive prompt with line editing and history.
fn interactive<W: Write>(c: &mut Client<W>) -> bool {
    let mut editor: Editor<Completion, rustyline::history::DefaultHistory> = match Editor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Could not start line editing: {e}");
            return from_stdin(c);
        }
    };
    editor.set_helper(Some(Completion));
    let mut ok = true;
    loop {
        match editor.readline(PROMPT) {
            Ok(line) => {
                if !line.is_empty() {
                    let _ = editor.add_history_entry(line.as_str());
                }
                match process_line(c, &line) {
                    Outcome::Ok => ok = true,
                    Outcome::Failed => ok = false,
                    Outcome::Quit => return true,
                }
            }
            // Ctrl-C abandons the line, as a signal would in chronyc.
            Err(ReadlineError::Interrupted) => return ok,
            Err(_) => {
                // End of input: finish the prompt's line.
                println!();
                return ok;
            }
        }
    }
}
