//! Test support shared by krony's crates (a dev-dependency only): Debian's
//! `chronyd` started safely for a test, with `-x` (the clock is never
//! touched), its own configuration, free loopback ports, pidfile and
//! command socket in a temporary directory, and killed when dropped (also
//! when the test fails).

use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Debian's chronyd.
pub const CHRONYD: &str = "/usr/sbin/chronyd";
/// Debian's chronyc.
pub const CHRONYC: &str = "/usr/bin/chronyc";

/// Whether a binary is installed; prints a skip note if not.
pub fn installed(bin: &str) -> bool {
    if Path::new(bin).exists() {
        return true;
    }
    eprintln!("SKIP: {bin} is not installed");
    false
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// A `chronyd -x -d` on 127.0.0.1 with its own directory, ports and
/// sockets; killed when dropped.
pub struct Chronyd {
    child: Child,
    /// Its directory (mode 0700): configuration, log, pidfile, sockets.
    pub dir: tempfile::TempDir,
    /// Its NTP port.
    pub ntp_port: u16,
    /// Its UDP command port.
    pub cmd_port: u16,
}

impl Drop for Chronyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chronyd {
    /// Starts chronyd on a free NTP port with these extra configuration
    /// lines, and waits until it answers commands.
    pub fn start(extra: &str) -> Chronyd {
        Chronyd::start_on(free_udp_port(), extra)
    }

    /// As [`Chronyd::start`] on NTP port `ntp_port` (free, chosen by the
    /// caller so that `extra` may name it).
    pub fn start_on(ntp_port: u16, extra: &str) -> Chronyd {
        let dir = tempfile::tempdir().expect("tempdir");
        // chronyd refuses a socket directory that others may access.
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(dir.path(), mode).expect("chmod");
        let cmd_port = free_udp_port();
        let d = dir.path().display();
        let conf = format!(
            "port {ntp_port}\nbindaddress 127.0.0.1\ncmdport {cmd_port}\n\
             bindcmdaddress 127.0.0.1\nbindcmdaddress {d}/chronyd.sock\n\
             pidfile {d}/chronyd.pid\ndumpdir {d}\n{extra}\n"
        );
        std::fs::write(dir.path().join("chronyd.conf"), conf).expect("write conf");
        let log = std::fs::File::create(dir.path().join("chronyd.log")).expect("log");
        let child = Command::new(CHRONYD)
            .arg("-x")
            .arg("-d")
            .args(user_args())
            .arg("-f")
            .arg(dir.path().join("chronyd.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn chronyd");
        let mut c = Chronyd {
            child,
            dir,
            ntp_port,
            cmd_port,
        };
        c.wait_ready();
        c
    }

    /// Its Unix command socket.
    pub fn sock_path(&self) -> PathBuf {
        self.dir.path().join("chronyd.sock")
    }

    /// Its Unix command socket, as a string for command lines.
    pub fn sock(&self) -> String {
        self.sock_path().display().to_string()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chronyd.log")).unwrap_or_default()
    }

    /// Waits until `chronyc tracking` gets an answer on the Unix socket;
    /// panics with the log if chronyd exits or is not ready in 10 s.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("chronyd exited ({st}):\n{}", self.log());
            }
            if self.sock_path().exists() {
                let answered = Command::new(CHRONYC)
                    .args(["-h", &self.sock(), "tracking"])
                    .stdin(Stdio::null())
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                if answered {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("chronyd not ready:\n{}", self.log());
    }
}

/// chronyd drops root privileges to its compiled-in user unless told
/// otherwise; as non-root it must be told not to insist on root.
fn user_args() -> Vec<String> {
    let out = Command::new("id").arg("-un").output().expect("id");
    let user = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if user == "root" {
        vec!["-u".into(), user]
    } else {
        vec!["-U".into(), "-u".into(), user]
    }
}
