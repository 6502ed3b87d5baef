//! kronyd as a process, as chronyd behaves: it daemonises (the starting
//! process exits 0 once the daemon is up, or 1 with the daemon's fatal
//! error), holds its pidfile against a second instance, reads the driftfile
//! at start ("Frequency ... read from ...", a corrupt one is reported and
//! ignored), and on SIGTERM writes it back and logs "kronyd exiting".
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use daemon_support::*;

/// A daemonised kronyd, found through its pidfile and killed when dropped.
struct Daemonised {
    pidfile: PathBuf,
}

impl Daemonised {
    fn pid(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.pidfile).ok()?;
        let pid = text.trim().to_string();
        (!pid.is_empty()).then_some(pid)
    }

    fn signal(&self, sig: &str) {
        if let Some(pid) = self.pid() {
            let _ = Command::new("kill").args([sig, &pid]).status();
        }
    }
}

impl Drop for Daemonised {
    fn drop(&mut self) {
        self.signal("-KILL");
    }
}

fn conf(d: &Path) -> PathBuf {
    let mut lines = kronyd_base(d);
    lines.extend([
        "local stratum 10".into(),
        "port 0".into(),
        format!("driftfile {}", d.join("drift").display()),
    ]);
    write_conf(d, "kronyd.conf", &lines)
}

/// `kronyd -x -f CONF -l LOG`: returns the starting process's status and stderr.
fn launch(d: &Path, conf: &Path) -> (Option<i32>, String) {
    let out = Command::new(kronyd_bin())
        .args(["-x", "-f"])
        .arg(conf)
        .arg("-l")
        .arg(d.join("messages.log"))
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn daemonises_refuses_a_second_instance_and_exits_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("drift"),
        "           12.345000             0.678000\n",
    )
    .unwrap();
    let conf = conf(d);
    let daemon = Daemonised {
        pidfile: d.join("kronyd.pid"),
    };
    let (status, err) = launch(d, &conf);
    assert_eq!(status, Some(0), "{err}");
    let log = || std::fs::read_to_string(d.join("messages.log")).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(5), || daemon.pid().is_some()),
        "{}",
        log()
    );
    assert!(
        log().contains("Frequency 12.345 +/- 0.678 ppm read from"),
        "{}",
        log()
    );
    // A second instance: its starting process reports the daemon's fatal error.
    let (status, err) = launch(d, &conf);
    assert_eq!(status, Some(1), "{err}");
    assert!(
        err.contains("Another kronyd may already be running"),
        "{err}"
    );
    daemon.signal("-TERM");
    assert!(
        wait_until(Duration::from_secs(5), || log().contains("kronyd exiting")),
        "{}",
        log()
    );
    assert!(wait_until(Duration::from_secs(5), || !daemon
        .pidfile
        .exists()));
    let drift = std::fs::read_to_string(d.join("drift")).unwrap();
    let values: Vec<f64> = drift
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(values.len(), 2, "{drift}");
    assert!((values[0] - 12.345).abs() < 1e-6, "{drift}");
}

#[test]
fn corrupt_driftfile_is_reported_and_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("drift"), "garbage\n").unwrap();
    let conf = conf(d);
    let mut k = start_kronyd(d, &conf, &[], &[]);
    assert!(
        k.wait_log(
            "Could not read valid frequency and skew from driftfile",
            Duration::from_secs(5)
        ),
        "{}",
        k.log_text()
    );
    assert_eq!(k.terminate(Duration::from_secs(5)), Some(0));
    // Rewritten at exit with valid values.
    let drift = std::fs::read_to_string(d.join("drift")).unwrap();
    assert_eq!(
        drift
            .split_whitespace()
            .filter(|w| w.parse::<f64>().is_ok())
            .count(),
        2,
        "{drift}"
    );
}
