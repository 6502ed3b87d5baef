//! Helpers of the daemon end-to-end tests: processes killed when dropped,
//! free loopback ports, configuration files, waiting for log lines,
//! network namespaces removed when dropped.
//!
//! Every daemon runs with `-x` (the system clock is never touched), its own
//! pidfile, command socket and ports, in a temporary directory.
#![allow(dead_code, clippy::unwrap_used)]

use std::fs::File;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CHRONYD: &str = "/usr/sbin/chronyd";
pub const CHRONYC: &str = "/usr/bin/chronyc";
pub const NTPDIG: &str = "/usr/bin/ntpdig";

/// Whether the programs a test needs exist; prints why it skips otherwise.
pub fn installed(bins: &[&str]) -> bool {
    for bin in bins {
        if !Path::new(bin).exists() {
            eprintln!("SKIP: {bin} is not installed");
            return false;
        }
    }
    true
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// A running process, killed (and reaped) when dropped.
pub struct Proc {
    pub child: Child,
    /// Where its stderr goes (kronyd -d logs there).
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    /// Its log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until its log contains `text`; false after `timeout`.
    pub fn wait_log(&self, text: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.log_text().contains(text))
    }

    /// Sends SIGTERM and waits for the exit status (None if it did not end).
    pub fn terminate(&mut self, timeout: Duration) -> Option<i32> {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().ok()?;
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(st)) = self.child.try_wait() {
                return st.code();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

/// Polls `cond` every 50 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    loop {
        if cond() {
            return true;
        }
        if start.elapsed() > timeout {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The kronyd binary under test.
pub fn kronyd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_kronyd")
}

/// Writes `lines` as a configuration file `name` in `dir`.
pub fn write_conf(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// Configuration lines every kronyd test uses: its files in `dir`, no UDP
/// command port (the Unix socket `dir/kronyd.sock` is kept).
pub fn kronyd_base(dir: &Path) -> Vec<String> {
    vec![
        format!("pidfile {}", dir.join("kronyd.pid").display()),
        format!("bindcmdaddress {}", dir.join("kronyd.sock").display()),
        "cmdport 0".to_string(),
    ]
}

/// Starts `kronyd -x -d -f CONF` (plus `extra` options); its stderr goes to
/// `dir/kronyd.log`. `prefix` runs it through another program (`ip netns
/// exec NS`).
pub fn start_kronyd(dir: &Path, conf: &Path, extra: &[&str], prefix: &[&str]) -> Proc {
    let log = dir.join("kronyd.log");
    let err = File::create(&log).unwrap();
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(kronyd_bin());
            c
        }
        None => Command::new(kronyd_bin()),
    };
    cmd.args(["-x", "-d", "-f"])
        .arg(conf)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err);
    Proc {
        child: cmd.spawn().unwrap(),
        log,
    }
}

/// Starts kronyd (as [`start_kronyd`]) with [`kronyd_base`] plus `lines`
/// written to `dir/kronyd.conf`, plus `extra` options.
pub fn start_kronyd_with(dir: &Path, lines: &[String], extra: &[&str]) -> Proc {
    let mut conf = kronyd_base(dir);
    conf.extend_from_slice(lines);
    let conf = write_conf(dir, "kronyd.conf", &conf);
    start_kronyd(dir, &conf, extra, &[])
}

/// Starts Debian's `chronyd -x -d` with `lines` plus its own pidfile and
/// command socket in `dir` (a directory only root can enter, as chronyd
/// requires for its socket); stderr to `dir/chronyd.log`.
pub fn start_chronyd(dir: &Path, lines: &[String]) -> Proc {
    // chronyd disables a command socket in a directory others may enter.
    let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
    std::fs::set_permissions(dir, mode).unwrap();
    let mut all = vec![
        format!("pidfile {}", dir.join("chronyd.pid").display()),
        format!("bindcmdaddress {}", dir.join("chronyd.sock").display()),
        "cmdport 0".to_string(),
    ];
    all.extend_from_slice(lines);
    let conf = write_conf(dir, "chronyd.conf", &all);
    let log = dir.join("chronyd.log");
    let err = File::create(&log).unwrap();
    let child = Command::new(CHRONYD)
        .args(["-x", "-d", "-U", "-u", "root", "-f"])
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    Proc { child, log }
}

/// Starts Debian's chronyd (as [`start_chronyd`]) serving `local stratum 1`
/// to 127.0.0.1 on `port`, plus `extra` configuration lines.
pub fn start_chronyd_server(dir: &Path, port: u16, extra: &[String]) -> Proc {
    let mut lines = vec![
        "local stratum 1".to_string(),
        "allow 127.0.0.1".to_string(),
        format!("port {port}"),
    ];
    lines.extend_from_slice(extra);
    start_chronyd(dir, &lines)
}

/// Starts kronyd (as [`start_kronyd`], through `prefix`) serving `local
/// stratum 10` on 127.0.0.1 port `port` to 127.0.0.1, plus `extra`
/// configuration lines.
pub fn start_kronyd_server(dir: &Path, port: u16, extra: &[String], prefix: &[&str]) -> Proc {
    let mut conf = kronyd_base(dir);
    conf.extend([
        "local stratum 10".to_string(),
        "allow 127.0.0.1".to_string(),
        "bindaddress 127.0.0.1".to_string(),
        format!("port {port}"),
    ]);
    conf.extend_from_slice(extra);
    let conf = write_conf(dir, "kronyd.conf", &conf);
    start_kronyd(dir, &conf, &[], prefix)
}

/// A network namespace with its loopback up, deleted when dropped. Tests
/// use it for programs that need port 123 (ntpdig has no port option).
pub struct Netns(String);

impl Netns {
    /// Creates `kronyd-TAG-PID` and brings its loopback up; None (after
    /// printing why the test skips) when that fails, e.g. without root.
    pub fn create(tag: &str) -> Option<Netns> {
        let ns = Netns::try_create(tag);
        if ns.is_none() {
            eprintln!("SKIP: cannot create a network namespace (not root?)");
        }
        ns
    }

    fn try_create(tag: &str) -> Option<Netns> {
        let name = format!("kronyd-{tag}-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return None;
        }
        // From here on, Drop removes the namespace even if `lo` fails.
        let ns = Netns(name);
        let up = Command::new("ip")
            .args(["netns", "exec", &ns.0, "ip", "link", "set", "lo", "up"])
            .status()
            .is_ok_and(|s| s.success());
        up.then_some(ns)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// The command prefix that runs a program inside it (for
    /// [`start_kronyd`]'s `prefix`).
    pub fn exec_prefix(&self) -> [&str; 4] {
        ["ip", "netns", "exec", &self.0]
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// `chronyc -n -h SOCKET COMMAND...`: its standard output and error.
pub fn chronyc(socket: &Path, args: &[&str]) -> String {
    run_client(Path::new(CHRONYC), socket, args)
}

/// `CLIENT -n -h SOCKET COMMAND...`: its standard output and error.
fn run_client(client: &Path, socket: &Path, args: &[&str]) -> String {
    let out = Command::new(client)
        .arg("-n")
        .arg("-h")
        .arg(socket)
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// The value of a `Name : value` line of chronyc's output.
pub fn field<'a>(report: &'a str, name: &str) -> Option<&'a str> {
    report.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == name).then(|| v.trim())
    })
}

pub mod ntp;

/// A binary `name` of workspace package `package`: `$ENV_VAR` if set, else
/// built by cargo next to the kronyd under test (another package's binary
/// cannot be named with `CARGO_BIN_EXE_*`; the build is a no-op when
/// `cargo test --workspace` already made it).
pub fn workspace_bin(package: &str, name: &str, env_var: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env_var) {
        return PathBuf::from(p);
    }
    let kronyd = Path::new(env!("CARGO_BIN_EXE_kronyd"));
    let bin = kronyd.with_file_name(name);
    let profile = kronyd.parent().expect("profile dir");
    let target = profile.parent().expect("target dir");
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args(["build", "-q", "-p", package, "--target-dir"])
        .arg(target)
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    match profile.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => {}
        Some("release") => {
            cmd.arg("--release");
        }
        Some(other) => {
            cmd.args(["--profile", other]);
        }
    }
    let built = cmd.status().is_ok_and(|s| s.success());
    assert!(
        built || bin.exists(),
        "cannot build {name} (set {env_var}=path)"
    );
    bin
}

/// The kronyc binary of this build (`$KRONYC` if set).
pub fn kronyc_bin() -> &'static PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(|| workspace_bin("kronyc", "kronyc", "KRONYC"))
}

/// `kronyc -n -h SOCKET COMMAND...`: its standard output and error.
pub fn kronyc(socket: &Path, args: &[&str]) -> String {
    run_client(kronyc_bin(), socket, args)
}

/// A numeric `Name : value` field of a report (0 if absent).
pub fn field_u64(report: &str, name: &str) -> u64 {
    field(report, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A chronyc time column such as `-12us` or `1.5ms`, in seconds (None
/// without a unit of ns, us, ms or s).
pub fn secs_with_unit(col: &str) -> Option<f64> {
    let (num, unit) = col.split_at(col.find(|c: char| c.is_ascii_alphabetic())?);
    let scale = match unit {
        "ns" => 1e-9,
        "us" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return None,
    };
    Some(num.parse::<f64>().ok()? * scale)
}

/// The rows of `chronyc -n clients`: address, NTP hits, NTP drops.
pub fn client_rows(report: &str) -> Vec<(String, u64, u64)> {
    report
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            let ip: std::net::IpAddr = w.first()?.parse().ok()?;
            Some((
                ip.to_string(),
                w.get(1)?.parse().ok()?,
                w.get(2)?.parse().ok()?,
            ))
        })
        .collect()
}
