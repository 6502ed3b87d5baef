//! `-P PRIORITY` and `-m` as chronyd 4.3 does them: the daemon runs under
//! SCHED_FIFO at the priority, a priority outside 1..99 is fatal, and a
//! refused memory lock is logged with chronyd's text (compared with a
//! chronyd run on the same machine, since containers may refuse it).
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::process::Command;
use std::time::Duration;

use daemon_support::*;

/// The error lines ("setrlimit() failed", ...) a daemon logged at start.
fn start_errors(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| l.split_once("Z ").map(|(_, m)| m.to_string()))
        .filter(|m| m.ends_with("() failed"))
        .collect()
}

#[test]
fn p_and_m_as_chronyd() {
    if !installed(&[CHRONYD]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut conf = kronyd_base(d);
    conf.push("port 0".into());
    let path = write_conf(d, "kronyd.conf", &conf);
    let mut k = start_kronyd(d, &path, &["-P", "20", "-m"], &[]);
    assert!(wait_until(Duration::from_secs(5), || d
        .join("kronyd.sock")
        .exists()));
    let pid = k.child.id().to_string();
    let chrt = Command::new("chrt").args(["-p", &pid]).output().unwrap();
    let chrt = String::from_utf8_lossy(&chrt.stdout).into_owned();
    let klog = k.log_text();
    if klog.contains("pthread_setschedparam() failed") {
        eprintln!("SKIP: SCHED_FIFO refused here");
    } else {
        assert!(chrt.contains("SCHED_FIFO"), "{chrt}");
        assert!(chrt.contains("priority: 20"), "{chrt}");
    }
    k.terminate(Duration::from_secs(5));

    // chronyd on this machine logs the same failures, if any.
    let cdir = tempfile::tempdir().unwrap();
    let cd = cdir.path();
    let cconf = write_conf(
        cd,
        "chronyd.conf",
        &[
            format!("pidfile {}", cd.join("chronyd.pid").display()),
            "cmdport 0".into(),
            "port 0".into(),
        ],
    );
    let out = Command::new(CHRONYD)
        .args(["-x", "-d", "-P", "20", "-m", "-t", "1", "-f"])
        .arg(&cconf)
        .output()
        .unwrap();
    let clog = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(start_errors(&klog), start_errors(&clog), "{klog}\n{clog}");
}

#[test]
fn a_bad_priority_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut conf = kronyd_base(d);
    conf.push("port 0".into());
    let path = write_conf(d, "kronyd.conf", &conf);
    let mut k = start_kronyd(d, &path, &["-P", "100"], &[]);
    let status = k.child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        k.log_text()
            .contains("Fatal error : Bad scheduler priority: 100"),
        "{}",
        k.log_text()
    );
}
