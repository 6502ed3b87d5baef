//! `--json`: every report is one JSON value with the documented field
//! names (kronyc/README.md), checked against the fake daemon's data set.

mod common;

use common::dataset::{Dataset, answer};
use common::*;
use serde_json::Value;

const FULL: Dataset = Dataset {
    full: true,
    new_layouts: false,
};
const NEW: Dataset = Dataset {
    full: true,
    new_layouts: true,
};

fn json(set: Dataset, args: &[&str]) -> Value {
    serde_json::from_str(&raw_json(set, args)).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// kronyc's JSON text.
fn raw_json(set: Dataset, args: &[&str]) -> String {
    let fake = FakeDaemon::start(Box::new(move |b| answer(set, b)));
    let sock = fake.sock();
    let mut all = vec!["--json", "-n", "-h", sock.as_str()];
    all.extend_from_slice(args);
    let r = run(KRONYC, &all);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    r.stdout
}

/// Checks that the first object in `text` has exactly these keys, in
/// this order (serde_json's `Value` does not keep the order).
fn assert_keys(text: &str, want: &[&str]) {
    let first = text.find('}').map_or(text, |end| &text[..end]);
    let found: Vec<&str> = first
        .lines()
        .filter_map(|l| l.trim().strip_prefix('"'))
        .filter_map(|l| l.split_once("\":").map(|(k, _)| k))
        .collect();
    assert_eq!(found, want);
}

fn approx(v: &Value, want: f64) -> bool {
    v.as_f64()
        .is_some_and(|x| (x - want).abs() <= want.abs() * 1e-6 + 1e-15)
}

#[test]
fn tracking() {
    let t = json(FULL, &["tracking"]);
    assert_eq!(t["ref_id"], "C0A87B01");
    assert_eq!(t["ref_name"], "192.168.123.1");
    assert_eq!(t["address"], "192.168.123.1");
    assert_eq!(t["stratum"], 3);
    assert!(approx(&t["ref_time_unix_s"], 1_700_000_000.123_456_8));
    assert!(approx(&t["freq_ppm"], -12.5));
    assert!(approx(&t["update_interval_s"], 64.2));
    assert_eq!(t["leap_status"], "insert_second");
    for k in [
        "system_time_correction_s",
        "last_offset_s",
        "rms_offset_s",
        "resid_freq_ppm",
        "skew_ppm",
        "root_delay_s",
        "root_dispersion_s",
    ] {
        assert!(t[k].is_number(), "{k}");
    }
}

#[test]
fn sources() {
    let s = json(FULL, &["sources", "-a"]);
    let rows = s.as_array().expect("array");
    assert_eq!(rows.len(), 8);
    let r0 = &rows[0];
    assert_keys(
        &raw_json(FULL, &["sources"]),
        &[
            "name",
            "address",
            "mode",
            "state",
            "stratum",
            "poll_log2",
            "reach",
            "last_rx_s",
            "offset_s",
            "measured_offset_s",
            "error_s",
        ],
    );
    assert_eq!(
        (r0["mode"].as_str(), r0["state"].as_str()),
        (Some("server"), Some("selected"))
    );
    assert_eq!(r0["reach"], 255);
    assert!(approx(&r0["offset_s"], -479e-9));
    assert_eq!(rows[1]["last_rx_s"], Value::Null);
    assert_eq!(rows[2]["mode"], "refclock");
    assert_eq!(rows[2]["address"], Value::Null);
    assert_eq!(rows[2]["name"], "GPS");
    assert_eq!(rows[6]["address"], "ID#0000000003");
    // Without -a the unresolved source is left out.
    assert_eq!(json(FULL, &["sources"]).as_array().map(Vec::len), Some(7));
}

#[test]
fn sourcestats_and_selectdata() {
    let s = json(FULL, &["sourcestats"]);
    let r = &s[2];
    assert_eq!(r["name"], "GPS");
    assert_eq!(r["ref_id"], "47505300");
    assert_eq!(
        (r["samples"].as_u64(), r["runs"].as_u64()),
        (Some(6), Some(4))
    );
    assert!(approx(&r["freq_ppm"], 123_456.0));
    for k in ["span_s", "freq_skew_ppm", "offset_s", "std_dev_s"] {
        assert!(r[k].is_number(), "{k}");
    }
    let d = json(FULL, &["selectdata", "-a"]);
    let r = &d[1];
    assert_eq!(r["state"], "N");
    assert_eq!(r["authenticated"], true);
    assert_eq!(r["configured_options"]["noselect"], true);
    assert_eq!(r["configured_options"]["prefer"], true);
    assert_eq!(r["effective_options"]["trust"], true);
    assert_eq!(r["last_sample_ago_s"], Value::Null);
    assert_eq!(r["leap"], "insert_second");
    for k in ["score", "lo_limit_s", "hi_limit_s"] {
        assert!(r[k].is_number(), "{k}");
    }
}

#[test]
fn ntpdata_both_layouts() {
    let old = json(FULL, &["ntpdata", "2001:db8::1"]);
    assert_eq!(old["remote_address"], "2001:db8::1");
    assert_eq!(old["mode"], 1);
    assert_eq!(old["tests"], "1111111110");
    assert_eq!(old["interleaved"], true);
    assert_eq!(old["rx_timestamping"], "H");
    assert_eq!(old["total_good_rx"], u64::from(u32::MAX));
    assert_eq!(old["total_kernel_tx"], Value::Null);
    let new = json(NEW, &["ntpdata", "192.0.2.1"]);
    assert_eq!(new["total_kernel_tx"], 7);
    assert_eq!(new["poll_log2"], 10);
    assert!(approx(&new["jitter_asymmetry"], -0.5));
    let all = json(FULL, &["ntpdata"]);
    // The servers and peers with a real address (not the refclock, the
    // unresolved source or the one of unknown mode).
    assert_eq!(all.as_array().map(Vec::len), Some(5));
}

#[test]
fn serverstats_both_layouts() {
    let old = json(FULL, &["serverstats"]);
    assert_eq!(old["ntp_packets_received"], u64::from(u32::MAX));
    assert_eq!(old["ntp_timestamp_span_s"], 10);
    assert_eq!(old["ntp_hw_rx_timestamps"], Value::Null);
    let text = raw_json(FULL, &["serverstats"]);
    assert!(
        text.starts_with("{\n  \"ntp_packets_received\": "),
        "{text}"
    );
    let new = json(NEW, &["serverstats"]);
    assert_eq!(new["ntp_hw_rx_timestamps"], 1u64 << 40);
}

#[test]
fn clients_authdata_and_others() {
    let c = json(FULL, &["clients"]);
    let rows = c.as_array().expect("array");
    assert_eq!(rows.len(), 11);
    assert_eq!(rows[0]["ntp_interval_log2"], -3);
    assert_eq!(rows[3]["ntp_interval_log2"], Value::Null);
    assert_eq!(rows[5]["ntp_last_ago_s"], Value::Null);
    assert_eq!(rows[10]["address"], "2001:db8:ffff:ffff:ffff:ffff:ffff:1");
    let a = json(FULL, &["authdata"]);
    assert_eq!(a[0]["mode"], "symmetric_key");
    assert_eq!(a[0]["key_id"], 65_535);
    assert_eq!(a[1]["mode"], "nts");
    assert_eq!(a[1]["cookies"], 8);
    let s = json(FULL, &["smoothing"]);
    assert_eq!(
        (s["active"].as_bool(), s["leap_only"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(approx(&s["remaining_time_s"], 300.0));
    let r = json(FULL, &["rtcdata"]);
    assert_eq!(r["span_s"], 400_000);
    assert!(approx(&r["rtc_fast_by_s"], -1.234_567));
    let act = json(FULL, &["activity"]);
    assert_keys(
        &raw_json(FULL, &["activity"]),
        &[
            "online",
            "offline",
            "burst_online",
            "burst_offline",
            "unresolved",
        ],
    );
    assert_eq!(act["unresolved"], -1);
    let m = json(FULL, &["manual", "list"]);
    assert_eq!(m[1]["index"], 1);
    assert!(approx(&m[0]["original_offset_s"], -1.5));
    let n = json(FULL, &["sourcename", "2001:db8::1"]);
    assert_eq!(n["name"], "a-rather-long-source-name.example.org");
}

#[test]
fn write_commands_report_status() {
    let set = FULL;
    let fake = FakeDaemon::start(Box::new(move |b| answer(set, b)));
    let sock = fake.sock();
    let r = run(KRONYC, &["--json", "-h", &sock, "dump"]);
    let v: Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(v["status"], "200 OK");
}
