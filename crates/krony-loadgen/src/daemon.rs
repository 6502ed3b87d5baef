//! The servers under load: `kronyd -x` or `chronyd -x` started on a free
//! loopback port with a configuration of their own in a private temporary
//! directory, killed (and the directory removed) when dropped.

use std::fs::File;
use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::packet::{check_answer, request, request_id};

/// Which daemon, for its command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// kronyd: `-x -d -f CONF`.
    Krony,
    /// chronyd: `-x -d -u root -f CONF` (keeps root, so that it can write
    /// its files in the private directory).
    Chrony,
}

/// Why a server could not be started.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Files, ports or the process.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// It did not answer within the start-up time.
    #[error("{0} did not answer on {1} within 10 s; its log:\n{2}")]
    NoAnswer(String, SocketAddr, String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> StartError {
    let what = what.into();
    move |source| StartError::Io { what, source }
}

/// A running server, killed when dropped.
pub struct Server {
    child: Child,
    dir: PathBuf,
    /// Where it answers NTP requests.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `binary` serving `local stratum 1` to 127.0.0.0/8 on a free
    /// port of 127.0.0.1, without rate limiting (and without a client log
    /// with `noclientlog`), and waits until it answers.
    ///
    /// # Errors
    /// [`StartError`] if it cannot be started or never answers.
    pub fn start(flavour: Flavour, binary: &Path, noclientlog: bool) -> Result<Server, StartError> {
        let port = UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .map_err(io("free port"))?
            .port();
        let dir = std::env::temp_dir().join(format!("krony-loadgen-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io(format!("mkdir {}", dir.display())))?;
        // chronyd refuses a command socket in a directory others may enter.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(io("chmod"))?;
        let conf = dir.join("server.conf");
        std::fs::write(&conf, config(&dir, port, noclientlog)).map_err(io("write config"))?;
        let log = File::create(dir.join("server.log")).map_err(io("create log"))?;
        let mut cmd = Command::new(binary);
        cmd.arg("-x").arg("-d");
        if flavour == Flavour::Chrony {
            cmd.args(["-u", "root"]);
        }
        let child = cmd
            .arg("-f")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(io(format!("start {}", binary.display())))?;
        let server = Server {
            child,
            dir,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        };
        server.wait_ready(binary)?;
        Ok(server)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends probes until one is answered (10 s at most).
    fn wait_ready(&self, binary: &Path) -> Result<(), StartError> {
        let sock = UdpSocket::bind("127.0.0.1:0").map_err(io("probe socket"))?;
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .map_err(io("probe socket"))?;
        let start = Instant::now();
        let mut buf = [0u8; 1024];
        let probe = request_id(0x7FFF, 0);
        while start.elapsed() < Duration::from_secs(10) {
            // OK to ignore: a failed probe is retried.
            let _ = sock.send_to(&request(probe), self.addr);
            if let Ok((len, _)) = sock.recv_from(&mut buf) {
                if check_answer(&buf[..len]) == Ok(probe) {
                    return Ok(());
                }
            }
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(StartError::NoAnswer(
            binary.display().to_string(),
            self.addr,
            log,
        ))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // OK to ignore: the process may have exited already.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The configuration: its own pidfile and command socket, no command port.
fn config(dir: &Path, port: u16, noclientlog: bool) -> String {
    let mut c = format!(
        "pidfile {pid}\nbindcmdaddress {sock}\ncmdport 0\nport {port}\n\
         bindaddress 127.0.0.1\nlocal stratum 1\nallow 127.0.0.0/8\n",
        pid = dir.join("server.pid").display(),
        sock = dir.join("server.sock").display(),
    );
    if noclientlog {
        c.push_str("noclientlog\n");
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_serves_loopback_without_rate_limit() {
        let c = config(Path::new("/tmp/x"), 12345, true);
        assert!(c.contains("port 12345\n"));
        assert!(c.contains("allow 127.0.0.0/8\n"));
        assert!(c.contains("noclientlog\n"));
        assert!(!c.contains("ratelimit"));
        assert!(!config(Path::new("/tmp/x"), 1, false).contains("noclientlog"));
    }
}
