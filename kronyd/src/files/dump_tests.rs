use super::*;
use krony_engine::stats::{Sample, StatsParams};

const BASE: i64 = 1_795_599_691;

fn at(t: f64) -> UnixTime {
    UnixTime::from_secs_nanos(BASE, 0).add_secs(t)
}

/// A source measured every 2 s, its offset growing by 1 µs per sample.
fn stats_with(n: usize) -> SourceStats {
    let mut stats = SourceStats::new(StatsParams::ntp(1e-9));
    for i in 0..n {
        let t = 2.0 * i as f64 + 0.123_456_789;
        let s = Sample {
            time: at(t),
            offset: 1e-6 * i as f64 + 2.5e-7 * ((i % 3) as f64 - 1.0),
            peer_delay: 6e-6 + 1e-7 * (i % 4) as f64,
            peer_dispersion: 3.49e-8,
            root_delay: 6e-6,
            root_dispersion: 3.5e-8,
        };
        stats
            .accumulate_sample(&s, 1, LeapStatus::Normal)
            .expect("finite sample");
        stats.do_new_regression();
    }
    stats
}

fn state() -> SourceState {
    SourceState {
        authenticated: false,
        reach: 0o377,
        reach_size: 8,
        stratum: 1,
        leap: LeapStatus::Normal,
    }
}

const V4: DumpSource<'static> = DumpSource::Ntp {
    addr: IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 1)),
    name: "127.0.0.1",
};

#[test]
fn file_names_are_chronys() {
    assert_eq!(V4.file_stem(), "127.0.0.1");
    let v6 = DumpSource::Ntp {
        addr: "2001:db8::1".parse().expect("ip"),
        name: "ntp.example.net",
    };
    assert_eq!(v6.file_stem(), "2001:db8::1");
    let gps = DumpSource::Refclock {
        ref_id: 0x4750_5300,
    };
    assert_eq!(gps.file_stem(), "refid:47505300");
    assert_eq!(gps.display_name(), "GPS");
    let dir = DumpDir::new("/var/lib/krony");
    assert_eq!(
        dir.path_for(&gps),
        PathBuf::from("/var/lib/krony/refid:47505300.dat")
    );
}

#[test]
fn addresses_print_like_inet_ntop() {
    let t = |s: &str| ip_text(&s.parse().expect("ip"));
    assert_eq!(t("::ffff:192.0.2.1"), "::ffff:192.0.2.1");
    assert_eq!(t("::192.0.2.1"), "::192.0.2.1");
    assert_eq!(t("::1"), "::1");
    assert_eq!(t("::"), "::");
    assert_eq!(t("::5"), "::5");
    assert_eq!(t("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
}

#[test]
fn save_then_load_restores_samples_and_state() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DumpDir::new(tmp.path());
    let stats = stats_with(10);
    let st = SourceState {
        authenticated: true,
        reach: 0o17,
        reach_size: 4,
        stratum: 2,
        leap: LeapStatus::InsertSecond,
    };
    assert!(dir.save(&V4, &st, &stats).expect("saved"));
    let text = fs::read_to_string(dir.path_for(&V4)).expect("read");
    assert!(text.starts_with("SRC0\n127.0.0.1\n1 17 4 2 1\n"), "{text}");
    assert!(text.ends_with(&stats.dump()));

    let mut loaded = SourceStats::new(StatsParams::ntp(1e-9));
    let got = dir.load(&V4, true, &mut loaded, at(100.0)).expect("loaded");
    assert_eq!(got, st);
    assert_eq!(loaded.dump(), stats.dump());
    assert_eq!(loaded.n_samples(), stats.n_samples());
    assert_eq!(loaded_message(&V4), "Loaded dump file for 127.0.0.1");
}

#[test]
fn chrony_dump_loads() {
    // The head of a dump chronyd 4.3 wrote for a local server (3 samples kept).
    let text = "SRC0\n127.0.0.1\n0 377 8 1 0\n3 86\n\
        1795599691.760295896 1.652668e-06 5.260000e-07 6.919000e-06 3.490235e-08 6.919000e-06 3.490235e-08\n\
        1795599692.015305820 2.255639e-06 1.137000e-06 8.157000e-06 3.490306e-08 8.157000e-06 3.490306e-08\n\
        1795599692.267071130 1.356475e-06 2.410000e-07 6.003000e-06 3.490241e-08 6.003000e-06 3.490241e-08\n";
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DumpDir::new(tmp.path());
    fs::write(dir.path_for(&V4), text).expect("write");
    let mut stats = SourceStats::new(StatsParams::ntp(1e-9));
    let st = dir.load(&V4, false, &mut stats, at(60.0)).expect("loads");
    assert_eq!(st, state());
    assert_eq!(stats.n_samples(), 3);
    // Written back with the same header and sample lines (the asymmetry
    // counter is the regression's business).
    assert!(dir.save(&V4, &st, &stats).expect("saved"));
    let saved = fs::read_to_string(dir.path_for(&V4)).expect("read");
    let skip_count = |t: &str| -> Vec<String> {
        t.lines()
            .enumerate()
            .filter(|(i, _)| *i != 3)
            .map(|(_, l)| l.to_string())
            .collect()
    };
    assert_eq!(skip_count(&saved), skip_count(text));
    assert!(saved.lines().nth(3).is_some_and(|l| l.starts_with("3 ")));
}

#[test]
fn source_without_samples_has_no_dump() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DumpDir::new(tmp.path());
    fs::write(dir.path_for(&V4), "old").expect("write");
    let empty = SourceStats::new(StatsParams::ntp(1e-9));
    assert!(!dir.save(&V4, &state(), &empty).expect("nothing to save"));
    assert!(!dir.path_for(&V4).exists());
}

#[test]
fn missing_dump_is_a_debug_message() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DumpDir::new(tmp.path());
    let mut stats = SourceStats::new(StatsParams::ntp(1e-9));
    let err = dir.load(&V4, false, &mut stats, at(0.0)).expect_err("none");
    assert_eq!(err.severity(), Severity::Debug);
}

#[test]
fn corrupt_dumps_are_rejected_and_leave_stats_alone() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DumpDir::new(tmp.path());
    let good = stats_with(8);
    assert!(dir.save(&V4, &state(), &good).expect("saved"));
    let text = fs::read_to_string(dir.path_for(&V4)).expect("read");
    let samples = good.dump();
    let cases: Vec<(String, bool)> = vec![
        (text.replace("SRC0", "SRC1"), false),
        (text.replace("127.0.0.1\n", "192.0.2.9\n"), false),
        (text.replace("127.0.0.1\n", "127.0.0.1 x\n"), false),
        (text.replace("0 377 8 1 0", "0 377 8 16 0"), false),
        (text.replace("0 377 8 1 0", "0 377 8 1 3"), false),
        (text.replace("0 377 8 1 0", "0 9 8 1 0"), false),
        (text.replace("0 377 8 1 0", "0 377 8 1"), false),
        // An unauthenticated dump for an authenticated source.
        (text.clone(), true),
        (text.replace(&samples, ""), false),
        (text.replace(&samples, &samples[..samples.len() / 2]), false),
        ("SRC0".to_string(), false),
        (String::new(), false),
    ];
    for (i, (bad, auth)) in cases.into_iter().enumerate() {
        fs::write(dir.path_for(&V4), &bad).expect("write");
        let mut stats = stats_with(3);
        let before = stats.dump();
        let err = dir
            .load(&V4, auth, &mut stats, at(100.0))
            .expect_err(&format!("case {i} must fail"));
        assert_eq!(err.to_string(), "Could not load dump file for 127.0.0.1");
        assert_eq!(err.severity(), Severity::Warn);
        assert_eq!(stats.dump(), before, "case {i}");
    }
    // Samples from the future are not sane.
    fs::write(dir.path_for(&V4), &text).expect("write");
    let mut stats = SourceStats::new(StatsParams::ntp(1e-9));
    assert!(dir.load(&V4, false, &mut stats, at(1.0)).is_err());
    // Binary garbage.
    fs::write(dir.path_for(&V4), b"SRC0\n\xff\xfe\n").expect("write");
    assert!(dir.load(&V4, false, &mut stats, at(100.0)).is_err());
}

#[test]
fn refclock_dump_ignores_the_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DumpDir::new(tmp.path());
    let pps = DumpSource::Refclock {
        ref_id: 0x5050_5300,
    };
    let stats = stats_with(5);
    assert!(dir.save(&pps, &state(), &stats).expect("saved"));
    let text = fs::read_to_string(dir.path_for(&pps)).expect("read");
    assert!(text.starts_with("SRC0\n.\n"), "{text}");
    let mut loaded = SourceStats::new(StatsParams::refclock(1e-9));
    dir.load(&pps, false, &mut loaded, at(100.0))
        .expect("loads");
    assert_eq!(loaded.n_samples(), 5);
}

#[test]
fn remove_all_removes_only_dumps() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = DumpDir::new(tmp.path());
    for name in [
        "127.0.0.1.dat",
        "2001:db8::1.dat",
        "refid:47505300.dat",
        "notes.dat",
        "127.0.0.1.txt",
    ] {
        fs::write(tmp.path().join(name), "").expect("write");
    }
    assert!(dir.remove_all().is_empty());
    let mut left: Vec<String> = fs::read_dir(tmp.path())
        .expect("list")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf8"))
        .collect();
    left.sort();
    assert_eq!(left, ["127.0.0.1.txt", "notes.dat"]);
}
