//! kronyc against Debian's chronyd 4.3: two `chronyd -x` on loopback (A
//! serves local stratum 1 time, B uses A as its source), and for each
//! report Debian's chronyc and kronyc are run with the same options; the
//! outputs must be identical, except values that change between the two
//! calls (masked below; a pair is retried until the rest is stable).
//!
//! Skips (with a message) only if chronyd or chronyc is not installed.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// Which report a text is, to know what to mask.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tracking,
    Sources,
    SelectData,
    ServerStats,
    Other,
}

/// Replaces columns `from..to` of table rows (lines after the `====`
/// underline) with `#`.
fn mask_columns(text: &str, from: usize, to: usize) -> String {
    let mut past_header = false;
    let mut out = String::new();
    for line in text.lines() {
        if past_header
            && line.len() >= to
            && line.is_char_boundary(from)
            && line.is_char_boundary(to)
        {
            out.push_str(&line[..from]);
            out.push_str(&"#".repeat(to - from));
            out.push_str(&line[to..]);
        } else {
            out.push_str(line);
        }
        if line.starts_with("====") {
            past_header = true;
        }
        out.push('\n');
    }
    out
}

/// Replaces CSV field `i` of every line with `#`.
fn mask_field(text: &str, i: usize) -> String {
    text.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            if let Some(x) = f.get_mut(i) {
                *x = "#";
            }
            f.join(",") + "\n"
        })
        .collect()
}

/// Replaces the value of lines starting with `label`.
fn mask_line(text: &str, label: &str) -> String {
    text.lines()
        .map(|l| {
            if l.starts_with(label) {
                format!("{label}#\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect()
}

/// Masks what always changes between two calls: the time since the last
/// sample, the growing root dispersion and remaining correction, and the
/// daemon's count of command packets (each call adds one).
fn mask(kind: Kind, csv: bool, text: &str) -> String {
    match (kind, csv) {
        (Kind::Tracking, false) => {
            mask_line(&mask_line(text, "Root dispersion : "), "System time     : ")
        }
        (Kind::Tracking, true) => mask_field(&mask_field(text, 4), 11),
        (Kind::Sources, false) => mask_columns(text, 46, 50),
        (Kind::Sources, true) => mask_field(text, 6),
        (Kind::SelectData, false) => mask_columns(text, 42, 46),
        (Kind::SelectData, true) => mask_field(text, 13),
        (Kind::ServerStats, false) => mask_line(text, "Command packets received   : "),
        (Kind::ServerStats, true) => mask_field(text, 2),
        _ => text.to_string(),
    }
}

/// Runs chronyc and kronyc with `args` against `host` until their masked
/// outputs agree (at most 10 pairs), else fails showing both.
fn assert_same(host: &str, args: &[&str], kind: Kind) {
    let csv = args.contains(&"-c");
    let mut full = vec!["-h", host];
    full.extend_from_slice(args);
    let mut last = None;
    for _ in 0..10 {
        let c = run(CHRONYC, &full);
        let k = run(KRONYC, &full);
        if mask(kind, csv, &c.stdout) == mask(kind, csv, &k.stdout) && c.code == k.code {
            // Only a CSV report without rows may print nothing.
            assert!(csv || !c.stdout.is_empty(), "{args:?}: no output");
            return;
        }
        last = Some((c, k));
        std::thread::sleep(Duration::from_millis(200));
    }
    let (c, k) = last.expect("ran");
    panic!(
        "{args:?} differs\n--- chronyc ({}):\n{}{}\n--- kronyc ({}):\n{}{}",
        c.code, c.stdout, c.stderr, k.code, k.stdout, k.stderr
    );
}

/// Waits until B has selected A and collected a few samples.
fn wait_synced(b: &Chronyd) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let s = run(CHRONYC, &["-c", "-h", &b.sock(), "sourcestats"]).stdout;
        let np = s
            .lines()
            .find(|l| l.starts_with("127.0.0.1,"))
            .and_then(|l| l.split(',').nth(1))
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0);
        let sel = run(CHRONYC, &["-c", "-h", &b.sock(), "sources"]).stdout;
        if np >= 4 && sel.lines().any(|l| l.starts_with("^,*,127.0.0.1")) {
            return;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    panic!("B did not synchronise:\n{}", b.log());
}

fn start_pair() -> Option<(Chronyd, Chronyd)> {
    if !installed(CHRONYD) || !installed(CHRONYC) {
        return None;
    }
    let a = Chronyd::start("local stratum 1\nallow 127.0.0.1\n");
    let b = Chronyd::start(&format!(
        "server 127.0.0.1 port {} minpoll 0 maxpoll 0 iburst\n\
         server 127.0.0.2 port {} minpoll 0 maxpoll 0\n\
         allow 127.0.0.1\nlocal stratum 8\n",
        a.ntp_port,
        free_udp_port()
    ));
    wait_synced(&b);
    Some((a, b))
}

#[test]
fn reports_match_chronyc() {
    let Some((a, b)) = start_pair() else {
        return;
    };
    let (bs, as_) = (b.sock(), a.sock());
    let reports: &[(&[&str], Kind)] = &[
        (&["tracking"], Kind::Tracking),
        (&["sources"], Kind::Sources),
        (&["sources", "-v"], Kind::Sources),
        (&["sources", "-a"], Kind::Sources),
        (&["sourcestats", "-v"], Kind::Other),
        (&["ntpdata"], Kind::Other),
        (&["ntpdata", "127.0.0.1"], Kind::Other),
        (&["activity"], Kind::Other),
        (&["selectdata"], Kind::SelectData),
        (&["authdata", "-v"], Kind::Other),
        (&["smoothing"], Kind::Other),
        (&["rtcdata"], Kind::Other),
        (&["manual", "list"], Kind::Other),
        (&["sourcename", "127.0.0.2"], Kind::Other),
    ];
    for (args, kind) in reports {
        for opts in [&[][..], &["-n"][..], &["-c"][..]] {
            let mut all: Vec<&str> = opts.to_vec();
            all.extend_from_slice(args);
            assert_same(&bs, &all, *kind);
        }
    }
    // The server side lives on A: B is its client.
    for opts in [&[][..], &["-n"][..], &["-c"][..]] {
        for (args, kind) in [
            (&["serverstats"][..], Kind::ServerStats),
            (&["clients"][..], Kind::Other),
            (&["clients", "-k", "-p", "1"][..], Kind::Other),
        ] {
            let mut all: Vec<&str> = opts.to_vec();
            all.extend_from_slice(args);
            assert_same(&as_, &all, kind);
        }
    }
    // Over UDP: open commands work, the others are not authorised.
    let port = b.cmd_port.to_string();
    assert_same("127.0.0.1", &["-p", &port, "sources"], Kind::Sources);
    assert_same(
        "127.0.0.1",
        &["-p", &port, "-c", "tracking"],
        Kind::Tracking,
    );
    assert_same("127.0.0.1", &["-p", &port, "serverstats"], Kind::Other);
    let k = run(KRONYC, &["-h", "127.0.0.1", "-p", &port, "dump"]);
    assert_eq!((k.stdout.as_str(), k.code), ("501 Not authorised\n", 1));
}

/// Runs a command with kronyc and checks its output and status.
fn kronyc_says(sock: &str, cmd: &[&str], want: &str) {
    let mut args = vec!["-h", sock];
    args.extend_from_slice(cmd);
    let k = run(KRONYC, &args);
    assert_eq!(k.stdout, want, "{cmd:?}: {}", k.stderr);
    assert_eq!(k.code, i32::from(!want.starts_with("20")), "{cmd:?}");
}

#[test]
fn write_commands_match_chronyc() {
    let Some((_a, b)) = start_pair() else {
        return;
    };
    let bs = b.sock();
    let same: &[&str] = &[
        "burst 4/4",
        "burst 2/4 127.0.0.1",
        "burst 2/4 255.255.255.0/127.0.0.0",
        "online",
        "offline 127.0.0.2",
        "online 127.0.0.0/8",
        "onoffline",
        "makestep",
        "makestep 0.1 3",
        "reselect",
        "reselectdist 0.001",
        "refresh",
        "reload sources",
        "allow 10/8",
        "deny all 10.1",
        "cmdallow ::1",
        "cmddeny all",
        "accheck 127.0.0.1",
        "accheck 10.1.0.1",
        "cmdaccheck 127.0.0.1",
        "local stratum 5 orphan distance 0.5",
        "manual on",
        "manual off",
        "manual reset",
        "manual delete 0",
        "minpoll 127.0.0.2 1",
        "maxpoll 127.0.0.2 3",
        "maxdelay 127.0.0.2 0.5",
        "maxdelayratio 127.0.0.2 2",
        "maxdelaydevratio 127.0.0.2 5",
        "minstratum 127.0.0.2 2",
        "polltarget 127.0.0.2 6",
        "maxupdateskew 100",
        "dump",
        "cyclelogs",
        "rekey",
        "writertc",
        "trimrtc",
        "smoothtime reset",
        "dfreq 0.1",
        "doffset 0.001",
        "settime 10:00",
        "delete 127.0.0.9",
        "delete nosuchhost.invalid",
        "burst x",
        "bogus",
        "dns -n",
        "timeout 50",
        "retries 40",
        "keygen 1 FOO",
    ];
    for cmd in same {
        let args: Vec<&str> = ["-h", bs.as_str()]
            .into_iter()
            .chain(cmd.split(' '))
            .collect();
        let c = run(CHRONYC, &args);
        let k = run(KRONYC, &args);
        assert_eq!(
            (&c.stdout, &c.stderr, c.code),
            (&k.stdout, &k.stderr, k.code),
            "{cmd}"
        );
    }
    // Sources added by one client are seen and removed by the other.
    let add = "add server 127.0.0.3 port 1 minpoll 2 maxpoll 4 iburst prefer key 7 offline";
    let add: Vec<&str> = add.split(' ').collect();
    kronyc_says(&bs, &add, "200 OK\n");
    let listed = run(CHRONYC, &["-n", "-h", &bs, "sources"]).stdout;
    assert!(listed.contains("127.0.0.3"), "{listed}");
    kronyc_says(&bs, &add, "511 Source already present\n");
    assert_eq!(
        run(CHRONYC, &["-h", &bs, "delete", "127.0.0.3"]).stdout,
        "200 OK\n"
    );
    kronyc_says(
        &bs,
        &["add", "pool", "127.0.0.4", "maxsources", "2"],
        "200 OK\n",
    );
    kronyc_says(&bs, &["add", "peer", "127.0.0.5"], "200 OK\n");
    kronyc_says(&bs, &["delete", "127.0.0.5"], "200 OK\n");
    // `local` needs LOCAL2 with chronyd 4.3 (kronyc tries LOCAL3 first).
    kronyc_says(&bs, &["local", "off"], "200 OK\n");
    let tracking = run(
        KRONYC,
        &["-n", "-h", &bs, "-m", "local stratum 9", "tracking"],
    );
    assert!(
        tracking.stdout.starts_with("200 OK\n"),
        "{}",
        tracking.stdout
    );
    kronyc_says(&bs, &["shutdown"], "200 OK\n");
}

#[test]
fn nothing_listening_cannot_talk() {
    let port = free_udp_port().to_string();
    let k = run(KRONYC, &["-h", "127.0.0.1", "-p", &port, "tracking"]);
    assert_eq!(
        (k.stdout.as_str(), k.code),
        ("506 Cannot talk to daemon\n", 1)
    );
    if installed(CHRONYC) {
        let c = run(CHRONYC, &["-h", "127.0.0.1", "-p", &port, "tracking"]);
        assert_eq!((c.stdout, c.code), (k.stdout, k.code));
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("none.sock").display().to_string();
    let k = run(KRONYC, &["-h", &missing, "tracking"]);
    assert_eq!(
        (k.stdout.as_str(), k.stderr.as_str(), k.code),
        ("", "Could not open connection to daemon\n", 1)
    );
}
