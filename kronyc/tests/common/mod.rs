//! Helpers shared by kronyc's end-to-end tests: running kronyc and
//! Debian's chronyc, starting `chronyd -x` safely (own config, ports,
//! socket; killed on drop), and a fake daemon answering from a table.

#![allow(dead_code)]

pub mod dataset;

use std::net::UdpSocket;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const CHRONYD: &str = "/usr/sbin/chronyd";
pub const CHRONYC: &str = "/usr/bin/chronyc";
pub const KRONYC: &str = env!("CARGO_BIN_EXE_kronyc");

/// Whether a binary is installed; prints a skip note if not.
pub fn installed(bin: &str) -> bool {
    if Path::new(bin).exists() {
        return true;
    }
    eprintln!("SKIP: {bin} is not installed");
    false
}

/// Standard output, standard error and exit status of a run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs a program with arguments and no standard input.
pub fn run(bin: &str, args: &[&str]) -> Run {
    let out = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("run {bin}: {e}"));
    Run {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code().unwrap_or(-1),
    }
}

pub fn free_udp_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").expect("bind");
    s.local_addr().expect("addr").port()
}

/// A `chronyd -x` with its own directory, ports and socket.
pub struct Chronyd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub ntp_port: u16,
    pub cmd_port: u16,
}

impl Drop for Chronyd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Chronyd {
    /// Starts chronyd with these extra configuration lines.
    pub fn start(extra: &str) -> Chronyd {
        let dir = tempfile::tempdir().expect("tempdir");
        // chronyd refuses a socket directory others may access.
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o700);
        std::fs::set_permissions(dir.path(), mode).expect("chmod");
        let (ntp_port, cmd_port) = (free_udp_port(), free_udp_port());
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

    pub fn sock(&self) -> String {
        self.dir.path().join("chronyd.sock").display().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("chronyd.log")).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("chronyd exited ({st}):\n{}", self.log());
            }
            if Path::new(&self.sock()).exists() {
                let r = run(CHRONYC, &["-h", &self.sock(), "tracking"]);
                if r.code == 0 {
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

/// A fake daemon on a Unix datagram socket: each request's bytes are
/// recorded and answered by `answer` (no answer if it returns `None`).
pub struct FakeDaemon {
    pub dir: tempfile::TempDir,
    pub requests: Arc<Mutex<Vec<Vec<u8>>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

pub type Answer = dyn Fn(&[u8]) -> Option<Vec<u8>> + Send + 'static;

impl FakeDaemon {
    pub fn start(answer: Box<Answer>) -> FakeDaemon {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("fake.sock");
        let sock = UnixDatagram::bind(&path).expect("bind fake");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (req2, stop2) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                let req = buf[..n].to_vec();
                req2.lock().expect("lock").push(req.clone());
                if let (Some(reply), Some(to)) = (answer(&req), from.as_pathname()) {
                    let _ = sock.send_to(&reply, to);
                }
            }
        });
        FakeDaemon {
            dir,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub fn sock(&self) -> String {
        self.dir.path().join("fake.sock").display().to_string()
    }

    pub fn take_requests(&self) -> Vec<Vec<u8>> {
        std::mem::take(&mut *self.requests.lock().expect("lock"))
    }
}

impl Drop for FakeDaemon {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The path of a golden file.
pub fn data_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}
