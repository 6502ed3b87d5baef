//! NTS (RFC 8915) between kronyd and Debian's chronyd 4.3 (built with
//! GnuTLS), every daemon with `-x` on loopback, non-default NTP and NTS-KE
//! ports, and a self-signed certificate for localhost/127.0.0.1 made here.
//!
//! - (a) a kronyd NTS client selects a chronyd NTS server; `authdata`
//!   (chronyc against kronyd) shows NTS with cookies;
//! - (b) a chronyd NTS client selects a kronyd NTS server and holds 8
//!   cookies;
//! - (c) kronyd client and kronyd server;
//! - (d) with an untrusted certificate NTS-KE fails and nothing is accepted;
//! - (e) cookies saved in `ntsdumpdir` are used after a restart.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use daemon_support::*;

/// Writes a self-signed certificate and its key for localhost and
/// 127.0.0.1; returns (certificate, key) paths.
fn make_cert(dir: &Path, tag: &str) -> (PathBuf, PathBuf) {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    let cert = dir.join(format!("{tag}-cert.pem"));
    let key = dir.join(format!("{tag}-key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&key, mode).unwrap();
    (cert, key)
}

/// As [`make_cert`], valid only in 2001.
fn make_expired_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params.not_before = rcgen::date_time_ymd(2001, 1, 1);
    params.not_after = rcgen::date_time_ymd(2002, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    let (c, k) = (dir.join("old-cert.pem"), dir.join("old-key.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (c, k)
}

/// Waits until something listens on 127.0.0.1:`port` (a server's NTS-KE
/// socket), so that a client's first NTS-KE is not refused, which would
/// delay its next attempt by 16 s (chrony's back-off).
fn wait_listening(port: u16) {
    let ok = wait_until(Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    assert!(ok, "nothing listens on NTS-KE port {port}");
}

/// A free TCP port on 127.0.0.1.
fn free_tcp_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The NTS server lines (chronyd's and kronyd's are the same).
fn server_lines(dir: &Path, port: u16, ke_port: u16, cert: &Path, key: &Path) -> Vec<String> {
    vec![
        "local stratum 1".into(),
        "allow 127.0.0.1".into(),
        format!("port {port}"),
        format!("ntsport {ke_port}"),
        format!("ntsservercert {}", cert.display()),
        format!("ntsserverkey {}", key.display()),
        format!("ntsdumpdir {}", dir.display()),
    ]
}

/// The NTS client lines.
fn client_lines(port: u16, ke_port: u16, trusted: &Path) -> Vec<String> {
    vec![
        format!("server 127.0.0.1 port {port} iburst minpoll -2 maxpoll 0 nts ntsport {ke_port}"),
        format!("ntstrustedcerts {}", trusted.display()),
        "nosystemcert".into(),
    ]
}

/// A kronyd with `lines` in its own directory.
fn kronyd(dir: &Path, lines: &[String]) -> Proc {
    start_kronyd_with(dir, lines, &[])
}

/// The row of `authdata` for 127.0.0.1, split into columns.
fn authdata_row(socket: &Path) -> Option<Vec<String>> {
    let out = chronyc(socket, &["authdata"]);
    out.lines()
        .find(|l| l.starts_with("127.0.0.1"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
}

/// authdata columns: name, mode, KeyID, type, KLen, last, attempts, NAK,
/// cookies, cookie length.
fn col(row: &[String], i: usize) -> u64 {
    row.get(i).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn selected(socket: &Path) -> bool {
    chronyc(socket, &["sources"])
        .lines()
        .any(|l| l.starts_with("^*") && l.contains("127.0.0.1"))
}

fn wait_selected(socket: &Path, who: &Proc) {
    // Long enough for one NTS-KE retry after a NAK or a refused connection
    // on a loaded machine.
    let ok = wait_until(Duration::from_secs(60), || selected(socket));
    assert!(
        ok,
        "source not selected:\n{}\n{}\nlog:\n{}",
        chronyc(socket, &["sources"]),
        chronyc(socket, &["authdata"]),
        who.log_text()
    );
}

/// Two temporary directories (server's, client's), the server's
/// certificate and key, and its NTP and NTS-KE ports.
struct Setup {
    sdir: tempfile::TempDir,
    cdir: tempfile::TempDir,
    cert: PathBuf,
    key: PathBuf,
    port: u16,
    ke_port: u16,
}

impl Setup {
    /// New directories and ports; `cert` makes the server's certificate
    /// and key in its directory.
    fn new(cert: impl FnOnce(&Path) -> (PathBuf, PathBuf)) -> Setup {
        let sdir = tempfile::tempdir().unwrap();
        let cdir = tempfile::tempdir().unwrap();
        let (cert, key) = cert(sdir.path());
        let (port, ke_port) = (free_port(), free_tcp_port());
        Setup {
            sdir,
            cdir,
            cert,
            key,
            port,
            ke_port,
        }
    }

    /// With a valid self-signed certificate.
    fn valid() -> Setup {
        Setup::new(|dir| make_cert(dir, "srv"))
    }

    /// The server's NTS lines.
    fn server_lines(&self) -> Vec<String> {
        server_lines(
            self.sdir.path(),
            self.port,
            self.ke_port,
            &self.cert,
            &self.key,
        )
    }

    /// chronyd serving `lines`, once its NTS-KE port listens.
    fn chronyd_server(&self, lines: &[String]) -> Proc {
        let server = start_chronyd(self.sdir.path(), lines);
        wait_listening(self.ke_port);
        server
    }

    /// The lines of a kronyd client trusting `trusted` (no NTP port).
    fn kronyd_client_lines(&self, trusted: &Path) -> Vec<String> {
        let mut lines = client_lines(self.port, self.ke_port, trusted);
        lines.push("port 0".into());
        lines
    }

    /// The client's kronyd command socket.
    fn client_sock(&self) -> PathBuf {
        self.cdir.path().join("kronyd.sock")
    }
}

/// `serverstats` of a server that accepted NTS-KE and authenticated NTP.
fn assert_nts_served(stats: &str) {
    assert!(
        field(stats, "NTS-KE connections accepted").is_some_and(|v| v != "0"),
        "{stats}"
    );
    assert!(
        field(stats, "Authenticated NTP packets").is_some_and(|v| v != "0"),
        "{stats}"
    );
}

/// `ntpdata` of 127.0.0.1 says it is authenticated.
fn assert_authenticated(sock: &Path) {
    let ntpdata = chronyc(sock, &["ntpdata", "127.0.0.1"]);
    assert_eq!(field(&ntpdata, "Authenticated"), Some("Yes"), "{ntpdata}");
}

fn nts_row_ok(row: &[String], min_cookies: u64) -> bool {
    // AES-SIV-CMAC-256 (chronyd 4.3) or AES-128-GCM-SIV (kronyd's first
    // choice of the default `ntsaeads 30 15`).
    let aead = matches!((col(row, 3), col(row, 4)), (15, 256) | (30, 128));
    row.get(1).map(String::as_str) == Some("NTS")
        && aead
        && col(row, 8) >= min_cookies
        && col(row, 9) > 0
}

#[test]
fn a_kronyd_client_of_chronyd_nts_server() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let t = Setup::valid();
    let server = t.chronyd_server(&t.server_lines());
    let lines = t.kronyd_client_lines(&t.cert);
    let started = Instant::now();
    // -d -d: debug messages, among them the NTS-KE session's duration.
    let client = start_kronyd_with(t.cdir.path(), &lines, &["-d"]);
    let sock = t.client_sock();
    wait_selected(&sock, &client);
    eprintln!(
        "kronyd selected chronyd over NTS after {:?}",
        started.elapsed()
    );
    let log = client.log_text();
    let took = log.lines().find(|l| l.contains("NTS-KE session with"));
    assert!(took.is_some_and(|l| l.contains("completed in")), "{log}");
    eprintln!("{}", took.unwrap_or_default());
    let row = authdata_row(&sock).unwrap();
    assert!(nts_row_ok(&row, 7), "authdata: {row:?}");
    assert_authenticated(&sock);
    let stats = chronyc(&t.sdir.path().join("chronyd.sock"), &["serverstats"]);
    assert_nts_served(&stats);
    drop(server);
}

#[test]
fn b_chronyd_client_of_kronyd_nts_server() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let t = Setup::valid();
    let server = kronyd(t.sdir.path(), &t.server_lines());
    wait_listening(t.ke_port);
    let ssock = t.sdir.path().join("kronyd.sock");
    let client = start_chronyd(t.cdir.path(), &client_lines(t.port, t.ke_port, &t.cert));
    let csock = t.cdir.path().join("chronyd.sock");
    let ok = wait_until(Duration::from_secs(30), || selected(&csock));
    assert!(
        ok,
        "chronyd did not select kronyd:\n{}\n{}\nkronyd log:\n{}\nchronyd log:\n{}",
        chronyc(&csock, &["sources"]),
        chronyc(&csock, &["authdata"]),
        server.log_text(),
        client.log_text()
    );
    let row = authdata_row(&csock).unwrap();
    assert!(nts_row_ok(&row, 8), "chronyd's authdata: {row:?}");
    let stats = chronyc(&ssock, &["serverstats"]);
    assert_nts_served(&stats);
    // The server keys were saved for the next start.
    assert!(t.sdir.path().join("ntskeys").exists());
}

#[test]
fn c_kronyd_client_of_kronyd_nts_server() {
    if !installed(&[CHRONYC]) {
        return;
    }
    let t = Setup::valid();
    // Both under the level-1 system call filter: NTS-KE's calls (TCP,
    // getrandom) must be allowed.
    let server = start_kronyd_with(t.sdir.path(), &t.server_lines(), &["-F", "1"]);
    wait_listening(t.ke_port);
    let lines = t.kronyd_client_lines(&t.cert);
    let client = start_kronyd_with(t.cdir.path(), &lines, &["-F", "1"]);
    let sock = t.client_sock();
    wait_selected(&sock, &client);
    assert!(
        server.log_text().contains("Loaded seccomp filter"),
        "{}",
        server.log_text()
    );
    let row = authdata_row(&sock).unwrap();
    assert!(nts_row_ok(&row, 7), "authdata: {row:?}");
    assert_authenticated(&sock);
    // kronyc prints the same row (the age and cookie count may move on).
    let out = kronyc(&sock, &["authdata"]);
    let k: Vec<&str> = out
        .lines()
        .find(|l| l.starts_with("127.0.0.1"))
        .map(|l| l.split_whitespace().collect())
        .unwrap_or_default();
    let same = |i: usize| k.get(i).copied() == row.get(i).map(String::as_str);
    assert!(
        [0, 1, 2, 3, 4, 6, 7, 9].into_iter().all(same),
        "kronyc: {out}\nchronyc: {row:?}"
    );
}

#[test]
fn d_untrusted_certificate_fails_nts_ke() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let t = Setup::valid();
    let (other, _) = make_cert(t.cdir.path(), "other");
    let _server = t.chronyd_server(&t.server_lines());
    let client = kronyd(t.cdir.path(), &t.kronyd_client_lines(&other));
    let sock = t.client_sock();
    assert!(
        client.wait_log("TLS handshake with 127.0.0.1", Duration::from_secs(20)),
        "{}",
        client.log_text()
    );
    // Several polls later: no cookies, nothing accepted, nothing sent.
    std::thread::sleep(Duration::from_secs(3));
    let row = authdata_row(&sock).unwrap();
    assert_eq!(row.get(1).map(String::as_str), Some("NTS"));
    assert_eq!(col(&row, 8), 0, "cookies: {row:?}");
    assert!(col(&row, 6) >= 1, "attempts: {row:?}");
    let ntpdata = chronyc(&sock, &["ntpdata", "127.0.0.1"]);
    assert_eq!(field(&ntpdata, "Total valid RX"), Some("0"), "{ntpdata}");
    assert!(!selected(&sock));
    let stats = chronyc(&t.sdir.path().join("chronyd.sock"), &["serverstats"]);
    assert_eq!(field(&stats, "NTP packets received"), Some("0"), "{stats}");
}

#[test]
fn e_cookies_survive_a_restart() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let t = Setup::valid();
    let _server = t.chronyd_server(&t.server_lines());
    let ssock = t.sdir.path().join("chronyd.sock");
    let mut lines = t.kronyd_client_lines(&t.cert);
    lines.push(format!("ntsdumpdir {}", t.cdir.path().display()));
    let mut client = kronyd(t.cdir.path(), &lines);
    let sock = t.client_sock();
    wait_selected(&sock, &client);
    assert_eq!(client.terminate(Duration::from_secs(10)), Some(0));
    let dump = t.cdir.path().join("127.0.0.1.nts");
    let text = std::fs::read_to_string(&dump).unwrap();
    assert!(text.starts_with("NNC0\n127.0.0.1\n"), "{text}");
    let accepted = |s: &str| field(s, "NTS-KE connections accepted").map(str::to_string);
    let before = accepted(&chronyc(&ssock, &["serverstats"]));
    let client = kronyd(t.cdir.path(), &lines);
    wait_selected(&sock, &client);
    let row = authdata_row(&sock).unwrap();
    assert_eq!(col(&row, 6), 0, "no NTS-KE after the restart: {row:?}");
    assert!(nts_row_ok(&row, 7), "{row:?}");
    assert_eq!(accepted(&chronyc(&ssock, &["serverstats"])), before);
    assert!(!dump.exists(), "the dump is used once");
}

#[test]
fn f_nts_nak_leads_to_a_new_nts_ke() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let t = Setup::valid();
    // No ntsdumpdir: a restarted chronyd has new cookie keys.
    let lines: Vec<String> = t
        .server_lines()
        .into_iter()
        .filter(|l| !l.starts_with("ntsdumpdir"))
        .collect();
    let server = t.chronyd_server(&lines);
    let client = kronyd(t.cdir.path(), &t.kronyd_client_lines(&t.cert));
    let sock = t.client_sock();
    wait_selected(&sock, &client);
    assert_eq!(
        col(&authdata_row(&sock).unwrap(), 2),
        1,
        "first NTS-KE context"
    );
    drop(server);
    let _server = t.chronyd_server(&lines);
    // The old cookies get an NTS NAK; the client runs NTS-KE again.
    let ok = wait_until(Duration::from_secs(30), || {
        authdata_row(&sock).is_some_and(|r| col(&r, 2) >= 2 && col(&r, 8) >= 7)
    });
    assert!(ok, "{:?}\n{}", authdata_row(&sock), client.log_text());
}

#[test]
fn g_nocerttimecheck_accepts_an_expired_certificate_before_synchronisation() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let t = Setup::new(make_expired_cert);
    let _server = t.chronyd_server(&t.server_lines());
    let mut lines = t.kronyd_client_lines(&t.cert);
    lines.push("nocerttimecheck 1".into());
    let client = kronyd(t.cdir.path(), &lines);
    let sock = t.client_sock();
    wait_selected(&sock, &client);
    assert!(nts_row_ok(&authdata_row(&sock).unwrap(), 7));
}
