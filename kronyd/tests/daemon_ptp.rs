//! `ptpport`: NTP messages inside PTP Delay_Req messages between kronyd
//! and Debian's chronyd (4.3) on loopback, both directions. Each daemon
//! binds its own loopback address (127.0.0.1 and 127.0.0.2), so both can
//! use the same PTP port, as two hosts would.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::Path;
use std::time::Duration;

use daemon_support::*;

/// Lines of a daemon on `addr` with NTP over PTP on `ptp`.
fn common(addr: &str, ptp: u16) -> Vec<String> {
    vec![format!("bindaddress {addr}"), format!("ptpport {ptp}")]
}

/// A server on `addr`: local stratum 1, its plain NTP port elsewhere.
fn server(addr: &str, ptp: u16) -> Vec<String> {
    let mut l = common(addr, ptp);
    l.extend([
        format!("port {}", free_port()),
        "local stratum 1".into(),
        "allow 127.0.0.0/8".into(),
    ]);
    l
}

/// A client on `addr` of the server at `to`, on the PTP port.
fn client(addr: &str, to: &str, ptp: u16) -> Vec<String> {
    let mut l = common(addr, ptp);
    l.extend([
        "port 0".into(),
        format!("server {to} port {ptp} iburst minpoll -2 maxpoll 0"),
    ]);
    l
}

/// The client's view through chronyc: selected, the source's port is the
/// PTP port, kernel timestamps.
fn check_client(sock: &Path, to: &str, ptp: u16, logs: &str) {
    let sources = chronyc(sock, &["sources"]);
    assert!(sources.contains(&format!("^* {to}")), "{sources}\n{logs}");
    let ntpdata = chronyc(sock, &["ntpdata"]);
    assert_eq!(
        field(&ntpdata, "Remote port"),
        Some(ptp.to_string().as_str()),
        "{ntpdata}"
    );
    assert_eq!(field(&ntpdata, "RX timestamping"), Some("Kernel"));
}

#[test]
fn chronyd_client_over_ptp_to_kronyd_server() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (kdir, cdir) = (dir.path().join("k"), dir.path().join("c"));
    std::fs::create_dir(&kdir).unwrap();
    std::fs::create_dir(&cdir).unwrap();
    let ptp = free_port();
    let mut conf = kronyd_base(&kdir);
    conf.extend(server("127.0.0.1", ptp));
    let conf = write_conf(&kdir, "kronyd.conf", &conf);
    let kronyd = start_kronyd(&kdir, &conf, &["-d"], &[]);
    assert!(kronyd.wait_log("Disabled control", Duration::from_secs(5)));
    let chronyd = start_chronyd(&cdir, &client("127.0.0.2", "127.0.0.1", ptp));
    let ok = chronyd.wait_log("Selected source 127.0.0.1", Duration::from_secs(10));
    let logs = format!(
        "kronyd:\n{}\nchronyd:\n{}",
        kronyd.log_text(),
        chronyd.log_text()
    );
    assert!(ok, "{logs}");
    check_client(&cdir.join("chronyd.sock"), "127.0.0.1", ptp, &logs);
    let k = kronyd.log_text();
    assert!(k.contains("Unwrapped PTP->NTP len=48"), "{logs}");
    assert!(k.contains("Wrapped NTP->PTP len=48"), "{logs}");
    assert!(!k.contains("ptpport directive"), "{logs}");
    let stats = chronyc(&kdir.join("kronyd.sock"), &["serverstats"]);
    let received: u64 = field(&stats, "NTP packets received")
        .unwrap()
        .parse()
        .unwrap();
    assert!(received >= 3, "{stats}");
}

#[test]
fn kronyd_client_over_ptp_to_chronyd_server() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (kdir, cdir) = (dir.path().join("k"), dir.path().join("c"));
    std::fs::create_dir(&kdir).unwrap();
    std::fs::create_dir(&cdir).unwrap();
    let ptp = free_port();
    let chronyd = start_chronyd(&cdir, &server("127.0.0.2", ptp));
    let mut conf = kronyd_base(&kdir);
    conf.extend(client("127.0.0.1", "127.0.0.2", ptp));
    let conf = write_conf(&kdir, "kronyd.conf", &conf);
    let kronyd = start_kronyd(&kdir, &conf, &[], &[]);
    let ok = kronyd.wait_log("Selected source 127.0.0.2", Duration::from_secs(10));
    let logs = format!(
        "kronyd:\n{}\nchronyd:\n{}",
        kronyd.log_text(),
        chronyd.log_text()
    );
    assert!(ok, "{logs}");
    check_client(&kdir.join("kronyd.sock"), "127.0.0.2", ptp, &logs);
    let stats = chronyc(&cdir.join("chronyd.sock"), &["serverstats"]);
    let received: u64 = field(&stats, "NTP packets received")
        .unwrap()
        .parse()
        .unwrap();
    assert!(received >= 3, "{stats}");
}
