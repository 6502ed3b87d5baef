//! chrony's experimental monotonic-root extension field (`extfield F323`)
//! between kronyd and Debian's chronyd 4.3, both ways, on loopback with
//! `-x`: the server's `doffset 0.1` (with `-x` the correction stays in the
//! served time, a jump for the client) must not show as a jump among the
//! client's samples when the field is used (the client moves its older
//! samples by the server's correction), and does without it.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::Path;
use std::time::Duration;

use daemon_support::*;

/// Which daemon is the client (the other one serves).
#[derive(Clone, Copy, PartialEq)]
enum Client {
    Kronyd,
    Chronyd,
}

/// `Total good RX` of the client's only source.
fn good_rx(sock: &Path) -> u64 {
    field_u64(&chronyc(sock, &["ntpdata"]), "Total good RX")
}

/// The `Std Dev` column (seconds) of the 127.0.0.1 row of `sourcestats`.
fn std_dev(report: &str) -> Option<f64> {
    let row = report.lines().find(|l| l.starts_with("127.0.0.1"))?;
    secs_with_unit(row.split_whitespace().last()?)
}

/// The client's `sourcestats` after the first good sample that follows the
/// server's `doffset 0.1`, with `options` on the client's `server` line.
fn sourcestats_after_server_doffset(client: Client, options: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let line = format!("server 127.0.0.1 port {port} minpoll -2 maxpoll -2 {options}");
    let (_server, _client, server_sock, client_sock) = match client {
        Client::Kronyd => {
            let server = start_chronyd_server(d, port, &[]);
            let mut conf = kronyd_base(d);
            conf.extend([line, "port 0".into()]);
            let conf = write_conf(d, "kronyd.conf", &conf);
            let client = start_kronyd(d, &conf, &[], &[]);
            (
                server,
                client,
                d.join("chronyd.sock"),
                d.join("kronyd.sock"),
            )
        }
        Client::Chronyd => {
            let server = start_kronyd_server(d, port, &[], &[]);
            let client = start_chronyd(d, &[line, "port 0".into()]);
            (
                server,
                client,
                d.join("kronyd.sock"),
                d.join("chronyd.sock"),
            )
        }
    };
    // Enough samples for a regression (chrony keeps up to 64).
    assert!(
        wait_until(Duration::from_secs(20), || good_rx(&client_sock) >= 10),
        "no samples: {}\n{}",
        chronyc(&client_sock, &["ntpdata"]),
        std::fs::read_to_string(d.join("kronyd.log")).unwrap_or_default()
    );
    let out = chronyc(&server_sock, &["doffset", "0.1"]);
    assert!(out.contains("200 OK"), "{out}");
    let before = good_rx(&client_sock);
    assert!(wait_until(Duration::from_secs(5), || {
        good_rx(&client_sock) > before
    }));
    chronyc(&client_sock, &["sourcestats"])
}

/// kronyd as the client of chronyd, and chronyd as the client of kronyd:
/// with the field the samples stay together; without it the 0.1 s jump is
/// among them.
#[test]
fn server_corrections_do_not_disturb_clients_with_the_field() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    for client in [Client::Kronyd, Client::Chronyd] {
        let name = if client == Client::Kronyd {
            "kronyd client"
        } else {
            "chronyd client"
        };
        let with = sourcestats_after_server_doffset(client, "extfield F323");
        let sd = std_dev(&with).unwrap_or_else(|| panic!("{name}: {with}"));
        assert!(sd < 1e-3, "{name}, extfield F323: {with}");
        let without = sourcestats_after_server_doffset(client, "");
        let sd = std_dev(&without).unwrap_or_else(|| panic!("{name}: {without}"));
        assert!(sd > 1e-2, "{name}, no field: {without}");
    }
}
