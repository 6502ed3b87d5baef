//! A SOCK reference clock fed by the test (chrony's `struct sock_sample`
//! over a Unix datagram socket): kronyd -x selects it (`#* SOC0` in kronyc
//! and Debian's chronyc, stratum 1 in tracking, refclocks.log, its dump
//! file), and chronyd -x given the same configuration and the same samples
//! selects it too, with the same raw offsets in its refclocks.log. Then a
//! PPS refclock (pulses over SOCK) locked to a coarse one, in both.
#![allow(clippy::unwrap_used)]

mod daemon_support;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use daemon_support::*;

/// The reference is this far ahead of the system clock.
const OFFSET: f64 = 1.5e-3;

/// chrony's SOCK_MAGIC.
const SOCK_MAGIC: u32 = 0x534f_434b;

/// A `struct sock_sample` (64-bit Linux layout).
fn sample(now: SystemTime, offset: f64) -> [u8; 40] {
    let d = now.duration_since(UNIX_EPOCH).unwrap();
    let mut b = [0u8; 40];
    b[0..8].copy_from_slice(&i64::try_from(d.as_secs()).unwrap().to_ne_bytes());
    b[8..16].copy_from_slice(&i64::from(d.subsec_micros()).to_ne_bytes());
    b[16..24].copy_from_slice(&offset.to_ne_bytes());
    b[36..40].copy_from_slice(&SOCK_MAGIC.to_ne_bytes());
    b
}

/// A pulse: `struct sock_sample` with `pulse` set; `offset` is where the
/// second began relative to the system time, as the sender measured it.
fn pulse(now: SystemTime, offset: f64) -> [u8; 40] {
    let mut b = sample(now, offset);
    b[24..28].copy_from_slice(&1i32.to_ne_bytes());
    b
}

/// Sends the same samples to every socket, 10 per second, until dropped.
struct Feeder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Feeder {
    /// Runs `tick` (with a socket and the tick count from 1) 10 times per
    /// second until dropped.
    fn spawn(mut tick: impl FnMut(&UnixDatagram, u32) + Send + 'static) -> Feeder {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let sock = UnixDatagram::unbound().unwrap();
            let mut k = 0u32;
            while !flag.load(Ordering::Relaxed) {
                k += 1;
                tick(&sock, k);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        Feeder {
            stop,
            thread: Some(thread),
        }
    }

    fn start(paths: Vec<PathBuf>) -> Feeder {
        Feeder::spawn(move |sock, k| {
            // A little jitter, so that the filter has something to do.
            let jitter = if k % 2 == 0 { 2e-5 } else { -2e-5 };
            let b = sample(SystemTime::now(), OFFSET + jitter);
            for p in &paths {
                // The daemon may not have created its socket yet.
                let _ = sock.send_to(&b, p);
            }
        })
    }

    /// Sends a coarse time (30 ms late, 2 ms jitter) to `nmea.sock` and a
    /// pulse to `pps.sock` of every directory, 10 per second.
    fn start_pps(dirs: Vec<PathBuf>) -> Feeder {
        Feeder::spawn(move |sock, k| {
            let jitter = if k % 2 == 0 { 2e-3 } else { -2e-3 };
            let now = SystemTime::now();
            let coarse = sample(now, OFFSET - 0.03 + jitter);
            // The exact fraction of the second, with a little jitter.
            let edge = pulse(now, OFFSET + jitter * 1e-3);
            for d in &dirs {
                let _ = sock.send_to(&coarse, d.join("nmea.sock"));
                let _ = sock.send_to(&edge, d.join("pps.sock"));
            }
        })
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn refclock_conf(dir: &Path) -> Vec<String> {
    vec![
        format!("refclock SOCK {} poll 1", dir.join("ref.sock").display()),
        format!("logdir {}", dir.display()),
        "log refclocks".to_string(),
        "port 0".to_string(),
    ]
}

/// Waits until `chronyc sources` shows the refclock selected.
fn wait_selected(socket: &Path) -> bool {
    wait_until(Duration::from_secs(60), || {
        chronyc(socket, &["sources"])
            .lines()
            .any(|l| l.starts_with("#* SOC0"))
    })
}

/// The raw offset (the 6th column) of the first raw sample line of a
/// refclocks.log.
fn first_raw_offset(log: &str) -> Option<f64> {
    log.lines()
        .filter(|l| l.starts_with("20"))
        .find(|l| l.split_whitespace().nth(6).is_some_and(|c| c != "-"))
        .and_then(|l| l.split_whitespace().nth(6)?.parse().ok())
}

#[test]
fn kronyd_selects_a_sock_refclock() {
    if !installed(&[CHRONYC]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut lines = refclock_conf(dir.path());
    lines.push(format!("dumpdir {}", dir.path().display()));
    let mut kronyd = start_kronyd_with(dir.path(), &lines, &[]);
    let _feeder = Feeder::start(vec![dir.path().join("ref.sock")]);
    let socket = dir.path().join("kronyd.sock");
    assert!(
        wait_selected(&socket),
        "chronyc: {}\nlog: {}",
        chronyc(&socket, &["sources"]),
        kronyd.log_text()
    );
    let ours = kronyc(&socket, &["sources"]);
    assert!(
        ours.lines().any(|l| l.starts_with("#* SOC0")),
        "kronyc: {ours}"
    );
    let tracking = chronyc(&socket, &["tracking"]);
    assert_eq!(field(&tracking, "Stratum"), Some("1"), "{tracking}");
    assert_eq!(
        field(&tracking, "Reference ID"),
        Some("534F4330 (SOC0)"),
        "{tracking}"
    );
    let stats = chronyc(&socket, &["sourcestats"]);
    assert!(stats.lines().any(|l| l.starts_with("SOC0 ")), "{stats}");
    let select = chronyc(&socket, &["selectdata"]);
    assert!(select.lines().any(|l| l.starts_with("* SOC0")), "{select}");
    assert!(kronyd.log_text().contains("Selected source SOC0"));

    let log = std::fs::read_to_string(dir.path().join("refclocks.log")).unwrap();
    let header = "   Date (UTC) Time         Refid  DP L P  Raw offset   Cooked offset      Disp.";
    assert!(log.lines().nth(1) == Some(header), "{log}");
    let raw = first_raw_offset(&log).unwrap();
    assert!((raw - OFFSET).abs() < 5e-5, "{raw}");
    assert!(
        log.lines().any(|l| l.contains(" SOC0    - N -       -  ")),
        "no filtered line: {log}"
    );
    assert_eq!(kronyd.terminate(Duration::from_secs(10)), Some(0));
    // The socket is removed at exit.
    assert!(!dir.path().join("ref.sock").exists());
    // chronyd's dump file of a refclock: named by refid, name ".", then
    // not authenticated, reach (all but the first poll, made before any
    // sample, reached), its size, stratum 0, leap normal.
    let dump = std::fs::read_to_string(dir.path().join("refid:534f4330.dat")).unwrap();
    let head: Vec<&str> = dump.lines().take(3).collect();
    assert_eq!(head[..2], ["SRC0", "."], "{dump}");
    let f: Vec<u32> = head[2]
        .split(' ')
        .map(|w| u32::from_str_radix(w, 8).unwrap())
        .collect();
    let all_but_first = (1 << (f[2] - 1)) - 1;
    assert!(f[2] >= 3, "{dump}");
    assert!(
        f[1] == all_but_first || (f[2] == 8 && f[1] == 0o377),
        "{dump}"
    );
    assert_eq!((f[0], f[3], f[4]), (0, 0, 0), "{dump}");
}

/// The offset of the `sources` line of SOC0, seconds.
fn sources_offset(text: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with("#* SOC0"))?;
    let col = line.split_whitespace().nth(6)?;
    secs_with_unit(col.split('[').next()?)
}

#[test]
fn chronyd_and_kronyd_agree_on_the_same_feed() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let kdir = tempfile::tempdir().unwrap();
    let cdir = tempfile::tempdir().unwrap();
    let kronyd = start_kronyd_with(kdir.path(), &refclock_conf(kdir.path()), &[]);
    let chronyd = start_chronyd(cdir.path(), &refclock_conf(cdir.path()));
    let _feeder = Feeder::start(vec![
        kdir.path().join("ref.sock"),
        cdir.path().join("ref.sock"),
    ]);
    let ksock = kdir.path().join("kronyd.sock");
    let csock = cdir.path().join("chronyd.sock");
    assert!(wait_selected(&csock), "chronyd: {}", chronyd.log_text());
    assert!(wait_selected(&ksock), "kronyd: {}", kronyd.log_text());
    for sock in [&ksock, &csock] {
        let t = chronyc(sock, &["tracking"]);
        assert_eq!(field(&t, "Stratum"), Some("1"), "{t}");
    }
    // Both measured the same 1.5 ms at first, and both have been slewing
    // it away since; their current offsets are close.
    let k = sources_offset(&chronyc(&ksock, &["sources"])).unwrap();
    let c = sources_offset(&chronyc(&csock, &["sources"])).unwrap();
    assert!(k.abs() < 2e-3 && c.abs() < 2e-3, "kronyd {k}, chronyd {c}");
    assert!((k - c).abs() < 1e-3, "kronyd {k}, chronyd {c}");
    let klog = std::fs::read_to_string(kdir.path().join("refclocks.log")).unwrap();
    let clog = std::fs::read_to_string(cdir.path().join("refclocks.log")).unwrap();
    let (kr, cr) = (
        first_raw_offset(&klog).unwrap(),
        first_raw_offset(&clog).unwrap(),
    );
    assert!((kr - cr).abs() < 5e-5, "kronyd {kr}, chronyd {cr}");
    // The same banner.
    assert_eq!(
        klog.lines().take(3).collect::<Vec<_>>(),
        clog.lines().take(3).collect::<Vec<_>>()
    );
}

/// The offset of a `sources` line starting with `prefix`, seconds.
fn line_offset(text: &str, prefix: &str) -> Option<f64> {
    let line = text.lines().find(|l| l.starts_with(prefix))?;
    sources_offset(&line.replacen(prefix, "#* SOC0", 1))
}

#[test]
fn pps_locked_to_a_coarse_refclock_as_chronyd() {
    if !installed(&[CHRONYD, CHRONYC]) {
        return;
    }
    let conf = |dir: &Path| {
        vec![
            format!(
                "refclock SOCK {} refid NMEA noselect poll 1",
                dir.join("nmea.sock").display()
            ),
            format!(
                "refclock SOCK {} refid PPS lock NMEA poll 1",
                dir.join("pps.sock").display()
            ),
            "port 0".to_string(),
        ]
    };
    let kdir = tempfile::tempdir().unwrap();
    let cdir = tempfile::tempdir().unwrap();
    let kronyd = start_kronyd_with(kdir.path(), &conf(kdir.path()), &[]);
    let chronyd = start_chronyd(cdir.path(), &conf(cdir.path()));
    let _feeder = Feeder::start_pps(vec![kdir.path().to_path_buf(), cdir.path().to_path_buf()]);
    let ksock = kdir.path().join("kronyd.sock");
    let csock = cdir.path().join("chronyd.sock");
    let selected = |sock: &Path| {
        wait_until(Duration::from_secs(60), || {
            chronyc(sock, &["sources"])
                .lines()
                .any(|l| l.starts_with("#* PPS"))
        })
    };
    assert!(selected(&csock), "chronyd: {}", chronyd.log_text());
    assert!(
        selected(&ksock),
        "kronyd: {}\n{}",
        kronyd.log_text(),
        chronyc(&ksock, &["sources"])
    );
    let (k, c) = (chronyc(&ksock, &["sources"]), chronyc(&csock, &["sources"]));
    // NMEA is listed, not selectable, in both.
    assert!(k.lines().any(|l| l.starts_with("#? NMEA")), "{k}");
    assert!(c.lines().any(|l| l.starts_with("#? NMEA")), "{c}");
    let (kp, cp) = (
        line_offset(&k, "#* PPS ").unwrap(),
        line_offset(&c, "#* PPS ").unwrap(),
    );
    assert!(
        (kp - cp).abs() < 1e-3,
        "kronyd {kp}, chronyd {cp}\n{k}\n{c}"
    );
    let t = chronyc(&ksock, &["tracking"]);
    assert_eq!(field(&t, "Reference ID"), Some("50505300 (PPS)"), "{t}");
}
