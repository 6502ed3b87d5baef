//! The reports: values from the running engine, in the layouts chronyc
//! expects.

use krony_wire::cmdmon::{
    ClientAccessesQuery, CmdAddr, CommandCode, NtpDataVersion, ReplyBody, Request, RequestHeader,
    ServerStatsVersion, Smoothing, Status,
};

use super::*;

fn addr() -> CmdAddr {
    CmdAddr::from(server_addr().ip())
}

/// A daemon polling the upstream server for a while.
fn synced() -> Harness {
    let mut h = Harness::with_upstream("server 192.0.2.1 iburst minpoll 0 maxpoll 2\n");
    for s in krony_config::parse_str("server 192.0.2.1 iburst minpoll 0 maxpoll 2\n", "t")
        .expect("valid")
        .config
        .sources
    {
        h.engine
            .add_source(h.now, server_addr(), s.kind, &s.options, &s.host)
            .expect("added");
    }
    h.run(60.0);
    h
}

#[test]
fn tracking_unsynchronised_then_synchronised() {
    let mut h = Harness::new("");
    let ReplyBody::Tracking(t) = h.body(Request::Tracking) else {
        panic!("tracking");
    };
    assert_eq!((t.ref_id, t.stratum, t.leap_status), (0, 0, 3));
    assert_eq!(t.ip_addr, CmdAddr::Unspec);

    let mut h = synced();
    let ReplyBody::Tracking(t) = h.body(Request::Tracking) else {
        panic!("tracking");
    };
    assert_eq!(t.ip_addr, addr());
    assert_eq!((t.ref_id, t.stratum, t.leap_status), (0xC000_0201, 2, 0));
    assert!(t.ref_time.sec_low > 0);
}

#[test]
fn sources_sourcestats_selectdata_describe_the_source() {
    let mut h = synced();
    assert_eq!(h.body(Request::NSources), ReplyBody::NSources(1));
    let ReplyBody::SourceData(d) = h.body(Request::SourceData(0)) else {
        panic!("source data");
    };
    assert_eq!((d.ip_addr, d.stratum, d.mode, d.state), (addr(), 1, 0, 0));
    assert_eq!(d.reachability, 0o377);
    assert!(d.since_sample < 10, "{}", d.since_sample);
    assert_eq!(h.status(Request::SourceData(1)), Status::NOSUCHSOURCE);
    assert_eq!(h.status(Request::SourceData(-1)), Status::NOSUCHSOURCE);

    let ReplyBody::Sourcestats(s) = h.body(Request::Sourcestats(0)) else {
        panic!("sourcestats");
    };
    assert_eq!((s.ip_addr, s.ref_id), (addr(), 0xC000_0201));
    assert!(s.n_samples >= 4, "{}", s.n_samples);
    assert_eq!(h.status(Request::Sourcestats(1)), Status::NOSUCHSOURCE);

    let ReplyBody::SelectData(s) = h.body(Request::SelectData(0)) else {
        panic!("selectdata");
    };
    assert_eq!((s.ip_addr, s.state_char, s.leap), (addr(), b'*', 0));
    assert_eq!(h.status(Request::SelectData(1)), Status::NOSUCHSOURCE);
}

#[test]
fn ntpdata_in_the_version_the_request_is_padded_for() {
    let mut h = synced();
    for (v, len) in [(NtpDataVersion::V1, 152), (NtpDataVersion::V2, 172)] {
        let r = h.unix(Request::NtpData(addr(), v));
        assert_eq!(r.length(), len);
        let ReplyBody::NtpData(d, got) = r.body else {
            panic!("ntpdata");
        };
        assert_eq!(got, v);
        assert_eq!(
            (d.remote_addr, d.remote_port, d.mode, d.stratum),
            (addr(), 123, 4, 1)
        );
        assert!(d.total_good_count >= 4 && d.total_tx_count >= d.total_good_count);
        assert_eq!((d.tx_tss_char, d.rx_tss_char), (b'D', b'D'));
    }
    assert_eq!(
        h.status(Request::NtpData(CmdAddr::Unspec, NtpDataVersion::V2)),
        Status::NOSUCHSOURCE
    );
}

#[test]
fn sourcename_authdata_and_activity() {
    let mut h = synced();
    let ReplyBody::NtpSourceName(n) = h.body(Request::NtpSourceName(addr())) else {
        panic!("sourcename");
    };
    assert_eq!(n.as_str(), Some("192.0.2.1"));
    let ReplyBody::AuthData(a) = h.body(Request::AuthData(addr())) else {
        panic!("authdata");
    };
    assert_eq!((a.mode, a.key_id), (0, 0));
    assert_eq!(
        h.status(Request::AuthData(CmdAddr::from(std::net::Ipv4Addr::new(
            192, 0, 2, 9
        )))),
        Status::NOSUCHSOURCE
    );
    let ReplyBody::Activity(a) = h.body(Request::Activity) else {
        panic!("activity");
    };
    assert_eq!((a.online, a.offline, a.unresolved), (1, 0, 0));
}

#[test]
fn serverstats_and_clients_count_command_packets() {
    let mut h = Harness::new("cmdallow 198.51.100.0/24\nallow all\n");
    for _ in 0..3 {
        assert!(h.ask(Request::Tracking, remote(7)).is_some());
    }
    let ReplyBody::ServerStats(s, v) = h.body(Request::ServerStats(ServerStatsVersion::V3)) else {
        panic!("serverstats");
    };
    assert_eq!((s.cmd_hits, s.cmd_drops, v), (4, 0, ServerStatsVersion::V3));
    let q = ClientAccessesQuery {
        first_index: 0,
        n_clients: 20,
        min_hits: 0,
        reset: 0,
    };
    let ReplyBody::ClientAccesses(c) = h.body(Request::ClientAccessesByIndex(q)) else {
        panic!("clients");
    };
    assert_eq!(c.clients.len(), 1, "the Unix socket client has no record");
    let me = c.clients[0];
    assert_eq!(
        (me.ip, me.cmd_hits, me.ntp_hits),
        (
            CmdAddr::from(std::net::Ipv4Addr::new(198, 51, 100, 7)),
            3,
            0
        )
    );
    assert!(c.next_index >= 1 && c.n_indices >= c.next_index);
}

#[test]
fn clients_without_a_client_log_is_inactive() {
    let mut h = Harness::new("noclientlog\n");
    let q = ClientAccessesQuery {
        n_clients: 8,
        ..ClientAccessesQuery::default()
    };
    assert_eq!(
        h.status(Request::ClientAccessesByIndex(q)),
        Status::INACTIVE
    );
    // Without an NTP server the command server keeps its own log.
    let mut h = Harness::new("port 0\n");
    assert!(matches!(
        h.body(Request::ClientAccessesByIndex(q)),
        ReplyBody::ClientAccesses(_)
    ));
    let ReplyBody::ServerStats(s, _) = h.body(Request::ServerStats(ServerStatsVersion::V4)) else {
        panic!("serverstats");
    };
    assert_eq!(s.cmd_hits, 2);
}

#[test]
fn rtc_smoothing_and_manual_list_without_those_facilities() {
    let mut h = Harness::new("");
    assert_eq!(h.status(Request::RtcReport), Status::NORTC);
    assert_eq!(h.status(Request::Smoothing), Status::NOTENABLED);
    let ReplyBody::ManualList(m) = h.body(Request::ManualList) else {
        panic!("manual list");
    };
    assert!(m.samples.is_empty());
    // The request code echoed for a report error.
    let mut b = vec![0u8; 56];
    RequestHeader::new(CommandCode::RTCREPORT, 5)
        .emit(&mut b)
        .expect("fits");
    let out = h.raw(&b, localhost());
    assert_eq!(out.reply.map(|r| r.len()), Some(28));
}

#[test]
fn smoothing_report_fields() {
    let mut h = Harness::new("smoothtime 400 0.001 leaponly\n");
    let smoothing = |h: &mut Harness| match h.body(Request::Smoothing) {
        ReplyBody::Smoothing(s) => s,
        other => panic!("{other:?}"),
    };
    let s = smoothing(&mut h);
    assert_eq!(s.flags, Smoothing::FLAG_LEAPONLY);
    assert_eq!(
        (s.offset, s.last_update_ago, s.remaining_time),
        (0.0, 0.0, 0.0)
    );
    assert_eq!(h.status(Request::SmoothTime(1)), Status::SUCCESS);
    h.now = h.now.add_secs(30.0);
    let s = smoothing(&mut h);
    assert_eq!(s.flags, Smoothing::FLAG_ACTIVE | Smoothing::FLAG_LEAPONLY);
    assert!((s.last_update_ago - 30.0).abs() < 1e-3, "{s:?}");
    // leaponly: a correction of the clock is not smoothed.
    assert_eq!(h.status(Request::Doffset(1.0)), Status::SUCCESS);
    assert_eq!(smoothing(&mut h).offset, 0.0);

    // Without leaponly, t seconds into smoothing out one second: offset
    // 1 - w·t²/2, frequency -w·t, wander -w (w = 0.001 ppm/s). The clock
    // slews the second out meanwhile, so 100 s of the uncorrected clock are
    // t = 101 s of the corrected time the smoothing runs on.
    let mut h = Harness::new("smoothtime 400 0.001\n");
    assert_eq!(h.status(Request::SmoothTime(1)), Status::SUCCESS);
    assert_eq!(h.status(Request::Doffset(1.0)), Status::SUCCESS);
    h.run(100.0);
    let s = smoothing(&mut h);
    let t = 101.0;
    assert_eq!(s.flags, Smoothing::FLAG_ACTIVE);
    assert!(
        (s.offset - (1.0 - 1e-9 * t * t / 2.0)).abs() < 1e-6,
        "{s:?}"
    );
    assert!((s.freq_ppm + 1e-3 * t).abs() < 1e-3, "{s:?}");
    assert!((s.wander_ppm + 0.001).abs() < 1e-6, "{s:?}");
    assert!((s.last_update_ago - t).abs() < 1e-3, "{s:?}");
    let total = 2.0 * 1e9f64.sqrt();
    assert!((s.remaining_time - (total - t)).abs() < 0.01, "{s:?}");
}
