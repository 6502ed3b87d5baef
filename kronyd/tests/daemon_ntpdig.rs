//! ntpdig (Debian's ntpsec-ntpdig) queries kronyd (issue 4, acceptance 3).
//! ntpdig has no port option, so kronyd serves port 123 of 127.0.0.1 in a
//! network namespace the test creates and removes.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::process::Command;
use std::time::Duration;

use daemon_support::*;

/// The offset ntpdig printed: the number before `+/-`.
fn ntpdig_offset(out: &str) -> Option<f64> {
    let words: Vec<&str> = out.split_whitespace().collect();
    let i = words.iter().position(|w| *w == "+/-")?;
    words.get(i.checked_sub(1)?)?.parse().ok()
}

#[test]
fn offset_parsing() {
    let line = "2026-11-25 10:20:00.123456 (+0000) +0.000012 +/- 0.000033 127.0.0.1 s10 no-leap";
    assert_eq!(ntpdig_offset(line), Some(0.000012));
    assert_eq!(ntpdig_offset("no answer"), None);
}

#[test]
fn ntpdig_gets_a_sane_offset() {
    if !installed(&[NTPDIG]) {
        return;
    }
    let Some(ns) = Netns::create("test") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kronyd = start_kronyd_server(d, 123, &[], &ns.exec_prefix());
    let mut last = String::new();
    let got = wait_until(Duration::from_secs(10), || {
        let out = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns.name(),
                NTPDIG,
                "-t",
                "1",
                "-p",
                "1",
                "127.0.0.1",
            ])
            .output()
            .unwrap();
        last = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        out.status.success() && ntpdig_offset(&last).is_some()
    });
    assert!(got, "ntpdig: {last}\nkronyd log:\n{}", kronyd.log_text());
    let offset = ntpdig_offset(&last).unwrap();
    // Same clock on both sides (kronyd -x serves the system time).
    assert!(offset.abs() < 0.01, "{last}");
    assert!(last.contains(" s10 "), "stratum 10: {last}");
}
