//! `initstepslew` (issue 4, "NTP client"): kronyd measures the listed hosts
//! (port 123, so both daemons run in a network namespace the test makes),
//! slews or steps its `-x` virtual clock, then removes them and starts the
//! configured sources.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::time::Duration;

use daemon_support::*;

#[test]
fn initstepslew_measures_then_hands_over_to_the_configured_sources() {
    if !installed(&[CHRONYC]) {
        return;
    }
    let Some(ns) = Netns::create("init") else {
        return;
    };
    let netns = ns.exec_prefix();
    let server_dir = tempfile::tempdir().unwrap();
    let mut conf = kronyd_base(server_dir.path());
    conf.extend([
        "local stratum 10".into(),
        "allow 127.0.0.1".into(),
        "bindaddress 127.0.0.1".into(),
    ]);
    let conf = write_conf(server_dir.path(), "kronyd.conf", &conf);
    let _server = start_kronyd(server_dir.path(), &conf, &[], &netns);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut conf = kronyd_base(d);
    conf.extend([
        "initstepslew 10 127.0.0.1".into(),
        "server 127.0.0.2 port 4123".into(),
        "port 0".into(),
    ]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let client = start_kronyd(d, &conf, &[], &netns);
    assert!(
        client.wait_log("System's initial offset : ", Duration::from_secs(15)),
        "{}",
        client.log_text()
    );
    assert!(
        client.log_text().contains("of true (slew)"),
        "{}",
        client.log_text()
    );
    assert!(
        client.wait_log("Removed source 127.0.0.1", Duration::from_secs(4)),
        "{}",
        client.log_text()
    );
    let sock = d.join("kronyd.sock");
    let sources = chronyc(&sock, &["sources"]);
    assert!(sources.contains(" 127.0.0.2 "), "{sources}");
    assert!(!sources.contains(" 127.0.0.1 "), "{sources}");
    // Still running, in normal operation.
    let tracking = chronyc(&sock, &["tracking"]);
    assert!(field(&tracking, "Reference ID").is_some(), "{tracking}");
}
