//! cmdmon against the real chronyc (Debian's chrony 4.3): what `chronyc`
//! sends is caught on a UDP socket and parsed with our parser; for some
//! commands we answer with our encoder and check what chronyc prints.
//! The chronyd side is in `cmdmon_chronyd.rs`.
//!
//! The tests skip (with a message) only if chronyc is not installed.

use std::io::Read;
use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use krony_testkit::{CHRONYC, installed};
use krony_wire::cmdmon::*;

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
