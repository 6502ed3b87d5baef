//! cmdmon against the real thing: Debian's chrony 4.3.
//!
//! (a) What `chronyc` sends is caught on a UDP socket and parsed with our
//!     parser; for some commands we answer with our encoder and check what
//!     chronyc prints. (b) A real `chronyd -x` (no clock control, own config,
//!     ports and socket, killed at the end) is asked with our requests and
//!     its replies are decoded.
//!
//! The tests skip (with a message) only if chronyc/chronyd are not installed.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use krony_wire::cmdmon::*;

const CHRONYC: &str = "/usr/bin/chronyc";
const CHRONYD: &str = "/usr/sbin/chronyd";

fn installed(bin: &str) -> bool {
    if Path::new(bin).exists() {
        return true;
    }
    eprintln!("SKIP: {bin} is not installed");
    false
}

fn v4(a: u8, b: u8, c: u8, d: u8) -> CmdAddr {
    CmdAddr::Inet4(Ipv4Addr::new(a, b, c, d))
}

/// `x` as it arrives after a trip through the 32-bit Float.
fn q(x: f64) -> f64 {
    Float::from_f64(x).to_f64()
}

// ---------------------------------------------------------------- (a) --

/// What chronyc sent and printed.
struct Capture {
    /// (length on the wire, parsed request) per packet.
    requests: Vec<(usize, Request)>,
    stdout: String,
}

/// Runs `chronyc <cmd>` against a socket of ours. `respond` may answer a
/// request with a reply body (status SUCCESS); otherwise chronyc times out.
fn chronyc_capture(cmd: &str, mut respond: impl FnMut(&Request) -> Option<ReplyBody>) -> Capture {
    let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    sock.set_read_timeout(Some(Duration::from_millis(20)))
        .expect("timeout");
    let port = sock.local_addr().expect("addr").port().to_string();
    let mut child = Command::new(CHRONYC)
        .args([
            "-n",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-m",
            "timeout 300",
            "retries 0",
            cmd,
        ])
        .env("TZ", "UTC")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chronyc");
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut requests = Vec::new();
    let mut buf = [0u8; 2048];
    loop {
        if let Ok((n, from)) = sock.recv_from(&mut buf) {
            let pkt = &buf[..n];
            let msg = RequestMsg::parse(pkt)
                .unwrap_or_else(|e| panic!("`{cmd}`: chronyc sent {pkt:02x?}: {e}"));
            if let Some(body) = respond(&msg.request) {
                let reply = Reply {
                    command: msg.request.command(),
                    status: Status::SUCCESS,
                    sequence: msg.sequence,
                    body,
                };
                let bytes = reply.to_bytes().expect("emit reply");
                assert!(bytes.len() <= n, "reply longer than request");
                sock.send_to(&bytes, from).expect("send");
            }
            requests.push((n, msg.request));
            continue;
        }
        if child.try_wait().expect("wait").is_some() || Instant::now() > deadline {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let mut stdout = String::new();
    if let Some(mut out) = child.stdout.take() {
        out.read_to_string(&mut stdout).expect("stdout");
    }
    Capture { requests, stdout }
}

/// The single request chronyc sends for `cmd` when nobody answers.
fn first_request(cmd: &str) -> (usize, Request) {
    let cap = chronyc_capture(cmd, |_| None);
    assert!(!cap.requests.is_empty(), "`{cmd}`: chronyc sent nothing");
    cap.requests[0].clone()
}

#[test]
fn chronyc_requests_parse_to_the_expected_values() {
    if !installed(CHRONYC) {
        return;
    }
    let src = v4(192, 0, 2, 1);
    let net24 = MaskAddress {
        mask: v4(255, 255, 255, 0),
        address: v4(192, 0, 2, 0),
    };
    let si = |value| SourceInt {
        address: src,
        value,
    };
    let sf = |value| SourceFloat {
        address: src,
        value: q(value),
    };
    let cases: Vec<(&str, Request)> = vec![
        ("tracking", Request::Tracking),
        ("sources", Request::NSources),
        ("sourcestats", Request::NSources),
        ("selectdata", Request::NSources),
        ("authdata", Request::NSources),
        ("activity", Request::Activity),
        // chrony 4.3 pads SERVER_STATS and NTP_DATA for its older replies.
        ("serverstats", Request::ServerStats(ServerStatsVersion::V3)),
        (
            "ntpdata 192.0.2.1",
            Request::NtpData(src, NtpDataVersion::V1),
        ),
        (
            "clients",
            Request::ClientAccessesByIndex(ClientAccessesQuery {
                first_index: 0,
                n_clients: 8,
                min_hits: 0,
                reset: 0,
            }),
        ),
        (
            "clients -p 5 -r",
            Request::ClientAccessesByIndex(ClientAccessesQuery {
                first_index: 0,
                n_clients: 8,
                min_hits: 5,
                reset: 1,
            }),
        ),
        ("sourcename 192.0.2.1", Request::NtpSourceName(src)),
        ("delete 192.0.2.1", Request::DelSource(src)),
        (
            "burst 2/4 192.0.2.0/24",
            Request::Burst(Burst {
                target: net24,
                n_good_samples: 2,
                n_total_samples: 4,
            }),
        ),
        (
            "burst 1/2",
            Request::Burst(Burst {
                target: MaskAddress::default(),
                n_good_samples: 1,
                n_total_samples: 2,
            }),
        ),
        ("online 192.0.2.0/24", Request::Online(net24)),
        ("offline", Request::Offline(MaskAddress::default())),
        ("onoffline", Request::OnOffline),
        (
            "allow 10.0.0.0/8",
            Request::Allow(Subnet {
                ip: v4(10, 0, 0, 0),
                subnet_bits: 8,
            }),
        ),
        (
            "allow 192.0.2.7",
            Request::Allow(Subnet {
                ip: v4(192, 0, 2, 7),
                subnet_bits: 32,
            }),
        ),
        (
            "allow all",
            Request::AllowAll(Subnet {
                ip: CmdAddr::Unspec,
                subnet_bits: 0,
            }),
        ),
        (
            "deny all",
            Request::DenyAll(Subnet {
                ip: CmdAddr::Unspec,
                subnet_bits: 0,
            }),
        ),
        (
            "deny 10.1.0.0/16",
            Request::Deny(Subnet {
                ip: v4(10, 1, 0, 0),
                subnet_bits: 16,
            }),
        ),
        (
            "cmdallow 192.168.0.0/16",
            Request::CmdAllow(Subnet {
                ip: v4(192, 168, 0, 0),
                subnet_bits: 16,
            }),
        ),
        ("cmdallow all", Request::CmdAllowAll(Subnet::default())),
        (
            "cmddeny 10.0.0.0/8",
            Request::CmdDeny(Subnet {
                ip: v4(10, 0, 0, 0),
                subnet_bits: 8,
            }),
        ),
        (
            "cmddeny all 10.0.0.0/8",
            Request::CmdDenyAll(Subnet {
                ip: v4(10, 0, 0, 0),
                subnet_bits: 8,
            }),
        ),
        ("accheck 192.0.2.9", Request::AcCheck(v4(192, 0, 2, 9))),
        (
            "cmdaccheck 192.0.2.9",
            Request::CmdAcCheck(v4(192, 0, 2, 9)),
        ),
        (
            "local stratum 5 orphan",
            Request::Local(Local {
                on_off: 1,
                stratum: 5,
                distance: 1.0,
                orphan: 1,
                ext: None,
            }),
        ),
        (
            "local stratum 3 distance 0.5",
            Request::Local(Local {
                on_off: 1,
                stratum: 3,
                distance: 0.5,
                orphan: 0,
                ext: None,
            }),
        ),
        ("local off", Request::Local(Local::default())),
        ("makestep", Request::MakeStep),
        (
            "makestep 0.1 3",
            Request::ModifyMakestep(ModifyMakestep {
                limit: 3,
                threshold: q(0.1),
            }),
        ),
        ("dfreq 1.5", Request::Dfreq(1.5)),
        ("doffset -0.25", Request::Doffset(-0.25)),
        ("minpoll 192.0.2.1 4", Request::ModifyMinpoll(si(4))),
        ("maxpoll 192.0.2.1 9", Request::ModifyMaxpoll(si(9))),
        ("polltarget 192.0.2.1 12", Request::ModifyPolltarget(si(12))),
        ("minstratum 192.0.2.1 3", Request::ModifyMinstratum(si(3))),
        ("maxdelay 192.0.2.1 0.3", Request::ModifyMaxdelay(sf(0.3))),
        (
            "maxdelayratio 192.0.2.1 2.5",
            Request::ModifyMaxdelayratio(sf(2.5)),
        ),
        (
            "maxdelaydevratio 192.0.2.1 5",
            Request::ModifyMaxdelaydevratio(sf(5.0)),
        ),
        ("maxupdateskew 50", Request::ModifyMaxupdateskew(50.0)),
        ("reselectdist 0.001", Request::ReselectDistance(q(0.001))),
        ("reselect", Request::Reselect),
        ("refresh", Request::Refresh),
        ("reload sources", Request::ReloadSources),
        ("reset sources", Request::ResetSources),
        ("cyclelogs", Request::CycleLogs),
        ("dump", Request::Dump),
        ("rekey", Request::Rekey),
        ("writertc", Request::WriteRtc),
        ("trimrtc", Request::TrimRtc),
        ("rtcdata", Request::RtcReport),
        ("shutdown", Request::Shutdown),
        ("manual on", Request::Manual(1)),
        ("manual off", Request::Manual(0)),
        ("manual reset", Request::Manual(2)),
        ("manual list", Request::ManualList),
        ("manual delete 2", Request::ManualDelete(2)),
        ("smoothing", Request::Smoothing),
        ("smoothtime reset", Request::SmoothTime(0)),
        ("smoothtime activate", Request::SmoothTime(1)),
    ];
    // chronyc mostly waits for its 300 ms timeout: run 8 at a time.
    for chunk in cases.chunks(8) {
        std::thread::scope(|s| {
            for (cmd, want) in chunk {
                s.spawn(move || {
                    let (len, got) = first_request(cmd);
                    assert_eq!(&got, want, "`{cmd}`");
                    assert_eq!(len, want.length(), "`{cmd}`: padded length");
                });
            }
        });
    }
}

#[test]
fn chronyc_settime_sends_the_time() {
    if !installed(CHRONYC) {
        return;
    }
    let (len, req) = first_request("settime 2024-01-01 12:00:00");
    assert_eq!(len, 40);
    let Request::Settime(ts) = req else {
        panic!("{req:?}")
    };
    assert_eq!(
        ts.to_unix(),
        krony_wire::UnixTime::from_secs_nanos(1_704_110_400, 0)
    );
}

#[test]
fn chronyc_add_source_carries_every_option() {
    if !installed(CHRONYC) {
        return;
    }
    let cmd = "add server 192.0.2.5 port 1123 minpoll 4 maxpoll 8 presend 9 iburst burst prefer \
               trust require xleave key 7 maxdelay 0.25 maxdelayratio 3 maxdelaydevratio 7 \
               mindelay 0.0001 asymmetry 0.5 offset 0.001 minstratum 2 polltarget 20 version 3 \
               minsamples 4 maxsamples 16 filter 5 maxdelayquant 0.2";
    let (len, req) = first_request(cmd);
    assert_eq!(len, 372);
    let Request::AddSource(a) = req else {
        panic!("{req:?}")
    };
    assert_eq!(a.kind, SourceKind::SERVER);
    assert_eq!(a.name.as_str(), Some("192.0.2.5"));
    assert_eq!(
        (a.port, a.minpoll, a.maxpoll, a.presend_minpoll),
        (1123, 4, 8, 9)
    );
    assert_eq!((a.min_stratum, a.poll_target, a.version), (2, 20, 3));
    assert_eq!(
        (a.min_samples, a.max_samples, a.authkey, a.filter_length),
        (4, 16, 7, 5)
    );
    assert_eq!(a.max_delay, q(0.25));
    assert_eq!(a.max_delay_ratio, q(3.0));
    assert_eq!(a.max_delay_dev_ratio, q(7.0));
    assert_eq!(a.min_delay, q(0.0001));
    assert_eq!(a.asymmetry, q(0.5));
    assert_eq!(a.offset, q(0.001));
    assert_eq!(a.max_delay_quant, q(0.2));
    let f = AddSourceFlags::ONLINE
        | AddSourceFlags::IBURST
        | AddSourceFlags::BURST
        | AddSourceFlags::PREFER
        | AddSourceFlags::TRUST
        | AddSourceFlags::REQUIRE
        | AddSourceFlags::INTERLEAVED;
    assert_eq!(a.flags, AddSourceFlags(f));
    assert_eq!(a.max_unreach, 0, "reserved in 4.3");

    let (_, req) = first_request("add pool 192.0.2.6 maxsources 3 offline noselect");
    let Request::AddSource(p) = req else {
        panic!("{req:?}")
    };
    assert_eq!((p.kind, p.max_sources), (SourceKind::POOL, 3));
    assert_eq!(p.flags, AddSourceFlags(AddSourceFlags::NOSELECT));
    let (_, req) = first_request("add peer 192.0.2.7 auto_offline");
    let Request::AddSource(p) = req else {
        panic!("{req:?}")
    };
    assert_eq!(p.kind, SourceKind::PEER);
    assert_eq!(
        p.flags,
        AddSourceFlags(AddSourceFlags::ONLINE | AddSourceFlags::AUTOOFFLINE)
    );
}

#[test]
fn chronyc_prints_our_replies() {
    if !installed(CHRONYC) {
        return;
    }
    let src = v4(192, 0, 2, 1);
    let tracking = chronyc_capture("tracking", |_| {
        Some(ReplyBody::Tracking(Tracking {
            ref_id: 0xC000_0201,
            ip_addr: src,
            stratum: 3,
            freq_ppm: -1.0,
            skew_ppm: 0.5,
            last_update_interval: 64.0,
            ref_time: Timespec::from_unix(krony_wire::UnixTime::from_secs_nanos(1_704_110_400, 0)),
            ..Tracking::default()
        }))
    });
    let out = &tracking.stdout;
    assert!(
        out.contains("Reference ID    : C0000201 (192.0.2.1)"),
        "{out}"
    );
    assert!(out.contains("Stratum         : 3"), "{out}");
    assert!(
        out.contains("Ref time (UTC)  : Mon Jan 01 12:00:00 2024"),
        "{out}"
    );
    assert!(out.contains("Frequency       : 1.000 ppm slow"), "{out}");
    assert!(out.contains("Update interval : 64.0 seconds"), "{out}");

    let sources = chronyc_capture("sources", |req| match req {
        Request::NSources => Some(ReplyBody::NSources(1)),
        Request::SourceData(0) => Some(ReplyBody::SourceData(SourceData {
            ip_addr: src,
            poll: 6,
            stratum: 2,
            state: 0,
            mode: 0,
            reachability: 0o377,
            since_sample: 12,
            ..SourceData::default()
        })),
        _ => None,
    });
    let reqs: Vec<_> = sources.requests.iter().map(|(_, r)| r.clone()).collect();
    assert_eq!(reqs, [Request::NSources, Request::SourceData(0)]);
    assert!(
        sources
            .stdout
            .contains("^* 192.0.2.1                     2   6   377    12"),
        "{}",
        sources.stdout
    );

    let stats = ServerStats {
        ntp_hits: 12345,
        ntp_span_seconds: 77,
        ..ServerStats::default()
    };
    let ss = chronyc_capture("serverstats", |req| match req {
        Request::ServerStats(v) => Some(ReplyBody::ServerStats(stats, *v)),
        _ => None,
    });
    assert!(
        ss.stdout.contains("NTP packets received       : 12345"),
        "{}",
        ss.stdout
    );
    assert!(
        ss.stdout.contains("NTP timestamp span         : 77"),
        "{}",
        ss.stdout
    );

    let nd = chronyc_capture("ntpdata 192.0.2.1", |req| match req {
        Request::NtpData(a, v) => Some(ReplyBody::NtpData(
            Box::new(NtpData {
                remote_addr: *a,
                local_addr: v4(127, 0, 0, 1),
                remote_port: 123,
                version: 4,
                mode: 4,
                stratum: 2,
                flags: 0x3ff,
                tx_tss_char: b'K',
                rx_tss_char: b'H',
                total_tx_count: 42,
                ..NtpData::default()
            }),
            *v,
        )),
        _ => None,
    });
    let out = &nd.stdout;
    assert!(
        out.contains("Remote address  : 192.0.2.1 (C0000201)"),
        "{out}"
    );
    assert!(out.contains("Remote port     : 123"), "{out}");
    assert!(out.contains("Stratum         : 2"), "{out}");
    assert!(out.contains("NTP tests       : 111 111 1111"), "{out}");
    assert!(out.contains("RX timestamping : Hardware"), "{out}");
    assert!(out.contains("Total TX        : 42"), "{out}");

    let act = chronyc_capture("activity", |_| {
        Some(ReplyBody::Activity(Activity {
            online: 3,
            offline: 1,
            unresolved: 2,
            ..Activity::default()
        }))
    });
    assert!(act.stdout.contains("3 sources online"), "{}", act.stdout);
    assert!(
        act.stdout.contains("2 sources with unknown address"),
        "{}",
        act.stdout
    );
}

// ---------------------------------------------------------------- (b) --

/// A chronyd 4.3 on loopback with its own config; killed when dropped.
struct Chronyd {
    child: Child,
    dir: tempfile::TempDir,
    ntp_port: u16,
    cmd_port: u16,
    unix: UnixDatagram,
}

impl Drop for Chronyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// chronyd drops root privileges to its compiled-in user unless told
/// otherwise; as non-root it must be told not to insist on root.
fn user_args() -> Vec<String> {
    let out = Command::new("id").arg("-un").output().expect("id");
    let user = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if user == "root" {
        vec!["-u".into(), user]
    } else {
        vec!["-U".into(), "-u".into(), user]
    }
}

impl Chronyd {
    fn start() -> Chronyd {
        let dir = tempfile::tempdir().expect("tempdir");
        // chronyd refuses a socket directory that others may access.
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(dir.path(), mode).expect("chmod");
        let (ntp_port, cmd_port) = (free_udp_port(), free_udp_port());
        let d = dir.path().display();
        let conf = format!(
            "port {ntp_port}\nbindaddress 127.0.0.1\ncmdport {cmd_port}\n\
             bindcmdaddress 127.0.0.1\nbindcmdaddress {d}/chronyd.sock\npidfile {d}/chronyd.pid\n\
             local stratum 1\nallow 127.0.0.1\n\
             server 127.0.0.1 port {ntp_port} minpoll -2 maxpoll -2 iburst\n"
        );
        std::fs::write(dir.path().join("chronyd.conf"), conf).expect("write conf");
        let log = std::fs::File::create(dir.path().join("chronyd.log")).expect("log");
        let child = Command::new(CHRONYD)
            .arg("-x")
            .arg("-d")
            .args(user_args())
            .arg("-f")
            .arg(dir.path().join("chronyd.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn chronyd");
        let client = dir.path().join("client.sock");
        let unix = UnixDatagram::bind(&client).expect("bind unix");
        unix.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        let mut c = Chronyd {
            child,
            dir,
            ntp_port,
            cmd_port,
            unix,
        };
        c.wait_ready();
        c
    }

    fn sock_path(&self) -> PathBuf {
        self.dir.path().join("chronyd.sock")
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chronyd.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("chronyd exited ({st}):\n{}", self.log());
            }
            if self.sock_path().exists() && self.try_udp(&Request::Tracking).is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chronyd not ready:\n{}", self.log());
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
    if !installed(CHRONYD) {
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
    if !installed(CHRONYD) {
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
    if !installed(CHRONYD) {
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
