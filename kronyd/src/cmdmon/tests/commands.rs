//! The write commands: status and real effect.

use std::net::{IpAddr, Ipv4Addr};

use krony_config::{Family, SourceKind};
use krony_wire::cmdmon::{
    AddSource, AddSourceFlags, Burst, CmdAddr, Local, LocalExt, MaskAddress, ModifyMakestep,
    ModifyOffset, ModifySelectOpts, Name, ReplyBody, Request, Smoothing, SourceFloat, SourceInt,
    SourceKind as WireKind, Status, Subnet, Timespec,
};

use super::*;
use crate::cmdmon::DaemonAction;

fn v4(a: u8, b: u8, c: u8, d: u8) -> CmdAddr {
    CmdAddr::from(Ipv4Addr::new(a, b, c, d))
}

/// `add server NAME [iburst]` as chronyc 4.3 sends it.
fn add(name: &str, flags: u32) -> Request {
    Request::AddSource(Box::new(AddSource {
        kind: WireKind::SERVER,
        name: Name::from(name),
        port: 123,
        minpoll: 6,
        maxpoll: 10,
        presend_minpoll: 100,
        poll_target: 8,
        max_sources: 4,
        min_samples: -1,
        max_samples: -1,
        nts_port: 4460,
        max_delay: 3.0,
        max_delay_dev_ratio: 10.0,
        asymmetry: 1.0,
        flags: AddSourceFlags(AddSourceFlags::ONLINE | flags),
        ..AddSource::default()
    }))
}

fn n_sources(h: &mut Harness) -> u32 {
    match h.body(Request::NSources) {
        ReplyBody::NSources(n) => n,
        other => panic!("{other:?}"),
    }
}

fn activity(h: &mut Harness) -> (i32, i32, i32) {
    match h.body(Request::Activity) {
        ReplyBody::Activity(a) => (a.online, a.offline, a.burst_online),
        other => panic!("{other:?}"),
    }
}

#[test]
fn add_and_delete_sources() {
    let mut h = Harness::new("");
    assert_eq!(
        h.status(add("192.0.2.1", AddSourceFlags::IBURST)),
        Status::SUCCESS
    );
    assert_eq!(n_sources(&mut h), 1);
    let ReplyBody::SourceData(d) = h.body(Request::SourceData(0)) else {
        panic!("source data");
    };
    assert_eq!(d.ip_addr, v4(192, 0, 2, 1));
    // The iburst request goes out at once.
    h.run(3.0);
    assert!(
        matches!(h.body(Request::NtpData(v4(192, 0, 2, 1), Default::default())),
        ReplyBody::NtpData(d, _) if d.total_tx_count >= 1)
    );

    assert_eq!(h.status(add("192.0.2.1", 0)), Status::SOURCEALREADYKNOWN);
    assert_eq!(
        h.status(add("192.0.2.2", AddSourceFlags::IPV6)),
        Status::INVALIDAF
    );
    assert_eq!(h.status(add("bad name", 0)), Status::INVALIDNAME);

    assert_eq!(
        h.status(Request::DelSource(v4(192, 0, 2, 1))),
        Status::SUCCESS
    );
    assert_eq!(n_sources(&mut h), 0);
    assert_eq!(
        h.status(Request::DelSource(v4(192, 0, 2, 1))),
        Status::NOSUCHSOURCE
    );
}

#[test]
fn add_by_name_asks_the_daemon_to_resolve() {
    let mut h = Harness::new("");
    let mut req = add(
        "pool.example.org",
        AddSourceFlags::IBURST | AddSourceFlags::IPV4,
    );
    if let Request::AddSource(a) = &mut req {
        a.kind = WireKind::POOL;
        a.max_sources = 2;
    }
    let bytes = RequestMsg::new(req, 1).to_bytes();
    let out = h.raw(&bytes, Origin::Unix);
    let r = Reply::parse(&out.reply.expect("reply")).expect("valid");
    assert_eq!(r.status, Status::SUCCESS);
    let Some(DaemonAction::AddSource(p)) = out.action else {
        panic!("{:?}", out.action);
    };
    assert_eq!(
        (p.kind, p.name.as_str()),
        (SourceKind::Pool, "pool.example.org")
    );
    assert!(p.options.iburst);
    assert_eq!((p.options.family, p.options.maxsources), (Family::Ipv4, 2));
    assert_eq!(n_sources(&mut h), 0, "nothing added before resolving");
    h.server.set_unresolved_sources(1);
    let ReplyBody::Activity(a) = h.body(Request::Activity) else {
        panic!("activity");
    };
    assert_eq!(a.unresolved, 1);
}

#[test]
fn online_offline_burst_by_address_and_mask() {
    let mut h = Harness::new("");
    for name in ["192.0.2.1", "192.0.2.2", "198.51.100.1"] {
        assert_eq!(h.status(add(name, 0)), Status::SUCCESS);
    }
    assert_eq!(activity(&mut h), (3, 0, 0));
    let net = MaskAddress {
        mask: v4(255, 255, 255, 0),
        address: v4(192, 0, 2, 0),
    };
    assert_eq!(h.status(Request::Offline(net)), Status::SUCCESS);
    assert_eq!(activity(&mut h), (1, 2, 0));
    assert_eq!(
        h.status(Request::Online(MaskAddress::default())),
        Status::SUCCESS
    );
    assert_eq!(activity(&mut h), (3, 0, 0));
    let one = MaskAddress {
        mask: CmdAddr::Unspec,
        address: v4(198, 51, 100, 1),
    };
    let burst = Burst {
        target: one,
        n_good_samples: 2,
        n_total_samples: 4,
    };
    assert_eq!(h.status(Request::Burst(burst)), Status::SUCCESS);
    assert_eq!(activity(&mut h), (2, 0, 1));
    let none = MaskAddress {
        mask: CmdAddr::Unspec,
        address: v4(203, 0, 113, 1),
    };
    assert_eq!(h.status(Request::Offline(none)), Status::NOSUCHSOURCE);
}

#[test]
fn source_parameters_and_selection_options() {
    let mut h = Harness::new("");
    assert_eq!(h.status(add("192.0.2.1", 0)), Status::SUCCESS);
    let a = v4(192, 0, 2, 1);
    let other = v4(192, 0, 2, 99);
    let int = |address, value| SourceInt { address, value };
    let float = |address, value| SourceFloat { address, value };
    for (ok, missing) in [
        (
            Request::ModifyMinpoll(int(a, 4)),
            Request::ModifyMinpoll(int(other, 4)),
        ),
        (
            Request::ModifyMaxpoll(int(a, 8)),
            Request::ModifyMaxpoll(int(other, 8)),
        ),
        (
            Request::ModifyMinstratum(int(a, 2)),
            Request::ModifyMinstratum(int(other, 2)),
        ),
        (
            Request::ModifyPolltarget(int(a, 9)),
            Request::ModifyPolltarget(int(other, 9)),
        ),
        (
            Request::ModifyMaxdelay(float(a, 0.5)),
            Request::ModifyMaxdelay(float(other, 0.5)),
        ),
        (
            Request::ModifyMaxdelayratio(float(a, 2.0)),
            Request::ModifyMaxdelayratio(float(other, 2.0)),
        ),
        (
            Request::ModifyMaxdelaydevratio(float(a, 4.0)),
            Request::ModifyMaxdelaydevratio(float(other, 4.0)),
        ),
        (
            Request::ModifyOffset(ModifyOffset {
                address: a,
                ref_id: 0,
                offset: 0.25,
            }),
            Request::ModifyOffset(ModifyOffset::default()),
        ),
    ] {
        assert_eq!(h.status(ok.clone()), Status::SUCCESS, "{ok:?}");
        assert_eq!(
            h.status(missing.clone()),
            Status::NOSUCHSOURCE,
            "{missing:?}"
        );
    }
    let src = h.engine.source_ids()[0];
    let p = h.engine.source(src).expect("source").params().clone();
    assert_eq!((p.min_stratum, p.poll_target, p.max_delay), (2, 9, 0.5));
    assert_eq!(p.offset_correction, 0.25);

    // selectopts +prefer +noselect: mask in selectdata bits, values in
    // ADD_SOURCE flag bits, as chronyc sends them.
    let opts = ModifySelectOpts {
        address: a,
        ref_id: 0,
        mask: AddSourceFlags(0x1 | 0x2),
        options: AddSourceFlags(AddSourceFlags::PREFER | AddSourceFlags::NOSELECT),
    };
    assert_eq!(h.status(Request::ModifySelectOpts(opts)), Status::SUCCESS);
    let ReplyBody::SelectData(s) = h.body(Request::SelectData(0)) else {
        panic!("selectdata");
    };
    assert_eq!(s.conf_options, 0x1 | 0x2);
}

#[test]
fn local_and_local_off_change_tracking() {
    let mut h = Harness::new("");
    let local = Local {
        on_off: 1,
        stratum: 8,
        distance: 1.0,
        orphan: 0,
        ext: Some(LocalExt::default()),
    };
    assert_eq!(h.status(Request::Local(local)), Status::SUCCESS);
    let ReplyBody::Tracking(t) = h.body(Request::Tracking) else {
        panic!("tracking");
    };
    assert_eq!((t.ref_id, t.stratum), (0x7F7F_0101, 8));
    // LOCAL2, as chronyc 4.3 sends it.
    let off = Local {
        on_off: 0,
        ext: None,
        ..local
    };
    assert_eq!(h.status(Request::Local(off)), Status::SUCCESS);
    let ReplyBody::Tracking(t) = h.body(Request::Tracking) else {
        panic!("tracking");
    };
    assert_eq!((t.ref_id, t.stratum), (0, 0));
}

#[test]
fn allow_deny_change_accheck_and_cmdallow_opens_udp() {
    let mut h = Harness::new("");
    let host = v4(198, 51, 100, 4);
    let net = Subnet {
        ip: v4(198, 51, 100, 0),
        subnet_bits: 24,
    };
    assert_eq!(h.status(Request::AcCheck(host)), Status::ACCESSDENIED);
    let out = h.raw(
        &RequestMsg::new(Request::Allow(net), 1).to_bytes(),
        Origin::Unix,
    );
    assert_eq!(
        out.logs.first().map(|l| l.text.as_str()),
        Some("Allowed NTP access from 198.51.100.0/24")
    );
    assert_eq!(h.status(Request::AcCheck(host)), Status::ACCESSALLOWED);
    assert_eq!(
        h.status(Request::Deny(Subnet {
            ip: host,
            subnet_bits: 32
        })),
        Status::SUCCESS
    );
    assert_eq!(h.status(Request::AcCheck(host)), Status::ACCESSDENIED);
    assert_eq!(h.status(Request::AllowAll(net)), Status::SUCCESS);
    assert_eq!(h.status(Request::AcCheck(host)), Status::ACCESSALLOWED);
    assert_eq!(
        h.status(Request::DenyAll(Subnet::default())),
        Status::SUCCESS
    );
    assert_eq!(h.status(Request::AcCheck(host)), Status::ACCESSDENIED);

    assert_eq!(h.ask(Request::Tracking, remote(4)), None);
    assert_eq!(h.status(Request::CmdAcCheck(host)), Status::ACCESSDENIED);
    assert_eq!(h.status(Request::CmdAllow(net)), Status::SUCCESS);
    assert_eq!(h.status(Request::CmdAcCheck(host)), Status::ACCESSALLOWED);
    assert!(h.ask(Request::Tracking, remote(4)).is_some());
    assert_eq!(h.status(Request::CmdDeny(net)), Status::SUCCESS);
    assert_eq!(h.ask(Request::Tracking, remote(4)), None);
    assert_eq!(
        h.status(Request::CmdAllowAll(Subnet::default())),
        Status::SUCCESS
    );
    assert_eq!(h.status(Request::CmdDenyAll(net)), Status::SUCCESS);
    assert_eq!(h.status(Request::CmdAcCheck(host)), Status::ACCESSDENIED);

    let bad = Subnet {
        ip: host,
        subnet_bits: 33,
    };
    assert_eq!(h.status(Request::Allow(bad)), Status::BADSUBNET);
    assert_eq!(h.status(Request::CmdDeny(bad)), Status::BADSUBNET);
}

#[test]
fn manual_reference_with_settime() {
    let mut h = Harness::new("");
    let ts = |h: &Harness, ahead: f64| Timespec::from_unix(h.now.add_secs(-ahead));
    assert_eq!(h.status(Request::Settime(ts(&h, 0.5))), Status::NOTENABLED);
    assert_eq!(h.status(Request::Manual(1)), Status::SUCCESS);
    let r = h.unix(Request::Settime(ts(&h, 0.5)));
    let ReplyBody::ManualTimestamp(m) = r.body else {
        panic!("{r:?}");
    };
    assert!((m.offset - 0.5).abs() < 1e-6, "{}", m.offset);
    // Too soon after the previous sample.
    assert_eq!(h.status(Request::Settime(ts(&h, 0.5))), Status::FAILED);
    h.run(100.0);
    assert_eq!(h.status(Request::Settime(ts(&h, 0.4))), Status::SUCCESS);
    let ReplyBody::ManualList(list) = h.body(Request::ManualList) else {
        panic!("manual list");
    };
    assert_eq!(list.samples.len(), 2);
    let ReplyBody::Tracking(t) = h.body(Request::Tracking) else {
        panic!("tracking");
    };
    // A manual reference leaves the clock unsynchronised (as in chronyd),
    // but its offset went to the reference and is being slewed out.
    assert_eq!(t.ref_id, 0);
    assert!((t.last_offset - 0.4).abs() < 1e-3, "{}", t.last_offset);
    assert!(t.current_correction < -0.1, "{}", t.current_correction);
    assert_eq!(h.status(Request::ManualDelete(5)), Status::BADSAMPLE);
    assert_eq!(h.status(Request::ManualDelete(0)), Status::SUCCESS);
    assert_eq!(h.status(Request::Manual(2)), Status::SUCCESS);
    let ReplyBody::ManualList(list) = h.body(Request::ManualList) else {
        panic!("manual list");
    };
    assert!(list.samples.is_empty());
    assert_eq!(h.status(Request::Manual(7)), Status::INVALID);
    assert_eq!(h.status(Request::Manual(0)), Status::SUCCESS);
    assert_eq!(h.status(Request::Settime(ts(&h, 0.0))), Status::NOTENABLED);

    let mut h = Harness::new("manual\n");
    assert_eq!(h.status(Request::Settime(ts(&h, 0.1))), Status::SUCCESS);
}

#[test]
fn daemon_actions() {
    let mut h = Harness::new("");
    for (req, action) in [
        (Request::Shutdown, DaemonAction::Shutdown),
        (Request::Dump, DaemonAction::Dump),
        (Request::CycleLogs, DaemonAction::CycleLogs),
        (Request::Rekey, DaemonAction::Rekey),
        (Request::ReloadSources, DaemonAction::ReloadSources),
        (Request::Refresh, DaemonAction::Refresh),
        (Request::OnOffline, DaemonAction::OnOffline),
    ] {
        let out = h.raw(&RequestMsg::new(req.clone(), 1).to_bytes(), Origin::Unix);
        let r = Reply::parse(&out.reply.expect("reply")).expect("valid");
        assert_eq!(r.status, Status::SUCCESS, "{req:?}");
        assert_eq!(out.action, Some(action));
    }
}

#[test]
fn clock_commands() {
    let mut h = Harness::new("");
    assert_eq!(h.status(Request::MakeStep), Status::SUCCESS);
    assert_eq!(
        h.status(Request::ModifyMakestep(ModifyMakestep {
            limit: 3,
            threshold: 0.1
        })),
        Status::SUCCESS
    );
    assert_eq!(
        h.status(Request::ModifyMaxupdateskew(50.0)),
        Status::SUCCESS
    );
    assert_eq!(h.status(Request::Reselect), Status::SUCCESS);
    assert_eq!(h.status(Request::ReselectDistance(0.125)), Status::SUCCESS);
    assert_eq!(h.engine.config().select.reselect_distance, 0.125);
    assert_eq!(h.status(Request::ResetSources), Status::SUCCESS);
    assert_eq!(h.status(Request::WriteRtc), Status::NORTC);
    assert_eq!(h.status(Request::TrimRtc), Status::NORTC);
    assert_eq!(h.status(Request::SmoothTime(1)), Status::NOTENABLED);

    let freq = |h: &mut Harness| match h.body(Request::Tracking) {
        ReplyBody::Tracking(t) => t.freq_ppm,
        other => panic!("{other:?}"),
    };
    let before = freq(&mut h);
    assert_eq!(h.status(Request::Dfreq(2.5)), Status::SUCCESS);
    assert!((freq(&mut h) - before - 2.5).abs() < 1e-3);
}

#[test]
fn reset_sources_forgets_measurements() {
    let mut h = Harness::with_upstream("");
    assert_eq!(
        h.status(add("192.0.2.1", AddSourceFlags::IBURST)),
        Status::SUCCESS
    );
    h.run(20.0);
    let samples = |h: &mut Harness| match h.body(Request::Sourcestats(0)) {
        ReplyBody::Sourcestats(s) => s.n_samples,
        other => panic!("{other:?}"),
    };
    assert!(samples(&mut h) >= 4);
    assert_eq!(h.status(Request::ResetSources), Status::SUCCESS);
    assert_eq!(samples(&mut h), 0);
    let _ = IpAddr::V4(Ipv4Addr::LOCALHOST);
}

#[test]
fn doffset_slews_and_tracking_shows_it() {
    let mut h = Harness::new("");
    let correction = |h: &mut Harness| match h.body(Request::Tracking) {
        ReplyBody::Tracking(t) => t.current_correction,
        other => panic!("{other:?}"),
    };
    assert!(correction(&mut h).abs() < 1e-9);
    assert_eq!(h.status(Request::Doffset(0.5)), Status::SUCCESS);
    // "System time : 0.500000000 seconds fast of NTP time".
    assert!((correction(&mut h) + 0.5).abs() < 1e-6);
    assert_eq!(h.status(Request::Doffset(-0.25)), Status::SUCCESS);
    assert!((correction(&mut h) + 0.25).abs() < 1e-6);
    // Beyond what the clock can take (2^32 s): "500 Failure", no change.
    assert_eq!(h.status(Request::Doffset(1e10)), Status::FAILED);
    assert!((correction(&mut h) + 0.25).abs() < 1e-6);
    // It is being slewed out.
    h.run(1.0);
    assert!(correction(&mut h) + 0.25 > 0.05);
}

#[test]
fn smoothtime_activates_and_resets() {
    let mut h = Harness::new("smoothtime 400 0.001\n");
    let smoothing = |h: &mut Harness| match h.body(Request::Smoothing) {
        ReplyBody::Smoothing(s) => s,
        other => panic!("{other:?}"),
    };
    assert_eq!(smoothing(&mut h).flags, 0);
    // chronyd checks the option after the facility.
    assert_eq!(h.status(Request::SmoothTime(2)), Status::INVALID);
    assert_eq!(h.status(Request::SmoothTime(1)), Status::SUCCESS);
    assert_eq!(smoothing(&mut h).flags, Smoothing::FLAG_ACTIVE);
    // A correction of the clock is now smoothed out.
    assert_eq!(h.status(Request::Doffset(1.0)), Status::SUCCESS);
    let s = smoothing(&mut h);
    assert!((s.offset - 1.0).abs() < 1e-6, "{s:?}");
    assert!(s.remaining_time > 60_000.0, "{s:?}");
    assert_eq!(h.status(Request::SmoothTime(0)), Status::SUCCESS);
    let s = smoothing(&mut h);
    assert_eq!((s.offset, s.remaining_time), (0.0, 0.0));
    assert_eq!(s.flags, Smoothing::FLAG_ACTIVE);
    // Activating again changes nothing.
    assert_eq!(h.status(Request::SmoothTime(1)), Status::SUCCESS);
    assert_eq!(smoothing(&mut h).flags, Smoothing::FLAG_ACTIVE);
}
