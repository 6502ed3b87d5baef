//! Golden-file tests of every report at edge values (ns/us/ms/s/m/h/d/y
//! units, negative zero, unknown values, very large intervals, IPv6
//! addresses and refids, paging of clients).
//!
//! A fake daemon answers from a crafted data set the way chronyd 4.3
//! does. kronyc's output must equal the file under `tests/data/`; where
//! Debian's chronyc is installed, its output must equal the same file,
//! which is how the files were made (`KRONYC_BLESS=1` rewrites them from
//! chronyc). The files for the layouts chrony 4.3 does not know
//! (`*-new.txt`: NTP_DATA2, SERVER_STATS4) were checked against chrony's
//! current print format by hand.

mod common;

use common::dataset::{Dataset, answer};
use common::*;

/// The cases: golden file name, data set, arguments.
fn cases() -> Vec<(&'static str, Dataset, Vec<&'static str>)> {
    let full = Dataset {
        full: true,
        new_layouts: false,
    };
    let empty = Dataset {
        full: false,
        new_layouts: false,
    };
    let new = Dataset {
        full: true,
        new_layouts: true,
    };
    vec![
        ("tracking.txt", full, vec!["tracking"]),
        ("tracking-csv.txt", full, vec!["-c", "tracking"]),
        ("tracking-unsynced.txt", empty, vec!["tracking"]),
        ("tracking-unsynced-csv.txt", empty, vec!["-c", "tracking"]),
        ("sources-v.txt", full, vec!["sources", "-v"]),
        ("sources-a.txt", full, vec!["sources", "-a"]),
        ("sources-a-csv.txt", full, vec!["-c", "sources", "-a"]),
        ("sources-names.txt", full, vec!["-N", "sources", "-a"]),
        ("sources-empty.txt", empty, vec!["sources"]),
        ("sourcestats-a.txt", full, vec!["sourcestats", "-a", "-v"]),
        ("sourcestats-csv.txt", full, vec!["-c", "sourcestats"]),
        ("selectdata-a.txt", full, vec!["selectdata", "-a"]),
        ("selectdata-csv.txt", full, vec!["-c", "selectdata", "-a"]),
        ("ntpdata.txt", full, vec!["ntpdata"]),
        (
            "ntpdata-addr-csv.txt",
            full,
            vec!["-c", "ntpdata", "2001:db8::1"],
        ),
        ("authdata-a.txt", full, vec!["authdata", "-a", "-v"]),
        ("authdata-csv.txt", full, vec!["-c", "authdata"]),
        ("serverstats.txt", full, vec!["serverstats"]),
        ("serverstats-csv.txt", full, vec!["-c", "serverstats"]),
        ("clients.txt", full, vec!["clients"]),
        ("clients-k-csv.txt", full, vec!["-c", "clients", "-k"]),
        ("clients-empty.txt", empty, vec!["clients"]),
        ("smoothing.txt", full, vec!["smoothing"]),
        ("smoothing-csv.txt", full, vec!["-c", "smoothing"]),
        ("rtcdata.txt", full, vec!["rtcdata"]),
        ("rtcdata-csv.txt", full, vec!["-c", "rtcdata"]),
        ("activity.txt", full, vec!["activity"]),
        ("activity-csv.txt", full, vec!["-c", "activity"]),
        ("manual-list.txt", full, vec!["manual", "list"]),
        ("manual-list-csv.txt", full, vec!["-c", "manual", "list"]),
        ("ntpdata-new.txt", new, vec!["ntpdata", "192.0.2.1"]),
        ("serverstats-new.txt", new, vec!["serverstats"]),
        ("serverstats-new-csv.txt", new, vec!["-c", "serverstats"]),
    ]
}

/// Runs `bin -n -h <fake> args` against a fake daemon with `set`.
fn output_of(bin: &str, set: Dataset, args: &[&str]) -> Run {
    let fake = FakeDaemon::start(Box::new(move |b| answer(set, b)));
    let sock = fake.sock();
    let mut all = vec!["-n", "-h", sock.as_str()];
    all.extend_from_slice(args);
    run(bin, &all)
}

#[test]
fn kronyc_matches_golden_files() {
    let bless = std::env::var_os("KRONYC_BLESS").is_some();
    let mut failures = Vec::new();
    for (file, set, args) in cases() {
        let path = data_path(file);
        let new_layout = file.contains("-new");
        if bless && !new_layout && installed(CHRONYC) {
            let c = output_of(CHRONYC, set, &args);
            std::fs::write(&path, &c.stdout).expect("write golden");
        }
        let want =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let k = output_of(KRONYC, set, &args);
        if k.stdout != want {
            failures.push(format!(
                "{file} ({args:?}):\n--- want\n{want}--- kronyc\n{}{}",
                k.stdout, k.stderr
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn chronyc_matches_golden_files() {
    if !installed(CHRONYC) {
        return;
    }
    for (file, set, args) in cases() {
        if file.contains("-new") {
            continue;
        }
        let want = std::fs::read_to_string(data_path(file)).expect("golden");
        let c = output_of(CHRONYC, set, &args);
        assert_eq!(c.stdout, want, "{file} ({args:?})");
    }
}
