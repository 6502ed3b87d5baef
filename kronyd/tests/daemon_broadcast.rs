//! `broadcast INTERVAL ADDRESS PORT`: kronyd and Debian's chronyd (4.3),
//! both with `-x` and the same configuration, send NTP broadcast packets to
//! a receiver on loopback; the packets are compared field by field.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::net::UdpSocket;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemon_support::*;

/// NTP era 0 starts 2208988800 s before the Unix epoch.
const NTP_UNIX_OFFSET: f64 = 2_208_988_800.0;

/// One received packet and when it arrived (Unix seconds).
struct Got {
    bytes: Vec<u8>,
    from_port: u16,
    at: f64,
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The 64-bit timestamp at `off` as Unix seconds (0 for a zero timestamp).
fn ts(b: &[u8], off: usize) -> f64 {
    let secs = u32::from_be_bytes(b[off..off + 4].try_into().unwrap());
    let frac = u32::from_be_bytes(b[off + 4..off + 8].try_into().unwrap());
    if secs == 0 && frac == 0 {
        return 0.0;
    }
    f64::from(secs) - NTP_UNIX_OFFSET + f64::from(frac) / 4_294_967_296.0
}

/// Receives `n` packets on `sock` (10 s each at most).
fn receive(sock: &UdpSocket, n: usize) -> Vec<Got> {
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    for _ in 0..n {
        let Ok((len, from)) = sock.recv_from(&mut buf) else {
            break;
        };
        out.push(Got {
            bytes: buf[..len].to_vec(),
            from_port: from.port(),
            at: unix_now(),
        });
    }
    out
}

/// The configuration both daemons get: local stratum 5, a server port, and
/// broadcasts every 2 s to the receiver's port.
fn lines(server_port: u16, to_port: u16) -> Vec<String> {
    vec![
        "local stratum 5".into(),
        format!("port {server_port}"),
        format!("broadcast 2 127.0.0.1 {to_port}"),
    ]
}

/// Checks the packets of one daemon: every 2 s (plus up to 2% and the
/// scheduling slack), mode 5, version 4, from the server port, zero origin
/// and receive timestamps, a transmit timestamp close to the arrival.
fn check(name: &str, got: &[Got], server_port: u16) {
    assert_eq!(got.len(), 3, "{name}: packets received");
    for g in got {
        let b = &g.bytes;
        assert_eq!(b.len(), 48, "{name}: no extension fields or MAC");
        assert_eq!(b[0], 0x25, "{name}: LI 0, VN 4, mode 5");
        assert_eq!(
            g.from_port, server_port,
            "{name}: from the NTP server socket"
        );
        assert_eq!(
            (ts(b, 24), ts(b, 32)),
            (0.0, 0.0),
            "{name}: origin, receive"
        );
        let tx = ts(b, 40);
        assert!((g.at - tx).abs() < 0.5, "{name}: transmit {tx} at {}", g.at);
    }
    for w in got.windows(2) {
        let gap = w[1].at - w[0].at;
        assert!((1.8..3.0).contains(&gap), "{name}: interval {gap}");
    }
}

#[test]
fn kronyd_broadcasts_as_chronyd_does() {
    if !installed(&[CHRONYD]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let kdir = d.join("k");
    let cdir = d.join("c");
    std::fs::create_dir(&kdir).unwrap();
    std::fs::create_dir(&cdir).unwrap();
    let k_rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let c_rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (k_port, c_port) = (free_port(), free_port());
    let mut conf = kronyd_base(&kdir);
    conf.extend(lines(k_port, k_rx.local_addr().unwrap().port()));
    let conf = write_conf(&kdir, "kronyd.conf", &conf);
    let kronyd = start_kronyd(&kdir, &conf, &[], &[]);
    let c_to = c_rx.local_addr().unwrap().port();
    let chronyd = start_chronyd(&cdir, &lines(c_port, c_to));
    // Both at once, so that each packet's arrival time is when it came.
    let c_thread = std::thread::spawn(move || receive(&c_rx, 3));
    let k = receive(&k_rx, 3);
    let c = c_thread.join().unwrap();
    let logs = format!(
        "kronyd:\n{}\nchronyd:\n{}",
        kronyd.log_text(),
        chronyd.log_text()
    );
    check("chronyd", &c, c_port);
    check("kronyd", &k, k_port);
    // The same header: stratum, poll (log2 2 = 1), root delay and
    // dispersion, reference ID (LOCAL); the precision is each daemon's own
    // measurement of the clock.
    let (kb, cb) = (&k[0].bytes, &c[0].bytes);
    assert_eq!(kb[1..3], cb[1..3], "stratum, poll\n{logs}");
    assert_eq!(
        kb[4..16],
        cb[4..16],
        "root delay, dispersion, refid\n{logs}"
    );
    assert_eq!(&kb[12..16], b"\x7f\x7f\x01\x01");
    // The reference time: when the local reference took over, before the
    // first broadcast.
    for (name, g) in [("kronyd", &k), ("chronyd", &c)] {
        let r = ts(&g[0].bytes, 16);
        assert!(r > 0.0 && r <= ts(&g[0].bytes, 40), "{name}: ref time {r}");
    }
    assert!(!kronyd.log_text().contains("broadcast directive"), "{logs}");
}
