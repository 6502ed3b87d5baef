//! Debian's chronyc (4.3) against a running `kronyd -x`, checked against
//! kronyd's own `kronyc --json` reports (issue 5, acceptance 2): for
//! tracking, sources, sourcestats, selectdata, ntpdata, activity,
//! serverstats, clients and authdata, every value chronyc prints with `-c`
//! (full precision) is compared field by field with the JSON value, and
//! kronyc's text is compared with chronyc's.
//!
//! Setup: an upstream `chronyd -x` (local stratum 1) and a `kronyd -x`
//! polling it every 0.25 s, each with its own directory, ports, socket and
//! pidfile, killed on drop. Once kronyd has selected the source, its poll
//! is raised to 2^8 s so that the measurements stay put during the
//! comparisons (at most the sample already scheduled still arrives, which
//! the retries below absorb). Skips (with a message) only if chrony is not
//! installed.

mod daemon_support;

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use daemon_support::{
    CHRONYC, CHRONYD, Proc, free_port, installed, kronyc_bin, start_chronyd, start_kronyd,
    write_conf,
};
use serde_json::Value;

/// How often a chronyc/kronyc/chronyc triple (or a text pair) is retried
/// until the values that should not change are the same in both chronyc
/// readings.
const ATTEMPTS: usize = 10;

/// Standard output, standard error and exit status of a client run.
#[derive(Debug)]
struct Run {
    stdout: String,
    stderr: String,
    code: i32,
}

fn run(bin: &Path, args: &[&str]) -> Run {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", bin.display()));
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

/// The upstream `chronyd -x` and the `kronyd -x` under test (which also
/// serves NTP, so that `clients` and `serverstats` have NTP counts).
struct Setup {
    dir: tempfile::TempDir,
    kronyd: Proc,
    _chronyd: Proc,
    /// kronyd's NTP port.
    kntp: u16,
    /// kronyd's UDP command port.
    kcmd: u16,
}

impl Setup {
    fn start() -> Option<Setup> {
        if !installed(&[CHRONYC, CHRONYD]) {
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (ntp, kntp, kcmd) = (free_port(), free_port(), free_port());
        let chronyd = start_chronyd(
            dir.path(),
            &[
                format!("port {ntp}"),
                "bindaddress 127.0.0.1".into(),
                "local stratum 1".into(),
                "allow 127.0.0.1".into(),
            ],
        );
        let d = dir.path().display();
        let lines = [
            format!("port {kntp}"),
            "bindaddress 127.0.0.1".into(),
            "allow 127.0.0.1".into(),
            format!("cmdport {kcmd}"),
            "bindcmdaddress 127.0.0.1".into(),
            format!("bindcmdaddress {d}/kronyd.sock"),
            format!("pidfile {d}/kronyd.pid"),
            format!("server 127.0.0.1 port {ntp} iburst minpoll -2 maxpoll -2"),
        ];
        let conf = write_conf(dir.path(), "kronyd.conf", &lines);
        let kronyd = start_kronyd(dir.path(), &conf, &[], &[]);
        let s = Setup {
            dir,
            kronyd,
            _chronyd: chronyd,
            kntp,
            kcmd,
        };
        s.wait_synchronised();
        s.settle();
        Some(s)
    }

    fn sock(&self) -> String {
        self.dir.path().join("kronyd.sock").display().to_string()
    }

    fn log(&self) -> String {
        self.kronyd.log_text()
    }

    /// Runs chronyc or kronyc with `opts` then `args` on kronyd's socket.
    fn client(&self, bin: &Path, opts: &[&str], args: &[&str]) -> Run {
        let sock = self.sock();
        let mut all = vec!["-h", sock.as_str()];
        all.extend_from_slice(opts);
        all.extend_from_slice(args);
        run(bin, &all)
    }

    fn chronyc(&self, opts: &[&str], args: &[&str]) -> Run {
        self.client(Path::new(CHRONYC), opts, args)
    }

    fn kronyc(&self, opts: &[&str], args: &[&str]) -> Run {
        self.client(kronyc_bin(), opts, args)
    }

    /// Waits until kronyd has selected its source and has a few samples.
    fn wait_synchronised(&self) {
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            let sources = self.chronyc(&["-c", "-n"], &["sources"]).stdout;
            let stats = self.chronyc(&["-c", "-n"], &["sourcestats"]).stdout;
            let np = stats
                .split(',')
                .nth(1)
                .and_then(|n| n.parse::<u32>().ok())
                .unwrap_or(0);
            if sources.starts_with("^,*,127.0.0.1,") && np >= 4 {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        panic!("kronyd did not synchronise:\n{}", self.log());
    }

    /// Raises the poll so that the measurements stop changing, and gives
    /// the client log an NTP client and a UDP command client.
    fn settle(&self) {
        for cmd in ["maxpoll 127.0.0.1 8", "minpoll 127.0.0.1 8"] {
            let words: Vec<&str> = cmd.split(' ').collect();
            let r = self.chronyc(&[], &words);
            assert_eq!(r.stdout, "200 OK\n", "{cmd}: {}", r.stderr);
        }
        let ntp = UdpSocket::bind("127.0.0.1:0").expect("bind");
        ntp.set_read_timeout(Some(Duration::from_secs(1)))
            .expect("timeout");
        for i in 0..3u8 {
            // A client request (RFC 5905 §7.3: LI 0, VN 4, mode 3) with a
            // non-zero transmit timestamp.
            let mut req = [0u8; 48];
            req[0] = 0x23;
            req[40] = 0xE0;
            req[47] = i + 1;
            ntp.send_to(&req, ("127.0.0.1", self.kntp)).expect("send");
            let mut buf = [0u8; 1024];
            assert!(ntp.recv(&mut buf).is_ok(), "no NTP reply: {}", self.log());
        }
        let port = self.kcmd.to_string();
        let r = run(
            Path::new(CHRONYC),
            &["-n", "-h", "127.0.0.1", "-p", &port, "tracking"],
        );
        assert_eq!(r.code, 0, "UDP tracking: {}{}", r.stdout, r.stderr);
        // The sample that was due at the old poll.
        std::thread::sleep(Duration::from_millis(400));
    }
}

/// How a CSV field of chronyc is written in kronyc's JSON.
#[derive(Clone, Copy, Debug)]
enum Conv {
    /// The same text, as a string.
    Text,
    /// An integer.
    Int,
    /// An integer, where this CSV text means unknown (JSON `null`).
    IntOr(&'static str),
    /// An octal integer in CSV (the reach register), a number in JSON.
    Octal,
    /// A decimal number printed with fixed digits.
    Float,
    /// A CSV word and the JSON string it becomes.
    Word(&'static [(&'static str, &'static str)]),
    /// A CSV word and the JSON number it becomes.
    Code(&'static [(&'static str, i64)]),
    /// A boolean: the CSV texts for true and for false.
    Flag(&'static str, &'static str),
    /// This many CSV fields, joined, as a string.
    Joined(usize),
}

/// One compared field: the CSV column, the JSON key (`a.b` for a nested
/// object), the conversion, and whether it changes with time (then the
/// JSON value, read between two chronyc calls, must lie between them).
#[derive(Clone, Copy, Debug)]
struct Field {
    csv: usize,
    key: &'static str,
    conv: Conv,
    varies: bool,
}

const fn f(csv: usize, key: &'static str, conv: Conv) -> Field {
    Field {
        csv,
        key,
        conv,
        varies: false,
    }
}

const fn v(csv: usize, key: &'static str, conv: Conv) -> Field {
    Field {
        csv,
        key,
        conv,
        varies: true,
    }
}

/// A report: its arguments, the fields chronyc's CSV has, and the JSON
/// fields chronyc 4.3 cannot show (kronyd sends chrony >= 4.4 layouts)
/// that must still be present and known.
struct Report {
    args: &'static [&'static str],
    fields: &'static [Field],
    json_only: &'static [&'static str],
}

const LEAP: &[(&str, &str)] = &[
    ("Normal", "normal"),
    ("Insert second", "insert_second"),
    ("Delete second", "delete_second"),
    ("Not synchronised", "not_synchronised"),
];

/// `u32::MAX`: chronyc's CSV for "never" in the seconds-ago fields.
const NEVER: &str = "4294967295";

/// chronyc's CSV for an unknown client interval.
const NO_INTERVAL: &str = "127";

use Conv::*;

const TRACKING: &[Field] = &[
    f(0, "ref_id", Text),
    f(1, "ref_name", Text),
    f(1, "address", Text),
    f(2, "stratum", Int),
    f(3, "ref_time_unix_s", Float),
    // The remaining correction shrinks as the clock is slewed.
    v(4, "system_time_correction_s", Float),
    f(5, "last_offset_s", Float),
    f(6, "rms_offset_s", Float),
    f(7, "freq_ppm", Float),
    f(8, "resid_freq_ppm", Float),
    f(9, "skew_ppm", Float),
    f(10, "root_delay_s", Float),
    // Grows with the time since the last update.
    v(11, "root_dispersion_s", Float),
    f(12, "update_interval_s", Float),
    f(13, "leap_status", Word(LEAP)),
];

const SOURCE_MODES: &[(&str, &str)] = &[("^", "server"), ("=", "peer"), ("#", "refclock")];

const SOURCE_STATES: &[(&str, &str)] = &[
    ("*", "selected"),
    ("?", "nonselectable"),
    ("x", "falseticker"),
    ("~", "jittery"),
    ("+", "combined"),
    ("-", "not_combined"),
];

const SOURCES: &[Field] = &[
    f(0, "mode", Word(SOURCE_MODES)),
    f(1, "state", Word(SOURCE_STATES)),
    f(2, "name", Text),
    f(2, "address", Text),
    f(3, "stratum", Int),
    f(4, "poll_log2", Int),
    f(5, "reach", Octal),
    v(6, "last_rx_s", IntOr(NEVER)),
    f(7, "offset_s", Float),
    f(8, "measured_offset_s", Float),
    f(9, "error_s", Float),
];

const SOURCESTATS: &[Field] = &[
    f(0, "name", Text),
    f(0, "address", Text),
    f(1, "samples", Int),
    f(2, "runs", Int),
    f(3, "span_s", Int),
    f(4, "freq_ppm", Float),
    f(5, "freq_skew_ppm", Float),
    // The regression's offset extrapolated to the time of the request.
    v(6, "offset_s", Float),
    f(7, "std_dev_s", Float),
];

/// selectdata: chronyc prints 5 option letters (`NPTR` and one always
/// `-`) for the configured and then the effective options.
const SELECTDATA: &[Field] = &[
    f(0, "state", Text),
    f(1, "name", Text),
    f(1, "address", Text),
    f(2, "authenticated", Flag("Y", "N")),
    f(3, "configured_options.noselect", Flag("N", "-")),
    f(4, "configured_options.prefer", Flag("P", "-")),
    f(5, "configured_options.trust", Flag("T", "-")),
    f(6, "configured_options.require", Flag("R", "-")),
    f(8, "effective_options.noselect", Flag("N", "-")),
    f(9, "effective_options.prefer", Flag("P", "-")),
    f(10, "effective_options.trust", Flag("T", "-")),
    f(11, "effective_options.require", Flag("R", "-")),
    v(13, "last_sample_ago_s", IntOr(NEVER)),
    f(14, "score", Float),
    f(15, "lo_limit_s", Float),
    f(16, "hi_limit_s", Float),
    f(17, "leap", Word(LEAP)),
];

const TIMESTAMPING: &[(&str, &str)] = &[("Daemon", "D"), ("Kernel", "K"), ("Hardware", "H")];

const NTP_MODES: &[(&str, i64)] = &[
    ("Symmetric active", 1),
    ("Symmetric passive", 2),
    ("Server", 4),
];

/// ntpdata; the fields chronyc derives (the addresses and poll and
/// precision in other units, the reference ID as text) are left out.
const NTPDATA: &[Field] = &[
    f(0, "remote_address", Text),
    f(2, "remote_port", Int),
    f(3, "local_address", Text),
    f(5, "leap", Word(LEAP)),
    f(6, "version_number", Int),
    f(7, "mode", Code(NTP_MODES)),
    f(8, "stratum", Int),
    f(9, "poll_log2", Int),
    f(11, "precision_log2", Int),
    f(13, "root_delay_s", Float),
    f(14, "root_dispersion_s", Float),
    f(15, "ref_id", Text),
    f(17, "ref_time_unix_s", Float),
    f(18, "offset_s", Float),
    f(19, "peer_delay_s", Float),
    f(20, "peer_dispersion_s", Float),
    f(21, "response_time_s", Float),
    f(22, "jitter_asymmetry", Float),
    f(23, "tests", Joined(3)),
    f(26, "interleaved", Flag("Yes", "No")),
    f(27, "authenticated", Flag("Yes", "No")),
    f(28, "tx_timestamping", Word(TIMESTAMPING)),
    f(29, "rx_timestamping", Word(TIMESTAMPING)),
    f(30, "total_tx", Int),
    f(31, "total_rx", Int),
    f(32, "total_valid_rx", Int),
    f(33, "total_good_rx", Int),
];

const ACTIVITY: &[Field] = &[
    f(0, "online", Int),
    f(1, "offline", Int),
    f(2, "burst_online", Int),
    f(3, "burst_offline", Int),
    f(4, "unresolved", Int),
];

const SERVERSTATS: &[Field] = &[
    f(0, "ntp_packets_received", Int),
    f(1, "ntp_packets_dropped", Int),
    // Every request counts, chronyc's and kronyc's own included.
    v(2, "command_packets_received", Int),
    f(3, "command_packets_dropped", Int),
    f(4, "client_log_records_dropped", Int),
    f(5, "nts_ke_connections_accepted", Int),
    f(6, "nts_ke_connections_dropped", Int),
    f(7, "authenticated_ntp_packets", Int),
    f(8, "interleaved_ntp_packets", Int),
    f(9, "ntp_timestamps_held", Int),
    f(10, "ntp_timestamp_span_s", Int),
];

/// clients; requests over the Unix socket are not logged, so only the
/// times since the last packet change.
const CLIENTS: &[Field] = &[
    f(0, "name", Text),
    f(0, "address", Text),
    f(1, "ntp_packets", Int),
    f(2, "ntp_dropped", Int),
    f(3, "ntp_interval_log2", IntOr(NO_INTERVAL)),
    f(4, "ntp_timeout_interval_log2", IntOr(NO_INTERVAL)),
    v(5, "ntp_last_ago_s", IntOr(NEVER)),
    f(6, "cmd_packets", Int),
    f(7, "cmd_dropped", Int),
    f(8, "cmd_interval_log2", IntOr(NO_INTERVAL)),
    v(9, "cmd_last_ago_s", IntOr(NEVER)),
];

/// clients -k: the NTS-KE columns instead of the command ones.
const CLIENTS_K: &[Field] = &[
    f(0, "name", Text),
    f(1, "ntp_packets", Int),
    f(2, "ntp_dropped", Int),
    f(3, "ntp_interval_log2", IntOr(NO_INTERVAL)),
    f(4, "ntp_timeout_interval_log2", IntOr(NO_INTERVAL)),
    v(5, "ntp_last_ago_s", IntOr(NEVER)),
    f(6, "nke_connections", Int),
    f(7, "nke_dropped", Int),
    f(8, "nke_interval_log2", IntOr(NO_INTERVAL)),
    v(9, "nke_last_ago_s", IntOr(NEVER)),
];

const AUTH_MODES: &[(&str, &str)] = &[("-", "none"), ("SK", "symmetric_key"), ("NTS", "nts")];

const AUTHDATA: &[Field] = &[
    f(0, "name", Text),
    f(0, "address", Text),
    f(1, "mode", Word(AUTH_MODES)),
    f(2, "key_id", Int),
    f(3, "key_type", Int),
    f(4, "key_length_bits", Int),
    v(5, "last_ke_ago_s", IntOr(NEVER)),
    f(6, "ke_attempts", Int),
    f(7, "nak", Int),
    f(8, "cookies", Int),
    f(9, "cookie_length_bytes", Int),
];

const NTPDATA_NEW: &[&str] = &[
    "total_kernel_tx",
    "total_kernel_rx",
    "total_hw_tx",
    "total_hw_rx",
];

const SERVERSTATS_NEW: &[&str] = &[
    "ntp_daemon_rx_timestamps",
    "ntp_daemon_tx_timestamps",
    "ntp_kernel_rx_timestamps",
    "ntp_kernel_tx_timestamps",
    "ntp_hw_rx_timestamps",
    "ntp_hw_tx_timestamps",
];

const fn r(
    args: &'static [&'static str],
    fields: &'static [Field],
    json_only: &'static [&'static str],
) -> Report {
    Report {
        args,
        fields,
        json_only,
    }
}

const REPORTS: &[Report] = &[
    r(&["tracking"], TRACKING, &[]),
    r(&["sources"], SOURCES, &[]),
    r(&["sourcestats"], SOURCESTATS, &["ref_id"]),
    r(&["selectdata"], SELECTDATA, &["ref_id"]),
    r(&["ntpdata"], NTPDATA, NTPDATA_NEW),
    r(&["ntpdata", "127.0.0.1"], NTPDATA, NTPDATA_NEW),
    r(&["activity"], ACTIVITY, &[]),
    r(&["serverstats"], SERVERSTATS, SERVERSTATS_NEW),
    r(&["clients"], CLIENTS, &[]),
    r(&["clients", "-k"], CLIENTS_K, &["cmd_packets"]),
    r(&["authdata"], AUTHDATA, &[]),
];

/// chronyc's CSV lines split into fields.
fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

/// The CSV text of a field (several fields joined for `Joined`).
fn csv_text(row: &[String], field: &Field) -> Option<String> {
    let n = match field.conv {
        Joined(n) => n,
        _ => 1,
    };
    row.get(field.csv..field.csv + n).map(|f| f.concat())
}

fn lookup<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    key.split('.').try_fold(obj, |o, k| o.get(k))
}

/// The tolerance of a JSON number against chronyc's fixed-point text:
/// half a unit of the last printed digit (chronyc rounds the same wire
/// value that kronyc prints in full), plus a few f64 ulps for kronyc's
/// own arithmetic (a Unix time such as 1.8e9 s keeps only ~0.2 us in an
/// f64).
fn rounding(text: &str, x: f64) -> f64 {
    let digits = text.split_once('.').map_or(0, |(_, d)| d.len());
    let digits = i32::try_from(digits).unwrap_or(i32::MAX);
    0.5 * 10f64.powi(-digits) + 4.0 * f64::EPSILON * x.abs()
}

/// Checks one field of a row: `a` and `b` are chronyc's texts before and
/// after kronyc's call. A field that does not vary is already known to
/// be the same in both.
fn check_field(field: &Field, a: &str, b: &str, json: Option<&Value>) -> Result<(), String> {
    let json = json.ok_or("missing")?;
    let ok = match field.conv {
        Text | Joined(_) => json.as_str() == Some(a),
        Int => int_between(a, b, json),
        IntOr(unknown) if a == unknown || b == unknown => a == b && json.is_null(),
        IntOr(_) => int_between(a, b, json),
        Octal => i64::from_str_radix(a, 8).ok() == json.as_i64(),
        Float => {
            let (x, y) = (parse_f64(a)?, parse_f64(b)?);
            let j = json.as_f64().ok_or("not a number")?;
            let (lo, hi) = (x.min(y), x.max(y));
            lo - rounding(a, lo) <= j && j <= hi + rounding(b, hi)
        }
        Word(map) => map
            .iter()
            .find(|(w, _)| *w == a)
            .is_some_and(|(_, j)| json.as_str() == Some(*j)),
        Code(map) => map
            .iter()
            .find(|(w, _)| *w == a)
            .is_some_and(|(_, n)| json.as_i64() == Some(*n)),
        Flag(t, f) => (a == t || a == f) && json.as_bool() == Some(a == t),
    };
    if ok {
        Ok(())
    } else {
        Err(format!("CSV {a:?} (then {b:?}), JSON {json}"))
    }
}

fn parse_f64(s: &str) -> Result<f64, String> {
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

/// Whether the JSON integer lies between the two CSV readings.
fn int_between(a: &str, b: &str, json: &Value) -> bool {
    match (a.parse::<i64>(), b.parse::<i64>(), json.as_i64()) {
        (Ok(x), Ok(y), Some(j)) => x.min(y) <= j && j <= x.max(y),
        _ => false,
    }
}

/// Whether the two chronyc readings agree on every field that should
/// not vary; else the first one that differs.
fn unstable(report: &Report, a: &[Vec<String>], b: &[Vec<String>]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} then {} rows", a.len(), b.len()));
    }
    for (ra, rb) in a.iter().zip(b) {
        for field in report.fields.iter().filter(|f| !f.varies) {
            let (x, y) = (csv_text(ra, field), csv_text(rb, field));
            if x != y {
                return Some(format!("{}: {x:?} then {y:?}", field.key));
            }
        }
    }
    None
}

/// Compares every row of a triple whose fixed fields are stable: the
/// errors, one per line, or `Err` if a varying field moved during the
/// triple in a way that does not bound the JSON value (a correction that
/// overshoots and turns back), when the triple is read again.
fn compare(
    report: &Report,
    a: &[Vec<String>],
    b: &[Vec<String>],
    json: &Value,
) -> Result<String, String> {
    let rows: Vec<&Value> = match json {
        Value::Array(rows) => rows.iter().collect(),
        obj => vec![obj],
    };
    if rows.len() != a.len() || a.is_empty() {
        return Ok(format!("{} CSV rows, {} JSON rows\n", a.len(), rows.len()));
    }
    let mut errors = String::new();
    for (i, ((ra, rb), obj)) in a.iter().zip(b).zip(rows).enumerate() {
        for field in report.fields {
            let (Some(x), Some(y)) = (csv_text(ra, field), csv_text(rb, field)) else {
                errors += &format!("row {i}: no CSV column {} ({})\n", field.csv, field.key);
                continue;
            };
            match check_field(field, &x, &y, lookup(obj, field.key)) {
                Ok(()) => {}
                Err(e) if field.varies && x != y => return Err(format!("{}: {e}", field.key)),
                Err(e) => errors += &format!("row {i}: {}: {e}\n", field.key),
            }
        }
        for key in report.json_only {
            if obj.get(*key).is_none_or(Value::is_null) {
                errors += &format!("row {i}: {key}: missing or null\n");
            }
        }
    }
    Ok(errors)
}

/// chronyc's CSV of a report, which must be accepted (no 50x line).
fn chronyc_csv(s: &Setup, args: &[&str]) -> Vec<Vec<String>> {
    let r = s.chronyc(&["-c", "-n"], args);
    assert!(
        r.code == 0 && r.stderr.is_empty() && !r.stdout.starts_with("50"),
        "chronyc -c {args:?}: {}{}",
        r.stdout,
        r.stderr
    );
    csv_rows(&r.stdout)
}

fn kronyc_json(s: &Setup, args: &[&str]) -> Value {
    let r = s.kronyc(&["--json", "-n"], args);
    assert_eq!(r.code, 0, "kronyc --json {args:?}: {}", r.stderr);
    serde_json::from_str(&r.stdout)
        .unwrap_or_else(|e| panic!("kronyc --json {args:?}: {e}\n{}", r.stdout))
}

/// Runs chronyc -c, kronyc --json, chronyc -c until the two chronyc
/// readings agree on the fields that should not change, then compares.
fn check_report(s: &Setup, report: &Report) {
    let mut why = String::new();
    for _ in 0..ATTEMPTS {
        let a = chronyc_csv(s, report.args);
        let json = kronyc_json(s, report.args);
        let b = chronyc_csv(s, report.args);
        let checked = match unstable(report, &a, &b) {
            Some(why) => Err(why),
            None => compare(report, &a, &b, &json),
        };
        let errors = match checked {
            Ok(errors) => errors,
            Err(w) => {
                why = w;
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        assert!(
            errors.is_empty(),
            "{:?}: chronyc -c and kronyc --json differ:\n{errors}CSV: {a:?}\nJSON: {json:#}",
            report.args
        );
        return;
    }
    panic!("{:?}: no stable reading: {why}", report.args);
}

#[test]
fn chronyc_csv_matches_kronyc_json() {
    let Some(s) = Setup::start() else {
        return;
    };
    for report in REPORTS {
        check_report(&s, report);
    }
}

// Text: kronyc and chronyc print the same against kronyd.

/// Which columns or lines change between two calls: those
/// kronyc/tests/against_chronyd.rs masks, and the sourcestats offset.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Tracking,
    Sources,
    SelectData,
    /// The regression's offset is extrapolated to the time of each
    /// request, in nanoseconds: it changes between two calls while the
    /// frequency estimate is not yet tiny (chronyd's does the same).
    SourceStats,
    ServerStats,
    Other,
}

/// Lines kronyc prints from the layouts of chrony >= 4.4 (serverstats)
/// and >= 4.6 (ntpdata) that kronyd sends; chronyc 4.3 does not know
/// them and stops before them.
const NEWER_LINES: &[&str] = &[
    "Total kernel TX :",
    "Total kernel RX :",
    "Total HW TX     :",
    "Total HW RX     :",
    "NTP daemon RX timestamps   :",
    "NTP daemon TX timestamps   :",
    "NTP kernel RX timestamps   :",
    "NTP kernel TX timestamps   :",
    "NTP hardware RX timestamps :",
    "NTP hardware TX timestamps :",
];

/// Replaces the value of lines starting with one of `labels`, and
/// columns `cols` of table rows (after the `====` underline), with `#`.
fn mask_text(text: &str, labels: &[&str], cols: Option<(usize, usize)>) -> String {
    let mut past_header = false;
    let mut out = String::new();
    for line in text.lines() {
        let label = labels.iter().find(|l| line.starts_with(*l));
        match (label, cols) {
            (Some(l), _) => out += &format!("{l}#"),
            (None, Some((from, to)))
                if past_header
                    && line.len() >= to
                    && line.is_char_boundary(from)
                    && line.is_char_boundary(to) =>
            {
                out += &format!("{}{}{}", &line[..from], "#".repeat(to - from), &line[to..]);
            }
            _ => out += line,
        }
        past_header |= line.starts_with("====");
        out.push('\n');
    }
    out
}

fn mask(kind: Kind, text: &str) -> String {
    match kind {
        Kind::Tracking => mask_text(text, &["System time     : ", "Root dispersion : "], None),
        Kind::Sources => mask_text(text, &[], Some((46, 50))),
        Kind::SelectData => mask_text(text, &[], Some((42, 46))),
        Kind::SourceStats => mask_text(text, &[], Some((63, 70))),
        Kind::ServerStats => mask_text(text, &["Command packets received   : "], None),
        Kind::Other => text.to_string(),
    }
}

/// kronyc's text without the lines chronyc 4.3 cannot print; each of
/// them must be there.
fn without_newer_lines(kronyc: &str, chronyc: &str) -> String {
    let newer = |l: &str| NEWER_LINES.iter().any(|p| l.starts_with(p));
    assert!(!chronyc.lines().any(newer), "{chronyc}");
    kronyc
        .lines()
        .filter(|l| !newer(l))
        .map(|l| l.to_string() + "\n")
        .collect()
}

fn assert_same_text(s: &Setup, opts: &[&str], args: &[&str], kind: Kind) {
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let c = s.chronyc(opts, args);
        let k = s.kronyc(opts, args);
        let kt = without_newer_lines(&k.stdout, &c.stdout);
        assert!(
            !c.stdout.lines().any(|l| l.starts_with("50")) && !c.stdout.is_empty(),
            "chronyc {opts:?} {args:?}: {}{}",
            c.stdout,
            c.stderr
        );
        if mask(kind, &c.stdout) == mask(kind, &kt) && c.code == k.code {
            return;
        }
        last = Some((c, k));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (c, k) = last.expect("ran");
    panic!(
        "{opts:?} {args:?} differs\n--- chronyc ({}):\n{}{}\n--- kronyc ({}):\n{}{}",
        c.code, c.stdout, c.stderr, k.code, k.stdout, k.stderr
    );
}

#[test]
fn chronyc_and_kronyc_print_the_same_against_kronyd() {
    let Some(s) = Setup::start() else {
        return;
    };
    let reports: &[(&[&str], Kind)] = &[
        (&["tracking"], Kind::Tracking),
        (&["sources", "-v"], Kind::Sources),
        (&["sourcestats", "-v"], Kind::SourceStats),
        // Not -v: kronyc's legend is chrony's current one (README).
        (&["selectdata"], Kind::SelectData),
        (&["ntpdata"], Kind::Other),
        (&["activity"], Kind::Other),
        (&["serverstats"], Kind::ServerStats),
        (&["clients"], Kind::Other),
        (&["clients", "-k"], Kind::Other),
        (&["authdata", "-v"], Kind::Other),
    ];
    for opts in [&["-n"][..], &[][..]] {
        for (args, kind) in reports {
            assert_same_text(&s, opts, args, *kind);
        }
    }
}
