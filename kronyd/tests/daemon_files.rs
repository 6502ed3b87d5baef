//! kronyd's files beyond the driftfile (issue 4, "Files, logs, process"):
//! dump files loaded with `-r`, written by `chronyc dump` and at exit; every
//! kronyd with `-x` on loopback, its sources at ports where nothing answers
//! unless a test says otherwise.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemon_support::*;

/// A dump of `name` in chrony's format with three samples, the newest
/// `ago` seconds ago.
fn dump_text(name: &str, ago: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut text = format!("SRC0\n{name}\n0 377 8 2 0\n3 0\n");
    for i in 0..3u64 {
        let t = now - ago - 32 * (2 - i);
        text.push_str(&format!(
            "{t}.250000000 {o:.6e} {o:.6e} 2.000000e-04 1.000000e-06 3.000000e-04 2.000000e-05\n",
            o = 1.5e-4 + 1e-6 * i as f64,
        ));
    }
    text.replace("e-4", "e-04").replace("e-6", "e-06")
}

/// Whether `file` exists and starts with a dump header naming `name`.
fn is_dump_of(file: &Path, name: &str) -> bool {
    std::fs::read_to_string(file).is_ok_and(|t| t.starts_with(&format!("SRC0\n{name}\n")))
}

#[test]
fn dumps_are_loaded_with_r_removed_and_written_on_dump_and_exit() {
    if !installed(&[CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dumps = d.join("dumps");
    std::fs::create_dir(&dumps).unwrap();
    std::fs::write(dumps.join("127.0.0.1.dat"), dump_text("127.0.0.1", 20)).unwrap();
    // A corrupt dump is reported and ignored.
    std::fs::write(
        dumps.join("127.0.0.2.dat"),
        "SRC0\n127.0.0.2\n0 377 8 2 0\n3 0\nx\n",
    )
    .unwrap();
    // A stale dump of no configured source is removed without a word.
    std::fs::write(dumps.join("192.0.2.1.dat"), dump_text("192.0.2.1", 20)).unwrap();
    let (p1, p2) = (free_port(), free_port());
    let mut conf = kronyd_base(d);
    conf.extend([
        format!("server 127.0.0.1 port {p1}"),
        format!("server 127.0.0.2 port {p2}"),
        "port 0".into(),
        format!("dumpdir {}", dumps.display()),
    ]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let mut kronyd = start_kronyd(d, &conf, &["-r"], &[]);
    assert!(
        kronyd.wait_log("Loaded dump file for 127.0.0.1", Duration::from_secs(5)),
        "{}",
        kronyd.log_text()
    );
    assert!(
        kronyd.wait_log(
            "Could not load dump file for 127.0.0.2",
            Duration::from_secs(2)
        ),
        "{}",
        kronyd.log_text()
    );
    let sock = d.join("kronyd.sock");
    let stats = chronyc(&sock, &["sourcestats"]);
    let row = stats
        .lines()
        .find(|l| l.starts_with("127.0.0.1 "))
        .unwrap_or_else(|| panic!("{stats}"));
    let np: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(np.get(1), Some(&"3"), "three samples loaded: {stats}");
    let sources = chronyc(&sock, &["sources"]);
    let row = sources
        .lines()
        .find(|l| l.contains("127.0.0.1"))
        .unwrap_or_else(|| panic!("{sources}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    // Stratum restored; reach restored (one failed poll may have shifted it).
    assert_eq!(cols.get(2), Some(&"2"), "{sources}");
    assert!(matches!(cols.get(4), Some(&"377" | &"376")), "{sources}");
    // Loaded or not, dumps are removed at start.
    assert!(!dumps.join("192.0.2.1.dat").exists());
    assert!(!dumps.join("127.0.0.1.dat").exists());
    assert!(!dumps.join("127.0.0.2.dat").exists());

    // The files are written before the reply: a client that got "200 OK"
    // finds them at once (repeated, as a late write is a race).
    for _ in 0..20 {
        let reply = chronyc(&sock, &["dump"]);
        assert!(reply.contains("200 OK"), "{reply}");
        assert!(is_dump_of(&dumps.join("127.0.0.1.dat"), "127.0.0.1"));
        std::fs::remove_file(dumps.join("127.0.0.1.dat")).unwrap();
    }
    assert_eq!(chronyc(&sock, &["dump"]).trim(), "200 OK");
    // No samples, no dump.
    assert!(!dumps.join("127.0.0.2.dat").exists());
    std::fs::remove_file(dumps.join("127.0.0.1.dat")).unwrap();
    assert_eq!(kronyd.terminate(Duration::from_secs(5)), Some(0));
    assert!(is_dump_of(&dumps.join("127.0.0.1.dat"), "127.0.0.1"));
}

#[test]
fn without_r_dumps_are_removed_not_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let dumps = d.join("dumps");
    std::fs::create_dir(&dumps).unwrap();
    std::fs::write(dumps.join("127.0.0.1.dat"), dump_text("127.0.0.1", 20)).unwrap();
    let mut conf = kronyd_base(d);
    conf.extend([
        format!("server 127.0.0.1 port {}", free_port()),
        "port 0".into(),
        format!("dumpdir {}", dumps.display()),
    ]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let kronyd = start_kronyd(d, &conf, &[], &[]);
    assert!(
        wait_until(Duration::from_secs(5), || !dumps
            .join("127.0.0.1.dat")
            .exists()),
        "{}",
        kronyd.log_text()
    );
    assert!(!kronyd.log_text().contains("Loaded dump file"));
}

/// `log statistics selection`: a kronyd client of a kronyd server writes
/// chrony's lines, after the banners, into `statistics.log` and
/// `selection.log`.
#[test]
fn statistics_and_selection_logs() {
    let server_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut conf = kronyd_base(server_dir.path());
    conf.extend([
        "local stratum 10".into(),
        "allow 127.0.0.1".into(),
        format!("port {port}"),
        "bindaddress 127.0.0.1".into(),
    ]);
    let conf = write_conf(server_dir.path(), "kronyd.conf", &conf);
    let _server = start_kronyd(server_dir.path(), &conf, &[], &[]);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let logs = d.join("log");
    let mut conf = kronyd_base(d);
    conf.extend([
        format!("server 127.0.0.1 port {port} iburst minpoll -4 maxpoll -4"),
        "port 0".into(),
        format!("logdir {}", logs.display()),
        "log statistics selection".into(),
    ]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let client = start_kronyd(d, &conf, &[], &[]);
    assert!(
        client.wait_log("Selected source 127.0.0.1", Duration::from_secs(10)),
        "{}",
        client.log_text()
    );
    let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap_or_default();
    assert!(wait_until(Duration::from_secs(5), || read(
        "statistics.log"
    )
    .lines()
    .filter(|l| l.contains(" 127.0.0.1 "))
    .count()
        >= 2));
    let stats = read("statistics.log");
    let mut lines = stats.lines();
    assert_eq!(
        lines.next().map(|l| l.chars().all(|c| c == '=')),
        Some(true)
    );
    assert!(
        lines
            .next()
            .is_some_and(|l| l.contains("Std dev'n Est offset"))
    );
    let line = stats.lines().find(|l| l.contains(" 127.0.0.1 ")).unwrap();
    // chrony's columns: date time address 8 figures and 3 counts.
    assert_eq!(line.len(), 116, "{line}");
    assert_eq!(line.split_whitespace().count(), 13, "{line}");
    let selection = read("selection.log");
    assert!(
        selection.contains("IP Address   S EOpts Reach Score"),
        "{selection}"
    );
    assert!(
        selection
            .lines()
            .any(|l| l.contains(" 127.0.0.1       * -----")),
        "{selection}"
    );
    // The warnings for these kinds are gone.
    assert!(!client.log_text().contains("not supported by kronyd yet"));
}

/// `sourcedir` at start and `chronyc reload sources`: a removed line
/// removes its source, a new one is added, an unchanged one is kept.
#[test]
fn sourcedir_and_reload_sources() {
    if !installed(&[CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let srcdir = d.join("sources.d");
    std::fs::create_dir(&srcdir).unwrap();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    std::fs::write(
        srcdir.join("a.sources"),
        format!("server 127.0.0.1 port {p1}\nserver 127.0.0.3 port {p3}\n"),
    )
    .unwrap();
    std::fs::write(srcdir.join("ignored.conf"), "server 127.0.0.9\n").unwrap();
    let mut conf = kronyd_base(d);
    conf.extend(["port 0".into(), format!("sourcedir {}", srcdir.display())]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let kronyd = start_kronyd(d, &conf, &[], &[]);
    let sock = d.join("kronyd.sock");
    let listed = |ip: &str| chronyc(&sock, &["sources"]).contains(&format!(" {ip} "));
    assert!(
        wait_until(Duration::from_secs(5), || listed("127.0.0.1")),
        "{}",
        kronyd.log_text()
    );
    assert!(listed("127.0.0.3"));
    assert!(!listed("127.0.0.9"));
    // Sources from a sourcedir file are logged at info level (chronyd's
    // source-file context), configured ones only at debug level.
    assert!(kronyd.log_text().contains("Added source 127.0.0.3"));
    std::fs::write(
        srcdir.join("a.sources"),
        format!("server 127.0.0.3 port {p3}\n"),
    )
    .unwrap();
    std::fs::write(
        srcdir.join("b.sources"),
        format!("pool 127.0.0.2 port {p2}\n"),
    )
    .unwrap();
    let reply = chronyc(&sock, &["reload", "sources"]);
    assert!(reply.contains("200 OK"), "{reply}");
    assert!(kronyd.wait_log("Removed source 127.0.0.1", Duration::from_secs(2)));
    assert!(!listed("127.0.0.1"));
    assert!(listed("127.0.0.2"), "{}", chronyc(&sock, &["sources"]));
    assert!(listed("127.0.0.3"));
    assert!(!kronyd.log_text().contains("Removed source 127.0.0.3"));
    // A pool is named once, by its name, as chronyd does.
    std::fs::write(
        srcdir.join("b.sources"),
        format!("pool localhost port {p2} maxsources 2\n"),
    )
    .unwrap();
    let reply = chronyc(&sock, &["reload", "sources"]);
    assert!(reply.contains("200 OK"), "{reply}");
    assert!(kronyd.wait_log("Added pool localhost", Duration::from_secs(5)));
    let log = kronyd.log_text();
    assert_eq!(log.matches("Added pool localhost").count(), 1, "{log}");
    assert!(!log.contains("(localhost)"), "{log}");
    std::fs::remove_file(srcdir.join("b.sources")).unwrap();
    let reply = chronyc(&sock, &["reload", "sources"]);
    assert!(reply.contains("200 OK"), "{reply}");
    assert!(kronyd.wait_log("Removed pool localhost", Duration::from_secs(2)));
    let log = kronyd.log_text();
    assert_eq!(log.matches("Removed pool localhost").count(), 1, "{log}");
}

/// `leapseclist` and `leapsectz`: chronyd's check and messages at start.
#[test]
fn leap_second_sources_are_checked_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // TAI−UTC changes (NTP seconds): the 2012 leap second is what the
    // check looks for.
    let list = d.join("leap-seconds.list");
    std::fs::write(
        &list,
        "#$\t3676924800\n#@\t3928521600\n2272060800\t10\n3439756800\t34\n\
         3550089600\t35\n3644697600\t36\n3692217600\t37\n",
    )
    .unwrap();
    let zone = d.join("not-a-zone");
    std::fs::write(&zone, "TZif2 but nothing else").unwrap();
    let mut conf = kronyd_base(d);
    conf.extend([
        "port 0".into(),
        format!("leapseclist {}", list.display()),
        format!("leapsectz {}", zone.display()),
    ]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let mut kronyd = start_kronyd(d, &conf, &[], &[]);
    let using = format!("Using leap second list {}", list.display());
    assert!(
        kronyd.wait_log(&using, Duration::from_secs(5)),
        "{}",
        kronyd.log_text()
    );
    let failed = format!(
        "Timezone {} failed leap second check, ignoring",
        zone.display()
    );
    assert!(kronyd.log_text().contains(&failed), "{}", kronyd.log_text());
    assert_eq!(kronyd.terminate(Duration::from_secs(5)), Some(0));

    if !Path::new("/usr/share/zoneinfo/right/UTC").exists() {
        eprintln!("SKIP: no right/UTC time zone (tzdata)");
        return;
    }
    let mut conf = kronyd_base(d);
    conf.extend(["port 0".into(), "leapsectz right/UTC".into()]);
    let conf = write_conf(d, "kronyd.conf", &conf);
    let kronyd = start_kronyd(d, &conf, &[], &[]);
    assert!(
        kronyd.wait_log(
            "Using right/UTC timezone to obtain leap second data",
            Duration::from_secs(5)
        ),
        "{}",
        kronyd.log_text()
    );
}
