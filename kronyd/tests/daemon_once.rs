//! `kronyd -Q` and `kronyd -q` (issue 4, acceptance 4): one measurement
//! against a `chronyd -x` server, printed (and with `-q -x`, applied to the
//! virtual clock), exit status 0; against a port where nothing answers, a
//! clear message and a non-zero status after `-t`.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::net::UdpSocket;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use daemon_support::*;

/// Runs `kronyd ARGS... LINES...` to its end (they are short-lived).
fn run_kronyd(args: &[&str], lines: &[String]) -> (Output, Duration) {
    let start = Instant::now();
    let out = Command::new(kronyd_bin())
        .args(args)
        .args(lines)
        .output()
        .unwrap();
    (out, start.elapsed())
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn print_and_set_once_against_chronyd() {
    if !installed(&[CHRONYD]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let _chronyd = start_chronyd(
        d,
        &[
            "local stratum 1".into(),
            "allow 127.0.0.1".into(),
            format!("port {port}"),
        ],
    );
    let lines = [
        format!("server 127.0.0.1 port {port} iburst"),
        format!("pidfile {}", d.join("once.pid").display()),
    ];
    let (o, took) = run_kronyd(&["-Q"], &lines);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    let line = err
        .lines()
        .find(|l| l.contains("System clock wrong by"))
        .unwrap_or_else(|| panic!("no offset printed: {err}"));
    assert!(line.ends_with(" seconds (ignored)"), "{line}");
    let offset: f64 = line
        .split_whitespace()
        .rev()
        .nth(2)
        .and_then(|w| w.parse().ok())
        .unwrap();
    assert!(offset.abs() < 0.01, "{line}");
    assert!(err.contains("kronyd exiting"), "{err}");
    assert!(took < Duration::from_secs(15), "{took:?}");
    // -q with -x: the step goes to the virtual clock only.
    let (o, _) = run_kronyd(&["-q", "-x"], &lines);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains(" seconds (step)"), "{err}");
}

#[test]
fn silent_server_fails_after_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Bound but never read: no answer and no ICMP port unreachable.
    let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let lines = [
        format!("server 127.0.0.1 port {port} iburst"),
        format!("pidfile {}", d.join("once.pid").display()),
    ];
    let (o, took) = run_kronyd(&["-Q", "-t", "2"], &lines);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("Timeout reached"), "{err}");
    assert!(
        err.contains("No suitable source for synchronisation"),
        "{err}"
    );
    assert!(!err.contains("System clock wrong"), "{err}");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
}
