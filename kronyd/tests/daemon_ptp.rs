//! `ptpport`: NTP messages inside PTP Delay_Req messages between kronyd
//! and Debian's chronyd (4.3) on loopback, both directions. Each daemon
//! binds its own loopback address (127.0.0.1 and 127.0.0.2), so both can
//! use the same PTP port, as two hosts would.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::{Path, PathBuf};
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

/// A temporary directory with the subdirectories `k` (kronyd) and `c`
/// (chronyd).
fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let (kdir, cdir) = (dir.path().join("k"), dir.path().join("c"));
    std::fs::create_dir(&kdir).unwrap();
    std::fs::create_dir(&cdir).unwrap();
    (dir, kdir, cdir)
}

/// Waits for `text` in the client's log; both logs for the messages.
fn wait_selected(client: &Proc, text: &str, kronyd: &Proc, chronyd: &Proc) -> String {
    let ok = client.wait_log(text, Duration::from_secs(10));
    let logs = format!(
        "kronyd:\n{}\nchronyd:\n{}",
        kronyd.log_text(),
        chronyd.log_text()
    );
    assert!(ok, "{logs}");
    logs
}

/// The server behind `sock` received at least 3 NTP packets.
fn assert_served(sock: &Path) {
    let stats = chronyc(sock, &["serverstats"]);
    assert!(field_u64(&stats, "NTP packets received") >= 3, "{stats}");
}

#[test]
fn chronyd_client_over_ptp_to_kronyd_server() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let (_dir, kdir, cdir) = dirs();
    let ptp = free_port();
    let kronyd = start_kronyd_with(&kdir, &server("127.0.0.1", ptp), &["-d"]);
    assert!(kronyd.wait_log("Disabled control", Duration::from_secs(5)));
    let chronyd = start_chronyd(&cdir, &client("127.0.0.2", "127.0.0.1", ptp));
    let logs = wait_selected(&chronyd, "Selected source 127.0.0.1", &kronyd, &chronyd);
    check_client(&cdir.join("chronyd.sock"), "127.0.0.1", ptp, &logs);
    let k = kronyd.log_text();
    assert!(k.contains("Unwrapped PTP->NTP len=48"), "{logs}");
    assert!(k.contains("Wrapped NTP->PTP len=48"), "{logs}");
    assert!(!k.contains("ptpport directive"), "{logs}");
    assert_served(&kdir.join("kronyd.sock"));
}

#[test]
fn kronyd_client_over_ptp_to_chronyd_server() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let (_dir, kdir, cdir) = dirs();
    let ptp = free_port();
    let chronyd = start_chronyd(&cdir, &server("127.0.0.2", ptp));
    let kronyd = start_kronyd_with(&kdir, &client("127.0.0.1", "127.0.0.2", ptp), &[]);
    let logs = wait_selected(&kronyd, "Selected source 127.0.0.2", &kronyd, &chronyd);
    check_client(&kdir.join("kronyd.sock"), "127.0.0.2", ptp, &logs);
    assert_served(&cdir.join("chronyd.sock"));
}
