//! kronyd and Debian's chronyd (4.3) on loopback, both with `-x` (issue 4,
//! acceptance 1 and 2): kronyd synchronises to a chronyd server, and a
//! chronyd client synchronises to a kronyd server. Both directions are
//! checked through chronyc, which talks to either daemon's command socket.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::time::Duration;

use daemon_support::*;

/// kronyd as a client of `chronyd -x` serving local stratum 1: "Selected
/// source 127.0.0.1" within 10 s with iburst, then stratum 2 and leap
/// normal in `chronyc tracking`; the driftfile is written at exit and read
/// back by the next start (issue 4, acceptance 6).
#[test]
fn kronyd_synchronises_to_chronyd() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let _chronyd = start_chronyd_server(d, port, &[]);
    // A frequency to start from, corrected while kronyd is synchronised.
    std::fs::write(d.join("drift"), format!("{:20.6} {:20.6}\n", -25.5, 2.0)).unwrap();
    let mut conf = kronyd_base(d);
    conf.extend([
        format!("server 127.0.0.1 port {port} iburst minpoll -2 maxpoll 0"),
        "port 0".into(),
        format!("driftfile {}", d.join("drift").display()),
        format!("logdir {}", d.join("log").display()),
        "log tracking measurements".into(),
    ]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let mut kronyd = start_kronyd(d, &conf, &[], &[]);
    assert!(
        kronyd.wait_log("Selected source 127.0.0.1", Duration::from_secs(10)),
        "kronyd log:\n{}\nchronyd log:\n{}",
        kronyd.log_text(),
        std::fs::read_to_string(d.join("chronyd.log")).unwrap_or_default()
    );
    let sock = d.join("kronyd.sock");
    let tracking = chronyc(&sock, &["tracking"]);
    assert_eq!(field(&tracking, "Stratum"), Some("2"), "{tracking}");
    assert_eq!(
        field(&tracking, "Leap status"),
        Some("Normal"),
        "{tracking}"
    );
    assert!(
        field(&tracking, "Reference ID").is_some_and(|r| r.contains("(127.0.0.1)")),
        "{tracking}"
    );
    let sources = chronyc(&sock, &["sources"]);
    assert!(sources.contains("^* 127.0.0.1"), "{sources}");
    // Kernel timestamps both ways on loopback ("K K" ends measurement lines).
    let meas = std::fs::read_to_string(d.join("log/measurements.log")).unwrap();
    assert!(meas.lines().any(|l| l.ends_with(" K K")), "{meas}");
    assert_eq!(kronyd.terminate(Duration::from_secs(5)), Some(0));
    let log = kronyd.log_text();
    assert!(log.contains("Disabled control of system clock"), "{log}");
    assert!(log.contains("kronyd exiting"), "{log}");
    assert!(!d.join("kronyd.pid").exists(), "pidfile removed at exit");
    check_driftfile_read_back(d);
}

/// The driftfile written at exit is chrony's `%20.6f %20.6f` line, and a
/// restarted kronyd (without sources, so that nothing changes it) logs the
/// values it read and starts tracking from that frequency.
fn check_driftfile_read_back(d: &std::path::Path) {
    let path = d.join("drift");
    let drift = std::fs::read_to_string(&path).unwrap();
    let values: Vec<f64> = drift
        .split_whitespace()
        .map(|v| v.parse().unwrap())
        .collect();
    assert_eq!(values.len(), 2, "{drift}");
    let (freq, skew) = (values[0], values[1]);
    assert_eq!(drift, format!("{freq:20.6} {skew:20.6}\n"));
    let mut conf = kronyd_base(d);
    conf.extend(["port 0".into(), format!("driftfile {}", path.display())]);
    let conf = write_conf(d, "restart.conf", &conf);
    let kronyd = start_kronyd(d, &conf, &[], &[]);
    let read = format!(
        "Frequency {freq:.3} +/- {skew:.3} ppm read from {}",
        path.display()
    );
    assert!(
        kronyd.wait_log(&read, Duration::from_secs(5)),
        "{read}\n{}",
        kronyd.log_text()
    );
    let sock = d.join("kronyd.sock");
    assert!(wait_until(Duration::from_secs(5), || sock.exists()));
    let tracking = chronyc(&sock, &["tracking"]);
    let shown = field(&tracking, "Frequency").unwrap_or_default();
    assert!(
        shown.starts_with(&format!("{:.3} ppm ", freq.abs())),
        "{freq}: {tracking}"
    );
}

/// `chronyd -x` as a client of kronyd serving local stratum 10: chronyc
/// shows kronyd as `^*` and chronyd at stratum 11.
#[test]
fn chronyd_synchronises_to_kronyd() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let kronyd = start_kronyd_server(d, port, &[], &[]);
    let chronyd = start_chronyd(
        d,
        &[
            format!("server 127.0.0.1 port {port} iburst minpoll -2 maxpoll 0"),
            "port 0".into(),
        ],
    );
    let csock = d.join("chronyd.sock");
    let synced = wait_until(Duration::from_secs(10), || {
        chronyc(&csock, &["sources"]).contains("^* 127.0.0.1")
    });
    assert!(
        synced,
        "{}\nchronyd log:\n{}\nkronyd log:\n{}",
        chronyc(&csock, &["sources"]),
        chronyd.log_text(),
        kronyd.log_text()
    );
    let tracking = chronyc(&csock, &["tracking"]);
    assert_eq!(field(&tracking, "Stratum"), Some("11"), "{tracking}");
    // kronyd answered from its kernel-timestamped server socket.
    let stats = chronyc(&d.join("kronyd.sock"), &["serverstats"]);
    let received: u64 = field(&stats, "NTP packets received")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(received >= 3, "{stats}");
}

/// Two kronyd instances (the README demo): a server at local stratum 10
/// and a client synchronised to it with iburst, shown by chronyc.
#[test]
fn kronyd_synchronises_to_kronyd() {
    if !installed(&[CHRONYC]) {
        return;
    }
    let server_dir = tempfile::tempdir().unwrap();
    let client_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let server = start_kronyd_server(server_dir.path(), port, &[], &[]);
    let mut conf = kronyd_base(client_dir.path());
    conf.extend([
        format!("server 127.0.0.1 port {port} iburst minpoll -2 maxpoll 0"),
        "port 0".into(),
    ]);
    let conf = write_conf(client_dir.path(), "kronyd.conf", &conf);
    let client = start_kronyd(client_dir.path(), &conf, &[], &[]);
    assert!(
        client.wait_log("Selected source 127.0.0.1", Duration::from_secs(10)),
        "client:\n{}\nserver:\n{}",
        client.log_text(),
        server.log_text()
    );
    let tracking = chronyc(&client_dir.path().join("kronyd.sock"), &["tracking"]);
    assert_eq!(field(&tracking, "Stratum"), Some("11"), "{tracking}");
}
