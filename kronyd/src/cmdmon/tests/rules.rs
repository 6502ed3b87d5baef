//! The server rules: who may ask what, what is dropped, what is answered
//! with an error, and the padding rule.

use krony_wire::cmdmon::{
    CmdAddr, CommandCode, REPLY_HEADER_LEN, Reply, ReplyBody, ReplyCode, Request, RequestHeader,
    RequestMsg, ServerStatsVersion, Status, Subnet,
};

use super::*;

fn packet(cmd: CommandCode, len: usize) -> Vec<u8> {
    let mut b = vec![0u8; len];
    RequestHeader::new(cmd, 77).emit(&mut b).expect("fits");
    b
}

fn reply_of(out: &Handled) -> Option<Reply> {
    out.reply
        .as_ref()
        .map(|b| Reply::parse(b).expect("valid reply"))
}

#[test]
fn udp_from_an_address_not_in_cmdallow_gets_nothing() {
    let mut h = Harness::new("");
    assert_eq!(h.ask(Request::Tracking, remote(5)), None);
    // Not even an error for an invalid command.
    let out = h.raw(&packet(CommandCode(999), 100), remote(5));
    assert_eq!(out.reply, None);
    // Nor counted: the packet never reached the client log.
    let ReplyBody::ServerStats(s, _) = h.body(Request::ServerStats(ServerStatsVersion::V4)) else {
        panic!("serverstats");
    };
    assert_eq!(s.cmd_hits, 1, "only the serverstats request itself");

    let mut h = Harness::new("cmdallow 198.51.100.0/24\n");
    let r = h.ask(Request::Tracking, remote(5)).expect("allowed subnet");
    assert_eq!(r.status, Status::SUCCESS);
    assert!(h.ask(Request::Tracking, remote(5)).is_some());
}

#[test]
fn localhost_is_always_allowed_even_when_denied() {
    let mut h = Harness::new("cmddeny all\n");
    let r = h.ask(Request::Tracking, localhost()).expect("localhost");
    assert_eq!(r.status, Status::SUCCESS);
    assert!(matches!(r.body, ReplyBody::Tracking(_)));
}

#[test]
fn udp_gets_only_the_open_commands() {
    let mut h = Harness::new("");
    for req in [
        Request::Tracking,
        Request::NSources,
        Request::Activity,
        Request::ManualList,
    ] {
        let r = h.ask(req.clone(), localhost()).expect("reply");
        assert_eq!(r.status, Status::SUCCESS, "{req:?}");
    }
    // Read-only but not open by default, and write commands: 501.
    for req in [
        Request::ServerStats(ServerStatsVersion::V4),
        Request::SelectData(0),
        Request::CmdAcCheck(CmdAddr::Unspec),
        Request::Dump,
        Request::Shutdown,
        Request::Allow(Subnet::default()),
    ] {
        let r = h.ask(req.clone(), localhost()).expect("reply");
        assert_eq!(r.status, Status::UNAUTH, "{req:?}");
        assert_eq!(r.body, ReplyBody::Null);
        assert_eq!(r.status.message(), "501 Not authorised");
    }
    // The Unix socket gets everything.
    assert_eq!(
        h.status(Request::ServerStats(ServerStatsVersion::V4)),
        Status::SUCCESS
    );
    // Nothing was shut down by the refused request.
    let out = h.raw(
        &RequestMsg::new(Request::Shutdown, 1).to_bytes(),
        localhost(),
    );
    assert_eq!(out.action, None);
}

#[test]
fn opencommands_decide_what_udp_may_ask() {
    let mut h = Harness::new("opencommands serverstats selectdata\n");
    let ask = |h: &mut Harness, r: Request| h.ask(r, localhost()).expect("reply").status;
    assert_eq!(ask(&mut h, Request::Tracking), Status::UNAUTH);
    assert_eq!(
        ask(&mut h, Request::ServerStats(ServerStatsVersion::V3)),
        Status::SUCCESS
    );
    // "selectdata" also opens N_SOURCES, as in chrony.
    assert_eq!(ask(&mut h, Request::NSources), Status::SUCCESS);
    assert_eq!(ask(&mut h, Request::SourceData(0)), Status::UNAUTH);
}

#[test]
fn what_chronyd_drops_is_dropped() {
    let mut h = Harness::new("");
    for origin in [Origin::Unix, localhost()] {
        assert_eq!(
            h.raw(&packet(CommandCode::TRACKING, 27), origin).reply,
            None
        );
        assert_eq!(
            h.raw(&packet(CommandCode::TRACKING, 861), origin).reply,
            None
        );
        let mut b = packet(CommandCode::TRACKING, 104);
        b[1] = 2; // a reply
        assert_eq!(h.raw(&b, origin).reply, None);
        let mut b = packet(CommandCode::TRACKING, 104);
        b[2] = 1; // res1
        assert_eq!(h.raw(&b, origin).reply, None);
        let mut b = packet(CommandCode::TRACKING, 104);
        b[0] = 4; // too old to be answered
        assert_eq!(h.raw(&b, origin).reply, None);
    }
}

#[test]
fn version_5_gets_badpktversion_in_a_version_6_header() {
    let mut h = Harness::new("");
    let mut b = packet(CommandCode::TRACKING, 104);
    b[0] = 5;
    let out = h.raw(&b, localhost());
    let bytes = out.reply.expect("answered");
    assert_eq!(bytes.len(), REPLY_HEADER_LEN);
    assert_eq!(bytes[0], 6, "chronyd answers in its own version");
    let r = Reply::parse(&bytes).expect("valid");
    assert_eq!(
        (r.status, r.command, r.sequence, r.body),
        (
            Status::BADPKTVERSION,
            CommandCode::TRACKING,
            77,
            ReplyBody::Null
        )
    );
}

#[test]
fn unknown_obsolete_and_short_requests_get_error_statuses() {
    let mut h = Harness::new("");
    for cmd in [0u16, 10, 12, 27, 55, 75, 999] {
        let r = reply_of(&h.raw(&packet(CommandCode(cmd), 100), Origin::Unix));
        assert_eq!(r.map(|r| r.status), Some(Status::INVALID), "command {cmd}");
    }
    // Shorter than its padded length: an error, never the report itself.
    for origin in [Origin::Unix, localhost()] {
        let out = h.raw(&packet(CommandCode::TRACKING, 103), origin);
        let r = reply_of(&out).expect("answered");
        assert_eq!(r.status, Status::BADPKTLENGTH);
        assert_eq!(out.reply.map(|b| b.len()), Some(REPLY_HEADER_LEN));
    }
    // A request shorter than even an error reply gets nothing.
    assert_eq!(
        h.raw(&packet(CommandCode::TRACKING, 20), localhost()).reply,
        None
    );
}

#[test]
fn no_reply_is_longer_than_its_request() {
    let mut h = Harness::new("");
    for req in [
        Request::Tracking,
        Request::ServerStats(ServerStatsVersion::V2),
        Request::ManualList,
        Request::NSources,
    ] {
        let bytes = RequestMsg::new(req, 3).to_bytes();
        let out = h.raw(&bytes, Origin::Unix);
        let reply = out.reply.expect("answered");
        assert!(reply.len() <= bytes.len());
        // Longer (padded beyond the need) requests are fine.
        let mut long = bytes.clone();
        long.resize(860, 0);
        assert!(h.raw(&long, Origin::Unix).reply.is_some());
    }
}

#[test]
fn serverstats_layout_follows_the_request_padding() {
    let mut h = Harness::new("");
    for (len, code, reply_len) in [
        (60, ReplyCode::SERVER_STATS2, 60),
        (72, ReplyCode::SERVER_STATS3, 72),
        (196, ReplyCode::SERVER_STATS4, 196),
    ] {
        let out = h.raw(&packet(CommandCode::SERVER_STATS, len), Origin::Unix);
        let bytes = out.reply.expect("answered");
        assert_eq!(bytes.len(), reply_len);
        assert_eq!(u16::from_be_bytes([bytes[6], bytes[7]]), code.0);
    }
}

#[test]
fn cmdratelimit_drops_remote_floods_but_never_localhost() {
    let mut h = Harness::new("cmdallow all\ncmdratelimit interval -4 burst 1 leak 0\nport 0\n");
    let mut answered = 0;
    for _ in 0..50 {
        if h.ask(Request::Tracking, remote(9)).is_some() {
            answered += 1;
        }
    }
    assert!(answered < 50 && answered > 0, "{answered} of 50 answered");
    for _ in 0..50 {
        assert!(h.ask(Request::Tracking, localhost()).is_some());
    }
    let ReplyBody::ServerStats(s, _) = h.body(Request::ServerStats(ServerStatsVersion::V4)) else {
        panic!("serverstats");
    };
    assert_eq!(s.cmd_hits, 101);
    assert_eq!(s.cmd_drops, 50 - answered);
}
