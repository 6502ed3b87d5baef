//! The command sockets chronyc talks to (chrony's `cmdmon.c` sockets): UDP
//! on `cmdport` (323) at `bindcmdaddress` (127.0.0.1 and ::1 by default),
//! and the Unix datagram socket (`bindcmdaddress /path`, by default
//! [`DEFAULT_SOCKET`]; `/` disables it). The Unix socket may run every
//! command; UDP clients only the monitoring ones.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{self, UnixDatagram};
use std::path::{Path, PathBuf};

use krony_config::{Config, PathOrDisabled};

use crate::files::create_dir_and_parents;
use crate::logging::{Severity, log_event};
use crate::resolver::Family;
use crate::sys::socket::{UdpConfig, UdpSocket};
use crate::sys::unix;

/// chrony's `/var/run/chrony/chronyd.sock`, named for krony (kronyc's default).
pub const DEFAULT_SOCKET: &str = "/var/run/krony/kronyd.sock";

/// Largest command request (chrony's `MAX_PACKET_SIZE` is far below).
const CMD_BUFFER: usize = 1024;

/// Mode of the directory of the Unix socket (chrony's 0770: only root and
/// the daemon's group reach the socket).
const SOCKET_DIR_MODE: u32 = 0o770;

/// Where a command came from, and where its reply goes.
#[derive(Debug, Clone)]
pub enum Peer {
    /// A UDP client.
    Udp(SocketAddr),
    /// A Unix socket client (chronyc binds its socket to a path).
    Unix(net::SocketAddr),
}

/// The open command sockets.
#[derive(Debug, Default)]
pub struct CommandSockets {
    udp: Vec<UdpSocket>,
    unix: Option<(UnixDatagram, PathBuf)>,
}

impl CommandSockets {
    /// No command sockets.
    pub fn none() -> Self {
        CommandSockets::default()
    }

    /// Opens the sockets `config` asks for; failures are logged (chrony goes
    /// on without the socket).
    pub fn open(config: &Config, family: Family) -> Self {
        let mut out = CommandSockets::default();
        if config.cmd_port != 0 {
            let v4 = config.bind_cmd_address.v4.unwrap_or(Ipv4Addr::LOCALHOST);
            let v6 = config.bind_cmd_address.v6.unwrap_or(Ipv6Addr::LOCALHOST);
            for ip in [IpAddr::V4(v4), IpAddr::V6(v6)] {
                if !family.accepts(&ip) {
                    continue;
                }
                let local = SocketAddr::new(ip, config.cmd_port);
                match open_udp(local, config.bind_cmd_device.as_deref()) {
                    Ok(s) => out.udp.push(s),
                    Err(e) => log_event(
                        if ip.is_ipv6() {
                            Severity::Debug
                        } else {
                            Severity::Error
                        },
                        format!("Could not open command socket on {local} : {e}"),
                    ),
                }
            }
        }
        let path = match &config.bind_cmd_path {
            PathOrDisabled::Disabled => None,
            PathOrDisabled::Default => Some(PathBuf::from(DEFAULT_SOCKET)),
            PathOrDisabled::Path(p) => Some(PathBuf::from(p)),
        };
        if let Some(path) = path {
            match open_unix(&path) {
                Ok(s) => out.unix = Some((s, path)),
                Err(e) => log_event(
                    Severity::Error,
                    format!("Could not open command socket on {} : {e}", path.display()),
                ),
            }
        }
        out
    }

    /// The descriptors to poll: index `i` for [`recv`](Self::recv).
    pub fn fds(&self) -> impl Iterator<Item = BorrowedFd<'_>> {
        // An iterator, not a vector: the poll set is rebuilt every round.
        let unix = self.unix.iter().map(|(s, _)| s.as_fd());
        self.udp.iter().map(AsFd::as_fd).chain(unix)
    }

    /// Reads one request from socket `i`; `None` when none is waiting.
    pub fn recv(&self, i: usize) -> Option<(Vec<u8>, Peer)> {
        let mut buf = vec![0u8; CMD_BUFFER];
        if let Some(s) = self.udp.get(i) {
            let got = s.recv(&mut buf).ok()??;
            buf.truncate(got.len);
            return Some((buf, Peer::Udp(got.from?)));
        }
        let (s, _) = self.unix.as_ref().filter(|_| i == self.udp.len())?;
        let (n, from) = s.recv_from(&mut buf).ok()?;
        buf.truncate(n);
        Some((buf, Peer::Unix(from)))
    }

    /// Sends a reply to where its request came from.
    pub fn reply(&self, i: usize, peer: &Peer, bytes: &[u8]) {
        let result = match (peer, self.udp.get(i), &self.unix) {
            (Peer::Udp(to), Some(s), _) => s
                .send(bytes, Some(to), None, false)
                .map(drop)
                .map_err(|e| e.to_string()),
            (Peer::Unix(to), None, Some((s, _))) => s
                .send_to_addr(bytes, to)
                .map(drop)
                .map_err(|e| e.to_string()),
            _ => Ok(()),
        };
        if let Err(e) = result {
            log_event(
                Severity::Debug,
                format!("Could not send command reply : {e}"),
            );
        }
    }
}

impl Drop for CommandSockets {
    /// Removes the Unix socket's file, as chronyd does at exit.
    fn drop(&mut self) {
        if let Some((_, path)) = &self.unix {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn open_udp(local: SocketAddr, device: Option<&str>) -> Result<UdpSocket, crate::sys::SysError> {
    UdpSocket::open(&UdpConfig {
        local,
        remote: None,
        device,
        dscp: 0,
        client_only: true,
    })
}

/// Binds the Unix socket, creating its directory (0770) if needed, and lets
/// every local user write to it (the directory decides who reaches it).
fn open_unix(path: &Path) -> Result<UnixDatagram, String> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Checked with libc's stat, as chronyd (clknetsim simulates the
        // directory of its command sockets).
        create_dir_and_parents(dir, SOCKET_DIR_MODE, None).map_err(|e| e.to_string())?;
    }
    let sock = unix::bind(path).map_err(|e| e.to_string())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| e.to_string())?;
    Ok(sock)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_socket_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("sub/kronyd.sock");
        let text = format!("bindcmdaddress {}\ncmdport 0\n", path.display());
        let parsed = krony_config::parse_str(&text, "t").expect("config");
        let socks = CommandSockets::open(&parsed.config, Family::Any);
        assert_eq!(socks.fds().count(), 1);
        let client_path = dir.path().join("client.sock");
        let client = UnixDatagram::bind(&client_path).expect("client");
        client.send_to(b"hello", &path).expect("send");
        let (bytes, peer) = socks.recv(0).expect("request");
        assert_eq!(bytes, b"hello");
        socks.reply(0, &peer, b"world");
        let mut buf = [0u8; 16];
        let n = client.recv(&mut buf).expect("reply");
        assert_eq!(&buf[..n], b"world");
        drop(socks);
        assert!(!path.exists(), "socket file removed");
    }
}
