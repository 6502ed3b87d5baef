//! `-s`, `rtcfile` and `tempcomp` end to end, next to Debian's chronyd 4.3
//! started with the same configuration: every daemon with `-x`, so `-s`
//! may not step the clock (chronyd's null driver refuses, and says so).
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::Path;
use std::time::{Duration, SystemTime};

use daemon_support::*;

/// Sets `path`'s modification time `secs` from now (negative: past).
fn set_mtime(path: &Path, secs: i64) {
    let now = SystemTime::now();
    let t = if secs >= 0 {
        now + Duration::from_secs(secs.unsigned_abs())
    } else {
        now - Duration::from_secs(secs.unsigned_abs())
    };
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// Runs kronyd with `lines` and `extra` options until it exits (`-t 1`
/// style options end it); returns its log.
fn run_kronyd(dir: &Path, lines: &[String], extra: &[&str]) -> (Option<i32>, String) {
    let mut conf = kronyd_base(dir);
    conf.extend_from_slice(lines);
    let path = write_conf(dir, "kronyd.conf", &conf);
    let mut p = start_kronyd(dir, &path, extra, &[]);
    let done = wait_until(Duration::from_secs(10), || {
        p.child.try_wait().ok().flatten().is_some()
    });
    assert!(done, "kronyd did not exit: {}", p.log_text());
    let code = p.child.wait().unwrap().code();
    (code, p.log_text())
}

/// Runs Debian's `chronyd -x -d` with `lines` (its own pidfile, no
/// command socket) and `extra` options until it exits; returns its log.
fn run_chronyd(dir: &Path, lines: &[String], extra: &[&str]) -> String {
    let mut all = vec![
        format!("pidfile {}", dir.join("chronyd.pid").display()),
        "cmdport 0".to_string(),
        format!("bindcmdaddress {}", dir.join("chronyd.sock").display()),
    ];
    all.extend_from_slice(lines);
    let conf = write_conf(dir, "chronyd.conf", &all);
    let out = std::process::Command::new(CHRONYD)
        .args(["-x", "-d", "-U", "-u", "root", "-f"])
        .arg(&conf)
        .args(extra)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The messages of a log without their time stamps.
fn messages(log: &str) -> Vec<String> {
    log.lines()
        .map(|l| l.split_once("Z ").map_or(l, |(_, m)| m).to_string())
        .collect()
}

#[test]
fn s_with_a_driftfile_from_the_future_is_refused_under_x_as_by_chronyd() {
    if !installed(&[CHRONYD]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let drift = d.join("drift");
    std::fs::write(&drift, "           12.500000             0.100000\n").unwrap();
    set_mtime(&drift, 86_400);
    let lines = vec![
        format!("driftfile {}", drift.display()),
        // No RTC: the driftfile's time is the fallback.
        format!("rtcdevice {}", d.join("rtc0").display()),
        "port 0".to_string(),
    ];
    let (_, klog) = run_kronyd(d, &lines, &["-s", "-t", "1"]);
    let k = messages(&klog);
    assert!(
        k.contains(&"Could not step system clock".to_string()),
        "{klog}"
    );
    assert!(
        !klog.contains("System time restored from driftfile"),
        "{klog}"
    );
    // The order of chronyd's start-up messages.
    let pos = |m: &str| k.iter().position(|l| l.starts_with(m));
    assert!(pos("Disabled control") < pos("Could not step"), "{klog}");
    assert!(pos("Could not step") < pos("Frequency 12.500"), "{klog}");

    // chronyd 4.3 -x -s, same files.
    set_mtime(&drift, 86_400);
    let clog = run_chronyd(d, &lines, &["-s", "-t", "1"]);
    assert!(clog.contains("Could not step system clock"), "{clog}");
    assert!(!clog.contains("System time restored"), "{clog}");
}

#[test]
fn s_with_an_old_driftfile_does_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let drift = d.join("drift");
    std::fs::write(&drift, "0.0 0.0\n").unwrap();
    set_mtime(&drift, -3600);
    let lines = vec![
        format!("driftfile {}", drift.display()),
        format!("rtcdevice {}", d.join("rtc0").display()),
        "port 0".to_string(),
    ];
    let (_, log) = run_kronyd(d, &lines, &["-s", "-t", "1"]);
    assert!(!log.contains("step"), "{log}");
    assert!(!log.contains("System time"), "{log}");
    assert!(log.contains("Frequency 0.000"), "{log}");
}

#[test]
fn rtcfile_without_a_device_logs_as_chronyd_and_answers_513() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dev = d.join("rtc0");
    let lines = vec![
        format!("rtcfile {}", d.join("rtc").display()),
        format!("rtcdevice {}", dev.display()),
        "rtconutc".to_string(),
        "port 0".to_string(),
    ];
    let mut conf = kronyd_base(d);
    conf.extend_from_slice(&lines);
    let path = write_conf(d, "kronyd.conf", &conf);
    let k = start_kronyd(d, &path, &[], &[]);
    let sock = d.join("kronyd.sock");
    assert!(wait_until(Duration::from_secs(5), || sock.exists()));
    let open_error = format!(
        "Could not open RTC device {} : No such file or directory",
        dev.display()
    );
    let klog = k.log_text();
    assert!(klog.contains(&open_error), "{klog}");
    assert!(
        klog.contains("RTC driver could not be initialised"),
        "{klog}"
    );
    assert!(!klog.contains("not acted on"), "{klog}");
    for cmd in ["rtcdata", "trimrtc", "writertc"] {
        let out = chronyc(&sock, &[cmd]);
        assert_eq!(out.trim(), "513 RTC driver not running", "{cmd}");
    }
    assert!(!d.join("rtc").exists());

    let cdir = tempfile::tempdir().unwrap();
    let c = start_chronyd(cdir.path(), &lines);
    assert!(c.wait_log(
        "RTC driver could not be initialised",
        Duration::from_secs(5)
    ));
    assert!(c.log_text().contains(&open_error));
    drop(k);

    // The default device, where the machine has none (containers).
    if !Path::new("/dev/rtc").exists() {
        let (_, log) = run_kronyd(
            d,
            &[
                format!("rtcfile {}", d.join("rtc").display()),
                "port 0".to_string(),
            ],
            &["-t", "1"],
        );
        assert!(
            log.contains("Could not open RTC device /dev/rtc : No such file or directory"),
            "{log}"
        );
    }
}

#[test]
fn rtcfile_with_rtcsync_is_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let lines = vec![
        format!("rtcfile {}", d.join("rtc").display()),
        "rtcsync".to_string(),
        "port 0".to_string(),
    ];
    let (code, log) = run_kronyd(d, &lines, &[]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains("rtcfile directive cannot be used with rtcsync"),
        "{log}"
    );
}

#[test]
fn tempcomp_log_and_the_frequency_served_match_chronyd() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sensor = d.join("temp");
    std::fs::write(&sensor, "45000\n").unwrap();
    // 9 ppm at 45000 (a millidegree sensor), 0 at 0.
    let tempcomp = format!("tempcomp {} 1 0 0.0 0.0002 0.0", sensor.display());
    let (kport, cport) = (free_port(), free_port());
    let logdir = d.join("log");
    let mut conf = kronyd_base(d);
    conf.extend([
        tempcomp.clone(),
        "log tempcomp".into(),
        format!("logdir {}", logdir.display()),
        "local stratum 1".into(),
        "allow 127.0.0.1".into(),
        format!("port {kport}"),
    ]);
    let path = write_conf(d, "kronyd.conf", &conf);
    let mut k = start_kronyd(d, &path, &[], &[]);
    let sdir = tempfile::tempdir().unwrap();
    let _server = start_chronyd_server(sdir.path(), cport, &[tempcomp]);
    // A chronyd client for each server measures it without following it.
    let clients: Vec<_> = [kport, cport]
        .iter()
        .map(|port| {
            let dir = tempfile::tempdir().unwrap();
            let p = start_chronyd(
                dir.path(),
                &[
                    format!("server 127.0.0.1 port {port} minpoll -3 maxpoll -3 noselect"),
                    "port 0".into(),
                ],
            );
            (dir, p)
        })
        .collect();
    std::thread::sleep(Duration::from_secs(8));
    let freq = |i: usize| {
        let stats = chronyc(&clients[i].0.path().join("chronyd.sock"), &["sourcestats"]);
        let f = stats
            .lines()
            .find(|l| l.starts_with("127.0.0.1 "))
            .and_then(|l| l.split_whitespace().nth(4))
            .and_then(|f| f.parse::<f64>().ok());
        f.unwrap_or_else(|| panic!("{stats}"))
    };
    let (kf, cf) = (freq(0), freq(1));
    // Both serve a time scale 9 ppm fast of the system clock, which the
    // clients see as the same frequency.
    assert!((cf.abs() - 9.0).abs() < 1.0, "chronyd {cf}");
    assert!((kf - cf).abs() < 1.0, "kronyd {kf} chronyd {cf}");
    drop(clients);
    k.terminate(Duration::from_secs(5));
    let log = std::fs::read_to_string(logdir.join("tempcomp.log")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert!(lines.len() >= 3 + 5, "{log}");
    assert_eq!(lines[1], "   Date (UTC) Time        Temp.       Comp.");
    for l in &lines[3..] {
        assert!(
            l.len() == 43 && l.ends_with("  4.5000e+04  9.0000e+00"),
            "{l:?}"
        );
    }
}

#[test]
fn tempcomp_point_file_and_an_unreadable_sensor() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sensor = d.join("temp");
    std::fs::write(&sensor, "25.0\n").unwrap();
    let points = d.join("points");
    std::fs::write(&points, "20.0 -1.0\n30.0 3.0\n40.0 4.0\n").unwrap();
    let logdir = d.join("log");
    let lines = vec![
        format!("tempcomp {} 1 {}", sensor.display(), points.display()),
        "log tempcomp".into(),
        format!("logdir {}", logdir.display()),
        "port 0".into(),
    ];
    let (_, log) = run_kronyd(d, &lines, &["-t", "2"]);
    assert!(!log.contains("not acted on"), "{log}");
    let tc = std::fs::read_to_string(logdir.join("tempcomp.log")).unwrap();
    // Halfway between the first two points.
    let first = tc.lines().nth(3).unwrap_or_default();
    assert!(first.ends_with("  2.5000e+01  1.0000e+00"), "{tc}");

    // A sensor that cannot be read is reported, as chronyd does.
    std::fs::remove_file(&sensor).unwrap();
    let (_, log) = run_kronyd(d, &lines, &["-t", "1"]);
    assert!(
        log.contains(&format!(
            "Could not read temperature from {}",
            sensor.display()
        )),
        "{log}"
    );
    // A point file with one point is fatal.
    std::fs::write(&points, "20.0 -1.0\n").unwrap();
    let (code, log) = run_kronyd(d, &lines, &["-t", "1"]);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        log.contains(&format!("Not enough points in {}", points.display())),
        "{log}"
    );
}
