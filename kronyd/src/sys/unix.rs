//! Unix datagram sockets (the command socket, systemd notification), created
//! with a plain `socket(AF_UNIX, SOCK_DGRAM, 0)` as clknetsim requires (std's
//! constructors pass SOCK_CLOEXEC in the type, which clknetsim rejects) and
//! then handed to `std::os::unix::net::UnixDatagram` for I/O.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;

use super::sockaddr::RawAddr;
use super::{SysError, fd};

/// A non-blocking Unix datagram socket bound to `path`. A stale socket file
/// left there by a previous run is removed first (anything else is not, and
/// makes bind fail).
///
/// # Errors
/// [`SysError`] if the path is unusable or the socket cannot be created or bound.
pub fn bind(path: &Path) -> Result<UnixDatagram, SysError> {
    let raw = RawAddr::from_unix(path.as_os_str().as_bytes(), false)?;
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket()) {
        // A failure shows up as EADDRINUSE from bind below.
        let _ = std::fs::remove_file(path);
    }
    let sock = fd::socket(libc::AF_UNIX, libc::SOCK_DGRAM)?;
    fd::bind(sock.as_fd(), &raw).map_err(|source| SysError::Os {
        op: format!("bind({})", path.display()),
        source,
    })?;
    Ok(UnixDatagram::from(sock))
}

/// A non-blocking, unbound Unix datagram socket (for sending).
///
/// # Errors
/// [`SysError`] if the socket cannot be created.
pub fn unbound() -> Result<UnixDatagram, SysError> {
    Ok(UnixDatagram::from(fd::socket(
        libc::AF_UNIX,
        libc::SOCK_DGRAM,
    )?))
}

/// Connects `sock` to a path or, for a name starting with '@', to the Linux
/// abstract socket named by the rest (systemd's NOTIFY_SOCKET convention).
///
/// # Errors
/// [`SysError`] if the name is unusable or connect fails.
pub fn connect(sock: &UnixDatagram, name: &[u8]) -> Result<(), SysError> {
    let raw = match name.strip_prefix(b"@") {
        Some(abstract_name) => RawAddr::from_unix(abstract_name, true)?,
        None => RawAddr::from_unix(name, false)?,
    };
    fd::connect(sock.as_fd(), &raw).map_err(|source| SysError::Os {
        op: format!("connect({})", String::from_utf8_lossy(name)),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_send_receive_and_rebind_over_stale_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("kronyd.sock");
        let server = bind(&path).expect("bind");
        let client = unbound().expect("socket");
        connect(&client, path.as_os_str().as_bytes()).expect("connect");
        client.send(b"hello").expect("send");
        let mut buf = [0u8; 16];
        let (n, _) = server.recv_from(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"hello");
        // Non-blocking: nothing more waiting.
        let e = server.recv_from(&mut buf).expect_err("empty");
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        drop(server);
        // The socket file is still there; binding again replaces it.
        assert!(path.exists());
        let again = bind(&path).expect("rebind");
        drop(again);
        // A regular file is not removed.
        let file = dir.path().join("plain");
        std::fs::write(&file, b"x").expect("write");
        let e = bind(&file).expect_err("not a socket");
        assert_eq!(e.raw_os_error(), Some(libc::EADDRINUSE));
        assert!(file.exists());
    }

    #[test]
    fn abstract_names() {
        let name = format!("krony-test-{}", std::process::id());
        let server = std::os::unix::net::UnixDatagram::bind_addr(
            &<std::os::unix::net::SocketAddr as std::os::linux::net::SocketAddrExt>::from_abstract_name(
                name.as_bytes(),
            )
            .expect("abstract addr"),
        )
        .expect("bind abstract");
        let client = unbound().expect("socket");
        connect(&client, format!("@{name}").as_bytes()).expect("connect");
        client.send(b"READY=1").expect("send");
        let mut buf = [0u8; 16];
        let n = server.recv(&mut buf).expect("recv");
        assert_eq!(&buf[..n], b"READY=1");
        assert!(connect(&client, b"@").is_err());
    }
}
