//! Symmetric peers and the interleaved mode on loopback (issue 4,
//! acceptance 8), every daemon with `-x`: host A serves `local stratum 10`
//! and peers with B, B peers with A and must select it (`=*`, stratum 11),
//! with two kronyd and with kronyd and Debian's chronyd either way round,
//! in the basic and the interleaved (`xleave`) mode; and a chronyd client
//! using `xleave` with a kronyd server gets interleaved responses.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use daemon_support::*;

/// How long B may take to select A (polls of 0.25 s).
const SYNC_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Krony,
    Chrony,
}

/// One daemon with its command socket.
struct Daemon {
    proc: Proc,
    sock: PathBuf,
    kind: Kind,
}

impl Daemon {
    /// Starts `kind` with `lines` in `dir` (its own pidfile and socket).
    fn start(kind: Kind, dir: &Path, lines: &[String]) -> Daemon {
        let (proc, sock) = match kind {
            Kind::Krony => {
                let mut conf = kronyd_base(dir);
                conf.extend_from_slice(lines);
                let conf = write_conf(dir, "kronyd.conf", &conf);
                (start_kronyd(dir, &conf, &[], &[]), dir.join("kronyd.sock"))
            }
            Kind::Chrony => (start_chronyd(dir, lines), dir.join("chronyd.sock")),
        };
        Daemon { proc, sock, kind }
    }

    /// chronyc's report.
    fn report(&self, cmd: &[&str]) -> String {
        chronyc(&self.sock, cmd)
    }

    /// Whether chronyc (and for kronyd also kronyc) shows `line` in the
    /// report `cmd`.
    fn shows(&self, cmd: &[&str], line: &str) -> bool {
        self.report(cmd).contains(line)
            && (self.kind == Kind::Chrony || kronyc(&self.sock, cmd).contains(line))
    }
}

/// A with `local stratum 10` on 127.0.0.1 and B on 127.0.0.2 (different
/// ports too), peers of each other polling every 0.25 s; B must select A.
/// Returns B's `ntpdata` of A once selected.
fn peers(a_kind: Kind, b_kind: Kind, xleave: bool) -> String {
    if !installed(&[CHRONYC]) || (a_kind != b_kind && !installed(&[CHRONYD])) {
        return String::new();
    }
    let (adir, bdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (pa, pb) = (free_port(), free_port());
    let opts = if xleave { " xleave" } else { "" };
    let opts = format!("minpoll -2 maxpoll -2{opts}");
    let a = Daemon::start(
        a_kind,
        adir.path(),
        &[
            "local stratum 10".into(),
            "bindaddress 127.0.0.1".into(),
            format!("port {pa}"),
            "allow 127.0.0.0/8".into(),
            format!("peer 127.0.0.2 port {pb} {opts}"),
        ],
    );
    let b = Daemon::start(
        b_kind,
        bdir.path(),
        &[
            "bindaddress 127.0.0.2".into(),
            format!("port {pb}"),
            "allow 127.0.0.0/8".into(),
            format!("peer 127.0.0.1 port {pa} {opts}"),
        ],
    );
    let wanted = if xleave {
        "Interleaved     : Yes"
    } else {
        "Interleaved     : No"
    };
    let synced = wait_until(SYNC_TIMEOUT, || {
        b.shows(&["sources"], "=* 127.0.0.1") && b.shows(&["ntpdata", "127.0.0.1"], wanted)
    });
    assert!(
        synced,
        "B {b_kind:?} sources:\n{}\n{}\nA {a_kind:?} sources:\n{}\nB log:\n{}\nA log:\n{}",
        b.report(&["sources"]),
        b.report(&["ntpdata", "127.0.0.1"]),
        a.report(&["sources"]),
        b.proc.log_text(),
        a.proc.log_text()
    );
    let tracking = b.report(&["tracking"]);
    assert_eq!(field(&tracking, "Stratum"), Some("11"), "{tracking}");
    let ntpdata = b.report(&["ntpdata", "127.0.0.1"]);
    assert_eq!(
        field(&ntpdata, "Mode"),
        Some("Symmetric active"),
        "{ntpdata}"
    );
    // A hears B as a peer at stratum 11 but does not select it (test D:
    // B is synchronised to A).
    let a_sources = a.report(&["sources"]);
    assert!(
        a_sources.contains("127.0.0.2") && !a_sources.contains("=* 127.0.0.2"),
        "{a_sources}"
    );
    ntpdata
}

#[test]
fn kronyd_peers_with_kronyd() {
    peers(Kind::Krony, Kind::Krony, false);
}

#[test]
fn kronyd_peers_with_kronyd_interleaved() {
    peers(Kind::Krony, Kind::Krony, true);
}

#[test]
fn kronyd_peers_with_chronyd() {
    peers(Kind::Chrony, Kind::Krony, false);
    peers(Kind::Krony, Kind::Chrony, false);
}

#[test]
fn kronyd_peers_with_chronyd_interleaved() {
    peers(Kind::Chrony, Kind::Krony, true);
    peers(Kind::Krony, Kind::Chrony, true);
}

/// A chronyd client with `xleave` to a kronyd server: chronyd's ntpdata
/// says the responses are interleaved, and kronyd counts them.
#[test]
fn chronyd_client_gets_interleaved_responses() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let (kdir, cdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let port = free_port();
    let server = Daemon::start(
        Kind::Krony,
        kdir.path(),
        &[
            "local stratum 10".into(),
            "bindaddress 127.0.0.1".into(),
            format!("port {port}"),
            "allow 127.0.0.0/8".into(),
        ],
    );
    let client = Daemon::start(
        Kind::Chrony,
        cdir.path(),
        &[
            "port 0".into(),
            format!("server 127.0.0.1 port {port} xleave iburst minpoll -2 maxpoll -2"),
        ],
    );
    let synced = wait_until(SYNC_TIMEOUT, || {
        client.shows(&["sources"], "^* 127.0.0.1")
            && client.shows(&["ntpdata", "127.0.0.1"], "Interleaved     : Yes")
    });
    assert!(
        synced,
        "{}\n{}\nchronyd log:\n{}\nkronyd log:\n{}",
        client.report(&["sources"]),
        client.report(&["ntpdata", "127.0.0.1"]),
        client.proc.log_text(),
        server.proc.log_text()
    );
    let stats = server.report(&["serverstats"]);
    let interleaved = field_u64(&stats, "Interleaved NTP packets");
    assert!(interleaved > 0, "{stats}");
    // kronyc reads the same counter (chronyd may have polled since).
    let kstats = kronyc(&server.sock, &["serverstats"]);
    assert!(
        field_u64(&kstats, "Interleaved NTP packets") >= interleaved,
        "{stats}\n{kstats}"
    );
    assert!(
        interleaved < field_u64(&stats, "NTP packets received"),
        "the first request of the exchange is answered in basic mode: {stats}"
    );
}
