//! Symmetric keys between kronyd, Debian's chronyd 4.3 and ntpdig (issue
//! 4): the same `keyfile` on both sides, every daemon with `-x`.
//!
//! - kronyd clients with `key N` (MD5, SHA256 sent as NTPv3, AES128-CMAC,
//!   SHA3-512) synchronise to a chronyd server, and `authdata` shows the
//!   keys; a client whose key differs gets no valid response.
//! - a chronyd client with `key N` gets authenticated responses from a
//!   kronyd server, for every key type chronyd 4.3 supports.
//! - ntpdig (in a network namespace: it needs port 123) verifies kronyd's
//!   MD5 and AES-CMAC responses, and rejects them with a wrong key.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use daemon_support::*;

/// Keys of every type chronyd 4.3 (built with Nettle) supports.
const KEYS: &str = "\
# id type key
1 MD5 HEX:0102030405060708090a0b0c0d0e0f10
2 SHA256 HEX:1112131415161718191a1b1c1d1e1f20
3 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1
4 SHA3-512 ASCII:some-long-password
5 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70
6 SHA384 tulipstulips
7 SHA512 HEX:00112233445566778899aabbccddeeff
8 SHA3-224 hyacinths
9 SHA3-256 HEX:ffeeddccbbaa99887766554433221100
10 SHA3-384 crocuses-crocuses
11 AES256 HEX:37DDCBC67BB902BCB8E995977FAB4D2B5642F5B32EBCEEE421921D97E5CBFE39
";

/// Writes `text` as a keyfile only its owner may read.
fn write_keys(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o600);
    std::fs::set_permissions(&path, mode).unwrap();
    path
}

/// The `keyfile` directive for `path`.
fn keyfile_line(path: &Path) -> String {
    format!("keyfile {}", path.display())
}

/// A kronyd client of 127.0.0.1:`port` with `key`, in its own directory.
fn kronyd_client(dir: &Path, port: u16, keyfile: &Path, key: u32) -> Proc {
    let mut conf = kronyd_base(dir);
    conf.extend([
        format!("server 127.0.0.1 port {port} iburst minpoll -2 maxpoll 0 key {key}"),
        keyfile_line(keyfile),
        "port 0".into(),
    ]);
    let conf = write_conf(dir, "kronyd.conf", &conf);
    start_kronyd(dir, &conf, &[], &[])
}

#[test]
fn kronyd_clients_with_keys_synchronise_to_chronyd() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keyfile = write_keys(d, "chrony.keys", KEYS);
    let port = free_port();
    let chronyd = start_chronyd_server(d, port, &[keyfile_line(&keyfile)]);
    // key, authdata Type and KLen, NTP version the client sends.
    let cases = [
        (1, 1, 128, "4"),
        (2, 3, 128, "3"),
        (3, 13, 128, "4"),
        (4, 9, 144, "3"),
    ];
    let dirs: Vec<_> = cases.iter().map(|_| tempfile::tempdir().unwrap()).collect();
    let clients: Vec<Proc> = cases
        .iter()
        .zip(&dirs)
        .map(|((key, ..), cd)| kronyd_client(cd.path(), port, &keyfile, *key))
        .collect();
    for (((key, ty, bits, version), cd), client) in cases.iter().zip(&dirs).zip(&clients) {
        assert!(
            client.wait_log("Selected source 127.0.0.1", Duration::from_secs(10)),
            "key {key}\nkronyd log:\n{}\nchronyd log:\n{}",
            client.log_text(),
            chronyd.log_text()
        );
        let sock = cd.path().join("kronyd.sock");
        let auth = chronyc(&sock, &["authdata"]);
        let row = auth.lines().find(|l| l.starts_with("127.0.0.1")).unwrap();
        let cols: Vec<&str> = row.split_whitespace().collect();
        assert_eq!(
            cols[1..5],
            ["SK", &key.to_string(), &ty.to_string(), &bits.to_string()],
            "{auth}"
        );
        let ntp = chronyc(&sock, &["ntpdata"]);
        assert_eq!(field(&ntp, "Authenticated"), Some("Yes"), "{ntp}");
        assert_eq!(field(&ntp, "Version"), Some(*version), "{ntp}");
        assert!(field_u64(&ntp, "Total valid RX") >= 3, "{ntp}");
        assert!(client.log_text().contains("Loaded 11 symmetric keys"));
    }
    let stats = chronyc(&d.join("chronyd.sock"), &["serverstats"]);
    assert!(
        field_u64(&stats, "Authenticated NTP packets") >= 12,
        "{stats}"
    );
}

#[test]
fn a_wrong_or_missing_key_gets_no_valid_response() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keyfile = write_keys(d, "chrony.keys", KEYS);
    let wrong = write_keys(
        d,
        "wrong.keys",
        "1 MD5 HEX:0102030405060708090a0b0c0d0e0f11\n",
    );
    let port = free_port();
    let _chronyd = start_chronyd_server(d, port, &[keyfile_line(&keyfile)]);
    let wrong_dir = tempfile::tempdir().unwrap();
    let wrong_client = kronyd_client(wrong_dir.path(), port, &wrong, 1);
    let missing_dir = tempfile::tempdir().unwrap();
    let missing_client = kronyd_client(missing_dir.path(), port, &wrong, 3);
    assert!(missing_client.wait_log("Key 3 is missing", Duration::from_secs(5)));
    std::thread::sleep(Duration::from_secs(3));
    for (client, cd) in [(&wrong_client, &wrong_dir), (&missing_client, &missing_dir)] {
        let log = client.log_text();
        assert!(!log.contains("Selected source"), "{log}");
        let sock = cd.path().join("kronyd.sock");
        let ntp = chronyc(&sock, &["ntpdata"]);
        assert_eq!(field_u64(&ntp, "Total valid RX"), 0, "{ntp}");
    }
    // The missing key: nothing is sent (chrony does not send requests it
    // cannot authenticate).
    let ntp = chronyc(&missing_dir.path().join("kronyd.sock"), &["ntpdata"]);
    assert_eq!(field_u64(&ntp, "Total TX"), 0, "{ntp}");
}

#[test]
fn chronyd_clients_with_keys_get_authenticated_responses_from_kronyd() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let keyfile = write_keys(d, "chrony.keys", KEYS);
    let port = free_port();
    let kronyd = start_kronyd_server(d, port, &[keyfile_line(&keyfile)], &[]);
    for key in 1..=11 {
        let cd = tempfile::tempdir().unwrap();
        let chronyd = start_chronyd(
            cd.path(),
            &[
                format!("server 127.0.0.1 port {port} iburst minpoll -2 maxpoll -2 key {key}"),
                keyfile_line(&keyfile),
                "port 0".into(),
            ],
        );
        let sock = cd.path().join("chronyd.sock");
        let mut ntp = String::new();
        let valid = wait_until(Duration::from_secs(10), || {
            ntp = chronyc(&sock, &["ntpdata"]);
            field_u64(&ntp, "Total valid RX") >= 2
        });
        assert!(
            valid,
            "key {key}\n{ntp}\nchronyd log:\n{}\nkronyd log:\n{}",
            chronyd.log_text(),
            kronyd.log_text()
        );
        assert_eq!(field(&ntp, "Authenticated"), Some("Yes"), "{ntp}");
    }
    let stats = chronyc(&d.join("kronyd.sock"), &["serverstats"]);
    assert!(
        field_u64(&stats, "Authenticated NTP packets") >= 22,
        "{stats}"
    );
}

/// `rekey`: a key added to kronyd's keyfile while it runs is used after
/// `chronyc rekey`, and `authdata` shows it.
#[test]
fn rekey_reads_the_keyfile_again() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let server_keys = write_keys(d, "server.keys", "1 MD5 tulip\n");
    let client_keys = write_keys(
        d,
        "client.keys",
        "2 SHA1 HEX:933F62BE1D604E68A81B557F18CFA200483F5B70\n",
    );
    let port = free_port();
    let _chronyd = start_chronyd_server(d, port, &[keyfile_line(&server_keys)]);
    let cd = tempfile::tempdir().unwrap();
    let client = kronyd_client(cd.path(), port, &client_keys, 1);
    assert!(client.wait_log("Key 1 is missing", Duration::from_secs(5)));
    let sock = cd.path().join("kronyd.sock");
    let auth = chronyc(&sock, &["authdata"]);
    assert!(auth.contains("SK     1    0    0"), "{auth}");
    write_keys(d, "client.keys", "1 MD5 tulip\n");
    assert_eq!(chronyc(&sock, &["rekey"]).trim(), "200 OK");
    assert!(
        client.wait_log("Selected source 127.0.0.1", Duration::from_secs(10)),
        "{}",
        client.log_text()
    );
    let auth = chronyc(&sock, &["authdata"]);
    assert!(auth.contains("SK     1    1   40"), "{auth}");
}

/// `ntpdig -a KEY -k KEYFILE 127.0.0.1` in `ns`: success and its output.
fn ntpdig(ns: &Netns, key: u32, keyfile: &Path) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns.name(), NTPDIG, "-t", "1", "-a"])
        .arg(key.to_string())
        .arg("-k")
        .arg(keyfile)
        .arg("127.0.0.1")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success() && text.contains("+/-"), text)
}

#[test]
fn ntpdig_verifies_kronyd_responses() {
    if !installed(&[NTPDIG]) {
        return;
    }
    let Some(ns) = Netns::create("keys") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // ntpsec's format: keys of up to 20 characters are ASCII, longer hex.
    let keyfile = write_keys(
        d,
        "chrony.keys",
        "1 MD5 abcdefghijklmnop\n3 AES128 HEX:7EA62AE64D190114D46D5A082F948EC1\n",
    );
    let ntp_keys = write_keys(
        d,
        "ntp.keys",
        "1 MD5 abcdefghijklmnop\n3 AES 7EA62AE64D190114D46D5A082F948EC1\n",
    );
    let wrong_keys = write_keys(
        d,
        "wrong.keys",
        "1 MD5 abcdefghijklmnoX\n3 AES 7EA62AE64D190114D46D5A082F948EC2\n",
    );
    let kronyd = start_kronyd_server(d, 123, &[keyfile_line(&keyfile)], &ns.exec_prefix());
    for key in [1, 3] {
        let mut last = String::new();
        let ok = wait_until(Duration::from_secs(10), || {
            let (ok, text) = ntpdig(&ns, key, &ntp_keys);
            last = text;
            ok
        });
        assert!(ok, "key {key}: {last}\nkronyd log:\n{}", kronyd.log_text());
        assert!(last.contains(" s10 "), "{last}");
        // kronyd, as chronyd, does not answer a request whose MAC fails.
        let (ok, text) = ntpdig(&ns, key, &wrong_keys);
        assert!(!ok, "key {key} accepted with a wrong key: {text}");
        assert!(text.contains("no eligible servers"), "{text}");
    }
}
