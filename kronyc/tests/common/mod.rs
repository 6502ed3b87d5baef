//! Helpers shared by kronyc's end-to-end tests: running kronyc and
//! Debian's chronyc, starting `chronyd -x` safely (own config, ports,
//! socket; killed on drop), and a fake daemon answering from a table.

// Each test binary uses a part of these helpers.
#![allow(dead_code, unused_imports)]

pub mod dataset;

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub use krony_testkit::{CHRONYC, CHRONYD, Chronyd, free_udp_port, installed};

pub const KRONYC: &str = env!("CARGO_BIN_EXE_kronyc");

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
