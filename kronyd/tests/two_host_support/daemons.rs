//! Daemons (kronyd or Debian's chronyd, always with `-x`) running inside a
//! lab host, and their matching command clients (kronyc or chronyc).
#![allow(dead_code, clippy::unwrap_used)]

use std::fs::File;
use std::path::PathBuf;
use std::process::{Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::daemon_support::Proc;
pub use crate::daemon_support::{CHRONYC, CHRONYD, field, kronyc_bin, wait_until};

use super::netns::Host;

/// Which implementation runs a daemon (and which client talks to it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Krony,
    Chrony,
}

impl Kind {
    /// The daemon binary.
    pub fn daemon(self) -> PathBuf {
        match self {
            Kind::Krony => PathBuf::from(env!("CARGO_BIN_EXE_kronyd")),
            Kind::Chrony => PathBuf::from(CHRONYD),
        }
    }

    /// The matching command client.
    pub fn client(self) -> PathBuf {
        match self {
            Kind::Krony => kronyc_bin().clone(),
            Kind::Chrony => PathBuf::from(CHRONYC),
        }
    }

    /// "kronyd" or "chronyd".
    pub fn name(self) -> &'static str {
        match self {
            Kind::Krony => "kronyd",
            Kind::Chrony => "chronyd",
        }
    }

    /// Options every daemon of this kind gets: no clock control, stay in the
    /// foreground logging to stderr; chronyd also keeps root (so it can remove
    /// its pidfile and socket in the 0700 host directory).
    pub fn base_options(self) -> &'static [&'static str] {
        match self {
            Kind::Krony => &["-x", "-d"],
            Kind::Chrony => &["-x", "-d", "-u", "root"],
        }
    }

    /// Runs `DAEMON -Q -x [-t TIMEOUT] DIRECTIVES...` (one measurement,
    /// printed, never applied) in `host`, with a pidfile of its own so that
    /// parallel runs never meet at the default one.
    pub fn query_once(self, host: &Host, timeout: Option<u32>, directives: &[&str]) -> Output {
        let mut cmd = host.command(self.daemon());
        cmd.arg("-Q").arg("-x");
        if self == Kind::Chrony {
            cmd.args(["-u", "root"]);
        }
        if let Some(t) = timeout {
            cmd.args(["-t", &t.to_string()]);
        }
        let pidfile = format!(
            "pidfile {}",
            host.path(&format!("q{}.pid", seq())).display()
        );
        cmd.args(directives).arg(pidfile).output().unwrap()
    }
}

/// A process-wide counter for unique file names.
fn seq() -> u64 {
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// A daemon running in a lab host, killed when dropped.
pub struct Daemon {
    pub kind: Kind,
    /// Its Unix command socket.
    pub sock: PathBuf,
    /// The process; its log is the daemon's stderr (the message log with
    /// `-d`).
    process: Proc,
}

impl Daemon {
    /// Starts `kind` in `host` as `role` (a file name prefix) with the
    /// configuration `lines`, plus its own pidfile and Unix command socket
    /// in the host's directory.
    pub fn start(kind: Kind, host: &Host, role: &str, lines: &[String]) -> Daemon {
        let sock = host.path(&format!("{role}.sock"));
        let mut all = lines.to_vec();
        all.push(format!(
            "pidfile {}",
            host.path(&format!("{role}.pid")).display()
        ));
        all.push(format!("bindcmdaddress {}", sock.display()));
        let conf = host.path(&format!("{role}.conf"));
        std::fs::write(&conf, all.join("\n") + "\n").unwrap();
        let log = host.path(&format!("{role}.log"));
        let err = File::create(&log).unwrap();
        let child = host
            .command(kind.daemon())
            .args(kind.base_options())
            .arg("-f")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .unwrap();
        Daemon {
            kind,
            sock,
            process: Proc { child, log },
        }
    }

    /// Sends SIGTERM and waits up to `timeout` for the exit status (None if
    /// it did not end, or ended by a signal).
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        self.process.terminate(timeout)
    }

    /// `Some(status)` once it has exited (`Some(None)`: by a signal),
    /// `None` while it runs.
    pub fn try_exit(&mut self) -> Option<Option<i32>> {
        self.process
            .child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code())
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// The matching client over the Unix socket, numeric (`-n`: no reverse
    /// lookups, which would wait for DNS timeouts while a link is down).
    pub fn cmd(&self, host: &Host, args: &[&str]) -> String {
        let sock = self.sock.display().to_string();
        let mut all = vec!["-n", "-h", &sock];
        all.extend_from_slice(args);
        text(&host.run(self.kind.client(), &all))
    }
}

/// stdout followed by stderr.
pub fn text(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
}

/// A source's line of a `sources` report, as (state, name, reach register).
pub fn source_line<'a>(sources: &'a str, name: &str) -> Option<(&'a str, &'a str, u8)> {
    sources.lines().find_map(|l| {
        let words: Vec<&str> = l.split_whitespace().collect();
        // "^* NAME STRATUM POLL REACH LASTRX ..."; reach is octal.
        match words.as_slice() {
            [state, n, _stratum, _poll, reach, ..] if *n == name => {
                Some((*state, *n, u8::from_str_radix(reach, 8).ok()?))
            }
            _ => None,
        }
    })
}
