//! Malformed lines give an error naming the file, the line and the problem.
#![allow(clippy::unwrap_used)]

use krony_config::parse_str;

/// (line, expected message after "bad.conf:3: ")
const CASES: &[(&str, &str)] = &[
    ("bogus 1", "unknown directive \"bogus\""),
    ("server", "missing hostname in server directive"),
    (
        "server a minpoll x",
        "invalid minpoll \"x\" in server directive (not an integer)",
    ),
    ("server a minpoll", "missing minpoll in server directive"),
    (
        "server a maxpoll 33",
        "invalid maxpoll \"33\" in server directive (must be from -32 to 32)",
    ),
    (
        "server a orphan",
        "invalid option \"orphan\" in server directive",
    ),
    (
        "server a key 0",
        "invalid key \"0\" in server directive (must be from 1 to 4294967295)",
    ),
    (
        "server a version 5",
        "invalid version \"5\" in server directive (must be from 1 to 4)",
    ),
    (
        "server a maxdelay fast",
        "invalid maxdelay \"fast\" in server directive (not a number)",
    ),
    (
        "server a extfield 1234",
        "invalid extfield \"1234\" in server directive (expected 10A or F323)",
    ),
    (
        "pool p maxsources 0",
        "invalid maxsources \"0\" in pool directive (must be from 1 to 2147483647)",
    ),
    (
        "peer a port 70000",
        "invalid port \"70000\" in peer directive (must be from 0 to 65535)",
    ),
    ("makestep 1", "missing limit in makestep directive"),
    (
        "makestep 1 2 3",
        "too many arguments in makestep directive (unexpected \"3\")",
    ),
    (
        "makestep x 3",
        "invalid threshold \"x\" in makestep directive (not a number)",
    ),
    (
        "maxdistance 1x",
        "invalid value \"1x\" in maxdistance directive (not a number)",
    ),
    (
        "maxdistance inf",
        "invalid value \"inf\" in maxdistance directive (not a number)",
    ),
    (
        "dscp 64",
        "invalid value \"64\" in dscp directive (must be from 0 to 63)",
    ),
    (
        "port -1",
        "invalid value \"-1\" in port directive (must be from 0 to 65535)",
    ),
    (
        "rtcsync x",
        "too many arguments in rtcsync directive (unexpected \"x\")",
    ),
    ("driftfile", "missing file in driftfile directive"),
    (
        "driftfile /d every 10",
        "invalid option \"every\" in driftfile directive",
    ),
    (
        "local stratum 0",
        "invalid stratum \"0\" in local directive (must be from 1 to 15)",
    ),
    ("local foo", "invalid option \"foo\" in local directive"),
    (
        "allow 192.168.1.300",
        "invalid subnet \"192.168.1.300\" in allow directive (expected an address, a subnet or a host name)",
    ),
    (
        "allow 10.0.0.0/40",
        "invalid subnet \"10.0.0.0/40\" in allow directive (must be from 0 to 32)",
    ),
    (
        "deny 1.2.3.4 5.6.7.8",
        "too many arguments in deny directive (unexpected \"5.6.7.8\")",
    ),
    (
        "cmdratelimit kod 1",
        "invalid option \"kod\" in cmdratelimit directive",
    ),
    (
        "ratelimit interval 40",
        "invalid interval \"40\" in ratelimit directive (must be from -32 to 32)",
    ),
    (
        "log tracking bogus",
        "invalid log kind \"bogus\" in log directive (expected rawmeasurements, measurements, selection, statistics, tracking, rtc, refclocks or tempcomp)",
    ),
    (
        "leapsecmode jump",
        "invalid mode \"jump\" in leapsecmode directive (expected system, step, slew or ignore)",
    ),
    (
        "authselectmode any",
        "invalid mode \"any\" in authselectmode directive (expected require, prefer, mix or ignore)",
    ),
    (
        "bindaddress localhost",
        "invalid address \"localhost\" in bindaddress directive (expected an IP address)",
    ),
    (
        "refclock GPS 0",
        "invalid driver \"GPS\" in refclock directive (expected PPS, SOCK, SHM, PHC or RTC)",
    ),
    (
        "refclock PPS",
        "missing driver parameter in refclock directive",
    ),
    (
        "refclock SOCK /s refid TOOLONG",
        "invalid refid \"TOOLONG\" in refclock directive (expected at most 4 characters)",
    ),
    (
        "refclock PPS /dev/pps0:utc",
        "invalid driver option \"utc\" in refclock directive (expected an option supported by the driver)",
    ),
    (
        "hwtimestamp eth0 rxfilter some",
        "invalid rxfilter \"some\" in hwtimestamp directive (expected none, ntp, ptp or all)",
    ),
    (
        "smoothtime 400 0.001 always",
        "invalid option \"always\" in smoothtime directive",
    ),
    (
        "opencommands tracking shutdown",
        "invalid command \"shutdown\" in opencommands directive (expected a monitoring command name)",
    ),
    ("include", "missing pattern in include directive"),
    (
        "include /etc/krony/x.conf",
        "could not read /etc/krony/x.conf: file access disabled",
    ),
    (
        "confdir a b c d e f g h i j k",
        "too many arguments in confdir directive (unexpected \"k\")",
    ),
    ("keyfile", "missing argument in keyfile directive"),
    ("tempcomp /s 30 1 2", "missing k1 in tempcomp directive"),
];

#[test]
fn malformed_lines() {
    assert!(CASES.len() >= 25);
    for (line, expected) in CASES {
        let text = format!("# header\nrtcsync\n{line}\nmakestep 1 3\n");
        let err = parse_str(&text, "bad.conf").unwrap_err();
        assert_eq!(err.file, "bad.conf", "{line}");
        assert_eq!(err.line, Some(3), "{line}");
        assert_eq!(err.to_string(), format!("bad.conf:3: {expected}"), "{line}");
    }
}

#[test]
fn long_line() {
    let text = format!("server {}\n", "a".repeat(3000));
    let err = parse_str(&text, "x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "x:1: line too long (maximum 2046 characters)"
    );
}
