//! `hwtimestamp` on interfaces without hardware timestamping (veth and
//! loopback in the lab's network namespaces), against Debian's chronyd
//! (4.3): the same fatal error for a named interface, silence for `*`, and
//! NTP keeps working with kernel timestamps.
#![allow(clippy::unwrap_used)]

mod daemon_support;
mod two_host_support;

use std::time::{Duration, Instant};

use two_host_support::daemons::{CHRONYD, Daemon, Kind, field, wait_until};
use two_host_support::netns::{A_ADDR, Host, Lab};

/// The lab, or None (printing why) when namespaces or chronyd are missing.
fn lab(tag: &str) -> Option<Lab> {
    if !std::path::Path::new(CHRONYD).exists() {
        eprintln!("SKIP: {CHRONYD} is not installed");
        return None;
    }
    match Lab::create(tag) {
        Ok(l) => Some(l),
        Err(e) => {
            eprintln!("SKIP: no network namespaces: {e}");
            None
        }
    }
}

/// Waits up to 10 s for the daemon to exit; its status.
fn exit_status(d: &mut Daemon) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(10) {
        if let Some(code) = d.try_exit() {
            return code;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

/// The log from "Disabled control of system clock" on, without the time
/// stamps (the lines before differ: version banner, config warnings).
fn tail(log: &str) -> Vec<String> {
    log.lines()
        .map(|l| l.split_once(' ').map_or(l, |(_, rest)| rest).to_string())
        .skip_while(|l| !l.contains("Disabled control of system clock"))
        .collect()
}

/// One daemon of `kind` in `host` with `lines`, run until it exits.
fn run_to_exit(kind: Kind, host: &Host, role: &str, lines: &[String]) -> (Option<i32>, String) {
    let mut d = Daemon::start(kind, host, role, lines);
    let code = exit_status(&mut d);
    (code, d.log_text())
}

#[test]
fn named_interface_without_hw_timestamping_is_fatal_as_in_chronyd() {
    let Some(lab) = lab("hwfatal") else { return };
    // B's veth end, its loopback, and an interface that does not exist.
    for iface in ["vba", "lo", "nosuch0"] {
        let lines = vec![
            "port 0".to_string(),
            format!("hwtimestamp {iface} rxfilter all"),
        ];
        let (c_code, c_log) = run_to_exit(Kind::Chrony, &lab.b, &format!("c-{iface}"), &lines);
        let (k_code, k_log) = run_to_exit(Kind::Krony, &lab.b, &format!("k-{iface}"), &lines);
        let logs = format!("chronyd:\n{c_log}\nkronyd:\n{k_log}");
        assert_eq!(c_code, Some(1), "{logs}");
        assert_eq!(k_code, c_code, "{logs}");
        let expected = format!("Fatal error : Could not enable HW timestamping on {iface}");
        assert_eq!(tail(&c_log).last(), Some(&expected), "{logs}");
        assert_eq!(tail(&k_log), tail(&c_log), "{logs}");
    }
}

#[test]
fn hwtimestamp_all_falls_back_to_kernel_timestamps() {
    let Some(lab) = lab("hwall") else { return };
    let all = "hwtimestamp *".to_string();
    let server = vec![
        "local stratum 1".to_string(),
        "allow 192.168.37.0/24".to_string(),
        all.clone(),
    ];
    let client = vec![
        "port 0".to_string(),
        format!("server {A_ADDR} iburst minpoll -2 maxpoll 0"),
        all,
    ];
    // kronyd serves and kronyd measures, each with `hwtimestamp *`; a
    // chronyd with the client's configuration shows what chronyd logs.
    let a = Daemon::start(Kind::Krony, &lab.a, "a", &server);
    let b = Daemon::start(Kind::Krony, &lab.b, "b", &client);
    let c = Daemon::start(Kind::Chrony, &lab.b, "c", &client);
    let selected = wait_until(Duration::from_secs(10), || {
        b.log_text().contains("Selected source 192.168.37.7")
    });
    let logs = format!(
        "server kronyd:\n{}\nclient kronyd:\n{}\nclient chronyd:\n{}",
        a.log_text(),
        b.log_text(),
        c.log_text()
    );
    assert!(selected, "{logs}");
    let ntpdata = b.cmd(&lab.b, &["ntpdata"]);
    assert_eq!(
        field(&ntpdata, "TX timestamping"),
        Some("Kernel"),
        "{ntpdata}"
    );
    assert_eq!(
        field(&ntpdata, "RX timestamping"),
        Some("Kernel"),
        "{ntpdata}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || c
            .log_text()
            .contains("Selected source 192.168.37.7")),
        "{logs}"
    );
    assert!(!b.log_text().contains("hwtimestamp directive"), "{logs}");
    // Neither daemon says anything about hardware timestamping.
    for log in [a.log_text(), b.log_text(), c.log_text()] {
        assert!(!log.contains("HW timestamping"), "{logs}");
    }
    let stats = a.cmd(&lab.a, &["serverstats"]);
    let received: u64 = field(&stats, "NTP packets received")
        .unwrap()
        .parse()
        .unwrap();
    assert!(received >= 3, "{stats}");
}
