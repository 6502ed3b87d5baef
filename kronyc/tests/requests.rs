//! kronyc sends the same request bytes as Debian's chronyc 4.3 for every
//! command (apart from the random sequence number and the places where
//! chrony changed the protocol since 4.3, listed below). A fake daemon
//! records the requests and answers "200 OK".

mod common;

use common::*;
use krony_wire::cmdmon::{CommandCode, Reply, ReplyBody, RequestHeader, Status};

/// Commands chronyd 4.3 does not know: the fake answers them as 4.3
/// would, with "invalid command".
const NEWER: [CommandCode; 3] = [
    CommandCode::LOCAL3,
    CommandCode::MODIFY_SELECTOPTS,
    CommandCode::MODIFY_OFFSET,
];

fn answer(bytes: &[u8]) -> Option<Vec<u8>> {
    let h = RequestHeader::parse(bytes).ok()?;
    let status = if NEWER.contains(&h.command) {
        Status::INVALID
    } else {
        Status::SUCCESS
    };
    Reply {
        command: h.command,
        status,
        sequence: h.sequence,
        body: ReplyBody::Null,
    }
    .to_bytes()
    .ok()
}

/// The requests a client sent for one command.
fn requests_of(fake: &FakeDaemon, bin: &str, cmd: &str) -> (Vec<Vec<u8>>, Run) {
    fake.take_requests();
    let sock = fake.sock();
    let mut args = vec!["-h", sock.as_str()];
    args.extend(cmd.split(' '));
    let r = run(bin, &args);
    (fake.take_requests(), r)
}

/// The bytes that must agree: all but the sequence number, and for
/// ADD_SOURCE the last word, which chrony 4.3 reserved and later chrony
/// uses for `maxunreach` (4.3 ignores it).
fn comparable(req: &[u8]) -> Vec<u8> {
    let mut b = req.to_vec();
    if let Some(seq) = b.get_mut(8..12) {
        seq.fill(0);
    }
    let add_source = b.get(4..6) == Some(&64u16.to_be_bytes()[..]);
    if add_source {
        if let Some(w) = b.get_mut(368..372) {
            w.fill(0);
        }
    }
    b
}

#[test]
fn write_commands_send_chronycs_bytes() {
    if !installed(CHRONYC) {
        return;
    }
    let fake = FakeDaemon::start(Box::new(answer));
    let commands = [
        "accheck 192.0.2.1",
        "cmdaccheck 2001:db8::1",
        "add server 192.0.2.1",
        "add server 192.0.2.1 port 1234 minpoll 2 maxpoll 8 iburst burst prefer noselect trust \
         require xleave offline auto_offline key 5 maxdelay 0.5 maxdelayratio 2 \
         maxdelaydevratio 3 mindelay 0.001 asymmetry 0.2 offset -0.5 minsamples 3 maxsamples 10 \
         filter 4 polltarget 6 version 3 minstratum 2 presend 5 copy extfield F323 \
         maxdelayquant 0.2 nts ntsport 4461 certset 2",
        "add pool 192.0.2.2 maxsources 3",
        "add peer 2001:db8::2 key 3",
        "allow",
        "allow all 10/8",
        "deny 192.168",
        "deny all 2001:db8::/32",
        "cmdallow 192.0.2.1",
        "cmddeny all",
        "burst 4/8",
        "burst 2/4 192.0.2.0/24",
        "burst 2/4 255.255.0.0/10.1.0.0",
        "cyclelogs",
        "delete 192.0.2.1",
        "delete ID#0000000002",
        "dfreq 1.5e-3",
        "doffset -0.25",
        "dump",
        "local",
        "local off",
        "local stratum 3 orphan distance 0.25",
        "makestep",
        "makestep 0.5 -1",
        "manual on",
        "manual off",
        "manual reset",
        "manual delete 3",
        "maxdelay 192.0.2.1 0.3",
        "maxdelayratio 192.0.2.1 1.5",
        "maxdelaydevratio 192.0.2.1 4",
        "maxpoll 192.0.2.1 9",
        "minpoll 192.0.2.1 -2",
        "minstratum 192.0.2.1 4",
        "polltarget 192.0.2.1 12",
        "maxupdateskew 12.5",
        "offline",
        "offline 192.0.2.0/24",
        "online 2001:db8::1",
        "onoffline",
        "refresh",
        "rekey",
        "reload sources",
        "reselect",
        "reselectdist 1e-3",
        "reset sources",
        "shutdown",
        "smoothtime activate",
        "smoothtime reset",
        "trimrtc",
        "writertc",
        "tracking",
        "sources",
        "activity",
        "smoothing",
        "rtcdata",
        "manual list",
        "clients -p 3 -r",
        "authdata",
        "selectdata",
        "sourcestats",
        "sourcename 192.0.2.1",
    ];
    for cmd in commands {
        let (c, cr) = requests_of(&fake, CHRONYC, cmd);
        let (k, kr) = requests_of(&fake, KRONYC, cmd);
        assert!(!c.is_empty(), "{cmd}: chronyc sent nothing: {}", cr.stderr);
        // kronyc tries LOCAL3 (chrony >= 4.6) before chronyc 4.3's LOCAL2.
        let k: Vec<Vec<u8>> = k
            .into_iter()
            .filter(|r| r.get(4..6) != Some(&74u16.to_be_bytes()[..]))
            .collect();
        let c: Vec<Vec<u8>> = c.iter().map(|r| comparable(r)).collect();
        let k: Vec<Vec<u8>> = k.iter().map(|r| comparable(r)).collect();
        assert_eq!(c, k, "{cmd}: {}", kr.stderr);
        assert_eq!((cr.stdout, cr.code), (kr.stdout, kr.code), "{cmd}");
    }
}

#[test]
fn reports_of_changed_layouts_ask_for_the_newest() {
    let fake = FakeDaemon::start(Box::new(answer));
    // SERVER_STATS padded for SERVER_STATS4 (196 bytes) and NTP_DATA for
    // NTP_DATA2 (172): chronyd 4.3 answers with its older layouts.
    for (cmd, len) in [("serverstats", 196), ("ntpdata 192.0.2.1", 172)] {
        let (k, _) = requests_of(&fake, KRONYC, cmd);
        assert_eq!(k.first().map(Vec::len), Some(len), "{cmd}");
    }
}
