//! Loopback tests of the UDP sockets: real kernel timestamps, pktinfo, the
//! error queue. They use only 127.0.0.1 / ::1 and ephemeral ports.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{SystemTime, UNIX_EPOCH};

use super::*;
use crate::sys::frame::find_udp_payload;
use crate::sys::poll::{Interest, PollSet, Readiness};

fn now() -> UnixTime {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970");
    UnixTime::from_nanos(d.as_nanos() as i64)
}

fn server(local: &str) -> UdpSocket {
    UdpSocket::open(&UdpConfig {
        local: local.parse().expect("addr"),
        remote: None,
        device: None,
        dscp: 46,
        client_only: false,
    })
    .expect("server socket")
}

fn client(remote: SocketAddr) -> UdpSocket {
    let local = SocketAddr::new(
        if remote.is_ipv4() {
            Ipv4Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        },
        0,
    );
    UdpSocket::open(&UdpConfig {
        local,
        remote: Some(remote),
        device: None,
        dscp: 0,
        client_only: true,
    })
    .expect("client socket")
}

/// Waits (up to 2 s) for the socket to be ready as asked.
fn wait(sock: &UdpSocket, interest: Interest) -> Readiness {
    wait_ns(sock, interest, 2_000_000_000)
}

fn wait_ns(sock: &UdpSocket, interest: Interest, timeout_ns: u64) -> Readiness {
    let mut set = PollSet::new();
    let i = set.add(sock, interest);
    set.wait(Some(timeout_ns)).expect("poll");
    set.ready(i)
}

/// Reads the error queue until a TX timestamp for `payload` shows up.
fn tx_timestamp_of(sock: &UdpSocket, payload: &[u8]) -> (ErrQueueMessage, SocketAddr) {
    let mut buf = [0u8; 1024];
    for _ in 0..10 {
        assert!(
            wait(sock, Interest::READABLE_ERRQUEUE).errqueue,
            "error queue ready"
        );
        while let Some(m) = sock.recv_errqueue(&mut buf).expect("errqueue") {
            if let Some(p) = find_udp_payload(&buf[..m.len]) {
                if &buf[p.payload.clone()] == payload {
                    return (m, p.remote);
                }
            }
        }
    }
    panic!("no TX timestamp for our packet");
}

/// Linux turns RX timestamping on for the whole stack lazily (a static key
/// flipped from a work queue when the first socket asks for it), so the
/// first datagrams after a socket enabled it may carry no timestamp. Send
/// warm-up datagrams until one does; the daemon falls back to its own
/// timestamp meanwhile, but the tests below check the kernel path.
fn warm_up_rx_timestamping(srv: &UdpSocket, cli: &UdpSocket) {
    let mut buf = [0u8; 64];
    for _ in 0..100 {
        cli.send(b"warm-up", None, None, false).expect("send");
        assert!(wait(srv, Interest::READABLE).readable);
        let r = srv.recv(&mut buf).expect("recv").expect("datagram");
        if r.rx_timestamp.is_some() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no kernel RX timestamp after 100 datagrams");
}

#[test]
fn loopback_exchange_with_kernel_timestamps_and_pktinfo() {
    let srv = server("127.0.0.1:0");
    assert_eq!(
        srv.timestamp_mode(),
        TimestampMode::Timestamping {
            tx_permanent: false
        }
    );
    let srv_addr = srv.local_addr().expect("local addr");
    assert_ne!(srv_addr.port(), 0);

    let cli = client(srv_addr);
    assert_eq!(
        cli.timestamp_mode(),
        TimestampMode::Timestamping { tx_permanent: true }
    );
    let cli_addr = cli.local_addr().expect("client addr");
    assert_ne!(cli_addr.port(), 0, "random source port after connect");
    assert!(srv.is_ipv4() && cli.is_ipv4());
    warm_up_rx_timestamping(&srv, &cli);

    let request = [0x23u8; 48];
    let before = now();
    assert_eq!(cli.send(&request, None, None, false).expect("send"), 48);

    // The server receives it with a kernel RX timestamp and our local address.
    assert!(wait(&srv, Interest::READABLE).readable);
    let mut buf = [0u8; 1024];
    let r = srv.recv(&mut buf).expect("recv").expect("a datagram");
    let after = now();
    assert_eq!(&buf[..r.len], &request);
    assert!(!r.truncated);
    assert_eq!(r.from, Some(cli_addr));
    let local = r.local.expect("pktinfo");
    assert_eq!(local.addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_ne!(local.if_index, 0);
    let rx = r.rx_timestamp.expect("kernel RX timestamp");
    assert_eq!(rx.kind, TimestampKind::Kernel);
    assert!(
        rx.time.diff_secs(before) >= -1e-3,
        "RX after send: {rx:?} {before:?}"
    );
    assert!(after.diff_secs(rx.time) >= 0.0 && after.diff_secs(rx.time) < 1.0);

    // The client's transmission comes back on its error queue, timestamped.
    let (m, dest) = tx_timestamp_of(&cli, &request);
    let tx = m.tx_timestamp.expect("TX timestamp");
    assert_eq!(tx.kind, TimestampKind::Kernel);
    assert_eq!(dest, srv_addr);
    assert!(tx.time.diff_secs(before) >= 0.0 && rx.time.diff_secs(tx.time) >= 0.0);

    // Nothing more to read.
    assert_eq!(srv.recv(&mut buf).expect("recv"), None);
    assert_eq!(cli.recv_errqueue(&mut buf).expect("errqueue"), None);
}

#[test]
fn server_reply_from_pktinfo_address_with_requested_tx_timestamp() {
    let srv = server("127.0.0.1:0");
    let srv_addr = srv.local_addr().expect("addr");
    let cli = client(srv_addr);
    cli.send(b"request", None, None, false).expect("send");
    assert!(wait(&srv, Interest::READABLE).readable);
    let mut buf = [0u8; 256];
    let r = srv.recv(&mut buf).expect("recv").expect("datagram");
    let from = r.from.expect("sender");

    srv.send(b"response", Some(&from), r.local.as_ref(), true)
        .expect("reply");
    assert!(wait(&cli, Interest::READABLE).readable);
    let got = cli.recv(&mut buf).expect("recv").expect("reply");
    assert_eq!(&buf[..got.len], b"response");
    assert_eq!(got.from, Some(srv_addr));
    let (m, dest) = tx_timestamp_of(&srv, b"response");
    assert!(m.tx_timestamp.is_some());
    assert_eq!(dest, from);

    // Without asking, a server socket gets no TX timestamp.
    srv.send(b"untimed", Some(&from), None, false)
        .expect("send");
    assert!(wait(&cli, Interest::READABLE).readable);
    assert!(!wait_ns(&srv, Interest::READABLE_ERRQUEUE, 200_000_000).errqueue);
}

#[test]
fn truncated_datagrams_are_flagged() {
    let srv = server("127.0.0.1:0");
    let cli = client(srv.local_addr().expect("addr"));
    cli.send(&[1u8; 100], None, None, false).expect("send");
    assert!(wait(&srv, Interest::READABLE).readable);
    let mut small = [0u8; 10];
    let r = srv.recv(&mut small).expect("recv").expect("datagram");
    assert!(r.truncated);
    assert_eq!(r.len, 10);
}

#[test]
fn ipv6_loopback_when_available() {
    let Ok(srv) = UdpSocket::open(&UdpConfig {
        local: "[::1]:0".parse().expect("addr"),
        remote: None,
        device: None,
        dscp: 0,
        client_only: false,
    }) else {
        eprintln!("no IPv6 loopback here; skipped");
        return;
    };
    let srv_addr = srv.local_addr().expect("addr");
    let cli = client(srv_addr);
    assert!(!srv.is_ipv4() && !cli.is_ipv4());
    warm_up_rx_timestamping(&srv, &cli);
    cli.send(b"six", None, None, false).expect("send");
    assert!(wait(&srv, Interest::READABLE).readable);
    let mut buf = [0u8; 64];
    let r = srv.recv(&mut buf).expect("recv").expect("datagram");
    assert_eq!(&buf[..r.len], b"six");
    assert_eq!(r.local.map(|l| l.addr), Some("::1".parse().expect("ip")));
    assert!(r.rx_timestamp.is_some());
}

#[test]
fn bad_device_and_busy_port_are_errors() {
    let err = UdpSocket::open(&UdpConfig {
        local: "127.0.0.1:0".parse().expect("addr"),
        remote: None,
        device: Some("no-such-if0"),
        dscp: 0,
        client_only: false,
    });
    // Unprivileged processes get EPERM, root gets ENODEV; either way an error.
    assert!(err.is_err());

    // A port held by a socket without SO_REUSEPORT cannot be taken.
    let holder = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = holder.local_addr().expect("addr").port();
    let e = UdpSocket::open(&UdpConfig {
        local: SocketAddr::new(Ipv4Addr::LOCALHOST.into(), port),
        remote: None,
        device: None,
        dscp: 0,
        client_only: false,
    })
    .expect_err("port in use");
    assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE));
}

#[test]
fn dscp_values() {
    assert_eq!(dscp_to_tos(0), None);
    assert_eq!(dscp_to_tos(46), Some(184));
    assert_eq!(dscp_to_tos(63), Some(252));
    assert_eq!(dscp_to_tos(64), None);
}

#[test]
fn recv_many_reads_a_batch_with_addresses_and_timestamps() {
    let srv = server("127.0.0.1:0");
    let srv_addr = srv.local_addr().expect("addr");
    let cli = client(srv_addr);
    let cli_addr = cli.local_addr().expect("client addr");
    warm_up_rx_timestamping(&srv, &cli);
    let total = RECV_BATCH + 4;
    for i in 0..total {
        let msg = [u8::try_from(i).expect("small"); 48];
        cli.send(&msg, None, None, false).expect("send");
    }
    assert!(wait(&srv, Interest::READABLE).readable);
    let mut bufs = vec![vec![0u8; 1024]; RECV_BATCH];
    let mut scratch = RecvScratch::default();
    let mut seen = Vec::new();
    let mut calls = 0;
    while seen.len() < total && calls < 100 {
        calls += 1;
        let got = srv.recv_many(&mut bufs, &mut scratch).expect("recvmmsg");
        assert!(got.len() <= RECV_BATCH);
        for (r, buf) in got.iter().zip(&bufs) {
            assert_eq!(r.len, 48);
            assert!(!r.truncated);
            assert_eq!(r.from, Some(cli_addr));
            let local = r.local.expect("pktinfo");
            assert_eq!(local.addr, IpAddr::V4(Ipv4Addr::LOCALHOST));
            let rx = r.rx_timestamp.expect("kernel RX timestamp");
            assert_eq!(rx.kind, TimestampKind::Kernel);
            seen.push(buf[0]);
        }
    }
    // In order, each once, and nothing more.
    let expected: Vec<u8> = (0..total)
        .map(|i| u8::try_from(i).expect("small"))
        .collect();
    assert_eq!(seen, expected);
    assert!(
        calls < total,
        "batched: {calls} calls for {total} datagrams"
    );
    assert!(
        srv.recv_many(&mut bufs, &mut scratch)
            .expect("recvmmsg")
            .is_empty()
    );
}
