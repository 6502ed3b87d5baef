use super::*;

/// A TZif file (version 2: a 32-bit block then a 64-bit one) with one
/// time type "UTC" and these leap records (occurrence, correction).
fn tzif(leaps: &[(i64, i64)]) -> Vec<u8> {
    let mut out = Vec::new();
    for time in [4usize, 8] {
        out.extend_from_slice(b"TZif2");
        out.extend_from_slice(&[0; 15]);
        // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
        for n in [0u32, 0, leaps.len() as u32, 0, 1, 4] {
            out.extend_from_slice(&n.to_be_bytes());
        }
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(b"UTC\0");
        for &(t, c) in leaps {
            if time == 4 {
                out.extend_from_slice(&(t as i32).to_be_bytes());
            } else {
                out.extend_from_slice(&t.to_be_bytes());
            }
            out.extend_from_slice(&(c as i32).to_be_bytes());
        }
    }
    out.extend_from_slice(b"\n\n");
    out
}

/// Midnights (Unix) of some real leap seconds and TAI−UTC after them.
const LEAPS: [(i64, i32); 5] = [
    (63_072_000, 10),    // 1972-01-01: the start, no leap
    (1_230_768_000, 34), // 2009-01-01 (pretend the first leap)
    (1_341_100_800, 35), // 2012-07-01
    (1_435_708_800, 36), // 2015-07-01
    (1_483_228_800, 37), // 2017-01-01
];

fn list_text(leaps: &[(i64, i32)]) -> String {
    let mut t = String::from("# comment\n#$\t3676924800\n#@\t3928521600\n\n");
    for (m, tai) in leaps {
        t.push_str(&format!("{}\t{tai}\t# c\n", m + NTP_UNIX_OFFSET));
    }
    t
}

#[test]
fn list_lookups_as_chrony() {
    let t = LeapTable::parse_list(&list_text(&LEAPS)).expect("valid");
    assert!(t.passes_check());
    // The day of 31 December 2016 ends with a leap second.
    assert_eq!(
        t.leap_on_day(1_483_142_400 + 3600),
        (LeapStatus::InsertSecond, 36)
    );
    assert_eq!(t.leap_on_day(1_483_228_800), (LeapStatus::Normal, 37));
    assert_eq!(t.expiry(), Some(3_928_521_600 - NTP_UNIX_OFFSET));
    assert_eq!(
        t.next_leap(1_483_142_400 + 3600),
        Some(KnownLeap {
            day_end: 1_483_228_800,
            leap: LeapStatus::InsertSecond
        })
    );
    assert_eq!(
        t.next_leap(1_400_000_000).map(|k| k.day_end),
        Some(1_435_708_800)
    );
    assert_eq!(t.next_leap(1_483_228_800), None);
    // A negative leap second.
    let mut leaps = LEAPS.to_vec();
    leaps.push((1_800_000_000 / DAY * DAY, 36));
    let t = LeapTable::parse_list(&list_text(&leaps)).expect("valid");
    let (status, _) = t.leap_on_day(1_800_000_000 / DAY * DAY - 10);
    assert_eq!(status, LeapStatus::DeleteSecond);
}

#[test]
fn bad_lists_are_refused() {
    let good = list_text(&LEAPS);
    for bad in [
        good.replace("#@\t3928521600\n", ""),
        good.replace("#$\t3676924800\n", ""),
        good.replace("\t34\t", "\tx\t"),
        good + "3300000000 40\n",
        "#$ 1\n#@ x\n".to_string(),
    ] {
        assert!(LeapTable::parse_list(&bad).is_err(), "{bad}");
    }
}

#[test]
fn tzif_leap_records() {
    // Occurrences count the leap seconds before them.
    let mut records = Vec::new();
    let mut corr = 0i64;
    for (m, tai) in &LEAPS[1..] {
        let new = i64::from(*tai) - 10;
        records.push((m + corr, new));
        corr = new;
    }
    let t = LeapTable::parse_tzif(&tzif(&records)).expect("valid");
    let from_list = LeapTable::parse_list(&list_text(&LEAPS[1..])).expect("valid");
    assert_eq!(t.changes, from_list.changes);
    assert!(t.passes_check());
    // A version-1 file: the 32-bit block only.
    let mut v1 = tzif(&records);
    v1[4] = 0;
    assert_eq!(LeapTable::parse_tzif(&v1).expect("v1"), t);
    // Truncated, wrong magic, absurd counts.
    let full = tzif(&records);
    for cut in [0, 10, 44, full.len() / 2, full.len() - 3] {
        assert!(LeapTable::parse_tzif(&full[..cut]).is_err(), "cut at {cut}");
    }
    let mut bad = full.clone();
    bad[0] = b'X';
    assert!(LeapTable::parse_tzif(&bad).is_err());
    let mut huge = full;
    huge[28..32].copy_from_slice(&u32::MAX.to_be_bytes());
    assert!(LeapTable::parse_tzif(&huge).is_err());
    // A zone without leap seconds fails chronyd's check.
    assert!(
        !LeapTable::parse_tzif(&tzif(&[]))
            .expect("valid")
            .passes_check()
    );
}

#[test]
fn system_files_pass_the_check() {
    let tz = zone_path("right/UTC");
    if let Ok(bytes) = fs::read(&tz) {
        let t = LeapTable::parse_tzif(&bytes).expect("system right/UTC");
        assert!(t.passes_check());
        assert_eq!(t.leap_on_day(1_483_142_400), (LeapStatus::InsertSecond, 36));
    }
    if let Ok(text) = fs::read_to_string("/usr/share/zoneinfo/leap-seconds.list") {
        let t = LeapTable::parse_list(&text).expect("system list");
        assert!(t.passes_check());
        assert_eq!(t.leap_on_day(1_483_142_400), (LeapStatus::InsertSecond, 36));
    }
    assert_eq!(zone_path("/x/y"), PathBuf::from("/x/y"));
}

#[test]
fn the_engine_is_told_of_each_next_leap_once() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let list = tmp.path().join("leap-seconds.list");
    fs::write(&list, list_text(&LEAPS)).expect("write");
    let conf = format!("leapseclist {}\nleapsectz /nonexistent\n", list.display());
    let parsed = krony_config::parse_str(&conf, "t").expect("config");
    let mut db = LeapDb::from_config(&parsed.config).expect("list passes");
    assert_eq!(db.path(), list);
    let t = 1_483_142_400 + 3600;
    let first = db.update(t).expect("told at first");
    assert_eq!(first.map(|k| k.day_end), Some(1_483_228_800));
    assert_eq!(db.update(t + 60), None, "nothing new");
    assert_eq!(db.update(1_483_228_800 + 10), Some(None), "no more leaps");
    // A zone failing the check is ignored.
    let zone = tmp.path().join("zone");
    fs::write(&zone, tzif(&[])).expect("write");
    let conf = format!("leapsectz {}\n", zone.display());
    let parsed = krony_config::parse_str(&conf, "t").expect("config");
    assert!(LeapDb::from_config(&parsed.config).is_none());
}
