//! kronyd as a server on loopback (issue 4, acceptance 5): a denied client
//! gets no answer, a flood from one address is rate limited with KoD RATE
//! answers and counted, and the client log stays within `clientloglimit`.
//!
//! The same configuration (but for `ratelimit`'s `kod`, which chronyd 4.3
//! does not know) and the same traffic go to `kronyd -x` and to Debian's
//! `chronyd -x`; each daemon's counters (chronyc `serverstats` and
//! `clients`, and kronyc's for kronyd) must match what the test observed,
//! and the counts that do not depend on chance must be equal for both.
//! Test clients are told apart by their source address in 127.0.0.0/8.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use daemon_support::ntp::{Answers, Client};
use daemon_support::*;

/// Requests in the flood from one address.
const FLOOD: u64 = 120;
/// Distinct addresses that fill the client log.
const MANY: u64 = 40;
/// Records that `clientloglimit 1000` allows: the limit is below the size
/// of one slot, so the table keeps its first slot, of 8 records in kronyd
/// (as chrony since 4.4) and 16 in Debian's chronyd 4.3.
const KRONYD_RECORDS: u64 = 8;
const CHRONYD_RECORDS: u64 = 16;

/// The server's configuration; `kod` adds the `kod` option of
/// `ratelimit` (chrony 4.4; Debian's chronyd 4.3 refuses it).
fn server_lines(port: u16, kod: bool) -> Vec<String> {
    let kod = if kod { " kod 1" } else { "" };
    vec![
        format!("port {port}"),
        "bindaddress 127.0.0.1".into(),
        "local stratum 5".into(),
        "allow 127.0.0.0/8".into(),
        "deny 127.0.9.0/24".into(),
        // 2^4 s per token: no token comes back during the test.
        format!("ratelimit interval 4 burst 4 leak 2{kod}"),
        "clientloglimit 1000".into(),
    ]
}

/// What the test saw from one daemon.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    denied: u64,
    allowed: u64,
    flood: Answers,
    received: u64,
}

/// Runs the traffic against the server at `addr` whose command socket is
/// `sock`; `reports` reads a report with chronyc (and kronyc) and checks
/// that both agree.
fn exercise(
    addr: SocketAddr,
    reports: &dyn Fn(&str) -> String,
    kod: bool,
    max_records: u64,
    name: &str,
) -> Observed {
    // A denied client gets nothing; an allowed one its answer.
    let mut denied = Client::new("127.0.9.1", addr);
    denied.send_many(3, 3);
    let mut allowed = Client::new("127.0.0.2", addr);
    allowed.send();
    let allowed = allowed.collect(Duration::from_secs(2)).normal;
    let denied = denied.collect(Duration::from_millis(300)).total();

    // The flood: burst tokens, then drops, leaked answers and KoD RATE.
    let mut flood = Client::new("127.0.0.3", addr);
    flood.send_many(FLOOD as usize, 10);
    let answers = flood.collect(Duration::from_secs(1));
    assert_eq!(answers.other, 0, "{name}: {answers:?}");
    // With `kod 1` half of the responses that would be dropped are KoD.
    assert_eq!(answers.kod_rate > 0, kod, "{name}: {answers:?}");
    assert!(
        answers.normal >= 4,
        "{name}: burst not answered: {answers:?}"
    );
    let dropped = FLOOD - answers.total();
    assert!(dropped > 0, "{name}: nothing dropped: {answers:?}");

    let stats = reports("serverstats");
    // Denied requests are not counted; every allowed one is.
    assert_eq!(
        field_u64(&stats, "NTP packets received"),
        1 + FLOOD,
        "{name}:\n{stats}"
    );
    assert_eq!(
        field_u64(&stats, "NTP packets dropped"),
        dropped,
        "{name}: {answers:?}\n{stats}"
    );
    let clients = reports("clients");
    let rows = client_rows(&clients);
    let row = rows.iter().find(|r| r.0 == "127.0.0.3");
    assert_eq!(
        row.map(|r| (r.1, r.2)),
        Some((FLOOD, dropped)),
        "{name}:\n{clients}"
    );
    assert!(
        !rows.iter().any(|r| r.0.starts_with("127.0.9.")),
        "{name}: denied client logged:\n{clients}"
    );

    // Many clients: the log keeps at most `max_records`; every address
    // beyond that replaced an older record.
    for i in 1..=MANY {
        let mut c = Client::new(&format!("127.0.2.{i}"), addr);
        c.send();
        assert_eq!(
            c.collect(Duration::from_secs(2)).normal,
            1,
            "{name}: 127.0.2.{i}"
        );
    }
    let stats = reports("serverstats");
    let clients = reports("clients");
    let listed = client_rows(&clients).len() as u64;
    assert_eq!(listed, max_records, "{name}:\n{clients}");
    let records_dropped = field_u64(&stats, "Client log records dropped");
    // 127.0.0.2, 127.0.0.3 and the MANY addresses were logged.
    assert_eq!(
        records_dropped,
        2 + MANY - max_records,
        "{name}:\n{stats}\n{clients}"
    );
    Observed {
        denied,
        allowed,
        flood: answers,
        received: field_u64(&stats, "NTP packets received"),
    }
}

/// chronyc's report; for kronyd also kronyc's, whose NTP counters and
/// client rows must be the same (its command counter counts chronyc's
/// request, and it prints the timestamp counters chronyc 4.3 does not).
fn report(sock: &Path, kronyd: bool, cmd: &str) -> String {
    let text = chronyc(sock, &[cmd]);
    if kronyd {
        let k = kronyc(sock, &[cmd]);
        for name in [
            "NTP packets received",
            "NTP packets dropped",
            "Client log records dropped",
        ] {
            assert_eq!(field(&text, name), field(&k, name), "{name}:\n{text}\n{k}");
        }
        assert_eq!(client_rows(&text), client_rows(&k), "{text}\n{k}");
    }
    text
}

/// Starts kronyd (`kronyd` true) or chronyd serving in a new directory,
/// waits for its command socket and runs [`exercise`] against it.
fn observe(kronyd: bool) -> Observed {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_port();
    let lines = server_lines(port, kronyd);
    let (daemon, sock) = if kronyd {
        (start_kronyd_with(d, &lines, &[]), d.join("kronyd.sock"))
    } else {
        (start_chronyd(d, &lines), d.join("chronyd.sock"))
    };
    assert!(
        wait_until(Duration::from_secs(5), || sock.exists()),
        "{}",
        daemon.log_text()
    );
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (records, name) = if kronyd {
        (KRONYD_RECORDS, "kronyd")
    } else {
        (CHRONYD_RECORDS, "chronyd")
    };
    exercise(
        addr,
        &|cmd| report(&sock, kronyd, cmd),
        kronyd,
        records,
        name,
    )
}

#[test]
fn access_rate_limit_and_client_log_match_chronyd() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let k = observe(true);
    let c = observe(false);

    // What does not depend on chance is the same for both daemons.
    assert_eq!((k.denied, c.denied), (0, 0));
    assert_eq!((k.allowed, c.allowed), (1, 1));
    assert_eq!(k.received, c.received, "kronyd {k:?}\nchronyd {c:?}");
}
