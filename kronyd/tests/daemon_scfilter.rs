//! `-F 1`: kronyd runs a whole session under its seccomp filter without
//! being killed: a chronyd server followed by name, a chronyd client
//! served, chronyc over the Unix socket and UDP, dump and driftfile
//! writes, and a clean exit. All with `-x` on loopback.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::os::unix::process::ExitStatusExt;
use std::process::Command;
use std::time::Duration;

use daemon_support::*;

#[test]
fn a_full_session_runs_under_the_level_1_filter() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (upstream, own, cmd) = (free_port(), free_port(), free_port());
    let sdir = tempfile::tempdir().unwrap();
    let _server = start_chronyd_server(sdir.path(), upstream, &[]);
    let dumps = d.join("dumps");
    let drift = d.join("drift");
    let mut conf = kronyd_base(d);
    conf.retain(|l| !l.starts_with("cmdport"));
    conf.extend([
        // By name: the resolver thread runs getaddrinfo under the filter.
        format!("server localhost port {upstream} minpoll -2 maxpoll -2 iburst"),
        format!("port {own}"),
        "allow 127.0.0.1".into(),
        format!("cmdport {cmd}"),
        "bindcmdaddress 127.0.0.1".into(),
        "cmdallow 127.0.0.1".into(),
        format!("dumpdir {}", dumps.display()),
        format!("driftfile {}", drift.display()),
        format!("logdir {}", d.join("log").display()),
        "log measurements tracking".into(),
    ]);
    let path = write_conf(d, "kronyd.conf", &conf);
    let mut k = start_kronyd(d, &path, &["-F", "1"], &[]);
    assert!(
        k.wait_log("Loaded seccomp filter (level 1)", Duration::from_secs(5)),
        "{}",
        k.log_text()
    );
    assert!(
        k.wait_log("Selected source 127.0.0.1", Duration::from_secs(15)),
        "{}",
        k.log_text()
    );
    // A chronyd client of kronyd.
    let cdir = tempfile::tempdir().unwrap();
    let client = start_chronyd(
        cdir.path(),
        &[format!(
            "server 127.0.0.1 port {own} minpoll -2 maxpoll -2 iburst"
        )],
    );
    let csock = cdir.path().join("chronyd.sock");
    assert!(wait_until(Duration::from_secs(15), || {
        chronyc(&csock, &["sources"]).contains("^*")
    }));
    drop(client);
    // chronyc over both command sockets.
    let sock = d.join("kronyd.sock");
    let tracking = chronyc(&sock, &["tracking"]);
    assert!(tracking.contains("Stratum         : 2"), "{tracking}");
    let udp = Command::new(CHRONYC)
        .args(["-n", "-h", "127.0.0.1", "-p", &cmd.to_string(), "sources"])
        .output()
        .unwrap();
    let udp = String::from_utf8_lossy(&udp.stdout).into_owned();
    assert!(udp.contains("^* 127.0.0.1"), "{udp}");
    assert_eq!(chronyc(&sock, &["dump"]).trim(), "200 OK");
    let listing: Vec<_> = std::fs::read_dir(&dumps)
        .map(|r| r.filter_map(|e| e.ok().map(|e| e.file_name())).collect())
        .unwrap_or_default();
    assert!(
        dumps.join("127.0.0.1.dat").exists(),
        "dumps: {listing:?}\n{}",
        k.log_text()
    );
    assert_eq!(chronyc(&sock, &["cyclelogs"]).trim(), "200 OK");
    let code = k.terminate(Duration::from_secs(5));
    let status = k.child.wait().unwrap();
    assert_eq!((code, status.signal()), (Some(0), None), "{}", k.log_text());
    assert!(k.log_text().contains("kronyd exiting"), "{}", k.log_text());
    let drift = std::fs::read_to_string(&drift).unwrap();
    assert_eq!(drift.split_whitespace().count(), 2, "{drift}");
    assert!(!d.join("kronyd.pid").exists());
}

#[test]
fn mailonchange_cannot_be_used_with_f() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut conf = kronyd_base(d);
    conf.extend(["port 0".into(), "mailonchange root 0.5".into()]);
    let path = write_conf(d, "kronyd.conf", &conf);
    let mut k = start_kronyd(d, &path, &["-F", "1"], &[]);
    let status = k.child.wait().unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        k.log_text()
            .contains("mailonchange directive cannot be used with -F enabled"),
        "{}",
        k.log_text()
    );
}
