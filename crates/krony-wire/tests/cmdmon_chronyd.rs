//! cmdmon against the real chronyd (Debian's chrony 4.3): a `chronyd -x`
//! (no clock control, own config, ports and socket, killed at the end, also
//! on failure) is asked with our requests and its replies are decoded.
//!
//! The tests skip (with a message) only if chronyd or chronyc is not
//! installed.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use krony_testkit::{CHRONYC, CHRONYD, free_udp_port, installed};
use krony_wire::cmdmon::*;

fn v4(a: u8, b: u8, c: u8, d: u8) -> CmdAddr {
    CmdAddr::Inet4(Ipv4Addr::new(a, b, c, d))
}

/// A chronyd 4.3 on loopback at local stratum 1, its own source, with a
/// Unix socket of ours to ask it over its command socket.
struct Chronyd {
    daemon: krony_testkit::Chronyd,
    unix: UnixDatagram,
}

impl std::ops::Deref for Chronyd {
    type Target = krony_testkit::Chronyd;

    fn deref(&self) -> &krony_testkit::Chronyd {
        &self.daemon
    }
}

impl Chronyd {
    fn start() -> Chronyd {
        let port = free_udp_port();
        let daemon = krony_testkit::Chronyd::start_on(
            port,
            &format!(
                "local stratum 1\nallow 127.0.0.1\n\
                 server 127.0.0.1 port {port} minpoll -2 maxpoll -2 iburst"
            ),
        );
        let unix = UnixDatagram::bind(daemon.dir.path().join("client.sock")).expect("bind unix");
        unix.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        Chronyd { daemon, unix }
    }

    fn try_udp(&self, req: &Request) -> Option<(usize, Reply)> {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        sock.set_read_timeout(Some(Duration::from_millis(300)))
            .expect("timeout");
        let to = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.cmd_port);
        let msg = RequestMsg::new(req.clone(), rand_seq());
        sock.send_to(&msg.to_bytes(), to).ok()?;
        let mut buf = [0u8; 1024];
        let (n, _) = sock.recv_from(&mut buf).ok()?;
        Some((n, check_reply(&msg, &buf[..n])))
    }

    /// Asks over UDP (what any local user may do).
    fn udp(&self, req: &Request) -> Reply {
        (0..3)
            .find_map(|_| self.try_udp(req))
            .map(|(_, r)| r)
            .unwrap_or_else(|| panic!("no UDP reply to {req:?}:\n{}", self.log()))
    }

    /// Sends raw bytes over the Unix socket (full access); the reply, if any.
    fn unix_raw(&self, bytes: &[u8]) -> Option<Vec<u8>> {
        self.unix
            .send_to(bytes, self.sock_path())
            .expect("send unix");
        let mut buf = [0u8; 1024];
        self.unix.recv(&mut buf).ok().map(|n| buf[..n].to_vec())
    }

    fn unix(&self, req: &Request) -> Reply {
        let msg = RequestMsg::new(req.clone(), rand_seq());
        let bytes = self
            .unix_raw(&msg.to_bytes())
            .unwrap_or_else(|| panic!("no reply to {req:?}:\n{}", self.log()));
        check_reply(&msg, &bytes)
    }
}

/// A sequence number that differs between requests.
fn rand_seq() -> u32 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.subsec_nanos() ^ 0x5A5A_5A5A
}

fn check_reply(msg: &RequestMsg, bytes: &[u8]) -> Reply {
    let reply = Reply::parse(bytes).unwrap_or_else(|e| panic!("reply {bytes:02x?}: {e}"));
    assert_eq!(reply.command, msg.request.command());
    assert_eq!(reply.sequence, msg.sequence);
    assert_eq!(bytes.len(), reply.length(), "chronyd sends no padding");
    assert!(bytes.len() <= msg.request.length());
    reply
}

fn ok(reply: Reply) -> ReplyBody {
    assert_eq!(reply.status, Status::SUCCESS, "{reply:?}");
    reply.body
}

#[test]
fn chronyd_answers_our_requests() {
    if !installed(CHRONYD) || !installed(CHRONYC) {
        return;
    }
    let d = Chronyd::start();
    let lo = v4(127, 0, 0, 1);

    let ReplyBody::Tracking(t) = ok(d.udp(&Request::Tracking)) else {
        panic!()
    };
    assert_eq!((t.stratum, t.ref_id, t.leap_status), (1, 0x7F7F_0101, 0));

    // Wait until the source (chronyd itself) has been polled.
    let deadline = Instant::now() + Duration::from_secs(10);
    let sd = loop {
        let ReplyBody::NSources(n) = ok(d.udp(&Request::NSources)) else {
            panic!()
        };
        assert_eq!(n, 1);
        let ReplyBody::SourceData(sd) = ok(d.udp(&Request::SourceData(0))) else {
            panic!()
        };
        if sd.reachability != 0 || Instant::now() > deadline {
            break sd;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!((sd.ip_addr, sd.mode), (lo, 0));
    // minpoll -2, raised by chronyd while the source is not selectable.
    assert!((-2..=0).contains(&sd.poll), "{sd:?}");
    assert_ne!(sd.reachability, 0, "{:?}\n{}", sd, d.log());
    assert_eq!(d.udp(&Request::SourceData(1)).status, Status::NOSUCHSOURCE);

    let ReplyBody::Sourcestats(st) = ok(d.udp(&Request::Sourcestats(0))) else {
        panic!()
    };
    assert_eq!(st.ip_addr, lo);
    let ReplyBody::Activity(a) = ok(d.udp(&Request::Activity)) else {
        panic!()
    };
    // The one source is online, or in its iburst (burst_online).
    assert_eq!(
        (a.online + a.burst_online, a.offline, a.unresolved),
        (1, 0, 0),
        "{a:?}"
    );
    // In 4.3 the newer reports are not open over UDP.
    assert_eq!(
        d.udp(&Request::ServerStats(ServerStatsVersion::V3)).status,
        Status::UNAUTH
    );

    // Over the Unix socket: 4.3 answers SERVER_STATS3 / NTP_DATA even to
    // requests padded for the newer layouts.
    for v in [ServerStatsVersion::V4, ServerStatsVersion::V3] {
        let body = ok(d.unix(&Request::ServerStats(v)));
        let ReplyBody::ServerStats(s, ServerStatsVersion::V3) = body else {
            panic!("{body:?}")
        };
        assert!(s.ntp_hits > 0 && s.cmd_hits > 0, "{s:?}");
    }
    let short = d.unix(&Request::ServerStats(ServerStatsVersion::V2));
    assert_eq!(short.status, Status::BADPKTLENGTH);

    for v in [NtpDataVersion::V2, NtpDataVersion::V1] {
        let body = ok(d.unix(&Request::NtpData(lo, v)));
        let ReplyBody::NtpData(n, NtpDataVersion::V1) = body else {
            panic!("{body:?}")
        };
        assert_eq!((n.remote_addr, n.remote_port, n.mode), (lo, d.ntp_port, 4));
        assert!(n.total_tx_count > 0);
    }

    let ReplyBody::SelectData(s) = ok(d.unix(&Request::SelectData(0))) else {
        panic!()
    };
    assert_eq!(s.ip_addr, lo);
    let ReplyBody::AuthData(au) = ok(d.unix(&Request::AuthData(lo))) else {
        panic!()
    };
    assert_eq!(au.mode, 0);
    let ReplyBody::NtpSourceName(name) = ok(d.unix(&Request::NtpSourceName(lo))) else {
        panic!()
    };
    assert_eq!(name.as_str(), Some("127.0.0.1"));
    let q = ClientAccessesQuery {
        first_index: 0,
        n_clients: 8,
        min_hits: 0,
        reset: 0,
    };
    let ReplyBody::ClientAccesses(c) = ok(d.unix(&Request::ClientAccessesByIndex(q))) else {
        panic!()
    };
    assert!(
        c.clients.iter().any(|c| c.ip == lo && c.ntp_hits > 0),
        "{c:?}"
    );
}

#[test]
fn chronyd_takes_our_write_commands() {
    if !installed(CHRONYD) || !installed(CHRONYC) {
        return;
    }
    let d = Chronyd::start();
    let l2 = Local {
        on_off: 1,
        stratum: 5,
        distance: 1.0,
        orphan: 0,
        ext: None,
    };
    assert_eq!(ok(d.unix(&Request::Local(l2))), ReplyBody::Null);
    let ReplyBody::Tracking(t) = ok(d.udp(&Request::Tracking)) else {
        panic!()
    };
    assert_eq!(t.stratum, 5);
    // LOCAL3 is newer than 4.3.
    let l3 = Local {
        ext: Some(LocalExt::default()),
        ..l2
    };
    assert_eq!(d.unix(&Request::Local(l3)).status, Status::INVALID);
    // Write commands are refused over UDP.
    assert_eq!(d.udp(&Request::Local(l2)).status, Status::UNAUTH);

    let net = Subnet {
        ip: v4(10, 0, 0, 0),
        subnet_bits: 8,
    };
    assert_eq!(ok(d.unix(&Request::Allow(net))), ReplyBody::Null);
    assert_eq!(
        d.unix(&Request::AcCheck(v4(10, 1, 2, 3))).status,
        Status::ACCESSALLOWED
    );
    assert_eq!(
        d.unix(&Request::AcCheck(v4(11, 1, 2, 3))).status,
        Status::ACCESSDENIED
    );

    let add = AddSource {
        kind: SourceKind::SERVER,
        name: Name::from("127.0.0.2"),
        port: u32::from(d.ntp_port),
        minpoll: 6,
        maxpoll: 10,
        max_delay: 3.0,
        max_delay_ratio: 0.0,
        max_delay_dev_ratio: 10.0,
        flags: AddSourceFlags(AddSourceFlags::ONLINE),
        ..AddSource::default()
    };
    assert_eq!(
        ok(d.unix(&Request::AddSource(Box::new(add.clone())))),
        ReplyBody::Null
    );
    assert_eq!(
        d.unix(&Request::AddSource(Box::new(add))).status,
        Status::SOURCEALREADYKNOWN
    );
    let ReplyBody::NSources(n) = ok(d.udp(&Request::NSources)) else {
        panic!()
    };
    assert_eq!(n, 2);
    let target = SourceInt {
        address: v4(127, 0, 0, 2),
        value: 7,
    };
    assert_eq!(ok(d.unix(&Request::ModifyMaxpoll(target))), ReplyBody::Null);
    assert_eq!(
        ok(d.unix(&Request::DelSource(v4(127, 0, 0, 2)))),
        ReplyBody::Null
    );
    assert_eq!(
        d.unix(&Request::DelSource(v4(127, 0, 0, 2))).status,
        Status::NOSUCHSOURCE
    );
    let burst = Burst {
        target: MaskAddress::default(),
        n_good_samples: 1,
        n_total_samples: 2,
    };
    assert_eq!(ok(d.unix(&Request::Burst(burst))), ReplyBody::Null);
    assert_eq!(ok(d.unix(&Request::Reselect)), ReplyBody::Null);
    assert_eq!(ok(d.unix(&Request::CycleLogs)), ReplyBody::Null);
}

/// Our parser's verdict on malformed packets matches chronyd's behaviour:
/// same status when chronyd answers, and a drop when it stays silent.
#[test]
fn chronyd_and_our_parser_agree_on_malformed_requests() {
    if !installed(CHRONYD) || !installed(CHRONYC) {
        return;
    }
    let d = Chronyd::start();
    let base = RequestMsg::new(Request::Tracking, 77).to_bytes();
    let mut cases: Vec<Vec<u8>> = Vec::new();
    let mut v5 = base.clone();
    v5[0] = 5;
    cases.push(v5);
    let mut v4 = base.clone();
    v4[0] = 4;
    cases.push(v4);
    cases.push(base[..103].to_vec());
    cases.push(base[..27].to_vec());
    let mut res = base.clone();
    res[2] = 1;
    cases.push(res);
    let mut not_request = base.clone();
    not_request[1] = 2;
    cases.push(not_request);
    for code in [27u16, 28, 32, 38, 55, 60, 99] {
        let mut b = base.clone();
        b[4..6].copy_from_slice(&code.to_be_bytes());
        cases.push(b);
    }
    for pkt in cases {
        let theirs = d.unix_raw(&pkt).map(|b| {
            let h = ReplyHeader::parse(&b).expect("reply header");
            assert_eq!(b.len(), REPLY_HEADER_LEN);
            h.status
        });
        let ours = match RequestMsg::parse(&pkt) {
            Ok(m) => panic!("accepted {m:?}"),
            Err(rej) => rej.reply().map(|r| r.status),
        };
        assert_eq!(ours, theirs, "packet {:02x?}", &pkt[..8.min(pkt.len())]);
    }
}
